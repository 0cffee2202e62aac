"""Terminal output of the CLI: progress bars and summary tables (rich).

Progress bars appear only on a terminal and never with ``--quiet``; errors are
always printed, one line per file, to standard error.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assistant.types import Answer
from ingest.pipeline import FAILED, NEEDS_OCR, FileResult, IngestReport
from ingest.pipeline import Progress as PipelineProgress
from ingest.registry import DocumentRecord

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


class RichProgress(PipelineProgress):
    """Two bars: files done, and chunks embedded."""

    def __init__(self, show_bars: bool) -> None:
        self._bars = (
            Progress(
                TextColumn("{task.description:<10}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            )
            if show_bars
            else None
        )
        self._files = self._chunks = None

    def waiting(self) -> None:
        err.print("[yellow]Another ingest (a `clerk ingest` or an upload in the app) is writing to this index; "
                  "waiting for it to finish.[/]")

    def start(self, files: int) -> None:
        if self._bars is not None:
            self._bars.start()
            self._files = self._bars.add_task("files", total=files)
            self._chunks = self._bars.add_task("embedding", total=0)

    def file_done(self, result: FileResult) -> None:
        if result.outcome in (FAILED, NEEDS_OCR):
            self._error(f"{result.source}: {result.note}")
        if self._bars is not None and result.outcome in ("indexed", FAILED, NEEDS_OCR):
            self._bars.advance(self._files)

    def chunks_planned(self, n: int) -> None:
        if self._bars is not None:
            task = self._bars.tasks[self._chunks]
            self._bars.update(self._chunks, total=(task.total or 0) + n)

    def chunks_embedded(self, n: int) -> None:
        if self._bars is not None:
            self._bars.advance(self._chunks, n)

    def _error(self, text: str) -> None:
        (self._bars.console if self._bars is not None else err).print(f"[red]error[/red] {text}", markup=True)

    def stop(self) -> None:
        if self._bars is not None:
            self._bars.stop()


def progress_for(quiet: bool) -> RichProgress:
    return RichProgress(show_bars=not quiet and sys.stderr.isatty())


def print_ingest_summary(report: IngestReport, quiet: bool) -> None:
    """What happened to each file (changed files only when quiet), then totals.

    On a terminal, a table; otherwise (a log, a pipe, ``| grep failed``) one plain line per file, never
    wrapped: ``OUTCOME<TAB>FULL PATH<TAB>pages, chunks or the reason``.
    """
    rows = [r for r in report.results if not quiet or r.outcome not in ("unchanged", "skipped")]
    if rows and not out.is_terminal:
        for r in rows:
            counts = f"{r.pages} pages, {r.chunks} chunks" if r.outcome in ("indexed", "unchanged") else ""
            detail = "; ".join(x for x in (counts, r.note) if x)
            print(f"{r.outcome}\t{os.path.abspath(r.source)}" + (f"\t{detail}" if detail else ""), flush=True)
    elif rows:
        table = Table(title="Ingest", show_lines=False)
        for col in ("file", "outcome", "pages", "chunks", "note"):
            table.add_column(col, justify="right" if col in ("pages", "chunks") else "left", overflow="fold")
        for r in rows:
            style = {"failed": "red", "needs_ocr": "yellow", "indexed": "green"}.get(r.outcome, "")
            table.add_row(r.source, f"[{style}]{r.outcome}[/]" if style else r.outcome,
                          str(r.pages or ""), str(r.chunks or ""), r.note)
        out.print(table)
    counts = ", ".join(
        f"{report.count(o)} {o}"
        for o in ("indexed", "unchanged", "duplicate", "needs_ocr", "failed", "pruned", "skipped")
        if report.count(o)
    )
    rate = f", {report.embedded_tokens / report.embed_seconds:,.0f} tokens/s embedded" if report.embed_seconds else ""
    again = f"; {report.reembedded} chunks embedded again with the configured model" if report.reembedded else ""
    out.print(
        f"{counts or 'nothing to do'}; {report.pages} pages, {report.chunks} chunks in {report.seconds:.1f}s{rate}"
        f"{again}"
    )


def print_documents(docs: list[DocumentRecord]) -> None:
    table = Table(title=f"{len(docs)} documents")
    for col in ("council", "type", "title", "date", "pages", "chunks", "status"):
        table.add_column(col, justify="right" if col in ("pages", "chunks") else "left", overflow="fold")
    for d in docs:
        table.add_row(d.council or "", d.doc_type or "", d.title or d.source, d.date or "",
                      str(d.pages), str(d.chunks), d.status_text())
    out.print(table)


def print_answer(answer: Answer) -> None:
    """An answer and its numbered references, as a reader checks them."""
    console = out
    console.print(answer.answer, markup=False, highlight=False)
    if answer.refused and answer.searched:
        return
    if answer.citations:
        console.print("\nReferences", style="bold")
    for c in answer.citations:
        where = f"p. {c.page}" + (f", {c.section}" if c.section else "")
        mark = "" if c.verified else "  [not verified]"
        console.print(f"[{c.n}] {c.title} ({where}){mark}", markup=False, highlight=False)
        console.print(f"    \u201c{c.quote}\u201d", markup=False, highlight=False, style="italic")
        console.print(f"    {c.source}", markup=False, highlight=False, style="dim")
    if answer.unsupported:
        console.print("\nRemoved as unsupported by the documents:", style="bold yellow")
        for s in answer.unsupported:
            console.print(f"  - {s}", markup=False, highlight=False)


class _EvalProgress:
    """A progress bar over gold questions on a terminal; a line every 20 questions otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = None if quiet or not sys.stderr.isatty() else Progress(
            TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, transient=True,
        )
        self.task = None

    def __enter__(self) -> _EvalProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, done: int, total: int, current: str) -> None:
        if self.bar is not None:
            if self.task is None:
                self.task = self.bar.add_task("questions", total=total)
            self.bar.update(self.task, completed=done, description=current)
        elif not self.quiet and done and (done % 20 == 0 or done == total):
            err.print(f"{done}/{total} questions", highlight=False)


def eval_progress(quiet: bool) -> _EvalProgress:
    return _EvalProgress(quiet)


def print_eval_summary(summary: dict) -> None:
    """The headline scores, the retrieval ablation and the backends, as three small tables."""

    def f(v: object) -> str:
        return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    head = Table(title=f"clerk eval: {summary['questions']} questions, backend {summary['backend']}")
    head.add_column("measure")
    head.add_column("value", justify="right")
    for key in ("gold_cited", "citation_recall", "citation_precision", "must_include", "refusal_accuracy",
                "false_refusal_rate", "mrr"):
        head.add_row(key.replace("_", " "), f(summary.get(key)))
    for k, v in summary["recall_at_k"].items():
        head.add_row(f"recall@{k}", f(v))
    total = summary["latency_ms"].get("total", {})
    head.add_row("latency p50 / p95 ms", f"{total.get('p50', 0):.0f} / {total.get('p95', 0):.0f}")
    out.print(head)

    if len(summary["retrievers"]) > 1:
        table = Table(title="retrieval ablation")
        table.add_column("retriever")
        cutoffs = list(next(iter(summary["retrievers"].values()))["recall_at_k"])
        for k in cutoffs:
            table.add_column(f"R@{k}", justify="right")
        table.add_column("MRR", justify="right")
        for name, m in summary["retrievers"].items():
            table.add_row(name, *[f(m["recall_at_k"][k]) for k in cutoffs], f(m["mrr"]))
        out.print(table)

    if len(summary["backends"]) > 1:
        table = Table(title="answer backends")
        cols = ("gold_cited", "citation_recall", "citation_precision", "refusal_accuracy", "false_refusal_rate")
        table.add_column("backend")
        for c in cols:
            table.add_column(c.replace("_", " "), justify="right")
        for name, m in summary["backends"].items():
            table.add_row(name, *[f(m.get(c)) for c in cols])
        out.print(table)
