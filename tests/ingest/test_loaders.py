"""Loaders on the real council documents, and on broken files made in tmp folders."""

from __future__ import annotations

import logging
import random
import re
import shutil
import zipfile
from pathlib import Path

import pypdf
import pytest
from pypdf import PdfReader

from clerk.settings import Settings
from ingest.clean import clean_pages
from ingest.loaders import SUPPORTED_SUFFIXES, load_pages
from ingest.types import IngestError, NeedsOCR
from tests.helpers import corpus_file, encrypted_copy, load_error

SETTINGS = Settings(ocr=False)


def _squash(text: str) -> str:
    return " ".join(text.split())


# --- PDF -------------------------------------------------------------------------------


def test_supported_suffixes() -> None:
    assert frozenset({".pdf", ".docx", ".html", ".htm", ".txt", ".md", ".xlsx", ".csv", ".pptx"}) == SUPPORTED_SUFFIXES


def test_pdf_pages_are_numbered_like_a_viewer_and_hold_their_own_text() -> None:
    path = corpus_file("hertingfordbury-pc/hpc-standing-orders.pdf")
    phrase = "Motions at a Meeting that do not Require Written Notice"
    reader = PdfReader(path)
    where = [i for i, page in enumerate(reader.pages) if phrase in _squash(page.extract_text())]
    assert where == [8]  # pypdf index 8 = the ninth page a viewer shows (the page itself is printed "9")

    pages, _ = load_pages(path, SETTINGS)

    assert [p.number for p in pages] == list(range(1, len(reader.pages) + 1))
    assert [p.number for p in pages if phrase in _squash(p.text)] == [9]
    assert not any(p.ocr for p in pages)


def test_pypdf_warnings_are_counted_not_printed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    pages, warnings = load_pages(corpus_file("hertingfordbury-pc/hpc-agenda-2015-06-10.pdf"), SETTINGS)

    assert len(pages) == 2
    summary = [w for w in warnings if "pypdf warning" in w]
    assert len(summary) == 1
    assert re.fullmatch(r"\d+ pypdf warnings \(broken xref table\)", summary[0])
    assert int(summary[0].split()[0]) >= 10
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]


def test_clean_pdf_has_no_warnings() -> None:
    _, warnings = load_pages(corpus_file("trafford/trafford-constitution-part-1-summary.pdf"), SETTINGS)
    assert warnings == []


SCAN = "wye-valley-cc/wvcc-annual-return-2018-19.pdf"


def test_blank_page_is_kept_empty_and_not_sent_to_ocr() -> None:
    """Page 2 of the Kent agenda is blank (no text, no image): there is nothing to OCR and nothing to report."""
    pages, warnings = load_pages(corpus_file("kent-cc/kcc-county-council-agenda-13-feb-2025.pdf"), Settings())

    assert len(pages) == 3
    assert warnings == [] and not any(p.ocr for p in pages)
    assert not pages[1].text.strip()
    assert pages[0].text.strip() and pages[2].text.strip()


def test_scanned_page_beside_text_pages_is_reported_when_ocr_is_off(tmp_path: Path) -> None:
    """A document with a scanned page among text pages is indexed with a warning naming the page."""
    merged = pypdf.PdfWriter()
    merged.append(str(corpus_file("trafford/trafford-constitution-part-1-summary.pdf")), pages=(0, 2))
    merged.append(str(corpus_file(SCAN)))
    target = tmp_path / "with-scan.pdf"
    with target.open("wb") as f:
        merged.write(f)
    pages, warnings = load_pages(target, SETTINGS)

    assert len(pages) == 3
    assert "page 3 has no text layer and OCR is turned off (CLERK_OCR)" in warnings
    assert pages[0].text.strip() and not pages[2].text.strip()


# --- OCR -------------------------------------------------------------------------------



def test_scanned_pdf_without_ocr_needs_ocr() -> None:
    with pytest.raises(NeedsOCR, match=r"^no text layer; needs OCR") as info:
        load_pages(corpus_file(SCAN), Settings(ocr=False))
    assert info.value.status == "needs_ocr"
    assert isinstance(info.value, IngestError)


def test_scanned_pdf_is_read_with_ocr(tesseract) -> None:
    pages, _ = load_pages(corpus_file(SCAN), Settings(ocr=True))

    assert len(pages) == 1
    assert pages[0].ocr is True
    text = _squash(pages[0].text)
    assert "Accounting statements 2018-19" in text
    assert "Balances brought forward" in text
    assert "Total fixed assets" in text


# --- DOCX ------------------------------------------------------------------------------


def test_docx_keeps_tables_as_rows_in_document_order() -> None:
    pages, warnings = load_pages(corpus_file("hertingfordbury-pc/hpc-grants-policy.docx"), SETTINGS)

    assert warnings == []
    assert [p.number for p in pages] == [1]
    text = pages[0].text
    lines = text.split("\n")
    assert "Reason | Date | Council minute | Change" in lines
    assert "Initial adoption | 9th May 2012 | Minute 8.1.3 | Initial adoption" in lines
    # body paragraphs and tables in order: heading, policy text, adoption table, then the form tables
    order = [text.index(s) for s in ("Grants Policy", "TERMS AND CONDITIONS", "Reason | Date", "Section A. Grant")]
    assert order == sorted(order)
    assert "\n\n(2) The Parish Council has the discretion" in text  # a blank line between paragraphs


def test_docx_text_matches_the_same_policy_as_pdf() -> None:
    docx_pages, _ = load_pages(corpus_file("hertingfordbury-pc/hpc-grants-policy.docx"), SETTINGS)
    pdf_pages, _ = load_pages(corpus_file("hertingfordbury-pc/hpc-grants-policy.pdf"), SETTINGS)
    docx_text = clean_pages(docx_pages)[0].text
    pdf_text = " ".join(p.text for p in clean_pages(pdf_pages))
    for phrase in (
        "The Parish Council has the discretion to make a maximum grant of £500 on any single project.",
        "No grant to be payable to or for any commercial venture for private gain.",
        "Recognition of the grant from the Parish Council must be made in any publicity.",
    ):
        assert phrase in docx_text
        assert phrase in pdf_text


# --- HTML, TXT, MD -----------------------------------------------------------------------


def test_html_keeps_content_and_drops_page_chrome(tmp_path: Path) -> None:
    page = tmp_path / "allowances.html"
    page.write_text(
        """<!DOCTYPE html><html><head><title>Members' allowances</title>
        <style>p { color: red }</style><script>var tracking = "secret-script-text";</script></head>
        <body>
        <nav><a href="/">Home</a> <a href="/council">Council and democracy</a></nav>
        <header>Site banner text</header>
        <main>
          <h1>Members' Allowances Scheme 2025</h1>
          <p>The basic allowance is paid to
             every councillor in monthly instalments.</p>
          <h2>Special responsibility allowances</h2>
          <ul><li>Leader of the Council</li><li>Chair of Planning <b>Committee</b></li></ul>
          <table>
            <tr><th>Role</th><th>Allowance</th></tr>
            <tr><td>Basic allowance</td><td>£9,850</td></tr>
            <tr><td>Leader</td><td>£24,625</td></tr>
          </table>
          <!-- a comment nobody should see -->
          <p>Line one<br>Line two</p>
        </main>
        <footer>Copyright footer text</footer>
        <noscript>Enable JavaScript</noscript>
        </body></html>""",
        encoding="utf-8",
    )
    pages, warnings = load_pages(page, SETTINGS)

    assert warnings == [] and len(pages) == 1
    lines = pages[0].text.split("\n")
    assert "Members' Allowances Scheme 2025" in lines
    assert "Special responsibility allowances" in lines
    assert "The basic allowance is paid to every councillor in monthly instalments." in lines
    assert "- Leader of the Council" in lines
    assert "- Chair of Planning Committee" in lines
    assert "Role | Allowance" in lines
    assert "Basic allowance | £9,850" in lines
    assert "Leader | £24,625" in lines
    assert "Line one" in lines and "Line two" in lines
    for gone in ("secret-script-text", "color: red", "Home", "Site banner", "Copyright", "comment", "JavaScript"):
        assert gone not in pages[0].text


def test_html_page_wrapped_in_one_form_keeps_its_content(tmp_path: Path) -> None:
    page = tmp_path / "minutes.htm"
    page.write_text(
        "<html><body><form id='aspnetForm' action='minutes.aspx'>"
        "<header><a href='/'>Council home</a></header>"
        "<article><header><h1>Minutes of Full Council</h1></header>"
        "<p>Present: the Mayor.</p><p>Apologies were received.</p><p>The minutes were approved.</p></article>"
        "<form action='/search'><input name='q'> Search this site</form>"
        "</form></body></html>",
        encoding="utf-8",
    )
    lines = load_pages(page, SETTINGS)[0][0].text.split("\n")
    assert "Minutes of Full Council" in lines
    assert "The minutes were approved." in lines
    assert "Council home" not in lines and "Search this site" not in lines


def test_markdown_is_reduced_to_readable_text(tmp_path: Path) -> None:
    note = tmp_path / "briefing.md"
    note.write_text(
        "# Budget briefing\n\n<!-- draft: do not publish -->\n"
        "The **council tax** rise is _4.99%_; see [the report](https://example.org/report.pdf).\n\n"
        "## Next steps\n\n* agree the precept\n* publish the budget_book_2025 file\n",
        encoding="utf-8",
    )
    pages, _ = load_pages(note, SETTINGS)
    text = clean_pages(pages)[0].text

    lines = text.split("\n")
    assert lines[0] == "Budget briefing"
    assert "Next steps" in lines
    assert "The council tax rise is 4.99%; see the report." in lines
    assert "- agree the precept" in lines
    assert "budget_book_2025" in text  # snake_case is not emphasis
    assert "draft" not in text and "https" not in text and "#" not in text


def test_text_in_windows_1252_is_decoded(tmp_path: Path) -> None:
    note = tmp_path / "minutes.txt"
    note.write_bytes("Precept of £12,500 agreed – Chairman’s report noted.".encode("cp1252"))
    pages, warnings = load_pages(note, SETTINGS)

    assert pages[0].text == "Precept of £12,500 agreed – Chairman’s report noted."
    assert warnings == ["text is not UTF-8; read as Windows-1252"]


def test_utf8_bom_is_not_part_of_the_text(tmp_path: Path) -> None:
    note = tmp_path / "notice.txt"
    note.write_bytes("\ufeffNotice of meeting".encode())
    pages, _ = load_pages(note, SETTINGS)
    assert pages[0].text == "Notice of meeting"


# --- files that cannot be read -------------------------------------------------------------


def test_random_bytes_are_not_a_pdf(tmp_path: Path) -> None:
    junk = tmp_path / "agenda.pdf"
    junk.write_bytes(random.Random(7).randbytes(4096))
    assert load_error(junk).startswith("not a readable PDF: ")


def test_truncated_pdf_is_not_readable(tmp_path: Path) -> None:
    data = corpus_file("hertingfordbury-pc/hpc-grants-policy.pdf").read_bytes()
    cut = tmp_path / "grants.pdf"
    cut.write_bytes(data[: len(data) // 2])
    reason = load_error(cut)
    assert reason.startswith("not a readable PDF: ")
    assert "truncated" in reason


def test_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    locked = encrypted_copy("hertingfordbury-pc/hpc-reserves-policy.pdf", tmp_path / "locked.pdf", "secret")
    assert load_error(locked) == "PDF is encrypted and needs a password"


def test_owner_only_encryption_opens_with_the_empty_password(tmp_path: Path) -> None:
    restricted = encrypted_copy("hertingfordbury-pc/hpc-reserves-policy.pdf", tmp_path / "restricted.pdf", "")
    pages, _ = load_pages(restricted, SETTINGS)
    assert "reserve" in " ".join(p.text for p in pages).lower()


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.touch()
    assert load_error(empty) == "file is empty"


def test_unsupported_suffix(tmp_path: Path) -> None:
    sheet = tmp_path / "budget.xls"
    sheet.write_bytes(b"PK\x03\x04 not really a spreadsheet")
    assert load_error(sheet) == ("unsupported file type '.xls' "
                                 "(supported: .csv, .docx, .htm, .html, .md, .pdf, .pptx, .txt, .xlsx)")


def test_oversized_file(tmp_path: Path) -> None:
    big = tmp_path / "minutes.pdf"
    shutil.copy(corpus_file("hertingfordbury-pc/hpc-grants-policy.pdf"), big)
    reason = load_error(big, Settings(ocr=False, max_file_mb=0.0001))
    assert re.fullmatch(r"file is [\d.]+ [KM]B, over the 0\.0001 MB limit \(CLERK_MAX_FILE_MB\)", reason)


def test_corrupt_docx(tmp_path: Path) -> None:
    broken = tmp_path / "policy.docx"
    broken.write_bytes(b"This is a Word file, honestly." * 20)
    assert load_error(broken) == "not a readable Word .docx file: it is not a complete zip package"

    data = corpus_file("hertingfordbury-pc/hpc-grants-policy.docx").read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    assert load_error(broken) == "not a readable Word .docx file: it is not a complete zip package"

    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("notes.txt", "not a Word document")
    assert load_error(broken).startswith("not a readable Word .docx file: a part is missing")


def test_file_with_no_text(tmp_path: Path) -> None:
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body><script>x = 1</script>   </body></html>", encoding="utf-8")
    assert load_error(blank) == "no text found in the file"


def test_unexpected_errors_become_ingest_errors(tmp_path: Path) -> None:
    folder = tmp_path / "notes.txt"  # a folder with a document's name: reading it fails inside the loader
    folder.mkdir()
    (folder / "inner").write_text("x", encoding="utf-8")
    reason = load_error(folder)
    assert reason.startswith("could not be read (IsADirectoryError")
