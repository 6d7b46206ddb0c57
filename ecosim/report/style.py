"""The house style of ecosim's figures: 16:9, large fonts, one colour per firm everywhere."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SLIDE_SIZE = (13.33, 7.5)  # inches: a 16:9 slide
PALETTE = ("#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6", "#a50021",
           "#00827f", "#7f6000", "#595959")

STYLE = {
    "font.size": 16,
    "axes.titlesize": 20,
    "axes.titleweight": "bold",
    "axes.labelsize": 16,
    "xtick.labelsize": 14,
    "ytick.labelsize": 14,
    "legend.fontsize": 14,
    "figure.titlesize": 22,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 2.5,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
}


def firm_colours(firms: list[str]) -> dict[str, str]:
    """A stable colour per firm, by its position in the config."""
    return {firm: PALETTE[i % len(PALETTE)] for i, firm in enumerate(firms)}


def save(fig: plt.Figure, stem: Path) -> list[Path]:
    """Save a figure as PNG and SVG next to each other and close it."""
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        fig.savefig(path)
    plt.close(fig)
    return paths


def compact(value: float) -> str:
    """A number for a slide: 1.2M, 34k, 560."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"
