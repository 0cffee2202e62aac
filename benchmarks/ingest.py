"""Ingest benchmark on the bundled corpus: clerk vs encode-only vs LlamaIndex's default pipeline.

Each part runs in its own process (so peak memory is its own) on a fresh index, in one run:

- ``clerk``: the full incremental ingest (parse in a worker process, embed, write Chroma + registry).
- ``encode``: only ``Embedder.embed`` of exactly the texts clerk embedded, same model, same batch size:
  the floor the ingest pipeline is measured against (target: clerk / encode <= 1.25).
- ``llamaindex``: SimpleDirectoryReader + SentenceSplitter (defaults) + VectorStoreIndex into Chroma
  with the same embedder. Its embedded tokens count only what the model reads (its window).

Results go to ``benchmarks/results/ingest.json``.

    python benchmarks/ingest.py [--corpus DIR] [--skip-llamaindex]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ingest.json"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(ROOT))


def _peak_rss_mb() -> float:
    """Peak resident memory of this process and its finished children (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round((own + kids) / 1024, 1)


def part_clerk(corpus: Path, work: Path) -> dict:
    from clerk.settings import Settings
    from ingest.pipeline import Ingester

    settings = Settings(index=work / "clerk-index")
    t0 = time.perf_counter()
    ingester = Ingester(settings)
    report = ingester.run([corpus])
    seconds = time.perf_counter() - t0
    failed = [r.source for r in report.results if r.outcome == "failed"]
    return {
        "seconds": round(seconds, 2),
        "embed_seconds": round(report.embed_seconds, 2),
        "files_indexed": report.count("indexed"),
        "files_failed": failed,
        "pages": report.pages,
        "chunks": report.chunks,
        "embedded_tokens": report.embedded_tokens,
        "pages_per_s": round(report.pages / seconds, 2),
        "chunks_per_s": round(report.chunks / seconds, 2),
        "embedded_tokens_per_s": round(report.embedded_tokens / seconds, 1),
        "peak_rss_mb": _peak_rss_mb(),
        "index": str(settings.index),
    }


def part_encode(index: Path) -> dict:
    from clerk.settings import Settings
    from ingest.chunk import embedding_text
    from ingest.embed import Embedder
    from ingest.registry import Registry

    settings = Settings(index=index)
    registry = Registry(settings.registry_path)
    texts = [embedding_text(c["title"] or "", c["section"] or "", c["text"]) for c in registry.chunks()]
    embedder = Embedder(settings.embed_model_path, settings.embed_batch_size)
    t0 = time.perf_counter()
    embedder.embed(texts)
    seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 2), "chunks": len(texts), "peak_rss_mb": _peak_rss_mb()}


def part_llamaindex(corpus: Path, work: Path) -> dict:
    import chromadb
    from llama_index.core import Settings as LISettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.schema import MetadataMode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from clerk.settings import packaged_minilm_path
    from ingest.tokens import token_counter

    model = packaged_minilm_path()  # LlamaIndex's default pipeline with the stock MiniLM: the same network as clerk's
    LISettings.llm = None
    t0 = time.perf_counter()
    embed_model = HuggingFaceEmbedding(model_name=model, device="cpu")
    docs = SimpleDirectoryReader(str(corpus), recursive=True).load_data()
    client = chromadb.PersistentClient(path=str(work / "llamaindex-chroma"))
    collection = client.get_or_create_collection("llamaindex", embedding_function=None)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    index = VectorStoreIndex.from_documents(docs, storage_context=storage, embed_model=embed_model)
    seconds = time.perf_counter() - t0
    nodes = list(index.docstore.docs.values()) or _nodes_from_chroma(collection)
    counter = token_counter(model)
    seen = counter.count([n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]) if nodes else []
    embedded = sum(min(t + 2, counter.window) for t in seen)
    full = sum(t + 2 for t in seen)
    pages = len(docs)
    return {
        "seconds": round(seconds, 2),
        "documents_or_pages": pages,
        "chunks": len(nodes),
        "embedded_tokens": embedded,
        "tokens_cut_by_window": full - embedded,
        "embedded_tokens_per_s": round(embedded / seconds, 1),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _nodes_from_chroma(collection) -> list:
    from llama_index.core.schema import TextNode

    got = collection.get(include=["documents"])
    return [TextNode(text=t or "") for t in got["documents"]]


def _run_part(name: str, *args: str) -> dict:
    print(f"running {name} ...", file=sys.stderr, flush=True)
    cmd = [sys.executable, __file__, "--part", name, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark part {name} failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{name}: {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--part", choices=["clerk", "encode", "llamaindex"])
    ap.add_argument("--work", type=Path)
    ap.add_argument("--index", type=Path)
    ap.add_argument("--skip-llamaindex", action="store_true")
    args = ap.parse_args()
    if args.part:
        result = {
            "clerk": lambda: part_clerk(args.corpus, args.work),
            "encode": lambda: part_encode(args.index),
            "llamaindex": lambda: part_llamaindex(args.corpus, args.work),
        }[args.part]()
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="clerk-bench-") as tmp:
        work = Path(tmp)
        clerk = _run_part("clerk", "--corpus", str(args.corpus), "--work", str(work))
        encode = _run_part("encode", "--index", clerk.pop("index"))
        llama = None if args.skip_llamaindex else _run_part("llamaindex", "--corpus", str(args.corpus), "--work", str(work))
    results = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "corpus": str(args.corpus.relative_to(ROOT) if args.corpus.is_relative_to(ROOT) else args.corpus),
        "clerk": clerk,
        "encode_only": encode,
        "llamaindex_default": llama,
        "ratios": {
            "ingest_over_encode_only": round(clerk["seconds"] / encode["seconds"], 3),
            "ingest_over_encode_only_target": 1.25,
        },
    }
    if llama:
        results["ratios"].update({
            "clerk_over_llamaindex_wall_time": round(clerk["seconds"] / llama["seconds"], 3),
            "clerk_over_llamaindex_embedded_tokens_per_s": round(
                clerk["embedded_tokens_per_s"] / llama["embedded_tokens_per_s"], 3
            ),
        })
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
