"""A Hydra launcher that runs each job of a sweep as one task on a Ray cluster.

Selected with ``hydra/launcher=ray_cluster`` (``conf/hydra/launcher/ray_cluster.yaml``), whose
base is the structured config ``ecosim_ray`` registered here. The launching process connects to
the cluster (``ray.init(**hydra.launcher.ray.init)``, by default ``address: auto``, the cluster
that ``ray start`` started on this machine), composes every job's config itself, and submits one
task per job (``ray.remote(**hydra.launcher.ray.remote)``: ``num_cpus`` cores each). A task runs
Hydra's ``run_job`` on whichever node Ray places it, exactly as the joblib launcher runs it in a
worker process, and the launcher logs which node ran each job.

Written for current Ray because Hydra's own Ray launcher (hydra-ray-launcher 1.2.2) requires
``cloudpickle<3`` (joblib and submitit require ``cloudpickle>=3``) and ``boto3``. Every node needs
ecosim installed (the same versions of ecosim and Ray as the launching process) and the sweep
directory at the same absolute path, on a shared disk: a job writes its folder there.
"""

# No ``from __future__ import annotations``: Hydra's plugin scan executes this module without
# entering it in sys.modules, where dataclasses would look the postponed annotations up.
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
    filter_overrides,
    run_job,
    setup_globals,
)
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)


@dataclass
class RayConf:
    """Keyword arguments for ``ray.init`` (``init``) and for ``ray.remote`` (``remote``).

    ``init.address``: ``auto`` (the cluster started on this machine by ``ray start``),
    ``HOST:PORT`` (a cluster's head node, 6379 by default), or null (start a Ray on this machine
    for the sweep). ``remote.num_cpus``: cores a job reserves on its node, and numba's threads in
    it (``ecosim.sweep.launchers.job_threads``).
    """

    init: dict[str, Any] = field(default_factory=lambda: {"address": "auto"})
    remote: dict[str, Any] = field(default_factory=lambda: {"num_cpus": 1})


@dataclass
class EcosimRayLauncherConf:
    """``hydra.launcher`` for ``RayLauncher``."""

    _target_: str = "hydra_plugins.ecosim_ray_launcher.ray_launcher.RayLauncher"
    ray: RayConf = field(default_factory=RayConf)


ConfigStore.instance().store(group="hydra/launcher", name="ecosim_ray",
                             node=EcosimRayLauncherConf, provider="ecosim")


def where() -> dict[str, str]:
    """The Ray node, host name and IP address of the process that calls it (a job's task)."""
    import ray

    return {"node_id": ray.get_runtime_context().get_node_id(),
            "host": socket.gethostname(), "ip": ray.util.get_node_ip_address()}


def execute_job(hydra_context: HydraContext, sweep_config: DictConfig,
                task_function: TaskFunction,
                singleton_state: dict[Any, Any]) -> tuple[JobReturn, dict[str, str]]:
    """Run one job in a Ray task (as the joblib launcher runs it in a worker); say where it ran."""
    setup_globals()
    Singleton.set_state(singleton_state)
    HydraConfig.instance().set_config(sweep_config)
    ret = run_job(hydra_context=hydra_context, task_function=task_function,
                  config=sweep_config, job_dir_key="hydra.sweep.dir",
                  job_subdir_key="hydra.sweep.subdir")
    return ret, where()


class RayLauncher(Launcher):
    """Runs the jobs of a sweep as Ray tasks, one task per job, and waits for all of them.

    Args:
        ray: ``init`` (``ray.init`` arguments) and ``remote`` (``ray.remote`` arguments), see
            ``RayConf``.
    """

    def __init__(self, ray: DictConfig) -> None:
        self.ray_cfg = ray
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        """Keep what ``launch`` needs (called by Hydra before the sweep)."""
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        """Submit one task per job, then collect the jobs' returns in order.

        A job whose task could not finish (its worker or node died, after Ray's retries) is
        returned as failed with Ray's error, so that the other jobs' results are kept.
        """
        import ray

        assert self.config is not None and self.hydra_context is not None
        assert self.task_function is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        # Absolute: a task's working directory is not the launching process's.
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).absolute()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if not ray.is_initialized():
            init = OmegaConf.to_container(self.ray_cfg.init, resolve=True)
            log.info("Connecting to Ray: ray.init(%s)",
                     ", ".join(f"{k}={v!r}" for k, v in init.items()))
            ray.init(**init)
        nodes = [node for node in ray.nodes() if node["Alive"]]
        cpus = sum(node["Resources"].get("CPU", 0) for node in nodes)
        remote = OmegaConf.to_container(self.ray_cfg.remote, resolve=True)
        log.info("Ray cluster of %d nodes, %g CPUs: launching %d jobs (%s), sweep output dir: %s",
                 len(nodes), cpus, len(job_overrides),
                 ", ".join(f"{k}={v}" for k, v in remote.items()), sweep_dir)
        largest = max((node["Resources"].get("CPU", 0) for node in nodes), default=0)
        if remote.get("num_cpus", 1) > largest:
            log.warning("hydra.launcher.ray.remote.num_cpus=%s but the largest node of the cluster "
                        "has %g CPUs: the jobs wait until a node that large joins (lower "
                        "num_cpus, or add such a node)", remote.get("num_cpus", 1), largest)
        task = ray.remote(**remote)(execute_job) if remote else ray.remote(execute_job)
        state = Singleton.get_state()
        pending = []
        for idx, overrides in enumerate(job_overrides, initial_job_idx):
            log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
            sweep_config = self.hydra_context.config_loader.load_sweep_config(
                self.config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
                sweep_config.hydra.job.num = idx
                sweep_config.hydra.sweep.dir = str(sweep_dir)
            pending.append(task.remote(self.hydra_context, sweep_config, self.task_function,
                                       state))
        returns: list[JobReturn] = []
        for idx, (overrides, ref) in enumerate(zip(job_overrides, pending, strict=True),
                                                initial_job_idx):
            try:
                ret, place = ray.get(ref)
            except ray.exceptions.RayError as error:
                log.error("#%d did not finish on Ray: %s", idx, str(error).splitlines()[0])
                ret = JobReturn(overrides=list(overrides), status=JobStatus.FAILED,
                                _return_value=error)
            else:
                log.info("#%d ran on Ray node %s (host %s, %s)", idx, place["node_id"],
                         place["host"], place["ip"])
            returns.append(ret)
        return returns
