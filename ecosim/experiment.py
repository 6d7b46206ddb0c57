"""Running a scenario's replications and writing the run directory (DESIGN §4)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import pandas as pd
import yaml
from tqdm.auto import tqdm

import ecosim
from ecosim.config import EcosimConfig, config_to_dict
from ecosim.metrics import tables
from ecosim.metrics.summary import horizon_summary
from ecosim.model import EcosystemModel

TABLES = ("firm_metrics", "unit_metrics", "segment_metrics", "cohort_retention")


@dataclass
class RunResult:
    """The tables of a run, concatenated over replications (and arms), plus metadata."""

    config: EcosimConfig
    firm_metrics: pd.DataFrame
    unit_metrics: pd.DataFrame
    segment_metrics: pd.DataFrame
    cohort_retention: pd.DataFrame
    transactions: pd.DataFrame | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        """KPIs at the horizon per arm and firm: mean, sd and 95% CI over replications."""
        return horizon_summary(self.firm_metrics)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(ecosim.__file__).parent, timeout=5, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


def run(cfg: EcosimConfig, arm: str = "base", progress: bool | None = None) -> RunResult:
    """Simulate every replication of a validated config and gather the tidy tables.

    Args:
        cfg: a validated configuration (``ecosim.config.load_config``).
        arm: the label written in the ``arm`` column.
        progress: show a progress bar; ``None`` = only on a terminal.

    Returns:
        The run's tables, one block of rows per replication.
    """
    if cfg.threads is not None:
        numba.set_num_threads(cfg.threads)
    firms, needs = list(cfg.firms), list(cfg.needs)
    segments = list(cfg.customers.segments)
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in (*TABLES, "transactions")}
    warnings: list[str] = []
    started = time.perf_counter()
    bar = tqdm(total=cfg.replications * cfg.time.horizon, unit="step", disable=progress is False
               if progress is not None else None, desc=f"ecosim {arm}")
    memory: dict[str, int] = {}
    for replication in range(cfg.replications):
        model = EcosystemModel(cfg, replication)
        memory = model.population.nbytes()
        for _ in range(cfg.time.horizon):
            model.step()
            bar.update()
        h = model.history
        parts["firm_metrics"].append(tables.firm_metrics(h, firms, arm, replication))
        parts["unit_metrics"].append(tables.unit_metrics(h, firms, needs, arm, replication))
        parts["segment_metrics"].append(
            tables.segment_metrics(h, segments, firms, arm, replication))
        parts["cohort_retention"].append(
            tables.cohort_retention(h, firms, cfg.time.discount_rate, arm, replication))
        if cfg.output.transactions:
            parts["transactions"].append(tables.transactions(h, firms, needs, arm, replication))
        if model.population.was_capped:
            warnings.append(f"replication {replication}: a purchase or transaction-log cap bound;"
                            " some purchases were not simulated or not logged")
    bar.close()
    metadata = {
        "ecosim_version": ecosim.__version__,
        "seed": cfg.seed,
        "replications": cfg.replications,
        "n_customers": cfg.customers.n,
        "steps": cfg.time.horizon,
        "step_unit": cfg.time.step_unit,
        "arms": [arm],
        "wall_seconds": round(time.perf_counter() - started, 3),
        "threads": numba.get_num_threads(),
        "bytes_per_customer": memory.get("per_customer"),
        "bytes_per_customer_need": memory.get("per_customer_need"),
        "network_bytes": memory.get("network"),
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "warnings": warnings,
    }
    return RunResult(
        config=cfg,
        **{name: pd.concat(parts[name], ignore_index=True) for name in TABLES},
        transactions=(pd.concat(parts["transactions"], ignore_index=True)
                      if cfg.output.transactions else None),
        metadata=metadata)


def _atomic_write(path: Path, write: Any) -> None:
    """Write through a temporary name, then rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_tables(result: RunResult, out_dir: str | Path) -> Path:
    """Write the config and the tables of DESIGN §4 into ``out_dir`` (created if needed).

    The run is not complete until ``mark_complete`` writes ``metadata.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metadata.json").unlink(missing_ok=True)
    config_text = yaml.safe_dump(config_to_dict(result.config), sort_keys=False)
    _atomic_write(out / "config.yaml", lambda p: p.write_text(config_text))
    for name in TABLES:
        frame = getattr(result, name)
        _atomic_write(out / f"{name}.parquet", lambda p, f=frame: f.to_parquet(p, index=False))
    if result.transactions is not None:
        _atomic_write(out / "transactions.parquet",
                      lambda p: result.transactions.to_parquet(p, index=False))
    _atomic_write(out / "summary.csv", lambda p: result.summary.to_csv(p, index=False))
    return out


def mark_complete(result: RunResult, out_dir: str | Path) -> Path:
    """Write ``metadata.json``, last of all files: its presence marks a finished run."""
    path = Path(out_dir) / "metadata.json"
    _atomic_write(path, lambda p: p.write_text(json.dumps(result.metadata, indent=2) + "\n"))
    return path
