"""Gold question sets: the public format, its loader and checker, and the matching rule.

The format is stable so evaluators can bring their own sets: one JSON object a
line, ``{"id", "question", "type"?, "answer", "must_include": [..],
"sources": [{"file", "page"?, "support"}]}``. ``file`` is a path relative to the
ingested folder or a bare file name; ``support`` is a verbatim span of that
file; ``sources: []`` marks a question that must be refused.

Matching rule (docs/EVALUATION.md): a passage or citation *holds* a gold source
when it comes from that file (same relative path, or the same trailing path
components when the gold names fewer) and its text contains the span. Chunk
boundaries may cut a long span, so containing the span's first or last 60
characters counts too. Whitespace runs are collapsed and case is ignored on
both sides; nothing else is forgiven.

    python -m evals.gold [FILE.jsonl ...] [--corpus DIR]   # check every span against its file
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from clerk.settings import PROJECT_ROOT, Settings

GOLD_DIR = PROJECT_ROOT / "evals" / "gold"
DEV = GOLD_DIR / "dev.jsonl"
#: Characters at either end of a span that still count as holding it when a chunk cuts it.
EDGE = 60


class GoldFormatError(ValueError):
    """A gold file that does not follow the format; the message names the file and line."""


@dataclass(frozen=True)
class GoldSource:
    file: str
    support: str
    page: int | None = None


@dataclass
class GoldQuestion:
    id: str
    question: str
    type: str = ""
    answer: str = ""
    must_include: list[str] = field(default_factory=list)
    sources: list[GoldSource] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.sources)

    @property
    def kind(self) -> str:
        """The type used to group scores: the given one, else answerable / unanswerable."""
        return self.type or ("answerable" if self.answerable else "unanswerable")


def load_gold(path: Path = DEV) -> list[GoldQuestion]:
    """Questions of a gold file, in file order.

    Every bad line is reported, not just the first, in one :class:`GoldFormatError`
    (one ``FILE:LINE: reason`` a line): scores over part of a set would be misread
    as scores over all of it, so nothing is scored until the file is right.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldFormatError(f"{path}: cannot be read ({exc})") from exc
    out: list[GoldQuestion] = []
    errors: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = _parse(json.loads(line))
        except (json.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
            reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            errors.append(f"{path}:{number}: {reason}")
            continue
        if q.id in seen:
            errors.append(f"{path}:{number}: duplicate id {q.id!r}")
        seen.add(q.id)
        out.append(q)
    if not out and not errors:
        errors.append(f"{path}: no questions")
    if errors:
        raise GoldFormatError("\n".join(errors))
    return out


def _parse(d: object) -> GoldQuestion:
    if not isinstance(d, dict):
        raise ValueError("each line must be a JSON object")
    question = d["question"]
    if not isinstance(question, str) or not question.strip():
        raise ValueError("'question' must be a non-empty string")
    must = d.get("must_include", [])
    if not isinstance(must, list) or not all(isinstance(m, str) for m in must):
        raise ValueError("'must_include' must be a list of strings")
    raw_sources = d.get("sources", [])
    if not isinstance(raw_sources, list):
        raise ValueError("'sources' must be a list ([] for a question that must be refused)")
    sources = []
    for s in raw_sources:
        if not isinstance(s, dict) or not str(s.get("file", "")).strip() or not str(s.get("support", "")).strip():
            raise ValueError("each source needs a 'file' and a non-empty 'support' span")
        page = s.get("page")
        sources.append(GoldSource(str(s["file"]), str(s["support"]), None if page is None else int(page)))
    return GoldQuestion(str(d["id"]), question, str(d.get("type") or ""), str(d.get("answer") or ""), must, sources)


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def same_file(source: str, gold_file: str) -> bool:
    """Does an indexed ``source`` path name the gold ``file`` (full relative path or its tail)?"""
    source, gold_file = source.replace("\\", "/"), gold_file.replace("\\", "/").lstrip("./")
    return source == gold_file or source.endswith("/" + gold_file)


def holds(source: str, text: str, gold: GoldSource) -> bool:
    """Does a passage from ``source`` with ``text`` hold the gold support span?"""
    if not same_file(source, gold.file):
        return False
    body, span = normalise(text), normalise(gold.support)
    return span in body or span[:EDGE] in body or span[-EDGE:] in body


def first_match(items: list[tuple[str, str]], gold: list[GoldSource]) -> int | None:
    """1-based rank of the first ``(source, text)`` holding any gold span, or None."""
    for rank, (source, text) in enumerate(items, 1):
        if any(holds(source, text, g) for g in gold):
            return rank
    return None


def stratified_ids(gold: list[GoldQuestion], share: float, minimum: int = 5) -> list[str]:
    """A fixed sample: ``share`` of each question type (at least ``minimum``), spread evenly through the file."""
    kinds: dict[str, list[GoldQuestion]] = {}
    for g in gold:
        kinds.setdefault(g.kind, []).append(g)
    out = []
    for group in kinds.values():
        n = min(len(group), max(minimum, round(share * len(group))))
        step = len(group) / n
        out += [group[int(i * step)].id for i in range(n)]
    order = {g.id: i for i, g in enumerate(gold)}
    return sorted(out, key=order.__getitem__)


# --- checking a gold file against the documents ------------------------------------------


@cache
def _cleaned_pages(path: Path) -> dict[int, str]:
    """Page number -> cleaned text, exactly as ingest sees it (text layer only, no OCR)."""
    from ingest.clean import clean_pages
    from ingest.loaders import load_pages

    pages, _ = load_pages(path, Settings(ocr=False))
    return {p.number: normalise(p.text) for p in clean_pages(pages)}


def resolve(gold_file: str, corpus: Path) -> list[Path]:
    """Files under ``corpus`` the gold ``file`` can name (one, unless a bare name is ambiguous)."""
    direct = corpus / gold_file
    if direct.is_file():
        return [direct]
    return sorted(p for p in corpus.rglob(Path(gold_file).name) if same_file(p.relative_to(corpus).as_posix(), gold_file))


def check_gold(path: Path, corpus: Path) -> list[str]:
    """Problems with a gold file: format errors, missing files, spans not found on their page.

    An empty list means every support span is a verbatim (whitespace-normalised)
    part of its file's cleaned text, on the page given when one is given.
    """
    try:
        questions = load_gold(path)
    except GoldFormatError as exc:
        return [str(exc)]
    problems = []
    for q in questions:
        for s in q.sources:
            where = f"{path.name} {q.id}: {s.file}"
            files = resolve(s.file, corpus)
            if len(files) != 1:
                problems.append(f"{where}: {'no such file' if not files else 'names several files'} under {corpus}")
                continue
            try:
                pages = _cleaned_pages(files[0])
            except Exception as exc:  # an unreadable file is a problem to report, not a crash
                problems.append(f"{where}: cannot be read ({exc})")
                continue
            span = normalise(s.support)
            found = [n for n, text in pages.items() if span in text]
            if not found:
                problems.append(f"{where}: support span not found in the cleaned text: {s.support[:80]!r}")
            elif s.page is not None and s.page not in found:
                problems.append(f"{where}: support span is on page {found[0]}, not page {s.page}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.gold", description="Check gold spans against their files.")
    ap.add_argument("gold", nargs="*", type=Path, default=sorted(GOLD_DIR.glob("*.jsonl")))
    ap.add_argument("--corpus", type=Path, default=PROJECT_ROOT / "corpus")
    args = ap.parse_args(argv)
    bad = 0
    for path in args.gold:
        problems = check_gold(path, args.corpus)
        for p in problems:
            print(p, file=sys.stderr)
        bad += len(problems)
        print(f"{path}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
