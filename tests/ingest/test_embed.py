"""The lazily loaded embedder: nothing loaded until needed, then the same vectors as the eager one."""

from __future__ import annotations

import numpy as np
import pytest

from clerk.settings import Settings
from ingest.embed import LazyEmbedder

pytestmark = pytest.mark.slow


def test_loads_on_first_use_and_embeds_as_the_eager_embedder(embedder) -> None:
    lazy = LazyEmbedder(Settings().embed_model_path, embedder.batch_size)
    assert not lazy.loaded
    texts = ["The quorum of the council is one third of its members.", "Reserves are held at £30m."]
    assert np.allclose(lazy.embed(texts), embedder.embed(texts), atol=1e-5)
    assert lazy.loaded and lazy.get() is lazy.get()
    assert lazy.dimension == embedder.dimension and lazy.embed_query(texts[0]).shape == (embedder.dimension,)


def test_a_model_that_cannot_load_fails_each_caller(tmp_path) -> None:
    lazy = LazyEmbedder(str(tmp_path / "no-such-model"))
    for _ in range(2):
        with pytest.raises(Exception, match="no-such-model"):
            lazy.embed_query("anything")
    assert not lazy.loaded


_PROBE = """
import os, sys
sys.path.insert(0, sys.argv[1])
os.environ.pop("OMP_WAIT_POLICY", None)
from clerk.settings import Settings
if sys.argv[2] == "assistant":
    from assistant import Assistant
    Assistant(Settings(index=sys.argv[3])).embedder.get()
else:
    from ingest.pipeline import Ingester
    Ingester(Settings(index=sys.argv[3])).embedder
print(os.environ.get("OMP_WAIT_POLICY", "default"))
"""


@pytest.mark.parametrize(
    ("who", "env", "policy"),
    [("assistant", {}, "PASSIVE"), ("assistant", {"CLERK_ANSWER_WAIT_POLICY": ""}, "default"),
     ("assistant", {"CLERK_ANSWER_WAIT_POLICY": "active"}, "ACTIVE"), ("ingest", {}, "default")],
)  # fmt: skip
def test_processes_that_answer_let_model_threads_sleep(tmp_path, who, env, policy) -> None:
    import subprocess
    import sys

    from tests.helpers import ROOT, server_env

    cmd = [sys.executable, "-c", _PROBE, str(ROOT), who, str(tmp_path / "index")]
    got = subprocess.run(cmd, capture_output=True, text=True, env=server_env() | env, check=True, timeout=300)
    assert got.stdout.strip().splitlines()[-1] == policy
