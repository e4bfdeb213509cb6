"""`pull`: read each source's new export files into the store, one atomic step per source.

Incremental by default: a file whose content (sha256) was already pulled for the source is not
read again; a file whose path, size and mtime match a pulled file is not even hashed, so
pulling every minute stays cheap. `full=True` reads every file again; rows identical to the
stored version are still recorded as unchanged, so a full pull of the same files changes
nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ordersync import schema as s
from ordersync import sources as source_readers
from ordersync.config import Config, SourceConfig
from ordersync.errors import ConfigError, InputError
from ordersync.sources.base import FileFingerprint, SourceRead
from ordersync.store import PullStats, Store

__all__ = ["PullProgress", "PullStats", "pull"]


class PullProgress(Protocol):
    """Receives progress while `pull` runs (the CLI draws it; library code stays silent)."""

    def source_started(self, source: str, files: int) -> None: ...

    def file_read(self, source: str, path: Path, rows: int) -> None: ...

    def source_finished(self, stats: PullStats) -> None: ...


def pull(
    config: Config,
    store: Store,
    *,
    sources: Sequence[str] | None = None,
    full: bool = False,
    progress: PullProgress | None = None,
    now: datetime | None = None,
) -> list[PullStats]:
    """Pull the selected sources (all by default) into `store`, holding its write lock.

    Each source is committed on its own: if a later source fails (bad export, InputError),
    the sources before it stay pulled and the failing one is left as it was.
    `now` stamps the rows' `pulled_at` (default: the current time).
    """
    selected = _select(config, sources)
    with store.writing():
        results = [_pull_source(config, store, source, full, progress, now) for source in selected]
        if store.needs_compaction():
            store.compact()
    return results


def _select(config: Config, names: Sequence[str] | None) -> list[SourceConfig]:
    known = [source.name for source in config.sources]
    if names:
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ConfigError(
                f"no source named {', '.join(map(repr, unknown))}; sources are {known}",
                file=config.file,
            )
        chosen = [config.source(name) for name in dict.fromkeys(names)]
    else:
        chosen = list(config.sources)
    if not chosen:
        raise ConfigError("no sources are configured; add some under `sources:`", file=config.file)
    api = [source.name for source in chosen if source.format == "api"]
    if api:
        others = [name for name in (source.name for source in chosen) if name not in api]
        hint = f"; pull the file sources with --source ({', '.join(others)})" if others else ""
        raise ConfigError(
            f"API sources are not supported yet: {', '.join(api)}. Export their orders to files "
            f"and configure a file format instead{hint}",
            file=config.file,
        )
    return chosen


def _pull_source(
    config: Config,
    store: Store,
    source: SourceConfig,
    full: bool,
    progress: PullProgress | None,
    now: datetime | None,
) -> PullStats:
    started_at = datetime.now(UTC)
    paths = source_readers.discover_files(config, source)
    to_read, skipped = _new_files(store, source.name, paths, full)
    if progress:
        progress.source_started(source.name, len(to_read))

    if to_read:
        read = source_readers.read_source(config, source, [Path(f.path) for f in to_read])
        if not read.files:
            read = dataclasses.replace(read, files=tuple(to_read))
        if progress:
            for path, rows in _rows_per_file(read, to_read):
                progress.file_read(source.name, path, rows)
    else:
        note = "no new files since the last pull" if paths else "no files match the source's path"
        read = SourceRead(
            source=source.name,
            orders=s.empty_frame(s.ORDERS_SCHEMA),
            tracking=s.empty_frame(s.TRACKING_SCHEMA),
            notes=(note,),
        )

    pulled_at = now or datetime.now(UTC)
    stats = store.apply_pull(
        read, full=full, started_at=started_at, pulled_at=pulled_at, files_skipped=skipped
    )
    if progress:
        progress.source_finished(stats)
    return stats


def _new_files(
    store: Store, source: str, paths: Sequence[Path], full: bool
) -> tuple[list[FileFingerprint], int]:
    """Fingerprints of the files to read, and how many were skipped as already pulled."""
    known_stats = {} if full else store.known_file_stats(source)
    known = set() if full else store.known_files(source)
    chosen: list[FileFingerprint] = []
    seen: set[str] = set()
    skipped = 0
    for path in paths:
        try:
            stat = path.stat()
        except OSError as exc:
            raise InputError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
        if (str(path), stat.st_size, stat.st_mtime_ns) in known_stats:
            skipped += 1
            continue
        fingerprint = source_readers.fingerprint(path)
        # The same content under two names (a copied export) is read once.
        if fingerprint.sha256 in known or fingerprint.sha256 in seen:
            skipped += 1
            continue
        seen.add(fingerprint.sha256)
        chosen.append(fingerprint)
    return chosen, skipped


def _rows_per_file(read: SourceRead, files: Sequence[FileFingerprint]) -> list[tuple[Path, int]]:
    """Rows per file for progress: the mapped rows each file contributed (after folding)."""
    if len(files) == 1:
        return [(Path(files[0].path), read.rows_read)]
    frame = read.orders if read.orders.height else read.tracking
    counts = dict(frame.group_by(s.SOURCE_FILE).len().iter_rows()) if frame.height else {}
    return [(Path(f.path), int(counts.get(f.path, 0))) for f in files]
