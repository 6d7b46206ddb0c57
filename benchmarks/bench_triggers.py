"""What choices on triggers save: the benchmark market with every customer open, and on autopilot.

``bench_step``'s market (8 needs arising every step, 6 standalone firms, everyone aware) at
``--size`` customers, timed at openness 1 (every occasion a full search: the worst case kept as
``bench_step`` has it) and at openness 0 (every customer with a provider on autopilot: no choice,
no draw). Throughput is customer-need-steps per second, median over ``--repeats`` steps after a
warm-up step. To compare two versions in one sitting, run it in each checkout back to back::

    .venv/bin/python -m benchmarks.bench_triggers
    (cd ../old-checkout && PYTHONPATH=. ../main/.venv/bin/python -m benchmarks.bench_triggers)
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.bench_step import NEEDS, _bench_dict
from ecosim.config import load_config
from ecosim.model import EcosystemModel


def throughput(n_customers: int, openness: float, repeats: int) -> float:
    """Median customer-need-steps per second of the market at this openness."""
    raw = _bench_dict(n_customers, repeats + 1, 0)
    for segment in raw["customers"]["segments"].values():
        segment["openness"] = {"dist": "fixed", "value": openness}
    model = EcosystemModel(load_config(raw))
    model.step()  # warm-up: compilation or cache load
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - start)
    return n_customers * len(NEEDS) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200_000, help="customers")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per setting")
    args = parser.parse_args()
    for openness in (1.0, 0.0):
        rate = throughput(args.size, openness, args.repeats)
        print(f"openness {openness:.0f}: {rate / 1e6:.1f} M customer-need-steps/s "
              f"({args.size:,} customers)", flush=True)


if __name__ == "__main__":
    main()
