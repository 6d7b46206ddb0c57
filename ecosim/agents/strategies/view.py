"""What a deciding firm can observe, and the record of what it decided.

A firm decides on its own results, on the offers its rivals publish and on market shares,
never on customers' private state: ``MarketView`` reads the model's History (the firm's own
rows, and every firm's unit customers for shares) and the published offer arrays, nothing of
the customer population.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ecosim.agents.firm import Firm

#: The smallest ``1 + d - r`` a group LTV is divided by: a window without churn, undiscounted,
#: would otherwise value a customer at infinity (a customer who never leaves, for ever).
MIN_LTV_DENOMINATOR = 1e-3

@dataclass(frozen=True)
class Decision:
    """One change a firm made to itself: a row of ``decisions.parquet``.

    ``key`` is the dotted config key changed (``offerings.delivery.price_index``) or
    ``units.<need>`` for a launch (0 -> 1) or a closure (1 -> 0); ``old`` and ``new`` are its
    values; ``reason`` says, in words and with the numbers observed, why.
    """

    step: int
    firm: str
    rule: str
    key: str
    old: float
    new: float
    reason: str


class MarketView:
    """The firm's view at the start of ``step``: History up to ``step - 1``, last offers.

    Money and counts are the market's (``customers.market_size``), per step.
    """

    def __init__(self, firm: Firm, step: int) -> None:
        """Look from ``firm`` at the start of ``step`` (>= 1)."""
        model = firm.model
        self.firm = firm
        self.step = step
        self.history = model.history
        self.offers = model.offers  # what every firm published for step - 1
        self.need_index: dict[str, int] = model.need_index
        self.discount_rate: float = model.cfg.time.discount_rate

    def unit_contribution(self, need: str, steps: range) -> float:
        """Mean contribution per step of the firm's unit for ``need`` over ``steps``.

        Gross margin - losses - partner fees paid - the unit's cost to serve (a ``unit``
        investment's), currency per step.
        """
        h, f, k = self.history, self.firm.index, self.need_index[need]
        t = _indices(steps)
        value = h.gross_margin[t, f, k] - h.losses[t, f, k] - h.partner_fees[t, f, k]
        inv = self.firm.investments.get(("unit", need))
        if inv is not None:
            value = value - inv.cost_to_serve * h.unit_customers[t, f, k]
        return float(value.mean())

    def unit_customers(self, need: str, steps: range) -> float:
        """Mean customers of the firm's unit for ``need`` over ``steps``."""
        t = _indices(steps)
        return float(self.history.unit_customers[t, self.firm.index, self.need_index[need]].mean())

    def unit_new(self, need: str, steps: range) -> float:
        """New customers of the firm's unit for ``need``, summed over ``steps``."""
        t = _indices(steps)
        return float(self.history.unit_new[t, self.firm.index, self.need_index[need]].sum())

    def group_contribution(self, steps: range) -> float:
        """Mean contribution per step of the whole group over ``steps`` (currency per step).

        Every unit's gross margin - losses - partner fees paid, + partner fees received from
        the ecosystem's partners, - the cost to serve of its investments.
        """
        h, f = self.history, self.firm.index
        t = _indices(steps)
        return float((h.gross_margin[t, f].sum(axis=1) - h.losses[t, f].sum(axis=1)
                      - h.partner_fees[t, f].sum(axis=1) + h.partner_income[t, f]
                      - h.investment_cost[t, f, 2]).mean())

    def group_ltv_flow(self, steps: range) -> float:
        """The group's contribution plus the value of the customers it gained, per step.

        ``C + g × LTV`` (currency per step): ``C`` the group's mean contribution per step
        (``group_contribution``), ``g`` its customers' growth per step over ``steps`` (any unit:
        a customer of the group counts once) and ``LTV = m (1 + d) / (1 + d - r)`` the value of a
        group customer, from the window's contribution per customer ``m`` and retention ``r``
        (as the ``ltv_cac_target`` rule predicts it; ``1 + d - r`` is floored at
        ``MIN_LTV_DENOMINATOR``). A unit priced low to win customers for the group is credited
        with their LTV; at a steady state (``g = 0``) this is the group's contribution.
        """
        h, f = self.history, self.firm.index
        t = _indices(steps)
        contribution = self.group_contribution(steps)
        customers = h.customers[t, f].mean()
        at_start = h.customers[t - 1, f].sum()
        if customers <= 0 or at_start <= 0:
            return contribution
        growth = (h.customers[t[-1], f] - h.customers[t[0] - 1, f]) / len(t)
        retention = 1.0 - h.churned_customers[t, f].sum() / at_start
        d = self.discount_rate
        ltv = (contribution / customers) * (1.0 + d) / max(1.0 + d - retention,
                                                           MIN_LTV_DENOMINATOR)
        return float(contribution + growth * ltv)

    def market_customers(self, need: str) -> float:
        """Customers of ``need`` in the market (every firm's unit) at the end of the last step."""
        return float(self.history.unit_customers[self.step - 1, :, self.need_index[need]].sum())

    def rival_best(self, need: str, what: str,
                   among: list[str] | None = None) -> tuple[float, str] | None:
        """The best published ``convenience`` (highest) or ``price`` index (lowest) of a rival.

        Returns the value and the rival's name; rivals are the firms named in ``among`` (None
        or empty: every other firm). None when no active rival offers ``need``.
        """
        k, f, offers = self.need_index[need], self.firm.index, self.offers
        rivals = offers.available[:, k].copy()
        if among:
            named = np.zeros_like(rivals)
            named[[self.firm.model.firm_index[name] for name in among]] = True
            rivals &= named
        rivals[f] = False
        if not rivals.any():
            return None
        index = np.flatnonzero(rivals)
        values = getattr(offers, what)[index, k]
        best = int(index[values.argmax() if what == "convenience" else values.argmin()])
        return float(getattr(offers, what)[best, k]), self.firm.model.firm_list[best].name

    def own_published(self, need: str, what: str) -> float | None:
        """The firm's published ``convenience`` or ``price`` for ``need`` (None: not offered)."""
        k, f = self.need_index[need], self.firm.index
        if not self.offers.available[f, k]:
            return None
        return float(getattr(self.offers, what)[f, k])


def _indices(steps: range) -> np.ndarray:
    return np.arange(steps.start, steps.stop)
