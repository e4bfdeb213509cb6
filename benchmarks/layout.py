"""Where a generated world's sources are and which columns hold the key and the status.

The floors (benchmarks/floors.py) read the world's export files directly, so they need, per
source, its files, its format and the raw column names the config maps to order_id, status and
tracking_no. All of that comes from the world's own config, read with ordersync's config loader.
"""

from __future__ import annotations

import glob
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class SourceLayout:
    name: str
    kind: str
    format: str
    files: list[str]
    id_col: str | None  # raw column mapped to order_id (tracking_no for a carrier source)
    status_col: str | None
    tracking_col: str | None
    status_map: dict[str, str] = field(default_factory=dict)
    header_row: int | None = None
    sheet: str | int | None = None
    encoding: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _first(ref) -> str | None:
    if ref is None:
        return None
    return ref if isinstance(ref, str) else ref[0]


def find_config(world: str | Path) -> Path:
    world = Path(world)
    for name in ("ordersync.yaml", "config.yaml"):
        if (world / name).exists():
            return world / name
    found = sorted(world.glob("*.yaml")) + sorted(world.glob("*.yml"))
    if not found:
        raise FileNotFoundError(f"no config (*.yaml) in {world}")
    return found[0]


def load_layout(world: str | Path) -> list[SourceLayout]:
    from ordersync.config import load_config

    config = load_config(find_config(world))
    out = []
    for s in config.sources:
        if not s.path:
            continue
        files = sorted(glob.glob(str(config.resolve_path(s.path)), recursive=True))
        columns = s.columns
        key = "tracking_no" if s.kind == "carrier" else "order_id"
        status = "tracking_status" if s.kind == "carrier" else "status"
        out.append(
            SourceLayout(
                name=s.name,
                kind=s.kind,
                format=s.format,
                files=files,
                id_col=_first(columns.get(key)),
                status_col=_first(columns.get(status)) or _first(columns.get("event_status")),
                tracking_col=_first(columns.get("tracking_no")),
                status_map=dict(s.status_map),
                header_row=s.header_row,
                sheet=s.sheet,
                encoding=s.encoding,
            )
        )
    return out


def pick(layout: list[SourceLayout], kind: str) -> SourceLayout | None:
    """The first source of ``kind`` (the biggest, if several)."""
    matches = [s for s in layout if s.kind == kind and s.files]
    if not matches:
        return None
    return max(matches, key=lambda s: sum(Path(f).stat().st_size for f in s.files))
