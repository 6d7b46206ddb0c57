"""``collect``: one dataset from the job directories of a sweep (no simulation needed here)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ecosim.sweep.collect import collect, expected_jobs, flatten, main, swept_keys

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def write_multirun(sweep: Path, task: list[str]) -> None:
    sweep.mkdir(parents=True, exist_ok=True)
    hydra = {"sweeper": {"_target_": BASIC_SWEEPER, "max_batch_size": None, "params": None},
             "overrides": {"task": task}}
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": hydra}))


def write_job(sweep: Path, num: int, overrides: list[str], config: dict, complete: bool = True,
              transactions: bool = False) -> Path:
    """A job directory as ecosim writes it: .hydra/overrides.yaml, config.yaml, tables, mark."""
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    if not complete:
        return job
    budget = config["firms"]["bank"]["marketing"]["budget"]
    pd.DataFrame({"arm": "base", "replication": 0, "step": [0, 1, 2], "firm": "bank",
                  "customers": [10, 11, 12 + budget / 1000]}).to_parquet(
        job / "firm_metrics.parquet", index=False)
    for table in ("unit_metrics", "segment_metrics", "segment_needs", "cohort_retention"):
        pd.DataFrame({"arm": ["base"], "replication": [0], "customers": [10]}).to_parquet(
            job / f"{table}.parquet", index=False)
    pd.DataFrame({"arm": ["base"], "firm": ["bank"], "kpi": ["customers"], "mean": [12.0],
                  "sd": [float("nan")], "ci_low": [float("nan")], "ci_high": [float("nan")],
                  "n": [1]}).to_csv(job / "summary.csv", index=False)
    if transactions:
        pd.DataFrame({"customer": [1, 2], "step": [1, 2], "amount": [3.0, 4.0]}).to_parquet(
            job / "transactions.parquet", index=False)
    (job / "metadata.json").write_text(json.dumps({"wall_seconds": 1.5}))
    return job


def config(seed: int, budget: float) -> dict:
    return {"seed": seed, "time": {"horizon": 2},
            "firms": {"bank": {"marketing": {"budget": budget, "rule": "fixed"}}},
            "events": [], "customers": {"sociodemo": {"income_scale": [1.0]}}}


def test_flatten_and_swept_keys() -> None:
    flat = flatten(config(1, 5.0))
    assert flat["firms.bank.marketing.budget"] == 5.0
    assert flat["events"] == "[]" and flat["customers.sociodemo.income_scale"] == "[1.0]"
    assert flatten({}) == {}
    assert swept_keys([flatten(config(1, 5.0)), flatten(config(1, 6.0))]) == [
        "firms.bank.marketing.budget"]


def test_expected_jobs_follow_the_basic_sweeper(tmp_path: Path) -> None:
    write_multirun(tmp_path, ["time.horizon=2", "seed=0,1", "firms.bank.marketing.budget=1e3,2e3"])
    assert expected_jobs(tmp_path) == [
        ["time.horizon=2", "seed=0", "firms.bank.marketing.budget=1000.0"],  # as Hydra writes it
        ["time.horizon=2", "seed=0", "firms.bank.marketing.budget=2000.0"],
        ["time.horizon=2", "seed=1", "firms.bank.marketing.budget=1000.0"],
        ["time.horizon=2", "seed=1", "firms.bank.marketing.budget=2000.0"]]


def test_collect_adds_parameters_and_reports_failed_and_missing_jobs(tmp_path: Path,
                                                                     capsys) -> None:
    sweep = tmp_path / "sweep"
    task = ["seed=0,1", "firms.bank.marketing.budget=1e3,2e3"]
    write_multirun(sweep, task)
    jobs = expected_jobs(sweep)
    write_job(sweep, 0, jobs[0], config(0, 1000.0), transactions=True)
    write_job(sweep, 1, jobs[1], config(0, 2000.0))
    write_job(sweep, 2, jobs[2], config(1, 1000.0), complete=False)  # killed: no metadata.json
    # job 3 never started

    collection = collect(sweep)
    status = dict(zip(collection.jobs["job"], collection.jobs["status"], strict=True))
    assert status == {0: "complete", 1: "complete", 2: "failed", 3: "missing"}
    assert collection.params == ["seed", "firms.bank.marketing.budget"]
    report = collection.report()
    assert "2 complete, 1 failed, 1 missing" in report
    assert "missing: job 3 [seed=1 firms.bank.marketing.budget=2000.0]" in report

    firm = collection.read("firm_metrics")
    assert list(firm.columns[:3]) == ["job", "seed", "firms.bank.marketing.budget"]
    assert firm.groupby("job")["firms.bank.marketing.budget"].first().to_dict() == {
        0: 1000.0, 1: 2000.0}
    assert firm["seed"].dtype.kind == "i" and len(firm) == 6
    assert set(collection.read("transactions")["job"]) == {0}
    assert set(collection.read("summary")["job"]) == {0, 1}
    assert not list(collection.out_dir.glob(".*.tmp"))  # written atomically

    assert main([str(sweep)]) == 3  # incomplete: the command says so in its exit status
    assert "failed: job 2" in capsys.readouterr().out


def test_collect_of_a_complete_sweep_exits_zero(tmp_path: Path) -> None:
    write_multirun(tmp_path, ["seed=0,1"])
    for num, overrides in enumerate(expected_jobs(tmp_path)):
        write_job(tmp_path, num, overrides, config(num, 1000.0))
    assert main([str(tmp_path), "--out", str(tmp_path / "table")]) == 0
    assert pd.read_parquet(tmp_path / "table" / "firm_metrics.parquet")["seed"].tolist() == [
        0, 0, 0, 1, 1, 1]


def test_collect_of_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        collect(tmp_path / "nowhere")
    assert main([str(tmp_path / "nowhere")]) == 2


@pytest.mark.slow
def test_a_real_sweep_with_a_bad_job_reports_it_failed(tmp_path: Path) -> None:
    import subprocess
    import sys

    sweep = tmp_path / "sweep"
    done = subprocess.run(
        [sys.executable, "-m", "ecosim.cli", "-m", "customers.n=1500,-5", "time.horizon=3",
         "events=[]", "output.figures=false", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode != 0 and "customers.n" in done.stderr
    collection = collect(sweep)
    assert dict(zip(collection.jobs["job"], collection.jobs["status"], strict=True)) == {
        0: "complete", 1: "failed"}
    assert "failed: job 1 [customers.n=-5" in collection.report()
    assert set(collection.read("firm_metrics")["customers.n"]) == {1500}


def complete_sweep(sweep: Path, seeds: str = "0,1") -> Path:
    write_multirun(sweep, [f"seed={seeds}"])
    for num, overrides in enumerate(expected_jobs(sweep)):
        write_job(sweep, num, overrides, config(num, 1000.0))
    return sweep


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def another_table(path: Path) -> None:
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(path, index=False)


DAMAGE = {
    "parquet-empty": ("firm_metrics.parquet", lambda p: p.write_bytes(b"")),
    "parquet-truncated": ("cohort_retention.parquet", truncate),
    "parquet-random": ("unit_metrics.parquet",
                       lambda p: p.write_bytes(bytes(range(256)) * 8)),
    "parquet-another-table": ("segment_metrics.parquet", another_table),
    "metadata-truncated": ("metadata.json", lambda p: p.write_text('{"wall_sec')),
    "metadata-not-an-object": ("metadata.json", lambda p: p.write_text("[1, 2]")),
    "config-malformed": ("config.yaml", lambda p: p.write_text("seed: [1,\n  time: {")),
    "overrides-malformed": (".hydra/overrides.yaml", lambda p: p.write_text("- [seed=1\n")),
    "summary-empty": ("summary.csv", lambda p: p.write_text("")),
    "table-missing": ("unit_metrics.parquet", Path.unlink),
    "summary-missing": ("summary.csv", Path.unlink),
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_an_unreadable_job_is_corrupt_and_keeps_no_rows(tmp_path: Path, capsys,
                                                         damage: str) -> None:
    """Damaged files gave tracebacks, and a job missing a table had its rows dropped silently."""
    name, spoil = DAMAGE[damage]
    sweep = complete_sweep(tmp_path / "sweep")
    spoil(sweep / "1" / name)

    assert main([str(sweep)]) == 3
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    line = next(line for line in captured.out.splitlines() if "corrupt: job 1" in line)
    assert Path(name).name in line, captured.out
    assert "1 complete" in captured.out and "1 corrupt" in captured.out

    collection = collect(sweep)
    assert dict(zip(collection.jobs["job"], collection.jobs["status"], strict=True)) == {
        0: "complete", 1: "corrupt"}
    for table in ("firm_metrics", "unit_metrics", "segment_metrics", "cohort_retention"):
        assert set(collection.read(table)["job"]) == {0}, table  # all of job 1 or nothing
    assert set(collection.read("summary")["job"]) == {0}
    assert not list(collection.out_dir.glob(".*.tmp"))
    jobs = pd.read_csv(collection.out_dir / "jobs.csv")
    assert jobs.set_index("job").loc[1, "status"] == "corrupt"


def long_tables(sweep: Path) -> Path:
    """Each job's cohort table in 30 rows of 3 row groups (a long run's, scaled down)."""
    for job in (sweep / "0", sweep / "1"):
        rows = pd.DataFrame({"arm": "base", "replication": 0, "firm": "bank",
                             "cohort": [c for c in range(5) for _ in range(6)],
                             "age": list(range(6)) * 5, "alive": range(30)})
        rows.to_parquet(job / "cohort_retention.parquet", index=False, row_group_size=10)
    return sweep


def damage_row_group(path: Path, group: int) -> None:
    """Overwrite the data of one row group's first column; the footer stays readable."""
    import pyarrow.parquet as pq

    chunk = pq.ParquetFile(path).metadata.row_group(group).column(0)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[start:start + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    path.write_bytes(bytes(data))


def test_a_large_table_is_collected_row_group_by_row_group(tmp_path: Path,
                                                           monkeypatch) -> None:
    """Above ``STREAM_ROWS`` rows a job's table is copied row group by row group: the same
    collected table as read whole; a damaged group makes its job corrupt, with none of its rows
    written (every group is checked before any is)."""
    import pyarrow.parquet as pq

    import ecosim.sweep.collect as collecting

    sweep = long_tables(complete_sweep(tmp_path / "sweep"))
    whole = collect(sweep, tmp_path / "whole").read("cohort_retention")
    monkeypatch.setattr(collecting, "STREAM_ROWS", 20)
    read_groups = []
    original = pq.ParquetFile.read_row_group

    def counted(self, group, *args, **kwargs):
        read_groups.append(group)
        return original(self, group, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counted)
    streamed = collect(sweep, tmp_path / "streamed").read("cohort_retention")
    pd.testing.assert_frame_equal(streamed, whole)
    assert len(whole) == 60 and read_groups == [0, 1, 2] * 4  # checked, then copied; two jobs

    calls = []  # a file that changes between the check and the copy stops the collection

    def changed(self, group, *args, **kwargs):
        calls.append(group)
        if len(calls) == 4:  # job 0's first group, read again to be copied
            raise OSError("the file changed")
        return original(self, group, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", changed)
    with pytest.raises(OSError, match="job 0: cohort_retention.parquet: cannot be read .*changed"):
        collect(sweep, tmp_path / "streamed")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "streamed" / "cohort_retention"
                                                  ".parquet"), streamed)  # kept as it was
    assert not list((tmp_path / "streamed").glob(".*.tmp"))
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", original)

    damage_row_group(sweep / "1" / "cohort_retention.parquet", 2)
    pq.ParquetFile(sweep / "1" / "cohort_retention.parquet").read_row_group(0)  # footer intact
    collection = collect(sweep, tmp_path / "damaged")
    jobs = collection.jobs.set_index("job")
    assert jobs["status"].to_dict() == {0: "complete", 1: "corrupt"}
    assert "cohort_retention.parquet" in jobs.loc[1, "problem"]
    assert set(collection.read("cohort_retention")["job"]) == {0}


def test_a_job_with_transactions_on_needs_its_transactions(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    write_multirun(sweep, ["seed=0,1"])
    for num, overrides in enumerate(expected_jobs(sweep)):
        cfg = {**config(num, 1000.0), "output": {"transactions": True}}
        write_job(sweep, num, overrides, cfg, transactions=num == 0)
    collection = collect(sweep)
    assert dict(zip(collection.jobs["job"], collection.jobs["status"], strict=True)) == {
        0: "complete", 1: "corrupt"}
    assert "transactions.parquet" in collection.report()


@pytest.mark.parametrize("kind", ["empty", "other files", "a single run"])
def test_a_directory_that_is_no_sweep_is_refused(tmp_path: Path, capsys, kind: str) -> None:
    """An empty or non-sweep directory gave exit 0 with "0 jobs" and a collected/ folder."""
    folder = tmp_path / "folder"
    folder.mkdir()
    if kind == "other files":
        (folder / "notes.txt").write_text("not a sweep")
        (folder / "data").mkdir()
    elif kind == "a single run":
        (folder / ".hydra").mkdir()
        (folder / ".hydra" / "overrides.yaml").write_text("[]")
        (folder / "metadata.json").write_text("{}")
    assert main([str(folder)]) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "no sweep" in lines[0] and str(folder) in lines[0], captured.err
    assert not (folder / "collected").exists()
    with pytest.raises(ValueError, match="no sweep"):
        collect(folder)


def test_an_old_result_under_new_overrides_is_stale_and_listed_once(tmp_path: Path,
                                                                      capsys) -> None:
    """Issue 8.5: a sweep of seed=1,2 re-run as seed=7,8 and killed while job 0 simulated.

    Job 0 holds the new overrides beside the old config and mark (seed 1); job 1 was not
    reached and holds the old sweep's job. Collect listed job 0 complete with seed 1, and job 1
    twice (complete with seed 2, and missing).
    """
    sweep = tmp_path / "sweep"
    write_multirun(sweep, ["seed=7,8"])
    write_job(sweep, 0, ["seed=7"], config(1, 1000.0))
    write_job(sweep, 1, ["seed=2"], config(2, 1000.0))

    collection = collect(sweep)
    assert list(collection.jobs["job"]) == [0, 1]  # never twice
    assert list(collection.jobs["status"]) == ["stale", "stale"]
    assert list(collection.jobs["overrides"]) == ["seed=7", "seed=8"]  # what the sweep runs
    report = collection.report()
    assert "stale: job 0 [seed=7]" in report and "seed" in report.split("stale: job 0")[1]
    assert "firm_metrics" not in collection.tables
    assert main([str(sweep)]) == 3
    assert "2 stale" in capsys.readouterr().out


def test_a_mark_recording_other_overrides_is_stale(tmp_path: Path) -> None:
    sweep = complete_sweep(tmp_path / "sweep")
    (sweep / "0" / "metadata.json").write_text(json.dumps({"overrides": ["seed=5"]}))
    (sweep / "1" / "metadata.json").write_text(json.dumps({"overrides": ["seed=1"]}))
    collection = collect(sweep)
    assert dict(zip(collection.jobs["job"], collection.jobs["status"], strict=True)) == {
        0: "stale", 1: "complete"}
    assert "seed=5" in collection.report()


def test_equal_values_written_differently_are_not_stale(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    write_multirun(sweep, ["firms.bank.marketing.budget=1e3", "events=[]", "hydra/launcher=local",
                           "+sample.index=3", "experiment=growth_levers"])
    write_job(sweep, 0, expected_jobs(sweep)[0],
              {**config(0, 1000), "experiment": {"factors": []}})
    collection = collect(sweep)
    assert list(collection.jobs["status"]) == ["complete"], collection.report()


# -- the optional files of a run: decisions and tipping diagnostics ------------------------------

NEW_FILES = ("decisions.parquet", "tipping.parquet", "sellers.parquet", "dominance.csv",
             "tipping_summary.csv")
STRATEGY = "{every:1,pricing:{step:0.2}}"  # the bank reviews its prices every step from step 1
SELLERS = "{network_effect:0.5,seller_cost:300,seller_margin:0.3,adjustment:0.1,initial:300}"


@pytest.fixture(scope="module")
def new_files_sweep(tmp_path_factory) -> Path:
    """A real sweep of 4 tiny jobs (about 4 s): the bank decides or not, bazaar two-sided or not.

    Job order (Hydra's product): 0 no strategy + sellers, 1 neither, 2 strategy + sellers,
    3 strategy only. So decisions are empty in the first jobs and full in the later ones, and
    sellers are full, empty, full, empty: both orders of an empty and a full table.
    """
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("new_files")
    sweep = root / "sweep"
    done = subprocess.run(
        [sys.executable, "-m", "ecosim.cli", "-m", "customers.n=300", "time.horizon=3",
         "events=[]", "output.figures=false", f"firms.bank.strategy=null,{STRATEGY}",
         f"firms.bazaar.marketplace.sellers={SELLERS},null", f"hydra.sweep.dir={sweep}"],
        cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return sweep


def copy_of(sweep: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(sweep, tmp_path / "sweep"))


def read_file(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def test_the_new_files_of_every_job_are_collected_with_job_and_parameters(
        new_files_sweep: Path, tmp_path: Path) -> None:
    sweep = copy_of(new_files_sweep, tmp_path)
    rows = {name: {job: len(read_file(sweep / str(job) / name)) for job in range(4)}
            for name in NEW_FILES}
    # the cases the fixture is for: decisions without a strategy, sellers without a seller side
    # are files without rows, with every job's other files full
    assert [rows["decisions.parquet"][job] > 0 for job in range(4)] == [False, False, True, True]
    assert [rows["sellers.parquet"][job] > 0 for job in range(4)] == [True, False, True, False]
    assert all(rows[name][job] > 0 for name in NEW_FILES[3:] + ("tipping.parquet",)
               for job in range(4))

    collection = collect(sweep)
    assert list(collection.jobs["status"]) == ["complete"] * 4, collection.report()
    assert {"decisions", "tipping", "sellers", "dominance", "tipping_summary"} <= set(
        collection.tables)
    assert (sweep / "collected" / "dominance.csv").is_file()
    every, initial = "firms.bank.strategy.every", "firms.bazaar.marketplace.sellers.initial"
    for name in NEW_FILES:
        table = name.rsplit(".", 1)[0]
        collected = collection.read(table)
        assert list(collected.columns[:1]) == ["job"] and {every, initial} <= set(collected)
        assert collected.groupby("job").size().to_dict() == {
            job: n for job, n in rows[name].items() if n}, table
        for job in range(4):  # each job's rows as it wrote them, after its job and parameters
            own = read_file(sweep / str(job) / name)
            mine = collected[collected["job"] == job].reset_index(drop=True)
            if len(own):
                pd.testing.assert_frame_equal(mine[list(own.columns)], own, check_dtype=False)
                assert set(mine[every].dropna()) == ({1} if job >= 2 else set()), table
                assert set(mine[initial].dropna()) == ({300} if job % 2 == 0 else set()), table
    decisions = collection.read("decisions")
    assert decisions["job"].dtype.kind == "i" and set(decisions["rule"]) == {"pricing"}
    assert set(collection.read("firm_metrics")["job"]) == {0, 1, 2, 3}


def test_a_job_written_before_the_new_files_is_complete(new_files_sweep: Path,
                                                        tmp_path: Path) -> None:
    from ecosim.config import load_config
    from ecosim.sweep.resume import is_complete

    sweep = copy_of(new_files_sweep, tmp_path)
    collect(sweep)  # collected earlier, when job 3 still had its decisions
    for job in (0, 1, 3):
        for name in NEW_FILES:
            (sweep / str(job) / name).unlink()
    old = sweep / "3"
    assert is_complete(old, load_config(yaml.safe_load((old / "config.yaml").read_text())))

    collection = collect(sweep)
    assert list(collection.jobs["status"]) == ["complete"] * 4, collection.report()
    assert main([str(sweep)]) == 0
    assert set(collection.read("firm_metrics")["job"]) == {0, 1, 2, 3}
    for table in ("decisions", "tipping", "sellers", "dominance", "tipping_summary"):
        assert set(collection.read(table)["job"]) == {2}, table  # job 3's rows are gone

    for name in NEW_FILES:
        (sweep / "2" / name).unlink()
    collection = collect(sweep)  # no job has them: no collected file left from before
    assert "decisions" not in collection.tables
    assert not any((sweep / "collected" / name).exists() for name in NEW_FILES)


def other_types(path: Path) -> None:
    frame = pd.read_parquet(path)
    frame["sellers"] = "many"  # text where the other jobs have numbers
    frame.to_parquet(path, index=False)


NEW_DAMAGE = {
    "decisions-truncated": ("decisions.parquet", truncate, "cannot be read"),
    "tipping-another-table": ("tipping.parquet", another_table, "not a table of a run"),
    "sellers-other-types": ("sellers.parquet", other_types, "do not fit"),
    "dominance-empty": ("dominance.csv", lambda p: p.write_text(""), "cannot be read"),
}


@pytest.mark.parametrize("damage", list(NEW_DAMAGE), ids=list(NEW_DAMAGE))
def test_a_damaged_new_file_makes_its_job_corrupt(new_files_sweep: Path, tmp_path: Path,
                                                  damage: str) -> None:
    from ecosim.config import load_config
    from ecosim.sweep.resume import is_complete

    name, spoil, problem = NEW_DAMAGE[damage]
    sweep = copy_of(new_files_sweep, tmp_path)
    spoil(sweep / "2" / name)
    collection = collect(sweep)
    assert list(collection.jobs["status"]) == ["complete", "complete", "corrupt", "complete"]
    line = collection.jobs.set_index("job").loc[2, "problem"]
    assert line.startswith(name) and problem in line, line
    for table in ("firm_metrics", "decisions", "tipping", "dominance", "summary"):
        assert 2 not in set(collection.read(table)["job"]), table  # all of job 2 or nothing
    if name == "decisions.parquet":  # a re-run redoes it, as the report says
        cfg = load_config(yaml.safe_load((sweep / "2" / "config.yaml").read_text()))
        assert not is_complete(sweep / "2", cfg)


@pytest.mark.parametrize("empty_job", [0, 1])
def test_a_table_without_rows_fits_the_other_jobs_in_either_order(tmp_path: Path,
                                                                 empty_job: int) -> None:
    """A table without rows has text columns of Arrow's null type; cast to them, a later job's
    text could not be written (the job was called corrupt when the empty one came first).
    """
    sweep = complete_sweep(tmp_path / "sweep")
    pd.DataFrame({"arm": pd.Series([], dtype=object), "replication": pd.Series([], dtype="int64"),
                  "customers": pd.Series([], dtype="int64")}).to_parquet(
        sweep / str(empty_job) / "segment_needs.parquet", index=False)
    collection = collect(sweep)
    assert list(collection.jobs["status"]) == ["complete", "complete"], collection.report()
    needs = collection.read("segment_needs")
    assert needs["job"].tolist() == [1 - empty_job] and needs["arm"].tolist() == ["base"]
    assert needs["seed"].tolist() == [1 - empty_job]

    for job in (0, 1):  # no job has rows: the table's columns are still there
        pd.DataFrame({"arm": pd.Series([], dtype=object),
                      "replication": pd.Series([], dtype="int64")}).to_parquet(
            sweep / str(job) / "segment_needs.parquet", index=False)
    collection = collect(sweep)
    assert list(collection.jobs["status"]) == ["complete", "complete"]
    assert collection.read("segment_needs").empty
    assert {"job", "seed", "arm", "replication"} <= set(collection.read("segment_needs").columns)
