"""Where two documents give a figure two ways, the answer states both, each with its citation."""

from __future__ import annotations

import pytest

from tests.helpers import planted_assistant

pytestmark = pytest.mark.slow

PLAN = """Riverside District Council Medium Term Financial Plan 2024

3. Reserves
The council plans to hold general reserves of £4.2m at the end of the year.
Earmarked reserves are reviewed each year by the Cabinet.
"""
REVIEW = """LGA Corporate Peer Challenge: Riverside District Council

2. Financial planning
The peer team found that the council holds general reserves of £3.1m at the end of the year.
The peer team recommends a refreshed reserves strategy.
"""


@pytest.fixture(scope="module")
def riverside(tmp_path_factory, embedder):
    texts = {"riverside/riverside-mtfp-2024.txt": PLAN, "riverside/riverside-peer-challenge.txt": REVIEW}
    with planted_assistant(tmp_path_factory.mktemp("conflict"), embedder, texts) as a:
        yield a


def test_a_figure_given_two_ways_is_stated_both_ways_with_citations(riverside):
    ans = riverside.ask("How much does Riverside District Council hold in general reserves at the end of the year?")
    assert not ans.refused
    assert ans.answer.startswith("The documents differ:")
    assert "£4.2m" in ans.answer and "£3.1m" in ans.answer
    cited = {c.source.rsplit("/", 1)[-1] for c in ans.citations}
    assert cited == {"riverside-mtfp-2024.txt", "riverside-peer-challenge.txt"}
