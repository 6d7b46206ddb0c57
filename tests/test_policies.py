"""Firm policies (issue 3 items 5 and 7): cross-sell organisation, contact costs, fatigue,
targeting and the LTV/CAC marketing rule.

As in ``test_business_models``: tiny markets whose outcome can be computed, counts compared with
their binomial expectation within ``Z`` standard errors, and common random numbers (same seed)
when two configs are compared. Cross-sell contacts are made after the step's choices, to the
firm's own customers, for needs they have and do not buy from it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from conftest import (
    HUGE_QUALITY,
    assert_binomial,
    firm,
    fixed,
    market,
    need,
    offering,
    run_model,
    segment,
    step_through,
)

from ecosim.agents.policies import CrossSellTargeting, LtvCacTarget, StepResults, spread_contacts
from ecosim.config import EventConfig, LifecycleConfig, MarketingConfig, SociodemoConfig
from ecosim.config.schema import CrossSellConfig, FatigueConfig
from ecosim.metrics.tables import firm_metrics, predicted_ltv

SELLER, RIVAL = 0, 1


# -- cross-sell organisation and contact costs -------------------------------------------------

def cross_sell_market(organisation: str, p: float = 0.2, cost: float = 2.5, n: int = 5000,
                      horizon: int = 6):
    """Everyone buys x from the seller for ever and y, z from a rival nobody leaves; the seller
    also offers y (quality 0) and z (quality 1), so its contacts never convert and every customer
    stays eligible for both units every step."""
    seller = dataclasses.replace(
        firm({"x": offering(quality=HUGE_QUALITY), "y": offering(quality=0.0),
              "z": offering(quality=1.0)}, {"x": 1.0}, initial_awareness=1.0),
        cross_sell=CrossSellConfig(contacts_per_step=p, organisation=organisation,
                                   contact_cost=cost))
    rival = firm({"y": offering(quality=HUGE_QUALITY), "z": offering(quality=HUGE_QUALITY)},
                 {"y": 1.0, "z": 1.0}, initial_awareness=1.0)
    return market(n, horizon, {"x": need(), "y": need(), "z": need()},
                  {"seller": seller, "rival": rival}, segments={"all": segment(openness=0.0)})


def test_silo_contacts_every_unit_and_value_stream_once_per_customer():
    """Silo: each unit the customer does not use contacts them with probability p, so each of y
    and z makes Binomial(N, p) contacts per step; value stream: one contact per customer with
    probability p (Binomial(N, p), never more contacts than customers), always for the offer
    with the larger utility gain (z). For the same contacts_per_step silo makes more contacts.
    Each contact costs contact_cost (the firm_metrics column is contacts × cost). N = 5000 over
    6 steps: SE 31 per step on 1000 contacts."""
    p, cost, n, horizon = 0.2, 2.5, 5000, 6
    silo = run_model(cross_sell_market("silo", p, cost, n, horizon))
    stream = run_model(cross_sell_market("value_stream", p, cost, n, horizon))
    for h in (silo, stream):
        assert np.all(h.customers[:, SELLER] == n)
        assert np.all(h.conversions == 0)
        np.testing.assert_allclose(h.contact_cost[:, SELLER],
                                   cost * h.contacts[:, SELLER].sum(axis=1), rtol=1e-12)
        fm = firm_metrics(h, ["seller", "rival"])
        np.testing.assert_allclose(fm["contact_cost"], cost * fm["contacts"], rtol=1e-12)
        assert np.all(h.contacts[:, RIVAL] == 0) and np.all(h.contacts[:, :, 0] == 0)
    for k in (1, 2):
        assert_binomial(silo.contacts[1:, SELLER, k].sum(), n * horizon, p, f"silo unit {k}")
    assert np.all(stream.contacts[:, SELLER, 1] == 0)  # y's gain (-50) < z's (-49)
    assert_binomial(stream.contacts[1:, SELLER, 2].sum(), n * horizon, p, "value stream")
    per_step_stream = stream.contacts[:, SELLER].sum(axis=1)
    assert np.all(per_step_stream <= stream.customers[:, SELLER])
    assert np.all(silo.contacts[:, SELLER].sum(axis=1) >= per_step_stream)
    assert silo.contacts[1:].sum() > 1.8 * stream.contacts[1:].sum()


# -- contact fatigue ---------------------------------------------------------------------------

def fatigue_market(fatigue: FatigueConfig, seller_y_quality: float, with_z: bool):
    """The seller contacts every customer for y at every step (silo, probability 1) until it
    wins y. With ``with_z``, each customer also buys z from an incumbent and an equal
    alternative (both HUGE quality) that only an open customer considers."""
    seller = dataclasses.replace(
        firm({"x": offering(quality=HUGE_QUALITY), "y": offering(quality=seller_y_quality)},
             {"x": 1.0}, initial_awareness=1.0),
        cross_sell=CrossSellConfig(contacts_per_step=1.0))
    firms = {"seller": seller,
             "rival": firm({"y": offering(quality=HUGE_QUALITY)}, {"y": 1.0})}
    needs = {"x": need(), "y": need()}
    if with_z:
        needs["z"] = need()
        firms["incumbent"] = firm({"z": offering(quality=HUGE_QUALITY)}, {"z": 1.0},
                                  initial_awareness=1.0)
        firms["alternative"] = firm({"z": offering(quality=HUGE_QUALITY)}, initial_awareness=1.0)
    return market(8000, 4, needs, firms, segments={"all": segment(openness=0.0)},
                  fatigue=fatigue)


def test_fatigue_raises_openness_and_decays():
    """Openness 0, one contact per step: fatigue before the choices of step t is
    ``c × sum_{j<t} (1 - decay)^(t - j)`` (0, 0.2, 0.3, 0.35 for c = 0.4, decay 0.5), so an
    incumbent's customer is open with probability ``openness_gain × fatigue`` and then moves to
    the equal alternative with probability 1/2. Steps 1-4, ~8000 at risk each: SE <= 0.004."""
    c, decay, gain = 0.4, 0.5, 1.0
    _, provider = step_through(fatigue_market(
        FatigueConfig(per_contact=c, decay=decay, openness_gain=gain, annoyance=0.0),
        -HUGE_QUALITY, with_z=True))
    incumbent, alternative = 2, 3
    for t in range(1, 5):
        fatigue = c * sum((1 - decay) ** (t - j) for j in range(1, t))
        at_risk = provider[t - 1, :, 2] == incumbent
        moved = (provider[t, at_risk, 2] == alternative).sum()
        if t == 1:
            assert moved == 0
        else:
            assert_binomial(moved, at_risk.sum(), gain * fatigue / 2, f"step {t}")
    _, none = step_through(fatigue_market(FatigueConfig(per_contact=c, decay=decay,
                                                     openness_gain=0.0, annoyance=0.0),
                                       -HUGE_QUALITY, with_z=True))
    assert np.all(none[:, :, 2] == incumbent)


def test_fatigue_annoys_the_contacted():
    """A contact converts with probability ``1 / (1 + e^-(dq - annoyance × fatigue))`` (seller's
    y is dq better than the rival's; the outside option is negligible at HUGE quality). Those
    still with the rival at step t have been contacted at every earlier step: fatigue 0, 0.2,
    0.3 at steps 1-3. ~8000, ~3000, ~1400 contacts: SE <= 0.014."""
    c, decay, annoyance, dq = 0.4, 0.5, 2.0, 0.5
    h = run_model(fatigue_market(
        FatigueConfig(per_contact=c, decay=decay, openness_gain=0.0, annoyance=annoyance),
        HUGE_QUALITY + dq, with_z=False))
    for t in range(1, 4):
        fatigue = c * sum((1 - decay) ** (t - j) for j in range(1, t))
        p = 1 / (1 + math.exp(-(dq - annoyance * fatigue)))
        assert_binomial(h.conversions[t, SELLER, 1], h.contacts[t, SELLER, 1], p, f"step {t}")


# -- targeting ---------------------------------------------------------------------------------

def targeting_market(targeting: str, informativeness: float):
    """Two segments of equal weight, told apart by age band when ``informativeness`` is 1: the
    keen value the seller's convenience (a contact converts with probability 1/2), the cold do
    not (probability 0.047). The seller contacts 10 % of its customers per step for y."""
    seller = dataclasses.replace(
        firm({"x": offering(quality=HUGE_QUALITY),
              "y": offering(quality=HUGE_QUALITY - 3.0, convenience=2.0)},
             {"x": 1.0}, initial_awareness=1.0),
        cross_sell=CrossSellConfig(contacts_per_step=0.1, targeting=targeting))
    rival = firm({"y": offering(quality=HUGE_QUALITY)}, {"y": 1.0})
    segments = {"keen": segment(0.5, openness=0.0, convenience_sensitivity=1.5),
                "cold": segment(0.5, openness=0.0, convenience_sensitivity=0.0)}
    segments["keen"].age_band, segments["cold"].age_band = 0, 1
    return market(10_000, 10, {"x": need(), "y": need()}, {"seller": seller, "rival": rival},
                  segments=segments,
                  fatigue=FatigueConfig(per_contact=0.0),
                  sociodemo=SociodemoConfig(informativeness=informativeness, income_scale=[1.0]))


def conversion_rate(h) -> float:
    return h.conversions[1:, SELLER].sum() / h.contacts[1:, SELLER].sum()


def test_targeting_on_informative_cells_converts_better():
    """With informativeness 1 the age band is the segment: sociodemographic targeting is the
    behavioural one (identical runs), and learning the cells' conversion rates moves contacts to
    the keen, so conversions per contact rise well above untargeted contacts (~0.2 against
    ~0.4; ~9000 contacts each: SE <= 0.005). The expected number of contacts stays about
    contacts_per_step per eligible customer (step 1, before any learning, is identical)."""
    none = run_model(targeting_market("none", 1.0))
    behavioural = run_model(targeting_market("behavioural", 1.0))
    socio = run_model(targeting_market("sociodemographic", 1.0))
    np.testing.assert_array_equal(socio.contacts, behavioural.contacts)
    np.testing.assert_array_equal(socio.conversions, behavioural.conversions)
    np.testing.assert_array_equal(behavioural.contacts[1], none.contacts[1])
    rate_none, rate_targeted = conversion_rate(none), conversion_rate(behavioural)
    assert rate_targeted > rate_none + 0.1, (rate_none, rate_targeted)
    assert behavioural.conversions[1:].sum() > none.conversions[1:].sum()


def test_sociodemographic_targeting_without_information_is_untargeted():
    """With informativeness 0 the age band says nothing of the segment: every cell converts
    alike and sociodemographic targeting converts as untargeted contacts do. The two rates share
    most contacts (same seed); each has SE ~0.0045 on ~9000 contacts, so their difference is
    allowed Z × sqrt(2) × 0.0045 = 0.032 (targeting on informative cells gains ~0.2)."""
    none = run_model(targeting_market("none", 0.0))
    socio = run_model(targeting_market("sociodemographic", 0.0))
    assert abs(conversion_rate(socio) - conversion_rate(none)) < 0.032


def test_targeting_keeps_the_expected_contacts_and_aims_them():
    """The contact probability per cell is ``min(1, λ w_c)`` with the Laplace estimates w_c,
    and λ keeps the firm's expected contacts at contacts_per_step × its own customers
    (weighted by the firm's customers per cell, not the population's); a capped cell passes its
    excess to the others."""
    targeting = CrossSellTargeting(3)
    cfg = CrossSellConfig(contacts_per_step=0.1, targeting="behavioural")
    np.testing.assert_allclose(targeting.probabilities(cfg), 0.1)  # no history yet
    customers = np.array([800.0, 150.0, 50.0])  # the firm's customers, not the population's
    targeting.record(np.array([100.0, 100.0, 0.0]), np.array([49.0, 9.0, 0.0]), customers)
    p = targeting.probabilities(cfg)
    weight = np.array([50 / 102, 10 / 102, 0.5])
    np.testing.assert_allclose(p, 0.1 * weight / (np.dot(customers, weight) / customers.sum()))
    assert np.dot(customers, p) == pytest.approx(0.1 * customers.sum())
    untargeted = targeting.probabilities(CrossSellConfig(contacts_per_step=0.1))
    np.testing.assert_allclose(untargeted, [0.1, 0.0, 0.0])
    # a cap that binds: at 0.9 per customer the best cells would need p > 1
    capped = spread_contacts(0.9, weight, customers)
    assert capped.max() == 1.0 and np.all(capped <= 1.0)
    assert np.dot(customers, capped) == pytest.approx(0.9 * customers.sum())


def test_targeted_contacts_match_the_firms_customers():
    """In a run, the contacts of a targeting firm at each step stay within 5 Poisson-binomial SE
    of contacts_per_step × the customers it can contact (its customers at the start of the step
    who lack its y). The first version spread contacts by the population's cells: as the keen
    converted, the seller kept contacting ~10 % of the population's keen share."""
    h = run_model(targeting_market("behavioural", 1.0))
    contacts = h.contacts[2:, SELLER].sum(axis=1)
    eligible = h.customers[1:-1, SELLER] - h.unit_customers[1:-1, SELLER, 1]
    expected = 0.1 * eligible
    assert np.all(np.abs(contacts - expected) <= 5 * np.sqrt(expected) + 1), (contacts, expected)


# -- LTV/CAC marketing rule ---------------------------------------------------------------------

def test_ltv_cac_rule_scales_the_budget_towards_the_target():
    """After a step with contribution m per customer, retention r, CAC = spend / new:
    LTV = m (1 + d) / (1 + d - r) and the budget is multiplied by ((LTV / CAC) / target)^adjust,
    within [1/2, 2]: up when LTV/CAC is above target, down when below."""
    d = 0.01
    last = StepResults(customers=100.0, new_customers=10.0, churned_customers=5.0,
                       customers_at_start=95.0, contribution=50.0, marketing_spend=100.0)
    ltv = 0.5 * (1 + d) / (1 + d - (1 - 5 / 95))
    ratio = ltv / 10.0  # CAC = 100 / 10
    for target, adjust in ((ratio / 1.5, 0.5), (ratio * 1.5, 0.5), (ratio / 10, 1.0),
                           (ratio * 10, 1.0)):
        cfg = MarketingConfig(budget=100.0, rule="ltv_cac_target", target=target, adjust=adjust)
        rule = LtvCacTarget(cfg)
        assert rule.next_budget(cfg, None, d) == 100.0  # no history: the configured budget
        expected = 100.0 * min(2.0, max(0.5, (ratio / target) ** adjust))
        assert rule.next_budget(cfg, last, d) == pytest.approx(expected)
        assert (expected > 100.0) == (ratio > target)


def ltv_market(target: float):
    """One firm buying customers with ads under the LTV/CAC rule; 5 % churn per step."""
    own = firm({"x": offering(quality=1.0, margin_rate=0.3)}, {"x": 0.3}, budget=2000.0)
    own.marketing = MarketingConfig(budget=2000.0, reach_cost=1.0, rule="ltv_cac_target",
                                    target=target, adjust=0.5)
    return market(5000, 10, {"x": need(basket=10.0)}, {"own": own},
                  segments={"all": segment(openness=0.0)},
                  lifecycle=LifecycleConfig(kind="contractual", hazard=fixed(0.05)))


def test_higher_ltv_cac_target_spends_less():
    """Same market, same seed, targets 2 and 50: step 1 spends the configured budget in both;
    from step 2 on, the firm aiming at the higher LTV/CAC spends less (at step 2 exactly: the
    same history, a smaller factor), and less in total."""
    low, high = run_model(ltv_market(2.0)), run_model(ltv_market(50.0))
    assert low.marketing_spend[1, 0] == high.marketing_spend[1, 0] == 2000.0
    assert high.marketing_spend[2, 0] < 2000.0 < low.marketing_spend[2, 0]
    assert np.all(high.marketing_spend[2:, 0] < low.marketing_spend[2:, 0])
    assert high.new_customers[2:, 0].sum() < low.new_customers[2:, 0].sum()


@pytest.mark.parametrize("rule", ["fixed", "ltv_cac_target"])
def test_budget_event_takes_effect_under_either_rule(rule):
    """An event that sets marketing.budget at step t: steps before t spend as without it, step t
    spends the new budget, and an adaptive rule adapts from it afterwards (it used to ignore the
    event and keep adapting its own budget)."""
    t, new_budget = 4, 100.0

    def cfg(events=None):
        own = firm({"x": offering(quality=1.0, margin_rate=0.3)}, {"x": 0.3})
        own.marketing = MarketingConfig(budget=2000.0, reach_cost=1.0, rule=rule, target=3.0)
        return market(5000, 7, {"x": need(basket=10.0)}, {"own": own},
                      segments={"all": segment(openness=0.0)}, events=events,
                      lifecycle=LifecycleConfig(kind="contractual", hazard=fixed(0.05)))

    base = run_model(cfg())
    cut = run_model(cfg([EventConfig(step=t, firm="own", set={"marketing.budget": new_budget})]))
    np.testing.assert_array_equal(cut.marketing_spend[:t], base.marketing_spend[:t])
    assert cut.marketing_spend[t, 0] == new_budget
    if rule == "fixed":
        assert np.all(cut.marketing_spend[t:, 0] == new_budget)
    else:
        assert cut.marketing_spend[t + 1, 0] != new_budget


def test_rule_switch_event_starts_the_rule_from_the_budget():
    """Switching marketing.rule from fixed to ltv_cac_target at step t: step t spends the
    configured budget, later steps adapt it."""
    t = 3
    own = firm({"x": offering(quality=1.0, margin_rate=0.3)}, {"x": 0.3})
    own.marketing = MarketingConfig(budget=2000.0, reach_cost=1.0, target=3.0)
    h = run_model(market(5000, 6, {"x": need(basket=10.0)}, {"own": own},
                         segments={"all": segment(openness=0.0)},
                         events=[EventConfig(step=t, firm="own",
                                             set={"marketing.rule": "ltv_cac_target"})],
                         lifecycle=LifecycleConfig(kind="contractual", hazard=fixed(0.05))))
    assert np.all(h.marketing_spend[1:t + 1, 0] == 2000.0)
    assert np.all(h.marketing_spend[t + 1:, 0] != 2000.0)


# -- no churn and no discounting: an unbounded LTV (issue 8 item 8) ----------------------------

@pytest.mark.parametrize("contribution, factor", [(50.0, 2.0), (-50.0, 0.5), (0.0, 0.5)])
def test_ltv_cac_rule_without_churn_or_discount_takes_the_limit(contribution, factor):
    """1 + d - r = 0 used to raise ZeroDivisionError: the LTV is unbounded, so the budget
    doubles when customers bring a positive margin, and halves otherwise."""
    last = StepResults(customers=100.0, new_customers=10.0, churned_customers=0.0,
                       customers_at_start=90.0, contribution=contribution,
                       marketing_spend=100.0)
    cfg = MarketingConfig(budget=100.0, rule="ltv_cac_target", target=3.0, adjust=0.5)
    assert LtvCacTarget(cfg).next_budget(cfg, last, 0.0) == 100.0 * factor
    assert math.isnan(predicted_ltv(contribution / 100.0, 1.0, 0.0))
    assert predicted_ltv(0.5, 1.0, 0.01) == pytest.approx(0.5 * 1.01 / 0.01)


def loyal_market(discount_rate: float):
    """Customers join through ads and never leave (HUGE quality, openness 0, no hazard)."""
    own = firm({"x": offering(quality=HUGE_QUALITY, margin_rate=0.3)}, {"x": 0.3})
    own.marketing = MarketingConfig(budget=200.0, reach_cost=1.0, rule="ltv_cac_target",
                                    target=3.0, adjust=0.5)
    cfg = market(500, 3, {"x": need(basket=10.0)}, {"own": own},
                 segments={"all": segment(openness=0.0)})
    cfg.time.discount_rate = discount_rate
    return cfg


def test_no_churn_and_no_discount_gives_no_inf():
    """The rule divided by zero (inf with numpy floats, ZeroDivisionError with Python ones) and
    run_kpis gave ltv = inf. Now the budget doubles each step (the limit), and the LTV is NaN
    flagged ltv_unbounded (summaries cope with the flag); with a discount rate d the same run
    has the LTV m (1 + d) / d."""
    import pandas as pd

    from ecosim.metrics.summary import experiment_summary, run_kpis

    h = run_model(loyal_market(0.0))
    assert np.all(h.churned_customers == 0) and np.all(h.new_customers[1:, 0] > 0)
    np.testing.assert_array_equal(h.marketing_spend[1:, 0], [200.0, 400.0, 800.0])
    fm = firm_metrics(h, ["own"])
    kpis = run_kpis(fm, 0.0)
    numbers = kpis.select_dtypes("number").to_numpy(float)
    assert not np.isinf(numbers).any()
    assert np.isnan(kpis.loc[0, "ltv"]) and np.isnan(kpis.loc[0, "ltv_cac"])
    assert kpis.loc[0, "ltv_unbounded"] == 1.0
    summary = experiment_summary(pd.concat([kpis, kpis.assign(arm="other")]))
    flag = summary.query("kpi == 'ltv_unbounded'")
    assert flag["mean"].tolist() == [1.0, 1.0] and flag["diff_mean"].iloc[1] == 0.0
    d = 0.01
    discounted = run_kpis(fm, d)
    played = fm[fm["step"] > 0]
    m = float((played["gross_margin"] - played["losses"] + played["partner_fees"]).sum()
              / played["customers"].sum())
    assert discounted.loc[0, "ltv"] == pytest.approx(m * (1 + d) / d)
    assert discounted.loc[0, "ltv_unbounded"] == 0.0
