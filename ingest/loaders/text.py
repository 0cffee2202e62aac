"""Plain text and Markdown loading.

Files saved on council PCs are often Windows-1252 rather than UTF-8, so the
decoder falls back instead of failing. Markdown syntax is reduced to the text
a reader sees (heading markers, link targets, comments gone); emphasis markers
are left to :mod:`ingest.clean`, which strips them for every format.
"""

from __future__ import annotations

import re
from pathlib import Path

from clerk.settings import Settings
from ingest.types import Page

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_EMPTY_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]*$", re.MULTILINE)
_RULE_OR_UNDERLINE = re.compile(r"^ {0,3}(?:={3,}|-{3,}|\*{3,}|_{3,})[ \t]*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)")
_REF_LINK = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
_REF_DEFINITION = re.compile(r"^ {0,3}\[[^\]\n]+\]:[ \t]+\S.*$", re.MULTILINE)
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_BULLET = re.compile(r"^([ \t]*)[*+][ \t]+", re.MULTILINE)
_BLOCKQUOTE = re.compile(r"^[ \t]*>[ \t]?", re.MULTILINE)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"^[ \t]*(?:```|~~~).*$", re.MULTILINE)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])")


def load_text(path: Path, settings: Settings) -> tuple[list[Page], list[str]]:
    """One page of text; Markdown (``.md``) is reduced to its readable text."""
    text, warnings = decode(path.read_bytes())
    if path.suffix.lower() == ".md":
        text = markdown_to_text(text)
    return [Page(number=1, text=text)], warnings


def decode(data: bytes) -> tuple[str, list[str]]:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252, else Latin-1."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), []
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), ["text is not UTF-8; read as Windows-1252"]
    except UnicodeDecodeError:
        return data.decode("latin-1"), ["text is not UTF-8; read as Latin-1"]


def markdown_to_text(text: str) -> str:
    """The text a reader of rendered Markdown sees, one heading per line."""
    text = _COMMENT.sub("", text)
    text = _FENCE.sub("", text)
    text = _REF_DEFINITION.sub("", text)
    text = _RULE_OR_UNDERLINE.sub("", text)
    text = _EMPTY_HEADING.sub("", text)
    text = _ATX_HEADING.sub(r"\1", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _BULLET.sub(r"\1- ", text)
    text = _BLOCKQUOTE.sub("", text)
    text = _CODE_SPAN.sub(r"\1", text)
    return _ESCAPE.sub(r"\1", text)
