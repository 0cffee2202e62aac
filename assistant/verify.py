"""Checking what a generative model wrote against the passages it was given.

Every sentence of a generated answer must rest on a sentence of a passage:
most of its content words must be there, its meaning must be close (sentence
vectors), and every figure it states must appear in that passage. A citation
number that names no passage is dropped; a sentence whose cited passage does
not support it is re-attributed to one that does, or removed and reported.
There is no packaged entailment model, so the test is lexical plus embedding
similarity; it errs towards removing a true sentence rather than keeping an
invented one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.cite import Evidence
from assistant.safety import is_instruction_like
from assistant.sentvec import SentenceVectors
from assistant.text import numbers, terms
from assistant.types import Passage
from ingest.embed import Embedder, LazyEmbedder

MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
#: A sentence is supported when this share of its content words is in the passage sentence (and neighbours) ...
MIN_TERM_RECALL = 0.6
#: ... and its vector is at least this close to that sentence's.
MIN_COSINE = 0.55


@dataclass
class Checked:
    """One generated sentence after checking."""

    text: str  # without citation markers
    evidence: list[Evidence]  # empty = unsupported
    cited: list[int]  # the numbers the model wrote (1-based), valid or not


class ClaimChecker:
    """Checks generated sentences against one question's passages."""

    def __init__(self, passages: list[Passage], sentence_vectors: SentenceVectors, embedder: Embedder | LazyEmbedder) -> None:
        self.passages = passages
        self.embedder = embedder
        self.sentences = sentence_vectors.get(passages)

    def check(self, sentence: str) -> Checked:
        cited = [int(n) for m in MARKER.finditer(sentence) for n in re.split(r"[,;]\s*", m.group(1))]
        text = MARKER.sub("", sentence).strip()
        if not terms(text):
            return Checked(text, [], cited)
        valid = [n for n in dict.fromkeys(cited) if 1 <= n <= len(self.passages)]
        vector = self.embedder.embed([text])[0]
        for candidates in (valid, [n for n in range(1, len(self.passages) + 1) if n not in valid]):
            best = self._best_support(text, vector, candidates)
            if best is not None:
                return Checked(text, [best], cited)
        return Checked(text, [], cited)

    def _best_support(self, text: str, vector: np.ndarray, candidates: list[int]) -> Evidence | None:
        claim_terms = set(terms(text))
        claim_numbers = numbers(text)
        best: Evidence | None = None
        for n in candidates:
            p = self.passages[n - 1]
            spans, vecs = self.sentences[n - 1]
            if claim_numbers - numbers(p.text):
                continue  # a figure the passage does not state
            for i, (s, e) in enumerate(spans):
                if is_instruction_like(p.text[s:e]):
                    continue
                lo, hi = spans[max(0, i - 1)][0], spans[min(len(spans) - 1, i + 1)][1]
                if claim_numbers - numbers(p.text[lo:hi]):
                    continue  # its figures are stated elsewhere in the passage, not here
                recall = len(claim_terms & set(terms(p.text[lo:hi]))) / len(claim_terms)
                cosine = float(vecs[i] @ vector)
                if recall >= MIN_TERM_RECALL and cosine >= MIN_COSINE:
                    # prefer the sentence that itself states the figures over its neighbour
                    score = recall + cosine + (0.5 if claim_numbers <= numbers(p.text[s:e]) else 0.0)
                    if best is None or score > best.score:
                        best = Evidence(p, s, e, score)
        return best
