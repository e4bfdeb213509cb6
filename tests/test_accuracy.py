"""Accuracy against the sample worlds' ground truth, at several seeds and scales.

Each world is generated, pulled (earlier snapshots first, dated just before the world's as_of,
as `ordersync demo` does) and reconciled once. Then: every injected anomaly is found under its
rule with its detail (recall 100 %), and nothing else fires — no finding on a clean order and
none on a hard negative (precision 100 %).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ordersync import schema
from ordersync.config import load_config
from ordersync.engine.run import evaluate, reconcile
from ordersync.samples import World, generate_world, pull_world
from ordersync.store import Store

Key = tuple[str, str, str]  # (order_id, rule, detail)

WORLDS = {
    "native-seed7-600": {"seed": 7, "orders": 600},
    "native-seed11-600": {"seed": 11, "orders": 600},
    "native-seed23-600": {"seed": 23, "orders": 600},
    # Three rounds of every scenario among 3,000 orders: several anomalies per rule.
    "native-seed5-3000x3": {"seed": 5, "orders": 3000, "anomaly_rate": 0.12},
    # The vectorised bulk writer: its own anomaly kinds, no snapshots, no hard negatives.
    "parquet-seed4-20000": {"seed": 4, "orders": 20000, "formats": "parquet", "anomaly_rate": 0.01},
}


@dataclass(frozen=True)
class Judged:
    name: str
    native: bool
    found: set[Key]
    states: dict[str, int]
    anomalies: set[Key]
    hard_negatives: dict[str, str]  # order_id -> the rule it tempts
    truth_rules: set[str]
    config_path: Path
    as_of: datetime


def _judge(root: Path, **kwargs) -> tuple[set[Key], dict[str, int], World]:
    world = generate_world(root, **kwargs)
    config = load_config(world.config_path)
    store = Store.for_config(config)
    pull_world(world, config, store)
    result = reconcile(config, store, as_of=world.as_of, now=world.as_of)
    found = {
        (r[schema.ORDER_ID], r[schema.RULE], r[schema.DETAIL] or "")
        for r in result.findings.iter_rows(named=True)
    }
    states = dict(result.findings.group_by(pl.col(schema.STATE).cast(pl.String)).len().iter_rows())
    return found, states, world


@pytest.fixture(scope="module", params=list(WORLDS), ids=list(WORLDS))
def judged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Judged:
    kwargs = WORLDS[request.param]
    found, states, world = _judge(tmp_path_factory.mktemp(request.param), **kwargs)
    with world.truth_path.open(encoding="utf-8", newline="") as handle:
        truth = list(csv.DictReader(handle))
    return Judged(
        name=request.param,
        native=kwargs.get("formats", "native") == "native",
        found=found,
        states=states,
        anomalies={
            (r["order_id"], r["rule"], r["detail"]) for r in truth if r["kind"] == "anomaly"
        },
        hard_negatives={r["order_id"]: r["rule"] for r in truth if r["kind"] == "hard_negative"},
        truth_rules={r["rule"] for r in truth if r["kind"] == "anomaly"},
        config_path=world.config_path,
        as_of=world.as_of,
    )


def _rows(keys: set[Key]) -> str:
    return "\n".join(f"  {order_id} | {rule} | {detail}" for order_id, rule, detail in sorted(keys))


def test_truth_is_not_trivial(judged: Judged) -> None:
    """The comparison below means something: many anomalies, every rule where the world has it."""
    assert len(judged.anomalies) >= 60
    if judged.native:
        assert judged.truth_rules == set(schema.RULES)
        assert len(judged.hard_negatives) >= 20
    else:
        assert len(judged.truth_rules) >= 8


def test_every_anomaly_is_found_under_its_rule(judged: Judged) -> None:
    missed = judged.anomalies - judged.found
    assert not missed, f"{judged.name}: {len(missed)} injected anomalies not found:\n" + _rows(
        missed
    )


def test_no_finding_on_a_clean_order(judged: Judged) -> None:
    extra = judged.found - judged.anomalies
    assert not extra, f"{judged.name}: {len(extra)} findings that truth.csv does not list:\n" + (
        _rows(extra)
    )


def test_hard_negatives_stay_silent(judged: Judged) -> None:
    noisy = {key for key in judged.found if key[0] in judged.hard_negatives}
    assert not noisy, f"{judged.name}: findings on hard negatives:\n" + "\n".join(
        f"  {o} | {r} | {d}  (tempts {judged.hard_negatives[o]})" for o, r, d in sorted(noisy)
    )


def test_a_fresh_store_has_only_open_findings(judged: Judged) -> None:
    assert judged.states == {"open": len(judged.found)}


def test_judging_in_buckets_changes_nothing(judged: Judged) -> None:
    """A store too large for one piece is judged in order-id buckets (engine.buckets): the
    findings, evidence included, the not-checked list and the coverage are exactly those of
    judging it whole."""
    config = load_config(judged.config_path)
    store = Store.for_config(config)
    inputs = (config, store.orders(), store.tracking(), store.order_history())
    whole = evaluate(*inputs, as_of=judged.as_of)
    rows = store.orders().select(pl.len()).collect().item()
    split = evaluate(*inputs, as_of=judged.as_of, rows_per_bucket=rows // 7)
    assert whole[0].height == len(judged.found)
    assert_frame_equal(split[0], whole[0])
    assert split[1] == whole[1]
    assert_frame_equal(split[2], whole[2])
