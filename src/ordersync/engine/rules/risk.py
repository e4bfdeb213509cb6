"""frequent_changes: orders whose address, items or amount keep changing."""

from __future__ import annotations

import polars as pl

from ordersync import schema as s
from ordersync.engine.evidence import Gap, RuleResult, duration_text, shape_hits, with_evidence
from ordersync.engine.rules.shipment import with_order_facts
from ordersync.engine.view import CHANGE_FINGERPRINT, PULLED_AT, VERSION_AT, View


def frequent_changes(view: View) -> RuleResult:
    rule = "frequent_changes"
    cfg = view.config.rules
    k, window = cfg.max_changes, cfg.change_window
    history = view.history
    if PULLED_AT not in history.collect_schema().names():
        return RuleResult(
            gaps=[
                Gap(
                    rule,
                    "no order history with pull times",
                    "没有带拉取时间的订单历史，未检查",
                    view.rows.select(
                        pl.lit("history").alias("scope"),
                        pl.col(s.ORDER_ID).n_unique().alias("orders"),
                    ),
                )
            ]
        )
    key = [s.SOURCE, s.ORDER_ID, s.SHIPMENT_ID]
    history = history.select(*key, CHANGE_FINGERPRINT, s.UPDATED_AT, PULLED_AT)
    if k >= 1:
        # k changes need k + 1 versions: only keys with that many history rows can fire, and
        # they are few. Counted on a hash of the key (a collision only keeps a key too many).
        key_hash = pl.struct(key).hash().alias("_kh")
        busy = (
            history.select(key_hash)
            .group_by("_kh")
            .agg(pl.len().alias("_n"))
            .filter(pl.col("_n") >= k + 1)
            .select("_kh")
        )
        history = history.with_columns(key_hash).join(busy, on="_kh", how="semi").drop("_kh")
    versions = (
        history.with_columns(
            pl.coalesce(s.UPDATED_AT, PULLED_AT).alias(VERSION_AT),
            pl.col(CHANGE_FINGERPRINT).alias("_fp"),
        )
        .select(*key, VERSION_AT, PULLED_AT, "_fp")
        .unique()
        .sort(*key, VERSION_AT, PULLED_AT, "_fp")
    )

    # Sorted by key, so "the row `n` before/after is of the same key" replaces a window over
    # the key (windows over millions of groups are slow).
    def same_key(n: int) -> pl.Expr:
        return pl.all_horizontal([pl.col(c).eq_missing(pl.col(c).shift(n)) for c in key])

    changes = (
        versions.filter((same_key(1) & (pl.col("_fp") != pl.col("_fp").shift(1))).fill_null(False))
        .collect()
        .lazy()
    )
    # k changes within the window: some change and the (k-1)th after it are close enough.
    windows = changes.with_columns(
        pl.when(same_key(-(k - 1))).then(pl.col(VERSION_AT).shift(-(k - 1))).alias("_kth")
    ).filter(pl.col("_kth") - pl.col(VERSION_AT) <= window)
    firing = (
        windows.group_by(s.ORDER_ID, s.SOURCE)
        .agg(pl.col(VERSION_AT).min().alias("_from"), pl.col("_kth").min().alias("_to"))
        .join(
            changes.group_by(s.ORDER_ID, s.SOURCE).agg(pl.len().alias("_changes")),
            on=[s.ORDER_ID, s.SOURCE],
        )
    )
    firing = with_order_facts(view, firing)
    text = pl.lit(duration_text(window))
    hits = shape_hits(
        firing,
        detail=pl.col(s.SOURCE),
        sources=pl.concat_list(s.SOURCE),
        action="review_order",
        zh=pl.format("订单的地址/商品/金额在 {} 内修改了 {} 次以上", text, pl.lit(k)),
        en=pl.format("address, items or amount changed {}+ times within {}", pl.lit(k), text),
        facts={
            "first_change": pl.col("_from"),
            "changes": pl.col("_changes"),
            "change_window": text,
        },
    )
    return RuleResult(with_evidence(view, hits, (s.UPDATED_AT, s.AMOUNT, s.ADDRESS, s.ITEMS)))
