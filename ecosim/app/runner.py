"""A run launched from the page: in the background, with progress, cancel and its error.

A ``RunJob`` plays a config's arms × replications through ``ecosim.experiment.run_experiment``
(and ``ecosim.robustness`` when the config asks for it) in a thread of its own, then writes an
ordinary run directory: the tables, ``report.md``, the figures and ``deck.pptx``, and
``metadata.json`` last of all, as the ``ecosim`` command does. Everything else in ecosim reads
it.

The simulation kernels run in parallel on every core and the plots use Matplotlib's global
state, so the runs of a server's tabs take turns (``RUN_LOCK``): a job waits, cancellable,
until the run before it is over. Each tab holds its own jobs, so tabs never see each other's
runs.

Cancel stops the run at the next simulated step (``on_step`` raises ``RunCancelled``) or
between the writing phases, and removes the run's directory: a cancelled run leaves nothing
that looks like a run. A run that fails keeps its one-line error (``RunJob.error``) for the page
and leaves a directory without ``metadata.json``, which every reader takes as incomplete.
"""

from __future__ import annotations

import errno
import logging
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecosim.config import ConfigError, EcosimConfig
from ecosim.experiment import mark_complete, run_experiment, start_run_dir, write_tables
from ecosim.metrics.tables import NonFiniteError

log = logging.getLogger(__name__)

#: One run at a time in a server: the kernels use every core, the plots pyplot's global state.
RUN_LOCK = threading.Lock()

#: The states of a job; the last three are final.
STATES = ("waiting", "running", "writing", "done", "failed", "cancelled")


class RunCancelled(Exception):
    """Raised inside a run to stop it (the page's cancel button)."""


@dataclass(frozen=True)
class Snapshot:
    """What the page shows of a job at one moment.

    Attributes:
        state: one of ``STATES``.
        progress: share of the simulated steps done, in [0, 1].
        message: what the job is doing, in a few words.
        error: the one-line error of a failed run (empty otherwise).
        run_dir: the run directory.
        seconds: wall seconds since the job started.
        steps: simulated steps done (every arm, replication and robustness variant).
        total_steps: the steps the whole run simulates (``total_steps``).
    """

    state: str
    progress: float
    message: str
    error: str
    run_dir: Path
    seconds: float
    steps: int = 0
    total_steps: int = 0

    @property
    def finished(self) -> bool:
        """Whether the job is over (done, failed or cancelled)."""
        return self.state in ("done", "failed", "cancelled")


def total_steps(configs: dict[str, EcosimConfig], plan: Any = None) -> int:
    """Simulated steps of a run: arms × replications × horizon, plus robustness's variants.

    Of robustness's maps only the first is counted (the run plays one of them).
    """
    steps = sum(cfg.replications * cfg.time.horizon for cfg in configs.values())
    if plan is not None:
        prepared = list(plan.tornado) + (next(iter(plan.maps.values())) if plan.maps else [])
        steps += sum(cfg.replications * cfg.time.horizon
                     for _, arm_configs in prepared for cfg in arm_configs.values())
    return steps


class RunJob:
    """One run of validated arm configs into ``run_dir``, in a background thread.

    Args:
        configs: one validated config per arm (``ecosim.app.form.validate``).
        run_dir: the directory to write: new, or empty.
        raw: the tree the configs came from, needed for robustness (``ecosim.robustness``).
        overrides: the page's edits as ``key=value``, recorded in ``metadata.json``.
        source: where the config came from, recorded in ``metadata.json``.
    """

    def __init__(self, configs: dict[str, EcosimConfig], run_dir: str | Path,
                 raw: dict[str, Any] | None = None, overrides: list[str] | None = None,
                 source: str = "") -> None:
        self.configs = configs
        self.run_dir = Path(run_dir)
        self.raw = raw
        self.overrides = list(overrides or [])
        self.source = source
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._state, self._message, self._error = "waiting", "waiting for another run", ""
        self._done_steps, self._total = 0, max(total_steps(configs), 1)
        self._started = time.perf_counter()
        self._created = False  # whether this job made run_dir (only then cancel removes it)
        self._thread = threading.Thread(target=self._main, name=f"ecosim-run {self.run_dir.name}",
                                        daemon=True)

    def start(self) -> RunJob:
        """Start the run's thread; returns the job."""
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the run to stop: at the next step, or before the next writing phase."""
        self._cancel.set()

    def join(self, timeout: float | None = None) -> Snapshot:
        """Wait for the run to end (at most ``timeout`` seconds); its snapshot."""
        self._thread.join(timeout)
        return self.snapshot()

    def snapshot(self) -> Snapshot:
        """The job's state, progress, message and error now."""
        with self._lock:
            return Snapshot(self._state, min(self._done_steps / self._total, 1.0),
                            self._message, self._error, self.run_dir,
                            time.perf_counter() - self._started, self._done_steps, self._total)

    def _set(self, state: str, message: str, error: str = "") -> None:
        with self._lock:
            self._state, self._message, self._error = state, message, error

    def _step(self) -> None:
        """``on_step`` of the run: count a step, stop if cancelled."""
        self._done_steps += 1
        if self._cancel.is_set():
            raise RunCancelled

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise RunCancelled

    def _main(self) -> None:
        try:
            while not RUN_LOCK.acquire(timeout=0.2):
                self._check_cancel()
            try:
                self._run()
            finally:
                RUN_LOCK.release()
        except RunCancelled:
            if self._created:
                shutil.rmtree(self.run_dir, ignore_errors=True)
            self._set("cancelled", "cancelled; its directory was removed" if self._created
                      else "cancelled")
        except Exception as error:  # every failure is shown on the page, in one line
            log.exception("run into %s failed", self.run_dir)
            self._set("failed", "the run failed", one_line(error, self.run_dir))

    def _run(self) -> None:
        from ecosim.robustness import prepare, run_robustness

        first = next(iter(self.configs.values()))
        plan = prepare(self.raw, first) if first.robustness and self.raw is not None else None
        with self._lock:
            self._total = max(total_steps(self.configs, plan), 1)
        self._set("running", "simulating")
        if self.run_dir.exists() and any(self.run_dir.iterdir()):
            raise FileExistsError(errno.EEXIST, "the directory is not empty; a run from the "
                                  "page writes a new one", str(self.run_dir))
        self._created = not self.run_dir.exists()
        start_run_dir(self.run_dir, self.configs)
        result = run_experiment(self.configs, progress=False, run_dir=self.run_dir,
                                on_step=self._step)
        if plan is not None:
            self._set("running", "robustness: the assumptions' variants")
            result.robustness = run_robustness(plan, result.kpis, progress=False,
                                               on_step=self._step)
        result.metadata["overrides"] = self.overrides
        result.metadata["app_source"] = self.source
        self._check_cancel()
        self._set("writing", "writing the tables")
        write_tables(result, self.run_dir)
        self._check_cancel()
        self._set("writing", "drawing the figures, the report and the deck")
        from ecosim.report import write_all

        write_all(result, self.run_dir, deck=True)
        self._check_cancel()
        mark_complete(result, self.run_dir)  # last of all: the run is complete
        self._set("done", f"done in {time.perf_counter() - self._started:.1f} s")


def one_line(error: BaseException, run_dir: Path) -> str:
    """A failure in one line, in the words of the ``ecosim`` command where it has them."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, ConfigError):
        return f"config error: {text}"
    if isinstance(error, NonFiniteError):
        return f"the run's tables are not numbers: {text}"
    if isinstance(error, OSError):
        reason = error.strerror or text
        where = (f" ({error.filename})" if error.filename
                 and Path(error.filename) != run_dir else "")
        return f"cannot write the output directory {run_dir}: {reason}{where}"
    return f"{type(error).__name__}: {text}"
