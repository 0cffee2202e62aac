"""The assistant's Python API: retrieve, answer, stream. The CLI, the UI and the evals call only this.

One :class:`Assistant` holds the loaded models and index handles for a
process, so a batch of questions or a chat session pays the model load once.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from assistant.calibration import Calibration, calibration_path, load_calibration
from assistant.cite import CitationBuilder, PageText
from assistant.extractive import ExtractiveAnswerer, Scored, differing_figures
from assistant.generate import GenerativeAnswerer
from assistant.query import CouncilDirectory, Query, expand_abbreviations, rewrite_follow_up
from assistant.refusal import refusal_features
from assistant.rerank import CrossEncoderReranker, FeatureReranker, FusionOnly, Reranker, TermWeights
from assistant.retrieve import Retriever
from assistant.sentvec import SentenceVectors
from assistant.text import stem
from assistant.types import Answer, Filters, Passage, StreamEvent
from assistant.verify import MARKER
from clerk.settings import Settings, get_settings
from ingest.embed import Embedder, LazyEmbedder, model_name
from ingest.store import ModelChanged, Store

NOT_COVERED = "The indexed documents do not answer this."
#: Where an extractive answer is cut into stream deltas: after each run of citation markers.
_CITED_PIECE = re.compile(r"(?<=\])(?=\s)(?!\s*\[)")


@dataclass
class Retrieval:
    """What retrieval found for one question."""

    query: Query
    passages: list[Passage]  # best first, reranked
    vector: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)


class Assistant:
    """Cited question answering over one clerk index."""

    def __init__(
        self,
        settings: Settings | None = None,
        store: Store | None = None,
        embedder: Embedder | LazyEmbedder | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.store = store or Store(self.settings)
        # Loaded on first use (or ahead, on a thread, by ``clerk serve``), so opening an Assistant is quick.
        s = self.settings
        self.embedder: Embedder | LazyEmbedder = embedder or LazyEmbedder(
            s.embed_model_path, s.embed_batch_size, s.embed_threads, s.answer_wait_policy
        )
        try:  # vectors of another model would make every similarity meaningless
            self.store.require_model(model_name(self.settings))
        except ModelChanged:
            if store is None:
                self.store.close()
            raise
        #: The fitted constants in use, and the file they came from (None: given by the caller).
        self.calibration_path = None if calibration else calibration_path(s.embed_model)
        self.calibration = calibration or load_calibration(self.calibration_path)
        self.retriever = Retriever(
            self.store, self.embedder, self.calibration.bm25_weight, self.calibration.dense_weight
        )
        self.sentence_vectors = SentenceVectors(self.embedder)
        self.term_weights = TermWeights(self.store.registry.conn)
        self.pages = PageText(self.store.registry)
        self.reranker = self._make_reranker(self.settings.reranker)
        self.extractive = ExtractiveAnswerer(self.sentence_vectors, self.term_weights)
        self._generators: dict[str, GenerativeAnswerer] = {}
        self._generators_lock = threading.Lock()
        self._data_version = self.store.registry.version()
        self._directories: dict[bool, tuple[tuple[int, int], CouncilDirectory]] = {}

    def _make_reranker(self, kind: str) -> Reranker:
        if kind == "none":
            return FusionOnly()
        if kind == "features":
            return FeatureReranker(
                self.sentence_vectors, self.term_weights, self.retriever.chunk_vectors, self.calibration.rerank_weights
            )
        return CrossEncoderReranker(kind)

    def close(self) -> None:
        self.store.close()

    def warm_up(self) -> None:
        """Load the model and read the index once, so the first question does not pay for either.

        ``clerk serve`` runs this on a thread once its page is being served.
        """
        self.retrieve("council meeting minutes")
        stem("council")
        self.store.registry.warm_lexical()

    def refresh(self) -> None:
        """Drop what was cached about the index, after documents were added, replaced or deleted.

        A long-running process (``clerk serve``) calls this after a delete through
        its own connection, so term weights and page text never describe
        documents that have changed. Sentence vectors are kept: they are cached
        by chunk id, and a chunk id changes with its text.
        """
        self.term_weights.reset()
        self.store.registry.term_scores.clear()
        self.pages.clear()

    def follow_index(self) -> None:
        """Refresh if another connection committed since the last question.

        Ingest commits one document at a time, from the web app's background
        thread or from ``clerk ingest`` in another process; each commit is
        noticed by the next question (``Registry.version()``, a cheap ``PRAGMA data_version``), so term
        weights count the new chunks and a replaced document's pages are reloaded.
        """
        version = self.store.registry.version()
        if version != self._data_version:
            self._data_version = version
            self.refresh()

    # --- understanding and retrieval ------------------------------------------------------
    def directory(self, include_restricted: bool = False) -> CouncilDirectory:
        """Councils as the documents a viewer may see name them, rebuilt only after the registry changed."""
        version = self.store.registry.version()
        cached = self._directories.get(include_restricted)
        if cached is None or cached[0] != version:
            docs = self.retriever.documents(include_restricted)
            cached = (version, CouncilDirectory.build((d.council or "", d.title or "") for d in docs))
            self._directories[include_restricted] = cached
        return cached[1]

    def analyse(self, question: str, history: Sequence[str] = (), include_restricted: bool = False) -> Query:
        """The standalone, expanded query and the councils it names."""
        directory = self.directory(include_restricted)
        text = rewrite_follow_up(question.strip(), list(history), directory)
        known, unknown = directory.mentioned(text)
        return Query(question=question, text=text, search_text=expand_abbreviations(text), councils=known,
                     council_names=directory.names_of(known), unknown_councils=unknown,
                     focus=directory.without_names(text))

    def retrieve(
        self,
        question: str,
        filters: Filters | None = None,
        k: int | None = None,
        history: Sequence[str] = (),
        mode: str = "hybrid",
        reranker: Reranker | None = None,
    ) -> Retrieval:
        """Candidates from both channels within ``filters``, reranked, best first (``k`` kept)."""
        t0 = time.perf_counter()
        self.follow_index()
        filters = filters or Filters()
        query = self.analyse(question, history, filters.include_restricted)
        if query.unknown_councils and not query.councils and not filters.documents:
            # "Kent County Council" names no council of the index, but a document that names none may be Kent's
            # (a report saying only "the Council"): those are searched, and only those, before refusing.
            query.unattributed = tuple(d.doc_id for d in self.retriever.documents(filters.include_restricted)
                                       if d.names_no_council)
            if query.unattributed:
                filters = replace(filters, documents=query.unattributed)
        passages, vector = self.retriever.candidates(
            query.search_text, self.settings.candidates, filters, mode, query.councils, query.search_focus
        )
        t1 = time.perf_counter()
        ranked = (reranker or self.reranker).rerank(query, passages, vector)
        t2 = time.perf_counter()
        if k is not None:
            ranked = ranked[:k]
        return Retrieval(query, ranked, vector, {"retrieve": (t1 - t0) * 1000, "rerank": (t2 - t1) * 1000})

    def confidence(self, retrieval: Retrieval, scored: list[Scored]) -> float:
        """Probability that the leading passages answer the question (the calibrated refusal model)."""
        if not retrieval.passages:
            return 0.0
        feats = refusal_features(retrieval.query, retrieval.passages[: self.settings.top_k], scored, self.term_weights)
        return self.calibration.answerable_probability(feats)

    # --- answering ---------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        filters: Filters | None = None,
        k: int | None = None,
        backend: str | None = None,
        history: Sequence[str] = (),
        id: str | None = None,
    ) -> Answer:
        """Answer ``question`` with citations, or refuse."""
        final: Answer | None = None
        for event in self.stream(question, filters, k, backend, history, id):
            if event.kind == "final":
                final = event.answer
        assert final is not None
        return final

    def stream(
        self,
        question: str,
        filters: Filters | None = None,
        k: int | None = None,
        backend: str | None = None,
        history: Sequence[str] = (),
        id: str | None = None,
    ) -> Iterator[StreamEvent]:
        """Status, the passages found, answer text as it is produced, then the final :class:`Answer`."""
        t0 = time.perf_counter()
        k = k or self.settings.top_k
        backend = backend or self.settings.backend
        if self.embedder.loaded:
            yield StreamEvent("status", text="Searching the documents")
        else:  # the first question after `clerk serve` starts waits for the model: say so
            yield StreamEvent("status", text="Loading the search model (once after start), then searching the documents")
        retrieval = self.retrieve(question, filters, None, history)
        top = retrieval.passages[:k]
        scored = self.extractive.score_sentences(retrieval.query, top, retrieval.vector)
        confidence = self.confidence(retrieval, scored)
        timings = dict(retrieval.timings_ms)
        yield StreamEvent("passages", passages=top)

        refusal = self._refusal(retrieval, confidence, (filters or Filters()).include_restricted)
        if refusal is not None:
            answer = Answer(question=question, answer=refusal, refused=True, citations=[], backend=backend, id=id,
                            query=retrieval.query.text, confidence=confidence,
                            searched=_closest_documents(retrieval.passages))
            yield StreamEvent("delta", text=refusal)
        elif backend == "extractive":
            answer = self._extractive(retrieval, scored, question, id, confidence)
            yield from _deltas(answer.answer)
        else:
            with self._generators_lock:  # questions answered at once share one model per backend
                gen = self._generators.get(backend)
                if gen is None:
                    gen = GenerativeAnswerer.from_settings(self.settings, backend, self.sentence_vectors)
                    self._generators[backend] = gen
            answer = None
            for event in gen.stream(retrieval.query, top, CitationBuilder(self.pages)):
                if event.kind == "final":
                    answer = event.answer
                else:
                    yield event
            assert answer is not None
            answer.id, answer.question, answer.query, answer.confidence = id, question, retrieval.query.text, confidence
            if not answer.citations:  # nothing the model said survived checking: fall back to the passages
                fallback = self._extractive(retrieval, scored, question, id, confidence)
                fallback.backend = f"extractive (fallback: {answer.backend} gave no supported sentence)"
                fallback.unsupported = answer.unsupported
                answer = fallback
                yield from _deltas(answer.answer)  # nothing was shown yet: a reader of the stream gets this text
        timings["answer"] = (time.perf_counter() - t0) * 1000 - sum(timings.values())
        timings["total"] = (time.perf_counter() - t0) * 1000
        answer.timings_ms = timings
        yield StreamEvent("final", answer=answer)

    def _refusal(self, retrieval: Retrieval, confidence: float, include_restricted: bool) -> str | None:
        query = retrieval.query
        if query.unknown_councils and not query.councils and not query.unattributed:
            held = sorted({d.council for d in self.retriever.documents(include_restricted) if d.council})
            return (
                f"The index holds no documents from {', '.join(query.unknown_councils)}, so it cannot answer this. "
                f"Councils indexed: {', '.join(held)}."
            )
        if not retrieval.passages:
            return f"{NOT_COVERED} No indexed document falls within the filters."
        if confidence < self.calibration.refusal_threshold:
            closest = "; ".join(_closest_documents(retrieval.passages))
            if query.unattributed:
                return (f"{NOT_COVERED} No indexed document is marked as from {', '.join(query.unknown_councils)}; "
                        f"the documents that name no council were searched: {closest}.")
            return f"{NOT_COVERED} Closest documents searched: {closest}."
        return None

    def _extractive(
        self, retrieval: Retrieval, scored: list[Scored], question: str, id: str | None, confidence: float
    ) -> Answer:
        evidence = self.extractive.select(scored, retrieval.query)
        builder = CitationBuilder(self.pages)
        # A "[2]" inside a quoted sentence (a footnote, or a citation planted in the document) would read
        # as one of the answer's own markers and point at another source: only the answer's markers stay.
        parts = [_marked(MARKER.sub("", ev.quote).strip(), builder.cite(ev)) for ev in evidence]
        lead = "The documents differ: " if differing_figures(evidence, question) else ""
        listed = len(evidence) > 2 and evidence[0].quote.rstrip().endswith(":")
        text = (parts[0] + "\n" + "\n".join(f"- {p}" for p in parts[1:])) if listed else " ".join(parts)
        return Answer(question=question, answer=lead + text, refused=False, citations=builder.citations,
                      backend="extractive", id=id, query=retrieval.query.text, confidence=confidence)


def _deltas(text: str) -> Iterator[StreamEvent]:
    """An answer's text as stream events, one quoted sentence (with its markers) at a time."""
    for piece in _CITED_PIECE.split(text):
        if piece:
            yield StreamEvent("delta", text=piece)


def _marked(quote: str, n: int) -> str:
    """A quote with its citation marker: on every line of a list quoted whole, so each item reads as cited."""
    return "\n".join(f"{line.rstrip()} [{n}]" for line in quote.splitlines() if line.strip())


def _closest_documents(passages: list[Passage], n: int = 3) -> list[str]:
    out: list[str] = []
    for p in passages:
        label = f"{p.title or p.source} ({p.source})"
        if label not in out:
            out.append(label)
        if len(out) == n:
            break
    return out
