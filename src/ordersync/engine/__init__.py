"""The reconciliation engine: the per-order view, the rules, and the run entry points."""

from ordersync.engine.run import evaluate, latest_result, reconcile

__all__ = ["evaluate", "latest_result", "reconcile"]
