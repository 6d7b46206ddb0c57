"""First pass of validation: the user's tree against the schema's types.

``check_structure`` walks a plain tree beside the schema's type hints and reports unknown keys,
wrong types and malformed distribution specs with their exact dotted key (omegaconf's own
``full_key`` loses list indices and some nested keys). It returns the tree with scalars converted
the way YAML and the command line spell them (``"1e5"`` → 100000.0, ``"yes"`` → True), ready to be
merged into ``OmegaConf.structured(EcosimConfig)``.

Distribution specs: a spec that names another family than the default at its position replaces
that default; one that names the same family, or none, updates the default's parameters. Setting
a parameter of another family is an error. Hydra composes the user's file on top of the stored
defaults, so ``{dist: beta, a: 2, b: 8}`` over a default ``{dist: fixed, value: 0.5}`` arrives as
``{dist: beta, value: 0.5, a: 2, b: 8}``: a foreign parameter equal to the default's is taken for
such a leftover and dropped.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, Union

from ecosim.config.errors import ConfigError, join_key, list_names, one_of, require, show
from ecosim.config.schema import DIST_PARAMS, DistSpec

_BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
_SCALARS = {
    int: "expected an integer",
    float: "expected a number",
    bool: "expected true or false",
    str: "expected a string",
}


@cache
def field_types(cls: type) -> dict[str, Any]:
    """Resolved type hints of a schema dataclass, by field name, in declaration order."""
    return typing.get_type_hints(cls)


def describe(tp: Any) -> str:
    """What a value of type ``tp`` should look like, for a message."""
    if tp is DistSpec:
        return "expected a distribution spec such as {dist: beta, a: 2, b: 8}"
    if dataclasses.is_dataclass(tp):
        return f"expected a mapping with keys {list_names(field_types(tp))}"
    origin = typing.get_origin(tp)
    if origin is dict:
        return "expected a mapping from names to entries"
    if origin is list:
        return "expected a list"
    return _SCALARS.get(tp, f"expected {tp}")


def check_structure(value: Any, tp: Any, default: Any, key: str) -> Any:
    """Check ``value`` against type ``tp``; return it with its scalars converted.

    Args:
        value: Plain data (mappings, lists, scalars) from the user.
        tp: The schema type at this position (a dataclass, ``dict[str, X]``, ``list[X]``, ...).
        default: What the schema holds here, or ``None``; used for distribution specs.
        key: Full dotted key of ``value``, for messages.

    Returns:
        A copy of ``value`` with scalars converted and distribution specs normalised (the
        parameters of other families set to ``None``).

    Raises:
        ConfigError: At the first unknown key or wrongly typed value.
    """
    if tp is Any:
        return value
    if typing.get_origin(tp) in (Union, types.UnionType):  # X | None
        if value is None:
            return None
        tp = next(arg for arg in typing.get_args(tp) if arg is not type(None))
    if tp is DistSpec:
        default = default if isinstance(default, DistSpec) else DistSpec()
        return _check_dist_spec(value, default, key)
    if dataclasses.is_dataclass(tp):
        require(isinstance(value, Mapping), key, value, describe(tp))
        hints = field_types(tp)
        default = default if isinstance(default, tp) else tp()
        out = {}
        for name, item in value.items():
            if name not in hints:
                raise ConfigError(
                    join_key(key, name),
                    item,
                    f"allowed keys{' of ' + key if key else ''}: {list_names(hints)}",
                    problem=f"unknown key (set to {show(item)})",
                )
            where = join_key(key, name)
            out[name] = check_structure(item, hints[name], getattr(default, name), where)
        return out
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is dict:
        require(isinstance(value, Mapping), key, value, describe(tp))
        defaults = default if isinstance(default, dict) else {}
        out = {}
        for name, item in value.items():
            require(isinstance(name, str), join_key(key, name), name, "expected a name (a string)")
            out[name] = check_structure(item, args[1], defaults.get(name), join_key(key, name))
        return out
    if origin is list:
        require(isinstance(value, (list, tuple)), key, value, describe(tp))
        return [check_structure(item, args[0], None, f"{key}[{i}]") for i, item in enumerate(value)]
    return _convert_scalar(value, tp, key)


def _convert_scalar(value: Any, tp: Any, key: str) -> Any:
    if tp is bool:
        word = value.lower() if isinstance(value, str) else None
        if isinstance(value, bool) or word in _BOOL_WORDS:
            return _BOOL_WORDS.get(word, value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp in (int, float) and not isinstance(value, bool):
        number = _parse_number(value, tp)
        if tp is int and number is not None:
            return number
        if tp is float and number is not None:
            require(math.isfinite(number), key, value, "expected a finite number")
            return float(number)
    raise ConfigError(key, value, describe(tp))


def _parse_number(value: Any, tp: type) -> int | float | None:
    """``tp`` from a number or its spelling; an integer may be spelled ``1e5`` or ``3.0``."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if tp is int and text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            return None
    if tp is int and isinstance(value, float):
        return int(value) if value.is_integer() else None
    return value if isinstance(value, (int, float)) else None


def _check_dist_spec(value: Any, default: DistSpec, key: str) -> dict[str, Any]:
    require(isinstance(value, Mapping), key, value, describe(DistSpec))
    family = value.get("dist", default.dist)
    if "dist" in value:
        known = isinstance(family, str) and family in DIST_PARAMS
        require(known, join_key(key, "dist"), family, one_of(DIST_PARAMS))
    params = DIST_PARAMS[family]
    out: dict[str, Any] = {"dist": family}
    for name, item in value.items():
        if name == "dist":
            continue
        if name not in params:
            leftover = family != default.dist and item == getattr(default, name, object())
            if item is None or leftover:
                continue
            allowed = f"dist {family} takes {list_names(params)}"
            raise ConfigError(join_key(key, name), item, allowed)
        out[name] = None if item is None else _convert_scalar(item, float, join_key(key, name))
    for field in dataclasses.fields(DistSpec):  # clear the default's parameters of other families
        if field.name not in params and field.name != "dist":
            out[field.name] = None
    return out


def build(tp: Any, value: Any, default: Any) -> Any:
    """The schema objects of a tree that ``check_structure`` returned, over the defaults.

    What ``OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(tp), value))`` gives, a
    hundred times faster: a dataclass takes each field from ``value`` where it has one and from
    ``default`` (or the schema's default) otherwise; a mapping updates its default's entries; a
    list replaces its default; an integer where a float is declared becomes a float.
    """
    if tp is Any:
        return copy.deepcopy(value)
    if typing.get_origin(tp) in (Union, types.UnionType):  # X | None
        if value is None:
            return None
        tp = next(arg for arg in typing.get_args(tp) if arg is not type(None))
    if dataclasses.is_dataclass(tp):
        base = default if isinstance(default, tp) else tp()
        hints = field_types(tp)
        return tp(**{f.name: build(hints[f.name], value[f.name], getattr(base, f.name))
                     if f.name in value else copy.deepcopy(getattr(base, f.name))
                     for f in dataclasses.fields(tp)})
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is dict:
        out = copy.deepcopy(default) if isinstance(default, dict) else {}
        for name, item in value.items():
            out[name] = build(args[1], item, out.get(name))
        return out
    if origin is list:
        return [build(args[0], item, None) for item in value]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
