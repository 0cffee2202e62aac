"""Evidence that the retrieved passages answer the question, as features of a calibrated refusal model.

A near miss is the hard case: the council is indexed and the words match,
but the one thing asked (a year, a named adviser, a figure) is not there. So
besides how close the best passage and sentence are, the model reads what is
*missing*: the rarest question term no leading passage holds, and figures or
years in the question that none of them contain.
"""

from __future__ import annotations

import re

from assistant.extractive import Scored
from assistant.query import Query
from assistant.rerank import TermWeights
from assistant.text import gives, stated, stem, terms, wanted_answer
from assistant.types import Passage
from ingest.registry import STOPWORDS

_PROPER = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][a-zA-Z]+(?:\s+(?:of|and|for)?\s*[A-Z][a-zA-Z]+)*)")
_GENERIC_PROPER = frozenset(
    "council councils committee cabinet the lga what who how when which is does did are can and county district city "
    "borough parish town community metropolitan".split()
)


def _entities(question: str) -> list[str]:
    """Capitalised names in the question (its focus: council names already removed), bar the first word."""
    out = []
    for m in _PROPER.finditer(question):
        words = [w for w in re.findall(r"[A-Za-z]+", m.group(1)) if w.lower() not in _GENERIC_PROPER]
        if words:
            out.append(" ".join(words))
    return out


def refusal_features(
    query: Query, passages: list[Passage], scored: list[Scored], term_weights: TermWeights, lead: int = 2
) -> dict[str, float]:
    """Features named in :data:`assistant.calibration.REFUSAL_FEATURES` for one question.

    Absences are measured against the ``lead`` passages an answer would come
    from, not all five: a term found only in the fifth passage is not evidence
    that the first two answer the question.
    """
    if not passages:
        return {}
    top = passages[0]
    q = term_weights.of(query.focus)
    held: set[str] = set()
    held_text = ""
    for p in passages[:lead]:
        held |= set(terms(p.text)) | set(terms(f"{p.title} {p.section}"))
        held_text += f" {p.title} {p.section} {p.text}"
    absent = [w for t, w in q.idf.items() if t not in held]
    top_idf = max(q.idf.values(), default=1.0) or 1.0
    best = scored[0] if scored else None
    best_terms = set(terms(best.evidence.quote)) if best else set()
    entities = _entities(query.focus)
    low = held_text.lower()
    missing_entities = [e for e in entities if not all(stem(w) in held for w in e.split() if w.lower() not in STOPWORDS)
                        and e.lower() not in low]
    answer_text = " ".join(s.evidence.quote for s in scored[:2])
    kind = wanted_answer(query.text)
    wants = 0.0 if kind is None else (1.0 if gives(kind, answer_text) else -1.0)
    return {
        "score": top.score,
        "sentence": float(best.cosine) if best else 0.0,
        "sentence_coverage": q.coverage(best_terms),
        "coverage": top.scores.get("f_coverage", 0.0),
        "missing_rare": max(absent, default=0.0) / top_idf,
        "numbers_missing": len(q.numbers - stated(q.numbers, held_text)) / len(q.numbers) if q.numbers else 0.0,
        "missing_entities": len(missing_entities) / len(entities) if entities else 0.0,
        "answer_type": wants,
    }
