"""The lexical citation judge on real passages from the bundled corpus."""

from __future__ import annotations

import pytest

from evals.judge import judge_citations, statements, supports
from tests.helpers import corpus_file


def paragraph(rel: str, needle: str) -> str:
    """The paragraph (line) of a bundled text file that contains ``needle``."""
    for line in corpus_file(rel).read_text(encoding="utf-8").splitlines():
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} not in {rel}")


RESERVES = paragraph("nwldc/lga-peer-challenge-progress-review-2025.txt", "circa £30m")
ROADSHOWS = paragraph("nwldc/lga-peer-challenge-progress-review-2025.txt", "98% attending")


def test_a_verbatim_quote_is_supported_by_its_passage_only() -> None:
    claim = "The peer team was told that the council has a good level of reserves of circa £30m."
    assert supports(claim, [RESERVES])
    assert not supports(claim, [ROADSHOWS])
    assert not supports(claim, [])


def test_a_paraphrase_with_the_right_figure_is_supported() -> None:
    assert supports("The council has reserves of about £30m, a good level, the peer team was told.", [RESERVES])


@pytest.mark.parametrize("claim", [
    "The peer team was told that the council has a good level of reserves of circa £40m.",  # figure changed
    "The council has a good level of reserves of circa £30m and plans to spend them on housing and leisure centres.",
])
def test_a_changed_figure_or_added_claims_are_not_supported(claim: str) -> None:
    assert not supports(claim, [RESERVES])


def test_statements_split_at_citation_markers_and_lines() -> None:
    answer = ("The documents differ: Reserves are about £30m [1] [2]. Staff said engagement improved [3]\n"
              "- uncited tail here")
    got = [(s.text, s.cited) for s in statements(answer)]
    assert got == [("The documents differ: Reserves are about £30m", [1, 2]),
                   ("Staff said engagement improved", [3]), ("uncited tail here", [])]


def test_alce_recall_and_precision() -> None:
    reserves = "The peer team was told that the council has a good level of reserves of circa £30m."
    roadshows = "98% attending stating that they felt communication and engagement has improved"
    passages = {1: RESERVES, 2: ROADSHOWS}

    right = judge_citations(f"{reserves} [1] {roadshows} [2]", passages)
    assert (right.recall, right.precision) == (1.0, 1.0)

    over = judge_citations(f"{reserves} [1][2]", passages)  # [2] adds nothing: supported, but over-cited
    assert (over.recall, over.precision) == (1.0, 0.5)

    wrong = judge_citations(f"{reserves} [2] {roadshows}", passages)  # wrong passage, then no citation
    assert (wrong.recall, wrong.precision) == (0.0, 0.0)

    missing = judge_citations(f"{reserves} [7]", passages)  # a number with no passage supports nothing
    assert (missing.recall, missing.precision) == (0.0, 0.0)
