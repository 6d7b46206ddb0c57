"""Price per unit by hill climbing on an observed objective (perturb and observe).

Each decision moves one unit's price index by ``(1 + step)`` up or down, the units taking turns.
At the next decision the objective, averaged over the steps played since, is compared with its
value before the move: if it fell, that unit's direction reverses and its step halves (down to
``min_step``), so the price settles around the objective's maximum within a band set by
``min_step`` and the noise of the observed objective. The first direction of each unit is drawn
from the counter-based stream of firm decisions (a fair coin): no global random state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecosim.agents.strategies.view import Decision, MarketView
from ecosim.config.schema import PricingRuleConfig

if TYPE_CHECKING:
    from ecosim.agents.firm import Firm


class PriceRule:
    """Hill climbing on ``unit_profit`` (the moved unit's) or ``group_ltv`` (the group's)."""

    name = "pricing"

    def __init__(self, cfg: PricingRuleConfig, firm: Firm, coin: list[float]) -> None:
        """Climb the prices of ``cfg.needs`` (every offering when empty).

        ``coin``: one uniform draw in [0, 1) per unit, its first direction (up below 0.5).
        """
        self.cfg = cfg
        self.needs = list(cfg.needs) or list(firm.cfg.offerings)
        self.direction = {need: 1.0 if u < 0.5 else -1.0
                          for need, u in zip(self.needs, coin, strict=True)}
        self.step = dict.fromkeys(self.needs, cfg.step)
        self.turn = 0
        self.moved: str | None = None  # the unit moved at the last decision ...
        self.before = 0.0  # ... and the objective before that move

    def objective(self, view: MarketView, need: str, window: range) -> float:
        """The observed objective over ``window`` (currency per step, or currency)."""
        if self.cfg.objective == "group_ltv":
            return view.group_ltv_flow(window)
        return view.unit_contribution(need, window)

    def decide(self, firm: Firm, view: MarketView, window: range) -> list[Decision]:
        """Judge the last move, then move the next unit's price."""
        units = [n for n in self.needs if n not in firm.closed_units]
        if not units:
            return []
        verdict = ""
        if self.moved is not None and self.moved in units:
            after = self.objective(view, self.moved, window)
            worse = after < self.before
            if worse:
                self.direction[self.moved] *= -1.0
                self.step[self.moved] = max(self.cfg.min_step, self.step[self.moved] / 2)
            verdict = (f"the last move of {self.moved} {'lowered' if worse else 'raised'} it "
                       f"({self.before:.4g} -> {after:.4g}); ")
        need = units[self.turn % len(units)]
        self.turn += 1
        offering = firm.cfg.offerings[need]
        old = offering.price_index
        new = min(self.cfg.max_price, max(self.cfg.min_price,
                                          old * (1.0 + self.step[need]) ** self.direction[need]))
        self.before = self.objective(view, need, window)
        self.moved = need
        if new == old:  # at a bound: turn back next time
            self.direction[need] *= -1.0
            return []
        offering.price_index = new
        word = "up" if new > old else "down"
        reason = (f"{self.cfg.objective}: {verdict}{self.before:.4g} now; "
                  f"try {need} {word} {self.step[need]:.1%}")
        return [Decision(view.step, firm.name, self.name, f"offerings.{need}.price_index", old,
                         new, reason)]
