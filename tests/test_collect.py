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
    for table in ("unit_metrics", "segment_metrics", "segment_needs", "cohort_retention"):
        pd.DataFrame({"arm": ["base"], "replication": [0], "customers": [10]}).to_parquet(
            job / f"{table}.parquet", index=False)
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


@pytest.mark.slow
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


def complete_sweep(sweep: Path, seeds: str = "0,1") -> Path:
    write_multirun(sweep, [f"seed={seeds}"])
    for num, overrides in enumerate(expected_jobs(sweep)):
        write_job(sweep, num, overrides, config(num, 1000.0))
    return sweep


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def another_table(path: Path) -> None:
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(path, index=False)


DAMAGE = {
    "parquet-empty": ("firm_metrics.parquet", lambda p: p.write_bytes(b"")),
    "parquet-truncated": ("cohort_retention.parquet", truncate),
    "parquet-random": ("unit_metrics.parquet",
                       lambda p: p.write_bytes(bytes(range(256)) * 8)),
    "parquet-another-table": ("segment_metrics.parquet", another_table),
    "metadata-truncated": ("metadata.json", lambda p: p.write_text('{"wall_sec')),
    "metadata-not-an-object": ("metadata.json", lambda p: p.write_text("[1, 2]")),
    "config-malformed": ("config.yaml", lambda p: p.write_text("seed: [1,\n  time: {")),
    "overrides-malformed": (".hydra/overrides.yaml", lambda p: p.write_text("- [seed=1\n")),
    "summary-empty": ("summary.csv", lambda p: p.write_text("")),
    "table-missing": ("unit_metrics.parquet", Path.unlink),
    "summary-missing": ("summary.csv", Path.unlink),
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_an_unreadable_job_is_corrupt_and_keeps_no_rows(tmp_path: Path, capsys,
                                                         damage: str) -> None:
    """Damaged files gave tracebacks, and a job missing a table had its rows dropped silently."""
    name, spoil = DAMAGE[damage]
    sweep = complete_sweep(tmp_path / "sweep")
    spoil(sweep / "1" / name)

    assert main([str(sweep)]) == 3
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    line = next(line for line in captured.out.splitlines() if "corrupt: job 1" in line)
    assert Path(name).name in line, captured.out
    assert "1 complete" in captured.out and "1 corrupt" in captured.out

    collection = collect(sweep)
    assert dict(zip(collection.jobs["job"], collection.jobs["status"], strict=True)) == {
        0: "complete", 1: "corrupt"}
    for table in ("firm_metrics", "unit_metrics", "segment_metrics", "cohort_retention"):
        assert set(collection.read(table)["job"]) == {0}, table  # all of job 1 or nothing
    assert set(collection.read("summary")["job"]) == {0}
    assert not list(collection.out_dir.glob(".*.tmp"))
    jobs = pd.read_csv(collection.out_dir / "jobs.csv")
    assert jobs.set_index("job").loc[1, "status"] == "corrupt"


def test_a_job_with_transactions_on_needs_its_transactions(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    write_multirun(sweep, ["seed=0,1"])
    for num, overrides in enumerate(expected_jobs(sweep)):
        cfg = {**config(num, 1000.0), "output": {"transactions": True}}
        write_job(sweep, num, overrides, cfg, transactions=num == 0)
    collection = collect(sweep)
    assert dict(zip(collection.jobs["job"], collection.jobs["status"], strict=True)) == {
        0: "complete", 1: "corrupt"}
    assert "transactions.parquet" in collection.report()


@pytest.mark.parametrize("kind", ["empty", "other files", "a single run"])
def test_a_directory_that_is_no_sweep_is_refused(tmp_path: Path, capsys, kind: str) -> None:
    """An empty or non-sweep directory gave exit 0 with "0 jobs" and a collected/ folder."""
    folder = tmp_path / "folder"
    folder.mkdir()
    if kind == "other files":
        (folder / "notes.txt").write_text("not a sweep")
        (folder / "data").mkdir()
    elif kind == "a single run":
        (folder / ".hydra").mkdir()
        (folder / ".hydra" / "overrides.yaml").write_text("[]")
        (folder / "metadata.json").write_text("{}")
    assert main([str(folder)]) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "no sweep" in lines[0] and str(folder) in lines[0], captured.err
    assert not (folder / "collected").exists()
    with pytest.raises(ValueError, match="no sweep"):
        collect(folder)


def test_an_old_result_under_new_overrides_is_stale_and_listed_once(tmp_path: Path,
                                                                      capsys) -> None:
    """Issue 8.5: a sweep of seed=1,2 re-run as seed=7,8 and killed while job 0 simulated.

    Job 0 holds the new overrides beside the old config and mark (seed 1); job 1 was not
    reached and holds the old sweep's job. Collect listed job 0 complete with seed 1, and job 1
    twice (complete with seed 2, and missing).
    """
    sweep = tmp_path / "sweep"
    write_multirun(sweep, ["seed=7,8"])
    write_job(sweep, 0, ["seed=7"], config(1, 1000.0))
    write_job(sweep, 1, ["seed=2"], config(2, 1000.0))

    collection = collect(sweep)
    assert list(collection.jobs["job"]) == [0, 1]  # never twice
    assert list(collection.jobs["status"]) == ["stale", "stale"]
    assert list(collection.jobs["overrides"]) == ["seed=7", "seed=8"]  # what the sweep runs
    report = collection.report()
    assert "stale: job 0 [seed=7]" in report and "seed" in report.split("stale: job 0")[1]
    assert "firm_metrics" not in collection.tables
    assert main([str(sweep)]) == 3
    assert "2 stale" in capsys.readouterr().out


def test_a_mark_recording_other_overrides_is_stale(tmp_path: Path) -> None:
    sweep = complete_sweep(tmp_path / "sweep")
    (sweep / "0" / "metadata.json").write_text(json.dumps({"overrides": ["seed=5"]}))
    (sweep / "1" / "metadata.json").write_text(json.dumps({"overrides": ["seed=1"]}))
    collection = collect(sweep)
    assert dict(zip(collection.jobs["job"], collection.jobs["status"], strict=True)) == {
        0: "stale", 1: "complete"}
    assert "seed=5" in collection.report()


def test_equal_values_written_differently_are_not_stale(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    write_multirun(sweep, ["firms.bank.marketing.budget=1e3", "events=[]", "hydra/launcher=local",
                           "+sample.index=3", "experiment=growth_levers"])
    write_job(sweep, 0, expected_jobs(sweep)[0],
              {**config(0, 1000), "experiment": {"factors": []}})
    collection = collect(sweep)
    assert list(collection.jobs["status"]) == ["complete"], collection.report()
