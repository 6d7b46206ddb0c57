"""Experiments: arms on common random numbers, and what CRN buys (narrow paired differences)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ecosim.config import ConfigError, arm_configs
from ecosim.experiment import run_experiment

REPLICATIONS = 8


def raw_market(**experiment) -> dict:
    """Two firms competing for one need, heterogeneous customers, some churn."""
    return {
        "seed": 1, "replications": REPLICATIONS,
        "time": {"horizon": 8},
        "customers": {
            "n": 3000,
            "segments": {"all": {"openness": {"dist": "beta", "a": 2, "b": 5},
                                 "price_sensitivity": {"dist": "lognormal", "mean": 0.5,
                                                       "sd": 0.5}}},
            "lifecycle": {"kind": "contractual", "hazard": {"dist": "fixed", "value": 0.02}},
        },
        "needs": {"x": {"basket": {"dist": "lognormal", "mean": 3.0, "sd": 0.5}}},
        "firms": {
            "a": {"offerings": {"x": {"quality": 0.5}}, "initial_share": {"x": 0.4},
                  "initial_awareness": 1.0},
            "b": {"offerings": {"x": {"quality": 0.3}}, "initial_share": {"x": 0.4},
                  "initial_awareness": 1.0},
        },
        "output": {"figures": False},
        "experiment": experiment,
    }


ARMS = {"name": "price", "focus_firm": "a", "kpis": ["cum_revenue"],
        "arms": {"base": {}, "pricier": {"firms.a.offerings.x.price_index": 1.15}}}


def test_arms_share_customers_and_differ_only_where_told() -> None:
    configs = arm_configs(raw_market(**ARMS))
    assert list(configs) == ["base", "pricier"]
    base, pricier = configs["base"], configs["pricier"]
    assert pricier.firms["a"].offerings["x"].price_index == 1.15
    assert dataclasses.replace(pricier, firms=base.firms) == base  # nothing else changed


def test_bad_arm_is_reported_with_its_name() -> None:
    raw = raw_market(name="bad", arms={"ok": {}, "oops": {"firms.a.offerings.x.margin_rate": 2}})
    with pytest.raises(ConfigError, match=r"^experiment\.arms\.oops\.firms\.a\.offerings\.x\."
                                          r"margin_rate: 2"):
        arm_configs(raw)
    with pytest.raises(ConfigError, match="experiment.arms.oops.seed"):
        arm_configs(raw_market(name="bad", arms={"ok": {}, "oops": {"seed": 3}}))


def test_common_random_numbers_narrow_the_difference_between_arms() -> None:
    """CRN: the paired difference's sd is far below that of independent seeds.

    With independent seeds the difference's variance is the sum of the two arms' variances;
    with CRN the shared shocks cancel. Expected ratio of sds here is about 0.1; with 8
    replications an sd estimate is within ±50% with high probability, so asserting < 0.5 is safe.
    """
    configs = arm_configs(raw_market(**ARMS))
    crn = run_experiment(configs, progress=False).summary
    independent_configs = dict(configs)
    independent_configs["pricier"] = dataclasses.replace(configs["pricier"], seed=12345)
    independent = run_experiment(independent_configs, progress=False).summary

    def diff_sd(summary):
        row = summary.query("arm == 'pricier' and firm == 'a' and kpi == 'cum_revenue'")
        return float(row["diff_sd"].iloc[0]), row

    sd_crn, row = diff_sd(crn)
    sd_independent, _ = diff_sd(independent)
    assert sd_crn < 0.5 * sd_independent
    # over 8 months a 15 % price rise raises firm a's revenue (customers on autopilot keep
    # buying; only those it alerts or who look around compare), and CRN makes the interval
    # exclude zero
    assert float(row["diff_ci_low"].iloc[0]) > 0
    width_crn = float(row["diff_ci_high"].iloc[0] - row["diff_ci_low"].iloc[0])
    assert np.isfinite(width_crn) and width_crn > 0


def test_single_scenario_is_one_arm_named_base() -> None:
    configs = arm_configs(raw_market())
    assert list(configs) == ["base"]


def test_a_first_run_says_that_it_compiles_the_kernels(monkeypatch, capsys) -> None:
    """Once per process, and only when the cache lacks the heavy kernels."""
    from ecosim import experiment

    monkeypatch.setattr(experiment, "_told_compiling", False)
    monkeypatch.setattr(experiment, "kernels_cached", lambda: False)
    experiment.announce_compilation()
    experiment.announce_compilation()
    err = capsys.readouterr().err
    assert err.count("compiling the simulation kernels") == 1
    monkeypatch.setattr(experiment, "_told_compiling", False)
    monkeypatch.setattr(experiment, "kernels_cached", lambda: True)
    experiment.announce_compilation()
    assert "compiling" not in capsys.readouterr().err

