"""The seller side of two-sided marketplaces: sellers per need that follow the GMV they can reach.

docs/model.md, "Two-sided marketplaces". A marketplace with a ``marketplace.sellers`` block holds
a real-valued stock of sellers ``S >= 1`` for each need it offers. Buyers see it through the
assortment gains the marketplace already has (price divided by ``1 + price_gain ln S``, quality
raised by ``match_gain ln S``); sellers see buyers through the GMV the marketplace sells:

    S*  = max(1, A * (V / (c * A)) ** nu),   V = m * (1 - take_rate) * GMV
    joins = lam * S*,   leaves = lam * S,    S' = S + joins - leaves = S + lam * (S* - S)

with ``A`` the marketplace's ``assortment``, ``c`` the seller's cost (outside option) per step,
``m`` the sellers' margin, ``nu`` the cross-side network effect (the elasticity of sellers to
GMV) and ``lam`` the turnover per step. At a constant GMV, n updates take ``S`` to
``S* + (S - S*)(1 - lam)^n``.
The update is deterministic: a stock of sellers, not individual sellers, so no random draws.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from ecosim.config.schema import FirmConfig, SellersConfig

if TYPE_CHECKING:
    from ecosim.agents.firm import Firm

def supportable_sellers(gmv: float, take_rate: float, assortment: float,
                        cfg: SellersConfig) -> float:
    """Sellers ``S*`` that a need's GMV can hold (at least 1).

    Args:
        gmv: the marketplace's GMV in the need in one step (currency per step, the market's).
        take_rate: the marketplace's share of GMV (in [0, 1]).
        assortment: ``A``, the sellers free entry supports when their margin ``V`` equals
            ``seller_cost * A`` (the anchor of the elasticity).
        cfg: the seller side's parameters.

    Returns:
        ``max(1, A * (V / (seller_cost * A)) ** network_effect)``; with ``network_effect`` 0 it
        is ``A`` whatever the GMV (a fixed assortment), with 1 the free-entry count
        ``V / seller_cost``.
    """
    margin = cfg.seller_margin * (1.0 - take_rate) * max(gmv, 0.0)
    relative = margin / (cfg.seller_cost * assortment)
    return max(1.0, assortment * relative ** cfg.network_effect)  # 0 ** 0 = 1: A


@dataclass
class SellerLedger:
    """The seller side of a run, as arrays ``[t, f, k]`` for steps 0..horizon.

    ``sellers[t]`` are the sellers that buyers saw in step t; ``seller_target`` (``S*``),
    ``seller_joins`` and ``seller_leaves`` are computed from ``gmv[t]`` at the end of step t, so
    ``sellers[t + 1] - sellers[t] = seller_joins[t] - seller_leaves[t]``. NaN where a firm has
    no seller side for the need (one-sided, or the need not offered).
    """

    sellers: np.ndarray
    seller_target: np.ndarray
    seller_joins: np.ndarray
    seller_leaves: np.ndarray
    gmv: np.ndarray

    @classmethod
    def empty(cls, horizon: int, n_firms: int, n_needs: int) -> SellerLedger:
        """NaN arrays for steps 0..horizon."""
        shape = (horizon + 1, n_firms, n_needs)
        return cls(**{column.name: np.full(shape, np.nan) for column in fields(cls)})


def has_seller_side(cfg: FirmConfig) -> bool:
    """Whether a firm is a two-sided marketplace (``model: marketplace`` with ``sellers``)."""
    return cfg.model == "marketplace" and cfg.marketplace.sellers is not None


class SellerMarket:
    """The seller stocks of every two-sided marketplace of a run.

    It writes each marketplace's sellers into ``Firm.seller_count`` (need -> sellers), which the
    firm publishes as its assortment, and keeps the ``ledger``.

    Args:
        firms: the run's firms, in index order.
        need_index: need name -> column.
        horizon: the run's last step.
    """

    def __init__(self, firms: list[Firm], need_index: dict[str, int], horizon: int) -> None:
        """Place each two-sided marketplace's initial sellers (step 0)."""
        self.firms = [firm for firm in firms if has_seller_side(firm.cfg)]
        self.need_index = need_index
        self.ledger = SellerLedger.empty(horizon, len(firms), len(need_index))
        for firm in self.firms:
            market = firm.cfg.marketplace
            start = market.assortment if market.sellers.initial is None else market.sellers.initial
            firm.seller_count = {need: float(start) for need in firm.cfg.offerings}
            for need in firm.seller_count:  # step 0 has no GMV and moves no sellers
                k = need_index[need]
                self.ledger.gmv[0, firm.index, k] = 0.0
                self.ledger.seller_joins[0, firm.index, k] = 0.0
                self.ledger.seller_leaves[0, firm.index, k] = 0.0
                self.ledger.seller_target[0, firm.index, k] = float(start)
            self._write(0, firm)
            if horizon >= 1:  # buyers of step 1 see the initial sellers too
                self._write(1, firm)

    @property
    def active(self) -> bool:
        """Whether any firm has a seller side (otherwise ``update`` does nothing)."""
        return bool(self.firms)

    def update(self, step: int, revenue: np.ndarray) -> None:
        """Move every seller stock by the step's GMV: ``S' = S + lam * (S* - S)``.

        Args:
            step: the step just played (>= 1); its sellers were written by the previous update.
            revenue: ``[f, k]`` GMV of the step (currency, the market's: ``History.revenue``).

        A firm not yet in the market keeps its sellers (it has no GMV to lose them by).
        """
        for firm in self.firms:
            cfg = firm.cfg.marketplace
            for need, sellers in firm.seller_count.items():
                k = self.need_index[need]
                gmv = float(revenue[firm.index, k])
                target = supportable_sellers(gmv, cfg.take_rate, cfg.assortment, cfg.sellers)
                joins = leaves = 0.0
                if firm.is_active(step):
                    joins = cfg.sellers.adjustment * target
                    leaves = cfg.sellers.adjustment * sellers
                    # S' = (1 - lam) S + lam S* >= 1, as S, S* >= 1 and lam <= 1
                    firm.seller_count[need] = sellers + joins - leaves
                self.ledger.gmv[step, firm.index, k] = gmv
                self.ledger.seller_target[step, firm.index, k] = target
                self.ledger.seller_joins[step, firm.index, k] = joins
                self.ledger.seller_leaves[step, firm.index, k] = leaves
            if step + 1 < self.ledger.sellers.shape[0]:
                self._write(step + 1, firm)

    def _write(self, step: int, firm: Firm) -> None:
        """Record the sellers buyers will see in ``step``."""
        for need, sellers in firm.seller_count.items():
            self.ledger.sellers[step, firm.index, self.need_index[need]] = sellers
