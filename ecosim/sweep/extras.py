"""The optional files of a run, gathered across the jobs of a sweep (``ecosim.sweep.collect``).

Beyond the tables of the output contract, a run directory holds files that later versions of
ecosim added: what deciding firms decided (``decisions.parquet``, ``ecosim.metrics.decisions``)
and the tipping diagnostics of marketplaces (``tipping.parquet``, ``sellers.parquet``,
``dominance.csv``, ``tipping_summary.csv``, ``ecosim.metrics.tipping``). A job written before a
file existed lacks it and is still complete: an absent file means no rows from that job. A
present file must be readable and hold its key columns, like any table of the run.

Parquet files are gathered into Parquet, CSV files into CSV (they are per-arm summaries, read as
``summary.csv`` is). Jobs' Parquet schemas are unified, not cast to the first job's: a table with
no rows has columns of Arrow's null type (pandas writes an empty text column so), which take the
type of another job's rows in either order; numbers widen (int to float). Types that cannot be
unified (text in one job, numbers in another) make the later job's file not fit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

#: The optional files of a run and the columns each must hold (file name -> key columns).
OPTIONAL_FILES: dict[str, tuple[str, ...]] = {
    "decisions.parquet": ("arm", "replication"),
    "tipping.parquet": ("arm", "replication"),
    "sellers.parquet": ("arm", "replication"),
    "dominance.csv": ("arm", "replication", "need"),
    "tipping_summary.csv": ("arm", "need"),
}
#: Arrow's promotion of one job's schema to another's: null to any type, int to float, ...
PROMOTION = "permissive"


class ExtraFileError(ValueError):
    """An optional file that is not a table of a run, or whose columns do not fit other jobs'."""


def read_extras(job_dir: Path, read: Callable[[Path, Callable[[Path], Any]], Any],
                names: Iterable[str] = OPTIONAL_FILES) -> dict[str, pd.DataFrame]:
    """The optional files a job holds, by file name (absent ones are left out).

    Args:
        job_dir: the job's directory.
        read: ``read(path, reader)`` returns ``reader(path)`` or raises the caller's error
            naming the file when it cannot be read.
        names: which files of ``OPTIONAL_FILES`` to read.

    Raises:
        ExtraFileError: a file lacks one of its key columns.
    """
    frames = {}
    for name in names:
        path = job_dir / name
        if not path.is_file():
            continue
        frame = read(path, pd.read_parquet if name.endswith(".parquet") else pd.read_csv)
        absent = [column for column in OPTIONAL_FILES[name] if column not in frame.columns]
        if absent:
            raise ExtraFileError(f"{name}: not a table of a run (no {absent[0]!r} column)")
        frames[name] = frame
    return frames


class Gathered:
    """Each optional file's rows from the complete jobs so far, in job order."""

    def __init__(self) -> None:
        self.parts: dict[str, list[Any]] = {}  # file name -> arrow tables or data frames
        self.schemas: dict[str, pa.Schema] = {}  # parquet file name -> unified schema so far

    def fit(self, frames: Mapping[str, pd.DataFrame | pa.Table]) -> dict[str, Any]:
        """A job's files ready to add: Parquet ones as Arrow tables that unify with the others.

        Args:
            frames: the job's files by name (``read_extras``, with the job's columns added);
                Parquet ones may already be Arrow tables.

        Raises:
            ExtraFileError: a table's column types cannot be unified with the other jobs'.
        """
        fitted: dict[str, Any] = {}
        for name, frame in frames.items():
            if not name.endswith(".parquet"):
                fitted[name] = frame
                continue
            arrow = (frame if isinstance(frame, pa.Table)
                     else pa.Table.from_pandas(frame, preserve_index=False))
            arrow = arrow.replace_schema_metadata(None)  # pandas' dtypes of one job only
            if name in self.schemas:
                try:
                    pa.unify_schemas([self.schemas[name], arrow.schema],
                                     promote_options=PROMOTION)
                except (pa.ArrowException, ValueError, TypeError) as error:
                    raise ExtraFileError(f"{name}: its columns do not fit the other jobs' "
                                         f"({error})") from error
            fitted[name] = arrow
        return fitted

    def add(self, fitted: Mapping[str, Any]) -> None:
        """Keep a job's files (from ``fit``)."""
        for name, part in fitted.items():
            self.parts.setdefault(name, []).append(part)
            if isinstance(part, pa.Table):
                self.schemas[name] = (pa.unify_schemas([self.schemas[name], part.schema],
                                                       promote_options=PROMOTION)
                                      if name in self.schemas else part.schema)

    def write(self, out: Path, write: Callable[[Path, Callable[[Path], Any]], None]) -> list[str]:
        """Write each gathered file into ``out`` under its own name; remove the others there.

        Args:
            out: the collected directory.
            write: ``write(path, writer)`` writes atomically (``ecosim.experiment.atomic_write``).

        Returns:
            The names written, without extension (``decisions``, ``dominance``, ...).
        """
        written = []
        for name in OPTIONAL_FILES:
            parts = self.parts.get(name)
            if not parts:  # no complete job has it: a file collected earlier would mislead
                (out / name).unlink(missing_ok=True)
                continue
            if name.endswith(".parquet"):
                table = pa.concat_tables(parts, promote_options=PROMOTION)
                write(out / name, lambda p, t=table: pq.write_table(t, p))
            else:
                full = [frame for frame in parts if len(frame)]  # empty ones only give columns
                frame = pd.concat(full, ignore_index=True) if full else parts[0]
                write(out / name, lambda p, f=frame: f.to_csv(p, index=False))
            written.append(name.rsplit(".", 1)[0])
        return written
