"""KPIs per firm over time, for the page's charts: the means over replications of one arm.

Customers, revenue, profit, churn rate and CAC are ``firm_metrics``'s columns. LTV over time is
the experiment's own LTV (``ecosim.metrics.summary.run_kpis``) computed at every step instead of
at the horizon only: over the ``LTV_WINDOW`` steps that end at step t (fewer at the start), the
contribution per customer ``m`` and the retention ``r`` give ``m (1 + d) / (1 + d - r)``. At the
horizon it equals ``run_kpis``'s ``ltv`` of each replication; steps where retention never falls
short of ``1 + d`` have no finite LTV (NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecosim.metrics.summary import LTV_WINDOW

#: The page's KPIs: column -> (label, unit on the axis).
KPIS = {
    "customers": ("customers", "customers"),
    "revenue": ("revenue", "money per step"),
    "profit": ("profit", "money per step"),
    "churn_rate": ("churn rate", "% of customers per step"),
    "cac": ("CAC", "money per new customer"),
    "ltv": ("LTV", "money per customer"),
}


def ltv_over_time(firm_metrics: pd.DataFrame, discount_rate: float) -> pd.Series:
    """Predicted LTV at each row's step over the trailing ``LTV_WINDOW`` steps (money/customer).

    Computed per (arm, replication, firm); step 0 (nothing played yet) is NaN.
    """
    frame = firm_metrics.sort_values(["arm", "replication", "firm", "step"])
    played = frame["step"] > 0
    parts = pd.DataFrame({
        "contribution": frame["gross_margin"] - frame["losses"] + frame["partner_fees"],
        "customers": frame["customers"],
        "churned": frame["churned_customers"],
        "new": frame["new_customers"],
    }).where(played, 0.0)
    keys = [frame["arm"], frame["replication"], frame["firm"]]
    sums = parts.groupby(keys, sort=False).rolling(LTV_WINDOW, min_periods=1).sum()
    sums.index = sums.index.get_level_values(-1)
    sums = sums.reindex(frame.index)
    start = sums["customers"] - sums["new"] + sums["churned"]
    margin = sums["contribution"] / sums["customers"].where(sums["customers"] > 0)
    retention = 1.0 - sums["churned"] / start.where(start > 0)
    denominator = 1.0 + discount_rate - retention
    ltv = margin * (1.0 + discount_rate) / denominator.where(denominator > 0)
    return ltv.where(played).reindex(firm_metrics.index)


def firm_series(firm_metrics: pd.DataFrame, discount_rate: float, arm: str) -> pd.DataFrame:
    """One row per (step, firm) of ``arm``: each KPI of ``KPIS``, mean over replications.

    The churn rate is in percent; NaN values (no new customer for a CAC) are left out of the
    mean, so a step where no replication has a value stays NaN.
    """
    frame = firm_metrics[firm_metrics["arm"] == arm].copy()
    frame["ltv"] = ltv_over_time(frame, discount_rate)
    frame["churn_rate"] = 100.0 * frame["churn_rate"]
    frame = frame.replace([np.inf, -np.inf], np.nan)
    out = frame.groupby(["step", "firm"], sort=False)[list(KPIS)].mean().reset_index()
    return out.sort_values(["firm", "step"], kind="stable").reset_index(drop=True)
