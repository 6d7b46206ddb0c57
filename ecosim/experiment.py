"""Running a scenario's replications and writing the run directory (docs/design.md §4)."""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import pandas as pd
import yaml
from tqdm.auto import tqdm

import ecosim
from ecosim.config import EcosimConfig, config_to_dict
from ecosim.metrics import cohorts as cohorts_module
from ecosim.metrics import tables
from ecosim.metrics import transaction_log as txlog
from ecosim.metrics.cohorts import CohortLog
from ecosim.metrics.decisions import concat_decisions, decisions_table
from ecosim.metrics.summary import experiment_summary, run_kpis, shapley_split
from ecosim.metrics.tipping import need_concentration, seller_table, tipping_outputs
from ecosim.metrics.transaction_log import TransactionLog
from ecosim.model import EcosystemModel

log = logging.getLogger(__name__)

TABLES = ("firm_metrics", "unit_metrics", "segment_metrics", "segment_needs", "cohort_retention")
#: Tipping diagnostics and the seller side of two-sided marketplaces (``metrics.tipping``).
TIPPING_TABLES = ("tipping", "sellers")


@dataclass
class RunResult:
    """The tables of a run, concatenated over replications (and arms), plus metadata.

    The purchase log (``output.transactions``) is either ``transactions``, the whole log in
    memory (``run_experiment`` without ``run_dir``: small runs), or ``transaction_log``, the
    Parquet file it was streamed to (under its partial name until ``write_tables`` publishes it
    as ``transactions.parquet``). So is the cohort table: ``cohort_retention`` in memory, or
    ``cohort_log``, streamed (``cohort_retention`` is then None; ``retention`` reads it).
    """

    config: EcosimConfig
    firm_metrics: pd.DataFrame
    unit_metrics: pd.DataFrame
    segment_metrics: pd.DataFrame
    segment_needs: pd.DataFrame
    cohort_retention: pd.DataFrame | None
    transactions: pd.DataFrame | None = None
    transaction_log: Path | None = None
    cohort_log: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    arm_configs: dict[str, EcosimConfig] = field(default_factory=dict)
    robustness: pd.DataFrame | None = None  # the headline over assumptions (ecosim.robustness)
    tipping: pd.DataFrame | None = None  # per step and need: HHI, leader (metrics.tipping)
    sellers: pd.DataFrame | None = None  # per step, two-sided marketplace and need: sellers

    #: what firms with a strategy decided (``ecosim.metrics.decisions``); no rows without one
    decisions: pd.DataFrame = field(default_factory=lambda: decisions_table([], "", 0))

    # (firm_metrics it was computed from, kpis, summary): the KPIs cost ~0.2 s a run at the
    # default size and the writer, the report and robustness all ask for them
    _derived: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None] | None = field(
        default=None, init=False, repr=False, compare=False)

    @property
    def summary(self) -> pd.DataFrame:
        """KPIs per arm and firm: mean, sd, 95% CI over replications, paired diff to arm 1."""
        kpis = self.kpis
        assert self._derived is not None
        source, _, summary = self._derived
        if summary is None:
            summary = experiment_summary(kpis)
            self._derived = (source, kpis, summary)
        return summary

    @property
    def kpis(self) -> pd.DataFrame:
        """One row per (arm, replication, firm) with every experiment KPI.

        Computed once per ``firm_metrics`` frame (again if the attribute is replaced).
        """
        if self._derived is None or self._derived[0] is not self.firm_metrics:
            kpis = run_kpis(self.firm_metrics, self.config.time.discount_rate)
            self._derived = (self.firm_metrics, kpis, None)
        return self._derived[1]

    def retention(self, cohorts: list[int] | None = None) -> pd.DataFrame:
        """The ``cohort_retention`` rows of ``cohorts`` (all when None), in memory or streamed."""
        source = self.cohort_retention if self.cohort_retention is not None else self.cohort_log
        if source is None:
            raise ValueError("this result has no cohort table")
        return cohorts_module.read_cohorts(source, cohorts)

    def shapley(self) -> pd.DataFrame:
        """Shapley split of each reported KPI's uplift between the experiment's factors."""
        exp = self.config.experiment
        if not exp.factors:
            return pd.DataFrame()
        firms = [exp.focus_firm] if exp.focus_firm else list(self.config.firms)
        return pd.concat([shapley_split(self.kpis, exp.factors, firm, kpi)
                          for firm in firms for kpi in exp.kpis], ignore_index=True)


class _Progress:
    """A tqdm bar, or INFO log lines at every 10 % of the steps (see ``run``'s ``progress``)."""

    def __init__(self, total: int, desc: str, show: bool | None) -> None:
        show = sys.stderr.isatty() if show is None else show
        self.bar = tqdm(total=total, unit="step", desc=desc) if show else None
        self.total, self.desc, self.done, self.next_percent = total, desc, 0, 10
        self.started = time.perf_counter()

    def update(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update()
            return
        percent = 100 * self.done // max(self.total, 1)
        if percent >= self.next_percent or self.done == self.total:
            log.info("%s: %d/%d steps (%d%%), %.1f s", self.desc, self.done, self.total, percent,
                     time.perf_counter() - self.started)
            self.next_percent = (percent // 10 + 1) * 10

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@functools.cache
def git_commit() -> str | None:
    """The commit of the ecosim source that runs, ``+dirty`` when the package has local changes.

    ``None`` when ecosim is not in a git checkout (an installed wheel) or git is not available.
    Run metadata and the benchmarks record it (one definition for both). Asked once per process
    (two git calls, ~20 ms): the source a process imported does not change under it.
    """
    package = Path(ecosim.__file__).parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=package, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, cwd=package, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None


#: The kernels whose compilation is most of a first run's time (module, function).
HEAVY_KERNELS = (("ecosim.kernels.step", "_step_groups"),
                 ("ecosim.kernels.population", "_sample_customers"))
_told_compiling = False


def kernels_cached() -> bool | None:
    """Whether Numba's on-disk cache holds the heavy kernels for the current source.

    None when it cannot tell (a Numba without the cache internals this reads). A cache written
    for an older source of a kernel does not count: Numba recompiles it.
    """
    import importlib

    try:
        for module, name in HEAVY_KERNELS:
            dispatcher = getattr(importlib.import_module(module), name)
            if not dispatcher._cache._cache_file._load_index():
                return False
        return True
    except (AttributeError, OSError, ImportError):
        return None


def announce_compilation() -> None:
    """Say on stderr, once per process, that the kernels are about to be compiled."""
    global _told_compiling
    if not _told_compiling and kernels_cached() is False:
        print("ecosim: compiling the simulation kernels for this machine (the first run after "
              "an install or an update takes about half a minute; later runs load them from the "
              "cache)...", file=sys.stderr, flush=True)
        log.info("compiling the simulation kernels (not in the Numba cache yet)")
    _told_compiling = True


def config_hash(configs: dict[str, EcosimConfig]) -> str:
    """12 hex digits that identify the configs of a run's arms (SHA-256 of their canonical JSON).

    JSON with sorted keys: the same configs give the same text, and it is written in
    milliseconds where YAML took 0.2 s a config.
    """
    text = json.dumps({arm: config_to_dict(cfg) for arm, cfg in configs.items()},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


#: libyaml's emitter when PyYAML has it (the same YAML, ~10x faster), else the pure-Python one
YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def run(cfg: EcosimConfig, arm: str = "base", progress: bool | None = None,
        transaction_log: TransactionLog | None = None,
        on_step: Callable[[], None] | None = None,
        cohort_log: CohortLog | None = None, cohort_table: bool = True) -> RunResult:
    """Simulate every replication of a validated config and gather the tidy tables.

    Args:
        cfg: a validated configuration (``ecosim.config.load_config``).
        arm: the label written in the ``arm`` column.
        progress: ``True``: a progress bar; ``False``: progress as INFO log lines (every 10 %
            of the steps, on the ``ecosim.experiment`` logger), as in the workers of a sweep;
            ``None``: a bar on a terminal, log lines otherwise.
        transaction_log: with ``output.transactions``, the log each step's purchases are
            written to as the run plays (the caller closes it); without one, the run keeps its
            whole log in ``RunResult.transactions``.
        on_step: called after every simulated step (the page's progress bar); an exception it
            raises stops the run there (the page's cancel button).
        cohort_log: the cohort table each step's cohorts are written to as the run plays (the
            caller closes it; ``RunResult.cohort_retention`` is then None); without one, the
            model keeps the cohort triangle and the run returns the table in memory.
        cohort_table: ``False``: no cohort table at all (``RunResult.cohort_retention`` is
            None): the model hands its cohorts to a sink that drops them, so it keeps no
            triangle (robustness variants, read for their KPIs only).

    Returns:
        The run's tables, one block of rows per replication.

    Raises:
        tables.NonFiniteError: a table holds inf, or NaN where a number is required (named).
    """
    if cfg.threads is not None:
        numba.set_num_threads(cfg.threads)
    announce_compilation()
    firms, needs = list(cfg.firms), list(cfg.needs)
    segments = list(cfg.customers.segments)
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in (*TABLES, *TIPPING_TABLES,
                                                                  "transactions")}
    dense = cohort_log is None and cohort_table  # the model keeps the triangle
    tables_kept = [name for name in TABLES if name != "cohort_retention" or dense]
    decisions: list[pd.DataFrame] = []
    warnings: list[str] = []
    started = time.perf_counter()
    bar = _Progress(cfg.replications * cfg.time.horizon, f"ecosim {arm}", progress)
    memory: dict[str, int] = {}
    streamed = cfg.output.transactions and transaction_log is not None
    for replication in range(cfg.replications):
        sink = transaction_log.sink(arm, replication) if streamed else None
        cohort_sink = (cohort_log.sink(arm, replication) if cohort_log is not None
                       else None if cohort_table else _drop_cohorts)
        model = EcosystemModel(cfg, replication, transaction_sink=sink, cohort_sink=cohort_sink)
        memory = model.population.nbytes()
        for _ in range(cfg.time.horizon):
            model.step()
            bar.update()
            if on_step is not None:
                on_step()
        h = model.history
        frames = {
            "firm_metrics": tables.firm_metrics(h, firms, arm, replication),
            "unit_metrics": tables.unit_metrics(h, firms, needs, arm, replication),
            "segment_metrics": tables.segment_metrics(h, segments, firms, arm, replication),
            "segment_needs": tables.segment_needs(h, segments, needs, arm, replication),
            "tipping": need_concentration(h.unit_customers, h.offered, firms, needs, arm,
                                          replication),
            "sellers": seller_table(model.sellers.ledger, firms, needs, arm, replication),
        }
        if dense:
            frames["cohort_retention"] = cohorts_module.cohort_retention(
                h, firms, cfg.time.discount_rate, arm, replication)
        decisions.append(decisions_table(model.decisions, arm, replication))
        if cfg.output.transactions and not streamed:
            frames["transactions"] = tables.transactions(h, firms, needs, arm, replication)
        for name, frame in frames.items():
            if name != "tipping":  # its HHI is NaN where nobody is served; inputs checked above
                tables.check_finite(name, frame)  # inf, or NaN where a number is required: fail
            parts[name].append(frame)
        if model.population.was_capped:
            warnings.append(f"replication {replication}: a purchase or transaction-log cap bound;"
                            " some purchases were not simulated or not logged")
    bar.close()
    metadata = {
        "ecosim_version": ecosim.__version__,
        "seed": cfg.seed,
        "replications": cfg.replications,
        "n_customers": cfg.customers.n,  # simulated; transactions.parquet lists their purchases
        "market_size": cfg.customers.market,  # customers of the market every table speaks for
        "customer_weight": cfg.customers.weight,  # market customers per simulated customer
        "steps": cfg.time.horizon,
        "step_unit": cfg.time.step_unit,
        "arms": [arm],
        "wall_seconds": round(time.perf_counter() - started, 3),
        "threads": numba.get_num_threads(),
        "bytes_per_customer": memory.get("per_customer"),
        "bytes_per_customer_need": memory.get("per_customer_need"),
        "network_bytes": memory.get("network"),
        "git_commit": git_commit(),
        "config_hash": config_hash({arm: cfg}),
        "python": platform.python_version(),
        "warnings": warnings,
    }
    return RunResult(
        config=cfg,
        **{name: pd.concat(parts[name], ignore_index=True) if name in tables_kept else None
           for name in TABLES},
        transactions=(pd.concat(parts["transactions"], ignore_index=True)
                      if cfg.output.transactions and not streamed else None),
        **{name: pd.concat(parts[name], ignore_index=True) for name in TIPPING_TABLES},
        metadata=metadata, decisions=concat_decisions(decisions))


def _drop_cohorts(step: int, alive: Any, contribution: Any) -> None:
    """A cohort sink for runs without a cohort table (``run``'s ``cohort_table=False``)."""


def run_experiment(configs: dict[str, EcosimConfig], progress: bool | None = None,
                   run_dir: str | Path | None = None,
                   on_step: Callable[[], None] | None = None,
                   cohort_table: bool = True) -> RunResult:
    """Play every arm × replication on common random numbers and stack the tables.

    Args:
        configs: one validated config per arm (``ecosim.config.arm_configs``), baseline first.
            Arms share seed and replications, so replication r sees the same customers and
            shocks in every arm.
        progress: as in ``run``.
        run_dir: the run directory the cohort table, and the purchase log of the arms with
            ``output.transactions``, are streamed to, step by step
            (``ecosim.metrics.cohorts``, ``ecosim.metrics.transaction_log``;
            ``RunResult.cohort_log`` and ``RunResult.transaction_log`` are the finished files,
            which ``write_tables`` publishes). Without it both are gathered whole in memory
            (``RunResult.cohort_retention``, ``RunResult.transactions``): small runs only.
        on_step: as in ``run``, over every arm's steps.
        cohort_table: as in ``run`` (``False``: no cohort table, streamed or kept).

    Returns:
        One RunResult whose tables carry every arm; its config is the baseline's.

    Raises:
        tables.NonFiniteError: as ``run``; the partial files are removed.
    """
    log_file = cohort_file = None
    transaction_log = cohort_log = None
    try:
        if run_dir is not None:
            transaction_log = TransactionLog.for_configs(run_dir, configs)
            if cohort_table:
                cohort_log = CohortLog.for_configs(run_dir, configs)
        results = [run(cfg, arm=name, progress=progress, transaction_log=transaction_log,
                       on_step=on_step, cohort_log=cohort_log, cohort_table=cohort_table)
                   for name, cfg in configs.items()]
        if transaction_log is not None:
            log_file = transaction_log.close()
        if cohort_log is not None:
            cohort_file = cohort_log.close()
    except BaseException:
        for stream in (transaction_log, cohort_log):
            if stream is not None:
                stream.abort()
        raise
    first = results[0]
    metadata = dict(first.metadata)
    metadata["arms"] = list(configs)
    metadata["config_hash"] = config_hash(configs)
    metadata["wall_seconds"] = round(sum(r.metadata["wall_seconds"] for r in results), 3)
    metadata["warnings"] = [w for r in results for w in r.metadata["warnings"]]
    transactions = [r.transactions for r in results if r.transactions is not None]
    return RunResult(
        config=first.config,
        **{name: pd.concat([getattr(r, name) for r in results], ignore_index=True)
           if name != "cohort_retention" or results[0].cohort_retention is not None else None
           for name in TABLES},
        transactions=pd.concat(transactions, ignore_index=True) if transactions else None,
        transaction_log=log_file,
        cohort_log=cohort_file,
        **{name: pd.concat([getattr(r, name) for r in results], ignore_index=True)
           for name in TIPPING_TABLES},
        metadata=metadata,
        arm_configs=configs,
        decisions=concat_decisions([r.decisions for r in results]))


def atomic_write(path: Path, write: Any) -> None:
    """Write through a temporary name, then rename: a reader never sees half a file.

    When writing fails (a full disk), the temporary file is removed and the error raised.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_writable(out_dir: str | Path) -> Path:
    """Create ``out_dir`` if needed and write (then remove) a small file in it.

    Raises:
        OSError: the directory cannot be created or written (read-only, full, not a directory).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    handle, probe = tempfile.mkstemp(prefix=".ecosim-write-test-", dir=out)
    try:
        os.write(handle, b"ecosim\n")
        os.fsync(handle)
    finally:
        os.close(handle)
        os.unlink(probe)
    return out


def output_bytes(configs: dict[str, EcosimConfig]) -> int:
    """About how many bytes the tables of these arms take on disk, known before they run.

    Eight bytes a value, as the float columns take; transactions and figures are not counted.
    """
    total = 0
    for cfg in configs.values():
        steps, firms = cfg.time.horizon + 1, len(cfg.firms)
        needs, segments = len(cfg.needs), len(cfg.customers.segments)
        values = (steps * firms * 25  # firm_metrics: rows × columns
                  + steps * firms * needs * 16  # unit_metrics
                  + steps * segments * (firms + 1) * 11  # segment_metrics
                  + steps * segments * needs * 6  # segment_needs
                  + firms * steps * (steps + 1) // 2 * 9  # cohort_retention, at most
                  + steps * needs * 7 + steps * firms * needs * 10)  # tipping, sellers at most
        total += 8 * values * cfg.replications
    return total


def start_run_dir(out_dir: str | Path, configs: dict[str, EcosimConfig]) -> Path:
    """Before a run simulates: check that its directory takes the output, and unmark it.

    The directory must be writable and have room for the tables (``output_bytes``). A
    ``metadata.json`` left by an earlier run is removed, so that a run killed from now on never
    leaves old results that look complete beside its new config, and so are the partial
    transaction log and cohort table of a run killed before.

    Raises:
        OSError: the directory cannot be written, or has too little free space (``ENOSPC``).
    """
    out = check_writable(out_dir)
    need, free = output_bytes(configs), shutil.disk_usage(out).free
    if free < need:
        raise OSError(errno.ENOSPC, f"not enough free disk space: the tables need about "
                                    f"{need / 1e6:.1f} MB, {free / 1e6:.1f} MB free")
    (out / "metadata.json").unlink(missing_ok=True)
    txlog.partial_path(out).unlink(missing_ok=True)
    cohorts_module.partial_path(out).unlink(missing_ok=True)
    return out


def write_tables(result: RunResult, out_dir: str | Path) -> Path:
    """Write the config and the tables of docs/design.md §4 into ``out_dir`` (created if needed).

    The run is not complete until ``mark_complete`` writes ``metadata.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metadata.json").unlink(missing_ok=True)  # already gone if start_run_dir ran
    config_text = yaml.dump(config_to_dict(result.config), Dumper=YAML_DUMPER, sort_keys=False,
                            allow_unicode=True)
    atomic_write(out / "config.yaml", lambda p: p.write_text(config_text))
    for name in TABLES:
        frame = getattr(result, name)
        if frame is not None:
            atomic_write(out / f"{name}.parquet",
                         lambda p, f=frame: f.to_parquet(p, index=False))
    if result.cohort_log is not None:  # streamed as the run played: renamed into place
        result.cohort_log = cohorts_module.publish(result.cohort_log, out)
    elif result.cohort_retention is None:  # run without one: no earlier run's table stays
        (out / cohorts_module.FILE).unlink(missing_ok=True)
    atomic_write(out / "decisions.parquet",
                 lambda p: result.decisions.to_parquet(p, index=False))
    if result.transaction_log is not None:  # streamed as the run played: renamed into place
        result.transaction_log = txlog.publish(result.transaction_log, out)
    elif result.transactions is not None:
        atomic_write(out / "transactions.parquet",
                      lambda p: result.transactions.to_parquet(p, index=False))
    atomic_write(out / "summary.csv", lambda p: result.summary.to_csv(p, index=False))
    if result.tipping is not None:  # tipping diagnostics (metrics.tipping)
        for name, frame in tipping_outputs(result.tipping, result.sellers,
                                           result.config.output.dominance_share).items():
            atomic_write(out / name, lambda p, f=frame, n=name: f.to_parquet(p, index=False)
                         if n.endswith(".parquet") else f.to_csv(p, index=False))
    shapley = result.shapley()
    if not shapley.empty:
        atomic_write(out / "shapley.csv", lambda p: shapley.to_csv(p, index=False))
    if result.robustness is not None:
        atomic_write(out / "robustness.csv",
                     lambda p: result.robustness.to_csv(p, index=False))
    if len(result.arm_configs) > 1:
        arms = {name: config_to_dict(cfg) for name, cfg in result.arm_configs.items()}
        atomic_write(out / "arms.yaml",
                      lambda p: p.write_text(yaml.dump(arms, Dumper=YAML_DUMPER,
                                                       sort_keys=False, allow_unicode=True)))
    return out


def mark_complete(result: RunResult, out_dir: str | Path) -> Path:
    """Write ``metadata.json``, last of all files: its presence marks a finished run."""
    path = Path(out_dir) / "metadata.json"
    atomic_write(path, lambda p: p.write_text(json.dumps(result.metadata, indent=2) + "\n"))
    return path
