"""The headline, its intervals, the verdict, and the robustness runner.

Closed forms: an effect is the paired difference (its interval the paired t interval of
``experiment_summary``); a share of an additive uplift is the factor's own term; the delta-method
interval of a ratio of means covers the true ratio at its nominal rate. The runner: variants are
planned and validated before anything runs, scale changes act after the arms' own overrides, and
a parameter that cannot touch the headline leaves it identical to the draw (common random
numbers).
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from ecosim.config import ConfigError, arm_configs, load_config, register_configs
from ecosim.config.paths import get_dotted
from ecosim.config.schema import ClaimTestConfig, ExperimentConfig, HeadlineConfig
from ecosim.config.store import CONF_DIR
from ecosim.experiment import run_experiment
from ecosim.metrics.headline import (
    Headline,
    assumption_range,
    compute_headline,
    dominant,
    verdict,
)
from ecosim.metrics.summary import experiment_summary, shapley_split
from ecosim.robustness import Plan, grid_values, plan, prepare, run_robustness

TINY = ["customers.n=1000", "time.horizon=6", "replications=2", "output.figures=false",
        "experiment.robustness.replications=2",
        "experiment.robustness.grid=2"]


def compose_experiment(name: str, overrides: list[str]):
    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[f"experiment={name}", *overrides])


def kpi_table(values: dict[str, np.ndarray], firm: str = "bank", kpi: str = "arpu"):
    """A KPI table (arm, replication, firm, kpi) from per-arm arrays over replications."""
    rows = [{"arm": arm, "replication": r, "firm": firm, kpi: float(v)}
            for arm, series in values.items() for r, v in enumerate(series)]
    return pd.DataFrame(rows)


def experiment(**headline) -> ExperimentConfig:
    arms = {"neither": {}, "a": {}, "b": {}, "both": {}}
    factors = {"neither": [], "a": ["a"], "b": ["b"], "both": ["a", "b"]}
    return ExperimentConfig(name="x", arms=arms, factors=factors, focus_firm="bank",
                            headline=HeadlineConfig(**headline))


def test_effect_is_the_paired_difference_of_the_summary() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(10, 2, 8)
    values = {"neither": base, "a": base + rng.normal(1, 0.5, 8), "b": base, "both": base}
    table = kpi_table(values)
    head = compute_headline(table, experiment(kind="effect", kpi="arpu", arm="a"))
    row = experiment_summary(table).query("arm == 'a' and kpi == 'arpu'").iloc[0]
    assert head.value == pytest.approx(row["diff_mean"], rel=1e-12)
    assert (head.low, head.high) == pytest.approx((row["diff_ci_low"], row["diff_ci_high"]),
                                                  rel=1e-9)
    assert head.n == 8


def test_share_of_an_additive_uplift_is_the_factors_own_term() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(10, 2, 6)
    values = {"neither": base, "a": base + 3, "b": base + 1, "both": base + 4}
    table = kpi_table(values)
    exp = experiment(kind="share", kpi="arpu", factor="a")
    head = compute_headline(table, exp)
    assert head.value == pytest.approx(0.75, abs=1e-12)
    assert head.high - head.low == pytest.approx(0.0, abs=1e-9)  # no noise in the split
    shapley = shapley_split(table, exp.factors, "bank", "arpu")
    assert head.value == pytest.approx(
        shapley.set_index("factor").at["a", "share_of_uplift"], rel=1e-12)


def test_relative_effect_of_a_proportional_change() -> None:
    base = np.array([8.0, 10.0, 12.0, 9.0])
    values = {"neither": base, "a": 1.1 * base, "b": base, "both": base}
    head = compute_headline(kpi_table(values), experiment(kind="relative_effect", kpi="arpu",
                                                          arm="a"))
    assert head.value == pytest.approx(0.1, abs=1e-12)
    assert head.high - head.low == pytest.approx(0.0, abs=1e-9)


def test_delta_method_interval_covers_the_true_ratio_at_its_nominal_rate() -> None:
    """400 experiments of 20 replications, true share 0.4: coverage 0.95 ± 3 binomial sd."""
    rng = np.random.default_rng(3)
    exp = experiment(kind="share", kpi="arpu", factor="a")
    covered, trials = 0, 400
    for _ in range(trials):
        base = rng.normal(10, 1, 20)
        a, b = rng.normal(2, 1, 20), rng.normal(3, 1, 20)
        values = {"neither": base, "a": base + a, "b": base + b, "both": base + a + b}
        head = compute_headline(kpi_table(values), exp)
        covered += head.low <= 0.4 <= head.high
    half = 3 * math.sqrt(0.95 * 0.05 / trials)
    assert abs(covered / trials - 0.95) < half


@pytest.mark.parametrize(("headline", "span", "holds", "confidence", "cross"), [
    (Headline(0.48, 0.41, 0.55, 6), (0.30, 0.70), False, "high", False),
    (Headline(0.48, 0.41, 0.55, 6), (0.01, 0.70), False, "medium", True),
    (Headline(0.03, -0.01, 0.07, 6), (0.01, 0.70), False, "low", True),
    (Headline(0.01, 0.005, 0.015, 6), (0.0, 0.019), True, "high", False),
    (Headline(0.48, 0.41, 0.55, 6), None, False, "high", None),
])
def test_verdict_reads_noise_and_assumptions_apart(headline, span, holds, confidence,
                                                   cross) -> None:
    result = verdict(headline, ClaimTestConfig(op="<=", value=0.02, text="2 %"), span)
    assert (result.holds, result.confidence) == (holds, confidence)
    assert result.assumptions_cross is cross


def test_verdict_without_a_claim_test_is_not_rated() -> None:
    assert verdict(Headline(1.0, 0.5, 1.5, 3), ClaimTestConfig()).confidence == "n/a"


def test_range_and_dominant_assumptions() -> None:
    table = pd.DataFrame({
        "design": ["default", "tornado", "tornado", "tornado", "tornado"],
        "assumption": ["-", "x", "x", "y", "y"],
        "value": [0.5, 0.45, 0.55, 0.2, 0.9]})
    assert assumption_range(table) == (0.2, 0.9)
    assert dominant(table, 2) == ["y", "x"]
    assert assumption_range(table.iloc[:1]) is None


# -- the runner on the umbrella experiment -------------------------------------------------------

def test_plan_has_two_variants_per_assumption_then_the_map() -> None:
    cfg = load_config(compose_experiment("umbrella_vs_convenience", TINY))
    variants = plan(cfg)
    count = len(cfg.experiment.assumptions)
    assert len(variants) == 2 * count + 2 ** 2
    assert [v.level for v in variants[:2]] == ["low", "high"]
    assert {v.design for v in variants[2 * count:]} == {"map"}


def test_scale_multiplies_after_the_arms_overrides() -> None:
    raw = compose_experiment("umbrella_vs_convenience", TINY)
    key = "firms.bank.ecosystem.context_reach"
    configs = arm_configs(raw, [((key,), 2.0, True)], only=["neither", "both"])
    assert get_dotted(configs["neither"], key) == 0.0  # the arm switches it off: stays off
    assert get_dotted(configs["both"], key) == pytest.approx(2 * 0.15)
    configs = arm_configs(raw, [((key,), 0.4, False)], only=["neither"], replications=1)
    assert get_dotted(configs["neither"], key) == 0.4  # set: every arm, overriding the arm
    assert configs["neither"].replications == 1


def test_a_variant_that_does_not_validate_fails_before_anything_runs() -> None:
    raw = compose_experiment("umbrella_vs_convenience", [
        *TINY, "experiment.assumptions.context_reach.high=10"])
    cfg = load_config(raw)
    with pytest.raises(ConfigError) as error:
        prepare(raw, cfg)
    message = str(error.value)
    assert "experiment.assumptions.context_reach at high" in message
    assert "context_reach" in message.split(":")[0]


@pytest.mark.parametrize(("override", "key"), [
    ("experiment.headline.factor=colour", "experiment.headline.factor"),
    ("experiment.robustness.map=[brand_affinity,nothing]", "experiment.robustness.map[1]"),
    ("experiment.assumptions.brand_affinity.keys=[customers.nothing.here]",
     "experiment.assumptions.brand_affinity.keys[0]"),
    ("experiment.assumptions.brand_affinity.low=2", "experiment.assumptions.brand_affinity.high"),
    ("experiment.claim_test.op=less", "experiment.claim_test.op"),
])
def test_bad_content_is_refused_naming_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(compose_experiment("umbrella_vs_convenience", [*TINY, override]))
    assert str(error.value).startswith(f"{key}:")


def test_robustness_needs_a_headline_and_assumptions() -> None:
    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        raw = compose("config", overrides=["robustness=true"])  # the default scenario
    with pytest.raises(ConfigError, match="^robustness: .*needs experiment.headline"):
        load_config(raw)


def test_runner_on_common_random_numbers() -> None:
    """A parameter that cannot reach the bank's ARPU leaves the headline exactly as drawn."""
    raw = compose_experiment("umbrella_vs_convenience", [
        *TINY, "experiment.robustness.map=[]",
        "+experiment.assumptions.clinic_margin={label: clinic margin, "
        "keys: [firms.clinic.offerings.health.margin_rate], low: 0.5, high: 1.5, scale: true}"])
    cfg = load_config(raw)
    whole = prepare(raw, cfg)
    prepared = Plan([p for p in whole.tornado
                     if p[0].assumption in ("clinic_margin", "brand_affinity")], {})
    configs = arm_configs(raw, only=list(prepared.tornado[0][1]))
    kpis = run_experiment(configs, progress=False).kpis
    default = compute_headline(kpis, cfg.experiment)
    table = run_robustness(prepared, kpis, progress=False)
    assert table["value"].iloc[0] == default.value
    assert list(table["design"]) == ["default", "tornado", "tornado", "tornado", "tornado"]
    clinic = table[table["assumption"] == "clinic_margin"]["value"]
    assert (clinic == default.value).all()  # bit-identical: the same draws
    brand = table[table["assumption"] == "brand_affinity"]["value"]
    assert (brand != default.value).all()  # brand affinity does move the brand's share
    assert np.isfinite(table["value"]).all()


# -- the command ---------------------------------------------------------------------------------

def ecosim(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecosim.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


COMMAND = ["experiment=umbrella_vs_convenience", "robustness=true", "customers.n=600",
           "time.horizon=4", "replications=2", "threads=1", "output.figures=false",
           "experiment.robustness.map=[]", "experiment.robustness.grid=2",
           "experiment.robustness.replications=2"]


def test_robustness_true_writes_the_table_and_the_report_says_both_intervals(tmp_path) -> None:
    out = tmp_path / "run"
    done = ecosim(*COMMAND, f"hydra.run.dir={out}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    count = len(load_config(compose_experiment("umbrella_vs_convenience",
                                               TINY)).experiment.assumptions)
    assert f"robustness: {2 * count + 4} variants of the assumptions (tornado and map)" \
        in done.stdout
    table = pd.read_csv(out / "robustness.csv")
    assert list(table.columns) == ["design", "assumption", "level", "x", "y", "value", "low",
                                   "high", "n"]
    assert len(table) == 1 + 2 * count + 4 and (table["n"] == 2).all()
    report = (out / "report.md").read_text()
    answer = report.index("## The verdict and how far it holds")
    assert report.index("Simulation noise:") > answer
    assert report.index("Over assumptions:") < report.index("## How the experiment was run")
    assert (out / "metadata.json").is_file()


def test_a_bad_range_stops_the_command_before_it_simulates(tmp_path) -> None:
    out = tmp_path / "run"
    done = ecosim(*COMMAND, "experiment.assumptions.context_reach.high=10",
                  f"hydra.run.dir={out}", cwd=tmp_path)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "experiment.assumptions.context_reach at high" in lines[0]
    assert not out.exists() or not list(out.glob("*.parquet"))


def test_the_map_runs_through_the_default() -> None:
    """Grid 3 is low, default, high: the map's middle cell is the default run."""
    cfg = load_config(compose_experiment("cac_squeeze", [
        "experiment.robustness.grid=3", "experiment.robustness.map=[]"]))
    awareness = grid_values(cfg, "initial_awareness")  # absolute: 0.15 .. 0.6, default 0.3
    assert list(awareness) == pytest.approx([0.15, 0.3, 0.6])
    assert list(grid_values(cfg, "reach_cost")) == pytest.approx([0.5, 1.0, 2.0])
    five = load_config(compose_experiment("cac_squeeze", ["experiment.robustness.grid=5"]))
    assert list(grid_values(five, "reach_cost")) == pytest.approx([0.5, 0.75, 1.0, 1.5, 2.0])


def test_without_a_named_pair_the_map_crosses_the_largest_swings() -> None:
    """Every pair is validated up front; the run maps the tornado's two largest swings."""
    raw = compose_experiment("umbrella_vs_convenience", [
        *TINY, "experiment.robustness.map=[]", "customers.n=600", "time.horizon=4",
        "+experiment.assumptions.clinic_margin={label: clinic margin, "
        "keys: [firms.clinic.offerings.health.margin_rate], low: 0.5, high: 1.5, scale: true}"])
    cfg = load_config(raw)
    whole = prepare(raw, cfg)
    count = len(cfg.experiment.assumptions)
    assert len(whole.maps) == count * (count - 1) // 2
    assert whole.count == 2 * count + 2 ** 2
    kpis = run_experiment(arm_configs(raw, only=list(whole.tornado[0][1])), progress=False).kpis
    table = run_robustness(whole, kpis, progress=False)
    tornado = table[table["design"] == "tornado"]
    swing = tornado.groupby("assumption")["value"].agg(lambda v: v.max() - v.min())
    mapped = set(table.loc[table["design"] == "map", "assumption"].iloc[0].split("|"))
    assert mapped == set(swing.nlargest(2).index)
    assert "clinic_margin" not in mapped  # it cannot move the headline
