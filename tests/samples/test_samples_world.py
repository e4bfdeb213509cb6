"""The native sample world: reproducible, realistic on disk, and with a complete ground truth."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from samplekit import FIXTURE_DIR, SMALL, digests, read_truth

from ordersync import schema
from ordersync.config import load_config
from ordersync.samples import World, generate_world, snapshot_config
from ordersync.sources import read_source


def test_same_seed_gives_byte_identical_files(world: World, tmp_path: Path) -> None:
    again = generate_world(tmp_path, orders=SMALL)
    assert digests(again.root) == digests(world.root)


def test_another_seed_gives_another_world(world: World, tmp_path: Path) -> None:
    other = generate_world(tmp_path, orders=SMALL, seed=8)
    assert digests(other.root)["truth.csv"] != digests(world.root)["truth.csv"]


def test_as_of_moves_the_whole_world(tmp_path: Path) -> None:
    later = datetime(2027, 3, 1, 4, 0, tzinfo=UTC)
    world = generate_world(tmp_path, orders=200, as_of=later)
    assert world.as_of == later
    oms = pl.read_csv(world.files["oms"][0], infer_schema_length=0)
    assert oms["更新时间"].max() <= "2027-03-01 12:00:00"
    assert oms["下单时间"].min() >= "2027-02-01"


def test_every_source_file_exists_in_its_native_format(world: World) -> None:
    assert set(world.files) == {"taobao", "pdd", "douyin", "shopify", "oms", "wms", "courier"}
    for name in ("taobao", "douyin", "wms"):
        for path in world.files[name]:
            assert path.suffix == ".xlsx" and path.read_bytes()[:2] == b"PK"
    (pdd,) = world.files["pdd"]
    raw = pdd.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("gbk")
    assert text.startswith("商品,订单号,订单状态")
    assert '"=""' in text and "\t," in text  # both ways PDD shields ids from Excel
    assert world.files["oms"][0].read_bytes().startswith(b"\xef\xbb\xbf")
    shopify = world.files["shopify"][0].read_text(encoding="utf-8")
    assert " -0500," in shopify


def test_one_taobao_file_has_a_title_row_above_the_header(world: World) -> None:
    first, second = (
        pl.read_excel(path, has_header=False, infer_schema_length=0)
        for path in world.files["taobao"]
    )
    assert first.row(0)[0] == "2026年11月订单报表" and first.row(1)[0] == "订单编号"
    assert second.row(0)[0] == "订单编号"


def test_ids_are_text_cells(world: World) -> None:
    douyin = pl.read_excel(world.files["douyin"][0], infer_schema_length=0)
    ids = douyin["主订单编号"]
    assert ids.str.len_chars().min() == 19 and ids.str.contains(r"^\d{19}$").all()


def test_config_loads_and_every_file_reads(world: World) -> None:
    config = load_config(world.config_path)
    assert [s.name for s in config.sources] == list(world.files)
    assert config.store.path == "./ordersync-data"
    courier = config.source("courier")
    assert courier.covers.carriers == ("zto", "yto", "yunda", "sto", "jt")
    for source in config.sources:
        read = read_source(config, source)
        frame = read.tracking if source.kind == "carrier" else read.orders
        assert frame.height > 0, source.name
        assert read.unmapped_statuses == {}, source.name
        assert read.unknown_carriers == {}, source.name
    channel_ids = sum(
        read_source(config, config.source(name)).orders.height
        for name in ("taobao", "pdd", "douyin", "shopify")
    )
    assert channel_ids == world.orders


def test_snapshots_read_through_a_snapshot_config(world: World) -> None:
    config = load_config(world.config_path)
    assert [name for name, _path in world.snapshots] == ["pdd", "pdd", "pdd"]
    stamps = []
    for name, path in world.snapshots:
        snapshot = snapshot_config(config, name, path)
        read = read_source(snapshot, snapshot.source(name))
        assert read.orders.height == 3
        stamps.append(read.orders[schema.UPDATED_AT].max())
    assert stamps == sorted(stamps)


def test_truth_lists_every_rule_at_least_three_times(truth: list[dict[str, str]]) -> None:
    anomalies = Counter(row["rule"] for row in truth if row["kind"] == "anomaly")
    for rule in schema.RULES:
        assert anomalies[rule] >= 3, rule
    assert {row["kind"] for row in truth} == {"anomaly", "hard_negative"}
    hard = [row for row in truth if row["kind"] == "hard_negative"]
    anomaly_ids = {row["order_id"] for row in truth if row["kind"] == "anomaly"}
    assert not anomaly_ids & {row["order_id"] for row in hard}


def test_status_mismatch_has_all_three_variants(truth: list[dict[str, str]]) -> None:
    details = {
        row["detail"].split(":")[0]
        for row in truth
        if row["rule"] == "status_mismatch" and row["kind"] == "anomaly"
    }
    assert details == {"oms_unpaid", "channel_shipped_wh_not", "wh_shipped_channel_not"}


def test_ghost_shipment_has_all_three_variants(world: World, truth: list[dict[str, str]]) -> None:
    events = pl.read_csv(world.files["courier"][0], infer_schema_length=0)
    statuses = events.group_by("运单号").agg(pl.col("状态").unique())
    known = dict(zip(statuses["运单号"], statuses["状态"].to_list(), strict=True))
    variants = Counter()
    for row in truth:
        if row["rule"] != "ghost_shipment" or row["kind"] != "anomaly":
            continue
        if row["detail"] == "no_tracking":
            variants["no_tracking"] += 1
        elif row["detail"] not in known:
            variants["unknown_tracking"] += 1
        else:
            assert known[row["detail"]] == ["待揽收"]
            variants["no_pickup_scan"] += 1
    assert set(variants) == {"no_tracking", "unknown_tracking", "no_pickup_scan"}


def test_hard_negatives_cover_the_tricky_cases(world: World, truth: list[dict[str, str]]) -> None:
    hard = {row["order_id"]: row for row in truth if row["kind"] == "hard_negative"}
    tempted = Counter(row["rule"] for row in hard.values())
    for rule in (
        "item_mismatch",
        "tracking_reused",
        "amount_mismatch",
        "address_mismatch",
        "missing_order",
        "ghost_shipment",
        "orphan_order",
        "address_invalid",
        "refund_not_stopped",
        "status_mismatch",
    ):
        assert tempted[rule] >= 1, rule
    wms = pl.read_excel(world.files["wms"][0], infer_schema_length=0)
    merged = wms.filter(pl.col("订单号").str.contains(","))
    assert merged.height >= 3
    for ids in merged["订单号"]:
        assert all(hard[i]["rule"] == "tracking_reused" for i in ids.split(","))
    parcels = Counter(wms["订单号"])
    splits = [i for i, row in hard.items() if row["rule"] == "item_mismatch"]
    assert splits and all(parcels[i] == 2 for i in splits)
    assert wms.filter(pl.col("物流公司") == "顺丰").height > 0
    pdd = pl.read_csv(
        io.StringIO(world.files["pdd"][0].read_bytes().decode("gbk")), infer_schema_length=0
    )
    assert pdd["手机"].str.contains(r"^1\d\d\*{4}\d{4}$").any()
    courier_carriers = set(
        pl.read_csv(world.files["courier"][0], infer_schema_length=0)["快递公司"]
    )
    assert "shunfeng" not in courier_carriers


def test_anomaly_orders_exist_in_the_exports(world: World, truth: list[dict[str, str]]) -> None:
    config = load_config(world.config_path)
    ids: set[str] = set()
    for source in config.sources:
        if source.kind != "carrier":
            ids |= set(read_source(config, source).orders[schema.ORDER_ID])
    assert {row["order_id"] for row in truth} <= ids


def test_truth_file_has_the_documented_columns(world: World) -> None:
    with world.truth_path.open(encoding="utf-8", newline="") as handle:
        assert next(csv.reader(handle)) == ["order_id", "rule", "detail", "kind", "note"]


def test_committed_fixture_is_current(tmp_path: Path) -> None:
    """fixtures/world is this generator's output; regenerate with `python -m ordersync.samples`."""
    if not FIXTURE_DIR.exists():
        pytest.skip("no committed fixture world")
    fresh = generate_world(tmp_path, orders=SMALL)
    assert digests(fresh.root) == digests(FIXTURE_DIR)
    assert read_truth(FIXTURE_DIR / "truth.csv") == read_truth(fresh.truth_path)


def test_anomaly_rate_scales_the_native_scenarios(
    tmp_path: Path, truth: list[dict[str, str]]
) -> None:
    world = generate_world(tmp_path, orders=2_000, anomaly_rate=0.2)
    rows = read_truth(world.truth_path)
    assert world.orders == 2_000
    assert len(rows) > 2.5 * len(truth)
    keys = [(row["order_id"], row["rule"], row["detail"]) for row in rows]
    assert len(keys) == len(set(keys))


def test_a_tiny_world_still_holds_every_scenario(tmp_path: Path) -> None:
    world = generate_world(tmp_path, orders=10)
    assert world.orders > 10
    rules = {row["rule"] for row in read_truth(world.truth_path) if row["kind"] == "anomaly"}
    assert rules == set(schema.RULES)
