"""Shared fixtures: real corpus files, a real embedder loaded once, real Chroma indexes in tmp folders."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from clerk.settings import Settings  # noqa: E402


@pytest.fixture(scope="session")
def embedder():
    from ingest.embed import Embedder

    s = Settings()
    return Embedder(s.embed_model_path, s.embed_batch_size)


@pytest.fixture(scope="session")
def counter():
    from ingest.tokens import token_counter

    return token_counter(Settings().embed_model_path)
