"""What reading one source produces, before it reaches the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl


@dataclass(frozen=True)
class FileFingerprint:
    """Identifies an export file's content, so an unchanged file is not read twice."""

    path: str
    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class SourceRead:
    """One source's files read and mapped to the canonical frames.

    `orders` has exactly schema.ORDERS_SCHEMA's columns (channel/oms/warehouse sources);
    `tracking` exactly schema.TRACKING_SCHEMA's (carrier sources, scan events folded). The
    other frame is empty.
    """

    source: str
    orders: pl.DataFrame
    tracking: pl.DataFrame
    files: tuple[FileFingerprint, ...] = ()
    rows_read: int = 0
    unmapped_statuses: dict[str, int] = field(default_factory=dict)
    unknown_carriers: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(Path(f.path) for f in self.files)
