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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import polars as pl


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
