"""A Gradio chat over the index: streamed cited answers, with the quoted sources listed under each answer."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr

from assistant import Answer, Assistant
from clerk.settings import Settings


def format_answer(answer: Answer) -> str:
    """Answer text, then each citation with its page, section and the quoted words."""
    if answer.refused:
        return answer.answer
    parts = [answer.answer, ""]
    for c in answer.citations:
        where = f"p. {c.page}" + (f" · {c.section}" if c.section else "")
        parts.append(f"**[{c.n}] {c.title}** ({where})  \n`{c.source}`\n\n> {c.quote}\n")
    return "\n".join(parts)


def build_app(settings: Settings) -> gr.Blocks:
    assistant = Assistant(settings)

    def respond(message: str, history: list) -> Iterator[str]:
        asked = [m["content"] for m in history if isinstance(m, dict) and m.get("role") == "user"]
        shown = ""
        for event in assistant.stream(message, history=[a for a in asked if isinstance(a, str)]):
            if event.kind == "status":
                yield f"_{event.text}…_"
            elif event.kind == "delta":
                shown += event.text
                yield shown
            elif event.kind == "final" and event.answer is not None:
                yield format_answer(event.answer)

    return gr.ChatInterface(
        respond,
        title="clerk",
        description="Ask about the indexed council documents. Every answer cites the document, page and quoted words.",
        examples=["What did the peer team say about the council's reserves?", "What is the quorum of the Council?"],
    )


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    build_app(settings).launch(server_name=host, server_port=port, show_error=True)
