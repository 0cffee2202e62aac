"""Count word pieces exactly as the embedding model will see them.

Chunk sizes are set in the embedder's own tokens because a sentence-transformers
model silently truncates anything past its window (256 word pieces for
all-MiniLM-L6-v2): a chunk that does not fit is partly invisible to dense
retrieval. Only the fast tokenizer is loaded here, so parse workers can size
chunks without loading the model.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

DEFAULT_WINDOW = 256


class TokenCounter:
    """Counts tokens with the model's ``tokenizer.json``; knows the model's window."""

    def __init__(self, model_path: str) -> None:
        path = Path(model_path)
        self._tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tok.no_truncation()
        self._tok.no_padding()
        self.window = _read_window(path)

    def count(self, texts: list[str]) -> list[int]:
        """Word pieces of each text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        return [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)]

    def count_one(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)


def _read_window(path: Path) -> int:
    cfg = path / "sentence_bert_config.json"
    if cfg.exists():
        return int(json.loads(cfg.read_text()).get("max_seq_length", DEFAULT_WINDOW))
    return DEFAULT_WINDOW


@lru_cache(maxsize=4)
def token_counter(model_path: str) -> TokenCounter:
    """One counter per model per process."""
    return TokenCounter(model_path)
