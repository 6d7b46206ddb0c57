"""The job and parameter columns of collected tables, one Arrow type each across all jobs.

``ecosim.sweep.collect`` adds each swept key's value to every row of a job's tables. Typed from
one job alone, a key that a job lacks (a strategy block that is null in one job and set in
another), or any such column of a table without rows, would be of Arrow's null type in that
job and text or numbers in the next; the first job's schema could then not hold the later ones.
The type is therefore taken from every complete job's value at once: ints and floats give
floats, text and None give text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa


def param_types(values: Iterable[Mapping[str, Any]], params: Iterable[str]) -> dict[
        str, pa.DataType]:
    """The Arrow type of each parameter column, from the values of the jobs that contribute rows.

    Keys whose values mix kinds Arrow cannot hold in one column (text and numbers) are left
    out: each job then keeps its own type, and the collector reports a job that does not fit.
    """
    values = list(values)
    types = {}
    for key in params:
        try:
            types[key] = pa.array([value.get(key) for value in values]).type
        except (pa.ArrowException, ValueError, TypeError):
            continue
    return types


def job_table(frame: pd.DataFrame, values: Mapping[str, Any],
              types: Mapping[str, pa.DataType]) -> pa.Table:
    """A job's rows as an Arrow table, with its job and parameter columns in front.

    Args:
        frame: the job's rows as read.
        values: the job's name under ``job``, then its parameter values; a parameter named like
            a column of ``frame`` is written ``param.KEY``.
        types: ``param_types`` of the sweep (``job`` among them); a key it lacks is typed as
            pandas types its value.

    The table, its pandas metadata included, is what converting ``frame`` with those columns
    added in pandas gives; the constant columns are made in Arrow, not from a Python list of
    their value per row (a row group of a million rows: 0.6 s of lists).
    """
    rows = pa.Table.from_pandas(frame, preserve_index=False)
    names = [key if key == "job" or key not in frame.columns else f"param.{key}"
             for key in values]
    one = min(rows.num_rows, 1)  # without rows, pandas types a column from no value
    head = pa.Table.from_pandas(pd.DataFrame({name: [value] * one for name, value
                                              in zip(names, values.values(), strict=True)}),
                                preserve_index=False)
    first = pa.array(np.zeros(rows.num_rows, np.int64))  # the one value, on every row
    columns = [(pa.array([values[key]] * one, types[key]) if key in types
                else head.column(name).combine_chunks()).take(first)
               for name, key in zip(names, values, strict=True)]
    metadata = rows.schema.pandas_metadata
    metadata["columns"] = head.schema.pandas_metadata["columns"] + metadata["columns"]
    schema = pa.schema([*(pa.field(name, column.type) for name, column
                          in zip(names, columns, strict=True)), *rows.schema],
                       metadata={b"pandas": json.dumps(metadata).encode()})
    return pa.Table.from_arrays([*columns, *rows.columns], schema=schema)
