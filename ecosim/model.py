"""The market: firms (Mesa agents) and a customer population (arrays), stepped in turn.

docs/model.md, "Step order", states what one step does. ``customers.n`` customers are simulated
for a market of ``customers.market_size``: the History holds that market's counts and money
(docs/model.md, "Market size").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import mesa
import numpy as np

from ecosim.agents.firm import Firm
from ecosim.agents.policies import StepResults
from ecosim.agents.population import CustomerPopulation, Offers, Policies
from ecosim.agents.sellers import SellerMarket
from ecosim.agents.strategies import Decision
from ecosim.config.limits import (
    basket_cache_on,
    brand_names,
    potential_lenders,
    separate_brands,
)
from ecosim.config.schema import MAX_BRANDS, EcosimConfig
from ecosim.kernels import accounting as acc
from ecosim.kernels.lifecycle import NONCONTRACTUAL
from ecosim.kernels.rng import run_key


@dataclass
class History:
    """Everything recorded in a run, as arrays indexed by step 0..horizon first.

    Currency per step unless stated; counts are customers. Counts and money are the market's
    (``customers.market_size``): each simulated customer's contribution weighs
    ``customers.weight`` market customers, so counts need not be whole numbers. ``transactions``
    alone is per simulated customer. ``f`` = firm, ``k`` = need, ``s`` = segment, ``c`` = cohort
    step (the step a customer was acquired).
    """

    revenue: np.ndarray  # [t, f, k]
    gross_margin: np.ndarray  # [t, f, k]
    losses: np.ndarray  # [t, f, k]
    unit_customers: np.ndarray  # [t, f, k] customers using the offering at the end of the step
    unit_new: np.ndarray  # [t, f, k]
    unit_churned: np.ndarray  # [t, f, k]
    purchases: np.ndarray  # [t, f, k]
    customers: np.ndarray  # [t, f] customers of the firm (any offering) at the end of the step
    new_customers: np.ndarray  # [t, f]
    churned_customers: np.ndarray  # [t, f]
    customer_wallet: np.ndarray  # [t, f] reference-price spend of the firm's customers
    captured_wallet: np.ndarray  # [t, f] ... of it bought from the firm (<= customer_wallet)
    start_single: np.ndarray  # [t, f] customers at the start of step t holding one product
    start_multi: np.ndarray  # [t, f] ... holding several of the firm's products
    churned_single: np.ndarray  # [t, f] of the start_single, those who left in step t
    churned_multi: np.ndarray  # [t, f] of the start_multi, those who left in step t
    contacts: np.ndarray  # [t, f, k] cross-sell contacts made by the product unit
    conversions: np.ndarray  # [t, f, k] contacts that won the customer for the unit
    partner_fees: np.ndarray  # [t, f, k] fees paid by a partner unit to its ecosystem
    marketing_spend: np.ndarray  # [t, f] advertising budget + referral rewards
    contact_cost: np.ndarray  # [t, f]
    partner_income: np.ndarray  # [t, f] fees received by an ecosystem from its partners
    referral_joins: np.ndarray  # [t, f] new customers who came through a referral
    segment_customers: np.ndarray  # [t, s, f + 1]; column F = all customers of the segment
    segment_revenue: np.ndarray  # [t, s, f + 1]; column F = 0
    segment_wallet: np.ndarray  # [t, s] reference-price spend of all needs that arose
    segment_captured: np.ndarray  # [t, s, f + 1] reference-price spend bought from each firm
    segment_need_wallet: np.ndarray  # [t, s, k] reference-price spend of each need that arose
    offered: np.ndarray  # [t, f, k] 1 when the firm offers the need in the step
    # [t, f, c] customers of cohort c still unbroken at step t; no c columns when the model
    # hands its cohorts to a cohort sink instead (ecosim.metrics.cohorts)
    cohort_alive: np.ndarray
    cohort_contribution: np.ndarray  # [t, f, c] gross margin - losses - partner fees, cohort c
    # rows per step, one per purchase of a simulated customer (not weighted), see step.py;
    # empty when the model hands them to a transaction sink instead
    transactions: list[np.ndarray] = field(default_factory=list)
    # [t, f, 3] investments' capex, opex and cost to serve (docs/model.md, "Investment
    # economics"); zeros when the firm has none
    investment_cost: np.ndarray | None = None

    def __post_init__(self) -> None:
        """Zeroed investment costs for the steps and firms of ``customers``."""
        if self.investment_cost is None:
            self.investment_cost = np.zeros((*self.customers.shape, 3))

    @classmethod
    def empty(cls, horizon: int, n_firms: int, n_needs: int, n_segments: int,
              cohorts: bool = True) -> History:
        """Zeroed arrays for steps 0..horizon; without ``cohorts``, no cohort columns."""
        t = horizon + 1
        fk, f = (t, n_firms, n_needs), (t, n_firms)
        sf, cohort = (t, n_segments, n_firms + 1), (t, n_firms, t if cohorts else 0)
        return cls(*(np.zeros(shape) for shape in
                     (fk, fk, fk, fk, fk, fk, fk, f, f, f, f, f, f, f, f, f, fk, fk, fk, f, f, f,
                      f, sf, sf, (t, n_segments), sf, (t, n_segments, n_needs), fk, cohort,
                      cohort)))


class EcosystemModel(mesa.Model):
    """A simulated market of firms competing for customers' needs.

    Args:
        cfg: a validated configuration (``ecosim.config.load_config``).
        replication: index of the replication; with ``cfg.seed`` it keys every random draw.
        transaction_sink: with ``output.transactions``, what each step's purchase rows are
            handed to as the step ends (``ecosim.metrics.transaction_log``), step 0's trial
            purchases first; the model keeps none of them. Without a sink it keeps them all in
            ``history.transactions``: the whole log in memory, for small runs.
        cohort_sink: what each step's cohorts are handed to as the step ends, step 0's first:
            ``(step, alive, contribution)`` per firm and cohort 0..step
            (``ecosim.metrics.cohorts``); the history then keeps no cohort triangle
            (``cohort_alive`` and ``cohort_contribution`` have no cohort columns). Without a
            sink the history keeps it whole: steps² × firms numbers, for small runs.
    """

    def __init__(self, cfg: EcosimConfig, replication: int = 0,
                 transaction_sink: Callable[[np.ndarray], None] | None = None,
                 cohort_sink: Callable[[int, np.ndarray, np.ndarray], None] | None = None
                 ) -> None:
        """Build firms, customers and their state at step 0."""
        super().__init__(seed=cfg.seed * 1_000_003 + replication)
        self.cfg = cfg
        self.transaction_sink = transaction_sink
        self.cohort_sink = cohort_sink
        #: market customers each simulated customer stands for (customers.market_size / n)
        self.weight = cfg.customers.weight
        self.need_names = list(cfg.needs)
        self.need_index = {name: k for k, name in enumerate(self.need_names)}
        self.firm_index = {name: index for index, name in enumerate(cfg.firms)}
        self.loss_rate = [need.base_loss if need.risk_priced else 0.0
                          for need in cfg.needs.values()]
        #: keys the firms' decision draws, as it keys the customers' (``kernels.rng``)
        self.run_key = int(run_key(cfg.seed, replication))
        #: every decision firms took, in order (``ecosim.agents.strategies``; decisions.parquet)
        self.decisions: list[Decision] = []
        self.population = CustomerPopulation(
            cfg.customers, dict(cfg.needs), len(cfg.firms),
            self.run_key, [cfg.seed, replication], cfg.time.horizon,
            cfg.output.transactions, separate_units=separate_brands(cfg),
            lenders=potential_lenders(cfg), basket_cache=basket_cache_on(cfg))
        self.firm_list = [
            Firm(self, name, index, firm_cfg, [e for e in cfg.events if e.firm == name],
                 self.population.n_cells)
            for index, (name, firm_cfg) in enumerate(cfg.firms.items())]
        self.brand_index = self._brand_index()
        #: two-sided marketplaces' sellers (docs/model.md, "Two-sided marketplaces")
        self.sellers = SellerMarket(self.firm_list, self.need_index, cfg.time.horizon)
        self.history = History.empty(cfg.time.horizon, len(self.firm_list), len(self.need_names),
                                     len(cfg.customers.segments),
                                     cohorts=cohort_sink is None)
        #: last step's simulated (unweighted) customers of each firm, for word of mouth
        self.simulated_customers = np.zeros(len(self.firm_list))
        self.offers = self.publish_offers(step=0)
        self.population.start(
            np.array([firm.cfg.initial_awareness if firm.is_active(0) else 0.0
                      for firm in self.firm_list]),
            self._initial_shares(), self.offers)
        self._record_initial_state()

    def step(self) -> None:
        """One step (docs/model.md "Step order"); ``self.steps`` is the step being played (>= 1)."""
        self.agents.do("step")
        previous, self.offers = self.offers, self.publish_offers(self.steps)
        policies = self.publish_policies(self.steps)
        self.population.apply_trends(self.steps)
        self.population.spread_awareness(self.steps, self.offers, policies,
                                         self.simulated_customers)
        ledgers = self.population.live_and_choose(self.steps, self.offers, policies,
                                                  self._price_rise(previous, self.offers))
        self._record(self.steps, ledgers)
        self.sellers.update(self.steps, self.history.revenue[self.steps])

    def run(self) -> History:
        """Play every step to the horizon and return the history."""
        for _ in range(self.cfg.time.horizon):
            self.step()
        return self.history

    # -- firms -> kernels ---------------------------------------------------------------------

    def publish_offers(self, step: int) -> Offers:
        """Collect every firm's offers into the flat arrays the kernels read."""
        offers = Offers.empty(len(self.firm_list), len(self.need_names))
        for firm in self.firm_list:
            firm.publish(offers, step, self.need_index, self.brand_index, self.loss_rate,
                         self.cfg.customers.market)
        return offers

    def publish_policies(self, step: int) -> Policies:
        """Collect every firm's business-model and policy parameters for the kernels."""
        policies = Policies.empty(len(self.firm_list), self.population.n_cells)
        for firm in self.firm_list:
            firm.publish_policies(policies, step, self.need_index, self.firm_index)
        return policies

    @staticmethod
    def _price_rise(previous: Offers, now: Offers) -> np.ndarray:
        """Rise of ln price index per offering this step (0 for cuts and new offerings)."""
        rise = np.log(now.price) - np.log(previous.price)
        return np.where(previous.available & now.available, np.maximum(rise, 0.0), 0.0)

    def _brand_index(self) -> dict[str, int]:
        """Index of every brand a firm or offering can carry, events included.

        Firms' own brands come first, in firm order, so with one brand per firm brand b is
        firm b (awareness by brand then draws exactly as awareness by firm).
        """
        unique = brand_names(self.cfg)
        if len(unique) > MAX_BRANDS:
            raise ValueError(f"firms: {len(unique)} brands is not allowed; at most {MAX_BRANDS}")
        return {name: b for b, name in enumerate(unique)}

    def _initial_shares(self) -> np.ndarray:
        shares = np.zeros((len(self.firm_list), len(self.need_names)))
        for firm in self.firm_list:
            for need, share in firm.cfg.initial_share.items():
                shares[firm.index, self.need_index[need]] = share
        return shares

    # -- kernels -> history -------------------------------------------------------------------

    def _record_initial_state(self) -> None:
        """Step 0: the initial customers form cohort 0; nothing is bought or spent.

        Counts are the market's: simulated customers × ``weight``.
        """
        h, pop, w = self.history, self.population, self.weight
        h.offered[0] = self.offers.available
        n_firms = len(self.firm_list)
        by_unit, by_segment = pop.customer_counts(n_firms, h.segment_customers.shape[1])
        h.unit_customers[0] = by_unit * w
        self.simulated_customers[:] = by_segment[:, :n_firms].sum(axis=0)
        h.customers[0] = self.simulated_customers * w
        h.segment_customers[0] = by_segment * w
        # cohort 0 is the customers present at the start; nothing is earned in step 0
        self._cohorts(0, h.customers[0][:, None], np.zeros((len(self.firm_list), 1)))
        if self.cfg.output.transactions:
            # step 0 of the log: non-contractually, the trial purchases of the relationships
            # that exist at the start, made at t = 0 before the run (so the log's BG/NBD summary
            # starts there); their spend is not simulated
            i, k = np.nonzero(pop.provider >= 0) if pop.lifecycle_kind == NONCONTRACTUAL \
                else (np.zeros(0, np.int64), np.zeros(0, np.int64))
            rows = np.zeros((len(i), 6))
            rows[:, 0], rows[:, 2], rows[:, 3] = i, k, pop.provider[i, k]
            self._log(rows)

    def _record(self, step: int, ledgers: acc.Ledgers) -> None:
        """Record the step's totals for the market (the simulated ones × ``weight``).

        Firms then pay for the market: advertising is its budget (market money), referral
        rewards are paid per market join, contacts cost per market contact and investments
        serve the market's customers; they observe (budget rules, targeting) market numbers.
        """
        h = self.history
        fk, f, sf, cohort, cells, sk = ledgers.totals(step)
        self.simulated_customers = f[acc.F_CUSTOMERS].copy()
        if self.weight != 1.0:
            fk, f, sf, cohort, cells, sk = (t * self.weight for t in (fk, f, sf, cohort, cells, sk))
        h.revenue[step] = fk[acc.FK_REVENUE]
        h.gross_margin[step] = fk[acc.FK_GROSS_MARGIN]
        h.losses[step] = fk[acc.FK_LOSSES]
        h.unit_customers[step] = fk[acc.FK_CUSTOMERS]
        h.unit_new[step] = fk[acc.FK_NEW]
        h.unit_churned[step] = fk[acc.FK_CHURNED]
        h.purchases[step] = fk[acc.FK_PURCHASES]
        h.customers[step] = f[acc.F_CUSTOMERS]
        h.new_customers[step] = f[acc.F_NEW]
        h.churned_customers[step] = f[acc.F_CHURNED]
        h.customer_wallet[step] = f[acc.F_WALLET]
        h.captured_wallet[step] = f[acc.F_CAPTURED]
        h.start_single[step] = f[acc.F_START_SINGLE]
        h.start_multi[step] = f[acc.F_START_MULTI]
        h.churned_single[step] = f[acc.F_CHURNED_SINGLE]
        h.churned_multi[step] = f[acc.F_CHURNED_MULTI]
        h.contacts[step] = fk[acc.FK_CONTACTS]
        h.conversions[step] = fk[acc.FK_CONVERSIONS]
        h.partner_fees[step] = fk[acc.FK_PARTNER_FEES]
        h.partner_income[step] = f[acc.F_PARTNER_INCOME]
        h.referral_joins[step] = f[acc.F_REFERRAL_JOINS]
        for firm in self.firm_list:
            i = firm.index
            h.marketing_spend[step, i] = (firm.marketing_spend
                                          + firm.cfg.referral.reward * h.referral_joins[step, i])
            h.contact_cost[step, i] = firm.cfg.cross_sell.contact_cost * h.contacts[step, i].sum()
            if firm.investments:
                h.investment_cost[step, i] = firm.investment_costs(
                    step, h.customers[step, i], h.unit_customers[step, i], self.need_index)
            h.investment_cost[step, i, :2] += (firm.decision_capex,  # 0 without a strategy
                                               firm.decision_opex)
            firm.observe(StepResults(
                customers=h.customers[step, i], new_customers=h.new_customers[step, i],
                churned_customers=h.churned_customers[step, i],
                customers_at_start=h.customers[step - 1, i],
                contribution=float(h.gross_margin[step, i].sum() - h.losses[step, i].sum()
                                   - h.partner_fees[step, i].sum() + h.partner_income[step, i]),
                marketing_spend=h.marketing_spend[step, i]),
                cells[acc.CELL_CONTACTS, i], cells[acc.CELL_CONVERSIONS, i],
                cells[acc.CELL_TARGETS, i])
        h.segment_customers[step] = sf[acc.SF_CUSTOMERS]
        h.segment_revenue[step] = sf[acc.SF_REVENUE]
        h.segment_wallet[step] = sf[acc.SF_WALLET][:, -1]
        h.segment_captured[step] = sf[acc.SF_CAPTURED]
        h.segment_need_wallet[step] = sk
        h.offered[step] = self.offers.available
        self._cohorts(step, cohort[acc.C_ALIVE], cohort[acc.C_CONTRIBUTION])
        if self.cfg.output.transactions:
            self._log(self.population.transactions())

    def _cohorts(self, step: int, alive: np.ndarray, contribution: np.ndarray) -> None:
        """The step's cohorts [firm, cohort 0..step]: to the sink, or into the history."""
        if self.cohort_sink is not None:
            self.cohort_sink(step, alive, contribution)
        else:
            self.history.cohort_alive[step, :, :step + 1] = alive
            self.history.cohort_contribution[step, :, :step + 1] = contribution

    def _log(self, rows: np.ndarray) -> None:
        """One step's purchase rows: to the sink, or kept in the history without one."""
        if self.transaction_sink is not None:
            self.transaction_sink(rows)
        else:
            self.history.transactions.append(rows)
