"""Find the files to ingest under the paths a user gave.

Folders are walked recursively in a stable order. A ``.clerkignore`` file in a
folder (gitignore-like globs, ``#`` comments) excludes files from it and the
folders below it, so a corpus can carry its README and manifest without them
being indexed as documents. Restriction markers (``report.pdf.restricted``,
see :mod:`ingest.access`) are never documents. Files of unsupported types found while walking a
folder are listed as skipped; an unsupported file named explicitly is an error.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from ingest.access import is_sidecar
from ingest.loaders import SUPPORTED_SUFFIXES

IGNORE_FILE = ".clerkignore"
ALWAYS_IGNORED = ("MANIFEST.tsv", IGNORE_FILE)


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)  # absolute paths to process
    skipped: list[Path] = field(default_factory=list)  # unsupported types met while walking folders
    missing: list[Path] = field(default_factory=list)  # paths given that do not exist


def _patterns(folder: Path) -> list[str]:
    f = folder / IGNORE_FILE
    if not f.is_file():
        return []
    lines = (ln.strip() for ln in f.read_text(encoding="utf-8", errors="replace").splitlines())
    return [ln for ln in lines if ln and not ln.startswith("#")]


def _ignored(rel: str, name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(rel, p.strip("/")) or fnmatch.fnmatch(name, p.strip("/")) for p in patterns)


def discover(paths: list[Path]) -> Discovery:
    """Expand ``paths`` (files or folders) into the files to ingest."""
    out = Discovery()
    seen: set[Path] = set()
    for given in paths:
        path = Path(os.path.abspath(given))
        if not path.exists():
            out.missing.append(Path(given))
            continue
        if path.is_file():
            if path not in seen:
                seen.add(path)
                out.files.append(path)
            continue
        inherited: list[tuple[Path, list[str]]] = []
        for folder, dirs, files in os.walk(path):
            here = Path(folder)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            pats = _patterns(here)
            if pats:
                inherited.append((here, pats))
            for name in sorted(files):
                if name.startswith(".") or name in ALWAYS_IGNORED or is_sidecar(Path(name)):
                    continue
                file = here / name
                if any(
                    file.is_relative_to(base) and _ignored(file.relative_to(base).as_posix(), name, p)
                    for base, p in inherited
                ):
                    continue
                if file.suffix.lower() not in SUPPORTED_SUFFIXES:
                    out.skipped.append(file)
                elif file not in seen:
                    seen.add(file)
                    out.files.append(file)
    return out


def source_for(path: Path, cwd: Path | None = None) -> str:
    """The path to show and cite: relative to the working folder where possible."""
    cwd = cwd or Path.cwd()
    try:
        return path.resolve().relative_to(cwd.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
