"""Dotted paths (``offerings.banking.price_index``) into configs: the one implementation.

Configs are nested dataclasses and dicts at run time (``EcosimConfig``, a firm's ``FirmConfig``)
and plain nested dicts before validation (a user's tree). ``OmegaConf.select``/``update`` only
work on ``DictConfig`` nodes, so these two helpers walk both kinds of node themselves.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, MutableMapping
from typing import Any


def get_dotted(target: Any, path: str) -> Any:
    """The value at ``a.b.c`` of nested dataclasses and mappings (a missing part raises)."""
    for part in path.split("."):
        target = target[part] if isinstance(target, Mapping) else getattr(target, part)
    return target


def set_dotted(target: Any, path: str, value: Any) -> None:
    """Set ``a.b.c`` of nested dataclasses and mappings to (a copy of) ``value``.

    A mapping on the way that lacks a part gets an empty dict there (so a plain tree grows the
    branches an override names); an attribute of a dataclass must exist. The value replaces what
    was there, it is not merged into it.
    """
    *parents, last = path.split(".")
    for part in parents:
        if isinstance(target, MutableMapping):
            child = target.get(part)
            if not (isinstance(child, Mapping) or dataclasses.is_dataclass(child)):
                child = target[part] = {}
            target = child
        else:
            target = getattr(target, part)
    value = copy.deepcopy(value)
    if isinstance(target, MutableMapping):
        target[last] = value
    else:
        setattr(target, last, value)
