"""First-stage retrieval: BM25 (the registry's FTS5 index) and dense (Chroma), fused.

Both channels read the same index folder and apply the same document filter
inside the search (FTS5 ``doc_id IN``, Chroma ``where``), so a filtered question
never sees text from outside its scope. The registry is the source of truth:
a dense hit whose chunk the registry no longer holds is dropped.

Fusion is weighted reciprocal rank: BM25 beats MiniLM on this vocabulary
(clause numbers, money, committee names), so it carries more weight; the
weights are calibrated with the reranker (see :mod:`assistant.calibration`).
"""

from __future__ import annotations

from collections.abc import Sequence, Set

import numpy as np

from assistant.types import Filters, Passage
from ingest.embed import Embedder, LazyEmbedder
from ingest.registry import DocumentRecord
from ingest.store import Store

RRF_K = 60
#: A dense search within documents holding at least this share of the chunks first looks at the
#: nearest DENSE_POST_FILTER_K chunks of the whole index, unfiltered (see Retriever.dense).
DENSE_POST_FILTER_SHARE = 0.1
DENSE_POST_FILTER_K = 1000


class Retriever:
    """Hybrid candidate generation over one index."""

    def __init__(self, store: Store, embedder: Embedder | LazyEmbedder, bm25_weight: float = 1.0, dense_weight: float = 1.0) -> None:
        self.store = store
        self.embedder = embedder
        self.bm25_weight = bm25_weight
        self.dense_weight = dense_weight
        self._documents: tuple[tuple[int, int], list[DocumentRecord]] | None = None
        self.post_filter_share = DENSE_POST_FILTER_SHARE
        self.post_filter_k = DENSE_POST_FILTER_K

    # --- scope ---------------------------------------------------------------------
    def _searchable(self) -> list[DocumentRecord]:
        """Documents whose chunks are searchable, restricted or not (read again only after the registry changed).

        Every question needs them (councils named, filters, access); at thousands
        of documents reading them each time costs more than the search itself.
        """
        version = self.store.registry.version()
        if self._documents is None or self._documents[0] != version:
            docs = [d for d in self.store.registry.documents() if d.status in ("indexed", "stale") and d.chunks > 0]
            self._documents = (version, docs)
        return self._documents[1]

    def documents(self, include_restricted: bool = False) -> list[DocumentRecord]:
        """Documents whose chunks are searchable (restricted ones only when asked for)."""
        return [d for d in self._searchable() if include_restricted or not d.restricted]

    def scope(self, filters: Filters) -> list[str] | None:
        """Document ids a question may draw on, or None when every document may be used.

        Restricted documents are left out unless ``filters.include_restricted``;
        the resulting id list goes into both channels' searches, so their text
        never reaches ranking, answers or refusals. Raises ``ValueError`` naming
        the filter when it matches no document, so a typo in ``--doc`` or
        ``--council`` is an error, not a silent refusal.
        """
        docs = self.documents(filters.include_restricted)
        if filters.is_empty():
            hidden = not filters.include_restricted and any(d.restricted for d in self._searchable())
            return [d.doc_id for d in docs] if hidden else None
        if filters.councils:
            wanted = {c.lower() for c in filters.councils}
            docs = [d for d in docs if (d.council or "").lower() in wanted]
            if not docs:
                raise ValueError(f"no indexed documents for council {', '.join(filters.councils)}")
        if filters.doc_types:
            wanted = {t.lower() for t in filters.doc_types}
            docs = [d for d in docs if (d.doc_type or "").lower() in wanted]
            if not docs:
                raise ValueError(f"no indexed documents of type {', '.join(filters.doc_types)}")
        if filters.documents:
            chosen = []
            for ref in filters.documents:
                found = [d for d in docs if d.named_by(ref)]
                if not found:
                    raise ValueError(f"no indexed document matches {ref!r} within the other filters")
                chosen += found
            docs = list({d.doc_id: d for d in chosen}.values())
        if filters.date_from or filters.date_to:
            lo, hi = filters.date_from or "", filters.date_to or "9999"
            docs = [d for d in docs if d.date and d.date >= lo and d.date[: len(hi)] <= hi]
            if not docs:
                raise ValueError(f"no indexed documents dated between {lo or 'any'} and {filters.date_to or 'any'}")
        return [d.doc_id for d in docs]

    # --- channels ----------------------------------------------------------------------
    def lexical(self, text: str, n: int, doc_ids: Sequence[str] | None) -> list[tuple[str, float]]:
        return self.store.registry.lexical_search(text, n, doc_ids)

    def dense(self, vector: np.ndarray, n: int, doc_ids: Sequence[str] | None) -> list[tuple[str, float]]:
        """Nearest chunks within ``doc_ids`` (all when None).

        Chroma's filtered search reads every chunk in scope from its metadata
        first, about 5 µs each: at 100k chunks a scope of half of them took
        about 260 ms. A scope that large is searched unfiltered for the nearest
        ``post_filter_k`` chunks instead (about 30 ms), keeping those in
        scope; if fewer than ``n`` are (the question is about other documents),
        the filtered search runs after all.
        """
        if doc_ids is None:
            return self.store.dense_search(vector, n)
        wanted = set(doc_ids)
        sizes = {d.doc_id: d.chunks for d in self.documents()}
        total, inside = sum(sizes.values()), sum(sizes.get(d, 0) for d in wanted)
        if total and inside >= self.post_filter_share * total and total > self.post_filter_k:
            hits = self.store.nearest_with_documents(vector, self.post_filter_k)
            kept = [(c, s) for c, s, d in hits if d in wanted]
            if len(kept) >= n:
                return kept[:n]
        where = {"doc_id": {"$in": list(doc_ids)}} if len(doc_ids) > 1 else {"doc_id": doc_ids[0]}
        return self.store.dense_search(vector, n, where)

    def named_scope(self, doc_ids: Sequence[str] | None, councils: Set[str], include_restricted: bool) -> list[str]:
        """Documents within ``doc_ids`` (all when None) that may hold what a question naming ``councils`` asks.

        Those councils' documents, and also every document whose council is not
        known and every document whose text names one of them: the second search
        must not favour a council's labelled documents over its unlabelled ones
        (a constitution part whose council inference missed, a shared service
        report naming the council). Empty when the question names none, or when
        that is everything there is to search.
        """
        if not councils:
            return []
        docs = self.documents(include_restricted)
        if doc_ids is not None:
            allowed = set(doc_ids)
            docs = [d for d in docs if d.doc_id in allowed]
        named = [d.doc_id for d in docs
                 if d.council in councils or d.names_no_council or councils & set(d.mentions)]
        return named if len(named) < len(docs) else []

    def candidates(
        self,
        text: str,
        n: int = 40,
        filters: Filters | None = None,
        mode: str = "hybrid",
        councils: Set[str] = frozenset(),
        focus: str | None = None,
    ) -> tuple[list[Passage], np.ndarray]:
        """Fused candidates (best first) and the query vector.

        ``mode`` is ``hybrid``, ``bm25`` or ``dense``; the single-channel modes
        exist for ablations. ``councils`` are those the question names: each
        channel is searched once more within their documents for ``focus``
        (the question without the councils' names, which every one of their
        documents carries), so their best passages are candidates even where
        other councils' documents use the question's words more ("How much does
        NWLDC hold in reserve?" meets Kent's reserves policy first). Each search
        is fused on its own and a passage keeps the better of its two fused
        scores, so one found by both is not counted twice.
        """
        filters = filters or Filters()
        doc_ids = self.scope(filters)
        if doc_ids is not None and not doc_ids:
            return [], np.zeros(self.embedder.dimension, dtype=np.float32)
        named = [] if filters.councils or filters.documents else self.named_scope(
            doc_ids, councils, filters.include_restricted
        )
        vector = self.embedder.embed_query(text)
        searches = [(text, vector, doc_ids)]
        if named:
            focus = focus or text
            searches.append((focus, vector if focus == text else self.embedder.embed_query(focus), named))
        fused: dict[str, dict[str, float]] = {}
        for i, (words, vec, scope) in enumerate(searches):
            whole = i == 0  # the whole question among all documents in scope
            rankings: list[tuple[str, float, list[tuple[str, float]]]] = []
            if mode in ("hybrid", "bm25"):
                rankings.append(("bm25", self.bm25_weight, self.lexical(words, n, scope)))
            if mode in ("hybrid", "dense"):
                rankings.append(("dense", self.dense_weight, self.dense(vec, n, scope)))
            rrf: dict[str, float] = {}
            for channel, weight, ranking in rankings:
                for rank, (cid, score) in enumerate(ranking):
                    rrf[cid] = rrf.get(cid, 0.0) + weight / (RRF_K + rank + 1)
                    if whole:  # the reranker's channel scores are the whole question's (features fill in the rest)
                        entry = fused.setdefault(cid, {"rrf": 0.0})
                        entry[channel] = score
                        entry[f"{channel}_rank"] = rank + 1
            # A passage keeps the better of its fused scores: among all documents, or among the named councils'.
            for cid, value in rrf.items():
                entry = fused.setdefault(cid, {"rrf": 0.0})
                entry["rrf"] = max(entry["rrf"], value)
        order = sorted(fused, key=lambda c: fused[c]["rrf"], reverse=True)
        passages = []
        for row in self.store.registry.chunks(ids=order):
            p = Passage.from_row(row)
            p.scores = fused[p.chunk_id]
            p.score = p.scores["rrf"]
            passages.append(p)
        return passages, vector

    def chunk_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored chunk embeddings, for features that need the dense score of a BM25-only hit."""
        return self.store.vectors(chunk_ids)
