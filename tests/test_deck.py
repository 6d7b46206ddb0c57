"""The deck: a real experiment with robustness read back slide by slide, then rendered.

The run is conf/experiment/umbrella_vs_convenience.yaml on 2,000 customers for 12 months with
2 replications and a 2 × 2 robustness map, written as ``ecosim`` writes a run directory. The
deck is read back with python-pptx (titles in placeholders, numbering, source lines, the
tables at market scale, figures drawn without their own titles) and rendered with LibreOffice
(skipped only where it is not installed, and never in CI). A tiny
conf/experiment/convenient_entrant.yaml checks that the deck's tables, titles and the report's
answer compare each arm only with its reference in ``experiment.compare``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import time
import unicodedata
from collections import namedtuple
from pathlib import Path

import matplotlib.image
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from matplotlib.text import Text
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER
from pptx.util import Inches
from test_report import raw_market

from ecosim.cli import write_run_dir
from ecosim.config import arm_configs, register_configs
from ecosim.config.store import CONF_DIR
from ecosim.experiment import run_experiment
from ecosim.report import ReportData
from ecosim.report.deck import build_deck, source_line, write_deck
from ecosim.report.deck import main as deck_main
from ecosim.report.figures import plan_figures
from ecosim.report.findings import answer
from ecosim.report.labels import format_difference, format_value, human
from ecosim.report.report import LEFT_OUT, render_report
from ecosim.report.slides import BOLD_EM, TABLE_SIZES, WIDTH, table_layout
from ecosim.report.style import captured_figures, untitled
from ecosim.report.verdict import assumptions_sentence, interval, noise_sentence
from ecosim.robustness import prepare, run_robustness

pytestmark = pytest.mark.slow

OVERRIDES = ["experiment=umbrella_vs_convenience", "customers.n=2000", "time.horizon=12",
             "replications=2", "robustness=true", "experiment.robustness.grid=2",
             "output.figures=true", "output.deck=true"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """``ecosim experiment=umbrella_vs_convenience robustness=true`` (small), in-process."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        raw = compose("config", overrides=OVERRIDES)
    configs = arm_configs(raw)
    cfg = next(iter(configs.values()))
    plan = prepare(raw, cfg)
    result = run_experiment(configs, progress=False)
    result.robustness = run_robustness(plan, result.kpis, progress=False)
    out = tmp_path_factory.mktemp("umbrella")
    write_run_dir(result, out)
    return out


@pytest.fixture(scope="module")
def data(run_dir: Path) -> ReportData:
    return ReportData.from_run_dir(run_dir)


@pytest.fixture(scope="module")
def deck(run_dir: Path):
    return Presentation(str(run_dir / "deck.pptx"))


def texts(slide) -> str:
    """Every text of a slide: text frames and table cells."""
    parts = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            parts.append(shape.text_frame.text)
        if shape.has_table:
            parts += [cell.text for row in shape.table.rows for cell in row.cells]
    return "\n".join(parts)


def named(deck, name: str):
    """The slide holding the shape called ``name``, and that shape."""
    found = [(slide, shape) for slide in deck.slides for shape in slide.shapes
             if shape.name == name]
    assert len(found) == 1, f"{len(found)} shapes called {name}"
    return found[0]


def table_frame(shape) -> pd.DataFrame:
    rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_every_slide_has_a_title_placeholder_its_number_and_the_source(deck, run_dir: Path):
    metadata = json.loads((run_dir / "metadata.json").read_text())
    slides = list(deck.slides)
    assert len(slides) >= 12
    for number, slide in enumerate(slides, start=1):
        title = slide.shapes.title
        assert title is not None and title.is_placeholder, number
        assert title.placeholder_format.type == PP_PLACEHOLDER.TITLE, number
        assert len(title.text_frame.text) > 20, (number, title.text_frame.text)
        footer = {s.name: s.text_frame.text for s in slide.shapes if s.has_text_frame}
        assert footer["Slide number"] == f"{number} / {len(slides)}"
        source = footer["Source"]
        for part in (f"ecosim {metadata['ecosim_version']}", f"commit {metadata['git_commit'][:8]}",
                     f"config {metadata['config_hash']}", f"seed {metadata['seed']}",
                     f"{metadata['replications']} replications"):
            assert part in source, (number, part, source)
        for shape in slide.shapes:  # nothing leaves the slide
            assert shape.left >= 0 and shape.top >= 0, (number, shape.name)
            assert shape.left + shape.width <= deck.slide_width, (number, shape.name)
            assert shape.top + shape.height <= deck.slide_height, (number, shape.name)
    assert deck.slide_width * 9 == deck.slide_height * 16


def test_first_slide_states_claim_verdict_so_what_and_confidence(deck, data: ReportData):
    slide = deck.slides[0]
    exp = data.experiment
    verdict = data.verdict
    assert verdict is not None and verdict.holds is not None
    title = slide.shapes.title.text_frame.text
    assert "%" in title and ("not the claimed" in title or "as the claim says" in title)
    body = slide.placeholders[1].text_frame.text
    assert exp.claim in body
    assert "simulation noise" in body.lower() and "over assumptions" in body.lower()
    assert (exp.so_what.holds if verdict.holds else exp.so_what.fails) in body
    assert f"Confidence: {verdict.confidence}" in body
    # the two intervals, each as the one sentence verdict.py writes for it
    paragraphs = body.split("\n")
    assert noise_sentence(data) in paragraphs and assumptions_sentence(data) in paragraphs
    assert assumptions_sentence(data).startswith(
        f"Over assumptions: {interval(data, *data.assumption_range)} across ")


def test_one_picture_per_figure_below_its_title(deck, data: ReportData, run_dir: Path):
    specs = [s for s in plan_figures(data) if not s.name.startswith("robustness_")]
    slides = list(deck.slides)[1:1 + len(specs)]
    for spec, slide in zip(specs, slides, strict=True):
        title = (spec.title[:1].upper() + spec.title[1:]).replace("currency", "EUR")
        assert slide.shapes.title.text_frame.text == title
        pictures = [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == 1, spec.name
        placeholder = slide.shapes.title
        assert pictures[0].top >= placeholder.top + placeholder.height, spec.name
        assert slide.notes_slide.notes_text_frame.text == spec.caption
        # the deck's own copy, drawn without the title the placeholder already states
        copy = run_dir / "figures" / "deck" / f"{spec.name}.png"
        assert pictures[0].image.blob == copy.read_bytes(), spec.name
        assert copy.read_bytes() != (run_dir / "figures" / f"{spec.name}.png").read_bytes()


def test_deck_figures_are_drawn_without_their_title(data: ReportData, tmp_path: Path):
    """Inside ``untitled`` a figure has no suptitle and its panels take the title's room."""
    spec = next(s for s in plan_figures(data) if s.name == "kpi_bars")
    tops = {}
    for name, context in (("titled", contextlib.nullcontext()), ("untitled", untitled())):
        with context, captured_figures() as figures:
            spec.draw(tmp_path / name)
        fig = figures[0]
        fig.canvas.draw()
        texts = [t.get_text() for t in fig.findobj(Text) if t.get_visible()]
        assert (fig._suptitle is not None) == (name == "titled")
        assert any(spec.title[:30] in t.replace("\n", " ") for t in texts) == (name == "titled")
        tops[name] = max(ax.get_position().y1 for ax in fig.axes if ax.get_visible())
        plt.close(fig)
    assert tops["untitled"] > tops["titled"] + 0.03


def test_kpi_table_is_the_markets(deck, data: ReportData, run_dir: Path):
    slide, shape = named(deck, "KPIs")
    table = table_frame(shape)
    assert data.customer_weight == 50  # 100,000 market customers over 2,000 simulated
    s = data.summary
    market = s[(s["arm"] == data.baseline) & (s["firm"] == "bank")
               & (s["kpi"] == "cum_profit")]["mean"].iloc[0]
    column = next(c for c in table.columns if c.startswith("profit over the run"))
    assert "EUR" in column
    # the run records the market's money: the deck shows the tables as written
    assert table.at[0, column] == format_value("cum_profit", market)
    raw = pd.read_parquet(run_dir / "firm_metrics.parquet")
    recorded = raw[(raw["arm"] == data.baseline) & (raw["firm"] == "bank")]
    assert recorded.groupby("replication")["profit"].sum().mean() == pytest.approx(market)
    # counts are the market's too: whole customers, 50 per simulated one
    assert (recorded["customers"] % 50 == 0).all() and recorded["customers"].max() > 2000
    assert "the run simulated 2,000, each standing for 50" in texts(slide)
    # a per-customer KPI stays as simulated
    arpu = s[(s["arm"] == data.baseline) & (s["firm"] == "bank") & (s["kpi"] == "arpu")]
    assert table.iat[0, 1] == format_value("arpu", arpu["mean"].iloc[0])
    assert list(table["arm"]) == [data.experiment.labels[arm] for arm in data.arms]


def test_shapley_split_and_unit_view_are_in_the_deck(deck, data: ReportData):
    slide, shape = named(deck, "Shapley split")
    table = table_frame(shape)
    labels = data.experiment.labels
    factors = set(data.shapley["factor"])
    assert factors == {"umbrella", "convenience"}
    # factors in words, as experiment.labels names them, in the table and the title
    assert set(table["factor"]) == {labels[f] for f in factors} == {
        "Umbrella brand only", "Convenience only"}
    title = slide.shapes.title.text_frame.text
    assert title.split(" contributes most")[0] in {labels[f] for f in factors}
    assert len(table) == len(data.shapley)
    slide, shape = named(deck, "Units")
    table = table_frame(shape)
    assert "delivery" in table.columns and "education" not in table.columns
    u = data.unit_metrics
    both = u[(u["arm"] == "both") & (u["firm"] == "bank") & (u["need"] == "delivery")
             & (u["step"] == data.horizon)]
    row = list(data.arms).index("both")
    customers, revenue = table.at[row, "delivery"].split("\n")
    assert customers == f"{human(both['customers'].mean())} customers"  # at market scale
    assert revenue == f"{human(both['revenue'].mean())} EUR"


def test_assumptions_slide_lists_every_assumption_with_its_source(deck, data: ReportData):
    slide, shape = named(deck, "Assumptions")
    table = table_frame(shape)
    assumptions = data.experiment.assumptions
    assert len(table) == len(assumptions) >= 3
    for a, row in zip(assumptions.values(), table.itertuples(), strict=True):
        assert row.assumption == a.label and row.source == a.source and a.source
        assert row.range == (f"×{a.low:g} to ×{a.high:g} the default" if a.scale
                             else f"{a.low:g} to {a.high:g}")
    text = texts(slide)
    assert "2,000 customers simulated for a market of 100,000" in text
    assert "12 months" in text and "seed 0" in text and "2 replications" in text


def test_robustness_slide_states_the_range_over_assumptions(deck, data: ReportData):
    low, _ = data.assumption_range
    sentence = f"Over assumptions: {100 * low:.0f}%"
    slides = [s for s in deck.slides if sentence in texts(s)]
    assert len(slides) == 2  # slide 1 and the robustness slide
    robustness = slides[1]
    assert any(s.shape_type == MSO_SHAPE_TYPE.PICTURE or s.has_table for s in robustness.shapes)


def test_an_experiment_without_robustness_says_how_to_run_it(data: ReportData, run_dir: Path):
    plain = dataclasses.replace(data, robustness=pd.DataFrame())
    deck = build_deck(plain, plan_figures(plain), run_dir / "figures")
    slides = [s for s in deck.slides if "was not run" in s.shapes.title.text_frame.text]
    assert len(slides) == 1
    assert "ecosim experiment=umbrella_vs_convenience robustness=true" in texts(slides[0])
    assert "not measured" in deck.slides[0].placeholders[1].text_frame.text


def test_caveats_and_what_the_model_leaves_out(deck, data: ReportData):
    text = "\n".join(texts(s) for s in list(deck.slides)[-2:])
    for caveat in data.experiment.caveats:
        assert text.count(caveat) == 1
    for item in LEFT_OUT:
        assert item.replace("`", "") in text
    assert "2 replications:" in text and "2,000 simulated customers." in text
    assert "stand for a market of 100,000 (customers.market_size)" in text
    assert "calibrated to published aggregates" in text and "illustrative" not in text


def test_source_line_without_a_commit(data: ReportData):
    meta = {k: v for k, v in data.metadata.items() if k != "git_commit"}
    line = source_line(dataclasses.replace(data, metadata=meta))
    assert "commit unknown" in line and f"config {meta['config_hash']}" in line


def test_ecosim_deck_reads_a_run_directory(run_dir: Path, deck, tmp_path: Path, capsys) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("deck.pptx"))
    deck_main([str(copy)])
    assert len(Presentation(str(copy / "deck.pptx")).slides) == len(deck.slides)
    assert "deck.pptx" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        deck_main([str(tmp_path / "empty")])
    assert stop.value.code == 2


def broken_copy(run_dir: Path, tmp_path: Path, name: str, change) -> Path:
    """A copy of the run directory without its deck, with ``change(path)`` done to one file."""
    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("deck.pptx"))
    change(run / name)
    return run


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("name, change, message", [
    ("metadata.json", Path.unlink,
     "is not a complete run (no metadata.json: the run did not finish, or is still writing)"),
    # where half the file ends (in a string, after a number) sets json's words: not checked
    ("metadata.json", truncate, "metadata.json: cannot be read ("),
    ("firm_metrics.parquet", truncate, "firm_metrics.parquet: cannot be read ("),
    ("cohort_retention.parquet", lambda p: p.write_bytes(b"\x00" * 64),
     "cohort_retention.parquet: cannot be read ("),
    ("config.yaml", lambda p: p.write_text(p.read_text().replace("n: 2000", "n: -5")),
     "config.yaml: customers.n: -5 is not allowed"),
    ("config.yaml", lambda p: p.write_text("customers: {n: 5\n"),
     "config.yaml: cannot be read (while parsing a flow mapping"),
], ids=["incomplete", "metadata-truncated", "parquet-truncated", "parquet-garbage",
        "config-invalid", "config-malformed"])
def test_ecosim_deck_refuses_incomplete_or_damaged_runs(run_dir: Path, tmp_path: Path,
                                                        capsys, name, change,
                                                        message) -> None:
    """An incomplete run (no metadata.json) used to get a deck, and damaged files tracebacks:
    one line naming the file, exit status 2, no deck."""
    run = broken_copy(run_dir, tmp_path, name, change)
    with pytest.raises(SystemExit) as stop:
        deck_main([str(run)])
    assert stop.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith("ecosim-deck: ") and message in err, err
    if name != "metadata.json":
        assert err.startswith(f"ecosim-deck: {run / name}: ")
    assert not (run / "deck.pptx").exists()


def test_a_run_without_arms_gets_its_answer_firms_and_caveats(tmp_path: Path) -> None:
    result = run_experiment(arm_configs(raw_market(replications=1, entrant=True)),
                            progress=False)
    deck = Presentation(str(write_deck(result, tmp_path)))
    slides = list(deck.slides)
    assert slides[0].shapes.title.text_frame.text.startswith("At month 6, ")
    _, shape = named(deck, "Firms")
    assert list(table_frame(shape)["firm"]) == ["bank", "courier", "neobank", "latecomer"]
    assert "One replication" in texts(slides[-2])
    assert [s.shapes.title is not None for s in slides] == [True] * len(slides)
    numbers = [next(s.text_frame.text for s in slide.shapes if s.name == "Slide number")
               for slide in slides]
    assert numbers == [f"{i} / {len(slides)}" for i in range(1, len(slides) + 1)]


#: A shape's box (EMU).
Rect = namedtuple("Rect", "left top width height")


def pdf_pages(pdf: Path) -> int:
    """The pages of a PDF, counted in its page tree (no poppler needed)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf.read_bytes()))


def words(text: str) -> list[str]:
    """The words of a text, for a comparison that ignores line breaks and ligatures (ﬁ)."""
    return re.findall(r"[A-Za-z]{4,}", unicodedata.normalize("NFKC", text))


def test_deck_renders_with_libreoffice(run_dir: Path, deck, tmp_path: Path) -> None:
    """Every slide renders to its own page, which shows its title and is not blank.

    Skipped only where LibreOffice is not installed, and never in CI (``CI=true``: .ci/run
    installs it). The text check needs poppler's pdftotext and pdftoppm; without them the test
    fails and says so.
    """
    if shutil.which("soffice") is None:
        message = ("soffice not installed: install libreoffice-impress and poppler-utils "
                   "(.ci/run does) to render the deck")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI: {message}")
        pytest.skip(message)
    home = tmp_path / "home"  # LibreOffice writes its profile there, not in the user's home
    home.mkdir()
    start = time.perf_counter()
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path),
                    str(run_dir / "deck.pptx")], check=True, capture_output=True, timeout=120,
                   env={**os.environ, "HOME": str(home)})
    seconds = time.perf_counter() - start
    pdf = tmp_path / "deck.pdf"
    slides = list(deck.slides)
    assert pdf_pages(pdf) == len(slides), f"{pdf_pages(pdf)} pages for {len(slides)} slides"
    missing = [tool for tool in ("pdftotext", "pdftoppm") if shutil.which(tool) is None]
    assert not missing, (f"{', '.join(missing)} not installed: install poppler-utils to check "
                         f"each rendered page's text and ink")
    for number, slide in enumerate(slides, start=1):
        page = subprocess.run(["pdftotext", "-f", str(number), "-l", str(number), "-layout",
                               str(pdf), "-"], check=True, capture_output=True, text=True,
                              timeout=60).stdout
        title = words(slide.shapes.title.text_frame.text)
        shown = set(words(page))
        assert title and all(w in shown for w in title), (number, title, page[:300])
        assert f"{number} / {len(slides)}" in page, number
    blank = tmp_path / "blank.pptx"  # a slide with nothing on it, rendered the same way
    empty = Presentation()
    empty.slide_width, empty.slide_height = deck.slide_width, deck.slide_height
    empty.slides.add_slide(empty.slide_layouts[6])
    empty.save(str(blank))
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path),
                    str(blank)], check=True, capture_output=True, timeout=120,
                   env={**os.environ, "HOME": str(home)})
    for name in ("deck", "blank"):
        subprocess.run(["pdftoppm", "-r", "30", "-png", str(tmp_path / f"{name}.pdf"),
                        str(tmp_path / name)], check=True, timeout=120)
    nothing = matplotlib.image.imread(next(tmp_path.glob("blank-*.png")))[..., :3]
    images = sorted(tmp_path.glob("deck-*.png"))
    assert len(images) == len(slides)
    for slide, path in zip(slides, images, strict=True):
        pixels = matplotlib.image.imread(path)[..., :3]
        assert pixels.shape == nothing.shape, path.name
        inked = abs(pixels - nothing).max(axis=2) > 0.25  # what differs from a blank slide
        # the content: a figure's own box, else the area between the title and the footer
        box = next((s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE),
                   None)
        if box is None:
            title = slide.shapes.title
            footer = min(s.top for s in slide.shapes if s.name in ("Source", "Slide number"))
            box = Rect(0, title.top + title.height, deck.slide_width,
                       footer - title.top - title.height)
        height, width = inked.shape
        rows = slice(int(box.top / deck.slide_height * height) + 1,
                     int((box.top + box.height) / deck.slide_height * height))
        columns = slice(int(box.left / deck.slide_width * width),
                        int((box.left + box.width) / deck.slide_width * width))
        content = inked[rows, columns].mean()
        # a line chart inks about 5 % of its box, a table or bullets over 10 %
        assert content > 0.02, f"{path.name}: its content is blank ({content:.1%} inked)"
    assert seconds < 120


def test_table_columns_keep_their_longest_word_whole() -> None:
    """A column is never narrower than its longest word in bold, and the widths fill the slide."""
    frame = pd.DataFrame({"firm": ["latecomer"], "customers": ["54.0"],
                          "note": [" ".join(["word"] * 60)]})
    size, widths = table_layout(frame, WIDTH, Inches(3))
    assert size == max(TABLE_SIZES) and sum(widths) == WIDTH
    for column, width in zip(frame.columns, widths, strict=True):
        word = max(len(w) for w in [column, *" ".join(frame[column]).split()])
        assert width >= word * size * BOLD_EM * 12_700, column
    assert widths[2] > widths[0] + widths[1]  # the long text takes the rest


def test_a_table_too_long_for_a_slide_continues_on_the_next() -> None:
    """Every row appears once, each part fits its slide, and the parts are numbered."""
    from pptx import Presentation as New

    from ecosim.report.slides import CONTENT_HEIGHT, table_fits, table_slide

    frame = pd.DataFrame({"arm": [f"arm {i}" for i in range(40)],
                          "value": [f"{i}\n+{i}\n[{i - 1}, {i + 1}]" for i in range(40)]})
    assert not table_fits(frame, WIDTH, CONTENT_HEIGHT)
    prs = New()
    table_slide(prs, "Forty arms", frame, note="a note")
    titles = [slide.shapes.title.text for slide in prs.slides]
    assert len(titles) > 1 and titles[0] == f"Forty arms (1/{len(titles)})"
    rows = [row.cells[0].text for slide in prs.slides for shape in slide.shapes
            if shape.has_table for row in list(shape.table.rows)[1:]]
    assert rows == list(frame["arm"])


#: conf/experiment/convenient_entrant.yaml, tiny: its entrant still arrives (month 12 of 14).
ENTRANT = ["experiment=convenient_entrant", "customers.n=1000", "time.horizon=14",
           "replications=2"]


@pytest.fixture(scope="module")
def entrant() -> ReportData:
    """An experiment with compare groups: entry against none, the bank's answer against entry."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        raw = compose("config", overrides=ENTRANT)
    data = ReportData.from_result(run_experiment(arm_configs(raw), progress=False))
    assert data.experiment.compare == [
        ["no_entrant", "entrant"], ["entrant", "entrant_bank_matches"],
        ["entrant", "entrant_bank_responds_3m", "entrant_bank_responds_6m"]]
    return data


@pytest.fixture(scope="module")
def entrant_deck(entrant: ReportData, tmp_path_factory):
    return build_deck(entrant, [], tmp_path_factory.mktemp("entrant"))


#: Each compared arm and its reference, as the experiment's compare groups pair them.
PAIRS = {"entrant": "no_entrant", "entrant_bank_matches": "entrant",
         "entrant_bank_responds_3m": "entrant", "entrant_bank_responds_6m": "entrant"}


def paired(data: ReportData, arm: str, reference: str, kpi: str) -> float:
    """The bank's mean over replications of kpi(arm, r) − kpi(reference, r), computed here."""
    values = data.kpis[data.kpis["firm"] == "bank"].set_index(["arm", "replication"])[kpi]
    return float((values.loc[arm] - values.loc[reference]).mean())


def test_kpi_table_compares_each_arm_with_its_groups_reference(entrant_deck, entrant):
    labels = entrant.experiment.labels
    slide, shape = named(entrant_deck, "KPIs")
    table = table_frame(shape)
    assert list(zip(table["arm"], table["compared with"], strict=True)) == [
        ("No entrant", "(reference)"),
        ("Entrant, bank does nothing", "No entrant"),
        ("Entrant, bank matches it", "Entrant, bank does nothing"),
        ("Bank responds in 3 months", "Entrant, bank does nothing"),
        ("Bank responds in 6 months", "Entrant, bank does nothing")]
    column = next(c for c in table.columns if c.startswith("profit over the run"))
    for row, (arm, reference) in enumerate(PAIRS.items(), start=1):
        diff = paired(entrant, arm, reference, "cum_profit")
        across = paired(entrant, arm, "no_entrant", "cum_profit")
        mean, difference, _ = table.at[row, column].split("\n")
        assert difference == format_difference("cum_profit", diff), labels[arm]
        if reference != "no_entrant":  # never against the arm of another group
            assert difference != format_difference("cum_profit", across)
    note = texts(slide)
    assert "No entrant for Entrant, bank does nothing" in note
    assert "Entrant, bank does nothing for Entrant, bank matches it" in note


def test_titles_and_answer_compare_within_groups(entrant_deck, entrant):
    labels = entrant.experiment.labels
    kpi = entrant.focus_kpis[0]
    assert kpi == "customers"  # more is better: the best arm gains most on its reference
    best = max(PAIRS, key=lambda arm: paired(entrant, arm, PAIRS[arm], kpi))
    reference = PAIRS[best]
    slide, _ = named(entrant_deck, "KPIs")
    title = slide.shapes.title.text_frame.text
    assert title.startswith(labels[best]) and title.count("(") == 1
    assert f"({labels[reference]})" in title
    first, second = answer(entrant)
    assert first.startswith(f"{labels[best]} ")
    assert f" under {labels[reference]} (customers)" in first
    assert format_difference(kpi, paired(entrant, best, reference, kpi)) in first
    assert "of 4 arms differ from their group's reference" in second
    report = render_report(entrant, [])
    assert " ".join([first, second]) in report


def test_unit_title_compares_an_arm_with_its_reference(entrant_deck, entrant):
    labels = entrant.experiment.labels
    slide, _ = named(entrant_deck, "Units")
    title = slide.shapes.title.text_frame.text
    found = re.search(r"customers under (.+), against [^ ]+ under (.+) \(month 14\)", title)
    assert found, title
    arm = next(a for a in PAIRS if labels[a] == found[1])
    assert found[2] == labels[PAIRS[arm]]


def test_report_tables_name_arms_in_words_with_their_config_names(entrant):
    report = render_report(entrant, [])
    labels = entrant.experiment.labels
    for arm, label in labels.items():
        assert f"| **{label}** | `{arm}` |" in report  # the arms table
    # the KPI table: each arm with its reference; the investment table in words
    assert "| customers | No entrant | (reference) |" in report
    assert "|  | Entrant, bank matches it | Entrant, bank does nothing |" in report
    investment = report[report.index("## Investment economics"):
                        report.index("## How the experiment was run")]
    assert "| Entrant, bank matches it |" in investment
    assert "entrant_bank_matches" not in investment and "no_entrant" not in investment
