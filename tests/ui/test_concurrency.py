"""Several questions answered at once through one assistant while the library adds documents.

``clerk serve`` answers up to ``ask_workers`` questions at the same time with one
:class:`assistant.Assistant` (one registry connection, shared caches, one
embedder), while an upload is ingested on a background thread with its own store.
These tests run that on real corpus files and check that nothing fails and that
every citation stands: its chunk and document are in the registry, the document
committed before the answer was given, and the quote is on the cited page.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time

import numpy as np
import pytest

from assistant import Assistant
from assistant.sentvec import SentenceVectors
from assistant.types import Answer, Passage
from tests.helpers import ROOT, copy_corpus_files, corpus_file, make_settings
from ui.accounts import Accounts
from ui.app import build_blocks
from ui.library import Library

pytestmark = pytest.mark.slow

BASE = ["nwldc/productivity-plan.txt", "blaby/lga-peer-challenge-progress-review-2022.txt"]
ADDED = [
    "nwldc/lga-peer-challenge-progress-review-2025.txt",
    "nwldc/lga-case-study-council-wide-assurance.txt",
    "nwldc/cabinet-2025-06-24-peer-review-follow-up.txt",
]


def gold_questions(files: list[str]) -> list[str]:
    """Dev questions whose gold passages are in ``files``."""
    out = []
    for line in (ROOT / "evals" / "gold" / "dev.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if any(s["file"] in files for s in item.get("sources", [])):
            out.append(item["question"])
    return out


def squeeze(text: str) -> str:
    return " ".join(text.split())


def passages_of(rel: str) -> list[Passage]:
    """The paragraphs of a corpus text file as passages (ids from their position)."""
    paragraphs = [p for p in corpus_file(rel).read_text(encoding="utf-8").split("\n\n") if len(p.split()) > 5]
    return [Passage(f"p{i}", "doc", p, rel, "", "", "", "", 1, 1, "", 0, len(p)) for i, p in enumerate(paragraphs[:24])]


def test_sentence_vectors_stay_right_while_other_threads_clear_and_evict(embedder):
    """Readers racing a clearing thread (and a small capacity that evicts) get every passage's own vectors."""
    passages = passages_of("nwldc/productivity-plan.txt")
    reference = {p.chunk_id: SentenceVectors(embedder).get([p])[0] for p in passages}
    cache = SentenceVectors(embedder, capacity=6)
    errors: list[BaseException] = []
    stop = time.monotonic() + 4.0

    def read(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while time.monotonic() < stop:
                chosen = rng.sample(passages, 4)
                for p, (spans, vecs) in zip(chosen, cache.get(chosen), strict=True):
                    want_spans, want_vecs = reference[p.chunk_id]
                    assert spans == want_spans and np.allclose(vecs, want_vecs, atol=1e-5)
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(exc)

    def clear() -> None:
        while time.monotonic() < stop:
            cache.clear()
            time.sleep(0.001)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(4)] + [threading.Thread(target=clear)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(cache) <= 6


def test_questions_answered_at_once_while_documents_are_added_cite_only_committed_text(tmp_path, embedder):
    settings = make_settings(tmp_path)
    from ingest.pipeline import Ingester

    report = Ingester(settings, embedder=embedder).run([corpus_file(f) for f in BASE])
    assert report.ok and report.count("indexed") == len(BASE), report.results
    assistant = Assistant(settings, embedder=embedder)
    library = Library(assistant)
    questions = gold_questions(BASE + ADDED)
    assert len(questions) >= 20
    answers: list[tuple[Answer, float]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    started = threading.Barrier(5)

    def ask(seed: int) -> None:
        rng = random.Random(seed)
        mine = rng.sample(questions, len(questions))
        started.wait()
        after = 0  # questions asked after the upload finished: the new documents must be found
        try:
            for k in range(200):
                if library.job is not None and library.job.finished:
                    after += 1
                    if after > 3:
                        return
                answer = assistant.ask(mine[k % len(mine)])
                with lock:
                    answers.append((answer, time.time()))
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    started.wait()
    job = library.add([str(corpus_file(f)) for f in ADDED])
    while not job.finished:
        time.sleep(0.1)
    finished = time.time()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors[:3]
    assert job.errors == [] and [r.outcome for r in job.results] == ["indexed"] * len(ADDED), job.results
    assert any(at < finished for _, at in answers), "no question was answered while the documents were added"

    conn = sqlite3.connect(settings.registry_path)
    committed = dict(conn.execute("SELECT doc_id, updated_at FROM documents WHERE status = 'indexed'"))
    added = {d for (d,) in conn.execute("SELECT doc_id FROM documents WHERE source LIKE '%uploads%'")}
    assert len(added) == len(ADDED)
    cited_added = 0
    for answer, at in answers:
        for c in answer.citations:
            chunk = conn.execute("SELECT doc_id, text FROM chunks WHERE id = ?", (c.chunk_id,)).fetchone()
            assert chunk is not None and chunk[0] == c.doc_id, (answer.question, c.chunk_id)
            assert c.doc_id in committed and committed[c.doc_id] <= at, (answer.question, c.source)
            page = conn.execute("SELECT text FROM pages WHERE doc_id = ? AND number = ?", (c.doc_id, c.page)).fetchone()
            assert c.verified and squeeze(c.quote) in squeeze(chunk[1]) and squeeze(c.quote) in squeeze(page[0])
            cited_added += c.doc_id in added
    assert cited_added, "no answer cited a document added during the run"
    assert {r[0] for r in conn.execute("SELECT id FROM chunks")} == assistant.store.vector_ids()
    conn.close()
    assistant.close()


def test_the_chat_answers_up_to_ask_workers_questions_at_once(tmp_path, embedder, monkeypatch):
    """Both ways of asking (Enter and the button) share one pool of ``ask_concurrency`` slots."""
    monkeypatch.setenv("CLERK_ASK_CONCURRENCY", "3")
    settings = make_settings(tmp_path)
    assert settings.ask_workers == 3
    from ingest.pipeline import Ingester

    assert Ingester(settings, embedder=embedder).run([corpus_file(BASE[0])]).ok
    assistant = Assistant(settings, embedder=embedder)
    blocks = build_blocks(assistant, Library(assistant), Accounts(settings.users_path))
    asking = [fn for fn in blocks.fns.values() if getattr(fn, "name", "") == "respond"]
    assert len(asking) == 2
    assert {(fn.concurrency_limit, fn.concurrency_id) for fn in asking} == {(3, "ask")}
    assistant.close()


def test_a_document_changed_by_another_connection_is_quoted_from_its_new_text(tmp_path, embedder):
    """``clerk ingest`` (another connection) replaces a document while the assistant has its pages cached."""
    from ingest.pipeline import Ingester

    assert sqlite3.threadsafety == 3  # the registry connection is shared by the answering threads
    plan = copy_corpus_files(tmp_path / "docs", ["nwldc/productivity-plan.txt"])[0]
    settings = make_settings(tmp_path)
    assert Ingester(settings, embedder=embedder).run([plan]).ok
    assistant = Assistant(settings, embedder=embedder)
    first = assistant.ask("What does the productivity plan say about digital services?")
    assert first.citations and all(c.verified for c in first.citations)  # the plan's page is now cached

    review = corpus_file("nwldc/lga-peer-challenge-progress-review-2025.txt").read_text(encoding="utf-8")
    reserves = next(p for p in review.split("\n\n") if "£30m" in p)
    plan.write_text(plan.read_text(encoding="utf-8") + "\n\n" + reserves + "\n", encoding="utf-8")
    other = Ingester(settings, embedder=embedder)  # its own store: a second connection, as another process has
    assert other.run([plan]).count("indexed") == 1
    other.store.close()

    answer = assistant.ask("How much money does North West Leicestershire District Council hold in reserve?")
    quoted = [c for c in answer.citations if "£30m" in c.quote]
    assert quoted and quoted[0].doc_id == first.citations[0].doc_id
    assert all(c.verified for c in answer.citations), [(c.quote, c.page) for c in answer.citations]
    assistant.close()
