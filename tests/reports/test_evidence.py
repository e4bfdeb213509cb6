"""How evidence from several sources of one kind becomes one cell."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl

from ordersync import schema
from ordersync.reports import evidence as ev

DOC = {
    "orders": [
        {"source": "tb", "source_kind": "channel", "status": "paid", "paid_at": "2026-11-20T02:10:00Z"},
        {"source": "wms1", "source_kind": "warehouse", "status": "shipped", "amount": "10",
         "shipped_at": "2026-11-21T00:00:00+00:00", "tracking_no": ["A1"], "carrier": "ZTO"},
        {"source": "wms2", "source_kind": "warehouse", "status": "processing", "amount": "12.5",
         "raw_status": "拣货中", "shipped_at": "2026-11-21T00:00:00.500000+00:00",
         "tracking_no": ["B2", "B3"], "carrier": "zto", "items": [{"sku": "S", "qty": 1}]},
    ],
    "facts": {"threshold": "1h", "ids": [1, 2]},
}  # fmt: skip


def _cell(kind: str, field: str, lang: str = "en") -> object:
    maker = ev.CellMaker(lang, ZoneInfo("Asia/Shanghai"), mask=False)  # type: ignore[arg-type]
    return maker.cell(maker.group(DOC), ev.EvidenceColumn(kind, field))


def test_disagreeing_sources_are_named() -> None:
    assert _cell("warehouse", schema.STATUS) == "wms1: shipped; wms2: processing (拣货中)"
    assert _cell("warehouse", schema.TRACKING_NO) == "wms1: A1; wms2: B2, B3"
    assert _cell("warehouse", schema.AMOUNT) == "wms1: 10.00; wms2: 12.50"


def test_agreeing_sources_give_one_typed_value() -> None:
    # half a second apart: the same minute as shown, so one real date in local time
    assert _cell("warehouse", schema.SHIPPED_AT) == datetime(2026, 11, 21, 8, 0)
    assert _cell("warehouse", schema.CARRIER, "zh") == "中通快递"
    assert _cell("channel", schema.PAID_AT) == datetime(2026, 11, 20, 10, 10)
    assert _cell("warehouse", schema.ITEMS) == "S×1"
    assert _cell("oms", schema.STATUS) is None
    assert ev.facts_text(DOC) == "threshold=1h; ids=[1,2]"


def test_only_columns_with_values_are_kept() -> None:
    evidence = pl.Series([json.dumps(DOC), None, "{}"])
    columns = ev.used_columns("status_mismatch", evidence)
    assert [(c.kind, c.field) for c in columns] == [
        ("channel", schema.STATUS),
        ("warehouse", schema.STATUS),
        ("channel", schema.PAID_AT),
        ("warehouse", schema.SHIPPED_AT),
        ("warehouse", schema.TRACKING_NO),
    ]


def test_unreadable_evidence_keeps_every_column() -> None:
    evidence = pl.Series([json.dumps(DOC), "not json"])
    kinds = ev.kinds_present(evidence)
    assert ev.used_columns("status_mismatch", evidence) == ev.columns_for("status_mismatch", kinds)


def _variants() -> list[str]:
    """Documents covering each converter, masking branch and the odd shapes."""
    base = {
        "source": "tb",
        "source_kind": "channel",
        "status": "shipped",
        "raw_status": "卖家已发货",
        "paid_at": "2026-11-20T02:10:00Z",
        "shipped_at": "2026-11-20T02:10:00.5+05:30",
        "updated_at": "2026-11-20T02:10:00",
        "amount": "59.90",
        "tracking_no": ["ZT1", "ZT2"],
        "carrier": "ZTO",
        "receiver_name": " 欧阳娜娜 ",
        "receiver_phone": "+86 138-1234-5678",
        "address": "浙江省杭州市西湖区文三路1号",
        "items": [{"sku": "A", "qty": 2}, {"qty": 1}],
    }
    changes: list[dict[str, object]] = [
        {},
        {"province": "北京市", "city": "北京市", "district": "朝阳区", "address": "北京市朝阳区x"},
        {"address": "1 Main St, Springfield", "receiver_phone": "010-1234567", "carrier": "??"},
        {"address": "  ", "receiver_name": "A*", "receiver_phone": "12", "status": "odd"},
        {"receiver_name": "=cmd", "address": '=HYPERLINK("x")', "raw_status": "shipped"},
        {"paid_at": "2026-02-30T00:00:00Z", "updated_at": "bad", "amount": "abc"},
        {"amount": 12.5, "shipment_id": 7},  # numbers where text is expected: CellMaker
        {"tracking_no": [], "items": [], "status": "", "receiver_phone": ""},
    ]
    docs = []
    for change in changes:
        doc = {
            "orders": [{**base, **change}, {"source": "wms", "source_kind": "warehouse"}],
            "tracking": [{"source": "k", "tracking_status": "no_record", "last_event_at": None}],
            "facts": {"threshold": "24h", "age_hours": 44.0, "ids": ["a", "b"]},
        }
        docs.append(json.dumps(doc, ensure_ascii=False))
    two = json.loads(docs[0])
    two["orders"].append({"source": "tb2", "source_kind": "channel", "status": "paid"})
    nested = json.loads(docs[0])
    nested["facts"] = {"by": {"x": 1}}
    return [*docs, json.dumps(two), json.dumps(nested), "", "not json", '{"orders": [5]}']


def test_vectorised_cells_equal_the_cell_maker() -> None:
    docs = _variants()
    columns = ev.columns_for("address_mismatch", [*ev.ORDER_KINDS, ev.TRACKING])
    columns += ev.columns_for("refund_not_stopped", ["channel"])
    columns += ev.columns_for("item_mismatch", ["channel"])
    for lang in ("zh", "en"):
        for mask in (True, False):
            frame, slow = ev.fast_cells(pl.Series(docs), columns, lang, "Asia/Shanghai", mask)
            maker = ev.CellMaker(lang, ZoneInfo("Asia/Shanghai"), mask)  # type: ignore[arg-type]
            for doc, got, is_slow in zip(docs, frame.rows(), slow, strict=True):
                if is_slow:
                    assert all(v is None for v in got)
                    continue
                parsed = ev.parse(doc)
                groups = maker.group(parsed)
                want = [maker.cell(groups, c) for c in columns] + [ev.facts_text(parsed)]
                assert list(got) == [None if v == "" else v for v in want], doc
            # The shapes the vectorised path leaves to CellMaker.
            odd = [True, True, False, True, True, False, True, True]
            assert slow.to_list() == [False] * 5 + odd


def test_a_value_in_the_last_document_keeps_its_column_and_null_ones_do_not() -> None:
    """Columns are chosen from every document, not the first chunk: a value that only the
    last one holds (a number, a one-element list) keeps its column; fields that are null,
    "" or [] everywhere do not get one."""
    empty = {"source": "tb", "source_kind": "channel", "status": "paid", "paid_at": None,
             "shipped_at": "", "tracking_no": []}  # fmt: skip
    late = {"source": "wms", "source_kind": "warehouse", "status": "shipped",
            "amount": 12.5, "tracking_no": ["B2"]}  # fmt: skip
    shipped = {**late, "amount": None, "tracking_no": []}
    docs = [json.dumps({"orders": [empty, shipped]})] * (ev.PRESENCE_CHUNK + 3)
    docs.append(json.dumps({"orders": [empty, late]}, separators=(",", ":")))
    columns = ev.used_columns("status_mismatch", pl.Series(docs))
    assert [(c.kind, c.field) for c in columns] == [
        ("channel", schema.STATUS),
        ("warehouse", schema.STATUS),
        ("warehouse", schema.TRACKING_NO),
    ]
    amounts = ev.used_columns("amount_mismatch", pl.Series(docs))
    assert [(c.kind, c.field) for c in amounts] == [
        ("channel", schema.STATUS),
        ("warehouse", schema.STATUS),
        ("warehouse", schema.AMOUNT),
    ]
