"""The local chat-model server the generative tests talk to, and path helpers for citations."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.helpers import ROOT, free_port, running_server


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
    cmd = [sys.executable, str(ROOT / "tests" / "llm_server.py"), "--port", str(port), "--runtime", "transformers",
           "--threads", "1"]
    with running_server(cmd, ready="ready", timeout=300):
        yield f"http://127.0.0.1:{port}/v1"

