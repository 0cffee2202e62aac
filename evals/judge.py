"""Citation recall and precision in the ALCE sense, judged lexically.

ALCE (Gao et al., 2023) scores each answer statement by whether its cited
passages, taken together, entail it (citation recall) and each citation by
whether it is needed (citation precision): a citation is *irrelevant* when it
does not support the statement on its own and the statement stays supported
without it. ALCE judges entailment with an NLI model; no PyPI package ships
such weights, so this judge is lexical, documented, and stricter on figures:

- a statement is supported by a set of passages when it appears in their text
  verbatim, or when at least ``TERM_RECALL`` of its stemmed content terms occur
  in them **and** every figure it states (money, percentage, count, date
  number) occurs in them too, as a number;
- a statement with no ``[n]`` marker is unsupported;
- statements with no content terms (a bare "The documents differ:") are not
  judged.

The judge is deliberately independent of the assistant's own claim checker
(``assistant.verify``), which uses vector similarity; only the tokeniser is
shared, so "reserves" meets "reserve" on both sides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.text import figures, normalise, numbers, terms

#: Share of a statement's content terms its passages must contain.
TERM_RECALL = 0.75
_MARKERS = re.compile(r"(?:\s*\[\d+\])+")
_NUMBER = re.compile(r"\d+")
_BULLET = re.compile(r"^\s*[-*•]\s+")


@dataclass
class Statement:
    """One claim of an answer and the citation numbers attached to it."""

    text: str
    cited: list[int]
    supported: bool = False
    relevant: list[int] = field(default_factory=list)  # the cited numbers judged needed


def statements(answer: str) -> list[Statement]:
    """Split an answer into statements, each ending with its ``[n]`` markers.

    Lines are split first (the extractive answerer lists items one a line),
    then each line at every run of markers; text after the last marker of a
    line is a statement without citations.
    """
    out: list[Statement] = []
    for line in answer.splitlines():
        line = _BULLET.sub("", line)
        start = 0
        for m in _MARKERS.finditer(line):
            text = line[start : m.start()].strip().lstrip(".;,: ")  # punctuation closing the last one
            cited = [int(n) for n in _NUMBER.findall(m.group(0))]
            if text:
                out.append(Statement(text, cited))
            elif out:  # markers straight after markers: they belong to the statement before
                out[-1].cited.extend(cited)
            start = m.end()
        tail = line[start:].strip().lstrip(".;,: ")
        if tail:
            out.append(Statement(tail, []))
    return [s for s in out if terms(s.text) or figures(s.text)]


def supports(statement: str, passages: list[str]) -> bool:
    """Do ``passages`` together support ``statement`` (see the module docstring)?"""
    if not passages:
        return False
    body = "\n".join(passages)
    if normalise(statement) in normalise(body):
        return True
    wanted = set(terms(statement))
    if wanted:
        have = set(terms(body))
        if len(wanted & have) / len(wanted) < TERM_RECALL:
            return False
    return figures(statement) <= numbers(body)  # a clause number in the passage still counts


@dataclass
class CitationJudgement:
    statements: list[Statement]

    @property
    def recall(self) -> float | None:
        """Share of statements supported by their citations (None when nothing was judged)."""
        return sum(s.supported for s in self.statements) / len(self.statements) if self.statements else None

    @property
    def precision(self) -> float | None:
        """Share of citations judged needed (None when the answer cites nothing)."""
        total = sum(len(s.cited) for s in self.statements)
        return sum(len(s.relevant) for s in self.statements) / total if total else None


def judge_citations(answer: str, passages: dict[int, str]) -> CitationJudgement:
    """Judge every statement of ``answer`` against the passages its ``[n]`` name.

    ``passages`` maps citation numbers to the cited passage text; a number with
    no passage supports nothing.
    """
    judged = statements(answer)
    for s in judged:
        cited = list(dict.fromkeys(s.cited))
        texts = {n: passages[n] for n in cited if n in passages}
        s.supported = supports(s.text, list(texts.values()))
        for n in cited:
            if n not in texts:
                continue
            alone = supports(s.text, [texts[n]])
            rest = [t for m, t in texts.items() if m != n]
            if alone or (s.supported and not supports(s.text, rest)):
                s.relevant.append(n)
    return CitationJudgement(judged)
