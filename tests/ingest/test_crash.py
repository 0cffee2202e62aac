"""Crash safety: `clerk ingest` killed with SIGKILL at seeded random points, then run again.

Each kill waits until the killed run has committed a chosen number of
documents (read from its registry) and then a random fraction of a second more,
so the kills land among the run's commits: while it embeds, while Chroma
writes vectors, while the registry swaps a document's chunks. After every kill
the next run must finish the job, and the index must be exactly what an
uninterrupted run builds: each document once, the same chunk ids in the
registry, in Chroma and in the FTS5 lexical index, no orphan pages or vectors.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import FAILED, INDEXED, UNCHANGED, Ingester, sha256_of
from ingest.store import Store
from tests.helpers import ROOT, copy_corpus_files, make_settings, server_env

pytestmark = pytest.mark.slow

FILES = [
    "hertingfordbury-pc/hpc-grants-policy.docx",
    "hertingfordbury-pc/hpc-reserves-policy.pdf",
    "kent-cc/kcc-governance-audit-committee-terms-of-reference.pdf",
    "manordeilo-salem-cc/mscc-notice-electors-rights-2019-20.pdf",
    "nwldc/cabinet-2025-06-24-peer-review-follow-up.txt",
    "nwldc/lga-case-study-council-wide-assurance.txt",
    "trafford/trafford-constitution-part-1-summary.pdf",
]
CHANGED = FILES[4:6]  # rewritten between the first-ingest kills and the re-ingest kills
#: Commit after every few chunks, so a run has many commit points to be killed between (and inside).
GROUP_CHUNKS = 8
SEED = 20250611


class _Reader:
    """Read-only queries on a database another process is writing; -1 while it cannot be read yet."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None

    def count(self, sql: str, *args: object) -> int:
        try:
            if self.conn is None:
                if not self.path.exists():
                    return -1
                self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=0.2)
            return int(self.conn.execute(sql, args).fetchone()[0])
        except sqlite3.Error:  # the schema is being created, or the file is locked for a moment
            return -1

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


#: Kill the moment Chroma holds a vector it did not hold when the run began: inside a document's commit.
FIRST_VECTOR = -1


def kill_ingest_after(docs: Path, index: Path, commits: int, extra: float) -> int:
    """Run `clerk ingest` in its own process group and SIGKILL the group at a chosen point.

    ``commits >= 0``: ``extra`` seconds after the run has committed that many
    documents, counted from the moment it has planned its files (its empty
    file is on record), so 0 means while the model loads or the first chunks
    are embedded. ``FIRST_VECTOR``: as soon as the run's first new vectors are
    in Chroma, before (or while) the registry swaps that document's chunks.
    Returns the exit status (negative: killed by that signal).
    """
    start = time.time()
    registry, chroma = _Reader(index / "registry.sqlite3"), _Reader(index / "chroma" / "chroma.sqlite3")
    vectors_before = chroma.count("SELECT count(*) FROM embeddings")
    env = server_env() | {"CLERK_EMBED_GROUP_CHUNKS": str(GROUP_CHUNKS)}
    cmd = [sys.executable, "-m", "clerk.cli", "ingest", str(docs), "--index", str(index), "--workers", "0", "--quiet"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            if commits == FIRST_VECTOR:
                if chroma.count("SELECT count(*) FROM embeddings") > max(vectors_before, 0):
                    break
                time.sleep(0.005)
                continue
            planned = registry.count("SELECT count(*) FROM documents WHERE status = 'failed' AND updated_at > ?", start)
            done = registry.count("SELECT count(*) FROM documents WHERE status = 'indexed' AND updated_at > ?", start)
            if planned > 0 and done >= commits:
                time.sleep(extra)
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group: a power cut, not a polite stop
        proc.wait(timeout=60)
        registry.close()
        chroma.close()
    return proc.returncode


def assert_index_consistent(store: Store, expected_ids: set[str], docs: Path) -> None:
    """Registry, Chroma and FTS5 hold the same chunks, each document once, nothing orphaned."""
    conn = store.registry.conn
    rows = conn.execute("SELECT doc_id, path, status, pages, chunks FROM documents").fetchall()
    paths = [r["path"] for r in rows]
    assert len(paths) == len(set(paths)) == len(FILES) + 1  # every file once (the empty one as failed)
    by_name = {Path(r["path"]).name: r for r in rows}
    assert by_name["empty.txt"]["status"] == "failed"
    indexed = {r["doc_id"]: r for r in rows if r["status"] == "indexed"}
    assert {Path(r["path"]).relative_to(docs).as_posix() for r in indexed.values()} == set(FILES)

    ids = [r[0] for r in conn.execute("SELECT id FROM chunks")]
    assert len(ids) == len(set(ids)), "duplicate chunk ids"
    assert set(ids) == expected_ids, "the index differs from what an uninterrupted run builds"
    assert store.vector_ids() == set(ids), "Chroma and the registry disagree"
    chunk_rows = {r[0] for r in conn.execute("SELECT rowid FROM chunks")}
    fts_rows = {r[0] for r in conn.execute("SELECT id FROM chunks_fts_docsize")}
    assert fts_rows == chunk_rows, "the FTS5 index and the chunks disagree"
    conn.execute("INSERT INTO chunks_fts (chunks_fts, rank) VALUES ('integrity-check', 1)")  # raises if corrupt

    for doc_id, rec in indexed.items():
        pages = conn.execute("SELECT count(*) FROM pages WHERE doc_id = ?", (doc_id,)).fetchone()[0]
        chunks = conn.execute("SELECT count(*) FROM chunks WHERE doc_id = ?", (doc_id,)).fetchone()[0]
        assert (pages, chunks) == (rec["pages"], rec["chunks"]) and chunks > 0
    orphan_pages = conn.execute(
        "SELECT count(*) FROM pages WHERE doc_id NOT IN (SELECT doc_id FROM documents WHERE status = 'indexed')"
    ).fetchone()[0]
    orphan_chunks = conn.execute(
        "SELECT count(*) FROM chunks WHERE doc_id NOT IN (SELECT doc_id FROM documents WHERE status = 'indexed')"
    ).fetchone()[0]
    assert orphan_pages == 0 and orphan_chunks == 0

    # both channels still answer: a chunk's own vector finds it, its words find it
    some = sorted(ids)[len(ids) // 2]
    vector = store.collection.get(ids=[some], include=["embeddings"])["embeddings"][0]
    assert store.dense_search(vector, k=1)[0][0] == some
    words = store.registry.chunks(ids=[some])[0]["text"]
    assert some in {cid for cid, _ in store.registry.lexical_search(words, k=5)}


def _recover(index: Path, docs: Path, embedder) -> tuple[Store, str]:
    """The run after a crash: it must complete and leave nothing to do for the one after.

    Also returns what the crash left: current documents indexed, chunks and vectors, e.g.
    "3 of 7 documents, 30 chunks, 38 vectors".
    """
    ing = Ingester(make_settings(index.parent, index=index), embedder=embedder)
    registry = ing.store.registry
    current = {str(f): sha256_of(f) for f in docs.rglob("*") if f.is_file()}
    indexed = sum(d.status == "indexed" and d.indexed_sha256 == current.get(d.path) for d in registry.documents())
    left = f"{indexed} of {len(FILES)} documents, {len(registry.chunk_ids())} chunks, {len(ing.store.vector_ids())} vectors"
    report = ing.run([docs])
    outcomes = {Path(r.source).name: r.outcome for r in report.results}
    assert outcomes.pop("empty.txt") == FAILED
    assert set(outcomes.values()) <= {INDEXED, UNCHANGED}, report.results
    again = ing.run([docs])
    assert again.count(INDEXED) == 0 and again.repaired_vectors == 0
    return ing.store, left


def test_ingest_killed_at_random_points_is_completed_by_the_next_run(tmp_path, embedder):
    docs = tmp_path / "docs"
    copy_corpus_files(docs, FILES)
    (docs / "empty.txt").touch()  # fails at planning: its registry row tells that the run has begun
    rng = random.Random(SEED)

    reference = Ingester(make_settings(tmp_path, index=tmp_path / "reference"), embedder=embedder)
    reference.run([docs])
    first_ids = reference.store.registry.chunk_ids()
    assert len(first_ids) > 40

    killed = 0
    states: list[str] = []  # what each kill left behind, for the report
    # first ingest into an empty index: killed before the first commit, inside a commit, late among the commits
    for run, commits in enumerate((0, FIRST_VECTOR, rng.randint(3, 5))):
        index = tmp_path / f"first-{run}"
        status = kill_ingest_after(docs, index, commits, extra=rng.uniform(0.0, 1.5))
        killed += status == -signal.SIGKILL
        store, left = _recover(index, docs, embedder)
        states.append(left)
        assert_index_consistent(store, first_ids, docs)

    # re-ingest of changed files into a copy of the finished index: the old versions are being replaced
    for name in CHANGED:
        path = docs / name
        path.write_text(
            path.read_text(encoding="utf-8") + "\n\nAddendum\n\nThe council agreed a revised "
            f"timetable for {path.stem} at its meeting on 3 March 2026.\n",
            encoding="utf-8",
        )
    reference.store.close()
    base = tmp_path / "base"
    shutil.copytree(tmp_path / "reference", base)
    updated = Ingester(make_settings(tmp_path, index=tmp_path / "reference"), embedder=embedder)
    assert updated.run([docs]).count(INDEXED) == len(CHANGED)
    second_ids = updated.store.registry.chunk_ids()
    assert second_ids != first_ids
    for run, commits in enumerate((FIRST_VECTOR, 1)):
        index = tmp_path / f"second-{run}"
        shutil.copytree(base, index)
        status = kill_ingest_after(docs, index, commits, extra=rng.uniform(0.0, 1.0))
        killed += status == -signal.SIGKILL
        store, left = _recover(index, docs, embedder)
        states.append(left)
        assert_index_consistent(store, second_ids, docs)

    print("left by each kill:", "; ".join(states))
    assert killed >= 4, "most runs must really be killed mid-way for this test to mean anything"
