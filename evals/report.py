"""Write an evaluation run to a results folder: JSON, JSONL, a Markdown and an HTML report, plots.

    <out>/summary.json            the summary object (``clerk eval --json``) and the run's provenance
    <out>/questions.jsonl         one line per question: the first backend's answer, scores and retrieval ranks
    <out>/answers-<backend>.jsonl the same rows for every other backend run
    <out>/report.md, report.html  tables, plots and the questions that failed, for a reader
    <out>/recall_at_k.png, latency.png, by_type.png

Both reports are rendered from the same :class:`Section` list so they never
disagree. The HTML is self-contained apart from the PNGs beside it.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from evals.harness import PRODUCT, EvalRun
from evals.metrics import CUTOFFS, STAGES

#: Rows listed per failure kind in the report (all of them are in questions.jsonl).
MAX_FAILURES = 40


@dataclass
class Section:
    title: str
    text: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    image: str | None = None


def new_results_dir(base: Path) -> Path:
    """``base/<UTC timestamp>``, unique even for two runs in the same second."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out, n = base / stamp, 1
    while out.exists():
        n += 1
        out = base / f"{stamp}-{n}"
    return out


def write_run(run: EvalRun, out: Path) -> Path:
    """Write every artefact of ``run`` into ``out`` (created); returns the Markdown report's path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(
        json.dumps({"summary": run.summary, "meta": run.meta}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    ranks = {name: {r["id"]: r["first_rank"] for r in rows} for name, rows in run.retrieval.items()}
    for i, (backend, rows) in enumerate(run.answers.items()):
        name = "questions.jsonl" if i == 0 else f"answers-{_slug(backend)}.jsonl"
        with (out / name).open("w", encoding="utf-8") as fh:
            for r in rows:
                retrieval = {retriever: by_id.get(r["id"]) for retriever, by_id in ranks.items()}
                fh.write(json.dumps(r | {"retrieval_first_rank": retrieval}, ensure_ascii=False) + "\n")
    images = _plots(run, out)
    sections = _sections(run, images)
    (out / "report.md").write_text(_markdown(run, sections), encoding="utf-8")
    (out / "report.html").write_text(_html(run, sections), encoding="utf-8")
    return out / "report.md"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-")


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


# --- content -------------------------------------------------------------------------------

_HEADLINE = [
    ("gold_cited", "gold passage cited (share of gold sources)"),
    ("gold_cited_any", "at least one gold source cited"),
    ("citation_recall", "citation recall (statements supported by their citations)"),
    ("citation_precision", "citation precision (citations needed)"),
    ("must_include", "must-include facts in the answer"),
    ("refusal_accuracy", "unanswerable questions refused"),
    ("false_refusal_rate", "answerable questions refused"),
    ("citations_verified", "quotes re-found on their page"),
]


def _sections(run: EvalRun, images: dict[str, str]) -> list[Section]:
    s = run.summary
    main = Section(
        "Summary",
        f"{s['questions']} questions ({s['answerable']} answerable, {s['unanswerable']} unanswerable), "
        f"backend **{s['backend']}**, retrieval {PRODUCT}.",
        ["measure", "value"],
        [[label, _fmt(s.get(key))] for key, label in _HEADLINE]
        + [[f"recall@{k}", _fmt(s["recall_at_k"].get(str(k)))] for k in CUTOFFS]
        + [["MRR@10", _fmt(s["mrr"])]],
    )
    retrievers = Section(
        "Retrieval ablation",
        "The same answerable questions through each retriever; a question's gold source counts as found at rank r "
        "when the r-th passage comes from its file and holds its span.",
        ["retriever", *[f"recall@{k}" for k in CUTOFFS], "MRR@10"],
        [[name, *[_fmt(m["recall_at_k"][str(k)]) for k in CUTOFFS], _fmt(m["mrr"])]
         for name, m in s["retrievers"].items()],
        images.get("recall"),
    )
    backends = Section(
        "Answer backends",
        "",
        ["backend", "gold cited", "citation recall", "citation precision", "must-include", "refusal accuracy",
         "false refusals", "p50 ms", "p95 ms"],
        [[b, _fmt(m["gold_cited"]), _fmt(m["citation_recall"]), _fmt(m["citation_precision"]),
          _fmt(m["must_include"]), _fmt(m["refusal_accuracy"]), _fmt(m["false_refusal_rate"]),
          _ms(m["latency_ms"].get("total", {}).get("p50")), _ms(m["latency_ms"].get("total", {}).get("p95"))]
         for b, m in s["backends"].items()],
    )
    latency = Section(
        "Latency (ms)",
        f"Per stage, backend {s['backend']}, one warm process on {run.meta['machine']['cpus']} CPUs.",
        ["stage", "p50", "p95"],
        [[stage, _ms(s["latency_ms"][stage]["p50"]), _ms(s["latency_ms"][stage]["p95"])]
         for stage in STAGES if stage in s["latency_ms"]],
        images.get("latency"),
    )
    columns = ["questions", "recall_at_5", "gold_cited", "citation_recall", "must_include", "false_refusal_rate",
               "refusal_accuracy"]
    kinds = Section(
        "By question type",
        "",
        ["type", *[c.replace("_", " ") for c in columns]],
        [[kind, *[_fmt(m.get(c)) for c in columns]] for kind, m in s["by_type"].items()],
        images.get("by_type"),
    )
    return [main, retrievers, backends, latency, kinds, *_failures(run), _provenance(run)]


def _failures(run: EvalRun) -> list[Section]:
    rows = run.answers[next(iter(run.answers))]
    kinds = [
        ("Answerable questions refused", [r for r in rows if r["answerable"] and r["refused"]]),
        ("Unanswerable questions answered", [r for r in rows if not r["answerable"] and not r["refused"]]),
        ("Gold passage not cited", [r for r in rows if r["answerable"] and not r["refused"] and r["gold_cited"] < 1]),
        ("Statements not supported by their citations",
         [r for r in rows if r["citation_recall"] is not None and r["citation_recall"] < 1]),
    ]
    out = []
    for title, failed in kinds:
        shown = failed[:MAX_FAILURES]
        more = f" The first {MAX_FAILURES} are listed." if len(failed) > MAX_FAILURES else ""
        out.append(Section(
            f"{title} ({len(failed)})",
            ("None." if not failed else f"All are in questions.jsonl.{more}"),
            ["id", "type", "question", "answer"] if failed else [],
            [[r["id"], r["type"], r["question"], _clip(r["answer"])] for r in shown],
        ))
    return out


def _clip(text: str, n: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _provenance(run: EvalRun) -> Section:
    m = run.meta
    rows = [
        ["date (UTC)", m["date"]],
        ["clerk", f"{m['clerk']['version']} ({m['clerk']['revision'] or 'no git revision'})"],
        ["gold", f"{m['gold']['path']} (sha256 {m['gold']['sha256']}, {m['gold']['questions']} questions)"],
        ["index", f"{m['index']['path']}: {m['index']['documents']} documents, {m['index']['chunks']} chunks, "
                  f"fingerprint {m['index']['fingerprint']}"],
        ["embedder", f"{m['models']['embedder']} ({m['models']['embedder_package']})"],
        ["reranker", str(m["models"]["reranker"])],
        ["calibration", f"sha256 {m['calibration']['sha256']}, refusal threshold {m['calibration']['refusal_threshold']}"],
        ["settings", f"top_k {m['settings']['top_k']}, candidates {m['settings']['candidates']}, seed {m['seed']}"],
        ["machine", f"{m['machine']['cpus']} CPUs, {m['machine']['platform']}, Python {m['machine']['python']}, "
                    f"torch {m['machine']['torch']}"],
    ]
    return Section("Provenance", "", ["item", "value"], rows)


# --- rendering -----------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(run: EvalRun, sections: list[Section]) -> str:
    lines = [f"# clerk evaluation: {Path(run.summary['gold'] or 'gold').name}", ""]
    for sec in sections:
        lines += [f"## {sec.title}", ""]
        if sec.text:
            lines += [sec.text, ""]
        if sec.headers:
            lines.append("| " + " | ".join(sec.headers) + " |")
            lines.append("|" + "---|" * len(sec.headers))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in sec.rows]
            lines.append("")
        if sec.image:
            lines += [f"![{sec.title}]({sec.image})", ""]
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;
color:#1f2933;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d9e2ec;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.92rem}th,td{border:1px solid #d9e2ec;padding:.3rem .55rem;
text-align:left;vertical-align:top}th{background:#f0f4f8}img{max-width:100%;margin:.5rem 0}
"""


def _html(run: EvalRun, sections: list[Section]) -> str:
    esc = html.escape
    title = f"clerk evaluation: {Path(run.summary['gold'] or 'gold').name}"
    body = [f"<h1>{esc(title)}</h1>"]
    for sec in sections:
        body.append(f"<h2>{esc(sec.title)}</h2>")
        if sec.text:
            body.append(f"<p>{esc(sec.text).replace('**', '')}</p>")
        if sec.headers:
            head = "".join(f"<th scope='col'>{esc(h)}</th>" for h in sec.headers)
            rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in sec.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        if sec.image:
            body.append(f"<img src='{esc(sec.image)}' alt='{esc(sec.title)}'>")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{_CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")


# --- plots ---------------------------------------------------------------------------------


def _plots(run: EvalRun, out: Path) -> dict[str, str]:
    """recall@k per retriever, a latency histogram and scores by type; returns file names by kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = run.summary
    files: dict[str, str] = {}

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, m in s["retrievers"].items():
        ax.plot(CUTOFFS, [m["recall_at_k"][str(k)] or 0 for k in CUTOFFS], marker="o", label=name,
                linewidth=2.5 if name == PRODUCT else 1.5)
    ax.set(xlabel="k (passages retrieved)", ylabel="recall@k", ylim=(0, 1.02), xticks=list(CUTOFFS),
           title="Gold passage within the top k")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    files["recall"] = _save(fig, out / "recall_at_k.png")

    main = run.answers[next(iter(run.answers))]
    totals = [r["timings_ms"]["total"] for r in main if "total" in r["timings_ms"]]
    if totals:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(totals, bins=min(30, max(5, len(totals) // 4)), color="#486581")
        ax.set(xlabel="answer time (ms)", ylabel="questions", title=f"Answer latency, {s['backend']}")
        ax.grid(alpha=0.3)
        files["latency"] = _save(fig, out / "latency.png")

    kinds = list(s["by_type"])
    if kinds:
        fig, ax = plt.subplots(figsize=(max(6, len(kinds) * 0.9), 4))
        measures = [("gold_cited", "gold cited"), ("recall_at_5", "recall@5"), ("refusal_accuracy", "refused")]
        width = 0.8 / len(measures)
        for j, (key, label) in enumerate(measures):
            values = [s["by_type"][k].get(key) or 0 for k in kinds]
            ax.bar([i + j * width for i in range(len(kinds))], values, width, label=label)
        ax.set_xticks([i + width for i in range(len(kinds))], kinds, rotation=20, ha="right")
        ax.set(ylim=(0, 1.05), ylabel="share", title="Scores by question type")
        ax.legend(loc="lower right")
        ax.grid(axis="y", alpha=0.3)
        files["by_type"] = _save(fig, out / "by_type.png")
    return files


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name
