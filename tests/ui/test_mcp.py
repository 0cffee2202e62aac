"""clerk's MCP server, called with the ``mcp`` SDK's own client: over stdio (``clerk mcp``) and over HTTP (``/mcp``).

Both run as an agent runs them, as a real subprocess over a copy of the access
index (four real documents, two restricted): ``clerk mcp`` started by the
client, and the ``clerk serve`` of ``tests/ui/conftest.py`` with an officer's
and a member's API key. Each tool is called and its result checked against the
documents; bad arguments come back as tool errors naming the reason; a
restricted document is, to a caller without access, in no tool, listing or
resource.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import jsonschema
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from assistant.schema import ANSWER_SCHEMA
from ingest.registry import Registry
from tests.helpers import ROOT, index_copy, server_env

pytestmark = pytest.mark.slow

TOOLS = {"search_documents", "ask", "get_passage", "list_documents"}
CONDUCT = "What must a Hertingfordbury councillor do about a disclosable pecuniary interest?"
RESERVES = "How many months of expenditure should Hertingfordbury hold as a general reserve?"
HIDDEN_WORDS = ("hpc-reserves-policy", "wvcc-complaints", "between 3 and 12")


@pytest.fixture(scope="module")
def open_index(access_settings, tmp_path_factory) -> Path:
    """A copy of the access index with no users: every door serves the public view."""
    return index_copy(access_settings, tmp_path_factory, "mcp-open")


def documents(index: Path) -> tuple[set[str], dict[str, str]]:
    """The restricted documents' ids, and one chunk id of each document."""
    registry = Registry(index / "registry.sqlite3")
    try:
        docs = registry.documents()
        return ({d.doc_id for d in docs if d.restricted},
                {d.doc_id: sorted(registry.chunk_ids(d.doc_id))[0] for d in docs})
    finally:
        registry.close()


def stdio(index: Path, *args: str) -> Client:
    return Client(StdioServerParameters(command=sys.executable, args=["-m", "clerk.cli", "mcp", "--index", str(index),
                                                                      *args], env=server_env(), cwd=str(ROOT)))


def http(url: str, key: str | None) -> Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return Client(streamable_http_client(f"{url}/mcp", http_client=httpx2.AsyncClient(headers=headers, timeout=180)))


def run(session: Client, check: Callable[[Client], Awaitable[None]]) -> None:
    """Connect ``session``, run ``check`` with it, close it."""

    async def main() -> None:
        async with session as client:
            await check(client)

    anyio.run(main)


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def error(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return result.content[0].text


async def check_every_tool(client: Client, hidden: set[str], chunk_of: dict[str, str], sees_restricted: bool) -> None:
    """Call each tool and read each resource as ``client``'s viewer; ``hidden`` must show only to an officer."""
    tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    assert all(t.annotations.read_only_hint for t in tools)
    assert all(t.description for t in tools)

    # ask: the clerk ask --json answer, quotes on their page
    answer = await call(client, "ask", question=CONDUCT)
    jsonschema.validate(answer, ANSWER_SCHEMA)
    assert not answer["refused"] and answer["citations"]
    for c in answer["citations"]:
        assert f"[{c['n']}]" in answer["answer"] and c["link"].startswith(f"/files/{c['doc_id']}")
        passage = await call(client, "get_passage", chunk_id=c["chunk_id"])
        assert passage["doc_id"] == c["doc_id"] and c["quote"].split()[0] in passage["text"]

    # search_documents: ranked passages with citation fields, scoped when asked
    found = await call(client, "search_documents", query="disclosable pecuniary interest", k=3)
    assert 1 <= len(found["passages"]) <= 3
    assert {"chunk_id", "doc_id", "title", "council", "page", "section", "text", "link"} <= set(found["passages"][0])
    scoped = await call(client, "search_documents", query="general reserve", council="nwldc")
    assert {p["council"] for p in scoped["passages"]} == {"nwldc"}

    # list_documents, and a resource per document it lists
    listed = (await call(client, "list_documents"))["documents"]
    assert len(listed) == (4 if sees_restricted else 2)
    assert [d["doc_id"] for d in (await call(client, "list_documents", council="nwldc"))["documents"]] == [
        d["doc_id"] for d in listed if d["council"] == "nwldc"]
    resources = (await client.list_resources()).resources
    assert {str(r.uri) for r in resources} == {f"clerk://documents/{d['doc_id']}" for d in listed}
    one = next(d for d in listed if d["council"] == "nwldc")
    text = (await client.read_resource(f"clerk://documents/{one['doc_id']}")).contents[0].text
    assert text.startswith(f"title: {one['title']}") and "--- page 1 ---" in text
    templates = (await client.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == ["clerk://documents/{doc_id}"]

    # bad arguments are tool errors that say why
    assert "at least 1 character" in await error(client, "search_documents", query="")
    assert "less than or equal to 20" in await error(client, "search_documents", query="reserve", k=500)
    assert "nowhere" in await error(client, "ask", question=CONDUCT, council="nowhere")
    assert "no such passage" in await error(client, "get_passage", chunk_id="no-such-chunk")
    assert "question" in await error(client, "ask")

    # the restricted documents: everywhere for an officer, nowhere for anyone else
    reserves = await call(client, "ask", question=RESERVES)
    passages = await call(client, "search_documents", query="general reserve months of expenditure", k=20)
    cited = {c["doc_id"] for c in reserves["citations"]} | {p["doc_id"] for p in passages["passages"]}
    if sees_restricted:
        assert cited & hidden and {d["doc_id"] for d in listed} >= hidden
        for doc_id in hidden:
            assert (await call(client, "get_passage", chunk_id=chunk_of[doc_id]))["doc_id"] == doc_id
        return
    seen = repr([reserves, passages, listed, [r.model_dump() for r in resources]])
    assert not any(doc_id in seen for doc_id in hidden) and not any(w in seen for w in HIDDEN_WORDS), seen
    for doc_id in hidden:
        assert "no such passage" in await error(client, "get_passage", chunk_id=chunk_of[doc_id])
        with pytest.raises(Exception, match="no such indexed document"):
            await client.read_resource(f"clerk://documents/{doc_id}")
        assert doc_id in await error(client, "ask", question=RESERVES, document=doc_id)


def test_stdio_serves_every_tool_for_the_public_view(open_index):
    hidden, chunk_of = documents(open_index)
    assert len(hidden) == 2
    run(stdio(open_index), lambda client: check_every_tool(client, hidden, chunk_of, sees_restricted=False))


def test_stdio_with_an_officers_key_sees_restricted_documents_and_a_wrong_key_is_refused(tool_index):
    index, keys = tool_index
    hidden, chunk_of = documents(index)
    run(stdio(index, "--api-key", keys["officer"]),
        lambda client: check_every_tool(client, hidden, chunk_of, sees_restricted=True))
    done = subprocess.run([sys.executable, "-m", "clerk.cli", "mcp", "--index", str(index)], cwd=ROOT,
                          env=server_env() | {"CLERK_API_KEY": "not-a-key"}, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and done.stdout == ""
    assert "clerk mcp: the API key is not valid" in done.stderr


def test_http_serves_every_tool_by_the_callers_key(tool_server):
    hidden, chunk_of = documents(tool_server.index)
    run(http(tool_server.url, tool_server.keys["member"]),
        lambda client: check_every_tool(client, hidden, chunk_of, sees_restricted=False))
    run(http(tool_server.url, tool_server.keys["officer"]),
        lambda client: check_every_tool(client, hidden, chunk_of, sees_restricted=True))


def test_http_without_a_valid_key_is_refused_at_the_door(tool_server):
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic abc"}):
        r = httpx.post(f"{tool_server.url}/mcp", json=hello, timeout=60,
                       headers=headers | {"Accept": "application/json, text/event-stream"})
        assert r.status_code == 401 and "Bearer" in r.json()["detail"], r.text
