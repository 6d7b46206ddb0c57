"""An experiment's arms side by side: each KPI's mean with its 95 % interval, and robustness.

The tables are Markdown, and every name taken from a config (arms, assumptions, the headline's
label) is HTML-escaped: the page renders them as HTML.

Everything here reads a finished run directory through the reports' own reader
(``ecosim.report.data.ReportData``): the page shows what ``summary.csv`` and ``robustness.csv``
hold, the numbers the report and the deck show.
"""

from __future__ import annotations

import html

import pandas as pd

from ecosim.report.data import ReportData
from ecosim.report.labels import (
    display_name,
    format_difference,
    format_interval,
    format_value,
    kpi_info,
)

#: Columns of ``arm_table``.
ARM_COLUMNS = ("arm", "label", "mean", "ci_low", "ci_high", "diff_mean", "diff_ci_low",
               "diff_ci_high", "n")


def compared_kpis(data: ReportData) -> list[str]:
    """The KPIs worth comparing: the experiment's own first, then the page's usual ones."""
    available = list(dict.fromkeys(data.summary["kpi"]))
    usual = ["customers", "revenue", "cum_profit", "churn_rate", "cac", "ltv", "ltv_cac"]
    return list(dict.fromkeys([k for k in [*data.focus_kpis, *usual] if k in available]))


def arm_table(data: ReportData, firm: str, kpi: str) -> pd.DataFrame:
    """One row per arm: the KPI at the horizon, with 95 % intervals over replications.

    Each row has the mean and its interval, and the paired difference to the baseline (the first
    arm) with its interval. Rows follow the arms' order; ``label`` is the experiment's
    plain-language name of the arm.
    """
    s = data.summary
    rows = s[(s["firm"] == firm) & (s["kpi"] == kpi)].set_index("arm")
    labels = dict(data.experiment.labels or {})
    table = rows.reindex(data.arms).reset_index()
    table["label"] = [display_name(arm, labels, capital=True) for arm in table["arm"]]
    return table[list(ARM_COLUMNS)]


def arm_markdown(table: pd.DataFrame, kpi: str) -> str:
    """``arm_table`` as a Markdown table with the values formatted as the report formats them."""
    name = html.escape(kpi_info(kpi).short)
    lines = [f"| arm | {name} | 95 % interval | vs baseline | 95 % interval | n |",
             "| --- | ---: | :---: | ---: | :---: | ---: |"]
    for row in table.itertuples():
        diff = "baseline" if pd.isna(row.diff_mean) else format_difference(kpi, row.diff_mean)
        diff_ci = ("" if pd.isna(row.diff_mean)
                   else format_interval(kpi, row.diff_ci_low, row.diff_ci_high, difference=True))
        n = "" if pd.isna(row.n) else int(row.n)
        lines.append(f"| {_cell(row.label)} | {format_value(kpi, row.mean)} | "
                     f"{format_interval(kpi, row.ci_low, row.ci_high)} | {diff} | {diff_ci} | "
                     f"{n} |")
    return "\n".join(lines)


def robustness_markdown(data: ReportData) -> str:
    """The headline over the assumptions' variants (``robustness.csv``), or "" without one.

    One row per variant: the assumption, its level, the headline and its 95 % interval; the
    first row is the default assumptions.
    """
    table = data.robustness
    if table is None or table.empty:
        return ""
    headline = data.experiment.headline
    kpi = headline.kpi or "value"
    relative = headline.kind in ("relative_effect", "share")  # fractions: shown in %

    def show(value: float) -> str:
        if pd.isna(value):
            return "n/a"
        return f"{100 * value:+.1f} %" if relative else format_value(kpi, value)

    lines = [f"Headline: **{_cell(headline.label or kpi)}**", "",
             "| design | assumption | level | headline | 95 % interval |",
             "| --- | --- | --- | ---: | :---: |"]
    for row in table.itertuples():
        lines.append(f"| {row.design} | {_cell(row.assumption)} | {_cell(row.level)} | "
                     f"{show(row.value)} | "
                     f"[{show(row.low)}, {show(row.high)}] |")
    low, high = table["value"].min(), table["value"].max()
    lines += ["", f"Over the assumptions the headline ranges from {show(low)} to {show(high)}."]
    return "\n".join(lines)


def _cell(text: object) -> str:
    """A name for a Markdown table cell: HTML-escaped, ``|`` and ``*`` kept literal."""
    return html.escape(str(text)).replace("|", "&#124;").replace("*", "&#42;")
