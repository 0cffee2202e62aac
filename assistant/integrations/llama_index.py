"""clerk's index and cited answers as llama-index components, for an app built on llama-index.

:class:`ClerkRetriever` gives clerk's hybrid, reranked passages as nodes (the app synthesises its own
answer); :class:`ClerkQueryEngine` gives clerk's own answer, whose ``[n]`` markers are its source nodes
(quotes checked against their page, refusals kept). Both go through :class:`assistant.Assistant`, so
filters, restricted documents and the refusal model behave exactly as in ``clerk ask`` and the app.
Only this module imports llama_index for them: the rest of clerk does not need it to answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks import CallbackManager
from llama_index.core.prompts.mixin import PromptMixinType
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from assistant.engine import Assistant
from assistant.types import Citation, Filters, Passage

#: Metadata an LLM reads beside a node's text (to name its source); the rest (ids, paths, links,
#: scores) is for the app and is kept out of prompts and embeddings, where it would only be noise.
LLM_VISIBLE = frozenset({"n", "title", "council", "date", "page", "page_end", "section"})


def _node(id_: str, text: str, score: float, metadata: dict[str, Any]) -> NodeWithScore:
    """A scored node with its provenance and link as metadata, only :data:`LLM_VISIBLE` keys shown to models."""
    hidden = [key for key in metadata if key not in LLM_VISIBLE]
    node = TextNode(
        id_=id_, text=text, metadata=metadata, excluded_embed_metadata_keys=hidden, excluded_llm_metadata_keys=hidden
    )
    return NodeWithScore(node=node, score=float(score))


def passage_node(p: Passage) -> NodeWithScore:
    """A retrieved passage as a node: its chunk id and indexed text, its pages and section."""
    fields = {k: v for k, v in p.to_json().items() if k not in ("chunk_id", "text", "score")}
    return _node(p.chunk_id, p.text, p.score, fields)


def citation_node(c: Citation) -> NodeWithScore:
    """A citation as a node whose text is its quote (``[n]`` in the answer); its passage is ``chunk_id``'s.

    The node id carries ``n``: two quotes from one chunk are two citations, and nodes sharing an id
    would be merged by llama-index components that deduplicate by id.
    """
    fields = {k: v for k, v in c.to_json().items() if k not in ("quote", "text")}
    return _node(f"{c.chunk_id or c.doc_id}:{c.n}", c.quote, c.score, fields | {"link": c.link})


class ClerkRetriever(BaseRetriever):
    """clerk's retrieval (BM25 and dense, fused, reranked) as a llama-index retriever.

    ``filters`` defaults to ``Filters()``, the public view: restricted documents are invisible, as in
    the app for a viewer who is not signed in. The operator, or an app acting for someone entitled
    to them, passes ``Filters.everything()`` to include them.
    """

    def __init__(
        self,
        assistant: Assistant,
        filters: Filters | None = None,
        k: int | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        self.assistant = assistant
        self.filters = filters or Filters()
        self.k = k or assistant.settings.top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        retrieval = self.assistant.retrieve(query_bundle.query_str, self.filters, self.k)
        return [passage_node(p) for p in retrieval.passages]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        # Retrieval is CPU-bound (embedding, SQLite): on a thread, so the app's event loop keeps serving.
        return await asyncio.to_thread(self._retrieve, query_bundle)


class ClerkQueryEngine(BaseQueryEngine):
    """clerk's cited answer (or refusal) as a llama-index query engine; no llama-index LLM is used.

    The response text is clerk's answer with its ``[n]`` markers, the source nodes its citations in
    order, and ``metadata`` says whether it refused, which backend answered, the refusal model's
    confidence and the whole answer as ``clerk ask --json`` gives it. ``filters`` as for
    :class:`ClerkRetriever`: the public view unless ``Filters.everything()`` is passed.
    """

    def __init__(
        self,
        assistant: Assistant,
        filters: Filters | None = None,
        k: int | None = None,
        backend: str | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager)
        self.assistant = assistant
        self.filters = filters or Filters()
        self.k = k or assistant.settings.top_k
        self.backend = backend

    def _get_prompt_modules(self) -> PromptMixinType:
        return {}  # clerk's prompts are its own (assistant.generate), not llama-index prompt templates

    def _query(self, query_bundle: QueryBundle) -> Response:
        answer = self.assistant.ask(query_bundle.query_str, filters=self.filters, k=self.k, backend=self.backend)
        metadata = {
            "refused": answer.refused,
            "backend": answer.backend,
            "confidence": answer.confidence,
            "answer": answer.to_json(),
        }
        return Response(
            response=answer.answer, source_nodes=[citation_node(c) for c in answer.citations], metadata=metadata
        )

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return await asyncio.to_thread(self._query, query_bundle)
