"""The per-order view: what every source says about each order, as lazy building blocks.

Nothing here builds one wide frame of every source side by side. MEASURED.md shows that joining
only the key and the compared columns, and fetching the wide columns for the rows that fire, is
several times faster and leaner; so a rule asks the view for small projections (`channel`,
`oms`, `warehouse`, `links`, `tracking_for`), joins them on the order id with `join_ids`, and the
evidence for its hits is built afterwards from `rows` for those order ids only
(engine/evidence.py).

Row grain (the store's key is (source, order_id, shipment_id)):

- `channel` / `oms`: one row per (source, order_id);
- `warehouse`: one row per (source, order_id, shipment_id): split parcels are several rows,
  a merged parcel is one row per order with `merged_with`;
- `links`: one row per (source, order_id, shipment_id, tracking_no): a row may carry several
  tracking numbers and one tracking number may sit on several orders;
- `courier_records()`: one row per tracking number, carrier sources folded; `tracking_for(numbers)`
  the same for the numbers asked about.

Orders present in one source only stay in every projection (they are findings), and nothing
is deduplicated across sources: a many-to-many link (a merged parcel, a shared tracking
number) is a row per pair, which the rules aggregate per order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from ordersync import schema as s
from ordersync.config import Config
from ordersync.profiles import (
    CHANNEL_END,
    CHANNEL_START,
    END,
    ODD_IDS,
    ODD_NUMBERS,
    ROWS,
    START,
    carrier_profile,
    order_profile,
)
from ordersync.schema import normalise_order_id

# Private columns the view adds; a leading underscore keeps them apart from the contract.
SHIPPED = "_shipped"
PULLED_AT = "pulled_at"
VERSION_AT = "_version_at"  # a history version dated by the source's updated_at, else the pull

# Bookkeeping columns of the store that no rule or evidence reads.
UNREAD = (s.SOURCE_FILE, s.SOURCE_ROW, PULLED_AT)
# A history row carries one fingerprint of the fields frequent_changes watches (s.WATCHED)
# instead of the fields: with the items lists and addresses, the history was as wide as the
# orders, and writing it to the bucket files took longer than the rows' own (measured at 1M
# orders: 2.4 s against 1.0 s). The store's (s.CHANGE_FP) when it has one, else computed.
CHANGE_FINGERPRINT = "_change_fp"
# The columns of the history the rules read (risk, status, timing); nothing else is carried.
HISTORY_COLUMNS = (
    s.SOURCE,
    s.SOURCE_KIND,
    s.ORDER_ID,
    s.SHIPMENT_ID,
    s.STATUS,
    s.UPDATED_AT,
    PULLED_AT,
    CHANGE_FINGERPRINT,
)


def is_shipped() -> pl.Expr:
    """A source says shipped: status shipped/delivered, or a shipped_at is set."""
    return (
        pl.col(s.STATUS).is_in(s.SHIPPED_STATUSES).fill_null(False)
        | pl.col(s.SHIPPED_AT).is_not_null()
    )


def tracking_numbers(rows: pl.LazyFrame, *keep: str | pl.Expr) -> pl.LazyFrame:
    """One row per tracking number an order row carries, with the `keep` columns alongside:
    numbers stripped, blank ones dropped."""
    return (
        rows.select(*keep, s.TRACKING_NO)
        .explode(s.TRACKING_NO, empty_as_null=False, keep_nulls=False)
        .with_columns(pl.col(s.TRACKING_NO).str.strip_chars())
        .filter(pl.col(s.TRACKING_NO).is_not_null() & (pl.col(s.TRACKING_NO) != ""))
    )


def is_live() -> pl.Expr:
    return pl.col(s.STATUS).is_in(s.LIVE_STATUSES).fill_null(False)


def is_dead() -> pl.Expr:
    return pl.col(s.STATUS).is_in(s.DEAD_STATUSES).fill_null(False)


def is_merged() -> pl.Expr:
    """A warehouse row of a parcel that holds several orders (merged_with lists them)."""
    return (pl.col(s.MERGED_WITH).list.len() >= 2).fill_null(False)


def merged_group() -> pl.Expr:
    """One key per merged parcel, whichever of its rows it is read from: its order ids,
    sorted and joined."""
    return pl.col(s.MERGED_WITH).list.sort().list.join(",")


def join_ids(
    left: pl.LazyFrame,
    right: pl.LazyFrame,
    how: str = "inner",
    on: list[str] | None = None,
    suffix: str = "_r",
) -> pl.LazyFrame:
    """Join two per-order projections on the order id (plus `on`).

    Every rule joins through here, so the key strategy can change in one place (MEASURED.md:
    a u64 hash of the id, string equality verified after, is ~2x faster at 10M rows).
    """
    keys = [s.ORDER_ID, *(on or [])]
    return left.join(right, on=keys, how=how, suffix=suffix, nulls_equal=False)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SourceInfo:
    name: str
    kind: str
    rows: int
    start: datetime | None  # earliest dated row
    end: datetime | None  # latest dated row


@dataclass
class View:
    """Lazy building blocks for one evaluation; see the module docstring for their grain."""

    config: Config
    as_of: datetime
    # every row of the orders in scope, every source, normalised; settled in memory once per
    # evaluation, without the bookkeeping columns (source_file, source_row, pulled_at)
    rows: pl.LazyFrame
    # versions of the orders in scope pulled no later than as_of, in the columns the rules
    # read (HISTORY_COLUMNS); settled in memory once per evaluation too
    history: pl.LazyFrame
    raw_tracking: pl.LazyFrame  # carrier rows, conformed; fold with `tracking_for`
    sources: dict[str, SourceInfo] = field(default_factory=dict)
    covered_carriers: frozenset[str] = frozenset()
    # per channel source: (channel, coverage start, coverage end)
    channel_coverage: pl.DataFrame = field(default_factory=pl.DataFrame)
    # Results several rules share (item verdicts, links), settled once per evaluation.
    cache: dict[str, object] = field(default_factory=dict)

    # --- sources ------------------------------------------------------------------------

    def source_names(self, kind: str) -> list[str]:
        return sorted(n for n, info in self.sources.items() if info.kind == kind)

    def has_kind(self, kind: str) -> bool:
        return bool(self.source_names(kind))

    # --- projections --------------------------------------------------------------------

    def of_kind(self, kind: str, *columns: str | pl.Expr) -> pl.LazyFrame:
        frame = self.rows.filter(pl.col(s.SOURCE_KIND) == kind)
        return frame.select(columns) if columns else frame

    def channel(self, *columns: str | pl.Expr) -> pl.LazyFrame:
        return self.of_kind("channel", *columns)

    def oms(self, *columns: str | pl.Expr) -> pl.LazyFrame:
        return self.of_kind("oms", *columns)

    def warehouse(self, *columns: str | pl.Expr) -> pl.LazyFrame:
        return self.of_kind("warehouse", *columns)

    def links(self) -> pl.LazyFrame:
        """(source, source_kind, order_id, shipment_id, tracking_no, carrier, shipped,
        shipped_at, status): one row per tracking number a row carries.

        Settled once per evaluation: three rules read it, several times each."""
        if "links" not in self.cache:
            self.cache["links"] = self._links().collect()
        links = self.cache["links"]
        assert isinstance(links, pl.DataFrame)
        return links.lazy()

    def _links(self) -> pl.LazyFrame:
        keep = (
            s.SOURCE,
            s.SOURCE_KIND,
            s.ORDER_ID,
            s.SHIPMENT_ID,
            s.CARRIER,
            s.STATUS,
            s.SHIPPED_AT,
            is_shipped().alias(SHIPPED),
        )
        # A number listed twice on one row is one link; the other columns follow the row. Only
        # rows listing two or more numbers (few) can repeat one, so only those pay for the
        # de-duplication (over every row it cost twice the unpacking).
        count = pl.col(s.TRACKING_NO).list.len().fill_null(0)
        return pl.concat(
            [
                tracking_numbers(self.rows.filter(count <= 1), *keep),
                tracking_numbers(self.rows.filter(count >= 2), *keep).unique(
                    [s.SOURCE, s.ORDER_ID, s.SHIPMENT_ID, s.TRACKING_NO], keep="first"
                ),
            ]
        )

    def courier_records(self) -> pl.LazyFrame:
        """One courier record per tracking number, carrier sources folded. Folded once per
        evaluation (narrow) and shared by the rules and the evidence that ask; a rule that
        left-joins its numbers to it needs no `tracking_for` filter first."""
        if "tracking" not in self.cache:
            self.cache["tracking"] = fold_tracking(self.raw_tracking).collect()
        folded = self.cache["tracking"]
        assert isinstance(folded, pl.DataFrame)
        return folded.lazy()

    def tracking_for(self, numbers: pl.LazyFrame) -> pl.LazyFrame:
        """The courier record of each tracking number in `numbers` (a tracking_no column)."""
        # No unique(): a semi-join reads its right side as a set (here and in every rule).
        return self.courier_records().join(
            numbers.select(s.TRACKING_NO), on=s.TRACKING_NO, how="semi"
        )

    def ship_sla(self) -> pl.Expr:
        """Per-channel ship_sla as a Duration expression on the `channel` column."""
        sla = self.config.rules.ship_sla
        expr = pl.lit(sla.default)
        for channel, duration in sorted(sla.overrides().items()):
            expr = pl.when(pl.col(s.CHANNEL) == channel).then(pl.lit(duration)).otherwise(expr)
        return expr

    def before(self, duration: timedelta) -> datetime:
        """as_of minus a threshold: timestamps at or before it have waited long enough."""
        return self.as_of - duration


def conform_with(
    frame: pl.LazyFrame, schema: dict[str, pl.DataType], extra: list[pl.Expr]
) -> pl.LazyFrame:
    """schema.conform plus a few bookkeeping columns kept alongside."""
    present = set(frame.collect_schema().names())
    return frame.select(
        *[
            (pl.col(name) if name in present else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ],
        *extra,
    )


def _conform_keep(frame: pl.LazyFrame, extra: list[pl.Expr]) -> pl.LazyFrame:
    conformed = conform_with(frame, s.ORDERS_SCHEMA, extra)
    return conformed.with_columns(
        normalise_order_id(pl.col(s.ORDER_ID)).alias(s.ORDER_ID),
        pl.col(s.SHIPMENT_ID).fill_null(""),
    ).filter(pl.col(s.ORDER_ID).is_not_null() & (pl.col(s.ORDER_ID) != ""))


def prepare_orders(orders: pl.LazyFrame) -> pl.LazyFrame:
    """ORDERS_SCHEMA columns (plus pulled_at and the stored change fingerprint when present),
    ids normalised, order sources only."""
    names = orders.collect_schema().names()
    extra = [pl.col(PULLED_AT).cast(s.Timestamp)] if PULLED_AT in names else []
    if s.CHANGE_FP in names:
        extra.append(pl.col(s.CHANGE_FP).cast(pl.Int64))
    return _conform_keep(orders, extra).filter(
        pl.col(s.SOURCE_KIND).is_in(s.ORDER_SOURCE_KINDS).fill_null(False)
    )


def read_rows(orders: pl.LazyFrame) -> pl.LazyFrame:
    """prepare_orders without the bookkeeping columns no rule reads."""
    rows = prepare_orders(orders)
    return rows.select([c for c in rows.collect_schema().names() if c not in UNREAD])


def read_history(history: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """The versions pulled no later than as_of, in the columns the rules read, the watched
    fields as their fingerprint (a per-run hash: a reordered but equal items list is equal)."""
    if CHANGE_FINGERPRINT in history.collect_schema().names():
        # Read once already (a bucket's files): cut, normalised, and the fields are gone.
        return narrow_history(history)
    return narrow_history(cut_history(history, as_of))


def cut_history(history: pl.LazyFrame, as_of: datetime) -> pl.LazyFrame:
    """The versions pulled no later than as_of, ids normalised, every column still there."""
    hist = prepare_orders(history)
    if PULLED_AT in hist.collect_schema().names():
        hist = hist.filter(pl.col(PULLED_AT) <= as_of)
    return hist


def narrow_history(hist: pl.LazyFrame) -> pl.LazyFrame:
    """A cut history in the columns the rules read, the watched fields replaced by their
    fingerprint: the store's when it gives one (the store gives it only when every version's
    is comparable), else computed, which decodes them (most of a history read)."""
    names = hist.collect_schema().names()
    if CHANGE_FINGERPRINT not in names:
        stored = s.CHANGE_FP in names
        fingerprint = pl.col(s.CHANGE_FP) if stored else s.change_fingerprint()
        hist = hist.with_columns(fingerprint.alias(CHANGE_FINGERPRINT))
        names = hist.collect_schema().names()
    return hist.select([c for c in HISTORY_COLUMNS if c in names])


def prepare_tracking(tracking: pl.LazyFrame) -> pl.LazyFrame:
    """TRACKING_SCHEMA columns, tracking numbers stripped, blank numbers dropped."""
    return (
        s.conform(tracking, s.TRACKING_SCHEMA)
        .with_columns(pl.col(s.TRACKING_NO).str.strip_chars())
        .filter(pl.col(s.TRACKING_NO).is_not_null() & (pl.col(s.TRACKING_NO) != ""))
    )


def fold_tracking(tracking: pl.LazyFrame) -> pl.LazyFrame:
    """One row per tracking number. Several carrier sources may know the same number: the
    latest event wins the status, the earliest scan and delivery are kept."""
    rank = {status: i for i, status in enumerate(s.TRACKING_STATUSES)}
    latest = [pl.col(s.LAST_EVENT_AT), pl.col("_rank"), pl.col(s.SOURCE)]
    # Most numbers are known to one carrier source: their row is already the fold (a sort per
    # group over millions of one-row groups is slow), so only the shared numbers are grouped.
    shared = pl.col(s.TRACKING_NO).is_duplicated()
    singles = tracking.filter(~shared).select(
        s.TRACKING_NO,
        pl.col(s.SOURCE).alias("tracking_source"),
        s.CARRIER,
        s.TRACKING_STATUS,
        s.FIRST_SCAN_AT,
        s.LAST_EVENT_AT,
        s.DELIVERED_AT,
        s.EVENT_COUNT,
    )
    folded = (
        tracking.filter(shared)
        .with_columns(
            pl.col(s.TRACKING_STATUS)
            .cast(pl.String)
            .replace_strict(rank, default=-1, return_dtype=pl.Int8)
            .alias("_rank")
        )
        .group_by(s.TRACKING_NO)
        .agg(
            # One name, not a list: list aggregations over millions of groups are slow, and
            # the finding only needs to name a carrier source.
            pl.col(s.SOURCE).min().alias("tracking_source"),
            pl.col(s.CARRIER).min(),
            pl.col(s.TRACKING_STATUS).sort_by(latest, nulls_last=False).last(),
            pl.col(s.FIRST_SCAN_AT).min(),
            pl.col(s.LAST_EVENT_AT).max(),
            pl.col(s.DELIVERED_AT).min(),
            pl.col(s.EVENT_COUNT).max(),
        )
    )
    return pl.concat([singles, folded])


@dataclass(frozen=True)
class Survey:
    """The few facts about the whole store the rules branch on: which sources exist and the
    period each covers, and which carriers the carrier data vouches for. Taken from every row,
    so an evaluation split into pieces (engine.buckets) judges each piece by the same facts."""

    sources: dict[str, SourceInfo]
    covered_carriers: frozenset[str]
    channel_coverage: pl.DataFrame
    # every order id is stored in normal form, so an id filter needs no lookup of spellings
    ids_normal: bool = False
    # every carrier row's tracking number is stored stripped, so a lookup need not strip it
    numbers_normal: bool = False

    def to_dict(self) -> dict[str, object]:
        """The parts verdicts depend on, as JSON-ready values (for comparing two runs)."""

        def moment(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "sources": {
                name: [info.kind, moment(info.start)] for name, info in sorted(self.sources.items())
            },
            "covered_carriers": sorted(self.covered_carriers),
            "channel_coverage": [
                [row[s.SOURCE], row[s.CHANNEL], moment(row["cov_start"]), moment(row["cov_end"])]
                for row in self.channel_coverage.iter_rows(named=True)
            ],
        }


def survey(config: Config, orders: pl.LazyFrame, tracking: pl.LazyFrame) -> Survey:
    """The survey of every row of `orders` and `tracking` as stored (ids as they are spelled
    there: the survey says whether any is out of normal form). Where the store kept each
    source's profile, `from_profiles` is the same without reading the rows."""
    orders_profile, carriers_profile = pl.collect_all(
        [
            order_profile(s.conform(orders, s.ORDERS_SCHEMA)),
            carrier_profile(s.conform(tracking, s.TRACKING_SCHEMA)),
        ],
        engine="streaming",
    )
    return from_profiles(config, orders_profile, carriers_profile)


def from_profiles(config: Config, orders: pl.DataFrame, carriers: pl.DataFrame) -> Survey:
    """The survey of a store whose sources' profiles (ordersync.profiles) are known."""
    sources: dict[str, SourceInfo] = {}
    for row in (
        orders.group_by(s.SOURCE, s.SOURCE_KIND)
        .agg(pl.col(ROWS).sum(), pl.col(START).min(), pl.col(END).max())
        .sort(s.SOURCE)
        .iter_rows(named=True)
    ):
        sources[row[s.SOURCE]] = SourceInfo(
            row[s.SOURCE], str(row[s.SOURCE_KIND]), row[ROWS], row[START], row[END]
        )
    coverage = (
        orders.filter(pl.col(s.SOURCE_KIND) == "channel")
        .group_by(s.SOURCE)
        .agg(
            # One channel per source: the first by name (any pick would do, but a stable one
            # keeps the survey comparable between runs).
            pl.col(s.CHANNEL).drop_nulls().sort().first(),
            pl.col(CHANNEL_START).min().alias("cov_start"),
            pl.col(CHANNEL_END).max().alias("cov_end"),
        )
        .sort(s.SOURCE)
    )

    # Only carrier sources that delivered data vouch for anything: a configured source that has
    # not been pulled yet must not make every tracking number look unknown.
    configured = {src.name: src.covers.carriers for src in config.sources if src.kind == "carrier"}
    covered: set[str] = set()
    for name in carriers.get_column(s.SOURCE).unique().drop_nulls().to_list():
        declared = configured.get(name)
        if declared is not None:
            covered.update(declared)
        else:
            covered.update(
                carriers.filter((pl.col(s.SOURCE) == name) & pl.col(s.CARRIER).is_not_null())
                .get_column(s.CARRIER)
                .to_list()
            )
    return Survey(
        sources,
        frozenset(covered),
        coverage,
        ids_normal=_none_odd(orders.get_column(ODD_IDS)),
        numbers_normal=_none_odd(carriers.get_column(ODD_NUMBERS)),
    )


def _none_odd(counts: pl.Series) -> bool:
    """A profile's count of rows out of normal form is 0 for every part (null: not counted,
    by an ordersync that did not keep it)."""
    return counts.null_count() == 0 and not counts.sum()


def order_ids_in(stored: pl.Series) -> pl.Expr:
    """A filter for the rows of the orders whose stored id is one of `stored`
    (`stored_order_ids`), written so that the parquet reader skips the row groups without
    any (`near_stored_ids`, then the exact test)."""
    return near_stored_ids(stored) & pl.col(s.ORDER_ID).is_in(stored.implode())


def near_order_ids(orders: pl.LazyFrame, ids: pl.Series, *, ids_normal: bool) -> pl.Expr:
    """A filter keeping at least the rows of the orders whose id, normalised, is one of `ids`:
    ranges of their ids, without the exact test, for readers that select the exact rows
    afterwards with a join (with an `is_in` over the ~0.7M ids of a week on a 10M-order store,
    the bucket split's sinks took 364 s instead of 93 s).

    Polars skips a row group by its min/max statistics for a range comparison, not for
    `is_in`, and decodes every column of a row group it reads: reading the 3,000 rows of 1,000
    orders from a 10M-order store took 2.3 s, within ranges 0.15 s. Orders of one period sit
    together in the store (a pull appends them, ids of most platforms grow with time), so the
    ranges leave most row groups out; for ids spread over the whole store they skip nothing
    and cost ~3% more. The ranges hold stored spellings: unless every id is known to be
    stored in normal form (`ids_normal`), those are looked up first (one column read)."""
    return near_stored_ids(stored_order_ids(orders, ids, ids_normal=ids_normal))


def near_stored_ids(stored: pl.Series) -> pl.Expr:
    """near_order_ids for ids already in their stored spellings (`stored_order_ids`)."""
    if stored.is_empty():
        return pl.lit(False)
    return within_ranges(pl.col(s.ORDER_ID), stored)


def stored_order_ids(orders: pl.LazyFrame, ids: pl.Series, *, ids_normal: bool) -> pl.Series:
    """How the orders of the normalised `ids` are spelled in the store (every version of a
    stored row has its key's spelling, so the current rows give the history's too)."""
    if not ids_normal:
        ids = (
            orders.select(pl.col(s.ORDER_ID).cast(pl.String))
            .filter(normalise_order_id(pl.col(s.ORDER_ID)).is_in(ids.implode()))
            .unique()
            .collect(engine="streaming")
            .get_column(s.ORDER_ID)
        )
    return ids.drop_nulls()


def within_ranges(column: pl.Expr, values: pl.Series, max_ranges: int = 4) -> pl.Expr:
    """True between the smallest and largest text of one of up to `max_ranges` groups of
    `values` (so true for each of them). Numeric ids are grouped at their widest gaps, other
    values in equal runs; any grouping is correct, a good one skips more row groups. Few
    ranges: every row of a row group that is read tests each (32 ranges doubled the time of a
    read that skipped nothing)."""
    frame = pl.DataFrame({"value": values.unique()})
    frame = frame.with_columns(pl.col("value").cast(pl.Float64, strict=False).alias("number"))
    if frame.get_column("number").null_count() == 0:
        gaps = pl.col("number").diff().fill_null(0.0)
        frame = frame.sort("number").with_columns(
            (gaps.rank("ordinal", descending=True) < max_ranges).cum_sum().alias("group")
        )
    else:
        run = -(-frame.height // max_ranges)
        frame = frame.sort("value").with_row_index("group").with_columns(pl.col("group") // run)
    bounds = frame.group_by("group").agg(
        pl.col("value").min().alias("low"), pl.col("value").max().alias("high")
    )
    return pl.any_horizontal(
        [
            column.is_between(pl.lit(low), pl.lit(high))
            for low, high in bounds.select("low", "high").iter_rows()
        ]
    )


def build_view(
    config: Config,
    orders: pl.LazyFrame,
    tracking: pl.LazyFrame,
    history: pl.LazyFrame,
    *,
    as_of: datetime,
    scope_ids: pl.LazyFrame | None,
    facts: Survey,
) -> View:
    """Normalise the inputs and restrict them to the orders of `scope_ids` (a filter on the id,
    applied while the store is read). `facts` are the store-wide facts the rules branch on
    (`survey`, or the store's profiles through `from_profiles`)."""
    # Every rule reads the rows several times; left lazy, each read would scan and normalise
    # the store again (Polars shares nothing between separate collects). So they are settled
    # once, without the bookkeeping columns no rule or evidence reads. Streaming: measured at
    # 1M orders, the store's latest-version selection peaks at about half the memory (1.9 GB
    # instead of 3.6 GB) and runs no slower than in memory.
    if scope_ids is not None:
        # The scope is a set of order ids, so every row of a judged order is in it: the
        # orphan check finds an order's channel rows here too.
        ids = (
            scope_ids.select(normalise_order_id(pl.col(s.ORDER_ID)).alias(s.ORDER_ID))
            .unique()
            .collect()
            .get_column(s.ORDER_ID)
        )
        # Every version of a stored row has its key's spelling of the id, so the current rows
        # give the spellings the history's filter needs too.
        stored = stored_order_ids(orders, ids, ids_normal=facts.ids_normal)
        in_scope = order_ids_in(stored)
        rows = read_rows(orders.filter(in_scope)).collect(engine="streaming").lazy()
        # A join picks the history's versions, not `in_scope`: decoding only narrow columns
        # (the stored fingerprints), the reader's is_in over a watch cycle's ~98k ids took
        # 10-11 s of a 10M store's 30M versions, the join 2.1 s. The current rows keep the
        # filter: they are a snapshot with the newer pulls laid over it by an anti-join, which
        # the filter is pushed below and a join is not (RESULTS.md, note 3).
        spellings = pl.LazyFrame({s.ORDER_ID: stored}, schema={s.ORDER_ID: pl.String})
        hist = read_history(
            history.filter(near_stored_ids(stored)).join(spellings, on=s.ORDER_ID, how="semi"),
            as_of,
        )
        # Only the courier records of the scope's parcels: the rules fold what they are given.
        numbers = tracking_numbers(rows).unique().collect().get_column(s.TRACKING_NO)
        # Filtered before conforming, so the reader tests each stored number as it decodes it
        # (3.1 s → 0.5 s on a 10M store), and unstripped only where the profiles say some
        # number needs it (~0.1 s of the 0.3 s at 10M). No ranges as for order ids: in the
        # benchmark world a period's numbers are spread over the carrier data, and a few ranges
        # around them (one set per number format) skipped nothing and cost more than they saved.
        stored = pl.col(s.TRACKING_NO).cast(pl.String)
        if not facts.numbers_normal:
            stored = stored.str.strip_chars()
        wanted = stored.is_in(numbers.implode())
        # No parcel in scope (a watch cycle with nothing new): no reason to read the carrier data.
        courier = prepare_tracking(tracking.filter(wanted) if numbers.len() else tracking.head(0))
    else:
        rows = read_rows(orders).collect(engine="streaming").lazy()
        hist = read_history(history, as_of)
        courier = prepare_tracking(tracking)
    # The history too: three rules read it, and each would otherwise read it from disk again,
    # filtering the store's every version when the scope's orders are spread over it (a watch
    # cycle's ~98k orders on a 10M-order store: four scans of its 30M versions).
    hist = hist.collect(engine="streaming").lazy()
    return View(
        config=config,
        as_of=as_of,
        rows=rows,
        history=hist,
        raw_tracking=courier,
        sources=facts.sources,
        covered_carriers=facts.covered_carriers,
        channel_coverage=facts.channel_coverage,
    )
