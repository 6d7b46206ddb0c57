"""Revenue per customer (ARPU) over time: mean over replications with a 95% CI band."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from ecosim.report.findings import arm_effects, best_effect, possessive
from ecosim.report.labels import format_difference, format_value, tick_format, unit
from ecosim.report.style import SLIDE_SIZE, STYLE, finish, save

#: Above this ratio between the largest and smallest ARPU the axis turns logarithmic.
LOG_SCALE_RATIO = 20.0
#: With fewer replications the t interval (12.7 sd/sqrt(2) for two) would fill the chart.
MIN_BAND_REPLICATIONS = 3


def arpu_paths(firm_metrics: pd.DataFrame, by: str) -> pd.DataFrame:
    """ARPU per (``by``, step): mean, and the 95% t interval over replications (NaN for one).

    ``by`` is ``"arm"`` or ``"firm"``; steps from 1 (nothing is bought at step 0).
    """
    played = firm_metrics[firm_metrics["step"] > 0]
    grouped = played.groupby([by, "step"], sort=False)["arpu"].agg(["mean", "std", "count"])
    count = grouped["count"].to_numpy(float)
    t = stats.t.ppf(0.975, np.maximum(count - 1, 1))
    half = np.where(count > 1, t * grouped["std"].to_numpy() / np.sqrt(count), np.nan)
    grouped["ci_low"] = grouped["mean"] - half
    grouped["ci_high"] = grouped["mean"] + half
    return grouped


def arpu_finding(summary: pd.DataFrame, firm_metrics: pd.DataFrame, firms: list[str],
                 arms: list[str], focus_firm: str, step_unit: str) -> str:
    """The title: how the best arm's ARPU lead over the baseline evolves, or who earns most."""
    if len(arms) > 1:
        best = best_effect(arm_effects(summary, focus_firm, "arpu", arms))
        if best is None:
            return f"{possessive(focus_firm)} revenue per customer by arm"
        if best.better is False:
            return f"No arm lifts {possessive(focus_firm)} revenue per customer above {arms[0]}"
        mine = firm_metrics[(firm_metrics["firm"] == focus_firm) & (firm_metrics["step"] == 1)]
        first = mine.groupby("arm")["arpu"].mean()
        start = first.get(best.arm, math.nan) - first.get(arms[0], math.nan)
        verb = "grows" if abs(best.diff) > abs(start) else "shrinks"
        return (f"{possessive(focus_firm)} ARPU lead under {best.arm} over {arms[0]} {verb} "
                f"from {format_difference('arpu', start)} in {step_unit} 1 to "
                f"{format_difference('arpu', best.diff)} in {step_unit} "
                f"{int(firm_metrics['step'].max())}")
    rows = summary[(summary["kpi"] == "arpu") & summary["firm"].isin(firms)
                   & (summary["arm"] == arms[0])].dropna(subset=["mean"])
    if rows.empty:
        return "Revenue per customer by firm"
    ordered = rows.sort_values("mean", ascending=False)
    top, bottom = ordered.iloc[0], ordered.iloc[-1]
    return (f"{top['firm']} earns the most per customer ({format_value('arpu', top['mean'])} "
            f"per {step_unit}), {bottom['firm']} the least "
            f"({format_value('arpu', bottom['mean'])})")


def plot_arpu(firm_metrics: pd.DataFrame, lines: list[str], by: str, colours: dict[str, str],
              step_unit: str, stem: Path, title: str, subset: str | None = None) -> list[Path]:
    """ARPU over time, one line per arm (of one firm) or per firm (of one arm), with CI bands.

    Args:
        firm_metrics: the table of docs/design.md §4.
        lines: the arms or firms drawn, in legend order.
        by: ``"arm"`` (then ``subset`` names the firm) or ``"firm"`` (``subset`` names the arm).
        colours: one colour per line.
        step_unit: "month". stem: the path without suffix. title: the finding.
        subset: the firm (by arm) or arm (by firm) the lines belong to.
    """
    other = "firm" if by == "arm" else "arm"
    frame = firm_metrics if subset is None else firm_metrics[firm_metrics[other] == subset]
    paths = arpu_paths(frame, by)
    n = int(frame["replication"].nunique())
    drawn = {line: paths.loc[line].dropna(subset=["mean"]) for line in lines
             if line in paths.index.get_level_values(0)}
    drawn = {line: series for line, series in drawn.items() if not series.empty}
    finals = [series["mean"].iloc[-1] for series in drawn.values()]
    positive = [v for v in finals if v > 0]
    log = len(positive) > 1 and max(positive) > LOG_SCALE_RATIO * min(positive)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SLIDE_SIZE)
        for line, series in drawn.items():
            ax.plot(series.index, series["mean"], color=colours[line], label=line,
                    linestyle="--" if by == "arm" and line == lines[0] else "-")
            if n >= MIN_BAND_REPLICATIONS:
                low = series["ci_low"].clip(lower=0.01 * series["mean"]) if log \
                    else series["ci_low"]
                ax.fill_between(series.index, low, series["ci_high"], color=colours[line],
                                alpha=0.18, linewidth=0)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel(f"{step_unit}s")
        ax.set_ylabel(f"ARPU, {unit('arpu', step_unit)}" + (" (log scale)" if log else ""))
        ax.yaxis.set_major_formatter(plt.FuncFormatter(tick_format("arpu")))
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        band = (f"band: 95% confidence interval over {n} replications"
                if n >= MIN_BAND_REPLICATIONS else
                f"{n} replication{'s' if n > 1 else ''}: too few for a useful confidence band")
        what = f"{subset}'s revenue per customer" if by == "arm" else "Revenue per customer"
        finish(fig, title,
               f"{what}: mean over replications; {band}. Revenue is GMV for a marketplace.")
        return save(fig, Path(stem))
