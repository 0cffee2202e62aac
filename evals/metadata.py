"""How well metadata is inferred without a manifest: every document of a corpus against its ``MANIFEST.tsv`` row.

Councils do not write manifests: they drop a folder in. So the corpus's council
folders are copied, without ``MANIFEST.tsv`` or ``.clerkignore``, into a
temporary folder, and each file's inferred council, type, title and date is
compared with what the manifest says:

* **council**: the same slug. A document *names* its council when its folder,
  its file name or its text carries the manifest's council (the folder slug, the
  council's place name or initials); every such document must come out right.
* **type**: the same ``doc_type``.
* **title**: word overlap (F1 of lower-cased words) with the manifest's title,
  and the share of documents at 0.5 or more.
* **date**: where the manifest gives a date, the inferred one agrees with it at
  the manifest's precision ("2019-10" is met by "2019-10" or "2019-10-03").

    python -m evals.metadata [--corpus DIR] [--json] [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from clerk.settings import PROJECT_ROOT, Settings
from ingest.discover import discover
from ingest.loaders.properties import document_properties
from ingest.metadata import MANIFEST_NAME, detect_all_councils, infer_metadata
from ingest.registry import Registry
from ingest.types import IngestError

_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Compared:
    file: str
    council: str
    council_expected: str
    named: bool
    doc_type: str
    doc_type_expected: str
    title: str
    title_expected: str
    title_f1: float
    date: str
    date_expected: str
    notes: str = ""

    @property
    def council_ok(self) -> bool:
        return self.council == self.council_expected

    @property
    def type_ok(self) -> bool:
        return self.doc_type == self.doc_type_expected

    @property
    def date_ok(self) -> bool | None:
        """None when the manifest gives no date."""
        if not self.date_expected:
            return None
        return self.date.startswith(self.date_expected)

    @property
    def date_agrees(self) -> bool | None:
        """The same date at the coarser of the two precisions ("2025-02" agrees with "2025-02-13"); None: no date."""
        if not self.date_expected:
            return None
        return bool(self.date) and (self.date.startswith(self.date_expected) or self.date_expected.startswith(self.date))


def title_f1(a: str, b: str) -> float:
    """Word-overlap F1 of two titles (lower-cased words; order and punctuation ignored)."""
    x, y = _WORD.findall(a.lower()), _WORD.findall(b.lower())
    if not x or not y:
        return 0.0
    common = sum(min(x.count(w), y.count(w)) for w in set(x))
    if not common:
        return 0.0
    p, r = common / len(x), common / len(y)
    return 2 * p * r / (p + r)


def names_its_council(rel: str, text: str, council: str) -> bool:
    """Does the folder, file name or text carry the council ``council`` (a slug such as ``kent-cc``)?"""
    folder, name = (rel.split("/", 1) + [""])[:2] if "/" in rel else ("", rel)
    if folder == council or name.lower().startswith(council.split("-")[0]):
        return True
    for found in detect_all_councils(text):
        if council in (found.slug, found.initials) or found.slug.startswith(council + "-"):
            return True
    return False


def manifest_rows(corpus: Path) -> dict[str, dict[str, str]]:
    with (corpus / MANIFEST_NAME).open(encoding="utf-8", newline="") as fh:
        return {r["file"]: r for r in csv.DictReader(fh, delimiter="\t")}


def compare(corpus: Path) -> list[Compared]:
    """Every manifest row's file, copied without the manifest and inferred, against its row."""
    from ingest.parse import read_pages

    rows = manifest_rows(corpus)
    out = []
    with tempfile.TemporaryDirectory(prefix="clerk-meta-") as tmp:
        root = copy_without_manifest(corpus, Path(tmp) / "documents")
        settings = Settings()
        for path in discover([root]).files:
            rel = path.relative_to(root).as_posix()
            row = rows[rel]
            try:
                read = read_pages(path, settings)
            except IngestError:
                continue
            pages = read.pages
            meta = infer_metadata(path, pages, read.furniture, document_properties(path))
            text = "\n".join(p.text for p in pages)
            date_expected = row.get("date", "").strip()
            out.append(Compared(
                file=rel, council=meta.council, council_expected=row["council"],
                named=names_its_council(rel, text, row["council"]),
                doc_type=meta.doc_type, doc_type_expected=row["doc_type"],
                title=meta.title, title_expected=row["title"], title_f1=round(title_f1(meta.title, row["title"]), 3),
                date=meta.date, date_expected="" if date_expected == "-" else date_expected, notes=meta.notes,
            ))
    return out


def compare_index(registry: Registry, root: Path, corpus: Path) -> list[Compared]:
    """The metadata an index built from ``root`` (a manifest-less copy of ``corpus``) holds, against the manifest."""
    rows = manifest_rows(corpus)
    out = []
    for rec in registry.documents():
        rel = Path(rec.path).relative_to(root).as_posix()
        if rec.status != "indexed" or rel not in rows:
            continue
        row = rows[rel]
        text = "\n".join(p.text for p in registry.pages(rec.doc_id))
        date_expected = row.get("date", "").strip()
        out.append(Compared(
            file=rel, council=rec.council or "", council_expected=row["council"],
            named=names_its_council(rel, text, row["council"]), doc_type=rec.doc_type or "",
            doc_type_expected=row["doc_type"], title=rec.title or "", title_expected=row["title"],
            title_f1=round(title_f1(rec.title or "", row["title"]), 3), date=rec.date or "",
            date_expected="" if date_expected == "-" else date_expected, notes=rec.meta_origin or "",
        ))
    return out


def copy_without_manifest(corpus: Path, dest: Path) -> Path:
    """The council folders of ``corpus`` under ``dest``, as a council would drop them in: no manifest, no ignore file."""
    for rel in manifest_rows(corpus):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(corpus / rel, target)
    return dest


def summary(rows: list[Compared]) -> dict:
    named = [r for r in rows if r.named]
    dated = [r for r in rows if r.date_ok is not None]
    return {
        "documents": len(rows),
        "council_right": sum(r.council_ok for r in rows),
        "council_named": len(named),
        "council_right_where_named": sum(r.council_ok for r in named),
        "type_right": round(sum(r.type_ok for r in rows) / len(rows), 3) if rows else 0.0,
        "title_f1_mean": round(sum(r.title_f1 for r in rows) / len(rows), 3) if rows else 0.0,
        "title_f1_at_least_half": round(sum(r.title_f1 >= 0.5 for r in rows) / len(rows), 3) if rows else 0.0,
        "dates_given": len(dated),
        "date_right": round(sum(bool(r.date_ok) for r in dated) / len(dated), 3) if dated else 0.0,
        "date_agrees": round(sum(bool(r.date_agrees) for r in dated) / len(dated), 3) if dated else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.metadata", description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=PROJECT_ROOT / "corpus")
    ap.add_argument("--json", action="store_true", help="print every document's comparison as JSON")
    ap.add_argument("--out", type=Path, help="also write the summary and rows to this JSON file")
    args = ap.parse_args(argv)
    rows = compare(args.corpus)
    result = {"summary": summary(rows), "documents": [asdict(r) | {"council_ok": r.council_ok, "type_ok": r.type_ok,
                                                                     "date_ok": r.date_ok} for r in rows]}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    for r in rows:
        flags = "".join(c if ok else "!" for c, ok in (("C", r.council_ok), ("T", r.type_ok),
                                                       ("D", r.date_ok is not False)))
        print(f"{flags} {r.title_f1:4.2f} {r.file}\n      council {r.council} (manifest {r.council_expected}), "
              f"type {r.doc_type} ({r.doc_type_expected}), date {r.date or '-'} ({r.date_expected or '-'})\n"
              f"      title {r.title!r}\n      manifest {r.title_expected!r}")
    print(json.dumps(result["summary"], indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
