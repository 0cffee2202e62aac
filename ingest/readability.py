"""Is extracted text language, or glyph soup?

A PDF can carry a text layer that is not text: fonts whose character codes do
not map to the letters drawn (the output reads ``Wkh Frxqflo vkdoo``), symbol or
private-use code points, or control characters. Such a layer extracts without
error and would be indexed as junk: chunks no question matches and quotes no
reader can check. The same happens to a binary file saved with a ``.txt`` name.

Two measures, both cheap enough for every page:

- **odd characters**: the share of non-space characters that are neither
  letters, digits, punctuation nor the everyday symbols of council documents
  (currency, ``%``, bullets). Private-use glyphs, control characters, U+FFFD
  and runs of math symbols push it up. Real pages stay under 3%.
- **letter pairs**: the mean log-probability of the letter pairs of its words
  (accents folded) under a letter-pair model of English built from the word
  list of the packaged MiniLM tokenizer, together with the share of the letters of
  its words of three or more letters that belong to words of that list. Letters scrambled by a broken
  font give pairs English almost never has (``xq``, ``fx``). Every page of
  the bundled corpus scores -6.2 or higher (the Welsh minutes are the lowest),
  Polish and Somali prose -6.8; scrambled, shifted and random letters score
  -7.3 or lower. A page is judged garbled below :data:`MIN_PAIR_SCORE` only
  when fewer than :data:`MIN_DICTIONARY_SHARE` of its letters form English
  words, so English text with odd names and codes is never caught.

Pages with fewer than :data:`MIN_LETTERS` letters are not judged (too little to
tell), nor are pages written mostly in non-Latin scripts, for which the
letter-pair model says nothing.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from clerk.settings import packaged_minilm_path

#: Pages with fewer letters than this are too short to judge.
MIN_LETTERS = 100
#: A share of odd characters above this is glyph soup whatever the letters say (real pages: 2% at most).
MAX_ODD_SHARE = 0.1
#: Mean letter-pair log-probability below which the letters do not read as language.
MIN_PAIR_SCORE = -7.0
#: Text with at least this share of its word letters in English words is readable.
MIN_DICTIONARY_SHARE = 0.3

_WORD = re.compile(r"[^\W\d_]+")
#: Latin letters that accent folding leaves alone, spelled as their base letters.
_BASE_LETTERS = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ı": "i", "ħ": "h", "ŧ": "t", "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th"}
)
_EVERYDAY_SYMBOLS = frozenset("£$€¥%&+=<>@#/\\|^~`°©®™•▪◦●○■□✓✔☐☒§¶†‡←→↑↓–—…·×÷±")


@dataclass(frozen=True)
class Readability:
    """What a text looks like, measured; :attr:`garbled` is the verdict."""

    chars: int  # non-space characters
    letters: int  # letters in words
    odd_share: float  # non-space characters that are not letters, digits, punctuation or everyday symbols
    pair_score: float | None  # mean log-probability of Latin letter pairs under English; None when not judged
    dictionary_share: float  # share of word letters in words of the English word list

    @property
    def garbled(self) -> bool:
        if self.chars >= MIN_LETTERS // 3 and self.odd_share > MAX_ODD_SHARE:
            return True
        return (
            self.pair_score is not None
            and self.pair_score < MIN_PAIR_SCORE
            and self.dictionary_share < MIN_DICTIONARY_SHARE
        )

    def reason(self) -> str:
        """Why the text was judged garbled, in words a reader can check."""
        if self.odd_share > MAX_ODD_SHARE:
            return f"glyph soup: {self.odd_share:.0%} of the characters are symbols or control codes"
        return f"glyph soup: letter-pair score {self.pair_score:.1f}, text scores above {MIN_PAIR_SCORE:g}"


def measure(text: str) -> Readability:
    """Measure ``text``; see the module docstring for what each number means."""
    chars = [c for c in text if not c.isspace()]
    odd = sum(not _ordinary(c) for c in chars)
    words = _WORD.findall(text)
    letters = sum(len(w) for w in words)
    known_words = _english_words()
    long_words = [w for w in words if len(w) >= 3]  # "a", "I", "s" say nothing: random letters hit them
    long_letters = sum(len(w) for w in long_words)
    known = sum(len(w) for w in long_words if w.lower() in known_words)
    return Readability(
        chars=len(chars),
        letters=letters,
        odd_share=odd / len(chars) if chars else 0.0,
        pair_score=_pair_score(words, letters),
        dictionary_share=known / long_letters if long_letters else 0.0,
    )


def is_garbled(text: str) -> bool:
    return measure(text).garbled


def _ordinary(c: str) -> bool:
    category = unicodedata.category(c)
    return category[0] in "LNP" or category == "Mn" or c in _EVERYDAY_SYMBOLS


def _pair_score(words: list[str], letters: int) -> float | None:
    """Mean log-probability of the letter pairs (word edges included) of the Latin-script words."""
    if letters < MIN_LETTERS:
        return None
    model = _pair_model()
    latin = [folded for w in words if len(w) > 1 and (folded := _fold(w)).isascii()]
    if sum(len(w) for w in latin) * 2 < letters:  # mostly another script: the model has nothing to say
        return None
    total, pairs = 0.0, 0
    floor = model[""]
    for word in latin:
        padded = f"^{word}$"
        for i in range(len(padded) - 1):
            total += model.get(padded[i : i + 2], floor)
            pairs += 1
    return total / pairs if pairs else None


def _fold(word: str) -> str:
    """Lower case without accents: ``ŵyl`` and ``łąka`` read as the letters they are built on."""
    word = word.lower().translate(_BASE_LETTERS)
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


@cache
def _english_words() -> frozenset[str]:
    """The whole words of the packaged MiniLM tokenizer's vocabulary (about 22,000, English)."""
    vocab = Path(packaged_minilm_path()) / "vocab.txt"
    words = (line.strip() for line in vocab.read_text(encoding="utf-8").splitlines())
    return frozenset(w for w in words if w.isalpha() and w.isascii())


@cache
def _pair_model() -> dict[str, float]:
    """Log-probability of each letter pair in English words; ``""`` holds the floor for unseen pairs."""
    counts: Counter[str] = Counter()
    for word in _english_words():
        padded = f"^{word.lower()}$"
        counts.update(padded[i : i + 2] for i in range(len(padded) - 1))
    total = sum(counts.values())
    model = {pair: math.log((n + 0.5) / total) for pair, n in counts.items()}
    model[""] = math.log(0.5 / total)
    return model
