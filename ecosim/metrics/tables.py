"""Tidy tables of a run (docs/design.md §4): one row per (step, firm), (step, firm, need), ...

Every table carries ``arm`` and ``replication`` so that tables of many runs concatenate into one.
Definitions (per step; currency in the config's unit):

* ``cac = marketing_spend / new_customers`` (NaN when no customer is new); ``cac_arpu = cac /
  arpu``, the CAC in steps of revenue per customer (NaN when either is);
* ``churn_rate = churned_customers / customers at the start of the step`` (NaN when none);
* ``arpu = revenue / customers`` at the end of the step;
* ``share_of_wallet`` = the part of its end-of-step customers' wallet that they bought from the
  firm, over that wallet (the reference-price spend of every need that arose for them, whoever
  served it): a share in [0, 1], at reference prices on both sides;
* ``churn_rate_single`` / ``churn_rate_multi``: churn rate of the customers who held one / several
  of the firm's products at the start of the step;
* ``conversion_rate = conversions / contacts`` of cross-sell (NaN without contacts); per unit,
  ``churn_rate`` is the unit's churned customers over its customers at the start of the step;
* ``partner_fees`` = fees received from partners (ecosystem) - fees paid to the host (partner);
* ``capex``, ``opex``, ``cost_to_serve``: the firm's investments' one-off outlay (in the step an
  investment starts), running cost per step and cost of serving its customers (docs/model.md,
  "Investment economics"); 0 without investments;
* ``profit = gross_margin - losses - marketing_spend - contact_cost + partner_fees - capex -
  opex - cost_to_serve``;
* ``marketing_spend`` = advertising budget + referral rewards (all acquisition spending);
* cohort ``cum_margin_per_acquired`` is the realized LTV: contribution (gross margin - losses -
  partner fees paid)
  of the cohort, discounted to its acquisition step at ``time.discount_rate`` per step, summed
  from age 0 (the acquisition step, undiscounted) to the age, per acquired customer.

Counts and money are the market's (``customers.market_size``; the simulated customers × their
weight, ``ecosim.model.History``); counts are rounded to whole customers, ratios are taken before
rounding. ``transactions`` alone lists the simulated customers' own purchases.

A ratio is NaN where its denominator is 0 (``MAY_BE_NAN`` lists these columns); every other
number of every table is finite, and ``check_finite`` fails a run whose tables are not.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd


class HistoryLike(Protocol):
    """The arrays a run records (see ``ecosim.model.History``)."""

    revenue: np.ndarray
    gross_margin: np.ndarray
    losses: np.ndarray
    unit_customers: np.ndarray
    unit_new: np.ndarray
    unit_churned: np.ndarray
    customers: np.ndarray
    new_customers: np.ndarray
    churned_customers: np.ndarray
    customer_wallet: np.ndarray
    captured_wallet: np.ndarray
    start_single: np.ndarray
    start_multi: np.ndarray
    churned_single: np.ndarray
    churned_multi: np.ndarray
    marketing_spend: np.ndarray
    contact_cost: np.ndarray
    contacts: np.ndarray
    conversions: np.ndarray
    partner_fees: np.ndarray
    partner_income: np.ndarray
    referral_joins: np.ndarray
    segment_customers: np.ndarray
    segment_revenue: np.ndarray
    segment_wallet: np.ndarray
    segment_captured: np.ndarray
    segment_need_wallet: np.ndarray
    offered: np.ndarray
    cohort_alive: np.ndarray
    cohort_contribution: np.ndarray
    transactions: list[np.ndarray]
    investment_cost: np.ndarray  # [t, f, 3]: capex, opex, cost to serve


#: The columns that are NaN by definition in some rows: ratios whose denominator is 0 there
#: (``_ratio``), and ``churn_rate`` at step 0. No column may hold inf.
MAY_BE_NAN: dict[str, frozenset[str]] = {
    "firm_metrics": frozenset({"churn_rate", "churn_rate_single", "churn_rate_multi", "cac",
                               "cac_arpu",
                               "arpu", "products_per_customer", "share_of_wallet",
                               "conversion_rate"}),
    "unit_metrics": frozenset({"market_share", "revenue_share", "churn_rate",
                               "conversion_rate"}),
    "segment_metrics": frozenset({"share_of_wallet"}),
    "segment_needs": frozenset(),
    "cohort_retention": frozenset(),
    "transactions": frozenset(),
}
#: Columns that say where a row is, in the order ``check_finite`` names them.
_ROW_KEYS = ("arm", "replication", "step", "segment", "firm", "need", "cohort", "age", "customer")


class NonFiniteError(ValueError):
    """A table holds inf, or NaN where a number is required; the message names table and column.

    Such values come from parameters that overflow (a lognormal basket with a huge mean) or
    make no sense; writing them would give a run that looks finished but is not a result.
    """


def check_finite(table: str, frame: pd.DataFrame) -> None:
    """Fail when a column of ``frame`` holds inf, or NaN outside ``MAY_BE_NAN[table]``.

    Args:
        table: the table's name (``firm_metrics``, ...), which says where NaN is allowed.
        frame: the table.

    Raises:
        NonFiniteError: naming every offending ``table.column``, how many rows, and the first.
    """
    allowed = MAY_BE_NAN.get(table, frozenset())
    problems = []
    for column in frame.columns:
        if not pd.api.types.is_float_dtype(frame[column]):
            continue  # integers, labels and categories are finite by construction
        values = frame[column].to_numpy(dtype=float)
        infinite = np.isinf(values)
        missing = np.isnan(values) if column not in allowed else np.zeros_like(infinite)
        bad = infinite | missing
        if not bad.any():
            continue
        kinds = [f"{kind} in {int(mask.sum())} of {len(values)} rows"
                 for kind, mask in (("inf", infinite), ("NaN", missing)) if mask.any()]
        first = frame.iloc[int(np.argmax(bad))]
        where = ", ".join(f"{key} {first[key]}" for key in _ROW_KEYS if key in frame.columns)
        problems.append(f"{table}.{column} has {' and '.join(kinds)} (first: {where})")
    if problems:
        raise NonFiniteError("; ".join(problems))


def whole(values: np.ndarray | pd.Series) -> np.ndarray:
    """Market counts as whole customers (nearest integer; a weight need not divide evenly)."""
    return np.rint(np.asarray(values, float)).astype(np.int64)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise ratio, NaN (never inf) where the denominator is 0."""
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _grid(**axes: list) -> pd.DataFrame:
    """All combinations of the axes, first axis slowest (matches C-order array ravel)."""
    index = pd.MultiIndex.from_product(list(axes.values()), names=list(axes))
    return index.to_frame(index=False)


def _tag(frame: pd.DataFrame, arm: str, replication: int) -> pd.DataFrame:
    frame.insert(0, "replication", replication)
    frame.insert(0, "arm", arm)
    return frame


#: The value columns of ``firm_metrics`` (after ``arm``, ``replication``, ``step``, ``firm``).
FIRM_METRICS = ("customers", "new_customers", "churned_customers", "churn_rate",
                "churn_rate_single", "churn_rate_multi", "marketing_spend", "contact_cost", "cac",
                "cac_arpu", "revenue", "gross_margin", "losses", "partner_fees", "capex", "opex",
                "cost_to_serve", "profit", "arpu",
                "products_per_customer", "share_of_wallet", "contacts", "conversions",
                "conversion_rate", "referral_joins")
#: The value columns of ``unit_metrics`` (after ``arm``, ``replication``, ``step``, ``firm``,
#: ``need``).
UNIT_METRICS = ("customers", "new_customers", "churned_customers", "churn_rate", "revenue",
                "gross_margin", "losses", "market_share", "revenue_share", "contacts",
                "conversions", "conversion_rate", "partner_fees_paid")


def firm_metrics(h: HistoryLike, firms: list[str], arm: str = "base",
                 replication: int = 0) -> pd.DataFrame:
    """One row per (step, firm): customers, acquisition, churn, P&L and per-customer KPIs."""
    steps = list(range(h.customers.shape[0]))
    revenue = h.revenue.sum(axis=2)
    gross_margin = h.gross_margin.sum(axis=2)
    losses = h.losses.sum(axis=2)
    start = np.vstack([h.customers[:1], h.customers[:-1]])
    partner_fees = h.partner_income - h.partner_fees.sum(axis=2)
    capex, opex, serve = (h.investment_cost[:, :, j] for j in range(3))
    profit = gross_margin - losses - h.marketing_spend - h.contact_cost + partner_fees
    profit = profit - capex - opex - serve  # exact without investments: x - 0.0 == x
    frame = _grid(step=steps, firm=firms)
    cac = _ratio(h.marketing_spend, h.new_customers)
    arpu = _ratio(revenue, h.customers)
    columns = {
        "customers": h.customers,
        "new_customers": h.new_customers,
        "churned_customers": h.churned_customers,
        "churn_rate": _ratio(h.churned_customers, start),
        "churn_rate_single": _ratio(h.churned_single, h.start_single),
        "churn_rate_multi": _ratio(h.churned_multi, h.start_multi),
        "marketing_spend": h.marketing_spend,
        "contact_cost": h.contact_cost,
        "cac": cac,
        "cac_arpu": _ratio(cac, arpu),
        "revenue": revenue,
        "gross_margin": gross_margin,
        "losses": losses,
        "partner_fees": partner_fees,
        "capex": capex,
        "opex": opex,
        "cost_to_serve": serve,
        "profit": profit,
        "arpu": arpu,
        "products_per_customer": _ratio(h.unit_customers.sum(axis=2), h.customers),
        "share_of_wallet": _ratio(h.captured_wallet, h.customer_wallet),
        "contacts": h.contacts.sum(axis=2),
        "conversions": h.conversions.sum(axis=2),
        "conversion_rate": _ratio(h.conversions.sum(axis=2), h.contacts.sum(axis=2)),
        "referral_joins": h.referral_joins,
    }
    for name, values in columns.items():
        frame[name] = np.asarray(values, float).ravel()
    frame.loc[frame["step"] == 0,
              ["churn_rate", "churn_rate_single", "churn_rate_multi"]] = np.nan
    for name in ("customers", "new_customers", "churned_customers", "contacts", "conversions",
                 "referral_joins"):
        frame[name] = whole(frame[name])
    return _tag(frame, arm, replication)


def unit_metrics(h: HistoryLike, firms: list[str], needs: list[str], arm: str = "base",
                 replication: int = 0) -> pd.DataFrame:
    """One row per (step, firm, need): the product unit's customers, money and market share.

    ``market_share`` is the unit's share of the need's customers served by any firm;
    ``revenue_share`` its share of the need's revenue.
    """
    frame = _grid(step=list(range(h.revenue.shape[0])), firm=firms, need=needs)
    served = h.unit_customers.sum(axis=1, keepdims=True)
    need_revenue = h.revenue.sum(axis=1, keepdims=True)
    columns = {
        "customers": h.unit_customers,
        "new_customers": h.unit_new,
        "churned_customers": h.unit_churned,
        "churn_rate": _ratio(h.unit_churned, np.concatenate([h.unit_customers[:1],
                                                             h.unit_customers[:-1]])),
        "revenue": h.revenue,
        "gross_margin": h.gross_margin,
        "losses": h.losses,
        "market_share": _ratio(h.unit_customers, served),
        "revenue_share": _ratio(h.revenue, need_revenue),
        "contacts": h.contacts,
        "conversions": h.conversions,
        "conversion_rate": _ratio(h.conversions, h.contacts),
        "partner_fees_paid": h.partner_fees,
    }
    for name, values in columns.items():
        frame[name] = np.asarray(values, float).ravel()
    frame.loc[frame["step"] == 0, "churn_rate"] = np.nan
    for name in ("customers", "new_customers", "churned_customers", "contacts", "conversions"):
        frame[name] = whole(frame[name])
    return _tag(frame, arm, replication)


def segment_metrics(h: HistoryLike, segments: list[str], firms: list[str], arm: str = "base",
                    replication: int = 0) -> pd.DataFrame:
    """One row per (step, segment, firm): how much of the segment's wallet each firm captures.

    ``wallet`` is the segment's spend on every need that arose, at reference price (currency per
    step), whoever served it; ``share_of_wallet`` = the part of it bought from the firm (at
    reference price) over the wallet, in [0, 1]. ``addressable_wallet`` is the part of the
    wallet spent on the needs the firm offers in the step, ``captured_wallet`` the part bought
    from the firm (<= addressable). The row ``firm = "all"`` holds the segment's size and the
    share served by any firm (its addressable wallet is the whole wallet).
    """
    frame = _grid(step=list(range(h.segment_wallet.shape[0])), segment=segments,
                  firm=[*firms, "all"])
    revenue = h.segment_revenue.copy()
    revenue[:, :, -1] = revenue[:, :, :-1].sum(axis=2)
    captured = h.segment_captured.copy()
    captured[:, :, -1] = captured[:, :, :-1].sum(axis=2)
    wallet = np.repeat(h.segment_wallet[:, :, None], len(firms) + 1, axis=2)
    frame["customers"] = whole(h.segment_customers.ravel())
    frame["revenue"] = revenue.ravel()
    frame["wallet"] = wallet.ravel()
    frame["share_of_wallet"] = _ratio(captured, wallet).ravel()
    addressable = np.empty_like(wallet)
    addressable[:, :, :-1] = np.einsum("tsk,tfk->tsf", h.segment_need_wallet,
                                       h.offered.astype(float))
    addressable[:, :, -1] = h.segment_need_wallet.sum(axis=2)
    frame["addressable_wallet"] = addressable.ravel()
    frame["captured_wallet"] = captured.ravel()
    return _tag(frame, arm, replication)


def segment_needs(h: HistoryLike, segments: list[str], needs: list[str], arm: str = "base",
                  replication: int = 0) -> pd.DataFrame:
    """One row per (step, segment, need): the segment's wallet split by need.

    ``wallet`` is the reference-price spend of the segment's customers on the need in the step
    (every occasion that arose, whoever served it, the outside option included); summed over
    needs it is ``segment_metrics``' ``wallet``.
    """
    frame = _grid(step=list(range(h.segment_need_wallet.shape[0])), segment=segments,
                  need=needs)
    frame["wallet"] = h.segment_need_wallet.ravel()
    return _tag(frame, arm, replication)


def transactions(h: HistoryLike, firms: list[str], needs: list[str], arm: str = "base",
                 replication: int = 0) -> pd.DataFrame:
    """The whole purchase log a run kept in ``h.transactions``, as ``transaction_frame``.

    Only a model built without a ``transaction_sink`` keeps its log (small runs); the ``ecosim``
    command streams it to Parquet step by step (``ecosim.metrics.transaction_log``).
    """
    rows = np.concatenate(h.transactions) if h.transactions else np.zeros((0, 6))
    return transaction_frame(rows, firms, needs, arm, replication)


def transaction_frame(rows: np.ndarray, firms: list[str], needs: list[str], arm: str = "base",
                      replication: int = 0) -> pd.DataFrame:
    """One row per purchase: customer, step, time (continuous, in steps), need, firm, amount.

    ``rows`` are the kernel's log rows (customer, time, need, firm, amount, margin), any number
    of steps of one replication. ``time`` lies in (step - 1, step]; ``amount`` is what the
    customer paid (currency) and ``margin`` what the firm kept net of losses. Non-contractual
    runs also log, at step 0 and time 0, the trial purchase of every relationship that exists at
    the start (made before the run; amount and margin 0, not simulated). Columns fit the usual
    BG/NBD tools (customer id, time, monetary value); ``need`` and ``firm`` are categoricals
    over ``needs`` and ``firms``.
    """
    frame = pd.DataFrame({
        "customer": rows[:, 0].astype(np.int64),
        "step": np.ceil(rows[:, 1]).astype(np.int64),
        "time": rows[:, 1],
        "need": pd.Categorical.from_codes(rows[:, 2].astype(np.int64), needs),
        "firm": pd.Categorical.from_codes(rows[:, 3].astype(np.int64), firms),
        "amount": rows[:, 4],
        "margin": rows[:, 5],
    })
    return _tag(frame, arm, replication)


def predicted_ltv(margin: float, retention: float, discount_rate: float) -> float:
    """Closed-form LTV of a customer paying ``margin`` each step from acquisition on.

    With survival ``retention`` per step and the margin of the acquisition step counted
    undiscounted (this package's timing convention): ``m (1 + d) / (1 + d - r)``. The textbook
    ``m r / (1 + d - r)`` is the same sum without the acquisition step's margin. With
    ``r = 1`` and ``d = 0`` the sum never ends: NaN (unbounded, as ``summary.run_kpis`` reports
    it), never a division by zero.
    """
    denominator = 1.0 + discount_rate - retention
    return margin * (1.0 + discount_rate) / denominator if denominator > 0 else float("nan")
