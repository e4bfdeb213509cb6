"""Vectorised parsers for the values exports hold: ids, times, money, quantities, lists.

Each parser takes a whole column (a Series as read, usually String) and returns the canonical
column. A value that cannot be parsed is an InputError that names the file, sheet, spreadsheet
row and header of the first bad cell, the value, and what was expected. Nothing loops per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from ordersync import schema
from ordersync.errors import InputError

# Integers above this cannot be held exactly by a float, so a number cell that large has
# already lost digits; Excel itself keeps only 15 significant digits.
MAX_EXACT_FLOAT_INT = 2**53
MAX_SIGNIFICANT_DIGITS = 15

_SCIENTIFIC = r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$"
_WHOLE_FLOAT_TEXT = r"^\d+\.0+$"

# (strptime format, carries an offset). Tried in this order; ISO forms are normalised to
# these first (T → space, Z → +0000, "+08:00" / " +0800" → "+0800").
_NAIVE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d",
)
_AWARE_FORMATS = ("%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M%z")
EXPECTED_TIME_FORMATS = (
    "2026-11-03 14:22:05, 2026/11/3 14:22, 2026-11-03T14:22:05+08:00, "
    "2026-11-03 14:22:05 +0800, 2026-11-03, unix seconds or milliseconds, an Excel date cell"
)
# Excel's day 0 is 1899-12-30 (its 1900 leap-year bug included).
_EXCEL_EPOCH_OFFSET_DAYS = 25569


@dataclass(frozen=True)
class Where:
    """Locates cells for error messages: the file, the sheet, and each row's spreadsheet number."""

    file: str
    sheet: str | None
    rows: pl.Series

    def fail(self, bad: pl.Series, header: str, values: pl.Series, message: str) -> None:
        """Raise for the first row where `bad` is true, if any."""
        if not bad.any():
            return
        index = int(bad.arg_true()[0])
        count = int(bad.sum())
        more = f" ({count - 1} more row(s) like it)" if count > 1 else ""
        raise InputError(
            f"{values[index]!r} {message}{more}",
            file=self.file,
            sheet=self.sheet,
            row=int(self.rows[index]),
            column=header,
        )


def nullify_empty(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr == "").then(None).otherwise(expr)


def text(series: pl.Series) -> pl.Series:
    """Any column as trimmed text; empty cells become null."""
    if series.dtype == pl.Null:
        return series.cast(pl.String)
    if series.dtype != pl.String:
        series = series.cast(pl.String)
    return pl.select(nullify_empty(pl.lit(series).str.strip_chars())).to_series().alias(series.name)


def _unwrap_id(expr: pl.Expr) -> pl.Expr:
    # Exports defend ids against Excel with ="…" wrappers, a leading apostrophe or a tab.
    cleaned = (
        expr.str.strip_chars()
        .str.replace(r'^="(.*)"$', "${1}")
        .str.strip_chars()
        .str.strip_chars_start("'")
        .str.strip_chars()
    )
    return nullify_empty(cleaned)


def numeric_id_text(
    series: pl.Series,
    where: Where,
    header: str,
    numeric_rows: Callable[[pl.Series | None], pl.Series] | None = None,
    *,
    exact_cells: bool = False,
) -> pl.Series:
    """An id column as exact text. A number that cannot be the exact id is an InputError.

    Typed numeric columns (parquet, json) are checked value by value. Text columns are checked
    for the shapes a rounded number leaves behind: scientific notation (`1.23457E+18`).
    `numeric_rows`, for spreadsheets, tells which row positions hold long number cells: for
    every row at once when `exact_cells` (xlsx), else only for the positions asked (xls),
    which are then the digit strings a rounded float could have printed.
    """
    name = series.name
    if series.dtype == pl.Null:
        return series.cast(pl.String)
    if series.dtype.is_integer():
        return series.cast(pl.String)
    if series.dtype.is_float():
        values = series
        bad = values.is_not_null() & (
            (values != values.floor())
            | (values.abs() > MAX_EXACT_FLOAT_INT)
            | (_significant_digits(values.cast(pl.Int64, strict=False).cast(pl.String)) > 15)
        )
        where.fail(bad, header, values, _LOST_DIGITS)
        return values.cast(pl.Int64).cast(pl.String).alias(name)

    ids = clean_ids(series.cast(pl.String)).alias(name)
    # One cheap pass decides whether the number-shaped checks are needed at all.
    if not ids.str.contains(r"[.eE]").any():
        whole = pl.repeat(False, len(ids), eager=True)
    else:
        sci = ids.str.contains(_SCIENTIFIC).fill_null(False)
        where.fail(sci, header, ids, _SCIENTIFIC_MESSAGE)
        whole = ids.str.contains(_WHOLE_FLOAT_TEXT).fill_null(False)
    if whole.any():
        ids = pl.select(
            pl.when(pl.lit(whole))
            .then(pl.lit(ids).str.replace(r"\.0+$", ""))
            .otherwise(pl.lit(ids))
        ).to_series()
        where.fail(whole & (_significant_digits(ids) > 15), header, ids, _LOST_DIGITS)
    if numeric_rows is not None:
        numeric = _number_cells_that_lost_digits(ids, numeric_rows, exact_cells)
        if len(numeric):
            mask = pl.repeat(False, len(ids), eager=True).scatter(numeric, True)
            where.fail(mask, header, ids, _LOST_DIGITS)
    return ids.alias(name)


_LOST_DIGITS = (
    "is a number cell that has lost digits (more than 15 significant digits or above "
    "2^53 cannot be stored exactly); format the column as text in the export, or export csv"
)
_SCIENTIFIC_MESSAGE = (
    "is in scientific notation, so the id's digits are already lost (a spreadsheet turned "
    "it into a number); export it again as text"
)


def _number_cells_that_lost_digits(
    ids: pl.Series, numeric_rows: Callable[[pl.Series | None], pl.Series], exact_cells: bool
) -> pl.Series:
    if exact_cells:
        numeric = numeric_rows(None)
        if not len(numeric):
            return numeric
        return numeric.filter(_could_be_rounded_float(ids.gather(numeric)))
    suspect = _could_be_rounded_float(ids)
    return numeric_rows(suspect.arg_true()) if suspect.any() else suspect.arg_true()


def _significant_digits(digits: pl.Series) -> pl.Series:
    return digits.str.strip_chars_start("0").str.strip_chars_end("0").str.len_chars().fill_null(0)


def _could_be_rounded_float(ids: pl.Series) -> pl.Series:
    """Digit strings a float cell could have printed, that cannot be an exact id if it was one."""
    digits = ids.str.contains(r"^\d{16,}$").fill_null(False)
    if not digits.any():
        return digits
    as_float = ids.cast(pl.Float64, strict=False)
    roundtrip = as_float.cast(pl.UInt64, strict=False).cast(pl.String)
    above = as_float > MAX_EXACT_FLOAT_INT
    return digits & (
        ((above & (roundtrip == ids)) | (~above & (_significant_digits(ids) > 15))).fill_null(False)
    )


def split_ids(series: pl.Series, separator: str) -> pl.Series:
    """A cell listing several ids (merged shipment) as a list of clean ids; single ids a 1-list."""
    pieces = (
        pl.select(pl.lit(series).str.replace_all(separator, "\x1f").str.split("\x1f"))
        .to_series()
        .list.eval(_unwrap_id(pl.element()).drop_nulls())
    )
    return pieces.alias(series.name)


def clean_ids(series: pl.Series) -> pl.Series:
    """Ids as text without the wrappers exports add; empty cells become null."""
    if series.str.contains(r"^[\s='\"]|\s$").any():
        return pl.select(_unwrap_id(pl.lit(series))).to_series()
    return pl.select(nullify_empty(pl.lit(series))).to_series()


def tracking_numbers(series: pl.Series) -> pl.Series:
    """Split a cell holding several tracking numbers; empty cells become null."""
    series = series.cast(pl.String)
    if not series.str.contains(r"[,，;；/\s='\"]").any():
        # One number per cell (the usual case): a one-element list without splitting.
        single = clean_ids(series)
        return (
            pl.select(
                pl.when(pl.lit(single).is_not_null()).then(
                    pl.lit(single).reshape((-1, 1)).arr.to_list()
                )
            )
            .to_series()
            .alias(series.name)
        )
    lists = (
        pl.select(
            pl.lit(series.cast(pl.String))
            .str.replace_all(r"[,，;；/\s]+", "\x1f")
            .str.split("\x1f")
        )
        .to_series()
        .list.eval(_unwrap_id(pl.element()).drop_nulls())
    )
    return (
        pl.select(pl.when(pl.lit(lists).list.len() > 0).then(pl.lit(lists)).otherwise(None))
        .to_series()
        .alias(series.name)
    )


def timestamps(
    series: pl.Series, where: Where, header: str, timezone: str, *, spreadsheet: bool = False
) -> pl.Series:
    """Parse a time column into UTC. Naive values are local times in `timezone`."""
    name = series.name
    dtype = series.dtype
    if dtype == pl.Null:
        return series.cast(schema.Timestamp)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            series = series.dt.replace_time_zone(
                timezone, ambiguous="earliest", non_existent="null"
            )
        return series.dt.convert_time_zone("UTC").cast(schema.Timestamp).alias(name)
    if dtype == pl.Date:
        return timestamps(series.cast(pl.Datetime("us")), where, header, timezone)
    if dtype.is_numeric():
        return _epoch(series, spreadsheet).alias(name)

    # Fast path: the whole column in the commonest layout, as read (no trimming needed).
    # A local time that does not exist (skipped by a DST change) also falls to the slow path,
    # which reports it; an ambiguous one (repeated hour) takes the earlier instant.
    quick = _localise(
        series.str.strptime(pl.Datetime("us"), _NAIVE_FORMATS[0], strict=False, cache=False),
        timezone,
    )
    if quick.null_count() == series.null_count():
        return quick.alias(name)
    raw = text(series)
    normal = pl.select(
        pl.lit(raw)
        .str.replace_all("/", "-")
        .str.replace("T", " ")
        .str.replace(r"(?i)\s*Z$", "+0000")
        .str.replace(r"\s*([+-]\d\d):?(\d\d)$", "${1}${2}")
    ).to_series()
    result = pl.repeat(None, len(raw), dtype=schema.Timestamp, eager=True).alias(name)
    pending = raw.is_not_null()
    has_offset = normal.str.contains(r"[+-]\d{4}$").fill_null(False)
    # Most columns use one format: try the formats in order on the rows still unparsed.
    for fmt in (*_AWARE_FORMATS, *_NAIVE_FORMATS):
        if not pending.any():
            break
        index = pending.arg_true()
        subset = normal.gather(index)
        if "%z" in fmt and not has_offset.gather(index).any():
            continue
        parsed = subset.str.strptime(pl.Datetime("us"), fmt, strict=False)
        parsed = parsed.cast(schema.Timestamp) if "%z" in fmt else _localise(parsed, timezone)
        ok = parsed.is_not_null()
        if ok.any():
            result = result.scatter(index.filter(ok), parsed.filter(ok))
            pending = pending.scatter(index.filter(ok), False)
    if pending.any():
        index = pending.arg_true()
        numbers = normal.gather(index)
        epoch = _epoch(numbers.cast(pl.Float64, strict=False), spreadsheet, text_digits=numbers)
        ok = epoch.is_not_null()
        if ok.any():
            result = result.scatter(index.filter(ok), epoch.filter(ok))
            pending = pending.scatter(index.filter(ok), False)
    where.fail(
        pending,
        header,
        raw,
        f"is not a date/time I can read; expected one of: {EXPECTED_TIME_FORMATS}",
    )
    return result


def _localise(naive: pl.Series, timezone: str) -> pl.Series:
    offset = _fixed_offset(naive, timezone)
    if offset is not None:
        # No clock change within the column's span: one subtraction instead of a zone lookup
        # per value (same result).
        return (naive - offset).dt.replace_time_zone("UTC").cast(schema.Timestamp)
    return (
        naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .cast(schema.Timestamp)
    )


# Longest span checked for clock changes (beyond it, every value is looked up).
_FIXED_OFFSET_SPAN = timedelta(days=3 * 366)


def _fixed_offset(naive: pl.Series, timezone: str) -> timedelta | None:
    """The zone's UTC offset if it is the same for every local time from the column's first to
    its last value, else None. Sampled every 15 minutes: a clock change shows as two samples
    with different offsets (no zone changes its clock twice within 15 minutes)."""
    low, high = naive.min(), naive.max()
    if not isinstance(low, datetime) or not isinstance(high, datetime):
        return None
    if high - low > _FIXED_OFFSET_SPAN:
        return None
    samples = pl.concat(
        [
            pl.datetime_range(low, high, "15m", time_unit="us", eager=True),
            pl.Series([high], dtype=pl.Datetime("us")),
        ]
    )
    utc = (
        samples.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )
    if utc.null_count():
        return None
    offsets = (samples - utc).unique()
    return offsets[0] if len(offsets) == 1 else None


def _epoch(
    numbers: pl.Series, spreadsheet: bool, text_digits: pl.Series | None = None
) -> pl.Series:
    """Unix seconds (10 digits), milliseconds (13 digits), or an Excel serial day number."""
    values = numbers.cast(pl.Float64, strict=False)
    if text_digits is not None:
        length = text_digits.str.replace(r"\.\d*$", "").str.len_chars()
    else:
        length = values.abs().floor().cast(pl.Int64, strict=False).cast(pl.String).str.len_chars()
    seconds = pl.select(
        pl.when(pl.lit(length) == 10)
        .then(pl.lit(values))
        .when(pl.lit(length) == 13)
        .then(pl.lit(values) / 1000)
        .when(pl.lit(spreadsheet) & (pl.lit(length) == 5))
        .then((pl.lit(values) - _EXCEL_EPOCH_OFFSET_DAYS) * 86400)
        .otherwise(None)
    ).to_series()
    micros = (seconds * 1_000_000).round(0).cast(pl.Int64, strict=False)
    utc = pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")
    return utc.cast(schema.Timestamp)


def amounts(series: pl.Series, where: Where, header: str, *, fen: bool = False) -> pl.Series:
    """Money as Decimal(18, 2) from "¥1,299.00", "1299", numbers; fen amounts divided by 100."""
    name = series.name
    if series.dtype == pl.Null:
        return series.cast(schema.Money)
    if series.dtype.is_numeric():
        value = series.cast(pl.Float64)
        if fen:
            value = value / 100
        return value.round(2).cast(schema.Money).alias(name)
    raw = text(series)
    value = raw.cast(pl.Decimal(38, 10), strict=False)
    if value.null_count() != raw.null_count():
        # Some cells carry currency signs or thousands separators: clean, then parse again.
        digits = pl.select(
            pl.lit(raw)
            .str.replace_all(r"[¥￥$,，\s]|元|CNY|RMB", "")
            .str.replace(r"^\((.*)\)$", "-${1}")
        ).to_series()
        value = digits.cast(pl.Decimal(38, 10), strict=False)
        where.fail(
            raw.is_not_null() & value.is_null(),
            header,
            raw,
            "is not an amount; expected a number like 1299.00 or ¥1,299.00",
        )
    if fen:
        value = value / 100
    return value.round(2).cast(schema.Money).alias(name)


def quantities(series: pl.Series, where: Where, header: str) -> pl.Series:
    """Item quantities as Int64; a non-integer or non-numeric quantity is an InputError."""
    if series.dtype.is_integer():
        return series.cast(pl.Int64)
    raw = text(series) if not series.dtype.is_float() else series
    value = raw.cast(pl.Float64, strict=False)
    bad = raw.is_not_null() & (value.is_null() | (value != value.floor()) | (value < 0))
    where.fail(bad, header, raw, "is not a quantity; expected a whole number")
    return value.cast(pl.Int64).alias(series.name)


def packed_items(series: pl.Series, where: Where, header: str) -> pl.Series:
    """Parse "SKU-A*2;SKU-B×1" (pair separators * × :, list separators ; ； , ， |) into items.

    A sku without a quantity counts once. Repeated skus in one cell are summed.
    """
    raw = text(series)
    several = raw.str.contains(_ITEM_LIST_SEPARATORS).fill_null(False)
    if not several.any():
        return _single_items(raw).alias(series.name)
    if several.mean() < 0.5:  # type: ignore[operator]
        # Most cells hold one item: only the others go through the split and group-by.
        index = several.arg_true()
        packed = _packed_items(raw.gather(index))
        single = _single_items(raw)
        merged = pl.DataFrame({"i": pl.int_range(len(raw), eager=True, dtype=pl.UInt32)})
        merged = merged.join(
            pl.DataFrame({"i": index, "p": packed}), on="i", how="left", maintain_order="left"
        )
        return (
            pl.select(pl.when(pl.lit(several)).then(merged["p"]).otherwise(pl.lit(single)))
            .to_series()
            .cast(schema.ItemsDtype)
            .alias(series.name)
        )
    return _packed_items(raw).alias(series.name)


_ITEM_LIST_SEPARATORS = r"[;；,，|\x1f]"
_ITEM_PAIR = r"^(.*?)\s*[*×:：]\s*(\d+)$"


def _single_items(raw: pl.Series) -> pl.Series:
    """Cells holding one "SKU*2" item each (no list separator): a one-item list per cell,
    null for an empty cell. The same values the general path gives, without its group-by."""
    cells = pl.DataFrame({"cell": raw}).select(pl.col("cell").str.strip_chars())
    # One regex pass for both groups, materialised once (the fields are read twice below).
    pairs = cells.select(
        "cell", pl.col("cell").str.extract_groups(_ITEM_PAIR).alias("pair")
    ).unnest("pair")
    sku, qty = pairs.columns[1], pairs.columns[2]
    line = pl.struct(
        pl.when(pl.col(sku).is_null())
        .then(pl.col("cell"))
        .otherwise(pl.col(sku))
        .str.strip_chars()
        .alias("sku"),
        pl.col(qty).cast(pl.Int64).fill_null(1).alias("qty"),
    )
    return pairs.select(
        pl.when(pl.col("cell").is_not_null() & (pl.col("cell") != ""))
        .then(line.reshape((-1, 1)).arr.to_list())
        .otherwise(None)
        .cast(schema.ItemsDtype)
    ).to_series()


def _packed_items(raw: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"i": pl.int_range(len(raw), eager=True), "cell": raw})
    parts = (
        frame.with_columns(pl.col("cell").str.replace_all(r"[;；,，|]", "\x1f").str.split("\x1f"))
        .explode("cell", empty_as_null=True)
        .with_columns(pl.col("cell").str.strip_chars())
        .filter(pl.col("cell").is_not_null() & (pl.col("cell") != ""))
        .with_columns(
            pl.col("cell").str.extract(r"^(.*?)\s*[*×:：]\s*(\d+)$", 1).alias("sku"),
            pl.col("cell").str.extract(r"^(.*?)\s*[*×:：]\s*(\d+)$", 2).cast(pl.Int64).alias("qty"),
        )
        .with_columns(
            pl.when(pl.col("sku").is_null())
            .then(pl.col("cell"))
            .otherwise(pl.col("sku"))
            .str.strip_chars()
            .alias("sku"),
            pl.col("qty").fill_null(1),
        )
    )
    return group_items(parts.select("i", "sku", "qty"), "i", len(raw))


def group_items(lines: pl.DataFrame, key: str, height: int) -> pl.Series:
    """Fold (key, sku, qty) lines into one items list per key 0..height-1, skus summed, sorted."""
    summed = (
        lines.filter(pl.col("sku").is_not_null())
        .group_by(key, "sku")
        .agg(pl.col("qty").fill_null(1).sum())
        .sort(key, "sku")
        .group_by(key, maintain_order=True)
        .agg(pl.struct("sku", "qty").alias(schema.ITEMS))
    )
    full = pl.DataFrame({key: pl.int_range(0, height, eager=True)}).cast({key: lines.schema[key]})
    return full.join(summed, on=key, how="left").sort(key)[schema.ITEMS].cast(schema.ItemsDtype)
