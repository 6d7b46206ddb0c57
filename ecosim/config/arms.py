"""Experiments: expanding a config's arms into one validated config per arm.

An arm is a mapping of dotted keys to values (``firms.bank.brand: group``) applied to the
experiment's own config. Each arm is validated like any config, before anything runs, and an
error names the arm: ``experiment.arms.umbrella.firms.bank.brand: ...``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig

from ecosim.config.errors import ConfigError, require
from ecosim.config.paths import get_dotted, set_dotted
from ecosim.config.schema import EcosimConfig
from ecosim.config.validate import load_config, user_tree

#: The arm every config has when it declares no experiment.
SINGLE_ARM = "base"


#: A change robustness makes to every arm: the keys, the value, and whether it multiplies.
Change = tuple[tuple[str, ...], float, bool]


def arm_configs(raw: DictConfig | Mapping[str, Any], changes: Sequence[Change] = (),
                only: Sequence[str] | None = None,
                replications: int | None = None) -> dict[str, EcosimConfig]:
    """One validated config per arm, in the order declared (the first is the baseline).

    A config without ``experiment.arms`` gives the single arm ``base``. Raises ``ConfigError``
    (one line) for the first invalid arm.

    Args:
        raw: the composed config.
        changes: applied to every arm after its own overrides (robustness): each sets its keys
            to the value, or with ``scale`` multiplies each key's value in that arm by it.
        only: the arms to build (default: all).
        replications: replaces ``replications`` (robustness variants may run fewer).
    """
    base = load_config(raw)
    tree = user_tree(raw)
    if replications is not None:
        tree["replications"] = replications
        # a variant is a plain run of its arms: no robustness of its own
        tree["robustness"] = False
        tree.setdefault("output", {})["transactions"] = False  # nor a purchase log: none is read
        tree.setdefault("experiment", {}).setdefault("robustness", {})["replications"] = None
    if not base.experiment.arms:
        if not changes and replications is None:
            return {SINGLE_ARM: base}
        return {SINGLE_ARM: _changed(tree, changes, "")}
    configs = {}
    for name, overrides in base.experiment.arms.items():
        if only is not None and name not in only:
            continue
        arm_tree = copy.deepcopy(tree)
        for path, value in overrides.items():
            set_dotted(arm_tree, path, value)
        configs[name] = _changed(arm_tree, changes, f"experiment.arms.{name}.")
        _check_dominance_share(configs[name], base, name)
    return configs


def _check_dominance_share(cfg: EcosimConfig, base: EcosimConfig, arm: str) -> None:
    """Refuse an arm with its own ``output.dominance_share``.

    The run directory holds one ``dominance.csv`` and one ``tipping_summary.csv`` for all arms,
    computed with one threshold, so every arm keeps the experiment's.
    """
    value, common = cfg.output.dominance_share, base.output.dominance_share
    require(value == common, f"experiment.arms.{arm}.output.dominance_share", value,
            f"arms share output.dominance_share (the experiment's is {common!r}: the tipping "
            f"files use one threshold); set it for the whole experiment")


def _changed(tree: dict[str, Any], changes: Sequence[Change], where: str) -> EcosimConfig:
    """The tree with ``changes`` applied, validated; errors name the arm."""
    try:
        cfg = load_config(tree)
        if not changes:
            return cfg
        tree = copy.deepcopy(tree)
        for keys, value, scale in changes:
            for key in keys:
                set_dotted(tree, key, get_dotted(cfg, key) * value if scale else value)
        return load_config(tree)
    except ConfigError as error:
        raise ConfigError(f"{where}{error.key}", error.value, error.allowed,
                          error.problem) from None
