"""The tornado: how far the headline moves when each assumed parameter moves over its range.

One horizontal bar per assumption of ``experiment.assumptions``, from the headline with the
assumption at its low value to the headline at its high value (the others at their defaults), the
widest swing on top. Two intervals stay apart: the bars are the spread **over assumptions**; the
shaded band around the default run's headline is its **simulation noise** (95 % over
replications). The claim's threshold is the dashed line.

The helpers here (``claim_text``, ``assumption_label``, ``assumption_value``, ...) are
shared with the map (``ecosim.report.robustness_map``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ecosim.report.data import ReportData
from ecosim.report.labels import tick_format
from ecosim.report.style import SLIDE_SIZE, STYLE, finish, pyplot, save, wrap_to
from ecosim.report.verdict import headline_number, headline_unit

if TYPE_CHECKING:
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

LOW_COLOUR, HIGH_COLOUR = "#9dc3e6", "#1f4e79"  # the assumption at its low / high value
NOISE_COLOUR = "#bfbfbf"
CLAIM_COLOUR = "#a50021"
FRACTION_KINDS = ("share", "relative_effect")  # headlines that are fractions (shown as %)


def axis_formatter(data: ReportData) -> plt.FuncFormatter:
    """Ticks in the headline's unit: "40%" for shares and relative effects, else the KPI's."""
    from matplotlib.ticker import FuncFormatter

    head = data.experiment.headline
    if head.kind in FRACTION_KINDS:
        return FuncFormatter(lambda v, _pos=None: f"{100 * v:.3g}%")
    return FuncFormatter(tick_format(head.kpi))


def headline_label(data: ReportData) -> str:
    """The headline in words, capitalised ("The umbrella brand's share of the ARPU uplift")."""
    head = data.experiment.headline
    label = head.label or head.kpi.replace("_", " ")
    return label[:1].upper() + label[1:]


def axis_label(data: ReportData) -> str:
    """The headline axis: its words and its unit."""
    return f"{headline_label(data)} ({headline_unit(data)})"


def span(data: ReportData, low: float, high: float) -> str:
    """A range of headline values: "39–68%", "+1.2k to +3.4k EUR"."""
    a, b = headline_number(data, low), headline_number(data, high)
    if data.experiment.headline.kind == "share" and a.endswith("%") and b.endswith("%"):
        return f"{a[:-1]}–{b}"
    unit_a, unit_b = a.rpartition(" ")[2], b.rpartition(" ")[2]
    if " " in a and unit_a == unit_b:  # the currency once: "+100 to +300 EUR"
        a = a.rpartition(" ")[0]
    return f"{a} to {b}"


def threshold_number(data: ReportData) -> str:
    """The claim's threshold as a number ("2%"), without a trailing ".0"."""
    text = headline_number(data, data.experiment.claim_test.value)
    return text.replace(".0%", "%")


def claim_text(data: ReportData) -> str:
    """The claim in words: its ``text``, else "2% or less" / "2% or more"."""
    test = data.experiment.claim_test
    return test.text or f"{threshold_number(data)} or {'less' if test.op == '<=' else 'more'}"


def has_claim(data: ReportData) -> bool:
    """Whether the experiment states a claim test to draw."""
    return bool(data.experiment.claim_test.op)


def holds(data: ReportData, value: float) -> bool:
    """Whether a headline value meets the claim."""
    test = data.experiment.claim_test
    return value <= test.value if test.op == "<=" else value >= test.value


def assumption_words(data: ReportData, name: str) -> str:
    """An assumption's label as written ("brand affinity (all segments)"), else its name."""
    a = data.experiment.assumptions.get(name)
    return a.label if a is not None and a.label else name.replace("_", " ")


def assumption_label(data: ReportData, name: str) -> str:
    """An assumption's label, capitalised (an axis or a bar)."""
    label = assumption_words(data, name)
    return label[:1].upper() + label[1:]


def assumption_value(data: ReportData, name: str, value: float) -> str:
    """An assumption's value: "×0.5" (a factor of the default) or the value itself."""
    a = data.experiment.assumptions.get(name)
    if a is not None and a.scale:
        return f"×{value:g}"
    return f"{value:.3g}"


def default_value(data: ReportData, name: str) -> float | None:
    """The assumption at the default: 1 for a scale, else the config's value of its first key."""
    from ecosim.config.paths import get_dotted

    a = data.experiment.assumptions.get(name)
    if a is None:
        return None
    if a.scale:
        return 1.0
    try:
        return float(get_dotted(data.config, a.keys[0]))
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return None


def default_row(data: ReportData) -> pd.Series | None:
    """The default run's row of the robustness table (value, low, high, n)."""
    rows = data.robustness[data.robustness["design"] == "default"] \
        if not data.robustness.empty else data.robustness
    return None if rows.empty else rows.iloc[0]


def tornado_table(data: ReportData) -> pd.DataFrame:
    """The tornado's bars, one row per assumption, widest swing first.

    Columns: ``low_value``/``high_value`` (the headline with the assumption at its low / high
    end), ``low_x``/``high_x`` (the assumption's values) and ``swing`` (|high − low|).
    """
    table = data.robustness
    if table.empty:
        return pd.DataFrame(columns=["assumption", "low_value", "high_value", "low_x", "high_x",
                                     "swing"])
    rows = table[table["design"] == "tornado"]
    wide = rows.pivot(index="assumption", columns="level", values=["value", "x"])
    out = pd.DataFrame({
        "assumption": wide.index,
        "low_value": wide[("value", "low")].to_numpy(float),
        "high_value": wide[("value", "high")].to_numpy(float),
        "low_x": wide[("x", "low")].to_numpy(float),
        "high_x": wide[("x", "high")].to_numpy(float),
    })
    out["swing"] = (out["high_value"] - out["low_value"]).abs()
    order = list(data.experiment.assumptions)  # ties keep the experiment's order
    out["order"] = [order.index(a) if a in order else len(order) for a in out["assumption"]]
    out = out.sort_values(["swing", "order"], ascending=[False, True], kind="stable")
    return out.drop(columns="order").reset_index(drop=True)


def _crossings(data: ReportData, table: pd.DataFrame, default: float) -> list[str]:
    """"brand affinity is low" for each variant whose verdict differs from the default's."""
    out = []
    for r in table.itertuples():
        for level, value in (("low", r.low_value), ("high", r.high_value)):
            if math.isfinite(value) and holds(data, value) != holds(data, default):
                out.append(f"{assumption_words(data, r.assumption)} is {level}")
    return out


def tornado_finding(data: ReportData) -> str:
    """The title: the headline's range as the assumptions move one at a time, against the claim.

    E.g. "The umbrella brand's share ... stays 39–68% as each assumption moves: never the
    claimed 2 % or less".
    """
    table, base = tornado_table(data), default_row(data)
    if table.empty or base is None:
        return ""
    values = np.array([base["value"], *table["low_value"], *table["high_value"]], float)
    values = values[np.isfinite(values)]
    text = (f"{headline_label(data)} stays {span(data, values.min(), values.max())} as each "
            f"assumption moves")
    if not has_claim(data):
        return f"{text}; {assumption_words(data, table['assumption'].iloc[0])} moves it most"
    claim = claim_text(data)
    met = [holds(data, v) for v in values]
    if not any(met):
        return f"{text}: never the claimed {claim}"
    if all(met):
        return f"{text}: always within the claimed {claim}"
    turns = _crossings(data, table, float(base["value"]))
    return (f"{headline_label(data)} is {headline_number(data, float(base['value']))} at the "
            f"default but crosses the claimed {claim} when {' or '.join(turns[:2])}")


def _annotate_end(ax: plt.Axes, x: float, y: float, text: str, right: bool) -> None:
    ax.annotate(text, (x, y), xytext=(8 if right else -8, 0), textcoords="offset points",
                ha="left" if right else "right", va="center", fontsize=14)


def _draw_bars(ax: plt.Axes, data: ReportData, table: pd.DataFrame, default: float) -> None:
    """Each bar in two shades, split at the default: light to the low end, dark to the high."""
    for y, r in enumerate(table.itertuples()):
        ends = [(r.low_value, LOW_COLOUR, r.low_x), (r.high_value, HIGH_COLOUR, r.high_x)]
        ends = [e for e in ends if math.isfinite(e[0])]
        # the longer segment first, so a shorter one on the same side stays visible
        for value, colour, _ in sorted(ends, key=lambda e: -abs(e[0] - default)):
            ax.barh(y, value - default, left=default,
                    height=0.6, color=colour)
        for value, _, x in ends:
            other = [e[0] for e in ends if e[0] != value]
            right = value >= default if not other else value >= other[0]
            _annotate_end(ax, value, y, assumption_value(data, r.assumption, x),
                          right)


def _draw_reference(ax: plt.Axes, x: float, row: float, text: str, colour: str,
                    style: str) -> Text:
    """A vertical line with its label on a headroom row above the bars (side chosen later)."""
    ax.axvline(x, color=colour, linestyle=style, linewidth=2.5, zorder=3)
    label = ax.annotate(text, (x, row), xytext=(8, 0), textcoords="offset points", ha="left",
                        va="center", fontsize=14, color=colour, fontweight="bold", zorder=5,
                        bbox={"boxstyle": "square,pad=0.15", "facecolor": "white",
                              "edgecolor": "none", "alpha": 0.85})
    label.set_in_layout(False)  # placed after the layout, inside the axes
    return label


def _place_label(ax: plt.Axes, label: Text, other: float | None) -> None:
    """Put a line's label beside its line, inside the axes and off the other line.

    Each label has its own headroom row, so labels never meet each other. The label goes on
    the side away from the other line if it fits there, else on the near side; where neither
    fits it slides along its row (over its own line) to stay clear of the other line.
    """
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    pad = 8 * ax.figure.dpi / 72  # 8 points, in pixels
    x = ax.transData.transform((label.xy[0], 0))[0]
    width = label.get_window_extent(renderer).width
    low, high = frame.x0, frame.x1
    away_right = (high - x) >= (x - low)
    if other is not None:
        o = ax.transData.transform((other, 0))[0]
        away_right = o <= x
        low, high = (o + pad, high) if o <= x else (low, o - pad)
    right, left = x + pad, x - pad - width
    candidates = [right, left] if away_right else [left, right]
    fitting = [x0 for x0 in candidates if low <= x0 and x0 + width <= high]
    if fitting:
        x0 = fitting[0]
    elif high - low >= width:
        x0 = min(max(x - width / 2, low), high - width)
    else:
        x0 = min(max(x - width / 2, frame.x0), frame.x1 - width)
    label.set_horizontalalignment("left")
    label.set_position(((x0 - x) * 72 / ax.figure.dpi, 0))


def plot_tornado(data: ReportData, stem: Path, title: str | None = None) -> list[Path]:
    """The tornado of the headline over the assumptions; the PNG and SVG paths.

    Raises:
        ValueError: when the run has no robustness table (run it with ``robustness=true``).
    """
    table, base = tornado_table(data), default_row(data)
    if table.empty or base is None:
        raise ValueError("robustness: the run has no tornado rows (run with robustness=true)")
    title = title or tornado_finding(data)
    default = float(base["value"])
    n = len(table)
    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SLIDE_SIZE)
        if math.isfinite(base["low"]) and math.isfinite(base["high"]):
            ax.axvspan(base["low"], base["high"], color=NOISE_COLOUR,
                       alpha=0.45, zorder=0, linewidth=0)
        _draw_bars(ax, data, table, default)
        claim_x = data.experiment.claim_test.value if has_claim(data) else None
        if claim_x is not None:  # the claim's line is in view even when far from the bars
            ax.axvline(claim_x, alpha=0)
        ax.margins(x=0.12)
        ax.autoscale_view()
        ax.set_xlim(ax.get_xlim())  # fixed before the labels choose their side
        # two headroom rows above the first bar carry the lines' labels, one each
        noise = (f" (grey: noise {span(data, base['low'], base['high'])})"
                 if math.isfinite(base["low"]) and math.isfinite(base["high"]) else "")
        labels = [(_draw_reference(ax, default, -0.75,
                                   f"Default: {headline_number(data, default)}{noise}",
                                   "#333333", "-"), claim_x)]
        if claim_x is not None:
            labels.append((_draw_reference(ax, claim_x, -1.3, f"Claim: {claim_text(data)}",
                                           CLAIM_COLOUR, "--"), default))
        ax.set_yticks(range(n), [assumption_label(data, a) for a in table["assumption"]])
        ax.set_ylim(n - 0.4, -1.65)
        ax.xaxis.set_major_formatter(axis_formatter(data))
        ax.set_xlabel(wrap_to(axis_label(data), 0.55 * SLIDE_SIZE[0],
                              plt.rcParams["axes.labelsize"]))
        ax.grid(axis="y", visible=False)
        finish(fig, title,
               f"Bars: over assumptions (one at a time, others at default); light: the "
               f"assumption at its low value, dark: at its high value (×: a factor of the "
               f"default). Band: simulation noise (95% over {int(base['n'])} replications of "
               f"the default).")
        for label, other in labels:
            _place_label(ax, label, other)
        return save(fig, Path(stem))
