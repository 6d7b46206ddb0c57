"""The deck's tables: KPIs, Shapley split, units, assumptions, robustness.

The run's ``customers.n`` simulated customers stand for a market of ``customers.market_size``,
and the run records money and customer counts for that market; each table's note says so.
"""

from __future__ import annotations

import math

import pandas as pd

from ecosim.report.data import ReportData
from ecosim.report.findings import best_effect, possessive
from ecosim.report.kpi_bars import Group, compared, group_effects
from ecosim.report.labels import format_value, human, kpi_info, name_in, names_of
from ecosim.report.tables import kpi_heading, shapley_table, wide_kpi_table
from ecosim.report.verdict import headline_number


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def arm_label(data: ReportData, arm: str) -> str:
    """An arm (or factor) in plain words (``experiment.labels``; else underscores as spaces)."""
    return name_in(data, arm)


def currency(data: ReportData, text: str) -> str:
    """Text with the word "currency" replaced by the run's currency ("EUR")."""
    return text.replace("currency", data.config.output.currency)


def scale_note(data: ReportData) -> str:
    """What the money of a table stands for: the market, its currency, the simulated customers."""
    n, cur, market = data.config.customers.n, data.config.output.currency, data.market_customers
    if n == market:
        return f"Money in {cur}, for a market of {n:,} customers, all simulated."
    return (f"Money ({cur}) and customer counts for the market of {market:,} customers; the "
            f"run simulated {n:,}, each standing for {data.customer_weight:g}.")


def compared_groups(data: ReportData) -> list[Group]:
    """The groups of arms the experiment compares, each with its summary.

    ``experiment.compare`` (else every arm against the baseline): each summary holds the focus
    firm's paired differences to the group's first arm, replication by replication.
    """
    return compared(data, data.focus_firm)


def kpi_frame(data: ReportData) -> pd.DataFrame:
    """Rows arms (in words), columns the experiment's KPIs with units: mean, difference, CI.

    Each arm's difference is to its reference in ``experiment.compare`` (named in a "compared
    with" column when there are several groups), never across groups.
    """
    kpis = data.focus_kpis or ["arpu"]
    frame = wide_kpi_table(data.summary, data.focus_firm, kpis, data.arms,
                           compared_groups(data), names_of(data))
    headings = [currency(data, kpi_heading(kpi, data.step_unit)) for kpi in kpis]
    keys = [c for c in frame.columns if c in ("arm", "compared with")]
    return frame.set_axis([*keys, *headings], axis=1)


def kpi_title(data: ReportData) -> str:
    """The finding of the KPI table: the arm that moves the first KPI most, from what to what.

    Each arm is measured against its own reference (``experiment.compare``), never across
    groups.
    """
    kpi = (data.focus_kpis or ["arpu"])[0]
    firm = data.focus_firm
    pairs = group_effects(compared_groups(data), firm, kpi)
    best = best_effect([effect for effect, _ in pairs])
    info = kpi_info(kpi)
    if best is None:
        return _capital(f"{possessive(firm)} KPIs by arm at {data.step_unit} {data.horizon}")
    reference = next(ref for effect, ref in pairs if effect is best)
    verb = "lifts" if best.diff > 0 else "cuts" if best.diff < 0 else "leaves"
    text = (f"{arm_label(data, best.arm)} {verb} {possessive(firm)} {info.short} to "
            f"{format_value(kpi, best.mean)} from {format_value(kpi, best.baseline_mean)} "
            f"({arm_label(data, reference)})")
    if best.has_interval and not best.excludes_zero:
        text += ", within simulation noise"
    return _capital(text)


def _against(data: ReportData) -> str:
    """What the arms are compared with: "No entrant", or each group's reference and its arms."""
    groups = compared(data, data.focus_firm)
    if len(groups) == 1:
        return arm_label(data, groups[0][0][0])
    return "the arm in its row's \"compared with\" column (" + "; ".join(
        f"{arm_label(data, group[0])} for {', '.join(arm_label(data, a) for a in group[1:])}"
        for group, _ in groups) + ")"


def kpi_note(data: ReportData) -> str:
    """The footnote of the KPI table."""
    return (f"{_capital(name_in(data, data.focus_firm))} at {data.step_unit} {data.horizon}. "
            f"Each cell: the mean over {data.replications} replications; for an arm compared "
            f"with another, the paired difference to {_against(data)} and its 95% CI in "
            f"brackets (the arms share random numbers). n/a: not defined. " + scale_note(data))


def shapley_frame(data: ReportData) -> pd.DataFrame:
    """The Shapley split of each KPI's uplift, totals at market scale, units and factors named."""
    frame = shapley_table(data.shapley, data.step_unit, names_of(data))
    return frame.map(lambda v: currency(data, str(v)))


def shapley_title(data: ReportData) -> str:
    """The finding of the Shapley table: the factor (in words) that moves the most KPIs most."""
    shapley = data.shapley[data.shapley["firm"] == data.focus_firm]
    leads = (shapley.assign(size=shapley["mean"].abs()).sort_values("size", ascending=False)
             .groupby("kpi", sort=False)["factor"].first())
    if leads.empty:
        return f"No Shapley split of {possessive(data.focus_firm)} KPIs was computed"
    counts = leads.value_counts()
    factor, count = counts.index[0], int(counts.iloc[0])
    return (f"{name_in(data, factor, capital=True)} contributes most to the change in {count} "
            f"of {len(leads)} of {possessive(data.focus_firm)} KPIs (Shapley split)")


def shapley_note(data: ReportData) -> str:
    """The footnote of the Shapley table."""
    factors = data.experiment.factors
    empty = next((arm for arm, on in factors.items() if not on), data.baseline)
    full = max(factors, key=lambda arm: len(factors[arm])) if factors else data.baseline
    return (f"Each factor's Shapley contribution to the change from "
            f"{arm_label(data, empty)} to {arm_label(data, full)}, averaged over the orders "
            f"in which the factors can be switched on; mean and 95% CI over "
            f"{data.replications} replications. " + scale_note(data))


def unit_means(data: ReportData) -> pd.DataFrame:
    """The focus firm's customers and revenue per (arm, need) at the horizon (the market's).

    Means over replications; only the needs the firm serves in some arm.
    """
    u = data.unit_metrics
    rows = u[(u["firm"] == data.focus_firm) & (u["step"] == data.horizon)]
    means = rows.groupby(["arm", "need"], sort=False)[["customers", "revenue"]].mean()
    served = means.groupby(level="need", sort=False)["customers"].max()
    needs = [need for need in served.index if served[need] > 0]
    return means[means.index.get_level_values("need").isin(needs)]


def _compared_pairs(data: ReportData) -> list[tuple[str, str]]:
    """(arm, its reference) for every comparison the experiment makes (``experiment.compare``)."""
    return [(arm, group[0]) for group, _ in compared(data, data.focus_firm)
            for arm in group[1:]]


def unit_frame(data: ReportData) -> pd.DataFrame:
    """Rows arms (in words), columns the needs the focus firm serves: customers and revenue."""
    means = unit_means(data)
    needs = list(dict.fromkeys(means.index.get_level_values("need")))
    cur = data.config.output.currency
    rows = []
    for arm in data.arms:
        row = {"arm": arm_label(data, arm)}
        for need in needs:
            if (arm, need) not in means.index:
                row[need] = "n/a"
                continue
            c, r = means.loc[(arm, need)]
            row[need] = f"{human(c)} customers\n{human(r)} {cur}"
        rows.append(row)
    return pd.DataFrame(rows, columns=["arm", *needs])


def unit_title(data: ReportData) -> str:
    """The finding of the unit view: the unit whose customers move most between two arms.

    An arm against its reference (``experiment.compare``; else against the baseline).
    """
    means = unit_means(data)
    firm = data.focus_firm
    needs = list(dict.fromkeys(means.index.get_level_values("need")))
    best, move = None, 0.0
    for arm, base in _compared_pairs(data):
        for need in needs:
            if (arm, need) not in means.index or (base, need) not in means.index:
                continue
            before = means.loc[(base, need), "customers"]
            change = abs(means.loc[(arm, need), "customers"] - before) / max(before, 1.0)
            if change > move:
                best, move = (arm, base, need), change
    if best is None:
        return _capital(f"{possessive(firm)} units serve the same customers in every arm")
    arm, base, need = best
    return _capital(
        f"{possessive(firm)} {need} unit: {human(means.loc[(arm, need), 'customers'])} "
        f"customers under {arm_label(data, arm)}, against "
        f"{human(means.loc[(base, need), 'customers'])} under {arm_label(data, base)} "
        f"({data.step_unit} {data.horizon})")


def unit_note(data: ReportData) -> str:
    """The footnote of the unit view."""
    return (f"{_capital(possessive(data.focus_firm))} customers and revenue by need (unit) in "
            f"{data.step_unit} {data.horizon}, mean over {data.replications} replications; needs "
            f"it serves in no arm are left out. " + scale_note(data))


def assumption_range_text(low: float, high: float, scale: bool) -> str:
    """"×0.5 to ×1.5 the default" (``scale: true``) or "0.25 to 0.75"."""
    if scale:
        return f"×{low:g} to ×{high:g} the default"
    return f"{low:g} to {high:g}"


def assumptions_frame(data: ReportData) -> pd.DataFrame:
    """One row per assumed parameter: what it is, the range explored, and its source."""
    return pd.DataFrame(
        [{"assumption": a.label or name.replace("_", " "),
          "range": assumption_range_text(a.low, a.high, a.scale),
          "source": a.source or "not given"}
         for name, a in data.experiment.assumptions.items()],
        columns=["assumption", "range", "source"])


def settings_line(data: ReportData) -> str:
    """The fixed settings of the run: customers, horizon, replications, seed."""
    n, market = data.config.customers.n, data.market_customers
    customers = (f"{n:,} customers simulated for a market of {market:,}" if market != n
                 else f"{n:,} customers")
    return (f"Fixed: {customers}; {data.horizon} {data.step_unit}s; {data.replications} "
            f"replications per arm on common random numbers; seed {data.config.seed}; "
            f"everything else as in config.yaml.")


def assumption_labels(data: ReportData) -> dict[str, str]:
    """Each assumption's label (its name in words if it has none)."""
    return {name: a.label or name.replace("_", " ")
            for name, a in data.experiment.assumptions.items()}


def robustness_frame(data: ReportData) -> pd.DataFrame:
    """The tornado: the headline (noise interval) at each assumption's low and high value.

    Rows by swing, largest first; the run at the defaults last.
    """
    table, labels = data.robustness, assumption_labels(data)
    assumptions = data.experiment.assumptions

    def cell(row: pd.Series, name: str) -> str:
        a = assumptions.get(name)
        setting = (f"×{row['x']:g}" if a is not None and a.scale else f"{row['x']:g}")
        return (f"{setting}: {headline_number(data, row['value'])} "
                f"[{headline_number(data, row['low'])}, {headline_number(data, row['high'])}]")

    rows = []
    tornado = table[table["design"] == "tornado"]
    for name, group in tornado.groupby("assumption", sort=False):
        levels = group.set_index("level")
        if not {"low", "high"} <= set(levels.index):
            continue
        swing = abs(levels.at["high", "value"] - levels.at["low", "value"])
        rows.append({"assumption": labels.get(name, name),
                     "at its low value": cell(levels.loc["low"], name),
                     "at its high value": cell(levels.loc["high"], name),
                     "swing": headline_number(data, swing), "_swing": swing})
    rows.sort(key=lambda r: -r["_swing"] if math.isfinite(r["_swing"]) else 0)
    default = table[table["design"] == "default"]
    if not default.empty:
        d = default.iloc[0]
        rows.append({"assumption": "all at their defaults",
                     "at its low value": f"{headline_number(data, d['value'])} "
                                         f"[{headline_number(data, d['low'])}, "
                                         f"{headline_number(data, d['high'])}]",
                     "at its high value": "", "swing": "", "_swing": 0.0})
    return pd.DataFrame(rows, columns=["assumption", "at its low value", "at its high value",
                                       "swing", "_swing"]).drop(columns="_swing")
