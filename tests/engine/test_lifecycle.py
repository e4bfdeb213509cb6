"""Finding identity and lifecycle across runs (ordersync.findings)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import polars as pl
from engine_world import AS_OF, ago, judge, row
from polars.testing import assert_frame_equal

from ordersync import schema as s
from ordersync.findings import apply_lifecycle, finding_id, money_at_risk

RULES_RUN = list(s.RULES)
LATER = AS_OF + timedelta(hours=6)


def _world(oms_amount: float = 90) -> list[dict]:
    return [
        row("tb", "1", status="paid", paid_at=ago(hours=5), amount=100),
        row("oms", "1", status="paid", amount=oms_amount),
    ]


def _run(previous: pl.DataFrame, orders: list[dict], as_of=AS_OF) -> tuple[pl.DataFrame, object]:
    hits, _ = judge(orders, rules=["amount_mismatch"], as_of=as_of)
    return apply_lifecycle(previous, hits, as_of=as_of, rules_run=RULES_RUN)


def _state(findings: pl.DataFrame) -> dict:
    return findings.select(s.STATE, s.FIRST_SEEN, s.LAST_SEEN, s.RESOLVED_AT).row(0, named=True)


def test_finding_id_is_stable_and_short():
    assert finding_id("missing_order", "123", "oms") == finding_id("missing_order", "123", "oms")
    assert finding_id("missing_order", "123", "oms") != finding_id("missing_order", "123", "wms")
    assert len(finding_id("missing_order", "123", "oms")) == 16


def test_new_then_identical_rerun():
    empty = s.empty_frame(s.FINDINGS_SCHEMA)
    first, counts = _run(empty, _world())
    assert (counts.new, counts.still_open, counts.resolved) == (1, 0, 0)
    assert _state(first) == {
        "state": "open",
        "first_seen": AS_OF,
        "last_seen": AS_OF,
        "resolved_at": None,
    }
    again, counts = _run(first, _world())
    assert_frame_equal(again, first)
    assert (counts.new, counts.still_open) == (0, 1)


def test_still_present_keeps_first_seen_and_gone_is_resolved_not_deleted():
    first, _ = _run(s.empty_frame(s.FINDINGS_SCHEMA), _world())
    later, _ = _run(first, _world(), as_of=LATER)
    assert _state(later)["first_seen"] == AS_OF and _state(later)["last_seen"] == LATER
    fixed, counts = _run(later, _world(oms_amount=100), as_of=LATER + timedelta(hours=1))
    assert counts.resolved == 1
    assert _state(fixed) == {
        "state": "resolved",
        "first_seen": AS_OF,
        "last_seen": LATER,
        "resolved_at": LATER + timedelta(hours=1),
    }
    # staying fixed changes nothing
    still, _ = _run(fixed, _world(oms_amount=100), as_of=LATER + timedelta(hours=2))
    assert_frame_equal(still, fixed)
    # coming back re-opens it
    back, counts = _run(still, _world(), as_of=LATER + timedelta(hours=3))
    assert _state(back)["state"] == "open" and _state(back)["resolved_at"] is None
    assert counts.new == 1


def test_acknowledged_until_evidence_changes():
    first, _ = _run(s.empty_frame(s.FINDINGS_SCHEMA), _world())
    acked = first.with_columns(
        pl.lit("acknowledged").cast(s.StateDtype).alias(s.STATE),
        pl.lit("known, refund pending").alias(s.ACK_NOTE),
    )
    same, _ = _run(acked, _world(), as_of=LATER)
    assert same.item(0, s.STATE) == "acknowledged"
    assert same.item(0, s.ACK_NOTE) == "known, refund pending"
    changed, counts = _run(same, _world(oms_amount=80), as_of=LATER)
    assert changed.item(0, s.STATE) == "open"
    assert changed.item(0, s.FINDING_ID) == first.item(0, s.FINDING_ID)
    assert counts.new == 1


def test_out_of_scope_findings_carry_over():
    first, _ = _run(s.empty_frame(s.FINDINGS_SCHEMA), _world())
    hits, _ = judge(_world(oms_amount=100), rules=["amount_mismatch"], as_of=LATER)
    other_rule, _ = apply_lifecycle(first, hits, as_of=LATER, rules_run=["missing_order"])
    assert_frame_equal(other_rule, first)
    other_orders, _ = apply_lifecycle(
        first, hits, as_of=LATER, rules_run=RULES_RUN, scope_ids=pl.DataFrame({s.ORDER_ID: ["2"]})
    )
    assert_frame_equal(other_orders, first)


def test_money_at_risk_counts_each_open_high_order_once():
    findings = pl.DataFrame(
        {
            s.ORDER_ID: ["1", "1", "2", "3", "4"],
            s.SEVERITY: ["critical", "high", "medium", "high", "critical"],
            s.STATE: ["open", "open", "open", "acknowledged", "open"],
            s.AMOUNT: [
                Decimal("10.50"),
                Decimal("10.50"),
                Decimal("99"),
                Decimal("7"),
                Decimal("1"),
            ],
        },
        schema_overrides={s.SEVERITY: s.SeverityDtype, s.STATE: s.StateDtype, s.AMOUNT: s.Money},
    )
    assert money_at_risk(findings) == Decimal("11.50")
