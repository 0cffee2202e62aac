"""Tables in the corpus PDFs read as tables: each row a line carrying its column headers.

The true values below were read off the rendered pages by hand (a viewer's page
numbers): what a reader sees in each cell, under each column heading. A row
line must pair each of those values with its heading, and everything outside
the tables must stay exactly the text PDFium gives.
"""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pytest

from clerk.settings import Settings
from ingest.chunk import CELL_SEPARATOR, Chunker, document_text, embedding_text
from ingest.clean import clean_pages
from ingest.loaders import load_pages
from ingest.loaders.tables import PageTables, TableReader, read_document, read_page
from ingest.types import DocumentMeta, LoadedDocument
from tests.helpers import copy_corpus_files, corpus_file, make_settings

ASSET_REGISTER = "wye-valley-cc/wvcc-asset-register.pdf"
APPENDIX_E = "kent-cc/kcc-appendix-e-budget-by-directorate-2025-26.pdf"
RISK_REGISTER = "kent-cc/kcc-appendix-j-budget-risk-register.pdf"
ALLOWANCES = "trafford/trafford-constitution-part-6-members-allowances.pdf"
PROCEDURE_RULES = "trafford/trafford-constitution-part-4-procedure-rules.pdf"
HPC_RISKS = "hertingfordbury-pc/hpc-risk-register.pdf"
PART_3 = "trafford/trafford-constitution-part-3-responsibility-for-functions.pdf"
KPI_REPORT = "kent-cc/kcc-quarterly-performance-report-q3-2024-25.pdf"

#: Pages of prose only (page numbers as a viewer shows them): any table found on them is a false one.
#: Part 4 p. 100 is a numbered list inside a drawn box; Part 6 p. 2 has indented definitions.
PROSE_PAGES = [
    (PROCEDURE_RULES, 10),
    (PROCEDURE_RULES, 30),
    (PROCEDURE_RULES, 100),
    (ALLOWANCES, 2),
    ("trafford/trafford-constitution-part-1-summary.pdf", 3),
    ("gloucester-city/gcc-cabinet-report-resource-requirements-finance-team.pdf", 2),
    ("gloucester-city/gcc-cabinet-report-resource-requirements-finance-team.pdf", 3),
    # an officer beside paragraphs of delegated powers, boxed: read as printed, sentence by sentence
    ("trafford/trafford-constitution-part-3-responsibility-for-functions.pdf", 64),
    # a list of contents ("Section | Page"): not data, and its heading is the document's title
    ("kent-cc/kcc-budget-report-2025-26-feb-2025.pdf", 1),
]

# Tintern asset register, p. 1 (a ruled grid; "Toal Value" is the page's own spelling).
ASSET_HEADER = ["Item", "Location", "Qty", "Unit Value", "Toal Value"]
ASSET_ROWS = [
    ["Benches", "Abbey Roundabout", "1", "£350.00", "£350.00"],
    ["Defibrillators", "Surgery wall", "2", "£1,425.00", "£2,850.00"],
    ["Village Hall & Playground", "The Quayside", "1", "£350,000.00", "£350,000.00"],
]

# Kent Appendix E, p. 1 (borderless): directorate groups over Core / External / Total over £000s.
APPENDIX_E_HEADER = [
    "MTFP Category", "TOTAL Core £000s", "TOTAL External £000s", "TOTAL Total £000s", "ASCH Core £000s",
    "Public Health External £000s", "CYPE Core £000s", "CYPE External £000s", "CYPE Total £000s",
    "GET Core £000s", "GET External £000s", "GET Total £000s", "CED Core £000s", "DCED Core £000s",
    "NAC Core £000s", "CHB Core £000s", "CHB External £000s", "CHB Total £000s",
]
APPENDIX_E_PAY = ["Pay", "21,845.7", "626.9", "22,472.6", "-233.6", "626.9", "343.8", "0.0", "343.8", "-122.6",
                  "0.0", "-122.6", "-93.0", "-75.5", "65.5", "21,961.1", "0.0", "21,961.1"]  # under SPENDING
APPENDIX_E_NET = ["NET BUDGET", "1,530,923.8", "0.0", "1,530,923.8", "643,221.6", "0.0", "449,237.2", "0.0",
                  "449,237.2", "201,552.7", "0.0", "201,552.7", "25,393.8", "81,388.4", "110,085.0", "20,045.1",
                  "0.0", "20,045.1"]  # under RESERVES

# Trafford Part 6, p. 7: Schedule 1, one "Annual Allowance £" column, borderless, sections as headings.
SCHEDULE_1 = [
    ("", "Basic Allowance", "6,754"),
    ("Special Responsibilities", "Leader of the Council", "27,017"),
    ("Special Responsibilities", "Shadow Executive Members (including Deputy Opposition Leader)", "2,700"),
    ("Special Responsibilities", "Chair of Standards Committee", "2,387"),
]

# Trafford Part 4, p. 119: Table 1, the quote bands; band C's two rows share one merged Value Band/Value cell.
QUOTE_BANDS_HEADER = ["Value Band", "Value", "Procurement Activity", "Minimum Requirement for advertising the opportunity"]
BAND_B = ["B", "£5,000 - £24,999.99",
          "Minimum three Quotes in accordance with Rule 6 – Quotes following consultation with STaR", "N/A*"]
BAND_C = ["C", "£25,000 and up to Regulation Threshold"]

# Kent Appendix J, p. 1: the risk register's first row (long cells shown by their start and end).
RISK_HEADER = ["Directorate", "Risk Title", "Source/Cause of Risk", "Risk Event", "Consequence",
               "Current Likelihood (1-5)", "Estimated Annual Financial Exposure £m",
               "Estimated Lifetime Financial Exposure £m"]

# Hertingfordbury risk register, p. 1: "Finance" is one cell spanning four rows.
HPC_FINANCE = ["Finance", "Loss of cash through theft/dishonesty",
               "Fidelity cover in place (limit increased in 2012). Generally, no cash is held."]


def expected_line(header: list[str], row: list[str]) -> str:
    """A row as a reader would write it out with its headings: "Heading: value | ...", empty cells left out."""
    return CELL_SEPARATOR.join(f"{h}: {v}" if h else v for h, v in zip(header, row, strict=True) if v)


def pdfium_pages(path: Path) -> list[str]:
    """Each page's text as PDFium gives it, which the PDF loader indexed before tables were read."""
    doc = pdfium.PdfDocument(str(path))
    try:
        out = []
        for page in doc:
            textpage = page.get_textpage()
            out.append(textpage.get_text_range().replace("\r\n", "\n").replace("\ufffe", "-"))
            textpage.close()
            page.close()
        return out
    finally:
        doc.close()


def loaded(rel: str, tables: str = "all") -> list[str]:
    pages, _ = load_pages(corpus_file(rel), Settings(ocr=False, tables=tables))
    return [p.text for p in pages]


@pytest.fixture(scope="module")
def procedure_rules() -> dict[int, PageTables]:
    """The pages of Trafford Part 4 these tests look at, each read after the page before it."""
    out = {}
    with TableReader(corpus_file(PROCEDURE_RULES)) as reader:
        for number in (74, 75, 119, 120):
            before = reader.read(number - 2)
            out[number] = reader.read(number - 1, before.tables[-1] if before.tables else None)
    return out


# --- rows carry their headers ------------------------------------------------------------------------------


def test_asset_register_rows_carry_their_headers() -> None:
    text = loaded(ASSET_REGISTER)[0]
    assert "Columns: " + " | ".join(ASSET_HEADER) in text
    lines = text.split("\n")
    for row in ASSET_ROWS:
        assert expected_line(ASSET_HEADER, row) in lines
    assert "Item: Benches | Location: Abbey Roundabout | Qty: 1 | Unit Value: £350.00 | Toal Value: £350.00" in lines
    [table] = read_page(corpus_file(ASSET_REGISTER), 0).tables
    assert table.header == ASSET_HEADER and table.source == "ruled"
    assert table.title == "TINTERN COMMUNITY COUNCIL TANGIBLE ASSETS"
    assert len(table.rows) == 51  # 50 items and the TOTAL VALUE row


def test_appendix_e_rows_carry_their_directorate_group_headers() -> None:
    """Borderless: group labels (TOTAL, CYPE...) over Core/External/Total over £000s joined into each name."""
    lines = loaded(APPENDIX_E)[0].split("\n")
    assert "(SPENDING) " + expected_line(APPENDIX_E_HEADER, APPENDIX_E_PAY) in lines
    assert "(RESERVES) " + expected_line(APPENDIX_E_HEADER, APPENDIX_E_NET) in lines
    [table] = read_page(corpus_file(APPENDIX_E), 0).tables
    assert table.header == APPENDIX_E_HEADER and table.source == "borderless"


def test_trafford_schedule_1_allowances_carry_their_column_and_section() -> None:
    lines = loaded(ALLOWANCES)[6].split("\n")
    for section, label, amount in SCHEDULE_1:
        assert (f"({section}) " if section else "") + f"{label} | Annual Allowance £: {amount}" in lines


def test_quote_bands_fill_the_merged_band_cell_into_both_rows(procedure_rules: dict[int, PageTables]) -> None:
    page = procedure_rules[119]
    assert "Value Band: B | Value: £5,000 - £24,999.99 | Procurement Activity: Minimum three Quotes" in page.text
    lines = page.text.split("\n")
    assert expected_line(QUOTE_BANDS_HEADER, BAND_B) in lines
    band_c = [ln for ln in lines if ln.startswith(expected_line(QUOTE_BANDS_HEADER[:2], BAND_C) + " | ")]
    assert len(band_c) == 2 and "The Chest^" in band_c[0] and "Rule 7 – Tenders" in band_c[1]


def test_a_table_continued_on_the_next_page_takes_its_header(procedure_rules: dict[int, PageTables]) -> None:
    """The virement table of p. 74 goes on over p. 75, whose rows have no header of their own."""
    [table] = procedure_rules[75].tables
    assert table.header_from_previous_page and table.header == ["VIREMENT TYPE", "MAXIMUM DELEGATED LIMIT", "AUTHORISER"]
    assert "VIREMENT TYPE: Level 5 Virement - Between Budget Head as categorised objectively. | " \
           "MAXIMUM DELEGATED LIMIT: Any if it results in a change to net budget. | AUTHORISER: " in procedure_rules[75].text


def test_a_risk_register_row_carries_its_headers() -> None:
    text = loaded(RISK_REGISTER)[0]
    [line] = [ln for ln in text.split("\n") if "Directorate: CYPE | Risk Title: High Needs Spending | " in ln]
    assert "Source/Cause of Risk: The Dedicated Schools Grant (DSG) High Needs Block" in line
    assert "independent providers. | Risk Event: The Safety Valve programme does not deliver" in line
    assert "accounts in 2026-27. | Consequence: The Department for Education withholds" in line
    assert line.endswith(" | Current Likelihood (1-5): 4 | Estimated Lifetime Financial Exposure £m: 165.0")
    assert "Estimated Annual Financial Exposure £m:" not in line  # empty on the page


def test_a_merged_cell_is_filled_down_into_every_row_it_spans() -> None:
    assert expected_line(["Area", "Risk", "Controls"], HPC_FINANCE) in loaded(HPC_RISKS)[0].split("\n")



def test_a_plain_first_body_row_is_not_taken_into_the_header() -> None:
    """Trafford's portfolio table, Part 3 p. 26: plain "Portfolio | Portfolio Holder" over plain rows that fill
    every column; the Leader's row is a body row, or each holder would be labelled with the Leader's name."""
    [table] = read_page(corpus_file(PART_3), 25).tables
    assert table.header == ["Portfolio", "Portfolio Holder"]
    lines = loaded(PART_3)[25].split("\n")
    assert "Portfolio: Leader of the Council | Portfolio Holder: Cllr Andrew Western" in lines
    assert "Portfolio: Adult Social Care | Portfolio Holder: Cllr Joanne Harding" in lines


def test_a_glossary_of_short_definitions_stays_a_table() -> None:
    """Kent's treasury glossary, p. 21: a term beside a one-sentence meaning is a row, unlike a box of prose."""
    [table] = read_page(corpus_file("kent-cc/kcc-appendix-m-treasury-management-strategy-2025-26.pdf"), 20).tables
    assert ["IMF", "International Monetary Fund"] in table.rows


def test_a_plain_key_of_labels_and_meanings_has_no_header() -> None:
    """Kent's KPI key, p. 2: "GREEN | Target has been achieved or exceeded" is the first entry, not a header."""
    [table, *_] = read_page(corpus_file(KPI_REPORT), 1).tables
    assert not any(table.header)
    lines = loaded(KPI_REPORT)[1].split("\n")
    assert "GREEN | Target has been achieved or exceeded" in lines
    assert "RED | Floor Standard* has not been achieved" in lines


# --- text outside tables, and pages without tables --------------------------------------------------------


@pytest.mark.parametrize("rel", [RISK_REGISTER, ALLOWANCES])
def test_tables_off_gives_exactly_pdfium_text_on_every_page(rel: str) -> None:
    today = pdfium_pages(corpus_file(rel))
    assert loaded(rel, "off") == today
    with_tables = loaded(rel)
    changed = [i for i, (a, b) in enumerate(zip(today, with_tables, strict=True)) if a != b]
    assert changed  # table pages
    found = read_document(corpus_file(rel))
    assert changed == [i for i, page in enumerate(found) if page.tables]  # and no other page is touched


@pytest.mark.parametrize(("rel", "number"), [(ASSET_REGISTER, 1), (PROCEDURE_RULES, 120)])
def test_text_around_a_table_is_pdfium_text_byte_for_byte(rel: str, number: int) -> None:
    """The heading above and the prose below a table are exactly what PDFium gives."""
    today = pdfium_pages(corpus_file(rel))[number - 1]
    page = read_page(corpus_file(rel), number - 1)
    [table] = page.tables
    block = "\n".join(table.lines) + "\n"
    before, after = page.text.split(block)
    assert before.strip() and after.strip()
    assert today.startswith(before.rstrip("\n")) and today.endswith(after)


def test_a_page_read_some_other_way_keeps_its_text() -> None:
    """A page whose text is not PDFium's (pypdf read it when PDFium could not) is left as the loader has it;
    so is a page the table reader fails on."""
    with TableReader(corpus_file(ASSET_REGISTER)) as reader:
        assert reader.read(0, expected="Benches Abbey Roundabout 1 £350.00") == PageTables("Benches Abbey Roundabout 1 £350.00", [])
        assert reader.read(5, expected="page six") == PageTables("page six", [])  # there is no page 6


@pytest.mark.parametrize(("rel", "number"), PROSE_PAGES)
def test_no_table_is_found_on_prose_pages(rel: str, number: int) -> None:
    page = read_page(corpus_file(rel), number - 1)
    assert page.tables == []
    assert page.text == pdfium_pages(corpus_file(rel))[number - 1]


def test_a_prose_page_is_the_same_with_tables_off() -> None:
    rel = "trafford/trafford-constitution-part-1-summary.pdf"
    assert loaded(rel)[2] == loaded(rel, "off")[2] == pdfium_pages(corpus_file(rel))[2]


def test_ruled_mode_leaves_borderless_tables_as_pdfium_text() -> None:
    assert loaded(APPENDIX_E, "ruled") == pdfium_pages(corpus_file(APPENDIX_E))
    assert "Item: Benches | Location: Abbey Roundabout" in loaded(ASSET_REGISTER, "ruled")[0]


# --- what citations quote -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", [ASSET_REGISTER, APPENDIX_E, RISK_REGISTER, ALLOWANCES, HPC_RISKS])
def test_every_row_line_survives_cleaning_verbatim(rel: str) -> None:
    """A citation's quote is re-found in the cleaned page, so a row line must come out of cleaning intact.

    One exception is cleaning's own: a line repeated word for word at the top of
    every page (Appendix J's "TOTAL £m | 345.0 | 290.0" box) is kept on the first
    page it is on and dropped as page furniture after that.
    """
    pages, _ = load_pages(corpus_file(rel), Settings(ocr=False))
    cleaned = clean_pages(pages)
    rows = 0
    kept: set[str] = set()
    for page, found in zip(cleaned, read_document(corpus_file(rel)), strict=True):
        lines = set(page.text.split("\n"))
        for table in found.tables:
            for line in table.lines:
                if CELL_SEPARATOR in line and not line.startswith("Columns: "):
                    rows += 1
                    assert line in lines or line in kept, (page.number, line[:120])
        kept |= lines
    assert rows >= 5


# --- chunking: long rows ---------------------------------------------------------------------------------------


def _chunked(rel: str, counter) -> tuple[LoadedDocument, Chunker, list]:
    path = corpus_file(rel)
    pages, _ = load_pages(path, Settings(ocr=False))
    doc = LoadedDocument(path, rel, clean_pages(pages), DocumentMeta(title="Kent County Council budget 2025-26"))
    chunker = Chunker(counter)
    return doc, chunker, chunker.chunk(doc)


@pytest.fixture(scope="module")
def budget_chunks(counter) -> dict[str, tuple[LoadedDocument, Chunker, list]]:
    return {rel: _chunked(rel, counter) for rel in (APPENDIX_E, RISK_REGISTER)}


def test_a_long_row_is_split_between_cells_each_part_naming_its_row(budget_chunks, counter) -> None:
    """Appendix E's Pay row (18 columns) is longer than a chunk: its parts are runs of whole cells, and each part
    after the first has the row's first cell in the section the embedder and keyword search read with it."""
    doc, chunker, nodes = budget_chunks[APPENDIX_E]
    text, _ = document_text(doc)
    line = "(SPENDING) " + expected_line(APPENDIX_E_HEADER, APPENDIX_E_PAY)
    start = text.index(line)
    end = start + len(line)
    assert counter.count_one(line) > chunker.budget(doc.meta.title, "")
    parts = [n for n in nodes if n.start_char_idx < end and n.end_char_idx > start]
    assert len(parts) >= 2 and parts[0].start_char_idx == start
    pieces = [text[max(n.start_char_idx, start) : min(n.end_char_idx, end)] for n in parts]
    assert all(piece.endswith(" |") for piece in pieces[:-1])
    assert " ".join(pieces) == line  # cut only at " | ", nothing lost
    for n in parts[1:]:
        assert n.metadata["section"].endswith(" > (SPENDING) MTFP Category: Pay"), n.metadata["section"]
        assert text[n.start_char_idx - len(CELL_SEPARATOR) : n.start_char_idx] == CELL_SEPARATOR
        assert any(n.text.startswith(name + ": ") for name in APPENDIX_E_HEADER[1:])  # a whole cell
    for n in parts:
        section = n.metadata["section"]
        assert counter.count_one(n.text) <= chunker.budget(doc.meta.title, section)
        assert counter.count_one(embedding_text(doc.meta.title, section, n.text)) + 2 <= counter.window


@pytest.mark.parametrize("rel", [APPENDIX_E, RISK_REGISTER])
def test_every_part_of_a_split_row_names_the_row(budget_chunks, rel: str) -> None:
    """Wherever a chunk starts inside a row line (a long risk-register cell is cut at words), its section ends
    with that row's first cell."""
    doc, _, nodes = budget_chunks[rel]
    text, _ = document_text(doc)
    inside = 0
    for n in nodes:
        line_start = text.rfind("\n", 0, n.start_char_idx) + 1
        line = text[line_start : text.find("\n", line_start) if "\n" in text[line_start:] else len(text)]
        if n.start_char_idx > line_start and CELL_SEPARATOR in line:
            inside += 1
            first_cell = line.split(CELL_SEPARATOR, 1)[0]
            assert n.metadata["section"].endswith(" > " + first_cell), (n.metadata["section"], first_cell)
    assert inside >= 5


def test_a_row_that_fits_a_chunk_is_never_cut(budget_chunks, counter) -> None:
    """Risk-register rows hold several sentences; a row within the budget stays inside one chunk whole."""
    doc, chunker, nodes = budget_chunks[RISK_REGISTER]
    text, _ = document_text(doc)
    checked = 0
    pos = 0
    for line in text.split("\n"):
        start, pos = pos, pos + len(line) + 1
        if CELL_SEPARATOR not in line or line.startswith("Columns: ") or ". " not in line:
            continue
        if counter.count_one(line) <= chunker.budget(doc.meta.title, "") - 20:
            checked += 1
            assert any(n.start_char_idx <= start and n.end_char_idx >= start + len(line) for n in nodes), line[:100]
    assert checked >= 3


# --- end to end: a cited answer from a row -------------------------------------------------------------------


@pytest.fixture(scope="module")
def table_assistant(tmp_path_factory, embedder):
    """A small index of the asset register and Appendix E, built by the real ingest into embedded Chroma."""
    from assistant import Assistant
    from ingest.pipeline import Ingester

    tmp = tmp_path_factory.mktemp("tables")
    files = copy_corpus_files(tmp / "docs", [ASSET_REGISTER, APPENDIX_E])
    settings = make_settings(tmp)
    report = Ingester(settings, embedder=embedder).run(files)
    assert report.ok and report.count("indexed") == 2, report.results
    a = Assistant(settings, embedder=embedder)
    yield a
    a.close()


@pytest.mark.slow
@pytest.mark.parametrize(("question", "rel", "row", "cell"), [
    ("What is the total value of the benches at Abbey Roundabout in Tintern's asset register?",
     ASSET_REGISTER, "Item: Benches | Location: Abbey Roundabout", "£350.00"),
    ("What is the CYPE Core budget for Pay in Kent's 2025-26 budget by directorate?",
     APPENDIX_E, "MTFP Category: Pay | ", "CYPE Core £000s: 343.8"),
])
def test_a_cell_is_cited_with_its_row_and_column(table_assistant, question: str, rel: str, row: str, cell: str) -> None:
    answer = table_assistant.ask(question)
    assert not answer.refused
    quotes = [c.quote for c in answer.citations if c.verified and c.source.endswith(rel)]
    assert any(row in q and cell in q for q in quotes), answer.citations

