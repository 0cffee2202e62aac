"""From chosen sentences to numbered citations a reader can check.

Every quote is a span of a chunk, and every chunk is a slice of the cleaned
pages the registry keeps; the page of a quote is worked out from its offset,
and ``verified`` is set only after the quote is found again in that page's
text, so a citation is never trusted on the word of the code that built it.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.text import locate
from assistant.types import Citation, Passage
from ingest.chunk import PAGE_SEPARATOR
from ingest.registry import Registry
from ingest.types import Page


@dataclass
class Evidence:
    """A sentence of a passage that an answer sentence rests on."""

    passage: Passage
    start: int  # offsets of the quote within passage.text
    end: int
    score: float = 0.0

    @property
    def quote(self) -> str:
        return self.passage.text[self.start : self.end]


class PageText:
    """Cleaned pages per document, loaded once per document.

    Shared by the threads answering at once: a lookup keeps the pages it
    loaded in hand, so another thread clearing the cache meanwhile only costs
    a reload.
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._pages: dict[str, dict[int, Page]] = {}

    def clear(self) -> None:
        """Forget loaded pages (a re-ingested document has new text under the same id)."""
        self._pages.clear()

    def pages(self, doc_id: str) -> dict[int, Page]:
        pages = self._pages.get(doc_id)
        if pages is None:
            pages = {p.number: p for p in self.registry.pages(doc_id)}
            self._pages[doc_id] = pages
        return pages

    def page_of(self, passage: Passage, offset: int) -> int:
        """Page number holding ``passage.text[offset]``."""
        pages = self.pages(passage.doc_id)
        pos = passage.char_start + offset
        for number in range(passage.page_start, passage.page_end + 1):
            page = pages.get(number)
            if page is None:
                continue
            if pos < len(page.text) or number == passage.page_end:
                return number
            pos -= len(page.text) + len(PAGE_SEPARATOR)
        return passage.page_start

    def verify(self, passage: Passage, page: int, quote: str) -> bool:
        """Is ``quote`` verbatim (up to whitespace) in the cleaned text of that page?"""
        found = self.pages(passage.doc_id).get(page)
        return bool(quote.strip()) and found is not None and locate(quote, found.text) is not None


class CitationBuilder:
    """Numbers citations in order of first use; one number per (passage, quote)."""

    def __init__(self, pages: PageText) -> None:
        self.pages = pages
        self.citations: list[Citation] = []
        self._index: dict[tuple[str, int, int], int] = {}

    def cite(self, ev: Evidence) -> int:
        key = (ev.passage.chunk_id, ev.start, ev.end)
        if key not in self._index:
            p = ev.passage
            page = self.pages.page_of(p, ev.start)
            quote = ev.quote.strip()
            self.citations.append(
                Citation(
                    n=len(self.citations) + 1, source=p.source, title=p.title, council=p.council,
                    doc_type=p.doc_type, page=page, section=p.section, quote=quote, text=p.text,
                    score=p.score, verified=self.pages.verify(p, page, quote), chunk_id=p.chunk_id,
                    doc_id=p.doc_id, date=p.date,
                )
            )
            self._index[key] = len(self.citations)
        return self._index[key]
