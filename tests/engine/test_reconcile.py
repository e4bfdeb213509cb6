"""reconcile(): scope (--since/--until, incremental), lifecycle through a store, entry checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import polars as pl
import pytest
from engine_world import AS_OF, ago, judge, make_config, orders_frame, row
from polars.testing import assert_frame_equal

from ordersync import schema as s
from ordersync.engine import evaluate, reconcile
from ordersync.engine.run import Moved, incremental_ids, moved
from ordersync.errors import UsageError
from ordersync.findings import ReconcileResult


@dataclass
class FakeStore:
    """The slice of ordersync.store.Store that reconcile uses, in memory."""

    current: list[dict]
    versions: list[dict] = field(default_factory=list)
    saved: pl.DataFrame = field(default_factory=lambda: s.empty_frame(s.FINDINGS_SCHEMA))
    run_rows: list[dict] = field(default_factory=list)

    def pull(self, rows: list[dict], at) -> None:
        """Replace rows by (source, order_id, shipment_id) and log them as versions."""
        keys = {(r["source"], r["order_id"], r.get("shipment_id", "")) for r in rows}
        self.current = [
            r
            for r in self.current
            if (r["source"], r["order_id"], r.get("shipment_id", "")) not in keys
        ] + rows
        self.versions += [{**r, "pulled_at": at} for r in rows]

    def orders(self):
        return orders_frame([{**r, "pulled_at": None} for r in self.current])

    def order_history(self, since=None):
        return orders_frame(self.versions)

    def tracking(self):
        return s.empty_frame(s.TRACKING_SCHEMA).lazy()

    def profiles(self):
        return None  # like a store written before profiles were kept: the engine surveys

    def findings(self):
        return self.saved.lazy()

    def save_run(self, result: ReconcileResult) -> None:
        self.saved = result.findings
        self.run_rows.append(
            {"started_at": result.started_at, "as_of": result.as_of, "basis": result.basis}
        )

    def runs(self):
        return pl.DataFrame(
            self.run_rows,
            schema={"started_at": s.Timestamp, "as_of": s.Timestamp, "basis": pl.String},
        )


def _store(rows: list[dict], at=None) -> FakeStore:
    store = FakeStore([])
    store.pull(rows, at or ago(days=10))
    return store


def _open(result: ReconcileResult) -> set:
    return set(
        result.findings.filter(pl.col(s.STATE) == "open")
        .select(s.RULE, s.ORDER_ID, s.DETAIL)
        .iter_rows()
    )


def test_rerun_on_same_data_is_identical():
    store = _store([row("tb", "1", status="paid", paid_at=ago(hours=60), amount=30)])
    first = reconcile(make_config(), store, as_of=AS_OF, now=AS_OF + timedelta(minutes=1))
    second = reconcile(make_config(), store, as_of=AS_OF, now=AS_OF + timedelta(minutes=9))
    assert_frame_equal(second.findings, first.findings)
    assert (first.new, second.new, second.still_open) == (
        first.findings.height,
        0,
        first.findings.height,
    )
    assert ("unshipped_timeout", "1", "") in _open(first)
    assert str(first.money_at_risk) == "30.00"
    assert first.rules_run == s.RULES


def test_since_until_touch_only_orders_in_range():
    rows = [
        row("tb", "old", status="paid", paid_at=ago(days=20)),
        row("tb", "new", status="paid", paid_at=ago(days=3)),
    ]
    store = _store(rows)
    reconcile(make_config(), store, as_of=AS_OF, now=AS_OF)
    assert {o for _, o, _ in _open(reconcile(make_config(), store, as_of=AS_OF, now=AS_OF))} == {
        "old",
        "new",
    }
    # "old" gets shipped; a run over the last week neither sees nor resolves it
    store.pull(
        [row("tb", "old", status="shipped", paid_at=ago(days=20), shipped_at=ago(hours=1))],
        ago(hours=1),
    )
    ranged = reconcile(make_config(), store, as_of=AS_OF, since=ago(days=7), now=AS_OF)
    assert {o for _, o, _ in _open(ranged)} == {"old", "new"}
    assert ranged.resolved == 0
    hits, _, checked = evaluate(
        make_config(),
        store.orders(),
        store.tracking(),
        store.order_history(),
        as_of=AS_OF,
        since=ago(days=7),
        until=AS_OF,
    )
    assert set(hits.get_column(s.ORDER_ID)) == {"new"}
    assert checked.get_column("orders").to_list() == [1]


def test_incremental_carries_untouched_and_catches_expiring_timers():
    config = make_config()
    store = _store(
        [
            row("tb", "steady", status="paid", paid_at=ago(days=9)),
            row("tb", "timer", status="paid", paid_at=ago(hours=47)),
            row("tb", "fixed", status="paid", paid_at=ago(days=9)),
        ]
    )
    first = reconcile(config, store, as_of=AS_OF, now=AS_OF)
    assert {o for r, o, _ in _open(first) if r == "unshipped_timeout"} == {"steady", "fixed"}
    later = AS_OF + timedelta(hours=2)
    store.pull(
        [row("tb", "fixed", status="shipped", paid_at=ago(days=9), shipped_at=ago(hours=1))], later
    )
    second = reconcile(config, store, as_of=later, incremental=True, now=later)
    timeouts = {o for r, o, _ in _open(second) if r == "unshipped_timeout"}
    # "timer" crossed its 48h SLA without any row changing; "fixed" changed and resolved
    assert timeouts == {"steady", "timer"}
    full = reconcile(config, FakeStore(store.current, store.versions), as_of=later, now=later)
    assert {o for r, o, _ in _open(full) if r == "unshipped_timeout"} == timeouts
    steady = second.findings.filter(
        (pl.col(s.ORDER_ID) == "steady") & (pl.col(s.RULE) == "unshipped_timeout")
    )
    assert steady.item(0, s.FIRST_SEEN) == AS_OF


def test_incremental_scope_is_the_timestamps_that_crossed_a_threshold():
    """Two hours after the last run (defaults: missing_grace 2h, ship_sla 48h, stuck 72h, …),
    an order is judged again only if one of its timestamps crossed a threshold meanwhile."""
    rows = [
        row("tb", "sla", status="paid", paid_at=ago(hours=47)),  # crosses ship_sla 48h
        row("tb", "grace", status="paid", paid_at=ago(hours=1)),  # crosses missing_grace 2h
        row("tb", "future", status="paid", paid_at=AS_OF + timedelta(hours=1)),  # d = 0
        row("tb", "quiet", status="paid", paid_at=ago(hours=30)),  # 30h: no threshold near
        row("tb", "old", status="paid", paid_at=ago(days=9)),
        row("tb", "shipped", status="shipped", paid_at=ago(days=9), shipped_at=ago(hours=23)),
    ]
    frame = orders_frame(rows)
    history = orders_frame([{**r, "pulled_at": ago(days=10)} for r in rows])
    ids = incremental_ids(
        make_config(),
        frame,
        s.empty_frame(s.TRACKING_SCHEMA).lazy(),
        history,
        last_started=AS_OF,
        last_as_of=AS_OF,
        as_of=AS_OF + timedelta(hours=2),
    )
    # "shipped" crosses pickup_grace (24h) one hour from now
    assert set(ids.collect().get_column(s.ORDER_ID)) == {"sla", "grace", "future", "shipped"}


def _incremental_matches_full(config, store: FakeStore, as_of) -> set:
    """Judge incrementally at as_of, check a full run on the same rows agrees, return the open set."""
    incremental = reconcile(config, store, as_of=as_of, incremental=True, now=as_of)
    full = reconcile(config, FakeStore(store.current, store.versions), as_of=as_of, now=as_of)
    assert _open(incremental) == _open(full)
    return _open(incremental)


def _appears_after_a_pull_elsewhere(rows: list[dict], pulled: list[dict], finding: tuple) -> None:
    """`finding` is not raised on `rows`; after `pulled` (rows of other orders) is pulled, an
    incremental run at the same as_of (no timer moved) raises it, as a full run does."""
    config = make_config()
    store = _store(rows)
    assert finding not in _open(reconcile(config, store, as_of=AS_OF, now=AS_OF))
    store.pull(pulled, AS_OF)
    assert finding in _incremental_matches_full(config, store, AS_OF)


def test_incremental_sees_an_oms_backfill_move_the_start_of_its_data():
    """Order x was delivered before the OMS's data began, so its absence there was not
    checked. A backfill of older OMS rows (other orders) moves that start before x's
    delivery: x's rows did not change, yet it is now missing from the OMS."""
    _appears_after_a_pull_elsewhere(
        [
            row("tb", "x", status="delivered", paid_at=ago(days=10), delivered_at=ago(days=8)),
            row("tb", "y", status="delivered", paid_at=ago(days=5), delivered_at=ago(days=3)),
            row("oms", "y", status="delivered", created_at=ago(days=5)),
        ],
        [
            row("tb", "z", status="delivered", paid_at=ago(days=9), delivered_at=ago(days=7)),
            row("oms", "z", status="delivered", created_at=ago(days=9)),
        ],
        ("missing_order", "x", "oms"),
    )


def test_incremental_sees_a_channel_coverage_grow_over_an_oms_row():
    """An OMS row no channel knows, dated before the channel's first order, is not called an
    orphan; once the channel's export reaches back past its date, it is."""
    _appears_after_a_pull_elsewhere(
        [
            row("tb", "a", status="paid", created_at=ago(days=3), paid_at=ago(days=3)),
            row("oms", "a", status="paid", created_at=ago(days=3)),
            row("oms", "stray", status="paid", created_at=ago(days=6)),
        ],
        [
            row("tb", "b", status="paid", created_at=ago(days=7), paid_at=ago(days=7)),
            row("oms", "b", status="paid", created_at=ago(days=7)),
        ],
        ("orphan_order", "stray", "oms"),
    )


def test_incremental_after_a_rule_setting_changed_judges_everything():
    store = _store(
        [
            row("tb", "p", status="paid", paid_at=ago(hours=1.5)),
            row("tb", "q", status="paid", paid_at=ago(hours=1.5)),
            row("oms", "q", status="paid", created_at=ago(hours=1.5)),
        ]
    )
    first = reconcile(make_config(), store, as_of=AS_OF, now=AS_OF)
    assert ("missing_order", "p", "oms") not in _open(first)  # 1.5 h < missing_grace 2 h
    tighter = make_config(missing_grace="1h")
    assert ("missing_order", "p", "oms") in _incremental_matches_full(tighter, store, AS_OF)


def test_incremental_reads_every_spelling_of_a_changed_order_id():
    """The OMS stored order 123 as " 123" (a reader let the space through). When the channel
    order changes, the incremental run must still find its OMS row, or 123 would look missing
    from the OMS."""
    config = make_config()
    store = _store(
        [
            row("tb", "123", status="paid", paid_at=ago(days=3), amount=30),
            row("oms", " 123", status="paid", created_at=ago(days=3), amount=30),
        ]
    )
    reconcile(config, store, as_of=AS_OF, now=AS_OF)
    store.pull([row("tb", "123", status="paid", paid_at=ago(days=3), amount=31)], AS_OF)
    found = _incremental_matches_full(config, store, AS_OF)
    assert ("missing_order", "123", "oms") not in found
    assert ("amount_mismatch", "123", "oms") in found


def test_what_moved_between_two_runs():
    config = make_config()
    before = _store(
        [
            row("tb", "1", status="paid", created_at=ago(days=3), paid_at=ago(days=3)),
            row("oms", "1", status="paid", created_at=ago(days=4)),
        ]
    )
    first = reconcile(config, before, as_of=AS_OF, now=AS_OF).basis
    assert moved(None, first).everything
    assert moved(first, first) == Moved(everything=False, boundaries=())
    before.pull([row("tb", "2", status="paid", created_at=ago(days=1), paid_at=ago(days=1))], AS_OF)
    grown = reconcile(config, before, as_of=AS_OF, now=AS_OF).basis
    # the channel's coverage ends two days later: only that stretch is judged again
    assert moved(first, grown) == Moved(everything=False, boundaries=((ago(days=3), ago(days=1)),))
    before.pull([row("wms", "1", status="shipped", created_at=ago(days=2))], AS_OF)
    with_warehouse = reconcile(config, before, as_of=AS_OF, now=AS_OF).basis
    assert moved(grown, with_warehouse).everything  # a source appeared
    assert moved(grown, "not json").everything


def test_disabled_rules_and_unknown_rule():
    rows = [row("tb", "1", status="paid", paid_at=ago(hours=60))]
    hits, _ = judge(rows, config=make_config(disabled=["unshipped_timeout"]))
    assert "unshipped_timeout" not in set(hits.get_column(s.RULE))
    with pytest.raises(UsageError):
        judge(rows, rules=["no_such_rule"])


def test_severity_override_and_order_ids_restriction():
    rows = [
        row("tb", "1", status="paid", paid_at=ago(hours=60)),
        row("tb", " 2", status="paid", paid_at=ago(hours=60)),
    ]
    config = make_config(severity={"unshipped_timeout": "critical"})
    hits, _ = judge(
        rows,
        rules=["unshipped_timeout"],
        config=config,
        order_ids=pl.LazyFrame({s.ORDER_ID: ["2"]}),
    )
    assert hits.select(s.ORDER_ID, s.SEVERITY).rows() == [("2", "critical")]


class PhaseRecorder:
    def __init__(self) -> None:
        self.events: list = []

    def phase(self, name: str, pieces: int = 1) -> None:
        self.events.append((name, pieces))

    def piece_judged(self) -> None:
        self.events.append("judged")


def test_progress_hears_every_phase_of_a_run():
    rows = [row("tb", str(n), status="paid", paid_at=ago(hours=60)) for n in range(6)]
    store = _store(rows)
    whole = PhaseRecorder()
    first = reconcile(make_config(), store, as_of=AS_OF, now=AS_OF, progress=whole)
    assert whole.events == [("judge", 1), "judged", ("save", 1)]

    # 6 order rows in buckets of 2: 3 hash buckets, and the bucket of orders sharing numbers
    split = PhaseRecorder()
    again = reconcile(make_config(), _store(rows), as_of=AS_OF, rows_per_bucket=2, progress=split)
    assert split.events == [("split", 4), ("judge", 4), *["judged"] * 4, ("save", 1)]
    assert _open(again) == _open(first)

    store.pull([row("tb", "0", status="refunded", paid_at=ago(hours=60))], ago(hours=1))
    incremental = PhaseRecorder()
    reconcile(
        make_config(),
        store,
        as_of=AS_OF,
        incremental=True,
        now=AS_OF + timedelta(minutes=5),
        progress=incremental,
    )
    assert incremental.events == [("scope", 1), ("judge", 1), "judged", ("save", 1)]
