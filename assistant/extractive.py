"""The default answerer: chooses sentences from the retrieved passages; it cannot invent.

Each candidate sentence is scored on closeness to the question (sentence
vectors), the share of the question's weighted vocabulary it holds, the figures
it shares with the question, and the rank of its passage. The best sentence is
the answer; a close runner-up joins it when it adds something (another
document, another part of a list), and a lead-in ending in a colon brings the
list that follows. Every sentence keeps the citation of the passage it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.cite import Evidence
from assistant.query import Query, names_another_council
from assistant.rerank import TermWeights
from assistant.safety import is_instruction_like
from assistant.sentvec import SentenceVectors
from assistant.text import asks_for_a_person, figures, gives, names_a_person, terms, wanted_answer
from assistant.types import Passage
from ingest.structure import classify_heading, is_all_caps


@dataclass
class Scored:
    evidence: Evidence
    vector: np.ndarray
    rank: int
    position: int
    cosine: float = 0.0
    heading: bool = False


#: A bulleted list item: a bullet sign or a bracketed letter or numeral ("(a)", "(iv)").
BULLET = re.compile(r"\s*(?:[•●▪◦‣∙·*–-]|\((?:[a-z]|[ivx]{1,4})\))\s")


#: "What top tips…", "Which councils…", "What are…", "List…": a question whose answer is several things.
_SEVERAL = re.compile(
    r"^\s*(what|which)\s+(are|were)\b|\b(list|name)\s+(the|all|every)\b|"
    r"\b(what|which)\s+(?:\w+\s+)?(?!does\b|is\b|was\b|has\b|its\b|this\b|happens\b)\w{3,}s\b",
    re.I,
)


def asks_for_several(question: str) -> bool:
    """Does the question ask for several things? Then a bulleted list is its answer unit; otherwise
    the one item that answers it is, and a standing order's other duties are not."""
    return bool(_SEVERAL.search(question))


def naming_terms(passage: Passage) -> set[str]:
    """The terms that name a passage's document and council: its title's and its council's."""
    return set(terms(f"{passage.title} {passage.council}"))


def names_only(text: str, naming: set[str]) -> bool:
    """Does ``text`` only name its document or council ("North West Leicestershire District Council",
    "…, Assurance case study"), given :func:`naming_terms`? Such a line is a title or a letterhead: it
    is found for every question about the document and answers none of them.
    """
    said = set(terms(text))
    return bool(said) and said <= naming


class ExtractiveAnswerer:
    """Sentence selection over the top passages."""

    name = "extractive"

    def __init__(
        self,
        sentence_vectors: SentenceVectors,
        term_weights: TermWeights,
        max_sentences: int = 3,
        keep_ratio: float = 0.88,
        list_items: int = 8,
    ) -> None:
        self.sentence_vectors = sentence_vectors
        self.term_weights = term_weights
        self.max_sentences = max_sentences
        self.keep_ratio = keep_ratio
        self.list_items = list_items

    def score_sentences(self, query: Query, passages: list[Passage], query_vector: np.ndarray) -> list[Scored]:
        """Every usable sentence of ``passages``, best first."""
        q = self.term_weights.of(query.focus)
        kind = wanted_answer(query.text)
        who = asks_for_a_person(query.text)
        out: list[Scored] = []
        for rank, (p, (spans, vecs)) in enumerate(zip(passages, self.sentence_vectors.get(passages), strict=True)):
            prior = max(0.0, 1.0 - 0.15 * rank)
            # A question about named councils is answered from their documents first.
            scope = -0.5 if query.councils and p.council not in query.councils else 0.0
            naming = naming_terms(p)
            for pos, ((s, e), v) in enumerate(zip(spans, vecs, strict=True)):
                text = p.text[s:e]
                if len(text.split()) < 3 or is_instruction_like(text) or is_all_caps(text) or (
                    text.strip() == p.section.split(" > ")[-1]
                ) or names_only(text, naming) or text.rstrip().endswith("?"):
                    continue  # too short, an instruction to an AI, a heading, a title line or a question
                cover = q.coverage(set(terms(text)))
                num = q.number_share(text)
                cosine = float(v @ query_vector)
                typed = 0.0 if kind is None else (0.2 if gives(kind, text) else -0.3)
                if who and names_a_person(text):
                    typed += 0.2  # "Who leads …?" is answered by "Cllr Terry Richardson - Council Leader"
                if names_another_council(text, query.council_names, query.text):
                    typed -= 0.3  # the review's peer "Leader of the Council, Breckland Council" does not lead Blaby
                score = cosine + 0.6 * cover + 0.3 * num + 0.25 * prior + typed + scope
                # A heading inside a passage ("2. Investment Objectives") names a subject, it does not answer.
                heading = classify_heading(text) is not None
                out.append(Scored(Evidence(p, s, e, score), v, rank, pos, cosine, heading))
        # Headings come after every sentence, where only a list they lead can still reach them.
        out.sort(key=lambda x: (not x.heading, x.evidence.score), reverse=True)
        return out

    def select(self, scored: list[Scored], query: Query) -> list[Evidence]:
        """The sentences of the answer from :meth:`score_sentences`: the best first, the rest in reading order.

        When the question names several councils, each one's best sentence is
        included (if it scores at least half the best), so a comparison is
        answered from both sides. For a figure or date question, a close sentence
        from another document that gives a different figure is a disagreement,
        not a repetition: it is kept so the reader sees both. For "Who leads …?"
        answered by a line naming someone, only lines naming someone join it.
        """
        councils = query.councils
        kind, who = wanted_answer(query.text), asks_for_a_person(query.text)
        if not scored:
            return []
        best = scored[0]
        chosen = [best]
        if len(councils) > 1:
            for council in sorted(councils - {best.evidence.passage.council}):
                own = next((c for c in scored if c.evidence.passage.council == council), None)
                if own is not None and own.evidence.score >= 0.5 * best.evidence.score:
                    chosen.append(own)
        items: list[Scored] = []  # the rest of a bulleted list the best sentence is an item of
        if best.evidence.quote.rstrip().endswith(":"):
            chosen += self._list_after(best, scored)
        else:
            if BULLET.match(best.evidence.quote) and asks_for_several(query.text):
                items = self._list_around(best, scored)
            for cand in scored[1:]:
                if cand in chosen or cand in items:
                    continue  # a list's items come with it, below
                if len(chosen) >= self.max_sentences or cand.evidence.score < self.keep_ratio * best.evidence.score:
                    break
                if any(float(cand.vector @ c.vector) > 0.85 for c in chosen) and not (
                    kind and _disagrees(cand, chosen)
                ):
                    continue  # says the same thing again
                if who and names_a_person(best.evidence.quote) and not names_a_person(cand.evidence.quote):
                    continue  # "Who leads …?" is answered by the leader's line, not by what the leader is to do
                chosen.append(cand)
        # The best sentence leads (it is the answer); what it brings follows in reading order.
        rest = sorted(chosen[1:], key=lambda c: (c.rank, c.position))
        lead = _as_one(best, items) if items else best.evidence
        return [lead, *(c.evidence for c in rest)]

    def _list_after(self, lead: Scored, scored: list[Scored]) -> list[Scored]:
        same = [c for c in scored if c.evidence.passage.chunk_id == lead.evidence.passage.chunk_id]
        after = sorted((c for c in same if c.position > lead.position), key=lambda c: c.position)
        return after[: self.list_items]

    def _list_around(self, item: Scored, scored: list[Scored]) -> list[Scored]:
        """The other items of the bulleted list ``item`` belongs to: a list is answered whole, as printed."""
        same = {c.position: c for c in scored if c.evidence.passage.chunk_id == item.evidence.passage.chunk_id
                and BULLET.match(c.evidence.quote)}
        run = [item]
        for step in (-1, 1):
            pos = item.position + step
            while pos in same and len(run) < self.list_items:
                run.append(same[pos])
                pos += step
        return sorted(run[1:], key=lambda c: c.position)


def _as_one(item: Scored, others: list[Scored]) -> Evidence:
    """One quote for a whole list: from its first item to the end of its last item's line, as printed."""
    run = sorted([item, *others], key=lambda c: c.position)  # the best item sits anywhere in its list
    text = item.evidence.passage.text
    last = run[-1].evidence.end
    end = text.find("\n", last)
    return Evidence(item.evidence.passage, run[0].evidence.start, last if end < 0 else end, item.evidence.score)


def _disagrees(cand: Scored, chosen: list[Scored]) -> bool:
    """Does ``cand`` give different figures from every chosen sentence of another document?"""
    mine = figures(cand.evidence.quote)
    others = [c for c in chosen if c.evidence.passage.doc_id != cand.evidence.passage.doc_id]
    return bool(mine) and bool(others) and all(
        figures(c.evidence.quote) and not (figures(c.evidence.quote) & mine) for c in others
    )


def differing_figures(evidence: list[Evidence], question: str) -> bool:
    """Do sentences from different documents give different figures for a figure question?"""
    if wanted_answer(question) is None:
        return False
    by_doc: dict[str, set[str]] = {}
    for ev in evidence:
        found = figures(ev.quote)
        if found:
            by_doc.setdefault(ev.passage.doc_id, set()).update(found)
    sets = list(by_doc.values())
    return len(sets) >= 2 and not set.intersection(*sets)
