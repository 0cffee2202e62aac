"""Fine-tune the embedder on mined triplets with sentence-transformers' trainer.

The loss is MultipleNegativesRankingLoss: each question is pulled towards its
passage and away from its mined hard negative *and* from every other passage
in the batch (in-batch negatives), so one triplet teaches a ranking over
``2 * batch_size`` passages. Batches never hold the same text twice
(``BatchSamplers.NO_DUPLICATES``), or a question's own passage would count
against it. Seeded, so the same examples give the same model.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from training.examples import Triplet

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass
class EmbedderRun:
    """What one training run did: its settings, how long it took, its loss by step."""

    examples: int
    epochs: float
    batch_size: int
    learning_rate: float
    max_seq_length: int
    seed: int
    seconds: float = 0.0
    steps: int = 0
    loss: list[tuple[int, float]] = field(default_factory=list)


def train_embedder(
    triplets: Sequence[Triplet],
    base: str,
    epochs: float = 1.0,
    batch_size: int = 32,
    learning_rate: float = 3e-5,
    max_seq_length: int = 256,
    seed: int = 13,
    progress: Callable[[int, int, float | None], None] | None = None,
) -> tuple[SentenceTransformer, EmbedderRun]:
    """A copy of the model at ``base`` trained on ``triplets``, and the run's record."""
    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback

    os.environ.setdefault("WANDB_DISABLED", "true")
    torch.manual_seed(seed)
    from ingest.weights import is_compact, load_sentence_transformer

    # A model trained here can be trained further (a council's own questions on top of the bundled ones).
    model = load_sentence_transformer(base) if is_compact(base) else SentenceTransformer(
        base, device="cpu", local_files_only=True)
    model.max_seq_length = max_seq_length
    data = Dataset.from_dict({
        "anchor": [t.anchor for t in triplets],
        "positive": [t.positive for t in triplets],
        "negative": [t.negative for t in triplets],
    })
    run = EmbedderRun(len(triplets), epochs, batch_size, learning_rate, max_seq_length, seed)

    class Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN003
            if logs and "loss" in logs:
                run.loss.append((state.global_step, round(float(logs["loss"]), 4)))
            if progress:
                progress(state.global_step, state.max_steps, (logs or {}).get("loss"))

    with tempfile.TemporaryDirectory(prefix="clerk-train-") as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=tmp,
            num_train_epochs=epochs,
            per_device_train_batch_size=batch_size,
            learning_rate=learning_rate,
            warmup_steps=0.1,  # a float: the share of steps spent warming up
            seed=seed,
            data_seed=seed,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            save_strategy="no",
            logging_steps=max(1, min(20, len(triplets) // batch_size // 4 or 1)),
            report_to="none",
            use_cpu=True,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        loss = MultipleNegativesRankingLoss(model)
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=data, loss=loss, callbacks=[Progress()]
        )
        t0 = time.perf_counter()
        trainer.train()
        run.seconds = round(time.perf_counter() - t0, 1)
        run.steps = int(trainer.state.global_step)
    model.eval()
    return model, run


def write_model(model: SentenceTransformer, run: EmbedderRun, folder: Path, data: dict[str, object]) -> Path:
    """Save ``model`` compactly (``ingest.weights``) with what it was trained on.

    A calibration left in ``folder`` was fitted on the previous weights' vectors: it is removed, so the
    assistant falls back to the packaged model's constants until ``evals.calibrate`` fits the new ones.
    """
    from assistant.calibration import own_calibration_path
    from ingest.weights import save_compact

    own_calibration_path(str(folder)).unlink(missing_ok=True)
    info = {"kind": "embedder", "trained": {**data, **{k: v for k, v in run.__dict__.items() if k != "loss"}}}
    return save_compact(model, folder, info=info)
