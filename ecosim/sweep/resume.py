"""Resuming a sweep: a job that is complete with an identical config is not run again.

A job is complete when its directory holds ``metadata.json`` (written last of all its files, see
``ecosim.experiment.mark_complete``). Re-running a sweep into the same ``hydra.sweep.dir`` gives
each job the same directory; the job skips itself when it is complete and its ``config.yaml``
equals the config it would run now, and runs otherwise: it first removes ``metadata.json``
(``ecosim.experiment.start_run_dir``), so that a job killed while it runs again is never taken
for complete with the old results, then overwrites what is there.

``metadata.json`` records the overrides the job ran with; ``ecosim-collect`` compares them with
Hydra's ``.hydra/overrides.yaml``. A skipped job restates them (``restate_overrides``): the same
config may be written differently (``1e3`` and ``1000``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ecosim.config import EcosimConfig, config_to_dict
from ecosim.experiment import TABLES, atomic_write
from ecosim.sweep.extras import OPTIONAL_FILES


def config_as_written(cfg: EcosimConfig) -> Any:
    """The config as ``config.yaml`` holds it once read back (plain lists, dicts and scalars)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.load(yaml.dump(config_to_dict(cfg), Dumper=dumper, sort_keys=False), Loader=loader)


def is_complete(out_dir: str | Path, cfg: EcosimConfig) -> bool:
    """True if ``out_dir`` holds a finished run of exactly ``cfg``.

    Finished: ``metadata.json`` is readable, and so is every table (its Parquet footer) and the
    summary; a damaged job is run again rather than skipped for ever. The optional files of a
    run (``ecosim.sweep.extras``: decisions, tipping diagnostics) are not required, since a job
    written before they existed is complete; a Parquet one that is present must be readable.

    Args:
        out_dir: a job's (or a run's) directory.
        cfg: the validated config the job would run now.
    """
    out = Path(out_dir)
    if not (out / "metadata.json").is_file() or not (out / "config.yaml").is_file():
        return False
    try:
        if not isinstance(json.loads((out / "metadata.json").read_text()), dict):
            return False  # a damaged mark: run the job again
        stored = yaml.load((out / "config.yaml").read_text(),
                           Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if stored != config_as_written(cfg) or not (out / "summary.csv").is_file():
            return False
        tables = [*TABLES, *(["transactions"] if cfg.output.transactions else [])]
        for name in tables:
            pq.read_metadata(out / f"{name}.parquet")
        for name in OPTIONAL_FILES:
            if name.endswith(".parquet") and (out / name).is_file():
                pq.read_metadata(out / name)
    except (OSError, ValueError, yaml.YAMLError, pa.ArrowException):
        return False
    return True


def restate_overrides(out_dir: str | Path, overrides: list[str]) -> None:
    """Record ``overrides`` in a complete job's ``metadata.json`` if it records others.

    Args:
        out_dir: a complete job's directory (``is_complete`` holds).
        overrides: the overrides the job is launched with now.
    """
    path = Path(out_dir) / "metadata.json"
    meta = json.loads(path.read_text())
    if meta.get("overrides") == overrides:
        return
    meta["overrides"] = overrides
    atomic_write(path, lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"))
