"""Firms: Mesa agents that run a business model and publish their offers each step."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import mesa

from ecosim.config.schema import EventConfig, FirmConfig, OfferingConfig

if TYPE_CHECKING:
    from ecosim.agents.population import Offers


def set_dotted(target: Any, path: str, value: Any) -> None:
    """Set ``a.b.c`` on nested dataclasses and dicts (validated beforehand by the config)."""
    *parents, last = path.split(".")
    for part in parents:
        target = target[part] if isinstance(target, dict) else getattr(target, part)
    if isinstance(target, dict):
        if last not in target and isinstance(value, dict):
            value = OfferingConfig(**value)
        target[last] = value
    else:
        setattr(target, last, value)


class Firm(mesa.Agent):
    """A firm in the market (DESIGN §2.3): offerings per need, a brand, marketing and events.

    Attributes:
        name: the firm's key in ``firms``.
        index: its column in the offer arrays and bit in the customers' bitmasks.
        cfg: its own copy of the firm's config, changed by scheduled events.
        marketing_spend: currency spent on acquisition marketing in the current step.
    """

    def __init__(self, model: mesa.Model, name: str, index: int, cfg: FirmConfig,
                 events: list[EventConfig]) -> None:
        """Create the firm; ``events`` are the scheduled changes that concern it."""
        super().__init__(model)
        self.name = name
        self.index = index
        self.cfg = copy.deepcopy(cfg)
        self.events = sorted(events, key=lambda e: e.step)
        self.marketing_spend = 0.0

    @property
    def brand(self) -> str:
        """The firm's brand (its name unless configured)."""
        return self.cfg.brand or self.name

    def offering_brand(self, offering: OfferingConfig) -> str:
        """The brand an offering carries: its own, else the firm's."""
        return offering.brand or self.brand

    def step(self) -> None:
        """Apply this step's scheduled events, then set the step's marketing spend."""
        for event in self.events:
            if event.step == self.model.steps:
                for path, value in event.set.items():
                    set_dotted(self.cfg, path, value)
        self.marketing_spend = self.cfg.marketing.budget

    def reach_probability(self, n_customers: int) -> float:
        """Advertising reach per step, ``1 - exp(-budget / (N * reach_cost))`` (DESIGN §2.4)."""
        marketing = self.cfg.marketing
        return 1.0 - math.exp(-marketing.budget / (n_customers * marketing.reach_cost))

    def publish(self, offers: Offers, need_index: dict[str, int], brand_index: dict[str, int],
                loss_rate: list[float], n_customers: int) -> None:
        """Write this firm's row of the flat offer arrays the kernels read."""
        f = self.index
        offers.active[f] = True
        offers.reach_p[f] = self.reach_probability(n_customers)
        offers.word_of_mouth[f] = self.cfg.marketing.word_of_mouth
        for need, offering in self.cfg.offerings.items():
            k = need_index[need]
            offers.available[f, k] = True
            offers.price[f, k] = offering.price_index
            offers.quality[f, k] = offering.quality
            offers.convenience[f, k] = offering.convenience
            offers.experience[f, k] = offering.experience
            offers.margin_rate[f, k] = offering.margin_rate
            offers.loss_rate[f, k] = loss_rate[k]
            offers.brand[f, k] = brand_index[self.offering_brand(offering)]
