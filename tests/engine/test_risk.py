"""frequent_changes, from docs/RULES.md."""

from __future__ import annotations

from engine_world import ago, fired, judge, row


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
