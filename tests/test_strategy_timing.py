"""When firm strategies act, what deciding costs, and what the log says (docs/model.md).

* timing: a launch needs no observation and comes at the first decision, ``start``, even on
  the empty window of step 1 or of the firm's entry step; pricing waits for the first decision
  with a window (as closure and allocation do);
* costs: the strategy's capex is paid once, at the first step from ``start`` the firm is in the
  market (a late entrant pays it on entry); a closed unit's own ``unit`` investment stops its
  opex and cost to serve from the closing step;
* the log: one row per key and step holding the net change (a cycle judged and the next probe
  set in one step), rows chaining old to new; a price held at a bound says so.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import HUGE_QUALITY, firm, market, need, offering, run_to_end, segment

from ecosim.config.schema import (
    InvestmentConfig,
    PortfolioRuleConfig,
    PricingRuleConfig,
    StrategyConfig,
)
from ecosim.model import EcosystemModel


def _launch(start: int, enters_at: int = 0) -> EcosystemModel:
    """A firm holding back unit y, whose business case pays (capex 0), deciding every 4 steps."""
    f = firm({"x": offering(quality=HUGE_QUALITY), "y": offering(quality=1.0)}, {"x": 1.0},
             initial_awareness=1.0)
    if enters_at:
        f.initial_share = {}
    f.enters_at = enters_at
    f.strategy = StrategyConfig(every=4, start=start, portfolio=PortfolioRuleConfig(
        launch=["y"], capex=0.0, expected_share=0.2, margin_per_customer=0.3))
    rival = firm({"y": offering(quality=1.0)}, {"y": 1.0}, initial_awareness=1.0)
    return run_to_end(market(500, 10, {"x": need(), "y": need()}, {"f": f, "rival": rival},
                       segments={"all": segment(openness=0.0)}))


@pytest.mark.parametrize("start, enters_at, when", [(1, 0, 1), (2, 0, 2), (1, 5, 5)])
def test_a_launch_needs_no_window_and_comes_at_the_first_decision(start, enters_at,
                                                                  when) -> None:
    # the case is known at the start of the step (the rival's customers at step - 1): the first
    # decision, at `start` (step 1 included) or at entry (5 = 1 + 4), launches y
    model = _launch(start, enters_at)
    assert [(d.step, d.key, d.new) for d in model.decisions] == [(when, "units.y", 1.0)]
    offered = model.history.offered[:, 0, 1]
    assert np.all(offered[:when] == 0) and np.all(offered[when:] == 1)


def _solo(strategy: StrategyConfig, horizon: int = 12, quality: float = 1.0,
          price_sensitivity: float = 2.0, n: int = 2000, enters_at: int = 0):
    solo = firm({"x": offering(quality=quality, margin_rate=0.2)},
                {} if enters_at else {"x": 0.5}, initial_awareness=1.0)
    solo.enters_at = enters_at
    solo.strategy = strategy
    return market(n, horizon, {"x": need()}, {"solo": solo},
                  segments={"all": segment(price_sensitivity=price_sensitivity, openness=1.0)})


@pytest.mark.parametrize("start, enters_at, first", [(1, 0, 3), (2, 0, 2), (1, 5, 7)])
def test_pricing_first_probes_at_the_first_decision_with_a_window(start, enters_at,
                                                                  first) -> None:
    strategy = StrategyConfig(every=2, start=start, pricing=PricingRuleConfig(step=0.1))
    model = run_to_end(_solo(strategy, enters_at=enters_at))
    # the cycle's 2nd and 3rd probes are on one side (high-low-low-high): first + 4 changes
    # nothing; first + 8 judges the cycle and sets the next probe
    assert [d.step for d in model.decisions] == [s for s in (first, first + 2, first + 6,
                                                             first + 8, first + 10) if s <= 12]
    probe = model.decisions[0]
    assert probe.old == 1.0 and abs(math.log(probe.new)) == pytest.approx(0.5 * math.log(1.1))


def test_the_strategy_capex_is_paid_on_entry_after_start() -> None:
    inc = firm({"x": offering(quality=1.0)}, {"x": 0.5}, initial_awareness=1.0)
    ent = firm({"x": offering(quality=1.0)}, initial_awareness=0.5)
    ent.enters_at = 5
    ent.strategy = StrategyConfig(every=2, start=1, capex=1000.0, opex=10.0,
                                  pricing=PricingRuleConfig())
    model = run_to_end(market(500, 10, {"x": need()}, {"inc": inc, "ent": ent},
                        segments={"all": segment(openness=0.3)}))
    cost = model.history.investment_cost[:, 1]
    assert cost[:, 0].tolist() == [0.0] * 5 + [1000.0] + [0.0] * 5  # once, on entry
    assert cost[:, 1].tolist() == [0.0] * 5 + [10.0] * 6


def test_a_closed_units_investment_stops_its_running_costs() -> None:
    f = firm({"x": offering(quality=HUGE_QUALITY, margin_rate=0.2),
              "y": offering(quality=HUGE_QUALITY)}, {"x": 1.0}, initial_awareness=1.0)
    # y costs 1 a customer to serve against a margin of 0.2: it loses and closes at step 7
    # (decisions at 3, 5, 7 see losses); its investment's capex is sunk at step 1
    f.investments = {"y": InvestmentConfig(capability="unit", need="y", capex=300.0,
                                           cost_to_serve=1.0, opex=500.0)}
    f.strategy = StrategyConfig(every=2, portfolio=PortfolioRuleConfig(close_after=3))
    model = run_to_end(market(2000, 14, {"x": need(), "y": need()}, {"f": f},
                        segments={"all": segment(openness=0.0)}))
    assert [(d.step, d.key, d.new) for d in model.decisions] == [(7, "units.y", 0.0)]
    capex, opex, serve = model.history.investment_cost[:, 0].T
    assert capex.tolist() == [0.0, 300.0] + [0.0] * 13
    assert opex.tolist() == [0.0] + [500.0] * 6 + [0.0] * 8
    served = model.history.unit_customers[1:7, 0, 1]
    assert np.all(served > 0) and serve[1:7].tolist() == served.tolist()
    assert np.all(serve[7:] == 0)


def test_the_log_holds_one_net_change_per_key_and_step() -> None:
    # one unit: each judged cycle and the next cycle's first probe fall in the same step
    strategy = StrategyConfig(every=2, pricing=PricingRuleConfig(step=0.1, min_step=0.02))
    model = run_to_end(_solo(strategy, horizon=40))
    rows = [(d.step, d.key) for d in model.decisions]
    assert len(rows) == len(set(rows)), rows
    # each row starts where the last ended: the log replays the published prices
    for before, after in zip(model.decisions, model.decisions[1:], strict=False):
        assert after.old == before.new, (before, after)
    assert model.decisions[-1].new == model.firm_list[0].cfg.offerings["x"].price_index
    # a cycle ends at 11, 19, 27, 35 (probes at 3, 5, 7, 9): judged and probed anew, one row
    merged = [d for d in model.decisions if "; then probe x" in d.reason]
    assert [d.step for d in merged] == [11, 19, 27, 35]
    assert all(" from " in d.reason.split("; then")[0] for d in merged)


def test_a_price_held_at_a_bound_says_so() -> None:
    # demand never falls (huge quality): the climber pushes up into max_price and is held there
    strategy = StrategyConfig(every=1, pricing=PricingRuleConfig(step=0.2, max_price=1.1))
    model = run_to_end(_solo(strategy, horizon=20, quality=HUGE_QUALITY, price_sensitivity=1.0))
    held = [d for d in model.decisions if d.new == 1.1]
    assert held and all("capped at max_price 1.1" in d.reason for d in held)
    assert all("capped" not in d.reason for d in model.decisions if d.new < 1.1)
