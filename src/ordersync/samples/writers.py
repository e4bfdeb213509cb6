"""Write the native world's exports the way each platform and system really writes them.

Taobao and Douyin as xlsx with ids as text cells, Pinduoduo as GBK csv with Excel-proofed ids
(`="…"` or a trailing tab), Shopify's orders_export.csv with the shop's UTC offset, an OMS csv
(UTF-8 with BOM, as ERPs write for Excel), a WMS xlsx with one row per parcel, and courier scan
events as csv. Files are byte-identical for the same world: workbook metadata is pinned.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import xlsxwriter

from ordersync.samples import catalog
from ordersync.samples.model import TITLE, Address, Order, Parcel, bj_text
from ordersync.sources.presets import PRESETS

# The shop behind the Shopify export runs on US Eastern time (EST in November).
SHOPIFY_OFFSET = timedelta(hours=-5)
# Pinned so that regenerating a world changes no byte of its workbooks.
WORKBOOK_CREATED = datetime(2026, 1, 1)


def _raw(preset: str, canonical: str, prefer: str | None = None) -> str:
    """The export's own status text for a canonical status, taken from the preset itself."""
    options = [raw for raw, canon in PRESETS[preset]["status_map"].items() if canon == canonical]
    if prefer is not None and prefer in options:
        return prefer
    return options[0]


def taobao_status(order: Order) -> str:
    return _raw("taobao_export", order.status)


def pdd_status(order: Order) -> str:
    if order.status == "refunded":
        return (
            "已发货，退款成功" if any(p.shipped_at for p in order.parcels) else "未发货，退款成功"
        )
    return _raw("pdd_export", order.status)


def douyin_status(order: Order) -> str:
    return _raw("douyin_export", order.status)


def shopify_status(order: Order) -> tuple[str, str]:
    fulfilled = "fulfilled" if order.shipped_at else "unfulfilled"
    if order.status == "pending_payment":
        return "pending", "unfulfilled"
    if order.status == "cancelled":
        return "voided", "unfulfilled"
    if order.status in ("refunded", "refund_requested"):
        return "refunded", fulfilled
    financial = "partially_refunded" if order.refund_amount else "paid"
    return financial, fulfilled


# --- spreadsheet plumbing ------------------------------------------------------------------


def _workbook(path: Path, *, constant_memory: bool = False) -> xlsxwriter.Workbook:
    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(
        str(path), {"constant_memory": constant_memory, "strings_to_numbers": False}
    )
    book.set_properties(
        {"created": WORKBOOK_CREATED, "author": "ordersync sample world", "company": ""}
    )
    return book


def write_xlsx(
    path: Path,
    sheet: str,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    title: str | None = None,
    numeric: Sequence[str] = (),
) -> None:
    """One sheet; every cell is text except the `numeric` columns. `title` adds a merged row above."""
    book = _workbook(path)
    ws = book.add_worksheet(sheet)
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "0.00"})
    top = 0
    if title:
        ws.merge_range(
            0,
            0,
            0,
            len(header) - 1,
            title,
            book.add_format({"bold": True, "align": "center", "font_size": 14}),
        )
        top = 1
    ws.write_row(top, 0, header, bold)
    numeric_at = {header.index(name) for name in numeric}
    for r, row in enumerate(rows, start=top + 1):
        for c, value in enumerate(row):
            if value is None or value == "":
                continue
            if c in numeric_at:
                ws.write_number(r, c, float(value), money)  # type: ignore[arg-type]
            else:
                ws.write_string(r, c, str(value))
    ws.freeze_panes(top + 1, 0)
    book.close()


def write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[object]], *, encoding: str = "utf-8"
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    path.write_bytes(buffer.getvalue().encode(encoding))


def _money(value) -> str:
    return f"{value:.2f}"


def _items(items: Sequence[tuple[str, int]]) -> str:
    return ";".join(f"{sku}*{qty}" for sku, qty in items)


def _carrier(code: str | None, field: str = "channel_name") -> str:
    return "" if code is None else getattr(catalog.CARRIER_BY_CODE[code], field)


# --- channels ------------------------------------------------------------------------------

TAOBAO_HEADER = (
    "订单编号", "买家会员名", "买家实际支付金额", "订单状态", "买家留言", "收货人姓名", "收货地址",
    "修改后的收货地址", "联系手机", "订单创建时间", "订单付款时间", "宝贝标题", "商家编码",
    "购买数量", "价格", "物流单号", "物流公司", "发货时间", "确认收货时间", "订单修改时间",
    "退款金额", "店铺名称",
)  # fmt: skip


def taobao_rows(orders: Iterable[Order]) -> list[list[object]]:
    rows = []
    for o in orders:
        shown = o.original_address or o.address
        changed = o.original_address is not None
        for sku, qty in o.lines:
            rows.append([
                o.order_id, o.buyer, _money(o.amount), taobao_status(o), "", o.address.name,
                shown.region_text(), o.address.region_text() if changed else "", o.address.phone,
                bj_text(o.created_at), bj_text(o.paid_at), TITLE[sku], sku, qty, PRICE_TEXT[sku],
                o.tracking or "", _carrier(o.carrier), bj_text(o.shipped_at), bj_text(o.delivered_at),
                bj_text(o.updated_at), _money(o.refund_amount), catalog.SHOP_NAMES["taobao"],
            ])  # fmt: skip
    return rows


def write_taobao(path: Path, orders: Sequence[Order], *, title: str | None) -> None:
    write_xlsx(
        path,
        "订单报表",
        TAOBAO_HEADER,
        taobao_rows(orders),
        title=title,
        numeric=("买家实际支付金额", "价格", "购买数量", "退款金额"),
    )


PDD_HEADER = (
    "商品", "订单号", "订单状态", "商品总价(元)", "店铺优惠折扣(元)", "用户实付金额(元)",
    "商品数量(件)", "订单成交时间", "支付时间", "发货时间", "确认收货时间", "订单更新时间",
    "商家编码-SKU维度", "商品规格", "收货人", "手机", "省", "市", "区", "详细地址", "快递单号",
    "快递公司", "售后状态", "商家备注",
)  # fmt: skip


def _excel_proof(order_id: str) -> str:
    # Real PDD exports protect ids from Excel in two ways; the sample uses both, by id.
    return (
        f'="{order_id}"'
        if hash_digit(order_id) % 3 == 0
        else (f"{order_id}\t" if hash_digit(order_id) % 3 == 1 else order_id)
    )


def hash_digit(text: str) -> int:
    return sum(ord(ch) for ch in text)


def write_pdd(path: Path, orders: Sequence[Order]) -> None:
    rows = []
    for o in orders:
        a = o.address
        after_sale = {"refund_requested": "退款中", "refunded": "退款成功"}.get(
            o.status, "无售后或售后取消"
        )
        for sku, qty in o.lines:
            rows.append([
                TITLE[sku], _excel_proof(o.order_id), pdd_status(o),
                _money(sum(Decimal(PRICE_TEXT[s]) * q for s, q in o.lines)), _money(o.discount),
                _money(o.amount), qty, bj_text(o.created_at), bj_text(o.paid_at), bj_text(o.shipped_at),
                bj_text(o.delivered_at), bj_text(o.updated_at), sku, "默认规格", a.name, a.phone,
                a.province, a.city, a.district, a.detail, o.tracking or "", _carrier(o.carrier),
                after_sale, "",
            ])  # fmt: skip
    write_csv(path, PDD_HEADER, rows, encoding="gbk")


DOUYIN_HEADER = (
    "主订单编号", "子订单编号", "选购商品", "商品规格", "商品数量", "商家编码", "商品单价",
    "订单应付金额", "运费", "订单状态", "售后状态", "订单提交时间", "支付完成时间", "发货时间",
    "订单完成时间", "更新时间", "快递公司", "快递单号", "收件人", "收件人手机号", "省", "市", "区",
    "详细地址", "达人昵称",
)  # fmt: skip


def write_douyin(path: Path, orders: Sequence[Order]) -> None:
    rows = []
    for o in orders:
        a = o.address
        after_sale = {"refund_requested": "售后中", "refunded": "退款成功"}.get(o.status, "-")
        for index, (sku, qty) in enumerate(o.lines, start=1):
            rows.append([
                o.order_id, f"{o.order_id[:-2]}{index:02d}", TITLE[sku], "默认", qty, sku, PRICE_TEXT[sku],
                _money(o.amount), "0.00", douyin_status(o), after_sale, bj_text(o.created_at),
                bj_text(o.paid_at), bj_text(o.shipped_at), bj_text(o.delivered_at), bj_text(o.updated_at),
                _carrier(o.carrier), o.tracking or "", a.name, a.phone, a.province, a.city, a.district,
                a.detail, "",
            ])  # fmt: skip
    write_xlsx(
        path,
        "订单列表",
        DOUYIN_HEADER,
        rows,
        numeric=("商品数量", "商品单价", "订单应付金额", "运费"),
    )


SHOPIFY_HEADER = (
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
    "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name",
    "Lineitem price", "Lineitem sku", "Lineitem requires shipping", "Lineitem fulfillment status",
    "Shipping Name", "Shipping Street", "Shipping Address1", "Shipping City", "Shipping Zip",
    "Shipping Province", "Shipping Country", "Shipping Phone", "Cancelled at", "Refunded Amount",
    "Id", "Shipping Province Name",
)  # fmt: skip


def shopify_time(at: datetime | None) -> str:
    """Shopify writes times in the shop's zone with its offset: `2026-11-12 09:14:03 -0500`."""
    if at is None:
        return ""
    return (at + SHOPIFY_OFFSET).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S") + " -0500"


def write_shopify(path: Path, orders: Sequence[Order]) -> None:
    rows = []
    for o in orders:
        a = o.address
        financial, fulfillment = shopify_status(o)
        subtotal = sum(Decimal(PRICE_TEXT[s]) * q for s, q in o.lines)
        cancelled = (
            o.updated_at if o.status in ("cancelled", "refunded", "refund_requested") else None
        )
        email = f"buyer{hash_digit(o.order_id) * 7919 % 100000:05d}@example.com"
        for index, (sku, qty) in enumerate(o.lines):
            first = index == 0
            line_state = fulfillment if fulfillment == "fulfilled" else "pending"
            order_cells = [
                financial, shopify_time(o.paid_at), fulfillment, shopify_time(o.shipped_at), "no", "CNY",
                _money(subtotal), "0.00", "0.00", _money(o.amount), "WELCOME" if o.discount else "",
                _money(o.discount), "Standard",
            ]  # fmt: skip
            rows.append([
                o.order_id, email, *(order_cells if first else [""] * len(order_cells)),
                shopify_time(o.created_at), qty, TITLE[sku], PRICE_TEXT[sku], sku, "true", line_state,
                *([a.name, a.district + a.detail, a.district + a.detail, a.city, "", a.province, "CN", a.phone,
                   shopify_time(cancelled), _money(o.refund_amount), str(5_600_000_000_000 + hash_digit(o.order_id)),
                   a.province] if first else [""] * 11 + [""]),
            ])  # fmt: skip
    write_csv(path, SHOPIFY_HEADER, rows)


# --- OMS, warehouse, courier ---------------------------------------------------------------

OMS_HEADER = (
    "系统单号", "原始单号", "店铺", "平台", "订单状态", "下单时间", "付款时间", "发货时间", "更新时间",
    "实付金额", "物流公司", "物流单号", "收货人", "手机", "省", "市", "区", "地址", "买家留言",
)  # fmt: skip
OMS_COLUMNS = {
    "order_id": "原始单号",
    "status": "订单状态",
    "created_at": "下单时间",
    "paid_at": "付款时间",
    "shipped_at": "发货时间",
    "updated_at": "更新时间",
    "amount": "实付金额",
    "carrier": "物流公司",
    "tracking_no": "物流单号",
    "receiver_name": "收货人",
    "receiver_phone": "手机",
    "province": "省",
    "city": "市",
    "district": "区",
    "address": "地址",
}
OMS_STATUS_MAP = {
    "待付款": "pending_payment",
    "待审核": "on_hold",
    "已审核": "paid",
    "配货中": "processing",
    "已发货": "shipped",
    "已完成": "delivered",
    "已取消": "cancelled",
    "退款中": "refund_requested",
    "已退款": "refunded",
}


def write_oms(path: Path, orders: Sequence[Order]) -> None:
    rows = []
    for o in orders:
        m, a = o.oms, o.address
        if m is None:
            continue
        rows.append([
            m.system_id, o.order_id, catalog.SHOP_NAMES[o.channel], catalog.PLATFORM_NAMES[o.channel],
            m.status, bj_text(m.created_at), bj_text(m.paid_at), bj_text(m.shipped_at), bj_text(m.updated_at),
            _money(m.amount), _carrier(m.carrier), m.tracking or "", a.name, a.phone, a.province, a.city,
            a.district, a.detail, "",
        ])  # fmt: skip
    rows.sort(key=lambda r: r[0])
    write_csv(path, OMS_HEADER, rows, encoding="utf-8-sig")


WMS_HEADER = (
    "出库单号", "订单号", "店铺", "物流公司", "物流单号", "状态", "创建时间", "发货时间", "收件人",
    "电话", "省", "市", "区", "详细地址", "商品明细", "包裹重量(kg)",
)  # fmt: skip
WMS_COLUMNS = {
    "shipment_id": "出库单号",
    "order_id": "订单号",
    "carrier": "物流公司",
    "tracking_no": "物流单号",
    "status": "状态",
    "created_at": "创建时间",
    "shipped_at": "发货时间",
    "receiver_name": "收件人",
    "receiver_phone": "电话",
    "province": "省",
    "city": "市",
    "district": "区",
    "address": "详细地址",
    "items": "商品明细",
}
WMS_STATUS_MAP = {
    "待拣货": "processing",
    "拣货中": "processing",
    "已打包": "processing",
    "已出库": "shipped",
    "已拦截": "cancelled",
    "已取消": "cancelled",
}


def write_wms(path: Path, parcels: Sequence[tuple[str, Parcel]]) -> None:
    rows = []
    for channel, p in parcels:
        a: Address = p.address
        weight = sum(qty for _sku, qty in p.items) * 0.45 + 0.2
        rows.append([
            p.shipment_id, ",".join(p.order_ids), catalog.SHOP_NAMES[channel], _carrier(p.carrier, "wms_name"),
            p.tracking or "", p.status, bj_text(p.created_at), bj_text(p.shipped_at), a.name, a.phone,
            a.province, a.city, a.district, a.detail, _items(p.items), f"{weight:.2f}",
        ])  # fmt: skip
    rows.sort(key=lambda r: r[0])
    write_xlsx(path, "出库单", WMS_HEADER, rows)


COURIER_HEADER = ("运单号", "快递公司", "时间", "状态", "描述")


def write_courier(path: Path, parcels: Sequence[Parcel]) -> None:
    rows: list[list[str]] = []
    for p in parcels:
        if p.tracking is None or p.carrier not in catalog.SCANNED_CARRIERS:
            continue
        code = catalog.CARRIER_BY_CODE[p.carrier].kuaidi100
        rows.extend([p.tracking, code, bj_text(e.at), e.status, e.text] for e in p.events)
    rows.sort(key=lambda r: (r[0], r[2]))
    write_csv(path, COURIER_HEADER, rows)


PRICE_TEXT = {sku: price for sku, _t, price in catalog.PRODUCTS}
