"""Registration of the schema in Hydra's ConfigStore under the name ``ecosim`` (docs/design.md §8).

The node is stored as a *plain* dict of the dataclass defaults, not as a structured config: Hydra
then composes a user's file (``defaults: [ecosim, _self_]``) without checking it against the
schema, and ``ecosim.config.load_config`` does every check with one-line messages. The node also
sets Hydra's output folders under ``results/`` and registers ecosim's sweep callback.
"""

from __future__ import annotations

from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from ecosim.config.schema import EcosimConfig

#: Name of the schema node; user files start with ``defaults: [ecosim, _self_]``.
SCHEMA_NAME = "ecosim"
#: Hydra's output folders: one per run, and one per job of a sweep (``-m``).
HYDRA_DEFAULTS: dict[str, Any] = {
    "run": {"dir": "results/${now:%Y-%m-%d}/${now:%H-%M-%S}"},
    "sweep": {
        "dir": "results/multirun/${now:%Y-%m-%d}/${now:%H-%M-%S}",
        "subdir": "${hydra.job.num}",
    },
    # Warms numba's cache before the workers of a sweep start (ecosim.sweep.callbacks).
    "callbacks": {"ecosim": {"_target_": "ecosim.sweep.callbacks.SweepCallback"}},
}


def schema_node() -> dict[str, Any]:
    """The stored node: the schema's defaults as a plain dict, plus the ``hydra`` block."""
    node = OmegaConf.to_container(OmegaConf.structured(EcosimConfig))
    assert isinstance(node, dict)
    node["hydra"] = HYDRA_DEFAULTS
    return node


def register_configs() -> None:
    """Store the schema node in Hydra's ConfigStore as ``ecosim`` (calling it again is harmless)."""
    ConfigStore.instance().store(name=SCHEMA_NAME, node=schema_node())
