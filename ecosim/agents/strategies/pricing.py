"""Price per unit by hill climbing on an observed objective, with probes that cancel drift.

The units of ``needs`` take turns. A unit's turn is one probe cycle of four decisions around
its current price ``c``: it prices at ``c (1 + step)^(1/2)`` (high), then ``c (1 + step)^(-1/2)``
(low) for two windows, then high again, observing the objective over each window. The sum over
the two high windows minus the sum over the two low ones cancels any linear drift of the
objective (a growing customer base, a maturing market: a high-low-low-high design), leaving
the effect of the price. The centre then moves one ``step`` (a factor ``1 + step``) towards
the better side; when the side flips from the unit's last cycle, its step halves, down to
``min_step``. So prices settle around the objective's maximum within a band set by
``min_step`` and by the noise of the observed objective. The first side probed (high-low-low-
high or low-high-high-low) is a fair coin from the counter-based stream of firm decisions:
no global random state. A window's first step is a washout, not observed (``objective``).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ecosim.agents.strategies.view import Decision, MarketView
from ecosim.config.schema import PricingRuleConfig

if TYPE_CHECKING:
    from ecosim.agents.firm import Firm

#: The probe of each phase of a cycle: +1 high, -1 low (high-low-low-high).
PHASES = (1.0, -1.0, -1.0, 1.0)


class PriceRule:
    """Probe and climb on ``unit_profit`` (the probed unit's) or ``group_ltv`` (the group's)."""

    name = "pricing"

    def __init__(self, cfg: PricingRuleConfig, firm: Firm, coin: list[float]) -> None:
        """Climb the prices of ``cfg.needs`` (every offering when empty).

        ``coin``: one uniform draw in [0, 1) per unit: below 0.5 its cycles start high.
        """
        self.cfg = cfg
        self.needs = list(cfg.needs) or list(firm.cfg.offerings)
        self.first = {need: 1.0 if u < 0.5 else -1.0
                      for need, u in zip(self.needs, coin, strict=True)}
        self.step = dict.fromkeys(self.needs, cfg.step)
        self.side: dict[str, float] = {}  # the better side found by the unit's last cycle
        self.centre: dict[str, float] = {}
        self.turn = 0
        self.unit: str | None = None  # the unit in its cycle ...
        self.phase = 0  # ... the phase whose window is being played (0-3) ...
        self.seen: list[float] = []  # ... and the objective over each played window

    def objective(self, view: MarketView, need: str, window: range) -> float:
        """The observed objective over ``window`` after its first step (currency per step).

        The window's first step is a washout: customers who react at once to the new price
        (a price alert, a search) do so then, and would otherwise count as a lasting flow.
        """
        if len(window) > 1:
            window = range(window.start + 1, window.stop)
        if self.cfg.objective == "group_ltv":
            return view.group_ltv_flow(window)
        return view.unit_contribution(need, window)

    def _set(self, firm: Firm, view: MarketView, need: str, price: float,
             reason: str) -> list[Decision]:
        if price > self.cfg.max_price:
            reason += f"; {price:.4g} capped at max_price {self.cfg.max_price:.4g}"
            price = self.cfg.max_price
        elif price < self.cfg.min_price:
            reason += f"; {price:.4g} raised to min_price {self.cfg.min_price:.4g}"
            price = self.cfg.min_price
        offering = firm.cfg.offerings[need]
        old = offering.price_index
        if price == old:
            return []
        offering.price_index = price
        return [Decision(view.step, firm.name, self.name, f"offerings.{need}.price_index", old,
                         price, f"{self.cfg.objective}: {reason}")]

    def _probe(self, firm: Firm, view: MarketView, need: str) -> list[Decision]:
        """Price the unit for the coming window's phase."""
        sign = PHASES[self.phase] * self.first[need]
        price = self.centre[need] * (1.0 + self.step[need]) ** (sign / 2)
        word = "high" if sign > 0 else "low"
        return self._set(firm, view, need, price,
                         f"probe {need} {word} ({self.phase + 1}/4 around "
                         f"{self.centre[need]:.4g}, ±{self.step[need] / 2:.2%})")

    def decide(self, firm: Firm, view: MarketView, window: range) -> list[Decision]:
        """Record the last window's objective; probe on, or judge the cycle and move on.

        Nothing on an empty window (a first decision at step 1 or at the firm's entry): the
        first probe comes at the next decision, as it always has.
        """
        if len(window) == 0:
            return []
        out: list[Decision] = []
        if self.unit is not None:
            self.seen.append(self.objective(view, self.unit, window))
            self.phase += 1
            if self.phase < len(PHASES) and self.unit not in firm.closed_units:
                return self._probe(firm, view, self.unit)
            if self.phase == len(PHASES):
                out += self._judge(firm, view, self.unit)
            self.unit = None
        units = [n for n in self.needs if n not in firm.closed_units]
        if not units:
            return out
        need = units[self.turn % len(units)]
        self.turn += 1
        self.unit, self.phase, self.seen = need, 0, []
        self.centre[need] = firm.cfg.offerings[need].price_index
        return _net(out + self._probe(firm, view, need), f"{self.cfg.objective}: ")

    def _judge(self, firm: Firm, view: MarketView, need: str) -> list[Decision]:
        """Move the unit's price one step towards the better side of its cycle."""
        signs = [p * self.first[need] for p in PHASES]
        high = sum(j for j, s in zip(self.seen, signs, strict=True) if s > 0)
        low = sum(j for j, s in zip(self.seen, signs, strict=True) if s < 0)
        side = 1.0 if high > low else -1.0
        step = self.step[need]
        if need in self.side and self.side[need] != side:
            self.step[need] = max(self.cfg.min_step, step / 2)
        self.side[need] = side
        price = self.centre[need] * (1.0 + step) ** side
        word = "up" if side > 0 else "down"
        return self._set(firm, view, need, price,
                         f"{need}'s high probes {high / 2:.4g}, low {low / 2:.4g} a step: "
                         f"{word} {step:.1%} from {self.centre[need]:.4g}")


def _net(decisions: list[Decision], prefix: str) -> list[Decision]:
    """One row per key: a cycle judged and the next probed on the same unit in one step.

    Only the net change took effect (the judged price was never published); the row keeps the
    first ``old``, the last ``new`` and both reasons (the second without the objective's
    ``prefix``), and is dropped if the price is unchanged.
    """
    out: dict[str, Decision] = {}
    for d in decisions:
        first = out.get(d.key)
        out[d.key] = d if first is None else dataclasses.replace(
            d, old=first.old, reason=f"{first.reason}; then {d.reason.removeprefix(prefix)}")
    return [d for d in out.values() if d.new != d.old]
