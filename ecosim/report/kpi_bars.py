"""KPI bars with 95% confidence intervals: arms side by side for one firm, or firms side by side.

Bars are horizontal, one row per arm (or firm), so long names read on the left; a column right of
each panel gives the numbers. Arms can be compared in groups (``experiment.compare``): each group
has its own reference (its first arm, grey) and every other arm's paired difference is taken
against it, replication by replication.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ecosim.metrics.summary import experiment_summary
from ecosim.report.findings import (
    Effect,
    arm_effects,
    best_effect,
    describe_interval,
    effect_headline,
    possessive,
)
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
    PANEL_TITLE_SIZE,
    SLIDE_SIZE,
    STYLE,
    apart_from_baseline,
    axes_width,
    finish,
    pyplot,
    relayout,
    save,
    thin_ticks,
    wrap_title,
    wrap_to,
)

if TYPE_CHECKING:
    import matplotlib.pyplot as plt

#: Text colours of a difference: better for the firm, worse, no good direction.
BETTER, WORSE, NEUTRAL = "#2e7d32", "#b71c1c", "#404040"
#: Blank rows between two groups of arms.
GROUP_GAP = 0.8
#: Widest arm or firm name on the left (inches) before it is wrapped.
NAME_WIDTH = 3.0

#: A group of arms compared with its first arm, and its summary (differences to that arm).
Group = tuple[list[str], pd.DataFrame]


def compare_groups(arms: Sequence[str], compare: Sequence[Sequence[str]]) -> list[list[str]]:
    """The groups of arms a figure compares.

    ``experiment.compare`` (the arms the run has), else one group of every arm, baseline first.
    """
    groups = [[arm for arm in group if arm in arms] for group in compare]
    groups = [group for group in groups if len(group) > 1]
    return groups or [list(arms)]


def group_summary(kpis: pd.DataFrame, group: Sequence[str], firm: str | None = None
                  ) -> pd.DataFrame:
    """The summary of a group's arms with paired differences to the group's first arm.

    The same table as ``experiment_summary`` (mean, 95% CI, and the mean and 95% t interval of
    ``kpi(arm, r) - kpi(reference, r)`` over replications r), restricted to ``firm`` if given.
    """
    rows = kpis[kpis["arm"].isin(group)]
    if firm is not None:
        rows = rows[rows["firm"] == firm]
    return experiment_summary(rows, baseline=group[0])


def compared(data: Any, firm: str | None = None) -> list[Group]:
    """The groups a run's figures compare, each with its summary.

    Without ``experiment.compare``: every arm against the baseline, from the run's summary.
    """
    arms, compare = data.arms, list(data.experiment.compare or [])
    if not compare:
        return [(list(arms), data.summary)]
    return [(group, group_summary(data.kpis, group, firm))
            for group in compare_groups(arms, compare)]


def group_effects(groups: Sequence[Group], firm: str, kpi: str) -> list[tuple[Effect, str]]:
    """Every non-reference arm's effect on ``kpi`` of ``firm``, with its group's reference."""
    return [(effect, group[0]) for group, summary in groups
            for effect in arm_effects(summary, firm, kpi, group)]


def shown_arms(data: Any, kpi: str, limit: int) -> tuple[list[str], list[str], str]:
    """The arms a figure with a line or a panel per arm shows, at most ``limit``.

    The compared arms (every arm without ``experiment.compare``); beyond ``limit``, the first
    reference and the arms that move the focus firm's ``kpi`` most against their references,
    with those references.

    Returns:
        The arms in the order of the comparison, the groups' references among them, and a
        sentence for the figure's note saying which arms are left out ("" if none).
    """
    firm = data.focus_firm
    groups = compared(data, firm)
    arms = list(dict.fromkeys(arm for group, _ in groups for arm in group))
    references = list(dict.fromkeys(group[0] for group, _ in groups))
    if len(arms) <= limit:
        return arms, references, ""
    ranked = sorted(group_effects(groups, firm, kpi),
                    key=lambda pair: -abs(pair[0].diff) if math.isfinite(pair[0].diff) else 0)
    keep = [references[0]]
    for effect, reference in ranked:
        wanted = [a for a in (reference, effect.arm) if a not in keep]
        if len(keep) + len(wanted) <= limit:
            keep += wanted
    shown = [arm for arm in arms if arm in keep]
    note = (f"Shown: {len(shown)} of {len(arms)} arms, those that move "
            f"{possessive(firm)} {kpi_info(kpi).short} most, with their references.")
    return shown, [r for r in references if r in shown], note


def _grid(panels: int, rows: float) -> tuple[int, int]:
    """Rows and columns of panels on a 16:9 slide, for bars of ``rows`` rows each."""
    if panels <= 3:
        return 1, panels
    if panels == 4 and rows > 8:
        return 1, 4
    return 2, math.ceil(panels / 2)


def _sample_note(n: int, horizon_text: str) -> str:
    if n < 2:
        return f"{horizon_text}. One replication: no confidence interval."
    return (f"{horizon_text}. Mean over {n} replications; error bars: 95% confidence interval "
            f"(t interval).")


def _errors(rows: pd.DataFrame) -> np.ndarray | None:
    """Error-bar lengths below and above the mean; None when no CI is defined (no caps drawn)."""
    if not np.isfinite(rows["ci_low"].to_numpy(float)).any():
        return None
    low = (rows["mean"] - rows["ci_low"]).fillna(0.0).clip(lower=0.0)
    high = (rows["ci_high"] - rows["mean"]).fillna(0.0).clip(lower=0.0)
    return np.vstack([low.to_numpy(), high.to_numpy()])


def kpi_bars_finding(summary: pd.DataFrame, firm: str, kpi: str, arms: list[str],
                     groups: Sequence[Group] | None = None,
                     labels: Mapping[str, str] | None = None) -> str:
    """The title: the arm that moves the headline KPI most against its reference, with its CI.

    Args:
        summary, arms: the run's summary and arms (one group, the baseline first), used when
            ``groups`` is not given.
        firm, kpi: the firm and the headline KPI.
        groups: the groups compared (``compared``).
        labels: the arms' plain-language names.
    """
    groups = groups or [(arms, summary)]
    pairs = group_effects(groups, firm, kpi)
    best = best_effect([effect for effect, _ in pairs])
    short = kpi_info(kpi).short
    if best is None:
        return f"{possessive(firm)} {short} by arm"
    reference = next(ref for effect, ref in pairs if effect is best)
    if best.better is False:
        against = (display_name(groups[0][0][0], labels) if len(groups) == 1
                   else "its reference")
        return f"No arm beats {against} on {possessive(firm)} {short}"
    return f"{effect_headline(best, reference, labels)} {describe_interval(best)}"


@dataclass(frozen=True)
class _Row:
    """One bar: its arm (or firm), label, position and whether it is a group's reference."""

    key: str
    label: str
    y: float
    reference: bool
    group: int


def _rows(groups: Sequence[Sequence[str]], labels: Mapping[str, str] | None) -> list[_Row]:
    rows, y = [], 0.0
    for g, group in enumerate(groups):
        if g:
            y += GROUP_GAP
        for i, key in enumerate(group):
            rows.append(_Row(key, display_name(key, labels, capital=True), y, i == 0, g))
            y += 1.0
    return rows


def _row_size(rows: list[_Row], panel_height: float, names: list[str]) -> float:
    """The font size (points) of names and numbers that lets each row hold its name."""
    lines = max((name.count("\n") + 1 for name in names), default=1)
    span = rows[-1].y + 1.0 if rows else 1.0
    per_row = panel_height / span  # inches
    return float(max(7.0, min(14.0, per_row * 72 / (1.3 * lines))))


def _panel_height(panel_rows: int, title_lines: int) -> float:
    """The height (inches) of one panel's plotting area.

    What the title, the note, panel titles, tick labels and units leave of the slide.
    """
    free = SLIDE_SIZE[1] - 0.75 - 0.42 * title_lines
    return (free - panel_rows * 1.35) / panel_rows


def _draw_panel(ax: plt.Axes, rows: list[_Row], table: pd.DataFrame,
                colours: list[str], texts: list[tuple[str, str, bool]], kpi: str,
                step_unit: str, size: float) -> None:
    """Horizontal bars with 95% CIs and, right of the panel, one number per row."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    from matplotlib.transforms import blended_transform_factory

    ys = [row.y for row in rows]
    ax.barh(ys, table["mean"].fillna(0.0).to_numpy(), height=0.72, color=colours,
            xerr=_errors(table), capsize=3, error_kw={"elinewidth": 1.5})
    column = blended_transform_factory(ax.transAxes, ax.transData)
    for y, (text, colour, bold) in zip(ys, texts, strict=True):
        ax.text(1.03, y, text, transform=column, ha="left", va="center", fontsize=size,
                color=colour, fontweight="bold" if bold else "normal")
    ax.axvline(0, color="#333333", linewidth=1)
    ax.set_ylim(ys[-1] + 0.6, ys[0] - 0.6)
    ax.grid(axis="y", visible=False)
    ax.tick_params(axis="x", labelsize=12)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=3))
    ax.xaxis.set_major_formatter(FuncFormatter(tick_format(kpi)))
    ax.set_xlabel(unit(kpi, step_unit), fontsize=12)


def _fit_panel_texts(fig: plt.Figure, axes: list[plt.Axes], titles: list[str],
                     xlabels: list[str]) -> None:
    """Panel titles and unit labels wrapped to the panel's width (after a first layout)."""
    for ax, title, xlabel in zip(axes, titles, xlabels, strict=True):
        width = axes_width(ax) + 0.8
        ax.set_title(wrap_to(title, width, PANEL_TITLE_SIZE, "bold"), fontsize=PANEL_TITLE_SIZE)
        ax.set_xlabel(wrap_to(xlabel, width, 12, max_lines=2), fontsize=12)


def _hbar_figure(rows: list[_Row], kpis: list[str], tables: dict[str, pd.DataFrame],
                 colours: dict[str, list[str]], texts: dict[str, list[tuple[str, str, bool]]],
                 step_unit: str, title: str, note: str) -> plt.Figure:
    """The panels of horizontal bars, one per KPI, sharing the names on the left."""
    span = rows[-1].y + 1.0
    panel_rows, cols = _grid(len(kpis), span)
    title_lines = wrap_title(title).count("\n") + 1
    height = _panel_height(panel_rows, title_lines)
    names = [wrap_to(row.label, NAME_WIDTH, 13, max_lines=2) for row in rows]
    size = _row_size(rows, height, names)
    if size < 9 and panel_rows > 1:  # too many rows for two rows of panels: one row, fewer KPIs
        panel_rows, cols = 1, min(len(kpis), 4)
        if cols < len(kpis):
            note += (f" The first {cols} of {len(kpis)} KPIs: too many rows for two rows of "
                     f"panels.")
        kpis = kpis[:cols]
        size = _row_size(rows, _panel_height(1, title_lines), names)
    names = [wrap_to(row.label, NAME_WIDTH, size, max_lines=2) for row in rows]
    fig, grid = pyplot().subplots(panel_rows, cols, figsize=SLIDE_SIZE, sharey=True, squeeze=False)
    axes = list(grid.flat)
    for ax in axes[len(kpis):]:
        ax.set_visible(False)
    for ax, kpi in zip(axes, kpis, strict=False):
        _draw_panel(ax, rows, tables[kpi], colours[kpi], texts[kpi], kpi, step_unit, size)
    for ax in grid[:, 0]:
        ax.set_yticks([row.y for row in rows], names, fontsize=size)
    used = axes[:len(kpis)]
    for ax in used:  # a hidden panel's neighbour above needs its x ticks back
        ax.xaxis.set_tick_params(labelbottom=True)
    finish(fig, title, note)
    _fit_panel_texts(fig, used, [kpi_info(k).short for k in kpis],
                     [unit(k, step_unit) for k in kpis])
    relayout(fig)
    thin_ticks(fig, used, nbins=3)
    return fig


def _difference_text(kpi: str, effect: Effect | None, mean: float) -> tuple[str, str, bool]:
    """The number right of a bar: the reference's mean, else the paired difference to it.

    Coloured by whether it is better for the firm, bold when its CI excludes 0.
    """
    if effect is None or not math.isfinite(effect.diff):
        return format_value(kpi, mean), NEUTRAL, False
    good = is_better(kpi, effect.diff)
    colour = NEUTRAL if good is None else BETTER if good else WORSE
    return format_difference(kpi, effect.diff), colour, effect.excludes_zero


def plot_kpi_bars(summary: pd.DataFrame, firm: str, kpis: list[str], arms: list[str],
                  step_unit: str, colour: str, stem: Path, horizon: int,
                  title: str | None = None, groups: Sequence[Group] | None = None,
                  labels: Mapping[str, str] | None = None) -> list[Path]:
    """One panel per KPI, one bar per arm (each group's reference grey), 95% CI error bars.

    Right of each panel: the reference's mean, and each other arm's paired difference to its
    group's reference (green: better for the firm, red: worse, grey: no good direction; bold
    when its 95% CI excludes 0). Writes ``stem.png`` and ``stem.svg``.

    Args:
        summary, arms: the run's summary and arms, one group against the baseline, used when
            ``groups`` is not given.
        firm: the firm shown. kpis: one panel each. step_unit: "month".
        colour: the firm's colour (the bars of the arms that are not a reference).
        stem: the path without suffix. horizon: the last step.
        title: the finding; default ``kpi_bars_finding``.
        groups: the groups compared, each with its summary (``compared``).
        labels: the arms' plain-language names.
    """
    groups = list(groups or [(arms, summary)])
    title = title or kpi_bars_finding(summary, firm, kpis[0], arms, groups, labels)
    colour = apart_from_baseline(colour)
    rows = _rows([group for group, _ in groups], labels)
    tables, colours, texts = {}, {}, {}
    for kpi in kpis:
        frames, colours[kpi], texts[kpi] = [], [], []
        for g, (group, table) in enumerate(groups):
            effects = {e.arm: e for e in arm_effects(table, firm, kpi, group)}
            means = (table[(table["firm"] == firm) & (table["kpi"] == kpi)]
                     .set_index("arm").reindex(group))
            frames.append(means)
            for row in (r for r in rows if r.group == g):
                colours[kpi].append(BASELINE_COLOUR if row.reference else colour)
                texts[kpi].append(_difference_text(kpi, None if row.reference
                                                   else effects.get(row.key),
                                                   means.at[row.key, "mean"]))
        tables[kpi] = pd.concat(frames)
    n = int(max(table["n"].max() for _, table in groups))
    references = [display_name(group[0], labels) for group, _ in groups]
    against = ("its group's reference (the grey bar that heads the group)" if len(groups) > 1
               else f"{references[0]} (grey)")
    note = (_sample_note(n, f"Values for {display_name(firm)} at {step_unit} {horizon}")
            + f" Right of each panel: the mean of the reference, and each arm's difference to "
            f"{against}, paired by replication; green: better for {display_name(firm)}, red: "
            f"worse; bold: its 95% CI excludes 0.")
    with pyplot().rc_context(STYLE):
        fig = _hbar_figure(rows, kpis, tables, colours, texts, step_unit, title, note)
        return save(fig, Path(stem))


def firm_kpis_finding(summary: pd.DataFrame, firms: list[str], kpi: str, arm: str,
                      step_unit: str) -> str:
    """The title of a firm comparison: the best firm on the headline KPI, and its value."""
    rows = summary[(summary["arm"] == arm) & (summary["kpi"] == kpi) & summary["firm"].isin(firms)]
    rows = rows.dropna(subset=["mean"])
    info = kpi_info(kpi)
    if rows.empty:
        return f"{info.short} by firm"
    best = rows.sort_values("mean", ascending=info.higher_is_better is False).iloc[0]
    word = "lowest" if info.higher_is_better is False else "highest"
    return (f"{display_name(best['firm'])} has the {word} {info.short} of {len(rows)} firms: "
            f"{format_value(kpi, best['mean'])} {unit(kpi, step_unit)}")


def plot_firm_kpis(summary: pd.DataFrame, firms: list[str], kpis: list[str], arm: str,
                   step_unit: str, colours: dict[str, str], stem: Path, horizon: int,
                   title: str | None = None) -> list[Path]:
    """One panel per KPI (four at most), one bar per firm (firm colours), with 95% CIs.

    Each firm's mean is written right of the panel.
    """
    title = title or firm_kpis_finding(summary, firms, kpis[0], arm, step_unit)
    panels = kpis[:4]
    rows = _rows([firms], None)
    tables, bar_colours, texts = {}, {}, {}
    for kpi in panels:
        table = (summary[(summary["arm"] == arm) & (summary["kpi"] == kpi)]
                 .set_index("firm").reindex(firms))
        tables[kpi] = table
        bar_colours[kpi] = [colours[f] for f in firms]
        texts[kpi] = [(format_value(kpi, m), NEUTRAL, False) for m in table["mean"]]
    n = int(summary["n"].max())
    with pyplot().rc_context(STYLE):
        fig = _hbar_figure(rows, panels, tables, bar_colours, texts, step_unit, title,
                           _sample_note(n, f"At {step_unit} {horizon}")
                           + " Right of each panel: each firm's mean.")
        return save(fig, Path(stem))
