"""Document metadata on the real bundled corpus: manifest lookup, inference from text, and manifest robustness.

Inference tests copy a corpus file into ``tmp_path``, so no ``MANIFEST.tsv`` lies above it and everything must
come from the file's text and name. Pages are read with pypdf directly (PDF) or taken whole (TXT). This keeps the
tests independent of ``ingest.loaders``.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from ingest.discover import discover
from ingest.metadata import (
    DOC_TYPES,
    MANIFEST_COLUMNS,
    Manifest,
    ManifestIndex,
    council_slug,
    first_date,
    infer_metadata,
    load_manifests,
    resolve_metadata,
)
from ingest.types import Page
from tests.helpers import corpus_file

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def read_pages(path: Path, limit: int = 3) -> list[Page]:
    """The first pages of a real file: pypdf text for a PDF, the whole text as page 1 otherwise."""
    if path.suffix.lower() == ".pdf":
        logging.getLogger("pypdf").setLevel(logging.ERROR)  # the corpus has PDFs with broken xref tables on purpose
        reader = PdfReader(path)
        return [Page(i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages[:limit])]
    return [Page(1, path.read_text(encoding="utf-8"))]


def isolated_copy(rel: str, dest: Path, name: str | None = None) -> Path:
    """Copy a corpus file to ``dest`` (no manifest anywhere above it), optionally under a neutral name."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / (name or Path(rel).name)
    shutil.copy2(corpus_file(rel), target)
    return target


NWLDC_REVIEW = "nwldc/lga-peer-challenge-progress-review-2025.txt"
NWLDC_CABINET = "nwldc/cabinet-2025-06-24-peer-review-follow-up.txt"
NWLDC_PLAN = "nwldc/productivity-plan.txt"
NWLDC_CASE_STUDY = "nwldc/lga-case-study-council-wide-assurance.txt"
BLABY_REVIEW = "blaby/lga-peer-challenge-progress-review-2022.txt"
KENT_BUDGET = "kent-cc/kcc-budget-report-2025-26-feb-2025.pdf"
TRAFFORD_RULES = "trafford/trafford-constitution-part-4-procedure-rules.pdf"
HPC_MINUTES = "hertingfordbury-pc/hpc-minutes-2019-02-13.pdf"
KENT_CABINET_MINUTES = "kent-cc/kcc-cabinet-minutes-30-jan-2025.pdf"
MSCC_WELSH_MINUTES = "manordeilo-salem-cc/mscc-minutes-2019-10-09-cy.pdf"
TEXT_FILES = (NWLDC_REVIEW, NWLDC_PLAN, NWLDC_CABINET, NWLDC_CASE_STUDY, BLABY_REVIEW)


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return Manifest(corpus_file("MANIFEST.tsv"))


# --------------------------------------------------------------------------------------------------------------
# The bundled manifest
# --------------------------------------------------------------------------------------------------------------


def test_bundled_manifest_parses_cleanly(manifest: Manifest) -> None:
    assert manifest.warnings == []
    assert manifest.columns == MANIFEST_COLUMNS
    assert len(manifest) == 69


def test_manifest_row_found_for_a_kent_pdf(manifest: Manifest) -> None:
    row = manifest.find(corpus_file(KENT_BUDGET))
    assert row is not None
    assert row["title"] == "Kent County Council Budget Report 2025-26 (February 2025)"
    assert row["doc_type"] == "budget"
    assert row["date"] == "2025-02-13"
    assert row["council"] == "kent-cc"


def test_index_finds_the_row_from_a_relative_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS / "kent-cc")
    row = ManifestIndex().find(Path(Path(KENT_BUDGET).name))
    assert row is not None and row["file"] == KENT_BUDGET


def test_manifest_has_rows_for_the_five_text_files(manifest: Manifest) -> None:
    expected = {
        NWLDC_REVIEW: ("nwldc", "peer_review", "2025-04"),  # cover date, not the 2-3 April in section 2
        NWLDC_PLAN: ("nwldc", "productivity_plan", ""),
        NWLDC_CABINET: ("nwldc", "cabinet_report", "2025-06-24"),
        NWLDC_CASE_STUDY: ("nwldc", "case_study", ""),
        BLABY_REVIEW: ("blaby", "peer_review", "2022-12-14"),
    }
    for rel, (council, doc_type, date) in expected.items():
        row = manifest.find(corpus_file(rel))
        assert row is not None, rel
        assert (row["council"], row["doc_type"], row["date"]) == (council, doc_type, date), rel
        assert row["pages"] == "1" and row["has_text_layer"] == "yes"
        assert row["title"] and row["licence_note"].startswith("published by")


def test_every_manifest_file_exists(manifest: Manifest) -> None:
    missing = [rel for rel in manifest.rows if not (CORPUS / rel).is_file()]
    assert missing == []


def test_every_corpus_document_has_a_manifest_row(manifest: Manifest) -> None:
    """The documents are what ingest's own discovery finds (the corpus's .clerkignore applied): one row each."""
    documents = [p.relative_to(CORPUS).as_posix() for p in discover([CORPUS]).files]
    assert len(documents) == 69
    assert sorted(documents) == sorted(manifest.rows)


def test_manifest_doc_types_are_in_the_vocabulary(manifest: Manifest) -> None:
    assert {row["doc_type"] for row in manifest.rows.values()} <= set(DOC_TYPES)


def test_resolve_uses_the_manifest_row(manifest: Manifest) -> None:
    path = corpus_file(TRAFFORD_RULES)
    meta = resolve_metadata(path, read_pages(path, 1), ManifestIndex())
    assert meta.origin == "manifest"
    assert meta.council == "trafford"
    assert meta.doc_type == "standing_orders"
    assert meta.date == "2019-10"
    assert meta.title.startswith("Trafford Council Constitution Part 4")


# --------------------------------------------------------------------------------------------------------------
# Inference without a manifest
# --------------------------------------------------------------------------------------------------------------


def test_nwldc_review_inferred_from_text(tmp_path: Path) -> None:
    path = isolated_copy(NWLDC_REVIEW, tmp_path)
    meta = infer_metadata(path, read_pages(path))
    assert ManifestIndex().find(path) is None
    assert "north-west-leicestershire" in meta.council
    assert meta.doc_type == "peer_review"
    assert meta.date == "2025-04-01"  # cover "1-2 April 2025", not section 2's "2-3 April 2025"
    assert "Progress Review" in meta.title
    assert meta.origin == "inferred"


def test_council_folder_name_is_used_when_it_looks_like_a_slug(tmp_path: Path) -> None:
    path = isolated_copy(NWLDC_REVIEW, tmp_path / "nwldc")
    assert infer_metadata(path, read_pages(path)).council == "nwldc"


def test_generic_folder_name_is_not_taken_for_a_council(tmp_path: Path) -> None:
    path = isolated_copy(NWLDC_REVIEW, tmp_path / "documents")
    assert infer_metadata(path, read_pages(path)).council == "north-west-leicestershire-dc"


def test_blaby_review_inferred(tmp_path: Path) -> None:
    flat = isolated_copy(BLABY_REVIEW, tmp_path / "flat_copy")
    meta = infer_metadata(flat, read_pages(flat))
    assert meta.council == "blaby-dc"
    assert (meta.doc_type, meta.date) == ("peer_review", "2022-12-14")
    assert "Blaby District Council" in meta.title

    in_folder = isolated_copy(BLABY_REVIEW, tmp_path / "blaby")
    meta = infer_metadata(in_folder, read_pages(in_folder))
    assert (meta.council, meta.doc_type, meta.date) == ("blaby", "peer_review", "2022-12-14")


@pytest.mark.parametrize("name", [None, "document.pdf"])
def test_trafford_constitution_inferred_from_first_page(tmp_path: Path, name: str | None) -> None:
    path = isolated_copy(TRAFFORD_RULES, tmp_path, name)
    meta = infer_metadata(path, read_pages(path, 1))
    assert meta.doc_type in {"constitution", "standing_orders"}
    assert "trafford" in meta.council
    assert meta.date == "2019-10"  # running header "Trafford Council Constitution – October 2019"


def test_minutes_inferred_under_a_neutral_name(tmp_path: Path) -> None:
    path = isolated_copy(HPC_MINUTES, tmp_path, "scan0001.pdf")
    meta = infer_metadata(path, read_pages(path))
    assert meta.doc_type == "minutes"
    assert meta.date == "2019-02-13"  # "HELD ON 13TH FEBRUARY 2019"
    assert meta.council == "hertingfordbury-pc"
    assert meta.title.startswith("Minutes of a Meeting of Hertingfordbury Parish Council")


def test_cabinet_minutes_are_minutes_not_a_cabinet_report(tmp_path: Path) -> None:
    path = isolated_copy(KENT_CABINET_MINUTES, tmp_path, "download.pdf")
    meta = infer_metadata(path, read_pages(path))
    assert (meta.doc_type, meta.date, meta.council) == ("minutes", "2025-01-30", "kent-cc")


def test_welsh_minutes_inferred(tmp_path: Path) -> None:
    path = isolated_copy(MSCC_WELSH_MINUTES, tmp_path, "cofnodion.pdf")
    meta = infer_metadata(path, read_pages(path))
    assert (meta.doc_type, meta.date, meta.council) == ("minutes", "2019-10-09", "manordeilo-salem-cc")


def test_cabinet_report_about_a_peer_review_is_a_cabinet_report(tmp_path: Path) -> None:
    # the file name says "peer-review": the report's header ("... CABINET – TUESDAY, 24 JUNE 2025") must win
    path = isolated_copy(NWLDC_CABINET, tmp_path)
    meta = infer_metadata(path, read_pages(path))
    assert meta.doc_type == "cabinet_report"
    assert meta.date == "2025-06-24"
    # the "Title of Report" cell (with "FEEDBAC\tK" repaired), with the council's name and date it does not carry
    assert meta.title == "North West Leicestershire District Council – Peer Review Feedback Follow Up, 24 June 2025"
    assert meta.council == "north-west-leicestershire-dc"


def test_undated_text_gets_no_invented_date(tmp_path: Path) -> None:
    path = isolated_copy(NWLDC_PLAN, tmp_path)
    meta = infer_metadata(path, read_pages(path))
    assert (meta.doc_type, meta.date) == ("productivity_plan", "")
    assert meta.title == "North West Leicestershire District Council – Productivity Plan"


def test_empty_pages_fall_back_to_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "wvcc-agenda-2019-05-20.pdf"
    meta = infer_metadata(path, [Page(1, "")])
    assert (meta.council, meta.doc_type, meta.date) == ("unknown", "agenda", "2019-05-20")
    assert meta.title == "WVCC agenda 2019-05-20"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wednesday 14 December 2022\n\nFeedback", "2022-12-14"),
        ("LGA Corporate Peer Challenge\n1-2 April 2025\n... took place on 2-3 April 2025", "2025-04-01"),
        ("To: County Council 13 th February 2025", "2025-02-13"),
        ("Minutes dated 2025-06-24", "2025-06-24"),
        ("APPROVED SEPTEMBER 2021", "2021-09"),
        ("Budget 2019/20 and the 2024-25 outturn", ""),
        ("As at November 2024-25 – Quarter 3\nTo Cabinet – 30 January 2025", "2025-01-30"),
        ("Financial year ended 31 March 2020\n1. Date of announcement 14th AUGUST 2020", "2020-08-14"),
        ("CYFARFOD 9fed HYDREF 2019", "2019-10-09"),
        ("31 February 2020 is not a date", "2020-02"),
    ],
)
def test_first_date(text: str, expected: str) -> None:
    assert first_date(text) == expected


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Kent County Council", "kent-cc"),
        ("North West Leicestershire District Council", "north-west-leicestershire-dc"),
        ("Hertingfordbury Parish Council", "hertingfordbury-pc"),
        ("Tintern Community Council", "tintern-cc"),
        ("Trafford Council", "trafford"),
        ("Gloucester City Council", "gloucester-city"),
        ("Manordeilo & Salem Community Council", "manordeilo-salem-cc"),
        ("Stoke-on-Trent City Council", "stoke-on-trent-city"),
    ],
)
def test_council_slug(name: str, slug: str) -> None:
    assert council_slug(name) == slug


# --------------------------------------------------------------------------------------------------------------
# Manifest robustness
# --------------------------------------------------------------------------------------------------------------


def _write_manifest(folder: Path, rows: list[str]) -> Path:
    path = folder / "MANIFEST.tsv"
    path.write_text("\t".join(MANIFEST_COLUMNS) + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _row(file: str, council: str = "", title: str = "", doc_type: str = "", date: str = "") -> str:
    return "\t".join([file, council, title, doc_type, date, "1", "yes", "-", "-", "-", "test"])


def test_malformed_manifest_lines_are_skipped_not_fatal(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    review = isolated_copy(BLABY_REVIEW, corpus / "blaby")
    _write_manifest(
        corpus,
        [
            "blaby/broken.txt  blaby  spaces instead of tabs",  # 1 field
            "blaby/short.txt\tblaby\tonly three",  # 3 fields
            _row("blaby/bad-date.txt", "blaby", "Bad date", "other", "14/12/2022"),
            _row("blaby/lga-peer-challenge-progress-review-2022.txt", "blaby", "Blaby review", "peer_review"),
            _row("blaby/lga-peer-challenge-progress-review-2022.txt", "blaby", "Duplicate", "other"),
        ],
    )
    index = load_manifests([review])
    warnings = index.warnings
    assert len(warnings) == 4
    assert any("line 2" in w and "found 1" in w for w in warnings)
    assert any("line 3" in w and "found 3" in w for w in warnings)
    assert any("line 4" in w and "14/12/2022" in w for w in warnings)
    assert any("line 6" in w and "duplicate" in w for w in warnings)

    meta = resolve_metadata(review, read_pages(review), index)
    assert meta.origin == "manifest"
    assert (meta.council, meta.title, meta.doc_type) == ("blaby", "Blaby review", "peer_review")
    assert meta.date == "2022-12-14"  # empty in the row: inferred from the text
    bad_date = index.find(corpus / "blaby" / "bad-date.txt")  # the row is kept, only its date is dropped
    assert bad_date is not None and (bad_date["title"], bad_date["date"]) == ("Bad date", "")


def test_manifest_without_file_column_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "MANIFEST.tsv").write_text("name\ttitle\nx.txt\tX\n", encoding="utf-8")
    manifest = Manifest(tmp_path / "MANIFEST.tsv")
    assert len(manifest) == 0
    assert "no 'file' column" in manifest.warnings[0]


def test_manifest_search_climbs_ancestors_but_stops(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c"
    path = isolated_copy(BLABY_REVIEW, deep)
    _write_manifest(tmp_path, [_row("a/b/c/" + path.name, "blaby", "Found above", "peer_review", "2022-12")])
    assert ManifestIndex().find(path)["title"] == "Found above"  # type: ignore[index]
    assert ManifestIndex(max_levels=2).find(path) is None  # the manifest is 3 folders above the file's folder
    meta = resolve_metadata(path, read_pages(path), ManifestIndex())
    assert (meta.origin, meta.date) == ("manifest", "2022-12")
