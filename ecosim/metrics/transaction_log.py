"""The purchase log written to Parquet as a run plays (``transactions.parquet``, docs/design.md §4).

With ``output.transactions=true`` a run logs every purchase of its simulated customers: about
``customers.n`` × purchases per customer and step rows each step, 48 bytes a row as the kernels
give them, so over a long run of a large market the whole log outgrows the market itself.
``TransactionLog`` never holds it whole: the model hands it each step's rows (its
``transaction_sink``) and it writes them row group by row group (``metrics.parquet_stream``: it
holds at most ``row_group_rows`` rows plus one step's, 3 MB plus a step at the default), under
the name ``transactions.parquet.partial`` until the run publishes it.

The file holds what ``tables.transaction_frame`` gives, concatenated over arms and replications
in run order, with the same columns and types: ``need`` and ``firm`` are categoricals when every
logging arm has the same needs (firms) in the same order, strings otherwise, as
``pandas.concat`` of the frames would give.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from ecosim.metrics import parquet_stream, tables
from ecosim.metrics.parquet_stream import ParquetStream

if TYPE_CHECKING:
    from ecosim.config import EcosimConfig

#: The file of the output contract.
FILE = "transactions.parquet"
#: Purchases gathered before a row group is written: 65 536 rows, 3 MB of kernel rows.
ROW_GROUP_ROWS = 1 << 16
#: One step's purchases of one replication, as the kernels log them: rows of (customer, time,
#: need, firm, amount, margin).
TransactionSink = Callable[[np.ndarray], None]


def partial_path(out_dir: str | Path) -> Path:
    """Where a run writes its log before it is complete."""
    return parquet_stream.partial_path(out_dir, FILE)


class TransactionLog(ParquetStream):
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
        self.labels = dict(labels)
        # columns whose names differ between arms: strings, as pandas.concat makes them
        self.plain = [column for column, index in (("need", 1), ("firm", 0))
                      if len({tuple(names[index]) for names in self.labels.values()}) > 1]
        arm = next(iter(self.labels))
        schema = pa.Schema.from_pandas(self._frame([np.zeros((1, 6))], arm, 0),
                                       preserve_index=False)
        super().__init__(out_dir, FILE, "transactions", schema, row_group_rows)

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
        self._add(arm, replication, rows, len(rows))

    def _frame(self, steps: list[np.ndarray], arm: str, replication: int) -> pd.DataFrame:
        firms, needs = self.labels[arm]
        frame = tables.transaction_frame(np.concatenate(steps), firms, needs, arm, replication)
        for column in self.plain:
            frame[column] = frame[column].astype(str)
        return frame


def publish(log_file: str | Path, out_dir: str | Path) -> Path:
    """``out_dir/transactions.parquet`` from a finished log (``TransactionLog.close``'s file)."""
    return parquet_stream.publish(log_file, out_dir, FILE)
