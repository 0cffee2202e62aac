"""Role checks of `clerk serve` on its HTTP API: what each viewer may do when calling the app's events directly.

The page hides the upload, delete and evaluation controls from those who may not
use them, but Gradio answers every event over HTTP (``/gradio_api/queue/join``),
so the handlers themselves must refuse. These tests call the events as the page's
own script does, one session per client, with the session cookie of a real
sign-in, against a real ``clerk serve`` on a copy of the ``access_settings`` index
(four real documents, two restricted), and check the library on disk afterwards:
the registry, ``uploads/`` and the evaluation results folder. A second server
runs the same index with sign-in off (the "local" visitor), and a third checks
which addresses ``clerk serve`` listens on.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from ingest.registry import DocumentRecord, Registry
from tests.helpers import ROOT, corpus_file, free_port, index_copy, running_server
from tests.ui import test_sign_in

pytestmark = pytest.mark.slow
USERS = test_sign_in.USERS
#: The browser tests' index (a copy of ``access_settings`` with an officer, a member and a public user).
app_index = test_sign_in.app_index
NAME_OF = {role: name for name, (role, _) in USERS.items()}
#: A real corpus file that is not in the index: what the tests try to add.
NEW_FILE = "nwldc/lga-peer-challenge-progress-review-2025.txt"
GOLD = ROOT / "evals" / "gold" / "dev.jsonl"


# --- servers -----------------------------------------------------------------------------------------
def results_of(index: Path) -> Path:
    """Where the server of ``index`` writes evaluation reports (``CLERK_EVAL_RESULTS``)."""
    return index.parent / "eval-results"


@contextmanager
def clerk_serve(index: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`clerk serve` over ``index`` on a free port (``args``: more options); yields its URL and process."""
    port = free_port()
    cmd = [sys.executable, "-m", "clerk.cli", "serve", "--index", str(index), "--port", str(port), *args]
    env = {"CLERK_EVAL_RESULTS": str(results_of(index))}
    with running_server(cmd, ready="clerk is ready", timeout=180, cwd=ROOT, env=env) as proc:
        yield f"http://127.0.0.1:{port}", proc


@pytest.fixture(scope="module")
def server(app_index) -> Iterator[str]:
    """Sign-in on: officer, member and public users exist."""
    with clerk_serve(app_index) as (url, _):
        yield url


@pytest.fixture(scope="module")
def open_index(access_settings, tmp_path_factory) -> Path:
    """A copy of the access index without a users file: sign-in is off."""
    return index_copy(access_settings, tmp_path_factory, "open")


@pytest.fixture(scope="module")
def open_server(open_index) -> Iterator[tuple[str, subprocess.Popen]]:
    with clerk_serve(open_index) as served:
        yield served


# --- the API, as the page's script calls it -------------------------------------------------------------
class Api:
    """One visitor's session on the app: signed in as ``name`` (None: no sign-in), calling events by name."""

    def __init__(self, base: str, name: str | None = None) -> None:
        self.http = httpx.Client(base_url=base, timeout=300)
        if name is not None:
            signed = self.http.post("/login", data={"username": name, "password": USERS[name][1]})
            assert signed.status_code == 303 and self.http.cookies.get("clerk_session"), signed.text
        self.session = uuid.uuid4().hex
        self.events = {d["api_name"]: d["id"] for d in self.http.get("/config").json()["dependencies"]}

    def result(self, event: str, *inputs: object, event_data: dict | None = None) -> dict:
        """Gradio's output of one call: ``{"data": [...]}``; if it raised, ``{"error": ...}`` (and the ``status``
        of a call refused before it was queued)."""
        body = {"data": list(inputs), "fn_index": self.events[event], "session_hash": self.session,
                "event_data": event_data}
        joined = self.http.post("/gradio_api/queue/join", json=body)
        if joined.status_code != 200:
            return {"error": joined.text, "status": joined.status_code}
        event_id = joined.json()["event_id"]
        with self.http.stream("GET", "/gradio_api/queue/data", params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("event_id") == event_id and message["msg"] == "process_completed":
                    return message["output"]
                if message.get("msg") == "unexpected_error":
                    return {"error": message.get("message")}
        raise AssertionError(f"{event}: the queue closed without a result")

    def call(self, event: str, *inputs: object, event_data: dict | None = None) -> list:
        """The outputs of an event that must run without raising."""
        out = self.result(event, *inputs, event_data=event_data)
        assert "data" in out, (event, out)
        return out["data"]

    def upload(self, path: Path, name: str | None = None) -> dict:
        """A file sent as the page sends it (``/gradio_api/upload``), as the event input naming it."""
        sent = self.http.post("/gradio_api/upload", files=[("files", (name or path.name, path.read_bytes()))])
        assert sent.status_code == 200, sent.text
        return file_input(sent.json()[0])

    def load(self) -> list:
        """What the page's load event gives this viewer; it also sets this session's pickers, as in a browser."""
        return self.call("personalise")

    def finish_adding(self, timeout: float = 180) -> str:
        """Poll the upload timer's event until the background ingest ends; its last progress text."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.call("tick", "")[0]
            if text.startswith("Added") or "Not added" in text:
                return text
            time.sleep(0.5)
        raise AssertionError(f"adding documents did not finish in {timeout:.0f} s: {text!r}")

    def ask(self, question: str) -> list:
        """The chat's outputs for one question (chat, turns, sources, status, Markdown, box)."""
        return self.call("respond", question, [], None, [], [], [], "", "")


def file_input(path: str) -> dict:
    """A file input value naming ``path`` on the server."""
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


# --- the library on disk --------------------------------------------------------------------------------
def documents(index: Path) -> dict[str, DocumentRecord]:
    """File name -> registry record of every document of the index."""
    reg = Registry(index / "registry.sqlite3")
    try:
        return {Path(d.source).name: d for d in reg.documents()}
    finally:
        reg.close()


def library_state(index: Path) -> tuple:
    """Everything an add, delete or evaluation changes: registry rows, uploaded files, reports."""
    rows = sorted((d.doc_id, d.status, d.chunks, d.restricted) for d in documents(index).values())
    listed = [sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
              for folder in (index / "uploads", results_of(index))]
    return rows, *listed


def gold_line(rel: str) -> str:
    """The first development question whose gold passage is in corpus file ``rel``, as a gold-file line."""
    return next(line for line in GOLD.read_text(encoding="utf-8").splitlines() if f'"file": "{rel}"' in line)


def gold_file(tmp: Path, rel: str) -> Path:
    path = tmp / f"gold-{Path(rel).stem}.jsonl"
    path.write_text(gold_line(rel) + "\n", encoding="utf-8")
    return path


def restricted_markers(index: Path) -> set[str]:
    """What must never reach a member or the public: restricted documents' ids, files, titles, reasons and
    the councils known only from them."""
    docs = documents(index).values()
    hidden = [d for d in docs if d.restricted]
    public_councils = {d.council for d in docs if not d.restricted}
    reasons = {d.restricted for d in hidden} - {"restricted"}  # the default reason is the page's own word for it
    found = ({d.doc_id for d in hidden} | {Path(d.source).name for d in hidden} | {d.title for d in hidden}
             | reasons | {d.council for d in hidden if d.council not in public_councils})
    return {m for m in found if m}


def leaked(output: object, markers: set[str]) -> set[str]:
    text = json.dumps(output, ensure_ascii=False)
    return {m for m in markers if m in text}


def raw_status(base: str, target: str, cookie: str | None = None) -> tuple[int, bytes]:
    """Status and body of a GET of ``target`` sent exactly as written (no client-side ``..`` clean-up)."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request("GET", target, headers={"Cookie": cookie} if cookie else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def cookie_of(api: Api) -> str:
    return f"clerk_session={api.http.cookies['clerk_session']}"


# --- sign-in on -----------------------------------------------------------------------------------------
def test_without_a_session_every_event_upload_and_file_answers_401(server, app_index) -> None:
    events = Api(server, NAME_OF["officer"]).events
    for cookie in ({}, {"clerk_session": "forged-token"}):
        anon = httpx.Client(base_url=server, cookies=cookie, timeout=30)
        for name, fn in events.items():
            assert anon.post(f"/gradio_api/call/{name}", json={"data": []}).status_code == 401, name
            join = {"data": [], "fn_index": fn, "session_hash": uuid.uuid4().hex}
            assert anon.post("/gradio_api/queue/join", json=join).status_code == 401, name
        sent = anon.post("/gradio_api/upload", files=[("files", ("x.txt", corpus_file(NEW_FILE).read_bytes()))])
        assert sent.status_code == 401
        for doc_id in [*(d.doc_id for d in documents(app_index).values()), "000000000000"]:
            assert anon.get(f"/files/{doc_id}").status_code == 401, doc_id
        assert anon.get("/config").status_code == 401 and anon.get("/gradio_api/info").status_code == 401


@pytest.mark.parametrize("role", ["member", "public"])
def test_members_and_the_public_are_refused_and_the_library_is_unchanged(server, app_index, tmp_path, role) -> None:
    api = Api(server, NAME_OF[role])
    shown = api.load()
    assert [u["visible"] for u in (shown[5], shown[6], shown[9])] == [False, False, False]  # adder, remover, eval
    before = library_state(app_index)
    public = documents(app_index)["productivity-plan.txt"]

    said = api.call("remove", public.doc_id, "")
    assert said[0] == "Only officers may delete documents."
    said = api.call("added", [api.upload(corpus_file(NEW_FILE))], "Exempt: Schedule 12A paragraph 3")
    assert said[0] == "Only officers may add documents."
    said = api.call("evaluate_upload", api.upload(gold_file(tmp_path, "nwldc/productivity-plan.txt")))
    assert said[0] == "Only officers may run evaluations."
    # Their document picker offers no documents, so Gradio itself may refuse the id; if it reaches the
    # handler, the handler refuses. Either way nothing is corrected (checked below).
    out = api.result("save_correction", public.doc_id, "nowhere", "minutes", "A new title", "2001", "")
    assert out.get("data", [None])[0] == "Only officers may correct documents." or \
        "not in the list of choices" in str(out.get("error")), out
    out = api.result("correction_form", public.doc_id)  # nor read its provenance
    assert out.get("data") == ["", None, "", "", ""] or "not in the list of choices" in str(out.get("error")), out

    assert library_state(app_index) == before
    assert documents(app_index)["productivity-plan.txt"].overrides == public.overrides
    assert documents(app_index)["productivity-plan.txt"].status == "indexed"
    assert not (app_index / "uploads" / Path(NEW_FILE).name).exists()
    assert api.http.get(f"/files/{public.doc_id}").status_code == 200


def test_an_officer_adds_a_document_that_is_found_and_deletes_it(server, app_index) -> None:
    api = Api(server, NAME_OF["officer"])
    shown = api.load()
    assert [u["visible"] for u in (shown[5], shown[6], shown[9])] == [True, True, True]
    added_as = Path(NEW_FILE).name
    said = api.call("added", [api.upload(corpus_file(NEW_FILE))], "")
    assert said[0].startswith("Adding 1 file(s)")
    assert api.finish_adding() == "Added 1 of 1 file(s)."
    assert (app_index / "uploads" / added_as).is_file()
    new = documents(app_index)[added_as]
    assert new.status == "indexed" and new.restricted is None

    question = json.loads(gold_line(NEW_FILE))["question"]
    assert f"/files/{new.doc_id}" in api.ask(question)[2]  # its answer cites the new document

    said = api.call("remove", new.doc_id, "")
    assert said[0].startswith("Deleted ")
    assert added_as not in documents(app_index) and not (app_index / "uploads" / added_as).exists()
    assert api.http.get(f"/files/{new.doc_id}").status_code == 404


def test_an_officer_corrects_a_documents_details_and_they_are_kept(server, app_index) -> None:
    api = Api(server, NAME_OF["officer"])
    shown = api.load()
    assert shown[12]["visible"] is True  # the correction form
    plan = documents(app_index)["productivity-plan.txt"]
    form = api.call("correction_form", plan.doc_id)
    assert form[:4] == [plan.council, plan.doc_type, plan.title, plan.date or ""]
    said = api.call("save_correction", plan.doc_id, plan.council, "policy", plan.title, "2024-07", "")
    assert said[0] == "Saved: type now 'policy', date now '2024-07'."
    after = documents(app_index)["productivity-plan.txt"]
    assert (after.doc_type, after.date) == ("policy", "2024-07")
    assert after.overrides == {"doc_type": "policy", "date": "2024-07"}
    said = api.call("save_correction", plan.doc_id, plan.council, "policy", plan.title, "13/07/2024", "")
    assert said[0].startswith("Not changed: date '13/07/2024': write YYYY, YYYY-MM or YYYY-MM-DD")
    api.call("save_correction", plan.doc_id, plan.council, plan.doc_type, plan.title, plan.date or "", "")
    assert documents(app_index)["productivity-plan.txt"].doc_type == plan.doc_type  # put back for the other tests


def run_evaluation(api: Api, index: Path, tmp: Path) -> None:
    """A one-question gold file scored through the app: a new report folder with its report."""
    before = set(results_of(index).iterdir()) if results_of(index).is_dir() else set()
    said = api.call("evaluate_upload", api.upload(gold_file(tmp, "nwldc/productivity-plan.txt")))
    assert said[0].startswith("1 questions:"), said[0]
    (run,) = set(results_of(index).iterdir()) - before
    assert (run / "report.md").is_file() and (run / "summary.json").is_file()
    assert f"Report folder: `{run}`" in said[2]


def test_an_officer_runs_an_evaluation(server, app_index, tmp_path) -> None:
    api = Api(server, NAME_OF["officer"])
    api.load()
    run_evaluation(api, app_index, tmp_path)


@pytest.mark.parametrize("role", ["officer", "member", "public"])
def test_files_serve_restricted_documents_to_officers_only_and_nothing_but_indexed_files(server, app_index, role):
    api = Api(server, NAME_OF[role])
    cookie = cookie_of(api)
    docs = documents(app_index)
    for d in docs.values():  # a duplicate or failed upload is served to no one: only indexed files are
        allowed = d.status == "indexed" and (not d.restricted or role == "officer")
        code, body = raw_status(server, f"/files/{d.doc_id}", cookie)
        assert code == (200 if allowed else 404), (d.source, d.status, code)
        if allowed:
            assert body == Path(d.path).read_bytes()
    assert raw_status(server, "/files/000000000000", cookie)[0] == 404
    secret = (app_index / "users.toml").read_bytes()
    restricted_pdf = Path(docs["hpc-reserves-policy.pdf"].path)
    for target in ["/files/../users.toml", "/files/..%2Fusers.toml", "/files/%2e%2e%2fregistry.sqlite3",
                   "/files/%2e%2e", "/files/" + urllib.parse.quote(str(app_index / "users.toml"), safe=""),
                   "/files/" + urllib.parse.quote(str(restricted_pdf), safe=""),
                   "/files/" + urllib.parse.quote(docs["hpc-reserves-policy.pdf"].doc_id + "/../users.toml", safe="")]:
        code, body = raw_status(server, target, cookie)
        assert code in (400, 404), (target, code)
        assert b"scrypt$" not in body and secret[:64] not in body and restricted_pdf.read_bytes()[:512] not in body


@pytest.mark.parametrize("role", ["member", "public"])
def test_no_other_event_gives_members_or_the_public_anything_restricted(server, app_index, role) -> None:
    """The events every role may call (load, library, scope line, chat, upload progress) show only public documents.

    An officer's restricted upload is running or done meanwhile: the progress of uploads is
    for those who may add documents, since it names the files and what they duplicate.
    """
    markers = restricted_markers(app_index)
    officer = Api(server, NAME_OF["officer"])
    officer.load()
    copy = officer.upload(corpus_file("hertingfordbury-pc/hpc-reserves-policy.pdf"), "exempt-land-sale.pdf")
    officer.call("added", [copy], "Exempt: Schedule 12A paragraph 3")
    progress = officer.finish_adding()
    markers |= {"exempt-land-sale.pdf"}
    assert "exempt-land-sale.pdf" in progress  # a duplicate: the officer is told of which document

    api = Api(server, NAME_OF[role])
    public = documents(app_index)["productivity-plan.txt"].doc_id
    question = json.loads(gold_line("hertingfordbury-pc/hpc-reserves-policy.pdf"))["question"]
    calls = [("personalise",), ("tick", ""), ("listing", ""), ("listing_1", "restricted"), ("listing", "reserves"),
             ("show_scope", [public], [], [], "", ""), ("respond", question, [], None, [], [], [], "", ""),
             ("respond_1", question, [], None, [], ["hertingfordbury-pc"], [], "", "")]
    for event, *inputs in calls:
        out = api.call(event, *inputs)
        assert not leaked(out, markers), (event, leaked(out, markers))
        seen = officer.call(event, *inputs)
        if event in ("personalise", "respond"):  # the same calls give an officer the restricted documents
            assert leaked(seen, markers), event


@pytest.mark.parametrize("role", ["member", "public"])
def test_feedback_is_taken_only_on_an_answer_given_in_the_same_session(server, app_index, role) -> None:
    """Every role may rate answers; a rating names a turn of the session's own conversation, held by the server."""
    feedback = app_index / "feedback.jsonl"
    api = Api(server, NAME_OF[role])
    kept = feedback.read_bytes() if feedback.exists() else b""
    like = {"index": [1, 1], "value": "<div class='answer' data-turn='1'></div>", "liked": True}
    assert api.call("judged", None, "forged", event_data=like)[0] == "Feedback can be given on answers only."
    assert (feedback.read_bytes() if feedback.exists() else b"") == kept
    question = json.loads(gold_line("nwldc/productivity-plan.txt"))["question"]
    api.ask(question)
    assert api.call("judged", None, "useful", event_data=like)[0] == "Thank you: your feedback was recorded."
    entry = json.loads(feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert (entry["question"], entry["comment"], entry["rating"]) == (question, "useful", "up")


def server_files(index: Path) -> list[str]:
    """Files on the server that no one uploaded: a corpus file, the same reached through Gradio's upload
    folder, a restricted document, the users file."""
    from gradio.utils import get_upload_folder

    corpus_path = corpus_file("nwldc/lga-case-study-council-wide-assurance.txt")
    folder = Path(get_upload_folder())  # the server's own: it runs with the same environment
    restricted = next(d for d in documents(index).values() if d.restricted)
    return [str(corpus_path), str(folder) + "/.." * (len(folder.parts) - 1) + str(corpus_path), restricted.path,
            str(index / "users.toml")]


def naming_server_files(index: Path) -> Iterator[tuple[str, list]]:
    """Event inputs that name those files: as uploads, as a gold file, in the chat's history."""
    for path in server_files(index):
        yield "added", [[file_input(path)], ""]
        yield "evaluate_upload", [file_input(path)]
        message = {"role": "user", "content": [{"type": "file", "file": file_input(path)}]}
        yield "respond", ["", [message], None, [], [], [], "", ""]


def refuses_files_not_uploaded(api: Api, index: Path) -> None:
    """A file named in an event must be one the server received by its upload route, not any path on it.

    Refused before Gradio copies the file into its cache, on the page's route and the plain API's.
    """
    before = library_state(index)
    for event, inputs in naming_server_files(index):
        out = api.result(event, *inputs)
        assert out.get("status") == 400 and "data" not in out, (event, inputs, out)
        plain = api.http.post(f"/gradio_api/call/{event}", json={"data": inputs})
        assert plain.status_code == 400, (event, inputs, plain.text)
    time.sleep(1)  # an accepted upload is copied at once and ingested on a thread: give it the time to show
    assert library_state(index) == before


@pytest.mark.parametrize("role", ["officer", "member", "public"])
def test_no_role_can_have_the_server_take_a_file_it_was_not_sent(server, app_index, role) -> None:
    api = Api(server, NAME_OF[role])
    api.load()
    refuses_files_not_uploaded(api, app_index)


def test_a_public_copy_of_a_restricted_document_does_not_name_it_to_members(server, app_index) -> None:
    """An officer adds, unrestricted, a file identical to a restricted document: it is recorded as its duplicate.

    The member's library lists the copy (it is public) but must not say which document it duplicates.
    The copy stays in this module's library (the delete picker offers searchable documents only), so
    this test runs after the other signed-in ones.
    """
    officer = Api(server, NAME_OF["officer"])
    officer.load()
    officer.call("added", [officer.upload(corpus_file("hertingfordbury-pc/hpc-reserves-policy.pdf"), "copy.pdf")], "")
    officer.finish_adding()
    assert documents(app_index)["copy.pdf"].status == "duplicate"
    rows = Api(server, NAME_OF["member"]).call("listing", "")
    assert not leaked(rows, restricted_markers(app_index))


# --- sign-in off ----------------------------------------------------------------------------------------
def test_without_sign_in_the_local_visitor_manages_the_library_but_never_sees_restricted_documents(
    open_server, open_index, tmp_path
) -> None:
    """With no users file, clerk is a single-user local tool (docs/ACCESS.md): the visitor is the "local" role.

    It may add and delete documents and run evaluations, like an officer, but it is not
    signed in, so restricted documents are hidden from it everywhere, as the page says
    ("Sign-in is off: restricted documents are hidden"): not in its pickers, library,
    answers or file links. It cannot restrict an upload either (the reason box is an
    officer's): a reason sent anyway is ignored and the document is published, so the
    visitor never adds a document it could not then see.
    """
    url, _ = open_server
    markers = restricted_markers(open_index)
    api = Api(url)
    shown = api.load()
    assert shown[0] == "Sign-in is off: restricted documents are hidden"
    assert [u["visible"] for u in (shown[5], shown[6], shown[8], shown[9])] == [True, True, False, True]
    assert not leaked(shown, markers)
    for d in documents(open_index).values():
        assert api.http.get(f"/files/{d.doc_id}").status_code == (404 if d.restricted else 200), d.source

    added_as = Path(NEW_FILE).name
    said = api.call("added", [api.upload(corpus_file(NEW_FILE))], "Exempt: Schedule 12A paragraph 3")
    assert said[0].startswith("Adding 1 file(s)")
    assert api.finish_adding() == "Added 1 of 1 file(s)."
    new = documents(open_index)[added_as]
    assert new.status == "indexed" and new.restricted is None
    assert (open_index / "uploads" / added_as).is_file() and not (open_index / "uploads" / f"{added_as}.restricted").exists()
    assert api.http.get(f"/files/{new.doc_id}").status_code == 200
    assert api.call("remove", new.doc_id, "")[0].startswith("Deleted ")
    assert added_as not in documents(open_index) and not (open_index / "uploads" / added_as).exists()

    restricted = next(d for d in documents(open_index).values() if d.restricted)
    assert "error" in api.result("remove", restricted.doc_id, "")  # not among its choices: Gradio refuses it
    assert restricted.doc_id in {d.doc_id for d in documents(open_index).values()}
    run_evaluation(api, open_index, tmp_path)
    refuses_files_not_uploaded(api, open_index)


def listening(proc: subprocess.Popen) -> set[tuple[str, int]]:
    return {(c.laddr.ip, c.laddr.port) for c in psutil.Process(proc.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN}


def outside_address() -> str | None:
    """An IPv4 address of this machine other than loopback, if it has one."""
    for addresses in psutil.net_if_addrs().values():
        for a in addresses:
            if a.family == socket.AF_INET and not a.address.startswith("127."):
                return a.address
    return None


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except OSError:
        return False


def test_clerk_serve_listens_on_loopback_only_unless_given_a_host(open_server, app_index) -> None:
    """Without ``--host`` the server (here: sign-in off, so its visitor manages the library) is reachable
    from this machine only; ``--host 0.0.0.0`` opens it to the network (tried on the signed-in index)."""
    url, proc = open_server
    port = urllib.parse.urlsplit(url).port
    assert listening(proc) == {("127.0.0.1", port)}
    outside = outside_address()
    if outside is not None:
        assert not reachable(outside, port)
    with clerk_serve(app_index, "--host", "0.0.0.0") as (wide_url, wide):
        wide_port = urllib.parse.urlsplit(wide_url).port
        assert listening(wide) == {("0.0.0.0", wide_port)}
        if outside is not None:
            assert reachable(outside, wide_port)
