"""Firms: Mesa agents that run a business model and publish their offers each step."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from ecosim.agents.policies import CrossSellTargeting, StepResults, marketing_rule
from ecosim.config.paths import set_dotted
from ecosim.config.schema import EventConfig, FirmConfig, OfferingConfig
from ecosim.kernels import business as bm

if TYPE_CHECKING:
    from ecosim.agents.population import Offers, Policies


TARGETING_CODES = {"none": bm.TARGET_NONE, "sociodemographic": bm.TARGET_SOCIODEMOGRAPHIC,
                   "behavioural": bm.TARGET_BEHAVIOURAL}


class Firm(mesa.Agent):
    """A firm (docs/design.md §2.3): offerings per need, a brand, marketing and events.

    Attributes:
        name: the firm's key in ``firms``.
        index: its column in the offer arrays and bit in the customers' bitmasks.
        cfg: its own copy of the firm's config, changed by scheduled events.
        marketing_spend: currency spent on acquisition marketing in the current step.
    """

    def __init__(self, model: mesa.Model, name: str, index: int, cfg: FirmConfig,
                 events: list[EventConfig], n_cells: int) -> None:
        """Create the firm; ``events`` are the scheduled changes that concern it."""
        super().__init__(model)
        self.name = name
        self.index = index
        self.cfg = copy.deepcopy(cfg)
        self.events = sorted(events, key=lambda e: e.step)
        self.marketing_spend = 0.0
        self.rule = marketing_rule(self.cfg.marketing)
        self.targeting = CrossSellTargeting(n_cells)
        self.last: StepResults | None = None

    def is_active(self, step: int) -> bool:
        """Whether the firm is in the market at ``step``."""
        return step >= self.cfg.enters_at

    def observe(self, results: StepResults, contacts: np.ndarray, conversions: np.ndarray,
                cell_customers: np.ndarray) -> None:
        """Learn from the step just played: P&L for the budget rule, conversions for targeting."""
        self.last = results
        self.targeting.record(contacts, conversions, cell_customers)

    @property
    def brand(self) -> str:
        """The firm's brand (its name unless configured)."""
        return self.cfg.brand or self.name

    def offering_brand(self, offering: OfferingConfig) -> str:
        """The brand an offering carries: its own, else the firm's."""
        return offering.brand or self.brand

    def step(self) -> None:
        """Apply this step's scheduled events, then set the step's marketing budget.

        An event that sets ``marketing.budget`` or changes ``marketing.rule`` restarts the rule:
        the step spends the configured budget and an adaptive rule adapts from the next step.
        """
        step = self.model.steps
        restart = False
        targeting = self.cfg.cross_sell.targeting
        for event in self.events:
            if event.step == step:
                for path, value in event.set.items():
                    set_dotted(self.cfg, path, value)
                    restart |= path == "marketing.budget"
                restart |= type(marketing_rule(self.cfg.marketing)) is not type(self.rule)
        if restart:
            self.rule = marketing_rule(self.cfg.marketing)
        if self.cfg.cross_sell.targeting != targeting:  # new cells: learn conversion afresh
            self.targeting = CrossSellTargeting(self.targeting.contacts.shape[0])
        self.marketing_spend = 0.0
        if self.is_active(step):
            self.marketing_spend = self.rule.next_budget(self.cfg.marketing,
                                                         None if restart else self.last,
                                                         self.model.cfg.time.discount_rate)

    def reach_probability(self, n_customers: int) -> float:
        """Advertising reach per step, ``1 - exp(-budget / (N * reach_cost))`` (docs/model.md)."""
        return 1.0 - math.exp(-self.marketing_spend / (n_customers * self.cfg.marketing.reach_cost))

    def publish(self, offers: Offers, step: int, need_index: dict[str, int],
                brand_index: dict[str, int], loss_rate: list[float], n_customers: int) -> None:
        """Write this firm's row of the flat offer arrays the kernels read (nothing if inactive).

        A marketplace shows one option per need: the sellers' price index divided by
        ``1 + price_gain ln(assortment)``, quality raised by ``match_gain ln(assortment)``,
        convenience lowered by ``search_cost``; it keeps ``take_rate`` and sellers bear losses.
        """
        if not self.is_active(step):
            return
        f = self.index
        offers.active[f] = True
        offers.reach_p[f] = self.reach_probability(n_customers)
        offers.word_of_mouth[f] = self.cfg.marketing.word_of_mouth
        market = self.cfg.marketplace if self.cfg.model == "marketplace" else None
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
            offers.hazard_scale[f, k] = offering.hazard_scale
            if market is not None:
                log_assortment = math.log(market.assortment)
                offers.price[f, k] /= 1.0 + market.price_gain * log_assortment
                offers.quality[f, k] += market.match_gain * log_assortment
                offers.convenience[f, k] -= market.search_cost
                offers.margin_rate[f, k] = market.take_rate
                offers.loss_rate[f, k] = 0.0

    def publish_policies(self, policies: Policies, step: int, need_index: dict[str, int],
                         firm_index: dict[str, int]) -> None:
        """Write this firm's business-model and policy parameters (``kernels.business``)."""
        if not self.is_active(step):
            return
        f, cfg = self.index, self.cfg
        real, ints = policies.firm_real[f], policies.firm_int[f]
        if cfg.model == "ecosystem":
            ints[bm.GROUP] = f
            real[bm.CONTEXT_REACH] = cfg.ecosystem.context_reach
            real[bm.ENTRY_BONUS] = cfg.ecosystem.entry_bonus
            real[bm.DATA_GAIN] = cfg.ecosystem.data_gain
        elif cfg.partner_of is not None:
            ints[bm.GROUP] = firm_index[cfg.partner_of]
            real[bm.PARTNER_FEE] = cfg.partner_take_rate
        if cfg.model == "bundle":
            mask = 0
            for need in cfg.bundle.needs:
                mask |= 1 << need_index[need]
            policies.bundle_mask[f] = mask
            real[bm.BUNDLE_DISCOUNT] = cfg.bundle.discount
            ints[bm.BUNDLE_MIN] = cfg.bundle.min_products
        cross = cfg.cross_sell
        real[bm.CONTACTS_PER_STEP] = cross.contacts_per_step
        real[bm.CONTACT_ATTENTION] = cross.attention
        ints[bm.ORGANISATION] = bm.VALUE_STREAM if cross.organisation == "value_stream" else bm.SILO
        ints[bm.TARGETING] = TARGETING_CODES[cross.targeting]
        if cross.contacts_per_step > 0:
            policies.contact_p[f] = self.targeting.probabilities(cross)
        real[bm.INCENTIVE] = cfg.referral.incentive
        real[bm.REFERRAL_RATE] = cfg.referral.rate
        if step == cfg.enters_at and step > 0:
            real[bm.LAUNCH_AWARENESS] = cfg.initial_awareness
