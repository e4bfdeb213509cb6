"""Judging in order-id buckets (engine.buckets) gives exactly the verdicts of judging whole.

`rows_per_bucket=1` puts (nearly) every order in a bucket of its own, the hardest split: any
rule that looked across orders would lose what it compares.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import polars as pl
import pytest
from engine_world import (
    AS_OF,
    ago,
    fired,
    judge,
    make_config,
    orders_frame,
    row,
    track,
    tracking_frame,
)
from polars.testing import assert_frame_equal

from ordersync import schema as s
from ordersync.engine import buckets, run
from ordersync.engine.buckets import bucket_count
from ordersync.engine.view import PULLED_AT, build_view, read_history, survey


def _both(orders, tracking=(), rules=None, config=None):
    whole = judge(orders, list(tracking), rules=rules, config=config)
    split = judge(orders, list(tracking), rules=rules, config=config, rows_per_bucket=1)
    return whole, split


def test_bucket_count():
    assert bucket_count(0, 1_500_000) == 1
    assert bucket_count(1_500_000, 1_500_000) == 1
    assert bucket_count(1_500_001, 1_500_000) == 2
    assert bucket_count(30_000_000, 1_500_000) == 20


def test_bucket_sizes_follow_the_store():
    """Small stores are judged whole; a split store in the smallest pieces one split pass
    allows; the largest in pieces of the largest size, over several passes."""
    assert bucket_count(300_000) == 1  # 100k orders in three sources
    assert bucket_count(buckets.ROWS_PER_BUCKET) == 1
    assert bucket_count(3_000_000) == 3  # 1M orders: pieces of 1M rows
    assert bucket_count(30_000_000) == 30  # 10M orders
    # 50M orders: as many buckets as one pass writes (with the shared-number bucket).
    assert bucket_count(150_000_000) + 1 == buckets.MAX_OPEN_PARTITIONS
    assert bucket_count(300_000_000) == 200  # 100M orders: 1.5M rows a piece, two passes


def test_orders_sharing_a_number_are_still_compared():
    """tracking_reused is the one rule that compares orders: both sides must meet."""
    orders = [
        row("tb", str(n), status="shipped", tracking_no="T", receiver_phone=f"1380000000{n}")
        for n in range(1, 4)
    ] + [row("tb", str(n), status="shipped", tracking_no=f"U{n}") for n in range(4, 30)]
    (whole, _), (split, _) = _both(orders, rules=["tracking_reused"])
    expected = {("tracking_reused", str(n), "T") for n in range(1, 4)}
    assert fired(whole) == expected
    assert fired(split) == expected
    assert_frame_equal(split, whole)


def test_a_merged_shipment_stays_silent_when_split():
    orders = [
        row("tb", "1", status="shipped", tracking_no="M", receiver_phone="13800000001"),
        row("tb", "2", status="shipped", tracking_no="M", receiver_phone="13900000002"),
        row("wms", "1", shipment_id="P", tracking_no="M", merged_with=["1", "2"]),
        row("wms", "2", shipment_id="P", tracking_no="M", merged_with=["1", "2"]),
        *[row("tb", str(n), status="shipped", tracking_no=f"U{n}") for n in range(3, 20)],
    ]
    (whole, _), (split, _) = _both(orders, rules=["tracking_reused"])
    assert fired(whole) == fired(split) == set()


def test_orphans_and_missing_orders_across_many_buckets():
    orders = [
        *[
            row("tb", str(n), status="paid", paid_at=ago(days=2), created_at=ago(days=2))
            for n in range(20)
        ],
        *[row("oms", str(n), status="paid", created_at=ago(days=2)) for n in range(0, 20, 2)],
        row("oms", "stray", status="paid", created_at=ago(days=2)),
    ]
    (whole, whole_gaps), (split, split_gaps) = _both(
        orders, rules=["missing_order", "orphan_order"]
    )
    assert ("orphan_order", "stray", "oms") in fired(whole)
    assert {o for r, o, _ in fired(whole) if r == "missing_order"} == {
        str(n) for n in range(1, 20, 2)
    }
    assert_frame_equal(split, whole)
    assert split_gaps == whole_gaps


def test_more_buckets_than_one_sink_writes_are_split_in_several_passes(monkeypatch):
    """Beyond MAX_OPEN_PARTITIONS buckets each pass writes one group of them: every order
    still lands in its own bucket, whole, and orders sharing a number still meet."""
    monkeypatch.setattr(buckets, "MAX_OPEN_PARTITIONS", 3)
    orders = [
        *[
            row("tb", str(n), status="paid", paid_at=ago(days=2), created_at=ago(days=2))
            for n in range(20)
        ],
        *[row("oms", str(n), status="paid", created_at=ago(days=2)) for n in range(0, 20, 2)],
        *[
            row(
                "tb",
                f"s{n}",
                status="shipped",
                shipped_at=ago(hours=30),
                tracking_no="T",
                carrier="zto",
                receiver_phone=f"1380000000{n}",
            )
            for n in range(1, 3)
        ],
        *[
            row("tb", n, status="shipped", shipped_at=ago(hours=30), tracking_no=n, carrier="zto")
            for n in ("G1", "H1")
        ],
    ]
    # The shared number's courier record sits in the shared-number bucket, written by the
    # last pass; H1 was never scanned.
    scanned = {"tracking_status": "in_transit", "first_scan_at": ago(hours=28)}
    tracking = [track("T", **scanned), track("G1", **scanned), track("H1")]
    # Order 3's address changed three times within a day; order 5's did not change at all.
    history = [
        *[{**r, PULLED_AT: AS_OF - timedelta(days=30)} for r in orders],
        *[
            {
                **row("tb", n, status="paid", paid_at=ago(days=2), created_at=ago(days=2)),
                "address": f"v{i}",
                PULLED_AT: ago(hours=h),
            }
            for n in ("3", "5")
            for i, h in enumerate([30, 20, 10, 5])
            if n == "3" or i == 0
        ],
    ]
    rules = ["missing_order", "orphan_order", "tracking_reused", "frequent_changes"]
    rules.append("ghost_shipment")
    whole, whole_gaps = judge(orders, tracking, history, rules=rules)
    split, split_gaps = judge(orders, tracking, history, rules=rules, rows_per_bucket=1)
    assert {("tracking_reused", "s1", "T"), ("tracking_reused", "s2", "T")} <= fired(whole)
    assert fired(whole, "ghost_shipment") == {("ghost_shipment", "H1", "H1")}
    assert len({o for r, o, _ in fired(whole) if r == "missing_order"}) == 10
    assert fired(whole, "frequent_changes") == {("frequent_changes", "3", "tb")}
    assert_frame_equal(split, whole)
    assert split_gaps == whole_gaps


def test_not_checked_counts_add_up_over_buckets():
    """Parcels of a carrier no courier source covers: one not-checked entry, all orders."""
    orders = [
        row(
            "tb",
            str(n),
            status="shipped",
            shipped_at=ago(hours=40),
            tracking_no=f"SF{n}",
            carrier="sf",
        )
        for n in range(12)
    ]
    tracking = [track("Z1", carrier="zto")]
    (whole, whole_gaps), (split, split_gaps) = _both(orders, tracking, rules=["ghost_shipment"])
    assert whole.is_empty() and split.is_empty()
    assert split_gaps == whole_gaps
    assert [(g.rule, g.orders) for g in whole_gaps if "sf" in g.scope] == [("ghost_shipment", 12)]


def test_history_is_cut_at_as_of_and_narrowed():
    """The split writes history once; it must carry what the rules read and nothing later."""
    history = orders_frame(
        [
            {**row("tb", "1", status="paid"), PULLED_AT: AS_OF - timedelta(days=1)},
            {**row("tb", "1", status="refunded"), PULLED_AT: AS_OF + timedelta(days=1)},
        ]
    )
    cut = read_history(history, AS_OF).collect()
    assert cut.get_column("status").cast(pl.String).to_list() == ["paid"]
    assert "tracking_no" not in cut.columns and PULLED_AT in cut.columns


def test_a_scoped_run_in_buckets_judges_the_same_orders():
    """--since with buckets: only orders paid in range are judged, by the whole store's facts."""
    orders = [
        *[
            row("tb", str(n), status="paid", paid_at=ago(days=n), created_at=ago(days=n))
            for n in range(1, 9)
        ],
        *[row("oms", str(n), status="paid", created_at=ago(days=n)) for n in range(2, 9, 2)],
    ]
    since = ago(days=4, hours=12)
    whole = judge(orders, rules=["missing_order"], since=since)
    split = judge(orders, rules=["missing_order"], since=since, rows_per_bucket=1)
    assert {o for _, o, _ in fired(whole[0])} == {"1", "3"}
    assert_frame_equal(split[0], whole[0])
    assert split[1] == whole[1]


def test_a_scoped_split_reads_every_spelling_of_an_order_and_no_other_period():
    """--since in buckets first narrows the store to ranges of the scope's stored ids. The OMS
    spells order 1003 with a leading space, which sorts before every normal id: ranges of the
    normalised ids would leave that row out, and 1003 would be reported missing from the OMS.
    The old orders of another id range are outside the scope and must stay unjudged."""
    recent = [
        row("tb", str(1000 + n), status="paid", paid_at=ago(days=n), created_at=ago(days=n))
        for n in range(1, 6)
    ]
    old = [
        row("tb", str(900_000 + n), status="paid", paid_at=ago(days=40), created_at=ago(days=40))
        for n in range(4)
    ]
    oms = [
        row("oms", " 1003", status="paid", created_at=ago(days=3)),
        row("oms", "1001", status="paid", created_at=ago(days=1)),
    ]
    orders = [*recent, *old, *oms]
    since = ago(days=4, hours=12)
    whole = judge(orders, rules=["missing_order"], since=since)
    split = judge(orders, rules=["missing_order"], since=since, rows_per_bucket=1)
    assert {o for _, o, _ in fired(whole[0])} == {"1002", "1004"}
    assert_frame_equal(split[0], whole[0])


def test_an_unwritable_scratch_directory_is_a_clear_error(tmp_path, monkeypatch):
    import tempfile

    from ordersync.errors import StoreError

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(blocker))
    orders = [row("tb", str(n), status="paid", paid_at=ago(days=1)) for n in range(5)]
    try:
        judge(orders, rows_per_bucket=1)
    except StoreError as exc:
        assert "TMPDIR" in str(exc) and str(blocker) in str(exc)
        assert exc.exit_code == 2
    else:
        raise AssertionError("expected a StoreError")


def _scratch_in(tmp_path, monkeypatch):
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def _disk_with(monkeypatch, free: int):
    import shutil

    total = 10**12
    usage = SimpleNamespace(total=total, used=total - free, free=free)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)


def _some_orders(n=40):
    return [row("tb", str(k), status="paid", paid_at=ago(days=1)) for k in range(n)]


def test_a_scratch_disk_without_room_stops_the_run_before_the_split(tmp_path, monkeypatch):
    from ordersync.errors import StoreError

    scratch = _scratch_in(tmp_path, monkeypatch)
    _disk_with(monkeypatch, free=100)  # bytes: less than any split of 40 orders takes
    sunk = []
    monkeypatch.setattr(buckets, "_sink_partitions", lambda *a, **k: sunk.append(a))
    with pytest.raises(StoreError) as caught:
        judge(_some_orders(), rows_per_bucket=1)
    message = str(caught.value)
    assert str(scratch) in message and "TMPDIR" in message
    assert "0 MB free" in message
    assert "a split of 40 order rows takes" in message
    assert not sunk, "nothing is written"
    assert list(scratch.iterdir()) == [], "the scratch directory is removed"


@pytest.mark.parametrize(
    "failure",
    [
        "parquet: File out of specification: underlying IO error: No space left on device (os error 28)",
        # The same full disk, when it is the file's footer that cannot be written (a 50M run).
        "parquet: File out of specification: Invalid thrift: transport error",
    ],
)
def test_a_scratch_disk_that_fills_during_the_split_is_a_clear_error(
    tmp_path, monkeypatch, failure
):
    from ordersync.errors import StoreError

    scratch = _scratch_in(tmp_path, monkeypatch)
    real_sink = buckets._sink_partitions
    sinks = []

    def fill_the_disk(frame, folder, key, partitions):
        sinks.append(folder)
        if len(sinks) == 2:  # the history, after the order rows were written
            _disk_with(monkeypatch, free=1_000_000)
            raise pl.exceptions.ComputeError(failure)
        real_sink(frame, folder, key, partitions)

    monkeypatch.setattr(buckets, "_sink_partitions", fill_the_disk)
    with pytest.raises(StoreError, match=r"no space left on the disk \(1 MB free\); point TMPDIR"):
        judge(_some_orders(), rows_per_bucket=1)
    assert list(scratch.iterdir()) == [], "the scratch files are removed"


def test_a_split_failure_that_is_not_the_disk_is_not_disguised(tmp_path, monkeypatch):
    _scratch_in(tmp_path, monkeypatch)

    def broken(*args, **kwargs):
        raise pl.exceptions.ComputeError("some internal failure")

    monkeypatch.setattr(buckets, "_sink_partitions", broken)
    with pytest.raises(pl.exceptions.ComputeError, match="some internal failure"):
        judge(_some_orders(), rows_per_bucket=1)


def _string_bytes_held(frame: pl.DataFrame, column: str) -> int:
    """Bytes of string data the column's arrays keep alive (views share whole buffers)."""
    arrays = frame.get_column(column).to_arrow(compat_level=pl.CompatLevel.newest())
    chunks = getattr(arrays, "chunks", [arrays])
    return sum(b.size for chunk in chunks for b in chunk.buffers()[2:] if b is not None)


def test_a_judged_piece_keeps_none_of_its_strings(tmp_path):
    """A string column is views into shared buffers: unless copied out, the findings of a
    piece kept the string buffers they came from alive until the run ended, and a 50M-order
    run's peak grew with every piece judged (to 12.1 GB; 5.8 GB with them copied out)."""
    ids = [str(3_000_000_000_000_000_000 + n * 7919) for n in range(20_000)]
    orders = [row("tb", i, status="paid", paid_at=ago(hours=5), amount=10) for i in ids]
    orders += [
        row("oms", i, status="paid", amount=10 if n % 100 else 11) for n, i in enumerate(ids)
    ]
    # Read from parquet, as the split's pieces are.
    orders_frame(orders).sink_parquet(tmp_path / "piece.parquet")
    config = make_config()
    rows, tracking = pl.scan_parquet(tmp_path / "piece.parquet"), tracking_frame([])
    facts = survey(config, rows, tracking)
    view = build_view(config, rows, tracking, rows, as_of=AS_OF, scope_ids=None, facts=facts)
    hit_frames, _, _ = run._judge(config, view, ("amount_mismatch",))
    hits = pl.concat(hit_frames)
    assert sorted(hits.get_column(s.ORDER_ID)) == sorted(ids[::100])
    # 200 ids of 19 bytes and their views take ~7 kB; the 20,000 ids read take ~380 kB.
    assert _string_bytes_held(hits, s.ORDER_ID) < 50_000
