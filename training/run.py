"""`clerk train`: mine examples from an index, fine-tune the embedder, measure it, write it with its model card.

The measurement is dense retrieval over every chunk of the index the examples
were mined from, before and after training: where the gold passage of each
evaluation question ranks among all of them (recall@1, recall@5, MRR@10).
It is the one channel training changes, measured without the rest of the
pipeline, so a gain or a loss is the model's own; ``clerk eval`` measures
the whole assistant once the index is embedded with the new model.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from clerk.settings import Settings, get_settings
from evals.gold import GoldQuestion, holds, load_gold
from training.card import write_card
from training.embedder import train_embedder, write_model
from training.examples import indexed_chunks, mine, save


@dataclass
class Measure:
    questions: int
    recall_at_1: float
    recall_at_5: float
    mrr_at_10: float


def dense_ranks(
    encode: Callable[[list[str]], np.ndarray], chunks: Sequence, questions: Sequence[GoldQuestion],
    matrix: np.ndarray | None = None,
) -> tuple[Measure, np.ndarray]:
    """How the gold chunk of each answerable question ranks by cosine over all ``chunks``."""
    if matrix is None:
        matrix = encode([c.embedded for c in chunks])
    answerable = [q for q in questions if q.answerable]
    if not answerable:
        return Measure(0, 0.0, 0.0, 0.0), matrix
    qv = encode([q.question for q in answerable])
    hits1 = hits5 = 0
    rr = 0.0
    for q, v in zip(answerable, qv, strict=True):
        order = np.argsort(-(matrix @ v))[:10]
        rank = next((r for r, i in enumerate(order, 1) if any(holds(chunks[i].source, chunks[i].text, s)
                                                             for s in q.sources)), None)
        if rank:
            rr += 1 / rank
            hits1 += rank == 1
            hits5 += rank <= 5
    n = len(answerable)
    return Measure(n, round(hits1 / n, 3), round(hits5 / n, 3), round(rr / n, 3)), matrix


def _shown(path: Path) -> str:
    """A path as the report shows it: relative to the checkout when inside it (reports are committed)."""
    from clerk.settings import PROJECT_ROOT

    try:
        return Path(path).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def train(
    gold: Sequence[Path],
    out: Path,
    settings: Settings | None = None,
    evaluate: Sequence[Path] = (),
    held_out: Sequence[str] = (),
    epochs: float = 1.0,
    batch_size: int = 32,
    learning_rate: float = 3e-5,
    seed: int = 13,
    say: Callable[[str], None] = print,
    command: str = "",
) -> dict:
    """The whole run; returns the report also written to ``out/report.json``.

    ``settings`` name the index to mine and the model to start from (it must
    be the model that index was embedded with).
    """
    from assistant import Assistant
    from ingest.embed import Embedder

    settings = settings or get_settings()
    questions = [q for f in gold for q in load_gold(f)]
    t0 = time.perf_counter()
    assistant = Assistant(settings)
    try:
        say(f"mining examples for {sum(q.answerable for q in questions)} answerable questions "
            f"with clerk's retrieval over {settings.index}")
        step = max(1, len(questions) // 10)
        triplets, missing = mine(assistant, questions, held_out,
                                 progress=lambda d, n: d % step == 0 and say(f"  {d}/{n} questions"))
        chunks = indexed_chunks(assistant)
    finally:
        assistant.close()
    mined_s = time.perf_counter() - t0
    if missing:
        say(f"  {len(missing)} questions skipped: no indexed chunk holds their span ({', '.join(missing[:5])}…)")
    if not triplets:
        raise ValueError("no training examples: no question's span is in the index (is it the right --index?)")
    work = out / "examples.jsonl"
    save(triplets, work)
    say(f"{len(triplets)} examples ({mined_s:.0f} s); training the embedder, {epochs:g} epoch(s), batch {batch_size}")
    model, run = train_embedder(
        triplets, settings.embed_model_path, epochs, batch_size, learning_rate, seed=seed,
        progress=lambda s, n, loss: say(f"  step {s}/{n}" + (f", loss {loss:.3f}" if loss is not None else "")),
    )
    say(f"trained in {run.seconds:.0f} s ({run.steps} steps)")
    data = {"gold": [_shown(p) for p in gold], "questions": len(questions),
            "answerable": sum(q.answerable for q in questions), "examples": len(triplets),
            "skipped": len(missing), "held_out_documents": len(held_out), "index": str(settings.index)}
    write_model(model, run, out, data)
    work.unlink()  # the examples are re-mined from the gold files; they would only bloat the model folder

    measures: dict[str, dict[str, dict]] = {}
    if evaluate:
        say(f"measuring dense retrieval over {len(chunks)} chunks, base vs trained")
        base = Embedder(settings.embed_model_path, settings.embed_batch_size, settings.embed_threads)
        tuned = Embedder(str(out), settings.embed_batch_size, settings.embed_threads)
        base_m = tuned_m = None
        for path in evaluate:
            qs = load_gold(path)
            b, base_m = dense_ranks(base.embed, chunks, qs, base_m)
            t, tuned_m = dense_ranks(tuned.embed, chunks, qs, tuned_m)
            measures[path.name] = {"base": asdict(b), "trained": asdict(t)}
            say(f"  {path.name}: MRR@10 {b.mrr_at_10:.3f} -> {t.mrr_at_10:.3f}, "
                f"recall@5 {b.recall_at_5:.3f} -> {t.recall_at_5:.3f} ({t.questions} questions)")
    report = {
        "model": _shown(out), "date": dt.date.today().isoformat(), "command": command,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "mining_seconds": round(mined_s, 1), "run": asdict(run), "data": data, "dense_retrieval": measures,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    write_card(out, report)
    return report
