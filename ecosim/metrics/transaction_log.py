"""The purchase log written to Parquet as a run plays (``transactions.parquet``, docs/design.md §4).

With ``output.transactions=true`` a run logs every purchase of its simulated customers: about
``customers.n`` × purchases per customer and step rows each step, 48 bytes a row as the kernels
give them, so over a long run of a large market the whole log outgrows the market itself.
``TransactionLog`` never holds it whole: the model hands it each step's rows (its
``transaction_sink``), the log gathers steps until it has ``row_group_rows`` rows and writes them
as one Parquet row group (a step with more rows is a row group of its own). It holds at most
``row_group_rows`` rows plus one step's (3 MB plus a step at the default).

The file is written under a temporary name, ``transactions.parquet.partial``, in the run
directory. ``close`` finishes it (the Parquet footer); ``publish`` renames it to
``transactions.parquet`` when the run writes its other tables, before the completeness mark
``metadata.json``. A run that fails removes the partial file (``abort``); a killed one leaves it
under its partial name, never a ``transactions.parquet`` that looks finished.

The file holds what ``tables.transaction_frame`` gives, concatenated over arms and replications
in run order, with the same columns and types: ``need`` and ``firm`` are categoricals when every
logging arm has the same needs (firms) in the same order, strings otherwise, as
``pandas.concat`` of the frames would give.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecosim.metrics import tables

if TYPE_CHECKING:
    from ecosim.config import EcosimConfig

#: The file of the output contract, and the suffix of its name while the run writes it.
FILE = "transactions.parquet"
PARTIAL_SUFFIX = ".partial"
#: Purchases gathered before a row group is written: 65 536 rows, 3 MB of kernel rows.
ROW_GROUP_ROWS = 1 << 16
#: One step's purchases of one replication, as the kernels log them: rows of (customer, time,
#: need, firm, amount, margin).
TransactionSink = Callable[[np.ndarray], None]


def partial_path(out_dir: str | Path) -> Path:
    """Where a run writes its log before it is complete."""
    return Path(out_dir) / (FILE + PARTIAL_SUFFIX)


class TransactionLog:
    """``transactions.parquet`` of one run, written row group by row group as the run plays.

    Args:
        out_dir: the run directory (created if needed).
        labels: for every arm that logs, in run order: its firms and its needs, in index order
            (the names the kernels' firm and need indices stand for).
        row_group_rows: purchases gathered before a row group is written.
    """

    def __init__(self, out_dir: str | Path, labels: Mapping[str, tuple[list[str], list[str]]],
                 row_group_rows: int = ROW_GROUP_ROWS) -> None:
        if not labels:
            raise ValueError("a transaction log needs at least one arm that logs")
        if row_group_rows < 1:
            raise ValueError(f"row_group_rows: {row_group_rows} is not allowed; expected >= 1")
        self.labels = dict(labels)
        self.row_group_rows = row_group_rows
        # columns whose names differ between arms: strings, as pandas.concat makes them
        self.plain = [column for column, index in (("need", 1), ("firm", 0))
                      if len({tuple(names[index]) for names in self.labels.values()}) > 1]
        arm = next(iter(self.labels))
        self.schema = pa.Schema.from_pandas(self._frame(np.zeros((1, 6)), arm, 0),
                                            preserve_index=False)
        self.path = partial_path(out_dir)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # an earlier run's log must not pass for this one's while it runs
        (Path(out_dir) / FILE).unlink(missing_ok=True)
        self.writer: pq.ParquetWriter | None = pq.ParquetWriter(self.path, self.schema)
        self.pending: list[tuple[str, int, np.ndarray]] = []
        self.pending_rows = 0
        #: purchases and row groups written so far
        self.rows = 0
        self.row_groups = 0

    @classmethod
    def for_configs(cls, out_dir: str | Path, configs: Mapping[str, EcosimConfig],
                    row_group_rows: int = ROW_GROUP_ROWS) -> TransactionLog | None:
        """The log of the arms whose config sets ``output.transactions``; None when none does."""
        labels = {arm: (list(cfg.firms), list(cfg.needs)) for arm, cfg in configs.items()
                  if cfg.output.transactions}
        return cls(out_dir, labels, row_group_rows) if labels else None

    def sink(self, arm: str, replication: int) -> TransactionSink:
        """What the model of ``arm``'s replication hands each step's rows to."""
        if arm not in self.labels:
            raise ValueError(f"arm {arm!r} does not log transactions; expected one of "
                             f"{list(self.labels)}")
        return lambda rows: self.write(arm, replication, rows)

    def write(self, arm: str, replication: int, rows: np.ndarray) -> None:
        """Take one step's rows; write a row group once ``row_group_rows`` have gathered."""
        if len(rows):
            self.pending.append((arm, replication, rows))
            self.pending_rows += len(rows)
        if self.pending_rows >= self.row_group_rows:
            self.flush()

    def flush(self) -> None:
        """Write the gathered rows as one row group.

        Raises:
            tables.NonFiniteError: a purchase's time, amount or margin is not finite.
        """
        if not self.pending:
            return
        if self.writer is None:
            raise ValueError(f"{self.path}: the transaction log is closed")
        parts, start = [], 0
        for end in range(1, len(self.pending) + 1):  # runs of steps of one replication
            if end == len(self.pending) or self.pending[end][:2] != self.pending[start][:2]:
                arm, replication, _ = self.pending[start]
                rows = np.concatenate([step for _, _, step in self.pending[start:end]])
                frame = self._frame(rows, arm, replication)
                tables.check_finite("transactions", frame)
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

    def _frame(self, rows: np.ndarray, arm: str, replication: int) -> pd.DataFrame:
        firms, needs = self.labels[arm]
        frame = tables.transaction_frame(rows, firms, needs, arm, replication)
        for column in self.plain:
            frame[column] = frame[column].astype(str)
        return frame


def publish(log_file: str | Path, out_dir: str | Path) -> Path:
    """``out_dir/transactions.parquet`` from a finished log (``TransactionLog.close``'s file).

    The partial file is renamed when it lies in ``out_dir``; otherwise it is copied there
    through a temporary name. Returns the published path.
    """
    source, target = Path(log_file), Path(out_dir) / FILE
    if source.resolve() == target.resolve():
        return target
    if source.parent.resolve() == target.parent.resolve():
        os.replace(source, target)
        return target
    tmp = target.with_name(f".{FILE}.tmp")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
