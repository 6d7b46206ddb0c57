"""Choices on triggers with persistent tastes (docs/model.md, "Triggers" and "Choice").

On autopilot a customer buys from the current provider without a choice; a choice is made on a
trigger only. Tastes are drawn once per (customer, need, option), so first choices follow a mixed
logit: ``P_f = E_g[softmax((V + taste_scale g) / shock_scale)_f]`` over standard Gumbel tastes
``g``, which the tests integrate independently by Monte Carlo with NumPy's own generator.

Tolerances: a share of ``n`` customers is binomial, SE ``sqrt(P (1 - P) / n)``; the Monte Carlo
integral of ``M`` draws adds SE ``sd / sqrt(M)``; 5 combined SE are allowed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecosim.config import EcosimConfig, config_to_dict, load_config
from ecosim.config.schema import BundleConfig, CrossSellConfig, EcosystemConfig
from ecosim.metrics import tables
from ecosim.model import EcosystemModel

Z = 5.0
N = 20_000
OFFERS = {"cheap": (0.0, 0.8, 0.5), "premium": (1.0, 1.3, 0.0), "handy": (0.3, 1.0, 0.8)}
BETA_PRICE, BETA_CONV = 1.5, 1.0


def utilities() -> np.ndarray:
    """Deterministic utilities of the outside option (0) and the three firms of OFFERS."""
    q, p, c = (np.array([o[j] for o in OFFERS.values()]) for j in range(3))
    return np.r_[0.0, q - BETA_PRICE * np.log(p) + BETA_CONV * c]


def mixed_logit(taste: float, shock: float, draws: int = 400_000) -> tuple[np.ndarray, ...]:
    """Monte Carlo over tastes: first-choice shares, P(same choice twice) and their MC SEs."""
    rng = np.random.default_rng(20261201)
    v = utilities()
    g = rng.gumbel(size=(draws, v.size))
    z = (v + taste * g) / shock
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    same = (p * p).sum(axis=1)
    return (p.mean(axis=0), p.std(axis=0) / np.sqrt(draws), same.mean(),
            same.std() / np.sqrt(draws))


def first_choice_market(market, need, offering, firm, segment, taste: float, shock: float,
                        openness: float = 1.0, horizon: int = 2):
    """Three firms everyone knows, nobody served at the start: step 1 is everyone's first choice."""
    firms = {name: firm({"x": offering(quality=q, price_index=p, convenience=c)},
                        initial_awareness=1.0) for name, (q, p, c) in OFFERS.items()}
    return market(N, horizon, {"x": need()}, firms,
                  segments={"all": segment(price_sensitivity=BETA_PRICE,
                                           convenience_sensitivity=BETA_CONV,
                                           openness=openness)},
                  taste_scale=taste, shock_scale=shock, transactions=True)


def choices(history, step: int) -> np.ndarray:
    """Per customer, the firm bought from at ``step`` (-1: the outside option)."""
    out = np.full(N, -1)
    log = history.transactions[step]
    out[log[:, 0].astype(np.int64)] = log[:, 3].astype(np.int64)
    return out


def test_first_choices_follow_the_mixed_logit_over_tastes(market, need, offering, firm, segment,
                                                          run_model):
    taste, shock = 1.0, 0.5
    history = run_model(first_choice_market(market, need, offering, firm, segment, taste, shock))
    expected, mc_se, same, same_se = mixed_logit(taste, shock)
    first = choices(history, 1)
    got = np.array([(first == f).mean() for f in (-1, 0, 1, 2)])
    se = np.sqrt(expected * (1 - expected) / N + mc_se ** 2)
    assert np.all(np.abs(got - expected) <= Z * se), (got, expected, se)
    # the second full search keeps the taste: the same choice with probability E[sum p_f^2],
    # far above what independent logit draws would give (sum of squared shares)
    repeat = (choices(history, 2) == first).mean()
    assert abs(repeat - same) <= Z * np.sqrt(same * (1 - same) / N + same_se ** 2), (repeat, same)
    assert repeat > (expected ** 2).sum() + 0.2


def test_without_shocks_or_triggers_nobody_switches(market, need, offering, firm, segment,
                                                    run_model):
    """No per-occasion shock: a customer who looks around every step makes the same choice as at
    the first (persistent taste; habit and switching cost only add to it). No trigger at all
    (openness 0): nobody switches, though a much better firm is known to everyone."""
    history = run_model(first_choice_market(market, need, offering, firm, segment, 1.0, 0.0,
                                            horizon=6))
    assert history.unit_churned[2:].sum() == 0
    assert history.unit_new[2:].sum() == 0
    firms = {"old": firm({"x": offering(quality=0.0)}, {"x": 1.0}, initial_awareness=1.0),
             "better": firm({"x": offering(quality=5.0)}, initial_awareness=1.0)}
    cfg = market(5_000, 12, {"x": need()}, firms, segments={"all": segment(openness=0.0)},
                 taste_scale=1.0, shock_scale=1.0)
    h = run_model(cfg)
    assert h.churned_customers[1:].sum() == 0
    assert np.all(h.purchases[1:, 0, 0] == 5_000)


def test_cross_sell_contact_is_a_binary_choice(market, need, offering, firm, segment, run_model):
    """A contact compares the offered unit with the current provider only: at equal utilities it
    converts half the time (a three-way choice with the outside option would give 1/3).
    ~20 000 contacts at step 1: SE 0.0035."""
    seller = firm({"x": offering(), "y": offering()}, {"x": 1.0}, initial_awareness=1.0)
    seller.cross_sell = CrossSellConfig(contacts_per_step=1.0)
    firms = {"seller": seller,
             "holder": firm({"y": offering()}, {"y": 1.0}, initial_awareness=1.0)}
    h = run_model(market(N, 1, {"x": need(), "y": need()}, firms,
                         segments={"all": segment(openness=0.0)}))
    contacts, conversions = h.contacts[1, 0, 1], h.conversions[1, 0, 1]
    assert contacts == N
    assert abs(conversions / contacts - 0.5) <= Z * np.sqrt(0.25 / contacts)


def permuted(cfg: EcosimConfig) -> EcosimConfig:
    """The same market with its needs declared in reverse order."""
    raw = config_to_dict(cfg)
    raw["needs"] = dict(reversed(list(raw["needs"].items())))
    return load_config(raw)


def test_results_do_not_depend_on_the_order_needs_are_declared(market, need, offering, firm,
                                                               segment):
    """A bundle, an ecosystem with context, cross-sell and brands make needs interact within a
    customer's step; declaring the needs in another order gives the same tables."""
    bank = firm({"bank": offering(quality=0.5), "pay": offering(quality=0.2),
                 "taxi": offering(quality=0.1)}, {"bank": 0.5}, initial_awareness=0.6)
    bank.model = "ecosystem"
    bank.ecosystem = EcosystemConfig(context_reach=0.4, entry_bonus=0.5)
    bank.cross_sell = CrossSellConfig(contacts_per_step=0.2, organisation="value_stream")
    telco = firm({"pay": offering(quality=0.3), "media": offering(quality=0.4)},
                 {"media": 0.5}, initial_awareness=0.6)
    telco.model = "bundle"
    telco.bundle = BundleConfig(needs=["pay", "media"], discount=0.2, min_products=2)
    needs = {"bank": need(), "pay": need(prevalence=0.8), "taxi": need(occurrence=0.5),
             "media": need(prevalence=0.7)}
    cfg = market(6_000, 8, needs, {"bank": bank, "telco": telco},
                 segments={"all": segment(openness=0.3, brand_affinity=0.5)},
                 taste_scale=1.0, shock_scale=0.5)
    frames = []
    for c in (cfg, permuted(cfg)):
        h = EcosystemModel(c).run()
        firm_table = tables.firm_metrics(h, list(c.firms))
        unit = tables.unit_metrics(h, list(c.firms), list(c.needs))
        unit["need"] = unit["need"].astype(str)
        frames.append((firm_table, unit.sort_values(["step", "firm", "need"],
                                                    ignore_index=True)))
    pd.testing.assert_frame_equal(frames[0][0], frames[1][0])
    pd.testing.assert_frame_equal(frames[0][1], frames[1][1])


def test_contact_shocks_of_distinct_firms_are_distinct():
    """Contact draws are keyed by the contacting firm itself: no two of 64 firms share a slot
    (the first version folded firms modulo 16)."""
    from ecosim.kernels.choice import _choice_slot

    slots = {int(_choice_slot(123456, option, f)) for f in range(64) for option in range(65)}
    assert len(slots) == 64 * 65


def test_share_of_wallet_is_a_share(monopoly):
    """A monopoly at twice the reference price serves every need that arises: its share of the
    wallet is exactly 1 (revenue over the reference-price wallet would say 2)."""
    cfg = monopoly(2_000, 4)
    raw = config_to_dict(cfg)
    raw["firms"]["solo"]["offerings"]["x"]["price_index"] = 2.0
    cfg = load_config(raw)
    h = EcosystemModel(cfg).run()
    firm_table = tables.firm_metrics(h, list(cfg.firms))
    assert np.allclose(firm_table.loc[firm_table.step > 0, "share_of_wallet"], 1.0)
    segment = tables.segment_metrics(h, list(cfg.customers.segments), list(cfg.firms))
    assert np.allclose(segment.loc[segment.step > 0, "share_of_wallet"], 1.0)


def test_contact_attention_scales_conversion(market, need, offering, firm, segment, run_model):
    """With ``attention`` a, a contact is considered with probability a, then converts half the
    time at equal utilities: conversion a / 2 per contact (binomial, 5 SE)."""
    attention = 0.2
    seller = firm({"x": offering(), "y": offering()}, {"x": 1.0}, initial_awareness=1.0)
    seller.cross_sell = CrossSellConfig(contacts_per_step=1.0, attention=attention)
    firms = {"seller": seller,
             "holder": firm({"y": offering()}, {"y": 1.0}, initial_awareness=1.0)}
    h = run_model(market(N, 1, {"x": need(), "y": need()}, firms,
                         segments={"all": segment(openness=0.0)}))
    contacts, conversions = h.contacts[1, 0, 1], h.conversions[1, 0, 1]
    p = attention / 2
    assert contacts == N
    assert abs(conversions / contacts - p) <= Z * np.sqrt(p * (1 - p) / contacts)
