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
