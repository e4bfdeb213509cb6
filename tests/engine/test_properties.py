"""Invariants: the findings depend on what the sources say, not on how it was delivered."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
from engine_world import AS_OF, ago, orders_frame, row, track, tracking_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ordersync import schema as s
from ordersync.config import config_from_dict
from ordersync.engine import evaluate
from ordersync.findings import apply_lifecycle

CONFIG = config_from_dict({})
HOURS = [None, 0.5, 3, 30, 60, 130]
ITEMS = [None, [{"sku": "A", "qty": 1}], [{"sku": "A", "qty": 2}], [{"sku": "B", "qty": 1}]]
ADDRESSES = [None, "浙江省杭州市西湖区文三路1号", "江苏省南京市鼓楼区中山路2号", "文三路3号"]
PHONES = [None, "13800000001", "13900000002", "138****0001", "123"]
NUMBERS = [None, "T1", "T2", "T3"]


@st.composite
def worlds(draw):
    rows, numbers = [], set()
    for i in range(draw(st.integers(1, 5))):
        oid = f"10000000000000000{i}"
        paid = draw(st.sampled_from(HOURS))
        shipped = draw(st.sampled_from(HOURS))
        number = draw(st.sampled_from(NUMBERS))
        numbers.add(number)
        rows.append(
            row(
                "tb",
                oid,
                status=draw(st.sampled_from(s.STATUSES)),
                paid_at=ago(hours=paid) if paid else None,
                shipped_at=ago(hours=shipped) if shipped else None,
                updated_at=ago(hours=draw(st.sampled_from([1, 10, 100]))),
                amount=draw(st.sampled_from([10, 12])),
                tracking_no=number,
                carrier="zto",
                items=draw(st.sampled_from(ITEMS)),
                address=draw(st.sampled_from(ADDRESSES)),
                receiver_phone=draw(st.sampled_from(PHONES)),
            )
        )
        if draw(st.booleans()):
            rows.append(
                row(
                    "oms",
                    oid,
                    status=draw(st.sampled_from(s.STATUSES)),
                    amount=draw(st.sampled_from([None, 10, 12])),
                )
            )
        for parcel in range(draw(st.integers(0, 2))):
            wh_shipped = draw(st.sampled_from(HOURS))
            rows.append(
                row(
                    "wms",
                    oid,
                    shipment_id=f"P{parcel}",
                    status=draw(st.sampled_from(["processing", "shipped", "cancelled"])),
                    shipped_at=ago(hours=wh_shipped) if wh_shipped else None,
                    tracking_no=draw(st.sampled_from(NUMBERS)),
                    items=draw(st.sampled_from(ITEMS)),
                    address=draw(st.sampled_from(ADDRESSES)),
                )
            )
    if draw(st.booleans()):
        rows.append(row("wms", "999", shipment_id="X", status="shipped", shipped_at=ago(hours=40)))
    tracking = [
        track(
            n,
            tracking_status=draw(st.sampled_from(["no_record", "in_transit", "delivered"])),
            first_scan_at=ago(hours=120),
            last_event_at=ago(hours=draw(st.sampled_from([5, 100]))),
        )
        for n in sorted(x for x in numbers if x)
        if draw(st.booleans())
    ]
    return rows, tracking


def _run(rows, tracking, history=None):
    history = (
        history
        if history is not None
        else [{**r, "pulled_at": AS_OF - timedelta(days=9)} for r in rows]
    )
    hits, not_checked, _ = evaluate(
        CONFIG, orders_frame(rows), tracking_frame(tracking), orders_frame(history), as_of=AS_OF
    )
    return hits, not_checked


# Each example runs the whole engine three times; a handful of varied worlds is the budget.
FAST = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RENAME = {"tb": "taobao_main", "oms": "erp", "wms": "cangku"}


def _identity(frame: pl.DataFrame, names: dict[str, str]) -> set:
    """(rule, order, detail, sources) with source names mapped back through `names`."""
    back = {new: old for old, new in names.items()}
    out = set()
    for rule, order, detail, sources in frame.select(
        s.RULE, s.ORDER_ID, s.DETAIL, s.SOURCES
    ).iter_rows():
        for new, old in back.items():
            detail = detail.replace(new, old)
        out.add((rule, order, detail, tuple(sorted(back.get(x, x) for x in sources))))
    return out


@FAST
@given(worlds(), st.randoms(use_true_random=False))
def test_findings_depend_on_content_not_delivery(world, rnd):
    rows, tracking = world
    hits, not_checked = _run(rows, tracking)
    for evidence in hits.get_column(s.EVIDENCE):
        json.loads(evidence)

    # shuffled rows, the warehouse export split into two files: identical findings
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    split = [
        {**r, "source_file": f"wms-{i % 2}.xlsx", "source_row": i // 2 + 2}
        if r["source"] == "wms"
        else r
        for i, r in enumerate(shuffled)
    ]
    again, not_checked_again = _run(split, list(reversed(tracking)))
    assert_frame_equal(again, hits)
    assert sorted(not_checked_again, key=repr) == sorted(not_checked, key=repr)

    # renamed sources: the same findings under the new names
    renamed, _ = _run([{**r, "source": RENAME[r["source"]]} for r in rows], tracking)
    assert _identity(renamed, RENAME) == _identity(hits, {})

    # re-running the lifecycle on the same hits is idempotent
    first, _ = apply_lifecycle(
        s.empty_frame(s.FINDINGS_SCHEMA), hits, as_of=AS_OF, rules_run=s.RULES
    )
    second, counts = apply_lifecycle(first, again, as_of=AS_OF, rules_run=s.RULES)
    assert_frame_equal(second, first)
    assert (counts.new, counts.resolved) == (0, 0)
