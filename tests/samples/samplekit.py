"""Helpers shared by the sample-world tests."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

SMALL = 600
FIXTURE_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "world"


def read_truth(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def digests(root: Path) -> dict[str, str]:
    """sha256 of every file under `root`, by relative path (a store directory excluded)."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "ordersync-data" not in path.parts
    }
