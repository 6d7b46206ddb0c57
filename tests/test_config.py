"""Tests of the configuration: schema registration, composition with Hydra, and validation."""

from __future__ import annotations

import copy
import math
import pickle
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from ecosim.config import (
    ConfigError,
    DistSpec,
    EcosimConfig,
    config_to_dict,
    load_config,
    register_configs,
)

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"

# A user's market file (docs/design.md §8, README "Your own market"), trimmed to the schema.
MY_MARKET_YAML = """\
defaults: [ecosim, _self_]
seed: 0
replications: 1
time: {step_unit: month, horizon: 60, discount_rate: 0.008}
customers:
  n: 100000
  segments:
    pragmatic: {weight: 0.6, price_sensitivity: {dist: lognormal, mean: 0.0, sd: 0.3},
                openness: {dist: beta, a: 2, b: 8}}
    loyal:     {weight: 0.4, habit_strength: {dist: fixed, value: 2.0}}
  switching_cost: {dist: beta, a: 2, b: 5}
  lifecycle: {kind: contractual, hazard: {dist: beta, a: 1.0, b: 60.0}}
  sociodemo: {informativeness: 0.2}
  network: {kind: watts_strogatz, degree: 10, rewire: 0.1}
needs:
  banking: {prevalence: 1.0, occurrence: 1.0, basket: {dist: lognormal, mean: 3.0, sd: 0.5}}
  taxi:    {prevalence: 0.6, occurrence: 0.4, basket: {dist: lognormal, mean: 2.5, sd: 0.7}}
firms:
  bank:
    model: standalone
    offerings: {banking: {price_index: 1.0, quality: 0.5, convenience: 0.2, experience: 1.0,
                          margin_rate: 0.3}}
    initial_share: {banking: 0.3}
    initial_awareness: 0.5
    marketing: {budget: 50000, reach_cost: 2.0, word_of_mouth: 0.3}
events:
  - {step: 24, firm: bank, set: {offerings.banking.price_index: 1.2}}
output: {transactions: false}
"""

# The same market as plain data, for the fast bad-input tests (no Hydra).
MY_MARKET: dict[str, Any] = {
    "customers": {
        "n": 1000,
        "segments": {
            "pragmatic": {"weight": 0.6, "openness": {"dist": "beta", "a": 2, "b": 8}},
            "loyal": {"weight": 0.4, "habit_strength": {"dist": "fixed", "value": 2.0}},
        },
        "network": {"kind": "watts_strogatz", "degree": 10, "rewire": 0.1},
    },
    "needs": {
        "banking": {"basket": {"dist": "lognormal", "mean": 3.0, "sd": 0.5}},
        "taxi": {"prevalence": 0.6, "occurrence": 0.4},
    },
    "firms": {
        "bank": {
            "offerings": {"banking": {"price_index": 1.0, "margin_rate": 0.3}},
            "initial_share": {"banking": 0.3},
            "marketing": {"budget": 5000, "reach_cost": 2.0, "word_of_mouth": 0.3},
        },
    },
    "events": [{"step": 24, "firm": "bank", "set": {"offerings.banking.price_index": 1.2}}],
}


@pytest.fixture(scope="module", autouse=True)
def _registered() -> None:
    register_configs()


def _compose(config_dir: Path, name: str, overrides: list[str] | None = None) -> DictConfig:
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(name, overrides=overrides or [], return_hydra_config=True)


def test_default_config_loads() -> None:
    cfg = load_config(_compose(CONF_DIR, "config"))
    assert isinstance(cfg, EcosimConfig)
    assert (cfg.seed, cfg.replications, cfg.time.horizon, cfg.customers.n) == (0, 1, 60, 100_000)
    assert len(cfg.customers.segments) == 3
    assert len(cfg.needs) == 8 and cfg.needs["credit"].risk_priced
    assert len(cfg.firms) == 10
    models = {firm.model for firm in cfg.firms.values()}
    assert models == {"ecosystem", "marketplace", "bundle", "standalone"}  # issue 3 item 8
    assert cfg.firms["ride_partner"].partner_of == "bank"
    assert [event.step for event in cfg.events] == [24]
    for name, firm in cfg.firms.items():  # marketing reach per month in the intended range
        marketing = firm.marketing
        reach = 1 - math.exp(-marketing.budget / (cfg.customers.n * marketing.reach_cost))
        assert 0.005 <= reach <= 0.06, name
    assert load_config(config_to_dict(cfg)) == cfg


def test_default_config_sets_output_dirs_under_results() -> None:
    raw = _compose(CONF_DIR, "config")
    assert raw.hydra.run.dir.startswith("results/")
    assert raw.hydra.sweep.dir.startswith("results/multirun/")


def test_user_yaml_in_another_directory_composes_and_loads(tmp_path: Path) -> None:
    (tmp_path / "my_market.yaml").write_text(MY_MARKET_YAML)
    cfg = load_config(_compose(tmp_path, "my_market", ["firms.bank.marketing.budget=1e5"]))
    segments = cfg.customers.segments
    assert list(segments) == ["pragmatic", "loyal"]
    assert segments["pragmatic"].openness == DistSpec(dist="beta", a=2.0, b=8.0)
    assert segments["loyal"].habit_strength == DistSpec(dist="fixed", value=2.0)
    assert segments["loyal"].openness == DistSpec(dist="fixed", value=0.2)  # schema default
    # the stored default {dist: fixed, value: 0.5} is replaced, not mixed in
    assert cfg.customers.switching_cost == DistSpec(dist="beta", a=2.0, b=5.0)
    bank = cfg.firms["bank"]
    assert bank.brand == "bank" and bank.offerings["banking"].brand == "bank"
    assert bank.marketing.budget == 1e5
    assert cfg.events[0].set == {"offerings.banking.price_index": 1.2}


def test_bad_key_in_user_yaml_passes_hydra_and_is_reported_on_one_line(tmp_path: Path) -> None:
    typo = MY_MARKET_YAML.replace("  n: 100000\n", "  n: 100000\n  segmnets: {}\n")
    (tmp_path / "typo.yaml").write_text(typo)
    with pytest.raises(ConfigError) as caught:
        load_config(_compose(tmp_path, "typo"))
    assert str(caught.value).startswith("customers.segmnets: unknown key")
    assert "\n" not in str(caught.value)


def test_empty_segments_become_one_segment_all() -> None:
    raw = copy.deepcopy(MY_MARKET)
    raw["customers"]["segments"] = {}
    cfg = load_config(raw)
    assert list(cfg.customers.segments) == ["all"]


def test_rebrand_event_carries_to_offerings_with_the_firm_brand() -> None:
    raw = copy.deepcopy(MY_MARKET)
    raw["events"] = [{"step": 36, "firm": "bank", "set": {"brand": "group"}}]
    cfg = load_config(raw)
    assert cfg.events[0].set == {"brand": "group", "offerings.banking.brand": "group"}


def test_event_blocks_expand_to_scalar_paths() -> None:
    raw = copy.deepcopy(MY_MARKET)
    raw["events"] = [{"step": 12, "firm": "bank", "set": {"marketing": {"budget": "2e4"}}}]
    cfg = load_config(raw)
    assert cfg.events[0].set == {"marketing.budget": 20000.0}


def test_load_config_leaves_its_input_alone() -> None:
    raw = copy.deepcopy(MY_MARKET)
    load_config(raw)
    assert raw == MY_MARKET


def _set(tree: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split("/")
    for part in parents:
        tree = tree[int(part)] if isinstance(tree, list) else tree.setdefault(part, {})
    tree[last] = value


BAD_INPUTS = [
    # (id, path in MY_MARKET, value, full dotted key in the message, value as shown)
    ("unknown key", "customers/nn", 5, "customers.nn", "5"),
    ("unknown key in a collection", "firms/bank/marketing/budgett", 5,
     "firms.bank.marketing.budgett", "5"),
    ("wrong type", "customers/n", "many", "customers.n", "'many'"),
    ("wrong type in a list", "events/0/step", "soon", "events[0].step", "'soon'"),
    ("probability > 1", "needs/taxi/prevalence", 1.5, "needs.taxi.prevalence", "1.5"),
    ("negative count", "customers/n", -5, "customers.n", "-5"),
    ("offering for an undeclared need", "firms/bank/offerings/pets", {"price_index": 1.0},
     "firms.bank.offerings.pets", "'pets'"),
    ("event for an undeclared firm", "events/0/firm", "nobank", "events[0].firm", "'nobank'"),
    ("unknown distribution", "customers/segments/pragmatic/openness",
     {"dist": "weibull", "k": 2}, "customers.segments.pragmatic.openness.dist", "'weibull'"),
    ("wrong parameter for a distribution", "customers/segments/pragmatic/openness",
     {"dist": "beta", "mean": 0.25, "b": 8}, "customers.segments.pragmatic.openness.mean",
     "0.25"),
    ("missing parameter of a distribution", "needs/taxi/basket", {"dist": "gamma", "shape": 2},
     "needs.taxi.basket.scale", "missing"),
    ("unknown business model", "firms/bank/model", "conglomerate", "firms.bank.model",
     "'conglomerate'"),
    ("initial shares summing > 1", "firms/neo",
     {"offerings": {"banking": {}}, "initial_share": {"banking": 0.75}},
     "firms.neo.initial_share.banking", "0.75"),
    ("event setting an unknown firm key", "events/0/set", {"offerings.banking.prize": 1.3},
     "events[0].set.offerings.banking.prize", "1.3"),
]


@pytest.mark.parametrize(
    ("path", "value", "key", "shown"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_is_rejected_on_one_line(path: str, value: Any, key: str, shown: str) -> None:
    raw = copy.deepcopy(MY_MARKET)
    _set(raw, path, value)
    with pytest.raises(ConfigError) as caught:
        load_config(raw)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{key}: ")
    assert caught.value.key == key
    assert shown in message.removeprefix(f"{key}: ")


def test_config_error_survives_pickling() -> None:
    error = ConfigError("customers.n", -5, "expected an integer >= 1")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
