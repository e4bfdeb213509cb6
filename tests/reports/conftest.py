"""A hand-built reconcile result for the report tests.

It holds, on purpose:
- refund_not_stopped (critical, open, taobao), new in this run;
- ghost_shipment (critical) on pdd with tracking data (no pickup scan);
- three status_mismatch findings: wh_shipped_channel_not on taobao, pdd and shopify, one
  oms_unpaid on douyin; one of them acknowledged (must stay out of the digest);
- address_invalid whose receiver name is `@SUM(A1)`, phone `-1` and address
  `=HYPERLINK("http://x","y")`; address_mismatch for 欧阳娜娜 (+86 138-1234-5678) whose
  channel address starts with a tab; stuck_order with a detail starting with CR;
- one resolved amount_mismatch (must appear on the resolved sheet only).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest

from ordersync import schema
from ordersync.findings import NotChecked, ReconcileResult

AS_OF = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
FORMULA_ADDRESS = '=HYPERLINK("http://x","y")'


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _order(source: str, kind: str, **fields: object) -> dict[str, object]:
    return {"source": source, "source_kind": kind, **fields}


def finding(
    fid: str,
    rule: str,
    order_id: str,
    channel: str,
    *,
    detail: str = "",
    severity: str | None = None,
    state: str = "open",
    orders: list[dict[str, object]] | None = None,
    tracking: list[dict[str, object]] | None = None,
    facts: dict[str, object] | None = None,
    first_seen: datetime = AS_OF,
    last_seen: datetime = AS_OF,
    amount: str = "59.90",
    action: str | None = None,
) -> dict[str, object]:
    doc = {"orders": orders or [], "tracking": tracking or [], "facts": facts or {}}
    return {
        schema.FINDING_ID: fid,
        schema.RULE: rule,
        schema.SEVERITY: severity or schema.DEFAULT_SEVERITY[rule],
        schema.ORDER_ID: order_id,
        schema.CHANNEL: channel,
        schema.SOURCES: sorted({str(o["source"]) for o in (orders or [])}),
        schema.DETAIL: detail,
        schema.MESSAGE_ZH: f"{rule} 中文说明 {order_id}",
        schema.MESSAGE_EN: f"{rule} message {order_id}",
        schema.EVIDENCE: json.dumps(doc, ensure_ascii=False),
        schema.ACTION: action,
        schema.AMOUNT: Decimal(amount),
        schema.EVIDENCE_HASH: "h" + fid,
        schema.FIRST_SEEN: first_seen,
        schema.LAST_SEEN: last_seen,
        schema.STATE: state,
        schema.RESOLVED_AT: AS_OF if state == "resolved" else None,
        schema.ACK_NOTE: "已联系仓库" if state == "acknowledged" else None,
        schema.ACKED_AT: AS_OF - timedelta(hours=3) if state == "acknowledged" else None,
    }


def build_findings() -> list[dict[str, object]]:
    paid = AS_OF - timedelta(days=3)
    refund_at = AS_OF - timedelta(days=2)
    shipped = AS_OF - timedelta(days=1, hours=20)
    return [
        finding(
            "f-refund-1",
            "refund_not_stopped",
            "3456789012345678902",
            "taobao",
            detail="wms",
            orders=[
                _order(
                    "taobao",
                    "channel",
                    status="refunded",
                    raw_status="退款成功，交易关闭",
                    updated_at=_iso(refund_at),
                    amount="59.90",
                    receiver_name="欧阳娜娜",
                    receiver_phone="+86 138-1234-5678",
                    province="浙江省",
                    city="杭州市",
                    district="西湖区",
                    address="文三路100号",
                ),
                _order(
                    "wms",
                    "warehouse",
                    status="shipped",
                    shipped_at=_iso(shipped),
                    tracking_no=["ZT1001"],
                    carrier="zto",
                    shipment_id="P1",
                ),
            ],
            facts={"refund_at": _iso(refund_at)},
        ),
        finding(
            "f-ghost-1",
            "ghost_shipment",
            "250101-123456789",
            "pdd",
            detail="YT2002",
            orders=[
                _order(
                    "pdd",
                    "channel",
                    status="shipped",
                    shipped_at=_iso(shipped),
                    tracking_no=["YT2002"],
                    carrier="yto",
                ),
            ],
            tracking=[
                {
                    "source": "kuaidi100",
                    "tracking_no": "YT2002",
                    "carrier": "yto",
                    "tracking_status": "no_record",
                    "first_scan_at": None,
                    "last_event_at": None,
                }
            ],
            facts={"threshold": "24h", "age_hours": 44.0},
        ),
        finding(
            "f-sm-tb",
            "status_mismatch",
            "3456789012345678999",
            "taobao",
            detail="wh_shipped_channel_not:wms",
            first_seen=AS_OF - timedelta(days=2),
            orders=[
                _order("taobao", "channel", status="paid", paid_at=_iso(paid)),
                _order(
                    "wms",
                    "warehouse",
                    status="shipped",
                    shipped_at=_iso(shipped),
                    tracking_no=["ZT3003"],
                    carrier="zto",
                ),
            ],
        ),
        finding(
            "f-sm-pdd",
            "status_mismatch",
            "250101-987654321",
            "pdd",
            detail="wh_shipped_channel_not:wms",
            orders=[
                _order("pdd", "channel", status="paid", paid_at=_iso(paid)),
                _order(
                    "wms",
                    "warehouse",
                    status="shipped",
                    shipped_at=_iso(shipped),
                    tracking_no=["SF4004"],
                    carrier="sf",
                ),
            ],
        ),
        finding(
            "f-sm-shopify",
            "status_mismatch",
            "#1001",
            "shopify",
            detail="wh_shipped_channel_not:wms",
            state="acknowledged",
            orders=[
                _order("shopify", "channel", status="paid", paid_at=_iso(paid)),
                _order(
                    "wms",
                    "warehouse",
                    status="shipped",
                    shipped_at=_iso(shipped),
                    tracking_no=["UPS5005"],
                    carrier="ups",
                ),
            ],
        ),
        finding(
            "f-sm-douyin",
            "status_mismatch",
            "4900000000000001",
            "douyin",
            detail="oms_unpaid:oms",
            orders=[
                _order("douyin", "channel", status="paid", paid_at=_iso(paid), amount="120.00"),
                _order("oms", "oms", status="pending_payment", raw_status="待付款"),
            ],
        ),
        finding(
            "f-addr-1",
            "address_invalid",
            "3456789012345670000",
            "taobao",
            detail="bad_phone",
            orders=[
                _order(
                    "taobao",
                    "channel",
                    receiver_name="@SUM(A1)",
                    receiver_phone="-1",
                    address=FORMULA_ADDRESS,
                ),
            ],
        ),
        finding(
            "f-addr-2",
            "address_mismatch",
            "3456789012345670001",
            "taobao",
            detail="wms",
            orders=[
                _order(
                    "taobao",
                    "channel",
                    receiver_name="欧阳娜娜",
                    receiver_phone="+86 138-1234-5678",
                    address="\t北京市朝阳区建国路88号1号楼",
                ),
                _order(
                    "wms",
                    "warehouse",
                    receiver_name="欧阳娜娜",
                    receiver_phone="13812345678",
                    province="北京市",
                    city="北京市",
                    district="海淀区",
                    address="中关村大街1号",
                    tracking_no=["ZT6006"],
                ),
            ],
        ),
        finding(
            "f-stuck-1",
            "stuck_order",
            "3456789012345671111",
            "taobao",
            detail="\roms",
            first_seen=AS_OF - timedelta(days=5),
            orders=[
                _order("oms", "oms", status="on_hold", updated_at=_iso(AS_OF - timedelta(days=5)))
            ],
        ),
        finding(
            "f-amount-old",
            "amount_mismatch",
            "3456789012345672222",
            "taobao",
            detail="oms",
            state="resolved",
            first_seen=AS_OF - timedelta(days=10),
            last_seen=AS_OF - timedelta(days=1),
            orders=[
                _order("taobao", "channel", amount="10.00"),
                _order("oms", "oms", amount="12.00"),
            ],
        ),
    ]


def build_result(rows: list[dict[str, object]] | None = None) -> ReconcileResult:
    frame = pl.DataFrame(
        rows if rows is not None else build_findings(), schema=schema.FINDINGS_SCHEMA
    )
    checked = pl.DataFrame(
        {
            "source": ["taobao", "pdd", "douyin", "shopify", "oms", "wms", "wms"],
            "source_kind": [
                "channel",
                "channel",
                "channel",
                "channel",
                "oms",
                "warehouse",
                "warehouse",
            ],
            "channel": ["taobao", "pdd", "douyin", "shopify", None, "taobao", "pdd"],
            "orders": [1200, 800, 300, 50, 2350, 1500, 790],
        }
    )
    return ReconcileResult(
        run_id="run-0003",
        as_of=AS_OF,
        started_at=AS_OF + timedelta(minutes=1),
        findings=frame,
        orders_checked=checked,
        not_checked=(
            NotChecked(
                "ghost_shipment",
                "carrier=jd",
                "no carrier data covers jd",
                "没有覆盖京东物流的快递数据",
                12,
            ),
        ),
        new=5,
        still_open=2,
        resolved=1,
        money_at_risk=Decimal("239.70"),
        rules_run=schema.RULES,
    )


def build_runs() -> pl.DataFrame:
    rows = []
    for i in range(2):
        at = AS_OF - timedelta(days=2 - i)
        rows.append(
            {
                "run_id": f"run-000{i + 1}",
                "started_at": at,
                "as_of": at,
                "new": 3 + i,
                "still_open": 1 + i,
                "resolved": i,
                "open_critical": 1 + i,
                "open_high": 2,
                "open_medium": 1,
                "open_low": 0,
                "money_at_risk": Decimal("100.00") + i,
                "by_rule": json.dumps({"ghost_shipment": 1}),
                "not_checked": "[]",
            }
        )
    return pl.DataFrame(rows, schema_overrides={"money_at_risk": schema.Money})


@pytest.fixture
def result() -> ReconcileResult:
    return build_result()


@pytest.fixture
def runs() -> pl.DataFrame:
    return build_runs()
