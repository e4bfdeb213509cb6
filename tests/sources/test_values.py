"""How cell values become canonical values: ids, times, amounts, tracking lists, items."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import polars as pl
import pytest
from conftest import read, write_csv, write_xlsx

from ordersync.errors import InputError

BASIC = {"kind": "oms", "columns": {"order_id": "单号", "paid_at": "时间", "amount": "金额"}}


def test_id_wrappers_are_removed_and_exact_numbers_become_text(tmp_path):
    rows = [
        ["单号", "时间", "金额"],
        ['="3456789012345678902"', None, None],
        ["'3456789012345678903", None, None],
        ["\t3456789012345678904\t", None, None],
        ["  3456789012345678905 ", None, None],
        ["1234567.0", None, None],
    ]
    write_csv(tmp_path / "a.csv", rows)
    result = read(tmp_path, format="csv", path="a.csv", **BASIC)
    assert result.orders["order_id"].to_list() == [
        "3456789012345678902",
        "3456789012345678903",
        "3456789012345678904",
        "3456789012345678905",
        "1234567",
    ]


def test_exact_number_cells_in_xlsx_are_ids_and_text_ids_are_untouched(tmp_path):
    rows = [
        ["单号", "时间", "金额"],
        [1234567, None, 1],
        [1234568.0, None, 1],
        ["3456789012345678902", None, 1],
    ]
    write_xlsx(tmp_path / "a.xlsx", rows)
    result = read(tmp_path, format="xlsx", path="a.xlsx", **BASIC)
    assert result.orders["order_id"].to_list() == ["1234567", "1234568", "3456789012345678902"]


def test_many_text_ids_that_happen_to_equal_a_float_are_not_errors(tmp_path):
    # 3456789012345678848 is exactly a float64; typed as text it is a valid id.
    ids = [str(3456789012345678848 + 512 * i) for i in range(5)]
    write_xlsx(tmp_path / "a.xlsx", [["单号", "时间", "金额"], *[[i, None, 1] for i in ids]])
    result = read(tmp_path, format="xlsx", path="a.xlsx", **BASIC)
    assert result.orders["order_id"].to_list() == ids


def test_timestamps_in_every_supported_shape_end_up_in_utc(tmp_path, utc):
    values = [
        "2026-11-03 14:22:05",
        "2026/11/3 14:22",
        "2026-11-03T14:22:05+08:00",
        "2026-11-03T06:22:05Z",
        "2026-11-03 14:22:05 +0800",
        "2026-11-03",
        "1793687325",
        "1793687325000",
        "",
    ]
    rows = [["单号", "时间", "金额"], *[[f"A{i}", v, "1"] for i, v in enumerate(values)]]
    write_csv(tmp_path / "a.csv", rows)
    result = read(tmp_path, format="csv", path="a.csv", **BASIC)
    assert result.orders.sort("source_row")["paid_at"].to_list() == [
        utc(2026, 11, 3, 6, 22, 5),
        utc(2026, 11, 3, 6, 22),
        utc(2026, 11, 3, 6, 22, 5),
        utc(2026, 11, 3, 6, 22, 5),
        utc(2026, 11, 3, 6, 22, 5),
        utc(2026, 11, 2, 16, 0),
        utc(2026, 11, 3, 6, 28, 45),
        utc(2026, 11, 3, 6, 28, 45),
        None,
    ]


def test_excel_date_cells_are_local_times(tmp_path, utc):
    rows = [["单号", "时间", "金额"], ["A1", dt.datetime(2026, 11, 3, 14, 22, 5), 1]]
    write_xlsx(tmp_path / "a.xlsx", rows)
    result = read(tmp_path, format="xlsx", path="a.xlsx", **BASIC, timezone="Europe/London")
    assert result.orders["paid_at"].to_list() == [utc(2026, 11, 3, 14, 22, 5)]


def test_amounts_with_symbols_and_fen(tmp_path):
    rows = [
        ["单号", "时间", "金额"],
        ["A1", None, "¥1,299.00"],
        ["A2", None, "1299"],
        ["A3", None, " 0.5 "],
    ]
    write_csv(tmp_path / "a.csv", rows)
    yuan = read(tmp_path, format="csv", path="a.csv", **BASIC)
    assert yuan.orders.sort("source_row")["amount"].to_list() == [
        Decimal("1299.00"),
        Decimal("1299.00"),
        Decimal("0.50"),
    ]
    write_csv(tmp_path / "a.csv", [["单号", "时间", "金额"], ["A1", None, "129900"]])
    fen = read(tmp_path, format="csv", path="a.csv", amount_unit="fen", **BASIC)
    assert fen.orders["amount"].to_list() == [Decimal("1299.00")]


def test_packed_items_column(tmp_path):
    rows = [["单号", "商品"], ["A1", "SKU-A*2;SKU-B×1，SKU-A:3|SKU-C"], ["A2", ""]]
    write_csv(tmp_path / "a.csv", rows)
    result = read(
        tmp_path,
        kind="oms",
        format="csv",
        path="a.csv",
        columns={"order_id": "单号", "items": "商品"},
    )
    items = result.orders.sort("order_id")["items"].to_list()
    assert items == [
        [{"sku": "SKU-A", "qty": 5}, {"sku": "SKU-B", "qty": 1}, {"sku": "SKU-C", "qty": 1}],
        None,
    ]


def test_non_numeric_quantity_names_the_cell(tmp_path):
    rows = [["单号", "SKU", "数量"], ["A1", "S", "2"], ["A1", "T", "两件"]]
    write_csv(tmp_path / "a.csv", rows)
    with pytest.raises(InputError, match=r"row 3, column '数量': '两件' is not a quantity"):
        read(
            tmp_path,
            kind="oms",
            format="csv",
            path="a.csv",
            columns={"order_id": "单号", "item_sku": "SKU", "item_qty": "数量"},
        )


def test_status_list_joins_cells_and_unmapped_is_counted_never_guessed(tmp_path):
    rows = [
        ["单号", "付款", "发货"],
        ["A1", "paid", "fulfilled"],
        ["A2", "paid", ""],
        ["A3", "weird", "x"],
        ["A4", "weird", "x"],
    ]
    write_csv(tmp_path / "a.csv", rows)
    result = read(
        tmp_path, kind="oms", format="csv", path="a.csv",
        columns={"order_id": "单号", "status": ["付款", "发货"]},
        status_map={"paid/fulfilled": "shipped", "paid": "paid"},
    )  # fmt: skip
    orders = result.orders.sort("order_id")
    assert orders["raw_status"].to_list() == ["paid/fulfilled", "paid", "weird/x", "weird/x"]
    assert orders["status"].to_list() == ["shipped", "paid", None, None]
    assert result.unmapped_statuses == {"weird/x": 2}


def test_first_nonempty_header_of_a_list_wins(tmp_path):
    rows = [
        ["单号", "修改后地址", "地址"],
        ["A1", "新地址 1 号", "旧地址"],
        ["A2", "", "旧地址 2 号"],
    ]
    write_csv(tmp_path / "a.csv", rows)
    result = read(
        tmp_path,
        kind="oms",
        format="csv",
        path="a.csv",
        columns={"order_id": "单号", "address": ["修改后地址", "地址"]},
    )
    assert result.orders.sort("order_id")["address"].to_list() == ["新地址 1 号", "旧地址 2 号"]


def test_explicit_header_row_and_utf8_bom(tmp_path):
    content = "说明：本表导出于 2026-11-03\n单号,金额\nA1,3\n"
    (tmp_path / "a.csv").write_bytes(b"\xef\xbb\xbf" + content.encode("utf-8"))
    result = read(
        tmp_path,
        kind="oms",
        format="csv",
        path="a.csv",
        header_row=2,
        columns={"order_id": "单号", "amount": "金额"},
    )
    assert result.orders["order_id"].to_list() == ["A1"]
    assert result.orders["source_row"].to_list() == [3]


def test_parquet_keeps_types_and_checks_float_ids(tmp_path, utc):
    frame = pl.DataFrame(
        {
            "id": [3456789012345678902, 7],
            "paid": [dt.datetime(2026, 11, 3, 6, 22, 5, tzinfo=dt.UTC)] * 2,
            "amt": [12.5, 3.0],
        }
    )
    frame.write_parquet(tmp_path / "a.parquet")
    columns = {"order_id": "id", "paid_at": "paid", "amount": "amt"}
    result = read(tmp_path, kind="oms", format="parquet", path="a.parquet", columns=columns)
    assert result.orders["order_id"].to_list() == ["3456789012345678902", "7"]
    assert result.orders["paid_at"].to_list() == [utc(2026, 11, 3, 6, 22, 5)] * 2
    assert result.orders["amount"].to_list() == [Decimal("12.50"), Decimal("3.00")]

    frame.with_columns(pl.col("id").cast(pl.Float64)).write_parquet(tmp_path / "a.parquet")
    with pytest.raises(InputError, match=r"a.parquet, row 1, column 'id': .* lost digits"):
        read(tmp_path, kind="oms", format="parquet", path="a.parquet", columns=columns)


def test_json_object_with_a_list_inside_and_jsonl(tmp_path, utc):
    document = {
        "total": 2,
        "data": {
            "orders": [{"id": 3456789012345678902, "paid": 1793687325}, {"id": "X-2", "paid": None}]
        },
    }
    (tmp_path / "a.json").write_text(json.dumps(document), encoding="utf-8")
    columns = {"order_id": "id", "paid_at": "paid"}
    result = read(tmp_path, kind="oms", format="json", path="a.json", columns=columns)
    assert result.orders["order_id"].to_list() == ["3456789012345678902", "X-2"]
    assert result.orders["paid_at"].to_list() == [utc(2026, 11, 3, 6, 28, 45), None]

    (tmp_path / "b.jsonl").write_text(
        '{"id": 3.456789012345679e18, "paid": null}\n\n{"id": "ok"}\n', encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"b.jsonl, row 1, column 'id'.*scientific notation"):
        read(tmp_path, kind="oms", format="jsonl", path="b.jsonl", columns=columns)


def test_long_tracking_number_stored_as_a_number_cell_is_an_error(tmp_path):
    rows = [["单号", "运单号"], ["A1", "75312345678901"], ["A2", 7531234567890123456]]
    write_xlsx(tmp_path / "a.xlsx", rows, sheet="发货")
    with pytest.raises(InputError, match=r"sheet '发货', row 3, column '运单号': .* lost digits"):
        read(
            tmp_path,
            kind="oms",
            format="xlsx",
            path="a.xlsx",
            columns={"order_id": "单号", "tracking_no": "运单号"},
        )


def test_preset_column_absent_from_this_export_is_a_note_not_an_error(tmp_path):
    rows = [["订单编号", "订单状态"], ["3456789012345678902", "交易成功"]]
    write_xlsx(tmp_path / "tb.xlsx", rows)
    result = read(tmp_path, preset="taobao_export", path="tb.xlsx")
    assert result.orders["status"].to_list() == ["delivered"]
    assert any("买家实际支付金额" in note and "amount" in note for note in result.notes)


def test_openpyxl_written_workbook_with_title_and_date_cells(tmp_path, utc):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "导出"
    workbook.create_sheet("说明")
    sheet.append(["2026年11月订单报表"])
    sheet.append([])
    sheet.append(["单号", "时间", "金额"])
    sheet.append([1234567, dt.datetime(2026, 11, 3, 14, 22, 5), 12.3])
    sheet.append(["3456789012345678902", dt.date(2026, 11, 4), "8"])
    workbook.save(tmp_path / "a.xlsx")

    result = read(tmp_path, format="xlsx", path="a.xlsx", sheet=1, **BASIC)

    orders = result.orders.sort("source_row")
    assert orders["order_id"].to_list() == ["1234567", "3456789012345678902"]
    assert orders["paid_at"].to_list() == [utc(2026, 11, 3, 6, 22, 5), utc(2026, 11, 3, 16, 0)]
    assert orders["amount"].to_list() == [Decimal("12.30"), Decimal("8.00")]
    assert orders["source_row"].to_list() == [4, 5]


def test_csv_title_line_above_the_header_is_skipped(tmp_path):
    content = "店铺订单导出,,\n导出时间 2026-11-03,,\n单号,时间,金额\nA1,2026-11-03 10:00:00,5\n"
    (tmp_path / "a.csv").write_text(content, encoding="utf-8")
    result = read(tmp_path, format="csv", path="a.csv", **BASIC)
    assert result.orders["order_id"].to_list() == ["A1"]
    assert result.orders["source_row"].to_list() == [4]


def test_events_of_one_parcel_in_two_files_fold_together(tmp_path, utc):
    header = ["运单号", "快递公司", "时间", "状态", "描述"]
    (tmp_path / "ev").mkdir()
    write_csv(
        tmp_path / "ev" / "1.csv", [header, ["T1", "韵达快递", "2026-11-03 10:00:00", "揽收", ""]]
    )
    write_csv(
        tmp_path / "ev" / "2.csv", [header, ["T1", "韵达快递", "2026-11-04 10:00:00", "签收", ""]]
    )
    result = read(tmp_path, preset="kuaidi100_events", path="ev/*.csv")
    row = result.tracking.row(0, named=True)
    assert (row["tracking_status"], row["event_count"], row["carrier"]) == ("delivered", 2, "yunda")
    assert row["first_scan_at"] == utc(2026, 11, 3, 2, 0)
    assert row["delivered_at"] == utc(2026, 11, 4, 2, 0)
