"""Resume: a sweep killed half-way and run again ends with every job complete exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ecosim.config import config_to_dict, load_config
from ecosim.sweep.collect import collect
from ecosim.sweep.resume import is_complete

TINY = ["customers.n=3000", "time.horizon=6", "events=[]", "output.figures=false"]
SEEDS = "seed=0,1,2,3"


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


def test_a_job_is_complete_only_with_its_mark_and_the_same_config(tmp_path: Path) -> None:
    cfg = load_config({"customers": {"n": 100}, "needs": {"x": {}},
                       "firms": {"f": {"offerings": {"x": {}}}}})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    assert not is_complete(tmp_path, cfg)  # no metadata.json: killed before the end
    (tmp_path / "metadata.json").write_text("{}")
    assert is_complete(tmp_path, cfg)
    cfg.customers.n = 101
    assert not is_complete(tmp_path, cfg)  # a changed config is run again
