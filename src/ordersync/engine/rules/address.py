"""address_mismatch and address_invalid, plus the receiver keys tracking_reused compares.

Parsing and phone checks live in ordersync.engine.address (vectorised, no per-row Python).
"""

from __future__ import annotations

import polars as pl

from ordersync import schema as s
from ordersync.engine import address as addr
from ordersync.engine.evidence import Gap, RuleResult, shape_hits, with_evidence
from ordersync.engine.view import View, is_dead, is_live, join_ids

_FIELDS = (
    s.STATUS,
    s.SHIPMENT_ID,
    s.RECEIVER_NAME,
    s.RECEIVER_PHONE,
    s.PROVINCE,
    s.CITY,
    s.DISTRICT,
    s.ADDRESS,
)

_PROBLEM_TEXT = {
    "missing_province": ("收货地址缺少省份", "address has no province"),
    "missing_city": ("收货地址缺少城市", "address has no city"),
    "missing_detail": ("收货地址缺少详细地址", "address has no street detail"),
    "bad_phone": ("收件人电话格式不正确", "receiver phone is not a valid number"),
    "no_delivery_region": ("收货地址在不发货地区", "address is in a no-delivery region"),
}


def _full_address() -> pl.Expr:
    return addr.normalise_address(
        pl.col(s.ADDRESS), pl.col(s.PROVINCE), pl.col(s.CITY), pl.col(s.DISTRICT)
    )


def receiver_keys(view: View, order_ids: pl.LazyFrame) -> pl.LazyFrame:
    """order_id → _phone (a full phone number, else null) and _person (name + address).

    Kept apart so two orders are compared by phone only when both have a full one; a masked
    phone on one side must not make the same buyer look like two.
    """
    kind_rank = (
        pl.col(s.SOURCE_KIND)
        .cast(pl.String)
        .replace_strict({"channel": 0, "oms": 1, "warehouse": 2}, default=3)
    )
    best = (
        view.rows.join(order_ids, on=s.ORDER_ID, how="semi")
        .filter(pl.col(s.RECEIVER_PHONE).is_not_null() | pl.col(s.ADDRESS).is_not_null())
        .with_columns(kind_rank.alias("_k"))
        .sort(s.ORDER_ID, "_k", s.SOURCE, s.SHIPMENT_ID)
        .unique(s.ORDER_ID, keep="first", maintain_order=True)
    )
    phone = addr.normalise_phone(pl.col(s.RECEIVER_PHONE))
    full = addr.valid_phone(pl.col(s.RECEIVER_PHONE)) & ~phone.str.contains("*", literal=True)
    return best.select(
        s.ORDER_ID,
        pl.when(full.fill_null(False)).then(phone).alias("_phone"),
        pl.when(pl.col(s.ADDRESS).is_not_null())
        .then(
            pl.concat_str(
                addr.normalise_text(pl.col(s.RECEIVER_NAME)).fill_null(""),
                pl.lit("|"),
                _full_address().fill_null(""),
            )
        )
        .alias("_person"),
    )


def address_mismatch(view: View) -> RuleResult:
    rule = "address_mismatch"
    if not view.has_kind("warehouse"):
        return RuleResult(
            gaps=[
                Gap(
                    rule,
                    "no warehouse source: label addresses cannot be compared",
                    "没有仓库数据源，无法核对面单地址",
                    view.channel(s.ORDER_ID).select(
                        pl.lit("kind=warehouse").alias("scope"), pl.len().alias("orders")
                    ),
                )
            ]
        )
    columns = (
        s.ORDER_ID,
        s.SOURCE,
        s.CHANNEL,
        s.STATUS,
        s.AMOUNT,
        s.ADDRESS,
        s.PROVINCE,
        s.CITY,
        s.DISTRICT,
    )
    channel = view.channel(*columns).filter(is_live())
    shipments = view.warehouse(*columns, s.SHIPMENT_ID).filter(~is_dead())
    gap = Gap(
        rule,
        "{scope}: rows without an address",
        "{scope}：没有收货地址，未检查",
        pl.concat(
            [
                channel.filter(pl.col(s.ADDRESS).is_null()).select(s.ORDER_ID, s.SOURCE),
                shipments.join(channel.select(s.ORDER_ID), on=s.ORDER_ID, how="semi")
                .filter(pl.col(s.ADDRESS).is_null())
                .select(s.ORDER_ID, s.SOURCE),
            ]
        )
        .group_by(pl.format("source={}", s.SOURCE).alias("scope"))
        .agg(pl.col(s.ORDER_ID).n_unique().alias("orders")),
    )
    raw = (s.ADDRESS, s.PROVINCE, s.CITY, s.DISTRICT)
    labels = (
        shipments.filter(pl.col(s.ADDRESS).is_not_null())
        .join(channel.select(s.ORDER_ID), on=s.ORDER_ID, how="semi")
        .select(
            s.ORDER_ID, pl.col(s.SOURCE).alias("_wh"), *[pl.col(c).alias(f"_l_{c}") for c in raw]
        )
    )

    # A label that reads exactly like the channel's address once its columns are joined in
    # order (province, city, district, address) and whitespace is dropped is the same address,
    # however the two exports split it into columns (a platform's one-line "山东省 青岛市 市南区
    # 学院路9号" against a warehouse's four columns). Only the other pairs, few, are parsed:
    # parsing is the costliest step of the rule set.
    def joined_text(prefix: str) -> pl.Expr:
        parts = [pl.col(f"{prefix}{c}") for c in (s.PROVINCE, s.CITY, s.DISTRICT, s.ADDRESS)]
        return pl.concat_str(parts, ignore_nulls=True).str.replace_all(r"\s+", "")

    same_text = joined_text("") == joined_text("_l_")
    pairs = (
        join_ids(
            channel.filter(pl.col(s.ADDRESS).is_not_null()).select(
                s.ORDER_ID, s.SOURCE, s.CHANNEL, s.AMOUNT, *raw
            ),
            labels,
        )
        .filter(~same_text)
        .collect()
    )
    parsed = [
        addr.normalise_address(*[pl.col(c) for c in raw]).alias("_channel_address"),
        addr.normalise_address(*[pl.col(f"_l_{c}") for c in raw]).alias("_label_address"),
    ]
    if not pairs.height:
        # Polars plans the parse's large expression even for no rows (~20 ms each).
        parsed = [pl.lit(None, pl.String).alias(e.meta.output_name()) for e in parsed]
    pairs = pairs.with_columns(parsed)
    firing = (
        pairs.lazy()
        .filter(pl.col("_channel_address") != pl.col("_label_address"))
        .group_by(s.ORDER_ID, s.SOURCE, "_wh")
        .agg(
            pl.col(s.CHANNEL).first(),
            pl.col(s.AMOUNT).first(),
            pl.col("_channel_address").first(),
            pl.col("_label_address").unique().sort(),
        )
    )
    hits = shape_hits(
        firing,
        detail=pl.col("_wh"),
        sources=pl.concat_list(s.SOURCE, "_wh"),
        action="intercept_shipment",
        zh=pl.format("{} 面单地址与渠道当前收货地址不一致", "_wh"),
        en=pl.format("label address at {} differs from the channel's current address", "_wh"),
        facts={
            "channel_address": pl.col("_channel_address"),
            "label_address": pl.col("_label_address"),
        },
    )
    return RuleResult(with_evidence(view, hits, _FIELDS), [gap])


def address_invalid(view: View) -> RuleResult:
    rule = "address_invalid"
    regions = view.config.rules.no_delivery_regions
    channel = view.channel(
        s.ORDER_ID,
        s.SOURCE,
        s.CHANNEL,
        s.STATUS,
        s.AMOUNT,
        s.RECEIVER_PHONE,
        s.ADDRESS,
        s.PROVINCE,
        s.CITY,
        s.DISTRICT,
    ).filter(is_live())
    # Settled once, narrow: the gap and the hits both read the verdicts, and left lazy the
    # address parse (the costliest step of the run) would run once per reader.
    checked = (
        channel.with_columns(
            addr.address_problem_flags(
                pl.col(s.ADDRESS),
                pl.col(s.PROVINCE),
                pl.col(s.CITY),
                pl.col(s.DISTRICT),
                phone=pl.col(s.RECEIVER_PHONE),
                no_delivery_regions=regions,
            ).alias("_problems")
        )
        .select(s.ORDER_ID, s.SOURCE, s.CHANNEL, s.AMOUNT, "_problems")
        .collect()
        .lazy()
    )
    gap = Gap(
        rule,
        "{scope}: orders without an address",
        "{scope}：订单没有收货地址，未检查",
        checked.filter(pl.col("_problems").is_null())
        .group_by(pl.format("source={}", s.SOURCE).alias("scope"))
        .agg(pl.col(s.ORDER_ID).n_unique().alias("orders")),
    )
    problems = checked.collect_schema()["_problems"]
    assert isinstance(problems, pl.Struct)
    firing = pl.concat(
        [
            checked.filter(pl.col("_problems").struct.field(problem.name)).with_columns(
                pl.lit(problem.name).alias("_problems")
            )
            for problem in problems.fields
        ]
    )
    zh = pl.col("_problems").replace_strict(
        {k: v[0] for k, v in _PROBLEM_TEXT.items()}, default=pl.col("_problems")
    )
    en = pl.col("_problems").replace_strict(
        {k: v[1] for k, v in _PROBLEM_TEXT.items()}, default=pl.col("_problems")
    )
    hits = shape_hits(
        firing,
        detail=pl.col("_problems"),
        sources=pl.concat_list(s.SOURCE),
        action=pl.when(pl.col("_problems").is_in(["bad_phone", "no_delivery_region"]))
        .then(pl.lit("contact_buyer"))
        .otherwise(pl.lit("fix_address")),
        zh=zh,
        en=en,
        facts={"problem": pl.col("_problems")},
    )
    return RuleResult(with_evidence(view, hits, _FIELDS), [gap])
