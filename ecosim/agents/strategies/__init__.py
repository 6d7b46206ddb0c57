"""Firm strategies: the decisions a firm takes on what it can observe (docs/model.md).

A firm with a ``strategy`` block holds a ``Strategy``; its Mesa ``step`` calls ``act`` after the
scheduled events. Rules change the firm's own config (prices, convenience, budgets, which units
are open), so the offers it publishes carry the decisions, and each change is logged as a
``Decision`` (``decisions.parquet``). Pricing, allocation and portfolio decide every ``every``
steps from ``start``, on the window of steps played since their last decision (at the first,
the ``every`` steps before it, from step 1 or the firm's entry: empty when that decision falls
at step 1 or at the entry step). On an empty window only a launch can act (its business case
reads the market at the end of the last step); pricing, allocation and closure wait for the
next decision. The response watches every step from step 1 or entry, whatever ``start`` (its
timing is its lag). A firm without the block decides nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ecosim.agents.strategies.allocation import AllocationRule
from ecosim.agents.strategies.portfolio import PortfolioRule
from ecosim.agents.strategies.pricing import PriceRule
from ecosim.agents.strategies.response import ResponseRule
from ecosim.agents.strategies.view import Decision, MarketView
from ecosim.config.schema import StrategyConfig
from ecosim.kernels.rng import uniform

if TYPE_CHECKING:
    from ecosim.agents.firm import Firm

__all__ = ["Decision", "MarketView", "Strategy", "STREAM_STRATEGY"]

#: The counter-based stream of firm decisions (``kernels.rng`` numbers the customers' streams
#: from 1; this one is far from them). Keyed by (seed, replication), the firm's index as the
#: customer coordinate and the unit's need index as the slot.
STREAM_STRATEGY = 1001


class Strategy:
    """The rules of one firm and when they act."""

    def __init__(self, cfg: StrategyConfig, firm: Firm, run_key: int) -> None:
        """Build the firm's rules; ``run_key`` keys the firm's random draws (``kernels.rng``)."""
        self.cfg = cfg
        self.last_decision: int | None = None
        self.capex_paid = False
        self.periodic: list[PriceRule | AllocationRule | PortfolioRule] = []
        self.response = ResponseRule(cfg.response, firm) if cfg.response is not None else None
        if cfg.portfolio is not None:  # launches first: a launched unit can then be priced
            self.periodic.append(PortfolioRule(cfg.portfolio))
            firm.closed_units.update(cfg.portfolio.launch)
        if cfg.pricing is not None:
            needs = list(cfg.pricing.needs) or list(firm.cfg.offerings)
            need_index = list(firm.model.cfg.needs)
            coin = [float(uniform(np.uint64(run_key), STREAM_STRATEGY, 0, firm.index,
                                  need_index.index(need))) for need in needs]
            self.periodic.append(PriceRule(cfg.pricing, firm, coin))
        if cfg.allocation is not None:
            self.periodic.append(AllocationRule(cfg.allocation))

    def deciding(self, step: int) -> bool:
        """Whether the periodic rules decide at ``step``."""
        return step >= self.cfg.start and (step - self.cfg.start) % self.cfg.every == 0

    def costs(self, step: int) -> tuple[float, float]:
        """``(capex, opex)`` of deciding at ``step`` (currency), for a step the firm is active.

        Capex once, at the first active step from ``start`` (a firm that enters after
        ``start`` pays it on entry); opex every active step from ``start``.
        """
        if step < self.cfg.start:
            return 0.0, 0.0
        capex = 0.0 if self.capex_paid else self.cfg.capex
        self.capex_paid = True
        return capex, self.cfg.opex

    def act(self, firm: Firm, step: int) -> list[Decision]:
        """Take this step's decisions (the firm's config changes); return them."""
        view = MarketView(firm, step)
        out: list[Decision] = []
        if self.response is not None:
            out += self.response.decide(firm, view)
        if self.deciding(step):
            first = (max(1, firm.cfg.enters_at, step - self.cfg.every)
                     if self.last_decision is None else self.last_decision)
            window = range(first, step)  # empty at step 1, or at the firm's entry step
            for rule in self.periodic:
                out += rule.decide(firm, view, window)
            self.last_decision = step
        return out
