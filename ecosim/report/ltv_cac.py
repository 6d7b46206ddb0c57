"""LTV against CAC per firm and arm, with the lines LTV/CAC = 1 (break-even) and 3 (the target)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import LogLocator, NullFormatter

from ecosim.metrics.summary import LTV_WINDOW
from ecosim.report.labels import format_value, tick_format
from ecosim.report.style import SLIDE_SIZE, STYLE, finish, save

ARM_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Above this ratio between the largest and smallest value an axis turns logarithmic.
LOG_SCALE_RATIO = 30.0


def ltv_cac_points(kpis: pd.DataFrame) -> pd.DataFrame:
    """Per (arm, firm): mean LTV, mean CAC over the LTV window, and mean LTV/CAC.

    The CAC is the one ``ltv_cac`` divides by (marketing spend / new customers over the last
    ``LTV_WINDOW`` steps), recovered as ``ltv / ltv_cac``; firms without marketing spend have no
    CAC and are dropped.
    """
    frame = kpis[["arm", "firm", "replication", "ltv", "ltv_cac"]].copy()
    frame["cac"] = frame["ltv"] / frame["ltv_cac"].where(frame["ltv_cac"] != 0)
    means = frame.groupby(["arm", "firm"], sort=False)[["ltv", "cac", "ltv_cac"]].mean()
    finite = np.isfinite(means).all(axis=1)
    return means[finite].reset_index()


def ltv_cac_finding(points: pd.DataFrame, arms: list[str], focus_firm: str) -> str:
    """The title: how the focus firm's LTV/CAC moves across arms, or how many firms pay back."""
    if points.empty:
        return "No firm spent on marketing: LTV/CAC is not defined"
    if len(arms) > 1:
        mine = points[points["firm"] == focus_firm].set_index("arm")["ltv_cac"]
        if arms[0] in mine.index and len(mine) > 1:
            best = mine.drop(arms[0]).idxmax()
            return (f"{focus_firm}'s LTV/CAC goes from {format_value('ltv_cac', mine[arms[0]])} "
                    f"under {arms[0]} to {format_value('ltv_cac', mine[best])} under {best}")
    base = points[points["arm"] == arms[0]]
    best = base.loc[base["ltv_cac"].idxmax()]
    losing = int((base["ltv_cac"] < 1).sum())
    losers = (f"{losing} of {len(base)} firms do not earn back their CAC" if losing
              else "every firm earns back its CAC")
    ratio = format_value("ltv_cac", best["ltv_cac"])
    return f"{best['firm']} has the best LTV/CAC ({ratio}); {losers}"


def plot_ltv_cac(kpis: pd.DataFrame, arms: list[str], firms: list[str], colours: dict[str, str],
                 step_unit: str, stem: Path, title: str | None = None,
                 focus_firm: str | None = None, horizon: int = LTV_WINDOW) -> list[Path]:
    """Scatter of LTV (y) against CAC (x): colour per firm, marker per arm, reference lines.

    In an experiment every firm appears in every arm, its points joined by a thin line from the
    baseline; the focus firm's points are larger. Each firm is named at its baseline point.
    ``horizon`` (steps played) names the window of the estimates when shorter than LTV_WINDOW.
    """
    window = min(LTV_WINDOW, horizon)
    points = ltv_cac_points(kpis)
    focus_firm = focus_firm or firms[0]
    title = title or ltv_cac_finding(points, arms, focus_firm)
    markers = {arm: ARM_MARKERS[i % len(ARM_MARKERS)] for i, arm in enumerate(arms)}
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SLIDE_SIZE)
        experiment = len(arms) > 1
        for firm, rows in points.groupby("firm", sort=False):
            if firm not in colours:
                continue
            rows = rows.set_index("arm").reindex([a for a in arms if a in set(rows["arm"])])
            focus = experiment and firm == focus_firm
            if experiment:  # the path of the firm across arms, baseline first
                ax.plot(rows["cac"], rows["ltv"], color=colours[firm], linewidth=1.2,
                        alpha=0.6, zorder=2)
            for arm, row in rows.iterrows():
                ax.scatter(row["cac"], row["ltv"], s=300 if focus else 120, color=colours[firm],
                           marker=markers[arm], edgecolor="white", linewidth=1, zorder=3)
            first = rows.iloc[0]
            ax.annotate(firm, (first["cac"], first["ltv"]), xytext=(10, 6),
                        textcoords="offset points", fontsize=14 if focus else 13,
                        color=colours[firm], fontweight="bold" if focus else "normal")
        _reference_lines(ax, points)
        ax.set_xlabel(f"CAC (currency per new customer, last {window} {step_unit}s)")
        ax.set_ylabel("LTV (currency per customer, predicted)")
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "log":
                axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                axis.set_minor_formatter(NullFormatter())
            axis.set_major_formatter(plt.FuncFormatter(tick_format("ltv")))
        if len(arms) > 1:
            handles = [plt.Line2D([], [], marker=markers[a], color="#595959", linestyle="",
                                  markersize=12, label=a) for a in arms]
            ax.legend(handles=handles, title="arm", loc="center left", bbox_to_anchor=(1.01, 0.5),
                      frameon=False)
            ax.text(1.02, 0.2, f"thin lines join a firm's\npoints, from {arms[0]}",
                    transform=ax.transAxes, fontsize=12, color="#595959", va="top")
        finish(fig, title,
               f"Means over replications. LTV: discounted contribution per customer predicted "
               f"from the last {window} {step_unit}s' margin and retention. Firms without "
               f"marketing spend have no CAC and are not shown.")
        return save(fig, Path(stem))


def _reference_lines(ax: plt.Axes, points: pd.DataFrame) -> None:
    """LTV = CAC and LTV = 3 CAC across the plotted range, log-log when the range is wide."""
    if points.empty:
        return
    cac, ltv = points["cac"], points["ltv"]
    positive = (cac > 0).all() and (ltv > 0).all()
    wide = positive and (cac.max() > LOG_SCALE_RATIO * cac.min()
                         or ltv.max() > LOG_SCALE_RATIO * ltv.min())
    if wide:
        ax.set_xscale("log")
        ax.set_yscale("log")
        low, high = min(cac.min(), ltv.min() / 3) / 1.5, max(cac.max(), ltv.max()) * 1.5
        x = np.geomspace(low, high, 50)
    else:
        high = max(cac.max(), ltv.max() / 3, 0.0) * 1.15
        x = np.linspace(0.0, high if math.isfinite(high) and high > 0 else 1.0, 50)
    ax.autoscale(False)
    for ratio, label, style in ((1, "LTV = CAC: break-even", "--"),
                                (3, "LTV = 3 × CAC: the usual target", ":")):
        ax.plot(x, ratio * x, color="#333333", linestyle=style, linewidth=1.8, zorder=1)
        visible = x[(ratio * x >= ax.get_ylim()[0]) & (ratio * x <= ax.get_ylim()[1])
                    & (x >= ax.get_xlim()[0]) & (x <= ax.get_xlim()[1])]
        if visible.size:
            xl = visible[int(0.8 * (visible.size - 1))]
            ax.annotate(label, (xl, ratio * xl), xytext=(6, -14), textcoords="offset points",
                        fontsize=12, color="#333333")
