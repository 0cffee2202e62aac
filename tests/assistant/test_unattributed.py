"""A document that names no council, in an index without a manifest: a question about a council the index does not
know by name is searched in such documents (one may be that council's), and only in them, before it is refused."""

from __future__ import annotations

import shutil

import pytest

from assistant import Assistant
from ingest.pipeline import Ingester
from tests.helpers import corpus_file, make_settings

pytestmark = pytest.mark.slow

#: Kent's reserves policy says only "the Council" and is dropped in as a bare file; the other two name their councils.
FILES = ["kent-cc/kcc-appendix-h-reserves-policy.pdf", "trafford/trafford-pay-policy-statement-2021-22.pdf",
         "blaby/lga-peer-challenge-progress-review-2022.txt"]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, embedder):
    tmp = tmp_path_factory.mktemp("unattributed")
    folder = tmp / "dropped"
    folder.mkdir()
    for rel in FILES:
        shutil.copy2(corpus_file(rel), folder / rel.split("/")[-1])
    settings = make_settings(tmp)
    assert Ingester(settings, embedder=embedder).run([folder]).count("indexed") == 3
    a = Assistant(settings, embedder=embedder)
    yield a
    a.close()


def test_a_council_no_document_is_marked_as_is_looked_for_in_the_documents_that_name_none(assistant):
    councils = {d.source.split("/")[-1]: d.council for d in assistant.store.registry.documents()}
    assert councils["kcc-appendix-h-reserves-policy.pdf"] == "unknown", councils
    answer = assistant.ask("What level of general reserves is Kent County Council aiming to hold?")
    assert not answer.refused, answer.answer
    assert answer.citations[0].source.endswith("kcc-appendix-h-reserves-policy.pdf")
    assert "between 5% and 10%" in answer.citations[0].quote


def test_only_those_documents_and_a_refusal_says_so(assistant):
    # Trafford's pay policy states pay; it is Trafford's, so it cannot answer for Leicestershire
    answer = assistant.ask("What is the pay multiple between the highest and the median earner at Leicestershire "
                           "County Council?")
    assert answer.refused and not answer.citations
    assert "No indexed document is marked as from Leicestershire County Council" in answer.answer, answer.answer
    assert answer.searched and all("kcc-appendix-h-reserves-policy.pdf" in s for s in answer.searched)
    found = assistant.retrieve("What is the pay multiple at Leicestershire County Council?", None, 5)
    assert {p.source.split("/")[-1] for p in found.passages} == {"kcc-appendix-h-reserves-policy.pdf"}
    # a council the index holds is searched in its own documents as before
    trafford = assistant.retrieve("What is the pay multiple at Trafford Council?", None, 5)
    assert trafford.passages[0].source.endswith("trafford-pay-policy-statement-2021-22.pdf")
