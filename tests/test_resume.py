"""Resume: a sweep killed half-way and run again ends with every job complete exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_cli import SMALL, ecosim_here

from ecosim.config import config_to_dict, load_config
from ecosim.experiment import TABLES
from ecosim.sweep.collect import collect
from ecosim.sweep.resume import is_complete

TINY = ["customers.n=3000", "time.horizon=6", "events=[]", "output.figures=false"]
SEEDS = "seed=0,1,2,3"


@pytest.mark.slow
def test_killed_sweep_resumes_without_redoing_finished_jobs(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    command = [sys.executable, "-m", "ecosim.cli", "-m", *TINY, SEEDS, f"hydra.sweep.dir={sweep}"]
    first = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 500
    while not (sweep / "0" / "metadata.json").exists():
        assert first.poll() is None, "the sweep ended before its first job completed"
        assert time.monotonic() < deadline, "the first job did not complete in time"
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)  # the whole process group, as a lost node would
    first.wait(timeout=60)

    interrupted = collect(sweep)
    done_before = set(interrupted.complete["job"])
    assert 0 in done_before and len(done_before) < 4, interrupted.report()
    assert set(interrupted.incomplete["job"]) == {0, 1, 2, 3} - done_before
    assert set(interrupted.incomplete["status"]) <= {"failed", "missing"}
    marks = {job: (sweep / str(job) / "metadata.json").stat().st_mtime_ns for job in done_before}

    second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    resumed = collect(sweep)
    assert resumed.incomplete.empty, resumed.report()
    assert list(resumed.jobs["job"]) == [0, 1, 2, 3]
    for job, mark in marks.items():  # finished work is not redone ...
        assert (sweep / str(job) / "metadata.json").stat().st_mtime_ns == mark
        assert f"skipped {sweep / str(job)} " in second.stdout
    assert second.stdout.count("ecosim: wrote") == 4 - len(done_before)  # ... the rest runs once
    firm = resumed.read("firm_metrics")
    assert sorted(firm.groupby("job")["seed"].first()) == [0, 1, 2, 3]
    assert firm.groupby("job").size().nunique() == 1  # every job wrote all its rows


def job_without_mark(directory: Path):
    """A job directory with a tiny config, every table and the summary, but no metadata.json."""
    cfg = load_config({"customers": {"n": 100}, "needs": {"x": {}},
                       "firms": {"f": {"offerings": {"x": {}}}}})
    (directory / "config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    for name in TABLES:
        frame = pd.DataFrame({"arm": ["base"], "replication": [0]})
        frame.to_parquet(directory / f"{name}.parquet")
    (directory / "summary.csv").write_text("arm,firm,kpi,mean\n")
    return cfg


def test_a_job_is_complete_only_with_its_mark_and_the_same_config(tmp_path: Path) -> None:
    cfg = job_without_mark(tmp_path)
    assert not is_complete(tmp_path, cfg)  # no metadata.json: killed before the end
    (tmp_path / "metadata.json").write_text("{}")
    assert is_complete(tmp_path, cfg)
    cfg.customers.n = 101
    assert not is_complete(tmp_path, cfg)  # a changed config is run again


@pytest.mark.parametrize("damage", ["mark", "table-truncated", "table-missing", "summary"])
def test_a_damaged_job_is_run_again_not_skipped(tmp_path: Path, damage: str) -> None:
    """A job that collect calls corrupt was skipped by every re-run: it could not be repaired."""
    cfg = job_without_mark(tmp_path)
    (tmp_path / "metadata.json").write_text("{}")
    assert is_complete(tmp_path, cfg)
    table = tmp_path / "unit_metrics.parquet"
    if damage == "mark":
        (tmp_path / "metadata.json").write_text('{"wall_sec')
    elif damage == "table-truncated":
        table.write_bytes(table.read_bytes()[:100])
    elif damage == "table-missing":
        table.unlink()
    else:
        (tmp_path / "summary.csv").unlink()
    assert not is_complete(tmp_path, cfg)


def test_a_rerun_removes_the_old_mark_before_it_simulates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Issue 8.5: a sweep re-run with other overrides and killed while job 0 simulated kept job
    0's old ``metadata.json`` (seed 1) beside the new overrides (seed 7): it looked complete."""
    job = tmp_path / "sweep" / "0"
    job.mkdir(parents=True)
    (job / "config.yaml").write_text("seed: 1\n")
    (job / "metadata.json").write_text(json.dumps({"seed": 1}))
    marked_while_simulating = []

    def killed(configs, progress=None, run_dir=None):
        marked_while_simulating.append((job / "metadata.json").exists())
        raise RuntimeError("killed")

    monkeypatch.setattr("ecosim.cli.run_experiment", killed)
    code, _, _ = ecosim_here(monkeypatch, capsys, "-m", *SMALL, "seed=7",
                             f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert code != 0 and marked_while_simulating == [False]
    collection = collect(tmp_path / "sweep")
    assert list(collection.jobs["status"]) == ["failed"], collection.report()


def test_a_skipped_job_stands_for_its_overrides_as_now_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    sweep = tmp_path / "sweep"
    code, _, stderr = ecosim_here(monkeypatch, capsys, "-m", *SMALL, "seed=3",
                                  f"hydra.sweep.dir={sweep}")
    assert code == 0, stderr
    assert json.loads((sweep / "0" / "metadata.json").read_text())["overrides"][0] == SMALL[0]
    code, stdout, _ = ecosim_here(monkeypatch, capsys, "-m", "customers.n=5e2", *SMALL[1:],
                                  "seed=3", f"hydra.sweep.dir={sweep}")
    assert code == 0 and "skipped" in stdout  # the same config, written differently
    collection = collect(sweep)
    assert list(collection.jobs["status"]) == ["complete"], collection.report()
    assert collection.jobs["overrides"][0].startswith("customers.n=500.0")  # as Hydra writes it
