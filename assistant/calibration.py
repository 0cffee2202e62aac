"""Fitted constants of the assistant: fusion weights, reranker weights, refusal model.

They are fitted on labelled questions by ``python -m evals.calibrate``, which
writes them with the numbers it measured. Every score they weigh comes from the
embedder's vectors, so each embedder has its own fit: the packaged MiniLM's is
``calibration.json`` beside this module, a trained model's is the
``calibration.json`` in its folder (:func:`calibration_path`). The defaults
below are only used when neither file exists.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

CALIBRATION_PATH = Path(__file__).with_name("calibration.json")

#: Features of the best passage the refusal model reads (see :func:`refusal_features`).
REFUSAL_FEATURES: tuple[str, ...] = (
    "score", "sentence", "sentence_coverage", "coverage", "missing_rare", "numbers_missing", "missing_entities",
    "answer_type",
)


@dataclass
class Calibration:
    bm25_weight: float = 1.0
    dense_weight: float = 0.7
    rerank_weights: dict[str, float] = field(
        default_factory=lambda: {
            "rrf": 1.0, "bm25": 0.3, "dense": 0.5, "sentence": 1.0, "coverage": 0.5,
            "sentence_coverage": 0.5, "numbers": 0.3, "heading": 0.2, "council": 0.3,
        }
    )
    refusal_weights: dict[str, float] = field(
        default_factory=lambda: {"sentence": 6.0, "sentence_coverage": 3.0, "missing_rare": -3.0, "numbers_missing": -2.0}
    )
    refusal_bias: float = -3.0
    #: Answer when the refusal model's probability of "answerable" is at least this.
    refusal_threshold: float = 0.5
    #: How the numbers were obtained (questions, date, metrics), written by the fitter.
    provenance: dict[str, object] = field(default_factory=dict)

    def answerable_probability(self, features: dict[str, float]) -> float:
        z = self.refusal_bias + sum(self.refusal_weights.get(k, 0.0) * features.get(k, 0.0) for k in REFUSAL_FEATURES)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def save(self, path: Path = CALIBRATION_PATH) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


def own_calibration_path(embed_model: str) -> Path:
    """Where the calibration fitted for ``embed_model`` lives (``""``: the packaged MiniLM)."""
    return Path(embed_model) / "calibration.json" if embed_model else CALIBRATION_PATH


def calibration_path(embed_model: str) -> Path:
    """The calibration to use with ``embed_model``: its own, else the packaged model's (a model not yet fitted)."""
    own = own_calibration_path(embed_model)
    return own if own.exists() else CALIBRATION_PATH


def load_calibration(path: Path = CALIBRATION_PATH) -> Calibration:
    if not path.exists():
        return Calibration()
    data = json.loads(path.read_text(encoding="utf-8"))
    return Calibration(**{k: v for k, v in data.items() if k in Calibration.__dataclass_fields__})
