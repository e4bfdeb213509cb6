"""amount_mismatch and item_mismatch, from docs/RULES.md."""

from __future__ import annotations

from engine_world import fired, judge, make_config, row


def test_amount_differs_beyond_tolerance_per_source():
    orders = [
        row("tb", "1", status="paid", amount=100),
        row("oms", "1", status="paid", amount=90),
        row("wms", "1", shipment_id="P", status="processing", amount=100),
        row("tb", "2", status="paid", amount=100),
        row("oms", "2", status="paid", amount=100.01),  # within 0.01
        row("tb", "3", status="paid", amount=100),
        row("oms", "3", status="paid"),  # no amount: nothing to compare
    ]
    hits, _ = judge(orders, rules=["amount_mismatch"])
    assert fired(hits) == {("amount_mismatch", "1", "oms")}


def test_amount_first_non_null_of_several_rows_and_tolerance_from_config():
    orders = [
        row("tb", "1", status="shipped", amount=50),
        row("wms", "1", shipment_id="A", status="shipped", amount=None),
        row("wms", "1", shipment_id="B", status="shipped", amount=45),
    ]
    hits, _ = judge(orders, rules=["amount_mismatch"])
    assert fired(hits) == {("amount_mismatch", "1", "wms")}
    hits, _ = judge(orders, rules=["amount_mismatch"], config=make_config(amount_tolerance="5"))
    assert hits.is_empty()


def test_items_differ():
    orders = [
        row("tb", "1", status="paid", items=[{"sku": "A", "qty": 2}]),
        row("wms", "1", shipment_id="P", status="processing", items=[{"sku": "B", "qty": 2}]),
    ]
    hits, _ = judge(orders, rules=["item_mismatch"])
    assert fired(hits) == {("item_mismatch", "1", "wms")}


def test_split_parcels_summed_and_line_rows_summed():
    orders = [
        row(
            "tb",
            "1",
            status="paid",
            items=[{"sku": "A", "qty": 1}, {"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}],
        ),
        row("wms", "1", shipment_id="P", status="shipped", items=[{"sku": "A", "qty": 2}]),
        row("wms", "1", shipment_id="Q", status="processing", items=[{"sku": "B", "qty": 1}]),
    ]
    hits, _ = judge(orders, rules=["item_mismatch"])
    assert hits.is_empty()


def test_one_parcel_same_lines_in_another_order_or_another_shape():
    """One parcel: equal lines in any order are silent, lines that add up to the order are
    silent, a quantity or a sku off by one fires, and a parcel listed twice is not one parcel."""
    a1, b1 = {"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}
    orders = [
        row("tb", "1", status="paid", items=[a1, b1]),
        row("wms", "1", shipment_id="P", status="shipped", items=[b1, a1]),
        row("tb", "2", status="paid", items=[{"sku": "A", "qty": 2}]),
        row("wms", "2", shipment_id="P", status="shipped", items=[a1, a1]),
        row("tb", "3", status="paid", items=[a1, b1]),
        row("wms", "3", shipment_id="P", status="shipped", items=[a1, {"sku": "B", "qty": 2}]),
        row("tb", "4", status="paid", items=[a1]),
        row("wms", "4", shipment_id="P", status="shipped", items=[{"sku": "C", "qty": 1}]),
        row("tb", "5", status="paid", items=[a1]),
        row("wms", "5", shipment_id="P", status="shipped", items=[a1]),
        row("wms", "5", shipment_id="P", status="shipped", items=[a1]),
    ]
    hits, _ = judge(orders, rules=["item_mismatch", "duplicate_shipment"])
    assert {(r, o) for r, o, _ in fired(hits)} == {
        ("item_mismatch", "3"),
        ("item_mismatch", "4"),
        ("item_mismatch", "5"),
    }


def test_merged_parcel_lines_per_order_or_per_group():
    per_order = [
        row("tb", "1", status="paid", items=[{"sku": "A", "qty": 1}]),
        row("tb", "2", status="paid", items=[{"sku": "B", "qty": 1}]),
        row("wms", "1", shipment_id="M", items=[{"sku": "A", "qty": 1}], merged_with=["1", "2"]),
        row("wms", "2", shipment_id="M", items=[{"sku": "B", "qty": 1}], merged_with=["1", "2"]),
    ]
    group_level = [
        row("tb", "1", status="paid", items=[{"sku": "A", "qty": 1}]),
        row("tb", "2", status="paid", items=[{"sku": "B", "qty": 1}]),
        row(
            "wms",
            "1",
            shipment_id="M",
            items=[{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}],
            merged_with=["1", "2"],
        ),
        row(
            "wms",
            "2",
            shipment_id="M",
            items=[{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}],
            merged_with=["1", "2"],
        ),
    ]
    # identical lines on both rows, each order wanting the same: per-order reading matches
    same_lines = [
        row("tb", "1", status="paid", items=[{"sku": "A", "qty": 1}]),
        row("tb", "2", status="paid", items=[{"sku": "A", "qty": 1}]),
        row("wms", "1", shipment_id="M", items=[{"sku": "A", "qty": 1}], merged_with=["1", "2"]),
        row("wms", "2", shipment_id="M", items=[{"sku": "A", "qty": 1}], merged_with=["1", "2"]),
    ]
    for world in (per_order, group_level, same_lines):
        hits, _ = judge(world, rules=["item_mismatch", "duplicate_shipment"])
        assert hits.is_empty()
    wrong = [*group_level[:2], *(dict(r, items=[{"sku": "A", "qty": 1}]) for r in group_level[2:])]
    hits, _ = judge(wrong, rules=["item_mismatch"])
    # B was never packed: order 2 is short under either reading; order 1 got its A
    assert fired(hits) == {("item_mismatch", "2", "wms")}


def test_items_not_checked_without_items():
    orders = [
        row("tb", "1", status="paid"),
        row("wms", "1", shipment_id="P", status="processing", items=[{"sku": "A", "qty": 1}]),
        row("tb", "2", status="paid", items=[{"sku": "A", "qty": 1}]),
        row("wms", "2", shipment_id="P", status="processing"),
    ]
    hits, not_checked = judge(orders, rules=["item_mismatch"])
    assert hits.is_empty()
    assert sorted((n.scope, n.orders) for n in not_checked) == [("source=tb", 1), ("source=wms", 1)]


def test_items_of_the_first_channel_source_by_name():
    """With two channel sources, the order's items are those of the first by name (pdd before
    tb) that lists any; the finding names that source."""
    a, b = [{"sku": "A", "qty": 1}], [{"sku": "B", "qty": 1}]
    orders = [
        row("pdd", "1", status="paid", items=b),
        row("tb", "1", status="paid", items=a),
        row("wms", "1", shipment_id="P", status="processing", items=b),
        row("pdd", "2", status="paid", items=a),
        row("tb", "2", status="paid", items=b),
        row("wms", "2", shipment_id="P", status="processing", items=b),
        row("pdd", "3", status="paid"),  # lists no items: tb's count
        row("tb", "3", status="paid", items=a),
        row("wms", "3", shipment_id="P", status="processing", items=a),
    ]
    hits, _ = judge(orders, rules=["item_mismatch"])
    assert fired(hits) == {("item_mismatch", "2", "wms")}
    assert hits.get_column("sources").to_list() == [["pdd", "wms"]]
