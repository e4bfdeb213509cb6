"""Correction files: one file per action, in the layout the system that acts on it imports.

Every file is always written, header only when there is nothing to do, so a folder refreshed
by cron never keeps yesterday's list next to today's. Only open findings are listed:
an acknowledged finding already has an owner. Files appear atomically.

CSV files are UTF-8 with a BOM (Excel and WPS then detect the encoding); text that a
spreadsheet would run as a formula gets a leading `'`. Pinduoduo's and Douyin's bulk-ship
pages take the Excel template they hand out, so those two are xlsx with every cell as text
(18–19 digit order ids must not turn into floats).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import xlsxwriter  # type: ignore[import-untyped]
from xlsxwriter.exceptions import XlsxWriterException  # type: ignore[import-untyped]

from ordersync import schema
from ordersync.errors import UsageError
from ordersync.findings import ReconcileResult
from ordersync.reports import evidence as ev
from ordersync.reports import labels
from ordersync.reports.labels import Lang
from ordersync.reports.safety import (
    atomic_path,
    atomic_text,
    csv_safe,
    excel_text,
    mask_name,
    mask_phone,
)

INTERCEPT = "intercept_list.csv"
SHIP_CONFIRM_TAOBAO = "ship_confirm_taobao.csv"
SHIP_CONFIRM_PDD = "ship_confirm_pdd.xlsx"
SHIP_CONFIRM_DOUYIN = "ship_confirm_douyin.xlsx"
SHIP_CONFIRM_OTHER = "ship_confirm_other.csv"
OMS_PAYMENT_RESYNC = "oms_payment_resync.csv"
GHOST_CHECK = "ghost_check.csv"
ADDRESS_FIX = "address_fix.csv"
STUCK_ORDERS = "stuck_orders.csv"

# The platforms' own bulk-ship templates: these headers are what their import pages look for.
PLATFORM_TEMPLATES: dict[str, tuple[str, tuple[str, str, str]]] = {
    "taobao": (SHIP_CONFIRM_TAOBAO, ("订单编号", "物流公司", "运单号")),
    "tmall": (SHIP_CONFIRM_TAOBAO, ("订单编号", "物流公司", "运单号")),
    "pdd": (SHIP_CONFIRM_PDD, ("订单号", "快递公司", "快递单号")),
    "douyin": (SHIP_CONFIRM_DOUYIN, ("订单号", "物流公司", "快递单号")),
}

_HEADERS: dict[str, tuple[str, str]] = {
    "order_id": ("订单号", "order_id"),
    "channel": ("渠道", "channel"),
    "tracking_no": ("运单号", "tracking_no"),
    "carrier": ("快递公司编码", "carrier"),
    "carrier_name": ("快递公司", "carrier_name"),
    "warehouse": ("仓库来源", "warehouse_source"),
    "shipment_id": ("包裹号", "shipment_id"),
    "reason": ("原因", "reason"),
    "refund_at": ("退款/取消时间", "refund_at"),
    "shipped_at": ("发货时间", "shipped_at"),
    "oms": ("OMS来源", "oms_source"),
    "channel_status": ("渠道状态", "channel_status"),
    "paid_at": ("付款时间", "paid_at"),
    "amount": ("金额", "amount"),
    "marked_by": ("标记发货来源", "marked_shipped_by"),
    "tracking_status": ("物流状态", "tracking_status"),
    "problem": ("问题", "problem"),
    "receiver": ("收件人", "receiver"),
    "phone": ("电话", "phone"),
    "channel_address": ("渠道地址(正确)", "channel_address"),
    "warehouse_address": ("仓库面单地址", "warehouse_address"),
    "source": ("来源", "source"),
    "status": ("状态", "status"),
    "since": ("卡单开始", "since"),
    "age_days": ("已持续(天)", "age_days"),
    "owner": ("负责人", "owner"),
    "note": ("处理备注", "note"),
    "finding_id": ("问题编号", "finding_id"),
}
_TIME_KEYS = {"refund_at", "shipped_at", "paid_at", "since"}


@dataclass
class _Context:
    lang: Lang
    zone: ZoneInfo
    mask: bool
    as_of: datetime

    def time(self, value: Any) -> str:
        moment = ev.parse_time(value, self.zone)
        return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""

    def header(self, key: str) -> str:
        title = _HEADERS[key][0 if self.lang == "zh" else 1]
        return f"{title} ({self.zone.key})" if key in _TIME_KEYS else title

    def name(self, value: Any) -> str:
        return (mask_name(str(value)) or "" if self.mask else str(value)) if value else ""

    def phone(self, value: Any) -> str:
        return (mask_phone(str(value)) or "" if self.mask else str(value)) if value else ""

    def address(self, entry: dict[str, Any]) -> str:
        return ev.full_address(entry, self.mask) or ""


Row = dict[str, Any]


def write_corrections(
    result: ReconcileResult,
    out_dir: Path,
    *,
    lang: Lang = "zh",
    mask: bool = False,
    timezone: str = "UTC",
) -> list[Path]:
    """Write every correction file into `out_dir` and return their paths.

    Personal data is shown in full by default: the warehouse needs the real address to fix a
    label. Pass mask=True for files that leave the team.
    """
    lang = labels.check_lang(lang)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown timezone {timezone!r}; expected e.g. Asia/Shanghai") from None
    ctx = _Context(lang, zone, mask, result.as_of)
    out_dir = Path(out_dir)
    findings = schema.conform(result.findings, schema.FINDINGS_SCHEMA).filter(
        pl.col(schema.STATE) == "open"
    )

    def of(rule: str, detail_prefix: str | None = None) -> Iterator[dict[str, Any]]:
        chosen = findings.filter(pl.col(schema.RULE) == rule)
        if detail_prefix is not None:
            chosen = chosen.filter(pl.col(schema.DETAIL).str.starts_with(detail_prefix))
        chosen = chosen.sort(schema.FIRST_SEEN, schema.ORDER_ID, schema.FINDING_ID, nulls_last=True)
        yield from chosen.iter_rows(named=True)

    written: list[Path] = []

    def csv_file(name: str, keys: list[str], rows: Iterable[Row]) -> None:
        path = out_dir / name
        try:
            with atomic_text(path) as handle:
                writer = csv.writer(handle)
                writer.writerow([ctx.header(k) for k in keys])
                writer.writerows([_csv_cell(row.get(k)) for k in keys] for row in rows)
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        written.append(path)

    # Warehouse intercept list: every parcel of a refunded/cancelled order that left or will.
    intercept_keys = [
        "order_id",
        "channel",
        "tracking_no",
        "carrier",
        "carrier_name",
        "warehouse",
        "shipment_id",
        "reason",
        "refund_at",
        "shipped_at",
        "finding_id",
    ]
    csv_file(INTERCEPT, intercept_keys, _intercept_rows(of("refund_not_stopped"), ctx))

    # Ship-confirm uploads: per channel in that platform's template, the rest generic.
    uploads = list(_ship_confirm_rows(of("status_mismatch", "wh_shipped_channel_not"), ctx))
    by_file: dict[str, list[Row]] = {}
    for row in uploads:
        template = PLATFORM_TEMPLATES.get(str(row["channel"]).lower())
        by_file.setdefault(template[0] if template else SHIP_CONFIRM_OTHER, []).append(row)
    for channel in ("taobao", "pdd", "douyin"):
        name, headers = PLATFORM_TEMPLATES[channel]
        rows = _first_parcel(by_file.get(name, []))
        table = [[r["order_id"], r["carrier_name_zh"], r["tracking_no"]] for r in rows]
        if name.endswith(".xlsx"):
            _xlsx_file(out_dir / name, list(headers), table)
            written.append(out_dir / name)
        else:
            path = out_dir / name
            try:
                with atomic_text(path) as handle:
                    writer = csv.writer(handle)
                    writer.writerow(headers)
                    writer.writerows([[_csv_cell(v) for v in line] for line in table])
            except OSError as exc:
                raise _cannot_write(path, exc) from None
            written.append(path)
    csv_file(
        SHIP_CONFIRM_OTHER,
        [
            "channel",
            "order_id",
            "carrier",
            "carrier_name",
            "tracking_no",
            "shipped_at",
            "finding_id",
        ],
        by_file.get(SHIP_CONFIRM_OTHER, []),
    )

    csv_file(
        OMS_PAYMENT_RESYNC,
        ["order_id", "channel", "oms", "channel_status", "paid_at", "amount", "finding_id"],
        _resync_rows(of("status_mismatch", "oms_unpaid"), ctx),
    )
    csv_file(
        GHOST_CHECK,
        [
            "order_id",
            "channel",
            "tracking_no",
            "carrier",
            "carrier_name",
            "shipped_at",
            "marked_by",
            "tracking_status",
            "reason",
            "finding_id",
        ],
        _ghost_rows(of("ghost_shipment"), ctx),
    )
    csv_file(
        ADDRESS_FIX,
        [
            "order_id",
            "channel",
            "problem",
            "receiver",
            "phone",
            "channel_address",
            "warehouse_address",
            "tracking_no",
            "finding_id",
        ],
        _address_rows(_chain(of("address_mismatch"), of("address_invalid")), ctx),
    )
    csv_file(
        STUCK_ORDERS,
        [
            "order_id",
            "channel",
            "source",
            "status",
            "since",
            "age_days",
            "owner",
            "note",
            "finding_id",
        ],
        _stuck_rows(of("stuck_order"), ctx),
    )
    return written


# --- rows ------------------------------------------------------------------------------------


def _chain(*parts: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for part in parts:
        yield from part


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    return csv_safe(value) if isinstance(value, str) else value


def _message(finding: dict[str, Any], lang: Lang) -> str:
    primary, other = (schema.MESSAGE_ZH, schema.MESSAGE_EN)[:: 1 if lang == "zh" else -1]
    return finding.get(primary) or finding.get(other) or ""


def _tracking_numbers(entry: dict[str, Any]) -> list[str]:
    raw = entry.get(schema.TRACKING_NO)
    if isinstance(raw, list):
        return [str(t) for t in raw if t]
    return [str(raw)] if raw else []


def _base(finding: dict[str, Any]) -> Row:
    return {
        "order_id": finding[schema.ORDER_ID],
        "channel": finding[schema.CHANNEL] or "",
        "finding_id": finding[schema.FINDING_ID],
    }


def _intercept_rows(findings: Iterable[dict[str, Any]], ctx: _Context) -> Iterator[Row]:
    for finding in findings:
        doc = ev.parse(finding[schema.EVIDENCE])
        channel = ev.entries(doc, "channel")
        refund_at = ctx.time(channel[0].get(schema.UPDATED_AT)) if channel else ""
        reason = _message(finding, ctx.lang)
        parcels = [
            (entry, tracking)
            for entry in ev.entries(doc, "warehouse")
            for tracking in (_tracking_numbers(entry) or [""])
        ]
        for entry, tracking in parcels or [({}, "")]:
            carrier = entry.get(schema.CARRIER) or ""
            yield {
                **_base(finding),
                "tracking_no": tracking,
                "carrier": carrier,
                "carrier_name": labels.carrier_name(carrier, ctx.lang),
                "warehouse": entry.get("source") or finding[schema.DETAIL] or "",
                "shipment_id": entry.get(schema.SHIPMENT_ID) or "",
                "reason": reason,
                "refund_at": refund_at,
                "shipped_at": ctx.time(entry.get(schema.SHIPPED_AT)),
            }


def _ship_confirm_rows(findings: Iterable[dict[str, Any]], ctx: _Context) -> Iterator[Row]:
    for finding in findings:
        doc = ev.parse(finding[schema.EVIDENCE])
        for entry in ev.entries(doc, "warehouse"):
            carrier = entry.get(schema.CARRIER) or ""
            for tracking in _tracking_numbers(entry):
                yield {
                    **_base(finding),
                    "tracking_no": tracking,
                    "carrier": carrier,
                    "carrier_name": labels.carrier_name(carrier, ctx.lang),
                    # The platforms' templates want the Chinese company name whatever the lang.
                    "carrier_name_zh": labels.carrier_name(carrier, "zh"),
                    "shipped_at": ctx.time(entry.get(schema.SHIPPED_AT)),
                }


def _first_parcel(rows: list[Row]) -> list[Row]:
    """A platform's bulk-ship upload takes one tracking number per order; the first parcel's."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        if row["order_id"] not in seen:
            seen.add(row["order_id"])
            kept.append(row)
    return kept


def _resync_rows(findings: Iterable[dict[str, Any]], ctx: _Context) -> Iterator[Row]:
    for finding in findings:
        doc = ev.parse(finding[schema.EVIDENCE])
        channel = (ev.entries(doc, "channel") or [{}])[0]
        oms = (ev.entries(doc, "oms") or [{}])[0]
        detail = finding[schema.DETAIL] or ""
        amount = channel.get(schema.AMOUNT) or finding[schema.AMOUNT]
        yield {
            **_base(finding),
            "oms": oms.get("source") or detail.partition(":")[2],
            "channel_status": labels.status_name(str(channel.get(schema.STATUS) or ""), ctx.lang),
            "paid_at": ctx.time(channel.get(schema.PAID_AT)),
            "amount": "" if amount is None else str(amount),
        }


def _ghost_rows(findings: Iterable[dict[str, Any]], ctx: _Context) -> Iterator[Row]:
    for finding in findings:
        doc = ev.parse(finding[schema.EVIDENCE])
        shipped = [
            e
            for e in ev.entries(doc, "channel") + ev.entries(doc, "warehouse")
            if e.get(schema.SHIPPED_AT) or e.get(schema.STATUS) in schema.SHIPPED_STATUSES
        ]
        first = shipped[0] if shipped else {}
        detail = finding[schema.DETAIL] or ""
        tracking = detail if detail and detail != "no_tracking" else ""
        if not tracking:
            numbers = [t for e in shipped for t in _tracking_numbers(e)]
            tracking = numbers[0] if numbers else ""
        scans = [t for t in ev.entries(doc, ev.TRACKING) if t.get(schema.TRACKING_NO) == tracking]
        carrier = first.get(schema.CARRIER) or (scans[0].get(schema.CARRIER) if scans else "") or ""
        status = scans[0].get(schema.TRACKING_STATUS) if scans else None
        yield {
            **_base(finding),
            "tracking_no": tracking,
            "carrier": carrier,
            "carrier_name": labels.carrier_name(carrier, ctx.lang),
            "shipped_at": ctx.time(first.get(schema.SHIPPED_AT)),
            "marked_by": ", ".join(dict.fromkeys(str(e.get("source")) for e in shipped)),
            "tracking_status": labels.status_name(status, ctx.lang) if status else "",
            "reason": _message(finding, ctx.lang),
        }


def _address_rows(findings: Iterable[dict[str, Any]], ctx: _Context) -> Iterator[Row]:
    for finding in findings:
        doc = ev.parse(finding[schema.EVIDENCE])
        channel = (ev.entries(doc, "channel") or [{}])[0]
        warehouse = ev.entries(doc, "warehouse")
        label = warehouse[0] if warehouse else {}
        rule = finding[schema.RULE]
        problem = labels.rule_name(rule, ctx.lang)
        if rule == "address_invalid" and finding[schema.DETAIL]:
            problem += f": {finding[schema.DETAIL]}"
        yield {
            **_base(finding),
            "problem": problem,
            "receiver": ctx.name(channel.get(schema.RECEIVER_NAME)),
            "phone": ctx.phone(channel.get(schema.RECEIVER_PHONE)),
            "channel_address": ctx.address(channel),
            "warehouse_address": ctx.address(label) if label else "",
            "tracking_no": ", ".join(t for e in warehouse for t in _tracking_numbers(e)),
        }


def _stuck_rows(findings: Iterable[dict[str, Any]], ctx: _Context) -> Iterator[Row]:
    for finding in findings:
        doc = ev.parse(finding[schema.EVIDENCE])
        entries = ev.entries(doc, "oms") + ev.entries(doc, "channel")
        stuck = next(
            (e for e in entries if e.get(schema.STATUS) in ("on_hold", "processing")),
            entries[0] if entries else {},
        )
        start = _aware(stuck.get(schema.UPDATED_AT)) or finding[schema.FIRST_SEEN]
        as_of = _aware(ctx.as_of)
        age = round((as_of - start).total_seconds() / 86400, 1) if start and as_of else ""
        yield {
            **_base(finding),
            "source": stuck.get("source") or finding[schema.DETAIL] or "",
            "status": labels.status_name(str(stuck.get(schema.STATUS) or ""), ctx.lang),
            "since": ctx.time(start.isoformat()) if start else "",
            "age_days": age,
            "owner": "",
            "note": "",
        }


def _aware(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- files -----------------------------------------------------------------------------------


def _xlsx_file(path: Path, headers: list[str], rows: list[list[Any]]) -> None:
    try:
        with atomic_path(path) as tmp:
            wb = xlsxwriter.Workbook(
                str(tmp),
                {
                    "strings_to_formulas": False,
                    "strings_to_urls": False,
                    "strings_to_numbers": False,
                },
            )
            ws = wb.add_worksheet("Sheet1")
            text = wb.add_format({"num_format": "@"})
            bold = wb.add_format({"bold": True, "num_format": "@"})
            ws.set_column(0, 0, 24, text)
            ws.set_column(1, len(headers) - 1, 16, text)
            for col, title in enumerate(headers):
                ws.write_string(0, col, title, bold)
            for r, row in enumerate(rows, start=1):
                for col, value in enumerate(row):
                    ws.write_string(r, col, excel_text("" if value is None else str(value)), text)
            wb.close()
    except (OSError, XlsxWriterException) as exc:
        raise _cannot_write(path, exc) from None


def _cannot_write(path: Path, exc: Exception) -> UsageError:
    return UsageError(f"cannot write {path}: {exc}; check that the folder is writable")
