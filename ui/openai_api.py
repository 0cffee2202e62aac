"""An OpenAI-compatible chat API at ``/v1`` (``/v1/models``, ``/v1/chat/completions``), for chat clients.

Open WebUI, LibreChat, Teams bots and agent frameworks speak this protocol:
pointed at ``http://HOST:PORT/v1`` they list clerk's models and chat with it.
Every reply is an answer of :meth:`assistant.Assistant.ask`, never free text:

* the last user message is the question; the earlier user messages are its
  history (a follow-up such as "And at Kent?" is read with them); system and
  assistant messages do not change what is answered, so a prompt cannot widen
  what a caller may see;
* ``content`` is the answer with its ``[n]`` markers, then a references block
  (title, page, section, a link that opens the page) a chat client shows as
  text; ``message.citations`` carries the citations as ``clerk ask --json``
  gives them, each with its ``link``, and the response's ``clerk`` field the
  whole answer object (``refused``, ``confidence``, ``searched``...);
* the scope comes from the model name, ``clerk:council=trafford;type=constitution``,
  or the request's ``metadata`` (``{"council": "trafford"}``): keys ``council``,
  ``type``, ``document``, ``from``, ``to``; several values with commas;
* ``stream: true`` sends OpenAI's ``chat.completion.chunk`` events and ends
  with ``data: [DONE]``; the last chunk carries the citations and the answer.

Who is asking, the body and question limits and the answering slots are those
of every door (:mod:`ui.service`). Errors have OpenAI's shape, ``{"error":
{"message", "type", "param", "code"}}``, so clients show the reason.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant import Assistant
from assistant.types import Answer, Filters
from ui.accounts import Accounts, Viewer
from ui.service import (
    MAX_HISTORY,
    MAX_QUESTION,
    AnswerSlots,
    NotSignedIn,
    answer_json,
    bound_bodies,
    caller,
)

#: Scope keys a model name or ``metadata`` may carry, and the :class:`Filters` field each sets.
SCOPE_KEYS = {"council": "councils", "type": "doc_types", "document": "documents", "from": "date_from",
              "to": "date_to"}
MAX_MESSAGES = 2 * MAX_HISTORY + 10


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls...: accepted, not used
    role: str = Field(max_length=20)
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text: a string, or the text parts of a list of content parts."""
        if isinstance(self.content, str):
            return self.content
        return " ".join(str(part.get("text", "")) for part in self.content or [] if part.get("type") == "text")


class ChatIn(BaseModel):
    #: temperature, max_tokens, user...: accepted for clients that always send them, with no effect
    #: (an extractive answer has no temperature; a generative one takes the server's settings).
    model_config = ConfigDict(extra="allow")
    model: str = Field(max_length=300)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    metadata: dict[str, str] | None = None
    n: int = Field(1, ge=1, le=1, description="one answer per question")


class ChatError(HTTPException):
    """An error a chat client shows: OpenAI's ``type`` and ``code`` beside the status and the reason."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(status, message)
        self.kind, self.param, self.code = kind, param, code


def _error_body(message: str, kind: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def model_ids(assistant: Assistant) -> dict[str, str]:
    """The models a client may name, each with the answering backend it uses."""
    configured = assistant.settings.backend
    ids = {"clerk": configured, "clerk-extractive": "extractive"}
    if configured != "extractive":
        ids[f"clerk-{configured}"] = configured
    return ids


def parse_model(name: str, known: dict[str, str], metadata: dict[str, str] | None, viewer: Viewer) -> tuple[str, Filters]:
    """The backend and the scope of ``model`` (``clerk:council=trafford;type=constitution``) and ``metadata``."""
    base, _, scope = name.partition(":")
    if base not in known:
        raise ChatError(404, f"the model {name!r} does not exist; the models are {', '.join(known)}",
                        param="model", code="model_not_found")
    pairs: list[tuple[str, str, str]] = []
    for part in filter(None, (p.strip() for p in scope.split(";"))):
        key, eq, value = part.partition("=")
        if not eq:
            raise ChatError(400, f"the model's scope {part!r} is not key=value", param="model")
        pairs.append((key.strip(), value, "model"))
    pairs += [(key, value, "metadata") for key, value in (metadata or {}).items() if key in SCOPE_KEYS]
    fields: dict[str, Any] = {}
    for key, value, param in pairs:
        if key not in SCOPE_KEYS:
            raise ChatError(400, f"unknown scope {key!r} (use {', '.join(SCOPE_KEYS)})", param=param)
        values = [v.strip() for v in value.split(",") if v.strip()]
        field = SCOPE_KEYS[key]
        if field.startswith("date_"):
            fields[field] = values[0] if values else None
        else:
            fields[field] = tuple(fields.get(field, ())) + tuple(values)
    return known[base], Filters(**fields, include_restricted=viewer.sees_restricted)


def references(answer: Answer, origin: str) -> str:
    """The block after the answer a chat client shows: each citation's document, page, section and link."""
    if not answer.citations:
        return ""
    lines = ["", "", "Sources:"]
    for c in answer.citations:
        where = ", ".join(x for x in (c.title or c.source, f"page {c.page}" if c.page else "", c.section) if x)
        lines.append(f"[{c.n}] [{where}]({origin}{c.link})")
    return "\n".join(lines)


def build_openai_api(assistant: Assistant, accounts: Accounts, signed_in: Callable[[Request], str | None],
                     slots: AnswerSlots) -> FastAPI:
    """The ``/v1`` app, to be mounted on the server beside the page and ``/api/v1``."""
    api = FastAPI(title="clerk chat API (OpenAI-compatible)", version="1", openapi_url="/openapi.json",
                  docs_url=None, redoc_url=None)
    bound_bodies(api)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = getattr(exc, "kind", {401: "authentication_error", 404: "not_found_error"}.get(exc.status_code,
                                                                                             "invalid_request_error"))
        return JSONResponse(_error_body(str(exc.detail), kind, getattr(exc, "param", None), getattr(exc, "code", None)),
                            status_code=exc.status_code)

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return JSONResponse(_error_body(f"{where or 'body'}: {first.get('msg', 'invalid request')}",
                                        "invalid_request_error", where or None), status_code=400)

    def viewer_of(request: Request) -> Viewer:
        try:
            return caller(accounts, request.headers.get("authorization"), signed_in(request))
        except NotSignedIn as exc:
            raise ChatError(401, str(exc), kind="authentication_error", code="invalid_api_key") from exc

    @api.get("/models")
    def models(request: Request) -> dict[str, Any]:
        viewer_of(request)
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "clerk"}
                                           for name in model_ids(assistant)]}

    @api.post("/chat/completions")
    def chat(body: ChatIn, request: Request) -> Any:
        viewer = viewer_of(request)
        backend, filters = parse_model(body.model, model_ids(assistant), body.metadata, viewer)
        said = [m.text().strip() for m in body.messages if m.role == "user"]
        if body.messages[-1].role != "user" or not said[-1]:
            raise ChatError(400, "the last message must be the user's question", param="messages")
        question, history = said[-1], [s for s in said[:-1] if s][-MAX_HISTORY:]
        if len(question) > MAX_QUESTION:
            raise ChatError(400, f"the question is over {MAX_QUESTION} characters", param="messages",
                            code="context_length_exceeded")
        try:
            assistant.retriever.scope(filters)  # a scope that matches no document is an error naming it
        except ValueError as exc:
            raise ChatError(400, str(exc), param="model") from exc
        origin = f"{request.url.scheme}://{request.url.netloc}"
        reply = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": body.model}
        if not body.stream:
            with slots.held():
                answer = assistant.ask(question, filters=filters, backend=backend, history=history)
            out = answer_json(answer)
            message = {"role": "assistant", "content": answer.answer + references(answer, origin), "refusal": None,
                       "citations": out["citations"]}
            return reply | {"object": "chat.completion", "clerk": out, "choices": [
                {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}]}

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            data = reply | {"object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]} | extra
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

        async def events() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            try:
                async for event in slots.astream(assistant.stream(question, filters=filters, backend=backend,
                                                                  history=history)):
                    if event.kind == "delta" and event.text:
                        yield chunk({"content": event.text})
                    elif event.kind == "final" and event.answer is not None:
                        answer = event.answer
                        if block := references(answer, origin):
                            yield chunk({"content": block})
                        out = answer_json(answer)
                        yield chunk({"citations": out["citations"]}, "stop", clerk=out)
            except Exception as exc:  # the model failed mid-answer: say so in the stream, as OpenAI does
                yield f"data: {json.dumps(_error_body(str(exc), 'server_error'), ensure_ascii=False)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return api
