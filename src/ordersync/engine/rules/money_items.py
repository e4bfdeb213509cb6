"""amount_mismatch and item_mismatch (and the item arithmetic duplicate_shipment shares)."""

from __future__ import annotations

import polars as pl

from ordersync import schema as s
from ordersync.engine.evidence import Gap, RuleResult, shape_hits, with_evidence
from ordersync.engine.view import (
    View,
    is_dead,
    is_live,
    is_merged,
    join_ids,
    merged_group,
)

SKU = "sku"
QTY = "qty"


def _lines(frame: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """items list → one row per (keys, sku) with the quantity summed (line rows add up)."""
    return (
        frame.select(*keys, s.ITEMS)
        .explode(s.ITEMS, empty_as_null=False, keep_nulls=False)
        .select(
            *keys,
            pl.col(s.ITEMS).struct.field(SKU).alias(SKU),
            pl.col(s.ITEMS).struct.field(QTY).fill_null(1).alias(QTY),
        )
        .filter(pl.col(SKU).is_not_null())
        .group_by(*keys, SKU)
        .agg(pl.col(QTY).sum())
    )


def _compare(expected: pl.LazyFrame, shipped: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """Per keys: any sku differs; every sku shipped >= ordered; some sku shipped > ordered."""
    joined = expected.rename({QTY: "_ordered"}).join(
        shipped.rename({QTY: "_shipped"}), on=[*keys, SKU], how="full", coalesce=True
    )
    ordered = pl.col("_ordered").fill_null(0)
    sent = pl.col("_shipped").fill_null(0)
    return joined.group_by(keys).agg(
        (ordered != sent).any().alias("_diff"),
        (sent >= ordered).all().alias("_all_ge"),
        (sent > ordered).any().alias("_any_gt"),
    )


def item_verdicts(view: View, rule: str) -> tuple[pl.LazyFrame, list[Gap]]:
    """Per (order_id, warehouse source) where either is true: `_mismatch` and `_duplicate`,
    shipments counted; and the rule's not-checked counts.

    item_mismatch and duplicate_shipment both read these; they are settled once per
    evaluation (only the pairs that fire either rule are kept, so they stay small).
    """
    if "item_verdicts" not in view.cache:
        verdicts, gaps = _item_verdicts(view)
        settled = pl.collect_all(
            [verdicts.filter(pl.col("_mismatch") | pl.col("_duplicate")), *(g[2] for g in gaps)]
        )
        view.cache["item_verdicts"] = (
            settled[0],
            [(en, zh, counts) for (en, zh, _), counts in zip(gaps, settled[1:], strict=True)],
        )
    verdicts, gaps = view.cache["item_verdicts"]  # type: ignore[misc]
    return verdicts.lazy(), [Gap(rule, en, zh, counts.lazy()) for en, zh, counts in gaps]


def _item_verdicts(view: View) -> tuple[pl.LazyFrame, list[tuple[str, str, pl.LazyFrame]]]:
    """Per (order_id, warehouse source): `_mismatch` and `_duplicate`, shipments counted.

    A merged parcel's row normally lists this order's lines. When every row of a merged parcel
    carries the same items, the rows may instead list the whole parcel; then the parcel is also
    compared as a group against the union of its orders, and a verdict needs both readings to
    agree, so an ambiguous export never raises a false alarm.
    """
    # The items lists (lists of structs) are the slowest columns to move: a join or group_by
    # that carries them costs ~1 s per million rows, a filter almost nothing. So the verdicts
    # are reached on fingerprints and row numbers, and the lists of the few rows that need
    # the exact comparison are fetched by row number (`_channel_row`, `_warehouse_row`).
    channel = view.channel(s.ORDER_ID, s.SOURCE, s.STATUS, s.ITEMS).filter(is_live())
    channel_items = (
        channel.filter(pl.col(s.ITEMS).is_not_null())
        .select(s.ORDER_ID, s.SOURCE, s.ITEMS)
        .with_row_index("_channel_row")
    )
    # Per order, the items of the first channel source by name (picked without sorting rows).
    with_items = (
        channel_items.select(
            s.ORDER_ID, s.SOURCE, "_channel_row", s.items_fingerprint(pl.col(s.ITEMS)).alias("_fp")
        )
        .group_by(s.ORDER_ID)
        .agg(
            pl.col(s.SOURCE).min().alias("_channel_source"),
            pl.col("_channel_row").get(pl.col(s.SOURCE).arg_min()),
            pl.col("_fp").get(pl.col(s.SOURCE).arg_min()).alias("_ordered_fp"),
        )
    )
    warehouse_items = (
        view.warehouse(s.ORDER_ID, s.SOURCE, s.SHIPMENT_ID, s.STATUS, s.ITEMS, s.MERGED_WITH)
        .filter(~is_dead())
        .with_row_index("_warehouse_row")
    )
    shipments = warehouse_items.select(
        s.ORDER_ID,
        pl.col(s.SOURCE).alias("_wh"),
        s.SHIPMENT_ID,
        "_warehouse_row",
        # null when the row lists no items (an empty list is a fingerprint like any other)
        s.items_fingerprint(pl.col(s.ITEMS)).alias("_contents"),
        is_merged().alias("_merged"),
    ).join(channel.select(s.ORDER_ID), on=s.ORDER_ID, how="semi")
    # null for an order whose channel rows list no items
    shipments = shipments.join(
        with_items.select(s.ORDER_ID, "_channel_source", "_ordered_fp"), on=s.ORDER_ID, how="left"
    )

    def ordered_items(frame: pl.LazyFrame) -> pl.LazyFrame:
        """`frame` (order_id, ...) with the channel items of each order it names."""
        return frame.join(with_items.select(s.ORDER_ID, "_channel_row"), on=s.ORDER_ID).join(
            channel_items.select("_channel_row", s.ITEMS), on="_channel_row"
        )

    def shipped_items(frame: pl.LazyFrame, *columns: str) -> pl.LazyFrame:
        """`frame` (shipment rows with `_warehouse_row`) with their items and `columns`."""
        return frame.join(
            warehouse_items.select("_warehouse_row", s.ITEMS, *columns), on="_warehouse_row"
        )

    parcel = ["_wh", s.SHIPMENT_ID]
    # A merged parcel whose rows all carry the same contents is ambiguous. Merged parcels are
    # few, so they are grouped on their own rather than in a window over every row.
    ambiguous = (
        shipments.filter("_merged")
        .group_by(parcel)
        .agg((pl.col("_contents").n_unique() == 1).alias("_ambiguous"))
        .filter("_ambiguous")
    )
    shipments = shipments.join(ambiguous, on=parcel, how="left").with_columns(
        (pl.col("_merged") & pl.col("_ambiguous").fill_null(False)).alias("_ambiguous")
    )
    # Settled once: a dozen branches below read these, and Polars recomputes a shared lazy
    # input per branch. Narrow (ids, fingerprints, row numbers).
    shipments, with_items, channel_items, warehouse_items = (
        frame.lazy()
        for frame in pl.collect_all([shipments, with_items, channel_items, warehouse_items])
    )
    pair = [s.ORDER_ID, "_wh"]
    # Most orders leave in one parcel holding exactly the ordered lines: equal fingerprints
    # settle those without exploding their items (a collision of the 64-bit sums would hide
    # a mismatch; it is far less likely than a typo in the export). The rest, and any parcel
    # whose lines merely add up differently (A x1 twice vs A x2), take the exact comparison.
    # Settled once: the gaps, the comparison and the verdicts all read it.
    pairs = (
        shipments.group_by(pair)
        .agg(
            pl.col(s.SHIPMENT_ID).n_unique().alias("_shipments"),
            pl.col("_contents").is_null().any().alias("_unknown"),
            pl.col("_ambiguous").any(),
            pl.col("_channel_source").first(),
            (
                (pl.len() == 1)
                & ~pl.col("_ambiguous").any()
                & (pl.col("_contents") == pl.col("_ordered_fp"))
                .all(ignore_nulls=False)
                .fill_null(False)
            ).alias("_settled"),
        )
        .collect()
        .lazy()
    )
    gaps = [
        (
            "{scope}: channel orders without items",
            "{scope}：渠道订单没有商品明细，未检查",
            channel.filter(pl.col(s.ITEMS).is_null())
            .join(shipments.select(s.ORDER_ID), on=s.ORDER_ID, how="semi")
            .group_by(pl.format("source={}", s.SOURCE).alias("scope"))
            .agg(pl.col(s.ORDER_ID).n_unique().alias("orders")),
        ),
        (
            "{scope}: shipments without items",
            "{scope}：发货记录没有商品明细，未检查",
            pairs.filter(pl.col("_unknown"))
            .group_by(pl.format("source={}", "_wh").alias("scope"))
            .agg(pl.len().alias("orders")),
        ),
    ]
    # Orders whose channel rows list no items are left to the blind duplicate check below.
    compared = pairs.filter(
        ~pl.col("_unknown") & pl.col("_channel_source").is_not_null() & ~pl.col("_settled")
    )
    ordered = _lines(ordered_items(compared.select(s.ORDER_ID).unique()), [s.ORDER_ID])
    per_order = _compare(
        compared.select(pair).join(ordered, on=s.ORDER_ID),
        _lines(shipped_items(shipments.join(compared, on=pair, how="semi")), pair),
        pair,
    )

    groups = (
        shipped_items(shipments.filter(pl.col("_ambiguous")), s.MERGED_WITH)
        .select(*pair, merged_group().alias("_group"), s.MERGED_WITH)
        .sort(*pair, "_group")
        .unique(pair, keep="first", maintain_order=True)
    )
    members = (
        groups.select("_wh", "_group", s.MERGED_WITH)
        .unique()
        .explode(s.MERGED_WITH, empty_as_null=False, keep_nulls=False)
        .rename({s.MERGED_WITH: s.ORDER_ID})
    )
    group_keys = ["_wh", "_group"]
    group_parcels = (
        shipments.join(members, on=pair)
        .sort(*group_keys, s.SHIPMENT_ID, s.ORDER_ID)
        .unique([*group_keys, s.SHIPMENT_ID], keep="first", maintain_order=True)
    )
    incomplete = members.join(with_items, on=s.ORDER_ID, how="anti").select(group_keys).unique()
    per_group = (
        _compare(
            _lines(ordered_items(members), group_keys),
            _lines(shipped_items(group_parcels), group_keys),
            group_keys,
        )
        .join(incomplete, on=group_keys, how="anti")
        .join(
            group_parcels.group_by(group_keys).agg(
                pl.col(s.SHIPMENT_ID).n_unique().alias("_g_shipments")
            ),
            on=group_keys,
        )
    )
    group_verdict = (
        groups.select(*pair, "_group")
        .join(per_group, on=group_keys, how="left")
        .select(
            *pair,
            pl.col("_diff").fill_null(False).alias("_g_diff"),
            ((pl.col("_g_shipments") >= 2) & pl.col("_all_ge") & pl.col("_any_gt"))
            .fill_null(False)
            .alias("_g_dup"),
        )
    )

    verdicts = (
        compared.join(per_order, on=pair, how="inner")
        .join(group_verdict, on=pair, how="left")
        .with_columns(
            ((pl.col("_shipments") >= 2) & pl.col("_all_ge") & pl.col("_any_gt")).alias("_dup_p")
        )
        .select(
            *pair,
            "_channel_source",
            "_shipments",
            pl.when(pl.col("_ambiguous"))
            .then(pl.col("_diff") & pl.col("_g_diff").fill_null(False))
            .otherwise(pl.col("_diff"))
            .alias("_mismatch"),
            pl.when(pl.col("_ambiguous"))
            .then(pl.col("_dup_p") & pl.col("_g_dup").fill_null(False))
            .otherwise(pl.col("_dup_p"))
            .alias("_duplicate"),
        )
    )

    # Without the channel's items, a duplicate is still visible: the same contents sent twice.
    blind = (
        shipments.filter(
            pl.col("_channel_source").is_null()
            & pl.col("_contents").is_not_null()
            & ~pl.col("_ambiguous")
        )
        .group_by(*pair, "_contents")
        .agg(pl.col(s.SHIPMENT_ID).n_unique().alias("_copies"))
        .group_by(pair)
        .agg(pl.col("_copies").max())
        .filter(pl.col("_copies") >= 2)
        .join(pairs.filter(~pl.col("_unknown")).select(*pair, "_shipments"), on=pair)
    )
    blind = blind.join(
        channel.join(blind, on=s.ORDER_ID, how="semi")
        .group_by(s.ORDER_ID)
        .agg(pl.col(s.SOURCE).min().alias("_channel_source")),
        on=s.ORDER_ID,
    ).select(
        *pair,
        "_channel_source",
        "_shipments",
        pl.lit(False).alias("_mismatch"),
        pl.lit(True).alias("_duplicate"),
    )
    return pl.concat([verdicts, blind]), gaps


def item_mismatch(view: View) -> RuleResult:
    rule = "item_mismatch"
    if not view.has_kind("warehouse"):
        return RuleResult(
            gaps=[
                Gap(
                    rule,
                    "no warehouse source: items cannot be compared",
                    "没有仓库数据源，无法核对商品",
                    view.channel(s.ORDER_ID).select(
                        pl.lit("kind=warehouse").alias("scope"), pl.len().alias("orders")
                    ),
                )
            ]
        )
    verdicts, gaps = item_verdicts(view, rule)
    from ordersync.engine.rules.shipment import with_order_facts

    firing = with_order_facts(view, verdicts.filter(pl.col("_mismatch") & ~pl.col("_duplicate")))
    hits = shape_hits(
        firing,
        detail=pl.col("_wh"),
        sources=pl.concat_list("_channel_source", "_wh"),
        action="fix_items",
        zh=pl.format("{} 发出的商品与渠道订单不一致", "_wh"),
        en=pl.format("items shipped by {} differ from the channel order", "_wh"),
        facts={"shipments": pl.col("_shipments")},
    )
    return RuleResult(
        with_evidence(view, hits, (s.STATUS, s.SHIPMENT_ID, s.ITEMS, s.MERGED_WITH)), gaps
    )


def amount_mismatch(view: View) -> RuleResult:
    tolerance = view.config.rules.amount_tolerance
    channel = view.channel(s.ORDER_ID, s.SOURCE, s.CHANNEL, s.STATUS, s.AMOUNT).filter(
        is_live() & pl.col(s.AMOUNT).is_not_null()
    )
    others = view.rows.filter((pl.col(s.SOURCE_KIND) != "channel") & pl.col(s.AMOUNT).is_not_null())
    others = (
        others.select(
            s.ORDER_ID,
            pl.col(s.SOURCE).alias("_other"),
            s.SHIPMENT_ID,
            pl.col(s.AMOUNT).alias("_other_amount"),
        )
        .sort(s.ORDER_ID, "_other", s.SHIPMENT_ID)
        .group_by(s.ORDER_ID, "_other")
        .agg(pl.col("_other_amount").first())
    )
    firing = join_ids(channel, others).filter(
        (pl.col(s.AMOUNT).cast(s.Money) - pl.col("_other_amount").cast(s.Money)).abs()
        > pl.lit(tolerance).cast(s.Money)
    )
    hits = shape_hits(
        firing,
        detail=pl.col("_other"),
        sources=pl.concat_list(s.SOURCE, "_other"),
        action="fix_amount",
        zh=pl.format("金额不一致：渠道 {}，{} {}", s.AMOUNT, "_other", "_other_amount"),
        en=pl.format("amount differs: channel {}, {} {}", s.AMOUNT, "_other", "_other_amount"),
        facts={
            "channel_amount": pl.col(s.AMOUNT),
            "other_amount": pl.col("_other_amount"),
            "tolerance": pl.lit(str(tolerance)),
        },
    )
    return RuleResult(with_evidence(view, hits, (s.STATUS, s.AMOUNT, s.SHIPMENT_ID)))
