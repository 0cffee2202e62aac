"""Zip packages (DOCX, XLSX, PPTX) checked before a parser unpacks them.

A zip bomb is a small file that unpacks to gigabytes: 1 MB of deflated spaces
becomes 1 GB of XML. python-docx reads every part of a package into memory,
so the package is checked first, without unpacking anything big:

1. the sizes the package declares: how many parts, how much they unpack to in
   total (``CLERK_MAX_UNZIPPED_MB``), and how far each large part expands
   (more than :data:`MAX_RATIO` times is not an office document);
2. then every part is streamed through the decompressor in 1 MB steps,
   counting what actually comes out, so a package that lies about its sizes is
   caught too: Python's zipfile stops at the declared size and the part's
   CRC-32 no longer matches, which is reported as damage. Memory stays at a
   few MB whatever the package holds.

An Office file saved with a password is not a zip package at all but an OLE
compound file holding the encrypted package, as is an old binary .doc, .xls
or .ppt; :func:`check_package` says which before any parser sees it.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from clerk.settings import Settings
from ingest.types import IngestError

#: More parts than any real office document has.
MAX_PARTS = 10_000
#: Deflated XML expands 5-30 times; 1,000 times is the deflate ceiling a bomb aims for.
MAX_RATIO = 200
#: Parts smaller than this are never refused for their ratio (tiny parts compress oddly).
RATIO_FLOOR = 1 << 20
_STEP = 1 << 20
#: The first bytes of an OLE compound file: an old binary Office file, or an Office file saved with a password.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: The stream that holds the package of a password-protected Office file, as its OLE directory names it.
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")


def check_package(path: Path, settings: Settings, kind: str, suffix: str, old_format: str) -> None:
    """Refuse what is not a complete, safely sized zip package of ``suffix`` (".xlsx"; before 2007 ``old_format``).

    Office libraries only say "not a zip file" (or "package not found") for a
    password-protected file, which leaves an officer guessing; the reason here
    says what to do about it.
    """
    if not zipfile.is_zipfile(path):
        with path.open("rb") as fh:
            is_ole = fh.read(len(OLE_MAGIC)) == OLE_MAGIC
        if is_ole and _holds_encrypted_package(path):
            raise IngestError(f"not a readable {kind}: it is protected with a password (save it without one)")
        if is_ole:  # an OLE file without an encrypted package is a pre-2007 binary file
            raise IngestError(f"not a readable {kind}: it is an old binary {old_format} file (save it as {suffix})")
        raise IngestError(f"not a readable {kind}: it is not a complete zip package")
    check_zip(path, settings, kind)


def _holds_encrypted_package(path: Path) -> bool:
    """Whether an OLE file's directory names an ``EncryptedPackage`` stream (read in 1 MB steps)."""
    tail = b""
    with path.open("rb") as fh:
        while block := fh.read(_STEP):
            if _ENCRYPTED_STREAM in tail + block:
                return True
            tail = block[-len(_ENCRYPTED_STREAM) :]
    return False


def check_zip(path: Path, settings: Settings, kind: str) -> None:
    """Raise :class:`IngestError` for a package that is damaged or would unpack to too much; ``kind`` names it."""
    limit = int(settings.max_unzipped_mb * 1024 * 1024)
    try:
        with zipfile.ZipFile(path) as package:
            parts = package.infolist()
            _check_declared(parts, limit, settings, kind)
            _check_actual(package, parts, limit, settings, kind)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise IngestError(f"not a readable {kind}: the zip package is damaged ({str(exc)[:100]})") from exc
    except (NotImplementedError, RuntimeError) as exc:  # an unknown compression method, an encrypted part
        raise IngestError(f"not a readable {kind}: {str(exc)[:100]}") from exc


def _check_declared(parts: list[zipfile.ZipInfo], limit: int, settings: Settings, kind: str) -> None:
    if len(parts) > MAX_PARTS:
        raise IngestError(f"{kind} refused as a zip bomb: it has {len(parts):,} parts (at most {MAX_PARTS:,})")
    total = sum(p.file_size for p in parts)
    if total > limit:
        raise IngestError(
            f"{kind} refused as a zip bomb: it would unpack to {_mb(total)}, over the "
            f"{settings.max_unzipped_mb:g} MB limit (CLERK_MAX_UNZIPPED_MB)"
        )
    for part in parts:
        if part.file_size > RATIO_FLOOR and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            ratio = part.file_size / max(part.compress_size, 1)
            raise IngestError(
                f"{kind} refused as a zip bomb: {part.filename} expands {ratio:,.0f}-fold "
                f"to {_mb(part.file_size)} (office files stay under {MAX_RATIO}-fold)"
            )


def _check_actual(
    package: zipfile.ZipFile, parts: list[zipfile.ZipInfo], limit: int, settings: Settings, kind: str
) -> None:
    """Stream every part, counting real output; a part longer than it claims fails its CRC check."""
    unpacked = 0
    for part in parts:
        if part.is_dir():
            continue
        with package.open(part) as stream:
            while block := stream.read(_STEP):
                unpacked += len(block)
                if unpacked > limit:
                    raise IngestError(
                        f"{kind} refused as a zip bomb: it unpacks to more than "
                        f"{settings.max_unzipped_mb:g} MB (CLERK_MAX_UNZIPPED_MB)"
                    )


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"
