"""The first run after an install: how long the kernels take to compile, kernel by kernel.

Runs the ``ecosim`` command on the default scenario, shortened (``--customers`` customers,
``--horizon`` steps, no figures), twice in fresh processes: first with an empty Numba cache (a
temporary ``NUMBA_CACHE_DIR``), as after ``pip install``, then again with that cache warm. The
first process records Numba's compile events (``numba.core.event``): the wall time of each
dispatcher's compilation, and how much of it LLVM took. The difference between the two runs is
what compiling costs the user.

Run from the repository root (a committed tree: the JSON records the commit)::

    .venv/bin/python -m benchmarks.bench_compile              # ~1-2 min on 2 cores
    .venv/bin/python -m benchmarks.bench_compile --ref REV    # and the same for another commit

``--ref`` checks the revision out into a temporary git worktree and measures it in the same run,
alternating, so that both see the same machine load; the result is a ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: What the child process runs: the CLI, with compile events recorded to a JSON file.
_CHILD = r"""
import json, sys, time
from collections import defaultdict
from numba.core import event

totals, starts = defaultdict(float), {}

class Timer(event.Listener):
    def on_start(self, ev):
        starts[(ev.kind, id(ev.data))] = time.perf_counter()
    def on_end(self, ev):
        t0 = starts.pop((ev.kind, id(ev.data)), None)
        if t0 is None:
            return
        name = ev.kind
        if ev.kind == "numba:compile":
            name = getattr(ev.data.get("dispatcher"), "__name__", "?")
        totals[name] += time.perf_counter() - t0

event.register("numba:compile", Timer())
event.register("numba:llvm_lock", Timer())
out, argv = sys.argv[1], sys.argv[2:]
sys.argv = ["ecosim", *argv]
from ecosim.cli import main
try:
    main()
finally:
    with open(out, "w") as f:
        json.dump(totals, f)
"""


def run_once(tree: Path, cache: Path, args: list[str]) -> dict[str, Any]:
    """One ``ecosim`` process in ``tree`` with ``cache`` as Numba's cache: wall s and events."""
    events = cache / f"events-{time.monotonic_ns()}.json"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(tree))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", _CHILD, str(events), *args], cwd=tree, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    compiled = json.loads(events.read_text()) if events.exists() else {}
    return {"wall_s": wall, "compile_s": compiled}


def measure(tree: Path, args: list[str]) -> dict[str, Any]:
    """Cold (empty cache) and warm runs of the shortened default scenario in ``tree``."""
    with tempfile.TemporaryDirectory(prefix="ecosim-numba-") as cache:
        cold = run_once(tree, Path(cache), args)
        warm = run_once(tree, Path(cache), args)
    kernels = {k: v for k, v in cold["compile_s"].items() if not k.startswith("numba:")}
    return {"cold_wall_s": cold["wall_s"], "warm_wall_s": warm["wall_s"],
            "compiling_s": cold["wall_s"] - warm["wall_s"],
            "llvm_s": cold["compile_s"].get("numba:llvm_lock", 0.0),
            "kernels_s": dict(sorted(kernels.items(), key=lambda kv: -kv[1])[:8])}


def git(*args: str) -> str:
    """Output of a git command in the repository."""
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print a markdown table and write ``compile_results.json``."""
    from ecosim.experiment import git_commit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--ref", default=None, help="a git revision measured in the same run")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name(
        "compile_results.json"))
    options = parser.parse_args(argv)
    args = [f"customers.n={options.customers}", f"time.horizon={options.horizon}",
            "output.figures=false"]
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ecosim-ref-") as scratch:
        trees = {"this tree": ROOT}
        if options.ref:
            ref_tree = Path(scratch) / "ref"
            git("worktree", "add", "--detach", str(ref_tree), options.ref)
            trees[f"ref {options.ref}"] = ref_tree
        try:
            for name, tree in trees.items():
                print(f"measuring {name} (compiles the kernels: a minute or more)...",
                      file=sys.stderr, flush=True)
                results[name] = measure(tree, [*args, f"hydra.run.dir={scratch}/{len(results)}"])
        finally:
            if options.ref:
                git("worktree", "remove", "--force", str(trees[f"ref {options.ref}"]))
    report = {
        "benchmark": "bench_compile", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "command": "python -m benchmarks.bench_compile " + " ".join(argv or sys.argv[1:]),
        "scenario": {"config": "conf/config.yaml", "overrides": args},
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "load_average_before": load_before, "load_average_after": os.getloadavg()},
        "results": results,
    }
    print("| tree | first run (empty cache) s | again (cache warm) s | compiling s | LLVM s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        print(f"| {name} | {r['cold_wall_s']:.1f} | {r['warm_wall_s']:.1f} | "
              f"{r['compiling_s']:.1f} | {r['llvm_s']:.1f} |")
    for name, r in results.items():
        print(f"- {name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["kernels_s"].items()))
    if options.ref:
        this, ref = results["this tree"], results[f"ref {options.ref}"]
        report["compile_ratio"] = ref["compiling_s"] / this["compiling_s"]
        print(f"- compiling: **{report['compile_ratio']:.1f}×** faster than {options.ref}")
    options.output.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
