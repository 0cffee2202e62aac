"""The scoring rules of evals.metrics on small hand-made rows."""

from __future__ import annotations

from evals.metrics import answer_summary, by_type, percentile, recall_at, reciprocal_rank, retrieval_summary


def row(**kw: object) -> dict:
    base = {"type": "number", "answerable": True, "refused": False, "gold_cited": 1.0, "must_include_found": 1,
            "must_include_total": 1, "citation_recall": 1.0, "citation_precision": 1.0, "n_citations": 1,
            "citations_verified": 1, "timings_ms": {"total": 100.0}, "source_ranks": [1], "first_rank": 1}
    return base | kw


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (50, 95, 100)
    assert percentile([7.0], 95) == 7.0 and percentile([], 50) == 0.0


def test_recall_counts_each_gold_source_of_a_multi_document_question() -> None:
    assert recall_at([2, 7], 5) == 0.5 and recall_at([2, None], 10) == 0.5 and recall_at([2, 7], 10) == 1.0
    assert reciprocal_rank(4) == 0.25 and reciprocal_rank(None) == 0.0 and reciprocal_rank(11) == 0.0
    summary = retrieval_summary([row(source_ranks=[1]), row(source_ranks=[3, None], first_rank=3)])
    assert summary["recall_at_k"] == {"1": 0.5, "3": 0.75, "5": 0.75, "10": 0.75}
    assert summary["mrr"] == round((1 + 1 / 3) / 2, 3)


def test_refusals_split_by_answerability_and_are_left_out_of_citation_scores() -> None:
    rows = [
        row(),
        row(refused=True, gold_cited=0.0, citation_recall=None, citation_precision=None, n_citations=0,
            citations_verified=0),
        row(type="unanswerable", answerable=False, refused=True, citation_recall=None, citation_precision=None),
        row(type="unanswerable", answerable=False, refused=False, citation_recall=0.5, citation_precision=0.5),
    ]
    s = answer_summary(rows)
    assert (s["refusal_accuracy"], s["false_refusal_rate"], s["gold_cited"]) == (0.5, 0.5, 0.5)
    assert s["citation_recall"] == 0.75  # the two answered questions: 1.0 and 0.5
    kinds = by_type(rows)
    assert set(kinds) == {"number", "unanswerable"} and kinds["unanswerable"] == {"questions": 2, "refusal_accuracy": 0.5}
