"""The evaluation tab: the latest ``clerk eval`` report, and runs on an uploaded gold file.

Runs use their own :class:`Assistant` (sharing the loaded embedder), so an
evaluation and the chat never share caches while both are working.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from assistant import Assistant
from assistant.types import Filters
from evals.gold import load_gold
from evals.harness import evaluate
from evals.report import new_results_dir, write_run

PLOTS = ("recall_at_k.png", "latency.png", "by_type.png")
_IMAGE_LINE = re.compile(r"^!\[.*\]\(.*\)\s*$", re.M)


def latest_run(results_dir: Path) -> Path | None:
    """The newest results folder that holds a complete report."""
    if not results_dir.is_dir():
        return None
    runs = [d for d in results_dir.iterdir() if (d / "summary.json").is_file() and (d / "report.md").is_file()]
    return max(runs, key=lambda d: (d / "summary.json").stat().st_mtime, default=None)


def report_view(run_dir: Path | None) -> tuple[str, list[str]]:
    """The report as Markdown (plots shown separately) and the plot files, for a results folder."""
    if run_dir is None:
        return ("No evaluation has been run yet. Run `clerk eval` on the command line, or upload a gold "
                "file above.", [])
    text = _IMAGE_LINE.sub("", (run_dir / "report.md").read_text(encoding="utf-8"))
    head = f"Report folder: `{run_dir}`\n\n"
    return head + text, [str(run_dir / p) for p in PLOTS if (run_dir / p).is_file()]


def run_gold(
    assistant: Assistant,
    gold_file: str,
    results_dir: Path,
    progress: Callable[[int, int, str], None],
    filters: Filters,
) -> Path:
    """Evaluate an uploaded gold file against the app's index; returns the new results folder.

    ``filters`` carry the viewer's access, so the report holds only text they
    may see. Raises :class:`evals.gold.GoldFormatError` (every bad line named)
    before anything is asked when the file does not follow the format.
    """
    gold = load_gold(Path(gold_file))
    runner = Assistant(assistant.settings, embedder=assistant.embedder)
    try:
        run = evaluate(runner, gold, ablation=False, progress=progress, gold_path=Path(gold_file), filters=filters)
    finally:
        runner.close()
    out = new_results_dir(results_dir)
    write_run(run, out)
    (out / "gold.jsonl").write_text(Path(gold_file).read_text(encoding="utf-8"), encoding="utf-8")
    return out


def summary_line(run_dir: Path) -> str:
    s = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["summary"]
    return (f"{s['questions']} questions: gold passage cited {s['gold_cited']}, refusals {s['refusal_accuracy']}, "
            f"false refusals {s['false_refusal_rate']}, recall@5 {s['recall_at_k'].get('5')}.")
