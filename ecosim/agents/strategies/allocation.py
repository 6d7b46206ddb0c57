"""Marketing allocation across a firm's brands: budget follows the observed return.

A firm whose units carry their own brands advertises each brand apart (``marketing.budget``
for its own brand, ``marketing.brand_budgets`` for the others). At each decision the return of a
brand is observed as the new customers of its units over the window times their contribution
per customer per step, per currency spent on it (brands without a budget are not observed);
``shift`` of the worst brand's budget moves to the best, no brand going below ``floor`` of the
total, the total unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecosim.agents.strategies.view import Decision, MarketView
from ecosim.config.schema import AllocationRuleConfig

if TYPE_CHECKING:
    from ecosim.agents.firm import Firm


class AllocationRule:
    """Shift budget from the brand with the lowest return to the one with the highest."""

    name = "allocation"

    def __init__(self, cfg: AllocationRuleConfig) -> None:
        """Shift ``cfg.shift`` of the worst brand's budget per decision."""
        self.cfg = cfg

    @staticmethod
    def budgets(firm: Firm) -> dict[str, float]:
        """Budget per brand (currency per step): the firm's own brand first."""
        marketing = firm.cfg.marketing
        out = {firm.brand: marketing.budget}
        out.update({b: v for b, v in marketing.brand_budgets.items() if b != firm.brand})
        return out

    def returns(self, firm: Firm, view: MarketView, window: range,
                budgets: dict[str, float]) -> dict[str, float]:
        """Observed return per currency of each brand with a budget (currency per currency).

        New customers of the brand's units over ``window`` × their contribution per customer
        per step, over the brand's spend in ``window``.
        """
        value = dict.fromkeys(budgets, 0.0)
        for need, offering in firm.cfg.offerings.items():
            brand = firm.offering_brand(offering)
            if brand not in value or need in firm.closed_units:
                continue
            customers = view.unit_customers(need, window)
            if customers > 0:
                margin = view.unit_contribution(need, window) / customers
                value[brand] += view.unit_new(need, window) * margin
        return {b: value[b] / (budgets[b] * len(window)) for b in budgets if budgets[b] > 0}

    def decide(self, firm: Firm, view: MarketView, window: range) -> list[Decision]:
        """Move budget from the worst-returning brand to the best (nothing on an empty window)."""
        if len(window) == 0:
            return []
        budgets = self.budgets(firm)
        total = sum(budgets.values())
        returns = self.returns(firm, view, window, budgets)
        if len(returns) < 2 or total <= 0:
            return []
        best = max(returns, key=returns.__getitem__)
        worst = min(returns, key=returns.__getitem__)
        if returns[best] <= returns[worst]:
            return []
        moved = min(self.cfg.shift * budgets[worst],
                    max(0.0, budgets[worst] - self.cfg.floor * total))
        if moved <= 0:
            return []
        why = (f"return per currency {returns[worst]:.4g} ({worst}) < "
               f"{returns[best]:.4g} ({best}); move {moved:.6g} a step")
        out = []
        for brand, change in ((worst, -moved), (best, moved)):
            old = budgets[brand]
            if brand == firm.brand:
                firm.cfg.marketing.budget = old + change
                key = "marketing.budget"
            else:
                firm.cfg.marketing.brand_budgets[brand] = old + change
                key = f"marketing.brand_budgets.{brand}"
            out.append(Decision(view.step, firm.name, self.name, key, old, old + change, why))
        return out
