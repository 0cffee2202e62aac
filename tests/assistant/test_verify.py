"""The claim checker on real passages: supported sentences keep a verified quote, invented ones go."""

from __future__ import annotations

import pytest

from assistant.types import Filters
from assistant.verify import ClaimChecker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kent(assistant):
    r = assistant.retrieve("Kent general reserve percentage of net revenue budget", k=5,
                           filters=Filters(councils=("kent-cc",)))
    return ClaimChecker(r.passages, assistant.sentence_vectors, assistant.embedder), r.passages


def test_supported_sentence_keeps_its_citation_and_quote(kent):
    checker, passages = kent
    n = next(i for i, p in enumerate(passages, 1) if "between 5% and 10%" in p.text)
    got = checker.check(f"Kent aims to hold general reserves of between 5% and 10% of the net revenue budget [{n}].")
    assert got.evidence and got.evidence[0].passage is passages[n - 1]
    assert "5% and 10%" in got.evidence[0].quote and got.cited == [n]


def test_a_changed_figure_is_unsupported(kent):
    checker, _ = kent
    assert checker.check("Kent aims to hold general reserves of between 15% and 20% of the net revenue budget [1].").evidence == []


def test_an_unrelated_claim_is_unsupported_whatever_it_cites(kent):
    checker, passages = kent
    for n in (1, len(passages), 99):
        assert checker.check(f"The council will build a new swimming pool in Maidstone next year [{n}].").evidence == []
