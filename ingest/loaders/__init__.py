"""Turn a file on disk into raw pages of text, or a reason it cannot be read.

Every loader returns ``(pages, warnings)``: pages numbered as a viewer numbers
them, and short human-readable notes about anything odd that did not stop the
load. Anything that does stop it becomes an :class:`IngestError` whose message
a council officer can act on and which never repeats the path (the caller
prefixes it), so one bad file never crashes a batch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from clerk.settings import Settings
from ingest.loaders.docx import load_docx
from ingest.loaders.html import load_html
from ingest.loaders.pdf import load_pdf
from ingest.loaders.text import load_text
from ingest.types import IngestError, Page

__all__ = ["SUPPORTED_SUFFIXES", "load_pages"]

Loader = Callable[[Path, Settings], tuple[list[Page], list[str]]]

_LOADERS: dict[str, Loader] = {
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".html": load_html,
    ".htm": load_html,
    ".txt": load_text,
    ".md": load_text,
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_LOADERS)


def load_pages(path: Path, settings: Settings) -> tuple[list[Page], list[str]]:
    """Raw pages and warnings of one file; raises :class:`IngestError` with a short reason."""
    path = Path(path)
    loader = _loader_for(path)
    _check_size(path, settings)
    try:
        pages, warnings = loader(path, settings)
    except IngestError:
        raise
    except Exception as exc:  # a parser bug or an odd file must not stop the batch
        raise IngestError(f"could not be read ({type(exc).__name__}: {_without_path(str(exc), path)})") from exc
    if not any(p.text.strip() for p in pages):
        raise IngestError("no text found in the file")
    return pages, warnings


def _loader_for(path: Path) -> Loader:
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        shown = f"'{suffix}'" if suffix else "(no extension)"
        raise IngestError(f"unsupported file type {shown} (supported: {', '.join(sorted(SUPPORTED_SUFFIXES))})")
    return loader


def _check_size(path: Path, settings: Settings) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(f"cannot open the file ({exc.strerror or type(exc).__name__})") from exc
    if size == 0:
        raise IngestError("file is empty")
    limit = settings.max_file_mb * 1024 * 1024
    if size > limit:
        raise IngestError(f"file is {_size_text(size)}, over the {settings.max_file_mb:g} MB limit (CLERK_MAX_FILE_MB)")


def _size_text(size: int) -> str:
    """Sizes as people read them: MB for real files, KB for the tiny ones tests use."""
    mb = size / (1024 * 1024)
    return f"{mb:.1f} MB" if mb >= 0.1 else f"{size / 1024:.1f} KB"


def _without_path(message: str, path: Path) -> str:
    """Library messages often quote the path; the caller already names the file."""
    for form in sorted({str(path), str(path.resolve()), path.name}, key=len, reverse=True):
        message = message.replace(form, "the file")
    return message[:200]
