"""The layout of one slide of the deck: an action title, its content, the source and the number.

A 16:9 slide (13.33 × 7.5 inches) of python-pptx's default template, every slide laid out the
same way:

* the title in the layout's title placeholder (so it is editable and appears in the outline),
  left-aligned, its size chosen so that it fits its box;
* the content between the title and the footer: bullets in the layout's content placeholder, a
  picture scaled to fit, or a table whose font size is chosen so that it fits;
* the footer: the source line on the left, "3 / 14" on the right (a slide-number field).

Text is fitted by estimate, not by measurement: a character is taken as ``CHAR_EM`` of the font
size wide (DejaVu Sans, the widest font a renderer is likely to substitute for Calibri), so text
sized here fits in PowerPoint and in LibreOffice.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.oxml.xmlchemy import OxmlElement
from pptx.util import Emu, Inches, Pt

SLIDE_WIDTH, SLIDE_HEIGHT = Emu(12_192_000), Emu(6_858_000)  # 13.333 × 7.5 inches: 16:9
MARGIN = Inches(0.5)
WIDTH = SLIDE_WIDTH - 2 * MARGIN
TITLE_TOP, TITLE_HEIGHT = Inches(0.25), Inches(1.15)
CONTENT_TOP = Inches(1.5)
FOOTER_TOP, FOOTER_HEIGHT = Inches(7.0), Inches(0.35)
CONTENT_HEIGHT = FOOTER_TOP - Inches(0.05) - CONTENT_TOP
GREY = RGBColor(0x59, 0x59, 0x59)
TITLE_SIZES = (28, 26, 24, 22, 20, 18)
BODY_SIZES = (22, 20, 18, 16, 14, 12, 11)
TABLE_SIZES = (16, 14, 13, 12, 11, 10, 9)
#: Average width of a character in ems (bold text is wider), and line height in ems.
CHAR_EM, BOLD_EM, LINE_EM = 0.55, 0.62, 1.2
WRAP_AT = 32  # characters: a table cell's line longer than this is left to wrap
INSET = Inches(0.1)  # a text frame's default left and right inset
CELL_PAD = 4  # points: a table cell's top and bottom margins together
TITLE_ONLY, TITLE_AND_CONTENT = 5, 1  # layouts of the default template


@dataclass(frozen=True)
class Bullet:
    """One paragraph of a bullet list: a bold lead-in ("So what."), its text, its level (0, 1)."""

    text: str
    lead: str = ""
    level: int = 0


def wrapped_lines(text: str, width: Emu | int, size: float, em: float = CHAR_EM) -> int:
    """How many lines ``text`` takes in a box ``width`` wide at ``size`` points (an estimate)."""
    chars = max(int((width / 12_700) / (size * em)), 8)  # 12 700 EMU per point
    return sum(max(len(textwrap.wrap(part, chars)), 1) for part in text.split("\n"))


def _points(length: Emu | int) -> float:
    return length / 12_700


def new_slide(prs: Any, title: str, content: bool = False) -> Any:
    """A slide with its action title in the title placeholder (and a content placeholder)."""
    slide = prs.slides.add_slide(prs.slide_layouts[TITLE_AND_CONTENT if content else TITLE_ONLY])
    shape = slide.shapes.title
    shape.left, shape.top, shape.width, shape.height = MARGIN, TITLE_TOP, WIDTH, TITLE_HEIGHT
    frame = shape.text_frame
    frame.word_wrap, frame.auto_size = True, MSO_AUTO_SIZE.NONE
    frame.vertical_anchor = MSO_ANCHOR.MIDDLE
    text = title[:1].upper() + title[1:]
    size = next((s for s in TITLE_SIZES
                 if wrapped_lines(text, WIDTH - 2 * INSET, s, BOLD_EM) * s * LINE_EM
                 <= _points(TITLE_HEIGHT) - 8), TITLE_SIZES[-1])
    frame.text = text
    paragraph = frame.paragraphs[0]
    paragraph.alignment = PP_ALIGN.LEFT
    paragraph.font.size, paragraph.font.bold = Pt(size), True
    if content:
        body = slide.placeholders[1]
        body.left, body.top, body.width, body.height = MARGIN, CONTENT_TOP, WIDTH, CONTENT_HEIGHT
    return slide


def bullets_size(items: Sequence[Bullet], width: Emu | int, height: Emu | int,
                 sizes: Sequence[int] = BODY_SIZES) -> int:
    """The largest font size at which the bullets fit the box (the smallest if none does)."""
    def height_at(size: int) -> float:
        lines = sum(wrapped_lines(b.lead + " " + b.text, width - 2 * INSET
                                  - Inches(0.35 * (b.level + 1)), size) for b in items)
        return lines * size * LINE_EM + len(items) * size * 0.5  # space between paragraphs

    return next((s for s in sizes if height_at(s) <= _points(height) - 10), sizes[-1])


def fill_bullets(frame: Any, items: Sequence[Bullet], width: Emu | int, height: Emu | int,
                 sizes: Sequence[int] = BODY_SIZES) -> int:
    """Write bullets into a text frame at the largest size that fits; the size used."""
    size = bullets_size(items, width, height, sizes)
    frame.word_wrap, frame.auto_size = True, MSO_AUTO_SIZE.NONE
    for i, item in enumerate(items):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        paragraph.level = item.level
        paragraph.space_after = Pt(size * 0.5)
        if item.lead:
            run = paragraph.add_run()
            run.text = item.lead + " "
            run.font.bold = True
            run.font.size = Pt(size - 2 * item.level)
        run = paragraph.add_run()
        run.text = item.text
        run.font.size = Pt(size - 2 * item.level)
    return size


def bullet_slide(prs: Any, title: str, items: Sequence[Bullet], notes: str = "") -> Any:
    """A slide of bullets under an action title."""
    slide = new_slide(prs, title, content=True)
    body = slide.placeholders[1]
    fill_bullets(body.text_frame, items, WIDTH, CONTENT_HEIGHT)
    if notes:
        slide.notes_slide.notes_text_frame.text = notes
    return slide


def add_note(slide: Any, text: str, top: Emu | int, height: Emu | int, size: int = 12) -> None:
    """A small grey paragraph across the slide (a table's footnote, a figure's reading)."""
    box = slide.shapes.add_textbox(MARGIN, top, WIDTH, height)
    box.name = "Note"
    frame = box.text_frame
    frame.word_wrap, frame.auto_size = True, MSO_AUTO_SIZE.NONE
    frame.text = text
    frame.paragraphs[0].font.size = Pt(size)
    frame.paragraphs[0].font.color.rgb = GREY


def note_height(text: str, size: int = 12) -> Emu:
    """The height a note of ``text`` takes across the slide."""
    return Emu(int((wrapped_lines(text, WIDTH - 2 * INSET, size) * size * LINE_EM + 8) * 12_700))


def add_picture(slide: Any, png: Path, top: Emu | int, height: Emu | int) -> Any:
    """A picture as large as the box (the content area's width, ``height`` tall) allows, centred."""
    picture = slide.shapes.add_picture(str(png), 0, 0)
    scale = min(WIDTH / picture.width, height / picture.height)
    picture.width, picture.height = int(picture.width * scale), int(picture.height * scale)
    picture.left = Emu(int((SLIDE_WIDTH - picture.width) / 2))
    picture.top = Emu(int(top))
    return picture


def picture_slide(prs: Any, title: str, png: Path, note: str = "", notes: str = "") -> Any:
    """An action title over a picture, with an optional note under it and speaker notes."""
    slide = new_slide(prs, title)
    below = note_height(note) if note else 0
    add_picture(slide, png, CONTENT_TOP, CONTENT_HEIGHT - below)
    if note:
        add_note(slide, note, FOOTER_TOP - below, below)
    if notes:
        slide.notes_slide.notes_text_frame.text = notes
    return slide


def column_widths(frame: pd.DataFrame, width: Emu | int, size: int) -> list[int] | None:
    """Column widths (EMU) summing to ``width`` at ``size`` points; None if no word fits.

    Every column is at least as wide as its longest word in bold (no word is broken); what is
    left goes to the columns whose lines are longer than that, up to ``WRAP_AT`` characters,
    and any rest to the columns with longer lines (they wrap), in proportion to their widths.
    """
    def longest(column: Any, words: bool) -> int:
        cells = [str(v) for v in [column, *frame[column]]]
        return max(len(part) for cell in cells for line in cell.split("\n")
                   for part in (line.split() if words else [line]) or [""])

    def emu(chars: float, em: float) -> float:
        return chars * size * em * 12_700 + 2 * INSET

    floor = [emu(longest(c, True) + 2, BOLD_EM) for c in frame.columns]  # + a safety margin
    if sum(floor) > width:
        return None
    wish = [max(emu(min(longest(c, False), WRAP_AT), CHAR_EM) - f, 0.0)
            for c, f in zip(frame.columns, floor, strict=True)]
    spare = width - sum(floor)
    if sum(wish) > spare:
        widths = [f + spare * w / sum(wish) for f, w in zip(floor, wish, strict=True)]
    else:  # the rest goes to the columns that wrap, or to every column if none does
        widths = [f + w for f, w in zip(floor, wish, strict=True)]
        wraps = [longest(c, False) > WRAP_AT for c in frame.columns]
        takers = [v if wrap else 0.0 for v, wrap in zip(widths, wraps, strict=True)]
        if not any(wraps):
            takers = widths
        rest = width - sum(widths)
        widths = [v + rest * t / sum(takers) for v, t in zip(widths, takers, strict=True)]
    out = [int(v) for v in widths]
    out[-1] = int(width) - sum(out[:-1])
    return out


def _table_height(frame: pd.DataFrame, size: int, widths: Sequence[int]) -> float:
    """The estimated height of a table in points at ``size`` with these column widths."""
    rows = [list(frame.columns), *frame.astype(str).to_numpy().tolist()]
    return sum(max(wrapped_lines(str(v), w - 2 * INSET, size, BOLD_EM if i == 0 else CHAR_EM)
                   for v, w in zip(row, widths, strict=True)) * size * LINE_EM + CELL_PAD + 1
               for i, row in enumerate(rows))


def table_fits(frame: pd.DataFrame, width: Emu | int, height: Emu | int,
               sizes: Sequence[int] = TABLE_SIZES) -> bool:
    """Whether the table fits the box at one of the sizes (an estimate)."""
    for size in sizes:
        widths = column_widths(frame, width, size)
        if widths is not None and _table_height(frame, size, widths) <= _points(height):
            return True
    return False


def table_layout(frame: pd.DataFrame, width: Emu | int, height: Emu | int,
                 sizes: Sequence[int] = TABLE_SIZES) -> tuple[int, list[int]]:
    """The largest font size at which the table fits the box (an estimate), with its widths."""
    for size in sizes:
        widths = column_widths(frame, width, size)
        if widths is not None and _table_height(frame, size, widths) <= _points(height):
            return size, widths
    size = sizes[-1]
    widths = column_widths(frame, width, size)
    return size, widths or [int(width) // len(frame.columns)] * len(frame.columns)


def add_table(slide: Any, frame: pd.DataFrame, top: Emu | int, height: Emu | int) -> Any:
    """A table of strings (header row bold; first column bold) sized to fit the box."""
    size, widths = table_layout(frame, WIDTH, height)
    rows, cols = len(frame) + 1, len(frame.columns)
    row_height = Pt(size * LINE_EM + CELL_PAD + 1)
    shape = slide.shapes.add_table(rows, cols, MARGIN, top, WIDTH, row_height * rows)
    table = shape.table
    for j, w in enumerate(widths):
        table.columns[j].width = Emu(w)
    for i in range(rows):
        table.rows[i].height = row_height
    for j, column in enumerate(frame.columns):
        _cell(table.cell(0, j), str(column), size, bold=True)
    for i, row in enumerate(frame.itertuples(index=False), start=1):
        for j, value in enumerate(row):
            _cell(table.cell(i, j), str(value), size, bold=j == 0)
    return shape


def _cell(cell: Any, text: str, size: int, bold: bool = False) -> None:
    cell.text = text
    cell.margin_top = cell.margin_bottom = Pt(CELL_PAD / 2)
    for paragraph in cell.text_frame.paragraphs:
        paragraph.font.size = Pt(size)
        paragraph.font.bold = bold


def table_slide(prs: Any, title: str, frame: pd.DataFrame, note: str = "", notes: str = "",
                name: str = "Table") -> Any:
    """An action title over a table (its shape called ``name``), with a footnote under it.

    A table too long for one slide at the smallest size continues on the next slides, its
    rows split evenly, each part with the header row, the title marked "(1/2)", "(2/2)" and
    the note; the first slide is returned.
    """
    below = note_height(note) if note else 0
    height = CONTENT_HEIGHT - below - Inches(0.1)
    parts = 1
    while parts < len(frame) and not all(
            table_fits(chunk, WIDTH, height) for chunk in _split(frame, parts)):
        parts += 1
    first = None
    for i, chunk in enumerate(_split(frame, parts)):
        slide = new_slide(prs, title if parts == 1 else f"{title} ({i + 1}/{parts})")
        add_table(slide, chunk, CONTENT_TOP, height).name = name
        if note:
            add_note(slide, note, FOOTER_TOP - below, below)
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
        first = first or slide
    return first


def _split(frame: pd.DataFrame, parts: int) -> list[pd.DataFrame]:
    """The rows in ``parts`` consecutive, near-equal chunks."""
    size = -(-len(frame) // parts)
    return [frame.iloc[i:i + size] for i in range(0, len(frame), size)] or [frame]


def add_footer(slide: Any, source: str, number: int, total: int) -> None:
    """The source line (left) and "number / total" (right, a slide-number field) of a slide."""
    number_width = Inches(1.2)
    box = slide.shapes.add_textbox(MARGIN, FOOTER_TOP, WIDTH - number_width, FOOTER_HEIGHT)
    box.name = "Source"
    frame = box.text_frame
    frame.word_wrap, frame.auto_size = True, MSO_AUTO_SIZE.NONE
    frame.text = source
    frame.paragraphs[0].font.size = Pt(10)
    frame.paragraphs[0].font.color.rgb = GREY
    box = slide.shapes.add_textbox(SLIDE_WIDTH - MARGIN - number_width, FOOTER_TOP, number_width,
                                   FOOTER_HEIGHT)
    box.name = "Slide number"
    paragraph = box.text_frame.paragraphs[0]
    paragraph.alignment = PP_ALIGN.RIGHT
    field = OxmlElement("a:fld")
    field.set("id", "{B6F15528-21DE-4FAA-801E-634DDDAF4B2B}")
    field.set("type", "slidenum")
    properties = OxmlElement("a:rPr")
    properties.set("sz", "1000")
    field.append(properties)
    text = OxmlElement("a:t")
    text.text = str(number)
    field.append(text)
    paragraph._p.append(field)
    run = paragraph.add_run()
    run.text = f" / {total}"
    run.font.size = Pt(10)
    for element in paragraph._p.iter(qn("a:rPr")):
        solid = OxmlElement("a:solidFill")
        colour = OxmlElement("a:srgbClr")
        colour.set("val", str(GREY))
        solid.append(colour)
        element.append(solid)

