"""The reconciliation engine: the per-order view, the rules, and the run entry points."""

from ordersync.engine.run import ReconcileProgress, evaluate, latest_result, reconcile

__all__ = ["ReconcileProgress", "evaluate", "latest_result", "reconcile"]
