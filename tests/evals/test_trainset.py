"""The training question set: large enough, well-formed, verbatim, and disjoint from every evaluation set."""

from __future__ import annotations

import json
from pathlib import Path

from evals.gold import GOLD_DIR
from evals.trainset import TRAIN_DIR, _rows, check, held_out

TRAIN_FILES = sorted(TRAIN_DIR.glob("*.jsonl"))


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _answerable(qid: str, file: str, support: str, must: list[str]) -> dict:
    return {"id": qid, "question": "When must the clerk give notice of the meeting?", "type": "lookup",
            "style": "plain", "answer": "x", "must_include": must,
            "sources": [{"file": file, "page": None, "support": support, "unit": "sentence"}]}


def test_the_training_set_is_large_disjoint_and_every_span_is_on_its_page() -> None:
    """The whole set against the documents as ingest reads them: a change to cleaning or tables that moves a
    span, or a new evaluation question that overlaps a training one, fails here."""
    assert check(TRAIN_FILES) == []
    rows = [r for f in TRAIN_FILES for r in _rows(f)]
    assert sum(r["type"] != "unanswerable" for r in rows) >= 3000
    assert sum(r["type"] == "unanswerable" for r in rows) >= 800


def test_an_evaluation_span_a_held_out_file_and_a_lost_fact_are_each_reported(tmp_path: Path) -> None:
    dev_span = next(s["support"] for r in _rows(GOLD_DIR / "dev.jsonl") for s in r["sources"] if len(s["support"]) > 80)
    dev_file = next(s["file"] for r in _rows(GOLD_DIR / "dev.jsonl") for s in r["sources"] if s["support"] == dev_span)
    withheld = sorted(held_out())[0]
    bad = _write(tmp_path / "bad.jsonl", [
        _answerable("train-x-1", dev_file, dev_span, []),
        _answerable("train-x-2", withheld, "any words at all", []),
        _answerable("train-x-3", dev_file, dev_span[:40], ["a fact nowhere in the span"]),
        {"id": "train-x-4", "question": "q?", "type": "unanswerable", "style": "plain", "answer": "",
         "must_include": [], "sources": []},
    ])
    problems = "\n".join(check([bad], spans=False))
    assert "train-x-1: its span shares 50 characters with an evaluation span" in problems
    assert f"train-x-2: {withheld} is held out of training" in problems
    assert "train-x-3: must_include 'a fact nowhere in the span' is not in its spans" in problems
    assert "train-x-4: fields must be" in problems  # an unanswerable question without its why


def test_a_question_reworded_from_an_evaluation_question_is_reported(tmp_path: Path) -> None:
    test_q = _rows(GOLD_DIR / "test.jsonl")[0]
    row = _answerable("train-x-5", "x.pdf", "some words", [])
    row["question"] = test_q["question"].rstrip("?") + " please?"
    problems = check([_write(tmp_path / "close.jsonl", [row])], spans=False)
    assert any(p.startswith(f"close.jsonl train-x-5: question close to {test_q['id']}") for p in problems)
