"""The audit workbook, read back with openpyxl and fastexcel (never compared byte for byte)."""

from __future__ import annotations

import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import fastexcel
import openpyxl
import polars as pl
import pytest
import xlsxwriter

from ordersync import schema
from ordersync.errors import UsageError
from ordersync.findings import ReconcileResult
from ordersync.reports import write_workbook
from ordersync.reports.labels import rule_name

from .conftest import AS_OF, FORMULA_ADDRESS, build_result, finding

TZ = "Asia/Shanghai"


def _rows(path: Path, sheet: str) -> list[dict[str, object]]:
    ws = openpyxl.load_workbook(path)[sheet]
    values = list(ws.iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def _column(row: dict[str, object], prefix: str) -> object:
    matches = [k for k in row if str(k).startswith(prefix)]
    assert len(matches) == 1, (prefix, list(row))
    return row[matches[0]]


@pytest.fixture
def zh_book(tmp_path: Path, result: ReconcileResult, runs: pl.DataFrame) -> Path:
    return write_workbook(result, tmp_path / "report.xlsx", runs=runs, timezone=TZ)


def test_sheet_names_in_both_languages(tmp_path: Path, result: ReconcileResult) -> None:
    zh = write_workbook(result, tmp_path / "zh.xlsx", lang="zh")
    en = write_workbook(result, tmp_path / "en.xlsx", lang="en")
    expected_rules = [
        "status_mismatch",
        "refund_not_stopped",
        "ghost_shipment",
        "stuck_order",
        "address_mismatch",
        "address_invalid",
    ]
    assert fastexcel.read_excel(zh).sheet_names == [
        "汇总",
        *[rule_name(r, "zh") for r in expected_rules],
        "已解决",
    ]
    assert openpyxl.load_workbook(en).sheetnames == [
        "Summary",
        *[rule_name(r, "en") for r in expected_rules],
        "Resolved",
    ]


def test_rule_sheet_values_equal_the_findings(zh_book: Path, result: ReconcileResult) -> None:
    rows = _rows(zh_book, "状态不一致")
    # open first (severity, then oldest first), acknowledged last
    assert [r["问题编号"] for r in rows] == ["f-sm-tb", "f-sm-pdd", "f-sm-douyin", "f-sm-shopify"]
    by_id = {r["问题编号"]: r for r in rows}
    upload = by_id["f-sm-tb"]
    assert upload["订单号"] == "3456789012345678999"
    assert upload["严重程度"] == "高"
    assert upload["状态"] == "待处理"
    assert upload["建议操作"] == "在渠道后台上传运单号并确认发货"
    assert upload["渠道状态"] == "已付款"
    assert upload["仓库状态"] == "已发货"
    assert upload["仓库运单号"] == "ZT3003"
    assert by_id["f-sm-shopify"]["状态"] == "已确认"
    assert by_id["f-sm-shopify"]["确认备注"] == "已联系仓库"
    assert by_id["f-sm-douyin"]["OMS状态"] == "待付款"
    assert by_id["f-sm-douyin"]["建议操作"] == "在OMS中重新同步付款状态"

    # fastexcel sees the same cells; long order ids stay text
    sheet = fastexcel.read_excel(zh_book).load_sheet_by_name("状态不一致").to_polars()
    assert sheet["订单号"].dtype == pl.String
    assert sheet["订单号"].to_list() == [r["订单号"] for r in rows]


def test_every_active_finding_is_listed_once(zh_book: Path, result: ReconcileResult) -> None:
    reader = fastexcel.read_excel(zh_book)
    seen: list[str] = []
    for name in reader.sheet_names[1:]:
        seen += reader.load_sheet_by_name(name).to_polars()["问题编号"].to_list()
    assert sorted(seen) == sorted(result.findings[schema.FINDING_ID].to_list())


def test_dates_are_dates_in_the_labelled_time_zone(zh_book: Path) -> None:
    (row,) = _rows(zh_book, "退款未拦截")
    first_seen = row[f"首次发现 ({TZ})"]
    assert isinstance(first_seen, datetime)
    assert first_seen == (AS_OF + timedelta(hours=8)).replace(tzinfo=None)
    shipped = _column(row, "仓库发货时间")
    assert isinstance(shipped, datetime)
    frame = fastexcel.read_excel(zh_book).load_sheet_by_name("退款未拦截").to_polars()
    assert frame[f"最近发现 ({TZ})"].dtype == pl.Datetime("ms")


def test_personal_data_masked_by_default(zh_book: Path) -> None:
    (row,) = _rows(zh_book, "地址不一致")
    assert row["渠道收件人"] == "欧***"
    assert row["渠道电话"] == "138****5678"
    assert row["渠道地址"] == "北京市朝阳区****"
    assert row["仓库地址"] == "北京市海淀区****"
    assert row["仓库电话"] == "138****5678"


def test_mask_off_shows_everything(tmp_path: Path, result: ReconcileResult) -> None:
    path = write_workbook(result, tmp_path / "full.xlsx", mask=False)
    (row,) = _rows(path, "地址不一致")
    assert row["渠道收件人"] == "欧阳娜娜"
    assert row["渠道电话"] == "+86 138-1234-5678"
    assert row["渠道地址"] == "\t北京市朝阳区建国路88号1号楼"
    assert row["仓库地址"] == "北京市海淀区中关村大街1号"


def test_formula_looking_text_is_stored_as_text(tmp_path: Path, result: ReconcileResult) -> None:
    path = write_workbook(result, tmp_path / "full.xlsx", mask=False)
    wb = openpyxl.load_workbook(path)
    ws = wb["地址无效"]
    header = [c.value for c in ws[1]]
    cells = {header[i]: cell for i, cell in enumerate(ws[2])}
    address = cells["渠道地址"]
    assert address.data_type == "s"
    assert address.value == FORMULA_ADDRESS
    assert cells["渠道收件人"].value == "@SUM(A1)"
    assert cells["渠道收件人"].data_type == "s"
    assert cells["渠道电话"].value == "-1"
    assert cells["渠道电话"].data_type == "s"
    # Excel keeps the text even when someone edits the cell later.
    assert address.quotePrefix
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            assert all(cell.data_type != "f" for cell in row), sheet.title
    with zipfile.ZipFile(path) as archive:
        assert not any(b"<f>" in archive.read(n) for n in archive.namelist() if "worksheets" in n)


def test_summary_has_counts_links_and_charts(zh_book: Path) -> None:
    ws = openpyxl.load_workbook(zh_book)["汇总"]
    cells = {(c.row, c.column): c for row in ws.iter_rows() for c in row}
    values = [c.value for c in cells.values()]
    assert "run-0003" in values
    assert "没有覆盖京东物流的快递数据" in values
    links = {c.value: c.hyperlink.location for c in cells.values() if c.hyperlink}
    assert links["退款未拦截"] == "'退款未拦截'!A1"
    assert links["已解决"] == "'已解决'!A1"
    # The refund row of the rule × severity table: 1 critical, total 1.
    refund_row = next(c.row for c in cells.values() if c.value == "退款未拦截")
    assert [ws.cell(refund_row, col).value for col in range(2, 8)] == [1, 0, 0, 0, 1, 0]
    trend = [c.value for c in cells.values() if c.column == 1 and str(c.value).startswith("run-")]
    assert trend == ["run-0001", "run-0002", "run-0003"]
    with zipfile.ZipFile(zh_book) as archive:
        names = archive.namelist()
        rels = archive.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
        charts = [archive.read(n).decode() for n in names if n.startswith("xl/charts/chart")]
    assert "drawing" in rels
    assert any("<c:barChart>" in c for c in charts)
    assert any("<c:lineChart>" in c for c in charts)


def test_row_limit_continues_on_numbered_sheets(tmp_path: Path) -> None:
    rows = [
        finding(f"g{i}", "ghost_shipment", f"34567890123456780{i:02d}", "taobao",
                first_seen=AS_OF - timedelta(hours=i))
        for i in range(7)
    ]  # fmt: skip
    path = write_workbook(
        build_result(rows), tmp_path / "split.xlsx", lang="en", max_rows_per_sheet=3
    )
    reader = fastexcel.read_excel(path)
    assert reader.sheet_names == [
        "Summary",
        "Ghost shipment",
        "Ghost shipment (2)",
        "Ghost shipment (3)",
    ]
    ids = [
        reader.load_sheet_by_name(name).to_polars()["Finding ID"].to_list()
        for name in reader.sheet_names[1:]
    ]
    assert [len(part) for part in ids] == [3, 3, 1]
    # oldest first across the parts
    assert [i for part in ids for i in part] == [f"g{i}" for i in reversed(range(7))]
    links = {
        c.value: c.hyperlink.location
        for row in openpyxl.load_workbook(path)["Summary"].iter_rows()
        for c in row
        if c.hyperlink
    }
    assert "'Ghost shipment (3)'!A1" in links.values()


def test_no_findings_still_makes_a_summary(tmp_path: Path) -> None:
    path = write_workbook(build_result([]), tmp_path / "empty.xlsx", lang="en")
    assert openpyxl.load_workbook(path).sheetnames == ["Summary"]


def test_bad_arguments_raise_usage_errors(tmp_path: Path, result: ReconcileResult) -> None:
    with pytest.raises(UsageError, match="max_rows_per_sheet"):
        write_workbook(result, tmp_path / "x.xlsx", max_rows_per_sheet=0)
    with pytest.raises(UsageError, match="language"):
        write_workbook(result, tmp_path / "x.xlsx", lang="fr")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="timezone"):
        write_workbook(result, tmp_path / "x.xlsx", timezone="Mars/Olympus")
    with pytest.raises(UsageError, match="cannot write"):
        write_workbook(result, tmp_path)  # a folder, not a file


def test_a_crash_leaves_the_previous_workbook(
    tmp_path: Path, result: ReconcileResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.xlsx"
    target.write_bytes(b"previous")

    def boom(self: xlsxwriter.Workbook) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(xlsxwriter.Workbook, "close", boom)
    with pytest.raises(UsageError, match="disk full"):
        write_workbook(result, target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["report.xlsx"]


def test_formula_looking_text_in_every_text_column_stays_text(tmp_path: Path) -> None:
    risky = ["=1+1", "{=SUM(A1)}", "+1", "-x", "@a", "\tx", "\rx"]
    rows = [
        finding(
            f"r{i}",
            "stuck_order",
            value,
            value,
            detail=value,
            action=value,
            facts={value.strip(): 1},
            state="acknowledged" if i % 2 else "open",
        )
        for i, value in enumerate(risky)
    ]
    for row, value in zip(rows, risky, strict=True):
        row[schema.MESSAGE_ZH] = value
        if row[schema.ACK_NOTE]:
            row[schema.ACK_NOTE] = value
    path = write_workbook(build_result(rows), tmp_path / "risky.xlsx")
    ws = openpyxl.load_workbook(path)[rule_name("stuck_order", "zh")]
    seen = 0
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str) and cell.value in risky:
                assert cell.data_type == "s"
                # "{=" is no formula start for Excel once typed as text; the rest are quoted.
                assert cell.quotePrefix == (not cell.value.startswith("{"))
                seen += 1
    assert seen >= len(risky) * 3
    with zipfile.ZipFile(path) as archive:
        assert not any(b"<f>" in archive.read(n) for n in archive.namelist() if "worksheets" in n)


def test_chunked_rendering_writes_the_same_cells(
    tmp_path: Path, result: ReconcileResult, runs: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are rendered a chunk at a time, one chunk (and one sheet) ahead of the writing:
    chunks of one row, over sheets of two, must give the cells of one chunk per sheet."""
    from ordersync.reports import xlsx

    def cells(path: Path) -> dict[str, list[tuple[object, ...]]]:
        book = openpyxl.load_workbook(path)
        return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}

    whole = write_workbook(result, tmp_path / "whole.xlsx", runs=runs, max_rows_per_sheet=2)
    monkeypatch.setattr(xlsx, "WRITE_CHUNK", 1)
    chunked = write_workbook(result, tmp_path / "chunked.xlsx", runs=runs, max_rows_per_sheet=2)
    expected = cells(whole)
    assert len(expected) > 6  # several rules, parts of a rule, the resolved sheet
    assert cells(chunked) == expected


def test_evidence_the_vectorised_path_leaves_out_is_written_row_by_row(tmp_path: Path) -> None:
    """Two warehouse rows that disagree (a split parcel, one leg cancelled) are rendered by
    CellMaker, not fast_cells; their cells must still reach the sheet, beside the rows of the
    vectorised path."""
    from ordersync.reports.labels import status_name

    split = finding(
        "f-split", "ghost_shipment", "3456789012345678001", "taobao",
        orders=[
            {"source": "taobao", "source_kind": "channel", "status": "shipped"},
            {"source": "wms_a", "source_kind": "warehouse", "status": "shipped"},
            {"source": "wms_b", "source_kind": "warehouse", "status": "cancelled"},
        ],
        facts={"threshold": "24h"},
    )  # fmt: skip
    plain = finding(
        "f-plain", "ghost_shipment", "3456789012345678002", "taobao",
        orders=[
            {"source": "taobao", "source_kind": "channel", "status": "shipped"},
            {"source": "wms_a", "source_kind": "warehouse", "status": "shipped"},
        ],
        facts={"threshold": "24h"},
    )  # fmt: skip
    path = write_workbook(build_result([split, plain]), tmp_path / "slow.xlsx", lang="en")
    rows = {r["Finding ID"]: r for r in _rows(path, rule_name("ghost_shipment", "en"))}
    shipped, cancelled = status_name("shipped", "en"), status_name("cancelled", "en")
    assert f"wms_a: {shipped}; wms_b: {cancelled}" in rows["f-split"].values()
    assert shipped in rows["f-plain"].values()
    assert "threshold=24h" in rows["f-split"].values()
    assert "threshold=24h" in rows["f-plain"].values()
