"""Summaries over replications: KPIs per run, means with 95% CIs, paired arm differences, Shapley.

Replications are independent, so a KPI's interval is the t interval of its mean. Arms of an
experiment share random numbers replication by replication (common random numbers), so the
difference between an arm and the baseline is computed *within* each replication and then
summarised: its interval is much narrower than the two arms' intervals would suggest.
"""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
from scipy import stats

#: KPIs read at the last step from ``firm_metrics``.
HORIZON_KPIS = ("customers", "new_customers", "churned_customers", "churn_rate", "cac",
                "revenue", "gross_margin", "losses", "profit", "arpu", "products_per_customer",
                "share_of_wallet", "contacts", "conversions")
#: KPIs summed over steps 1..horizon (currency or counts over the whole run).
CUMULATIVE_KPIS = {"cum_revenue": "revenue", "cum_profit": "profit", "cum_contacts": "contacts",
                   "cum_new_customers": "new_customers"}
#: Steps averaged for the LTV estimate at the horizon.
LTV_WINDOW = 12


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


def run_kpis(firm_metrics: pd.DataFrame, discount_rate: float) -> pd.DataFrame:
    """One row per (arm, replication, firm) with every KPI of ``schema.EXPERIMENT_KPIS``.

    ``ltv`` is predicted from the last ``LTV_WINDOW`` steps: contribution per customer ``m`` and
    retention ``r = 1 - churn_rate`` give ``m (1 + d) / (1 + d - r)`` (the package's timing
    convention); ``ltv_cac`` divides it by marketing spend per new customer over the same window.
    ``conversion_rate`` is cross-sell conversions per contact over the whole run.

    With no churn in the window and ``discount_rate = 0`` (``1 + d - r = 0``) the LTV is the
    undiscounted sum of ``m`` over a lifetime that never ends: unbounded, not a number. Such a
    row gets ``ltv`` and ``ltv_cac`` NaN (reported as not defined, never inf) and the flag
    ``ltv_unbounded`` 1.0 (else 0.0), which tells it from an LTV that is NaN for want of data
    (no customers); summarised over replications, the flag is the share of them affected.
    """
    keys = ["arm", "replication", "firm"]
    last_step = firm_metrics["step"].max()
    played = firm_metrics[firm_metrics["step"] > 0]
    out = firm_metrics[firm_metrics["step"] == last_step][keys + list(HORIZON_KPIS)]
    out = out.set_index(keys)
    sums = played.groupby(keys, sort=False)[list(set(CUMULATIVE_KPIS.values()) |
                                               {"conversions"})].sum()
    for name, column in CUMULATIVE_KPIS.items():
        out[name] = sums[column]
    out["conversion_rate"] = sums["conversions"] / sums["contacts"].where(sums["contacts"] > 0)
    window = played[played["step"] > last_step - LTV_WINDOW].copy()
    window["contribution"] = (window["gross_margin"] - window["losses"]
                              + window["partner_fees"])
    w = window.groupby(keys, sort=False)[["contribution", "customers", "churned_customers",
                                          "marketing_spend", "new_customers"]].sum()
    start = w["customers"] - window.groupby(keys, sort=False)["new_customers"].sum() \
        + w["churned_customers"]
    margin = w["contribution"] / w["customers"].where(w["customers"] > 0)
    retention = 1.0 - w["churned_customers"] / start.where(start > 0)
    denominator = 1.0 + discount_rate - retention
    unbounded = denominator <= 0.0
    out["ltv"] = margin * (1.0 + discount_rate) / denominator.where(~unbounded)
    out["ltv_unbounded"] = unbounded.reindex(out.index, fill_value=False).astype(float)
    cac = w["marketing_spend"] / w["new_customers"].where(w["new_customers"] > 0)
    out["ltv_cac"] = out["ltv"] / cac.where(cac > 0)
    return out.reset_index()


def experiment_summary(kpis: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """One row per (arm, firm, kpi): mean, sd, 95% CI, n, and the paired difference to baseline.

    ``diff_*`` columns summarise ``kpi(arm, r) - kpi(baseline, r)`` over replications r (NaN for
    the baseline itself); ``baseline`` defaults to the first arm.
    """
    arms = list(dict.fromkeys(kpis["arm"]))
    baseline = arms[0] if baseline is None else baseline
    value_columns = [c for c in kpis.columns if c not in ("arm", "replication", "firm")]
    base = kpis[kpis["arm"] == baseline].set_index(["firm", "replication"])
    rows = []
    for (arm, firm), group in kpis.groupby(["arm", "firm"], sort=False):
        paired = group.set_index("replication")
        for kpi in value_columns:
            mean, sd, low, high, n = mean_ci(paired[kpi].to_numpy())
            row = {"arm": arm, "firm": firm, "kpi": kpi, "mean": mean, "sd": sd, "ci_low": low,
                   "ci_high": high, "n": n, "diff_mean": np.nan, "diff_sd": np.nan,
                   "diff_ci_low": np.nan, "diff_ci_high": np.nan}
            if arm != baseline:
                reference = base.loc[firm, kpi].reindex(paired.index)
                d_mean, d_sd, d_low, d_high, _ = mean_ci((paired[kpi] - reference).to_numpy())
                row.update(diff_mean=d_mean, diff_sd=d_sd, diff_ci_low=d_low,
                           diff_ci_high=d_high)
            rows.append(row)
    return pd.DataFrame(rows)


def shapley_split(kpis: pd.DataFrame, factors: dict[str, list[str]], firm: str,
                  kpi: str) -> pd.DataFrame:
    """Shapley split of the uplift of ``kpi`` over the arm with no factor, per factor.

    ``factors`` maps each arm to the factors it switches on and covers every subset. Values are
    computed replication by replication (paired) and summarised with 95% CIs; they add up to the
    uplift of the arm with every factor on.
    """
    names = sorted({f for fs in factors.values() for f in fs})
    arm_of = {frozenset(fs): arm for arm, fs in factors.items()}
    table = kpis[kpis["firm"] == firm].pivot(index="replication", columns="arm", values=kpi)
    n = len(names)
    rows = []
    for name in names:
        others = [f for f in names if f != name]
        value = pd.Series(0.0, index=table.index)
        for size in range(n):
            weight = factorial(size) * factorial(n - size - 1) / factorial(n)
            for coalition in combinations(others, size):
                without = frozenset(coalition)
                value += weight * (table[arm_of[without | {name}]] - table[arm_of[without]])
        mean, sd, low, high, count = mean_ci(value.to_numpy())
        rows.append({"factor": name, "firm": firm, "kpi": kpi, "mean": mean, "sd": sd,
                     "ci_low": low, "ci_high": high, "n": count})
    total = table[arm_of[frozenset(names)]] - table[arm_of[frozenset()]]
    shares = pd.DataFrame(rows)
    shares["share_of_uplift"] = shares["mean"] / float(total.mean())
    return shares
