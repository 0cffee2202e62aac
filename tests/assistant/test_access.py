"""Restricted documents never reach a viewer who may not see them: not in passages, answers, refusals or scope."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assistant import Assistant
from assistant.types import Filters

pytestmark = pytest.mark.slow

RESERVES = "How many months of expenditure should Hertingfordbury hold as a general reserve?"
WYE = "How does Wye Valley Community Council handle complaints?"
PUBLIC, OFFICER = Filters(), Filters.everything()


@pytest.fixture(scope="module")
def assistant(access_settings, embedder):
    a = Assistant(access_settings, embedder=embedder)
    yield a
    a.close()


def _restricted_ids(a: Assistant) -> set[str]:
    return {d.doc_id for d in a.store.registry.documents() if d.restricted}


def test_officer_is_answered_from_the_restricted_document(assistant):
    answer = assistant.ask(RESERVES, OFFICER)
    assert not answer.refused
    assert any(c.source.endswith("hpc-reserves-policy.pdf") for c in answer.citations)
    assert "12 months" in answer.answer


@pytest.mark.parametrize("question", [RESERVES, WYE, "reserves policy general reserve earmarked"])
def test_public_never_sees_restricted_text(assistant, question):
    hidden = _restricted_ids(assistant)
    retrieval = assistant.retrieve(question, PUBLIC)
    assert retrieval.passages and not {p.doc_id for p in retrieval.passages} & hidden
    for mode in ("bm25", "dense"):  # each channel filters on its own
        assert not {p.doc_id for p in assistant.retrieve(question, PUBLIC, mode=mode).passages} & hidden
    answer = assistant.ask(question, PUBLIC)
    payload = json.dumps(answer.to_json())
    assert "hpc-reserves-policy" not in payload and "wvcc-complaints" not in payload
    assert "between 3 and 12" not in payload


def test_a_council_known_only_from_restricted_documents_is_not_named(assistant):
    answer = assistant.ask(WYE, PUBLIC)
    assert answer.refused  # as if the council were not indexed: it is not among those listed
    assert "wye-valley-cc" not in json.dumps(answer.to_json()) and "Councils indexed: hertingfordbury-pc" in answer.answer
    assert "wye-valley-cc" in assistant.ask(WYE, OFFICER).to_json()["citations"][0]["council"]


def test_scope_cannot_name_a_restricted_document(assistant):
    with pytest.raises(ValueError, match="no indexed document matches"):
        assistant.retrieve(RESERVES, Filters(documents=("hpc-reserves-policy.pdf",)))
    with pytest.raises(ValueError, match="no indexed documents for council"):
        assistant.retrieve(WYE, Filters(councils=("wye-valley-cc",)))
    scoped = assistant.retrieve(RESERVES, Filters(documents=("hpc-reserves-policy.pdf",), include_restricted=True))
    assert {p.source.rsplit("/", 1)[-1] for p in scoped.passages} == {"hpc-reserves-policy.pdf"}


def test_cli_answers_as_the_operator_unless_asked_to_hide(access_settings):
    def ask(*flags: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "clerk.cli", "ask", RESERVES, "--json", "--index", str(access_settings.index), *flags],
            capture_output=True, text=True, timeout=300, check=True,
        )
        return json.loads(out.stdout)

    assert any(c["source"].endswith("hpc-reserves-policy.pdf") for c in ask()["citations"])
    assert not any("hpc-reserves-policy" in c["source"] for c in ask("--hide-restricted")["citations"])
