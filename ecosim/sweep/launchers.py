"""What a job needs to know about the launcher that runs it: threads per job, and numba's cache.

Hydra runs the jobs of a sweep in parallel workers (joblib processes, submitit tasks, Ray tasks).
Each job runs numba kernels that are themselves parallel, so a job takes only its share of the
cores: ``workers × threads <= cores``. The kernels are compiled once and cached on disk
(``cache=True``); ``warm_numba_cache`` compiles them in the parent before any worker starts, so
that workers load the cache instead of all compiling at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

#: Launchers whose workers run on this machine (they share its cores and its numba cache).
LOCAL_LAUNCHERS = ("BasicLauncher", "JoblibLauncher", "LocalLauncher")
#: Customers in the run that warms the cache: enough for every code path, fast to simulate.
WARM_CUSTOMERS = 300


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask, which SLURM and containers restrict)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def launcher_name(launcher: Mapping[str, Any] | None) -> str:
    """Class name of the launcher in a ``hydra.launcher`` config (``JoblibLauncher``, ...)."""
    target = str((launcher or {}).get("_target_", ""))
    return target.rsplit(".", 1)[-1]


def job_threads(launcher: Mapping[str, Any] | None, cores: int | None = None) -> int | None:
    """Numba threads for one job of a sweep, so that workers × threads <= cores.

    Args:
        launcher: the ``hydra.launcher`` config of the sweep.
        cores: CPUs available (default: this process's affinity).

    Returns:
        joblib: ``cores // workers`` (at least 1), where ``n_jobs=-1`` means one worker per core
        as in joblib; submitit: ``cpus_per_task`` (1 if unset: SLURM's default allocation);
        Ray: ``ray.remote.num_cpus`` (1 if unset); the basic launcher (jobs one after another):
        ``None``, all cores.
    """
    cores = cores or available_cores()
    name = launcher_name(launcher)
    launcher = launcher or {}
    if name == "JoblibLauncher":
        n_jobs = launcher.get("n_jobs")
        n_jobs = -1 if n_jobs is None else int(n_jobs)
        workers = n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)
        return max(1, cores // min(workers, cores))
    if name in ("SlurmLauncher", "LocalLauncher"):
        return max(1, int(launcher.get("cpus_per_task") or 1))
    if name == "RayLauncher":
        remote = (launcher.get("ray") or {}).get("remote") or {}
        return max(1, int(remote.get("num_cpus") or 1))
    return None


def set_job_threads(threads: int | None) -> int:
    """Set numba's threads for this process (capped by ``NUMBA_NUM_THREADS``); return them."""
    import numba

    if threads is not None:
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    return numba.get_num_threads()


def warm_numba_cache(raw: Mapping[str, Any]) -> bool:
    """Compile and cache the kernels by simulating a tiny copy of a config; True if it ran.

    The copy keeps every block of the config (so the same kernels and types are used) but has at
    most ``WARM_CUSTOMERS`` customers and one replication, writes nothing and shows no bar. A
    config that does not validate is left to the jobs to report.
    """
    from omegaconf import OmegaConf

    from ecosim.config import ConfigError, load_config
    from ecosim.experiment import run

    tree = OmegaConf.to_container(OmegaConf.create(dict(raw)), resolve=False)
    tree.pop("hydra", None)
    tree.pop("sample", None)  # a sensitivity sample: its values are not needed to compile
    customers = tree.setdefault("customers", {})
    degree = int((customers.get("network") or {}).get("degree") or 0)
    customers["n"] = min(int(customers.get("n") or WARM_CUSTOMERS),
                         max(WARM_CUSTOMERS, 2 * degree + 2))
    tree["replications"] = 1
    tree.setdefault("output", {})["figures"] = False
    try:
        cfg = load_config(tree)
    except ConfigError as error:
        log.warning("numba cache not warmed: the base config does not validate (%s)", error)
        return False
    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    quiet = logging.getLogger("ecosim.experiment")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        run(cfg, progress=False)
    finally:
        quiet.setLevel(level)
    return True
