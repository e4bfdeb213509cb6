"""What each source holds, in a few numbers: the store keeps them per pull, the engine reads them.

A source's profile is what the rules branch on about it as a whole (engine.view.survey): per order
source and channel, how many rows and the period they cover; per carrier source, which carriers
its rows name. Computed from every row of the store, that took ~4 s of every run at 10M orders.
A pull already reads every stored key of its source to diff against, so it derives the source's
profile after the pull from that read, and the pull's row in the pull log keeps it
(store.Store.profiles); the engine scans the rows only where a profile is missing (a store
written by an older ordersync, or frames passed to `evaluate` directly).
"""

from __future__ import annotations

import io
import json

import polars as pl

from ordersync import schema as s

ROWS = "rows"
CHANNEL_START = "ch_start"  # a channel order's period: created_at, else paid_at
CHANNEL_END = "ch_end"
START = "start"  # any order row's period: dated()
END = "end"
# rows whose stored id is not in normal form (schema.normalise_order_id); readers normalise,
# so this is 0 unless a reader let some through, and then the engine looks ids up by form
ODD_IDS = "odd_ids"
# carrier rows whose tracking number is not stripped of surrounding blanks (the engine strips
# every number it compares): 0 unless a reader let some through
ODD_NUMBERS = "odd_numbers"

ORDER_PROFILE_SCHEMA: dict[str, pl.DataType] = {
    s.SOURCE: pl.String(),
    s.SOURCE_KIND: pl.String(),
    s.CHANNEL: pl.String(),
    ROWS: pl.Int64(),
    CHANNEL_START: s.Timestamp,
    CHANNEL_END: s.Timestamp,
    START: s.Timestamp,
    END: s.Timestamp,
    ODD_IDS: pl.Int64(),
}
CARRIER_PROFILE_SCHEMA: dict[str, pl.DataType] = {
    s.SOURCE: pl.String(),
    s.CARRIER: pl.String(),  # null: rows that name no carrier
    ROWS: pl.Int64(),
    ODD_NUMBERS: pl.Int64(),
}

# The columns a profile is computed from.
ORDER_PROFILE_COLUMNS = (
    s.SOURCE,
    s.SOURCE_KIND,
    s.CHANNEL,
    s.ORDER_ID,
    s.CREATED_AT,
    s.PAID_AT,
    s.SHIPPED_AT,
)
CARRIER_PROFILE_COLUMNS = (s.SOURCE, s.CARRIER, s.TRACKING_NO)


def dated() -> pl.Expr:
    """When a row happened, for coverage: created_at, else paid_at, else shipped_at."""
    return pl.coalesce(s.CREATED_AT, s.PAID_AT, s.SHIPPED_AT)


def channel_dated() -> pl.Expr:
    return pl.coalesce(s.CREATED_AT, s.PAID_AT)


def order_profile(rows: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (source, source_kind, channel) of the order rows the engine judges (order
    source kinds, an id that is not blank once normalised)."""
    order_id = s.normalise_order_id(pl.col(s.ORDER_ID).cast(pl.String))
    kind = pl.col(s.SOURCE_KIND).cast(pl.String)
    judged = rows.filter(
        kind.is_in(s.ORDER_SOURCE_KINDS).fill_null(False)
        & order_id.is_not_null()
        & (order_id != "")
    )
    profile = judged.group_by(pl.col(s.SOURCE).cast(pl.String), kind, s.CHANNEL).agg(
        pl.len().cast(pl.Int64).alias(ROWS),
        channel_dated().min().alias(CHANNEL_START),
        channel_dated().max().alias(CHANNEL_END),
        dated().min().alias(START),
        dated().max().alias(END),
        (pl.col(s.ORDER_ID).cast(pl.String) != order_id).sum().cast(pl.Int64).alias(ODD_IDS),
    )
    return s.conform(profile, ORDER_PROFILE_SCHEMA)


def carrier_profile(tracking: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (source, carrier) of the carrier rows."""
    number = pl.col(s.TRACKING_NO).cast(pl.String)
    profile = tracking.group_by(pl.col(s.SOURCE).cast(pl.String), s.CARRIER).agg(
        pl.len().cast(pl.Int64).alias(ROWS),
        (number != number.str.strip_chars()).sum().cast(pl.Int64).alias(ODD_NUMBERS),
    )
    return s.conform(profile, CARRIER_PROFILE_SCHEMA)


def complete(profile: pl.DataFrame) -> bool:
    """False for a profile kept by an ordersync that did not count all this one counts."""
    counts = [c for c in (ROWS, ODD_IDS, ODD_NUMBERS) if c in profile.columns]
    return not profile.select(pl.any_horizontal(pl.col(counts).is_null()).any()).item()


def to_json(orders: pl.DataFrame, carriers: pl.DataFrame) -> str:
    """One source's profile as the text the pull log keeps (the source column left out)."""
    return json.dumps(
        {
            "orders": json.loads(orders.drop(s.SOURCE).write_json()),
            "carriers": json.loads(carriers.drop(s.SOURCE).write_json()),
        },
        ensure_ascii=False,
    )


def from_json(source: str, text: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The (order profile, carrier profile) frames of one source from `to_json`'s text."""
    data = json.loads(text)
    frames = []
    for part, schema in (("orders", ORDER_PROFILE_SCHEMA), ("carriers", CARRIER_PROFILE_SCHEMA)):
        without_source = {k: v for k, v in schema.items() if k != s.SOURCE}
        frame = pl.read_json(io.StringIO(json.dumps(data[part])), schema=without_source)
        frames.append(s.conform(frame.with_columns(pl.lit(source).alias(s.SOURCE)), schema))
    return frames[0], frames[1]
