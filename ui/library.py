"""The document library behind the web app: list, search, add (ingested in the background), delete.

Uploads are copied into the index's ``uploads/`` folder under a safe version of
their own file name (never a path from the browser: see :func:`safe_upload_name`),
then ingested on a background thread
with its own store connection, so the chat keeps answering from committed
documents while new ones are parsed and embedded. When a run or a delete
finishes, the assistant's caches are refreshed so the next question sees the
change.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant import Assistant
from ingest.access import sidecar_for
from ingest.corrections import CorrectionError, names, validate
from ingest.corrections import sidecar_for as meta_sidecar_for
from ingest.loaders import SUPPORTED_SUFFIXES, oversized
from ingest.pipeline import FAILED, NEEDS_OCR, FileResult, Ingester, Progress
from ingest.registry import DocumentRecord
from ingest.store import Store

COLUMNS = ["Title", "Council", "Type", "Date", "Pages", "Chunks", "Status", "File"]
#: Chunks embedded before the documents they belong to are committed. A bulk run groups 256 so its
#: batches stay full; here each document should become searchable soon after it is read (with 20
#: uploads and eight people asking on 2 cores, 256 held the first document back for a minute).
UPLOAD_GROUP_CHUNKS = 32

#: Longest stored file name in UTF-8 bytes: under the 255 of common file systems, with room to spare.
MAX_NAME_BYTES = 150
#: Combining marks kept on one letter: enough for any language, not for "Zalgo" text that buries a name.
MAX_MARKS = 2
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,5}$")
_UNSAFE_CHARACTERS = re.compile(r'[<>:"|?*\\/]')
_WINDOWS_DEVICES = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))})


def safe_upload_name(name: str) -> str:
    """A file name that is safe to create in the uploads folder and reads like the one uploaded.

    Only the last part of a path counts (``../../x.pdf`` and ``..\\..\\x.txt`` are
    ``x.pdf`` and ``x.txt``). Control and format characters are dropped (NUL,
    the right-to-left override that makes ``fdp.exe`` look like ``exe.pdf``,
    zero-width spaces), as are characters Windows forbids; letters are composed
    (NFC) and keep at most two combining marks; spaces are collapsed; leading
    dots go (no hidden files, no ``..``); the stem is shortened so the name
    fits in :data:`MAX_NAME_BYTES` bytes, keeping the extension. Emoji and
    letters of any script stay: they are what the person called the file.
    """
    name = re.split(r"[\\/]", name)[-1]
    name = unicodedata.normalize("NFC", name)
    kept: list[str] = []
    marks = 0
    for c in name:
        category = unicodedata.category(c)
        if category[0] == "C" or (category[0] == "Z" and c != " "):
            c = "" if category[0] == "C" else " "
        elif category in ("Mn", "Me"):
            marks += 1
            if marks > MAX_MARKS:
                continue
        else:
            marks = 0
        kept.append(c)
    name = " ".join(_UNSAFE_CHARACTERS.sub("", "".join(kept)).split())
    stem, suffix = _split_suffix(name)
    stem = stem.strip(" .")
    if not stem or stem.lower() in _WINDOWS_DEVICES:
        stem = f"upload-{stem}" if stem else "upload"
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1].rstrip(" .")
    return stem + suffix


def _numbered(name: str, n: int) -> str:
    """``"minutes (2).pdf"`` from ``"minutes.pdf"``, still within :data:`MAX_NAME_BYTES`."""
    stem, suffix = _split_suffix(name)
    tag = f" ({n})"
    while stem and len((stem + tag + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1].rstrip(" .")
    return stem + tag + suffix


def _split_suffix(name: str) -> tuple[str, str]:
    """``("Budget 2025", ".pdf")``: the extension, lower-cased, when there is one."""
    match = _SUFFIX.search(name)
    if match is None:
        return name, ""
    return name[: match.start()], match.group().lower()


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
    def documents(self, include_restricted: bool = False) -> list[DocumentRecord]:
        """Every document of the registry (failed ones too: the library shows why), restricted ones only when asked."""
        docs = [d for d in self.assistant.store.registry.documents() if include_restricted or not d.restricted]
        return sorted(docs, key=lambda d: (d.council or "", d.title or d.source))

    def restricted_sources(self) -> set[str]:
        """Sources of the restricted documents: a note naming one is withheld from those who may not see it."""
        return {d.source for d in self.assistant.store.registry.documents() if d.restricted}

    def rows(self, query: str = "", include_restricted: bool = False) -> list[list[object]]:
        """Table rows, filtered by words that must all appear in title, council, type or file.

        A public copy of a restricted document is listed as a "duplicate" without
        naming the restricted original to a viewer who may not see it.
        """
        words = query.lower().split()
        hidden = set() if include_restricted else self.restricted_sources()
        out = []
        for d in self.documents(include_restricted):
            status = "duplicate" if d.duplicate_of in hidden else d.status_text()
            row = [d.title or Path(d.source).name, d.council or "", (d.doc_type or "").replace("_", " "), d.date or "", d.pages,
                   d.chunks, status, d.source]
            haystack = " ".join(str(v) for v in row).lower()
            if all(w in haystack for w in words):
                out.append(row)
        return out

    # --- adding --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.job is not None and not self.job.finished

    def add(self, uploads: Sequence[str | tuple[str, str]], restricted: str | None = None) -> Job:
        """Copy uploaded files into the uploads folder and ingest them in the background.

        Each upload is the path of the received file, or ``(path, name the
        browser gave)``. Only :func:`safe_upload_name` of that name is used
        inside the uploads folder, so nothing is ever written outside it. A
        file of an unsupported type or over the size limit is reported at once
        and not copied; the others go on. Two files of one batch with the same
        name are both kept ("minutes (2).pdf"); a later batch's file replaces
        the earlier upload of its name, so uploading a new version updates it.
        With ``restricted`` (the reason), each copy gets its restriction marker
        before it is ingested, so it is never visible to the public even for a
        moment. Raises ``RuntimeError`` while another run is going.
        """
        with self._lock:
            if self.busy:
                raise RuntimeError("documents are still being added; wait for that to finish")
            job = Job(files=[])
            uploads_dir = self.settings.uploads_dir
            uploads_dir.mkdir(parents=True, exist_ok=True)
            paths: list[Path] = []
            for upload in uploads:
                source, given = upload if isinstance(upload, tuple) else (upload, upload)
                name = safe_upload_name(given)
                if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                    kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
                    job.errors.append(f"{name}: unsupported file type (supported: {kinds})")
                    continue
                target = uploads_dir / name
                for n in range(2, 1000):  # two uploads of one batch that share a name both stay
                    if target not in paths:
                        break
                    name = _numbered(name, n)
                    target = uploads_dir / name
                try:
                    if target.resolve().parent != uploads_dir.resolve():  # cannot happen with a safe name
                        raise ValueError("the name points outside the uploads folder")
                    if (reason := oversized(Path(source).stat().st_size, self.settings)) is not None:
                        job.errors.append(f"{name}: {reason}")
                        continue
                    marker = sidecar_for(target)
                    if restricted:
                        marker.write_text(restricted.strip() + "\n", encoding="utf-8")
                    else:
                        marker.unlink(missing_ok=True)
                    shutil.copyfile(source, target)
                except (OSError, ValueError) as exc:  # a vanished temp file, a name the disk refuses
                    job.errors.append(f"{name}: could not be stored ({getattr(exc, 'strerror', None) or exc})")
                    continue
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
            ingester = Ingester(self.settings, store=store, embedder=self.assistant.embedder,
                                group_chunks=UPLOAD_GROUP_CHUNKS)
            report = ingester.run(paths, progress=_JobProgress(job))
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
            sidecar_for(path).unlink(missing_ok=True)

    def progress_text(self, include_restricted: bool = True) -> str:
        """What the page shows under the upload box; without ``include_restricted``, no restricted file is named."""
        job = self.job
        if job is None:
            return ""
        hidden = set() if include_restricted else self.restricted_sources()
        lines = []
        if job.files and not job.finished:
            embedded = f", {job.chunks_embedded} of {job.chunks_planned} passages embedded" if job.chunks_planned else ""
            lines.append(f"Adding {len(job.files)} file(s): {job.done} of {job.total or len(job.files)} done{embedded}…")
        elif job.files:
            added = [r for r in job.results if r.outcome == "indexed"]
            other = [r for r in job.results if r.outcome not in ("indexed", FAILED, NEEDS_OCR)]
            shown = [(r, r.note if r.note and not any(h in r.note for h in hidden) else "") for r in other]
            lines.append(f"Added {len(added)} of {len(job.files)} file(s)."
                         + "".join(f" {Path(r.source).name}: {r.outcome}{' (' + note + ')' if note else ''}."
                                   for r, note in shown))
        lines += [f"**Not added:** {e}" for e in job.errors]
        return "\n\n".join(lines)

    # --- deleting ------------------------------------------------------------------------------
    def correct(self, doc_id: str, changes: dict[str, str]) -> str:
        """Correct a document's council, type, title or date (see :mod:`ingest.corrections`); what was done.

        Only a new title embeds the document's passages again; an upload's
        correction is also written beside its file, so it travels with it.
        """
        with self._lock:
            if self.busy:
                return "Documents are being added; correct this one when that has finished."
            store = Store(self.settings)
            try:
                ingester = Ingester(self.settings, store=store, embedder=self.assistant.embedder)
                done = ingester.correct(doc_id, validate(changes))
            except CorrectionError as exc:
                return f"Not changed: {exc}."
            finally:
                store.close()
            self._refreshed()
        if not done.changed:
            return "Nothing to change: the document already says that."
        said = ", ".join(f"{name} now {after!r}" for name, (_, after) in zip(names(done.changed), done.changed.values(),
                                                                          strict=True))
        again = f" {done.reembedded} passages were embedded again for the new title." if done.reembedded else ""
        return f"Saved: {said}.{again}"

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
                sidecar_for(path).unlink(missing_ok=True)
                meta_sidecar_for(path).unlink(missing_ok=True)
            self._refreshed()
        return f"Deleted {rec.title or rec.source} ({rec.chunks} passages)."
