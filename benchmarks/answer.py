"""Answer latency on the bundled corpus index: the extractive answerer end to end, per question.

Every dev question is asked once to warm the caches a chat session would
have warm (models loaded, SQLite pages cached), then timed over ``--rounds``
fresh passes with the sentence-vector cache cleared, so each answer pays its
own sentence encoding. The same run also times the bare dense lookup
(query embedding + Chroma top-k), the floor any answer costs; the ratio is
stable across machines where milliseconds are not.

Target: extractive answer p95 under 1 s on 2 CPU cores. Results go to
``benchmarks/results/answer.json``.

    python benchmarks/answer.py [--index .clerk] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "answer.json"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    from assistant import Assistant
    from clerk.settings import get_settings
    from evals.gold import load_gold

    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=Path)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    settings = get_settings(index=args.index)
    a = Assistant(settings)
    questions = [g.question for g in load_gold()]
    for q in questions:  # warm-up
        a.ask(q)
    answer_ms: list[float] = []
    dense_ms: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for q in questions:
            a.sentence_vectors.clear()
            t0 = time.perf_counter()
            ans = a.ask(q)
            answer_ms.append((time.perf_counter() - t0) * 1000)
            for k, v in ans.timings_ms.items():
                stages.setdefault(k, []).append(v)
            t0 = time.perf_counter()
            a.store.dense_search(a.embedder.embed_query(q), settings.top_k)
            dense_ms.append((time.perf_counter() - t0) * 1000)
    result = {
        "questions": len(questions),
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
        "answer_ms": {"p50": round(percentile(answer_ms, 0.5), 1), "p95": round(percentile(answer_ms, 0.95), 1),
                      "max": round(max(answer_ms), 1)},
        "dense_lookup_ms": {"p50": round(percentile(dense_ms, 0.5), 1), "p95": round(percentile(dense_ms, 0.95), 1)},
        "stages_p50_ms": {k: round(percentile(v, 0.5), 1) for k, v in stages.items()},
        "p95_over_dense_p95": round(percentile(answer_ms, 0.95) / percentile(dense_ms, 0.95), 2),
        "target": "answer p95 < 1000 ms on 2 cores",
    }
    result["target_met"] = result["answer_ms"]["p95"] < 1000
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
