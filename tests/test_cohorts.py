"""The cohort table built step by step and streamed as a run plays (``ecosim.metrics.cohorts``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import assert_published, row_group_sizes
from test_transaction_log import raw_market

from ecosim.config import arm_configs
from ecosim.experiment import run, run_experiment, start_run_dir, write_tables
from ecosim.metrics.cohorts import (
    FILE,
    ROW_GROUP_ROWS,
    CohortLog,
    CohortRows,
    cohort_retention,
    partial_path,
)
from ecosim.model import EcosystemModel
from ecosim.report.data import ReportData
from ecosim.report.retention import figure_cohorts


def reference_table(h, firms: list[str], discount_rate: float, arm: str,
                    replication: int) -> pd.DataFrame:
    """The table as the first implementation built it from the whole triangle (ecosim before
    the table streamed): per firm, every (cohort, step >= cohort) with a row-wise cumsum."""
    n = h.cohort_alive.shape[0]
    cohort, step = np.triu_indices(n)
    ages = step - cohort
    parts = []
    for f, firm in enumerate(firms):
        acquired = h.cohort_alive[cohort, f, cohort]
        keep = acquired != 0
        alive = h.cohort_alive[step, f, cohort]
        grid = np.zeros((n, n))
        grid[cohort, ages] = h.cohort_contribution[step, f, cohort] / (1.0 + discount_rate) ** ages
        ltv = np.cumsum(grid, axis=1)[cohort, ages] / np.where(keep, acquired, 1.0)
        parts.append(pd.DataFrame({
            "arm": arm, "replication": replication, "firm": firm, "cohort": cohort[keep],
            "age": ages[keep], "acquired": np.rint(acquired[keep]).astype(np.int64),
            "alive": np.rint(alive[keep]).astype(np.int64),
            "alive_frac": alive[keep] / acquired[keep], "cum_margin_per_acquired": ltv[keep]}))
    return pd.concat(parts, ignore_index=True)


def assert_sorted_within(rows: pd.DataFrame, firms: dict[str, list[str]]) -> None:
    """Within each (arm, replication) of a row group: by firm in index order, cohort, age."""
    for (arm, _), part in rows.groupby(["arm", "replication"], sort=False):
        index = part["firm"].map({name: f for f, name in enumerate(firms[arm])})
        keys = np.lexsort((part["age"], part["cohort"], index))
        assert (keys == np.arange(len(part))).all(), (arm, part.head())


@pytest.fixture(scope="module", name="in_memory")
def in_memory_fixture(tmp_path_factory) -> tuple[dict, pd.DataFrame, Path]:
    """Two arms × two replications of a churning market, the cohort table kept in memory."""
    configs = arm_configs(raw_market(output={"figures": False}))
    result = run_experiment(configs, progress=False)
    out = write_tables(result, tmp_path_factory.mktemp("memory"))
    return configs, result.cohort_retention, out / FILE


def test_rows_by_hand() -> None:
    """Two cohorts of one firm, discount 10 % a step: survival and realized LTV as computed by
    hand (margin discounted to the cohort's acquisition step, per customer acquired)."""
    rows = CohortRows(["bank"], horizon=2, discount_rate=0.1)
    first = rows.add(0, np.array([[100.0]]), np.array([[0.0]]))
    assert list(first["cohort"]) == [0] and list(first["alive_frac"]) == [1.0]
    second = rows.add(1, np.array([[90.0, 20.0]]), np.array([[50.0, 8.0]]))
    third = rows.add(2, np.array([[81.0, 10.0, 0.0]]), np.array([[45.0, 4.0, 0.0]]))
    assert list(second["cohort"]) == [0, 1] and list(second["age"]) == [1, 0]
    assert list(third["age"]) == [2, 1] and list(third["acquired"]) == [100, 20]
    np.testing.assert_allclose(third["alive_frac"], [0.81, 0.5], rtol=1e-15)
    np.testing.assert_allclose(second["cum_margin_per_acquired"], [50 / 1.1 / 100, 8 / 20],
                               rtol=1e-15)
    np.testing.assert_allclose(third["cum_margin_per_acquired"],
                               [(50 / 1.1 + 45 / 1.21) / 100, (8 + 4 / 1.1) / 20], rtol=1e-15)
    with pytest.raises(ValueError, match="step by step; expected 3"):
        rows.add(4, np.ones((1, 5)), np.zeros((1, 5)))
    with pytest.raises(ValueError, match=r"shape \(1, 2\); expected \(1, 4\)"):
        rows.add(3, np.ones((1, 2)), np.zeros((1, 2)))


def test_a_cohort_that_acquired_nobody_has_no_rows() -> None:
    rows = CohortRows(["a", "b"], horizon=1, discount_rate=0.0)
    rows.add(0, np.array([[5.0], [0.0]]), np.zeros((2, 1)))
    step = rows.add(1, np.array([[4.0, 0.0], [0.0, 3.0]]), np.zeros((2, 2)))
    assert list(zip(step["firm"], step["cohort"], strict=True)) == [(0, 0), (1, 1)]


@pytest.mark.parametrize("row_group_rows", [1, 50, ROW_GROUP_ROWS])
def test_the_streamed_file_equals_the_table_kept_in_memory(in_memory, tmp_path,
                                                           row_group_rows) -> None:
    """Same rows, columns and types; row groups as asked, each sorted by firm, cohort, age.

    With one row group per replication (the default, for this short run) the file is the
    in-memory table row for row.
    """
    configs, kept, whole = in_memory
    log = CohortLog.for_configs(tmp_path, configs, row_group_rows)
    for name, cfg in configs.items():
        assert run(cfg, arm=name, progress=False, cohort_log=log).cohort_retention is None
    streamed = log.close()
    assert streamed == partial_path(tmp_path) and not (tmp_path / FILE).exists()
    frame = pd.read_parquet(streamed)
    if row_group_rows == ROW_GROUP_ROWS:
        pd.testing.assert_frame_equal(frame, kept)
        pd.testing.assert_frame_equal(frame, pd.read_parquet(whole))
    keys = ["arm", "replication", "firm", "cohort", "age"]
    pd.testing.assert_frame_equal(frame.sort_values(keys, ignore_index=True),
                                  kept.sort_values(keys, ignore_index=True))
    assert pq.read_schema(streamed).equals(pq.read_schema(whole), check_metadata=False)
    for group in range(pq.ParquetFile(streamed).num_row_groups):
        assert_sorted_within(pq.ParquetFile(streamed).read_row_group(group).to_pandas(),
                             {arm: list(cfg.firms) for arm, cfg in configs.items()})
    assert set(kept["arm"]) == set(configs) and set(kept["replication"]) == {0, 1}
    assert kept["cohort"].nunique() > 3  # the market acquires customers every step
    sizes = row_group_sizes(streamed)
    assert sum(sizes) == len(kept) == log.rows
    assert min(sizes[:-1], default=row_group_rows) >= row_group_rows  # only the last is short


def test_run_experiment_streams_and_a_report_reads_only_the_figures_cohorts(in_memory,
                                                                            tmp_path) -> None:
    configs, kept, _ = in_memory
    result = run_experiment(configs, progress=False, run_dir=tmp_path)
    assert result.cohort_retention is None
    pd.testing.assert_frame_equal(result.retention(), kept)  # read from the partial file
    assert_published(result, "cohort_log", tmp_path, FILE, partial_path(tmp_path))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / FILE), kept)
    wanted = figure_cohorts(configs["base"].time.horizon)
    expected = kept[kept["cohort"].isin(wanted)].reset_index(drop=True)
    assert 0 < len(expected) < len(kept)
    pd.testing.assert_frame_equal(result.retention(wanted), expected)
    pd.testing.assert_frame_equal(ReportData.from_result(result).cohort_retention, expected)
    (tmp_path / "metadata.json").write_text("{}")
    pd.testing.assert_frame_equal(ReportData.from_run_dir(tmp_path).cohort_retention, expected)


def test_the_model_hands_each_steps_cohorts_to_the_sink_and_keeps_no_triangle(in_memory) -> None:
    configs, _, _ = in_memory
    cfg = configs["base"]
    received: list[tuple[int, np.ndarray, np.ndarray]] = []
    streamed = EcosystemModel(cfg, 1, cohort_sink=lambda *step: received.append(step)).run()
    kept = EcosystemModel(cfg, 1).run()
    assert streamed.cohort_alive.shape == streamed.cohort_contribution.shape == (
        cfg.time.horizon + 1, len(cfg.firms), 0)
    assert [step for step, _, _ in received] == list(range(cfg.time.horizon + 1))
    for step, alive, contribution in received:
        assert np.array_equal(alive, kept.cohort_alive[step, :, :step + 1])
        assert np.array_equal(contribution, kept.cohort_contribution[step, :, :step + 1])
    np.testing.assert_array_equal(streamed.customers, kept.customers)  # the same simulation


def _peak_bytes(horizon: int, stream_to: Path | None) -> int:
    """Peak bytes allocated (tracemalloc) while a two-firm market is built and plays."""
    from conftest import firm, market, need, offering, traced_peak

    firms = {name: firm({"x": offering()}, {"x": 0.3}, initial_awareness=1.0)
             for name in ("a", "b")}
    cfg = market(200, horizon, {"x": need()}, firms)

    def play() -> None:  # the model's history is allocated in here too
        log = (CohortLog(stream_to, {"base": (list(cfg.firms), horizon, 0.0)},
                         row_group_rows=500) if stream_to else None)
        model = EcosystemModel(cfg, 0, cohort_sink=log.sink("base", 0) if log else None)
        for _ in range(horizon):
            model.step()
        if log is not None:
            log.close()

    return traced_peak(play)


def test_a_streamed_run_holds_no_cohort_triangle(tmp_path) -> None:
    """Streamed, a run's peak memory grows with steps × firms, not steps² × firms.

    Two firms over 1 200 steps: the kept triangle is 2 × 1201² × 2 × 8 B = 46 MB. Streamed in
    row groups of 500 rows, 300 and 1 200 steps peak at 0.6 and 1.7 MB (the history's
    per-step totals: ~1.2 kB a step); kept, the run holds the triangle.
    A first short run warms up what a first write allocates once (pyarrow's, pandas' caches).
    """
    _peak_bytes(5, tmp_path / "warm-up")
    triangle = 2 * 1201 ** 2 * 2 * 8
    short = _peak_bytes(300, tmp_path / "short")
    long = _peak_bytes(1200, tmp_path / "long")
    kept = _peak_bytes(1200, None)
    assert long - short < 0.05 * triangle, (short, long, triangle)
    assert long < 0.1 * triangle, (long, triangle)
    assert kept > triangle, (kept, triangle)


def test_the_next_run_clears_a_killed_runs_partial_table(in_memory, tmp_path) -> None:
    partial_path(tmp_path).write_bytes(b"half a table")
    start_run_dir(tmp_path, in_memory[0])
    assert not partial_path(tmp_path).exists()


def test_the_table_is_the_first_implementations_bit_for_bit(in_memory) -> None:
    """Same rows, order, values (exactly) and types as the table built from the whole triangle
    by the first implementation, for every arm and replication of a churning market."""
    configs, kept, _ = in_memory
    for arm, cfg in configs.items():
        for replication in range(cfg.replications):
            model = EcosystemModel(cfg, replication)
            model.run()
            expected = reference_table(model.history, list(cfg.firms), cfg.time.discount_rate,
                                       arm, replication)
            got = kept[(kept["arm"] == arm) & (kept["replication"] == replication)]
            pd.testing.assert_frame_equal(got.reset_index(drop=True), expected,
                                          check_exact=True, check_dtype=False)
            assert (got.dtypes.astype(str).tolist()
                    == expected.astype({"firm": got["firm"].dtype}).dtypes.astype(str).tolist())


def test_row_groups_sort_firms_in_index_order_within_each_arm(tmp_path) -> None:
    """Arms whose firms are not in name order, with a firm more in one arm; row groups of a few
    steps: each group is sorted by firm index, cohort and age within each arm."""
    firms = {"base": ["zeta", "alpha"], "entrant": ["zeta", "alpha", "mid"]}
    log = CohortLog(tmp_path, {arm: (names, 3, 0.0) for arm, names in firms.items()},
                    row_group_rows=5)
    rng = np.random.default_rng(1)
    for arm, names in firms.items():
        write = log.sink(arm, 0)
        for step in range(4):
            alive = rng.integers(1, 9, (len(names), step + 1)).astype(float)
            write(step, alive, rng.normal(size=(len(names), step + 1)))
    path = log.close()
    assert pq.ParquetFile(path).num_row_groups > 2
    for group in range(pq.ParquetFile(path).num_row_groups):
        assert_sorted_within(pq.ParquetFile(path).read_row_group(group).to_pandas(), firms)
    table = pd.read_parquet(path)
    assert table["firm"].iloc[0] == "zeta" and set(table["firm"]) == {"zeta", "alpha", "mid"}
    assert len(table) == 2 * 10 + 3 * 10  # every (firm, cohort, age) of 4 steps


def test_a_run_without_a_cohort_table_keeps_no_triangle(in_memory, monkeypatch,
                                                        tmp_path) -> None:
    """Robustness variants (read for their KPIs) run with ``cohort_table=False``; written into
    a directory an earlier run used, such a run leaves no cohort table there."""
    configs, _, _ = in_memory
    shapes = []
    original = EcosystemModel.__init__

    def spy(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        shapes.append(self.history.cohort_alive.shape)

    monkeypatch.setattr(EcosystemModel, "__init__", spy)
    result = run_experiment(configs, progress=False, cohort_table=False)
    assert result.cohort_retention is None and result.cohort_log is None
    assert len(shapes) == 4 and all(shape[2] == 0 for shape in shapes)
    with pytest.raises(ValueError, match="no cohort table"):
        result.retention()
    (tmp_path / FILE).write_bytes(b"an earlier run's table")
    write_tables(result, tmp_path)
    assert not (tmp_path / FILE).exists()
    # and the variants of a robustness run are such runs
    from test_robustness import TINY, compose_experiment

    from ecosim.config import load_config
    from ecosim.robustness import Plan, prepare, run_robustness

    raw = compose_experiment("umbrella_vs_convenience", [*TINY, "experiment.robustness.map=[]"])
    whole = prepare(raw, load_config(raw))
    kpis = run_experiment(arm_configs(raw, only=list(whole.tornado[0][1])), progress=False).kpis
    shapes.clear()
    run_robustness(Plan(whole.tornado[:2], {}), kpis, progress=False)
    assert len(shapes) >= 2 and all(shape[2] == 0 for shape in shapes), shapes


def test_the_in_memory_table_is_the_streamed_one_rebuilt_from_the_history(in_memory) -> None:
    """``cohort_retention`` of a kept triangle gives what a sink would have streamed."""
    configs, kept, _ = in_memory
    cfg = configs["pricier"]
    model = EcosystemModel(cfg, 0)
    model.run()
    frame = cohort_retention(model.history, list(cfg.firms), cfg.time.discount_rate,
                             "pricier", 0)
    expected = kept[(kept["arm"] == "pricier") & (kept["replication"] == 0)]
    pd.testing.assert_frame_equal(frame, expected.reset_index(drop=True))
