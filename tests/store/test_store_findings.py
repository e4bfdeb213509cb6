"""Findings are replaced by each reconcile run; runs are a log; acknowledging updates one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest

from ordersync import schema as s
from ordersync.errors import UsageError
from ordersync.findings import NotChecked, ReconcileResult

AS_OF = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def finding(finding_id: str, rule: str, severity: str, state: str = "open", amount: str = "59.90"):
    return {
        s.FINDING_ID: finding_id,
        s.RULE: rule,
        s.SEVERITY: severity,
        s.ORDER_ID: f"order-{finding_id}",
        s.CHANNEL: "taobao",
        s.SOURCES: ["taobao", "wms"],
        s.DETAIL: "wms",
        s.MESSAGE_ZH: "退款未拦截",
        s.MESSAGE_EN: "refund not stopped",
        s.EVIDENCE: json.dumps({"orders": []}),
        s.ACTION: "intercept",
        s.AMOUNT: Decimal(amount),
        s.EVIDENCE_HASH: "e1",
        s.FIRST_SEEN: AS_OF,
        s.LAST_SEEN: AS_OF,
        s.STATE: state,
    }


def result(run_id: str, rows, **kwargs) -> ReconcileResult:
    frame = (
        s.conform(pl.DataFrame(rows, infer_schema_length=None), s.FINDINGS_SCHEMA)
        if rows
        else s.empty_frame(s.FINDINGS_SCHEMA)
    )
    return ReconcileResult(
        run_id=run_id,
        as_of=AS_OF,
        started_at=AS_OF,
        findings=frame,
        orders_checked=pl.DataFrame(),
        **kwargs,
    )


def test_no_findings_yet_reads_as_an_empty_frame(store):
    findings = store.findings().collect()

    assert findings.is_empty()
    assert findings.schema == s.FINDINGS_SCHEMA
    assert store.runs().is_empty()


def test_each_run_replaces_the_findings_and_appends_a_run_row(store):
    not_checked = (
        NotChecked(
            "ghost_shipment", "carrier=sf", "no carrier data for sf", "没有顺丰的物流数据", 4
        ),
    )
    store.save_run(
        result(
            "run-1",
            [finding("a", "refund_not_stopped", "critical"), finding("b", "stuck_order", "medium")],
            new=2,
            money_at_risk=Decimal("59.90"),
            not_checked=not_checked,
        )
    )
    store.save_run(
        result(
            "run-2",
            [
                finding("a", "refund_not_stopped", "critical"),
                finding("b", "stuck_order", "medium", state="resolved"),
                finding("c", "missing_order", "high"),
                finding("d", "missing_order", "high", state="acknowledged"),
            ],
            new=2,
            still_open=1,
            resolved=1,
            money_at_risk=Decimal("119.80"),
        )
    )

    findings = store.findings().collect().sort(s.FINDING_ID)
    assert findings.schema == s.FINDINGS_SCHEMA
    assert findings.get_column(s.STATE).to_list() == ["open", "resolved", "open", "acknowledged"]
    runs = store.runs()
    assert runs.get_column("run_id").to_list() == ["run-1", "run-2"]
    last = runs.row(1, named=True)
    assert (last["new"], last["still_open"], last["resolved"]) == (2, 1, 1)
    assert (last["open_critical"], last["open_high"], last["open_medium"], last["open_low"]) == (
        1,
        1,
        0,
        0,
    )
    assert last["money_at_risk"] == Decimal("119.80")
    assert json.loads(last["by_rule"]) == {"missing_order": 1, "refund_not_stopped": 1}
    assert json.loads(runs.item(0, "not_checked")) == [n.to_dict() for n in not_checked]
    assert runs.item(0, "as_of") == AS_OF


def test_a_run_with_no_findings_clears_them(store):
    store.save_run(result("run-1", [finding("a", "stuck_order", "medium")]))

    store.save_run(result("run-2", []))

    assert store.findings().collect().is_empty()
    assert store.runs().height == 2


def test_acknowledging_a_finding(store):
    store.save_run(
        result(
            "run-1", [finding("a", "stuck_order", "medium"), finding("b", "stuck_order", "medium")]
        )
    )
    at = AS_OF + timedelta(hours=1)

    store.acknowledge("a", "customer asked us to hold it", at)

    findings = store.findings().collect().sort(s.FINDING_ID)
    assert findings.get_column(s.STATE).to_list() == ["acknowledged", "open"]
    assert findings.get_column(s.ACK_NOTE).to_list() == ["customer asked us to hold it", None]
    assert findings.get_column(s.ACKED_AT).to_list() == [at, None]


def test_acknowledging_an_unknown_finding_says_how_to_list_them(store):
    store.save_run(result("run-1", [finding("a", "stuck_order", "medium")]))

    with pytest.raises(UsageError, match=r"no finding with id 'zzz'.*ordersync findings"):
        store.acknowledge("zzz", "note", AS_OF)


def test_a_resolved_finding_cannot_be_acknowledged(store):
    store.save_run(result("run-1", [finding("a", "stuck_order", "medium", state="resolved")]))

    with pytest.raises(UsageError, match="already resolved"):
        store.acknowledge("a", "note", AS_OF)
