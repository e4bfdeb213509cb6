"""The floors: the same job done with the bare libraries, no ordersync code.

Each function reads the world's files itself and returns the number of rows it produced. They
are the best variants measured here (MEASURED.md): lazy scans, only the key and the compared
columns, the join on a u64 hash of the order id with the string id carried along and compared
after the join (a hash collision must not merge two orders).
"""

from __future__ import annotations

import os

import polars as pl

from benchmarks.layout import SourceLayout
from ordersync import schema

STATUSES = schema.STATUSES
ORDER_KINDS = schema.ORDER_SOURCE_KINDS


# --- ingest -----------------------------------------------------------------------------------


def fastexcel_read(path: str, header_row: int | None = None, sheet=None) -> int:
    import fastexcel

    reader = fastexcel.read_excel(path)
    kwargs = {}
    if header_row:
        kwargs["header_row"] = header_row - 1
    frame = reader.load_sheet(sheet if sheet is not None else 0, **kwargs).to_polars()
    return frame.height


def scan_csv(files: list[str]) -> int:
    return pl.scan_csv(files).collect().height


def scan_parquet(files: list[str]) -> int:
    return pl.scan_parquet(files).collect().height


# --- reconcile: the 4-source join -------------------------------------------------------------


def _scan(s: SourceLayout, columns: list[str]) -> pl.LazyFrame:
    if s.format == "parquet":
        return pl.scan_parquet(s.files).select(columns)
    if s.format == "csv":
        # Everything as text: an order id must never be parsed as a number.
        return pl.scan_csv(s.files, infer_schema=False, encoding="utf8").select(columns)
    raise ValueError(f"floor reads csv or parquet, not {s.format} ({s.name})")


def _canon_status(s: SourceLayout, col: str) -> pl.Expr:
    expr = pl.col(col).cast(pl.String)
    if s.status_map:
        expr = expr.replace_strict(s.status_map, default=None)
    return expr.cast(pl.Enum(list(STATUSES)), strict=False)


def _order_side(s: SourceLayout, i: int, tracking: bool) -> pl.LazyFrame:
    cols = [s.id_col, s.status_col]
    if tracking:
        cols.append(s.tracking_col)
    lf = _scan(s, cols)
    exprs = [
        pl.col(s.id_col).cast(pl.String).hash().alias("h"),
        pl.col(s.id_col).cast(pl.String).alias(f"id{i}"),
        _canon_status(s, s.status_col).alias(f"st{i}"),
    ]
    if tracking:
        exprs.append(pl.col(s.tracking_col).cast(pl.String).alias("tracking"))
    return lf.select(exprs)


def _by_kind(layout: list[SourceLayout]) -> list[list[SourceLayout]]:
    """Order sources grouped by kind (channel, oms, warehouse), kinds without files dropped."""
    groups = [[s for s in layout if s.kind == k and s.files and s.id_col] for k in ORDER_KINDS]
    return [g for g in groups if g]


def polars_join_plan(layout: list[SourceLayout]) -> pl.LazyFrame:
    """Full join of the channel, OMS and warehouse sides on hash(order_id) (the sources of one
    kind stacked), the courier joined on the tracking number the warehouse carries; keep the
    rows where a side is missing, the ids differ (a hash collision), the channel's status
    differs from the OMS's (one status comparison) or the parcel has no courier record."""
    groups = _by_kind(layout)
    carriers = [s for s in layout if s.kind == "carrier" and s.files and s.id_col]
    joined = None
    for i, group in enumerate(groups):
        tracking = bool(carriers) and group[0].kind == "warehouse"
        side = pl.concat([_order_side(s, i, tracking) for s in group], how="vertical")
        joined = side if joined is None else joined.join(side, on="h", how="full", coalesce=True)
    n = len(groups)
    missing = pl.any_horizontal([pl.col(f"id{i}").is_null() for i in range(n)])
    cond = missing
    if n > 1:
        differ = pl.any_horizontal([pl.col(f"id{i}") != pl.col("id0") for i in range(1, n)])
        cond = cond | differ.fill_null(False) | pl.col("st0").ne_missing(pl.col("st1"))
    if carriers and any(g[0].kind == "warehouse" for g in groups):
        scans = (
            pl.concat(
                [
                    _scan(c, [c.id_col]).select(pl.col(c.id_col).cast(pl.String).hash().alias("th"))
                    for c in carriers
                ]
            )
            .unique()
            .with_columns(pl.lit(True).alias("scanned"))
        )
        joined = joined.with_columns(pl.col("tracking").hash().alias("th")).join(
            scans, on="th", how="left"
        )
        cond = cond | (pl.col("tracking").is_not_null() & pl.col("scanned").is_null())
    return joined.filter(cond)


def polars_join(layout: list[SourceLayout], engine: str = "streaming") -> int:
    return polars_join_plan(layout).collect(engine=engine).height


def _sql_text(expr_col: str) -> str:
    return f'CAST("{expr_col}" AS VARCHAR)'


def _sql_status(s: SourceLayout) -> str:
    col = _sql_text(s.status_col)
    if not s.status_map:
        return col
    cases = " ".join(
        "WHEN {} = '{}' THEN '{}'".format(col, raw.replace("'", "''"), canon)
        for raw, canon in s.status_map.items()
    )
    return f"CASE {cases} ELSE NULL END"


def _sql_source(s: SourceLayout) -> str:
    files = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in s.files) + "]"
    if s.format == "parquet":
        return f"read_parquet({files})"
    if s.format == "csv":
        return f"read_csv({files}, all_varchar = true, header = true)"
    raise ValueError(f"floor reads csv or parquet, not {s.format} ({s.name})")


def duckdb_join(layout: list[SourceLayout], threads: int | None = None) -> int:
    """The same join and filter as polars_join_plan, in DuckDB SQL."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads or os.cpu_count()}")
    con.execute("SET preserve_insertion_order = false")
    groups = _by_kind(layout)
    carriers = [s for s in layout if s.kind == "carrier" and s.files and s.id_col]
    has_wh = any(g[0].kind == "warehouse" for g in groups)
    for i, group in enumerate(groups):
        parts = []
        for s in group:
            extra = ""
            if carriers and s.kind == "warehouse":
                extra = f", {_sql_text(s.tracking_col)} AS tracking"
            parts.append(
                f"SELECT hash({_sql_text(s.id_col)}) AS h, {_sql_text(s.id_col)} AS id{i}, "
                f"{_sql_status(s)} AS st{i}{extra} FROM {_sql_source(s)}"
            )
        con.execute(f"CREATE VIEW s{i} AS " + " UNION ALL ".join(parts))
    n = len(groups)
    joins = " ".join(f"FULL JOIN s{i} USING (h)" for i in range(1, n))
    cond = " OR ".join(
        [f"id{i} IS NULL" for i in range(n)]
        + [f"id{i} <> id0" for i in range(1, n)]
        + (["st0 IS DISTINCT FROM st1"] if n > 1 else [])
    )
    carrier_join = ""
    if carriers and has_wh:
        union = " UNION ALL ".join(
            f"SELECT hash({_sql_text(c.id_col)}) AS th FROM {_sql_source(c)}" for c in carriers
        )
        con.execute(f"CREATE VIEW scans AS SELECT DISTINCT th, true AS scanned FROM ({union})")
        carrier_join = "LEFT JOIN scans ON scans.th = hash(j.tracking)"
        cond = f"({cond}) OR (j.tracking IS NOT NULL AND scans.scanned IS NULL)"
    sql = f"SELECT * FROM (SELECT * FROM s0 {joins}) j {carrier_join} WHERE {cond}"
    return con.execute(sql).to_arrow_table().num_rows


def datacompy_channel_oms(layout: list[SourceLayout]) -> int:
    """datacompy's Polars backend comparing the channel and the OMS on order id + status."""
    import datacompy

    def load(kind: str) -> pl.DataFrame:
        sides = [
            _scan(s, [s.id_col, s.status_col]).select(
                pl.col(s.id_col).cast(pl.String).alias("order_id"),
                _canon_status(s, s.status_col).cast(pl.String).alias("status"),
            )
            for s in layout
            if s.kind == kind and s.files and s.id_col
        ]
        return pl.concat(sides).collect()

    cmp = datacompy.PolarsCompare(
        load("channel"), load("oms"), join_columns="order_id", df1_name="channel", df2_name="oms"
    )
    return cmp.intersect_rows.height + cmp.df1_unq_rows.height + cmp.df2_unq_rows.height


# --- report -------------------------------------------------------------------------------


def xlsxwriter_write(frame: pl.DataFrame, path: str) -> int:
    """Every row and column of ``frame`` written with xlsxwriter's constant_memory mode."""
    import xlsxwriter

    book = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "default_date_format": "yyyy-mm-dd hh:mm",
            "remove_timezone": True,
        },
    )
    sheet = book.add_worksheet("findings")
    lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
    if lists:
        frame = frame.with_columns(pl.col(c).list.join(", ") for c in lists)
    sheet.write_row(0, 0, frame.columns)
    r = 1
    for batch in frame.iter_slices(50_000):
        for row in batch.iter_rows():
            sheet.write_row(r, 0, row)
            r += 1
    book.close()
    return r - 1
