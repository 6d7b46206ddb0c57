"""The Hydra callback that ecosim registers for every run (``hydra.callbacks.ecosim``)."""

from __future__ import annotations

import logging
import time
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ecosim.sweep.launchers import LOCAL_LAUNCHERS, launcher_name, warm_numba_cache

log = logging.getLogger(__name__)


class SweepCallback(Callback):
    """Warms numba's cache before the jobs of a sweep start.

    Args:
        warm: compile the kernels in the launching process first. ``None`` (the default): only
            for launchers whose workers share this machine's cache (basic, joblib,
            submitit_local); SLURM and Ray jobs use a node-local ``NUMBA_CACHE_DIR`` instead.
    """

    def __init__(self, warm: bool | None = None) -> None:
        self.warm = warm

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Compile the kernels once, before any worker starts (they then load the cache)."""
        local = launcher_name(config.hydra.launcher) in LOCAL_LAUNCHERS
        if not (self.warm if self.warm is not None else local):
            return
        started = time.perf_counter()
        if warm_numba_cache(config):
            log.info("numba cache warm (%.1f s)", time.perf_counter() - started)
