"""Command-line overrides with the meaning the README gives them, where Hydra's differs.

Hydra merges an override into the composed tree: ``x.openness={dist: uniform, low: 0, high: 1}``
over a YAML ``{dist: beta, a: 2, b: 8}`` gives ``{dist: uniform, a: 2, b: 8, low: 0, high: 1}``,
and ``customers.segments={}`` changes nothing. Two rules restore what the user wrote:

- an override that sets ``dist`` (``x.openness={dist: ...}`` or ``x.openness.dist=...``)
  replaces the whole spec: it keeps only what the command line sets in it;
- an override that sets a collection (segments, needs, firms, offerings, ...) to ``{}``
  empties it: it keeps only what other overrides set in it.

``replace_from_command_line`` applies them to the user's plain tree, knowing the overrides from
``hydra.overrides.task`` (a job's own overrides, in a sweep too). The composed values are used,
so interpolations and Hydra's parsing stay as they were. Nothing is parsed when no override
mentions ``dist`` or ``{}``, so validation stays fast.

The stored schema node (``ecosim.config.store``) also leaves the user's blocks open (not
``struct``): ``firms.bank.enters_at=2`` sets a schema key the YAML leaves out without ``+``, and
a typo reaches ``load_config``, which names it on one line.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from ecosim.config.paths import get_dotted, set_dotted
from ecosim.config.schema import DistSpec, EcosimConfig
from ecosim.config.structure import field_types

#: Blocks of the tree that Hydra owns; overrides of them are not ecosim's.
HYDRA_ROOTS = ("hydra",)


def schema_type(path: str) -> Any:
    """The schema type at a dotted path (names inside collections are any name), or ``None``."""
    tp: Any = EcosimConfig
    for part in path.split("."):
        if typing.get_origin(tp) in (typing.Union, types.UnionType):  # X | None
            tp = next(arg for arg in typing.get_args(tp) if arg is not type(None))
        if tp is DistSpec:
            return float if part in {f.name for f in dataclasses.fields(DistSpec)} else None
        if dataclasses.is_dataclass(tp):
            tp = field_types(tp).get(part)
            if tp is None:
                return None
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    return tp


def _leaves(path: str, value: Any) -> list[str]:
    """Dotted paths of the scalars (and lists) an override's value sets."""
    if isinstance(value, Mapping) and value:
        return [leaf for name, item in value.items() for leaf in _leaves(f"{path}.{name}", item)]
    return [path]


def replace_from_command_line(tree: dict[str, Any], overrides: Sequence[str]) -> None:
    """Apply the two rules of the module docstring to ``tree`` (changed in place).

    Args:
        tree: The composed user tree, plain data, Hydra's keys dropped.
        overrides: The command-line overrides of this run or job (``hydra.overrides.task``).
    """
    if not any("dist" in text or "{}" in text for text in overrides):
        return
    written, replaced = _plan(tuple(overrides))
    for node in replaced:
        fresh: dict[str, Any] = {}
        for leaf in written:
            if leaf.startswith(node + "."):
                try:
                    set_dotted(fresh, leaf[len(node) + 1:], get_dotted(tree, leaf))
                except (KeyError, AttributeError, TypeError):
                    continue  # deleted again by a later override
        set_dotted(tree, node, fresh)


@functools.lru_cache(maxsize=64)
def _plan(overrides: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Leaf paths the overrides set, and the nodes to rebuild from them (outer nodes first).

    Cached: an experiment validates the same overrides once per arm, and Hydra's parser takes
    tens of milliseconds.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    written: list[str] = []  # leaf paths the command line sets
    replaced: list[str] = []  # specs and collections to rebuild from those leaves
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.key_or_group
        if (override.is_delete() or override.is_sweep_override() or "/" in key
                or key.split(".")[0] in HYDRA_ROOTS or schema_type(key) is None):
            continue
        value = override.value()
        leaves = _leaves(key, value)
        written += leaves
        replaced += [leaf.rsplit(".", 1)[0] for leaf in leaves
                     if leaf.endswith(".dist") and schema_type(leaf.rsplit(".", 1)[0]) is DistSpec]
        if value == {} and typing.get_origin(schema_type(key)) is dict:
            replaced.append(key)
    return written, sorted(set(replaced), key=lambda path: path.count("."))
