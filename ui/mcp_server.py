"""clerk as an MCP server: tools and resources an agent (Copilot Studio, Claude, an IDE) calls for cited answers.

=====================  ==========================================================================
tool                   returns
=====================  ==========================================================================
``search_documents``   ranked passages for a query (citation fields, text, link), no answer
``ask``                the ``clerk ask --json`` answer object, each citation with its link
``get_passage``        one passage by its ``chunk_id`` (as search and citations give it)
``list_documents``     the library as ``clerk docs --json`` lists it, optionally one council or type
=====================  ==========================================================================

Each document is a resource, ``clerk://documents/{doc_id}``: its metadata and
its pages' text, page by page.

Served two ways, built by the maintained ``mcp`` SDK: ``clerk mcp`` over stdio
(a local agent starts it as a subprocess; it acts for the public view, or for
the user of ``--api-key`` / ``$CLERK_API_KEY``), and streamable HTTP at
``/mcp`` on ``clerk serve``, where each request's ``Authorization: Bearer KEY``
decides who is asking, as on every other door (:mod:`ui.service`). A
restricted document is, to a caller without access, not there: no tool,
listing or resource shows or names it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ListResourcesResult, Resource, ToolAnnotations
from pydantic import Field
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant import Assistant
from assistant.types import Filters, Passage
from clerk.settings import Settings
from ui.accounts import Accounts, Viewer
from ui.service import (
    MAX_BODY,
    MAX_HISTORY,
    MAX_K,
    MAX_QUESTION,
    PUBLIC,
    AnswerSlots,
    NotSignedIn,
    answer_json,
    caller,
    document,
    library,
    search_json,
    visible,
)

#: Who a request acts for, from its HTTP headers (None over stdio); raises :class:`ui.service.NotSignedIn`.
ViewerOf = Callable[[Mapping[str, str] | None], Viewer]

RESOURCE = "clerk://documents/{doc_id}"
#: The scope arguments of ``ask`` and ``search_documents``.
Council = Annotated[str | None, Field(max_length=200, description="council id or name")]
DocType = Annotated[str | None, Field(max_length=50, description="document type, e.g. constitution")]
Document = Annotated[str | None, Field(max_length=500, description="document id or file name")]
READ_ONLY = ToolAnnotations(readOnlyHint=True, openWorldHint=False)

class ClerkMCP(MCPServer):
    """An :class:`MCPServer` whose resource list is the caller's library (one resource per visible document)."""

    def __init__(self, assistant: Assistant, viewer_of: ViewerOf, **kw: Any) -> None:
        super().__init__(**kw)
        self.assistant, self.viewer_of = assistant, viewer_of

    async def _handle_list_resources(self, ctx, params):  # noqa: ANN001, ANN202 (the SDK's handler signature)
        viewer = self.viewer_of(getattr(ctx.request, "headers", None))
        docs = library(self.assistant.store.registry, viewer)
        return ListResourcesResult(resources=[
            Resource(uri=RESOURCE.format(doc_id=d["doc_id"]), name=d["doc_id"], title=d["title"] or d["source"],
                     description=" · ".join(x for x in (d["council"], d["doc_type"], d["date"]) if x),
                     mime_type="text/plain")
            for d in docs if d["status"] in ("indexed", "stale")
        ])


def build_mcp(assistant: Assistant, slots: AnswerSlots, viewer_of: ViewerOf) -> ClerkMCP:
    """The MCP server over ``assistant``: the same tools over stdio and HTTP, told apart only by ``viewer_of``."""
    server = ClerkMCP(
        assistant, viewer_of, name="clerk", title="clerk: council documents with citations",
        instructions="Answers questions about the indexed council governance documents with numbered citations "
                     "(document, page, section, verbatim quote), or refuses when the documents do not say. "
                     "Use `ask` for an answer, `search_documents` for passages, `list_documents` for the library.",
    )

    def viewer(ctx: Context) -> Viewer:
        return viewer_of(ctx.headers)

    def scope(who: Viewer, council: str | None, type: str | None, document: str | None) -> Filters:
        filters = Filters(councils=tuple(filter(None, [council])), doc_types=tuple(filter(None, [type])),
                          documents=tuple(filter(None, [document])), include_restricted=who.sees_restricted)
        try:
            assistant.retriever.scope(filters)  # a council, type or document that matches nothing, named
        except ValueError as exc:
            raise ToolError(str(exc)) from exc
        return filters

    async def in_slot(work: Callable[[], Any]) -> Any:
        def run() -> Any:
            with slots.held():
                return work()

        return await anyio.to_thread.run_sync(run)

    @server.tool(annotations=READ_ONLY)
    async def search_documents(
        query: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION, description="what to look for")],
        ctx: Context,
        council: Council = None,
        type: DocType = None,
        document: Document = None,
        k: Annotated[int, Field(ge=1, le=MAX_K, description="how many passages")] = 8,
    ) -> dict[str, Any]:
        """Ranked passages of the council documents for a query, each with title, page, section, text and link."""
        filters = scope(viewer(ctx), council, type, document)
        found = await in_slot(lambda: assistant.retrieve(query, filters, k))
        return search_json(found)

    @server.tool(annotations=READ_ONLY)
    async def ask(
        question: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION, description="the question")],
        ctx: Context,
        council: Council = None,
        type: DocType = None,
        document: Document = None,
        history: Annotated[list[str] | None, Field(max_length=MAX_HISTORY,
                                                   description="earlier questions, oldest first")] = None,
    ) -> dict[str, Any]:
        """Answer from the council documents with numbered citations [n] (document, page, section, quote), or refuse.

        ``refused`` is true when the documents do not say; ``searched`` then names the closest documents.
        """
        filters = scope(viewer(ctx), council, type, document)
        answer = await in_slot(lambda: assistant.ask(question, filters=filters, history=history or []))
        return answer_json(answer)

    @server.tool(annotations=READ_ONLY)
    async def get_passage(
        chunk_id: Annotated[str, Field(min_length=1, max_length=200, description="a passage's chunk_id")],
        ctx: Context,
    ) -> dict[str, Any]:
        """One passage by the chunk_id that search results and citations carry: its text, page, section and link."""
        registry = assistant.store.registry
        rows = registry.chunks([chunk_id])
        if not rows or not visible(viewer(ctx), registry.by_id(rows[0]["doc_id"])):
            raise ToolError(f"no such passage: {chunk_id!r}")
        out = Passage.from_row(rows[0]).to_json()
        out.pop("score")
        return out

    @server.tool(annotations=READ_ONLY)
    async def list_documents(
        ctx: Context,
        council: Annotated[str | None, Field(max_length=200, description="only this council (id)")] = None,
        type: Annotated[str | None, Field(max_length=50, description="only this document type")] = None,
    ) -> dict[str, Any]:
        """The indexed documents: id, title, council, type, date, pages and status of each."""
        docs = library(assistant.store.registry, viewer(ctx))
        docs = [d for d in docs if (not council or d["council"] == council.strip().lower())
                and (not type or d["doc_type"] == type.strip().lower())]
        return {"documents": docs}

    @server.resource(RESOURCE, name="document", mime_type="text/plain",
                     description="An indexed document: its metadata, then its text page by page.")
    def read_document(doc_id: str, ctx: Context) -> str:
        found = document(assistant.store.registry, viewer(ctx), doc_id)
        if found is None:
            raise ResourceNotFoundError(f"no such indexed document: {doc_id!r}")
        head = [f"{k}: {found[k]}" for k in ("title", "council", "doc_type", "date", "source", "file") if found[k]]
        pages = [f"--- page {p['number']} ---\n{p['text']}" for p in found["pages"]]
        return "\n".join(head) + "\n\n" + "\n\n".join(pages)

    return server


class SignedInOnly:
    """The ``/mcp`` endpoint, refusing with 401 a request that acts for nobody (users configured, no valid key).

    The tools check who is asking on every call too; this answers a missing or
    wrong key at the door, with the reason, before any MCP session starts.
    """

    def __init__(self, endpoint: ASGIApp, viewer_of: ViewerOf) -> None:
        self.endpoint, self.viewer_of = endpoint, viewer_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
            try:
                self.viewer_of(headers)
            except NotSignedIn as exc:
                await JSONResponse({"detail": str(exc)}, status_code=401,
                                   headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
        await self.endpoint(scope, receive, send)


def http_endpoint(server: ClerkMCP) -> ASGIApp:
    """The streamable-HTTP endpoint of ``server``, for a route at ``/mcp`` on ``clerk serve``.

    Stateless, JSON responses: every request stands alone (who is asking is
    read from its own ``Authorization`` header), so a restart or a second
    worker loses nothing. The server's ``session_manager.run()`` must run in
    the app's lifespan. The SDK's DNS-rebinding check is off, as for the page:
    ``clerk serve`` answers to whatever host name a proxy gives it, and with
    users configured every request needs a key.
    """
    star = server.streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True, max_request_body_size=MAX_BODY,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
    endpoint = next(route.endpoint for route in star.routes if getattr(route, "path", None) == "/mcp")
    return SignedInOnly(endpoint, server.viewer_of)


def run_stdio(settings: Settings, api_key: str | None = None) -> None:
    """``clerk mcp``: serve MCP over stdin and stdout for the public view, or for the user of ``api_key``.

    With users configured, a key acts for its user (an officer's key sees
    restricted documents); without one, or with no users, the public view.
    A key that matches no user is an error before anything is served, so an
    agent's configuration mistake is not silently served less. Nothing but
    the protocol is written to standard output: the model loads with its
    output sent to standard error.
    """
    accounts = Accounts(settings.users_path)
    who = PUBLIC
    if api_key:
        if not accounts.enabled:
            raise ValueError(f"an API key was given but no users are configured ({settings.users_path}); "
                             "without users every tool serves the public view")
        who = caller(accounts, f"Bearer {api_key}", None)  # NotSignedIn: the key is not valid
    assistant = Assistant(settings)
    with contextlib.redirect_stdout(sys.stderr):
        assistant.warm_up()
    print(f"clerk mcp: serving {settings.index} over stdio as {who.name or who.role}", file=sys.stderr, flush=True)
    build_mcp(assistant, AnswerSlots(settings.ask_workers), lambda _headers: who).run("stdio")
