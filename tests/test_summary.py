"""Summaries over replications: t intervals, paired differences and Shapley values, checked
against answers known in closed form or from scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ecosim.metrics.summary import experiment_summary, mean_ci, shapley_split

BASE = np.array([10.0, 12.0, 11.0, 14.0, 13.0])
UPLIFT = np.array([2.0, 2.5, 1.5, 2.2, 1.8])


def kpis_frame(values: dict[str, np.ndarray], kpi: str = "arpu") -> pd.DataFrame:
    """One row per (arm, replication) of a single firm ``f`` with one KPI."""
    return pd.DataFrame([{"arm": arm, "replication": r, "firm": "f", kpi: v}
                         for arm, column in values.items() for r, v in enumerate(column)])


def t_interval(values: np.ndarray) -> tuple[float, float]:
    return stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))


def test_mean_and_ci_are_scipys_t_interval() -> None:
    summary = experiment_summary(kpis_frame({"base": BASE, "arm": BASE + UPLIFT}))
    row = summary.query("arm == 'base'").iloc[0]
    low, high = t_interval(BASE)
    assert row["mean"] == pytest.approx(12.0)
    assert row["sd"] == pytest.approx(BASE.std(ddof=1))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))
    assert row["n"] == 5 and np.isnan(row["diff_mean"])


def test_paired_difference_is_the_interval_of_the_differences() -> None:
    """The arm's own CI is as wide as the baseline's; the paired one only sees UPLIFT's spread."""
    summary = experiment_summary(kpis_frame({"base": BASE, "arm": BASE + UPLIFT}))
    row = summary.query("arm == 'arm'").iloc[0]
    low, high = t_interval(UPLIFT)
    assert row["diff_mean"] == pytest.approx(UPLIFT.mean())
    assert row["diff_sd"] == pytest.approx(UPLIFT.std(ddof=1))
    assert (row["diff_ci_low"], row["diff_ci_high"]) == pytest.approx((low, high))
    assert row["diff_ci_high"] - row["diff_ci_low"] < 0.5 * (row["ci_high"] - row["ci_low"])


def test_pairs_follow_replications_not_row_order() -> None:
    frame = kpis_frame({"base": BASE, "arm": BASE + UPLIFT})
    shuffled = pd.concat([frame[frame["arm"] == "base"], frame[frame["arm"] == "arm"][::-1]])
    row = experiment_summary(shuffled).query("arm == 'arm'").iloc[0]
    assert row["diff_sd"] == pytest.approx(UPLIFT.std(ddof=1))


def test_a_firm_an_arm_adds_has_its_values_and_no_paired_difference() -> None:
    frame = kpis_frame({"base": BASE, "arm": BASE + UPLIFT})
    entrant = frame[frame["arm"] == "arm"].assign(firm="entrant")
    summary = experiment_summary(pd.concat([frame, entrant]))
    row = summary.query("arm == 'arm' and firm == 'entrant'").iloc[0]
    assert row["mean"] == pytest.approx((BASE + UPLIFT).mean())
    assert np.isnan(row["diff_mean"])  # nothing to pair with: the baseline has no such firm
    assert summary.query("arm == 'arm' and firm == 'f'").iloc[0]["diff_mean"] == pytest.approx(
        UPLIFT.mean())


def test_one_replication_has_no_interval_and_nan_is_skipped() -> None:
    assert np.isnan(mean_ci(np.array([3.0]))[2:4]).all()
    mean, _, low, high, n = mean_ci(np.array([1.0, np.nan, 3.0, np.inf]))
    assert (mean, n) == (2.0, 2)
    assert (low, high) == pytest.approx(t_interval(np.array([1.0, 3.0])))


def test_interval_covers_the_true_mean_95_percent_of_the_time() -> None:
    """2,000 samples of 5 normal draws: coverage within 3 sd (0.015) of 0.95."""
    rng = np.random.default_rng(0)
    samples = rng.normal(7.0, 2.0, size=(2000, 5))
    covered = [low <= 7.0 <= high for _, _, low, high, _ in map(mean_ci, samples)]
    assert np.mean(covered) == pytest.approx(0.95, abs=0.015)


def test_shapley_split_of_a_two_by_two_with_interaction() -> None:
    """Effects a = 1, b = 3 and an interaction of 2: Shapley gives a 1 + 2/2, b 3 + 2/2."""
    noise = np.array([0.0, 0.3, -0.2, 0.1])
    values = {"none": 10 + noise, "a": 11 + noise, "b": 13 + noise, "ab": 16 + noise}
    factors = {"none": [], "a": ["a"], "b": ["b"], "ab": ["a", "b"]}
    split = shapley_split(kpis_frame(values), factors, "f", "arpu").set_index("factor")
    assert split.loc["a", "mean"] == pytest.approx(2.0)
    assert split.loc["b", "mean"] == pytest.approx(4.0)
    assert split["share_of_uplift"].to_dict() == pytest.approx({"a": 1 / 3, "b": 2 / 3})
    assert split.loc["a", "ci_high"] - split.loc["a", "ci_low"] == pytest.approx(0.0, abs=1e-9)
