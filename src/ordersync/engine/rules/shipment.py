"""ghost_shipment, tracking_reused, duplicate_shipment, delivery_stalled: parcels and couriers."""

from __future__ import annotations

import polars as pl

from ordersync import schema as s
from ordersync.engine.evidence import Gap, RuleResult, duration_text, shape_hits, with_evidence
from ordersync.engine.view import View, is_dead, is_merged, is_shipped, join_ids, merged_group

_FIELDS = (s.STATUS, s.SHIPPED_AT, s.TRACKING_NO, s.CARRIER)
_PICKED_UP = ("picked_up", "in_transit", "delivered", "exception", "returned")


def with_order_facts(view: View, firing: pl.LazyFrame) -> pl.LazyFrame:
    """Add channel and amount to a rule's firing rows: the channel's word first, then any
    other source's. Only the firing orders' rows are read."""
    firing = firing.collect().lazy()  # few rows, read twice below
    kind_rank = (
        pl.col(s.SOURCE_KIND)
        .cast(pl.String)
        .replace_strict({"channel": 0, "oms": 1, "warehouse": 2}, default=3)
    )
    facts = (
        view.rows.join(firing.select(s.ORDER_ID).unique(), on=s.ORDER_ID, how="semi")
        .select(s.ORDER_ID, s.SOURCE, s.SHIPMENT_ID, s.CHANNEL, s.AMOUNT, kind_rank.alias("_k"))
        .sort(s.ORDER_ID, "_k", s.SOURCE, s.SHIPMENT_ID)
        .group_by(s.ORDER_ID)
        .agg(pl.col(s.CHANNEL).drop_nulls().first(), pl.col(s.AMOUNT).drop_nulls().first())
    )
    return join_ids(firing, facts, how="left")


def _no_carrier_gap(rule: str, frame: pl.LazyFrame, *, reason_en: str, reason_zh: str) -> Gap:
    return Gap(
        rule,
        reason_en,
        reason_zh,
        frame.group_by(
            pl.format("carrier={}", pl.col(s.CARRIER).fill_null("unknown")).alias("scope")
        ).agg(pl.col(s.ORDER_ID).n_unique().alias("orders")),
    )


def ghost_shipment(view: View) -> RuleResult:
    rule = "ghost_shipment"
    grace = view.config.rules.pickup_grace
    result = RuleResult()
    # Rows that claim a parcel left long enough ago for the courier to have scanned it.
    claiming = (
        pl.col(s.SOURCE_KIND).is_in(["channel", "warehouse"])
        & is_shipped()
        & ~((pl.col(s.SOURCE_KIND) == "warehouse") & is_dead())
        & (pl.col(s.SHIPPED_AT) <= view.before(grace))
    )
    claims = view.rows.filter(claiming).select(s.ORDER_ID, s.SOURCE, s.SHIPMENT_ID, s.SHIPPED_AT)
    links = view.links()

    no_tracking = (
        claims.join(links.select(s.ORDER_ID), on=s.ORDER_ID, how="anti")
        .group_by(s.ORDER_ID)
        .agg(pl.col(s.SOURCE).unique().sort().alias("_claimants"), pl.col(s.SHIPPED_AT).min())
        .with_columns(pl.lit("no_tracking").alias("_detail"), pl.lit(None, pl.String).alias("_why"))
    )
    # A link carries its row's kind, status and shipped_at, so the claims' numbers are found
    # by the same test on the links, without joining them back to the claiming rows. Settled
    # once: the verdicts and the claimant lists both read it.
    claimed = links.filter(claiming).collect().lazy()
    # Verdicts first on narrow rows; lists of claimants are built for the firing few only.
    numbers = claimed.group_by(s.ORDER_ID, s.TRACKING_NO).agg(pl.col(s.CARRIER).min())
    numbers = numbers.join(
        view.courier_records().select(
            s.TRACKING_NO, s.TRACKING_STATUS, s.FIRST_SCAN_AT, "tracking_source"
        ),
        on=s.TRACKING_NO,
        how="left",
    )
    # Settled once: several branches below read it, and Polars would otherwise fold the carrier
    # data again for each of them. Narrow (one row per claimed number), so cheap to hold.
    numbers = numbers.collect().lazy()
    known = pl.col("tracking_source").is_not_null()
    covered = pl.col(s.CARRIER).is_in(sorted(view.covered_carriers)).fill_null(False)
    no_scan = (pl.col(s.TRACKING_STATUS) == "no_record").fill_null(False) | (
        pl.col(s.TRACKING_STATUS).is_null() & pl.col(s.FIRST_SCAN_AT).is_null()
    )
    result.gaps.append(
        _no_carrier_gap(
            rule,
            numbers.filter(~known & ~covered),
            reason_en="{scope}: no carrier data covers these tracking numbers",
            reason_zh="{scope}：没有覆盖该快递公司的物流数据，未检查",
        )
    )
    bad = numbers.filter((known & no_scan) | (~known & covered))
    claimants = (
        claimed.join(
            bad.select(s.ORDER_ID, s.TRACKING_NO), on=[s.ORDER_ID, s.TRACKING_NO], how="semi"
        )
        .group_by(s.ORDER_ID, s.TRACKING_NO)
        .agg(pl.col(s.SOURCE).unique().sort().alias("_claimants"))
    )
    first_claim = (
        claims.join(bad.select(s.ORDER_ID).unique(), on=s.ORDER_ID, how="semi")
        .group_by(s.ORDER_ID)
        .agg(pl.col(s.SHIPPED_AT).min())
    )
    bad_numbers = (
        bad.join(claimants, on=[s.ORDER_ID, s.TRACKING_NO])
        .join(first_claim, on=s.ORDER_ID)
        .with_columns(
            pl.col(s.TRACKING_NO).alias("_detail"),
            pl.when(known).then(pl.lit("no_scan")).otherwise(pl.lit("unknown")).alias("_why"),
            pl.concat_list("_claimants", pl.col("tracking_source")).alias("_claimants"),
        )
        .select(s.ORDER_ID, "_claimants", s.SHIPPED_AT, "_detail", "_why")
    )
    firing = with_order_facts(view, pl.concat([no_tracking, bad_numbers], how="diagonal_relaxed"))
    why_zh = (
        pl.when(pl.col("_why") == "unknown")
        .then(pl.format("物流单号 {} 在快递数据中查无此单", "_detail"))
        .when(pl.col("_why") == "no_scan")
        .then(
            pl.format(
                "物流单号 {} 发货超过 {} 仍无揽收记录", "_detail", pl.lit(duration_text(grace))
            )
        )
        .otherwise(
            pl.format("已标记发货超过 {}，但所有来源都没有物流单号", pl.lit(duration_text(grace)))
        )
    )
    why_en = (
        pl.when(pl.col("_why") == "unknown")
        .then(pl.format("tracking number {} is unknown to the carrier data", "_detail"))
        .when(pl.col("_why") == "no_scan")
        .then(
            pl.format(
                "tracking number {} has no pickup scan {} after shipping",
                "_detail",
                pl.lit(duration_text(grace)),
            )
        )
        .otherwise(
            pl.format(
                "marked shipped over {} ago, but no source has a tracking number",
                pl.lit(duration_text(grace)),
            )
        )
    )
    hits = shape_hits(
        firing,
        detail=pl.col("_detail"),
        sources=pl.col("_claimants"),
        action=pl.when(pl.col("_detail") == "no_tracking")
        .then(pl.lit("upload_tracking"))
        .otherwise(pl.lit("check_with_courier")),
        zh=why_zh,
        en=why_en,
        facts={
            "shipped_at": pl.col(s.SHIPPED_AT),
            "problem": pl.col("_why").fill_null("no_tracking"),
            "pickup_grace": pl.lit(duration_text(grace)),
        },
    )
    result.hits = with_evidence(view, hits, _FIELDS, tracking=True)
    return result


def delivery_stalled(view: View) -> RuleResult:
    rule = "delivery_stalled"
    stall = view.config.rules.stall_after
    result = RuleResult()
    states = view.rows.group_by(s.ORDER_ID).agg(
        is_shipped().any().alias("_any_shipped"),
        ((pl.col(s.STATUS) == "delivered").fill_null(False) | pl.col(s.DELIVERED_AT).is_not_null())
        .any()
        .alias("_any_delivered"),
    )
    in_transit = states.filter(pl.col("_any_shipped") & ~pl.col("_any_delivered")).select(
        s.ORDER_ID
    )
    # Settled once: the verdicts and the source lists of the firing few both read it.
    linked = view.links().join(in_transit, on=s.ORDER_ID, how="semi").collect().lazy()
    numbers = linked.group_by(s.ORDER_ID, s.TRACKING_NO).agg(pl.col(s.CARRIER).min())
    numbers = numbers.join(
        view.courier_records().select(
            s.TRACKING_NO,
            s.TRACKING_STATUS,
            s.FIRST_SCAN_AT,
            s.LAST_EVENT_AT,
            pl.col(s.DELIVERED_AT).alias("_t_delivered"),
            "tracking_source",
        ),
        on=s.TRACKING_NO,
        how="left",
    )
    numbers = numbers.collect().lazy()  # read by several branches; see ghost_shipment
    known = pl.col("tracking_source").is_not_null()
    # Numbers of a covered carrier that the data lacks are ghost_shipment's business; either
    # way there is no courier record to judge a stall by.
    result.gaps.append(
        _no_carrier_gap(
            rule,
            numbers.filter(~known),
            reason_en="{scope}: tracking numbers with no courier record",
            reason_zh="{scope}：物流单号没有快递记录，未检查",
        )
    )
    picked_up = pl.col(s.TRACKING_STATUS).is_in(_PICKED_UP).fill_null(False) | (
        pl.col(s.FIRST_SCAN_AT).is_not_null()
        & (pl.col(s.TRACKING_STATUS) != "no_record").fill_null(True)
    )
    firing = numbers.filter(
        known
        & picked_up
        & ~pl.col(s.TRACKING_STATUS).is_in(["delivered", "returned"]).fill_null(False)
        & pl.col("_t_delivered").is_null()
        & (pl.col(s.LAST_EVENT_AT) <= view.before(stall))
    )
    firing = firing.join(
        linked.join(
            firing.select(s.ORDER_ID, s.TRACKING_NO), on=[s.ORDER_ID, s.TRACKING_NO], how="semi"
        )
        .group_by(s.ORDER_ID, s.TRACKING_NO)
        .agg(pl.col(s.SOURCE).unique().sort().alias("_sources")),
        on=[s.ORDER_ID, s.TRACKING_NO],
    )
    firing = with_order_facts(view, firing)
    text = pl.lit(duration_text(stall))
    hits = shape_hits(
        firing,
        detail=pl.col(s.TRACKING_NO),
        sources=pl.concat_list("_sources", "tracking_source"),
        action="chase_courier",
        zh=pl.format("包裹 {} 超过 {} 没有新的物流动态", s.TRACKING_NO, text),
        en=pl.format("parcel {} has had no courier event for over {}", s.TRACKING_NO, text),
        facts={"last_event_at": pl.col(s.LAST_EVENT_AT), "stall_after": text},
    )
    result.hits = with_evidence(view, hits, _FIELDS, tracking=True)
    return result


def tracking_reused(view: View) -> RuleResult:
    from ordersync.engine.rules.address import receiver_keys

    rule = "tracking_reused"
    result = RuleResult()
    links = view.links()
    # Candidates first, on 64-bit hashes of the number and the order id (de-duplicating the
    # string pairs of every link cost twice as much): a number that hashes onto two order
    # hashes. The candidates' pairs are then taken exactly. Only two orders whose ids collide
    # in 64 bits and share a number could hide here.
    hashed = links.select(
        s.TRACKING_NO,
        s.ORDER_ID,
        pl.col(s.TRACKING_NO).hash().alias("_number_hash"),
        pl.col(s.ORDER_ID).hash().alias("_order_hash"),
    )
    candidates = (
        hashed.select("_number_hash", "_order_hash")
        .unique()
        .filter(pl.col("_number_hash").is_duplicated())
    )
    pairs_base = (
        hashed.join(candidates, on="_number_hash", how="semi")
        .select(s.TRACKING_NO, s.ORDER_ID)
        .unique()
    )
    # The (number, order) pairs are unique, so a number on two rows is on two orders; cheaper
    # than counting orders in a window over every number.
    shared = pairs_base.filter(pl.col(s.TRACKING_NO).is_duplicated())
    pairs = shared.join(shared, on=s.TRACKING_NO, suffix="_b").filter(
        pl.col(s.ORDER_ID) < pl.col(f"{s.ORDER_ID}_b")
    )
    groups = (
        view.warehouse(s.ORDER_ID, s.MERGED_WITH)
        .filter(is_merged())
        .select(merged_group().alias("_group"), s.MERGED_WITH)
        .unique()
        .explode(s.MERGED_WITH, empty_as_null=False, keep_nulls=False)
        .select(pl.col(s.MERGED_WITH).alias(s.ORDER_ID), "_group")
        .unique()
    )
    merged = pairs.join(groups, on=s.ORDER_ID).join(
        groups.rename({s.ORDER_ID: f"{s.ORDER_ID}_b"}), on=[f"{s.ORDER_ID}_b", "_group"], how="semi"
    )
    pairs = pairs.join(
        merged.select(s.ORDER_ID, f"{s.ORDER_ID}_b", s.TRACKING_NO),
        on=[s.ORDER_ID, f"{s.ORDER_ID}_b", s.TRACKING_NO],
        how="anti",
    )
    # Shared numbers are rare: settle them first, so receivers are only parsed for those few.
    settled = pairs.collect()
    if settled.is_empty():
        return result
    pairs = settled.lazy()
    keys = receiver_keys(
        view,
        pairs.select(pl.concat_list(s.ORDER_ID, f"{s.ORDER_ID}_b").alias(s.ORDER_ID))
        .explode(s.ORDER_ID, empty_as_null=False, keep_nulls=False)
        .unique(),
    )
    pairs = pairs.join(keys, on=s.ORDER_ID, how="left").join(
        keys.rename(lambda c: c if c == s.ORDER_ID else f"{c}_b").rename(
            {s.ORDER_ID: f"{s.ORDER_ID}_b"}
        ),
        on=f"{s.ORDER_ID}_b",
        how="left",
    )
    both_phone = pl.col("_phone").is_not_null() & pl.col("_phone_b").is_not_null()
    both_addr = pl.col("_person").is_not_null() & pl.col("_person_b").is_not_null()
    differ = (
        pl.when(both_phone)
        .then(pl.col("_phone") != pl.col("_phone_b"))
        .when(both_addr)
        .then(pl.col("_person") != pl.col("_person_b"))
        .otherwise(None)
    )
    pairs = pairs.with_columns(differ.alias("_differ"))
    result.gaps.append(
        Gap(
            rule,
            "shared tracking numbers whose receivers cannot be compared (no phone, name or address)",
            "共用物流单号但收件人信息缺失，无法判断",
            pairs.filter(pl.col("_differ").is_null()).select(
                pl.lit("receiver=unknown").alias("scope"), pl.len().alias("orders")
            ),
        )
    )
    bad = pairs.filter(pl.col("_differ").fill_null(False))
    firing = (
        pl.concat(
            [
                bad.select(s.ORDER_ID, s.TRACKING_NO, pl.col(f"{s.ORDER_ID}_b").alias("_other")),
                bad.select(
                    pl.col(f"{s.ORDER_ID}_b").alias(s.ORDER_ID),
                    s.TRACKING_NO,
                    pl.col(s.ORDER_ID).alias("_other"),
                ),
            ]
        )
        .group_by(s.ORDER_ID, s.TRACKING_NO)
        .agg(pl.col("_other").unique().sort())
        .join(
            links.group_by(s.ORDER_ID, s.TRACKING_NO).agg(
                pl.col(s.SOURCE).unique().sort().alias("_sources")
            ),
            on=[s.ORDER_ID, s.TRACKING_NO],
        )
    )
    firing = with_order_facts(view, firing)
    hits = shape_hits(
        firing,
        detail=pl.col(s.TRACKING_NO),
        sources=pl.col("_sources"),
        action="review_order",
        zh=pl.format(
            "物流单号 {} 同时用于其他收件人的订单 {}",
            s.TRACKING_NO,
            pl.col("_other").list.join(","),
        ),
        en=pl.format(
            "tracking number {} is also used by order(s) {} to a different receiver",
            s.TRACKING_NO,
            pl.col("_other").list.join(","),
        ),
        facts={"other_orders": pl.col("_other")},
    )
    result.hits = with_evidence(
        view,
        hits,
        (s.TRACKING_NO, s.CARRIER, s.RECEIVER_NAME, s.RECEIVER_PHONE, s.ADDRESS, s.MERGED_WITH),
        tracking=True,
    )
    return result


def duplicate_shipment(view: View) -> RuleResult:
    from ordersync.engine.rules.money_items import item_verdicts

    verdicts, gaps = item_verdicts(view, "duplicate_shipment")
    firing = with_order_facts(view, verdicts.filter(pl.col("_duplicate")))
    hits = shape_hits(
        firing,
        detail=pl.col("_wh"),
        sources=pl.concat_list("_channel_source", "_wh"),
        action="recall_duplicate",
        zh=pl.format("{} 为同一订单发出 {} 个包裹，数量超过下单数量", "_wh", "_shipments"),
        en=pl.format(
            "{} sent {} parcels for this order, more than was ordered", "_wh", "_shipments"
        ),
        facts={"shipments": pl.col("_shipments")},
    )
    return RuleResult(
        with_evidence(view, hits, (s.STATUS, s.SHIPMENT_ID, s.ITEMS, s.TRACKING_NO, s.MERGED_WITH)),
        gaps,
    )
