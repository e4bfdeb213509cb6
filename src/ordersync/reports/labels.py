"""Chinese and English text for everything a report shows a person.

Reports never show a rule id, an action code or a field name raw when a label exists; an
unknown code (a rule or action added later) falls back to the code itself rather than failing.
"""

from __future__ import annotations

from typing import Literal

from ordersync import schema
from ordersync.errors import UsageError

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

RULE_NAMES: dict[str, tuple[str, str]] = {
    "missing_order": ("订单缺失", "Missing order"),
    "orphan_order": ("无源订单", "Orphan order"),
    "status_mismatch": ("状态不一致", "Status mismatch"),
    "refund_not_stopped": ("退款未拦截", "Refund not stopped"),
    "ghost_shipment": ("虚假发货", "Ghost shipment"),
    "tracking_reused": ("运单号重复使用", "Tracking number reused"),
    "unshipped_timeout": ("超时未发货", "Unshipped timeout"),
    "stuck_order": ("订单卡单", "Stuck order"),
    "delivery_stalled": ("物流停滞", "Delivery stalled"),
    "amount_mismatch": ("金额不一致", "Amount mismatch"),
    "item_mismatch": ("商品不一致", "Item mismatch"),
    "address_mismatch": ("地址不一致", "Address mismatch"),
    "address_invalid": ("地址无效", "Invalid address"),
    "frequent_changes": ("频繁修改", "Frequent changes"),
    "duplicate_shipment": ("重复发货", "Duplicate shipment"),
}

SEVERITY_NAMES: dict[str, tuple[str, str]] = {
    "critical": ("严重", "critical"),
    "high": ("高", "high"),
    "medium": ("中", "medium"),
    "low": ("低", "low"),
}

STATE_NAMES: dict[str, tuple[str, str]] = {
    "open": ("待处理", "open"),
    "acknowledged": ("已确认", "acknowledged"),
    "resolved": ("已解决", "resolved"),
}

STATUS_NAMES: dict[str, tuple[str, str]] = {
    "pending_payment": ("待付款", "pending payment"),
    "paid": ("已付款", "paid"),
    "on_hold": ("挂起", "on hold"),
    "processing": ("处理中", "processing"),
    "shipped": ("已发货", "shipped"),
    "delivered": ("已签收", "delivered"),
    "cancelled": ("已取消", "cancelled"),
    "refund_requested": ("退款中", "refund requested"),
    "refunded": ("已退款", "refunded"),
    # tracking statuses
    "no_record": ("无记录", "no record"),
    "picked_up": ("已揽收", "picked up"),
    "in_transit": ("运输中", "in transit"),
    "exception": ("异常", "exception"),
    "returned": ("已退回", "returned"),
}

SOURCE_KIND_NAMES: dict[str, tuple[str, str]] = {
    "channel": ("渠道", "Channel"),
    "oms": ("OMS", "OMS"),
    "warehouse": ("仓库", "Warehouse"),
    "carrier": ("快递", "Courier"),
}

# Action codes the engine puts in a finding's `action` column (src/ordersync/engine/rules/).
# A code this table does not know falls back to the rule's default below, then to the code.
ACTIONS: dict[str, tuple[str, str]] = {
    "push_to_oms": ("在OMS中补推或补录该订单", "Push the order to the OMS again"),
    "push_to_warehouse": ("向仓库补推该订单", "Push the order to the warehouse again"),
    "check_orphan": (
        "核实该单据来源：补齐渠道订单或作废该单据",
        "Find where the record came from: add the channel order or void the record",
    ),
    "resync_payment": ("在OMS中重新同步付款状态", "Resync the payment status into the OMS"),
    "upload_tracking": (
        "在渠道后台上传运单号并确认发货",
        "Upload the tracking number to the channel and confirm shipment",
    ),
    "intercept_shipment": (
        "立即拦截包裹（联系仓库/快递），已发出的办理退回或改址",
        "Intercept the parcel now (warehouse/courier); recall or redirect it if it left",
    ),
    "check_with_courier": (
        "向快递/仓库核实揽收；无揽收则补发或更正运单号",
        "Ask the courier/warehouse about pickup; re-ship or correct the tracking number",
    ),
    "ship_now": (
        "尽快安排发货，必要时联系买家说明",
        "Ship as soon as possible; tell the buyer if it will be late",
    ),
    "release_hold": (
        "审核并释放挂起的订单，指定负责人",
        "Review and release the held order; name an owner",
    ),
    "chase_courier": ("联系快递查询物流停滞原因", "Ask the courier why the parcel stopped moving"),
    "fix_amount": (
        "核对金额，更正OMS/仓库中的金额",
        "Check the amount and correct it in the OMS/warehouse",
    ),
    "fix_items": (
        "核对商品明细，补发或更正",
        "Check the line items; send what is missing or correct the record",
    ),
    "fix_address": (
        "按买家最新地址更正面单/仓库地址",
        "Correct the label/warehouse address to the buyer's latest one",
    ),
    "contact_buyer": (
        "联系买家确认收货地址和电话",
        "Contact the buyer to confirm the address and phone",
    ),
    "review_order": (
        "人工复核该订单在各系统中的状态",
        "Review the order by hand across the systems",
    ),
    "recall_duplicate": ("拦截或追回重复发出的包裹", "Intercept or recover the duplicate parcel"),
}

RULE_DEFAULT_ACTION: dict[str, str] = {
    "missing_order": "push_to_oms",
    "orphan_order": "check_orphan",
    "status_mismatch": "review_order",
    "refund_not_stopped": "intercept_shipment",
    "ghost_shipment": "check_with_courier",
    "tracking_reused": "review_order",
    "unshipped_timeout": "ship_now",
    "stuck_order": "release_hold",
    "delivery_stalled": "chase_courier",
    "amount_mismatch": "fix_amount",
    "item_mismatch": "fix_items",
    "address_mismatch": "intercept_shipment",
    "address_invalid": "contact_buyer",
    "frequent_changes": "review_order",
    "duplicate_shipment": "recall_duplicate",
}

# status_mismatch's detail says which of its three cases fired (docs/RULES.md).
STATUS_MISMATCH_ACTION = {
    "oms_unpaid": "resync_payment",
    "channel_shipped_wh_not": "review_order",
    "wh_shipped_channel_not": "upload_tracking",
}

HEADERS: dict[str, tuple[str, str]] = {
    schema.FINDING_ID: ("问题编号", "Finding ID"),
    schema.RULE: ("规则", "Rule"),
    schema.SEVERITY: ("严重程度", "Severity"),
    schema.STATE: ("状态", "State"),
    schema.ORDER_ID: ("订单号", "Order ID"),
    schema.CHANNEL: ("渠道", "Channel"),
    schema.SOURCES: ("涉及来源", "Sources"),
    schema.DETAIL: ("细节", "Detail"),
    "message": ("说明", "Message"),
    schema.ACTION: ("建议操作", "Suggested action"),
    schema.AMOUNT: ("金额", "Amount"),
    schema.FIRST_SEEN: ("首次发现", "First seen"),
    schema.LAST_SEEN: ("最近发现", "Last seen"),
    schema.RESOLVED_AT: ("解决时间", "Resolved at"),
    schema.ACK_NOTE: ("确认备注", "Ack note"),
    "age_days": ("已持续(天)", "Age (days)"),
    "facts": ("判定依据", "Facts"),
    # evidence fields
    schema.STATUS: ("状态", "status"),
    schema.RAW_STATUS: ("原始状态", "raw status"),
    schema.CREATED_AT: ("下单时间", "created at"),
    schema.PAID_AT: ("付款时间", "paid at"),
    schema.SHIPPED_AT: ("发货时间", "shipped at"),
    schema.DELIVERED_AT: ("签收时间", "delivered at"),
    schema.UPDATED_AT: ("更新时间", "updated at"),
    schema.TRACKING_NO: ("运单号", "tracking no"),
    schema.CARRIER: ("快递公司", "carrier"),
    schema.SHIPMENT_ID: ("包裹号", "shipment id"),
    schema.RECEIVER_NAME: ("收件人", "receiver"),
    schema.RECEIVER_PHONE: ("电话", "phone"),
    schema.ADDRESS: ("地址", "address"),
    schema.ITEMS: ("商品", "items"),
    schema.TRACKING_STATUS: ("物流状态", "tracking status"),
    schema.FIRST_SCAN_AT: ("揽收时间", "first scan"),
    schema.LAST_EVENT_AT: ("最后轨迹时间", "last event"),
    "amount_field": ("金额", "amount"),
}

TEXT: dict[str, tuple[str, str]] = {
    "summary_sheet": ("汇总", "Summary"),
    "resolved_sheet": ("已解决", "Resolved"),
    "title": ("订单对账报告", "Order reconciliation report"),
    "run_id": ("运行编号", "Run"),
    "as_of": ("判定时间", "As of"),
    "started_at": ("开始时间", "Started at"),
    "timezone": ("时区", "Time zone"),
    "orders_checked": ("已核对订单", "Orders checked"),
    "source": ("来源", "Source"),
    "source_kind": ("类型", "Kind"),
    "orders": ("订单数", "Orders"),
    "total": ("合计", "Total"),
    "by_rule": ("各规则问题数（待处理+已确认）", "Findings by rule (open + acknowledged)"),
    "of_which_acked": ("其中已确认", "of which acknowledged"),
    "money_at_risk": ("风险金额", "Money at risk"),
    "since_previous": ("与上次运行相比", "Since the previous run"),
    "new": ("新增", "New"),
    "still_open": ("仍未解决", "Still open"),
    "resolved": ("已解决", "Resolved"),
    "trend": ("趋势（最近运行）", "Trend (recent runs)"),
    "open_critical": ("待处理·严重", "Open critical"),
    "open_high": ("待处理·高", "Open high"),
    "open_medium": ("待处理·中", "Open medium"),
    "open_low": ("待处理·低", "Open low"),
    "not_checked": ("未检查项及原因", "Not checked, and why"),
    "scope": ("范围", "Scope"),
    "reason": ("原因", "Reason"),
    "none": ("无", "none"),
    "sheets": ("明细工作表", "Detail sheets"),
    "rows": ("行数", "Rows"),
    "chart_trend": ("待处理问题趋势", "Open findings over runs"),
    "chart_rules": ("各规则问题数", "Findings by rule"),
    "masked_note": (
        "个人信息已脱敏；使用 --no-mask 显示完整信息",
        "Personal data is masked; use --no-mask to show it in full",
    ),
    "time_note": ("所有时间均为 {tz} 时间", "All times are in {tz}"),
    "digest_title": ("订单对账 {as_of}", "Order reconciliation {as_of}"),
    "digest_new": ("新增严重/高风险问题", "New critical/high findings"),
    "digest_nothing_new": ("没有新增严重/高风险问题", "No new critical/high findings"),
    "digest_open": ("当前待处理", "Open now"),
    "n_orders": ("{n} 单", "{n} orders"),
    "digest_more": ("另有 {n} 单", "and {n} more"),
    "digest_workbook": ("完整报告", "Full report"),
    "digest_truncated": ("（内容过长已截断，详见完整报告）", "(cut short; see the full report)"),
}

CARRIER_NAMES: dict[str, tuple[str, str]] = {
    "zto": ("中通快递", "ZTO Express"),
    "yto": ("圆通速递", "YTO Express"),
    "sto": ("申通快递", "STO Express"),
    "yunda": ("韵达快递", "Yunda Express"),
    "sf": ("顺丰速运", "SF Express"),
    "jd": ("京东物流", "JD Logistics"),
    "ems": ("EMS", "EMS"),
    "youzheng": ("邮政快递包裹", "China Post"),
    "jt": ("极兔速递", "J&T Express"),
    "best": ("百世快递", "Best Express"),
    "dbl": ("德邦快递", "Deppon Express"),
    "zjs": ("宅急送", "ZJS Express"),
    "cainiao": ("菜鸟速递", "Cainiao"),
    "ups": ("UPS", "UPS"),
    "fedex": ("FedEx", "FedEx"),
    "dhl": ("DHL", "DHL"),
    "usps": ("USPS", "USPS"),
}


def _pick(pair: tuple[str, str], lang: Lang) -> str:
    return pair[0] if lang == "zh" else pair[1]


def rule_name(rule: str, lang: Lang) -> str:
    pair = RULE_NAMES.get(rule)
    return _pick(pair, lang) if pair else rule


def severity_name(severity: str, lang: Lang) -> str:
    pair = SEVERITY_NAMES.get(severity)
    return _pick(pair, lang) if pair else severity


def state_name(state: str, lang: Lang) -> str:
    pair = STATE_NAMES.get(state)
    return _pick(pair, lang) if pair else state


def status_name(status: str, lang: Lang) -> str:
    pair = STATUS_NAMES.get(status)
    return _pick(pair, lang) if pair else status


def kind_name(kind: str, lang: Lang) -> str:
    pair = SOURCE_KIND_NAMES.get(kind)
    return _pick(pair, lang) if pair else kind


def header(key: str, lang: Lang) -> str:
    pair = HEADERS.get(key)
    return _pick(pair, lang) if pair else key


def text(key: str, lang: Lang, **values: object) -> str:
    return _pick(TEXT[key], lang).format(**values)


def carrier_name(code: str | None, lang: Lang) -> str:
    """The name a person (and a channel's bulk-ship template) uses for a carrier code."""
    if not code:
        return ""
    pair = CARRIER_NAMES.get(code.lower())
    return _pick(pair, lang) if pair else code


def action_code(rule: str, detail: str | None, action: str | None) -> str:
    """The action to show: the engine's code when known, else the rule's default."""
    if action and action in ACTIONS:
        return action
    if rule == "status_mismatch" and detail:
        case = detail.split(":", 1)[0]
        if case in STATUS_MISMATCH_ACTION:
            return STATUS_MISMATCH_ACTION[case]
    return RULE_DEFAULT_ACTION.get(rule, action or "")


def action_text(rule: str, detail: str | None, action: str | None, lang: Lang) -> str:
    code = action_code(rule, detail, action)
    pair = ACTIONS.get(code)
    if pair:
        return _pick(pair, lang)
    # An action the engine wrote as free text is shown as it is.
    return action or ""


def check_lang(lang: str) -> Lang:
    if lang not in LANGS:
        raise UsageError(f"unknown report language {lang!r}; expected one of {list(LANGS)}")
    return lang  # type: ignore[return-value]
