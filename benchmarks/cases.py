"""The case functions a child process runs: ``CASES[name](params) -> {"seconds": ..., ...}``.

Set-up work (generating a world, pulling a store, copying a snapshot, writing a changed export)
is done by separate cases that the parent runs as *prepare* steps, never inside a timed one.
Only the code between ``t0`` and ``seconds=`` is timed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from benchmarks import floors
from benchmarks.layout import SourceLayout, find_config, load_layout, pick

CASES: dict[str, Callable[[dict], dict]] = {}


def case(fn: Callable[[dict], dict]) -> Callable[[dict], dict]:
    CASES[fn.__name__] = fn
    return fn


def _config(world: str, store: str | None = None):
    from ordersync.config import load_config

    return load_config(find_config(world), data_dir=store)


def _as_of(params: dict) -> datetime | None:
    value = params.get("as_of")
    return datetime.fromisoformat(value) if value else None


def copy_tree(src: Path, dst: Path) -> None:
    """A full copy (cp --reflink where the filesystem can), replacing ``dst``."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(src), str(dst)], check=True)
    # Written out now, not while the next timed run reads: a 5 GB copy still being flushed
    # made the 10M incremental run vary between 0.9 and 1.4 s.
    os.sync()


# --- set-up ---------------------------------------------------------------------------------


@case
def generate(params: dict) -> dict:
    from ordersync.samples import generate_world

    out = Path(params["dir"])
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    info = generate_world(
        out, seed=params["seed"], orders=params["orders"], formats=params["formats"]
    )
    as_of = getattr(info, "as_of", None)
    return {"seconds": time.perf_counter() - t0, "as_of": as_of.isoformat() if as_of else None}


@case
def generate_xlsx(params: dict) -> dict:
    """A 1M-row Taobao-layout xlsx (the samples' big-xlsx writer) and a config to pull it."""
    import yaml

    from ordersync.samples import write_big_xlsx

    out = Path(params["dir"])
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t0 = time.perf_counter()
    path = write_big_xlsx(out / "taobao_orders.xlsx", rows=params["rows"], seed=params["seed"])
    config = {
        "timezone": "Asia/Shanghai",
        "sources": [
            {"name": "taobao", "preset": "taobao_export", "format": "xlsx", "path": path.name}
        ],
    }
    (out / "ordersync.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    return {"seconds": time.perf_counter() - t0}


@case
def pull_store(params: dict) -> dict:
    from ordersync.pull import pull
    from ordersync.store import Store

    store_dir = Path(params["store"])
    if store_dir.exists() and params.get("fresh", True):
        shutil.rmtree(store_dir)
    config = _config(params["world"], str(store_dir))
    t0 = time.perf_counter()
    store = Store.for_config(config)
    # One pull holds a source's files in memory together; a 10M-order world's 10M-row exports
    # would need ~20 GB. So the set-up pulls file i of every source, for each i, in turn.
    from ordersync.samples import snapshot_config
    from ordersync.sources import discover_files

    wanted = params.get("sources") or [src.name for src in config.sources]
    files = {name: discover_files(config, config.source(name)) for name in wanted}
    # Each round compacts the store. Rounds only add orders, so compaction links each round's
    # files into the snapshot (before ee8a28b it rewrote the snapshot: rounds x store size);
    # still, every round reads the store's keys for the diff, so: one file per round up to
    # 10 rounds (10M orders, as before), then rounds of 10 files (a 10M-row round of one
    # source peaks at ~8.5 GB).
    most = max(len(paths) for paths in files.values())
    per_round = 1 if most <= FILES_PER_BIG_ROUND else FILES_PER_BIG_ROUND
    files = {
        name: [paths[i : i + per_round] for i in range(0, len(paths), per_round)]
        for name, paths in files.items()
    }
    rounds = max(len(batches) for batches in files.values())
    # The world's exports are of its as_of, so each round of files is stamped as pulled in
    # the minutes before it, a minute apart. Stamped with the wall clock (after as_of), the
    # history the history rules read (frequent_changes, stuck_order's entry time, refund
    # timing) was cut away at as_of and cost nothing: at 1M orders that understated a
    # reconcile by ~35%.
    as_of = _as_of(params)
    links = store_dir.parent / f".{store_dir.name}-round-links"
    stats = []
    for i in range(rounds):
        now = as_of - timedelta(minutes=rounds - i) if as_of else None
        for name, batches in files.items():
            if i < len(batches):
                step = snapshot_config(config, name, _one_path(batches[i], links / name))
                stats += pull(step, store, sources=[name], now=now)
        # A 50M store's replaced snapshots would fill the disk before the set-up ends.
        _drop_replaced_files(store_dir)
    seconds = time.perf_counter() - t0
    shutil.rmtree(links, ignore_errors=True)
    return {"seconds": seconds, "stats": [repr(x)[:200] for x in stats[-4:]]}


FILES_PER_BIG_ROUND = 10


def _one_path(batch: list[Path], folder: Path) -> Path:
    """A path (glob) a source config can read exactly ``batch`` through: the file itself, or
    ``folder`` filled with links to the batch's files."""
    if len(batch) == 1:
        return batch[0]
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for path in batch:
        (folder / path.name).symlink_to(path.resolve())
    return folder / f"*{batch[0].suffix}"


def _drop_replaced_files(store_dir: Path) -> None:
    """Delete the data files no table version needs any more. The store keeps them an hour
    for readers that opened an older version; the set-up pull compacts after each of its many
    pulls, which left ~13 GB of them in the 10M store (the set-up is its only reader), and
    every copy of the store for a measured run copied them too."""
    from deltalake import DeltaTable

    for log in store_dir.glob("**/_delta_log"):
        DeltaTable(str(log.parent)).vacuum(
            retention_hours=0, dry_run=False, enforce_retention_duration=False, full=True
        )


@case
def reconcile_store(params: dict) -> dict:
    """Set-up: one full reconcile (for the incremental base)."""
    return ours_reconcile(params)


@case
def copy_store(params: dict) -> dict:
    copy_tree(Path(params["snapshot"]), Path(params["store"]))
    return {"seconds": 0.0}


@case
def clean_store(params: dict) -> dict:
    store = Path(params["store"])
    if store.exists():
        shutil.rmtree(store)
    return {"seconds": 0.0}


# The changed export an incremental case writes into the mirror; the case deletes the last one.
CHANGES_PREFIX = "zz-bench-changes"


@case
def incremental_prepare(params: dict) -> dict:
    """Restore the reconciled 10M store, write an export changing N channel orders, pull it."""
    from ordersync.pull import pull
    from ordersync.store import Store

    copy_tree(Path(params["snapshot"]), Path(params["store"]))
    world = Path(params["world"])
    layout = load_layout(world)
    channel = pick(layout, "channel")
    change_dir = Path(channel.files[0]).parent
    for old in change_dir.glob(f"{CHANGES_PREFIX}*"):
        old.unlink()
    n = params["changed"]
    frame = pl.read_parquet(channel.files[0], n_rows=max(n * 3, 10_000))
    # Distinct orders only, then move each to another status the source knows.
    frame = frame.unique(channel.id_col, keep="first", maintain_order=True).head(n)
    raws = sorted(set(channel.status_map)) if channel.status_map else None
    if raws and channel.status_col:
        shifted = {raw: raws[(i + 1) % len(raws)] for i, raw in enumerate(raws)}
        frame = frame.with_columns(
            pl.col(channel.status_col)
            .cast(pl.String)
            .replace(shifted)
            .cast(frame.schema[channel.status_col])
        )
    config = _config(str(world), params["store"])
    source = config.source(channel.name)
    updated = source.columns.get("updated_at")
    if isinstance(updated, str) and updated in frame.columns:
        dtype = frame.schema[updated]
        as_of = _as_of(params) or datetime.now(UTC)
        stamp = (as_of - timedelta(minutes=5)).astimezone(UTC).replace(tzinfo=None)
        value = pl.lit(stamp)
        if dtype == pl.String:
            value = value.dt.strftime("%Y-%m-%d %H:%M:%S")
        frame = frame.with_columns(value.cast(dtype).alias(updated))
    name = Path(channel.files[0]).name
    frame.write_parquet(change_dir / f"{CHANGES_PREFIX}-{n}-{name}")
    stats = pull(config, Store.for_config(config), sources=[channel.name])
    return {"seconds": 0.0, "rows": frame.height, "stats": [repr(x)[:200] for x in stats]}


# --- ours -----------------------------------------------------------------------------------


@case
def ours_ingest(params: dict) -> dict:
    from ordersync.pull import pull
    from ordersync.store import Store

    config = _config(params["world"], params["store"])
    store = Store.for_config(config)
    t0 = time.perf_counter()
    stats = pull(config, store, sources=[params["source"]], full=True)
    seconds = time.perf_counter() - t0
    rows = store.orders(sources=[params["source"]]).select(pl.len()).collect().item()
    return {"seconds": seconds, "rows": rows, "stats": [repr(x)[:300] for x in stats]}


class PhaseClock:
    """The seconds each phase of a run took (engine.ReconcileProgress); the time before the
    first phase (reading the store's profiles, planning) is "start"."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._current = ("start", time.perf_counter())

    def phase(self, name: str, pieces: int = 1) -> None:
        self._lap()
        self._current = (name, time.perf_counter())

    def piece_judged(self) -> None:
        pass

    def _lap(self) -> None:
        name, started = self._current
        self.seconds[name] = round(time.perf_counter() - started, 1)

    def done(self) -> dict[str, float]:
        self._lap()
        return self.seconds


@case
def ours_reconcile(params: dict) -> dict:
    from ordersync.engine import reconcile
    from ordersync.store import Store

    config = _config(params["world"], params["store"])
    store = Store.for_config(config)
    clock = PhaseClock()
    t0 = time.perf_counter()
    result = reconcile(
        config,
        store,
        as_of=_as_of(params),
        incremental=params.get("incremental", False),
        progress=clock,
    )
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "rows": result.findings.height,
        "new": result.new,
        "phases": clock.done(),
    }


def synthetic_findings(n: int, seed: int = 7) -> pl.DataFrame:
    """``n`` findings with the FINDINGS_SCHEMA columns and realistic text sizes."""
    from ordersync import schema

    rules = list(schema.RULES)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    idx = pl.int_range(0, n, eager=True)
    frame = pl.DataFrame({"i": idx}).with_columns(
        (pl.col("i") * 2654435761 + seed).hash(seed).alias("h")
    )
    oid = pl.lit("3") + (pl.col("h") % 10**17).cast(pl.String).str.zfill(17) + pl.lit("0")
    rule = pl.col("i") % len(rules)
    frame = frame.select(
        pl.col("h").cast(pl.String).str.slice(0, 16).alias(schema.FINDING_ID),
        rule.replace_strict(dict(enumerate(rules)), return_dtype=pl.String).alias(schema.RULE),
        rule.replace_strict(
            {i: schema.DEFAULT_SEVERITY[r] for i, r in enumerate(rules)},
            return_dtype=pl.String,
        )
        .cast(schema.SeverityDtype)
        .alias(schema.SEVERITY),
        oid.alias(schema.ORDER_ID),
        pl.lit("taobao").alias(schema.CHANNEL),
        pl.concat_list(pl.lit("taobao"), pl.lit("wms")).alias(schema.SOURCES),
        pl.lit("wms").alias(schema.DETAIL),
        (pl.lit("订单 ") + oid + pl.lit(" 渠道已付款，OMS 仍显示待付款")).alias(schema.MESSAGE_ZH),
        (pl.lit("Order ") + oid + pl.lit(" is paid on the channel but unpaid in the OMS")).alias(
            schema.MESSAGE_EN
        ),
        pl.format(
            '{{"orders":[{{"source":"taobao","source_kind":"channel","status":"paid",'
            '"amount":"{}.90","paid_at":"2026-11-18T02:10:00+00:00","tracking_no":["ZT{}"],'
            '"receiver_name":"张*","address":"浙江省杭州市西湖区文三路{}号"}},'
            '{{"source":"oms","source_kind":"oms","status":"pending_payment"}}],'
            '"facts":{{"threshold":"1h","age_hours":{}}}}}',
            pl.col("h") % 500,
            pl.col("h") % 10**12,
            pl.col("i") % 999,
            pl.col("i") % 300,
        ).alias(schema.EVIDENCE),
        pl.lit("在 OMS 中核对付款状态").alias(schema.ACTION),
        ((pl.col("h") % 50000).cast(pl.Decimal(18, 2)) / 100)
        .cast(schema.Money)
        .alias(schema.AMOUNT),
        pl.col("h").cast(pl.String).alias(schema.EVIDENCE_HASH),
        (pl.lit(base) + pl.duration(minutes=pl.col("i") % 20000))
        .cast(schema.Timestamp)
        .alias(schema.FIRST_SEEN),
        pl.lit(base + timedelta(days=20)).cast(schema.Timestamp).alias(schema.LAST_SEEN),
        pl.lit("open").cast(schema.StateDtype).alias(schema.STATE),
        pl.lit(None).cast(schema.Timestamp).alias(schema.RESOLVED_AT),
        pl.lit(None).cast(pl.String).alias(schema.ACK_NOTE),
        pl.lit(None).cast(schema.Timestamp).alias(schema.ACKED_AT),
    )
    return schema.conform(frame, schema.FINDINGS_SCHEMA)


def _bench_report():
    """benchmarks/bench_report.py (written with the report module), if it is there."""
    try:
        from benchmarks import bench_report
    except ImportError:
        return None
    if all(hasattr(bench_report, n) for n in ("run_ours", "run_bare", "cells_per_row_of_ours")):
        return bench_report
    return None


def _write_result(findings: pl.DataFrame):
    from ordersync.findings import ReconcileResult

    now = datetime(2026, 11, 21, tzinfo=UTC)
    return ReconcileResult(
        run_id="bench",
        as_of=now,
        started_at=now,
        findings=findings,
        orders_checked=pl.DataFrame({"source": ["taobao"], "channel": ["taobao"], "orders": [1]}),
        new=findings.height,
    )


@case
def ours_report(params: dict) -> dict:
    out = Path(params["out"])
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = params["rows"]
    br = _bench_report() if params.get("use_bench_report", True) else None
    if br is not None:
        stats = br.run_ours(rows, out)
        return {"seconds": stats["seconds"], "rows": rows, "via": "bench_report.run_ours"}
    from ordersync.reports.xlsx import write_workbook

    result = _write_result(synthetic_findings(rows))
    t0 = time.perf_counter()
    write_workbook(result, out, lang="zh", timezone="Asia/Shanghai")
    return {"seconds": time.perf_counter() - t0, "rows": rows, "via": "write_workbook"}


# --- floors ---------------------------------------------------------------------------------


def _source(params: dict):
    layout = load_layout(params["world"])
    if params.get("source"):
        return next(s for s in layout if s.name == params["source"])
    return pick(layout, params.get("kind", "channel"))


@case
def floor_fastexcel(params: dict) -> dict:
    s = _source(params)
    t0 = time.perf_counter()
    rows = sum(floors.fastexcel_read(f, s.header_row, s.sheet) for f in s.files)
    return {"seconds": time.perf_counter() - t0, "rows": rows}


@case
def floor_scan_csv(params: dict) -> dict:
    s = _source(params)
    t0 = time.perf_counter()
    rows = floors.scan_csv(s.files)
    return {"seconds": time.perf_counter() - t0, "rows": rows}


@case
def floor_scan_parquet(params: dict) -> dict:
    s = _source(params)
    t0 = time.perf_counter()
    rows = floors.scan_parquet(s.files)
    return {"seconds": time.perf_counter() - t0, "rows": rows}


@case
def floor_polars(params: dict) -> dict:
    layout = load_layout(params["world"])
    t0 = time.perf_counter()
    rows = floors.polars_join(layout, engine=params.get("engine", "streaming"))
    return {"seconds": time.perf_counter() - t0, "rows": rows}


@case
def floor_duckdb(params: dict) -> dict:
    layout = load_layout(params["world"])
    t0 = time.perf_counter()
    rows = floors.duckdb_join(layout)
    return {"seconds": time.perf_counter() - t0, "rows": rows}


@case
def floor_datacompy(params: dict) -> dict:
    # Runs in datacompy's own venv (its Polars is older than ordersync's), so the parent
    # reads the world's config and hands over the layout.
    layout = [SourceLayout(**source) for source in params["layout"]]
    t0 = time.perf_counter()
    rows = floors.datacompy_channel_oms(layout)
    return {"seconds": time.perf_counter() - t0, "rows": rows}


@case
def floor_xlsxwriter(params: dict) -> dict:
    out = Path(params["out"])
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = params["rows"]
    br = _bench_report() if params.get("use_bench_report", True) else None
    if br is not None:
        import inspect

        third = list(inspect.signature(br.run_bare).parameters)[2]
        if third == "source":
            # bench_report rewrites exactly the cells write_workbook wrote (read back, untimed).
            source = Path(params["ours_out"])
            if not source.exists():
                raise SystemExit(f"run report/ours first: {source} is missing")
            stats = br.run_bare(rows, out, source)
            via = "bench_report.run_bare (the cells of ours' workbook)"
        else:
            cells = br.cells_per_row_of_ours()
            stats = br.run_bare(rows, out, cells)
            via = f"bench_report.run_bare ({cells} cells/row)"
        return {"seconds": stats["seconds"], "rows": rows, "via": via}
    frame = synthetic_findings(rows)
    t0 = time.perf_counter()
    rows = floors.xlsxwriter_write(frame, str(out))
    return {"seconds": time.perf_counter() - t0, "rows": rows, "via": "floors.xlsxwriter_write"}


@case
def world_info(params: dict) -> dict:
    layout = load_layout(params["world"])
    return {"seconds": 0.0, "layout": json.dumps([s.to_dict() for s in layout])[:2000]}
