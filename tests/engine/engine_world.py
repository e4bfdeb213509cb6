"""Builders for tiny inline order worlds. Times are UTC; AS_OF is the judging moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from ordersync import schema as s
from ordersync.config import config_from_dict
from ordersync.engine import evaluate
from ordersync.engine.view import conform_with

AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KINDS = {"tb": "channel", "pdd": "channel", "oms": "oms", "wms": "warehouse"}
CHANNELS = {"tb": "taobao", "pdd": "pdd"}


def ago(hours: float = 0, days: float = 0) -> datetime:
    return AS_OF - timedelta(hours=hours, days=days)


def row(source: str, order_id: str, **fields: Any) -> dict[str, Any]:
    """One orders row; source kind and channel follow from the source name (see KINDS)."""
    out: dict[str, Any] = {
        s.SOURCE: source,
        s.SOURCE_KIND: KINDS[source],
        s.CHANNEL: CHANNELS.get(source),
        s.ORDER_ID: order_id,
        s.SHIPMENT_ID: "",
    }
    if "amount" in fields and fields["amount"] is not None:
        fields["amount"] = Decimal(str(fields["amount"]))
    if isinstance(fields.get("tracking_no"), str):
        fields["tracking_no"] = [fields["tracking_no"]]
    out.update(fields)
    return out


def orders_frame(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    if not rows:
        return s.empty_frame(s.ORDERS_SCHEMA).lazy()
    names = list(dict.fromkeys(k for r in rows for k in r))
    schema = {**s.ORDERS_SCHEMA, "pulled_at": s.Timestamp}
    data = {n: [r.get(n) for r in rows] for n in names}
    frame = pl.DataFrame(data, schema={n: schema[n] for n in names})
    extra = [pl.col("pulled_at")] if "pulled_at" in names else []
    return conform_with(frame.lazy(), s.ORDERS_SCHEMA, extra)


def track(
    tracking_no: str, carrier: str = "zto", source: str = "kd100", **fields: Any
) -> dict[str, Any]:
    return {s.SOURCE: source, s.TRACKING_NO: tracking_no, s.CARRIER: carrier, **fields}


def tracking_frame(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    if not rows:
        return s.empty_frame(s.TRACKING_SCHEMA).lazy()
    names = list(dict.fromkeys(k for r in rows for k in r))
    frame = pl.DataFrame(
        {n: [r.get(n) for r in rows] for n in names},
        schema={n: s.TRACKING_SCHEMA[n] for n in names},
    )
    return s.conform(frame, s.TRACKING_SCHEMA).lazy()


def make_config(**rules: Any):
    return config_from_dict({"rules": rules} if rules else {})


def judge(
    orders: list[dict[str, Any]],
    tracking: list[dict[str, Any]] | None = None,
    history: list[dict[str, Any]] | None = None,
    *,
    rules: list[str] | None = None,
    config=None,
    as_of: datetime = AS_OF,
    **kwargs: Any,
):
    """Run the engine; returns (hits, not_checked)."""
    hist = (
        orders_frame(history)
        if history is not None
        else orders_frame([{**r, "pulled_at": AS_OF - timedelta(days=30)} for r in orders])
    )
    hits, not_checked, _ = evaluate(
        config or make_config(),
        orders_frame(orders),
        tracking_frame(tracking or []),
        hist,
        as_of=as_of,
        rules=rules,
        **kwargs,
    )
    return hits, not_checked


def fired(hits: pl.DataFrame, rule: str | None = None) -> set[tuple[str, str, str]]:
    """{(rule, order_id, detail)} of the hits, optionally for one rule."""
    if rule is not None:
        hits = hits.filter(pl.col(s.RULE) == rule)
    return set(hits.select(s.RULE, s.ORDER_ID, s.DETAIL).iter_rows())
