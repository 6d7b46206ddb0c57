"""``collect``: one dataset from the job directories of a sweep (no simulation needed here)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ecosim.sweep.collect import collect, expected_jobs, flatten, main, swept_keys

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def write_multirun(sweep: Path, task: list[str]) -> None:
    sweep.mkdir(parents=True, exist_ok=True)
    hydra = {"sweeper": {"_target_": BASIC_SWEEPER, "max_batch_size": None, "params": None},
             "overrides": {"task": task}}
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": hydra}))


def write_job(sweep: Path, num: int, overrides: list[str], config: dict, complete: bool = True,
              transactions: bool = False) -> Path:
    """A job directory as ecosim writes it: .hydra/overrides.yaml, config.yaml, tables, mark."""
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    if not complete:
        return job
    budget = config["firms"]["bank"]["marketing"]["budget"]
    pd.DataFrame({"arm": "base", "replication": 0, "step": [0, 1, 2], "firm": "bank",
                  "customers": [10, 11, 12 + budget / 1000]}).to_parquet(
        job / "firm_metrics.parquet", index=False)
    pd.DataFrame({"arm": ["base"], "firm": ["bank"], "kpi": ["customers"], "mean": [12.0],
                  "sd": [float("nan")], "ci_low": [float("nan")], "ci_high": [float("nan")],
                  "n": [1]}).to_csv(job / "summary.csv", index=False)
    if transactions:
        pd.DataFrame({"customer": [1, 2], "step": [1, 2], "amount": [3.0, 4.0]}).to_parquet(
            job / "transactions.parquet", index=False)
    (job / "metadata.json").write_text(json.dumps({"wall_seconds": 1.5}))
    return job


def config(seed: int, budget: float) -> dict:
    return {"seed": seed, "time": {"horizon": 2},
            "firms": {"bank": {"marketing": {"budget": budget, "rule": "fixed"}}},
            "events": [], "customers": {"sociodemo": {"income_scale": [1.0]}}}


def test_flatten_and_swept_keys() -> None:
    flat = flatten(config(1, 5.0))
    assert flat["firms.bank.marketing.budget"] == 5.0
    assert flat["events"] == "[]" and flat["customers.sociodemo.income_scale"] == "[1.0]"
    assert flatten({}) == {}
    assert swept_keys([flatten(config(1, 5.0)), flatten(config(1, 6.0))]) == [
        "firms.bank.marketing.budget"]


def test_expected_jobs_follow_the_basic_sweeper(tmp_path: Path) -> None:
    write_multirun(tmp_path, ["time.horizon=2", "seed=0,1", "firms.bank.marketing.budget=1e3,2e3"])
    assert expected_jobs(tmp_path) == [
        ["time.horizon=2", "seed=0", "firms.bank.marketing.budget=1000.0"],  # as Hydra writes it
        ["time.horizon=2", "seed=0", "firms.bank.marketing.budget=2000.0"],
        ["time.horizon=2", "seed=1", "firms.bank.marketing.budget=1000.0"],
        ["time.horizon=2", "seed=1", "firms.bank.marketing.budget=2000.0"]]


def test_collect_adds_parameters_and_reports_failed_and_missing_jobs(tmp_path: Path,
                                                                     capsys) -> None:
    sweep = tmp_path / "sweep"
    task = ["seed=0,1", "firms.bank.marketing.budget=1e3,2e3"]
    write_multirun(sweep, task)
    jobs = expected_jobs(sweep)
    write_job(sweep, 0, jobs[0], config(0, 1000.0), transactions=True)
    write_job(sweep, 1, jobs[1], config(0, 2000.0))
    write_job(sweep, 2, jobs[2], config(1, 1000.0), complete=False)  # killed: no metadata.json
    # job 3 never started

    collection = collect(sweep)
    status = dict(zip(collection.jobs["job"], collection.jobs["status"], strict=True))
    assert status == {0: "complete", 1: "complete", 2: "failed", 3: "missing"}
    assert collection.params == ["seed", "firms.bank.marketing.budget"]
    report = collection.report()
    assert "2 complete, 1 failed, 1 missing" in report
    assert "missing: job 3 [seed=1 firms.bank.marketing.budget=2000.0]" in report

    firm = collection.read("firm_metrics")
    assert list(firm.columns[:3]) == ["job", "seed", "firms.bank.marketing.budget"]
    assert firm.groupby("job")["firms.bank.marketing.budget"].first().to_dict() == {
        0: 1000.0, 1: 2000.0}
    assert firm["seed"].dtype.kind == "i" and len(firm) == 6
    assert set(collection.read("transactions")["job"]) == {0}
    assert set(collection.read("summary")["job"]) == {0, 1}
    assert not list(collection.out_dir.glob(".*.tmp"))  # written atomically

    assert main([str(sweep)]) == 3  # incomplete: the command says so in its exit status
    assert "failed: job 2" in capsys.readouterr().out


def test_collect_of_a_complete_sweep_exits_zero(tmp_path: Path) -> None:
    write_multirun(tmp_path, ["seed=0,1"])
    for num, overrides in enumerate(expected_jobs(tmp_path)):
        write_job(tmp_path, num, overrides, config(num, 1000.0))
    assert main([str(tmp_path), "--out", str(tmp_path / "table")]) == 0
    assert pd.read_parquet(tmp_path / "table" / "firm_metrics.parquet")["seed"].tolist() == [
        0, 0, 0, 1, 1, 1]


def test_collect_of_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        collect(tmp_path / "nowhere")
    assert main([str(tmp_path / "nowhere")]) == 2


def test_a_real_sweep_with_a_bad_job_reports_it_failed(tmp_path: Path) -> None:
    import subprocess
    import sys

    sweep = tmp_path / "sweep"
    done = subprocess.run(
        [sys.executable, "-m", "ecosim.cli", "-m", "customers.n=1500,-5", "time.horizon=3",
         "events=[]", "output.figures=false", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0 and "customers.n" in done.stderr
    collection = collect(sweep)
    assert dict(zip(collection.jobs["job"], collection.jobs["status"], strict=True)) == {
        0: "complete", 1: "failed"}
    assert "failed: job 1 [customers.n=-5" in collection.report()
    assert set(collection.read("firm_metrics")["customers.n"]) == {1500}
