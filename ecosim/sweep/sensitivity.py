"""Global sensitivity analysis (Sobol, Morris) of a KPI to config parameters, with SALib.

A spec file (``conf/sensitivity/*.yaml``) declares the parameters with their bounds, the KPI and
the design::

    method: morris                  # or sobol
    n: 8                            # Morris trajectories, or Sobol base samples (a power of 2)
    seed: 0
    kpi: {name: profit, firm: bank, window: 12}      # a firm_metrics column, mean of last steps
    parameters:                                     # dotted config key: [low, high]
      firms.bank.marketing.budget: [10000, 80000]
      firms.bank.offerings.banking.price_index: [0.8, 1.2]
    overrides: [customers.n=20000, time.horizon=24, events=[]]   # the scenario, for every sample

The samples run as an ordinary Hydra sweep, through any launcher: each job gets
``+sample.file=SAMPLES.csv +sample.index=i`` and the ``ecosim`` app sets the sampled values into
its config before validating it (``apply_sample``), so a job's ``config.yaml`` holds the values it
ran and the sweep resumes like any other. Then the jobs are collected, the KPI taken per sample,
and the indices computed with confidence intervals (bootstrap, 95 %), written as
``sensitivity.csv`` and a tornado chart::

    ecosim-sensitivity run conf/sensitivity/example.yaml --out results/sens hydra/launcher=local
    # or in steps: sample, then ecosim -m (the command is printed), then analyze

Sobol needs ``n * (D + 2)`` runs for D parameters (first and total order), Morris
``n * (D + 1)``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

METHODS = ("sobol", "morris")
SAMPLES = "samples.csv"


@dataclass
class KpiSpec:
    """The output analysed, averaged over arms, replications and the last ``window`` steps.

    ``name`` is a column of ``firm_metrics`` for ``firm`` (of ``unit_metrics`` with ``need``);
    without ``firm`` the KPI is summed over firms (customers, revenue, profit ...).
    """

    name: str = "profit"
    firm: str | None = None
    need: str | None = None
    window: int = 1


@dataclass
class SensitivitySpec:
    """A sensitivity analysis: method, design size, parameters with bounds, KPI, scenario."""

    parameters: dict[str, tuple[float, float]]
    kpi: KpiSpec = field(default_factory=KpiSpec)
    method: str = "sobol"
    n: int = 64
    seed: int = 0
    levels: int = 4  # Morris grid levels
    overrides: list[str] = field(default_factory=list)
    integer: list[str] = field(default_factory=list)  # parameters rounded to integers

    @property
    def problem(self) -> dict[str, Any]:
        """SALib's problem dictionary."""
        return {"num_vars": len(self.parameters), "names": list(self.parameters),
                "bounds": [list(bounds) for bounds in self.parameters.values()]}


SPEC_KEYS = ("method", "n", "seed", "levels", "kpi", "parameters", "overrides", "integer")
KPI_KEYS = ("name", "firm", "need", "window")


def _integer(tree: Mapping[str, Any], key: str, default: int, minimum: int,
             prefix: str = "") -> int:
    """``tree[key]`` as an integer >= ``minimum``, or a one-line error naming the key."""
    value = tree.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) \
            or value < minimum:
        raise ValueError(f"{prefix}{key}: {value!r}; expected an integer >= {minimum}")
    return int(value)


def _kpi_from_dict(tree: Any) -> KpiSpec:
    """The ``kpi`` block, checked key by key."""
    if tree is None:
        return KpiSpec()
    if not isinstance(tree, Mapping):
        raise ValueError(f"kpi: {tree!r}; expected a mapping with {', '.join(KPI_KEYS)}")
    unknown = [str(k) for k in tree if k not in KPI_KEYS]
    if unknown:
        raise ValueError(f"kpi.{unknown[0]}: unknown key; expected {', '.join(KPI_KEYS)}")
    for key in ("name", "firm", "need"):
        value = tree.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"kpi.{key}: {value!r}; expected a name")
    return KpiSpec(name=tree.get("name", "profit"), firm=tree.get("firm"), need=tree.get("need"),
                   window=_integer(tree, "window", 1, 1, "kpi."))


def _bounds(key: str, bounds: Any) -> tuple[float, float]:
    """``[low, high]`` (or ``{low, high}``) as two finite numbers with ``low < high``."""
    expected = f"parameters.{key}: {bounds!r}; expected [low, high], two numbers with low < high"
    if isinstance(bounds, Mapping):
        bounds = [bounds.get("low"), bounds.get("high")]
    if not isinstance(bounds, list | tuple) or len(bounds) != 2 or any(
            isinstance(b, bool) or not isinstance(b, int | float) for b in bounds):
        raise ValueError(expected)
    low, high = float(bounds[0]), float(bounds[1])
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(expected)
    return low, high


def spec_from_dict(tree: Any) -> SensitivitySpec:
    """A spec from its YAML tree, checked: every error is one line that names the key.

    Checks: known keys, a known method, integers ``n >= 2``, ``levels >= 2``, ``seed >= 0``,
    each parameter a dotted key with numeric bounds ``low < high``, ``integer`` a list of
    parameters, ``overrides`` a list of ``key=value`` strings, the ``kpi`` block. Whether the
    keys, bounds, KPI and firm fit the scenario is ``check_scenario``'s job.
    """
    if not isinstance(tree, Mapping):
        raise ValueError(f"the sensitivity spec must be a mapping of {', '.join(SPEC_KEYS)}; "
                         f"got {type(tree).__name__}")
    unknown = sorted(str(k) for k in set(tree) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"unknown keys in the sensitivity spec: {unknown}; expected "
                         f"{', '.join(SPEC_KEYS)}")
    raw_parameters = tree.get("parameters") or {}
    if not isinstance(raw_parameters, Mapping):
        raise ValueError(f"parameters: {raw_parameters!r}; expected a mapping of dotted config "
                         f"keys to [low, high]")
    parameters = {}
    for key, bounds in raw_parameters.items():
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise ValueError(f"parameters.{key}: expected a dotted config key")
        if key.split(".")[0] in ("hydra", "sample"):
            raise ValueError(f"parameters.{key}: not a config key of the scenario")
        parameters[key] = _bounds(key, bounds)
    if not parameters:
        raise ValueError("parameters: expected at least one dotted config key with [low, high]")
    method = tree.get("method", "sobol")
    if method not in METHODS:
        raise ValueError(f"method: {method!r}; expected one of {', '.join(METHODS)}")
    overrides = tree.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise ValueError(f"overrides: {overrides!r}; expected a list of key=value strings")
    integer = tree.get("integer") or []
    if not isinstance(integer, list):
        raise ValueError(f"integer: {integer!r}; expected a list of parameters")
    for i, key in enumerate(integer):
        if key not in parameters:
            raise ValueError(f"integer[{i}]: {key!r} is not one of the parameters")
    return SensitivitySpec(parameters=parameters, kpi=_kpi_from_dict(tree.get("kpi")),
                           method=method, n=_integer(tree, "n", 64, 2),
                           seed=_integer(tree, "seed", 0, 0),
                           levels=_integer(tree, "levels", 4, 2),
                           overrides=list(overrides), integer=[str(k) for k in integer])


def load_spec(path: str | Path) -> SensitivitySpec:
    """Read a spec file (YAML); a file that cannot be parsed is a one-line error (the line)."""
    try:
        tree = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or "malformed YAML"
        raise ValueError(f"{where}{problem}") from None
    except UnicodeDecodeError:
        raise ValueError("not a text file") from None
    return spec_from_dict(tree if tree is not None else {})


# -- the spec against the scenario, before anything runs ----------------------------------------

#: Corners validated in full up to this many parameters (2^4 = 16 configs); beyond, the two
#: opposite corners and each parameter flipped from each of them (2 D + 2 configs).
FULL_CORNERS = 4


def hydra_target(arguments: list[str]) -> tuple[Path | None, str | None, list[str]]:
    """Split ecosim's command-line arguments into config dir, config name and overrides.

    ``--config-dir``/``-cd``, ``--config-name``/``-cn`` (``--config-path``/``-cp`` counts as a
    dir) are read; other options are dropped, and so are overrides of Hydra itself
    (``hydra/launcher=joblib``, ``hydra.job.chdir=...``), which do not change the scenario.
    """
    config_dir = config_name = None
    overrides: list[str] = []
    names = {"--config-dir": "dir", "-cd": "dir", "--config-path": "dir", "-cp": "dir",
             "--config-name": "name", "-cn": "name"}
    i = 0
    while i < len(arguments):
        argument = arguments[i]
        option, equals, value = argument.partition("=")
        if option in names:
            if not equals:
                i += 1
                value = arguments[i] if i < len(arguments) else ""
            if names[option] == "dir":
                config_dir = Path(value)
            else:
                config_name = value
        elif not argument.startswith("-"):
            key = argument.lstrip("+~")
            if not (key.startswith("hydra.") or key.startswith("hydra/")):
                overrides.append(argument)
        i += 1
    return config_dir, config_name, overrides


def compose_scenario(spec: SensitivitySpec, arguments: list[str]) -> Any:
    """The scenario every sample starts from, composed as ``ecosim -m`` will compose it.

    Raises:
        ValueError: one line: an override that does not parse or compose, or a sweep among the
            overrides (the samples are the sweep; a second one would run each sample again).
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from ecosim.config import register_configs

    config_dir, config_name, overrides = hydra_target(arguments)
    overrides = [*spec.overrides, *overrides]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as error:
        raise ValueError(f"overrides: {_first_line(error)}") from None
    for text, override in zip(overrides, parsed, strict=True):
        if override.is_sweep_override():
            raise ValueError(f"override {text}: a sweep; the samples are the sweep (for more "
                             f"runs per sample set replications)")
    if config_dir is None:
        from ecosim.config.store import CONF_DIR

        config_dir = CONF_DIR
    if not config_dir.is_dir():
        raise ValueError(f"--config-dir {config_dir}: no such directory")
    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(config_dir.resolve()), version_base="1.3"):
            return compose(config_name or "config", overrides=overrides)
    except (HydraException, OmegaConfBaseException, OSError, ValueError) as error:
        raise ValueError(f"the scenario ({config_name or 'config'} in {config_dir}): "
                         f"{_first_line(error)}") from None
    finally:
        GlobalHydra.instance().clear()


def _first_line(error: BaseException) -> str:
    """The first non-empty line of an error's message (Hydra's run to several)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def corners(spec: SensitivitySpec) -> list[dict[str, float]]:
    """The corners of the parameter box validated before a launch (see ``FULL_CORNERS``).

    Every parameter appears at its low and its high bound; integer parameters are rounded as
    their samples are.
    """
    names = list(spec.parameters)
    if len(names) <= FULL_CORNERS:
        choices = [[(i >> j) & 1 for j in range(len(names))] for i in range(2 ** len(names))]
    else:
        choices = [[0] * len(names), [1] * len(names)]
        for j in range(len(names)):
            for base in (0, 1):
                flipped = [base] * len(names)
                flipped[j] = 1 - base
                choices.append(flipped)
    out = []
    for choice in choices:
        corner = {}
        for name, side in zip(names, choice, strict=True):
            value = spec.parameters[name][side]
            corner[name] = int(round(value)) if name in spec.integer else value
        out.append(corner)
    return out


def _setting(cfg: Any, key: str) -> Any:
    """The value of a dotted key in a validated config (schema defaults included).

    Raises:
        ValueError: naming the first part of the key that the config does not have, and what
            it has there (the fields of a block, or the declared names of firms, needs...).
    """
    import dataclasses

    node, walked = cfg, []
    for part in key.split("."):
        if isinstance(node, dict):
            found, has = part in node, list(node)
            child = node.get(part)
        elif dataclasses.is_dataclass(node):
            has = [f.name for f in dataclasses.fields(node)]
            found = part in has
            child = getattr(node, part, None)
        else:
            raise ValueError(f"parameters.{key}: {'.'.join(walked)} is {node!r} in the "
                             f"scenario, not a block with {part!r}")
        if not found:
            raise ValueError(f"parameters.{key}: the scenario has no {part!r} under "
                             f"{'.'.join(walked) or 'the root'} (it has "
                             f"{', '.join(map(str, has)) or 'nothing'})")
        node = child
        walked.append(part)
    return node


def check_kpi(spec: SensitivitySpec) -> None:
    """Refuse a KPI that is not a column of ``firm_metrics`` (``unit_metrics`` with a need)."""
    from ecosim.metrics.tables import FIRM_METRICS, UNIT_METRICS

    kpi = spec.kpi
    columns = UNIT_METRICS if kpi.need is not None else FIRM_METRICS
    table = "unit_metrics" if kpi.need is not None else "firm_metrics"
    if kpi.name not in columns:
        raise ValueError(f"kpi.name: {kpi.name!r} is not a column of {table}; expected one of "
                         f"{', '.join(columns)}")


def check_scenario(spec: SensitivitySpec, raw: Any) -> None:
    """Check the spec against the composed scenario before anything runs.

    Every parameter key must exist in the validated scenario, schema defaults included (a typo
    names the node where it goes wrong and what is there);
    a key holding an integer must be listed under ``integer``; the config must validate
    (``ecosim.config.arm_configs``) at every corner of the box (``corners``); the KPI must be a
    column of ``firm_metrics`` (``unit_metrics`` with a need), its firm and need declared, and
    its window inside the horizon.

    Raises:
        ValueError: one line naming the spec key at fault and, for a corner, the values.
    """
    from omegaconf import OmegaConf

    from ecosim.config import ConfigError, arm_configs

    try:
        base = next(iter(arm_configs(raw).values()))
    except (ConfigError, ValueError, TypeError) as error:
        raise ValueError(f"the scenario is invalid before any sample: "
                         f"{_first_line(error)}") from None
    for key in spec.parameters:
        value = _setting(base, key)
        if isinstance(value, int) and not isinstance(value, bool) \
                and key not in spec.integer:
            raise ValueError(f"parameters.{key}: the scenario holds an integer ({value}); list "
                             f"the key under integer so that its samples are rounded")
    tree = OmegaConf.to_container(raw, resolve=False)
    configs = []
    for corner in corners(spec):
        at = OmegaConf.create(tree)
        for key, value in corner.items():
            OmegaConf.update(at, key, value, force_add=True)
        try:
            configs.append(next(iter(arm_configs(at).values())))
        except (ConfigError, ValueError, TypeError) as error:
            where = ", ".join(f"{k}={v:g}" for k, v in corner.items())
            raise ValueError(f"parameters: the config is invalid at the corner {where}: "
                             f"{_first_line(error)}") from None
    check_kpi(spec)
    kpi, cfg = spec.kpi, base
    if kpi.firm is not None and kpi.firm not in cfg.firms:
        raise ValueError(f"kpi.firm: {kpi.firm!r} is not a firm of the scenario; declared: "
                         f"{', '.join(cfg.firms)}")
    if kpi.need is not None and kpi.need not in cfg.needs:
        raise ValueError(f"kpi.need: {kpi.need!r} is not a need of the scenario; declared: "
                         f"{', '.join(cfg.needs)}")
    horizon = min(c.time.horizon for c in configs)
    if kpi.window > horizon:
        raise ValueError(f"kpi.window: {kpi.window} steps; expected at most the horizon "
                         f"({horizon} steps)")


def sample(spec: SensitivitySpec) -> pd.DataFrame:
    """The design: one row per run, a ``sample`` index and one column per parameter."""
    if spec.method == "sobol":
        from SALib.sample import sobol

        points = sobol.sample(spec.problem, spec.n, calc_second_order=False, seed=spec.seed)
    else:
        from SALib.sample import morris

        points = morris.sample(spec.problem, spec.n, num_levels=spec.levels, seed=spec.seed)
    design = pd.DataFrame(points, columns=list(spec.parameters))
    for key in spec.integer:
        design[key] = design[key].round().astype(int)
    design.insert(0, "sample", np.arange(len(design)))
    return design


def analyze(spec: SensitivitySpec, design: pd.DataFrame, outputs: np.ndarray) -> pd.DataFrame:
    """Sensitivity indices per parameter with 95 % confidence intervals.

    Args:
        spec: the analysis.
        design: the samples (``sample``), in the order SALib drew them.
        outputs: the KPI of each sample, in the same order.

    Returns:
        Sobol: ``parameter``, ``S1``, ``S1_low``, ``S1_high``, ``ST``, ``ST_low``, ``ST_high``.
        Morris: ``parameter``, ``mu``, ``mu_star``, ``mu_star_low``, ``mu_star_high``,
        ``sigma``. Sorted by importance (ST or mu_star), largest first.
    """
    outputs = np.asarray(outputs, float)
    if not np.isfinite(outputs).all():
        raise ValueError(f"{int((~np.isfinite(outputs)).sum())} samples have no finite KPI value")
    names = list(spec.parameters)
    if spec.method == "sobol":
        from SALib.analyze import sobol

        result = sobol.analyze(spec.problem, outputs, calc_second_order=False, seed=spec.seed)
        table = pd.DataFrame({"parameter": names, "S1": result["S1"], "ST": result["ST"]})
        for index in ("S1", "ST"):
            table[f"{index}_low"] = result[index] - result[f"{index}_conf"]
            table[f"{index}_high"] = result[index] + result[f"{index}_conf"]
        table = table[["parameter", "S1", "S1_low", "S1_high", "ST", "ST_low", "ST_high"]]
        return table.sort_values("ST", ascending=False, ignore_index=True)
    from SALib.analyze import morris

    points = design[names].to_numpy(float)
    result = morris.analyze(spec.problem, points, outputs, num_levels=spec.levels,
                            seed=spec.seed)
    table = pd.DataFrame({"parameter": names, "mu": result["mu"], "mu_star": result["mu_star"],
                          "mu_star_low": result["mu_star"] - result["mu_star_conf"],
                          "mu_star_high": result["mu_star"] + result["mu_star_conf"],
                          "sigma": result["sigma"]})
    return table.sort_values("mu_star", ascending=False, ignore_index=True)


def evaluate(spec: SensitivitySpec, model: Callable[[np.ndarray], np.ndarray]) -> pd.DataFrame:
    """Sample, evaluate ``model`` on the design matrix (rows = samples) and analyse."""
    design = sample(spec)
    return analyze(spec, design, model(design[list(spec.parameters)].to_numpy(float)))


def tornado(indices: pd.DataFrame, spec: SensitivitySpec, stem: str | Path) -> list[Path]:
    """A tornado chart of the indices (bars with their 95 % CI), largest on top; PNG and SVG."""
    import matplotlib.pyplot as plt

    from ecosim.report.style import SLIDE_SIZE, STYLE, save

    index, label = (("ST", "total-order Sobol index") if spec.method == "sobol"
                    else ("mu_star", "Morris mu* (mean |elementary effect|)"))
    ordered = indices.sort_values(index, ascending=True)
    values = ordered[index].to_numpy(float)
    errors = np.vstack([values - ordered[f"{index}_low"].to_numpy(float),
                        ordered[f"{index}_high"].to_numpy(float) - values]).clip(min=0)
    kpi = spec.kpi.name + (f" of {spec.kpi.firm}" if spec.kpi.firm else "")
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SLIDE_SIZE)
        ax.barh(ordered["parameter"], values, xerr=errors, color="#1f4e79", capsize=4,
                label=f"{label} (95 % CI)")
        if spec.method == "sobol":
            ax.barh(ordered["parameter"], ordered["S1"], color="#c55a11", height=0.4,
                    label="first-order S1")
        ax.legend(loc="lower right", frameon=False)
        ax.set_xlabel(label)
        ax.grid(axis="y", visible=False)
        top = indices.iloc[0]["parameter"]
        design = "base samples" if spec.method == "sobol" else "trajectories"
        fig.suptitle(f"{top} drives {kpi} the most ({spec.method}, {spec.n} {design})")
        return save(fig, Path(stem))


def apply_sample(raw: Any) -> tuple[Any, int | None]:
    """Set a job's sampled parameter values into its composed config.

    ``raw`` (a Hydra ``DictConfig``) may hold ``sample: {file: SAMPLES.csv, index: i}``; the
    row ``i`` of the file gives a value per dotted key. Returns the config without ``sample``
    and with those values set, and the sample index (``None`` when there is no sample).
    """
    from omegaconf import OmegaConf

    if "sample" not in raw:
        return raw, None
    info = raw["sample"]
    design = pd.read_csv(info["file"])
    row = design[design["sample"] == int(info["index"])]
    if len(row) != 1:
        raise ValueError(f"sample {info['index']} is not in {info['file']}")
    raw = OmegaConf.create(OmegaConf.to_container(raw, resolve=False))
    del raw["sample"]
    for key in design.columns.drop("sample"):
        value = row[key].iloc[0]  # column by column: an integer column stays integer
        OmegaConf.update(raw, key, value.item() if hasattr(value, "item") else value,
                         force_add=True)
    return raw, int(info["index"])


def sweep_command(spec: SensitivitySpec, samples: Path, sweep_dir: Path,
                  extra: list[str]) -> list[str]:
    """The ``ecosim -m`` command that runs every sample as one job of a sweep."""
    return ["ecosim", "-m", *spec.overrides, *extra, f"+sample.file={samples.resolve()}",
            f"+sample.index=range(0,{len(pd.read_csv(samples))})",
            f"hydra.sweep.dir={sweep_dir.resolve()}"]


def kpi_per_sample(spec: SensitivitySpec, sweep_dir: str | Path) -> pd.Series:
    """The KPI of each sample, from the sweep's collected tables (NaN where a job is missing).

    Raises:
        ValueError: the KPI's firm or need is not in the sweep's tables.
    """
    from ecosim.sweep.collect import collect

    collection = collect(sweep_dir)
    samples = {}
    for row in collection.complete.itertuples():
        meta = json.loads((Path(row.dir) / "metadata.json").read_text())
        if meta.get("sample") is not None:
            samples[row.job] = int(meta["sample"])
    kpi = spec.kpi
    table = collection.read("unit_metrics" if kpi.need else "firm_metrics")
    for column, name in (("firm", kpi.firm), ("need", kpi.need)):
        present = [str(v) for v in pd.unique(table[column])] if name is not None else []
        if name is not None and name not in present:
            raise ValueError(f"kpi.{column}: {name!r} is not a {column} of the sweep; it has "
                             f"{', '.join(present) or 'none'}")
    table = table[table["step"] > table["step"].max() - kpi.window]
    if kpi.firm is not None:
        table = table[table["firm"] == kpi.firm]
    if kpi.need is not None:
        table = table[table["need"] == kpi.need]
    per_run = table.groupby(["job", "arm", "replication", "step"])[kpi.name].sum(min_count=1)
    per_job = per_run.groupby("job").mean()
    values = pd.Series({samples[job]: value for job, value in per_job.items() if job in samples},
                       dtype=float)
    return values.sort_index()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ecosim-sensitivity``."""
    parser = argparse.ArgumentParser(prog="ecosim-sensitivity",
                                     description="Sobol and Morris sensitivity of an ecosim KPI.")
    steps = parser.add_subparsers(dest="step", required=True)
    for name, text in (("sample", "write the samples and print the sweep command"),
                       ("analyze", "collect the sweep and compute the indices"),
                       ("run", "sample, run the sweep with ecosim -m, analyze")):
        sub = steps.add_parser(name, help=text)
        sub.add_argument("spec", type=Path, help="the spec file (conf/sensitivity/*.yaml)")
        sub.add_argument("--out", type=Path, default=Path("results/sensitivity"),
                         help="folder for samples.csv, the sweep, sensitivity.csv, tornado")
        if name != "analyze":
            sub.add_argument("overrides", nargs="*",
                             help="more ecosim overrides, e.g. hydra/launcher=local")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []  # ecosim's own options
    argv = argv[:argv.index("--")] if "--" in argv else argv
    args = parser.parse_args(argv)
    if args.step != "analyze":
        args.overrides = [*args.overrides, *extra]
    try:
        spec = load_spec(args.spec)
        check_kpi(spec)
        if args.step != "analyze":  # everything the sweep needs, before it starts
            check_scenario(spec, compose_scenario(spec, args.overrides))
    except (OSError, ValueError) as error:
        print(f"ecosim-sensitivity: {args.spec}: {error}", file=sys.stderr)
        return 2
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    samples, sweep_dir = out / SAMPLES, out / "sweep"
    if args.step in ("sample", "run"):
        sample(spec).to_csv(samples, index=False)
        command = sweep_command(spec, samples, sweep_dir, args.overrides)
        print(f"{len(pd.read_csv(samples))} samples in {samples}")
        if args.step == "sample":
            print(shlex.join(command))
            return 0
        done = subprocess.run([sys.executable, "-m", "ecosim.cli", *command[1:]], check=False)
        if done.returncode != 0:
            print(f"ecosim-sensitivity: the sweep failed (exit status {done.returncode}; the "
                  f"error is above); complete jobs are kept, so once it is fixed, running again "
                  f"resumes the sweep", file=sys.stderr)
            return done.returncode
    if not samples.is_file():
        print(f"ecosim-sensitivity: no {samples}; run the sample step first", file=sys.stderr)
        return 2
    design = pd.read_csv(samples)
    try:
        values = kpi_per_sample(spec, sweep_dir)
    except (OSError, ValueError, KeyError) as error:
        print(f"ecosim-sensitivity: {args.spec}: {_first_line(error)}", file=sys.stderr)
        return 2
    missing = sorted(set(design["sample"]) - set(values.index))
    if missing:
        print(f"ecosim-sensitivity: {len(missing)} samples have no result (first: {missing[:5]});"
              " resume the sweep first", file=sys.stderr)
        return 3
    indices = analyze(spec, design, values.loc[design["sample"]].to_numpy())
    indices.to_csv(out / "sensitivity.csv", index=False)
    tornado(indices, spec, out / "tornado")
    print(indices.to_string(index=False))
    print(f"wrote {out / 'sensitivity.csv'} and {out / 'tornado.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
