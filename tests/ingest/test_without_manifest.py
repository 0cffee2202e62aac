"""Documents as councils bring them: the bundled corpus indexed without its manifest.

Every council, type, title and date here is inferred from the folders, file
names, text and file properties, and is checked against what the manifest's
curator wrote (``evals.metadata``; the figures are in docs/INGEST.md).
"""

from __future__ import annotations

import re

import pytest

from evals.metadata import compare_index, summary
from ingest.metadata import OCR_NOISE
from ingest.registry import Registry
from tests.helpers import CORPUS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def compared(bare_corpus):
    settings, root = bare_corpus
    registry = Registry(settings.registry_path)
    try:
        return compare_index(registry, root, CORPUS)
    finally:
        registry.close()


def test_every_council_a_folder_file_name_or_text_names_is_found(compared) -> None:
    named = [r for r in compared if r.named]
    assert len(compared) == 68 and len(named) == 68  # every bundled document names its council somewhere
    assert [(r.file, r.council) for r in named if not r.council_ok] == []
    for r in compared:
        assert r.notes.startswith("inferred: council: "), r.notes  # each choice says what it rests on


def test_types_and_dates_agree_with_the_manifest(compared) -> None:
    figures = summary(compared)
    assert figures["type_right"] >= 0.85, [(r.file, r.doc_type, r.doc_type_expected) for r in compared
                                           if not r.type_ok]
    # the same date at the coarser of the two precisions ("2025-02" for "2025-02-13")
    assert figures["date_agrees"] >= 0.85, [(r.file, r.date, r.date_expected) for r in compared
                                            if r.date_agrees is False]


def test_titles_are_the_documents_own_and_carry_their_council(compared) -> None:
    by_file = {r.file: r.title for r in compared}
    for file, title in by_file.items():
        assert title and not OCR_NOISE.search(title), (file, title)  # no letterhead garbled by OCR
        assert title != "Local Councils in England", file  # a form's running text, not its title
    for part in (3, 4, 5, 6):
        title = next(t for f, t in by_file.items() if re.search(rf"constitution-part-{part}-", f))
        assert title.startswith(f"Trafford Council Constitution Part {part}: "), title
    assert by_file["hertingfordbury-pc/hpc-accounting-statements-2017-18.pdf"] == \
        "Hertingfordbury Parish Council – Accounting Statements 2017/18"
    # the heading above a list of contents, not an entry of it ("… Finance Settlement 3 12"); a kent-cc/ folder
    # and a text that says "the County Council" and "Kent", never "Kent County Council" in full, name the council
    assert by_file["kent-cc/kcc-budget-report-2025-26-feb-2025.pdf"] == \
        "Kent County Council – Draft Revenue Budget 2025-26 and 2025-28 MTFP, and Draft Capital Programme 2025-35"


def test_councils_are_known_by_their_names_not_by_the_meetings_titles_name(bare_corpus, embedder) -> None:
    """"Agenda for the Budget County Council Meeting" names Kent's meeting, not a council called Budget: were
    "budget" an alias of Kent, every question about a budget would search Kent's documents as if it named Kent,
    and one about a council the index does not hold would be answered from Kent's."""
    from assistant import Assistant

    settings, _ = bare_corpus
    assistant = Assistant(settings, embedder=embedder)
    try:
        aliases = assistant.directory().aliases
        assert aliases["kent"] == {"kent-cc"} and "budget" not in aliases and "bcc" not in aliases
        assert not {"annual", "meeting", "agenda"} & set(aliases)
        answer = assistant.ask("Does Leicestershire County Council keep a general reserve, and how big?")
        assert answer.refused and "Leicestershire County Council" in answer.answer, answer.answer
    finally:
        assistant.close()
