"""Registration of the schema in Hydra's ConfigStore under the name ``ecosim`` (docs/design.md §8).

The node is stored as an *untyped* copy of the dataclass defaults, not as a structured config: Hydra
then composes a user's file (``defaults: [ecosim, _self_]``) without checking it against the
schema, and ``ecosim.config.load_config`` does every check with one-line messages. The node also
sets Hydra's output folders under ``results/`` and registers ecosim's sweep callback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from ecosim.config.schema import EcosimConfig

#: Name of the schema node; user files start with ``defaults: [ecosim, _self_]``.
SCHEMA_NAME = "ecosim"
#: The YAML shipped with the repository (an editable install finds it here).
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
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


def schema_node() -> DictConfig:
    """The stored node: the schema's defaults, untyped, plus the ``hydra`` block.

    Hydra closes the composed config (``struct``) before it applies the command line, so a key
    the YAML leaves out (``firms.bank.enters_at``) would need ``+``. The node's own blocks are
    marked open, and what the user's files put in them inherits that: every schema key can be
    set as ``firms.bank.marketing.budget=1e5``, and a misspelt key reaches ``load_config``,
    which reports it on one line.
    """
    node = OmegaConf.create(OmegaConf.to_container(OmegaConf.structured(EcosimConfig)))
    for name in node:
        if isinstance(node[name], DictConfig):
            OmegaConf.set_struct(node[name], False)
    node["hydra"] = HYDRA_DEFAULTS
    return node


def register_configs() -> None:
    """Store the schema node in Hydra's ConfigStore as ``ecosim`` (calling it again is harmless)."""
    ConfigStore.instance().store(name=SCHEMA_NAME, node=schema_node())
