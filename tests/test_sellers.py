"""The seller side of two-sided marketplaces (issue 13 item 3; docs/model.md, "Two-sided
marketplaces"): closed-form paths and fixed points, conservation of sellers, the one-sided
marketplace unchanged, and validation.

The closed-form markets hold their GMV known exactly: one need arising every step with spend 1,
one marketplace that every customer uses from step 0 and never leaves (``HUGE_QUALITY``, openness
0: on autopilot), so GMV = market customers × effective price, with no sampling noise at all.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from conftest import HUGE_QUALITY, firm, market, need, offering, run_model, segment

from ecosim.agents.sellers import SellerLedger, supportable_sellers
from ecosim.config import ConfigError, EventConfig, config_to_dict, load_config
from ecosim.config.schema import MarketplaceConfig, SellersConfig
from ecosim.metrics.tipping import SELLER_COLUMNS
from ecosim.model import EcosystemModel, History

HISTORY_FIELDS = [f.name for f in dataclasses.fields(History) if f.name != "transactions"]


def captive_marketplace(sellers: SellersConfig | None, n: int = 500, horizon: int = 30,
                        price_gain: float = 0.0, take_rate: float = 0.2, assortment: int = 100,
                        events: list[EventConfig] | None = None, **market_kwargs):
    """A marketplace that every customer uses every step (GMV = customers × effective price)."""
    shop = firm({"x": offering(quality=HUGE_QUALITY)}, {"x": 1.0}, initial_awareness=1.0)
    shop.model = "marketplace"
    shop.marketplace = MarketplaceConfig(take_rate=take_rate, assortment=assortment,
                                         price_gain=price_gain, match_gain=0.3, sellers=sellers)
    return market(n, horizon, {"x": need()}, {"shop": shop},
                  segments={"all": segment(openness=0.0)}, events=events, **market_kwargs)


def seller_path(cfg) -> tuple[EcosystemModel, np.ndarray]:
    """Run ``cfg``; return the model and the sellers of (shop, x) at steps 0..horizon."""
    model = EcosystemModel(cfg)
    model.run()
    return model, model.sellers.ledger.sellers[:, 0, 0]


# -- the rule itself -----------------------------------------------------------------------------

def test_supportable_sellers_is_the_free_entry_count_at_unit_elasticity():
    """nu = 1: S* = V / c (sellers enter until each earns its cost); nu = 0: S* = A."""
    cfg = SellersConfig(network_effect=1.0, seller_cost=4.0, seller_margin=0.5)
    # V = 0.5 * (1 - 0.2) * 1000 = 400; free entry: 400 / 4 = 100 sellers, whatever A
    assert supportable_sellers(1000.0, 0.2, 30, cfg) == pytest.approx(100.0, rel=1e-12)
    assert supportable_sellers(1000.0, 0.2, 300, cfg) == pytest.approx(100.0, rel=1e-12)
    fixed = dataclasses.replace(cfg, network_effect=0.0)
    assert supportable_sellers(1000.0, 0.2, 30, fixed) == 30.0
    assert supportable_sellers(0.0, 0.2, 30, fixed) == 30.0
    # the elasticity of S* to GMV is nu, around the anchor A where V = c A
    strong = dataclasses.replace(cfg, network_effect=2.5)
    ratio = supportable_sellers(2000.0, 0.2, 50, strong) / supportable_sellers(1000.0, 0.2, 50,
                                                                                strong)
    assert ratio == pytest.approx(2.0 ** 2.5, rel=1e-12)
    assert supportable_sellers(0.0, 0.2, 50, strong) == 1.0  # no GMV: the floor of one seller


# -- closed forms in a running model ---------------------------------------------------------

def test_sellers_follow_the_partial_adjustment_path_to_the_closed_form_target():
    """Constant GMV G: S_t = S* + (S_0 - S*)(1 - lam)^(t-1) from step 1 (step 0 has no GMV).

    price_gain 0 keeps the price, and so G = 500 customers × 1, constant: V = 0.5 × 0.8 × 500 =
    200 and c A = 1 × 100, so S* = A (V / (c A)) ** nu = 100 × 2 ** 0.5.
    """
    lam, start = 0.2, 10.0
    cfg = captive_marketplace(SellersConfig(network_effect=0.5, seller_cost=1.0, seller_margin=0.5,
                                            adjustment=lam, initial=start))
    model, sellers = seller_path(cfg)
    gmv = model.history.revenue[1:, 0, 0]
    np.testing.assert_allclose(gmv, 500.0, rtol=1e-12)  # everyone buys 1 at price 1 each step
    target = 100.0 * math.sqrt(2.0)
    t = np.arange(1, cfg.time.horizon + 1)
    np.testing.assert_allclose(sellers[1:], target + (start - target) * (1 - lam) ** (t - 1),
                               rtol=1e-12)
    assert sellers[0] == start
    np.testing.assert_allclose(model.sellers.ledger.seller_target[1:, 0, 0], target, rtol=1e-12)


def test_sellers_are_conserved_joins_minus_leaves_is_the_change():
    """sellers[t+1] - sellers[t] = joins[t] - leaves[t], and leaves = lam × sellers."""
    lam = 0.25
    cfg = captive_marketplace(SellersConfig(network_effect=1.7, seller_cost=3.0, adjustment=lam,
                                            initial=250.0), price_gain=0.1, horizon=20)
    model, sellers = seller_path(cfg)
    ledger = model.sellers.ledger
    joins, leaves = ledger.seller_joins[:, 0, 0], ledger.seller_leaves[:, 0, 0]
    np.testing.assert_allclose(np.diff(sellers), (joins - leaves)[:-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(leaves[1:], lam * sellers[1:], rtol=1e-12)
    np.testing.assert_allclose(joins[1:], lam * ledger.seller_target[1:, 0, 0], rtol=1e-12)
    assert joins[0] == leaves[0] == 0.0


def test_buyer_feedback_converges_to_the_fixed_point_of_gmv_and_sellers():
    """With the buyers' price gain, GMV = M / (1 + g ln S): the stock converges to the root of
    S = A (kappa M / ((1 + g ln S) c A)) ** nu, found here by bisection."""
    g, nu, cost, n, assortment = 0.1, 0.8, 2.0, 500, 100
    kappa = 0.3 * (1 - 0.2)  # seller margin × (1 - take rate)
    cfg = captive_marketplace(SellersConfig(network_effect=nu, seller_cost=cost, adjustment=0.5,
                                            initial=5.0), price_gain=g, horizon=80, n=n)

    def excess(s: float) -> float:
        gmv = n / (1.0 + g * math.log(s))
        return assortment * (kappa * gmv / (cost * assortment)) ** nu - s

    low, high = 1.0, 1e4
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if excess(mid) > 0 else (low, mid)
    model, sellers = seller_path(cfg)
    assert sellers[-1] == pytest.approx(low, rel=1e-9)
    # and the GMV that held them is the buyers' spend at the effective price of that assortment
    assert model.history.revenue[-1, 0, 0] == pytest.approx(n / (1 + g * math.log(sellers[-1])),
                                                            rel=1e-9)


def test_sellers_scale_with_the_market_not_with_the_sample():
    """GMV is the market's (customers.market_size): 500 simulated customers standing for 5 000
    hold the same sellers as 5 000 simulated ones."""
    sellers = SellersConfig(network_effect=1.0, seller_cost=10.0, adjustment=1.0)
    _, small = seller_path(captive_marketplace(sellers, n=500, horizon=3, market_size=5000))
    _, large = seller_path(captive_marketplace(sellers, n=5000, horizon=3))
    np.testing.assert_allclose(small, large, rtol=1e-12)
    # adjustment 1: S = S* = V / c = 0.3 × 0.8 × 5000 / 10 from step 2
    assert small[2] == pytest.approx(120.0, rel=1e-12)


def test_a_firm_before_entry_keeps_its_sellers():
    """No GMV before it enters, yet its sellers do not leave: the stock moves once it plays."""
    cfg = captive_marketplace(None)
    rival = cfg.firms["shop"]
    entrant = dataclasses.replace(rival, initial_share={}, enters_at=5, marketplace=dataclasses
                                  .replace(rival.marketplace, sellers=SellersConfig(initial=40.0)))
    cfg.firms["late"] = entrant
    cfg = load_config(config_to_dict(cfg))
    model = EcosystemModel(cfg)
    model.run()
    late = model.sellers.ledger.sellers[:, 1, 0]
    np.testing.assert_array_equal(late[:6], 40.0)
    assert late[7] != 40.0


# -- one-sided marketplaces are unchanged --------------------------------------------------------

def test_zero_network_effect_at_the_assortment_is_the_one_sided_marketplace_bit_for_bit():
    """nu = 0 and initial = assortment: sellers stay at A, and the whole History equals that of
    the same market without a seller side (two marketplaces competing, open customers)."""
    def two_marketplaces(sellers: SellersConfig | None):
        firms = {}
        for name, quality in (("a", 0.3), ("b", 0.0)):
            f = firm({"x": offering(quality=quality)}, {"x": 0.4}, initial_awareness=1.0)
            f.model = "marketplace"
            f.marketplace = MarketplaceConfig(take_rate=0.1, assortment=150, search_cost=0.2,
                                              sellers=sellers)
            firms[name] = f
        return market(2000, 12, {"x": need()}, firms,
                      segments={"all": segment(openness=0.3, habit_strength=1.0)},
                      switching_cost=0.4)

    plain = run_model(two_marketplaces(None))
    model = EcosystemModel(two_marketplaces(SellersConfig(network_effect=0.0)))
    sided = model.run()
    for name in HISTORY_FIELDS:
        np.testing.assert_array_equal(getattr(plain, name), getattr(sided, name), err_msg=name)
    np.testing.assert_array_equal(model.sellers.ledger.sellers, 150.0)


def test_without_a_seller_side_the_ledger_is_empty():
    model = EcosystemModel(captive_marketplace(None, horizon=2))
    model.run()
    assert not model.sellers.active
    assert np.isnan(model.sellers.ledger.sellers).all()


def test_the_ledger_records_each_column_of_sellers_parquet_once():
    """``metrics.tipping.SELLER_COLUMNS`` is the one list; the ledger has exactly those fields,
    each its own NaN array, so ``seller_table`` reads every one of them."""
    ledger = SellerLedger.empty(3, 2, 1)
    names = [field.name for field in dataclasses.fields(ledger)]
    assert sorted(names) == sorted(SELLER_COLUMNS) and len(set(SELLER_COLUMNS)) == 5
    arrays = [getattr(ledger, name) for name in SELLER_COLUMNS]
    assert all(a.shape == (4, 2, 1) and np.isnan(a).all() for a in arrays)
    assert len({id(a) for a in arrays}) == 5  # no two columns share one array


# -- validation ---------------------------------------------------------------------------------

def _with_sellers(**fields) -> dict:
    tree = config_to_dict(captive_marketplace(SellersConfig(), horizon=5))
    tree["firms"]["shop"]["marketplace"]["sellers"].update(fields)
    return tree


@pytest.mark.parametrize(("field", "value", "message"), [
    ("network_effect", -0.5, "firms.shop.marketplace.sellers.network_effect: -0.5 is not allowed"),
    ("network_effect", 11.0, "expected a number in [0, 10]"),
    ("seller_cost", 0.0, "firms.shop.marketplace.sellers.seller_cost: 0.0 is not allowed; "
                         "expected a number > 0 (currency per seller per step)"),
    ("seller_margin", 1.5, "firms.shop.marketplace.sellers.seller_margin: 1.5 is not allowed"),
    ("adjustment", 0.0, "firms.shop.marketplace.sellers.adjustment: 0.0 is not allowed"),
    ("initial", 0.5, "firms.shop.marketplace.sellers.initial: 0.5 is not allowed"),
    ("entry", 1.0, "firms.shop.marketplace.sellers.entry: unknown key"),
])
def test_bad_seller_parameters_are_named(field, value, message):
    with pytest.raises(ConfigError) as error:
        load_config(_with_sellers(**{field: value}))
    assert message in str(error.value)


def test_a_seller_side_needs_a_marketplace():
    tree = _with_sellers()
    tree["firms"]["shop"]["model"] = "standalone"
    with pytest.raises(ConfigError) as error:
        load_config(tree)
    assert str(error.value).startswith("firms.shop.marketplace.sellers: ")
    assert "model standalone (marketplace only)" in str(error.value)


def test_events_change_seller_parameters_but_not_the_side_itself():
    tree = _with_sellers()
    tree["events"] = [{"step": 2, "firm": "shop", "set": {"marketplace.sellers.network_effect": 2}}]
    cfg = load_config(tree)
    assert cfg.events[0].set == {"marketplace.sellers.network_effect": 2.0}
    tree["events"] = [{"step": 2, "firm": "shop", "set": {"marketplace.sellers.initial": 5}}]
    with pytest.raises(ConfigError, match="initial only acts at step 0"):
        load_config(tree)
    plain = config_to_dict(captive_marketplace(None, horizon=5))
    plain["events"] = [{"step": 2, "firm": "shop",
                        "set": {"marketplace.sellers.network_effect": 2}}]
    with pytest.raises(ConfigError, match="cannot switch a marketplace's seller side on or off"):
        load_config(plain)


def test_an_event_on_the_network_effect_acts_from_its_step():
    """Fixed assortment (nu = 0) until step 4, then free entry: S moves only from step 5."""
    events = [EventConfig(step=4, firm="shop", set={"marketplace.sellers.network_effect": 1.0})]
    cfg = captive_marketplace(SellersConfig(network_effect=0.0, seller_cost=1.0, adjustment=0.5),
                              horizon=8, events=events)
    _, sellers = seller_path(cfg)
    np.testing.assert_array_equal(sellers[:5], 100.0)
    # V / c = 0.3 × 0.8 × 500 / 1 = 120: half the gap closes per step from step 4's update
    assert sellers[5] == pytest.approx(110.0, rel=1e-12)


def test_an_event_cannot_switch_the_side_through_its_block():
    """Setting the whole ``marketplace`` block is checked like a dotted key."""
    tree = _with_sellers()
    tree["events"] = [{"step": 2, "firm": "shop", "set": {"marketplace": {"sellers": None}}}]
    with pytest.raises(ConfigError, match="cannot switch a marketplace's seller side on or off"):
        load_config(tree)
    tree["events"] = [{"step": 2, "firm": "shop", "set": {"model": "standalone"}}]
    with pytest.raises(ConfigError, match="expected no seller side on a firm with model "
                                          "standalone"):
        load_config(tree)
