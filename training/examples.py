"""Training examples from gold questions: (question, passage that answers it, passage clerk confuses it with).

A positive is the indexed chunk that holds the question's support span, as the
embedder reads it (title and section, then text: :func:`ingest.chunk.embedding_text`).
A negative is *hard*: the best-ranked passage clerk's own hybrid retrieval
returns for the question that holds none of its spans. Those are exactly the
passages that today outrank the right one, so they teach what plain similarity
misses. A passage that states every must-include fact is never a negative,
even when it is not the span the writer chose: it answers the question too.

Passages of held-out documents (``evals/gold/train/held_out.txt``) are never
used, as positive or negative, so ``unseen.jsonl`` measures documents no model
has read.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant import Assistant
from assistant.rerank import FusionOnly
from evals.gold import GoldQuestion, holds, normalise, same_file
from ingest.chunk import embedding_text


@dataclass(frozen=True)
class Triplet:
    """One training example: the question, a passage answering it, a passage that does not."""

    question_id: str
    anchor: str
    positive: str
    negative: str


@dataclass(frozen=True)
class IndexedChunk:
    source: str
    text: str
    embedded: str


def indexed_chunks(assistant: Assistant) -> list[IndexedChunk]:
    """Every chunk of the index, with the text its vector was made from."""
    rows = assistant.store.registry.conn.execute("SELECT source, text, title, section FROM chunks ORDER BY rowid")
    return [IndexedChunk(r[0] or "", r[1], embedding_text(r[2] or "", r[3] or "", r[1])) for r in rows]


def _excluded(source: str, held_out: Iterable[str]) -> bool:
    return any(same_file(source, h) for h in held_out)


def positives(question: GoldQuestion, chunks: Sequence[IndexedChunk], limit: int = 2) -> list[str]:
    """Embedded texts of the chunks holding the question's spans: whole spans first, then cut ones."""
    whole, cut = [], []
    for c in chunks:
        for s in question.sources:
            if holds(c.source, c.text, s):
                (whole if normalise(s.support) in normalise(c.text) else cut).append(c.embedded)
                break
    return list(dict.fromkeys(whole + cut))[:limit]


def answers_too(text: str, question: GoldQuestion) -> bool:
    """Does ``text`` state every must-include fact (so it answers, whatever span was written down)?"""
    body = normalise(text)
    return bool(question.must_include) and all(normalise(m) in body for m in question.must_include)


def mine(
    assistant: Assistant,
    questions: Sequence[GoldQuestion],
    held_out: Iterable[str] = (),
    depth: int = 10,
    seed: int = 13,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Triplet], list[str]]:
    """Triplets for the answerable ``questions``, and the ids of those no indexed chunk holds.

    Retrieval here is clerk's hybrid fusion without the second stage: it is
    the candidate list every reranker and the answer start from, and it is
    quick enough to run over thousands of questions.
    """
    held_out = list(held_out)
    rng = random.Random(seed)
    chunks = [c for c in indexed_chunks(assistant) if not _excluded(c.source, held_out)]
    by_file: dict[str, list[IndexedChunk]] = {}
    for c in chunks:
        by_file.setdefault(c.source, []).append(c)
    out: list[Triplet] = []
    missing: list[str] = []
    answerable = [q for q in questions if q.answerable]
    for done, q in enumerate(answerable, 1):
        files = {f for f in by_file if any(same_file(f, s.file) for s in q.sources)}
        pos = positives(q, [c for f in sorted(files) for c in by_file[f]])
        if not pos:
            missing.append(q.id)
            continue
        ranked = assistant.retrieve(q.question, k=depth, reranker=FusionOnly()).passages
        negatives = [
            embedding_text(p.title, p.section, p.text) for p in ranked
            if not _excluded(p.source, held_out)
            and not any(holds(p.source, p.text, s) for s in q.sources)
            and not answers_too(p.text, q)
        ]
        if not negatives:  # retrieval found only answers: any other passage of the same documents will do
            pool = [c.embedded for f in sorted(files) for c in by_file[f] if c.embedded not in pos]
            negatives = [rng.choice(pool)] if pool else []
        if not negatives:
            missing.append(q.id)
            continue
        for i, p in enumerate(pos):
            out.append(Triplet(q.id, q.question, p, negatives[min(i, len(negatives) - 1)]))
        if progress:
            progress(done, len(answerable))
    return out, missing


def save(triplets: Sequence[Triplet], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for t in triplets:
            fh.write(json.dumps(asdict(t), ensure_ascii=False) + "\n")


def load(path: Path) -> list[Triplet]:
    return [Triplet(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
