"""Near misses: an indexed council asked for something its documents do not say is refused; its twin is answered.

Every question here is from the held-out test set (evals/gold/test.jsonl), which
no calibration or model has been fitted on. A near miss names a council that is
indexed and uses words its documents contain (another year's figure, a fee or
limit that is not set, an officer who is not named); its twin asks nearly the
same thing that the documents do answer. The refusal model exists for exactly
this case, and a product that answers every near miss from the closest passage,
or refuses every twin, fails it.

Known failures are ``xfail(strict=True)`` with what the product does instead:
a fix flips them to passing (and the mark must then go), and a regression in a
passing one cannot hide.
"""

from __future__ import annotations

import pytest

from evals.gold import load_gold
from evals.harness import answer_row
from tests.helpers import ROOT

pytestmark = pytest.mark.slow

TEST = {g.id: g for g in load_gold(ROOT / "evals" / "gold" / "test.jsonl")}

#: Each unanswerable near miss, and its answerable twin where the set has one.
NEAR_MISSES: dict[str, str | None] = {
    "test-037": None, "test-038": None, "test-039": None, "test-040": None, "test-041": None, "test-042": None,
    "test-043": None, "test-044": None, "test-045": None,
    "test-046": "test-047", "test-048": "test-049", "test-050": "test-051", "test-052": "test-053",
    "test-054": "test-055", "test-056": "test-057", "test-058": "test-059", "test-060": "test-061",
    "test-062": "test-063", "test-064": "test-065", "test-066": "test-067", "test-068": "test-069",
    "test-070": "test-071", "test-072": "test-073",
}

#: What the product does today instead of refusing (near misses) or answering with the facts (twins).
KNOWN_FAILURES = {
    "test-038": "answered with the licensing guidelines' conviction rules: no fee is set, none is asked for",
    "test-039": "answered with the Clerk's £500 debit-card limit (6.17), not a pre-paid card limit",
    "test-040": "answered with a code-of-conduct sentence on dispensations: no deadline is set",
    "test-041": "answered with 'projecting an overspend', which gives no figure",
    "test-042": "answered with the appointment of a Democracy Support Officer, who is not named",
    "test-043": "answered with the 2022 review's thanks: there is no 2024 review",
    "test-044": "answered with the 2025-26 band table heading: no 2026-27 band D is given",
    "test-046": "answered with the October 2019 meeting's opening line: only 2019-20 accounts dates exist",
    "test-050": "answered with the swimming-pool grant sentence, which gives no amount",
    "test-052": "answered with the £500 maximum a project, not the annual grants budget",
    "test-054": "answered with the Be.Green minutes, which give no opening hours",
    "test-056": "answered with the defibrillator thanks, which give no cost",
    "test-060": "answered with the Licensing Lead's job title and address: no name is given",
    "test-062": "answered with delegation 19 and a complaints paragraph: no officer is named",
    "test-064": "answered with the Co-operative deposit account: no credit rating is set",
    "test-066": "answered with the two-year contract sentence, which gives no value",
    "test-068": "answered with the quarterly refund rule: no cash cap is set",
    "test-070": "answered with council-tax sentences: no 2025-26 basic allowance is given",
    "test-072": "answered with paragraph 17, which leaves the value to a resolution not in the corpus",
    "test-047": "a cut sentence ('... available on reasonable notice on application to') without the dates",
    "test-059": "the covering report's sentences, not 17.43's membership (13 Members, 3 + 2 co-optees)",
    "test-061": "the 12-point referral and another appeal's 21 days, not the Licensing Lead's address",
    "test-063": "a code-of-conduct sentence on the monitoring officer, not the designation in Part 3",
    "test-065": "the strategy's aim and 8.6 (in the council's name), not 3.1's banks and building societies",
    "test-071": "7.9 on Kent Scheme pay, not 7.10's scheme agreed on 4 November 2021 with indexation",
}


def cases(ids: list[str]) -> list:
    return [pytest.param(i, marks=pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[i])) if i in KNOWN_FAILURES
            else i for i in ids]


def test_the_near_misses_are_held_out_near_misses() -> None:
    """At least ten unanswerable near misses with answerable twins, all in the held-out test set."""
    assert len(NEAR_MISSES) >= 10 and sum(t is not None for t in NEAR_MISSES.values()) >= 10
    for miss, twin in NEAR_MISSES.items():
        assert not TEST[miss].answerable, miss
        assert twin is None or TEST[twin].answerable, twin
    assert set(KNOWN_FAILURES) <= set(NEAR_MISSES) | {t for t in NEAR_MISSES.values() if t}


@pytest.mark.parametrize("qid", cases(list(NEAR_MISSES)))
def test_a_near_miss_is_refused(assistant, qid: str) -> None:
    ans = assistant.ask(TEST[qid].question)
    assert ans.refused, ans.answer
    assert ans.citations == []


@pytest.mark.parametrize("qid", cases([t for t in NEAR_MISSES.values() if t]))
def test_its_twin_is_answered_with_the_facts(assistant, qid: str) -> None:
    """Answered (not refused), with every must-include fact of the gold answer in the answer text."""
    g = TEST[qid]
    row = answer_row(g, assistant.ask(g.question))
    assert not row["refused"], row["answer"]
    assert row["must_include_missing"] == [], row["answer"]
