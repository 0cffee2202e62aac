"""Uploads with hostile names: stored only inside the uploads folder, under a safe, readable name."""

from __future__ import annotations

import time
import unicodedata
from pathlib import Path

import pytest

from tests.helpers import corpus_file, make_settings
from ui.library import MAX_NAME_BYTES, Library, safe_upload_name

RLO = "\u202e"  # right-to-left override: "minutes\u202efdp.exe" shows as "minutesexe.pdf"
LONG = "Riverside Parish Council minutes of the annual meeting held in the village hall " * 4


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("../../x.pdf", "x.pdf"),
        ("..\\..\\x.txt", "x.txt"),
        ("/etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\clerk\\Desktop\\agenda.docx", "agenda.docx"),
        (f"minutes{RLO}fdp.exe", "minutesfdp.exe"),  # the disguise is undone: it is an .exe, refused as such
        (f"budget{RLO}txt.md", "budgettxt.md"),
        ("notes\x00.pdf.txt", "notes.pdf.txt"),
        ("zero\u200bwidth\ufeff.md", "zerowidth.md"),
        ("Cafe\u0301 licence.txt", "Café licence.txt"),  # composed: one letter, as the person typed it
        ("Z\u0301\u0302\u0303\u0304\u0305\u0306algo.txt", "Ź\u0302\u0303algo.txt"),  # at most two marks a letter
        ("📄 Budget 💷 2025–26.pdf", "📄 Budget 💷 2025–26.pdf"),
        ("Cyngor Cymuned Tal-y-bont – cofnodion.pdf", "Cyngor Cymuned Tal-y-bont – cofnodion.pdf"),
        ("..", "upload"),
        ("   .pdf", "upload.pdf"),
        (".hidden.txt", "hidden.txt"),
        ("CON.txt", "upload-CON.txt"),
        ('what?<is>"this"|*.txt', "whatisthis.txt"),
        ("REPORT.PDF", "REPORT.pdf"),
    ],
)
def test_safe_upload_name(given: str, stored: str) -> None:
    assert safe_upload_name(given) == stored


def test_safe_upload_names_are_short_plain_and_keep_their_extension() -> None:
    for given in (LONG + ".pdf", "📄" * 200 + ".txt", "é" * 300 + ".md", "a" * 1000):
        name = safe_upload_name(given)
        assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
        assert Path(given).suffix.lower() == Path(name).suffix
        assert not any(unicodedata.category(c)[0] == "C" for c in name) and "/" not in name and "\\" not in name


@pytest.mark.slow
def test_uploads_with_hostile_names_stay_inside_the_uploads_folder(tmp_path, embedder) -> None:
    from assistant import Assistant
    from ingest.pipeline import Ingester

    settings = make_settings(tmp_path / "app", ocr=False)
    Ingester(settings, embedder=embedder).run([corpus_file("nwldc/lga-case-study-council-wide-assurance.txt")])
    incoming = tmp_path / "incoming"
    incoming.mkdir()

    def upload(name: str, text: str) -> Path:
        path = incoming / f"{len(list(incoming.iterdir()))}.txt"
        path.write_text(f"Riverside Parish Council\n\n{text}\n", encoding="utf-8")
        return path

    uploads: list[str | tuple[str, str]] = []
    # names a file on disk can have: passed as paths, as Gradio passes its temp files
    long_on_disk = LONG[:200].strip() + ".txt"  # 204 bytes: the disk allows it, the uploads folder shortens it
    for i, name in enumerate((f"minutes{RLO}txt.md", "Cafe\u0301 licence.txt", "📄 allotments 2025.txt", long_on_disk)):
        path = incoming / name
        path.write_text(f"Riverside Parish Council\n\nNotice {i}: the hall is booked for meeting {i + 10}.\n", "utf-8")
        uploads.append(str(path))
    # names only a browser can send: passed with the received file
    uploads += [
        (str(upload("a", "The allotment rent is £42 a year.")), "../../escape.txt"),
        (str(upload("b", "The hedge must be trimmed by 1 March.")), "..\\..\\escape2.txt"),
        (str(upload("c", "The bonfire season ends in March.")), "/etc/passwd.txt"),
        (str(upload("d", "The water charge is £15 a plot.")), "nul\x00byte.txt"),
        # longer than any file system allows, and the same as the long name above once shortened
        (str(upload("e", "The shed must be painted green.")), LONG + ".txt"),
    ]
    big = incoming / "budget-book.pdf"
    with big.open("wb") as f:
        f.truncate(200 * 2**20 + 1)
    uploads.append(str(big))
    before = {p for p in tmp_path.rglob("*") if p.is_file()}

    assistant = Assistant(settings, embedder=embedder)
    try:
        library = Library(assistant)
        job = library.add(uploads)
        deadline = time.monotonic() + 180
        while library.busy and time.monotonic() < deadline:
            time.sleep(0.2)
        assert job.finished
        rows = library.rows()
    finally:
        assistant.close()

    uploads_dir = settings.uploads_dir.resolve()
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - before
    outside = [p for p in written if not p.resolve().is_relative_to(settings.index.resolve())]
    assert outside == []
    stored = sorted(p.name for p in uploads_dir.iterdir())
    assert stored == sorted(
        [
            "minutestxt.md",
            "Café licence.txt",
            "📄 allotments 2025.txt",
            safe_upload_name(long_on_disk),
            safe_upload_name(long_on_disk)[: -len(" (2).txt")].rstrip() + " (2).txt",
            "escape.txt",
            "escape2.txt",
            "passwd.txt",
            "nulbyte.txt",
        ]
    )
    assert not (tmp_path / "escape.txt").exists() and not Path("/etc/passwd.txt").exists()
    assert job.errors == ["budget-book.pdf: file is 200.0 MB, over the 200 MB limit (CLERK_MAX_FILE_MB)"]
    assert "Added 9 of 9 file(s)." in library.progress_text()

    shown = {row[-1].rsplit("/", 1)[-1]: row for row in rows}
    for name in stored:
        title, status = shown[name][0], shown[name][6]
        assert status == "indexed"
        assert title and not any(unicodedata.category(c) in ("Cc", "Cf") for c in title)
