"""The index: Chroma (dense vectors) and the SQLite registry (documents, pages, chunks, BM25), kept in step.

Write order makes every interruption safe. New vectors are added to Chroma
first (ids are content-derived, so re-adding is harmless); then the registry
swaps the document's chunks in one transaction; then vectors no longer
referenced are deleted. Until the swap commits, the previous version of the
document stays searchable; after a crash, :meth:`Store.reconcile` removes
vectors the registry does not reference and flags documents whose vectors are
missing so the next run re-embeds them. The registry is the source of truth.

With a Chroma server (``Settings.chroma_server``) the vectors live on the
server while the registry stays in the index folder. The collection records
which index it belongs to, so two index folders can never share one collection
(reconcile would delete the other's vectors as unreferenced); a folder opened
against a server without its vectors re-embeds them on the next ingest.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from clerk.settings import Settings
from ingest.chunk import embedding_text
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


#: Collection metadata key naming the index (registry meta ``index_id``) the vectors belong to.
OWNER_KEY = "clerk_index"


class IndexMismatch(RuntimeError):
    """The index cannot be used as configured: another embedding model, or a collection of another index."""


class ModelChanged(IndexMismatch):
    """The index's vectors were made by another embedding model than the configured one."""

    def __init__(self, known: str, model: str, index: object) -> None:
        self.known, self.model = known, model
        super().__init__(
            f"the index in {index} was embedded with {known}; the configured model is {model}. "
            "Run `clerk ingest` to embed it again with the configured model (or set CLERK_EMBED_MODEL back)."
        )


class ChromaUnavailable(RuntimeError):
    """The Chroma server could not be reached, or refused clerk's requests."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the Chroma server at {url}: {reason}")
        self.url = url
        self.reason = reason


def _reason(exc: BaseException) -> str:
    """The most specific cause of a failed request (chromadb wraps connection errors in a generic ValueError)."""
    import httpx

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.HTTPError) and str(seen):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


def _chroma_client(settings: Settings):
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=True)
    server = settings.chroma_server
    if server is None:
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    token = settings.chroma_token.get_secret_value()
    if token:  # chromadb's own token provider: it builds the header and keeps the token a SecretStr
        chroma_settings.chroma_client_auth_provider = "chromadb.auth.token_authn.TokenAuthClientProvider"
        chroma_settings.chroma_client_auth_credentials = token
        chroma_settings.chroma_auth_token_transport_header = settings.chroma_token_header
    return chromadb.HttpClient(host=server.url, port=server.port, ssl=server.ssl, settings=chroma_settings)


class Store:
    """Chroma collection + SQLite registry of one index folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        server = settings.chroma_server
        self.server_url = server.url if server else None
        # The server first: one that cannot be reached leaves nothing behind in the index folder.
        with self._server(connecting=True):
            self.client = _chroma_client(settings)
            # embedding_function=None: clerk supplies every vector itself; Chroma's
            # default function would try to download a model.
            self.collection = self.client.get_or_create_collection(
                settings.collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
        settings.index.mkdir(parents=True, exist_ok=True)
        self.registry = Registry(settings.registry_path, settings.lexical_cache_postings)
        try:
            with self._server(connecting=True):
                self._claim_collection()
        except BaseException:
            self.registry.close()
            raise

    def close(self) -> None:
        self.registry.close()

    @contextmanager
    def _server(self, connecting: bool = False) -> Iterator[None]:
        """Report a Chroma server that is down or refuses clerk as :class:`ChromaUnavailable`.

        Only in server mode: the embedded store raises its own errors unchanged.
        While connecting, chromadb turns every failure into a ValueError or a
        ChromaError; later, a server that went away shows as an httpx error.
        """
        if self.server_url is None:
            yield
            return
        import httpx
        from chromadb.errors import AuthorizationError, ChromaAuthError, ChromaError

        try:
            yield
        except httpx.HTTPError as exc:
            raise ChromaUnavailable(self.server_url, _reason(exc)) from exc
        except (ChromaAuthError, AuthorizationError) as exc:
            raise ChromaUnavailable(self.server_url, f"the server refused the request ({exc.message()})") from exc
        except (ValueError, ChromaError) as exc:
            if connecting:
                raise ChromaUnavailable(self.server_url, _reason(exc)) from exc
            raise

    def _claim_collection(self) -> None:
        """Bind the collection to this index folder, or refuse one that belongs to another.

        Reconcile deletes vectors the registry does not know, so a collection
        shared by two registries would lose the vectors of one to the other.
        A collection without an owner (new, or written before owners were
        recorded) is claimed.
        """
        index_id = self.registry.meta_once("index_id", uuid.uuid4().hex)
        meta = dict(self.collection.metadata or {})
        owner = meta.get(OWNER_KEY)
        if owner == index_id:
            return
        if owner is not None:
            if self.server_url:
                where, rebuild = f"on the Chroma server at {self.server_url}", "delete it on the server"
            else:
                where, rebuild = f"in {self.settings.chroma_dir}", f"delete {self.settings.chroma_dir}"
            raise IndexMismatch(
                f"the Chroma collection '{self.settings.collection}' {where} belongs to another clerk index, "
                f"not to {self.settings.index}: give this index a collection of its own (CLERK_COLLECTION), "
                f"or {rebuild} to rebuild it from this index"
            )
        self.collection.modify(metadata={**meta, OWNER_KEY: index_id})

    # --- model binding -------------------------------------------------------------
    def bind_model(self, model: str, dimension: int) -> None:
        """Record the embedding model on first use; refuse to mix vectors of two models.

        A changed model raises :class:`ModelChanged`: the ingest pipeline
        answers it by embedding every chunk again (:meth:`replace_vectors`).
        """
        known = self.registry.get_meta("embed_model")
        if known is None:
            self.registry.set_meta("embed_model", model)
            self.registry.set_meta("embed_dimension", str(dimension))
        elif self.registry.get_meta("embed_dimension") != str(dimension):
            raise ModelChanged(known, model, self.settings.index)
        else:
            self.require_model(model)

    def require_model(self, model: str) -> None:
        """Refuse vectors another model made, or that a stopped re-embedding left half replaced.

        Readers call this before searching (similarities of two models mean
        nothing together); an index with no model recorded yet passes.
        """
        known, pending = self.registry.get_meta("embed_model"), self.model_pending()
        if known is not None and (known != model or pending is not None):
            raise ModelChanged(known if pending is None else f"{known} (partly re-embedded)", model,
                               self.settings.index)

    def model_pending(self) -> str | None:
        """The model a re-embedding was replacing the vectors with when it stopped (None: none was under way)."""
        return self.registry.get_meta("embed_model_pending")

    def replace_vectors(
        self, model: str, dimension: int, embed: Callable[[list[str], Callable[[int], None] | None], np.ndarray],
        progress: Callable[[int], None] | None = None, batch: int = 512,
    ) -> int:
        """Every chunk embedded again by ``embed`` and its vector replaced; returns how many.

        The registry marks the run as pending first and names the new model only
        at the end, so an interrupted run leaves an index that every reader
        refuses (mixed vectors rank nonsense) and the next ingest finishes it.
        """
        if self.registry.get_meta("embed_dimension") not in (None, str(dimension)):
            raise IndexMismatch(
                f"the index in {self.settings.index} holds {self.registry.get_meta('embed_dimension')}-dimensional "
                f"vectors; the configured model {model} makes {dimension}-dimensional ones. Use another --index, "
                "or delete the index folder to rebuild."
            )
        self.registry.set_meta("embed_model_pending", model)
        chunks = self.registry.chunks()
        for lo in range(0, len(chunks), batch):
            part = chunks[lo : lo + batch]
            texts = [embedding_text(c["title"] or "", c["section"] or "", c["text"]) for c in part]
            vectors = embed(texts, progress)
            for clo in range(0, len(part), _CHROMA_BATCH):
                with self._server():
                    self.collection.update(ids=[c["id"] for c in part[clo : clo + _CHROMA_BATCH]],
                                           embeddings=vectors[clo : clo + _CHROMA_BATCH])
        self.registry.set_meta("embed_model", model)
        self.registry.set_meta("embed_dimension", str(dimension))
        self.registry.delete_meta("embed_model_pending")
        return len(chunks)

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
            with self._server():
                self.collection.upsert(
                    ids=new_ids[lo : lo + _CHROMA_BATCH],
                    embeddings=vectors[lo : lo + _CHROMA_BATCH],
                    metadatas=[{k: n.metadata[k] for k in CHROMA_METADATA} for n in part],
                )
        self.registry.replace_content(rec, pages, nodes, tokens)
        self._delete_vectors(old_ids - set(new_ids))

    def redescribe(self, rec: DocumentRecord, vectors: dict[str, np.ndarray] | None = None) -> None:
        """New metadata for an indexed document; ``vectors``: its chunks embedded again under a new title.

        Vectors first, then the registry, as for a new version: a crash between
        the two leaves the old metadata with the new title's vectors, which a
        repeat of the correction repairs.
        """
        if vectors:
            ids = list(vectors)
            for lo in range(0, len(ids), _CHROMA_BATCH):
                part = ids[lo : lo + _CHROMA_BATCH]
                with self._server():
                    self.collection.update(ids=part, embeddings=np.stack([vectors[i] for i in part]))
        self.registry.redescribe(rec)

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
            with self._server():
                self.collection.delete(ids=ids[lo : lo + _CHROMA_BATCH])

    # --- consistency -------------------------------------------------------------
    def vector_ids(self) -> set[str]:
        """Ids of every vector in the collection (compared with the registry's chunk ids)."""
        ids: set[str] = set()
        offset = 0
        while True:
            with self._server():
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

    def missing_vectors(self) -> int:
        """How many more chunks the registry holds than the collection has vectors (0 when in step).

        One count on each side, cheap enough to check before answering: a
        positive number means the index folder is used with a Chroma server (or
        collection) that lacks its vectors, and dense search misses those chunks
        until the next ingest re-embeds them.
        """
        in_registry = self.registry.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        with self._server():
            in_chroma = self.collection.count()
        return max(0, in_registry - in_chroma)

    # --- reads used by retrieval ---------------------------------------------------
    def dense_search(
        self, vector: Sequence[float], k: int = 50, where: dict | None = None
    ) -> list[tuple[str, float]]:
        """Chunk ids by cosine similarity (higher is better)."""
        with self._server():
            if self.collection.count() == 0:
                return []
            res = self.collection.query(
                query_embeddings=[list(map(float, vector))], n_results=k, where=where, include=["distances"]
            )
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored embeddings of ``chunk_ids`` (those that have one)."""
        if not chunk_ids:
            return {}
        with self._server():
            got = self.collection.get(ids=list(chunk_ids), include=["embeddings"])
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"], strict=True)}

    def nearest_with_documents(self, vector: Sequence[float], k: int) -> list[tuple[str, float, str]]:
        """``(chunk id, cosine similarity, doc_id)`` of the ``k`` nearest chunks, unfiltered."""
        with self._server():
            if self.collection.count() == 0:
                return []
            res = self.collection.query(
                query_embeddings=[list(map(float, vector))], n_results=k, include=["distances", "metadatas"]
            )
        return [
            (i, 1.0 - float(d), str((m or {}).get("doc_id", "")))
            for i, d, m in zip(res["ids"][0], res["distances"][0], res["metadatas"][0], strict=True)
        ]
