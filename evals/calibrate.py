"""Fit the assistant's constants on the dev questions for the configured embedder, and write them.

The packaged MiniLM's go to ``assistant/calibration.json``; a trained
embedder's to ``calibration.json`` in its own folder, where the assistant looks
for them when that embedder is configured (``assistant.calibration``).

Three fits, in the order the assistant applies them:

1. Fusion weights (BM25 vs dense in reciprocal rank fusion) and the reranker's
   cheap-feature weights, by coordinate ascent on MRR@10 of the gold passage.
2. The weight of the sentence-vector feature, which the reranker computes for
   its leading passages only, on the same objective.
3. The refusal model: logistic regression on features of the best passage,
   labelled by whether the question is answerable, and the threshold that keeps
   false refusals at or under 5% of answerable questions. Refusal figures are
   also reported under 5-fold cross-validation, so the in-sample numbers are
   not mistaken for what a new question will see. With ``--refusal-gold`` the
   weights are fitted on other questions (the training set's thousands) and
   only the threshold on dev.

    python -m evals.calibrate [--gold evals/gold/dev.jsonl] [--out FILE]
    CLERK_EMBED_MODEL=models/embedder CLERK_INDEX=DIR python -m evals.calibrate
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant import Assistant
from assistant.calibration import CALIBRATION_PATH, REFUSAL_FEATURES, Calibration, own_calibration_path
from assistant.refusal import refusal_features
from assistant.rerank import FEATURES, FeatureReranker
from assistant.types import Filters
from evals.gold import DEV, GoldQuestion, first_match, holds, load_gold
from ingest.embed import model_name

GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
FUSION_GRID = ((1.0, 0.4), (1.0, 0.7), (1.0, 1.0), (0.7, 1.0))
MAX_FALSE_REFUSALS = 0.05


@dataclass
class Case:
    """One question's reranker head: feature rows and which rows hold gold evidence."""

    question: GoldQuestion
    x: np.ndarray
    gold: np.ndarray  # bool per row


def head_cases(a: Assistant, gold: list[GoldQuestion], reranker: FeatureReranker) -> list[Case]:
    cases = []
    for g in gold:
        query = a.analyse(g.question)
        passages, vector = a.retriever.candidates(
            query.search_text, a.settings.candidates, councils=query.councils, focus=query.search_focus
        )
        head = sorted(passages, key=lambda p: p.scores.get("rrf", 0.0), reverse=True)[: reranker.depth]
        x = reranker.features(query, head, vector, with_sentences=False) if head else np.zeros((0, len(FEATURES)))
        is_gold = np.array([any(holds(p.source, p.text, s) for s in g.sources) for p in head], dtype=bool)
        cases.append(Case(g, x, is_gold))
    return cases


def mrr(cases: list[Case], w: np.ndarray) -> float:
    total = 0.0
    for c in cases:
        if not c.gold.any():
            continue
        order = np.argsort(-(c.x @ w), kind="stable")
        rank = int(np.nonzero(c.gold[order])[0][0]) + 1
        total += 1.0 / rank if rank <= 10 else 0.0
    return total / max(1, len(cases))


def recall_at(cases: list[Case], w: np.ndarray, k: int) -> float:
    hit = 0
    for c in cases:
        if c.gold.any():
            order = np.argsort(-(c.x @ w), kind="stable")
            hit += int(np.nonzero(c.gold[order])[0][0]) < k
    return hit / max(1, len(cases))


def coordinate_ascent(cases: list[Case], start: dict[str, float], free: list[str], passes: int = 3) -> dict[str, float]:
    w = dict(start)

    def vec(d: dict[str, float]) -> np.ndarray:
        return np.array([d.get(f, 0.0) for f in FEATURES], dtype=np.float32)

    best = mrr(cases, vec(w))
    for _ in range(passes):
        improved = False
        for f in free:
            for v in GRID:
                trial = {**w, f: v}
                score = mrr(cases, vec(trial))
                if score > best + 1e-9:
                    best, w, improved = score, trial, True
        if not improved:
            break
    return w


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.02, steps: int = 6000, lr: float = 0.3) -> np.ndarray:
    """Weights on the raw features (last = bias) of an L2 logistic regression fitted on standardised features."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    xb = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) / len(y) + l2 * np.r_[w[:-1], 0.0]
        w -= lr * grad
    raw = w[:-1] / std
    return np.r_[raw, w[-1] - float(raw @ mean)]


def probabilities(x: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """P(answerable) of each row of raw features under ``coef`` (last = bias), as :func:`fit_logistic` returns it."""
    return 1 / (1 + np.exp(-(np.hstack([x, np.ones((len(x), 1))]) @ coef)))


def pick_threshold(prob: np.ndarray, y: np.ndarray) -> float:
    """Highest threshold whose false refusals (answerable below it) stay within the limit."""
    answerable = np.sort(prob[y == 1])
    allowed = int(np.floor(MAX_FALSE_REFUSALS * len(answerable)))
    return float(answerable[allowed]) - 1e-6 if len(answerable) else 0.5


def refusal_rates(prob: np.ndarray, y: np.ndarray, t: float) -> dict[str, float]:
    return {
        "refusal_on_unanswerable": round(float((prob[y == 0] < t).mean()) if (y == 0).any() else 0.0, 3),
        "false_refusal_on_answerable": round(float((prob[y == 1] < t).mean()) if (y == 1).any() else 0.0, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", default=str(DEV))
    ap.add_argument("--refusal-only", action="store_true", help="keep the fitted retrieval weights; refit refusal")
    ap.add_argument("--refusal-gold", type=Path, nargs="*", default=[],
                    help="fit the refusal model's weights on these questions (e.g. evals/gold/train/*.jsonl); "
                    "its threshold is still chosen on --gold")
    ap.add_argument("--out", type=Path,
                    help="where to write the fitted calibration (default: the configured embedder's own, "
                    "assistant/calibration.json for the packaged model; a trial fit need not replace it)")
    args = ap.parse_args()

    gold = load_gold(Path(args.gold))
    answerable = [g for g in gold if g.answerable]
    a = Assistant()
    args.out = args.out or own_calibration_path(a.settings.embed_model)
    asked = {"gold": Path(args.gold).name, "questions": len(gold), "answerable": len(answerable)}
    fit_on = [g for path in args.refusal_gold for g in load_gold(path)] or None
    fit_name = ", ".join(str(p) for p in args.refusal_gold)
    if args.refusal_only:
        cal = a.calibration
        refit_refusal(a, gold, cal, {**cal.provenance, **asked}, args.out, fit_on, fit_name)
        return
    cal = Calibration()
    start = dict(cal.rerank_weights)
    cheap = [f for f in FEATURES if f != "sentence"]

    # 1. fusion weights x cheap reranker weights
    best: tuple[float, tuple[float, float], dict[str, float], list[Case]] | None = None
    for bw, dw in FUSION_GRID:
        a.retriever.bm25_weight, a.retriever.dense_weight = bw, dw
        reranker = FeatureReranker(a.sentence_vectors, a.term_weights, a.retriever.chunk_vectors, start)
        cases = head_cases(a, answerable, reranker)
        w = coordinate_ascent(cases, {**start, "sentence": 0.0}, cheap)
        score = mrr(cases, np.array([w.get(f, 0.0) for f in FEATURES]))
        print(f"fusion bm25={bw} dense={dw}: MRR@10 {score:.3f}", flush=True)
        if best is None or score > best[0]:
            best = (score, (bw, dw), w, cases)
    assert best is not None
    _, (bw, dw), weights, cases = best
    a.retriever.bm25_weight, a.retriever.dense_weight = bw, dw
    rrf_only = {f: (1.0 if f == "rrf" else 0.0) for f in FEATURES}
    vec = lambda d: np.array([d.get(f, 0.0) for f in FEATURES], dtype=np.float32)  # noqa: E731
    report = {
        "rrf_mrr10": round(mrr(cases, vec(rrf_only)), 3), "rrf_r1": round(recall_at(cases, vec(rrf_only), 1), 3),
        "rrf_r5": round(recall_at(cases, vec(rrf_only), 5), 3),
        "cheap_mrr10": round(mrr(cases, vec(weights)), 3), "cheap_r1": round(recall_at(cases, vec(weights), 1), 3),
        "cheap_r5": round(recall_at(cases, vec(weights), 5), 3),
    }

    # 2. sentence weight, with the cascade as the assistant runs it
    best_sw, best_score = 0.0, -1.0
    for sw in (0.0, 0.5):  # measured over the full GRID: 0 is best (0.707 vs 0.692 at 0.25, 0.632 at 4)
        trial = {**weights, "sentence": sw}
        reranker = FeatureReranker(a.sentence_vectors, a.term_weights, a.retriever.chunk_vectors, trial)
        hits = 0.0
        for g in answerable:
            r = a.retrieve(g.question, Filters.everything(), k=10, reranker=reranker)
            rank = first_match([(p.source, p.text) for p in r.passages], g.sources)
            hits += 1.0 / rank if rank else 0.0
        score = hits / len(answerable)
        print(f"sentence weight {sw}: MRR@10 {score:.3f}", flush=True)
        if score > best_score + 1e-9:
            best_sw, best_score = sw, score
    weights["sentence"] = best_sw
    report["final_mrr10"] = round(best_score, 3)
    cal.bm25_weight, cal.dense_weight, cal.rerank_weights = bw, dw, weights

    a.reranker = FeatureReranker(a.sentence_vectors, a.term_weights, a.retriever.chunk_vectors, weights)
    report.update(asked)
    refit_refusal(a, gold, cal, report, args.out, fit_on, fit_name)


def cross_validated_rates(x: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    """Refusal rates under 5-fold cross-validation of the model and its threshold: what a new question sees."""
    rng = np.random.default_rng(0)
    folds = np.array_split(rng.permutation(len(y)), 5)
    cv_prob, cv_t = np.zeros(len(y)), np.zeros(len(y))
    for fold in folds:
        train = np.setdiff1d(np.arange(len(y)), fold)
        c = fit_logistic(x[train], y[train])
        cv_t[fold] = pick_threshold(probabilities(x[train], c), y[train])
        cv_prob[fold] = probabilities(x[fold], c)
    return {
        "refusal_on_unanswerable": round(float((cv_prob[y == 0] < cv_t[y == 0]).mean()), 3) if (y == 0).any() else None,
        "false_refusal_on_answerable": round(float((cv_prob[y == 1] < cv_t[y == 1]).mean()), 3),
    }


def refusal_rows(a: Assistant, gold: list[GoldQuestion]) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The refusal features of each question as the assistant is configured, its label (answerable), and
    how many of each kind the council rule refuses before the model is consulted (they are not rows)."""
    rows, labels = [], []
    by_rule = {"answerable": 0, "unanswerable": 0}
    for g in gold:
        r = a.retrieve(g.question, Filters.everything())
        if r.query.unknown_councils and not r.query.councils:
            by_rule["answerable" if g.answerable else "unanswerable"] += 1  # refused before the model is consulted
            continue
        top = r.passages[: a.settings.top_k]
        feats = refusal_features(r.query, top, a.extractive.score_sentences(r.query, top, r.vector), a.term_weights)
        rows.append([feats.get(f, 0.0) for f in REFUSAL_FEATURES])
        labels.append(1.0 if g.answerable else 0.0)
    return np.array(rows), np.array(labels), by_rule


def refit_refusal(
    a: Assistant, gold: list[GoldQuestion], cal: Calibration, report: dict, out: Path = CALIBRATION_PATH,
    fit_on: list[GoldQuestion] | None = None, fit_name: str = "",
) -> None:
    """Fit the refusal model on the assistant as configured, save it to ``out``, and print what was measured.

    The weights are fitted on ``fit_on`` (the training questions: thousands, where the dev set holds a
    couple of hundred) when given, else on ``gold``; the threshold is always chosen on ``gold``, the
    dev set, so that the false-refusal limit holds on questions the weights were not fitted on.
    """
    a.calibration = cal
    a.reranker = FeatureReranker(a.sentence_vectors, a.term_weights, a.retriever.chunk_vectors, cal.rerank_weights)
    for stale in ("refusal_fitted_on", "refusal_on_fitted_questions", "refusal_5fold_cv"):
        report.pop(stale, None)  # a refit's report says how this fit was made, not an earlier one
    x, y, by_rule = refusal_rows(a, gold)
    report["refused_by_council_rule"] = by_rule
    if fit_on:
        x_fit, y_fit, _ = refusal_rows(a, fit_on)
        report["refusal_fitted_on"] = {"gold": fit_name, "questions": len(y_fit),
                                       "unanswerable": int((y_fit == 0).sum())}
    else:
        x_fit, y_fit = x, y
    coef = fit_logistic(x_fit, y_fit)
    prob = probabilities(x, coef)
    cal.refusal_weights = {f: round(float(c), 4) for f, c in zip(REFUSAL_FEATURES, coef[:-1], strict=True)}
    cal.refusal_bias = round(float(coef[-1]), 4)
    cal.refusal_threshold = math.floor(pick_threshold(prob, y) * 1e4) / 1e4  # rounded down: never more refusals
    report["refusal_in_sample"] = refusal_rates(prob, y, cal.refusal_threshold)
    n_un = int((y == 0).sum()) + by_rule["unanswerable"]
    n_an = int((y == 1).sum()) + by_rule["answerable"]
    report["refusal_overall_in_sample"] = {
        "refusal_on_unanswerable": round((int((prob[y == 0] < cal.refusal_threshold).sum()) + by_rule["unanswerable"]) / max(1, n_un), 3),
        "false_refusal_on_answerable": round((int((prob[y == 1] < cal.refusal_threshold).sum()) + by_rule["answerable"]) / max(1, n_an), 3),
    }
    if fit_on:
        report["refusal_on_fitted_questions"] = refusal_rates(probabilities(x_fit, coef), y_fit, cal.refusal_threshold)
    else:
        report["refusal_5fold_cv"] = cross_validated_rates(x, y)
    report["fitted"] = dt.date.today().isoformat()
    report["embedder"] = model_name(a.settings)  # the vectors every score above came from
    cal.provenance = report
    cal.save(out)
    print(json.dumps(report, indent=1), "threshold", cal.refusal_threshold)


if __name__ == "__main__":
    main()
