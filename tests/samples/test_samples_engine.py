"""End to end: pull a native world (snapshots first), reconcile, and compare with truth.csv.

This is the check that the world's ground truth and the engine agree: every anomaly row fires,
and nothing else does (clean orders and hard negatives stay silent).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from samplekit import SMALL, read_truth

from ordersync.config import load_config
from ordersync.engine.run import reconcile
from ordersync.samples import generate_world, pull_world
from ordersync.store import Store


def _findings(root: Path) -> tuple[set[tuple[str, str, str]], list[dict[str, str]]]:
    world = generate_world(root, orders=SMALL)
    config = load_config(world.config_path)
    store = Store.for_config(config)
    pull_world(world, config, store)
    result = reconcile(config, store, as_of=world.as_of, now=world.as_of)
    open_ = result.findings.filter(pl.col("state") == "open")
    found = {(r["order_id"], r["rule"], r["detail"] or "") for r in open_.iter_rows(named=True)}
    return found, read_truth(world.truth_path)


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory):
    return _findings(tmp_path_factory.mktemp("judged"))


def test_every_anomaly_fires(judged) -> None:
    found, truth = judged
    expected = {(r["order_id"], r["rule"], r["detail"]) for r in truth if r["kind"] == "anomaly"}
    assert sorted(expected - found) == []


def test_nothing_else_fires(judged) -> None:
    found, truth = judged
    expected = {(r["order_id"], r["rule"], r["detail"]) for r in truth if r["kind"] == "anomaly"}
    assert sorted(found - expected) == []


def test_hard_negatives_stay_silent(judged) -> None:
    found, truth = judged
    hard = {r["order_id"] for r in truth if r["kind"] == "hard_negative"}
    noisy = sorted(f for f in found if f[0] in hard)
    assert noisy == []
