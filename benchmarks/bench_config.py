"""What a job spends before it simulates: composing and validating its configs.

A sweep of tiny jobs pays this per job, so it bounds their rate (issue 12 asks for at most 50 ms a
job). Measured in one run, on every arm of every shipped experiment and the default scenario:

* Hydra's ``compose`` of ``ecosim experiment=NAME`` (the library's cost, not ecosim's);
* ``load_config`` of each arm's tree, as ``arm_configs`` builds them;
* the reference: the same checked trees made into schema objects by OmegaConf's structured merge
  (``OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(EcosimConfig), tree))``), which
  ``load_config`` used before ``structure.build`` replaced it; the ratio is reference / build on
  the same trees in the same run, and the objects must be equal.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_config            # writes benchmarks/config_results.json
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import statistics
import subprocess
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ecosim.config import load_config, register_configs
from ecosim.config.paths import set_dotted
from ecosim.config.schema import EcosimConfig
from ecosim.config.store import CONF_DIR
from ecosim.config.structure import build, check_structure
from ecosim.config.validate import user_tree

RESULTS = Path(__file__).with_name("config_results.json")


def _median_ms(seconds: list[float]) -> float:
    return 1000 * statistics.median(seconds)


def main() -> None:
    register_configs()
    names = [None, *sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))]
    compose_s, load_s, build_s, merge_s, arms = [], [], [], [], 0
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        compose("config")  # Hydra's first compose loads its plugins
        for name in names:
            start = time.perf_counter()
            raw = compose("config", overrides=[f"experiment={name}"] if name else [])
            compose_s.append(time.perf_counter() - start)
            base, tree = load_config(raw), user_tree(raw)
            for overrides in (base.experiment.arms or {"base": {}}).values():
                arm_tree = copy.deepcopy(tree)
                for path, value in overrides.items():
                    set_dotted(arm_tree, path, value)
                start = time.perf_counter()
                load_config(arm_tree)
                load_s.append(time.perf_counter() - start)
                checked = check_structure(arm_tree, EcosimConfig, EcosimConfig(), "")
                start = time.perf_counter()
                built = build(EcosimConfig, checked, EcosimConfig())
                build_s.append(time.perf_counter() - start)
                start = time.perf_counter()
                merged = OmegaConf.to_object(
                    OmegaConf.merge(OmegaConf.structured(EcosimConfig), checked))
                merge_s.append(time.perf_counter() - start)
                assert built == merged, "structure.build and OmegaConf disagree"
                arms += 1
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "ecosim", "conf"],
                                capture_output=True, text=True, check=False).stdout.strip())
    result = {
        "benchmark": "config", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": commit + ("-dirty" if dirty else ""), "arm_configs": arms,
        "compose_ms_per_job": round(_median_ms(compose_s), 2),
        "load_config_ms_per_arm": round(_median_ms(load_s), 2),
        "build_ms": round(_median_ms(build_s), 3),
        "omegaconf_merge_ms_reference": round(_median_ms(merge_s), 2),
        "reference_over_build": round(statistics.median(merge_s) / statistics.median(build_s), 1),
    }
    print("| step | median ms |\n| --- | --- |")
    print(f"| Hydra compose, per job | {result['compose_ms_per_job']} |")
    print(f"| load_config, per arm | {result['load_config_ms_per_arm']} |")
    print(f"| schema objects: structure.build | {result['build_ms']} |")
    print(f"| schema objects: OmegaConf merge (reference) | "
          f"{result['omegaconf_merge_ms_reference']} |")
    print(f"\n{arms} arm configs; OmegaConf merge / build = {result['reference_over_build']}×")
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
