"""PowerPoint .pptx loading: each slide a page, read the way a person reads the slide.

A slide's title comes first (it names what the slide is about, and the
chunker takes a short line above body text as a heading); then its text boxes
and placeholders from top to bottom and left to right, groups entered; tables
become header-carrying row lines like a spreadsheet's
(:func:`ingest.loaders.spreadsheet.table_text`); the speaker notes, which
often hold what the presenter actually said, follow a "Notes:" line. Slide
numbers, dates and footers repeated on every slide are left out. The package
is checked for zip bombs (:mod:`ingest.loaders.archive`) before python-pptx
unpacks it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.exc import PackageNotFoundError
from pptx.shapes.base import BaseShape
from pptx.shapes.group import GroupShape
from pptx.slide import Slide
from pptx.table import Table
from pptx.text.text import TextFrame

from clerk.settings import Settings
from ingest.loaders.archive import check_package
from ingest.loaders.spreadsheet import EMPTY, Cell, looks_numeric, table_text
from ingest.types import IngestError, Page

KIND = "PowerPoint .pptx file"
_FURNITURE = frozenset({PP_PLACEHOLDER.SLIDE_NUMBER, PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.HEADER})


def load_pptx(path: Path, settings: Settings) -> tuple[list[Page], list[str]]:
    """One page per slide, numbered as PowerPoint numbers them."""
    check_package(path, settings, KIND, ".pptx", "PowerPoint 97-2003 .ppt")
    try:
        deck = Presentation(str(path))
    except zipfile.BadZipFile as exc:
        raise IngestError(f"not a readable {KIND}: the zip package is damaged") from exc
    except PackageNotFoundError as exc:
        raise IngestError(f"not a readable {KIND}: no presentation inside the package") from exc
    except KeyError as exc:
        raise IngestError(f"not a readable {KIND}: a part is missing ({exc.args[0] if exc.args else exc})") from exc
    except ValueError as exc:  # another kind of Office content renamed to .pptx
        raise IngestError(f"not a readable {KIND}: it holds a different kind of Office content") from exc
    except Exception as exc:
        raise IngestError(f"not a readable {KIND}: {type(exc).__name__}") from exc
    return [Page(number, _slide_text(slide)) for number, slide in enumerate(deck.slides, 1)], []


def _slide_text(slide: Slide) -> str:
    title = slide.shapes.title
    blocks = [_frame_text(title.text_frame)] if title is not None and title.has_text_frame else []
    others = [s for s in slide.shapes if title is None or s.shape_id != title.shape_id]
    blocks.extend(_shape_blocks(others))
    notes = slide.notes_slide.notes_text_frame if slide.has_notes_slide else None
    if notes is not None and (text := _frame_text(notes)):
        blocks.append(f"Notes:\n{text}")
    return "\n\n".join(b for b in blocks if b)


def _shape_blocks(shapes: Iterable[BaseShape]) -> Iterator[str]:
    """Text of each shape in reading order: top to bottom, then left to right; groups read inside."""
    for shape in sorted(shapes, key=lambda s: (s.top or 0, s.left or 0)):
        if shape.is_placeholder and shape.placeholder_format.type in _FURNITURE:
            continue
        if isinstance(shape, GroupShape):
            yield from _shape_blocks(shape.shapes)
        elif shape.has_table:
            yield table_text(_table_rows(shape.table))
        elif shape.has_text_frame:
            yield _frame_text(shape.text_frame)


def _frame_text(frame: TextFrame) -> str:
    """Paragraphs one per line; a line break inside a paragraph (kept for layout) read as a space."""
    lines = (" ".join(p.text.replace("\v", " ").split()) for p in frame.paragraphs)
    return "\n".join(line for line in lines if line)


def _table_rows(table: Table) -> list[list[Cell]]:
    """Cells of each table row; a merged cell's text spread over its span, marked ``spanned`` to its right."""
    grid = [[EMPTY] * len(table.columns) for _ in table.rows]
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row.cells):
            if cell.is_spanned:
                continue
            text = " ".join(cell.text.split())
            if not text:
                continue
            numeric = looks_numeric(text)
            height, width = (cell.span_height, cell.span_width) if cell.is_merge_origin else (1, 1)
            for dr in range(height):
                for dc in range(width):
                    if r + dr < len(grid) and c + dc < len(grid[0]):
                        grid[r + dr][c + dc] = Cell(text, numeric, spanned=dc > 0)
    return grid
