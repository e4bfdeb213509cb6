"""Each pull keeps its source's profile (ordersync.profiles), so a run needs no survey scan."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from polars.testing import assert_frame_equal
from storekit import T0, apply, order

from ordersync import profiles
from ordersync import schema as s
from ordersync.config import config_from_dict
from ordersync.engine.view import from_profiles, prepare_orders, survey


def _day(n: float):
    return T0 - timedelta(days=n)


def _scanned(store) -> tuple[pl.DataFrame, pl.DataFrame]:
    orders = profiles.order_profile(store.orders()).collect()
    carriers = profiles.carrier_profile(store.tracking()).collect()
    return orders, carriers


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(pl.all(), nulls_last=True)


def _assert_same_as_scan(store) -> None:
    kept = store.profiles()
    assert kept is not None
    for kept_part, scanned_part in zip(kept, _scanned(store), strict=True):
        assert_frame_equal(_sorted(kept_part), _sorted(scanned_part))


def _oms(order_id: str, **fields):
    return order(
        order_id, source="oms", source_kind="oms", channel=None, raw_status="已审核", **fields
    )


def test_the_profile_follows_new_changed_and_untouched_rows(store, make_read):
    apply(
        store,
        make_read(
            [
                order("1", created_at=_day(3), paid_at=_day(3)),
                order("2", created_at=_day(2), paid_at=_day(2)),
                order("3", created_at=None, paid_at=None, shipped_at=_day(1)),
            ]
        ),
    )
    apply(store, make_read([_oms("1", created_at=_day(3))], source="oms"))
    _assert_same_as_scan(store)

    # Order 1 held the earliest date: re-dated, the channel's period starts a day later.
    apply(
        store,
        make_read([order("1", created_at=_day(1), paid_at=_day(1), updated_at=T0 + timedelta(1))]),
        at=T0 + timedelta(hours=1),
    )
    kept_orders, _ = store.profiles()
    taobao = kept_orders.filter(pl.col(s.SOURCE) == "taobao").row(0, named=True)
    assert taobao[profiles.ROWS] == 3
    assert (taobao[profiles.CHANNEL_START], taobao[profiles.CHANNEL_END]) == (_day(2), _day(1))
    # Order 3 has only a shipping date: it counts for the period of any row, not the channel's.
    assert (taobao[profiles.START], taobao[profiles.END]) == (_day(2), _day(1))
    oms = kept_orders.filter(pl.col(s.SOURCE) == "oms").row(0, named=True)
    assert (oms[profiles.ROWS], oms[profiles.START]) == (1, _day(3))
    _assert_same_as_scan(store)

    # A pull that writes nothing keeps the profile; compaction rewrites no content.
    apply(store, make_read([], files=["empty.csv"]), at=T0 + timedelta(hours=2))
    store.compact()
    _assert_same_as_scan(store)


def test_carrier_sources_profile_their_carriers(store, make_read):
    tracks = [
        {s.SOURCE: "kd100", s.TRACKING_NO: "SF1", s.CARRIER: "sf", s.LAST_EVENT_AT: T0},
        {s.SOURCE: "kd100", s.TRACKING_NO: "YT2", s.CARRIER: "yto", s.LAST_EVENT_AT: T0},
        {s.SOURCE: "kd100", s.TRACKING_NO: "X3", s.CARRIER: None, s.LAST_EVENT_AT: T0},
    ]
    apply(store, make_read(source="kd100", tracking=tracks))
    # The only yto parcel turns out to be sf's: yto is no longer named by any row.
    moved = {**tracks[1], s.CARRIER: "sf", s.LAST_EVENT_AT: T0 + timedelta(hours=1)}
    apply(store, make_read(source="kd100", tracking=[moved]), at=T0 + timedelta(hours=1))
    _, carriers = store.profiles()
    assert dict(carriers.select(s.CARRIER, profiles.ROWS).iter_rows()) == {"sf": 2, None: 1}
    _assert_same_as_scan(store)


def test_the_survey_from_profiles_is_the_survey_of_the_rows(store, make_read):
    apply(store, make_read([order("1", created_at=_day(3)), order("2", created_at=_day(1))]))
    apply(
        store,
        make_read([_oms("1", created_at=_day(2)), _oms("9", created_at=_day(5))], source="oms"),
    )
    tracks = [{s.SOURCE: "kd100", s.TRACKING_NO: "SF1", s.CARRIER: "sf", s.LAST_EVENT_AT: T0}]
    apply(store, make_read(source="kd100", tracking=tracks))
    config = config_from_dict({})
    kept = from_profiles(config, *store.profiles())
    scanned = survey(config, prepare_orders(store.orders()), store.tracking())
    assert kept.to_dict() == scanned.to_dict()
    assert kept.sources == scanned.sources
    assert kept.to_dict()["sources"]["oms"] == ["oms", _day(5).isoformat()]
    assert kept.covered_carriers == frozenset({"sf"})
    assert kept.ids_normal and scanned.ids_normal
    # An id a reader let through with a stray quote: readers of the store must look ids up.
    apply(store, make_read([_oms("7'", created_at=_day(2))], source="oms"), at=T0 + timedelta(1))
    assert not from_profiles(config, *store.profiles()).ids_normal


def test_a_store_from_before_profiles_falls_back_and_heals(store, make_read, monkeypatch):
    with monkeypatch.context() as older:
        # an ordersync that kept no profile in the pull log
        older.setattr(profiles, "to_json", lambda *_: None)
        apply(store, make_read([order("1", created_at=_day(3))]))
    assert store.profiles() is None
    # A pull that writes nothing takes the profile from the stored rows.
    apply(store, make_read([], files=["empty.csv"]), at=T0 + timedelta(hours=1))
    _assert_same_as_scan(store)
    apply(store, make_read([order("2", created_at=_day(9))]), at=T0 + timedelta(hours=2))
    kept_orders, _ = store.profiles()
    assert kept_orders.item(0, profiles.START) == _day(9)
    assert kept_orders.item(0, profiles.ROWS) == 2
    _assert_same_as_scan(store)


def test_carrier_profiles_count_numbers_stored_with_blanks(store, make_read):
    tracks = [
        {s.SOURCE: "kd100", s.TRACKING_NO: " SF1", s.CARRIER: "sf", s.LAST_EVENT_AT: T0},
        {s.SOURCE: "kd100", s.TRACKING_NO: "SF2", s.CARRIER: "sf", s.LAST_EVENT_AT: T0},
    ]
    apply(store, make_read(source="kd100", tracking=tracks))
    _, carriers = store.profiles()
    assert carriers.item(0, profiles.ODD_NUMBERS) == 1
    _assert_same_as_scan(store)
    assert not from_profiles(config_from_dict({}), *store.profiles()).numbers_normal


def test_a_profile_kept_without_a_newer_count_is_taken_again(store, make_read, monkeypatch):
    tracks = [{s.SOURCE: "kd100", s.TRACKING_NO: "SF1", s.CARRIER: "sf", s.LAST_EVENT_AT: T0}]
    original = profiles.to_json
    with monkeypatch.context() as older:
        # an ordersync that did not count numbers stored with blanks
        older.setattr(
            profiles,
            "to_json",
            lambda orders, carriers: original(orders, carriers.drop(profiles.ODD_NUMBERS)),
        )
        apply(store, make_read(source="kd100", tracking=tracks))
    config = config_from_dict({})
    assert not profiles.complete(store.profiles()[1])
    assert not from_profiles(config, *store.profiles()).numbers_normal
    # A pull that writes nothing takes the profile from the stored rows.
    apply(store, make_read(source="kd100", files=["empty.csv"]), at=T0 + timedelta(hours=1))
    assert profiles.complete(store.profiles()[1])
    assert from_profiles(config, *store.profiles()).numbers_normal
    _assert_same_as_scan(store)
