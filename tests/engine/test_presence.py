"""missing_order and orphan_order, from docs/RULES.md."""

from __future__ import annotations

from engine_world import ago, fired, judge, row


def test_missing_from_oms_and_warehouse_each_checked():
    orders = [
        row("tb", "1", status="paid", paid_at=ago(hours=3)),
        row("oms", "2", status="paid"),
        row("tb", "2", status="paid", paid_at=ago(hours=3)),
        row("wms", "3", shipment_id="P", status="processing"),
    ]
    hits, _ = judge(orders, rules=["missing_order"])
    # 1 is in neither; the OMS has not got it, so the warehouse is not asked about it.
    # 2 was released by the OMS and the warehouse lacks it.
    assert fired(hits) == {("missing_order", "1", "oms"), ("missing_order", "2", "wms")}


def test_missing_order_respects_grace_dead_and_unpaid():
    orders = [
        row("tb", "young", status="paid", paid_at=ago(hours=1)),
        row("tb", "dead", status="refunded", paid_at=ago(days=2)),
        row("tb", "unpaid", status="pending_payment", created_at=ago(days=2)),
        row("oms", "x", status="paid"),
    ]
    hits, _ = judge(orders, rules=["missing_order"])
    assert fired(hits) == set()


def test_warehouse_not_asked_about_orders_held_in_oms():
    orders = [
        row("tb", "1", status="paid", paid_at=ago(hours=5)),
        row("oms", "1", status="on_hold"),
        row("wms", "other", shipment_id="P", status="processing"),
    ]
    hits, _ = judge(orders, rules=["missing_order"])
    assert fired(hits) == set()


def test_delivered_before_warehouse_coverage_is_not_checked():
    orders = [
        row("tb", "old", status="delivered", paid_at=ago(days=40), delivered_at=ago(days=35)),
        row("oms", "old", status="delivered"),
        row("wms", "new", shipment_id="P", created_at=ago(days=10), status="shipped"),
        row("tb", "new", status="shipped", paid_at=ago(days=10)),
        row("oms", "new", status="shipped"),
    ]
    hits, not_checked = judge(orders, rules=["missing_order"])
    assert fired(hits) == set()
    assert [(n.rule, n.scope, n.orders) for n in not_checked] == [
        ("missing_order", "source=wms", 1)
    ]


def test_no_oms_source_is_reported_not_checked():
    hits, not_checked = judge(
        [row("tb", "1", status="paid", paid_at=ago(days=1))], rules=["missing_order"]
    )
    assert hits.is_empty()
    assert {n.scope for n in not_checked} == {"kind=oms", "kind=warehouse"}


def test_orphan_inside_channel_coverage_fires():
    orders = [
        row("tb", "a", status="paid", created_at=ago(days=10)),
        row("tb", "b", status="paid", created_at=ago(days=1)),
        row("wms", "ghost", shipment_id="P", status="shipped", shipped_at=ago(days=3)),
        row("wms", "ghost", shipment_id="Q", status="shipped", shipped_at=ago(days=3)),
        row("oms", "a", status="paid", created_at=ago(days=10)),
    ]
    hits, _ = judge(orders, rules=["orphan_order"])
    assert fired(hits) == {("orphan_order", "ghost", "wms")}


def test_orphan_outside_coverage_is_not_checked():
    orders = [
        row("tb", "a", status="paid", created_at=ago(days=10)),
        row("tb", "b", status="paid", created_at=ago(days=1)),
        row("oms", "old", status="paid", created_at=ago(days=30)),
        row("oms", "undated", status="paid"),
    ]
    hits, not_checked = judge(orders, rules=["orphan_order"])
    assert hits.is_empty()
    assert [(n.scope, n.orders) for n in not_checked] == [("source=oms", 2)]


def test_orphan_only_against_its_own_channel():
    orders = [
        row("tb", "a", status="paid", created_at=ago(days=10)),
        row("tb", "b", status="paid", created_at=ago(days=1)),
        # dated inside taobao's period but it says it is a pdd order, and pdd has no data there
        row("oms", "p1", channel="pdd", status="paid", created_at=ago(days=5)),
        row("oms", "t1", channel="taobao", status="paid", created_at=ago(days=5)),
    ]
    hits, not_checked = judge(orders, rules=["orphan_order"])
    assert fired(hits) == {("orphan_order", "t1", "oms")}
    assert [(n.scope, n.orders) for n in not_checked] == [("source=oms", 1)]


def test_id_known_to_any_channel_is_no_orphan():
    orders = [
        row("tb", "a", status="paid", created_at=ago(days=10)),
        row("pdd", "b", status="paid", created_at=ago(days=1)),
        row("oms", "b", channel="taobao", status="paid", created_at=ago(days=1)),
    ]
    hits, _ = judge(orders, rules=["orphan_order"])
    assert hits.is_empty()
