"""A committed quality baseline, and the check that a new run has not fallen below it.

The baseline names a gold file and a fixed subset of its ids (stratified by
question type, so every kind of question is watched), the scores measured on
it, and a margin. ``clerk eval --baseline evals/baseline.json`` re-runs that
subset and fails when a score is worse than the baseline by more than the
margin; the regression test in ``make test`` does the same.

The pipeline is deterministic, so on an unchanged tree the scores repeat
exactly. A score may fall by the margin (0.05) or by one question's worth,
whichever is larger: a change that flips a single question is not a failure,
a real drop (two questions or more) is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from clerk.settings import PROJECT_ROOT
from evals.gold import GoldQuestion

BASELINE = PROJECT_ROOT / "evals" / "baseline.json"
#: Allowed drop of each watched score (absolute share).
MARGIN = 0.05
#: Scores where higher is better, then those where lower is better.
HIGHER = ("gold_cited", "citation_recall", "citation_precision", "refusal_accuracy", "recall_at_5")
LOWER = ("false_refusal_rate",)


@dataclass
class Baseline:
    gold: Path
    ids: list[str]
    scores: dict[str, float]
    margin: float = MARGIN

    @classmethod
    def load(cls, path: Path = BASELINE) -> Baseline:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        gold = Path(d["gold"])
        return cls(gold if gold.is_absolute() else PROJECT_ROOT / gold, list(d["ids"]), dict(d["scores"]),
                   float(d.get("margin", MARGIN)))

    def select(self, gold: list[GoldQuestion]) -> list[GoldQuestion]:
        """The baseline's questions, in the baseline's order; a missing id is an error naming it."""
        by_id = {g.id: g for g in gold}
        missing = [i for i in self.ids if i not in by_id]
        if missing:
            raise ValueError(f"{self.gold}: baseline ids not in the gold file: {', '.join(missing)}")
        return [by_id[i] for i in self.ids]

    def regressions(self, summary: dict) -> list[str]:
        """One line per watched score that fell by more than its allowance; empty when all hold.

        The allowance is the margin or one question's worth of the score,
        whichever is larger, so a single question changing its outcome never
        fails a small subset on its own.
        """
        now = scores_of(summary)
        out = []
        for key, before in self.scores.items():
            value = now.get(key)
            if value is None:
                continue
            count = summary["unanswerable"] if key == "refusal_accuracy" else summary["answerable"]
            allowed = max(self.margin, 1 / count if count else 0.0)
            worse = (before - value) if key in HIGHER else (value - before)
            if worse > allowed + 1e-9:
                out.append(f"{key} {value:.3f} vs baseline {before:.3f} (allowed drop {allowed:.3f})")
        return out

    def save(self, path: Path, summary: dict) -> None:
        gold = self.gold.resolve()
        shown = gold.relative_to(PROJECT_ROOT) if gold.is_relative_to(PROJECT_ROOT) else gold
        path.write_text(json.dumps({
            "gold": str(shown), "margin": self.margin, "scores": scores_of(summary), "ids": self.ids,
        }, indent=1) + "\n", encoding="utf-8")


def scores_of(summary: dict) -> dict[str, float]:
    """The watched scores of a ``clerk eval`` summary."""
    flat = dict(summary) | {"recall_at_5": summary["recall_at_k"].get("5")}
    return {k: flat[k] for k in (*HIGHER, *LOWER) if flat.get(k) is not None}


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
