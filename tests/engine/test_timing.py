"""unshipped_timeout and stuck_order, from docs/RULES.md."""

from __future__ import annotations

from engine_world import ago, fired, judge, make_config, row


def test_unshipped_after_sla():
    orders = [
        row("tb", "late", status="paid", paid_at=ago(hours=49)),
        row("tb", "ontime", status="paid", paid_at=ago(hours=47)),
        row("tb", "held", status="on_hold", paid_at=ago(hours=60)),
        row("tb", "sent", status="shipped", paid_at=ago(hours=60), shipped_at=ago(hours=50)),
        row("tb", "dead", status="cancelled", paid_at=ago(hours=60)),
        # shipped by the warehouse, not marked on the channel: status_mismatch, not this
        row("tb", "whsent", status="paid", paid_at=ago(hours=60)),
        row("wms", "whsent", shipment_id="P", status="shipped", shipped_at=ago(hours=30)),
    ]
    hits, _ = judge(orders, rules=["unshipped_timeout"])
    assert fired(hits) == {("unshipped_timeout", "late", ""), ("unshipped_timeout", "held", "")}


def test_per_channel_sla_override():
    orders = [
        row("tb", "t", status="paid", paid_at=ago(hours=30)),
        row("pdd", "p", status="paid", paid_at=ago(hours=30)),
    ]
    config = make_config(ship_sla={"default": "48h", "pdd": "24h"})
    hits, _ = judge(orders, rules=["unshipped_timeout"], config=config)
    assert fired(hits) == {("unshipped_timeout", "p", "")}


def test_stuck_counted_from_entering_the_status():
    current = [
        row("oms", "1", status="on_hold"),
        row("oms", "2", status="on_hold"),
        row("tb", "3", status="processing", updated_at=ago(days=4)),
    ]
    history = [
        {**row("oms", "1", status="paid"), "pulled_at": ago(days=6)},
        {**row("oms", "1", status="on_hold"), "pulled_at": ago(days=5)},
        {**row("oms", "1", status="on_hold"), "pulled_at": ago(days=1)},
        # held long ago, released, and held again 1 day ago: not stuck
        {**row("oms", "2", status="on_hold"), "pulled_at": ago(days=9)},
        {**row("oms", "2", status="paid"), "pulled_at": ago(days=5)},
        {**row("oms", "2", status="on_hold"), "pulled_at": ago(days=1)},
    ]
    hits, _ = judge(current, history=history, rules=["stuck_order"])
    assert fired(hits) == {("stuck_order", "1", "oms"), ("stuck_order", "3", "tb")}
    actions = dict(hits.select("order_id", "action").iter_rows())
    assert actions == {"1": "release_hold", "3": "review_order"}


def test_source_updated_at_dates_the_status_change():
    current = [row("oms", "1", status="processing", updated_at=ago(hours=10))]
    history = [
        {**row("oms", "1", status="paid", updated_at=ago(days=10)), "pulled_at": ago(days=10)},
        # first pulled in this status long ago, but the source says it changed 10h ago
        {
            **row("oms", "1", status="processing", updated_at=ago(hours=10)),
            "pulled_at": ago(days=9),
        },
    ]
    hits, _ = judge(current, history=history, rules=["stuck_order"])
    assert hits.is_empty()
