"""The house style of ecosim's figures: 16:9, large fonts, one colour per firm everywhere.

Besides the style, this module holds what keeps a slide readable: colours that stay apart for
two dozen firms (``firm_colours``, measured in CIEDE2000), text wrapped to a width in inches
(``wrap_to``), a layout that makes room for a side legend (``finish``), labels placed where they
collide with nothing (``place_labels``), and the check that no two texts of a figure overlap
(``text_overlaps``).
"""

from __future__ import annotations

import colorsys
import functools
import math
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn (pyplot takes ~0.5 s)
    import matplotlib.pyplot as plt
    from matplotlib.legend import Legend
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

SLIDE_SIZE = (13.33, 7.5)  # inches: a 16:9 slide
#: One colour per firm, in config order. The first ten are the original house colours; the rest
#: were picked greedily to stay at least 14 CIEDE2000 units from every earlier one (and from white
#: and the baseline grey), with lightness 30-75 and chroma > 30 so that each reads on white.
PALETTE = ("#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6", "#a50021",
           "#00827f", "#7f6000", "#595959", "#e599e6", "#1dc98f", "#f0027f", "#ff9896",
           "#8fc91d", "#52b1e0", "#b152e0", "#9999e6", "#1dc9c9", "#8a0f4d", "#e05252",
           "#fd8d3c", "#756bb1", "#8a8a0f")

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
#: Font sizes (points) of the texts ``finish`` writes: the note under a figure, panel titles.
NOTE_SIZE = 12
PANEL_TITLE_SIZE = 16
#: Width of the slide's text (inches): a title or a note is wrapped to it.
TEXT_WIDTH = SLIDE_SIZE[0] - 0.5


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend (files, no window), imported on first use.

    Drawing modules call it instead of importing pyplot at module level, so that a run without
    figures (``output.figures=false``) never pays matplotlib's import (about half a second).
    """
    _use_agg()
    import matplotlib.pyplot as plt

    return plt


@functools.cache
def _use_agg() -> None:
    """Select the Agg backend once per process, before pyplot is first imported by ecosim."""
    import matplotlib

    matplotlib.use("Agg")


def __getattr__(name: str) -> ModuleType:
    """``style.plt`` (``from ecosim.report.style import plt``): pyplot, imported when asked."""
    if name == "plt":
        return pyplot()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def firm_colours(firms: Sequence[str]) -> dict[str, str]:
    """A stable colour per firm, by its position in the config; distinct for up to 24 firms.

    Beyond the palette, further colours step round the hue circle by the golden angle at three
    lightnesses: still different from each other, but no longer checked against the palette.
    """
    return {firm: _colour(i) for i, firm in enumerate(firms)}


def _colour(i: int) -> str:
    if i < len(PALETTE):
        return PALETTE[i]
    k = i - len(PALETTE)
    hue = (0.11 + 0.381966 * k) % 1.0
    light = (0.35, 0.5, 0.62)[k % 3]
    from matplotlib.colors import to_hex

    return to_hex(colorsys.hls_to_rgb(hue, light, 0.75))


def to_lab(colour: str) -> tuple[float, float, float]:
    """A colour in CIELAB (D65): lightness 0-100 and the two opponent axes."""
    from matplotlib.colors import to_rgb

    rgb = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour)]
    matrix = ((0.4124, 0.3576, 0.1805), (0.2126, 0.7152, 0.0722), (0.0193, 0.1192, 0.9505))
    white = (0.95047, 1.0, 1.08883)
    xyz = [sum(m * c for m, c in zip(row, rgb, strict=True)) / w
           for row, w in zip(matrix, white, strict=True)]
    f = [v ** (1 / 3) if v > (6 / 29) ** 3 else v / (3 * (6 / 29) ** 2) + 4 / 29 for v in xyz]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def delta_e(lab1: Sequence[float], lab2: Sequence[float]) -> float:
    """The CIEDE2000 colour difference of two CIELAB colours (about 1: just noticeable)."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_bar ** 7 / (c_bar ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    dh = h2p - h1p
    if c1p * c2p == 0:
        dh = 0.0
    elif dh > 180:
        dh -= 360
    elif dh < -180:
        dh += 360
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_bar, cp_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_bar = (h1p + h2p) / 2
    else:
        h_bar = (h1p + h2p + (360 if h1p + h2p < 360 else -360)) / 2
    t = (1 - 0.17 * math.cos(math.radians(h_bar - 30)) + 0.24 * math.cos(math.radians(2 * h_bar))
         + 0.32 * math.cos(math.radians(3 * h_bar + 6))
         - 0.20 * math.cos(math.radians(4 * h_bar - 63)))
    d_theta = 30 * math.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(cp_bar ** 7 / (cp_bar ** 7 + 25 ** 7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / math.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * cp_bar
    s_h = 1 + 0.015 * cp_bar * t
    r_t = -math.sin(math.radians(2 * d_theta)) * r_c
    return math.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2
                     + r_t * (d_c / s_c) * (d_h / s_h))


def colour_difference(a: str, b: str) -> float:
    """How far apart two colours look: CIEDE2000 of their CIELAB values."""
    return delta_e(to_lab(a), to_lab(b))


def text_colour_on(colour: str) -> str:
    """White or near-black, whichever reads better on a fill of ``colour``."""
    return "white" if to_lab(colour)[0] < 62 else "#1a1a1a"


#: While ``captured_figures`` is active: the figures ``save`` was given, in order.
_captured: list[plt.Figure] | None = None


@contextmanager
def captured_figures() -> Iterator[list[plt.Figure]]:
    """Within the block ``save`` writes nothing and keeps the figures (open) in the yielded list.

    For checks of a drawn figure (``text_overlaps``); close them with ``plt.close`` when done.
    """
    global _captured
    previous, _captured = _captured, []
    try:
        yield _captured
    finally:
        _captured = previous


def save(fig: plt.Figure, stem: Path) -> list[Path]:
    """Save a figure as PNG and SVG next to each other and close it."""
    paths = [Path(stem).with_suffix(".png"), Path(stem).with_suffix(".svg")]
    if _captured is not None:
        fig.set_label(Path(stem).name)
        _captured.append(fig)
        return paths
    for path in paths:
        fig.savefig(path)
    pyplot().close(fig)
    return paths


def compact(value: float) -> str:
    """A number for a slide: 1.2M, 34k, 560."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


#: Arms are told apart by colour only where they share a chart with no firm colour (the baseline
#: is grey). Okabe-Ito, readable by colour-blind viewers; further arms take firm colours.
ARM_PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
BASELINE_COLOUR = "#8c8c8c"


def apart_from_baseline(colour: str) -> str:
    """``colour``, or the first arm colour when it is a grey (chroma under 15) like the baseline.

    Grey marks a reference: an arm's bar in the streamer's dark grey would read as one.
    """
    _lightness, a, b = to_lab(colour)
    return colour if math.hypot(a, b) >= 15 else ARM_PALETTE[0]


def arm_colours(arms: Sequence[str]) -> dict[str, str]:
    """A stable colour per arm: grey for the baseline (the first), then ARM_PALETTE."""
    colours = {arms[0]: BASELINE_COLOUR} if arms else {}
    extra = [c for c in PALETTE if c not in ARM_PALETTE and c != "#595959"]
    for i, arm in enumerate(arms[1:]):
        colours[arm] = (ARM_PALETTE[i] if i < len(ARM_PALETTE)
                        else extra[(i - len(ARM_PALETTE)) % len(extra)])
    return colours


@functools.cache
def _text_to_path() -> object:
    from matplotlib.textpath import TextToPath

    return TextToPath()


def text_width(text: str, size: float, weight: str = "normal") -> float:
    """The width in inches of one line of ``text`` at ``size`` points (the house font)."""
    from matplotlib.font_manager import FontProperties

    prop = FontProperties(family=pyplot().rcParams["font.family"], size=size, weight=weight)
    width, _height, _descent = _text_to_path().get_text_width_height_descent(text, prop,
                                                                             ismath=False)
    return 1.04 * width / 72  # Agg's hinting draws a few % wider than the outlines


def wrap_to(text: str, width: float, size: float, weight: str = "normal",
            max_lines: int | None = None) -> str:
    """``text`` broken at spaces into lines no wider than ``width`` inches at ``size`` points.

    A single word wider than the width stays whole. With ``max_lines``, what does not fit is cut
    and ends with an ellipsis.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and text_width(candidate, size, weight) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        while lines[-1] and text_width(lines[-1] + "…", size, weight) > width:
            lines[-1] = lines[-1][:-1]
        lines[-1] = lines[-1].rstrip() + "…"
    return "\n".join(lines)


def side_legend(fig: plt.Figure, handles: list, labels: list[str], **kwargs: object) -> Legend:
    """A legend right of the panels; ``finish`` measures it and keeps that much width free."""
    kwargs = {"frameon": False, **kwargs}
    legend = fig.legend(handles, labels, loc="center left", bbox_to_anchor=(0.8, 0.5),
                        **kwargs)
    legend._ecosim_side = True  # noqa: SLF001  (marks it for ``finish``)
    return legend


def legend_layout(entries: int, height: float = 5.0) -> tuple[float, int]:
    """The font size (points) and columns of a legend of ``entries`` lines in ``height`` inches."""
    for size in (14.0, 12.0, 11.0):
        if entries * size * 1.75 / 72 <= height:
            return size, 1
    return 11.0, math.ceil(entries * 11.0 * 1.75 / 72 / height)


#: While ``untitled`` is active: ``finish`` draws no title.
_untitled = False


@contextmanager
def untitled() -> Iterator[None]:
    """Within the block ``finish`` writes no title and gives its room to the panels.

    For a slide whose title placeholder states the finding: the deck draws its copies of the
    figures inside this block, so a title never appears twice on a slide.
    """
    global _untitled
    previous, _untitled = _untitled, True
    try:
        yield
    finally:
        _untitled = previous


def finish(fig: plt.Figure, title: str, note: str = "", legend_width: float = 0.0) -> None:
    """Title, a small grey note at the bottom, and a layout that keeps the figure 16:9.

    Args:
        fig: the figure.
        title: the finding; capitalised and wrapped to fit the slide (not drawn inside
            ``untitled``).
        note: the sample, the CI, what is left out (wrapped; several lines are fine).
        legend_width: the share of the width kept free on the right for a legend placed with
            ``fig.legend(loc="center left", bbox_to_anchor=(1 - legend_width, 0.5))``. A legend
            made with ``side_legend`` is measured instead.
    """
    width_in = fig.get_size_inches()[0]
    text = wrap_to(note, width_in - 0.3, NOTE_SIZE) if note else ""
    lines = text.count("\n") + 1 if text else 0
    bottom = (0.1 + lines * NOTE_SIZE * 1.25 / 72) / fig.get_size_inches()[1] if lines else 0.0
    if lines:
        fig.text(0.01, 0.01, text, ha="left", va="bottom", fontsize=NOTE_SIZE, color="#595959")
    if not _untitled:  # without a suptitle, tight_layout gives its room to the panels
        fig.suptitle(wrap_title(title, width_in - 0.6))
    fig._ecosim_rect = (0.0, bottom, 1.0, 1.0)  # noqa: SLF001  (for relayout)
    fig._ecosim_legend_width = legend_width  # noqa: SLF001
    relayout(fig)


def relayout(fig: plt.Figure) -> None:
    """Lay a figure out (again, after its texts changed) in the room ``finish`` reserved.

    Side legends (``side_legend``) are measured and the panels keep clear of the widest.
    """
    left, bottom, _right, top = getattr(fig, "_ecosim_rect", (0.0, 0.0, 1.0, 1.0))
    width = getattr(fig, "_ecosim_legend_width", 0.0)
    side = [legend for legend in fig.legends if getattr(legend, "_ecosim_side", False)]
    if side:
        renderer = fig.canvas.get_renderer()
        widest = max(legend.get_window_extent(renderer).width for legend in side)
        width = max(width, widest / fig.bbox.width + 0.01)
        for legend in side:
            legend.set_bbox_to_anchor((1.0 - width, 0.5), transform=fig.transFigure)
    fig.tight_layout(rect=(left, bottom, 1.0 - width, top))


def wrap_title(text: str, width: float | int = TEXT_WIDTH - 0.1) -> str:
    """A title that starts with a capital, broken onto lines that fit a slide at the house size.

    ``width``: inches (a float), or characters (an int, the former behaviour).
    """
    text = text[:1].upper() + text[1:]
    if isinstance(width, int):
        return "\n".join(textwrap.wrap(text, width))
    return wrap_to(text, width, STYLE["figure.titlesize"], weight="bold")


def axes_width(ax: plt.Axes) -> float:
    """The width of an axes in inches, as laid out now."""
    return ax.get_position().width * ax.figure.get_size_inches()[0]


def thin_ticks(fig: plt.Figure, axes: Sequence[plt.Axes], nbins: int = 4,
               gap: float = 6.0) -> None:
    """Fewer x ticks on the panels whose tick labels would touch (``gap`` pixels apart at least).

    Each crowded panel gets a locator with one bin fewer, down to a single bin.
    """
    from matplotlib.ticker import MaxNLocator

    bins = {ax: nbins for ax in axes}
    for _ in range(nbins):
        fig.draw_without_rendering()  # extents as drawn, nothing rasterised
        renderer = fig.canvas.get_renderer()
        crowded = []
        for ax in axes:
            low, high = sorted(ax.get_xlim())
            boxes = sorted((label.get_window_extent(renderer) for loc, label in
                            zip(ax.get_xticks(), ax.xaxis.get_majorticklabels(), strict=False)
                            if low <= loc <= high and label.get_visible() and label.get_text()),
                           key=lambda box: box.x0)
            if any(b.x0 - a.x1 < gap for a, b in zip(boxes, boxes[1:], strict=False)):
                crowded.append(ax)
        if not crowded:
            return
        for ax in crowded:
            bins[ax] = max(bins[ax] - 1, 1)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=bins[ax]))


def drawn_texts(fig: plt.Figure) -> list[Text]:
    """Draw the figure and return every visible, non-empty text it drew, in drawing order."""
    from unittest import mock

    from matplotlib.text import Text

    drawn: dict[int, Text] = {}
    original = Text.draw

    def draw(self: Text, renderer: object) -> None:
        if self.get_visible() and self.get_text().strip():
            drawn[id(self)] = self
        original(self, renderer)

    with mock.patch.object(Text, "draw", draw):
        fig.canvas.draw()
    return list(drawn.values())


def text_overlaps(fig: plt.Figure, tolerance: float = 2.0) -> list[tuple[str, str]]:
    """Pairs of texts of ``fig`` whose drawn boxes intersect, and texts outside the figure.

    Every visible non-empty text the figure draws counts: titles, axis and tick labels, legend
    entries, annotations and notes. Boxes are the texts' window extents (exact for horizontal and
    vertical text), each shrunk by ``tolerance`` pixels; a text that leaves the figure by more
    than ``tolerance`` pixels is reported as ``(text, "outside the figure")``.
    """
    from matplotlib.transforms import Bbox

    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    boxes = []
    for text in texts:
        box = text.get_window_extent(renderer)
        boxes.append((text.get_text(), Bbox.from_extents(
            box.x0 + tolerance, box.y0 + tolerance, box.x1 - tolerance, box.y1 - tolerance)))
    found = []
    page = fig.bbox
    for i, (name, box) in enumerate(boxes):
        if (box.x0 < page.x0 - tolerance or box.y0 < page.y0 - tolerance
                or box.x1 > page.x1 + tolerance or box.y1 > page.y1 + tolerance):
            found.append((name, "outside the figure"))
        for other, other_box in boxes[i + 1:]:
            if box.overlaps(other_box):
                found.append((name, other))
    return found


#: Where ``place_labels`` tries a label, in points from its point.
LABEL_OFFSETS = ((8, 4), (8, -16), (-8, 4), (-8, -16), (0, 10), (0, -22), (14, -6), (-14, -6),
                 (16, 14), (-16, 14), (16, -28), (-16, -28))


def place_labels(ax: plt.Axes, labels: Sequence[tuple[str, tuple[float, float], dict]],
                 avoid: Sequence[Text] = (), obstacles: Sequence[Bbox] = (),
                 offsets: Sequence[tuple[float, float]] = LABEL_OFFSETS) -> list[str]:
    """Annotate points with labels that overlap no other text and stay inside the axes.

    Call it after the layout is final (after ``finish``). Each label tries the ``offsets``
    (points from its point, left or right aligned by the offset's sign) in turn and keeps the
    first free place; a label with no free place is not drawn.

    Args:
        ax: the axes.
        labels: (text, (x, y) in data coordinates, annotate keyword arguments) per label, the
            most important first (it chooses first).
        avoid: texts already drawn that the labels must not cover.
        obstacles: other boxes (display pixels) to keep clear of, such as markers.
        offsets: the candidate offsets in points. A label's keyword arguments may carry its
            own as ``offsets``, and other points to try in turn as ``alternatives``.

    Returns:
        The texts of the labels that found no place.
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    taken = [t.get_window_extent(renderer) for t in avoid if t.get_visible() and t.get_text()]
    blocked = list(obstacles)
    left_out = []
    for text, xy, kwargs in labels:
        kwargs = dict(kwargs)
        own = kwargs.pop("offsets", offsets)
        tries = [(point, offset) for point in [xy, *kwargs.pop("alternatives", [])]
                 for offset in own]
        for point, (dx, dy) in tries:
            ha = "left" if dx > 0 else "right" if dx < 0 else "center"
            label = ax.annotate(text, point, xytext=(dx, dy), textcoords="offset points", ha=ha,
                                va="bottom", annotation_clip=False, **kwargs)
            box = label.get_window_extent(renderer)
            inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0
                      and box.y1 <= frame.y1)
            if inside and not any(box.overlaps(other) for other in [*taken, *blocked]):
                taken.append(box)
                break
            label.remove()
        else:
            left_out.append(text)
    return left_out
