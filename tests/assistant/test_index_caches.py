"""What the assistant keeps about the index between questions is read again as soon as the index changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant, Filters
from assistant.retrieve import Retriever
from clerk.settings import Settings
from ingest.discover import source_for
from ingest.parse import ParseJob, parse_file
from ingest.registry import DocumentRecord, Registry
from ingest.store import Store
from tests.helpers import copy_corpus_files, make_settings

FIRST = "nwldc/lga-peer-challenge-progress-review-2025.txt"
SECOND = "blaby/lga-peer-challenge-progress-review-2022.txt"


def _add(registry: Registry, path: Path) -> str:
    """Index a real corpus file's pages and chunks in the registry (no vectors: nothing here searches them)."""
    source = source_for(path)
    out = parse_file(ParseJob(path, source, source.replace("/", "_")), Settings(ocr=False))
    assert out.doc is not None, out.error
    meta = out.doc.meta
    rec = DocumentRecord(
        doc_id=out.job.doc_id, path=str(path), source=source, status="indexed", chunks=len(out.nodes),
        council=meta.council, title=meta.title, doc_type=meta.doc_type, date=meta.date,
    )  # fmt: skip
    registry.replace_content(rec, out.doc.pages, out.nodes, out.tokens)
    return rec.doc_id


@pytest.fixture()
def files(tmp_path: Path) -> list[Path]:
    return copy_corpus_files(tmp_path / "docs", [FIRST, SECOND])


def test_documents_are_reread_after_a_write_here_or_elsewhere(tmp_path, files):
    store = Store(make_settings(tmp_path))
    retriever = Retriever(store, embedder=None)  # type: ignore[arg-type]  # listing documents embeds nothing
    first = _add(store.registry, files[0])
    assert [d.doc_id for d in retriever.documents()] == [first]
    listed = retriever.documents()
    listed.clear()  # callers get their own list
    assert [d.doc_id for d in retriever.documents()] == [first]

    # another connection (the web app's upload thread has its own) adds a document
    other = Registry(store.registry.path)
    second = _add(other, files[1])
    assert {d.doc_id for d in retriever.documents()} == {first, second}
    blaby = next(d.council for d in retriever.documents() if d.doc_id == second)
    assert retriever.scope(Filters(councils=(blaby,))) == [second]
    other.delete_document(first)
    other.close()
    assert [d.doc_id for d in retriever.documents()] == [second]
    store.close()


@pytest.mark.slow
def test_councils_named_in_questions_follow_the_index(tmp_path, files, embedder):
    settings = make_settings(tmp_path)
    store = Store(settings)
    _add(store.registry, files[0])
    a = Assistant(settings, store=store, embedder=embedder)
    question = "What did the peer team say to Blaby District Council?"
    before = a.analyse(question)
    assert not before.councils and before.unknown_councils  # a council the index does not hold

    other = Registry(store.registry.path)
    second = _add(other, files[1])
    other.close()
    after = a.analyse(question)
    council = store.registry.by_id(second).council
    assert after.councils == {council} and not after.unknown_councils
    a.close()


@pytest.mark.slow
def test_dense_search_in_a_large_scope_keeps_the_filtered_ranking(tmp_path, embedder):
    from ingest.pipeline import Ingester
    from tests.helpers import corpus_file

    settings = make_settings(tmp_path)
    files = ["nwldc/lga-peer-challenge-progress-review-2025.txt", "nwldc/productivity-plan.txt",
             "blaby/lga-peer-challenge-progress-review-2022.txt"]  # fmt: skip
    ingester = Ingester(settings, embedder=embedder)
    assert ingester.run([corpus_file(f) for f in files]).ok
    store = ingester.store
    retriever = Retriever(store, embedder)
    docs = {d.source.split("/")[-1]: d for d in retriever.documents()}
    nwldc = [d.doc_id for name, d in docs.items() if not name.startswith("lga-peer-challenge-progress-review-2022")]
    blaby = [d.doc_id for d in docs.values() if d.doc_id not in nwldc]
    retriever.post_filter_k = 12  # small index: look at the 12 nearest before filtering
    retriever.post_filter_share = 0.1
    n = 5
    for question, scope, unfiltered_enough in [
        ("What did the peer team say about North West Leicestershire's reserves?", nwldc, True),
        ("What did the peer team say about Blaby's housing?", nwldc, False),  # about the other council
        ("What did the peer team say about Blaby's housing?", blaby, True),
    ]:
        vector = embedder.embed_query(question)
        nearest = store.nearest_with_documents(vector, retriever.post_filter_k)
        assert (sum(d in scope for _, _, d in nearest) >= n) == unfiltered_enough  # which way it is answered
        where = {"doc_id": {"$in": scope}} if len(scope) > 1 else {"doc_id": scope[0]}
        want = store.dense_search(vector, n, where)
        got = retriever.dense(vector, n, scope)
        assert [c for c, _ in got] == [c for c, _ in want]
        assert {c["doc_id"] for c in store.registry.chunks(ids=[c for c, _ in got])} <= set(scope)
    store.close()
