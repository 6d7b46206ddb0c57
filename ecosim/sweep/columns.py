"""The job and parameter columns of collected tables, one Arrow type each across all jobs.

``ecosim.sweep.collect`` adds each swept key's value to every row of a job's tables. Typed from
one job alone, a key that a job lacks (a strategy block that is null in one job and set in
another), or any such column of a table without rows, would be of Arrow's null type in that
job and text or numbers in the next; the first job's schema could then not hold the later ones.
The type is therefore taken from every complete job's value at once: ints and floats give
floats, text and None give text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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


def with_typed_params(arrow: pa.Table, frame: pd.DataFrame, values: Mapping[str, Any],
                      types: Mapping[str, pa.DataType]) -> pa.Table:
    """``arrow`` (a job's table with its job and parameter columns) with those of ``types``.

    Args:
        arrow: the job's rows with ``job`` and the parameter columns in front.
        frame: the job's rows as read, without them (to know which parameter was renamed
            ``param.KEY`` because the table has a column ``KEY``).
        values: the job's parameter values, and its name under ``job``.
        types: ``param_types`` of the sweep (``job`` among them).
    """
    for key, type_ in types.items():
        name = key if key == "job" or key not in frame.columns else f"param.{key}"
        index = arrow.schema.get_field_index(name)
        if index >= 0:
            arrow = arrow.set_column(index, name,
                                     pa.array([values.get(key)] * arrow.num_rows, type=type_))
    return arrow
