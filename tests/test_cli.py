"""The ``ecosim`` command end to end: default scenario, a user's config, and bad input."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecosim.metrics import tables

TINY = ["customers.n=3000", "time.horizon=6", "events=[]"]
CONTRACT = {
    "firm_metrics": ["arm", "replication", "step", "firm", "customers", "new_customers",
                     "churned_customers", "churn_rate", "marketing_spend", "contact_cost", "cac",
                     "revenue", "gross_margin", "losses", "profit", "arpu",
                     "products_per_customer", "share_of_wallet"],
    "unit_metrics": ["arm", "replication", "step", "firm", "need", "customers", "revenue",
                     "gross_margin", "market_share", "new_customers", "churned_customers"],
    "segment_metrics": ["arm", "replication", "step", "segment", "firm", "customers", "revenue",
                        "wallet", "share_of_wallet"],
    "cohort_retention": ["arm", "replication", "firm", "cohort", "age", "acquired", "alive",
                         "alive_frac", "cum_margin_per_acquired"],
}


#: A market small enough for a run inside the test process.
SMALL = ["customers.n=500", "time.horizon=3", "events=[]", "output.figures=false"]


def ecosim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecosim.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def ecosim_here(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                *args: str) -> tuple[int, str, str]:
    """The ``ecosim`` command in this process (so that a test can replace a function in it).

    Returns:
        ``(exit status, stdout, stderr)``; Hydra leaves logging as it is (``none``), so
        later tests still capture ecosim's loggers.
    """
    from ecosim import cli

    monkeypatch.setattr(sys, "argv", ["ecosim", *args, "hydra/job_logging=none",
                                      "hydra/hydra_logging=none"])
    try:
        cli.main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(stderr: str) -> str:
    """The only non-blank line of ``stderr`` (fails when there are more, or a traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.slow
def test_default_scenario_writes_the_output_contract(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = ecosim(*TINY, "output.transactions=true", f"hydra.run.dir={out}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name, columns in CONTRACT.items():
        frame = pd.read_parquet(out / f"{name}.parquet")
        assert set(columns) <= set(frame.columns), name
        assert len(frame) > 0
    firm = pd.read_parquet(out / "firm_metrics.parquet")
    assert sorted(firm["step"].unique()) == list(range(7))  # step 0 is the initial state
    assert not (firm["cac"] == float("inf")).any()
    tx = pd.read_parquet(out / "transactions.parquet")
    assert {"customer", "step", "time", "need", "firm", "amount", "margin"} <= set(tx.columns)
    assert not (out / "transactions.parquet.partial").exists()  # streamed, then published
    summary = pd.read_csv(out / "summary.csv")
    assert {"arm", "firm", "kpi", "mean", "sd", "ci_low", "ci_high"} <= set(summary.columns)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["n_customers"] == 3000 and meta["steps"] == 6 and meta["seed"] == 0
    # 3 000 simulated customers of the default 100 000-customer market: the log lists the
    # simulated customers' purchases, the tables the market's revenue
    assert meta["market_size"] == 100_000
    assert meta["customer_weight"] == pytest.approx(100_000 / 3000)
    assert tx["customer"].max() < 3000
    assert tx["amount"].sum() * meta["customer_weight"] == pytest.approx(firm["revenue"].sum(),
                                                                         rel=1e-9)
    assert (out / "config.yaml").is_file()
    # figures only when asked for: none by default, the report says how to draw them later
    assert not (out / "figures").exists()
    assert "ecosim-figures RUN_DIR" in (out / "report.md").read_text()
    drawn = subprocess.run([sys.executable, "-m", "ecosim.report.redraw", str(out)],
                           capture_output=True, text=True, timeout=600)
    assert drawn.returncode == 0, drawn.stderr
    assert (out / "figures" / "customers_and_revenue.png").stat().st_size > 10_000
    assert (out / "figures" / "customers_and_revenue.svg").is_file()
    report = (out / "report.md").read_text()
    assert "](figures/customers_and_revenue.png)" in report and "None drawn" not in report


def test_ecosim_figures_refuses_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "ecosim.report.redraw", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    assert one_line(done.stderr).startswith(f"ecosim-figures: {tmp_path}")


def test_a_run_without_figures_never_imports_matplotlib(tmp_path: Path) -> None:
    """Figures cost their import (~0.5 s of pyplot) only when drawn; the deck's pptx likewise."""
    out = tmp_path / "run"
    code = ("import sys; sys.argv = ['ecosim', *sys.argv[1:]]; from ecosim.cli import main; "
            "main(); print(sorted({m.split('.')[0] for m in sys.modules} "
            "& {'matplotlib', 'pptx', 'SALib', 'optuna'}))")
    done = subprocess.run([sys.executable, "-c", code, *SMALL, f"hydra.run.dir={out}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (out / "report.md").is_file() and (out / "metadata.json").is_file()
    assert not (out / "figures").exists()


@pytest.mark.slow
def test_user_config_in_the_design_form_runs(tmp_path: Path) -> None:
    (tmp_path / "my_market.yaml").write_text("""
defaults: [ecosim, _self_]
seed: 3
time: {step_unit: month, horizon: 5, discount_rate: 0.008}
customers:
  n: 2000
  segments:
    pragmatic: {weight: 0.6, price_sensitivity: {dist: lognormal, mean: 0.0, sd: 0.3},
                openness: {dist: beta, a: 2, b: 8}}
    loyal:     {weight: 0.4, habit_strength: {dist: fixed, value: 2.0}}
  switching_cost: {dist: fixed, value: 0.5}
  lifecycle: {kind: contractual, hazard: {dist: beta, a: 1.0, b: 60.0}}
  sociodemo: {informativeness: 0.2}
  network: {kind: watts_strogatz, degree: 10, rewire: 0.1}
needs:
  banking: {prevalence: 1.0, occurrence: 1.0, basket: {dist: lognormal, mean: 3.0, sd: 0.5}}
  taxi:    {prevalence: 0.6, occurrence: 0.4, basket: {dist: lognormal, mean: 2.5, sd: 0.7}}
firms:
  bank:
    model: standalone
    brand: bank
    offerings: {banking: {price_index: 1.0, quality: 0.5, convenience: 0.2, experience: 1.0,
                          margin_rate: 0.3}}
    initial_share: {banking: 0.3}
    initial_awareness: 0.5
    marketing: {budget: 5000, reach_cost: 2.0, word_of_mouth: 0.3}
  cab:
    offerings: {taxi: {price_index: 0.9, quality: 0.4}}
events:
  - {step: 3, firm: bank, set: {offerings.banking.price_index: 1.2}}
output: {transactions: false}
""")
    out = tmp_path / "run"
    done = ecosim("--config-dir", str(tmp_path), "--config-name", "my_market",
                  f"hydra.run.dir={out}", "firms.bank.marketing.budget=1e4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    firm = pd.read_parquet(out / "firm_metrics.parquet")
    assert set(firm["firm"]) == {"bank", "cab"}
    assert (firm.loc[firm["step"] > 0, "marketing_spend"][firm["firm"] == "bank"] == 1e4).all()


@pytest.mark.parametrize("override, key", [
    ("customers.n=-5", "customers.n"),
    ("firms.bank.offerings.banking.margin_rate=1.5", "firms.bank.offerings.banking.margin_rate"),
    ("+firms.bank.offerings.pets={price_index: 1.0}", "firms.bank.offerings.pets"),
    ("+customers.colour=blue", "customers.colour"),
    ("time.horizon=soon", "time.horizon"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, override: str,
                                                  key: str) -> None:
    out = tmp_path / "run"
    done = ecosim(*TINY, override, f"hydra.run.dir={out}", cwd=tmp_path)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert key in lines[0] and "Traceback" not in done.stderr
    assert not list(out.glob("*.parquet")) and not (out / "metadata.json").exists()


BAD_YAML = {
    "unclosed brace": ("needs:\n  a: {prevalence: 1.0\nfirms: {}\n", ":4:"),
    "tab indentation": ("needs:\n\ta: {prevalence: 1.0}\n", ":3:"),
    "duplicate need": ("needs:\n  a: {}\n  a: {prevalence: 0.5}\n", ":4:"),
    "duplicate firm": ("needs: {a: {}}\nfirms:\n  f: {offerings: {a: {}}}\n"
                       "  f: {offerings: {a: {}}}\n", ":5:"),
}


@pytest.mark.parametrize("case", list(BAD_YAML))
def test_malformed_yaml_is_one_line_with_file_and_line(tmp_path: Path, case: str) -> None:
    text, line = BAD_YAML[case]
    (tmp_path / "bad.yaml").write_text("defaults: [ecosim, _self_]\n" + text)
    done = ecosim("--config-dir", str(tmp_path), "--config-name", "bad", *TINY,
                  f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"ecosim: config error: {tmp_path / 'bad.yaml'}{line}"), lines[0]


def test_a_config_error_in_a_sweep_job_is_one_line(tmp_path: Path) -> None:
    done = ecosim("-m", *TINY, "customers.n=-5,-6", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                  cwd=tmp_path)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if "config error" in line]
    assert errors == ["ecosim: config error in job 0: customers.n: -5 is not allowed; expected an "
                      "integer >= 1"], done.stderr


@pytest.mark.parametrize("override, start", [
    ("firms.bank.enters_at=2x", "ecosim: config error: firms.bank.enters_at: '2x' is not allowed"),
    ("seeed=1", "ecosim: config error: seeed: unknown key (set to 1)"),
    ("customers.colour=blue", "ecosim: config error: customers.colour: unknown key"),
    ("customers.n=3e12", "ecosim: config error: customers.n: 3000000000000 is not allowed; "
                         "expected a run that fits in this machine's"),
    ("threads=1000", "ecosim: config error: threads: 1000 is not allowed"),
])
def test_overrides_hydra_refused_are_one_line(tmp_path: Path, override: str, start: str) -> None:
    done = ecosim(*TINY, override, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith(start), lines[0]


@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
def test_an_unwritable_output_directory_is_one_line(tmp_path: Path, sweep: bool) -> None:
    """Issue 8.17: the output directory is checked before anything runs (here: under a file)."""
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    key = "hydra.sweep.dir" if sweep else "hydra.run.dir"
    done = ecosim(*(["-m"] if sweep else []), *SMALL, f"{key}={blocker}/out", cwd=tmp_path)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert line.startswith("ecosim: ") and f"{blocker}/out" in line and "Not a directory" in line


def test_a_full_disk_is_one_line_and_leaves_no_temporary_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Issue 8.17: a write that fails half-way left ``.firm_metrics.parquet.tmp`` and a trace."""
    def full(frame: pd.DataFrame, path: Path, *args, **kwargs) -> None:
        Path(path).write_bytes(b"PAR1 half a table")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    out = tmp_path / "run"
    code, _, stderr = ecosim_here(monkeypatch, capsys, *SMALL, f"hydra.run.dir={out}")
    assert code == 2
    line = one_line(stderr)
    assert str(out) in line and "No space left on device" in line
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert not (out / "metadata.json").exists()


def test_too_little_free_space_is_refused_before_simulating(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda path: usage._replace(free=1000))
    monkeypatch.setattr("ecosim.cli.run_experiment", lambda *a, **k: pytest.fail("simulated"))
    out = tmp_path / "run"
    code, _, stderr = ecosim_here(monkeypatch, capsys, *SMALL, f"hydra.run.dir={out}")
    assert code == 2
    line = one_line(stderr)
    assert str(out) in line and "free" in line and "MB" in line


def test_nan_is_allowed_only_where_a_table_defines_it() -> None:
    frame = pd.DataFrame({"arm": ["base"] * 2, "replication": 0, "step": [0, 1],
                          "firm": "bank", "customers": [10, 10], "cac": [np.nan, 5.0],
                          "churn_rate": [np.nan, 0.1], "profit": [1.0, 2.0]})
    tables.check_finite("firm_metrics", frame)  # cac: nobody new; churn_rate: at step 0
    frame.loc[1, "profit"] = np.nan
    with pytest.raises(tables.NonFiniteError, match=r"firm_metrics\.profit .*NaN"):
        tables.check_finite("firm_metrics", frame)
    frame.loc[1, ["profit", "cac"]] = [1.0, np.inf]  # inf is never a value of any column
    with pytest.raises(tables.NonFiniteError, match=r"firm_metrics\.cac .*inf"):
        tables.check_finite("firm_metrics", frame)


def test_inf_or_nan_in_a_table_fails_the_run_naming_table_and_column(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Issue 8.7: inf revenue and NaN profit used to be written with exit status 0."""
    original = tables.firm_metrics

    def overflowing(*args, **kwargs) -> pd.DataFrame:
        frame = original(*args, **kwargs)
        frame.loc[frame["step"] == 2, "revenue"] = np.inf
        frame.loc[frame["step"] == 2, "profit"] = np.nan
        return frame

    monkeypatch.setattr(tables, "firm_metrics", overflowing)
    out = tmp_path / "run"
    code, _, stderr = ecosim_here(monkeypatch, capsys, *SMALL, f"hydra.run.dir={out}")
    assert code == 1
    line = one_line(stderr)
    assert "firm_metrics.revenue" in line and "inf" in line
    assert "firm_metrics.profit" in line and "NaN" in line
    assert not list(out.glob("*.parquet")) and not (out / "metadata.json").exists()
