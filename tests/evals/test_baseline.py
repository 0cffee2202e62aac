"""The quality floors only rise: git history of a baseline file, and re-saving a run's scores."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from evals.baseline import VERSION, Baseline, lowered_without_reason, regressions

PATH = "evals/baseline.json"


def floors(refusal: float, cited: float = 0.8) -> dict:
    return {"version": VERSION, "sets": {"test": {"gold": "evals/gold/test.jsonl", "ids": "all", "scores": {
        "gold_cited": cited, "refusal_accuracy": refusal, "false_refusal_rate": 0.03}}}}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def commit(repo: Path, baseline: dict, message: str) -> None:
    (repo / PATH).write_text(json.dumps(baseline), encoding="utf-8")
    git(repo, "add", PATH)
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "gate@example.org")
    git(tmp_path, "config", "user.name", "gate")
    (tmp_path / "evals").mkdir()
    (tmp_path / PATH).write_text(json.dumps({"gold": "evals/gold/dev.jsonl", "margin": 0.05,
                                             "scores": {"refusal_accuracy": 0.667}, "ids": ["dev-001"]}))
    git(tmp_path, "add", PATH)
    git(tmp_path, "commit", "-q", "-m", "the old one-set format")
    commit(tmp_path, floors(0.583), "floors in the current format")
    return tmp_path


def test_rising_floors_need_no_reason(repo: Path) -> None:
    commit(repo, floors(0.625, cited=0.85), "Refit: refusal and citing up")
    assert lowered_without_reason(repo) == []


def test_a_floor_lowered_without_a_trailer_is_named_with_its_commit(repo: Path) -> None:
    commit(repo, floors(0.542), "Refit the refusal threshold")
    sha = git(repo, "rev-parse", "--short=10", "HEAD").strip()
    problems = lowered_without_reason(repo)
    assert len(problems) == 1
    assert problems[0].startswith(f"{sha} lowered test refusal_accuracy 0.583 -> 0.542")
    assert "Baseline-lowered: test refusal_accuracy 0.583 -> 0.542: <why>" in problems[0]


def test_a_trailer_for_another_score_does_not_explain_the_fall(repo: Path) -> None:
    commit(repo, floors(0.542), "Refit\n\nBaseline-lowered: test gold_cited 0.8 -> 0.7: wrong score named")
    assert len(lowered_without_reason(repo)) == 1


def test_a_trailer_naming_the_score_and_why_explains_it(repo: Path) -> None:
    commit(repo, floors(0.542), "Refit\n\nBaseline-lowered: test refusal_accuracy 0.583 -> 0.542: test-041 now "
                                "answered from the closest passage after the fusion change")
    assert lowered_without_reason(repo) == []


def test_a_merge_is_explained_by_the_commits_it_brings_in(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "refit")
    commit(repo, floors(0.542), "Refit\n\nBaseline-lowered: test refusal_accuracy 0.583 -> 0.542: one question")
    git(repo, "checkout", "-q", "main")
    (repo / "other.txt").write_text("x")
    git(repo, "add", "other.txt")
    git(repo, "commit", "-q", "-m", "unrelated")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge branch 'refit'", "refit")
    assert lowered_without_reason(repo) == []


def test_an_uncommitted_lower_baseline_is_reported(repo: Path) -> None:
    (repo / PATH).write_text(json.dumps(floors(0.5)), encoding="utf-8")
    problems = lowered_without_reason(repo)
    assert len(problems) == 1 and problems[0].startswith(f"uncommitted {PATH} lowers test refusal_accuracy")
    assert lowered_without_reason(repo, working_tree=False) == []


def test_a_removed_set_counts_as_every_floor_falling(repo: Path) -> None:
    commit(repo, {"version": VERSION, "sets": {}}, "drop the test set from the gate")
    assert len(lowered_without_reason(repo)) == 3


def summary(answerable: int, unanswerable: int, **scores: float) -> dict:
    return {"answerable": answerable, "unanswerable": unanswerable, "recall_at_k": {}, **scores}


def test_record_keeps_a_floor_a_run_measured_lower_unless_allowed() -> None:
    b = Baseline.parse(floors(0.583))
    drops = b.record("test", b.sets["test"].gold, None, summary(33, 24, gold_cited=0.9, refusal_accuracy=0.5,
                                                                  false_refusal_rate=0.03))
    assert [(d.score, d.old, d.new) for d in drops] == [("refusal_accuracy", 0.583, 0.5)]
    assert b.sets["test"].scores == {"gold_cited": 0.9, "refusal_accuracy": 0.583, "false_refusal_rate": 0.03}
    b.record("test", b.sets["test"].gold, None, summary(33, 24, gold_cited=0.9, refusal_accuracy=0.5,
                                                        false_refusal_rate=0.03), allow_lower=True)
    assert b.sets["test"].scores["refusal_accuracy"] == 0.5


def test_a_run_may_fall_one_question_below_a_floor_and_no_more() -> None:
    watched = Baseline.parse(floors(0.6)).sets["test"]
    one = summary(30, 20, gold_cited=0.8, refusal_accuracy=0.55, false_refusal_rate=0.03)   # one of 20 refused less
    two = summary(30, 20, gold_cited=0.8, refusal_accuracy=0.5, false_refusal_rate=0.03)    # two of 20
    worse_false = summary(30, 20, gold_cited=0.8, refusal_accuracy=0.6, false_refusal_rate=0.1)
    assert regressions(watched, one) == []
    assert regressions(watched, two) == ["test refusal_accuracy 0.500 vs floor 0.600 (allowed drop 0.050)"]
    assert [r.split()[1] for r in regressions(watched, worse_false)] == ["false_refusal_rate"]
