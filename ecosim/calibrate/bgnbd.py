"""The BG/NBD model of non-contractual purchasing, fitted to a transaction log.

While active, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, rate alpha)``
per period; after each repeat purchase they become inactive with probability ``p ~ Beta(a, b)``
(Fader, Hardie & Lee, 2005). A customer's history is summarised by ``x`` (repeat purchases after
the first), ``t_x`` (time of the last purchase) and ``T`` (time observed), both measured from the
first purchase, in periods. The likelihood of one customer is

``Γ(r + x) α^r / Γ(r) · [B(a, b + x) / B(a, b) · (α + T)^-(r + x)
+ 1{x > 0} · B(a + 1, b + x - 1) / B(a, b) · (α + t_x)^-(r + x)]``.

In ecosim this is the ``noncontractual`` lifecycle with ``rate: {dist: gamma, shape: r, scale:
1 / alpha}`` and ``dropout: {dist: beta, a, b}``, per step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betaln, gammaln

from ecosim.calibrate.mle import Fit, maximise

#: Days in one step of each ``time.step_unit`` (a month is a twelfth of a Julian year).
DAYS_PER_STEP = {"day": 1.0, "week": 7.0, "month": 365.25 / 12, "year": 365.25}


def summarise(log: pd.DataFrame, customer: str = "customer", date: str = "date",
              step_unit: str = "month", end: str | float | None = None) -> pd.DataFrame:
    """Per customer ``x``, ``t_x`` and ``T`` (in steps) from a transaction log.

    Args:
        log: one row per purchase.
        customer: the column identifying the customer.
        date: the column of purchase times: dates or timestamps (converted to steps with
            ``step_unit``), or numbers already in steps (as ecosim's ``transactions.time``).
            Purchases at the same time count once (a day's purchases, for plain dates).
        step_unit: the period the rates are per: day, week, month or year.
        end: the end of observation (default: the last purchase in the log).

    Returns:
        A table indexed by customer with columns ``x``, ``t_x``, ``T``.
    """
    times = log[date]
    if pd.api.types.is_numeric_dtype(times):
        steps = times.to_numpy(float)
        end_step = float(end) if end is not None else float(steps.max())
    else:
        stamps = pd.to_datetime(times)
        origin = stamps.min()
        days_per_step = DAYS_PER_STEP[step_unit]
        steps = ((stamps - origin) / pd.Timedelta(days=1)).to_numpy(float) / days_per_step
        last = pd.Timestamp(end) if end is not None else stamps.max()
        end_step = (last - origin) / pd.Timedelta(days=1) / days_per_step
    frame = pd.DataFrame({"customer": log[customer].to_numpy(), "time": steps})
    frame = frame.drop_duplicates()
    grouped = frame.groupby("customer", sort=True)["time"]
    first, last, count = grouped.min(), grouped.max(), grouped.size()
    summary = pd.DataFrame({"x": count - 1, "t_x": last - first, "T": end_step - first})
    if (summary["T"] < summary["t_x"]).any():
        raise ValueError("the end of observation falls before some purchases")
    return summary


def loglik(r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray,
           big_t: np.ndarray) -> float:
    """Total BG/NBD log-likelihood of customers summarised as ``(x, t_x, T)``."""
    x = np.asarray(x, float)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped = np.where(
            x > 0,
            betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b)
            - (r + x) * np.log(alpha + t_x),
            -np.inf)
    return float(np.sum(head + np.logaddexp(alive, dropped)))


def fit_bgnbd(data: pd.DataFrame, **log_columns: str) -> Fit:
    """Fit the BG/NBD model by maximum likelihood.

    Args:
        data: either a summary with columns ``x``, ``t_x``, ``T`` (``summarise``) or a
            transaction log, summarised with ``log_columns`` (``customer``, ``date``,
            ``step_unit``, ``end``).

    Returns:
        A ``Fit`` with ``params`` ``{r, alpha, a, b}`` (``alpha`` per step) and the
        ``noncontractual`` lifecycle block.
    """
    summary = data if {"x", "t_x", "T"} <= set(data.columns) else summarise(data, **log_columns)
    x, t_x, big_t = (summary[c].to_numpy(float) for c in ("x", "t_x", "T"))
    if not (x > 0).any():
        raise ValueError("no repeat purchases in the data: BG/NBD cannot be fitted")
    start = np.array([1.0, max(float(big_t.mean()) / max(float(x.mean()), 1e-3), 1e-3), 1.0, 1.0])
    theta, se, best, converged = maximise(lambda p: loglik(*p, x, t_x, big_t), start)
    r, alpha, a, b = (float(v) for v in theta)
    names = ("r", "alpha", "a", "b")
    return Fit(model="bgnbd", params=dict(zip(names, (r, alpha, a, b), strict=True)),
               se={n: float(s) for n, s in zip(names, se, strict=True)}, loglik=best,
               n=len(summary), converged=converged,
               lifecycle={"kind": "noncontractual",
                          "rate": {"dist": "gamma", "shape": r, "scale": 1.0 / alpha},
                          "dropout": {"dist": "beta", "a": a, "b": b}})
