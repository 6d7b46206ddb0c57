"""Experiments: expanding a config's arms into one validated config per arm.

An arm is a mapping of dotted keys to values (``firms.bank.brand: group``) applied to the
experiment's own config. Each arm is validated like any config, before anything runs, and an
error names the arm: ``experiment.arms.umbrella.firms.bank.brand: ...``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

from ecosim.config.errors import ConfigError
from ecosim.config.paths import set_dotted
from ecosim.config.schema import EcosimConfig
from ecosim.config.validate import load_config, user_tree

#: The arm every config has when it declares no experiment.
SINGLE_ARM = "base"


def arm_configs(raw: DictConfig | Mapping[str, Any]) -> dict[str, EcosimConfig]:
    """One validated config per arm, in the order declared (the first is the baseline).

    A config without ``experiment.arms`` gives the single arm ``base``. Raises ``ConfigError``
    (one line) for the first invalid arm.
    """
    base = load_config(raw)
    if not base.experiment.arms:
        return {SINGLE_ARM: base}
    tree = user_tree(raw)
    configs = {}
    for name, overrides in base.experiment.arms.items():
        arm_tree = copy.deepcopy(tree)
        for path, value in overrides.items():
            set_dotted(arm_tree, path, value)
        try:
            configs[name] = load_config(arm_tree)
        except ConfigError as error:
            raise ConfigError(f"experiment.arms.{name}.{error.key}", error.value, error.allowed,
                              error.problem) from None
    return configs
