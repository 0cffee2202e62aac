"""The document library behind the web app: list, search, add (ingested in the background), delete.

Uploads are copied into the index's ``uploads/`` folder under their own file
name (never a path from the browser), then ingested on a background thread
with its own store connection, so the chat keeps answering from committed
documents while new ones are parsed and embedded. When a run or a delete
finishes, the assistant's caches are refreshed so the next question sees the
change.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from assistant import Assistant
from ingest.loaders import SUPPORTED_SUFFIXES
from ingest.pipeline import FAILED, NEEDS_OCR, FileResult, Ingester, Progress
from ingest.registry import DocumentRecord
from ingest.store import Store

COLUMNS = ["Title", "Council", "Type", "Date", "Pages", "Chunks", "Status", "File"]


@dataclass
class Job:
    """One background ingest run, as the page reports it."""

    files: list[str]
    total: int = 0
    done: int = 0
    chunks_planned: int = 0
    chunks_embedded: int = 0
    results: list[FileResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "file: reason", for files that could not be added
    finished: bool = False
    started: float = field(default_factory=time.time)


class _JobProgress(Progress):
    def __init__(self, job: Job) -> None:
        self.job = job

    def start(self, files: int) -> None:
        self.job.total = files

    def file_done(self, result: FileResult) -> None:
        if result.outcome in ("indexed", FAILED, NEEDS_OCR):
            self.job.done += 1

    def chunks_planned(self, n: int) -> None:
        self.job.chunks_planned += n

    def chunks_embedded(self, n: int) -> None:
        self.job.chunks_embedded += n


class Library:
    """The indexed documents of one app, and the one background ingest it may run at a time."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.settings = assistant.settings.model_copy(update={"parse_workers": 0})  # parse on the worker thread
        self.job: Job | None = None
        self._lock = threading.Lock()

    # --- reading -------------------------------------------------------------------------------
    def documents(self) -> list[DocumentRecord]:
        return sorted(self.assistant.store.registry.documents(), key=lambda d: (d.council or "", d.title or d.source))

    def rows(self, query: str = "") -> list[list[object]]:
        """Table rows, filtered by words that must all appear in title, council, type or file."""
        words = query.lower().split()
        out = []
        for d in self.documents():
            row = [d.title or Path(d.source).name, d.council or "", (d.doc_type or "").replace("_", " "), d.date or "", d.pages,
                   d.chunks, d.status_text(), d.source]
            haystack = " ".join(str(v) for v in row).lower()
            if all(w in haystack for w in words):
                out.append(row)
        return out

    # --- adding --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.job is not None and not self.job.finished

    def add(self, uploads: list[str]) -> Job:
        """Copy uploaded files into the uploads folder and ingest them in the background.

        A file of an unsupported type is reported at once and not copied; the
        others go on. Raises ``RuntimeError`` while another run is going.
        """
        with self._lock:
            if self.busy:
                raise RuntimeError("documents are still being added; wait for that to finish")
            job = Job(files=[])
            self.settings.uploads_dir.mkdir(parents=True, exist_ok=True)
            paths = []
            for upload in uploads:
                name = Path(upload).name
                if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                    kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
                    job.errors.append(f"{name}: unsupported file type (supported: {kinds})")
                    continue
                target = self.settings.uploads_dir / name
                shutil.copyfile(upload, target)
                paths.append(target)
                job.files.append(name)
            self.job = job
            if not paths:
                job.finished = True
                return job
            threading.Thread(target=self._run, args=(job, paths), daemon=True, name="clerk-ingest").start()
            return job

    def _run(self, job: Job, paths: list[Path]) -> None:
        store = Store(self.settings)  # its own connections: the chat never reads a half-written transaction
        try:
            report = Ingester(self.settings, store=store, embedder=self.assistant.embedder).run(
                paths, progress=_JobProgress(job)
            )
            job.results = report.results
            rejected = [r for r in report.results if r.outcome in (FAILED, NEEDS_OCR)]
            job.errors += [f"{Path(r.source).name}: {r.note}" for r in rejected]
            self._forget(store, rejected)
        except Exception as exc:  # the page must hear about it; nothing already indexed is touched
            job.errors.append(f"adding documents stopped: {type(exc).__name__}: {exc}")
        finally:
            store.close()
            self._refreshed()
            job.finished = True

    def _refreshed(self) -> None:
        """The index changed: drop the assistant's caches and warm its search again on a thread."""
        self.assistant.refresh()
        threading.Thread(target=self.assistant.warm_up, name="clerk-warm-up", daemon=True).start()

    def _forget(self, store: Store, rejected: list[FileResult]) -> None:
        """A rejected upload leaves nothing behind: not its copy, not a failed entry in the library.

        The reason was shown to the person who uploaded it; they fix the file and upload it again.
        """
        uploads = self.settings.uploads_dir.resolve()
        for r in rejected:
            rec = store.registry.by_path(str(Path(r.source).resolve())) or store.registry.by_path(r.source)
            path = Path(rec.path if rec else r.source)
            if not path.resolve().is_relative_to(uploads):
                continue
            if rec is not None:
                store.remove_document(rec.doc_id)
            path.unlink(missing_ok=True)

    def progress_text(self) -> str:
        """What the page shows under the upload box."""
        job = self.job
        if job is None:
            return ""
        lines = []
        if job.files and not job.finished:
            embedded = f", {job.chunks_embedded} of {job.chunks_planned} passages embedded" if job.chunks_planned else ""
            lines.append(f"Adding {len(job.files)} file(s): {job.done} of {job.total or len(job.files)} done{embedded}…")
        elif job.files:
            added = [r for r in job.results if r.outcome == "indexed"]
            other = [r for r in job.results if r.outcome not in ("indexed", FAILED, NEEDS_OCR)]
            lines.append(f"Added {len(added)} of {len(job.files)} file(s)."
                         + "".join(f" {Path(r.source).name}: {r.outcome}{' (' + r.note + ')' if r.note else ''}."
                                   for r in other))
        lines += [f"**Not added:** {e}" for e in job.errors]
        return "\n\n".join(lines)

    # --- deleting ------------------------------------------------------------------------------
    def delete(self, doc_id: str) -> str:
        """Remove a document's chunks from the index (and its file, if it was uploaded here)."""
        rec = self.assistant.store.registry.by_id(doc_id)
        if rec is None:
            return "That document is no longer in the index."
        with self._lock:
            if self.busy:
                return "Documents are being added; delete when that has finished."
            self.assistant.store.remove_document(doc_id)
            path = Path(rec.path)
            uploads = self.settings.uploads_dir.resolve()
            if path.resolve().is_relative_to(uploads) and path.is_file():
                path.unlink()
            self._refreshed()
        return f"Deleted {rec.title or rec.source} ({rec.chunks} passages)."
