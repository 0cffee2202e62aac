"""Hostile and broken files, built at test time from real corpus text.

Each builder writes a small file that reproduces one kind of damage seen in
real document collections, streaming where the file is large, so tests never
hold a big file in memory or on disk.
"""

from __future__ import annotations

import random
import string
import struct
import zipfile
import zlib
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from tests.helpers import corpus_file

#: Real council prose (ASCII, so the standard PDF fonts draw it) for garbled-layer PDFs.
SOURCE_TEXT = "nwldc/lga-peer-challenge-progress-review-2025.txt"


def prose_lines(width: int = 85, skip: int = 0, count: int = 40) -> list[str]:
    """Lines of real council prose, wrapped at ``width``, ASCII only."""
    text = corpus_file(SOURCE_TEXT).read_text(encoding="utf-8")
    text = text.translate({0x2019: "'", 0x2018: "'", 0x201C: '"', 0x201D: '"', 0x2013: "-", 0x2014: "-", 0xA3: "GBP "})
    words = [w for w in text.split() if w.isascii()]
    lines, line = [], ""
    for word in words:
        if len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return lines[skip : skip + count]


def scrambled_alphabet(seed: int) -> dict[str, str]:
    """A seeded letter-for-letter substitution (case kept): what a broken font map does to letters."""
    rng = random.Random(seed)
    lower = list(string.ascii_lowercase)
    shuffled = lower[:]
    while any(a == b for a, b in zip(lower, shuffled, strict=True)):
        rng.shuffle(shuffled)
    table = dict(zip(lower, shuffled, strict=True))
    table |= {a.upper(): b.upper() for a, b in table.items()}
    return table


def pdf_with_text_layers(path: Path, pages: list[list[str]], garbled: set[int], seed: int = 3) -> Path:
    """A PDF drawing ``pages`` of text in Helvetica; on the 1-based pages in ``garbled`` the text layer lies.

    Those pages' font carries a ``/ToUnicode`` map that sends each letter to a
    different one, as a broken font subset does: the page looks right (and OCR
    reads it) but copying or extracting its text gives letter soup.
    """
    table = scrambled_alphabet(seed)
    cmap = _to_unicode_cmap(table).encode("ascii")
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below, once the page tree exists
    tree = add(b"")
    plain_font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    cmap_id = add(b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream")
    lying_font = add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding /ToUnicode %d 0 R >>" % cmap_id
    )
    kids = []
    for number, lines in enumerate(pages, 1):
        ops = ["BT /F1 10 Tf 14 TL 60 760 Td"]
        ops += [f"({_pdf_string(line)}) Tj T*" for line in lines]
        ops.append("ET")
        content = "\n".join(ops).encode("latin-1")
        stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        font = lying_font if number in garbled else plain_font
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (tree, stream, font)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    path.write_bytes(_pdf_file(objects, catalog))
    return path


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _to_unicode_cmap(table: dict[str, str]) -> str:
    entries = [f"<{ord(c):02X}> <{ord(table.get(c, c)):04X}>" for c in map(chr, range(32, 127))]
    chunks = [entries[i : i + 100] for i in range(0, len(entries), 100)]
    body = "".join(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar\n" for chunk in chunks)
    return (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
        "1 begincodespacerange <00> <FF> endcodespacerange\n"
        f"{body}endcmap CMapName currentdict /CMap defineresource pop end end"
    )


def _pdf_file(objects: list[bytes], root: int) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


WORD_SOURCE = "hertingfordbury-pc/hpc-grants-policy.docx"
_MIB = 1 << 20


def docx_zip_bomb(path: Path, unpacked_mb: int = 1024, declared_size: int | None = None) -> Path:
    """The corpus grants policy as a .docx whose ``word/document.xml`` unpacks to ``unpacked_mb`` MB.

    The part is the real document with that many megabytes of spaces (valid XML
    whitespace) after ``<w:body>``, deflated to about 1 KB per MB. It is built as
    one 1 MB block compressed once and repeated (each block ends with a full
    flush, so copies can follow each other), so building a 1 GB bomb takes a
    second and little memory. ``declared_size`` makes the zip headers lie about
    the part's unpacked size.
    """
    with zipfile.ZipFile(corpus_file(WORD_SOURCE)) as source:
        parts = [(info.filename, source.read(info)) for info in source.infolist()]
    out = bytearray()
    central = bytearray()
    with path.open("wb") as fh:
        for name, data in parts:
            if name == "word/document.xml":
                prefix, suffix = data.split(b"<w:body>", 1)
                prefix += b"<w:body>"
                head = _deflate(prefix, zlib.Z_FULL_FLUSH)
                block = _deflate(b" " * _MIB, zlib.Z_FULL_FLUSH)
                tail = _deflate(suffix, zlib.Z_FINISH)
                crc = zlib.crc32(prefix)
                spaces = b" " * (16 * _MIB)
                for _ in range(unpacked_mb // 16):
                    crc = zlib.crc32(spaces, crc)
                for _ in range(unpacked_mb % 16):
                    crc = zlib.crc32(spaces[:_MIB], crc)
                crc = zlib.crc32(suffix, crc)
                size = len(prefix) + unpacked_mb * _MIB + len(suffix)
                packed = len(head) + unpacked_mb * len(block) + len(tail)
                chunks = [head, *([block] * unpacked_mb), tail]
            else:
                deflated = _deflate(data, zlib.Z_FINISH)
                crc, size, packed, chunks = zlib.crc32(data), len(data), len(deflated), [deflated]
            claimed = size if declared_size is None or name != "word/document.xml" else declared_size
            offset = fh.tell() + len(out)
            out += _zip_header(b"PK\x03\x04", name, crc, packed, claimed)
            fh.write(out)
            out.clear()
            for chunk in chunks:
                fh.write(chunk)
            central += _zip_header(b"PK\x01\x02", name, crc, packed, claimed, offset)
        start = fh.tell()
        fh.write(central)
        fh.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(parts), len(parts), len(central), start, 0))
    return path


def _deflate(data: bytes, mode: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(mode)


def _zip_header(signature: bytes, name: str, crc: int, packed: int, size: int, offset: int | None = None) -> bytes:
    """A local file header, or (with ``offset``) a central directory entry, for one deflated part."""
    encoded = name.encode("utf-8")
    common = struct.pack("<HHHHLLLHH", 0, 8, 0, 0x21, crc, packed, size, len(encoded), 0)
    if offset is None:
        return signature + struct.pack("<H", 20) + common + encoded
    return signature + struct.pack("<HH", 20, 20) + common + struct.pack("<HHHLL", 0, 0, 0, 0, offset) + encoded


def docx_entity_bomb(path: Path, levels: int = 9) -> Path:
    """The corpus grants policy with a "billion laughs" DTD in ``word/document.xml``.

    Ten ``lol`` entities per level over ``levels`` levels, the last referenced
    in the heading's first word: resolved, that ``&lol9;`` alone would expand
    to 10**9 copies of "lol" (3 GB). A parser that does not resolve entities
    reads the document without it; libxml2 refuses to parse one whose entities
    amplify too much (here from five levels up) whether it resolves them or not.
    """
    entities = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (k, (b"&lol%d;" % (k - 1) if k > 1 else b"&lol;") * 10) for k in range(1, levels + 1)
    )
    with zipfile.ZipFile(corpus_file(WORD_SOURCE)) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                declaration, rest = data.split(b"?>", 1)
                heading = b"<w:t>Grants</w:t>"  # the heading's first run: " Policy" is in the next one
                assert heading in rest, "the grants policy's heading is not where the bomb puts its entity"
                rest = rest.replace(heading, b"<w:t>Grants &lol%d;</w:t>" % levels, 1)
                data = declaration + b"?><!DOCTYPE w:document [" + entities + b"]>" + rest
            z.writestr(info.filename, data)
    return path


#: Trafford's members' allowances scheme: its page 9 (the mileage rates) is the page repeated below.
PART6 = "trafford/trafford-constitution-part-6-members-allowances.pdf"


def repeated_page_pdf(path: Path, copies: int = 1000, page_index: int = 8) -> Path:
    """Page 9 of Trafford's allowances scheme (the mileage rates), ``copies`` times.

    What a form printed a thousand times, or a scan fed through over and over,
    looks like to ingest: one page of real text and a thousand page numbers.
    """
    source = PdfReader(corpus_file(PART6))
    writer = PdfWriter()
    for _ in range(copies):
        writer.add_page(source.pages[page_index])
    with path.open("wb") as fh:
        writer.write(fh)
    return path
