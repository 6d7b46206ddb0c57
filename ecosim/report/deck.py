"""A slide deck of a run: the question and answer, one slide per figure, the summary table.

``ecosim-deck RUN_DIR`` writes ``RUN_DIR/deck.pptx`` from a finished run directory (drawing the
figures, and writing ``report.md``, first if the run was made without them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Emu, Inches, Pt

from ecosim.config import ConfigError, load_config
from ecosim.report.data import ReportData, as_report_data
from ecosim.report.figures import FigureSpec, draw_figures, plan_figures
from ecosim.report.findings import answer
from ecosim.report.report import write_report
from ecosim.report.tables import firms_table, wide_kpi_table

SLIDE_WIDTH, SLIDE_HEIGHT = Emu(12_192_000), Emu(6_858_000)  # 13.333 × 7.5 inches: 16:9
MARGIN = Inches(0.4)
GREY = RGBColor(0x59, 0x59, 0x59)


def _text(slide: Any, text: str, top: float, height: float, size: int, bold: bool = False,
          colour: RGBColor | None = None) -> None:
    """A full-width text box (top and height in inches)."""
    box = slide.shapes.add_textbox(MARGIN, Inches(top), SLIDE_WIDTH - 2 * MARGIN, Inches(height))
    frame = box.text_frame
    frame.word_wrap = True
    paragraph = frame.paragraphs[0]
    paragraph.text = text
    paragraph.font.size = Pt(size)
    paragraph.font.bold = bold
    if colour is not None:
        paragraph.font.color.rgb = colour


def _title_slide(prs: Any, data: ReportData) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    exp = data.experiment
    _text(slide, data.title, 0.5, 0.9, 36, bold=True)
    top = 1.5
    if exp.question:
        _text(slide, exp.question, top, 1.0, 22, colour=GREY)
        top += 1.2
    _text(slide, " ".join(s for s in answer(data) if s), top, 3.0, 24)
    sample = (f"{len(data.arms)} arm{'s' if len(data.arms) > 1 else ''} × "
              f"{data.replications} replication{'s' if data.replications > 1 else ''}, "
              f"{data.config.customers.n:,} customers, {data.horizon} {data.step_unit}s; "
              f"simulated with ecosim. Details and caveats: report.md.")
    _text(slide, sample, 6.6, 0.5, 14, colour=GREY)


def _figure_slide(prs: Any, png: Path, caption: str) -> None:
    """The figure as large as the slide allows (it carries its own title); caption in notes."""
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    picture = slide.shapes.add_picture(str(png), 0, 0)
    scale = min((SLIDE_WIDTH - 2 * MARGIN) / picture.width,
                (SLIDE_HEIGHT - 2 * MARGIN) / picture.height)
    picture.width, picture.height = int(picture.width * scale), int(picture.height * scale)
    picture.left = Emu(int((SLIDE_WIDTH - picture.width) / 2))
    picture.top = Emu(int((SLIDE_HEIGHT - picture.height) / 2))
    slide.notes_slide.notes_text_frame.text = caption


def summary_frame(data: ReportData) -> tuple[str, str, pd.DataFrame]:
    """The title, the footnote and the table of the summary slide."""
    kpis = data.focus_kpis or ["arpu"]
    unit, horizon = data.step_unit, data.horizon
    if data.is_experiment:
        title = f"{data.focus_firm} at {unit} {horizon}, by arm"
        note = (f"Each cell: the mean over {data.replications} replications; for the other arms, "
                f"the paired difference to {data.baseline} and its 95% CI in brackets (the arms "
                f"share random numbers, replication by replication). n/a: not defined.")
        return title, note, wide_kpi_table(data.summary, data.focus_firm, kpis, data.arms)
    title = f"Firms at {unit} {horizon}"
    note = (f"Mean over {data.replications} replication{'s' if data.replications > 1 else ''}; "
            f"95% CIs are in report.md. n/a: not defined.")
    shown = list(dict.fromkeys(["customers", *kpis]))[:5]
    return title, note, firms_table(data.summary, data.firms, shown, data.baseline,
                                    with_ci=False)


def _table_slide(prs: Any, data: ReportData) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    title, note, frame = summary_frame(data)
    _text(slide, title[:1].upper() + title[1:], 0.3, 0.8, 28, bold=True)
    rows, cols = len(frame) + 1, len(frame.columns)
    lines = max(str(v).count("\n") + 1 for v in frame.to_numpy().ravel())
    size = 14 if rows <= 6 else 12 if rows <= 9 else 10
    row_height = Pt(size * 1.25 * lines + 10)
    width = SLIDE_WIDTH - 2 * MARGIN
    shape = slide.shapes.add_table(rows, cols, MARGIN, Inches(1.2), width,
                                   min(row_height * rows, SLIDE_HEIGHT - Inches(2.0)))
    table = shape.table
    first = Inches(2.2)
    table.columns[0].width = first
    for j in range(1, cols):
        table.columns[j].width = Emu(int((width - first) / (cols - 1)))
    for j, column in enumerate(frame.columns):
        _cell(table.cell(0, j), str(column), size, bold=True)
    for i, row in enumerate(frame.itertuples(index=False), start=1):
        for j, value in enumerate(row):
            _cell(table.cell(i, j), str(value), size, bold=j == 0)
    _text(slide, note, 6.7, 0.6, 12, colour=GREY)


def _cell(cell: Any, text: str, size: int, bold: bool = False) -> None:
    cell.text = text
    for paragraph in cell.text_frame.paragraphs:
        paragraph.font.size = Pt(size)
        paragraph.font.bold = bold


def build_deck(data: ReportData, figures: list[FigureSpec], figures_dir: Path) -> Any:
    """A Presentation: title slide, one slide per figure (PNG), the summary table."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_WIDTH, SLIDE_HEIGHT
    _title_slide(prs, data)
    for spec in figures:
        _figure_slide(prs, figures_dir / f"{spec.name}.png", spec.caption)
    _table_slide(prs, data)
    return prs


def write_deck(result_like: Any, out_dir: str | Path) -> Path:
    """Write ``out_dir/deck.pptx``, drawing any missing figure into ``out_dir/figures`` first.

    Args:
        result_like: a ``RunResult`` (or an object with its attributes), a ``ReportData``, or
            the path of a finished run directory.
        out_dir: the run directory.

    Returns:
        The path of the deck.
    """
    data = as_report_data(result_like)
    out = Path(out_dir)
    folder = out / "figures"
    figures = plan_figures(data)
    missing = [spec for spec in figures if not (folder / f"{spec.name}.png").is_file()]
    if missing:
        draw_figures(missing, out)
    path = out / "deck.pptx"
    build_deck(data, figures, folder).save(str(path))
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
        raise ValueError(f"{path}: cannot be read ({_one_line(error)})") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(metadata).__name__}")
    path = run_dir / "config.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot be read ({_one_line(error)})") from None
    try:
        load_config(raw if raw is not None else {})
    except (ConfigError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: {_one_line(error)}") from None
    for name, keys in KEY_COLUMNS.items():
        path = run_dir / f"{name}.parquet"
        try:
            columns = pq.read_schema(path).names
            pq.read_table(path, columns=list(keys))
        except (OSError, ValueError, KeyError, pa.ArrowException) as error:
            raise ValueError(f"{path}: cannot be read ({_one_line(error)})") from None
        missing = [key for key in keys if key not in columns]
        if missing:
            raise ValueError(f"{path}: no column {', '.join(missing)}; not an ecosim table")
    for name in ("summary.csv", "shapley.csv"):
        path = run_dir / name
        if path.is_file():
            try:
                pd.read_csv(path)
            except (OSError, ValueError) as error:
                raise ValueError(f"{path}: cannot be read ({_one_line(error)})") from None


def _one_line(error: BaseException) -> str:
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
        print(f"ecosim-deck: {_one_line(error)}", file=sys.stderr)
        sys.exit(2)
    print(f"ecosim-deck: wrote {path}")
    if not (args.run_dir / "report.md").is_file():  # the title slide points to it
        print(f"ecosim-deck: wrote {write_report(data, args.run_dir)}")


if __name__ == "__main__":
    main()
