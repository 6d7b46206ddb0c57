"""How far an experiment's answer depends on its assumptions: a tornado and a map.

``ecosim experiment=NAME robustness=true`` runs the experiment, then runs the arms its headline
needs again for each *variant* of the assumptions in ``experiment.assumptions``:

* **tornado**: one assumption at a time at its low and at its high value, the others at the
  default;
* **map**: two assumptions crossed on a ``grid`` × ``grid`` lattice from low through their
  default to high (so the middle cell is the default run): the pair ``experiment.robustness.map``
  names or, when it names none, the two whose tornado swings are largest.

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

import itertools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ecosim.config import ConfigError, EcosimConfig, arm_configs
from ecosim.config.arms import Change
from ecosim.config.paths import get_dotted
from ecosim.metrics.headline import Headline, compute_headline, dominant, headline_arms

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


#: A variant with its validated arm configs.
Prepared = tuple[Variant, dict[str, EcosimConfig]]


@dataclass
class Plan:
    """Every variant robustness may run, validated: the tornado's, and the map's by pair.

    ``maps`` holds the map of the pair ``experiment.robustness.map`` names or, when it names
    none, of every pair: the run maps the two assumptions whose tornado swings are largest.
    """

    tornado: list[Prepared]
    maps: dict[tuple[str, str], list[Prepared]]

    @property
    def count(self) -> int:
        """Variants the run plays: the tornado and one map."""
        return len(self.tornado) + (len(next(iter(self.maps.values()))) if self.maps else 0)


def _change(cfg: EcosimConfig, name: str, value: float) -> Change:
    a = cfg.experiment.assumptions[name]
    return (tuple(a.keys), float(value), a.scale)


def default_value(cfg: EcosimConfig, name: str) -> float:
    """The assumption's value in the default run: 1 for a scale, else its first key's value."""
    a = cfg.experiment.assumptions[name]
    return 1.0 if a.scale else float(get_dotted(cfg, a.keys[0]))


def grid_values(cfg: EcosimConfig, name: str) -> np.ndarray:
    """The map's values of an assumption, from low to high, through its default value.

    The default sits at the middle index (grid 3: low, default, high), evenly spaced on each
    side, so the map's middle cell is the default run; a default outside the range gives an
    evenly spaced grid.
    """
    a, grid = cfg.experiment.assumptions[name], cfg.experiment.robustness.grid
    default, middle = default_value(cfg, name), (grid - 1) // 2
    if not a.low < default < a.high or middle == 0:
        return np.linspace(a.low, a.high, grid)
    return np.concatenate([np.linspace(a.low, default, middle + 1),
                           np.linspace(default, a.high, grid - middle)[1:]])


def tornado_variants(cfg: EcosimConfig) -> list[Variant]:
    """Each assumption at its low, then its high value, the others at their defaults."""
    return [Variant("tornado", name, level, value, np.nan, (_change(cfg, name, value),))
            for name, a in cfg.experiment.assumptions.items()
            for level, value in (("low", a.low), ("high", a.high))]


def map_variants(cfg: EcosimConfig, pair: tuple[str, str]) -> list[Variant]:
    """The two assumptions crossed on the grid, row by row."""
    xs, ys = grid_values(cfg, pair[0]), grid_values(cfg, pair[1])
    return [Variant("map", "|".join(pair), f"{i},{j}", float(x), float(y),
                    (_change(cfg, pair[0], x), _change(cfg, pair[1], y)))
            for i, x in enumerate(xs) for j, y in enumerate(ys)]


def map_pairs(cfg: EcosimConfig) -> list[tuple[str, str]]:
    """The pair the experiment names, or every pair (the run picks the dominant one)."""
    named = cfg.experiment.robustness.map
    if named:
        return [(named[0], named[1])]
    return list(itertools.combinations(cfg.experiment.assumptions, 2))


def plan(cfg: EcosimConfig) -> list[Variant]:
    """The tornado's variants, then the named map's (for a run that names its pair)."""
    named = cfg.experiment.robustness.map
    return tornado_variants(cfg) + (map_variants(cfg, (named[0], named[1])) if named else [])


def prepare(raw: Any, cfg: EcosimConfig) -> Plan:
    """Every variant with its validated arm configs, before anything runs.

    Raises:
        ConfigError: one line naming the assumption and the key of the first variant whose
            config does not validate.
    """
    arms = headline_arms(cfg.experiment)
    replications = min(cfg.experiment.robustness.replications or cfg.replications,
                       cfg.replications)  # the run's first replications, at most all

    def build(variant: Variant) -> Prepared:
        try:
            configs = arm_configs(raw, variant.changes, only=arms, replications=replications)
        except ConfigError as error:
            raise ConfigError(error.key, error.value, error.allowed,
                              f"with experiment.assumptions.{variant.assumption} at "
                              f"{variant.level} ({_show(variant)}): "
                              f"{error.problem or str(error.value) + ' is not allowed'}") from None
        return variant, configs

    tornado = [build(v) for v in tornado_variants(cfg)]
    maps = {pair: [build(v) for v in map_variants(cfg, pair)] for pair in map_pairs(cfg)
            if len(cfg.experiment.assumptions) >= 2}
    return Plan(tornado, maps)


def _show(variant: Variant) -> str:
    return f"{variant.x:g}" if np.isnan(variant.y) else f"{variant.x:g}, {variant.y:g}"


def row(design: str, assumption: str, level: str, x: float, y: float,
        headline: Headline) -> dict[str, Any]:
    """One row of ``robustness.csv``."""
    return {"design": design, "assumption": assumption, "level": level, "x": x, "y": y,
            "value": headline.value, "low": headline.low, "high": headline.high,
            "n": headline.n}


def run_robustness(plan: Plan, default_kpis: pd.DataFrame, progress: bool | None = None,
                   on_step: Callable[[], None] | None = None) -> pd.DataFrame:
    """Run the tornado, then the map; the robustness table (the default assumptions' row first).

    The default row is the headline of the experiment's own run over the replications the
    variants play (``experiment.robustness.replications``, which may be fewer than the run's):
    replication r is the same draw in every variant, so each swing compares like with like.
    The map crosses the pair the experiment names or, when it names none, the two assumptions
    whose tornado swings are largest.

    Args:
        plan: from ``prepare``.
        default_kpis: the KPIs of the experiment's own run (``RunResult.kpis``).
        progress: a bar over the variants (None: when stderr is a terminal).
        on_step: called after every simulated step of every variant (``experiment.run``).
    """
    from ecosim.experiment import run_experiment

    first = next(iter(plan.tornado[0][1].values())) if plan.tornado else None
    if first is None:
        return pd.DataFrame([row("default", "-", "-", np.nan, np.nan,
                                 Headline(np.nan, np.nan, np.nan, 0))], columns=list(COLUMNS))
    default_kpis = default_kpis[default_kpis["replication"] < first.replications]
    rows = [row("default", "-", "-", np.nan, np.nan,
                compute_headline(default_kpis, first.experiment))]
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=plan.count, desc="robustness", unit="variant", disable=not show)
    runs = logging.getLogger("ecosim.experiment")
    level = runs.level
    if show:
        runs.setLevel(logging.WARNING)  # the bar over variants replaces each run's step log

    def play(prepared: list[Prepared]) -> None:
        for variant, configs in prepared:
            bar.set_postfix_str(f"{variant.assumption} {variant.level}")
            if not show:
                log.info("robustness: variant %d/%d, %s %s", len(rows), plan.count,
                         variant.assumption, variant.level)
            # KPIs only: no purchase log, no cohort table (the model keeps no triangle)
            result = run_experiment(configs, progress=False, on_step=on_step,
                                    cohort_table=False)
            exp = next(iter(configs.values())).experiment
            rows.append(row(variant.design, variant.assumption, variant.level, variant.x,
                            variant.y, compute_headline(result.kpis, exp)))
            bar.update()

    try:
        play(plan.tornado)
        if plan.maps:
            pair = next(iter(plan.maps)) if len(plan.maps) == 1 else tuple(
                sorted(dominant(pd.DataFrame(rows), 2),
                       key=list(first.experiment.assumptions).index))
            play(plan.maps[pair])
    finally:
        runs.setLevel(level)
        bar.close()
    return pd.DataFrame(rows, columns=list(COLUMNS))
