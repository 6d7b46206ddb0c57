"""Calibration: sBG and BG/NBD recover known parameters; the Optuna sweeper tunes a market."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ecosim.calibrate.bgnbd import fit_bgnbd, summarise
from ecosim.calibrate.cli import main as calibrate
from ecosim.calibrate.sbg import cohorts_from_table, fit_sbg, survival
from ecosim.calibrate.targets import distance
from ecosim.config import CalibrationConfig, ConfigError, TargetConfig, load_config

#: Estimates must fall within this many standard errors of the truth.
Z = 4.0


def simulate_sbg(rng: np.random.Generator, n: int, a: float, b: float,
                 periods: int) -> np.ndarray:
    """Alive counts at ages 0..periods of a cohort whose churn probabilities are Beta(a, b)."""
    lifetimes = rng.geometric(rng.beta(a, b, n))  # the period in which each customer churns
    return np.array([(lifetimes > t).sum() for t in range(periods + 1)])


def simulate_bgnbd(rng: np.random.Generator, n: int, r: float, alpha: float, a: float, b: float,
                   horizon: float) -> pd.DataFrame:
    """Purchase times (in steps) of the BG/NBD process; first purchases uniform in [0, h/2]."""
    rates, dropout = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    rows = []
    for customer, start in enumerate(rng.uniform(0, horizon / 2, n)):
        t = start
        rows.append((customer, t))
        while (t := t + rng.exponential(1 / rates[customer])) <= horizon:
            rows.append((customer, t))
            if rng.random() < dropout[customer]:
                break
    return pd.DataFrame(rows, columns=["customer", "time"])


def assert_recovered(fit, truth: dict[str, float]) -> None:
    assert fit.converged
    for name, value in truth.items():
        assert abs(fit.params[name] - value) < Z * fit.se[name], (name, fit.params, fit.se)
        assert fit.se[name] < 0.25 * value, (name, fit.se)  # the data pin the parameter down


def test_sbg_survival_closed_form() -> None:
    # a = 1: S(t) = b / (b + t); a = b = 1: S(t) = 1 / (1 + t)
    assert survival(1.0, 4.0, [0, 1, 6]) == pytest.approx([1.0, 0.8, 0.4])
    assert survival(1.0, 1.0, [3]) == pytest.approx([0.25])


def test_sbg_recovers_known_parameters_from_cohorts() -> None:
    rng = np.random.default_rng(7)
    truth = {"a": 0.8, "b": 3.0}
    cohorts = [simulate_sbg(rng, 3000, truth["a"], truth["b"], periods) for periods in (12, 8, 4)]
    assert_recovered(fit_sbg(cohorts), truth)


def test_calibrate_sbg_command_reads_ecosim_cohort_tables(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows = []
    for firm, (a, b) in {"bank": (1.5, 6.0), "shop": (0.5, 1.0)}.items():
        for cohort in range(3):
            alive = simulate_sbg(rng, 4000, a, b, 10 - cohort)
            rows += [{"arm": "base", "replication": 0, "firm": firm, "cohort": cohort, "age": age,
                      "acquired": alive[0], "alive": count, "alive_frac": count / alive[0]}
                     for age, count in enumerate(alive)]
    path = tmp_path / "cohort_retention.parquet"
    pd.DataFrame(rows).to_parquet(path)
    out = tmp_path / "lifecycle.yaml"
    assert calibrate(["sbg", str(path), "--where", "firm=bank", "--out", str(out)]) == 0
    block = yaml.safe_load(out.read_text())["customers"]["lifecycle"]
    assert block["kind"] == "contractual" and block["hazard"]["dist"] == "beta"
    fit = fit_sbg(pd.DataFrame(rows).query("firm == 'bank'"))
    assert len(cohorts_from_table(pd.DataFrame(rows).query("firm == 'bank'"))) == 3
    assert block["hazard"]["a"] == pytest.approx(fit.params["a"], rel=1e-4)
    assert_recovered(fit, {"a": 1.5, "b": 6.0})


def test_bgnbd_recovers_known_parameters_from_a_transaction_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    truth = {"r": 0.5, "alpha": 1.5, "a": 0.7, "b": 2.5}  # rates per week
    purchases = simulate_bgnbd(rng, 4000, *truth.values(), horizon=52.0)
    start = pd.Timestamp("2024-01-01")
    log = pd.DataFrame({"customer": purchases["customer"],
                        "date": (start + pd.to_timedelta(purchases["time"] * 7, unit="D")).dt
                        .strftime("%Y-%m-%dT%H:%M:%S"),
                        "amount": rng.gamma(2.0, 10.0, len(purchases)).round(2)})
    csv = tmp_path / "transactions.csv"
    log.to_csv(csv, index=False)
    end = str(start + pd.Timedelta(weeks=52))
    out = tmp_path / "lifecycle.yaml"
    assert calibrate(["bgnbd", str(csv), "--step-unit", "week", "--end", end,
                      "--out", str(out)]) == 0
    block = yaml.safe_load(out.read_text())["customers"]["lifecycle"]
    assert block["kind"] == "noncontractual"
    cfg = load_config({"customers": {"lifecycle": block}, "needs": {"x": {}},
                       "firms": {"f": {"offerings": {"x": {}}}}})  # the block is a valid config
    assert cfg.customers.lifecycle.rate.scale == pytest.approx(block["rate"]["scale"])
    fit = fit_bgnbd(pd.read_csv(csv), step_unit="week", end=end)
    assert_recovered(fit, truth)
    assert block["rate"]["shape"] == pytest.approx(fit.params["r"], rel=1e-4)
    assert block["rate"]["scale"] == pytest.approx(1 / fit.params["alpha"], rel=1e-4)
    same = fit_bgnbd(purchases, date="time", end=52.0)  # times already in steps
    assert same.params["r"] == pytest.approx(fit.params["r"], rel=0.01)


def test_bgnbd_summary_counts_repeat_purchases() -> None:
    log = pd.DataFrame({"customer": [1, 1, 1, 2], "time": [2.0, 3.0, 5.0, 4.0]})
    summary = summarise(log, date="time", end=10.0)
    assert summary.loc[1].tolist() == [2, 3.0, 8.0] and summary.loc[2].tolist() == [0, 0.0, 6.0]


def test_distance_to_targets() -> None:
    firm = pd.DataFrame({"arm": "base", "replication": 0, "step": [0, 1, 2, 0, 1, 2],
                         "firm": ["a"] * 3 + ["b"] * 3,
                         "churn_rate": [np.nan, 0.02, 0.04, np.nan, 0.1, 0.1],
                         "customers": [100, 110, 120, 50, 50, 50]})
    unit = pd.DataFrame({"arm": "base", "replication": 0, "step": [2], "firm": ["a"],
                         "need": ["x"], "market_share": [0.5]})
    calibration = CalibrationConfig(window=2, targets={
        "churn": TargetConfig(kpi="churn_rate", firm="a", value=0.03),          # exact
        "size": TargetConfig(kpi="customers", firm="a", value=100.0, weight=3),  # 15 % off
        "share": TargetConfig(kpi="market_share", firm="a", need="x", value=0.4, scale=0.1)})
    value, record = distance(calibration, firm, unit)
    assert record["targets"]["size"]["simulated"] == 115.0
    assert value == pytest.approx(np.sqrt((0 + 3 * 0.15**2 + 1.0**2) / 5))
    assert record["distance"] == value


@pytest.mark.parametrize("target, key", [
    ({"kpi": "churn_rate", "firm": "nobody", "value": 0.1}, "calibration.targets.t.firm"),
    ({"kpi": "happiness", "firm": "f", "value": 0.1}, "calibration.targets.t.kpi"),
    ({"kpi": "market_share", "firm": "f", "need": "y", "value": 0.1},
     "calibration.targets.t.need"),
    ({"kpi": "profit", "firm": "f", "value": 0.0}, "calibration.targets.t.scale"),
])
def test_bad_targets_are_one_line_errors(target: dict, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config({"needs": {"x": {}, "y": {}}, "firms": {"f": {"offerings": {"x": {}}}},
                     "calibration": {"targets": {"t": target}}})
    assert str(error.value).startswith(key)


MARKET = """
defaults: [ecosim, _self_]
seed: 5
time: {horizon: 6}
customers: {n: 2000}
needs: {x: {occurrence: 1.0}}
firms:
  shop:
    offerings: {x: {quality: 1.0}}
    initial_awareness: 0.1
    marketing: {budget: 1000, reach_cost: 1.0}
output: {figures: false}
"""


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # optuna 2 on SQLAlchemy 1.4
def test_optuna_sweeper_tunes_a_budget_to_target_kpis(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    from hydra import compose, initialize_config_dir

    from ecosim.config import register_configs
    from ecosim.experiment import run

    (tmp_path / "market.yaml").write_text(MARKET)
    true_budget = 300.0
    register_configs()
    with initialize_config_dir(str(tmp_path), version_base="1.3"):
        raw = compose("market", overrides=[f"firms.shop.marketing.budget={true_budget}"])
    reference = run(load_config(raw), progress=False).firm_metrics
    target = float(reference.loc[reference["step"] > 0, "new_customers"].mean())

    sweep = tmp_path / "optuna"
    done = subprocess.run(
        [sys.executable, "-m", "ecosim.cli", "-m", "--config-dir", str(tmp_path),
         "--config-name", "market", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=12",
         "hydra.sweeper.direction=minimize", "hydra.sweeper.sampler.seed=1",
         "hydra.sweeper.sampler.n_startup_trials=4",
         "firms.shop.marketing.budget=interval(50,2000)",  # the Optuna sweeper's search space
         f"hydra.sweeper.storage=sqlite:///{tmp_path / 'optuna.db'}",  # needs sqlalchemy < 2
         "hydra.sweeper.study_name=shop", "calibration.window=6",
         f"+calibration.targets.acquisition={{kpi: new_customers, firm: shop, value: {target}}}",
         f"hydra.sweep.dir={sweep}"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    budget = best["best_params"]["firms.shop.marketing.budget"]
    assert best["best_value"] < 0.1  # within 10 % of the target acquisition rate
    assert abs(budget - true_budget) < 0.25 * true_budget, best
    import optuna

    study = optuna.load_study(study_name="shop", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    assert len(study.trials) == 12 and study.best_value == pytest.approx(best["best_value"])
