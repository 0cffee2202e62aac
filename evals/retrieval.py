"""Retrieval quality of each stage of clerk's pipeline, and of LlamaIndex's default, on the gold set.

The answer can only cite what retrieval returns, so this is the number the
product's retrieval work is judged by. Every configuration runs in one process
over the same index (the one ``clerk ingest`` built) and the same answerable
questions, so the rows of the table differ only in the stage being measured:

- ``bm25``, ``dense``: one channel alone, no reranking;
- ``rrf``: both channels fused by weighted reciprocal rank, no reranking;
- ``rrf+rerank``: fusion then the default reranker, the product's configuration;
- ``rerank - <feature>``: the default reranker with one feature's weight set to
  0, to show which features earn their place;
- ``llamaindex-default``: what a team gets from LlamaIndex out of the box
  (``VectorStoreIndex`` over the same cleaned pages, default splitter, default
  in-memory store, same MiniLM embedder), the baseline the product must beat.

A question counts as found at rank r when the r-th passage comes from the gold
file and holds the gold span (:func:`evals.gold.first_match`). Results go to
``benchmarks/results/retrieval.json``; docs/RETRIEVAL.md reports them.

    python -m evals.retrieval [--gold evals/gold/dev.jsonl] [--out benchmarks/results/retrieval.json]
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before any Hugging Face import: nothing may reach a hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import hashlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from assistant.engine import Assistant
from assistant.rerank import FEATURES, FeatureReranker, FusionOnly, Reranker
from assistant.sentvec import SentenceVectors
from assistant.types import Filters
from clerk.settings import PROJECT_ROOT, get_settings, packaged_minilm_path
from evals.gold import DEV, GoldQuestion, first_match, load_gold
from evals.metrics import recall_at, reciprocal_rank

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "retrieval.json"
K = 10
CUTOFFS = (1, 5, 10)
PRODUCT = "rrf+rerank"
LLAMAINDEX = "llamaindex-default"

#: One retrieval: question -> (source, text) of the passages, best first.
Search = Callable[[str], list[tuple[str, str]]]


@dataclass
class Tally:
    """First-match ranks and latencies of one configuration, question by question."""

    ranks: list[int | None] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        n = len(self.ranks) or 1
        out = {f"recall_at_{k}": round(recall_at(self.ranks, k), 3) for k in CUTOFFS}
        out[f"mrr_at_{K}"] = round(sum(reciprocal_rank(r, K) for r in self.ranks) / n, 3)
        out["latency_ms"] = round(sum(self.latencies_ms) / (len(self.latencies_ms) or 1), 1)
        return out


def clerk_configurations(a: Assistant) -> dict[str, Search]:
    """The product's pipeline with stages switched off one at a time.

    Each reranking configuration gets its own sentence-vector cache, so none of
    them is timed on sentences another configuration already embedded; the
    vectors are the same ones ``a.sentence_vectors`` would compute.
    """

    def search(mode: str, reranker: Reranker | None) -> Search:
        def run(question: str) -> list[tuple[str, str]]:
            passages = a.retrieve(question, Filters.everything(), k=K, mode=mode, reranker=reranker).passages
            return [(p.source, p.text) for p in passages]

        return run

    def ablated(feature: str) -> FeatureReranker:
        weights = dict(a.calibration.rerank_weights)
        weights[feature] = 0.0
        return FeatureReranker(SentenceVectors(a.embedder), a.term_weights, a.retriever.chunk_vectors, weights)

    configs: dict[str, Search] = {
        "bm25": search("bm25", FusionOnly()),
        "dense": search("dense", FusionOnly()),
        "rrf": search("hybrid", FusionOnly()),
        PRODUCT: search("hybrid", None),
    }
    for feature in FEATURES:
        configs[f"rerank - {feature}"] = search("hybrid", ablated(feature))
    return configs


def llamaindex_default(a: Assistant) -> tuple[Search, dict[str, float]]:
    """LlamaIndex's default vector retriever over clerk's cleaned pages, with the same embedder.

    Pages come from the registry rather than LlamaIndex's own readers so that
    both sides search exactly the same text; what differs is what LlamaIndex
    does by default: 1,024-token ``SentenceSplitter`` chunks, metadata in the
    embedded text, cosine top-k in its in-memory store, no lexical channel, no
    reranking. Blank pages are left out (they hold no gold span).
    """
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core import Settings as LISettings
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    LISettings.llm = None  # nothing in the pipeline may reach for OpenAI
    registry = a.store.registry
    docs = [
        Document(text=page.text, metadata={"file": rec.source, "page": page.number})
        for rec in registry.documents()
        if rec.status == "indexed"
        for page in registry.pages(rec.doc_id)
        if page.text.strip()
    ]
    t0 = time.perf_counter()
    # LlamaIndex's default retriever as a user gets it: the stock MiniLM (clerk's trained embedder is clerk's own).
    embed_model = HuggingFaceEmbedding(model_name=packaged_minilm_path(), device="cpu")
    index = VectorStoreIndex.from_documents(docs, embed_model=embed_model)
    build = {
        "pages": len(docs),
        "nodes": len(index.docstore.docs),
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    retriever = index.as_retriever(similarity_top_k=K)

    def run(question: str) -> list[tuple[str, str]]:
        return [(n.node.metadata["file"], n.node.get_content()) for n in retriever.retrieve(question)]

    return run, build


def evaluate(gold: list[GoldQuestion], configs: dict[str, Search]) -> dict[str, Tally]:
    """Run every configuration on each question in turn.

    Interleaving by question, rather than running one configuration after
    another, spreads the machine's load over all configurations alike, so
    their latencies stay comparable with each other.
    """
    tallies = {name: Tally() for name in configs}
    for i, g in enumerate(gold, 1):
        for name, run in configs.items():
            t0 = time.perf_counter()
            items = run(g.question)
            tallies[name].latencies_ms.append((time.perf_counter() - t0) * 1000)
            tallies[name].ranks.append(first_match(items, g.sources))
        print(f"  {i}/{len(gold)} {g.id}", flush=True)
    return tallies


def markdown(results: dict[str, dict[str, float]]) -> str:
    head = "| configuration | recall@1 | recall@5 | recall@10 | MRR@10 | latency (ms) |\n|---|---|---|---|---|---|"
    rows = [
        f"| {name} | {m['recall_at_1']:.3f} | {m['recall_at_5']:.3f} | {m['recall_at_10']:.3f} "
        f"| {m[f'mrr_at_{K}']:.3f} | {m['latency_ms']:.0f} |"
        for name, m in results.items()
    ]
    return "\n".join([head, *rows])


def _relative(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", type=Path, default=DEV)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--index", type=Path, help="index folder (default: the configured one, ./.clerk)")
    args = ap.parse_args()
    started = time.perf_counter()

    gold = [g for g in load_gold(args.gold) if g.answerable]
    a = Assistant(get_settings(index=args.index))
    # Snapshot now: the weights on disk may be refitted while this runs.
    calibration = {
        "file": _relative(a.calibration_path) if a.calibration_path and a.calibration_path.exists()
        else "none (built-in defaults)",
        "bm25_weight": a.calibration.bm25_weight,
        "dense_weight": a.calibration.dense_weight,
        "rerank_weights": dict(a.calibration.rerank_weights),
    }
    configs = clerk_configurations(a)
    print(f"building the LlamaIndex default index over {a.settings.index} ...", flush=True)
    configs[LLAMAINDEX], llama_build = llamaindex_default(a)
    for run in configs.values():  # first-call costs (lazy loads, caches) are not retrieval latency
        run("warm up")

    print(f"{len(gold)} answerable questions x {len(configs)} configurations", flush=True)
    tallies = evaluate(gold, configs)
    metrics = {name: t.summary() for name, t in tallies.items()}
    table = markdown(metrics)
    diff = round(100 * (metrics[PRODUCT]["recall_at_5"] - metrics[LLAMAINDEX]["recall_at_5"]), 1)
    results = {
        "gold": _relative(args.gold),
        "gold_sha256": hashlib.sha256(args.gold.read_bytes()).hexdigest()[:16],
        "questions": len(gold),
        "k": K,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "index": str(a.settings.index),
        "candidates_per_channel": a.settings.candidates,
        "calibration": calibration,
        "llamaindex": llama_build,
        "configurations": metrics,
        "recall_at_5_points_over_llamaindex": diff,
        "per_question": [
            {"id": g.id, "type": g.type, PRODUCT: tallies[PRODUCT].ranks[i], LLAMAINDEX: tallies[LLAMAINDEX].ranks[i]}
            for i, g in enumerate(gold)
        ],
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table)
    print(f"\nrecall@5, {PRODUCT} - {LLAMAINDEX}: {diff:+.1f} points; {results['seconds']} s; wrote {args.out}")
    a.close()


if __name__ == "__main__":
    main()
