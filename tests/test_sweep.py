"""Sweeps through Hydra's real launchers: launcher-independence, threads per job, progress.

The README's laptop and cluster commands are the ones run here (``hydra/launcher=local``, the
joblib launcher with ecosim's defaults, and ``submitit_local``, SLURM's local executor).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from ecosim.config import load_config, register_configs
from ecosim.experiment import TABLES, run
from ecosim.sweep.collect import collect
from ecosim.sweep.launchers import job_threads

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
TINY = ["customers.n=2000", "time.horizon=5", "events=[]", "output.figures=false"]
SEEDS = (0, 1)


def ecosim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecosim.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def single_run(seed: int):
    """The same config as a job of the sweep, composed by Hydra and run in this process."""
    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        raw = compose("config", overrides=[*TINY, f"seed={seed}"])
    return run(load_config(raw), progress=False)


@pytest.fixture(scope="module")
def single_runs():
    return {seed: single_run(seed) for seed in SEEDS}


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["local", "submitit_local"])
def test_multirun_collects_to_the_tables_of_single_runs(tmp_path: Path, launcher: str,
                                                        single_runs) -> None:
    sweep = tmp_path / "sweep"
    done = ecosim("-m", *TINY, f"seed={','.join(map(str, SEEDS))}", f"hydra/launcher={launcher}",
                  f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "numba cache warm" in done.stdout + done.stderr  # compiled before workers started
    collection = collect(sweep)
    assert collection.incomplete.empty, collection.report()
    assert list(collection.jobs["job"]) == [0, 1]
    assert collection.params == ["seed"]
    for table in TABLES:
        collected = collection.read(table)
        assert set(collected["job"]) == {0, 1}
        for job, seed in enumerate(SEEDS):
            rows = collected[collected["job"] == job]
            assert (rows["seed"] == seed).all()
            got = rows.drop(columns=["job", "seed"]).reset_index(drop=True)
            expected = getattr(single_runs[seed], table)
            assert len(got) == len(expected), table
            pd.testing.assert_frame_equal(got, expected.reset_index(drop=True),
                                          check_dtype=False, rtol=1e-9)
    summary = collection.read("summary")
    assert set(summary["job"]) == {0, 1} and {"kpi", "mean", "ci_low"} <= set(summary.columns)


@pytest.mark.parametrize("launcher, cores, threads", [
    ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
      "n_jobs": -1}, 8, 1),
    ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
      "n_jobs": 2}, 8, 4),
    ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
      "n_jobs": -2}, 8, 1),
    ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
      "n_jobs": 3}, 8, 2),
    ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
      "n_jobs": 16}, 8, 1),
    ({"_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
      "cpus_per_task": 4}, 64, 4),
    ({"_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher",
      "cpus_per_task": None}, 8, 1),
    ({"_target_": "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher",
      "ray": {"remote": {"num_cpus": 2}}}, 8, 2),
    ({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, 8, None),
])
def test_workers_times_threads_fit_the_cores(launcher: dict, cores: int,
                                             threads: int | None) -> None:
    assert job_threads(launcher, cores=cores) == threads


def test_launcher_configs_compose() -> None:
    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        local = compose("config", overrides=["hydra/launcher=local"], return_hydra_config=True)
        slurm = compose("config", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
    assert local.hydra.launcher._target_.endswith("JoblibLauncher")
    assert local.hydra.launcher.n_jobs == -1
    assert slurm.hydra.launcher._target_.endswith("SlurmLauncher")
    assert any("NUMBA_CACHE_DIR" in line for line in slurm.hydra.launcher.setup)
    assert job_threads(slurm.hydra.launcher) == slurm.hydra.launcher.cpus_per_task
    assert local.hydra.callbacks.ecosim._target_ == "ecosim.sweep.callbacks.SweepCallback"


def test_progress_goes_to_the_log_when_not_a_bar(caplog: pytest.LogCaptureFixture,
                                                 single_runs) -> None:
    cfg = single_runs[0].config
    with caplog.at_level(logging.INFO, logger="ecosim.experiment"):
        run(cfg, progress=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "ecosim.experiment"]
    assert lines and lines[-1].startswith(f"ecosim base: {cfg.time.horizon}/{cfg.time.horizon}")
