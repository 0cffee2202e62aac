"""Scores of one evaluated question, and how a run's questions add up to a summary.

Each function takes plain values (ranks, flags, milliseconds) so the rules are
easy to read and test; :mod:`evals.harness` produces the values.

- ``recall_at_k``: share of a question's gold sources held by a passage in the
  top k, averaged over answerable questions (for single-source questions, the
  hit rate at k).
- ``mrr``: reciprocal rank of the first passage holding any gold source, 0 when
  none of the top 10 does.
- ``gold_cited``: share of a question's gold sources that a citation holds
  (``gold_cited_any``: at least one of them).
- ``must_include``: share of the must-include strings found in the answer,
  ignoring case, whitespace runs and hyphens, pooled over questions.
- ``refusal_accuracy``: share of unanswerable questions refused;
  ``false_refusal_rate``: share of answerable questions refused.
- ``citation_recall`` / ``citation_precision``: the ALCE-style judge of
  :mod:`evals.judge`, averaged over answered questions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from statistics import fmean

CUTOFFS = (1, 3, 5, 10)
DEPTH = max(CUTOFFS)
STAGES = ("retrieve", "rerank", "answer", "total")


def recall_at(found_ranks: Sequence[int | None], k: int) -> float:
    """Share of gold sources whose first holding passage ranks within ``k``."""
    return sum(r is not None and r <= k for r in found_ranks) / len(found_ranks) if found_ranks else 0.0


def reciprocal_rank(first: int | None, depth: int = DEPTH) -> float:
    return 1.0 / first if first is not None and first <= depth else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(fmean(kept), 3) if kept else None


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 3) if den else None


def retrieval_summary(rows: Sequence[dict]) -> dict:
    """recall@k and MRR of one retriever over rows with ``source_ranks`` and ``first_rank``."""
    scored = [r for r in rows if r["source_ranks"]]
    return {
        "questions": len(scored),
        "recall_at_k": {str(k): _mean(recall_at(r["source_ranks"], k) for r in scored) for k in CUTOFFS},
        "mrr": _mean(reciprocal_rank(r["first_rank"]) for r in scored),
    }


def answer_summary(rows: Sequence[dict]) -> dict:
    """Answer, citation and refusal scores of one backend over per-question rows."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    answered = [r for r in rows if not r["refused"]]
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "gold_cited": _mean(r["gold_cited"] for r in answerable),
        "gold_cited_any": _mean(float(r["gold_cited"] > 0) for r in answerable),
        "must_include": _ratio(sum(r["must_include_found"] for r in answerable),
                               sum(r["must_include_total"] for r in answerable)),
        "citation_recall": _mean(r["citation_recall"] for r in answered),
        "citation_precision": _mean(r["citation_precision"] for r in answered),
        "citations_verified": _ratio(sum(r["citations_verified"] for r in rows), sum(r["n_citations"] for r in rows)),
        "refusal_accuracy": _ratio(sum(r["refused"] for r in unanswerable), len(unanswerable)),
        "false_refusal_rate": _ratio(sum(r["refused"] for r in answerable), len(answerable)),
        "errors": sum("error" in r for r in rows),
    }


def latency_summary(rows: Sequence[dict]) -> dict:
    """p50 and p95 of the whole answer (top level) and of each stage (by stage name)."""
    out: dict = {}
    for stage in STAGES:
        values = [r["timings_ms"][stage] for r in rows if stage in r["timings_ms"]]
        if values:
            out[stage] = {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1)}
    return out.get("total", {"p50": None, "p95": None}) | out


def by_type(rows: Sequence[dict]) -> dict[str, dict]:
    """The main scores for each question type, so weak kinds of question stand out."""
    kinds: dict[str, list[dict]] = {}
    for r in rows:
        kinds.setdefault(r["type"], []).append(r)
    out = {}
    for kind, group in sorted(kinds.items()):
        s = answer_summary(group)
        entry = {"questions": len(group)}
        if s["answerable"]:
            entry |= {k: s[k] for k in ("gold_cited", "must_include", "citation_recall", "false_refusal_rate")}
            entry["recall_at_5"] = retrieval_summary(group)["recall_at_k"]["5"]
        if s["unanswerable"]:
            entry["refusal_accuracy"] = s["refusal_accuracy"]
        out[kind] = entry
    return out
