"""Descriptive metadata of a document: council, type, title and date.

Two sources, field by field:

1. **The manifest.** A ``MANIFEST.tsv`` in the file's folder or one of its ancestors, with one row per file. A person
   curated it, so a non-empty manifest field always wins.
2. **Inference** from the file's path and the text of its first page(s). This covers files without a row (a user's
   own folder) and empty manifest fields. It uses cheap, explainable rules (regexes over the first few thousand
   characters) and no model. Rules make predictable mistakes that a reader can audit and a manifest row can fix. A
   model would make silent ones.

Everything here is a pure function of its inputs, apart from :class:`ManifestIndex`, which caches parsed manifests so
each ``MANIFEST.tsv`` is read once per process. A broken manifest never stops an ingest. Malformed lines are skipped
and reported through ``warnings``.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date as _date
from pathlib import Path
from typing import Protocol

from ingest.loaders.properties import DocumentProperties
from ingest.structure import CONTENTS
from ingest.types import UNKNOWN_COUNCIL, DocumentMeta, Page

#: Vocabulary of ``doc_type``. It holds every value used in the bundled ``corpus/MANIFEST.tsv``, and inference only
#: ever returns one of these. Other manifest values are kept but draw a warning.
DOC_TYPES: tuple[str, ...] = (
    "peer_review",
    "constitution",
    "standing_orders",
    "financial_regulations",
    "code_of_conduct",
    "productivity_plan",
    "cabinet_report",
    "committee_report",
    "minutes",
    "agenda",
    "budget",
    "accounts",
    "governance_statement",
    "policy",
    "risk_register",
    "performance_report",
    "terms_of_reference",
    "case_study",
    "other",
)

MANIFEST_NAME = "MANIFEST.tsv"
#: Columns of the bundled manifest. Only ``file`` is required. Extra columns are kept in the row dict.
MANIFEST_COLUMNS: tuple[str, ...] = (
    "file",
    "council",
    "title",
    "doc_type",
    "date",
    "pages",
    "has_text_layer",
    "source_repo",
    "source_path",
    "source_commit",
    "licence_note",
)
#: How many folders above the file's own folder are searched for a manifest. A corpus is rarely nested deeper, and
#: the bound keeps a lookup from climbing all the way through a home directory.
MAX_MANIFEST_LEVELS = 6
#: Metadata fields that a manifest row can supply. ``-`` means "not recorded", the same as empty.
META_FIELDS: tuple[str, ...] = ("council", "doc_type", "title", "date")

HEAD_CHARS = 3000  # text searched for a council name
DATE_CHARS = 2000  # text of the first page searched for a date: the cover or heading, not the body
TYPE_HEAD_CHARS = 2000  # text searched for structural markers ("To: Cabinet", "MINUTES of a meeting")
TYPE_WORDS_CHARS = 600  # text searched for subject keywords when the file name and title say nothing
TITLE_MAX_LINES = 60  # lines of the first page scanned for a title
TITLE_MAX_CHARS = 160

_ISO_DATE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")


def _wordset(text: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated string (long vocabularies stay readable)."""
    return frozenset(text.split())


# --------------------------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------------------------


class Manifest:
    """One parsed ``MANIFEST.tsv``: rows keyed by the ``file`` column (a path relative to the manifest's folder).

    Parsing is lenient by design. A line with the wrong number of tab-separated fields, an empty or absolute ``file``
    value, or a duplicate row is skipped and described in :attr:`warnings`. An invalid ``date`` is blanked so that
    inference fills it in. No manifest content ever raises.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(os.path.abspath(path))
        self.root = self.path.parent
        self.columns: tuple[str, ...] = ()
        self.rows: dict[str, dict[str, str]] = {}
        self.warnings: list[str] = []
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            self._warn(f"cannot be read ({exc.strerror or exc}); ignored")
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("utf-8", errors="replace")
            self._warn("is not valid UTF-8; undecodable bytes were replaced")
        self._parse(text)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"Manifest({str(self.path)!r}, rows={len(self.rows)}, warnings={len(self.warnings)})"

    def _warn(self, message: str, line: int | None = None) -> None:
        where = f"{self.path}" if line is None else f"{self.path}: line {line}"
        self.warnings.append(f"{where}: {message}")

    def _parse(self, text: str) -> None:
        header_seen = False
        for number, raw in enumerate(text.split("\n"), start=1):
            line = raw.rstrip("\r")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = [f.strip() for f in line.split("\t")]
            if not header_seen:
                header_seen = True
                self.columns = tuple(fields)
                if "file" not in self.columns:
                    self._warn("header has no 'file' column; manifest ignored", number)
                    return
                continue
            if len(fields) != len(self.columns):
                self._warn(
                    f"expected {len(self.columns)} tab-separated fields, found {len(fields)}; line skipped", number
                )
                continue
            row = dict(zip(self.columns, fields, strict=True))
            rel = _normalise_rel(row["file"])
            if not rel:
                self._warn("empty 'file' field; line skipped", number)
                continue
            if rel.startswith("/") or re.match(r"^[A-Za-z]:/", rel) or ".." in rel.split("/"):
                self._warn(
                    f"'file' must be relative to the manifest's folder, got {row['file']!r}; line skipped", number
                )
                continue
            if rel in self.rows:
                self._warn(f"duplicate row for {rel!r}; the first one is kept", number)
                continue
            row["file"] = rel
            value = row.get("date", "")
            if value and value != "-" and not _valid_iso(value):
                self._warn(f"date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD; ignored", number)
                row["date"] = ""
            doc_type = row.get("doc_type", "")
            if doc_type and doc_type != "-" and doc_type not in DOC_TYPES:
                self._warn(f"doc_type {doc_type!r} is not in the vocabulary (kept as given)", number)
            self.rows[rel] = row
        if not header_seen:
            self._warn("is empty; ignored")

    def relative(self, path: Path) -> str | None:
        """``path`` relative to this manifest's folder (POSIX form), or None when the file lies outside it."""
        candidates = [Path(os.path.abspath(path))]
        resolved = candidates[0].resolve()
        if resolved != candidates[0]:
            candidates.append(resolved)
        for candidate in candidates:
            for root in (self.root, self.root.resolve()):
                if candidate.is_relative_to(root):
                    return candidate.relative_to(root).as_posix()
        return None

    def find(self, path: Path) -> dict[str, str] | None:
        """The row describing ``path`` (any form: relative to the working folder, absolute, symlinked), or None."""
        rel = self.relative(path)
        if rel is None:
            return None
        row = self.rows.get(rel)
        return dict(row) if row is not None else None


def _normalise_rel(value: str) -> str:
    rel = value.strip().replace("\\", "/")
    while rel.startswith("./"):
        rel = rel[2:]
    return rel


def _valid_iso(value: str) -> bool:
    if not _ISO_DATE.match(value):
        return False
    parts = [int(p) for p in value.split("-")]
    try:
        _date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        return False
    return True


class RowSource(Protocol):
    """Anything that can look up a manifest row for a file: a :class:`Manifest` or a :class:`ManifestIndex`."""

    def find(self, path: Path) -> dict[str, str] | None: ...


class ManifestIndex:
    """Finds the manifest row of any file. Each ``MANIFEST.tsv`` is parsed once and cached.

    For a file, the search looks in the file's folder and then in up to ``max_levels`` folders above it, stopping at
    the filesystem root. The nearest manifest with a row for the file wins. A nearer manifest without a row does not
    hide one further up, so a sub-folder can carry its own small manifest inside a larger corpus.
    """

    def __init__(self, max_levels: int = MAX_MANIFEST_LEVELS) -> None:
        self.max_levels = max_levels
        self._by_folder: dict[Path, Manifest | None] = {}

    def _manifest_in(self, folder: Path) -> Manifest | None:
        if folder not in self._by_folder:
            candidate = folder / MANIFEST_NAME
            self._by_folder[folder] = Manifest(candidate) if candidate.is_file() else None
        return self._by_folder[folder]

    def manifests_for(self, path: Path) -> list[Manifest]:
        """Manifests that could describe ``path``, nearest first. A folder is searched from itself."""
        start = Path(os.path.abspath(path))
        folder = start if start.is_dir() else start.parent
        found: list[Manifest] = []
        for level, current in enumerate((folder, *folder.parents)):
            if level > self.max_levels:
                break
            manifest = self._manifest_in(current)
            if manifest is not None:
                found.append(manifest)
        return found

    def lookup(self, path: Path) -> tuple[Manifest, dict[str, str]] | None:
        """The manifest holding the row for ``path``, with that row, or None."""
        for manifest in self.manifests_for(path):
            row = manifest.find(path)
            if row is not None:
                return manifest, row
        return None

    def find(self, path: Path) -> dict[str, str] | None:
        """The manifest row for ``path``, or None when no manifest above it lists the file."""
        hit = self.lookup(path)
        return hit[1] if hit else None

    @property
    def manifests(self) -> list[Manifest]:
        """Every manifest parsed so far."""
        return [m for m in self._by_folder.values() if m is not None]

    @property
    def warnings(self) -> list[str]:
        """Problems found in the manifests parsed so far (malformed lines and the like), one string each."""
        return [w for m in self.manifests for w in m.warnings]


def load_manifests(paths: Iterable[Path], max_levels: int = MAX_MANIFEST_LEVELS) -> ManifestIndex:
    """Parse up front the manifests that cover ``paths`` (files or folders) and return the index.

    Warnings about malformed lines are then available at once through ``index.warnings``. The caller can report
    them before the first document is processed.
    """
    index = ManifestIndex(max_levels)
    for path in paths:
        index.manifests_for(Path(path))
    return index


# --------------------------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------------------------

# A tab between a capital and a lone capital is a PDF-to-text cell split inside a word ("FEEDBAC\tK FOLLOW UP").
_SPLIT_WORD_TAB = re.compile(r"(?<=[A-Z])\t(?=[A-Z]\b)")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


def _normalise(text: str) -> str:
    """NFKC (ligatures, odd spaces), one kind of line break, and runs of spaces or tabs collapsed to one space."""
    text = unicodedata.normalize("NFKC", text)
    text = _SPLIT_WORD_TAB.sub("", text)
    text = text.replace("\r\n", "\n")
    # a lone CR is a line break only in old Mac text; in PDF output it sits between words ("of\t\r \xa0the")
    text = text.replace("\r", "\n" if "\n" not in text else " ")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def _head(pages: list[Page], limit: int) -> str:
    """Normalised text of the first pages, up to ``limit`` characters. A blank cover page does not hide the text."""
    parts: list[str] = []
    size = 0
    for page in pages:
        if size >= limit:
            break
        piece = page.text[: limit - size + 200]
        parts.append(piece)
        size += len(piece)
    return _normalise("\n".join(parts))[:limit]


def _first_text(pages: list[Page]) -> str:
    """Normalised text of the first page that has any, limited to what a title or date could come from."""
    for page in pages:
        if page.text.strip():
            return _normalise(page.text[: HEAD_CHARS + 500])
    return ""


_TOKEN_SPLIT = re.compile(r"[\s_.]+|(?<!\d)-|-(?!\d)")


def _name_words(path: Path) -> list[str]:
    """The file name without suffix as words. A hyphen between digits stays ("2019-05-20", "2025-26")."""
    return [t for t in _TOKEN_SPLIT.split(path.stem) if t]


# --------------------------------------------------------------------------------------------------------------
# Council
# --------------------------------------------------------------------------------------------------------------

_CAP_WORD = r"[A-Z][\w'’-]*"
_COUNCIL_NAME = re.compile(rf"(?<![\w'’-])((?:{_CAP_WORD}[ ]+(?:(?:and|AND|&)[ ]+)?){{1,6}})(?i:council)\b(?!['’]s\b)")
_WELSH_COUNCIL = re.compile(
    rf"(?i:cyngor[ ]+(cymuned|tref|sir|dinas))[ ]+({_CAP_WORD}(?:[ ]+(?:a|ac|&)?[ ]*{_CAP_WORD}){{0,3}})"
)
_WELSH_KIND = {"cymuned": "community", "tref": "town", "sir": "county", "dinas": "city"}
# Kinds of council (the words just before "Council") and the slug suffix each one gets.
_KIND_SUFFIX: dict[str, str] = {
    "metropolitan borough": "mbc",
    "county borough": "cbc",
    "royal borough": "rbc",
    "county": "cc",
    "district": "dc",
    "borough": "bc",
    "city": "city",
    "town": "tc",
    "parish": "pc",
    "community": "cc",
}
# Capitalised words that come before "Council" without naming a place ("MEETING OF HERTINGFORDBURY PARISH COUNCIL",
# "To: County Council", "Progress Review North West ... Council" when a cleaner joined lines). The name is what
# follows the last of them.
_NOT_PLACE = _wordset(
    """the this that these those of to for by at in on from with our your its their full local meeting meetings
    minutes member members annual general extraordinary summons agenda report reports cabinet leader chairman chair
    clerk each every all any new dear subject re appendix draft proposed printed extract notice review progress
    feedback plan policy statement study update strategy regulations orders conduct constitution challenge peer
    corporate lga welcome budget committee sub-committee panel board group officers officer executive scrutiny
    association government authority services service team assembly"""
)
_CONNECTORS = frozenset({"and", "&", "a", "ac"})


@dataclass(frozen=True)
class CouncilName:
    """A council named in a document: ``place`` ("North West Leicestershire") and ``kind`` ("district", or "")."""

    place: str
    kind: str = ""

    @property
    def display(self) -> str:
        """Readable form, e.g. "North West Leicestershire District Council"."""
        words = [_smart_case(self.place), self.kind.title() if self.kind else "", "Council"]
        return " ".join(w for w in words if w)

    @property
    def slug(self) -> str:
        """Slug as used for corpus folders: see :func:`council_slug`."""
        return council_slug(self.display)

    @property
    def initials(self) -> str:
        """First letters of every word, "council" included: "nwldc", "kcc", "hpc", "mscc"."""
        words = [w for w in re.split(r"[\s-]+", self.display.lower()) if w and w not in _CONNECTORS]
        return "".join(w[0] for w in words if w[0].isalnum())


def _council_from_words(words: list[str]) -> CouncilName | None:
    """The council named by the capitalised words before "Council", or None when no place name is left."""
    tokens = [w for w in words if w]
    kind = ""
    lowered = [w.lower() for w in tokens]
    for size in (2, 1):
        if len(tokens) >= size and " ".join(lowered[-size:]) in _KIND_SUFFIX:
            kind = " ".join(lowered[-size:])
            tokens = tokens[:-size]
            break
    cut = max((i for i, w in enumerate(tokens) if w.lower() in _NOT_PLACE), default=-1)
    tokens = tokens[cut + 1 :]
    while tokens and tokens[0].lower() in _CONNECTORS:
        tokens = tokens[1:]
    while tokens and tokens[-1].lower() in _CONNECTORS:
        tokens = tokens[:-1]
    if not tokens or any(t.lower() in _KIND_SUFFIX for t in tokens) or OCR_NOISE.search(" ".join(tokens)):
        return None
    return CouncilName(" ".join(tokens), kind)


def detect_council(text: str) -> CouncilName | None:
    """The first council named in ``text`` ("Kent County Council", "MANORDEILO & SALEM COMMUNITY COUNCIL",
    "Cyngor Cymuned Manordeilo a Salem"), or None.

    Names must not run across lines, because a cover puts the title on the line above the council. Capitalised
    words that are not place names ("Meeting of", "Members of the") are cut off the front.
    """
    best: tuple[int, CouncilName] | None = None
    for line_start, line in _lines_with_offsets(text):
        for match in _COUNCIL_NAME.finditer(line):
            council = _council_from_words(match.group(1).split())
            if council is not None:
                best = _earlier(best, (line_start + match.start(), council))
                break
        for match in _WELSH_COUNCIL.finditer(line):
            words = [w for w in match.group(2).split() if w.lower() not in _NOT_PLACE]
            if words:
                council = CouncilName(" ".join(words), _WELSH_KIND[match.group(1).lower()])
                best = _earlier(best, (line_start + match.start(), council))
                break
        if best is not None:
            break
    return best[1] if best else None


def councils_named(text: str) -> list[tuple[CouncilName, int]]:
    """Every distinct council named in ``text`` with how often, most often named first (ties: first named first)."""
    counts: dict[str, list] = {}
    for n, (_, line) in enumerate(_lines_with_offsets(text)):
        found = [_council_from_words(m.group(1).split()) for m in _COUNCIL_NAME.finditer(line)]
        found += [CouncilName(" ".join(w for w in m.group(2).split() if w.lower() not in _NOT_PLACE),
                              _WELSH_KIND[m.group(1).lower()]) for m in _WELSH_COUNCIL.finditer(line)]
        for council in found:
            if council is None or not council.place:
                continue
            counts.setdefault(council.slug, [0, n, council])[0] += 1
    return [(c, count) for count, _, c in sorted(counts.values(), key=lambda e: (-e[0], e[1]))]


def detect_all_councils(text: str) -> list[CouncilName]:
    """Every distinct council named in ``text``, most often named first."""
    return [c for c, _ in councils_named(text)]


def council_keys(council: CouncilName) -> set[str]:
    """The short names a folder, a file name or an index may give this council: slug, initials, place."""
    return {council.slug, council.initials, council_slug(council.place)}


def _agrees(token: str, council: CouncilName) -> bool:
    """Does a folder or file-name token (``trafford``, ``nwldc``, ``kcc``, ``blaby``) name this council?"""
    return token in council_keys(council) or council.slug.startswith(token + "-")


def _earlier(current: tuple[int, CouncilName] | None, candidate: tuple[int, CouncilName]) -> tuple[int, CouncilName]:
    return candidate if current is None or candidate[0] < current[0] else current


def _lines_with_offsets(text: str) -> Iterable[tuple[int, str]]:
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1


_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


def council_slug(name: str) -> str:
    """Slug of a council name, matching the folder names of the bundled corpus.

    Rule: lowercase; "&" and "and" dropped; the kind of council before the final "Council" becomes a short suffix
    ("county council" -> "cc", "district council" -> "dc", "parish council" -> "pc", "community council" -> "cc",
    "borough council" -> "bc", "metropolitan borough council" -> "mbc", "county borough council" -> "cbc",
    "town council" -> "tc", "city council" -> "city"); a bare "Council" is dropped; anything else that is not a
    letter or digit becomes one hyphen. Examples: "Kent County Council" -> "kent-cc", "Trafford Council" ->
    "trafford", "Gloucester City Council" -> "gloucester-city", "Manordeilo & Salem Community Council" ->
    "manordeilo-salem-cc", "North West Leicestershire District Council" -> "north-west-leicestershire-dc".
    """
    words = [w for w in unicodedata.normalize("NFKC", name).lower().split() if w not in _CONNECTORS]
    if words and words[-1] == "council":
        words = words[:-1]
        for size in (2, 1):
            kind = " ".join(words[-size:])
            if len(words) > size and kind in _KIND_SUFFIX:
                words = [*words[:-size], _KIND_SUFFIX[kind]]
                break
    return _SLUG_JUNK.sub("-", " ".join(words)).strip("-")


_FOLDER_SLUG = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_FOLDER_KIND_SUFFIX = re.compile(r"-(?:cc|dc|pc|bc|mbc|cbc|rbc|tc|city|council)$")
# Folder names that say what a file is or where it was put, not whose it is.
_GENERIC_FOLDERS = _wordset(
    """corpus docs doc documents data files file pdf pdfs txt text texts tmp temp downloads download uploads
    archive archives minutes agendas agenda reports report papers policies policy council councils meetings
    inbox input output in out test tests fixtures samples sample home work src misc other others new old scans
    scanned documents-to-index library public private shared"""
)


def _is_corpus(folder: Path) -> bool:
    return (folder / MANIFEST_NAME).is_file() or (folder / ".clerkignore").is_file()


def council_from_folder(path: Path, named: CouncilName | None = None) -> str | None:
    """The folder's name when it is a council slug, else None.

    A folder name counts when it looks like a slug (lowercase words joined by hyphens, no part all digits, not a
    generic name such as ``docs`` or ``minutes``) and at least one of these holds:

    - it ends with a council suffix (``kent-cc``, ``gloucester-city``);
    - its parent is a corpus, meaning it holds a ``MANIFEST.tsv`` or ``.clerkignore``;
    - it agrees with the council named in the text (``blaby`` for Blaby District Council, ``nwldc`` for
      North West Leicestershire District Council, by initials).

    Requiring one of these keeps an arbitrary folder such as ``old-stuff`` from being taken for a council.
    """
    folder = Path(os.path.abspath(path)).parent
    name = folder.name
    if not _FOLDER_SLUG.match(name) or name in _GENERIC_FOLDERS or any(p.isdigit() for p in name.split("-")):
        return None
    if _FOLDER_KIND_SUFFIX.search(name) or _is_corpus(folder.parent):
        return name
    if named is not None:
        slug = named.slug
        if name in (slug, named.initials) or slug.startswith(name + "-"):
            return name
    return None


#: Folder suffixes that say the kind of council without doubt ("-cc" is a county or a community council).
_SUFFIX_KIND = {"pc": "parish", "dc": "district", "bc": "borough", "mbc": "metropolitan borough", "tc": "town",
                "city": "city", "cbc": "county borough"}


#: Kinds a "-cc" slug may stand for: the document's own words ("the County Council") tell which.
_CC_KINDS = ("county", "city", "community")


def _from_slug(slug: str, text: str = "") -> CouncilName | None:
    """The council a folder slug names, where its suffix leaves no doubt ("hertingfordbury-pc"), or where
    ``text`` settles an ambiguous one: "kent-cc" and a budget report that says "the County Council" and
    "Kent" (never "Kent County Council" in full) is Kent County Council."""
    place, _, suffix = slug.rpartition("-")
    if not place:
        return None
    name = place.replace("-", " ").title()
    if suffix == "cc" and text:
        low = text.lower()
        counts = {kind: low.count(f"{kind} council") for kind in _CC_KINDS}
        kind = max(counts, key=counts.__getitem__)
        if counts[kind] and name.lower() in low:
            return CouncilName(name, kind)
    if suffix not in _SUFFIX_KIND:
        return None
    return CouncilName(name, _SUFFIX_KIND[suffix])


#: Mentions of one council that make it the document's council when nothing else names one.
DOMINANT_MENTIONS = 3


def _folder_token(path: Path) -> str | None:
    """The file's folder name when it could name a council (a slug, not ``docs`` or ``2024``)."""
    name = Path(os.path.abspath(path)).parent.name
    if not _FOLDER_SLUG.match(name) or name in _GENERIC_FOLDERS or any(p.isdigit() for p in name.split("-")):
        return None
    return name


def infer_council(path: Path, pages: list[Page]) -> tuple[str, str, CouncilName | None]:
    """The document's council as a slug, a note saying which evidence chose it ("unknown" when none names one), and
    the council's name as the text gives it, when it does.

    Evidence, strongest first: the folder agreeing with a council the text names
    or with the file name's first word (``trafford/trafford-part-4.pdf``, or
    ``nwldc/`` for "North West Leicestershire District Council"); a folder named
    like a council (``kent-cc``) or a council folder of a corpus; the file name's
    first word agreeing with a council the text names (``kcc-budget.pdf``); the
    council named on the first page; the council the text names most, when it
    names it at least :data:`DOMINANT_MENTIONS` times and twice as often as any
    other. A folder slug is kept as the council's id, so an index built from
    folders groups documents as their folders do.
    """
    path = Path(path)
    text = _normalise("\n".join(p.text for p in pages))
    mentions = councils_named(text)
    folder = _folder_token(path)
    words = [w.lower() for w in _name_words(path)]
    first_word = words[0] if words and words[0].isalpha() and len(words[0]) > 1 else None

    def times(n: int) -> str:
        return "once" if n == 1 else f"{n} times"

    if folder:
        for council, n in mentions:
            if _agrees(folder, council):
                return folder, f"folder {folder}/ agrees with '{council.display}', named {times(n)} in the text", council
        if first_word and (first_word == folder or folder.startswith(first_word + "-")):
            return folder, f"folder {folder}/ and the file name's first word '{first_word}' agree", None
        if _FOLDER_KIND_SUFFIX.search(folder):
            return folder, f"folder {folder}/ is named like a council", None
        if _is_corpus(Path(os.path.abspath(path)).parent.parent):
            return folder, f"folder {folder}/ is a council folder of a corpus", None
    if first_word:
        for council, n in mentions:
            if _agrees(first_word, council):
                return council.slug, (f"the file name's first word '{first_word}' agrees with '{council.display}', "
                                      f"named {times(n)} in the text"), council
    named = detect_council(_head(pages, HEAD_CHARS))
    if named is not None:
        return named.slug, f"'{named.display}' is named on its first page", named
    if mentions:
        top, n = mentions[0]
        runner_up = mentions[1][1] if len(mentions) > 1 else 0
        if n >= DOMINANT_MENTIONS and n >= 2 * runner_up:
            return top.slug, f"'{top.display}' is named {times(n)} in the text, more than any other council", top
    return UNKNOWN_COUNCIL, "no folder, file name or text names a council", None


# --------------------------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------------------------


def _numbered(names: str) -> dict[str, int]:
    return {name: number for number, name in enumerate(names.split(), start=1)}


_MONTHS: dict[str, int] = {
    **_numbered("january february march april may june july august september october november december"),
    **_numbered("jan feb mar apr may jun jul aug sep oct nov dec"),
    "sept": 9,
    # Welsh, for the bilingual community council minutes
    **_numbered("ionawr chwefror mawrth ebrill mai mehefin gorffennaf awst medi hydref tachwedd rhagfyr"),
}
_MONTH = "(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + ")"
_ORDINAL = r"(?:\s?(?:st|nd|rd|th)\b|(?:af|ail|ydd|edd|ed|fed|eg|ain)\b)?"
_YEAR = r"(?P<year>(?:19|20)\d{2})\b(?![-/–]\d)"  # "2024-25", "2019/20" are financial years, not dates
_DATE_PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = (
    # "14 December 2022", "Wednesday 14 December 2022", "13th-Feb-2025", "1-2 April 2025" (start day), "9fed Hydref"
    (
        re.compile(
            rf"(?<!\d[-/–])\b(?P<day>\d{{1,2}}){_ORDINAL}(?:\s*(?:-|–|—|to|and|&)\s*\d{{1,2}}{_ORDINAL})?,?[\s-]+(?:of\s+)?"
            rf"{_MONTH}\b\.?,?[\s-]+{_YEAR}",
            re.IGNORECASE,
        ),
        3,
    ),
    # "June 24, 2025"
    (re.compile(rf"\b{_MONTH}\.?\s+(?P<day>\d{{1,2}}){_ORDINAL},\s*{_YEAR}", re.IGNORECASE), 3),
    # "2025-06-24"
    (re.compile(r"(?<![\d-])(?P<year>(?:19|20)\d{2})-(?P<month>\d{2})-(?P<day>\d{2})(?![\d-])"), 3),
    # "31/3/2015", "31.03.2015" (UK order)
    (re.compile(r"(?<![\d/.])(?P<day>\d{1,2})[/.](?P<month>\d{1,2})[/.](?P<year>(?:19|20)\d{2})(?![\d/.]\d)"), 3),
    # "June 2024", "APPROVED SEPTEMBER 2021", "October 2019"
    (re.compile(rf"\b{_MONTH}\b\.?,?[\s-]+{_YEAR}", re.IGNORECASE), 2),
)
# A date just after these words is the end of a period the document covers, not the date of the document.
_PERIOD_END = re.compile(r"(?:year|period|quarter)\s+(?:end(?:ed|ing)?|to)\s*:?\s*$|\bas\s+at\s*:?\s*$", re.I)


def _month_number(value: str) -> int:
    return int(value) if value.isdigit() else _MONTHS[value.lower()]


def _dates_in(text: str) -> list[tuple[int, int, str]]:
    """Every valid date in ``text`` as (start, -precision, ISO string), in no particular order."""
    found: list[tuple[int, int, str]] = []
    skipped: list[tuple[int, int]] = []
    for pattern, precision in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if _PERIOD_END.search(text[max(0, m.start() - 30) : m.start()]):
                skipped.append(m.span())
                continue
            if any(start < m.end() and m.start() < end for start, end in skipped):
                continue
            year, month = int(m.group("year")), _month_number(m.group("month"))
            day = int(m.group("day")) if precision == 3 else 1
            try:
                _date(year, month, day)
            except ValueError:
                continue
            iso = f"{year:04d}-{month:02d}-{day:02d}" if precision == 3 else f"{year:04d}-{month:02d}"
            found.append((m.start(), -precision, iso))
    return found


def first_date(text: str) -> str:
    """The first explicit date in ``text`` as ISO ``YYYY-MM-DD`` or ``YYYY-MM``, or "" when there is none.

    "First" means earliest in the text. Where a full date and a month-and-year start at the same place, the full
    date wins. A day range gives its start day. Financial years ("2019/20", "2024-25") are never dates. Dates that
    close a period ("year ended 31 March 2020") are skipped: they say what the document covers, not when it was made.
    """
    found = _dates_in(text)
    return min(found)[2] if found else ""


#: A table row as the PDF and spreadsheet loaders write it ("Item: Benches | Qty: 1"): data, not a cover.
_ROW_LINE = re.compile(r"\S: \S.* \| \S+.*: ")


def _opening(text: str) -> str:
    """The cover or heading area of a page: lines up to and including the first body paragraph (a long prose line).

    Dates after that point are usually references ("LAAP Bulletin ... July 2014") rather than the document's own.
    The first paragraph's sentence is kept because it often carries the date ("adopted ... on 13th July 2016").
    """
    lines = [line for line in text[:DATE_CHARS].split("\n") if not _ROW_LINE.search(line)]  # a table's cells
    for i, line in enumerate(lines):
        if len(line.split()) >= 12 and _prose(line):
            end = i + 1
            # finish the sentence: "MINUTES of a meeting ... Sessions" / "House, ... on Thursday, 30 January 2025."
            while end < len(lines) and end <= i + 3 and lines[end - 1] and not lines[end - 1].endswith("."):
                end += 1
            return "\n".join(lines[:end])
    return "\n".join(lines)


def infer_date(path: Path, pages: list[Page]) -> str:
    """Date of the document (see :func:`date_evidence`)."""
    return date_evidence(Path(path), pages)[0]


#: "Adopted by the Council on 11th July 2012", "Revised ... 13th February 2019", "last reviewed 11 th July 2013".
_LABELLED = re.compile(r"\b(?:adopted|approved|agreed|revised|reviewed|amended|updated|ratified|re-adopted)\b", re.I)
#: Financial years: "2017-18", "2015/16", "2024-2025".
_FINANCIAL_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*[-/–]\s*((?:19|20)?\d{2})(?![\d-])")
#: Documents made after the year they report on: dated by the year the financial year ends.
_AFTER_YEAR = re.compile(r"\bannual[\s-]+(?:return|governance)|\baccounting[\s-]+statements?\b|\binternal[\s-]+audit\b"
                         r"|\bstatements?[\s-]+of[\s-]+accounts\b|\bsignificant[\s-]+variances?\b|\boutturn\b", re.I)
_BUDGET_FOR = re.compile(r"\bbudget\b|\bprecept\b", re.I)


def _financial_year(text: str) -> tuple[int, int] | None:
    m = _FINANCIAL_YEAR.search(text)
    if not m:
        return None
    start, end = int(m.group(1)), m.group(2)
    end_year = int(end) if len(end) == 4 else start // 100 * 100 + int(end)
    return (start, end_year) if end_year == start + 1 else None


def _labelled_dates(text: str) -> list[tuple[str, str]]:
    """(ISO date, the line it is on) for each date on a line saying the document was adopted, revised, reviewed ..."""
    out = []
    for line in text.split("\n"):
        if _LABELLED.search(line) and len(line) < 200:
            out += [(iso, line.strip()) for _, _, iso in sorted(_dates_in(line))]
    return out


#: The note of a date that rests only on the file's creation date.
WEAK_DATE = "the file's creation date"


def date_evidence(path: Path, pages: list[Page], furniture: str = "", created: str = "",
                  title: str = "") -> tuple[str, str]:
    """The document's date (ISO, possibly partial) and a note saying where it came from; ("", note) if none.

    Evidence, strongest first:

    1. a return, statement of accounts or audit report of a financial year named in its file name or title is
       dated by the year that financial year ends ("Annual return 2018-19" → 2019): it is made after the year;
    2. a full date in the file name (``minutes-2019-02-13``, ``13-feb-2025``): people name meeting papers by date;
    3. the first date in the opening of the first page (its cover or heading), unless the file name gives a
       month that date is not in;
    4. a date in the running header or footer the cleaner took off its first pages ("Constitution – October
       2019"): the version the document carries on every page;
    5. the latest date on a line saying the document was adopted, approved, revised or reviewed, on its first
       two pages or its last ("Revised by the Council on 13th February 2019" beats "Adopted ... 11th July 2012");
    6. a date in the file name at month or year precision;
    7. a budget or precept for a financial year named in the file name or title is dated by the year it starts;
    8. the file's own creation date (PDF or DOCX properties), to the month.
    """
    first = _first_text(pages)
    name = " ".join(_name_words(path))
    named = f"{name}\n{title}"
    if _AFTER_YEAR.search(named) and (fy := _financial_year(named)):
        return str(fy[1]), f"a report on the financial year {fy[0]}-{str(fy[1])[2:]} (file name or title): its end"
    from_name = [iso for _, _, iso in sorted(_dates_in(name))]
    if from_name and len(from_name[0]) == 10:
        return from_name[0], "the date in the file name"
    opening = first_date(_opening(first))
    if opening and not (from_name and not opening.startswith(from_name[0][:7])):
        return opening, "the first date on its first page"
    header = first_date(_normalise(furniture))
    if header:
        return header, "its running header or footer"
    texts = [p.text for p in pages[:2] if p.text.strip()] + ([pages[-1].text] if len(pages) > 2 else [])
    labelled = _labelled_dates(_normalise("\n".join(texts)))
    if labelled:
        iso, line = max(labelled)
        return iso, f"the latest adoption or revision date: '{line[:80]}'"
    if from_name:
        return from_name[0], "the date in the file name"
    if _BUDGET_FOR.search(named) and (fy := _financial_year(named)):
        return str(fy[0]), f"a budget for the financial year {fy[0]}-{str(fy[1])[2:]}: its start"
    if created:
        return created[:7], WEAK_DATE
    return "", "no date found on its first page, in its file name or in the file's properties"


# --------------------------------------------------------------------------------------------------------------
# Title
# --------------------------------------------------------------------------------------------------------------

_SMALL_WORDS = _wordset("a an and as at by for from in into of on or the to with via per")
_ACRONYMS = _wordset(
    """LGA CPC KCC GCC HPC NWLDC MTFP MTFS AGM AGAR KPI KPIS ICS UK CIPFA RAG TOR DC CC PC BC MBC ICT HR OD SLT
    CEO S151 II III IV VI VII VIII IX XI XII GDPR FOI CIL HRA NHS SEND DSG CYPE ASCH GET CED DCED EHDC MCC"""
)
_VOWELS = frozenset("aeiouy")
_ORDINAL_SUFFIX = re.compile(r"(?<=\d)(?:st|nd|rd|th)\b")


def _cap(word: str) -> str:
    if word[:1].isdigit():
        return word.lower()  # "6TH" -> "6th"
    for i, ch in enumerate(word):
        if ch.isalpha():
            return word[:i] + ch.upper() + word[i + 1 :].lower()
    return word


def _smart_case(line: str) -> str:
    """Title case for a line in capitals ("HERTINGFORDBURY PARISH COUNCIL STANDING ORDERS"). Other lines are left
    alone. Acronyms and vowel-less abbreviations stay in capitals. Citations read better without shouting."""
    letters = [c for c in _ORDINAL_SUFFIX.sub("", line) if c.isalpha()]
    if len(letters) < 3 or any(c.islower() for c in letters):
        return line
    out: list[str] = []
    for i, word in enumerate(line.split(" ")):
        core = word.strip("()[]{}\"'‘’“”:;,.!?")
        if core.upper() in _ACRONYMS or (core.isalpha() and len(core) <= 5 and not _VOWELS & set(core.lower())):
            out.append(word)
        elif i and core.lower() in _SMALL_WORDS:
            out.append(word.lower())
        else:
            out.append("-".join(_cap(part) for part in word.split("-")))
    return " ".join(out)


# Multi-word labels are distinctive enough to need no colon (a header table cell becomes "Title of Report PEER ...").
_FIELD_TITLE = re.compile(
    r"^(?:(?:title\s+of\s+report|report\s+title|subject\s+matter\s*/\s*title\s+of\s+decision|title\s+of\s+decision)"
    r"\s*:?|(?:subject|title)\s*(?::|$))\s*(?P<value>.*)$",
    re.IGNORECASE,
)
#: A report's addressee line: "To: County Council 13th February 2025", "To: Cabinet, 30 January 2025".
_REPORT_TO = re.compile(r"^to\s*:\s*(?P<to>(?:the\s+)?(?:[A-Z][\w&'’ -]*?\s)?(?:council|cabinet|committee|board|panel)\b"
                        r".{0,40})$", re.IGNORECASE)
_LABEL = re.compile(
    r"^(?!(?:appendix|annex|part|section|schedule|chapter)\b)[A-Za-z][\w /&()'’.-]{0,30}:\s*(?:\S|$)", re.I
)
_BARE_LABEL = re.compile(r"^(?:appendix|annex|part|section|schedule|chapter)\s+[\w.]{1,5}\s*[:.–-]?$", re.IGNORECASE)
_PAGE_MARK = re.compile(
    r"^(?:-\s*)?(?:page\s*\|?\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?(?:\s*-)?$|\bpage\s*\|?\s*\d+\b", re.I
)
_META_LINE = re.compile(
    r"^(?:adopted|approved|agreed|held|revised|reviewed|updated|effective|issued|published|dated|date|as at|version"
    r"|produced by|prepared by|author|contact|signed|presented by|report of|report by|from|to|dear|yours)\b",
    re.IGNORECASE,
)
_NUMBERED = re.compile(r"^\d+(?:\.\d+)*[.)]?\s+\S")
_SENTENCE_INSIDE = re.compile(r"[a-z]{2}[.!?]\s+[A-Z]")
_WEEKDAY = re.compile(r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b", re.IGNORECASE)
#: A list of contents without its heading: its column names ("Section Page"), or an entry ending in its section
#: and page numbers ("Executive Summary 1 2") or a dotted leader ("Introduction ....... 3").
_CONTENTS_LINE = re.compile(
    r"^(?:(?:section|item|paragraph|para|appendix|chapter)\s+)?page(?:s|\s+no\.?)?$|[^\W\d]\s+(?:\d{1,3}|[A-Z])\s+\d{1,3}$"
    r"|\.{4,}\s*\d{1,3}$",
    re.IGNORECASE,
)
_SECTION_START = re.compile(
    r"^(?:introduction|summary|executive\s+summary|background|purpose(?:\s+of\s+(?:the\s+)?report)?|foreword|overview"
    r"|recommendations?|preface)$",
    re.IGNORECASE,
)
_CLOSING = re.compile(r"^(?:yours\s+(?:sincerely|faithfully)|kind\s+regards)\b", re.IGNORECASE)
_MONEY = re.compile(r"£|\d[\d,]*\.\d")
_CONNECTOR_END = re.compile(r"(?:\b(?:and|or|of|for|the|to|in|on|with|by|under)|[&,–—:-])$", re.IGNORECASE)
_CONNECTOR_START = re.compile(r"^(?:and|or|of|for|the|to|in|on|with|by|under|&)\b", re.IGNORECASE)
_MINUTES_LINE = re.compile(
    r"^(?:(?:extract|draft|printed|confirmed|unconfirmed)\s+(?:of\s+(?:the\s+)?)?)?minutes\s+of\s+(?:a|an|the)\s+.*?"
    r"(?=\s+held\b|\s+on\s+\w+day\b|,|\.|$)",
    re.IGNORECASE,
)


def _date_only(line: str) -> bool:
    found = _dates_in(line)
    if not found:
        return False
    rest = line
    for pattern, _ in _DATE_PATTERNS:
        rest = pattern.sub(" ", rest)
    rest = _WEEKDAY.sub(" ", rest)
    return not re.sub(r"(?i)\b(?:to|and|from|on)\b|[\W\d_]", "", rest)


def _prose(line: str) -> bool:
    """A line of running text: many words, most of them not capitalised."""
    words = line.split()
    if len(words) < 8:
        return False
    lower = sum(1 for w in words if w[0].islower())
    return lower / len(words) > 0.45


def _title_like(line: str, continuing: bool = False) -> bool:
    """Could ``line`` be (part of) a title? ``continuing``: the line before it ended mid-phrase."""
    letters = sum(c.isalpha() for c in line)
    if letters < 3 or sum(c.isdigit() for c in line) > letters or len(_MONEY.findall(line)) >= 2:
        return False
    if len(line) > 110 or len(line.split()) > 16:
        return False
    if not (line[0].isupper() or line[0].isdigit() or (continuing and _CONNECTOR_START.match(line))):
        return False
    if line.endswith((".", ";")) or _SENTENCE_INSIDE.search(line) or (_prose(line) and not continuing):
        return False
    if _dates_in(line) and len(line.split()) > 6:
        return False  # "These Standing Orders were adopted ... on 13th February 2019"
    if "@" in line or "http" in line.lower() or "www." in line.lower():
        return False
    # "HERTINGFORDBURY PARISH COUNCIL: RISK MANAGEMENT" is a heading, not a "Label: value" line
    return not _LABEL.match(line) or _is_council_line(line.split(":", 1)[0])


def _joins(previous: str, line: str) -> bool:
    """Does ``line`` continue the heading on the line above (a wrapped title) rather than start a new one?"""
    if _BARE_LABEL.match(previous) or _CONNECTOR_END.search(previous) or _CONNECTOR_START.match(line):
        return True
    return len(previous) <= 40 and len(line) <= 40


def _field_title(lines: list[str]) -> str:
    """Value of a "Title of Report" / "Subject:" field in a report's header table, plus one wrapped line."""
    for i, line in enumerate(lines[:40]):
        m = _FIELD_TITLE.match(line)
        if not m:
            continue
        following = lines[i + 1 : i + 3]
        value = m.group("value").strip()
        if not value and following:  # label alone on its line, value below it
            value, following = following[0], following[1:]
        if not any(c.isalpha() for c in value):
            continue
        wrapped = following[0] if following else ""
        if (
            wrapped
            and len(wrapped) <= 70
            and wrapped[0].isupper()
            and not wrapped.endswith((".", ",", ";"))
            and not (_LABEL.match(wrapped) or _META_LINE.match(wrapped) or _MINUTES_LINE.match(wrapped))
            and (_CONNECTOR_END.search(value) or value.isupper() == wrapped.isupper())
        ):
            value = f"{value} {wrapped}"
        return _tidy_title(_smart_case(value))
    return ""


def _tidy_title(title: str) -> str:
    title = re.sub(r"\s+", " ", title).strip(" -–—:;,|")
    if len(title) > TITLE_MAX_CHARS:
        title = title[:TITLE_MAX_CHARS].rsplit(" ", 1)[0] + "…"
    return title


def _is_council_line(line: str) -> bool:
    m = _COUNCIL_NAME.fullmatch(line.strip(" ,:–-"))
    return bool(m and _council_from_words(m.group(1).split()))


def _cover_segments(lines: list[str]) -> tuple[list[str], str]:
    """Headings among the first lines of a page, and a "Minutes of a meeting of ..." phrase if one opens the text.

    A heading is one title-like line or several wrapped ones. Headings end at blank lines, dates, metadata lines
    ("Adopted ...", "To ..."), and lines that do not continue them. Scanning stops at "Contents", a numbered
    paragraph, a section heading such as "Introduction", or prose after a heading has been found.
    """
    blocks: list[list[str]] = []
    current: list[str] = []
    minutes = ""
    seen = 0

    def close() -> None:
        nonlocal current
        if current:
            blocks.append(current)
            current = []

    for line in lines[:TITLE_MAX_LINES]:
        if not line:
            close()
            continue
        seen += 1
        if seen > 25 or len(blocks) >= 5:
            break
        if _PAGE_MARK.search(line) and len(line) < 90:
            continue
        if CONTENTS.match(line) or _CONTENTS_LINE.search(line) or (_SECTION_START.match(line) and (blocks or current)):
            break
        m = _MINUTES_LINE.match(line)
        if m:
            first, _, rest = _smart_case(m.group(0)).partition(" ")
            minutes = f"{_cap(first)} {rest}".strip()
            break
        if _CLOSING.match(line):
            break
        if _date_only(line) and current and _ENDS_BEFORE_DATE.search(current[-1]):
            current[-1] = f"{current[-1]} {line}"  # "Annual return for the financial year ended" / "31 March 2015"
            continue
        if _date_only(line) or _META_LINE.match(line):
            close()
            continue
        if _NUMBERED.match(line) and not _BARE_LABEL.match(line):
            break
        continuing = bool(current and (_CONNECTOR_END.search(current[-1]) or _BARE_LABEL.match(current[-1])))
        if not _title_like(line, continuing):
            close()
            if blocks:
                break
            continue
        if current and current[-1].lower().endswith(line.lower()):
            continue  # "KENT COUNTY COUNCIL" then "COUNTY COUNCIL"
        if current and (len(current) >= 3 or not _joins(current[-1], line)):
            close()
        current.append(_smart_case(line))
    close()
    segments: list[str] = []
    for block in blocks:
        # a council name heading a block ("TINTERN COMMUNITY COUNCIL" / "Code of Conduct") is a segment of its own
        if len(block) > 1 and _is_council_line(block[0]):
            segments.append(block[0])
            block = block[1:]
        text = block[0]
        for line in block[1:]:
            head, _, tail = line.partition(" ")
            if head.lower() in _SMALL_WORDS:  # "CONSTITUTION" / "FOR" / "EXECUTIVE GOVERNANCE"
                line = f"{head.lower()} {tail}".strip()
            text = f"{text}: {line}" if _BARE_LABEL.match(text) else f"{text} {line}"
        segments.append(text)
    return segments, minutes


def _compose(segments: list[str], minutes: str, council: CouncilName | None) -> str:
    if minutes:
        if council is not None and council.place.lower() not in minutes.lower():
            return f"{minutes}, {council.display}"
        return minutes
    if not segments:
        return ""
    segs = list(segments)
    if _BARE_LABEL.match(segs[0]) and len(segs) > 1:
        # "Appendix 2" over a council name is a filing label; over a heading it is part of the title
        label = segs.pop(0)
        if not _is_council_line(segs[0]):
            segs[0] = f"{label.rstrip(':.–- ')}: {segs[0]}"
    first = segs[0]
    if _is_council_line(first):
        rest = [s for s in segs[1:3] if not _is_council_line(s)]
        if rest:
            second = rest[0]
            place = first.split()[0].lower()
            return second if place in second.lower() else f"{first} – {second}"
        return first
    if len(segs) > 1 and _is_council_line(segs[1]):
        return f"{first}, {segs[1]}"
    return first


def _title_from_name(path: Path) -> str:
    words = []
    for word in _name_words(path):
        if word.isalpha() and (word.upper() in _ACRONYMS or (len(word) <= 6 and not _VOWELS & set(word.lower()))):
            words.append(word.upper())
        else:
            words.append(word)
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def infer_title(path: Path, pages: list[Page], council: CouncilName | None = None) -> str:
    """A title from the first page, else from the file name.

    In order: a report's "Title of Report" or "Subject:" field; a "Minutes of a meeting of ..." opening; the cover
    headings. For cover headings, lines wrapped under each other are joined, a council name line is combined with
    the heading ("LGA Corporate Peer Challenge – Progress Review, Blaby District Council"), and page numbers,
    dates, "Contents" and prose are skipped. If none of these gives a title, the file name is turned into words.
    """
    return _title_of(_first_text(pages), Path(path), council)


#: Words that say what kind of document a heading names; a cover line without one is a series or form label.
_KIND_WORDS = re.compile(
    r"\b(?:return|statement|statements|policy|policies|report|minutes|agenda|summons|plan|regulations|orders|code|"
    r"strategy|register|budget|review|constitution|guidelines|guidance|scheme|procedure|procedures|rules|protocol|"
    r"accounts|audit|terms|appendix|annex|schedule|part|decision|notice|precept|assessment|study|variances|update)\b",
    re.IGNORECASE,
)
#: Labels a cover carries that are not part of the title.
_TITLE_LABELS = re.compile(
    r"\s*(?:classification\s*:\s*\w+|official(?:[\s-]+sensitive)?|not\s+protectively\s+marked)\s*$"
    r"|^\s*section\s+\d+\s*[—–-]\s*|^\s*\(public\s+pack\)\s*", re.IGNORECASE)
#: A word OCR made of a stamp or letterhead: case flipping inside it ("FOoehQurRy").
OCR_NOISE = re.compile(r"\b\w*[a-z][A-Z]\w*[a-z][A-Z]\w*|\b\w*[A-Z]{2}[a-z]+[A-Z]\w*")
_ENDS_BEFORE_DATE = re.compile(r"\b(?:ended|ending|to|at|on|of)$", re.IGNORECASE)
_DANGLING = re.compile(r"\s+(?:for|of|to|by|the|and|ended|ending|from)\s*$", re.IGNORECASE)
#: "Trafford Council Constitution – October 2019 Part 4 Page 1": the series name before the date or "Part N".
_SERIES = re.compile(r"^(?P<name>.+?)\s*(?:[–—-]\s*)?(?:(?:\d{1,2}\s+)?[A-Z][a-z]+\s+(?:19|20)\d{2}\b.*|"
                     r"\bPart\s+\d+\b.*|\bPage\s+\d+\b.*)$")
#: Title beginnings that continue a series name rather than stand after a dash.
_CONTINUES_SERIES = re.compile(r"^(?:part|section|schedule|appendix|annex|chapter)\s+[\w.]+\b", re.IGNORECASE)
#: Stored PDF/DOCX titles that are a tool's or template's, not the document's.
_JUNK_PROPERTY_TITLE = re.compile(r"microsoft\s+word|template|\.(?:docx?|pages|numbers|pdf|xlsx?)\b|^untitled|"
                                  r"working\s+draft|^the\s+report$|^document\d*$|^\W*$", re.IGNORECASE)


#: A date cut off at the end of a line: "... Meeting on Thursday, 13th".
_CUT_DAY = re.compile(r",?\s*(?:on\s+)?(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s*)?\d{1,2}(?:st|nd|rd|th)?$",
                      re.IGNORECASE)


def _human_date(iso: str) -> str:
    """"2025-02-13" -> "13 February 2025", "2019-10" -> "October 2019", "2018" -> "2018"."""
    parts = [int(x) for x in iso.split("-")]
    if len(parts) == 1:
        return str(parts[0])
    month = _date(parts[0], parts[1], 1).strftime("%B")
    return f"{parts[2]} {month} {parts[0]}" if len(parts) == 3 else f"{month} {parts[0]}"


def _clean_title(title: str) -> str:
    """A title without cover labels, OCR noise from a stamp, or a dangling last word ("Accounting statements for")."""
    parts = [p for p in re.split(r",\s+", title) if not OCR_NOISE.search(p)]
    title = ", ".join(parts) if parts else title
    title = _TITLE_LABELS.sub("", title).strip(" -–—:;,|")
    while _DANGLING.search(title):
        title = _DANGLING.sub("", title)
    return title.strip(" -–—:;,|")


def _series_name(furniture: str, council: CouncilName | None) -> str:
    """The name a running header gives the document's series ("Trafford Council Constitution"), if it names the council."""
    if council is None:
        return ""
    place = council.place.lower().split()[0]
    for line in furniture.split("\n"):
        m = _SERIES.match(line.strip())
        name = m.group("name").strip(" -–—:") if m else ""
        if place in name.lower() and _KIND_WORDS.search(name) and len(name.split()) <= 8:
            return name
    return ""


def _with_council(title: str, council: CouncilName | None, furniture: str) -> str:
    """The title with the council's name in it when the title does not carry it, as a reader needs in a list."""
    if council is None or council.place.lower().split()[0] in title.lower():
        return title
    series = _series_name(furniture, council)
    if series and series.split()[-1].lower() not in title.lower():  # not "... Constitution – Constitution for ..."
        return f"{series} {title}" if _CONTINUES_SERIES.match(title) else f"{series} – {title}"
    return f"{council.display} – {title}"


def _readable_property_title(title: str) -> str:
    """A stored PDF/DOCX title when it reads as a document's title, else ""."""
    title = " ".join(title.split())
    if len(title.split()) < 2 or len(title) > TITLE_MAX_CHARS or _JUNK_PROPERTY_TITLE.search(title):
        return ""
    return title if _KIND_WORDS.search(title) else ""


def _title_of(first: str, path: Path, council: CouncilName | None, furniture: str = "", stored: str = "") -> str:
    lines = first.split("\n")
    title = _clean_title(_field_title(lines))
    if title and (to := next((m for line in lines[:12] if (m := _REPORT_TO.match(line))), None)):
        # a report's subject is often its whole budget's or plan's title: who it went to tells them apart
        title = f"Report to {to.group('to').strip(' ,.')}: {title}"
    if not title:
        segments, minutes = _cover_segments(lines)
        # a form's series label ("Local Councils in England") gives way to the heading that names the document
        if len(segments) > 1 and not minutes and not _KIND_WORDS.search(segments[0]) \
                and not _is_council_line(segments[0]):
            later = next((s for s in segments[1:3] if _KIND_WORDS.search(s)), None)
            if later:
                segments = [later, *[s for s in segments if s is not later and s is not segments[0]]]
        title = _tidy_title(_clean_title(_compose(segments, minutes, council)))
    if not title:
        title = _clean_title(_readable_property_title(stored))
    name_title = _title_from_name(path)
    if not title:
        return council.display + " – " + name_title if council else name_title
    if council and title.lower() == council.display.lower():
        return f"{title} – {name_title}"
    return _tidy_title(_with_council(title, council, furniture))


# --------------------------------------------------------------------------------------------------------------
# Document type
# --------------------------------------------------------------------------------------------------------------

# What a document *is* (minutes, agenda, a report to a meeting) beats what it is *about*. A cabinet report on a
# peer review is a cabinet_report, and minutes of a budget meeting are minutes. These markers sit in a report's
# header table or a meeting record's opening lines, so they are searched only in the first part of the first page.
_FORM_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "minutes",
        re.compile(
            r"^\W*(?:(?:extract|draft|printed|confirmed|unconfirmed|signed)\s+(?:of\s+(?:the\s+)?)?)?minutes\s+of\s+"
            r"(?!the\s+(?:last|previous)\b)"
            r"|^(?:present|presennol)\s*(?::|$|\s+(?:cllrs?|councillors?|cynghorwyr|mr|mrs|ms|dr)\b)",
            re.IGNORECASE | re.MULTILINE,
        ),
    ),
    (
        "agenda",
        re.compile(
            r"\bsummon(?:s|ed)\b|^\W*agenda\s*$|\bagenda\s+for\b|^\W*notice\s+of\s+(?:the\s+)?meeting\b"
            r"|\byou\s+are\s+(?:hereby\s+)?(?:summoned|invited|requested)\s+to\s+attend\b",
            re.IGNORECASE | re.MULTILINE,
        ),
    ),
    (
        "cabinet_report",
        re.compile(
            r"^\W*(?:to|meeting|report\s+to)\s*[:–-]?\s*(?:the\s+)?cabinet\s*(?:$|[,–—-]|\d|date\b)"
            r"|\bcabinet\s*[–—-]\s*(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|\d{1,2}\b)"
            r"|^\W*cabinet\s+report\b",
            re.IGNORECASE | re.MULTILINE,
        ),
    ),
)
_COMMITTEE_TO = re.compile(
    r"^\W*(?:to|report\s+to)\s*[:–-]?\s*(?:the\s+)?(?:[\w&'’-]+\s+){0,5}?(?:committee|sub-committee|council)\b",
    re.IGNORECASE | re.MULTILINE,
)
_SUBJECT_FIELD = re.compile(r"^\W*subject\s*:", re.IGNORECASE | re.MULTILINE)

# Subject rules, most specific first: the first match wins ("budget risk register" is a risk_register, "constitution
# part 4 procedure rules" is standing_orders, "medium term financial strategy" is a budget, not a policy).
_SUBJECT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (doc_type, re.compile(pattern, re.IGNORECASE))
    for doc_type, pattern in (
        # a decision notice is "other" whatever it decides about, so its subject must not pick the type
        ("other", r"\brecord\s+of\s+decision\b"),
        ("peer_review", r"\bpeer[\s-]+(?:challenge|review)s?\b"),
        ("case_study", r"\bcase[\s-]+stud(?:y|ies)\b"),
        ("productivity_plan", r"\bproductivity[\s-]+plan\b"),
        (
            "governance_statement",
            r"\bannual[\s-]+governance[\s-]+(?:statement|and[\s-]+accountability[\s-]+return)\b"
            r"|\bannual[\s-]+return\b|\bgovernance[\s-]+statement\b|\bagar\b",
        ),
        ("terms_of_reference", r"\bterms[\s-]+of[\s-]+reference\b|\btor\b"),
        ("code_of_conduct", r"\bcodes?[\s-]+of[\s-]+conduct\b"),
        ("financial_regulations", r"\bfinancial[\s-]+(?:regulations|regs)\b|\bfinancial[\s-]+procedure[\s-]+rules\b"),
        ("standing_orders", r"\bstanding[\s-]+orders\b|\bprocedure[\s-]+rules\b|\brules[\s-]+of[\s-]+procedure\b"),
        ("risk_register", r"\brisks?[\s-]+register\b"),
        ("constitution", r"\bconstitution\b|\bcyfansoddiad\b"),
        (
            "accounts",
            r"\bstatements?[\s-]+of[\s-]+accounts\b|\baccounting[\s-]+statements?\b|\bsignificant[\s-]+variances?\b"
            r"|\belectors['’]?[\s-]+rights\b|\bannual[\s-]+accounts\b",
        ),
        (
            "performance_report",
            r"\bperformance[\s-]+report\b|\bmonitoring[\s-]+report\b|\bquarterly[\s-]+performance\b",
        ),
        ("budget", r"\bbudgets?\b|\bmedium[\s-]+term[\s-]+financial\b|\bmtf[ps]\b|\bprecept\b"),
        ("policy", r"\bpolic(?:y|ies)\b|\bstrateg(?:y|ies)\b|\bprocedures?\b|\bguidelines\b|\bprotocols?\b"),
    )
)
_MINUTES_WORD = re.compile(r"\bminutes\b|\bcofnodion\b", re.IGNORECASE)
_AGENDA_WORD = re.compile(r"\bagenda\b|\bsummons\b", re.IGNORECASE)
_CABINET_WORD = re.compile(r"\bcabinet\b", re.IGNORECASE)
_REPORT_WORD = re.compile(r"\breport\b", re.IGNORECASE)


def infer_doc_type(path: Path, title: str, pages: list[Page]) -> str:
    """One of :data:`DOC_TYPES`, chosen by keyword rules. Stronger evidence comes first.

    1. The file name or title names a form: "minutes", "agenda".
    2. The opening of the first page has a form marker: "MINUTES of a meeting", a "PRESENT:" line, a summons,
       "To: Cabinet", "<Council> CABINET – Tuesday ...". The earliest marker wins. "To: <committee or council>"
       together with a "Subject:" field means committee_report.
    3. "cabinet" in the file name or title, with "report" nearby, means cabinet_report.
    4. Subject rules (:data:`_SUBJECT_RULES`, most specific first) are tried on the file name and title.
    5. If those fail, the same rules are tried on the first few hundred characters of text.
    6. Otherwise "other".
    """
    return _doc_type_of(_first_text(pages), Path(path), title)


def _doc_type_of(first: str, path: Path, title: str) -> str:
    name = " ".join(_name_words(path)).lower()
    strong = f"{name}\n{title.lower()}"
    minutes, agenda = _MINUTES_WORD.search(strong), _AGENDA_WORD.search(strong)
    if minutes and agenda:
        return "minutes" if minutes.start() < agenda.start() else "agenda"
    if minutes or agenda:
        return "minutes" if minutes else "agenda"
    head = first[:TYPE_HEAD_CHARS]
    markers = [(m.start(), doc_type) for doc_type, rx in _FORM_MARKERS if (m := rx.search(head))]
    if (to := _COMMITTEE_TO.search(head)) and _SUBJECT_FIELD.search(head):
        markers.append((to.start(), "committee_report"))
    if markers:
        return min(markers)[1]
    if _CABINET_WORD.search(strong) and (_REPORT_WORD.search(strong) or _REPORT_WORD.search(head)):
        return "cabinet_report"
    for text in (strong, head[:TYPE_WORDS_CHARS]):
        for doc_type, rx in _SUBJECT_RULES:
            if rx.search(text):
                return doc_type
    return "other"


# --------------------------------------------------------------------------------------------------------------
# Putting it together
# --------------------------------------------------------------------------------------------------------------


def infer_metadata(path: Path, pages: list[Page], furniture: str = "",
                   props: DocumentProperties | None = None) -> DocumentMeta:
    """Metadata for a file that has no manifest row, from its path, the text of its pages, the running header or
    footer cleaning took off its first page (``furniture``) and the file's stored properties.

    ``council``: :func:`infer_council`. ``title``: :func:`infer_title`. ``doc_type``: :func:`infer_doc_type`.
    ``date``: :func:`date_evidence`. ``notes`` says, field by field, what each value rests on.
    """
    path = Path(path)
    props = props or DocumentProperties()
    first = _first_text(pages)
    named = detect_council(_head(pages, HEAD_CHARS))
    council, council_why, name = infer_council(path, pages)
    if name is None:  # the cover's council, unless the folder's suffix names another (OCR's "Hertingeordqury")
        # an ambiguous folder kind ("-cc") is settled by the text when the cover names no council itself
        from_folder = _from_slug(council, _head(pages, HEAD_CHARS * 20) if named is None else "")
        name = named if named is not None and (from_folder is None or named.slug == from_folder.slug) else from_folder
    title = _title_of(first, path, name, furniture, props.title)
    doc_type = _doc_type_of(first, path, title)
    date, date_why = date_evidence(path, pages, furniture, props.created, title)
    if date and not date_why.startswith(WEAK_DATE) and not re.search(r"\b(?:19|20)\d{2}\b", title):
        # a council has many sets of minutes and many versions of a policy: the date, as the document gives it,
        # tells them apart (a file's creation date is too weak to put in a title)
        title = f"{_CUT_DAY.sub('', title)}, {_human_date(date)}"
    return DocumentMeta(
        council=council,
        doc_type=doc_type,
        title=title,
        date=date,
        origin="inferred",
        notes=f"council: {council_why}; date: {date_why}",
    )


def _manifest_value(row: dict[str, str], key: str) -> str:
    value = row.get(key, "").strip()
    return "" if value == "-" else value


def resolve_metadata(path: Path, pages: list[Page], manifests: RowSource | None, furniture: str = "",
                     props: DocumentProperties | None = None) -> DocumentMeta:
    """Metadata of one document. A manifest row wins field by field, and empty fields fall back to inference.

    ``origin`` is "manifest" when a row was found, even if some of its fields were inferred, because the row is what
    a person should edit to correct the document's metadata.
    """
    row = manifests.find(Path(path)) if manifests is not None else None
    mentions = council_mentions(pages)
    if row is None:
        return replace(infer_metadata(Path(path), pages, furniture, props), mentions=mentions)
    given = {key: _manifest_value(row, key) for key in META_FIELDS}
    notes = "from its MANIFEST.tsv row"
    if not all(given.values()):
        inferred = infer_metadata(Path(path), pages, furniture, props)
        missing = [key for key in META_FIELDS if not given[key]]
        given = {key: given[key] or getattr(inferred, key) for key in META_FIELDS}
        notes += f"; {', '.join('type' if k == 'doc_type' else k for k in missing)} inferred ({inferred.notes})"
    return DocumentMeta(**given, origin="manifest", notes=notes, mentions=mentions)


def council_mentions(pages: list[Page]) -> tuple[str, ...]:
    """Short names (:func:`council_keys`) of every council the document's text names, sorted."""
    keys: set[str] = set()
    for council, _ in councils_named(_normalise("\n".join(p.text for p in pages))):
        keys |= council_keys(council)
    return tuple(sorted(k for k in keys if k))
