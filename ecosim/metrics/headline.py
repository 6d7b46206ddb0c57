"""An experiment's headline number and the verdict on the practitioners' claim.

The headline (``experiment.headline``) is computed replication by replication on common random
numbers, so its 95 % interval measures **simulation noise** only: how much the number would move
with other draws of the same market. How much it moves when the *assumptions* move is the
robustness table's job (``ecosim.robustness``); ``verdict`` reads both and says how far the
answer can be trusted.

Every kind is a ratio of means ``R = mean(a) / mean(b)`` over replications (``b = 1`` for an
effect), with the delta-method interval: ``R ± t sd(z) / sqrt(n)``, ``z_r = (a_r - R b_r) /
mean(b)`` (exact for ``b = 1``: the paired t interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecosim.config.schema import ClaimTestConfig, ExperimentConfig
from ecosim.metrics.summary import mean_ci, shapley_parts


@dataclass(frozen=True)
class Headline:
    """The headline's mean and its 95 % interval over ``n`` replications (simulation noise)."""

    value: float
    low: float
    high: float
    n: int

    @property
    def has_interval(self) -> bool:
        """Whether the interval exists (it needs two replications)."""
        return math.isfinite(self.low) and math.isfinite(self.high)


def headline_arms(exp: ExperimentConfig) -> list[str]:
    """The arms the headline needs, in the order the experiment declares them."""
    head = exp.headline
    if head.kind == "share":
        wanted = set(exp.factors)
    else:
        wanted = {head.arm, head.baseline or next(iter(exp.arms))}
    return [arm for arm in exp.arms if arm in wanted]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> Headline:
    keep = np.isfinite(numerator) & np.isfinite(denominator)
    a, b = numerator[keep], denominator[keep]
    n = int(a.size)
    if n == 0 or b.mean() == 0:
        return Headline(math.nan, math.nan, math.nan, n)
    value = float(a.mean() / b.mean())
    _, _, low, high, _ = mean_ci((a - value * b) / b.mean())
    return Headline(value, float(value + low), float(value + high), n)


def compute_headline(kpis: pd.DataFrame, exp: ExperimentConfig) -> Headline:
    """The headline of a run from its KPIs per (arm, replication, firm) (``RunResult.kpis``).

    Raises:
        KeyError: when the table lacks an arm, the firm or the KPI the headline needs.
    """
    head = exp.headline
    firm = head.firm or exp.focus_firm
    rows = kpis[kpis["firm"] == firm]
    table = rows.pivot(index="replication", columns="arm", values=head.kpi)
    missing = [arm for arm in headline_arms(exp) if arm not in table.columns]
    if missing:
        raise KeyError(f"the run has no arm {', '.join(missing)} for the headline")
    if head.kind == "share":
        contribution, total = shapley_parts(table, exp.factors, head.factor)
        return _ratio(contribution, total)
    baseline = table[head.baseline or next(iter(exp.arms))].to_numpy(float)
    diff = table[head.arm].to_numpy(float) - baseline
    if head.kind == "relative_effect":
        return _ratio(diff, baseline)
    return _ratio(diff, np.ones_like(diff))


@dataclass(frozen=True)
class Verdict:
    """Whether the claim holds at the default assumptions, and how sure the model is.

    ``holds``: the headline satisfies the claim's condition (None: no claim test).
    ``confidence``: "high" when neither the simulation noise nor the assumptions' range reach
    across the claim's threshold; "medium" when only the assumptions do (the answer depends on
    them); "low" when the noise interval itself straddles it.
    """

    holds: bool | None
    confidence: str
    noise_crosses: bool
    assumptions_cross: bool | None  # None: robustness was not run


def satisfies(value: float, test: ClaimTestConfig) -> bool:
    """Whether ``value`` meets the claim's condition."""
    return value <= test.value if test.op == "<=" else value >= test.value


def verdict(headline: Headline, test: ClaimTestConfig,
            assumption_range: tuple[float, float] | None = None) -> Verdict:
    """The verdict on the claim from the headline and, if run, its range over assumptions."""
    if not test.op or not math.isfinite(headline.value):
        return Verdict(None, "n/a", False, None)
    holds = satisfies(headline.value, test)

    def crosses(low: float, high: float) -> bool:
        return bool(math.isfinite(low) and math.isfinite(high)
                    and satisfies(low, test) != satisfies(high, test))

    noise = crosses(headline.low, headline.high) if headline.has_interval else True
    over = None if assumption_range is None else crosses(*assumption_range)
    confidence = "low" if noise else "medium" if over else "high"
    return Verdict(holds, confidence, noise, over)


def assumption_range(table: pd.DataFrame) -> tuple[float, float] | None:
    """The headline's range over every variant and the default: the interval over assumptions."""
    if table.empty or len(table) < 2:
        return None
    values = table["value"].to_numpy(float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    return float(values.min()), float(values.max())


def dominant(table: pd.DataFrame, count: int = 2) -> list[str]:
    """The assumptions whose low-to-high swing moves the headline most, largest first."""
    tornado = table[table["design"] == "tornado"]
    swing = tornado.groupby("assumption")["value"].agg(lambda v: v.max() - v.min())
    return list(swing.sort_values(ascending=False).index[:count])
