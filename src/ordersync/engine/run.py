"""Entry points: `evaluate` (frames in, hits out) and `reconcile` (store in, run saved).

Scope. `--since/--until` and incremental runs restrict the orders judged to a set of order ids.
The restriction is a semi-join applied to the inputs before any rule joins (view.build_view),
so the work scales with the orders in scope. Findings of orders outside the scope carry over
unchanged (findings.apply_lifecycle).

Incremental runs. A finding can appear or disappear without any row of its order changing:
timers (missing_grace, ship_sla, pickup_grace, stuck_after, stall_after, …) expire as as_of
moves on, courier data changes, and the store-wide facts the rules branch on (view.Survey:
which sources exist, the period each covers, the carriers the carrier data vouches for) move
with every pull. So an incremental run judges the union of

- orders with a history version pulled since the previous run started (rows changed);
- orders with a timestamp that crossed a threshold since the previous run: every time rule
  compares one timestamp t (paid/created/shipped/updated, a history version's date, a
  courier event of one of the order's tracking numbers) with as_of − d for a configured
  duration d, so a verdict can only flip when t + d passed from before the previous as_of
  to at or before this one, t in (previous as_of − d, as_of − d], for a d among that
  timestamp's own thresholds (`timers`; d = 0 for every timestamp, which covers those that
  were in the future). A watch run a minute after the last one judges a few minutes' worth
  of timestamps per pair, not the last days' orders;
- orders whose tracking numbers got new courier data since the previous run;
- where a period boundary of the survey moved (an OMS or warehouse source's first date, a
  channel's coverage), the orders with a timestamp between the old and the new boundary:
  only those can change sides of it (missing_order's "delivered before the source's data
  begins", orphan_order's "dated inside a channel's coverage").

Everything is judged again when the run cannot know what moved: no previous run, an as_of
earlier than the previous one, a source or carrier set that changed, other rule settings, or
a previous run saved by an ordersync that did not record its basis.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

import polars as pl

from ordersync import schema as s
from ordersync.config import Config
from ordersync.engine.buckets import bucket_count, split
from ordersync.engine.evidence import Gap
from ordersync.engine.rules import RULE_FUNCTIONS
from ordersync.engine.view import (
    PULLED_AT,
    Survey,
    View,
    build_view,
    from_profiles,
    near_order_ids,
    prepare_orders,
    survey,
)
from ordersync.errors import UsageError
from ordersync.findings import (
    NotChecked,
    ReconcileResult,
    apply_lifecycle,
    money_at_risk,
    with_identity,
)
from ordersync.profiles import dated
from ordersync.schema import normalise_order_id


class ReconcileProgress(Protocol):
    """Receives the phases of a run as they begin (the CLI draws them; library code stays
    silent). A large store's run takes minutes, most of them in "split" and "judge"."""

    def phase(self, name: str, pieces: int = 1) -> None:
        """A phase begins: "scope" (finding the orders an incremental or --since run judges),
        "split" (writing the store's rows into `pieces` order-id buckets), "judge" (the rules,
        over `pieces` pieces) or "save" (the findings' lifecycle and the saved run)."""

    def piece_judged(self) -> None:
        """One piece of the "judge" phase is done."""


class _Silent:
    def phase(self, name: str, pieces: int = 1) -> None:
        pass

    def piece_judged(self) -> None:
        pass


ORDERS_CHECKED_SCHEMA: dict[str, pl.DataType] = {
    s.SOURCE: pl.String(),
    s.SOURCE_KIND: pl.String(),
    s.CHANNEL: pl.String(),
    "orders": pl.Int64(),
}


def _utc(moment: datetime, config: Config) -> datetime:
    """A naive time is read in the config's timezone, as a user typing --as-of means it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(config.timezone))
    return moment.astimezone(UTC)


def _selected_rules(config: Config, rules: Sequence[str] | None) -> tuple[str, ...]:
    if rules is not None:
        unknown = sorted(set(rules) - set(s.RULES))
        if unknown:
            raise UsageError(f"unknown rule(s) {unknown}; rules are {list(s.RULES)}")
    wanted = set(rules) if rules is not None else set(s.RULES)
    return tuple(r for r in s.RULES if r in wanted and r not in config.rules.disabled)


def _scope_ids(
    orders: pl.LazyFrame,
    since: datetime | None,
    until: datetime | None,
    order_ids: pl.LazyFrame | None,
) -> pl.LazyFrame | None:
    """Order ids to judge, or None for all. A channel order is in range by paid_at, else
    created_at; an oms/warehouse row no channel knows is in range by its own date."""
    if since is None and until is None and order_ids is None:
        return None
    rows = prepare_orders(orders)
    scope: pl.LazyFrame | None = None
    if since is not None or until is not None:

        def in_range(at: pl.Expr) -> pl.Expr:
            cond = pl.lit(True)
            if since is not None:
                cond = cond & (at >= since)
            if until is not None:
                cond = cond & (at < until)
            return cond.fill_null(False)

        channel = rows.filter(pl.col(s.SOURCE_KIND) == "channel")
        judged = channel.filter(in_range(pl.coalesce(s.PAID_AT, s.CREATED_AT))).select(s.ORDER_ID)
        strays = (
            rows.filter((pl.col(s.SOURCE_KIND) != "channel") & in_range(dated()))
            .select(s.ORDER_ID)
            .join(channel.select(s.ORDER_ID), on=s.ORDER_ID, how="anti")
        )
        scope = pl.concat([judged, strays]).unique()
    if order_ids is not None:
        wanted = order_ids.select(normalise_order_id(pl.col(s.ORDER_ID)).alias(s.ORDER_ID)).unique()
        scope = wanted if scope is None else scope.join(wanted, on=s.ORDER_ID, how="semi")
    return scope


class _Counted(NamedTuple):
    """A Gap with its counts collected. Plain values on purpose: a Gap's plan reads the piece's
    rows, and holding it after the piece is judged kept every bucket's rows in memory (14 GB
    at 10M orders)."""

    rule: str
    reason_en: str
    reason_zh: str
    counts: pl.DataFrame


def _not_checked(entries: list[NotChecked | _Counted]) -> tuple[NotChecked, ...]:
    """One entry per (rule, reason, scope), order counts summed over the pieces an evaluation
    was split into; in rule order, then by reason and scope, so the list never depends on
    how the work was split."""
    fixed: dict[NotChecked, None] = {}
    counted: dict[tuple[str, str, str, str], int] = {}
    for gap in entries:
        if isinstance(gap, NotChecked):
            fixed[gap] = None
            continue
        for scope, orders in gap.counts.iter_rows():
            key = (gap.rule, gap.reason_en, gap.reason_zh, scope)
            counted[key] = counted.get(key, 0) + int(orders or 0)
    out = list(fixed)
    out += [
        NotChecked(rule, scope, en.format(scope=scope), zh.format(scope=scope), orders)
        for (rule, en, zh, scope), orders in counted.items()
        if orders
    ]
    rank = {rule: i for i, rule in enumerate(s.RULES)}
    return tuple(sorted(out, key=lambda n: (rank.get(n.rule, len(rank)), n.reason_en, n.scope)))


def _judge(
    config: Config, view: View, selected: tuple[str, ...]
) -> tuple[list[pl.DataFrame], list[NotChecked | _Counted], pl.DataFrame]:
    """Run the selected rules over one view: (hit frames, not-checked entries, orders checked
    per source and channel)."""
    # A view is a piece that fits in memory, judged by many small joins and group-bys. Polars
    # 2 runs plans on its streaming engine by default: measured on the 10M-order store, it
    # judged the pieces 15-25% slower than the in-memory engine (116 s against 85-86 s).
    with pl.Config(engine_affinity="in-memory"):
        hit_plans: list[pl.LazyFrame] = []
        gaps: list[NotChecked | Gap] = []
        for rule in selected:
            result = RULE_FUNCTIONS[rule](view)
            if result.hits is not None:
                hit_plans.append(
                    result.hits.with_columns(
                        pl.lit(rule).alias(s.RULE),
                        pl.lit(config.rules.severity_of(rule))
                        .cast(s.SeverityDtype)
                        .alias(s.SEVERITY),
                    )
                )
            gaps.extend(result.gaps)
        gap_plans = [g.counts for g in gaps if isinstance(g, Gap)]
        checked_plan = view.rows.group_by(
            s.SOURCE, pl.col(s.SOURCE_KIND).cast(pl.String), s.CHANNEL
        ).agg(pl.col(s.ORDER_ID).n_unique().cast(pl.Int64).alias("orders"))
        collected = pl.collect_all([*hit_plans, *gap_plans, checked_plan])
    collected = [_detached(frame) for frame in collected]
    counts = iter(collected[len(hit_plans) : -1])
    entries = [
        _Counted(g.rule, g.reason_en, g.reason_zh, next(counts)) if isinstance(g, Gap) else g
        for g in gaps
    ]
    return (
        [s.conform(f, s.FINDINGS_SCHEMA) for f in collected[: len(hit_plans)]],
        entries,
        collected[-1],
    )


def _detached(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with strings of its own. A Polars string column is views into shared buffers, so
    the findings gathered from a piece kept every string buffer they touched alive until the run
    ended, and its memory grew with each piece judged: a 50M-order run peaked at 12.1 GB so,
    5.8 GB with this copy (10M: 3.5 GB, 3.1 GB). Arrow's plain layout copies only the kept
    strings."""
    detached = pl.from_arrow(frame.to_arrow(compat_level=pl.CompatLevel.oldest()))
    assert isinstance(detached, pl.DataFrame)
    return detached


def _rows_to_judge(config: Config, scope: pl.DataFrame | None, facts: Survey) -> int:
    """Order rows an evaluation will hold; a scoped run estimates one row per order source."""
    if scope is not None:
        order_sources = [src for src in config.sources if src.kind in s.ORDER_SOURCE_KINDS]
        return scope.height * max(1, len(order_sources))
    return sum(info.rows for info in facts.sources.values())


def _evaluate(
    config: Config,
    orders: pl.LazyFrame,
    tracking: pl.LazyFrame,
    history: pl.LazyFrame,
    *,
    as_of: datetime,
    since: datetime | None,
    until: datetime | None,
    rules: Sequence[str] | None,
    order_ids: pl.LazyFrame | None,
    rows_per_bucket: int | None = None,
    facts: Survey | None = None,
    progress: ReconcileProgress | None = None,
) -> tuple[
    pl.DataFrame, tuple[NotChecked, ...], pl.DataFrame, tuple[str, ...], pl.DataFrame | None
]:
    as_of = _utc(as_of, config)
    since = _utc(since, config) if since else None
    until = _utc(until, config) if until else None
    selected = _selected_rules(config, rules)
    progress = progress or _Silent()
    scope_plan = _scope_ids(orders, since, until, order_ids)
    if scope_plan is not None:
        progress.phase("scope")
    # Streaming: the scope is found by scanning the whole store (incremental runs: timestamps,
    # history, courier data); held in memory, that took 15 GB at 10M orders.
    scope = scope_plan.collect(engine="streaming") if scope_plan is not None else None
    scope_ids = scope.lazy() if scope is not None else None
    # Store-wide, whatever the scope or the split: every piece is judged by the same facts.
    if facts is None:
        facts = survey(config, orders, tracking)
    rows_to_judge = _rows_to_judge(config, scope, facts)
    count = bucket_count(rows_to_judge, rows_per_bucket)
    if count == 1:
        progress.phase("judge")
        view = build_view(
            config, orders, tracking, history, as_of=as_of, scope_ids=scope_ids, facts=facts
        )
        judged = [_judge(config, view, selected)]
        progress.piece_judged()
    else:
        if scope is not None:
            # The split joins the rows to the scope; the ranges let the reader skip the row
            # groups of other periods first.
            near = near_order_ids(orders, scope.get_column(s.ORDER_ID), ids_normal=facts.ids_normal)
            orders, history = orders.filter(near), history.filter(near)
        # The shared-number bucket comes on top of the hash buckets.
        progress.phase("split", count + 1)
        with split(
            orders,
            tracking,
            history,
            as_of=as_of,
            count=count,
            scope_ids=scope_ids,
            # A scoped run's count is an upper bound, too rough to refuse a run on.
            expected_rows=rows_to_judge if scope is None else 0,
        ) as pieces:
            progress.phase("judge", count + 1)
            judged = []
            for piece in pieces:
                view = build_view(
                    config,
                    piece.orders,
                    piece.tracking,
                    piece.history,
                    as_of=as_of,
                    scope_ids=None,
                    facts=facts,
                )
                judged.append(_judge(config, view, selected))
                progress.piece_judged()
    hit_frames = [frame for frames, _, _ in judged for frame in frames]
    checked = (
        pl.concat([c for _, _, c in judged])
        .group_by(s.SOURCE, s.SOURCE_KIND, s.CHANNEL)
        .agg(pl.col("orders").sum())
        .sort(s.SOURCE, s.CHANNEL, nulls_last=True)
    )
    checked = s.conform(checked, ORDERS_CHECKED_SCHEMA)

    hits = pl.concat(hit_frames) if hit_frames else s.empty_frame(s.FINDINGS_SCHEMA)
    stamp = pl.lit(as_of).cast(s.Timestamp)
    hits = with_identity(hits).with_columns(
        stamp.alias(s.FIRST_SEEN),
        stamp.alias(s.LAST_SEEN),
        pl.lit("open").cast(s.StateDtype).alias(s.STATE),
    )
    hits = s.conform(hits, s.FINDINGS_SCHEMA).sort(s.RULE, s.ORDER_ID, s.DETAIL)
    not_checked = _not_checked([entry for _, entries, _ in judged for entry in entries])
    return hits, not_checked, checked, selected, scope


def evaluate(
    config: Config,
    orders: pl.LazyFrame,
    tracking: pl.LazyFrame,
    history: pl.LazyFrame,
    *,
    as_of: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    rules: Sequence[str] | None = None,
    order_ids: pl.LazyFrame | None = None,
    rows_per_bucket: int | None = None,
) -> tuple[pl.DataFrame, tuple[NotChecked, ...], pl.DataFrame]:
    """Judge the orders against the rules at `as_of`.

    Returns (hits as FINDINGS_SCHEMA rows in state open, what was not checked, orders checked
    per source and channel). `orders` and `history` have ORDERS_SCHEMA columns (history also
    `pulled_at`), `tracking` TRACKING_SCHEMA columns. Many order rows are judged in order-id
    buckets of `rows_per_bucket` rows, one at a time (default: engine.buckets.bucket_count).

    >>> hits, not_checked, checked = evaluate(config, orders, tracking, history, as_of=now)
    """
    hits, not_checked, checked, _, _ = _evaluate(
        config,
        orders,
        tracking,
        history,
        as_of=as_of,
        since=since,
        until=until,
        rules=rules,
        order_ids=order_ids,
        rows_per_bucket=rows_per_bucket,
    )
    return hits, not_checked, checked


class Timers(NamedTuple):
    """Per timestamp column, the durations d by which some rule compares it with as_of (it
    counts once t <= as_of − d). Read off the rules, each pair named below with its rule; 0 is
    added to every column (a timestamp compared with as_of itself, or one in the future).

    An incremental run whose as_of moved judges an order again only when one of its
    timestamps crossed one of its own durations, so a pair missing here would be a missed
    finding: tests/engine/test_incremental_timers.py has a hand-reasoned case per pair, each
    failing when its pair is dropped, and judges random little worlds both ways. A rule that
    comes to compare another timestamp with as_of must add its pair here."""

    rows: dict[str, tuple[timedelta, ...]]  # current order rows
    history: dict[str, tuple[timedelta, ...]]  # every stored version of them
    courier: dict[str, tuple[timedelta, ...]]  # carrier records of their tracking numbers


def timers(config: Config) -> Timers:
    r = config.rules
    # paid_moment() (paid_at, else created_at): missing_order, status_mismatch (paid on the
    # channel, unpaid in the OMS), unshipped_timeout (per-channel ship_sla)
    paid = (r.missing_grace, r.sync_grace, r.ship_sla.default, *r.ship_sla.overrides().values())

    def pairs(*durations: timedelta) -> tuple[timedelta, ...]:
        return tuple(sorted({timedelta(0), *durations}))

    return Timers(
        rows={
            s.PAID_AT: pairs(*paid),
            s.CREATED_AT: pairs(*paid),
            # ghost_shipment; status_mismatch (when a row was marked shipped)
            s.SHIPPED_AT: pairs(r.pickup_grace, r.sync_grace),
            # status_mismatch (marked shipped without a date: its update time); stuck_order
            # (the current row is a version of its status)
            s.UPDATED_AT: pairs(r.sync_grace, r.stuck_after),
            s.DELIVERED_AT: pairs(),
        },
        history={
            # stuck_order: when a status was entered (a version's update time, else its pull);
            # frequent_changes counts versions pulled by as_of (its window is between versions)
            s.UPDATED_AT: pairs(r.stuck_after),
            PULLED_AT: pairs(r.stuck_after),
        },
        # delivery_stalled
        courier={s.LAST_EVENT_AT: pairs(r.stall_after), s.FIRST_SCAN_AT: pairs()},
    )


class Moved(NamedTuple):
    """What moved in the store-wide facts since the previous run (see the module docstring)."""

    everything: bool
    # (low, high): an order with a timestamp in [low, high] may have changed sides of a boundary
    boundaries: tuple[tuple[datetime, datetime], ...] = ()


def basis(config: Config, facts: Survey) -> str:
    """What a run's verdicts rest on besides the orders' own rows: the survey and the rule
    settings. Saved with the run; the next incremental run compares (`moved`)."""
    settings = hashlib.blake2b(config.rules.model_dump_json().encode(), digest_size=8)
    return json.dumps(
        {"survey": facts.to_dict(), "rules": settings.hexdigest()},
        ensure_ascii=False,
        sort_keys=True,
    )


def moved(previous: str | None, current: str) -> Moved:
    """Compare two runs' `basis`."""
    if previous is None:
        return Moved(everything=True)
    try:
        before, now = json.loads(previous), json.loads(current)
        if before["rules"] != now["rules"]:
            return Moved(everything=True)
        old, new = before["survey"], now["survey"]
        kinds = {name: kind for name, (kind, _) in new["sources"].items()}
        if kinds != {name: kind for name, (kind, _) in old["sources"].items()}:
            return Moved(everything=True)
        if old["covered_carriers"] != new["covered_carriers"]:
            return Moved(everything=True)
        # (old, new) pairs of every boundary a rule compares a timestamp with
        pairs = [
            (old["sources"][name][1], new["sources"][name][1])
            for name, kind in kinds.items()
            if kind in ("oms", "warehouse")
        ]
        old_cover = {row[0]: row[1:] for row in old["channel_coverage"]}
        new_cover = {row[0]: row[1:] for row in new["channel_coverage"]}
        if old_cover.keys() != new_cover.keys():
            return Moved(everything=True)
        for name, (channel, start, end) in new_cover.items():
            old_channel, old_start, old_end = old_cover[name]
            if channel != old_channel:
                return Moved(everything=True)
            pairs += [(old_start, start), (old_end, end)]
    except (ValueError, KeyError, TypeError):
        return Moved(everything=True)
    boundaries = []
    for before_at, now_at in pairs:
        if before_at == now_at:
            continue
        if before_at is None or now_at is None:
            return Moved(everything=True)
        low, high = sorted((datetime.fromisoformat(before_at), datetime.fromisoformat(now_at)))
        boundaries.append((low, high))
    return Moved(everything=False, boundaries=tuple(boundaries))


def incremental_ids(
    config: Config,
    orders: pl.LazyFrame,
    tracking: pl.LazyFrame,
    history: pl.LazyFrame,
    *,
    last_started: datetime,
    last_as_of: datetime,
    as_of: datetime,
    boundaries: Sequence[tuple[datetime, datetime]] = (),
) -> pl.LazyFrame:
    """Order ids an incremental run must judge (see the module docstring)."""
    # Judged at the same as_of as last time, no timer can have crossed: those scans are skipped.
    moved_on = as_of > last_as_of

    def crossed(durations: dict[str, tuple[timedelta, ...]]) -> pl.Expr:
        """A timestamp passed one of its thresholds between the two runs' as_of."""
        return pl.any_horizontal(
            [
                (pl.col(column) > last_as_of - d) & (pl.col(column) <= as_of - d)
                for column, among in durations.items()
                for d in among
            ]
        ).fill_null(False)

    timed = timers(config)

    rows = prepare_orders(orders)
    hist = prepare_orders(history)
    has_pulls = PULLED_AT in history.collect_schema().names()
    # Pull times are filtered as stored, before the rows are conformed, so the reader skips
    # the files and row groups of earlier pulls by their statistics.
    pulled_since = pl.col(PULLED_AT).cast(s.Timestamp) >= last_started
    changed = (
        prepare_orders(history.filter(pulled_since)).select(s.ORDER_ID)
        if has_pulls
        else hist.select(s.ORDER_ID).head(0)
    )
    # courier records that moved since the last run: pulled since, or an event time that crossed
    courier_news = []
    if PULLED_AT in tracking.collect_schema().names():
        courier_news.append(
            tracking.filter(pulled_since).select(pl.col(s.TRACKING_NO).cast(pl.String))
        )
    if moved_on:
        courier = s.conform(tracking, s.TRACKING_SCHEMA).filter(crossed(timed.courier))
        courier_news.append(courier.select(s.TRACKING_NO))
    numbers = (
        pl.concat(courier_news)
        .select(pl.col(s.TRACKING_NO).str.strip_chars())
        .filter(pl.col(s.TRACKING_NO) != "")
        .unique()
        .collect(engine="streaming")
        if courier_news
        else pl.DataFrame(schema={s.TRACKING_NO: pl.String})
    )
    parts = [changed]
    # Tests on the current rows, all applied in one pass over them.
    row_tests: list[pl.Expr] = []
    if moved_on:
        version_dates = timed.history if has_pulls else {s.UPDATED_AT: timed.history[s.UPDATED_AT]}
        parts.append(hist.filter(crossed(version_dates)).select(s.ORDER_ID))
        row_tests.append(crossed(timed.rows))
    if boundaries:

        def between(at: pl.Expr) -> pl.Expr:
            inside = [at.is_between(low, high) for low, high in boundaries]
            return pl.any_horizontal(inside).fill_null(False)

        row_tests.append(pl.any_horizontal([between(pl.col(c)) for c in s.TIMESTAMP_FIELDS]))
    if numbers.height:
        # The orders of the parcels whose courier record moved: each row's list is tested in
        # place (unpacking every row's list took 4.5 s of a 10M store's scope, this 1.2 s).
        wanted = numbers.get_column(s.TRACKING_NO).implode()
        row_tests.append(
            pl.col(s.TRACKING_NO)
            .list.eval(pl.element().str.strip_chars().is_in(wanted))
            .list.any()
            .fill_null(False)
        )
    if row_tests:
        parts.append(rows.filter(pl.any_horizontal(row_tests)).select(s.ORDER_ID))
    return pl.concat(parts).unique()


def reconcile(
    config: Config,
    store,  # ordersync.store.Store; not imported, the engine sits below the store's callers
    *,
    as_of: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    rules: Sequence[str] | None = None,
    incremental: bool = False,
    now: datetime | None = None,
    rows_per_bucket: int | None = None,
    progress: ReconcileProgress | None = None,
) -> ReconcileResult:
    """Evaluate the store's current data, apply the findings lifecycle, save and return the run.

    `now` (default: the wall clock) is only the run's start time; every judgement, and
    first_seen / last_seen / resolved_at, use `as_of` (default: now), so re-running on the same
    data at the same as_of yields identical findings. `progress` hears of each phase.
    """
    started = _utc(now, config) if now else datetime.now(UTC)
    as_of = _utc(as_of, config) if as_of else started
    progress = progress or _Silent()
    orders, tracking, history = store.orders(), store.tracking(), store.order_history()
    kept = store.profiles()
    facts = from_profiles(config, *kept) if kept is not None else survey(config, orders, tracking)
    run_basis = basis(config, facts)
    order_ids = None
    if incremental:
        runs = store.runs()
        if runs.height:
            last = runs.sort("started_at").row(-1, named=True)
            change = moved(last.get("basis"), run_basis)
            if last["as_of"] is not None and last["as_of"] <= as_of and not change.everything:
                order_ids = incremental_ids(
                    config,
                    orders,
                    tracking,
                    history,
                    last_started=last["started_at"],
                    last_as_of=last["as_of"],
                    as_of=as_of,
                    boundaries=change.boundaries,
                )
    hits, not_checked, checked, selected, scope = _evaluate(
        config,
        orders,
        tracking,
        history,
        as_of=as_of,
        since=since,
        until=until,
        rules=rules,
        order_ids=order_ids,
        rows_per_bucket=rows_per_bucket,
        facts=facts,
        progress=progress,
    )
    progress.phase("save")
    previous = store.findings().collect()
    findings, counts = apply_lifecycle(
        previous, hits, as_of=as_of, rules_run=selected, scope_ids=scope
    )
    digest = hashlib.blake2b(f"{started.isoformat()}|{as_of.isoformat()}".encode(), digest_size=4)
    result = ReconcileResult(
        run_id=f"{started:%Y%m%dT%H%M%S}-{digest.hexdigest()}",
        as_of=as_of,
        started_at=started,
        findings=findings,
        orders_checked=checked,
        not_checked=not_checked,
        new=counts.new,
        still_open=counts.still_open,
        resolved=counts.resolved,
        money_at_risk=money_at_risk(findings),
        rules_run=selected,
        basis=run_basis,
    )
    store.save_run(result)
    return result


def latest_result(config: Config, store) -> ReconcileResult:
    """The last saved run as a ReconcileResult, without judging again (for `report`)."""
    runs = store.runs()
    if runs.is_empty():
        raise UsageError("no reconcile run in the store yet; run `ordersync reconcile` first")
    last = runs.sort("started_at").row(-1, named=True)
    findings = s.conform(store.findings().collect(), s.FINDINGS_SCHEMA)
    not_checked = tuple(
        NotChecked(**entry) for entry in json.loads(last.get("not_checked") or "[]")
    )
    checked = (
        prepare_orders(store.orders())
        .group_by(s.SOURCE, pl.col(s.SOURCE_KIND).cast(pl.String), s.CHANNEL)
        .agg(pl.col(s.ORDER_ID).n_unique().cast(pl.Int64).alias("orders"))
        .sort(s.SOURCE, s.CHANNEL, nulls_last=True)
        .collect()
    )
    rules_run = tuple(r for r in s.RULES if r not in config.rules.disabled)
    return ReconcileResult(
        run_id=last["run_id"],
        as_of=last["as_of"],
        started_at=last["started_at"],
        findings=findings,
        orders_checked=s.conform(checked, ORDERS_CHECKED_SCHEMA),
        not_checked=not_checked,
        new=int(last.get("new") or 0),
        still_open=int(last.get("still_open") or 0),
        resolved=int(last.get("resolved") or 0),
        money_at_risk=money_at_risk(findings),
        rules_run=rules_run,
    )
