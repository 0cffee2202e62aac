"""Cleaning on the real council documents: what a reader (and a quoted citation) sees."""

from __future__ import annotations

import re
from functools import cache

import pypdf

from clerk.settings import Settings
from ingest.clean import clean_pages
from ingest.loaders import load_pages
from ingest.types import Page
from tests.helpers import corpus_file


@cache
def raw(rel: str, tables: str = "off") -> tuple[Page, ...]:
    """PDFium's text by default: these tests are about cleaning it (rows read from tables have their own
    cleaning tests in test_tables.py)."""
    pages, _ = load_pages(corpus_file(rel), Settings(ocr=False, tables=tables))
    return tuple(pages)


@cache
def cleaned(rel: str) -> tuple[Page, ...]:
    return tuple(clean_pages([Page(p.number, p.text, p.ocr) for p in raw(rel)]))


def lines_of(pages: tuple[Page, ...]) -> list[str]:
    return [line for p in pages for line in p.text.split("\n")]


NWLDC = "nwldc/lga-peer-challenge-progress-review-2025.txt"
LETTERHEAD = "Chair: Councillor Louise Gittins Chief Executive: Joanna Killian President: Baroness Grey-Thompson"


# --- repeated letterhead in a one-page text -----------------------------------------------


def test_letterhead_and_its_page_numbers_are_removed_from_the_lga_review() -> None:
    assert raw(NWLDC)[0].text.count(LETTERHEAD) == 3  # the raw text really has it
    assert re.search(r"^4$", raw(NWLDC)[0].text, re.MULTILINE)
    text = cleaned(NWLDC)[0].text

    assert "Gittins" not in text and "Baroness" not in text
    assert not [line for line in text.split("\n") if line.strip().isdigit()]  # the lone "4" and "7" are gone


def test_sentence_cut_by_the_letterhead_is_rejoined() -> None:
    text = cleaned(NWLDC)[0].text
    assert "financial transactions and contracts are more robust. This includes updating" in text


def test_hard_wrapped_lines_become_one_paragraph() -> None:
    lines = cleaned(NWLDC)[0].text.split("\n")
    assert any(
        line.startswith(
            "Progress is being made in housing repairs, but there are some staff capacity issues which could "
            "hinder delivery. The peer team was told about the age and reliability"
        )
        for line in lines
    )
    assert "For this Progress Review, the following members of the original CPC team were involved:" in lines


def test_numbered_headings_stay_on_their_own_lines() -> None:
    lines = cleaned(NWLDC)[0].text.split("\n")
    for heading in ("3.1. Governance and finance", "3.4. Housing", "4. Final thoughts and next steps"):
        assert heading in lines
    rules = lines_of(cleaned("trafford/trafford-constitution-part-4-procedure-rules.pdf"))
    for heading in (
        "10.2 Exempt information – discretion to exclude public",
        "8.2 Public inspection of background papers",
        "9. SUMMARY OF PUBLIC’S RIGHTS",
    ):
        assert heading in rules


def test_markdown_bold_markers_are_dropped_from_plain_text() -> None:
    rel = "blaby/lga-peer-challenge-progress-review-2022.txt"
    assert "**" in raw(rel)[0].text
    text = cleaned(rel)[0].text
    assert "**" not in text
    assert "These pauses carry risks however, which Blaby DC need to be aware of and take ownership of." in text


# --- characters ------------------------------------------------------------------------------

FINREGS = "wye-valley-cc/wvcc-financial-regulations-2017.pdf"


def test_ligatures_are_normalised() -> None:
    """pypdf's text of this file keeps the ﬁ/ﬂ ligature code points; cleaning must repair them whatever the loader."""
    ligatures = re.compile("[\ufb00-\ufb06]")
    with_ligatures = pypdf_pages(FINREGS)
    assert any(ligatures.search(p.text) for p in with_ligatures)
    assert not ligatures.search(" ".join(p.text for p in clean_pages(with_ligatures)))
    text = " ".join(p.text for p in cleaned(FINREGS))
    assert not ligatures.search(text)
    assert "financial" in text and "officer" in text
    assert "\u2028" not in text


def test_ti_ligature_read_as_bracket_is_repaired() -> None:
    assert "Regula[ons" in " ".join(p.text for p in raw(FINREGS))
    text = " ".join(p.text for p in cleaned(FINREGS))
    assert "[" not in text
    assert "FINANCIAL REGULATIONS" in text and "accounting" in text and "Practitioners" in text


def test_word_per_line_artefact_reads_as_normal_text() -> None:
    rel = "hertingfordbury-pc/hpc-agenda-2015-06-10.pdf"
    assert "\t" in raw(rel)[0].text and "\xa0" in raw(rel)[0].text
    page = cleaned(rel)[0].text

    assert page.startswith(
        "Members of the Council are hereby summoned and members of the public are invited to attend the "
        "Annual Meeting of Hertingfordbury Parish Council to be held at Hertingfordbury Cowper JMI School, "
        "Birch Green, on Wednesday 10th June 2015 at 1930."
    )
    assert "\t" not in page and "\xa0" not in page and "  " not in page
    lines = [line for line in page.split("\n") if line]
    assert sum(" " not in line for line in lines) <= 2  # not one word per line any more
    assert "4. DECLARATIONS OF INTEREST" in lines


# --- page furniture in multi-page PDFs -------------------------------------------------------


def test_running_footer_with_page_numbers_is_removed() -> None:
    rel = "trafford/trafford-constitution-part-1-summary.pdf"
    footer = re.compile(r"Trafford Council Constitution\s+–\s+May 2019\s+Part 1: Page \d+")
    assert sum(bool(footer.search(p.text)) for p in raw(rel)) >= 5
    assert not any("Trafford Council Constitution" in p.text for p in cleaned(rel))


def test_footer_that_changes_wording_part_way_is_removed() -> None:
    rel = "trafford/trafford-constitution-part-4-procedure-rules.pdf"
    assert sum("Trafford Council Constitution - May" in p.text for p in raw(rel)) >= 30
    assert sum("Trafford Council Constitution – October" in p.text for p in raw(rel)) >= 100
    assert not any("Trafford Council Constitution" in p.text for p in cleaned(rel))


def test_page_of_labels_are_removed() -> None:
    rel = "kent-cc/kcc-budget-report-2025-26-feb-2025.pdf"
    assert sum(bool(re.search(r"^Page \d+ of 43", p.text, re.MULTILINE)) for p in raw(rel)) >= 30
    assert not any(re.search(r"Page \d+ of 43", p.text) for p in cleaned(rel))


def test_bare_page_numbers_are_removed_but_table_figures_stay() -> None:
    rel = "hertingfordbury-pc/hpc-standing-orders.pdf"
    assert all(re.match(rf"\s*{p.number}\s*\n", p.text) for p in raw(rel))  # each page starts with its number
    assert not any(re.match(rf"{p.number}\n", p.text) for p in cleaned(rel))

    register = cleaned("kent-cc/kcc-appendix-j-budget-risk-register.pdf")  # last lines are figures, not pages
    assert register[1].text.endswith("4 22.2")


def test_constant_running_header_is_kept_once() -> None:
    text = "\n".join(p.text for p in cleaned(FINREGS))
    assert text.count("Tintern Community Council") == 1
    assert cleaned(FINREGS)[0].text.startswith("TINTERN COMMUNITY COUNCIL\nFINANCIAL REGULATIONS")
    register = "\n".join(p.text for p in cleaned("kent-cc/kcc-appendix-j-budget-risk-register.pdf"))
    assert register.count("Appendix J: Budget Risks Register 2025-26") == 1
    assert register.count("TOTAL £m 345.0 290.0") == 1
    rows = clean_pages([Page(p.number, p.text, p.ocr) for p in raw("kent-cc/kcc-appendix-j-budget-risk-register.pdf", "all")])
    assert "\n".join(p.text for p in rows).count("TOTAL £m | 345.0 | 290.0") == 1  # the same box read as a row


# --- rejoining ---------------------------------------------------------------------------------


def test_hyphenated_compounds_keep_their_hyphen() -> None:
    text = " ".join(p.text for p in cleaned("kent-cc/kcc-finance-monitoring-report-q3-2024-25.pdf"))
    assert "one-off" in text and "oneoff" not in text
    assert "Un-deliverable" in text


def pypdf_pages(rel: str) -> list[Page]:
    """Pages as pypdf extracts them (the loader uses PDFium); cleaning must cope with either."""
    return [Page(i + 1, pg.extract_text() or "") for i, pg in enumerate(pypdf.PdfReader(corpus_file(rel)).pages)]


def test_spaces_pypdf_puts_inside_words_are_removed() -> None:
    rel = "trafford/trafford-constitution-part-4-procedure-rules.pdf"
    pages = pypdf_pages(rel)
    assert "An amendment to a motion m ust be relevant" in " ".join(p.text for p in pages)
    repaired = " ".join(p.text for p in clean_pages(pages))
    assert "An amendment to a motion must be relevant" in repaired
    assert "Members of the public may attend all meetings" in repaired  # raw: "m ay"
    text = " ".join(p.text for p in cleaned(rel))
    assert "An amendment to a motion must be relevant" in text
    assert "Members of the public may attend all meetings" in text  # raw: "m ay"


def test_real_word_pairs_are_not_glued() -> None:
    text = (
        "The council must act. " * 5 + "It is a part of the plan, in to the detail; any one may apply; apart from that."
    )
    out = clean_pages([Page(1, text)])[0].text
    assert "a part of the plan, in to the detail; any one may apply" in out


def test_table_rows_stay_one_per_line() -> None:
    lines = lines_of(cleaned("wye-valley-cc/wvcc-asset-register.pdf"))
    assert "Benches The Green (opp George) 1 £350.00 £350.00" in lines
    assert "Benches Trellech Rd adj Chapel 1 £350.00 £350.00" in lines
    docx = lines_of(cleaned("hertingfordbury-pc/hpc-grants-policy.docx"))
    assert "Initial adoption | 9th May 2012 | Minute 8.1.3 | Initial adoption" in docx


def test_symbol_font_bullets_become_bullets() -> None:
    rel = "hertingfordbury-pc/hpc-financial-regulations.pdf"
    assert any("\uf0b7" in p.text for p in raw(rel))
    lines = lines_of(cleaned(rel))
    assert not any("\uf0b7" in line for line in lines)
    assert sum(line.startswith("• ") for line in lines) >= 20


# --- the function's contract, on small pages ------------------------------------------------


def test_pages_keep_numbers_and_count_and_input_is_untouched() -> None:
    pages = [Page(1, "  Title\r\n\r\n\r\n\r\nBody  text\x0c"), Page(2, "\x00\x01"), Page(3, "More", ocr=True)]
    before = [(p.number, p.text, p.ocr) for p in pages]

    result = clean_pages(pages)

    assert [(p.number, p.ocr) for p in result] == [(1, False), (2, False), (3, True)]
    assert result[0].text == "Title\n\nBody text"
    assert result[1].text == ""
    assert [(p.number, p.text, p.ocr) for p in pages] == before


def test_emphasis_markers_go_but_other_asterisks_and_underscores_stay() -> None:
    text = (
        "The **total** is *provisional* and __final__ for _now_.\n\n"
        "Income* 12,500\n\n"
        "* figures exclude VAT\n\n"
        "Area = 3 * 4 * 5 metres\n\n"
        "See file budget_2025_final.xlsx and **Note**: 2*3*4."
    )
    out = clean_pages([Page(1, text)])[0].text
    assert "The total is provisional and final for now." in out
    assert "Income* 12,500" in out
    assert "* figures exclude VAT" in out
    assert "Area = 3 * 4 * 5 metres" in out
    assert "budget_2025_final.xlsx" in out and "Note: 2*3*4." in out


def test_hyphen_at_line_end_joins_words_using_the_document_vocabulary() -> None:
    text = (
        "The financial position is sound and the finan-\ncial statements were approved.\n\n"
        "The one-\noff grant and the Grey-\nThompson award are noted."
    )
    out = clean_pages([Page(1, text)])[0].text
    assert "the financial statements were approved." in out
    assert "The one-off grant and the Grey-Thompson award are noted." in out


def test_word_per_line_pages_are_joined() -> None:
    words = ["Members", "of", "the", "Council", "are", "hereby", "summoned", "to", "attend", "the", "Annual"]
    page = "\n".join(words) + "\n1. APOLOGIES\nTo consider apologies."
    out = clean_pages([Page(1, page)])[0].text
    assert out.startswith("Members of the Council are hereby summoned to attend the Annual\n")
    assert "1. APOLOGIES" in out.split("\n")


def test_list_items_and_headings_are_not_joined_into_neighbours() -> None:
    text = (
        "The Council will supply copies of the\n"
        "agenda and reports, subject to\n"
        "(a) the exclusions in Rule 10;\n"
        "(b) payment of a charge\n"
        "for postage.\n"
        "Part 4\n"
        "Rules of Procedure"
    )
    out = clean_pages([Page(1, text)])[0].text.split("\n")
    assert out == [
        "The Council will supply copies of the agenda and reports, subject to",
        "(a) the exclusions in Rule 10;",
        "(b) payment of a charge for postage.",
        "Part 4",
        "Rules of Procedure",
    ]
