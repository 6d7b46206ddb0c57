"""One table of all runs: gather the jobs of a Hydra sweep into one Parquet dataset.

``collect(SWEEP_DIR)`` (or ``ecosim-collect SWEEP_DIR``) finds every job directory of a sweep,
reads each complete job's tables and adds the job's parameters as columns, read from the job's
resolved ``config.yaml`` (not from the override strings, so ``1e4`` and ``10000.0`` are one value
and interpolations are resolved). Only the keys whose values differ between jobs become columns,
named by their dotted key (``firms.bank.marketing.budget``).

It writes into ``SWEEP_DIR/collected/``:

- ``<table>.parquet`` for each table of the output contract (``firm_metrics``, ``unit_metrics``,
  ``segment_metrics``, ``cohort_retention``), every row with ``job`` and the parameter columns;
- ``transactions/job=<job>.parquet`` when jobs logged transactions (read the folder as one
  dataset: ``pd.read_parquet(".../transactions")``);
- ``summary.csv``: every job's horizon summary (KPI mean, sd, 95% CI over replications);
- ``jobs.csv``: one row per job, complete or not: ``job``, ``status``, ``overrides``,
  ``wall_seconds`` and the parameters.

A job is ``complete`` when its ``metadata.json`` exists (written last), ``failed`` when its
directory exists without it (it raised, was killed, or is still running), and ``missing`` when
the sweep defines it but it never started (known for Hydra's basic sweeper, from
``multirun.yaml``). Incomplete jobs are reported, never silently dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ecosim.experiment import TABLES

#: Where ``collect`` writes, inside the sweep directory, unless told otherwise.
COLLECTED = "collected"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
#: libyaml's loader when PyYAML has it: reading a job's config is then ~8 times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Collection:
    """What ``collect`` found and wrote.

    Attributes:
        sweep_dir: the sweep's directory.
        out_dir: where the collected tables are.
        jobs: one row per job: ``job``, ``status`` (complete, failed, missing), ``dir``,
            ``overrides``, ``wall_seconds`` and the parameter columns.
        params: the swept keys (dotted), which are columns of every table.
        tables: the tables written (names, without ``.parquet``).
        expected_known: whether the sweep's full job list is known (basic sweeper).
    """

    sweep_dir: Path
    out_dir: Path
    jobs: pd.DataFrame
    params: list[str]
    tables: list[str] = field(default_factory=list)
    expected_known: bool = True

    def read(self, table: str) -> pd.DataFrame:
        """One collected table (``firm_metrics``, ..., ``transactions``, ``summary``)."""
        if table == "summary":
            return pd.read_csv(self.out_dir / "summary.csv")
        return pd.read_parquet(self.out_dir / (table if table == "transactions"
                                               else f"{table}.parquet"))

    @property
    def complete(self) -> pd.DataFrame:
        """The complete jobs."""
        return self.jobs[self.jobs["status"] == "complete"]

    @property
    def incomplete(self) -> pd.DataFrame:
        """Jobs that failed or never started."""
        return self.jobs[self.jobs["status"] != "complete"]

    def report(self) -> str:
        """A few lines: counts, the incomplete jobs with their overrides, and where tables are."""
        counts = self.jobs["status"].value_counts()
        lines = [f"{len(self.jobs)} jobs in {self.sweep_dir}: "
                 + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("complete", "failed", "missing"))]
        if not self.expected_known:
            lines.append("  (the sweeper's job list is unknown: jobs that never started are not "
                         "counted)")
        for row in self.incomplete.itertuples():
            lines.append(f"  {row.status}: job {row.job} [{row.overrides}]")
        if self.params:
            lines.append(f"parameters: {', '.join(self.params)}")
        lines.append(f"wrote {self.out_dir}: {', '.join([*self.tables, 'summary', 'jobs'])}")
        return "\n".join(lines)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to leaves of nested mappings; lists are kept whole as JSON text."""
    if isinstance(tree, Mapping) and (tree or not prefix):
        flat: dict[str, Any] = {}
        for name, item in tree.items():
            flat.update(flatten(item, f"{prefix}.{name}" if prefix else str(name)))
        return flat
    if isinstance(tree, (list, tuple, Mapping)):
        return {prefix: json.dumps(tree, sort_keys=True, default=str)}
    return {prefix: tree}


def swept_keys(configs: Iterable[Mapping[str, Any]]) -> list[str]:
    """Keys (dotted) whose values differ between flattened configs, in first-seen order."""
    configs = list(configs)
    keys = list(dict.fromkeys(key for config in configs for key in config))
    return [key for key in keys
            if len({json.dumps(c.get(key), sort_keys=True, default=str) for c in configs}) > 1]


def expected_jobs(sweep_dir: Path) -> list[list[str]] | None:
    """Override lists of every job of the sweep, in launch order; None if it cannot be known.

    Recomputed from ``multirun.yaml`` the way Hydra's basic sweeper does (``hydra.sweeper.params``
    then the command line's overrides, as a Cartesian product).
    """
    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return None
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    hydra_cfg = OmegaConf.load(path).hydra
    if hydra_cfg.sweeper.get("_target_") != BASIC_SWEEPER:
        return None
    params = hydra_cfg.sweeper.get("params") or {}
    arguments = [f"{key}={value}" for key, value in params.items()]
    arguments += list(hydra_cfg.overrides.task)
    overrides = OverridesParser.create().parse_overrides(arguments)
    return [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]


def _job_dirs(sweep_dir: Path, out_dir: Path) -> list[Path]:
    """Directories of the jobs that started: they hold ``.hydra/`` or ``metadata.json``."""
    found = {p.parent for p in sweep_dir.rglob(".hydra") if p.is_dir()}
    found |= {p.parent for p in sweep_dir.rglob("metadata.json")}
    found = {d for d in found if d != sweep_dir and out_dir not in d.parents and d != out_dir}
    found = {d for d in found if not any(part.startswith(".") for part in
                                         d.relative_to(sweep_dir).parts)}
    return sorted(found, key=lambda d: _job_key(d.relative_to(sweep_dir).as_posix()))


def _job_key(name: str) -> tuple[int, Any]:
    return (0, int(name)) if name.isdigit() else (1, name)


def _read_overrides(job_dir: Path) -> list[str] | None:
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return None
    return [str(item) for item in (yaml.load(path.read_text(), Loader=SAFE_LOADER) or [])]


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return yaml.load(path.read_text(), Loader=SAFE_LOADER) or {}


def find_jobs(sweep_dir: str | Path, out_dir: str | Path | None = None) -> tuple[
        pd.DataFrame, list[str], bool]:
    """Every job of a sweep with its status, overrides and swept parameters.

    Returns:
        ``(jobs, params, expected_known)``: the jobs table (see ``Collection.jobs``), the swept
        keys, and whether jobs that never started could be counted.
    """
    jobs, params, expected_known, _ = _scan(Path(sweep_dir), out_dir)
    return jobs, params, expected_known


def _scan(sweep: Path, out_dir: str | Path | None) -> tuple[
        pd.DataFrame, list[str], bool, dict[Any, dict[str, Any]]]:
    """``find_jobs``, plus each complete job's parameter values as its config holds them."""
    out = Path(out_dir) if out_dir is not None else sweep / COLLECTED
    rows: list[dict[str, Any]] = []
    configs: list[dict[str, Any]] = []  # the validated configs jobs ran (config.yaml)
    composed: list[dict[str, Any]] = []  # what Hydra composed for them (.hydra/config.yaml)
    for job_dir in _job_dirs(sweep, out):
        name = job_dir.relative_to(sweep).as_posix()
        overrides = _read_overrides(job_dir)
        meta_path = job_dir / "metadata.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        rows.append({"job": int(name) if name.isdigit() else name,
                     "status": "complete" if meta_path.is_file() else "failed",
                     "dir": str(job_dir), "overrides": overrides,
                     "wall_seconds": meta.get("wall_seconds")})
        configs.append(flatten(_read_yaml(job_dir / "config.yaml")))
        composed.append(flatten(_read_yaml(job_dir / ".hydra" / "config.yaml")))
    expected = expected_jobs(sweep)
    if expected is not None:
        seen = {tuple(row["overrides"]) for row in rows if row["overrides"] is not None}
        for num, overrides in enumerate(expected):
            if tuple(overrides) not in seen:
                rows.append({"job": num, "status": "missing", "dir": None,
                             "overrides": overrides, "wall_seconds": None})
                configs.append({})
                composed.append({})
    # Swept keys differ between validated configs (sampled values, say) or between composed
    # ones (a job that failed validation has only the latter); each source is compared to its
    # own kind, since validation fills defaults that a composed config leaves empty.
    params = swept_keys([c for c in configs if c])
    params += [key for key in swept_keys([c for c in composed if c]) if key not in params]
    values = {}
    for row, config, fallback in zip(rows, configs, composed, strict=True):
        row["overrides"] = " ".join(row["overrides"] or [])
        for key in params:
            row[key] = config.get(key, fallback.get(key)) if config else fallback.get(key)
        if row["status"] == "complete":
            values[row["job"]] = {key: row[key] for key in params}
    jobs = pd.DataFrame(rows, columns=["job", "status", "dir", "overrides", "wall_seconds",
                                       *params])
    if len(jobs):
        jobs = jobs.iloc[sorted(range(len(jobs)), key=lambda i: _job_key(str(jobs["job"][i])))]
        jobs = jobs.convert_dtypes()  # a parameter column stays int where a job has no value
    return jobs.reset_index(drop=True), params, expected is not None, values


def _with_params(frame: pd.DataFrame, job: Any, values: dict[str, Any]) -> pd.DataFrame:
    """``frame`` with ``job`` and the parameter columns in front (renamed if a column clashes)."""
    front = {"job": job}
    for key, value in values.items():
        front[key if key not in frame.columns else f"param.{key}"] = value
    head = pd.DataFrame({k: [v] * len(frame) for k, v in front.items()}, index=frame.index)
    return pd.concat([head, frame], axis=1)


def _atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def collect(sweep_dir: str | Path, out_dir: str | Path | None = None,
            tables: Iterable[str] = TABLES) -> Collection:
    """Gather a sweep's jobs into one dataset with the parameters as columns (module docstring).

    Args:
        sweep_dir: the sweep's ``hydra.sweep.dir``.
        out_dir: where to write (default ``SWEEP_DIR/collected``).
        tables: which tables of the output contract to gather (transactions are added when jobs
            logged them).

    Returns:
        A ``Collection``; its ``report()`` names failed and missing jobs.
    """
    sweep = Path(sweep_dir)
    if not sweep.is_dir():
        raise FileNotFoundError(f"no sweep directory {sweep}")
    out = Path(out_dir) if out_dir is not None else sweep / COLLECTED
    out.mkdir(parents=True, exist_ok=True)
    jobs, params, expected_known, values = _scan(sweep, out)
    complete = jobs[jobs["status"] == "complete"]
    written = []
    for table in tables:
        writer: pq.ParquetWriter | None = None
        tmp = out / f".{table}.parquet.tmp"
        for row in complete.itertuples():
            path = Path(row.dir) / f"{table}.parquet"
            if not path.is_file():
                continue
            frame = _with_params(pd.read_parquet(path), row.job, values[row.job])
            arrow = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(tmp, arrow.schema)
            elif arrow.schema != writer.schema:
                arrow = arrow.cast(writer.schema)
            writer.write_table(arrow)
        if writer is not None:
            writer.close()
            os.replace(tmp, out / f"{table}.parquet")
            written.append(table)
    logged = [row for row in complete.itertuples()
              if (Path(row.dir) / "transactions.parquet").is_file()]
    if logged:
        folder = out / "transactions"
        folder.mkdir(exist_ok=True)
        for row in logged:
            frame = _with_params(pd.read_parquet(Path(row.dir) / "transactions.parquet"),
                                 row.job, values[row.job])
            _atomic(folder / f"job={row.job}.parquet",
                    lambda p, f=frame: f.to_parquet(p, index=False))
        written.append("transactions")
    summaries = [_with_params(pd.read_csv(Path(row.dir) / "summary.csv"), row.job, values[row.job])
                 for row in complete.itertuples() if (Path(row.dir) / "summary.csv").is_file()]
    summary = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame()
    _atomic(out / "summary.csv", lambda p: summary.to_csv(p, index=False))
    _atomic(out / "jobs.csv", lambda p: jobs.to_csv(p, index=False))
    return Collection(sweep_dir=sweep, out_dir=out, jobs=jobs, params=params, tables=written,
                      expected_known=expected_known)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ecosim-collect``: exit 0 if every job is complete, 3 if some are not."""
    parser = argparse.ArgumentParser(
        prog="ecosim-collect",
        description="Gather the jobs of an ecosim sweep (hydra.sweep.dir) into one Parquet "
                    "dataset with the swept parameters as columns.")
    parser.add_argument("sweep_dir", type=Path, help="the sweep's directory (hydra.sweep.dir)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"where to write (default SWEEP_DIR/{COLLECTED})")
    args = parser.parse_args(argv)
    try:
        collection = collect(args.sweep_dir, args.out)
    except FileNotFoundError as error:
        print(f"ecosim-collect: {error}", file=sys.stderr)
        return 2
    print(collection.report())
    return 0 if collection.incomplete.empty else 3


if __name__ == "__main__":
    sys.exit(main())
