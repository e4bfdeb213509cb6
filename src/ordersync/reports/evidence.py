"""Turn a finding's evidence JSON into cells: each kind of source's values side by side.

Columns are grouped by the kind of source (channel | OMS | warehouse | courier) rather than by
source name, so every row of a rule sheet has the same columns. When several sources of one
kind disagree (two warehouses, split parcels) the cell names each source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from ordersync import schema
from ordersync.reports import labels
from ordersync.reports.labels import Lang
from ordersync.reports.safety import mask_address, mask_name, mask_phone

ORDER_KINDS = ("channel", "oms", "warehouse")
TRACKING = "carrier"

TIME_FIELDS = frozenset(
    {
        schema.CREATED_AT,
        schema.PAID_AT,
        schema.SHIPPED_AT,
        schema.DELIVERED_AT,
        schema.UPDATED_AT,
        schema.FIRST_SCAN_AT,
        schema.LAST_EVENT_AT,
    }
)

# The order fields worth showing for each rule, in column order.
RULE_FIELDS: dict[str, tuple[str, ...]] = {
    "missing_order": (schema.STATUS, schema.PAID_AT, schema.AMOUNT),
    "orphan_order": (schema.STATUS, schema.CREATED_AT, schema.PAID_AT, schema.AMOUNT),
    "status_mismatch": (schema.STATUS, schema.PAID_AT, schema.SHIPPED_AT, schema.TRACKING_NO),
    "refund_not_stopped": (
        schema.STATUS,
        schema.UPDATED_AT,
        schema.SHIPPED_AT,
        schema.TRACKING_NO,
        schema.CARRIER,
    ),
    "ghost_shipment": (schema.STATUS, schema.SHIPPED_AT, schema.TRACKING_NO, schema.CARRIER),
    "tracking_reused": (
        schema.TRACKING_NO,
        schema.RECEIVER_NAME,
        schema.RECEIVER_PHONE,
        schema.ADDRESS,
    ),
    "unshipped_timeout": (schema.STATUS, schema.PAID_AT, schema.SHIPPED_AT),
    "stuck_order": (schema.STATUS, schema.UPDATED_AT),
    "delivery_stalled": (schema.STATUS, schema.SHIPPED_AT, schema.TRACKING_NO, schema.CARRIER),
    "amount_mismatch": (schema.STATUS, schema.AMOUNT),
    "item_mismatch": (schema.STATUS, schema.ITEMS),
    "address_mismatch": (
        schema.RECEIVER_NAME,
        schema.RECEIVER_PHONE,
        schema.ADDRESS,
        schema.TRACKING_NO,
    ),
    "address_invalid": (schema.RECEIVER_NAME, schema.RECEIVER_PHONE, schema.ADDRESS),
    "frequent_changes": (schema.UPDATED_AT, schema.AMOUNT, schema.ADDRESS, schema.ITEMS),
    "duplicate_shipment": (
        schema.SHIPMENT_ID,
        schema.SHIPPED_AT,
        schema.TRACKING_NO,
        schema.ITEMS,
    ),
}
DEFAULT_FIELDS = (schema.STATUS, schema.PAID_AT, schema.SHIPPED_AT, schema.TRACKING_NO)

TRACKING_FIELDS: dict[str, tuple[str, ...]] = {
    "ghost_shipment": (schema.TRACKING_STATUS, schema.FIRST_SCAN_AT, schema.LAST_EVENT_AT),
    "delivery_stalled": (schema.TRACKING_STATUS, schema.LAST_EVENT_AT),
}
DEFAULT_TRACKING_FIELDS = (schema.TRACKING_STATUS, schema.FIRST_SCAN_AT, schema.LAST_EVENT_AT)


@dataclass(frozen=True)
class EvidenceColumn:
    kind: str  # channel, oms, warehouse or carrier
    field: str

    @property
    def is_time(self) -> bool:
        return self.field in TIME_FIELDS

    @property
    def is_money(self) -> bool:
        return self.field == schema.AMOUNT

    def title(self, lang: Lang, tz_label: str) -> str:
        sep = "" if lang == "zh" else " "
        title = labels.kind_name(self.kind, lang) + sep + labels.header(self.field, lang)
        return f"{title} ({tz_label})" if self.is_time else title


def kinds_present(evidence: pl.Series) -> list[str]:
    """Which kinds of source appear in any of these evidence documents (a cheap text scan)."""
    found = [
        kind
        for kind in ORDER_KINDS
        if evidence.str.contains(rf'"source_kind"\s*:\s*"{kind}"').any()
    ]
    if evidence.str.contains(r'"tracking"\s*:\s*\[\s*\{').any():
        found.append(TRACKING)
    return found


def columns_for(rule: str, kinds: list[str]) -> list[EvidenceColumn]:
    """Every column the rule could show for these kinds of source."""
    order_fields = RULE_FIELDS.get(rule, DEFAULT_FIELDS)
    tracking_fields = TRACKING_FIELDS.get(rule, DEFAULT_TRACKING_FIELDS)
    columns: list[EvidenceColumn] = []
    # Field-major order puts "channel status | OMS status | warehouse status" next to each other.
    for field in order_fields:
        columns.extend(EvidenceColumn(kind, field) for kind in kinds if kind != TRACKING)
    if TRACKING in kinds:
        columns.extend(EvidenceColumn(TRACKING, field) for field in tracking_fields)
    return columns


_LIST_FIELDS = {
    schema.TRACKING_NO: pl.List(pl.String),
    schema.ITEMS: pl.List(pl.Struct({"sku": pl.String})),
}
PRESENCE_CHUNK = 5_000
_ADDRESS_PARTS = (schema.PROVINCE, schema.CITY, schema.DISTRICT, schema.ADDRESS)


def used_columns(rule: str, evidence: pl.Series) -> list[EvidenceColumn]:
    """The rule's columns that hold a value in at least one of these evidence documents.

    Decoded vectorised so a sheet has no column that is empty on every row. If the evidence
    has a shape the decoder does not expect, every possible column is kept instead.
    """
    evidence = evidence.drop_nulls()
    candidates = columns_for(rule, kinds_present(evidence))
    if not candidates or evidence.is_empty():
        return candidates
    order_fields = {c.field for c in candidates if c.kind != TRACKING}
    if schema.ADDRESS in order_fields:
        order_fields |= set(_ADDRESS_PARTS)
    tracking_fields = {c.field for c in candidates if c.kind == TRACKING}

    def struct(fields: set[str], extra: dict[str, pl.DataType]) -> pl.DataType:
        return pl.List(
            pl.Struct({**extra, **{f: _LIST_FIELDS.get(f, pl.String()) for f in sorted(fields)}})
        )

    dtype = pl.Struct(
        {
            "orders": struct(order_fields, {"source_kind": pl.String()}),
            "tracking": struct(tracking_fields | {schema.TRACKING_NO}, {}),
        }
    )
    wanted = {(c.kind, c.field) for c in candidates}
    used: set[tuple[str, str]] = set()
    try:
        # In chunks, stopping once every column has shown a value: decoding a million
        # documents at once would hold gigabytes, and the first chunk usually settles it.
        for offset in range(0, evidence.len(), PRESENCE_CHUNK):
            chunk = evidence.slice(offset, PRESENCE_CHUNK)
            used |= _present_in(chunk.str.json_decode(dtype).struct.unnest(), tracking_fields)
            if wanted <= used:
                break
    except pl.exceptions.PolarsError:
        return candidates
    return [c for c in candidates if (c.kind, c.field) in used]


def _present_in(decoded: pl.DataFrame, tracking_fields: set[str]) -> set[tuple[str, str]]:
    used: set[tuple[str, str]] = set()
    orders = decoded.select("orders").explode("orders", empty_as_null=True).unnest("orders")
    presence = orders.group_by("source_kind").agg(
        _present(name, dtype).any()
        for name, dtype in orders.schema.items()
        if name != "source_kind"
    )
    for row in presence.iter_rows(named=True):
        kind = row.pop("source_kind")
        used |= {(kind, f) for f, present in row.items() if present}
        if any(row.get(f) for f in _ADDRESS_PARTS):
            used.add((kind, schema.ADDRESS))
    if tracking_fields:
        tracking = decoded.select("tracking").explode("tracking", empty_as_null=True)
        tracking = tracking.unnest("tracking")
        for name, dtype in tracking.schema.items():
            if tracking.select(_present(name, dtype).any()).item():
                used.add((TRACKING, name))
    return used


def _present(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if isinstance(dtype, pl.List):
        return column.list.len().fill_null(0) > 0
    return column.is_not_null() & (column != "")


def parse(evidence: str | None) -> dict[str, Any]:
    if not evidence:
        return {}
    try:
        value = json.loads(evidence)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def entries(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The evidence entries of one kind of source (`carrier` means the tracking entries)."""
    if kind == TRACKING:
        return [e for e in doc.get("tracking") or () if isinstance(e, dict)]
    return [
        e for e in doc.get("orders") or () if isinstance(e, dict) and e.get("source_kind") == kind
    ]


def parse_time(value: Any, zone: ZoneInfo) -> datetime | None:
    """An ISO 8601 time from the evidence as a naive datetime in `zone` (Excel has no zones)."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment  # evidence times are UTC by contract; a naive one is taken as shown
    return moment.astimezone(zone).replace(tzinfo=None)


def format_items(items: Any, entry: dict[str, Any] | None = None) -> str:
    if not isinstance(items, list):
        return "" if items is None else str(items)
    parts = []
    for item in items:
        if isinstance(item, dict):
            parts.append(f"{item.get('sku', '?')}×{item.get('qty', '?')}")
    return ", ".join(parts)


def full_address(entry: dict[str, Any], mask: bool) -> str | None:
    province = entry.get(schema.PROVINCE)
    city = entry.get(schema.CITY)
    district = entry.get(schema.DISTRICT)
    detail = entry.get(schema.ADDRESS)
    if mask:
        return mask_address(detail, province=province, city=city, district=district)
    # Municipalities repeat themselves as province and city (北京市, 北京市).
    head = "".join(dict.fromkeys(str(p) for p in (province, city, district) if p))
    if detail and head and str(detail).startswith(head):
        return str(detail)
    text = head + (str(detail) if detail else "")
    return text or None


class CellMaker:
    """Renders evidence fields as cell values (text, number or datetime).

    This runs once per cell of a million-row sheet, so each field's converter is chosen once
    and a row's entries are grouped by kind once (`group`), not once per cell.
    """

    def __init__(self, lang: Lang, zone: ZoneInfo, mask: bool) -> None:
        self.lang = lang
        self.zone = zone
        self.mask = mask
        self._converters: dict[str, Any] = {
            schema.AMOUNT: _money,
            schema.STATUS: self._status,
            schema.TRACKING_STATUS: self._label,
            schema.TRACKING_NO: _tracking,
            schema.ITEMS: format_items,
            schema.CARRIER: lambda raw, entry: labels.carrier_name(str(raw), lang),
            schema.RECEIVER_NAME: (lambda raw, entry: mask_name(str(raw)))
            if mask
            else (lambda raw, entry: str(raw)),
            schema.RECEIVER_PHONE: (lambda raw, entry: mask_phone(str(raw)))
            if mask
            else (lambda raw, entry: str(raw)),
            **{f: self._time for f in TIME_FIELDS},
        }
        self._status_labels: dict[str, str] = {}

    def _time(self, raw: Any, entry: dict[str, Any]) -> datetime | None:
        return parse_time(raw, self.zone)

    def _label(self, raw: Any, entry: dict[str, Any]) -> str:
        key = str(raw)
        label = self._status_labels.get(key)
        if label is None:
            label = self._status_labels[key] = labels.status_name(key, self.lang)
        return label

    def _status(self, raw: Any, entry: dict[str, Any]) -> str:
        """The canonical status, with the source's own wording when it says more."""
        label = self._label(raw, entry)
        source_text = entry.get(schema.RAW_STATUS)
        if source_text and source_text != label:
            return f"{label} ({source_text})"
        return label

    def value(self, entry: dict[str, Any], field: str) -> Any:
        if field == schema.ADDRESS:
            return full_address(entry, self.mask)
        raw = entry.get(field)
        if raw is None or raw == "" or raw == []:
            return None
        convert = self._converters.get(field)
        if convert is not None:
            return convert(raw, entry)
        return raw if isinstance(raw, int | float) else str(raw)

    @staticmethod
    def group(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """A document's entries by kind of source (`carrier` for the tracking entries)."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for entry in doc.get("orders") or ():
            if isinstance(entry, dict):
                groups.setdefault(entry.get("source_kind") or "", []).append(entry)
        tracking = [e for e in doc.get("tracking") or () if isinstance(e, dict)]
        if tracking:
            groups[TRACKING] = tracking
        return groups

    def cell(self, groups: dict[str, list[dict[str, Any]]], column: EvidenceColumn) -> Any:
        """One cell: the value when all entries of the kind agree, else each source's value."""
        found = groups.get(column.kind)
        if not found:
            return None
        field = column.field
        if len(found) == 1:
            entry = found[0]
            if field == schema.ADDRESS:
                return full_address(entry, self.mask)
            raw = entry.get(field)
            if raw is None or raw == "" or raw == []:
                return None
            convert = self._converters.get(field)
            if convert is not None:
                return convert(raw, entry)
            return raw if isinstance(raw, int | float) else str(raw)
        values: list[tuple[str, Any]] = []
        for entry in found:
            value = self.value(entry, field)
            if value is not None:
                values.append((str(entry.get("source", "?")), value))
        # Compared as shown: two times in the same minute agree.
        shown = [_plain(v) for _, v in values]
        if len(set(shown)) <= 1:
            return values[0][1] if values else None
        return "; ".join(f"{source}: {v}" for (source, _), v in zip(values, shown, strict=True))


def _money(raw: Any, entry: dict[str, Any]) -> float | str:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return str(raw)


def _tracking(raw: Any, entry: dict[str, Any]) -> str:
    return ", ".join(str(t) for t in raw) if isinstance(raw, list) else str(raw)


def _plain(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def facts_text(doc: dict[str, Any]) -> str | None:
    facts = doc.get("facts")
    if not isinstance(facts, dict) or not facts:
        return None
    return "; ".join(f"{k}={_fact(v)}" for k, v in facts.items())


def _fact(value: Any) -> str:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)
