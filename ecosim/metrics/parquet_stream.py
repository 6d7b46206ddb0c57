"""A table of the run directory written to Parquet as the run plays, row group by row group.

Tables whose size grows faster than the market's state (the purchase log, the cohort triangle of
a long run) are never held whole: the model hands each step's rows to a sink, the stream
gathers them until it has ``row_group_rows`` rows and writes them as one Parquet row group (a
step with more rows is a row group of its own). It holds at most ``row_group_rows`` rows plus
one step's.

The file is written under a temporary name, ``<file>.partial``, in the run directory. ``close``
finishes it (the Parquet footer); ``publish`` renames it to its real name when the run writes its
other tables, before the completeness mark ``metadata.json``. A run that fails removes the
partial file (``abort``); a killed one leaves it under its partial name, never a file that looks
finished.

``read_rows`` reads such a file back keeping only the rows a caller wants, batch by batch.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecosim.metrics import tables

#: The suffix of a streamed file's name while the run writes it.
PARTIAL_SUFFIX = ".partial"


def partial_path(out_dir: str | Path, file: str) -> Path:
    """Where a run writes ``file`` before it is complete."""
    return Path(out_dir) / (file + PARTIAL_SUFFIX)


class ParquetStream:
    """One Parquet file of the run directory, written as the run plays.

    Subclasses say what a step's rows are (``write`` takes them as the model gives them) and
    turn a run of consecutive steps of one replication into a frame (``_frame``).

    Args:
        out_dir: the run directory (created if needed).
        file: the file's name in the output contract (``transactions.parquet``).
        table: the table's name in error messages (``tables.check_finite``).
        schema: the Arrow schema of every row group.
        row_group_rows: rows gathered before a row group is written.
    """

    def __init__(self, out_dir: str | Path, file: str, table: str, schema: pa.Schema,
                 row_group_rows: int) -> None:
        if row_group_rows < 1:
            raise ValueError(f"row_group_rows: {row_group_rows} is not allowed; expected >= 1")
        self.file, self.table, self.schema = file, table, schema
        self.row_group_rows = row_group_rows
        self.path = partial_path(out_dir, file)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # an earlier run's file must not pass for this one's while it runs
        (Path(out_dir) / file).unlink(missing_ok=True)
        self.writer: pq.ParquetWriter | None = pq.ParquetWriter(self.path, self.schema)
        self.pending: list[tuple[str, int, Any]] = []
        self.pending_rows = 0
        #: rows and row groups written so far
        self.rows = 0
        self.row_groups = 0

    def _add(self, arm: str, replication: int, step_rows: Any, n_rows: int) -> None:
        """Take one step's rows; write a row group once ``row_group_rows`` have gathered."""
        if n_rows:
            self.pending.append((arm, replication, step_rows))
            self.pending_rows += n_rows
        if self.pending_rows >= self.row_group_rows:
            self.flush()

    def _frame(self, steps: list[Any], arm: str, replication: int) -> pd.DataFrame:
        """The rows of consecutive steps of one replication, as the table's frame."""
        raise NotImplementedError

    def flush(self) -> None:
        """Write the gathered rows as one row group.

        Raises:
            tables.NonFiniteError: a value that must be finite is not (named).
        """
        if not self.pending:
            return
        if self.writer is None:
            raise ValueError(f"{self.path}: the stream is closed")
        parts, start = [], 0
        for end in range(1, len(self.pending) + 1):  # runs of steps of one replication
            if end == len(self.pending) or self.pending[end][:2] != self.pending[start][:2]:
                arm, replication, _ = self.pending[start]
                frame = self._frame([rows for _, _, rows in self.pending[start:end]], arm,
                                    replication)
                tables.check_finite(self.table, frame)
                parts.append(pa.Table.from_pandas(frame, schema=self.schema,
                                                  preserve_index=False))
                start = end
        table = pa.concat_tables(parts)
        self.writer.write_table(table, row_group_size=table.num_rows)
        self.rows += table.num_rows
        self.row_groups += 1
        self.pending, self.pending_rows = [], 0

    def close(self) -> Path:
        """Write what is gathered and the Parquet footer; the file keeps its partial name."""
        self.flush()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        return self.path

    def abort(self) -> None:
        """Close and remove the partial file (a run that failed)."""
        self.pending, self.pending_rows = [], 0
        try:
            if self.writer is not None:
                self.writer.close()
        finally:
            self.writer = None
            self.path.unlink(missing_ok=True)


def publish(streamed: str | Path, out_dir: str | Path, file: str) -> Path:
    """``out_dir/file`` from a finished stream (``ParquetStream.close``'s file).

    The partial file is renamed when it lies in ``out_dir``; otherwise it is copied there
    through a temporary name. Returns the published path.
    """
    source, target = Path(streamed), Path(out_dir) / file
    if source.resolve() == target.resolve():
        return target
    if source.parent.resolve() == target.parent.resolve():
        os.replace(source, target)
        return target
    tmp = target.with_name(f".{file}.tmp")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


#: Rows ``read_rows`` reads at a time.
READ_BATCH_ROWS = 1 << 16


def read_rows(path: str | Path, keep: Callable[[pa.RecordBatch], Any]
              ) -> tuple[pa.Table, np.ndarray]:
    """The rows of a Parquet file where ``keep(batch)`` is true, and their positions in the file.

    The file is read ``READ_BATCH_ROWS`` rows at a time and each batch filtered as it is read
    (``keep`` returns a boolean mask of the batch, NumPy or Arrow), so the peak is the rows kept
    and one batch, never the whole file: a few cohorts of a long run's 67-million-row cohort
    table, or one firm's rows for a fit.
    """
    file = pq.ParquetFile(path)
    parts, positions, offset = [], [], 0
    for batch in file.iter_batches(batch_size=READ_BATCH_ROWS):
        mask = keep(batch)
        if isinstance(mask, pa.Array):  # a missing value keeps nothing
            mask = mask.fill_null(False).to_numpy(zero_copy_only=False)
        mask = np.asarray(mask, dtype=bool)
        parts.append(batch.filter(pa.array(mask)))
        positions.append(offset + np.flatnonzero(mask))
        offset += batch.num_rows
    return (pa.Table.from_batches(parts, schema=file.schema_arrow),
            np.concatenate(positions) if positions else np.empty(0, np.int64))
