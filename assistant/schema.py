"""JSON Schema of ``clerk ask --json`` output: the contract other tools parse.

Fields may be added; none listed here may be renamed or removed.
"""

from __future__ import annotations

CITATION_SCHEMA: dict = {
    "type": "object",
    "required": ["n", "source", "title", "council", "doc_type", "page", "section", "quote", "text", "score", "verified"],
    "properties": {
        "n": {"type": "integer", "minimum": 1},
        "source": {"type": "string", "minLength": 1},
        "title": {"type": "string"},
        "council": {"type": "string"},
        "doc_type": {"type": "string"},
        "page": {"type": "integer", "minimum": 1},
        "section": {"type": "string"},
        "quote": {"type": "string", "minLength": 1},
        "text": {"type": "string", "minLength": 1},
        "score": {"type": "number"},
        "verified": {"type": "boolean"},
    },
}

ANSWER_SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "clerk answer",
    "type": "object",
    "required": ["id", "question", "answer", "refused", "citations", "backend", "timings_ms"],
    "properties": {
        "id": {"type": ["string", "integer", "null"]},
        "question": {"type": "string"},
        "answer": {"type": "string"},
        "refused": {"type": "boolean"},
        "citations": {"type": "array", "items": CITATION_SCHEMA},
        "backend": {"type": "string"},
        "timings_ms": {"type": "object", "additionalProperties": {"type": "number"}},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "query": {"type": "string"},
        "searched": {"type": "array", "items": {"type": "string"}},
        "unsupported": {"type": "array", "items": {"type": "string"}},
    },
}
