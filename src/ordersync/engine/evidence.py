"""Shape a rule's hits and build their evidence JSON (layout in ordersync.findings).

Evidence is built after a rule has decided, for its hits only: the wide columns (addresses,
items, raw status) are fetched from the view's rows by a semi-join on the hit order ids, so the
cost scales with the findings, not with the orders.

Evidence holds only what the rule compared, and no ages measured from as_of: an acknowledged
finding re-opens when its evidence_hash changes, which must mean the facts changed, not the
clock or an unrelated column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import polars as pl

from ordersync import schema as s
from ordersync.engine.view import View
from ordersync.findings import NotChecked

FACTS = "_facts"
HIT_COLUMNS = (
    s.ORDER_ID,
    s.CHANNEL,
    s.DETAIL,
    s.SOURCES,
    s.AMOUNT,
    s.ACTION,
    s.MESSAGE_ZH,
    s.MESSAGE_EN,
)
_ISO = "%Y-%m-%dT%H:%M:%S%.f+00:00"
_ORDER_KEYS = (s.SOURCE, s.SOURCE_KIND, s.SHIPMENT_ID)
_TRACKING_FIELDS = (
    s.TRACKING_NO,
    s.CARRIER,
    s.TRACKING_STATUS,
    s.FIRST_SCAN_AT,
    s.LAST_EVENT_AT,
    s.DELIVERED_AT,
)


@dataclass(frozen=True)
class Gap:
    """A not-checked entry whose order count (per scope) is still a lazy plan.

    `counts` has columns scope (str) and orders (int); collected with the hits in one pass.
    """

    rule: str
    reason_en: str
    reason_zh: str
    counts: pl.LazyFrame


@dataclass
class RuleResult:
    hits: pl.LazyFrame | None = None
    gaps: list[NotChecked | Gap] = field(default_factory=list)


def duration_text(value: timedelta) -> str:
    """48h, 90m, 30s: the way the config writes durations."""
    seconds = int(value.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def shape_hits(
    frame: pl.LazyFrame,
    *,
    detail: pl.Expr | str,
    sources: pl.Expr,
    action: pl.Expr | str,
    zh: pl.Expr,
    en: pl.Expr,
    facts: Mapping[str, pl.Expr] | None = None,
    channel: pl.Expr | None = None,
    amount: pl.Expr | None = None,
) -> pl.LazyFrame:
    """Select the standard hit columns from a rule's firing rows."""

    def lit(value: pl.Expr | str) -> pl.Expr:
        return pl.lit(value) if isinstance(value, str) else value

    fact_exprs = [expr.alias(name) for name, expr in (facts or {}).items()]
    return frame.select(
        pl.col(s.ORDER_ID),
        (channel if channel is not None else pl.col(s.CHANNEL)).cast(pl.String).alias(s.CHANNEL),
        lit(detail).cast(pl.String).alias(s.DETAIL),
        sources.list.drop_nulls().list.unique().list.sort().alias(s.SOURCES),
        (amount if amount is not None else pl.col(s.AMOUNT)).cast(s.Money).alias(s.AMOUNT),
        lit(action).cast(pl.String).alias(s.ACTION),
        zh.cast(pl.String).alias(s.MESSAGE_ZH),
        en.cast(pl.String).alias(s.MESSAGE_EN),
        (pl.struct(fact_exprs) if fact_exprs else pl.struct(pl.lit(None).alias("_"))).alias(FACTS),
    )


def _iso(column: str) -> pl.Expr:
    return pl.col(column).dt.to_string(_ISO)


def _text_columns(frame: pl.LazyFrame, columns: Sequence[str]) -> list[pl.Expr]:
    schema = frame.collect_schema()
    out = []
    for name in columns:
        dtype = schema[name]
        if isinstance(dtype, pl.Datetime):
            out.append(_iso(name).alias(name))
        elif isinstance(dtype, pl.Enum | pl.Categorical | pl.Decimal):
            out.append(pl.col(name).cast(pl.String).alias(name))
        else:
            out.append(pl.col(name))
    return out


def with_evidence(
    view: View,
    hits: pl.LazyFrame,
    fields: Sequence[str],
    *,
    tracking: bool = False,
) -> pl.LazyFrame:
    """Deduplicate hits on (order_id, detail) and add the evidence JSON.

    `fields` are the order columns the rule compared; the rows shown are those of the hit's
    `sources`. With `tracking`, the detail is a tracking number and its courier record is shown.
    """
    # Settled first: the hits are few, and every branch below reads them; left lazy, Polars
    # would recompute the rule's whole plan once per branch.
    hits = (
        hits.collect()
        .lazy()
        .with_columns(pl.col(s.SOURCES).list.join(",").alias("_sk"))
        # Every column in the sort, so which duplicate survives never depends on row order.
        .sort(
            s.ORDER_ID,
            s.DETAIL,
            "_sk",
            s.CHANNEL,
            s.AMOUNT,
            s.ACTION,
            s.MESSAGE_EN,
            nulls_last=True,
        )
        .unique([s.ORDER_ID, s.DETAIL], keep="first", maintain_order=True)
        .drop("_sk")
    )
    keys = hits.select(s.ORDER_ID, s.DETAIL, s.SOURCES)
    wanted = [c for c in dict.fromkeys((*_ORDER_KEYS, *fields))]
    # Every hit's order is in the run's scope, and `rows` holds all rows of those orders.
    rows = view.rows.select(s.ORDER_ID, *wanted).join(
        keys.select(s.ORDER_ID).unique(), on=s.ORDER_ID, how="semi"
    )
    rows = rows.select(s.ORDER_ID, *_text_columns(rows, wanted))
    orders = (
        keys.join(rows, on=s.ORDER_ID, how="inner")
        .filter(pl.col(s.SOURCES).list.contains(pl.col(s.SOURCE)))
        .sort(s.ORDER_ID, s.DETAIL, s.SOURCE, s.SHIPMENT_ID)
        .group_by(s.ORDER_ID, s.DETAIL, maintain_order=True)
        .agg(pl.struct(wanted).alias("orders"))
    )
    out = hits.join(orders, on=[s.ORDER_ID, s.DETAIL], how="left")
    parts = [pl.col("orders")]
    if tracking:
        records = view.tracking_for(keys.select(pl.col(s.DETAIL).alias(s.TRACKING_NO)))
        courier = records.select(
            pl.col(s.TRACKING_NO).alias(s.DETAIL),
            pl.struct(_text_columns(records, _TRACKING_FIELDS)).alias("_t"),
        )
        out = out.join(courier, on=s.DETAIL, how="left").with_columns(
            pl.when(pl.col("_t").is_not_null()).then(pl.concat_list(pl.col("_t"))).alias("tracking")
        )
        parts.append(pl.col("tracking"))
    facts = out.select(FACTS).collect_schema()[FACTS]
    fact_exprs = []
    for fact in facts.fields if isinstance(facts, pl.Struct) else []:
        name, dtype = fact.name, fact.dtype
        value = pl.col(FACTS).struct.field(name)
        if isinstance(dtype, pl.Datetime):
            value = value.dt.to_string(_ISO)
        elif isinstance(dtype, pl.Enum | pl.Decimal | pl.Categorical):
            value = value.cast(pl.String)
        fact_exprs.append(value.alias(name))
    parts.append(pl.struct(fact_exprs).alias("facts"))
    evidence = pl.struct(parts).struct.json_encode().alias(s.EVIDENCE)
    return out.select(*HIT_COLUMNS, evidence)
