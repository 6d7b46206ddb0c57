"""``report.md``: the question, the arms, the answer with confidence intervals, figures, caveats.

Written for a reader who has not seen the code: every number is formatted with its unit, every
KPI is defined at the end, and the caveats say what the sample and the model cannot tell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ecosim.metrics.summary import LTV_WINDOW
from ecosim.report.data import ReportData, as_report_data
from ecosim.report.decisions import decisions_section
from ecosim.report.figures import FigureSpec, plan_figures
from ecosim.report.findings import answer, factor_arms
from ecosim.report.kpi_bars import compared
from ecosim.report.labels import display_name, kpi_info, name_in, names_of
from ecosim.report.tables import (
    arms_table,
    definitions_table,
    firm_by_arm_table,
    firms_table,
    investment_table,
    kpi_table,
    markdown_table,
    shapley_table,
)
from ecosim.report.tipping import tipping_section
from ecosim.report.verdict import headline_number, so_what, verdict_lines

#: What the model leaves out, for the caveats (docs/model.md states what it does).
LEFT_OUT = (
    "Firms do not react to each other: prices, qualities and budgets follow the config and its "
    "scheduled events (no price war, no matching of a rival's offer); only a firm with the "
    "`ltv_cac_target` marketing rule adapts its budget.",
    "There is no supply side: no capacity limits or service levels, and no fixed or platform "
    "costs beyond the investments a config declares (capex, opex, cost to serve). Profit is "
    "gross margin minus credit losses, marketing, contact costs and investment costs, plus "
    "partner fees.",
    "The market is stationary: the customers, their behavioural factors, their needs and basket "
    "sizes and their social network do not change during the run (no growth, seasonality or "
    "macroeconomic shocks).",
    "Customers choose a provider for each need separately (a logit among the firms they know "
    "and the outside option); needs are linked only through bundles, ecosystems, brands, habit "
    "and switching costs.",
    "The default market is calibrated to published aggregates (monthly churn by industry, "
    "cross-sell conversion, products per customer, CAC payback; docs/calibration.md), not "
    "fitted to any one firm's data: read the direction and the relative size of effects, not "
    "their levels as a forecast for a particular firm.",
)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _intro(data: ReportData) -> list[str]:
    exp = data.experiment
    lines = [f"# {data.title}", ""]
    if exp.question:
        lines += [f"**Question.** {exp.question}", ""]
    if exp.claim:
        lines += [f"**The claim from practice it tests.** {exp.claim}", ""]
    if not data.is_experiment:
        lines += ["This run simulates one scenario (no arms), so the report compares the firms of "
                  "the market with each other.", ""]
    lines += ["## The answer in two sentences", "", " ".join(s for s in answer(data) if s), ""]
    return lines + _dependence(data)


def _dependence(data: ReportData) -> list[str]:
    """The verdict on the claim and how far it depends on the assumptions, next to the answer."""
    found = verdict_lines(data)
    if not found:
        return []
    lines = ["## The verdict and how far it holds", "", f"**{found[0]}**", "",
             *[f"- {line}" for line in found[1:]], ""]
    advice = so_what(data)
    if advice:
        lines += [f"**So what.** {advice}", ""]
    table = assumptions_table(data)
    if not table.empty:
        lines += ["The assumed parameters, their ranges and what the headline is at each end "
                  "(one at a time, the others at their defaults; `robustness.csv`):", "",
                  markdown_table(table), ""]
    return lines


def assumptions_table(data: ReportData) -> pd.DataFrame:
    """One row per assumption: its range, its source, and the headline at its low and high end."""
    rows = []
    tornado = data.robustness[data.robustness["design"] == "tornado"] \
        if not data.robustness.empty else pd.DataFrame(columns=["assumption", "level", "value"])
    for name, a in data.experiment.assumptions.items():
        low = f"×{a.low:g}" if a.scale else f"{a.low:g}"
        high = f"×{a.high:g}" if a.scale else f"{a.high:g}"
        row = {"assumption": _capital(a.label or name.replace("_", " ")),
               "range": f"{low} to {high}" + (" of the default" if a.scale else "")}
        for level in ("low", "high"):
            value = tornado[(tornado["assumption"] == name) & (tornado["level"] == level)]
            row[f"headline at {level}"] = (headline_number(data, float(value["value"].iloc[0]))
                                           if len(value) else "not run")
        row["source"] = a.source
        rows.append(row)
    return pd.DataFrame(rows)


def _invests(data: ReportData, firm: str | None = None) -> bool:
    """Whether any arm spends on investments (for ``firm``, or any firm)."""
    s = data.summary
    rows = s[s["kpi"].isin(["cum_capex", "cum_opex", "cum_cost_to_serve"])]
    if firm is not None:
        rows = rows[rows["firm"] == firm]
    return bool((rows["mean"].fillna(0) > 0).any())


def _investment(data: ReportData) -> list[str]:
    """NPV, payback, break-even and the largest justified investment (docs/model.md)."""
    if "npv" not in set(data.summary["kpi"]) or not (data.is_experiment or _invests(data)):
        return []
    unit, horizon, r = data.step_unit, data.horizon, data.replications
    rate = data.config.time.discount_rate
    lines = ["## Investment economics", "",
             f"Profit includes the investments' costs: capex once in the {unit} an investment "
             f"starts, opex and cost to serve every {unit} from then on (capex / opex / cost to "
             f"serve below are summed over the run). NPV discounts each {unit}'s profit to "
             f"{unit} 0 at {100 * rate:.2g}% per {unit}. A payback {unit} is the first {unit} at "
             f"which the cumulative profit since the investment started, its costs included, is "
             f"back at 0 or above; a break-even {unit} the first {unit} with a profit of 0 or "
             f"above. \"Not within {horizon} {unit}s\" means there is none in the run: no payback "
             f"is claimed."]
    if data.is_experiment:
        firm = data.focus_firm
        base = display_name(data.baseline, names_of(data))
        lines[-1] += (f" Against **{base}**, replication by replication: the largest "
                      f"justified investment is the NPV of the arm's profit before capex minus "
                      f"the baseline's NPV, the most a one-off outlay at {unit} 0 could cost "
                      f"for the arm to do as well as the baseline; payback and break-even vs "
                      f"baseline use the profit gained over the baseline. The payback of the "
                      f"firm's own profit credits all of its profit, not only what the "
                      f"investment adds. Firm: **{firm}**.")
        table = investment_table(data.summary, firm, data.arms, unit, horizon, r,
                                 names_of(data))
    else:
        frames = []
        for firm in data.firms:
            if _invests(data, firm):
                frame = investment_table(data.summary, firm, [data.baseline], unit, horizon, r)
                frames.append(frame.drop(columns="arm").assign(firm=firm))
        table = pd.concat(frames, ignore_index=True)
        table = table[["firm", *[c for c in table.columns if c != "firm"]]]
    return [*lines, "", markdown_table(table), ""]


def _design(data: ReportData) -> list[str]:
    n_customers, market = data.config.customers.n, data.market_customers
    unit = data.step_unit
    simulated = (f"{n_customers:,} simulated customers (a market of {market:,})"
                 if market != n_customers else f"{n_customers:,} customers")
    sample = (f"{data.replications} replication{'s' if data.replications > 1 else ''} of "
              f"{simulated} over {data.horizon} {unit}s (seed {data.config.seed})")
    if not data.is_experiment:
        return ["## How it was run", "", f"One scenario: {sample}.", ""]
    lines = ["## How the experiment was run", "",
             f"{len(data.arms)} arms, each played with {sample}. The arms share common random "
             f"numbers: replication r sees the same customers and the same chance events in every "
             f"arm, so the difference between two arms is measured within each replication and "
             f"its confidence interval is narrow. The first arm, "
             f"**{name_in(data, data.baseline)}**, is the baseline; the answer is about "
             f"**{data.focus_firm}**.", "",
             "Each arm changes these settings of the scenario:", "",
             markdown_table(arms_table(data.experiment)), ""]
    return lines


def _results(data: ReportData) -> list[str]:
    kpis = data.focus_kpis or ["arpu"]
    unit, horizon = data.step_unit, data.horizon
    if data.replications > 1:
        sample = (f"mean over {data.replications} replications with 95% confidence intervals "
                  f"(t intervals over replications)")
    else:
        sample = "from a single replication, so without confidence intervals"
    reading = (f"Values at {unit} {horizon} (\"over the run\": summed over {unit}s 1 to "
               f"{horizon}), {sample}.")
    if not data.is_experiment:
        shown = list(dict.fromkeys(["customers", *kpis]))
        return ["## Results by firm", "", reading, "",
                markdown_table(firms_table(data.summary, data.firms, shown, data.baseline)), ""]
    names, groups = names_of(data), compared(data, data.focus_firm)
    if len(groups) > 1:
        against = ("\"vs its reference\" is the paired difference to the arm in its row's "
                   "\"reference\" column, the first arm of its group in `experiment.compare` "
                   "(arms are compared only within a group)")
    else:
        against = (f"\"vs {display_name(data.baseline, names)}\" is the paired difference to "
                   f"the baseline")
    lines = [f"## Results for {data.focus_firm}", "",
             reading + f" {against}; when its CI excludes 0 the difference is not replication "
             f"noise.", "",
             markdown_table(kpi_table(data.summary, data.focus_firm, kpis, data.arms, unit,
                                      groups, names)), "",
             f"### {_capital(kpi_info(kpis[0]).label)} of every firm", "",
             "Who gains and who loses when the arms change (means over replications):", "",
             markdown_table(firm_by_arm_table(data.summary, data.firms, kpis[0], data.arms,
                                              names)), ""]
    if not data.shapley.empty:
        empty, full = (display_name(arm, names) for arm in factor_arms(data.experiment.factors))
        lines += ["## Shapley split of the uplift", "",
                  f"The uplift from **{empty}** (no factor on) to **{full}** (every factor on) is "
                  f"split between the factors by their Shapley values: a factor's contribution "
                  f"averaged over the orders in which the factors can be switched on, so the "
                  f"contributions add up to the whole uplift. Computed replication by replication "
                  f"and summarised with 95% CIs.", "",
                  markdown_table(shapley_table(data.shapley, unit, names)), ""]
    return lines


def _figures(figures: list[FigureSpec]) -> list[str]:
    if not figures:
        return ["## Figures", "", "None drawn: a run draws its figures only when asked "
                "(`output.figures=true`). `ecosim-figures RUN_DIR` draws them from this "
                "directory's tables and links them here.", ""]
    lines = ["## Figures", "", "Each title states what the figure shows; PNG and SVG files are "
             "in `figures/`.", ""]
    for spec in figures:
        lines += [f"### {_capital(spec.title)}", "",
                  f"![{_capital(spec.title)}](figures/{spec.name}.png)", "", _capital(spec.caption),
                  ""]
    return lines


def _scale_caveat(data: ReportData) -> str:
    """What the simulated customers stand for (``customers.market_size``) and what budgets mean."""
    n, market, unit = data.config.customers.n, data.market_customers, data.step_unit
    reach = (f"Marketing budgets are money per {unit} for the market of {market:,} customers: "
             f"advertising reaches each customer with probability 1 − exp(−budget / (market "
             f"customers × reach cost)), so the same budgets in a market of another size buy "
             f"another reach.")
    if n == market:
        return (f"{reach} The {n:,} simulated customers are the whole market "
                f"(`customers.market_size`): CAC, profit and LTV/CAC in currency do not carry "
                f"over to a market of another size.")
    return (f"{reach} The {n:,} simulated customers stand for a market of {market:,} "
            f"(`customers.market_size`), each for {data.customer_weight:g}: every table, figure "
            f"and sentence states money and customer counts for that market. The number "
            f"simulated sets the sampling noise only; per-customer KPIs (ARPU, CAC, LTV), rates "
            f"and ratios do not depend on it.")


def caveats(data: ReportData) -> list[str]:
    """The caveats of a run: its sample, its horizon, what the model leaves out, its warnings."""
    r, n, unit, horizon = data.replications, data.config.customers.n, data.step_unit, data.horizon
    if r < 2:
        sample = ("**One replication**: no confidence interval can be computed, so any difference "
                  "may be noise. Run again with `replications=5` or more.")
    else:
        sample = (f"**{r} replications**: the 95% intervals are t intervals over replications"
                  + (" and are wide with so few" if r < 5 else "") + ". Intervals of differences "
                  "between arms are narrower because the arms share random numbers.")
    items = [
        *data.experiment.caveats,
        sample,
        f"**{n:,} simulated customers.** " + _scale_caveat(data),
        f"**Horizon of {horizon} {unit}s.** KPIs are read at {unit} {horizon}; LTV is predicted "
        f"from the last {min(LTV_WINDOW, horizon)} {unit}s assuming margin and retention stay as "
        f"they were" + (", and a horizon this short still includes the start-up transient"
                        if horizon < 2 * LTV_WINDOW else "") + ".",
        *[f"**Left out.** {text}" for text in LEFT_OUT],
    ]
    items += [f"**Warning from the run:** {w}" for w in data.metadata.get("warnings", []) or []]
    return ["## Caveats", "", *[f"- {item}" for item in items], ""]


def _definitions(data: ReportData) -> list[str]:
    kpis = list(dict.fromkeys([*(data.focus_kpis or ["arpu"]), "customers", "arpu", "ltv", "cac",
                               "ltv_cac"]))
    return ["## What the KPIs mean", "", markdown_table(definitions_table(kpis, data.step_unit)),
            "", "Money is in the config's currency unit; one step is one "
            f"{data.step_unit}. The tables of the run (`firm_metrics.parquet`, "
            "`unit_metrics.parquet`, `segment_metrics.parquet`, `segment_needs.parquet`, "
            "`cohort_retention.parquet`, "
            "`summary.csv`) and the resolved config (`config.yaml`) sit next to this report.", ""]


def render_report(data: ReportData, figures: list[FigureSpec]) -> str:
    """The text of ``report.md``."""
    lines = [*_intro(data), *_investment(data), *_design(data), *_results(data),
             *tipping_section(data), *decisions_section(data), *_figures(figures),
             *caveats(data), *_definitions(data)]
    return "\n".join(lines).rstrip() + "\n"


def write_report(result_like: Any, out_dir: str | Path,
                 figures: list[FigureSpec] | None = None) -> Path:
    """Write ``out_dir/report.md``.

    Args:
        result_like: a ``RunResult`` (or an object with its attributes), a ``ReportData``, or
            the path of a finished run directory.
        out_dir: the run directory.
        figures: the figures to link; default: those of ``plan_figures`` whose PNG exists in
            ``out_dir/figures``.

    Returns:
        The path of ``report.md``.
    """
    data = as_report_data(result_like)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if figures is None:  # planning titles every figure: only worth it when some were drawn
        drawn = out / "figures"
        figures = ([spec for spec in plan_figures(data) if (drawn / f"{spec.name}.png").is_file()]
                   if drawn.is_dir() and any(drawn.glob("*.png")) else [])
    path = out / "report.md"
    path.write_text(render_report(data, figures), encoding="utf-8")
    return path
