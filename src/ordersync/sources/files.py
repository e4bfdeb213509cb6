"""File sources: find a source's export files and map them to the canonical frames.

How a file becomes rows (each step vectorised over whole columns):

- the file is read as text cells under its header (tables.py), the header row found by the
  mapped order_id (carriers: tracking_no) header among the first rows, or `header_row:`;
- each canonical field comes from its mapped header, or the first non-empty of a list of
  headers (`status` lists are joined with "/"); a header the config names that the file lacks
  is an InputError listing the headers found, unless only a preset supplies it (a note);
- ids stay text (values.py rejects numbers that lost digits); times become UTC; amounts
  Decimal(18, 2); carriers canonical codes (carriers.py), unknown ones null and counted;
- warehouse cells listing several order ids become one row per order with `merged_with`;
- rows sharing (order_id, shipment_id) fold into one: items summed per sku, other fields
  from the first row that has them; raw statuses map through `status_map`, never guessed.
"""

from __future__ import annotations

import glob
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from ordersync import schema
from ordersync.errors import InputError
from ordersync.sources import carriers, values
from ordersync.sources.base import FileFingerprint, SourceRead
from ordersync.sources.presets import PRESETS
from ordersync.sources.tables import RawTable, read_table

if TYPE_CHECKING:  # config imports the presets from this package
    from ordersync.config import Config, SourceConfig

_TEXT_FIELDS = (
    schema.RECEIVER_NAME,
    schema.RECEIVER_PHONE,
    schema.PROVINCE,
    schema.CITY,
    schema.DISTRICT,
    schema.ADDRESS,
)
# A scan that is an exception or "no record" is not proof the courier physically has the parcel.
_NOT_A_PICKUP = ("exception", "no_record")


def discover_files(config: Config, source: SourceConfig) -> list[Path]:
    """The files matching the source's `path` (a file or a glob), sorted; [] when none match."""
    if not source.path:
        return []
    pattern = str(config.resolve_path(source.path))
    return sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())


def fingerprint(path: Path) -> FileFingerprint:
    """Size, mtime and sha256 of a file (hashed in 1 MiB chunks).

    Remembered by (path, size, mtime), so a caller that fingerprints files before reading
    them does not pay for hashing twice.
    """
    stat = path.stat()
    return _fingerprint(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4096)
def _fingerprint(path: str, size: int, mtime_ns: int) -> FileFingerprint:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return FileFingerprint(path, size, mtime_ns, digest.hexdigest())


def read_source(
    config: Config, source: SourceConfig, files: Sequence[Path] | None = None
) -> SourceRead:
    """Read the source's files (default: all that match) into one SourceRead.

    Rows of one order (line items, or an order's rows on several files) fold into one row per
    (order_id, shipment_id); when the same key appears in several files the later file (in the
    order given, by default sorted by path) wins. Carrier scan events from all files are folded
    together per tracking number.
    """
    paths = list(files) if files is not None else discover_files(config, source)
    return _read(config, source, paths)


def _read(
    config: Config,
    source: SourceConfig,
    paths: Sequence[Path],
    on_table: Callable[[RawTable], None] | None = None,
) -> SourceRead:
    table = carriers.alias_table(config.carriers, source.carrier_map)
    unmapped: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    notes: list[str] = []
    parts: list[pl.DataFrame] = []
    rows_read = 0
    for path in paths:
        raw = _read_raw(source, path)
        if on_table is not None:
            on_table(raw)
        rows_read += raw.frame.height
        mapper = _CarrierFile if source.kind == "carrier" else _OrderFile
        result = mapper(config, source, raw, table)
        parts.append(result.frame)
        unknown.update(result.unknown_carriers)
        notes.extend(n for n in result.notes if n not in notes)
    fingerprints = tuple(fingerprint(p) for p in paths)

    if source.kind == "carrier":
        tracking, unmapped_counts = _finish_tracking(parts, source)
        unmapped.update(unmapped_counts)
        orders = schema.empty_frame(schema.ORDERS_SCHEMA)
    else:
        orders, unmapped_counts = _finish_orders(parts, source)
        unmapped.update(unmapped_counts)
        tracking = schema.empty_frame(schema.TRACKING_SCHEMA)
    return SourceRead(
        source=source.name,
        orders=orders,
        tracking=tracking,
        files=fingerprints,
        rows_read=rows_read,
        unmapped_statuses=dict(unmapped.most_common()),
        unknown_carriers=dict(unknown.most_common()),
        notes=tuple(notes),
    )


def mapping_coverage(config: Config, source: SourceConfig) -> dict:
    """What `check-config` shows for a source: files matched, fields mapped, headers missing
    from the first file, and raw statuses the status_map does not cover."""
    coverage: dict = {}
    if source.format == "api":
        coverage["mapped fields"] = sorted(source.columns) or "(from the API)"
        return coverage
    paths = discover_files(config, source)
    coverage["path"] = str(config.resolve_path(source.path or ""))
    coverage["files matched"] = len(paths)
    allowed = (
        schema.MAPPABLE_TRACKING_FIELDS
        if source.kind == "carrier"
        else (*schema.MAPPABLE_ORDER_FIELDS, schema.ITEM_SKU, schema.ITEM_QTY)
    )
    coverage["mapped fields"] = [f for f in allowed if f in source.columns]
    coverage["unmapped fields"] = [f for f in allowed if f not in source.columns]
    if not paths:
        return coverage
    first = paths[0]
    coverage["first file"] = str(first)

    def headers(raw: RawTable) -> None:
        coverage["header row"] = raw.header_row
        coverage["missing headers"] = [
            header
            for refs in source.columns.values()
            for header in _refs(refs)
            if header not in raw.frame.columns
        ]

    try:
        read = _read(config, source, [first], on_table=headers)
    except InputError as exc:
        coverage["error"] = str(exc)
        return coverage
    coverage["rows (first file)"] = read.rows_read
    coverage["unmapped statuses"] = len(read.unmapped_statuses)
    if read.unmapped_statuses:
        coverage["unmapped status examples"] = dict(list(read.unmapped_statuses.items())[:5])
    if read.unknown_carriers:
        coverage["unknown carriers"] = dict(list(read.unknown_carriers.items())[:5])
    return coverage


# --- per file ------------------------------------------------------------------------------


def _refs(ref: str | list[str]) -> list[str]:
    return [ref] if isinstance(ref, str) else list(ref)


def _key_field(source: SourceConfig) -> str:
    return schema.TRACKING_NO if source.kind == "carrier" else schema.ORDER_ID


def _read_raw(source: SourceConfig, path: Path) -> RawTable:
    keys = _refs(source.columns.get(_key_field(source), []))
    fmt = source.format
    return read_table(
        path, fmt, keys, sheet=source.sheet, header_row=source.header_row, encoding=source.encoding
    )


class _FileMapper:
    """Shared by order and carrier files: resolves mapped headers and builds typed columns."""

    def __init__(
        self, config: Config, source: SourceConfig, raw: RawTable, table: dict[str, str]
    ) -> None:
        self.config = config
        self.source = source
        self.raw = raw
        self.table = table
        self.timezone = config.source_timezone(source)
        self.where = values.Where(raw.file, raw.sheet, raw.rows)
        self.notes: list[str] = []
        self.unknown_carriers: dict[str, int] = {}
        self.present = self._resolve()

    def _resolve(self) -> dict[str, list[str]]:
        """Field → headers present in this file. A missing header the config asked for is an
        error; one that only a preset supplies (exports differ by account) is skipped with a note."""
        preset_columns = PRESETS.get(self.source.preset or "", {}).get("columns", {})
        columns = self.raw.frame.columns
        present: dict[str, list[str]] = {}
        for field, ref in self.source.columns.items():
            headers = _refs(ref)
            found = [h for h in headers if h in columns]
            for header in found:
                if header in self.raw.duplicates:
                    raise InputError(
                        f"the header {header!r} appears more than once, so {field} is ambiguous; "
                        "rename or delete the extra column",
                        file=self.raw.file,
                        sheet=self.raw.sheet,
                        row=self.raw.header_row,
                        column=header,
                    )
            if found:
                present[field] = found
                continue
            required = field == _key_field(self.source)
            if not required and preset_columns.get(field) == ref:
                note = f"no column {' / '.join(headers)} for {field} in some files; left empty"
                if note not in self.notes:
                    self.notes.append(note)
                continue
            self._missing(field, headers)
        return present

    def _missing(self, field: str, headers: list[str]) -> None:
        columns = self.raw.frame.columns
        real = [c for c in columns if not c.startswith("__empty_")]
        empty = [c.removeprefix("__empty_") for c in columns if c.startswith("__empty_")]
        hint = ""
        if empty:
            hint = (
                f"; the header row has empty cells in column(s) {', '.join(empty[:8])}, which looks like "
                "merged header cells: unmerge them so each column has its own header, or set `header_row:`"
            )
        raise InputError(
            f"mapped column {' / '.join(headers)!s} (for {field}) is missing; headers found: {real}{hint}",
            file=self.raw.file,
            sheet=self.raw.sheet,
            row=self.raw.header_row,
        )

    def must(self, series: pl.Series | None, field: str) -> pl.Series:
        """`series`, which the caller knows is mapped (the key field always is)."""
        if series is None:
            raise InputError(f"no column is mapped for {field}", file=self.raw.file)
        return series

    def column(self, header: str) -> pl.Series:
        return self.raw.frame[header]

    def text(self, field: str) -> pl.Series | None:
        if field not in self.present:
            return None
        series = [values.text(self.column(h)) for h in self.present[field]]
        return (
            series[0]
            if len(series) == 1
            else pl.select(pl.coalesce(series)).to_series().alias(field)
        )

    def ids(self, field: str) -> pl.Series | None:
        if field not in self.present:
            return None
        series = [
            values.numeric_id_text(
                self.column(h),
                self.where,
                h,
                self._number_cells(h),
                exact_cells=self.raw.number_cells_exact,
            )
            for h in self.present[field]
        ]
        return series[0] if len(series) == 1 else pl.select(pl.coalesce(series)).to_series()

    def _number_cells(self, header: str):
        if self.raw.number_cells is None:
            return None
        number_cells = self.raw.number_cells
        return lambda positions: number_cells(header, positions)

    def times(self, field: str) -> pl.Series | None:
        if field not in self.present:
            return None
        series = [
            values.timestamps(
                self.column(h), self.where, h, self.timezone, spreadsheet=self.raw.spreadsheet
            )
            for h in self.present[field]
        ]
        return series[0] if len(series) == 1 else pl.select(pl.coalesce(series)).to_series()

    def carrier(self) -> pl.Series | None:
        raw = self.text(schema.CARRIER)
        if raw is None:
            return None
        codes, unknown = carriers.carrier_codes(raw, self.table)
        self.unknown_carriers = unknown
        return codes

    def base(self) -> dict[str, pl.Series]:
        return {
            schema.SOURCE_FILE: pl.repeat(
                self.raw.file, self.raw.frame.height, dtype=pl.String, eager=True
            ),
            schema.SOURCE_ROW: self.raw.rows.cast(pl.Int64),
        }


class _OrderFile(_FileMapper):
    def __init__(
        self, config: Config, source: SourceConfig, raw: RawTable, table: dict[str, str]
    ) -> None:
        super().__init__(config, source, raw, table)
        self.frame = self._build()

    def _build(self) -> pl.DataFrame:
        source = self.source
        height = self.raw.frame.height
        tasks: dict[str, Callable[[], pl.Series | None]] = {
            "__order_cell": lambda: self.must(self.ids(schema.ORDER_ID), schema.ORDER_ID),
            schema.SHIPMENT_ID: lambda: self.ids(schema.SHIPMENT_ID),
            schema.RAW_STATUS: self._raw_status,
        }
        if schema.AMOUNT in self.present:
            tasks[schema.AMOUNT] = self._amount
        for field in schema.TIMESTAMP_FIELDS:
            tasks[field] = partial(self.times, field)
        if schema.TRACKING_NO in self.present:
            # Checked like an order id first: a long number cell has lost digits here too.
            tasks[schema.TRACKING_NO] = lambda: values.tracking_numbers(
                self.must(self.ids(schema.TRACKING_NO), schema.TRACKING_NO)
            )
        tasks[schema.CARRIER] = self.carrier
        for field in _TEXT_FIELDS:
            tasks[field] = partial(self.text, field)
        tasks[schema.CHANNEL] = self._channel
        line_level = schema.ITEM_SKU in self.present
        if line_level:
            tasks["__sku"] = partial(self.text, schema.ITEM_SKU)
            if schema.ITEM_QTY in self.present:
                qty_header = self.present[schema.ITEM_QTY][0]
                tasks["__qty"] = lambda: values.quantities(
                    self.column(qty_header), self.where, qty_header
                )
            else:
                tasks["__qty"] = lambda: pl.repeat(1, height, dtype=pl.Int64, eager=True)
        elif schema.ITEMS in self.present:
            items_header = self.present[schema.ITEMS][0]
            tasks[schema.ITEMS] = lambda: values.packed_items(
                self.column(items_header), self.where, items_header
            )

        cols = self.base()
        cols.update({name: series for name, series in _run(tasks).items() if series is not None})
        frame = pl.DataFrame({name: s.alias(name) for name, s in cols.items()})
        frame = self._drop_blank_rows(frame)
        if source.fill_down:
            frame = frame.with_columns(pl.col("__order_cell").forward_fill())
        empty = frame["__order_cell"].is_null()
        if empty.any():
            index = int(empty.arg_true()[0])
            raise InputError(
                "the order id is empty on a row that has other data; every row needs its order id "
                "(set `fill_down: true` if the export writes it only on an order's first row)",
                file=self.raw.file,
                sheet=self.raw.sheet,
                row=int(frame[schema.SOURCE_ROW][index]),
                column=self.present[schema.ORDER_ID][0],
            )
        frame = self._order_ids(frame, line_level)
        return self._fold(frame, line_level)

    def _amount(self) -> pl.Series:
        fen = self.source.amount_unit == "fen"
        parsed = [
            values.amounts(self.column(h), self.where, h, fen=fen)
            for h in self.present[schema.AMOUNT]
        ]
        return parsed[0] if len(parsed) == 1 else pl.select(pl.coalesce(parsed)).to_series()

    def _channel(self) -> pl.Series:
        """Channel sources: their `channel`; oms/warehouse: a mapped column, else `channel`."""
        mapped = self.text(schema.CHANNEL) if self.source.kind != "channel" else None
        if mapped is None:
            return pl.repeat(
                self.source.channel, self.raw.frame.height, dtype=pl.String, eager=True
            )
        return mapped.fill_null(self.source.channel) if self.source.channel else mapped

    def _raw_status(self) -> pl.Series:
        """The status text; a list of status columns is joined with "/" (Shopify's
        "paid/fulfilled"). A `raw_status` mapping is used when `status` is not mapped."""
        field = schema.STATUS if schema.STATUS in self.present else schema.RAW_STATUS
        if field not in self.present:
            return pl.repeat(None, self.raw.frame.height, dtype=pl.String, eager=True)
        parts = [values.text(self.column(h)) for h in self.present[field]]
        if len(parts) == 1 or isinstance(self.source.columns[field], str):
            return pl.select(pl.coalesce(parts)).to_series()
        joined = pl.select(pl.concat_str(parts, separator="/", ignore_nulls=True)).to_series()
        return joined.replace("", None)

    def _drop_blank_rows(self, frame: pl.DataFrame) -> pl.DataFrame:
        data = [
            c
            for c in frame.columns
            if c not in (schema.SOURCE_FILE, schema.SOURCE_ROW, schema.CHANNEL, "__qty")
        ]
        keep = frame.select(pl.any_horizontal(pl.col(c).is_not_null() for c in data)).to_series()
        # Filtering copies every column; most exports have no blank rows at all.
        return frame if keep.all() else frame.filter(keep)

    def _order_ids(self, frame: pl.DataFrame, line_level: bool) -> pl.DataFrame:
        """Warehouse cells listing several orders become one row per order (merged shipment)."""
        if self.source.kind != "warehouse":
            return frame.with_columns(
                pl.col("__order_cell").alias(schema.ORDER_ID),
                pl.lit("").alias(schema.SHIPMENT_ID),
                pl.lit(None, dtype=pl.List(pl.String)).alias(schema.MERGED_WITH),
            )
        cells = frame["__order_cell"]
        separator = self.source.order_id_separator
        if not (
            cells.str.contains(separator).any() or cells.str.contains("\x1f", literal=True).any()
        ):
            # No cell lists several orders: one id per row, nothing to split or explode.
            frame = frame.with_columns(
                values.clean_ids(cells).alias(schema.ORDER_ID),
                pl.lit(None, dtype=pl.List(pl.String)).alias(schema.MERGED_WITH),
            )
            if schema.SHIPMENT_ID not in frame.columns:
                frame = frame.with_columns(self._derived_shipment(frame, line_level))
            return frame
        split = values.split_ids(cells, separator)
        frame = frame.with_columns(split.alias(schema.ORDER_ID))
        frame = frame.with_columns(
            pl.when(pl.col(schema.ORDER_ID).list.len() > 1)
            .then(pl.col(schema.ORDER_ID).list.unique().list.sort())
            .otherwise(None)
            .alias(schema.MERGED_WITH)
        )
        if schema.SHIPMENT_ID not in frame.columns:
            frame = frame.with_columns(self._derived_shipment(frame, line_level))
        return frame.explode(schema.ORDER_ID, empty_as_null=True)

    @staticmethod
    def _derived_shipment(frame: pl.DataFrame, line_level: bool) -> pl.Expr:
        """A stable shipment id when the export has none: the parcel's first tracking number;
        without one, the raw order-id cell (line-level exports: all lines of the cell are one
        parcel) or the cell plus its occurrence number in the file (`"123#2"` for its second
        row), which stays the same when the row's status or other values change."""
        cell = pl.col("__order_cell")
        fallback = (
            cell
            if line_level
            else pl.format("{}#{}", cell, pl.int_range(1, pl.len() + 1).over("__order_cell"))
        )
        tracking = (
            pl.col(schema.TRACKING_NO).list.first()
            if schema.TRACKING_NO in frame.columns
            else pl.lit(None, pl.String)
        )
        return pl.coalesce(tracking, fallback).alias(schema.SHIPMENT_ID)

    def _fold(self, frame: pl.DataFrame, line_level: bool) -> pl.DataFrame:
        """One row per (order_id, shipment_id): line items summed per sku, other fields from the
        first row that has them (Shopify writes order fields on the first line only).

        Only the rows whose key repeats go through the group-by; most rows are single-line
        orders and keep their values as they are.
        """
        key = [schema.ORDER_ID, schema.SHIPMENT_ID]
        # Distinct order-id hashes mean distinct keys (far cheaper than finding duplicates).
        distinct = frame.select(pl.col(schema.ORDER_ID).hash().n_unique()).item() == frame.height
        repeated = (
            pl.repeat(False, frame.height, eager=True)
            if distinct
            else frame.select(pl.struct(key).is_duplicated()).to_series()
        )
        if line_level:
            # A one-element list per row; reshape is far cheaper than concat_list here.
            line = pl.struct(
                pl.col("__sku").alias("sku"), pl.col("__qty").fill_null(1).alias("qty")
            )
            single_items = (
                pl.when(pl.col("__sku").is_not_null())
                .then(line.reshape((-1, 1)).arr.to_list())
                .otherwise(None)
                .cast(schema.ItemsDtype)
                .alias(schema.ITEMS)
            )
            frame = frame.with_columns(single_items)
        if not repeated.any():
            return frame.drop("__order_cell", "__sku", "__qty", strict=False)
        singles = frame.filter(~repeated)
        multi = frame.filter(repeated)
        others = [
            c
            for c in frame.columns
            if c not in key and c not in ("__order_cell", "__sku", "__qty", schema.ITEMS)
        ]
        aggs = []
        for name in others:
            if name == schema.TRACKING_NO:
                aggs.append(
                    pl.col(name)
                    .explode(empty_as_null=True)
                    .drop_nulls()
                    .unique(maintain_order=True)
                    .alias(name)
                )
            elif name == schema.SOURCE_ROW:
                aggs.append(pl.col(name).min())
            else:
                aggs.append(pl.col(name).drop_nulls().first())
        folded = multi.group_by(key, maintain_order=True).agg(aggs)
        if schema.TRACKING_NO in folded.columns:
            folded = folded.with_columns(
                pl.when(pl.col(schema.TRACKING_NO).list.len() > 0)
                .then(pl.col(schema.TRACKING_NO))
                .otherwise(None)
            )
        if line_level:
            lines = multi.select(*key, pl.col("__sku").alias("sku"), pl.col("__qty").alias("qty"))
            keys = folded.select(key).with_row_index("__k")
            lines = lines.join(keys, on=key, how="left").select("__k", "sku", "qty")
            folded = folded.with_columns(values.group_items(lines, "__k", folded.height))
        singles = singles.drop("__order_cell", "__sku", "__qty", strict=False)
        return pl.concat([singles, folded.select(singles.columns)]).sort(schema.SOURCE_ROW)


class _CarrierFile(_FileMapper):
    def __init__(
        self, config: Config, source: SourceConfig, raw: RawTable, table: dict[str, str]
    ) -> None:
        super().__init__(config, source, raw, table)
        self.frame = self._build()

    def _build(self) -> pl.DataFrame:
        cols = self.base()
        cols[schema.TRACKING_NO] = self.must(self.ids(schema.TRACKING_NO), schema.TRACKING_NO)
        carrier = self.carrier()
        if carrier is not None:
            cols[schema.CARRIER] = carrier
        if schema.EVENT_TIME in self.present:
            cols[schema.EVENT_TIME] = self.must(self.times(schema.EVENT_TIME), schema.EVENT_TIME)
            status = self.text(schema.EVENT_STATUS)
            cols["__raw_status"] = (
                status
                if status is not None
                else pl.repeat(None, self.raw.frame.height, dtype=pl.String, eager=True)
            )
        else:
            status = self.text(schema.TRACKING_STATUS)
            cols["__raw_status"] = (
                status
                if status is not None
                else pl.repeat(None, self.raw.frame.height, dtype=pl.String, eager=True)
            )
            for field in (schema.FIRST_SCAN_AT, schema.LAST_EVENT_AT, schema.DELIVERED_AT):
                parsed = self.times(field)
                if parsed is not None:
                    cols[field] = parsed
            if schema.EVENT_COUNT in self.present:
                header = self.present[schema.EVENT_COUNT][0]
                cols[schema.EVENT_COUNT] = values.quantities(
                    self.column(header), self.where, header
                )
        frame = pl.DataFrame({name: s.alias(name) for name, s in cols.items()})
        return frame.filter(pl.col(schema.TRACKING_NO).is_not_null())


def _run(tasks: dict[str, Callable[[], pl.Series | None]]) -> dict[str, pl.Series | None]:
    """Run column conversions two at a time (Polars releases the GIL, so they overlap, and so
    does the xlsx number-cell check). Results and errors come back in submission order, so the
    error a user sees does not depend on timing."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(task) for name, task in tasks.items()}
        return {name: future.result() for name, future in futures.items()}


# --- across files ---------------------------------------------------------------------------


def _map_status(
    raw: pl.Series, status_map: dict[str, str], dtype: pl.DataType
) -> tuple[pl.Series, dict[str, int]]:
    """Raw status text → canonical status: exact match first, then ignoring case and spaces.
    Anything else is null (never guessed) and counted."""
    loose_map = {"".join(k.split()).lower(): v for k, v in status_map.items()}
    # Exports repeat a handful of statuses: resolve the distinct ones, then map the column.
    lookup = {
        value: status_map.get(value, loose_map.get("".join(value.split()).lower()))
        for value in raw.drop_nulls().unique().to_list()
    }
    status = raw.replace_strict(lookup, default=None, return_dtype=pl.String)
    unmapped = [value for value, canonical in lookup.items() if canonical is None]
    counts: dict[str, int] = {}
    if unmapped:
        missing = raw.filter(raw.is_in(unmapped))
        counts = dict(missing.value_counts(sort=True).iter_rows())
    return status.cast(dtype), counts


def _finish_orders(
    parts: list[pl.DataFrame], source: SourceConfig
) -> tuple[pl.DataFrame, dict[str, int]]:
    if not parts:
        return schema.empty_frame(schema.ORDERS_SCHEMA), {}
    frame = pl.concat([schema.conform(p, _ORDER_WORK_SCHEMA) for p in parts], how="vertical")
    # Files of one export rarely repeat a key, and unique() copies every column: pulling ten
    # 1M-row files peaked at 16 GB with it, at 8.4 GB without.
    key = [schema.ORDER_ID, schema.SHIPMENT_ID]
    if len(parts) > 1 and schema.keys_may_repeat(frame, key):
        frame = frame.unique(subset=key, keep="last", maintain_order=True)
    status, unmapped = _map_status(frame[schema.RAW_STATUS], source.status_map, schema.StatusDtype)
    frame = frame.with_columns(
        status.alias(schema.STATUS),
        pl.lit(source.name).alias(schema.SOURCE),
        pl.lit(source.kind).alias(schema.SOURCE_KIND),
    )
    return schema.conform(frame, schema.ORDERS_SCHEMA), unmapped


_ORDER_WORK_SCHEMA = {
    k: v
    for k, v in schema.ORDERS_SCHEMA.items()
    if k not in (schema.SOURCE, schema.SOURCE_KIND, schema.STATUS)
}


def _finish_tracking(
    parts: list[pl.DataFrame], source: SourceConfig
) -> tuple[pl.DataFrame, dict[str, int]]:
    if not parts:
        return schema.empty_frame(schema.TRACKING_SCHEMA), {}
    events = pl.concat(parts, how="diagonal_relaxed")
    status, unmapped = _map_status(
        events["__raw_status"], source.status_map, schema.TrackingStatusDtype
    )
    events = events.with_columns(status.alias(schema.TRACKING_STATUS))
    if schema.EVENT_TIME in events.columns:
        time = pl.col(schema.EVENT_TIME)
        state = pl.col(schema.TRACKING_STATUS)
        folded = (
            events.with_row_index("__order")
            .sort(schema.TRACKING_NO, schema.EVENT_TIME, "__order", nulls_last=False)
            .group_by(schema.TRACKING_NO, maintain_order=True)
            .agg(
                pl.col(schema.CARRIER).drop_nulls().last()
                if schema.CARRIER in events.columns
                else pl.lit(None, pl.String).alias(schema.CARRIER),
                state.last().alias(schema.TRACKING_STATUS),
                time.filter(~state.is_in(_NOT_A_PICKUP).fill_null(False))
                .min()
                .alias(schema.FIRST_SCAN_AT),
                time.max().alias(schema.LAST_EVENT_AT),
                time.filter(state == "delivered").min().alias(schema.DELIVERED_AT),
                pl.len().cast(pl.Int64).alias(schema.EVENT_COUNT),
                pl.col(schema.SOURCE_FILE).last(),
            )
        )
    else:
        folded = events.unique(subset=[schema.TRACKING_NO], keep="last", maintain_order=True)
    folded = folded.with_columns(pl.lit(source.name).alias(schema.SOURCE))
    return schema.conform(folded, schema.TRACKING_SCHEMA), unmapped
