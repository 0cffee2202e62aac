"""An OpenAI-compatible chat server on 127.0.0.1 whose replies each test chooses.

It is tests/llm_server.py's server (same routes, JSON replies, chunked server-sent
events ending ``data: [DONE]``, error envelope) with a scripted model in place of
SmolLM2. A test queues the replies the next requests get and reads back the
requests that arrived, so the generative answer path runs over a real socket and
the real wire format with replies no small model writes on demand: a sentence the
passages support, an invented figure, a citation number that names no passage, a
failure. A request that finds no reply queued fails with HTTP 500, so an
unexpected call to the model never passes unseen.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from assistant.llm import Messages
from tests.llm_server import ChatServer, HTTPFailure, Request

#: The model name the server answers to; the answerer's backend is then ``openai:scripted``.
MODEL_ID = "scripted"
#: How long a held reply waits for the test before sending the rest anyway.
HOLD_S = 10.0


@dataclass(frozen=True)
class Reply:
    """One scripted reply, streamed ``piece`` characters per event (so markers like ``[1]`` arrive split).

    ``hold_at``: after that many characters the stream waits until the test calls
    :meth:`ScriptedLLM.release` (at most :data:`HOLD_S`), so a test can see what
    reached the reader before the rest was written. ``error`` is raised after the
    text: with no text it is an HTTP error, after some text an in-band error event.
    """

    text: str = ""
    piece: int = 4
    hold_at: int | None = None
    error: HTTPFailure | None = None


class ScriptedChat:
    """A :class:`~assistant.llm.ChatModel` answering each request with the next queued reply."""

    name = "scripted"

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.released = threading.Event()
        #: Set when a hold ran out before the test released it.
        self.hold_expired = False

    def _next(self) -> Reply:
        try:
            return self.replies.popleft()
        except IndexError:
            raise HTTPFailure(500, "no scripted reply is queued for this request") from None

    def complete(self, messages: Messages, *, max_tokens: int, temperature: float) -> str:
        reply = self._next()
        if reply.error is not None:
            raise reply.error
        return reply.text

    def stream(self, messages: Messages, *, max_tokens: int, temperature: float) -> Iterator[str]:
        reply = self._next()
        hold = len(reply.text) if reply.hold_at is None else reply.hold_at
        yield from _pieces(reply.text[:hold], reply.piece)
        if reply.hold_at is not None:
            self.hold_expired = not self.released.wait(HOLD_S)
        yield from _pieces(reply.text[hold:], reply.piece)
        if reply.error is not None:
            raise reply.error


def _pieces(text: str, size: int) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


class ScriptedLLM:
    """The running server as a test sees it: where it is, what to answer, what it was asked."""

    def __init__(self, server: ChatServer, chat: ScriptedChat) -> None:
        self.server = server
        self.chat = chat
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}/v1"

    def script(self, *replies: str | Reply | HTTPFailure) -> None:
        """Queue the replies of the next requests, in order (a bare string is a reply's text)."""
        for r in replies:
            self.chat.replies.append(
                r if isinstance(r, Reply) else Reply(error=r) if isinstance(r, HTTPFailure) else Reply(r)
            )

    def reset(self) -> None:
        """Forget queued replies, received requests and any hold, so each test starts clean."""
        self.chat.replies.clear()
        self.server.requests.clear()
        self.chat.released.clear()
        self.chat.hold_expired = False

    def release(self) -> None:
        """Let a held reply send the rest of its text."""
        self.chat.released.set()

    @property
    def requests(self) -> list[Request]:
        """Every request received since the last :meth:`reset`, in order."""
        return list(self.server.requests)

    @property
    def pending(self) -> int:
        """Queued replies no request has taken yet."""
        return len(self.chat.replies)


@contextmanager
def scripted_llm() -> Iterator[ScriptedLLM]:
    """The server on a free port of 127.0.0.1, served by a thread until the block ends."""
    chat = ScriptedChat()
    server = ChatServer(0, chat, MODEL_ID)
    thread = threading.Thread(target=server.serve_forever, name="scripted-llm", daemon=True)
    thread.start()
    try:
        yield ScriptedLLM(server, chat)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
