"""frequent_changes, from docs/RULES.md."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from engine_world import AS_OF, ago, fired, judge, make_config, orders_frame, row

from ordersync import schema as s
from ordersync import store as store_module
from ordersync.engine import evaluate
from ordersync.sources.base import FileFingerprint, SourceRead
from ordersync.store import Store


def _versions(order_id: str, hours: list[float], field: str = "address") -> list[dict]:
    return [
        {**row("tb", order_id, status="paid", **{field: f"v{i}"}), "pulled_at": ago(hours=h)}
        for i, h in enumerate(hours)
    ]


def test_three_changes_within_a_day():
    history = _versions("1", [30, 20, 10, 5])  # changes at 20, 10, 5 hours ago
    current = [row("tb", "1", status="paid", address="v3")]
    hits, _ = judge(current, history=history, rules=["frequent_changes"])
    assert fired(hits) == {("frequent_changes", "1", "tb")}


def test_changes_spread_beyond_the_window_or_status_only():
    spread = _versions("1", [80, 60, 35, 10])
    status_only = [
        {**row("tb", "2", status=st, address="same"), "pulled_at": ago(hours=h)}
        for st, h in [("paid", 10), ("on_hold", 8), ("processing", 6), ("shipped", 4)]
    ]
    # repeated identical pulls are no change
    repeated = [
        {**row("tb", "3", status="paid", address="x"), "pulled_at": ago(hours=h)}
        for h in (9, 7, 5, 3)
    ]
    current = [
        row("tb", "1", status="paid"),
        row("tb", "2", status="shipped"),
        row("tb", "3", status="paid"),
    ]
    hits, _ = judge(current, history=spread + status_only + repeated, rules=["frequent_changes"])
    assert hits.is_empty()


def test_changes_dated_by_source_update_time():
    # pulled together in one burst, but the source says the changes were days apart
    history = [
        {
            **row("tb", "1", status="paid", amount=a, updated_at=ago(days=d)),
            "pulled_at": ago(hours=1),
        }
        for a, d in [(10, 9), (11, 6), (12, 3), (13, 0.1)]
    ]
    hits, _ = judge([history[-1]], history=history, rules=["frequent_changes"])
    assert hits.is_empty()


def _items_versions(order_id: str, lists: list[list[dict]]) -> list[dict]:
    return [
        {**row("tb", order_id, status="paid", items=items), "pulled_at": ago(hours=12 - 2 * i)}
        for i, items in enumerate(lists)
    ]


def test_items_changing_three_times_fire_but_a_reordered_list_is_no_change():
    a, b = {"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}
    # Three real changes of the items within a day: quantity, a line added, a line dropped.
    changed = _items_versions("1", [[a], [{**a, "qty": 3}], [{**a, "qty": 3}, b], [b]])
    # The same two lines, pulled four times in alternating order: never a change.
    reordered = _items_versions("2", [[a, b], [b, a], [a, b], [b, a]])
    current = [
        row("tb", "1", status="paid", items=[b]),
        row("tb", "2", status="paid", items=[b, a]),
    ]
    hits, _ = judge(current, history=changed + reordered, rules=["frequent_changes"])
    assert fired(hits) == {("frequent_changes", "1", "tb")}


# --- through a store: the fingerprints the pulls stored -------------------------------------


def _pull_versions(store: Store, versions: list[list[dict]], *, first: int = 0) -> None:
    """Pull each list of rows in turn, the `first`th pull 10 hours before AS_OF, an hour apart."""
    for n, rows in enumerate(versions, start=first):
        at = ago(hours=10 - n)
        read = SourceRead(
            source="tb",
            orders=orders_frame(rows).collect(),
            tracking=s.empty_frame(s.TRACKING_SCHEMA),
            files=(FileFingerprint(f"tb-{n}.csv", 100, n, f"sha-{n}"),),
            rows_read=len(rows),
        )
        with store.writing():
            store.apply_pull(read, full=False, started_at=at, pulled_at=at)


def _judge_store(store: Store) -> pl.DataFrame:
    hits, _, _ = evaluate(
        make_config(),
        store.orders(),
        store.tracking(),
        store.order_history(),
        as_of=AS_OF,
        rules=["frequent_changes"],
    )
    return hits


def test_changes_are_counted_on_the_fingerprints_the_pulls_stored(tmp_path: Path):
    store = Store(tmp_path / "store")
    a, b = {"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}
    addresses = ["文三路1号", "文三路2号", "文三路3号", "文三路4号"]
    _pull_versions(
        store,
        [
            [
                row("tb", "1", status="paid", address=address),
                # a new version every pull (the list's order differs), never a change
                row("tb", "2", status="paid", items=items),
            ]
            for address, items in zip(addresses, [[a, b], [b, a], [a, b], [b, a]], strict=True)
        ],
    )
    history = store.order_history()
    assert s.CHANGE_FP in history.collect_schema().names()
    assert history.select(pl.len()).collect().item() == 8
    assert fired(_judge_store(store)) == {("frequent_changes", "1", "tb")}


def test_fingerprints_stored_by_another_scheme_are_not_compared(tmp_path: Path, monkeypatch):
    """Three pulls by an older ordersync (or another Polars) stored fingerprints the current
    one does not compute: compared with the fourth pull's, every version would look like a
    change (three within a day fire). The store offers none, so they are computed again."""
    store = Store(tmp_path / "store")
    versions = [
        [row("tb", "1", status=status, address="文三路1号")]
        for status in ("paid", "on_hold", "processing", "paid")
    ]
    with monkeypatch.context() as older:
        older.setattr(store_module, "_CHANGE_FP_SCHEME", "polars-0.0.0/fp0/00000000")
        fingerprints = iter(range(100, 103))
        older.setattr(s, "change_fingerprint", lambda: pl.lit(next(fingerprints), pl.Int64))
        _pull_versions(store, versions[:3])
    _pull_versions(store, versions[3:], first=3)

    assert store.order_history().select(pl.len()).collect().item() == 4
    assert s.CHANGE_FP not in store.order_history().collect_schema().names()
    assert _judge_store(store).is_empty()
