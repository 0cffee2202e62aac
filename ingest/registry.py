"""The SQLite registry: documents, their cleaned pages, their chunks, and the lexical index.

The registry is the source of truth for what is indexed. It holds each file's
content hash, status, counts and last error; the cleaned text of every page
(the reference text that citations quote); every chunk with its provenance;
and an FTS5 full-text index over the chunks, which is the BM25 lexical index
the hybrid retriever uses. Keeping the lexical index in the same SQLite
database means a document's chunks and its lexical entries change in one
transaction: they cannot drift apart.

Searching it goes through :class:`TermScores`: FTS5's BM25 of a question is the
sum of each of its words' own BM25 contributions, so each word's contributions
are computed by FTS5 once and the sum is taken in memory. An OR query over a
whole question makes FTS5 score every chunk holding any of its words (with
"council" in most questions, nearly every chunk), which at 100,000 chunks takes
about a second; summing cached per-word scores takes about a millisecond and
ranks exactly as FTS5 does.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ingest.types import UNKNOWN_COUNCIL, Page

if TYPE_CHECKING:  # llama-index takes a second to import; the registry only passes nodes through
    from llama_index.core.schema import TextNode

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,          -- absolute path: the identity of the file
    source TEXT NOT NULL,               -- path as given to ingest, relative where possible
    sha256 TEXT,                        -- hash of the file when it was last processed
    indexed_sha256 TEXT,                -- hash of the version whose chunks are in the index
    size INTEGER,
    status TEXT NOT NULL,               -- indexed | pending | failed | needs_ocr | duplicate | stale
    error TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',
    council TEXT, doc_type TEXT, title TEXT, date TEXT, meta_origin TEXT,
    pages INTEGER NOT NULL DEFAULT 0,
    ocr_pages INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    duplicate_of TEXT,
    restricted TEXT,                    -- NULL: public; else why only officers may see it (ingest.access)
    processing TEXT,                    -- ingest.pipeline.PROCESSING that made its chunks
    mentions TEXT NOT NULL DEFAULT '[]', -- short names of the councils its text names (ingest.metadata.council_keys)
    overrides TEXT NOT NULL DEFAULT '{}', -- an officer's corrections of council/doc_type/title/date; kept on re-ingest
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    doc_id TEXT NOT NULL, number INTEGER NOT NULL, text TEXT NOT NULL, ocr INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (doc_id, number)
);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    title TEXT, section TEXT, council TEXT, doc_type TEXT, date TEXT, source TEXT,
    page_start INTEGER, page_end INTEGER, char_start INTEGER, char_end INTEGER,
    tokens INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_id, ordinal);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, section, title, content='chunks', content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text, section, title) VALUES (new.rowid, new.text, new.section, new.title);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text, section, title)
    VALUES ('delete', old.rowid, old.text, old.section, old.title);
END;
"""

_CHUNK_COLUMNS = (
    "id", "doc_id", "ordinal", "text", "title", "section", "council", "doc_type", "date", "source",
    "page_start", "page_end", "char_start", "char_end", "tokens",
)
_FTS_TERM = re.compile(r"\w+", re.UNICODE)
#: Column weights of BM25 (text, section, title).
BM25_WEIGHTS = "1.0, 0.5, 0.3"
# Question words that carry no evidence: OR-ing them in lets them outweigh the one term that matters.
STOPWORDS = frozenset(
    """a an and are as at be been by can could did do does for from had has have how i in is it its me my of on or
    our say said says should than that the their them there these they this to was we were what when where which who
    whom why will with would you your about into any all also much many""".split()
)


#: The fields of a document's listing (:meth:`DocumentRecord.listing`).
LISTING_FIELDS = ("source", "council", "doc_type", "title", "date", "pages", "chunks", "status", "error",
                  "duplicate_of", "ocr_pages", "meta_origin", "restricted", "doc_id", "overrides")


@dataclass
class DocumentRecord:
    """One row of the registry, as ``clerk docs`` shows it."""

    doc_id: str
    path: str
    source: str
    status: str
    sha256: str | None = None
    indexed_sha256: str | None = None
    size: int | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    council: str | None = None
    doc_type: str | None = None
    title: str | None = None
    date: str | None = None
    meta_origin: str | None = None
    pages: int = 0
    ocr_pages: int = 0
    chunks: int = 0
    duplicate_of: str | None = None
    #: Why only officers may see this document (e.g. "Exempt: Schedule 12A para 3"); None when public.
    restricted: str | None = None
    #: The version of reading and splitting that made its chunks (``ingest.pipeline.PROCESSING``).
    processing: str | None = None
    #: Short names (slug, initials, place) of every council its text names: a question naming one searches it.
    mentions: list[str] = field(default_factory=list)
    #: Metadata an officer corrected (``clerk docs --set``, the Documents tab): wins over manifest and inference.
    overrides: dict[str, str] = field(default_factory=dict)
    updated_at: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def names_no_council(self) -> bool:
        """Nothing (manifest, folder, file name, text) named its council: it may be any council's."""
        return self.council in (None, "", UNKNOWN_COUNCIL)

    def listing(self) -> dict:
        """What ``clerk docs --json`` and ``GET /api/v1/documents`` show of a document."""
        return {k: getattr(self, k) for k in LISTING_FIELDS}

    def named_by(self, ref: str) -> bool:
        """Does ``ref`` (id, source, path relative to the corpus, or file name) name this document?"""
        ref = ref.strip().replace("\\", "/")
        if not ref:
            return False
        source = self.source.replace("\\", "/")
        return (
            ref in (self.doc_id, source, self.path)
            or source.endswith("/" + ref.lstrip("./"))
            or self.path.endswith("/" + ref.lstrip("./"))
        )

    def status_text(self) -> str:
        """The status as a reader sees it: with the error, the document it duplicates, and any restriction."""
        if self.error:
            text = f"{self.status}: {self.error}"
        else:
            text = f"{self.status} of {self.duplicate_of}" if self.duplicate_of else self.status
        if not self.restricted:
            return text
        return text + (" (restricted)" if self.restricted == "restricted" else f" (restricted: {self.restricted})")


#: Seconds a write waits for another writer's transaction (``clerk ingest`` beside ``clerk serve``) before
#: "database is locked". A big document's swap, under load, can hold the write lock longer than sqlite3's 5 s.
BUSY_TIMEOUT_S = 60.0


def data_version(conn: sqlite3.Connection) -> tuple[int, int]:
    """Changes when the database changes: ``PRAGMA data_version`` counts other connections' commits, and
    ``total_changes`` this connection's own writes. Caches of anything derived from the index key on it."""
    return conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes


class TermScores:
    """Each query word's BM25 contribution to every chunk holding it, from FTS5, kept per index version.

    FTS5's ``bm25()`` adds up one term per phrase of the query (IDF times the
    saturated, column-weighted frequency in that row), so the score of a chunk
    for an OR of words is exactly the sum of the single-word scores. A word's
    list (row ids and scores) is fetched from FTS5 the first time it is asked
    for; a question's ranking is then a sum over a few cached arrays. Lists are
    evicted least recently used beyond ``budget`` postings (12 bytes each), and
    all of them are dropped when the database changes (this connection's writes,
    or another connection's commits, which ``PRAGMA data_version`` reports), since
    every IDF and the average length change with any document. For searches
    within some documents it also keeps which document each row belongs to.
    """

    def __init__(self, conn: sqlite3.Connection, budget: int = 8_000_000) -> None:
        self.conn = conn
        self.budget = budget
        self.lock = threading.Lock()
        self._lists: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._held = 0
        self._version: tuple[int, int] | None = None
        self._rows: tuple[np.ndarray, np.ndarray, dict[str, int]] | None = None

    def clear(self) -> None:
        with self.lock:
            self._lists.clear()
            self._held = 0
            self._rows = None

    @property
    def postings(self) -> int:
        """Postings held in memory now."""
        return self._held

    def lists(self, phrases: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(row ids, scores)`` of each FTS5 phrase, higher scores better.

        Lists not held are fetched outside the lock, so a long fetch (a common
        word at 100k chunks takes a few hundred ms) never holds up a question
        whose words are all held.
        """
        with self.lock:
            self._check_version()
            version = self._version
            held = {p: self._lists[p] for p in phrases if p in self._lists}
            for p in held:
                self._lists.move_to_end(p)
        fetched = {p: self._fetch(p) for p in dict.fromkeys(phrases) if p not in held}
        if fetched:
            with self.lock:
                if version == self._version == data_version(self.conn):  # else they may mix two versions
                    for p, got in fetched.items():
                        if p not in self._lists:
                            self._lists[p] = got
                            self._held += len(got[0])
                    while self._held > self.budget and len(self._lists) > 1:
                        _, (ids, _) = self._lists.popitem(last=False)
                        self._held -= len(ids)
        return [held[p] if p in held else fetched[p] for p in phrases]

    def prefetch(self, phrases: list[str], postings: int) -> None:
        """Fetch the lists of ``phrases``, in order, until ``postings`` are held (a few at a time)."""
        for lo in range(0, len(phrases), 8):
            if self._held >= postings:
                return
            self.lists(phrases[lo : lo + 8])

    def in_documents(self, rows: np.ndarray, doc_ids: Iterable[str]) -> np.ndarray:
        """Which of ``rows`` (chunk row ids) belong to one of ``doc_ids``, as a boolean mask."""
        with self.lock:
            self._check_version()
            if self._rows is None:
                got = self.conn.execute("SELECT rowid, doc_id FROM chunks ORDER BY rowid").fetchall()
                ordinals: dict[str, int] = {}
                docs = np.fromiter((ordinals.setdefault(d, len(ordinals)) for _, d in got), np.int32, len(got))
                self._rows = (np.fromiter((r for r, _ in got), np.int64, len(got)), docs, ordinals)
            known, docs, ordinals = self._rows
        wanted = np.array(sorted({ordinals[d] for d in doc_ids if d in ordinals}), dtype=np.int32)
        if not len(known) or not len(wanted):
            return np.zeros(len(rows), dtype=bool)
        at = np.minimum(np.searchsorted(known, rows), len(known) - 1)
        return (known[at] == rows) & np.isin(docs[at], wanted)

    def _check_version(self) -> None:
        version = data_version(self.conn)
        if version != self._version:
            self._lists.clear()
            self._held = 0
            self._rows = None
            self._version = version

    def _fetch(self, phrase: str) -> tuple[np.ndarray, np.ndarray]:
        rows = self.conn.execute(
            f"SELECT rowid, -bm25(chunks_fts, {BM25_WEIGHTS}) FROM chunks_fts WHERE chunks_fts MATCH ?", (phrase,)
        ).fetchall()
        wide = rows and max(r[0] for r in rows) >= 2**31
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64 if wide else np.int32, count=len(rows))
        scores = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        return ids, scores


class Registry:
    """Typed access to the registry database.

    One connection, which may be shared by threads (the web app answers several
    questions at once through one assistant): the sqlite3 module is built
    serialized (``sqlite3.threadsafety == 3``), and WAL mode lets readers go on
    while another connection writes, each statement seeing only committed
    transactions. Writers in other threads or processes use their own
    :class:`Registry` (see ``ui.library``).
    """

    def __init__(self, path: Path, lexical_cache_postings: int = 8_000_000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(_SCHEMA)
        self._add_missing_columns()
        if self.get_meta("schema_version") is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        self.term_scores = TermScores(self.conn, lexical_cache_postings)

    def close(self) -> None:
        self.conn.close()

    def _add_missing_columns(self) -> None:
        """Columns added since a registry was created (an index built by an earlier clerk keeps working)."""
        have = {r[1] for r in self.conn.execute("PRAGMA table_info(documents)")}
        if "restricted" not in have:
            self.conn.execute("ALTER TABLE documents ADD COLUMN restricted TEXT")
        if "processing" not in have:
            self.conn.execute("ALTER TABLE documents ADD COLUMN processing TEXT")
        if "mentions" not in have:
            self.conn.execute("ALTER TABLE documents ADD COLUMN mentions TEXT NOT NULL DEFAULT '[]'")
        if "overrides" not in have:
            self.conn.execute("ALTER TABLE documents ADD COLUMN overrides TEXT NOT NULL DEFAULT '{}'")

    def version(self) -> tuple[int, int]:
        """See :func:`data_version`: equal values mean nothing in the registry changed in between."""
        return data_version(self.conn)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing: a crash inside leaves the registry as it was before."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- meta ------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))

    def meta_once(self, key: str, value: str) -> str:
        """The stored value of ``key``, storing ``value`` first if there is none (safe when two open at once)."""
        self.conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
        stored = self.get_meta(key)
        assert stored is not None
        return stored

    # --- documents ---------------------------------------------------------------
    def documents(self) -> list[DocumentRecord]:
        rows = self.conn.execute("SELECT * FROM documents ORDER BY source").fetchall()
        return [_record(r) for r in rows]

    def by_path(self, path: str) -> DocumentRecord | None:
        row = self.conn.execute("SELECT * FROM documents WHERE path = ?", (path,)).fetchone()
        return _record(row) if row else None

    def by_id(self, doc_id: str) -> DocumentRecord | None:
        row = self.conn.execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return _record(row) if row else None

    def indexed_by_hash(self, sha256: str) -> DocumentRecord | None:
        row = self.conn.execute(
            "SELECT * FROM documents WHERE indexed_sha256 = ? AND status IN ('indexed', 'stale') "
            "ORDER BY source LIMIT 1",
            (sha256,),
        ).fetchone()
        return _record(row) if row else None

    def upsert_document(self, rec: DocumentRecord, conn: sqlite3.Connection | None = None) -> None:
        rec.updated_at = time.time()
        values = rec.to_dict()
        values["warnings"] = json.dumps(rec.warnings)
        values["mentions"] = json.dumps(rec.mentions)
        values["overrides"] = json.dumps(rec.overrides, ensure_ascii=False)
        cols = list(values)
        (conn or self.conn).execute(
            f"INSERT OR REPLACE INTO documents ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [values[c] for c in cols],
        )

    def replace_content(self, rec: DocumentRecord, pages: list[Page], nodes: list[TextNode], tokens: list[int]) -> None:
        """Swap a document's pages, chunks and lexical entries and its row, atomically."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM chunks WHERE doc_id = ?", (rec.doc_id,))
            conn.execute("DELETE FROM pages WHERE doc_id = ?", (rec.doc_id,))
            conn.executemany(
                "INSERT INTO pages (doc_id, number, text, ocr) VALUES (?, ?, ?, ?)",
                [(rec.doc_id, p.number, p.text, int(p.ocr)) for p in pages],
            )
            conn.executemany(
                f"INSERT INTO chunks ({', '.join(_CHUNK_COLUMNS)}) VALUES ({', '.join('?' for _ in _CHUNK_COLUMNS)})",
                [_chunk_row(n, t) for n, t in zip(nodes, tokens, strict=True)],
            )
            self.upsert_document(rec, conn)

    def redescribe(self, rec: DocumentRecord) -> None:
        """A document's council, type, title or date changed, not its text: its row and its chunks' copies, at once.

        Chunks keep their ids (their text is the same). A new title is also in
        the lexical index, so then the chunk rows are written again, which the
        FTS triggers follow; otherwise the columns are updated in place.
        """
        with self.transaction() as conn:
            rows = conn.execute("SELECT * FROM chunks WHERE doc_id = ? ORDER BY ordinal", (rec.doc_id,)).fetchall()
            if any(r["title"] != rec.title for r in rows):
                conn.execute("DELETE FROM chunks WHERE doc_id = ?", (rec.doc_id,))
                fresh = [dict(r) | {"title": rec.title, "council": rec.council, "doc_type": rec.doc_type,
                                    "date": rec.date} for r in rows]
                conn.executemany(
                    f"INSERT INTO chunks ({', '.join(_CHUNK_COLUMNS)}) VALUES ({', '.join('?' for _ in _CHUNK_COLUMNS)})",
                    [[r[c] for c in _CHUNK_COLUMNS] for r in fresh],
                )
            else:
                conn.execute("UPDATE chunks SET council = ?, doc_type = ?, date = ? WHERE doc_id = ?",
                             (rec.council, rec.doc_type, rec.date, rec.doc_id))
            self.upsert_document(rec, conn)

    def delete_document(self, doc_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            conn.execute("DELETE FROM pages WHERE doc_id = ?", (doc_id,))
            conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    # --- chunks and pages ----------------------------------------------------------
    def chunk_ids(self, doc_id: str | None = None) -> set[str]:
        if doc_id is None:
            return {r[0] for r in self.conn.execute("SELECT id FROM chunks")}
        return {r[0] for r in self.conn.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))}

    def chunk_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def chunks(self, ids: Iterable[str] | None = None, doc_id: str | None = None) -> list[dict]:
        """Chunk rows (all columns) by id or by document, in document order."""
        if ids is not None:
            ids = list(ids)
            rows: list[sqlite3.Row] = []
            for lo in range(0, len(ids), 500):
                part = ids[lo : lo + 500]
                rows += self.conn.execute(
                    f"SELECT * FROM chunks WHERE id IN ({', '.join('?' for _ in part)})", part
                ).fetchall()
            by_id = {r["id"]: dict(r) for r in rows}
            return [by_id[i] for i in ids if i in by_id]
        if doc_id is not None:
            q = self.conn.execute("SELECT * FROM chunks WHERE doc_id = ? ORDER BY ordinal", (doc_id,))
        else:
            q = self.conn.execute("SELECT * FROM chunks ORDER BY doc_id, ordinal")
        return [dict(r) for r in q]

    def pages(self, doc_id: str) -> list[Page]:
        rows = self.conn.execute("SELECT number, text, ocr FROM pages WHERE doc_id = ? ORDER BY number", (doc_id,))
        return [Page(r[0], r[1], bool(r[2])) for r in rows]

    def frequent_words(self, n: int = 1000, sample: int = 3000) -> list[str]:
        """The words in most chunks of a sample of the index, most frequent first: likely in questions too."""
        top = self.conn.execute("SELECT max(rowid) FROM chunks").fetchone()[0] or 0
        picks = random.Random(top).sample(range(1, top + 1), min(sample, top))
        counts: Counter[str] = Counter()
        for lo in range(0, len(picks), 500):
            part = picks[lo : lo + 500]
            sql = f"SELECT text, section, title FROM chunks WHERE rowid IN ({', '.join('?' for _ in part)})"
            for text, section, title in self.conn.execute(sql, part):
                words = (w.lower() for w in _FTS_TERM.findall(f"{text} {section or ''} {title or ''}"))
                counts.update({w for w in words if w not in STOPWORDS and len(w) > 1})
        return [w for w, _ in counts.most_common(n)]

    def warm_lexical(self) -> None:
        """Fetch the per-word scores of the index's most frequent words, up to half the cache.

        A common word is the costly one to fetch the first time (its list is long),
        and the likeliest to be asked about; a server does this after start and
        after the index changes, so questions rarely wait for one.
        """
        phrases = ['"' + w.replace('"', "") + '"' for w in self.frequent_words()]
        self.term_scores.prefetch(phrases, self.term_scores.budget // 2)

    def lexical_search(self, query: str, k: int = 50, doc_ids: Iterable[str] | None = None) -> list[tuple[str, float]]:
        """BM25 (FTS5, k1=1.2, b=0.75) over chunk text, section and title; best first.

        Returns ``(chunk_id, score)`` with higher scores better: the ranking and
        scores of FTS5's ``bm25()`` for the OR of the query's words, computed
        from per-word scores (see :class:`TermScores`). Query words are quoted so
        user text can never be read as FTS5 syntax.
        """
        words = [t.lower() for t in _FTS_TERM.findall(query)]
        terms = list(dict.fromkeys(w for w in words if w not in STOPWORDS and len(w) > 1)) or list(dict.fromkeys(words))
        if not terms or k <= 0:
            return []
        lists = self.term_scores.lists(['"' + t.replace('"', "") + '"' for t in terms])
        ids = np.concatenate([ids.astype(np.int64) for ids, _ in lists])
        scores = np.concatenate([s for _, s in lists])
        if not len(ids):
            return []
        rows, totals = _sum_by_row(ids, scores)
        if doc_ids is not None:
            keep = self.term_scores.in_documents(rows, doc_ids)
            rows, totals = rows[keep], totals[keep]
            if not len(rows):
                return []
        n = min(k, len(rows))
        top = np.argpartition(-totals, n - 1)[:n] if n < len(rows) else np.arange(len(rows))
        top = top[np.lexsort((rows[top], -totals[top]))]  # best first; equal scores in row order
        chosen = [int(r) for r in rows[top]]
        sql = f"SELECT rowid, id FROM chunks WHERE rowid IN ({', '.join('?' for _ in chosen)})"
        names = dict(self.conn.execute(sql, chosen).fetchall())
        return [(names[r], float(s)) for r, s in zip(chosen, totals[top], strict=True) if r in names]


def _sum_by_row(ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct row ids and the sum of their scores.

    A dense count over the row id range is fastest while ids stay near the row
    count (SQLite hands out max+1); after much churn a sort keeps memory bounded.
    """
    top = int(ids.max())
    if top <= 8 * len(ids) + 1_000_000:
        totals = np.bincount(ids, weights=scores, minlength=top + 1)
        rows = np.flatnonzero(np.bincount(ids, minlength=top + 1))
        return rows, totals[rows]
    rows, inverse = np.unique(ids, return_inverse=True)
    return rows, np.bincount(inverse, weights=scores)


def _record(row: sqlite3.Row) -> DocumentRecord:
    d = dict(row)
    d["warnings"] = json.loads(d.get("warnings") or "[]")
    d["mentions"] = json.loads(d.get("mentions") or "[]")
    d["overrides"] = json.loads(d.get("overrides") or "{}")
    return DocumentRecord(**d)


def _chunk_row(node: TextNode, tokens: int) -> tuple:
    m = node.metadata
    return (
        node.id_, m["doc_id"], m["ordinal"], node.text, m["title"], m["section"], m["council"], m["doc_type"],
        m["date"], m["source"], m["page_start"], m["page_end"], m["char_start"], m["char_end"], tokens,
    )
