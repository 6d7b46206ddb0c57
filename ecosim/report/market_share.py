"""Market share by need at the horizon: one stacked bar per need, one segment per firm."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ecosim.report.style import SLIDE_SIZE, STYLE, finish, save

#: Segments narrower than this share get no percentage written on them.
LABEL_MIN_SHARE = 0.08
#: Share of the figure's width kept for the legend of firms.
LEGEND_WIDTH = 0.17


def shares_at_horizon(unit_metrics: pd.DataFrame, arm: str) -> pd.DataFrame:
    """Market share (customers, in [0, 1]) per need (rows) and firm (columns) at the last step.

    Averaged over replications; needs nobody serves are dropped.
    """
    last = unit_metrics["step"].max()
    rows = unit_metrics[(unit_metrics["arm"] == arm) & (unit_metrics["step"] == last)]
    table = rows.groupby(["need", "firm"], sort=False)["market_share"].mean().unstack("firm")
    table = table.fillna(0.0)
    return table[table.sum(axis=1) > 0]


def market_share_finding(unit_metrics: pd.DataFrame, arms: list[str], focus_firm: str) -> str:
    """The title: where the focus firm's share moves most between the first and last arm.

    With one arm: the firm that leads the most needs.
    """
    first = shares_at_horizon(unit_metrics, arms[0])
    if len(arms) > 1 and focus_firm in first.columns:
        last = shares_at_horizon(unit_metrics, arms[-1]).reindex_like(first).fillna(0.0)
        change = last[focus_firm] - first[focus_firm]
        need = change.abs().idxmax()
        if abs(change[need]) >= 0.005:
            verb = "rises" if change[need] > 0 else "falls"
            return (f"Under {arms[-1]}, {focus_firm}'s share of {need} {verb} from "
                    f"{first.at[need, focus_firm]:.0%} to {last.at[need, focus_firm]:.0%}")
        return f"{focus_firm}'s market shares barely move between {arms[0]} and {arms[-1]}"
    if first.empty:
        return "Nobody serves any need at the horizon"
    leaders = first.idxmax(axis=1)
    firm = leaders.value_counts().idxmax()
    need = first[firm].idxmax()
    return (f"{firm} leads {int((leaders == firm).sum())} of {len(first)} needs, with "
            f"{first.at[need, firm]:.0%} of {need}")


def plot_market_share(unit_metrics: pd.DataFrame, arms: list[str], firms: list[str],
                      colours: dict[str, str], step_unit: str, stem: Path,
                      title: str | None = None, focus_firm: str | None = None) -> list[Path]:
    """Stacked horizontal bars of market share per need at the horizon, one panel per arm.

    Args:
        unit_metrics: the table of docs/design.md §4.
        arms: the arms shown (one panel each; two at most reads well).
        firms: every firm in config order (the order of the segments and the colours).
        colours: one colour per firm. step_unit: "month". stem: the path without suffix.
        title: the finding; default ``market_share_finding``.
        focus_firm: the firm whose share the default title follows.
    """
    title = title or market_share_finding(unit_metrics, arms, focus_firm or firms[0])
    tables = {arm: shares_at_horizon(unit_metrics, arm) for arm in arms}
    needs = list(dict.fromkeys(n for t in tables.values() for n in t.index))
    present = [f for f in firms if any(f in t.columns and t[f].sum() > 0 for t in tables.values())]
    last = int(unit_metrics["step"].max())
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(arms), figsize=SLIDE_SIZE, sharey=True, squeeze=False)
        positions = np.arange(len(needs))[::-1]
        for ax, arm in zip(axes.flat, arms, strict=True):
            table = tables[arm].reindex(index=needs, columns=present).fillna(0.0)
            left = np.zeros(len(needs))
            for firm in present:
                share = table[firm].to_numpy()
                ax.barh(positions, 100 * share, left=100 * left, color=colours[firm],
                        label=firm, edgecolor="white", linewidth=0.8)
                for y, s, x0 in zip(positions, share, left, strict=True):
                    if s >= LABEL_MIN_SHARE:
                        ax.text(100 * (x0 + s / 2), y, f"{s:.0%}", ha="center", va="center",
                                color="white", fontsize=12, fontweight="bold")
                left += share
            ax.set_yticks(positions, needs)
            ax.set_xlim(0, 100)
            ax.set_xlabel("share of the need's customers (%)")
            ax.grid(axis="y", visible=False)
            if len(arms) > 1:
                ax.set_title(arm)
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="center left",
                   bbox_to_anchor=(1.0 - LEGEND_WIDTH, 0.5), frameon=False)
        n = int(unit_metrics["replication"].nunique())
        finish(fig, title,
               f"At {step_unit} {last}, mean over {n} replication{'s' if n > 1 else ''}; "
               "customers served by each firm / all customers served for the need.",
               legend_width=LEGEND_WIDTH)
        return save(fig, Path(stem))
