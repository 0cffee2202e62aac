"""PDF loading page by page: pypdf opens and checks the file, PDFium extracts the text, Tesseract reads scans.

pypdf validates the file and gives the clear reasons users need (truncated,
not a PDF, needs a password). Text comes from PDFium (pypdfium2), the engine
of Chrome's PDF viewer: on this corpus pypdf's text splits words apart
("m ust", "Rule 2 0.3"), which breaks keyword search and quotes, while PDFium
keeps them whole and is about 25 times faster. pypdf's text is the fallback
for a page PDFium cannot read.

pypdf reports recoverable damage (broken xref tables from macOS Quartz, missing
EOF markers) through :mod:`logging`; those messages are captured for the length
of a load and summarised as one warning, so a batch run does not print dozens
of "Ignoring wrong pointing object" lines for a file that reads fine.

A text layer can also be present and wrong: a font whose character map sends
each code to another letter extracts as glyph soup. Such pages are found by
:mod:`ingest.readability` and handled like pages with no text layer (OCR'd, or
dropped with a warning), so junk is never indexed as if it were text.

Tables are read last (:mod:`ingest.loaders.tables`, setting ``tables``), once
OCR and the readability checks have decided on today's PDFium text: a page
with a table gets that text with each table's region replaced by one line per
row carrying its column headers; every other page, and every OCR'd one, keeps
its text as it was.
"""

from __future__ import annotations

import logging
import re
import warnings as pywarnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from clerk.settings import Settings
from ingest.loaders.ocr import ocr_available, ocr_pdf_page
from ingest.loaders.tables import read_tables
from ingest.readability import Readability, measure
from ingest.types import IngestError, NeedsOCR, Page, page_ranges

#: A page with fewer non-space characters than this has no usable text layer.
MIN_TEXT_CHARS = 30

_DIGITS = re.compile(r"\d+")
_WHITESPACE = re.compile(r"\s+")
_FIRST_CLAUSE = re.compile(r"\n|\. | \{| \(|: ")


class _ListHandler(logging.Handler):
    """Collects log messages instead of printing them."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def captured_pypdf_messages() -> Iterator[list[str]]:
    """pypdf log records and Python warnings raised while the block runs, as strings."""
    logger = logging.getLogger("pypdf")
    handler = _ListHandler()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with pywarnings.catch_warnings(record=True) as caught:
            pywarnings.simplefilter("always")
            yield handler.messages
        handler.messages.extend(str(w.message) for w in caught)
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def load_pdf(path: Path, settings: Settings) -> tuple[list[Page], list[str]]:
    """Pages of a PDF (1-based, as a viewer numbers them) and warnings about the file."""
    warnings: list[str] = []
    with captured_pypdf_messages() as messages:
        reader = _open(path, messages)
        engine = _pdfium(path)
        try:
            pages = [Page(number=i + 1, text=_page_text(engine, reader, i, warnings)) for i in range(len(reader.pages))]
            blank = {p.number for p in pages if _text_chars(p.text) < MIN_TEXT_CHARS and not _has_image(engine, p)}
        finally:
            if engine is not None:
                engine.close()
    warnings[:0] = _summarise(messages)
    _fill_textless_pages(path, [p for p in pages if p.number not in blank], settings, warnings)
    read_tables(path, pages, settings.tables)
    return pages, warnings


def _open(path: Path, messages: list[str]) -> PdfReader:
    """A reader with its page list parsed, decrypted when an empty password opens it."""
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            _decrypt(reader)
        count = len(reader.pages)
    except IngestError:
        raise
    except Exception as exc:
        raise IngestError(f"not a readable PDF: {_short_reason(exc, messages)}") from exc
    if count == 0:
        raise IngestError("not a readable PDF: it has no pages")
    return reader


def _decrypt(reader: PdfReader) -> None:
    """Open owner-only encryption (common on council PDFs) with the empty user password."""
    try:
        result = reader.decrypt("")
    except DependencyError as exc:
        raise IngestError("PDF is encrypted with AES; opening it needs the 'cryptography' package") from exc
    if result == PasswordType.NOT_DECRYPTED:
        raise IngestError("PDF is encrypted and needs a password")


def _short_reason(exc: Exception, messages: list[str]) -> str:
    reason = str(exc).strip() or type(exc).__name__
    reason = reason.splitlines()[0][:120]
    joined = " ".join(messages).lower()
    if "eof marker not found" in joined:
        reason += " (the file looks truncated)"
    elif "invalid pdf header" in joined:
        reason += " (the file does not start like a PDF)"
    return reason


def _pdfium(path: Path) -> pdfium.PdfDocument | None:
    """PDFium's view of the file, or None when only pypdf can read it."""
    try:
        return pdfium.PdfDocument(str(path))
    except Exception:
        return None


def _has_image(engine: pdfium.PdfDocument | None, page: Page) -> bool:
    """Whether a page holds any image, i.e. anything OCR could read. Blank pages are left blank."""
    if engine is None:
        return True
    pdf_page = engine[page.number - 1]
    try:
        return any(True for _ in pdf_page.get_objects(filter=(pdfium_raw.FPDF_PAGEOBJ_IMAGE,), max_depth=5))
    except Exception:
        return True
    finally:
        pdf_page.close()


def _pdfium_text(engine: pdfium.PdfDocument, index: int) -> str:
    page = engine[index]
    try:
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_range()
        finally:
            textpage.close()
    finally:
        page.close()
    # PDFium ends lines with CRLF and marks hyphens it considers soft with U+FFFE.
    return text.replace("\r\n", "\n").replace("\ufffe", "-")


def _page_text(engine: pdfium.PdfDocument | None, reader: PdfReader, index: int, warnings: list[str]) -> str:
    """Text of one page; a page that fails is reported and left empty (OCR may still read it)."""
    if engine is not None and index < len(engine):
        try:
            return _pdfium_text(engine, index)
        except Exception:
            pass  # fall back to pypdf for this page
    try:
        return reader.pages[index].extract_text() or ""
    except Exception as exc:
        warnings.append(f"page {index + 1} could not be read ({type(exc).__name__}: {str(exc)[:80]})")
        return ""


def _summarise(messages: list[str]) -> list[str]:
    """One warning for all pypdf messages, e.g. "35 pypdf warnings (broken xref table)"."""
    if not messages:
        return []
    kinds = Counter(_kind(m) for m in messages)
    described = "; ".join(kind for kind, _ in kinds.most_common(2))
    plural = "s" if len(messages) != 1 else ""
    return [f"{len(messages)} pypdf warning{plural} ({described})"]


def _kind(message: str) -> str:
    """A short, countable name for a pypdf message (they embed object numbers and font dictionaries)."""
    lowered = message.lower()
    if "wrong pointing object" in lowered or "xref" in lowered:
        return "broken xref table"
    if "eof marker" in lowered:
        return "missing EOF marker"
    if "fonttools" in lowered:
        return "a font needs fontTools to decode fully"
    first = _FIRST_CLAUSE.split(message.strip(), maxsplit=1)[0] or "unnamed warning"
    return _DIGITS.sub("N", first)[:80]


def _text_chars(text: str) -> int:
    return len(_WHITESPACE.sub("", text))


def _garbled_pages(pages: list[Page]) -> dict[int, Readability]:
    """Pages whose text layer is glyph soup (see :mod:`ingest.readability`), by number; repeated texts measured once."""
    seen: dict[str, Readability] = {}
    out = {}
    for page in pages:
        if _text_chars(page.text) < MIN_TEXT_CHARS:
            continue
        reading = seen.get(page.text) or seen.setdefault(page.text, measure(page.text))
        if reading.garbled:
            out[page.number] = reading
    return out


def _fill_textless_pages(path: Path, pages: list[Page], settings: Settings, warnings: list[str]) -> None:
    """OCR pages without a readable text layer, or say plainly that they need it.

    A garbled layer (glyph soup from a broken font map) is treated like a
    missing one: OCR reads what the page shows; without OCR the junk is
    dropped, never indexed, and the pages are named in a warning.
    """
    missing = [p for p in pages if _text_chars(p.text) < MIN_TEXT_CHARS]
    garbled = _garbled_pages(pages)
    if not missing and not garbled:
        return
    if settings.ocr and ocr_available():
        for page in missing:
            _ocr_into(path, page, settings, warnings)
        _ocr_garbled(path, [p for p in pages if p.number in garbled], settings, warnings)
        return
    why = "OCR is not available (install tesseract-ocr)" if settings.ocr else "OCR is turned off (CLERK_OCR)"
    hint = "install tesseract-ocr" if settings.ocr else "turn it on with CLERK_OCR=true"
    if len(missing) + len(garbled) == len(pages):
        if garbled:
            reason = next(iter(garbled.values())).reason()
            raise NeedsOCR(f"text layer is unreadable ({reason}); needs OCR ({hint})")
        raise NeedsOCR(f"no text layer; needs OCR ({hint})")
    for page in pages:
        if page.number in garbled:
            page.text = ""  # glyph soup must not reach the index
    if missing:
        warnings.append(f"{_pages_text(missing)} no text layer and {why}")
    if garbled:
        reason = next(iter(garbled.values())).reason()
        unreadable = [p for p in pages if p.number in garbled]
        warnings.append(f"{_pages_text(unreadable)} an unreadable text layer ({reason}) and {why}; not indexed")


def _pages_text(pages: list[Page]) -> str:
    """The start of a warning about ``pages``: "page 3 has" or "pages 3, 5 have"."""
    if len(pages) == 1:
        return f"page {pages[0].number} has"
    return f"pages {page_ranges([p.number for p in pages])} have"


def _ocr_into(path: Path, page: Page, settings: Settings, warnings: list[str]) -> None:
    """Replace a page's text with Tesseract's reading when that reading has more text."""
    try:
        text = ocr_pdf_page(path, page.number - 1, settings.ocr_dpi, settings.ocr_lang)
    except Exception as exc:
        warnings.append(f"OCR failed on page {page.number} ({type(exc).__name__}: {str(exc)[:80]})")
        return
    if _text_chars(text) > _text_chars(page.text):
        page.text = text
        page.ocr = True


def _ocr_garbled(path: Path, pages: list[Page], settings: Settings, warnings: list[str]) -> None:
    """Replace unreadable text layers with OCR; a page OCR cannot read either is left empty."""
    if not pages:
        return
    for page in pages:
        page.text = ""
        _ocr_into(path, page, settings, warnings)
        if page.ocr and measure(page.text).garbled:
            page.text, page.ocr = "", False
    read = [p for p in pages if p.ocr]
    lost = [p for p in pages if not p.ocr]
    if read:
        warnings.append(f"{_pages_text(read)} an unreadable text layer; read by OCR instead")
    if lost:
        warnings.append(f"{_pages_text(lost)} an unreadable text layer and OCR found no readable text; not indexed")
