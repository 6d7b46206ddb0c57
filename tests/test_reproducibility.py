"""Determinism and common random numbers (docs/design.md §3).

Every draw is a pure function of (seed, replication, stream, step, customer, slot), and totals are
summed in fixed blocks, so a run is bit-identical whatever the thread count; replications differ;
and two arms that share (seed, replication) see the same customers.
"""

from __future__ import annotations

import copy
import dataclasses

import numba
import numpy as np
import pytest

from ecosim.config import DistSpec, LifecycleConfig, NetworkConfig
from ecosim.model import EcosystemModel, History

N = 9000  # three accounting blocks of 4096


@pytest.fixture(scope="module", params=["contractual", "noncontractual"])
def config(request, market, need, offering, firm, segment):
    """A small market with every source of randomness switched on."""
    if request.param == "contractual":
        lifecycle = LifecycleConfig(kind="contractual", hazard=DistSpec(dist="beta", a=1, b=20))
    else:
        lifecycle = LifecycleConfig(kind="noncontractual",
                                    rate=DistSpec(dist="gamma", shape=1.5, scale=0.5),
                                    dropout=DistSpec(dist="beta", a=1.0, b=10.0))
    needs = {"bank": need(basket=DistSpec(dist="lognormal", mean=2.0, sd=0.5)),
             "taxi": need(prevalence=0.6, occurrence=0.5,
                          basket=DistSpec(dist="gamma", shape=2.0, scale=5.0))}
    firms = {
        "bank": firm({"bank": offering(0.5, 1.0, 0.2)}, {"bank": 0.4}, initial_awareness=0.6,
                     budget=2000, word_of_mouth=0.3),
        "neo": firm({"bank": offering(0.2, 0.8, 0.6), "taxi": offering(0.3, 1.0, 0.5)},
                    {"taxi": 0.3}, initial_awareness=0.3, budget=3000, word_of_mouth=0.3),
    }
    segments = {
        "a": segment(weight=0.3, price_sensitivity=DistSpec(dist="lognormal", mean=0.3, sd=0.4),
                     habit_strength=DistSpec(dist="gamma", shape=2, scale=0.5),
                     openness=DistSpec(dist="beta", a=2, b=5),
                     social_influence=DistSpec(dist="uniform", low=0.2, high=0.8)),
        "b": segment(weight=0.7, brand_affinity=DistSpec(dist="normal", mean=0.5, sd=0.2),
                     habit_strength=1.5, openness=DistSpec(dist="beta", a=1, b=9)),
    }
    return market(N, 12, needs, firms, segments=segments, seed=5,
                  switching_cost=DistSpec(dist="gamma", shape=2, scale=0.25), initial_habit=0.5,
                  lifecycle=lifecycle, transactions=True,
                  network=NetworkConfig(kind="erdos_renyi", degree=6))


def assert_identical(a: History, b: History) -> None:
    """Every recorded array equal, bit for bit (NaNs included)."""
    for field in dataclasses.fields(History):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if field.name == "transactions":
            assert len(x) == len(y)
            for step_x, step_y in zip(x, y, strict=True):
                assert np.array_equal(step_x, step_y, equal_nan=True), field.name
        else:
            assert np.array_equal(x, y, equal_nan=True), field.name


def test_same_seed_same_history(config, run_model):
    assert_identical(run_model(config), run_model(config))


def test_thread_count_does_not_change_the_history(config, run_model):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run_model(config)
        numba.set_num_threads(2)
        two = run_model(config)
    finally:
        numba.set_num_threads(before)
    assert_identical(one, two)


def test_replications_differ(config):
    first, second = EcosystemModel(config, 0), EcosystemModel(config, 1)
    assert not np.array_equal(first.population.traits, second.population.traits)
    a, b = first.run(), second.run()
    assert not np.array_equal(a.revenue, b.revenue)
    assert not np.array_equal(a.customers, b.customers)


def test_seeds_differ(config):
    other = dataclasses.replace(config, seed=config.seed + 1)
    assert not np.array_equal(EcosystemModel(config).population.traits,
                              EcosystemModel(other).population.traits)


def test_arms_share_their_customers(config):
    """Common random numbers: another price for one firm leaves the population unchanged."""
    arm = EcosystemModel(config)
    changed = dataclasses.replace(config, firms=dict(config.firms))
    changed.firms["neo"] = dataclasses.replace(
        config.firms["neo"], offerings={**config.firms["neo"].offerings,
                                        "bank": dataclasses.replace(
                                            config.firms["neo"].offerings["bank"],
                                            price_index=1.4)})
    other = EcosystemModel(changed)
    for name in ("traits", "life", "segment", "age_band", "income_band", "flags", "provider",
                 "habit", "aware", "customer_of", "indptr", "indices"):
        assert np.array_equal(getattr(arm.population, name), getattr(other.population, name)), name
    # ... and the arms do differ once they run
    assert not np.array_equal(arm.run().revenue, other.run().revenue)
    assert config.firms["neo"].offerings["bank"].price_index == 0.8  # the base arm untouched


# -- the cohort ledger's groups of blocks (kernels/accounting.py) ---------------------------------


def test_block_groups_partition_the_blocks_in_order():
    from ecosim.kernels.accounting import group_blocks, group_of, n_cohort_groups

    for blocks in (1, 2, 3, 5, 63, 64, 65, 130, 2442):
        groups = n_cohort_groups(blocks)
        assert groups == min(blocks, 64)
        covered = [b for g in range(groups) for b in group_blocks(g, blocks, groups)]
        assert covered == list(range(blocks))  # every block once, in order
        sizes = {len(group_blocks(g, blocks, groups)) for g in range(groups)}
        assert sizes <= {blocks // groups, blocks // groups + 1}
        assert all(group_of(b, blocks, groups) == g
                   for g in range(groups) for b in group_blocks(g, blocks, groups))


def test_grouped_cohort_ledgers_give_the_same_history(config, run_model, monkeypatch):
    """Three blocks in two groups: counts and every other array identical, contributions
    equal to rounding (a group sums its blocks' purchases in one sequence), for any threads."""
    from ecosim.kernels import accounting

    per_block = run_model(config)
    monkeypatch.setattr(accounting, "COHORT_GROUPS", 2)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run_model(config)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = run_model(config)
    finally:
        numba.set_num_threads(before)
    assert_identical(one, two)
    for field in dataclasses.fields(History):
        if field.name == "cohort_contribution":
            np.testing.assert_allclose(one.cohort_contribution, per_block.cohort_contribution,
                                       rtol=1e-12, atol=1e-9)
            assert np.abs(one.cohort_contribution).sum() > 0
        elif field.name != "transactions":
            assert np.array_equal(getattr(one, field.name), getattr(per_block, field.name),
                                  equal_nan=True), field.name


def test_the_basket_cache_does_not_change_the_history(config, run_model):
    """Baskets kept once drawn give the run that drawing them at every use gives, bit for bit
    (lognormal and gamma baskets; the purchase log's amounts included)."""
    kept = dataclasses.replace(config, basket_cache=True)
    drawn = dataclasses.replace(config, basket_cache=False)
    assert EcosystemModel(kept).population.basket.shape == (N, 2)
    assert EcosystemModel(drawn).population.basket.shape == (0, 2)
    assert_identical(run_model(kept), run_model(drawn))


def test_the_basket_cache_with_every_mechanism_on():
    """Five income bands, a trending basket, risk, satisfaction: the same history either way;
    the cache holds each need's basket once drawn (NaN where no occasion arose) and costs
    8 bytes per customer-need."""
    from benchmarks.bench_step import all_on_config

    cfg = all_on_config(5000, 6)
    assert len(cfg.customers.sociodemo.income_scale) > 1
    assert any(need.basket_growth != 0 for need in cfg.needs.values())
    kept = EcosystemModel(dataclasses.replace(cfg, basket_cache=True))
    drawn = EcosystemModel(dataclasses.replace(cfg, basket_cache=False))
    assert_identical(kept.run(), drawn.run())
    basket = kept.population.basket
    assert np.isfinite(basket).mean() > 0.5 and (basket[np.isfinite(basket)] > 0).all()
    assert (kept.population.nbytes()["per_customer_need"]
            == drawn.population.nbytes()["per_customer_need"] + 8)


def test_the_basket_cache_is_kept_up_to_a_gibibyte_if_the_run_fits_unless_set(config,
                                                                              monkeypatch):
    """Automatic: on up to 2**27 customer-needs, and only if the run fits in this machine's
    memory with it; a setting wins. A run that fits only without the cache validates."""
    from ecosim.config import ConfigError, config_to_dict, limits, load_config

    cfg = copy.deepcopy(config)
    k = len(cfg.needs)
    monkeypatch.setattr(limits, "machine_memory", lambda: 0)  # unknown: no memory limit
    for n, expected in ((1000, True), (limits.BASKET_CACHE_AUTO // k, True),
                        (limits.BASKET_CACHE_AUTO // k + 1, False)):
        cfg.customers.n = n
        assert limits.basket_cache_on(cfg) is expected, n
        for setting in (True, False):
            assert limits.basket_cache_on(dataclasses.replace(cfg, basket_cache=setting)) \
                is setting
    cfg.customers.n = 3_000_000
    without = limits.total_memory(limits.memory_estimate(cfg, basket_cache=False))
    cache = 8 * cfg.customers.n * k
    for machine, expected in ((without + cache, True), (without + cache // 2, False)):
        monkeypatch.setattr(limits, "machine_memory", lambda m=machine: int(m))
        assert limits.basket_cache_on(cfg) is expected, machine
        assert load_config(config_to_dict(cfg)).customers.n == 3_000_000  # validates
    with pytest.raises(ConfigError, match="fits in this machine's"):  # with the cache: no
        load_config({**config_to_dict(cfg), "basket_cache": True})
