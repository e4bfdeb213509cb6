"""Finding a source's files, fingerprinting them, and check-config's coverage summary."""

from __future__ import annotations

import hashlib

from conftest import make_config, write_xlsx

from ordersync.sources import discover_files, fingerprint, mapping_coverage, read_source


def test_discover_files_is_sorted_and_empty_when_nothing_matches(tmp_path):
    (tmp_path / "exports").mkdir()
    for name in ("b.csv", "a.csv", "notes.txt"):
        (tmp_path / "exports" / name).write_text("订单号\n1\n", encoding="utf-8")
    config, source = make_config(
        tmp_path, kind="oms", format="csv", path="exports/*.csv", columns={"order_id": "订单号"}
    )
    assert [p.name for p in discover_files(config, source)] == ["a.csv", "b.csv"]

    config, source = make_config(
        tmp_path, kind="oms", format="csv", path="nothing/*.csv", columns={"order_id": "订单号"}
    )
    assert discover_files(config, source) == []
    result = read_source(config, source)
    assert result.orders.height == 0
    assert result.files == ()


def test_fingerprint_hashes_the_content(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"x" * 3_000_000)
    print_ = fingerprint(path)
    assert print_.sha256 == hashlib.sha256(b"x" * 3_000_000).hexdigest()
    assert print_.size == 3_000_000
    assert print_.path == str(path)


def test_mapping_coverage_reports_missing_headers_and_unmapped_statuses(tmp_path):
    header = ["订单编号", "订单状态", "买家实际支付金额", "订单付款时间", "物流公司"]
    rows = [header] + [[f"34567890123456789{i:02d}", s, "1", "2026-11-03 10:00:00", "中通"] for i, s in enumerate(
        ["交易成功", "待审核", "待审核", "风控中", "交易成功"])]  # fmt: skip
    write_xlsx(tmp_path / "tb.xlsx", rows)
    config, source = make_config(tmp_path, preset="taobao_export", path="*.xlsx")

    coverage = mapping_coverage(config, source)

    assert coverage["files matched"] == 1
    assert "order_id" in coverage["mapped fields"]
    assert "province" in coverage["unmapped fields"]
    assert "物流单号" in coverage["missing headers"]
    assert "订单编号" not in coverage["missing headers"]
    assert coverage["header row"] == 1
    assert coverage["unmapped statuses"] == 2
    assert coverage["unmapped status examples"] == {"待审核": 2, "风控中": 1}


def test_mapping_coverage_shows_a_read_error_instead_of_raising(tmp_path):
    (tmp_path / "tb.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    config, source = make_config(tmp_path, preset="taobao_export", path="tb.xlsx")
    coverage = mapping_coverage(config, source)
    assert "damaged or truncated" in coverage["error"]
