"""The training question set: its format, and the checks that keep it apart from every evaluation set.

A model trained on questions that share evidence with the questions it is
scored on is scored on what it memorised. So the training files
(``evals/gold/train/*.jsonl``) must be disjoint from ``dev.jsonl``,
``test.jsonl`` and ``unseen.jsonl``:

* no support span shares a run of :data:`SHINGLE` characters with an
  evaluation span (case and spacing ignored);
* no question shares most of its content words (Jaccard >= :data:`CLOSE`) with
  an evaluation question;
* no source is one of the held-out documents (``held_out.txt``), which only
  ``unseen.jsonl`` uses, so that set measures documents the models never saw.

Every span must also be verbatim on its page (:func:`evals.gold.check_gold`),
and every must-include string inside its spans.

    python -m evals.trainset [FILE.jsonl ...]      # default: every file in evals/gold/train/
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from clerk.settings import PROJECT_ROOT
from evals.gold import GOLD_DIR, check_gold, normalise

TRAIN_DIR = GOLD_DIR / "train"
HELD_OUT_FILE = TRAIN_DIR / "held_out.txt"
EVAL_SETS = ("dev.jsonl", "test.jsonl", "unseen.jsonl")
#: Characters two spans may not share.
SHINGLE = 50
#: Share of content words two questions may not share.
CLOSE = 0.6
FIELDS = ["id", "question", "type", "style", "answer", "must_include", "sources"]
TYPES = frozenset({"lookup", "number", "list", "paraphrase", "yes_no", "multi_doc", "unanswerable"})
STYLES = frozenset({"plain", "paraphrase", "jargon", "abbreviation", "typo", "informal"})
#: The answer unit a span is: whole sentences, a list's lead-in with all its items, or one table row.
UNITS = frozenset({"sentence", "list", "row"})
_STOP = frozenset(
    "a an the of to in on for and or is are was were be by with at as what which who whom how does do did can could "
    "should must may will would has have had it its this that there their they from about under council councils "
    "council's".split()
)


def held_out(path: Path = HELD_OUT_FILE) -> set[str]:
    """Files (relative to ``corpus/``) no training question may use: one a line, ``#`` comments."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _words(question: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9£%.]+", question.lower()) if w not in _STOP and len(w) > 1}


def _shingles(text: str) -> set[str]:
    t = normalise(text)
    return {t[i : i + SHINGLE] for i in range(max(1, len(t) - SHINGLE + 1))}


def check(train: list[Path], corpus: Path = PROJECT_ROOT / "corpus", spans: bool = True) -> list[str]:
    """Every problem of the training files ``train``; empty when they are well-formed and disjoint."""
    evaluation = [r for name in EVAL_SETS if (GOLD_DIR / name).exists() for r in _rows(GOLD_DIR / name)]
    eval_shingles = {sh for r in evaluation for s in r.get("sources", []) for sh in _shingles(s["support"])}
    eval_words = [(r["id"], _words(r["question"])) for r in evaluation]
    withheld = held_out()
    problems: list[str] = []
    seen_ids: set[str] = set()
    seen_questions: dict[str, str] = {}
    for path in train:
        for r in _rows(path):
            where = f"{path.name} {r.get('id')}"
            expected = FIELDS + (["why"] if r.get("type") == "unanswerable" else [])
            if list(r) != expected:
                problems.append(f"{where}: fields must be {expected}")
            if r.get("id") in seen_ids:
                problems.append(f"{where}: id used twice")
            seen_ids.add(r.get("id"))
            if r.get("type") not in TYPES or r.get("style") not in STYLES:
                problems.append(f"{where}: type {r.get('type')!r} or style {r.get('style')!r} unknown")
            key = normalise(r.get("question", ""))
            if key in seen_questions:
                problems.append(f"{where}: the same question as {seen_questions[key]}")
            seen_questions[key] = where
            words = _words(r.get("question", ""))
            for eid, ew in eval_words:
                if words and ew and len(words & ew) / len(words | ew) >= CLOSE:
                    problems.append(f"{where}: question close to {eid} ({', '.join(sorted(words & ew))})")
            if r.get("type") == "unanswerable":
                if r.get("sources") or r.get("must_include") or not r.get("why"):
                    problems.append(f"{where}: an unanswerable question needs sources [], must_include [] and a why")
                continue
            blob = " ".join(normalise(s.get("support", "")) for s in r.get("sources", []))
            for s in r.get("sources", []):
                if s.get("file") in withheld:
                    problems.append(f"{where}: {s['file']} is held out of training")
                if s.get("unit") not in UNITS:
                    problems.append(f"{where}: unit {s.get('unit')!r} unknown")
                if _shingles(s.get("support", "")) & eval_shingles:
                    problems.append(f"{where}: its span shares {SHINGLE} characters with an evaluation span")
            for m in r.get("must_include", []):
                if normalise(m) not in blob:
                    problems.append(f"{where}: must_include {m!r} is not in its spans")
        if spans:
            problems += check_gold(path, corpus)
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.trainset", description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path, default=sorted(TRAIN_DIR.glob("*.jsonl")))
    ap.add_argument("--corpus", type=Path, default=PROJECT_ROOT / "corpus")
    args = ap.parse_args(argv)
    problems = check(args.files, args.corpus)
    for p in problems:
        print(p, file=sys.stderr)
    count = sum(len(_rows(f)) for f in args.files)
    print(f"{count} training questions in {len(args.files)} files: "
          f"{'disjoint from the evaluation sets, every span on its page' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
