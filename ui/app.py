"""A plain Gradio chat over the index: each question shows the passages that match it, with page and section."""

from __future__ import annotations

import gradio as gr

from assistant.retrieve import Hit, HybridRetriever
from clerk.settings import Settings


def format_hits(hits: list[Hit]) -> str:
    if not hits:
        return "Nothing in the indexed documents matches that question."
    parts = []
    for n, h in enumerate(hits, 1):
        pages = f"p. {h.page_start}" if h.page_start == h.page_end else f"pp. {h.page_start}-{h.page_end}"
        where = f" · {h.section}" if h.section else ""
        excerpt = h.text if len(h.text) < 700 else h.text[:700].rsplit(" ", 1)[0] + " …"
        quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in excerpt.splitlines())
        parts.append(f"**[{n}] {h.title}** ({h.council}, {pages}{where})  \n`{h.source}`\n\n{quoted}")
    return "\n\n".join(parts)


def build_app(settings: Settings) -> gr.Blocks:
    retriever = HybridRetriever(settings)

    def respond(message: str, history: list) -> str:
        return format_hits(retriever.retrieve(message, k=5))

    return gr.ChatInterface(
        respond,
        title="clerk",
        description="Ask about the indexed council documents. Each result names the document, page and section.",
        examples=["What did the peer team say about governance and finance?", "What is the quorum of the Council?"],
    )


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    build_app(settings).launch(server_name=host, server_port=port, show_error=True)
