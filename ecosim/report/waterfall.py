"""Waterfalls of an uplift: the Shapley split between factors, or each arm against the baseline.

The Shapley waterfall runs left to right, a few factors. The arms' waterfall is horizontal, one
row per arm (long names read on the left): each group's reference (grey, from 0) and every other
arm's paired difference to it, floating from the reference's level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ecosim.report.findings import (
    arm_effects,
    best_effect,
    factor_arms,
    kpi_mean,
    possessive,
    shapley_headline,
    shapley_shares,
)
from ecosim.report.kpi_bars import BETTER, NEUTRAL, WORSE, Group, group_effects
from ecosim.report.labels import (
    display_name,
    format_difference,
    format_value,
    is_better,
    kpi_info,
    tick_format,
    unit,
)
from ecosim.report.style import (
    BASELINE_COLOUR,
    SLIDE_SIZE,
    STYLE,
    apart_from_baseline,
    axes_width,
    finish,
    pyplot,
    relayout,
    save,
    wrap_to,
)

if TYPE_CHECKING:
    import matplotlib.pyplot as plt

UP, DOWN = "#548235", "#a50021"  # a step that is better / worse for the firm
#: Blank rows between two groups of arms.
GROUP_GAP = 0.8


def _draw(ax: plt.Axes, labels: list[str], bottoms: list[float], heights: list[float],
          colours: list[str], errors: list[tuple[float, float]], texts: list[str],
          cumulative: bool) -> None:
    """Floating bars with CI error bars (on the bar's top end) and a label each.

    ``cumulative``: dotted connectors from each bar's end to the next bar (a running total);
    otherwise one dotted line at the first bar's level (every step starts from it).
    """
    positions = np.arange(len(labels))
    ax.bar(positions, heights, bottom=bottoms, color=colours, width=0.6)
    for x, bottom, height, (low, high), text in zip(positions, bottoms, heights, errors, texts,
                                                    strict=True):
        end = bottom + height
        if math.isfinite(low) and math.isfinite(high):
            ax.errorbar(x, end, yerr=[[max(end - low, 0)], [max(high - end, 0)]], color="#333333",
                        capsize=8, elinewidth=2)
        top = max(end, bottom, high if math.isfinite(high) else end)
        ax.annotate(text, (x, top), xytext=(0, 6), textcoords="offset points", ha="center",
                    va="bottom", fontsize=14, fontweight="bold")
    if cumulative:
        for x in positions[:-1]:
            ax.plot([x + 0.3, x + 0.7], [bottoms[x] + heights[x]] * 2, color="#7f7f7f",
                    linewidth=1.5, linestyle=":")
    else:
        ax.axhline(bottoms[0] + heights[0], color="#7f7f7f", linewidth=1.5, linestyle=":")
    ax.set_xticks(positions, labels, fontsize=14)
    ax.axhline(0, color="#333333", linewidth=1)
    ax.grid(axis="x", visible=False)
    ax.margins(y=0.18)


def _fit_ticks(ax: plt.Axes, labels: list[str]) -> None:
    """Category names wrapped to the width of their slot (after a first layout)."""
    slot = 0.92 * axes_width(ax) / max(len(labels), 1)
    ax.set_xticks(range(len(labels)), [wrap_to(label, slot, 14) for label in labels])


def plot_shapley_waterfall(shapley: pd.DataFrame, summary: pd.DataFrame,
                           factors: dict[str, list[str]], firm: str, kpi: str, step_unit: str,
                           colour: str, stem: Path, title: str | None = None,
                           labels: Mapping[str, str] | None = None) -> list[Path]:
    """From the arm with no factor to the arm with all, one step per factor's Shapley value.

    Each step carries the 95% CI of the factor's contribution and its share of the uplift; a
    step is green when it is better for the firm, red when worse. ``labels``: the arms' and
    factors' plain-language names.
    """
    title = title or shapley_headline(shapley, firm, kpi, labels)
    empty, full = factor_arms(factors)
    start, end = kpi_mean(summary, empty, firm, kpi), kpi_mean(summary, full, firm, kpi)
    rows = shapley_shares(shapley, firm, kpi)
    names, bottoms, heights, colours, errors, texts = \
        [display_name(empty, labels, capital=True)], [0.0], [start], \
        [BASELINE_COLOUR], [(math.nan, math.nan)], [format_value(kpi, start)]
    level = start
    for r in rows.itertuples():
        names.append(f"+ {display_name(r.factor, labels)}")
        bottoms.append(level)
        heights.append(r.mean)
        good = is_better(kpi, r.mean)
        colours.append(colour if good is None else UP if good else DOWN)
        errors.append((level + r.ci_low, level + r.ci_high))
        share = f" ({100 * r.share_of_uplift:.0f}%)" if math.isfinite(r.share_of_uplift) else ""
        texts.append(format_difference(kpi, r.mean) + share)
        level += r.mean
    names.append(f"= {display_name(full, labels)}")
    bottoms.append(0.0)
    heights.append(end)
    colours.append(colour)
    errors.append((math.nan, math.nan))
    texts.append(format_value(kpi, end))
    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SLIDE_SIZE)
        _draw(ax, names, bottoms, heights, colours, errors, texts, cumulative=True)
        ax.set_ylabel(wrap_to(f"{possessive(firm)} {kpi_info(kpi).short} "
                              f"({unit(kpi, step_unit)})", 5.0, 16))
        ax.yaxis.set_major_formatter(plt.FuncFormatter(tick_format(kpi)))
        n = int(rows["n"].max()) if len(rows) else 0
        finish(fig, title,
               f"Shapley values: each factor's contribution averaged over the orders in which "
               f"the factors can be switched on, paired by replication; error bars: 95% CI "
               f"over {n} replications. Percentages: share of the total uplift. Green: better "
               f"for {display_name(firm)}, red: worse.")
        _fit_ticks(ax, names)
        relayout(fig)
        return save(fig, Path(stem))


def arm_waterfall_finding(summary: pd.DataFrame, firm: str, kpi: str, arms: list[str],
                          groups: Sequence[Group] | None = None,
                          labels: Mapping[str, str] | None = None) -> str:
    """The title: the arm with the best paired difference against its reference.

    ``groups``: the groups compared (``kpi_bars.compared``; default one group of ``arms``
    against the first); ``labels``: the arms' plain-language names.
    """
    groups = groups or [(arms, summary)]
    pairs = group_effects(groups, firm, kpi)
    effects = [effect for effect, _ in pairs]
    best = best_effect(effects)
    short = kpi_info(kpi).short
    single = len(groups) == 1
    against = display_name(groups[0][0][0], labels) if single else "its reference"
    if best is None or best.better is False:
        return f"No arm beats {against} on {possessive(firm)} {short}"
    reference = next(ref for effect, ref in pairs if effect is best)
    clear = sum(e.excludes_zero for e in effects)
    what = "arms move" if single else "comparisons move"
    return (f"{clear} of {len(effects)} {what} {possessive(firm)} {short} beyond noise; "
            f"{display_name(best.arm, labels)} most ({format_difference(kpi, best.diff)} vs "
            f"{display_name(reference, labels)})")


def _arm_rows(groups: Sequence[Group], firm: str, kpi: str, colour: str,
              labels: Mapping[str, str] | None) -> list[dict]:
    """One row per bar, top to bottom: each group's reference, then its arms' differences."""
    rows, y = [], 0.0
    for g, (group, summary) in enumerate(groups):
        if g:
            y += GROUP_GAP
        start = kpi_mean(summary, group[0], firm, kpi)
        rows.append({"y": y, "name": display_name(group[0], labels, capital=True), "left": 0.0,
                     "width": start if math.isfinite(start) else 0.0, "colour": BASELINE_COLOUR,
                     "low": math.nan, "high": math.nan, "text": format_value(kpi, start),
                     "text_colour": NEUTRAL, "bold": False, "level": start, "reference": True})
        y += 1.0
        for e in arm_effects(summary, firm, kpi, group):
            good = e.better
            diff = e.diff if math.isfinite(e.diff) else 0.0
            rows.append({
                "y": y, "name": display_name(e.arm, labels, capital=True), "left": start,
                "width": diff, "colour": colour if good is None else UP if good else DOWN,
                "low": start + e.low, "high": start + e.high,
                "text": format_difference(kpi, e.diff) + ("*" if e.excludes_zero else ""),
                "text_colour": NEUTRAL if good is None else BETTER if good else WORSE,
                "bold": e.excludes_zero, "level": start, "reference": False})
            y += 1.0
    return rows


def plot_arm_waterfall(summary: pd.DataFrame, firm: str, kpi: str, arms: list[str],
                       step_unit: str, colour: str, stem: Path,
                       title: str | None = None, groups: Sequence[Group] | None = None,
                       labels: Mapping[str, str] | None = None) -> list[Path]:
    """Each group's reference value, then each arm's paired difference floating from it.

    Horizontal: one row per arm, 95% CIs on the differences, the number right of the panel
    (green: better for the firm, red: worse, grey: no good direction; * its CI excludes 0).

    Args:
        summary, arms: the run's summary and arms (one group against the first arm), used when
            ``groups`` is not given.
        firm, kpi: what is shown. step_unit: "month". colour: the firm's colour (differences of
            a KPI without a good direction). stem: the path without suffix.
        title: the finding; default ``arm_waterfall_finding``.
        groups: the groups compared, each with its summary (``kpi_bars.compared``).
        labels: the arms' plain-language names.
    """
    groups = list(groups or [(arms, summary)])
    title = title or arm_waterfall_finding(summary, firm, kpi, arms, groups, labels)
    rows = _arm_rows(groups, firm, kpi, apart_from_baseline(colour), labels)
    span = rows[-1]["y"] + 1.0
    size = float(max(8.0, min(14.0, 4.6 / span * 72 / 1.3)))
    names = [wrap_to(r["name"], 3.6, size, max_lines=2 if span * 0.3 < 4.6 else 1) for r in rows]
    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SLIDE_SIZE)
        ys = [r["y"] for r in rows]
        ax.barh(ys, [r["width"] for r in rows], left=[r["left"] for r in rows], height=0.62,
                color=[r["colour"] for r in rows])
        column = ax.get_yaxis_transform()
        for r in rows:
            if math.isfinite(r["low"]) and math.isfinite(r["high"]):
                end = r["left"] + r["width"]
                ax.errorbar(end, r["y"], xerr=[[max(end - r["low"], 0)],
                                               [max(r["high"] - end, 0)]],
                            color="#333333", capsize=5, elinewidth=1.8)
            ax.text(1.01, r["y"], r["text"], transform=column, ha="left", va="center",
                    fontsize=size, color=r["text_colour"],
                    fontweight="bold" if r["bold"] or r["reference"] else "normal")
        for g in range(len(groups)):  # each group's reference level, over its rows
            members = _group_rows(rows, g)
            level = members[0]["level"]
            if math.isfinite(level):
                ax.plot([level, level], [members[0]["y"] - 0.45, members[-1]["y"] + 0.45],
                        color="#7f7f7f", linewidth=1.5, linestyle=":")
        ax.set_yticks(ys, names, fontsize=size)
        ax.set_ylim(ys[-1] + 0.6, ys[0] - 0.6)
        ax.axvline(0, color="#333333", linewidth=1)
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.05)
        ax.set_xlabel(f"{possessive(firm)} {kpi_info(kpi).short} ({unit(kpi, step_unit)})")
        ax.xaxis.set_major_formatter(plt.FuncFormatter(tick_format(kpi)))
        n = max((e.n for e, _ in group_effects(groups, firm, kpi)), default=0)
        references = [display_name(group[0], labels) for group, _ in groups]
        against = ("its group's reference (the grey bar that heads the group)" if len(groups) > 1
                   else f"{references[0]} (grey)")
        finish(fig, title,
               f"Each arm's difference to {against} is paired by replication (common random "
               f"numbers) and floats from the reference's level (dotted); error bars: its 95% "
               f"CI over {n} replications; * the CI excludes 0. Green: better for "
               f"{display_name(firm)}, red: worse.")
        return save(fig, Path(stem))


def _group_rows(rows: list[dict], g: int) -> list[dict]:
    """The rows of the g-th group (a group starts at each reference)."""
    starts = [i for i, r in enumerate(rows) if r["reference"]]
    end = starts[g + 1] if g + 1 < len(starts) else len(rows)
    return rows[starts[g]:end]
