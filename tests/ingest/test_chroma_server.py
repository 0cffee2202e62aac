"""Ingest into a real `chroma run` server on 127.0.0.1 (CLERK_CHROMA_HOST), as used at scale."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import INDEXED, UNCHANGED, Ingester
from tests.helpers import copy_corpus_files, make_settings

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def chroma_server(tmp_path: Path):
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        exe = Path(shutil.which("chroma") or "chroma")
    port = _free_port()
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start within 60 s")
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def test_ingest_into_a_chroma_server(tmp_path, chroma_server, embedder):
    root = tmp_path / "docs"
    copy_corpus_files(root, ["nwldc/cabinet-2025-06-24-peer-review-follow-up.txt"])
    settings = make_settings(tmp_path, chroma_host="127.0.0.1", chroma_port=chroma_server)
    ing = Ingester(settings, embedder=embedder)
    assert ing.run([root]).count(INDEXED) == 1
    ids = ing.store.registry.chunk_ids()
    assert ids and ing.store.vector_ids() == ids
    assert not (settings.index / "chroma").exists(), "vectors must live on the server, not in the local folder"
    hit = ing.store.dense_search(embedder.embed_query("local government reorganisation proposals"), k=3)
    assert hit and hit[0][0] in ids
    assert ing.run([root]).count(UNCHANGED) == 1
