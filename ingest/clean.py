"""Clean raw page text into the reference text that chunks and citations quote.

Quotes shown to users must be verbatim substrings of this text, so cleaning
aims at text that reads naturally rather than text that is merely searchable:
characters are normalised (ligatures, odd whitespace), page furniture is
removed (running headers and footers, page numbers, repeated letterhead),
words broken at line ends are rejoined, and hard-wrapped paragraphs become one
line each. Headings, list items and table rows always keep their own lines,
because the chunker splits on them.

:func:`clean_pages` is pure: same page numbers, same number of pages.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass

from ingest.structure import LIST_ITEM, is_all_caps, is_heading_like, is_table_row
from ingest.types import Page

# --- step 1: characters ---------------------------------------------------------------

# macOS Quartz PDFs put "\t\n \xa0" (or "\t\r \xa0") between every word of a line.
_SPACED_WORD_BREAK = re.compile(r"\t *(?:\r\n?|\n)[ \xa0]*\xa0[ \xa0]*")


def _char_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {c: None for c in [*range(0x20), *range(0x7F, 0xA0)]}  # control characters
    table.update({ord("\n"): "\n", ord("\t"): " ", 0x0B: "\n", 0x0C: "\n", ord("\r"): "\n", 0x85: "\n"})
    table.update({0x2028: "\n", 0x2029: "\n", 0xA0: " ", 0x202F: " ", 0x2007: " "})
    invisible = [0xAD, 0x061C, 0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2070), 0xFEFF]
    table.update({c: None for c in invisible})
    # Word's Symbol/Wingdings bullets land in the private use area; make them real bullets.
    table.update({0xF0B7: "•", 0xF0A7: "▪", 0xF076: "•", 0xF0D8: "•", 0xF0FC: "✓", 0xF020: " "})
    return table


_CHARS = _char_table()
_DEL_BULLET = re.compile(r"^\x7f[ \t]*", re.MULTILINE)  # a Symbol-font bullet pypdf reads as DEL
_MULTI_SPACE = re.compile(r" {2,}")
_DOT_LEADER = re.compile(r"\.(?: ?\.){3,}")
# Markdown emphasis, only where it wraps words: "*" after a word (footnote mark) or between
# spaces (multiplication, bullet) never opens or closes emphasis.
_EMPH_START = r"(?=[\w\"'‘“(£$€])"
_EMPH_END = r"(?<=[\w.!?\"'’”)%])"
_BOLD = re.compile(r"(?<![\w*])\*\*" + _EMPH_START + r"([^\n]*?)" + _EMPH_END + r"\*\*(?![\w*])")
_BOLD_U = re.compile(r"(?<![\w_])__" + _EMPH_START + r"([^\n]*?)" + _EMPH_END + r"__(?![\w_])")
_ITALIC = re.compile(r"(?<![\w*])\*" + _EMPH_START + r"([^*\n]*?)" + _EMPH_END + r"\*(?![\w*])")
_ITALIC_U = re.compile(r"(?<![\w_])_" + _EMPH_START + r"([^_\n]*?)" + _EMPH_END + r"_(?![\w_])")
# Apple Pages PDFs whose "ti" ligature extracts as "[" ("Regula[ons", "[me").
_BROKEN_TI_INWORD = re.compile(r"(?<=[A-Za-z])\[(?=[a-z])(?![a-z]*\])")
_BROKEN_TI_EDGE = re.compile(r"(?<=[a-z])\[(?![\w\]])|(?<![\w\[])\[(?=[a-z]+\b)(?![a-z]*\])")

# --- steps 2-4: lines -------------------------------------------------------------------

_REMOVED = "\x00"  # marks a removed line; control characters are gone by then, so it cannot be text
_DIGIT_RUN = re.compile(r"\d+")
_DASHES = str.maketrans({"–": "-", "—": "-", "‐": "-", "‑": "-"})
_PAGE_LABEL = re.compile(
    r"^(?:page\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?|\d{1,4}\s*\|\s*page|page\s*\|\s*\d{1,4})$", re.IGNORECASE
)
_BARE_NUMBER = re.compile(r"^[-–—(\[]?\s*(\d{1,4})\s*[-–—)\]]?$")
_TRAILING_NUMBER = re.compile(r"\s+\d{1,4}$")
_TERMINAL = re.compile(r"[.?!:][\"'”’)\]]*$")
_WORD = re.compile(r"[a-z]+")
_COMPOUND = re.compile(r"[a-z]+-[a-z]+")
# Two letter runs with one space between: a candidate word pypdf split ("m ust", "Exe cutive").
_SPLIT_PAIR = re.compile(r"(?<![\w'’-])([A-Za-z]{1,12}) (?=([A-Za-z]{1,15})(?![\w'’-]))")
_LAST_WORD = re.compile(r"([A-Za-z]+)-$")
_FIRST_WORD = re.compile(r"^([a-z]+)")
_BLANK_RUNS = re.compile(r"\n{3,}")

#: Words a wrapped line ends on but a finished line does not: the sentence goes on below.
_CONTINUES = frozenset(
    {
        *("a", "an", "the", "of", "to", "in", "on", "for", "by", "with", "and", "or", "but", "nor", "under", "from"),
        *("at", "as", "that", "which", "who", "whom", "whose", "any", "is", "are", "be", "been", "being", "will"),
        *("would", "may", "shall", "should", "must", "can", "could", "has", "have", "had", "was", "were", "its"),
        *("their", "his", "her", "our", "your", "this", "these", "those", "such", "per", "via", "into", "onto"),
        *("within", "without", "between", "than", "upon", "including", "regarding", "towards", "against", "about"),
        *("after", "before", "during", "if", "whether", "where", "when", "while"),
        *("mr", "mrs", "ms", "miss", "dr", "cllr", "councillor", "sir"),
    }
)

MIN_RUNNING_PAGES = 3
SPLIT_WORD_SHARE = 0.6
MIN_BOILERPLATE_CHARS = 25
MIN_WRAP_WIDTH, MAX_WRAP_WIDTH = 50, 130
FULL_LINE_SHARE = 0.8
MAX_TITLE_CHARS = 100  # a longer numbered line is a numbered paragraph, not a heading


def clean_pages(pages: list[Page]) -> list[Page]:
    """Cleaned copies of ``pages``: same numbers, same order; a page may end up empty."""
    texts = [_normalise(p.text) for p in pages]
    texts = _repair_broken_ti(texts)
    page_lines = [_join_split_words(t.split("\n")) for t in texts]
    if len(pages) >= MIN_RUNNING_PAGES:
        _remove_running_lines(page_lines)
    if len(pages) >= 2:
        _remove_page_numbers(page_lines, [p.number for p in pages])
    if len(pages) == 1:
        _remove_repeated_letterhead(page_lines[0])
    vocab = _Vocabulary.of(page_lines)
    for lines in page_lines:
        lines[:] = [_rejoin_split_words(ln, vocab.words) for ln in lines]
    return [Page(p.number, _finish(lines, vocab), p.ocr) for p, lines in zip(pages, page_lines, strict=True)]


# --- step 1 -----------------------------------------------------------------------------


def _normalise(text: str) -> str:
    """NFKC, one kind of space and line break, no control characters, no markdown emphasis."""
    text = _SPACED_WORD_BREAK.sub(" ", text).replace("\r\n", "\n")
    text = _DEL_BULLET.sub("• ", text)
    text = unicodedata.normalize("NFKC", text).translate(_CHARS)
    text = _DOT_LEADER.sub("...", text)
    for pattern in (_BOLD, _BOLD_U, _ITALIC, _ITALIC_U):
        text = pattern.sub(r"\1", text)
    return "\n".join(_MULTI_SPACE.sub(" ", line).strip() for line in text.split("\n"))


def _repair_broken_ti(texts: list[str]) -> list[str]:
    """Restore "ti" where a font maps that ligature to "[", once the document shows the pattern mid-word."""
    if not any(_BROKEN_TI_INWORD.search(t) for t in texts):
        return texts
    for _ in range(2):  # twice: "Prac[[oners" is two ligatures in a row
        texts = [_BROKEN_TI_EDGE.sub("ti", _BROKEN_TI_INWORD.sub("ti", t)) for t in texts]
    return texts


def _join_split_words(lines: list[str]) -> list[str]:
    """Join runs of one-word lines when most of a page is one word per line (a layout artefact)."""
    filled = [ln for ln in lines if ln]
    if len(filled) < 8 or sum(" " not in ln for ln in filled) < SPLIT_WORD_SHARE * len(filled):
        return lines
    out: list[str] = []
    run: list[str] = []
    for line in [*lines, ""]:
        if line and " " not in line:
            run.append(line)
            continue
        out.extend([" ".join(run)] if len(run) >= 3 else run)
        run = []
        out.append(line)
    return out[:-1]


# --- step 2: page furniture ---------------------------------------------------------------


def _edge_indices(lines: list[str], depth: int = 3) -> list[int]:
    """Indices of the first and last ``depth`` non-empty lines of a page."""
    filled = [i for i, ln in enumerate(lines) if ln and ln != _REMOVED]
    return sorted(set(filled[:depth] + filled[-depth:]))


def _running_key(line: str) -> str:
    return _MULTI_SPACE.sub(" ", _DIGIT_RUN.sub("#", line.lower().translate(_DASHES)))


def _remove_running_lines(page_lines: list[list[str]]) -> None:
    """Drop running headers/footers: a line at the top or bottom of at least half the pages.

    Digits are masked so "Part 4 Page 12" matches "Part 4 Page 13", but a line whose
    numbers vary in more than one place (a "Total 12.3 45.6" table row) is content.
    A line naming a page number needs only three pages (constitutions change footer
    wording part-way through). Matching ignores case, but a spelling seen on one page
    only (the cover title in capitals) stays. A line without a changing number (a
    title, a repeated table heading, "TOTAL £m 345.0") is kept where it first appears,
    so what it says is not lost; later copies go.
    """
    pages_with: dict[str, set[int]] = defaultdict(set)
    numbers: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    form_pages: dict[str, set[int]] = defaultdict(set)
    for page_index, lines in enumerate(page_lines):
        for i in _edge_indices(lines):
            key = _running_key(lines[i])
            if sum(c.isalpha() for c in key) >= 3 and len(key) <= 200:
                pages_with[key].add(page_index)
                numbers[key].add(tuple(_DIGIT_RUN.findall(lines[i])))
                form_pages[_DIGIT_RUN.sub("#", lines[i])].add(page_index)
    half = max(MIN_RUNNING_PAGES, math.ceil(0.5 * len(page_lines)))
    running = {
        key: _varying_positions(numbers[key])
        for key, found in pages_with.items()
        if len(found) >= half or ("page #" in key and len(found) >= MIN_RUNNING_PAGES)
    }
    seen: set[str] = set()
    for lines in page_lines:
        for i in _edge_indices(lines):
            key = _running_key(lines[i])
            varying = running.get(key, 2)
            # A title in capitals on the cover ("TINTERN COMMUNITY COUNCIL") is not its running header.
            if varying > 1 or len(form_pages[_DIGIT_RUN.sub("#", lines[i])]) < 2:
                continue
            if varying == 0 and key not in seen:
                seen.add(key)  # a constant line says something once: a title, a table's column headings
                continue
            lines[i] = _REMOVED


def _varying_positions(values: set[tuple[str, ...]]) -> int:
    columns = zip(*values, strict=True) if values else []
    return sum(len(set(col)) > 1 for col in columns)


def _remove_page_numbers(page_lines: list[list[str]], numbers: list[int]) -> None:
    """Drop "Page 3 of 71"-style lines at page edges, and bare numbers that count pages.

    A bare "12" at the foot of a page is a page number only if such numbers keep a
    steady offset from the page index across pages (a bundle restarts its numbering,
    so several offsets may hold); otherwise it is a table value.
    """
    bare: list[tuple[int, int, int]] = []
    for page_index, lines in enumerate(page_lines):
        for i in _edge_indices(lines):
            if _PAGE_LABEL.match(lines[i]):
                lines[i] = _REMOVED
            elif m := _BARE_NUMBER.match(lines[i]):
                bare.append((page_index, i, int(m.group(1)) - numbers[page_index]))
    offsets = Counter(offset for _, _, offset in bare)
    needed = max(2, math.ceil(0.1 * len(page_lines)))
    for page_index, i, offset in bare:
        if offsets[offset] >= needed:
            page_lines[page_index][i] = _REMOVED


def _is_page_number(line: str) -> bool:
    return bool(_BARE_NUMBER.match(line) or _PAGE_LABEL.match(line))


def _remove_repeated_letterhead(lines: list[str]) -> None:
    """Drop letterhead/footer lines repeated through a one-page text, with the page numbers beside them.

    Text exported from a paged original (the LGA reports) keeps its footers inline:
    "...contracts are / 4 / Chair: Councillor ... / more robust." A candidate must
    recur at least three times and sit at a page break at least once, which a
    repeated heading followed by its section does not.
    """
    keys = [_TRAILING_NUMBER.sub("", ln) if ln else "" for ln in lines]
    counts = Counter(k for k in keys if k)
    candidates = {k for k, n in counts.items() if n >= 3 and _letterhead_like(k)}
    confirmed = {k for k in candidates if any(_at_page_break(lines, i) for i, key in enumerate(keys) if key == k)}
    for i, key in enumerate(keys):
        if key in confirmed:
            for j in (_neighbour(lines, i, -1), _neighbour(lines, i, 1)):
                if j is not None and _is_page_number(lines[j]):
                    lines[j] = _REMOVED
            lines[i] = _REMOVED


def _letterhead_like(line: str) -> bool:
    return (
        len(line) >= MIN_BOILERPLATE_CHARS
        and not _TERMINAL.search(line)
        and not is_table_row(line)
        and not LIST_ITEM.match(line)
        and not is_heading_like(line)
    )


def _neighbour(lines: list[str], i: int, step: int) -> int | None:
    """Index of the nearest non-empty, not removed line before (-1) or after (+1) ``i``."""
    j = i + step
    while 0 <= j < len(lines):
        if lines[j] and lines[j] != _REMOVED:
            return j
        j += step
    return None


def _at_page_break(lines: list[str], i: int) -> bool:
    before, after = _neighbour(lines, i, -1), _neighbour(lines, i, 1)
    if after is None or _TRAILING_NUMBER.search(lines[i]):
        return True
    if any(j is not None and _is_page_number(lines[j]) for j in (before, after)):
        return True
    return before is not None and not _TERMINAL.search(lines[before]) and lines[after][:1].islower()


# --- steps 3-6: rejoining ---------------------------------------------------------------


@dataclass(frozen=True)
class _Vocabulary:
    """How often each lower-case word occurs in the document, and its hyphenated compounds.

    There is no dictionary at hand, so the document itself is the judge of what
    a word is when a line break or a stray space has cut one.
    """

    words: Counter[str]
    compounds: set[str]

    @classmethod
    def of(cls, page_lines: list[list[str]]) -> _Vocabulary:
        text = "\n".join(ln for lines in page_lines for ln in lines).lower()
        return cls(Counter(_WORD.findall(text)), set(_COMPOUND.findall(text)))


def _rejoin_split_words(line: str, words: Counter[str]) -> str:
    """Remove spaces pypdf puts inside words ("m ust", "Exe cutive", "BEFO RE").

    Two pieces are one word when the joined word occurs at least three times in the
    document and at least twice as often as either piece on its own, which real
    word pairs ("a part", "in to", "any one") never do: their first word is common.
    """
    if " " not in line:
        return line

    def glue(m: re.Match[str]) -> str:
        left, right = m.group(1), m.group(2)
        if not (right.islower() or (left.isupper() and right.isupper())):
            return m.group(0)
        whole = words[(left + right).lower()]
        if whole >= 3 and whole >= 2 * max(words[left.lower()], words[right.lower()]):
            return left
        return m.group(0)

    return _SPLIT_PAIR.sub(glue, line)


@dataclass(frozen=True)
class _Layout:
    """What rejoining needs to know beyond two lines: the document's words and the page's line width."""

    vocab: _Vocabulary
    width: int  # typical length of a full line on the page; 0 when lines are not hard-wrapped


def _wrap_width(lines: list[str]) -> int:
    """The 90th-percentile line length, when it looks like a hard-wrapped page (PDF, wrapped text)."""
    lengths = sorted(len(ln) for ln in lines if ln and ln != _REMOVED)
    if len(lengths) < 5:
        return 0
    width = lengths[int(0.9 * (len(lengths) - 1))]
    return width if MIN_WRAP_WIDTH <= width <= MAX_WRAP_WIDTH else 0


def _finish(lines: list[str], vocab: _Vocabulary) -> str:
    text = "\n".join(_unwrap(lines, _Layout(vocab, _wrap_width(lines))))
    return _BLANK_RUNS.sub("\n\n", text).strip()


def _unwrap(lines: list[str], layout: _Layout) -> list[str]:
    """Rejoin broken words and hard-wrapped lines; keep blank lines between blocks."""
    out: list[str] = []
    gap: list[str] = []  # blank and removed lines since the last kept line
    prev = ""  # the last line as laid out, before any joining: its length says whether it ran full width
    for line in lines:
        if not line or line == _REMOVED:
            gap.append(line)
            continue
        glue = _glue(prev, line, gap, layout) if out else None
        if glue is None:
            if "" in gap:
                out.append("")
            out.append(line)
        elif glue == _DROP_HYPHEN:
            out[-1] = out[-1][:-1] + line
        else:
            out[-1] = out[-1] + glue + line
        prev, gap = line, []
    return out


_DROP_HYPHEN = "\x01"  # glue meaning: remove the hyphen ending the line above, then join


def _glue(prev: str, line: str, gap: list[str], layout: _Layout) -> str | None:
    """What joins ``prev`` to ``line`` ("" or " ", or drop the hyphen), or None when the break is real."""
    if not gap and prev.endswith("-") and len(prev) > 1 and prev[-2].isalnum() and line[0].isalnum():
        return _DROP_HYPHEN if _hyphen_breaks_word(prev, line, layout.vocab) else ""
    if not gap:
        return " " if _wrapped(prev, line, layout.width) else None
    removed = _REMOVED in gap
    if (removed or gap.count("") == 1) and _continues_across_gap(prev, line):
        return " "
    return None


def _hyphen_breaks_word(prev: str, line: str, vocab: _Vocabulary) -> bool:
    """ "finan-/cial" is one word when the document knows "financial" and not "finan-cial".

    In this corpus nearly every hyphen at a line end belongs to a compound
    ("one-off", "sub-committee", "co-opted"), so the hyphen stays unless the
    document itself shows the unbroken word.
    """
    left, right = _LAST_WORD.search(prev), _FIRST_WORD.match(line)
    if not (left and right and left.group(1).islower()):
        return False
    whole = left.group(1) + right.group(1)
    return vocab.words[whole] > 0 and f"{left.group(1)}-{right.group(1)}" not in vocab.compounds


def _wrapped(prev: str, line: str, width: int) -> bool:
    """Whether two adjacent lines are one sentence broken by the layout."""
    if is_table_row(prev) or is_table_row(line) or _TERMINAL.search(prev) or LIST_ITEM.match(line):
        return False
    if _starts_lower(line):
        return True
    if is_heading_like(line):  # only a heading wrapped in capitals continues into another heading-like line
        return is_all_caps(prev) and is_all_caps(line) and _ends_open(prev)
    if _ends_open(prev):
        return True
    # A full-width line runs on into the next one ("...The Council's / Budget and Policy Framework").
    return bool(width) and len(prev) >= FULL_LINE_SHARE * width and not is_all_caps(prev)


def _ends_open(line: str) -> bool:
    """Ends on a comma, a possessive or a word a finished sentence does not end on."""
    last = line.rsplit(" ", 1)[-1].lower()
    return line.endswith(",") or last in _CONTINUES or last.endswith(("'s", "’s"))


def _continues_across_gap(prev: str, line: str) -> bool:
    """A sentence cut by a blank line or a removed footer: no end punctuation above, lower case below."""
    return (
        _starts_lower(line)
        and (prev[-1].isalpha() or prev[-1] == ",")
        and not is_table_row(prev)
        and not (is_heading_like(prev) and len(prev) <= MAX_TITLE_CHARS)
        and not LIST_ITEM.match(line)
    )


def _starts_lower(line: str) -> bool:
    """Starts like the middle of a sentence: "issues which...", "(together called meetings)"."""
    return line[0].islower() or (line[0] == "(" and line[1:2].islower() and not LIST_ITEM.match(line))
