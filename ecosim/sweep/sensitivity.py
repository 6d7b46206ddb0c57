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


def spec_from_dict(tree: Mapping[str, Any]) -> SensitivitySpec:
    """A spec from its YAML tree, checked: known method, bounds ``low < high``, n >= 2."""
    unknown = set(tree) - {"method", "n", "seed", "levels", "kpi", "parameters", "overrides",
                           "integer"}
    if unknown:
        raise ValueError(f"unknown keys in the sensitivity spec: {sorted(unknown)}")
    parameters = {}
    for key, bounds in (tree.get("parameters") or {}).items():
        if isinstance(bounds, Mapping):
            bounds = [bounds.get("low"), bounds.get("high")]
        if (not isinstance(bounds, (list, tuple)) or len(bounds) != 2
                or not float(bounds[0]) < float(bounds[1])):
            raise ValueError(f"parameters.{key}: {bounds!r}; expected [low, high] with low < high")
        parameters[str(key)] = (float(bounds[0]), float(bounds[1]))
    if not parameters:
        raise ValueError("parameters: expected at least one dotted config key with [low, high]")
    spec = SensitivitySpec(parameters=parameters, kpi=KpiSpec(**(tree.get("kpi") or {})),
                           method=str(tree.get("method", "sobol")), n=int(tree.get("n", 64)),
                           seed=int(tree.get("seed", 0)), levels=int(tree.get("levels", 4)),
                           overrides=[str(o) for o in tree.get("overrides") or []],
                           integer=[str(k) for k in tree.get("integer") or []])
    if spec.method not in METHODS:
        raise ValueError(f"method: {spec.method!r}; expected one of {', '.join(METHODS)}")
    if spec.n < 2:
        raise ValueError(f"n: {spec.n}; expected at least 2")
    return spec


def load_spec(path: str | Path) -> SensitivitySpec:
    """Read a spec file (YAML)."""
    return spec_from_dict(yaml.safe_load(Path(path).read_text()) or {})


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
    """The KPI of each sample, from the sweep's collected tables (NaN where a job is missing)."""
    from ecosim.sweep.collect import collect

    collection = collect(sweep_dir)
    samples = {}
    for row in collection.complete.itertuples():
        meta = json.loads((Path(row.dir) / "metadata.json").read_text())
        if meta.get("sample") is not None:
            samples[row.job] = int(meta["sample"])
    kpi = spec.kpi
    table = collection.read("unit_metrics" if kpi.need else "firm_metrics")
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
    except (OSError, ValueError, TypeError) as error:
        print(f"ecosim-sensitivity: {error}", file=sys.stderr)
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
            print("ecosim-sensitivity: the sweep failed; run again to resume it", file=sys.stderr)
            return done.returncode
    design = pd.read_csv(samples)
    values = kpi_per_sample(spec, sweep_dir)
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
