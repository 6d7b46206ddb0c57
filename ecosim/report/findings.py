"""The findings of a run, computed from its summary: who wins, by how much, and how sure we are.

Figure titles and the report's "answer in two sentences" are written from these functions, so a
slide and the report never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from ecosim.report.data import ReportData
from ecosim.report.labels import (
    display_name,
    format_difference,
    format_value,
    is_better,
    kpi_info,
    names_of,
    unit,
)


@dataclass(frozen=True)
class Effect:
    """The paired difference of a KPI between an arm and the baseline, for one firm.

    ``diff``, ``low`` and ``high`` are the mean and 95% CI over replications of
    ``kpi(arm, r) - kpi(baseline, r)``; ``n`` is the number of replications.
    """

    arm: str
    firm: str
    kpi: str
    baseline_mean: float
    mean: float
    diff: float
    low: float
    high: float
    n: int

    @property
    def has_interval(self) -> bool:
        """Whether the CI exists (it needs two replications)."""
        return math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def excludes_zero(self) -> bool:
        """Whether the 95% CI of the difference lies entirely on one side of zero."""
        return self.has_interval and (self.low > 0 or self.high < 0)

    @property
    def better(self) -> bool | None:
        """Whether the arm is better than the baseline for the firm (None: no good direction)."""
        return is_better(self.kpi, self.diff)


def kpi_mean(summary: pd.DataFrame, arm: str, firm: str, kpi: str) -> float:
    """The mean of a KPI over replications (NaN when the summary lacks it)."""
    rows = summary[(summary["arm"] == arm) & (summary["firm"] == firm) & (summary["kpi"] == kpi)]
    return float(rows["mean"].iloc[0]) if len(rows) else math.nan


def arm_effects(summary: pd.DataFrame, firm: str, kpi: str, arms: list[str]) -> list[Effect]:
    """The effect of every arm but the first (the baseline) on ``kpi`` of ``firm``."""
    base = kpi_mean(summary, arms[0], firm, kpi)
    rows = summary[(summary["firm"] == firm) & (summary["kpi"] == kpi)].set_index("arm")
    return [Effect(arm=arm, firm=firm, kpi=kpi, baseline_mean=base,
                   mean=float(rows.at[arm, "mean"]), diff=float(rows.at[arm, "diff_mean"]),
                   low=float(rows.at[arm, "diff_ci_low"]), high=float(rows.at[arm, "diff_ci_high"]),
                   n=int(rows.at[arm, "n"]))
            for arm in arms[1:] if arm in rows.index]


def best_effect(effects: list[Effect]) -> Effect | None:
    """The arm that moves the KPI furthest in its good direction (largest move if none)."""
    finite = [e for e in effects if math.isfinite(e.diff)]
    if not finite:
        return None
    direction = kpi_info(finite[0].kpi).higher_is_better
    if direction is None:
        return max(finite, key=lambda e: abs(e.diff))
    return max(finite, key=lambda e: e.diff if direction else -e.diff)


def winning_arm(summary: pd.DataFrame, firm: str, kpi: str, arms: list[str]) -> str:
    """The arm best for ``firm`` on ``kpi``: the best effect if it beats the baseline."""
    best = best_effect(arm_effects(summary, firm, kpi, arms))
    return best.arm if best is not None and best.better is not False else arms[0]


def possessive(firm: str) -> str:
    """"bank's", "ads'", "food delivery's" (a firm's name in words)."""
    name = display_name(firm)
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def describe_interval(effect: Effect) -> str:
    """"(95% CI +3.7 to +6.6)" or "(no CI: one replication)"."""
    if not effect.has_interval:
        return "(no CI: one replication)"
    return (f"(95% CI {format_difference(effect.kpi, effect.low)} to "
            f"{format_difference(effect.kpi, effect.high)})")


def effect_headline(effect: Effect, baseline: str,
                    labels: Mapping[str, str] | None = None) -> str:
    """"both lifts bank's ARPU by 6.02 vs neither" — a title of a few words.

    "lifts"/"cuts" only for a KPI where more is better; a cost or a neutral count "raises" or
    "lowers" (more contacts or churn is never a lift). ``labels``: the arms' plain-language
    names.
    """
    info = kpi_info(effect.kpi)
    arm, base = display_name(effect.arm, labels), display_name(baseline, labels)
    if effect.diff == 0 or not math.isfinite(effect.diff):
        return f"{arm} leaves {possessive(effect.firm)} {info.short} as under {base}"
    if info.higher_is_better:
        verb = "lifts" if effect.diff > 0 else "cuts"
    else:
        verb = "raises" if effect.diff > 0 else "lowers"
    size = format_difference(effect.kpi, abs(effect.diff)).lstrip("+")
    return f"{arm} {verb} {possessive(effect.firm)} {info.short} by {size} vs {base}"


def uplift_answer(summary: pd.DataFrame, firm: str, kpi: str, arms: list[str],
                  step_unit: str, labels: Mapping[str, str] | None = None,
                  groups: Sequence[tuple[Sequence[str], pd.DataFrame]] | None = None
                  ) -> list[str]:
    """Two sentences: which arm wins on the KPI and by how much, and whether the CI excludes 0.

    Args:
        summary, arms: the run's summary and arms (every arm against the first), used when
            ``groups`` is not given.
        firm, kpi, step_unit: the firm, the KPI, "month".
        labels: the arms' plain-language names.
        groups: the groups the experiment compares (``experiment.compare``), each with its
            summary of paired differences to its first arm (``kpi_bars.compared``): each arm is
            measured against its own group's reference, never across groups.
    """
    groups = list(groups or [(arms, summary)])
    # as kpi_bars.group_effects (which this module cannot import: kpi_bars imports it)
    pairs = [(effect, group[0]) for group, table in groups
             for effect in arm_effects(table, firm, kpi, list(group))]
    effects = [effect for effect, _ in pairs]
    best = best_effect(effects)
    info, units = kpi_info(kpi), unit(kpi, step_unit)
    several = len(groups) > 1
    first_arm = display_name(groups[0][0][0], labels)
    if best is None:
        return [f"No arm produced a value of {possessive(firm)} {info.label} to compare.", ""]
    reference = display_name(next(ref for effect, ref in pairs if effect is best), labels)
    moved = (f"{format_value(kpi, best.mean)} against {format_value(kpi, best.baseline_mean)} "
             f"under {reference} ({units})")
    best_arm = display_name(best.arm, labels)
    if best.better is False:
        beaten = "its reference" if several else first_arm
        first = (f"No arm beats {beaten} on {possessive(firm)} {info.label}; the closest, "
                 f"{best_arm}, reaches {moved}.")
    else:
        verb = "raises" if best.diff > 0 else "lowers"
        first = (f"{best_arm} {verb} {possessive(firm)} {info.label} the most: {moved}, a paired "
                 f"difference of {format_difference(kpi, best.diff)} {describe_interval(best)}.")
    clear = sum(e.excludes_zero for e in effects)
    counted = (f"{clear} of {len(effects)} arms differ from their group's reference"
               if several else f"{clear} of {len(effects)} arms differ from {first_arm}")
    if not best.has_interval:
        second = ("With a single replication there is no confidence interval, so the gap may be "
                  "noise: run more replications before acting on it.")
    elif best.excludes_zero:
        second = (f"The 95% interval of that difference excludes zero, so the gap is not "
                  f"replication noise; {counted} with intervals that exclude zero.")
    else:
        second = (f"The 95% interval of that difference includes zero, so {best.n} replications "
                  f"cannot tell the gap from noise; {counted} with intervals that exclude zero.")
    return [first, second]


def shapley_shares(shapley: pd.DataFrame, firm: str, kpi: str) -> pd.DataFrame:
    """The Shapley rows of one firm and KPI, largest contribution first."""
    rows = shapley[(shapley["firm"] == firm) & (shapley["kpi"] == kpi)]
    return rows.sort_values("mean", key=lambda s: s.abs(), ascending=False)


def factor_arms(factors: dict[str, list[str]]) -> tuple[str, str]:
    """The arm with no factor on and the arm with every factor on."""
    empty = next(arm for arm, on in factors.items() if not on)
    full = max(factors, key=lambda arm: len(factors[arm]))
    return empty, full


def shapley_headline(shapley: pd.DataFrame, firm: str, kpi: str,
                     labels: Mapping[str, str] | None = None) -> str:
    """"convenience explains 87% of bank's ARPU uplift, umbrella 13%".

    ``labels``: the factors' plain-language names.
    """
    rows = shapley_shares(shapley, firm, kpi)
    if rows.empty:
        return f"Shapley split of {possessive(firm)} {kpi_info(kpi).short} uplift"
    parts = [f"{display_name(r.factor, labels)} {_percent(r.share_of_uplift)}"
             for r in rows.itertuples()]
    lead, rest = rows.iloc[0], parts[1:]
    text = (f"{display_name(lead['factor'], labels)} explains "
            f"{_percent(lead['share_of_uplift'])} of "
            f"{possessive(firm)} {kpi_info(kpi).short} uplift")
    return text + (", " + ", ".join(rest) if rest else "")


def _percent(share: float) -> str:
    return f"{100 * share:.0f}%" if math.isfinite(share) else "n/a"


def shapley_answer(shapley: pd.DataFrame, summary: pd.DataFrame, factors: dict[str, list[str]],
                   firm: str, kpi: str, step_unit: str,
                   labels: Mapping[str, str] | None = None) -> list[str]:
    """Two sentences: the share of the uplift each factor explains, and the uplift with its CI.

    ``labels``: the arms' and factors' plain-language names.
    """
    empty, full = factor_arms(factors)
    arms = [empty, full]
    effect = arm_effects(summary[summary["arm"].isin(arms)], firm, kpi, arms)
    rows = shapley_shares(shapley, firm, kpi)
    if rows.empty:
        return [f"No Shapley split of {possessive(firm)} {kpi_info(kpi).label} was computed.", ""]
    units = unit(kpi, step_unit)
    lead, others = rows.iloc[0], list(rows.iloc[1:].itertuples())
    rest = ", ".join(f"{display_name(r.factor, labels)} {_percent(r.share_of_uplift)} "
                     f"({format_difference(kpi, r.mean)})" for r in others)
    first = (f"{display_name(lead['factor'], labels)} explains "
             f"{_percent(lead['share_of_uplift'])} "
             f"({format_difference(kpi, lead['mean'])} {units}) of the change in "
             f"{possessive(firm)} {kpi_info(kpi).label} from {display_name(empty, labels)} to "
             f"{display_name(full, labels)}"
             + (f", {rest}" if rest else "") + " (Shapley split).")
    first = first[:1].upper() + first[1:]
    if not effect:
        return [first, ""]
    e = effect[0]
    tail = ("which excludes zero" if e.excludes_zero else
            "so one replication cannot say whether it is noise" if not e.has_interval else
            "which includes zero: the uplift itself is not distinguishable from noise")
    second = (f"With every factor on, {kpi_info(kpi).short} moves from "
              f"{format_value(kpi, e.baseline_mean)} to {format_value(kpi, e.mean)}, a paired "
              f"difference of {format_difference(kpi, e.diff)} {describe_interval(e)}, {tail}.")
    return [first, second]


def firms_answer(summary: pd.DataFrame, firms: list[str], kpi: str, arm: str, horizon: int,
                 step_unit: str) -> list[str]:
    """Two sentences for a run without arms: best and worst firm on the KPI, largest firm."""
    rows = summary[(summary["arm"] == arm) & (summary["kpi"] == kpi)
                   & summary["firm"].isin(firms)].dropna(subset=["mean"])
    info = kpi_info(kpi)
    if rows.empty:
        return [f"No firm has a value of {info.label}.", ""]
    ordered = rows.sort_values("mean", ascending=info.higher_is_better is False)
    top, bottom = ordered.iloc[0], ordered.iloc[-1]
    first = (f"At {step_unit} {horizon}, {display_name(top['firm'])} does best on {info.label}: "
             f"{format_value(kpi, top['mean'])} {unit(kpi, step_unit)}, against "
             f"{format_value(kpi, bottom['mean'])} for {display_name(bottom['firm'])}, the worst.")
    customers = summary[(summary["arm"] == arm) & (summary["kpi"] == "customers")]
    profit = summary[(summary["arm"] == arm) & (summary["kpi"] == "cum_profit")]
    largest = customers.sort_values("mean", ascending=False).iloc[0]
    profitable = int((profit["mean"] > 0).sum())
    profits = (f"{profitable} of {len(profit)} firms made a profit over the run" if profitable
               else "no firm made a profit over the run")
    second = (f"{display_name(largest['firm'])} ends with the most customers "
              f"({format_value('customers', largest['mean'])}), and {profits}.")
    return [first, second]


def answer(data: ReportData) -> list[str]:
    """The answer in two sentences, for an experiment with factors, one with arms, or a scenario.

    An experiment with arms compares each with its reference in ``experiment.compare`` (every
    arm with the baseline when it names no groups).
    """
    kpi = data.focus_kpis[0] if data.focus_kpis else "arpu"
    firm = data.focus_firm
    if data.experiment.factors and not data.shapley.empty:
        sentences = shapley_answer(data.shapley, data.summary, data.experiment.factors, firm,
                                   kpi, data.step_unit, names_of(data))
    elif data.is_experiment:
        from ecosim.report.kpi_bars import compared  # kpi_bars imports this module

        sentences = uplift_answer(data.summary, firm, kpi, data.arms, data.step_unit,
                                  names_of(data), compared(data, firm))
    else:
        sentences = firms_answer(data.summary, data.firms, kpi, data.baseline, data.horizon,
                                 data.step_unit)
    return [s[:1].upper() + s[1:] for s in sentences]
