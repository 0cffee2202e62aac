"""The index: Chroma (dense vectors) and the SQLite registry (documents, pages, chunks, BM25), kept in step.

Write order makes every interruption safe. New vectors are added to Chroma
first (ids are content-derived, so re-adding is harmless); then the registry
swaps the document's chunks in one transaction; then vectors no longer
referenced are deleted. Until the swap commits, the previous version of the
document stays searchable; after a crash, :meth:`Store.reconcile` removes
vectors the registry does not reference and flags documents whose vectors are
missing so the next run re-embeds them. The registry is the source of truth.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from clerk.settings import Settings
from ingest.registry import DocumentRecord, Registry
from ingest.types import Page

if TYPE_CHECKING:
    from llama_index.core.schema import TextNode

log = logging.getLogger(__name__)
_CHROMA_BATCH = 1000
#: What Chroma keeps beside each vector: the field the dense search filters on, and the chunk's place.
#: Text and provenance live in the registry only. Sent to Chroma too, the text was stored a second
#: time and indexed by Chroma's own trigram full-text index, which nothing queries, and every
#: provenance field was stored again as metadata: Chroma's folder was 3.6 times larger (79.5 against
#: 22.2 MiB at 10k chunks) and each write slower (see docs/BENCHMARKS.md, scale).
CHROMA_METADATA = ("doc_id", "ordinal")


class IndexMismatch(RuntimeError):
    """The index was built with another embedding model than the one configured."""


def _chroma_client(settings: Settings):
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=True)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


class Store:
    """Chroma collection + SQLite registry of one index folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.index.mkdir(parents=True, exist_ok=True)
        self.registry = Registry(settings.registry_path, settings.lexical_cache_postings)
        self.client = _chroma_client(settings)
        # embedding_function=None: clerk supplies every vector itself; Chroma's
        # default function would try to download a model.
        self.collection = self.client.get_or_create_collection(
            settings.collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def close(self) -> None:
        self.registry.close()

    # --- model binding -------------------------------------------------------------
    def bind_model(self, model: str, dimension: int) -> None:
        """Record the embedding model on first use; refuse to mix vectors of two models."""
        known = self.registry.get_meta("embed_model")
        if known is None:
            self.registry.set_meta("embed_model", model)
            self.registry.set_meta("embed_dimension", str(dimension))
        elif known != model or self.registry.get_meta("embed_dimension") != str(dimension):
            raise IndexMismatch(
                f"the index in {self.settings.index} was built with embedding model {known}; "
                f"the configured model is {model}. Use another --index, or delete the index folder to rebuild."
            )

    # --- writes ------------------------------------------------------------------
    def write_document(
        self,
        rec: DocumentRecord,
        pages: list[Page],
        nodes: list[TextNode],
        vectors: np.ndarray,
        tokens: list[int],
    ) -> None:
        """Index a new or changed document without ever losing the previous version mid-way."""
        old_ids = self.registry.chunk_ids(rec.doc_id)
        new_ids = [n.id_ for n in nodes]
        for lo in range(0, len(nodes), _CHROMA_BATCH):
            part = nodes[lo : lo + _CHROMA_BATCH]
            self.collection.upsert(
                ids=new_ids[lo : lo + _CHROMA_BATCH],
                embeddings=vectors[lo : lo + _CHROMA_BATCH],
                metadatas=[{k: n.metadata[k] for k in CHROMA_METADATA} for n in part],
            )
        self.registry.replace_content(rec, pages, nodes, tokens)
        self._delete_vectors(old_ids - set(new_ids))

    def record(self, rec: DocumentRecord) -> None:
        """Update a document's row only (status, error, duplicate), leaving its chunks alone."""
        self.registry.upsert_document(rec)

    def remove_document(self, doc_id: str) -> None:
        ids = self.registry.chunk_ids(doc_id)
        self.registry.delete_document(doc_id)
        self._delete_vectors(ids)

    def _delete_vectors(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for lo in range(0, len(ids), _CHROMA_BATCH):
            self.collection.delete(ids=ids[lo : lo + _CHROMA_BATCH])

    # --- consistency -------------------------------------------------------------
    def vector_ids(self) -> set[str]:
        ids: set[str] = set()
        offset = 0
        while True:
            got = self.collection.get(include=[], limit=5000, offset=offset)["ids"]
            ids.update(got)
            if len(got) < 5000:
                return ids
            offset += len(got)

    def reconcile(self) -> tuple[int, set[str]]:
        """Repair what an interrupted run left behind.

        Deletes vectors the registry does not reference and returns their count,
        plus the ids of documents with chunks whose vectors are missing (to be
        re-embedded by the caller).
        """
        in_chroma = self.vector_ids()
        in_registry = self.registry.chunk_ids()
        orphans = in_chroma - in_registry
        self._delete_vectors(orphans)
        missing = in_registry - in_chroma
        docs: set[str] = set()
        if missing:
            docs = {c["doc_id"] for c in self.registry.chunks(ids=missing)}
        return len(orphans), docs

    # --- reads used by retrieval ---------------------------------------------------
    def dense_search(
        self, vector: Sequence[float], k: int = 50, where: dict | None = None
    ) -> list[tuple[str, float]]:
        """Chunk ids by cosine similarity (higher is better)."""
        if self.collection.count() == 0:
            return []
        res = self.collection.query(
            query_embeddings=[list(map(float, vector))], n_results=k, where=where, include=["distances"]
        )
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def nearest_with_documents(self, vector: Sequence[float], k: int) -> list[tuple[str, float, str]]:
        """``(chunk id, cosine similarity, doc_id)`` of the ``k`` nearest chunks, unfiltered."""
        if self.collection.count() == 0:
            return []
        res = self.collection.query(
            query_embeddings=[list(map(float, vector))], n_results=k, include=["distances", "metadatas"]
        )
        return [
            (i, 1.0 - float(d), str((m or {}).get("doc_id", "")))
            for i, d, m in zip(res["ids"][0], res["distances"][0], res["metadatas"][0], strict=True)
        ]
