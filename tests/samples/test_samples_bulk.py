"""Benchmark worlds: every source as csv or parquet, vectorised, with a matching truth."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from samplekit import digests, read_truth

from ordersync.config import load_config
from ordersync.samples import generate_world, write_big_xlsx
from ordersync.samples.bulk import chunks
from ordersync.samples.world import DEFAULT_AS_OF
from ordersync.sources import read_source


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_bulk_world_reads_and_lists_its_anomalies(tmp_path: Path, fmt: str) -> None:
    world = generate_world(tmp_path, orders=20_000, formats=fmt, anomaly_rate=0.02)
    assert set(world.files) == {"taobao", "oms", "wms", "courier"}
    assert all(p.suffix == f".{fmt}" for paths in world.files.values() for p in paths)
    config = load_config(world.config_path)
    channel = read_source(config, config.source("taobao")).orders
    assert channel.height == 20_000 and channel["order_id"].n_unique() == 20_000
    for name in ("oms", "wms", "courier"):
        read = read_source(config, config.source(name))
        assert read.unmapped_statuses == {} and read.unknown_carriers == {}, name
    rules = Counter(row["rule"] for row in read_truth(world.truth_path))
    assert set(rules) == {
        "missing_order",
        "status_mismatch",
        "unshipped_timeout",
        "amount_mismatch",
        "item_mismatch",
        "address_mismatch",
        "ghost_shipment",
        "orphan_order",
    }
    assert sum(rules.values()) == pytest.approx(20_000 * 0.02, rel=0.3)


def test_bulk_world_is_deterministic_and_chunked(tmp_path: Path) -> None:
    first = generate_world(tmp_path / "a", orders=3_000, formats="parquet")
    second = generate_world(tmp_path / "b", orders=3_000, formats="parquet")
    assert digests(first.root) == digests(second.root)
    # Chunks depend only on (seed, index): a bigger world starts with the same orders.
    small = next(chunks(seed=7, orders=1_000, as_of=DEFAULT_AS_OF, anomaly_rate=0.0, size=1_000))
    more = list(chunks(seed=7, orders=2_500, as_of=DEFAULT_AS_OF, anomaly_rate=0.0, size=1_000))
    assert len(more) == 3 and more[0].channel.equals(small.channel)


def test_default_anomaly_rate_is_half_a_percent(tmp_path: Path) -> None:
    world = generate_world(tmp_path, orders=40_000, formats="csv")
    anomalies = {row["order_id"] for row in read_truth(world.truth_path)}
    assert 0.003 * 40_000 < len(anomalies) < 0.007 * 40_000


def test_big_xlsx_is_a_readable_taobao_export(tmp_path: Path) -> None:
    path = write_big_xlsx(tmp_path / "big.xlsx", rows=500)
    frame = pl.read_excel(path, infer_schema_length=0)
    assert frame.height == 500
    assert frame.columns[:3] == ["订单编号", "买家实际支付金额", "订单状态"]
    assert frame["订单编号"].str.contains(r"^\d{19}$").all()
