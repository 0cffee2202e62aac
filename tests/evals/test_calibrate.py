"""`python -m evals.calibrate` end to end on a tiny real set: what it writes is a calibration the assistant can use.

Twelve dev questions (eight answerable, four not) over a small real index of the
two documents the answerable ones are about. The fit is written to a temporary
file with ``--out``; the assistant's own ``assistant/calibration.json`` must come
through untouched.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.calibration import CALIBRATION_PATH, Calibration, load_calibration
from assistant.rerank import FEATURES
from evals.calibrate import FUSION_GRID, GRID, MAX_FALSE_REFUSALS
from evals.gold import DEV, load_gold
from evals.trainset import TRAIN_DIR
from ingest.pipeline import Ingester
from tests.helpers import ROOT, copy_corpus_files, make_settings, server_env

pytestmark = pytest.mark.slow

FILES = ["hertingfordbury-pc/hpc-standing-orders.pdf", "wye-valley-cc/wvcc-financial-regulations-2017.pdf"]
#: Hertingfordbury's standing orders (028-031) and Tintern's financial regulations (034-037).
ANSWERABLE = ("dev-028", "dev-029", "dev-030", "dev-031", "dev-034", "dev-035", "dev-036", "dev-037")
#: About the same two councils, answered by neither document: a precept, allowances, petitions, parking fines.
UNANSWERABLE = ("dev-089", "dev-090", "dev-097", "dev-151")
#: The sentence-vector weights ``evals.calibrate.main`` tries (the one weight fitted outside coordinate ascent).
SENTENCE_GRID = (0.0, 0.5)


def _tiny_gold(path: Path) -> Path:
    """The chosen lines of dev.jsonl, verbatim."""
    lines = {json.loads(line)["id"]: line for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()}
    path.write_text("".join(lines[i] + "\n" for i in ANSWERABLE + UNANSWERABLE), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, embedder) -> tuple[Path, Path, Path, str]:
    """Index the two documents, run the calibration on them: (index root, gold file, output, its printout)."""
    root = tmp_path_factory.mktemp("calibrate")
    settings = make_settings(root)
    report = Ingester(settings, embedder=embedder).run(copy_corpus_files(root / "docs", FILES))
    assert report.ok and report.count("indexed") == len(FILES), report.results
    gold = _tiny_gold(root / "tiny.jsonl")
    out = root / "fitted" / "calibration.json"
    out.parent.mkdir()
    before = CALIBRATION_PATH.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "evals.calibrate", "--gold", str(gold), "--out", str(out)],
        cwd=ROOT, env=server_env() | {"CLERK_INDEX": str(settings.index)},
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert CALIBRATION_PATH.read_bytes() == before, "the calibration run changed assistant/calibration.json"
    assert proc.returncode == 0, proc.stderr[-4000:]
    return root, gold, out, proc.stdout


def test_the_fit_is_a_complete_loadable_calibration_of_that_set(fitted):
    _, gold, out, printed = fitted
    assert out.is_file()  # load_calibration falls back to defaults for a missing file: check it was written
    written = json.loads(out.read_text(encoding="utf-8"))
    assert set(written) == {f.name for f in fields(Calibration)}
    cal = load_calibration(out)
    assert cal.provenance["gold"] == gold.name and cal.provenance["fitted"]
    assert (cal.provenance["questions"], cal.provenance["answerable"]) == (12, 8)
    assert f"threshold {cal.refusal_threshold}" in printed
    assert 0.0 < cal.refusal_threshold < 1.0
    assert cal.provenance["refusal_in_sample"]["false_refusal_on_answerable"] <= MAX_FALSE_REFUSALS


def test_fitted_weights_are_on_the_declared_grids(fitted):
    """Fusion weights are one of FUSION_GRID's pairs; each cheap reranker weight is a GRID value, or its
    starting value (``Calibration()``'s) when no GRID value scored higher; the sentence weight one of main's two."""
    cal = load_calibration(fitted[2])
    start = Calibration().rerank_weights
    assert (cal.bm25_weight, cal.dense_weight) in FUSION_GRID
    assert set(cal.rerank_weights) == set(FEATURES)
    off_grid = {
        f: w for f, w in cal.rerank_weights.items()
        if not (w in SENTENCE_GRID if f == "sentence" else w in GRID or w == start[f])
    }  # fmt: skip
    assert off_grid == {}


def test_the_threshold_keeps_false_refusals_within_the_stated_limit(fitted, embedder):
    """The assistant, given the fitted file, answers the answerable questions the way a user asks them."""
    root, gold, out, _ = fitted
    questions = load_gold(gold)
    a = Assistant(make_settings(root), embedder=embedder, calibration=load_calibration(out))
    try:
        refused = [g.id for g in questions if g.answerable and a.ask(g.question).refused]
    finally:
        a.close()
    assert len(refused) <= MAX_FALSE_REFUSALS * len(ANSWERABLE), refused


def _tiny_train(path: Path) -> Path:
    """Training questions on the two indexed documents (answerable) or naming their councils (not), verbatim."""
    lines = (TRAIN_DIR / "councils-small.jsonl").read_text(encoding="utf-8").splitlines()
    answerable = [ln for ln in lines if any(f in ln for f in FILES)][:24]
    unanswerable = [ln for ln in lines if '"sources": []' in ln and re.search(r"Hertingfordbury|Tintern", ln)][:12]
    path.write_text("".join(ln + "\n" for ln in answerable + unanswerable), encoding="utf-8")
    return path


def test_refusal_weights_fitted_on_training_questions_keep_their_threshold_on_dev(fitted, tmp_path):
    """`--refusal-gold`: the weights come from the training questions, the threshold from dev, where
    the false-refusal limit must hold; the report says which questions the weights were fitted on."""
    root, gold, dev_fit, _ = fitted
    train, out = _tiny_train(tmp_path / "train.jsonl"), tmp_path / "refit.json"
    proc = subprocess.run(
        [sys.executable, "-m", "evals.calibrate", "--gold", str(gold), "--refusal-only",
         "--refusal-gold", str(train), "--out", str(out)],
        cwd=ROOT, env=server_env() | {"CLERK_INDEX": str(make_settings(root).index)},
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    fit = load_calibration(out).provenance
    assert fit["refusal_fitted_on"]["gold"] == str(train)
    assert fit["refusal_fitted_on"]["questions"] == 36 and fit["refusal_fitted_on"]["unanswerable"] == 12
    assert fit["refusal_in_sample"]["false_refusal_on_answerable"] <= MAX_FALSE_REFUSALS  # on dev
    assert "refusal_on_fitted_questions" in fit and "refusal_5fold_cv" not in fit
    assert load_calibration(out).refusal_weights != load_calibration(dev_fit).refusal_weights
