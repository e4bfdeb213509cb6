"""Splitting a large evaluation into order-id buckets, so memory stays bounded by the bucket.

Every rule but one judges an order from that order's own rows (its rows in every source,
their history, the courier records of their tracking numbers). The exception is
tracking_reused, which compares orders that share a tracking number. So the orders are
split by a hash of the order id, except that every order sharing a tracking number with
another goes to one extra bucket of its own: all the orders a shared number links sit in that
bucket together, and it is small (merged shipments and reused numbers are rare).

One streaming pass (several, past MAX_OPEN_PARTITIONS buckets) writes each bucket's order
rows, history and tracking to its own parquet files in a scratch directory; the buckets are
then judged one at a time, each as a complete little world, with the facts about the whole
store (which sources exist, their coverage, which carriers are covered) taken once from every
row (view.survey). The hash only has to be stable within the run: the files are deleted when
it ends.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import polars as pl

from ordersync import schema as s
from ordersync.engine.view import (
    cut_history,
    narrow_history,
    prepare_tracking,
    read_rows,
    tracking_numbers,
)
from ordersync.errors import WRITE_ERRORS, StoreError, size_text, write_failure

# Order rows (all sources together) judged in one piece at most. Measured: 1M orders (3M rows)
# judged whole peak at 3.5 GB; in pieces of this size 2.1 GB at 1M orders and 3.6 GB at 10M,
# where the split pass, not a piece, sets the peak.
ROWS_PER_BUCKET = 1_500_000
# ...and at least, once a store is split: smaller pieces are judged faster, until the fixed
# cost of a piece (every rule's plans) takes over. Measured on a 10M-order store (30M rows),
# the judging, at the same 3.2 GB peak: pieces of 300k rows 102 s, 500k 96-101 s, 750k 88 s,
# 1M 85-86 s, 1.5M 95-123 s (95 s run between the 1M runs; the machine's speed drifted). An
# extra split pass costs more than smaller pieces save (~15 s at 10M), so pieces grow from
# this size towards ROWS_PER_BUCKET while that keeps the split to one pass.
MIN_ROWS_PER_BUCKET = 1_000_000

_BUCKET = "_bucket"
_ORDER_HASH = "_order_hash"
_NUMBER_HASH = "_number_hash"


def bucket_count(rows: int, rows_per_bucket: int | None = None) -> int:
    """Hash buckets for `rows` order rows (the shared-number bucket comes on top), of
    `rows_per_bucket` rows if given. Otherwise up to ROWS_PER_BUCKET rows are judged whole;
    more in pieces of MIN_ROWS_PER_BUCKET, or as few as one split pass writes, or, past
    that, of ROWS_PER_BUCKET."""
    if rows_per_bucket is None:
        if rows <= ROWS_PER_BUCKET:
            return 1
        one_pass = math.ceil(rows / (MAX_OPEN_PARTITIONS - 1))
        rows_per_bucket = min(ROWS_PER_BUCKET, max(MIN_ROWS_PER_BUCKET, one_pass))
    return max(1, math.ceil(rows / max(1, rows_per_bucket)))


@dataclass(frozen=True)
class Bucket:
    orders: pl.LazyFrame
    history: pl.LazyFrame
    tracking: pl.LazyFrame


@dataclass(frozen=True)
class Buckets:
    root: Path
    count: int  # hash buckets; bucket `count` holds the orders that share tracking numbers
    schemas: dict[str, dict[str, pl.DataType]]

    def __iter__(self) -> Iterator[Bucket]:
        for number in range(self.count + 1):
            yield Bucket(
                *(self._scan(table, number) for table in ("orders", "history", "tracking"))
            )

    def _scan(self, table: str, number: int) -> pl.LazyFrame:
        folders = sorted((self.root / table).glob(f"pass-*/{_BUCKET}={number}"))
        if not folders:
            return pl.LazyFrame(schema=self.schemas[table])
        return pl.scan_parquet([f / "*.parquet" for f in folders], hive_partitioning=False)


def _tracking_numbers(rows: pl.LazyFrame) -> pl.LazyFrame:
    """(number hash, order hash), once per pair: the links view.links() builds, hashed."""
    return (
        tracking_numbers(rows, s.ORDER_ID)
        .select(
            pl.col(s.TRACKING_NO).hash().alias(_NUMBER_HASH),
            pl.col(s.ORDER_ID).hash().alias(_ORDER_HASH),
        )
        .unique()
    )


# The partitioned sink holds a row group in memory for every bucket at once, so the rows held
# are the row group times the buckets. Measured on a 10M-order store: 21 buckets of 100k-row
# groups peaked at 3.1 GB, 100 buckets of them at 6.0 GB; 100 buckets of 16k-row groups at 3.1
# GB again, but 21 buckets of those ran ~5% slower than of 100k. So the groups shrink as the
# buckets grow, keeping about this many rows held.
SCRATCH_ROWS_HELD = 2_000_000
SCRATCH_FILE_ROWS = 100_000
# Beyond some number of buckets one sink's memory grows whatever its row groups: the orders of
# a 10M-order store sunk into 201 buckets (as many as 100M orders need) peaked at 10.7 GB with
# 16k-, 10k- or 4k-row groups alike, and the 100M run was killed at 24 GB. Measured on that
# store, the whole split in one sink: 101 buckets peaked at 3.5 GB, 112 at 3.7 GB, 128 at 6.8
# GB. So no sink writes more buckets than this: more are written by several passes over the
# inputs, each keeping the orders of some hash buckets (and writing those that share a number
# to the shared-number bucket). A pass reads and hashes every row but fingerprints and writes
# only its own. Writing every row to groups of buckets first and then splitting each group, as
# before, wrote every row twice: 201 buckets on that store took 102.6 s so, 79.5 s in two
# passes (and 21 buckets ~64 s in one).
MAX_OPEN_PARTITIONS = 112

# Scratch bytes per order row, measured on the benchmark worlds (order rows, history and
# courier records together): 97 at 1M orders, 70 at 10M, 105 at 50M (smaller row groups
# compress less). A store with sparser rows (no addresses, no items) takes less, so the run
# only refuses to start below what no split can take: an order row's id, status and times and
# its history version's id, times and 8-byte fingerprint come to more than this even when
# every other field is empty. Short of room above it, the split fails when the disk fills,
# with the same message.
SCRATCH_BYTES_PER_ROW = (70, 105)
SCRATCH_BYTES_PER_ROW_AT_LEAST = 30


def _pass_ranges(count: int) -> list[tuple[int, int]]:
    """The hash buckets (first, last) of each pass, balanced: 201 buckets are two passes of
    101 and 100. A pass may meet the shared-number bucket too, hence one partition fewer."""
    passes = -(-count // (MAX_OPEN_PARTITIONS - 1))
    per_pass = -(-count // passes)
    return [(first, min(first + per_pass, count) - 1) for first in range(0, count, per_pass)]


def _sink(passes: list[tuple[pl.LazyFrame, int]], folder: Path) -> None:
    """Write each pass's rows (with a bucket column, `partitions` buckets at most) to a
    folder per bucket. Each pass has its own folders: two sinks never write the same one."""
    for index, (rows, partitions) in enumerate(passes):
        _sink_partitions(rows, folder / f"pass-{index}", _BUCKET, partitions)


def _sink_partitions(frame: pl.LazyFrame, folder: Path, key: str, partitions: int) -> None:
    group = max(16_384, min(SCRATCH_FILE_ROWS, SCRATCH_ROWS_HELD // max(1, partitions)))
    frame.sink_parquet(
        pl.PartitionBy(folder, key=key, include_key=False, max_rows_per_file=SCRATCH_FILE_ROWS),
        mkdir=True,
        compression="lz4",
        statistics=False,
        row_group_size=group,
    )


@contextmanager
def split(
    orders: pl.LazyFrame,
    tracking: pl.LazyFrame,
    history: pl.LazyFrame,
    *,
    as_of: datetime,
    count: int,
    scope_ids: pl.LazyFrame | None = None,
    expected_rows: int = 0,
) -> Iterator[Buckets]:
    """Write the inputs, split into `count` hash buckets plus the shared-number bucket, to a
    scratch directory that lives as long as the context. Order ids are normalised first
    (prepare_orders), so the rows of one order always meet in one bucket; history is cut at
    `as_of` and carries only the columns the rules read. `expected_rows`: the order rows
    expected, for the check that the scratch disk has room."""
    low, high = (size_text(expected_rows * per_row) for per_row in SCRATCH_BYTES_PER_ROW)
    need = f" (a split of {expected_rows:,} order rows takes {low} to {high})"

    def unwritable(reason: object) -> StoreError:
        return StoreError(
            f"cannot write the reconcile's scratch files under {tempfile.gettempdir()}: "
            f"{reason}; point TMPDIR at a disk with room{need if expected_rows else ''}"
        )

    try:
        scratch = TemporaryDirectory(prefix="ordersync-buckets-")
    except OSError as exc:
        raise unwritable(exc) from None
    with scratch as name:
        root = Path(name)
        free = shutil.disk_usage(root).free
        if free < expected_rows * SCRATCH_BYTES_PER_ROW_AT_LEAST:
            raise unwritable(f"the disk has {size_text(free)} free")
        try:
            schemas = _write_buckets(
                root, orders, tracking, history, as_of=as_of, count=count, scope_ids=scope_ids
            )
        except WRITE_ERRORS as exc:
            reason = write_failure(exc, root)
            if reason is None:
                raise
            raise unwritable(reason) from None
        yield Buckets(root, count, schemas)


def _write_buckets(
    root: Path,
    orders: pl.LazyFrame,
    tracking: pl.LazyFrame,
    history: pl.LazyFrame,
    *,
    as_of: datetime,
    count: int,
    scope_ids: pl.LazyFrame | None,
) -> dict[str, dict[str, pl.DataType]]:
    """split's work: each bucket's order rows, history and courier records written under
    `root`; returns the three tables' schemas (for buckets that got no rows)."""
    rows = read_rows(orders)
    hist = cut_history(history, as_of)
    if scope_ids is not None:
        rows = rows.join(scope_ids, on=s.ORDER_ID, how="semi")
        hist = hist.join(scope_ids, on=s.ORDER_ID, how="semi")
    links = _tracking_numbers(rows).collect(engine="streaming")
    sharing = (
        links.filter(pl.col(_NUMBER_HASH).is_duplicated())
        .select(_ORDER_HASH, pl.lit(True).alias("_shares"))
        .unique(_ORDER_HASH)
    )

    def with_bucket(frame: pl.LazyFrame, order_hash: pl.Expr) -> pl.LazyFrame:
        """Add the bucket of each row's order. A join, not `is_in`: measured at 10M orders,
        an is_in over a literal set made the partitioned sink hold ~12 GB instead of ~3 GB."""
        frame = frame.with_columns(order_hash.alias(_ORDER_HASH))
        bucket = (pl.col(_ORDER_HASH) % count).cast(pl.UInt32)
        if not sharing.is_empty():
            frame = frame.join(sharing.lazy(), on=_ORDER_HASH, how="left")
            bucket = pl.when(pl.col("_shares")).then(pl.lit(count, pl.UInt32)).otherwise(bucket)
        return frame.with_columns(bucket.alias(_BUCKET)).drop(_ORDER_HASH, "_shares", strict=False)

    def bucketed(frame: pl.LazyFrame) -> pl.LazyFrame:
        return with_bucket(frame, pl.col(s.ORDER_ID).hash())

    # A number belongs to the bucket of its orders (all of them, when shared, in the last).
    number_buckets = (
        with_bucket(links.lazy(), pl.col(_ORDER_HASH))
        .select(_NUMBER_HASH, _BUCKET)
        .unique(_NUMBER_HASH)
    )
    courier = prepare_tracking(tracking)
    courier_names = courier.collect_schema().names()
    numbered = courier.with_columns(pl.col(s.TRACKING_NO).hash().alias(_NUMBER_HASH))

    # Most stores split in one pass; past MAX_OPEN_PARTITIONS buckets, each pass keeps the
    # orders whose hash falls in its range, before anything costly is computed for them.
    ranges = _pass_ranges(count)

    def mine(frame: pl.LazyFrame, first: int, last: int) -> pl.LazyFrame:
        if len(ranges) == 1:
            return frame
        return frame.filter((pl.col(s.ORDER_ID).hash() % count).is_between(first, last))

    def couriers(first: int, last: int) -> pl.LazyFrame:
        """A pass's courier records; the shared-number bucket's go with the last pass."""
        numbers = number_buckets
        if len(ranges) > 1:
            kept = pl.col(_BUCKET).is_between(first, last)
            if last == count - 1:
                kept |= pl.col(_BUCKET) == count
            numbers = numbers.filter(kept)
        return numbered.join(numbers, on=_NUMBER_HASH, how="inner").select(*courier_names, _BUCKET)

    def size(first: int, last: int) -> int:
        return last - first + 2  # and the shared-number bucket

    _sink([(bucketed(mine(rows, *r)), size(*r)) for r in ranges], root / "orders")
    _sink(
        [(bucketed(narrow_history(mine(hist, *r))), size(*r)) for r in ranges],
        root / "history",
    )
    _sink([(couriers(*r), size(*r)) for r in ranges], root / "tracking")
    return {
        "orders": dict(rows.collect_schema()),
        "history": dict(narrow_history(hist).collect_schema()),
        "tracking": dict(courier.collect_schema()),
    }
