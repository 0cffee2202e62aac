"""Chat-model backends against real servers: tests/llm_server.py and, when installed, llama.cpp's own server.

Both serve the packaged SmolLM2-135M-Instruct GGUF on 127.0.0.1, so these tests
exercise real sockets, the real OpenAI wire format (JSON and server-sent events)
and a real model, offline. SmolLM2 is tiny: it copies a name from its context
reliably under both engines, so that is what the grounded check asks for;
with a room number or a quorum it sometimes paraphrased the fact away.
tests/scripted_llm.py, the same HTTP server with replies chosen by the test,
checks what the client sends and how it reports a server's error status.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from assistant.llm import LLMError, LocalChat, OpenAIChat, chat_model, packaged_smollm2_path
from clerk.settings import Settings
from tests.helpers import free_port, server_env, stop_process
from tests.llm_server import HTTPFailure
from tests.scripted_llm import MODEL_ID as SCRIPTED_ID
from tests.scripted_llm import Reply

ROOT = Path(__file__).resolve().parents[2]
MODEL_ID = "SmolLM2-135M-Instruct.Q4_1"  # tests/llm_server.py serves the GGUF under its file stem
FACT = "Margaret Hollins"
GROUNDED = [
    {"role": "system", "content": "Answer the question using only the context."},
    {
        "role": "user",
        "content": "Context: The chief executive of Ashford Borough Council is Margaret Hollins.\n\n"
        "Question: Who is the chief executive of Ashford Borough Council?",
    },
]
MAX_TOKENS = 40
HAS_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None




def _check_complete_and_stream(chat: OpenAIChat) -> None:
    text = chat.complete(GROUNDED, max_tokens=MAX_TOKENS, temperature=0)
    assert FACT in text, text
    deltas = list(chat.stream(GROUNDED, max_tokens=MAX_TOKENS, temperature=0))
    assert len(deltas) >= 3, deltas
    assert all(isinstance(d, str) and d for d in deltas)
    assert "".join(deltas).strip() == text.strip()


# --------------------------------------------------------------------------- against tests/llm_server.py


@pytest.mark.slow
def test_complete_and_stream_against_the_test_server(llm_server):
    _check_complete_and_stream(OpenAIChat(llm_server, model=MODEL_ID, timeout=120))


@pytest.mark.slow
def test_test_server_lists_its_model_and_accepts_an_empty_model_name(llm_server):
    models = httpx.get(f"{llm_server}/models").json()
    assert [m["id"] for m in models["data"]] == [MODEL_ID]
    # Settings.llm_model defaults to "", which llama.cpp-style servers take as "the model".
    text = OpenAIChat(llm_server, model="").complete(GROUNDED, max_tokens=MAX_TOKENS, temperature=0)
    assert FACT in text


@pytest.mark.slow
def test_unknown_model_gives_the_http_status(llm_server):
    chat = OpenAIChat(llm_server, model="gpt-nonexistent")
    with pytest.raises(LLMError, match=r"HTTP 404.*gpt-nonexistent") as err:
        chat.complete(GROUNDED, max_tokens=8, temperature=0)
    assert chat.url in str(err.value)
    with pytest.raises(LLMError, match="HTTP 404"):
        list(chat.stream(GROUNDED, max_tokens=8, temperature=0))


@pytest.mark.slow
def test_wrong_path_gives_the_http_status(llm_server):
    chat = OpenAIChat(llm_server.removesuffix("/v1"), model=MODEL_ID)  # forgot the /v1
    with pytest.raises(LLMError, match=r"/chat/completions .*answered HTTP 404"):
        chat.complete(GROUNDED, max_tokens=8, temperature=0)


# --------------------------------------------------------------------------- against tests/scripted_llm.py


def test_complete_and_stream_send_the_request_and_return_the_reply(scripted):
    chat = OpenAIChat(scripted.url, model=SCRIPTED_ID, timeout=10)
    scripted.script("Reserves stand at £30m [2].", Reply("Reserves stand at £30m [2].", piece=5))
    assert chat.complete(GROUNDED, max_tokens=MAX_TOKENS, temperature=0.3) == "Reserves stand at £30m [2]."
    assert list(chat.stream(GROUNDED, max_tokens=MAX_TOKENS, temperature=0)) == [
        "Reser", "ves s", "tand ", "at £3", "0m [2", "]."
    ]
    sent = [r.body for r in scripted.requests]
    assert sent == [
        {"model": SCRIPTED_ID, "messages": GROUNDED, "max_tokens": MAX_TOKENS, "temperature": 0.3, "stream": False},
        {"model": SCRIPTED_ID, "messages": GROUNDED, "max_tokens": MAX_TOKENS, "temperature": 0, "stream": True},
    ]


def test_a_status_from_the_server_is_raised_with_its_message(scripted):
    chat = OpenAIChat(scripted.url, model=SCRIPTED_ID, timeout=10)
    scripted.script(HTTPFailure(429, "rate limit reached"), HTTPFailure(429, "rate limit reached"))
    with pytest.raises(LLMError, match=r"answered HTTP 429 Too Many Requests: .*rate limit reached"):
        chat.complete(GROUNDED, max_tokens=8, temperature=0)
    with pytest.raises(LLMError, match=r"answered HTTP 429 Too Many Requests: .*rate limit reached"):
        list(chat.stream(GROUNDED, max_tokens=8, temperature=0))
    assert len(scripted.requests) == 2 and scripted.pending == 0


# --------------------------------------------------------------------------- failures without a model


def test_wrong_port_names_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    chat = OpenAIChat(url, model="m", timeout=5)
    with pytest.raises(LLMError, match="cannot connect to") as err:
        chat.complete(GROUNDED, max_tokens=8, temperature=0)
    assert f"{url}/chat/completions" in str(err.value)
    with pytest.raises(LLMError, match="cannot connect to"):
        list(chat.stream(GROUNDED, max_tokens=8, temperature=0))


def test_a_silent_server_times_out():
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        chat = OpenAIChat(f"http://127.0.0.1:{listener.getsockname()[1]}/v1", timeout=0.5)
        with pytest.raises(LLMError, match=r"timed out after 0.5 s.*127\.0\.0\.1"):
            chat.complete(GROUNDED, max_tokens=8, temperature=0)


class _Canned(BaseHTTPRequestHandler):
    """Answers every POST with a fixed body, and remembers what it was sent."""

    body = b""
    content_type = "text/html"
    seen: list[tuple[str, dict[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append((self.path, dict(self.headers)))
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def canned() -> Iterator[tuple[str, type[_Canned]]]:
    handler = type("Handler", (_Canned,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_bad_json_is_reported(canned):
    url, handler = canned
    handler.body = b"<html>proxy login</html>"
    with pytest.raises(LLMError, match=r"bad JSON from .*/v1/chat/completions.*proxy login"):
        OpenAIChat(f"{url}/v1").complete(GROUNDED, max_tokens=8, temperature=0)


def test_stream_parses_sse_and_reports_in_band_errors(canned):
    url, handler = canned
    handler.content_type = "text/event-stream"
    handler.body = (
        b": keep-alive\n\n"
        b'data: {"choices":[]}\n\n'  # Azure's content-filter preamble
        b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
        b'data:{"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}\n\n'
        b"data: [DONE]\n\n"
        b'data: {"choices":[{"index":0,"delta":{"content":"after done"}}]}\n\n'
    )
    assert list(OpenAIChat(f"{url}/v1").stream(GROUNDED, max_tokens=8, temperature=0)) == ["Hel", "lo"]
    handler.body = b'data: {"error":{"message":"context length exceeded"}}\n\n'
    with pytest.raises(LLMError, match="mid-stream.*context length exceeded"):
        list(OpenAIChat(f"{url}/v1").stream(GROUNDED, max_tokens=8, temperature=0))


def test_azure_url_and_key_header(canned):
    url, handler = canned
    handler.content_type = "application/json"
    handler.body = b'{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]}'
    azure = OpenAIChat(url + "/", api_key="k1", model="my-deploy", api_version="2024-10-21")
    assert azure.complete(GROUNDED, max_tokens=8, temperature=0) == "ok"
    openai = OpenAIChat(f"{url}/v1", api_key="k2", model="gpt-4o-mini")
    assert openai.complete(GROUNDED, max_tokens=8, temperature=0) == "ok"
    OpenAIChat(f"{url}/v1").complete(GROUNDED, max_tokens=8, temperature=0)
    (p1, h1), (p2, h2), (_, h3) = handler.seen
    assert p1 == "/openai/deployments/my-deploy/chat/completions?api-version=2024-10-21"
    assert h1.get("api-key") == "k1" and "Authorization" not in h1
    assert p2 == "/v1/chat/completions"
    assert h2.get("Authorization") == "Bearer k2" and "api-key" not in h2
    assert "Authorization" not in h3 and "api-key" not in h3


def test_chat_model_follows_the_backend_setting():
    openai = chat_model(Settings(backend="openai", llm_base_url="http://h:1/v1/", llm_model="gpt-4o-mini"))
    assert isinstance(openai, OpenAIChat) and openai.name == "openai:gpt-4o-mini"
    assert openai.url == "http://h:1/v1/chat/completions"
    local = chat_model(Settings(backend="local"))
    assert isinstance(local, LocalChat) and local.name == "local:SmolLM2-135M-Instruct.Q4_1.gguf"
    assert local.model_path == packaged_smollm2_path() and Path(local.model_path).is_file()
    assert not local.runtime, "the model must load lazily, not when the answerer is built"
    with pytest.raises(ValueError, match="extractive"):
        chat_model(Settings(backend="extractive"))


def test_local_model_file_missing(tmp_path):
    chat = LocalChat(str(tmp_path / "nope.gguf"))
    with pytest.raises(LLMError, match="not found.*nope.gguf"):
        chat.complete(GROUNDED, max_tokens=8, temperature=0)


# --------------------------------------------------------------------------- llama.cpp (optional extra)


@pytest.mark.slow
@pytest.mark.skipif(
    not HAS_LLAMA_CPP, reason="llama-cpp-python not installed (optional extra: pip install 'clerk[llamacpp]')"
)
def test_local_chat_with_llama_cpp_in_process():
    chat = LocalChat(packaged_smollm2_path(), threads=1, runtime="llama_cpp")
    text = chat.complete(GROUNDED, max_tokens=MAX_TOKENS, temperature=0)
    assert FACT in text
    assert "".join(chat.stream(GROUNDED, max_tokens=MAX_TOKENS, temperature=0)) == text
    assert chat.runtime == "llama_cpp"


@pytest.mark.slow
@pytest.mark.skipif(
    not HAS_LLAMA_CPP, reason="llama-cpp-python not installed (optional extra: pip install 'clerk[llamacpp]')"
)
def test_against_llama_cpp_server():
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            packaged_smollm2_path(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=server_env(),
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start (exit {proc.poll()})")
            time.sleep(0.3)
        _check_complete_and_stream(OpenAIChat(base, model="SmolLM2"))
        with pytest.raises(LLMError, match="HTTP 404"):
            OpenAIChat(f"{base}/nope", model="SmolLM2").complete(GROUNDED, max_tokens=8, temperature=0)
    finally:
        stop_process(proc)
