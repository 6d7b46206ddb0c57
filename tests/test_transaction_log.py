"""The purchase log streamed to Parquet as the run plays (``ecosim.metrics.transaction_log``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import assert_published, row_group_sizes

from ecosim.config import arm_configs
from ecosim.experiment import run, run_experiment, start_run_dir, write_tables
from ecosim.metrics import cohorts, tables
from ecosim.metrics.transaction_log import (
    FILE,
    ROW_GROUP_ROWS,
    TransactionLog,
    partial_path,
)
from ecosim.model import EcosystemModel

HORIZON = 6


def raw_market(**changes) -> dict:
    """Two firms, two needs, non-contractual purchasing (so step 0 logs the trials), 2 × 2 runs."""
    raw = {
        "seed": 3, "replications": 2, "time": {"horizon": HORIZON},
        "customers": {
            "n": 1500,
            "segments": {"all": {"openness": {"dist": "beta", "a": 2, "b": 5}}},
            "lifecycle": {"kind": "noncontractual",
                          "rate": {"dist": "gamma", "shape": 2, "scale": 0.5},
                          "dropout": {"dist": "beta", "a": 1, "b": 20}},
        },
        "needs": {"x": {"basket": {"dist": "lognormal", "mean": 3.0, "sd": 0.5}},
                  "y": {"prevalence": 0.5}},
        "firms": {
            "a": {"offerings": {"x": {"quality": 0.5}, "y": {}}, "initial_share": {"x": 0.4},
                  "initial_awareness": 1.0},
            "b": {"offerings": {"x": {"quality": 0.3}}, "initial_share": {"x": 0.4},
                  "initial_awareness": 1.0},
        },
        "output": {"figures": False, "transactions": True},
        "experiment": {"name": "price", "focus_firm": "a", "kpis": ["cum_revenue"],
                       "arms": {"base": {}, "pricier": {"firms.a.offerings.x.price_index": 1.15}}},
    }
    raw.update(changes)
    return raw


@pytest.fixture(scope="module", name="in_memory")
def in_memory_fixture(tmp_path_factory) -> tuple[dict, Path, pd.DataFrame]:
    """The arms' configs, and the log gathered whole in memory and written at the end."""
    configs = arm_configs(raw_market())
    result = run_experiment(configs, progress=False)
    out = write_tables(result, tmp_path_factory.mktemp("memory"))
    return configs, out / FILE, result.firm_metrics


@pytest.mark.parametrize("row_group_rows", [1, 5000, ROW_GROUP_ROWS])
def test_the_streamed_file_equals_the_whole_log_written_at_the_end(in_memory, tmp_path,
                                                                   row_group_rows) -> None:
    """Same rows, columns, types and schema (pandas metadata included) as the whole log.

    ``row_group_rows=1``: a row group per step, each with its own dictionary of needs and firms
    (some steps see only one firm); 5000: several steps per group; the default: one group.
    """
    configs, whole, _ = in_memory
    log = TransactionLog.for_configs(tmp_path, configs, row_group_rows)
    for name, cfg in configs.items():
        run(cfg, arm=name, progress=False, transaction_log=log)
    streamed = log.close()
    assert streamed == partial_path(tmp_path) and not (tmp_path / FILE).exists()
    expected = pd.read_parquet(whole)
    pd.testing.assert_frame_equal(pd.read_parquet(streamed), expected)
    assert pq.read_schema(streamed).equals(pq.read_schema(whole), check_metadata=True)
    assert set(expected["arm"]) == set(configs) and set(expected["replication"]) == {0, 1}
    assert (expected["step"] == 0).sum() > 0  # the trials of the step-0 relationships
    sizes = row_group_sizes(streamed)
    assert sum(sizes) == len(expected) == log.rows
    assert min(sizes[:-1], default=row_group_rows) >= row_group_rows  # only the last is short
    if row_group_rows == 1:  # one group per (arm, replication, step) that bought anything
        steps = expected.groupby(["arm", "replication", "step"], sort=False).size()
        assert sizes == list(steps)


def test_run_experiment_streams_into_the_run_dir_and_write_tables_publishes(in_memory,
                                                                            tmp_path) -> None:
    configs, whole, firm_metrics = in_memory
    result = run_experiment(configs, progress=False, run_dir=tmp_path)
    assert result.transactions is None
    assert_published(result, "transaction_log", tmp_path, FILE, partial_path(tmp_path))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / FILE), pd.read_parquet(whole))
    pd.testing.assert_frame_equal(result.firm_metrics, firm_metrics)  # the same simulation


def test_arms_with_different_firms_log_firm_names_as_strings(tmp_path) -> None:
    """As ``pandas.concat`` of the arms' frames: categories that differ become strings."""
    labels = {"base": (["a", "b"], ["x"]), "entrant": (["a", "b", "c"], ["x"])}
    steps = [("base", 0, np.array([[0, 0.5, 0, 1, 2.0, 0.5]])),
             ("entrant", 0, np.array([[1, 0.7, 0, 2, 3.0, 0.6], [2, 1.0, 0, 0, 1.0, 0.2]]))]
    log = TransactionLog(tmp_path, labels, row_group_rows=1)
    for arm, replication, rows in steps:
        log.write(arm, replication, rows)
    frame = pd.concat([tables.transaction_frame(rows, *labels[arm], arm, replication)
                       for arm, replication, rows in steps], ignore_index=True)
    frame.to_parquet(tmp_path / "whole.parquet", index=False)
    streamed = pd.read_parquet(log.close())
    pd.testing.assert_frame_equal(streamed, pd.read_parquet(tmp_path / "whole.parquet"))
    assert list(streamed["firm"]) == ["b", "c", "a"]
    assert isinstance(streamed["need"].dtype, pd.CategoricalDtype)  # the same needs: kept


def test_the_model_hands_each_step_to_the_sink_and_keeps_none(in_memory) -> None:
    configs, _, _ = in_memory
    cfg = configs["base"]
    received: list[np.ndarray] = []
    history = EcosystemModel(cfg, 1, transaction_sink=received.append).run()
    assert history.transactions == []
    kept = EcosystemModel(cfg, 1).run().transactions  # no sink: the whole log in the history
    assert len(received) == len(kept) == HORIZON + 1
    for t, (rows, same) in enumerate(zip(received, kept, strict=True)):
        assert np.array_equal(rows, same)
        assert len(rows) > 0
        assert (np.ceil(rows[:, 1]) == t).all()  # one step's rows, time in (t - 1, t]


def _peak_bytes(n: int, horizon: int, stream_to: Path | None) -> tuple[int, int]:
    """Peak bytes allocated (tracemalloc) while a monopoly plays, and purchases logged.

    Every customer buys every step, so the log grows by ``n`` rows a step.
    """
    from conftest import monopoly, traced_peak

    cfg = monopoly(n, horizon, transactions=True)
    log = (TransactionLog(stream_to, {"base": (list(cfg.firms), list(cfg.needs))},
                          row_group_rows=2 * n) if stream_to else None)
    model = EcosystemModel(cfg, 0, transaction_sink=log.sink("base", 0) if log else None)

    def play() -> None:
        for _ in range(horizon):
            model.step()
        if log is not None:
            log.close()

    peak = traced_peak(play)
    logged = log.rows if log else sum(len(rows) for rows in model.history.transactions)
    return peak, logged


def test_a_streamed_run_holds_a_row_group_whatever_its_length(tmp_path) -> None:
    """Peak memory of a streamed run does not grow with steps × purchases; a kept log does.

    2000 customers buy every step: 96 kB of kernel rows a step. Streamed in row groups of two
    steps, 20 and 80 steps peak alike (measured 0.69 and 0.77 MB; the 60 more steps would add
    5.8 MB kept whole); kept in the history, the 80-step run holds the whole 7.7 MB log. A first
    short run warms up what a first write allocates once (pyarrow's and pandas' caches).
    """
    n, row_bytes = 2000, 6 * 8
    _peak_bytes(n, 2, tmp_path / "warm-up")
    short, logged_short = _peak_bytes(n, 20, tmp_path / "short")
    long, logged_long = _peak_bytes(n, 80, tmp_path / "long")
    kept, logged_kept = _peak_bytes(n, 80, None)
    assert logged_short == 20 * n and logged_long == logged_kept == 80 * n
    whole = logged_long * row_bytes
    assert long < short + 0.05 * whole, (short, long, whole)
    assert long < 0.2 * whole, (long, whole)
    assert kept > whole, (kept, whole)


def test_a_failed_run_removes_its_log_and_an_earlier_runs(in_memory, tmp_path,
                                                          monkeypatch) -> None:
    """And so of the cohort table, streamed beside it (``ecosim.metrics.cohorts``)."""
    configs, _, _ = in_memory
    (tmp_path / FILE).write_bytes(b"an earlier run's log")
    (tmp_path / cohorts.FILE).write_bytes(b"an earlier run's cohort table")
    played = []

    def fail_at_step_four(model: EcosystemModel) -> None:
        played.append(1)
        if len(played) == 4:
            raise RuntimeError("the run fails")
        original(model)

    original = EcosystemModel.step
    monkeypatch.setattr(EcosystemModel, "step", fail_at_step_four)
    with pytest.raises(RuntimeError, match="the run fails"):
        run_experiment(configs, progress=False, run_dir=tmp_path)
    assert not (tmp_path / FILE).exists() and not partial_path(tmp_path).exists()
    assert not (tmp_path / cohorts.FILE).exists()
    assert not cohorts.partial_path(tmp_path).exists()


def test_a_killed_run_leaves_only_the_partial_name(in_memory, tmp_path) -> None:
    """Killed (``os._exit``) after some row groups: no ``transactions.parquet``, no mark."""
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_transaction_log import raw_market
        from ecosim.config import arm_configs
        from ecosim.experiment import run, start_run_dir
        from ecosim.metrics.transaction_log import TransactionLog
        from ecosim.model import EcosystemModel

        configs = arm_configs(raw_market())
        start_run_dir({str(tmp_path)!r}, configs)
        log = TransactionLog.for_configs({str(tmp_path)!r}, configs, row_group_rows=1)
        step = EcosystemModel.step
        def killed(model):
            if model.steps == 4:
                os._exit(9)
            step(model)
        EcosystemModel.step = killed
        for name, cfg in configs.items():
            run(cfg, arm=name, progress=False, transaction_log=log)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 9, done.stderr
    assert partial_path(tmp_path).stat().st_size > 0  # row groups were written
    assert not (tmp_path / FILE).exists() and not (tmp_path / "metadata.json").exists()
    start_run_dir(tmp_path, in_memory[0])  # the next run in the directory clears it
    assert not partial_path(tmp_path).exists()


def test_robustness_variants_keep_no_log() -> None:
    """Variants are read for their KPIs only; their runs must not gather a purchase log."""
    raw = raw_market()
    assert all(cfg.output.transactions for cfg in arm_configs(raw).values())
    assert not any(cfg.output.transactions
                   for cfg in arm_configs(raw, replications=1).values())
