"""The OpenAI-compatible chat API (``/v1``), called with the real ``openai`` client against a real ``clerk serve``.

The server runs on 127.0.0.1 over a copy of the access index (four real
documents, two restricted) with an officer's and a member's API key
(``tests/ui/conftest.py``). What the client gets back is checked against the
documents: quotes are on their page, the references block links each page,
and a restricted document never reaches a member through content, citations
or links, while an officer's key reaches it.
"""

from __future__ import annotations

import re
import threading

import httpx
import jsonschema
import openai
import pytest
from fastapi.testclient import TestClient

from assistant.schema import ANSWER_SCHEMA
from ingest.registry import Registry
from ui.app import build_app

pytestmark = pytest.mark.slow

CONDUCT = "What must a Hertingfordbury councillor do about a disclosable pecuniary interest?"
RESERVES = "How many months of expenditure should Hertingfordbury hold as a general reserve?"
PLAN = "What does North West Leicestershire's productivity plan say about measuring productivity?"
#: Words only the restricted documents hold (the reserves policy's range, the two file names).
HIDDEN_WORDS = ("hpc-reserves-policy", "wvcc-complaints", "between 3 and 12")


def client(tool_server, role: str = "member") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{tool_server.url}/v1", api_key=tool_server.keys[role], max_retries=0,
                         timeout=180)


def restricted_ids(tool_server) -> set[str]:
    registry = Registry(tool_server.index / "registry.sqlite3")
    try:
        return {d.doc_id for d in registry.documents() if d.restricted}
    finally:
        registry.close()


def page_text(tool_server, doc_id: str, page: int) -> str:
    r = httpx.get(f"{tool_server.url}/api/v1/documents/{doc_id}",
                  headers={"Authorization": f"Bearer {tool_server.keys['officer']}"}, timeout=60)
    pages = {p["number"]: p["text"] for p in r.json()["pages"]}
    return " ".join(pages[page].split())


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def test_the_model_list_names_clerk_and_its_extractive_backend(tool_server):
    ids = [m.id for m in client(tool_server).models.list()]
    assert ids[:2] == ["clerk", "clerk-extractive"], ids


def test_a_chat_completion_is_a_cited_answer_with_a_references_block(tool_server):
    reply = client(tool_server).chat.completions.create(model="clerk", messages=[user(CONDUCT)])
    message = reply.choices[0].message
    assert reply.object == "chat.completion" and reply.choices[0].finish_reason == "stop"
    jsonschema.validate(reply.clerk, ANSWER_SCHEMA)
    assert not reply.clerk["refused"] and message.citations, message.content
    answer, _, block = message.content.partition("\n\nSources:\n")
    assert answer == reply.clerk["answer"]
    for c in message.citations:
        assert f"[{c['n']}]" in answer
        assert " ".join(c["quote"].split()) in page_text(tool_server, c["doc_id"], c["page"]), c
        assert c["link"] == f"/files/{c['doc_id']}#page={c['page']}"
        assert f"[{c['n']}] [" in block and f"{tool_server.url}{c['link']}" in block
    # the link in the block opens the cited document for the key that asked
    link = re.search(r"\((http[^)]+)\)", block).group(1).split("#")[0]
    r = httpx.get(link, headers={"Authorization": f"Bearer {tool_server.keys['member']}"}, timeout=60)
    assert r.status_code == 200 and r.content[:5] == b"%PDF-"


def test_a_streamed_completion_sends_openai_chunks_and_ends_with_the_citations(tool_server):
    chunks = list(client(tool_server).chat.completions.create(model="clerk", messages=[user(CONDUCT)], stream=True))
    assert all(ch.object == "chat.completion.chunk" for ch in chunks) and len({ch.id for ch in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [ch.choices[0].finish_reason for ch in chunks].count("stop") == 1
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks)
    final = last.clerk
    assert not final["refused"] and last.choices[0].delta.citations == final["citations"]
    assert text.startswith(final["answer"]) and "\n\nSources:\n" in text
    for c in final["citations"]:
        assert f"[{c['n']}]" in text


def test_a_follow_up_is_read_with_the_conversation(tool_server):
    """"And what about technology?" alone names nothing indexed; after a question on the productivity plan it is
    answered from that plan."""
    chat = client(tool_server).chat.completions
    alone = chat.create(model="clerk", messages=[user("And what about technology?")])
    earlier = chat.create(model="clerk", messages=[user(PLAN)])
    follow = chat.create(model="clerk", messages=[
        {"role": "system", "content": "You are a helpful assistant."}, user(PLAN),
        {"role": "assistant", "content": earlier.choices[0].message.content}, user("And what about technology?")])
    assert alone.clerk["refused"]
    assert not follow.clerk["refused"], follow.choices[0].message.content
    assert {c["title"] for c in follow.clerk["citations"]} == {"Productivity Plan"}


def test_a_question_the_documents_do_not_answer_is_refused_with_no_citations(tool_server):
    reply = client(tool_server).chat.completions.create(
        model="clerk", messages=[user("What is the quorum of Trafford Council's planning committee?")])
    assert reply.clerk["refused"] and reply.choices[0].message.citations == []
    assert reply.choices[0].message.content == reply.clerk["answer"] and "Sources:" not in reply.choices[0].message.content


def test_a_restricted_document_reaches_an_officer_and_never_a_member(tool_server):
    hidden = restricted_ids(tool_server)
    assert len(hidden) == 2
    for stream in (False, True):
        asked = client(tool_server, "member").chat.completions.create(model="clerk", messages=[user(RESERVES)],
                                                                       stream=stream)
        if stream:
            chunks = list(asked)
            content = "".join(ch.choices[0].delta.content or "" for ch in chunks)
            final = chunks[-1].clerk
        else:
            content, final = asked.choices[0].message.content, asked.clerk
        seen = content + repr(final)
        assert not {c["doc_id"] for c in final["citations"]} & hidden
        assert not any(doc_id in seen for doc_id in hidden), seen
        assert not any(word in seen for word in HIDDEN_WORDS), seen
    officer = client(tool_server, "officer").chat.completions.create(model="clerk", messages=[user(RESERVES)])
    assert {c["doc_id"] for c in officer.clerk["citations"]} & hidden, officer.choices[0].message.content
    assert "between 3 and 12" in officer.choices[0].message.content
    # a member naming the restricted document in the scope is told it matches nothing, as if it did not exist
    with pytest.raises(openai.BadRequestError) as err:
        client(tool_server, "member").chat.completions.create(
            model="clerk", messages=[user(RESERVES)], metadata={"document": "hpc-reserves-policy.pdf"})
    assert "hpc-reserves-policy.pdf" in err.value.body["message"]


def test_the_scope_comes_from_the_model_name_or_metadata(tool_server):
    chat = client(tool_server, "officer").chat.completions
    scoped = chat.create(model="clerk:council=nwldc", messages=[user(RESERVES)])
    assert scoped.clerk["refused"] or {c["council"] for c in scoped.clerk["citations"]} == {"nwldc"}
    by_metadata = chat.create(model="clerk", messages=[user(PLAN)], metadata={"type": "productivity_plan"})
    assert by_metadata.clerk["citations"], by_metadata.choices[0].message.content
    assert {c["doc_type"] for c in by_metadata.clerk["citations"]} == {"productivity_plan"}
    outside = chat.create(model="clerk", messages=[user(PLAN)], metadata={"council": "hertingfordbury-pc"})
    assert not {c["council"] for c in outside.clerk["citations"]} - {"hertingfordbury-pc"}
    with pytest.raises(openai.BadRequestError) as err:
        chat.create(model="clerk:council=nowhere", messages=[user(CONDUCT)])
    assert err.value.body["param"] == "model" and "nowhere" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        chat.create(model="clerk:colour=blue", messages=[user(CONDUCT)])


def test_errors_have_openais_shape_and_name_the_reason(tool_server):
    with pytest.raises(openai.NotFoundError) as err:
        client(tool_server).chat.completions.create(model="gpt-4o", messages=[user(CONDUCT)])
    assert err.value.body["code"] == "model_not_found" and "clerk" in err.value.body["message"]
    bad_key = openai.OpenAI(base_url=f"{tool_server.url}/v1", api_key="not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        bad_key.chat.completions.create(model="clerk", messages=[user(CONDUCT)])
    assert err.value.body["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        bad_key.models.list()
    with pytest.raises(openai.BadRequestError) as err:
        client(tool_server).chat.completions.create(model="clerk", messages=[user("x" * 2001)])
    assert err.value.body["code"] == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as err:
        client(tool_server).chat.completions.create(model="clerk", messages=[{"role": "assistant", "content": "hi"}])
    assert err.value.body["param"] == "messages"
    r = httpx.post(f"{tool_server.url}/v1/chat/completions", content=b"{not json",
                   headers={"Authorization": f"Bearer {tool_server.keys['member']}",
                            "Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 400 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    r = httpx.post(f"{tool_server.url}/v1/chat/completions", content=b"x" * (1 << 20),
                   headers={"Authorization": f"Bearer {tool_server.keys['member']}"}, timeout=60)
    assert r.status_code == 413


def test_a_chat_client_that_leaves_a_stream_gives_its_answering_slot_back(access_settings):
    """With one answering slot, a stream abandoned after its first chunk must not hold the slot."""
    settings = access_settings.model_copy(update={"ask_concurrency": 1})
    body = {"model": "clerk", "messages": [user(CONDUCT)], "stream": True}
    with TestClient(build_app(settings)) as tc:
        with tc.stream("POST", "/v1/chat/completions", json=body) as r:
            assert next(r.iter_lines()).startswith("data: {")
        got: list[int] = []
        asker = threading.Thread(target=lambda: got.append(
            tc.post("/v1/chat/completions", json=body | {"stream": False}).status_code), daemon=True)
        asker.start()
        asker.join(timeout=120)
        if not got:
            tc.app.state.slots._free.release()  # let the app shut down, then fail
        assert got == [200], "the abandoned stream kept the only answering slot"
