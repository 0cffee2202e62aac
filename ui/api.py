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

Who is asking, and what they may see, is decided in :mod:`ui.service` for
every door alike: a bearer key acts for its user, the page's session cookie for
the signed-in user, anything else is refused (401) once users are configured;
with no users configured the API serves the public view. A restricted
document is answered like a missing one everywhere (answer, citation,
search, document list, document, file link), so its existence is not disclosed.

Answers take a slot of the same pool as the page's chat (:class:`AnswerSlots`),
so tools cannot crowd out the people using the page; a client that disconnects
from a stream gives its slot back when the stream is closed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant import Assistant
from assistant.types import Filters, StreamEvent
from ui.accounts import Accounts, Viewer
from ui.feedback import append_feedback
from ui.service import (
    MAX_HISTORY,
    MAX_K,
    MAX_QUESTION,
    AnswerSlots,
    NotSignedIn,
    bound_bodies,
    caller,
    document,
    library,
    search_json,
)


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


def _sse(kind: str, data: object) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def build_api(assistant: Assistant, accounts: Accounts, signed_in: Callable[[Request], str | None],
              slots: AnswerSlots) -> FastAPI:
    """The ``/api/v1`` app, to be mounted on the server beside the page (``signed_in``: the page's session)."""
    api = FastAPI(title="clerk API", version="1", openapi_url="/openapi.json", docs_url="/docs", redoc_url=None,
                  description="Answers with citations from a council's documents. See docs/API.md.")

    def viewer_of(request: Request) -> Viewer:
        try:
            return caller(accounts, request.headers.get("authorization"), signed_in(request))
        except NotSignedIn as exc:
            raise HTTPException(401, str(exc)) from exc

    bound_bodies(api)

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
        return library(assistant.store.registry, viewer_of(request))

    @api.get("/documents/{doc_id}", summary="One document: metadata, pages and the link to its file")
    def one_document(doc_id: str, request: Request) -> dict[str, Any]:
        found = document(assistant.store.registry, viewer_of(request), doc_id)
        if found is None:
            raise HTTPException(404, "no such indexed document")
        return found

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
        return search_json(found)

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
        return _sse("passages", {"passages": [p.to_json() for p in event.passages]})
    if event.kind == "delta":
        return _sse("delta", {"text": event.text})
    assert event.answer is not None
    return _sse("final", event.answer.to_json())
