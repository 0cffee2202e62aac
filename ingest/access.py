"""Which documents are restricted (e.g. exempt reports under Schedule 12A), read from the corpus itself.

A document is restricted when either

* a sidecar file sits beside it, named after it with ``.restricted`` added
  (``report.pdf.restricted``); its first line, if any, is the reason shown to
  officers ("Exempt: Schedule 12A paragraph 3"); or
* its ``MANIFEST.tsv`` row has a ``restricted`` column whose value is not one of
  ``no``, ``false``, ``0``, ``-`` or empty. ``yes``/``true``/``1`` mark it
  restricted without a reason; any other text is taken as the reason.

Unknown values count as restricted: a typo must not publish an exempt report.
The marking is read on every ingest run, also for files whose content did not
change, so restricting (or releasing) a document never needs a re-embed.
"""

from __future__ import annotations

from pathlib import Path

from ingest.corrections import is_meta_sidecar
from ingest.metadata import ManifestIndex

SIDECAR_SUFFIX = ".restricted"
MANIFEST_COLUMN = "restricted"
_PUBLIC = {"", "-", "no", "n", "false", "0", "public"}
_PLAIN_YES = {"yes", "y", "true", "1", "restricted"}
#: The reason recorded when a marking gives none.
DEFAULT_REASON = "restricted"


def is_sidecar(path: Path) -> bool:
    """A restriction marker or a metadata correction rather than a document (never ingested nor reported skipped)."""
    return path.name.endswith(SIDECAR_SUFFIX) or is_meta_sidecar(path)


def sidecar_for(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def restriction(path: Path, manifests: ManifestIndex | None = None) -> str | None:
    """The reason ``path`` is restricted, or None when it is public."""
    marker = sidecar_for(path)
    if marker.is_file():
        try:
            first = marker.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            first = []
        return (first[0].strip() if first else "") or DEFAULT_REASON
    row = manifests.find(path) if manifests is not None else None
    if row is None:
        return None
    value = (row.get(MANIFEST_COLUMN) or "").strip()
    if value.lower() in _PUBLIC:
        return None
    return DEFAULT_REASON if value.lower() in _PLAIN_YES else value
