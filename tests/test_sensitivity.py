"""Sensitivity analysis: known indices on toy functions, and a tiny ecosim case end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from ecosim.sweep.sensitivity import apply_sample, evaluate, main, spec_from_dict

pytest.importorskip("SALib")

PI = float(np.pi)


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_indices_of_the_ishigami_function() -> None:
    spec = spec_from_dict({"method": "sobol", "n": 2048, "seed": 1,
                           "parameters": {"x1": [-PI, PI], "x2": [-PI, PI], "x3": [-PI, PI]}})
    indices = evaluate(spec, ishigami).set_index("parameter")
    # analytic values (Ishigami & Homma 1990; a = 7, b = 0.1)
    first = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
    total = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}
    for name in first:
        assert indices.loc[name, "S1"] == pytest.approx(first[name], abs=0.05)
        assert indices.loc[name, "ST"] == pytest.approx(total[name], abs=0.05)
        assert indices.loc[name, "ST_low"] <= indices.loc[name, "ST"] <= indices.loc[name,
                                                                                      "ST_high"]
    assert list(indices.index) == ["x1", "x2", "x3"]  # sorted by total effect


def test_morris_elementary_effects_of_a_linear_function() -> None:
    spec = spec_from_dict({"method": "morris", "n": 10, "seed": 2,
                           "parameters": {"x1": [0, 1], "x2": [0, 1], "x3": [0, 1]}})
    indices = evaluate(spec, lambda x: 3 * x[:, 0] - 2 * x[:, 1]).set_index("parameter")
    assert indices["mu_star"].to_dict() == pytest.approx({"x1": 3.0, "x2": 2.0, "x3": 0.0})
    assert indices.loc["x2", "mu"] == pytest.approx(-2.0)
    assert indices["sigma"].to_numpy() == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("tree, message", [
    ({"parameters": {}}, "at least one"),
    ({"parameters": {"x": [2, 1]}}, "low < high"),
    ({"method": "fast", "parameters": {"x": [0, 1]}}, "method"),
    ({"parameters": {"x": [0, 1]}, "colour": 1}, "unknown keys"),
])
def test_bad_specs_are_rejected(tree: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spec_from_dict(tree)


def test_a_sample_sets_its_values_into_the_config(tmp_path: Path) -> None:
    samples = tmp_path / "samples.csv"
    pd.DataFrame({"sample": [0, 1], "firms.shop.marketing.budget": [10.5, 20.5],
                  "time.horizon": [3, 4]}).to_csv(samples, index=False)
    raw = OmegaConf.create({"time": {"horizon": 9}, "firms": {"shop": {"marketing": {}}},
                            "sample": {"file": str(samples), "index": 1}})
    raw, index = apply_sample(raw)
    assert index == 1 and "sample" not in raw
    assert raw.firms.shop.marketing.budget == 20.5 and raw.time.horizon == 4
    assert isinstance(raw.time.horizon, int)
    assert apply_sample(OmegaConf.create({"seed": 1}))[1] is None


MARKET = """
defaults: [ecosim, _self_]
seed: 2
time: {horizon: 4}
customers: {n: 1500}
needs: {x: {}}
firms:
  shop:
    offerings: {x: {quality: 1.0}}
    initial_awareness: 0.1
    marketing: {budget: 500, reach_cost: 1.0}
output: {figures: false}
"""


@pytest.mark.slow
def test_morris_on_a_tiny_market_through_a_sweep(tmp_path: Path, capsys) -> None:
    (tmp_path / "market.yaml").write_text(MARKET)
    (tmp_path / "spec.yaml").write_text("""
method: morris
n: 2
seed: 0
kpi: {name: new_customers, firm: shop, window: 4}
parameters:
  firms.shop.marketing.budget: [100, 3000]
  time.discount_rate: [0.0, 0.02]        # does not touch acquisition: its effect must be 0
""")
    out = tmp_path / "sens"
    code = main(["run", str(tmp_path / "spec.yaml"), "--out", str(out), "--",
                 "--config-dir", str(tmp_path), "--config-name", "market"])
    assert code == 0, capsys.readouterr()
    indices = pd.read_csv(out / "sensitivity.csv").set_index("parameter")
    assert indices.loc["time.discount_rate", "mu_star"] == 0.0  # common random numbers
    assert indices.loc["firms.shop.marketing.budget", "mu_star"] > 0
    assert indices.loc["firms.shop.marketing.budget", "mu"] > 0  # more budget, more customers
    assert (out / "tornado.png").stat().st_size > 10_000 and (out / "tornado.svg").is_file()
    assert len(pd.read_csv(out / "samples.csv")) == 2 * (2 + 1)
    assert main(["analyze", str(tmp_path / "spec.yaml"), "--out", str(out)]) == 0  # again
    capsys.readouterr()
    other = tmp_path / "other.yaml"  # analysed for a firm the sweep does not have
    other.write_text((tmp_path / "spec.yaml").read_text().replace("firm: shop", "firm: shp"))
    assert main(["analyze", str(other), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"ecosim-sensitivity: {other}: kpi.firm: 'shp' is not a "
                                       f"firm of the sweep; it has shop\n")
    from ecosim.metrics.tables import FIRM_METRICS, UNIT_METRICS  # the KPIs a spec may name

    job = next((out / "sweep").glob("*/firm_metrics.parquet"))
    assert list(pd.read_parquet(job).columns) == ["arm", "replication", "step", "firm",
                                                  *FIRM_METRICS]
    assert list(pd.read_parquet(job.with_name("unit_metrics.parquet")).columns) == [
        "arm", "replication", "step", "firm", "need", *UNIT_METRICS]


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "conf" /
                                         "sensitivity").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_specs_fit_the_default_scenario(path: Path, tmp_path: Path) -> None:
    from hydra import compose, initialize_config_dir

    from ecosim.config import arm_configs, register_configs
    from ecosim.sweep.sensitivity import load_spec, sample

    spec = load_spec(path)
    design = sample(spec)
    design.to_csv(tmp_path / "samples.csv", index=False)
    register_configs()
    with initialize_config_dir(str(path.parents[1]), version_base="1.3"):
        raw = compose("config", overrides=[*spec.overrides, f"+sample.file={tmp_path}/samples.csv",
                                           f"+sample.index={len(design) - 1}"])
    raw, index = apply_sample(raw)
    cfg = next(iter(arm_configs(raw).values()))  # every sampled key exists and validates
    assert index == len(design) - 1
    for key in spec.parameters:
        value = cfg
        for part in key.split("."):
            value = value[part] if isinstance(value, dict) else getattr(value, part)
        assert value == pytest.approx(design[key].iloc[-1])


# -- the spec is checked against the scenario before anything runs (issue 8 item 15) -----------

GOOD_SPEC = {"method": "morris", "n": 2, "seed": 0,
             "kpi": {"name": "new_customers", "firm": "shop", "window": 4},
             "parameters": {"firms.shop.marketing.budget": [100, 3000],
                            "time.discount_rate": [0.0, 0.02]}}


def with_(change: dict, drop: str | None = None) -> dict:
    """GOOD_SPEC with some top-level keys replaced (and one removed)."""
    spec = {**GOOD_SPEC, **change}
    spec.pop(drop, None)
    return spec


def refused_before_launch(spec, tmp_path: Path, capsys, step: str = "sample") -> str:
    """ecosim-sensitivity on a bad spec: exit 2, one line, no samples and no sweep."""
    import yaml

    (tmp_path / "market.yaml").write_text(MARKET)
    path = tmp_path / "spec.yaml"
    path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec))
    out = tmp_path / "sens"
    code = main([step, str(path), "--out", str(out), "--", "--config-dir", str(tmp_path),
                 "--config-name", "market"])
    printed, err = capsys.readouterr()
    assert code == 2, (code, printed, err)
    assert err.count("\n") == 1 and err.startswith(f"ecosim-sensitivity: {path}: "), err
    assert not (out / "samples.csv").exists() and not (out / "sweep").exists()
    return err.strip().removeprefix(f"ecosim-sensitivity: {path}: ")


@pytest.mark.parametrize("spec, message", [
    (with_({"parameters": {"firms.shop.marketing.budgt": [100, 3000]}}),
     "parameters.firms.shop.marketing.budgt: the scenario has no 'budgt' under "
     "firms.shop.marketing (it has budget, reach_cost, word_of_mouth, rule, target, adjust, "
     "brand_budgets)"),
    (with_({"parameters": {"firms.shp.marketing.budget": [100, 3000]}}),
     "parameters.firms.shp.marketing.budget: the scenario has no 'shp' under firms (it has "
     "shop)"),
    (with_({"parameters": {"firms.shop.marketing.budget": [-100, 3000]}}),
     "parameters: the config is invalid at the corner firms.shop.marketing.budget=-100: "
     "firms.shop.marketing.budget: -100.0 is not allowed"),
    (with_({"parameters": {"firms.shop.marketing.budget": [100, 3000],
                           "firms.shop.initial_awareness": [0.5, 1.5]}}),
     "parameters: the config is invalid at the corner firms.shop.initial_awareness=1.5, "
     "firms.shop.marketing.budget=100: firms.shop.initial_awareness: 1.5 is not allowed"),
    (with_({"parameters": {"time.horizon": [3, 6]}}),
     "parameters.time.horizon: the scenario holds an integer (4); list the key under integer "
     "so that its samples are rounded"),
    (with_({"parameters": {"time.horizon": [1, 6]}, "integer": ["time.horizon"]}),
     "kpi.window: 4 steps; expected at most the horizon (1 steps)"),
    (with_({"kpi": {"name": "happiness", "firm": "shop"}}),
     "kpi.name: 'happiness' is not a column of firm_metrics; expected one of customers, "),
    (with_({"kpi": {"name": "profit", "firm": "nobody"}}),
     "kpi.firm: 'nobody' is not a firm of the scenario; declared: shop"),
    (with_({"kpi": {"name": "market_share", "need": "y"}}),
     "kpi.need: 'y' is not a need of the scenario; declared: x"),
    (with_({"overrides": ["seed=1,2"]}),
     "override seed=1,2: a sweep; the samples are the sweep"),
    (with_({"overrides": ["customers.nn=5"]}),
     "the scenario is invalid before any sample: customers.nn: unknown key (set to 5)"),
])
def test_spec_is_checked_against_the_scenario_before_launch(spec, message, tmp_path: Path,
                                                            capsys) -> None:
    """These used to be found only after the whole sweep ran (or never: a typo in a key
    added a setting nobody reads)."""
    assert refused_before_launch(spec, tmp_path, capsys).startswith(message)


@pytest.mark.parametrize("spec, message", [
    ("method: morris\nparameters: {x: [0, 1]\n", "line 3: expected ',' or '}'"),
    ("- a\n- b\n", "the sensitivity spec must be a mapping of method, n, seed"),
    (with_({"parameters": ["firms.shop.marketing.budget"]}),
     "parameters: ['firms.shop.marketing.budget']; expected a mapping of dotted config keys"),
    (with_({"parameters": {"firms.shop.marketing.budget": ["low", 3000]}}),
     "parameters.firms.shop.marketing.budget: ['low', 3000]; expected [low, high], two "
     "numbers with low < high"),
    (with_({"parameters": {"firms.shop.marketing.budget": {"low": 100}}}),
     "parameters.firms.shop.marketing.budget: {'low': 100}; expected [low, high], two "
     "numbers"),
    (with_({"kpi": {"name": "profit", "colour": "red"}}),
     "kpi.colour: unknown key; expected name, firm, need, window"),
    (with_({"kpi": "profit"}), "kpi: 'profit'; expected a mapping with name, firm, need, window"),
    (with_({"kpi": {"name": "profit", "window": 0}}), "kpi.window: 0; expected an integer >= 1"),
    (with_({"n": "abc"}), "n: 'abc'; expected an integer >= 2"),
    (with_({"n": 2.5}), "n: 2.5; expected an integer >= 2"),
    (with_({"integer": ["time.horizon"]}), "integer[0]: 'time.horizon' is not one of the "
                                           "parameters"),
    (with_({"overrides": "customers.n=10"}), "overrides: 'customers.n=10'; expected a list"),
])
def test_malformed_specs_are_one_line_errors_naming_the_key(spec, message, tmp_path: Path,
                                                            capsys) -> None:
    assert refused_before_launch(spec, tmp_path, capsys).startswith(message)


def test_run_with_a_bad_spec_launches_nothing(tmp_path: Path, capsys) -> None:
    """The run step used to launch the sweep and fail after it, advising to run it again."""
    message = refused_before_launch(with_({"kpi": {"name": "profits", "firm": "shop"}}),
                                    tmp_path, capsys, step="run")
    assert message.startswith("kpi.name: 'profits' is not a column of firm_metrics")
    assert "run again" not in message


def test_a_schema_key_the_scenario_leaves_out_can_be_a_parameter(tmp_path: Path,
                                                                 capsys) -> None:
    """word_of_mouth is not in MARKET's YAML but is a key of the schema: accepted, and the
    corners are validated (4 of them for 2 parameters) without running anything."""
    import yaml

    (tmp_path / "market.yaml").write_text(MARKET)
    spec = with_({"parameters": {"firms.shop.marketing.budget": [100, 3000],
                                 "firms.shop.marketing.word_of_mouth": [0.0, 0.5]}})
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    out = tmp_path / "sens"
    assert main(["sample", str(tmp_path / "spec.yaml"), "--out", str(out), "--",
                 "--config-dir", str(tmp_path), "--config-name", "market"]) == 0
    assert "6 samples in" in capsys.readouterr().out
    assert not (out / "sweep").exists()
