"""One writer at a time: a second writer waits for the lock, then gives up with a clear error."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from storekit import apply, order

from ordersync.errors import StoreError
from ordersync.store import Store

HOLD_LOCK = """
import sys, time
from pathlib import Path
from ordersync.store import Store
with Store(Path(sys.argv[1])).writing():
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@contextlib.contextmanager
def lock_held(path, seconds: float) -> Iterator[subprocess.Popen]:
    """Another process holding the store's write lock for up to `seconds`."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        try:
            yield holder
        finally:
            holder.kill()


def test_a_second_writer_gives_up_naming_the_store_and_the_holder(tmp_path):
    with lock_held(tmp_path / "store", 30) as holder:
        store = Store(tmp_path / "store", lock_timeout=timedelta(seconds=0.5))
        started = time.monotonic()
        with pytest.raises(StoreError) as caught, store.writing():
            pass
        waited = time.monotonic() - started

    assert 0.4 <= waited < 5
    message = str(caught.value)
    assert str(tmp_path / "store") in message
    assert f"process {holder.pid}" in message
    assert caught.value.exit_code == 2


def test_a_second_writer_waits_for_the_first_to_finish(tmp_path, make_read):
    with lock_held(tmp_path / "store", 0.5):
        store = Store(tmp_path / "store", lock_timeout=timedelta(seconds=20))
        started = time.monotonic()
        stats = apply(store, make_read([order("1")]))
        waited = time.monotonic() - started

    assert waited >= 0.3, "the write waited for the holder to let go"

    assert stats.new == 1
    assert store.orders().collect().height == 1


def test_a_killed_holder_releases_the_lock(tmp_path):
    with lock_held(tmp_path / "store", 30) as holder:
        holder.kill()
        holder.wait()

    with Store(tmp_path / "store", lock_timeout=timedelta(seconds=2)).writing():
        pass


def test_the_lock_is_re_entrant_within_one_store(store):
    with store.writing(), store.writing():
        other = Store(store.path, lock_timeout=timedelta(seconds=0.2))
        with pytest.raises(StoreError, match=f"process {os.getpid()}"), other.writing():
            pass
    with Store(store.path, lock_timeout=timedelta(seconds=0.2)).writing():
        pass


def test_readers_do_not_need_the_lock(store, make_read):
    apply(store, make_read([order("1")]))
    with store.writing():
        reader = Store(store.path, lock_timeout=timedelta(seconds=0))
        assert reader.orders().collect().height == 1
        assert reader.pulls().height == 1
