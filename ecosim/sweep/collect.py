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
- the optional files of a run (``ecosim.sweep.extras``), with the same ``job`` and parameter
  columns: ``decisions.parquet`` (what deciding firms decided), ``tipping.parquet`` and
  ``sellers.parquet`` (marketplaces' tipping diagnostics and seller side) as Parquet,
  ``dominance.csv`` and ``tipping_summary.csv`` as CSV. They are optional per job: a job written
  before a file existed lacks it, is still complete, and gives that file no rows. A file that
  no complete job holds is not written;
- ``summary.csv``: every job's horizon summary (KPI mean, sd, 95% CI over replications);
- ``jobs.csv``: one row per job, complete or not: ``job``, ``status``, ``overrides``,
  ``wall_seconds``, ``problem`` (why a job is not complete, where known) and the parameters.

Each job is listed once, with one status:

- ``complete``: its ``metadata.json`` exists (written last), every file of the output contract
  is there and readable, and its results are those of its overrides (Hydra's
  ``.hydra/overrides.yaml``);
- ``failed``: its directory exists without ``metadata.json`` (it raised, was killed, or is still
  running);
- ``missing``: the sweep defines it but it never started (known for Hydra's basic sweeper, from
  ``multirun.yaml``);
- ``stale``: its directory holds the results of another run: a sweep re-run into the same
  directory with other overrides was killed before this job finished, or never reached it;
- ``corrupt``: a file of the job cannot be read (truncated, empty, not what ecosim writes), or a
  table is missing although the job is marked complete. An optional file that is present is
  read like the others: unreadable, or with columns that do not fit the other jobs', it makes
  the job corrupt.

Only complete jobs contribute rows, all of their rows or none. Incomplete jobs are reported,
never silently dropped, and ``ecosim-collect`` exits with 3 when any job is not complete.

Memory: a job's tables are read whole, unless one has more than ``STREAM_ROWS`` rows (a long
run's cohort table: steps² / 2 × firms rows); that one is read row group by row group twice,
first to check every group, then to copy it, so collecting holds one of its row groups at a
time. A job's purchase log and optional files are read whole. Both reads go through one open
file: a file replaced under the same name is copied as checked, and one rewritten in place so
that its second read fails stops the collection with an ``OSError`` (nothing collected is
replaced).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ecosim.experiment import TABLES, atomic_write
from ecosim.sweep.columns import job_table, param_types
from ecosim.sweep.extras import OPTIONAL_FILES, ExtraFileError, Gathered, read_extras

#: Where ``collect`` writes, inside the sweep directory, unless told otherwise.
COLLECTED = "collected"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
#: libyaml's loader when PyYAML has it: reading a job's config is then ~8 times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: The statuses of a job, in the order the report counts them (see the module docstring).
STATUSES = ("complete", "failed", "missing", "stale", "corrupt")
#: Columns every table of a run carries (``ecosim.metrics.tables``).
KEY_COLUMNS = ("arm", "replication")
#: A job's table with more rows is read and written row group by row group (module docstring).
STREAM_ROWS = 1 << 22
#: What reading a damaged file raises (JSON, CSV and Arrow errors are ValueErrors).
READ_ERRORS = (OSError, ValueError, TypeError, KeyError, yaml.YAMLError, pa.ArrowException)


class SweepError(ValueError):
    """A directory that is no sweep, or a sweep whose job list cannot be read (one line)."""


class _Corrupt(Exception):
    """A file of a job that cannot be read, or one missing from a job marked complete."""


@dataclass
class Collection:
    """What ``collect`` found and wrote.

    Attributes:
        sweep_dir: the sweep's directory.
        out_dir: where the collected tables are.
        jobs: one row per job: ``job``, ``status`` (one of ``STATUSES``), ``dir``,
            ``overrides``, ``wall_seconds``, ``problem`` and the parameter columns.
        params: the swept keys (dotted), which are columns of every table.
        tables: the tables written (names, without ``.parquet`` or ``.csv``).
        expected_known: whether the sweep's full job list is known (basic sweeper).
    """

    sweep_dir: Path
    out_dir: Path
    jobs: pd.DataFrame
    params: list[str]
    tables: list[str] = field(default_factory=list)
    expected_known: bool = True

    def read(self, table: str) -> pd.DataFrame:
        """One collected table by name (``firm_metrics``, ..., ``transactions``, ``summary``).

        The optional files are read by their names too: ``decisions``, ``tipping``,
        ``sellers``, ``dominance``, ``tipping_summary``.
        """
        if table == "summary" or f"{table}.csv" in OPTIONAL_FILES:
            return pd.read_csv(self.out_dir / f"{table}.csv")
        return pd.read_parquet(self.out_dir / (table if table == "transactions"
                                               else f"{table}.parquet"))

    @property
    def complete(self) -> pd.DataFrame:
        """The complete jobs."""
        return self.jobs[self.jobs["status"] == "complete"]

    @property
    def incomplete(self) -> pd.DataFrame:
        """Jobs that are not complete: failed, missing, stale or corrupt."""
        return self.jobs[self.jobs["status"] != "complete"]

    def report(self) -> str:
        """A few lines: counts, the incomplete jobs with their overrides, and where tables are."""
        counts = self.jobs["status"].value_counts()
        shown = [s for s in STATUSES if s in ("complete", "failed", "missing") or counts.get(s)]
        lines = [f"{len(self.jobs)} jobs in {self.sweep_dir}: "
                 + ", ".join(f"{counts.get(s, 0)} {s}" for s in shown)]
        if not self.expected_known:
            lines.append("  (the sweeper's job list is unknown: jobs that never started are not "
                         "counted)")
        for row in self.incomplete.itertuples():
            problem = row.problem if isinstance(row.problem, str) and row.problem else None
            lines.append(f"  {row.status}: job {row.job} [{row.overrides}]"
                         + (f": {problem}" if problem else ""))
        if not self.incomplete.empty:
            lines.append("  (running the sweep again with the same command and hydra.sweep.dir "
                         "redoes these jobs and skips the complete ones)")
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

    Raises:
        SweepError: ``multirun.yaml`` cannot be read.
    """
    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return None
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    try:
        hydra_cfg = OmegaConf.load(path).hydra
        if hydra_cfg.sweeper.get("_target_") != BASIC_SWEEPER:
            return None
        params = hydra_cfg.sweeper.get("params") or {}
        arguments = [f"{key}={value}" for key, value in params.items()]
        arguments += list(hydra_cfg.overrides.task)
        overrides = OverridesParser.create().parse_overrides(arguments)
        return [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]
    except Exception as error:  # noqa: BLE001 - YAML, OmegaConf and Hydra's parser errors
        raise SweepError(f"{path}: cannot be read ({_first_line(error)})") from error


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


def _first_line(error: BaseException) -> str:
    """An error's message on one line (YAML's spans several), at most 200 characters."""
    parts = [part.strip() for part in str(error).splitlines() if part.strip()
             and not part.strip().startswith("^")]
    line = "; ".join(parts) or type(error).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def _read(path: Path, read: Callable[[Path], Any]) -> Any:
    """``read(path)``, or ``_Corrupt`` naming the file when it cannot be read."""
    try:
        return read(path)
    except READ_ERRORS as error:
        name = f".hydra/{path.name}" if path.parent.name == ".hydra" else path.name
        message = _first_line(error).replace(f" '{path}'", "")
        raise _Corrupt(f"{name}: cannot be read ({message})") from error


def _load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=SAFE_LOADER)


def _read_overrides(job_dir: Path) -> list[str] | None:
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return None
    items = _read(path, _load_yaml) or []
    if not isinstance(items, list):
        raise _Corrupt(f"{path.name}: not a list of overrides")
    return [str(item) for item in items]


def _read_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    tree = _read(path, _load_yaml) or {}
    if not isinstance(tree, dict):
        raise _Corrupt(f"{path.name}: not a mapping of config keys")
    return tree


_ABSENT = object()


def _select(tree: Any, key: str) -> Any:
    """The value at a dotted key of nested mappings (and lists), or ``_ABSENT``."""
    for part in key.split("."):
        if isinstance(tree, Mapping) and part in tree:
            tree = tree[part]
        elif isinstance(tree, list) and part.isdigit() and int(part) < len(tree):
            tree = tree[int(part)]
        else:
            return _ABSENT
    return tree


def _agrees(wanted: Any, found: Any) -> bool:
    """Whether a value set by an override is the value a config holds (loosely: 1e3 == 1000)."""
    if wanted is None or (isinstance(wanted, str) and "${" in wanted):
        return True  # a default left to validation, or an interpolation: nothing to compare
    if isinstance(wanted, Mapping):  # merged into the config's mapping: compare what it sets
        return isinstance(found, Mapping) and all(
            key not in found or _agrees(value, found[key]) for key, value in wanted.items())
    if isinstance(wanted, (list, tuple)):
        return (isinstance(found, (list, tuple)) and len(found) == len(wanted)
                and all(_agrees(w, f) for w, f in zip(wanted, found, strict=True)))
    if isinstance(wanted, bool) or isinstance(found, bool):
        return wanted == found
    if isinstance(wanted, (int, float)):
        if not isinstance(found, (int, float)):
            return False
        both_nan = math.isnan(wanted) and math.isnan(found)
        return both_nan or math.isclose(wanted, found, rel_tol=1e-9, abs_tol=0.0)
    return wanted == found or str(found) == str(wanted)


def config_disagreement(overrides: list[str], config: Mapping[str, Any]) -> str | None:
    """The first override whose value a job's ``config.yaml`` does not hold, or None.

    Overrides of config groups (``experiment=NAME``, ``hydra/launcher=local``), of Hydra's own
    keys, deletions and keys the config does not hold (``+sample.index``) are not compared.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # noqa: BLE001 - Hydra wrote them; unparseable here means nothing to check
        return None
    for override in parsed:
        key = override.key_or_group
        if (override.is_delete() or override.is_sweep_override() or override.package is not None
                or "/" in key or key == "hydra" or key.startswith("hydra.")):
            continue
        wanted = override.value()
        found = _select(config, key)
        if found is _ABSENT or (isinstance(found, Mapping) and not isinstance(wanted, Mapping)):
            continue  # not a key of the validated config, or a config group's choice
        if not _agrees(wanted, found):
            held = json.dumps(found, default=str)
            return f"config.yaml has {key}={held}, not {override.input_line}"
    return None


def _stale(overrides: list[str] | None, meta: Mapping[str, Any],
           config: Mapping[str, Any]) -> str | None:
    """Why a job's results are not those of its overrides, or None when they are (or unknown)."""
    if overrides is None:
        return None  # not a Hydra job directory (no .hydra/): nothing to compare against
    recorded = meta.get("overrides")
    if isinstance(recorded, list):  # written by the job itself: an exact record
        recorded = [str(item) for item in recorded]
        if recorded != overrides:
            return f"results of another run [{' '.join(recorded)}]"
        return None
    disagreement = config_disagreement(overrides, config)  # a mark older than the record
    return f"results of another run: {disagreement}" if disagreement else None


def _required_files(config: Mapping[str, Any]) -> list[str]:
    """The files of a complete job (``ecosim.experiment.write_tables``), config first."""
    files = ["config.yaml", *(f"{table}.parquet" for table in TABLES), "summary.csv"]
    if _select(config, "output.transactions") is True:
        files.append("transactions.parquet")
    return files


def _inspect(sweep: Path, job_dir: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A job's row of the jobs table, its config and its composed config (both flattened)."""
    name = job_dir.relative_to(sweep).as_posix()
    row: dict[str, Any] = {"job": int(name) if name.isdigit() else name, "status": "failed",
                           "dir": str(job_dir), "overrides": None, "wall_seconds": None,
                           "problem": None}
    config: dict[str, Any] = {}
    composed: dict[str, Any] = {}
    try:
        row["overrides"] = _read_overrides(job_dir)
        composed = flatten(_read_mapping(job_dir / ".hydra" / "config.yaml"))
        tree = _read_mapping(job_dir / "config.yaml")
        config = flatten(tree)
        meta_path = job_dir / "metadata.json"
        if meta_path.is_file():
            meta = _read(meta_path, lambda p: json.loads(p.read_text()))
            if not isinstance(meta, dict):
                raise _Corrupt(f"{meta_path.name}: not a JSON object")
            row["wall_seconds"] = meta.get("wall_seconds")
            absent = [f for f in _required_files(tree) if not (job_dir / f).is_file()]
            if absent:
                raise _Corrupt(f"{absent[0]} is missing from a job marked complete")
            problem = _stale(row["overrides"], meta, tree)
            if problem:
                row["status"], row["problem"] = "stale", problem
                config = {}  # not this job's values; the composed config is (Hydra wrote it)
            else:
                row["status"] = "complete"
    except _Corrupt as error:
        row["status"], row["problem"] = "corrupt", str(error)
    return row, config, composed


def find_jobs(sweep_dir: str | Path, out_dir: str | Path | None = None) -> tuple[
        pd.DataFrame, list[str], bool]:
    """Every job of a sweep with its status, overrides and swept parameters.

    The tables of complete jobs are not read here (``collect`` reads them, and marks a job
    ``corrupt`` when one cannot be read).

    Returns:
        ``(jobs, params, expected_known)``: the jobs table (see ``Collection.jobs``), the swept
        keys, and whether jobs that never started could be counted.
    """
    rows, params, expected_known, _ = _scan(Path(sweep_dir), out_dir)
    return _jobs_frame(rows, params), params, expected_known


def _match_expected(rows: list[dict[str, Any]], configs: list[dict[str, Any]],
                    composed: list[dict[str, Any]], expected: list[list[str]]) -> None:
    """Give each job of the sweep one row: a directory that holds it, or a ``missing`` row.

    Job ``n``'s directory is ``n`` (Hydra's default subdir) and must hold job ``n``'s overrides;
    one that holds another sweep's job is ``stale`` (or still ``failed``/``corrupt``) under job
    ``n``'s overrides. Directories named otherwise are matched by their overrides, once.
    """
    wanted = {tuple(overrides): num for num, overrides in enumerate(expected)}
    claimed: set[int] = set()

    def foreign(i: int, note: str) -> None:
        row = rows[i]
        if row["status"] in ("complete", "stale"):
            row["status"] = "stale"
        row["problem"] = "; ".join(p for p in (note, row["problem"]) if p)
        configs[i], composed[i] = {}, {}

    for i, row in enumerate(rows):
        held = row["overrides"]
        if isinstance(row["job"], int) and row["job"] < len(expected):
            num = row["job"]
            claimed.add(num)
            if held is not None and held != expected[num]:
                foreign(i, f"its directory holds another sweep's job [{' '.join(held)}]")
            row["overrides"] = expected[num]
        elif held is None:
            continue
        elif tuple(held) in wanted and wanted[tuple(held)] not in claimed:
            claimed.add(wanted[tuple(held)])
        else:
            foreign(i, "not a job of this sweep" if tuple(held) not in wanted
                    else f"job {wanted[tuple(held)]} is already held by another directory")
    for num, overrides in enumerate(expected):
        if num not in claimed:
            rows.append({"job": num, "status": "missing", "dir": None, "overrides": overrides,
                         "wall_seconds": None, "problem": None})
            configs.append({})
            composed.append({})


def _scan(sweep: Path, out_dir: str | Path | None) -> tuple[
        list[dict[str, Any]], list[str], bool, list[dict[str, Any]]]:
    """The jobs' rows, the swept keys, whether the job list is known, and each row's values."""
    out = Path(out_dir) if out_dir is not None else sweep / COLLECTED
    rows: list[dict[str, Any]] = []
    configs: list[dict[str, Any]] = []  # the validated configs jobs ran (config.yaml)
    composed: list[dict[str, Any]] = []  # what Hydra composed for them (.hydra/config.yaml)
    for job_dir in _job_dirs(sweep, out):
        row, config, hydra_config = _inspect(sweep, job_dir)
        rows.append(row)
        configs.append(config)
        composed.append(hydra_config)
    expected = expected_jobs(sweep)
    if expected is None and not rows and not (sweep / "multirun.yaml").is_file():
        single = (sweep / ".hydra").is_dir() or (sweep / "metadata.json").is_file()
        raise SweepError(
            f"no sweep in {sweep}: " + ("it is the directory of a single run" if single else
                                        "no multirun.yaml and no job directories"))
    if expected is not None:
        _match_expected(rows, configs, composed, expected)
    # Swept keys differ between validated configs (sampled values, say) or between composed
    # ones (a job that failed validation has only the latter); each source is compared to its
    # own kind, since validation fills defaults that a composed config leaves empty.
    params = swept_keys([c for c in configs if c])
    params += [key for key in swept_keys([c for c in composed if c]) if key not in params]
    values = []
    for row, config, fallback in zip(rows, configs, composed, strict=True):
        row["overrides"] = " ".join(row["overrides"] or [])
        values.append({key: config.get(key, fallback.get(key)) if config else fallback.get(key)
                       for key in params})
    return rows, params, expected is not None, values


def _jobs_frame(rows: list[dict[str, Any]], params: list[str],
                values: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """The jobs table, sorted by job, with the parameter columns."""
    if values is not None:
        rows = [{**row, **value} for row, value in zip(rows, values, strict=True)]
    jobs = pd.DataFrame(rows, columns=["job", "status", "dir", "overrides", "wall_seconds",
                                       "problem", *params])
    if len(jobs):
        jobs = jobs.iloc[sorted(range(len(jobs)), key=lambda i: _job_key(str(jobs["job"][i])))]
        jobs = jobs.convert_dtypes()  # a parameter column stays int where a job has no value
    return jobs.reset_index(drop=True)


def _with_params(frame: pd.DataFrame, job: Any, values: dict[str, Any]) -> pd.DataFrame:
    """``frame`` with ``job`` and the parameter columns in front (renamed if a column clashes)."""
    front = {"job": job}
    for key, value in values.items():
        front[key if key not in frame.columns else f"param.{key}"] = value
    head = pd.DataFrame({k: [v] * len(frame) for k, v in front.items()}, index=frame.index)
    return pd.concat([head, frame], axis=1)


def _job_arrow(frame: pd.DataFrame, table: str, row: dict[str, Any], values: dict[str, Any],
               types: Mapping[str, pa.DataType], schema: pa.Schema | None) -> pa.Table:
    """Rows of a job's table with its job and parameter columns, cast to ``schema`` if given."""
    arrow = job_table(frame, {"job": row["job"], **values}, types)
    if schema is not None and arrow.schema != schema:
        try:
            arrow = arrow.cast(schema)
        except READ_ERRORS as error:
            raise _Corrupt(f"{table}.parquet: its columns do not fit the other jobs' "
                           f"({_first_line(error)})") from error
    return arrow


def _streamed(path: Path, file: pq.ParquetFile, table: str, row: dict[str, Any],
              values: dict[str, Any], types: Mapping[str, pa.DataType],
              schema: pa.Schema | None) -> Callable[[], Iterator[pa.Table]]:
    """A large table of a job, checked row group by row group; returns what reads it again.

    Every group is read and converted once here (nothing kept), so a damaged group makes the
    job corrupt before any of its rows is written; the returned function yields the groups
    again, converted alike (to the schema of the first one, when the table has none yet).
    """

    def groups(check: pa.Schema | None) -> Iterator[pa.Table]:
        for group in range(file.num_row_groups):
            frame = _read(path, lambda _, g=group: file.read_row_group(g).to_pandas())
            arrow = _job_arrow(frame, table, row, values, types, check)
            check = check or arrow.schema
            yield arrow

    for arrow in groups(schema):
        schema = schema or arrow.schema
    return lambda: groups(schema)


def _again(parts: Callable[[], Iterator[pa.Table]], job: Any) -> Iterator[pa.Table]:
    """A checked table's parts read again to be written; a failure now is the file's change."""
    try:
        yield from parts()
    except _Corrupt as error:
        raise OSError(f"job {job}: {error}; the file changed while it was collected") from error


def _read_job(row: dict[str, Any], values: dict[str, Any], tables: Iterable[str],
              schemas: Mapping[str, pa.Schema], extras: Gathered,
              types: Mapping[str, pa.DataType]) -> tuple[
        dict[str, Callable[[], Iterator[pa.Table]]], pd.DataFrame, pd.DataFrame | None,
        dict[str, Any]]:
    """A complete job's tables, summary, transactions and the optional files it holds.

    The tables are cast to the schemas so far, the optional files fitted to ``extras``; the
    parameter columns have the sweep's ``types`` (``ecosim.sweep.columns``). A table comes as
    a function that yields its rows in parts: the whole table, or its row groups when it has
    more than ``STREAM_ROWS`` rows (``_streamed``).

    Raises:
        _Corrupt: a file cannot be read, is not a table of a run, or does not fit the others.
    """
    job_dir = Path(row["dir"])
    arrows: dict[str, Callable[[], Iterator[pa.Table]]] = {}
    for table in tables:
        path = job_dir / f"{table}.parquet"
        file = _read(path, pq.ParquetFile)
        absent = [column for column in KEY_COLUMNS if column not in file.schema_arrow.names]
        if absent:
            raise _Corrupt(f"{table}.parquet: not a table of a run (no {absent[0]!r} column)")
        if file.metadata.num_rows > STREAM_ROWS and file.num_row_groups > 1:
            arrows[table] = _streamed(path, file, table, row, values, types,
                                     schemas.get(table))
        else:
            arrow = _job_arrow(_read(path, pd.read_parquet), table, row, values, types,
                               schemas.get(table))
            arrows[table] = lambda a=arrow: iter([a])
    summary = _with_params(_read(job_dir / "summary.csv", pd.read_csv), row["job"], values)
    path = job_dir / "transactions.parquet"
    transactions = (_with_params(_read(path, pd.read_parquet), row["job"], values)
                    if path.is_file() else None)
    try:
        optional = extras.fit({
            name: (job_table(frame, {"job": row["job"], **values}, types)
                   if name.endswith(".parquet") else _with_params(frame, row["job"], values))
            for name, frame in read_extras(job_dir, _read).items()})
    except ExtraFileError as error:
        raise _Corrupt(_first_line(error)) from error
    return arrows, summary, transactions, optional


def collect(sweep_dir: str | Path, out_dir: str | Path | None = None,
            tables: Iterable[str] = TABLES) -> Collection:
    """Gather a sweep's jobs into one dataset with the parameters as columns (module docstring).

    Args:
        sweep_dir: the sweep's ``hydra.sweep.dir``.
        out_dir: where to write (default ``SWEEP_DIR/collected``).
        tables: which tables of the output contract to gather (transactions and the optional
            files of ``ecosim.sweep.extras`` are added when jobs hold them).

    Returns:
        A ``Collection``; its ``report()`` names the jobs that are not complete, and why.

    Raises:
        FileNotFoundError: ``sweep_dir`` does not exist.
        SweepError: ``sweep_dir`` is no sweep, or its ``multirun.yaml`` cannot be read.
        OSError: the collected files cannot be written.
    """
    sweep = Path(sweep_dir)
    if not sweep.is_dir():
        raise FileNotFoundError(f"no sweep directory {sweep}")
    out = Path(out_dir) if out_dir is not None else sweep / COLLECTED
    tables = list(tables)
    rows, params, expected_known, values = _scan(sweep, out)
    out.mkdir(parents=True, exist_ok=True)
    writers: dict[str, pq.ParquetWriter] = {}
    empty: dict[str, pa.Table] = {}  # a table without rows from the jobs before its writer
    summaries: list[pd.DataFrame] = []
    logged: list[str] = []
    extras = Gathered()
    types = param_types([{**value, "job": row["job"]} for row, value
                         in zip(rows, values, strict=True) if row["status"] == "complete"],
                        ["job", *params])
    try:
        for row, value in zip(rows, values, strict=True):
            if row["status"] != "complete":
                continue
            try:
                arrows, summary, transactions, optional = _read_job(
                    row, value, tables, {name: w.schema for name, w in writers.items()}, extras,
                    types)
            except _Corrupt as error:
                row["status"], row["problem"] = "corrupt", str(error)
                continue
            for table, parts in arrows.items():  # every table of the job, or none (above)
                for arrow in _again(parts, row["job"]):
                    if table not in writers:
                        if not arrow.num_rows:  # text columns of no type: schema comes with rows
                            empty.setdefault(table, arrow)
                            continue
                        writers[table] = pq.ParquetWriter(out / f".{table}.parquet.tmp",
                                                          arrow.schema)
                    writers[table].write_table(arrow)
            summaries.append(summary)
            extras.add(optional)
            if transactions is not None:
                (out / "transactions").mkdir(exist_ok=True)
                name = f"job={row['job']}.parquet"
                atomic_write(out / "transactions" / name,
                        lambda p, f=transactions: f.to_parquet(p, index=False))
                logged.append(name)
        for table, arrow in empty.items():
            if table not in writers:  # no complete job has rows: the columns of the first
                writers[table] = pq.ParquetWriter(out / f".{table}.parquet.tmp", arrow.schema)
                writers[table].write_table(arrow)
        for writer in writers.values():
            writer.close()
        for table in tables:
            if table in writers:
                os.replace(out / f".{table}.parquet.tmp", out / f"{table}.parquet")
            else:  # no complete job has it: a table collected earlier would mislead
                (out / f"{table}.parquet").unlink(missing_ok=True)
    except BaseException:
        for table, writer in writers.items():
            writer.close()
            (out / f".{table}.parquet.tmp").unlink(missing_ok=True)
        raise
    for old in (out / "transactions").glob("job=*.parquet"):
        if old.name not in logged:
            old.unlink()
    written = [table for table in tables if table in writers] + (["transactions"] if logged
                                                                  else [])
    written += extras.write(out, atomic_write)
    summary = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame()
    jobs = _jobs_frame(rows, params, values)
    atomic_write(out / "summary.csv", lambda p: summary.to_csv(p, index=False))
    atomic_write(out / "jobs.csv", lambda p: jobs.to_csv(p, index=False))
    return Collection(sweep_dir=sweep, out_dir=out, jobs=jobs, params=params, tables=written,
                      expected_known=expected_known)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ecosim-collect``.

    Exit status: 0 when every job is complete; 3 when a job is not (failed, missing, stale or
    corrupt) or none is complete; 2 when the directory is no sweep or cannot be written.
    """
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
    except (FileNotFoundError, SweepError) as error:
        print(f"ecosim-collect: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"ecosim-collect: cannot write the collected tables: {error}", file=sys.stderr)
        return 2
    print(collection.report())
    return 0 if collection.incomplete.empty and not collection.complete.empty else 3


if __name__ == "__main__":
    sys.exit(main())
