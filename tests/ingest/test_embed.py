"""The lazily loaded embedder: nothing loaded until needed or started, then the same vectors as the eager one."""

from __future__ import annotations

import numpy as np
import pytest

from clerk.settings import Settings
from ingest.embed import LazyEmbedder

pytestmark = pytest.mark.slow


def test_loads_on_a_thread_and_embeds_as_the_eager_embedder(embedder) -> None:
    lazy = LazyEmbedder(Settings().embed_model_path, embedder.batch_size)
    assert not lazy.loaded
    lazy.start().join(timeout=300)
    assert lazy.loaded and lazy.get() is lazy.get()
    texts = ["The quorum of the council is one third of its members.", "Reserves are held at £30m."]
    assert np.allclose(lazy.embed(texts), embedder.embed(texts), atol=1e-5)
    assert lazy.dimension == embedder.dimension and lazy.embed_query(texts[0]).shape == (embedder.dimension,)


def test_a_model_that_cannot_load_fails_the_caller_not_the_thread(tmp_path) -> None:
    lazy = LazyEmbedder(str(tmp_path / "no-such-model"))
    lazy.start().join(timeout=300)  # the thread ends quietly
    assert not lazy.loaded
    with pytest.raises(Exception, match="no-such-model"):
        lazy.embed_query("anything")
