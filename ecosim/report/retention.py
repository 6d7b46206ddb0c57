"""Retention curves by cohort: the share of a cohort's customers still with the firm, by age."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ecosim.report.labels import display_name
from ecosim.report.style import (
    PANEL_TITLE_SIZE,
    SLIDE_SIZE,
    STYLE,
    axes_width,
    finish,
    pyplot,
    relayout,
    save,
    side_legend,
    wrap_to,
)

#: Acquisition cohorts drawn besides the initial customers (cohort 0).
COHORTS_SHOWN = 3
COHORT_MARKERS = ("", "o", "s", "^", "D")


def _shade(colour: str, rank: int) -> tuple[float, float, float]:
    """The firm's colour for the first cohorts, mixed with more white for later ones."""
    from matplotlib.colors import to_rgb

    mix = (0.0, 0.0, 0.35, 0.6, 0.75)[min(rank, 4)]
    rgb = to_rgb(colour)
    return tuple(c + (1.0 - c) * mix for c in rgb)


def figure_cohorts(horizon: int) -> list[int]:
    """The cohorts the retention figure may draw (a report reads only these rows of the table).

    Cohort 0 (customers at the start), cohort 1 and two acquisition cohorts spread over the run.
    """
    return list(dict.fromkeys([0, 1] + [round(horizon * k / (COHORTS_SHOWN + 1))
                                        for k in (1, 2)]))


def pick_cohorts(cohort_retention: pd.DataFrame, horizon: int) -> list[int]:
    """Of ``figure_cohorts``, those present: up to three acquisition cohorts and cohort 0.

    Only cohorts with at least two ages observed are drawn: a curve needs two points.
    """
    wanted = figure_cohorts(horizon)
    present = set(cohort_retention.loc[cohort_retention["acquired"] > 0, "cohort"])
    chosen = [c for c in wanted if c in present and c <= horizon - 1]
    return chosen[:COHORTS_SHOWN + 1]


def pooled_retention(cohort_retention: pd.DataFrame, arm: str, firm: str,
                     cohort: int) -> pd.Series:
    """Alive fraction by age of one cohort, pooled over replications (sum alive / sum acquired)."""
    c = cohort_retention
    rows = c[(c["arm"] == arm) & (c["firm"] == firm) & (c["cohort"] == cohort)]
    sums = rows.groupby("age")[["alive", "acquired"]].sum()
    return (sums["alive"] / sums["acquired"].where(sums["acquired"] > 0)).dropna()


def _cohort_label(cohort: int, step_unit: str) -> str:
    return "customers at the start" if cohort == 0 else f"acquired in {step_unit} {cohort}"


def retention_finding(cohort_retention: pd.DataFrame, panels: list[tuple[str, str]],
                      step_unit: str, by_arm: bool,
                      labels: Mapping[str, str] | None = None) -> str:
    """The title: how much of its first acquired cohort each panel keeps, best and worst.

    ``labels``: the arms' plain-language names.
    """
    cohort = 1
    kept = {}
    for arm, firm in panels:
        curve = pooled_retention(cohort_retention, arm, firm, cohort)
        if len(curve) > 1:
            kept[(arm, firm)] = curve
    if not kept:
        return "Retention by cohort"
    age = min(int(curve.index.max()) for curve in kept.values())
    values = {key: float(curve.loc[age]) for key, curve in kept.items()}
    best = max(values, key=values.get)
    worst = min(values, key=values.get)
    what = f"of its {step_unit}-{cohort} customers for {age} {step_unit}s"
    if by_arm:
        firm = display_name(best[1])
        text = f"{firm} keeps {values[best]:.0%} {what} under {display_name(best[0], labels)}"
        return text + (f", {values[worst]:.0%} under {display_name(worst[0], labels)}"
                       if worst != best else "")
    text = f"{display_name(best[1])} keeps {values[best]:.0%} {what}"
    return text + (f", {display_name(worst[1])} {values[worst]:.0%}" if worst != best else "")


def plot_retention(cohort_retention: pd.DataFrame, panels: list[tuple[str, str]], horizon: int,
                   step_unit: str, colours: dict[str, str], stem: Path, by_arm: bool,
                   title: str | None = None, labels: Mapping[str, str] | None = None,
                   note: str = "") -> list[Path]:
    """One panel per (arm, firm), one line per cohort: the share still a customer, by age.

    Args:
        cohort_retention: the table of docs/design.md §4 (arm, replication, firm, cohort, age, ...).
        panels: (arm, firm) pairs, e.g. the focus firm in each arm, or the largest firms.
        horizon: the last step; step_unit: "month".
        colours: the colour of each panel's firm.
        stem: the path without suffix.
        by_arm: whether the panels differ by arm (titles name the arm) or by firm.
        title: the figure title; default: ``retention_finding``.
        labels: the arms' plain-language names.
        note: a sentence added to the figure's note (which arms are left out).
    """
    title = title or retention_finding(cohort_retention, panels, step_unit, by_arm, labels)
    cohorts = pick_cohorts(cohort_retention, horizon)
    cols = min(len(panels), 3) if len(panels) > 4 else len(panels)
    rows_n = math.ceil(len(panels) / cols)
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(rows_n, cols, figsize=SLIDE_SIZE, sharex=True, sharey=True,
                                 squeeze=False)
        for ax in axes.flat[len(panels):]:
            ax.set_visible(False)
        for ax, (arm, firm) in zip(axes.flat, panels, strict=False):
            for rank, cohort in enumerate(cohorts):
                curve = pooled_retention(cohort_retention, arm, firm, cohort)
                if len(curve) < 2:
                    continue
                ax.plot(curve.index, 100 * curve.to_numpy(), color=_shade(colours[firm], rank),
                        linestyle="--" if cohort == 0 else "-", marker=COHORT_MARKERS[rank],
                        markersize=6, markevery=max(len(curve) // 6, 1),
                        label=_cohort_label(cohort, step_unit))
            ax.set_ylim(0, 102)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        for ax in axes.flat[len(panels) - cols:len(panels)]:
            ax.xaxis.set_tick_params(labelbottom=True)  # the bottom panel of each column
            ax.set_xlabel(f"age ({step_unit}s)")
        fig.supylabel(wrap_to("still customers (% of the cohort)", 5.0, 16), fontsize=16)
        handles, names = _unique_legend(axes)
        side_legend(fig, handles, names, title="cohort")
        finish(fig, title,
               f"Age: {step_unit}s since the cohort was acquired. Pooled over replications "
               "(alive / acquired). A customer who leaves and comes "
               "back later counts as a new acquisition." + (f" {note}" if note else ""))
        for ax, (arm, firm) in zip(axes.flat, panels, strict=False):
            name = display_name(arm, labels, capital=True) if by_arm else display_name(
                firm, capital=True)
            ax.set_title(wrap_to(name, axes_width(ax) + 0.2, PANEL_TITLE_SIZE, "bold",
                                 max_lines=2), fontsize=PANEL_TITLE_SIZE)
        relayout(fig)
        return save(fig, Path(stem))


def _unique_legend(axes: object) -> tuple[list, list[str]]:
    seen: dict[str, object] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    return list(seen.values()), list(seen)
