"""An experiment's arms side by side: each KPI's mean with its 95 % interval, and robustness.

The tables are built as HTML, every cell escaped with ``html.escape``: names come from config
files and from other people's run directories (arm labels, assumptions, the headline's label,
the cells of ``robustness.csv``), and the page inserts the HTML as it is. (Markdown would turn
a label such as ``[x](javascript:...)`` into a link: its metacharacters are not HTML.)

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


def arm_html(table: pd.DataFrame, kpi: str) -> str:
    """``arm_table`` as an HTML table with the values formatted as the report formats them."""
    rows = []
    for row in table.itertuples():
        diff = "baseline" if pd.isna(row.diff_mean) else format_difference(kpi, row.diff_mean)
        diff_ci = ("" if pd.isna(row.diff_mean)
                   else format_interval(kpi, row.diff_ci_low, row.diff_ci_high, difference=True))
        n = "" if pd.isna(row.n) else int(row.n)
        rows.append([row.label, format_value(kpi, row.mean),
                     format_interval(kpi, row.ci_low, row.ci_high), diff, diff_ci, n])
    return html_table(["arm", kpi_info(kpi).short, "95 % interval", "vs baseline",
                       "95 % interval", "n"], rows, "lrcrcr")


def robustness_html(data: ReportData) -> str:
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

    rows = [[row.design, row.assumption, row.level, show(row.value),
             f"[{show(row.low)}, {show(row.high)}]"] for row in table.itertuples()]
    low, high = table["value"].min(), table["value"].max()
    return "".join([
        f"<p>Headline: <strong>{html.escape(str(headline.label or kpi))}</strong></p>",
        html_table(["design", "assumption", "level", "headline", "95 % interval"], rows,
                   "lllrc"),
        f"<p>Over the assumptions the headline ranges from {html.escape(show(low))} to "
        f"{html.escape(show(high))}.</p>"])


def html_table(header: list[str], rows: list[list[object]], align: str) -> str:
    """An HTML table; every header and cell is escaped text (no markup passes through).

    Args:
        header: the column names.
        rows: the cells, any value (shown as ``str``).
        align: one letter per column, ``l``, ``c`` or ``r`` (numbers right-aligned).
    """
    where = {"l": "left", "c": "center", "r": "right"}

    def cells(tag: str, values: list[object]) -> str:
        return "".join(f'<{tag} style="text-align: {where[a]}">{html.escape(str(v))}</{tag}>'
                       for v, a in zip(values, align, strict=True))

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return f"<table><thead><tr>{cells('th', header)}</tr></thead><tbody>{body}</tbody></table>"
