"""The values that flow through the assistant: filters, passages, citations, answers, stream events.

They are plain dataclasses so the CLI, the UI and the evals all read the same
fields; :meth:`Answer.to_json` is the stable JSON contract of ``clerk ask --json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Filters:
    """Which documents a question may be answered from; empty fields do not restrict.

    ``documents`` accepts document ids, source paths as given to ingest, paths
    relative to the corpus, or bare file names ("ask this report").
    Dates compare as ISO prefixes, so ``date_from="2025"`` keeps 2025-04 and
    later; documents without a date are excluded whenever a date bound is set.

    ``include_restricted`` is off unless a caller turns it on: restricted
    documents (exempt reports; see :mod:`ingest.access`) are then invisible to
    retrieval, to the councils a question may name and to refusals, exactly as
    if they were not indexed. Only callers acting for someone entitled to them
    (an officer signed in to the app, the operator at the command line) set it.
    """

    councils: tuple[str, ...] = ()
    doc_types: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    include_restricted: bool = False

    def is_empty(self) -> bool:
        """True when no scope was chosen (the viewer's access still applies)."""
        return not (self.councils or self.doc_types or self.documents or self.date_from or self.date_to)

    @classmethod
    def everything(cls) -> Filters:
        """Every indexed document, restricted ones included: the operator's view (CLI, evals)."""
        return cls(include_restricted=True)


@dataclass
class Passage:
    """A retrieved chunk with its provenance and the scores that ranked it."""

    chunk_id: str
    doc_id: str
    text: str
    source: str
    title: str
    council: str
    doc_type: str
    date: str
    page_start: int
    page_end: int
    section: str
    char_start: int
    char_end: int
    score: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Passage:
        """Build from a registry chunk row."""
        return cls(
            chunk_id=row["id"], doc_id=row["doc_id"], text=row["text"], source=row["source"] or "",
            title=row["title"] or "", council=row["council"] or "", doc_type=row["doc_type"] or "",
            date=row["date"] or "", page_start=int(row["page_start"] or 1), page_end=int(row["page_end"] or 1),
            section=row["section"] or "", char_start=int(row["char_start"] or 0), char_end=int(row["char_end"] or 0),
        )

    def to_json(self) -> dict[str, Any]:
        """The passage as search results give it: a citation's fields, its text, score and the link to its page."""
        return {"chunk_id": self.chunk_id, "doc_id": self.doc_id, "source": self.source, "title": self.title,
                "council": self.council, "doc_type": self.doc_type, "date": self.date, "page": self.page_start,
                "page_end": self.page_end, "section": self.section, "text": self.text,
                "score": round(float(self.score), 4), "link": file_link(self.doc_id, self.page_start)}


def file_link(doc_id: str, page: int | None = None) -> str:
    """The path on ``clerk serve`` that opens a document's own file (at a page, for PDFs): ``/files/<doc_id>#page=N``.

    Every door that hands out citations (the JSON API, the chat API, MCP, the llama-index nodes) links with it.
    """
    return f"/files/{doc_id}" + (f"#page={page}" if page else "")


@dataclass
class Citation:
    """One numbered reference: where the supporting words are and what they say."""

    n: int
    source: str
    title: str
    council: str
    doc_type: str
    page: int
    section: str
    quote: str
    text: str
    score: float
    verified: bool
    chunk_id: str = ""
    #: The indexed document, so a viewer can link to the file itself (the UI serves it by this id).
    doc_id: str = ""
    #: The document's date (ISO prefix) as the index holds it, shown beside the title.
    date: str = ""

    @property
    def link(self) -> str:
        """The path that opens the cited page of the document's own file (not part of ``to_json``'s contract)."""
        return file_link(self.doc_id, self.page)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["score"] = round(float(self.score), 4)
        return d


@dataclass
class Answer:
    """An answer whose ``[n]`` markers point into ``citations``, or a refusal."""

    question: str
    answer: str
    refused: bool
    citations: list[Citation]
    backend: str
    id: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    #: Documents searched when refusing, closest first (shown to the reader).
    searched: list[str] = field(default_factory=list)
    #: Sentences a generative backend wrote that the passages do not support.
    unsupported: list[str] = field(default_factory=list)
    #: The query actually searched (after abbreviation expansion and follow-up rewriting).
    query: str = ""
    confidence: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_json() for c in self.citations],
            "backend": self.backend,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "confidence": round(float(self.confidence), 4),
            "query": self.query,
            "searched": self.searched,
            "unsupported": self.unsupported,
        }


@dataclass
class StreamEvent:
    """What :meth:`assistant.Assistant.stream` yields: status, text deltas, then the final answer."""

    kind: Literal["status", "passages", "delta", "final"]
    text: str = ""
    passages: list[Passage] = field(default_factory=list)
    answer: Answer | None = None
