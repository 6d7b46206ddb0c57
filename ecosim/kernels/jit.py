"""``scalar``: a jitted scalar helper compiled for exactly one signature, read from its annotations.

Numba compiles a called function once per distinct tuple of argument types, and a constant
argument (a stream number, a slot, ``0``) is typed as its own literal: ``stream_key`` alone was
compiled 19 times in the customer step, one per stream constant. Helpers called from many kernels
with constants therefore declare their signature: they are compiled once (when their module is
imported, or loaded from Numba's cache), and a call converts its arguments to it. They are not
inlined in Numba's IR: LLVM inlines them into their callers, with the same arithmetic.

Annotations: ``uint64``, ``int`` (int64), ``float`` (float64), ``bool``, as names (``from
__future__ import annotations``) or as the types themselves. Called from Python, a helper takes
only values its signature holds: a negative or too large value for a uint64 (or int64) argument
raises ``OverflowError`` instead of wrapping around (inside kernels, integers convert bit for
bit).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numba
from numba import njit

_TYPES = {"uint64": numba.uint64, "int": numba.int64, "float": numba.float64,
          "bool": numba.boolean}
_TYPES.update({int: numba.int64, float: numba.float64, bool: numba.boolean,
               numba.uint64: numba.uint64})


def signature_of(func: Callable[..., Any]) -> numba.core.typing.Signature:
    """The Numba signature ``func``'s annotations state (every argument and the return)."""
    hints = inspect.get_annotations(func)
    names = list(inspect.signature(func).parameters)
    try:
        return _TYPES[hints["return"]](*(_TYPES[hints[name]] for name in names))
    except KeyError as missing:
        raise TypeError(f"{func.__qualname__}: annotation {missing} is missing or not one of "
                        f"{sorted(name for name in _TYPES if isinstance(name, str))}") from None


def scalar(func: Callable[..., Any]) -> Any:
    """``njit`` for one signature, the one ``func``'s annotations state; cached on disk."""
    return njit(signature_of(func), cache=True)(func)
