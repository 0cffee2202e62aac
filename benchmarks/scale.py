"""Scale benchmark: ingest, disk, memory and latency of clerk at 1k, 10k and 100k chunks.

The corpus is synthetic but made only of the bundled documents' own text (see
:mod:`benchmarks.synthetic`): their sentences shuffled and re-sectioned into
as many documents as a size needs. Each measurement runs in its own process, so
peak memory belongs to one size and one task:

- ``build``: the production ingest (:class:`ingest.pipeline.Ingester`: discovery,
  hashing, parsing in a worker, chunking, Chroma and registry/FTS5 writes) with
  the model replaced by a lookup of precomputed sentence vectors; time spent in
  ``Store.write_document`` is measured apart. Then the index's size on disk.
- ``lexical``: the FTS5 index alone: open + first query time, memory, query
  latency; against it, an in-process inverted index of the same chunks
  (build, pickle, load), the alternative persistence.
- ``query``: one :class:`assistant.Assistant`, as ``clerk serve`` holds it:
  latency p50/p95 over the dev questions for the channels (query embedding,
  FTS5, Chroma) and the API's modes (dense, BM25, hybrid, hybrid + rerank,
  hybrid + rerank within one council) and the extractive answer.
- ``serve``: the real ``clerk serve`` on the index, timed until its page answers 200.
- ``e2e`` and ``encode`` (1k only): the real ``clerk ingest`` with the model, and
  the model alone on the same chunk texts, which give the embedder's passages/s
  and so the end-to-end ingest time at every size.

Results: ``benchmarks/results/scale.json`` and ``scale.png``; the corpus, the
sentence vectors and the indexes are cached in ``.cache/bench/``.

    python benchmarks/scale.py [--sizes 1000,10000,100000] [--reuse] [--questions N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CACHE = ROOT / ".cache" / "bench"
HARVEST = CACHE / "harvest"
CORPUS = CACHE / "scale-corpus"
PLAN = CORPUS / "plan.json"
RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
PLOT = ROOT / "benchmarks" / "results" / "scale.png"
SIZES = (1000, 10_000, 100_000)
SEED = 13
MIB = 1024 * 1024

#: Product targets on 2 CPU cores (milliseconds, seconds, MiB).
TARGET_RERANK_P95_MS = {10_000: 150.0, 100_000: 400.0}
TARGET_SERVE_READY_S = 10.0
TARGET_RSS_MIB = 2048.0
#: The same-run floor latency targets are read against: query embedding + Chroma top-k, p95 on the
#: bundled corpus in benchmarks/results/answer.json's run. A machine k times slower scales both.
DENSE_FLOOR_P95_MS = 42.5


# --- small utilities --------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in [0, 1]) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.5), 1),
        "p95": round(percentile(values, 0.95), 1),
        "max": round(max(values), 1),
    }


def peak_rss_mib(children: bool = False) -> float:
    """Peak resident memory of this process (or of its largest finished child); Linux reports KiB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def rss_mib() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / MIB, 1)


def folder_mib(path: Path) -> float:
    if path.is_file():
        return round(path.stat().st_size / MIB, 2)
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / MIB, 2)


def index_dir(chunks: int) -> Path:
    return CACHE / f"index-{chunks}"


def questions(limit: int | None = None) -> list[str]:
    """The timed questions: the dev gold set's."""
    from evals.gold import load_gold

    out = [g.question for g in load_gold()]
    return out[:limit] if limit else out


def own_councils(limit: int | None = None) -> dict[str, str]:
    """Question -> the council of its gold source (answerable questions only): the scope a reader would pick."""
    from evals.gold import load_gold

    gold = load_gold()[:limit] if limit else load_gold()
    return {g.question: g.sources[0].file.split("/")[0] for g in gold if g.sources}


def warm_up_questions() -> list[str]:
    """Other questions (the held-out set's) that a running server would have answered before the timed ones."""
    from evals.gold import GOLD_DIR, load_gold

    return [g.question for g in load_gold(GOLD_DIR / "test.jsonl")]


def load_plan() -> dict:
    return json.loads(PLAN.read_text())


def files_for(chunks: int) -> list[Path]:
    from benchmarks.synthetic import SyntheticDocument, prefix_for

    plan = load_plan()
    docs = [SyntheticDocument(**d) for d in plan["documents"]]
    return [CORPUS / d.file for d in docs[: prefix_for(docs, chunks)]]


# --- parts (each runs in its own process) --------------------------------------------------------


def part_prepare(max_chunks: int) -> dict:
    """Sentence table and vectors (once), then the synthetic corpus up to ``max_chunks`` (once per fingerprint)."""
    from benchmarks.synthetic import fingerprint, generate, harvest, load_harvest, save_harvest
    from clerk.settings import Settings

    out: dict = {}
    if not (HARVEST / "sentence_vectors.npy").exists():
        from ingest.embed import Embedder

        t0 = time.perf_counter()
        docs, texts = harvest(ROOT / "corpus")
        s = Settings()
        embedder = Embedder(s.embed_model_path, s.embed_batch_size, s.embed_threads)
        t1 = time.perf_counter()
        vectors = embedder.embed(texts)
        out["sentence_embedding"] = {
            "sentences": len(texts),
            "seconds": round(time.perf_counter() - t1, 1),
            "harvest_seconds": round(t1 - t0, 1),
        }
        save_harvest(HARVEST, docs, texts, vectors)
    docs, texts, _ = load_harvest(HARVEST)
    fp = fingerprint(docs, texts, SEED)
    plan = json.loads(PLAN.read_text()) if PLAN.exists() else {}
    if plan.get("fingerprint") != fp or plan.get("chunks", 0) < max_chunks:
        if CORPUS.exists():
            shutil.rmtree(CORPUS)
        t0 = time.perf_counter()
        made = generate(docs, texts, CORPUS, max_chunks, seed=SEED)
        plan = {
            "fingerprint": fp,
            "seed": SEED,
            "chunks": sum(d.chunks for d in made),
            "generate_seconds": round(time.perf_counter() - t0, 1),
            "documents": [d.__dict__ for d in made],
        }
        PLAN.write_text(json.dumps(plan))
    out.update(
        {
            "source_documents": len(docs),
            "sentences": len(texts),
            "synthetic_documents": len(plan["documents"]),
            "synthetic_chunks": plan["chunks"],
            "seed": SEED,
            "fingerprint": fp,
            "generate_seconds": plan["generate_seconds"],
        }
    )
    return out


def part_build(chunks: int) -> dict:
    """Index the first documents holding ``chunks`` chunks through the production ingest, vectors looked up."""
    from benchmarks.synthetic import SentenceLookupEmbedder, load_harvest
    from clerk.settings import Settings
    from ingest.pipeline import Ingester
    from ingest.store import Store

    class TimedStore(Store):
        """The production store, with the time spent committing documents added up."""

        write_seconds = 0.0

        def write_document(self, *args, **kwargs) -> None:  # type: ignore[override]
            t = time.perf_counter()
            super().write_document(*args, **kwargs)
            self.write_seconds += time.perf_counter() - t

    class TimedLookup(SentenceLookupEmbedder):
        seconds = 0.0

        def embed(self, texts, progress=None):  # type: ignore[override]
            t = time.perf_counter()
            out = super().embed(texts, progress)
            self.seconds += time.perf_counter() - t
            return out

    files = files_for(chunks)
    index = index_dir(chunks)
    if index.exists():
        shutil.rmtree(index)
    settings = Settings(index=index)
    _, texts, vectors = load_harvest(HARVEST)
    embedder = TimedLookup(texts, vectors, settings.embed_model_path)
    t0 = time.perf_counter()
    store = TimedStore(settings)
    report = Ingester(settings, store=store, embedder=embedder).run(files)
    seconds = time.perf_counter() - t0
    indexed = store.registry.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    vectors_held = store.collection.count()
    store.close()
    if not report.ok or indexed != report.chunks or vectors_held != indexed:
        raise SystemExit(
            f"build of {chunks}: {report.count('failed')} failed, {indexed} chunks, {vectors_held} vectors"
        )
    return {
        "documents": report.count("indexed"),
        "chunks": indexed,
        "seconds": round(seconds, 2),
        "chunks_per_s": round(indexed / seconds, 1),
        "lookup_seconds": round(embedder.seconds, 2),
        "store_write_seconds": round(store.write_seconds, 2),
        "store_write_chunks_per_s": round(indexed / store.write_seconds, 1),
        "model_embedded_chunks": embedder.model_embedded,
        "peak_rss_mib": peak_rss_mib(),
        "parse_worker_peak_rss_mib": peak_rss_mib(children=True),
    }


def disk_usage(chunks: int) -> dict:
    """Size of the index on disk: Chroma's folder, the registry database (with its WAL), and the FTS5 share."""
    import sqlite3

    index = index_dir(chunks)
    registry = index / "registry.sqlite3"
    conn = sqlite3.connect(str(registry))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    by_table = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    conn.close()
    fts = sum(v for k, v in by_table.items() if k.startswith("chunks_fts"))
    reg_files = sum(folder_mib(p) for p in index.glob("registry.sqlite3*"))
    return {
        "chroma_mib": folder_mib(index / "chroma"),
        "registry_mib": round(reg_files, 2),
        "fts5_mib": round(fts / MIB, 2),
        "pages_mib": round(by_table.get("pages", 0) / MIB, 2),
        "chunks_table_mib": round(by_table.get("chunks", 0) / MIB, 2),
        "total_mib": round(folder_mib(index), 2),
    }


def _fts5_or_query(registry, query: str, k: int) -> list[tuple[str, float]]:
    """The lexical search as one FTS5 OR query over the whole question: how it was done before per-word scores."""
    from ingest.registry import _FTS_TERM, STOPWORDS

    words = [t.lower() for t in _FTS_TERM.findall(query)]
    terms = list(dict.fromkeys(w for w in words if w not in STOPWORDS and len(w) > 1)) or list(dict.fromkeys(words))
    sql = (
        "SELECT c.id, bm25(chunks_fts, 1.0, 0.5, 0.3) AS s FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid "
        "WHERE chunks_fts MATCH ? ORDER BY s LIMIT ?"
    )
    return [(r[0], -r[1]) for r in registry.conn.execute(sql, (" OR ".join(f'"{t}"' for t in terms), k))]


def part_lexical(chunks: int, limit: int | None) -> dict:
    """The lexical index alone: open + first query, memory, latency; the OR query it replaces; a pickled alternative."""
    import pickle
    import re
    import tempfile
    from collections import Counter

    from clerk.settings import Settings
    from ingest.registry import Registry

    qs = questions(limit)
    n = Settings().candidates
    settings = Settings(index=index_dir(chunks))
    before = rss_mib()
    t0 = time.perf_counter()
    registry = Registry(settings.registry_path, settings.lexical_cache_postings)
    registry.lexical_search(qs[0], n)
    first_s = time.perf_counter() - t0
    registry.term_scores.clear()
    cold: list[float] = []
    for q in qs:  # each question for the first time: its words' scores are fetched from FTS5 unless seen before
        t = time.perf_counter()
        registry.lexical_search(q, n)
        cold.append((time.perf_counter() - t) * 1000)
    warm: list[float] = []
    for q in qs:
        t = time.perf_counter()
        registry.lexical_search(q, n)
        warm.append((time.perf_counter() - t) * 1000)
    after_all = rss_mib()
    postings = registry.term_scores.postings
    old: list[float] = []
    same = 0
    for q in qs[:50]:
        t = time.perf_counter()
        ref = _fts5_or_query(registry, q, n)
        old.append((time.perf_counter() - t) * 1000)
        same += [c for c, _ in ref] == [c for c, _ in registry.lexical_search(q, n)]

    # The alternative: every chunk's terms in a Python inverted index, persisted with pickle.
    word = re.compile(r"\w+")
    t = time.perf_counter()
    postings_index: dict[str, dict[int, int]] = {}
    lengths: dict[int, int] = {}
    for rowid, text, section, title in registry.conn.execute("SELECT rowid, text, section, title FROM chunks"):
        counts = Counter(w.lower() for w in word.findall(f"{text} {section or ''} {title or ''}"))
        lengths[rowid] = sum(counts.values())
        for term, c in counts.items():
            postings_index.setdefault(term, {})[rowid] = c
    build_s = time.perf_counter() - t
    registry.close()
    with tempfile.NamedTemporaryFile(suffix=".pickle", dir=CACHE, delete=False) as fh:
        pickle.dump((postings_index, lengths), fh, protocol=pickle.HIGHEST_PROTOCOL)
        dump = Path(fh.name)
    del postings_index, lengths
    # Loaded in a fresh process so its memory is its own.
    code = (
        "import pickle,sys,time,psutil;p=psutil.Process();r=p.memory_info().rss;t=time.perf_counter();"
        "x=pickle.load(open(sys.argv[1],'rb'));print(time.perf_counter()-t,(p.memory_info().rss-r)/1048576)"
    )
    got = subprocess.run([sys.executable, "-c", code, str(dump)], capture_output=True, text=True, check=True)
    load_s, load_mib = map(float, got.stdout.split())
    pickle_mib = folder_mib(dump)
    dump.unlink()
    return {
        "fts5": {
            "open_and_first_query_ms": round(first_s * 1000, 1),
            "query_ms_first_time": summary(cold),
            "query_ms_repeated": summary(warm),
            "cached_postings": postings,
            "cached_mib": round(postings * 12 / MIB, 1),
            "rss_growth_mib": round(after_all - before, 1),
            "or_query_ms_before": summary(old),
            "or_query_same_ranking": f"{same}/{len(old)}",
        },
        "in_process_alternative": {
            "build_s": round(build_s, 2),
            "pickle_mib": pickle_mib,
            "load_s": round(load_s, 2),
            "rss_mib": round(load_mib, 1),
        },
    }


def part_query(chunks: int, limit: int | None) -> dict:
    """Latency of each retrieval channel and mode, and of the extractive answer, over the dev questions.

    Each mode is timed in its own pass, starting from the state of a server that
    has started and answered other questions: caches dropped (``Assistant.refresh``),
    ``Assistant.warm_up`` (as ``clerk serve`` runs it), then the held-out questions
    asked once. So every timed question is asked for the first time in its pass,
    and pays for whatever of its vocabulary is new.
    """
    from collections import Counter

    from assistant import Assistant, Filters
    from assistant.rerank import FusionOnly
    from clerk.settings import Settings

    qs = questions(limit)
    settings = Settings(index=index_dir(chunks))
    t0 = time.perf_counter()
    a = Assistant(settings)
    init_s = time.perf_counter() - t0
    rss_ready = rss_mib()
    t0 = time.perf_counter()
    a.embedder.dimension  # noqa: B018 - loads the model (the Assistant loads it on first use)
    model_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    a.retrieve(qs[0])
    first_s = time.perf_counter() - t0
    council = Counter(d.council for d in a.retriever.documents()).most_common(1)[0][0]
    fusion = FusionOnly()
    n = settings.candidates
    held = {d.council for d in a.retriever.documents()}
    own = {q: c for q, c in own_councils(limit).items() if c in held}
    modes = {
        "embed_query": lambda q: a.embedder.embed_query(q),
        "fts5_channel": lambda q: a.store.registry.lexical_search(q, n),
        "chroma_channel": lambda q: a.store.dense_search(a.embedder.embed_query(q), n),
        "dense": lambda q: a.retrieve(q, mode="dense", reranker=fusion),
        "bm25": lambda q: a.retrieve(q, mode="bm25", reranker=fusion),
        "hybrid": lambda q: a.retrieve(q, reranker=fusion),
        "hybrid_rerank": lambda q: a.retrieve(q),
        "hybrid_rerank_own_council": lambda q: a.retrieve(q, filters=Filters(councils=(own[q],))),
        "hybrid_rerank_largest_council": lambda q: a.retrieve(q, filters=Filters(councils=(council,))),
        "answer": lambda q: a.ask(q),
    }
    times: dict[str, list[float]] = {}
    stages: dict[str, list[float]] = {}
    warm = warm_up_questions()
    warm_up_s: list[float] = []
    for name, fn in modes.items():
        a.refresh()
        t0 = time.perf_counter()
        a.warm_up()  # what clerk serve does after it starts and after the index changes
        warm_up_s.append(time.perf_counter() - t0)
        for q in warm:
            a.retrieve(q)
        out = times.setdefault(name, [])
        for q in [q for q in qs if q in own] if name == "hybrid_rerank_own_council" else qs:
            a.sentence_vectors.clear()  # each answer pays its own sentence encoding
            t = time.perf_counter()
            got = fn(q)
            out.append((time.perf_counter() - t) * 1000)
            if name == "hybrid_rerank":
                for k, v in got.timings_ms.items():
                    stages.setdefault(k, []).append(v)
    postings = a.store.registry.term_scores.postings
    a.close()
    return {
        "questions": len(qs),
        "warm_up_questions": len(warm),
        "assistant_init_s": round(init_s, 2),
        "model_load_s": round(model_s, 2),
        "first_retrieval_s": round(first_s, 2),
        "warm_up_s": round(percentile(warm_up_s, 0.5), 2),
        "rss_after_init_mib": rss_ready,
        "peak_rss_mib": peak_rss_mib(),
        "lexical_cached_postings": postings,
        "largest_council": council,
        "latency_ms": {k: summary(v) for k, v in times.items()},
        "hybrid_rerank_stages_p50_ms": {k: round(percentile(v, 0.5), 1) for k, v in stages.items()},
    }


def part_serve(chunks: int) -> dict:
    """``clerk serve`` on the index: seconds until its ready line, its page answering 200, and its model loaded."""
    import socket

    import psutil

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "clerk.cli", "serve", "--index", str(index_dir(chunks)), "--port", str(port)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    marks: dict[str, float] = {}
    lines: list[str] = []
    rss_ready = 0.0
    try:
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        while time.perf_counter() - t0 < 300 and "warmed_s" not in marks:
            line = proc.stdout.readline()
            lines += [line] if line else []
            if line.startswith("clerk is ready"):
                marks.setdefault("ready_line_s", time.perf_counter() - t0)
            if line.startswith("clerk: model loaded"):
                marks["warmed_s"] = time.perf_counter() - t0
            if proc.poll() is not None:
                raise SystemExit(f"clerk serve exited with {proc.returncode}: {''.join(lines)[-2000:]}")
            if "http_200_s" not in marks:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                        if resp.status == 200:
                            marks["http_200_s"] = time.perf_counter() - t0
                            rss_ready = psutil.Process(proc.pid).memory_info().rss / MIB
                except OSError:
                    pass
            if not line:
                time.sleep(0.05)
        if "warmed_s" not in marks or "http_200_s" not in marks:
            raise SystemExit(f"clerk serve did not get ready within 300 s: {''.join(lines)[-2000:]}")
        rss_loaded = psutil.Process(proc.pid).memory_info().rss / MIB
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {
        **{k: round(v, 2) for k, v in marks.items()},
        "rss_at_200_mib": round(rss_ready, 1),
        "rss_mib": round(rss_loaded, 1),
    }


def part_e2e(chunks: int) -> dict:
    """The real ``clerk ingest`` (model included) on the synthetic documents of one size, fresh index."""
    files = files_for(chunks)
    index = CACHE / f"e2e-index-{chunks}"
    if index.exists():
        shutil.rmtree(index)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "clerk.cli", "ingest", "--index", str(index), "--json", *map(str, files)]
    t0 = time.perf_counter()
    got = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    seconds = time.perf_counter() - t0
    if got.returncode != 0:
        raise SystemExit(f"clerk ingest failed ({got.returncode}): {got.stderr[-2000:]}")
    report = json.loads(got.stdout.strip().splitlines()[-1])
    return {
        "documents": len(files),
        "chunks": report["chunks"],
        "seconds": round(seconds, 2),
        "pipeline_seconds": report["seconds"],
        "chunks_per_s": round(report["chunks"] / seconds, 2),
        "peak_rss_mib": peak_rss_mib(children=True),
        "index": str(index),
    }


def part_encode(index: Path) -> dict:
    """The model alone on exactly the texts ingest embedded: the embedder's passages per second."""
    from clerk.settings import Settings
    from ingest.chunk import embedding_text
    from ingest.embed import Embedder
    from ingest.registry import Registry

    settings = Settings(index=index)
    registry = Registry(settings.registry_path)
    texts = [embedding_text(c["title"] or "", c["section"] or "", c["text"]) for c in registry.chunks()]
    registry.close()
    embedder = Embedder(settings.embed_model_path, settings.embed_batch_size, settings.embed_threads)
    t0 = time.perf_counter()
    embedder.embed(texts)
    seconds = time.perf_counter() - t0
    shutil.rmtree(index)
    return {"passages": len(texts), "seconds": round(seconds, 2), "passages_per_s": round(len(texts) / seconds, 2)}


# --- orchestration ----------------------------------------------------------------------------------


#: One-minute load average before and after each part: the machine is shared, and this says how busy it was.
LOAD: dict[str, list[float]] = {}


def run_part(name: str, *args: str) -> dict:
    print(f"[scale] {name} {' '.join(args)} ...", file=sys.stderr, flush=True)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--part", name, *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if proc.returncode != 0:
        raise SystemExit(f"part {name} {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    LOAD[" ".join((name, *args))] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(
        f"[scale] {name} done in {time.perf_counter() - t0:.0f} s: {json.dumps(result)[:400]}",
        file=sys.stderr,
        flush=True,
    )
    return result


def targets(sizes: list[dict], serve: dict, e2e: dict | None) -> dict:
    """Each product target as met / not met with its number, and the same-run scaling ratios."""
    by = {s["nominal"]: s for s in sizes}
    out: dict[str, dict] = {}
    for n, limit in TARGET_RERANK_P95_MS.items():
        if n in by:
            p95 = by[n]["query"]["latency_ms"]["hybrid_rerank"]["p95"]
            out[f"hybrid_rerank_p95_ms_at_{n}"] = {"value": p95, "target": f"< {limit:g}", "met": p95 < limit}
    for n, limit in TARGET_RERANK_P95_MS.items():
        if n in by:
            lat = by[n]["query"]["latency_ms"]
            ratio = lat["hybrid_rerank"]["p95"] / lat["chroma_channel"]["p95"]
            allowed = limit / DENSE_FLOOR_P95_MS
            out[f"hybrid_rerank_p95_over_dense_lookup_p95_at_{n}"] = {
                "value": round(ratio, 2),
                "target": f"<= {allowed:.1f} (the target over the dense-lookup p95 of benchmarks/answer.py)",
                "met": ratio <= allowed,
            }
    for n, entry in by.items():
        p95 = entry["query"]["latency_ms"]["answer"]["p95"]
        out[f"answer_p95_ms_at_{n}"] = {"value": p95, "target": "< 1000 (benchmarks/answer.py's)", "met": p95 < 1000}
    if 10_000 in serve:
        s = serve[10_000]["http_200_s"]
        out["serve_ready_s_at_10000"] = {
            "value": s,
            "target": f"< {TARGET_SERVE_READY_S:g}",
            "met": s < TARGET_SERVE_READY_S,
        }
    if 100_000 in by:
        big = by[100_000]
        peaks = {
            "query process": big["query"]["peak_rss_mib"],
            "ingest process": big["build"]["peak_rss_mib"],
            "clerk serve": serve.get(100_000, {}).get("rss_mib", 0.0),
        }
        worst = max(peaks, key=peaks.get)
        out["peak_rss_mib_at_100000"] = {
            "value": peaks[worst],
            "where": worst,
            "all": peaks,
            "target": f"< {TARGET_RSS_MIB:g}",
            "met": peaks[worst] < TARGET_RSS_MIB,
        }
    return out


def scaling(sizes: list[dict]) -> dict:
    """Cost at each size over the cost at the smallest (same run): how each grows across 100x the chunks."""
    base = sizes[0]
    out: dict[str, dict[str, float]] = {}

    def ratio(name: str, get) -> None:
        b = get(base)
        if b:
            out[name] = {str(s["nominal"]): round(get(s) / b, 2) for s in sizes}

    ratio("chunks", lambda s: s["build"]["chunks"])
    for mode in ("fts5_channel", "chroma_channel", "dense", "bm25", "hybrid", "hybrid_rerank", "answer"):
        ratio(f"{mode}_p95", lambda s, m=mode: s["query"]["latency_ms"][m]["p95"])
    ratio("store_write_s_per_chunk", lambda s: s["build"]["store_write_seconds"] / s["build"]["chunks"])
    ratio("index_mib", lambda s: s["disk"]["total_mib"])
    ratio("query_peak_rss", lambda s: s["query"]["peak_rss_mib"])
    return out


def plot(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = results["sizes"]
    x = [s["build"]["chunks"] for s in sizes]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
    ax = axes[0][0]
    for mode, label in (
        ("dense", "dense"),
        ("bm25", "BM25"),
        ("hybrid", "hybrid"),
        ("hybrid_rerank", "hybrid + rerank"),
        ("hybrid_rerank_own_council", "hybrid + rerank, question's council only"),
        ("answer", "answer (extractive)"),
        ("fts5_channel", "lexical search alone"),
        ("chroma_channel", "Chroma query alone"),
    ):
        style = ":" if mode.endswith("channel") else "--" if mode.endswith("council") else "-"
        ax.plot(x, [s["query"]["latency_ms"][mode]["p95"] for s in sizes], style, marker="o", label=label)
    for n, limit in TARGET_RERANK_P95_MS.items():
        ax.plot([n], [limit], marker="x", color="red", markersize=10, linestyle="none")
    ax.set_title("latency p95 (ms); x = rerank target")
    ax.legend(fontsize=7)
    ax = axes[0][1]
    ax.plot(x, [s["build"]["seconds"] for s in sizes], marker="o", label="ingest, vectors looked up (s)")
    ax.plot(x, [s["build"]["store_write_seconds"] for s in sizes], marker="o", label="of which store writes (s)")
    if results.get("estimated_end_to_end_ingest_s"):
        est = results["estimated_end_to_end_ingest_s"]
        ax.plot(x, [est[str(s["nominal"])] for s in sizes], "--", marker="o", label="end to end with model, est. (s)")
    if results.get("end_to_end"):
        e = results["end_to_end"]
        ax.plot(
            [e["chunks"]],
            [e["seconds"]],
            marker="*",
            markersize=12,
            linestyle="none",
            label="end to end with model, measured (s)",
        )
    ax.set_title("ingest time (s)")
    ax.legend(fontsize=7)
    ax = axes[1][0]
    ax.plot(x, [s["disk"]["total_mib"] for s in sizes], marker="o", label="index total")
    ax.plot(x, [s["disk"]["chroma_mib"] for s in sizes], marker="o", label="chroma/")
    ax.plot(x, [s["disk"]["registry_mib"] for s in sizes], marker="o", label="registry.sqlite3")
    ax.plot(x, [s["disk"]["fts5_mib"] for s in sizes], ":", marker="o", label="of which FTS5")
    ax.set_title("index size on disk (MiB)")
    ax.legend(fontsize=7)
    ax = axes[1][1]
    ax.plot(x, [s["query"]["peak_rss_mib"] for s in sizes], marker="o", label="query process (Assistant)")
    ax.plot(x, [s["build"]["peak_rss_mib"] for s in sizes], marker="o", label="ingest main process")
    ax.plot(x, [s["serve"]["rss_mib"] for s in sizes], marker="o", label="clerk serve, model loaded and warmed")
    ax.plot(
        x,
        [max(0.1, s["lexical"]["fts5"]["rss_growth_mib"]) for s in sizes],
        ":",
        marker="o",
        label="lexical search: memory added by queries",
    )
    ax.plot(
        x,
        [s["lexical"]["in_process_alternative"]["rss_mib"] for s in sizes],
        ":",
        marker="o",
        label="in-process inverted index (alternative)",
    )
    ax.axhline(TARGET_RSS_MIB, color="red", linewidth=0.8, label="2 GiB target")
    ax.set_title("memory (MiB)")
    ax.legend(fontsize=7)
    for row in axes:
        for a in row:
            a.set_xscale("log")
            a.set_yscale("log")
            a.set_xlabel("chunks")
            a.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"clerk at scale ({results['machine']['cpus']} CPU cores, {results['when'][:10]})")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="chunk counts, comma-separated")
    ap.add_argument("--reuse", action="store_true", help="keep indexes already built (skips the build timings)")
    ap.add_argument("--questions", type=int, help="only the first N dev questions")
    ap.add_argument("--skip-e2e", action="store_true", help="skip the end-to-end ingest with the model (1k)")
    ap.add_argument("--replot", action="store_true", help="only draw the plot again from the results file")
    ap.add_argument("--part", choices=["prepare", "build", "disk", "lexical", "query", "serve", "e2e", "encode"])
    ap.add_argument("--chunks", type=int)
    ap.add_argument("--index", type=Path)
    args = ap.parse_args()
    limit = args.questions
    if args.replot:
        plot(json.loads(RESULTS.read_text()))
        return
    if args.part:
        result = {
            "prepare": lambda: part_prepare(args.chunks),
            "build": lambda: part_build(args.chunks),
            "disk": lambda: disk_usage(args.chunks),
            "lexical": lambda: part_lexical(args.chunks, limit),
            "query": lambda: part_query(args.chunks, limit),
            "serve": lambda: part_serve(args.chunks),
            "e2e": lambda: part_e2e(args.chunks),
            "encode": lambda: part_encode(args.index),
        }[args.part]()
        print(json.dumps(result))
        return

    t_start = time.perf_counter()
    nominal = sorted(int(s) for s in args.sizes.split(","))
    q = ["--questions", str(limit)] if limit else []
    corpus = run_part("prepare", "--chunks", str(max(nominal)))
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    old_sizes = {s["nominal"]: s for s in old.get("sizes", [])}
    sizes = []
    serve: dict[int, dict] = {}
    for n in nominal:
        entry: dict = {"nominal": n}
        if args.reuse and (index_dir(n) / "registry.sqlite3").exists() and n in old_sizes:
            entry["build"] = old_sizes[n]["build"]
        else:
            entry["build"] = run_part("build", "--chunks", str(n))
        entry["disk"] = run_part("disk", "--chunks", str(n))
        entry["lexical"] = run_part("lexical", "--chunks", str(n), *q)
        entry["query"] = run_part("query", "--chunks", str(n), *q)
        entry["serve"] = serve[n] = run_part("serve", "--chunks", str(n))
        sizes.append(entry)
    e2e = encode = None
    if not args.skip_e2e:
        e2e = run_part("e2e", "--chunks", str(nominal[0]))
        encode = run_part("encode", "--index", e2e.pop("index"))
    results: dict = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "corpus": corpus,
        "sizes": sizes,
        "end_to_end": e2e,
        "encode_only": encode,
    }
    if e2e and encode:
        # End to end = the model's time + the pipeline with vectors looked up (measured at each size) + what is
        # left over at 1k (process start, model load, parsing competing with the model for the cores).
        per_chunk = 1 / encode["passages_per_s"]
        base = sizes[0]["build"]
        fixed = e2e["seconds"] - (e2e["chunks"] * per_chunk + base["seconds"])
        results["end_to_end"]["fixed_overhead_s"] = round(fixed, 1)
        results["estimated_end_to_end_ingest_s"] = {
            str(s["nominal"]): round(s["build"]["chunks"] * per_chunk + s["build"]["seconds"] + fixed, 1) for s in sizes
        }
    results["scaling_over_smallest"] = scaling(sizes)
    results["targets"] = targets(sizes, serve, e2e)
    results["runtime_s"] = round(time.perf_counter() - t_start)
    results["load_average_before_after"] = LOAD
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    plot(results)
    print(json.dumps(results["targets"], indent=2))


if __name__ == "__main__":
    main()
