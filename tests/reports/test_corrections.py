from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest

from ordersync.errors import UsageError
from ordersync.findings import ReconcileResult
from ordersync.reports import write_corrections
from ordersync.reports.corrections import (
    ADDRESS_FIX,
    GHOST_CHECK,
    INTERCEPT,
    OMS_PAYMENT_RESYNC,
    SHIP_CONFIRM_DOUYIN,
    SHIP_CONFIRM_OTHER,
    SHIP_CONFIRM_PDD,
    SHIP_CONFIRM_TAOBAO,
    STUCK_ORDERS,
)

from .conftest import FORMULA_ADDRESS, build_result

ALL_FILES = {
    INTERCEPT,
    SHIP_CONFIRM_TAOBAO,
    SHIP_CONFIRM_PDD,
    SHIP_CONFIRM_DOUYIN,
    SHIP_CONFIRM_OTHER,
    OMS_PAYMENT_RESYNC,
    GHOST_CHECK,
    ADDRESS_FIX,
    STUCK_ORDERS,
}


def _csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM so Excel and WPS read Chinese"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _xlsx(path: Path) -> list[tuple[object, ...]]:
    ws = openpyxl.load_workbook(path).active
    for row in ws.iter_rows(min_row=2):
        assert all(c.data_type == "s" for c in row if c.value is not None)
    return list(ws.iter_rows(values_only=True))


@pytest.fixture
def written(tmp_path: Path, result: ReconcileResult) -> dict[str, Path]:
    paths = write_corrections(result, tmp_path / "fix", timezone="Asia/Shanghai")
    return {p.name: p for p in paths}


def test_every_file_is_written_and_nothing_else(written: dict[str, Path]) -> None:
    assert set(written) == ALL_FILES
    folder = next(iter(written.values())).parent
    assert {p.name for p in folder.iterdir()} == ALL_FILES  # no temp files left behind


def test_intercept_list(written: dict[str, Path]) -> None:
    header, *rows = _csv(written[INTERCEPT])
    assert header[:6] == ["订单号", "渠道", "运单号", "快递公司编码", "快递公司", "仓库来源"]
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["订单号"] == "3456789012345678902"
    assert row["运单号"] == "ZT1001"
    assert row["快递公司"] == "中通快递"
    assert row["退款/取消时间 (Asia/Shanghai)"] == "2026-11-23 10:00:00"


def test_ship_confirm_per_platform_template(written: dict[str, Path]) -> None:
    assert _csv(written[SHIP_CONFIRM_TAOBAO]) == [
        ["订单编号", "物流公司", "运单号"],
        ["3456789012345678999", "中通快递", "ZT3003"],
    ]
    assert _xlsx(written[SHIP_CONFIRM_PDD]) == [
        ("订单号", "快递公司", "快递单号"),
        ("250101-987654321", "顺丰速运", "SF4004"),
    ]
    assert _xlsx(written[SHIP_CONFIRM_DOUYIN]) == [("订单号", "物流公司", "快递单号")]
    # the shopify finding is acknowledged: someone owns it, so it is not re-uploaded
    assert len(_csv(written[SHIP_CONFIRM_OTHER])) == 1


def test_other_channels_use_the_generic_upload(tmp_path: Path) -> None:
    from .conftest import build_findings

    rows = [dict(r) for r in build_findings()]
    for row in rows:
        if row["finding_id"] == "f-sm-shopify":
            row["state"] = "open"
    paths = write_corrections(build_result(rows), tmp_path, lang="en")
    other = next(p for p in paths if p.name == SHIP_CONFIRM_OTHER)
    header, *lines = _csv(other)
    assert header[:5] == ["channel", "order_id", "carrier", "carrier_name", "tracking_no"]
    assert [line[:5] for line in lines] == [["shopify", "#1001", "ups", "UPS", "UPS5005"]]


def test_oms_resync_ghost_and_stuck_lists(written: dict[str, Path]) -> None:
    _, resync = _csv(written[OMS_PAYMENT_RESYNC])
    assert resync[:4] == ["4900000000000001", "douyin", "oms", "已付款"]
    assert resync[5] == "120.00"
    header, ghost = _csv(written[GHOST_CHECK])
    row = dict(zip(header, ghost, strict=True))
    assert (row["运单号"], row["快递公司编码"], row["物流状态"]) == ("YT2002", "yto", "无记录")
    header, stuck = _csv(written[STUCK_ORDERS])
    row = dict(zip(header, stuck, strict=True))
    assert row["负责人"] == ""
    assert row["状态"] == "挂起"
    assert row["已持续(天)"] == "5.0"


def test_address_fix_is_full_by_default_and_formula_safe(written: dict[str, Path]) -> None:
    header, *rows = _csv(written[ADDRESS_FIX])
    by_order = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    invalid = by_order["3456789012345670000"]
    assert invalid["收件人"] == "'@SUM(A1)"
    assert invalid["电话"] == "'-1"
    assert invalid["渠道地址(正确)"] == "'" + FORMULA_ADDRESS
    mismatch = by_order["3456789012345670001"]
    assert mismatch["收件人"] == "欧阳娜娜"
    assert mismatch["渠道地址(正确)"] == "'\t北京市朝阳区建国路88号1号楼"
    assert mismatch["仓库面单地址"] == "北京市海淀区中关村大街1号"
    assert mismatch["运单号"] == "ZT6006"


def test_address_fix_masked_on_request(tmp_path: Path, result: ReconcileResult) -> None:
    paths = write_corrections(result, tmp_path, mask=True)
    header, *rows = _csv(next(p for p in paths if p.name == ADDRESS_FIX))
    mismatch = next(dict(zip(header, r, strict=True)) for r in rows if r[0].endswith("0001"))
    assert mismatch["收件人"] == "欧***"
    assert mismatch["电话"] == "138****5678"
    assert mismatch["渠道地址(正确)"] == "北京市朝阳区****"


def test_empty_result_writes_headers_only(tmp_path: Path) -> None:
    paths = write_corrections(build_result([]), tmp_path)
    assert len(paths) == len(ALL_FILES)
    for path in paths:
        rows = _csv(path) if path.suffix == ".csv" else _xlsx(path)
        assert len(rows) == 1


def test_unwritable_folder_is_a_usage_error(tmp_path: Path, result: ReconcileResult) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(UsageError, match="cannot write"):
        write_corrections(result, blocker)
