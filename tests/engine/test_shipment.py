"""ghost_shipment, tracking_reused, duplicate_shipment, delivery_stalled, from docs/RULES.md."""

from __future__ import annotations

import json

from engine_world import ago, fired, judge, row, track

from ordersync.config import config_from_dict

A1 = [{"sku": "A", "qty": 1}]


def test_ghost_no_tracking_anywhere():
    orders = [
        row("tb", "1", status="shipped", shipped_at=ago(hours=30)),
        row("wms", "1", shipment_id="P", status="shipped", shipped_at=ago(hours=30)),
        row("tb", "2", status="shipped", shipped_at=ago(hours=10)),  # within pickup_grace
    ]
    hits, _ = judge(orders, [track("X")], rules=["ghost_shipment"])
    assert fired(hits) == {("ghost_shipment", "1", "no_tracking")}
    assert hits.item(0, "sources").to_list() == ["tb", "wms"]


def test_ghost_unknown_number_and_no_pickup_scan():
    orders = [
        row("tb", "1", status="shipped", shipped_at=ago(hours=30), tracking_no="T1", carrier="zto"),
        row("tb", "2", status="shipped", shipped_at=ago(hours=30), tracking_no="T2", carrier="zto"),
        row("tb", "3", status="shipped", shipped_at=ago(hours=30), tracking_no="T3", carrier="zto"),
    ]
    tracking = [
        track("T2", tracking_status="no_record"),
        track(
            "T3",
            tracking_status="in_transit",
            first_scan_at=ago(hours=28),
            last_event_at=ago(hours=2),
        ),
    ]
    hits, _ = judge(orders, tracking, rules=["ghost_shipment"])
    assert fired(hits) == {("ghost_shipment", "1", "T1"), ("ghost_shipment", "2", "T2")}
    evidence = json.loads(hits.filter(hits["order_id"] == "2").item(0, "evidence"))
    assert evidence["tracking"][0]["tracking_status"] == "no_record"


def test_ghost_only_numbers_of_rows_that_claim_a_parcel_left():
    """A number counts only on a row that says its parcel left long enough ago: not on a
    cancelled warehouse shipment, nor on a parcel still being packed (its label printed), nor
    on one shipped within pickup_grace; the same unscanned number on a claiming row fires."""
    scanned = {"tracking_status": "in_transit", "first_scan_at": ago(hours=28)}
    long_ago = ago(hours=30)

    def parcel(order: str, shipment: str, number: str, status: str = "shipped", **fields):
        return row(
            "wms",
            order,
            shipment_id=shipment,
            status=status,
            tracking_no=number,
            carrier="zto",
            **fields,
        )

    orders = [
        # cancelled after shipping: the warehouse no longer claims the parcel
        row("tb", "cancelled", status="paid"),
        parcel("cancelled", "P", "C1", status="cancelled", shipped_at=long_ago),
        # split: the first parcel left and was scanned, the second is still being packed
        row("tb", "split", status="shipped", shipped_at=long_ago),
        parcel("split", "P", "S1", shipped_at=long_ago),
        parcel("split", "Q", "S2", status="processing"),
        # shipped within pickup_grace: the courier has not had its chance yet
        row(
            "tb",
            "fresh",
            status="shipped",
            shipped_at=ago(hours=2),
            tracking_no="F1",
            carrier="zto",
        ),
        # the same shape as "split", but the second parcel's row says it left
        row("tb", "left", status="shipped", shipped_at=long_ago),
        parcel("left", "P", "L1", shipped_at=long_ago),
        parcel("left", "Q", "L2", shipped_at=long_ago),
    ]
    tracking = [track("S1", **scanned), track("L1", **scanned)]
    hits, _ = judge(orders, tracking, rules=["ghost_shipment"])
    assert fired(hits) == {("ghost_shipment", "left", "L2")}


def test_ghost_uncovered_carrier_is_not_checked():
    orders = [
        row("tb", "1", status="shipped", shipped_at=ago(hours=30), tracking_no="S1", carrier="sf")
    ]
    hits, not_checked = judge(orders, [track("Z9", carrier="zto")], rules=["ghost_shipment"])
    assert hits.is_empty()
    assert [(n.rule, n.scope, n.orders) for n in not_checked] == [
        ("ghost_shipment", "carrier=sf", 1)
    ]


def test_tracking_reused_by_different_receivers():
    orders = [
        row(
            "tb",
            "1",
            status="shipped",
            tracking_no="T",
            receiver_phone="13800000001",
            address="浙江省杭州市西湖区文三路1号",
        ),
        row(
            "tb",
            "2",
            status="shipped",
            tracking_no="T",
            receiver_phone="13900000002",
            address="江苏省南京市鼓楼区中山路2号",
        ),
    ]
    hits, _ = judge(orders, rules=["tracking_reused"])
    assert fired(hits) == {("tracking_reused", "1", "T"), ("tracking_reused", "2", "T")}


def test_merged_shipment_or_same_buyer_is_fine():
    orders = [
        row("tb", "1", status="shipped", tracking_no="M", receiver_phone="13800000001"),
        row("tb", "2", status="shipped", tracking_no="M", receiver_phone="13900000002"),
        row("wms", "1", shipment_id="P", tracking_no="M", merged_with=["1", "2"]),
        row("wms", "2", shipment_id="P", tracking_no="M", merged_with=["1", "2"]),
        # same buyer, two orders packed together without a merge record
        row("tb", "3", status="shipped", tracking_no="S", receiver_phone="138 0000 0003"),
        row("tb", "4", status="shipped", tracking_no="S", receiver_phone="+86 13800000003"),
        # masked phone on one side: fall back to name + address, which agree
        row(
            "tb",
            "5",
            status="shipped",
            tracking_no="K",
            receiver_name="王伟",
            receiver_phone="13800000005",
            address="浙江省杭州市西湖区文三路5号",
        ),
        row(
            "tb",
            "6",
            status="shipped",
            tracking_no="K",
            receiver_name="王伟",
            receiver_phone="138****0005",
            address="浙江杭州西湖区文三路5号",
        ),
    ]
    hits, _ = judge(orders, rules=["tracking_reused"])
    assert hits.is_empty()


def test_duplicate_shipment_beyond_what_was_ordered():
    orders = [
        row("tb", "1", status="paid", items=[{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}]),
        row(
            "wms",
            "1",
            shipment_id="P",
            status="shipped",
            items=[{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}],
        ),
        row("wms", "1", shipment_id="Q", status="shipped", items=[{"sku": "A", "qty": 1}]),
    ]
    hits, _ = judge(orders, rules=["duplicate_shipment", "item_mismatch"])
    # item_mismatch stays quiet when duplicate_shipment fires
    assert fired(hits) == {("duplicate_shipment", "1", "wms")}


def test_declared_split_is_no_duplicate():
    orders = [
        row("tb", "1", status="paid", items=[{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]),
        row("wms", "1", shipment_id="P", status="shipped", items=[{"sku": "A", "qty": 1}]),
        row(
            "wms",
            "1",
            shipment_id="Q",
            status="shipped",
            items=[{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}],
        ),
        # a cancelled re-ship does not count
        row("wms", "1", shipment_id="R", status="cancelled", items=[{"sku": "A", "qty": 2}]),
    ]
    hits, _ = judge(orders, rules=["duplicate_shipment", "item_mismatch"])
    assert hits.is_empty()


def test_duplicate_without_channel_items_same_contents_twice():
    orders = [
        row("tb", "1", status="paid"),
        row("wms", "1", shipment_id="P", status="shipped", items=A1),
        row("wms", "1", shipment_id="Q", status="processing", items=A1),
        row("tb", "2", status="paid"),
        row("wms", "2", shipment_id="P", status="shipped", items=A1),
        row("wms", "2", shipment_id="Q", status="shipped", items=[{"sku": "B", "qty": 1}]),
    ]
    hits, _ = judge(orders, rules=["duplicate_shipment"])
    assert fired(hits) == {("duplicate_shipment", "1", "wms")}


def test_delivery_stalled():
    orders = [
        row("tb", "1", status="shipped", tracking_no="T1"),
        row("tb", "2", status="shipped", tracking_no="T2"),
        row("tb", "3", status="delivered", tracking_no="T3"),
        row("tb", "4", status="shipped", tracking_no="T4"),
        row("tb", "5", status="shipped", tracking_no="T5"),
    ]
    tracking = [
        track(
            "T1",
            tracking_status="in_transit",
            first_scan_at=ago(days=6),
            last_event_at=ago(hours=97),
        ),
        track(
            "T2",
            tracking_status="in_transit",
            first_scan_at=ago(days=6),
            last_event_at=ago(hours=95),
        ),
        track(
            "T3",
            tracking_status="in_transit",
            first_scan_at=ago(days=6),
            last_event_at=ago(hours=97),
        ),
        track("T4", tracking_status="no_record"),  # never picked up: ghost_shipment's business
        track(
            "T5", tracking_status="returned", first_scan_at=ago(days=9), last_event_at=ago(days=5)
        ),
    ]
    hits, _ = judge(orders, tracking, rules=["delivery_stalled"])
    assert fired(hits) == {("delivery_stalled", "1", "T1")}


def test_delivery_stalled_without_carrier_data_is_not_checked():
    orders = [row("tb", "1", status="shipped", tracking_no="T1", carrier="yto")]
    hits, not_checked = judge(orders, rules=["delivery_stalled"])
    assert hits.is_empty()
    assert [(n.scope, n.orders) for n in not_checked] == [("carrier=yto", 1)]


def _carrier_config(covers: list[str]):
    return config_from_dict(
        {
            "sources": [
                {
                    "name": "kd100",
                    "kind": "carrier",
                    "format": "csv",
                    "path": "kd.csv",
                    "columns": {"tracking_no": "单号"},
                    "covers": {"carriers": covers},
                }
            ]
        }
    )


def test_declared_carrier_coverage_vouches_for_missing_numbers():
    orders = [
        row("tb", "1", status="shipped", shipped_at=ago(hours=30), tracking_no="S1", carrier="sf")
    ]
    data = [track("Z1", carrier="zto", tracking_status="delivered", first_scan_at=ago(hours=40))]
    hits, _ = judge(orders, data, rules=["ghost_shipment"], config=_carrier_config(["zto", "sf"]))
    assert fired(hits) == {("ghost_shipment", "1", "S1")}
    # a configured carrier source that has delivered no data vouches for nothing
    hits, not_checked = judge(orders, [], rules=["ghost_shipment"], config=_carrier_config(["sf"]))
    assert hits.is_empty()
    assert [n.scope for n in not_checked] == ["carrier=sf"]
