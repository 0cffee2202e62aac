"""Plain text and Markdown loading.

Files saved on council PCs are often Windows-1252 rather than UTF-8, so the
decoder falls back instead of failing: a UTF-8 file with a few stray bytes
(a "£" pasted from an older file) keeps its UTF-8 and reads the stray bytes as
Windows-1252; UTF-16 is recognised by its byte order mark or, without one, by
the zero bytes of its ASCII characters. Every fallback is named in a warning. Markdown syntax is reduced to the text
a reader sees (heading markers, link targets, comments gone); emphasis markers
are left to :mod:`ingest.clean`, which strips them for every format.
"""

from __future__ import annotations

import codecs
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


_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_STRAY_BYTES = "clerk-stray-bytes-as-cp1252"


def _stray_bytes_as_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes that are not UTF-8 read as Windows-1252 (U+FFFD where it has none)."""
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("cp1252", errors="replace"), error.end


codecs.register_error(_STRAY_BYTES, _stray_bytes_as_cp1252)


def decode(data: bytes) -> tuple[str, list[str]]:
    """UTF-8 (with or without BOM, stray bytes tolerated), UTF-16, else Windows-1252, else Latin-1."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
        return text, ["text is UTF-16 with invalid characters; replaced by U+FFFD"] if "\ufffd" in text else []
    if (order := _utf16_without_bom(data)) is not None:
        return data.decode(order, errors="replace"), [f"text is UTF-16 without a byte order mark; read as {order}"]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    stray = len(data.decode("utf-8", errors="replace")) - len(data.decode("utf-8", errors="ignore"))
    if len(_UTF8_SEQUENCE.findall(data)) >= stray:  # UTF-8 with a few bytes from another encoding
        text = data.decode("utf-8-sig", errors=_STRAY_BYTES)
        return text, [f"text is UTF-8 with {stray} invalid byte sequence(s); read those as Windows-1252"]
    try:
        return data.decode("cp1252"), ["text is not UTF-8; read as Windows-1252"]
    except UnicodeDecodeError:
        return data.decode("latin-1"), ["text is not UTF-8; read as Latin-1"]


def _utf16_without_bom(data: bytes) -> str | None:
    """The byte order of UTF-16 text without a BOM, seen in the zero byte of every ASCII character; else None."""
    head = data[:4000]
    if len(head) < 8 or len(head) % 2:
        return None
    even, odd = head[0::2], head[1::2]
    zeros_even, zeros_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zeros_odd > 0.4 and zeros_even < 0.05:
        return "UTF-16-LE"
    if zeros_even > 0.4 and zeros_odd < 0.05:
        return "UTF-16-BE"
    return None


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
