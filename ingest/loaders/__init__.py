"""Turn a file on disk into raw pages of text, or a reason it cannot be read.

Every loader returns ``(pages, warnings)``: pages numbered as a viewer numbers
them, and short human-readable notes about anything odd that did not stop the
load. Anything that does stop it becomes an :class:`IngestError` whose message
a council officer can act on and which never repeats the path (the caller
prefixes it), so one bad file never crashes a batch.

The file name is not trusted blindly: a file is refused by size before any
byte is read, and a file whose first bytes show another supported format (an
HTML error page saved as ``.pdf``, a PDF named ``.docx``, a CSV export named
``.xlsx``, a workbook named ``.docx``) is read as what it is, with a warning.
Text that comes out as glyph soup (a binary file named ``.txt``) is refused
rather than indexed; see :mod:`ingest.readability`.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Callable
from pathlib import Path

from clerk.settings import Settings
from ingest.loaders.docx import load_docx
from ingest.loaders.html import load_html
from ingest.loaders.pdf import load_pdf
from ingest.loaders.slides import load_pptx
from ingest.loaders.spreadsheet import load_csv, load_xlsx
from ingest.loaders.text import load_text
from ingest.readability import measure
from ingest.types import IngestError, Page

__all__ = ["SUPPORTED_SUFFIXES", "check_size", "load_pages", "oversized"]

Loader = Callable[[Path, Settings], tuple[list[Page], list[str]]]

_LOADERS: dict[str, Loader] = {
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".html": load_html,
    ".htm": load_html,
    ".txt": load_text,
    ".md": load_text,
    ".xlsx": load_xlsx,
    ".csv": load_csv,
    ".pptx": load_pptx,
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_LOADERS)

#: How a warning names each format: ("is ...", "read as ...").
_NAMES = {
    ".pdf": ("a PDF", "PDF"),
    ".docx": ("a Word .docx file", "Word .docx"),
    ".xlsx": ("an Excel .xlsx workbook", "Excel .xlsx"),
    ".pptx": ("a PowerPoint .pptx file", "PowerPoint .pptx"),
    ".html": ("an HTML page", "HTML"),
    ".csv": ("a CSV file", "CSV"),
}
#: Office formats and the part every package of that format holds.
_PACKAGES = {".docx": "word/document.xml", ".xlsx": "xl/workbook.xml", ".pptx": "ppt/presentation.xml"}
#: Suffixes of binary formats: an HTML page or a CSV table under one of these names is what its text says.
_BINARY_SUFFIXES = frozenset({".pdf", *_PACKAGES})
#: Formats told from text, which a text file may quote or resemble: they win only over a binary format's name.
_TEXT_FORMATS = frozenset({".html", ".csv"})


def load_pages(path: Path, settings: Settings) -> tuple[list[Page], list[str]]:
    """Raw pages and warnings of one file; raises :class:`IngestError` with a short reason."""
    path = Path(path)
    _loader_for(path)
    check_size(path, settings)
    suffix, notes = _real_suffix(path)
    loader = _LOADERS[suffix]
    try:
        pages, warnings = loader(path, settings)
    except IngestError:
        raise
    except Exception as exc:  # a parser bug or an odd file must not stop the batch
        raise IngestError(f"could not be read ({type(exc).__name__}: {_without_path(str(exc), path)})") from exc
    if not any(p.text.strip() for p in pages):
        raise IngestError("no text found in the file")
    if loader is not load_pdf:  # the PDF loader judges (and OCRs) each page itself
        _refuse_garbled(pages)
    return pages, notes + warnings


def _real_suffix(path: Path) -> tuple[str, list[str]]:
    """The suffix of the format the file really holds, and a warning when that is not what its name says.

    PDF and zip signatures are unambiguous and win over any name. HTML and CSV
    win only over a binary format's name: a text file may quote HTML, and a
    note or a Markdown table may have commas on every line.
    """
    named = path.suffix.lower()
    found = sniff(path)
    if found is None or found == named or (found == ".html" and named in (".htm", ".html")):
        return named, []
    if found in _TEXT_FORMATS and named not in _BINARY_SUFFIXES:
        return named, []
    if found == ".zip":
        if named in _PACKAGES:  # a package without its main part: the format's loader says what is missing
            return named, []
        raise IngestError(f"is a zip archive, not {_NAMES[named][0] if named in _NAMES else 'a ' + named + ' file'}")
    what, read_as = _NAMES[found]
    return found, [f"the file is named {named} but is {what}; read as {read_as}"]


def sniff(path: Path) -> str | None:
    """The format the first bytes of a file show: ".pdf", ".docx", ".xlsx", ".pptx", ".zip", ".html", ".csv", or None."""
    try:
        with path.open("rb") as fh:
            sample = fh.read(8192)
    except OSError:
        return None  # the loader reports why the file cannot be opened
    head = sample[:1024]
    if b"%PDF-" in head:  # the PDF header may follow up to 1 KB of junk
        return ".pdf"
    if head.startswith(b"PK\x03\x04"):
        return _package_kind(path)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return ".html"
    if text.startswith((b"<?xml", b"<!--")) and b"<html" in text:
        return ".html"
    if _is_csv(sample):
        return ".csv"
    return None


def _package_kind(path: Path) -> str | None:
    """Which Office format a zip package holds, ".zip" for none; None for a damaged one (its loader says why)."""
    try:
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
    except (zipfile.BadZipFile, OSError):
        return None
    return next((suffix for suffix, part in _PACKAGES.items() if part in names), ".zip")


def _is_csv(sample: bytes) -> bool:
    """Whether the first lines of a file are text split by one delimiter into the same two or more fields."""
    if b"\x00" in sample:
        return False
    lines = sample.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()[:-1][:20]  # the last may be cut
    lines = [line for line in lines if line.strip()]
    if len(lines) < 2 or any(ch < " " and ch != "\t" for line in lines for ch in line):
        return False
    for delimiter in ",;\t":
        counts = [len(fields) for fields in csv.reader(lines, delimiter=delimiter)]
        if counts[0] >= 2 and sum(n == counts[0] for n in counts) >= 0.8 * len(counts):
            return True
    return False


def _refuse_garbled(pages: list[Page]) -> None:
    """Refuse a document whose text is glyph soup (a binary file under a text name, a symbol-font export)."""
    readings = [measure(p.text) for p in pages if p.text.strip()]
    if readings and all(r.garbled for r in readings):
        raise IngestError(f"text is unreadable ({readings[0].reason()}); it does not look like a document")


def _loader_for(path: Path) -> Loader:
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        shown = f"'{suffix}'" if suffix else "(no extension)"
        raise IngestError(f"unsupported file type {shown} (supported: {', '.join(sorted(SUPPORTED_SUFFIXES))})")
    return loader


def check_size(path: Path, settings: Settings) -> None:
    """Refuse an empty or oversized file from its size alone, before any byte of it is read."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(f"cannot open the file ({exc.strerror or type(exc).__name__})") from exc
    if size == 0:
        raise IngestError("file is empty")
    if (reason := oversized(size, settings)) is not None:
        raise IngestError(reason)


def oversized(size: int, settings: Settings) -> str | None:
    """Why a file of ``size`` bytes is refused as too large (naming the limit and its setting), or None."""
    if size > settings.max_file_mb * 1024 * 1024:
        return f"file is {_size_text(size)}, over the {settings.max_file_mb:g} MB limit (CLERK_MAX_FILE_MB)"
    return None


def _size_text(size: int) -> str:
    """Sizes as people read them: MB for real files, KB for the tiny ones tests use."""
    mb = size / (1024 * 1024)
    return f"{mb:.1f} MB" if mb >= 0.1 else f"{size / 1024:.1f} KB"


def _without_path(message: str, path: Path) -> str:
    """Library messages often quote the path; the caller already names the file."""
    for form in sorted({str(path), str(path.resolve()), path.name}, key=len, reverse=True):
        message = message.replace(form, "the file")
    return message[:200]
