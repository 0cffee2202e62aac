"""Text features shared by the reranker, the answerer and the citation checker.

Sentences come from the same splitter the chunker uses, so a quoted sentence
is always a span of the chunk (and therefore of the cleaned page). Terms are
Porter-stemmed like the FTS5 index, so "reserves" in a question meets
"reserve" in a report.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from ingest.registry import STOPWORDS
from ingest.structure import sentence_spans

if TYPE_CHECKING:
    from nltk.stem import PorterStemmer

_LINE = re.compile(r"[^\n]+")
_TERM = re.compile(r"[A-Za-z0-9£$%][A-Za-z0-9£$%'.,/-]*[A-Za-z0-9%]|[A-Za-z0-9]")
#: Figures a reader checks: money, percentages, years, clause numbers, counts.
_NUMBER = re.compile(r"£?\d[\d,]*(?:\.\d+)*(?:\s?(?:%|m|bn|k|million|billion|per cent))?", re.I)
#: Words common to nearly every council document carry no evidence on their own.
_WEAK = frozenset("council councils document documents report say says said tell please".split())


@lru_cache(maxsize=1)
def _stemmer() -> PorterStemmer:
    """NLTK's Porter stemmer, imported on first use: importing nltk takes seconds (it pulls in scipy)."""
    from nltk.stem import PorterStemmer

    return PorterStemmer()


#: Offices named after what their holder does: "Who leads Blaby?" is answered by "Council Leader", "Who chairs
#: the board?" by "Chairman: Cllr …". Porter keeps "leader" and "lead" apart; a question's words must meet them.
_OFFICE_NOUNS = {"leader": "lead", "leaders": "lead", "chairman": "chair", "chairmen": "chair",
                 "chairwoman": "chair", "chairperson": "chair"}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    w = word.lower()
    return _OFFICE_NOUNS.get(w) or _stemmer().stem(w)


def terms(text: str) -> list[str]:
    """Stemmed content terms of ``text``, in order, stopwords dropped."""
    out = []
    for raw in re.findall(r"[A-Za-z0-9]+", text):
        w = raw.lower()
        if w in STOPWORDS or w in _WEAK or len(w) < 2:
            continue
        out.append(stem(w))
    return out


def numbers(text: str) -> set[str]:
    """Normalised figures in ``text``: "£30m" -> "30m", "2,209" -> "2209", "98 %" -> "98%"."""
    found = set()
    for m in _NUMBER.finditer(text):
        v = m.group(0).lower().replace("£", "").replace(",", "").replace(" ", "")
        v = v.replace("percent", "%").replace("million", "m").replace("billion", "bn").rstrip(".")
        if v:
            found.add(v)
    return found


_CLAUSE_NUMBER = re.compile(
    r"^\s*\(?\d+(?:\.\d+)*[.)]?\s|\b\d+(?:\.\d+)+\b(?!\s*(?:%|per cent|m\b|bn\b|million|billion))", re.M | re.I
)


_AMOUNT = r"£?\d[\d,]*(?:\.\d+)?\s?(?:%|m\b|bn\b|k\b|million\b|billion\b|per cent\b)?"
#: "£5,000 - £24,999.99", "£25,000 to £100,000", "between 3 and 12 months": a band a figure may fall in.
_RANGE = re.compile(rf"(?:between\s+({_AMOUNT})\s+and\s+({_AMOUNT}))|(?:({_AMOUNT})\s*(?:-|–|—|to)\s*({_AMOUNT}))",
                    re.I)
_SCALE = {"m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9, "k": 1e3}


def _value(figure: str) -> tuple[float, str] | None:
    """A normalised figure (as :func:`numbers` gives it) as a value and its unit ("%" or ""): "30m" -> 3e7."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(%|m|bn|k)?", figure)
    if not m:
        return None
    unit = m.group(2) or ""
    return float(m.group(1)) * _SCALE.get(unit, 1.0), "%" if unit == "%" else ""


def stated(asked: set[str], text: str) -> set[str]:
    """The figures of ``asked`` (normalised, as :func:`numbers` gives them) that ``text`` states: word for word,
    or as a band it falls in ("£12,000" is stated by "Value: £5,000 - £24,999.99 | … Minimum three Quotes")."""
    held = asked & numbers(text)
    rest = {a: v for a in asked - held if (v := _value(a))}
    if not rest:
        return held
    for m in _RANGE.finditer(text):
        ends = [next(iter(numbers(g)), "") for g in (m.group(1) or m.group(3), m.group(2) or m.group(4))]
        lo, hi = _value(ends[0]), _value(ends[1])
        if lo is None or hi is None:
            continue
        if lo[1] != hi[1] and ends[0].replace(".", "").isdigit():  # "5 - 10%": the first end shares the unit
            lo = (lo[0], hi[1])
        if lo[1] != hi[1] or not lo[0] < hi[0]:
            continue  # a year span "2024-25", or ends of different kinds
        held |= {a for a, (v, unit) in rest.items() if unit == lo[1] and lo[0] <= v <= hi[0]}
    return held


def figures(text: str) -> set[str]:
    """:func:`numbers` without clause and paragraph numbers ("12.8 Reserves are..."), which state nothing."""
    return numbers(_CLAUSE_NUMBER.sub(" ", text))


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a chunk: lines are split into sentences; table rows stay whole."""
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        for s, e in sentence_spans(text, line.start(), line.end()):
            while s < e and text[s].isspace():
                s += 1
            if e - s >= 3:
                spans.append((s, e))
    return spans


def normalise(text: str) -> str:
    """Whitespace-insensitive form for locating a quote in a page."""
    return re.sub(r"\s+", " ", text).strip()


def locate(quote: str, page_text: str) -> tuple[int, int] | None:
    """Offsets of ``quote`` in ``page_text``, tolerating whitespace differences; None if absent."""
    i = page_text.find(quote)
    if i >= 0:
        return i, i + len(quote)
    words = quote.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words)
    m = re.search(pattern, page_text)
    return (m.start(), m.end()) if m else None


_WANTS_FIGURE = re.compile(
    r"\bhow (much|many|long|often|frequently|large|big|far|soon)\b|\b(rate|percentage|proportion|amount|sum|figure|"
    r"salary|fee|fees|cost|threshold|limit|precept|price|maximum|minimum|quorum|total)\b",
    re.I,
)
#: "How long..." asks for a span of time, not any figure.
_WANTS_DURATION = re.compile(r"\bhow (long|soon)\b", re.I)
_WANTS_DATE = re.compile(r"^\s*when\b|\b(what|which) (date|year|day|month)\b|\bby when\b", re.I)
#: A figure, or how often something happens ("monthly", "twice a year").
_FIGURE = re.compile(
    r"[£$%]|\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|fifty|hundred|"
    r"half|quarter|third|twice|daily|weekly|fortnightly|monthly|quarterly|annually|yearly)\b",
    re.I,
)
_TIME_UNIT = re.compile(r"\b(minutes?|hours?|days?|weeks?|fortnights?|months?|years?|annually|yearly)\b", re.I)
_DATE = re.compile(
    r"\b(19|20)\d\d\b|\b(January|February|March|April|May|June|July|August|September|October|November|December)\b"
)
#: Dates, years and clause numbers: digits that are not the amount a figure question asks for.
_DATE_LIKE = re.compile(
    r"\b\d{1,2}(st|nd|rd|th)?(\s*[-–]\s*\d{1,2}(st|nd|rd|th)?)?\s+(January|February|March|April|May|June|July|August|September|October|November|"
    r"December)(\s+\d{4})?|\b(19|20)\d\d(/\d\d|-\d\d)?\b|^\s*\(?\d+(\.\d+)*[.)]?\s|\b\d+(\.\d+)+\b",
    re.I | re.M,
)


def wanted_answer(question: str) -> str | None:
    """``"duration"``, ``"figure"`` or ``"date"`` when the question asks for one ("How long...",
    "How many...", "When..."), else None. A question asking for a span of time and something
    else ("how long ... and how many ...") asks for a figure."""
    if _WANTS_DURATION.search(question) and not _WANTS_FIGURE.search(_WANTS_DURATION.sub(" ", question)):
        return "duration"
    if _WANTS_FIGURE.search(question):
        return "figure"
    if _WANTS_DATE.search(question):
        return "date"
    return None


def gives(kind: str | None, text: str) -> bool:
    """Does ``text`` hold the kind of answer asked for? (A year or clause number is not a figure.)"""
    if kind in ("figure", "duration"):
        found = bool(_FIGURE.search(_DATE_LIKE.sub(" ", text)))
        return found and (kind == "figure" or bool(_TIME_UNIT.search(text)))
    if kind == "date":
        return bool(_DATE.search(text))
    return True


#: "Who leads / chairs / heads …", "Who is the …": a question whose answer names someone. Not "who is responsible
#: for", "who can", "who may": their answers are an office or a committee as often as a person.
_WANTS_PERSON = re.compile(
    r"^\s*who\s+(?:is|was|leads|led|chairs|chaired|heads|headed|runs)\b"
    r"(?!\s+(?:responsible|eligible|entitled|allowed|able|required|liable|expected|permitted|covered)\b)",
    re.I,
)
#: A person as council documents name one: "Cllr Terry Richardson", "Mrs Sue Chandler", or a list line
#: "Julia Smith - Chief Executive".
_PERSON = re.compile(
    r"\b(?:Cllr|Councillor|Mr|Mrs|Ms|Miss|Dr|Sir|Dame)\.?\s+[A-Z][a-z'’-]+"
    r"|^\W*[A-Z][a-z'’-]+\s+[A-Z][a-z'’-]+\s*[-–,]\s+[A-Z]",
    re.M,
)


def asks_for_a_person(question: str) -> bool:
    """Does the question ask who someone is ("Who leads Blaby District Council?")?"""
    return bool(_WANTS_PERSON.search(question))


def names_a_person(text: str) -> bool:
    """Does ``text`` name a person ("- Cllr Terry Richardson - Council Leader")?"""
    return bool(_PERSON.search(text))
