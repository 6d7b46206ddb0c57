"""The page's parts without a browser: sources, the form's checks, LTV over time, the runner.

The browser drives the whole page in ``tests/test_app.py``; here each part is checked against
what it must agree with: the schema's own one-line errors, ``run_kpis``'s LTV, and the output
contract of a run directory (``ecosim.report.deck.check_run_dir``).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ecosim.app import runner as runner_module
from ecosim.app.compare import arm_html, arm_table, robustness_html
from ecosim.app.form import (
    apply_edits,
    check_edit,
    current_value,
    key_fields,
    parse_input,
    validate,
)
from ecosim.app.run_dirs import openable_run_dir, readable_file, run_dir_for
from ecosim.app.runner import RunJob
from ecosim.app.series import firm_series, ltv_over_time
from ecosim.app.sources import Source, experiment_names, load_source
from ecosim.config import ConfigError, load_config
from ecosim.experiment import run_experiment
from ecosim.metrics.summary import run_kpis
from ecosim.report.data import ReportData
from ecosim.report.deck import check_run_dir

REPLICATIONS = 4


def small_tree(n: int = 1500, horizon: int = 14, **extra) -> dict:
    """Two firms on one need with churn, so LTV, CAC and churn all have values; two arms."""
    tree = {
        "seed": 3, "replications": REPLICATIONS, "time": {"horizon": horizon},
        "customers": {
            "n": n,
            "segments": {"all": {"openness": {"dist": "beta", "a": 2, "b": 5}}},
            "lifecycle": {"kind": "contractual", "hazard": {"dist": "fixed", "value": 0.03}},
        },
        "needs": {"x": {"basket": {"dist": "lognormal", "mean": 3.0, "sd": 0.5}}},
        "firms": {
            "a": {"offerings": {"x": {"quality": 0.5, "margin_rate": 0.3}},
                  "initial_share": {"x": 0.4}, "initial_awareness": 0.5,
                  "marketing": {"budget": 300.0, "reach_cost": 1.0}},
            "b": {"model": "ecosystem", "offerings": {"x": {"quality": 0.3}},
                  "initial_share": {"x": 0.3}, "initial_awareness": 0.5,
                  "marketing": {"budget": 200.0, "reach_cost": 1.0}},
        },
        "output": {"figures": False},
        "experiment": {"name": "price", "focus_firm": "a", "kpis": ["customers"],
                       "arms": {"base": {}, "cheaper": {"firms.a.offerings.x.price_index": 0.9}}},
    }
    tree.update(extra)
    return tree


# ---- sources -------------------------------------------------------------------------------

def test_sources_compose_as_the_command_does() -> None:
    default = load_source(Source("default market"))
    assert load_config(default).customers.n == 100_000
    assert "growth_levers" in experiment_names()
    experiment = load_source(Source("experiment", "growth_levers"))
    assert len(validate(experiment)) == len(experiment["experiment"]["arms"]) > 1
    with pytest.raises(ConfigError, match=r"^experiment: 'no_such' is not allowed; expected one"):
        load_source(Source("experiment", "no_such"))


def test_config_file_source(tmp_path: Path) -> None:
    path = tmp_path / "my_market.yaml"
    path.write_text(yaml.safe_dump({"defaults": ["ecosim", "_self_"], **small_tree()}))
    tree = load_source(Source("config file", str(path)))
    assert list(validate(tree)) == ["base", "cheaper"]
    with pytest.raises(ConfigError, match=r"^config file: .* expected the path of a YAML file"):
        load_source(Source("config file", str(tmp_path / "absent.yaml")))
    broken = tmp_path / "broken.yaml"
    broken.write_text("defaults: [ecosim, _self_]\nfirms: {a: [1,\n")
    with pytest.raises(ConfigError) as error:
        load_source(Source("config file", str(broken)))
    assert str(error.value) == (f"config file: {broken}:3:1: expected the node content, but "
                                "found '<stream end>'; expected valid YAML")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("defaults: [no_such_group, _self_]\n")
    with pytest.raises(ConfigError, match=r"^config file: In 'unknown': Could not load "
                                          r"'no_such_group'.*; expected a config Hydra can"):
        load_source(Source("config file", str(unknown)))


# ---- form ----------------------------------------------------------------------------------

def test_form_lists_the_key_parameters() -> None:
    cfg = next(iter(validate(small_tree()).values()))
    keys = [field.key for field in key_fields(cfg)]
    for key in ("customers.n", "customers.market_size", "time.horizon", "firms.a.model",
                "firms.a.marketing.budget", "firms.a.offerings.x.price_index",
                "firms.a.offerings.x.convenience", "firms.a.offerings.x.experience",
                "firms.b.ecosystem.context_reach", "firms.b.cross_sell.organisation"):
        assert key in keys
    assert "firms.a.ecosystem.context_reach" not in keys  # a standalone firm has no ecosystem
    assert current_value(cfg, "firms.b.brand") == "b"  # a firm's brand defaults to its name
    # one brand on both firms: an umbrella brand
    umbrella = validate(apply_edits(small_tree(), {"firms.b.brand": "a"}))["base"]
    assert umbrella.firms["b"].offerings["x"].brand == "a"
    assert current_value(cfg, "firms.a.offerings.x.experience") == 1.0  # the schema's default


def test_an_edit_is_checked_by_the_schema_with_its_one_line_message() -> None:
    tree = small_tree()
    assert parse_input(" 2000 ", "number") == 2000
    assert parse_input("1.5e3", "number") == 1500.0
    assert parse_input("lots", "number") == "lots"
    assert check_edit(tree, {}, "customers.n", 2000) is None
    assert check_edit(tree, {}, "customers.n", -5) == (
        "customers.n: -5 is not allowed; expected an integer >= 1")
    message = check_edit(tree, {}, "firms.a.model", "franchise")
    assert message.startswith("firms.a.model: 'franchise' is not allowed; expected one of")
    assert check_edit(tree, {}, "customers.n", "lots").startswith("customers.n: 'lots'")
    # an edit that breaks one arm only is refused, naming the arm
    tree["experiment"]["arms"]["late_rise"] = {
        "events": [{"step": 10, "firm": "a", "set": {"offerings.x.price_index": 1.1}}]}
    assert check_edit(tree, {}, "time.horizon", 5) == (
        "experiment.arms.late_rise.events[0].step: 10 is not allowed; expected a step in [1, 5] "
        "(time.horizon)")


def test_edits_apply_to_every_arm_but_an_arms_own_value_wins() -> None:
    tree = small_tree()
    edits = {"customers.n": 1200, "firms.a.offerings.x.price_index": 1.2}
    configs = validate(apply_edits(tree, edits))
    assert [cfg.customers.n for cfg in configs.values()] == [1200, 1200]
    assert configs["base"].firms["a"].offerings["x"].price_index == 1.2
    assert configs["cheaper"].firms["a"].offerings["x"].price_index == 0.9
    assert tree["customers"]["n"] == 1500  # the source's tree is left as it was


# ---- LTV over time -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def result():
    return run_experiment(validate(small_tree()), progress=False)


def test_ltv_over_time_ends_at_the_experiments_ltv(result) -> None:
    d = result.config.time.discount_rate
    fm = result.firm_metrics
    ltv = ltv_over_time(fm, d)
    last = fm["step"] == fm["step"].max()
    mine = fm.assign(ltv=ltv)[last].set_index(["arm", "replication", "firm"])["ltv"]
    theirs = run_kpis(fm, d).set_index(["arm", "replication", "firm"])["ltv"]
    assert theirs.notna().all()
    np.testing.assert_allclose(mine.reindex(theirs.index), theirs, rtol=1e-12)
    assert ltv[fm["step"] == 0].isna().all()


def test_firm_series_is_the_mean_over_replications(result) -> None:
    d = result.config.time.discount_rate
    series = firm_series(result.firm_metrics, d, "cheaper")
    fm = result.firm_metrics
    at = fm[(fm["arm"] == "cheaper") & (fm["firm"] == "a") & (fm["step"] == 7)]
    row = series[(series["firm"] == "a") & (series["step"] == 7)].iloc[0]
    assert row["customers"] == pytest.approx(at["customers"].mean())
    assert row["churn_rate"] == pytest.approx(100 * at["churn_rate"].mean())
    assert len(series) == 2 * (result.config.time.horizon + 1)


def test_compare_tables_show_the_summary(result) -> None:
    data = ReportData.from_result(result)
    table = arm_table(data, "a", "customers")
    assert list(table["arm"]) == ["base", "cheaper"]
    s = result.summary
    row = s[(s["arm"] == "cheaper") & (s["firm"] == "a") & (s["kpi"] == "customers")].iloc[0]
    assert table.iloc[1]["ci_low"] == row["ci_low"] and table.iloc[1]["ci_high"] == row["ci_high"]
    assert np.isnan(table.iloc[0]["diff_mean"]) and table.iloc[1]["diff_mean"] == row["diff_mean"]
    text = arm_html(table, "customers")
    rows = table_cells(text)
    assert [row[0] for row in rows] == ["arm", "Base", "Cheaper"] and rows[1][3] == "baseline"
    assert robustness_html(data) == ""
    robust = pd.DataFrame({"design": ["default", "tornado"], "assumption": ["-", "reach"],
                           "level": ["-", "low"], "x": [np.nan, 0.5], "y": [np.nan, np.nan],
                           "value": [0.1, 0.05], "low": [0.08, 0.02], "high": [0.12, 0.08],
                           "n": [4, 4]})
    shown = robustness_html(ReportData.from_result(
        type("R", (), {**{k: getattr(result, k) for k in (
            "config", "firm_metrics", "unit_metrics", "cohort_retention", "summary",
            "metadata")}, "robustness": robust, "shapley": lambda self: None})()))
    assert table_cells(shown)[2][:3] == ["tornado", "reach", "low"]


#: Names that Markdown or HTML would turn into a link, an image, a script or a table cell.
HOSTILE = ["[click](javascript:alert(1)) ![p](http://evil.example/x.png)",
           "<img src=x onerror=alert(1)>", "cheap | cheerful *bold* _it_", "<b>Base</b>",
           "&amp; `code` <https://evil.example> $\\frac{1}{2}$"]


def test_names_from_configs_and_run_directories_stay_text(result) -> None:
    """Every cell of the page's tables is escaped: the HTML holds only the table's own tags
    and each hostile name comes back as the same text (arm labels, assumptions, levels,
    designs, the headline's label: config files and other people's run directories)."""
    data = ReportData.from_result(result)
    table = arm_table(data, "a", "customers")
    labelled = pd.concat([table] * 3, ignore_index=True).iloc[:len(HOSTILE)]
    labelled = labelled.assign(label=HOSTILE)
    text = arm_html(labelled, "customers")
    assert table_tags(text) <= {"table", "thead", "tbody", "tr", "th", "td"}
    assert [row[0] for row in table_cells(text)[1:]] == HOSTILE
    robust = pd.DataFrame({"design": ["default", *HOSTILE[:2]], "assumption": HOSTILE[1:4],
                           "level": HOSTILE[2:5], "value": [0.1, 0.05, 0.2],
                           "low": [0.08, 0.02, 0.1], "high": [0.12, 0.08, 0.3], "n": [4] * 3})
    tree = small_tree()
    tree["experiment"]["headline"] = {"kind": "effect", "label": HOSTILE[0], "kpi": "customers",
                                      "arm": "cheaper"}
    config = validate(tree)["base"]
    shown = robustness_html(ReportData(config=config, **{
        k: getattr(data, k) for k in ("firm_metrics", "unit_metrics", "cohort_retention", "kpis",
                                      "summary")}, robustness=robust))
    assert table_tags(shown) <= {"table", "thead", "tbody", "tr", "th", "td", "p", "strong"}
    assert [row[:3] for row in table_cells(shown)[1:]] == [
        ["default", HOSTILE[1], HOSTILE[2]], [HOSTILE[0], HOSTILE[2], HOSTILE[3]],
        [HOSTILE[1], HOSTILE[3], HOSTILE[4]]]
    assert f"Headline: {HOSTILE[0]}" in text_of(shown)
    # the arms' chart shows a label with `$` as written (no mathtext, no parse error)
    from ecosim.app.charts import arms_figure

    figure = arms_figure(labelled, "customers")
    figure.canvas.draw()
    ticks = [tick.get_text() for tick in figure.axes[0].get_yticklabels()]
    assert ticks == [label.replace("$", "\\$") for label in HOSTILE]


class _TableParser(HTMLParser):
    """The tags, the rows of cells and the text of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.add(tag)
        assert all(name == "style" for name, _ in attrs), attrs  # no href, src, on...
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _parsed(fragment: str) -> _TableParser:
    parser = _TableParser()
    parser.feed(fragment)
    parser.close()
    return parser


def table_cells(fragment: str) -> list[list[str]]:
    """The rows of an HTML table as text, the header first."""
    return _parsed(fragment).rows


def table_tags(fragment: str) -> set[str]:
    """The tags an HTML fragment uses."""
    return _parsed(fragment).tags


def text_of(fragment: str) -> str:
    """An HTML fragment's text, as a browser shows it."""
    return "".join(_parsed(fragment).text)


# ---- where runs go and come from -----------------------------------------------------------

@pytest.mark.parametrize("name", ["../../../tmp/review/escape", "/etc/cron.d/x", "~/.ssh/x",
                                  "a/../../b", ".", "a/.."])
def test_a_run_name_cannot_leave_the_results_directory(tmp_path: Path, name: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from ecosim.app.main import RESULTS_ENV
    from ecosim.app.page import new_run_dir

    results = tmp_path / "results" / "app"
    monkeypatch.setenv(RESULTS_ENV, str(results))
    with pytest.raises(ConfigError, match=(
            rf"^run name: .* is not allowed; expected a folder name under "
            rf"{re.escape(str(results.resolve()))} \(the page writes its runs there only\)$")):
        new_run_dir(Source("default market"), name)


def test_a_run_name_is_a_folder_under_the_results_directory(tmp_path: Path) -> None:
    results = tmp_path / "results"
    root = results.resolve()
    assert run_dir_for("pricing", results) == root / "pricing"
    assert run_dir_for(" pricing/try_2 ", results) == root / "pricing" / "try_2"
    assert run_dir_for(str(root / "abs"), results) == root / "abs"  # absolute, but inside
    assert run_dir_for("a/../b", results) == root / "b"
    blank = run_dir_for("", results, "my market.yaml")
    assert blank.parent == root and "-my_market_yaml-" in blank.name
    (results / "link").parent.mkdir(parents=True)
    (results / "link").symlink_to(tmp_path)  # a link out of the results directory
    with pytest.raises(ConfigError, match="^run name: 'link/x' is not allowed"):
        run_dir_for("link/x", results)


def test_finished_runs_open_from_the_runs_roots_only(tmp_path: Path) -> None:
    page_runs, command_runs = tmp_path / "results" / "app", tmp_path / "results"
    (command_runs / "2026-12-01" / "10-00-00").mkdir(parents=True)
    (page_runs / "mine").mkdir(parents=True)
    roots = [page_runs, command_runs]
    assert openable_run_dir("mine", roots) == (page_runs / "mine").resolve()
    assert openable_run_dir("2026-12-01/10-00-00", roots) == (
        command_runs / "2026-12-01" / "10-00-00").resolve()  # found under the second root
    assert openable_run_dir(str(page_runs / "mine"), roots) == (page_runs / "mine").resolve()
    assert openable_run_dir("no_such", roots) == (page_runs / "no_such").resolve()
    (tmp_path / "elsewhere").mkdir()
    (page_runs / "out").symlink_to(tmp_path / "elsewhere")
    for text in ("/etc", "../../elsewhere", "~", "out", str(tmp_path / "elsewhere")):
        with pytest.raises(ConfigError, match=(
                rf"^run directory: .* is not allowed; expected a folder under "
                rf"{re.escape(str(page_runs.resolve()))} or "
                rf"{re.escape(str(command_runs.resolve()))} \(ecosim-app --runs-root")):
            openable_run_dir(text, roots)


def test_downloads_never_follow_a_link_out_of_the_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.md").write_text("# a report")
    (tmp_path / "secret").write_text("not the run's")
    (run / "deck.pptx").symlink_to(tmp_path / "secret")
    assert readable_file(run, "report.md") == run / "report.md"
    assert readable_file(run, "deck.pptx") is None and readable_file(run, "absent.md") is None


# ---- runner --------------------------------------------------------------------------------

def test_a_run_from_the_page_is_an_ordinary_run_directory(tmp_path: Path) -> None:
    tree = small_tree()
    edits = {"customers.n": 1000}
    configs = validate(apply_edits(tree, edits))
    job = RunJob(configs, tmp_path / "run", raw=tree, overrides=["customers.n=1000"],
                 source="config file x").start()
    snapshot = job.join(timeout=300)
    assert snapshot.state == "done", snapshot.error
    assert snapshot.progress == 1.0
    check_run_dir(tmp_path / "run")  # the deck's own check of a complete run
    for name in ("report.md", "deck.pptx", "summary.csv", "arms.yaml"):
        assert (tmp_path / "run" / name).is_file(), name
    metadata = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert metadata["overrides"] == ["customers.n=1000"]
    assert metadata["arms"] == ["base", "cheaper"]
    assert load_config(yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
                       ).customers.n == 1000
    # the same config run by the experiment code gives the same tables (same seed, same CRN)
    direct = run_experiment(configs, progress=False).firm_metrics
    written = pd.read_parquet(tmp_path / "run" / "firm_metrics.parquet")
    pd.testing.assert_frame_equal(written, direct, check_dtype=False)
    # the sweep collector reads the page's runs as complete jobs
    from ecosim.sweep.collect import collect

    collection = collect(tmp_path, out_dir=tmp_path / "collected")
    assert list(collection.jobs["status"]) == ["complete"]


def test_robustness_runs_from_the_page_and_the_progress_counts_every_step(
        tmp_path: Path) -> None:
    tree = small_tree(robustness=True)
    tree["experiment"].update({
        "headline": {"kind": "effect", "label": "customers a 10 % price cut wins",
                     "kpi": "customers", "arm": "cheaper"},
        "assumptions": {"reach": {"label": "marketing reach", "keys": ["firms.a.marketing.budget"],
                                  "low": 0.5, "high": 2.0, "scale": True, "source": "[argued]"}},
        "robustness": {"replications": 2}})
    configs = validate(tree)
    snapshot = RunJob(configs, tmp_path / "robust", raw=tree).start().join(timeout=300)
    assert snapshot.state == "done", snapshot.error
    # the run's 2 arms × 4 replications × 14 steps, then 2 variants × 2 arms × 2 replications
    assert snapshot.steps == snapshot.total_steps == 2 * 4 * 14 + 2 * 2 * 2 * 14
    robustness = pd.read_csv(tmp_path / "robust" / "robustness.csv")
    assert list(robustness["design"]) == ["default", "tornado", "tornado"]
    shown = robustness_html(ReportData.from_run_dir(tmp_path / "robust"))
    assert "Headline: customers a 10 % price cut wins" in text_of(shown)
    assert [row[:2] for row in table_cells(shown)[2:]] == [["tornado", "reach"]] * 2


def test_ecosim_app_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from ecosim.app.main import (
        DEFAULT_PORT,
        RESULTS_ENV,
        RUNS_ROOTS_ENV,
        page_environment,
        parse_args,
    )

    args = parse_args([])
    assert (args.host, args.port, args.results) == ("127.0.0.1", DEFAULT_PORT, "results/app")
    assert parse_args(["--port", "9001", "--results", "x"]).port == 9001
    cwd = Path.cwd()
    environment = page_environment(args)  # the page's runs and the ecosim command's
    assert environment[RESULTS_ENV] == str(cwd / "results" / "app")
    assert environment[RUNS_ROOTS_ENV].split(os.pathsep) == [
        str(cwd / "results" / "app"), str(cwd / "results")]
    roots = page_environment(parse_args(["--runs-root", "/srv/a", "--runs-root", "b"]))
    assert roots[RUNS_ROOTS_ENV].split(os.pathsep) == [
        str(cwd / "results" / "app"), "/srv/a", str(cwd / "b")]
    with pytest.raises(SystemExit) as stop:
        parse_args(["--port", "70000"])
    assert stop.value.code == 2
    assert "--port: 70000 is not allowed; expected a port in [1, 65535]" in capsys.readouterr().err


def test_the_command_line_never_loads_the_page() -> None:
    import subprocess
    import sys

    code = ("import sys, ecosim.cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('solara', 'ecosim.app'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


def test_cancel_stops_the_run_and_leaves_no_directory(tmp_path: Path) -> None:
    configs = validate(small_tree(n=4000, horizon=400, replications=3))
    job = RunJob(configs, tmp_path / "cancelled").start()
    deadline = time.monotonic() + 120
    while job.snapshot().progress == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    job.cancel()
    snapshot = job.join(timeout=60)
    assert snapshot.state == "cancelled"
    assert snapshot.progress < 0.5  # stopped early, not at the end
    assert not (tmp_path / "cancelled").exists()


def test_cancel_leaves_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    job = RunJob(validate(small_tree(horizon=400)), tmp_path / "mine")
    job.cancel()  # before it starts: it stops while waiting for its turn
    assert job.start().join(timeout=60).state == "cancelled"
    assert (tmp_path / "mine").is_dir()


def test_a_failing_run_keeps_its_error_and_leaves_no_completeness_mark(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("the market blew up\nat step 3")

    monkeypatch.setattr(runner_module, "run_experiment", broken)
    job = RunJob(validate(small_tree()), tmp_path / "failed").start()
    snapshot = job.join(timeout=60)
    assert snapshot.state == "failed"
    assert snapshot.error == "RuntimeError: the market blew up at step 3"
    assert not (tmp_path / "failed" / "metadata.json").exists()

    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    snapshot = RunJob(validate(small_tree()), blocker / "run").start().join(timeout=60)
    assert snapshot.state == "failed"
    assert snapshot.error.startswith(f"cannot write the output directory {blocker / 'run'}: ")

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.txt").write_text("someone's file")
    snapshot = RunJob(validate(small_tree()), tmp_path / "full").start().join(timeout=60)
    assert snapshot.state == "failed" and "not empty" in snapshot.error
    assert (tmp_path / "full" / "old.txt").read_text() == "someone's file"


def test_jobs_take_turns_and_keep_their_own_runs(tmp_path: Path) -> None:
    first = RunJob(validate(apply_edits(small_tree(), {"customers.n": 1100})), tmp_path / "one")
    second = RunJob(validate(apply_edits(small_tree(), {"customers.n": 1300})), tmp_path / "two")
    states: list[tuple[str, str]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            states.append((first.snapshot().state, second.snapshot().state))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    first.start()
    second.start()
    assert first.join(300).state == "done" and second.join(300).state == "done"
    stop.set()
    watcher.join()
    busy = ("running", "writing")
    assert not any(a in busy and b in busy for a, b in states)  # never both at once
    for name, n in (("one", 1100), ("two", 1300)):
        cfg = load_config(yaml.safe_load((tmp_path / name / "config.yaml").read_text()))
        assert cfg.customers.n == n
