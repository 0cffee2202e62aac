"""The `clerk` command as a user runs it: exit codes, one error line per bad file, JSON, `clerk docs`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from clerk.cli import main
from tests.helpers import copy_corpus_files

pytestmark = pytest.mark.slow


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    copy_corpus_files(root, ["nwldc/lga-case-study-council-wide-assurance.txt", "wye-valley-cc/wvcc-budget-2018-19.pdf"])
    return root


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ingest_reports_bad_files_and_exits_non_zero(tmp_path, folder, capsys):
    (folder / "broken.pdf").write_bytes(b"not a pdf at all")
    (folder / "notes.xyz").write_text("unsupported")
    index = str(tmp_path / "idx")
    code, out, err = _run(capsys, "ingest", str(folder), "--index", index, "--quiet")
    assert code == 1
    error_lines = [ln for ln in err.splitlines() if "broken.pdf" in ln]
    assert len(error_lines) == 1 and "not a readable PDF" in error_lines[0]
    assert "2 indexed" in out and "1 failed" in out

    (folder / "broken.pdf").unlink()
    code, out, err = _run(capsys, "ingest", str(folder), "--index", index, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"]
    outcomes = {Path(f["source"]).name: f["outcome"] for f in report["files"]}
    assert outcomes["lga-case-study-council-wide-assurance.txt"] == "unchanged"
    assert outcomes["notes.xyz"] == "skipped"

    code, out, _ = _run(capsys, "docs", "--index", index, "--json")
    docs = {Path(d["source"]).name: d for d in json.loads(out)}
    assert code == 0
    case_study = docs["lga-case-study-council-wide-assurance.txt"]
    assert case_study["status"] == "indexed" and case_study["chunks"] > 0 and case_study["council"] == "nwldc"
    assert docs["broken.pdf"]["status"] == "failed"
    budget = docs["wvcc-budget-2018-19.pdf"]
    assert (budget["council"], budget["doc_type"], budget["pages"]) == ("wye-valley-cc", "budget", 1)


def test_unsupported_file_named_explicitly_is_an_error(tmp_path, capsys):
    odd = tmp_path / "minutes.rtf"
    odd.write_text("{\\rtf1 minutes}")
    code, _, err = _run(capsys, "ingest", str(odd), "--index", str(tmp_path / "idx"), "--quiet")
    assert code == 1
    assert "minutes.rtf: unsupported file type '.rtf'" in err


def test_scan_without_ocr_is_reported_as_needing_ocr_not_failed(tmp_path, capsys):
    root = tmp_path / "docs"
    copy_corpus_files(root, ["wye-valley-cc/wvcc-annual-return-2018-19.pdf"])
    code, out, err = _run(capsys, "ingest", str(root), "--index", str(tmp_path / "idx"), "--no-ocr", "--quiet")
    assert code == 0
    assert "needs OCR" in err and "1 needs_ocr" in out


def test_docs_without_an_index_says_so(tmp_path, capsys):
    code, _, err = _run(capsys, "docs", "--index", str(tmp_path / "none"))
    assert code == 1 and "no index" in err


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("clerk")
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "ingest" in proc.stdout and "docs" in proc.stdout


def test_every_command_that_opens_an_index_takes_chroma_url():
    from clerk.cli import build_parser

    parser = build_parser()
    for command in (["ingest"], ["docs"], ["ask", "q"], ["eval"], ["serve"]):
        args = parser.parse_args([*command, "--chroma-url", "http://127.0.0.1:8000"])
        assert args.chroma_url == "http://127.0.0.1:8000", command


def test_ingest_output_to_a_log_is_one_plain_line_per_file_with_its_full_path(tmp_path):
    """Piped into a log or grep, each file is one unwrapped line: outcome, full path, then counts or the reason."""
    deep = tmp_path / "a folder with a long name for council papers" / "b" / "archive 2019-2025 minutes and reports"
    copy_corpus_files(deep, ["nwldc/lga-case-study-council-wide-assurance.txt"])
    (deep / "a truncated copy of the budget report with a very long file name indeed.pdf").write_bytes(b"%PDF-1.4\n")
    exe = Path(sys.executable).with_name("clerk")
    proc = subprocess.run([str(exe), "ingest", str(deep), "--index", str(tmp_path / "idx")],
                          capture_output=True, text=True, check=False, env={**os.environ, "COLUMNS": "60"})
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    failed = [ln for ln in lines if ln.startswith("failed\t")]
    indexed = [ln for ln in lines if ln.startswith("indexed\t")]
    assert len(failed) == 1 and len(indexed) == 1, proc.stdout
    outcome, path, reason = failed[0].split("\t")
    assert path == str(deep / "a truncated copy of the budget report with a very long file name indeed.pdf")
    assert reason.startswith("not a readable PDF")
    assert indexed[0].split("\t")[1] == str(deep / "nwldc" / "lga-case-study-council-wide-assurance.txt")
    assert re.fullmatch(r"\d+ pages, \d+ chunks", indexed[0].split("\t")[2])
