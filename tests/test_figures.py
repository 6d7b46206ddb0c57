"""Every figure reads on a slide: no two texts overlap, none leaves the figure, names are words.

The figures are drawn for small real runs of three kinds: an experiment with factors (a Shapley
split), one with seven long-named arms and no factors (drawn twice: every arm against the first,
and in groups of arms to compare), and a scenario without arms with 13 firms.
``style.captured_figures`` keeps each figure instead of writing it, and ``style.text_overlaps``
checks every text it draws.
"""

from __future__ import annotations

import importlib.util
import math
import re
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ecosim.config import arm_configs, register_configs
from ecosim.config.store import CONF_DIR
from ecosim.experiment import run_experiment
from ecosim.report import ReportData, segments, style
from ecosim.report.figures import draw_figures, plan_figures
from ecosim.report.findings import effect_headline
from ecosim.report.kpi_bars import compared, group_effects, kpi_bars_finding
from ecosim.report.labels import display_name, name_in

SMALL = ["customers.n=2000", "time.horizon=12", "replications=2", "output.figures=false"]
#: Firms added to the default market's ten for the scenario (as experiments add them).
EXTRA_FIRMS = {"grocery_partner": "grocer", "rival_lender": "neobank", "dash": "food_delivery"}
SLIDE_RATIO = 16 / 9


def compose_tree(overrides: list[str]) -> dict:
    """The composed config of ``conf/`` with the small-run overrides, as a plain tree."""
    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        raw = compose("config", overrides=[*SMALL, *overrides])
    tree = OmegaConf.to_container(raw, resolve=True)
    if "experiment" in tree:  # its robustness design (variants' replications) is not drawn here
        tree["experiment"].pop("robustness", None)
    return tree


def run(tree: dict) -> ReportData:
    return ReportData.from_result(run_experiment(arm_configs(tree), progress=False))


def factor_tree() -> dict:
    """umbrella_vs_convenience with only the arms of its 2 × 2 (the factors' arms)."""
    tree = compose_tree(["experiment=umbrella_vs_convenience"])
    exp = tree["experiment"]
    keep = set(exp["factors"])
    named = keep | {f for on in exp["factors"].values() for f in on}
    exp["arms"] = {arm: v for arm, v in exp["arms"].items() if arm in keep}
    exp["labels"] = {k: v for k, v in (exp.get("labels") or {}).items() if k in named}
    exp["compare"] = [g for g in ([a for a in group if a in keep]
                                  for group in exp.get("compare") or []) if len(g) > 1]
    return tree


def long_arms_tree() -> dict:
    """silos_vs_value_streams as it was: seven snake_case arms, no labels, no groups."""
    tree = compose_tree(["experiment=silos_vs_value_streams"])
    tree["experiment"].update(labels={}, compare=[])
    return tree


def with_compare(data: ReportData, compare: list[list[str]]) -> ReportData:
    """The same run, its figures comparing ``compare``'s groups of arms."""
    experiment = replace(data.config.experiment, compare=compare)
    return replace(data, config=replace(data.config, experiment=experiment))


def scenario_tree() -> dict:
    """The default market without arms, with three more firms (13): copies without shares."""
    tree = compose_tree(["events=[]"])
    for new, old in EXTRA_FIRMS.items():
        firm = dict(tree["firms"][old])
        firm.pop("initial_share", None)
        tree["firms"][new] = firm
    return tree


@pytest.fixture(scope="module")
def runs() -> dict[str, ReportData]:
    """The small runs, by kind."""
    long_arms = run(long_arms_tree())
    return {
        "factors": run(factor_tree()),
        "long_arms": long_arms,
        # silo is one group's arm and the next group's reference
        "groups": with_compare(long_arms, [["no_cross_sell", "silo"], ["silo", "value_stream"],
                                           ["silo_heavy", "value_stream_heavy"]]),
        "scenario": run(scenario_tree()),
    }


@pytest.fixture(scope="module")
def drawn(runs, tmp_path_factory) -> dict[str, list[plt.Figure]]:
    """Every figure ``plan_figures`` gives each run, drawn and kept open."""
    out = {}
    for kind, data in runs.items():
        with style.captured_figures() as figures, plt.rc_context({"figure.max_open_warning": 0}):
            draw_figures(plan_figures(data), tmp_path_factory.mktemp(kind))
        out[kind] = list(figures)
    yield out
    for figures in out.values():
        for fig in figures:
            plt.close(fig)


def texts_of(fig: plt.Figure) -> list[str]:
    return [t.get_text() for t in style.drawn_texts(fig)]


def check_readable(fig: plt.Figure) -> None:
    """No overlapping text, none outside, no snake_case, 16:9."""
    assert style.text_overlaps(fig) == [], fig.get_label()
    snake = [t for t in texts_of(fig) if "_" in t]
    assert snake == [], (fig.get_label(), snake)
    width, height = fig.get_size_inches()
    assert width / height == pytest.approx(SLIDE_RATIO, rel=0.01)


@pytest.mark.parametrize("kind", ["factors", "long_arms", "groups", "scenario"])
def test_every_figure_is_readable(drawn, kind) -> None:
    figures = drawn[kind]
    names = [fig.get_label() for fig in figures]
    assert len(names) >= 6 and "kpi_bars" in names and "market_share_by_need" in names
    for fig in figures:
        check_readable(fig)


def test_overlap_check_finds_overlaps_and_texts_outside() -> None:
    fig, ax = plt.subplots(figsize=style.SLIDE_SIZE)
    ax.set_title("a title")
    ax.text(0.5, 0.5, "first label", transform=ax.transAxes, fontsize=20)
    ax.text(0.51, 0.5, "second label", transform=ax.transAxes, fontsize=20)
    ax.text(0.1, 0.9, "far away", transform=ax.transAxes)
    fig.text(0.99, 0.5, "a note that leaves the slide")
    ax.text(0.3, 0.3, "", transform=ax.transAxes)  # empty: not a text on the slide
    found = style.text_overlaps(fig)
    plt.close(fig)
    assert ("first label", "second label") in found
    assert ("a note that leaves the slide", "outside the figure") in found
    assert not any("far away" in pair or "a title" in pair for pair in found)


def test_twenty_firms_get_distinct_colours() -> None:
    """Every pair of 24 firm colours differs by at least 14 CIEDE2000 units.

    A difference of about 1 is just noticeable side by side; 10 and more tells categories apart
    at a glance in a legend. The old palette repeated itself from the eleventh firm.
    """
    firms = [f"firm_{i}" for i in range(24)]
    colours = list(style.firm_colours(firms).values())
    assert len(set(colours)) == 24
    gaps = [style.colour_difference(a, b)
            for i, a in enumerate(colours) for b in colours[i + 1:]]
    assert min(gaps) >= 14.0
    assert style.firm_colours(["bank"])["bank"] == "#1f4e79"  # the first ten stay as they were
    more = list(style.firm_colours([f"f{i}" for i in range(40)]).values())
    assert len(set(more)) == 40
    # an arm's bar in the streamer's dark grey would read as the grey reference bar
    assert style.apart_from_baseline("#595959") != "#595959"
    assert style.apart_from_baseline("#1f4e79") == "#1f4e79"


def test_colour_difference_matches_the_ciede2000_reference() -> None:
    # Sharma, Wu and Dalal (2005), pairs 1 and 7 of their test data
    assert style.delta_e((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425,
                                                                                      abs=1e-4)
    assert style.delta_e((50, 0, 0), (50, -1, 2)) == pytest.approx(2.3669, abs=1e-4)
    assert style.colour_difference("#000000", "#ffffff") == pytest.approx(100.0, abs=0.01)


def test_display_names_are_words() -> None:
    labels = {"neither": "Separate brand, no convenience"}
    assert display_name("food_delivery") == "food delivery"
    assert display_name("silo_heavy_tired", capital=True) == "Silo heavy tired"
    assert display_name("neither", labels) == "Separate brand, no convenience"
    assert display_name("both", labels) == "both"


def test_names_come_from_the_experiment(runs) -> None:
    data = runs["factors"]
    assert name_in(data, "both") == "Umbrella brand + convenience"
    assert name_in(data, "food_delivery") == "food delivery"
    titles = " ".join(spec.title for spec in plan_figures(data))
    assert "_" not in titles


def test_a_cost_is_never_a_lift(runs) -> None:
    """More contacts or more churn "raises" a KPI; only a KPI where more is better "lifts"."""
    data = runs["long_arms"]
    pairs = group_effects(compared(data, "bank"), "bank", "cum_contacts")
    effect = max((e for e, _ in pairs), key=lambda e: e.diff)
    assert effect.diff > 0
    text = effect_headline(effect, "no_cross_sell")
    assert " raises bank's total contacts by " in text and "lift" not in text
    title = kpi_bars_finding(data.summary, "bank", "cum_contacts", data.arms)
    assert "lift" not in title and "_" not in title


def _number_texts(fig: plt.Figure) -> dict[str, str]:
    """The numbers right of the KPI panels: their text -> their colour."""
    return {t.get_text(): t.get_color() for t in style.drawn_texts(fig)
            if re.fullmatch(r"[+−±][\d.,]+[kMB]?( pp|×)?", t.get_text())}


def test_kpi_bars_colour_a_cost_that_rises_as_worse(drawn, runs) -> None:
    """Churn up is red, profit up is green, contacts (no good direction) are grey."""
    from ecosim.report.kpi_bars import BETTER, NEUTRAL, WORSE
    from ecosim.report.labels import format_difference

    data = runs["long_arms"]
    fig = next(f for f in drawn["long_arms"] if f.get_label() == "kpi_bars")
    numbers = _number_texts(fig)
    s = data.summary
    for kpi, up, down in (("cum_contacts", NEUTRAL, NEUTRAL), ("churn_rate", WORSE, BETTER),
                          ("cum_profit", BETTER, WORSE)):
        rows = s[(s["firm"] == "bank") & (s["kpi"] == kpi) & (s["arm"] != data.baseline)]
        for diff in rows["diff_mean"]:
            if not math.isfinite(diff) or diff == 0:
                continue
            text = format_difference(kpi, diff)
            assert text in numbers, (kpi, text)
            if kpi == "cum_contacts" or all(
                    format_difference(k, d) != text for k, d in
                    zip(s["kpi"], s["diff_mean"], strict=True) if k != kpi):
                assert numbers[text] == (up if diff > 0 else down), (kpi, text)


def test_compare_groups_pair_each_arm_with_its_own_reference(runs, drawn) -> None:
    """value_stream is compared with silo (per replication), not with no_cross_sell; arms
    outside the groups are left out of the bars."""
    data = runs["groups"]
    groups = compared(data, "bank")
    assert [g for g, _ in groups] == [["no_cross_sell", "silo"], ["silo", "value_stream"],
                                      ["silo_heavy", "value_stream_heavy"]]
    k = data.kpis[data.kpis["firm"] == "bank"].set_index(["arm", "replication"])["cum_profit"]
    expected = np.mean(k.loc["value_stream"] - k.loc["silo"])
    pairs = {(e.arm, ref): e for e, ref in group_effects(groups, "bank", "cum_profit")}
    assert set(pairs) == {("silo", "no_cross_sell"), ("value_stream", "silo"),
                          ("value_stream_heavy", "silo_heavy")}
    assert pairs[("value_stream", "silo")].diff == pytest.approx(expected)
    assert pairs[("value_stream", "silo")].diff != pytest.approx(
        np.mean(k.loc["value_stream"] - k.loc["no_cross_sell"]))
    bars = next(f for f in drawn["groups"] if f.get_label() == "kpi_bars")
    ticks = [t.get_text() for t in bars.axes[0].get_yticklabels()]
    assert ticks == ["No cross sell", "Silo", "Silo", "Value stream", "Silo heavy",
                     "Value stream heavy"]
    shares = next(f for f in drawn["groups"] if f.get_label() == "market_share_by_need")
    panels = [ax.get_title() for ax in shares.axes if ax.get_title()]
    assert panels[0] == "No cross sell" and len(panels) == 2


def test_market_share_keeps_one_colour_per_firm(drawn, runs) -> None:
    fig = next(f for f in drawn["scenario"] if f.get_label() == "market_share_by_need")
    legend = fig.legends[0]
    colours = [tuple(h.get_facecolor()) for h in legend.legend_handles]
    assert len(colours) == len(set(colours)) >= 11


def test_segment_potential_figure_is_readable(tmp_path) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for segment in ["young_urban_professionals", "families_with_children", "retired_savers",
                    "students", segments.ALL]:
        base = rng.uniform(2e5, 9e5)
        rows.append({"segment": segment, "base": base, "base_low": 0.95 * base,
                     "base_high": 1.05 * base, "arm": 1.2 * base, "arm_low": 1.15 * base,
                     "arm_high": 1.25 * base, "diff": 0.2 * base, "diff_low": 0.15 * base,
                     "diff_high": 0.25 * base, "relative": 0.2, "relative_low": 0.15,
                     "relative_high": 0.25, "n": 4})
    table = pd.DataFrame(rows)
    title = segments.potential_finding(table, "bank", "ecosystem_growing")
    with style.captured_figures() as figures:
        segments.plot_segment_potential(table, "bank", "today_growing", "ecosystem_growing",
                                        "#1f4e79", tmp_path / "segment_potential", title,
                                        "a note on the sample")
    check_readable(figures[0])
    plt.close(figures[0])


def _cx_module():
    path = Path(__file__).resolve().parents[1] / "experiments" / "cx_price_resistance_figure.py"
    spec = importlib.util.spec_from_file_location("cx_price_resistance_figure", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cx_price_resistance_figure_is_readable(tmp_path) -> None:
    cx = _cx_module()
    levels, experience = ["poor", "ordinary", "good"], {"poor": 0.7, "ordinary": 1.0, "good": 1.5}
    rows = []
    for rep in range(4):
        for level, slope in (("poor", 1.3), ("ordinary", 1.0), ("good", 0.7)):
            for rise in (0, 5, 10, 15, 20, 30, 40):
                response = slope * rise * (1 + 0.05 * rep)
                rows.append({"level": level, "rise": rise, "replication": rep,
                             "response": response, "response_pct": response / 10,
                             "start": 1000.0})
    resp = pd.DataFrame(rows)
    cross = cx.analyse(resp, "ordinary", 10)
    result = {lv: (cx.mean_ci(cross.loc[cross["level"] == lv, "passable"].to_numpy()),
                   cx.mean_ci(100 * (cross.loc[cross["level"] == lv, "passable"].to_numpy()
                                     / 10 - 1)), 0) for lv in levels}
    with style.captured_figures() as figures:
        cx.figure(resp, cross, result, result, levels, experience, "ordinary", 10, "churn",
                  tmp_path / "passable_rise.png", "20 000 customers")
    check_readable(figures[0])
    plt.close(figures[0])
