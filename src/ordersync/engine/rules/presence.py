"""missing_order and orphan_order: is every order where it should be, and nothing extra."""

from __future__ import annotations

import polars as pl

from ordersync import schema as s
from ordersync.engine.evidence import Gap, RuleResult, duration_text, shape_hits, with_evidence
from ordersync.engine.view import View, is_live, join_ids
from ordersync.profiles import dated

# An OMS has released an order to the warehouse once it is paid and not held.
RELEASED = ("paid", "processing", "shipped", "delivered")


def paid_moment() -> pl.Expr:
    """When a live channel order was paid; created_at stands in where paid_at is absent."""
    return pl.coalesce(s.PAID_AT, s.CREATED_AT)


def missing_order(view: View) -> RuleResult:
    rule = "missing_order"
    grace = view.config.rules.missing_grace
    result = RuleResult()
    targets = [
        (name, view.sources[name].kind, view.sources[name].start)
        for kind in ("oms", "warehouse")
        for name in view.source_names(kind)
    ]
    live = view.channel(
        s.ORDER_ID,
        s.SOURCE,
        s.CHANNEL,
        s.STATUS,
        s.AMOUNT,
        s.PAID_AT,
        s.CREATED_AT,
        s.SHIPPED_AT,
        s.DELIVERED_AT,
    ).filter(is_live() & (paid_moment() <= view.before(grace)))
    for kind in ("oms", "warehouse"):
        if not view.has_kind(kind):
            result.gaps.append(
                Gap(
                    rule,
                    f"no {kind} source has any orders, so no order can be found missing from one",
                    f"没有{'OMS' if kind == 'oms' else '仓库'}数据源，无法判断订单是否漏推",
                    live.select(pl.lit(f"kind={kind}").alias("scope"), pl.len().alias("orders")),
                )
            )
    if not targets:
        return result
    target_frame = pl.LazyFrame(
        {
            "_target": [t[0] for t in targets],
            "_kind": [t[1] for t in targets],
            "_start": [t[2] for t in targets],
        },
        schema={"_target": pl.String, "_kind": pl.String, "_start": s.Timestamp},
    )
    # No unique(): the anti-join below reads it as a set, and de-duplicating 3 rows per order
    # cost more than the join.
    present = view.rows.select(s.ORDER_ID, pl.col(s.SOURCE).alias("_target"))
    if view.has_kind("oms"):
        released = (
            view.oms(s.ORDER_ID, s.STATUS)
            .filter(pl.col(s.STATUS).is_in(RELEASED).fill_null(False))
            .select(s.ORDER_ID, pl.lit(True).alias("_released"))
            .unique()
        )
        live = join_ids(live, released, how="left").with_columns(
            pl.col("_released").fill_null(False)
        )
    else:
        live = live.with_columns(pl.lit(True).alias("_released"))
    absent = join_ids(
        live.join(target_frame, how="cross"), present, how="anti", on=["_target"]
    ).filter((pl.col("_kind") == "oms") | pl.col("_released"))
    # Few rows (the absent orders), read by the gap and the hits: settled once.
    absent = absent.collect().lazy()
    # Decision (RULES.md, extended to OMS sources): an order already delivered before a source's
    # data begins predates that export; its absence says nothing.
    before_coverage = (
        (pl.col(s.STATUS) == "delivered")
        & pl.col("_start").is_not_null()
        & (pl.coalesce(s.DELIVERED_AT, s.SHIPPED_AT, paid_moment()) < pl.col("_start"))
    )
    result.gaps.append(
        Gap(
            rule,
            "delivered on the channel before {scope}'s data begins",
            "渠道上已签收的订单早于{scope}数据的起始时间，未检查",
            absent.filter(before_coverage)
            .group_by(pl.format("source={}", "_target").alias("scope"))
            .agg(pl.col(s.ORDER_ID).n_unique().alias("orders")),
        )
    )
    hits = shape_hits(
        absent.filter(~before_coverage),
        detail=pl.col("_target"),
        sources=pl.concat_list(s.SOURCE, "_target"),
        action=pl.when(pl.col("_kind") == "oms")
        .then(pl.lit("push_to_oms"))
        .otherwise(pl.lit("push_to_warehouse")),
        zh=pl.format(
            "已付款订单在 {} 中不存在（付款超过 {}）", "_target", pl.lit(duration_text(grace))
        ),
        en=pl.format(
            "paid order is missing from {} (paid more than {} ago)",
            "_target",
            pl.lit(duration_text(grace)),
        ),
        facts={"paid_at": pl.col(s.PAID_AT), "missing_grace": pl.lit(duration_text(grace))},
    )
    result.hits = with_evidence(view, hits, (s.STATUS, s.PAID_AT, s.AMOUNT))
    return result


def orphan_order(view: View) -> RuleResult:
    rule = "orphan_order"
    result = RuleResult()
    channel_ids = view.channel(s.ORDER_ID)
    orphans = (
        view.rows.filter(pl.col(s.SOURCE_KIND) != "channel")
        .select(s.ORDER_ID, s.SOURCE, s.CHANNEL, s.SHIPMENT_ID, s.AMOUNT, dated().alias("_at"))
        .join(channel_ids, on=s.ORDER_ID, how="anti")
        .sort(s.ORDER_ID, s.SOURCE, s.SHIPMENT_ID)
        .group_by(s.ORDER_ID, s.SOURCE)
        .agg(
            pl.col(s.CHANNEL).drop_nulls().first(),
            pl.col(s.AMOUNT).drop_nulls().first(),
            pl.col("_at").min(),
        )
    )
    coverage = view.channel_coverage
    if coverage.is_empty():
        result.gaps.append(
            Gap(
                rule,
                "no channel source has any orders, so no row can be called an orphan",
                "没有渠道数据源，无法判断孤儿订单",
                orphans.group_by(pl.format("source={}", s.SOURCE).alias("scope")).agg(
                    pl.len().alias("orders")
                ),
            )
        )
        return result
    periods = coverage.lazy().select(
        pl.col(s.CHANNEL).alias("_cov_channel"), "cov_start", "cov_end"
    )
    inside = (
        orphans.join(periods, how="cross")
        .filter(
            (pl.col(s.CHANNEL).is_null() | (pl.col(s.CHANNEL) == pl.col("_cov_channel")))
            & pl.col("_at").is_between(pl.col("cov_start"), pl.col("cov_end"))
        )
        .select(s.ORDER_ID, s.SOURCE)
        .unique()
    )
    judged = orphans.join(inside, on=[s.ORDER_ID, s.SOURCE], how="semi")
    result.gaps.append(
        Gap(
            rule,
            "{scope}: rows dated outside every channel source's period (or undated)",
            "{scope}：行的日期不在任何渠道数据的覆盖期内（或无日期），未检查",
            orphans.join(inside, on=[s.ORDER_ID, s.SOURCE], how="anti")
            .group_by(pl.format("source={}", s.SOURCE).alias("scope"))
            .agg(pl.len().alias("orders")),
        )
    )
    hits = shape_hits(
        judged,
        detail=pl.col(s.SOURCE),
        sources=pl.concat_list(s.SOURCE),
        action="check_orphan",
        zh=pl.format("{} 中的订单在任何渠道都找不到", s.SOURCE),
        en=pl.format("order in {} matches no channel order", s.SOURCE),
        facts={"dated_at": pl.col("_at")},
    )
    result.hits = with_evidence(
        view, hits, (s.CHANNEL, s.STATUS, s.AMOUNT, s.CREATED_AT, s.PAID_AT, s.SHIPPED_AT)
    )
    return result
