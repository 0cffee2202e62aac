"""Thumbs up/down on answers, kept as JSON lines for the people who look after the service."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from ui.render import Turn

_LOCK = threading.Lock()


def record_feedback(path: Path, turn: Turn, helpful: bool, comment: str = "") -> dict:
    """Append one judgement of ``turn`` to ``path``: question, answer, citations, rating, comment, time."""
    a = turn.answer
    return append_feedback(path, {
        "rating": "up" if helpful else "down",
        "comment": comment.strip(),
        "question": turn.question,
        "answer": a.answer,
        "refused": a.refused,
        "backend": a.backend,
        "citations": [{"n": c.n, "source": c.source, "page": c.page, "quote": c.quote} for c in a.citations],
    })


def append_feedback(path: Path, fields: dict) -> dict:
    """Append one judgement (the page's thumbs, or ``POST /api/v1/feedback``) with the time it was given."""
    entry = {"time": datetime.now(UTC).isoformat(timespec="seconds"), **fields}
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry
