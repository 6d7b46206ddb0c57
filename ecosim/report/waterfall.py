"""Waterfalls of an uplift: the Shapley split between factors, or each arm against the baseline."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
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
from ecosim.report.labels import format_difference, format_value, kpi_info, tick_format, unit
from ecosim.report.style import BASELINE_COLOUR, SLIDE_SIZE, STYLE, finish, save

UP, DOWN = "#548235", "#a50021"  # a step that raises / lowers the KPI


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
    ax.set_xticks(positions, labels)
    ax.axhline(0, color="#333333", linewidth=1)
    ax.grid(axis="x", visible=False)
    ax.margins(y=0.18)


def plot_shapley_waterfall(shapley: pd.DataFrame, summary: pd.DataFrame,
                           factors: dict[str, list[str]], firm: str, kpi: str, step_unit: str,
                           colour: str, stem: Path, title: str | None = None) -> list[Path]:
    """From the arm with no factor to the arm with all, one step per factor's Shapley value.

    Each step carries the 95% CI of the factor's contribution and its share of the uplift.
    """
    title = title or shapley_headline(shapley, firm, kpi)
    empty, full = factor_arms(factors)
    start, end = kpi_mean(summary, empty, firm, kpi), kpi_mean(summary, full, firm, kpi)
    rows = shapley_shares(shapley, firm, kpi)
    labels, bottoms, heights, colours, errors, texts = [empty], [0.0], [start], \
        [BASELINE_COLOUR], [(math.nan, math.nan)], [format_value(kpi, start)]
    level = start
    for r in rows.itertuples():
        labels.append(f"+ {r.factor}")
        bottoms.append(level)
        heights.append(r.mean)
        colours.append(UP if r.mean >= 0 else DOWN)
        errors.append((level + r.ci_low, level + r.ci_high))
        share = f" ({100 * r.share_of_uplift:.0f}%)" if math.isfinite(r.share_of_uplift) else ""
        texts.append(format_difference(kpi, r.mean) + share)
        level += r.mean
    labels.append(f"= {full}")
    bottoms.append(0.0)
    heights.append(end)
    colours.append(colour)
    errors.append((math.nan, math.nan))
    texts.append(format_value(kpi, end))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SLIDE_SIZE)
        _draw(ax, labels, bottoms, heights, colours, errors, texts, cumulative=True)
        ax.set_ylabel(f"{possessive(firm)} {kpi_info(kpi).short} ({unit(kpi, step_unit)})")
        ax.yaxis.set_major_formatter(plt.FuncFormatter(tick_format(kpi)))
        n = int(rows["n"].max()) if len(rows) else 0
        finish(fig, title,
               f"Shapley values: each factor's contribution averaged over the orders in which "
               f"the factors can be switched on, paired by replication; error bars: 95% CI "
               f"over {n} replications. Percentages: share of the total uplift.")
        return save(fig, Path(stem))


def arm_waterfall_finding(summary: pd.DataFrame, firm: str, kpi: str, arms: list[str]) -> str:
    """The title: the arm with the best paired difference against the baseline."""
    effects = arm_effects(summary, firm, kpi, arms)
    best = best_effect(effects)
    short = kpi_info(kpi).short
    if best is None or best.better is False:
        return f"No arm beats {arms[0]} on {possessive(firm)} {short}"
    clear = sum(e.excludes_zero for e in effects)
    return (f"{clear} of {len(effects)} arms move {possessive(firm)} {short} beyond noise; "
            f"{best.arm} most ({format_difference(kpi, best.diff)} vs {arms[0]})")


def plot_arm_waterfall(summary: pd.DataFrame, firm: str, kpi: str, arms: list[str],
                       step_unit: str, colour: str, stem: Path,
                       title: str | None = None) -> list[Path]:
    """The baseline's value, then each arm's paired difference floating from it, with 95% CIs."""
    title = title or arm_waterfall_finding(summary, firm, kpi, arms)
    start = kpi_mean(summary, arms[0], firm, kpi)
    effects = arm_effects(summary, firm, kpi, arms)
    labels, bottoms, heights = [arms[0]], [0.0], [start]
    colours, errors, texts = [BASELINE_COLOUR], [(math.nan, math.nan)], [format_value(kpi, start)]
    for e in effects:
        labels.append(f"{e.arm}\nvs {arms[0]}")
        bottoms.append(start)
        heights.append(e.diff if math.isfinite(e.diff) else 0.0)
        good = e.better
        colours.append(colour if good is None else UP if good else DOWN)
        errors.append((start + e.low, start + e.high))
        texts.append(format_difference(kpi, e.diff) + ("*" if e.excludes_zero else ""))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SLIDE_SIZE)
        _draw(ax, labels, bottoms, heights, colours, errors, texts, cumulative=False)
        ax.set_ylabel(f"{possessive(firm)} {kpi_info(kpi).short} ({unit(kpi, step_unit)})")
        ax.yaxis.set_major_formatter(plt.FuncFormatter(tick_format(kpi)))
        n = effects[0].n if effects else 0
        finish(fig, title,
               f"Each arm's difference to {arms[0]} is paired by replication (common random "
               f"numbers); error bars: its 95% CI over {n} replications; * the CI excludes 0. "
               f"Green: better for {firm}, red: worse.")
        return save(fig, Path(stem))
