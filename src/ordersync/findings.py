"""Finding records, their lifecycle across runs, and the result of one reconcile run.

A finding's identity is (rule, order_id, detail); `finding_id` is a hash of those, so it is
stable across runs. Its `evidence_hash` changes when the evidence does: an acknowledged finding
whose evidence changes becomes open again.

`evidence` is a JSON object, the same layout for every rule, so reports can put each source's
values side by side::

    {"orders":   [{"source": "taobao", "source_kind": "channel", "status": "refunded",
                   "raw_status": "退款成功，交易关闭", "amount": "59.90",
                   "paid_at": "2026-11-18T02:10:00+00:00", "updated_at": "…", "shipped_at": null,
                   "tracking_no": ["ZT123"], "carrier": "zto", "shipment_id": "",
                   "receiver_name": "…", "receiver_phone": "…", "province": "…", "city": "…",
                   "district": "…", "address": "…", "items": [{"sku": "A", "qty": 1}]}, …],
     "tracking": [{"source": "kuaidi100", "tracking_no": "ZT123", "carrier": "zto",
                   "tracking_status": "in_transit", "first_scan_at": "…",
                   "last_event_at": "…", "delivered_at": null}, …],
     "facts":    {"threshold": "48h", "age_hours": 61.5, …}}

Only the fields that matter to the rule need be present in each entry; times are ISO 8601 UTC.
"Money at risk" is the sum of `amount` over the distinct orders that have an open critical or
high finding.

Lifecycle (`apply_lifecycle`), all times being the run's `as_of`, never the wall clock, so that
re-running on the same data at the same as_of yields identical findings:

- a hit with no previous finding is new: open, first_seen = last_seen = as_of;
- a hit that was open stays open: first_seen kept, last_seen = as_of;
- a hit that was acknowledged stays acknowledged while its evidence_hash is unchanged and
  re-opens when it changes (ack_note and acked_at are kept as history);
- a hit that was resolved re-opens (first_seen kept, resolved_at cleared);
- a previous open or acknowledged finding with no hit, whose rule ran and whose order was in
  the run's scope, becomes resolved with resolved_at = as_of. It is kept, never deleted.
  Findings outside the run's scope (other rules, orders outside --since/--until or untouched
  by an incremental run) carry over unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import polars as pl

from ordersync import schema as s


@dataclass(frozen=True)
class NotChecked:
    """A rule that could not give a verdict somewhere, and why (coverage, not a guess)."""

    rule: str
    scope: str  # e.g. "carrier=sf", "source=wms", "channel=pdd before 2026-11-01"
    reason_en: str
    reason_zh: str
    orders: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "scope": self.scope,
            "reason_en": self.reason_en,
            "reason_zh": self.reason_zh,
            "orders": self.orders,
        }


@dataclass(frozen=True)
class ReconcileResult:
    """Everything one `reconcile` run decided; reports render it, the store keeps it.

    `findings` has schema.FINDINGS_SCHEMA's columns and holds every finding the store knows
    after this run, in every state (open, acknowledged, resolved). `orders_checked` has one row
    per (source, channel) with the number of orders seen.
    """

    run_id: str
    as_of: datetime
    started_at: datetime
    findings: pl.DataFrame
    orders_checked: pl.DataFrame
    not_checked: tuple[NotChecked, ...] = ()
    new: int = 0
    still_open: int = 0
    resolved: int = 0
    money_at_risk: Decimal = Decimal("0")
    rules_run: tuple[str, ...] = field(default_factory=tuple)
    # What the verdicts rested on besides the rows (engine.run.basis), for the next
    # incremental run to compare; None for results not judged from a store.
    basis: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "started_at": self.started_at.isoformat(),
            "findings": self.findings.height,
            "new": self.new,
            "still_open": self.still_open,
            "resolved": self.resolved,
            "money_at_risk": str(self.money_at_risk),
            "rules_run": list(self.rules_run),
            "not_checked": [n.to_dict() for n in self.not_checked],
        }


# --- identity ------------------------------------------------------------------------------

_SEP = "\x1f"


def _short_hash(parts: Iterable[str]) -> str:
    # blake2b rather than Polars' hash: ids are stored across runs and Polars only promises a
    # stable hash within one version.
    return hashlib.blake2b(_SEP.join(parts).encode("utf-8"), digest_size=8).hexdigest()


def finding_id(rule: str, order_id: str, detail: str | None) -> str:
    """Stable 16-hex id of (rule, order_id, detail)."""
    return _short_hash((rule, order_id, detail or ""))


def evidence_hash(evidence: str | None) -> str:
    return _short_hash((evidence or "",))


def with_identity(hits: pl.DataFrame) -> pl.DataFrame:
    """Add finding_id and evidence_hash to hits (one hash per finding, not per order)."""
    ids = [
        finding_id(rule, order, detail)
        for rule, order, detail in zip(
            hits.get_column(s.RULE),
            hits.get_column(s.ORDER_ID),
            hits.get_column(s.DETAIL),
            strict=True,
        )
    ]
    hashes = [evidence_hash(e) for e in hits.get_column(s.EVIDENCE)]
    return hits.with_columns(
        pl.Series(s.FINDING_ID, ids, dtype=pl.String),
        pl.Series(s.EVIDENCE_HASH, hashes, dtype=pl.String),
    )


# --- lifecycle -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LifecycleCounts:
    new: int
    still_open: int
    resolved: int


def apply_lifecycle(
    previous: pl.DataFrame,
    hits: pl.DataFrame,
    *,
    as_of: datetime,
    rules_run: Sequence[str],
    scope_ids: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, LifecycleCounts]:
    """Merge this run's hits (FINDINGS_SCHEMA, state open) into the previous findings.

    `scope_ids` (an order_id column) limits which previous findings this run could have seen;
    None means every order was evaluated. See the module docstring for the transitions.
    """
    prev = s.conform(previous, s.FINDINGS_SCHEMA)
    cur = s.conform(hits, s.FINDINGS_SCHEMA)
    stamp = pl.lit(as_of).cast(s.Timestamp)
    carried = prev.select(
        s.FINDING_ID,
        pl.col(s.STATE).alias("_p_state"),
        pl.col(s.EVIDENCE_HASH).alias("_p_hash"),
        pl.col(s.FIRST_SEEN).alias("_p_first"),
        pl.col(s.ACK_NOTE).alias("_p_note"),
        pl.col(s.ACKED_AT).alias("_p_acked"),
    )
    seen = cur.join(carried, on=s.FINDING_ID, how="left")
    kept_ack = (pl.col("_p_state") == "acknowledged") & (
        pl.col("_p_hash") == pl.col(s.EVIDENCE_HASH)
    )
    was_live = pl.col("_p_state").is_in(["open", "acknowledged"]).fill_null(False)
    seen = seen.with_columns(
        pl.when(kept_ack.fill_null(False))
        .then(pl.lit("acknowledged"))
        .otherwise(pl.lit("open"))
        .cast(s.StateDtype)
        .alias(s.STATE),
        pl.coalesce("_p_first", stamp).alias(s.FIRST_SEEN),
        stamp.alias(s.LAST_SEEN),
        pl.lit(None, s.Timestamp).alias(s.RESOLVED_AT),
        pl.col("_p_note").alias(s.ACK_NOTE),
        pl.col("_p_acked").alias(s.ACKED_AT),
        was_live.alias("_was_live"),
        (~was_live | ((pl.col("_p_state") == "acknowledged") & ~kept_ack.fill_null(False))).alias(
            "_new"
        ),
    )

    gone = prev.join(cur.select(s.FINDING_ID), on=s.FINDING_ID, how="anti")
    in_scope = pl.col(s.RULE).is_in(list(rules_run))
    if scope_ids is not None:
        in_scope = in_scope & pl.col(s.ORDER_ID).is_in(scope_ids.get_column(s.ORDER_ID).implode())
    resolving = in_scope & pl.col(s.STATE).is_in(["open", "acknowledged"])
    gone = gone.with_columns(resolving.alias("_resolving")).with_columns(
        pl.when("_resolving")
        .then(pl.lit("resolved"))
        .otherwise(pl.col(s.STATE).cast(pl.String))
        .cast(s.StateDtype)
        .alias(s.STATE),
        pl.when("_resolving").then(stamp).otherwise(pl.col(s.RESOLVED_AT)).alias(s.RESOLVED_AT),
    )
    counts = LifecycleCounts(
        new=int(seen.get_column("_new").sum()),
        still_open=int(seen.get_column("_was_live").sum())
        - int((seen.get_column("_new") & seen.get_column("_was_live")).sum()),
        resolved=int(gone.get_column("_resolving").sum()),
    )
    merged = pl.concat([s.conform(seen, s.FINDINGS_SCHEMA), s.conform(gone, s.FINDINGS_SCHEMA)])
    return merged.sort(s.RULE, s.ORDER_ID, s.DETAIL, s.FINDING_ID), counts


def money_at_risk(findings: pl.DataFrame) -> Decimal:
    """Sum of amount over the distinct orders with an open critical or high finding."""
    at_risk = (
        findings.filter(
            (pl.col(s.STATE) == "open") & pl.col(s.SEVERITY).is_in(["critical", "high"])
        )
        .group_by(s.ORDER_ID)
        .agg(pl.col(s.AMOUNT).max())
        .get_column(s.AMOUNT)
        .sum()
    )
    return Decimal(str(at_risk)) if at_risk is not None else Decimal("0")
