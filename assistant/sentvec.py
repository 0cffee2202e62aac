"""Sentence vectors of retrieved chunks, computed on demand and kept for the process.

A chunk vector blurs ten sentences into one point; the sentence that answers a
question is often closer to it than its chunk is. The reranker, the extractive
answerer and the citation checker all compare the question (or a generated
sentence) with single sentences, so they share one cache.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from assistant.text import sentences
from assistant.types import Passage
from ingest.embed import Embedder, LazyEmbedder


class SentenceVectors:
    """``(spans, vectors)`` per chunk id, least recently used evicted past ``capacity`` chunks."""

    def __init__(self, embedder: Embedder | LazyEmbedder, capacity: int = 4000) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self._cache: OrderedDict[str, tuple[list[tuple[int, int]], np.ndarray]] = OrderedDict()

    def clear(self) -> None:
        """Forget every cached sentence vector (benchmarks time cold answers this way)."""
        self._cache.clear()

    def get(self, passages: Sequence[Passage]) -> list[tuple[list[tuple[int, int]], np.ndarray]]:
        """Spans and unit vectors of each passage's sentences, embedding the missing ones in one batch."""
        missing = [p for p in passages if p.chunk_id not in self._cache]
        if missing:
            spans = [sentences(p.text) for p in missing]
            texts = [p.text[s:e] for p, sp in zip(missing, spans, strict=True) for s, e in sp]
            vecs = self.embedder.embed(texts) if texts else np.zeros((0, self.embedder.dimension), np.float32)
            lo = 0
            for p, sp in zip(missing, spans, strict=True):
                self._cache[p.chunk_id] = (sp, vecs[lo : lo + len(sp)])
                lo += len(sp)
        out = []
        for p in passages:
            self._cache.move_to_end(p.chunk_id)
            out.append(self._cache[p.chunk_id])
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return out
