"""Recording pulls: what is new, changed, unchanged; current state, history, compaction."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal
from storekit import T0, apply, order

from ordersync import schema as s
from ordersync import store as store_module
from ordersync.errors import InputError, StoreError
from ordersync.store import ORDERS, PULL_ID, PULLED_AT, ROW_HASH, Store


def current(store: Store, **kwargs) -> pl.DataFrame:
    return store.orders(**kwargs).collect().sort(s.ORDER_ID, s.SHIPMENT_ID, s.SOURCE)


@contextlib.contextmanager
def _pull_log_without(column: str, monkeypatch) -> Iterator[pytest.MonkeyPatch]:
    """Pulls recorded as an ordersync from before `column` joined the pull log recorded them."""
    real = Store._append

    def append_as_before(self, path, frame, **kwargs):
        if path.name == "pulls":
            frame = frame.drop(column)
        return real(self, path, frame, **kwargs)

    with monkeypatch.context() as before:
        before.setattr(Store, "_append", append_as_before)
        yield before


def test_first_pull_records_every_row_as_new(store, make_read):
    stats = apply(store, make_read([order("1"), order("2"), order("3")]))

    assert (stats.new, stats.changed, stats.unchanged) == (3, 0, 0)
    rows = current(store)
    assert rows.get_column(s.ORDER_ID).to_list() == ["1", "2", "3"]
    assert rows.schema == {
        **s.ORDERS_SCHEMA,
        PULL_ID: pl.String(),
        PULLED_AT: s.Timestamp,
        ROW_HASH: pl.Int64(),
    }
    assert rows.get_column(s.STATUS).to_list() == ["paid"] * 3
    assert rows.get_column(s.AMOUNT).to_list() == [Decimal("59.90")] * 3
    assert rows.get_column(s.ITEMS).to_list()[0] == [{"sku": "A", "qty": 1}]
    assert rows.get_column(PULLED_AT).unique().to_list() == [T0]


def test_an_empty_store_reads_as_empty_frames(tmp_path):
    store = Store(tmp_path / "nothing-here")

    assert store.orders().collect().is_empty()
    assert store.order_history().collect().is_empty()
    assert store.tracking().collect().is_empty()
    assert store.pulls().is_empty()
    assert store.known_files("taobao") == set()
    assert store.last_pull_at() is None
    assert not (tmp_path / "nothing-here").exists()


@pytest.mark.parametrize("full", [False, True])
def test_pulling_the_same_rows_again_changes_nothing(store, make_read, full):
    rows = [order("1"), order("2")]
    apply(store, make_read(rows))
    before = current(store)

    stats = apply(store, make_read(rows), at=T0 + timedelta(hours=1), full=full)

    assert (stats.new, stats.changed, stats.unchanged) == (0, 0, 2)
    assert_frame_equal(current(store), before)
    assert store.order_history().collect().height == 2


def test_where_a_row_came_from_is_not_a_change(store, make_read):
    apply(store, make_read([order("1", source_file="day1.csv", source_row=2)]))

    stats = apply(store, make_read([order("1", source_file="day2.csv", source_row=40)]))

    assert (stats.new, stats.changed, stats.unchanged) == (0, 0, 1)


def test_a_changed_row_is_a_new_version_and_history_keeps_both(store, make_read):
    apply(store, make_read([order("1"), order("2")]))
    later = T0 + timedelta(hours=3)

    stats = apply(
        store,
        make_read([order("1", status="shipped", updated_at=later), order("2")]),
        at=later,
    )

    assert (stats.new, stats.changed, stats.unchanged) == (0, 1, 1)
    assert current(store).filter(pl.col(s.ORDER_ID) == "1").get_column(s.STATUS).to_list() == [
        "shipped"
    ]
    history = store.order_history().collect().filter(pl.col(s.ORDER_ID) == "1").sort(PULLED_AT)
    assert history.get_column(s.STATUS).to_list() == ["paid", "shipped"]
    assert history.get_column(PULLED_AT).to_list() == [T0, later]
    assert store.order_history(since=later).collect().height == 1


def test_an_order_missing_from_a_later_export_stays_current(store, make_read):
    apply(store, make_read([order("1"), order("2")]))

    apply(store, make_read([order("2")]), at=T0 + timedelta(days=1))

    assert current(store).get_column(s.ORDER_ID).to_list() == ["1", "2"]


def test_shipments_of_one_order_are_separate_rows(store, make_read):
    wms = {s.SOURCE: "wms", s.SOURCE_KIND: "warehouse", s.CHANNEL: None}
    rows = [order("1", shipment_id="P1", **wms), order("1", shipment_id="P2", **wms)]

    stats = apply(store, make_read(rows, source="wms"))

    assert stats.new == 2
    assert current(store, sources=["wms"]).get_column(s.SHIPMENT_ID).to_list() == ["P1", "P2"]


def test_a_missing_shipment_id_is_the_empty_key(store, make_read):
    apply(store, make_read([order("1", shipment_id=None)]))

    stats = apply(store, make_read([order("1", shipment_id="")]))

    assert stats.unchanged == 1
    assert current(store).get_column(s.SHIPMENT_ID).to_list() == [""]


def test_overlapping_exports_in_one_pull_keep_the_latest_update(store, make_read):
    later = T0 + timedelta(hours=5)
    rows = [
        order("1", status="shipped", updated_at=later, source_file="b.csv"),
        order("1", status="paid", updated_at=T0, source_file="a.csv"),
    ]

    stats = apply(store, make_read(rows, files=["a.csv", "b.csv"]))

    assert stats.new == 1
    assert current(store).get_column(s.STATUS).to_list() == ["shipped"]


def test_without_update_times_the_later_file_wins(store, make_read):
    rows = [
        order("1", status="shipped", updated_at=None, source_file="b.csv"),
        order("1", status="paid", updated_at=None, source_file="a.csv"),
    ]

    apply(store, make_read(rows, files=["a.csv", "b.csv"]))

    assert current(store).get_column(s.STATUS).to_list() == ["shipped"]


def test_re_reading_an_older_export_does_not_roll_back(store, make_read):
    later = T0 + timedelta(hours=5)
    apply(store, make_read([order("1", status="shipped", updated_at=later)]))

    stats = apply(store, make_read([order("1", status="paid", updated_at=T0)]), at=later)

    assert (stats.new, stats.changed, stats.unchanged) == (0, 0, 1)
    assert any("older than the version already stored" in note for note in stats.notes)
    assert current(store).get_column(s.STATUS).to_list() == ["shipped"]


def test_sources_are_kept_apart(store, make_read):
    apply(store, make_read([order("1")]))
    oms = {s.SOURCE: "oms", s.SOURCE_KIND: "oms"}
    apply(store, make_read([order("1", **oms)], source="oms"))

    assert sorted(current(store).get_column(s.SOURCE).to_list()) == ["oms", "taobao"]
    assert current(store, sources=["oms"]).get_column(s.SOURCE).to_list() == ["oms"]


def test_the_pull_log_is_the_cursor(store, make_read):
    read = make_read(
        [order("1"), order("2")],
        files=["exports/day1.csv"],
        notes=("2 rows had no amount",),
    )
    read = type(read)(
        **{**read.__dict__, "unmapped_statuses": {"待审核": 2}, "unknown_carriers": {"飞鸽": 1}}
    )

    apply(store, read)

    pulls = store.pulls()
    assert pulls.height == 1
    row = pulls.row(0, named=True)
    assert row[s.SOURCE] == "taobao"
    assert (row["rows_read"], row["new"], row["changed"], row["unchanged"]) == (2, 2, 0, 0)
    assert row["status"] == "committed"
    assert row["full"] is False
    assert row["files"] == [
        {"path": "exports/day1.csv", "size": 100, "mtime_ns": 1, "sha256": read.files[0].sha256}
    ]
    assert json.loads(row["unmapped_statuses"]) == {"待审核": 2}
    assert json.loads(row["unknown_carriers"]) == {"飞鸽": 1}
    assert row["notes"] == ["2 rows had no amount"]
    assert store.known_files("taobao") == {read.files[0].sha256}
    assert store.known_files("oms") == set()
    assert store.last_pull_at() == T0


def test_a_header_only_export_is_a_quiet_day(store, make_read):
    stats = apply(store, make_read([], files=["empty.csv"]))

    assert (stats.rows_read, stats.new) == (0, 0)
    assert any("no rows" in note for note in stats.notes)
    assert store.known_files("taobao") == {store.pulls().item(0, "files")[0]["sha256"]}


def test_rows_without_an_order_id_are_refused(store, make_read):
    with pytest.raises(InputError, match="no order_id") as caught:
        apply(store, make_read([order("1"), order(None, source_row=7)]))

    assert caught.value.row == 7
    assert store.pulls().is_empty()


def test_apply_pull_needs_the_write_lock(store, make_read):
    with pytest.raises(StoreError, match="writing"):
        store.apply_pull(make_read([order("1")]), full=False, started_at=T0, pulled_at=T0)


def test_naive_timestamps_are_refused(store, make_read):
    with pytest.raises(StoreError, match="no timezone"), store.writing():
        store.apply_pull(
            make_read([order("1")]), full=False, started_at=T0.replace(tzinfo=None), pulled_at=T0
        )


# --- tracking ---------------------------------------------------------------------------


def track(tracking_no: str, **fields):
    row = {
        s.SOURCE: "kuaidi100",
        s.TRACKING_NO: tracking_no,
        s.CARRIER: "zto",
        s.TRACKING_STATUS: "in_transit",
        s.FIRST_SCAN_AT: T0,
        s.LAST_EVENT_AT: T0,
        s.EVENT_COUNT: 2,
        s.SOURCE_FILE: "tracks.csv",
    }
    row.update(fields)
    return row


def test_tracking_keeps_the_latest_version_per_number(store, make_read):
    apply(store, make_read(tracking=[track("ZT1"), track("ZT2")], source="kuaidi100"))
    later = T0 + timedelta(days=1)

    stats = apply(
        store,
        make_read(
            tracking=[
                track(
                    "ZT1",
                    tracking_status="delivered",
                    last_event_at=later,
                    delivered_at=later,
                    event_count=5,
                )
            ],
            source="kuaidi100",
        ),
        at=later,
    )

    assert (stats.new, stats.changed) == (0, 1)
    tracking = store.tracking().collect().sort(s.TRACKING_NO)
    assert tracking.columns == [*s.TRACKING_SCHEMA, PULL_ID, PULLED_AT]
    assert tracking.get_column(s.TRACKING_STATUS).to_list() == ["delivered", "in_transit"]
    assert store.tracking_history().collect().height == 3
    assert store.orders().collect().is_empty()


# --- a pull that dies half way ------------------------------------------------------------


def _die_before_commit(monkeypatch):
    """Make the pull-log write (the commit point) fail, as if the process were killed there."""
    real = Store._append

    def append(self, path, frame, **kwargs):
        if path.name == "pulls":
            raise KeyboardInterrupt("killed")
        return real(self, path, frame, **kwargs)

    monkeypatch.setattr(Store, "_append", append)


def test_rows_of_a_pull_that_never_committed_are_invisible(store, make_read, monkeypatch):
    apply(store, make_read([order("1")]))
    before = current(store)
    _die_before_commit(monkeypatch)

    with pytest.raises(KeyboardInterrupt):
        apply(
            store, make_read([order("1", status="shipped"), order("2")]), at=T0 + timedelta(hours=1)
        )

    monkeypatch.undo()
    assert_frame_equal(current(store), before)
    assert store.order_history().collect().height == 1
    assert store.pulls().height == 1

    # The retry is judged against what was committed, not against the orphaned rows.
    stats = apply(
        store, make_read([order("1", status="shipped"), order("2")]), at=T0 + timedelta(hours=2)
    )
    assert (stats.new, stats.changed, stats.unchanged) == (1, 1, 0)
    assert current(store).get_column(s.STATUS).to_list() == ["shipped", "paid"]

    store.compact()
    assert store.order_history().collect().height == 3
    raw_log = pl.scan_delta(str(store.path / "orders" / "log")).collect()
    assert raw_log.height == 3, "compaction deletes the rows of the pull that died"


# --- compaction ---------------------------------------------------------------------------


def _pull_days(store, make_read, days: int):
    for day in range(days):
        at = T0 + timedelta(days=day)
        rows = [order(str(i), amount=Decimal(day + i), updated_at=at) for i in range(day % 3, 6)]
        apply(store, make_read(rows), at=at)


def test_compaction_keeps_every_answer(store, make_read):
    _pull_days(store, make_read, 5)
    current_before = current(store)
    history_before = store.order_history().collect().sort(PULL_ID, s.ORDER_ID)

    store.compact()

    assert (store.path / "orders" / "current" / "_delta_log").is_dir()
    assert_frame_equal(current(store), current_before)
    assert_frame_equal(store.order_history().collect().sort(PULL_ID, s.ORDER_ID), history_before)

    # Pulls after a compaction are read on top of the snapshot.
    apply(
        store,
        make_read([order("0", amount=Decimal("1.00"), updated_at=T0 + timedelta(days=9))]),
        at=T0 + timedelta(days=9),
    )
    apply(store, make_read([order("9")]), at=T0 + timedelta(days=9))
    now = current(store)
    assert now.filter(pl.col(s.ORDER_ID) == "0").get_column(s.AMOUNT).to_list() == [Decimal("1.00")]
    assert now.height == 7
    assert apply(store, make_read([order("9")])).unchanged == 1
    store.compact()
    assert_frame_equal(current(store), now)


def test_compaction_writes_the_store_format_it_reads(store, make_read):
    """Merging small files keeps the store's codec and row groups: the merge's own defaults
    (zstd, ~1M-row groups) made a 10M-order store's readers hold whole groups of carrier rows."""
    _pull_days(store, make_read, 5)
    apply(store, make_read(tracking=[{"source": "taobao", "tracking_no": "T1"}]))
    apply(store, make_read(tracking=[{"source": "taobao", "tracking_no": "T2"}]))
    store.compact()
    files = [p for p in store.path.rglob("*.parquet") if "_delta_log" not in p.parts]
    live = {
        (table / path).resolve()
        for table in {p.parent.parent for p in files} | {p.parent for p in files}
        if (table / "_delta_log").is_dir()
        for path in DeltaTable(str(table)).get_add_actions(flatten=True).column("path").to_pylist()
    }
    assert len(live) >= 5  # orders and tracking, each a log and a snapshot; the pulls
    for path in live:
        metadata = pq.ParquetFile(path).metadata
        codecs = {
            metadata.row_group(g).column(c).compression
            for g in range(metadata.num_row_groups)
            for c in range(metadata.num_columns)
        }
        assert codecs == {"SNAPPY"}, path
        assert all(
            metadata.row_group(g).num_rows <= store_module.ROW_GROUP_ROWS
            for g in range(metadata.num_row_groups)
        )


def _data_files(table) -> dict[str, int]:
    """The data files a Delta table tracks: their inodes."""
    return {
        path: (table / path).stat().st_ino
        for path in DeltaTable(str(table)).get_add_actions(flatten=True).column("path").to_pylist()
    }


def test_pulls_that_only_add_orders_join_the_snapshot_as_they_are(store, make_read, monkeypatch):
    """A snapshot followed by pulls of new orders only: compaction links the log's files into
    it (one copy on disk) and reads the same; a pull that changes a row makes it rewrite."""
    # Files this small are merged by the tidy-up afterwards; real pulls' files are not.
    monkeypatch.setattr(Store, "_tidy", lambda self, path: None)
    apply(store, make_read([order("1"), order("2")]))
    store.compact()
    apply(store, make_read([order("3"), order("4")]), at=T0 + timedelta(hours=1))
    apply(store, make_read([order("5")]), at=T0 + timedelta(hours=2))
    expected = current(store)
    history = store.order_history().collect().sort(PULL_ID, s.ORDER_ID)

    store.compact()

    assert_frame_equal(current(store), expected)
    assert_frame_equal(store.order_history().collect().sort(PULL_ID, s.ORDER_ID), history)
    snapshot = _data_files(store.path / "orders" / "current")
    log = _data_files(store.path / "orders" / "log")
    assert len(snapshot) == 3 and set(snapshot.values()) <= set(log.values())
    _, marks = store._snapshot(ORDERS)
    assert marks.get_column("_mark").to_list() == [store.pulls().get_column(PULL_ID).max()]
    assert apply(store, make_read([order("5"), order("6")]), at=T0 + timedelta(hours=3)).new == 1

    later = T0 + timedelta(hours=4)
    apply(store, make_read([order("2", status="shipped", updated_at=later)]), at=later)
    expected = current(store)
    assert expected.height == 6
    store.compact()
    assert_frame_equal(current(store), expected)
    snapshot = _data_files(store.path / "orders" / "current")
    assert not set(snapshot.values()) & set(_data_files(store.path / "orders" / "log").values())


def test_snapshot_marks_from_file_statistics_match_the_data(store, make_read, monkeypatch):
    """Readers take each source's newest snapshot pull from the commit log's file statistics;
    without them (files written by another tool) from the data, with the same answer."""
    _pull_days(store, make_read, 3)
    store.compact()  # the first snapshot adopts the log's files (statistics written by us)
    apply(
        store,
        make_read([order("0", amount=Decimal("2.00"), updated_at=T0 + timedelta(days=9))]),
        at=T0 + timedelta(days=9),
    )
    store.compact()  # rewritten by deltalake's writer (its own statistics)
    apply(store, make_read([order("7")]), at=T0 + timedelta(days=10))
    _, marks = store._snapshot(ORDERS)
    newest = store.pulls().filter(pl.col("new") + pl.col("changed") > 0).get_column(PULL_ID)
    assert marks.to_dicts() == [{s.SOURCE: "taobao", "_mark": newest[-2]}]
    expected = current(store)
    assert expected.height == 7

    monkeypatch.setattr(
        DeltaTable, "get_add_actions", lambda self, flatten=False: pa.table({"path": ["x"]})
    )
    _, scanned = store._snapshot(ORDERS)
    assert_frame_equal(scanned, marks)
    assert_frame_equal(current(store), expected)


def test_a_compaction_interrupted_between_sources_reads_correctly(store, make_read, monkeypatch):
    oms = {s.SOURCE: "oms", s.SOURCE_KIND: "oms"}
    apply(store, make_read([order("1"), order("2")]))
    apply(store, make_read([order("1", **oms)], source="oms"))
    store.compact()
    later = T0 + timedelta(hours=1)
    apply(
        store,
        make_read([order("1", status="shipped", updated_at=later, **oms)], source="oms"),
        at=later,
    )
    apply(store, make_read([order("2", status="shipped", updated_at=later)]), at=later)
    expected = current(store)

    real = Store._overwrite
    calls = []

    def overwrite_one_source_then_die(self, path, frame, **kwargs):
        if calls:
            raise KeyboardInterrupt("killed")
        calls.append(path)
        return real(self, path, frame, **kwargs)

    monkeypatch.setattr(Store, "_overwrite", overwrite_one_source_then_die)
    with pytest.raises(KeyboardInterrupt):
        store.compact()
    monkeypatch.undo()

    assert calls, "one source's snapshot was replaced before the interruption"
    assert_frame_equal(current(store), expected)
    assert_frame_equal(current(store, sources=["oms"]), expected.filter(pl.col(s.SOURCE) == "oms"))
    store.compact()
    assert_frame_equal(current(store), expected)


def test_compaction_is_due_after_many_pulls(store, make_read, monkeypatch):
    monkeypatch.setattr(store_module, "COMPACT_AFTER_PULLS", 3)
    assert not store.needs_compaction()
    _pull_days(store, make_read, 3)
    assert store.needs_compaction()

    store.compact()

    assert not store.needs_compaction()


def test_rows_hashed_by_another_polars_version_are_compared_by_content(
    store, make_read, monkeypatch
):
    monkeypatch.setattr(store_module, "_CURRENT_HASH_SCHEME", "polars-0.0.0/1")
    apply(store, make_read([order("1"), order("2")]))
    monkeypatch.undo()

    stats = apply(store, make_read([order("1"), order("2", status="shipped")]))

    assert (stats.new, stats.changed, stats.unchanged) == (0, 1, 1)
    store.compact()
    schemes = pl.scan_delta(str(store.path / "orders" / "current")).select("hash_scheme").collect()
    assert schemes.get_column("hash_scheme").unique().to_list() == [store_module.ORDERS.hash_scheme]
    assert apply(store, make_read([order("1"), order("2", status="shipped")])).unchanged == 2


def test_a_pull_log_written_before_a_column_joined_it_reads_that_column_as_null(
    store, make_read, monkeypatch
):
    with _pull_log_without("profile", monkeypatch):
        apply(store, make_read([order("1")]))
    first_file = DeltaTable(str(store.path / "pulls")).file_uris()
    assert "profile" not in pq.read_schema(first_file[0].removeprefix("file://")).names

    apply(store, make_read([order("2")]), at=T0 + timedelta(hours=1))

    pulls = store.pulls()
    assert pulls.columns == list(store_module.PULLS_SCHEMA)
    assert pulls.get_column("new").to_list() == [1, 1]
    profiles = pulls.get_column("profile").to_list()
    assert profiles[0] is None and profiles[1] is not None
    assert current(store).get_column(s.ORDER_ID).to_list() == ["1", "2"]


def test_each_version_carries_the_change_fingerprint_the_engine_would_compute(store, make_read):
    a, b = {"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}
    apply(store, make_read([order("1", items=[a, b]), order("2")]))
    later = T0 + timedelta(hours=1)
    moved = order("2", address="浙江省杭州市西湖区文三路2号", updated_at=later)
    apply(store, make_read([order("1", items=[b, a], updated_at=later), moved]), at=later)

    history = store.order_history().collect().sort(s.ORDER_ID, PULLED_AT)
    assert history.height == 4
    stored = history.get_column(s.CHANGE_FP)
    assert stored.to_list() == history.select(s.change_fingerprint()).to_series().to_list()
    # the same lines in another order are the same items; a new address is a change
    assert stored[0] == stored[1]
    assert stored[2] != stored[3]


def _pull_as_before_fingerprints(store, make_read, monkeypatch) -> None:
    """Two pulls as an ordersync from before change fingerprints wrote them: none in the
    orders log, no column for them in the pull log."""
    with _pull_log_without("change_fp", monkeypatch) as before:
        before.setattr(store_module, "ORDERS", dataclasses.replace(ORDERS, fingerprinted=False))
        apply(store, make_read([order("1"), order("2")]))
        moved = order(
            "2", address="浙江省杭州市西湖区文三路2号", updated_at=T0 + timedelta(hours=1)
        )
        apply(store, make_read([order("1"), moved]), at=T0 + timedelta(hours=1))


def test_compaction_gives_an_older_store_its_fingerprints(store, make_read, monkeypatch):
    _pull_as_before_fingerprints(store, make_read, monkeypatch)
    log_files = DeltaTable(str(store.path / "orders" / "log")).file_uris()
    assert all(
        s.CHANGE_FP not in pq.read_schema(f.removeprefix("file://")).names for f in log_files
    )
    assert store.pulls().get_column("change_fp").to_list() == [None, None]
    assert s.CHANGE_FP not in store.order_history().collect_schema().names()
    assert store.needs_compaction()

    store.compact()

    history = store.order_history().collect().sort(s.ORDER_ID, PULLED_AT)
    assert history.height == 3
    assert history.get_column(s.CHANGE_FP).to_list() == (
        history.select(s.change_fingerprint()).to_series().to_list()
    )
    assert store.pulls().get_column("change_fp").to_list() == [store_module._CHANGE_FP_SCHEME] * 2
    assert not store.needs_compaction()
    assert current(store).get_column(s.ADDRESS).to_list()[1].endswith("文三路2号")


@pytest.mark.parametrize("stopped_at", ["log", "pulls"])
def test_a_compaction_stopped_half_way_leaves_fingerprints_untrusted(
    store, make_read, monkeypatch, stopped_at
):
    """Stopped while rewriting the orders log, or before marking the pulls: no run may take
    the log's fingerprints (missing, or not all written) for comparable ones."""
    _pull_as_before_fingerprints(store, make_read, monkeypatch)
    real = Store._overwrite

    def fail_there(self, path, frame, **kwargs):
        if path.relative_to(store.path).parts[-1] == stopped_at and path.parent.name != "tracking":
            raise StoreError("killed")
        return real(self, path, frame, **kwargs)

    with monkeypatch.context() as stopped:
        stopped.setattr(Store, "_overwrite", fail_there)
        with pytest.raises(StoreError):
            store.compact()
    assert s.CHANGE_FP not in store.order_history().collect_schema().names()
    assert store.order_history().collect().height == 3

    store.compact()
    assert s.CHANGE_FP in store.order_history().collect_schema().names()


def test_the_row_hash_sees_every_content_column_and_where_a_value_sits():
    base = order("1", province="浙江省", city="杭州市", receiver_name="张三", tracking_no=["T1"])
    variants = {
        "base": base,
        "status": {**base, s.STATUS: "shipped"},
        "amount": {**base, s.AMOUNT: Decimal("59.91")},
        "swapped text columns": {**base, s.PROVINCE: "杭州市", s.CITY: "浙江省"},
        "a value moved to another column": {**base, s.RECEIVER_NAME: None, s.CARRIER: "张三"},
        "items": {**base, s.ITEMS: [{"sku": "A", "qty": 2}]},
        "tracking": {**base, s.TRACKING_NO: ["T2"]},
        "merged_with": {**base, s.MERGED_WITH: ["1", "2"]},
    }
    frame = s.conform(
        pl.DataFrame(list(variants.values()), infer_schema_length=None), ORDERS.schema
    )
    hashes = frame.select(store_module._hash_expr(ORDERS)).get_column(ROW_HASH).to_list()
    assert len(set(hashes)) == len(variants), dict(zip(variants, hashes, strict=True))

    elsewhere = {**base, s.SOURCE_FILE: "exports/taobao/day2.csv", s.SOURCE_ROW: 9}
    again = s.conform(pl.DataFrame([base, elsewhere], infer_schema_length=None), ORDERS.schema)
    first, second = again.select(store_module._hash_expr(ORDERS)).get_column(ROW_HASH)
    assert first == second, "where a row was read from is not content"


def test_a_column_added_to_the_schema_joins_the_store(store, make_read, monkeypatch):
    older = {k: v for k, v in s.ORDERS_SCHEMA.items() if k != s.MERGED_WITH}
    monkeypatch.setattr(
        store_module, "ORDERS", dataclasses.replace(store_module.ORDERS, schema=older)
    )
    apply(store, make_read([order("1"), order("2")]))
    monkeypatch.undo()

    stats = apply(store, make_read([order("1"), order("2", merged_with=["2", "3"])]))

    assert (stats.new, stats.changed, stats.unchanged) == (0, 1, 1)
    rows = current(store)
    assert rows.get_column(s.MERGED_WITH).to_list() == [None, ["2", "3"]]
    store.compact()
    # Compaction re-hashes the old row under the new schema; its content is unchanged.
    assert_frame_equal(current(store).drop(ROW_HASH), rows.drop(ROW_HASH))
    assert apply(store, make_read([order("1"), order("2", merged_with=["2", "3"])])).unchanged == 2


# --- the store directory ------------------------------------------------------------------


def test_a_store_of_another_layout_is_refused(tmp_path):
    (tmp_path / "FORMAT").write_text('{"format": 99}')

    with pytest.raises(StoreError, match="layout version 99"):
        Store(tmp_path).orders()


def test_a_file_is_not_a_store(tmp_path):
    (tmp_path / "data").write_text("")

    with pytest.raises(StoreError, match="is a file"):
        Store(tmp_path / "data").pulls()


def test_a_reader_sees_pulls_committed_by_another_process(store, make_read):
    reader = Store(store.path)
    assert reader.pulls().is_empty()
    apply(store, make_read([order("1")]))
    assert reader.pulls().height == 1
    assert reader.orders().collect().height == 1
    apply(store, make_read([order("2")]), at=T0 + timedelta(hours=1))
    assert reader.pulls().height == 2
    # the store removed and started again: the reader follows
    shutil.rmtree(store.path)
    apply(Store(store.path), make_read([order("3")]))
    assert reader.pulls().get_column(s.SOURCE).to_list() == ["taobao"]
    assert reader.orders().collect().get_column(s.ORDER_ID).to_list() == ["3"]


# --- a disk that fills up -----------------------------------------------------------------

# What Polars raises when the disk fills while it writes a parquet file (seen with a 40 MB
# tmpfs): a ComputeError, not an OSError.
DISK_FULL = (
    "parquet: File out of specification: underlying IO error: No space left on device (os error 28)"
)


def test_a_full_disk_is_a_clear_error_that_leaves_no_file_and_no_pull(
    store, make_read, monkeypatch
):
    apply(store, make_read([order("1")]))
    before = current(store)
    real = pl.DataFrame.write_parquet

    def fill_the_disk(self, file, **kwargs):
        Path(file).write_bytes(b"PAR1 half a file")
        raise pl.exceptions.ComputeError(DISK_FULL)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", fill_the_disk)
    with pytest.raises(
        StoreError, match=r"cannot write the store table .*: no space left on the disk"
    ):
        apply(store, make_read([order("1", status="shipped")]), at=T0 + timedelta(hours=1))
    monkeypatch.setattr(pl.DataFrame, "write_parquet", real)

    data_files = {p.name for p in store.path.rglob("*.parquet") if "_delta_log" not in p.parts}
    committed = {
        Path(uri).name
        for table in ("orders/log", "orders/current", "pulls")
        if (store.path / table / "_delta_log").is_dir()
        for uri in DeltaTable(str(store.path / table)).file_uris()
    }
    assert data_files == committed, "the half-written file is removed"
    assert_frame_equal(current(store), before)
    assert store.pulls().height == 1, "the failed pull is not recorded"

    stats = apply(store, make_read([order("1", status="shipped")]), at=T0 + timedelta(hours=2))
    assert stats.changed == 1


def test_a_polars_failure_that_is_not_the_disk_is_not_disguised(store, make_read, monkeypatch):
    def broken(self, file, **kwargs):
        raise pl.exceptions.ComputeError("some internal failure")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", broken)
    with pytest.raises(pl.exceptions.ComputeError, match="some internal failure"):
        apply(store, make_read([order("1")]))
