"""The 15 rules, one module per family. Each takes the View and returns a RuleResult."""

from __future__ import annotations

from collections.abc import Callable

from ordersync.engine.evidence import RuleResult
from ordersync.engine.rules.address import address_invalid, address_mismatch
from ordersync.engine.rules.money_items import amount_mismatch, item_mismatch
from ordersync.engine.rules.presence import missing_order, orphan_order
from ordersync.engine.rules.risk import frequent_changes
from ordersync.engine.rules.shipment import (
    delivery_stalled,
    duplicate_shipment,
    ghost_shipment,
    tracking_reused,
)
from ordersync.engine.rules.status import refund_not_stopped, status_mismatch
from ordersync.engine.rules.timing import stuck_order, unshipped_timeout
from ordersync.engine.view import View

RULE_FUNCTIONS: dict[str, Callable[[View], RuleResult]] = {
    "missing_order": missing_order,
    "orphan_order": orphan_order,
    "status_mismatch": status_mismatch,
    "refund_not_stopped": refund_not_stopped,
    "ghost_shipment": ghost_shipment,
    "tracking_reused": tracking_reused,
    "unshipped_timeout": unshipped_timeout,
    "stuck_order": stuck_order,
    "delivery_stalled": delivery_stalled,
    "amount_mismatch": amount_mismatch,
    "item_mismatch": item_mismatch,
    "address_mismatch": address_mismatch,
    "address_invalid": address_invalid,
    "frequent_changes": frequent_changes,
    "duplicate_shipment": duplicate_shipment,
}

__all__ = ["RULE_FUNCTIONS"]
