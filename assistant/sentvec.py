"""Sentence vectors of retrieved chunks, computed on demand and kept for the process.

A chunk vector blurs ten sentences into one point; the sentence that answers a
question is often closer to it than its chunk is. The reranker, the extractive
answerer and the citation checker all compare the question (or a generated
sentence) with single sentences, so they share one cache.

Chunk ids are derived from the chunk's text, so a cached entry can never
describe text that has since changed: a re-ingested chunk comes back under a
new id. The web app answers several questions at once, so the cache is shared
between threads: it is only touched under a lock, and the (slow) encoding of
missing sentences runs outside it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from assistant.text import sentences
from assistant.types import Passage
from ingest.embed import Embedder, LazyEmbedder

Entry = tuple[list[tuple[int, int]], np.ndarray]


class SentenceVectors:
    """``(spans, vectors)`` per chunk id, least recently used evicted past ``capacity`` chunks."""

    def __init__(self, embedder: Embedder | LazyEmbedder, capacity: int = 4000) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self._cache: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._cache)

    def clear(self) -> None:
        """Forget every cached sentence vector (benchmarks time cold answers this way)."""
        with self._lock:
            self._cache.clear()

    def get(self, passages: Sequence[Passage]) -> list[Entry]:
        """Spans and unit vectors of each passage's sentences, embedding the missing ones in one batch.

        The answer is built from what this call found or computed, never read
        back from the shared cache, so another thread clearing or evicting
        entries meanwhile cannot make it fail.
        """
        found: dict[str, Entry] = {}
        with self._lock:
            for p in passages:
                entry = self._cache.get(p.chunk_id)
                if entry is not None:
                    self._cache.move_to_end(p.chunk_id)
                    found[p.chunk_id] = entry
        missing = list({p.chunk_id: p for p in passages if p.chunk_id not in found}.values())
        if missing:
            spans = [sentences(p.text) for p in missing]
            texts = [p.text[s:e] for p, sp in zip(missing, spans, strict=True) for s, e in sp]
            vecs = self.embedder.embed(texts) if texts else np.zeros((0, self.embedder.dimension), np.float32)
            lo = 0
            for p, sp in zip(missing, spans, strict=True):
                found[p.chunk_id] = (sp, vecs[lo : lo + len(sp)])
                lo += len(sp)
            with self._lock:
                for p in missing:
                    self._cache[p.chunk_id] = found[p.chunk_id]
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        return [found[p.chunk_id] for p in passages]
