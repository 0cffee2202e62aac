"""One ingest run at a time per index, across threads and processes.

A run starts by reconciling Chroma with the registry: vectors no registry row
names are removed as the leftovers of a crashed run. Another run's vectors,
written just before their registry commit, look exactly like that; so runs on
one index take turns. The lock is an ``flock`` on ``<index>/ingest.lock``: the
kernel releases it when its holder exits or is killed, so a crashed run never
leaves an index locked, and two threads of one process (the web app's upload
and a second one) exclude each other because each opens the file anew.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: runs are not serialised (documented)
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "ingest.lock"


@contextmanager
def ingest_lock(index: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the index's ingest lock for the ``with`` block; ``on_wait`` is called once if another run holds it."""
    if fcntl is None:
        yield
        return
    index.mkdir(parents=True, exist_ok=True)
    with (index / LOCK_NAME).open("a+b") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
