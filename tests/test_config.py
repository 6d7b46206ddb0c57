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
    assert cfg.customers.market_size == cfg.customers.market == 100_000  # the default market
    assert len(cfg.customers.segments) == 3
    assert len(cfg.needs) == 8 and cfg.needs["credit"].risk_priced
    assert len(cfg.firms) == 10
    models = {firm.model for firm in cfg.firms.values()}
    assert models == {"ecosystem", "marketplace", "bundle", "standalone"}  # issue 3 item 8
    assert cfg.firms["ride_partner"].partner_of == "bank"
    assert [event.step for event in cfg.events] == [24]
    for name, firm in cfg.firms.items():  # marketing reach per month in the intended range
        marketing = firm.marketing
        reach = 1 - math.exp(-marketing.budget / (cfg.customers.market * marketing.reach_cost))
        assert 0.005 <= reach <= 0.06, name
    assert load_config(config_to_dict(cfg)) == cfg


@pytest.mark.parametrize(("n", "market_size", "market", "weight"),
                         [(20_000, 100_000, 100_000, 5.0), (3_000, None, 3_000, 1.0),
                          (2_000, 500, 500, 0.25)])
def test_market_size_sets_the_weight_of_a_simulated_customer(n: int, market_size: int | None,
                                                              market: int, weight: float) -> None:
    """Unset, the simulated customers are the market; a market smaller than ``n`` is allowed
    (more customers simulated than it has: finer resolution, each a fraction of one)."""
    raw = copy.deepcopy(MY_MARKET)
    _set(raw, "customers/n", n)
    _set(raw, "customers/market_size", market_size)
    customers = load_config(raw).customers
    assert (customers.market, customers.weight) == (market, weight)


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
    ("market of no customers", "customers/market_size", 0, "customers.market_size", "0"),
    ("fractional market", "customers/market_size", 2.5, "customers.market_size", "2.5"),
    ("market size in the old place", "output/market_customers", 100_000,
     "output.market_customers", "100000"),
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


# -- issue 8: bounds of the types, distributions by family, memory and work, overrides ---------

def _market(**changes: Any) -> dict[str, Any]:
    """MY_MARKET with ``path/to/key`` changes (``_set`` syntax)."""
    raw = copy.deepcopy(MY_MARKET)
    for path, value in changes.items():
        _set(raw, path, value)
    return raw


def _rejected(raw: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(raw)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.slow
def test_more_than_256_segments_is_refused() -> None:
    segments = {f"s{i}": {"weight": 1.0} for i in range(257)}
    message = _rejected(_market(**{"customers/segments": segments}))
    assert message.startswith("customers.segments: ")
    assert "expected 1 to 256 entries" in message
    segments.pop("s256")
    assert len(load_config(_market(**{"customers/segments": segments})).customers.segments) == 256


@pytest.mark.parametrize(("path", "value", "key", "allowed"), [
    ("customers/sociodemo/age_bands", 300, "customers.sociodemo.age_bands",
     "expected an integer in [1, 256]"),
    ("customers/sociodemo/income_scale", [1.0] * 257, "customers.sociodemo.income_scale",
     "1 to 256 numbers > 0"),
    ("customers/segments/loyal/age_band", 299, "customers.segments.loyal.age_band",
     "expected an integer in [0, 5)"),
])
def test_bands_beyond_uint8_are_refused(path: str, value: Any, key: str, allowed: str) -> None:
    message = _rejected(_market(**{path: value}))
    assert message.startswith(f"{key}: ") and allowed in message


def test_age_band_299_of_300_bands_is_refused_not_overflowed() -> None:
    raw = _market(**{"customers/sociodemo/age_bands": 300,
                     "customers/segments/loyal/age_band": 299})
    assert _rejected(raw).startswith("customers.sociodemo.age_bands: 300 is not allowed")


def test_the_index_limits_are_defined_once_and_agree_with_the_kernels() -> None:
    from ecosim.config import schema
    from ecosim.kernels.population import MAX_INDEX
    from ecosim.model import MAX_BRANDS

    assert schema.MAX_FIRMS == schema.MAX_NEEDS == schema.MAX_BRANDS == MAX_BRANDS == MAX_INDEX
    assert schema.MAX_INDEX is MAX_BRANDS  # imported, not defined again


def test_draw_bounds_agree_with_the_kernels() -> None:
    from ecosim.config import limits
    from ecosim.kernels import rng
    from ecosim.kernels.lifecycle import MAX_PURCHASES

    smallest_uniform = 0.5 * rng._TWO_M53  # uniform() is (bits + 0.5) * 2**-53
    assert limits.Z_MAX == pytest.approx(math.sqrt(-2.0 * math.log(smallest_uniform)), rel=1e-12)
    assert limits.MAX_PURCHASES_PER_STEP == MAX_PURCHASES


BAD_DISTRIBUTIONS = [
    # (id, position, spec, key of the message, what the message says is allowed)
    ("normal basket can go negative", "needs/banking/basket",
     {"dist": "normal", "mean": -100, "sd": 10}, "needs.banking.basket.mean", "mean >= 8.65 * sd"),
    ("normal basket mean 4 sd", "needs/banking/basket",
     {"dist": "normal", "mean": 40, "sd": 10}, "needs.banking.basket.mean", "mean >= 8.65 * sd"),
    ("uniform basket below 0", "needs/banking/basket",
     {"dist": "uniform", "low": -1, "high": 10}, "needs.banking.basket.low", ">= 0"),
    ("lognormal basket overflows", "needs/banking/basket",
     {"dist": "lognormal", "mean": 1000, "sd": 0.5}, "needs.banking.basket.mean",
     "mean + 8.65 * sd <= 27.6"),
    ("lognormal factor overflows", "customers/segments/loyal/price_sensitivity",
     {"dist": "lognormal", "mean": 0, "sd": 20}, "customers.segments.loyal.price_sensitivity.mean",
     "mean + 8.65 * sd <= 27.6"),
    ("huge fixed factor", "customers/segments/loyal/brand_affinity",
     {"dist": "fixed", "value": 1e300}, "customers.segments.loyal.brand_affinity.value",
     "at most 1e+12"),
    ("huge gamma", "customers/switching_cost", {"dist": "gamma", "shape": 2, "scale": 1e12},
     "customers.switching_cost.scale", "at most 1e+12"),
    ("normal openness", "customers/segments/loyal/openness",
     {"dist": "normal", "mean": 0.2, "sd": 0.1}, "customers.segments.loyal.openness.dist",
     "beta, fixed or uniform"),
    ("gamma social influence", "customers/segments/loyal/social_influence",
     {"dist": "gamma", "shape": 2, "scale": 0.1},
     "customers.segments.loyal.social_influence.dist", "beta, fixed or uniform"),
    ("lognormal hazard", "customers/lifecycle/hazard", {"dist": "lognormal", "mean": -4, "sd": 1},
     "customers.lifecycle.hazard.dist", "beta, fixed or uniform"),
    ("uniform dropout above 1", "customers/lifecycle/dropout",
     {"dist": "uniform", "low": 0.5, "high": 1.5}, "customers.lifecycle.dropout.high",
     "probability in [0, 1]"),
]


@pytest.mark.parametrize(("path", "spec", "key", "allowed"), [c[1:] for c in BAD_DISTRIBUTIONS],
                         ids=[c[0] for c in BAD_DISTRIBUTIONS])
def test_distributions_are_range_checked_by_family(path: str, spec: dict[str, Any], key: str,
                                                   allowed: str) -> None:
    message = _rejected(_market(**{path: spec}))
    assert message.startswith(f"{key}: "), message
    assert allowed in message, message


@pytest.mark.parametrize(("path", "spec"), [
    ("needs/banking/basket", {"dist": "normal", "mean": 100, "sd": 10}),
    ("needs/banking/basket", {"dist": "lognormal", "mean": 5.7, "sd": 0.5}),
    ("customers/segments/loyal/openness", {"dist": "uniform", "low": 0.0, "high": 1.0}),
    ("customers/segments/loyal/brand_affinity", {"dist": "normal", "mean": -1.0, "sd": 2.0}),
    ("customers/lifecycle/hazard", {"dist": "beta", "a": 1, "b": 60}),
])
def test_distributions_that_stay_in_range_are_accepted(path: str, spec: dict[str, Any]) -> None:
    load_config(_market(**{path: spec}))


@pytest.fixture()
def machine_8gib(monkeypatch: pytest.MonkeyPatch) -> None:
    from ecosim.config import limits

    monkeypatch.setattr(limits, "machine_memory", lambda: 8 * 2**30)


@pytest.mark.parametrize(("path", "value", "key"), [
    ("customers/n", 3_000_000_000, "customers.n"),
    ("customers/n", 10**12, "customers.n"),
])
def test_runs_that_do_not_fit_in_memory_are_refused(machine_8gib: None, path: str, value: int,
                                                    key: str) -> None:
    raw = _market(**{path: value, "firms/bank/initial_share": {},
                     **{f"firms/f{i}": {"offerings": {"banking": {}}} for i in range(9)}})
    raw["events"] = []
    message = _rejected(raw)
    assert message.startswith(f"{key}: {value} is not allowed; expected a run that fits in "
                              "this machine's 8.0 GiB of memory"), message
    assert "GiB" in message.split("needs about")[1]


def test_a_long_daily_run_of_ten_firms_fits_since_the_cohort_table_streams(
        machine_8gib: None) -> None:
    """Ten years of daily steps and 10 firms: the cohort triangle (67 million rows, refused
    before it streamed) is no longer held; the run fits in 8 GiB."""
    from ecosim.config.limits import memory_estimate, total_memory

    raw = _market(**{"time/horizon": 3650, "firms/bank/initial_share": {},
                     **{f"firms/f{i}": {"offerings": {"banking": {}}} for i in range(9)}})
    raw["events"] = []
    cfg = load_config(raw)
    assert len(cfg.firms) == 10 and total_memory(memory_estimate(cfg)) < 2 * 2**30


def test_memory_estimate_matches_the_population_and_ledgers() -> None:
    from ecosim.agents.population import CustomerPopulation
    from ecosim.config.limits import PER_CUSTOMER_BYTES, PER_CUSTOMER_NEED_BYTES, memory_estimate

    cfg = load_config(_market(**{"customers/network/kind": "none"}))
    population = CustomerPopulation(cfg.customers, dict(cfg.needs), len(cfg.firms), 1,
                                    [0, 0], cfg.time.horizon)
    sizes = population.nbytes()
    assert (sizes["per_customer"], sizes["per_customer_need"]) == (PER_CUSTOMER_BYTES,
                                                                   PER_CUSTOMER_NEED_BYTES)
    ledgers = sum(a.nbytes for a in vars(population.ledgers).values())
    estimate = memory_estimate(cfg)
    assert estimate["ledgers"] + estimate["cell_ledgers"] == ledgers


def test_age_income_cells_that_do_not_fit_in_memory_are_refused(machine_8gib: None) -> None:
    raw = _market(**{"customers/n": 1_000_000, "customers/network/kind": "none",
                     "customers/sociodemo/age_bands": 256,
                     "customers/sociodemo/income_scale": [1.0] * 256,
                     **{f"firms/f{i}": {"offerings": {"taxi": {}}} for i in range(39)}})
    message = _rejected(raw)
    assert message.startswith("customers.sociodemo.age_bands: 256 is not allowed; expected a run "
                              "that fits in this machine's 8.0 GiB of memory"), message


@pytest.mark.parametrize(("path", "value", "key", "allowed"), [
    ("replications", 10**9, "replications", "expected an integer in [1, 10000]"),
    ("threads", 1000, "threads", "expected null (all cores) or an integer in [1, "),
])
def test_counts_are_bounded(path: str, value: int, key: str, allowed: str) -> None:
    message = _rejected(_market(**{path: value}))
    assert message.startswith(f"{key}: {value} is not allowed; {allowed}"), message


def test_more_than_64_brands_are_refused_at_validation() -> None:
    raw = _market()
    raw["firms"]["bank"]["offerings"] = {"banking": {"brand": "b-bank"}, "taxi": {}}
    for i in range(63):
        raw["firms"][f"f{i}"] = {"offerings": {"taxi": {}}}
    message = _rejected(raw)  # 64 firm brands + b-bank
    assert message.startswith("firms.f62.brand: 'f62' is not allowed; expected at most 64 "
                              "distinct brands"), message


def test_large_runs_get_a_warning_with_the_estimate(machine_8gib: None) -> None:
    from ecosim.config.limits import resource_warning

    assert resource_warning(load_config(_market())) is None
    cfg = load_config(_market(**{"customers/n": 20_000_000, "time/horizon": 600,
                                 "customers/network/kind": "none"}))
    warning = resource_warning(cfg)
    assert warning is not None and "GiB of memory" in warning and "core-hours" in warning


def _schema_overrides(cls: type, prefix: str, default: Any) -> list[str]:
    """``key=value`` for every leaf of a schema block, at its default value."""
    import dataclasses

    overrides = []
    for field in dataclasses.fields(cls):
        value, key = getattr(default, field.name), f"{prefix}.{field.name}"
        if isinstance(value, DistSpec):
            params = {name: v for name, v in vars(value).items() if v is not None}
            overrides.append(f"{key}={{{', '.join(f'{n}: {v}' for n, v in params.items())}}}")
        elif dataclasses.is_dataclass(value):
            overrides += _schema_overrides(type(value), key, value)
        elif isinstance(value, list):
            overrides.append(f"{key}=[]")
        elif not isinstance(value, dict):
            shown = ("null" if value is None else str(value).lower() if isinstance(value, bool)
                     else value)
            overrides.append(f"{key}={shown}")
    return overrides


def test_every_schema_key_of_a_firm_need_or_segment_can_be_overridden(tmp_path: Path) -> None:
    from ecosim.config import FirmConfig, NeedConfig, SegmentConfig

    (tmp_path / "my_market.yaml").write_text(MY_MARKET_YAML)
    overrides = (_schema_overrides(FirmConfig, "firms.bank", FirmConfig())
                 + _schema_overrides(NeedConfig, "needs.taxi", NeedConfig())
                 + _schema_overrides(SegmentConfig, "customers.segments.loyal", SegmentConfig()))
    assert "firms.bank.enters_at=0" in overrides and len(overrides) > 40
    cfg = load_config(_compose(tmp_path, "my_market", overrides))
    bank = cfg.firms["bank"]
    assert bank == FirmConfig(brand="bank", offerings=bank.offerings,
                              initial_share=bank.initial_share)
    assert cfg.needs["taxi"] == NeedConfig()
    assert cfg.customers.segments["loyal"] == SegmentConfig()


def test_a_missing_schema_key_is_set_without_plus(tmp_path: Path) -> None:
    (tmp_path / "my_market.yaml").write_text(MY_MARKET_YAML)
    cfg = load_config(_compose(tmp_path, "my_market", ["firms.bank.enters_at=2",
                                                       "firms.bank.initial_share={}"]))
    assert cfg.firms["bank"].enters_at == 2


def test_a_typo_in_an_override_is_reported_by_ecosim(tmp_path: Path) -> None:
    (tmp_path / "my_market.yaml").write_text(MY_MARKET_YAML)
    message = _rejected(_compose(tmp_path, "my_market", ["firms.bank.enters_att=2"]))
    assert message.startswith("firms.bank.enters_att: unknown key (set to 2)")


@pytest.mark.parametrize("overrides", [
    ["customers.segments.pragmatic.openness={dist: uniform, low: 0.1, high: 0.3}"],
    ["++customers.segments.pragmatic.openness={dist: uniform, low: 0.1, high: 0.3}"],
    ["customers.segments.pragmatic.openness.dist=uniform",
     "customers.segments.pragmatic.openness.low=0.1",
     "customers.segments.pragmatic.openness.high=0.3"],
    ["customers.segments.pragmatic.openness.low=0.1",
     "customers.segments.pragmatic.openness.dist=uniform",
     "customers.segments.pragmatic.openness.high=0.3"],
    ["customers.segments.pragmatic={openness: {dist: uniform, low: 0.1, high: 0.3}}"],
])
def test_changing_dist_on_the_command_line_replaces_the_spec(tmp_path: Path,
                                                             overrides: list[str]) -> None:
    (tmp_path / "my_market.yaml").write_text(MY_MARKET_YAML)
    cfg = load_config(_compose(tmp_path, "my_market", overrides))
    assert cfg.customers.segments["pragmatic"].openness == DistSpec("uniform", low=0.1, high=0.3)


def test_changing_dist_without_its_parameters_names_a_missing_one(tmp_path: Path) -> None:
    (tmp_path / "my_market.yaml").write_text(MY_MARKET_YAML)
    message = _rejected(_compose(tmp_path, "my_market",
                                 ["customers.segments.pragmatic.openness.dist=uniform"]))
    assert message.startswith("customers.segments.pragmatic.openness.low: missing; ")


def test_setting_a_collection_to_empty_on_the_command_line_empties_it(tmp_path: Path) -> None:
    (tmp_path / "my_market.yaml").write_text(MY_MARKET_YAML)
    cfg = load_config(_compose(tmp_path, "my_market", ["customers.segments={}"]))
    assert list(cfg.customers.segments) == ["all"]
    message = _rejected(_compose(tmp_path, "my_market", ["firms={}", "events=[]"]))
    assert message.startswith("firms: [] is not allowed; expected 1 to 64 entries")


def test_a_network_too_large_for_its_indices_is_refused_before_anything_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Neighbour lists hold int32 customer indices: 2^31 customers would wrap around.

    On a machine with the memory for such a market (the limit is lifted here).
    """
    from ecosim.config import limits
    from ecosim.config.validate import MAX_NETWORK_CUSTOMERS

    monkeypatch.setattr(limits, "machine_memory", lambda: 0)

    tree = {"customers": {"n": MAX_NETWORK_CUSTOMERS + 1,
                          "network": {"kind": "watts_strogatz", "degree": 4}},
            "needs": {"a": {}}, "firms": {"f": {"offerings": {"a": {}}}}}
    with pytest.raises(ConfigError, match=r"^customers.n: .*32-bit customer indices"):
        load_config(tree)


def test_the_streamed_cohort_table_is_estimated_at_one_row_group_whatever_the_horizon() -> None:
    """The CLI streams the cohort table (steps² / 2 × firms rows): the estimate holds one row
    group, one step's rows and the firms × steps running sums, and the history grows linearly
    with the horizon (no cohort triangle)."""
    from ecosim.config.limits import COHORT_ROW_BYTES, COHORT_ROW_GROUP, memory_estimate
    from ecosim.metrics.cohorts import ROW_GROUP_ROWS

    assert COHORT_ROW_GROUP == ROW_GROUP_ROWS
    short, long = (load_config(_market(**{"time/horizon": h, "events": []})) for h in (12, 3650))
    f = len(long.firms)
    assert memory_estimate(short)["cohorts"] == pytest.approx(
        COHORT_ROW_BYTES * f * 13 * 14 / 2 + 16 * f * 13)  # all of it: 13 steps
    assert memory_estimate(long)["cohorts"] == pytest.approx(
        COHORT_ROW_BYTES * (COHORT_ROW_GROUP + f * 3651) + 16 * f * 3651)
    assert memory_estimate(long)["history"] / memory_estimate(short)["history"] == \
        pytest.approx(3651 / 13)


def test_the_basket_cache_costs_eight_bytes_per_customer_need() -> None:
    from ecosim.config.limits import memory_estimate

    kept, drawn = (load_config(_market(basket_cache=setting)) for setting in (True, False))
    extra = memory_estimate(kept)["population"] - memory_estimate(drawn)["population"]
    assert extra == 8 * kept.customers.n * len(kept.needs)


def test_the_streamed_transaction_log_is_estimated_at_one_row_group_and_one_step() -> None:
    """The CLI streams the purchase log: its estimate holds one row group and one step, whatever
    the horizon (a log held whole would grow with every step)."""
    from ecosim.config.limits import TRANSACTION_BYTES, TRANSACTION_ROW_GROUP, memory_estimate
    from ecosim.metrics.transaction_log import ROW_GROUP_ROWS

    assert TRANSACTION_ROW_GROUP == ROW_GROUP_ROWS
    short, long = (load_config(_market(**{"output/transactions": True, "time/horizon": h,
                                          "events": []}))
                   for h in (12, 120))
    assert memory_estimate(short)["transactions"] == memory_estimate(long)["transactions"]
    per_step = short.customers.n * sum(need.prevalence * need.occurrence
                                       for need in short.needs.values())
    assert memory_estimate(short)["transactions"] == pytest.approx(
        (TRANSACTION_ROW_GROUP + per_step) * TRANSACTION_BYTES)
