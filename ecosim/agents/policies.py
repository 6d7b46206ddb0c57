"""Firm policies as small strategy objects: marketing budget rules and cross-sell targeting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecosim.config.schema import CrossSellConfig, MarketingConfig


@dataclass
class StepResults:
    """What a firm saw of its own last step (currency per step, customers)."""

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
    ``contacts_per_step``. Otherwise the probability in cell c is
    ``contacts_per_step × w_c / Σ_c share_c w_c`` (capped at 1), where ``w_c`` is the Laplace
    estimate ``(conversions + 1) / (contacts + 2)`` from the firm's own history and ``share_c``
    the cell's share of the population: the same expected contacts, aimed where they convert.
    """

    def __init__(self, n_cells: int) -> None:
        """Start with no history in any of ``n_cells`` cells."""
        self.contacts = np.zeros(n_cells)
        self.conversions = np.zeros(n_cells)

    def record(self, contacts: np.ndarray, conversions: np.ndarray) -> None:
        """Add a step's contacts and conversions per cell."""
        self.contacts += contacts
        self.conversions += conversions

    def probabilities(self, cfg: CrossSellConfig, cell_share: np.ndarray) -> np.ndarray:
        """Contact probability per cell for the coming step (``cell_share``: population share)."""
        out = np.zeros_like(self.contacts)
        if cfg.targeting == "none":
            out[0] = min(1.0, cfg.contacts_per_step)
            return out
        n = cell_share.shape[0]
        weight = (self.conversions[:n] + 1.0) / (self.contacts[:n] + 2.0)
        mean = float(np.dot(cell_share, weight))
        out[:n] = np.minimum(1.0, cfg.contacts_per_step * weight / mean)
        return out
