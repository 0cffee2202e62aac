"""The JSON API under ``/api/v1``: what the web page does, for other programs, under the same access rules.

=====================  =========================================================================
route                  returns
=====================  =========================================================================
``POST /ask``          the ``clerk ask --json`` object (``assistant/schema.py``); with
                       ``?stream=true`` server-sent events ``status``, ``passages``, ``delta``
                       (answer text as it is written) and ``final`` (the answer object)
``GET /documents``     the library as ``clerk docs --json`` lists it
``GET /documents/ID``  one document: its metadata, its pages' text and a link to its file
``GET /search?q=``     ranked passages with their citation fields, no answer
``POST /feedback``     records a rating of an answer beside the page's thumbs
=====================  =========================================================================

The schema is served at ``/api/v1/openapi.json`` (browsable at ``/api/v1/docs``).

Who is asking (:func:`viewer_of`): a request with ``Authorization: Bearer KEY``
acts for the key's user (``clerk users add NAME --role R --api-key``); one with
the page's session cookie for the signed-in user; with sign-in on, any other
request is refused (401). With no users configured the API serves the public
view: restricted documents are hidden, as they are on the page. A restricted
document is then answered like a missing one everywhere (answer, citation,
search, document list, document, file link), so its existence is not disclosed.

Answers take a slot of the same pool as the page's chat (:class:`AnswerSlots`),
so tools cannot crowd out the people using the page; a client that disconnects
from a stream gives its slot back when the stream is closed.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

import anyio
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant import Assistant
from assistant.types import Filters, Passage, StreamEvent
from ingest.registry import DocumentRecord
from ui.accounts import Accounts, Viewer
from ui.feedback import append_feedback

#: Largest request body the API reads (a question, its history and filters fit in far less).
MAX_BODY = 64 * 1024
MAX_QUESTION = 2000
MAX_HISTORY = 20
MAX_K = 20
#: Who a request acts for when no users are configured: the public view, restricted documents hidden.
PUBLIC = Viewer(None, "public")


class AnswerSlots:
    """The answering slots every way of asking shares (the page's chat, ``/api/v1``, the chat API).

    Answering is CPU-bound, so ``Settings.ask_workers`` questions run at once and
    the rest wait their turn, whichever door they came in by.
    """

    def __init__(self, slots: int) -> None:
        self._free = threading.BoundedSemaphore(max(1, slots))

    @contextmanager
    def held(self) -> Iterator[None]:
        self._free.acquire()
        try:
            yield
        finally:
            self._free.release()

    def stream(self, events: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
        """``events`` (an answer being written), written in a slot by a thread of its own, read as they come.

        The writer never waits for the reader: a reader that goes away (a closed
        browser tab, a client that drops a stream) cannot keep the slot, which
        is free again once the answer is written or, if the reader said it left,
        at the next event.
        """
        written, stop = self._write(events)
        try:
            while (item := written.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    async def astream(self, events: Iterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
        """:meth:`stream` for an async reader (a streamed HTTP response)."""
        written, stop = self._write(events)
        try:
            while (item := await anyio.to_thread.run_sync(written.get, abandon_on_cancel=True)) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    def _write(self, events: Iterator[StreamEvent]) -> tuple[queue.SimpleQueue, threading.Event]:
        written: queue.SimpleQueue = queue.SimpleQueue()
        stop = threading.Event()

        def write() -> None:
            try:
                with self.held():
                    for event in events:
                        if stop.is_set():
                            break
                        written.put(event)
            except Exception as exc:  # the reader raises it: a scope matching nothing, a failed chat model
                written.put(exc)
            finally:
                written.put(_DONE)

        threading.Thread(target=write, name="clerk-answer", daemon=True).start()
        return written, stop


_DONE = object()


class FiltersIn(BaseModel):
    """Which documents to answer from; empty lists do not restrict."""

    model_config = ConfigDict(extra="forbid")
    councils: list[str] = Field(default_factory=list, max_length=50)
    types: list[str] = Field(default_factory=list, max_length=50)
    documents: list[str] = Field(default_factory=list, max_length=50)
    date_from: str | None = Field(None, max_length=10)
    date_to: str | None = Field(None, max_length=10)

    def for_viewer(self, viewer: Viewer) -> Filters:
        return Filters(councils=tuple(self.councils), doc_types=tuple(self.types), documents=tuple(self.documents),
                       date_from=self.date_from or None, date_to=self.date_to or None,
                       include_restricted=viewer.sees_restricted)


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION)
    #: The user's earlier questions, oldest first: a follow-up ("And at Kent?") is read with them.
    history: list[str] = Field(default_factory=list, max_length=MAX_HISTORY)
    filters: FiltersIn | None = None
    k: int | None = Field(None, ge=1, le=MAX_K, description="passages to answer from (default: the setting top_k)")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION)
    answer: str = Field(max_length=20_000)
    rating: Literal["up", "down"]
    comment: str = Field("", max_length=2000)
    citations: list[dict[str, Any]] = Field(default_factory=list, max_length=50)


def passage_json(p: Passage) -> dict[str, Any]:
    """A passage with the fields a citation has, and the link that opens its page."""
    return {"chunk_id": p.chunk_id, "doc_id": p.doc_id, "source": p.source, "title": p.title, "council": p.council,
            "doc_type": p.doc_type, "date": p.date, "page": p.page_start, "page_end": p.page_end,
            "section": p.section, "text": p.text, "score": round(float(p.score), 4),
            "link": file_link(p.doc_id, p.page_start)}


def file_link(doc_id: str, page: int | None = None) -> str:
    return f"/files/{doc_id}" + (f"#page={page}" if page else "")


def _sse(kind: str, data: object) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def build_api(assistant: Assistant, accounts: Accounts, signed_in: Callable[[Request], str | None],
              slots: AnswerSlots) -> FastAPI:
    """The ``/api/v1`` app, to be mounted on the server beside the page (``signed_in``: the page's session)."""
    api = FastAPI(title="clerk API", version="1", openapi_url="/openapi.json", docs_url="/docs", redoc_url=None,
                  description="Answers with citations from a council's documents. See docs/API.md.")

    def viewer_of(request: Request) -> Viewer:
        auth = request.headers.get("authorization")
        if auth is not None:
            scheme, _, key = auth.partition(" ")
            account = accounts.by_key(key) if scheme.lower() == "bearer" and key.strip() else None
            if account is None:
                raise HTTPException(401, "the API key is not valid (send Authorization: Bearer KEY)")
            return Viewer(account.name, account.role)
        name = signed_in(request)
        if name is not None:
            return accounts.viewer(name)
        if accounts.enabled:
            raise HTTPException(401, "sign in, or send Authorization: Bearer KEY "
                                     "(`clerk users add NAME --role ROLE --api-key` issues one)")
        return PUBLIC

    @api.middleware("http")
    async def bounded_body(request: Request, call_next):  # noqa: ANN202 (Starlette's middleware signature)
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return JSONResponse({"detail": f"request body over {MAX_BODY} bytes"}, status_code=413)
        if length is None and request.method in ("POST", "PUT", "PATCH"):
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY:
                    return JSONResponse({"detail": f"request body over {MAX_BODY} bytes"}, status_code=413)
            request._body = body  # read once here: the route reads it again from this
        return await call_next(request)

    def visible(viewer: Viewer, rec: DocumentRecord | None) -> bool:
        return rec is not None and (viewer.sees_restricted or not rec.restricted)

    @api.post("/ask", summary="Answer a question with citations, or refuse")
    def ask(body: AskIn, request: Request, stream: bool = False) -> Any:
        viewer = viewer_of(request)
        filters = (body.filters or FiltersIn()).for_viewer(viewer)
        try:
            assistant.retriever.scope(filters)  # a scope that matches no document is an error naming it
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        if not stream:
            with slots.held():
                return assistant.ask(body.question, filters=filters, k=body.k, history=body.history).to_json()

        async def events() -> AsyncIterator[str]:
            async for event in slots.astream(assistant.stream(body.question, filters=filters, k=body.k,
                                                              history=body.history)):
                yield _event(event)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @api.get("/documents", summary="The library, as `clerk docs --json` lists it")
    def documents(request: Request) -> list[dict[str, Any]]:
        viewer = viewer_of(request)
        docs = assistant.store.registry.documents()
        hidden = {d.doc_id for d in docs if d.restricted and not viewer.sees_restricted}
        out = []
        for d in docs:
            if d.doc_id in hidden:
                continue
            row = d.listing()
            if d.duplicate_of in hidden:  # a public copy of a restricted original does not name it
                row["duplicate_of"] = None
            out.append(row)
        return out

    @api.get("/documents/{doc_id}", summary="One document: metadata, pages and the link to its file")
    def document(doc_id: str, request: Request) -> dict[str, Any]:
        viewer = viewer_of(request)
        registry = assistant.store.registry
        rec = registry.by_id(doc_id)
        if not visible(viewer, rec):
            raise HTTPException(404, "no such indexed document")
        assert rec is not None
        row = rec.listing()
        if rec.duplicate_of and not visible(viewer, registry.by_id(rec.duplicate_of)):
            row["duplicate_of"] = None
        row["file"] = file_link(rec.doc_id)
        row["pages"] = [{"number": p.number, "text": p.text} for p in registry.pages(rec.doc_id)]
        return row

    @api.get("/search", summary="Ranked passages for a query, without an answer")
    def search(request: Request, q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION)],
               k: Annotated[int, Query(ge=1, le=MAX_K)] = 10, council: Annotated[list[str] | None, Query()] = None,
               type: Annotated[list[str] | None, Query()] = None, document: Annotated[list[str] | None, Query()] = None,
               ) -> dict[str, Any]:
        viewer = viewer_of(request)
        filters = FiltersIn(councils=council or [], types=type or [], documents=document or []).for_viewer(viewer)
        with slots.held():
            try:
                found = assistant.retrieve(q, filters, k)
            except ValueError as exc:
                raise HTTPException(400, str(exc)) from exc
        return {"query": found.query.search_text, "passages": [passage_json(p) for p in found.passages]}

    @api.post("/feedback", summary="Rate an answer (kept with the page's ratings for the service's keepers)")
    def feedback(body: FeedbackIn, request: Request) -> dict[str, Any]:
        viewer = viewer_of(request)
        entry = append_feedback(assistant.settings.feedback_path, {
            "rating": body.rating, "comment": body.comment.strip(), "question": body.question,
            "answer": body.answer, "citations": body.citations, "via": "api", "user": viewer.name,
        })
        return {"recorded": True, "time": entry["time"]}

    return api


def _event(event: StreamEvent) -> str:
    if event.kind == "status":
        return _sse("status", {"text": event.text})
    if event.kind == "passages":
        return _sse("passages", {"passages": [passage_json(p) for p in event.passages]})
    if event.kind == "delta":
        return _sse("delta", {"text": event.text})
    assert event.answer is not None
    return _sse("final", event.answer.to_json())
