"""Concurrency on ``clerk serve``: simultaneous askers through Gradio's queue while documents are added.

One run, one server, on a copy of the bundled corpus index:

1. **warm-up**: every question of the pool asked once (models loaded, pages and sentence vectors cached).
2. **alone**: one asker, no ingest, for ``--baseline-seconds``: the latency every ratio is taken against.
3. **under load**: ``--askers`` askers (8), each with its own Gradio client and a fresh session per
   question, ask for ``--seconds`` (60) while ``--uploads`` (20) new documents are added at the start
   of the window through the Documents tab's own upload event (``/added``, ``ui.library.Library.add``).

Questions are the dev gold questions, shuffled per asker with ``--seed``. The 20 documents are real
council text: the cleaned pages of indexed corpus documents, each with its own reference line, so
every one is new content (a byte-identical copy would only be recorded as a duplicate).

Then, with the server stopped, the run checks and fails loudly (exit 1) unless: no request failed;
every citation of every answer names a chunk the final registry holds, of a document that is
``indexed``, whose quote is in that chunk and on the cited page's cleaned text, and, for an added
document, whose registry commit came before the answer was delivered (no answer saw a document
before its transaction committed); all added documents are indexed; and the registry's chunk ids
equal Chroma's vector ids.

The base index is built once and cached under ``.cache/bench/`` keyed by the corpus content and the
settings that shape an index; each run works on its own copy. Results go to
``benchmarks/results/concurrency.json``.

    python benchmarks/concurrency.py [--askers 8] [--seconds 60] [--uploads 20] [--ask-concurrency N]
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "concurrency.json"
CACHE = ROOT / ".cache" / "bench"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(ROOT))

READY = "clerk is ready: "
ASK_API, ADD_API = "/respond", "/added"
#: Statuses after which an added document will not change again in this run.
SETTLED = ("indexed", "failed", "needs_ocr", "duplicate")
_CARD = re.compile(r"<article class='src-card' id='src-\d+-(\d+)' data-chunk='([^']*)'.*?</article>", re.S)
_DOC = re.compile(r"href='/files/([^'#]+)")
_PAGE = re.compile(r"· page (\d+)</div>")
_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


class BenchFailure(RuntimeError):
    """A check of the run failed: the results are written, and the run exits non-zero."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    return {
        "p50": round(percentile(values, 0.5), 1),
        "p95": round(percentile(values, 0.95), 1),
        "max": round(max(values), 1),
    }


def squeeze(text: str) -> str:
    """Whitespace-insensitive form, so a quote is compared with page text as words, not layout."""
    return " ".join(text.split())


# --- the base index, cached -----------------------------------------------------------------------


def index_key(corpus: Path) -> str:
    """Hash of every corpus file (name and bytes) and of the settings that shape an index."""
    from clerk.settings import Settings
    from ingest.registry import SCHEMA_VERSION

    s = Settings()
    h = hashlib.sha256()
    shaping = [
        s.embed_model or "packaged",
        s.chunk_tokens,
        s.chunk_min_tokens,
        s.chunk_overlap_sentences,
        s.ocr,
        s.ocr_dpi,
        s.ocr_lang,
        SCHEMA_VERSION,
    ]
    h.update(json.dumps(shaping).encode())
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        h.update(path.relative_to(corpus).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:16]


def base_index(corpus: Path) -> tuple[Path, dict]:
    """The corpus index, built once by ``clerk ingest`` and kept under ``.cache/bench/``."""
    cached = CACHE / f"index-{index_key(corpus)}"
    marker = cached / "built.json"
    if marker.exists():
        return cached, {**json.loads(marker.read_text()), "cache": "hit"}
    CACHE.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix="building-", dir=CACHE))
    print(f"building the base index of {corpus} (cached for later runs) ...", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "clerk.cli", "ingest", str(corpus), "--index", str(building / "index"), "--quiet"],
        env=_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BenchFailure(f"clerk ingest of {corpus} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    info = {
        "corpus": corpus.relative_to(ROOT).as_posix() if corpus.is_relative_to(ROOT) else str(corpus),
        "built": time.strftime("%Y-%m-%d %H:%M"),
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    (building / "index" / "built.json").write_text(json.dumps(info))
    shutil.rmtree(cached, ignore_errors=True)
    (building / "index").rename(cached)
    shutil.rmtree(building, ignore_errors=True)
    return cached, {**info, "cache": "built"}


def _env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        **extra,
    }


def registry(index: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{index / 'registry.sqlite3'}?mode=ro", uri=True, timeout=60)
    conn.row_factory = sqlite3.Row
    return conn


# --- the documents added during the window ------------------------------------------------------------


def make_uploads(index: Path, n: int, dest: Path, seed: int) -> list[Path]:
    """``n`` text files of real council text: the cleaned pages of indexed corpus documents.

    Documents of middling size are drawn (the smallest are a page of agenda, the largest a
    300-page budget book), repeating if the corpus is small; each file starts with its title and
    a reference line of its own, so no two files (and no file and its original) have the same bytes.
    """
    conn = registry(index)
    docs = conn.execute(
        "SELECT doc_id, source, title, chunks FROM documents WHERE status = 'indexed' ORDER BY chunks, source"
    ).fetchall()
    middle = docs[len(docs) // 4 : max(len(docs) // 4 + 1, 3 * len(docs) // 4)] or docs
    rng = random.Random(seed)
    chosen = [middle[i % len(middle)] for i in rng.sample(range(len(middle)), min(n, len(middle)))]
    chosen += [middle[i % len(middle)] for i in range(n - len(chosen))]
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for i, doc in enumerate(chosen, 1):
        pages = [
            r[0] for r in conn.execute("SELECT text FROM pages WHERE doc_id = ? ORDER BY number", (doc["doc_id"],))
        ]
        title = doc["title"] or Path(doc["source"]).stem
        path = dest / f"added-{i:02d}-{Path(doc['source']).stem}.txt"
        path.write_text(
            f"{title}\n\nLibrary copy {i} of {n}, reference {rng.getrandbits(48):012x}.\n\n"
            + "\n\n".join(pages)
            + "\n",
            encoding="utf-8",
        )
        out.append(path)
    conn.close()
    return out


# --- the server ------------------------------------------------------------------------------------


class Server:
    """``clerk serve`` on an index, in its own process, announced ready on its first output line."""

    def __init__(self, index: Path, port: int, ask_concurrency: int | None) -> None:
        extra = {"CLERK_ASK_CONCURRENCY": str(ask_concurrency)} if ask_concurrency else {}
        self.url = f"http://127.0.0.1:{port}/"
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clerk.cli", "serve", "--index", str(index), "--port", str(port)],
            env=_env(**extra),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(READY):
                self._ready.set()

    def wait_ready(self, timeout: float) -> None:
        if not self._ready.wait(timeout) or self.proc.poll() is not None:
            self.stop()
            raise BenchFailure(f"clerk serve did not get ready in {timeout:.0f} s: {self.lines[-20:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, analytics_enabled=False)


# --- asking ----------------------------------------------------------------------------------------


@dataclass
class Cited:
    n: int
    chunk_id: str
    doc_id: str
    page: int
    quote: str
    verified: bool


@dataclass
class Asked:
    """One question as an asker saw it: timings from submitting to the final answer."""

    phase: str
    asker: int
    question_id: str
    started_s: float  # since the phase began
    latency_ms: float = 0.0
    queued_ms: float | None = None  # until the handler's first update arrives: queue wait + Gradio's round trips
    first_piece_ms: float | None = None
    finished_at: float = 0.0  # wall clock, compared with registry commit times
    refused: bool = False
    error: str | None = None
    citations: list[Cited] = field(default_factory=list)


def ask(c, qid: str, question: str, phase: str, asker: int, phase_start: float) -> Asked:
    """Ask through the chat's own event, timing the wait in the queue, the first piece of answer, the final answer.

    The extractive backend streams its sentences once the answer is chosen, so its first piece
    comes only just before the final answer; with a chat-model backend the two part.
    """
    c.reset_session()  # a new visitor: no earlier turns to rewrite the question against
    t0 = time.perf_counter()
    rec = Asked(phase, asker, qid, round(t0 - phase_start, 3))
    try:
        job = c.submit(question, [], [], [], [], "", "", api_name=ASK_API)
        seen = 0
        while rec.first_piece_ms is None and not job.done():  # then wait for the final answer without polling
            outs = job.outputs()
            if outs and rec.queued_ms is None:
                rec.queued_ms = round((time.perf_counter() - t0) * 1000, 1)
            if any(_is_answer_piece(out) for out in outs[seen:]):
                rec.first_piece_ms = round((time.perf_counter() - t0) * 1000, 1)
            seen = len(outs)
            time.sleep(0.005)
        chat, sources, _status, _markdown, _box = job.result()
        rec.latency_ms = round((time.perf_counter() - t0) * 1000, 1)
        rec.finished_at = time.time()
        # Updates that arrive with the final answer, between two looks, arrived with it (within 5 ms).
        rec.queued_ms = rec.latency_ms if rec.queued_ms is None else rec.queued_ms
        rec.first_piece_ms = rec.latency_ms if rec.first_piece_ms is None else rec.first_piece_ms
        final = _answer_text((chat,))
        if "class='answer'" not in final:
            raise BenchFailure(f"no answer in the chat: {final[:300]!r}")
        rec.refused = "class='refusal'" in final
        rec.citations = [] if rec.refused else _citations(str(sources))
        if not rec.refused and not rec.citations:
            raise BenchFailure("an answer with no source cards")
    except Exception as exc:  # a failed request is a result of the run, not a crash of it
        rec.latency_ms = round((time.perf_counter() - t0) * 1000, 1)
        rec.finished_at = time.time()
        rec.error = f"{type(exc).__name__}: {exc}"
    return rec


def _is_answer_piece(out: tuple) -> bool:
    """Does this streamed update carry answer text (not the "Searching the documents" placeholder)?"""
    text = _answer_text(out)
    return bool(text) and "Searching the documents" not in text


def _answer_text(out: tuple) -> str:
    chat = out[0]
    if not isinstance(chat, list) or not chat:
        return ""
    content = chat[-1].get("content")
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def _citations(sources: str) -> list[Cited]:
    """The source cards of the latest answer: chunk, document, page, marked quote, verified flag."""
    latest = sources.split("</section>", 1)[0]
    out = []
    for m in _CARD.finditer(latest):
        card = m.group(0)
        doc, page, mark = _DOC.search(card), _PAGE.search(card), _MARK.search(card)
        out.append(
            Cited(
                int(m.group(1)),
                html.unescape(m.group(2)),
                html.unescape(doc.group(1)) if doc else "",
                int(page.group(1)) if page else 0,
                html.unescape(mark.group(1)) if mark else "",
                "✓ verified" in card,
            )
        )
    return out


def run_askers(
    url: str,
    pools: list[list[tuple[str, str]]],
    phase: str,
    seconds: float | None,
    before: threading.Event | None = None,
) -> list[Asked]:
    """Each asker asks its own questions in turn until ``seconds`` have passed (None: each question once).

    ``before`` is set the moment the askers are released, so the upload starts with them.
    """
    clients = [client(url) for _ in pools]
    records: list[Asked] = []
    lock = threading.Lock()
    go = threading.Barrier(len(pools) + 1)
    start = [0.0]

    def work(i: int) -> None:
        go.wait()
        k = 0
        while (k < len(pools[i])) if seconds is None else (time.perf_counter() - start[0] < seconds):
            qid, question = pools[i][k % len(pools[i])]
            rec = ask(clients[i], qid, question, phase, i, start[0])
            with lock:
                records.append(rec)
            k += 1

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(pools))]
    for t in threads:
        t.start()
    start[0] = time.perf_counter()
    if before is not None:
        before.set()
    go.wait()
    for t in threads:
        t.join()
    return records


def phase_summary(records: list[Asked], seconds: float, askers: int) -> dict:
    done = [r for r in records if r.error is None]
    in_window = [r for r in done if r.started_s + r.latency_ms / 1000 <= seconds]
    return {
        "askers": askers,
        "seconds": seconds,
        "answers": len(done),
        "answers_in_window": len(in_window),
        "refused": sum(r.refused for r in done),
        "errors": len(records) - len(done),
        "throughput_per_s": round(len(in_window) / seconds, 3),
        "latency_ms": spread([r.latency_ms for r in done]),
        "queued_ms": spread([r.queued_ms for r in done if r.queued_ms is not None]),
        "first_piece_ms": spread([r.first_piece_ms for r in done if r.first_piece_ms is not None]),
    }


# --- the upload ------------------------------------------------------------------------------------


def add_documents(url: str, files: list[Path], index: Path, timeout: float, go: threading.Event) -> dict:
    """Upload ``files`` through the Documents tab's event at the start of the window; wait until each is settled."""
    from gradio_client import handle_file

    c = client(url)
    go.wait()
    started = time.time()
    t0 = time.perf_counter()
    note = c.predict([handle_file(str(f)) for f in files], "", api_name=ADD_API)
    accepted_s = time.perf_counter() - t0
    names = {f.name for f in files}
    conn = registry(index)
    settled: dict[str, sqlite3.Row] = {}
    while time.perf_counter() - t0 < timeout:
        rows = conn.execute(
            "SELECT doc_id, source, status, chunks, pages, updated_at, error FROM documents "
            "WHERE source LIKE '%uploads%'"
        ).fetchall()
        settled = {
            Path(r["source"]).name: r for r in rows if Path(r["source"]).name in names and r["status"] in SETTLED
        }
        if len(settled) == len(names):
            break
        time.sleep(0.25)
    conn.close()
    commits = sorted(r["updated_at"] - started for r in settled.values())
    return {
        "started_at": started,
        "accepted_s": round(accepted_s, 2),
        "message": note[0] if isinstance(note, tuple | list) else note,
        "documents": len(files),
        "settled": len(settled),
        "statuses": {n: settled[n]["status"] if n in settled else "not settled" for n in sorted(names)},
        "errors": {n: r["error"] for n, r in settled.items() if r["error"]},
        "chunks": sum(r["chunks"] for r in settled.values() if r["status"] == "indexed"),
        "pages": sum(r["pages"] for r in settled.values() if r["status"] == "indexed"),
        "doc_ids": sorted(r["doc_id"] for r in settled.values()),
        "commit_s": [round(s, 2) for s in commits],
        "seconds": round(commits[-1], 2) if commits else None,
    }


# --- the checks ------------------------------------------------------------------------------------


def check(index: Path, records: list[Asked], ingest: dict, collection: str) -> dict:
    """Everything an answer cited against the final registry, the added documents, and registry == Chroma."""
    conn = registry(index)
    docs = {r["doc_id"]: r for r in conn.execute("SELECT doc_id, status, updated_at, source FROM documents")}
    added = set(ingest["doc_ids"])
    failures: list[str] = []
    checked = cited_added = 0
    pages: dict[tuple[str, int], str | None] = {}
    for rec in records:
        if rec.error:
            failures.append(f"{rec.phase} asker {rec.asker} {rec.question_id}: request failed: {rec.error}")
            continue
        for c in rec.citations:
            checked += 1
            where = f"{rec.phase} asker {rec.asker} {rec.question_id} [{c.n}] {c.chunk_id}"
            chunk = conn.execute("SELECT doc_id, text FROM chunks WHERE id = ?", (c.chunk_id,)).fetchone()
            doc = docs.get(c.doc_id)
            if chunk is None:
                failures.append(f"{where}: the chunk is not in the registry")
                continue
            if chunk["doc_id"] != c.doc_id or doc is None or doc["status"] != "indexed":
                failures.append(f"{where}: document {c.doc_id} is {doc['status'] if doc else 'missing'}")
                continue
            if (c.doc_id, c.page) not in pages:
                row = conn.execute(
                    "SELECT text FROM pages WHERE doc_id = ? AND number = ?", (c.doc_id, c.page)
                ).fetchone()
                pages[(c.doc_id, c.page)] = squeeze(row[0]) if row else None
            page = pages[(c.doc_id, c.page)]
            quote = squeeze(c.quote)
            if not quote or quote not in squeeze(chunk["text"]):
                failures.append(f"{where}: the quote is not in its chunk")
            elif page is None or quote not in page:
                failures.append(f"{where}: the quote is not on page {c.page} of {doc['source']}")
            elif not c.verified:
                failures.append(f"{where}: the card is not marked verified")
            if c.doc_id in added:
                cited_added += 1
                if doc["updated_at"] > rec.finished_at:
                    failures.append(f"{where}: answered before {doc['source']} was committed")
    not_indexed = {n: s for n, s in ingest["statuses"].items() if s != "indexed"}
    if not_indexed:
        failures.append(f"added documents not indexed: {not_indexed} {ingest['errors']}")
    in_registry = {r[0] for r in conn.execute("SELECT id FROM chunks")}
    conn.close()
    in_chroma = chroma_ids(index, collection)
    if in_registry != in_chroma:
        failures.append(
            f"registry and Chroma differ: {len(in_registry - in_chroma)} chunk(s) without a vector, "
            f"{len(in_chroma - in_registry)} vector(s) without a chunk"
        )
    return {
        "citations_checked": checked,
        "citations_of_added_documents": cited_added,
        "answers_citing_added_documents": sum(any(c.doc_id in added for c in r.citations) for r in records),
        "registry_chunks": len(in_registry),
        "chroma_vectors": len(in_chroma),
        "registry_equals_chroma": in_registry == in_chroma,
        "failures": failures,
    }


def chroma_ids(index: Path, collection: str) -> set[str]:
    import chromadb

    cl = chromadb.PersistentClient(path=str(index / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False))
    col = cl.get_collection(collection)
    ids: set[str] = set()
    while True:
        got = col.get(include=[], limit=5000, offset=len(ids))["ids"]
        ids.update(got)
        if len(got) < 5000:
            return ids


# --- the run ---------------------------------------------------------------------------------------


def questions() -> list[tuple[str, str]]:
    from evals.gold import load_gold

    return [(g.id, g.question) for g in load_gold()]


def shuffled(pool: list[tuple[str, str]], seed: int) -> list[tuple[str, str]]:
    out = list(pool)
    random.Random(seed).shuffle(out)
    return out


def main() -> int:
    from clerk.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--askers", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the window under load")
    ap.add_argument("--baseline-seconds", type=float, default=30.0, help="length of the one-asker window")
    ap.add_argument("--uploads", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=-1, help="questions asked before timing (default: the whole pool)")
    ap.add_argument("--ask-concurrency", type=int, help="the server's ask_concurrency (default: its own default)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--ingest-timeout", type=float, default=1800.0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--keep", action="store_true", help="keep the run's index copy (printed) for inspection")
    args = ap.parse_args()

    base, built = base_index(args.corpus.resolve())
    work = Path(tempfile.mkdtemp(prefix="concurrency-", dir=CACHE))
    index = work / "index"
    shutil.copytree(base, index)
    files = make_uploads(base, args.uploads, work / "to-add", args.seed)
    conn = registry(index)
    base_docs, base_chunks = conn.execute(
        "SELECT count(*), sum(chunks) FROM documents WHERE status = 'indexed'"
    ).fetchone()
    conn.close()
    pool = questions()
    pools = [shuffled(pool, args.seed + i) for i in range(args.askers)]
    server_settings = Settings(
        index=index, **({"ask_concurrency": args.ask_concurrency} if args.ask_concurrency else {})
    )

    result: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "ask_concurrency": server_settings.ask_workers,
        "seed": args.seed,
        "base_index": {"documents": base_docs, "chunks": base_chunks, **built},
    }
    server = Server(index, free_port(), args.ask_concurrency)
    records: list[Asked] = []
    try:
        t = time.perf_counter()
        server.wait_ready(600)
        result["server_start_s"] = round(time.perf_counter() - t, 1)

        warm = pool if args.warmup < 0 else pool[: args.warmup]
        print(f"warm-up: {len(warm)} questions ...", flush=True)
        t = time.perf_counter()
        warmed = run_askers(server.url, [warm[0::2], warm[1::2]], "warmup", None) if warm else []
        result["warmup"] = {
            "questions": len(warmed),
            "seconds": round(time.perf_counter() - t, 1),
            "errors": sum(r.error is not None for r in warmed),
        }
        records += warmed

        print(f"alone: 1 asker for {args.baseline_seconds:.0f} s ...", flush=True)
        alone = run_askers(server.url, pools[:1], "alone", args.baseline_seconds)
        result["alone"] = phase_summary(alone, args.baseline_seconds, 1)
        records += alone

        print(
            f"under load: {args.askers} askers for {args.seconds:.0f} s while {len(files)} documents are added ...",
            flush=True,
        )
        go = threading.Event()
        ingest: dict = {}
        adder = threading.Thread(
            target=lambda: ingest.update(add_documents(server.url, files, index, args.ingest_timeout, go)), daemon=True
        )
        adder.start()
        loaded = run_askers(server.url, pools, "load", args.seconds, before=go)
        adder.join(args.ingest_timeout + 60)
        if not ingest:
            raise BenchFailure("the upload of the added documents did not come back")
        ingest["indexed_in_window"] = sum(s <= args.seconds for s in ingest["commit_s"])
        ingest.pop("started_at")
        result["load"] = phase_summary(loaded, args.seconds, args.askers)
        result["ingest"] = ingest
        records += loaded
    finally:
        server.stop()
        result["server_log_tail"] = server.lines[-10:]

    a, b = result["alone"], result["load"]
    result["ratios"] = {
        "p50_load_over_alone": _ratio(b["latency_ms"]["p50"], a["latency_ms"]["p50"]),
        "p95_load_over_alone": _ratio(b["latency_ms"]["p95"], a["latency_ms"]["p95"]),
        "first_piece_p95_load_over_alone": _ratio(b["first_piece_ms"]["p95"], a["first_piece_ms"]["p95"]),
        "throughput_load_over_alone": _ratio(b["throughput_per_s"], a["throughput_per_s"]),
    }
    result["checks"] = check(index, records, result["ingest"], server_settings.collection)
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result["ok"] = not result["checks"]["failures"]
    result["answers"] = [_compact(r) for r in records if r.phase != "warmup"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(results_text(result))
    if args.keep:
        print(f"index kept at {index}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(
        json.dumps(
            {k: v for k, v in result.items() if k not in ("answers", "server_log_tail")}, indent=1, ensure_ascii=False
        )
    )
    if not result["ok"]:
        print(f"FAILED: {len(result['checks']['failures'])} check(s) failed:", file=sys.stderr)
        for f in result["checks"]["failures"][:50]:
            print(f"  {f}", file=sys.stderr)
        return 1
    return 0


def results_text(result: dict) -> str:
    """The results as JSON, one line per answer so the file stays readable."""
    head = json.dumps({k: v for k, v in result.items() if k != "answers"}, indent=1, ensure_ascii=False)
    answers = ",\n".join("  " + json.dumps(a, ensure_ascii=False) for a in result.get("answers", []))
    return head[: -len("\n}")] + ',\n "answers": [\n' + answers + "\n ]\n}\n"


def _ratio(x: float | None, y: float | None) -> float | None:
    return round(x / y, 2) if x and y else None


def _compact(r: Asked) -> dict:
    d = asdict(r)
    d["doc_ids"] = sorted({c.doc_id for c in r.citations})
    d["chunk_ids"] = [c.chunk_id for c in r.citations]
    for k in ("citations", "finished_at"):
        d.pop(k)
    return d


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchFailure as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
