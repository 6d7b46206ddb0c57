"""Competitive response: match a rival's better published offer after a lag, at a cost.

Each step the firm compares its published offer with its active rivals' (``rivals``, or every
other firm) in each watched need:
a rival with a higher convenience, or a lower price index, starts a clock at the step it first
published it; ``lag`` steps later the firm matches the best rival's value then, paying
``capex`` (recorded as capex of the step, so profit, NPV and payback see it). The clock stops
if no rival is better any more. The response acts at the step its lag ends, whatever the
strategy's ``every``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecosim.agents.strategies.view import Decision, MarketView
from ecosim.config.schema import RESPONSE_FIELDS, ResponseRuleConfig

if TYPE_CHECKING:
    from ecosim.agents.firm import Firm

#: The offering's config field each thing matched changes (the offer arrays' names are the keys).
FIELD = RESPONSE_FIELDS


class ResponseRule:
    """Match the best rival's convenience or price, ``lag`` steps after it appeared."""

    name = "response"

    def __init__(self, cfg: ResponseRuleConfig, firm: Firm) -> None:
        """Watch ``cfg.needs`` (every offering when empty) for ``cfg.match``."""
        self.cfg = cfg
        self.needs = list(cfg.needs) or list(firm.cfg.offerings)
        self.since: dict[tuple[str, str], int] = {}  # (need, what) -> step a rival got better

    @staticmethod
    def better(what: str, rival: float, own: float) -> bool:
        """Whether the rival's published value beats the firm's (a relative tolerance 1e-9)."""
        if what == "convenience":
            return rival > own + 1e-9 * max(1.0, abs(own))
        return rival < own * (1.0 - 1e-9)

    def decide(self, firm: Firm, view: MarketView) -> list[Decision]:
        """Start, stop or end the clocks; match where a clock reached ``lag``."""
        out = []
        for need in self.needs:
            for what in self.cfg.match:
                own = view.own_published(need, what)
                best = view.rival_best(need, what, self.cfg.rivals)
                clock = (need, what)
                rival, name = best if best is not None else (None, "")
                if own is None or rival is None or not self.better(what, rival, own):
                    self.since.pop(clock, None)
                    continue
                first = self.since.setdefault(clock, view.step - 1)  # published last step
                if view.step - first < self.cfg.lag:
                    continue
                offering = firm.cfg.offerings[need]
                key = FIELD[what]
                old = getattr(offering, key)
                # move the configured value by the published gap (a marketplace publishes
                # its offering transformed: the gap, not the value, is what is matched)
                new = old + (rival - own) if what == "convenience" else old * rival / own
                setattr(offering, key, new)
                firm.decision_capex += self.cfg.capex
                del self.since[clock]
                out.append(Decision(
                    view.step, firm.name, self.name, f"offerings.{need}.{key}", old, new,
                    f"{name} has published {what} {rival:.4g} in {need} against our {own:.4g} "
                    f"since step {first}; matched after {view.step - first} steps, "
                    f"capex {self.cfg.capex:.6g}"))
        return out
