"""clerk as llama-index components, on the real four-document access index (two restricted).

The retriever's nodes are the index's own chunks, best first, with their provenance; llama-index's own
query engine runs on them; clerk's query engine returns its cited answer, each source node a quote
found on its page, and keeps restricted documents out of the public view.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from llama_index.core.base.response.schema import Response
from llama_index.core.llms.mock import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, NodeWithScore

from assistant import Assistant
from assistant.integrations.llama_index import ClerkQueryEngine, ClerkRetriever
from assistant.text import normalise
from assistant.types import Filters

pytestmark = pytest.mark.slow

CONDUCT = "What must a Hertingfordbury councillor do about a disclosable pecuniary interest?"
RESERVES = "How many months of expenditure should Hertingfordbury hold as a general reserve?"
FIELDS = {"doc_id", "source", "title", "council", "doc_type", "date", "page", "page_end", "section", "link"}


@pytest.fixture(scope="module")
def assistant(access_settings, embedder):
    a = Assistant(access_settings, embedder=embedder)
    yield a
    a.close()


@pytest.fixture(scope="module")
def restricted(assistant) -> set[str]:
    hidden = {d.doc_id for d in assistant.store.registry.documents() if d.restricted}
    assert len(hidden) == 2
    return hidden


def test_retriever_gives_the_index_chunks_best_first_with_their_provenance(assistant, restricted):
    nodes = ClerkRetriever(assistant).retrieve(CONDUCT)
    assert nodes and all(isinstance(n, NodeWithScore) for n in nodes)
    assert len(nodes) <= assistant.settings.top_k
    scores = [n.score for n in nodes]
    assert scores == sorted(scores, reverse=True)
    rows = {r["id"]: r for r in assistant.store.registry.chunks([n.node.node_id for n in nodes])}
    for n in nodes:
        meta, row = n.node.metadata, rows[n.node.node_id]
        assert set(meta) >= FIELDS
        assert n.node.text == row["text"]
        assert (meta["doc_id"], meta["page"], meta["page_end"]) == (row["doc_id"], row["page_start"], row["page_end"])
        assert meta["link"] == f"/files/{meta['doc_id']}#page={meta['page']}"
        shown = n.node.get_content(MetadataMode.LLM)
        assert meta["title"] in shown and meta["link"] not in shown and meta["doc_id"] not in shown
    assert not {n.node.metadata["doc_id"] for n in nodes} & restricted
    assert nodes[0].node.metadata["source"].endswith("hpc-code-of-conduct.pdf")


def test_restricted_documents_are_reachable_only_with_everything(assistant, restricted):
    public = ClerkRetriever(assistant).retrieve(RESERVES)
    assert public and not {n.node.metadata["doc_id"] for n in public} & restricted
    officer = ClerkRetriever(assistant, Filters.everything(), k=3).retrieve(RESERVES)
    assert len(officer) <= 3
    assert officer[0].node.metadata["source"].endswith("hpc-reserves-policy.pdf")


def test_async_retrieval_matches_sync(assistant):
    retriever = ClerkRetriever(assistant)
    nodes = asyncio.run(retriever.aretrieve(CONDUCT))
    assert [n.node.node_id for n in nodes] == [n.node.node_id for n in retriever.retrieve(CONDUCT)]


def test_llama_index_query_engine_runs_on_the_retriever(assistant):
    retriever = ClerkRetriever(assistant)
    # MockLLM answers with the prompt it was given: what llama-index's synthesizer showed the model.
    response = RetrieverQueryEngine.from_args(retriever, llm=MockLLM()).query(CONDUCT)
    assert isinstance(response, Response)
    expected = retriever.retrieve(CONDUCT)
    assert [n.node.node_id for n in response.source_nodes] == [n.node.node_id for n in expected]
    assert [n.score for n in response.source_nodes] == [n.score for n in expected]
    top = expected[0].node.metadata
    assert f"title: {top['title']}" in response.response and f"section: {top['section']}" in response.response
    assert "link:" not in response.response and "doc_id:" not in response.response


def test_query_engine_returns_clerk_answer_with_quotes_as_source_nodes(assistant):
    response = ClerkQueryEngine(assistant).query(CONDUCT)
    assert isinstance(response, Response)
    assert response.metadata["refused"] is False and response.source_nodes
    assert response.metadata["answer"]["answer"] == response.response
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", response.response)}
    assert markers == {n.node.metadata["n"] for n in response.source_nodes}
    citations = response.metadata["answer"]["citations"]
    assert [n.node.metadata["chunk_id"] for n in response.source_nodes] == [c["chunk_id"] for c in citations]
    assert len({n.node.node_id for n in response.source_nodes}) == len(citations)  # two quotes of one chunk too
    for node in response.source_nodes:
        meta = node.node.metadata
        pages = {p.number: normalise(p.text) for p in assistant.store.registry.pages(meta["doc_id"])}
        assert normalise(node.node.text) in pages[meta["page"]], meta
        assert meta["verified"] is True
        assert meta["link"] == f"/files/{meta['doc_id']}#page={meta['page']}"


def test_query_engine_refuses_the_public_and_answers_the_operator(assistant, restricted):
    public = asyncio.run(ClerkQueryEngine(assistant).aquery(RESERVES))
    assert public.metadata["refused"] is True and not public.source_nodes, public.response
    officer = ClerkQueryEngine(assistant, Filters.everything()).query(RESERVES)
    assert officer.metadata["refused"] is False and officer.source_nodes
    assert {n.node.metadata["doc_id"] for n in officer.source_nodes} & restricted
    assert "12 months" in officer.response
