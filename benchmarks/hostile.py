"""Hostile inputs against normal corpus files, timed in one run.

The hostile-input tests (``tests/ingest/test_hostile.py``) check what each
file is refused or read as, and bound its memory; how long that takes is
measured here, against a normal file read the same way in the same run, so
the targets hold on a fast or a slow machine alike:

- ``zip_bomb``: the corpus grants policy as a .docx that unpacks to 1 GB,
  refused from its declared size; ``zip_bomb_lying``: the same whose headers
  claim 20 KB, stopped after those bytes by the CRC check; ``entity_bomb``: the
  same document with a "billion laughs" DTD, refused when the XML parser's limit
  on entity amplification stops it. Baseline: ``load_pages`` of the real grants
  policy .docx they are all built from. Target: refusing each bomb costs no
  more than reading the real document (ratio <= 1.0).
- ``repeated_page``: a 1,000-page PDF of one page of Trafford's allowances
  scheme through ``parse_file`` (load, clean, metadata, chunk), where the 999
  copies are recognised and chunked once. Baseline: ``parse_file`` of the
  longest real PDF of the corpus (Trafford's procedure rules, 158 distinct
  pages). Target: ratio <= 1.0.

Every case is checked to have done what the tests expect (refused with the zip
bomb reason, the repeats named in a warning), which also warms it up, then timed
in ``--repeats`` rounds of all cases; ratios are of medians. Results go to
``benchmarks/results/hostile.json``; the exit status is 1 if a target is missed.

    python benchmarks/hostile.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "hostile.json"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(ROOT))

#: The longest real PDF of the bundled corpus: the repeated page's baseline.
LONG_PDF = "trafford/trafford-constitution-part-4-procedure-rules.pdf"


@dataclass
class Case:
    """One input to time: what to run, how to tell it did the expected thing, and what it is measured against."""

    name: str
    run: Callable[[], object]
    expect: Callable[[object], bool]
    baseline: str | None = None
    target: float | None = None


def _outcome(work: Callable[[], object]) -> Callable[[], object]:
    """``work``, returning the refusal (an ``IngestError``) instead of raising it, so a refusal can be timed."""
    from ingest.types import IngestError

    def run() -> object:
        try:
            return work()
        except IngestError as refused:
            return refused

    return run


def cases(work: Path) -> list[Case]:
    """The hostile files (built from real corpus documents by tests/hostile.py) and their baselines."""
    from clerk.settings import Settings
    from ingest.loaders import load_pages
    from ingest.parse import ParseJob, parse_file
    from ingest.types import IngestError
    from tests.helpers import corpus_file
    from tests.hostile import WORD_SOURCE, docx_entity_bomb, docx_zip_bomb, repeated_page_pdf

    settings = Settings(ocr=False)
    bomb = docx_zip_bomb(work / "bomb.docx", unpacked_mb=1024)
    liar = docx_zip_bomb(work / "liar.docx", unpacked_mb=1024, declared_size=20_000)
    laughs = docx_entity_bomb(work / "laughs.docx")
    repeated = repeated_page_pdf(work / "repeated.pdf")

    def load(path: Path) -> Callable[[], object]:
        return _outcome(lambda: load_pages(path, settings))

    def parse(path: Path, source: str) -> Callable[[], object]:
        return _outcome(lambda: parse_file(ParseJob(path, source, "bench"), settings))

    def refused(reason: str) -> Callable[[object], bool]:
        return lambda out: isinstance(out, IngestError) and str(out).startswith(reason)

    def read(out: object) -> bool:
        return isinstance(out, tuple) and bool(out[0]) and bool(out[0][0].text)

    def parsed_once(out: object) -> bool:
        doc = getattr(out, "doc", None)
        return doc is not None and any(w.startswith("pages 2-1000 repeat earlier pages") for w in doc.warnings)

    return [
        Case("docx_normal", load(corpus_file(WORD_SOURCE)), read),
        Case("zip_bomb", load(bomb), refused("Word .docx file refused as a zip bomb: it would unpack to 1,024 MB"),
             "docx_normal", 1.0),
        Case("zip_bomb_lying", load(liar), refused("not a readable Word .docx file: the zip package is damaged"),
             "docx_normal", 1.0),
        Case("entity_bomb", load(laughs), refused("not a readable Word .docx file: XMLSyntaxError"),
             "docx_normal", 1.0),
        Case("long_pdf", parse(corpus_file(LONG_PDF), LONG_PDF), lambda out: getattr(out, "doc", None) is not None),
        Case("repeated_page", parse(repeated, "repeated.pdf"), parsed_once, "long_pdf", 1.0),
    ]


def time_cases(plan: list[Case], repeats: int) -> dict[str, list[float]]:
    """Seconds of each case in each of ``repeats`` rounds, after one untimed run that must do what the tests expect.

    Every round runs every case once, so a change in the machine's load falls
    on a case and its baseline alike.
    """
    for case in plan:
        if not case.expect(case.run()):
            raise SystemExit(f"{case.name}: did not give the outcome the hostile-input tests expect")
    seconds: dict[str, list[float]] = {c.name: [] for c in plan}
    for _ in range(repeats):
        for case in plan:
            t0 = time.perf_counter()
            case.run()
            seconds[case.name].append(time.perf_counter() - t0)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="clerk-bench-hostile-") as tmp:
        plan = cases(Path(tmp))
        timed = time_cases(plan, args.repeats)
    load_after = os.getloadavg()[0]
    median = {name: statistics.median(s) for name, s in timed.items()}
    ratios = {}
    for c in plan:
        if c.baseline is None or c.target is None:
            continue
        ratio = median[c.name] / median[c.baseline]
        ratios[f"{c.name}_over_{c.baseline}"] = {
            "ratio": round(ratio, 4), "target": f"<= {c.target}", "met": ratio <= c.target,
        }
    results = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "load_average_1min": {"before": round(load_before, 2), "after": round(load_after, 2)},
        "repeats": args.repeats,
        "seconds": {
            name: {"median": round(median[name], 5), "runs": [round(x, 5) for x in s]} for name, s in timed.items()
        },
        "ratios": ratios,
        "targets_met": all(r["met"] for r in ratios.values()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    if not results["targets_met"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
