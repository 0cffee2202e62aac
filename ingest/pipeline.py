"""Incremental ingest: decide what changed, parse in workers, embed, write, report.

Parsing (PDF text extraction, OCR, cleaning, chunking) runs in worker
processes while the main process embeds the chunks of documents already
parsed, so the slowest stage (the embedding model) is rarely left waiting.
Each document is committed as soon as its vectors are written: an interrupted
run keeps everything finished before the interruption.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clerk.settings import Settings
from ingest.access import restriction
from ingest.chunk import doc_id_for
from ingest.corrections import Correction, CorrectionError, correct, names, read_sidecar
from ingest.discover import discover, source_for
from ingest.embed import model_name
from ingest.loaders import check_size
from ingest.lock import ingest_lock
from ingest.metadata import ManifestIndex
from ingest.parse import ParseJob, ParseOutcome, parse_file
from ingest.registry import DocumentRecord
from ingest.store import ModelChanged, Store
from ingest.types import IngestError

if TYPE_CHECKING:
    from ingest.embed import Embedder

#: Documents parsed ahead of the embedder at most (in flight or waiting).
PARSE_AHEAD = 32

#: The version of reading, cleaning and splitting that made a document's chunks. Raise it when
#: a change makes the same file yield other chunks: an index built before then processes its
#: unchanged files once more on the next ingest, instead of keeping chunks this clerk would not make.
PROCESSING = "6"

def processing_version(settings: Settings) -> str:
    """What made a document's chunks: :data:`PROCESSING` and the settings that change the text read.

    A file indexed with tables read one way is processed again when ``tables`` changes, like one
    indexed by an earlier clerk.
    """
    return f"{PROCESSING}/tables={settings.tables}"


#: Outcomes of one file in one run.
INDEXED, UNCHANGED, DUPLICATE, FAILED, NEEDS_OCR, PRUNED, SKIPPED = (
    "indexed", "unchanged", "duplicate", "failed", "needs_ocr", "pruned", "skipped",
)


@dataclass
class FileResult:
    source: str
    outcome: str
    pages: int = 0
    chunks: int = 0
    note: str = ""


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)
    pages: int = 0
    chunks: int = 0
    embedded_tokens: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    repaired_vectors: int = 0
    #: Chunks embedded again because the configured embedding model changed (see ``Ingester._follow_model``).
    reembedded: int = 0

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results)

    @property
    def ok(self) -> bool:
        """True when no file failed (needing OCR is reported but is not a failure)."""
        return self.count(FAILED) == 0


class Progress:
    """What the pipeline tells a progress display; the default shows nothing."""

    def waiting(self) -> None:
        """Another run holds this index's ingest lock; this one starts when it finishes."""

    def start(self, files: int) -> None: ...
    def file_done(self, result: FileResult) -> None: ...
    def chunks_planned(self, n: int) -> None: ...
    def chunks_embedded(self, n: int) -> None: ...
    def stop(self) -> None: ...




def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class _Plan:
    jobs: list[tuple[ParseJob, DocumentRecord]] = field(default_factory=list)
    results: list[FileResult] = field(default_factory=list)


class Ingester:
    """Runs ingest runs against one index. The embedding model is loaded once, on first need.

    ``group_chunks``: how many chunks (of several documents) are embedded in one pass before
    those documents are committed (default ``Settings.embed_group_chunks``). Large groups keep batches full for a bulk run; the web app
    uses small ones so each added document becomes searchable soon after it is read.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        embedder: Embedder | None = None,
        group_chunks: int | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or Store(settings)
        self._embedder = embedder
        self.group_chunks = max(1, group_chunks or settings.embed_group_chunks)
        if embedder is not None:
            # A changed model: a run embeds the index again first (_follow_model); anything else refuses.
            with contextlib.suppress(ModelChanged):
                self.store.bind_model(model_name(settings), embedder.dimension)

    @property
    def embedder(self) -> Embedder:
        """Loaded on first need, so a run with nothing to embed never pays for the model."""
        if self._embedder is None:
            from ingest.embed import Embedder

            s = self.settings
            self._embedder = Embedder(s.embed_model_path, s.embed_batch_size, s.embed_threads)
            self.store.bind_model(model_name(s), self._embedder.dimension)
        return self._embedder

    def run(self, paths: list[Path], prune: bool = False, progress: Progress | None = None) -> IngestReport:
        """Index ``paths`` (files or folders); with ``prune``, drop documents whose files are gone.

        Runs on one index take turns (:mod:`ingest.lock`): a run's first step,
        reconcile, would take another run's vectors written ahead of their
        registry commit for a crash's leftovers and delete them.
        """
        progress = progress or Progress()
        with ingest_lock(self.settings.index, on_wait=progress.waiting):
            return self._run(paths, prune, progress)

    def correct(self, ref: str, changes: dict[str, str], on_wait: Callable[[], None] | None = None) -> Correction:
        """Correct the metadata of the indexed document ``ref`` names (id, path, source or file name).

        Takes the ingest lock like a run: the correction writes the registry and,
        for a new title, the vectors. Raises :class:`CorrectionError` when ``ref``
        names no document or several.
        """
        with ingest_lock(self.settings.index, on_wait=on_wait):
            found = [d for d in self.store.registry.documents() if d.named_by(ref) and d.status != "duplicate"]
            if not found:
                raise CorrectionError(f"no indexed document matches {ref!r} (see `clerk docs`)")
            if len(found) > 1:
                raise CorrectionError(f"{ref!r} names {len(found)} documents: "
                                      + ", ".join(d.source for d in found[:5]) + "; give its path")
            return correct(self.store, self.embedder, found[0], changes, self.settings.uploads_dir)

    def _run(self, paths: list[Path], prune: bool, progress: Progress) -> IngestReport:
        t0 = time.perf_counter()
        report = IngestReport()
        repaired, redo = self.store.reconcile()
        report.repaired_vectors = repaired
        found = discover(paths)
        for missing in found.missing:
            report.results.append(FileResult(missing.as_posix(), FAILED, note="no such file or folder"))
        for skipped in found.skipped:
            report.results.append(FileResult(source_for(skipped), SKIPPED, note="unsupported file type"))
        plan = self._plan(found.files, redo)
        report.results.extend(plan.results)
        progress.start(len(plan.jobs))
        for r in report.results:
            progress.file_done(r)
        report.reembedded = self._follow_model(progress)
        group: list[tuple[ParseOutcome, DocumentRecord]] = []
        grouped = 0  # chunks in the group
        for outcome, rec in self._parsed(plan.jobs):
            if outcome.error is not None:
                report.results.append(self._record_failure(outcome, rec))
                progress.file_done(report.results[-1])
                continue
            group.append((outcome, rec))
            grouped += len(outcome.nodes)
            progress.chunks_planned(len(outcome.nodes))
            if grouped >= self.group_chunks:
                self._embed_and_commit(group, report, progress)
                group, grouped = [], 0
        self._embed_and_commit(group, report, progress)
        if prune:
            report.results.extend(self._prune(progress))
        progress.stop()
        report.seconds = time.perf_counter() - t0
        return report

    def _follow_model(self, progress: Progress) -> int:
        """Embed every indexed chunk again when the configured model is not the one the index was made with.

        Changing ``embed_model`` (a model trained with ``clerk train``, or back
        to the packaged one) must not leave vectors of two models side by side:
        their similarities are not comparable. The text of every chunk is in the
        registry, so nothing is parsed again. Returns how many chunks were embedded.
        """
        name = model_name(self.settings)
        try:
            self.store.require_model(name)
        except ModelChanged:
            if self._embedder is None:
                from ingest.embed import Embedder

                s = self.settings
                self._embedder = Embedder(s.embed_model_path, s.embed_batch_size, s.embed_threads)
            progress.chunks_planned(self.store.registry.chunk_count())
            return self.store.replace_vectors(name, self._embedder.dimension, self._embedder.embed,
                                              progress.chunks_embedded)
        return 0

    # --- planning -------------------------------------------------------------------
    def _plan(self, files: list[Path], redo: set[str]) -> _Plan:
        plan = _Plan()
        reg = self.store.registry
        claimed: dict[str, str] = {}  # sha256 -> source of the file indexing it in this run
        manifests = ManifestIndex()
        for path in files:
            source = source_for(path)
            rec = reg.by_path(str(path))
            try:
                size = path.stat().st_size
                check_size(path, self.settings)  # an oversized file is refused before a byte of it is read
                digest = sha256_of(path)
            except IngestError as exc:
                rec = rec or DocumentRecord(doc_id=self._new_doc_id(source), path=str(path), source=source, status="pending")
                rec.size = size
                job = ParseJob(path, rec.source, rec.doc_id)
                plan.results.append(self._record_failure(ParseOutcome(job, error=str(exc), status=exc.status), rec))
                continue
            except OSError as exc:
                plan.results.append(FileResult(source, FAILED, note=f"cannot be read ({exc.strerror or exc})"))
                continue
            if rec is None:
                rec = DocumentRecord(doc_id=self._new_doc_id(source), path=str(path), source=source, status="pending")
            rec.size = size
            marking = restriction(path, manifests)
            remarked = rec.restricted != marking
            rec.restricted = marking
            current = rec.processing == processing_version(self.settings) and rec.doc_id not in redo
            if rec.status in ("indexed", "stale") and rec.indexed_sha256 == digest and current:
                if rec.status == "stale":  # the file went back to the indexed version
                    rec.status, rec.error, rec.sha256 = "indexed", None, digest
                    remarked = True
                if remarked:  # restricted or released without a content change: no re-embed needed
                    self.store.record(rec)
                claimed.setdefault(digest, rec.source)
                plan.results.append(FileResult(rec.source, UNCHANGED, rec.pages, rec.chunks,
                                               self._sidecar_corrections(path, rec)))
                continue
            owner = claimed.get(digest) or self._indexed_owner(digest, rec.doc_id)
            if owner is not None:
                if rec.status in ("indexed", "stale"):
                    self.store.remove_document(rec.doc_id)
                rec.status, rec.sha256, rec.duplicate_of, rec.error = "duplicate", digest, owner, None
                rec.indexed_sha256, rec.pages, rec.chunks = None, 0, 0
                self.store.record(rec)
                plan.results.append(FileResult(rec.source, DUPLICATE, note=f"identical to {owner}"))
                continue
            claimed[digest] = rec.source
            rec.sha256 = digest
            plan.jobs.append((ParseJob(path, rec.source, rec.doc_id, dict(rec.overrides)), rec))
        return plan

    def _new_doc_id(self, source: str) -> str:
        doc_id = doc_id_for(source)
        while self.store.registry.by_id(doc_id) is not None:  # a different path with the same spelling
            doc_id = doc_id_for(doc_id + source)
        return doc_id

    def _indexed_owner(self, digest: str, doc_id: str) -> str | None:
        owner = self.store.registry.indexed_by_hash(digest)
        if owner is None or owner.doc_id == doc_id or not Path(owner.path).exists():
            return None
        return owner.source

    # --- parsing in workers -----------------------------------------------------------
    def _parsed(self, jobs: list[tuple[ParseJob, DocumentRecord]]) -> Iterator[tuple[ParseOutcome, DocumentRecord]]:
        """Parse outcomes in job order, produced ahead by worker processes.

        At most :data:`PARSE_AHEAD` documents are in flight or parsed and waiting:
        parsing outruns the embedder, and with every file submitted at once the
        parsed text of the whole corpus waited in memory (1.7 GB at 100k chunks).
        """
        workers = max(0, self.settings.parse_workers)
        if workers == 0 or len(jobs) == 1:
            for job, rec in jobs:
                yield parse_file(job, self.settings), rec
            return
        ctx = multiprocessing.get_context("spawn")  # torch in this process does not survive fork well
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            queued = iter(jobs)
            pending: deque[tuple[Future[ParseOutcome], DocumentRecord]] = deque()

            def submit(count: int) -> None:
                for job, rec in itertools.islice(queued, count):
                    pending.append((pool.submit(parse_file, job, self.settings), rec))

            submit(max(PARSE_AHEAD, 2 * workers))
            try:
                while pending:
                    fut, rec = pending.popleft()
                    outcome = fut.result()
                    submit(1)
                    yield outcome, rec
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    # --- committing ---------------------------------------------------------------------
    def _embed_and_commit(
        self, group: list[tuple[ParseOutcome, DocumentRecord]], report: IngestReport, progress: Progress
    ) -> None:
        """Embed the chunks of several parsed documents in one length-sorted pass, then commit each document.

        Embedding across documents keeps batches full and evenly sized (small
        documents alone make small, padded batches); committing per document
        keeps every finished document safe from an interruption.
        """
        if not group:
            return
        texts = [t for out, _ in group for t in out.embed_texts]
        t = time.perf_counter()
        vectors = self.embedder.embed(texts, progress.chunks_embedded)
        report.embed_seconds += time.perf_counter() - t
        offset = 0
        for out, rec in group:
            n = len(out.nodes)
            report.results.append(self._commit(out, rec, vectors[offset : offset + n], report))
            progress.file_done(report.results[-1])
            offset += n

    def _commit(self, out: ParseOutcome, rec: DocumentRecord, vectors: np.ndarray, report: IngestReport) -> FileResult:
        doc = out.doc
        assert doc is not None
        meta = doc.meta
        rec.status, rec.error, rec.duplicate_of = "indexed", None, None
        rec.indexed_sha256, rec.processing = rec.sha256, processing_version(self.settings)
        rec.warnings = list(doc.warnings)
        rec.council, rec.doc_type, rec.title, rec.date, rec.meta_origin = (
            meta.council, meta.doc_type, meta.title, meta.date, meta.origin_note,
        )
        rec.mentions, rec.overrides = list(meta.mentions), dict(out.overrides)
        rec.pages, rec.ocr_pages, rec.chunks = len(doc.pages), doc.ocr_pages, len(out.nodes)
        self.store.write_document(rec, doc.pages, out.nodes, vectors, out.tokens)
        report.pages += len(doc.pages)
        report.chunks += len(out.nodes)
        report.embedded_tokens += out.embedded_tokens
        note = f"{doc.ocr_pages} page(s) OCR'd" if doc.ocr_pages else "; ".join(doc.warnings)
        return FileResult(rec.source, INDEXED, len(doc.pages), len(out.nodes), note)

    def _sidecar_corrections(self, path: Path, rec: DocumentRecord) -> str:
        """Apply an unchanged file's edited ``.meta.toml`` sidecar without reading the file; the note to report."""
        try:
            wanted = read_sidecar(path)
        except CorrectionError as exc:
            return f"metadata corrections not applied: {exc}"
        if all(rec.overrides.get(k) == v for k, v in wanted.items()):
            return ""
        done = correct(self.store, self.embedder, rec, wanted)
        return "metadata corrected: " + ", ".join(names(done.changed)) if done.changed else ""

    def _record_failure(self, out: ParseOutcome, rec: DocumentRecord) -> FileResult:
        """Report a file that could not be indexed; keep any earlier version of it searchable."""
        outcome = NEEDS_OCR if out.status == "needs_ocr" else FAILED
        rec.error = out.error
        if rec.indexed_sha256 and rec.status in ("indexed", "stale"):
            rec.status = "stale"
            note = f"{out.error} (the previously indexed version is kept)"
        else:
            rec.status = out.status
            note = out.error or ""
        self.store.record(rec)
        return FileResult(rec.source, outcome, note=note)

    def _prune(self, progress: Progress) -> list[FileResult]:
        results = []
        for rec in self.store.registry.documents():
            if not os.path.exists(rec.path):
                self.store.remove_document(rec.doc_id)
                results.append(FileResult(rec.source, PRUNED, rec.pages, rec.chunks, "file no longer exists"))
                progress.file_done(results[-1])
        return results


def ingest(
    paths: list[Path], settings: Settings, prune: bool = False, progress: Progress | None = None
) -> IngestReport:
    """Ingest ``paths`` into the index of ``settings`` (one-shot convenience)."""
    ingester = Ingester(settings)
    try:
        return ingester.run(paths, prune=prune, progress=progress)
    finally:
        ingester.store.close()

