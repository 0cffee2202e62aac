"""clerk against a real `chroma run` server on 127.0.0.1: vectors on the server, registry and BM25 in the index folder.

Every check reads the server's vector ids with a client of its own, so "in step"
means what the server holds, not what clerk believes it wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import chromadb
import pytest

from clerk.cli import main
from ingest.pipeline import INDEXED, UNCHANGED, Ingester
from ingest.registry import Registry
from ingest.store import OWNER_KEY, ChromaUnavailable, Store
from tests.helpers import ROOT, chroma_server, copy_corpus_files, free_port, make_settings, server_env

RESERVES = "hertingfordbury-pc/hpc-reserves-policy.pdf"
CASE_STUDY = "nwldc/lga-case-study-council-wide-assurance.txt"
FOLLOW_UP = "nwldc/cabinet-2025-06-24-peer-review-follow-up.txt"
BLABY = "blaby/lga-peer-challenge-progress-review-2022.txt"
RESERVES_Q = "How many months of expenditure should Hertingfordbury Parish Council hold as a general reserve?"
PROGRESS_Q = "What progress has the council made since its corporate peer challenge?"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """One server for the tests that do not restart it; each test uses a collection of its own."""
    with chroma_server(tmp_path_factory.mktemp("chroma") / "data") as url:
        yield url


def server_ids(url: str, collection: str = "clerk") -> set[str]:
    """The vector ids the server holds, read with a client independent of clerk's Store."""
    client = chromadb.HttpClient(host=url, settings=chromadb.Settings(anonymized_telemetry=False))
    col = client.get_collection(collection, embedding_function=None)
    return set(col.get(include=[])["ids"])


def registry_ids(index: Path) -> dict[str, set[str]]:
    """Chunk ids of every document in the registry, by file name."""
    reg = Registry(index / "registry.sqlite3")
    try:
        return {Path(d.path).name: reg.chunk_ids(d.doc_id) for d in reg.documents()}
    finally:
        reg.close()


def bm25(index: Path, query: str, k: int = 10) -> list[str]:
    """Chunk ids the registry's BM25 index returns for ``query``, best first."""
    reg = Registry(index / "registry.sqlite3")
    try:
        return [cid for cid, _ in reg.lexical_search(query, k)]
    finally:
        reg.close()


def all_ids(by_doc: dict[str, set[str]]) -> set[str]:
    return set().union(*by_doc.values()) if by_doc else set()


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ask(capsys, index: Path, url: str, *args: str) -> list[dict]:
    """`clerk ask --json` answers, one per question, each with its citations."""
    code, out, err = run_cli(capsys, "ask", *args, "--json", "--index", str(index), "--chroma-url", url)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def cited(answer: dict) -> list[tuple[str, int, str, str]]:
    return [(Path(c["source"]).name, c["page"], c["quote"], c["chunk_id"]) for c in answer["citations"]]


@pytest.mark.slow
def test_cli_against_a_server_ingest_update_prune_filter_and_restart(tmp_path, capsys):
    docs = tmp_path / "docs"
    copy_corpus_files(docs, [RESERVES, CASE_STUDY, FOLLOW_UP, BLABY])
    index = tmp_path / "idx"
    data, port = tmp_path / "server-data", free_port()

    with chroma_server(data, port) as url:
        code, out, err = run_cli(capsys, "ingest", str(docs), "--index", str(index), "--chroma-url", url, "--json")
        report = json.loads(out)
        assert code == 0, err
        assert sorted(f["outcome"] for f in report["files"]) == [INDEXED] * 4
        assert not (index / "chroma").exists(), "vectors belong on the server, not in the index folder"
        assert (index / "registry.sqlite3").exists(), "the registry and BM25 index stay in the index folder"
        before = registry_ids(index)
        assert all(before.values()) and server_ids(url) == all_ids(before)
        assert set(bm25(index, "Hertingfordbury reserves")) & before[Path(RESERVES).name]

        [answer] = ask(capsys, index, url, RESERVES_Q)
        assert not answer["refused"]
        assert any(name == Path(RESERVES).name and "12 months" in quote for name, _, quote, _ in cited(answer))

        # The same question under two scopes: the filter, not chance, decides where the citations come from.
        [blaby] = ask(capsys, index, url, PROGRESS_Q, "--council", "blaby")
        [nwldc] = ask(capsys, index, url, PROGRESS_Q, "--doc", Path(FOLLOW_UP).name)
        assert blaby["citations"] and {c["council"] for c in blaby["citations"]} == {"blaby"}
        assert nwldc["citations"] and {Path(c["source"]).name for c in nwldc["citations"]} == {Path(FOLLOW_UP).name}

        # A changed file: its chunks are replaced on the server, none left behind, none doubled.
        changed = docs / CASE_STUDY
        text = changed.read_text(encoding="utf-8")
        changed.write_text(
            text[: len(text) // 2] + "\n\nThe audit committee will review the assurance map every six months.\n",
            encoding="utf-8",
        )
        code, out, err = run_cli(capsys, "ingest", str(docs), "--index", str(index), "--chroma-url", url, "--json")
        outcomes = {Path(f["source"]).name: f["outcome"] for f in json.loads(out)["files"]}
        assert code == 0, err
        assert outcomes[changed.name] == INDEXED and list(outcomes.values()).count(UNCHANGED) == 3
        after = registry_ids(index)
        on_server = server_ids(url)
        assert after[changed.name] != before[changed.name]
        assert bm25(index, "assurance map every six months")[0] in after[changed.name] - before[changed.name]
        assert on_server == all_ids(after) and not (before[changed.name] - after[changed.name]) & on_server

        # A deleted file: pruned from the registry and from the server.
        (docs / RESERVES).unlink()
        code, out, err = run_cli(
            capsys, "ingest", str(docs), "--index", str(index), "--chroma-url", url, "--prune", "--json"
        )
        outcomes = {Path(f["source"]).name: f["outcome"] for f in json.loads(out)["files"]}
        assert code == 0, err
        assert outcomes[Path(RESERVES).name] == "pruned"
        pruned = registry_ids(index)
        assert Path(RESERVES).name not in pruned
        assert not set(bm25(index, "Hertingfordbury reserves")) & before[Path(RESERVES).name]
        assert server_ids(url) == all_ids(pruned) and not before[Path(RESERVES).name] & server_ids(url)

        questions = tmp_path / "questions.jsonl"
        questions.write_text(
            "\n".join(
                json.dumps({"id": i, "question": q}) for i, q in (("reserves", RESERVES_Q), ("progress", PROGRESS_Q))
            ),
            encoding="utf-8",
        )
        first = ask(capsys, index, url, "--questions", str(questions))
        assert all(Path(RESERVES).name not in {name for name, *_ in cited(a)} for a in first)
        assert first[1]["citations"]

    # Stopped; started again on the same path and port: nothing lost, nothing changed.
    with chroma_server(data, port) as url:
        again = ask(capsys, index, url, "--questions", str(questions))
        assert [cited(a) for a in again] == [cited(a) for a in first]
        assert server_ids(url) == all_ids(registry_ids(index))


@pytest.mark.slow
def test_index_folder_used_with_another_server_re_embeds_and_never_shares_a_collection(
    tmp_path, server, embedder, capsys, monkeypatch
):
    monkeypatch.setenv("CLERK_COLLECTION", "moved")  # for the CLI runs, as for the settings made here
    docs = tmp_path / "docs"
    copy_corpus_files(docs, [FOLLOW_UP])
    first = make_settings(tmp_path, chroma_url=server, collection="moved")
    ing = Ingester(first, embedder=embedder)
    assert ing.run([docs]).count(INDEXED) == 1
    ids = ing.store.registry.chunk_ids()
    ing.store.close()
    assert server_ids(server, "moved") == ids

    # The same index folder, pointed at a server that has never seen it: the user is told the vectors are
    # missing and to run ingest; keyword search alone still finds the document (the answer is drawn from it,
    # or refused naming it), until ingest re-embeds the vectors.
    with chroma_server(tmp_path / "other-data") as other:
        code, out, err = run_cli(
            capsys, "ask", PROGRESS_Q, "--json", "--index", str(first.index), "--chroma-url", other
        )
        without = json.loads(out)
        assert code == 0
        assert f"{len(ids)} chunk(s)" in err and "no vector" in err and "clerk ingest" in err
        if without["refused"]:
            assert Path(FOLLOW_UP).name in without["searched"][0]
        else:
            assert without["citations"] and {Path(c["source"]).name for c in without["citations"]} == {
                Path(FOLLOW_UP).name
            }

        moved = Ingester(first.model_copy(update={"chroma_url": other}), embedder=embedder)
        assert moved.store.missing_vectors() == len(ids)
        assert moved.run([docs]).count(INDEXED) == 1, "missing vectors are re-embedded on the next ingest"
        assert moved.store.registry.chunk_ids() == ids == server_ids(other, "moved")
        assert moved.store.missing_vectors() == 0
        moved.store.close()

        code, out, err = run_cli(
            capsys, "ask", PROGRESS_Q, "--json", "--index", str(first.index), "--chroma-url", other
        )
        answer = json.loads(out)
        assert code == 0 and "no vector" not in err
        assert not answer["refused"] and {Path(c["source"]).name for c in answer["citations"]} == {Path(FOLLOW_UP).name}

    # Another index folder may not adopt the first one's collection: its reconcile would delete those vectors.
    stranger = tmp_path / "stranger"
    code, _, err = run_cli(capsys, "ingest", str(docs), "--index", str(stranger), "--chroma-url", server)
    assert code == 2
    assert "'moved'" in err and "belongs to another clerk index" in err and len(err.strip().splitlines()) == 1
    assert server_ids(server, "moved") == ids


@pytest.mark.slow
def test_ingest_into_a_server_given_by_host_and_port(tmp_path, server, embedder):
    root = tmp_path / "docs"
    copy_corpus_files(root, [FOLLOW_UP])
    parts = urlsplit(server)
    settings = make_settings(tmp_path, chroma_host=parts.hostname, chroma_port=parts.port, collection="by-host")
    ing = Ingester(settings, embedder=embedder)
    assert ing.run([root]).count(INDEXED) == 1
    ids = ing.store.registry.chunk_ids()
    assert ids and server_ids(server, "by-host") == ids
    assert not settings.chroma_dir.exists(), "vectors must live on the server, not in the local folder"
    hit = ing.store.dense_search(embedder.embed_query("local government reorganisation proposals"), k=3)
    assert hit and hit[0][0] in ids
    assert ing.run([root]).count(UNCHANGED) == 1
    ing.store.close()


class _PrefixProxy(BaseHTTPRequestHandler):
    """A reverse proxy serving a Chroma server under ``/chroma``, recording each request's path and headers."""

    upstream: tuple[str, int]
    seen: list[tuple[str, dict[str, str]]]

    def _forward(self) -> None:
        self.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        if not self.path.startswith("/chroma/"):
            self.send_error(404)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        conn = HTTPConnection(*self.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(self.command, self.path.removeprefix("/chroma"), body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("header", "sent"), [("Authorization", "Bearer s3cret-token"), ("X-Chroma-Token", "s3cret-token")]
)
def test_url_path_prefix_and_token_reach_the_server(tmp_path, server, header, sent):
    parts = urlsplit(server)
    handler = type("Proxy", (_PrefixProxy,), {"upstream": (parts.hostname, parts.port), "seen": []})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{proxy.server_address[1]}/chroma/"
        collection = f"prefixed-{header.lower()}"
        settings = make_settings(
            tmp_path, chroma_url=url, chroma_token="s3cret-token", chroma_token_header=header, collection=collection
        )
        store = Store(settings)
        assert store.server_url == f"http://127.0.0.1:{proxy.server_address[1]}/chroma"
        assert store.vector_ids() == set() and store.missing_vectors() == 0
        store.close()
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert handler.seen and all(path.startswith("/chroma/api/v2/") for path, _ in handler.seen)
    assert all(headers.get(header.lower()) == sent for _, headers in handler.seen)
    # The collection was made on the server behind the proxy, and records the index that owns it.
    client = chromadb.HttpClient(host=server, settings=chromadb.Settings(anonymized_telemetry=False))
    owner = client.get_collection(collection, embedding_function=None).metadata[OWNER_KEY]
    assert owner == Registry(settings.registry_path).get_meta("index_id")


def test_unreachable_server_is_one_clear_line_and_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    index = tmp_path / "idx"
    env = server_env() | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "clerk.cli",
            "ingest",
            str(ROOT / "corpus" / FOLLOW_UP),
            "--index",
            str(index),
            "--chroma-url",
            url,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"clerk ingest: cannot reach the Chroma server at {url}: [Errno 111] Connection refused"
    ]
    assert not index.exists(), "a failed connection writes nothing into the index folder"

    Registry(index / "registry.sqlite3").close()  # an index folder exists; its server does not
    monkeypatch.setenv("CLERK_CHROMA_URL", url)
    code, out, err = run_cli(capsys, "ask", "Who chairs the audit committee?", "--index", str(index))
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        f"clerk ask: cannot reach the Chroma server at {url}: [Errno 111] Connection refused"
    ]


def test_a_server_going_away_is_reported_as_unreachable(tmp_path):
    data, port = tmp_path / "data", free_port()
    with chroma_server(data, port) as url:
        store = Store(make_settings(tmp_path, chroma_url=url))
    with pytest.raises(ChromaUnavailable, match=f"cannot reach the Chroma server at {url}: "):
        store.vector_ids()
    store.close()


def test_a_bad_url_is_refused_before_anything_runs(tmp_path, capsys):
    code, _, err = run_cli(capsys, "docs", "--index", str(tmp_path), "--chroma-url", "127.0.0.1:8000")
    assert code == 2
    assert (
        err.strip()
        == "clerk docs: invalid setting chroma_url (--chroma-url): '127.0.0.1:8000' must start with http:// or https://"
    )
