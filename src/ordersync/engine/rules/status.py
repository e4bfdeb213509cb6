"""status_mismatch and refund_not_stopped: do the sources agree on where the order stands."""

from __future__ import annotations

import polars as pl

from ordersync import schema as s
from ordersync.engine.evidence import Gap, RuleResult, duration_text, shape_hits, with_evidence
from ordersync.engine.rules.presence import paid_moment
from ordersync.engine.view import PULLED_AT, View, is_dead, is_live, is_shipped, join_ids

_FIELDS = (s.STATUS, s.RAW_STATUS, s.PAID_AT, s.SHIPPED_AT, s.UPDATED_AT, s.TRACKING_NO)


def _marked_at() -> pl.Expr:
    """When a row was marked shipped; a row that says shipped without a date is dated by its
    last update, so it is still judged rather than silently skipped."""
    return pl.coalesce(s.SHIPPED_AT, s.UPDATED_AT)


def status_mismatch(view: View) -> RuleResult:
    rule = "status_mismatch"
    grace = view.config.rules.sync_grace
    cutoff = view.before(grace)
    result = RuleResult()
    channel = view.channel(
        s.ORDER_ID,
        s.SOURCE,
        s.CHANNEL,
        s.STATUS,
        s.AMOUNT,
        s.PAID_AT,
        s.CREATED_AT,
        s.SHIPPED_AT,
        s.UPDATED_AT,
    ).filter(is_live())
    frames = []
    if view.has_kind("oms"):
        unpaid = (
            view.oms(s.ORDER_ID, pl.col(s.SOURCE).alias("_other"), s.STATUS)
            .filter(pl.col(s.STATUS) == "pending_payment")
            .drop(s.STATUS)
        )
        frames.append(
            join_ids(channel.filter(paid_moment() <= cutoff), unpaid).with_columns(
                pl.format("oms_unpaid:{}", "_other").alias("_detail"),
                pl.lit("resync_payment").alias("_action"),
                pl.format("渠道已付款，{} 仍显示未付款", "_other").alias("_zh"),
                pl.format("paid on the channel, still unpaid in {}", "_other").alias("_en"),
                pl.col(s.PAID_AT).alias("_at"),
            )
        )
    if view.has_kind("warehouse"):
        shipments = (
            view.warehouse(s.ORDER_ID, s.SOURCE, s.STATUS, s.SHIPPED_AT, s.UPDATED_AT)
            .with_columns(
                (is_shipped() & ~is_dead()).alias("_wh_shipped"), _marked_at().alias("_wh_at")
            )
            .group_by(s.ORDER_ID, pl.col(s.SOURCE).alias("_other"))
            .agg(
                pl.col("_wh_shipped").any(),
                pl.col("_wh_at").filter(pl.col("_wh_shipped")).min(),
            )
        )
        shipped_channel = channel.filter(is_shipped() & (_marked_at() <= cutoff))
        frames.append(
            join_ids(shipped_channel, shipments)
            .filter(~pl.col("_wh_shipped"))
            .with_columns(
                pl.format("channel_shipped_wh_not:{}", "_other").alias("_detail"),
                pl.lit("review_order").alias("_action"),
                pl.format("渠道显示已发货，{} 尚未发货", "_other").alias("_zh"),
                pl.format("shipped on the channel, not shipped in {}", "_other").alias("_en"),
                _marked_at().alias("_at"),
            )
            .drop("_wh_shipped", "_wh_at")
        )
        frames.append(
            join_ids(channel.filter(~is_shipped()), shipments)
            .filter(pl.col("_wh_shipped") & (pl.col("_wh_at") <= cutoff))
            .with_columns(
                pl.format("wh_shipped_channel_not:{}", "_other").alias("_detail"),
                pl.lit("upload_tracking").alias("_action"),
                pl.format("{} 已发货，渠道未标记发货（物流单号未回传）", "_other").alias("_zh"),
                pl.format(
                    "shipped by {}, not marked shipped on the channel (tracking not uploaded)",
                    "_other",
                ).alias("_en"),
                pl.col("_wh_at").alias("_at"),
            )
            .drop("_wh_shipped", "_wh_at")
        )
    else:
        result.gaps.append(
            Gap(
                rule,
                "no warehouse source: shipped-status checks skipped",
                "没有仓库数据源，未检查发货状态一致性",
                channel.select(pl.lit("kind=warehouse").alias("scope"), pl.len().alias("orders")),
            )
        )
    if not frames:
        return result
    keep = [
        s.ORDER_ID,
        s.SOURCE,
        s.CHANNEL,
        s.AMOUNT,
        "_other",
        "_detail",
        "_action",
        "_zh",
        "_en",
        "_at",
    ]
    firing = pl.concat([f.select(keep) for f in frames])
    hits = shape_hits(
        firing,
        detail=pl.col("_detail"),
        sources=pl.concat_list(s.SOURCE, "_other"),
        action=pl.col("_action"),
        zh=pl.col("_zh"),
        en=pl.col("_en"),
        facts={"since": pl.col("_at"), "sync_grace": pl.lit(duration_text(grace))},
    )
    result.hits = with_evidence(view, hits, _FIELDS)
    return result


def _dead_since(view: View, dead: pl.LazyFrame) -> pl.LazyFrame:
    """Per channel (source, order_id) of `dead`: the first pull that saw it dead after it was
    last seen alive. Stands in for the refund moment when the channel gives no updated_at.
    Only the history of those (few) orders is read."""
    history = view.history
    if PULLED_AT not in history.collect_schema().names():
        return pl.LazyFrame(
            schema={s.ORDER_ID: pl.String, s.SOURCE: pl.String, "_dead_pull": s.Timestamp}
        )
    versions = (
        history.filter(pl.col(s.SOURCE_KIND) == "channel")
        .select(s.ORDER_ID, s.SOURCE, is_dead().alias("_dead"), PULLED_AT)
        .join(dead.select(s.ORDER_ID, s.SOURCE).unique(), on=[s.ORDER_ID, s.SOURCE], how="semi")
    )
    return versions.group_by(s.ORDER_ID, s.SOURCE).agg(
        pl.col(PULLED_AT)
        .filter(
            pl.col("_dead")
            & (pl.col(PULLED_AT) > pl.col(PULLED_AT).filter(~pl.col("_dead")).max()).fill_null(True)
        )
        .min()
        .alias("_dead_pull")
    )


def refund_not_stopped(view: View) -> RuleResult:
    rule = "refund_not_stopped"
    result = RuleResult()
    dead = view.channel(s.ORDER_ID, s.SOURCE, s.CHANNEL, s.STATUS, s.AMOUNT, s.UPDATED_AT).filter(
        is_dead()
    )
    if not view.has_kind("warehouse"):
        result.gaps.append(
            Gap(
                rule,
                "no warehouse source: cannot tell whether refunded orders were stopped",
                "没有仓库数据源，无法判断退款订单是否已拦截",
                dead.select(pl.lit("kind=warehouse").alias("scope"), pl.len().alias("orders")),
            )
        )
        return result
    dead = dead.collect().lazy()  # a few percent of the orders; read twice below
    dead = join_ids(dead, _dead_since(view, dead), how="left", on=[s.SOURCE]).with_columns(
        pl.coalesce(s.UPDATED_AT, "_dead_pull").alias("_refund_at")
    )
    shipments = view.warehouse(
        s.ORDER_ID,
        pl.col(s.SOURCE).alias("_wh"),
        s.SHIPMENT_ID,
        pl.col(s.STATUS).alias("_wh_status"),
        pl.col(s.SHIPPED_AT).alias("_wh_shipped_at"),
    ).filter(~pl.col("_wh_status").is_in(s.DEAD_STATUSES).fill_null(False))
    # Settled once: the hits and the gap both read it (dead orders' parcels only, so small).
    joined = join_ids(dead, shipments).collect().lazy()
    wh_shipped = (
        pl.col("_wh_status").is_in(s.SHIPPED_STATUSES).fill_null(False)
        | pl.col("_wh_shipped_at").is_not_null()
    )
    pending = ~wh_shipped & pl.col("_wh_status").is_in(s.LIVE_STATUSES).fill_null(False)
    leaked = wh_shipped & (pl.col("_wh_shipped_at") > pl.col("_refund_at")).fill_null(False)
    firing = (
        joined.filter(pending | leaked)
        .with_columns(pending.alias("_pending"))
        .group_by(s.ORDER_ID, s.SOURCE, "_wh")
        .agg(
            pl.col(s.CHANNEL).first(),
            pl.col(s.AMOUNT).first(),
            pl.col(s.STATUS).first(),
            pl.col("_refund_at").first(),
            pl.col("_pending").any(),
            pl.col("_wh_shipped_at").max(),
        )
    )
    result.gaps.append(
        Gap(
            rule,
            "{scope}: shipped parcels of refunded orders whose refund time is unknown",
            "{scope}：退款时间未知，无法判断已发出的包裹是否在退款之后发出",
            joined.filter(wh_shipped & pl.col("_refund_at").is_null())
            .group_by(pl.format("source={}", "_wh").alias("scope"))
            .agg(pl.col(s.ORDER_ID).n_unique().alias("orders")),
        )
    )
    hits = shape_hits(
        firing,
        detail=pl.col("_wh"),
        sources=pl.concat_list(s.SOURCE, "_wh"),
        action="intercept_shipment",
        zh=pl.when(pl.col("_pending"))
        .then(pl.format("渠道订单已{}，{} 仍待发货，请拦截", s.STATUS, "_wh"))
        .otherwise(pl.format("渠道订单已{}，{} 在退款之后发出包裹", s.STATUS, "_wh")),
        en=pl.when(pl.col("_pending"))
        .then(
            pl.format(
                "order is {} on the channel but {} is still going to ship it", s.STATUS, "_wh"
            )
        )
        .otherwise(
            pl.format("order is {} on the channel but {} shipped it after that", s.STATUS, "_wh")
        ),
        facts={"refund_at": pl.col("_refund_at"), "still_to_ship": pl.col("_pending")},
    )
    result.hits = with_evidence(
        view, hits, (s.STATUS, s.RAW_STATUS, s.UPDATED_AT, s.SHIPPED_AT, s.TRACKING_NO)
    )
    return result
