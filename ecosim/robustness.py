"""How far an experiment's answer depends on its assumptions: a tornado and a map.

``ecosim experiment=NAME robustness=true`` runs the experiment, then runs the arms its headline
needs again for each *variant* of the assumptions in ``experiment.assumptions``:

* **tornado**: one assumption at a time at its low and at its high value, the others at the
  default;
* **map**: the two assumptions of ``experiment.robustness.map`` crossed on a ``grid`` × ``grid``
  lattice from low to high.

Every variant keeps the experiment's seed, so its replication r sees the same customers and
shocks as the default run's (common random numbers): the differences between variants are the
assumptions' doing, not the draws'. The result is ``robustness.csv``, one row per variant::

    design   assumption   level   x     y     value  low   high  n
    default  -            -       NaN   NaN   0.48   0.41  0.55  6
    tornado  brand        low     0.5   NaN   0.31   ...
    map      brand|reach  0,2     0.5   1.5   ...

``value`` is the headline; ``low``/``high`` its 95 % interval over replications (simulation
noise); ``x``/``y`` the assumptions' values (factors of the default when ``scale: true``).
The default row is computed over the variants' replications (``robustness.replications``).
The spread of ``value`` over the variants is the interval "over assumptions".

Every variant's config is built and validated before the first run, so a key or a value that
does not fit fails at once, naming the assumption.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ecosim.config import ConfigError, EcosimConfig, arm_configs
from ecosim.config.arms import Change
from ecosim.metrics.headline import Headline, compute_headline, headline_arms

log = logging.getLogger(__name__)

COLUMNS = ("design", "assumption", "level", "x", "y", "value", "low", "high", "n")
#: The file a run with ``robustness=true`` writes next to its tables.
FILE = "robustness.csv"


@dataclass(frozen=True)
class Variant:
    """One run of the headline's arms with some assumptions moved."""

    design: str  # tornado | map
    assumption: str  # the assumption's name; "x|y" on the map
    level: str  # low | high; "i,j" on the map
    x: float
    y: float
    changes: tuple[Change, ...]


def _change(cfg: EcosimConfig, name: str, value: float) -> Change:
    a = cfg.experiment.assumptions[name]
    return (tuple(a.keys), float(value), a.scale)


def plan(cfg: EcosimConfig) -> list[Variant]:
    """The tornado's variants (low, high per assumption), then the map's (row by row)."""
    rob = cfg.experiment.robustness
    variants = []
    for name, a in cfg.experiment.assumptions.items():
        for level, value in (("low", a.low), ("high", a.high)):
            variants.append(Variant("tornado", name, level, value, np.nan,
                                    (_change(cfg, name, value),)))
    if rob.map:
        first, second = (cfg.experiment.assumptions[n] for n in rob.map)
        xs = np.linspace(first.low, first.high, rob.grid)
        ys = np.linspace(second.low, second.high, rob.grid)
        for i, x in enumerate(xs):
            for j, y in enumerate(ys):
                variants.append(Variant("map", "|".join(rob.map), f"{i},{j}", float(x),
                                        float(y), (_change(cfg, rob.map[0], x),
                                                   _change(cfg, rob.map[1], y))))
    return variants


def prepare(raw: Any, cfg: EcosimConfig) -> list[tuple[Variant, dict[str, EcosimConfig]]]:
    """Every variant with its validated arm configs, before anything runs.

    Raises:
        ConfigError: one line naming the assumption and the key of the first variant whose
            config does not validate.
    """
    arms = headline_arms(cfg.experiment)
    replications = min(cfg.experiment.robustness.replications or cfg.replications,
                       cfg.replications)  # the run's first replications, at most all
    prepared = []
    for variant in plan(cfg):
        try:
            configs = arm_configs(raw, variant.changes, only=arms, replications=replications)
        except ConfigError as error:
            raise ConfigError(error.key, error.value, error.allowed,
                              f"with experiment.assumptions.{variant.assumption} at "
                              f"{variant.level} ({_show(variant)}): "
                              f"{error.problem or str(error.value) + ' is not allowed'}") from None
        prepared.append((variant, configs))
    return prepared


def _show(variant: Variant) -> str:
    return f"{variant.x:g}" if np.isnan(variant.y) else f"{variant.x:g}, {variant.y:g}"


def row(design: str, assumption: str, level: str, x: float, y: float,
        headline: Headline) -> dict[str, Any]:
    """One row of ``robustness.csv``."""
    return {"design": design, "assumption": assumption, "level": level, "x": x, "y": y,
            "value": headline.value, "low": headline.low, "high": headline.high,
            "n": headline.n}


def run_robustness(prepared: list[tuple[Variant, dict[str, EcosimConfig]]],
                   default_kpis: pd.DataFrame, progress: bool | None = None) -> pd.DataFrame:
    """Run every prepared variant; the robustness table (the default assumptions' row first).

    The default row is the headline of the experiment's own run over the replications the
    variants play (``experiment.robustness.replications``, which may be fewer than the run's):
    replication r is the same draw in every variant, so each swing compares like with like.
    The simulation-noise interval of the answer itself uses every replication of the run.

    Args:
        prepared: from ``prepare``.
        default_kpis: the KPIs of the experiment's own run (``RunResult.kpis``).
        progress: a bar over the variants (None: when stderr is a terminal).
    """
    from ecosim.experiment import run_experiment

    first = next(iter(prepared[0][1].values())) if prepared else None
    if first is not None:
        default_kpis = default_kpis[default_kpis["replication"] < first.replications]
        default = compute_headline(default_kpis, first.experiment)
    else:
        default = Headline(np.nan, np.nan, np.nan, 0)
    rows = [row("default", "-", "-", np.nan, np.nan, default)]
    bar = tqdm(prepared, desc="robustness", unit="variant", disable=progress is False)
    runs = logging.getLogger("ecosim.experiment")
    level = runs.level
    if progress is not False:
        runs.setLevel(logging.WARNING)  # the bar over variants replaces each run's step log
    try:
        for i, (variant, configs) in enumerate(bar):
            bar.set_postfix_str(f"{variant.assumption} {variant.level}")
            if progress is False:
                log.info("robustness: variant %d/%d, %s %s", i + 1, len(prepared),
                         variant.assumption, variant.level)
            result = run_experiment(configs, progress=False)
            exp = next(iter(configs.values())).experiment
            rows.append(row(variant.design, variant.assumption, variant.level, variant.x,
                            variant.y, compute_headline(result.kpis, exp)))
    finally:
        runs.setLevel(level)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def labels(cfg: EcosimConfig) -> Mapping[str, str]:
    """Each assumption's label (its name when it has none)."""
    return {name: a.label or name.replace("_", " ")
            for name, a in cfg.experiment.assumptions.items()}
