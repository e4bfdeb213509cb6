"""`generate_world`: a deterministic multi-channel sample world with its ground truth.

A world directory holds the sources' exports, an `ordersync.yaml` that reads them, and
`truth.csv`, which lists for every injected anomaly each rule (docs/RULES.md) that must fire on
it, and the hard negatives that must trigger nothing. The same seed and arguments give
byte-identical files.

Native worlds also carry `snapshots/pdd/`: earlier versions of some Pinduoduo orders. The
`frequent_changes` rule needs history across pulls, which one export cannot show, so pull each
snapshot file (in `World.snapshots` order) as the `pdd` source before pulling the final exports;
without that, the `frequent_changes` rows of the truth cannot fire.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from ordersync.config import Config
from ordersync.samples import bulk, catalog, writers
from ordersync.samples.anomalies import SCENARIOS, NativeWorld, Truth, build_native
from ordersync.samples.model import Parcel, bj

if TYPE_CHECKING:
    from ordersync.store import PullStats, Store

# 12:00 in Beijing. Fixed, so a world is the same whenever it is generated.
DEFAULT_AS_OF = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
TRUTH_HEADER = ("order_id", "rule", "detail", "kind", "note")
CONFIG_NAME = "ordersync.yaml"
TRUTH_NAME = "truth.csv"
Formats = Literal["native", "csv", "parquet"]


@dataclass(frozen=True)
class World:
    """A generated world on disk.

    `orders` is the number of channel orders written: the requested number, or more when that
    is too small to hold every scenario. `files` maps each source name of the config to its files. `snapshots` lists
    (source name, file) pairs to pull, in order, before the final exports (native worlds only).
    """

    root: Path
    config_path: Path
    truth_path: Path
    as_of: datetime
    orders: int
    files: dict[str, list[Path]]
    snapshots: tuple[tuple[str, Path], ...] = field(default=())


def generate_world(
    out_dir: Path,
    *,
    seed: int = 7,
    orders: int = 3000,
    as_of: datetime | None = None,
    formats: Formats = "native",
    anomaly_rate: float | None = None,
) -> World:
    """Write a sample world to `out_dir` (created if needed) and return where everything is.

    `formats="native"` writes each source in its real export format (xlsx, GBK csv, …);
    `"csv"`/`"parquet"` write every source in that format, vectorised, for benchmarks at up to
    tens of millions of orders. `anomaly_rate` scales how many anomalies are injected (native:
    every scenario at least once; bulk: default 0.5 %).
    """
    as_of = (as_of or DEFAULT_AS_OF).astimezone(UTC)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if formats == "native":
        return _native(out_dir, seed=seed, orders=orders, as_of=as_of, anomaly_rate=anomaly_rate)
    if formats in ("csv", "parquet"):
        files, truth, config = bulk.write_bulk(
            out_dir,
            seed=seed,
            orders=orders,
            as_of=as_of,
            fmt=formats,
            anomaly_rate=0.005 if anomaly_rate is None else anomaly_rate,
        )
        write_truth(out_dir / TRUTH_NAME, truth)
        config_path = write_config(out_dir / CONFIG_NAME, config, as_of=as_of, seed=seed)
        return World(out_dir, config_path, out_dir / TRUTH_NAME, as_of, orders, files)
    raise ValueError(f"formats must be native, csv or parquet, not {formats!r}")


# --- native --------------------------------------------------------------------------------


def _native(
    out_dir: Path, *, seed: int, orders: int, as_of: datetime, anomaly_rate: float | None
) -> World:
    rng = random.Random(seed)
    rounds = 1
    if anomaly_rate is not None:
        per_round = 120  # about how many orders one pass over the scenarios uses
        rounds = max(1, round(orders * anomaly_rate / per_round))
    world = build_native(rng, as_of, orders, rounds)
    stamp = f"{bj(as_of):%Y%m%d}"
    channel_orders = {
        ch: [o for o in world.orders if o.channel == ch]
        for ch in ("taobao", "pdd", "douyin", "shopify")
    }

    files: dict[str, list[Path]] = {}
    taobao = channel_orders["taobao"]
    half = len(taobao) // 2
    first, second = (
        out_dir / "exports/taobao/taobao_orders_part1.xlsx",
        out_dir / "exports/taobao/taobao_orders_part2.xlsx",
    )
    # Merchants export Taobao in date ranges; the first file keeps the report's title row.
    writers.write_taobao(
        first, taobao[:half], title=f"{bj(as_of).year}年{bj(as_of).month}月订单报表"
    )
    writers.write_taobao(second, taobao[half:], title=None)
    files["taobao"] = [first, second]
    files["pdd"] = [out_dir / f"exports/pdd/pdd_orders_{stamp}.csv"]
    writers.write_pdd(files["pdd"][0], channel_orders["pdd"])
    files["douyin"] = [out_dir / f"exports/douyin/douyin_orders_{stamp}.xlsx"]
    writers.write_douyin(files["douyin"][0], channel_orders["douyin"])
    files["shopify"] = [out_dir / "exports/shopify/orders_export.csv"]
    writers.write_shopify(files["shopify"][0], channel_orders["shopify"])

    oms_orders = [o for o in world.orders if o.oms is not None] + [o for _src, o in world.extra_oms]
    files["oms"] = [out_dir / f"oms/oms_orders_{stamp}.csv"]
    writers.write_oms(files["oms"][0], oms_orders)

    parcels = _parcels(world)
    files["wms"] = [out_dir / f"wms/wms_shipments_{stamp}.xlsx"]
    writers.write_wms(files["wms"][0], parcels)
    files["courier"] = [out_dir / f"courier/kuaidi100_events_{stamp}.csv"]
    writers.write_courier(files["courier"][0], [p for _ch, p in parcels])

    snapshots = []
    for step, versions in enumerate(world.snapshots, start=1):
        taken = max(o.updated_at for o in versions if o.updated_at is not None)
        path = out_dir / f"snapshots/pdd/{step:02d}_pdd_orders_{bj(taken):%Y%m%d_%H%M}.csv"
        writers.write_pdd(path, versions)
        snapshots.append(("pdd", path))

    write_truth(out_dir / TRUTH_NAME, world.truth)
    config_path = write_config(out_dir / CONFIG_NAME, native_config(), as_of=as_of, seed=seed)
    _write_readme(out_dir, world, as_of, seed)
    return World(
        out_dir,
        config_path,
        out_dir / TRUTH_NAME,
        as_of,
        len(world.orders),
        files,
        tuple(snapshots),
    )


def _parcels(world: NativeWorld) -> list[tuple[str, Parcel]]:
    """Every warehouse row once (a merged parcel is shared by its orders), with its shop."""
    seen: set[str] = set()
    out: list[tuple[str, Parcel]] = []
    owners: list[tuple[str, Parcel]] = [(o.channel, p) for o in world.orders for p in o.parcels]
    for _src, parcel in world.extra_parcels:
        owners.append(("taobao", parcel))
    for channel, parcel in owners:
        if parcel.shipment_id not in seen:
            seen.add(parcel.shipment_id)
            out.append((channel, parcel))
    return out


def snapshot_config(config: Config, source: str, path: Path) -> Config:
    """`config` with source `source` reading only the file `path` (to pull one snapshot).

    Pull each of `World.snapshots` this way, in order, before pulling the final exports
    (`pull_world` does it all):

    >>> for name, path in world.snapshots:
    ...     pull(snapshot_config(config, name, path), store, sources=[name])
    >>> pull(config, store)
    """
    config.source(source)  # raises ConfigError for an unknown name
    sources = tuple(
        s.model_copy(update={"path": str(Path(path).resolve())}) if s.name == source else s
        for s in config.sources
    )
    return config.model_copy(update={"sources": sources})


def pull_world(
    world: World, config: Config, store: Store, *, until: datetime | None = None
) -> list[PullStats]:
    """Pull a world the way its ground truth assumes: each earlier snapshot of an export first,
    one pull each (frequent_changes judges that history), then the current exports. The pulls
    are dated just before `until` (default `world.as_of`), as a store would have held them
    then."""
    from ordersync.pull import pull

    until = until or world.as_of
    first = until - timedelta(hours=2)
    stats: list[PullStats] = []
    for step, (name, path) in enumerate(world.snapshots):
        snapshot = snapshot_config(config, name, path)
        stats += pull(snapshot, store, sources=[name], now=first + timedelta(minutes=step))
    stats += pull(config, store, now=until - timedelta(minutes=5))
    return stats


def native_config() -> dict[str, Any]:
    """The config of a native world: presets where they exist, explicit mappings elsewhere."""
    return {
        "timezone": "Asia/Shanghai",
        "store": {"path": "./ordersync-data"},
        "sources": [
            {"name": "taobao", "preset": "taobao_export", "path": "exports/taobao/*.xlsx"},
            {"name": "pdd", "preset": "pdd_export", "path": "exports/pdd/*.csv", "encoding": "gbk"},
            {"name": "douyin", "preset": "douyin_export", "path": "exports/douyin/*.xlsx"},
            {"name": "shopify", "preset": "shopify_csv", "path": "exports/shopify/*.csv"},
            {
                "name": "oms",
                "kind": "oms",
                "format": "csv",
                "path": "oms/*.csv",
                "doc": "ERP order list export (UTF-8 with BOM); 原始单号 is the channel's order id.",
                "columns": dict(writers.OMS_COLUMNS),
                "status_map": dict(writers.OMS_STATUS_MAP),
            },
            {
                "name": "wms",
                "kind": "warehouse",
                "format": "xlsx",
                "path": "wms/*.xlsx",
                "doc": "Warehouse 出库单 export, one row per parcel; 订单号 lists every order of a merged parcel.",
                "columns": dict(writers.WMS_COLUMNS),
                "status_map": dict(writers.WMS_STATUS_MAP),
            },
            _courier_source("courier/*.csv", "csv"),
        ],
        "rules": {"no_delivery_regions": [region[0] for region in catalog.NO_DELIVERY_REGIONS]},
    }


def _courier_source(path: str, fmt: str) -> dict[str, Any]:
    return {
        "name": "courier",
        "preset": "kuaidi100_events",
        "format": fmt,
        "path": path,
        # A label printed but never handed over shows up as 待揽收: known to the courier, no scan.
        "status_map": {"待揽收": "no_record"},
        "covers": {"carriers": list(catalog.SCANNED_CARRIERS)},
    }


def write_config(path: Path, config: dict[str, Any], *, as_of: datetime, seed: int) -> Path:
    header = (
        "# ordersync sample world (generated by `python -m ordersync.samples`; do not edit by hand).\n"
        f"# seed {seed}; reconcile with --as-of {as_of.isoformat()} to reproduce truth.csv.\n"
    )
    body = yaml.safe_dump(config, allow_unicode=True, sort_keys=False, width=120)
    path.write_text(header + body, encoding="utf-8")
    return path


def write_truth(path: Path, truth: list[Truth]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TRUTH_HEADER)
    for row in sorted(truth, key=lambda t: (t.kind, t.rule, t.order_id, t.detail)):
        writer.writerow([row.order_id, row.rule, row.detail, row.kind, row.note])
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _write_readme(out_dir: Path, world: NativeWorld, as_of: datetime, seed: int) -> None:
    counts: dict[tuple[str, str], int] = {}
    for t in world.truth:
        counts[(t.kind, t.rule)] = counts.get((t.kind, t.rule), 0) + 1
    lines = [
        "# Sample world",
        "",
        f"Generated by `ordersync.samples.generate_world(seed={seed})`; judged at as_of {as_of.isoformat()}",
        f"({bj(as_of):%Y-%m-%d %H:%M} Beijing). {len(world.orders)} channel orders over the two weeks before.",
        "",
        "- `exports/`: Taobao xlsx (part1 has a title row above the header), Pinduoduo GBK csv",
        '  (ids as `="…"` or with a trailing tab), Douyin xlsx (19-digit ids as text), Shopify',
        "  orders_export.csv (times at -0500).",
        "- `oms/`: ERP csv (UTF-8 with BOM). `wms/`: one row per parcel; merged parcels list",
        "  several order ids. `courier/`: scan events for zto, yto, yunda, sto, jt (not sf).",
        "- `snapshots/pdd/`: earlier versions of some Pinduoduo orders. Pull them, in name order,",
        "  as the `pdd` source before the final exports; `frequent_changes` needs that history.",
        "- `truth.csv`: every rule that must fire per anomaly order (`kind=anomaly`), and orders",
        "  that look suspicious but must trigger nothing (`kind=hard_negative`; `rule` names the",
        "  rule they tempt). Every other order is clean: any finding on it is a false positive.",
        "",
        "| kind | rule | rows |",
        "|---|---|---|",
    ]
    lines += [f"| {kind} | {rule} | {n} |" for (kind, rule), n in sorted(counts.items())]
    (out_dir / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


__all__ = ["DEFAULT_AS_OF", "SCENARIOS", "World", "generate_world", "snapshot_config"]
