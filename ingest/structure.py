"""Recognise the structure of cleaned council documents: headings and sentences.

Council documents number everything ("13.4 Amendments to motions", "PART 4",
"Rule 14.2", "Recommendation 3"), so headings are recognised by their
numbering and shape rather than by fonts, which plain text no longer has. The
hierarchy is inferred from heading *styles* in order of first appearance (the
way an outline is read): a heading of a style already open closes it and
everything below it; a new style nests under the open ones. Numbered headings
use their depth as part of the style, so "13.4" nests under "13.".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "PART 4", "Part 4A", "SECTION B", "Chapter 3", "Appendix 2", "Schedule 1", "Annex A"
_DIVISION = re.compile(
    r"^(?P<kind>part|section|chapter|appendix|schedule|annex)\s+(?P<num>[0-9]{1,3}[A-Z]?|[A-Z]|[IVX]{1,6})\b"
    r"(?P<rest>.{0,100})$",
    re.IGNORECASE,
)
# "Rule 14.2 Notice", "Recommendation 3:", "Standing Order 12", "Article 5 - The Council"
_LABELLED = re.compile(
    r"^(?P<kind>rule|recommendation|standing order|article|regulation|paragraph|clause|item|minute)\s+"
    r"(?P<num>\d{1,3}(?:\.\d{1,3}){0,3}[a-z]?)\b(?P<rest>.{0,110})$",
    re.IGNORECASE,
)
# "13.", "13.4", "3.1.", "1.0" followed by a title
# "13.", "13.4", "3.1.", "1.0" followed by a title; "2705." is a minute number
_NUMBERED = re.compile(r"^(?P<num>\d{1,3}(?:\.\d{1,3}){0,3}|\d{4}(?=\.))\.?\s+(?P<rest>\S.{0,110})$")
# "- ", "• ", "(a)", "(iv)", "a) ", "ii. ", "b. ", "(A) ", "(12) ", "5vii) "
LIST_ITEM = re.compile(
    r"^(?:[-•▪●◦*–·o✓]\s|\([a-z]{1,3}\)|\([ivxlc]{1,6}\)|[a-z]{1,3}\)\s|[ivxlc]{1,6}[.)]\s|[a-z]\.\s|\(?[A-Z]\)\s"
    r"|\(?\d{1,3}[a-z]{0,5}\)\s)"
)
# A figure as a table cell shows it: "£1,425.00", "(4.2)", "-58.6", "12%", "£3.0m"; not "2024," (prose).
_NUMBER_TOKEN = re.compile(r"^[(£$€+-]*\d(?:[\d,.]*\d)?[%)mk]*$|^[(£$€]*-$")
_TERMINAL = re.compile(r"[.;,:!?]['\"”’)]*$")
_LETTERS = re.compile(r"[A-Za-z]")
# Words a title does not end on; a line ending on one is a wrapped sentence.
_FUNCTION_WORDS = frozenset(
    ["a", "an", "the", "of", "to", "in", "on", "for", "by", "with", "and", "or", "but", "under", "from", "at", "as", "that", "which", "who", "any", "is", "are", "be", "will", "may", "shall"]
)
# Constitutions flag some rules with a leading asterisk ("* 1. ANNUAL MEETING").
_MARKER = re.compile(r"^\*\s*(?=\d)")
# A table of contents is a heading nothing nests under.
CONTENTS = re.compile(r"^(?:table\s+of\s+)?contents?$|^index$|^cynnwys$", re.IGNORECASE)

MAX_HEADING_CHARS = 110
MAX_PLAIN_HEADING_WORDS = 10


@dataclass(frozen=True)
class Heading:
    """A recognised heading line: its display text and its outline style."""

    text: str
    style: tuple[str, int]


def is_table_row(line: str) -> bool:
    """Cells joined by " | ", or a label followed by figures ("Benches The Cot 1 £350.00 £350.00")."""
    if " | " in line:
        return True
    flags = [bool(_NUMBER_TOKEN.match(t)) for t in line.split()]
    numeric = sum(flags)
    return (numeric >= 3 and numeric >= 0.3 * len(flags)) or (len(flags) >= 3 and flags[-1] and flags[-2])


def is_all_caps(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 4 and all(c.isupper() for c in letters)


def is_heading_like(line: str) -> bool:
    """Numbered or labelled headings and short all-capitals lines, judged on the line alone.

    The cleaner uses this to keep such lines on their own; :func:`classify_heading`
    decides with the next line too.
    """
    return bool(_NUMBERED.match(line) or _DIVISION.match(line) or _LABELLED.match(line)) or (
        is_all_caps(line) and len(line.split()) <= 12
    )


def _title_ok(rest: str) -> bool:
    """The text after a heading number reads as a title, not as a sentence.

    A numbered line that ends like a sentence and is mostly lower case after its
    first word is a sentence or a list's lead-in ("55.9. Members appointed McCash
    and Co as internal auditors.", "2.2. The investment priorities are, in order:"),
    which must stay body text that can be quoted; a title ending in a stop
    ("4. Terms of Reference.", "12.0 Impact Assessment:") is still a title.
    """
    words = rest.split()
    if len(words) >= 3 and rest.rstrip()[-1:] in ".:;":
        lower = sum(w[:1].islower() for w in words[1:])
        if lower * 2 > len(words) - 1:
            return False
    rest = rest.strip(" .-–:")
    if not rest:
        return True
    words = rest.split()
    if _TERMINAL.search(rest) or len(words) > 14 or words[-1].lower() in _FUNCTION_WORDS:
        return False
    return rest[0].isupper() or rest[0].isdigit() or rest[0] in "(‘'\""


def classify_heading(line: str, next_line: str | None = None, previous_line: str | None = None) -> Heading | None:
    """Return a :class:`Heading` when ``line`` is a heading, else ``None``.

    ``next_line`` (the following non-empty line) disambiguates short
    unnumbered lines: a heading is followed by body text, not by more of the
    same sentence. ``previous_line`` tells a wrapped capitals line ("AGREES TO
    THE CORPORATE PEER" / "CHALLENGE PROGRESS REVIEW REPORT") from a new one.
    """
    line = _MARKER.sub("", line.strip())
    if not line or len(line) > MAX_HEADING_CHARS or not _LETTERS.search(line):
        return None
    if LIST_ITEM.match(line) or is_table_row(line):
        return None
    if next_line is not None and next_line[:1].islower():
        return None  # the line continues into the next: a wrapped sentence
    m = _DIVISION.match(line)
    if m and (not m.group("rest").strip() or _title_ok(m.group("rest"))):
        return Heading(line, ("division:" + m.group("kind").lower(), 0))
    m = _LABELLED.match(line)
    if m and _title_ok(m.group("rest")):
        depth = m.group("num").count(".") + 1
        return Heading(line, ("label:" + m.group("kind").lower(), depth))
    m = _NUMBERED.match(line)
    if m:
        if not _title_ok(m.group("rest")):
            return None
        num = m.group("num")
        depth = num.rstrip(".").count(".") + 1
        if depth == 2 and num.endswith(".0"):
            depth = 1  # "1.0 BACKGROUND" is a top-level heading
        return Heading(line, ("numbered", depth))
    words = line.split()
    if len(words) > MAX_PLAIN_HEADING_WORDS or _TERMINAL.search(line) or not line[0].isupper():
        return None
    if is_all_caps(line):
        wrapped = previous_line and is_all_caps(previous_line) and not _TERMINAL.search(previous_line)
        if wrapped and not _DIVISION.match(previous_line):  # "PART 4" / "RULES OF PROCEDURE" are two headings
            return None
        return Heading(line, ("caps", 0))
    if next_line is None or len(next_line) < len(line) or LIST_ITEM.match(next_line):
        return None
    if classify_heading(next_line) is not None:
        return None  # a label above a list of headings (a contents column), not a section
    return Heading(line, ("plain", 0))


class Outline:
    """The open headings at the current point of a document (its breadcrumb)."""

    def __init__(self) -> None:
        self._open: list[Heading] = []

    def enter(self, heading: Heading) -> None:
        """Open ``heading``: close same-or-deeper headings of its style family."""
        kind, depth = heading.style
        # A contents list nests nothing, and a plain (unnumbered, mixed-case) heading holds only
        # body text: both close at the next heading of any kind.
        self._open = [h for h in self._open if not CONTENTS.match(h.text) and h.style[0] != "plain"]
        for i, h in enumerate(self._open):
            h_kind, h_depth = h.style
            if h_kind == kind and h_depth >= depth:
                del self._open[i:]
                break
        self._open.append(heading)

    def breadcrumb(self, max_parts: int = 5) -> str:
        parts = [h.text for h in self._open][-max_parts:]
        return " > ".join(parts)


# --- sentences -----------------------------------------------------------------

_ABBREVIATIONS = frozenset(
    ["e.g", "i.e", "etc", "cllr", "cllrs", "no", "nos", "para", "paras", "vs", "cf", "mr", "mrs", "ms", "dr", "st", "approx", "incl", "ref", "fig", "p", "pp", "vol", "art", "reg", "sec", "s", "ch", "co", "ltd", "plc", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "govt", "dept", "est", "max", "min", "misc", "op", "cit", "viz", "al"]
)
# A candidate sentence end: terminal punctuation, optional closing quotes or brackets, then whitespace.
_END = re.compile(r"[.!?][\"'”’)\]]*\s+")
_NEXT_STARTS = re.compile(r"[\"'“‘(\[]?[A-Z0-9£•\-–]")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` (one line or paragraph) into sentence spans.

    Abbreviations ("Cllr.", "e.g."), initials ("J. Smith") and clause numbers
    ("3.1", "13.") do not end sentences. Spans exclude the trailing whitespace.
    """
    spans: list[tuple[int, int]] = []
    pos = start
    for m in _END.finditer(text, start, end):
        nxt = m.end()
        if nxt >= end or not _NEXT_STARTS.match(text, nxt):
            continue
        head = text[pos : m.start() + 1]
        wb = _WORD_BEFORE.search(head)
        if wb:
            word = wb.group(1).lower().rstrip(".")
            if word in _ABBREVIATIONS or (len(word) == 1 and text[m.start() - 1].isupper()):
                continue
        stripped = head.strip()
        if re.fullmatch(r"\(?[0-9ivxIVX.]{1,8}\)?[.]?", stripped):
            continue  # a bare clause number such as "13." at the start of a line
        spans.append((pos, m.start() + len(m.group(0).rstrip())))
        pos = nxt
    if pos < end:
        tail_end = end
        while tail_end > pos and text[tail_end - 1].isspace():
            tail_end -= 1
        if tail_end > pos:
            spans.append((pos, tail_end))
    return spans
