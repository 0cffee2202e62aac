"""The Gradio app: chat on the left, sources on the right, scope controls, and the app's own file route.

The page calls :class:`assistant.Assistant` only; HTML comes from
:mod:`ui.render`. Original files are served by ``/files/<doc_id>``, which
serves indexed documents and nothing else, so a citation opens the page it
came from.

Access (see :mod:`ui.accounts`): every handler works out its viewer from the
request and passes the viewer's access into retrieval (``Filters``), the
library, the pickers and the file route. The page is first built as the
public sees it and filled in for the viewer when it loads, so nothing
restricted is ever in the page a visitor receives before their role is known.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import gradio as gr
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from gradio.utils import get_upload_folder
from starlette.routing import Route

from assistant import Assistant
from assistant.llm import LLMError
from assistant.query import council_display_names
from assistant.types import Filters, Passage
from clerk.settings import Settings
from evals.gold import GoldFormatError
from ingest.metadata import DOC_TYPES
from ingest.registry import DocumentRecord
from ui.accounts import Accounts, Sessions, Viewer
from ui.api import build_api
from ui.evaluation import latest_run, report_view, run_gold, summary_line
from ui.feedback import record_feedback
from ui.library import COLUMNS, Library
from ui.mcp_server import build_mcp, http_endpoint
from ui.openai_api import build_openai_api
from ui.render import (
    CSS,
    PAGE_SCRIPT,
    Turn,
    answer_html,
    answer_markdown,
    esc,
    scope_text,
    sign_in_page,
    sources_html,
    status_line,
)
from ui.service import AnswerSlots, NotSignedIn, caller, visible

#: The session cookie of a signed-in viewer (HttpOnly; the token means nothing outside this server's memory).
SESSION_COOKIE = "clerk_session"
#: The role the page is built for before it knows who is looking.
ANONYMOUS = Viewer(None, "public")
EVAL_HIDDEN = "Evaluation reports are shown to officers: the index holds restricted documents."

#: A starter question for each kind of document, asked of the council that holds one.
STARTERS = {
    "peer_review": "What did the LGA peer team recommend to {council}?",
    "standing_orders": "What is the quorum for meetings of {council}?",
    "financial_regulations": "What do {council}'s financial regulations say about authorising payments?",
    "code_of_conduct": "What interests must a councillor declare under {council}'s code of conduct?",
    "policy": "How much does {council} keep in reserves?",
}
MAX_STARTERS = 4
#: Council-neutral: slate and a dark blue with WCAG AA contrast for white text on buttons.
THEME = gr.themes.Default(primary_hue="blue", neutral_hue="slate").set(
    button_primary_background_fill="#1e40af",
    button_primary_background_fill_hover="#1e3a8a",
    button_primary_text_color="#ffffff",
)


def starter_questions(docs: list[DocumentRecord], council_names: dict[str, str]) -> list[str]:
    """A few questions drawn from the indexed documents: varied kinds, a different council each."""
    out: list[str] = []
    used: set[str] = set()
    richest_first = sorted(docs, key=lambda d: -d.chunks)
    for kind, template in STARTERS.items():
        for d in richest_first:
            name = council_names.get(d.council or "")
            if d.doc_type == kind and name and d.council not in used:
                out.append(template.format(council=name))
                used.add(d.council or "")
                break
        if len(out) >= MAX_STARTERS:
            break
    return out


def council_names(docs: list[DocumentRecord]) -> dict[str, str]:
    """Council id -> the full name its documents' titles use ("kent-cc" -> "Kent County Council")."""
    return council_display_names((d.council or "", d.title or "") for d in docs)


def deletable(docs: list[DocumentRecord]) -> list[tuple[str, str]]:
    """Delete choices name the file too: two documents may share a title, and uploads are known by file name."""
    return [(f"{d.title or Path(d.source).name} ({Path(d.source).name})", d.doc_id) for d in docs]


def build_blocks(assistant: Assistant, library: Library, accounts: Accounts, slots: AnswerSlots | None = None,
                 ) -> gr.Blocks:
    """The page (``slots``: the answering slots it shares with the API; its own when alone)."""
    slots = slots or AnswerSlots(assistant.settings.ask_workers)

    def viewer_of(request: gr.Request | None) -> Viewer:
        return accounts.viewer(request.username if request is not None else None)

    def catalogue(viewer: Viewer = ANONYMOUS) -> tuple[list[DocumentRecord], dict[str, str], dict[str, str]]:
        docs = sorted(assistant.retriever.documents(viewer.sees_restricted),
                      key=lambda d: (d.council or "", d.title or d.source))
        return docs, council_names(docs), {d.doc_id: d.title or d.source for d in docs}

    def scope_choices(viewer: Viewer) -> tuple[list, list, list]:
        """Documents, councils and types the viewer may pick: only what they may see."""
        docs, names, titles = catalogue(viewer)
        councils = sorted({d.council for d in docs if d.council})
        kinds = sorted({d.doc_type for d in docs if d.doc_type})
        return ([(titles[d.doc_id], d.doc_id) for d in docs], [(names.get(c, c), c) for c in councils],
                [(k.replace("_", " "), k) for k in kinds])

    def evaluation_view(viewer: Viewer) -> tuple[str, list[str]]:
        """The latest report, unless it could hold restricted text the viewer may not see."""
        hidden = not viewer.sees_restricted and any(d.restricted for d in assistant.store.registry.documents())
        return (EVAL_HIDDEN, []) if hidden else report_view(latest_run(assistant.settings.eval_results))

    docs, names, titles = catalogue()
    document_choices, council_choices, kind_choices = scope_choices(ANONYMOUS)
    manages_before_sign_in = not accounts.enabled  # a local tool without sign-in manages its own library

    with gr.Blocks(title="clerk: council documents, cited") as blocks:
        turns = gr.State([])
        with gr.Row(elem_id="clerk-header"):
            gr.HTML("<h1>clerk</h1><p>Ask about the council's documents. Every answer shows the document, page "
                    "and quoted words it rests on; click a number to see the source.</p>")
            account = gr.Markdown("", elem_id="account")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=320):
                    scope_line = gr.Markdown(scope_text(Filters(), titles), elem_id="scope-line")
                    chat = gr.Chatbot(label="Conversation", height="62vh", elem_id="chat", buttons=["copy"],
                                      placeholder="Ask a question about the indexed documents.",
                                      feedback_options=("Like", "Dislike"))
                    with gr.Row():
                        box = gr.Textbox(label="Your question", placeholder="Type a question and press Enter",
                                         scale=5, autofocus=True, elem_id="question")
                        send = gr.Button("Ask", variant="primary", scale=1, min_width=80)
                        stop = gr.Button("Stop", scale=1, min_width=80)
                    status = gr.Markdown("", elem_id="status")
                    starters = starter_questions(docs, names)
                    if starters:
                        gr.Examples(starters, inputs=[box], label="Try asking")
                    with gr.Accordion("Feedback on an answer", open=False):
                        comment = gr.Textbox(label="Comment (optional), sent with your thumbs up or down",
                                             elem_id="feedback-comment")
                        thanks = gr.Markdown("", elem_id="feedback-status")
                with gr.Column(scale=2, min_width=300):
                    with gr.Accordion("Scope: which documents to search", open=False):
                        document = gr.Dropdown(document_choices, label="Ask one document", multiselect=True,
                                               elem_id="scope-document")
                        council = gr.Dropdown(council_choices, label="Councils", multiselect=True,
                                              elem_id="scope-council")
                        kind = gr.Dropdown(kind_choices, label="Document types", multiselect=True,
                                           elem_id="scope-type")
                        with gr.Row():
                            date_from = gr.Textbox(label="Dated from", placeholder="YYYY or YYYY-MM")
                            date_to = gr.Textbox(label="Dated to", placeholder="YYYY or YYYY-MM")
                    gr.Markdown("### Sources")
                    sources = gr.HTML(sources_html([]), elem_id="sources")
                    copy_md = gr.Textbox(label="Last answer as Markdown (with references)", lines=4,
                                         buttons=["copy"], interactive=False, elem_id="answer-markdown")

            with gr.Tab("Documents", id="documents"):
                with gr.Row():
                    search = gr.Textbox(label="Search the library", placeholder="title, council, type or file",
                                        scale=3, elem_id="library-search")
                    refresh = gr.Button("Refresh", scale=1, min_width=80)
                table = gr.Dataframe(library.rows(""), headers=COLUMNS, interactive=False, wrap=True,
                                     label="Indexed documents", elem_id="library", max_height=520,
                                     column_widths=["30%", "10%", "10%", "8%", "6%", "7%", "12%", "17%"])
                with gr.Row(equal_height=False):
                    with gr.Column(visible=manages_before_sign_in) as adder:
                        restrict = gr.Textbox(label="Restricted: reason (e.g. Exempt: Schedule 12A para 3); "
                                              "leave empty to publish", visible=False, elem_id="upload-restricted")
                        upload = gr.File(label="Add documents (PDF, DOCX, HTML, TXT, MD, XLSX, CSV, PPTX)", file_count="multiple",
                                         elem_id="upload")
                        progress = gr.Markdown("", elem_id="upload-progress")
                    with gr.Column(visible=manages_before_sign_in) as remover:
                        doomed = gr.Dropdown(deletable(docs), label="Delete a document from the index",
                                             elem_id="delete-pick")
                        delete = gr.Button("Delete", variant="stop")
                        deleted = gr.Markdown("", elem_id="delete-status")
                with gr.Accordion("Correct a document's council, type, title or date", open=False,
                                  visible=manages_before_sign_in, elem_id="correct") as corrector:
                    fix_pick = gr.Dropdown(deletable(docs), label="Document", elem_id="correct-pick")
                    with gr.Row():
                        fix_council = gr.Textbox(label="Council (short id, e.g. trafford or kent-cc)",
                                                 elem_id="correct-council")
                        fix_type = gr.Dropdown([(t.replace("_", " "), t) for t in DOC_TYPES], label="Type",
                                               elem_id="correct-type")
                        fix_date = gr.Textbox(label="Date (YYYY, YYYY-MM or YYYY-MM-DD)", elem_id="correct-date")
                    fix_title = gr.Textbox(label="Title", elem_id="correct-title")
                    fix_save = gr.Button("Save the correction", variant="primary")
                    fixed = gr.Markdown("", elem_id="correct-status")
                ticker = gr.Timer(1.0, active=False)

            with gr.Tab("Evaluation", id="evaluation"):
                view, plots = evaluation_view(ANONYMOUS)
                with gr.Row(visible=manages_before_sign_in) as eval_controls:
                    gold = gr.File(label="Gold questions (JSONL, see docs/EVALUATION.md)", file_types=[".jsonl"],
                                   elem_id="gold-upload")
                    run_eval = gr.Button("Run evaluation", variant="primary")
                eval_status = gr.Markdown("", elem_id="eval-status")
                gallery = gr.Gallery(plots, label="Plots", columns=3, height="auto", elem_id="eval-plots", object_fit="contain",
                                     visible=bool(plots))
                report = gr.Markdown(view, elem_id="eval-report")

        # --- ask ---------------------------------------------------------------------------------
        scope_inputs = [document, council, kind, date_from, date_to]

        def filters_of(viewer: Viewer, documents, councils_, kinds_, frm, to) -> Filters:
            return Filters(councils=tuple(councils_ or ()), doc_types=tuple(kinds_ or ()),
                           documents=tuple(documents or ()), date_from=(frm or "").strip() or None,
                           date_to=(to or "").strip() or None, include_restricted=viewer.sees_restricted)

        def show_scope(documents, councils_, kinds_, frm, to, request: gr.Request) -> str:
            viewer = viewer_of(request)
            return scope_text(filters_of(viewer, documents, councils_, kinds_, frm, to), catalogue(viewer)[2])

        for control in scope_inputs:
            control.change(show_scope, scope_inputs, scope_line)

        def respond(message: str, history: list, past: list[Turn], documents, councils_, kinds_, frm, to,
                    request: gr.Request) -> Iterator[tuple]:
            filters = filters_of(viewer_of(request), documents, councils_, kinds_, frm, to)
            message = (message or "").strip()
            if not message:
                yield history, past, gr.skip(), gr.skip(), gr.skip(), ""
                return
            asked = [t.question for t in past]
            history = [*history, {"role": "user", "content": esc(message)},
                       {"role": "assistant", "content": "<p class='hint'>Searching the documents…</p>"}]
            yield history, past, gr.skip(), "", gr.skip(), ""
            passages: list[Passage] = []
            shown = ""
            try:
                for event in slots.stream(assistant.stream(message, filters=filters, history=asked)):
                    if event.kind == "status":
                        history[-1] = {"role": "assistant", "content": f"<p class='hint'>{esc(event.text)}…</p>"}
                        yield history, past, gr.skip(), gr.skip(), gr.skip(), ""
                    elif event.kind == "passages":
                        passages = list(event.passages)
                    elif event.kind == "delta":
                        shown += event.text
                        history[-1] = {"role": "assistant", "content": f"<p>{esc(shown)}</p>"}
                        yield history, past, gr.skip(), gr.skip(), gr.skip(), ""
                    elif event.kind == "final" and event.answer is not None:
                        marked = {d.doc_id: d.restricted for d in assistant.store.registry.documents() if d.restricted}
                        cited = {c.doc_id for c in event.answer.citations}
                        turn = Turn(len(past) + 1, message, event.answer, passages,
                                    {i: why for i, why in marked.items() if i in cited})
                        past = [*past, turn]
                        history[-1] = {"role": "assistant", "content": answer_html(turn)}
                        yield history, past, sources_html(past), status_line(event.answer), answer_markdown(turn), ""
            except ValueError as exc:  # a scope that matches no document
                history[-1] = {"role": "assistant", "content": f"<p class='refusal'>{esc(str(exc))}</p>"}
                yield history, past, gr.skip(), gr.skip(), gr.skip(), ""
            except LLMError as exc:  # the chat model's server failed: say so, keep what was shown
                # the reason names the model's endpoint: for whoever runs the server, not for every visitor
                print(f"clerk serve: the chat model failed: {exc}", file=sys.stderr, flush=True)
                said = f"<p>{esc(shown)}</p>" if shown else ""
                history[-1] = {"role": "assistant", "content": said + "<p class='refusal'>The chat model could not "
                               "finish this answer. Ask again in a moment; the server's log says why.</p>"}
                yield history, past, gr.skip(), gr.skip(), gr.skip(), ""

        inputs = [box, chat, turns, *scope_inputs]
        outputs = [chat, turns, sources, status, copy_md, box]
        # Both ways of asking share one pool of ask_workers answering slots (Gradio's default is one at a
        # time per event, which queues every visitor behind the one being answered).
        ask_slots = {"concurrency_limit": assistant.settings.ask_workers, "concurrency_id": "ask"}
        asked_by_enter = box.submit(respond, inputs, outputs, **ask_slots)
        asked_by_button = send.click(respond, inputs, outputs, **ask_slots)
        stop.click(None, cancels=[asked_by_enter, asked_by_button])

        def judged(past: list[Turn], note: str, data: gr.LikeData) -> tuple[str, str]:
            found = re.search(r"data-turn=['\"](\d+)", str(data.value))
            number = int(found.group(1)) if found else 0
            if not 1 <= number <= len(past):
                return "Feedback can be given on answers only.", note
            record_feedback(library.settings.feedback_path, past[number - 1], bool(data.liked), note or "")
            return "Thank you: your feedback was recorded.", ""

        chat.like(judged, [turns, comment], [thanks, comment])

        # --- documents -----------------------------------------------------------------------------
        def doc_choices(viewer: Viewer, **extra) -> tuple[dict, dict, dict]:
            """New choices for the scope, delete and correct pickers after the library changed (``extra``: the last two)."""
            now, _, now_titles = catalogue(viewer)
            return (gr.update(choices=[(t, i) for i, t in now_titles.items()]),
                    gr.update(choices=deletable(now), **extra), gr.update(choices=deletable(now), **extra))

        def added(files: list[str] | None, reason: str, request: gr.Request) -> tuple:
            viewer = viewer_of(request)
            if not files:
                return gr.skip(), gr.skip(), gr.skip()
            if not viewer.manages:
                return "Only officers may add documents.", gr.skip(), None
            try:
                restricted = (reason or "").strip() if viewer.sees_restricted else ""
                library.add([f if isinstance(f, str) else f.name for f in files], restricted or None)
            except RuntimeError as exc:
                return str(exc), gr.skip(), gr.skip()
            return library.progress_text(viewer.sees_restricted), gr.Timer(active=True), None

        def tick(query: str, request: gr.Request) -> tuple:
            viewer = viewer_of(request)
            done = not library.busy
            choices = doc_choices(viewer) if done else (gr.skip(), gr.skip(), gr.skip())
            # The progress names the files being added and the documents they duplicate, restricted ones
            # too: it is for those who may add documents (the page's timer runs only for them anyway).
            progress_ = library.progress_text(viewer.sees_restricted) if viewer.manages else ""
            return progress_, library.rows(query, viewer.sees_restricted), gr.Timer(active=not done), *choices

        def listing(query: str, request: gr.Request) -> list[list[object]]:
            return library.rows(query, viewer_of(request).sees_restricted)

        upload.upload(added, [upload, restrict], [progress, ticker, upload])
        ticker.tick(tick, [search], [progress, table, ticker, document, doomed, fix_pick])
        search.change(listing, [search], [table])
        refresh.click(listing, [search], [table])

        def remove(doc_id: str | None, query: str, request: gr.Request) -> tuple:
            viewer = viewer_of(request)
            if not viewer.manages:
                return "Only officers may delete documents.", gr.skip(), gr.skip(), gr.skip(), gr.skip()
            if not doc_id or doc_id not in {d.doc_id for d in library.documents(viewer.sees_restricted)}:
                return "Pick a document to delete.", gr.skip(), gr.skip(), gr.skip(), gr.skip()
            note = library.delete(doc_id)
            return note, library.rows(query, viewer.sees_restricted), *doc_choices(viewer, value=None)

        delete.click(remove, [doomed, search], [deleted, table, document, doomed, fix_pick])

        def correction_form(doc_id: str | None, request: gr.Request) -> tuple:
            """The picked document's current council, type, title and date, to correct."""
            viewer = viewer_of(request)
            rec = next((d for d in library.documents(viewer.sees_restricted) if d.doc_id == doc_id), None)
            if rec is None or not viewer.manages:
                return "", None, "", "", ""
            return rec.council or "", rec.doc_type, rec.title or "", rec.date or "", rec.meta_origin or ""

        def save_correction(doc_id: str | None, council_: str, kind_: str | None, title_: str, date_: str, query: str,
                            request: gr.Request) -> tuple:
            viewer = viewer_of(request)
            if not viewer.manages:
                return "Only officers may correct documents.", gr.skip(), gr.skip(), gr.skip(), gr.skip()
            rec = next((d for d in library.documents(viewer.sees_restricted) if d.doc_id == doc_id), None)
            if rec is None:
                return "Pick a document to correct.", gr.skip(), gr.skip(), gr.skip(), gr.skip()
            given = {"council": council_, "doc_type": kind_ or "", "title": title_, "date": date_}
            now = {"council": rec.council or "", "doc_type": rec.doc_type or "", "title": rec.title or "",
                   "date": rec.date or ""}
            changes = {k: (v or "").strip() for k, v in given.items() if (v or "").strip() != now[k]}
            note = library.correct(rec.doc_id, changes) if changes else "Nothing to change: edit a field first."
            return note, library.rows(query, viewer.sees_restricted), *doc_choices(viewer)

        fix_pick.change(correction_form, [fix_pick], [fix_council, fix_type, fix_title, fix_date, fixed])
        fix_save.click(save_correction, [fix_pick, fix_council, fix_type, fix_title, fix_date, search],
                       [fixed, table, document, doomed, fix_pick])

        # --- evaluation ----------------------------------------------------------------------------
        def evaluate_upload(file, request: gr.Request, progress=gr.Progress()) -> tuple:  # noqa: B008 (Gradio injects it)
            viewer = viewer_of(request)
            if not viewer.manages:
                return "Only officers may run evaluations.", gr.skip(), gr.skip()
            if file is None:
                return "Upload a gold JSONL file first.", gr.skip(), gr.skip()
            path = file if isinstance(file, str) else file.name
            try:
                out = run_gold(assistant, path, assistant.settings.eval_results,
                               lambda done, total, qid: progress((done, total), desc=qid),
                               Filters(include_restricted=viewer.sees_restricted))
            except GoldFormatError as exc:
                return "**The gold file was not scored:**\n\n" + "\n\n".join(
                    f"- {esc(line)}" for line in str(exc).splitlines()), gr.skip(), gr.skip()
            text, images = report_view(out)
            return summary_line(out), gr.update(value=images, visible=True), text

        run_eval.click(evaluate_upload, [gold], [eval_status, gallery, report])

        # --- the viewer's own page -------------------------------------------------------------------
        def personalise(request: gr.Request) -> tuple:
            """Fill the page in for the viewer: their documents, pickers, library rights and reports."""
            viewer = viewer_of(request)
            line = esc(viewer.label) + (" · [Sign out](/logout)" if viewer.signed_in else "")
            docs_, councils_, kinds_ = scope_choices(viewer)
            text, images = evaluation_view(viewer)
            visible_docs = catalogue(viewer)[0]
            return (
                line, gr.update(choices=docs_), gr.update(choices=councils_), gr.update(choices=kinds_),
                library.rows("", viewer.sees_restricted), gr.update(visible=viewer.manages),
                gr.update(visible=viewer.manages), gr.update(choices=deletable(visible_docs)),
                gr.update(visible=viewer.sees_restricted), gr.update(visible=viewer.manages),
                text, gr.update(value=images, visible=bool(images)),
                gr.update(visible=viewer.manages), gr.update(choices=deletable(visible_docs) if viewer.manages else []),
            )

        blocks.load(personalise, None, [account, document, council, kind, table, adder, remover, doomed, restrict,
                                        eval_controls, report, gallery, corrector, fix_pick])
    # The page's events are the page's, not an API: they take and give its components (chat HTML, source
    # cards), so none is listed for gradio_client or in Gradio's API page. Programs use /api/v1, /v1 or /mcp.
    for fn in blocks.fns.values():
        fn.api_visibility = "private"
    return blocks


def build_app(settings: Settings) -> FastAPI:
    """The FastAPI app: sign-in (when users are configured), the file route, the doors for other programs
    (``/api/v1``, the OpenAI-compatible ``/v1``, MCP at ``/mcp``) and the Gradio page at ``/``."""
    assistant = Assistant(settings)
    accounts = Accounts(settings.users_path)
    sessions = Sessions(settings.session_hours)
    slots = AnswerSlots(settings.ask_workers)
    mcp = build_mcp(assistant, slots, lambda headers: caller(accounts, (headers or {}).get("authorization"), None))
    mcp_endpoint = http_endpoint(mcp)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            yield

    app = FastAPI(title="clerk", lifespan=lifespan)

    def signed_in(request: Request) -> str | None:
        """The signed-in user of a request (None: not signed in, or sign-in is off)."""
        return sessions.user(request.cookies.get(SESSION_COOKIE)) if accounts.enabled else None

    if accounts.enabled:
        _add_sign_in(app, accounts, sessions, signed_in)
    _only_uploaded_files(app)

    @app.get("/files/{doc_id}")
    def original_file(doc_id: str, request: Request) -> FileResponse:
        """An indexed document's own file, if the viewer may see it; anything else is 404.

        No path is ever taken from the request, and a restricted document is
        answered exactly like a missing one, so its existence is not disclosed.
        """
        try:  # the page's session, or a tool's API key (a link from /v1, /api/v1 or MCP)
            viewer = caller(accounts, request.headers.get("authorization"), signed_in(request))
        except NotSignedIn as exc:
            raise HTTPException(401, str(exc)) from exc
        rec = assistant.store.registry.by_id(doc_id)
        if rec is None or rec.status not in ("indexed", "stale") or not visible(viewer, rec):
            raise HTTPException(404, "no such indexed document")
        path = Path(rec.path)
        if not path.is_file():
            raise HTTPException(404, "the document's file is no longer on disk")
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media, filename=path.name, content_disposition_type="inline")

    app.mount("/api/v1", build_api(assistant, accounts, signed_in, slots))
    app.mount("/v1", build_openai_api(assistant, accounts, signed_in, slots))
    app.router.routes.append(Route("/mcp", mcp_endpoint, methods=["GET", "POST", "DELETE"]))
    app.state.assistant, app.state.slots = assistant, slots
    blocks = build_blocks(assistant, Library(assistant), accounts, slots)
    return gr.mount_gradio_app(app, blocks, path="/", theme=THEME, css=CSS, head=PAGE_SCRIPT, footer_links=[],
                               auth_dependency=signed_in if accounts.enabled else None)


def _only_uploaded_files(app: FastAPI) -> None:
    """Refuse any call on Gradio's API that names a file this server was not sent through its upload route.

    An event's JSON names its files by their path on the server
    (``{"path": ..., "meta": {"_type": "gradio.FileData"}}``) and Gradio copies
    each into its cache before the handler runs. Gradio refuses paths outside
    its upload folder only in an app it launched itself, not in one mounted on
    FastAPI as this one is; without this check a chat history naming
    ``/srv/minutes/exempt-report.pdf`` (any visitor may send one) was copied
    and handed back as a download link, restricted or not, and an upload
    naming any readable file was added to the library.
    """
    uploads = Path(get_upload_folder()).resolve()

    @app.middleware("http")
    async def files_must_be_uploads(request: Request, call_next) -> Response:
        # Every JSON body, whatever its route or prefix (a proxy may add one); uploads are multipart.
        if request.method == "POST" and not request.headers.get("content-type", "").startswith("multipart/"):
            try:
                named = list(_named_paths(json.loads(await request.body() or b"null")))
            except ValueError:  # not JSON: Gradio refuses it itself
                named = []
            except RecursionError:  # nested deeper than any event's data
                named = [""]
            if not all(_inside(p, uploads) for p in named):
                return JSONResponse({"detail": "only files uploaded to this server may be named"}, status_code=400)
        return await call_next(request)


def _inside(path: str, folder: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(folder)
    except (OSError, ValueError):  # a NUL byte, a loop of links
        return False


def _named_paths(value: object) -> Iterator[str]:
    """Every ``path`` string of a JSON payload, however deep (a file of a chat message, a list of uploads)."""
    if isinstance(value, dict):
        if isinstance(value.get("path"), str):
            yield value["path"]
        for v in value.values():
            yield from _named_paths(v)
    elif isinstance(value, list):
        for v in value:
            yield from _named_paths(v)


def _add_sign_in(app: FastAPI, accounts: Accounts, sessions: Sessions, signed_in) -> None:
    """``/login`` and ``/logout``, and a redirect to sign in from the page itself.

    Gradio's own routes ask ``signed_in`` (its ``auth_dependency``) on every
    call, so its API, queue and uploads answer 401 without a session too.
    """

    @app.middleware("http")
    async def sign_in_first(request: Request, call_next) -> Response:
        if request.method == "GET" and request.url.path in ("/", "") and signed_in(request) is None:
            return RedirectResponse("/login", status_code=303)
        return await call_next(request)

    @app.get("/login")
    def login_form() -> HTMLResponse:
        return HTMLResponse(sign_in_page())

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("username") or "").strip(), str(form.get("password") or "")
        account = accounts.check(name, password)
        if account is None:
            return HTMLResponse(sign_in_page(error="That user name and password do not match."), status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, sessions.open(account.name), httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", max_age=int(sessions.seconds))
        return response

    @app.get("/logout")
    def logout(request: Request) -> Response:
        sessions.close(request.cookies.get(SESSION_COOKIE))
        response = HTMLResponse(sign_in_page(message="You have signed out."))
        response.delete_cookie(SESSION_COOKIE)
        return response


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the app; say it is ready once it is listening, then load the model while the page is read.

    The embedding model (torch, sentence-transformers and the weights) is most of
    the start-up time and no page needs it, so it loads on a thread after the
    server answers; a question asked before it is loaded waits for it.
    """
    import threading
    import time

    import uvicorn

    started = time.perf_counter()
    logging.getLogger("mcp").setLevel(logging.WARNING)  # not a line per MCP request or session
    app = build_app(settings)
    assistant: Assistant = app.state.assistant

    def warm_up() -> None:
        assistant.warm_up()
        print(f"clerk: model loaded and search warmed ({time.perf_counter() - started:.1f} s)", flush=True)

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:  # noqa: ANN001 (uvicorn's signature)
            await super().startup(sockets=sockets)
            if self.started:
                print(f"clerk is ready: http://{host}:{port}/", flush=True)
                print(f"  for other tools: http://{host}:{port}/api/v1 (JSON), /v1 (OpenAI-compatible chat), "
                      "/mcp (MCP)", flush=True)
                threading.Thread(target=warm_up, name="clerk-warm-up", daemon=True).start()

    Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).run()
