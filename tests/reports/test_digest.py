from __future__ import annotations

from pathlib import Path

from ordersync.findings import ReconcileResult
from ordersync.reports import digest_markdown
from ordersync.reports.digest import MAX_BYTES

from .conftest import build_findings, build_result, finding


def test_digest_lists_new_urgent_findings_by_rule(result: ReconcileResult) -> None:
    text = digest_markdown(result, workbook=Path("/reports/audit.xlsx"), timezone="Asia/Shanghai")
    lines = text.splitlines()
    assert lines[0] == "## 订单对账 2026-11-25 10:00 Asia/Shanghai"
    assert "- 风险金额: **¥239.70**" in lines
    assert "**退款未拦截** (严重) × 1" in lines
    assert "**状态不一致** (高) × 2" in lines
    assert any(line.startswith("- `3456789012345678902` taobao") for line in lines)
    # critical rules come before high ones
    assert text.index("退款未拦截") < text.index("状态不一致")
    # acknowledged (shopify), still-open (first seen earlier) and medium findings stay out
    assert "#1001" not in text
    assert "3456789012345678999" not in text
    assert "3456789012345671111" not in text
    assert "- 虚假发货 · carrier=jd: 没有覆盖京东物流的快递数据 (12 单)" in lines
    assert lines[-1] == "完整报告: /reports/audit.xlsx"


def test_digest_in_english(result: ReconcileResult) -> None:
    text = digest_markdown(result, lang="en")
    assert "### New critical/high findings (5)" in text
    assert "**Refund not stopped** (critical) × 1" in text
    assert "Full report" not in text


def test_at_most_five_examples_per_rule() -> None:
    rows = [finding(f"g{i}", "ghost_shipment", f"9{i:05d}", "pdd") for i in range(8)]
    text = digest_markdown(build_result(rows), lang="en")
    assert text.count("- `9") == 5
    assert "- … and 3 more" in text


def test_nothing_new_says_so() -> None:
    rows = [r for r in build_findings() if r["severity"] not in ("critical", "high")]
    text = digest_markdown(build_result(rows), lang="en")
    assert "No new critical/high findings." in text


def test_long_digest_is_cut_but_keeps_the_workbook_line() -> None:
    rows = [
        finding(f"r{i}-{j}", rule, f"{i}{j:04d}", "taobao")
        for i, rule in enumerate(["ghost_shipment", "refund_not_stopped", "missing_order"])
        for j in range(3)
    ]
    for row in rows:
        row["message_zh"] = "很长的说明" * 80
    text = digest_markdown(build_result(rows), workbook=Path("/r/a.xlsx"))
    assert len(text.encode()) <= MAX_BYTES
    assert "内容过长已截断" in text
    assert text.endswith("完整报告: /r/a.xlsx")
