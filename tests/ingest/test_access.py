"""Restricted documents are marked by a sidecar file or a manifest column, and the marking follows the files."""

from __future__ import annotations

import pytest

from ingest.access import DEFAULT_REASON, restriction
from ingest.discover import discover
from ingest.metadata import ManifestIndex
from ingest.pipeline import INDEXED, UNCHANGED, Ingester
from ingest.registry import Registry
from tests.conftest import RESTRICTED_REASON
from tests.helpers import copy_corpus_files, make_settings


def _marks(settings) -> dict[str, str | None]:
    reg = Registry(settings.registry_path)
    try:
        return {d.source.rsplit("/", 1)[-1]: d.restricted for d in reg.documents()}
    finally:
        reg.close()


def test_sidecar_and_manifest_mark_documents_restricted(access_settings):
    marks = _marks(access_settings)
    assert marks["hpc-reserves-policy.pdf"] == RESTRICTED_REASON
    assert marks["wvcc-complaints-procedure.pdf"] == DEFAULT_REASON
    assert marks["hpc-code-of-conduct.pdf"] is None
    assert marks["productivity-plan.txt"] is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", None), ("no", None), ("False", None), ("-", None), ("yes", DEFAULT_REASON), ("TRUE", DEFAULT_REASON),
     ("Exempt: para 1", "Exempt: para 1"), ("np", "np")],  # a typo must not publish an exempt report
)
def test_manifest_values(tmp_path, value, expected):
    doc = tmp_path / "a.txt"
    doc.write_text("Some council text.")
    (tmp_path / "MANIFEST.tsv").write_text(f"file\trestricted\na.txt\t{value}\n")
    assert restriction(doc, ManifestIndex()) == expected


def test_sidecar_is_never_a_document(tmp_path):
    (tmp_path / "a.txt").write_text("text")
    (tmp_path / "a.txt.restricted").write_text("")
    found = discover([tmp_path])
    assert [p.name for p in found.files] == ["a.txt"] and not found.skipped
    assert restriction(tmp_path / "a.txt") == DEFAULT_REASON  # an empty marker still restricts


@pytest.mark.slow
def test_marking_changes_apply_without_re_embedding(tmp_path, embedder):
    root = tmp_path / "docs"
    (doc,) = copy_corpus_files(root, ["nwldc/productivity-plan.txt"])
    settings = make_settings(tmp_path)
    ing = Ingester(settings, embedder=embedder)
    assert ing.run([root]).count(INDEXED) == 1
    chunks = ing.store.registry.chunk_ids()
    marker = doc.with_name(doc.name + ".restricted")
    marker.write_text("Exempt: commercially sensitive\n")
    assert ing.run([root]).count(UNCHANGED) == 1, "a new marking must not re-embed the file"
    assert _marks(settings)["productivity-plan.txt"] == "Exempt: commercially sensitive"
    marker.unlink()
    assert ing.run([root]).count(UNCHANGED) == 1
    assert _marks(settings)["productivity-plan.txt"] is None
    assert ing.store.registry.chunk_ids() == chunks == ing.store.vector_ids()
    ing.store.close()
