"""``/api/v1``, the JSON API, on the real four-document access index (two restricted), in-process.

Each test calls the app as a client would (FastAPI's TestClient over the real
app: the page, the file route and the API together), and checks what comes
back against the documents: answers validate against the published schema,
quotes are on their page, and restricted documents never appear to a viewer
without access through any route.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
from fastapi.testclient import TestClient

from assistant.schema import ANSWER_SCHEMA
from clerk.settings import Settings
from tests.helpers import index_copy
from ui.accounts import Accounts
from ui.app import build_app
from ui.service import MAX_BODY

pytestmark = pytest.mark.slow

RESERVES = "How many months of expenditure should Hertingfordbury hold as a general reserve?"
CONDUCT = "What must a Hertingfordbury councillor do about a disclosable pecuniary interest?"
HIDDEN_WORDS = ("hpc-reserves-policy", "wvcc-complaints", "between 3 and 12")


@pytest.fixture(scope="module")
def open_client(access_settings):
    """The app over the access index with no users: the public view."""
    with TestClient(build_app(access_settings)) as client:
        yield client


@pytest.fixture(scope="module")
def keyed(access_settings, tmp_path_factory):
    """The app over a copy of the index with an officer and a member, each with an API key."""
    index = index_copy(access_settings, tmp_path_factory, "api-keys")
    settings = access_settings.model_copy(update={"index": index})
    accounts = Accounts(settings.users_path)
    keys = {role: accounts.add(f"{role}-tool", role, None, api_key=True) for role in ("officer", "member")}
    with TestClient(build_app(settings)) as client:
        yield client, keys


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def restricted_ids(settings: Settings) -> set[str]:
    from ingest.registry import Registry

    registry = Registry(settings.registry_path)
    try:
        return {d.doc_id for d in registry.documents() if d.restricted}
    finally:
        registry.close()


def test_ask_returns_the_clerk_ask_json_answer_with_checkable_quotes(open_client):
    r = open_client.post("/api/v1/ask", json={"question": CONDUCT})
    assert r.status_code == 200, r.text
    body = r.json()
    jsonschema.validate(body, ANSWER_SCHEMA)
    assert not body["refused"] and body["citations"], body
    for c in body["citations"]:
        doc = open_client.get(f"/api/v1/documents/{c['doc_id']}").json()
        pages = {p["number"]: " ".join(p["text"].split()) for p in doc["pages"]}
        assert " ".join(c["quote"].split()) in pages[c["page"]], c
        assert f"[{c['n']}]" in body["answer"]


def test_the_public_view_never_shows_a_restricted_document(open_client, access_settings):
    hidden = restricted_ids(access_settings)
    assert len(hidden) == 2
    answer = open_client.post("/api/v1/ask", json={"question": RESERVES}).json()
    found = open_client.get("/api/v1/search", params={"q": "reserves policy general reserve earmarked"}).json()
    listed = open_client.get("/api/v1/documents").json()
    for payload in (answer, found, listed):
        text = json.dumps(payload)
        assert not any(w in text for w in HIDDEN_WORDS), text[:500]
        assert not any(i in text for i in hidden)
    assert len(listed) == 2 and found["passages"]
    for doc_id in hidden:
        assert open_client.get(f"/api/v1/documents/{doc_id}").status_code == 404
        assert open_client.get(f"/files/{doc_id}").status_code == 404


def test_a_key_acts_for_its_user_and_role(keyed, access_settings):
    client, keys = keyed
    assert client.post("/api/v1/ask", json={"question": RESERVES}).status_code == 401  # sign-in is on
    assert client.get("/api/v1/documents", headers=bearer("clerk_not-a-key")).status_code == 401
    assert client.get("/api/v1/documents", headers={"Authorization": "Basic abc"}).status_code == 401
    officer, member = bearer(keys["officer"]), bearer(keys["member"])
    assert len(client.get("/api/v1/documents", headers=officer).json()) == 4
    assert len(client.get("/api/v1/documents", headers=member).json()) == 2
    told = client.post("/api/v1/ask", json={"question": RESERVES}, headers=officer).json()
    assert not told["refused"] and "12 months" in told["answer"]
    assert any(c["source"].endswith("hpc-reserves-policy.pdf") for c in told["citations"])
    withheld = client.post("/api/v1/ask", json={"question": RESERVES}, headers=member).json()
    assert not any(w in json.dumps(withheld) for w in HIDDEN_WORDS)
    hidden = next(iter(restricted_ids(access_settings)))
    assert client.get(f"/api/v1/documents/{hidden}", headers=member).status_code == 404
    assert client.get(f"/api/v1/documents/{hidden}", headers=officer).status_code == 200
    # the file link a citation carries, fetched with the key: the officer's opens it, the member's finds nothing
    assert client.get(f"/files/{hidden}", headers=member).status_code == 404
    opened = client.get(f"/files/{hidden}", headers=officer)
    assert opened.status_code == 200 and opened.content[:5] == b"%PDF-"
    assert client.get(f"/files/{hidden}", headers=bearer("not-a-key")).status_code == 401
    assert client.get(f"/files/{hidden}").status_code == 401


def test_bad_requests_get_json_errors_that_say_why(open_client):
    bad_council = open_client.post("/api/v1/ask", json={"question": CONDUCT, "filters": {"councils": ["leeds"]}})
    assert bad_council.status_code == 400 and "leeds" in bad_council.json()["detail"]
    malformed = open_client.post("/api/v1/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert malformed.status_code == 422 and malformed.json()["detail"]
    assert open_client.post("/api/v1/ask", json={"question": ""}).status_code == 422
    assert open_client.post("/api/v1/ask", json={"question": "x" * 5000}).status_code == 422
    assert open_client.post("/api/v1/ask", json={"question": CONDUCT, "colour": "red"}).status_code == 422
    huge = open_client.post("/api/v1/ask", content=b"{" + b" " * MAX_BODY + b"}",
                            headers={"Content-Type": "application/json"})
    assert huge.status_code == 413 and "bytes" in huge.json()["detail"]
    missing = open_client.get("/api/v1/documents/no-such-id")
    assert missing.status_code == 404 and missing.json()["detail"] == "no such indexed document"


def test_a_streamed_answer_gives_status_passages_text_then_the_answer(open_client):
    with open_client.stream("POST", "/api/v1/ask", params={"stream": "true"}, json={"question": CONDUCT}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = []
        for block in r.read().decode().split("\n\n"):
            if block.strip():
                kind, data = block.split("\n", 1)
                events.append((kind.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    kinds = [k for k, _ in events]
    assert kinds[0] == "status" and kinds[-1] == "final" and "passages" in kinds, kinds
    assert kinds.index("passages") < kinds.index("final")
    final = events[-1][1]
    jsonschema.validate(final, ANSWER_SCHEMA)
    assert "".join(d["text"] for k, d in events if k == "delta").strip() == final["answer"].strip()


def test_feedback_is_recorded_with_its_user_and_the_schema_is_published(keyed):
    client, keys = keyed
    r = client.post("/api/v1/feedback", json={"question": CONDUCT, "answer": "…", "rating": "down",
                                              "comment": "cites the wrong paragraph"}, headers=bearer(keys["member"]))
    assert r.status_code == 200 and r.json()["recorded"]
    feedback = client.app.state.assistant.settings.feedback_path
    last = json.loads(feedback.read_text().splitlines()[-1])
    assert (last["rating"], last["via"], last["user"], last["question"]) == ("down", "api", "member-tool", CONDUCT)
    assert client.post("/api/v1/feedback", json={"question": CONDUCT, "answer": "", "rating": "meh"},
                       headers=bearer(keys["member"])).status_code == 422
    assert client.post("/api/v1/feedback", json={"question": CONDUCT, "answer": "", "rating": "up"}).status_code == 401
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/ask", "/documents", "/documents/{doc_id}", "/search", "/feedback"} <= set(schema["paths"])


def test_a_client_that_leaves_a_stream_gives_its_answering_slot_back(access_settings):
    """With one answering slot, a stream abandoned after its first event must not hold the slot: the next
    question is answered (in a thread, so a held slot fails the test instead of hanging it)."""
    import threading

    settings = access_settings.model_copy(update={"ask_concurrency": 1})
    with TestClient(build_app(settings)) as client:
        with client.stream("POST", "/api/v1/ask?stream=true", json={"question": CONDUCT}) as r:
            first = next(r.iter_lines())
            assert first == "event: status"
        got: list[int] = []
        asker = threading.Thread(target=lambda: got.append(
            client.post("/api/v1/ask", json={"question": CONDUCT}).status_code), daemon=True)
        asker.start()
        asker.join(timeout=120)
        if not got:
            client.app.state.slots._free.release()  # let the app shut down, then fail
        assert got == [200], "the abandoned stream kept the only answering slot"


def test_the_pages_own_events_are_not_offered_as_an_api(open_client):
    """gradio_client and Gradio's API page list no endpoint: the page's events hand back its HTML; /api/v1 is the API."""
    info = open_client.get("/gradio_api/info").json()
    assert info == {"named_endpoints": {}, "unnamed_endpoints": {}}
    config = open_client.get("/config").json()
    assert config["dependencies"] and {d["api_visibility"] for d in config["dependencies"]} == {"private"}
