"""Market share by need at the horizon: one stacked bar per need, one segment per firm."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ecosim.report.findings import best_effect, possessive
from ecosim.report.kpi_bars import compared, group_effects
from ecosim.report.labels import display_name
from ecosim.report.style import (
    SLIDE_SIZE,
    STYLE,
    axes_width,
    finish,
    legend_layout,
    pyplot,
    relayout,
    save,
    side_legend,
    text_colour_on,
    text_width,
    wrap_to,
)

if TYPE_CHECKING:
    import matplotlib.pyplot as plt

#: Segments narrower than this share get no percentage written on them.
LABEL_MIN_SHARE = 0.08
#: Font size (points) of the percentages written on the segments.
SHARE_SIZE = 12


def shares_at_horizon(unit_metrics: pd.DataFrame, arm: str) -> pd.DataFrame:
    """Market share (customers, in [0, 1]) per need (rows) and firm (columns) at the last step.

    Averaged over replications; needs nobody serves are dropped.
    """
    last = unit_metrics["step"].max()
    rows = unit_metrics[(unit_metrics["arm"] == arm) & (unit_metrics["step"] == last)]
    table = rows.groupby(["need", "firm"], sort=False)["market_share"].mean().unstack("firm")
    table = table.fillna(0.0)
    return table[table.sum(axis=1) > 0]


def compared_arms(data: Any, kpi: str) -> list[str]:
    """The arms the figure sets side by side: a reference and the arm that beats it most.

    With ``experiment.compare``: the first group's reference and its best arm for the focus
    firm on ``kpi`` (its last arm when none beats the reference); else the baseline and the best
    arm overall (the last arm when none beats it). A run without arms: its one arm.
    """
    if not data.is_experiment:
        return data.arms[:1]
    group, summary = compared(data, data.focus_firm)[0]
    best = best_effect([e for e, _ in group_effects([(group, summary)], data.focus_firm, kpi)])
    winner = best.arm if best is not None and best.better is not False else group[-1]
    return [group[0], winner]


def market_share_finding(unit_metrics: pd.DataFrame, arms: list[str], focus_firm: str,
                         labels: Mapping[str, str] | None = None) -> str:
    """The title: where the focus firm's share moves most between the first and last arm.

    With one arm: the firm that leads the most needs. ``labels``: the arms' plain-language names.
    """
    first = shares_at_horizon(unit_metrics, arms[0])
    if len(arms) > 1 and focus_firm in first.columns:
        last = shares_at_horizon(unit_metrics, arms[-1]).reindex_like(first).fillna(0.0)
        change = last[focus_firm] - first[focus_firm]
        need = change.abs().idxmax()
        if abs(change[need]) >= 0.005:
            verb = "rises" if change[need] > 0 else "falls"
            return (f"Under {display_name(arms[-1], labels)}, {possessive(focus_firm)} share of "
                    f"{display_name(need)} {verb} from {first.at[need, focus_firm]:.0%} to "
                    f"{last.at[need, focus_firm]:.0%}")
        return (f"{possessive(focus_firm)} market shares barely move between "
                f"{display_name(arms[0], labels)} and {display_name(arms[-1], labels)}")
    if first.empty:
        return "Nobody serves any need at the horizon"
    leaders = first.idxmax(axis=1)
    firm = leaders.value_counts().idxmax()
    need = first[firm].idxmax()
    return (f"{display_name(firm)} leads {int((leaders == firm).sum())} of {len(first)} needs, "
            f"with {first.at[need, firm]:.0%} of {display_name(need)}")


def plot_market_share(unit_metrics: pd.DataFrame, arms: list[str], firms: list[str],
                      colours: dict[str, str], step_unit: str, stem: Path,
                      title: str | None = None, focus_firm: str | None = None,
                      labels: Mapping[str, str] | None = None) -> list[Path]:
    """Stacked horizontal bars of market share per need at the horizon, one panel per arm.

    Args:
        unit_metrics: the table of docs/design.md §4.
        arms: the arms shown (one panel each; two at most reads well).
        firms: every firm in config order (the order of the segments and the colours).
        colours: one colour per firm. step_unit: "month". stem: the path without suffix.
        title: the finding; default ``market_share_finding``.
        focus_firm: the firm whose share the default title follows.
        labels: the arms' plain-language names.
    """
    title = title or market_share_finding(unit_metrics, arms, focus_firm or firms[0], labels)
    tables = {arm: shares_at_horizon(unit_metrics, arm) for arm in arms}
    needs = list(dict.fromkeys(n for t in tables.values() for n in t.index))
    present = [f for f in firms if any(f in t.columns and t[f].sum() > 0 for t in tables.values())]
    last = int(unit_metrics["step"].max())
    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(arms), figsize=SLIDE_SIZE, sharey=True, squeeze=False)
        positions = np.arange(len(needs))[::-1]
        for ax, arm in zip(axes.flat, arms, strict=True):
            table = tables[arm].reindex(index=needs, columns=present).fillna(0.0)
            left = np.zeros(len(needs))
            for firm in present:
                share = table[firm].to_numpy()
                ax.barh(positions, 100 * share, left=100 * left, color=colours[firm],
                        label=display_name(firm, capital=True), edgecolor="white",
                        linewidth=0.8)
                left += share
            ax.set_yticks(positions, [display_name(need, capital=True) for need in needs])
            ax.set_xlim(0, 100)
            ax.set_xlabel("share of the need's customers (%)")
            ax.grid(axis="y", visible=False)
        size, columns = legend_layout(len(present))
        side_legend(fig, *axes[0, 0].get_legend_handles_labels(), fontsize=size, ncol=columns)
        n = int(unit_metrics["replication"].nunique())
        finish(fig, title,
               f"At {step_unit} {last}, mean over {n} replication{'s' if n > 1 else ''}; "
               "customers served by each firm / all customers served for the need. Shares too "
               "narrow for their number are not written.")
        if len(arms) > 1:
            for ax, arm in zip(axes.flat, arms, strict=True):
                ax.set_title(wrap_to(display_name(arm, labels, capital=True),
                                     axes_width(ax), 18, "bold"), fontsize=18)
            relayout(fig)
        for ax, arm in zip(axes.flat, arms, strict=True):
            _write_shares(ax, tables[arm].reindex(index=needs, columns=present).fillna(0.0),
                          positions, colours)
        return save(fig, Path(stem))


def _write_shares(ax: plt.Axes, table: pd.DataFrame, positions: np.ndarray,
                  colours: dict[str, str]) -> None:
    """Each share on its segment, where the segment is wide enough for the number."""
    inch_per_percent = axes_width(ax) / 100
    left = np.zeros(len(table))
    for firm in table.columns:
        share = table[firm].to_numpy()
        for y, s, x0 in zip(positions, share, left, strict=True):
            text = f"{s:.0%}"
            room = 100 * s * inch_per_percent
            if s >= LABEL_MIN_SHARE and text_width(text, SHARE_SIZE, "bold") + 0.06 < room:
                ax.text(100 * (x0 + s / 2), y, text, ha="center", va="center",
                        color=text_colour_on(colours[firm]), fontsize=SHARE_SIZE,
                        fontweight="bold")
        left += share
