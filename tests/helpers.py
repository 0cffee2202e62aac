"""Helpers for tests on the real bundled corpus."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from clerk.settings import Settings

if TYPE_CHECKING:
    import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


def corpus_file(rel: str) -> Path:
    """A file of the bundled corpus (copied from the real council documents, never edited)."""
    path = CORPUS / rel
    assert path.exists(), f"bundled corpus file missing: {rel}"
    return path


def copy_corpus_files(dest: Path, rels: list[str]) -> list[Path]:
    """Copy corpus files into ``dest`` keeping their council folders, so tests can change them freely."""
    out = []
    for rel in rels:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(corpus_file(rel), target)
        out.append(target)
    return out


def index_copy(settings: Settings, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A copy of a session fixture's index folder, for tests that change it (add, delete, sign-in users)."""
    copy = tmp_path_factory.mktemp(name) / "index"
    shutil.copytree(settings.index, copy)
    return copy


def make_settings(tmp: Path, **kw: object) -> Settings:
    return Settings(**{"index": tmp / ".clerk", "parse_workers": 0, **kw})


def encrypted_copy(rel: str, dest: Path, user_password: str) -> Path:
    """A copy of a corpus PDF encrypted with ``user_password`` (empty: owner-only restrictions)."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=corpus_file(rel))
    writer.encrypt(user_password=user_password, owner_password="owner")
    with dest.open("wb") as fh:
        writer.write(fh)
    return dest


T = TypeVar("T")


def peak_memory(work: Callable[[], T]) -> tuple[T, int]:
    """What ``work`` returns and the most memory Python allocated while it ran (tracemalloc)."""
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


@contextmanager
def running_server(
    cmd: list[str],
    ready: str | re.Pattern[str],
    timeout: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """Start ``cmd``, wait until a line of its output starts with ``ready`` (or matches it, a pattern), stop it afterwards.

    Output is read on a thread, so the wait times out even if the server prints
    nothing; a server that exits or never gets ready fails the test with its last lines.
    """
    import threading

    import pytest

    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=server_env() | (env or {}), cwd=cwd
    )
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if ready.search(line) if isinstance(ready, re.Pattern) else line.startswith(ready):
                started.set()

    threading.Thread(target=read, daemon=True).start()
    if not started.wait(timeout) or proc.poll() is not None:
        stop_process(proc)
        pytest.fail(f"{cmd[1]} did not get ready in {timeout:.0f} s (exit {proc.returncode}): {lines[-20:]}")
    try:
        yield proc
    finally:
        stop_process(proc)


def server_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


@contextmanager
def chroma_server(path: Path, port: int | None = None) -> Iterator[str]:
    """A real ``chroma run`` on 127.0.0.1 keeping its data in ``path``; yields its URL, stops it afterwards.

    Starting it again with the same ``path`` and ``port`` is a server restart:
    the same URL, the data it persisted, nothing held in memory.
    """
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        exe = Path(shutil.which("chroma") or "chroma")
    port = port or free_port()
    cmd = [str(exe), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    # The ready line is a log line after the banner; NO_COLOR keeps it (and any failure output) plain text.
    with running_server(cmd, re.compile(r"listening on address"), timeout=90, env={"NO_COLOR": "1"}):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def planted_assistant(tmp: Path, embedder, texts: dict[str, str], corpus_files: tuple[str, ...] = ()) -> Iterator:
    """An Assistant over written test documents (``{relative path: text}``) plus real corpus files."""
    from assistant import Assistant
    from ingest.pipeline import Ingester

    paths = []
    for rel, text in texts.items():
        path = tmp / "docs" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    settings = make_settings(tmp)
    report = Ingester(settings, embedder=embedder).run(paths + [corpus_file(f) for f in corpus_files])
    assert report.ok and report.count("indexed") == len(paths) + len(corpus_files), report.results
    a = Assistant(settings, embedder=embedder)
    try:
        yield a
    finally:
        a.close()


def load_error(path: Path, settings: Settings | None = None) -> str:
    """The reason ``load_pages`` gives for refusing ``path``; it never names the file (the caller does)."""
    import pytest

    from ingest.loaders import load_pages
    from ingest.types import IngestError

    with pytest.raises(IngestError) as info:
        load_pages(path, settings or Settings(ocr=False))
    message = str(info.value)
    assert str(path) not in message and path.name not in message
    return message
