"""The decision log of a run (``decisions.parquet``): one row per change a firm made to itself.

Columns: ``arm``, ``replication``, ``step`` (the step the change took effect), ``firm``,
``rule`` (pricing, allocation, response, portfolio), ``key`` (the dotted config key changed, or
``units.<need>`` for a launch or a closure), ``old`` and ``new`` (its values; 1 = open, 0 =
closed for a unit) and ``reason`` (why, with the numbers the firm observed). A run in which no
firm decides gets the same columns and no rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pandas as pd

#: The columns of ``decisions.parquet``, in order.
DECISION_COLUMNS = ("arm", "replication", "step", "firm", "rule", "key", "old", "new", "reason")
_DTYPES = {"arm": "object", "replication": "int64", "step": "int64", "firm": "object",
           "rule": "object", "key": "object", "old": "float64", "new": "float64",
           "reason": "object"}


def decisions_table(decisions: Sequence[Any], arm: str, replication: int) -> pd.DataFrame:
    """The decisions of one replication (``ecosim.agents.strategies.Decision`` rows)."""
    rows = [{"arm": arm, "replication": replication, **dataclasses.asdict(d)}
            for d in decisions]
    frame = pd.DataFrame(rows, columns=list(DECISION_COLUMNS))
    return frame.astype(_DTYPES)


def concat_decisions(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The logs of several replications or arms as one (empty frames are skipped)."""
    full = [frame for frame in frames if len(frame)]
    if not full:
        return decisions_table([], "", 0)
    return pd.concat(full, ignore_index=True)
