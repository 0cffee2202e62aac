"""An officer's corrections of a document's council, type, title and date, and how they take effect.

Inference gets some documents wrong and councils will not write manifests, so
the people who know a document can say what it is: ``clerk docs --set FILE
council=trafford type=standing_orders``, or the Documents tab. A correction

* wins over the manifest and over inference, field by field;
* is kept in the registry (``documents.overrides``), so a re-ingest of the same
  file, changed or not, keeps it; for a file uploaded through the web app it is
  also written beside the file as ``<file>.meta.toml``, which travels with the
  file into any index (a corpus folder can carry such sidecars too, and an edit
  of one is picked up by the next ``clerk ingest``);
* takes effect at once, without reading the file again: the document's row and
  its chunks' copies of the metadata change, and only a new title (which every
  chunk's embedded text starts with) makes its chunks be embedded again.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.metadata import DOC_TYPES
from ingest.types import DocumentMeta

if TYPE_CHECKING:
    from ingest.embed import Embedder
    from ingest.registry import DocumentRecord
    from ingest.store import Store

#: Beside ``report.pdf``: ``report.pdf.meta.toml``, one ``field = "value"`` line per corrected field.
SIDECAR_SUFFIX = ".meta.toml"
#: Names a correction may use for each field (``type`` is what people say; ``doc_type`` what the index calls it).
FIELD_NAMES = {"council": "council", "type": "doc_type", "doc_type": "doc_type", "title": "title", "date": "date"}
_ISO_PARTIAL = re.compile(r"^(?:19|20)\d{2}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?$")
_COUNCIL_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}$")


class CorrectionError(ValueError):
    """A correction that cannot be applied; the message says which field and why."""


def is_meta_sidecar(path: Path) -> bool:
    return path.name.endswith(SIDECAR_SUFFIX)


def sidecar_for(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["council=trafford", "type=minutes"]`` -> ``{"council": "trafford", "doc_type": "minutes"}``, checked."""
    changes: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise CorrectionError(f"{pair!r}: write FIELD=VALUE (fields: council, type, title, date)")
        changes[key.strip().lower()] = value.strip()
    return validate(changes)


def validate(changes: dict[str, str]) -> dict[str, str]:
    """Field names mapped to the index's, values checked: a council id, a known type, a title, an ISO date."""
    out: dict[str, str] = {}
    for key, value in changes.items():
        field = FIELD_NAMES.get(key)
        if field is None:
            raise CorrectionError(f"unknown field {key!r} (fields: council, type, title, date)")
        value = " ".join(str(value).split())
        if field == "council":
            value = value.lower()
            if not _COUNCIL_ID.match(value):
                raise CorrectionError(f"council {value!r}: use the council's short id, lower case, e.g. trafford or "
                                      "kent-cc")
        elif field == "doc_type" and value not in DOC_TYPES:
            raise CorrectionError(f"type {value!r} is not one of: {', '.join(DOC_TYPES)}")
        elif field == "title" and not value:
            raise CorrectionError("title: give the document's title")
        elif field == "date" and value and not _ISO_PARTIAL.match(value):
            raise CorrectionError(f"date {value!r}: write YYYY, YYYY-MM or YYYY-MM-DD")
        out[field] = value
    return out


def read_sidecar(path: Path) -> dict[str, str]:
    """The corrections stored beside ``path`` ({} when there are none); a broken sidecar raises CorrectionError."""
    marker = sidecar_for(Path(path))
    if not marker.is_file():
        return {}
    try:
        data = tomllib.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CorrectionError(f"{marker.name} cannot be read ({exc})") from exc
    return validate({str(k): str(v) for k, v in data.items()})


def write_sidecar(path: Path, overrides: dict[str, str]) -> Path:
    """Write (or, with no overrides, remove) the corrections beside ``path``."""
    marker = sidecar_for(Path(path))
    if not overrides:
        marker.unlink(missing_ok=True)
        return marker
    names = {v: k for k, v in FIELD_NAMES.items() if k != "doc_type"}  # doc_type is written as "type"
    lines = [f"{names[k]} = {json.dumps(v, ensure_ascii=False)}" for k, v in sorted(overrides.items())]
    marker.write_text("# Corrections of this document's metadata (clerk docs --set, or the Documents tab)\n"
                      + "\n".join(lines) + "\n", encoding="utf-8")
    return marker


def apply(meta: DocumentMeta, overrides: dict[str, str]) -> DocumentMeta:
    """``meta`` with the corrected fields in place, its note saying which were corrected."""
    if not overrides:
        return meta
    fields = {k: v for k, v in overrides.items() if k in ("council", "doc_type", "title", "date")}
    note = f"corrected by an officer: {', '.join(sorted(names(fields)))}"
    return replace(meta, **fields, notes=f"{note}; {meta.notes}" if meta.notes else note)


def names(fields: dict[str, str]) -> list[str]:
    """Field names as people say them: ``doc_type`` is "type"."""
    return ["type" if k == "doc_type" else k for k in fields]


@dataclass
class Correction:
    """What a correction changed, and whether the document's chunks had to be embedded again."""

    doc_id: str
    source: str
    changed: dict[str, tuple[str, str]]  # field -> (before, after)
    reembedded: int = 0
    sidecar: Path | None = None

    def summary(self) -> str:
        if not self.changed:
            return f"{self.source}: nothing to change"
        parts = [f"{'type' if k == 'doc_type' else k} {a!r} -> {b!r}" for k, (a, b) in self.changed.items()]
        tail = f"; {self.reembedded} passages embedded again (the title is part of them)" if self.reembedded else \
            "; no passage needed embedding again"
        return f"{self.source}: " + ", ".join(parts) + tail


def correct(store: Store, embedder: Embedder, rec: DocumentRecord, changes: dict[str, str],
            uploads: Path | None = None) -> Correction:
    """Apply ``changes`` (already :func:`validate`-d) to an indexed document and keep them.

    The registry keeps the document's corrections so that a re-ingest applies
    them again; a file inside ``uploads`` (the web app's folder) also gets a
    sidecar. Only a changed title has the chunks embedded again.
    """
    from ingest.chunk import embedding_text

    before = {"council": rec.council or "", "doc_type": rec.doc_type or "", "title": rec.title or "",
              "date": rec.date or ""}
    changed = {k: (before[k], v) for k, v in changes.items() if before.get(k) != v}
    overrides = rec.overrides | changes
    result = Correction(rec.doc_id, rec.source, changed)
    if not changed and overrides == rec.overrides:
        return result
    for k, v in changes.items():
        setattr(rec, k, v)
    rec.overrides = overrides
    note = f"corrected by an officer: {', '.join(sorted(names(overrides)))}"
    origin = rec.meta_origin or ""
    rec.meta_origin = note + (f"; before: {origin}" if origin and not origin.startswith("corrected") else "")
    vectors = None
    if "title" in changed and rec.status in ("indexed", "stale"):
        chunks = store.registry.chunks(doc_id=rec.doc_id)
        embedded = embedder.embed([embedding_text(rec.title or "", c["section"] or "", c["text"]) for c in chunks])
        vectors = {c["id"]: v for c, v in zip(chunks, embedded, strict=True)}
        result.reembedded = len(chunks)
    store.redescribe(rec, vectors)
    path = Path(rec.path)
    if uploads is not None and path.resolve().is_relative_to(Path(uploads).resolve()):
        result.sidecar = write_sidecar(path, overrides)
    return result
