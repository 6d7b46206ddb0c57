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


@pytest.mark.parametrize("x, t_x, big_t", [(0, 0.0, 5.0), (1, 2.0, 6.0), (4, 3.5, 9.0)])
def test_bgnbd_likelihood_is_the_model_integrated_over_customers(x, t_x, big_t) -> None:
    """The closed form against the model's definition, integrated numerically (an independent
    reference, not a second copy of the formula): given rate lambda and dropout p, a customer's
    likelihood is (1-p)^x lambda^x e^(-lambda T) + 1{x>0} p (1-p)^(x-1) lambda^x e^(-lambda t_x)
    (Fader, Hardie & Lee 2005, eq. 3), with lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b)."""
    from scipy import stats

    from ecosim.calibrate.bgnbd import loglik, loglik_per_customer

    r, alpha, a, b = 2.3, 1.5, 1.7, 2.5
    # Gauss-Legendre on [0, 1] x [0, top]: 400 nodes each integrate these smooth densities
    # to ~1e-9 (the Gamma mass above top is 1e-15)
    nodes, weights = np.polynomial.legendre.leggauss(400)
    top = stats.gamma.ppf(1 - 1e-15, r, scale=1 / alpha)
    p, lam = np.meshgrid((nodes + 1) / 2, (nodes + 1) / 2 * top, indexing="ij")
    weight = np.outer(weights / 2, weights / 2 * top)
    still = (1 - p) ** x * lam ** x * np.exp(-lam * big_t)
    gone = p * (1 - p) ** (x - 1) * lam ** x * np.exp(-lam * t_x) if x > 0 else 0.0
    density = stats.gamma.pdf(lam, r, scale=1 / alpha) * stats.beta.pdf(p, a, b)
    value = float(np.sum(weight * (still + gone) * density))
    closed = loglik_per_customer(r, alpha, a, b, np.array([x]), np.array([t_x]),
                                 np.array([big_t]))
    assert closed[0] == pytest.approx(np.log(value), abs=1e-6)
    assert loglik(r, alpha, a, b, [x, x], [t_x, t_x], [big_t, big_t]) == pytest.approx(
        2 * closed[0])


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


@pytest.mark.slow
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


# -- bad input is refused with one line naming the column (issue 8 item 16) ---------------------

def refused(argv: list[str], capsys) -> str:
    """Run ecosim-calibrate on bad input: exit 2, nothing on stdout, one line on stderr."""
    code = calibrate(argv)
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (code, out, err)
    assert err.count("\n") == 1 and err.startswith("ecosim-calibrate: "), err
    return err.strip().removeprefix("ecosim-calibrate: ")


def bgnbd_summary(n: int = 300) -> pd.DataFrame:
    """A valid x, t_x, T summary of the BG/NBD process (r 0.5, alpha 1.5, a 0.7, b 2.5)."""
    purchases = simulate_bgnbd(np.random.default_rng(5), n, 0.5, 1.5, 0.7, 2.5, horizon=52.0)
    return summarise(purchases, date="time", end=52.0).reset_index(drop=True)


@pytest.mark.parametrize("column, value, message", [
    ("x", -1, "column 'x' (repeat purchases): -1 in row 4 is below 0; expected >= 0"),
    ("x", 1.5, "column 'x' (repeat purchases): 1.5 in row 4 is not a whole number"),
    ("t_x", -2.0, "column 't_x' (time of the last purchase after the first): -2 in row 4 is "
                  "below 0"),
    ("T", 0.5, "column 'T' (time observed after the first purchase): 0.5 in row 4 is before "
               "its last purchase (t_x = 7); expected T >= t_x"),
    ("x", "lots", "column 'x' (repeat purchases): 'lots' in row 4 is not a number"),
    ("T", None, "column 'T' (time observed after the first purchase): blank in row 4"),
])
def test_bgnbd_refuses_impossible_summaries(column, value, message, tmp_path: Path,
                                            capsys) -> None:
    summary = bgnbd_summary()
    summary.loc[3, ["x", "t_x", "T"]] = [3, 7.0, 20.0]  # row 4 of the CSV: a valid customer
    assert calibrate(["bgnbd", str(write(summary, tmp_path / "ok.csv"))]) == 0
    capsys.readouterr()
    summary[column] = summary[column].astype(object)
    summary.loc[3, column] = value
    assert refused(["bgnbd", str(write(summary, tmp_path / "bad.csv"))], capsys).startswith(
        message)


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_two_customers_are_too_few_to_fit(tmp_path: Path, capsys) -> None:
    """Two customers used to give r = 1.2e4 with exit 0."""
    log = pd.DataFrame({"customer": [1, 1, 2, 2, 2], "time": [0.0, 1.0, 0.0, 2.0, 3.0]})
    message = refused(["bgnbd", str(write(log, tmp_path / "two.csv")), "--date", "time",
                       "--end", "4"], capsys)
    assert message == ("only 2 customers with a repeat purchase: too few to fit 4 parameters "
                       "(at least 40 needed, 10 per parameter)")
    cohort = pd.DataFrame({"age": [0, 1, 2], "alive": [30, 25, 22]})  # 8 churned, 20 needed
    assert refused(["sbg", str(write(cohort, tmp_path / "small.csv"))], capsys).startswith(
        "only 8 customers churned in the data: too few to fit 2 parameters")


SBG_TABLE = {"age": [0, 1, 2, 3], "alive": [1000, 800, 700, 640]}


@pytest.mark.parametrize("value, message", [
    (-5, "column 'alive' (active customers): -5 in row 4 is below 0; expected >= 0"),
    (None, "column 'alive' (active customers): blank in row 4; every row needs a value"),
    ("few", "column 'alive' (active customers): 'few' in row 4 is not a number"),
    (0.64, "column 'alive' (active customers): 0.64 in row 4 is not a whole number; expected "
           "counts"),
])
def test_sbg_refuses_blank_negative_text_and_share_counts(value, message, tmp_path: Path,
                                                          capsys) -> None:
    table = pd.DataFrame(SBG_TABLE, dtype=object)
    table.loc[3, "alive"] = value
    assert refused(["sbg", str(write(table, tmp_path / "r.csv"))], capsys) == message


def test_yyyymmdd_numbers_are_dates_not_steps(tmp_path: Path, capsys) -> None:
    """Integer dates like 20240105 used to be read as step numbers (and --step-unit ignored):
    refused, and read as dates with --date-format, giving the fit of the same ISO dates."""
    rng = np.random.default_rng(2)
    purchases = simulate_bgnbd(rng, 400, 0.5, 1.5, 0.7, 2.5, horizon=52.0)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta((purchases["time"] * 7).round(),
                                                        unit="D")
    numbers = write(pd.DataFrame({"customer": purchases["customer"],
                                  "date": days.dt.strftime("%Y%m%d").astype(int)}),
                    tmp_path / "numbers.csv")
    iso = write(pd.DataFrame({"customer": purchases["customer"],
                              "date": days.dt.strftime("%Y-%m-%d")}), tmp_path / "iso.csv")
    message = refused(["bgnbd", str(numbers), "--step-unit", "week"], capsys)
    assert message.startswith("column 'date' (purchase dates): numbers like 2024")
    assert "look like YYYYMMDD dates, not step numbers" in message and "%Y%m%d" in message
    assert calibrate(["bgnbd", str(numbers), "--step-unit", "week", "--date-format",
                      "%Y%m%d"]) == 0
    from_numbers = capsys.readouterr().out
    assert calibrate(["bgnbd", str(iso), "--step-unit", "week"]) == 0
    assert capsys.readouterr().out.replace("iso.csv", "numbers.csv") == from_numbers
    steps = write(purchases, tmp_path / "steps.csv")
    assert refused(["bgnbd", str(steps), "--date", "time", "--step-unit", "week"], capsys) == (
        "column 'time' (purchase dates) holds step numbers, so a step unit (week) would be "
        "ignored; give it only with dates or timestamps")


def test_empty_table_missing_column_and_bad_where(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("customer,date\n")
    assert refused(["bgnbd", str(empty)], capsys) == f"{empty} has no rows"
    log = write(pd.DataFrame({"customer": [1, 2], "when": ["2024-01-01", "2024-02-01"]}),
                tmp_path / "t.csv")
    assert refused(["bgnbd", str(log)], capsys) == (
        f"no column 'date' in {log} (name it with --date); its columns are customer, when")
    assert refused(["sbg", str(log)], capsys) == (
        "no column 'age' (age in periods since acquisition) in the table; its columns are "
        "customer, when")
    assert refused(["bgnbd", str(log), "--where", "firm"], capsys) == (
        "--where firm: expected COLUMN=VALUE")
    assert refused(["bgnbd", str(log), "--where", "customer=3"], capsys) == (
        f"no rows left in {log} after --where customer=3")


def test_replications_of_an_ecosim_log_are_not_pooled(tmp_path: Path, capsys) -> None:
    """Customers are numbered per replication: pooling two replications merged customer 7 of
    one with customer 7 of the other. Refused until --where keeps one replication."""
    rng = np.random.default_rng(4)
    log = pd.concat([simulate_bgnbd(rng, 300, 0.5, 1.5, 0.7, 2.5, 52.0).assign(replication=r)
                     for r in (0, 1)])
    path = tmp_path / "transactions.parquet"
    log.assign(arm="base").to_parquet(path)
    assert refused(["bgnbd", str(path), "--date", "time"], capsys) == (
        "the table holds 2 values of 'replication' (0, 1); customers are numbered per "
        "replication and arms differ, so pooling would merge different customers: keep one "
        "with --where replication=0")
    assert calibrate(["bgnbd", str(path), "--date", "time", "--end", "52",
                      "--where", "replication=1"]) == 0
    one = fit_bgnbd(log[log["replication"] == 1], date="time", end=52.0)
    assert f"{one.n} customers" in capsys.readouterr().out
    cohorts = pd.DataFrame({"firm": ["bank"] * 4 + ["shop"] * 4, "cohort": 0,
                            "age": [0, 1, 2, 3] * 2, "alive": SBG_TABLE["alive"] * 2})
    assert refused(["sbg", str(write(cohorts, tmp_path / "c.csv"))], capsys).startswith(
        "the table holds 2 values of 'firm' (bank, shop); their lifecycles differ")


def test_sbg_prints_the_projected_survival(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(8)
    alive = simulate_sbg(rng, 3000, 0.8, 3.0, 8)
    path = write(pd.DataFrame({"age": range(9), "alive": alive}), tmp_path / "r.csv")
    assert calibrate(["sbg", str(path)]) == 0
    out, err = capsys.readouterr()
    fit = fit_sbg([alive])
    line = next(x for x in out.splitlines() if x.startswith("# projected survival"))
    s = survival(fit.params["a"], fit.params["b"], [1, 12, 60])
    assert f"t=1 {s[0]:.3f}" in line and f"t=12 {s[1]:.3f}" in line and f"t=60 {s[2]:.3f}" in line
    assert "(observed to t=8; later ages extrapolate)" in line
    assert err == ""  # 3000 customers pin both parameters down


def test_a_fit_the_data_do_not_pin_down_is_written_with_a_warning(tmp_path: Path,
                                                                 capsys) -> None:
    """One period of retention (1000 -> 800) fixes the mean churn a / (a + b) = 0.2 but not
    a + b: the standard errors are hundreds of times the estimates."""
    path = write(pd.DataFrame({"age": [0, 1], "alive": [1000, 800]}), tmp_path / "r.csv")
    assert calibrate(["sbg", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "hazard:" in out
    assert err.startswith("ecosim-calibrate: warning: the data do not pin down a = 0.5 (se ")
    assert "relative standard error above 0.5" in err and err.count("\n") == 1


def test_a_fit_with_no_proper_maximum_is_not_converged(tmp_path: Path, capsys,
                                                       monkeypatch) -> None:
    """The optimiser stops with success on a flat direction: no maximum, so not converged."""
    from ecosim.calibrate import cli
    from ecosim.calibrate.mle import maximise

    theta, se, _, converged, message = maximise(
        lambda p: -(np.log(p[0]) - 1.0) ** 2 + 0.0 * p[1], np.array([1.0, 1.0]))
    assert theta[0] == pytest.approx(np.e, rel=1e-4) and np.isnan(se[1])
    assert not converged and message.startswith("no proper maximum")

    from ecosim.calibrate.mle import Fit

    fit = fit_sbg([np.array([1000.0, 800.0, 700.0, 650.0])])
    failed = Fit(**{**fit.__dict__, "converged": False, "message": "no proper maximum: x"})
    monkeypatch.setattr(cli, "fit_sbg", lambda *args, **kwargs: failed)
    path = write(pd.DataFrame(SBG_TABLE), tmp_path / "r.csv")
    assert calibrate(["sbg", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("# ecosim-calibrate sbg on r.csv: 1000 customers, log-likelihood ")
    assert " -- NOT CONVERGED (no proper maximum: x)" in out.splitlines()[0]
    assert err == ("ecosim-calibrate: warning: the fit did not converge: no proper maximum: x; "
                   "do not use these estimates\n")


def test_a_parquet_table_is_filtered_batch_by_batch_as_if_read_whole(tmp_path) -> None:
    """``--where`` on a Parquet file of many row groups keeps what filtering the whole file
    keeps: the same rows, index labels, values and types (categoricals included)."""
    from ecosim.calibrate.cli import read_table

    n = 200_000
    rows = pd.DataFrame({"firm": pd.Categorical(np.array(["bank", "telco"])[np.arange(n) % 2]),
                         "replication": np.arange(n) // 1000 % 3, "cohort": np.arange(n) % 7,
                         "alive": np.arange(n, dtype=float)})
    path = tmp_path / "cohort_retention.parquet"
    rows.to_parquet(path, index=False, row_group_size=30_000)
    whole = pd.read_parquet(path)
    for where, keep in ((["firm=bank"], whole["firm"] == "bank"),
                        (["firm=telco", "replication=2.0"],
                         (whole["firm"] == "telco") & (whole["replication"] == 2)),
                        (["cohort=3"], whole["cohort"] == 3)):
        got = read_table(path, where)
        pd.testing.assert_frame_equal(got, whole[keep], check_exact=True)
        assert got.index.max() - got.index.min() > 1 << 16  # kept from several batches
    pd.testing.assert_frame_equal(read_table(path, []), whole)


def test_where_on_missing_values_and_on_a_stored_index_reads_as_before(tmp_path,
                                                                      monkeypatch) -> None:
    """A missing value matches nothing (nullable integers and booleans); a file with an index
    of its own keeps its labels and index name. A plain table is filtered batch by batch: it is
    never read whole when ``--where`` keeps part of it."""
    from ecosim.calibrate.cli import read_table

    n = 1000
    rows = pd.DataFrame({"c": pd.array([*range(n - 1), None], dtype="Int64") % 3,
                         "b": pd.array([True, False, None, True] * (n // 4), dtype="boolean"),
                         "alive": np.arange(n, dtype=float)})
    plain = tmp_path / "plain.parquet"
    rows.to_parquet(plain, index=False, row_group_size=100)
    indexed = tmp_path / "indexed.parquet"
    rows.iloc[100:].rename_axis("customer").to_parquet(indexed, index=True)
    for path in (plain, indexed):
        whole = pd.read_parquet(path)
        for where, keep in ((["c=1"], whole["c"].eq(1).fillna(False)),
                            (["b=True"], whole["b"].eq(True).fillna(False))):
            pd.testing.assert_frame_equal(read_table(path, where), whole[keep.to_numpy(bool)])
    assert read_table(indexed, ["c=1"]).index.name == "customer"
    monkeypatch.setattr(pd, "read_parquet", lambda *a, **k: pytest.fail("read whole"))
    assert len(read_table(plain, ["c=2"])) == 333


def test_where_on_dates_matches_the_same_rows_whichever_batch_they_are_read_in(
        tmp_path) -> None:
    """A date or duration column is compared as times, not as text: pandas formats a datetime
    column as a date alone only when every value read together is midnight, so as text a match
    would depend on where batches split (70 000 rows: two batches of 65 536 and the rest)."""
    from ecosim.calibrate.cli import read_table

    n = 70_000
    day = pd.Timestamp("2024-01-05")
    dates = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) % 10, "D"))
    dates.iloc[-1] = day + pd.Timedelta(hours=13)  # one value at 13:00, in the last batch
    rows = pd.DataFrame({"date": dates, "wait": pd.to_timedelta(np.arange(n) % 3, "h"),
                         "zoned": dates.dt.tz_localize("Europe/Paris"),
                         "alive": np.arange(n, dtype=float)})
    path = tmp_path / "log.parquet"
    rows.to_parquet(path, index=False)
    whole = pd.read_parquet(path)
    midnight = whole["date"] == day
    assert midnight[: 1 << 16].any() and midnight[1 << 16:].any()
    for where, keep in ((["date=2024-01-05"], midnight),
                        (["date=2024-01-05 00:00:00"], midnight),
                        (["date=2024-01-05 13:00"], whole["date"] == day + pd.Timedelta(hours=13)),
                        (["zoned=2024-01-05"], midnight),
                        (["wait=0 days 02:00:00"], whole["wait"] == pd.Timedelta(hours=2)),
                        (["wait=2h", "date=2024-01-03"],
                         (whole["wait"] == pd.Timedelta(hours=2))
                         & (whole["date"] == pd.Timestamp("2024-01-03")))):
        got = read_table(path, where)
        pd.testing.assert_frame_equal(got, whole[keep.to_numpy(bool)], check_exact=True)
    with pytest.raises(ValueError, match="no rows left"):  # not a time: matches nothing
        read_table(path, ["date=bank"])
