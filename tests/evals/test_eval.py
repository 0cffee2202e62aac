"""`clerk eval` end to end on the bundled corpus index, and the committed quality baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clerk.cli import main
from evals.baseline import BASELINE, Baseline
from evals.gold import DEV, load_gold

pytestmark = pytest.mark.slow

#: A lookup, a page-specific figure, a two-document question and a council the corpus does not hold.
IDS = ("dev-001", "dev-057", "dev-072")


def small_gold(tmp_path: Path) -> Path:
    lines = {json.loads(line)["id"]: line for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()}
    multi = next(g.id for g in load_gold(DEV) if g.kind == "multi_doc")
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join(lines[i] for i in (*IDS, multi)) + "\n", encoding="utf-8")
    return path


def test_eval_writes_summary_report_and_plots(index_settings, tmp_path, capsys) -> None:
    out = tmp_path / "results"
    status = main(["eval", "--gold", str(small_gold(tmp_path)), "--index", str(index_settings.index),
                   "--out", str(out), "--json"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out)

    assert summary["questions"] == 4 and summary["answerable"] == 3 and summary["unanswerable"] == 1
    assert set(summary["recall_at_k"]) == {"1", "3", "5", "10"}
    for key in ("mrr", "citation_recall", "citation_precision", "gold_cited", "must_include"):
        assert 0.0 <= summary[key] <= 1.0, key
    assert summary["refusal_accuracy"] == 1.0  # Birmingham is not in the corpus
    assert summary["false_refusal_rate"] == 0.0
    assert summary["citations_verified"] == 1.0
    assert 0 < summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"] == summary["latency_ms"]["total"]["p95"]
    assert {"retrieve", "rerank", "answer"} <= set(summary["latency_ms"])
    assert summary["by_type"]["unanswerable"]["refusal_accuracy"] == 1.0
    assert set(summary["retrievers"]) == {"bm25", "dense", "hybrid", "hybrid+rerank"}
    # the reranked list keeps every gold passage within the five an answer is drawn from, and ranks
    # them higher than either channel alone (its gain over plain fusion is measured on the whole dev set)
    reranked = summary["retrievers"]["hybrid+rerank"]
    assert reranked["recall_at_k"]["5"] == 1.0
    assert reranked["mrr"] > max(summary["retrievers"][c]["mrr"] for c in ("bm25", "dense"))

    rows = [json.loads(line) for line in (out / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows][:3] == list(IDS)
    trafford = rows[1]
    assert trafford["gold_cited"] == 1.0 and "46.9p" in trafford["answer"]
    assert trafford["retrieval_first_rank"]["hybrid+rerank"] is not None
    assert all(s["supported"] for s in trafford["statements"])
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Retrieval ablation" in report and "dev-072" not in report.split("Unanswerable questions answered")[1][:200]
    for png in ("recall_at_k.png", "latency.png", "by_type.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG", png
    meta = json.loads((out / "summary.json").read_text(encoding="utf-8"))["meta"]
    assert meta["index"]["documents"] >= 60 and meta["gold"]["sha256"] and meta["seed"] == 0


def test_eval_rejects_a_bad_gold_file_naming_file_and_line(index_settings, tmp_path, capsys) -> None:
    gold = small_gold(tmp_path)
    gold.write_text(gold.read_text(encoding="utf-8") + '{"id": "x", "question": ""}\n', encoding="utf-8")
    status = main(["eval", "--gold", str(gold), "--index", str(index_settings.index), "--out", str(tmp_path / "o")])
    assert status == 2
    assert f"{gold}:5: 'question' must be a non-empty string" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_quality_has_not_fallen_below_the_committed_baseline(assistant) -> None:
    """A fixed, type-stratified subset of the dev set must keep its citation and refusal scores."""
    from evals.harness import evaluate

    baseline = Baseline.load(BASELINE)
    gold = baseline.select(load_gold(baseline.gold))
    assert {g.kind for g in gold} == {g.kind for g in load_gold(baseline.gold)}  # every kind of question watched
    run = evaluate(assistant, gold, ["extractive"], ablation=False, gold_path=baseline.gold)
    assert baseline.regressions(run.summary) == [], run.summary
