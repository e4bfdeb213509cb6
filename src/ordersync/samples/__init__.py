"""Deterministic sample worlds: realistic exports of every source plus their ground truth.

`ordersync demo` runs on one, the tests' `fixtures/` are one, and the benchmarks generate them
at scale. See `generate_world`.
"""

from ordersync.samples.bulk import write_big_xlsx
from ordersync.samples.world import (
    DEFAULT_AS_OF,
    World,
    generate_world,
    pull_world,
    snapshot_config,
)

__all__ = [
    "DEFAULT_AS_OF",
    "World",
    "generate_world",
    "pull_world",
    "snapshot_config",
    "write_big_xlsx",
]
