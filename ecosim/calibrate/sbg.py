"""The shifted-beta-geometric (sBG) model of contractual retention, fitted to a retention table.

Each customer churns at the end of a period with a constant probability ``theta`` drawn from
``Beta(a, b)`` across customers (Fader & Hardie, 2007). With ``alive[t]`` members of a cohort
still active ``t`` periods after acquisition (``alive[0]`` = acquired),

- ``P(T = t) = B(a + 1, b + t - 1) / B(a, b)``, the probability of churning in period ``t``;
- ``S(t) = B(a, b + t) / B(a, b)``, the probability of still being active after ``t`` periods;

and the log-likelihood of a cohort is ``sum_t (alive[t-1] - alive[t]) ln P(T = t)
+ alive[T] ln S(T)``. Cohorts observed for different lengths add up. In ecosim this is the
``contractual`` lifecycle with ``hazard: {dist: beta, a, b}`` (per step), whose cohort survival is
``S(t)`` (docs/design.md §7).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import betaln

from ecosim.calibrate.columns import numbers, require_columns
from ecosim.calibrate.mle import Fit, maximise, require_events

#: Parameters of the model (``a``, ``b``).
PARAMETERS = 2


def survival(a: float, b: float, ages: np.ndarray | Sequence[int]) -> np.ndarray:
    """``S(t) = B(a, b + t) / B(a, b)``: share of a cohort still active at each age (periods)."""
    ages = np.asarray(ages, float)
    return np.exp(betaln(a, b + ages) - betaln(a, b))


def loglik(a: float, b: float, cohorts: Sequence[np.ndarray]) -> float:
    """Log-likelihood of cohorts, each an array ``alive[0..T]`` (non-increasing counts)."""
    total = 0.0
    base = betaln(a, b)
    for alive in cohorts:
        alive = np.asarray(alive, float)
        if alive.size < 2:
            continue
        t = np.arange(1, alive.size)
        churned = alive[:-1] - alive[1:]
        total += float(np.sum(churned * (betaln(a + 1, b + t - 1) - base)))
        total += float(alive[-1] * (betaln(a, b + t[-1]) - base))
    return total


def cohorts_from_table(table: pd.DataFrame, age: str = "age", alive: str = "alive",
                       cohort: Sequence[str] | None = None) -> list[np.ndarray]:
    """Cohort arrays ``alive[0..T]`` from a long table (one row per cohort and age).

    Args:
        table: a retention table; ecosim's ``cohort_retention`` works as is (filter the firm
            first).
        age, alive: the columns of age (periods since acquisition, from 0) and active count.
        cohort: the columns that identify a cohort (default: every column except ``age``,
            ``alive`` and numeric measures ecosim adds: ``acquired``, ``alive_frac``,
            ``cum_margin_per_acquired``).

    Raises:
        ValueError: a missing column; a blank, non-numeric, negative or fractional count or
            age (``alive`` counts customers: a share of the cohort is refused); a cohort whose
            ages do not run 0, 1, 2, ... once each, or whose counts rise with age.
    """
    measures = {age, alive, "acquired", "alive_frac", "cum_margin_per_acquired"}
    keys = list(cohort) if cohort is not None else [c for c in table.columns if c not in measures]
    require_columns(table, {age: "age in periods since acquisition",
                            alive: "active customers",
                            **{key: "a cohort key" for key in keys}})
    table = table.assign(**{
        age: numbers(table, age, "age in periods since acquisition", integer=True, minimum=0),
        alive: numbers(table, alive, "active customers", integer=True, minimum=0)})
    groups = table.groupby(keys, sort=False, observed=True) if keys else [((), table)]
    cohorts = []
    for name, group in groups:
        values = name if isinstance(name, tuple) else (name,)
        label = ("cohort " + ", ".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
                 if keys else "the cohort")
        ordered = group.sort_values(age)
        ages = ordered[age].to_numpy()
        if np.any(np.diff(ages) == 0):
            raise ValueError(f"{label} has age {ages[np.argmax(np.diff(ages) == 0)]:g} twice: "
                             f"the cohort columns ({', '.join(keys) or 'none'}) do not tell "
                             f"cohorts apart")
        if ages[0] != 0 or not np.array_equal(ages, np.arange(ages.size)):
            raise ValueError(f"{label}: ages must run 0, 1, 2, ... without gaps; got "
                             f"{ages[:8].astype(int).tolist()}")
        counts = ordered[alive].to_numpy(float)
        if np.any(np.diff(counts) > 0):
            raise ValueError(f"{label}: active customers must not increase with age; got "
                             f"{counts[:8].astype(int).tolist()}")
        cohorts.append(counts)
    return cohorts


def fit_sbg(cohorts: Sequence[np.ndarray] | pd.DataFrame, **table_columns: str) -> Fit:
    """Fit the sBG model by maximum likelihood.

    Args:
        cohorts: arrays ``alive[0..T]`` per cohort, or a long table (``cohorts_from_table``).
        **table_columns: column names for ``cohorts_from_table`` when a table is given.

    Returns:
        A ``Fit`` with ``params`` ``{a, b}`` and the ``contractual`` lifecycle block.

    Raises:
        ValueError: bad data (see ``cohorts_from_table``), or fewer than
            ``EVENTS_PER_PARAMETER`` churned customers per parameter.
    """
    if isinstance(cohorts, pd.DataFrame):
        cohorts = cohorts_from_table(cohorts, **table_columns)
    cohorts = [np.asarray(c, float) for c in cohorts]
    if not any(c.size >= 2 and c[0] > c[-1] for c in cohorts):
        raise ValueError("no churn in the data: at least one cohort must lose members")
    churned = int(sum(c[0] - c[-1] for c in cohorts if c.size >= 2))
    require_events(churned, PARAMETERS, "customers churned in the data")
    theta, se, best, converged, message = maximise(lambda p: loglik(p[0], p[1], cohorts),
                                                   np.array([1.0, 1.0]))
    a, b = (float(v) for v in theta)
    return Fit(model="sbg", params={"a": a, "b": b}, se={"a": float(se[0]), "b": float(se[1])},
               loglik=best, n=int(sum(c[0] for c in cohorts)), converged=converged,
               message=message, horizon=float(max(c.size - 1 for c in cohorts)),
               lifecycle={"kind": "contractual", "hazard": {"dist": "beta", "a": a, "b": b}})
