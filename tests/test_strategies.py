"""Firm strategies (docs/model.md, "Firms that decide"): each rule against a known answer.

* pricing, ``unit_profit``: a monopoly logit (no habit, everyone looks every step) with price
  sensitivity ``a`` and margin a share of the price earns ``p s(p)``, maximal where
  ``s = 1 - 1/a`` (closed form: ``p* = exp(V / a) (a - 1)^(1/a)``); the climber settles there.
  With a customer base growing 8-fold (a drift of the observed profit), it still gets there
  from below and from above.
* pricing, ``group_ltv``: an ecosystem whose loss-making unit brings customers to a profitable
  one (entry bonus); the group's best price, found by brute force over fixed prices, lies below
  the unit's break-even, and the climber settles near it, while ``unit_profit`` prices above.
* allocation: budget moves to the brand whose units return more per currency (four times more,
  by their margins), by ``shift`` of the loser's budget each decision; the total is kept.
* response: the firm matches a rival's convenience or price exactly ``lag`` steps after the
  rival published it, and the capex lands in that step's capex and profit.
* portfolio: a unit losing money at ``close_after`` decisions in a row closes; a held-back unit
  launches exactly when its business case (closed form) beats its capex.
* a firm without a strategy, or with a block and no rule that fires, gives a bit-identical
  History; the log is reproducible and written as ``decisions.parquet``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from conftest import firm, market, need, offering, run_to_end, segment

from ecosim.agents.strategies.portfolio import annuity
from ecosim.config import ConfigError, config_to_dict, load_config
from ecosim.config.schema import (
    AllocationRuleConfig,
    EcosystemConfig,
    EventConfig,
    InvestmentConfig,
    PortfolioRuleConfig,
    PricingRuleConfig,
    ResponseRuleConfig,
    StrategyConfig,
)
from ecosim.experiment import run_experiment, write_tables
from ecosim.metrics.decisions import DECISION_COLUMNS
from ecosim.metrics.tables import firm_metrics
from ecosim.model import EcosystemModel


def _prices(model: EcosystemModel, need: str) -> np.ndarray:
    key = f"offerings.{need}.price_index"
    return np.array([d.new for d in model.decisions if d.key == key])


# -- pricing ------------------------------------------------------------------------------------

def _monopoly(strategy: StrategyConfig | None, a: float, quality: float, n: int, horizon: int):
    solo = firm({"x": offering(quality=quality, margin_rate=0.2)}, {"x": 0.5},
                initial_awareness=1.0)
    solo.strategy = strategy
    return market(n, horizon, {"x": need()}, {"solo": solo},
                  segments={"all": segment(price_sensitivity=a, openness=1.0)})


def test_price_rule_finds_the_monopoly_logit_optimum() -> None:
    # p s(p) with s = e^(V - a ln p) / (1 + e^(V - a ln p)): d ln(p s)/d ln p = 1 - a (1 - s)
    a, quality = 2.0, 2 * math.log(1.5)
    best = math.exp(quality / a) * (a - 1) ** (1 / a)  # 1.5: s* = 1 - 1/a = 0.5
    strategy = StrategyConfig(every=2, pricing=PricingRuleConfig(step=0.1, min_step=0.02))
    model = run_to_end(_monopoly(strategy, a, quality, n=50_000, horizon=120))
    prices = _prices(model, "x")
    # 59 decisions (steps 3, 5, ..., 119): 3 log rows a cycle of 4 (the 2nd and 3rd probes are
    # on one side; a cycle's judgement and the next probe are one row)
    assert prices[0] != 1.0 and len(prices) >= 40
    # With x = ln(p/p*), the slope of ln profit in ln p is about -a s(1-s) x = -x/2, so a cycle's
    # high and low probes (h = ln(1 + step) apart) differ by about x h / 2 in relative profit;
    # each side's mean of two one-step observations has a sampling error of 0.45 % / sqrt(2)
    # (N = 50 000, s = 0.5; the first step of each 2-step window is a washout). From p = 1
    # (x = -0.41, h = 0.095) the gap is 1.9 %, six standard errors of the difference: the price
    # climbs. Near p* the side is read at random and the halving steps (down to 2 %) keep the
    # price within a few steps of p*.
    late = np.log(prices[-30:] / best)
    assert np.all(np.abs(late) < 0.2), late
    assert abs(late.mean()) < 0.08, late.mean()
    share = model.history.unit_customers[-40:, 0, 0] / 50_000
    assert abs(share.mean() - (1 - 1 / a)) < 0.03, share.mean()


@pytest.mark.parametrize("start", [1.0, 2.2])
def test_price_rule_finds_the_optimum_while_the_customer_base_grows(start: float) -> None:
    # Awareness spreads from 5 % through advertising: the firm's customers grow about 8-fold
    # over the run, so its profit drifts up whatever the price. Aware customers still choose by
    # the same logit, so p* is unchanged (1.5); the high-low-low-high probes cancel the drift,
    # and the price reaches p* from below and from above.
    a, quality = 2.0, 2 * math.log(1.5)
    solo = firm({"x": offering(quality=quality, price_index=start, margin_rate=0.2)},
                {"x": 0.02}, initial_awareness=0.05, budget=1500.0, reach_cost=1.0)
    solo.strategy = StrategyConfig(every=2, pricing=PricingRuleConfig(step=0.1, min_step=0.02))
    model = run_to_end(market(50_000, 120, {"x": need()}, {"solo": solo},
                        segments={"all": segment(price_sensitivity=a, openness=1.0)}))
    customers = model.history.customers[:, 0]
    assert customers[120] > 6 * customers[1]  # the drift is real
    late = np.log(_prices(model, "x")[-30:] / 1.5)
    assert np.all(np.abs(late) < 0.2), late
    assert abs(late.mean()) < 0.1, late.mean()


def test_price_rule_stays_within_its_bounds_and_is_reproducible() -> None:
    strategy = StrategyConfig(every=1, pricing=PricingRuleConfig(step=0.2, max_price=1.1))
    # a huge quality: demand never falls, the climber pushes up to max_price and stays there
    cfg = _monopoly(strategy, 1.0, 50.0, n=2000, horizon=20)
    first, second = run_to_end(cfg), run_to_end(cfg)
    assert first.decisions == second.decisions
    prices = _prices(first, "x")
    assert prices.max() <= 1.1 and prices.min() >= 0.5


# group_ltv: unit a (margin 0.4 of the price, cost to serve 0.5 a customer: break-even price
# 1.25) brings customers into the ecosystem, where unit b (margin 0.9) gets them with the entry
# bonus. Its best price for the group is found by brute force over fixed prices.
BREAK_EVEN = 0.5 / 0.4
GRID = np.exp(np.linspace(math.log(0.5), math.log(2.5), 13))


def _ecosystem(price_a: float, strategy: StrategyConfig | None, horizon: int = 40):
    eco = firm({"a": offering(quality=-0.5, price_index=price_a, margin_rate=0.4),
                "b": offering(quality=-0.5, price_index=1.5, margin_rate=0.9)}, {"b": 0.5},
               initial_awareness=1.0)
    eco.model = "ecosystem"
    eco.ecosystem = EcosystemConfig(entry_bonus=2.0)
    eco.investments = {"a": InvestmentConfig(capability="unit", need="a", cost_to_serve=0.5,
                                             start=1)}
    eco.strategy = strategy
    return market(20_000, horizon, {"a": need(), "b": need()}, {"eco": eco},
                  segments={"all": segment(price_sensitivity=3.0, openness=1.0)})


def _steady(model: EcosystemModel, first: int) -> tuple[float, float]:
    """Mean group contribution and unit a's contribution per step from ``first`` on."""
    h = model.history
    group = (h.gross_margin[first:, 0].sum(axis=1) - h.investment_cost[first:, 0, 2]).mean()
    unit_a = (h.gross_margin[first:, 0, 0] - 0.5 * h.unit_customers[first:, 0, 0]).mean()
    return float(group), float(unit_a)


@pytest.fixture(scope="module")
def brute_force() -> tuple[float, float]:
    """The fixed price of unit a that maximises the group's, and the unit's, contribution."""
    results = [_steady(run_to_end(_ecosystem(p, None)), 10) for p in GRID]
    group, unit = np.array(results).T
    return float(GRID[group.argmax()]), float(GRID[unit.argmax()])


def test_group_ltv_prices_a_unit_below_break_even_where_the_group_gains(brute_force) -> None:
    group_best, unit_best = brute_force
    assert group_best < BREAK_EVEN < unit_best  # the known answer of this market
    strategy = StrategyConfig(every=2, pricing=PricingRuleConfig(
        objective="group_ltv", needs=["a"], step=0.1, min_step=0.02))
    model = run_to_end(_ecosystem(1.5, strategy, horizon=120))
    late = _prices(model, "a")[-20:]
    # the group's contribution is flat near its best within a grid step (ln ratio 0.134)
    assert np.all(late < BREAK_EVEN), late
    assert abs(np.log(late).mean() - math.log(group_best)) < 0.2, (late, group_best)
    assert {d.rule for d in model.decisions} == {"pricing"}
    assert all(d.reason.startswith("group_ltv") for d in model.decisions)


def test_unit_profit_prices_the_same_unit_above_break_even(brute_force) -> None:
    _, unit_best = brute_force
    strategy = StrategyConfig(every=2, pricing=PricingRuleConfig(needs=["a"], step=0.1,
                                                                 min_step=0.02))
    late = _prices(run_to_end(_ecosystem(1.5, strategy, horizon=120)), "a")[-20:]
    assert np.all(late > BREAK_EVEN), late
    assert abs(np.log(late).mean() - math.log(unit_best)) < 0.25, (late, unit_best)


# -- marketing allocation -------------------------------------------------------------------

def _two_brands(margin_x: float, margin_y: float, strategy: StrategyConfig | None):
    f = firm({"x": offering(quality=2.0, margin_rate=margin_x),
              "y": offering(quality=2.0, margin_rate=margin_y, brand="f_y")},
             budget=2000.0, reach_cost=1.0)
    f.marketing.brand_budgets = {"f_y": 2000.0}
    f.strategy = strategy
    return market(20_000, 12, {"x": need(), "y": need()}, {"f": f},
                  segments={"all": segment(openness=0.0)})


@pytest.mark.parametrize("margins, winner", [((0.4, 0.1), "x"), ((0.1, 0.4), "y")])
def test_allocation_moves_budget_to_the_brand_with_the_higher_return(margins, winner) -> None:
    strategy = StrategyConfig(every=3, allocation=AllocationRuleConfig(shift=0.2, floor=0.1))
    model = run_to_end(_two_brands(*margins, strategy))
    marketing = model.firm_list[0].cfg.marketing
    budgets = {"x": marketing.budget, "y": marketing.brand_budgets["f_y"]}
    assert budgets["x"] + budgets["y"] == pytest.approx(4000.0, rel=1e-12)  # total kept
    loser = "y" if winner == "x" else "x"
    # identical demand and reach while few customers know either brand: returns differ by the
    # margin ratio, 4, far beyond the noise, so each decision (steps 4, 7, 10) moves 20 % of
    # the loser's budget. (Later, as the winner's brand saturates the market, its return per
    # currency falls below the other's and budget flows back: diminishing returns.)
    assert [d.step for d in model.decisions] == [4, 4, 7, 7, 10, 10]
    assert budgets[loser] == pytest.approx(2000.0 * 0.8**3, rel=1e-12)
    assert budgets[winner] == pytest.approx(4000.0 - 2000.0 * 0.8**3, rel=1e-12)
    spend = model.history.marketing_spend
    assert np.allclose(spend[1:, 0], 4000.0)


# -- competitive response ------------------------------------------------------------------

def _entry(response: ResponseRuleConfig, rival: dict,
           old_rival: bool = False) -> tuple[EcosystemModel, object]:
    inc = firm({"x": offering(quality=1.0, convenience=0.0)}, {"x": 0.5},
               initial_awareness=1.0)
    inc.strategy = StrategyConfig(every=6, response=response)
    ent = firm({"x": offering(quality=1.0, **rival)}, initial_awareness=0.5)
    ent.enters_at = 5
    firms = {"inc": inc, "ent": ent}
    if old_rival:  # more convenient than the incumbent from the start
        firms["old"] = firm({"x": offering(quality=0.0, convenience=0.5)}, {"x": 0.2},
                            initial_awareness=1.0)
    cfg = market(2000, 16, {"x": need()}, firms, segments={"all": segment(openness=0.3)})
    return run_to_end(cfg), cfg


@pytest.mark.parametrize("lag", [0, 3, 6])
def test_response_matches_convenience_after_the_lag_and_pays_its_capex(lag) -> None:
    model, cfg = _entry(ResponseRuleConfig(match=["convenience"], lag=lag, capex=1234.0),
                        {"convenience": 1.0})
    # the entrant publishes at step 5; the incumbent sees it from step 6, matches at 5 + lag
    # (at 6 when lag is 0: it cannot answer an offer before seeing it)
    when = max(5 + lag, 6)
    [decision] = model.decisions
    assert (decision.step, decision.firm, decision.rule) == (when, "inc", "response")
    assert (decision.key, decision.old, decision.new) == ("offerings.x.convenience", 0.0, 1.0)
    assert decision.reason.startswith("ent has published convenience 1 in x against our 0 "
                                      "since step 5")
    capex = model.history.investment_cost[:, 0, 0]
    assert capex[when] == 1234.0 and capex.sum() == 1234.0
    table = firm_metrics(model.history, list(cfg.firms), "a", 0)
    inc = table[table["firm"] == "inc"].set_index("step")
    assert inc.loc[when, "capex"] == 1234.0
    assert inc.loc[when, "profit"] == pytest.approx(
        inc.loc[when, "gross_margin"] - inc.loc[when, "losses"] - inc.loc[when, "marketing_spend"]
        - inc.loc[when, "contact_cost"] + inc.loc[when, "partner_fees"] - 1234.0)


def test_response_watches_only_the_named_rivals() -> None:
    # "old" is more convenient from step 0 (0.5): only the entrant (1.0, step 5) is answered
    model, _ = _entry(ResponseRuleConfig(rivals=["ent"], lag=3), {"convenience": 1.0},
                      old_rival=True)
    assert [(d.step, d.new) for d in model.decisions] == [(8, 1.0)]
    # watching everyone, the incumbent first matches "old" (published at 0, seen at 1): 0 + 3
    model, _ = _entry(ResponseRuleConfig(lag=3), {"convenience": 1.0}, old_rival=True)
    assert [(d.step, d.new) for d in model.decisions] == [(3, 0.5), (8, 1.0)]


def test_response_matches_a_lower_price() -> None:
    model, _ = _entry(ResponseRuleConfig(match=["price", "convenience"], lag=2),
                      {"price_index": 0.8})
    [decision] = model.decisions
    assert decision.step == 7 and decision.key == "offerings.x.price_index"
    assert decision.new == pytest.approx(0.8, rel=1e-12)


# -- portfolio --------------------------------------------------------------------------------

def test_a_unit_that_keeps_losing_money_closes() -> None:
    f = firm({"x": offering(quality=50.0, margin_rate=0.2), "y": offering(quality=50.0)},
             {"x": 1.0}, initial_awareness=1.0)
    # y costs 1 a customer and a step to serve against a margin of 0.2: it always loses
    f.investments = {"y": InvestmentConfig(capability="unit", need="y", cost_to_serve=1.0)}
    f.strategy = StrategyConfig(every=2, portfolio=PortfolioRuleConfig(close_after=3))
    model = run_to_end(market(2000, 14, {"x": need(), "y": need()}, {"f": f},
                        segments={"all": segment(openness=0.0)}))
    [decision] = model.decisions
    # decisions at 3, 5, 7 see losses (windows from step 1): y closes at step 7
    assert (decision.step, decision.key, decision.old, decision.new) == (7, "units.y", 1.0, 0.0)
    h = model.history
    assert h.offered[6, 0, 1] == 1 and np.all(h.offered[7:, 0, 1] == 0)
    assert h.unit_customers[6, 0, 1] > 0 and np.all(h.unit_customers[7:, 0, 1] == 0)
    assert np.all(h.offered[:, 0, 0] == 1)  # x is profitable and stays


@pytest.mark.parametrize("above", [False, True])
def test_a_held_back_unit_launches_when_its_case_beats_the_capex(above: bool) -> None:
    n, share, margin, payback, d = 2000, 0.2, 0.3, 24, 0.01
    # the rival serves every customer's y; nobody leaves (openness 0, no hazard)
    value = share * n * margin * annuity(payback, d)
    assert annuity(payback, d) == pytest.approx(sum((1 + d) ** -t for t in range(1, 25)))
    capex = value * (0.99 if above else 1.01)
    f = firm({"x": offering(quality=50.0), "y": offering(quality=1.0)}, {"x": 1.0},
             initial_awareness=1.0)
    f.strategy = StrategyConfig(every=4, start=2, portfolio=PortfolioRuleConfig(
        launch=["y"], capex=capex, expected_share=share, margin_per_customer=margin,
        payback=payback))
    rival = firm({"y": offering(quality=1.0)}, {"y": 1.0}, initial_awareness=1.0)
    cfg = market(n, 10, {"x": need(), "y": need()}, {"f": f, "rival": rival},
                 segments={"all": segment(openness=0.0)})
    cfg.time.discount_rate = d
    model = run_to_end(cfg)
    h = model.history
    if above:
        [decision] = model.decisions
        # the first decision (step 2, start) launches it; capex paid then, offered from then
        assert (decision.step, decision.key, decision.new) == (2, "units.y", 1.0)
        assert h.investment_cost[2, 0, 0] == pytest.approx(capex, rel=1e-12)
        assert h.investment_cost.sum() == pytest.approx(capex, rel=1e-12)
        assert np.all(h.offered[:2, 0, 1] == 0) and np.all(h.offered[2:, 0, 1] == 1)
    else:
        assert model.decisions == [] and np.all(h.offered[:, 0, 1] == 0)
        assert h.investment_cost.sum() == 0


def test_what_deciding_costs_is_paid_from_start() -> None:
    strategy = StrategyConfig(every=2, start=3, capex=500.0, opex=20.0,
                              pricing=PricingRuleConfig())
    h = run_to_end(_monopoly(strategy, 2.0, 1.0, n=500, horizon=8)).history
    assert h.investment_cost[:, 0, 0].tolist() == [0, 0, 0, 500, 0, 0, 0, 0, 0]
    assert h.investment_cost[:, 0, 1].tolist() == [0, 0, 0, 20, 20, 20, 20, 20, 20]


# -- off means off; the log -------------------------------------------------------------------

def _history_arrays(model: EcosystemModel) -> dict[str, np.ndarray]:
    return {f.name: getattr(model.history, f.name) for f in dataclasses.fields(model.history)
            if isinstance(getattr(model.history, f.name), np.ndarray)}


def test_a_firm_without_decisions_gives_a_bit_identical_history() -> None:
    def build(strategy: StrategyConfig | None):
        eco = firm({"x": offering(0.5), "y": offering(0.2)}, {"x": 0.3}, initial_awareness=0.5,
                   budget=300.0)
        eco.model = "ecosystem"
        eco.ecosystem.context_reach = 0.3
        eco.strategy = strategy
        rival = firm({"x": offering(0.1, convenience=-0.2)}, {"x": 0.3}, initial_awareness=0.5,
                     budget=300.0)
        return market(3000, 12, {"x": need(), "y": need()}, {"eco": eco, "rival": rival},
                      segments={"all": segment(openness=0.3, habit_strength=1.0)},
                      events=[EventConfig(step=6, firm="rival", set={"marketing.budget": 0.0})])

    plain = _history_arrays(run_to_end(build(None)))
    # a block with no rule, and a response that never fires (no rival is better)
    for strategy in (StrategyConfig(), StrategyConfig(every=1, response=ResponseRuleConfig())):
        model = run_to_end(build(strategy))
        assert model.decisions == []
        for name, array in _history_arrays(model).items():
            assert np.array_equal(array, plain[name]), name


def test_decisions_parquet_is_written_with_arm_and_replication(tmp_path) -> None:
    base = _monopoly(None, 2.0, 1.0, n=500, horizon=6)
    tree = config_to_dict(base)
    tree["replications"] = 2
    tree["firms"]["solo"]["strategy"] = {"every": 2, "pricing": {"step": 0.1}}
    configs = {"static": load_config(config_to_dict(base)), "pricing": load_config(tree)}
    configs["static"].replications = 2
    result = run_experiment(configs, progress=False)
    out = write_tables(result, tmp_path)
    table = pd.read_parquet(out / "decisions.parquet")
    assert list(table.columns) == list(DECISION_COLUMNS)
    assert set(table["arm"]) == {"pricing"} and set(table["replication"]) == {0, 1}
    assert set(table["step"]) == {3, 5} and (table["key"] == "offerings.x.price_index").all()
    empty = run_experiment({"static": configs["static"]}, progress=False)
    write_tables(empty, tmp_path / "empty")
    table = pd.read_parquet(tmp_path / "empty" / "decisions.parquet")
    assert list(table.columns) == list(DECISION_COLUMNS) and table.empty


# -- configuration ------------------------------------------------------------------------------

@pytest.mark.parametrize("block, message", [
    ({"every": 0}, r"firms.solo.strategy.every: 0 is not allowed"),
    ({"pricing": {"objective": "revenue"}}, r"pricing.objective: 'revenue' is not allowed; "
                                            r"expected one of unit_profit, group_ltv"),
    ({"pricing": {"needs": ["z"]}}, r"pricing.needs: firm 'solo' has no offering for need 'z'"),
    ({"response": {"match": ["quality"]}}, r"response.match: 'quality' is not allowed"),
    ({"response": {"lag": -1}}, r"response.lag: -1 is not allowed"),
    ({"response": {"rivals": ["solo"]}}, r"response.rivals: 'solo' is not allowed; expected "
                                         r"another firm: \(none\)"),
    ({"portfolio": {"launch": ["x"]}}, r"portfolio.launch: 'x' is not allowed; expected a need "
                                       r"without initial_share"),
    ({"pricing": {"step": 0.1, "min_step": 0.2}}, r"pricing.min_step: 0.2 is not allowed"),
    ({"rules": {}}, r"firms.solo.strategy.rules: unknown key"),
])
def test_bad_strategy_blocks_are_rejected_naming_the_key(block, message) -> None:
    tree = config_to_dict(_monopoly(None, 2.0, 1.0, n=100, horizon=6))
    tree["firms"]["solo"]["strategy"] = block
    with pytest.raises(ConfigError, match=message):
        load_config(tree)


def test_events_cannot_change_a_strategy() -> None:
    tree = config_to_dict(_monopoly(None, 2.0, 1.0, n=100, horizon=6))
    tree["events"] = [{"step": 2, "firm": "solo", "set": {"strategy.every": 2}}]
    with pytest.raises(ConfigError, match=r"events\[0\].set.strategy.every: events cannot "
                                          r"change strategies"):
        load_config(tree)
