"""An incremental run whose as_of moved judges again only the orders with a timestamp that
crossed one of its own thresholds (engine.run.timers). A pair missing from that table is a
finding missed. So: for each pair, a little world where only that timestamp crosses its
threshold and a finding appears, reasoned from the rule (each case fails when its pair is
dropped); and, as a broader net, random little worlds with timestamps placed around every
default threshold, judged in full at two moments: every order whose findings differ between
the two must be in the incremental scope."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
from engine_world import AS_OF, make_config, orders_frame, row, track, tracking_frame
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ordersync import schema as s
from ordersync.config import config_from_dict
from ordersync.engine import evaluate
from ordersync.engine.run import incremental_ids

CONFIG = make_config()
RULES = CONFIG.rules
# Every default threshold a rule measures from as_of, and 0.
THRESHOLDS = sorted(
    {
        timedelta(0),
        RULES.missing_grace,
        RULES.sync_grace,
        RULES.pickup_grace,
        RULES.stuck_after,
        RULES.stall_after,
        RULES.change_window,
        RULES.ship_sla.default,
    }
)
MOVES = [timedelta(minutes=10), timedelta(hours=1), timedelta(hours=5)]
LAST_PULL = AS_OF - timedelta(minutes=1)
LONG_AGO = AS_OF - timedelta(days=30)
MOVE = timedelta(hours=1)


def crossing(threshold: timedelta) -> datetime:
    """A timestamp that passes `threshold` half-way through the move: not yet at AS_OF,
    past it at AS_OF + MOVE."""
    return AS_OF - threshold + MOVE / 2


def _open(config, orders, tracking, history, as_of) -> set[tuple[str, str]]:
    hits, _, _ = evaluate(config, orders, tracking, history, as_of=as_of)
    return set(hits.select(s.RULE, s.ORDER_ID).iter_rows())


def _appears_as_time_passes(
    finding, rows, versions=(), couriers=(), last_started=AS_OF, config=CONFIG
):
    orders, history = orders_frame(list(rows)), orders_frame(list(versions))
    tracking = tracking_frame(list(couriers))
    assert finding not in _open(config, orders, tracking, history, AS_OF)
    assert finding in _open(config, orders, tracking, history, AS_OF + MOVE)
    scope = incremental_ids(
        config,
        orders,
        tracking,
        history,
        last_started=last_started,
        last_as_of=AS_OF,
        as_of=AS_OF + MOVE,
    )
    assert finding[1] in set(scope.collect().get_column(s.ORDER_ID))


# Another order, long settled, so the world has an OMS and a covered carrier.
SETTLED = [
    row("tb", "y", status="delivered", paid_at=LONG_AGO, shipped_at=LONG_AGO, tracking_no="ZT9",
        carrier="zto", delivered_at=LONG_AGO),
    row("oms", "y", status="delivered", created_at=LONG_AGO),
]  # fmt: skip
DELIVERED_PARCEL = track("ZT9", tracking_status="delivered", first_scan_at=LONG_AGO,
                         last_event_at=LONG_AGO, delivered_at=LONG_AGO)  # fmt: skip


def test_paid_at_past_missing_grace():
    paid = row("tb", "x", status="paid", paid_at=crossing(RULES.missing_grace))
    _appears_as_time_passes(("missing_order", "x"), [paid, *SETTLED])


def test_created_at_past_missing_grace_when_there_is_no_paid_at():
    created = row("tb", "x", status="paid", created_at=crossing(RULES.missing_grace))
    _appears_as_time_passes(("missing_order", "x"), [created, *SETTLED])


def test_paid_at_past_sync_grace_while_the_oms_says_unpaid():
    _appears_as_time_passes(
        ("status_mismatch", "x"),
        [
            row("tb", "x", status="paid", paid_at=crossing(RULES.sync_grace)),
            row("oms", "x", status="pending_payment", created_at=LONG_AGO),
            *SETTLED,
        ],
    )


def test_paid_at_past_the_ship_sla():
    _appears_as_time_passes(
        ("unshipped_timeout", "x"),
        [
            row("tb", "x", status="paid", paid_at=crossing(RULES.ship_sla.default)),
            row("oms", "x", status="paid", created_at=LONG_AGO),
            *SETTLED,
        ],
    )


def test_paid_at_past_a_channels_own_ship_sla():
    config = config_from_dict({"rules": {"ship_sla": {"default": "48h", "taobao": "12h"}}})
    _appears_as_time_passes(
        ("unshipped_timeout", "x"),
        [
            row("tb", "x", status="paid", paid_at=crossing(timedelta(hours=12))),
            row("oms", "x", status="paid", created_at=LONG_AGO),
            *SETTLED,
        ],
        config=config,
    )


def _shipped(**fields):
    return row("tb", "x", status="shipped", paid_at=LONG_AGO, tracking_no="ZT1", carrier="zto",
               **fields)  # fmt: skip


def test_shipped_at_past_pickup_grace_without_a_scan():
    _appears_as_time_passes(
        ("ghost_shipment", "x"),
        [_shipped(shipped_at=crossing(RULES.pickup_grace)), *SETTLED],
        couriers=[DELIVERED_PARCEL],
    )


def test_shipped_at_past_sync_grace_while_the_warehouse_has_not_shipped():
    _appears_as_time_passes(
        ("status_mismatch", "x"),
        [
            _shipped(shipped_at=crossing(RULES.sync_grace)),
            row("wms", "x", status="processing", created_at=LONG_AGO),
        ],
    )


def test_updated_at_past_sync_grace_for_a_row_shipped_without_a_date():
    _appears_as_time_passes(
        ("status_mismatch", "x"),
        [
            _shipped(updated_at=crossing(RULES.sync_grace)),
            row("wms", "x", status="processing", created_at=LONG_AGO),
        ],
    )


def _held(**fields):
    return row("oms", "x", status="on_hold", created_at=LONG_AGO, **fields)


def test_updated_at_of_the_current_row_past_stuck_after():
    _appears_as_time_passes(("stuck_order", "x"), [_held(updated_at=crossing(RULES.stuck_after))])


def test_a_versions_update_time_past_stuck_after():
    version = {**_held(updated_at=crossing(RULES.stuck_after)), "pulled_at": LONG_AGO}
    _appears_as_time_passes(("stuck_order", "x"), [_held()], versions=[version])


def test_a_versions_pull_time_past_stuck_after():
    version = {**_held(), "pulled_at": crossing(RULES.stuck_after)}
    _appears_as_time_passes(("stuck_order", "x"), [_held()], versions=[version])


def test_a_version_pulled_after_the_last_as_of_counts_once_as_of_passes_it():
    """The last run judged at an as_of before this version was pulled (`--as-of` in the
    past), and started after: the version is not new to this run, but becomes visible."""
    version = {**_held(updated_at=LONG_AGO), "pulled_at": crossing(timedelta(0))}
    _appears_as_time_passes(
        ("stuck_order", "x"), [_held()], versions=[version], last_started=AS_OF + 2 * MOVE
    )


def test_last_courier_event_past_stall_after():
    in_transit = track("ZT1", tracking_status="in_transit", first_scan_at=LONG_AGO,
                       last_event_at=crossing(RULES.stall_after))  # fmt: skip
    _appears_as_time_passes(
        ("delivery_stalled", "x"),
        [_shipped(shipped_at=LONG_AGO), *SETTLED],
        couriers=[in_transit, DELIVERED_PARCEL],
    )


@st.composite
def moment(draw):
    """None, a time long past, or now and then a time just before some threshold is crossed
    (where verdicts flip). Mostly the first two: an order whose every timestamp sat near a
    threshold would be in the scope anyway, and could not show a pair missing."""
    kind = draw(st.sampled_from(["none", "none", "long ago", "long ago", "near"]))
    if kind == "none":
        return None
    if kind == "long ago":
        return AS_OF - timedelta(days=30)
    threshold = draw(st.sampled_from(THRESHOLDS))
    minutes = draw(st.sampled_from([-10, 5, 30, 50, 70, 200, 290]))
    # `minutes` before the threshold is crossed at AS_OF + minutes (negative: already crossed)
    return AS_OF - threshold + timedelta(minutes=minutes)


@st.composite
def world(draw):
    orders, history, couriers = [], [], []
    for n in range(draw(st.integers(1, 4))):
        order_id = f"o{n}"
        number = f"ZT{n}"
        for source in draw(st.lists(st.sampled_from(["tb", "oms", "wms"]), unique=True)) or ["tb"]:
            shipped_at = draw(moment())
            fields = dict(
                status=draw(st.sampled_from(s.STATUSES)),
                created_at=draw(moment()),
                paid_at=draw(moment()),
                shipped_at=shipped_at,
                updated_at=draw(moment()),
                amount=30,
                tracking_no=[number] if shipped_at is not None or draw(st.booleans()) else None,
                carrier="zto",
            )
            orders.append(row(source, order_id, **fields))
            history.append(row(source, order_id, **fields, pulled_at=LAST_PULL))
            if draw(st.booleans()):
                # an earlier version in another status, for stuck_order's entry time
                older = {**fields, "status": draw(st.sampled_from(s.STATUSES))}
                older["updated_at"] = draw(moment())
                history.append(row(source, order_id, **older, pulled_at=draw(moment())))
        if draw(st.booleans()):
            couriers.append(
                track(
                    number,
                    tracking_status=draw(st.sampled_from(s.TRACKING_STATUSES)),
                    first_scan_at=draw(moment()),
                    last_event_at=draw(moment()),
                    delivered_at=draw(moment()) if draw(st.booleans()) else None,
                )
            )
    return orders, history, couriers


def _findings(orders, tracking, history, as_of) -> pl.DataFrame:
    hits, _, _ = evaluate(CONFIG, orders, tracking, history, as_of=as_of)
    return hits.select(s.ORDER_ID, s.FINDING_ID, s.EVIDENCE_HASH)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world(), st.sampled_from(MOVES))
def test_an_order_whose_findings_change_as_time_passes_is_in_the_scope(world, move):
    rows, versions, couriers = world
    orders, history, tracking = orders_frame(rows), orders_frame(versions), tracking_frame(couriers)
    before = _findings(orders, tracking, history, AS_OF)
    after = _findings(orders, tracking, history, AS_OF + move)
    changed = set(
        pl.concat([before.join(after, on=[s.FINDING_ID, s.EVIDENCE_HASH], how="anti"),
                   after.join(before, on=[s.FINDING_ID, s.EVIDENCE_HASH], how="anti")])
        .get_column(s.ORDER_ID)
    )  # fmt: skip
    scope = incremental_ids(
        CONFIG,
        orders,
        tracking,
        history,
        last_started=AS_OF,
        last_as_of=AS_OF,
        as_of=AS_OF + move,
    )
    assert changed <= set(scope.collect().get_column(s.ORDER_ID))


def test_an_order_whose_parcel_got_courier_news_is_in_the_scope():
    """The courier data of x's parcel was pulled since the last run; x's row lists the number
    with a stray blank (as a reader let it through), y's parcel had no news."""
    rows = [
        row("tb", "x", status="shipped", shipped_at=LONG_AGO, tracking_no=[" ZT1", "ZT2"]),
        row("tb", "y", status="shipped", shipped_at=LONG_AGO, tracking_no=["ZT3"]),
    ]
    pulled = [(track("ZT1"), AS_OF + MOVE / 2), (track("ZT3"), LONG_AGO)]
    tracking = pl.concat(
        [
            tracking_frame([record]).with_columns(pl.lit(at).cast(s.Timestamp).alias("pulled_at"))
            for record, at in pulled
        ]
    )
    orders = orders_frame(rows)
    scope = incremental_ids(
        CONFIG,
        orders,
        tracking,
        orders.head(0),
        last_started=AS_OF,
        last_as_of=AS_OF,
        as_of=AS_OF,
    )
    assert scope.collect().get_column(s.ORDER_ID).to_list() == ["x"]
