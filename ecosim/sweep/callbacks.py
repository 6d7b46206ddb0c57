"""The Hydra callback that ecosim registers for every run (``hydra.callbacks.ecosim``)."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ecosim.experiment import check_writable
from ecosim.sweep.launchers import LOCAL_LAUNCHERS, launcher_name, warm_numba_cache

log = logging.getLogger(__name__)


def require_writable(directory: str) -> None:
    """Exit with one line on stderr (status 2) when ``directory`` cannot be created or written.

    Hydra creates a run's directory before ecosim's code runs and fails there with a traceback;
    this check comes first (``on_run_start``, ``on_multirun_start``).
    """
    try:
        check_writable(directory)
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"ecosim: cannot write the output directory {directory}: {reason}",
              file=sys.stderr)
        sys.exit(2)


class SweepCallback(Callback):
    """Checks the output directory before anything runs; warms numba's cache before a sweep.

    Args:
        warm: compile the kernels in the launching process first. ``None`` (the default): only
            for launchers whose workers share this machine's cache (basic, joblib,
            submitit_local); SLURM and Ray jobs use a node-local ``NUMBA_CACHE_DIR`` instead.
    """

    def __init__(self, warm: bool | None = None) -> None:
        self.warm = warm

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Refuse, in one line, a run directory that cannot be written."""
        require_writable(str(config.hydra.run.dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Refuse an unwritable sweep directory; compile the kernels before workers start.

        Workers then load numba's cache instead of compiling each.
        """
        require_writable(str(config.hydra.sweep.dir))
        local = launcher_name(config.hydra.launcher) in LOCAL_LAUNCHERS
        if not (self.warm if self.warm is not None else local):
            return
        started = time.perf_counter()
        if warm_numba_cache(config):
            log.info("numba cache warm (%.1f s)", time.perf_counter() - started)
