"""The one-line configuration error and the small helpers that raise it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Longest ``repr`` of a value shown in a message (the rest is cut to ``...``).
SHOW_CHARS = 60
PROBABILITY = "expected a probability in [0, 1]"


def show(value: Any) -> str:
    """``repr(value)`` cut to ``SHOW_CHARS`` characters; always one line."""
    text = repr(value)
    return text if len(text) <= SHOW_CHARS else text[: SHOW_CHARS - 3] + "..."


class ConfigError(ValueError):
    """A configuration value that is not allowed, reported on one line.

    ``str(error)`` reads ``<full.dotted.key>: <value!r> is not allowed; <what is allowed>``, or
    ``<key>: <problem>; <what is allowed>`` when the problem is not the value itself (an unknown
    key, a missing parameter, an undeclared need). List items are keyed like ``events[0].step``.

    Attributes:
        key: Full dotted key of the offending node (empty for the root).
        value: The value found there (``None`` when it is missing).
        allowed: What would have been accepted.
        problem: What is wrong, when it is not simply the value.
    """

    def __init__(self, key: str, value: Any, allowed: str, problem: str | None = None) -> None:
        """Build the one-line message from its parts (see the class docstring)."""
        self.key = key
        self.value = value
        self.allowed = allowed
        self.problem = problem
        what = problem if problem is not None else f"{show(value)} is not allowed"
        super().__init__(f"{key or '<root>'}: {what}; {allowed}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the constructor's arguments (errors may cross process boundaries)."""
        return (type(self), (self.key, self.value, self.allowed, self.problem))


def require(ok: bool, key: str, value: Any, allowed: str) -> None:
    """Raise ``ConfigError(key, value, allowed)`` unless ``ok``."""
    if not ok:
        raise ConfigError(key, value, allowed)


def join_key(key: str, child: Any) -> str:
    """``key.child``, or ``child`` at the root."""
    return f"{key}.{child}" if key else str(child)


def list_names(names: Iterable[Any]) -> str:
    """``a, b, c`` for a message, or ``(none)``."""
    return ", ".join(str(name) for name in names) or "(none)"


def one_of(names: Iterable[Any]) -> str:
    """``expected one of a, b, c``."""
    return f"expected one of {list_names(names)}"
