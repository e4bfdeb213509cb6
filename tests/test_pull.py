"""`pull` on real export files: incremental, idempotent, atomic per source, one writer at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from ordersync import schema as s
from ordersync import store as store_module
from ordersync.config import Config, config_from_dict
from ordersync.errors import ConfigError, InputError, StoreError
from ordersync.pull import PullStats, pull
from ordersync.store import PULLED_AT, Store

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

TAOBAO = {
    "name": "taobao",
    "kind": "channel",
    "channel": "taobao",
    "format": "parquet",
    "path": "exports/taobao/*.parquet",
    "columns": {
        "order_id": "订单编号",
        "status": "订单状态",
        "amount": "买家实际支付金额",
        "paid_at": "订单付款时间",
        "address": "收货地址",
    },
    "status_map": {"买家已付款，等待卖家发货": "paid", "卖家已发货，等待买家确认": "shipped"},
}
OMS = {
    **TAOBAO,
    "name": "oms",
    "kind": "oms",
    "path": "exports/oms/*.parquet",
}


def make_config(base: Path, *sources: dict, lock_timeout: str = "10s") -> Config:
    return config_from_dict(
        {
            "store": {"path": "store", "lock_timeout": lock_timeout},
            "sources": list(sources or (TAOBAO,)),
        },
        base_dir=base,
    )


def export(
    base: Path, name: str, ids: list[str], *, status: str = "买家已付款，等待卖家发货"
) -> Path:
    """Write a Taobao-like export with one row per id."""
    path = base / "exports" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(ids)
    pl.DataFrame(
        {
            "订单编号": ids,
            "订单状态": [status] * n,
            "买家实际支付金额": ["59.90"] * n,
            "订单付款时间": ["2026-11-20 10:00:00"] * n,
            "收货地址": ["浙江省杭州市西湖区文三路1号"] * n,
        },
        schema=dict.fromkeys(
            ["订单编号", "订单状态", "买家实际支付金额", "订单付款时间", "收货地址"], pl.String
        ),
    ).write_parquet(path)
    return path


def ids(n: int, start: int = 0) -> list[str]:
    return [f"34567890{i:011d}" for i in range(start, start + n)]


def counts(stats: PullStats) -> tuple[int, int, int]:
    return stats.new, stats.changed, stats.unchanged


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def source_started(self, source: str, files: int) -> None:
        self.events.append(("started", source, files))

    def file_read(self, source: str, path: Path, rows: int) -> None:
        self.events.append(("file", source, path.name, rows))

    def source_finished(self, stats: PullStats) -> None:
        self.events.append(("finished", stats.source, stats.new))


def test_first_pull_reads_every_file(tmp_path):
    export(tmp_path, "taobao/day1.parquet", ids(3))
    export(tmp_path, "taobao/day2.parquet", ids(2, start=3))
    config = make_config(tmp_path)
    store = Store.for_config(config)
    progress = Recorder()

    [stats] = pull(config, store, progress=progress, now=NOW)

    assert (stats.files_read, stats.files_skipped, stats.rows_read) == (2, 0, 5)
    assert counts(stats) == (5, 0, 0)
    current = store.orders().collect()
    assert sorted(current.get_column(s.ORDER_ID).to_list()) == ids(5)
    assert current.get_column(s.AMOUNT).unique().to_list() == [Decimal("59.90")]
    assert current.get_column(PULLED_AT).unique().to_list() == [NOW]
    assert store.path == tmp_path / "store"
    assert progress.events == [
        ("started", "taobao", 2),
        ("file", "taobao", "day1.parquet", 3),
        ("file", "taobao", "day2.parquet", 2),
        ("finished", "taobao", 5),
    ]


def test_pulling_again_skips_files_already_pulled(tmp_path):
    export(tmp_path, "taobao/day1.parquet", ids(3))
    config = make_config(tmp_path)
    store = Store.for_config(config)
    pull(config, store, now=NOW)
    before = store.orders().collect().sort(s.ORDER_ID)

    [again] = pull(config, store, now=NOW + timedelta(minutes=1))
    [full] = pull(config, store, full=True, now=NOW + timedelta(minutes=2))

    assert (again.files_read, again.files_skipped, *counts(again)) == (0, 1, 0, 0, 0)
    assert "no new files" in " ".join(again.notes)
    assert (full.files_read, full.files_skipped, *counts(full)) == (1, 0, 0, 0, 3)
    assert store.orders().collect().sort(s.ORDER_ID).equals(before)
    assert store.order_history().collect().height == 3
    assert store.pulls().get_column("full").to_list() == [False, False, True]


def test_a_csv_export_pulled_twice_changes_nothing(tmp_path):
    csv = {**TAOBAO, "format": "csv", "path": "exports/taobao/*.csv"}
    path = tmp_path / "exports" / "taobao" / "ExportOrderList202611.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "订单编号,订单状态,买家实际支付金额,订单付款时间,收货地址\n"
        '="3456789012345678901",买家已付款，等待卖家发货,59.90,2026-11-20 10:00:00,浙江省杭州市西湖区文三路1号\n'
        '="3456789012345678902",卖家已发货，等待买家确认,19.90,2026-11-20 11:00:00,浙江省杭州市西湖区文三路2号\n',
        encoding="utf-8",
    )
    config = make_config(tmp_path, csv)
    store = Store.for_config(config)

    first, again, full = (
        pull(config, store, now=NOW)[0],
        pull(config, store, now=NOW)[0],
        pull(config, store, full=True, now=NOW)[0],
    )

    assert counts(first) == (2, 0, 0)
    assert counts(again) == (0, 0, 0) and again.files_skipped == 1
    assert counts(full) == (0, 0, 2)
    current = store.orders().collect().sort(s.ORDER_ID)
    assert current.get_column(s.ORDER_ID).to_list() == [
        "3456789012345678901",
        "3456789012345678902",
    ]
    assert current.get_column(s.STATUS).to_list() == ["paid", "shipped"]


def test_a_touched_or_copied_file_is_not_read_again(tmp_path):
    first = export(tmp_path, "taobao/day1.parquet", ids(3))
    config = make_config(tmp_path)
    store = Store.for_config(config)
    pull(config, store, now=NOW)
    os.utime(first, ns=(time.time_ns(), time.time_ns() + 10**9))
    (tmp_path / "exports" / "taobao" / "copy.parquet").write_bytes(first.read_bytes())

    [stats] = pull(config, store, now=NOW + timedelta(minutes=1))

    assert (stats.files_read, stats.files_skipped) == (0, 2)


def test_a_changed_order_between_pulls(tmp_path):
    export(tmp_path, "taobao/day1.parquet", ids(3))
    config = make_config(tmp_path)
    store = Store.for_config(config)
    pull(config, store, now=NOW)
    # The next export repeats the window; one order has shipped since.
    export(tmp_path, "taobao/day2.parquet", ids(1), status="卖家已发货，等待买家确认")
    later = NOW + timedelta(hours=1)

    [stats] = pull(config, store, now=later)

    assert (stats.files_read, *counts(stats)) == (1, 0, 1, 0)
    changed = ids(1)[0]
    history = store.order_history().collect().filter(pl.col(s.ORDER_ID) == changed).sort(PULLED_AT)
    assert history.get_column(s.STATUS).to_list() == ["paid", "shipped"]
    assert history.get_column(PULLED_AT).to_list() == [NOW, later]
    current = store.orders().collect().sort(s.ORDER_ID)
    assert current.get_column(s.STATUS).to_list() == ["shipped", "paid", "paid"]


def test_pull_compacts_the_store_when_due(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "COMPACT_AFTER_PULLS", 2)
    config = make_config(tmp_path)
    store = Store.for_config(config)
    export(tmp_path, "taobao/day1.parquet", ids(3))
    pull(config, store, now=NOW)
    assert not (store.path / "orders" / "current").exists()

    export(tmp_path, "taobao/day2.parquet", ids(1), status="卖家已发货，等待买家确认")
    pull(config, store, now=NOW + timedelta(hours=1))

    assert (store.path / "orders" / "current" / "_delta_log").is_dir()
    assert not store.needs_compaction()
    assert store.orders().collect().sort(s.ORDER_ID).get_column(s.STATUS).to_list() == [
        "shipped",
        "paid",
        "paid",
    ]


def test_a_header_only_export_is_a_quiet_day(tmp_path):
    export(tmp_path, "taobao/day1.parquet", [])
    config = make_config(tmp_path)
    store = Store.for_config(config)

    [stats] = pull(config, store, now=NOW)

    assert (stats.files_read, stats.rows_read, *counts(stats)) == (1, 0, 0, 0, 0)
    assert any("no rows" in note for note in stats.notes)
    assert len(store.known_files("taobao")) == 1
    assert store.orders().collect().is_empty()


def test_only_the_selected_sources_are_pulled(tmp_path):
    export(tmp_path, "taobao/day1.parquet", ids(2))
    export(tmp_path, "oms/day1.parquet", ids(1))
    config = make_config(tmp_path, TAOBAO, OMS)
    store = Store.for_config(config)

    results = pull(config, store, sources=["oms"], now=NOW)

    assert [r.source for r in results] == ["oms"]
    assert store.orders().collect().get_column(s.SOURCE).to_list() == ["oms"]
    assert [r.source for r in pull(config, store, now=NOW)] == ["taobao", "oms"]


def test_an_unknown_source_lists_the_sources(tmp_path):
    config = make_config(tmp_path, TAOBAO, OMS)

    with pytest.raises(ConfigError, match=r"no source named 'tmall'.*\['taobao', 'oms'\]"):
        pull(config, Store.for_config(config), sources=["tmall"])


def test_api_sources_are_refused_for_now(tmp_path):
    shopify = {
        "name": "shopify",
        "kind": "channel",
        "channel": "shopify",
        "format": "api",
        "api": {"type": "shopify"},
    }
    config = make_config(tmp_path, TAOBAO, shopify)

    with pytest.raises(ConfigError, match=r"API sources are not supported yet: shopify.*--source"):
        pull(config, Store.for_config(config))
    assert not (tmp_path / "store").exists()


def test_a_bad_export_leaves_its_source_untouched(tmp_path):
    export(tmp_path, "taobao/day1.parquet", ids(2))
    export(tmp_path, "oms/day1.parquet", ids(2))
    config = make_config(tmp_path, TAOBAO, OMS)
    store = Store.for_config(config)
    pull(config, store, now=NOW)
    pl.DataFrame({"wrong header": ["1"]}).write_parquet(
        tmp_path / "exports" / "oms" / "day2.parquet"
    )
    export(tmp_path, "taobao/day2.parquet", ids(1, start=10))

    with pytest.raises(InputError):
        pull(config, store, now=NOW + timedelta(hours=1))

    pulls = store.pulls()
    assert pulls.filter(pl.col(s.SOURCE) == "oms").height == 1
    assert store.orders(sources=["oms"]).collect().height == 2
    # Sources before the bad one are committed on their own.
    assert store.orders(sources=["taobao"]).collect().height == 3


# --- one writer at a time -------------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from pathlib import Path
from ordersync.store import Store
with Store(Path(sys.argv[1])).writing():
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_pull_waits_for_another_writer_then_gives_up(tmp_path):
    export(tmp_path, "taobao/day1.parquet", ids(2))
    config = make_config(tmp_path, lock_timeout="1s")
    store = Store.for_config(config)
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(store.path)], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            started = time.monotonic()
            with pytest.raises(StoreError) as caught:
                pull(config, store, now=NOW)
            waited = time.monotonic() - started
        finally:
            holder.kill()

    assert 0.9 <= waited < 10
    assert str(store.path) in str(caught.value)
    assert f"process {holder.pid}" in str(caught.value)
    assert store.pulls().is_empty()
    assert [r.new for r in pull(config, store, now=NOW)] == [2]


# --- killed half way ------------------------------------------------------------------------

PULL_SCRIPT = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from ordersync.config import config_from_dict
from ordersync.pull import pull
from ordersync.store import Store
import json
config = config_from_dict(json.loads(sys.argv[2]), base_dir=Path(sys.argv[1]))
pull(config, Store.for_config(config), now=datetime(2026, 11, 26, tzinfo=UTC))
print("finished", flush=True)
"""

BIG = 200_000


def _uncommitted_files(log: Path, committed: set[str]) -> list[Path]:
    if not log.is_dir():
        return []
    return [p for p in log.rglob("*.parquet") if p.name not in committed]


def test_a_pull_killed_mid_write_loses_nothing(tmp_path):
    export(tmp_path, "taobao/day1.parquet", ids(5))
    config = make_config(tmp_path)
    store = Store.for_config(config)
    pull(config, store, now=NOW)
    before = store.orders().collect().sort(s.ORDER_ID)
    log = store.path / "orders" / "log"
    committed_files = {p.name for p in log.rglob("*.parquet")}
    # A big export, with the first 5 orders changed, so the killed pull had real work to do.
    export(tmp_path, "taobao/day2.parquet", ids(BIG), status="卖家已发货，等待买家确认")

    raw = {"store": {"path": "store"}, "sources": [TAOBAO]}
    with subprocess.Popen(
        [sys.executable, "-c", PULL_SCRIPT, str(tmp_path), json.dumps(raw, ensure_ascii=False)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as worker:
        # Kill it as soon as its data files start to appear: the rows are being written, the
        # pull-log row (the commit point) is not.
        deadline = time.monotonic() + 60
        while not _uncommitted_files(log, committed_files) and worker.poll() is None:
            assert time.monotonic() < deadline, "the pull never started writing"
            time.sleep(0.002)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        output = worker.stdout.read() if worker.stdout else ""

    assert worker.returncode == -signal.SIGKILL
    assert "finished" not in output
    assert _uncommitted_files(log, committed_files), "the kill left partial data behind"

    # The store reads exactly as before: the killed pull is invisible.
    after_kill = Store.for_config(config)
    assert after_kill.pulls().height == 1
    assert after_kill.orders().collect().sort(s.ORDER_ID).equals(before)
    assert after_kill.order_history().collect().height == 5

    # The next pull does the whole job again, judged against what was committed.
    [stats] = pull(config, after_kill, now=NOW + timedelta(hours=1))
    assert counts(stats) == (BIG - 5, 5, 0)
    current = after_kill.orders().collect()
    assert current.height == BIG
    assert current.get_column(s.ORDER_ID).n_unique() == BIG
    assert current.get_column(s.STATUS).unique().to_list() == ["shipped"]
    assert after_kill.order_history().collect().height == BIG + 5

    after_kill.compact()
    assert after_kill.orders().collect().height == BIG
    assert after_kill.order_history().collect().height == BIG + 5
