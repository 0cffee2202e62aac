"""HTML loading: the readable body text, without navigation, scripts or page chrome.

Council web pages wrap a little content in a lot of site furniture. Block
elements become line breaks so headings stay on their own lines for the
chunker, list items get a "- " bullet, and a table row becomes one " | " line.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

from clerk.settings import Settings
from ingest.types import Page

_DROP = ("script", "style", "noscript", "nav", "footer", "aside", "template", "svg", "iframe")
# Blocks separated by a blank line (paragraph-like) or by a single line break.
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PARAGRAPH_BLOCKS = _HEADINGS | {"p", "table", "ul", "ol", "dl", "blockquote", "section", "article", "main"}
_PARAGRAPH_BLOCKS |= {"pre", "figure", "address", "hr"}
_LINE_BLOCKS = frozenset({"div", "li", "tr", "dt", "dd", "caption", "figcaption", "tbody", "thead", "tfoot"})
_SPACES = re.compile(r"\s+")
_BLANK_RUNS = re.compile(r"\n{3,}")


def load_html(path: Path, settings: Settings) -> tuple[list[Page], list[str]]:
    """One page holding the visible text of the document body."""
    soup = BeautifulSoup(path.read_bytes(), "lxml")  # bytes: BeautifulSoup honours <meta charset>
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for tag in soup.find_all(["header", "form"]):
        if not _holds_content(tag):
            tag.decompose()
    root = soup.body or soup
    parts: list[str] = []
    _walk(root, parts)
    return [Page(number=1, text=_tidy("".join(parts)))], []


def _holds_content(tag: Tag) -> bool:
    """Whether a <header> or <form> carries the page's content rather than site chrome.

    An article's <header> holds its <h1>, and ASP.NET sites wrap the whole body in
    one <form>; dropping those would drop the document.
    """
    if tag.name == "header":
        return tag.find_parent(["main", "article"]) is not None
    return tag.find(["main", "article", "h1", "h2"]) is not None or len(tag.find_all("p", limit=3)) >= 3


def _walk(node: Tag, parts: list[str]) -> None:
    """Append the text of ``node``'s children to ``parts``, with newlines for block structure."""
    for child in node.children:
        if isinstance(child, NavigableString):
            if not isinstance(child, PreformattedString):  # comments, CDATA, doctype
                parts.append(_SPACES.sub(" ", str(child)))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name == "br":
            parts.append("\n")
        elif name == "tr":
            parts.append("\n" + _row_text(child) + "\n")
        elif name == "li":
            parts.append("\n- ")
            _walk(child, parts)
            parts.append("\n")
        elif name in _PARAGRAPH_BLOCKS:
            parts.append("\n\n")
            _walk(child, parts)
            parts.append("\n\n")
        elif name in _LINE_BLOCKS:
            parts.append("\n")
            _walk(child, parts)
            parts.append("\n")
        else:
            _walk(child, parts)


def _row_text(row: Tag) -> str:
    cells = (_SPACES.sub(" ", cell.get_text(" ")).strip() for cell in row.find_all(["td", "th"], recursive=False))
    return " | ".join(c for c in cells if c)


def _tidy(text: str) -> str:
    """Strip each line, drop bullets left without text, and keep at most one blank line between blocks."""
    lines = []
    for line in text.split("\n"):
        line = " ".join(line.split())
        if line == "-":
            continue
        lines.append(line)
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()
