"""Memory and time at scale: the default market at millions of customers, a few steps.

For each size in ``--customers`` a fresh Python process (so that peaks do not mix) composes
``conf/config.yaml`` through Hydra as the ``ecosim`` command does, with ``customers.n`` set (the
rest of the market as shipped: 8 needs, 10 firms, a Watts–Strogatz network of degree 10,
``market_size`` unchanged, so the simulated customers are a finer sample of the same market),
validates it with ``load_config`` and then:

* warms up: builds and steps a 2 000-customer model of the same market, so that Numba's
  compilation (or cache load) is done and the process's baseline is what any run carries;
* builds ``EcosystemModel`` at the size (timed: population, network, firms, step 0);
* plays ``--steps`` steps (seconds per step: the median).

Memory is the operating system's: the process's peak resident set (``ru_maxrss``) and its
resident set after the warm-up (the baseline), after the build and after the steps. Bytes per
customer are ``(peak - baseline) / customers``; beside them the parts the memory estimate of
``ecosim.config.limits`` predicts, and what the model holds (``CustomerPopulation.nbytes``).
The largest market that fits in ``--budget-gb`` is extrapolated linearly from the bytes per
customer measured at the largest size run: ``(budget - baseline) / bytes per customer``.

Results go to a markdown table on stdout and to ``scale_results.json``. Run from the repository
root::

    .venv/bin/python -m benchmarks.bench_scale                          # 10^7 customers, 3 steps
    .venv/bin/python -m benchmarks.bench_scale --customers 1e6,3e6,1e7  # a sweep
    .venv/bin/python -m benchmarks.bench_scale --steps 120 \
        --output benchmarks/scale_120_results.json                      # 10^7 x 120 steps, whole

``--steps`` beyond the default market's horizon raises the horizon to it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("scale_results.json")
#: Customers of the warm-up model (compiles or loads the kernels before anything is measured).
WARMUP_CUSTOMERS = 2_000
#: Parts of ``limits.memory_estimate`` that grow with the customers, and those that do not.
SCALING = ("population", "network", "ledgers", "cell_ledgers", "buffers")
FIXED = ("history", "all_tables", "cohorts", "transactions", "base")


def _sizes(text: str) -> list[int]:
    """``1e6,3e6,1e7`` -> ``[1000000, 3000000, 10000000]``."""
    sizes = [int(float(part)) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive customer counts, got {text!r}")
    return sizes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=_sizes, default=[10_000_000],
                        help="customers, or a comma-separated sweep (default 1e7)")
    parser.add_argument("--steps", type=int, default=3, help="steps timed per size (default 3)")
    parser.add_argument("--budget-gb", type=float, default=24.0,
                        help="memory budget for the largest-market figure, in GB (1e9 bytes)")
    parser.add_argument("--basket-cache", choices=("auto", "on", "off"), default="auto",
                        help="the run's basket_cache: auto (null: on up to 2**27 customer-needs, "
                             "as the ecosim command runs), on or off")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _rss() -> int | None:
    """The process's resident set now, in bytes (Linux ``/proc``; ``None`` elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    """The process's peak resident set so far, in bytes (``ru_maxrss`` is in KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


#: ``--basket-cache`` -> the ``basket_cache`` override.
BASKET_CACHE = {"auto": "null", "on": "true", "off": "false"}


def _config(n_customers: int, basket_cache: str = "auto", steps: int = 0):
    """The default market at ``n_customers``, composed as the ``ecosim`` command composes it.

    Its horizon is raised to ``steps`` when that is longer (a run's history holds the horizon).
    """
    from hydra import compose, initialize_config_dir

    from ecosim.config import load_config, register_configs
    from ecosim.config.store import CONF_DIR

    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        raw = compose("config", overrides=[f"customers.n={n_customers}",
                                           f"basket_cache={BASKET_CACHE[basket_cache]}"])
    raw.time.horizon = max(raw.time.horizon, steps)
    return load_config(raw)


def measure(n_customers: int, steps: int, basket_cache: str = "auto") -> dict[str, Any]:
    """Build and step the default market at ``n_customers`` in this process (the worker)."""
    import numba

    from ecosim.config.limits import BASKET_BYTES, basket_cache_on, memory_estimate, total_memory
    from ecosim.model import EcosystemModel

    warm = EcosystemModel(_config(WARMUP_CUSTOMERS, basket_cache))
    warm.step()
    del warm
    cfg = _config(n_customers, basket_cache, steps)
    baseline, baseline_peak = _rss(), _peak_rss()

    start = time.perf_counter()
    model = EcosystemModel(cfg)
    build_s = time.perf_counter() - start
    after_build, build_peak = _rss(), _peak_rss()
    step_s = []
    for _ in range(steps):
        start = time.perf_counter()
        model.step()
        step_s.append(time.perf_counter() - start)
    # ru_maxrss trails the resident set by up to a few hundred kB (the kernel batches its
    # counters), so the peak is at least the resident sets read.
    after_steps = _rss()
    build_peak = max(build_peak, after_build or 0)
    peak = max(_peak_rss(), build_peak, after_steps or 0)

    held = model.population.nbytes()
    n_needs = len(cfg.needs)
    estimate = memory_estimate(cfg)
    base = baseline or baseline_peak
    return {
        "customers": n_customers, "needs": n_needs, "firms": len(cfg.firms),
        "basket_cache": basket_cache_on(cfg),
        "basket_cache_bytes_per_customer": BASKET_BYTES * n_needs * basket_cache_on(cfg),
        "network": {"kind": cfg.customers.network.kind, "degree": cfg.customers.network.degree,
                    "rewire": cfg.customers.network.rewire},
        "numba_threads": numba.get_num_threads(),
        "build_s": build_s, "step_s": step_s, "median_step_s": statistics.median(step_s),
        "build_and_steps_s": build_s + sum(step_s),
        "customer_need_steps_per_s": n_customers * n_needs / statistics.median(step_s),
        "rss_bytes": {"baseline_after_warmup": baseline, "peak_before_build": baseline_peak,
                      "after_build": after_build, "peak_during_build": build_peak,
                      "after_steps": after_steps, "peak": peak},
        "peak_bytes_per_customer": (peak - base) / n_customers,
        "build_peak_bytes_per_customer": (build_peak - base) / n_customers,
        "held_after_steps_bytes_per_customer": (after_steps - base) / n_customers
        if after_steps and baseline else None,
        "model_holds_bytes_per_customer": {
            "population": held["per_customer"] + n_needs * held["per_customer_need"],
            "per_customer": held["per_customer"], "per_customer_need": held["per_customer_need"],
            "network": held["network"] / n_customers,
            # what else the process gained: ledgers, history, firms, allocator slack
            "other": ((after_steps - base) - held["per_customer"] * n_customers
                      - held["per_customer_need"] * n_customers * n_needs - held["network"])
            / n_customers if after_steps and baseline else None},
        "estimate_bytes_per_customer": {name: value / n_customers
                                        for name, value in estimate.items()},
        "estimate_total_bytes": total_memory(estimate),
    }


def _run_worker(n_customers: int, steps: int, basket_cache: str) -> dict[str, Any]:
    """``measure`` in a fresh interpreter; its JSON is the last line of its output."""
    command = [sys.executable, "-m", "benchmarks.bench_scale", "--worker", str(n_customers),
               "--steps", str(steps), "--basket-cache", basket_cache]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the worker for {n_customers:,} customers failed "
                           f"(exit {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def largest_market(row: dict[str, Any], budget_bytes: float,
                   auto: bool = True) -> dict[str, Any]:
    """Customers that fit in ``budget_bytes``, linear in the bytes per customer of ``row``.

    With ``auto`` (the run's ``basket_cache`` left null) a market above ``BASKET_CACHE_AUTO``
    customer-needs runs without the basket cache: when ``row`` was measured with it and the fit
    lands there, the cache's bytes (8 per customer-need, allocated whole) are taken off.
    """
    from ecosim.config.limits import BASKET_CACHE_AUTO

    baseline = row["rss_bytes"]["baseline_after_warmup"] or row["rss_bytes"]["peak_before_build"]
    per_customer = row["peak_bytes_per_customer"]
    method = ("measured peak RSS at the largest size run, extrapolated linearly: "
              "(budget - baseline RSS after warm-up) / peak bytes per customer")
    customers = int((budget_bytes - baseline) / per_customer)
    if auto and row["basket_cache"] and customers * row["needs"] > BASKET_CACHE_AUTO:
        per_customer -= row["basket_cache_bytes_per_customer"]
        customers = int((budget_bytes - baseline) / per_customer)
        method += ("; that market is above the basket cache's automatic limit, so the cache's "
                   "bytes per customer are taken off the measured peak")
    return {"budget_bytes": budget_bytes, "measured_at_customers": row["customers"],
            "baseline_bytes": baseline, "peak_bytes_per_customer": per_customer,
            "customers": customers, "method": method}


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def markdown(rows: list[dict[str, Any]], fit: dict[str, Any]) -> str:
    lines = ["| customers | build s | step s (median) | build and steps s "
             "| customer-need-steps/s | peak RSS GiB | peak B/customer | build peak B/customer "
             "| held after steps B/customer | estimate B/customer |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        est = r["estimate_bytes_per_customer"]
        per_customer = sum(est[part] for part in SCALING)
        lines.append(f"| {r['customers']:,} | {r['build_s']:.1f} | {r['median_step_s']:.2f} "
                     f"| {r['build_and_steps_s']:.1f} | {r['customer_need_steps_per_s']:,.0f} "
                     f"| {r['rss_bytes']['peak'] / 2**30:.2f} "
                     f"| {r['peak_bytes_per_customer']:.0f} "
                     f"| {r['build_peak_bytes_per_customer']:.0f} "
                     f"| {_number(r['held_after_steps_bytes_per_customer'], '.0f')} "
                     f"| {per_customer:.0f} |")
    lines += ["", "| part | " + " | ".join(f"{r['customers']:,}" for r in rows) + " |",
              "| --- |" + " ---: |" * len(rows)]
    for part in SCALING:
        lines.append(f"| estimate: {part}, B/customer | " + " | ".join(
            f"{r['estimate_bytes_per_customer'][part]:.1f}" for r in rows) + " |")
    for part in FIXED:
        lines.append(f"| estimate: {part}, MiB | " + " | ".join(
            f"{r['estimate_bytes_per_customer'][part] * r['customers'] / 2**20:.0f}"
            for r in rows) + " |")
    for part in ("population", "network", "other"):
        lines.append(f"| model holds: {part}, B/customer | " + " | ".join(
            _number(r["model_holds_bytes_per_customer"][part], ".1f") for r in rows) + " |")
    lines += ["", f"Largest market in {fit['budget_bytes'] / 1e9:g} GB: "
              f"**{fit['customers']:,} customers** (peak {fit['peak_bytes_per_customer']:.0f} B "
              f"per customer measured at {fit['measured_at_customers']:,}, baseline "
              f"{fit['baseline_bytes'] / 2**20:.0f} MiB; extrapolated linearly)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    args = parse_args(argv)
    if args.worker is not None:
        print(json.dumps(measure(args.worker, args.steps, args.basket_cache)))
        return None
    import numba
    import numpy as np

    from ecosim.experiment import git_commit

    started = time.perf_counter()
    load_before = os.getloadavg()
    rows = []
    for n in args.customers:
        rows.append(_run_worker(n, args.steps, args.basket_cache))
        r = rows[-1]
        print(f"{n:,} customers: build {r['build_s']:.1f} s, step {r['median_step_s']:.2f} s, "
              f"peak {r['peak_bytes_per_customer']:.0f} B/customer", flush=True)
    largest = max(rows, key=lambda r: r["customers"])
    fit = largest_market(largest, args.budget_gb * 1e9, auto=args.basket_cache == "auto")
    results = {
        "benchmark": "bench_scale",
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks.bench_scale",
                             *(argv if argv is not None else sys.argv[1:])]),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "market": "conf/config.yaml (Hydra compose, customers.n overridden)",
        "steps": args.steps,
        "basket_cache": args.basket_cache,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "memory_bytes": os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"),
                    "load_average_before": load_before, "load_average_after": os.getloadavg()},
        "software": {"python": platform.python_version(), "numba": numba.__version__,
                     "numpy": np.__version__},
        "sizes": rows,
        "largest_market_in_budget": fit,
        "wall_s": time.perf_counter() - started,
    }
    print()
    print(markdown(rows, fit))
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
