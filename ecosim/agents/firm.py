"""Firms: Mesa agents that run a business model and publish their offers each step."""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from ecosim.agents.policies import CrossSellTargeting, StepResults, marketing_rule
from ecosim.agents.strategies import Strategy
from ecosim.config.paths import set_dotted
from ecosim.config.schema import EventConfig, FirmConfig, InvestmentConfig, OfferingConfig
from ecosim.kernels import business as bm

if TYPE_CHECKING:
    from ecosim.agents.population import Offers, Policies


TARGETING_CODES = {"none": bm.TARGET_NONE, "sociodemographic": bm.TARGET_SOCIODEMOGRAPHIC,
                   "behavioural": bm.TARGET_BEHAVIOURAL}


def ramp_strength(step: int, start: int, ramp: int) -> float:
    """Strength in [0, 1] of an invested capability at ``step`` (docs/model.md).

    "Investment economics": 0 before ``start``, then ``min(1, (step - start + 1) / ramp)``;
    1 from ``start`` when ``ramp`` is 0.
    """
    if step < start:
        return 0.0
    if ramp <= 0:
        return 1.0
    return min(1.0, (step - start + 1) / ramp)


class Firm(mesa.Agent):
    """A firm (docs/design.md §2.3): offerings per need, a brand, marketing and events.

    Attributes:
        name: the firm's key in ``firms``.
        index: its column in the offer arrays and bit in the customers' bitmasks.
        cfg: its own copy of the firm's config, changed by scheduled events.
        marketing_spend: currency spent on acquisition marketing in the current step, for the
            whole market (``customers.market_size``).
        strategy: its decisions (``ecosim.agents.strategies``), None without a ``strategy``
            block; they change ``cfg`` after the step's events.
        closed_units: needs whose offering the firm holds back or has closed (not published).
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
        self.brand_spend = 0.0  # of it, on the firm's own brand
        self.rule = marketing_rule(self.cfg.marketing)
        self.targeting = CrossSellTargeting(n_cells)
        self.last: StepResults | None = None
        # (capability, need) -> investment; events cannot change them (config.validate)
        self.investments: dict[tuple[str, str | None], InvestmentConfig] = {
            (inv.capability, inv.need): inv for inv in self.cfg.investments.values()}
        #: sellers per need of a two-sided marketplace (``agents.sellers``); empty: assortment
        self.seller_count: dict[str, float] = {}
        #: units the firm holds back or has closed (its strategy's portfolio rule)
        self.closed_units: set[str] = set()
        #: capex of this step's decisions (a competitive response, a launch) and of the
        #: strategy itself, and its opex (currency)
        self.decision_capex = 0.0
        self.decision_opex = 0.0
        self.strategy = (Strategy(self.cfg.strategy, self, model.run_key)
                         if self.cfg.strategy is not None else None)

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
        """Apply this step's scheduled events and strategy's decisions, then set the budget.

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
        self.decision_capex = self.decision_opex = 0.0
        if self.strategy is not None and self.is_active(step):
            self.decision_capex, self.decision_opex = self.strategy.costs(step)
            self.model.decisions += self.strategy.act(self, step)
        self.marketing_spend = 0.0
        self.brand_spend = 0.0
        if self.is_active(step):
            self.brand_spend = self.rule.next_budget(self.cfg.marketing,
                                                     None if restart else self.last,
                                                     self.model.cfg.time.discount_rate)
            self.marketing_spend = self.brand_spend + sum(
                self.cfg.marketing.brand_budgets.values())

    def strength(self, capability: str, step: int, need: str | None = None) -> float:
        """Strength in [0, 1] of a capability at ``step``: its investment's ramp, 1 without one."""
        inv = self.investments.get((capability, need))
        return 1.0 if inv is None else ramp_strength(step, inv.start, inv.ramp)

    def investment_costs(self, step: int, customers: float, unit_customers: np.ndarray,
                         need_index: dict[str, int]) -> tuple[float, float, float]:
        """This step's ``(capex, opex, cost_to_serve)`` of the firm's investments (currency).

        ``capex`` is paid in the step an investment starts, ``opex`` every step from then on,
        ``cost_to_serve`` per customer at the end of the step (per customer of the unit for a
        ``unit`` investment, ``unit_customers`` being indexed by need) from then on. A ``unit``
        investment whose unit the strategy has closed costs nothing more from the closing step
        (its capex is sunk).
        """
        capex = opex = serve = 0.0
        for inv in self.investments.values():
            if step < inv.start:
                continue
            if step == inv.start:
                capex += inv.capex
            if inv.capability == "unit" and inv.need in self.closed_units:
                continue
            opex += inv.opex
            served = (unit_customers[need_index[inv.need]] if inv.capability == "unit"
                      else customers)
            serve += inv.cost_to_serve * float(served)
        return capex, opex, serve

    def reach_probability(self, market: int, budget: float | None = None) -> float:
        """Advertising reach per step, ``1 - exp(-budget / (M * reach_cost))`` (docs/model.md).

        ``market`` (M) is the customers of the market (``customers.market_size``), and
        ``budget`` market money, so a customer's chance depends on the budget per market
        customer, not on how many customers are simulated. ``budget`` defaults to this step's
        spend on the firm's own brand.
        """
        spend = self.brand_spend if budget is None else budget
        return 1.0 - math.exp(-spend / (market * self.cfg.marketing.reach_cost))

    def publish(self, offers: Offers, step: int, need_index: dict[str, int],
                brand_index: dict[str, int], loss_rate: list[float], market: int) -> None:
        """Write this firm's row of the flat offer arrays the kernels read (nothing if inactive).

        A marketplace shows one option per need: the sellers' price index divided by
        ``1 + price_gain ln(assortment)``, quality raised by ``match_gain ln(assortment)``,
        convenience lowered by ``search_cost``; it keeps ``take_rate`` and sellers bear losses.
        A two-sided marketplace's assortment is its current ``seller_count`` (``agents.sellers``).
        With investments, ``ln(assortment)`` is scaled by the marketplace's strength, and a unit
        launched by an investment is unavailable before its start, its positive convenience
        scaled by its strength (``strength``; docs/model.md, "Investment economics").
        """
        if not self.is_active(step):
            return
        f = self.index
        offers.active[f] = True
        offers.reach_p[f] = self.reach_probability(market)
        offers.word_of_mouth[f] = self.cfg.marketing.word_of_mouth
        offers.firm_brand[f] = brand_index[self.brand]
        for brand, budget in self.cfg.marketing.brand_budgets.items():
            if budget > 0:
                offers.brand_reach_p[f, brand_index[brand]] = self.reach_probability(market,
                                                                                     budget)
        market = self.cfg.marketplace if self.cfg.model == "marketplace" else None
        invested = bool(self.investments)
        for need, offering in self.cfg.offerings.items():
            k = need_index[need]
            unit = self.strength("unit", step, need) if invested else 1.0
            if unit == 0.0 or need in self.closed_units:  # not launched yet, or closed
                continue
            offers.available[f, k] = True
            offers.price[f, k] = offering.price_index
            offers.quality[f, k] = offering.quality
            offers.convenience[f, k] = offering.convenience
            if unit < 1.0:  # a positive convenience is built up over the unit's ramp
                offers.convenience[f, k] = min(offering.convenience, unit * offering.convenience)
            offers.experience[f, k] = offering.experience
            offers.margin_rate[f, k] = offering.margin_rate
            offers.loss_rate[f, k] = loss_rate[k]
            offers.brand[f, k] = brand_index[self.offering_brand(offering)]
            offers.hazard_scale[f, k] = offering.hazard_scale
            if market is not None:
                log_assortment = math.log(self.seller_count.get(need, market.assortment))
                if invested:  # the assortment's gains ramp with the marketplace investment
                    log_assortment *= self.strength("marketplace", step)
                offers.price[f, k] /= 1.0 + market.price_gain * log_assortment
                offers.quality[f, k] += market.match_gain * log_assortment
                offers.convenience[f, k] -= market.search_cost
                offers.margin_rate[f, k] = market.take_rate
                offers.loss_rate[f, k] = 0.0

    def publish_policies(self, policies: Policies, step: int, need_index: dict[str, int],
                         firm_index: dict[str, int]) -> None:
        """Write this firm's business-model and policy parameters (``kernels.business``).

        An invested capability is scaled by its strength (``strength``): context reach and entry
        bonus (ecosystem), data gain (data_pooling), bundle discount, contacts per step
        (cross_sell) and referral rate.
        """
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
        if ("cross_sell", None) in self.investments:  # the programme ramps with its investment
            cross = dataclasses.replace(cross, contacts_per_step=cross.contacts_per_step
                                        * self.strength("cross_sell", step))
        real[bm.CONTACTS_PER_STEP] = cross.contacts_per_step
        real[bm.CONTACT_ATTENTION] = cross.attention
        ints[bm.ORGANISATION] = bm.VALUE_STREAM if cross.organisation == "value_stream" else bm.SILO
        ints[bm.TARGETING] = TARGETING_CODES[cross.targeting]
        if cross.contacts_per_step > 0:
            policies.contact_p[f] = self.targeting.probabilities(cross)
        real[bm.ACCURACY] = cfg.lending.accuracy
        real[bm.MAX_RISK] = math.inf if cfg.lending.max_risk is None else cfg.lending.max_risk
        real[bm.RISK_PRICING] = cfg.lending.risk_pricing
        real[bm.INCENTIVE] = cfg.referral.incentive
        real[bm.REFERRAL_RATE] = cfg.referral.rate
        if self.investments:  # capabilities ramp with their investments (1 without one)
            ecosystem = self.strength("ecosystem", step)
            real[bm.CONTEXT_REACH] *= ecosystem
            real[bm.ENTRY_BONUS] *= ecosystem
            real[bm.DATA_GAIN] *= self.strength("data_pooling", step)
            real[bm.BUNDLE_DISCOUNT] *= self.strength("bundle", step)
            real[bm.REFERRAL_RATE] *= self.strength("referral", step)
        if step == cfg.enters_at and step > 0:
            real[bm.LAUNCH_AWARENESS] = cfg.initial_awareness
