"""The lexical search ranks exactly as FTS5's own BM25 OR query, and its per-word cache follows every change."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from clerk.settings import Settings
from ingest.discover import source_for
from ingest.parse import ParseJob, parse_file
from ingest.registry import _FTS_TERM, STOPWORDS, DocumentRecord, Registry
from tests.helpers import copy_corpus_files

FILES = [
    "nwldc/lga-peer-challenge-progress-review-2025.txt",
    "nwldc/productivity-plan.txt",
    "hertingfordbury-pc/hpc-reserves-policy.pdf",
    "trafford/trafford-constitution-part-1-summary.pdf",
]
LATE = "kent-cc/kcc-appendix-h-reserves-policy.pdf"
QUESTIONS = [
    "How much money does North West Leicestershire District Council hold in reserve?",
    "What does the council's reserves policy say about the general fund balance?",
    "Who chairs the meetings of the full council?",
    "What percentage of staff attended the chief executive's roadshows?",
    "council",
]


def _fts5(registry: Registry, query: str, k: int, doc_ids: list[str] | None = None) -> list[tuple[str, float]]:
    """The reference: one FTS5 OR query over the whole question, ranked by bm25() in SQL."""
    words = [t.lower() for t in _FTS_TERM.findall(query)]
    terms = list(dict.fromkeys(w for w in words if w not in STOPWORDS and len(w) > 1)) or list(dict.fromkeys(words))
    sql = (
        "SELECT c.id, bm25(chunks_fts, 1.0, 0.5, 0.3) AS s FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid "
        "WHERE chunks_fts MATCH ?"
    )
    params: list[object] = [" OR ".join(f'"{t}"' for t in terms)]
    if doc_ids is not None:
        sql += f" AND c.doc_id IN ({', '.join('?' for _ in doc_ids)})"
        params += doc_ids
    return [(r[0], -r[1]) for r in registry.conn.execute(sql + " ORDER BY s, c.rowid LIMIT ?", [*params, k])]


def _same(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [c for c, _ in got] == [c for c, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-9)


def _add(registry: Registry, path: Path) -> str:
    source = source_for(path)
    out = parse_file(ParseJob(path, source, source.replace("/", "_")), Settings(ocr=False))
    assert out.doc is not None, out.error
    rec = DocumentRecord(doc_id=out.job.doc_id, path=str(path), source=source, status="indexed", chunks=len(out.nodes))
    registry.replace_content(rec, out.doc.pages, out.nodes, out.tokens)
    return rec.doc_id


@pytest.fixture()
def registry(tmp_path: Path):
    reg = Registry(tmp_path / "registry.sqlite3")
    reg.paths = copy_corpus_files(tmp_path / "docs", [*FILES, LATE])  # type: ignore[attr-defined]
    reg.doc_ids = [_add(reg, p) for p in reg.paths[: len(FILES)]]  # type: ignore[attr-defined]
    yield reg
    reg.close()


def test_ranking_and_scores_equal_fts5(registry):
    for q in QUESTIONS:
        for k in (1, 10, 40, 10_000):
            _same(registry.lexical_search(q, k), _fts5(registry, q, k))
        # asked again: now from the cache, still the same
        _same(registry.lexical_search(q, 40), _fts5(registry, q, 40))
    assert registry.term_scores.postings > 0
    assert registry.lexical_search("", 5) == [] and registry.lexical_search("reserves", 0) == []


def test_document_filter_equals_fts5(registry):
    one, two = registry.doc_ids[0], registry.doc_ids[2]
    found = 0
    for q in QUESTIONS:
        _same(registry.lexical_search(q, 40, [one, two]), _fts5(registry, q, 40, [one, two]))
        hits = registry.lexical_search(q, 40, [two])
        _same(hits, _fts5(registry, q, 40, [two]))
        assert {c["doc_id"] for c in registry.chunks(ids=[c for c, _ in hits])} <= {two}
        found += len(hits)
    assert found
    assert registry.lexical_search(QUESTIONS[0], 40, []) == []


def test_cache_follows_writes_from_this_and_other_connections(registry, tmp_path):
    q = QUESTIONS[1]
    before = registry.lexical_search(q, 40)
    assert registry.lexical_search(q, 40, [registry.doc_ids[0]])  # the row -> document map is built
    # this connection adds a document: every IDF changes, and the new chunks rank
    added = _add(registry, registry.paths[-1])
    after = registry.lexical_search(q, 40)
    _same(after, _fts5(registry, q, 40))
    assert after != before and any(c.startswith(added) for c, _ in after)
    within = registry.lexical_search(q, 40, [added])  # the new document's rows are known to the filter
    _same(within, _fts5(registry, q, 40, [added]))
    assert within
    # another connection (another process, or the web app's upload thread) deletes it
    other = Registry(registry.path)
    other.delete_document(added)
    other.close()
    gone = registry.lexical_search(q, 40)
    _same(gone, _fts5(registry, q, 40))
    assert not any(c.startswith(added) for c, _ in gone)
    # a plain sqlite3 writer is noticed too
    conn = sqlite3.connect(str(registry.path))
    conn.execute("DELETE FROM chunks WHERE doc_id = ?", (registry.doc_ids[0],))
    conn.commit()
    conn.close()
    _same(registry.lexical_search(q, 40), _fts5(registry, q, 40))
    assert registry.lexical_search(q, 40, [registry.doc_ids[0]]) == []


def test_memory_budget_evicts_least_recently_used(tmp_path, registry):
    small = Registry(registry.path, lexical_cache_postings=50)
    for q in QUESTIONS:
        _same(small.lexical_search(q, 40), _fts5(registry, q, 40))
        assert small.term_scores.postings <= 50 or len(small.term_scores._lists) == 1
    small.close()


def test_warming_fetches_frequent_words_within_half_the_budget(registry):
    words = registry.frequent_words(50, sample=200)
    assert "council" in words[:10] and not set(words) & STOPWORDS
    half = Registry(registry.path, lexical_cache_postings=400)
    half.warm_lexical()
    lists = list(half.term_scores._lists.values())
    assert half.term_scores.postings >= 200  # half the budget reached ...
    assert sum(len(ids) for ids, _ in lists[:-8]) < 200  # ... by the last batch of eight words, then it stopped
    for q in QUESTIONS:  # warmed lists rank as FTS5 does
        _same(half.lexical_search(q, 40), _fts5(registry, q, 40))
    half.close()
