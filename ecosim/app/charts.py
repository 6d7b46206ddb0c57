"""The page's charts: one KPI per firm over time, and an experiment's arms with their intervals.

Figures are built with Matplotlib's object API (``matplotlib.figure.Figure``), not pyplot, so
that the page's tabs can draw at the same time; they use the reports' house style (large fonts,
one colour per firm) and state their finding in the title.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ecosim.app.series import KPIS
from ecosim.report.labels import human
from ecosim.report.style import STYLE, arm_colours, firm_colours

#: Size of a chart on the page (inches; the page scales it to its column).
CHART_SIZE = (8.0, 4.8)
#: Characters per line of a chart's title (a finding wraps rather than being cut).
TITLE_CHARS = 52


def _literal(label: object) -> str:
    """A name from a config as Matplotlib shows it literally: ``$`` would start mathtext."""
    return str(label).replace("$", r"\$")


def _style(fig: Figure) -> None:
    ax = fig.axes[0]
    ax.set_title(textwrap.fill(ax.get_title(loc="left"), TITLE_CHARS), loc="left",
                 fontsize=STYLE["axes.titlesize"] - 5, fontweight="bold")
    ax.xaxis.label.set_fontsize(STYLE["axes.labelsize"] - 2)
    ax.yaxis.label.set_fontsize(STYLE["axes.labelsize"] - 2)
    ax.tick_params(labelsize=STYLE["xtick.labelsize"] - 1)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, alpha=0.3)


def leader_title(series: pd.DataFrame, kpi: str, step_unit: str) -> str:
    """The finding of a KPI chart: which firm leads at the last step, and by how much.

    For churn and CAC the leader is the firm with the lowest value (lower is better).
    """
    label, _ = KPIS[kpi]
    last = series[series["step"] == series["step"].max()].dropna(subset=[kpi])
    if last.empty:
        return f"{label}: no value at the horizon"
    lowest_wins = kpi in ("churn_rate", "cac")
    best = last.loc[last[kpi].idxmin() if lowest_wins else last[kpi].idxmax()]
    value = f"{best[kpi]:.2g} %" if kpi == "churn_rate" else human(float(best[kpi]))
    what = "the most customers" if kpi == "customers" else (
        f"the {'lowest' if lowest_wins else 'highest'} {label}")
    return f"{best['firm']} has {what} in {step_unit} {int(best['step'])}: {value}"


def kpi_figure(series: pd.DataFrame, kpi: str, firms: Sequence[str], step_unit: str) -> Figure:
    """``kpi`` of each firm over the steps (``ecosim.app.series.firm_series``'s table)."""
    label, axis_unit = KPIS[kpi]
    colours = firm_colours(list(firms))
    fig = Figure(figsize=CHART_SIZE, layout="constrained")
    ax = fig.add_subplot()
    for firm in firms:
        rows = series[series["firm"] == firm]
        ax.plot(rows["step"], rows[kpi], color=colours[firm], linewidth=2.5, label=firm)
    ax.set_title(leader_title(series, kpi, step_unit), loc="left")
    ax.set_xlabel(f"{step_unit}s")
    ax.set_ylabel(f"{label} ({axis_unit.replace('step', step_unit)})")
    ax.yaxis.set_major_formatter(lambda value, _pos: human(value))
    if len(firms) > 1:
        ax.legend(fontsize=11, ncols=2 if len(firms) > 5 else 1, frameon=False,
                  loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _style(fig)
    return fig


def arms_figure(table: pd.DataFrame, kpi_label: str) -> Figure:
    """Each arm's mean with its 95 % interval over replications (``compare.arm_table``)."""
    arms = list(table["arm"])
    colours = arm_colours(arms)
    fig = Figure(figsize=(CHART_SIZE[0] * 1.4, max(3.0, 0.6 * len(arms) + 2.0)),
                 layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(arms))[::-1]
    means = table["mean"].to_numpy(float)
    low = np.nan_to_num(means - table["ci_low"].to_numpy(float))
    high = np.nan_to_num(table["ci_high"].to_numpy(float) - means)
    ax.barh(y, means, color=[colours[a] for a in arms], alpha=0.85)
    ax.errorbar(means, y, xerr=[low, high], fmt="none", ecolor="black", capsize=6, linewidth=2)
    ax.set_yticks(y, [_literal(label) for label in table["label"]])
    ax.xaxis.set_major_formatter(lambda value, _pos: human(value))
    ax.set_xlabel(f"{kpi_label} (mean, 95 % interval over replications)")
    best = table.loc[table["mean"].idxmax()] if table["mean"].notna().any() else None
    title = (f"Highest {kpi_label} at the horizon: {_literal(best['label'])} "
             f"({human(float(best['mean']))})"
             if best is not None and math.isfinite(best["mean"]) else kpi_label)
    ax.set_title(title, loc="left")
    _style(fig)
    return fig
