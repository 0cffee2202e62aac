"""Each embedder is used with the constants fitted for its own vectors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from assistant.calibration import CALIBRATION_PATH, calibration_path, load_calibration, own_calibration_path
from clerk.settings import TRAINED_EMBEDDER, Settings
from ingest.embed import model_name


def test_the_packaged_model_uses_the_assistants_own_calibration() -> None:
    assert calibration_path("") == own_calibration_path("") == CALIBRATION_PATH


def test_a_trained_model_without_a_fit_falls_back_to_the_packaged_models(tmp_path: Path) -> None:
    model = tmp_path / "mine"
    shutil.copytree(TRAINED_EMBEDDER, model, ignore=shutil.ignore_patterns("calibration.json", "weights.safetensors"))
    assert own_calibration_path(str(model)) == model / "calibration.json"
    assert calibration_path(str(model)) == CALIBRATION_PATH
    (model / "calibration.json").write_text(json.dumps({"refusal_threshold": 0.42}), encoding="utf-8")
    assert calibration_path(str(model)) == model / "calibration.json"
    assert load_calibration(calibration_path(str(model))).refusal_threshold == 0.42


def test_the_bundled_embedders_calibration_was_fitted_on_its_own_vectors() -> None:
    """Retraining the model without refitting would leave constants fitted on other vectors: the digest tells."""
    own = calibration_path(str(TRAINED_EMBEDDER))
    assert own == TRAINED_EMBEDDER / "calibration.json"
    fitted = load_calibration(own).provenance
    assert fitted["embedder"] == model_name(Settings(embed_model=str(TRAINED_EMBEDDER)))
    assert fitted["gold"] == "dev.jsonl"
    packaged = load_calibration(CALIBRATION_PATH).provenance
    assert packaged.get("embedder", model_name(Settings())) == model_name(Settings())
