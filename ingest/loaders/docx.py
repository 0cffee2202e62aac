"""Word .docx loading: body paragraphs and tables in document order.

``Document.paragraphs`` skips tables entirely, and council policies keep real
content in them (the grants policy has five), so the body element is walked
directly. A table row becomes one line with cells joined by " | ", which the
cleaner and chunker keep whole. The package is checked for zip bombs
(:mod:`ingest.loaders.archive`) before python-docx unpacks it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

from docx import Document
from docx.document import Document as WordDocument
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from clerk.settings import Settings
from ingest.loaders.archive import check_package
from ingest.types import IngestError, Page

_P = qn("w:p")
_TBL = qn("w:tbl")
_SDT = qn("w:sdt")
_SDT_CONTENT = qn("w:sdtContent")
_TC = qn("w:tc")


def load_docx(path: Path, settings: Settings) -> tuple[list[Page], list[str]]:
    """One page holding the document's paragraphs and table rows, blank-line separated."""
    document = _open(path, settings)
    blocks = list(_blocks(document.element.body, document))
    return [Page(number=1, text="\n\n".join(b for b in blocks if b))], []


def _open(path: Path, settings: Settings) -> WordDocument:
    # a .docx is a zip package (python-docx would only say "not found"), checked before every part is read
    check_package(path, settings, "Word .docx file", ".docx", ".doc")
    try:
        return Document(str(path))
    except zipfile.BadZipFile as exc:
        raise IngestError("not a readable Word .docx file: the zip package is damaged") from exc
    except PackageNotFoundError as exc:
        raise IngestError("not a readable Word .docx file: no Word document inside the package") from exc
    except KeyError as exc:
        missing = exc.args[0] if exc.args else exc
        raise IngestError(f"not a readable Word .docx file: a part is missing ({missing})") from exc
    except ValueError as exc:  # e.g. a macro-enabled or template file renamed to .docx
        raise IngestError("not a readable Word .docx file: it holds a different kind of Office content") from exc
    except Exception as exc:
        raise IngestError(f"not a readable Word .docx file: {type(exc).__name__}") from exc


def _blocks(container: BaseOxmlElement, parent: WordDocument | _Cell) -> Iterator[str]:
    """Text of each paragraph and table directly in ``container``, in order (content controls entered)."""
    for child in container.iterchildren():
        if child.tag == _P:
            yield Paragraph(child, parent).text.strip()
        elif child.tag == _TBL:
            yield _table_text(Table(child, parent))
        elif child.tag == _SDT:
            content = child.find(_SDT_CONTENT)
            if content is not None:
                yield from _blocks(content, parent)


def _table_text(table: Table) -> str:
    """One line per row, cells joined by " | "; a merged cell counts once, empty cells are skipped."""
    lines = []
    for row in table.rows:
        cells = []
        for tc in row._tr.iterchildren(_TC):  # each physical cell once, so a merged cell is not repeated
            text = " ".join(_cell_text(tc, table).split())
            if text:
                cells.append(text)
        if cells:
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def _cell_text(tc: BaseOxmlElement, table: Table) -> str:
    """All text of a cell, nested tables included."""
    return " ".join(b for b in _blocks(tc, _Cell(tc, table)) if b)
