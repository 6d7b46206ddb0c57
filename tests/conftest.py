"""Shared builders of tiny markets for the engine tests.

Every test builds its config from the schema dataclasses with these helpers, so that what a test
changes is visible in the test itself and the rest is a neutral default: one segment of identical
customers (pure logit: no habit, brand, or switching cost; always open), one income band with
multiplier 1, no network, no exogenous churn, no persistent taste (a unit Gumbel shock per
occasion), and every config validated by ``load_config``
before it runs (a test never runs a config a user could not write).

The helpers are plain functions exposed through fixtures of the same name (``market``,
``offering``, ``run_model``, ...), so a test asks for them as arguments; test files may also
import them, with the checks they share (``assert_binomial``, ``step_through``, ``Z``).
"""

from __future__ import annotations

import math
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from ecosim.config import (
    DistSpec,
    EcosimConfig,
    EventConfig,
    FirmConfig,
    LifecycleConfig,
    MarketingConfig,
    NeedConfig,
    OfferingConfig,
    SegmentConfig,
    config_to_dict,
    load_config,
)
from ecosim.model import EcosystemModel, History

#: Standard errors allowed between a count and its expectation (two-sided normal tail 5.7e-7 per
#: check, so a file's few dozen checks give a false alarm less than once in 10^4 runs).
Z = 5.0
#: Utility of an offering nobody leaves voluntarily: the outside option (Gumbel noise around 0)
#: beats it with probability about exp(-50) ~ 2e-22 per occurrence.
HUGE_QUALITY = 50.0


def fixed(value: float) -> DistSpec:
    """A distribution spec that is the same ``value`` for every customer."""
    return DistSpec(dist="fixed", value=float(value))


def as_spec(value: float | DistSpec) -> DistSpec:
    """A spec as is, or a number as a fixed spec."""
    return value if isinstance(value, DistSpec) else fixed(value)


def segment(weight: float = 1.0, **factors: float | DistSpec) -> SegmentConfig:
    """A behavioural segment; factors default to a pure-logit customer.

    Defaults: price sensitivity 1, convenience sensitivity 1, brand affinity 0, habit strength 0,
    openness 1 (considers every known firm at every occurrence), social influence 1.
    """
    values: dict[str, float | DistSpec] = {
        "price_sensitivity": 1.0, "convenience_sensitivity": 1.0, "brand_affinity": 0.0,
        "habit_strength": 0.0, "openness": 1.0, "social_influence": 1.0}
    values.update(factors)
    return SegmentConfig(weight=weight, **{name: as_spec(v) for name, v in values.items()})


def need(prevalence: float = 1.0, occurrence: float = 1.0, basket: float | DistSpec = 1.0,
         **extra: Any) -> NeedConfig:
    """A need; by default every customer has it and it arises every step with spend 1."""
    return NeedConfig(prevalence=prevalence, occurrence=occurrence, basket=as_spec(basket),
                      **extra)


def offering(quality: float = 0.0, price_index: float = 1.0, convenience: float = 0.0,
             margin_rate: float = 0.2, **extra: Any) -> OfferingConfig:
    """An offering (its brand is left to default to the firm's)."""
    return OfferingConfig(quality=quality, price_index=price_index, convenience=convenience,
                          margin_rate=margin_rate, **extra)


def firm(offerings: dict[str, OfferingConfig], initial_share: dict[str, float] | None = None,
         initial_awareness: float = 0.0, budget: float = 0.0, reach_cost: float = 1.0,
         word_of_mouth: float = 0.0, brand: str | None = None) -> FirmConfig:
    """A standalone firm (``brand`` None: the firm's name, as the schema allows)."""
    return FirmConfig(
        brand=brand, offerings=offerings, initial_share=dict(initial_share or {}),
        initial_awareness=initial_awareness,
        marketing=MarketingConfig(budget=budget, reach_cost=reach_cost,
                                  word_of_mouth=word_of_mouth))


def market(n: int, horizon: int, needs: dict[str, NeedConfig], firms: dict[str, FirmConfig],
           segments: dict[str, SegmentConfig] | None = None, seed: int = 0,
           switching_cost: float | DistSpec = 0.0, initial_habit: float = 0.0,
           lifecycle: LifecycleConfig | None = None, transactions: bool = False,
           events: list[EventConfig] | None = None, **customers: Any) -> EcosimConfig:
    """A validated tiny market.

    Args:
        n: customers; horizon: steps.
        needs, firms: keyed by name.
        segments: default one pure-logit segment ``all`` (see ``segment``).
        seed: root seed.
        switching_cost: utility; initial_habit: habit of step-0 relationships.
        lifecycle: default contractual with hazard 0 (nobody churns exogenously).
        transactions: keep the transaction log.
        events: scheduled changes (validated with the rest; a brand event re-brands the
            offerings that carry the firm's brand, so add events here, not after validation).
        **customers: any other ``customers`` field set as is (``network``, ``habit_gain``, ...).
    """
    cfg = EcosimConfig()
    cfg.seed = seed
    cfg.time.horizon = horizon
    cfg.customers.n = n
    cfg.customers.segments = segments or {"all": segment()}
    cfg.customers.switching_cost = as_spec(switching_cost)
    cfg.customers.initial_habit = initial_habit
    cfg.customers.lifecycle = lifecycle or LifecycleConfig(kind="contractual", hazard=fixed(0.0))
    cfg.customers.sociodemo.income_scale = [1.0]
    # pure logit: no persistent taste, a unit Gumbel shock at every occasion a choice is made
    cfg.customers.taste_scale = 0.0
    cfg.customers.shock_scale = 1.0
    for name, value in customers.items():
        setattr(cfg.customers, name, value)
    cfg.needs = dict(needs)
    cfg.firms = dict(firms)
    cfg.events = list(events or [])
    cfg.output.transactions = transactions
    cfg.output.figures = False
    return load_config(config_to_dict(cfg))


def monopoly(n: int, horizon: int, initial_share: float = 1.0, initial_awareness: float = 1.0,
             basket: float = 1.0, margin_rate: float = 0.2, quality: float = HUGE_QUALITY,
             **kwargs: Any) -> EcosimConfig:
    """One need arising every step, one firm (by default one that customers without a provider
    always choose: ``HUGE_QUALITY``).

    Openness is 0, so a customer with a provider is on autopilot and never chooses; one without a
    provider chooses among the firms they know and the outside option. ``kwargs`` go to
    ``market``.
    """
    offers = {"x": offering(quality=quality, margin_rate=margin_rate)}
    firms = {"solo": firm(offers, {"x": initial_share} if initial_share else None,
                          initial_awareness=initial_awareness)}
    kwargs.setdefault("segments", {"all": segment(openness=0.0)})
    return market(n, horizon, {"x": need(basket=basket)}, firms, **kwargs)


def run_model(cfg: EcosimConfig, replication: int = 0) -> History:
    """Run a config to its horizon and return its History."""
    return EcosystemModel(cfg, replication).run()


def run_to_end(cfg: EcosimConfig) -> EcosystemModel:
    """Run a config to its horizon and return the model (history, population, firms' log)."""
    model = EcosystemModel(cfg)
    model.run()
    return model


def step_through(cfg: EcosimConfig) -> tuple[EcosystemModel, np.ndarray]:
    """Run step by step; returns the model and providers [step 0..T, customer, need]."""
    model = EcosystemModel(cfg)
    providers = [model.population.provider.copy()]
    for _ in range(cfg.time.horizon):
        model.step()
        providers.append(model.population.provider.copy())
    return model, np.array(providers, np.int64)


def traced_peak(play: Callable[[], Any]) -> int:
    """Peak bytes allocated (tracemalloc) while ``play`` runs, above what was allocated before."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        play()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def row_group_sizes(path: Path) -> list[int]:
    """Rows of each row group of a Parquet file, in file order."""
    metadata = pq.ParquetFile(path).metadata
    return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


def assert_published(result: Any, log: str, run_dir: Path, file: str, partial: Path) -> None:
    """``write_tables`` publishes a table the run streamed (``result.<log>``, its path).

    Before it, the table is only under its partial name; after it, only under ``file``.
    """
    from ecosim.experiment import write_tables

    assert getattr(result, log) == partial
    assert not (run_dir / file).exists()  # not before the run writes its tables
    write_tables(result, run_dir)
    assert getattr(result, log) == run_dir / file and not partial.exists()


def assert_binomial(count: float, trials: float, p: float, what: str = "") -> None:
    """``count`` successes in ``trials`` Bernoulli(p) within ``Z`` standard errors."""
    se = math.sqrt(trials * p * (1.0 - p))
    assert abs(count - trials * p) <= Z * se + 1e-9, (what, count, trials * p, se)


@pytest.fixture(scope="session", name="market")
def market_fixture():
    """The ``market`` builder."""
    return market


@pytest.fixture(scope="session", name="monopoly")
def monopoly_fixture():
    """The ``monopoly`` builder."""
    return monopoly


@pytest.fixture(scope="session", name="segment")
def segment_fixture():
    """The ``segment`` builder."""
    return segment


@pytest.fixture(scope="session", name="need")
def need_fixture():
    """The ``need`` builder."""
    return need


@pytest.fixture(scope="session", name="offering")
def offering_fixture():
    """The ``offering`` builder."""
    return offering


@pytest.fixture(scope="session", name="firm")
def firm_fixture():
    """The ``firm`` builder."""
    return firm


@pytest.fixture(scope="session", name="fixed")
def fixed_fixture():
    """The ``fixed`` spec builder."""
    return fixed


@pytest.fixture(scope="session", name="run_model")
def run_model_fixture():
    """The ``run_model`` runner."""
    return run_model
