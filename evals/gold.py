"""Gold question sets and the rule for "this passage holds the gold evidence".

A gold source is a file, a page and a verbatim support span. A passage (or a
citation) matches it when it comes from that file and holds the span; chunk
boundaries may cut a long span, so holding its first or last 60 characters
counts too. Whitespace is normalised on both sides.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from clerk.settings import PROJECT_ROOT

GOLD_DIR = PROJECT_ROOT / "evals" / "gold"
DEV = GOLD_DIR / "dev.jsonl"


@dataclass
class GoldSource:
    file: str
    page: int
    support: str


@dataclass
class GoldQuestion:
    id: str
    question: str
    type: str
    answer: str = ""
    must_include: list[str] = field(default_factory=list)
    sources: list[GoldSource] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.sources)


def load_gold(path: Path = DEV) -> list[GoldQuestion]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        sources = [GoldSource(s["file"], int(s["page"]), s["support"]) for s in d.get("sources", [])]
        out.append(GoldQuestion(d["id"], d["question"], d.get("type", ""), d.get("answer", ""),
                                d.get("must_include", []), sources))
    return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def same_file(source: str, gold_file: str) -> bool:
    source = source.replace("\\", "/")
    return source == gold_file or source.endswith("/" + gold_file)


def holds(source: str, text: str, gold: GoldSource) -> bool:
    """Does a passage from ``source`` with ``text`` hold the gold support span?"""
    if not same_file(source, gold.file):
        return False
    body, span = _norm(text), _norm(gold.support)
    return span in body or span[:60] in body or span[-60:] in body


def first_match(items: list[tuple[str, str]], gold: list[GoldSource]) -> int | None:
    """1-based rank of the first ``(source, text)`` holding any gold span, or None."""
    for rank, (source, text) in enumerate(items, 1):
        if any(holds(source, text, g) for g in gold):
            return rank
    return None
