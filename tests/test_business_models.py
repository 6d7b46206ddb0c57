"""Business models (issue 3 item 7; docs/design.md §2.3): each mechanism in a controlled market.

Every test builds a tiny market (see ``conftest``) in which the effect of one mechanism can be
computed exactly (money, counts) or from a logit probability. Stochastic checks compare a count
with its binomial expectation and allow ``Z`` standard errors (two-sided normal tail 5.7e-7 per
check, so the file's few dozen checks give a false alarm less than once in 10^4 runs). Where two
configs are compared they share the seed (common random numbers, docs/design.md §3): each
customer sees the same shocks in both, so differences are exact or monotone rather than noisy.

Markers used throughout: ``HUGE_QUALITY`` (50) makes an offering one nobody leaves (the outside
option wins with probability ~e^-50), and openness 0 keeps customers on autopilot, so only the
mechanism under test can move them.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from conftest import (
    HUGE_QUALITY,
    Z,
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

from ecosim.config import DistSpec, EventConfig, LifecycleConfig, NetworkConfig, SociodemoConfig
from ecosim.config.schema import (
    BundleConfig,
    CrossSellConfig,
    EcosystemConfig,
    FatigueConfig,
    MarketplaceConfig,
    ReferralConfig,
)
from ecosim.kernels.population import HAS_NEED
from ecosim.metrics.tables import firm_metrics
from ecosim.model import EcosystemModel, History

OUTSIDE = -1
HISTORY_FIELDS = [f.name for f in dataclasses.fields(History) if f.name != "transactions"]


# -- helpers ----------------------------------------------------------------------------------

def assert_same_history(a: History, b: History, steps: slice = slice(None)) -> None:
    """Every History array equal, bit for bit, over ``steps``."""
    for name in HISTORY_FIELDS:
        np.testing.assert_array_equal(getattr(a, name)[steps], getattr(b, name)[steps],
                                      err_msg=name)


def logit(v: float, *others: float) -> float:
    """Logit probability of the option of utility ``v`` against ``others`` and the outside (0)."""
    e = math.exp(v)
    return e / (1.0 + e + sum(math.exp(o) for o in others))


def with_(base, **changes):
    """A firm config with some fields changed (the builder's firm is standalone)."""
    return dataclasses.replace(base, **changes)


# -- ecosystem: context reach 0 = standalone ---------------------------------------------------

def ecosystem_vs_standalone(model: str):
    """A market exercising every path the ecosystem touches: two needs (one risk-priced), habit,
    switching cost, brand affinity, openness, churn, ads, cross-sell and a rival."""
    needs = {"loan": need(basket=DistSpec(dist="lognormal", mean=0.5, sd=0.4), risk_priced=True,
                          base_loss=0.08),
             "pay": need(prevalence=0.7, occurrence=0.6)}
    host = firm({"loan": offering(quality=0.4, margin_rate=0.3),
                 "pay": offering(quality=0.2, convenience=0.3)},
                {"loan": 0.4, "pay": 0.2}, initial_awareness=0.5, budget=300.0, reach_cost=2.0)
    host = with_(host, model=model, ecosystem=EcosystemConfig(),
                 cross_sell=CrossSellConfig(contacts_per_step=0.2))
    rival = firm({"loan": offering(quality=0.5, price_index=1.1),
                  "pay": offering(quality=0.3)}, {"loan": 0.3, "pay": 0.3},
                 initial_awareness=0.6)
    seg = segment(openness=0.3, habit_strength=1.0, brand_affinity=0.5)
    return market(4000, 8, needs, {"host": host, "rival": rival}, segments={"all": seg},
                  switching_cost=0.3, initial_habit=0.5,
                  lifecycle=LifecycleConfig(kind="contractual", hazard=fixed(0.05)))


def test_ecosystem_with_nothing_switched_on_is_standalone():
    """context_reach = entry_bonus = data_gain = 0: identical History to the standalone firm."""
    assert_same_history(run_model(ecosystem_vs_standalone("ecosystem")),
                        run_model(ecosystem_vs_standalone("standalone")))


# -- ecosystem: contextual offers ---------------------------------------------------------------

# Need "a" (index 0) is held by half the customers with the ecosystem, for ever; need "b" (1) is
# held by everyone with an incumbent; openness 0, so a customer meets another offer for b only
# when it comes in context. Qualities of b: incumbent Q_S, the ecosystem's offer Q_E.
Q_S, Q_E, REACH = 2.0, 2.5, 0.3
ECO, INCUMBENT, PARTNER = 0, 1, 2


def context_market(context_reach: float, via_partner: bool, n: int = 10_000, horizon: int = 8,
                   partner_take_rate: float = 0.1):
    """The ecosystem (or its partner) offers b in context to customers who use it for a."""
    host = with_(firm({"a": offering(quality=HUGE_QUALITY)}, {"a": 1.0}, initial_awareness=1.0),
                 model="ecosystem", ecosystem=EcosystemConfig(context_reach=context_reach))
    firms = {"eco": host,
             "incumbent": firm({"b": offering(quality=Q_S)}, {"b": 1.0}, initial_awareness=1.0)}
    if via_partner:
        firms["partner"] = with_(firm({"b": offering(quality=Q_E, margin_rate=0.3)},
                                      initial_awareness=1.0),
                                 partner_of="eco", partner_take_rate=partner_take_rate)
    else:
        host.offerings["b"] = offering(quality=Q_E)
    return market(n, horizon, {"a": need(prevalence=0.5), "b": need()}, firms,
                  segments={"all": segment(openness=0.0)})


@pytest.mark.parametrize("via_partner", [False, True], ids=["host", "partner"])
def test_contextual_offer_reaches_insiders_at_the_logit_rate(via_partner):
    """A customer of the incumbent for b who uses the ecosystem for a moves to the ecosystem's b
    with probability ``context_reach × e^Q_E / (e^Q_S + e^Q_E)`` per step (the offer fires, then
    a binary logit against the incumbent: no outside option, as the customer is not searching);
    a customer not inside never meets it, and nobody on autopilot leaves for the outside option.

    Each (customer, step) at risk is an independent Bernoulli draw (counter-based RNG), so the
    pooled count is binomial: ~5000 insiders × ~3.5 steps at risk give an SE of about 0.003 on a
    rate of 0.18 (Z SE = 8 % of it).
    """
    _, provider = step_through(context_market(REACH, via_partner))
    offerer = PARTNER if via_partner else ECO
    inside = provider[0, :, 0] == ECO
    assert 0.45 < inside.mean() < 0.55 and (provider[:, inside, 0] == ECO).all()
    at_risk = provider[:-1, :, 1] == INCUMBENT  # [step - 1, customer]
    to_offerer = at_risk & (provider[1:, :, 1] == offerer)
    to_outside = at_risk & (provider[1:, :, 1] == OUTSIDE)
    e_s, e_e = math.exp(Q_S), math.exp(Q_E)
    assert_binomial(to_offerer[:, inside].sum(), at_risk[:, inside].sum(),
                    REACH * e_e / (e_s + e_e), "insider adopts in context")
    # Not inside: no contextual offer, ever; and nobody gives up the need on autopilot.
    assert to_offerer[:, ~inside].sum() == 0
    assert to_outside.sum() == 0


def test_context_reach_zero_never_fires():
    """The same market with context_reach 0: nobody moves from the incumbent to the ecosystem."""
    _, provider = step_through(context_market(0.0, via_partner=False, n=4000, horizon=6))
    at_risk = provider[:-1, :, 1] == INCUMBENT
    assert not (at_risk & (provider[1:, :, 1] == ECO)).any()


def test_entry_bonus_adds_convenience_for_insiders_only():
    """Nobody holds b at the start and everyone is open: at step 1 the ecosystem's b is chosen
    with the logit probability of utility Q + convenience_sensitivity × entry_bonus by those who
    use it for a, and of Q alone by the others (about 1500 customers each way: SE <= 0.013).
    """
    conv_sens, bonus, q_eco, q_rival = 1.5, 0.8, 0.0, 0.3
    host = with_(firm({"a": offering(quality=HUGE_QUALITY), "b": offering(quality=q_eco)},
                      {"a": 1.0}, initial_awareness=1.0),
                 model="ecosystem", ecosystem=EcosystemConfig(entry_bonus=bonus))
    rival = firm({"b": offering(quality=q_rival)}, initial_awareness=1.0)
    cfg = market(3000, 1, {"a": need(prevalence=0.5), "b": need()},
                 {"eco": host, "rival": rival},
                 segments={"all": segment(convenience_sensitivity=conv_sens)})
    _, provider = step_through(cfg)
    inside = provider[1, :, 0] == ECO
    took_eco = provider[1, :, 1] == ECO
    assert_binomial(took_eco[inside].sum(), inside.sum(),
                    logit(q_eco + conv_sens * bonus, q_rival), "insiders")
    assert_binomial(took_eco[~inside].sum(), (~inside).sum(), logit(q_eco, q_rival), "others")


# -- bundle -----------------------------------------------------------------------------------

DISCOUNT = 0.3


def bundle_market(kind: str, n: int = 10_000, horizon: int = 12):
    """Everyone starts with firm "b" for needs x and y, a rival offers both, openness 0.3.

    ``kind``: ``bundle`` (discount on x and y once both are held), ``cheap`` (standalone at
    price index 1 - discount: the same price, without the coupling) or ``plain`` (standalone at
    price index 1: the same firm without a bundle).
    """
    price = 1.0 - DISCOUNT if kind == "cheap" else 1.0
    own = firm({k: offering(quality=0.5, price_index=price) for k in ("x", "y")},
               {"x": 1.0, "y": 1.0}, initial_awareness=1.0)
    if kind == "bundle":
        own = with_(own, model="bundle",
                    bundle=BundleConfig(needs=["x", "y"], discount=DISCOUNT, min_products=2))
    rival = firm({k: offering(quality=0.5) for k in ("x", "y")}, initial_awareness=1.0)
    return market(n, horizon, {"x": need(), "y": need()}, {"b": own, "rival": rival},
                  segments={"all": segment(openness=0.3)})


def test_bundle_coupling_raises_retention():
    """At step 1, with both products held, leaving x costs the discount on x and on y: the
    bundle's utility is ``Q + 2 s`` with ``s = -ln(1 - discount)``, against ``Q + s`` for the same
    price without coupling and ``Q`` without the bundle. A customer leaves x only when looking
    around (probability o: a full search, rival or outside option), with probability
    ``L(U) = o (1 + e^Q_r) / (1 + e^Q_r + e^U)``. Needs arise in a random order: when y comes
    first and is left (probability L(Q + 2 s)), x has lost its coupling (utility Q). So the
    bundle's share leaving x is ``(L2 + L2 L0 + (1 - L2) L2) / 2`` with ``L2 = L(Q + 2 s)``,
    ``L0 = L(Q)``; the others' is L(Q + s) and L(Q). 10000 customers: SE <= 0.004, and with
    common random numbers the order bundle <= cheap <= plain holds. Over 12 steps the bundle's
    customers churn less than the same firm's without the bundle.
    """
    openness, q, s = 0.3, 0.5, -math.log(1 - DISCOUNT)
    runs = {kind: run_model(bundle_market(kind)) for kind in ("bundle", "cheap", "plain")}
    left_x = {kind: h.unit_churned[1, 0, 0] for kind, h in runs.items()}

    def leave(utility: float) -> float:
        return openness * (1 + math.exp(q)) / (1 + math.exp(q) + math.exp(utility))

    l2, l0 = leave(q + 2 * s), leave(q)
    expected = {"bundle": (l2 + l2 * l0 + (1 - l2) * l2) / 2, "cheap": leave(q + s), "plain": l0}
    for kind, p in expected.items():
        assert_binomial(left_x[kind], 10_000, p, kind)
    assert left_x["bundle"] < left_x["cheap"] < left_x["plain"]
    churn = {kind: h.churned_customers[1:, 0].sum() / h.customers[:-1, 0].sum()
             for kind, h in runs.items()}
    # ~1e5 customer-steps: the SE of a churn rate of 0.1 is 0.001; ask for a gap of 0.02
    assert churn["bundle"] < churn["plain"] - 0.02, churn


def test_bundle_discount_comes_off_qualifying_purchases():
    """Everyone holds x with the firm, half also y: only customers holding both (>= min_products)
    pay ``basket × (1 - discount)``; the others pay the full basket. Exact money check, and the
    same market without the bundle (same seed) earns exactly ``discount`` more on them."""
    basket, margin, discount = 2.0, 0.25, 0.2

    def cfg(bundled: bool):
        own = firm({k: offering(quality=HUGE_QUALITY, margin_rate=margin) for k in ("x", "y")},
                   {"x": 1.0, "y": 1.0}, initial_awareness=1.0)
        if bundled:
            own = with_(own, model="bundle", bundle=BundleConfig(needs=["x", "y"],
                                                                 discount=discount))
        return market(5000, 6, {"x": need(basket=basket), "y": need(prevalence=0.5,
                                                                      basket=basket)},
                      {"b": own}, segments={"all": segment(openness=0.0)})
    model = EcosystemModel(cfg(True))
    h = model.run()
    both = int(((model.population.flags[:, 1] & HAS_NEED) > 0).sum())
    assert 2000 < both < 3000
    only_x = 5000 - both
    np.testing.assert_allclose(h.revenue[1:, 0, 0], basket * (both * (1 - discount) + only_x),
                               rtol=1e-12)
    np.testing.assert_allclose(h.revenue[1:, 0, 1], basket * both * (1 - discount), rtol=1e-12)
    np.testing.assert_allclose(h.gross_margin[1:, 0], margin * h.revenue[1:, 0], rtol=1e-12)
    plain = run_model(cfg(False))
    np.testing.assert_allclose(plain.revenue[1:, 0].sum(axis=1) - h.revenue[1:, 0].sum(axis=1),
                               basket * discount * 2 * both, rtol=1e-12)


# -- brands -----------------------------------------------------------------------------------

def brand_market(umbrella: bool, affinity: float, openness: float = 1.0, events=None):
    """Everyone holds x with unit "u1" for ever; for y, unit "u2" competes with a rival.

    ``umbrella``: u1 and u2 carry one brand; otherwise each its own (its name)."""
    brand = "group" if umbrella else None
    firms = {"u1": firm({"x": offering(quality=HUGE_QUALITY)}, {"x": 1.0}, initial_awareness=1.0,
                        brand=brand),
             "u2": firm({"y": offering(quality=0.0)}, initial_awareness=1.0, brand=brand),
             "rival": firm({"y": offering(quality=0.0)}, initial_awareness=1.0)}
    return market(10_000, 8, {"x": need(), "y": need()}, firms, events=events,
                  segments={"all": segment(openness=openness, brand_affinity=affinity)})


def test_umbrella_brand_changes_nothing_without_brand_affinity():
    """brand_affinity 0: sharing a brand leaves every History array identical."""
    assert_same_history(run_model(brand_market(True, 0.0, openness=0.4)),
                        run_model(brand_market(False, 0.0, openness=0.4)))


def test_umbrella_brand_raises_the_second_units_share():
    """brand_affinity 1: at step 1 nobody holds y, so u2 is chosen with probability
    ``e^a / (2 + e^a)`` under the umbrella (familiar through u1) and 1/3 with its own brand
    (10000 draws: SE 0.005). Over the run, u2 keeps a higher share under the umbrella."""
    a = 1.0
    umbrella, separate = run_model(brand_market(True, a)), run_model(brand_market(False, a))
    assert_binomial(umbrella.purchases[1, 1, 1], 10_000, logit(a, 0.0), "umbrella")
    assert_binomial(separate.purchases[1, 1, 1], 10_000, logit(0.0, 0.0), "separate")
    assert umbrella.purchases[1:, 1, 1].sum() > 1.3 * separate.purchases[1:, 1, 1].sum()


# -- data pooling -------------------------------------------------------------------------------

def test_data_pooling_lowers_losses_on_risk_priced_needs_only():
    """Need r is risk-priced (base_loss L), n and m are not. The ecosystem serves r (to 60 %)
    and n (to all), a standalone serves m (to the half who have it), another r (to 40 %).

    For an ecosystem customer of r the group serves 2 of their needs: all of them without m, 2/3
    with m, so losses are ``L × (1 - g)`` or ``L × (1 - 2g/3)`` of spend (exact). Losses on n
    stay 0, the standalone's on r stay ``L`` of spend, and with ``data_gain`` 0 the ecosystem's
    are ``L`` of spend too: pooled data lower losses only on risk-priced needs, within
    ``[L (1 - g), L]``.
    """
    loss, gain, basket = 0.1, 0.5, 3.0

    def cfg(data_gain: float):
        eco = with_(firm({"r": offering(quality=HUGE_QUALITY), "n": offering(quality=HUGE_QUALITY)},
                         {"r": 0.6, "n": 1.0}, initial_awareness=1.0),
                    model="ecosystem", ecosystem=EcosystemConfig(data_gain=data_gain))
        firms = {"eco": eco,
                 "lender": firm({"r": offering(quality=HUGE_QUALITY)}, {"r": 0.4}),
                 "shop": firm({"m": offering(quality=HUGE_QUALITY)}, {"m": 1.0})}
        needs = {"r": need(basket=basket, risk_priced=True, base_loss=loss),
                 "n": need(basket=basket), "m": need(prevalence=0.5, basket=basket)}
        return market(5000, 4, needs, firms, segments={"all": segment(openness=0.0)})
    model = EcosystemModel(cfg(gain))
    h = model.run()
    provider, flags = model.population.provider, model.population.flags
    eco_r = provider[:, 0] == 0
    has_m = (flags[:, 2] & HAS_NEED) > 0
    n_full, n_two_thirds = (eco_r & ~has_m).sum(), (eco_r & has_m).sum()
    assert n_full > 1000 and n_two_thirds > 1000
    expected = loss * basket * (n_full * (1 - gain) + n_two_thirds * (1 - 2 * gain / 3))
    np.testing.assert_allclose(h.losses[1:, 0, 0], expected, rtol=1e-9)
    np.testing.assert_allclose(h.revenue[1:, 0, 0], basket * eco_r.sum(), rtol=1e-12)
    ratio = h.losses[1:, 0, 0] / h.revenue[1:, 0, 0]
    assert np.all((ratio >= loss * (1 - gain) - 1e-12) & (ratio <= loss))
    assert np.all(h.losses[:, :, 1:] == 0.0)  # n and m are not risk-priced
    np.testing.assert_allclose(h.losses[1:, 1, 0], loss * h.revenue[1:, 1, 0], rtol=1e-12)
    no_pooling = run_model(cfg(0.0))
    np.testing.assert_allclose(no_pooling.losses[1:, 0, 0], loss * no_pooling.revenue[1:, 0, 0],
                               rtol=1e-12)
    np.testing.assert_array_equal(no_pooling.revenue, h.revenue)
    np.testing.assert_array_equal(no_pooling.losses[:, 1:], h.losses[:, 1:])


# -- marketplace --------------------------------------------------------------------------------

def test_marketplace_earns_its_take_on_gmv_at_the_effective_price():
    """A marketplace shows one option: price index / (1 + price_gain ln A), quality + match_gain
    ln A, convenience - search_cost. Revenue is GMV (every purchase pays basket × effective
    price, exactly), gross margin = take_rate × GMV, no losses even on a risk-priced need (sellers
    bear them), and its purchase share is the logit share of those effective terms (10000
    customers × 6 steps: SE 0.002)."""
    take, assortment, search, price_gain, match_gain = 0.15, 50, 0.4, 0.05, 0.2
    price, convenience, basket, loss = 1.2, 0.5, 3.0, 0.1
    mall = with_(firm({"x": offering(price_index=price, convenience=convenience,
                                     margin_rate=0.3)}, initial_awareness=1.0),
                 model="marketplace",
                 marketplace=MarketplaceConfig(take_rate=take, assortment=assortment,
                                               search_cost=search, price_gain=price_gain,
                                               match_gain=match_gain))
    shop = firm({"x": offering(quality=0.2, margin_rate=0.3)}, initial_awareness=1.0)
    cfg = market(10_000, 6, {"x": need(basket=basket, risk_priced=True, base_loss=loss)},
                 {"mall": mall, "shop": shop})
    h = run_model(cfg)
    log_a = math.log(assortment)
    effective_price = price / (1 + price_gain * log_a)
    np.testing.assert_allclose(h.revenue[1:, 0, 0],
                               basket * effective_price * h.purchases[1:, 0, 0], rtol=1e-12)
    np.testing.assert_allclose(h.gross_margin[1:, 0, 0], take * h.revenue[1:, 0, 0], rtol=1e-12)
    assert np.all(h.losses[:, 0] == 0.0)
    np.testing.assert_allclose(h.losses[1:, 1, 0], loss * h.revenue[1:, 1, 0], rtol=1e-12)
    # revenue per purchase: marketplace / shop = effective price / 1
    per_purchase = h.revenue[1:, :, 0].sum(axis=0) / h.purchases[1:, :, 0].sum(axis=0)
    assert per_purchase[0] / per_purchase[1] == pytest.approx(effective_price, rel=1e-12)
    v_mall = match_gain * log_a - math.log(effective_price) + (convenience - search)
    occurrences = 10_000 * 6
    assert_binomial(h.purchases[1:, 0, 0].sum(), occurrences, logit(v_mall, 0.2), "mall")
    assert_binomial(h.purchases[1:, 1, 0].sum(), occurrences, logit(0.2, v_mall), "shop")


# -- partners -----------------------------------------------------------------------------------

def test_partner_pays_its_take_rate_to_the_host():
    """A partner's fees are ``partner_take_rate`` × its revenue, per need and step, and are the
    host's partner income: the ``partner_fees`` column of firm_metrics sums to 0 over firms."""
    take = 0.12
    h = run_model(context_market(REACH, via_partner=True, n=4000, horizon=6,
                                 partner_take_rate=take))
    assert h.revenue[1:, PARTNER].sum() > 0
    np.testing.assert_allclose(h.partner_fees[:, PARTNER], take * h.revenue[:, PARTNER],
                               rtol=1e-12)
    assert np.all(h.partner_fees[:, [ECO, INCUMBENT]] == 0.0)
    np.testing.assert_allclose(h.partner_income[:, ECO], h.partner_fees[:, PARTNER].sum(axis=1),
                               rtol=1e-12)
    assert np.all(h.partner_income[:, [INCUMBENT, PARTNER]] == 0.0)
    fm = firm_metrics(h, ["eco", "incumbent", "partner"])
    np.testing.assert_allclose(fm.groupby("step")["partner_fees"].sum(), 0.0, atol=1e-9)
    partner = fm[fm["firm"] == "partner"]
    np.testing.assert_allclose(partner["partner_fees"], -take * partner["revenue"], rtol=1e-12)


# -- referrals ---------------------------------------------------------------------------------

def referral_market(rate: float, n: int = 10_000, horizon: int = 6):
    """Half the customers use firm "r" for x; the others know no firm and are on autopilot, so
    only a referral (or the ads) can bring them in."""
    own = with_(firm({"x": offering(quality=1.0)}, {"x": 0.5}, budget=500.0, reach_cost=1.0),
                referral=ReferralConfig(rate=rate, reward=7.0, incentive=1.0))
    return market(n, horizon, {"x": need()}, {"r": own}, segments={"all": segment(openness=0.0)})


def test_referrals_bring_customers_and_cost_their_reward():
    """No network: a non-customer is referred with probability ``1 - (1 - rate)^(degree × share)``
    (share of customers at the end of last step) and then buys with probability
    ``e^(Q + incentive) / (1 + e^(Q + incentive))``: step-1 joins are binomial over the ~5000
    non-customers (~1000 joins, SE ~28). Marketing spend = budget + reward × referral joins, every
    step; with rate 0 there are no referral joins."""
    rate, q, incentive, degree = 0.05, 1.0, 1.0, 10
    model = EcosystemModel(referral_market(rate))
    h = model.run()
    share = h.customers[0, 0] / 10_000
    p_join = (1 - (1 - rate) ** (degree * share)) * logit(q + incentive)
    assert_binomial(h.referral_joins[1, 0], 10_000 - h.customers[0, 0], p_join, "step-1 joins")
    assert np.all(h.referral_joins[1:, 0] > 0)
    assert np.all(h.referral_joins <= h.new_customers)
    np.testing.assert_allclose(h.marketing_spend[1:, 0], 500.0 + 7.0 * h.referral_joins[1:, 0],
                               rtol=1e-12)
    off = run_model(referral_market(0.0))
    assert np.all(off.referral_joins == 0)
    np.testing.assert_allclose(off.marketing_spend[1:, 0], 500.0, rtol=1e-12)


# -- entrants ---------------------------------------------------------------------------------

def test_entrant_is_absent_before_it_enters():
    """A firm with ``enters_at = 4`` (budget, cross-sell and referrals on) has no customers, no
    spend, no contacts and nobody aware of it before step 4. At step 4 the share aware is
    ``1 - (1 - reach)(1 - initial_awareness)`` (5000 customers: SE 0.007)."""
    enters, budget, launch, n = 4, 400.0, 0.3, 5000
    entrant = with_(firm({"x": offering(quality=0.5), "y": offering()}, initial_awareness=launch,
                         budget=budget),
                    enters_at=enters, cross_sell=CrossSellConfig(contacts_per_step=0.5),
                    referral=ReferralConfig(rate=0.1, reward=3.0))
    incumbent = firm({"x": offering(quality=0.5), "y": offering()}, {"x": 1.0, "y": 1.0},
                     initial_awareness=1.0)
    cfg = market(n, 8, {"x": need(), "y": need()}, {"incumbent": incumbent, "new": entrant},
                 segments={"all": segment(openness=0.5)})
    model = EcosystemModel(cfg)
    aware = [(model.population.aware >> np.uint64(1)) & np.uint64(1)]
    for _ in range(cfg.time.horizon):
        model.step()
        aware.append((model.population.aware >> np.uint64(1)) & np.uint64(1))
    h = model.history
    before = slice(0, enters)
    for name in ("customers", "new_customers", "marketing_spend", "contact_cost",
                 "referral_joins", "customer_wallet"):
        assert np.all(getattr(h, name)[before, 1] == 0), name
    for name in ("revenue", "purchases", "unit_customers", "contacts"):
        assert np.all(getattr(h, name)[before, 1] == 0), name
    assert all(a.sum() == 0 for a in aware[:enters])
    reach = 1 - math.exp(-budget / n)
    # aware at the end of step 4: reached by the ads or the launch (customers are aware anyway)
    assert_binomial(aware[enters].sum(), n, 1 - (1 - reach) * (1 - launch), "aware at entry")
    assert h.customers[enters, 1] > 0
    assert h.marketing_spend[enters, 1] == budget + 3.0 * h.referral_joins[enters, 1]


# -- events -----------------------------------------------------------------------------------

def test_brand_merge_event_takes_effect_at_its_step():
    """u2 takes u1's brand at step 4 (brand_affinity 1). Steps 0-3 are identical to the run
    without the event (same seed); at step 4 every customer sees u2 at least as attractive as
    without it, so u2's purchases can only rise (exactly, customer by customer), and they match
    the logit expectation given each customer's y provider at the start of step 4."""
    t, a = 4, 1.0
    merged = brand_market(False, a, events=[EventConfig(step=t, firm="u2", set={"brand": "u1"})])
    base_model, base_provider = step_through(brand_market(False, a))
    merged_model, merged_provider = step_through(merged)
    assert_same_history(base_model.history, merged_model.history, slice(0, t))
    base, after = base_model.history, merged_model.history
    assert after.purchases[t, 1, 1] > base.purchases[t, 1, 1]
    u2_base = base_provider[t, :, 1] == 1
    assert np.all(merged_provider[t, u2_base, 1] == 1)  # monotone under common random numbers
    # Expectation at step t: familiar brands are u1 (everyone), u2 (now the same) and the rival
    # only if it is the provider.
    start = merged_provider[t - 1, :, 1]
    e = math.exp(a)
    p = np.where(start == 2, e / (1 + e + e), e / (1 + e + 1))
    expected, sd = p.sum(), math.sqrt((p * (1 - p)).sum())
    assert abs(after.purchases[t, 1, 1] - expected) <= Z * sd


def test_organisation_switch_event_takes_effect_at_its_step():
    """Cross-sell switches from silo to value_stream at step 4: contacts up to step 3 are those of
    the silo run, from step 4 those of the value-stream run, exactly (same seed; the contacted
    customers cannot convert, so the runs share their state)."""
    t = 4

    def cfg(organisation: str, events=None):
        seller = with_(firm({"x": offering(quality=HUGE_QUALITY), "y": offering(),
                             "z": offering()}, {"x": 1.0}, initial_awareness=1.0),
                       cross_sell=CrossSellConfig(contacts_per_step=0.3,
                                                  organisation=organisation, contact_cost=2.0))
        rival = firm({"y": offering(quality=HUGE_QUALITY), "z": offering(quality=HUGE_QUALITY)},
                     {"y": 1.0, "z": 1.0})
        return market(3000, 8, {"x": need(), "y": need(), "z": need()},
                      {"seller": seller, "rival": rival}, events=events,
                      segments={"all": segment(openness=0.0)})
    switched = run_model(cfg("silo", [EventConfig(step=t, firm="seller",
                                                  set={"cross_sell.organisation":
                                                       "value_stream"})]))
    silo, stream = run_model(cfg("silo")), run_model(cfg("value_stream"))
    np.testing.assert_array_equal(switched.contacts[:t], silo.contacts[:t])
    np.testing.assert_array_equal(switched.contacts[t:], stream.contacts[t:])
    np.testing.assert_array_equal(switched.contact_cost[:t], silo.contact_cost[:t])
    np.testing.assert_array_equal(switched.contact_cost[t:], stream.contact_cost[t:])
    assert silo.contacts[t:, 0].sum() > 1.5 * stream.contacts[t:, 0].sum()


# -- price alert -------------------------------------------------------------------------------

def test_price_rise_opens_customers_for_one_step():
    """Customers on autopilot (openness 0) with two equal offers at HUGE quality: nobody moves
    until the incumbent raises its price by 25 % at step 3; then a customer is open with
    probability ``price_alert × ln 1.25`` and moves with probability ``1 / (1 + e^-ln 1.25)``
    (10000 customers: SE 0.004 on 0.25); a step later the alert is over and nobody moves."""
    t, rise, alert = 3, 1.25, 2.0

    def cfg(price_alert: float):
        firms = {"inc": firm({"x": offering(quality=HUGE_QUALITY)}, {"x": 1.0},
                             initial_awareness=1.0),
                 "alt": firm({"x": offering(quality=HUGE_QUALITY)}, initial_awareness=1.0)}
        return market(10_000, 5, {"x": need()}, firms, segments={"all": segment(openness=0.0)},
                      price_alert=price_alert,
                      events=[EventConfig(step=t, firm="inc",
                                          set={"offerings.x.price_index": rise})])
    h = run_model(cfg(alert))
    churned = h.unit_churned[1:, 0, 0]
    assert churned[: t - 1].sum() == 0 and churned[t:].sum() == 0
    p = alert * math.log(rise) / (1 + math.exp(-math.log(rise)))
    assert_binomial(churned[t - 1], 10_000, p, "step of the rise")
    assert run_model(cfg(0.0)).unit_churned[1:, 0, 0].sum() == 0


# -- money reconciliation with everything on ---------------------------------------------------

def everything_market(lifecycle: LifecycleConfig):
    """Every mechanism at once: an ecosystem with context, entry bonus, data pooling, a partner,
    cross-sell, referrals and an LTV/CAC budget; a bundle; a marketplace; a standalone entrant;
    events (price rise, brand merge, organisation switch); fatigue, price alerts, a network."""
    needs = {"bank": need(basket=DistSpec(dist="lognormal", mean=1.0, sd=0.5), risk_priced=True,
                          base_loss=0.05),
             "pay": need(prevalence=0.8),
             "taxi": need(prevalence=0.6, occurrence=0.4, basket=DistSpec(dist="gamma",
                                                                           shape=2.0,
                                                                           scale=0.5)),
             "food": need(prevalence=0.7, occurrence=0.7),
             "media": need(prevalence=0.9)}
    bank = with_(firm({"bank": offering(quality=0.5, margin_rate=0.3),
                       "pay": offering(quality=0.3, convenience=0.4),
                       "taxi": offering(quality=0.0)},
                      {"bank": 0.4, "pay": 0.3}, initial_awareness=0.5, budget=400.0,
                      reach_cost=2.0, word_of_mouth=0.2),
                 model="ecosystem",
                 ecosystem=EcosystemConfig(context_reach=0.3, entry_bonus=0.5, data_gain=0.5),
                 cross_sell=CrossSellConfig(contacts_per_step=0.1, organisation="value_stream",
                                            targeting="behavioural", contact_cost=1.5),
                 referral=ReferralConfig(rate=0.02, reward=5.0, incentive=0.5))
    bank.marketing.rule = "ltv_cac_target"
    ride = with_(firm({"taxi": offering(quality=0.4), "food": offering(quality=0.2)},
                      {"taxi": 0.3}, initial_awareness=0.4, budget=100.0),
                 partner_of="bank", partner_take_rate=0.1)
    telco = with_(firm({"media": offering(quality=0.3), "pay": offering(quality=0.1)},
                       {"media": 0.5}, initial_awareness=0.6, budget=200.0),
                  model="bundle", bundle=BundleConfig(needs=["media", "pay"], discount=0.15),
                  cross_sell=CrossSellConfig(contacts_per_step=0.2, targeting="sociodemographic",
                                             contact_cost=0.8))
    mall = with_(firm({"food": offering(quality=0.1), "media": offering(price_index=0.9)},
                      {"food": 0.4}, initial_awareness=0.5, budget=150.0),
                 model="marketplace",
                 marketplace=MarketplaceConfig(take_rate=0.12, assortment=100, search_cost=0.3))
    solo = with_(firm({"bank": offering(quality=0.8, price_index=0.95)}, initial_awareness=0.2,
                      budget=300.0), enters_at=5)
    segments = {"young": segment(0.4, price_sensitivity=DistSpec(dist="lognormal", mean=0.0,
                                                                  sd=0.3),
                                 openness=DistSpec(dist="beta", a=2.0, b=8.0),
                                 brand_affinity=0.5, habit_strength=1.0),
                "settled": segment(0.6, convenience_sensitivity=2.0, openness=0.1,
                                   brand_affinity=1.0, habit_strength=2.0)}
    segments["young"].age_band, segments["settled"].age_band = 1, 3
    segments["settled"].income_band = 2
    events = [EventConfig(step=4, firm="telco", set={"offerings.media.price_index": 1.2}),
              EventConfig(step=6, firm="ride", set={"brand": "bank"}),
              EventConfig(step=7, firm="bank", set={"cross_sell.organisation": "silo"})]
    return market(4000, 12, needs, {"bank": bank, "ride": ride, "telco": telco, "mall": mall,
                                    "solo": solo},
                  segments=segments, switching_cost=0.3, initial_habit=0.5, lifecycle=lifecycle,
                  transactions=True, events=events,
                  network=NetworkConfig(kind="watts_strogatz", degree=6),
                  fatigue=FatigueConfig(per_contact=0.3, decay=0.4, openness_gain=0.3,
                                        annoyance=0.5),
                  sociodemo=SociodemoConfig(informativeness=0.6, income_scale=[0.6, 1.0, 1.6]))


FIRMS = ["bank", "ride", "telco", "mall", "solo"]


@pytest.mark.parametrize("lifecycle", [
    LifecycleConfig(kind="contractual", hazard=DistSpec(dist="beta", a=1.0, b=30.0)),
    LifecycleConfig(kind="noncontractual", rate=DistSpec(dist="gamma", shape=2.0, scale=0.5),
                    dropout=DistSpec(dist="beta", a=1.0, b=20.0)),
], ids=["contractual", "noncontractual"])
def test_money_and_customers_reconcile_with_every_mechanism_on(lifecycle):
    """Conservation (docs/design.md §7) with all mechanisms on: the P&L identity per row, firms'
    revenue = customers' spend (segments, transaction log), partner fees net to 0, take rates and
    data pooling within their bounds, and customers_t = customers_(t-1) + new - churned."""
    cfg = everything_market(lifecycle)
    h = run_model(cfg)
    bank, ride, telco, mall, solo = range(5)
    fm = firm_metrics(h, FIRMS)
    np.testing.assert_allclose(
        fm["profit"], fm["gross_margin"] - fm["losses"] - fm["marketing_spend"]
        - fm["contact_cost"] + fm["partner_fees"], rtol=1e-12, atol=1e-9)
    profit = (h.gross_margin.sum(axis=2) - h.losses.sum(axis=2) - h.marketing_spend
              - h.contact_cost + h.partner_income - h.partner_fees.sum(axis=2))
    np.testing.assert_allclose(fm["profit"], profit.ravel(), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(fm.groupby("step")["partner_fees"].sum(), 0.0, atol=1e-9)
    # revenue of firms = spend of customers
    np.testing.assert_allclose(h.revenue.sum(axis=2), h.segment_revenue[:, :, :-1].sum(axis=1),
                               rtol=1e-12)
    tx = h.transactions  # step 0: trial purchases made before the run, amount 0
    np.testing.assert_allclose([rows[:, 4].sum() for rows in tx], h.revenue.sum(axis=(1, 2)),
                               rtol=1e-9)
    contribution = h.gross_margin - h.losses - h.partner_fees
    np.testing.assert_allclose([rows[:, 5].sum() for rows in tx],
                               contribution.sum(axis=(1, 2)), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(h.cohort_contribution.sum(axis=2), contribution.sum(axis=2),
                               rtol=1e-9, atol=1e-9)
    # business-model money
    np.testing.assert_allclose(h.gross_margin[:, mall], 0.12 * h.revenue[:, mall], rtol=1e-12)
    assert np.all(h.losses[:, mall] == 0)
    np.testing.assert_allclose(h.partner_fees[:, ride], 0.1 * h.revenue[:, ride], rtol=1e-12)
    np.testing.assert_allclose(h.partner_income[:, bank], h.partner_fees[:, ride].sum(axis=1),
                               rtol=1e-12)
    np.testing.assert_allclose(h.contact_cost[:, bank], 1.5 * h.contacts[:, bank].sum(axis=1))
    np.testing.assert_allclose(h.contact_cost[:, telco], 0.8 * h.contacts[:, telco].sum(axis=1))
    assert np.all(h.conversions <= h.contacts)
    assert np.all(h.referral_joins <= h.new_customers)
    assert np.all(h.losses[:, :, 1:] == 0)  # only "bank" is risk-priced
    ratio = h.losses[1:, bank, 0].sum() / h.revenue[1:, bank, 0].sum()
    assert 0.05 * (1 - 0.5) <= ratio < 0.05
    np.testing.assert_allclose(h.losses[:, solo, 0], 0.05 * h.revenue[:, solo, 0], rtol=1e-12)
    assert np.all(h.customers[:5, solo] == 0) and h.customers[-1, solo] > 0
    assert h.contacts[1:, bank].sum() > 0 and h.referral_joins[1:, bank].sum() > 0
    assert h.partner_fees[1:, ride].sum() > 0
    # customers are conserved, per firm and per unit
    np.testing.assert_array_equal(h.customers[1:],
                                  h.customers[:-1] + h.new_customers[1:] - h.churned_customers[1:])
    np.testing.assert_array_equal(h.unit_customers[1:],
                                  h.unit_customers[:-1] + h.unit_new[1:] - h.unit_churned[1:])
    np.testing.assert_array_equal(h.segment_customers[:, :, :-1].sum(axis=1), h.customers)
    assert np.all(h.segment_customers[:, :, -1].sum(axis=1) == cfg.customers.n)
    np.testing.assert_array_equal(h.cohort_alive.sum(axis=2), h.customers)
