"""XLSX, CSV and PPTX on real council files, hostile versions of them, and the path to a cited answer.

The spreadsheets are real Trafford Council files (tests/fixtures/office/README.md). Two files
are built at test time from real corpus documents, as tests/hostile.py builds its files: a
budget workbook of the Wye Valley (Tintern) budget 2018-19's rows and figures, with merged
headers, currency and percentage formats and formulas, since no real council workbook with
those was to be had; and a slide deck of the NWLDC peer review's headings and sentences with
a table of the Tintern asset register's rows, since no real council deck was.
"""

from __future__ import annotations

import csv
import random
import re
import shutil
import zipfile
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pytest
from pptx import Presentation
from pptx.util import Inches

from clerk.settings import Settings
from ingest.clean import clean_pages
from ingest.loaders import load_pages
from ingest.loaders.spreadsheet import display_number
from ingest.parse import ParseJob, parse_file
from tests.helpers import ROOT, corpus_file, load_error, make_settings, peak_memory

FIXTURES = ROOT / "tests" / "fixtures" / "office"
SPEND_CSV = FIXTURES / "government_procurement_card_transactions_2026-27.csv"
SALARIES_CSV = FIXTURES / "senior_salaries_employees.csv"
GRANTS_XLSX = FIXTURES / "trafford_council_voluntary_sector_grants_360_giving_format.xlsx"
LOCKED_XLSX = FIXTURES / "trafford_council_voluntary_sector_grants_password.xlsx"
BUDGET_PDF = "wye-valley-cc/wvcc-budget-2018-19.pdf"
ASSETS_PDF = "wye-valley-cc/wvcc-asset-register.pdf"
PEER_REVIEW = "nwldc/lga-peer-challenge-progress-review-2025.txt"
SETTINGS = Settings(ocr=False)
#: The PDFs the test workbooks and slides are built from, as PDFium prints their lines (not read as tables).
PDF_TEXT = Settings(ocr=False, tables="off")
MIB = 1 << 20


def _records(path: Path, encoding: str = "utf-8-sig") -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV, read with the csv module: what every row line is checked against."""
    with path.open(newline="", encoding=encoding) as fh:
        header, *rows = list(csv.reader(fh))
    return header, rows


def _row_line(header: list[str], values: list[object]) -> str:
    """A row as the loaders must write it: "Header: value" for each non-empty cell, joined by " | "."""
    return " | ".join(f"{h}: {' '.join(str(v).split())}" for h, v in zip(header, values, strict=True) if v not in ("", None))


def _text(path: Path, settings: Settings = SETTINGS) -> tuple[str, list[str]]:
    pages, warnings = load_pages(path, settings)
    return "\n".join(p.text for p in pages), warnings




# --- CSV ------------------------------------------------------------------------------------------


def test_every_row_of_a_real_spend_file_is_a_line_carrying_its_headers() -> None:
    pages, warnings = load_pages(SPEND_CSV, SETTINGS)
    header, rows = _records(SPEND_CSV)

    assert warnings == [] and [p.number for p in pages] == [1]  # a CSV is one page
    assert len(rows) == 2024
    assert pages[0].text.split("\n") == [_row_line(header, row) for row in rows]


def test_one_payment_of_the_spend_file_is_one_findable_row_line() -> None:
    """A question names a supplier and a date; the line holding them holds the amount, labelled."""
    header, rows = _records(SPEND_CSV)
    col = {name: i for i, name in enumerate(header)}
    names = [row[col["BeneficiaryName"]] for row in rows]
    row = next(r for r in rows if names.count(r[col["BeneficiaryName"]]) == 1)
    supplier, paid, amount = (row[col[c]] for c in ("BeneficiaryName", "PaymentDate", "Amount"))

    text, _ = _text(SPEND_CSV)
    lines = [line for line in text.split("\n") if f"BeneficiaryName: {supplier} |" in line]
    assert len(lines) == 1
    assert f"BeneficiaryName: {supplier} | PaymentDate: {paid} | Amount: {amount} |" in lines[0]
    assert lines[0].startswith("OrganisationLabel: Trafford Council | ")


def test_csv_in_windows_1252_or_with_a_byte_order_mark_reads_the_same(tmp_path: Path) -> None:
    """Excel on a council PC saves "CSV" as Windows-1252 or as UTF-8 with a BOM; both give the same rows."""
    utf8 = _text(SALARIES_CSV)
    assert utf8[1] == [] and "Adult’s Social Care" in utf8[0]

    cp1252 = tmp_path / "salaries.csv"
    cp1252.write_bytes(SALARIES_CSV.read_text(encoding="utf-8").encode("cp1252"))
    assert _text(cp1252) == (utf8[0], ["text is not UTF-8; read as Windows-1252"])

    bom = tmp_path / "salaries-bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + SALARIES_CSV.read_bytes())
    assert _text(bom) == utf8
    assert utf8[0].startswith("OrganisationLabel: Trafford Council | ")  # the BOM is not part of the first header


def test_csv_that_is_binary_data_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "spend.csv"
    junk.write_bytes(random.Random(7).randbytes(20000))
    assert load_error(junk) == "not a CSV file: it holds binary data, not text"

    old = tmp_path / "spend-2003.csv"  # an old binary workbook saved under a .csv name
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))
    assert load_error(old) == (
        "not a CSV file: it is an Office binary file (an old .xls workbook, or one saved with a password); "
        "save it as .csv or .xlsx"
    )


def test_csv_over_the_cell_limit_is_refused_as_soon_as_it_is_over() -> None:
    """2,025 rows (the header and 2,024 payments) x 12 columns: over 10,000 cells at row 834, where reading stops."""
    assert load_error(SPEND_CSV, Settings(ocr=False, max_sheet_cells=10_000)) == (
        "CSV file refused as too large: at least 834 rows x 12 columns, over the 10,000-cell limit "
        "(CLERK_MAX_SHEET_CELLS)"
    )
    assert Settings().max_sheet_cells == 2_000_000
    assert load_pages(SPEND_CSV, Settings(ocr=False, max_sheet_cells=2025 * 12))[0]  # exactly at the limit: read


def test_the_cell_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_MAX_SHEET_CELLS", "96")
    assert load_error(SALARIES_CSV, Settings(ocr=False)).endswith("over the 96-cell limit (CLERK_MAX_SHEET_CELLS)")


# --- XLSX -----------------------------------------------------------------------------------------


def _shown(value: object) -> object:
    """A cell of the grants workbook as it shows it: its dates are formatted yyyy-mm-dd, its numbers General."""
    if isinstance(value, datetime):
        assert value.time() == datetime.min.time()
        return value.date().isoformat()
    return value


def test_every_row_of_a_real_workbook_is_a_line_carrying_its_headers() -> None:
    book = openpyxl.load_workbook(GRANTS_XLSX)
    assert book.sheetnames == ["grants"]
    header, *rows = [[_shown(v) for v in row] for row in book["grants"].iter_rows(values_only=True)]

    pages, warnings = load_pages(GRANTS_XLSX, SETTINGS)

    assert warnings == [] and [p.number for p in pages] == [1]
    assert len(rows) == 122 and len(header) == 39
    assert pages[0].text == "Sheet: grants\n\n" + "\n".join(_row_line(header, row) for row in rows)
    assert "| Amount Awarded: 2266 | Award Date: 2013-01-18 |" in pages[0].text.split("\n")[2]


def _budget_rows() -> tuple[str, list[tuple[str, list[int]]]]:
    """The Tintern budget 2018-19 as printed: its title, and each line's label with its figures (none for a heading)."""
    pages, _ = load_pages(corpus_file(BUDGET_PDF), PDF_TEXT)
    lines = clean_pages(pages)[0].text.split("\n")
    rows: list[tuple[str, list[int]]] = []
    for line in lines[lines.index("REVENUE") : lines.index("TOTAL EXPENDITURE 16,980 16,080 15,100") + 1]:
        m = re.fullmatch(r"(.+?) ([\d,]+) ([\d,]+) ([\d,]+)", line)
        rows.append((m.group(1), [int(x.replace(",", "")) for x in m.groups()[1:]]) if m else (line, []))
    return lines[0], rows


def _store_cached_values(path: Path, sheet_part: str, values: dict[str, float]) -> None:
    """Write each formula's value into the saved workbook, as Excel does (openpyxl saves formulas without one)."""
    with zipfile.ZipFile(path) as source:
        parts = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in parts:
            if info.filename == sheet_part:
                xml = data.decode("utf-8")
                for ref, value in values.items():
                    xml, found = re.subn(rf'(<c r="{ref}"[^>]*><f>[^<]*</f>)<v\s*/?>(?:</v>)?', rf"\g<1><v>{value}</v>", xml)
                    assert found == 1, ref
                data = xml.encode("utf-8")
            out.writestr(info, data)


def _sum_formula(col: str, rows: list[int] | range) -> str:
    """=SUM(B6:B18) over a run of rows, =B19+B31 over scattered ones, as a person writes them."""
    if isinstance(rows, range):
        return f"=SUM({col}{rows.start}:{col}{rows.stop - 1})"
    return "=" + "+".join(f"{col}{r}" for r in rows)


def _budget_workbook(path: Path) -> dict[str, object]:
    """The Tintern budget as a council keeps it in Excel: a title row, years merged over "Budget"/"Spent",
    "£" formats, a "Change" column in %, and SUM formulas for the totals, saved with their values,
    except the 2018-19 "Spent" totals, saved without (the year had not started)."""
    title, rows = _budget_rows()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Budget 2018-19"
    sheet["A1"] = title
    sheet.append([])
    sheet.append(["ITEM", "2017-18", None, "2018-19", None, "Change"])
    sheet.append([None, "Budget", "Spent", "Budget", "Spent"])
    sheet.merge_cells("B3:C3")
    sheet.merge_cells("D3:E3")
    cached: dict[str, float] = {}
    uncached: list[str] = []
    section_start, totals = 0, []
    for label, figures in rows:
        r = sheet.max_row + 1
        sheet.cell(r, 1, label)
        if not figures:
            section_start = r + 1
            continue
        # a section's total sums its rows; the grand total sums the section totals
        summed = totals if label == "TOTAL EXPENDITURE" else range(section_start, r)
        is_total = label == "TOTAL EXPENDITURE" or label.endswith("TOTAL")
        for col, figure in zip("BCD", figures, strict=True):
            cell = sheet[f"{col}{r}"]
            cell.value = _sum_formula(col, summed) if is_total else figure
            cell.number_format = '"£"#,##0'
            if is_total:
                cached[f"{col}{r}"] = figure
        if is_total:
            sheet[f"E{r}"] = _sum_formula("E", summed)
            uncached.append(f"E{r}")
            totals.append(r)
        if figures[0]:
            sheet[f"F{r}"] = f"=D{r}/B{r}-1"
            sheet[f"F{r}"].number_format = "0%"
            cached[f"F{r}"] = figures[2] / figures[0] - 1
    projects = book.create_sheet("Projects 2018-19")
    projects.append(["Project", "Amount"])
    pdf_lines = clean_pages(load_pages(corpus_file(BUDGET_PDF), PDF_TEXT)[0])[0].text.split("\n")
    for line in pdf_lines[pdf_lines.index("Projects 2018-19:-") + 1 :]:
        if m := re.fullmatch(r"(.+?) - £([\d,]+)", line):
            projects.append([m.group(1), int(m.group(2).replace(",", ""))])
            projects.cell(projects.max_row, 2).number_format = '"£"#,##0'
    book.save(path)
    _store_cached_values(path, "xl/worksheets/sheet1.xml", cached)
    return {"title": title, "rows": rows, "uncached": uncached}


def test_a_budget_workbook_reads_as_its_figures_show_with_multi_row_headers_and_formulas(tmp_path: Path) -> None:
    budget = _budget_workbook(tmp_path / "budget.xlsx")
    pages, warnings = load_pages(tmp_path / "budget.xlsx", SETTINGS)

    assert [p.number for p in pages] == [1, 2]  # one page per sheet, in tab order
    first = pages[0].text
    assert first.startswith(f"Sheet: Budget 2018-19\n\n{budget['title']}\n\nREVENUE\n")  # the title row kept above the rows
    lines = first.split("\n")
    for label, figures in budget["rows"]:
        if not figures:
            assert label in lines  # a heading row ("CAPITAL") is a line of its own
            continue
        line = (
            f"ITEM: {label} | 2017-18 Budget: £{figures[0]:,} | 2017-18 Spent: £{figures[1]:,} "
            f"| 2018-19 Budget: £{figures[2]:,}"
        )
        if figures[0]:
            change = Decimal(repr(100 * (figures[2] / figures[0] - 1))).quantize(Decimal(1), ROUND_HALF_UP)
            line += f" | Change: {change}%"  # rounded half away from zero, as Excel shows it
        assert line in lines  # the totals are formulas: their saved values, formatted
    assert "ITEM: REVENUE TOTAL | 2017-18 Budget: £6,870 | 2017-18 Spent: £7,413 | 2018-19 Budget: £7,450 | Change: 8%" in lines

    named = ", ".join(f"Budget 2018-19!{ref}" for ref in budget["uncached"])
    assert warnings == [
        f"3 formula cell(s) were saved without a value and are left out ({named}); "
        "open and save the file in Excel or LibreOffice to store their values"
    ]
    assert "2018-19 Spent" not in first  # no value anywhere in that column

    assert pages[1].text.split("\n")[:3] == ["Sheet: Projects 2018-19", "", "Project: Benches | Amount: £750"]


@pytest.mark.parametrize(
    ("number_format", "value", "shown"),
    [
        ('"£"#,##0.00', 1234.5, "£1,234.50"),
        ('"£"#,##0.00', 2.675, "£2.68"),  # rounded half up, as Excel does
        ("[$£-809]#,##0.00", 350, "£350.00"),
        ("0%", 0.12, "12%"),
        ("0.0%", 0.0844, "8.4%"),
        ("#,##0;(#,##0)", -1234.4, "(1,234)"),
        ("#,##0;[Red]-#,##0", -5, "-5"),
        ('_-"£"* #,##0.00_-;-"£"* #,##0.00_-;_-"£"* "-"??_-;_-@_-', -12.5, "-£12.50"),
        ('_-"£"* #,##0.00_-;-"£"* #,##0.00_-;_-"£"* "-"??_-;_-@_-', 0, "£-"),
        ('#,##0,"k"', 1234567, "1,235k"),
        ("0.0#", 2.5, "2.5"),
        ("0.00E+00", 12345, "12345"),  # scientific: as written
        ("General", 0.1 + 0.2, "0.3"),
        ("General", 3028.63, "3028.63"),
    ],
)
def test_numbers_read_as_their_format_shows_them(number_format: str, value: float, shown: str) -> None:
    assert display_number(value, number_format) == shown


def test_sheet_over_the_cell_limit_is_refused_before_its_cells_are_read() -> None:
    reason = load_error(GRANTS_XLSX, Settings(ocr=False, max_sheet_cells=1000))
    m = re.fullmatch(
        r"sheet 'grants' refused as too large: at least (\d+) rows x 39 columns, over the 1,000-cell limit "
        r"\(CLERK_MAX_SHEET_CELLS\)",
        reason,
    )
    assert m and int(m.group(1)) == 1000 // 39 + 1  # stopped at the row that went over, not at the end


def test_password_protected_and_old_binary_workbooks_are_named_as_such(tmp_path: Path) -> None:
    assert load_error(LOCKED_XLSX) == (
        "not a readable Excel .xlsx file: it is protected with a password (save it without one)"
    )
    deck = tmp_path / "slides.pptx"
    shutil.copy(LOCKED_XLSX, deck)  # the same protection on a deck
    assert load_error(deck) == "not a readable PowerPoint .pptx file: it is protected with a password (save it without one)"

    old = tmp_path / "budget.xlsx"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))
    assert load_error(old) == "not a readable Excel .xlsx file: it is an old binary Excel 97-2003 .xls file (save it as .xlsx)"

    truncated = tmp_path / "grants.xlsx"
    truncated.write_bytes(GRANTS_XLSX.read_bytes()[:20000])
    assert load_error(truncated) == "not a readable Excel .xlsx file: it is not a complete zip package"


def test_xml_entity_bomb_in_a_worksheet_is_never_expanded(tmp_path: Path) -> None:
    """A "billion laughs" DTD in the grants sheet: refused without expanding anything."""
    entities = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (k, (b"&lol%d;" % (k - 1) if k > 1 else b"&lol;") * 10) for k in range(1, 10)
    )
    bomb = tmp_path / "grants.xlsx"
    with zipfile.ZipFile(GRANTS_XLSX) as source, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                declaration, rest = data.split(b"?>", 1)
                data = declaration + b"?><!DOCTYPE worksheet [" + entities + b"]>" + rest.replace(
                    b"<v>", b"<v>&lol9;", 1
                )
            out.writestr(info, data)
    reason, peak = peak_memory(lambda: load_error(bomb))
    assert reason.startswith("not a readable Excel .xlsx file: a part of it is not valid XML")
    assert peak < 20 * MIB  # resolved, that one cell would hold 3 GB of "lol"


# --- PPTX -----------------------------------------------------------------------------------------


def _asset_rows() -> tuple[list[str], list[list[str]]]:
    """The Tintern asset register's header and first rows, as its PDF prints them."""
    lines = load_pages(corpus_file(ASSETS_PDF), PDF_TEXT)[0][0].text.split("\n")
    words = lines[1].split()  # "Item Location Qty Unit Value Toal Value"
    header = [" ".join(words[:2]), words[2], " ".join(words[3:5]), " ".join(words[5:7])]
    rows = [list(re.fullmatch(r"(.+?) (\d+) (£[\d,.]+) (£[\d,.]+)", line).groups()) for line in lines[2:7]]
    return header, rows


def _peer_review_deck(path: Path) -> dict[str, object]:
    """Three slides of real corpus text: a title slide, a section of the NWLDC peer review with its
    notes (the lower text box added first, to test reading order), and the Tintern assets as a table."""
    review = corpus_file(PEER_REVIEW).read_text(encoding="utf-8").split("\n\n")
    review = [p.strip() for p in review if p.strip()]
    section = review.index("3.1. Governance and finance")
    upper, lower, notes = review[section + 1], review[section + 2], review[section + 3]
    header, rows = _asset_rows()

    deck = Presentation()
    cover = deck.slides.add_slide(deck.slide_layouts[0])
    cover.shapes.title.text = review[0]
    cover.placeholders[1].text = f"{review[1]}\n{review[2]}"
    slide = deck.slides.add_slide(deck.slide_layouts[5])  # "Title Only"
    slide.shapes.title.text = review[section]
    for top, text in ((Inches(4.5), lower), (Inches(1.8), upper)):
        slide.shapes.add_textbox(Inches(0.5), top, Inches(9), Inches(2)).text_frame.text = text
    slide.notes_slide.notes_text_frame.text = notes
    assets = deck.slides.add_slide(deck.slide_layouts[5])
    assets.shapes.title.text = "Tintern Community Council tangible assets"
    table = assets.shapes.add_table(len(rows) + 1, 4, Inches(0.5), Inches(1.8), Inches(9), Inches(3)).table
    for r, values in enumerate([header, *rows]):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    deck.save(path)
    return {"review": review, "section": section, "upper": upper, "lower": lower, "notes": notes,
            "header": header, "rows": rows}


def test_slides_read_title_first_then_text_top_to_bottom_tables_as_rows_and_notes_last(tmp_path: Path) -> None:
    made = _peer_review_deck(tmp_path / "peer-review.pptx")
    pages, warnings = load_pages(tmp_path / "peer-review.pptx", SETTINGS)
    review = made["review"]

    assert warnings == [] and [p.number for p in pages] == [1, 2, 3]  # one page per slide
    assert pages[0].text == f"{review[0]}\n\n{review[1]}\n{review[2]}"
    assert pages[1].text == "\n\n".join(
        [review[made["section"]], made["upper"], made["lower"], "Notes:\n" + made["notes"]]
    )
    assert pages[2].text == "Tintern Community Council tangible assets\n\n" + "\n".join(
        _row_line(made["header"], row) for row in made["rows"]
    )
    assert "Item Location: Benches Abbey Roundabout | Qty: 1 | Unit Value: £350.00 | Toal Value: £350.00" in pages[2].text


# --- zip bombs and names that lie ------------------------------------------------------------------


def _padded_copy(source: Path, dest: Path, part: str, padding_mb: int) -> Path:
    """``source`` with ``padding_mb`` MB of spaces (valid XML whitespace) after ``part``'s XML: a zip bomb."""
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            data = z.read(info)
            if info.filename != part:
                out.writestr(info, data)
                continue
            with out.open(part, "w", force_zip64=True) as fh:
                fh.write(data)
                block = b" " * MIB
                for _ in range(padding_mb):
                    fh.write(block)
    return dest


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The grants workbook and the peer review deck, each unpacking to 310 MB from under 1 MB."""
    tmp = tmp_path_factory.mktemp("bombs")
    _peer_review_deck(tmp / "deck.pptx")
    return {
        "Excel .xlsx file": _padded_copy(GRANTS_XLSX, tmp / "grants.xlsx", "xl/worksheets/sheet1.xml", 310),
        "PowerPoint .pptx file": _padded_copy(tmp / "deck.pptx", tmp / "slides.pptx", "ppt/slides/slide2.xml", 310),
    }


@pytest.mark.parametrize("kind", ["Excel .xlsx file", "PowerPoint .pptx file"])
def test_office_zip_bombs_are_refused_before_they_are_unpacked(bombs: dict[str, Path], kind: str) -> None:
    bomb = bombs[kind]
    assert bomb.stat().st_size < MIB
    reason, peak = peak_memory(lambda: load_error(bomb))
    assert re.fullmatch(
        rf"{kind} refused as a zip bomb: it would unpack to 310 MB, over the 300 MB limit \(CLERK_MAX_UNZIPPED_MB\)",
        reason,
    )
    assert peak < 20 * MIB

    reason = load_error(bomb, Settings(ocr=False, max_unzipped_mb=5000))
    assert re.fullmatch(rf"{kind} refused as a zip bomb: \S+ expands [\d,]+-fold to 310 MB \(office files stay under 200-fold\)", reason)


def test_files_named_as_another_format_are_read_as_what_they_are(tmp_path: Path) -> None:
    spend, _ = _text(SPEND_CSV)
    grants, _ = _text(GRANTS_XLSX)

    export = tmp_path / "spend.xlsx"  # a "download as Excel" that is really CSV
    shutil.copy(SPEND_CSV, export)
    assert _text(export) == (spend, ["the file is named .xlsx but is a CSV file; read as CSV"])

    for name in ("grants.csv", "grants.docx", "grants.pdf"):
        renamed = tmp_path / name
        shutil.copy(GRANTS_XLSX, renamed)
        named = Path(name).suffix
        assert _text(renamed) == (grants, [f"the file is named {named} but is an Excel .xlsx workbook; read as Excel .xlsx"])

    made = _peer_review_deck(tmp_path / "deck.pptx")
    deck = tmp_path / "deck.xlsx"
    shutil.copy(tmp_path / "deck.pptx", deck)
    text, warnings = _text(deck)
    assert warnings == ["the file is named .xlsx but is a PowerPoint .pptx file; read as PowerPoint .pptx"]
    assert text.startswith(made["review"][0])

    notes = tmp_path / "spend.txt"  # text wins over CSV: a note may have commas on every line
    shutil.copy(SPEND_CSV, notes)
    text, warnings = _text(notes)
    assert warnings == [] and text.startswith("OrganisationLabel,OrganisationURI,")


# --- through the pipeline to a cited answer ------------------------------------------------------


@pytest.mark.parametrize("path", [SALARIES_CSV, GRANTS_XLSX], ids=["csv", "xlsx"])
def test_every_row_of_a_sheet_reaches_a_chunk(path: Path) -> None:
    """Every character of the page but the spaces where long rows are cut lies in some chunk: a row in no chunk
    can never be found."""
    out = parse_file(ParseJob(path, path.name, "doc"), SETTINGS)
    page = out.doc.pages[0].text
    covered = bytearray(len(page))
    for node in out.nodes:
        covered[node.metadata["char_start"] : node.metadata["char_end"]] = b"\x01" * (
            node.metadata["char_end"] - node.metadata["char_start"]
        )
    lost = []
    for line in page.split("\n"):
        start = page.index(line)
        if any(not covered[start + i] for i, ch in enumerate(line) if not ch.isspace()):
            lost.append(line)
    assert lost == []


@pytest.fixture(scope="module")
def office_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> tuple[Settings, dict[str, object]]:
    """A folder of two real spreadsheets, the budget workbook and the deck, ingested as `clerk ingest` does."""
    from ingest.pipeline import INDEXED, Ingester

    tmp = tmp_path_factory.mktemp("office")
    folder = tmp / "docs"
    folder.mkdir()
    shutil.copy(SALARIES_CSV, folder)
    shutil.copy(GRANTS_XLSX, folder)
    budget = _budget_workbook(folder / "tintern-budget-2018-19.xlsx")
    _peer_review_deck(folder / "peer-review.pptx")
    settings = make_settings(tmp)
    report = Ingester(settings, embedder=embedder).run([folder])
    assert report.ok and report.count(INDEXED) == 4, report.results
    return settings, budget


def test_spreadsheets_and_slides_index_one_page_per_sheet_or_slide(office_index) -> None:
    from ingest.store import Store

    settings, _ = office_index
    store = Store(settings)
    try:
        docs = {Path(d.source).name: d for d in store.registry.documents()}
        assert {name: d.pages for name, d in docs.items()} == {
            SALARIES_CSV.name: 1,
            GRANTS_XLSX.name: 1,
            "tintern-budget-2018-19.xlsx": 2,
            "peer-review.pptx": 3,
        }
        assert all(d.status == "indexed" and d.chunks > 0 for d in docs.values())
        budget_pages = store.registry.pages(docs["tintern-budget-2018-19.xlsx"].doc_id)
        assert [p.text.split("\n")[0] for p in budget_pages] == ["Sheet: Budget 2018-19", "Sheet: Projects 2018-19"]
    finally:
        store.close()


def test_a_question_naming_a_rows_values_is_answered_from_that_row(office_index, embedder) -> None:
    from assistant import Assistant

    settings, budget = office_index
    header, rows = _records(SALARIES_CSV)
    col = {name: i for i, name in enumerate(header)}
    post = rows[0]
    title, salary = post[col["JobTitle"]], post[col["Salary"]]
    label, figures = next((label, f) for label, f in budget["rows"] if label.startswith("Insurance"))

    assistant = Assistant(settings, embedder=embedder)
    try:
        answer = assistant.ask(f"What salary does Trafford Council pay its {title}?")
        budget_answer = assistant.ask(f"What was Tintern Community Council's budget for {label} in 2018-19?")
    finally:
        assistant.close()

    assert not answer.refused, answer.answer
    cited = [c for c in answer.citations if c.source.endswith(SALARIES_CSV.name)]
    assert cited and all(c.page == 1 for c in cited)
    assert any(f"JobTitle: {title} |" in c.text and f"| Salary: {salary} |" in c.text for c in cited)

    assert not budget_answer.refused, budget_answer.answer
    row = f"ITEM: {label} | 2017-18 Budget: £{figures[0]:,} | 2017-18 Spent: £{figures[1]:,} | 2018-19 Budget: £{figures[2]:,}"
    assert any(c.source.endswith("tintern-budget-2018-19.xlsx") and c.page == 1 and row in c.text
               for c in budget_answer.citations)
