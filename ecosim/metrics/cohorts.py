"""Cohort retention, built step by step (``cohort_retention``, docs/design.md §4).

A firm's cohort ``c`` is the customers it acquired in step ``c`` (cohort 0: those it had at the
start, whose earlier tenure is unknown). As each step ends the model knows, per firm and cohort
so far, how many of the cohort are still in an unbroken relationship and the margin they brought
in the step. ``CohortRows`` turns that into the step's rows of the table, one per (firm, cohort)
with customers acquired, and keeps only what later rows need: each cohort's size and its
discounted margin so far, firms × steps numbers. The whole table is a triangle, firms × steps²/2
rows (67 million at 3 650 daily steps and 10 firms), so the ``ecosim`` command writes it to
Parquet as the run plays (``CohortLog``) instead of holding it; a model without a cohort sink
keeps the triangle in its history (small runs, tests) and ``cohort_retention`` builds the same
table from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ecosim.metrics import parquet_stream
from ecosim.metrics.parquet_stream import ParquetStream
from ecosim.metrics.tables import HistoryLike, _tag, whole

if TYPE_CHECKING:
    from ecosim.config import EcosimConfig

#: The file of the output contract.
FILE = "cohort_retention.parquet"
#: Rows gathered before a row group is written: 1 048 576, 60 MB of values. Large, because a
#: row group is sorted by firm, cohort and age, and the longer a cohort's run of ages in it the
#: better it compresses (a dead cohort repeats its numbers): 141 MB for the 67 million rows of
#: 3 650 steps and 10 firms, against 516 MB in step order.
ROW_GROUP_ROWS = 1 << 20
#: The columns after ``arm`` and ``replication``.
COLUMNS = ("firm", "cohort", "age", "acquired", "alive", "alive_frac",
           "cum_margin_per_acquired")
#: What the model hands a cohort sink as each step ends (step 0: the initial customers):
#: ``(step, alive, contribution)``, both [firm, cohort 0..step], market customers and money.
CohortSink = Callable[[int, np.ndarray, np.ndarray], None]


class CohortRows:
    """The rows of ``cohort_retention`` of one replication, step by step.

    Args:
        firms: the firms' names in index order.
        horizon: the last step.
        discount_rate: per step; discounts a cohort's margin to its acquisition step.
    """

    def __init__(self, firms: Sequence[str], horizon: int, discount_rate: float) -> None:
        self.n_firms = len(firms)
        self.acquired = np.zeros((self.n_firms, horizon + 1))  # [f, c] customers
        self.margin = np.zeros((self.n_firms, horizon + 1))  # [f, c] discounted margin so far
        self.discount = (1.0 + discount_rate) ** np.arange(horizon + 1)  # by age, computed once
        self.step = -1

    def add(self, step: int, alive: np.ndarray, contribution: np.ndarray) -> dict[str, np.ndarray]:
        """The rows of ``step``: one per (firm, cohort 0..step) that acquired anyone.

        Args:
            step: the step that ended; steps come in order from 0.
            alive: [firm, cohort 0..step] customers of each cohort still unbroken.
            contribution: [firm, cohort 0..step] gross margin - losses - partner fees of each
                cohort in the step (market money).

        Returns:
            The columns of ``COLUMNS``, firm by firm, cohorts in order; ``firm`` is the firm's
            index (``cohort_frame`` names it).
        """
        if step != self.step + 1:
            raise ValueError(f"step {step}: cohort rows come step by step; expected "
                             f"{self.step + 1}")
        expected = (self.n_firms, step + 1)
        if alive.shape != expected or contribution.shape != expected:
            raise ValueError(f"step {step}: cohorts of shape {alive.shape}; expected {expected}"
                             " (firms, cohorts 0..step)")
        self.step = step
        self.acquired[:, step] = alive[:, step]  # a cohort's size is its count at age 0
        # cohort c is of age step - c: the discount factors of ages step .. 0
        self.margin[:, :step + 1] += contribution / self.discount[step::-1]
        acquired = self.acquired[:, :step + 1]
        firm, cohort = np.nonzero(acquired != 0)
        size = acquired[firm, cohort]
        left = alive[firm, cohort]
        return {"firm": firm, "cohort": cohort, "age": step - cohort,
                "acquired": whole(size), "alive": whole(left), "alive_frac": left / size,
                "cum_margin_per_acquired": self.margin[firm, cohort] / size}


def cohort_frame(steps: list[dict[str, np.ndarray]], firms: Sequence[str], arm: str,
                 replication: int) -> pd.DataFrame:
    """The table's rows of consecutive steps of one replication (``CohortRows.add``'s).

    Sorted by firm (in index order), cohort and age: all of a cohort's ages in these steps
    follow one another.
    """
    floats = ("alive_frac", "cum_margin_per_acquired")
    columns = {column: np.concatenate([rows[column] for rows in steps]) if steps
               else np.zeros(0, float if column in floats else np.int64) for column in COLUMNS}
    # each (firm, cohort) comes once a step, steps in order: a stable sort keeps ages in order
    order = np.argsort(columns["firm"] * (columns["cohort"].max(initial=0) + 1)
                       + columns["cohort"], kind="stable")
    frame = pd.DataFrame({column: values[order] for column, values in columns.items()})
    frame["firm"] = np.asarray(list(firms), dtype=object)[frame["firm"].to_numpy()]
    frame["firm"] = frame["firm"].astype(str)
    return _tag(frame, arm, replication)


def cohort_retention(h: HistoryLike, firms: list[str], discount_rate: float, arm: str = "base",
                     replication: int = 0) -> pd.DataFrame:
    """One row per (firm, cohort, age): survival of unbroken relationships and realized LTV.

    Built from the cohort triangle a model without a cohort sink keeps (``h.cohort_alive``,
    ``h.cohort_contribution``), as ``CohortLog`` would stream it in one row group: sorted by
    firm, cohort and age. ``alive_frac`` is 1 at age 0 and
    ``cum_margin_per_acquired`` is the cohort's realized LTV so far (its margin discounted to
    its acquisition step, per customer acquired).
    """
    n = h.cohort_alive.shape[0]
    rows = CohortRows(firms, n - 1, discount_rate)
    steps = [rows.add(step, h.cohort_alive[step, :, :step + 1],
                      h.cohort_contribution[step, :, :step + 1]) for step in range(n)]
    return cohort_frame(steps, firms, arm, replication)


class CohortLog(ParquetStream):
    """``cohort_retention.parquet`` of one run, written row group by row group as it plays.

    Holds each replication's ``CohortRows`` (firms × steps numbers) and at most
    ``row_group_rows`` rows plus one step's.

    Args:
        out_dir: the run directory (created if needed).
        labels: per arm, in run order: its firms in index order, its horizon and its discount
            rate per step.
        row_group_rows: rows gathered before a row group is written.
    """

    def __init__(self, out_dir: str | Path,
                 labels: Mapping[str, tuple[list[str], int, float]],
                 row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self.labels = dict(labels)
        sample = CohortRows(["firm"], 0, 0.0).add(0, np.ones((1, 1)), np.zeros((1, 1)))
        schema = pa.Schema.from_pandas(cohort_frame([sample], ["firm"], "arm", 0),
                                       preserve_index=False)
        super().__init__(out_dir, FILE, "cohort_retention", schema, row_group_rows)

    @classmethod
    def for_configs(cls, out_dir: str | Path, configs: Mapping[str, EcosimConfig],
                    row_group_rows: int = ROW_GROUP_ROWS) -> CohortLog:
        """The cohort table of these arms (every arm has one)."""
        return cls(out_dir, {arm: (list(cfg.firms), cfg.time.horizon, cfg.time.discount_rate)
                             for arm, cfg in configs.items()}, row_group_rows)

    def sink(self, arm: str, replication: int) -> CohortSink:
        """What the model of ``arm``'s replication hands each step's cohorts to."""
        firms, horizon, discount_rate = self.labels[arm]
        rows = CohortRows(firms, horizon, discount_rate)

        def write(step: int, alive: np.ndarray, contribution: np.ndarray) -> None:
            step_rows = rows.add(step, alive, contribution)
            self._add(arm, replication, step_rows, len(step_rows["cohort"]))

        return write

    def _frame(self, steps: list[dict[str, np.ndarray]], arm: str,
               replication: int) -> pd.DataFrame:
        return cohort_frame(steps, self.labels[arm][0], arm, replication)


def partial_path(out_dir: str | Path) -> Path:
    """Where a run writes its cohort table before it is complete."""
    return parquet_stream.partial_path(out_dir, FILE)


def publish(streamed: str | Path, out_dir: str | Path) -> Path:
    """``out_dir/cohort_retention.parquet`` from a finished ``CohortLog``'s file."""
    return parquet_stream.publish(streamed, out_dir, FILE)


def read_cohorts(source: pd.DataFrame | str | Path, cohorts: Sequence[int] | None = None
                 ) -> pd.DataFrame:
    """The rows of ``cohorts`` (all when None) of a cohort table in memory or in a file.

    A file is read batch by batch and filtered as it goes, so drawing a few cohorts' curves
    of a long run holds those rows and one batch, never the triangle.
    """
    if isinstance(source, pd.DataFrame):
        return source if cohorts is None else \
            source[source["cohort"].isin(list(cohorts))].reset_index(drop=True)
    if cohorts is None:
        return pd.read_parquet(source)
    wanted = pa.array([int(c) for c in cohorts], pa.int64())
    table, _ = parquet_stream.read_rows(
        source, lambda batch: pc.is_in(batch["cohort"], value_set=wanted))
    return table.to_pandas()
