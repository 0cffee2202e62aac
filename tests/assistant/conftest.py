"""The local chat-model server the generative tests talk to, and path helpers for citations."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from tests.helpers import ROOT, free_port, server_env, stop_process


def relative(source: str) -> str:
    """A citation's source relative to the corpus folder, whatever the working directory."""
    source = source.replace("\\", "/")
    marker = "corpus/"
    return source[source.index(marker) + len(marker) :] if marker in source else source




@pytest.fixture(scope="session")
def llm_server() -> Iterator[str]:
    """tests/llm_server.py on a free port; yields its base URL (``http://127.0.0.1:N/v1``).

    It runs the transformers engine on purpose: that is the one every `make setup`
    machine has, while llama.cpp is covered by the llama_cpp tests below. One thread:
    on a 2-core box that is busy with anything else, two threads run several times
    slower than one (both engines wait on their slowest thread every token).
    """
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "llm_server.py"),
            "--port",
            str(port),
            "--runtime",
            "transformers",
            "--threads",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=server_env(),
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:  # a thread, so waiting can time out even if the server prints nothing
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("ready"):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(300) or proc.poll() is not None:
        stop_process(proc)
        pytest.fail(f"tests/llm_server.py did not get ready in 300 s (exit {proc.returncode}); stdout: {lines}")
    yield f"http://127.0.0.1:{port}/v1"
    stop_process(proc)
