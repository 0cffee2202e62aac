"""A small, real OpenAI-compatible chat server backed by the packaged SmolLM2 GGUF.

Tests of :class:`assistant.llm.OpenAIChat` run against it so they exercise a
real socket, real HTTP/1.1 chunked server-sent events and a real model, with no
network and no hub. It implements just what clerk uses of the OpenAI API:

* ``GET  /v1/models``
* ``POST /v1/chat/completions`` with ``"stream": false`` (one JSON object) or
  ``"stream": true`` (``data: {chunk}`` events, then ``data: [DONE]``).

Errors use OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}``:
unknown paths give 404, an unknown model 404 (``model_not_found``), bad JSON or
missing messages 400. A model that fails before its first word is an HTTP error
(500, or the status of an :class:`HTTPFailure`); one that fails mid-stream, once
the headers are sent, is reported in-band as ``data: {"error": ...}``, as OpenAI
does. An empty or missing ``model`` means the one served model, as llama.cpp's
server does. ``usage`` is not reported and ``finish_reason`` is always "stop":
:class:`LocalChat` returns text only.

The server serves any :class:`~assistant.llm.ChatModel` and keeps every request
it received (``ChatServer.requests``), so tests/scripted_llm.py reuses it with
replies chosen by each test.

Run: ``python tests/llm_server.py --port 8080`` and point clerk at
``http://127.0.0.1:8080/v1``. It prints a line starting with "ready" once the
model is loaded and the socket is listening.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from assistant.llm import ChatModel, LLMError, LocalChat, packaged_smollm2_path  # noqa: E402


class HTTPFailure(LLMError):
    """A model failure the server answers with this HTTP status (a plain :class:`LLMError` is a 500)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Request:
    """One request as the server received it: ``body`` is the parsed JSON, None when there was none or it was bad."""

    method: str
    path: str
    body: object = None


class ChatHandler(BaseHTTPRequestHandler):
    """One request; the model lives on the server object (``self.server.chat``)."""

    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, like real API servers
    server: ChatServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # -- responses ------------------------------------------------------------

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, type_: str = "invalid_request_error", **extra: str) -> None:
        self._json(status, {"error": {"message": message, "type": type_, "param": None, "code": None, **extra}})

    def _failure(self, exc: LLMError) -> None:
        self._error(exc.status if isinstance(exc, HTTPFailure) else 500, str(exc), type_="server_error")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    # -- routes ------------------------------------------------------------------

    def do_GET(self) -> None:
        self.server.requests.append(Request("GET", self.path))
        if self.path.rstrip("/") == "/v1/models":
            self._json(
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": self.server.model_id,
                            "object": "model",
                            "created": self.server.created,
                            "owned_by": "clerk-tests",
                        }
                    ],
                },
            )
        else:
            self._error(404, f"Unknown request URL: GET {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except ValueError as exc:
            self.server.requests.append(Request("POST", self.path))
            self._error(400, f"We could not parse the JSON body of your request: {exc}")
            return
        self.server.requests.append(Request("POST", self.path, body))
        if self.path.split("?")[0].rstrip("/") != "/v1/chat/completions":
            self._error(404, f"Unknown request URL: POST {self.path}")
            return
        if not isinstance(body, dict):
            self._error(400, "The request body must be a JSON object.")
            return
        model = body.get("model") or self.server.model_id
        if model != self.server.model_id:
            self._error(404, f"The model `{model}` does not exist.", code="model_not_found", param="model")
            return
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            self._error(400, "'messages' must be a non-empty array of message objects.", param="messages")
            return
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 256)
        temperature = float(body.get("temperature", 1.0))
        if body.get("stream"):
            self._stream(model, messages, max_tokens, temperature)
        else:
            self._complete(model, messages, max_tokens, temperature)

    def _complete(self, model: str, messages: list[dict[str, str]], max_tokens: int, temperature: float) -> None:
        try:
            text = self.server.chat.complete(messages, max_tokens=max_tokens, temperature=temperature)
        except LLMError as exc:
            self._failure(exc)
            return
        self._json(
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            },
        )

    def _stream(self, model: str, messages: list[dict[str, str]], max_tokens: int, temperature: float) -> None:
        deltas = iter(self.server.chat.stream(messages, max_tokens=max_tokens, temperature=temperature))
        try:  # the first word before the headers: a model that cannot start is an HTTP error, as OpenAI's are
            first = next(deltas, None)
        except LLMError as exc:
            self._failure(exc)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

        def event(delta: dict[str, str], finish: str | None = None) -> None:
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            self._chunk(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")

        try:
            event({"role": "assistant", "content": ""})
            if first is not None:
                event({"content": first})
            for text in deltas:
                event({"content": text})
            event({}, "stop")
        except LLMError as exc:
            # Headers are gone already: report in-band, as OpenAI does.
            self._chunk(
                b"data: "
                + json.dumps({"error": {"message": str(exc), "type": "server_error"}}, separators=(",", ":")).encode()
                + b"\n\n"
            )
        except (BrokenPipeError, ConnectionResetError):
            return  # the client went away; closing the stream generator stops generation
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")  # zero-length chunk ends the body


class ChatServer(ThreadingHTTPServer):
    """Threading so /v1/models answers while a generation runs; LocalChat serialises generations.

    ``requests`` lists every request received, in order (appending to a list is atomic, so the
    handler threads need no lock).
    """

    daemon_threads = True

    def __init__(self, port: int, chat: ChatModel, model_id: str, verbose: bool = False) -> None:
        super().__init__(("127.0.0.1", port), ChatHandler)
        self.chat = chat
        self.model_id = model_id
        self.created = int(time.time())
        self.verbose = verbose
        self.requests: list[Request] = []


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--model", default="", help="GGUF file (default: packaged SmolLM2-135M-Instruct)")
    parser.add_argument("--model-id", default="", help="name clients must send as 'model' (default: file stem)")
    parser.add_argument("--runtime", default="auto", choices=["auto", "llama_cpp", "transformers"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)

    path = args.model or packaged_smollm2_path()
    chat = LocalChat(path, threads=args.threads, runtime=args.runtime).load()  # load before "ready"
    server = ChatServer(args.port, chat, args.model_id or Path(path).stem, verbose=args.verbose)
    host, port = server.server_address[:2]
    print(f"ready http://{host}:{port}/v1 model={server.model_id} runtime={chat.runtime}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
