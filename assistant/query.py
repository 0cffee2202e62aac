"""Query understanding: abbreviations, council mentions and follow-up questions.

Council documents are dense with abbreviations (CPC, MTFS, S151) that a reader
types but the text spells out, or the other way round; the search query carries
both forms. Which council a question is about is read from the question, matched
against the councils the index actually holds, so a question about a council that
is not indexed can be refused outright instead of answered from a neighbour.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: Abbreviation -> spelled-out form, as UK local government documents use them.
ABBREVIATIONS: dict[str, str] = {
    "CPC": "corporate peer challenge",
    "LGA": "Local Government Association",
    "S151": "section 151 chief finance officer",
    "s151": "section 151 chief finance officer",
    "S.151": "section 151 chief finance officer",
    "MTFS": "medium term financial strategy",
    "MTFP": "medium term financial plan",
    "LGR": "local government reorganisation",
    "CIPFA": "Chartered Institute of Public Finance and Accountancy",
    "HRA": "housing revenue account",
    "DSG": "dedicated schools grant",
    "SEND": "special educational needs and disabilities",
    "ASC": "adult social care",
    "KPI": "key performance indicator",
    "KPIs": "key performance indicators",
    "RAG": "red amber green",
    "GAC": "governance and audit committee",
    "ToR": "terms of reference",
    "TOR": "terms of reference",
    "SLT": "senior leadership team",
    "CMT": "corporate management team",
    "CLT": "corporate leadership team",
    "AGAR": "annual governance and accountability return",
    "AGS": "annual governance statement",
    "NNDR": "national non-domestic rates business rates",
    "MRP": "minimum revenue provision",
    "PWLB": "Public Works Loan Board",
    "CFR": "capital financing requirement",
    "OSC": "overview and scrutiny committee",
    "O&S": "overview and scrutiny",
    "EDI": "equality diversity and inclusion",
    "FOI": "freedom of information",
    "CPR": "contract procedure rules",
    "CPRs": "contract procedure rules",
    "FPR": "financial procedure rules",
    "FPRs": "financial procedure rules",
    "MO": "monitoring officer",
    "HoPS": "head of paid service",
    "Cllr": "councillor",
    "Cllrs": "councillors",
    "CEO": "chief executive",
    "AI": "artificial intelligence",
    "VfM": "value for money",
    "ICB": "integrated care board",
}
#: Spelled-out phrase -> the short form documents also use.
_CONTRACTIONS: dict[str, str] = {
    "section 151": "s151",
    "chief finance officer": "s151",
    "peer review": "peer challenge",
    "peer challenge": "peer review",
    "standing orders": "procedure rules",
    "artificial intelligence": "AI",
}

_GENERIC_COUNCIL_WORDS = frozenset(
    "the a an this that our your their city county district borough parish town community metropolitan "
    "council councils london royal of and unitary combined authority".split()
    # the meeting a title names, not a council: "Agenda for the Budget County Council Meeting", "Annual Parish Council"
    + "budget annual extraordinary special full ordinary meeting meetings agenda summons".split()
)
_COUNCIL_PHRASE = re.compile(
    r"\b((?:[A-Z][\w'’&-]*\s+){0,4}?[A-Z][\w'’&-]*)\s+"
    r"((?:City|County|District|Borough|Metropolitan Borough|Parish|Town|Community)\s+)?Council\b"
    r"|\b(?:London\s+)?Borough\s+of\s+((?:[A-Z][\w'’-]*\s*){1,3})"
)
#: "according to the LGA's 2025 progress review": names where to look, not what to find.
_SOURCE_CLAUSE = re.compile(r",?\s*\baccording to\b[^?.;,]*", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")
_FOLLOW_UP_START = re.compile(
    r"^(and|also|what about|how about|and what|same for|what of|why|how so|is that|are they|does it|did they|"
    r"was it|were they|can you|could you)\b",
    re.I,
)
_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|that|these|those|he|she|his|her|there)\b", re.I)


@dataclass
class CouncilDirectory:
    """The councils the index holds, and the names a question may call them by.

    Names come from the data, not a hand list: each council id ("wye-valley-cc")
    gives its words, and each document title naming "<Name> ... Council" gives
    that name and its initials ("North West Leicestershire District Council",
    "NWLDC").
    """

    aliases: dict[str, set[str]] = field(default_factory=dict)  # lower-case alias -> council ids

    @classmethod
    def build(cls, councils_and_titles: Iterable[tuple[str, str]]) -> CouncilDirectory:
        out = cls()
        for council, title in councils_and_titles:
            if not council:
                continue
            words = [w for w in council.split("-") if w not in {"cc", "pc", "dc", "bc", "mbc", "tc", "city"}]
            if words:
                out._add(" ".join(words), council)
            for m in _COUNCIL_PHRASE.finditer(title or ""):
                name = m.group(1) or m.group(3) or ""
                core = _core_name(name)
                if core:
                    out._add(core, council)
                    full = f"{name} {m.group(2) or ''}Council".split()
                    if len(full) >= 3:
                        out._add("".join(w[0] for w in full if w[0].isupper()), council)
        return out

    def _add(self, alias: str, council: str) -> None:
        alias = alias.strip().lower()
        if len(alias) >= 3:
            self.aliases.setdefault(alias, set()).add(council)

    def names_of(self, councils: set[str]) -> set[str]:
        """Every alias of ``councils``."""
        return {alias for alias, ids in self.aliases.items() if ids & councils}

    def without_names(self, text: str) -> str:
        """``text`` without council names (known ones and "X District Council" phrases) or "according to ..." clauses."""
        out = _SOURCE_CLAUSE.sub(" ", _COUNCIL_PHRASE.sub(" ", text))
        for alias in sorted(self.aliases, key=len, reverse=True):
            out = re.sub(rf"\b{re.escape(alias)}(?:'s|’s)?\b", " ", out, flags=re.I)
        return re.sub(r"\s+", " ", out).strip()

    def mentioned(self, text: str) -> tuple[set[str], list[str]]:
        """Councils of the index named in ``text``, and named councils the index does not hold."""
        low = " " + re.sub(r"[^\w&]+", " ", text.lower()) + " "
        joined = re.sub(r" (?:and|&) ", " ", low)  # "Manordeilo and Salem" is the council "manordeilo salem"
        known: set[str] = set()
        for alias, councils in self.aliases.items():
            if f" {alias} " in low or f" {alias} " in joined:
                known |= councils
        known_words = {w for alias, councils in self.aliases.items() if councils & known for w in alias.split()}
        unknown: list[str] = []
        for m in _COUNCIL_PHRASE.finditer(text):
            name = m.group(1) or m.group(3) or ""
            core = _core_name(name)
            if not core or core in self.aliases or set(core.split()) <= known_words:
                continue  # a known council, or the tail of one named in full ("... and Salem Community Council")
            if any(a in core.split() or a == core for a in self.aliases) or any(
                f" {a} " in f" {core} " for a in self.aliases
            ):
                continue
            shown = m.group(0).strip().split()
            while len(shown) > 2 and shown[0].lower() in _QUESTION_WORDS:  # "Did Carmarthenshire County Council"
                shown.pop(0)
            unknown.append(" ".join(shown))
        return known, unknown


def council_display_names(councils_and_titles: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Council id -> the full name its document titles use most ("kent-cc" -> "Kent County Council").

    The same phrase rule as :class:`CouncilDirectory`; a phrase with no distinctive
    word ("Parish Council meeting minutes") names no one and is skipped.
    """
    seen: dict[str, Counter[str]] = {}
    for council, title in councils_and_titles:
        for m in _COUNCIL_PHRASE.finditer(title or ""):
            name = m.group(1)
            if council and name and _core_name(name):
                seen.setdefault(council, Counter())[" ".join(m.group(0).split())] += 1
    return {c: max(names, key=lambda n: (names[n], len(n))) for c, names in seen.items()}


def _core_name(name: str) -> str:
    """The distinctive words of a council name: "North West Leicestershire District" -> "north west leicestershire"."""
    words = [w for w in _WORD.findall(name) if w.lower() not in _GENERIC_COUNCIL_WORDS]
    # A name starts at its first capitalised word; "What did Leeds" -> "Leeds".
    while words and words[0].lower() in _QUESTION_WORDS:
        words.pop(0)
    return " ".join(words).lower()


def names_another_council(text: str, names: set[str], question: str = "") -> bool:
    """Does ``text`` name a council, and none by the ``names`` of the question's councils (their directory
    aliases: "blaby", "tintern", "nwldc", "north west leicestershire") or as the ``question`` names it? "- Cllr
    Sam Chapman-Allen, Leader of the Council, Breckland Council" in Blaby's review is about a peer from
    elsewhere, not about Blaby; a question asking what was sent to Carmarthenshire County Council wants it."""
    wanted = {w for name in names for w in name.split()} | {w.lower() for w in _WORD.findall(question)}
    named: list[set[str]] = []
    for m in _COUNCIL_PHRASE.finditer(text):
        core = _core_name(m.group(1) or m.group(3) or "")
        if core:  # its distinctive words and its initials ("North West Leicestershire District Council": "nwldc")
            initials = "".join(w[0] for w in _WORD.findall(m.group(0)) if w[0].isupper()).lower()
            named.append(set(core.replace("-", " ").split()) | {initials})
    return bool(named) and bool(wanted) and not any(n & wanted for n in named)


_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how did does do is are was were has have had can could should would will "
    "tell show give list say said according in for at by about from on".split()
)


@dataclass
class Query:
    """A question as the retriever sees it."""

    question: str  # as asked
    text: str  # standalone form (follow-ups rewritten)
    search_text: str  # text plus expansions, for BM25 and the embedder
    councils: set[str] = field(default_factory=set)
    #: What the index calls those councils (:class:`CouncilDirectory` aliases), to tell them from others.
    council_names: set[str] = field(default_factory=set)
    unknown_councils: list[str] = field(default_factory=list)
    #: Documents that name no council, searched for a question about a council the index does not know by name
    #: (``unknown_councils``): one of them may be that council's. Empty otherwise.
    unattributed: tuple[str, ...] = ()
    #: The question without the names of the councils it is about: what evidence must hold.
    #: A council's name is scope (the reranker's council feature), and counting it as content
    #: makes a title line ("NORTH WEST LEICESTERSHIRE DISTRICT COUNCIL CABINET") look like an answer.
    focus: str = ""

    def __post_init__(self) -> None:
        self.focus = self.focus or self.text

    @property
    def search_focus(self) -> str:
        """The focus plus expansions: what to search for within the named councils' own documents."""
        return expand_abbreviations(self.focus)


def expand_abbreviations(text: str) -> str:
    """``text`` followed by the spelled-out (or short) forms of what it abbreviates."""
    extra: list[str] = []
    for token in re.findall(r"[A-Za-z][A-Za-z0-9.&]*[A-Za-z0-9]", text):
        full = ABBREVIATIONS.get(token) or ABBREVIATIONS.get(token.upper() if len(token) > 3 else token)
        if full and full.lower() not in text.lower() and full not in extra:
            extra.append(full)
    low = text.lower()
    for phrase, short in _CONTRACTIONS.items():
        if phrase in low and short.lower() not in low and short not in extra:
            extra.append(short)
    return f"{text} ({'; '.join(extra)})" if extra else text


def is_follow_up(question: str) -> bool:
    """Does ``question`` lean on an earlier turn ("And what about Kent?", "When does it meet?")?"""
    content = [w for w in _WORD.findall(question) if w.lower() not in _QUESTION_WORDS and len(w) > 2]
    return bool(_FOLLOW_UP_START.match(question.strip())) or (
        bool(_PRONOUN.search(question)) and len(content) <= 4
    )


def rewrite_follow_up(question: str, history: Sequence[str], directory: CouncilDirectory | None = None) -> str:
    """A standalone question from a follow-up and the user's earlier questions (most recent last).

    Without an LLM the rewrite is conservative: a follow-up that names another
    council takes the previous question with the council swapped; any other
    follow-up is joined to the previous question, so both sets of terms are
    searched.
    """
    if not history or not is_follow_up(question):
        return question
    previous = history[-1]
    if directory is not None:
        now, _ = directory.mentioned(question)
        before, _ = directory.mentioned(previous)
        if now and before and now != before:
            swapped = previous
            for alias in sorted(directory.aliases, key=len, reverse=True):
                if directory.aliases[alias] & before:
                    swapped = re.sub(rf"\b{re.escape(alias)}\b", _name_for(directory, now), swapped, flags=re.I)
            if swapped != previous:
                return swapped
    return f"{previous.rstrip(' ?.')}: {question}"


def _name_for(directory: CouncilDirectory, councils: set[str]) -> str:
    names = [a for a, c in directory.aliases.items() if c & councils]
    return max(names, key=len).title() if names else ""
