"""`clerk train` on a tiny real set, the compact model file, and an index following a changed embedder.

Three North West Leicestershire texts are indexed; a few of the bundled
training questions about them train a model for a handful of steps (the
bundled models are trained by `make train`, never by the tests). What is
checked is what a council retraining on its own questions relies on: the
examples are mined from the index, the model file is small and loads offline,
its vectors are the trained weights' (not the base's), and an index embedded
with one model is embedded again, not mixed, when the configured model changes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from evals.trainset import TRAIN_DIR
from tests.helpers import ROOT, copy_corpus_files, make_settings

pytestmark = pytest.mark.slow

FILES = [
    "nwldc/productivity-plan.txt",
    "nwldc/lga-peer-challenge-progress-review-2025.txt",
    "nwldc/cabinet-2025-06-24-peer-review-follow-up.txt",
]


def _questions(limit_train: int = 12, limit_eval: int = 6) -> tuple[list[str], list[str]]:
    """Bundled training questions (JSONL lines) whose every source is one of FILES: some to train, some to measure."""
    lines = [ln for f in sorted(TRAIN_DIR.glob("*.jsonl")) for ln in f.read_text(encoding="utf-8").splitlines()]
    ours = [ln for ln in lines if (srcs := json.loads(ln)["sources"]) and all(s["file"] in FILES for s in srcs)]
    return ours[:limit_train], ours[limit_train : limit_train + limit_eval]


@pytest.fixture(scope="module")
def packaged():
    """The packaged MiniLM the tiny model is trained from (the session's embedder may be the bundled trained one)."""
    from clerk.settings import packaged_minilm_path
    from ingest.embed import Embedder

    return Embedder(packaged_minilm_path())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, packaged):
    """The three texts indexed with the packaged model; a model trained on 12 of their questions."""
    from ingest.pipeline import Ingester
    from training.run import train

    tmp = tmp_path_factory.mktemp("train")
    root = tmp / "docs"
    copy_corpus_files(root, FILES)
    settings = make_settings(tmp, embed_model="")
    report = Ingester(settings, embedder=packaged).run([root])
    assert report.ok and report.count("indexed") == 3, report.results
    train_lines, eval_lines = _questions()
    assert len(train_lines) == 12 and len(eval_lines) == 6
    (tmp / "train.jsonl").write_text("\n".join(train_lines) + "\n", encoding="utf-8")
    (tmp / "measure.jsonl").write_text("\n".join(eval_lines) + "\n", encoding="utf-8")
    said: list[str] = []
    out = tmp / "model"
    out.mkdir()
    (out / "calibration.json").write_text('{"refusal_threshold": 0.5}', encoding="utf-8")  # an earlier model's fit
    trained = train([tmp / "train.jsonl"], out, settings, evaluate=[tmp / "measure.jsonl"],
                    epochs=1, batch_size=4, say=said.append)
    return settings, root, out, trained, said


def test_examples_come_from_the_index_and_the_run_is_reported(tiny) -> None:
    settings, _, out, report, said = tiny
    data, run = report["data"], report["run"]
    assert data["questions"] == 12 and data["examples"] >= 12 - data["skipped"] and data["skipped"] <= 2
    assert run["steps"] == -(-data["examples"] // 4) and run["seconds"] > 0
    assert len(run["loss"]) >= 1 and all(np.isfinite(v) for _, v in run["loss"])
    assert any("mining examples" in line for line in said) and any("step" in line for line in said)
    measured = report["dense_retrieval"]["measure.jsonl"]
    assert measured["base"]["questions"] == measured["trained"]["questions"] == 6
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "| measure.jsonl | 6 |" in card and "Apache-2.0" in card and "MultipleNegativesRankingLoss" in card
    assert json.loads((out / "report.json").read_text())["data"] == data
    assert not (out / "examples.jsonl").exists()
    assert not (out / "calibration.json").exists(), "a fit of the earlier weights would be used with these"


def test_model_file_is_small_and_its_vectors_are_the_trained_ones(tiny, packaged) -> None:
    from ingest.embed import Embedder
    from ingest.weights import read_manifest

    _, _, out, _, _ = tiny
    assert (out / "weights.safetensors").stat().st_size < 30_000_000
    assert read_manifest(out)["base"] == "all-MiniLM-L6-v2" and read_manifest(out)["kind"] == "embedder"
    tuned = Embedder(str(out))
    texts = ["How many productivity savings did the council make?", "The Cabinet noted the peer review report."]
    a, b = tuned.embed(texts), packaged.embed(texts)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    assert float((a * b).sum(axis=1).min()) < 0.9999, "the trained weights were not loaded"
    assert float((a * b).sum(axis=1).min()) > 0.8, "a few steps cannot have moved the model this far"


def test_int8_weights_keep_the_models_vectors(tmp_path, packaged) -> None:
    """The packaged model written compactly and read back embeds as the float32 one does."""
    from ingest.embed import Embedder
    from ingest.weights import save_compact

    folder = save_compact(packaged.model, tmp_path / "compact", info={"kind": "embedder"})
    again = Embedder(str(folder))
    texts = [ln for ln in (ROOT / "corpus" / FILES[0]).read_text(encoding="utf-8").splitlines() if len(ln) > 60][:40]
    cos = (again.embed(texts) * packaged.embed(texts)).sum(axis=1)
    assert float(cos.min()) > 0.995, float(cos.min())


def test_changed_model_reembeds_the_index_instead_of_mixing_vectors(tiny) -> None:
    from assistant import Assistant
    from ingest.embed import Embedder, model_name
    from ingest.pipeline import UNCHANGED, Ingester
    from ingest.store import ModelChanged, Store

    settings, root, out, _, _ = tiny
    tuned_settings = make_settings(settings.index.parent, embed_model=str(out))
    with pytest.raises(ModelChanged, match="clerk ingest"):
        Assistant(tuned_settings)
    report = Ingester(tuned_settings).run([root])
    store = Store(tuned_settings)
    try:
        count = store.registry.chunk_count()
        assert report.reembedded == count > 0 and report.count(UNCHANGED) == 3
        assert store.registry.get_meta("embed_model") == model_name(tuned_settings)
        assert "trained, sha256" in model_name(tuned_settings)
        row = store.registry.chunks()[0]
        from ingest.chunk import embedding_text

        stored = np.asarray(store.collection.get(ids=[row["id"]], include=["embeddings"])["embeddings"][0])
        expected = Embedder(str(out)).embed([embedding_text(row["title"] or "", row["section"] or "", row["text"])])[0]
        assert float(stored @ expected) > 0.9999
        # An interrupted re-embedding is refused until a run finishes it.
        store.registry.set_meta("embed_model_pending", model_name(tuned_settings))
    finally:
        store.close()
    with pytest.raises(ModelChanged, match="partly re-embedded"):
        Assistant(tuned_settings)
    again = Ingester(tuned_settings).run([root])
    assert again.reembedded == count
    a = Assistant(tuned_settings)
    try:
        answer = a.ask("What does the productivity plan say about the council's use of technology?")
        assert answer.citations and all("nwldc" in c.source for c in answer.citations)
    finally:
        a.close()
    with pytest.raises(ModelChanged, match="trained"):
        Assistant(settings)  # the packaged model against the trained model's vectors


def test_train_command_names_a_bad_gold_file(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "clerk.cli", "train", "--gold", str(bad), "--index",
                           str(tmp_path / "idx"), "--out", str(tmp_path / "m")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert f"{bad}:1" in proc.stderr and "question" in proc.stderr
    assert not (tmp_path / "m").exists()
