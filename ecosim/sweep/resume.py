"""Resuming a sweep: a job that is complete with an identical config is not run again.

A job is complete when its directory holds ``metadata.json`` (written last of all its files, see
``ecosim.experiment.mark_complete``). Re-running a sweep into the same ``hydra.sweep.dir`` gives
each job the same directory; the job skips itself when it is complete and its ``config.yaml``
equals the config it would run now, and runs (overwriting what is there) otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ecosim.config import EcosimConfig, config_to_dict


def config_as_written(cfg: EcosimConfig) -> Any:
    """The config as ``config.yaml`` holds it once read back (plain lists, dicts and scalars)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.load(yaml.dump(config_to_dict(cfg), Dumper=dumper, sort_keys=False), Loader=loader)


def is_complete(out_dir: str | Path, cfg: EcosimConfig) -> bool:
    """True if ``out_dir`` holds a finished run of exactly ``cfg``.

    Args:
        out_dir: a job's (or a run's) directory.
        cfg: the validated config the job would run now.
    """
    out = Path(out_dir)
    if not (out / "metadata.json").is_file() or not (out / "config.yaml").is_file():
        return False
    try:
        stored = yaml.load((out / "config.yaml").read_text(),
                           Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return False
    return stored == config_as_written(cfg)
