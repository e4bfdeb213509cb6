"""unshipped_timeout and stuck_order: orders that wait too long."""

from __future__ import annotations

import polars as pl

from ordersync import schema as s
from ordersync.engine.evidence import Gap, RuleResult, duration_text, shape_hits, with_evidence
from ordersync.engine.rules.presence import paid_moment
from ordersync.engine.view import PULLED_AT, VERSION_AT, View, is_dead, is_live, is_shipped

HELD = ("on_hold", "processing")


def unshipped_timeout(view: View) -> RuleResult:
    sla = view.config.rules.ship_sla
    waiting = view.channel(
        s.ORDER_ID, s.SOURCE, s.CHANNEL, s.STATUS, s.AMOUNT, s.PAID_AT, s.CREATED_AT, s.SHIPPED_AT
    ).filter(is_live() & ~is_shipped())
    # Shipped by the warehouse but not marked on the channel is status_mismatch's business.
    shipped = (
        view.warehouse(s.ORDER_ID, s.STATUS, s.SHIPPED_AT)
        .filter(is_shipped() & ~is_dead())
        .select(s.ORDER_ID)
    )
    firing = waiting.join(shipped, on=s.ORDER_ID, how="anti").filter(
        paid_moment() <= pl.lit(view.as_of) - view.ship_sla()
    )
    sla_text = pl.lit(duration_text(sla.default))
    for channel, duration in sorted(sla.overrides().items()):
        sla_text = (
            pl.when(pl.col(s.CHANNEL) == channel)
            .then(pl.lit(duration_text(duration)))
            .otherwise(sla_text)
        )
    firing = firing.with_columns(sla_text.alias("_sla"))
    hits = shape_hits(
        firing,
        detail="",
        sources=pl.concat_list(s.SOURCE),
        action="ship_now",
        zh=pl.format("付款超过 {} 仍未发货", "_sla"),
        en=pl.format("paid more than {} ago and not shipped", "_sla"),
        facts={"paid_at": paid_moment(), "ship_sla": pl.col("_sla")},
    )
    return RuleResult(with_evidence(view, hits, (s.STATUS, s.PAID_AT, s.SHIPPED_AT)))


def stuck_order(view: View) -> RuleResult:
    rule = "stuck_order"
    after = view.config.rules.stuck_after
    current = view.rows.filter(
        pl.col(s.SOURCE_KIND).is_in(["channel", "oms"])
        & pl.col(s.STATUS).is_in(HELD).fill_null(False)
    ).select(s.ORDER_ID, s.SOURCE, s.CHANNEL, s.AMOUNT, s.STATUS, s.UPDATED_AT)
    history = view.history
    stamp = (
        pl.coalesce(s.UPDATED_AT, PULLED_AT)
        if PULLED_AT in history.collect_schema().names()
        else pl.col(s.UPDATED_AT)
    )
    versions = pl.concat(
        [
            history.filter(pl.col(s.SOURCE_KIND).is_in(["channel", "oms"])).select(
                s.ORDER_ID, s.SOURCE, pl.col(s.STATUS).alias("_v_status"), stamp.alias(VERSION_AT)
            ),
            # The current row counts as a version, so an order is judged without history too.
            current.select(
                s.ORDER_ID,
                s.SOURCE,
                pl.col(s.STATUS).alias("_v_status"),
                pl.col(s.UPDATED_AT).alias(VERSION_AT),
            ),
        ]
    ).filter(pl.col(VERSION_AT).is_not_null() & (pl.col(VERSION_AT) <= view.as_of))
    same = pl.col("_v_status") == pl.col(s.STATUS)
    entered = (
        current.select(s.ORDER_ID, s.SOURCE, s.STATUS)
        .join(versions, on=[s.ORDER_ID, s.SOURCE])
        .group_by(s.ORDER_ID, s.SOURCE)
        .agg(
            pl.col(VERSION_AT)
            .filter(
                same & (pl.col(VERSION_AT) > pl.col(VERSION_AT).filter(~same).max()).fill_null(True)
            )
            .min()
            .alias("_entered")
        )
    )
    judged = current.join(entered, on=[s.ORDER_ID, s.SOURCE], how="left")
    gap = Gap(
        rule,
        "{scope}: held orders with no date for when they entered that status",
        "{scope}：无法确定订单进入该状态的时间，未检查",
        judged.filter(pl.col("_entered").is_null())
        .group_by(pl.format("source={}", s.SOURCE).alias("scope"))
        .agg(pl.col(s.ORDER_ID).n_unique().alias("orders")),
    )
    firing = judged.filter(pl.col("_entered") <= view.before(after))
    text = pl.lit(duration_text(after))
    hits = shape_hits(
        firing,
        detail=pl.col(s.SOURCE),
        sources=pl.concat_list(s.SOURCE),
        action=pl.when(pl.col(s.STATUS) == "on_hold")
        .then(pl.lit("release_hold"))
        .otherwise(pl.lit("review_order")),
        zh=pl.format("订单在 {} 中处于 {} 状态超过 {}", s.SOURCE, s.STATUS, text),
        en=pl.format("order has been {} in {} for more than {}", s.STATUS, s.SOURCE, text),
        facts={"status": pl.col(s.STATUS), "since": pl.col("_entered"), "stuck_after": text},
    )
    return RuleResult(with_evidence(view, hits, (s.STATUS, s.RAW_STATUS, s.UPDATED_AT)), [gap])
