"""Checked reading of the columns a fit needs: every refusal names the column and the row."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd


def where(table: pd.DataFrame, label: Hashable) -> str:
    """Where a row is, for a message: ``customer 7`` in an indexed table, else ``row 3``.

    Rows count from 1 after the header, as in a spreadsheet of the CSV (``--where`` keeps the
    numbers of the rows it keeps).
    """
    if table.index.name is not None:
        return f"{table.index.name} {label}"
    if isinstance(label, int | np.integer):
        return f"row {int(label) + 1}"
    return f"row {label}"


def require_columns(table: pd.DataFrame, columns: dict[str, str]) -> None:
    """Refuse a table that lacks one of ``columns`` (column -> what it holds)."""
    for column, what in columns.items():
        if column not in table.columns:
            present = ", ".join(map(str, table.columns)) or "(none)"
            raise ValueError(f"no column {column!r} ({what}) in the table; its columns are "
                             f"{present}")


def numbers(table: pd.DataFrame, column: str, what: str, integer: bool = False,
            minimum: float | None = None) -> np.ndarray:
    """The column as floats, refusing text, blanks, fractions (``integer``) and small values.

    Args:
        table: the data.
        column: the column read.
        what: what it holds, for messages (``"active customers"``).
        integer: require whole numbers.
        minimum: the smallest value allowed.

    Raises:
        ValueError: ``column 'alive' (active customers): 'n/a' in row 4 is not a number``, and
            the like.
    """
    require_columns(table, {column: what})
    raw = table[column]
    values = pd.to_numeric(raw, errors="coerce")
    if pd.api.types.is_bool_dtype(raw):
        values = values.astype(float)
    head = f"column {column!r} ({what}):"
    blank = raw.isna() | raw.astype(str).str.strip().eq("")
    if blank.any():
        label = raw.index[int(np.argmax(blank.to_numpy()))]
        raise ValueError(f"{head} blank in {where(table, label)}; every row needs a value")
    text = values.isna()
    if text.any():
        label = raw.index[int(np.argmax(text.to_numpy()))]
        raise ValueError(f"{head} {raw[label]!r} in {where(table, label)} is not a number")
    array = values.to_numpy(float)
    infinite = ~np.isfinite(array)
    if infinite.any():
        label = raw.index[int(np.argmax(infinite))]
        raise ValueError(f"{head} {array[np.argmax(infinite)]} in {where(table, label)} is not "
                         f"a finite number")
    if minimum is not None and (array < minimum).any():
        i = int(np.argmax(array < minimum))
        raise ValueError(f"{head} {array[i]:g} in {where(table, raw.index[i])} is below "
                         f"{minimum:g}; expected >= {minimum:g}")
    if integer and (array != np.round(array)).any():
        i = int(np.argmax(array != np.round(array)))
        raise ValueError(f"{head} {array[i]:g} in {where(table, raw.index[i])} is not a whole "
                         f"number; expected counts")
    return array
