"""The gold format: the committed sets check out against the real files, and broken ones are caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.gold import GOLD_DIR, GoldFormatError, GoldSource, check_gold, holds, load_gold
from tests.helpers import CORPUS

NWLDC = "nwldc/lga-peer-challenge-progress-review-2025.txt"
SPAN = "The peer team was told that the council has a good level of reserves of circa £30m."


def write(tmp_path: Path, items: list[dict | str]) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(i if isinstance(i, str) else json.dumps(i) for i in items) + "\n", encoding="utf-8")
    return path


def item(qid: str = "q1", **kw: object) -> dict:
    return {"id": qid, "question": "How much is in reserve?", "answer": "£30m", "must_include": ["£30m"],
            "sources": [{"file": NWLDC, "page": 1, "support": SPAN}], **kw}


@pytest.mark.parametrize("path", sorted(GOLD_DIR.glob("*.jsonl")), ids=lambda p: p.name)
def test_committed_gold_spans_are_verbatim_in_their_files(path: Path) -> None:
    assert check_gold(path, CORPUS) == []


def test_dev_set_is_large_and_covers_every_kind_of_question() -> None:
    gold = load_gold(GOLD_DIR / "dev.jsonl")
    kinds = {g.kind for g in gold}
    assert len(gold) >= 120
    assert {"lookup", "number", "list", "paraphrase", "multi_doc", "unanswerable"} <= kinds
    assert all(not g.sources for g in gold if g.kind == "unanswerable")
    assert all(len(g.sources) >= 2 for g in gold if g.kind == "multi_doc")


def test_checker_names_each_broken_item(tmp_path: Path) -> None:
    path = write(tmp_path, [
        item("ok"),
        item("typo", sources=[{"file": NWLDC, "page": 1, "support": SPAN.replace("£30m", "£31m")}]),
        item("page", sources=[{"file": "trafford/trafford-constitution-part-6-members-allowances.pdf", "page": 2,
                               "support": "46.9p per mile (if used outside the Borough)"}]),
        item("missing", sources=[{"file": "nowhere/report.pdf", "support": SPAN}]),
        item("bare", sources=[{"file": "lga-peer-challenge-progress-review-2025.txt", "support": SPAN}]),
    ])
    problems = check_gold(path, CORPUS)
    assert len(problems) == 3, problems
    assert "typo" in problems[0] and "not found" in problems[0]
    assert "page" in problems[1] and "not page 2" in problems[1]
    assert "missing" in problems[2] and "no such file" in problems[2]


@pytest.mark.parametrize("line, reason", [
    ("{not json", "Expecting property name"),
    (json.dumps({"id": "x"}), "missing field 'question'"),
    (json.dumps(item(sources=[{"file": NWLDC}])), "'support'"),
    (json.dumps(item(must_include="£30m")), "'must_include' must be a list"),
])
def test_bad_lines_are_errors_naming_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = write(tmp_path, [item("a"), line])
    with pytest.raises(GoldFormatError, match=rf"gold\.jsonl:2: .*{reason}"):
        load_gold(path)


def test_every_bad_line_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(GoldFormatError) as err:
        load_gold(write(tmp_path, ["[1]", item("a"), '{"id": "b"}']))
    assert str(err.value).splitlines() == [
        f"{tmp_path / 'gold.jsonl'}:1: each line must be a JSON object",
        f"{tmp_path / 'gold.jsonl'}:3: missing field 'question'",
    ]


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(GoldFormatError, match="duplicate id 'a'"):
        load_gold(write(tmp_path, [item("a"), item("a")]))


def test_page_and_type_are_optional(tmp_path: Path) -> None:
    (g,) = load_gold(write(tmp_path, [item(sources=[{"file": NWLDC, "support": SPAN}])]))
    assert g.sources[0].page is None and g.kind == "answerable"


def test_matching_rule_needs_the_file_and_the_span() -> None:
    gold = GoldSource(NWLDC, SPAN)
    chunk = "Finance\n" + SPAN.replace(" ", "\n", 3) + " More text."
    assert holds("corpus/" + NWLDC, chunk, gold)  # path prefix and whitespace do not matter
    assert not holds("corpus/blaby/" + Path(NWLDC).name, chunk, gold)  # another council's file does
    assert not holds("corpus/" + NWLDC, "The council has reserves.", gold)
    cut = GoldSource(NWLDC, SPAN + " " + "x" * 100)  # a span a chunk boundary cuts: its first 60 characters count
    assert holds(NWLDC, chunk, cut)
