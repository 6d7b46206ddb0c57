"""Firm policies as small strategy objects: marketing budget rules and cross-sell targeting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecosim.config.schema import CrossSellConfig, MarketingConfig


@dataclass
class StepResults:
    """What a firm saw of its own last step: the market's customers and money per step.

    Counts and money are the market's (``customers.market_size``, as ``ecosim.model.History``
    records them), so CAC here is market spend over market new customers.
    """

    customers: float
    new_customers: float
    churned_customers: float
    customers_at_start: float
    contribution: float  # gross margin - losses - partner fees paid + partner fees received
    marketing_spend: float


class MarketingRule:
    """The budget a firm spends on acquisition each step (currency per step)."""

    def __init__(self, cfg: MarketingConfig) -> None:
        """Start from the configured budget."""
        self.budget = cfg.budget

    def next_budget(self, cfg: MarketingConfig, last: StepResults | None,
                    discount_rate: float) -> float:
        """The budget of the coming step."""
        self.budget = cfg.budget
        return self.budget


class LtvCacTarget(MarketingRule):
    """Adapt the budget so that predicted LTV / CAC approaches ``target``.

    After each step, ``LTV = m (1 + d) / (1 + d - r)`` with ``m`` the contribution per customer
    and ``r = 1 - churn_rate``, ``CAC = spend / new customers``; the budget is multiplied by
    ``((LTV / CAC) / target) ** adjust``, by at most ×2 or ÷2 per step. Spending more buys
    customers at rising CAC (reach has diminishing returns), so the ratio falls as budget grows.

    A step without churn under ``time.discount_rate = 0`` (``1 + d - r = 0``) makes the LTV
    unbounded: a customer who never leaves pays ``m`` every step, undiscounted, for ever. The
    rule then takes the formula's limit instead of dividing by zero: LTV/CAC exceeds any
    target, so the budget doubles (the largest step) when ``m > 0``, and halves when ``m <= 0``
    (a customer worth nothing or less, as for any ``LTV <= 0``).
    """

    def next_budget(self, cfg: MarketingConfig, last: StepResults | None,
                    discount_rate: float) -> float:
        """The budget of the coming step, adapted from the last step's LTV / CAC."""
        if last is None or last.new_customers <= 0 or last.marketing_spend <= 0 \
                or last.customers <= 0 or last.customers_at_start <= 0:
            return self.budget
        margin = last.contribution / last.customers
        retention = 1.0 - last.churned_customers / last.customers_at_start
        denominator = 1.0 + discount_rate - retention
        if denominator <= 0.0:  # no churn, no discounting: the LTV is unbounded
            factor = 2.0 if margin > 0 else 0.5
        else:
            ltv = margin * (1.0 + discount_rate) / denominator
            cac = last.marketing_spend / last.new_customers
            if ltv <= 0:
                factor = 0.5
            else:
                factor = float(np.clip((ltv / cac / cfg.target) ** cfg.adjust, 0.5, 2.0))
        self.budget *= factor
        return self.budget


def marketing_rule(cfg: MarketingConfig) -> MarketingRule:
    """The rule object for a firm's ``marketing.rule``."""
    return LtvCacTarget(cfg) if cfg.rule == "ltv_cac_target" else MarketingRule(cfg)


class CrossSellTargeting:
    """Learns the conversion rate of each targeting cell and spreads contacts in proportion.

    With ``targeting: none`` there is one cell and every customer is contacted with probability
    ``contacts_per_step``. Otherwise the probability in cell c is ``min(1, λ w_c)``, where ``w_c``
    is the Laplace estimate ``(conversions + 1) / (contacts + 2)`` from the firm's own history and
    ``λ`` is set so that the expected contacts ``Σ_c n_c min(1, λ w_c)`` equal
    ``contacts_per_step × Σ_c n_c``, with ``n_c`` the contacts the firm could make in cell c (its
    own customers there at the end of the last step, per need they buy elsewhere; per customer
    for a value stream): the same expected contacts as untargeted, aimed where they convert.
    Cells that hit probability 1 pass their excess to the others.
    """

    def __init__(self, n_cells: int) -> None:
        """Start with no history in any of ``n_cells`` cells."""
        self.contacts = np.zeros(n_cells)
        self.conversions = np.zeros(n_cells)
        self.customers = np.zeros(n_cells)

    def record(self, contacts: np.ndarray, conversions: np.ndarray,
               customers: np.ndarray) -> None:
        """Add a step's contacts and conversions per cell; keep the contacts it could make."""
        self.contacts += contacts
        self.conversions += conversions
        self.customers = np.asarray(customers, float).copy()

    def probabilities(self, cfg: CrossSellConfig) -> np.ndarray:
        """Contact probability per cell for the coming step."""
        base = min(1.0, cfg.contacts_per_step)
        if cfg.targeting == "none":
            out = np.zeros_like(self.contacts)
            out[0] = base
            return out
        return spread_contacts(base, (self.conversions + 1.0) / (self.contacts + 2.0),
                               self.customers)


def spread_contacts(base: float, weight: np.ndarray, customers: np.ndarray) -> np.ndarray:
    """Probabilities ``min(1, λ weight_c)`` whose expected contacts are ``base × Σ customers``.

    Water-filling: cells whose probability would pass 1 are set to 1 and ``λ`` is solved again
    on the rest (at most one pass per cell). Without customers every cell gets ``base``.
    """
    total = customers.sum()
    if total <= 0 or base <= 0:
        return np.full(weight.shape, base)
    capped = np.zeros(weight.shape, bool)
    lam = 0.0
    for _ in range(weight.size):
        free = ~capped & (customers > 0)
        mass = float(np.dot(customers[free], weight[free]))
        if mass <= 0:
            break
        lam = (base * total - customers[capped].sum()) / mass
        newly = free & (lam * weight >= 1.0)
        if not newly.any():
            break
        capped |= newly
    return np.where(capped, 1.0, np.minimum(1.0, lam * weight))
