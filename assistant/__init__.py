"""Retrieval and cited answering over the index that :mod:`ingest` builds.

:class:`Assistant` is the one entry point: the CLI, the UI and the evals call it.
"""

from assistant.engine import Assistant, Retrieval
from assistant.types import Answer, Citation, Filters, Passage, StreamEvent

__all__ = ["Answer", "Assistant", "Citation", "Filters", "Passage", "Retrieval", "StreamEvent"]
