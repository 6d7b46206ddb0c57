"""A board-ready deck of a run: the verdict, the evidence, the assumptions, robustness, caveats.

``ecosim-deck RUN_DIR`` writes ``RUN_DIR/deck.pptx`` from a finished run directory (drawing the
figures, and writing ``report.md``, first if the run was made without them). The deck's figures
are its own copies in ``RUN_DIR/figures/deck``, drawn without their titles: each slide states the
finding once, in its title placeholder.

An experiment's deck: slide 1 states the claim, the model's verdict with its two intervals
(simulation noise, over assumptions), the so-what and the confidence; then one slide per figure
(the headline figure first), the Shapley split, the focus firm's units, the KPI table (totals at
market scale), the assumptions with their sources, robustness, and the caveats. A run without
arms gets its answer, its figures, the firms table and the caveats. Every slide has an action
title in its title placeholder, its number and the source line (version, commit, config, seed).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pptx import Presentation

from ecosim.config import ConfigError, load_config
from ecosim.report.data import ReportData, as_report_data
from ecosim.report.deck_tables import (
    assumptions_frame,
    currency,
    kpi_frame,
    kpi_note,
    kpi_title,
    robustness_frame,
    scale_note,
    settings_line,
    shapley_frame,
    shapley_note,
    shapley_title,
    unit_frame,
    unit_means,
    unit_note,
    unit_title,
)
from ecosim.report.figures import FigureSpec, draw_figures, plan_figures
from ecosim.report.findings import answer, shapley_headline
from ecosim.report.labels import human, kpi_info
from ecosim.report.report import LEFT_OUT, caveats, write_report
from ecosim.report.slides import (
    SLIDE_HEIGHT,
    SLIDE_WIDTH,
    Bullet,
    add_footer,
    bullet_slide,
    picture_slide,
    table_slide,
)
from ecosim.report.style import untitled
from ecosim.report.tables import firms_table, kpi_heading
from ecosim.report.verdict import (
    assumptions_sentence,
    confidence_sentence,
    headline_number,
    interval,
    noise_sentence,
    so_what,
    verdict_title,
)

#: Figures that belong to the robustness section rather than to the evidence.
ROBUSTNESS_FIGURES = ("robustness_tornado", "robustness_map")


def source_line(data: ReportData) -> str:
    """Where every number of the deck comes from: the version, commit, config and seed."""
    meta = data.metadata
    commit = meta.get("git_commit")
    commit_text = (f"commit {commit[:8]}" + (" (uncommitted changes)" if commit.endswith("+dirty")
                                             else "")) if commit else "commit unknown"
    r = meta.get("replications", data.replications)
    return (f"Source: ecosim {meta.get('ecosim_version', 'unknown')} · {commit_text} · "
            f"config {meta.get('config_hash', 'unknown')} · seed "
            f"{meta.get('seed', data.config.seed)}, {r} replication{'s' if r != 1 else ''}")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def verdict_bullets(data: ReportData) -> list[Bullet]:
    """Slide 1 of an experiment with a headline: claim, verdict, both intervals, so-what."""
    exp, verdict = data.experiment, data.verdict
    items = []
    head = exp.headline.label or kpi_info(exp.headline.kpi).label
    value = headline_number(data, data.headline.value)
    if exp.claim:
        test = exp.claim_test
        tested = test.text or (f"{test.op} {headline_number(data, test.value)}" if test.op else "")
        items.append(Bullet(exp.claim + (f" Tested as: {head} is {tested}." if tested else ""),
                            "The claim."))
    state = ("No claim test is declared" if verdict is None or verdict.holds is None
             else "The claim holds" if verdict.holds else "The claim does not hold")
    items.append(Bullet(f"{state}: {head} is {value}.", "The model's verdict."))
    items += [Bullet(text.split(": ", 1)[1], text.split(": ", 1)[0] + ":", level=1)
              for text in (noise_sentence(data), assumptions_sentence(data))]
    if so_what(data):
        items.append(Bullet(so_what(data), "So what."))
    confidence = confidence_sentence(data)
    if confidence:
        items.append(Bullet(confidence.split(": ", 1)[1], "Confidence:"))
    return items


def _first_slide(prs: Any, data: ReportData) -> None:
    """The verdict (an experiment with a headline) or the answer (any other run)."""
    exp = data.experiment
    if data.headline is not None:
        bullet_slide(prs, verdict_title(data), verdict_bullets(data), notes=exp.question)
        return
    sentences = [currency(data, s) for s in answer(data) if s]
    items = []
    if exp.question:
        items.append(Bullet(exp.question, "The question."))
    if exp.claim:
        items.append(Bullet(exp.claim, "The claim."))
    if data.is_experiment:
        kpi = (data.focus_kpis or ["arpu"])[0]
        title = (shapley_headline(data.shapley, data.focus_firm, kpi)
                 if exp.factors and not data.shapley.empty else kpi_title(data))
        items += [Bullet(s, "The answer." if i == 0 else "") for i, s in enumerate(sentences)]
        items.append(Bullet("not rated: the experiment declares no headline "
                            "(experiment.headline) to test its claim on.", "Confidence:"))
    else:
        title = sentences[0].rstrip(".") if sentences else data.title
        items += [Bullet(s) for s in sentences[1:]]
        r, n = data.replications, data.config.customers.n
        items.append(Bullet(f"one scenario without arms, so the slides compare its "
                            f"{len(data.firms)} firms: {n:,} customers, {data.horizon} "
                            f"{data.step_unit}s, {r} replication{'s' if r != 1 else ''}.",
                            "The run:"))
    bullet_slide(prs, title, items)


def _figure_slides(prs: Any, data: ReportData, specs: list[FigureSpec], folder: Path) -> None:
    """One slide per figure, its finding as the action title."""
    note = scale_note(data) if data.customer_weight != 1 else ""
    for spec in specs:
        picture_slide(prs, currency(data, spec.title), folder / f"{spec.name}.png",
                      note=note,
                      notes=spec.caption)


def _robustness_title(data: ReportData) -> str:
    head, verdict, span = data.experiment.headline, data.verdict, data.assumption_range
    label = _capital(head.label or kpi_info(head.kpi).label)
    text = f"{label} stays at {interval(data, *span)} over the assumptions' ranges"
    if verdict is None or verdict.holds is None or verdict.assumptions_cross is None:
        return text
    if verdict.assumptions_cross:
        return text + ": the verdict turns within them"
    return text + (": the claim holds in every variant" if verdict.holds
                   else ": the claim fails in every variant")


def _robustness_slides(prs: Any, data: ReportData, specs: dict[str, FigureSpec],
                       folder: Path) -> None:
    """The headline over the assumptions' ranges, or how to measure it."""
    if data.assumption_range is None or data.robustness.empty:
        name = data.experiment.name
        command = f"ecosim experiment={name} robustness=true" if name else (
            "ecosim ... robustness=true")
        items = [Bullet(assumptions_sentence(data), "Not measured.")]
        if data.experiment.assumptions:
            items.append(Bullet(f"{command} moves each assumed parameter of the assumptions "
                                f"slide to its low and its high value (a tornado) and maps "
                                f"the two named in experiment.robustness.map; it writes "
                                f"robustness.csv, and this slide shows the range.",
                                "To measure it:"))
        else:
            items.append(Bullet("the experiment declares no assumed parameters "
                                "(experiment.assumptions: label, keys, low, high, source) to "
                                "move.", "To measure it:"))
        title = "Robustness over the assumptions was not run"
        if data.headline is not None:
            title += ": the verdict is read at the default assumptions only"
        bullet_slide(prs, title, items)
        return
    note = assumptions_sentence(data)
    tornado = specs.get("robustness_tornado")
    if tornado is not None:
        picture_slide(prs, tornado.title, folder / f"{tornado.name}.png", note=note,
                      notes=tornado.caption)
    else:
        table_slide(prs, _robustness_title(data), robustness_frame(data), name="Robustness",
                    note=note + " Brackets: the 95% interval over replications (simulation "
                                "noise) at that setting.")
    if "robustness_map" in specs:
        spec = specs["robustness_map"]
        picture_slide(prs, spec.title, folder / f"{spec.name}.png", notes=spec.caption)


def _assumptions_slide(prs: Any, data: ReportData) -> None:
    frame = assumptions_frame(data)
    note = settings_line(data)
    if frame.empty:
        bullet_slide(prs, "The experiment declares no assumed parameters with ranges",
                     [Bullet("experiment.assumptions names none, so the answer is read at the "
                             "config's values only.", "Assumptions:"),
                      Bullet(note.split(": ", 1)[1], "Fixed:")])
        return
    unsourced = int((frame["source"] == "not given").sum())
    title = (f"{len(frame)} assumed parameters carry the answer, each moved over a sourced range"
             if not unsourced else
             f"{len(frame)} assumed parameters carry the answer; {unsourced} of their ranges "
             f"have no source")
    table_slide(prs, title, frame, note=note, name="Assumptions")


def _caveat_slides(prs: Any, data: ReportData) -> None:
    """What this run cannot tell (sample, horizon, caveats), then what the model leaves out."""
    items = [line[2:] for line in caveats(data) if line.startswith("- ")]
    items = [*[c for c in data.experiment.caveats if f"- {c}" not in caveats(data)], *items]
    own = []
    for item in items:
        if item.startswith("**Left out.**"):
            continue
        bold = re.match(r"\*\*(.+?)\*\*(:?)\s*(.*)", item)
        own.append(Bullet(_plain(bold[3]), _plain(bold[1] + bold[2])) if bold
                   else Bullet(_plain(item)))
    r = data.replications
    runs = f"{r} replication{'s' if r != 1 else ''} of {data.config.customers.n:,} customers"
    bullet_slide(prs, f"Caveats: {runs} over {data.horizon} {data.step_unit}s cannot tell "
                      f"everything", own)
    bullet_slide(prs, "What the model leaves out: read the direction and size of effects, not "
                      "their levels", [Bullet(_plain(text)) for text in LEFT_OUT])


def _plain(text: str) -> str:
    """Markdown emphasis and code marks removed."""
    return text.replace("**", "").replace("`", "")


def build_deck(data: ReportData, figures: list[FigureSpec], figures_dir: Path) -> Any:
    """A Presentation: verdict, figures, tables, assumptions, robustness and caveats.

    Every slide has its action title in the title placeholder, its number and the source line.
    """
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_WIDTH, SLIDE_HEIGHT
    _first_slide(prs, data)
    evidence = [s for s in figures if s.name not in ROBUSTNESS_FIGURES]
    _figure_slides(prs, data, evidence, figures_dir)
    if data.is_experiment:
        if data.experiment.factors and not data.shapley.empty:
            table_slide(prs, shapley_title(data), shapley_frame(data), note=shapley_note(data),
                        name="Shapley split")
        if not unit_means(data).empty:
            table_slide(prs, unit_title(data), unit_frame(data), note=unit_note(data),
                        name="Units")
        table_slide(prs, kpi_title(data), kpi_frame(data), note=kpi_note(data), name="KPIs")
        _assumptions_slide(prs, data)
        _robustness_slides(prs, data, {s.name: s for s in figures}, figures_dir)
    else:
        title, note, frame = summary_frame(data)
        table_slide(prs, title, frame, note=note, name="Firms")
    _caveat_slides(prs, data)
    source, total = source_line(data), len(prs.slides)
    for number, slide in enumerate(prs.slides, start=1):
        add_footer(slide, source, number, total)
    return prs


def summary_frame(data: ReportData) -> tuple[str, str, pd.DataFrame]:
    """A run without arms: the title, the footnote and the table of its firms (the market's)."""
    kpis = data.focus_kpis or ["arpu"]
    shown = list(dict.fromkeys(["customers", *kpis]))[:5]
    frame = firms_table(data.summary, data.firms, shown, data.baseline, with_ci=False)
    frame = frame.set_axis(["firm", *[currency(data, kpi_heading(k, data.step_unit))
                                      for k in shown]], axis=1)
    s = data.summary
    rows = s[(s["arm"] == data.baseline) & (s["kpi"] == "customers")]
    top = rows.sort_values("mean", ascending=False).iloc[0]
    title = (f"{top['firm']} leads the market with "
             f"{human(top['mean'])} customers at "
             f"{data.step_unit} {data.horizon}")
    r = data.replications
    note = (f"Mean over {r} replication{'s' if r > 1 else ''}; 95% CIs are in report.md. n/a: "
            f"not defined. " + scale_note(data))
    return title, note, frame


def draw_deck_figures(figures: list[FigureSpec], out_dir: str | Path) -> Path:
    """The deck's copies of the figures, drawn without their titles, in ``out_dir/figures/deck``.

    A slide states a figure's finding in its title placeholder; the copy in ``figures/`` (for
    report.md and the docs) keeps its own title. Copies already there are kept.

    Returns:
        The folder of the copies.
    """
    folder = Path(out_dir) / "figures" / "deck"
    folder.mkdir(parents=True, exist_ok=True)
    with untitled():
        for spec in figures:
            if not (folder / f"{spec.name}.png").is_file():
                spec.draw(folder / spec.name)
    return folder


def write_deck(result_like: Any, out_dir: str | Path) -> Path:
    """Write ``out_dir/deck.pptx``, drawing its figures (untitled) into ``out_dir/figures/deck``.

    Any figure missing from ``out_dir/figures`` (report.md links them) is drawn there too.

    Args:
        result_like: a ``RunResult`` (or an object with its attributes), a ``ReportData``, or
            the path of a finished run directory.
        out_dir: the run directory.

    Returns:
        The path of the deck.
    """
    data = as_report_data(result_like)
    out = Path(out_dir)
    figures = plan_figures(data)
    missing = [spec for spec in figures if not (out / "figures" / f"{spec.name}.png").is_file()]
    if missing:
        draw_figures(missing, out)
    path = out / "deck.pptx"
    build_deck(data, figures, draw_deck_figures(figures, out)).save(str(path))
    return path


#: The files of a complete run directory (``metadata.json`` is written last: the completeness
#: mark) and the key columns each table must have.
RUN_FILES = ("config.yaml", "firm_metrics.parquet", "unit_metrics.parquet",
             "cohort_retention.parquet", "metadata.json")
KEY_COLUMNS = {"firm_metrics": ("arm", "replication", "step", "firm"),
               "unit_metrics": ("arm", "replication", "step", "firm", "need"),
               "cohort_retention": ("arm", "replication", "firm", "cohort", "age")}


def check_run_dir(run_dir: Path) -> None:
    """Refuse a directory that is not a complete, readable run, naming the file at fault.

    Raises:
        ValueError: one line: a missing file (an incomplete run lacks ``metadata.json``), or a
            file that cannot be read (truncated parquet, malformed JSON or YAML), or a config
            that does not validate, or a table without its key columns.
    """
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir} is not a directory")
    absent = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if absent == ["metadata.json"]:
        raise ValueError(f"{run_dir} is not a complete run (no metadata.json: the run did not "
                         f"finish, or is still writing); run it again")
    if absent:
        raise ValueError(f"{run_dir} is not a finished run directory "
                         f"(missing {', '.join(absent)})")
    path = run_dir / "metadata.json"
    try:
        metadata = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot be read ({one_line(error)})") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(metadata).__name__}")
    path = run_dir / "config.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot be read ({one_line(error)})") from None
    try:
        load_config(raw if raw is not None else {})
    except (ConfigError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: {one_line(error)}") from None
    for name, keys in KEY_COLUMNS.items():
        path = run_dir / f"{name}.parquet"
        try:  # the footer and the first row group: a long run's table is not read whole
            file = pq.ParquetFile(path)
            columns = file.schema_arrow.names
            if file.num_row_groups:
                file.read_row_group(0, columns=[key for key in keys if key in columns])
        except (OSError, ValueError, KeyError, pa.ArrowException) as error:
            raise ValueError(f"{path}: cannot be read ({one_line(error)})") from None
        missing = [key for key in keys if key not in columns]
        if missing:
            raise ValueError(f"{path}: no column {', '.join(missing)}; not an ecosim table")
    for name in ("summary.csv", "shapley.csv"):
        path = run_dir / name
        if path.is_file():
            try:
                pd.read_csv(path)
            except (OSError, ValueError) as error:
                raise ValueError(f"{path}: cannot be read ({one_line(error)})") from None


def one_line(error: BaseException) -> str:
    """An error's message on one line."""
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``ecosim-deck RUN_DIR``: write RUN_DIR/deck.pptx.

    A directory that is not a complete, readable run is refused with one line and exit status 2.
    """
    parser = argparse.ArgumentParser(
        prog="ecosim-deck", description="Write a .pptx deck of a finished ecosim run directory.")
    parser.add_argument("run_dir", type=Path, help="the run directory (holds config.yaml)")
    args = parser.parse_args(argv)
    try:
        check_run_dir(args.run_dir)
        data = ReportData.from_run_dir(args.run_dir)
        path = write_deck(data, args.run_dir)
    except (OSError, ValueError, KeyError, pa.ArrowException) as error:
        print(f"ecosim-deck: {one_line(error)}", file=sys.stderr)
        sys.exit(2)
    print(f"ecosim-deck: wrote {path}")
    if not (args.run_dir / "report.md").is_file():  # the title slide points to it
        print(f"ecosim-deck: wrote {write_report(data, args.run_dir)}")


if __name__ == "__main__":
    main()
