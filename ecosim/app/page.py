"""The page (Solara components): start from a config, edit it, run it, read and compare.

Every piece of state lives in the ``Page`` component of one browser tab (Solara keeps a render
context per tab), so tabs never share a config, an edit or a run. Elements the browser test
finds carry ``ecosim-*`` CSS classes.
"""

from __future__ import annotations

import html
import os
import re
import threading
from pathlib import Path
from typing import Any

import solara

from ecosim.app.charts import arms_figure, kpi_figure
from ecosim.app.compare import arm_html, arm_table, compared_kpis, robustness_html
from ecosim.app.form import (
    Field,
    apply_edits,
    as_overrides,
    check_edit,
    current_value,
    key_fields,
    parse_input,
    validate,
)
from ecosim.app.main import RESULTS_ENV, RUNS_ROOTS_ENV
from ecosim.app.run_dirs import openable_run_dir, readable_file, run_dir_for
from ecosim.app.runner import RunJob, Snapshot
from ecosim.app.series import KPIS, firm_series
from ecosim.app.sources import SOURCE_KINDS, Source, experiment_names, load_source
from ecosim.config import ConfigError

PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
#: Tables on the page: light rules (each cell sets its own alignment, numbers to the right).
TABLE_CSS = ("<style>.ecosim-table table {border-collapse: collapse; font-size: 15px; "
             "margin: 8px 0} .ecosim-table th, .ecosim-table td {padding: 4px 12px; "
             "border-bottom: 1px solid #ddd}</style>")


@solara.component
def HtmlTable(body: str, classes: list[str]) -> None:
    """A table built by ``ecosim.app.compare`` (every cell escaped there), inserted as HTML.

    The only HTML the page inserts as it is; every other text goes through Solara's text
    components, which show it as text.
    """
    solara.HTML(unsafe_innerHTML=TABLE_CSS + body, classes=["ecosim-table", *classes])


def results_dir() -> Path:
    """Where the page's runs go (``ecosim-app --results``; ``results/app`` by default)."""
    return Path(os.environ.get(RESULTS_ENV, "results/app"))


def runs_roots() -> list[Path]:
    """Where finished runs may be opened from: the results directory, then ``--runs-root``."""
    listed = os.environ.get(RUNS_ROOTS_ENV, "")
    return [Path(p) for p in listed.split(os.pathsep) if p] or [results_dir(), Path("results")]


def css_name(key: str) -> str:
    """A CSS class for a config key: ``firms.bank.model`` -> ``ecosim-field-firms-bank-model``."""
    return "ecosim-field-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)


def new_run_dir(source: Source, name: str) -> Path:
    """The run's directory: ``name`` under the results directory, and nowhere else.

    A blank name gets a new ``<date>-<time>-<source>-<id>`` folder.

    Raises:
        ConfigError: a name that leads outside the results directory (``ecosim.app.run_dirs``).
    """
    return run_dir_for(name, results_dir(), source.name and Path(source.name).stem or "default")


@solara.component
def ParameterInput(field: Field, value: Any, error: str, on_edit: Any) -> None:
    """One field of the form; the text typed stays shown with the schema's error when refused."""
    text, set_text = solara.use_state(str(value))

    def typed(new: Any) -> None:
        new_text = str(new) if new is not None else ""
        set_text(new_text)
        on_edit(field, new_text)

    classes = [css_name(field.key)]
    if field.kind == "choice":
        solara.Select(field.label, values=list(field.choices), value=str(value),
                      on_value=typed, classes=classes)
    elif field.kind == "switch":
        with solara.Column(classes=classes):
            solara.Checkbox(label=field.label, value=bool(value),
                            on_value=lambda on: on_edit(field, on))
    else:
        solara.InputText(field.label, value=text, on_value=typed, error=error or False,
                         classes=classes, continuous_update=False)
    if error and field.kind in ("choice", "switch"):
        solara.Error(error, classes=[f"{css_name(field.key)}-error"])


@solara.component
def ParameterForm(fields: list[Field], values: dict[str, Any], errors: dict[str, str],
                  on_edit: Any) -> None:
    """The key parameters, one collapsible panel per group (the market's open)."""
    groups: dict[str, list[Field]] = {}
    for field in fields:
        groups.setdefault(field.group, []).append(field)
    for group, members in groups.items():
        with solara.Details(summary=group, expand=group == "Market"):
            with solara.Columns([1, 1, 1]):
                for i in range(3):
                    with solara.Column():
                        for field in members[i::3]:
                            ParameterInput(field, values[field.key], errors.get(field.key, ""),
                                           on_edit).key(field.key)


@solara.component
def RunStatus(job: RunJob, on_finished: Any) -> None:
    """The progress bar, the cancel button and the outcome of a run (polled 4 times a second)."""

    def poll(closed: threading.Event):
        while not closed.is_set():  # set when the tab goes away: the run itself goes on
            snapshot = job.snapshot()
            yield snapshot
            if snapshot.finished:
                return
            closed.wait(0.25)

    result = solara.use_thread(poll, dependencies=[job], intrusive_cancel=False)
    snapshot: Snapshot = result.value or job.snapshot()
    finished = snapshot.finished
    solara.use_effect(lambda: on_finished(snapshot) if finished else None, [finished])
    with solara.Column(classes=["ecosim-run-status"]):
        if not finished:
            with solara.Row(style={"align-items": "center"}):
                solara.Text(f"{snapshot.message}: {100 * snapshot.progress:.0f} % of the steps, "
                            f"{snapshot.seconds:.0f} s", classes=["ecosim-run-message"])
                solara.Button("Cancel", on_click=job.cancel, color="warning",
                              classes=["ecosim-cancel"])
            solara.ProgressLinear(100 * snapshot.progress if snapshot.state == "running"
                                  else True, classes=["ecosim-progress"],
                                  style={"height": "12px", "margin-top": "8px"})
        elif snapshot.state == "done":
            solara.Success(f"Run complete: {snapshot.run_dir} ({snapshot.message})",
                           classes=["ecosim-run-done"])
        elif snapshot.state == "cancelled":
            solara.Warning(f"Run cancelled: {snapshot.message}", classes=["ecosim-run-cancelled"])
        else:
            solara.Error(f"Run failed: {snapshot.error}", classes=["ecosim-run-error"])


@solara.component
def FirmCharts(run_dir: Path) -> None:
    """Customers, revenue, profit, churn, CAC and LTV of every firm over time, per arm."""
    from ecosim.report.data import ReportData

    data = solara.use_memo(lambda: ReportData.from_run_dir(run_dir), [str(run_dir)])
    arm, set_arm = solara.use_state(data.arms[0])
    arm = arm if arm in data.arms else data.arms[0]
    series = solara.use_memo(
        lambda: firm_series(data.firm_metrics, data.config.time.discount_rate, arm),
        [str(run_dir), arm])
    if data.is_experiment:
        solara.Select("arm", values=data.arms, value=arm, on_value=set_arm,
                      classes=["ecosim-chart-arm"])
    with solara.Columns([1, 1], classes=["ecosim-charts"]):
        for column in range(2):
            with solara.Column():
                for kpi in list(KPIS)[column::2]:
                    solara.FigureMatplotlib(kpi_figure(series, kpi, data.firms, data.step_unit),
                                            dependencies=[str(run_dir), arm, kpi],
                                            format="png")


@solara.component
def CompareArms(run_dir: Path) -> None:
    """The arms of an experiment with 95 % intervals, and the robustness results if any."""
    from ecosim.report.data import ReportData

    data = solara.use_memo(lambda: ReportData.from_run_dir(run_dir), [str(run_dir)])
    kpis = compared_kpis(data)
    kpi, set_kpi = solara.use_state(kpis[0] if kpis else "customers")
    firm, set_firm = solara.use_state(data.focus_firm)
    if not data.is_experiment:
        solara.Info("One arm: nothing to compare. Start from an experiment to compare arms.")
        return
    with solara.Row():
        solara.Select("firm", values=data.firms, value=firm, on_value=set_firm,
                      classes=["ecosim-compare-firm"])
        solara.Select("KPI at the horizon", values=kpis, value=kpi, on_value=set_kpi,
                      classes=["ecosim-compare-kpi"])
    table = arm_table(data, firm, kpi)
    from ecosim.report.labels import kpi_info

    solara.FigureMatplotlib(arms_figure(table, kpi_info(kpi).short),
                            dependencies=[str(run_dir), firm, kpi], format="png")
    HtmlTable(arm_html(table, kpi), ["ecosim-compare-table"])
    robustness = robustness_html(data)
    if robustness:
        HtmlTable("<h4>Robustness over the assumptions</h4>" + robustness,
                  ["ecosim-robustness"])


@solara.component
def Downloads(run_dir: Path) -> None:
    """The run's report and deck."""
    with solara.Row(classes=["ecosim-downloads"]):
        for name, mime in (("report.md", "text/markdown"), ("deck.pptx", PPTX_MIME)):
            path = readable_file(run_dir, name)  # not a link out of the run directory
            if path is not None:
                solara.FileDownload(lambda p=path: p.read_bytes(), filename=name,
                                    label=f"Download {name}", mime_type=mime)
        solara.Text(f"Run directory: {run_dir}")


@solara.component
def Page() -> None:
    """The whole page of one tab."""
    kind, set_kind = solara.use_state(SOURCE_KINDS[0])
    name, set_name = solara.use_state("")
    source, set_source = solara.use_state(Source(SOURCE_KINDS[0]))
    edits, set_edits = solara.use_state({})
    errors, set_errors = solara.use_state({})
    run_name, set_run_name = solara.use_state("")
    job, set_job = solara.use_state(None)
    shown, set_shown = solara.use_state(None)  # the finished run directory on show
    problem, set_problem = solara.use_state("")
    opened, set_opened = solara.use_state("")  # the path typed to open a finished run
    open_error, set_open_error = solara.use_state("")
    generation, set_generation = solara.use_state(0)  # a new source: fresh inputs
    _, set_outcome = solara.use_state(("", ""))  # the last run's end: re-enables Run and Load

    def loaded() -> tuple[dict[str, Any] | None, Any, str]:
        try:
            tree = load_source(source)
            return tree, next(iter(validate(tree).values())), ""
        except ConfigError as error:
            return None, None, str(error)
        except OSError as error:  # a file that cannot be read
            return None, None, f"config file: {source.name}: {error.strerror or error}"

    tree, base_cfg, load_error = solara.use_memo(loaded, [source])
    cfg = solara.use_memo(
        lambda: next(iter(validate(apply_edits(tree, edits)).values())) if tree else None,
        [source, tuple(edits.items())])

    def load() -> None:
        set_edits({})
        set_errors({})
        set_problem("")
        set_generation(generation + 1)
        set_source(Source(kind, "" if kind == SOURCE_KINDS[0] else name))

    def on_edit(field: Field, text: Any) -> None:
        value = parse_input(text, field.kind) if isinstance(text, str) else text
        error = check_edit(tree, edits, field.key, value)
        set_errors({**{k: v for k, v in errors.items() if k != field.key},
                    **({field.key: error} if error else {})})
        if error is None:
            set_edits({**edits, field.key: value})

    def start() -> None:
        set_problem("")
        try:
            configs = validate(apply_edits(tree, edits))
        except ConfigError as error:
            set_problem(f"config error: {error}")
            return
        try:
            run_dir = new_run_dir(source, run_name)
        except ConfigError as error:
            set_problem(str(error))
            return
        set_shown(None)
        set_job(RunJob(configs, run_dir, raw=apply_edits(tree, edits),
                       overrides=as_overrides(edits), source=source.label()).start())

    def open_run() -> None:
        from ecosim.report.deck import check_run_dir

        try:
            path = openable_run_dir(opened, runs_roots())  # under a runs root, or refused
            check_run_dir(path)  # complete and readable, as ecosim-deck requires
        except ValueError as error:  # ConfigError is one
            set_open_error(str(error))
            return
        set_open_error("")
        set_shown(path)

    def finished(snapshot: Snapshot) -> None:
        set_outcome((str(snapshot.run_dir), snapshot.state))
        if snapshot.state == "done":
            set_shown(snapshot.run_dir)

    running = job is not None and not job.snapshot().finished
    solara.Title("ecosim — the page")
    with solara.Column(style={"max-width": "1400px", "margin": "0 auto", "padding": "12px"}):
        solara.HTML("h1", html.escape("ecosim — the economics of business ecosystems"))
        solara.Text("Pick a market, change its key parameters, run it, read and compare.")
        with solara.Card("1. Start from", classes=["ecosim-source"]):
            with solara.Row():
                solara.Select("source", values=list(SOURCE_KINDS), value=kind,
                              on_value=set_kind, classes=["ecosim-source-kind"])
                if kind == "experiment":
                    solara.Select("experiment", values=experiment_names(), value=name or None,
                                  on_value=set_name, classes=["ecosim-source-experiment"])
                elif kind == "config file":
                    solara.InputText("path of a YAML config", value=name, on_value=set_name,
                                     classes=["ecosim-source-file"])
                solara.Button("Load", on_click=load, color="primary", disabled=running,
                              classes=["ecosim-load"])
            solara.Text(f"Loaded: {source.label()}", classes=["ecosim-loaded"])
            if load_error:
                solara.Error(load_error, classes=["ecosim-load-error"])
        if tree is not None and cfg is not None:
            with solara.Card("2. Key parameters", classes=["ecosim-form"]):
                if base_cfg.experiment.arms:
                    solara.Text(f"{len(base_cfg.experiment.arms)} arms; an edit applies to "
                                "every arm (an arm that sets the same key keeps its own value).")
                fields = key_fields(cfg)
                values = {f.key: current_value(cfg, f.key) for f in fields}
                ParameterForm(fields, values, errors, on_edit).key(f"form-{generation}")
            with solara.Card("3. Run", classes=["ecosim-run"]):
                with solara.Row():
                    solara.InputText("run name (blank: a new folder under the results)",
                                     value=run_name, on_value=set_run_name,
                                     classes=["ecosim-run-name"])
                    solara.Button("Run", on_click=start, color="primary", disabled=running,
                                  classes=["ecosim-run-button"])
                if problem:
                    solara.Error(problem, classes=["ecosim-run-error"])
                if job is not None:
                    RunStatus(job, finished).key(str(job.run_dir))
        with solara.Card("Or open a finished run", classes=["ecosim-open"]):
            with solara.Row():
                solara.InputText("run directory (a run of the page or of the ecosim command)",
                                 value=opened, on_value=set_opened, classes=["ecosim-open-dir"])
                solara.Button("Open", on_click=open_run, classes=["ecosim-open-button"])
            if open_error:
                solara.Error(open_error, classes=["ecosim-open-error"])
        if shown is not None:
            with solara.Card("4. Customers, revenue, profit, churn, CAC and LTV per firm",
                             classes=["ecosim-results"]):
                FirmCharts(shown).key(f"charts-{shown}")
            with solara.Card("5. Compare arms", classes=["ecosim-compare"]):
                CompareArms(shown).key(f"compare-{shown}")
            with solara.Card("6. Download", classes=["ecosim-download"]):
                Downloads(shown).key(f"downloads-{shown}")
