"""Warehouse shipments (merged and split parcels) and courier names."""

from __future__ import annotations

import polars as pl
import pytest
from conftest import make_config, read, write_csv, write_xlsx

from ordersync.config import config_from_dict
from ordersync.errors import InputError
from ordersync.sources import carriers, read_source

WMS_COLUMNS = {
    "order_id": "平台单号",
    "tracking_no": "运单号",
    "carrier": "快递公司",
    "shipped_at": "发货时间",
    "status": "状态",
}
WMS = {
    "kind": "warehouse",
    "format": "csv",
    "path": "wms.csv",
    "columns": WMS_COLUMNS,
    "status_map": {"已发货": "shipped"},
}


def test_merged_and_split_shipments(tmp_path):
    rows = [
        ["平台单号", "运单号", "快递公司", "发货时间", "状态"],
        ["A1,A2", "ZT001", "中通", "2026-11-03 10:00:00", "已发货"],
        ["A3", "ZT002", "中通", "2026-11-03 10:00:00", "已发货"],
        ["A3", "ZT003", "中通", "2026-11-03 11:00:00", "已发货"],
        ["A4", "", "", "", "待发货"],
        ["A4", "", "", "", "待发货"],
    ]
    write_csv(tmp_path / "wms.csv", rows)
    result = read(tmp_path, **WMS)

    orders = result.orders.sort("order_id", "shipment_id")
    assert orders.select("order_id", "shipment_id").rows() == [
        ("A1", "ZT001"),
        ("A2", "ZT001"),
        ("A3", "ZT002"),
        ("A3", "ZT003"),
        ("A4", "A4#1"),
        ("A4", "A4#2"),
    ]
    assert orders["merged_with"].to_list() == [["A1", "A2"], ["A1", "A2"], None, None, None, None]
    assert orders["status"].to_list()[:4] == ["shipped"] * 4
    assert result.unmapped_statuses == {"待发货": 2}
    assert orders["channel"].to_list() == [None] * 6


def test_mapped_shipment_id_and_channel_column(tmp_path):
    rows = [
        ["包裹号", "平台单号", "平台", "运单号"],
        ["P1", "A1", "taobao", "ZT1"],
        ["P2", "A1", "", "ZT2"],
    ]
    write_csv(tmp_path / "wms.csv", rows)
    result = read(
        tmp_path, kind="warehouse", format="csv", path="wms.csv", channel="pdd",
        columns={"order_id": "平台单号", "shipment_id": "包裹号", "channel": "平台", "tracking_no": "运单号"},
    )  # fmt: skip
    orders = result.orders.sort("shipment_id")
    assert orders.select("order_id", "shipment_id", "channel").rows() == [
        ("A1", "P1", "taobao"),
        ("A1", "P2", "pdd"),
    ]


def test_several_files_later_file_wins_and_line_rows_fold(tmp_path):
    (tmp_path / "in").mkdir()
    header = ["平台单号", "状态", "SKU", "数量"]
    write_csv(
        tmp_path / "in" / "2026-11-01.csv",
        [header, ["A1", "待发货", "S1", "1"], ["A1", "待发货", "S2", "2"]],
    )
    write_csv(
        tmp_path / "in" / "2026-11-02.csv",
        [header, ["A1", "已发货", "S1", "1"], ["A1", "已发货", "S1", "1"]],
    )
    result = read(
        tmp_path, kind="oms", format="csv", path="in/*.csv",
        columns={"order_id": "平台单号", "status": "状态", "item_sku": "SKU", "item_qty": "数量"},
        status_map={"待发货": "paid", "已发货": "shipped"},
    )  # fmt: skip
    assert result.orders.height == 1
    row = result.orders.row(0, named=True)
    assert row["status"] == "shipped"
    assert row["items"] == [{"sku": "S1", "qty": 2}]
    assert row["source_file"].endswith("2026-11-02.csv")
    assert result.rows_read == 4
    assert len(result.files) == 2


def test_missing_order_id_on_a_data_row_is_an_error_unless_fill_down(tmp_path):
    rows = [["平台单号", "SKU"], ["A1", "S1"], ["", "S2"]]
    write_xlsx(tmp_path / "wms.xlsx", rows)
    source = {
        "kind": "oms",
        "format": "xlsx",
        "path": "wms.xlsx",
        "columns": {"order_id": "平台单号", "item_sku": "SKU"},
    }
    with pytest.raises(InputError, match=r"row 3, column '平台单号'.*fill_down"):
        read(tmp_path, **source)
    result = read(tmp_path, fill_down=True, **source)
    assert result.orders["items"].to_list() == [[{"sku": "S1", "qty": 1}, {"sku": "S2", "qty": 1}]]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("中通快递", "zto"), ("ZTO Express", "zto"), ("zhongtong", "zto"), ("ZTO", "zto"),
        ("圆通速递", "yto"), ("申通快递", "sto"), ("韵达速递", "yunda"), ("韵达快递", "yunda"),
        ("顺丰速运", "sf"), ("SF Express", "sf"), ("shunfeng", "sf"), ("京东物流", "jd"),
        ("中国邮政", "ems"), ("邮政快递包裹", "ems"), ("EMS", "ems"), ("极兔速递", "jt"),
        ("J&T Express", "jt"), ("JTSD", "jt"), ("jtexpress", "jt"), ("百世快递", "best"),
        ("huitongkuaidi", "best"), ("德邦快递", "deppon"), ("debangwuliu", "deppon"),
        ("丹鸟", "danniao"), ("菜鸟", "cainiao"), (" sf  express ", "sf"), ("中通　快递", "zto"),
    ],
)  # fmt: skip
def test_builtin_carrier_aliases(raw, code):
    codes, unknown = carriers.carrier_codes(pl.Series([raw]), carriers.alias_table())
    assert codes.to_list() == [code]
    assert unknown == {}


def test_unknown_carrier_is_counted_and_config_extends_the_table(tmp_path):
    rows = [
        ["平台单号", "运单号", "快递公司"],
        ["A1", "T1", "火星快递"],
        ["A2", "T2", "火星快递"],
        ["A3", "T3", "木星物流"],
    ]
    write_csv(tmp_path / "wms.csv", rows)
    source = {
        "name": "wms",
        "kind": "warehouse",
        "format": "csv",
        "path": "wms.csv",
        "columns": WMS_COLUMNS,
    }
    source["columns"] = {
        k: v for k, v in WMS_COLUMNS.items() if k in ("order_id", "tracking_no", "carrier")
    }

    plain = config_from_dict({"sources": [source]}, base_dir=tmp_path)
    result = read_source(plain, plain.sources[0])
    assert result.orders["carrier"].to_list() == [None, None, None]
    assert result.unknown_carriers == {"火星快递": 2, "木星物流": 1}

    extended = config_from_dict(
        {
            "carriers": {"火星快递": "mars"},
            "sources": [{**source, "carrier_map": {"木星物流": "jupiter"}}],
        },
        base_dir=tmp_path,
    )
    result = read_source(extended, extended.sources[0])
    assert result.orders.sort("order_id")["carrier"].to_list() == ["mars", "mars", "jupiter"]
    assert result.unknown_carriers == {}


def test_folded_tracking_rows(tmp_path, utc):
    rows = [
        ["单号", "公司", "状态", "揽收时间", "次数"],
        ["T1", "yunda", "运输中", "2026-11-03 10:00:00", "3"],
        ["T2", "EMS", "未揽收", "", "0"],
    ]
    write_csv(tmp_path / "t.csv", rows)
    config, source = make_config(
        tmp_path, kind="carrier", format="csv", path="t.csv",
        columns={"tracking_no": "单号", "carrier": "公司", "tracking_status": "状态", "first_scan_at": "揽收时间", "event_count": "次数"},
        status_map={"运输中": "in_transit", "未揽收": "no_record"},
    )  # fmt: skip
    tracking = read_source(config, source).tracking.sort("tracking_no")
    assert tracking.select("tracking_no", "carrier", "tracking_status", "event_count").rows() == [
        ("T1", "yunda", "in_transit", 3),
        ("T2", "ems", "no_record", 0),
    ]
    assert tracking["first_scan_at"].to_list() == [utc(2026, 11, 3, 2, 0), None]
