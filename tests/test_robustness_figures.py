"""The robustness figures: the tornado and the map of the headline over its assumptions.

Each test builds a ``ReportData`` from the worked example's validated config
(``conf/experiment/umbrella_vs_convenience``), a synthetic KPI table (so the headline exists) and
a synthetic robustness table whose numbers the test chooses; nothing is simulated. The figures
are checked through the matplotlib objects they draw: the bars' order and ends, the claim's line,
the contour, the titles, no text overlapping other text, no raw key names.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from matplotlib.collections import QuadMesh
from matplotlib.text import Text

from ecosim.config import load_config, register_configs
from ecosim.config.store import CONF_DIR
from ecosim.report import figures, robustness_map, style, tornado
from ecosim.report.data import ReportData
from ecosim.report.verdict import verdict_title

FACTOR_ARMS = {"neither": 10.0, "umbrella": 11.0, "convenience": 11.0, "both": 12.0}
#: The tornado's synthetic swings: assumption -> headline at its low and at its high value.
SWINGS = {"brand_affinity": (0.40, 0.70), "context_reach": (0.60, 0.50),
          "entry_bonus": (0.52, 0.58)}
DEFAULT = 0.55


@pytest.fixture(scope="module")
def base_config():
    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        raw = compose("config", overrides=["experiment=umbrella_vs_convenience",
                                           "customers.n=1000", "replications=3"])
    return load_config(raw)


def robustness_table(map_values: np.ndarray, default: float = DEFAULT,
                     swings: dict[str, tuple[float, float]] = SWINGS,
                     reach_high: float = 2.0) -> pd.DataFrame:
    """A robustness.csv: the default, the tornado of ``swings``, the map ``values[i, j]`` over
    brand affinity ×0.5..×1.5 (i) and context reach ×0.5..×``reach_high`` (j)."""
    rows = [("default", "-", "-", math.nan, math.nan, default)]
    factors = {"brand_affinity": (0.5, 1.5), "context_reach": (0.5, 2.0),
               "entry_bonus": (0.5, 1.5)}
    for name, (low, high) in swings.items():
        rows += [("tornado", name, "low", factors[name][0], math.nan, low),
                 ("tornado", name, "high", factors[name][1], math.nan, high)]
    k = map_values.shape[0]
    xs, ys = np.linspace(0.5, 1.5, k), np.linspace(0.5, reach_high, k)
    for i in range(k):
        for j in range(k):
            rows.append(("map", "brand_affinity|context_reach", f"{i},{j}", xs[i], ys[j],
                         map_values[i, j]))
    table = pd.DataFrame(rows, columns=["design", "assumption", "level", "x", "y", "value"])
    table["low"], table["high"], table["n"] = table["value"] - 0.05, table["value"] + 0.05, 3
    return table


def report_data(config, table: pd.DataFrame, claim: float = 0.02) -> ReportData:
    """A ReportData with a headline of about 50% (additive factors) and the given table."""
    config = copy.deepcopy(config)
    config.experiment.claim_test.value = claim
    if claim != 0.02:  # the claim's words follow its number
        config.experiment.claim_test.text = ""
    rng = np.random.default_rng(1)
    kpis = pd.DataFrame([{"arm": arm, "replication": r, "firm": "bank",
                          "arpu": mean + rng.normal(0, 0.05)}
                         for arm, mean in FACTOR_ARMS.items() for r in range(3)])
    arms = list(config.experiment.arms)
    firm_metrics = pd.DataFrame({"arm": arms, "replication": 0, "step": 0})
    empty = pd.DataFrame()
    return ReportData(config=config, firm_metrics=firm_metrics, unit_metrics=empty,
                      cohort_retention=empty, kpis=kpis, summary=empty, robustness=table)


def drawn(monkeypatch, draw) -> plt.Figure:
    """The figure ``draw()`` builds, caught before ``save`` closes it (files still written)."""
    caught = []
    original = style.save

    def keep(fig, stem):
        fig.canvas.draw()
        caught.append(fig)
        paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
        for path in paths:
            fig.savefig(path)
        return paths

    for module in (tornado, robustness_map):
        monkeypatch.setattr(module, "save", keep)
    draw()
    assert original is not keep
    return caught[0]


def texts(fig: plt.Figure) -> list[Text]:
    """Every visible, non-empty text the figure draws (a tick outside the view is not drawn)."""
    return style.drawn_texts(fig)


def overlaps(fig: plt.Figure) -> list[tuple[str, str]]:
    """Pairs of drawn texts whose boxes overlap, and texts that leave the figure (the house
    checker ``style.text_overlaps`` where it exists)."""
    if hasattr(style, "text_overlaps"):
        return list(style.text_overlaps(fig))
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer).shrunk(0.98, 0.98))
             for t in texts(fig)]
    found = [(a, "outside the figure") for a, box in boxes
             if not fig.bbox.padded(2).contains(box.x0, box.y0)
             or not fig.bbox.padded(2).contains(box.x1, box.y1)]
    return found + [(a, b) for n, (a, box_a) in enumerate(boxes) for b, box_b in boxes[n + 1:]
                    if box_a.overlaps(box_b)]


def check_slide(fig: plt.Figure) -> None:
    assert overlaps(fig) == []
    assert [t.get_text() for t in texts(fig) if "_" in t.get_text()] == []


FAR = np.array([[0.39, 0.43, 0.49], [0.61, 0.54, 0.49], [0.68, 0.60, 0.55]])


def test_tornado_bars_follow_the_swing_and_the_claim_line(base_config, tmp_path, monkeypatch):
    data = report_data(base_config, robustness_table(FAR))
    fig = drawn(monkeypatch, lambda: tornado.plot_tornado(data, tmp_path / "tornado"))
    assert (tmp_path / "tornado.png").stat().st_size > 10_000
    assert (tmp_path / "tornado.svg").is_file()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    # swings 0.30, 0.10, 0.06: widest on top (the y axis is inverted: position 0 is the top)
    assert labels == ["Brand affinity (all segments)", "Context reach of the ecosystem",
                      "One-entry convenience bonus"]
    assert ax.yaxis_inverted()
    # every bar starts at the default; each assumption's ends are its low and high headline
    bars = [p for p in ax.patches if p.get_height() == pytest.approx(0.6)]
    for y, name in enumerate(["brand_affinity", "context_reach", "entry_bonus"]):
        mine = [b for b in bars if b.get_y() == pytest.approx(y - 0.3)]
        ends = sorted(b.get_x() + b.get_width() for b in mine)
        assert ends == pytest.approx(sorted(SWINGS[name]))
        assert all(b.get_x() == pytest.approx(DEFAULT) for b in mine)
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_xdata()[0] == pytest.approx(0.02)
    words = [t.get_text() for t in texts(fig)]
    assert "Claim: 2 % or less" in words
    assert {"×0.5", "×1.5", "×2"} <= set(words)
    assert "simulation noise (95% over 3 replications" in fig.texts[0].get_text()
    assert ax.xaxis.get_major_formatter()(0.4, 0) == "40%"
    check_slide(fig)


def test_tornado_finding_names_the_range_and_the_claim(base_config):
    data = report_data(base_config, robustness_table(FAR))
    text = tornado.tornado_finding(data)
    assert "stays 40–70%" in text  # the tornado's lowest and highest, with the default
    assert text.endswith("never the claimed 2 % or less")
    crossing = report_data(base_config, robustness_table(FAR), claim=0.45)
    text = tornado.tornado_finding(crossing)
    # with the claim at <= 45 %, only brand affinity at its low end (40 %) meets it
    assert text.endswith("crosses the claimed 45% or less when brand affinity (all "
                         "segments) is low")
    assert "is 55% at the default" in text


def test_map_draws_the_claim_contour_inside_its_range(base_config, tmp_path, monkeypatch):
    data = report_data(base_config, robustness_table(FAR), claim=0.5)
    fig = drawn(monkeypatch, lambda: robustness_map.plot_map(data, tmp_path / "map"))
    assert (tmp_path / "map.png").is_file() and (tmp_path / "map.svg").is_file()
    ax = fig.axes[0]
    contours = [c for c in ax.collections if hasattr(c, "levels")]
    assert len(contours) == 1 and list(contours[0].levels) == [0.5]
    assert len([c for c in ax.collections if isinstance(c, QuadMesh)]) == 1
    cells = sorted(t.get_text() for t in ax.texts)
    assert cells == sorted(f"{round(100 * v)}%" for v in FAR.ravel())
    title = robustness_map.map_finding(data)
    # four of the nine cells are at or below 50 %
    assert "at 4 of 9 points of the map" in title
    default = [line for line in ax.get_lines() if line.get_marker() == "D"]
    assert default[0].get_xdata()[0] == 1.0 and default[0].get_ydata()[0] == 1.0
    check_slide(fig)


def test_map_says_when_the_claim_lies_outside(base_config, tmp_path, monkeypatch):
    data = report_data(base_config, robustness_table(FAR))
    fig = drawn(monkeypatch, lambda: robustness_map.plot_map(data, tmp_path / "map"))
    assert not [c for c in fig.axes[0].collections if hasattr(c, "levels")]
    title = robustness_map.map_finding(data)
    assert title.endswith("the claim's 2% line lies outside the map")
    assert "stays 39–68%" in title
    assert "lies outside the map" in fig.texts[0].get_text()  # and the note says so
    check_slide(fig)


def test_a_two_by_two_map_still_contours(base_config, tmp_path, monkeypatch):
    data = report_data(base_config, robustness_table(np.array([[0.1, 0.3], [0.2, 0.6]])),
                       claim=0.25)
    fig = drawn(monkeypatch, lambda: robustness_map.plot_map(data, tmp_path / "small"))
    assert len([c for c in fig.axes[0].collections if hasattr(c, "levels")]) == 1
    check_slide(fig)


def test_a_default_on_a_grid_point_moves_its_cell_label(base_config, tmp_path, monkeypatch):
    # context reach ×0.5..×1.5: the default (×1, ×1) is the centre cell
    data = report_data(base_config, robustness_table(FAR, reach_high=1.5), claim=0.5)
    fig = drawn(monkeypatch, lambda: robustness_map.plot_map(data, tmp_path / "centre"))
    centre = [t for t in fig.axes[0].texts if t.get_text() == "54%"][0]
    assert centre.xy == (1.0, 1.0) and centre.get_position()[1] > 0
    check_slide(fig)


def test_robustness_specs_and_the_verdict_title(base_config, tmp_path):
    data = report_data(base_config, robustness_table(FAR))
    specs = figures.robustness_specs(data)
    assert [s.name for s in specs] == ["robustness_tornado", "robustness_map"]
    assert specs[0].title == tornado.tornado_finding(data)
    assert specs[1].title == robustness_map.map_finding(data)
    for spec in specs:
        assert "simulation noise" in spec.caption and "over assumptions" in spec.caption
    assert [p.name for p in figures.draw_figures(specs, tmp_path)] == [
        "robustness_tornado.png", "robustness_tornado.svg", "robustness_map.png",
        "robustness_map.svg"]
    assert figures.robustness_specs(report_data(base_config, pd.DataFrame())) == []
    # the headline figure's title is the verdict: about 50 %, not the claimed 2 %
    title = figures.headline_title(data)
    assert title == verdict_title(data)
    assert title.startswith("The umbrella brand's share of the bank's ARPU uplift: 5")
    assert title.endswith("not the claimed 2 % or less")


def test_missing_rows_raise_one_line(base_config, tmp_path):
    data = report_data(base_config, pd.DataFrame())
    with pytest.raises(ValueError, match="robustness=true"):
        tornado.plot_tornado(data, tmp_path / "t")
    with pytest.raises(ValueError, match="no map rows"):
        robustness_map.plot_map(data, tmp_path / "m")
    assert tornado.tornado_finding(data) == "" and robustness_map.map_finding(data) == ""


def test_bar_ends_of_a_set_value_assumption(base_config):
    data = report_data(base_config, robustness_table(FAR))
    data.experiment.assumptions["entry_bonus"].scale = False
    assert tornado.assumption_value(data, "entry_bonus", 0.25) == "0.25"
    assert tornado.default_value(data, "entry_bonus") == pytest.approx(
        data.config.firms["bank"].ecosystem.entry_bonus)
    assert tornado.default_value(data, "brand_affinity") == 1.0


def test_files_keep_their_paths(base_config, tmp_path):
    data = report_data(base_config, robustness_table(FAR))
    paths = tornado.plot_tornado(data, tmp_path / "t") + robustness_map.plot_map(data,
                                                                                 tmp_path / "m")
    assert [p.name for p in paths] == ["t.png", "t.svg", "m.png", "m.svg"]
    assert all(Path(p).stat().st_size > 0 for p in paths)


def test_a_money_headline_is_drawn_for_the_market(base_config, tmp_path, monkeypatch):
    """An effect on a total (cumulative profit) is drawn as recorded: the market's money."""
    data = report_data(base_config, robustness_table(FAR, default=200.0,
                                                     swings={"brand_affinity": (100.0, 300.0)}))
    head = data.experiment.headline
    head.kind, head.kpi, head.arm, head.baseline, head.factor = (
        "effect", "cum_profit", "both", "neither", None)
    head.label = "the bank's profit gained"
    test = data.experiment.claim_test
    test.op, test.value, test.text = ">=", 400.0, ""
    assert data.customer_weight == pytest.approx(100)  # 100 000 market customers, 1 000 simulated
    fig = drawn(monkeypatch, lambda: tornado.plot_tornado(data, tmp_path / "money"))
    ax = fig.axes[0]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert dashed[0].get_xdata()[0] == pytest.approx(400.0)
    ends = sorted(p.get_x() + p.get_width() for p in ax.patches if p.get_height() == 0.6)
    assert ends == pytest.approx([100.0, 300.0])
    assert "%" not in ax.xaxis.get_major_formatter()(250.0, 0)
    assert "EUR" in ax.get_xlabel() and "market of 100,000 customers" in ax.get_xlabel()
    # the long default label has no room right of its line before the claim's: it stays left
    # of the claim's line and inside the axes
    renderer = fig.canvas.get_renderer()
    label = [t for t in ax.texts if t.get_text().startswith("Default: +200 EUR")][0]
    box, frame = label.get_window_extent(renderer), ax.get_window_extent(renderer)
    claim_x = ax.transData.transform((400.0, 0))[0]
    assert box.x1 < claim_x and box.x0 >= frame.x0
    finding = tornado.tornado_finding(data)
    assert "stays +100 to +300 EUR" in finding
    assert finding.endswith("never the claimed +400 EUR or more")
    check_slide(fig)
