"""Helpers for store tests: hand-made source reads, so they do not depend on the file readers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from ordersync import schema as s
from ordersync.sources.base import FileFingerprint, SourceRead
from ordersync.store import Store

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

MakeRead = Callable[..., SourceRead]


def order(order_id: str, **fields: Any) -> dict[str, Any]:
    """One channel order row with sensible defaults; override any canonical field."""
    row: dict[str, Any] = {
        s.SOURCE: "taobao",
        s.SOURCE_KIND: "channel",
        s.CHANNEL: "taobao",
        s.ORDER_ID: order_id,
        s.SHIPMENT_ID: "",
        s.STATUS: "paid",
        s.RAW_STATUS: "买家已付款，等待卖家发货",
        s.AMOUNT: Decimal("59.90"),
        s.PAID_AT: T0,
        s.UPDATED_AT: T0,
        s.ADDRESS: "浙江省杭州市西湖区文三路1号",
        s.ITEMS: [{"sku": "A", "qty": 1}],
        s.SOURCE_FILE: "exports/taobao/day1.csv",
        s.SOURCE_ROW: 2,
    }
    row.update(fields)
    return row


def make_read_factory() -> MakeRead:
    counter = iter(range(1, 1_000_000))

    def make(
        rows: Sequence[dict[str, Any]] = (),
        *,
        source: str = "taobao",
        tracking: Sequence[dict[str, Any]] = (),
        files: Sequence[str] | None = None,
        notes: tuple[str, ...] = (),
    ) -> SourceRead:
        orders = (
            s.conform(pl.DataFrame(list(rows), infer_schema_length=None), s.ORDERS_SCHEMA)
            if rows
            else s.empty_frame(s.ORDERS_SCHEMA)
        )
        tracks = (
            s.conform(pl.DataFrame(list(tracking), infer_schema_length=None), s.TRACKING_SCHEMA)
            if tracking
            else s.empty_frame(s.TRACKING_SCHEMA)
        )
        names = (
            files
            if files is not None
            else sorted({r.get(s.SOURCE_FILE) or "x.csv" for r in [*rows, *tracking]})
        )
        fingerprints = tuple(
            FileFingerprint(name, 100, 1, f"sha-{next(counter)}") for name in names
        )
        return SourceRead(
            source=source,
            orders=orders,
            tracking=tracks,
            files=fingerprints,
            rows_read=len(rows) + len(tracking),
            notes=notes,
        )

    return make


def apply(store: Store, read: SourceRead, *, at: datetime = T0, full: bool = False):
    with store.writing():
        return store.apply_pull(read, full=full, started_at=at, pulled_at=at)
