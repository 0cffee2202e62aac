"""Spreadsheets (XLSX, CSV): each sheet is a page, each row a line that carries its column headers.

A row cut away from its header row answers nothing ("Benches | Abbey
Roundabout | 1 | £350.00"), and a chunk of a budget or a spend file is just
such a cut. So every data row becomes one line that pairs each value with its
column's header: ``Item: Benches | Location: Abbey Roundabout | Qty: 1``
(header and value joined by ": ", cells by " | ", empty cells left out). A
question naming a row's values then finds that line, and the line quoted as a
citation says what each figure is. The chunker keeps " | " lines whole.

The header row is the first row whose cells are mostly text and that is at
least half as wide as the widest row; rows above it (a sheet's title, "Spend
over £500 April 2024") are kept as lines before the rows. A header row with
merged or blank cells over a row of labels continues in that row, and the
parts of each column are joined ("2025-26" over "Budget Core" gives
"2025-26 Budget Core"). A row that is a single label ("REVENUE") stays a line
of its own, which the chunker reads as a heading of the rows below it.

Values read as the sheet shows them: numbers through their number format
(£1,234.50, 12%), dates as ISO dates, and formulas as the values the
spreadsheet program saved with them (openpyxl computes nothing); a formula
saved without a value is left out and named in a warning. CSV cells are kept
as written.

Before openpyxl turns any cell into a Python object, the package is checked
for zip bombs (:mod:`ingest.loaders.archive`) and every sheet's XML is
streamed once in C (lxml) to count the cells holding values: a sheet of more
than ``CLERK_MAX_SHEET_CELLS`` (rows x columns) is refused, since each of its
rows would become text to embed. The same pass finds merged cells and
formulas without a saved value. A CSV is counted as it is read.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
import unicodedata
import warnings as pywarnings
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree
from openpyxl import load_workbook
from openpyxl.cell.read_only import ReadOnlyCell
from openpyxl.utils.cell import coordinate_to_tuple, get_column_letter, range_boundaries

from clerk.settings import Settings
from ingest.loaders.archive import OLE_MAGIC, check_package
from ingest.loaders.text import decode
from ingest.types import IngestError, Page

if TYPE_CHECKING:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

KIND = "Excel .xlsx file"
#: Rows looked at for the header row (titles, notes and blank rows above a table).
HEADER_SCAN = 30
#: Rows one header may take ("2025-26" / "Budget" / "Core").
MAX_HEADER_ROWS = 4
#: Formula cells without a saved value named in the warning; the rest are counted.
NAMED_CELLS = 5


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell as the sheet shows it."""

    text: str
    #: A number, date or error value: not what a header is made of.
    numeric: bool = False
    #: Covered by a merged cell to its left: part of a header's span, not a value of its own.
    spanned: bool = False


EMPTY = Cell("")


def load_xlsx(path: Path, settings: Settings) -> tuple[list[Page], list[str]]:
    """One page per worksheet, in tab order: its name, then its title lines and header-carrying rows."""
    check_package(path, settings, KIND, ".xlsx", "Excel 97-2003 .xls")
    # openpyxl warns about features it drops (data validation, unknown extensions); none is text.
    # It is given the open file, not the path: with a path it refuses a workbook for its name alone.
    with pywarnings.catch_warnings(), path.open("rb") as fh:
        pywarnings.simplefilter("ignore")
        try:
            book = load_workbook(fh, read_only=True, data_only=True)
        except KeyError as exc:
            raise IngestError(f"not a readable {KIND}: a part is missing ({exc.args[0] if exc.args else exc})") from exc
        except ValueError as exc:  # openpyxl's word for a part it could not parse; the cause says why
            cause = exc.__cause__ or exc.__context__
            detail = f" ({type(cause).__name__})" if cause is not None else ""
            raise IngestError(f"not a readable {KIND}: a part of it is not valid XML{detail}") from exc
        except Exception as exc:
            raise IngestError(f"not a readable {KIND}: {type(exc).__name__}") from exc
        try:
            sheets = book.worksheets
            with zipfile.ZipFile(path) as package:  # every sheet is measured before any is read
                scans = [_scan_sheet(package, ws._worksheet_path, ws.title, settings) for ws in sheets]
            pages = [Page(n, _sheet_text(ws, scan)) for n, (ws, scan) in enumerate(zip(sheets, scans, strict=True), 1)]
        except IngestError:
            raise
        except Exception as exc:
            raise IngestError(f"not a readable {KIND}: {type(exc).__name__} in a worksheet") from exc
        finally:
            book.close()
    return pages, _uncached_warning([cell for scan in scans for cell in scan.uncached])


def load_csv(path: Path, settings: Settings) -> tuple[list[Page], list[str]]:
    """One page: the rows of the file with their headers; the encoding detected and named when not UTF-8."""
    data = path.read_bytes()
    if data.startswith(OLE_MAGIC):
        raise IngestError(
            "not a CSV file: it is an Office binary file (an old .xls workbook, or one saved with a password); "
            "save it as .csv or .xlsx"
        )
    text, warnings = decode(data)
    sample = text[:65536]
    controls = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    if "\x00" in sample or controls > 0.01 * len(sample):
        raise IngestError("not a CSV file: it holds binary data, not text")
    try:
        body = table_text(_csv_rows(text, _delimiter(sample), settings))
    except csv.Error as exc:
        raise IngestError(f"not a readable CSV file: {str(exc)[:100]}") from exc
    return [Page(1, body)], warnings


# --- rows to text ---------------------------------------------------------------------------------


def table_text(rows: Iterable[Sequence[Cell]]) -> str:
    """A table as text: its title lines (one paragraph each), then one line per data row, headers carried.

    ``rows`` is consumed once, so a sheet is never held twice: only the first
    :data:`HEADER_SCAN` rows are kept to find the header.
    """
    rows = iter(rows)
    head = list(itertools.islice(rows, HEADER_SCAN))
    block = _header_block(head)
    if block is None:
        lines = [line for row in itertools.chain(head, rows) if (line := _plain_line(row))]
        return "\n".join(lines)
    start, end = block
    titles = [line for row in head[:start] if (line := _plain_line(row))]
    headers = _headers(head[start:end])
    lines = [line for row in itertools.chain(head[end:], rows) if (line := _row_line(row, headers))]
    if not lines:  # a header and nothing under it (a template): the header is all the table says
        lines = [" | ".join(h for h in headers if h)]
    return "\n\n".join([*titles, "\n".join(lines)]).strip()


def _filled(row: Sequence[Cell]) -> list[Cell]:
    return [c for c in row if c.text]


def _header_block(head: list[Sequence[Cell]]) -> tuple[int, int] | None:
    """The rows [start, end) that make the header, or None when no row reads as one."""
    widest = max((len(_filled(r)) for r in head), default=0)
    if widest < 2:
        return None
    need = max(2, math.ceil(widest / 2))
    for start, row in enumerate(head):
        cells = _filled(row)
        if len(cells) >= need and 2 * sum(not c.numeric for c in cells) > len(cells):
            end = start + 1
            while end < len(head) and end - start < MAX_HEADER_ROWS and _continues_header(head[end - 1], head[end]):
                end += 1
            return start, end
    return None


def _continues_header(above: Sequence[Cell], row: Sequence[Cell]) -> bool:
    """Whether ``row`` is a second header row: all labels, most of them under a merged or blank cell of ``above``."""
    labelled = [i for i, c in enumerate(row) if c.text]
    if len(labelled) < 2 or any(row[i].numeric for i in labelled):
        return False
    open_above = sum(1 for i in labelled if i >= len(above) or not above[i].text or above[i].spanned)
    return 2 * open_above >= len(labelled)


def _headers(rows: list[Sequence[Cell]]) -> list[str]:
    """Each column's header: its cells down the header rows joined, a blank upper cell taking the label to its left."""
    width = max(len(r) for r in rows)
    columns: list[list[str]] = [[] for _ in range(width)]
    for k, row in enumerate(rows):
        label = ""
        for i in range(width):
            text = row[i].text if i < len(row) else ""
            if text:
                label = text
            elif k < len(rows) - 1:
                text = label  # a group label spans the blank cells to its right ("2024-25" over two columns)
            if text and (not columns[i] or columns[i][-1] != text):
                columns[i].append(text)
    return [" ".join(parts) for parts in columns]


def _plain_line(row: Sequence[Cell]) -> str:
    return " | ".join(c.text for c in row if c.text and not c.spanned)


def _row_line(row: Sequence[Cell], headers: list[str]) -> str:
    values = [(i, c) for i, c in enumerate(row) if c.text and not c.spanned]
    if not values:
        return ""
    if len(values) == 1 and not values[0][1].numeric and len(headers) >= 3:
        return values[0][1].text  # a label row ("REVENUE"): a heading over the rows below it
    if all(i < len(headers) and c.text == headers[i] for i, c in values):
        return ""  # the header row repeated (a table printed over several pages)
    return " | ".join(f"{headers[i]}: {c.text}" if i < len(headers) and headers[i] else c.text for i, c in values)


# --- XLSX ---------------------------------------------------------------------------------------

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_C, _ROW, _MERGE, _V, _F, _IS = (f"{_NS}{t}" for t in ("c", "row", "mergeCell", "v", "f", "is"))


@dataclass
class _SheetScan:
    """What one pass over a sheet's XML found before its cells are read."""

    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # min_col, min_row, max_col, max_row
    uncached: list[str] = field(default_factory=list)  # "Sheet!D18" of formulas saved without a value
    #: The last column holding a value; 0 for a sheet without any.
    width: int = 0


def _scan_sheet(package: zipfile.ZipFile, part: str, name: str, settings: Settings) -> _SheetScan:
    """Count the cells holding values (refusing a sheet over the limit), note merges and unsaved formulas."""
    scan = _SheetScan()
    limit = settings.max_sheet_cells
    rows = width = row_number = column = 0
    row_has_value = False
    with package.open(part.lstrip("/")) as stream:
        parser = etree.iterparse(
            stream, events=("end",), tag=(_C, _ROW, _MERGE), resolve_entities=False, no_network=True, huge_tree=False
        )
        for _, element in parser:
            if element.tag == _C:
                ref = element.get("r")
                if ref:
                    row_number, column = coordinate_to_tuple(ref)
                else:
                    column += 1
                value = element.find(_V)
                has_value = (value is not None and bool(value.text)) or element.find(_IS) is not None
                if has_value:
                    row_has_value = True
                    width = max(width, column)
                elif element.find(_F) is not None:
                    scan.uncached.append(f"{name}!{get_column_letter(column)}{row_number}")
                element.clear()
                continue
            if element.tag == _ROW:
                if row_has_value:
                    rows += 1
                    if rows * width > limit:
                        raise IngestError(
                            f"sheet '{name}' refused as too large: at least {rows:,} rows x {width:,} columns, "
                            f"over the {limit:,}-cell limit (CLERK_MAX_SHEET_CELLS)"
                        )
                row_has_value, column = False, 0
                row_number = int(element.get("r") or row_number + 1)
                element.clear()
                while element.getprevious() is not None:
                    del element.getparent()[0]
            else:
                scan.merged.append(range_boundaries(element.get("ref", "A1:A1")))
    scan.width = width if rows else 0
    return scan


def _sheet_text(ws: ReadOnlyWorksheet, scan: _SheetScan) -> str:
    """A worksheet's page: "Sheet: <name>", then its table; an empty sheet keeps its page, without text."""
    if not scan.width:
        return ""
    ws.reset_dimensions()  # a sheet's stated size can be wrong; read the rows it really has
    body = table_text(_merge_filled(ws.iter_rows(), scan))
    return f"Sheet: {ws.title}\n\n{body}".strip()


def _merge_filled(rows: Iterable[Sequence[ReadOnlyCell]], scan: _SheetScan) -> Iterator[list[Cell]]:
    """Cells of each row as shown, a merged cell's value spread over its range.

    Down a column the value repeats in every row it covers (an "Item" merged
    over three rows names each of them); across columns the copies are marked
    ``spanned``, which headers use and row lines skip.
    """
    pending = sorted(scan.merged, key=lambda m: m[1])
    next_merge = 0
    active: list[tuple[int, int, int, int]] = []
    origins: dict[tuple[int, int], Cell] = {}
    for number, raw in enumerate(rows, 1):
        cells = [_cell(c) for c in raw]
        while next_merge < len(pending) and pending[next_merge][1] <= number:
            active.append(pending[next_merge])
            next_merge += 1
        active = [m for m in active if m[3] >= number]
        for min_col, min_row, max_col, _ in active:
            if number == min_row:
                origins[(min_row, min_col)] = cells[min_col - 1] if min_col <= len(cells) else EMPTY
            origin = origins.get((min_row, min_col), EMPTY)
            right = min(max_col, scan.width)  # a merge running on over empty columns adds none
            if not origin.text or right < min_col:
                continue
            cells.extend([EMPTY] * (right - len(cells)))
            for col in range(min_col, right + 1):
                if (number, col) != (min_row, min_col) and not cells[col - 1].text:
                    cells[col - 1] = Cell(origin.text, origin.numeric, spanned=col > min_col)
        yield cells


def _cell(cell: ReadOnlyCell) -> Cell:
    value = cell.value
    if value is None:
        return EMPTY
    if isinstance(value, str):
        text = " ".join(value.split())
        return Cell(text, numeric=getattr(cell, "data_type", "s") == "e") if text else EMPTY
    if isinstance(value, bool):
        return Cell("TRUE" if value else "FALSE", numeric=True)
    if isinstance(value, datetime | date | time):
        return Cell(_iso(value), numeric=True)
    if isinstance(value, timedelta):
        return Cell(str(value), numeric=True)
    if isinstance(value, int | float):
        return Cell(display_number(value, cell.number_format), numeric=True)
    return Cell(" ".join(str(value).split()))


def _iso(value: datetime | date | time) -> str:
    """ISO 8601; a date-time at midnight is a date, and seconds are shown only when there are some."""
    if isinstance(value, datetime):
        if value.time() == time():
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")
    if isinstance(value, time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    return value.isoformat()


def _uncached_warning(cells: list[str]) -> list[str]:
    if not cells:
        return []
    named = ", ".join(cells[:NAMED_CELLS]) + (f" and {len(cells) - NAMED_CELLS:,} more" if len(cells) > NAMED_CELLS else "")
    return [
        f"{len(cells):,} formula cell(s) were saved without a value and are left out ({named}); "
        "open and save the file in Excel or LibreOffice to store their values"
    ]


# --- number formats -------------------------------------------------------------------------------

_CURRENCY_CODE = re.compile(r"\[\$([^\]-]*)(?:-[^\]]*)?\]")  # [$£-809] is a literal "£"
_BRACKETS = re.compile(r"\[[^\]]*\]")  # colours and conditions: [Red], [>=1000]


def display_number(value: float, number_format: str | None) -> str:
    """A number as a number format shows it (thousands, decimals, currency, %, negative and zero sections).

    Fractions and scientific formats, and anything this does not parse, are
    shown as written (General: up to 15 significant digits).
    """
    if not number_format or number_format.lower() == "general" or number_format == "@":
        return _as_written(value)
    sections = _sections(number_format)
    section, sign = sections[0], "-" if value < 0 else ""
    if value < 0 and len(sections) > 1:
        section, sign = sections[1], ""  # the negative section writes its own sign: "(£1,234)"
    elif value == 0 and len(sections) > 2:
        section = sections[2]
    parsed = _parse_section(section)
    if parsed is None:
        return _as_written(value)
    prefix, digits, suffix = parsed
    if not any(ch in "0#?" for ch in digits):
        return (prefix + suffix).strip() or _as_written(value)  # a section of literals: "-" for zero
    number = Decimal(repr(abs(float(value))))
    if "%" in prefix + suffix:
        number *= 100
    whole, _, fraction = digits.partition(".")
    number /= Decimal(1000) ** (len(whole) - len(whole.rstrip(",")))  # trailing commas count thousands
    places = sum(ch in "0#?" for ch in fraction)
    required = fraction.count("0")
    number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    body = f"{number:{',' if ',' in whole.rstrip(',') else ''}.{places}f}"
    if "0" not in whole and body.startswith("0"):  # "#" and "?" show no insignificant zero: "#.00" is ".50"
        body = body[1:]
    if places > required and "." in body:  # "0.0#": optional places drop their trailing zeros
        whole_text, fraction_text = body.split(".")
        fraction_text = fraction_text.rstrip("0").ljust(required, "0")
        body = f"{whole_text}.{fraction_text}" if fraction_text else whole_text
    return f"{sign}{prefix}{body}{suffix}".strip()


def _sections(number_format: str) -> list[str]:
    """The ";"-separated sections of a format (positive; negative; zero; text), quotes respected."""
    sections, current, quoted = [], [], False
    for ch in number_format:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            sections.append("".join(current))
            current = []
        else:
            current.append(ch)
    sections.append("".join(current))
    return sections


def _parse_section(section: str) -> tuple[str, str, str] | None:
    """(literal text before, digit placeholders, literal text after) of one section; None for what is not a number."""
    section = _BRACKETS.sub("", _CURRENCY_CODE.sub(lambda m: f'"{m.group(1)}"', section))
    prefix: list[str] = []
    digits: list[str] = []
    suffix: list[str] = []
    i = 0
    while i < len(section):
        ch = section[i]
        if ch == '"':
            end = section.find('"', i + 1)
            end = len(section) if end < 0 else end
            text, i = section[i + 1 : end], end + 1
        elif ch == "\\":
            text, i = section[i + 1 : i + 2], i + 2
        elif ch in "_*":  # padding the width of the next character, or filling the cell with it: no text
            i += 2
            continue
        elif ch in "0#?." or (ch == "," and digits):
            digits.append(ch)
            i += 1
            continue
        elif ch in "Ee/@":
            return None
        else:
            text, i = ch, i + 1
        (suffix if digits else prefix).append(text)
    return "".join(prefix), "".join(digits), "".join(suffix)


def _as_written(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}"


# --- CSV ----------------------------------------------------------------------------------------

_DELIMITERS = ",;\t|"
_NUMBER = re.compile(r"^[-+(]?[£$€]?\s?-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)%?\)?$")
_DATE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?Z?)?$")


def looks_numeric(text: str) -> bool:
    """Whether a cell written as text is a number or a date ("1,234.50", "£350.00", "12%", "2024-04-01")."""
    return bool(_NUMBER.match(text) or _DATE.match(text))


def _delimiter(sample: str) -> str:
    """The delimiter that splits the first rows into the same number of fields most often (comma on a tie)."""
    best, best_score = ",", (0, 0)
    for delimiter in _DELIMITERS:
        try:
            counts = [len(r) for r in itertools.islice(csv.reader(io.StringIO(sample), delimiter=delimiter), 50)]
        except csv.Error:
            continue
        if not counts:
            continue
        fields, agreeing = Counter(counts).most_common(1)[0]
        score = (agreeing if fields > 1 else 0, fields)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_rows(text: str, delimiter: str, settings: Settings) -> Iterator[list[Cell]]:
    """Cells of each record, counted against ``CLERK_MAX_SHEET_CELLS`` as they are read."""
    limit = settings.max_sheet_cells
    rows = width = 0
    for record in csv.reader(io.StringIO(text), delimiter=delimiter):
        cells = [Cell(t, looks_numeric(t)) if (t := " ".join(v.split())) else EMPTY for v in record]
        while cells and not cells[-1].text:
            cells.pop()
        if cells:
            rows += 1
            width = max(width, len(cells))
            if rows * width > limit:
                raise IngestError(
                    f"CSV file refused as too large: at least {rows:,} rows x {width:,} columns, "
                    f"over the {limit:,}-cell limit (CLERK_MAX_SHEET_CELLS)"
                )
        yield cells
