"""The configs the page starts from: the default market, a shipped experiment, or a YAML file.

Each is composed as the ``ecosim`` command composes it (Hydra's compose API over ``conf/``) and
returned as the plain tree of values a user could write (``ecosim.config.validate.user_tree``):
the page edits that tree and validates it with the project's own ``load_config``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from ecosim.config import ConfigError, register_configs
from ecosim.config.store import CONF_DIR
from ecosim.config.validate import user_tree

#: Hydra keeps one global composition state per process: the page's tabs compose one at a time.
_HYDRA_LOCK = threading.Lock()

#: The kinds of source a page can start from.
SOURCE_KINDS = ("default market", "experiment", "config file")


@dataclass(frozen=True)
class Source:
    """Where a config comes from.

    Attributes:
        kind: one of ``SOURCE_KINDS``.
        name: the experiment's name (``conf/experiment/<name>.yaml``), the path of a config
            file, or empty for the default market.
    """

    kind: str
    name: str = ""

    def label(self) -> str:
        """A few words for the page and the run's metadata."""
        return self.kind if not self.name else f"{self.kind} {self.name}"


def experiment_names(conf_dir: Path = CONF_DIR) -> list[str]:
    """The experiments shipped in ``conf/experiment`` (sorted names, without ``.yaml``)."""
    return sorted(path.stem for path in (conf_dir / "experiment").glob("*.yaml"))


def load_source(source: Source) -> dict[str, Any]:
    """Compose a source into the plain tree of its values (not yet validated).

    Raises:
        ConfigError: an unknown kind or experiment, a missing file, or a file Hydra cannot
            compose (one line naming ``source``).
    """
    if source.kind == "default market":
        return _compose(CONF_DIR, "config", [])
    if source.kind == "experiment":
        names = experiment_names()
        if source.name not in names:
            raise ConfigError("experiment", source.name, f"expected one of {', '.join(names)}")
        return _compose(CONF_DIR, "config", [f"experiment={source.name}"])
    if source.kind == "config file":
        path = Path(source.name).expanduser()
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            raise ConfigError("config file", source.name, "expected the path of a YAML file "
                              "that starts with `defaults: [ecosim, _self_]`")
        return _compose(path.resolve().parent, path.stem, [])
    raise ConfigError("source", source.kind, f"expected one of {', '.join(SOURCE_KINDS)}")


def _compose(config_dir: Path, name: str, overrides: list[str]) -> dict[str, Any]:
    """``ecosim --config-dir DIR --config-name NAME OVERRIDES``'s config, as a plain tree."""
    with _HYDRA_LOCK:
        register_configs()
        try:
            with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
                raw = compose(name, overrides=overrides)
        except yaml.MarkedYAMLError as error:  # as the ecosim command says it: file:line:col
            mark = error.problem_mark or error.context_mark
            path = config_dir / f"{name}.yaml"
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            problem = " ".join(str(error.problem or error.context).split())
            raise ConfigError("config file", str(path), "expected valid YAML",
                              f"{where}: {problem}") from None
        except (HydraException, OmegaConfBaseException, yaml.YAMLError) as error:
            message = " ".join(str(error).split())
            raise ConfigError("config file", str(config_dir / f"{name}.yaml"),
                              "expected a config Hydra can compose", message) from None
    return user_tree(raw)
