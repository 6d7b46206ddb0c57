"""Summaries over replications: mean, sd and a t-based 95% confidence interval per KPI."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

#: KPIs summarised at the horizon, from ``firm_metrics``.
HORIZON_KPIS = ("customers", "new_customers", "churned_customers", "churn_rate", "cac",
                "revenue", "gross_margin", "losses", "profit", "arpu", "products_per_customer",
                "share_of_wallet")


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float, float, int]:
    """Mean, sd, and the t interval of the mean of independent replications (NaN-aware).

    Returns ``(mean, sd, ci_low, ci_high, n)``; with fewer than two finite values the sd and the
    interval are NaN (a single replication says nothing about sampling error).
    """
    finite = np.asarray(values, float)
    finite = finite[np.isfinite(finite)]
    n = finite.size
    if n == 0:
        return np.nan, np.nan, np.nan, np.nan, 0
    mean = float(finite.mean())
    if n < 2:
        return mean, np.nan, np.nan, np.nan, n
    sd = float(finite.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / np.sqrt(n)
    return mean, sd, mean - half, mean + half, n


def horizon_summary(firm_metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (arm, firm, kpi) at the last step: mean, sd, ci_low, ci_high, n."""
    last = firm_metrics[firm_metrics["step"] == firm_metrics["step"].max()]
    rows = []
    for (arm, firm), group in last.groupby(["arm", "firm"], sort=False, observed=True):
        for kpi in HORIZON_KPIS:
            mean, sd, low, high, n = mean_ci(group[kpi].to_numpy())
            rows.append({"arm": arm, "firm": firm, "kpi": kpi, "mean": mean, "sd": sd,
                         "ci_low": low, "ci_high": high, "n": n})
    return pd.DataFrame(rows)
