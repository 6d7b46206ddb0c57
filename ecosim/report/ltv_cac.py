"""LTV against CAC per firm and arm, with the lines LTV/CAC = 1 (break-even) and 3 (the target)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ecosim.metrics.summary import LTV_WINDOW
from ecosim.report.findings import possessive
from ecosim.report.labels import display_name, format_value, tick_format
from ecosim.report.style import (
    SLIDE_SIZE,
    STYLE,
    finish,
    legend_layout,
    place_labels,
    pyplot,
    relayout,
    save,
    side_legend,
    wrap_to,
)

if TYPE_CHECKING:
    import matplotlib.pyplot as plt

ARM_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Marker areas (points²): the focus firm's and the others'.
FOCUS_SIZE, POINT_SIZE = 300, 120
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


def ltv_cac_finding(points: pd.DataFrame, arms: list[str], focus_firm: str,
                    labels: Mapping[str, str] | None = None) -> str:
    """The title: how the focus firm's LTV/CAC moves across arms, or how many firms pay back.

    ``labels``: the arms' plain-language names.
    """
    if points.empty:
        return "No firm spent on marketing: LTV/CAC is not defined"
    if len(arms) > 1:
        mine = points[(points["firm"] == focus_firm) & points["arm"].isin(arms)]
        mine = mine.set_index("arm")["ltv_cac"]
        if arms[0] in mine.index and len(mine) > 1:
            best = mine.drop(arms[0]).idxmax()
            return (f"{possessive(focus_firm)} LTV/CAC goes from "
                    f"{format_value('ltv_cac', mine[arms[0]])} under "
                    f"{display_name(arms[0], labels)} to {format_value('ltv_cac', mine[best])} "
                    f"under {display_name(best, labels)}")
    base = points[points["arm"] == arms[0]]
    best = base.loc[base["ltv_cac"].idxmax()]
    losing = int((base["ltv_cac"] < 1).sum())
    losers = (f"{losing} of {len(base)} firms do not earn back their CAC" if losing
              else "every firm earns back its CAC")
    ratio = format_value("ltv_cac", best["ltv_cac"])
    return f"{display_name(best['firm'])} has the best LTV/CAC ({ratio}); {losers}"


def plot_ltv_cac(kpis: pd.DataFrame, arms: list[str], firms: list[str], colours: dict[str, str],
                 step_unit: str, stem: Path, title: str | None = None,
                 focus_firm: str | None = None, horizon: int = LTV_WINDOW,
                 labels: Mapping[str, str] | None = None, note: str = "") -> list[Path]:
    """Scatter of LTV (y) against CAC (x): colour per firm, marker per arm, reference lines.

    In an experiment every firm appears in every arm shown, its points joined by a thin line
    from the first arm; the focus firm's points are larger. Each firm is named next to its first
    point where the name fits without covering another text; the firms that find no room are
    named in a legend instead. ``horizon`` (steps played) names the window of the estimates when
    shorter than LTV_WINDOW. ``labels``: the arms' plain-language names; ``note``: a sentence
    added to the figure's note (which arms are left out).
    """
    window = min(LTV_WINDOW, horizon)
    points = ltv_cac_points(kpis)
    points = points[points["arm"].isin(arms) & points["firm"].isin(colours)]
    focus_firm = focus_firm or firms[0]
    title = title or ltv_cac_finding(points, arms, focus_firm, labels)
    markers = {arm: ARM_MARKERS[i % len(ARM_MARKERS)] for i, arm in enumerate(arms)}
    experiment = len(arms) > 1
    from matplotlib.ticker import LogLocator, NullFormatter

    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SLIDE_SIZE)
        names = []
        for firm, rows in points.groupby("firm", sort=False):
            rows = rows.set_index("arm").reindex([a for a in arms if a in set(rows["arm"])])
            focus = experiment and firm == focus_firm
            if experiment:  # the path of the firm across arms, the first arm first
                ax.plot(rows["cac"], rows["ltv"], color=colours[firm], linewidth=1.2,
                        alpha=0.6, zorder=2)
            for arm, row in rows.iterrows():
                ax.scatter(row["cac"], row["ltv"], s=FOCUS_SIZE if focus else POINT_SIZE,
                           color=colours[firm],
                           marker=markers[arm], edgecolor="white", linewidth=1, zorder=3)
            first = rows.iloc[0]
            names.append((firm, (first["cac"], first["ltv"]), focus))
        names.sort(key=lambda item: not item[2])  # the focus firm chooses its place first
        log = _reference_lines(ax, points)
        scale = " (log scale)" if log else ""
        ax.set_xlabel(f"CAC (currency per new customer, last {window} {step_unit}s){scale}")
        ax.set_ylabel(wrap_to(f"LTV (currency per customer, predicted){scale}", 5.0, 16))
        for axis in (ax.xaxis, ax.yaxis):
            if log:
                axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                axis.set_minor_formatter(NullFormatter())
            axis.set_major_formatter(plt.FuncFormatter(tick_format("ltv")))
        if experiment:
            handles = [plt.Line2D([], [], marker=markers[a], color="#595959", linestyle="",
                                  markersize=12, label=wrap_to(display_name(a, labels, True),
                                                               3.2, 14)) for a in arms]
            size, columns = legend_layout(len(handles), 4.5)
            side_legend(fig, handles, [h.get_label() for h in handles], title="arm",
                        fontsize=size, ncol=columns)
        path = (f" Thin lines join a firm's points, from {display_name(arms[0], labels)}."
                if experiment else "")
        text = (f"Means over replications. LTV: discounted contribution per customer predicted "
                f"from the last {window} {step_unit}s' margin and retention. Firms without "
                f"marketing spend have no CAC and are not shown.{path}"
                + (f" {note}" if note else ""))
        finish(fig, title, text)
        _name_firms(fig, ax, names, colours, points)
        return save(fig, Path(stem))


def _name_firms(fig: plt.Figure, ax: plt.Axes, names: list[tuple[str, tuple, bool]],
                colours: dict[str, str], points: pd.DataFrame) -> None:
    """Each firm's name beside its point.

    Firms whose name finds no free place are listed in a legend of firms; the figure is laid out
    again and every name placed anew.
    """
    placed = _place(ax, names, colours, points)
    missing = [(firm, xy, focus) for firm, xy, focus in names
               if display_name(firm, capital=True) in placed[1]]
    if not missing:
        return
    for text in placed[0]:
        text.remove()
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", color=colours[firm], linestyle="",
                      markersize=10, label=display_name(firm, capital=True))
               for firm, _, _ in missing]
    side = [legend for legend in fig.legends if getattr(legend, "_ecosim_side", False)]
    for legend in side:  # the arms' legend sits above the middle, the firms' below
        legend.set_loc("lower left")
    firms = side_legend(fig, handles, [h.get_label() for h in handles], title="firms",
                        fontsize=12)
    if side:
        firms.set_loc("upper left")
    relayout(fig)
    kept = [item for item in names if item not in missing]
    _place(ax, kept, colours, points)


def _place(ax: plt.Axes, names: list[tuple[str, tuple, bool]], colours: dict[str, str],
           points: pd.DataFrame) -> tuple[list, list[str]]:
    """Place the firms' names clear of texts, markers, the reference lines and their legend.

    Returns the texts placed and the names left out.
    """
    from matplotlib.transforms import Bbox

    before = set(ax.texts)
    focus = {firm for firm, _, is_focus in names if is_focus}
    centres = ax.transData.transform(points[["cac", "ltv"]].to_numpy(float))
    scale = ax.figure.dpi / 72  # pixels per point
    blocked = []
    for (x, y), firm in zip(centres, points["firm"], strict=True):
        pad = scale * (math.sqrt(FOCUS_SIZE if firm in focus else POINT_SIZE) / 2 + 1.5)
        blocked.append(Bbox.from_extents(x - pad, y - pad, x + pad, y + pad))
    for line in ax.get_lines():  # the reference lines, as a chain of small boxes
        if line.get_label().startswith("LTV"):
            for x, y in ax.transData.transform(line.get_xydata()):
                blocked.append(Bbox.from_extents(x - 2, y - 2, x + 2, y + 2))
    legend = ax.get_legend()
    if legend is not None:
        blocked.append(legend.get_window_extent(ax.figure.canvas.get_renderer()))
    firms = [(display_name(firm, capital=True), xy, {"fontsize": 14 if focus else 13,
                                       "color": colours[firm],
                                       "fontweight": "bold" if focus else "normal"})
             for firm, xy, focus in names]
    left_out = place_labels(ax, firms, obstacles=blocked)
    return [t for t in ax.texts if t not in before], left_out


def _reference_lines(ax: plt.Axes, points: pd.DataFrame) -> bool:
    """LTV = CAC and LTV = 3 CAC across the plotted range, log-log when the range is wide.

    Returns whether the axes are logarithmic.
    """
    if points.empty:
        return False
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
    ax.margins(0.08)
    ax.autoscale_view()
    ax.autoscale(False)
    for ratio, style, label in ((1, "--", "LTV = CAC: break-even"),
                                (3, ":", "LTV = 3 × CAC: the usual target")):
        ax.plot(x, ratio * x, color="#333333", linestyle=style, linewidth=1.8, zorder=1,
                label=label)
    ax.legend(loc="best", fontsize=12, framealpha=0.9)
    return bool(wide)
