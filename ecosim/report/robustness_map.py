"""The robustness map: the headline over the two assumptions that move it most.

``experiment.robustness.map`` names two assumptions; ``robustness=true`` runs the headline on a
``grid`` × ``grid`` lattice of their values (the others at default). The map shows each grid
point as a cell with its value written in it, coloured by the claim (blue where it holds, red
where it does not), and the claim's threshold as a dashed contour, interpolated linearly between
the grid points, where it falls inside the map's range. The spread over the cells is the
interval **over assumptions**; each cell's own **simulation noise** is in the note.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ecosim.report.data import ReportData
from ecosim.report.style import SLIDE_SIZE, STYLE, finish, pyplot, save
from ecosim.report.tornado import (
    CLAIM_COLOUR,
    assumption_label,
    assumption_value,
    default_row,
    default_value,
    has_claim,
    headline_label,
    holds,
    span,
)
from ecosim.report.tornado import claim_text as _signed_claim_text
from ecosim.report.tornado import threshold_number as _signed_threshold
from ecosim.report.verdict import headline_number

if TYPE_CHECKING:
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

LEGEND_WIDTH = 0.24  # share of the slide kept on the right for the legend


def _no_zero_sign(text: str) -> str:
    """A number without the "±" a difference of exactly 0 is written with ("±0 EUR" -> "0 EUR")."""
    return text.replace("±", "", 1) if text.startswith("±") else text


def threshold_number(data: ReportData) -> str:
    """The claim's threshold as a number ("2%", "0 EUR": a threshold of 0 has no sign)."""
    return _no_zero_sign(_signed_threshold(data))


def claim_text(data: ReportData) -> str:
    """The claim in words: its ``text``, else "0 EUR or more" (a zero threshold unsigned)."""
    test = data.experiment.claim_test
    return test.text or _no_zero_sign(_signed_claim_text(data))


class MapGrid:
    """The map's lattice: the two assumptions, their grid values and the headline on it.

    ``values[j, i]`` is the headline at ``xs[i]`` (first assumption) and ``ys[j]`` (second);
    ``noise[j, i]`` the half-width of its 95 % interval over replications (NaN if unknown).
    """

    def __init__(self, data: ReportData) -> None:
        table = data.robustness
        rows = table[table["design"] == "map"] if not table.empty else table
        if rows.empty:
            raise ValueError("robustness: the run has no map rows (experiment.robustness.map "
                             "names no two assumptions, or robustness=true was not set)")
        self.x_name, self.y_name = str(rows["assumption"].iloc[0]).split("|")
        self.xs = np.sort(rows["x"].unique().astype(float))
        self.ys = np.sort(rows["y"].unique().astype(float))
        self.values = np.full((len(self.ys), len(self.xs)), np.nan)
        self.noise = np.full_like(self.values, np.nan)
        for r in rows.itertuples():
            i, j = np.searchsorted(self.xs, r.x), np.searchsorted(self.ys, r.y)
            self.values[j, i] = r.value
            self.noise[j, i] = (r.high - r.low) / 2
        self.n = int(rows["n"].max())

    @property
    def range(self) -> tuple[float, float]:
        """The headline's lowest and highest value on the map."""
        return float(np.nanmin(self.values)), float(np.nanmax(self.values))


def threshold_inside(data: ReportData, grid: MapGrid) -> bool:
    """Whether the claim's threshold lies strictly between the map's lowest and highest value."""
    if not has_claim(data):
        return False
    low, high = grid.range
    return low < data.experiment.claim_test.value < high


def map_finding(data: ReportData) -> str:
    """The title: the headline's range on the map and where the claim's line falls."""
    try:
        grid = MapGrid(data)
    except ValueError:
        return ""
    text = f"{headline_label(data)} stays {span(data, *grid.range)}"
    if not has_claim(data):
        return f"{text} over the map's two assumptions"
    if not threshold_inside(data, grid):
        return f"{text}: the claim's {threshold_number(data)} line lies outside the map"
    finite = grid.values[np.isfinite(grid.values)]
    met = sum(holds(data, v) for v in finite)
    return (f"{headline_label(data)} meets the claimed {claim_text(data)} at {met} of "
            f"{finite.size} points of the map")


def _colours(data: ReportData, grid: MapGrid) -> tuple[str, Normalize]:
    """A colour map and norm: blue where the claim holds, red where not, paler near the line."""
    from matplotlib.colors import Normalize, TwoSlopeNorm

    low, high = (v for v in grid.range)
    if high == low:
        low, high = low - 1, high + 1
    if not has_claim(data):
        return "Greys", Normalize(low - (high - low), high + (high - low))
    test = data.experiment.claim_test
    threshold = test.value
    below_holds = test.op == "<="
    if threshold_inside(data, grid):
        return ("RdBu_r" if below_holds else "RdBu"), TwoSlopeNorm(threshold, low, high)
    everywhere = holds(data, grid.range[0])
    name = "Blues" if everywhere else "Reds"
    # the colour deepens away from the claim's threshold
    darker_high = (everywhere and not below_holds) or (not everywhere and below_holds)
    pad = 0.6 * (high - low)  # keeps the cells mid-tone, so their labels stay readable
    return (name if darker_high else name + "_r"), Normalize(low - pad, high + pad)


def _ink(rgba: tuple[float, ...]) -> str:
    """Black or white, whichever reads on a cell of this colour."""
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(rgba)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def _draw_cells(ax: plt.Axes, data: ReportData, grid: MapGrid, default: tuple) -> None:
    cmap_name, norm = _colours(data, grid)
    cmap = pyplot().get_cmap(cmap_name)
    shown_values = np.asarray(grid.values, float)
    ax.pcolormesh(grid.xs, grid.ys, shown_values, shading="nearest", cmap=cmap, norm=norm,
                  edgecolors="white", linewidth=2)
    dx, dy = default
    size = {2: 18, 3: 18, 4: 15}.get(max(len(grid.xs), len(grid.ys)), 12)  # fits the cells
    for j, y in enumerate(grid.ys):
        for i, x in enumerate(grid.xs):
            value = grid.values[j, i]
            if not math.isfinite(value):
                continue
            on_default = dx is not None and dy is not None and \
                math.isclose(x, dx) and math.isclose(y, dy)
            fill = cmap(norm(shown_values[j, i]))
            # the label sits on a patch of its cell's colour: the claim's line breaks under it
            ax.annotate(headline_number(data, value), (x, y),
                        xytext=(0, 24 if on_default else 0), textcoords="offset points",
                        ha="center", va="center", fontsize=size, fontweight="bold",
                        color=_ink(fill), zorder=5,
                        bbox={"boxstyle": "round,pad=0.2", "facecolor": fill, "linewidth": 0})


def plot_map(data: ReportData, stem: Path, title: str | None = None) -> list[Path]:
    """The headline over the map's two assumptions, with the claim's line; PNG and SVG paths.

    Raises:
        ValueError: when the run has no map rows.
    """
    grid = MapGrid(data)
    title = title or map_finding(data)
    default = (default_value(data, grid.x_name), default_value(data, grid.y_name))
    handles = []
    from matplotlib.lines import Line2D

    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SLIDE_SIZE)
        _draw_cells(ax, data, grid, default)
        if threshold_inside(data, grid) and min(grid.values.shape) >= 2:
            ax.contour(grid.xs, grid.ys, grid.values, levels=[data.experiment.claim_test.value],
                       colors=CLAIM_COLOUR, linestyles="--", linewidths=3.5)
            handles.append(Line2D([], [], color=CLAIM_COLOUR, linestyle="--", linewidth=3.5,
                                  label=textwrap.fill(f"Claim: {claim_text(data)}", 18)))
        if None not in default:
            ax.plot(*default, marker="D", markersize=14, color="white",
                    markeredgecolor="black", markeredgewidth=2, linestyle="none", zorder=4)
            handles.append(Line2D([], [], marker="D", markersize=14, color="white",
                                  markeredgecolor="black", markeredgewidth=2, linestyle="none",
                                  label="Default\nassumptions"))
        for axis, values, name in ((ax.xaxis, grid.xs, grid.x_name),
                                   (ax.yaxis, grid.ys, grid.y_name)):
            axis.set_ticks(values, [assumption_value(data, name, v) for v in values])
        ax.set_xlabel(_axis_label(data, grid.x_name))
        ax.set_ylabel(_axis_label(data, grid.y_name))
        ax.grid(False)
        if handles:
            fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1 - LEGEND_WIDTH, 0.5),
                       frameon=False, labelspacing=1.2)
        finish(fig, title, _note(data, grid), legend_width=LEGEND_WIDTH if handles else 0.0)
        return save(fig, Path(stem))


def _axis_label(data: ReportData, name: str) -> str:
    a = data.experiment.assumptions.get(name)
    suffix = " (× its default)" if a is not None and a.scale else ""
    return assumption_label(data, name) + suffix


def _note(data: ReportData, grid: MapGrid) -> str:
    """What the cells, colours and line mean; the two kinds of interval, labelled."""
    low, high = grid.range
    parts = [f"Cells: the headline with the two assumptions at each grid point (the others at "
             f"default). Over assumptions: {span(data, low, high)} across the cells."]
    noise = grid.noise[np.isfinite(grid.noise)]
    if noise.size:
        parts.append(f"Simulation noise: each cell's 95% interval over {grid.n} replications "
                     f"is up to ±{headline_number(data, float(noise.max())).lstrip('+±')}.")
    base = default_row(data)
    if base is not None and math.isfinite(base["low"]) and math.isfinite(base["high"]):
        parts.append(f"Default: {headline_number(data, float(base['value']))} (simulation "
                     f"noise {span(data, float(base['low']), float(base['high']))}).")
    if has_claim(data):
        if threshold_inside(data, grid):
            parts.append("Blue: the claim holds; red: it does not. Dashed: the claim's "
                         "threshold, interpolated linearly between grid points.")
        else:
            where = "holds" if holds(data, low) else "fails"
            parts.append(f"The claim's {threshold_number(data)} line lies outside the map: the "
                         f"claim {where} everywhere on it.")
    return " ".join(parts)
