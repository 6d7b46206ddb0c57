"""The house style of ecosim's figures: 16:9, large fonts, one colour per firm everywhere."""

from __future__ import annotations

import textwrap
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
    "savefig.bbox": None,  # ``finish`` lays out the figure: the file is exactly 16:9
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


#: Arms are told apart by colour only where they share a chart with no firm colour (the baseline
#: is grey). Okabe-Ito, readable by colour-blind viewers.
ARM_PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
BASELINE_COLOUR = "#8c8c8c"


def arm_colours(arms: list[str]) -> dict[str, str]:
    """A stable colour per arm: grey for the baseline (the first), then ARM_PALETTE."""
    colours = {arms[0]: BASELINE_COLOUR} if arms else {}
    for i, arm in enumerate(arms[1:]):
        colours[arm] = ARM_PALETTE[i % len(ARM_PALETTE)]
    return colours


def finish(fig: plt.Figure, title: str, note: str = "", legend_width: float = 0.0) -> None:
    """Title, a small grey note at the bottom, and a layout that keeps the figure 16:9.

    Args:
        fig: the figure.
        title: the finding; capitalised and wrapped to fit the slide.
        note: the sample, the CI, what is left out (wrapped; several lines are fine).
        legend_width: the share of the width kept free on the right for a legend placed with
            ``fig.legend(loc="center left", bbox_to_anchor=(1 - legend_width, 0.5))``.
    """
    lines = textwrap.wrap(note, 150)
    bottom = 0.015 + 0.03 * len(lines)
    if lines:
        fig.text(0.01, 0.01, "\n".join(lines), ha="left", va="bottom", fontsize=12,
                 color="#595959")
    fig.suptitle(wrap_title(title))
    fig.tight_layout(rect=(0.0, bottom, 1.0 - legend_width, 1.0))


def wrap_title(text: str, width: int = 64) -> str:
    """A title that starts with a capital, broken onto lines that fit a slide at the house size."""
    text = text[:1].upper() + text[1:]
    return "\n".join(textwrap.wrap(text, width))
