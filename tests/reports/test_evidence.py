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
