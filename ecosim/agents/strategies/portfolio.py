"""Launching and closing units.

Close: a unit whose observed contribution net of its cost to serve was negative at
``close_after`` decisions in a row is closed for good; its customers lose it (they go to the
outside option and may choose again). Launch: a held-back offering is launched, paying
``capex``, at the first decision where its business case pays: ``expected_share`` × the need's
customers in the market (every firm's, from market shares) × ``margin_per_customer`` summed
over ``payback`` steps discounted at ``time.discount_rate``, above ``capex``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecosim.agents.strategies.view import Decision, MarketView
from ecosim.config.schema import PortfolioRuleConfig

if TYPE_CHECKING:
    from ecosim.agents.firm import Firm


def annuity(steps: int, discount_rate: float) -> float:
    """Present value of 1 a step for ``steps`` steps, the first one step ahead."""
    if discount_rate == 0:
        return float(steps)
    return (1.0 - (1.0 + discount_rate) ** -steps) / discount_rate


class PortfolioRule:
    """Close units that keep losing money; launch held-back units whose case pays."""

    name = "portfolio"

    def __init__(self, cfg: PortfolioRuleConfig) -> None:
        """Start with no loss streaks and nothing launched."""
        self.cfg = cfg
        self.streak: dict[str, int] = {}
        self.waiting = list(cfg.launch)

    def launch_value(self, view: MarketView, need: str) -> float:
        """The launch's expected discounted contribution over ``payback`` steps (currency)."""
        cfg = self.cfg
        return (cfg.expected_share * view.market_customers(need) * cfg.margin_per_customer
                * annuity(cfg.payback, view.discount_rate))

    def decide(self, firm: Firm, view: MarketView, window: range) -> list[Decision]:
        """Launch what pays, then close what kept losing (no closure on an empty window)."""
        out = []
        for need in list(self.waiting):
            value = self.launch_value(view, need)
            if value > self.cfg.capex:
                self.waiting.remove(need)
                firm.closed_units.discard(need)
                firm.decision_capex += self.cfg.capex
                out.append(Decision(
                    view.step, firm.name, self.name, f"units.{need}", 0.0, 1.0,
                    f"launch: {view.market_customers(need):.6g} customers of {need} in the "
                    f"market, expected value {value:.6g} > capex {self.cfg.capex:.6g}"))
        if self.cfg.close_after <= 0 or len(window) == 0:
            return out
        for need in firm.cfg.offerings:
            if need in firm.closed_units:
                continue
            contribution = view.unit_contribution(need, window)
            self.streak[need] = self.streak.get(need, 0) + 1 if contribution < 0 else 0
            if self.streak[need] >= self.cfg.close_after:
                firm.closed_units.add(need)
                out.append(Decision(
                    view.step, firm.name, self.name, f"units.{need}", 1.0, 0.0,
                    f"close: contribution negative at {self.streak[need]} decisions in a row "
                    f"({contribution:.6g} a step lately)"))
        return out
