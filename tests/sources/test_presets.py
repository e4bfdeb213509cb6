"""Every preset, read from a small file laid out like the platform's real export."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from conftest import read, write_csv, write_xlsx

TAOBAO_HEADER = [
    "订单编号", "订单状态", "买家实际支付金额", "订单创建时间", "订单付款时间", "发货时间",
    "确认收货时间", "订单修改时间", "物流单号", "物流公司", "收货人姓名", "联系手机",
    "收货地址", "修改后的收货地址", "商家编码", "购买数量",
]  # fmt: skip


def test_taobao_line_items_fold_into_one_order_with_exact_ids(tmp_path, utc):
    rows = [
        TAOBAO_HEADER,
        ["3456789012345678902", "卖家已发货，等待买家确认", "¥1,299.00", "2026-11-03 14:22:05",
         dt.datetime(2026, 11, 3, 14, 25), "2026-11-04 09:00:00", None, "2026-11-04 09:00:00",
         "75312345678901", "中通快递", "张三", "13812345678", "浙江省 杭州市 西湖区 文三路 1 号",
         "浙江省 杭州市 西湖区 文三路 99 号", "SKU-A", 2],
        ["3456789012345678902", "卖家已发货，等待买家确认", "¥1,299.00", "2026-11-03 14:22:05",
         dt.datetime(2026, 11, 3, 14, 25), "2026-11-04 09:00:00", None, "2026-11-04 09:00:00",
         "75312345678901", "中通快递", "张三", "13812345678", "浙江省 杭州市 西湖区 文三路 1 号",
         "浙江省 杭州市 西湖区 文三路 99 号", "SKU-B", 1],
        ["3456789012345678903", "交易关闭", "0", "2026-11-03 15:00:00", None, None, None, None,
         None, None, "李四", "13900000000", "上海 上海市 浦东新区 世纪大道 2 号", None, "SKU-A", 1],
    ]  # fmt: skip
    write_xlsx(tmp_path / "taobao.xlsx", rows, title="2026年11月订单报表")
    result = read(tmp_path, preset="taobao_export", path="taobao.xlsx")

    orders = result.orders.sort("order_id")
    assert orders["order_id"].to_list() == ["3456789012345678902", "3456789012345678903"]
    first = orders.row(0, named=True)
    assert first["status"] == "shipped"
    assert first["raw_status"] == "卖家已发货，等待买家确认"
    assert first["amount"] == Decimal("1299.00")
    assert first["created_at"] == utc(2026, 11, 3, 6, 22, 5)  # Asia/Shanghai is UTC+8
    assert first["paid_at"] == utc(2026, 11, 3, 6, 25)  # an Excel date cell
    assert first["tracking_no"] == ["75312345678901"]
    assert first["carrier"] == "zto"
    assert (
        first["address"] == "浙江省 杭州市 西湖区 文三路 99 号"
    )  # the buyer's changed address wins
    assert first["items"] == [{"sku": "SKU-A", "qty": 2}, {"sku": "SKU-B", "qty": 1}]
    assert first["shipment_id"] == ""
    assert first["source_row"] == 3  # title row + header above it
    second = orders.row(1, named=True)
    assert second["status"] == "cancelled"
    assert second["tracking_no"] is None
    assert second["address"] == "上海 上海市 浦东新区 世纪大道 2 号"
    assert result.rows_read == 3
    assert result.unmapped_statuses == {}


def test_pdd_gbk_csv_with_excel_defences_on_ids(tmp_path, utc):
    header = ["订单号", "订单状态", "用户实付金额(元)", "订单成交时间", "支付时间", "发货时间",
              "确认收货时间", "订单更新时间", "快递单号", "快递公司", "收货人", "手机", "省", "市",
              "区", "详细地址", "商家编码-SKU维度", "商品数量(件)"]  # fmt: skip
    rows = [
        header,
        ["231103-123456789012345\t", "已发货，待收货", "59.90", "2026-11-03 10:00:00",
         "2026-11-03 10:01:00", "2026-11-03 18:00:00", None, "2026-11-03 18:00:00",
         '="YT7512345678901"', "圆通速递", "王五", "138****5678", "广东省", "深圳市", "南山区",
         "科技园 1 栋", "PDD-1", "3"],
        ["231103-123456789012346", "未发货，退款成功", "19.00", "2026-11-03 11:00:00",
         "2026-11-03 11:05:00", None, None, "2026-11-03 12:00:00", None, None, "赵六",
         "13700000000", "北京", "北京市", "朝阳区", "建国路 8 号", "PDD-2", "1"],
    ]  # fmt: skip
    write_csv(tmp_path / "pdd.csv", rows, encoding="gbk")
    result = read(tmp_path, preset="pdd_export", path="pdd.csv")

    orders = result.orders.sort("order_id")
    assert orders["order_id"].to_list() == ["231103-123456789012345", "231103-123456789012346"]
    assert orders["status"].to_list() == ["shipped", "refunded"]
    assert orders["tracking_no"].to_list() == [["YT7512345678901"], None]
    assert orders["carrier"].to_list() == ["yto", None]
    assert orders["amount"].to_list() == [Decimal("59.90"), Decimal("19.00")]
    assert orders["province"].to_list() == ["广东省", "北京"]
    assert orders["receiver_name"].to_list() == ["王五", "赵六"]
    assert orders["items"].to_list()[0] == [{"sku": "PDD-1", "qty": 3}]
    assert orders["shipped_at"].to_list()[0] == utc(2026, 11, 3, 10, 0)
    assert orders["channel"].to_list() == ["pdd", "pdd"]


def test_douyin_xlsx_reports_unmapped_status_without_guessing(tmp_path, utc):
    header = ["主订单编号", "订单状态", "订单应付金额", "订单提交时间", "支付完成时间", "发货时间",
              "快递单号", "快递公司", "收件人", "收件人手机号", "省", "市", "区", "详细地址",
              "商家编码", "商品数量"]  # fmt: skip
    rows = [
        header,
        ["6937123456789012345", "已发货", 88.5, dt.datetime(2026, 11, 2, 20, 0),
         dt.datetime(2026, 11, 2, 20, 1), dt.datetime(2026, 11, 3, 9, 30), "SF1234567890123",
         "顺丰速运", "陈七", "150****0000", "四川省", "成都市", "武侯区", "天府大道 5 号", "DY-1", 1],
        ["6937123456789012346", "待审核", 20, dt.datetime(2026, 11, 2, 21, 0), None, None, None,
         None, "周八", "151****0000", "湖北省", "武汉市", "洪山区", "珞喻路 3 号", "DY-2", 2],
    ]  # fmt: skip
    write_xlsx(tmp_path / "douyin.xlsx", rows)
    result = read(tmp_path, preset="douyin_export", path="douyin.xlsx")

    orders = result.orders.sort("order_id")
    assert orders["order_id"].to_list() == ["6937123456789012345", "6937123456789012346"]
    assert orders["status"].to_list() == ["shipped", None]
    assert orders["raw_status"].to_list() == ["已发货", "待审核"]
    assert result.unmapped_statuses == {"待审核": 1}
    assert orders["carrier"].to_list() == ["sf", None]
    assert orders["amount"].to_list() == [Decimal("88.50"), Decimal("20.00")]
    assert orders["shipped_at"].to_list()[0] == utc(2026, 11, 3, 1, 30)


def test_wechat_xlsx_apostrophe_ids_and_several_tracking_numbers(tmp_path):
    header = ["订单号", "订单状态", "实付金额", "下单时间", "支付时间", "快递单号", "快递公司",
              "收件人姓名", "收件人手机", "省份", "城市", "区县", "详细地址", "SKU编码", "商品数量"]  # fmt: skip
    rows = [
        header,
        ["'3712345678901234567", "待收货", "120", "2026-11-01 08:00:00", "2026-11-01 08:00:30",
         "SF100200300; SF100200301", "SF", "吴九", "13600000000", "江苏省", "南京市", "鼓楼区",
         "中山路 1 号", "WX-1", 2],
    ]  # fmt: skip
    write_xlsx(tmp_path / "wechat.xlsx", rows)
    result = read(tmp_path, preset="wechat_export", path="wechat.xlsx")

    row = result.orders.row(0, named=True)
    assert row["order_id"] == "3712345678901234567"
    assert row["status"] == "shipped"
    assert row["tracking_no"] == ["SF100200300", "SF100200301"]
    assert row["carrier"] == "sf"
    assert row["items"] == [{"sku": "WX-1", "qty": 2}]
    assert row["channel"] == "wechat"


SHOPIFY_HEADER = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Currency", "Total", "Lineitem quantity", "Lineitem name", "Lineitem sku", "Created at",
    "Cancelled at", "Shipping Name", "Shipping Street", "Shipping City", "Shipping Province Name",
    "Shipping Phone",
]  # fmt: skip


def test_shopify_line_items_fill_down_and_offsets(tmp_path, utc):
    rows = [
        SHOPIFY_HEADER,
        ["#1001", "a@example.com", "paid", "2026-11-03 14:22:05 +0800", "fulfilled",
         "2026-11-04 10:00:00 +0800", "CNY", "300.00", "2", "Mug", "MUG-1",
         "2026-11-03 14:20:00 +0800", None, "Ann", "1 Main St", "Shanghai", "Shanghai", "+86 138"],
        ["#1001", "a@example.com", None, None, None, None, None, None, "1", "Tea", "TEA-1", None,
         None, None, None, None, None, None],
        ["#1001", "a@example.com", None, None, None, None, None, None, "1", "Mug", "MUG-1", None,
         None, None, None, None, None, None],
        ["#1002", "b@example.com", "pending", None, "unfulfilled", None, "USD", "15.5", "1",
         "Cap", "CAP-1", "2026-11-03 09:00:00 -0500", None, "Bo", "2 Elm", "Boston",
         "Massachusetts", None],
    ]  # fmt: skip
    write_csv(tmp_path / "orders_export.csv", rows)
    result = read(tmp_path, preset="shopify_csv", path="orders_export.csv")

    orders = result.orders.sort("order_id")
    assert orders["order_id"].to_list() == ["#1001", "#1002"]
    first = orders.row(0, named=True)
    assert first["raw_status"] == "paid/fulfilled"
    assert first["status"] == "shipped"
    assert first["paid_at"] == utc(2026, 11, 3, 6, 22, 5)
    assert first["shipped_at"] == utc(2026, 11, 4, 2, 0)
    assert first["amount"] == Decimal("300.00")
    assert first["items"] == [{"sku": "MUG-1", "qty": 3}, {"sku": "TEA-1", "qty": 1}]
    assert first["city"] == "Shanghai"
    second = orders.row(1, named=True)
    assert second["status"] == "pending_payment"
    assert second["created_at"] == utc(2026, 11, 3, 14, 0)
    assert second["paid_at"] is None


def test_woocommerce_capitalised_statuses_and_local_times(tmp_path, utc):
    header = ["Order Number", "Order Status", "Order Date", "Paid Date", "Completed Date",
              "Modified Date", "Order Total", "Tracking Number", "Tracking Provider",
              "Shipping Name", "Billing Phone", "Shipping State", "Shipping City",
              "Shipping Address 1", "SKU", "Quantity"]  # fmt: skip
    rows = [
        header,
        ["5001", "Completed", "2026-10-30 10:00", "2026-11-01 10:05", "2026-11-02 09:00",
         "2026-11-02 09:00", "$1,020.50", "1Z999AA10123456784", "SF Express", "Cy", "555-0100",
         "NY", "New York", "5 Park Ave", "W-1", "1"],
        ["5002", "on-hold", "2026-11-01 11:00", None, None, "2026-11-01 11:00", "10", None, None,
         "Di", "555-0101", "NY", "New York", "6 Park Ave", "W-2", "4"],
    ]  # fmt: skip
    write_csv(tmp_path / "woo.csv", rows)
    result = read(tmp_path, preset="woocommerce_csv", path="woo.csv", timezone="America/New_York")

    orders = result.orders.sort("order_id")
    assert orders["status"].to_list() == ["shipped", "on_hold"]
    assert orders["created_at"].to_list()[0] == utc(2026, 10, 30, 14, 0)  # EDT is UTC-4
    assert orders["amount"].to_list() == [Decimal("1020.50"), Decimal("10.00")]
    assert orders["carrier"].to_list() == ["sf", None]
    assert orders["items"].to_list()[1] == [{"sku": "W-2", "qty": 4}]


def test_kuaidi100_events_fold_per_tracking_number(tmp_path, utc):
    rows = [
        ["运单号", "快递公司", "时间", "状态", "描述"],
        ["75312345678901", "zhongtong", "2026-11-04 20:00:00", "在途", "到达杭州中转"],
        ["75312345678901", "zhongtong", "2026-11-04 09:10:00", "揽收", "快件已揽收"],
        ["75312345678901", "zhongtong", "2026-11-06 15:30:00", "签收", "本人签收"],
        ["75312345678901", "zhongtong", "2026-11-05 08:00:00", "派件", "派送中"],
        ["YT9000000000001", "圆通速递", "2026-11-04 08:00:00", "疑难", "地址不详"],
        ["YT9000000000001", "圆通速递", "2026-11-04 12:00:00", "揽收", "已揽收"],
        ["YT9000000000001", "圆通速递", "2026-11-05 12:00:00", "清关", "清关中"],
        ["X1", "火星快递", "2026-11-04 12:00:00", "揽收", "已揽收"],
    ]
    write_csv(tmp_path / "events.csv", rows)
    result = read(tmp_path, preset="kuaidi100_events", path="events.csv")

    assert result.orders.is_empty()
    tracking = result.tracking.sort("tracking_no")
    zto = tracking.filter(tracking["tracking_no"] == "75312345678901").row(0, named=True)
    assert zto["carrier"] == "zto"
    assert zto["tracking_status"] == "delivered"
    assert zto["first_scan_at"] == utc(2026, 11, 4, 1, 10)
    assert zto["last_event_at"] == utc(2026, 11, 6, 7, 30)
    assert zto["delivered_at"] == utc(2026, 11, 6, 7, 30)
    assert zto["event_count"] == 4
    yto = tracking.filter(tracking["tracking_no"] == "YT9000000000001").row(0, named=True)
    assert yto["carrier"] == "yto"
    assert yto["first_scan_at"] == utc(2026, 11, 4, 4, 0)  # the exception scan is not a pickup
    assert yto["tracking_status"] is None  # latest event "清关" is not in the status_map
    assert result.unmapped_statuses == {"清关": 1}
    assert result.unknown_carriers == {"火星快递": 1}
    assert tracking.filter(tracking["tracking_no"] == "X1")["carrier"].to_list() == [None]
