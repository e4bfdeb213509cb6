"""Turn a finding's evidence JSON into cells: each kind of source's values side by side.

Columns are grouped by the kind of source (channel | OMS | warehouse | courier) rather than by
source name, so every row of a rule sheet has the same columns. When several sources of one
kind disagree (two warehouses, split parcels) the cell names each source.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from ordersync import schema
from ordersync.reports import labels
from ordersync.reports.labels import Lang
from ordersync.reports.safety import ADDRESS_LEVELS, mask_address, mask_name, mask_phone

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
# A JSON key followed by a value other than null, "" or []: a non-empty string, a number, a
# boolean, an object or a non-empty list.
_VALUE_AFTER_KEY = r'{key}\s*:\s*(?:"[^"]|[^n"\s\[]|\[\s*[^\]\s])'
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
            if offset == 0 and not wanted <= used:
                wanted -= _never_valued(evidence.slice(PRESENCE_CHUNK), wanted - used)
            if wanted <= used:
                break
    except pl.exceptions.PolarsError:
        return candidates
    return [c for c in candidates if (c.kind, c.field) in used]


def _never_valued(evidence: pl.Series, columns: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The columns whose field no document holds a value for, found in the text (the key
    followed by anything but null, "" or []): decoding cannot show one, so the caller need
    not decode every document looking for it. Such columns are common (a ghost shipment's
    courier record has no scan times); looking for them decoded every document, ~4 s of a
    1M-row workbook."""
    fields = {field for _, field in columns}
    if schema.ADDRESS in fields:
        fields |= set(_ADDRESS_PARTS)
    valued = {
        field
        for field in fields
        if evidence.str.contains(_VALUE_AFTER_KEY.format(key=re.escape(json.dumps(field)))).any()
    }
    if valued & set(_ADDRESS_PARTS):
        valued.add(schema.ADDRESS)
    return {(kind, field) for kind, field in columns if field not in valued}


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


# --- vectorised cells ------------------------------------------------------------------------
#
# `CellMaker` renders one document at a time in Python. `fast_cells` renders a whole chunk of
# documents with Polars for the regular case: every value has the JSON type the layout says,
# each kind of source has at most one entry and times are plain ISO 8601. Rows outside that case
# are flagged so the caller renders them with `CellMaker`, which stays the reference.

# Python's str.strip() and \s also treat \x1c-\x1f as white space; Rust's do not.
_PY_SPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_PY_SPACE_RUN = r"[\s\x1c-\x1f]+"  # Rust's \s is Unicode White_Space, without \x1c-\x1f
_TEXT_FIELDS = (
    "source",
    "source_kind",
    schema.STATUS,
    schema.RAW_STATUS,
    schema.CARRIER,
    schema.SHIPMENT_ID,
    schema.RECEIVER_NAME,
    schema.RECEIVER_PHONE,
    schema.PROVINCE,
    schema.CITY,
    schema.DISTRICT,
    schema.ADDRESS,
    schema.AMOUNT,
    schema.TRACKING_STATUS,
    *sorted(TIME_FIELDS),
)
# A value that is not a JSON string (or null) where the layout has text, or an odd list.
_IRREGULAR = "|".join(
    (
        r'"(?:' + "|".join(_TEXT_FIELDS) + r')"\s*:\s*[^"n\s]',
        r'"tracking_no"\s*:\s*(?:[^"n\[\s]|\[\s*[^"\]\s])',
        r'"tracking_no"\s*:\s*\[[^\]]*?[\[,]\s*[^"\s]',
        r'"items"\s*:\s*(?:[^n\[\s]|\[\s*[^{\]\s])',
        r'"(?:sku|qty)"\s*:\s*(?:[^"\-0-9\s]|-?[0-9]+[.eE]|-?[0-9]{16})',
    )
)
_TIME_AWARE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:[0-5]\d(?:\.\d{1,6})?(?:[+-]\d{2}:\d{2}|Z)$"
_TIME_NAIVE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:[0-5]\d(?:\.\d{1,6})?$"
# The facts object when it holds no nested object and no escaped text (else: CellMaker).
_FACTS_KEY = r'"facts"\s*:'
_FACTS_FLAT = r'"facts"\s*:\s*(\{(?:[^{}"\\]|"[^"\\]*")*\})'
_STARS = "*" * 64


def _mapped(column: pl.Expr, pairs: dict[str, tuple[str, str]], lang: Lang) -> pl.Expr:
    index = 0 if lang == "zh" else 1
    mapping = {key: pair[index] for key, pair in pairs.items()}
    return column.replace_strict(mapping, default=column, return_dtype=pl.String)


def _nonempty(column: pl.Expr) -> pl.Expr:
    return pl.when(column != "").then(column)


def _fast_time(raw: pl.Expr, timezone: str) -> tuple[pl.Expr, pl.Expr]:
    """(the time in `timezone`, naive; whether the value is outside the fast path)."""
    aware = raw.str.contains(_TIME_AWARE)
    naive = raw.str.contains(_TIME_NAIVE)
    parsed_aware = (
        raw.str.replace(r"Z$", "+00:00")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", time_zone="UTC", strict=False)
        .dt.convert_time_zone(timezone)
        .dt.replace_time_zone(None)
    )
    parsed_naive = raw.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False)
    value = pl.when(aware).then(parsed_aware).when(naive).then(parsed_naive)
    odd = (raw != "") & ~aware & ~naive
    return value, odd.fill_null(False)


def _mask_name(raw: pl.Expr) -> pl.Expr:
    text = raw.str.strip_chars(_PY_SPACE)
    stars = (text.str.len_chars() - 1).clip(1, 3)
    masked = text.str.slice(0, 1) + pl.lit(_STARS).str.slice(0, stars)
    keep = (text == "") | text.str.contains("*", literal=True)
    return pl.when(keep).then(text).otherwise(masked)


def _mask_phone(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    text = raw.str.strip_chars(_PY_SPACE)
    digits = text.str.replace_all(r"\D", "")
    digits = (
        pl.when((digits.str.len_chars() == 13) & digits.str.starts_with("86"))
        .then(digits.str.slice(2))
        .otherwise(digits)
    )
    n = digits.str.len_chars()
    masked = (
        pl.when((n == 11) & digits.str.starts_with("1"))
        .then(digits.str.head(3) + "****" + digits.str.tail(4))
        .when(n >= 7)
        .then(digits.str.head(3) + pl.lit(_STARS).str.slice(0, n - 5) + digits.str.tail(2))
        .when(n > 0)
        .then(pl.lit(_STARS).str.slice(0, n))
        .otherwise(pl.lit("***"))
    )
    has_star = text.str.contains("*", literal=True)
    odd = (~has_star & (n > len(_STARS))).fill_null(False)
    shown = pl.when(raw.is_null()).then(raw).when(has_star).then(text).otherwise(masked)
    return shown, odd


def _joined_parts(parts: list[pl.Expr]) -> pl.Expr:
    """The truthy parts joined, each once, in order (`"".join(dict.fromkeys(parts))`)."""
    p, c, d = (_nonempty(x) for x in parts)
    keep_c = c.is_not_null() & (c != p).fill_null(True)
    keep_d = d.is_not_null() & (d != p).fill_null(True) & (d != c).fill_null(True)
    return pl.concat_str(
        [
            p.fill_null(""),
            pl.when(keep_c).then(c).otherwise(pl.lit("")),
            pl.when(keep_d).then(d).otherwise(pl.lit("")),
        ]
    )


def _address(entry: pl.Expr, mask: bool) -> pl.Expr:
    province, city, district = (entry.struct.field(f) for f in _ADDRESS_PARTS[:3])
    detail = entry.struct.field(schema.ADDRESS)
    head = _joined_parts([province, city, district])
    if not mask:
        whole = (
            pl.when((detail != "") & (head != "") & detail.str.starts_with(head))
            .then(detail)
            .otherwise(head + detail.fill_null(""))
        )
        return _nonempty(whole)
    detail = pl.when(head == "").then(detail)  # the parts win; skip the regexes for them
    text = detail.str.strip_chars(_PY_SPACE)
    western = (
        pl.when(text.str.contains(",", literal=True))
        .then("****" + pl.lit(",") + text.str.splitn(",", 2).struct.field("field_1"))
        .otherwise(pl.lit("****"))
    )
    rest = text.str.replace_all(_PY_SPACE_RUN, "")
    kept = []
    for pattern in ADDRESS_LEVELS:
        found = rest.str.extract("(" + pattern.pattern + ")", 1).fill_null("")
        kept.append(found)
        rest = rest.str.slice(found.str.len_chars())
    chinese = pl.concat_str(kept) + "****"
    by_detail = (
        pl.when(detail.is_null() | (detail == ""))
        .then(pl.lit(None, pl.String))
        .when(text.str.contains(r"[\u4e00-\u9fff]"))
        .then(chinese)
        .otherwise(western)
    )
    return pl.when(head != "").then(head + "****").otherwise(by_detail)


def _fact_texts(facts: pl.Series) -> pl.Series:
    """facts_text for each document's facts object, rendered once per distinct object."""
    rendered: dict[str | None, str | None] = {None: None}
    out = []
    for raw in facts:
        text = rendered.get(raw, "")
        if text == "":
            try:
                value = json.loads(raw)
            except ValueError:
                value = None
            text = rendered[raw] = facts_text({"facts": value})
        out.append(text)
    return pl.Series(out, dtype=pl.String)


def _decode(evidence: pl.Series, dtype: pl.DataType) -> tuple[pl.Series, pl.Series]:
    """Decode the documents, and which ones failed (null): halves are retried on an error."""
    try:
        return evidence.str.json_decode(dtype), pl.Series([False] * evidence.len())
    except pl.exceptions.PolarsError:
        if evidence.len() <= 1:
            return pl.Series([None] * evidence.len(), dtype=dtype), pl.Series(
                [True] * evidence.len()
            )
    half = evidence.len() // 2
    head, head_failed = _decode(evidence.slice(0, half), dtype)
    tail, tail_failed = _decode(evidence.slice(half), dtype)
    return head.append(tail), head_failed.append(tail_failed)


def fast_cells(
    evidence: pl.Series, columns: list[EvidenceColumn], lang: Lang, timezone: str, mask: bool
) -> tuple[pl.DataFrame, pl.Series]:
    """Each column's cell values and the facts text for a chunk of documents, vectorised.

    Returns a frame with one typed column per evidence column (String, Float64 or a naive
    Datetime in `timezone`) and a `facts` column, and a boolean Series of the rows to render
    with `CellMaker` instead (their values in the frame are null).
    """
    evidence = evidence.replace("", None)
    order_fields = {c.field for c in columns if c.kind != TRACKING}
    if schema.ADDRESS in order_fields:
        order_fields |= set(_ADDRESS_PARTS)
    if schema.STATUS in order_fields:
        order_fields.add(schema.RAW_STATUS)
    tracking_fields = {c.field for c in columns if c.kind == TRACKING}
    item = pl.Struct({"sku": pl.String(), "qty": pl.String()})
    list_fields: dict[str, pl.DataType] = {
        schema.TRACKING_NO: pl.List(pl.String()),
        schema.ITEMS: pl.List(item),
    }

    def struct(fields: set[str], extra: dict[str, pl.DataType]) -> pl.DataType:
        return pl.List(
            pl.Struct({**extra, **{f: list_fields.get(f, pl.String()) for f in sorted(fields)}})
        )

    dtype = pl.Struct(
        {
            "orders": struct(order_fields, {"source_kind": pl.String(), "facts": pl.String()}),
            "tracking": struct(tracking_fields, {"facts": pl.String()}),
        }
    )
    decoded, failed = _decode(evidence, dtype)
    frame = pl.DataFrame({"doc": decoded, "raw": evidence, "failed": failed})
    doc, raw = pl.col("doc"), pl.col("raw")
    orders = doc.struct.field("orders")
    kind_of = pl.element().struct.field("source_kind")
    odd = [
        pl.col("failed"),
        raw.str.contains(_IRREGULAR),
        orders.list.eval(kind_of == TRACKING).list.any(),
    ]
    entries: dict[str, pl.Expr] = {}
    for kind in dict.fromkeys(c.kind for c in columns):
        if kind == TRACKING:
            found = doc.struct.field("tracking").list.eval(
                pl.element().filter(pl.element().is_not_null())
            )
        else:
            found = orders.list.eval(pl.element().filter(kind_of == kind))
        odd.append(found.list.len() > 1)
        entries[kind] = found.list.first().alias(f"_entry_{kind}")
    # Each kind's entry once, as a column: the cell expressions below all read from it.
    frame = frame.select(
        raw, pl.any_horizontal([o.fill_null(False) for o in odd]).alias("_odd"), *entries.values()
    )
    odd = [pl.col("_odd")]
    entries = {kind: pl.col(f"_entry_{kind}") for kind in entries}
    values: list[pl.Expr] = []
    for index, column in enumerate(columns):
        entry = entries[column.kind]
        field = column.field
        value: pl.Expr
        if field == schema.ADDRESS:
            value = _address(entry, mask)
        elif field == schema.TRACKING_NO and column.kind != TRACKING:
            value = _nonempty(entry.struct.field(field).list.join(", "))
        elif field == schema.ITEMS:
            items = entry.struct.field(field)
            one = (
                pl.element().struct.field("sku").fill_null("?")
                + "×"
                + pl.element().struct.field("qty").fill_null("?")
            )
            value = pl.when(items.list.len() > 0).then(items.list.eval(one).list.join(", "))
        else:
            text = _nonempty(entry.struct.field(field))
            if field in TIME_FIELDS:
                value, late = _fast_time(text, timezone)
                odd.append(late)
            elif field == schema.AMOUNT:
                value = text.cast(pl.Float64, strict=False)
                odd.append((text.is_not_null() & value.is_null()).fill_null(False))
            elif field == schema.STATUS:
                label = _mapped(text, labels.STATUS_NAMES, lang)
                source_text = _nonempty(entry.struct.field(schema.RAW_STATUS))
                value = (
                    pl.when(source_text.is_not_null() & (source_text != label))
                    .then(label + " (" + source_text + ")")
                    .otherwise(label)
                )
            elif field == schema.TRACKING_STATUS:
                value = _mapped(text, labels.STATUS_NAMES, lang)
            elif field == schema.CARRIER:
                index_ = 0 if lang == "zh" else 1
                names = {k: v[index_] for k, v in labels.CARRIER_NAMES.items()}
                value = text.str.to_lowercase().replace_strict(
                    names, default=text, return_dtype=pl.String
                )
            elif field == schema.RECEIVER_NAME and mask:
                value = _mask_name(text)
            elif field == schema.RECEIVER_PHONE and mask:
                value, long = _mask_phone(text)
                odd.append(long)
            else:
                value = text
        values.append(value.alias(f"c{index}"))
    # One "facts" key (an entry's own "facts" is decoded above as text, or fails the decode).
    facts = raw.str.extract(_FACTS_FLAT, 1)
    odd.append(raw.str.count_matches(_FACTS_KEY) > 1)
    odd.append(facts.is_null() & raw.str.contains(_FACTS_KEY + r"\s*\{"))
    slow = pl.any_horizontal([o.fill_null(False) for o in odd]).alias("slow")
    out = frame.lazy().select(*values, facts.alias("facts_json"), slow).collect()
    slow_rows = out.get_column("slow")
    out = out.select(
        pl.when(~pl.col("slow") & (pl.col(name) != "").fill_null(True))
        .then(pl.col(name))
        .alias(name)
        if dtype == pl.String
        else pl.when(~pl.col("slow")).then(pl.col(name)).alias(name)
        for name, dtype in out.schema.items()
        if name != "slow"
    )
    return out.with_columns(_fact_texts(out.get_column("facts_json")).alias("facts")).drop(
        "facts_json"
    ), slow_rows
