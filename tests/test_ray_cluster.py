"""The Ray launcher on a real two-node Ray cluster gives the joblib launcher's tables.

A head node and a second node are started on this machine (``ray start --block``, one CPU each,
each its own raylet, as on two machines), a 2-job sweep runs through ``hydra/launcher=ray_cluster``
against that cluster, and the same sweep runs through ``hydra/launcher=local`` (joblib). Both are
collected with ``ecosim.sweep.collect`` and every collected table must be identical. The launcher
logs the Ray node that ran each job: the two jobs must have run on the two different nodes.

Ray is part of the ``test`` extra. Skipped only where Ray is not installed, and never in CI
(``CI=true``: .ci/run installs it, so there it fails).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from ecosim.config import register_configs
from ecosim.experiment import TABLES
from ecosim.sweep.collect import Collection, collect
from ecosim.sweep.launchers import job_threads

try:
    import ray  # noqa: F401  (only whether it is installed)
except ImportError:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI: ray is not installed (pip install -e '.[test]' installs it)",
                    pytrace=False)
    pytest.skip("ray is not installed (pip install -e '.[ray]')", allow_module_level=True)

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
TINY = ["customers.n=2000", "time.horizon=5", "events=[]", "output.figures=false"]
SEEDS = (0, 1)
#: Columns that differ between two runs of the same jobs by nature, not by results:
#: ``dir`` (each sweep has its own folder) and ``wall_seconds`` (time taken).
RUN_COLUMNS = ["dir", "wall_seconds"]
NODE_LINE = re.compile(r"#(\d+) ran on Ray node ([0-9a-f]+) ")
STARTED = "Ray runtime started"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RayCluster:
    """A Ray cluster of this machine's nodes: its head's address and the nodes' ``ray start``."""

    address: str
    nodes: list[subprocess.Popen]
    logs: list[Path]

    def alive(self) -> list[dict]:
        """The cluster's live nodes (``ray.nodes()``, from a fresh driver process)."""
        code = (f"import json, ray; ray.init(address={self.address!r}, log_to_driver=False); "
                "print(json.dumps([{'id': n['NodeID'], 'cpus': n['Resources'].get('CPU', 0)} "
                "for n in ray.nodes() if n['Alive']]))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120, env=ray_env())
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])


def ray_env() -> dict[str, str]:
    """The environment of the nodes and drivers. Token authentication off, explicitly: with the
    mode unset, Ray 2.60's head node turns it on when ~/.ray/auth_token exists (left by any local
    ``ray.init()``) while a joining node does not, and the second node is then refused."""
    return dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")


def start_node(args: list[str], log: Path) -> subprocess.Popen:
    """``ray start --block ARGS`` in a process group of its own; return once the node runs."""
    with open(log, "w") as out:
        node = subprocess.Popen(
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--block",
             "--disable-usage-stats", "--object-store-memory=100000000",
             f"--dashboard-agent-listen-port={free_port()}", *args],
            stdout=out, stderr=subprocess.STDOUT, env=ray_env(), start_new_session=True)
    deadline = time.monotonic() + 120
    while STARTED not in log.read_text():
        if node.poll() is not None or time.monotonic() > deadline:
            stop_node(node)
            pytest.fail(f"ray start {' '.join(args)} failed:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return node


def stop_node(node: subprocess.Popen) -> None:
    """Stop a node as ``ray stop`` would (SIGTERM: it drains, then ends its processes), then
    kill whatever of its process group is left. Only this test's processes are signalled."""
    if node.poll() is None:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(node.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    node.wait()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    """A head node and a second node on this machine, one CPU each; stopped afterwards."""
    temp = Path(tempfile.mkdtemp(prefix="ray-"))  # short: Ray's socket paths have a length limit
    port = free_port()
    address = f"127.0.0.1:{port}"
    nodes: list[subprocess.Popen] = []
    logs = [temp / "head.log", temp / "worker.log"]
    try:
        nodes.append(start_node(["--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                                 "--num-cpus=1", f"--temp-dir={temp}",
                                 "--include-dashboard=false", f"--dashboard-port={free_port()}"],
                                logs[0]))
        nodes.append(start_node([f"--address={address}", "--num-cpus=1"], logs[1]))
        yield RayCluster(address, nodes, logs)
    finally:
        for node in reversed(nodes):  # the second node first, while the head can drain it
            stop_node(node)
        shutil.rmtree(temp, ignore_errors=True)


def sweep(sweep_dir: Path, *launcher: str) -> tuple[Collection, str, float]:
    """Run the 2-job sweep with ``launcher`` overrides; its collection, output and wall time."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ecosim.cli", "-m", *TINY, f"seed={','.join(map(str, SEEDS))}",
         *launcher, f"hydra.sweep.dir={sweep_dir}"],
        cwd=sweep_dir.parent, capture_output=True, text=True, timeout=600, env=ray_env())
    seconds = time.perf_counter() - started
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    collection = collect(sweep_dir)
    assert collection.incomplete.empty, collection.report()
    return collection, done.stdout + done.stderr, seconds


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order whatever order the jobs finished in (sorted by every column)."""
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


@pytest.mark.slow
def test_ray_cluster_sweep_collects_to_the_joblib_tables(tmp_path: Path,
                                                         ray_cluster: RayCluster) -> None:
    nodes = ray_cluster.alive()
    assert len(nodes) == 2 and all(node["cpus"] == 1 for node in nodes), nodes
    # joblib first: its launching process compiles the kernels into this machine's numba cache,
    # which the Ray workers then load (both nodes are this machine; the config's node-local
    # cache directory is dropped so that the workers do not compile into an empty one).
    local, _, local_seconds = sweep(tmp_path / "joblib", "hydra/launcher=local")
    on_ray, output, ray_seconds = sweep(
        tmp_path / "ray", "hydra/launcher=ray_cluster",
        f"hydra.launcher.ray.init.address={ray_cluster.address}",
        "~hydra.launcher.ray.init.runtime_env",
        "hydra.launcher.ray.remote.num_cpus=1",  # one job per node at a time
        "+hydra.launcher.ray.remote.scheduling_strategy=SPREAD")
    print(f"\nsweep of {len(SEEDS)} jobs: joblib {local_seconds:.1f} s, "
          f"Ray cluster {ray_seconds:.1f} s")

    ran_on = dict(NODE_LINE.findall(output))
    assert sorted(ran_on) == ["0", "1"], output[-4000:]
    assert set(ran_on.values()) == {node["id"] for node in nodes}  # one job on each node
    for job in ("0", "1"):  # num_cpus=1: one numba thread a job
        assert "numba threads: 1" in (tmp_path / "ray" / job / "cli.log").read_text()

    assert on_ray.params == local.params == ["seed"]
    pd.testing.assert_frame_equal(on_ray.jobs.drop(columns=RUN_COLUMNS),
                                  local.jobs.drop(columns=RUN_COLUMNS))
    assert on_ray.tables == local.tables and set(TABLES) <= set(local.tables)
    for table in [*local.tables, "summary"]:
        got, expected = sorted_rows(on_ray.read(table)), sorted_rows(local.read(table))
        # the default market has no strategy and no seller side: its decisions and sellers
        # tables are empty (and must be equally empty); every other table has both jobs' rows
        if table in (*TABLES, "summary", "tipping"):
            assert len(got) > 0 and set(got["job"]) == {0, 1}, table
        # Bit for bit: both launchers give a job one numba thread (joblib: cores // workers with
        # a worker per core; Ray: num_cpus=1), and results do not depend on threads anyway.
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=table)


def test_ray_cluster_config_composes() -> None:
    from hydra import compose, initialize_config_dir

    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["hydra/launcher=ray_cluster"],
                      return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.ecosim_ray_launcher.ray_launcher.RayLauncher"
    assert launcher.ray.init.address == "auto"
    assert "NUMBA_CACHE_DIR" in launcher.ray.init.runtime_env.env_vars  # node-local cache
    assert job_threads(launcher, cores=64) == launcher.ray.remote.num_cpus == 2
