"""Logit choice (docs/model.md "Step order", step 4; docs/design.md §7).

With no habit, no switching cost, no brand affinity, openness 1 and full awareness, every
occurrence of a need is an independent multinomial-logit draw over the firms and the outside
option, so the share of occurrences bought from firm f converges to
``exp(V_f) / (1 + sum_g exp(V_g))`` with ``V_f = quality_f - price_sensitivity * ln(price_f)
+ convenience_sensitivity * convenience_f``.

Tolerance: the share of ``n`` independent occurrences is binomial, SE ``sqrt(P (1 - P) / n)``;
each share is allowed 5 SE (two-sided normal tail 5.7e-7).
"""

from __future__ import annotations

import numpy as np
import pytest

from ecosim.config import DistSpec
from ecosim.kernels.population import CONV_SENS, PRICE_SENS
from ecosim.model import EcosystemModel

N = 20_000
HORIZON = 10  # 2e5 occurrences: SE of a share of 0.25 is 0.001
Z = 5.0

# (quality, price_index, convenience) of three firms.
OFFERS = {"cheap": (0.0, 0.8, 0.5), "premium": (1.0, 1.3, 0.0), "handy": (0.3, 1.0, 0.8)}


def logit_shares(price_sensitivity: np.ndarray, convenience_sensitivity: np.ndarray) -> np.ndarray:
    """(customers, firms) logit probabilities of each firm (the outside option is the rest)."""
    q, p, c = (np.array([o[j] for o in OFFERS.values()]) for j in range(3))
    v = (q[None, :] - price_sensitivity[:, None] * np.log(p)[None, :]
         + convenience_sensitivity[:, None] * c[None, :])
    e = np.exp(v)
    return e / (1.0 + e.sum(axis=1, keepdims=True))


def logit_market(market, need, offering, firm, segments, basket=1.0):
    """One need every step, the three firms of OFFERS, everyone aware of all and open."""
    firms = {name: firm({"x": offering(quality=q, price_index=p, convenience=c)},
                        initial_awareness=1.0)
             for name, (q, p, c) in OFFERS.items()}
    return market(N, HORIZON, {"x": need(basket=basket)}, firms, segments=segments)


def test_homogeneous_customers_buy_in_logit_shares(market, need, offering, firm, segment,
                                                    run_model):
    """Identical customers: purchase shares = exp(V_f) / (1 + sum exp(V_g)) (docs/design.md §7)."""
    beta_price, beta_conv = 1.5, 1.0
    cfg = logit_market(market, need, offering, firm,
                       {"all": segment(price_sensitivity=beta_price,
                                       convenience_sensitivity=beta_conv)})
    history = run_model(cfg)
    expected = logit_shares(np.array([beta_price]), np.array([beta_conv]))[0]
    occurrences = N * HORIZON
    got = history.purchases[1:, :, 0].sum(axis=0) / occurrences
    se = np.sqrt(expected * (1 - expected) / occurrences)
    assert np.all(np.abs(got - expected) <= Z * se), (got, expected, se)
    # the outside option takes the rest: firms sold fewer than one unit per occurrence
    assert 0.0 < 1 - got.sum() == pytest.approx(1 - expected.sum(), abs=Z * 0.001)


def test_heterogeneous_segments_buy_in_mixed_logit_shares(market, need, offering, firm, segment):
    """Two segments, one with lognormal price sensitivity: per segment, purchase shares = the
    average over its customers of their own logit probabilities (drawn traits, read back)."""
    basket = 2.0
    segments = {
        "thrifty": segment(weight=0.4,
                           price_sensitivity=DistSpec(dist="lognormal", mean=0.8, sd=0.5),
                           convenience_sensitivity=0.5),
        "hurried": segment(weight=0.6, price_sensitivity=0.3,
                           convenience_sensitivity=DistSpec(dist="gamma", shape=4.0, scale=0.5)),
    }
    cfg = logit_market(market, need, offering, firm, segments, basket=basket)
    model = EcosystemModel(cfg)
    history = model.run()
    traits = model.population.traits.astype(float)
    probabilities = logit_shares(traits[:, PRICE_SENS], traits[:, CONV_SENS])
    prices = np.array([o[1] for o in OFFERS.values()])
    for s in range(len(segments)):
        members = model.population.segment == s
        occurrences = members.sum() * HORIZON
        assert history.segment_customers[1:, s, -1].sum() == occurrences
        # purchases by segment: revenue / (basket * price), basket fixed, income multiplier 1
        bought = history.segment_revenue[1:, s, :-1].sum(axis=0) / (basket * prices)
        expected = probabilities[members].sum(axis=0) * HORIZON
        # independent Bernoulli occurrences with customer-specific P: Var = sum T P (1 - P)
        sd = np.sqrt((probabilities[members] * (1 - probabilities[members])).sum(axis=0)
                     * HORIZON)
        assert np.all(np.abs(bought - expected) <= Z * sd), (s, bought, expected, sd)
    # the segments differ enough for the test to mean something: the thrifty prefer "cheap"
    cheap_revenue = history.segment_revenue[1:, :, 0].sum(axis=0)
    share = cheap_revenue / history.segment_customers[1:, :, -1].sum(axis=0)
    assert share[0] > 1.2 * share[1]
