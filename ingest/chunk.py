"""Structure-aware chunking of cleaned documents into llama-index nodes.

Chunks follow the document's own structure: a heading always starts a new
chunk (unless the chunk so far is too small to stand alone), sentences are never
cut, and a chunk never holds more word pieces than the embedder reads once its
title and section header are prepended. Each chunk knows the page span and the
exact character offsets of its text in the cleaned pages, so a citation can
point a reader to the page and the quoted words.

A passage that repeats an earlier chunk of the same document word for word
under the same section (a table header on every page of one table) is indexed
once, with a warning, so identical chunks never crowd the passages a question
retrieves. The same words under another heading are kept: a duty listed for
each portfolio holder belongs to each of them.

Invariant (tested): the text of a chunk equals the slice of the cleaned document
text ``"\\n\\n".join(page.text for page in pages)`` between its offsets, and for a
chunk on one page, ``page.text[char_start:char_end]``.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest.structure import Heading, Outline, classify_heading, sentence_spans
from ingest.tokens import TokenCounter
from ingest.types import LoadedDocument

if TYPE_CHECKING:
    from llama_index.core.schema import TextNode

PAGE_SEPARATOR = "\n\n"
#: What joins the cells of a table row line (every loader writes rows this way).
CELL_SEPARATOR = " | "
_LINE = re.compile(r"[^\n]+")
_ENDS_SENTENCE = re.compile(r"[.!?:;][\"'”’)\]]*$")
MAX_HEADER_TOKENS = 48
#: A chunk of at least this many words repeating an earlier one of its section is not indexed again.
MIN_REPEAT_WORDS = 20


@dataclass
class ChunkingConfig:
    """Sizes in word pieces of the embedding model."""

    max_tokens: int = 200
    min_tokens: int = 40
    overlap_sentences: int = 1


@dataclass
class _Unit:
    """A sentence, heading or table row: the smallest piece a chunk is built of."""

    start: int
    end: int
    section: str
    heading: bool
    tokens: int = 0
    ends_sentence: bool = True


def doc_id_for(source: str) -> str:
    """Stable document id from its source path."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]


def document_text(doc: LoadedDocument) -> tuple[str, list[int]]:
    """The cleaned text of all pages joined, and the start offset of each page."""
    starts: list[int] = []
    pos = 0
    for page in doc.pages:
        starts.append(pos)
        pos += len(page.text) + len(PAGE_SEPARATOR)
    return PAGE_SEPARATOR.join(p.text for p in doc.pages), starts


def embedding_text(title: str, section: str, text: str) -> str:
    """What the embedder reads for a chunk: where it sits, then what it says.

    The title and section give short passages the context a reader has (a
    clause under "13. RULES OF DEBATE" is about debate even when it never says
    so); the chunker leaves room for this header within the model window.
    """
    header = " > ".join(x for x in (title, section) if x)
    return f"{header}\n{text}" if header else text


def _units(text: str, counter: TokenCounter) -> list[_Unit]:
    """Split the document into headings and sentences, each tagged with its section."""
    outline = Outline()
    lines = [(m.start(), m.end()) for m in _LINE.finditer(text) if text[m.start() : m.end()].strip()]
    units: list[_Unit] = []
    for i, (start, end) in enumerate(lines):
        line = text[start:end]
        nxt = text[lines[i + 1][0] : lines[i + 1][1]].strip() if i + 1 < len(lines) else None
        prev = text[lines[i - 1][0] : lines[i - 1][1]].strip() if i > 0 else None
        heading: Heading | None = classify_heading(line, nxt, prev)
        if heading is not None:
            outline.enter(heading)
            lead = len(line) - len(line.lstrip())
            units.append(_Unit(start + lead, start + len(line.rstrip()), outline.breadcrumb(), True))
            continue
        section = outline.breadcrumb()
        # a table row (cells joined by " | ") is one unit: its cells' sentences must not go to different chunks
        spans = [(start, end)] if CELL_SEPARATOR in line else sentence_spans(text, start, end)
        for s, e in spans:
            lead = len(text[s:e]) - len(text[s:e].lstrip())
            if s + lead < e:
                units.append(_Unit(s + lead, e, section, False))
    counts = counter.count([text[u.start : u.end] for u in units])
    for u, n in zip(units, counts, strict=True):
        u.tokens = n
        u.ends_sentence = u.heading or bool(_ENDS_SENTENCE.search(text[u.start : u.end]))
    return units


def _split_oversized(text: str, unit: _Unit, limit: int, counter: TokenCounter) -> list[_Unit]:
    """Cut a unit longer than the window: a table row between its cells, anything else at word boundaries."""
    if not unit.heading and CELL_SEPARATOR in text[unit.start : unit.end]:
        return _split_row(text, unit, limit, counter)
    return _split_words(text, unit, limit, counter)


def _split_row(text: str, unit: _Unit, limit: int, counter: TokenCounter) -> list[_Unit]:
    """Cut a table row too long for one chunk (Appendix E's 18 columns) into runs of whole cells, each but the
    last ending in " |".

    A part without the row's first cell ("CYPE Core £000s: 343.8 | ...") no longer
    says which row it belongs to, so every later part names it: the first cell
    ("(SPENDING) MTFP Category: Pay") is added to the part's section, which the
    embedder and the keyword index read in front of its text. The text itself
    stays a slice of the page, as citations need, and the part with the first
    cell in its section still fits the budget. A single cell too long for a
    part is cut at word boundaries.
    """
    row = text[unit.start : unit.end]
    cuts = [m.start() for m in re.finditer(re.escape(CELL_SEPARATOR), row)]
    key = row[: cuts[0]].strip()
    key_tokens = counter.count_one(key)
    if key_tokens > limit // 4:  # a first cell that long would crowd out what it names
        return _split_words(text, unit, limit, counter)
    keyed = f"{unit.section} > {key}" if unit.section else key
    # each cell with the " |" after it, so a part ends saying the row goes on and every character is in a part
    starts = [0, *(c + len(CELL_SEPARATOR) for c in cuts)]
    ends = [*(c + len(CELL_SEPARATOR.rstrip()) for c in cuts), len(row)]
    cells = [(unit.start + a, unit.start + b) for a, b in zip(starts, ends, strict=True)]
    parts: list[_Unit] = []
    start = end = cells[0][0]
    for cell_start, cell_end in cells:
        room = limit if not parts else limit - key_tokens
        if end > start and counter.count_one(text[start:cell_end]) > room:
            parts.append(_Unit(start, end, unit.section if not parts else keyed, False, 0, False))
            start = cell_start
        end = cell_end
    parts.append(_Unit(start, end, unit.section if not parts else keyed, False, 0, unit.ends_sentence))
    out: list[_Unit] = []
    for i, part in enumerate(parts):
        room = limit if i == 0 else limit - key_tokens
        part.tokens = counter.count_one(text[part.start : part.end])
        if part.tokens <= room:
            out.append(part)
            continue
        pieces = _split_words(text, part, room, counter)  # one cell longer than a part
        for piece in pieces[1:]:
            piece.section = keyed
        out.extend(pieces)
    return out


def _split_words(text: str, unit: _Unit, limit: int, counter: TokenCounter) -> list[_Unit]:
    """Cut a unit longer than the window at word boundaries."""
    pieces: list[_Unit] = []
    start = unit.start
    while start < unit.end:
        remaining = text[start : unit.end]
        n = counter.count_one(remaining)
        if n <= limit:
            pieces.append(_Unit(start, unit.end, unit.section, unit.heading, n, unit.ends_sentence))
            break
        cut = max(1, int(len(remaining) * limit / n * 0.95))
        space = remaining.rfind(" ", 0, cut)
        cut = space if space > 0 else cut
        while cut > 1 and counter.count_one(remaining[:cut]) > limit:
            space = remaining.rfind(" ", 0, int(cut * 0.9))
            cut = space if space > 0 else int(cut * 0.9)
        piece_end = start + len(remaining[:cut].rstrip())
        pieces.append(_Unit(start, piece_end, unit.section, unit.heading, 0, False))
        start += cut
        while start < unit.end and text[start].isspace():
            start += 1
    for p in pieces:
        if not p.tokens:
            p.tokens = counter.count_one(text[p.start : p.end])
    return pieces


class Chunker:
    """Turns a cleaned :class:`LoadedDocument` into llama-index ``TextNode`` chunks."""

    def __init__(self, counter: TokenCounter, config: ChunkingConfig | None = None) -> None:
        self.counter = counter
        self.config = config or ChunkingConfig()
        self._header_tokens: dict[tuple[str, str], int] = {}

    def budget(self, title: str, section: str) -> int:
        """Word pieces left for chunk text once the header and [CLS]/[SEP] are in."""
        key = (title, section)
        if key not in self._header_tokens:
            self._header_tokens[key] = min(
                MAX_HEADER_TOKENS, self.counter.count_one(embedding_text(title, section, "")) + 1
            )
        return max(32, min(self.config.max_tokens, self.counter.window - 2 - self._header_tokens[key]))

    def chunk(self, doc: LoadedDocument, doc_id: str | None = None) -> list[TextNode]:
        """Chunks of ``doc``; ``doc_id`` defaults to one derived from its source path."""
        text, page_starts = document_text(doc)
        title = doc.meta.title
        units: list[_Unit] = []
        for u in _units(text, self.counter):
            limit = self.budget(title, u.section)
            units.extend(_split_oversized(text, u, limit, self.counter) if u.tokens > limit else [u])
        groups = self._pack(units, title)
        nodes: list[TextNode] = []
        doc_id = doc_id or doc_id_for(doc.source)
        seen: set[tuple[str, str]] = set()
        repeats = 0
        for group in groups:
            start, end = group[0].start, group[-1].end
            key = (group[0].section, " ".join(text[start:end].split()))
            if len(key[1].split()) >= MIN_REPEAT_WORDS and key in seen:
                repeats += 1  # the same words under the same heading again: one copy is enough to cite
                continue
            seen.add(key)
            nodes.append(
                self._node(doc, doc_id, len(nodes), text[start:end], start, end, group[0].section, page_starts)
            )
        if repeats:
            what = "passage repeats" if repeats == 1 else "passages repeat"
            doc.warnings.append(f"{repeats} {what} an earlier one of the same section word for word; indexed once")
        return nodes

    def _pack(self, units: list[_Unit], title: str) -> list[list[_Unit]]:
        """Greedy packing along structure: headings open chunks, sizes stay in budget."""
        cfg = self.config
        groups: list[list[_Unit]] = []
        current: list[_Unit] = []
        used = 0
        for u in units:
            limit = self.budget(title, current[0].section if current else u.section)
            starts_section = u.heading and used >= cfg.min_tokens
            if current and (starts_section or used + u.tokens > limit):
                moved: list[_Unit] = []  # the end of an unfinished sentence, taken off this chunk for the next
                carry: list[_Unit] = []
                if not starts_section:
                    current, moved = _back_off_to_sentence_end(current)
                    carry = moved or _overlap(current, cfg.overlap_sentences, limit // 3, u.section)
                groups.append(current)
                current = list(carry)
                used = sum(c.tokens for c in current)
                if used + u.tokens > self.budget(title, (current[0] if current else u).section):
                    # no room beside the next unit: an overlap is only a repeat, but moved units would be lost,
                    # so they go back to the chunk they came from, where they fitted
                    groups[-1].extend(moved)
                    current, used = [], 0
            current.append(u)
            used += u.tokens
        if current:
            if groups and used < cfg.min_tokens and not current[0].heading:
                prev = groups[-1]
                if sum(p.tokens for p in prev) + used <= self.budget(title, prev[0].section):
                    prev.extend(x for x in current if x not in prev)
                    return groups
            groups.append(current)
        return groups

    def _node(
        self,
        doc: LoadedDocument,
        doc_id: str,
        ordinal: int,
        chunk_text: str,
        start: int,
        end: int,
        section: str,
        page_starts: list[int],
    ) -> TextNode:
        # Imported here, not at the top: a process that only searches (clerk serve, clerk ask) saves a second.
        from llama_index.core.schema import TextNode
        first = bisect_right(page_starts, start) - 1
        last = bisect_right(page_starts, max(start, end - 1)) - 1
        digest = hashlib.sha1(chunk_text.encode("utf-8")).hexdigest()[:8]
        meta = doc.meta
        return TextNode(
            id_=f"{doc_id}-{ordinal:05d}-{digest}",
            text=chunk_text,
            metadata={
                "doc_id": doc_id,
                "source": doc.source,
                "title": meta.title,
                "council": meta.council,
                "doc_type": meta.doc_type,
                "date": meta.date,
                "page_start": doc.pages[first].number,
                "page_end": doc.pages[last].number,
                "section": section,
                "char_start": start - page_starts[first],
                "char_end": end - page_starts[last],
                "ordinal": ordinal,
            },
            start_char_idx=start,
            end_char_idx=end,
        )


def _back_off_to_sentence_end(group: list[_Unit]) -> tuple[list[_Unit], list[_Unit]]:
    """Move trailing units that end mid-sentence (a page break inside a sentence) to the next chunk."""
    cut = len(group)
    while cut > 0 and not group[cut - 1].ends_sentence:
        cut -= 1
    if cut == 0 or cut < len(group) // 2:
        return group, []
    return group[:cut], group[cut:]


def _overlap(group: list[_Unit], sentences: int, max_tokens: int, section: str) -> list[_Unit]:
    """The last sentences of a chunk, repeated at the start of the next one in the same section."""
    if sentences <= 0:
        return []
    tail = [u for u in group[-sentences:] if not u.heading and u.section == section]
    if len(tail) < sentences or sum(u.tokens for u in tail) > max_tokens:
        return []
    return tail
