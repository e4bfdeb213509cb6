"""Reading only the rows of the orders in scope: the filter finds every spelling of an id and
is written so parquet statistics can skip row groups (ranges), without ever dropping a row."""

from __future__ import annotations

import polars as pl
from engine_world import AS_OF, ago, make_config, orders_frame, row, track, tracking_frame

from ordersync import profiles
from ordersync import schema as s
from ordersync.engine import evaluate
from ordersync.engine.view import order_ids_in, stored_order_ids, survey, within_ranges


def _kept(values: list[str], expr: pl.Expr) -> list[str]:
    frame = pl.DataFrame({s.ORDER_ID: values})
    return frame.filter(expr).get_column(s.ORDER_ID).to_list()


def test_ranges_hold_every_value_and_leave_out_the_gap_between_clusters():
    near = ["3412345718496235434", "3412345718496244658"]
    far = ["3412345678901237530", "3412345678901237531"]
    ranges = within_ranges(pl.col(s.ORDER_ID), pl.Series([*near, *far]), max_ranges=2)
    between = "3412345700000000000"
    assert _kept([*near, *far, between], ranges) == [*near, *far]


def test_ranges_over_text_ids_and_single_values():
    ids = ["PDD-231120-0007", "PDD-231120-0001", "A-9", "zz"]
    ranges = within_ranges(pl.col(s.ORDER_ID), pl.Series(ids), max_ranges=2)
    assert sorted(_kept(ids, ranges)) == sorted(ids)
    one = within_ranges(pl.col(s.ORDER_ID), pl.Series(["5"]))
    assert _kept(["4", "5", "50", "6"], one) == ["5"]


def test_an_id_filter_finds_every_stored_spelling():
    rows = orders_frame(
        [
            row("tb", "123"),
            row("oms", " 123"),
            row("wms", "123'"),
            row("oms", "1234"),
            row("tb", "456"),
        ]
    )

    def filter_for(ids: list[str], *, ids_normal: bool) -> pl.Expr:
        return order_ids_in(stored_order_ids(rows, pl.Series(ids), ids_normal=ids_normal))

    wanted = filter_for(["123", "789"], ids_normal=False)
    assert sorted(rows.filter(wanted).collect().get_column(s.ORDER_ID)) == [" 123", "123", "123'"]
    nothing = filter_for(["789"], ids_normal=False)
    assert rows.filter(nothing).collect().is_empty()
    # where the store vouches every id is in normal form, the ids are used as they are
    normal = filter_for(["123", "456"], ids_normal=True)
    assert sorted(rows.filter(normal).collect().get_column(s.ORDER_ID)) == ["123", "456"]


def test_the_profile_counts_ids_not_in_normal_form():
    rows = orders_frame([row("oms", " 123"), row("oms", "124"), row("oms", "125'")])
    profile = profiles.order_profile(rows).collect()
    assert profile.item(0, profiles.ODD_IDS) == 2
    assert profile.item(0, profiles.ROWS) == 3


def test_a_scoped_run_finds_courier_records_stored_with_blanks():
    """The carrier data holds " ZT1 " (a reader let the blanks through). Judged alone, as an
    incremental run judges a changed order, the parcel must still be found, or its order
    would be called a ghost shipment."""
    shipped = [
        row("tb", "1", status="shipped", paid_at=ago(days=4), shipped_at=ago(days=3)),
        row("oms", "1", status="shipped", created_at=ago(days=4), shipped_at=ago(days=3)),
    ]
    orders = orders_frame([{**r, "tracking_no": ["ZT1"], "carrier": "zto"} for r in shipped])
    tracking = tracking_frame(
        [track(" ZT1 ", tracking_status="delivered", first_scan_at=ago(days=3))]
    )
    config = make_config()
    facts = survey(config, orders, tracking)
    assert not facts.numbers_normal
    for scope in (None, pl.LazyFrame({s.ORDER_ID: ["1"]})):
        hits, _, _ = evaluate(
            config, orders, tracking, orders.head(0), as_of=AS_OF, order_ids=scope
        )
        assert hits.filter(pl.col(s.RULE) == "ghost_shipment").is_empty()
    stripped = tracking_frame([track("ZT1", tracking_status="delivered")])
    assert survey(config, orders, stripped).numbers_normal
