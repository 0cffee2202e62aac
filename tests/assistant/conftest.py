"""The chat-model servers the generative tests talk to (SmolLM2, and one with scripted replies); citation paths."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.helpers import ROOT, free_port, running_server
from tests.scripted_llm import ScriptedLLM, scripted_llm


def relative(source: str) -> str:
    """A citation's source relative to the corpus folder, whatever the working directory."""
    source = source.replace("\\", "/")
    marker = "corpus/"
    return source[source.index(marker) + len(marker) :] if marker in source else source




@pytest.fixture(scope="session")
def llm_server() -> Iterator[str]:
    """tests/llm_server.py on a free port; yields its base URL (``http://127.0.0.1:N/v1``).

    It runs the transformers engine on purpose: that is the one every `make setup`
    machine has. llama.cpp is an optional extra that `make setup` does not install, so
    its tests in test_llm.py are skipped unless it was installed by hand
    (docs/ASSISTANT.md, Backends). One thread: on a 2-core box that is busy with
    anything else, two threads run several times slower than one (both engines wait
    on their slowest thread every token).
    """
    port = free_port()
    cmd = [sys.executable, str(ROOT / "tests" / "llm_server.py"), "--port", str(port), "--runtime", "transformers",
           "--threads", "1"]
    with running_server(cmd, ready="ready", timeout=300):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[ScriptedLLM]:
    """tests/scripted_llm.py on a thread, for the whole session (it starts in milliseconds)."""
    with scripted_llm() as llm:
        yield llm


@pytest.fixture()
def scripted(scripted_server: ScriptedLLM) -> ScriptedLLM:
    """The scripted chat server with no replies queued and no requests received yet."""
    scripted_server.reset()
    return scripted_server
