"""The ``ecosim`` command: a Hydra app that runs a scenario and writes its run directory.

ecosim                                   # the default scenario (conf/config.yaml)
ecosim customers.n=20000 time.horizon=24 # overrides
ecosim --config-dir DIR --config-name my_market
ecosim -m seed=0,1,2 hydra/launcher=joblib hydra.sweep.dir=results/my_sweep   # a sweep

In a sweep (``-m``) each job runs with its share of the cores (``ecosim.sweep.launchers``), logs
its progress instead of drawing a bar, and skips itself when its directory already holds a
complete run of the same config, so re-running a killed sweep into the same ``hydra.sweep.dir``
finishes it (``ecosim.sweep.resume``). Jobs that differ only in values get copies of one Hydra
composition with their values set (``ecosim.sweep.compose``): the same configs, ~5 ms a job.
Figures (``output.figures``) import matplotlib only when drawn.

Before it simulates, a run checks that its directory can be written and has room for the
tables, and removes the completeness mark (``metadata.json``) an earlier run left there; the
mark is written again last of all files. Exit status: 0 done; 2 a config error or an output
directory that cannot be written (one line on stderr, nothing left half-written); 1 a run whose
tables hold inf or NaN where a number is required (the line names the table and column). In a
sweep, such a job fails with the same line and the launcher records it as failed.
"""

from __future__ import annotations

import atexit
import gc
import json
import logging
import math
import sys
from pathlib import Path
from typing import NoReturn

import hydra
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ecosim.calibrate.targets import distance
from ecosim.config import ConfigError, EcosimConfig, arm_configs, register_configs
from ecosim.config.limits import resource_warning
from ecosim.config.store import CONF_DIR
from ecosim.experiment import (
    RunResult,
    mark_complete,
    run_experiment,
    start_run_dir,
    write_tables,
)
from ecosim.metrics.tables import NonFiniteError
from ecosim.robustness import prepare, run_robustness
from ecosim.sweep.compose import fast_composition
from ecosim.sweep.launchers import job_threads, set_job_threads
from ecosim.sweep.resume import is_complete, restate_overrides
from ecosim.sweep.sensitivity import apply_sample

log = logging.getLogger("ecosim.cli")

#: Hydra's options that take the next argument as their value.
VALUE_OPTIONS = ("--config-dir", "-cd", "--config-name", "-cn", "--config-path", "-cp",
                 "--package", "-p", "--cfg", "-c", "--info", "--experimental-rerun")


class JobConfigError(CompactHydraException):
    """A config error in one job of a sweep: Hydra reports it on one line, without a traceback."""


class JobError(CompactHydraException):
    """A job of a sweep that cannot write its directory, or whose tables are not numbers."""


def write_run_dir(result: RunResult, out_dir: str | Path) -> Path:
    """Tables, figures and report, then ``metadata.json`` (the completeness mark)."""
    out = write_tables(result, out_dir)
    from ecosim.report import write_all, write_report

    if result.config.output.figures:
        write_all(result, out)  # figures/*.png|svg, report.md, and deck.pptx if output.deck
    else:
        write_report(result, out)
    mark_complete(result, out)
    return out


def _app(raw: DictConfig) -> float | None:
    """Run one scenario or experiment; return the distance to ``calibration.targets``, if any."""
    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    sweeping = hydra_cfg.mode == RunMode.MULTIRUN
    try:
        raw, sample = apply_sample(raw)  # a sensitivity sample sets its parameter values
        configs = arm_configs(raw)  # one per arm of an experiment; "base" for a scenario
        cfg = next(iter(configs.values()))
        plan = prepare(raw, cfg) if cfg.robustness else None  # validated before any run
    except (ConfigError, ValueError, OSError) as error:
        if sweeping:  # the launcher records the job as failed and the sweep reports it
            raise JobConfigError(
                f"ecosim: config error in job {hydra_cfg.job.num}: {error}") from None
        print(f"ecosim: config error: {error}", file=sys.stderr)
        sys.exit(2)
    warning = resource_warning(cfg)
    if warning:
        print(f"ecosim: warning: {warning}", file=sys.stderr)
    overrides = [str(item) for item in hydra_cfg.overrides.task]
    if sweeping and is_complete(out_dir, cfg):
        restate_overrides(out_dir, overrides)  # the same config, perhaps written differently
        log.info("complete with the same config, skipped: %s", out_dir)
        print(f"ecosim: skipped {out_dir} (complete)")
        return _stored_distance(out_dir) if cfg.calibration.targets else None
    try:
        start_run_dir(out_dir, configs)  # writable, room for the tables, no old mark
    except OSError as error:
        _fail(hydra_cfg, 2, f"cannot write the output directory {out_dir}: {_reason(error)}")
    if sweeping and cfg.threads is None:
        threads = set_job_threads(job_threads(hydra_cfg.launcher))
        log.info("numba threads: %d", threads)
    try:
        result = run_experiment(configs, progress=False if sweeping else None,
                                run_dir=out_dir)  # cohorts and log stream into the run dir
        if plan is not None:
            print(f"ecosim: robustness: {plan.count} variants of the assumptions (tornado"
                  f"{' and map' if plan.maps else ''})", flush=True)
            result.robustness = run_robustness(plan, result.kpis,
                                               progress=False if sweeping else None)
    except NonFiniteError as error:
        _fail(hydra_cfg, 1, f"run failed, its tables are not numbers: {error}; check the "
                            "parameters of the distributions (a value too large, or impossible)")
    result.metadata["overrides"] = overrides
    if sample is not None:
        result.metadata["sample"] = sample
    objective = None
    if cfg.calibration.targets:
        objective, result.metadata["calibration"] = distance(
            cfg.calibration, result.firm_metrics, result.unit_metrics)
        log.info("distance to the calibration targets: %.6g", objective)
    try:
        write_run_dir(result, out_dir)
    except OSError as error:
        _fail(hydra_cfg, 2, f"cannot write the output directory {out_dir}: {_reason(error)}")
    print(f"ecosim: wrote {out_dir}")
    return objective


def _reason(error: OSError) -> str:
    """An OSError in a few words (``No space left on device``), with its file when it has one."""
    if not error.strerror:
        return str(error)
    return f"{error.strerror} ({error.filename})" if error.filename else error.strerror


def _fail(hydra_cfg: DictConfig, status: int, message: str) -> NoReturn:
    """Stop a run with one line on stderr and ``status``; a sweep's job fails with that line."""
    if hydra_cfg.mode == RunMode.MULTIRUN:  # the launcher records the job as failed
        raise JobError(f"ecosim: job {hydra_cfg.job.num}: {message}") from None
    print(f"ecosim: {message}", file=sys.stderr)
    sys.exit(status)


def _stored_distance(out_dir: Path) -> float:
    """The distance recorded in a complete run's ``metadata.json``."""
    record = json.loads((out_dir / "metadata.json").read_text()).get("calibration") or {}
    return float(record.get("distance", math.inf))


def _options(argv: list[str]) -> tuple[dict[str, str], list[int]]:
    """Hydra's options with a value (``--config-dir DIR``) and the indices of the overrides."""
    options, overrides, i = {}, [], 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if arg.startswith("-"):
            if name in VALUE_OPTIONS and not eq and i + 1 < len(argv):
                options[name], i = argv[i + 1], i + 1
            elif name in VALUE_OPTIONS:
                options[name] = value
        elif eq:
            overrides.append(i)
        i += 1
    return options, overrides


def _check_command_line(argv: list[str]) -> list[str]:
    """One line and exit 2 for a malformed YAML file the run would read; ``argv`` prepared.

    Checks the primary config and the group options named on the command line
    (``experiment=NAME``). A root key that is no schema field, no group and no Hydra key gets
    ``+`` so that ``load_config`` names it (Hydra's own message takes five lines).
    """
    options, indices = _options(argv)
    dirs = [Path(d) for d in (options.get("--config-dir") or options.get("-cd"),) if d]
    dirs.append(CONF_DIR)
    name = options.get("--config-name") or options.get("-cn") or "config"
    files = [next((d / f"{name}.yaml" for d in dirs if (d / f"{name}.yaml").is_file()), None)]
    argv = list(argv)
    for i in indices:
        key, _, value = argv[i].partition("=")
        group = [d / key for d in dirs if (d / key).is_dir()]
        files += [g / f"{option.strip()}.yaml" for g in group for option in value.split(",")]
        root = key.lstrip("+~")
        if (key == root and not group and root != "hydra" and "." not in root and "/" not in root
                and "@" not in root and root not in EcosimConfig.__dataclass_fields__):
            argv[i] = "+" + argv[i]
    for path in files:
        if path is not None and path.is_file():
            try:
                OmegaConf.load(path)
            except yaml.MarkedYAMLError as error:
                mark = error.problem_mark or error.context_mark
                where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
                context = ""
                if error.context and error.context_mark and error.context_mark is not mark:
                    context = f" ({error.context} at line {error.context_mark.line + 1})"
                problem = " ".join(str(error.problem or error.context).split())
                print(f"ecosim: config error: {where}: {problem}{context}", file=sys.stderr)
                sys.exit(2)
    return argv


def main() -> None:
    """Entry point of the ``ecosim`` console script."""
    # At exit the interpreter's last garbage collection walks every object pandas, numba and
    # Hydra made (~0.2 s); frozen first, they are left to the process's end (see gc.freeze).
    atexit.unregister(gc.freeze)  # once, however often main runs in a process
    atexit.register(gc.freeze)
    sys.argv[1:] = _check_command_line(sys.argv[1:])
    register_configs()
    config_path = str(CONF_DIR) if CONF_DIR.is_dir() else None
    with fast_composition():  # each set of config groups composed once (ecosim.sweep.compose)
        hydra.main(version_base="1.3", config_path=config_path, config_name="config")(_app)()


if __name__ == "__main__":
    main()
