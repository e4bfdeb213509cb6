"""Read one export file into a table of raw cells, with its header found and its rows numbered.

Spreadsheets and csv files are read as text only (no type guessing: a guessed float has
already lost an order id's digits), in one pass; the header row is found among the first rows
(exports put a title or notes above it). Parquet and json keep their own types; the value
parsers handle typed columns.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import polars as pl

from ordersync.errors import InputError

HEADER_SEARCH_ROWS = 20
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


@dataclass(frozen=True)
class RawTable:
    """Cells of one file under their header names, and where each row sits in the file."""

    frame: pl.DataFrame
    rows: pl.Series  # spreadsheet row number (1-based, header rows counted) of each frame row
    file: str
    sheet: str | None = None
    header_row: int | None = None
    spreadsheet: bool = False
    # Given a header and frame row positions (None: every row), returns the positions whose
    # cell is a long number cell (spreadsheets only: their text rendering hides that). xls
    # files can only answer for the positions given.
    number_cells: Callable[[str, pl.Series | None], pl.Series] | None = None
    duplicates: tuple[str, ...] = ()  # header names that appear more than once
    number_cells_exact: bool = False  # number_cells can answer for every row at once


def read_table(
    path: Path,
    fmt: str,
    key_headers: Sequence[str],
    *,
    sheet: str | int | None = None,
    header_row: int | None = None,
    encoding: str | None = None,
) -> RawTable:
    """Read `path` as `fmt`, locating the header row by `key_headers` unless `header_row` is set."""
    file = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot open the file: {exc.strerror}", file=file) from None
    if size == 0:
        raise InputError("the file is empty (0 bytes); export it again", file=file)
    if fmt in ("xlsx", "xls"):
        return _read_workbook(path, key_headers, sheet, header_row)
    if fmt == "csv":
        return _read_csv(path, key_headers, header_row, encoding)
    if fmt == "parquet":
        try:
            frame = pl.read_parquet(path)
        except Exception as exc:  # polars raises several kinds for a damaged file
            raise InputError(f"not a readable parquet file: {exc}", file=file) from None
        return RawTable(frame, pl.int_range(1, frame.height + 1, eager=True), file)
    if fmt in ("json", "jsonl"):
        return _read_json(path, fmt, encoding)
    raise InputError(f"format {fmt!r} is not a file format", file=file)


# --- spreadsheets --------------------------------------------------------------------------


def _read_workbook(
    path: Path, key_headers: Sequence[str], sheet: str | int | None, header_row: int | None
) -> RawTable:
    import fastexcel

    file = str(path)
    with path.open("rb") as handle:
        head = handle.read(8)
    if head == _OLE_MAGIC:
        if _ENCRYPTED_PACKAGE in path.read_bytes():
            raise InputError(
                "the workbook is password-protected (encrypted); open it in Excel, remove the "
                "password (File → Info → Protect Workbook) and save it again",
                file=file,
            )
        is_xlsx = False
    elif head.startswith(b"PK"):
        if not zipfile.is_zipfile(path):
            raise InputError(
                "the workbook is damaged or truncated (not a complete zip archive); download it again",
                file=file,
            )
        is_xlsx = True
    else:
        raise InputError("not an Excel workbook (neither xlsx nor xls); check `format:`", file=file)

    try:
        reader = fastexcel.read_excel(path.read_bytes() if not is_xlsx else str(path))
        names = list(reader.sheet_names)
    except Exception as exc:  # fastexcel raises its own error classes per failure
        kind = "damaged or truncated" if is_xlsx else "unreadable"
        raise InputError(f"the workbook is {kind}: {exc}", file=file) from None

    if sheet is None:
        index = 0
    elif isinstance(sheet, int):
        # 1-based, like header_row and like a person counts tabs.
        if not 1 <= sheet <= len(names):
            raise InputError(
                f"sheet {sheet} does not exist; the workbook has {len(names)} sheet(s): {names}",
                file=file,
            )
        index = sheet - 1
    elif sheet in names:
        index = names.index(sheet)
    else:
        raise InputError(f"no sheet named {sheet!r}; the sheets are {names}", file=file)
    sheet_name = names[index]

    scan = _SCANNER.submit(_large_number_cells, path, sheet_name) if is_xlsx else None
    try:
        loaded = reader.load_sheet(index, header_row=None, skip_rows=0, dtypes="string")
        grid = _whitespace_as_null(loaded.to_polars())
        absolute = [info.absolute_index for info in loaded.selected_columns]
    except Exception as exc:
        raise InputError(f"the sheet cannot be read: {exc}", file=file, sheet=sheet_name) from None

    # Without a header, row i of the grid is spreadsheet row i + 1 (skip_rows=0 keeps blanks).
    header_index = _locate_header(grid, key_headers, header_row, file, sheet_name)
    frame, headers, duplicates = _frame_under_header(
        grid, header_index, absolute, key_headers, file, sheet_name
    )
    first = header_index + 2
    rows = pl.int_range(first, first + frame.height, eager=True)
    letters = {h: _column_letter(absolute[i]) for i, h in enumerate(headers)}

    def number_cells(header: str, positions: pl.Series | None) -> pl.Series:
        if scan is not None:
            numeric = scan.result().get(letters[header], set())
            if positions is None:
                return (
                    rows.is_in(list(numeric)).arg_true()
                    if numeric
                    else pl.Series([], dtype=pl.UInt32)
                )
        if positions is None:
            raise ValueError("xls files answer only for given positions")
        wanted = rows.gather(positions)
        if scan is None:
            numeric = _xls_number_rows(
                path, index, absolute[headers.index(header)], wanted.to_list()
            )
        return positions.filter(wanted.is_in(list(numeric)))

    return RawTable(
        frame,
        rows,
        file,
        sheet_name,
        header_index + 1,
        True,
        number_cells,
        duplicates,
        scan is not None,
    )


def _whitespace_as_null(grid: pl.DataFrame) -> pl.DataFrame:
    """A cell of whitespace only is empty, as fastexcel's `whitespace_as_null` has it (the same
    Unicode whitespace). Done here instead: measured on a 1M-row sheet of 15 columns, that option
    added ~0.55 s to fastexcel's conversion, this takes ~0.14 s."""
    text = pl.col(pl.String)
    return grid.with_columns(pl.when(text.str.contains(r"\S")).then(text))


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# A number cell whose value has 16+ digits: any such cell in an id column has lost digits.
_LARGE_NUMBER = re.compile(
    rb"<v>(?:\d{16,}(?:\.0*)?|\d(?:\.\d+)?[eE]\+?(?:1[5-9]|[2-9]\d|\d{3}))</v>"
)
_CELL_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
_CELL_TYPE = re.compile(rb'\bt="(\w+)"')
_LOOKBACK = 512  # bytes searched backwards from a value for its <c …> tag (past a formula)
_CHUNK = 1 << 20
# One worker: it inflates the sheet XML while fastexcel parses it (fastexcel releases the GIL).
_SCANNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ordersync-xlsx-scan")


def _large_number_cells(path: Path, sheet_name: str) -> dict[str, set[int]]:
    """Column letter → spreadsheet rows holding a number cell of 16+ digits (not text).

    fastexcel renders a number cell and the same digits typed as text identically, so the
    sheet's XML is read directly, in chunks (memory stays flat), with one regex pass.
    """
    found: dict[str, set[int]] = {}
    with zipfile.ZipFile(path) as archive:
        member = _sheet_member(archive, sheet_name)
        if member is None:
            return found
        with archive.open(member) as stream:
            carry = b""
            scan_from = 0
            while True:
                chunk = stream.read(_CHUNK)
                buffer = carry + chunk
                # Leave the last bytes for the next round: a value may be cut by the boundary.
                limit = len(buffer) if not chunk else max(len(buffer) - 64, scan_from)
                for match in _LARGE_NUMBER.finditer(buffer, scan_from):
                    if match.start() >= limit:
                        break
                    tag_start = buffer.rfind(
                        b"<c ", max(0, match.start() - _LOOKBACK), match.start()
                    )
                    if tag_start < 0:
                        continue
                    tag = buffer[tag_start : buffer.find(b">", tag_start)]
                    kind = _CELL_TYPE.search(tag)
                    ref = _CELL_REF.search(tag)
                    if ref and (kind is None or kind.group(1) == b"n"):
                        found.setdefault(ref.group(1).decode(), set()).add(int(ref.group(2)))
                if not chunk:
                    return found
                keep = max(0, limit - _LOOKBACK)
                carry = buffer[keep:]
                scan_from = limit - keep


def _sheet_member(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rel_id = None
    for node in workbook.iter(f"{ns_main}sheet"):
        if node.get("name") == sheet_name:
            rel_id = node.get(f"{ns_rel}id")
    if rel_id is None:
        return None
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for node in rels:
        if node.get("Id") == rel_id:
            target = node.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return None


def _xls_number_rows(path: Path, sheet_index: int, column: int, rows: list[int]) -> set[int]:
    import xlrd

    book = xlrd.open_workbook(str(path), on_demand=True)
    try:
        sheet = book.sheet_by_index(sheet_index)
        return {
            row
            for row in rows
            if row - 1 < sheet.nrows
            and column < sheet.ncols
            and sheet.cell_type(row - 1, column) == xlrd.XL_CELL_NUMBER
        }
    finally:
        book.release_resources()


# --- header --------------------------------------------------------------------------------


def _clean_header(value: Any) -> str:
    return "" if value is None else str(value).replace("\ufeff", "").strip()


def _locate_header(
    grid: pl.DataFrame,
    key_headers: Sequence[str],
    header_row: int | None,
    file: str,
    sheet: str | None,
) -> int:
    if header_row is not None:
        if header_row > grid.height:
            raise InputError(
                f"header_row {header_row} is past the end of the data ({grid.height} rows)",
                file=file,
                sheet=sheet,
            )
        return header_row - 1
    keys = set(key_headers)
    first_nonempty = None
    for i, row in enumerate(grid.head(HEADER_SEARCH_ROWS).iter_rows()):
        cells = [_clean_header(c) for c in row]
        if keys & set(cells):
            return i
        if first_nonempty is None and sum(1 for c in cells if c) > 1:
            first_nonempty = (i, cells)
    if grid.height == 0:
        raise InputError("the sheet has no rows at all (not even a header)", file=file, sheet=sheet)
    found = [c for c in (first_nonempty or (0, []))[1] if c]
    where = first_nonempty[0] + 1 if first_nonempty else None
    raise InputError(
        f"none of the first {HEADER_SEARCH_ROWS} rows holds the column {' / '.join(key_headers)!s}; "
        f"headers found{f' (row {where})' if where else ''}: {found}. Check `columns:` or set `header_row:`",
        file=file,
        sheet=sheet,
    )


def _frame_under_header(
    grid: pl.DataFrame,
    header_index: int,
    absolute: Sequence[int],
    key_headers: Sequence[str],
    file: str,
    sheet: str | None,
) -> tuple[pl.DataFrame, list[str], tuple[str, ...]]:
    """The data rows under the header, named by it (see _header_names)."""
    headers, duplicated = _header_names(grid.row(header_index), absolute)
    frame = grid.slice(header_index + 1).rename(dict(zip(grid.columns, headers, strict=True)))
    return frame, headers, duplicated


def _header_names(row: Sequence[Any], absolute: Sequence[int]) -> tuple[list[str], tuple[str, ...]]:
    """Column names from a header row's cells. Empty header cells are named `__empty_<letter>`;
    a repeated header keeps its first column's name and the copies become `name__2`, … ."""
    cells = [_clean_header(c) for c in row]
    counts = Counter(c for c in cells if c)
    duplicated = sorted(h for h, n in counts.items() if n > 1)
    headers: list[str] = []
    seen: Counter[str] = Counter()
    for i, cell in enumerate(cells):
        letter = _column_letter(absolute[i]) if i < len(absolute) else str(i + 1)
        if not cell:
            headers.append(f"__empty_{letter}")
        elif counts[cell] > 1:
            seen[cell] += 1
            headers.append(cell if seen[cell] == 1 else f"{cell}__{seen[cell]}")
        else:
            headers.append(cell)
    return headers, tuple(duplicated)


# --- csv -----------------------------------------------------------------------------------


def decode_text(data: bytes, file: str, encoding: str | None) -> str:
    """Bytes to text: the configured encoding, else UTF-8 (with or without BOM), else detected.

    A file whose lines are partly UTF-8 and partly another encoding is an InputError: it was
    concatenated from different exports and some of it would come out garbled.
    """
    return _decode(data, file, encoding)[0]


def _decode(data: bytes, file: str, encoding: str | None) -> tuple[str, bool]:
    """The text, and whether the bytes were UTF-8 (then they can go to Polars unchanged)."""
    if encoding:
        try:
            utf8 = encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig")
            return data.decode(encoding).removeprefix("\ufeff"), utf8
        except (LookupError, UnicodeDecodeError) as exc:
            raise InputError(
                f"cannot decode as the configured encoding {encoding!r}: {exc}", file=file
            ) from None
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16"), False
    try:
        return data.decode("utf-8").removeprefix("\ufeff"), True
    except UnicodeDecodeError:
        pass
    _reject_mixed(data, file)
    # Chinese exports that are not UTF-8 are GBK/GB18030. Try that first: on short files
    # charset-normalizer often prefers a Korean or Japanese code page for GBK bytes.
    try:
        return data.decode("gb18030"), False
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    guess = from_bytes(data[:200_000]).best()
    if guess is not None and guess.encoding:
        try:
            return data.decode(guess.encoding), False
        except (LookupError, UnicodeDecodeError):
            pass
    raise InputError(
        "cannot tell the text encoding (not UTF-8 nor GBK); set `encoding:` for this source",
        file=file,
    )


def _reject_mixed(data: bytes, file: str) -> None:
    utf8_line = other_line = None
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8_line = utf8_line or number
        except UnicodeDecodeError:
            other_line = other_line or number
        if utf8_line and other_line:
            raise InputError(
                f"the file mixes text encodings: line {utf8_line} is UTF-8 but line {other_line} is not "
                "(probably GBK); it was likely pasted together from different exports. Re-export "
                "it in one encoding",
                file=file,
                row=max(utf8_line, other_line),
            )


def _read_csv(
    path: Path, key_headers: Sequence[str], header_row: int | None, encoding: str | None
) -> RawTable:
    file = str(path)
    data = path.read_bytes()
    head = _utf8_head(data) if encoding is None else None
    if head is not None:
        # Polars checks the rest of the bytes as it parses: it rejects invalid UTF-8, and
        # then the whole file is decoded below (which reports mixed or other encodings).
        try:
            return _parse_csv(
                head, data.removeprefix(b"\xef\xbb\xbf"), key_headers, header_row, file
            )
        except _NotUtf8:
            pass
    content, is_utf8 = _decode(data, file, encoding)
    if not content.strip():
        raise InputError("the file has no content (only whitespace)", file=file)
    # UTF-8 bytes go to Polars as they are; anything else is re-encoded once.
    utf8 = data.removeprefix(b"\xef\xbb\xbf") if is_utf8 else content.encode("utf-8")
    try:
        return _parse_csv(content, utf8, key_headers, header_row, file)
    except _NotUtf8 as exc:
        raise InputError(f"not a well-formed csv file: {exc}", file=file) from None


class _NotUtf8(Exception):
    pass


# Bytes decoded up front to find the header in; a UTF-8 file's rest is checked by Polars.
_HEAD_BYTES = 1 << 20


def _utf8_head(data: bytes) -> str | None:
    """The file's first lines (up to ~1 MiB) as text, when they are UTF-8 and not blank."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    chunk = data[start : start + _HEAD_BYTES]
    # Cut after the last complete line, unless the chunk is the whole file.
    cut = len(chunk) if start + len(chunk) >= len(data) else chunk.rfind(b"\n") + 1
    if cut <= 0:
        return None
    try:
        head = chunk[:cut].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return head if head.strip() else None


def _parse_csv(
    content: str, utf8: bytes, key_headers: Sequence[str], header_row: int | None, file: str
) -> RawTable:
    """Parse UTF-8 csv bytes; `content` is their text, or at least its first lines."""
    # Find the header with the csv module on the first lines only; Polars reads the rest.
    search = max(HEADER_SEARCH_ROWS, header_row or 0)
    head_lines = list(csv.reader(io.StringIO(_first_lines(content, search))))
    width = max((len(r) for r in head_lines), default=0)
    head = pl.DataFrame(
        [r + [None] * (width - len(r)) for r in head_lines],
        schema=[f"c{i}" for i in range(width)],
        orient="row",
    )
    header_index = _locate_header(head, key_headers, header_row, file, None)
    header_cells = head_lines[header_index] if header_index < len(head_lines) else []
    try:
        frame = pl.read_csv(
            utf8,
            skip_rows=header_index,
            has_header=True,
            infer_schema=False,
            truncate_ragged_lines=True,
        )
    except pl.exceptions.NoDataError:
        frame = pl.DataFrame(schema={f"c{i}": pl.String for i in range(len(header_cells))})
    except pl.exceptions.ComputeError as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            raise _NotUtf8(str(exc)) from None
        raise InputError(f"not a well-formed csv file: {exc}", file=file) from None
    padded = header_cells + [None] * (frame.width - len(header_cells))
    headers, duplicates = _header_names(padded, list(range(frame.width)))
    frame = frame.rename(dict(zip(frame.columns, headers, strict=True)))
    first = header_index + 2
    rows = pl.int_range(first, first + frame.height, eager=True)
    return RawTable(frame, rows, file, None, header_index + 1, False, None, duplicates)


def _first_lines(content: str, count: int) -> str:
    end = 0
    for _ in range(count):
        end = content.find("\n", end) + 1
        if end == 0:
            return content
    return content[:end]


# --- json ----------------------------------------------------------------------------------


def _read_json(path: Path, fmt: str, encoding: str | None) -> RawTable:
    file = str(path)
    content = decode_text(path.read_bytes(), file, encoding)
    records: list[Any]
    rows: list[int]
    if fmt == "jsonl":
        records, rows = [], []
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON: {exc.msg}", file=file, row=number) from None
            rows.append(number)
    else:
        try:
            document = json.loads(content)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg} (line {exc.lineno})", file=file) from None
        found = _find_records(document)
        if found is None:
            raise InputError("expected an array of objects, or an object holding one", file=file)
        records = found
        rows = list(range(1, len(records) + 1))
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if bad is not None:
        raise InputError(
            f"expected an object per record, got {type(records[bad]).__name__}",
            file=file,
            row=rows[bad],
        )
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    # Scalars become text exactly as written (ints keep every digit; a float keeps its repr,
    # so an id that went through a float is caught by the id checks).
    data = {name: [_json_text(r.get(name)) for r in records] for name in columns}
    frame = pl.DataFrame(data, schema=dict.fromkeys(columns, pl.String))
    return RawTable(frame, pl.Series("row", rows, dtype=pl.Int64), file)


def _find_records(document: Any) -> list[Any] | None:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for value in document.values():
            if isinstance(value, list) and (not value or isinstance(value[0], dict)):
                return value
        for value in document.values():
            found = _find_records(value) if isinstance(value, dict) else None
            if found is not None:
                return found
    return None


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)
