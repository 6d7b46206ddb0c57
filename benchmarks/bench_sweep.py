"""A sweep of tiny jobs through the laptop launcher: jobs per minute and where a job's time goes.

The sweep is the ``ecosim`` command a user types (issue 12 asks for 1 000 such jobs in under 5
minutes on 2 cores)::

    ecosim -m seed='range(0,N)' customers.n=2000 time.horizon=12 events=[] \\
        output.figures=false hydra/launcher=local hydra.launcher.n_jobs=2 hydra.sweep.dir=TMP

(the default market, 2 000 customers, 12 steps; the default event falls in step 24, past the
horizon, so ``events=[]``). It runs in a fresh process, Numba's cache warm; the wall time counts
everything from the command's start to its exit: imports, the composition of every job (the
sweeper checks them all before launching), the workers' start, the jobs, the exit. Reported:
jobs per minute, CPU seconds per job (the command and its workers, user + system: what a busy
shared machine changes least), the time to the first job's start, and the steady rate between
the first job's start and the last job's end (from the jobs' files).

With ``--reference REV`` the sweep of ``--reference-jobs`` jobs (default 100) first runs
``--rounds`` times (default 2) with the source of git revision ``REV`` and with this tree, in
turns, so that both see the same load (``git archive`` of ``ecosim/`` and ``conf/`` into a
temporary directory, with the Numba cache of the kernels it shares byte for byte with this
tree); the ratios are the medians over rounds. ``--only PATH...`` makes the reference HEAD's
source with only those paths as they were at ``REV``: the comparison of those changes alone
(``--reference REV --only ecosim/cli.py ecosim/report ecosim/sweep``).

Then, in this process, one job's parts are timed (median over ``--split-jobs`` jobs):

* compose + validate: the job's config as Hydra's ``load_sweep_config`` composes it, and as
  ecosim's loader does (``ecosim.sweep.compose``), then ``arm_configs`` (validation);
* simulate: ``run_experiment`` (the model, its steps, the tables in memory);
* write: ``write_run_dir`` (tables, ``summary.csv``, ``report.md``, ``metadata.json``).

What the sweep's time per job holds beyond these is the launcher's and Hydra's per job (sending
the job to a worker, ``.hydra/*.yaml``, logging) and the command's fixed cost spread over jobs.

Results go to a markdown table on stdout and to ``sweep_results.json``. From the repository
root::

    .venv/bin/python -m benchmarks.bench_sweep                      # 1 000 jobs, ~4 min
    .venv/bin/python -m benchmarks.bench_sweep --jobs 100           # a quick run
    .venv/bin/python -m benchmarks.bench_sweep --jobs 0 --reference 5ae821c   # 100 jobs, 2 rounds
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("sweep_results.json")
#: Every job's market: the default scenario, small and short.
TINY = ("customers.n=2000", "time.horizon=12", "events=[]", "output.figures=false")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=1000,
                        help="jobs of the sweep (1000; 0: only the comparison and the split)")
    parser.add_argument("--workers", type=int, default=2,
                        help="the launcher's workers, hydra.launcher.n_jobs (2)")
    parser.add_argument("--reference", metavar="REV", default=None,
                        help="also run the sweep with the source of this git revision")
    parser.add_argument("--only", nargs="+", metavar="PATH", default=None,
                        help="the reference is HEAD with only these paths taken from REV")
    parser.add_argument("--reference-jobs", type=int, default=100,
                        help="jobs of each sweep compared with the reference (100)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="reference and this tree in turns, this many times (2)")
    parser.add_argument("--split-jobs", type=int, default=20,
                        help="jobs timed part by part in this process (20)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    return parser.parse_args(argv)


def sweep_command(jobs: int, workers: int, sweep_dir: Path) -> list[str]:
    """The ``ecosim`` arguments of the benchmark's sweep."""
    return ["-m", f"seed=range(0,{jobs})", *TINY, "hydra/launcher=local",
            f"hydra.launcher.n_jobs={workers}", f"hydra.sweep.dir={sweep_dir}"]


def run_sweep(jobs: int, workers: int, source: Path) -> dict[str, Any]:
    """Run the sweep with the ``ecosim`` package found in ``source``; its times and rates."""
    sweep_dir = Path(tempfile.mkdtemp(prefix="ecosim-bench-sweep-"))
    env = {**os.environ, "PYTHONPATH": str(source)}
    code = ("import sys; sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'ecosim'; "
            "import ecosim.cli; ecosim.cli.main()")
    command = [sys.executable, "-c", code, str(source),
               *sweep_command(jobs, workers, sweep_dir / "sweep")]
    started_at = time.time()
    start, cpu_start = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, cwd=source, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu_start
    ended_at = time.time()
    try:
        if done.returncode != 0:
            raise SystemExit(f"the sweep failed ({done.returncode}):\n{done.stderr[-3000:]}")
        job_dirs = [d for d in (sweep_dir / "sweep").iterdir() if d.name.isdigit()]
        complete = [d for d in job_dirs if (d / "metadata.json").is_file()]
        starts = [(d / ".hydra" / "config.yaml").stat().st_mtime for d in job_dirs]
        ends = [(d / "metadata.json").stat().st_mtime for d in complete]
        simulate = [json.loads((d / "metadata.json").read_text())["wall_seconds"]
                    for d in complete]
    finally:
        shutil.rmtree(sweep_dir, ignore_errors=True)
    first_start, last_end = min(starts), max(ends)
    return {
        "jobs": jobs, "complete": len(complete), "workers": workers, "wall_s": wall,
        "jobs_per_min": 60 * len(complete) / wall,
        "cpu_s": cpu, "cpu_s_per_job": cpu / len(complete),
        "seconds_per_job_per_worker": wall * workers / len(complete),
        "to_first_job_s": first_start - started_at,
        "after_last_job_s": ended_at - last_end,
        "steady_jobs_per_min": 60 * (len(complete) - 1) / max(last_end - first_start, 1e-9),
        "simulate_s_median": statistics.median(simulate),
        "ecosim": str(source),
    }


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children and theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _extract(revision: str, paths: list[str], target: Path) -> None:
    """``paths`` as they are at git ``revision``, written under ``target``."""
    archive = subprocess.run(["git", "archive", "--format=tar", revision, *paths],
                             cwd=ROOT, capture_output=True, check=True).stdout
    tar_path = target / "source.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(target, filter="data")
    tar_path.unlink()


def reference_tree(revision: str, only: list[str] | None = None) -> Path:
    """The reference's ``ecosim/`` and ``conf/`` in a temporary directory, kernels cached.

    Without ``only``: both as they are at ``revision``. With ``only`` (paths): HEAD's, except
    those paths, taken from ``revision`` (a file that ``revision`` lacks is left out), so that
    the comparison is of those files alone.

    The Numba cache of each kernel module the reference shares byte for byte with this tree is
    copied, and the module's time stamp set to this tree's, so that Numba loads it (the cache
    is keyed by the source file's time stamp and size). A kernel that differs would compile
    for minutes: refused.
    """
    target = Path(tempfile.mkdtemp(prefix="ecosim-bench-reference-"))
    _extract("HEAD" if only else revision, ["ecosim", "conf"], target)
    for path in only or []:
        old = target / path
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink(missing_ok=True)
        listed = subprocess.run(["git", "ls-tree", "-r", "--name-only", revision, "--", path],
                                cwd=ROOT, capture_output=True, text=True, check=True).stdout
        if listed.strip():
            _extract(revision, [path], target)
    kernels, theirs = ROOT / "ecosim" / "kernels", target / "ecosim" / "kernels"
    for source in sorted(kernels.glob("*.py")):
        copy = theirs / source.name
        if not copy.is_file() or not filecmp.cmp(source, copy, shallow=False):
            raise SystemExit(f"reference {revision}: ecosim/kernels/{source.name} differs from "
                             "this tree's; its kernels would compile for minutes")
        stat = source.stat()
        os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    cache = theirs / "__pycache__"
    cache.mkdir(exist_ok=True)
    for path in (kernels / "__pycache__").glob("*.nb[ic]"):
        shutil.copy2(path, cache / path.name)
    return target


def split(jobs: int) -> dict[str, Any]:
    """One job's parts in this process, median seconds over ``jobs`` jobs (module docstring)."""
    from hydra import initialize_config_dir
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    from ecosim.cli import write_run_dir
    from ecosim.config import arm_configs, register_configs
    from ecosim.config.store import CONF_DIR
    from ecosim.experiment import run_experiment, start_run_dir
    from ecosim.sweep.compose import EcosimConfigLoader, clear_bases

    logging.getLogger("ecosim.experiment").setLevel(logging.WARNING)
    logging.getLogger("MESA").setLevel(logging.WARNING)
    register_configs()
    parts: dict[str, list[float]] = {name: [] for name in (
        "compose_hydra", "compose_ecosim", "validate", "simulate", "write")}
    out_root = Path(tempfile.mkdtemp(prefix="ecosim-bench-split-"))
    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            path = GlobalHydra.instance().hydra.config_loader.config_search_path
            hydras, ours = (ConfigLoaderImpl(config_search_path=path),
                            EcosimConfigLoader(config_search_path=path))
            master = hydras.load_configuration(
                "config", ["hydra/launcher=local", f"hydra.sweep.dir={out_root}", *TINY],
                RunMode.MULTIRUN)
            for job in range(jobs + 1):  # job 0 warms up: plugins, the base, Numba's cache
                overrides = [f"seed={job}", *TINY]
                start = time.perf_counter()
                hydras.load_sweep_config(master, overrides)
                middle = time.perf_counter()
                raw = ours.load_sweep_config(master, overrides)
                composed = time.perf_counter()
                configs = arm_configs(raw)
                validated = time.perf_counter()
                out = start_run_dir(out_root / str(job), configs)
                begin = time.perf_counter()
                result = run_experiment(configs, progress=False)
                simulated = time.perf_counter()
                write_run_dir(result, out)
                written = time.perf_counter()
                if job:
                    for name, seconds in (("compose_hydra", middle - start),
                                          ("compose_ecosim", composed - middle),
                                          ("validate", validated - composed),
                                          ("simulate", simulated - begin),
                                          ("write", written - simulated)):
                        parts[name].append(seconds)
    finally:
        clear_bases()
        shutil.rmtree(out_root, ignore_errors=True)
    return {name: statistics.median(seconds) for name, seconds in parts.items()}


def _row(name: str, row: dict[str, Any]) -> str:
    return (f"| {name} | {row['complete']}/{row['jobs']} | {row['wall_s']:.1f} | "
            f"{row['jobs_per_min']:.1f} | {row['cpu_s_per_job']:.3f} | "
            f"{row['to_first_job_s']:.1f} | {row['steady_jobs_per_min']:.1f} |")


def main(argv: list[str] | None = None) -> None:
    from ecosim.experiment import git_commit

    args = parse_args(argv)
    load_before = os.getloadavg()
    rounds: list[dict[str, Any]] = []
    if args.reference:
        tree = reference_tree(args.reference, args.only)
        try:
            for _ in range(args.rounds):  # in turns, so that both see the same load
                reference = run_sweep(args.reference_jobs, args.workers, tree)
                current = run_sweep(args.reference_jobs, args.workers, ROOT)
                rounds.append({"reference": reference, "ecosim": current,
                               "rate_ratio": current["jobs_per_min"] / reference["jobs_per_min"],
                               "cpu_ratio": reference["cpu_s_per_job"]
                               / current["cpu_s_per_job"]})
        finally:
            shutil.rmtree(tree, ignore_errors=True)
    sweep = run_sweep(args.jobs, args.workers, ROOT) if args.jobs else None
    parts = split(args.split_jobs)
    result: dict[str, Any] = {
        "benchmark": "sweep", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(), "cores": os.cpu_count(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "command": "ecosim " + " ".join(sweep_command(args.jobs, args.workers, Path("TMP"))),
        "sweep": sweep, "reference": args.reference, "reference_only": args.only,
        "rounds": rounds,
        "job_split_s": parts, "split_jobs": args.split_jobs,
    }
    print("| sweep | jobs | wall s | jobs/min | CPU s per job | to first job s "
          "| steady jobs/min |\n| --- | --- | --- | --- | --- | --- | --- |")
    for i, turn in enumerate(rounds):
        print(_row(f"round {i + 1}: reference {args.reference}", turn["reference"]))
        print(_row(f"round {i + 1}: this tree", turn["ecosim"]))
    if sweep:
        print(_row("this tree", sweep))
    if rounds:
        result["rate_ratio_median"] = statistics.median(t["rate_ratio"] for t in rounds)
        result["cpu_ratio_median"] = statistics.median(t["cpu_ratio"] for t in rounds)
        print(f"\nthis tree over the reference, median of {len(rounds)} rounds: "
              f"{result['rate_ratio_median']:.2f}× the jobs per minute, "
              f"{result['cpu_ratio_median']:.2f}× less CPU per job")
    print("\n| part of a job (this process, median) | ms |\n| --- | --- |")
    labels = {"compose_hydra": "compose: Hydra's load_sweep_config (reference)",
              "compose_ecosim": "compose: ecosim's loader", "validate": "validate: arm_configs",
              "simulate": "simulate: run_experiment", "write": "write: write_run_dir"}
    for name, label in labels.items():
        print(f"| {label} | {1000 * parts[name]:.1f} |")
    print(f"\ncompose + validate: {1000 * (parts['compose_ecosim'] + parts['validate']):.1f} ms "
          f"(Hydra's composition: {1000 * (parts['compose_hydra'] + parts['validate']):.1f} ms)")
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
