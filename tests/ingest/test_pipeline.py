"""Incremental ingest into a real embedded Chroma and SQLite registry, on real corpus files."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest.pipeline import DUPLICATE, FAILED, INDEXED, PRUNED, UNCHANGED, Ingester, Progress, processing_version
from ingest.store import Store
from tests.helpers import copy_corpus_files, encrypted_copy, make_settings

pytestmark = pytest.mark.slow

FILES = [
    "nwldc/lga-peer-challenge-progress-review-2025.txt",
    "hertingfordbury-pc/hpc-reserves-policy.pdf",
    "hertingfordbury-pc/hpc-explanation-of-significant-variances-2015-16.docx",
    "trafford/trafford-constitution-part-1-summary.pdf",
]


def _state(store: Store) -> tuple[set[str], set[str]]:
    return store.registry.chunk_ids(), store.vector_ids()


def _outcomes(report) -> dict[str, str]:
    return {Path(r.source).name: r.outcome for r in report.results}


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    copy_corpus_files(root, FILES)
    return root


def test_reingest_is_idempotent_and_changes_replace(tmp_path, corpus, embedder):
    ing = Ingester(make_settings(tmp_path), embedder=embedder)
    first = ing.run([corpus])
    assert first.ok and first.count(INDEXED) == len(FILES)
    ids, vectors = _state(ing.store)
    assert ids and ids == vectors, "registry chunks and Chroma vectors must match exactly"
    docs = {d.source: d for d in ing.store.registry.documents()}
    assert all(d.status == "indexed" and d.chunks > 0 and d.pages > 0 for d in docs.values())

    # the lexical (BM25) index answers with the chunk that holds the words that matter, not the question words
    top_id, _ = ing.store.registry.lexical_search("What was the budget for the transformation programme?", 1)[0]
    assert "£500,000" in ing.store.registry.chunks(ids=[top_id])[0]["text"]

    second = ing.run([corpus])
    assert second.count(UNCHANGED) == len(FILES) and second.count(INDEXED) == 0
    assert _state(ing.store) == (ids, vectors)

    # change one file: its chunks are replaced, the others keep theirs
    txt = corpus / FILES[0]
    txt.write_text(
        txt.read_text() + "\n\n5. Addendum\n\nThe council agreed a new dragon-boat festival budget of £12,345.\n"
    )
    third = ing.run([corpus])
    assert _outcomes(third)[txt.name] == INDEXED and third.count(UNCHANGED) == len(FILES) - 1
    new_ids, new_vectors = _state(ing.store)
    assert new_ids == new_vectors
    assert any("dragon-boat" in c["text"] for c in ing.store.registry.chunks(doc_id=docs[_src(txt)].doc_id))
    unchanged_doc = docs[_src(corpus / FILES[3])].doc_id
    assert ing.store.registry.chunk_ids(unchanged_doc) <= ids
    assert ing.store.registry.lexical_search("dragon-boat festival", 3)[0][0] in new_ids

    # delete one file: --prune removes its document, chunks and vectors
    (corpus / FILES[1]).unlink()
    fourth = ing.run([corpus], prune=True)
    assert _outcomes(fourth)[Path(FILES[1]).name] == PRUNED
    assert _src(corpus / FILES[1]) not in {d.source for d in ing.store.registry.documents()}
    pruned_id = docs[_src(corpus / FILES[1])].doc_id
    assert ing.store.registry.by_id(pruned_id) is None and not ing.store.registry.chunk_ids(pruned_id)
    ids, vectors = _state(ing.store)
    assert ids == vectors and ids
    # the lexical index moved with them: every BM25 hit is a live chunk with a vector
    hits = {cid for cid, _ in ing.store.registry.lexical_search("council budget report meeting", 500)}
    assert hits and hits <= ids


def _src(path: Path) -> str:
    from ingest.discover import source_for

    return source_for(path)


def test_bad_files_are_reported_and_the_rest_indexed(tmp_path, corpus, embedder):
    (corpus / "bad").mkdir()
    (corpus / "bad" / "corrupt.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf \x00\x01" * 10)
    (corpus / "bad" / "empty.txt").write_bytes(b"")
    encrypted_copy("hertingfordbury-pc/hpc-reserves-policy.pdf", corpus / "bad" / "encrypted.pdf", "secret")
    ing = Ingester(make_settings(tmp_path), embedder=embedder)
    report = ing.run([corpus])
    out = _outcomes(report)
    assert out["corrupt.pdf"] == FAILED and out["empty.txt"] == FAILED and out["encrypted.pdf"] == FAILED
    notes = {Path(r.source).name: r.note for r in report.results}
    assert "PDF" in notes["corrupt.pdf"] and "empty" in notes["empty.txt"] and "password" in notes["encrypted.pdf"]
    assert all(out[Path(f).name] == INDEXED for f in FILES)
    assert not report.ok
    statuses = {Path(d.source).name: (d.status, d.error) for d in ing.store.registry.documents()}
    assert statuses["encrypted.pdf"][0] == "failed" and "password" in statuses["encrypted.pdf"][1]


def test_a_broken_new_version_keeps_the_indexed_one(tmp_path, corpus, embedder):
    ing = Ingester(make_settings(tmp_path), embedder=embedder)
    ing.run([corpus])
    pdf = corpus / FILES[3]
    before = ing.store.registry.by_path(str(pdf))
    pdf.write_bytes(pdf.read_bytes()[:2000])  # truncated: no longer a readable PDF
    report = ing.run([corpus])
    assert _outcomes(report)[pdf.name] == FAILED and not report.ok
    after = ing.store.registry.by_path(str(pdf))
    assert after.status == "stale" and after.error
    assert ing.store.registry.chunk_ids(before.doc_id) == ing.store.registry.chunk_ids(after.doc_id) != set()


def test_duplicates_are_indexed_once(tmp_path, embedder):
    root = tmp_path / "docs"
    copy_corpus_files(root, ["kent-cc/kcc-appendix-h-reserves-policy.pdf"])
    shutil.copy2(root / "kent-cc/kcc-appendix-h-reserves-policy.pdf", root / "kent-cc/copy-of-reserves-policy.pdf")
    ing = Ingester(make_settings(tmp_path), embedder=embedder)
    report = ing.run([root])
    out = _outcomes(report)
    assert sorted(out.values()) == [DUPLICATE, INDEXED]
    assert ing.run([root]).count(INDEXED) == 0


def test_an_interrupted_run_is_completed_by_the_next(tmp_path, corpus, embedder, monkeypatch):
    ing = Ingester(make_settings(tmp_path), embedder=embedder)
    calls = {"n": 0}
    real = ing.store.registry.replace_content

    def crash_on_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C after Chroma got the vectors
        return real(*args, **kwargs)

    monkeypatch.setattr(ing.store.registry, "replace_content", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        ing.run([corpus])
    monkeypatch.undo()
    ids, vectors = _state(ing.store)
    assert vectors > ids, "the interrupted document left vectors the registry does not reference"

    fresh = Ingester(make_settings(tmp_path), embedder=embedder)
    report = fresh.run([corpus])
    assert report.repaired_vectors > 0
    assert report.count(UNCHANGED) == 1 and report.count(INDEXED) == len(FILES) - 1
    ids, vectors = _state(fresh.store)
    assert ids == vectors
    assert fresh.run([corpus]).count(UNCHANGED) == len(FILES)


def test_missing_vectors_are_re_embedded(tmp_path, corpus, embedder):
    ing = Ingester(make_settings(tmp_path), embedder=embedder)
    ing.run([corpus])
    some = sorted(ing.store.registry.chunk_ids())[:3]
    ing.store.collection.delete(ids=some)
    report = ing.run([corpus])
    assert report.count(INDEXED) >= 1
    ids, vectors = _state(ing.store)
    assert ids == vectors


def test_files_split_by_an_earlier_clerk_are_processed_again_once(tmp_path, corpus, embedder):
    """An index built before the splitting changed re-processes its unchanged files on the next ingest."""
    ing = Ingester(make_settings(tmp_path), embedder=embedder)
    ing.run([corpus])
    ids, _ = _state(ing.store)
    reserves = next(d for d in ing.store.registry.documents() if d.source.endswith("hpc-reserves-policy.pdf"))
    # as an index written before documents recorded their processing version reads
    ing.store.registry.conn.execute("UPDATE documents SET processing = NULL WHERE doc_id = ?", (reserves.doc_id,))

    again = _outcomes(ing.run([corpus]))
    assert again["hpc-reserves-policy.pdf"] == INDEXED
    assert sorted(again.values()).count(UNCHANGED) == len(FILES) - 1
    assert _state(ing.store) == (ids, ids), "the same file split the same way: the same chunks, no duplicates"
    assert ing.run([corpus]).count(UNCHANGED) == len(FILES)


def test_reading_tables_another_way_processes_the_files_again(tmp_path, corpus, embedder):
    """The ``tables`` setting changes the text a PDF yields: switching it re-reads the files once (all of them, which is simplest), then nothing."""
    plain = Ingester(make_settings(tmp_path, tables="off"), embedder=embedder)
    plain.run([corpus])
    plain.store.close()
    tables = Ingester(make_settings(tmp_path, tables="all"), embedder=embedder)
    assert tables.run([corpus]).count(INDEXED) == len(FILES)
    assert tables.run([corpus]).count(UNCHANGED) == len(FILES)
    assert {d.processing for d in tables.store.registry.documents()} == {processing_version(tables.settings)}


def test_hostile_batch_is_reported_file_by_file_and_the_rest_indexed(tmp_path, corpus, embedder, monkeypatch):
    """Every kind of broken or hostile input in one run: one clear line each, the good files indexed."""
    from assistant import Assistant
    from ingest import pipeline
    from tests.hostile import docx_zip_bomb, pdf_with_text_layers, prose_lines
    from tests.ingest.test_hostile import repeated_page_pdf

    bad = corpus / "bad"
    bad.mkdir()
    pdf_with_text_layers(bad / "garbled.pdf", [prose_lines(skip=0), prose_lines(skip=40)], garbled={1, 2})
    pdf_with_text_layers(bad / "half-garbled.pdf", [prose_lines(skip=0), prose_lines(skip=40)], garbled={2})
    (bad / "agenda.pdf").write_text(
        "<!DOCTYPE html><html><body><h1>Agenda of the Riverside Parish Council meeting</h1>"
        "<p>The council will set the allotment rent for 2026 at its June meeting.</p></body></html>",
        encoding="utf-8",
    )
    docx_zip_bomb(bad / "bomb.docx", unpacked_mb=1024)
    with (bad / "huge.pdf").open("wb") as f:
        f.truncate(200 * 2**20 + 1)
    (bad / "notes-utf16.txt").write_bytes("Riverside notes: the clerk’s salary is £21,000 a year.".encode("utf-16"))
    (bad / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (bad / "empty.txt").touch()
    data = (corpus / FILES[1]).read_bytes()
    (bad / "truncated.pdf").write_bytes(data[: len(data) // 2])
    encrypted_copy("hertingfordbury-pc/hpc-grants-policy.pdf", bad / "locked.pdf", "secret")
    encrypted_copy("hertingfordbury-pc/hpc-grants-policy.pdf", bad / "restricted.pdf", "")
    repeated_page_pdf(bad / "repeated.pdf")

    hashed: list[str] = []
    real_hash = pipeline.sha256_of
    monkeypatch.setattr(pipeline, "sha256_of", lambda path: hashed.append(path.name) or real_hash(path))
    settings = make_settings(tmp_path, ocr=False)
    ing = Ingester(settings, embedder=embedder)
    report = ing.run([corpus])

    out = _outcomes(report)
    notes = {Path(r.source).name: r.note for r in report.results}
    assert all(out[Path(f).name] == INDEXED for f in FILES)
    expected = {
        "garbled.pdf": ("needs_ocr", "text layer is unreadable (glyph soup"),
        "half-garbled.pdf": (INDEXED, "page 2 has an unreadable text layer (glyph soup"),
        "agenda.pdf": (INDEXED, "the file is named .pdf but is an HTML page; read as HTML"),
        "bomb.docx": (FAILED, "Word .docx file refused as a zip bomb: it would unpack to 1,024 MB"),
        "huge.pdf": (FAILED, "file is 200.0 MB, over the 200 MB limit (CLERK_MAX_FILE_MB)"),
        "notes-utf16.txt": (INDEXED, ""),
        "binary.txt": (FAILED, "text is unreadable (glyph soup"),
        "empty.txt": (FAILED, "file is empty"),
        "truncated.pdf": (FAILED, "not a readable PDF"),
        "locked.pdf": (FAILED, "PDF is encrypted and needs a password"),
        "restricted.pdf": (INDEXED, ""),
        "repeated.pdf": (INDEXED, "pages 2-1000 repeat earlier pages word for word; indexed once"),
    }
    for name, (outcome, note) in expected.items():
        assert out[name] == outcome, (name, notes[name])
        assert note in notes[name], (name, notes[name])
    assert "huge.pdf" not in hashed and "empty.txt" not in hashed  # refused by size, never read
    assert report.count(FAILED) == 6 and not report.ok

    ids, vectors = _state(ing.store)
    assert ids == vectors
    chunk_rows = {r[0] for r in ing.store.registry.conn.execute("SELECT rowid FROM chunks")}
    assert chunk_rows == {r[0] for r in ing.store.registry.conn.execute("SELECT id FROM chunks_fts_docsize")}
    repeated = ing.store.registry.by_path(str(bad / "repeated.pdf"))
    assert repeated.pages == 1000 and repeated.chunks <= 5
    texts = [c["text"] for c in ing.store.registry.chunks(doc_id=repeated.doc_id)]
    assert len(set(texts)) == len(texts)

    again = ing.run([corpus])  # failures are retried and still fail; nothing indexed is lost
    assert again.count(INDEXED) == 0 and again.count(FAILED) == 6 and _state(ing.store) == (ids, vectors)

    assistant = Assistant(settings, embedder=embedder)
    try:
        ans = assistant.ask("What is Trafford's car mileage allowance for councillors?")
    finally:
        assistant.close()
    assert "46.9p" in ans.answer
    cited = [c for c in ans.citations if c.source.endswith("repeated.pdf")]
    assert cited and {c.page for c in cited} == {1}  # the first copy, the page a reader finds it on


class _Events(Progress):
    """The order in which a run parses (plans) and commits documents."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def chunks_planned(self, n: int) -> None:
        self.events.append("parsed")

    def file_done(self, result) -> None:
        self.events.append(f"committed {Path(result.source).name}")


@pytest.mark.parametrize(("group", "expected"), [
    (1, ["parsed", "committed a.txt", "parsed", "committed b.txt"]),  # each document searchable on its own
    (256, ["parsed", "parsed", "committed a.txt", "committed b.txt"]),  # a bulk run embeds both in one pass
])
def test_small_groups_commit_each_document_before_reading_the_next(tmp_path, embedder, group, expected):
    docs = tmp_path / "docs"
    copy_corpus_files(docs, ["nwldc/productivity-plan.txt", "nwldc/lga-case-study-council-wide-assurance.txt"])
    (docs / "nwldc" / "productivity-plan.txt").rename(docs / "a.txt")
    (docs / "nwldc" / "lga-case-study-council-wide-assurance.txt").rename(docs / "b.txt")
    events = _Events()
    report = Ingester(make_settings(tmp_path), embedder=embedder, group_chunks=group).run(
        [docs / "a.txt", docs / "b.txt"], progress=events
    )
    assert report.count(INDEXED) == 2
    assert events.events == expected


def test_parsing_ahead_in_a_worker_is_bounded_and_keeps_the_order(tmp_path, corpus, embedder, monkeypatch):
    import ingest.pipeline as pipeline

    inline = Ingester(make_settings(tmp_path / "inline"), embedder=embedder)
    want = inline.run([corpus])
    monkeypatch.setattr(pipeline, "PARSE_AHEAD", 1)  # one document ahead (two, with one worker's minimum)
    ahead = Ingester(make_settings(tmp_path / "ahead", parse_workers=1), embedder=embedder)
    got = ahead.run([corpus])
    assert got.ok and got.count(INDEXED) == len(FILES)
    assert [(r.source, r.outcome, r.chunks) for r in got.results] == [(r.source, r.outcome, r.chunks) for r in want.results]
    assert ahead.store.registry.chunk_ids() == inline.store.registry.chunk_ids()


class _Waits(Progress):
    def __init__(self) -> None:
        self.waited = threading.Event()

    def waiting(self) -> None:
        self.waited.set()


def test_runs_on_one_index_take_turns(tmp_path, corpus, embedder):
    """A second run waits for the first, so its reconcile never deletes the first's uncommitted vectors."""
    from ingest.lock import ingest_lock

    settings = make_settings(tmp_path)
    progress, done = _Waits(), threading.Event()
    with ingest_lock(settings.index):  # as a run in another thread or process would hold it
        worker = threading.Thread(
            target=lambda: (Ingester(settings, embedder=embedder).run([corpus], progress=progress), done.set())
        )
        worker.start()
        assert progress.waited.wait(60)
        time.sleep(0.5)
        assert not done.is_set()  # nothing written while the other run holds the index
        assert Store(settings).registry.chunk_ids() == set()
    worker.join(300)
    assert done.is_set()
    ids, vectors = _state(Store(settings))
    assert ids and ids == vectors


def test_a_killed_run_leaves_the_index_unlocked(tmp_path, corpus, embedder):
    """The kernel drops a dead process's lock: a run killed mid-way never blocks the next one."""
    settings = make_settings(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\nfrom ingest.lock import ingest_lock\n"
         "with ingest_lock(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(600)\n", str(settings.index)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        reports: list = []
        worker = threading.Thread(target=lambda: reports.append(Ingester(settings, embedder=embedder).run([corpus])))
        worker.start()
        worker.join(300)  # a lock that outlived its holder would block the run for ever
        assert reports and reports[0].count(INDEXED) == len(FILES)
    finally:
        holder.kill()
