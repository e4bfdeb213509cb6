"""status_mismatch and refund_not_stopped, from docs/RULES.md."""

from __future__ import annotations

from datetime import timedelta

from engine_world import AS_OF, ago, fired, judge, row


def test_paid_on_channel_unpaid_in_oms():
    orders = [
        row("tb", "1", status="paid", paid_at=ago(hours=2)),
        row("oms", "1", status="pending_payment"),
        row("tb", "2", status="paid", paid_at=ago(hours=0.5)),  # within sync_grace
        row("oms", "2", status="pending_payment"),
        row("tb", "3", status="cancelled", paid_at=ago(hours=5)),  # dead: not this rule
        row("oms", "3", status="pending_payment"),
    ]
    hits, _ = judge(orders, rules=["status_mismatch"])
    assert fired(hits) == {("status_mismatch", "1", "oms_unpaid:oms")}


def test_shipped_on_channel_not_in_warehouse():
    orders = [
        row("tb", "1", status="shipped", paid_at=ago(days=2), shipped_at=ago(hours=3)),
        row("wms", "1", shipment_id="P", status="processing"),
        row("tb", "2", status="shipped", paid_at=ago(days=2), shipped_at=ago(hours=3)),
        row("wms", "2", shipment_id="P", status="processing"),
        row("wms", "2", shipment_id="Q", status="shipped", shipped_at=ago(hours=4)),
        # no warehouse row at all: that is missing_order's business
        row("tb", "3", status="shipped", paid_at=ago(days=2), shipped_at=ago(hours=3)),
    ]
    hits, _ = judge(orders, rules=["status_mismatch"])
    assert fired(hits) == {("status_mismatch", "1", "channel_shipped_wh_not:wms")}


def test_shipped_in_warehouse_not_marked_on_channel():
    orders = [
        row("tb", "1", status="paid", paid_at=ago(days=2)),
        row("wms", "1", shipment_id="P", status="shipped", shipped_at=ago(hours=2)),
        row("tb", "2", status="paid", paid_at=ago(days=2)),
        row("wms", "2", shipment_id="P", status="shipped", shipped_at=ago(hours=0.5)),
        row("tb", "3", status="refunded", paid_at=ago(days=2)),
        row("wms", "3", shipment_id="P", status="shipped", shipped_at=ago(hours=5)),
    ]
    hits, _ = judge(orders, rules=["status_mismatch"])
    assert fired(hits) == {("status_mismatch", "1", "wh_shipped_channel_not:wms")}
    assert hits.item(0, "action") == "upload_tracking"


def test_refund_then_still_going_to_ship():
    orders = [
        row("tb", "1", status="refunded", updated_at=ago(hours=5), amount=59.9),
        row("wms", "1", shipment_id="P", status="processing"),
    ]
    hits, _ = judge(orders, rules=["refund_not_stopped"])
    assert fired(hits) == {("refund_not_stopped", "1", "wms")}
    assert hits.item(0, "severity") == "critical"
    assert str(hits.item(0, "amount")) == "59.90"


def test_refund_then_shipped_after_the_refund():
    orders = [
        row("tb", "1", status="cancelled", updated_at=ago(hours=5)),
        row("wms", "1", shipment_id="P", status="shipped", shipped_at=ago(hours=3)),
    ]
    hits, _ = judge(orders, rules=["refund_not_stopped"])
    assert fired(hits) == {("refund_not_stopped", "1", "wms")}


def test_shipped_before_refund_or_intercepted_is_fine():
    orders = [
        row("tb", "1", status="refund_requested", updated_at=ago(hours=5)),
        row("wms", "1", shipment_id="P", status="shipped", shipped_at=ago(hours=8)),
        row("tb", "2", status="refunded", updated_at=ago(hours=5)),
        row("wms", "2", shipment_id="P", status="cancelled", shipped_at=ago(hours=3)),
        row("tb", "3", status="paid", updated_at=ago(hours=5)),
        row("wms", "3", shipment_id="P", status="processing"),
    ]
    hits, _ = judge(orders, rules=["refund_not_stopped"])
    assert hits.is_empty()


def test_refund_moment_from_first_pull_that_saw_it_dead():
    current = [
        row("tb", "1", status="refunded"),
        row("wms", "1", shipment_id="P", status="shipped", shipped_at=ago(hours=10)),
    ]
    history = [
        {**row("tb", "1", status="paid"), "pulled_at": ago(hours=20)},
        {**row("tb", "1", status="refunded"), "pulled_at": ago(hours=12)},
        {**row("tb", "1", status="refunded"), "pulled_at": ago(hours=2)},
        {**current[1], "pulled_at": ago(hours=9)},
    ]
    hits, _ = judge(current, history=history, rules=["refund_not_stopped"])
    assert fired(hits) == {("refund_not_stopped", "1", "wms")}
    # had the refund only been seen after the parcel left, the parcel is a return, not a leak
    history[1]["pulled_at"] = AS_OF - timedelta(hours=8)
    hits, _ = judge(current, history=history, rules=["refund_not_stopped"])
    assert hits.is_empty()
