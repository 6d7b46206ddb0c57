"""The model's bookkeeping (docs/design.md §7): conservation, realized LTV, memory per customer.

Conservation identities are exact (up to float summation order) and hold in any market, so they
are checked on a busy one: three firms, three needs of different prevalence and occurrence,
two segments with heterogeneous factors, habit, switching costs, exogenous churn, marketing with
word of mouth on a small-world network and a price rise mid-run.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ecosim.config import DistSpec, EventConfig, LifecycleConfig, NetworkConfig
from ecosim.model import EcosystemModel

Z = 5.0


@pytest.fixture(scope="module", params=["contractual", "noncontractual"])
def busy(request, market, need, offering, firm, segment):
    """A run of a busy market (6000 customers: two accounting blocks) and its config."""
    if request.param == "contractual":
        lifecycle = LifecycleConfig(kind="contractual", hazard=DistSpec(dist="beta", a=1, b=30))
    else:
        lifecycle = LifecycleConfig(kind="noncontractual",
                                    rate=DistSpec(dist="gamma", shape=2.0, scale=0.5),
                                    dropout=DistSpec(dist="beta", a=1.0, b=20.0))
    needs = {"bank": need(basket=DistSpec(dist="lognormal", mean=2.0, sd=0.5)),
             "credit": need(prevalence=0.4, basket=DistSpec(dist="lognormal", mean=3.0, sd=0.8),
                            risk_priced=True, base_loss=0.05),
             "taxi": need(prevalence=0.6, occurrence=0.4, basket=DistSpec(dist="gamma", shape=2,
                                                                          scale=10.0))}
    firms = {
        "bank": firm({"bank": offering(0.5, 1.0, 0.2, margin_rate=0.3),
                      "credit": offering(0.3, 1.1, 0.1, margin_rate=0.4)},
                     {"bank": 0.4, "credit": 0.3}, initial_awareness=0.7, budget=2000,
                     reach_cost=2.0, word_of_mouth=0.2),
        "neo": firm({"bank": offering(0.2, 0.8, 0.8, margin_rate=0.2),
                     "taxi": offering(0.1, 1.0, 0.5, margin_rate=0.1, brand="ride")},
                    {"bank": 0.2}, initial_awareness=0.3, budget=3000, word_of_mouth=0.4),
        "cab": firm({"taxi": offering(0.4, 0.9, 0.6, margin_rate=0.15)},
                    {"taxi": 0.5}, initial_awareness=0.5, budget=1000),
    }
    segments = {
        "hunters": segment(weight=0.5,
                           price_sensitivity=DistSpec(dist="lognormal", mean=0.5, sd=0.3),
                           brand_affinity=0.3, habit_strength=DistSpec(dist="gamma", shape=2,
                                                                       scale=0.5),
                           openness=DistSpec(dist="beta", a=3, b=6),
                           social_influence=DistSpec(dist="beta", a=2, b=3)),
        "loyal": segment(weight=0.5, brand_affinity=1.0, habit_strength=2.0,
                         openness=DistSpec(dist="beta", a=1, b=9), social_influence=0.3),
    }
    cfg = market(6000, 18, needs, firms, segments=segments, seed=11,
                 switching_cost=DistSpec(dist="gamma", shape=2, scale=0.25), initial_habit=0.5,
                 lifecycle=lifecycle, transactions=True,
                 network=NetworkConfig(kind="watts_strogatz", degree=6, rewire=0.2))
    cfg.events = [EventConfig(step=9, firm="bank", set={"offerings.bank.price_index": 1.3})]
    model = EcosystemModel(cfg)
    return model, model.run()


def test_firm_customers_are_conserved(busy):
    """customers_t = customers_{t-1} + new_t - churned_t, per firm and per offering."""
    _, h = busy
    assert np.array_equal(h.customers[1:], h.customers[:-1] + h.new_customers[1:]
                          - h.churned_customers[1:])
    assert np.array_equal(h.unit_customers[1:], h.unit_customers[:-1] + h.unit_new[1:]
                          - h.unit_churned[1:])
    assert h.new_customers[1:].sum() > 0 and h.churned_customers[1:].sum() > 0


def test_units_and_firms_agree(busy):
    """A firm's customers use at least one and at most all of its offerings."""
    _, h = busy
    assert np.all(h.unit_customers.sum(axis=2) >= h.customers)
    assert np.all(h.unit_customers.max(axis=2) <= h.customers)
    # the "neo" firm's customers using both its offerings make the inequality strict somewhere
    assert np.any(h.unit_customers.sum(axis=2) > h.customers)


def test_a_need_has_at_most_one_provider(busy):
    """Per need, the firms' customers add up to at most the customers who have the need."""
    model, h = busy
    having = (model.population.flags & 1).astype(bool).sum(axis=0)  # HAS_NEED bit
    assert np.all(h.unit_customers.sum(axis=1) <= having[None, :])


def test_segments_add_up_to_the_market(busy):
    """Segment customers and revenue add up to the firms' (docs/design.md §7: revenue = spend)."""
    model, h = busy
    assert np.array_equal(h.segment_customers[:, :, :-1].sum(axis=1), h.customers)
    assert np.all(h.segment_customers[:, :, -1].sum(axis=1) == model.cfg.customers.n)
    np.testing.assert_allclose(h.segment_revenue[:, :, :-1].sum(axis=1), h.revenue.sum(axis=2),
                               rtol=1e-12, atol=1e-9)
    assert h.revenue.sum() > 0


def test_transactions_add_up_to_the_ledgers(busy):
    """The purchase log, step by step: amounts = revenue, contributions = margin - losses.

    Step 0 holds the trial purchases of the relationships that exist at the start (non-contractual
    only: made at t = 0 before the run, amount 0); steps 1.. the simulated purchases."""
    model, h = busy
    assert len(h.transactions) == h.revenue.shape[0]
    trials = h.transactions[0]
    if model.population.lifecycle_kind == 0:  # contractual: no trial purchases
        assert trials.shape[0] == 0
    else:
        assert trials.shape[0] == h.unit_customers[0].sum()
        assert np.all(trials[:, [1, 4, 5]] == 0.0)
    for t, log in enumerate(h.transactions[1:], start=1):
        assert log.shape[0] == h.purchases[t].sum()
        np.testing.assert_allclose(log[:, 4].sum(), h.revenue[t].sum(), rtol=1e-12)
        np.testing.assert_allclose(log[:, 5].sum(),
                                   (h.gross_margin[t] - h.losses[t]).sum(), rtol=1e-12)
        assert np.all((log[:, 1] >= t - 1) & (log[:, 1] < t))


def test_margins_and_losses_follow_the_offers(busy):
    """Gross margin = margin_rate x revenue; losses only on the risk-priced need."""
    model, h = busy
    rate = model.offers.margin_rate
    np.testing.assert_allclose(h.gross_margin, h.revenue * rate[None], rtol=1e-12, atol=1e-9)
    credit = model.need_index["credit"]
    assert np.all(np.delete(h.losses, credit, axis=2) == 0)
    assert h.losses[1:, :, credit].sum() > 0


def test_cohorts_add_up_to_customers_and_contribution(busy):
    """Cohort tables partition the firm's customers and its contribution at every step."""
    _, h = busy
    assert np.array_equal(h.cohort_alive.sum(axis=2), h.customers)
    steps = np.arange(h.customers.shape[0])
    assert np.array_equal(h.cohort_alive[steps, :, steps][1:], h.new_customers[1:])
    np.testing.assert_allclose(h.cohort_contribution.sum(axis=2),
                               (h.gross_margin - h.losses).sum(axis=2), rtol=1e-12, atol=1e-9)
    # nobody joins a cohort after its step, nobody is in a future cohort
    for c in range(h.customers.shape[0]):
        assert np.all(np.diff(h.cohort_alive[c:, :, c], axis=0) <= 0)
        assert np.all(h.cohort_alive[:c, :, c] == 0)


# -- realized LTV ----------------------------------------------------------------------------


def test_realized_ltv_of_a_cohort(monopoly, run_model):
    """Constant margin m per step, retention r = 1 - theta, discount d per step.

    Timing convention: a customer acquired at step c buys at step c (age 0, undiscounted), then
    at each later step while the relationship lasts (the hazard acts from step c + 1). Realized
    LTV = sum_a m r^a / (1 + d)^a = m (1 + d) / (1 + d - r). The initial cohort (customers at step
    0, who buy nothing at step 0) earns the same sum without age 0: m r / (1 + d - r)
    (docs/design.md §4).
    """
    theta, d, horizon = 0.1, 0.01, 60
    basket, margin_rate = 10.0, 0.3
    m, r = basket * margin_rate, 1 - theta
    cfg = monopoly(20_000, horizon, initial_share=0.5, basket=basket, margin_rate=margin_rate,
                   lifecycle=LifecycleConfig(kind="contractual", hazard=DistSpec("fixed",
                                                                                 value=theta)))
    history = run_model(cfg)
    steps = np.arange(horizon + 1)
    delta = r / (1 + d)
    # Tolerance: a customer of cohort 1 buys L times, L ~ Geometric(theta) on {1, 2, ...}, and
    # earns m (1 - e^L) / (1 - e) with e = 1 / (1 + d); cohort 0 buys L - 1 times and earns
    # m (e - e^L) / (1 - e). Both have variance m^2 / (1 - e)^2 Var(e^L), with
    # E[e^L] = theta e / (1 - r e) and E[e^2L] = theta e^2 / (1 - r e^2) (ignoring the horizon,
    # which holds 99.9 % of the sum). The cohort mean is allowed 5 SE = 5 sqrt(var / acquired).
    e = 1 / (1 + d)
    var = m ** 2 / (1 - e) ** 2 * (theta * e ** 2 / (1 - r * e ** 2)
                                   - (theta * e / (1 - r * e)) ** 2)

    # cohort 1: the customers without a provider at step 0, all acquired at step 1
    acquired = history.cohort_alive[1, 0, 1]
    assert acquired == history.new_customers[1, 0] > 9000
    ltv = (history.cohort_contribution[1:, 0, 1] / (1 + d) ** (steps[1:] - 1)).sum() / acquired
    truncated = m * (1 - delta ** horizon) / (1 - delta)
    assert abs(ltv - truncated) <= Z * np.sqrt(var / acquired), (ltv, truncated)
    limit = m * (1 + d) / (1 + d - r)
    assert truncated == pytest.approx(limit, rel=2e-3)  # the horizon holds 99.9 % of the sum

    # cohort 0: the initial customers, no purchase at step 0
    initial = history.cohort_alive[0, 0, 0]
    ltv0 = (history.cohort_contribution[1:, 0, 0] / (1 + d) ** steps[1:]).sum() / initial
    truncated0 = m * delta * (1 - delta ** horizon) / (1 - delta)
    assert abs(ltv0 - truncated0) <= Z * np.sqrt(var / initial), (ltv0, truncated0)
    assert truncated0 == pytest.approx(m * r / (1 + d - r), rel=2e-3)


# -- memory -----------------------------------------------------------------------------------


def test_memory_per_customer_and_per_customer_need(market, need, offering, firm):
    """docs/model.md "Memory": at most 64 bytes per customer and 8 per customer-need, K = F = 8,
    plus 8 per customer-need for the basket cache when it is on."""
    needs = {f"n{k}": need() for k in range(8)}
    firms = {f"f{j}": firm({f"n{j}": offering()}) for j in range(8)}
    cfg = market(1000, 2, needs, firms)
    for cache, per_need in ((False, 8), (True, 16)):
        sizes = EcosystemModel(dataclasses.replace(cfg, basket_cache=cache)).population.nbytes()
        assert sizes["per_customer"] <= 64, sizes
        assert sizes["per_customer_need"] <= per_need, sizes
