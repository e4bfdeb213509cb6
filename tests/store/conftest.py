from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from storekit import MakeRead, make_read_factory

from ordersync.store import Store


@pytest.fixture
def make_read() -> MakeRead:
    return make_read_factory()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store", lock_timeout=timedelta(seconds=2))
