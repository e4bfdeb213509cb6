"""One small native world per test session."""

from __future__ import annotations

import pytest
from samplekit import SMALL, read_truth

from ordersync.samples import World, generate_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return generate_world(tmp_path_factory.mktemp("world"), orders=SMALL)


@pytest.fixture(scope="session")
def truth(world: World) -> list[dict[str, str]]:
    return read_truth(world.truth_path)
