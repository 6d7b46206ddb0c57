"""Revenue per customer (ARPU) over time: mean over replications with a 95% CI band."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import stdtrit  # the t quantile; scipy.stats costs a second import

from ecosim.report.findings import best_effect, possessive
from ecosim.report.kpi_bars import Group, group_effects
from ecosim.report.labels import display_name, format_difference, format_value, tick_format, unit
from ecosim.report.style import SLIDE_SIZE, STYLE, finish, legend_layout, pyplot, save, wrap_to

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
    t = stdtrit(np.maximum(count - 1, 1), 0.975)
    half = np.where(count > 1, t * grouped["std"].to_numpy() / np.sqrt(count), np.nan)
    grouped["ci_low"] = grouped["mean"] - half
    grouped["ci_high"] = grouped["mean"] + half
    return grouped


def arpu_finding(summary: pd.DataFrame, firm_metrics: pd.DataFrame, firms: list[str],
                 arms: list[str], focus_firm: str, step_unit: str,
                 groups: Sequence[Group] | None = None,
                 labels: Mapping[str, str] | None = None) -> str:
    """The title: how the best arm's ARPU lead over its reference evolves, or who earns most.

    ``groups``: the arms compared, each against its first (``kpi_bars.compared``; default
    every arm against the first); ``labels``: the arms' plain-language names.
    """
    if len(arms) > 1:
        pairs = group_effects(groups or [(arms, summary)], focus_firm, "arpu")
        best = best_effect([effect for effect, _ in pairs])
        if best is None:
            return f"{possessive(focus_firm)} revenue per customer by arm"
        if best.better is False:
            single = not groups or len(groups) == 1
            first_arm = (groups[0][0] if groups else arms)[0]
            against = display_name(first_arm, labels) if single else "its reference"
            return f"No arm lifts {possessive(focus_firm)} revenue per customer above {against}"
        reference = next(ref for effect, ref in pairs if effect is best)
        mine = firm_metrics[(firm_metrics["firm"] == focus_firm) & (firm_metrics["step"] == 1)]
        first = mine.groupby("arm")["arpu"].mean()
        start = first.get(best.arm, math.nan) - first.get(reference, math.nan)
        verb = "grows" if abs(best.diff) > abs(start) else "shrinks"
        return (f"{possessive(focus_firm)} ARPU lead under {display_name(best.arm, labels)} "
                f"over {display_name(reference, labels)} {verb} "
                f"from {format_difference('arpu', start)} in {step_unit} 1 to "
                f"{format_difference('arpu', best.diff)} in {step_unit} "
                f"{int(firm_metrics['step'].max())}")
    rows = summary[(summary["kpi"] == "arpu") & summary["firm"].isin(firms)
                   & (summary["arm"] == arms[0])].dropna(subset=["mean"])
    if rows.empty:
        return "Revenue per customer by firm"
    ordered = rows.sort_values("mean", ascending=False)
    top, bottom = ordered.iloc[0], ordered.iloc[-1]
    return (f"{display_name(top['firm'])} earns the most per customer "
            f"({format_value('arpu', top['mean'])} per {step_unit}), "
            f"{display_name(bottom['firm'])} the least "
            f"({format_value('arpu', bottom['mean'])})")


def plot_arpu(firm_metrics: pd.DataFrame, lines: list[str], by: str, colours: dict[str, str],
              step_unit: str, stem: Path, title: str, subset: str | None = None,
              labels: Mapping[str, str] | None = None, dashed: Sequence[str] = (),
              note: str = "") -> list[Path]:
    """ARPU over time, one line per arm (of one firm) or per firm (of one arm), with CI bands.

    Args:
        firm_metrics: the table of docs/design.md §4.
        lines: the arms or firms drawn, in legend order.
        by: ``"arm"`` (then ``subset`` names the firm) or ``"firm"`` (``subset`` names the arm).
        colours: one colour per line.
        step_unit: "month". stem: the path without suffix. title: the finding.
        subset: the firm (by arm) or arm (by firm) the lines belong to.
        labels: the arms' plain-language names.
        dashed: the lines drawn dashed (the references; default the first arm).
        note: a sentence added to the figure's note (which arms are left out).
    """
    dashed = set(dashed or (lines[:1] if by == "arm" else []))
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
    from matplotlib.ticker import LogLocator, NullFormatter

    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SLIDE_SIZE)
        for line, series in drawn.items():
            ax.plot(series.index, series["mean"], color=colours[line],
                    label=wrap_to(display_name(line, labels, capital=True), 3.2, 14),
                    linestyle="--" if line in dashed else "-")
            if n >= MIN_BAND_REPLICATIONS:
                low = series["ci_low"].clip(lower=0.01 * series["mean"]) if log \
                    else series["ci_low"]
                ax.fill_between(series.index, low, series["ci_high"], color=colours[line],
                                alpha=0.18, linewidth=0)
        if log:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(f"{step_unit}s")
        ax.set_ylabel(wrap_to(f"ARPU, {unit('arpu', step_unit)}"
                              + (" (log scale)" if log else ""), 5.0, 16))
        ax.yaxis.set_major_formatter(plt.FuncFormatter(tick_format("arpu")))
        size, columns = legend_layout(len(drawn))
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize=size,
                  ncol=columns)
        band = (f"band: 95% confidence interval over {n} replications"
                if n >= MIN_BAND_REPLICATIONS else
                f"{n} replication{'s' if n > 1 else ''}: too few for a useful confidence band")
        what = (f"{possessive(subset)} revenue per customer" if by == "arm"
                else "Revenue per customer")
        what = what[:1].upper() + what[1:]
        finish(fig, title,
               f"{what}: mean over replications; {band}. Revenue is GMV for a marketplace."
               + (f" {note}" if note else ""))
        return save(fig, Path(stem))
