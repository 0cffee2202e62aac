"""What every door for other programs shares (``/api/v1``, the chat API at ``/v1``, MCP): who is asking,
what they may see, the limits, the answering slots and the JSON shape of a passage.

One place for these, so that a restricted document is hidden the same way
whichever door a tool comes in by, and a tool cannot take more answering
slots than the page's chat leaves it.

Who is asking (:func:`caller`): a request with ``Authorization: Bearer KEY``
acts for the key's user (``clerk users add NAME --role R --api-key``); one with
the page's session cookie for the signed-in user; with users configured, any
other request is refused. With no users configured there are no keys either:
every request gets the public view (restricted documents hidden), as the page
does, and whatever key a client sends (a chat client must send one) is ignored.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from assistant.engine import Retrieval
from assistant.types import Answer, Citation, StreamEvent, file_link
from ingest.registry import DocumentRecord, Registry
from ui.accounts import Accounts, Viewer

#: Largest request body a door reads (a question, its history and filters fit in far less).
MAX_BODY = 64 * 1024
MAX_QUESTION = 2000
MAX_HISTORY = 20
MAX_K = 20
#: Who a request acts for when no users are configured: the public view, restricted documents hidden.
PUBLIC = Viewer(None, "public")


class NotSignedIn(Exception):
    """A request that acts for nobody while users are configured; the message says how to identify."""


def caller(accounts: Accounts, authorization: str | None, session_user: str | None) -> Viewer:
    """The viewer a request acts for, from its ``Authorization`` header and the page's signed-in user."""
    if not accounts.enabled:
        return PUBLIC
    if authorization is not None:
        scheme, _, key = authorization.partition(" ")
        account = accounts.by_key(key) if scheme.lower() == "bearer" and key.strip() else None
        if account is None:
            raise NotSignedIn("the API key is not valid (send Authorization: Bearer KEY)")
        return Viewer(account.name, account.role)
    if session_user is not None:
        return accounts.viewer(session_user)
    raise NotSignedIn("sign in, or send Authorization: Bearer KEY (`clerk users add NAME --role ROLE --api-key` issues one)")


def visible(viewer: Viewer, rec: DocumentRecord | None) -> bool:
    """Whether ``viewer`` may know of the document: a restricted one is, to anyone else, not there."""
    return rec is not None and (viewer.sees_restricted or not rec.restricted)


def library(registry: Registry, viewer: Viewer) -> list[dict[str, Any]]:
    """The documents ``viewer`` may see, as ``clerk docs --json`` lists them."""
    docs = registry.documents()
    hidden = {d.doc_id for d in docs if not visible(viewer, d)}
    out = []
    for d in docs:
        if d.doc_id in hidden:
            continue
        row = d.listing()
        if d.duplicate_of in hidden:  # a public copy of a restricted original does not name it
            row["duplicate_of"] = None
        out.append(row)
    return out


def document(registry: Registry, viewer: Viewer, doc_id: str) -> dict[str, Any] | None:
    """One document ``viewer`` may see: its listing, the link to its file and its pages' text; else None."""
    rec = registry.by_id(doc_id)
    if not visible(viewer, rec):
        return None
    assert rec is not None
    row = rec.listing()
    if rec.duplicate_of and not visible(viewer, registry.by_id(rec.duplicate_of)):
        row["duplicate_of"] = None
    row["file"] = file_link(rec.doc_id)
    row["pages"] = [{"number": p.number, "text": p.text} for p in registry.pages(rec.doc_id)]
    return row


def search_json(found: Retrieval) -> dict[str, Any]:
    """Ranked passages without an answer, as ``/api/v1/search`` and the MCP ``search_documents`` tool give them."""
    return {"query": found.query.search_text, "passages": [p.to_json() for p in found.passages]}


def citation_json(c: Citation) -> dict[str, Any]:
    """A citation as ``clerk ask --json`` gives it, with the link that opens its page."""
    return c.to_json() | {"link": c.link}


def answer_json(answer: Answer) -> dict[str, Any]:
    """The ``clerk ask --json`` object with a link on each citation (the chat API and MCP hand this out)."""
    out = answer.to_json()
    out["citations"] = [citation_json(c) for c in answer.citations]
    return out


def bound_bodies(app: FastAPI) -> None:
    """Refuse (413) a request body over :data:`MAX_BODY`, whether it declares its length or streams it."""

    @app.middleware("http")
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


class AnswerSlots:
    """The answering slots every way of asking shares (the page's chat, ``/api/v1``, the chat API, MCP).

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
