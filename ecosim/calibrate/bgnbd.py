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

from ecosim.calibrate.columns import numbers, require_columns, where
from ecosim.calibrate.mle import Fit, maximise, require_events

#: Days in one step of each ``time.step_unit`` (a month is a twelfth of a Julian year).
DAYS_PER_STEP = {"day": 1.0, "week": 7.0, "month": 365.25 / 12, "year": 365.25}
#: Parameters of the model (``r``, ``alpha``, ``a``, ``b``).
PARAMETERS = 4


def looks_like_yyyymmdd(values: np.ndarray) -> bool:
    """Whether numbers are all whole and all read as valid ``YYYYMMDD`` dates (e.g. 20240105)."""
    values = np.asarray(values, float)
    if values.size == 0 or not np.isfinite(values).all() or (values != np.round(values)).any():
        return False
    if values.min() < 1000_01_01 or values.max() > 9999_12_31:
        return False
    text = pd.Series(values.astype(np.int64).astype(str))
    return bool(pd.to_datetime(text, format="%Y%m%d", errors="coerce").notna().all())


def _steps(log: pd.DataFrame, date: str, step_unit: str | None, date_format: str | None,
           end: str | float | None) -> tuple[np.ndarray, float]:
    """Purchase times and the end of observation, in steps from the first purchase in the log."""
    times = log[date]
    head = f"column {date!r} (purchase dates)"
    if pd.api.types.is_numeric_dtype(times) and date_format is None:
        steps = numbers(log, date, "purchase times")
        if looks_like_yyyymmdd(steps):
            raise ValueError(f"{head}: numbers like {int(steps[0])} look like YYYYMMDD dates, "
                             f"not step numbers; read them as dates with a date format "
                             f"(--date-format %Y%m%d)")
        if step_unit is not None:
            raise ValueError(f"{head} holds step numbers, so a step unit ({step_unit}) would "
                             f"be ignored; give it only with dates or timestamps")
        try:
            end_step = float(end) if end is not None else float(steps.max())
        except ValueError:
            raise ValueError(f"end of observation {end!r}: expected a number of steps, like "
                             f"the column {date!r}") from None
        return steps, end_step
    blank = times.isna()
    if blank.any():
        raise ValueError(f"{head}: blank in {where(log, times.index[int(np.argmax(blank))])}; "
                         f"every purchase needs a date")
    text = times
    if date_format is not None:  # numbers like 20240105 read as their digits
        whole = pd.api.types.is_numeric_dtype(times) and bool((times == times.round()).all())
        text = times.round().astype(np.int64).astype(str) if whole else times.astype(str)
    stamps = pd.to_datetime(text, format=date_format, errors="coerce")
    unread = stamps.isna()
    if unread.any():
        label = times.index[int(np.argmax(unread.to_numpy()))]
        how = f"with the format {date_format!r}" if date_format else "as a date"
        raise ValueError(f"{head}: cannot read {times[label]!r} in {where(log, label)} {how}")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    origin = stamps.min()
    days_per_step = DAYS_PER_STEP[step_unit or "month"]
    steps = ((stamps - origin) / pd.Timedelta(days=1)).to_numpy(float) / days_per_step
    if end is None:
        last = stamps.max()
    else:
        last = pd.to_datetime(str(end), format=date_format, errors="coerce")
        if pd.isna(last):
            raise ValueError(f"end of observation {end!r}: not a date like those in {date!r}")
        if last.tzinfo is not None:
            last = last.tz_localize(None)
    end_step = (last - origin) / pd.Timedelta(days=1) / days_per_step
    return steps, end_step


def summarise(log: pd.DataFrame, customer: str = "customer", date: str = "date",
              step_unit: str | None = None, end: str | float | None = None,
              date_format: str | None = None) -> pd.DataFrame:
    """Per customer ``x``, ``t_x`` and ``T`` (in steps) from a transaction log.

    Args:
        log: one row per purchase.
        customer: the column identifying the customer.
        date: the column of purchase times: dates or timestamps (converted to steps with
            ``step_unit``), or numbers already in steps (as ecosim's ``transactions.time``).
            Purchases at the same time count once (a day's purchases, for plain dates).
            Whole numbers that all read as ``YYYYMMDD`` dates are refused as step numbers:
            give ``date_format="%Y%m%d"`` to read them as dates.
        step_unit: the period the rates are per, for dates: day, week, month (the default) or
            year. Refused with step numbers, where it would be ignored.
        end: the end of observation (default: the last purchase in the log).
        date_format: a ``strftime`` format for the dates (default: inferred; numbers are steps).

    Returns:
        A table indexed by customer with columns ``x``, ``t_x``, ``T``.

    Raises:
        ValueError: a missing column, a blank or unreadable value (named with its row), or an
            end of observation before the last purchase.
    """
    require_columns(log, {customer: "customer ids", date: "purchase dates"})
    if step_unit is not None and step_unit not in DAYS_PER_STEP:
        raise ValueError(f"step unit {step_unit!r}: expected one of {', '.join(DAYS_PER_STEP)}")
    ids = log[customer]
    if ids.isna().any():
        label = ids.index[int(np.argmax(ids.isna().to_numpy()))]
        raise ValueError(f"column {customer!r} (customer ids): blank in {where(log, label)}")
    steps, end_step = _steps(log, date, step_unit, date_format, end)
    frame = pd.DataFrame({"customer": ids.to_numpy(), "time": steps})
    frame = frame.drop_duplicates()
    grouped = frame.groupby("customer", sort=True)["time"]
    first, last, count = grouped.min(), grouped.max(), grouped.size()
    if end_step < float(last.max()):
        raise ValueError(f"end of observation {end!r} falls before the last purchase in "
                         f"{date!r}")
    summary = pd.DataFrame({"x": count - 1, "t_x": last - first, "T": end_step - first})
    summary.index.name = "customer"
    return summary


def check_summary(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x``, ``t_x`` and ``T`` of a summary, refusing values no purchase history can have.

    ``x`` (repeat purchases) must be a whole number >= 0, ``t_x`` (recency: time of the last
    purchase after the first) >= 0 and ``T`` (time observed since the first purchase) >= t_x.

    Raises:
        ValueError: naming the column, the row and the value.
    """
    x = numbers(summary, "x", "repeat purchases", integer=True, minimum=0)
    t_x = numbers(summary, "t_x", "time of the last purchase after the first", minimum=0)
    big_t = numbers(summary, "T", "time observed after the first purchase", minimum=0)
    early = big_t < t_x
    if early.any():
        i = int(np.argmax(early))
        raise ValueError(f"column 'T' (time observed after the first purchase): {big_t[i]:g} in "
                         f"{where(summary, summary.index[i])} is before its last purchase "
                         f"(t_x = {t_x[i]:g}); expected T >= t_x")
    lonely = (x == 0) & (t_x > 0)
    if lonely.any():
        i = int(np.argmax(lonely))
        raise ValueError(f"column 't_x' (time of the last purchase after the first): "
                         f"{t_x[i]:g} in {where(summary, summary.index[i])} with no repeat "
                         f"purchase (x = 0); expected t_x = 0 when x = 0")
    return x, t_x, big_t


def loglik_per_customer(r: float | np.ndarray, alpha: float | np.ndarray, a: float, b: float,
                        x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """BG/NBD log-likelihood of each customer summarised as ``(x, t_x, T)``.

    ``r`` and ``alpha`` may be arrays, one per customer (a customer's posterior after their
    first purchase, for instance).
    """
    x, t_x, big_t = (np.asarray(v, float) for v in (x, t_x, big_t))
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped = np.where(
            x > 0,
            betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b)
            - (r + x) * np.log(alpha + t_x),
            -np.inf)
    return head + np.logaddexp(alive, dropped)


def loglik(r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray,
           big_t: np.ndarray) -> float:
    """Total BG/NBD log-likelihood of customers summarised as ``(x, t_x, T)``."""
    return float(np.sum(loglik_per_customer(r, alpha, a, b, x, t_x, big_t)))


def fit_bgnbd(data: pd.DataFrame, **log_columns: str) -> Fit:
    """Fit the BG/NBD model by maximum likelihood.

    Args:
        data: either a summary with columns ``x``, ``t_x``, ``T`` (``summarise``; checked with
            ``check_summary``) or a transaction log, summarised with ``log_columns``
            (``customer``, ``date``, ``step_unit``, ``end``, ``date_format``).

    Returns:
        A ``Fit`` with ``params`` ``{r, alpha, a, b}`` (``alpha`` per step) and the
        ``noncontractual`` lifecycle block.

    Raises:
        ValueError: bad data (see ``summarise`` and ``check_summary``), or fewer than
            ``EVENTS_PER_PARAMETER`` customers with a repeat purchase per parameter.
    """
    summary = data if {"x", "t_x", "T"} <= set(data.columns) else summarise(data, **log_columns)
    x, t_x, big_t = check_summary(summary)
    if not (x > 0).any():
        raise ValueError("no repeat purchases in the data: BG/NBD cannot be fitted")
    require_events(int((x > 0).sum()), PARAMETERS, "customers with a repeat purchase")
    start = np.array([1.0, max(float(big_t.mean()) / max(float(x.mean()), 1e-3), 1e-3), 1.0, 1.0])
    theta, se, best, converged, message = maximise(lambda p: loglik(*p, x, t_x, big_t), start)
    r, alpha, a, b = (float(v) for v in theta)
    names = ("r", "alpha", "a", "b")
    return Fit(model="bgnbd", params=dict(zip(names, (r, alpha, a, b), strict=True)),
               se={n: float(s) for n, s in zip(names, se, strict=True)}, loglik=best,
               n=len(summary), converged=converged, message=message,
               horizon=float(big_t.max()),
               lifecycle={"kind": "noncontractual",
                          "rate": {"dist": "gamma", "shape": r, "scale": 1.0 / alpha},
                          "dropout": {"dist": "beta", "a": a, "b": b}})
