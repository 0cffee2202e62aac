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
