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
from scipy.special import stdtrit  # the t quantile; scipy.stats costs a second import

#: KPIs read at the last step from ``firm_metrics``.
HORIZON_KPIS = ("customers", "new_customers", "churned_customers", "churn_rate", "cac",
                "revenue", "gross_margin", "losses", "profit", "arpu", "products_per_customer",
                "share_of_wallet", "contacts", "conversions")
#: KPIs summed over steps 1..horizon (currency or counts over the whole run).
CUMULATIVE_KPIS = {"cum_revenue": "revenue", "cum_profit": "profit", "cum_contacts": "contacts",
                   "cum_new_customers": "new_customers"}
#: Steps averaged for the LTV estimate at the horizon.
LTV_WINDOW = 12
#: The investment costs of ``firm_metrics`` (0 without investments; absent from older runs).
INVESTMENT_COSTS = ("capex", "opex", "cost_to_serve")
#: KPIs that are already paired differences to the baseline arm, per replication: NaN for the
#: baseline itself, and ``experiment_summary`` gives them no ``diff_*`` of their own.
PAIRED_KPIS = ("justified_investment", "incremental_payback_step",
               "incremental_payback_within_horizon", "incremental_breakeven_step")


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
    half = float(stdtrit(n - 1, 0.5 + level / 2)) * sd / np.sqrt(n)
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

    The investment KPIs (``npv``, costs, payback and break-even steps, and with several arms the
    largest justified investment) are ``investment_kpis``'s.
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
    invest = investment_kpis(firm_metrics, discount_rate)
    for name in invest.columns:
        out[name] = invest[name].reindex(out.index)
    return out.reset_index()


def npv(cash: np.ndarray, steps: np.ndarray, discount_rate: float) -> float:
    """Net present value at step 0 of ``cash`` received at ``steps``: ``Σ cash_t (1 + d)^-t``."""
    cash, steps = np.asarray(cash, float), np.asarray(steps, float)
    return float(np.sum(cash / (1.0 + discount_rate) ** steps))


def payback_step(cash: np.ndarray, steps: np.ndarray, start: float) -> float:
    """The first step ``t >= start`` at which ``Σ_{start <= s <= t} cash_s >= 0``; NaN if none.

    NaN means "not paid back within the horizon" (or no ``start``: NaN), never a payback.
    """
    cash, steps = np.asarray(cash, float), np.asarray(steps)
    if not np.isfinite(start):
        return np.nan
    after = steps >= start
    cumulative = np.cumsum(np.where(after, cash, 0.0))
    hit = np.nonzero(after & (cumulative >= 0))[0]
    return float(steps[hit[0]]) if hit.size else np.nan


def breakeven_step(cash: np.ndarray, steps: np.ndarray, start: float) -> float:
    """The first step ``t >= start`` with ``cash_t >= 0``; NaN if none within the horizon."""
    cash, steps = np.asarray(cash, float), np.asarray(steps)
    if not np.isfinite(start):
        return np.nan
    hit = np.nonzero((steps >= start) & (cash >= 0))[0]
    return float(steps[hit[0]]) if hit.size else np.nan


def _series(firm_metrics: pd.DataFrame, column: str, keys: list[str]) -> pd.DataFrame:
    """One row per (arm, replication, firm), one column per played step (0 if absent)."""
    played = firm_metrics[firm_metrics["step"] > 0]
    values = played[column] if column in played else pd.Series(0.0, index=played.index)
    return values.set_axis(pd.MultiIndex.from_frame(played[keys + ["step"]])).unstack("step")


def investment_kpis(firm_metrics: pd.DataFrame, discount_rate: float) -> pd.DataFrame:
    """Investment economics per (arm, replication, firm) (docs/model.md, "Investment economics").

    Over steps 1..horizon, ``profit`` being net of every investment cost:

    * ``npv`` = ``Σ_t profit_t (1 + d)^-t``; ``cum_capex``, ``cum_opex``, ``cum_cost_to_serve``
      the costs summed;
    * ``payback_step``: from the firm's first step with an investment cost ``t0``, the first
      step at which its cumulative profit since ``t0`` is >= 0 (it credits the firm's whole
      profit, not only what the investment adds); ``breakeven_step``: the first step ``>= t0``
      with profit >= 0; both NaN without an investment or when not reached within the horizon,
      ``payback_within_horizon`` telling the two apart (1.0 / 0.0; NaN without an investment);
    * with several arms, against the first (the baseline), replication by replication:
      ``justified_investment`` = NPV(profit + capex) - NPV(baseline's profit), the most a
      one-off outlay at step 0 could cost for the arm to do as well as the baseline;
      ``incremental_payback_step`` / ``incremental_breakeven_step``: as above on the profit
      difference to the baseline, from the arm's first investment step, with
      ``incremental_payback_within_horizon``; NaN for the baseline itself and for a firm without
      an investment in the arm.
    """
    keys = ["arm", "replication", "firm"]
    profit = _series(firm_metrics, "profit", keys)
    costs = {name: _series(firm_metrics, name, keys) for name in INVESTMENT_COSTS}
    steps = np.asarray(profit.columns, dtype=np.int64)
    spent = sum(costs.values()).to_numpy() > 0
    first = np.where(spent.any(axis=1), steps[np.argmax(spent, axis=1)], np.nan)
    out = pd.DataFrame(index=profit.index)
    out["npv"] = [npv(row, steps, discount_rate) for row in profit.to_numpy()]
    for name, frame in costs.items():
        out[f"cum_{name}"] = frame.sum(axis=1)
    out["payback_step"] = [payback_step(row, steps, t0)
                           for row, t0 in zip(profit.to_numpy(), first, strict=True)]
    out["payback_within_horizon"] = np.where(np.isfinite(first),
                                             np.isfinite(out["payback_step"]), np.nan)
    out["breakeven_step"] = [breakeven_step(row, steps, t0)
                             for row, t0 in zip(profit.to_numpy(), first, strict=True)]
    arms = list(dict.fromkeys(firm_metrics["arm"]))
    if len(arms) > 1:
        before_capex = profit + costs["capex"]
        base = profit.xs(arms[0], level="arm")
        base_npv = pd.Series([npv(row, steps, discount_rate) for row in base.to_numpy()],
                             index=base.index)
        start = pd.Series(first, index=profit.index)
        paired = {name: pd.Series(np.nan, index=profit.index) for name in PAIRED_KPIS}
        for position, (arm, replication, firm) in enumerate(profit.index):
            if arm == arms[0] or (replication, firm) not in base.index:
                continue
            gain = profit.iloc[position].to_numpy() - base.loc[(replication, firm)].to_numpy()
            t0 = start.iloc[position]
            paired["justified_investment"].iloc[position] = (
                npv(before_capex.iloc[position].to_numpy(), steps, discount_rate)
                - base_npv.loc[(replication, firm)])
            if not np.isfinite(t0):
                continue  # no investment in this arm: nothing to pay back
            paid = payback_step(gain, steps, t0)
            paired["incremental_payback_step"].iloc[position] = paid
            paired["incremental_payback_within_horizon"].iloc[position] = float(np.isfinite(paid))
            paired["incremental_breakeven_step"].iloc[position] = breakeven_step(gain, steps, t0)
        for name, values in paired.items():
            out[name] = values
    return out


def experiment_summary(kpis: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """One row per (arm, firm, kpi): mean, sd, 95% CI, n, and the paired difference to baseline.

    ``diff_*`` columns summarise ``kpi(arm, r) - kpi(baseline, r)`` over replications r (NaN for
    the baseline itself, for ``PAIRED_KPIS``, which already are such differences, and for a firm
    that an arm adds and the baseline does not have); ``baseline`` defaults to the first arm.
    """
    arms = list(dict.fromkeys(kpis["arm"]))
    baseline = arms[0] if baseline is None else baseline
    value_columns = [c for c in kpis.columns if c not in ("arm", "replication", "firm")]
    base = kpis[kpis["arm"] == baseline].set_index(["firm", "replication"])
    base_firms = set(base.index.get_level_values("firm"))
    rows = []
    for (arm, firm), group in kpis.groupby(["arm", "firm"], sort=False):
        paired = group.set_index("replication")
        for kpi in value_columns:
            mean, sd, low, high, n = mean_ci(paired[kpi].to_numpy())
            row = {"arm": arm, "firm": firm, "kpi": kpi, "mean": mean, "sd": sd, "ci_low": low,
                   "ci_high": high, "n": n, "diff_mean": np.nan, "diff_sd": np.nan,
                   "diff_ci_low": np.nan, "diff_ci_high": np.nan}
            if arm != baseline and kpi not in PAIRED_KPIS and firm in base_firms:
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
    table = kpis[kpis["firm"] == firm].pivot(index="replication", columns="arm", values=kpi)
    rows = []
    for name in names:
        value, total = shapley_parts(table, factors, name)
        mean, sd, low, high, count = mean_ci(value)
        rows.append({"factor": name, "firm": firm, "kpi": kpi, "mean": mean, "sd": sd,
                     "ci_low": low, "ci_high": high, "n": count})
    shares = pd.DataFrame(rows)
    shares["share_of_uplift"] = shares["mean"] / float(np.nanmean(total))
    return shares


def shapley_parts(table: pd.DataFrame, factors: dict[str, list[str]],
                  factor: str) -> tuple[np.ndarray, np.ndarray]:
    """Per replication: the Shapley contribution of ``factor`` and the whole uplift.

    ``table`` has one row per replication and one column per arm of ``factors``.
    """
    names = sorted({f for fs in factors.values() for f in fs})
    arm_of = {frozenset(fs): arm for arm, fs in factors.items()}
    others = [f for f in names if f != factor]
    n = len(names)
    value = np.zeros(len(table))
    for size in range(n):
        weight = factorial(size) * factorial(n - size - 1) / factorial(n)
        for coalition in combinations(others, size):
            without = frozenset(coalition)
            value += weight * (table[arm_of[without | {factor}]].to_numpy(float)
                               - table[arm_of[without]].to_numpy(float))
    total = (table[arm_of[frozenset(names)]].to_numpy(float)
             - table[arm_of[frozenset()]].to_numpy(float))
    return value, total
