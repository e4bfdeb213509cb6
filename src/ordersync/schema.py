"""The canonical frames every source maps into, and the findings the engine emits.

Column names here are the product contract (SPEC.md). Code refers to these constants rather
than repeating string literals, so a rename happens in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

# --- enums -------------------------------------------------------------------------------

SOURCE_KINDS = ("channel", "oms", "warehouse", "carrier")
ORDER_SOURCE_KINDS = ("channel", "oms", "warehouse")

STATUSES = (
    "pending_payment",
    "paid",
    "on_hold",
    "processing",
    "shipped",
    "delivered",
    "cancelled",
    "refund_requested",
    "refunded",
)
# Statuses in which the merchant still owes the buyer a parcel.
LIVE_STATUSES = ("paid", "on_hold", "processing", "shipped", "delivered")
PAID_STATUSES = LIVE_STATUSES
SHIPPED_STATUSES = ("shipped", "delivered")
DEAD_STATUSES = ("cancelled", "refund_requested", "refunded")

TRACKING_STATUSES = ("no_record", "picked_up", "in_transit", "delivered", "exception", "returned")

SEVERITIES = ("low", "medium", "high", "critical")
FINDING_STATES = ("open", "resolved", "acknowledged")

RULES = (
    "missing_order",
    "orphan_order",
    "status_mismatch",
    "refund_not_stopped",
    "ghost_shipment",
    "tracking_reused",
    "unshipped_timeout",
    "stuck_order",
    "delivery_stalled",
    "amount_mismatch",
    "item_mismatch",
    "address_mismatch",
    "address_invalid",
    "frequent_changes",
    "duplicate_shipment",
)

DEFAULT_SEVERITY = {
    "missing_order": "high",
    "orphan_order": "medium",
    "status_mismatch": "high",
    "refund_not_stopped": "critical",
    "ghost_shipment": "critical",
    "tracking_reused": "high",
    "unshipped_timeout": "high",
    "stuck_order": "medium",
    "delivery_stalled": "medium",
    "amount_mismatch": "medium",
    "item_mismatch": "high",
    "address_mismatch": "high",
    "address_invalid": "medium",
    "frequent_changes": "medium",
    "duplicate_shipment": "high",
}

StatusDtype = pl.Enum(list(STATUSES))
SourceKindDtype = pl.Enum(list(SOURCE_KINDS))
TrackingStatusDtype = pl.Enum(list(TRACKING_STATUSES))
SeverityDtype = pl.Enum(list(SEVERITIES))
StateDtype = pl.Enum(list(FINDING_STATES))

# --- orders ------------------------------------------------------------------------------

SOURCE = "source"
SOURCE_KIND = "source_kind"
CHANNEL = "channel"
ORDER_ID = "order_id"
SHIPMENT_ID = "shipment_id"
STATUS = "status"
RAW_STATUS = "raw_status"
AMOUNT = "amount"
CREATED_AT = "created_at"
PAID_AT = "paid_at"
SHIPPED_AT = "shipped_at"
DELIVERED_AT = "delivered_at"
UPDATED_AT = "updated_at"
TRACKING_NO = "tracking_no"
CARRIER = "carrier"
RECEIVER_NAME = "receiver_name"
RECEIVER_PHONE = "receiver_phone"
PROVINCE = "province"
CITY = "city"
DISTRICT = "district"
ADDRESS = "address"
ITEMS = "items"
# On a warehouse row that ships several orders in one parcel (merged shipment, "订单号1,订单号2"),
# each order gets its own row and this lists all the order ids of that parcel, sorted.
MERGED_WITH = "merged_with"

# Where a row came from, for evidence and error messages.
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"

TIMESTAMP_FIELDS = (CREATED_AT, PAID_AT, SHIPPED_AT, DELIVERED_AT, UPDATED_AT)
ADDRESS_FIELDS = (RECEIVER_NAME, RECEIVER_PHONE, PROVINCE, CITY, DISTRICT, ADDRESS)

Timestamp = pl.Datetime("us", "UTC")
Money = pl.Decimal(18, 2)
ItemsDtype = pl.List(pl.Struct({"sku": pl.String, "qty": pl.Int64}))

# A row may hold several tracking numbers (split parcels), so tracking_no is a list.
ORDERS_SCHEMA: dict[str, pl.DataType] = {
    SOURCE: pl.String(),
    SOURCE_KIND: SourceKindDtype,
    CHANNEL: pl.String(),
    ORDER_ID: pl.String(),
    SHIPMENT_ID: pl.String(),
    STATUS: StatusDtype,
    RAW_STATUS: pl.String(),
    AMOUNT: Money,
    CREATED_AT: Timestamp,
    PAID_AT: Timestamp,
    SHIPPED_AT: Timestamp,
    DELIVERED_AT: Timestamp,
    UPDATED_AT: Timestamp,
    TRACKING_NO: pl.List(pl.String),
    CARRIER: pl.String(),
    RECEIVER_NAME: pl.String(),
    RECEIVER_PHONE: pl.String(),
    PROVINCE: pl.String(),
    CITY: pl.String(),
    DISTRICT: pl.String(),
    ADDRESS: pl.String(),
    ITEMS: ItemsDtype,
    MERGED_WITH: pl.List(pl.String),
    SOURCE_FILE: pl.String(),
    SOURCE_ROW: pl.Int64(),
}

# Fields a config may map from a column (everything but bookkeeping).
MAPPABLE_ORDER_FIELDS = tuple(
    name
    for name in ORDERS_SCHEMA
    if name not in (SOURCE, SOURCE_KIND, SOURCE_FILE, SOURCE_ROW, MERGED_WITH)
)
# Line-level exports map these and fold them into `items`.
ITEM_SKU = "item_sku"
ITEM_QTY = "item_qty"

# The store's key for one orders row. shipment_id is "" (not null) on channel and OMS rows.
ORDER_KEY = (SOURCE, ORDER_ID, SHIPMENT_ID)

# frequent_changes counts changes of these fields. Every stored version carries one fingerprint
# of them (CHANGE_FP, change_fingerprint() computed by the pull), so that reading the history
# decodes no address or items column: decoding those was most of a history read.
WATCHED = (*ADDRESS_FIELDS, ITEMS, AMOUNT)
CHANGE_FP = "change_fp"
# Bump when change_fingerprint computes differently: the store keeps, per pull, which version
# (and which Polars) wrote its fingerprints, and compares only fingerprints of the current one.
CHANGE_FP_VERSION = 1

# --- tracking ----------------------------------------------------------------------------

TRACKING_STATUS = "tracking_status"
FIRST_SCAN_AT = "first_scan_at"
LAST_EVENT_AT = "last_event_at"
EVENT_COUNT = "event_count"
# Raw scan events (carrier sources) before they are folded.
EVENT_TIME = "event_time"
EVENT_STATUS = "event_status"
EVENT_TEXT = "event_text"

TRACKING_SCHEMA: dict[str, pl.DataType] = {
    SOURCE: pl.String(),
    TRACKING_NO: pl.String(),
    CARRIER: pl.String(),
    TRACKING_STATUS: TrackingStatusDtype,
    FIRST_SCAN_AT: Timestamp,
    LAST_EVENT_AT: Timestamp,
    DELIVERED_AT: Timestamp,
    EVENT_COUNT: pl.Int64(),
    SOURCE_FILE: pl.String(),
}
TRACKING_KEY = (SOURCE, TRACKING_NO)
MAPPABLE_TRACKING_FIELDS = (
    TRACKING_NO,
    CARRIER,
    TRACKING_STATUS,
    FIRST_SCAN_AT,
    LAST_EVENT_AT,
    DELIVERED_AT,
    EVENT_COUNT,
    EVENT_TIME,
    EVENT_STATUS,
    EVENT_TEXT,
)

# --- findings ----------------------------------------------------------------------------

FINDING_ID = "finding_id"
RULE = "rule"
SEVERITY = "severity"
SOURCES = "sources"
DETAIL = "detail"
MESSAGE_ZH = "message_zh"
MESSAGE_EN = "message_en"
EVIDENCE = "evidence"
ACTION = "action"
FIRST_SEEN = "first_seen"
LAST_SEEN = "last_seen"
STATE = "state"
RESOLVED_AT = "resolved_at"
ACK_NOTE = "ack_note"
ACKED_AT = "acked_at"
EVIDENCE_HASH = "evidence_hash"

# evidence is a JSON object: {source name: {field: value, ...}, ...}; detail is the part of
# the finding's identity beyond rule + order (e.g. the OMS source name, the tracking number).
FINDINGS_SCHEMA: dict[str, pl.DataType] = {
    FINDING_ID: pl.String(),
    RULE: pl.String(),
    SEVERITY: SeverityDtype,
    ORDER_ID: pl.String(),
    CHANNEL: pl.String(),
    SOURCES: pl.List(pl.String),
    DETAIL: pl.String(),
    MESSAGE_ZH: pl.String(),
    MESSAGE_EN: pl.String(),
    EVIDENCE: pl.String(),
    ACTION: pl.String(),
    AMOUNT: Money,
    EVIDENCE_HASH: pl.String(),
    FIRST_SEEN: Timestamp,
    LAST_SEEN: Timestamp,
    STATE: StateDtype,
    RESOLVED_AT: Timestamp,
    ACK_NOTE: pl.String(),
    ACKED_AT: Timestamp,
}


_ID_JUNK = " \t\r\n'=\""


def normalise_order_id(expr: pl.Expr) -> pl.Expr:
    """Strip what exports wrap ids in (spaces, tabs, a leading `'`, `="…"`); readers do this
    too, the engine repeats it so frames built by hand join the same way."""
    return expr.str.strip_chars(_ID_JUNK)


def items_fingerprint(expr: pl.Expr) -> pl.Expr:
    """A fingerprint of an items list that ignores line order (a sum of line hashes: sorting
    lists of structs is ~100x slower). Empty → 0, null → null."""
    return expr.list.eval(pl.element().hash()).list.sum()


def change_fingerprint() -> pl.Expr:
    """One Int64 of a conformed orders row's WATCHED fields: equal fields give equal values,
    an items list in another line order included. Polars keeps hashes stable only within one
    version, so only fingerprints computed by one version may be compared."""
    fields = [pl.col(c) for c in WATCHED if c != ITEMS]
    return pl.struct(*fields, items_fingerprint(pl.col(ITEMS))).hash().reinterpret(signed=True)


def keys_may_repeat(frame: pl.DataFrame, key: Sequence[str]) -> bool:
    """False when no key repeats: the keys' hashes are all distinct. Exact that way (equal keys
    hash equally), and far cheaper than finding the repeats (at 10M rows 0.5 s and no memory
    to speak of, against 1.1 s and 1.5 GB); True only means they may."""
    return frame.select(pl.struct(list(key)).hash().n_unique()).item() < frame.height


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame | pl.LazyFrame, schema: dict[str, pl.DataType]):
    """Select exactly `schema`'s columns in order, adding missing ones as nulls."""
    present = set(frame.collect_schema().names())
    return frame.select(
        [
            (pl.col(name) if name in present else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )
