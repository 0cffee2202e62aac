"""Hostile and broken files, file by file: each is refused with a reason or read as what it really is.

The files are built at test time from real corpus documents (see tests/hostile.py):
garbled text layers, HTML saved as .pdf, zip bombs, sparse 200 MB files, odd
encodings and a page repeated 1,000 times. None of these tests loads the
embedding model; the batch behaviour is in test_pipeline.py. How fast these
inputs are refused or read is measured in benchmarks/hostile.py, against normal
corpus files in the same run; the tests here bound memory, not time.
"""

from __future__ import annotations

import random
import shutil
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from clerk.settings import Settings
from ingest.loaders import load_pages
from ingest.parse import ParseJob, parse_file
from ingest.readability import MIN_PAIR_SCORE, measure
from ingest.types import NeedsOCR
from tests.helpers import ROOT, corpus_file, load_error, peak_memory
from tests.hostile import (
    WORD_SOURCE,
    docx_entity_bomb,
    docx_zip_bomb,
    pdf_with_text_layers,
    prose_lines,
    repeated_page_pdf,
    scrambled_alphabet,
)

SETTINGS = Settings(ocr=False)
MIB = 1 << 20


def _text(rel: str) -> str:
    return "\n".join(p.text for p in load_pages(corpus_file(rel), SETTINGS)[0])




# --- readability: language versus glyph soup ---------------------------------------------------


def test_every_page_of_real_documents_reads_as_text() -> None:
    """English, Welsh, tables of figures and contents pages full of dot leaders are all text."""
    for rel in (
        "manordeilo-salem-cc/mscc-minutes-2019-10-09-cy.pdf",  # Welsh: the lowest-scoring pages of the corpus
        "kent-cc/kcc-finance-monitoring-report-q3-2024-25.pdf",  # tables, a contents page of dot leaders
        "wye-valley-cc/wvcc-budget-2018-19.pdf",
        "hertingfordbury-pc/hpc-explanation-of-significant-variances-2015-16.docx",
    ):
        pages, _ = load_pages(corpus_file(rel), SETTINGS)
        for page in pages:
            reading = measure(page.text)
            assert not reading.garbled, (rel, page.number, reading)
    welsh = measure(_text("manordeilo-salem-cc/mscc-minutes-2019-10-09-cy.pdf"))
    assert welsh.dictionary_share < 0.3  # few English words: the letter pairs are what keep it
    assert welsh.pair_score is not None and welsh.pair_score > MIN_PAIR_SCORE + 0.5


def test_prose_in_other_latin_languages_is_not_glyph_soup() -> None:
    polish = (
        "Rada Gminy postanawia, że posiedzenia rady odbywają się co najmniej raz na kwartał. Przewodniczący "
        "zwołuje sesję z własnej inicjatywy lub na wniosek co najmniej jednej czwartej ustawowego składu rady. "
        "Mieszkańcy mają prawo do informacji o pracy rady i jej komisji, w tym do wglądu w protokoły posiedzeń."
    )
    french = (
        "Le conseil municipal se réunit au moins une fois par trimestre. Le maire convoque le conseil municipal "
        "chaque fois qu'il le juge utile. Les séances du conseil sont publiques, sauf décision contraire."
    )
    for text in (polish, french):
        assert not measure(text).garbled, measure(text)


def test_garbled_versions_of_real_text_are_glyph_soup() -> None:
    english = _text("trafford/trafford-constitution-part-1-summary.pdf")
    welsh = _text("manordeilo-salem-cc/mscc-minutes-2019-10-09-cy.pdf")
    rng = random.Random(11)
    variants = {
        # what a font without a usable character map gives: glyph ids read as character codes
        "glyph ids": "".join(chr(ord(c) - 29) if 32 < ord(c) < 127 else c for c in english),
        "private use": "".join(chr(0xE000 + ord(c) % 256) if c.isalpha() else c for c in english),
        "random bytes as Windows-1252": rng.randbytes(6000).decode("cp1252", errors="replace"),
    }
    for seed in range(20):
        table = scrambled_alphabet(seed)
        variants[f"english letters scrambled ({seed})"] = "".join(table.get(c, c) for c in english)
        variants[f"welsh letters scrambled ({seed})"] = "".join(table.get(c, c) for c in welsh)
    missed = {name: measure(text) for name, text in variants.items() if not measure(text).garbled}
    assert not missed
    assert "glyph soup" in measure(variants["glyph ids"]).reason()


# --- PDFs whose text layer is garbage ------------------------------------------------------------


def test_pdf_with_only_a_garbled_text_layer_needs_ocr(tmp_path: Path) -> None:
    pdf = pdf_with_text_layers(tmp_path / "minutes.pdf", [prose_lines(skip=0), prose_lines(skip=40)], garbled={1, 2})
    extracted = PdfReader(pdf).pages[0].extract_text()
    assert "council" not in extracted.lower()  # the layer really is soup: this is what would have been indexed

    with pytest.raises(NeedsOCR) as info:
        load_pages(pdf, SETTINGS)
    assert str(info.value).startswith("text layer is unreadable (glyph soup: letter-pair score -")
    assert str(info.value).endswith("needs OCR (turn it on with CLERK_OCR=true)")


def test_garbled_pages_beside_good_ones_are_dropped_and_named(tmp_path: Path) -> None:
    lines = [prose_lines(skip=0), prose_lines(skip=40), prose_lines(skip=80)]
    pdf = pdf_with_text_layers(tmp_path / "report.pdf", lines, garbled={2, 3})
    pages, warnings = load_pages(pdf, SETTINGS)

    assert [p.number for p in pages] == [1, 2, 3]
    assert lines[0][0] in pages[0].text
    assert pages[1].text == "" and pages[2].text == ""  # the soup never reaches the index
    assert len(warnings) == 1
    assert warnings[0].startswith("pages 2-3 have an unreadable text layer (glyph soup: letter-pair score")
    assert warnings[0].endswith("and OCR is turned off (CLERK_OCR); not indexed")


def test_garbled_page_is_read_by_ocr_when_ocr_is_on(tmp_path: Path, tesseract) -> None:
    lines = [prose_lines(skip=0), prose_lines(skip=40, count=12)]
    pdf = pdf_with_text_layers(tmp_path / "report.pdf", lines, garbled={2})
    pages, warnings = load_pages(pdf, Settings(ocr=True, ocr_dpi=200))

    assert "page 2 has an unreadable text layer; read by OCR instead" in warnings
    assert pages[1].ocr and not pages[0].ocr
    assert not measure(pages[1].text).garbled
    words = {w.strip(".,;:").lower() for line in lines[1] for w in line.split()}
    read = {w.strip(".,;:").lower() for w in pages[1].text.split()}
    assert len(words & read) / len(words) > 0.8  # what the page shows, not what its layer claims


# --- files that are not what their name says ---------------------------------------------------


def test_html_saved_as_pdf_is_read_as_html_with_a_warning(tmp_path: Path) -> None:
    fake = tmp_path / "agenda.pdf"
    fake.write_text(
        "<!DOCTYPE html>\n<html><head><title>Agenda</title><script>track()</script></head><body>"
        "<h1>Agenda of the Parish Council meeting</h1><p>The council will consider the precept for 2025-26.</p>"
        "</body></html>",
        encoding="utf-8",
    )
    pages, warnings = load_pages(fake, SETTINGS)

    assert warnings == ["the file is named .pdf but is an HTML page; read as HTML"]
    lines = pages[0].text.split("\n")
    assert "Agenda of the Parish Council meeting" in lines and "track()" not in pages[0].text


def test_pdf_and_word_files_under_each_others_names_are_read_as_what_they_are(tmp_path: Path) -> None:
    pdf_as_docx = tmp_path / "policy.docx"
    shutil.copy(corpus_file("hertingfordbury-pc/hpc-grants-policy.pdf"), pdf_as_docx)
    docx_as_pdf = tmp_path / "policy.pdf"
    shutil.copy(corpus_file(WORD_SOURCE), docx_as_pdf)

    pages, warnings = load_pages(pdf_as_docx, SETTINGS)
    assert warnings == ["the file is named .docx but is a PDF; read as PDF"] and len(pages) == 4
    pages, warnings = load_pages(docx_as_pdf, SETTINGS)
    assert warnings == ["the file is named .pdf but is a Word .docx file; read as Word .docx"]
    assert "Grants Policy" in pages[0].text

    archive = tmp_path / "minutes.pdf"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("minutes.txt", "not a PDF")
    assert load_error(archive) == "is a zip archive, not a PDF"


def test_binary_data_named_txt_is_refused_not_indexed(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_bytes(random.Random(5).randbytes(20000))
    reason = load_error(junk)
    assert reason.startswith("text is unreadable (glyph soup: ")
    assert reason.endswith("it does not look like a document")


def test_password_protected_word_file_is_named_as_such(tmp_path: Path) -> None:
    """Office saves a password-protected file as an OLE compound file holding the encrypted package.

    The real encrypted workbook of tests/fixtures/office, named .docx: the reason is the password, not the name.
    """
    locked = tmp_path / "policy.docx"
    shutil.copy2(ROOT / "tests" / "fixtures" / "office" / "trafford_council_voluntary_sector_grants_password.xlsx",
                 locked)
    assert load_error(locked) == (
        "not a readable Word .docx file: it is protected with a password (save it without one)"
    )


def test_an_old_binary_doc_named_docx_is_named_as_such(tmp_path: Path) -> None:
    """An OLE compound file without an encrypted package is a pre-2007 .doc."""
    old = tmp_path / "policy.docx"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))
    assert load_error(old) == "not a readable Word .docx file: it is an old binary .doc file (save it as .docx)"


# --- zip bombs ------------------------------------------------------------------------------------


def test_docx_zip_bomb_is_refused_from_its_declared_size_in_little_memory(tmp_path: Path) -> None:
    bomb = docx_zip_bomb(tmp_path / "policy.docx", unpacked_mb=1024)
    assert bomb.stat().st_size < 2 * MIB
    with zipfile.ZipFile(bomb) as z:
        assert z.getinfo("word/document.xml").file_size > 1024 * MIB

    reason, peak = peak_memory(lambda: load_error(bomb))
    assert reason == (
        "Word .docx file refused as a zip bomb: it would unpack to 1,024 MB, over the 300 MB limit "
        "(CLERK_MAX_UNZIPPED_MB)"
    )
    assert peak < 20 * MIB


def test_zip_bomb_under_the_size_limit_is_caught_by_its_compression_ratio(tmp_path: Path) -> None:
    bomb = docx_zip_bomb(tmp_path / "policy.docx", unpacked_mb=1024)
    reason = load_error(bomb, Settings(ocr=False, max_unzipped_mb=5000))
    assert reason.startswith("Word .docx file refused as a zip bomb: word/document.xml expands 1,0")
    assert reason.endswith("-fold to 1,024 MB (office files stay under 200-fold)")


def test_zip_bomb_that_lies_about_its_size_is_stopped_after_the_declared_bytes(tmp_path: Path) -> None:
    """Headers claim 20 KB; the deflate stream holds 1 GB. Reading stops at 20 KB and the CRC check fails."""
    liar = docx_zip_bomb(tmp_path / "policy.docx", unpacked_mb=1024, declared_size=20_000)
    reason, peak = peak_memory(lambda: load_error(liar))
    assert (
        reason == "not a readable Word .docx file: the zip package is damaged (Bad CRC-32 for file 'word/document.xml')"
    )
    assert peak < 20 * MIB


def test_a_well_formed_package_built_the_same_way_reads_normally(tmp_path: Path) -> None:
    """The bomb builder makes valid packages: with no padding the document reads like the original."""
    plain = docx_zip_bomb(tmp_path / "policy.docx", unpacked_mb=0)
    pages, warnings = load_pages(plain, SETTINGS)
    original, _ = load_pages(corpus_file(WORD_SOURCE), SETTINGS)
    assert warnings == [] and pages[0].text == original[0].text


def test_xml_entity_bomb_in_a_docx_is_never_expanded(tmp_path: Path) -> None:
    """A "billion laughs" DTD in document.xml, its last entity referenced in the heading.

    python-docx's parser does not resolve entities, so a small one is read as the
    document with the reference left out; at nine levels libxml2's own limit on
    entity amplification stops the parse and the file is refused, nothing expanded.
    """
    small = docx_entity_bomb(tmp_path / "small.docx", levels=3)
    pages, warnings = load_pages(small, SETTINGS)
    original, _ = load_pages(corpus_file(WORD_SOURCE), SETTINGS)
    assert warnings == [] and pages[0].text == original[0].text.replace("Grants Policy", "Grants  Policy", 1)

    laughs = docx_entity_bomb(tmp_path / "policy.docx")
    reason, peak = peak_memory(lambda: load_error(laughs))
    assert reason == "not a readable Word .docx file: XMLSyntaxError"  # the parser's error name: not why
    assert peak < 20 * MIB  # resolved, the heading alone would hold 3 GB of "lol"


# --- size limit -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["budget-book.pdf", "minutes.txt"])
def test_a_200_mb_file_is_refused_by_size_before_it_is_read(tmp_path: Path, name: str) -> None:
    big = tmp_path / name
    with big.open("wb") as f:
        f.truncate(200 * MIB + 1)  # sparse: no disk used; zeros that no loader could read as a document
    assert load_error(big, Settings(ocr=False)) == "file is 200.0 MB, over the 200 MB limit (CLERK_MAX_FILE_MB)"
    with big.open("r+b") as f:
        f.truncate(200 * MIB)
    assert load_error(big, Settings(ocr=False, max_file_mb=150)) == (
        "file is 200.0 MB, over the 150 MB limit (CLERK_MAX_FILE_MB)"
    )


# --- text encodings -------------------------------------------------------------------------------

MINUTES = "Precept of £12,500 agreed – Chairman’s report noted; Café licence renewed."


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_and_without_a_byte_order_mark(tmp_path: Path, codec: str) -> None:
    note = tmp_path / "minutes.txt"
    note.write_bytes(MINUTES.encode(codec))  # "utf-16" writes a BOM; the -le/-be forms do not
    pages, warnings = load_pages(note, SETTINGS)
    assert pages[0].text == MINUTES
    if codec == "utf-16":
        assert warnings == []
    else:
        assert warnings == [f"text is UTF-16 without a byte order mark; read as {codec.upper()}"]


def test_invalid_bytes_inside_utf8_are_read_with_a_warning(tmp_path: Path) -> None:
    """A UTF-8 file with a pasted Windows-1252 pound sign and a byte no encoding defines."""
    note = tmp_path / "minutes.txt"
    note.write_bytes(MINUTES.encode("utf-8") + b" Grant of \xa35,000 agreed \x81 unanimously.")
    pages, warnings = load_pages(note, SETTINGS)
    assert pages[0].text == MINUTES + " Grant of £5,000 agreed \ufffd unanimously."
    assert warnings == ["text is UTF-8 with 2 invalid byte sequence(s); read those as Windows-1252"]


# --- a page repeated 1,000 times ------------------------------------------------------------------

def test_a_page_repeated_1000_times_is_chunked_once(tmp_path: Path) -> None:
    pdf = repeated_page_pdf(tmp_path / "allowances.pdf")
    out = parse_file(ParseJob(pdf, "allowances.pdf", "doc1"), Settings(ocr=False))

    assert out.error is None and out.doc is not None
    assert len(out.doc.pages) == 1000  # page numbers are kept, as a viewer shows them
    assert "pages 2-1000 repeat earlier pages word for word; indexed once" in out.doc.warnings
    texts = [n.text for n in out.nodes]
    assert 1 <= len(texts) <= 5 and len(set(texts)) == len(texts)
    assert {n.metadata["page_start"] for n in out.nodes} == {1}
    assert any("46.9p per mile" in t for t in texts)
