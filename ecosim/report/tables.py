"""The tables of a report, as DataFrames of formatted strings, and their markdown.

The same tables feed ``report.md`` and the deck: the arms and what each changes, a KPI table
(means with 95% CIs and paired differences to each arm's reference: the baseline, or the first
arm of its group in ``experiment.compare``), a firm comparison, and the Shapley split. Arms and
factors are named in words (``experiment.labels``); the arms table keeps each arm's config name
for re-running it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ecosim.config import ExperimentConfig
from ecosim.report.labels import (
    display_name,
    format_difference,
    format_interval,
    format_value,
    human,
    kpi_info,
    unit,
)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub markdown table of a frame of strings (pipes escaped, newlines as <br>)."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", "<br>")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    align = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, align, *rows])


def kpi_heading(kpi: str, step_unit: str) -> str:
    """"revenue per customer (ARPU), currency per customer per month"."""
    info, text = kpi_info(kpi), unit(kpi, step_unit)
    return info.label if text in ("", info.label, info.short) else f"{info.label}, {text}"


def _override(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def arms_table(experiment: ExperimentConfig) -> pd.DataFrame:
    """One row per arm: its name in words, its config name, what it sets, its factors.

    The config name (``experiment.arms``) is what re-runs an arm; what it sets is relative to
    the scenario.
    """
    labels = experiment.labels
    rows = []
    for arm, overrides in experiment.arms.items():
        changes = "\n".join(f"`{key}` = {_override(value)}" for key, value in overrides.items())
        row = {"arm": f"**{display_name(arm, labels, capital=True)}**",
               "config name": f"`{arm}`",
               "what it sets": changes or "nothing (the scenario as is)"}
        if experiment.factors:
            row["factors on"] = ", ".join(display_name(f, labels)
                                          for f in experiment.factors.get(arm, [])) or "none"
        rows.append(row)
    return pd.DataFrame(rows)


#: Groups of arms compared, each with its summary: paired differences to the group's first arm.
Groups = Sequence[tuple[Sequence[str], pd.DataFrame]]


def compared_rows(groups: Groups) -> list[tuple[str, str | None, pd.DataFrame]]:
    """The rows of a table of compared arms: (arm, its reference, the summary holding both).

    A group's reference has ``None`` as its reference; a reference already shown in an earlier
    group (as another arm's comparison) is not repeated.
    """
    rows: list[tuple[str, str | None, pd.DataFrame]] = []
    shown: set[str] = set()
    for group, summary in groups:
        for i, arm in enumerate(group):
            if i == 0 and arm in shown:
                continue
            rows.append((arm, None if i == 0 else group[0], summary))
            shown.add(arm)
    return rows


def kpi_table(summary: pd.DataFrame, firm: str, kpis: list[str], arms: list[str],
              step_unit: str, groups: Groups | None = None,
              labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Rows (KPI, arm): mean, 95% CI, paired difference to the arm's reference and its 95% CI.

    Args:
        summary, arms: the run's summary and arms (every arm against the first), used when
            ``groups`` is not given.
        firm, kpis, step_unit: the firm, the KPIs (row blocks), "month".
        groups: the groups compared (``experiment.compare``), each with its summary; with more
            than one, a "reference" column names each arm's reference.
        labels: the arms' names in words (``experiment.labels``).
    """
    groups = list(groups or [(arms, summary)])
    several = len(groups) > 1
    base = display_name(groups[0][0][0], labels)
    against = "vs its reference" if several else f"vs {base}"
    rows = []
    for kpi in kpis:
        first = True
        for arm, reference, table in compared_rows(groups):
            found = table[(table["firm"] == firm) & (table["kpi"] == kpi) & (table["arm"] == arm)]
            if found.empty:
                continue
            r = found.iloc[0]
            is_base = reference is None
            excludes = (math.isfinite(r["diff_ci_low"]) and math.isfinite(r["diff_ci_high"])
                        and (r["diff_ci_low"] > 0 or r["diff_ci_high"] < 0))
            row = {"KPI": kpi_heading(kpi, step_unit) if first else "",
                   "arm": display_name(arm, labels, capital=True)}
            if several:
                row["reference"] = ("(reference)" if is_base
                                    else display_name(reference, labels, capital=True))
            row.update({
                "mean": format_value(kpi, r["mean"]),
                "95% CI": format_interval(kpi, r["ci_low"], r["ci_high"]),
                against: ("reference" if several else "baseline") if is_base
                else format_difference(kpi, r["diff_mean"]),
                "95% CI of the difference": "" if is_base else format_interval(
                    kpi, r["diff_ci_low"], r["diff_ci_high"], difference=True),
                "CI excludes 0": "" if is_base else "yes" if excludes else "no",
            })
            rows.append(row)
            first = False
    return pd.DataFrame(rows)


#: The last summaries looked up, each with its rows by (arm, firm, kpi): a report asks for
#: hundreds of rows of one summary, and masking the whole frame for each cost ~2 ms a row.
_LOOKUPS: list[tuple[pd.DataFrame, dict[tuple[str, str, str], dict[str, Any]]]] = []


def _summary_row(summary: pd.DataFrame, arm: str, firm: str, kpi: str) -> dict[str, Any] | None:
    """The summary row of one (arm, firm, kpi) as a dict, or None when the run has none.

    The first row of that key, as a mask over the frame would give it; a summary is read, never
    changed in place, once reporting starts.
    """
    rows = next((known for frame, known in _LOOKUPS if frame is summary), None)
    if rows is None:
        rows = {}
        for row in summary.to_dict("records"):
            rows.setdefault((row["arm"], row["firm"], row["kpi"]), row)
        _LOOKUPS[:] = [(summary, rows), *_LOOKUPS[:3]]
    return rows.get((arm, firm, kpi))


def wide_kpi_table(summary: pd.DataFrame, firm: str, kpis: list[str],
                   arms: list[str], groups: Groups | None = None,
                   labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Rows arms, columns KPIs: mean, paired difference to the arm's reference, its 95% CI.

    One value per line, three lines a cell: compact enough for a slide. With ``groups``
    (``experiment.compare``, each with its summary) the rows follow the groups, each arm compared
    with its group's first arm, and with more than one group a "compared with" column names that
    reference; without, every arm is compared with the first of ``arms`` in ``summary``.
    ``labels``: the arms' names in words.
    """
    groups = list(groups or [(arms, summary)])
    several = len(groups) > 1
    rows = []
    for arm, reference, table in compared_rows(groups):
        row = {"arm": display_name(arm, labels, capital=True)}
        if several:
            row["compared with"] = ("(reference)" if reference is None
                                    else display_name(reference, labels, capital=True))
        for kpi in kpis:
            r = _summary_row(table, arm, firm, kpi)
            if r is None:
                row[kpi_info(kpi).short] = "n/a"
                continue
            text = format_value(kpi, r["mean"])
            if reference is not None:
                text += (f"\n{format_difference(kpi, r['diff_mean'])}"
                         f"\n{format_interval(kpi, r['diff_ci_low'], r['diff_ci_high'], True)}")
            row[kpi_info(kpi).short] = text
        rows.append(row)
    return pd.DataFrame(rows)


def firms_table(summary: pd.DataFrame, firms: list[str], kpis: list[str], arm: str,
                with_ci: bool = True) -> pd.DataFrame:
    """Rows firms, columns KPIs: the mean, and its 95% CI when ``with_ci``."""
    rows = []
    for firm in firms:
        row = {"firm": firm}
        for kpi in kpis:
            r = _summary_row(summary, arm, firm, kpi)
            if r is None:
                row[kpi_info(kpi).short] = "n/a"
                continue
            text = format_value(kpi, r["mean"])
            if with_ci and math.isfinite(r["ci_low"]):
                text += " " + format_interval(kpi, r["ci_low"], r["ci_high"])
            row[kpi_info(kpi).short] = text
        rows.append(row)
    return pd.DataFrame(rows)


def firm_by_arm_table(summary: pd.DataFrame, firms: list[str], kpi: str,
                      arms: list[str], labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Rows firms, columns arms: the mean of one KPI (who gains and who loses across arms).

    ``labels``: the arms' names in words (``experiment.labels``).
    """
    table = summary[summary["kpi"] == kpi].pivot(index="firm", columns="arm", values="mean")
    table = table.reindex(index=[f for f in firms if f in table.index], columns=arms)
    out = table.apply(lambda column: column.map(lambda v: format_value(kpi, v)))
    out.columns = [display_name(arm, labels, capital=True) for arm in out.columns]
    return out.reset_index()


def shapley_table(shapley: pd.DataFrame, step_unit: str,
                  labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Rows (firm, KPI, factor): the contribution with its 95% CI and its share of the uplift.

    The firm column appears only when the split covers several firms; a KPI is named once.
    ``labels``: the factors' names in words (``experiment.labels``).
    """
    rows, previous = [], None
    several = shapley["firm"].nunique() > 1
    for r in shapley.itertuples():
        key = (r.firm, r.kpi)
        row = {"firm": r.firm if key != previous else ""} if several else {}
        row.update({
            "KPI": kpi_heading(r.kpi, step_unit) if key != previous else "",
            "factor": display_name(r.factor, labels),
            "contribution": format_difference(r.kpi, r.mean),
            "95% CI": format_interval(r.kpi, r.ci_low, r.ci_high, difference=True),
            "share of the uplift": (f"{100 * r.share_of_uplift:.0f}%"
                                    if math.isfinite(r.share_of_uplift) else "n/a"),
        })
        rows.append(row)
        previous = key
    return pd.DataFrame(rows)


def definitions_table(kpis: list[str], step_unit: str) -> pd.DataFrame:
    """What each KPI of the report means, with its unit."""
    return pd.DataFrame([{"KPI": kpi_info(k).label, "unit": unit(k, step_unit),
                          "definition": kpi_info(k).definition.format(step=step_unit)}
                         for k in kpis])


def _step(value: float) -> str:
    """A step, or a mean of steps, to one decimal: "7", "7.5"."""
    return f"{value:.1f}".removesuffix(".0")


def _step_cell(summary: pd.DataFrame, arm: str, firm: str, kpi: str, flag: str,
               step_unit: str, horizon: int, replications: int) -> str:
    """A payback or break-even step for a reader: never a payback that did not happen.

    "no investment" when the firm has none in the arm; "not within 36 months" when no
    replication reaches it; the mean step with its CI when every one does; otherwise the mean
    over the replications that reach it, saying how many do not.
    """
    row = _summary_row(summary, arm, firm, kpi)
    reached = _summary_row(summary, arm, firm, flag) if flag else None
    if row is None or (reached is not None and reached["n"] == 0):
        return "no investment"
    never = f"not within {horizon} {step_unit}s"
    if row["n"] == 0:
        return never
    text = f"{step_unit} {_step(row['mean'])}"
    if row["n"] < replications:
        return (f"{text} in {int(row['n'])} of {replications} replications; "
                f"{never} in the others")
    if math.isfinite(row["ci_low"]):
        text += f" [{_step(row['ci_low'])}, {_step(row['ci_high'])}]"
    return text


def investment_table(summary: pd.DataFrame, firm: str, arms: list[str], step_unit: str,
                     horizon: int, replications: int,
                     labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Rows arms: NPV, investment costs, largest justified investment, payback and break-even.

    The paired columns (justified investment, payback and break-even vs the baseline) say
    "baseline" on the first arm; a step that is not reached reads "not within ... steps".
    ``labels``: the arms' names in words (``experiment.labels``; the arms table gives their
    config names).
    """
    rows = []
    for i, arm in enumerate(arms):
        npv = _summary_row(summary, arm, firm, "npv")
        if npv is None:
            continue
        costs = [_summary_row(summary, arm, firm, f"cum_{name}")
                 for name in ("capex", "opex", "cost_to_serve")]
        spent = "/".join(human(c["mean"]) if c is not None else "n/a" for c in costs)
        row = {"arm": display_name(arm, labels, capital=True),
               "NPV of profit": f"{human(npv['mean'])} "
                                f"{format_interval('npv', npv['ci_low'], npv['ci_high'])}",
               "capex / opex / cost to serve": spent}
        if len(arms) > 1:
            justified = _summary_row(summary, arm, firm, "justified_investment")
            row["largest justified investment"] = "baseline" if i == 0 else (
                "n/a" if justified is None else
                f"{format_difference('npv', justified['mean'])} "
                f"{format_interval('npv', justified['ci_low'], justified['ci_high'], True)}")
            for kpi, flag, name in (
                    ("incremental_payback_step", "incremental_payback_within_horizon",
                     "payback vs baseline"),
                    ("incremental_breakeven_step", "incremental_payback_within_horizon",
                     "break-even vs baseline")):
                row[name] = "baseline" if i == 0 else _step_cell(
                    summary, arm, firm, kpi, flag, step_unit, horizon, replications)
        row["payback of the firm's own profit"] = _step_cell(
            summary, arm, firm, "payback_step", "payback_within_horizon", step_unit, horizon,
            replications)
        rows.append(row)
    return pd.DataFrame(rows)
