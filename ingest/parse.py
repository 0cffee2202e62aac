"""Everything that happens to one file before embedding: load, clean, describe, chunk.

Runs in worker processes (see :mod:`ingest.pipeline`) so parsing overlaps with
embedding in the main process. Returns plain picklable results; a file that
cannot be read comes back as an error outcome, never as an exception, so one
bad file never stops a batch.

A page that repeats an earlier page of the same document word for word (a
form printed 1,000 times, a scan fed through twice) keeps its number but not
its text: the first copy is indexed and cited, the copies are named in a
warning, so they cannot flood retrieval with identical passages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clerk.settings import Settings
from ingest.chunk import MIN_REPEAT_WORDS, Chunker, ChunkingConfig, embedding_text
from ingest.clean import clean_pages
from ingest.corrections import CorrectionError, read_sidecar
from ingest.corrections import apply as apply_overrides
from ingest.loaders import load_pages
from ingest.loaders.properties import document_properties
from ingest.metadata import ManifestIndex, resolve_metadata
from ingest.tokens import token_counter
from ingest.types import IngestError, LoadedDocument, Page, page_ranges

if TYPE_CHECKING:
    from llama_index.core.schema import TextNode


@dataclass
class ParseJob:
    path: Path
    source: str
    doc_id: str
    #: An officer's corrections kept in the registry (ingest.corrections); a sidecar beside the file adds to them.
    overrides: dict[str, str] = field(default_factory=dict)


@dataclass
class ParseOutcome:
    """A parsed file ready to embed, or the reason it could not be parsed."""

    job: ParseJob
    doc: LoadedDocument | None = None
    nodes: list[TextNode] = field(default_factory=list)
    embed_texts: list[str] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)  # word pieces of each chunk's text
    embedded_tokens: int = 0  # word pieces the model reads, header included, capped at its window
    error: str | None = None
    status: str = "indexed"
    overrides: dict[str, str] = field(default_factory=dict)  # the corrections applied (registry and sidecar)


_STATE: dict[str, object] = {}


def _chunker(settings: Settings) -> Chunker:
    key = f"chunker:{settings.embed_model_path}:{settings.chunk_tokens}:{settings.chunk_min_tokens}"
    if key not in _STATE:
        config = ChunkingConfig(settings.chunk_tokens, settings.chunk_min_tokens, settings.chunk_overlap_sentences)
        _STATE[key] = Chunker(token_counter(settings.embed_model_path), config)
    return _STATE[key]  # type: ignore[return-value]


def _manifests() -> ManifestIndex:
    if "manifests" not in _STATE:
        _STATE["manifests"] = ManifestIndex()
    return _STATE["manifests"]  # type: ignore[return-value]


def blank_repeated_pages(pages: list[Page]) -> list[int]:
    """Empty the text of every page that repeats an earlier page (spacing ignored); their numbers.

    Pages under :data:`ingest.chunk.MIN_REPEAT_WORDS` words ("This page is
    intentionally left blank") are left alone: they cannot flood anything.
    """
    first: set[str] = set()
    repeated = []
    for page in pages:
        key = " ".join(page.text.split())
        if key.count(" ") + 1 < MIN_REPEAT_WORDS:
            continue
        if key in first:
            page.text = ""
            repeated.append(page.number)
        else:
            first.add(key)
    return repeated


def _pages_phrase(numbers: list[int]) -> str:
    """The start of the repeated-pages warning: "page 4 repeats an earlier page" or "pages 2-1000 repeat ..."."""
    if len(numbers) == 1:
        return f"page {numbers[0]} repeats an earlier page"
    return f"pages {page_ranges(numbers)} repeat earlier pages"


#: Pages whose running headers and footers are kept for metadata (a cover page often has none).
FURNITURE_PAGES = 3


@dataclass
class ReadPages:
    """A file's cleaned pages as they are indexed, the warnings met reading it, and its first page's furniture."""

    pages: list[Page]
    warnings: list[str]
    #: Lines at the top and bottom of the first pages that cleaning took off (running headers and footers): they
    #: often carry the council, the document's name and its date ("Trafford Council Constitution – October 2019").
    furniture: str = ""


def read_pages(path: Path, settings: Settings) -> ReadPages:
    """Load and clean a file as ingest indexes it; IngestError when no page has text."""
    raw, warnings = load_pages(path, settings)
    opening_raw = [p.text for p in raw[:FURNITURE_PAGES]]
    repeats = blank_repeated_pages(raw)  # before cleaning: 999 copies would look like running headers
    pages: list[Page] = clean_pages(raw)
    repeats += blank_repeated_pages(pages)  # pages that differed only in page furniture
    if repeats:
        warnings.append(f"{_pages_phrase(repeats)} word for word; indexed once")
    if not any(p.text.strip() for p in pages):
        raise IngestError("no text found in the file after cleaning")
    furniture: list[str] = []
    for before, after in zip(opening_raw, pages, strict=False):
        kept = " ".join(after.text.split())
        lines = [" ".join(line.split()) for line in before.split("\n") if line.strip()]
        edges = lines[:3] + lines[3:][-3:]  # where running headers and footers sit
        furniture += [line for line in edges if line not in kept and line not in furniture]
    return ReadPages(pages, warnings, "\n".join(furniture))


def parse_file(job: ParseJob, settings: Settings) -> ParseOutcome:
    """Load, clean, describe and chunk one file."""
    try:
        read = read_pages(job.path, settings)
        pages, warnings = read.pages, read.warnings
        meta = resolve_metadata(job.path, pages, _manifests(), read.furniture, document_properties(job.path))
        try:
            overrides = read_sidecar(job.path) | job.overrides
        except CorrectionError as exc:
            overrides = job.overrides
            warnings.append(f"metadata corrections not applied: {exc}")
        meta = apply_overrides(meta, overrides)
        doc = LoadedDocument(
            path=job.path,
            source=job.source,
            pages=pages,
            meta=meta,
            ocr_pages=sum(p.ocr for p in pages),
            warnings=warnings,
        )
        chunker = _chunker(settings)
        nodes = chunker.chunk(doc, job.doc_id)
        texts = [embedding_text(meta.title, n.metadata["section"], n.text) for n in nodes]
        counter = chunker.counter
        tokens = counter.count([n.text for n in nodes])
        embedded = sum(min(t + 2, counter.window) for t in counter.count(texts))
        return ParseOutcome(job, doc, nodes, texts, tokens, embedded, overrides=overrides)
    except IngestError as exc:
        return ParseOutcome(job, error=str(exc), status=exc.status)
    except Exception as exc:  # a parser bug must not stop the batch either
        return ParseOutcome(job, error=f"could not be processed ({type(exc).__name__}: {exc})", status="failed")
