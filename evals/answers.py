"""Answer-level checks on a gold set: is the gold passage cited, and are refusals right?

For each question the assistant answers as ``clerk ask`` would. An answerable
question counts as *cited* when a citation's passage holds a gold support span;
its must-include strings are checked in the answer text too. Unanswerable
questions should be refused, answerable ones should not.

    python -m evals.answers [--gold evals/gold/dev.jsonl] [--out benchmarks/results/answers-dev.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from assistant import Assistant
from clerk.settings import PROJECT_ROOT
from evals.gold import DEV, GoldQuestion, holds, load_gold


def judge(a: Assistant, g: GoldQuestion) -> dict:
    t0 = time.perf_counter()
    ans = a.ask(g.question, id=g.id)
    ms = (time.perf_counter() - t0) * 1000
    cited = any(holds(c.source, c.text, s) for c in ans.citations for s in g.sources)
    includes = [m for m in g.must_include if m.lower() in ans.answer.lower()]
    return {
        "id": g.id, "type": g.type, "answerable": g.answerable, "refused": ans.refused, "cited_gold": cited,
        "must_include_found": len(includes), "must_include": len(g.must_include),
        "verified": all(c.verified for c in ans.citations), "confidence": round(ans.confidence, 3), "ms": round(ms, 1),
        "answer": ans.answer,
    }


def summarise(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    ratio = lambda n, d: round(n / d, 3) if d else None  # noqa: E731
    return {
        "questions": len(rows), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "gold_cited": ratio(sum(r["cited_gold"] for r in answerable), len(answerable)),
        "must_include_recall": ratio(sum(r["must_include_found"] for r in answerable),
                                     sum(r["must_include"] for r in answerable)),
        "refusal_on_unanswerable": ratio(sum(r["refused"] for r in unanswerable), len(unanswerable)),
        "false_refusal_on_answerable": ratio(sum(r["refused"] for r in answerable), len(answerable)),
        "citations_verified": ratio(sum(r["verified"] for r in rows), len(rows)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gold", type=Path, default=DEV)
    ap.add_argument("--out", type=Path, default=PROJECT_ROOT / "benchmarks" / "results" / "answers-dev.json")
    args = ap.parse_args()
    a = Assistant()
    rows = [judge(a, g) for g in load_gold(args.gold)]
    summary = summarise(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"gold": args.gold.name, "summary": summary, "questions": rows}, indent=1) + "\n")
    print(json.dumps(summary, indent=2))
    for r in rows:
        if r["answerable"] == r["refused"] or (r["answerable"] and not r["cited_gold"]):
            print(f"  {r['id']} {r['type']}: refused={r['refused']} cited_gold={r['cited_gold']} conf={r['confidence']}")


if __name__ == "__main__":
    main()
