"""An officer's corrections of a document's metadata: kept, applied at once, re-embedding only for a new title."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from clerk.cli import main
from ingest.chunk import embedding_text
from ingest.corrections import SIDECAR_SUFFIX, CorrectionError, parse_assignments, read_sidecar
from ingest.pipeline import Ingester
from ingest.registry import Registry
from ingest.store import Store
from tests.helpers import copy_corpus_files, make_settings

pytestmark = pytest.mark.slow

PLAN = "nwldc/productivity-plan.txt"
POLICY = "hertingfordbury-pc/hpc-reserves-policy.pdf"


@pytest.fixture
def index(tmp_path, embedder):
    """Two real documents in folders a council would use, indexed without a manifest."""
    root = tmp_path / "docs"
    copy_corpus_files(root, [PLAN, POLICY])
    settings = make_settings(tmp_path)
    ingester = Ingester(settings, embedder=embedder)
    assert ingester.run([root]).count("indexed") == 2
    ingester.store.close()
    return settings, root


def state(settings, name: str) -> tuple:
    """The document's row, its chunk rows and its vectors, as stored."""
    store = Store(settings)
    try:
        rec = next(d for d in store.registry.documents() if d.source.endswith(name))
        chunks = store.registry.chunks(doc_id=rec.doc_id)
        return rec, chunks, store.vectors([c["id"] for c in chunks])
    finally:
        store.close()


def test_council_type_and_date_change_at_once_without_embedding_again(index, capsys) -> None:
    settings, _ = index
    rec, chunks, vectors = state(settings, "hpc-reserves-policy.pdf")
    status = main(["docs", "--set", "hpc-reserves-policy.pdf", "council=herts-pc", "type=budget", "date=2019-03",
                   "--index", str(settings.index), "--json"])
    assert status == 0
    said = json.loads(capsys.readouterr().out)
    assert said["reembedded"] == 0 and set(said["changed"]) == {"council", "doc_type", "date"}
    after, chunks_after, vectors_after = state(settings, "hpc-reserves-policy.pdf")
    assert (after.council, after.doc_type, after.date) == ("herts-pc", "budget", "2019-03")
    assert after.overrides == {"council": "herts-pc", "doc_type": "budget", "date": "2019-03"}
    assert after.meta_origin.startswith("corrected by an officer: council, date, type")
    assert {(c["council"], c["doc_type"], c["date"]) for c in chunks_after} == {("herts-pc", "budget", "2019-03")}
    assert [c["id"] for c in chunks_after] == [c["id"] for c in chunks]
    for cid, v in vectors.items():
        assert np.array_equal(vectors_after[cid], v)  # not embedded again


def test_a_new_title_embeds_that_document_again_and_is_searchable(index, embedder, capsys) -> None:
    settings, _ = index
    _, _, plan_vectors = state(settings, "productivity-plan.txt")
    _, _, policy_before = state(settings, "hpc-reserves-policy.pdf")
    title = "NWLDC Productivity Plan Appendix Zanzibar"
    assert main(["docs", "--set", "productivity-plan.txt", f"title={title}", "--index", str(settings.index)]) == 0
    assert "passages embedded again" in capsys.readouterr().out
    rec, chunks, vectors = state(settings, "productivity-plan.txt")
    assert rec.title == title and {c["title"] for c in chunks} == {title}
    expected = embedder.embed([embedding_text(title, c["section"] or "", c["text"]) for c in chunks])
    for c, v in zip(chunks, expected, strict=True):
        assert np.allclose(vectors[c["id"]], v, atol=1e-5)
        assert not np.allclose(plan_vectors[c["id"]], v, atol=1e-3)
    registry = Registry(settings.registry_path)
    try:  # the lexical index follows the title
        hits = registry.lexical_search("zanzibar", 5, None)
        assert hits and {cid for cid, _ in hits} <= {c["id"] for c in chunks}
    finally:
        registry.close()
    _, _, policy_after = state(settings, "hpc-reserves-policy.pdf")
    assert all(np.array_equal(policy_after[cid], v) for cid, v in policy_before.items())  # only that document


def test_a_correction_survives_a_new_version_of_the_file(index, embedder) -> None:
    settings, root = index
    assert main(["docs", "--set", PLAN, "council=north-west-leics", "title=Productivity Plan 2024",
                 "--index", str(settings.index)]) == 0
    file = root / PLAN
    file.write_text(file.read_text(encoding="utf-8") + "\nA paragraph added in a later version of the plan.\n",
                    encoding="utf-8")
    ingester = Ingester(settings, embedder=embedder)
    assert ingester.run([root]).count("indexed") == 1
    ingester.store.close()
    rec, chunks, _ = state(settings, "productivity-plan.txt")
    assert (rec.council, rec.title) == ("north-west-leics", "Productivity Plan 2024")
    assert any("later version" in c["text"] for c in chunks)
    assert {c["title"] for c in chunks} == {"Productivity Plan 2024"}


def test_an_uploads_correction_is_written_beside_it_and_travels_to_a_new_index(tmp_path, embedder) -> None:
    settings = make_settings(tmp_path / "app")
    upload = settings.uploads_dir / "reserves.pdf"
    upload.parent.mkdir(parents=True)
    shutil.copy2(copy_corpus_files(tmp_path / "src", [POLICY])[0], upload)
    ingester = Ingester(settings, embedder=embedder)
    ingester.run([settings.uploads_dir])
    done = ingester.correct("reserves.pdf", parse_assignments(["type=policy", "council=hertingfordbury-pc",
                                                               "title=Reserves Policy (adopted 2019)"]))
    ingester.store.close()
    assert done.sidecar == upload.with_name("reserves.pdf" + SIDECAR_SUFFIX)
    assert read_sidecar(upload) == {"council": "hertingfordbury-pc", "doc_type": "policy",
                                    "title": "Reserves Policy (adopted 2019)"}
    fresh = make_settings(tmp_path / "other")
    other = Ingester(fresh, embedder=embedder)
    report = other.run([settings.uploads_dir])
    other.store.close()
    assert report.count("indexed") == 1  # the sidecar itself is not a document
    rec, chunks, _ = state(fresh, "reserves.pdf")
    assert rec.title == "Reserves Policy (adopted 2019)" and {c["title"] for c in chunks} == {rec.title}


def test_editing_a_sidecar_of_an_unchanged_file_applies_on_the_next_ingest(index, embedder) -> None:
    settings, root = index
    (root / (POLICY + SIDECAR_SUFFIX)).write_text('type = "financial_regulations"\n', encoding="utf-8")
    ingester = Ingester(settings, embedder=embedder)
    report = ingester.run([root])
    ingester.store.close()
    result = next(r for r in report.results if r.source.endswith("hpc-reserves-policy.pdf"))
    assert result.outcome == "unchanged" and result.note == "metadata corrected: type"
    rec, _, _ = state(settings, "hpc-reserves-policy.pdf")
    assert rec.doc_type == "financial_regulations"


def test_a_broken_sidecar_is_reported_and_the_file_still_indexed(tmp_path, embedder) -> None:
    root = tmp_path / "docs"
    copy_corpus_files(root, [POLICY])
    (root / (POLICY + SIDECAR_SUFFIX)).write_text('type = "minutes\n', encoding="utf-8")
    settings = make_settings(tmp_path)
    ingester = Ingester(settings, embedder=embedder)
    report = ingester.run([root])
    ingester.store.close()
    assert report.count("indexed") == 1
    assert "metadata corrections not applied: hpc-reserves-policy.pdf.meta.toml cannot be read" in report.results[0].note


@pytest.mark.parametrize(("pairs", "reason"), [
    (["kind=minutes"], "unknown field 'kind'"),
    (["type=memo"], "type 'memo' is not one of"),
    (["date=13/02/2025"], "write YYYY, YYYY-MM or YYYY-MM-DD"),
    (["council=Kent County Council"], "use the council's short id"),
    (["title="], "give the document's title"),
    (["council"], "write FIELD=VALUE"),
])
def test_a_bad_correction_names_the_field_and_why(pairs, reason) -> None:
    with pytest.raises(CorrectionError, match=reason):
        parse_assignments(pairs)


def test_the_cli_refuses_a_bad_correction_or_an_unknown_file_and_changes_nothing(index, capsys) -> None:
    settings, _ = index
    before = state(settings, "hpc-reserves-policy.pdf")[0]
    args = ["--index", str(settings.index)]
    assert main(["docs", "--set", "hpc-reserves-policy.pdf", "type=memo", *args]) == 2
    assert "clerk docs: type 'memo' is not one of" in capsys.readouterr().err
    assert main(["docs", "--set", "no-such-file.pdf", "type=policy", *args]) == 2
    assert "no indexed document matches 'no-such-file.pdf'" in capsys.readouterr().err
    after = state(settings, "hpc-reserves-policy.pdf")[0]
    assert (after.doc_type, after.overrides) == (before.doc_type, before.overrides)
