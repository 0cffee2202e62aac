"""The generative path end to end: a real OpenAI-compatible server on 127.0.0.1, real passages, checked output."""

from __future__ import annotations

import re

import pytest

from assistant import Assistant
from tests.assistant.test_answers import assert_citations_checkable

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def generative(assistant, index_settings, llm_server):
    settings = index_settings.model_copy(update={"llm_base_url": llm_server, "llm_model": "", "llm_max_tokens": 60})
    return Assistant(settings, store=assistant.store, embedder=assistant.embedder)


QUESTION = (
    "Who is the main point of contact between North West Leicestershire District Council and the Local "
    "Government Association?"
)


def test_generated_answer_reaches_the_reader_only_with_checked_citations(generative, index_settings):
    ans = generative.ask(QUESTION, backend="openai")
    assert not ans.refused
    assert ans.backend.startswith("openai:") or ans.backend.startswith("extractive (fallback")
    assert ans.citations, ans
    assert_citations_checkable(ans, index_settings)
    for sentence in ans.unsupported:
        assert sentence not in ans.answer
    assert "Mark Edgell" in ans.answer


def test_generated_stream_shows_only_checked_sentences(generative):
    events = list(generative.stream(QUESTION, backend="openai"))
    final = events[-1].answer
    assert events[-1].kind == "final" and final is not None
    shown = "".join(e.text for e in events if e.kind == "delta")
    if final.backend.startswith("openai:"):
        assert shown == final.answer
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", final.answer)}
    assert numbers <= {c.n for c in final.citations}


def test_refusal_does_not_call_the_model(generative):
    ans = generative.ask("What did the LGA say about Leeds City Council?", backend="openai")
    assert ans.refused and ans.citations == []
