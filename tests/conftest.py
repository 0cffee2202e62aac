"""Shared fixtures: a real embedder loaded once, and the whole bundled corpus indexed once per session.

The corpus index takes a few minutes to build, so every test that needs answers
from the real documents (assistant, evals) shares it.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from clerk.settings import Settings  # noqa: E402
from tests.helpers import CORPUS, make_settings  # noqa: E402


@pytest.fixture(scope="session")
def embedder():
    from ingest.embed import Embedder

    s = Settings()
    return Embedder(s.embed_model_path, s.embed_batch_size)


@pytest.fixture(scope="session")
def counter():
    from ingest.tokens import token_counter

    return token_counter(Settings().embed_model_path)


@pytest.fixture(scope="session")
def tesseract() -> None:
    """The OCR path's tool. Missing, every test that needs it fails naming it: a skip would hide the gap."""
    from ingest.loaders.ocr import ocr_available

    if not ocr_available():
        pytest.fail("Tesseract is not installed, so the OCR path cannot run: `make setup` installs it "
                    "(Debian: apt-get install tesseract-ocr tesseract-ocr-eng)")


@pytest.fixture(scope="session")
def index_settings(tmp_path_factory, embedder, tesseract):
    """The whole bundled corpus, indexed as `make run` indexes it (a few minutes on 2 cores).

    The refusal model and the reranker are calibrated on this corpus, so the
    answers tests check are the answers a user of the bundled corpus gets. Every
    bundled file must be indexed (the scanned ones through OCR), or be a named
    byte-identical duplicate of one that is: a file quietly left out would
    change every answer the tests check.
    """
    from ingest.discover import discover
    from ingest.pipeline import DUPLICATE, INDEXED, Ingester

    tmp = tmp_path_factory.mktemp("assistant")
    settings = make_settings(tmp, parse_workers=1)
    report = Ingester(settings, embedder=embedder).run([CORPUS])
    files = {p.relative_to(CORPUS).as_posix() for p in discover([CORPUS]).files}
    outcomes = {r.source.split("corpus/", 1)[-1]: r.outcome for r in report.results}
    assert set(outcomes) == files, sorted(files ^ set(outcomes))
    left_out = {f: o for f, o in outcomes.items() if o not in (INDEXED, DUPLICATE)}
    assert not left_out, [r for r in report.results if r.outcome not in (INDEXED, DUPLICATE)]
    assert report.count(DUPLICATE) == 1, [r for r in report.results if r.outcome == DUPLICATE]
    return settings


@pytest.fixture(scope="session")
def assistant(index_settings, embedder):
    from assistant import Assistant

    a = Assistant(index_settings, embedder=embedder)
    yield a
    a.close()


#: The small index of the access tests: two of its four documents are restricted.
ACCESS_FILES = [
    "hertingfordbury-pc/hpc-reserves-policy.pdf",  # restricted by a sidecar file
    "hertingfordbury-pc/hpc-code-of-conduct.pdf",
    "wye-valley-cc/wvcc-complaints-procedure.pdf",  # restricted by its manifest row: the only Wye Valley document
    "nwldc/productivity-plan.txt",
]
RESTRICTED_REASON = "Exempt: Schedule 12A paragraph 3"


@pytest.fixture(scope="session")
def access_settings(tmp_path_factory, embedder):
    """Four real documents, two marked restricted the two ways a corpus can mark them (sidecar, manifest)."""
    from ingest.pipeline import Ingester
    from tests.helpers import copy_corpus_files

    tmp = tmp_path_factory.mktemp("access")
    root = tmp / "docs"
    copy_corpus_files(root, ACCESS_FILES)
    (root / "hertingfordbury-pc" / "hpc-reserves-policy.pdf.restricted").write_text(RESTRICTED_REASON + "\n")
    (root / "MANIFEST.tsv").write_text(
        "file\tcouncil\ttitle\tdoc_type\tdate\trestricted\n"
        "wye-valley-cc/wvcc-complaints-procedure.pdf\twye-valley-cc\tWye Valley Community Council Complaints Procedure\tpolicy\t2019\tyes\n"
        "nwldc/productivity-plan.txt\tnwldc\tProductivity Plan\tproductivity_plan\t2024\tno\n"
    )
    settings = make_settings(tmp)
    report = Ingester(settings, embedder=embedder).run([root])
    assert report.ok and report.count("indexed") == 4, report.results
    return settings


@pytest.fixture(scope="session")
def bare_corpus(tmp_path_factory, embedder, tesseract):
    """The bundled corpus as a council brings it: its folders copied without MANIFEST.tsv or .clerkignore, indexed.

    Yields ``(settings, root)``: every document's council, type, title and date
    here is inferred, which is what every council's own library gets.
    """
    from evals.metadata import copy_without_manifest
    from ingest.pipeline import Ingester

    tmp = tmp_path_factory.mktemp("bare")
    root = copy_without_manifest(CORPUS, tmp / "documents")
    settings = make_settings(tmp, parse_workers=1)
    report = Ingester(settings, embedder=embedder).run([root])
    assert report.ok and report.count("indexed") == 68 and report.count("duplicate") == 1, report.results
    return settings, root
