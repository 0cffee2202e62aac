"""`clerk serve` answers its page before the embedding model is loaded, then loads it on its own."""

from __future__ import annotations

import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from ingest.pipeline import Ingester
from tests.helpers import ROOT, corpus_file, free_port, make_settings, server_env, stop_process

pytestmark = pytest.mark.slow


def test_page_is_served_first_and_the_model_loads_after(tmp_path: Path, embedder) -> None:
    settings = make_settings(tmp_path)
    ingester = Ingester(settings, embedder=embedder)
    assert ingester.run([corpus_file("nwldc/productivity-plan.txt")]).ok
    doc_id = ingester.store.registry.documents()[0].doc_id
    ingester.store.close()
    port = free_port()
    cmd = [sys.executable, "-m", "clerk.cli", "serve", "--index", str(settings.index), "--port", str(port)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=server_env(), cwd=ROOT
    )
    lines: list[str] = []
    ready, loaded = threading.Event(), threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("clerk is ready"):
                ready.set()
            if line.startswith("clerk: model loaded"):
                loaded.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(120), lines
        # the ready line comes once the server listens: the page answers at once, without retrying
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
            assert resp.status == 200 and b"clerk" in resp.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/files/{doc_id}", timeout=10) as resp:
            assert resp.status == 200 and b"Productivity" in resp.read()
        assert loaded.wait(180), lines
        ready_at = next(i for i, line in enumerate(lines) if line.startswith("clerk is ready"))
        loaded_at = next(i for i, line in enumerate(lines) if line.startswith("clerk: model loaded"))
        assert ready_at < loaded_at
        assert proc.poll() is None
    finally:
        stop_process(proc)
