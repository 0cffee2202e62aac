"""Hybrid retrieval: BM25 (the registry's FTS5 index) and dense (Chroma), fused by reciprocal rank.

Both channels read the same index folder; the registry is the source of truth,
so a dense hit whose chunk the registry no longer holds is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clerk.settings import Settings
from ingest.embed import Embedder
from ingest.store import Store

RRF_K = 60


@dataclass
class Hit:
    """A retrieved chunk with its provenance and per-channel scores."""

    chunk_id: str
    text: str
    source: str
    title: str
    council: str
    doc_type: str
    date: str
    page_start: int
    page_end: int
    section: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)


class HybridRetriever:
    """Fuses lexical and dense rankings with reciprocal rank fusion."""

    def __init__(self, settings: Settings, store: Store | None = None, embedder: Embedder | None = None) -> None:
        self.store = store or Store(settings)
        self.embedder = embedder or Embedder(settings.embed_model_path, settings.embed_batch_size)

    def retrieve(self, query: str, k: int = 5, candidates: int = 50) -> list[Hit]:
        lexical = self.store.registry.lexical_search(query, candidates)
        dense = self.store.dense_search(self.embedder.embed_query(query), candidates)
        fused: dict[str, dict[str, float]] = {}
        for channel, ranking in (("bm25", lexical), ("dense", dense)):
            for rank, (cid, score) in enumerate(ranking):
                entry = fused.setdefault(cid, {"rrf": 0.0})
                entry["rrf"] += 1.0 / (RRF_K + rank + 1)
                entry[channel] = score
        best = sorted(fused, key=lambda c: fused[c]["rrf"], reverse=True)[: k * 2]
        rows = self.store.registry.chunks(ids=best)
        hits = [
            Hit(
                chunk_id=r["id"], text=r["text"], source=r["source"], title=r["title"], council=r["council"],
                doc_type=r["doc_type"], date=r["date"], page_start=r["page_start"], page_end=r["page_end"],
                section=r["section"], score=fused[r["id"]]["rrf"], scores=fused[r["id"]],
            )
            for r in rows
        ]
        return hits[:k]
