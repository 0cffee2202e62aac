"""Tables in PDF pages, read as tables: each row one line that carries its column headers.

PDFium gives a table's text cell by cell in reading order, so a row of the
Tintern asset register arrives as "Benches Abbey Roundabout 1 £350.00 £350.00"
and the figure no longer says what it is; Appendix E's 18 columns and the risk
register's wrapped cells come out worse, their lines interleaved. Here the
region of each table on a page is replaced by its title line and one line per
row pairing every value with its column header::

    Table: TINTERN COMMUNITY COUNCIL TANGIBLE ASSETS (page 1)
    Columns: Item | Location | Qty | Unit Value | Toal Value
    Item: Benches | Location: Abbey Roundabout | Qty: 1 | Unit Value: £350.00 | Toal Value: £350.00

the same shape the spreadsheet loader gives rows, so one line answers one
cell's question and, quoted, says what each figure is. Multi-row headers are
joined ("TOTAL Core £000s"), cells under a row-spanning merged cell take its
text, a one-cell section row ("SPENDING") is kept as a line and prefixes the
rows under it ("(SPENDING) MTFP Category: Pay | ..."), and a table continued
from the previous page takes that page's header.

Where the tables are comes from two finders, measured against a hand-made
reference of 28 corpus tables (docs/INGEST.md, "Tables"):

* ruled tables: pdfplumber's table finder on the page's drawn rules only
  (lines, stroked rectangles, thin filled rules, cell shading; never white
  fills nor the thin strips a gradient is drawn with), refusing what is not a
  table (one real column: a page frame; colour bands; rules that cut words);
* borderless tables (setting ``all``), only on a page without a ruled table:
  camelot's ``network`` finder, kept when a column right of the first is
  mostly figures (prose never is), with rows taken between horizontal rules
  where there are any, merged figure columns split, group labels on shaded
  header cells spread over the columns under them, wrapped labels rejoined.

Only the geometry comes from those libraries. Every character of a cell is
PDFium's, the engine the rest of the page is read with, in PDFium's order, so
text outside the tables is byte for byte what PDFium gives, and a row line is
made only of PDFium's substrings and fixed joiners (": ", " | "). Whatever
goes wrong on a page (an exception, a page the libraries see differently, no
table kept) leaves that page's text exactly as PDFium gives it.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw

from ingest.types import Page

TablesMode = Literal["all", "ruled", "off"]

#: A box in points, origin at the page's top-left: (x0, top, x1, bottom).
Box = tuple[float, float, float, float]
#: Cell boxes row by row; None where a merged cell above or to the left covers the slot.
Grid = list[list[Box | None]]

RULE_MAX = 2.0  # pt: a filled rectangle at most this thick is a rule
STRIP_MAX = 6.0  # pt: filled bands between RULE_MAX and this are gradient strips; thicker ones are cell shading
PAD = 12.0  # pt: camelot's borderless tables are widened by this much (it cuts words at their edges)
TITLE_GAP = 160.0  # pt: how far above a table its title may be
RULED_HEADER_ROWS = 4  # most leading rows a ruled table's header may take
BORDERLESS_HEADER_ROWS = 6  # camelot gives one text line per row, so wrapped headers take more rows
MAX_TITLE_CHARS = 120
PROSE_CELL_CHARS = 400  # a cell this long holding several sentences is a paragraph, not a value
PROSE_CELL_SENTENCES = 3

_WS = re.compile(r"\s+")
_NUM = re.compile(r"^[-+(]?[£$€]?[-+]?\d[\d,]*(\.\d+)?\)?%?$|^[-+]?£?\d[\d,.]*(m|k|bn)?$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.;:](?=\s+(?:[A-Z(]|\d+\.))")
_CONTENTS_PAGE = re.compile(r"^\s*(?:page|pages|page\s+no\.?|page\s+number)\s*$", re.IGNORECASE)
_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
_BLANKS = frozenset(" \r\n\t\ufffe")
_QUIET_LOGGERS = ("pdfminer", "pdfplumber", "camelot", "playa")


@dataclass
class Table:
    """One table of a page as it is indexed."""

    title: str
    header: list[str]  # one name per column ("" for none); multi-row headers joined with a space
    rows: list[list[str]]  # data rows, header rows excluded; merged cells filled down
    bbox: Box
    page: int  # 1-based, as a viewer numbers pages
    source: Literal["ruled", "borderless"]
    header_from_previous_page: bool = False
    sections: list[str | None] = field(default_factory=list)  # the section row in force for each row
    #: Leading one-cell rows spanning the table (a boxed introduction), kept as they stand.
    captions: list[str] = field(default_factory=list)
    #: Text inside the table's box but in no cell, kept so nothing inside a table is dropped.
    orphans: str = ""

    @property
    def lines(self) -> list[str]:
        """The lines that stand for the table in the page text: captions, title, header, one per row."""
        return self.captions + _lines_for(self) + ([self.orphans] if self.orphans else [])


@dataclass
class PageTables:
    """A page's text as indexed, and the tables whose lines are in it."""

    text: str
    tables: list[Table]


def is_number(cell: str) -> bool:
    """A figure as a table cell holds it: "£1,425.00", "(4.2)", "-58.6", "12%", "£3.0m"."""
    squashed = _WS.sub("", cell or "")
    return bool(squashed) and bool(_NUM.match(squashed))


def row_line(header: Sequence[str], row: Sequence[str], section: str | None = None) -> str:
    """One row as indexed: "Item: Benches | Location: Abbey Roundabout | ...", empty cells left out."""
    names = list(header) + [""] * (len(row) - len(header))
    line = " | ".join(f"{h}: {v}" if h else v for h, v in zip(names, row, strict=False) if v)
    return f"({section}) {line}" if section and line else line


def read_tables(path: Path, pages: list[Page], mode: TablesMode) -> None:
    """Give each page of a PDF holding tables its table-aware text, in place.

    Pages read by OCR, and empty ones, are left alone: their text is not
    PDFium's, so PDFium's table cells could not be laid over it. A table
    continued from the page before takes that page's header.
    """
    if mode == "off":
        return
    try:
        reader = TableReader(path, mode)
    except Exception:
        return  # not readable by the table libraries: every page keeps PDFium's text
    with reader:
        previous: Table | None = None
        for page in pages:
            if page.ocr or not page.text.strip():
                previous = None
                continue
            found = reader.read(page.number - 1, previous, expected=page.text)
            page.text = found.text
            previous = found.tables[-1] if found.tables else None


class TableReader:
    """One PDF opened for table reading: pdfplumber for rules and fonts, PDFium for the text."""

    def __init__(self, path: Path, mode: TablesMode = "all") -> None:
        import pdfplumber

        self.path = Path(path)
        self.mode = mode
        self.borderless = mode == "all"
        # Pages seen, by their characters and where they stand: a page repeating an earlier one is read once.
        self._seen: dict[tuple[str, int, tuple[str, ...] | None], tuple[list[int], list[Table]]] = {}
        with _quiet():
            self._plumber = pdfplumber.open(str(path))
        try:
            self._pdfium = pdfium.PdfDocument(str(path))
        except Exception:
            self._plumber.close()
            raise

    def __enter__(self) -> TableReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._plumber.close()
        self._pdfium.close()

    def __len__(self) -> int:
        return len(self._pdfium)

    def read(self, index: int, previous: Table | None = None, expected: str | None = None) -> PageTables:
        """The page's text with its tables as row lines, and those tables.

        ``previous`` is the last table of the page before (a continued table
        takes its header). ``expected`` is the text the loader already has for
        the page: when PDFium's own text is not exactly that (the page was read
        some other way), it is returned unchanged. So is PDFium's text when no
        table is kept or anything fails (without ``expected``, a page PDFium
        cannot read at all raises).
        """
        fallback = expected
        try:
            with _quiet():
                chars = _PageChars(self._pdfium, index)
                if fallback is None:
                    fallback = chars.text
                if self.mode == "off" or chars.text != fallback or not chars.aligned:
                    return PageTables(fallback, [])
                key = (chars.raw, hash(tuple(chars.boxes)), (previous.title, *previous.header) if previous else None)
                if key in self._seen:
                    owner, tables = self._seen[key]
                    tables = [replace(t, page=index + 1) for t in tables]
                else:
                    plumber_page = self._plumber_page(index, chars)
                    if plumber_page is None:
                        return PageTables(fallback, [])
                    try:
                        owner, tables = _PageReader(self.path, index, plumber_page, chars, self.borderless).read(previous)
                    finally:
                        plumber_page.close()
                    self._seen[key] = owner, tables
                if not tables:
                    return PageTables(fallback, [])
                return PageTables(_page_text(chars, owner, tables), tables)
        except Exception:
            if fallback is None:
                raise  # PDFium cannot read the page at all: there is no text of its to fall back on
            return PageTables(fallback, [])

    def _plumber_page(self, index: int, chars: _PageChars) -> Any | None:
        """pdfplumber's view of the same page, or None when its coordinates would not match PDFium's."""
        if len(self._plumber.pages) != len(self._pdfium) or chars.moved:
            return None
        page = self._plumber.pages[index]
        if page.rotation or abs(page.width - chars.width) > 0.5 or abs(page.height - chars.height) > 0.5:
            return None
        return page


def read_page(path: Path, index: int, mode: TablesMode = "all", previous: Table | None = None) -> PageTables:
    """One page of a PDF (0-based ``index``) read with its tables."""
    with TableReader(path, mode) as reader:
        return reader.read(index, previous)


def read_document(path: Path, mode: TablesMode = "all") -> list[PageTables]:
    """Every page of a PDF in order, each continued table taking the header of the page before."""
    out: list[PageTables] = []
    with TableReader(path, mode) as reader:
        previous: Table | None = None
        for index in range(len(reader)):
            found = reader.read(index, previous)
            out.append(found)
            previous = found.tables[-1] if found.tables else None
    return out


@contextmanager
def _quiet() -> Iterator[None]:
    """No warnings or log lines from the table libraries: camelot warns on every page without a table,
    and the PDF loader counts every Python warning raised while it reads a file as a pypdf warning."""
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _page_text(chars: _PageChars, owner: list[int], tables: list[Table]) -> str:
    """PDFium's characters in PDFium's order, each table's run replaced by its lines at its first character."""
    out: list[str] = []
    emitted: set[int] = set()
    i = 0
    while i < chars.n:
        k = owner[i]
        j = i
        while j < chars.n and owner[j] == k:
            j += 1
        if k == -1:
            out.append(chars.raw[i:j])
        elif k not in emitted:
            emitted.add(k)
            on_new_line = not out or out[-1].endswith("\n")
            out.append(("" if on_new_line else "\n") + "\n".join(tables[k].lines) + "\n")
        i = j
    return _clean_pdfium("".join(out))


def _clean_pdfium(text: str) -> str:
    """PDFium's text as the PDF loader gives it: CRLF line ends, U+FFFE for hyphens it thinks soft."""
    return text.replace("\r\n", "\n").replace("\ufffe", "-")


# --- PDFium's characters ---------------------------------------------------------------------------------------


class _PageChars:
    """PDFium's characters of one page with their boxes (top-left origin), and the page text they make."""

    def __init__(self, doc: pdfium.PdfDocument, index: int) -> None:
        page = doc[index]
        try:
            self.width, self.height = page.get_width(), page.get_height()
            left, bottom, _, _ = page.get_mediabox()
            #: Vector paths drawn on the page (form XObjects included): with none there is no rule to read, and
            #: pdfplumber's parse of the page for its lines (most of a page's cost) is skipped.
            self.has_paths = next(page.get_objects(filter=[pdfium_raw.FPDF_PAGEOBJ_PATH], max_depth=3), None) is not None
            #: Rotated, or its media box not at the origin: pdfplumber's coordinates would not be PDFium's.
            self.moved = bool(page.get_rotation()) or abs(left) > 0.5 or abs(bottom) > 0.5
            textpage = page.get_textpage()
            try:
                self.n = textpage.count_chars()
                self.raw = textpage.get_text_range()
                self.boxes: list[Box] = []
                for i in range(self.n):
                    x0, y0, x1, y1 = textpage.get_charbox(i)
                    self.boxes.append((x0, self.height - y1, x1, self.height - y0))
            finally:
                textpage.close()
        finally:
            page.close()
        self.text = _clean_pdfium(self.raw)
        #: One string character per PDFium character (no characters outside the BMP), so indices agree.
        self.aligned = len(self.raw) == self.n

    def centre(self, i: int) -> tuple[float, float]:
        x0, top, x1, bottom = self.boxes[i]
        return (x0 + x1) / 2, (top + bottom) / 2

    def is_blank(self, i: int) -> bool:
        return self.raw[i] in _BLANKS or self.boxes[i][2] - self.boxes[i][0] <= 0


def _inside(point: tuple[float, float], box: Box, pad: float = 0.5) -> bool:
    x, y = point
    return box[0] - pad <= x <= box[2] + pad and box[1] - pad <= y <= box[3] + pad


def _clean_cell(text: str) -> str:
    """A cell's characters as one line: soft hyphens made real, "risk-\\nbased" kept whole, spaces squashed."""
    text = text.replace("\r\n", "\n").replace("\ufffe\n", "-").replace("\ufffe", "-")
    text = re.sub(r"(\w)-\n(?=[a-z])", r"\1-", text)
    return _WS.sub(" ", text).strip()


def _row_span(grid_row: list[Box | None]) -> tuple[float, float]:
    boxes = [b for b in grid_row if b]
    return min(b[1] for b in boxes), max(b[3] for b in boxes)


def _outer(boxes: Sequence[Box]) -> Box:
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


# --- one page ---------------------------------------------------------------------------------------------------


@dataclass
class _Found:
    """A table's place on the page before its text is read."""

    bbox: Box
    grid: Grid
    source: Literal["ruled", "borderless"]


class _PageReader:
    """Finds the tables of one page and reads their cells from PDFium's characters."""

    def __init__(self, path: Path, index: int, page: Any, chars: _PageChars, borderless: bool) -> None:
        self.path, self.index, self.page, self.chars, self.borderless = path, index, page, chars, borderless
        self._words: list[dict[str, Any]] | None = None
        self._font_words: list[dict[str, Any]] | None = None

    @property
    def words(self) -> list[dict[str, Any]]:
        if self._words is None:
            self._words = self.page.extract_words()
        return self._words

    @property
    def font_words(self) -> list[dict[str, Any]]:
        """Words split where the font changes too, so a bold heading is told from the text beside it."""
        if self._font_words is None:
            self._font_words = self.page.extract_words(extra_attrs=["fontname", "size"])
        return self._font_words

    def read(self, previous: Table | None) -> tuple[list[int], list[Table]]:
        """The tables kept on the page, and for each character the index of the kept table holding it (-1:
        none); the characters of a table found but not kept stay in the text as they are."""
        found = [_Found(tuple(t.bbox), [list(r.cells) for r in t.rows], "ruled") for t in self._ruled()]
        if self.borderless and not found:
            found = [_Found(bbox, grid, "borderless") for bbox, grid in self._borderless()]
        if not found:
            return [], []
        owner = self._owners([f.bbox for f in found])
        ids: list[list[int]] = [[] for _ in found]
        for i, k in enumerate(owner):
            if k >= 0:
                ids[k].append(i)
        boxes = [f.bbox for f in found]
        kept: dict[int, int] = {}
        tables: list[Table] = []
        for k, f in enumerate(found):
            table = self._table(f, ids[k], boxes, previous)
            if table is not None:
                kept[k] = len(tables)
                tables.append(table)
        return [kept.get(k, -1) for k in owner], tables

    # --- where the characters go

    def _owners(self, boxes: list[Box]) -> list[int]:
        """For each character, the table whose box holds it (-1: none); blanks between two characters of one
        table belong to it."""
        chars = self.chars
        owner = [-1] * chars.n
        for i in range(chars.n):
            if not chars.is_blank(i):
                centre = chars.centre(i)
                owner[i] = next((k for k, b in enumerate(boxes) if _inside(centre, b)), -1)
        for i in range(chars.n):
            if owner[i] == -1 and chars.is_blank(i):
                before = i - 1
                while before >= 0 and chars.is_blank(before) and owner[before] == -1:
                    before -= 1
                after = i + 1
                while after < chars.n and chars.is_blank(after) and owner[after] == -1:
                    after += 1
                if before >= 0 and after < chars.n and owner[before] == owner[after] != -1:
                    owner[i] = owner[before]
        return owner

    # --- the ruled stage

    def _ruled(self) -> list[Any]:
        """pdfplumber's tables on the page's rules, without page frames, colour bands and boxes around prose."""
        vertical, horizontal = self._rule_edges()
        if not vertical or not horizontal:
            return []
        settings = {
            "vertical_strategy": "explicit",
            "horizontal_strategy": "explicit",
            "explicit_vertical_lines": vertical,
            "explicit_horizontal_lines": horizontal,
        }
        return [
            t for t in self.page.find_tables(settings)
            if _real_columns(t) >= 2 and not _banding(t) and not self._cuts_words(t)
        ]

    def _rule_edges(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Edges of drawn rules and cell shading; not of gradient strips, white fills nor curves.

        A gradient is drawn as many filled strips 2-6 pt high, which would make
        dozens of rows of one cell; Word draws a white box behind every word of
        some paragraphs, which would make a "table" of prose.
        """
        from pdfplumber.utils import line_to_edge, rect_to_edges

        if not self.chars.has_paths:
            return [], []
        edges = [line_to_edge(line) for line in self.page.lines]
        for rect in self.page.rects:
            thickness = min(rect["width"], rect["height"])
            visible_fill = not _white(rect.get("non_stroking_color")) and (
                thickness <= RULE_MAX or thickness >= STRIP_MAX
            )
            if rect.get("stroke") or visible_fill:
                edges.extend(rect_to_edges(rect))
        return [e for e in edges if e["orientation"] == "v"], [e for e in edges if e["orientation"] == "h"]

    def _cuts_words(self, table: Any) -> bool:
        """Rules that run through words are not a table's: a real table's cells hold whole words."""
        cells = [c for row in table.rows for c in row.cells if c]
        cut = seen = 0
        for w in self.words:
            centre = ((w["x0"] + w["x1"]) / 2, (w["top"] + w["bottom"]) / 2)
            home = next((c for c in cells if _inside(centre, c, 0.0)), None)
            if home is None:
                continue
            seen += 1
            cut += w["x0"] < home[0] - 1 or w["x1"] > home[2] + 1
        return cut >= 3 and cut >= 0.05 * max(seen, 1)

    # --- the borderless stage

    def _borderless(self) -> list[tuple[Box, Grid]]:
        """camelot's "network" tables that look like data, as grids of cell boxes."""
        try:
            import camelot
        except ImportError:
            return []
        height = self.chars.height
        found = camelot.read_pdf(str(self.path), pages=str(self.index + 1), flavor="network")
        candidates = []
        for t in found:
            x0, y0, x1, y1 = t._bbox
            candidates.append(
                {
                    "rows": t.df.values.tolist(),
                    "bbox": (x0, height - y1, x1, height - y0),
                    "bands": [(height - top, height - bottom) for top, bottom in t.rows],
                    "cols": [(c[0], c[1]) for c in t.cols],
                }
            )
        _, h_rules = self._rule_edges()
        grids: list[tuple[Box, Grid]] = []
        for c in candidates:
            if not _looks_like_data(c["rows"]):
                continue
            bbox, bands = self._with_header_block(c, candidates)
            bands = _rule_bands(bands, h_rules, bbox)
            cols = self._split_number_columns([list(col) for col in c["cols"]], bbox)
            cols[0][0] = min(cols[0][0], bbox[0]) - PAD
            cols[-1][1] = max(cols[-1][1], bbox[2]) + PAD
            grid: Grid = [[(lo, top, hi, bottom) for lo, hi in cols] for top, bottom in bands]
            outer = (bbox[0] - PAD, min(b[0] for b in bands), bbox[2] + PAD, max(b[1] for b in bands))
            grids.append((outer, grid))
        return grids

    @staticmethod
    def _with_header_block(table: dict[str, Any], candidates: list[dict[str, Any]]) -> tuple[Box, list]:
        """A text-only block just above a table is its header: camelot often cuts a wrapped header off."""
        bbox, bands = table["bbox"], list(table["bands"])
        for other in candidates:
            if other is table or _looks_like_data(other["rows"]):
                continue
            ob = other["bbox"]
            overlap = min(ob[2], bbox[2]) - max(ob[0], bbox[0])
            if -40 <= bbox[1] - ob[3] <= 30 and ob[1] < bbox[1] and overlap >= 0.5 * (bbox[2] - bbox[0]):
                bands = list(other["bands"]) + bands
                bbox = (min(bbox[0], ob[0]), ob[1], max(bbox[2], ob[2]), bbox[3])
        return bbox, bands

    def _split_number_columns(self, cols: list[list[float]], bbox: Box) -> list[list[float]]:
        """Split a column whose figures end at two or more right edges, each shared by >= 3 figures.

        camelot reads two right-aligned figure columns set close together as one
        ("429,966.5  201,737.2" in one cell of Appendix E). No column edge is
        left cutting through a word.
        """
        near = [w for w in self.words if bbox[1] - 1 <= w["top"] <= bbox[3] + 1]

        def isolated(w: dict[str, Any]) -> bool:  # alone on its line, as a cell is; not a word of a sentence
            return not any(
                v is not w and abs(v["top"] - w["top"]) < 2
                and (0 <= v["x0"] - w["x1"] < 6 or 0 <= w["x0"] - v["x1"] < 6)
                for v in near
            )

        alone = [w for w in near if isolated(w)]
        figures = [w for w in alone if is_number(w["text"])]

        def clear_of_words(cut: float) -> float:
            for w in alone:
                if w["x0"] < cut < w["x1"]:
                    cut = w["x0"] - 0.5 if (w["x0"] + w["x1"]) / 2 > cut else w["x1"] + 0.5
            return cut

        out: list[list[float]] = []
        for x0, x1 in cols:
            inside = sorted((w for w in figures if x0 <= (w["x0"] + w["x1"]) / 2 < x1), key=lambda w: w["x1"])
            clusters: list[list[dict[str, Any]]] = []
            for w in inside:
                if clusters and w["x1"] - clusters[-1][-1]["x1"] <= 4:
                    clusters[-1].append(w)
                else:
                    clusters.append([w])
            clusters = [c for c in clusters if len(c) >= 3]
            if len(clusters) < 2:
                out.append([x0, x1])
                continue
            cuts = []
            for a, b in zip(clusters, clusters[1:], strict=False):
                right_a, left_b = max(w["x1"] for w in a), min(w["x0"] for w in b)
                cuts.append(clear_of_words((right_a + left_b) / 2 if left_b > right_a else right_a + 0.5))
            edges = [x0, *cuts, x1]
            out.extend([lo, hi] for lo, hi in zip(edges, edges[1:], strict=False))
        for n in range(1, len(out)):  # nor at camelot's own column edges
            cut = clear_of_words(out[n][0])
            if out[n - 1][0] < cut < out[n][1]:
                out[n - 1][1] = out[n][0] = cut
        return out

    # --- reading one table

    def _table(self, found: _Found, ids: list[int], boxes: list[Box], previous: Table | None) -> Table | None:
        """The table's header, rows and lines from its characters; None when nothing is left of it."""
        grid = found.grid
        cells, orphans = self._fill_cells(grid, ids)
        title = ""
        captions: list[str] = []  # leading one-cell rows spanning the table (a boxed introduction), kept verbatim
        while len(cells) > 2 and cells[0][0] and sum(1 for c in cells[0] if c) == 1 and \
                sum(1 for b in grid[0] if b is not None) == 1:
            raw = self._band(ids, grid[0], keep_lines=True)
            captions.append(raw.strip("\n"))
            last = [line.strip() for line in raw.split("\n") if line.strip()]
            if last and len(last[-1]) <= MAX_TITLE_CHARS:
                title = last[-1]
            cells, grid = cells[1:], grid[1:]
        borderless = found.source == "borderless"
        if borderless:  # leading one-cell lines, or lines written across the columns, are a caption
            while cells and ((not any(cells[0][1:]) and not is_number(cells[0][0])) or self._crosses_columns(grid[0])):
                title = (title + " " + self._band(ids, grid[0])).strip()
                cells, grid = cells[1:], grid[1:]
        if not cells:
            return None
        if borderless:
            cells, grid = self._merge_wrapped_labels(ids, cells, grid)
        key_value = not borderless and self._key_value(cells, grid)
        n_header = 0 if key_value else self._header_rows(cells, grid, BORDERLESS_HEADER_ROWS if borderless else RULED_HEADER_ROWS)
        ncol = max(len(r) for r in cells)
        if borderless and n_header > 1:
            self._spread_group_labels(cells, grid, n_header)
        if not borderless:
            if n_header:
                self._split_wide_header_cells(ids, cells, grid, n_header)
            _fill_down(cells, grid, start=max(n_header, 1))  # body rows only: a header spanning rows is named once
        header = [" ".join(r[j] for r in cells[:n_header] if j < len(r) and r[j]) for j in range(ncol)]
        body = cells[n_header:]
        if borderless and not header[0] and len(body) > 1 and body[0][0] and not any(body[0][1:]):
            header[0], body = body[0][0], body[1:]  # "MTFP Category" under the header names the first column
        continued = (
            n_header == 0 and not key_value and previous is not None and len(previous.header) == ncol
            and any(previous.header) and found.bbox[1] < 0.25 * self.chars.height
        )
        if continued and previous is not None:
            header = list(previous.header)
            title = title or previous.title
        if header and _CONTENTS_PAGE.match(header[-1]):
            return None  # a list of contents: its entries and page numbers are not data, and its heading is the title
        if ncol == 2 and not any(header) and any(_is_paragraph(c) for row in body for c in row):
            return None  # a label beside paragraphs (an officer's delegated powers): read as printed, sentence by sentence
        title = title or self._title(found.bbox, boxes)
        sections: list[str | None] = []
        section: str | None = None
        for row in body:
            if _is_section_row(row):
                section = row[0]
                sections.append(None)
            else:
                sections.append(section)
        return Table(title, header, body, found.bbox, self.index + 1, found.source, continued, sections, captions, orphans)

    def _fill_cells(self, grid: Grid, ids: list[int]) -> tuple[list[list[str]], str]:
        """Each cell's text, from the PDFium characters whose centre lies in it, in PDFium order; and the text
        inside the table's box that is in no cell (kept, so nothing inside a table is dropped)."""
        chars = self.chars
        buf: list[list[list[str]]] = [[[] for _ in row] for row in grid]
        orphans: list[str] = []
        last: tuple[int, int] | None = None
        in_orphans = False
        line_y = self._line_centres(ids)
        for i in ids:
            ch = chars.raw[i]
            if chars.is_blank(i):
                if in_orphans:
                    orphans.append(ch)
                elif last is not None:
                    buf[last[0]][last[1]].append(ch)
                continue
            point = (chars.centre(i)[0], line_y[i])
            hit = next(
                ((ri, ci) for ri, row in enumerate(grid) for ci, box in enumerate(row)
                 if box is not None and _inside(point, box, 0.0)),
                None,
            ) or _nearest_slot(grid, point)
            if hit is None:
                if orphans and not in_orphans and orphans[-1] not in " \r\n":
                    orphans.append(" ")
                orphans.append(ch)
                in_orphans = True
                continue
            cell = buf[hit[0]][hit[1]]
            if cell and (hit != last or in_orphans) and cell[-1] not in _BLANKS:
                cell.append(" ")  # PDFium came back from another cell: never glue two runs into one word
            cell.append(ch)
            last, in_orphans = hit, False
        return [[_clean_cell("".join(c)) for c in row] for row in buf], _clean_cell("".join(orphans))

    def _line_centres(self, ids: list[int]) -> dict[int, float]:
        """The vertical centre of each character's text line, so a line overflowing its cell's bottom edge goes
        to one cell whole instead of letter by letter."""
        chars = self.chars
        out: dict[int, float] = {}
        run: list[int] = []

        def flush() -> None:
            if run:
                y = (min(chars.boxes[j][1] for j in run) + max(chars.boxes[j][3] for j in run)) / 2
                out.update((j, y) for j in run)
                run.clear()

        for i in ids:
            if chars.is_blank(i):
                continue
            if run:
                p = chars.boxes[run[-1]]
                b = chars.boxes[i]
                if not (abs(b[3] - p[3]) <= 1.5 and p[2] - 1 <= b[0] <= p[2] + 8):
                    flush()
            run.append(i)
        flush()
        return out

    def _band_ids(self, ids: list[int], grid_row: list[Box | None]) -> list[int]:
        top, bottom = _row_span(grid_row)
        return [i for i in ids if not self.chars.is_blank(i) and top <= self.chars.centre(i)[1] <= bottom]

    def _band(self, ids: list[int], grid_row: list[Box | None], keep_lines: bool = False) -> str:
        """The characters of one row band in PDFium's order, across the columns (a caption)."""
        picked = self._band_ids(ids, grid_row)
        if not picked:
            return ""
        raw = self.chars.raw[picked[0] : picked[-1] + 1]
        return raw.replace("\r\n", "\n").replace("\ufffe", "-") if keep_lines else _clean_cell(raw)

    def _first_x(self, ids: list[int], box: Box | None) -> float | None:
        if box is None:
            return None
        xs = [self.chars.boxes[i][0] for i in ids if not self.chars.is_blank(i) and _inside(self.chars.centre(i), box, 0.0)]
        return min(xs) if xs else None

    def _merge_wrapped_labels(self, ids: list[int], cells: list[list[str]], grid: Grid) -> tuple[list[list[str]], Grid]:
        """Put a label's wrapped, indented line back with it (borderless tables come one text line per row).

        "Shadow Executive Members (including Deputy | 2,700" over an indented
        "Opposition Leader)" is one row; so is "Planning & Development Management
        Committee" over an indented "Chair | 10,807". A one-cell line that is not
        indented ("Special Responsibilities") is a section row and stays.
        """
        xs = [self._first_x(ids, row[0]) if row else None for row in grid]
        out_cells: list[list[str]] = []
        out_grid: Grid = []
        i = 0
        while i < len(cells):
            row = list(cells[i])
            only_label = bool(row[0]) and not any(row[1:])
            if only_label and out_cells and xs[i] is not None and xs[i - 1] is not None and xs[i] > xs[i - 1] + 3 \
                    and any(out_cells[-1][1:]):
                out_cells[-1][0] = f"{out_cells[-1][0]} {row[0]}"
                i += 1
                continue
            if only_label and i + 1 < len(cells) and xs[i + 1] is not None and xs[i] is not None \
                    and xs[i + 1] > xs[i] + 3 and any(cells[i + 1][1:]) and cells[i + 1][0]:
                following = list(cells[i + 1])
                following[0] = f"{row[0]} {following[0]}"
                out_cells.append(following)
                out_grid.append(grid[i + 1])
                i += 2
                continue
            out_cells.append(row)
            out_grid.append(grid[i])
            i += 1
        return out_cells, out_grid

    def _crosses_columns(self, grid_row: list[Box | None]) -> bool:
        """A line whose words straddle a column boundary is a caption written across the table."""
        boxes = [b for b in grid_row if b]
        if len(boxes) < 2:
            return False
        top, bottom = _row_span(grid_row)
        bounds = [b[2] for b in boxes[:-1]]
        return any(
            top <= (w["top"] + w["bottom"]) / 2 <= bottom and any(w["x0"] + 1 < x < w["x1"] - 1 for x in bounds)
            for w in self.words
        )

    # --- header, title

    def _bold_share(self, box: Box) -> float:
        chars = [
            c for c in self.page.chars
            if c["text"].strip() and _inside(((c["x0"] + c["x1"]) / 2, (c["top"] + c["bottom"]) / 2), box, 0.0)
        ]
        return sum(bool(_BOLD.search(c.get("fontname", ""))) for c in chars) / len(chars) if chars else 0.0

    def _header_rows(self, cells: list[list[str]], grid: Grid, most: int) -> int:
        """How many leading rows are the header: rows without figures that are bold, or short."""
        n = 0
        for ri, row in enumerate(cells[:most]):
            filled = [c for c in row if c]
            if not filled or any(is_number(c) for c in filled):
                break
            if ri > 0 and len(filled) == 1 and row[0]:  # a section row ends the header
                break
            boxes = [b for b in grid[ri] if b]
            bold = self._bold_share(_outer(boxes)) if boxes else 0.0
            if ri == 0 and bold < 0.6 and len(row) == 2 and len(row[0]) <= 15 and len(row[1].split()) >= 4:
                break  # a plain key ("GREEN | Target has been achieved or exceeded"): a label and its meaning
            # A plain later row continues the header only where a label wrapped: some columns are left empty.
            # One that fills every column is the first body row ("Leader of the Council | Cllr Andrew Western").
            short = (ri == 0 and all(len(c) <= 40 for c in filled)) or (
                n > 0 and all(len(c) <= 25 for c in filled) and len(filled) < len(row)
            )
            if bold < 0.6 and not short:
                break
            n += 1
        return n

    def _key_value(self, cells: list[list[str]], grid: Grid) -> bool:
        """A two-column box of bold labels and plain values ("Cabinet Member | Dylan Jeffrey") has no header."""
        if len(cells) < 2 or len(cells[0]) != 2:
            return False
        return all(
            row[0] and self._bold_share(row[0]) >= 0.6 and (not row[1] or self._bold_share(row[1]) < 0.4)
            for row in grid if row[0] is not None and len(row) == 2
        )

    def _split_wide_header_cells(self, ids: list[int], cells: list[list[str]], grid: Grid, n_header: int) -> None:
        """A header cell drawn over several body columns (white names on one green band, no rules between them)
        names each column by the words above it; one phrase over several columns ("RAG rating") names them all."""
        body = [row for row in grid[n_header:] if row]
        if not body:
            return
        widest = max(body, key=lambda row: sum(1 for b in row if b))
        bands = [(b[0], b[2]) if b else None for b in widest]
        chars = self.chars
        for ri in range(n_header):
            for ci, box in enumerate(grid[ri]):
                if box is None:
                    continue
                under = [j for j, band in enumerate(bands) if band and box[0] - 1 <= (band[0] + band[1]) / 2 <= box[2] + 1]
                if len(under) < 2:
                    continue
                words = self._words_in(ids, box)
                if not self._phrases_apart(words, under, bands):
                    for j in under:
                        if j < len(cells[ri]):
                            cells[ri][j] = cells[ri][ci]
                    continue
                parts: dict[int, list[str]] = {j: [] for j in under}
                for w in words:
                    x = (chars.boxes[w[0]][0] + chars.boxes[w[-1]][2]) / 2
                    home = next((j for j in under if bands[j][0] <= x <= bands[j][1]), None)
                    if home is None:
                        home = min(under, key=lambda j: abs((bands[j][0] + bands[j][1]) / 2 - x))
                    parts[home].append("".join(chars.raw[i] for i in w) + " ")
                texts = {j: _clean_cell("".join(v)) for j, v in parts.items()}
                if sum(1 for t in texts.values() if t) >= 2:
                    for j, t in texts.items():
                        if j < len(cells[ri]):
                            cells[ri][j] = t

    def _words_in(self, ids: list[int], box: Box) -> list[list[int]]:
        """PDFium's words (runs of non-blank characters) inside ``box``, as lists of character indices."""
        words: list[list[int]] = []
        word: list[int] = []
        for i in ids:
            if not _inside(self.chars.centre(i), box, 0.0):
                continue
            if self.chars.is_blank(i):
                if word:
                    words.append(word)
                    word = []
                continue
            word.append(i)
        if word:
            words.append(word)
        return words

    def _phrases_apart(self, words: list[list[int]], under: list[int], bands: list[tuple[float, float] | None]) -> bool:
        """Do the words set close together (phrases) stand over different columns?"""
        boxes = self.chars.boxes
        phrases: list[dict[str, float]] = []
        for w in sorted(words, key=lambda w: (round(boxes[w[0]][3]), boxes[w[0]][0])):
            x0, x1, bottom = boxes[w[0]][0], boxes[w[-1]][2], boxes[w[0]][3]
            if phrases and abs(phrases[-1]["bottom"] - bottom) < 2 and 0 <= x0 - phrases[-1]["x1"] < 6:
                phrases[-1]["x1"] = x1
            else:
                phrases.append({"x0": x0, "x1": x1, "bottom": bottom})
        homes = {
            next((j for j in under if bands[j][0] <= (p["x0"] + p["x1"]) / 2 <= bands[j][1]), -1)
            for p in phrases
        }
        return len(homes) > 1

    def _spread_group_labels(self, cells: list[list[str]], grid: Grid, n_header: int) -> None:
        """Group labels over the column names ("CYPE" over Core | External | Total) name each column under them.

        A label in a shaded header cell covers the columns under that cell; an
        unshaded one (Appendix E's TOTAL) the columns between the shaded cells
        either side of it. Only where the header has such shaded cells.
        """
        header_top, header_bottom = _row_span(grid[0])[0], _row_span(grid[n_header - 1])[1]
        shaded = sorted(
            (r for r in self.page.rects if r.get("fill") and r["width"] >= 20 and r["height"] >= 8
             and r["top"] <= header_bottom and r["bottom"] >= header_top and _shaded(r.get("non_stroking_color"))),
            key=lambda r: r["x0"],
        )
        if len(shaded) < 2:
            return
        ncol = len(grid[0])
        centres = [(grid[0][j][0] + grid[0][j][2]) / 2 if grid[0][j] else None for j in range(ncol)]
        for ri in range(n_header - 1):  # the last header row holds the column names themselves
            if sum(1 for c in cells[ri][1:] if c) >= 0.5 * (ncol - 1):
                continue  # a row of names (Core | External | Total ...), not of group labels
            top, bottom = _row_span(grid[ri])
            labels: list[dict[str, Any]] = []
            for w in sorted((w for w in self.words if top <= (w["top"] + w["bottom"]) / 2 <= bottom), key=lambda w: w["x0"]):
                if labels and w["x0"] - labels[-1]["x1"] <= 6:
                    labels[-1]["text"] += " " + w["text"]
                    labels[-1]["x1"] = w["x1"]
                else:
                    labels.append({"text": w["text"], "x0": w["x0"], "x1": w["x1"]})
            spread = [cells[ri][0]] + [""] * (ncol - 1)
            for label in labels:
                centre = (label["x0"] + label["x1"]) / 2
                home = next((r for r in shaded if r["x0"] <= centre <= r["x1"]), None)
                if home is not None:
                    lo, hi = home["x0"], home["x1"]
                else:
                    lo = max((r["x1"] for r in shaded if r["x1"] <= centre), default=-1e9)
                    hi = min((r["x0"] for r in shaded if r["x0"] >= centre), default=1e9)
                for j in range(1, ncol):
                    if centres[j] is not None and lo <= centres[j] <= hi:
                        spread[j] = (spread[j] + " " + label["text"]).strip()
            cells[ri][:] = spread

    def _title(self, bbox: Box, boxes: list[Box]) -> str:
        """The heading above the table: the nearest bold line within TITLE_GAP, else the line just above unless
        it ends a sentence."""
        words = [
            w for w in self.font_words
            if bbox[1] - TITLE_GAP <= w["bottom"] <= bbox[1] + 1
            and not any(_inside(((w["x0"] + w["x1"]) / 2, (w["top"] + w["bottom"]) / 2), b) for b in boxes)
        ]
        if not words:
            return ""
        lines: dict[int, list[dict[str, Any]]] = {}
        for w in words:
            lines.setdefault(round(w["top"] / 3), []).append(w)
        nearest_first = sorted(lines.values(), key=lambda ws: -ws[0]["bottom"])

        def text(ws: list[dict[str, Any]]) -> str:
            return " ".join(w["text"] for w in sorted(ws, key=lambda w: w["x0"]))

        for ws in nearest_first:
            if sum(bool(_BOLD.search(w["fontname"])) for w in ws) >= 0.6 * len(ws) and len(text(ws)) <= MAX_TITLE_CHARS:
                return text(ws)
        near = text(nearest_first[0])
        return near if len(near) <= 80 and not near.rstrip().endswith((".", ";", ",")) else ""


# --- pure helpers ---------------------------------------------------------------------------------------------


def _white(colour: Any) -> bool:
    """An invisible fill, white on white (grey 1 or RGB 1, 1, 1)."""
    if colour is None:
        return False
    values = colour if isinstance(colour, tuple | list) else (colour,)
    return len(values) in (1, 3) and all(isinstance(v, int | float) and v >= 0.98 for v in values)


def _shaded(colour: Any) -> bool:
    """A fill that shows: a colour is set and it is not white."""
    return colour is not None and not _white(colour)


def _real_columns(table: Any) -> int:
    """Columns holding a cell in at least one row (a page frame or a boxed paragraph has one)."""
    n = max(len(r.cells) for r in table.rows)
    return sum(any(j < len(r.cells) and r.cells[j] is not None for r in table.rows) for j in range(n))


def _banding(table: Any) -> bool:
    """Coloured column bands behind a borderless table make one or two tall rows of stacked figures."""
    if len(table.rows) > 2:
        return False
    for row in table.extract():
        for cell in row:
            lines = [x for x in (cell or "").split("\n") if x.strip()]
            if len(lines) >= 5 and sum(is_number(x) for x in lines) >= 3:
                return True
    return False


def _is_paragraph(cell: str) -> bool:
    """A cell of several sentences: as one row line it would be one unit of thousands of characters, quoted whole."""
    return len(cell) >= PROSE_CELL_CHARS and len(_SENTENCE_END.findall(cell)) >= PROSE_CELL_SENTENCES - 1


def _looks_like_data(rows: list[list[str]], min_figures: int = 3, min_share: float = 0.6) -> bool:
    """A column right of the first holds >= 3 figures and is >= 60% figures: prose never is."""
    ncol = max((len(r) for r in rows), default=0)
    for j in range(1, ncol):
        column = [r[j] for r in rows if j < len(r) and (r[j] or "").strip()]
        figures = sum(is_number(c) for c in column)
        if figures >= min_figures and figures >= min_share * len(column):
            return True
    return False


def _rule_bands(bands: list[tuple[float, float]], h_rules: list[dict[str, Any]], bbox: Box) -> list[tuple[float, float]]:
    """Rows between the horizontal rules crossing a borderless table, so a wrapped cell stays one cell; the text
    lines above the first rule (the header) stay as they are."""
    width = bbox[2] - bbox[0]
    middle = bbox[0] + 0.5 * width
    ys = sorted({
        round(e["top"], 0) for e in h_rules
        if e["x0"] <= middle <= e["x1"] and min(e["x1"], bbox[2]) - max(e["x0"], bbox[0]) >= 0.5 * width
        and bbox[1] - 25 <= e["top"] <= bbox[3] + 2
    })
    rules: list[float] = []
    for y in ys:
        if not rules or y - rules[-1] > 3:
            rules.append(y)
    if len(rules) < 3:
        return bands
    head = [b for b in bands if b[1] <= rules[0] + 1]
    body = list(zip(rules, rules[1:], strict=False))
    last = max(b[1] for b in bands)
    if last > rules[-1] + 3:
        body.append((rules[-1], last))
    return head + body


def _nearest_slot(grid: Grid, point: tuple[float, float]) -> tuple[int, int] | None:
    """The slot of a character in the table's box but in no cell (under a missing rule): its row band and the
    column band the other rows' cells make."""
    x, y = point
    ncol = max(len(r) for r in grid)
    columns: list[tuple[float, float] | None] = []
    for j in range(ncol):
        boxes = [r[j] for r in grid if j < len(r) and r[j] is not None]
        columns.append((min(b[0] for b in boxes), max(b[2] for b in boxes)) if boxes else None)
    for ri, row in enumerate(grid):
        if not any(row) or not (_row_span(row)[0] <= y <= _row_span(row)[1]):
            continue
        for j, col in enumerate(columns):
            if col and col[0] <= x <= col[1] and j < len(row):
                return ri, j
    return None


def _fill_down(cells: list[list[str]], grid: Grid, start: int = 1) -> None:
    """A slot under a row-spanning cell (pdfplumber gives None) takes that cell's text: each row stands alone."""
    for ri in range(start, len(grid)):
        row_boxes = [b for b in grid[ri] if b]
        for ci, box in enumerate(grid[ri]):
            if box is not None or cells[ri][ci]:
                continue
            above = ri - 1
            while above >= 0 and grid[above][ci] is None:
                above -= 1
            spanning = grid[above][ci] if above >= 0 else None
            if spanning is not None and row_boxes and spanning[3] > min(b[1] for b in row_boxes) + 1:
                cells[ri][ci] = cells[above][ci]


def _is_section_row(row: list[str]) -> bool:
    """One label in the first cell of a row of several columns ("Gender", "SPENDING")."""
    return len(row) > 1 and bool(row[0]) and sum(1 for c in row if c) == 1


def _lines_for(table: Table) -> list[str]:
    """The title line, the header as printed (so it is in the text even over an empty column), the rows."""
    out = [f"Table: {table.title} (page {table.page})" if table.title else f"Table (page {table.page})"]
    if any(table.header) and not table.header_from_previous_page:
        out.append("Columns: " + " | ".join(h for h in table.header if h))
    for row, section in zip(table.rows, table.sections, strict=True):
        line = row[0] if _is_section_row(row) else row_line(table.header, row, section)
        if line:
            out.append(line)
    return out
