"""The embedded store: orders and tracking with their full history, the pull log, findings.

Everything lives in Delta tables under one directory::

    <store>/
      FORMAT              {"format": 1}; refuses to open a store written by another layout
      .lock               fcntl lock held by the one process writing; holds its pid
      orders/log          append-only: every version of every orders row ever pulled
      orders/current      snapshot of the latest version per key, kept by compact(): log
                          files whose rows are all current are hard-linked in, else rewritten
      tracking/log        the same for carrier tracking
      tracking/current
      pulls               one row per committed source pull: the commit point, the cursor
                          and the source's profile after it (ordersync.profiles)
      findings            the current findings, replaced by each reconcile run
      runs                one row per reconcile run

Why append and derive instead of merging: a Delta merge rewrites every data file it touches
(with random order ids, all of them), so merging 100k changed rows into 10M costs ~35 s, while
an append of the same rows is well under a second. A pull therefore appends only the rows that
are new or changed, and the current state is the latest committed version per key: the
snapshot plus the log rows newer than it.

Atomicity across tables: a pull writes its log rows first and its `pulls` row last. Log rows
whose pull_id has no `pulls` row belong to a pull that died; every reader ignores them, and
compact() deletes them. pull_ids start with a zero-padded sequence number, so comparing them
as text orders versions.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import re
import secrets
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote

import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, WriterProperties, write_deltalake
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import DeltaError
from deltalake.transaction import AddAction, create_table_with_add_actions

from ordersync import profiles
from ordersync import schema as s
from ordersync.errors import WRITE_ERRORS, InputError, StoreError, UsageError, write_failure

if TYPE_CHECKING:
    from ordersync.config import Config
    from ordersync.findings import ReconcileResult
    from ordersync.sources.base import SourceRead

__all__ = [
    "PULLED_AT",
    "PULLS_SCHEMA",
    "PULL_ID",
    "ROW_HASH",
    "RUNS_SCHEMA",
    "PullStats",
    "Store",
]

STORE_FORMAT = 1

_Frame = TypeVar("_Frame", pl.DataFrame, pl.LazyFrame)

PULL_ID = "pull_id"
PULLED_AT = "pulled_at"
ROW_HASH = "row_hash"
# Which hash function, over which columns, produced row_hash. Polars only promises stable
# hashes within one version, and a column added to the schema changes every hash, so rows
# hashed under another scheme are re-hashed from their content before comparing (and
# rewritten with the current scheme by compact()).
HASH_SCHEME = "hash_scheme"
_CURRENT_HASH_SCHEME = f"polars-{pl.__version__}/3"
_HASH_SEEDS = (0x6F72, 0x6465, 0x7273, 0x796E)
# Odd, so each step of the fold is a bijection of what came before (FNV's 64-bit prime).
_HASH_FOLD = pl.lit(0x100000001B3, pl.UInt64)
# Which computation, over which columns, produced the orders rows' change fingerprints
# (s.change_fingerprint); each pull records it. Only fingerprints of one scheme are comparable.
_CHANGE_FP_SCHEME = "polars-{}/fp{}/{:08x}".format(
    pl.__version__,
    s.CHANGE_FP_VERSION,
    zlib.crc32(",".join(f"{c}:{s.ORDERS_SCHEMA[c]}" for c in s.WATCHED).encode()),
)

PULLS_SCHEMA: dict[str, pl.DataType] = {
    PULL_ID: pl.String(),
    "seq": pl.Int64(),
    s.SOURCE: pl.String(),
    "started_at": s.Timestamp,
    "finished_at": s.Timestamp,
    PULLED_AT: s.Timestamp,
    "full": pl.Boolean(),
    "files": pl.List(
        pl.Struct({"path": pl.String, "size": pl.Int64, "mtime_ns": pl.Int64, "sha256": pl.String})
    ),
    "files_skipped": pl.Int64(),
    "rows_read": pl.Int64(),
    "new": pl.Int64(),
    "changed": pl.Int64(),
    "unchanged": pl.Int64(),
    "unmapped_statuses": pl.String(),
    "unknown_carriers": pl.String(),
    "notes": pl.List(pl.String),
    "status": pl.String(),
    # The source's profile after this pull (ordersync.profiles); null in pulls written before
    # profiles were kept: readers then survey the rows instead.
    "profile": pl.String(),
    # The scheme of the change fingerprints this pull's orders rows carry (_CHANGE_FP_SCHEME);
    # null in pulls written before rows carried one.
    "change_fp": pl.String(),
}

RUNS_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "started_at": s.Timestamp,
    "finished_at": s.Timestamp,
    "as_of": s.Timestamp,
    "findings": pl.Int64(),
    "new": pl.Int64(),
    "still_open": pl.Int64(),
    "resolved": pl.Int64(),
    "open_critical": pl.Int64(),
    "open_high": pl.Int64(),
    "open_medium": pl.Int64(),
    "open_low": pl.Int64(),
    "money_at_risk": s.Money,
    "by_rule": pl.String(),
    "not_checked": pl.String(),
    "basis": pl.String(),
}

# Compact once this many pulls have written rows since the last snapshot, or this many rows.
COMPACT_AFTER_PULLS = 20
COMPACT_AFTER_ROWS = 1_000_000
# Files a compaction replaces stay on disk this long, so a reader that opened the previous
# table version just before can still finish.
_VACUUM_RETENTION_HOURS = 1
_LOCK_POLL_SECONDS = 0.1
# Rows per parquet row group in every data file. A streaming reader decodes a row group at a
# time; with the writers' default of ~1M rows (~0.5 GB decoded for a wide orders table), reading
# a 10M-order store held ~3 GB however little it kept.
ROW_GROUP_ROWS = 131_072
_WRITER = WriterProperties(max_row_group_size=ROW_GROUP_ROWS, compression="SNAPPY")


@dataclass(frozen=True)
class PullStats:
    """What one source's pull read and changed in the store."""

    source: str
    files_read: int = 0
    files_skipped: int = 0
    rows_read: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    unmapped_statuses: dict[str, int] = field(default_factory=dict)
    unknown_carriers: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "files_read": self.files_read,
            "files_skipped": self.files_skipped,
            "rows_read": self.rows_read,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "unmapped_statuses": dict(self.unmapped_statuses),
            "unknown_carriers": dict(self.unknown_carriers),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Entity:
    """A versioned canonical frame: how it is keyed, dated and laid out on disk."""

    name: str
    schema: dict[str, pl.DataType]
    key: tuple[str, ...]
    # A version older than the stored one by this column is stale and is not recorded.
    recency: str
    # Bookkeeping columns exposed by the public readers.
    public_extra: tuple[str, ...]
    # Its part of a source's profile (ordersync.profiles), and the columns that is computed from.
    profiler: Callable[[pl.LazyFrame], pl.LazyFrame]
    profile_columns: tuple[str, ...]
    # Each version carries s.change_fingerprint() of its watched fields (orders).
    fingerprinted: bool = False

    def profile(self, rows: pl.LazyFrame) -> pl.DataFrame:
        return self.profiler(rows).collect(engine="streaming")

    @property
    def content(self) -> list[str]:
        """Columns that make a version different; where it was read from does not."""
        return [c for c in self.schema if c not in (s.SOURCE_FILE, s.SOURCE_ROW)]

    @property
    def hash_scheme(self) -> str:
        columns = ",".join(f"{c}:{_storable(self.schema[c])}" for c in self.content)
        return f"{_CURRENT_HASH_SCHEME}/{zlib.crc32(columns.encode()):08x}"

    @property
    def stored_schema(self) -> dict[str, pl.DataType]:
        """Delta has no enum type: enums are kept as text and restored on read."""
        stored = {name: _storable(dtype) for name, dtype in self.schema.items()}
        stored.update(
            {
                PULL_ID: pl.String(),
                PULLED_AT: s.Timestamp,
                ROW_HASH: pl.Int64(),
                HASH_SCHEME: pl.String(),
            }
        )
        if self.fingerprinted:
            stored[s.CHANGE_FP] = pl.Int64()
        return stored

    @property
    def public_schema(self) -> dict[str, pl.DataType]:
        out = dict(self.schema)
        for name in self.public_extra:
            out[name] = self.stored_schema[name]
        return out


ORDERS = _Entity(
    "orders",
    s.ORDERS_SCHEMA,
    s.ORDER_KEY,
    s.UPDATED_AT,
    (PULL_ID, PULLED_AT, ROW_HASH),
    profiles.order_profile,
    profiles.ORDER_PROFILE_COLUMNS,
    fingerprinted=True,
)
TRACKING = _Entity(
    "tracking",
    s.TRACKING_SCHEMA,
    s.TRACKING_KEY,
    s.LAST_EVENT_AT,
    (PULL_ID, PULLED_AT),
    profiles.carrier_profile,
    profiles.CARRIER_PROFILE_COLUMNS,
)


def _storable(dtype: pl.DataType) -> pl.DataType:
    return pl.String() if isinstance(dtype, pl.Enum) else dtype


def _to_storage(frame: _Frame, schema: dict[str, pl.DataType]) -> _Frame:
    return frame.select([pl.col(name).cast(_storable(dtype)) for name, dtype in schema.items()])


def _arrow_stream(frame: pl.LazyFrame) -> pa.RecordBatchReader:
    """The rows of a lazy plan as an Arrow stream, computed a batch at a time (streaming), so a
    writer consuming it never holds the whole table."""
    schema = frame.head(0).collect().to_arrow().schema

    def batches() -> Iterator[pa.RecordBatch]:
        for chunk in frame.collect_batches(chunk_size=ROW_GROUP_ROWS, engine="streaming"):
            yield from chunk.to_arrow().cast(schema).to_batches()

    return pa.RecordBatchReader.from_batches(schema, batches())


def _from_storage(frame: pl.LazyFrame, schema: dict[str, pl.DataType]) -> pl.LazyFrame:
    # conform: files written before a column joined the schema read it as null.
    return s.conform(frame, schema)


def _fingerprints_comparable(pulls: pl.DataFrame) -> bool:
    """Every committed pull wrote its orders rows' change fingerprints by the current scheme."""
    return bool(pulls.select(pl.col("change_fp").eq_missing(_CHANGE_FP_SCHEME).all()).item())


def _hash_expr(entity: _Entity) -> pl.Expr:
    # Enums are hashed as text so that a row read back from storage hashes the same. Each
    # column is hashed on its own (with its own seed): far cheaper than hashing one struct of
    # text and list columns (scheme /2). The column hashes are then folded in order by a
    # multiply-add in wrapping 64-bit arithmetic (scheme /3): hashing them as one struct took
    # ~5x as long as computing them (0.72 s against 0.15 s for 2M pulled rows).
    columns = [
        pl.col(c).cast(_storable(entity.schema[c])).hash(_HASH_SEEDS[i % 4] + i)
        for i, c in enumerate(entity.content)
    ]
    folded = functools.reduce(lambda acc, column: acc * _HASH_FOLD + column, columns)
    return folded.reinterpret(signed=True).alias(ROW_HASH)


# What a pull_id looks like (see the module docstring); a file statistic that does not is not
# trusted (a truncated or missing value).
_PULL_ID_SHAPE = r"^\d{12}-[0-9a-f]{12}$"
# Source names written into a partition path as they are (no escaping questions).
_PLAIN_PARTITION_VALUE = re.compile(r"[A-Za-z0-9_.-]+")


def _last_adds(path: Path) -> list[dict] | None:
    """The data files the table's latest commit added (from its commit file), or None."""
    try:
        version = DeltaTable(str(path)).version()
        commit = path / "_delta_log" / f"{version:020d}.json"
        lines = commit.read_text(encoding="utf-8").splitlines()
        actions = [json.loads(line) for line in lines if line.strip()]
        return [action["add"] for action in actions if "add" in action]
    except (OSError, DeltaError, ValueError, KeyError):
        return None


def _newest_commit(table: Path) -> tuple[str, int, int, int] | None:
    """(name, size, mtime, inode) of a Delta table's newest commit file: it changes with every
    commit, also when a table is deleted and written again. None when there is no table."""
    try:
        commits = [
            entry
            for entry in os.scandir(table / "_delta_log")
            if entry.name.endswith(".json") and entry.name[:-5].isdigit()
        ]
    except OSError:
        return None
    if not commits:
        return None
    newest = max(commits, key=lambda entry: entry.name)
    try:
        stat = newest.stat()
    except OSError:
        return None
    return newest.name, stat.st_size, stat.st_mtime_ns, stat.st_ino


def _file_stats(records: int, pulls: tuple[str, str] | None) -> str:
    """A data file's statistics for its commit entry: its rows and, when every row has one, its
    first and last pull_id, which let readers skip the files of other pulls unopened."""
    stats: dict[str, object] = {"numRecords": records}
    if records and pulls is not None:
        stats.update(
            minValues={PULL_ID: pulls[0]}, maxValues={PULL_ID: pulls[1]}, nullCount={PULL_ID: 0}
        )
    return json.dumps(stats)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise StoreError(
            f"timestamp {value.isoformat()} has no timezone; the store keeps UTC times"
        )
    return value.astimezone(UTC)


class Store:
    """The embedded store under one directory. Readers need no lock; writers take `writing()`."""

    def __init__(self, path: Path, *, lock_timeout: timedelta = timedelta(seconds=30)) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._lock_depth = 0
        self._lock_file: int | None = None
        # (entity, source) → (pull_id, the log files it added) of the last pull this object
        # appended, so a compaction right after a source's first pull can adopt those files.
        self._written: dict[tuple[str, str], tuple[str, list[dict] | None]] = {}
        # The pull log as of its newest commit file: every read of the store consults it (a
        # reconcile ~5 times, ~25 ms each), and it only changes when a commit is added.
        self._pulls_cache: tuple[tuple[str, int, int, int], pl.DataFrame] | None = None

    @classmethod
    def for_config(cls, config: Config) -> Store:
        """The store a config points at (`store.path`, `store.lock_timeout`)."""
        return cls(config.store_path, lock_timeout=config.store.lock_timeout)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # --- layout ---------------------------------------------------------------------------

    def _table(self, *parts: str) -> Path:
        return self.path.joinpath(*parts)

    def _check_format(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(
                f"the store path {self.path} is a file, not a directory; set store.path to a directory"
            )
        marker = self.path / "FORMAT"
        if not marker.exists():
            return
        try:
            found = json.loads(marker.read_text(encoding="utf-8")).get("format")
        except (OSError, ValueError, AttributeError) as exc:
            raise StoreError(
                f"the store {self.path} has an unreadable FORMAT file: {exc}"
            ) from None
        if found != STORE_FORMAT:
            raise StoreError(
                f"the store {self.path} has layout version {found}, this ordersync reads version "
                f"{STORE_FORMAT}; use a matching ordersync or a new store path"
            )

    def _ensure_layout(self) -> None:
        self._check_format()
        self.path.mkdir(parents=True, exist_ok=True)
        marker = self.path / "FORMAT"
        if not marker.exists():
            tmp = self.path / "FORMAT.tmp"
            tmp.write_text(json.dumps({"format": STORE_FORMAT}) + "\n", encoding="utf-8")
            os.replace(tmp, marker)

    def _scan(self, path: Path) -> pl.LazyFrame | None:
        if not (path / "_delta_log").is_dir():
            return None
        try:
            return pl.scan_delta(str(path))
        except (DeltaError, OSError) as exc:
            raise StoreError(f"cannot read the store table {path}: {exc}") from None

    def _table_files(self, path: Path) -> tuple[pl.LazyFrame, pl.DataFrame] | None:
        """A table's scan and its data files' commit entries (flattened: partition values,
        statistics), both of one table version; None when the table does not exist yet."""
        if not (path / "_delta_log").is_dir():
            return None
        try:
            table = DeltaTable(str(path))
            return pl.scan_delta(table), pl.DataFrame(table.get_add_actions(flatten=True))
        except (DeltaError, OSError) as exc:
            raise StoreError(f"cannot read the store table {path}: {exc}") from None

    def _snapshot(self, entity: _Entity) -> tuple[pl.LazyFrame, pl.DataFrame] | None:
        """The current-state snapshot and, per source, the newest pull_id in it (`_mark`), both
        of one table version; None when there is no snapshot yet.

        The marks come from the file statistics in the commit log, without opening a data file
        (reading the pull_id column took ~1 s on a 10M-order store, on every read); files
        without usable statistics (written by another tool) make it read the column instead."""
        taken = self._table_files(self._table(entity.name, "current"))
        if taken is None:
            return None
        scan, files = taken
        partition, newest = f"partition.{s.SOURCE}", f"max.{PULL_ID}"
        if {partition, newest} <= set(files.columns) and files.height:
            marks = files.select(
                pl.col(partition).cast(pl.String).alias(s.SOURCE),
                pl.col(newest).cast(pl.String).alias("_mark"),
            )
            if marks.get_column("_mark").str.contains(_PULL_ID_SHAPE).fill_null(False).all():
                return scan, marks.group_by(s.SOURCE).agg(pl.col("_mark").max())
        marks = (
            scan.group_by(s.SOURCE)
            .agg(pl.col(PULL_ID).max().alias("_mark"))
            .collect(engine="streaming")
        )
        return scan, marks

    def _log(self, entity: _Entity) -> tuple[pl.LazyFrame | None, list[str] | None]:
        """The entity's log and the sources with rows in it (None if the commit log does not
        say), both of one table version."""
        taken = self._table_files(self._table(entity.name, "log"))
        if taken is None:
            return None, None
        scan, files = taken
        partition = f"partition.{s.SOURCE}"
        if partition not in files.columns:
            return scan, None
        return scan, files.get_column(partition).cast(pl.String).unique().to_list()

    def _append(
        self, path: Path, frame: pl.DataFrame | pl.LazyFrame, *, partition_by: str | None = None
    ) -> None:
        try:
            # Merge: a column added to the schema by a newer ordersync joins the table, and
            # older rows read it as null.
            write_deltalake(
                str(path),
                _arrow_stream(frame) if isinstance(frame, pl.LazyFrame) else frame.to_arrow(),
                mode="append",
                partition_by=partition_by,
                schema_mode="merge",
                writer_properties=_WRITER,
            )
        except (DeltaError, OSError) as exc:
            raise StoreError(f"cannot write the store table {path}: {exc}") from None

    def _append_source_rows(
        self, path: Path, frame: pl.DataFrame, source: str
    ) -> list[dict] | None:
        """Append one source's rows to a table partitioned by source; returns the data files
        added (their commit entries), or None if unknown."""
        adds = self._commit_file(path, frame, mode="append", source=source)
        if adds is not None:
            return adds
        self._append(path, frame, partition_by=s.SOURCE)
        return _last_adds(path)

    def _commit_file(
        self, path: Path, frame: pl.DataFrame, *, mode: str, source: str | None = None
    ) -> list[dict] | None:
        """Write `frame` as one data file and commit it (`mode` "append", or "overwrite" to
        replace every row); `source`: the partition of a table partitioned by source.

        Polars writes the file (about half the CPU of deltalake's writer, and no start-up:
        replacing 50k findings took 0.15 s through deltalake, 0.06 s so) and it is committed
        as an add action; returns its commit entry. None, having written nothing, where that
        is not plainly equivalent (a source name that needs escaping in a path, a table whose
        schema differs and must be merged): then the caller writes through deltalake."""
        if source is not None and not _PLAIN_PARTITION_VALUE.fullmatch(source):
            return None
        partition_by = [s.SOURCE] if source is not None else None
        try:
            schema = DeltaSchema.from_arrow(frame.head(0).to_arrow().schema)
            table = DeltaTable(str(path)) if (path / "_delta_log").is_dir() else None
            plain = table is None or (
                table.metadata().partition_columns == (partition_by or [])
                and table.schema().to_json() == schema.to_json()
            )
        except (DeltaError, OSError, ValueError, TypeError):
            plain = False
        if not plain:
            return None
        name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
        relative = f"{s.SOURCE}={source}/{name}" if source is not None else name
        target = path / relative
        data = frame.drop(s.SOURCE) if source is not None else frame
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            data.write_parquet(
                target, compression="snappy", statistics=True, row_group_size=ROW_GROUP_ROWS
            )
            stat = target.stat()
        except WRITE_ERRORS as exc:
            reason = write_failure(exc, path)
            if reason is None:
                raise
            # Not committed, so no reader can see it; left, it would only take room.
            with contextlib.suppress(OSError):
                target.unlink(missing_ok=True)
            raise StoreError(f"cannot write the store table {path}: {reason}") from None
        ids = frame.get_column(PULL_ID) if PULL_ID in frame.columns else None
        whole = ids is not None and ids.null_count() == 0
        pulls = (str(ids.min()), str(ids.max())) if whole else None
        stats = _file_stats(frame.height, pulls)
        partition_values = {s.SOURCE: source} if source is not None else {}
        add = {
            "path": relative,
            "partitionValues": partition_values,
            "size": stat.st_size,
            "modificationTime": stat.st_mtime_ns // 1_000_000,
            "dataChange": True,
            "stats": stats,
        }
        action = AddAction(
            relative, stat.st_size, partition_values, add["modificationTime"], True, stats
        )
        try:
            if table is None:
                create_table_with_add_actions(
                    str(path), schema, [action], mode="error", partition_by=partition_by
                )
            else:
                table.create_write_transaction(
                    [action], mode=mode, schema=schema, partition_by=partition_by
                )
        except (DeltaError, OSError) as exc:
            raise StoreError(f"cannot write the store table {path}: {exc}") from None
        return [add]

    def _overwrite(
        self,
        path: Path,
        frame: pl.DataFrame | pl.LazyFrame,
        *,
        partition_by: str | None = None,
        predicate: str | None = None,
    ) -> None:
        try:
            write_deltalake(
                str(path),
                _arrow_stream(frame) if isinstance(frame, pl.LazyFrame) else frame.to_arrow(),
                mode="overwrite",
                partition_by=partition_by,
                predicate=predicate,
                schema_mode="merge",
                writer_properties=_WRITER,
            )
        except (DeltaError, OSError) as exc:
            raise StoreError(f"cannot write the store table {path}: {exc}") from None

    # --- locking --------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self) -> Iterator[Store]:
        """Hold the store's exclusive write lock; waits up to `lock_timeout` for another writer.

        Re-entrant within one Store object. Raises StoreError naming the holder's pid when
        the wait times out.
        """
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield self
            finally:
                self._lock_depth -= 1
            return
        self._ensure_layout()
        lock_path = self.path / ".lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._acquire(fd, lock_path)
        except BaseException:
            os.close(fd)
            raise
        self._lock_file = fd
        self._lock_depth = 1
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield self
        finally:
            self._lock_depth = 0
            self._lock_file = None
            # Leave the file in place: unlinking it would let two processes lock different inodes.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _acquire(self, fd: int, lock_path: Path) -> None:
        deadline = time.monotonic() + self.lock_timeout.total_seconds()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(_LOCK_POLL_SECONDS)
        try:
            holder = lock_path.read_text(encoding="utf-8").strip()
        except OSError:
            holder = ""
        who = f"process {holder}" if holder.isdigit() else "another process"
        raise StoreError(
            f"the store {self.path} is locked by {who} (another ordersync writing); waited "
            f"{self.lock_timeout.total_seconds():g}s. Try again when it has finished, or raise "
            f"store.lock_timeout"
        )

    def _require_lock(self, what: str) -> None:
        if not self._lock_depth:
            raise StoreError(f"{what} must run inside Store.writing() (the store's write lock)")

    # --- the pull log ---------------------------------------------------------------------

    def pulls(self) -> pl.DataFrame:
        """Every committed source pull, oldest first."""
        self._check_format()
        path = self._table("pulls")
        version = _newest_commit(path)
        if version is None:
            return s.empty_frame(PULLS_SCHEMA)
        if self._pulls_cache is not None and self._pulls_cache[0] == version:
            return self._pulls_cache[1]
        frame = self._pull_log_rows().filter(pl.col("status") == "committed").sort("seq")
        self._pulls_cache = (version, frame)
        return frame

    def _pull_log_rows(self) -> pl.DataFrame:
        """Every row of the pull log, whatever its status, in PULLS_SCHEMA."""
        path = self._table("pulls")
        try:
            files = DeltaTable(str(path)).file_uris()
        except (DeltaError, OSError) as exc:
            raise StoreError(f"cannot read the store table {path}: {exc}") from None
        if not files:
            return s.empty_frame(PULLS_SCHEMA)
        # Every run starts here: the log's few small files are read directly, in the log's own
        # schema (a file written before a column joined it reads it as null). Through
        # scan_delta this took 0.15-0.22 s in a fresh process, so 0.04-0.06 s.
        return pl.scan_parquet(
            files, schema=PULLS_SCHEMA, missing_columns="insert", extra_columns="ignore"
        ).collect()

    def known_files(self, source: str) -> set[str]:
        """sha256 of every file already pulled for `source`."""
        files = self._pulled_files(source)
        return set(files.get_column("sha256").to_list())

    def known_file_stats(self, source: str) -> dict[tuple[str, int, int], str]:
        """(path, size, mtime_ns) → sha256 of files already pulled, to skip re-hashing them."""
        files = self._pulled_files(source).unique(["path", "size", "mtime_ns"], keep="last")
        return {
            (path, size, mtime): sha
            for path, size, mtime, sha in files.select(
                "path", "size", "mtime_ns", "sha256"
            ).iter_rows()
        }

    def _pulled_files(self, source: str) -> pl.DataFrame:
        pulls = self.pulls().filter(pl.col(s.SOURCE) == source)
        return (
            pulls.select(pl.col("files").explode(empty_as_null=False, keep_nulls=False))
            .unnest("files")
            .drop_nulls("sha256")
        )

    def last_pull_at(self) -> datetime | None:
        """When the most recent committed pull of any source read its data."""
        pulls = self.pulls()
        if pulls.is_empty():
            return None
        return pulls.get_column(PULLED_AT).max()  # type: ignore[return-value]

    # --- current state and history --------------------------------------------------------

    def _current_stored(
        self,
        entity: _Entity,
        sources: Sequence[str] | None = None,
        pulls: pl.DataFrame | None = None,
    ) -> pl.LazyFrame | None:
        """The latest committed version per key, in stored columns: the snapshot with the
        rows of committed pulls since it laid over it."""
        self._check_format()
        taken = self._snapshot(entity)
        snapshot, marks = taken if taken is not None else (None, None)
        log, logged = self._log(entity)
        if snapshot is None and log is None:
            return None
        pulls = self.pulls() if pulls is None else pulls
        if sources is not None:
            wanted = pl.col(s.SOURCE).is_in(list(sources))
            snapshot = snapshot.filter(wanted) if snapshot is not None else None
            log = log.filter(wanted) if log is not None else None
            pulls = pulls.filter(wanted)
        stored = entity.stored_schema
        key = list(entity.key)

        # Every committed log row at or below a source's newest snapshot pull_id is in the
        # snapshot or superseded by a row that is, so only later pulls need reading. Marked
        # per source because compact() replaces one source's partition at a time.
        tail_ids = pulls.filter((pl.col("new") + pl.col("changed")) > 0)
        if logged is not None:
            # The pull log counts a pull's rows of every kind: a source that never wrote rows
            # of this kind has no tail here (and would make it look like several pulls).
            tail_ids = tail_ids.filter(pl.col(s.SOURCE).is_in(logged))
        if marks is not None:
            tail_ids = tail_ids.join(marks, on=s.SOURCE, how="left").filter(
                pl.col("_mark").is_null() | (pl.col(PULL_ID) > pl.col("_mark"))
            )
        tail = None
        if log is not None and tail_ids.height:
            # Per source, the range lets the reader skip the partitions and the files of earlier
            # pulls by their statistics (is_in alone skips nothing: it read every pull_id).
            firsts = tail_ids.group_by(s.SOURCE).agg(pl.col(PULL_ID).min()).sort(s.SOURCE)
            since = pl.any_horizontal(
                [
                    (pl.col(s.SOURCE) == pl.lit(source)) & (pl.col(PULL_ID) >= pl.lit(first))
                    for source, first in firsts.iter_rows()
                ]
            )
            in_tail = since & pl.col(PULL_ID).is_in(tail_ids.get_column(PULL_ID).implode())
            tail = _from_storage(log.filter(in_tail), stored)
            # A pull writes each key at most once, so with one pull per source in the tail
            # every tail row is already the latest version of its key.
            if tail_ids.get_column(s.SOURCE).is_duplicated().any():
                tail = self._latest(tail, entity)
        if snapshot is None:
            return tail
        snapshot = _from_storage(snapshot, stored)
        if tail is None:
            return snapshot
        # An anti-join against the (small) tail is far cheaper than a window over everything.
        return pl.concat([snapshot.join(tail.select(key), on=key, how="anti"), tail])

    @staticmethod
    def _latest(versions: pl.LazyFrame, entity: _Entity) -> pl.LazyFrame:
        return versions.filter(pl.col(PULL_ID) == pl.col(PULL_ID).max().over(list(entity.key)))

    def _public(self, frame: pl.LazyFrame | None, entity: _Entity) -> pl.LazyFrame:
        if frame is None:
            return s.empty_frame(entity.public_schema).lazy()
        return _from_storage(frame, entity.public_schema)

    def orders(self, *, sources: Sequence[str] | None = None) -> pl.LazyFrame:
        """Current orders: the latest committed version per (source, order_id, shipment_id)."""
        return self._public(self._current_stored(ORDERS, sources), ORDERS)

    def order_history(self, *, since: datetime | None = None) -> pl.LazyFrame:
        """Every committed version of every orders row, pulled at or after `since`; with each
        version's change fingerprint (s.CHANGE_FP) when every pull's is of the current scheme,
        so comparable (not in stores pulled before fingerprints, or by another Polars)."""
        self._check_format()
        log = self._scan(self._table(ORDERS.name, "log"))
        if log is None:
            return self._public(None, ORDERS)
        pulls = self.pulls()
        log = log.filter(pl.col(PULL_ID).is_in(pulls.get_column(PULL_ID).implode()))
        if since is not None:
            log = log.filter(pl.col(PULLED_AT) >= _utc(since))
        if not _fingerprints_comparable(pulls):
            return self._public(log, ORDERS)
        return _from_storage(log, {**ORDERS.public_schema, s.CHANGE_FP: pl.Int64()})

    def tracking(self) -> pl.LazyFrame:
        """Current tracking: the latest committed version per (source, tracking_no)."""
        return self._public(self._current_stored(TRACKING), TRACKING)

    def tracking_history(self) -> pl.LazyFrame:
        """Every committed version of every tracking row."""
        self._check_format()
        log = self._scan(self._table(TRACKING.name, "log"))
        if log is None:
            return self._public(None, TRACKING)
        return self._public(
            log.filter(pl.col(PULL_ID).is_in(self.pulls().get_column(PULL_ID).implode())), TRACKING
        )

    # --- pulls ----------------------------------------------------------------------------

    def apply_pull(
        self,
        read: SourceRead,
        *,
        full: bool,
        started_at: datetime,
        pulled_at: datetime,
        files_skipped: int = 0,
    ) -> PullStats:
        """Record one source's read as one atomic step: new and changed rows, then the pull row.

        Must run inside `writing()`. Rows identical to the stored version count as unchanged
        and are not written; a row older (by updated_at / last_event_at) than the stored
        version is ignored, so re-reading an old export never rolls the store back.
        """
        self._require_lock("apply_pull")
        started_at, pulled_at = _utc(started_at), _utc(pulled_at)
        pulls = self.pulls()
        seq = int(pulls.get_column("seq").max() or 0) + 1  # type: ignore[arg-type]
        # The random part keeps a retry of a killed pull (same seq) from adopting its rows.
        pull_id = f"{seq:012d}-{secrets.token_hex(6)}"
        file_rank = {f.path: rank for rank, f in enumerate(read.files)}

        counts = {"new": 0, "changed": 0, "unchanged": 0, "stale": 0}
        profile: dict[str, pl.DataFrame] = {}
        for entity, frame in ((ORDERS, read.orders), (TRACKING, read.tracking)):
            if frame.height == 0:
                profile[entity.name] = self._unchanged_profile(entity, read.source, pulls)
                continue
            rows, entity_counts, profile[entity.name] = self._diff(
                entity, read.source, frame, file_rank, pulls
            )
            for name, value in entity_counts.items():
                counts[name] += value
            if rows.height:
                rows = rows.with_columns(
                    pl.lit(pull_id).alias(PULL_ID),
                    pl.lit(pulled_at).cast(s.Timestamp).alias(PULLED_AT),
                    pl.lit(entity.hash_scheme).alias(HASH_SCHEME),
                )
                if entity.fingerprinted:
                    rows = rows.with_columns(s.change_fingerprint().alias(s.CHANGE_FP))
                adds = self._append_source_rows(
                    self._table(entity.name, "log"),
                    _to_storage(rows, entity.stored_schema),
                    read.source,
                )
                self._written[(entity.name, read.source)] = (pull_id, adds)
            else:
                self._written.pop((entity.name, read.source), None)

        notes = list(read.notes)
        if counts["stale"]:
            notes.append(
                f"{counts['stale']} rows are older than the version already stored "
                "(by their update time) and were not recorded"
            )
        if read.files and read.rows_read == 0:
            notes.append("the export has a header but no rows: nothing to record for this period")
        stats = PullStats(
            source=read.source,
            files_read=len(read.files),
            files_skipped=files_skipped,
            rows_read=read.rows_read,
            new=counts["new"],
            changed=counts["changed"],
            unchanged=counts["unchanged"] + counts["stale"],
            unmapped_statuses=dict(read.unmapped_statuses),
            unknown_carriers=dict(read.unknown_carriers),
            notes=tuple(notes),
        )
        row = {
            PULL_ID: pull_id,
            "seq": seq,
            s.SOURCE: read.source,
            "started_at": started_at,
            "finished_at": datetime.now(UTC),
            PULLED_AT: pulled_at,
            "full": full,
            "files": [
                {"path": f.path, "size": f.size, "mtime_ns": f.mtime_ns, "sha256": f.sha256}
                for f in read.files
            ],
            "files_skipped": files_skipped,
            "rows_read": read.rows_read,
            "new": stats.new,
            "changed": stats.changed,
            "unchanged": stats.unchanged,
            "unmapped_statuses": json.dumps(
                stats.unmapped_statuses, ensure_ascii=False, sort_keys=True
            ),
            "unknown_carriers": json.dumps(
                stats.unknown_carriers, ensure_ascii=False, sort_keys=True
            ),
            "notes": list(stats.notes),
            "status": "committed",
            "profile": profiles.to_json(profile[ORDERS.name], profile[TRACKING.name]),
            "change_fp": _CHANGE_FP_SCHEME,
        }
        # The commit point: until this row exists, readers ignore the rows written above.
        self._append(self._table("pulls"), pl.DataFrame([row], schema=PULLS_SCHEMA))
        return stats

    def _diff(
        self,
        entity: _Entity,
        source: str,
        frame: pl.DataFrame,
        file_rank: dict[str, int],
        pulls: pl.DataFrame,
    ) -> tuple[pl.DataFrame, dict[str, int], pl.DataFrame]:
        """The rows to append for one source, how many were new / changed / unchanged, and the
        source's profile once they are appended."""
        incoming = s.conform(frame, entity.schema).with_columns(pl.col(s.SOURCE).fill_null(source))
        if s.SHIPMENT_ID in entity.key:
            incoming = incoming.with_columns(pl.col(s.SHIPMENT_ID).fill_null(""))
        self._check_keys(entity, source, incoming)
        incoming = incoming.with_columns(_hash_expr(entity))

        # Overlapping export windows repeat rows; within one pull the most recently updated
        # copy wins, then the later file, then the later row. (Readers usually fold them
        # already, so the sort is skipped when every key is unique.)
        if (
            s.keys_may_repeat(incoming, entity.key)
            and incoming.select(pl.struct(list(entity.key)).is_duplicated().any()).item()
        ):
            rank = pl.col(s.SOURCE_FILE).replace_strict(
                file_rank, default=-1, return_dtype=pl.Int64
            )
            order_by = [entity.recency, rank]
            if s.SOURCE_ROW in entity.schema:
                order_by.append(pl.col(s.SOURCE_ROW))
            incoming = incoming.sort(order_by, nulls_last=False).unique(
                subset=list(entity.key), keep="last", maintain_order=True
            )

        stored = self._stored_hashes(entity, source, pulls)
        if stored is None:
            counts = {"new": incoming.height, "changed": 0, "unchanged": 0, "stale": 0}
            return incoming, counts, entity.profile(incoming.lazy())
        key = list(entity.key)
        # Only the stored versions of the incoming keys are compared, streamed past those keys:
        # every stored key held at once took ~12 GB at 50M stored rows.
        matched = (
            stored.select(*key, "_stored_hash", "_stored_recency")
            .join(incoming.lazy().select(key), on=key, how="semi")
            .collect(engine="streaming")
        )
        joined = incoming.join(matched, on=key, how="left")
        is_new = pl.col("_stored_hash").is_null()
        same = pl.col(ROW_HASH) == pl.col("_stored_hash")
        stale = (
            (~is_new)
            & (~same)
            & (pl.col(entity.recency) < pl.col("_stored_recency")).fill_null(False)
        )
        changed = (~is_new) & (~same) & (~stale)
        counts = joined.select(
            is_new.sum().alias("new"),
            changed.sum().alias("changed"),
            same.fill_null(False).sum().alias("unchanged"),
            stale.sum().alias("stale"),
        ).row(0, named=True)
        rows = joined.filter(is_new | changed).drop("_stored_hash", "_stored_recency")
        # The source after the pull: the stored rows, those rewritten replaced.
        profiled = {c: entity.schema[c] for c in dict.fromkeys([*key, *entity.profile_columns])}
        after = pl.concat(
            [
                _to_storage(stored, profiled).join(rows.lazy().select(key), on=key, how="anti"),
                _to_storage(rows.lazy(), profiled),
            ]
        )
        profile = entity.profile(after)
        return rows, {name: int(value) for name, value in counts.items()}, profile

    def _unchanged_profile(self, entity: _Entity, source: str, pulls: pl.DataFrame) -> pl.DataFrame:
        """The profile of a source this pull wrote nothing to: the last pull's, else (a store
        written before profiles were kept, or before a part of them was) taken from the stored
        rows."""
        kept = self._kept_profiles(pulls.filter(pl.col(s.SOURCE) == source))
        if kept is not None:
            profile = kept[entity.name]
            if profiles.complete(profile):
                return profile
        current = self._current_stored(entity, [source], pulls)
        if current is None:
            current = s.empty_frame(entity.stored_schema).lazy()
        return entity.profile(current)

    @staticmethod
    def _kept_profiles(pulls: pl.DataFrame) -> dict[str, pl.DataFrame] | None:
        """Every source's profile as the latest pull of each kept it, per entity (orders: the
        order profiles, tracking: the carrier profiles), or None if one did not."""
        latest = (
            pulls.sort("seq")
            .group_by(s.SOURCE, maintain_order=True)
            .agg(pl.col("profile").last())
            .sort(s.SOURCE)
        )
        if latest.get_column("profile").null_count():
            return None
        parts = [profiles.from_json(src, text) for src, text in latest.iter_rows()]
        orders = [o for o, _ in parts] or [s.empty_frame(profiles.ORDER_PROFILE_SCHEMA)]
        carriers = [c for _, c in parts] or [s.empty_frame(profiles.CARRIER_PROFILE_SCHEMA)]
        return {ORDERS.name: pl.concat(orders), TRACKING.name: pl.concat(carriers)}

    def profiles(self) -> tuple[pl.DataFrame, pl.DataFrame] | None:
        """(order profiles, carrier profiles) of every source in the store (ordersync.profiles),
        or None when a source's latest pull predates profiles: then survey the rows."""
        kept = self._kept_profiles(self.pulls())
        return None if kept is None else (kept[ORDERS.name], kept[TRACKING.name])

    @staticmethod
    def _check_keys(entity: _Entity, source: str, incoming: pl.DataFrame) -> None:
        other = incoming.filter(pl.col(s.SOURCE) != source)
        if other.height:
            raise StoreError(
                f"source {source!r} delivered rows labelled as source {other.item(0, s.SOURCE)!r}; "
                "this is a bug in the reader, please report it"
            )
        for column in entity.key:
            missing = incoming.filter(pl.col(column).is_null())
            if missing.height:
                first = missing.row(0, named=True)
                raise InputError(
                    f"{missing.height} row(s) have no {column}, which identifies a row; "
                    f"map the {column} column or remove those rows",
                    file=first.get(s.SOURCE_FILE),
                    row=first.get(s.SOURCE_ROW),
                )

    def _stored_hashes(
        self, entity: _Entity, source: str, pulls: pl.DataFrame
    ) -> pl.LazyFrame | None:
        """The source's current rows: key, profile columns, `_stored_hash`, `_stored_recency`."""
        current = self._current_stored(entity, [source], pulls)
        if current is None:
            return None
        stored_hash = pl.col(ROW_HASH)
        stale = current.select((pl.col(HASH_SCHEME) != entity.hash_scheme).any())
        if stale.collect(engine="streaming").item():
            # Hashed by another polars version (hashes are only stable within one): hash the
            # content again. Rare, and compact() rewrites the rows with the current scheme.
            stored_hash = (
                pl.when(pl.col(HASH_SCHEME) == entity.hash_scheme)
                .then(pl.col(ROW_HASH))
                .otherwise(_hash_expr(entity))
            )
        return current.select(
            *(pl.col(c) for c in dict.fromkeys([*entity.key, *entity.profile_columns])),
            stored_hash.alias("_stored_hash"),
            pl.col(entity.recency).alias("_stored_recency"),
        )

    # --- compaction -----------------------------------------------------------------------

    def needs_compaction(self) -> bool:
        """True when enough has been appended since the last snapshot to slow reads down."""
        tail = self.pulls().filter((pl.col("new") + pl.col("changed")) > 0)
        marks = [
            taken[1]
            for entity in (ORDERS, TRACKING)
            if (taken := self._snapshot(entity)) is not None
        ]
        if marks:
            tail = tail.join(pl.concat(marks), on=s.SOURCE, how="left").filter(
                pl.col("_mark").is_null() | (pl.col(PULL_ID) > pl.col("_mark"))
            )
        written = int(tail.select((pl.col("new") + pl.col("changed")).sum()).item() or 0)
        return (
            tail.height >= COMPACT_AFTER_PULLS
            or written >= COMPACT_AFTER_ROWS
            or not _fingerprints_comparable(self.pulls())
        )

    def compact(self) -> None:
        """Rewrite the current-state snapshots, drop rows of pulls that never committed,
        merge small files and delete files no version needs any more.

        Reads give the same answer before and after. Takes the write lock.
        """
        with self.writing():
            pulls = self.pulls()
            for entity in (ORDERS, TRACKING):
                self._compact_entity(entity, pulls)
            self._fingerprint_history(pulls)
            for table in (
                self._table(ORDERS.name, "log"),
                self._table(TRACKING.name, "log"),
                self._table(ORDERS.name, "current"),
                self._table(TRACKING.name, "current"),
                self._table("pulls"),
                self._table("runs"),
                self._table("findings"),
            ):
                self._tidy(table)

    def _compact_entity(self, entity: _Entity, pulls: pl.DataFrame) -> None:
        log_path = self._table(entity.name, "log")
        log = self._scan(log_path)
        if log is None:
            return
        self._delete_orphans(log_path, log, pulls.get_column(PULL_ID))
        sources = (
            log.select(pl.col(s.SOURCE).unique()).collect(engine="streaming").to_series().to_list()
        )
        current_path = self._table(entity.name, "current")
        # One source at a time keeps memory to the largest source; each replace is atomic and
        # readers mark the snapshot per source, so a half-finished compaction reads correctly.
        for source in sorted(sources):
            since = self._since_snapshot(entity, source, pulls)
            if since is not None and since.is_empty():
                continue
            adds = self._just_written(entity, source, pulls)
            if adds is None and since is not None:
                adds = self._added_since(entity, source, since)
            if adds is not None and self._adopt(entity, adds):
                continue
            current = self._current_stored(entity, [source], pulls)
            if current is None:
                continue
            stale = current.select((pl.col(HASH_SCHEME) != entity.hash_scheme).any()).collect(
                engine="streaming"
            )
            if stale.item():
                # Only rows hashed under another scheme are hashed again (rare).
                current = current.with_columns(
                    pl.when(pl.col(HASH_SCHEME) == entity.hash_scheme)
                    .then(pl.col(ROW_HASH))
                    .otherwise(_hash_expr(entity)),
                    pl.lit(entity.hash_scheme).alias(HASH_SCHEME),
                )
            # Streamed into the writer: a 10M-row source held whole took ~20 GB.
            rows = _to_storage(current, entity.stored_schema)
            if (current_path / "_delta_log").is_dir():
                self._overwrite(
                    current_path,
                    rows,
                    partition_by=s.SOURCE,
                    predicate=f"{s.SOURCE} = {_sql_text(source)}",
                )
            else:
                self._append(current_path, rows, partition_by=s.SOURCE)

    def _fingerprint_history(self, pulls: pl.DataFrame) -> None:
        """Give every orders version a change fingerprint of the current scheme, when some
        pull wrote none (a store from before them) or another scheme's (another Polars):
        until then every run computes the history's fingerprints from the watched fields.

        Rewrites the orders log once, a source at a time, then marks every pull. In that
        order: a compaction stopped in between leaves fingerprints no reader trusts yet."""
        if _fingerprints_comparable(pulls):
            return
        log_path = self._table(ORDERS.name, "log")
        log = self._scan(log_path)
        if log is not None:
            stored = ORDERS.stored_schema
            sources = (
                log.select(pl.col(s.SOURCE).unique())
                .collect(engine="streaming")
                .to_series()
                .to_list()
            )
            for source in sorted(sources):
                rows = _from_storage(log.filter(pl.col(s.SOURCE) == source), stored)
                self._overwrite(
                    log_path,
                    rows.with_columns(s.change_fingerprint().alias(s.CHANGE_FP)),
                    partition_by=s.SOURCE,
                    predicate=f"{s.SOURCE} = {_sql_text(source)}",
                )
        marked = self._pull_log_rows().with_columns(pl.lit(_CHANGE_FP_SCHEME).alias("change_fp"))
        self._overwrite(self._table("pulls"), marked)

    def _just_written(self, entity: _Entity, source: str, pulls: pl.DataFrame) -> list[dict] | None:
        """The log files holding the source's whole current state, when that is exactly the
        rows this Store object appended in its last pull of the source: that pull is committed,
        it is the only one with rows for the source, and the source has no snapshot rows."""
        kept = self._written.pop((entity.name, source), None)
        if kept is None or kept[1] is None:
            return None
        pull_id, adds = kept
        with_rows = pulls.filter(
            (pl.col(s.SOURCE) == source) & ((pl.col("new") + pl.col("changed")) > 0)
        ).get_column(PULL_ID)
        if with_rows.to_list() != [pull_id]:
            return None
        snapshot = self._scan(self._table(entity.name, "current"))
        if snapshot is not None and (
            snapshot.filter(pl.col(s.SOURCE) == source).select(pl.len()).collect().item()
        ):
            return None
        return adds

    def _adopt(self, entity: _Entity, adds: list[dict]) -> bool:
        """Make the log's data files of one pull the source's snapshot without rewriting them:
        hard links (data files are immutable) committed to the snapshot table. False when that
        cannot be done here (no hard links, or the tables' schemas differ): then the caller
        writes the rows."""
        log_path = self._table(entity.name, "log")
        current_path = self._table(entity.name, "current")
        try:
            schema = DeltaTable(str(log_path)).schema()
            exists = (current_path / "_delta_log").is_dir()
            if exists and DeltaTable(str(current_path)).schema().to_json() != schema.to_json():
                return False
            actions = []
            for add in adds:
                # Commit files hold paths URL-encoded; the file system has them decoded.
                relative = unquote(add["path"])
                target = current_path / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    os.link(log_path / relative, target)
                actions.append(
                    AddAction(
                        add["path"],
                        int(add["size"]),
                        add.get("partitionValues") or {},
                        int(add["modificationTime"]),
                        True,
                        add.get("stats") or "",
                    )
                )
        except (OSError, DeltaError, KeyError, ValueError):
            return False
        try:
            if exists:
                DeltaTable(str(current_path)).create_write_transaction(
                    actions, mode="append", schema=schema, partition_by=[s.SOURCE]
                )
            else:
                create_table_with_add_actions(
                    str(current_path), schema, actions, mode="error", partition_by=[s.SOURCE]
                )
        except (DeltaError, OSError) as exc:
            raise StoreError(f"cannot write the store table {current_path}: {exc}") from None
        return True

    def _since_snapshot(
        self, entity: _Entity, source: str, pulls: pl.DataFrame
    ) -> pl.DataFrame | None:
        """The committed pulls that wrote rows for `source` after its snapshot (none: the
        snapshot is fresh); None when there is no snapshot of the source to build on, or it
        holds rows hashed under another scheme (compaction rehashes them)."""
        snapshot = self._scan(self._table(entity.name, "current"))
        if snapshot is None:
            return None
        mark, stale = (
            snapshot.filter(pl.col(s.SOURCE) == source)
            .select(pl.col(PULL_ID).max(), (pl.col(HASH_SCHEME) != entity.hash_scheme).any())
            .collect(engine="streaming")
            .row(0)
        )
        if mark is None or stale:
            return None
        return pulls.filter(
            (pl.col(s.SOURCE) == source)
            & ((pl.col("new") + pl.col("changed")) > 0)
            & (pl.col(PULL_ID) > mark)
        )

    def _added_since(self, entity: _Entity, source: str, since: pl.DataFrame) -> list[dict] | None:
        """The log files of the pulls `since` the source's snapshot, when those pulls only
        added keys the store did not have and each file holds one pull's rows of this kind:
        the snapshot and those files together are then the source's current state, so they
        join the snapshot as they are. (Pulling a back-fill or a benchmark world in rounds,
        a rewrite per round made the snapshot a second copy of the log: at 50M orders 13 GB
        more, and most of the set-up's time.) None when that does not hold."""
        if since.get_column("changed").sum() or not _PLAIN_PARTITION_VALUE.fullmatch(source):
            return None
        log_path = self._table(entity.name, "log")
        taken = self._table_files(log_path)
        if taken is None:
            return None
        log, files = taken
        first, last = f"min.{PULL_ID}", f"max.{PULL_ID}"
        nulls, partition = f"null_count.{PULL_ID}", f"partition.{s.SOURCE}"
        if not {first, last, nulls, partition} <= set(files.columns):
            return None
        ids = since.get_column(PULL_ID)
        mine = files.filter(
            (pl.col(partition).cast(pl.String) == source)
            & (pl.col(first) == pl.col(last))
            & (pl.col(nulls) == 0)
            & pl.col(first).is_in(ids.implode())
        )
        # `new` counts a pull's rows of every kind: a pull that also wrote rows of the other
        # kind, or whose rows were merged into a file with another pull's, does not add up.
        if mine.get_column("num_records").sum() != since.get_column("new").sum():
            return None
        stale = (
            log.filter(
                (pl.col(s.SOURCE) == source)
                & pl.col(PULL_ID).is_between(pl.lit(ids.min()), pl.lit(ids.max()))
                & pl.col(PULL_ID).is_in(ids.implode())
            )
            .select((pl.col(HASH_SCHEME) != entity.hash_scheme).any())
            .collect(engine="streaming")
            .item()
        )
        if stale:
            return None
        return [
            {
                "path": path,
                "size": size,
                "partitionValues": {s.SOURCE: source},
                "modificationTime": modified,
                "stats": _file_stats(records, (pull_id, pull_id)),
            }
            for path, size, modified, records, pull_id in mine.select(
                "path",
                "size_bytes",
                "modification_time",
                "num_records",
                first,
            ).iter_rows()
        ]

    def _delete_orphans(self, path: Path, log: pl.LazyFrame, committed: pl.Series) -> None:
        seen = log.select(pl.col(PULL_ID).unique()).collect(engine="streaming").to_series()
        orphans = seen.filter(~seen.is_in(committed.implode())).to_list()
        if not orphans:
            return
        try:
            DeltaTable(str(path)).delete(
                f"{PULL_ID} IN ({', '.join(_sql_text(o) for o in orphans)})"
            )
        except (DeltaError, OSError) as exc:
            raise StoreError(f"cannot clean the store table {path}: {exc}") from None

    def _tidy(self, path: Path) -> None:
        if not (path / "_delta_log").is_dir():
            return
        try:
            table = DeltaTable(str(path))
            # Its own defaults are zstd and ~1M-row groups: the readers' memory is sized by ours.
            table.optimize.compact(writer_properties=_WRITER)
            table = DeltaTable(str(path))
            table.vacuum(
                retention_hours=_VACUUM_RETENTION_HOURS,
                dry_run=False,
                enforce_retention_duration=False,
                full=True,
            )
            table.create_checkpoint()
            table.cleanup_metadata()
        except (DeltaError, OSError) as exc:
            raise StoreError(f"cannot compact the store table {path}: {exc}") from None

    # --- findings -------------------------------------------------------------------------

    def findings(self) -> pl.LazyFrame:
        """The findings saved by the last reconcile run, with their lifecycle state."""
        self._check_format()
        scan = self._scan(self._table("findings"))
        if scan is None:
            return s.empty_frame(s.FINDINGS_SCHEMA).lazy()
        return _from_storage(scan, s.FINDINGS_SCHEMA)

    def save_run(self, result: ReconcileResult) -> None:
        """Replace the findings with `result.findings` and append the run's summary row."""
        findings = s.conform(result.findings, s.FINDINGS_SCHEMA)
        open_ = findings.filter(pl.col(s.STATE) == "open")
        by_severity = dict(
            open_.group_by(s.SEVERITY)
            .len()
            .select(pl.col(s.SEVERITY).cast(pl.String), "len")
            .iter_rows()
        )
        by_rule = dict(open_.group_by(s.RULE).len().sort(s.RULE).iter_rows())
        row = {
            "run_id": result.run_id,
            "started_at": _utc(result.started_at),
            "finished_at": datetime.now(UTC),
            "as_of": _utc(result.as_of),
            "findings": findings.height,
            "new": result.new,
            "still_open": result.still_open,
            "resolved": result.resolved,
            **{f"open_{sev}": int(by_severity.get(sev, 0)) for sev in s.SEVERITIES},
            "money_at_risk": result.money_at_risk,
            "by_rule": json.dumps(by_rule, ensure_ascii=False, sort_keys=True),
            "not_checked": json.dumps(
                [n.to_dict() for n in result.not_checked], ensure_ascii=False
            ),
            "basis": result.basis,
        }
        with self.writing():
            self._replace_findings(findings)
            # Last, so a run row means its findings were saved.
            run = pl.DataFrame([row], schema=RUNS_SCHEMA)
            if self._commit_file(self._table("runs"), run, mode="append") is None:
                self._append(self._table("runs"), run)

    def _replace_findings(self, findings: pl.DataFrame) -> None:
        path = self._table("findings")
        stored = _to_storage(findings, s.FINDINGS_SCHEMA)
        if self._commit_file(path, stored, mode="overwrite") is not None:
            return
        if (path / "_delta_log").is_dir():
            self._overwrite(path, stored)
        else:
            self._append(path, stored)

    def runs(self) -> pl.DataFrame:
        """One row per reconcile run, oldest first."""
        self._check_format()
        scan = self._scan(self._table("runs"))
        if scan is None:
            return s.empty_frame(RUNS_SCHEMA)
        return s.conform(scan.collect(), RUNS_SCHEMA).sort("started_at", "finished_at")

    def acknowledge(self, finding_id: str, note: str, at: datetime) -> None:
        """Mark one finding as known, with a note. UsageError if the id is unknown or resolved."""
        with self.writing():
            findings = self.findings().collect()
            match = findings.filter(pl.col(s.FINDING_ID) == finding_id)
            if match.is_empty():
                raise UsageError(
                    f"no finding with id {finding_id!r} in the store {self.path}; "
                    "list them with `ordersync findings`"
                )
            if match.item(0, s.STATE) == "resolved":
                raise UsageError(
                    f"finding {finding_id!r} is already resolved; only open findings can be acknowledged"
                )
            hit = pl.col(s.FINDING_ID) == finding_id
            updated = findings.with_columns(
                pl.when(hit)
                .then(pl.lit("acknowledged"))
                .otherwise(pl.col(s.STATE).cast(pl.String))
                .cast(s.StateDtype)
                .alias(s.STATE),
                pl.when(hit).then(pl.lit(note)).otherwise(pl.col(s.ACK_NOTE)).alias(s.ACK_NOTE),
                pl.when(hit)
                .then(pl.lit(_utc(at)).cast(s.Timestamp))
                .otherwise(pl.col(s.ACKED_AT))
                .alias(s.ACKED_AT),
            )
            self._replace_findings(updated)
