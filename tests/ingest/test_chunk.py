"""Structure-aware chunking on real documents: sizes, offsets, pages and section breadcrumbs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clerk.settings import Settings
from ingest.chunk import PAGE_SEPARATOR, Chunker, document_text, embedding_text
from ingest.clean import clean_pages
from ingest.loaders import load_pages
from ingest.structure import Outline, classify_heading, sentence_spans
from ingest.types import DocumentMeta, LoadedDocument
from tests.helpers import corpus_file

TRAFFORD_RULES = "trafford/trafford-constitution-part-4-procedure-rules.pdf"
NWLDC_REVIEW = "nwldc/lga-peer-challenge-progress-review-2025.txt"
GRANTS_DOCX = "hertingfordbury-pc/hpc-grants-policy.docx"
#: Its savings and reserves tables repeat their header row on every page: four passages the chunker indexes once.
REPEATED_HEADERS = "kent-cc/kcc-labour-alternative-budget-appendix-f.pdf"
#: Minutes whose sentences run across page breaks into long passages: the chunker once lost the end of such a
#: sentence when it moved it on to a next chunk that had no room for it.
BROKEN_SENTENCES = "kent-cc/kcc-cabinet-minutes-30-jan-2025.pdf"
#: One of each kind: plain text, the longest PDF (158 pages, many chunks across a page break), Word, repeated rows,
#: sentences cut by page breaks.
KINDS = (NWLDC_REVIEW, TRAFFORD_RULES, GRANTS_DOCX, REPEATED_HEADERS, BROKEN_SENTENCES)
_REPEATS = re.compile(r"^(\d+) passages? repeats? an earlier one of the same section word for word; indexed once$")


def _doc(rel: str, title: str = "Test title") -> LoadedDocument:
    path = corpus_file(rel)
    pages, _ = load_pages(path, Settings(ocr=False))
    return LoadedDocument(path, rel, clean_pages(pages), DocumentMeta(title=title))


@pytest.fixture(scope="module")
def trafford(counter) -> tuple[LoadedDocument, list]:
    doc = _doc(TRAFFORD_RULES, "Trafford Council Constitution Part 4: Procedure rules")
    return doc, Chunker(counter).chunk(doc)


@pytest.fixture(scope="module")
def chunked(counter, trafford) -> dict[str, tuple[LoadedDocument, list]]:
    """Each document of :data:`KINDS`, cleaned as ingest cleans it, and its chunks."""
    out = {TRAFFORD_RULES: trafford}
    for rel in KINDS:
        if rel not in out:
            doc = _doc(rel)
            out[rel] = (doc, Chunker(counter).chunk(doc))
    return out


def _page_spans(doc: LoadedDocument, node) -> list[tuple[int, int, int]]:
    """(page index, start, end) of each page a chunk's page offsets cover: first page from
    ``char_start``, pages between whole, last page up to ``char_end``."""
    index = {p.number: i for i, p in enumerate(doc.pages)}
    m = node.metadata
    first, last = index[m["page_start"]], index[m["page_end"]]
    return [
        (i, m["char_start"] if i == first else 0, m["char_end"] if i == last else len(doc.pages[i].text))
        for i in range(first, last + 1)
    ]


@pytest.mark.parametrize("rel", KINDS)
def test_chunk_text_is_the_exact_slice_of_its_pages(chunked, rel):
    """What a citation quotes: the chunk's words are the cleaned pages' words at its offsets, page breaks included."""
    doc, nodes = chunked[rel]
    text, _ = document_text(doc)
    assert any(n.metadata["page_start"] != n.metadata["page_end"] for n in nodes) == (len(doc.pages) > 1)
    for n in nodes:
        assert text[n.start_char_idx : n.end_char_idx] == n.text
        pieces = [doc.pages[i].text[a:b] for i, a, b in _page_spans(doc, n)]
        assert PAGE_SEPARATOR.join(pieces) == n.text, n.id_


@pytest.mark.parametrize("rel", KINDS)
def test_chunks_follow_the_document_in_order(chunked, rel):
    """Each chunk starts and ends after the one before (they may share an overlap sentence, never go back)."""
    _, nodes = chunked[rel]
    assert [n.metadata["ordinal"] for n in nodes] == list(range(len(nodes)))
    for before, after in zip(nodes, nodes[1:], strict=False):
        b, a = before.metadata, after.metadata
        assert (b["page_start"], b["char_start"]) < (a["page_start"], a["char_start"]), after.id_
        assert (b["page_end"], b["char_end"]) < (a["page_end"], a["char_end"]), after.id_
        assert before.start_char_idx < after.start_char_idx and before.end_char_idx < after.end_char_idx


def test_everything_embedded_fits_the_model_window(trafford, counter):
    doc, nodes = trafford
    for n in nodes:
        seen = counter.count_one(embedding_text(doc.meta.title, n.metadata["section"], n.text)) + 2
        assert seen <= counter.window, (n.id_, seen)


@pytest.mark.parametrize("rel", KINDS)
def test_every_character_of_every_page_is_inside_a_chunk(chunked, rel):
    """Coverage by the chunks' page offsets, character by character, on each page's cleaned text.

    Two things legitimately lie outside every chunk. Whitespace: a chunk runs
    from its first sentence or heading to its last without their surrounding
    spaces and line breaks, so the blanks between two chunks (and indentation,
    trailing spaces, blank lines at a page's edge) belong to none. And the
    passages the chunker names in its warning as repeating an earlier one of the
    same section word for word: each such stretch must be found, spacing
    ignored, inside a chunk that was kept, and there are exactly as many as the
    warning counts (none for the other documents).
    """
    doc, nodes = chunked[rel]
    covered = [bytearray(len(p.text)) for p in doc.pages]
    for n in nodes:
        for i, a, b in _page_spans(doc, n):
            covered[i][a:b] = b"\x01" * (b - a)
    kept = [" ".join(n.text.split()) for n in nodes]
    left_out = []
    for i, page in enumerate(doc.pages):
        for run in re.finditer(rb"\x00+", bytes(covered[i])):
            words = " ".join(page.text[run.start() : run.end()].split())
            if words:
                assert any(words in k for k in kept), (page.number, run.start(), words[:200])
                left_out.append(words)
    said = [int(m.group(1)) for w in doc.warnings if (m := _REPEATS.match(w))]
    assert len(left_out) == sum(said), (doc.warnings, left_out)
    assert bool(said) == (rel == REPEATED_HEADERS)


def test_page_of_a_chunk_holds_its_text(trafford):
    """Rule 13.4 (Amendments to motions) is on page 11 of the PDF, as a viewer numbers it."""
    doc, nodes = trafford
    hit = next(n for n in nodes if "An amendment to a motion must be relevant" in n.text)
    assert hit.metadata["page_start"] == 11
    assert "An amendment to a motion must be relevant" in doc.pages[10].text


def test_section_breadcrumbs_follow_the_rule_numbering(trafford):
    doc, nodes = trafford
    hit = next(n for n in nodes if "An amendment to a motion must be relevant" in n.text)
    crumb = hit.metadata["section"]
    assert "13. RULES OF DEBATE" in crumb and "13.4 Amendments to motions" in crumb
    quorum = next(n for n in nodes if n.text.lstrip().startswith("8. QUORUM"))
    assert quorum.metadata["section"].endswith("8. QUORUM")
    assert "13." not in quorum.metadata["section"]


def test_chunks_end_at_sentence_ends(trafford):
    _, nodes = trafford
    ends = [n.text.rstrip()[-1] for n in nodes]
    share = sum(c in ".:;!?)" or c.isalnum() and c.isupper() for c in ends) / len(ends)
    assert share > 0.8


def test_ids_are_stable_and_unique(counter):
    a = Chunker(counter).chunk(_doc(NWLDC_REVIEW))
    b = Chunker(counter).chunk(_doc(NWLDC_REVIEW))
    assert [n.id_ for n in a] == [n.id_ for n in b]
    assert len({n.id_ for n in a}) == len(a)


def test_peer_review_sections(counter):
    nodes = Chunker(counter).chunk(_doc(NWLDC_REVIEW))
    housing = next(n for n in nodes if "Social Housing Regulator" in n.text)
    assert housing.metadata["section"].endswith("3.4. Housing")
    assert "3. Progress Review - Feedback" in housing.metadata["section"]
    assert not any("Louise Gittins" in n.text for n in nodes)


@pytest.mark.parametrize(
    ("line", "following", "is_heading"),
    [
        ("13.4 Amendments to motions", "(a) An amendment to a motion must be relevant", True),
        ("PART 4", "RULES OF PROCEDURE", True),
        ("Recommendation 3: Develop a corporate performance framework", "Blaby DC has not had", True),
        ("Rule 14.2 Notice of motion", "Except for motions which can be moved", True),
        ("7.3 The person presiding at the meeting may exercise any power or duty of the", "Chair.", False),
        ("(a) An amendment to a motion must be relevant to the motion.", None, False),
        # a numbered sentence or list lead-in is body text a citation quotes, not a section title
        ("55.9. Members appointed McCash and Co as internal auditors for 2019/20.", "55.10. External auditor.", False),
        ("2.2. The Council’s investment priorities are SLY that is, in order of priority:", "• Security of reserves", False),
        ("4. Terms of Reference.", "4.1 The Committee will meet four times a year.", True),
        ("12.0 People Impact Assessment (PIA) and Safeguarding:", "12.1 There are no impacts.", True),
        ("Total 12,345 6,789 19,134", None, False),
    ],
)
def test_heading_recognition(line, following, is_heading):
    assert (classify_heading(line, following) is not None) is is_heading


def test_plain_headings_hold_only_body_text():
    """An unnumbered mixed-case heading (often a table label in a report) does not become everyone's parent."""
    outline = Outline()
    for line, following in [
        ("PART 4", "RULES OF PROCEDURE"),
        ("Signed off by the Monitoring Officer", "The report was signed off by the Monitoring Officer on the day."),
        ("1.0 BACKGROUND", "1.1 The Council undertook a peer challenge."),
    ]:
        outline.enter(classify_heading(line, following))
    assert outline.breadcrumb() == "PART 4 > 1.0 BACKGROUND"


def test_wrapped_capitals_are_not_new_headings():
    assert classify_heading("BEING PUBLISHED ON THE COUNCIL'S WEBSITE", "1.0 BACKGROUND", "REVIEW REPORT") is None
    assert classify_heading("RULES OF PROCEDURE", "CONTENTS", "PART 4") is not None


def test_sentences_do_not_split_on_abbreviations_or_clause_numbers():
    text = "Cllr. Smith moved the motion, e.g. on 3.1 matters. It was seconded by Dr. Jones. 13. Next"
    spans = [text[s:e] for s, e in sentence_spans(text, 0, len(text))]
    assert spans[0] == "Cllr. Smith moved the motion, e.g. on 3.1 matters."
    assert spans[1] == "It was seconded by Dr. Jones."


def test_markdown_and_txt_page_is_one(counter):
    nodes = Chunker(counter).chunk(_doc(NWLDC_REVIEW))
    assert {n.metadata["page_start"] for n in nodes} == {1}
    assert Path(nodes[0].metadata["source"]).name.endswith(".txt")
