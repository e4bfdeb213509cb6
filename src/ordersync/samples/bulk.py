"""Benchmark worlds: the same kind of world, every source as csv or parquet, at any volume.

Orders are generated as numpy columns a chunk at a time (one file per chunk and source), so
10 million orders never exist as Python objects and memory stays flat. The clean timeline is
the native one simplified to one parcel per order; a small set of anomaly kinds whose effect is
easy to reason about is injected on sampled indices, and each lists its rules in the truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ordersync.samples import catalog, writers
from ordersync.samples.anomalies import Truth
from ordersync.samples.model import BEIJING

CHUNK = 1_000_000
H = 3600
DAY = 86400
NEVER = 10**9

# Anomaly kinds and their share of the injected anomalies.
KINDS = (
    "missing_oms",
    "oms_unpaid",
    "unshipped",
    "amount",
    "items",
    "address",
    "ghost_unknown",
    "orphan",
)
KIND_WEIGHTS = np.array([0.15, 0.1, 0.1, 0.15, 0.15, 0.15, 0.1, 0.1])

CHANNEL_HEADER = (
    "订单编号", "买家实际支付金额", "订单状态", "收货人姓名", "收货地址", "联系手机", "订单创建时间",
    "订单付款时间", "商家编码", "购买数量", "物流单号", "物流公司", "发货时间", "确认收货时间",
    "订单修改时间",
)  # fmt: skip

_CARRIER_CODES = [c.code for c in catalog.CARRIERS]
_CARRIER_P = np.array([c.weight for c in catalog.CARRIERS]) / sum(
    c.weight for c in catalog.CARRIERS
)
_SCANNED = np.array([c.code in catalog.SCANNED_CARRIERS for c in catalog.CARRIERS])
_SF = _CARRIER_CODES.index("sf")
_PRICES_FEN = np.array([round(float(p[2]) * 100) for p in catalog.PRODUCTS], dtype=np.int64)
_SKUS = [p[0] for p in catalog.PRODUCTS]
_GIVEN = list(catalog.GIVEN_NAMES)
_SURNAMES = list(catalog.SURNAMES)
_REGION_SPLIT = [list(x) for x in zip(*catalog.REGIONS, strict=True)]


@dataclass
class Chunk:
    channel: pl.DataFrame
    oms: pl.DataFrame
    wms: pl.DataFrame
    events: pl.DataFrame
    truth: list[Truth]


def write_bulk(
    out_dir: Path, *, seed: int, orders: int, as_of: datetime, fmt: str, anomaly_rate: float
) -> tuple[dict[str, list[Path]], list[Truth], dict[str, Any]]:
    """Write the four sources chunk by chunk; return their files, the truth and the config."""
    ext = "csv" if fmt == "csv" else "parquet"
    files: dict[str, list[Path]] = {"taobao": [], "oms": [], "wms": [], "courier": []}
    dirs = {"taobao": "exports/taobao", "oms": "oms", "wms": "wms", "courier": "courier"}
    truth: list[Truth] = []
    # Writing releases the GIL, so a chunk's four files are written side by side.
    with ThreadPoolExecutor(max_workers=2) as pool:
        stream = chunks(seed=seed, orders=orders, as_of=as_of, anomaly_rate=anomaly_rate)
        for index, chunk in enumerate(stream):
            jobs = []
            frames = (
                ("taobao", chunk.channel),
                ("oms", chunk.oms),
                ("wms", chunk.wms),
                ("courier", chunk.events),
            )
            for source, frame in frames:
                path = out_dir / dirs[source] / f"{source}_{index:05d}.{ext}"
                path.parent.mkdir(parents=True, exist_ok=True)
                jobs.append(pool.submit(_write, frame, path, ext))
                files[source].append(path)
            for job in jobs:
                job.result()
            truth.extend(chunk.truth)
    config = bulk_config(ext)
    return files, truth, config


def _write(frame: pl.DataFrame, path: Path, ext: str) -> None:
    if ext == "csv":
        frame.write_csv(path)
    else:
        # lz4: about twice as fast to write as the zstd default, for files read once.
        frame.write_parquet(path, compression="lz4", statistics=False)


def bulk_config(ext: str) -> dict[str, Any]:
    from ordersync.samples.world import _courier_source  # the one courier definition

    return {
        "timezone": "Asia/Shanghai",
        "store": {"path": "./ordersync-data"},
        "sources": [
            {
                "name": "taobao",
                "preset": "taobao_export",
                "format": ext,
                "path": f"exports/taobao/*.{ext}",
            },
            {
                "name": "oms",
                "kind": "oms",
                "format": ext,
                "path": f"oms/*.{ext}",
                "columns": dict(writers.OMS_COLUMNS),
                "status_map": dict(writers.OMS_STATUS_MAP),
            },
            {
                "name": "wms",
                "kind": "warehouse",
                "format": ext,
                "path": f"wms/*.{ext}",
                "columns": dict(writers.WMS_COLUMNS),
                "status_map": dict(writers.WMS_STATUS_MAP),
            },
            _courier_source(f"courier/*.{ext}", ext),
        ],
    }


def chunks(
    *, seed: int, orders: int, as_of: datetime, anomaly_rate: float, size: int = CHUNK
) -> Iterator[Chunk]:
    """The world in chunks of `size` orders; each chunk depends only on (seed, its index)."""
    for index, start in enumerate(range(0, orders, size)):
        yield _chunk(seed, index, start, min(size, orders - start), as_of, anomaly_rate)


def _uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return rng.integers(int(low), int(high) + 1, n, dtype=np.int64)


def _chunk(seed: int, index: int, start: int, n: int, as_of_dt: datetime, rate: float) -> Chunk:
    rng = np.random.default_rng([seed, index])
    as_of = int(as_of_dt.timestamp())
    clock = _Clock(as_of)
    base, orphan_count = _orders(rng, start, n, as_of, rate)
    channel, oms, wms, events, marked = pl.collect_all(
        [
            _channel_rows(base, clock),
            _oms_rows(base, clock, as_of),
            _wms_rows(base, clock),
            _scan_events(base, clock, as_of),
            base.filter(pl.col("kind") >= 0).select("order_id", "kind", "tracking"),
        ]
    )
    truth = _truth(marked)
    # An "orphan" index is itself an ordinary clean order; its extra OMS row is the anomaly.
    orphans = _orphans(rng, start, orphan_count, as_of, oms.columns, clock)
    if orphans.height:
        oms = pl.concat([oms, orphans])
        note = "OMS row with an id no channel has, inside the channel's period"
        truth += [Truth(oid, "orphan_order", "oms", "anomaly", note) for oid in orphans["原始单号"]]
    return Chunk(channel, oms, wms, events, truth)


def _orders(
    rng: np.random.Generator, start: int, n: int, as_of: int, rate: float
) -> tuple[pl.LazyFrame, int]:
    """One row per order: its timeline (epoch seconds), people, goods and anomaly kind."""
    gid = np.arange(start, start + n, dtype=np.int64)

    kind = np.full(n, -1, dtype=np.int64)
    picked = rng.random(n) < rate
    kind[picked] = rng.choice(len(KINDS), int(picked.sum()), p=KIND_WEIGHTS)

    def is_kind(name: str) -> np.ndarray:
        return kind == KINDS.index(name)

    created = as_of - _uniform(rng, 300, 14 * DAY - 2 * H, n)
    paid = np.minimum(created + _uniform(rng, 60, 1800, n), as_of - 60)
    # Pin the timings anomalies depend on (see the native scenarios for the reasoning).
    recent = is_kind("missing_oms") | is_kind("oms_unpaid")
    paid[recent] = as_of - _uniform(rng, 5 * H, 30 * H, int(recent.sum()))
    late = is_kind("unshipped")
    paid[late] = as_of - _uniform(rng, 52 * H, 66 * H, int(late.sum()))
    settled = np.isin(
        kind, [KINDS.index(k) for k in ("amount", "items", "address", "ghost_unknown")]
    )
    paid[settled] = as_of - _uniform(rng, 4 * DAY, 10 * DAY, int(settled.sum()))
    created = np.where(kind >= 0, paid - 300, created)

    oms_at = paid + _uniform(rng, 120, 1800, n)
    release = oms_at + _uniform(rng, 600, 2 * H, n)
    ship = release + _uniform(rng, 3 * H, 36 * H, n)
    ship[late] = NEVER + as_of
    has_oms = (oms_at <= as_of) & ~is_kind("missing_oms")
    released = has_oms & (release <= as_of) & ~is_kind("oms_unpaid")
    shipped = released & (ship <= as_of)
    chan_ship = ship + _uniform(rng, 120, 2400, n)
    chan_shipped = shipped & (chan_ship <= as_of)

    carrier = rng.choice(len(_CARRIER_CODES), n, p=_CARRIER_P)
    ghost = is_kind("ghost_unknown")
    carrier[ghost & (carrier == _SF)] = 0
    pickup = ship + _uniform(rng, 1 * H, 10 * H, n)
    midway = pickup + _uniform(rng, 8 * H, 20 * H, n)
    delivered = pickup + _uniform(rng, 36 * H, 80 * H, n)
    delivered[ghost] = NEVER + as_of
    confirm = delivered + _uniform(rng, 3 * H, 96 * H, n)
    chan_delivered = chan_shipped & (confirm <= as_of)

    sku = rng.integers(0, len(_SKUS), n)
    qty = rng.choice(np.array([1, 1, 1, 2, 2, 3]), n)
    amount_fen = _PRICES_FEN[sku] * qty
    region = rng.integers(0, len(catalog.REGIONS), n)
    street = rng.integers(0, len(catalog.STREETS), n)
    house = rng.integers(1, 999, n)
    name_s = rng.integers(0, len(_SURNAMES), n)
    name_g = rng.integers(0, len(_GIVEN), n)
    phone_p = rng.integers(0, len(catalog.MOBILE_PREFIXES), n)
    phone_n = rng.integers(0, 10**8, n)

    order_id = 3_412_345_678_901_234_567 + gid * 7919 + rng.integers(0, 7919, n)
    digits = np.array([c.digits for c in catalog.CARRIERS])[carrier]
    tracking_num = 10 ** (digits - 1) + gid * 7 + rng.integers(0, 7, n)

    columns = pl.DataFrame(
        {
            "order_id": order_id,
            "created": created,
            "paid": paid,
            "oms_at": oms_at,
            "release": release,
            "ship": ship,
            "chan_ship": chan_ship,
            "pickup": pickup,
            "midway": midway,
            "delivered": delivered,
            "confirm": confirm,
            "has_oms": has_oms,
            "released": released,
            "shipped": shipped,
            "chan_shipped": chan_shipped,
            "chan_delivered": chan_delivered,
            "carrier": carrier,
            "sku": sku,
            "qty": qty,
            "amount_fen": amount_fen,
            "region": region,
            "street": street,
            "house": house,
            "name_s": name_s,
            "name_g": name_g,
            "phone_p": phone_p,
            "phone_n": phone_n,
            "tracking_num": tracking_num,
            "gid": gid,
            "kind": kind,
        }
    )
    base = columns.lazy().with_columns(
        pl.col("order_id").cast(pl.String),
        pl.concat_str(
            _pick("name_s", _SURNAMES),
            _pick("name_g", _GIVEN),
        ).alias("name"),
        pl.concat_str(
            _pick("phone_p", catalog.MOBILE_PREFIXES),
            pl.col("phone_n").cast(pl.String).str.zfill(8),
        ).alias("phone"),
        pl.concat_str(
            _pick("street", catalog.STREETS),
            pl.col("house").cast(pl.String),
            pl.lit("号"),
        ).alias("detail"),
        pl.concat_str(
            _pick("carrier", [c.prefix for c in catalog.CARRIERS]),
            pl.col("tracking_num").cast(pl.String),
        ).alias("tracking"),
        _pick("sku", _SKUS).alias("sku_text"),
        _money(pl.col("amount_fen")).alias("amount"),
    )
    base = base.with_columns(
        _pick("region", _REGION_SPLIT[0]).alias("province"),
        _pick("region", _REGION_SPLIT[1]).alias("city"),
        _pick("region", _REGION_SPLIT[2]).alias("district"),
    )

    return base, int(is_kind("orphan").sum())


def _channel_rows(base: pl.LazyFrame, clock: _Clock) -> pl.LazyFrame:
    """The Taobao export, one row per order (every bulk order has one line)."""
    return base.select(
        pl.col("order_id").alias("订单编号"),
        pl.col("amount").alias("买家实际支付金额"),
        pl.when(pl.col("chan_delivered"))
        .then(pl.lit(writers._raw("taobao_export", "delivered")))
        .when(pl.col("chan_shipped"))
        .then(pl.lit(writers._raw("taobao_export", "shipped")))
        .otherwise(pl.lit(writers._raw("taobao_export", "paid")))
        .alias("订单状态"),
        pl.col("name").alias("收货人姓名"),
        pl.concat_str("province", "city", "district", "detail", separator=" ").alias("收货地址"),
        pl.col("phone").alias("联系手机"),
        clock("created").alias("订单创建时间"),
        clock("paid").alias("订单付款时间"),
        pl.col("sku_text").alias("商家编码"),
        pl.col("qty").alias("购买数量"),
        pl.when("chan_shipped").then("tracking").alias("物流单号"),
        pl.when("chan_shipped").then(_carrier_name("channel_name")).alias("物流公司"),
        pl.when("chan_shipped").then(clock("chan_ship")).alias("发货时间"),
        pl.when("chan_delivered").then(clock("confirm")).alias("确认收货时间"),
        clock(
            pl.when("chan_delivered")
            .then("confirm")
            .when("chan_shipped")
            .then("chan_ship")
            .otherwise("paid")
        ).alias("订单修改时间"),
    )


def _oms_rows(base: pl.LazyFrame, clock: _Clock, as_of: int) -> pl.LazyFrame:
    oms_shipped = pl.col("shipped") & (pl.col("ship") + 300 <= as_of)
    oms_done = pl.col("chan_delivered") & (pl.col("confirm") + 600 <= as_of)
    amount_off = pl.col("kind") == KINDS.index("amount")
    unpaid = pl.col("kind") == KINDS.index("oms_unpaid")
    return base.filter("has_oms").select(
        pl.format("XS{}", pl.col("gid").cast(pl.String).str.zfill(10)).alias("系统单号"),
        pl.col("order_id").alias("原始单号"),
        pl.lit(catalog.SHOP_NAMES["taobao"]).alias("店铺"),
        pl.lit(catalog.PLATFORM_NAMES["taobao"]).alias("平台"),
        pl.when(unpaid)
        .then(pl.lit("待付款"))
        .when(oms_done)
        .then(pl.lit("已完成"))
        .when(oms_shipped)
        .then(pl.lit("已发货"))
        .when("released")
        .then(pl.lit("已审核"))
        .otherwise(pl.lit("待审核"))
        .alias("订单状态"),
        clock("created").alias("下单时间"),
        pl.when(~unpaid).then(clock("paid")).alias("付款时间"),
        pl.when(oms_shipped).then(clock("ship")).alias("发货时间"),
        clock(
            pl.when(unpaid)
            .then(pl.col("created") + 120)
            .when(oms_done)
            .then(pl.col("confirm") + 600)
            .when(oms_shipped)
            .then(pl.col("ship") + 300)
            .when("released")
            .then("release")
            .otherwise("oms_at")
        ).alias("更新时间"),
        pl.when(amount_off)
        .then(_money(pl.col("amount_fen") + 1000))
        .otherwise("amount")
        .alias("实付金额"),
        pl.when(oms_shipped).then(_carrier_name("channel_name")).alias("物流公司"),
        pl.when(oms_shipped).then("tracking").alias("物流单号"),
        pl.col("name").alias("收货人"),
        pl.col("phone").alias("手机"),
        pl.col("province").alias("省"),
        pl.col("city").alias("市"),
        pl.col("district").alias("区"),
        pl.col("detail").alias("地址"),
        pl.lit(None, pl.String).alias("买家留言"),
    )


def _wms_rows(base: pl.LazyFrame, clock: _Clock) -> pl.LazyFrame:
    wrong_items = pl.col("kind") == KINDS.index("items")
    moved = pl.col("kind") == KINDS.index("address")
    return base.filter("released").select(
        pl.format("CK{}", pl.col("gid").cast(pl.String).str.zfill(10)).alias("出库单号"),
        pl.col("order_id").alias("订单号"),
        pl.lit(catalog.SHOP_NAMES["taobao"]).alias("店铺"),
        pl.when("shipped").then(_carrier_name("wms_name")).alias("物流公司"),
        pl.when("shipped").then("tracking").alias("物流单号"),
        pl.when("shipped").then(pl.lit("已出库")).otherwise(pl.lit("待拣货")).alias("状态"),
        clock("release").alias("创建时间"),
        pl.when("shipped").then(clock("ship")).alias("发货时间"),
        pl.col("name").alias("收件人"),
        pl.col("phone").alias("电话"),
        pl.col("province").alias("省"),
        pl.col("city").alias("市"),
        pl.col("district").alias("区"),
        pl.when(moved)
        .then(pl.concat_str("detail", pl.lit("东侧裙楼")))
        .otherwise("detail")
        .alias("详细地址"),
        pl.format(
            "{}*{}",
            pl.when(wrong_items)
            .then(_pick((pl.col("sku") + 1) % len(_SKUS), _SKUS))
            .otherwise("sku_text"),
            pl.col("qty"),
        ).alias("商品明细"),
        (pl.col("qty") * 0.45 + 0.2).round(2).cast(pl.String).alias("包裹重量(kg)"),
    )


def _scan_events(base: pl.LazyFrame, clock: _Clock, as_of: int) -> pl.LazyFrame:
    """Pickup, one transit hop and delivery, as far as they happened by as_of; never SF."""
    scanned = base.filter(
        pl.col("shipped")
        & pl.col("carrier").is_in(np.flatnonzero(_SCANNED).tolist())
        & (pl.col("kind") != KINDS.index("ghost_unknown"))
    )
    event_cols = (pl.col("tracking").alias("运单号"), _carrier_name("kuaidi100").alias("快递公司"))
    return pl.concat(
        how="vertical",
        items=[
            scanned.filter(pl.col("pickup") <= as_of).select(
                *event_cols,
                clock("pickup").alias("时间"),
                pl.lit("揽收").alias("状态"),
                pl.lit("【杭州市】快件已揽收").alias("描述"),
            ),
            scanned.filter(pl.col("midway") <= as_of).select(
                *event_cols,
                clock("midway").alias("时间"),
                pl.lit("在途").alias("状态"),
                pl.lit("快件已到达【杭州转运中心】").alias("描述"),
            ),
            scanned.filter(pl.col("delivered") <= as_of).select(
                *event_cols,
                clock("delivered").alias("时间"),
                pl.lit("签收").alias("状态"),
                pl.lit("快件已签收，签收人：本人").alias("描述"),
            ),
        ],
    )


def _truth(marked: pl.DataFrame) -> list[Truth]:
    rules = {
        # The warehouse is only checked for orders the OMS released (RULES.md): one row.
        "missing_oms": [("missing_order", "oms")],
        "oms_unpaid": [("status_mismatch", "oms_unpaid:oms")],
        "unshipped": [("unshipped_timeout", "")],
        "amount": [("amount_mismatch", "oms")],
        "items": [("item_mismatch", "wms")],
        "address": [("address_mismatch", "wms")],
    }
    out: list[Truth] = []
    for order_id, kind, tracking in marked.iter_rows():
        name = KINDS[kind]
        if name == "ghost_unknown":
            out.append(
                Truth(
                    order_id,
                    "ghost_shipment",
                    tracking,
                    "anomaly",
                    "shipped days ago on a covered carrier; no scan data at all",
                )
            )
        for rule, detail in rules.get(name, []):
            out.append(Truth(order_id, rule, detail, "anomaly", name))
    return out


def _orphans(
    rng: np.random.Generator, start: int, count: int, as_of: int, columns: list[str], clock: _Clock
) -> pl.DataFrame:
    if not count:
        return pl.DataFrame()
    at = as_of - _uniform(rng, 3 * DAY, 9 * DAY, count)
    # Ids from a range no channel order uses (channel ids are 3412…).
    ids = 3_999_000_000_000_000_000 + (start + np.arange(count, dtype=np.int64)) * 11
    frame = pl.DataFrame({"id": ids, "at": at}).select(
        pl.format("XG{}", pl.col("id").cast(pl.String).str.slice(-10)).alias("系统单号"),
        pl.col("id").cast(pl.String).alias("原始单号"),
        pl.lit(catalog.SHOP_NAMES["taobao"]).alias("店铺"),
        pl.lit(catalog.PLATFORM_NAMES["taobao"]).alias("平台"),
        pl.lit("已审核").alias("订单状态"),
        clock("at").alias("下单时间"),
        clock("at").alias("付款时间"),
        pl.lit(None, pl.String).alias("发货时间"),
        clock(pl.col("at") + 1800).alias("更新时间"),
        pl.lit("99.00").alias("实付金额"),
        pl.lit(None, pl.String).alias("物流公司"),
        pl.lit(None, pl.String).alias("物流单号"),
        pl.lit("孙悦").alias("收货人"),
        pl.lit("13900001111").alias("手机"),
        pl.lit("浙江省").alias("省"),
        pl.lit("杭州市").alias("市"),
        pl.lit("西湖区").alias("区"),
        pl.lit("文三路1号").alias("地址"),
        pl.lit(None, pl.String).alias("买家留言"),
    )
    return frame.select(columns)


_OFFSET = int(BEIJING.total_seconds())
_CLOCK = pl.Series([f"{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}" for t in range(DAY)])


class _Clock:
    """Formats epoch seconds as Beijing `YYYY-MM-DD HH:MM:SS`.

    strftime costs ~1 s per million values and a world has ~15 time cells per order, so the
    text is assembled from two lookup tables (dates around as_of, clock times) instead. Values
    outside the table are clamped; they only occur in cells the caller masks anyway.
    """

    SPAN_DAYS = 4096

    def __init__(self, as_of: int) -> None:
        self.first = (as_of + _OFFSET) // DAY - self.SPAN_DAYS // 2
        origin = date(1970, 1, 1).toordinal() + self.first
        self.dates = pl.Series([str(date.fromordinal(origin + i)) for i in range(self.SPAN_DAYS)])

    def __call__(self, column: str | pl.Expr) -> pl.Expr:
        local = (pl.col(column) if isinstance(column, str) else column) + _OFFSET
        day = (local // DAY - self.first).clip(0, self.SPAN_DAYS - 1)
        return pl.concat_str(
            pl.lit(self.dates).gather(day), pl.lit(" "), pl.lit(_CLOCK).gather(local % DAY)
        )


def _money(fen: pl.Expr) -> pl.Expr:
    return pl.format(
        "{}.{}", (fen // 100).cast(pl.String), (fen % 100).cast(pl.String).str.zfill(2)
    )


def _carrier_name(field: str) -> pl.Expr:
    return _pick("carrier", [getattr(c, field) for c in catalog.CARRIERS])


def _pick(index: str | pl.Expr, values) -> pl.Expr:
    """values[index] for an integer column: a gather, much cheaper than a replace mapping."""
    return pl.lit(pl.Series(list(values), dtype=pl.String)).gather(
        pl.col(index) if isinstance(index, str) else index
    )


# --- one big workbook ----------------------------------------------------------------------


def write_big_xlsx(
    path: Path, *, rows: int = 1_000_000, seed: int = 7, as_of: datetime | None = None
) -> Path:
    """A Taobao-layout xlsx of `rows` orders for the xlsx-ingest benchmark (constant memory)."""
    from ordersync.samples.world import DEFAULT_AS_OF

    as_of = as_of or DEFAULT_AS_OF
    book = writers._workbook(Path(path), constant_memory=True)
    sheet = book.add_worksheet("订单报表")
    sheet.write_row(0, 0, CHANNEL_HEADER)
    row = 1
    for chunk in chunks(seed=seed, orders=rows, as_of=as_of, anomaly_rate=0.0, size=100_000):
        for values in chunk.channel.iter_rows():
            for col, value in enumerate(values):
                if value is None:
                    continue
                if isinstance(value, int):
                    sheet.write_number(row, col, value)
                else:
                    sheet.write_string(row, col, value)
            row += 1
    book.close()
    return Path(path)
