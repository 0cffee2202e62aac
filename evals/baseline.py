"""The committed quality floor, the check that a run has not fallen below it, and the rule that it only rises.

``evals/baseline.json`` holds, for each gold set it watches (the dev set the
calibration is fitted on, and the held-out test set that nothing is tuned on),
the scores a run of the product measured on every question of that set.
``clerk eval --baseline evals/baseline.json`` re-runs each set and fails when a
score is worse than its floor by more than one question's worth; the
regression test in ``make test`` does the same.

A floor that could be re-saved lower by whoever re-saves it would drift down a
question at a time, each step inside the allowance. So floors only move up:

* ``clerk eval --save-baseline`` keeps the committed value of any score this run
  measured lower, unless told ``--allow-lower``;
* a commit that lowers a floor must say which score fell and why, one trailer
  line per score in its message::

      Baseline-lowered: test refusal_accuracy 0.583 -> 0.542: <why it fell>

  ``lowered_without_reason`` walks the git history of the baseline file and
  names every lowered floor whose commit (or the commits a merge brought in)
  does not say so; the test suite fails on any.

The pipeline is deterministic, so on an unchanged tree the scores repeat exactly;
the one-question allowance absorbs a tie broken differently on another CPU.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from clerk.settings import PROJECT_ROOT
from evals.gold import GoldQuestion

BASELINE = PROJECT_ROOT / "evals" / "baseline.json"
#: The file's path inside the repository, for reading its history.
BASELINE_IN_REPO = "evals/baseline.json"
#: Format version; history before it (a single dev subset with a 0.05 margin) is not compared.
VERSION = 2
#: Scores where higher is better, then those where lower is better.
HIGHER = ("gold_cited", "gold_cited_any", "must_include", "citation_recall", "citation_precision",
          "refusal_accuracy", "recall_at_5", "mrr")
LOWER = ("false_refusal_rate",)
#: The trailer a commit that lowers a floor carries, one line per score.
TRAILER = re.compile(r"^Baseline-lowered:\s*(?P<set>\S+)\s+(?P<score>\w+)\s+(?P<old>[\d.]+)\s*->\s*(?P<new>[\d.]+)"
                     r"\s*:\s*(?P<why>\S.*)$", re.MULTILINE)
EPS = 1e-9


@dataclass
class WatchedSet:
    """One gold set the baseline watches: its file, which of its questions (None: all) and their floors."""

    name: str
    gold: Path
    ids: list[str] | None
    scores: dict[str, float]

    def select(self, gold: list[GoldQuestion]) -> list[GoldQuestion]:
        """The watched questions, in the baseline's order; a missing id is an error naming it."""
        if self.ids is None:
            return list(gold)
        by_id = {g.id: g for g in gold}
        missing = [i for i in self.ids if i not in by_id]
        if missing:
            raise ValueError(f"{self.gold}: baseline ids not in the gold file: {', '.join(missing)}")
        return [by_id[i] for i in self.ids]


@dataclass
class Baseline:
    sets: dict[str, WatchedSet] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = BASELINE) -> Baseline:
        return cls.parse(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def parse(cls, d: dict) -> Baseline:
        if d.get("version") != VERSION:
            raise ValueError(f"baseline format version {d.get('version')!r}; this clerk reads version {VERSION}")
        sets = {}
        for name, s in d["sets"].items():
            gold = Path(s["gold"])
            sets[name] = WatchedSet(name, gold if gold.is_absolute() else PROJECT_ROOT / gold,
                                    None if s.get("ids") in (None, "all") else list(s["ids"]),
                                    {k: float(v) for k, v in s["scores"].items()})
        return cls(sets)

    def for_gold(self, gold: Path) -> WatchedSet | None:
        """The watched set whose gold file is ``gold``, if any."""
        target = Path(gold).resolve()
        return next((s for s in self.sets.values() if s.gold.resolve() == target), None)

    def save(self, path: Path) -> None:
        out = {"version": VERSION, "sets": {}}
        for name, s in self.sets.items():
            gold = s.gold.resolve()
            shown = gold.relative_to(PROJECT_ROOT) if gold.is_relative_to(PROJECT_ROOT) else gold
            out["sets"][name] = {"gold": str(shown), "ids": "all" if s.ids is None else s.ids,
                                 "scores": dict(sorted(s.scores.items()))}
        Path(path).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")

    def record(self, name: str, gold: Path, ids: list[str] | None, summary: dict,
               allow_lower: bool = False) -> list[Drop]:
        """Put a run's scores in as set ``name``'s floors; returns the scores that measured lower than their floor.

        Unless ``allow_lower``, a lower score keeps its committed floor (so the
        gate still fails on it); with it, the floor is lowered and the commit must
        carry a ``Baseline-lowered`` line for each returned drop.
        """
        now = scores_of(summary)
        before = self.sets.get(name)
        drops = [] if before is None else falls(name, before.scores, now)
        kept = {} if allow_lower else {d.score: d.old for d in drops}
        self.sets[name] = WatchedSet(name, gold, ids, now | kept)
        return drops


def allowance(key: str, summary: dict) -> float:
    """One question's worth of a score: the share one question changing its outcome moves it by."""
    count = summary.get("unanswerable", 0) if key == "refusal_accuracy" else summary.get("answerable", 0)
    return 1 / count if count else 0.0


def regressions(watched: WatchedSet, summary: dict) -> list[str]:
    """One line per watched score that fell below its floor by more than one question; empty when all hold."""
    now = scores_of(summary)
    out = []
    for key, floor in watched.scores.items():
        value = now.get(key)
        if value is None:
            continue
        worse = (floor - value) if key in HIGHER else (value - floor)
        allowed = allowance(key, summary)
        if worse > allowed + EPS:
            out.append(f"{watched.name} {key} {value:.3f} vs floor {floor:.3f} (allowed drop {allowed:.3f})")
    return out


def scores_of(summary: dict) -> dict[str, float]:
    """The watched scores of a ``clerk eval`` summary, rounded as they are committed."""
    flat = dict(summary) | {"recall_at_5": summary.get("recall_at_k", {}).get("5")}
    return {k: round(float(flat[k]), 4) for k in (*HIGHER, *LOWER) if flat.get(k) is not None}


@dataclass(frozen=True)
class Drop:
    set: str
    score: str
    old: float
    new: float

    @property
    def trailer(self) -> str:
        return f"Baseline-lowered: {self.set} {self.score} {self.old:.4g} -> {self.new:.4g}: <why>"


def falls(name: str, before: dict[str, float], after: dict[str, float]) -> list[Drop]:
    """Scores of set ``name`` that are worse in ``after`` than in ``before`` (a score dropped counts as fallen)."""
    out = []
    for key, old in before.items():
        new = after.get(key)
        if new is None:
            out.append(Drop(name, key, old, float("nan")))
        elif (old - new if key in HIGHER else new - old) > EPS:
            out.append(Drop(name, key, old, new))
    return out


def baseline_drops(before: dict, after: dict) -> list[Drop]:
    """Every floor lower in the parsed baseline ``after`` than in ``before`` (a set removed: all its floors)."""
    out = []
    for name, s in before.get("sets", {}).items():
        out += falls(name, s["scores"], after.get("sets", {}).get(name, {}).get("scores", {}))
    return out


def explained(drop: Drop, message: str) -> bool:
    """Does a commit message carry a ``Baseline-lowered`` line for this set and score, with a reason?"""
    return any(m["set"] == drop.set and m["score"] == drop.score for m in TRAILER.finditer(message))


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def _version_at(repo: Path, rev: str, path: str) -> dict | None:
    """The baseline file at ``rev`` when it exists there in the current format, else None."""
    try:
        d = json.loads(_git(repo, "show", f"{rev}:{path}"))
    except (subprocess.CalledProcessError, json.JSONDecodeError):
        return None
    return d if d.get("version") == VERSION else None


def lowered_without_reason(repo: Path = PROJECT_ROOT, path: str = BASELINE_IN_REPO,
                           working_tree: bool = True) -> list[str]:
    """Every floor the history of ``path`` lowered without a ``Baseline-lowered`` line saying so.

    Each commit on the first-parent line that changed the file is compared with
    its first parent; the lines may be in that commit's message or in any commit
    it merged in. With ``working_tree``, an uncommitted baseline lower than
    ``HEAD``'s is reported too (commit it with the trailer lines). Versions
    before :data:`VERSION` are not compared.
    """
    problems = []
    commits = _git(repo, "rev-list", "--first-parent", "--reverse", "HEAD", "--", path).split()
    for commit in commits:
        after = _version_at(repo, commit, path)
        parents = _git(repo, "rev-list", "--parents", "-n", "1", commit).split()[1:]
        before = _version_at(repo, parents[0], path) if parents else None
        if before is None or after is None:
            continue
        message = _git(repo, "log", "--format=%B", f"{parents[0]}..{commit}")
        for drop in baseline_drops(before, after):
            if not explained(drop, message):
                problems.append(f"{commit[:10]} lowered {drop.set} {drop.score} {drop.old} -> {drop.new} "
                                f"without a line '{drop.trailer}' in its message")
    if working_tree:
        file = repo / path
        head = _version_at(repo, "HEAD", path)
        if file.exists() and head is not None:
            try:
                now = json.loads(file.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                now = {}
            for drop in baseline_drops(head, now):
                problems.append(f"uncommitted {path} lowers {drop.set} {drop.score} {drop.old} -> {drop.new}: "
                                f"commit it with '{drop.trailer}' in the message")
    return problems
