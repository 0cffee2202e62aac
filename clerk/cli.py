"""The ``clerk`` command: a thin layer over ingest, assistant, ui and evals.

Each subcommand parses its flags into :class:`clerk.settings.Settings`
overrides and calls the package that does the work; nothing here knows how
documents are parsed or searched.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pydantic import ValidationError  # noqa: E402

from clerk.settings import PROJECT_ROOT, Settings, get_settings  # noqa: E402


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, help="index folder (default .clerk/ or $CLERK_INDEX)")
    p.add_argument(
        "--chroma-url",
        metavar="URL",
        help="keep vectors on this Chroma server, e.g. http://127.0.0.1:8000 (default: embedded, or $CLERK_CHROMA_URL)",
    )


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    return get_settings(index=getattr(args, "index", None), chroma_url=getattr(args, "chroma_url", None), **extra)


def cmd_ingest(args: argparse.Namespace) -> int:
    from clerk.console import print_ingest_summary, progress_for
    from ingest.pipeline import ingest
    from ingest.store import IndexMismatch

    settings = _settings(args, parse_workers=args.workers, ocr=False if args.no_ocr else None)
    paths = args.paths or [settings.corpus]
    try:
        report = ingest(paths, settings, prune=args.prune, progress=progress_for(args.quiet))
    except IndexMismatch as exc:
        print(f"clerk ingest: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({
            "ok": report.ok,
            "files": [r.__dict__ for r in report.results],
            "pages": report.pages, "chunks": report.chunks, "embedded_tokens": report.embedded_tokens,
            "reembedded": report.reembedded,
            "seconds": round(report.seconds, 3),
        }))
    else:
        print_ingest_summary(report, args.quiet)
    return 0 if report.ok else 1


def cmd_docs(args: argparse.Namespace) -> int:
    from ingest.registry import Registry

    settings = _settings(args)
    if not settings.registry_path.exists():
        print(f"clerk docs: no index at {settings.index} (run `clerk ingest` first)", file=sys.stderr)
        return 1
    if args.set:
        return _correct_document(settings, args.set[0], args.set[1:], args.json)
    registry = Registry(settings.registry_path)
    docs = registry.documents()
    registry.close()
    if args.json:
        print(json.dumps([d.listing() for d in docs], indent=1))
    else:
        from clerk.console import print_documents

        print_documents(docs)
    return 0


def _correct_document(settings: Settings, ref: str, assignments: list[str], as_json: bool) -> int:
    """``clerk docs --set FILE council=... type=... title=... date=...``: correct one document's metadata."""
    from ingest.corrections import CorrectionError, parse_assignments
    from ingest.pipeline import Ingester

    try:
        changes = parse_assignments(assignments)
        if not changes:
            raise CorrectionError("say what to set: FIELD=VALUE (fields: council, type, title, date)")
        ingester = Ingester(settings)
        try:
            done = ingester.correct(ref, changes, on_wait=lambda: print(
                "clerk docs: waiting for another ingest of this index to finish…", file=sys.stderr))
        finally:
            ingester.store.close()
    except CorrectionError as exc:
        print(f"clerk docs: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps({"doc_id": done.doc_id, "source": done.source, "reembedded": done.reembedded,
                          "changed": {k: {"before": a, "after": b} for k, (a, b) in done.changed.items()},
                          "sidecar": str(done.sidecar) if done.sidecar else None}, ensure_ascii=False))
    else:
        print(done.summary())
    return 0


def _filters(args: argparse.Namespace):
    from assistant.types import Filters

    return Filters(
        councils=tuple(args.council or ()), doc_types=tuple(args.type or ()), documents=tuple(args.doc or ()),
        date_from=args.date_from, date_to=args.date_to, include_restricted=not args.hide_restricted,
    )


def _read_questions(path: Path) -> list[tuple[int, dict | None, str | None]]:
    """``(line number, {"id", "question"} or None, error or None)`` for each non-blank line of a JSONL file."""
    out: list[tuple[int, dict | None, str | None]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            out.append((n, None, f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) or not item["question"].strip():
            out.append((n, item if isinstance(item, dict) else None, 'needs a non-empty "question" string'))
            continue
        out.append((n, item, None))
    return out


def cmd_ask(args: argparse.Namespace) -> int:
    settings = _settings(args, backend=args.backend, reranker=args.reranker)
    if not settings.registry_path.exists():
        print(f"clerk ask: no index at {settings.index} (run `clerk ingest` first)", file=sys.stderr)
        return 1
    if bool(args.question) == bool(args.questions):
        print("clerk ask: give one QUESTION or --questions FILE.jsonl", file=sys.stderr)
        return 2
    if args.questions:
        try:
            items = _read_questions(args.questions)
        except OSError as exc:
            print(f"clerk ask: {args.questions}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    else:
        items = [(0, {"id": None, "question": args.question}, None)]

    from assistant import Assistant
    from clerk.console import print_answer

    assistant = Assistant(settings)
    missing = assistant.store.missing_vectors()
    if missing:
        print(f"clerk ask: {missing} chunk(s) of {settings.index} have no vector in the Chroma collection "
              "(another or a reset server?); answers rest on keyword search alone, and may be refusals, "
              "until `clerk ingest` re-embeds them", file=sys.stderr)
    filters = _filters(args)
    status = 0
    for line, item, error in items:
        qid = item.get("id") if item else None
        question = item.get("question") if item else None
        if error is None:
            try:
                answer = assistant.ask(question, filters=filters, k=args.k, id=qid)
            except ValueError as exc:  # a filter that matches nothing, an unknown backend
                error = str(exc)
            except Exception as exc:  # a backend that failed: report it, go on with the batch
                error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            where = f"{args.questions}:{line}: " if args.questions else ""
            print(f"clerk ask: {where}{error}", file=sys.stderr)
            status = 1
            if args.json:
                print(json.dumps({"id": qid, "question": question, "error": error}), flush=True)
            continue
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        else:
            print_answer(answer)
    assistant.close()
    return status


def cmd_eval(args: argparse.Namespace) -> int:
    from evals.baseline import Baseline
    from evals.gold import DEV, GoldFormatError, check_gold, load_gold, stratified_ids

    settings = _settings(args)
    try:
        baseline = Baseline.load(args.baseline) if args.baseline else None
    except (OSError, ValueError, KeyError) as exc:
        print(f"clerk eval: {args.baseline}: not a baseline file ({exc})", file=sys.stderr)
        return 2
    if baseline and args.gold and baseline.for_gold(args.gold) is None:
        print(f"clerk eval: {args.baseline} watches no set with gold file {args.gold}", file=sys.stderr)
        return 2
    if args.check_gold:
        gold_path = args.gold or DEV
        problems = check_gold(gold_path, args.corpus or settings.corpus)
        for p in problems:
            print(f"clerk eval: {p}", file=sys.stderr)
        print(f"{gold_path}: {'every support span found in its file' if not problems else f'{len(problems)} problem(s)'}")
        return 1 if problems else 0
    if not settings.registry_path.exists():
        print(f"clerk eval: no index at {settings.index} (run `clerk ingest` first)", file=sys.stderr)
        return 1
    # (name, gold file, watched set or None): every set of a baseline, or the one gold file asked for
    if baseline and not args.gold:
        plan = [(w.name, w.gold, w) for w in baseline.sets.values()]
    else:
        gold_path = args.gold or DEV
        plan = [(Path(gold_path).stem, Path(gold_path), baseline.for_gold(gold_path) if baseline else None)]
    runs = []
    try:
        for name, gold_path, watched in plan:
            gold = load_gold(gold_path)
            gold = watched.select(gold) if watched else gold
            if args.sample:
                keep = set(stratified_ids(gold, args.sample))
                gold = [g for g in gold if g.id in keep]
            if args.limit:
                gold = gold[: args.limit]
            runs.append((name, gold_path, watched, gold))
    except (GoldFormatError, ValueError) as exc:
        for line in str(exc).splitlines():
            print(f"clerk eval: {line}", file=sys.stderr)
        return 2

    from assistant import Assistant
    from clerk.console import eval_progress, print_eval_summary
    from evals.baseline import regressions
    from evals.harness import available_backends, evaluate
    from evals.report import new_results_dir, write_run

    assistant = Assistant(settings)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()] if args.backends else None
    unknown = sorted(set(backends or ()) - set(available_backends(assistant)))
    if unknown:
        print(f"clerk eval: backend(s) not available here: {', '.join(unknown)} "
              f"(available: {', '.join(available_backends(assistant))})", file=sys.stderr)
        return 2
    out_root = args.out or new_results_dir(settings.eval_results)
    status, summaries, saved = 0, {}, Baseline()
    if args.save_baseline and args.save_baseline.exists():
        try:
            saved = Baseline.load(args.save_baseline)
        except (ValueError, KeyError):
            saved = Baseline()  # an older format is replaced whole
    for name, gold_path, watched, gold in runs:
        with eval_progress(quiet=args.json) as progress:
            run = evaluate(assistant, gold, backends, ablation=not args.no_ablation, progress=progress,
                           gold_path=gold_path)
        for backend, rows in run.answers.items():
            failed = [r for r in rows if "error" in r]
            if failed:
                print(f"clerk eval: {name}: {backend}: {len(failed)} of {len(rows)} questions failed, "
                      f"scored as unanswered (first: {failed[0]['id']}: {failed[0]['error']})", file=sys.stderr)
        if watched:  # before writing, so summary.json and --json carry the same regressions
            run.summary["regressions"] = regressions(watched, run.summary)
            for line in run.summary["regressions"]:
                print(f"clerk eval: below baseline: {line}", file=sys.stderr)
            status = max(status, 1 if run.summary["regressions"] else 0)
        out = out_root / name if len(runs) > 1 else out_root
        report = write_run(run, out)
        summaries[name] = run.summary
        if args.save_baseline:
            whole = not (args.sample or args.limit) and (watched is None or watched.ids is None)
            for drop in saved.record(name, gold_path, None if whole else [g.id for g in gold], run.summary,
                                     allow_lower=args.allow_lower):
                verb = "lowered" if args.allow_lower else "kept the committed floor of"
                print(f"clerk eval: {verb} {drop.set} {drop.score} ({drop.old:.4g}; this run {drop.new:.4g}); "
                      f"the commit must say why: {drop.trailer}", file=sys.stderr)
        if not args.json:
            if len(runs) > 1:
                print(f"\n{name}: {gold_path}")
            print_eval_summary(run.summary)
            print(f"report: {report}")
    assistant.close()
    if args.save_baseline:
        saved.save(args.save_baseline)
    if args.json:
        print(json.dumps(summaries if len(runs) > 1 else summaries[runs[0][0]], ensure_ascii=False))
    return status


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.app import serve

    serve(_settings(args), host=args.host, port=args.port)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    """Serve MCP over stdio for an agent that starts clerk as a subprocess (``ui.mcp_server``)."""
    from ui.mcp_server import run_stdio
    from ui.service import NotSignedIn

    try:
        run_stdio(_settings(args), args.api_key or os.environ.get("CLERK_API_KEY") or None)
    except (NotSignedIn, ValueError) as exc:
        print(f"clerk mcp: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Fine-tune the embedder on gold questions (``training.run``); the bundled models: ``make train``."""
    from evals.gold import GoldFormatError
    from evals.trainset import TRAIN_DIR, held_out
    from ingest.store import IndexMismatch
    from training.run import train

    gold = args.gold or sorted(TRAIN_DIR.glob("*.jsonl"))
    if args.held_out is not None:
        withheld = sorted(held_out(args.held_out))
    else:
        withheld = sorted(held_out()) if not args.gold else []
    evaluate = list(args.unseen or [])
    command = "clerk train " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "clerk train"
    try:
        report = train(gold, args.out, _settings(args), evaluate=evaluate, held_out=withheld, epochs=args.epochs,
                       batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
                       say=lambda line: print(line, flush=True), command=command)
    except (GoldFormatError, IndexMismatch, ValueError) as exc:
        print(f"clerk train: {exc}", file=sys.stderr)
        return 2
    print(f"model written to {args.out} ({report['run']['seconds']:.0f} s training); "
          f"use it with CLERK_EMBED_MODEL={args.out}, then `clerk ingest` embeds the index again")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    """Manage who may sign in to the web app (``clerk users add|remove|list``)."""
    import getpass

    from ui.accounts import Accounts, AccountsError

    settings = _settings(args)
    try:
        accounts = Accounts(settings.users_path)
        if args.action == "list":
            if not accounts.users:
                print(f"no users in {settings.users_path}: the web app runs without sign-in")
            for a in sorted(accounts.users.values(), key=lambda a: a.name):
                print(f"{a.name}\t{a.role}" + ("\tapi-key" if a.api_key_hash else ""))
            return 0
        if not args.name:
            print(f"clerk users {args.action}: give a user name", file=sys.stderr)
            return 2
        if args.action == "remove":
            accounts.remove(args.name)
            print(f"removed {args.name} from {settings.users_path}")
            return 0
        password: str | None
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        elif args.api_key:
            password = None  # a key for tools; an existing user keeps their password
        else:
            password = getpass.getpass(f"password for {args.name}: ")
            if getpass.getpass("again: ") != password:
                print("clerk users add: the passwords differ", file=sys.stderr)
                return 2
        key = accounts.add(args.name, args.role, password, api_key=args.api_key)
    except AccountsError as exc:
        print(f"clerk users: {exc}", file=sys.stderr)
        return 2
    print(f"{args.name} ({args.role}) saved in {settings.users_path}; `clerk serve` now asks for sign-in",
          file=sys.stderr if key else sys.stdout)
    if key:
        print("API key (shown once; send it as `Authorization: Bearer KEY`):", file=sys.stderr)
        print(key)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clerk", description="Cited answers from council governance documents.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="index files or folders (default: the bundled corpus)")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: corpus/)")
    _common(p)
    p.add_argument("--prune", action="store_true", help="remove documents whose files no longer exist")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars; list only changed files")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--workers", type=int, help="parse processes running beside embedding (default 1; 0 = inline)")
    p.add_argument("--no-ocr", action="store_true", help="report scanned files as needing OCR instead of OCR'ing")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("docs", help="list indexed documents, or correct one's metadata")
    _common(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--set", nargs="+", metavar=("FILE", "FIELD=VALUE"),
                   help="correct a document's metadata: --set FILE council=trafford type=minutes title='...' "
                        "date=2025-02-13 (kept across re-ingests; only a new title re-embeds)")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("ask", help="answer a question with citations (or many, from a JSONL file)")
    p.add_argument("question", nargs="?", help="the question")
    _common(p)
    p.add_argument("--json", action="store_true", help="print the answer as one JSON object (one per line in batch)")
    p.add_argument("--questions", type=Path, help='JSONL file of {"id": ..., "question": ...} lines')
    p.add_argument("--council", action="append", help="only this council's documents (repeatable)")
    p.add_argument("--type", action="append", help="only documents of this type, e.g. peer_review (repeatable)")
    p.add_argument("--doc", action="append", help="only this document: path, file name or id (repeatable)")
    p.add_argument("--date-from", help="only documents dated on or after this (YYYY, YYYY-MM or YYYY-MM-DD)")
    p.add_argument("--date-to", help="only documents dated on or before this")
    p.add_argument("--k", type=int, help="passages an answer may cite (default 5)")
    p.add_argument("--backend", help="extractive (default), openai or local")
    p.add_argument("--reranker", help="features (default), none, or a cross-encoder path")
    p.add_argument("--hide-restricted", action="store_true",
                   help="answer as the public sees the index: restricted documents are left out")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="score retrieval, citations and refusals against a gold set")
    _common(p)
    p.add_argument("--gold", type=Path, help="gold JSONL (default evals/gold/dev.jsonl; see docs/EVALUATION.md)")
    p.add_argument("--out", type=Path, help="results folder (default evals/results/<timestamp>/)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--backends", help="comma-separated answer backends to compare (default: the configured one)")
    p.add_argument("--no-ablation", action="store_true", help="skip the BM25/dense/hybrid retrieval ablation")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--sample", type=float, help="a fixed stratified subset: this share of each type (at least 5)")
    p.add_argument("--baseline", type=Path,
                   help="run every set a baseline file watches (or the --gold one) and exit 1 if a score fell below its floor")
    p.add_argument("--save-baseline", type=Path,
                   help="record this run's scores as floors in a baseline file (a lower score keeps its floor)")
    p.add_argument("--allow-lower", action="store_true",
                   help="with --save-baseline: lower floors this run measured lower (the commit must say why)")
    p.add_argument("--check-gold", action="store_true", help="only check every gold span against its file")
    p.add_argument("--corpus", type=Path, help="folder the gold files are relative to, for --check-gold")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="start the web chat")
    _common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", help="serve the MCP tools over stdio, for an agent that starts clerk itself")
    _common(p)
    p.add_argument("--api-key", metavar="KEY",
                   help="act for this key's user (default $CLERK_API_KEY; without one: the public view)")
    p.set_defaults(func=cmd_mcp)

    p = sub.add_parser("train", help="fine-tune the embedder on questions written from the documents")
    _common(p)
    p.add_argument("--gold", type=Path, action="append",
                   help="training questions in the gold format (repeatable; default evals/gold/train/*.jsonl)")
    p.add_argument("--unseen", "--measure", dest="unseen", type=Path, action="append",
                   help="gold files to measure dense retrieval on, before and after (repeatable): questions "
                        "on documents held out of training say what a new library gets")
    p.add_argument("--held-out", type=Path,
                   help="documents never used for training, one path a line (default with the bundled "
                        "questions: evals/gold/train/held_out.txt)")
    p.add_argument("--out", type=Path, default=PROJECT_ROOT / "models" / "embedder",
                   help="model folder to write (default models/embedder)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=3e-5)
    p.add_argument("--seed", type=int, default=13)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("users", help="who may sign in to the web app, and their roles")
    _common(p)
    p.add_argument("action", choices=["add", "remove", "list"])
    p.add_argument("name", nargs="?", help="user name (letters, digits, . _ @ -)")
    p.add_argument("--role", choices=["officer", "member", "public"], default="member",
                   help="officer: sees restricted documents and manages the library; member, public: public only")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--api-key", action="store_true",
                   help="issue an API key for /api/v1 (printed once on standard output; replaces an earlier key); "
                   "without a password the user is API-only")
    p.set_defaults(func=cmd_users)
    return parser


def _setting_errors(exc: ValidationError, args: argparse.Namespace) -> list[str]:
    """One line per bad setting, naming it as the user gave it: the flag if given, else the environment variable."""
    lines = []
    for err in exc.errors():
        name = ".".join(str(part) for part in err["loc"])
        given = f"--{name.replace('_', '-')}" if getattr(args, name, None) is not None else f"CLERK_{name.upper()}"
        lines.append(f"invalid setting {name} ({given}): {err['msg'].removeprefix('Value error, ')}")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; everything committed so far is kept", file=sys.stderr)
        return 130
    except ValidationError as exc:
        for line in _setting_errors(exc, args):
            print(f"clerk {args.command}: {line}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        # Imported here, once one was raised: ingest.store is slow to import and not every command needs it.
        from ingest.store import ChromaUnavailable, IndexMismatch

        if not isinstance(exc, (ChromaUnavailable, IndexMismatch)):
            raise
        print(f"clerk {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
