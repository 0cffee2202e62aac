"""The Gradio app: chat on the left, sources on the right, scope controls, and the app's own file route.

The page calls :class:`assistant.Assistant` only; HTML comes from
:mod:`ui.render`. Original files are served by ``/files/<doc_id>``, which
serves indexed documents and nothing else, so a citation opens the page it
came from.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

from assistant import Assistant
from assistant.types import Filters, Passage
from clerk.settings import Settings
from ingest.registry import DocumentRecord
from ui.render import (
    CSS,
    PAGE_SCRIPT,
    Turn,
    answer_html,
    answer_markdown,
    esc,
    scope_text,
    sources_html,
    status_line,
)

#: A starter question for each kind of document; the first documents of distinct councils fill them in.
STARTERS = {
    "peer_review": "What did the LGA peer team recommend to {council}?",
    "standing_orders": "What is the quorum for meetings under {title}?",
    "budget": "What are the main pressures in {title}?",
    "policy": "What does {title} say about reserves?",
    "minutes": "What was decided at the meeting recorded in {title}?",
    "code_of_conduct": "What must a member declare under {title}?",
}
MAX_STARTERS = 4


def starter_questions(docs: list[DocumentRecord], council_names: dict[str, str]) -> list[str]:
    """A few questions drawn from the indexed documents: one per council, varied document types."""
    out: list[str] = []
    councils: set[str] = set()
    for kind, template in STARTERS.items():
        for d in docs:
            if d.doc_type == kind and d.council not in councils and d.title:
                out.append(template.format(title=d.title, council=council_names.get(d.council or "", d.title)))
                councils.add(d.council or "")
                break
        if len(out) >= MAX_STARTERS:
            break
    return out


def council_names(docs: list[DocumentRecord]) -> dict[str, str]:
    """Council id -> the name its documents' titles use ("nwldc" -> "North West Leicestershire District Council")."""
    import re

    names: dict[str, str] = {}
    for d in docs:
        m = re.search(r"((?:[A-Z][\w'-]+ )+(?:District|County|City|Borough|Parish|Community|Town)? ?Council)\b",
                      d.title or "")
        if d.council and m and d.council not in names and len(m.group(1).split()) >= 2:
            names[d.council] = m.group(1)
    return names


def build_blocks(assistant: Assistant) -> gr.Blocks:
    docs = sorted(assistant.retriever.documents(), key=lambda d: (d.council or "", d.title or d.source))
    names = council_names(docs)
    titles = {d.doc_id: d.title or d.source for d in docs}
    councils = sorted({d.council for d in docs if d.council})
    kinds = sorted({d.doc_type for d in docs if d.doc_type})

    with gr.Blocks(title="clerk: council documents, cited") as blocks:
        turns = gr.State([])
        with gr.Row(elem_id="clerk-header"):
            gr.HTML("<h1>clerk</h1><p>Ask about the council's documents. Every answer shows the document, page "
                    "and quoted words it rests on; click a number to see the source.</p>")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                scope_line = gr.Markdown(scope_text(Filters(), titles), elem_id="scope-line")
                chat = gr.Chatbot(label="Conversation", height="62vh", elem_id="chat", buttons=["copy"],
                                  placeholder="Ask a question about the indexed documents.")
                with gr.Row():
                    box = gr.Textbox(label="Your question", placeholder="Type a question and press Enter",
                                     scale=5, autofocus=True, elem_id="question")
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=80)
                    stop = gr.Button("Stop", scale=1, min_width=80)
                status = gr.Markdown("", elem_id="status")
                starters = starter_questions(docs, names)
                if starters:
                    gr.Examples(starters, inputs=[box], label="Try asking")
            with gr.Column(scale=2, min_width=300):
                with gr.Accordion("Scope: which documents to search", open=False):
                    document = gr.Dropdown([(titles[d.doc_id], d.doc_id) for d in docs], label="Ask one document",
                                           multiselect=True, elem_id="scope-document")
                    council = gr.Dropdown([(names.get(c, c), c) for c in councils], label="Councils",
                                          multiselect=True, elem_id="scope-council")
                    kind = gr.Dropdown([(k.replace("_", " "), k) for k in kinds], label="Document types",
                                       multiselect=True, elem_id="scope-type")
                    with gr.Row():
                        date_from = gr.Textbox(label="Dated from", placeholder="YYYY or YYYY-MM")
                        date_to = gr.Textbox(label="Dated to", placeholder="YYYY or YYYY-MM")
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_html([]), elem_id="sources")
                copy_md = gr.Textbox(label="Last answer as Markdown (with references)", lines=4, buttons=["copy"],
                                     interactive=False, elem_id="answer-markdown")

        scope_inputs = [document, council, kind, date_from, date_to]

        def filters_of(documents, councils_, kinds_, frm, to) -> Filters:
            return Filters(councils=tuple(councils_ or ()), doc_types=tuple(kinds_ or ()),
                           documents=tuple(documents or ()), date_from=(frm or "").strip() or None,
                           date_to=(to or "").strip() or None)

        def show_scope(*values) -> str:
            return scope_text(filters_of(*values), titles)

        for control in scope_inputs:
            control.change(show_scope, scope_inputs, scope_line)

        def respond(message: str, history: list, past: list[Turn], *scope) -> Iterator[tuple]:
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
                for event in assistant.stream(message, filters=filters_of(*scope), history=asked):
                    if event.kind == "passages":
                        passages = list(event.passages)
                    elif event.kind == "delta":
                        shown += event.text
                        history[-1] = {"role": "assistant", "content": f"<p>{esc(shown)}</p>"}
                        yield history, past, gr.skip(), gr.skip(), gr.skip(), ""
                    elif event.kind == "final" and event.answer is not None:
                        turn = Turn(len(past) + 1, message, event.answer, passages)
                        past = [*past, turn]
                        history[-1] = {"role": "assistant", "content": answer_html(turn)}
                        yield history, past, sources_html(past), status_line(event.answer), answer_markdown(turn), ""
            except ValueError as exc:  # a scope that matches no document
                history[-1] = {"role": "assistant", "content": f"<p class='refusal'>{esc(str(exc))}</p>"}
                yield history, past, gr.skip(), gr.skip(), gr.skip(), ""

        inputs = [box, chat, turns, *scope_inputs]
        outputs = [chat, turns, sources, status, copy_md, box]
        asked_by_enter = box.submit(respond, inputs, outputs)
        asked_by_button = send.click(respond, inputs, outputs)
        stop.click(None, cancels=[asked_by_enter, asked_by_button])
    return blocks


def build_app(settings: Settings) -> FastAPI:
    """The FastAPI app: the file route, with the Gradio page mounted at ``/``."""
    assistant = Assistant(settings)
    app = FastAPI(title="clerk")

    @app.get("/files/{doc_id}")
    def original_file(doc_id: str) -> FileResponse:
        """An indexed document's own file; anything else is 404 (no paths are taken from the request)."""
        rec = assistant.store.registry.by_id(doc_id)
        if rec is None or rec.status not in ("indexed", "stale"):
            raise HTTPException(404, "no such indexed document")
        path = Path(rec.path)
        if not path.is_file():
            raise HTTPException(404, "the document's file is no longer on disk")
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media, filename=path.name, content_disposition_type="inline")

    blocks = build_blocks(assistant)
    return gr.mount_gradio_app(app, blocks, path="/", theme=gr.themes.Default(primary_hue="blue", neutral_hue="slate"),
                               css=CSS, head=PAGE_SCRIPT)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    import uvicorn

    app = build_app(settings)
    print(f"clerk is ready: http://{host}:{port}/", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
