"""Data types shared across the ingest pipeline.

Chunks themselves are llama-index ``TextNode`` objects (the shared data type
of the product); their metadata keys are listed in :data:`CHUNK_METADATA_KEYS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class IngestError(Exception):
    """A file that cannot be indexed, with a reason a person can act on.

    The message never includes the path: the caller prints
    ``<path>: <reason>`` so every report names the file exactly once.
    """

    status = "failed"


class NeedsOCR(IngestError):
    """The file has pages without a text layer and OCR is not available."""

    status = "needs_ocr"


@dataclass
class Page:
    """One page of a document as a viewer numbers it (1-based).

    Formats without pages (TXT, MD, HTML, DOCX) yield a single page 1.
    """

    number: int
    text: str
    ocr: bool = False


def page_ranges(numbers: list[int]) -> str:
    """Page numbers as a reader writes them, e.g. "2-4, 7": 999 repeated pages make one short warning."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


#: The council of a document nothing names one for (no manifest row, folder, file name or text).
UNKNOWN_COUNCIL = "unknown"


@dataclass
class DocumentMeta:
    """Descriptive metadata of one document, from the manifest or inferred."""

    council: str = UNKNOWN_COUNCIL
    doc_type: str = "other"
    title: str = ""
    date: str = ""  # ISO 8601, possibly partial: "2025", "2025-02", "2025-02-13"
    origin: str = "inferred"  # "manifest" or "inferred"
    notes: str = ""  # why each inferred field has its value ("council: folder trafford/ and ...; title: ...")
    mentions: tuple[str, ...] = ()  # short names of every council the text names (ingest.metadata.council_keys)

    @property
    def origin_note(self) -> str:
        """What ``clerk docs`` shows as the metadata's origin: where it came from and why."""
        return f"{self.origin}: {self.notes}" if self.notes else self.origin


@dataclass
class LoadedDocument:
    """A file after loading and cleaning: what the chunker works on."""

    path: Path
    source: str  # path as given to ingest, relative to the working folder where possible
    pages: list[Page]
    meta: DocumentMeta = field(default_factory=DocumentMeta)
    ocr_pages: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def text_chars(self) -> int:
        return sum(len(p.text) for p in self.pages)


#: Metadata keys every chunk node carries (all scalar, as Chroma requires).
CHUNK_METADATA_KEYS = (
    "doc_id",  # stable id of the document (from its source path)
    "source",  # file path as given to ingest
    "title",
    "council",
    "doc_type",
    "date",
    "page_start",  # 1-based page holding the chunk's first character
    "page_end",  # 1-based page holding its last character
    "section",  # breadcrumb, " > " separated, e.g. "Part 4 > 14. Motions on Notice"
    "char_start",  # offset of the first character in page_start's cleaned text
    "char_end",  # offset after the last character in page_end's cleaned text
    "ordinal",  # position of the chunk in its document, from 0
)
