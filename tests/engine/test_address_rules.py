"""address_mismatch and address_invalid, from docs/RULES.md."""

from __future__ import annotations

from engine_world import fired, judge, make_config, row

HZ = "浙江省杭州市西湖区文三路123号"


def test_label_address_differs_from_changed_channel_address():
    orders = [
        row("tb", "1", status="paid", address="浙江省杭州市西湖区文三路999号"),
        row("wms", "1", shipment_id="P", status="processing", address=HZ),
    ]
    hits, _ = judge(orders, rules=["address_mismatch"])
    assert fired(hits) == {("address_mismatch", "1", "wms")}


def test_same_address_after_normalisation():
    orders = [
        row(
            "tb",
            "1",
            status="paid",
            province="浙江省",
            city="杭州市",
            district="西湖区",
            address="文三路123号",
        ),
        row(
            "wms",
            "1",
            shipment_id="P",
            status="processing",
            address="浙江 杭州市 西湖区 文三路１２３号",
        ),
        row("tb", "2", status="paid", address=HZ),
        row("wms", "2", shipment_id="P", status="processing"),  # no label address: not compared
    ]
    hits, not_checked = judge(orders, rules=["address_mismatch"])
    assert hits.is_empty()
    assert [(n.scope, n.orders) for n in not_checked] == [("source=wms", 1)]


def test_one_line_address_against_split_columns():
    """A platform's one-line address and a warehouse's four columns that read the same are the
    same address; a label that differs in any one column is not."""
    split = {"province": "浙江省", "city": "杭州市", "district": "西湖区"}
    orders = [
        row("tb", "same", status="paid", address="浙江省 杭州市\u3000西湖区 文三路123号"),
        row("wms", "same", shipment_id="P", status="processing", address="文三路123号", **split),
        row("tb", "district", status="paid", address="文三路123号", **split),
        row(
            "wms",
            "district",
            shipment_id="P",
            status="processing",
            address="文三路123号",
            **(split | {"district": "拱墅区"}),
        ),
        row("tb", "street", status="paid", province="浙江省", address="杭州市西湖区文三路123号"),
        row("wms", "street", shipment_id="P", status="processing", address="文三路12号", **split),
    ]
    hits, _ = judge(orders, rules=["address_mismatch"])
    assert fired(hits) == {
        ("address_mismatch", "district", "wms"),
        ("address_mismatch", "street", "wms"),
    }


def test_address_invalid_problems():
    orders = [
        row("tb", "ok", status="paid", address=HZ, receiver_phone="13812345678"),
        row("tb", "masked", status="paid", address=HZ, receiver_phone="138****5678"),
        row("tb", "phone", status="paid", address=HZ, receiver_phone="12345"),
        row("tb", "noprov", status="paid", address="文三路123号", receiver_phone="13812345678"),
        row("tb", "xj", status="paid", address="新疆维吾尔自治区乌鲁木齐市天山区解放路1号"),
    ]
    hits, _ = judge(
        orders, rules=["address_invalid"], config=make_config(no_delivery_regions=["新疆"])
    )
    got = fired(hits)
    assert ("address_invalid", "phone", "bad_phone") in got
    assert ("address_invalid", "noprov", "missing_province") in got
    assert ("address_invalid", "xj", "no_delivery_region") in got
    assert not {o for _, o, _ in got} & {"ok", "masked"}
