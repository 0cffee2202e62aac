"""A file's own properties: the title and creation date its authoring tool stored (PDF info, DOCX core properties).

They are weak evidence (a title is often "Microsoft Word - GAC TOR v1.1" or a
template's name, and a creation date is when the file was made, not when the
meeting was held), so metadata inference uses them only where the text says
nothing better, and checks that a title reads as one.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

#: A PDF date: D:YYYYMMDD...
_PDF_DATE = re.compile(r"^(?:D:)?((?:19|20)\d{2})(\d{2})(\d{2})")


@dataclass(frozen=True)
class DocumentProperties:
    title: str = ""
    created: str = ""  # ISO YYYY-MM-DD, or ""


def document_properties(path: Path) -> DocumentProperties:
    """The stored title and creation date of a PDF or DOCX; empty for other formats or unreadable properties."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
        if head.startswith(b"%PDF"):
            return _pdf(path)
        if head.startswith(b"PK") and zipfile.is_zipfile(path):
            return _docx(path)
    except Exception:  # properties are a hint: a damaged file is reported by its loader, not here
        return DocumentProperties()
    return DocumentProperties()


def _pdf(path: Path) -> DocumentProperties:
    from pypdf import PdfReader

    from ingest.loaders.pdf import captured_pypdf_messages

    with captured_pypdf_messages():  # the loader has already reported the file's damage once
        reader = PdfReader(path)
        if reader.is_encrypted:
            return DocumentProperties()
        info = reader.metadata or {}
    m = _PDF_DATE.match(str(info.get("/CreationDate") or ""))
    created = f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else ""
    return DocumentProperties(str(info.get("/Title") or "").strip(), created)


def _docx(path: Path) -> DocumentProperties:
    with zipfile.ZipFile(path) as package:
        if "word/document.xml" not in package.namelist():
            return DocumentProperties()
    from docx import Document

    core = Document(str(path)).core_properties
    created = core.created.date().isoformat() if core.created else ""
    return DocumentProperties((core.title or "").strip(), created)
