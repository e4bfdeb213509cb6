"""The command line: options in, library calls, errors out.

This is the only module that prints or exits. Every OrdersyncError is turned into one clean
line on stderr and its exit code in `main`; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from time import monotonic
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from ordersync import schema
from ordersync.errors import WRITE_ERRORS, OrdersyncError, UsageError, write_failure

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Reconcile a merchant's orders across sales channels, OMS, warehouse and couriers.",
)

out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


class _State:
    config_path: Path | None = None
    data_dir: Path | None = None
    verbosity: int = 0
    debug: bool = False


state = _State()


class Lang(StrEnum):
    zh = "zh"
    en = "en"


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class FindingState(StrEnum):
    open = "open"
    resolved = "resolved"
    acknowledged = "acknowledged"


@app.callback()
def _global(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Config file (else $ORDERSYNC_CONFIG, else ./ordersync.yaml)."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Store directory; overrides store.path.")
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More output.")] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only errors and the essential result.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    state.config_path = config
    state.data_dir = data_dir
    state.verbosity = -1 if quiet else verbose
    state.debug = debug


# --- helpers ------------------------------------------------------------------------------


def _config():
    from ordersync.config import load_config

    return load_config(state.config_path, data_dir=state.data_dir)


def _store(config):
    from ordersync.store import Store

    return Store.for_config(config)


def _say(message: str) -> None:
    if state.verbosity >= 0:
        out.print(message)


def _parse_moment(
    text: str | None, timezone: str, *, option: str, end_of_day: bool = False
) -> datetime | None:
    """ISO date or datetime; naive values are in the config's timezone."""
    if text is None:
        return None
    zone = ZoneInfo(timezone)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time(0), zone)
        else:
            moment = datetime.fromisoformat(text.replace(" ", "T", 1))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a date or time; expected e.g. 2026-11-20 or 2026-11-20T12:00:00+08:00"
        ) from None
    return moment.astimezone(UTC)


def _fail_on(result_findings, fail_on: Severity | None) -> int:
    """Exit 1 when an open finding is at or above `fail_on`."""
    if fail_on is None:
        return 0
    import polars as pl

    threshold = schema.SEVERITIES.index(fail_on.value)
    wanted = list(schema.SEVERITIES[threshold:])
    hits = result_findings.filter(
        (pl.col(schema.STATE) == "open") & pl.col(schema.SEVERITY).cast(pl.String).is_in(wanted)
    ).height
    return 1 if hits else 0


def _write_frame(frame, output: Path) -> None:
    """Write findings to csv/json/parquet by suffix; csv cells are neutralised against formulas."""
    from ordersync.reports.safety import neutralise_frame

    suffix = output.suffix.lower()
    if suffix not in (".csv", ".json", ".parquet"):
        raise UsageError(
            f"--output {output}: unknown suffix {suffix!r}; use .csv, .json or .parquet"
        )
    temporary = output.with_name(f".{output.name}.tmp")
    flat = frame.with_columns(
        [
            frame[name].list.join(",").alias(name) if str(dtype).startswith("List") else frame[name]
            for name, dtype in frame.schema.items()
        ]
    )
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            neutralise_frame(flat).write_csv(temporary, include_bom=True)
        elif suffix == ".json":
            flat.write_json(temporary)
        else:
            frame.write_parquet(temporary)
        temporary.replace(output)
    except WRITE_ERRORS as exc:
        reason = write_failure(exc, output.parent)
        if reason is None:
            raise
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise UsageError(f"--output {output}: cannot write it: {reason}") from None


class _Progress:
    """Pull progress: a rich bar per source on a terminal, plain lines otherwise."""

    def __init__(self) -> None:
        self.interactive = err.is_terminal and state.verbosity >= 0
        self.bar = None
        self.tasks: dict[str, Any] = {}
        if self.interactive:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files · {task.fields[rows]:,} rows"),
                TimeElapsedColumn(),
                console=err,
                transient=False,
            )
            self.bar.start()

    def source_started(self, source: str, files: int) -> None:
        if self.bar is not None:
            self.tasks[source] = self.bar.add_task(source, total=max(files, 1), rows=0)
        elif state.verbosity >= 0:
            err.print(f"{source}: {files} file(s) to read")

    def file_read(self, source: str, path: Path, rows: int) -> None:
        if self.bar is not None:
            task = self.tasks[source]
            previous = self.bar.tasks[task].fields.get("rows", 0)
            self.bar.update(task, advance=1, rows=previous + rows)
        elif state.verbosity >= 0:
            err.print(f"{source}: {path.name}: {rows:,} rows")

    def source_finished(self, stats) -> None:
        if self.bar is not None and stats.source in self.tasks:
            task = self.tasks[stats.source]
            self.bar.update(task, completed=self.bar.tasks[task].total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


class _ReconcileProgress:
    """Reconcile progress: on a terminal, the phase running and its elapsed time (a large
    store's pieces counted as they are judged); with -v, also a line per phase with how long
    it took, which is what a cron log keeps."""

    _SAYS: ClassVar[dict[str, str]] = {
        "scope": "finding the orders to judge",
        "split": "splitting the store into {pieces:,} buckets",
        "judge": "judging {pieces:,} pieces",
        "save": "saving the run",
    }

    def __init__(self) -> None:
        self.lines = state.verbosity >= 1
        self.bar = None
        self.task = None
        self.current: tuple[str, float] | None = None
        if err.is_terminal and state.verbosity >= 0:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("{task.fields[count]}"),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            )
            self.bar.start()

    def phase(self, name: str, pieces: int = 1) -> None:
        self._finish()
        says = "judging" if name == "judge" and pieces == 1 else self._SAYS[name]
        says = says.format(pieces=pieces)
        self.current = (says, monotonic())
        if self.bar is not None:
            counted = name == "judge" and pieces > 1
            self.task = self.bar.add_task(
                says, total=pieces, count=f"0/{pieces:,}" if counted else ""
            )

    def piece_judged(self) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task)
            task = next(task for task in self.bar.tasks if task.id == self.task)
            if task.fields["count"]:
                self.bar.update(self.task, count=f"{task.completed:,.0f}/{task.total:,.0f}")

    def _finish(self) -> None:
        if self.current is None:
            return
        says, started = self.current
        if self.bar is not None and self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None
        if self.lines:
            err.print(f"reconcile: {says}: {monotonic() - started:.1f} s")
        self.current = None

    def close(self) -> None:
        self._finish()
        if self.bar is not None:
            self.bar.stop()


def _run_reconcile(config, **options):
    from ordersync.engine import reconcile

    progress = _ReconcileProgress()
    try:
        return reconcile(config, _store(config), progress=progress, **options)
    finally:
        progress.close()


def _run_pull(config, sources: list[str] | None, full: bool, now: datetime | None = None):
    from ordersync.pull import pull

    progress = _Progress()
    try:
        stats = pull(config, _store(config), sources=sources, full=full, progress=progress, now=now)
    finally:
        progress.close()
    return stats


def _print_pull(stats) -> None:
    if state.verbosity < 0:
        return
    table = Table(title="pull")
    for column in (
        "source",
        "files",
        "skipped",
        "rows read",
        "new",
        "changed",
        "unchanged",
        "unmapped statuses",
    ):
        table.add_column(
            column, justify="left" if column in ("source", "unmapped statuses") else "right"
        )
    for s in stats:
        unmapped = ", ".join(
            f"{raw!r}×{count}" for raw, count in list(s.unmapped_statuses.items())[:5]
        )
        table.add_row(
            s.source,
            str(s.files_read),
            str(s.files_skipped),
            f"{s.rows_read:,}",
            f"{s.new:,}",
            f"{s.changed:,}",
            f"{s.unchanged:,}",
            unmapped or "-",
        )
    out.print(table)
    for s in stats:
        for note in s.notes:
            out.print(f"{s.source}: {note}")
        if s.unknown_carriers:
            names = ", ".join(
                f"{name!r}×{count}" for name, count in list(s.unknown_carriers.items())[:5]
            )
            out.print(f"{s.source}: unknown carrier names (add them under `carriers:`): {names}")


def _print_reconcile(result) -> None:
    import polars as pl

    if state.verbosity < 0:
        out.print(
            f"{result.new} new, {result.still_open} still open, {result.resolved} resolved; "
            f"money at risk {result.money_at_risk}"
        )
        return
    live = result.findings.filter(pl.col(schema.STATE) != "resolved")
    table = Table(title=f"findings as of {result.as_of.isoformat(timespec='minutes')}")
    table.add_column("rule")
    table.add_column("severity")
    channels = sorted(c for c in live[schema.CHANNEL].unique().to_list() if c is not None)
    for channel in channels:
        table.add_column(channel, justify="right")
    table.add_column("total", justify="right")
    if live.height:
        counts = live.group_by(schema.RULE, schema.SEVERITY, schema.CHANNEL).len()
        for rule in schema.RULES:
            of_rule = counts.filter(pl.col(schema.RULE) == rule)
            if of_rule.height == 0:
                continue
            by_channel = dict(
                zip(of_rule[schema.CHANNEL].to_list(), of_rule["len"].to_list(), strict=True)
            )
            table.add_row(
                rule,
                str(of_rule[schema.SEVERITY][0]),
                *[str(by_channel.get(c, "")) for c in channels],
                str(sum(by_channel.values())),
            )
    out.print(table)
    out.print(
        f"{result.new} new · {result.still_open} still open · {result.resolved} resolved since the last run · "
        f"money at risk {result.money_at_risk} (open critical and high findings)"
    )
    for entry in result.not_checked:
        out.print(f"not checked: {entry.rule} [{entry.scope}] {entry.reason_en}")


# --- commands -----------------------------------------------------------------------------


def command(name: str | None = None):
    """app.command, with OrdersyncError turned into one clean line on stderr and its exit code.

    Doing it per command (not only in `main`) makes `typer.testing.CliRunner` see the same
    exit codes and messages as a user's shell does.
    """

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except OrdersyncError as exc:
                if state.debug:
                    raise
                err.print(f"error: {exc}", markup=False)
                raise typer.Exit(exc.exit_code) from None

        return app.command(name)(wrapper)

    return decorate


@command()
def init(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the config.")
    ] = Path("ordersync.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter config.

    Example: ordersync init -o ordersync.yaml
    """
    from importlib.resources import files

    if output.exists() and not force:
        raise UsageError(f"{output} exists; pass --force to overwrite it")
    output.write_text(
        files("ordersync").joinpath("starter_config.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    _say(f"wrote {output}; edit the sources, then run `ordersync check-config`")


@command("check-config")
def check_config() -> None:
    """Validate the config and show, per source, which canonical fields are mapped and which files match.

    Example: ordersync --config ordersync.yaml check-config
    """
    from ordersync.sources import mapping_coverage

    config = _config()
    _say(f"{config.file}: valid, {len(config.sources)} source(s)")
    for source in config.sources:
        coverage = mapping_coverage(config, source)
        table = Table(
            title=f"{source.name} ({source.kind}, {source.format}{', preset ' + source.preset if source.preset else ''})"
        )
        table.add_column("item")
        table.add_column("value")
        for key, value in coverage.items():
            if isinstance(value, list | tuple):
                value = ", ".join(str(v) for v in value) or "-"
            elif isinstance(value, dict):
                value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
            table.add_row(str(key), str(value))
        out.print(table)


@command("pull")
def pull_command(
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Re-read every file, even ones already pulled.")
    ] = False,
) -> None:
    """Read sources into the store (incremental: files already pulled are skipped).

    Example: ordersync pull --source taobao --source wms
    """
    config = _config()
    _print_pull(_run_pull(config, source or None, full))


@command()
def reconcile(
    since: Annotated[
        str | None, typer.Option(help="Only orders paid (else created) on or after this date.")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Only orders paid (else created) up to this date (inclusive)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Judge as of this time (default: now).")
    ] = None,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", "-r", help="Only this rule (repeatable).")
    ] = None,
    incremental: Annotated[
        bool, typer.Option(help="Re-evaluate only orders changed since the last run.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Also write findings (.csv/.json/.parquet)."),
    ] = None,
    fail_on: Annotated[
        Severity | None,
        typer.Option("--fail-on", help="Exit 1 if an open finding is at least this severe."),
    ] = None,
    notify: Annotated[
        bool, typer.Option("--notify", help="Send the digest to the config's notify targets.")
    ] = False,
) -> None:
    """Join every source per order, evaluate the rules and update the findings.

    Example: ordersync reconcile --as-of 2026-11-20T12:00 --fail-on high
    """
    config = _config()
    unknown = sorted(set(rule or ()) - set(schema.RULES))
    if unknown:
        raise UsageError(f"unknown rule(s) {unknown}; rules are {', '.join(schema.RULES)}")
    moments = {
        "as_of": _parse_moment(as_of, config.timezone, option="--as-of"),
        "since": _parse_moment(since, config.timezone, option="--since"),
        "until": _parse_moment(until, config.timezone, option="--until", end_of_day=True),
    }
    result = _run_reconcile(config, **moments, rules=rule or None, incremental=incremental)
    _print_reconcile(result)
    if output is not None:
        _write_frame(result.findings, output)
        _say(f"findings written to {output}")
    if notify:
        _notify(config, result, workbook=None)
    raise typer.Exit(_fail_on(result.findings, fail_on))


def _notify(config, result, workbook: Path | None) -> None:
    from ordersync.reports import send_notifications

    outcome = send_notifications(config, result, workbook=workbook, lang=config.report.lang)
    for target in outcome.sent:
        _say(f"notified {target}")
    for target, problem in outcome.failed:
        err.print(f"notification to {target} failed: {config.redact(problem)}")


@command()
def findings(
    rule: Annotated[
        list[str] | None, typer.Option("--rule", "-r", help="Only this rule (repeatable).")
    ] = None,
    state_: Annotated[
        list[FindingState] | None, typer.Option("--state", help="Only this state (repeatable).")
    ] = None,
    severity: Annotated[
        list[Severity] | None, typer.Option("--severity", help="Only this severity (repeatable).")
    ] = None,
    order: Annotated[str | None, typer.Option("--order", help="Only this order id.")] = None,
    format_: Annotated[
        Format, typer.Option("--format", "-f", help="Output format.")
    ] = Format.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """List the stored findings.

    Example: ordersync findings --rule refund_not_stopped --state open --format csv -o refunds.csv
    """
    import polars as pl

    config = _config()
    frame = _store(config).findings()
    if rule:
        frame = frame.filter(pl.col(schema.RULE).is_in(rule))
    if state_:
        frame = frame.filter(pl.col(schema.STATE).cast(pl.String).is_in([s.value for s in state_]))
    if severity:
        frame = frame.filter(
            pl.col(schema.SEVERITY).cast(pl.String).is_in([s.value for s in severity])
        )
    if order:
        frame = frame.filter(pl.col(schema.ORDER_ID) == order.strip())
    result = frame.sort([schema.SEVERITY, schema.FIRST_SEEN], descending=[True, False]).collect()
    if format_ is Format.table and output is None:
        table = Table()
        for column in (
            "finding_id",
            "rule",
            "severity",
            "state",
            "order_id",
            "channel",
            "message",
            "first_seen",
        ):
            table.add_column(column)
        message = schema.MESSAGE_ZH if config.report.lang == "zh" else schema.MESSAGE_EN
        for row in result.iter_rows(named=True):
            table.add_row(
                row[schema.FINDING_ID],
                row[schema.RULE],
                str(row[schema.SEVERITY]),
                str(row[schema.STATE]),
                row[schema.ORDER_ID],
                row[schema.CHANNEL] or "",
                row[message] or "",
                row[schema.FIRST_SEEN].isoformat(timespec="minutes")
                if row[schema.FIRST_SEEN]
                else "",
            )
        out.print(table)
        _say(f"{result.height} finding(s)")
        return
    if output is None:
        if format_ is Format.parquet:
            raise UsageError("--format parquet needs --output FILE")
        if format_ is Format.csv:
            from ordersync.reports.safety import neutralise_frame

            flat = result.with_columns(pl.col(schema.SOURCES).list.join(","))
            sys.stdout.write(neutralise_frame(flat).write_csv())
        else:
            sys.stdout.write(
                result.with_columns(pl.col(schema.SOURCES).list.join(",")).write_json() + "\n"
            )
        return
    if output.suffix.lower() != f".{format_.value}" and format_ is not Format.table:
        output = output.with_suffix(f".{format_.value}")
    _write_frame(result, output)
    _say(f"{result.height} finding(s) written to {output}")


@command()
def report(
    xlsx: Annotated[Path, typer.Option("--xlsx", help="Workbook to write.")],
    lang: Annotated[
        Lang | None, typer.Option("--lang", help="Language of labels and messages.")
    ] = None,
    corrections: Annotated[
        Path | None, typer.Option("--corrections", help="Also write correction files here.")
    ] = None,
    no_mask: Annotated[
        bool, typer.Option("--no-mask", help="Show receiver names, phones and addresses in full.")
    ] = False,
) -> None:
    """Write the audit workbook (and correction files) from the last reconcile run.

    Example: ordersync report --xlsx audit.xlsx --lang en --corrections fixes/
    """
    config = _config()
    _write_reports(
        config,
        xlsx,
        lang.value if lang else config.report.lang,
        corrections,
        mask=not no_mask and config.report.mask,
    )


def _write_reports(
    config, xlsx: Path, lang: str, corrections: Path | None, *, mask: bool, result=None
):
    from ordersync.engine import latest_result
    from ordersync.reports import write_corrections, write_workbook

    store = _store(config)
    if result is None:
        result = latest_result(config, store)
    write_workbook(result, xlsx, lang=lang, mask=mask, runs=store.runs(), timezone=config.timezone)
    _say(f"workbook: {xlsx}")
    if corrections is not None:
        written = write_corrections(result, corrections, lang=lang, timezone=config.timezone)
        _say(f"correction files: {len(written)} in {corrections}")
    return result


@command()
def ack(
    finding_id: Annotated[str, typer.Argument(help="The finding's id (see `ordersync findings`).")],
    note: Annotated[str, typer.Option("--note", help="Why this finding is known and accepted.")],
) -> None:
    """Mark a finding as known; it stays out of alerts until its evidence changes.

    Example: ordersync ack 3f9c2a71d0be --note "buyer agreed to wait"
    """
    config = _config()
    store = _store(config)
    with store.writing():
        store.acknowledge(finding_id.strip(), note, datetime.now(UTC))
    _say(f"acknowledged {finding_id}")


@command()
def audit(
    fail_on: Annotated[
        Severity | None,
        typer.Option("--fail-on", help="Exit 1 if an open finding is at least this severe."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Judge as of this time (default: now).")
    ] = None,
    incremental: Annotated[
        bool, typer.Option(help="Re-evaluate only orders changed since the last run.")
    ] = False,
) -> None:
    """Pull, reconcile, write the report and notify: the whole job, for cron.

    Example (crontab): 0 6 * * * ordersync --config /etc/ordersync.yaml audit --fail-on critical
    """
    config = _config()
    _print_pull(_run_pull(config, None, False))
    result = _run_reconcile(
        config,
        as_of=_parse_moment(as_of, config.timezone, option="--as-of"),
        incremental=incremental,
    )
    _print_reconcile(result)
    workbook = config.resolve_path(config.report.xlsx or "ordersync-report.xlsx")
    corrections = (
        config.resolve_path(config.report.corrections) if config.report.corrections else None
    )
    _write_reports(
        config, workbook, config.report.lang, corrections, mask=config.report.mask, result=result
    )
    _notify(config, result, workbook=workbook)
    raise typer.Exit(_fail_on(result.findings, fail_on))


@command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Where to write the sample world.")] = Path(
        "ordersync-demo"
    ),
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same world.")] = 7,
    orders: Annotated[int, typer.Option(help="Number of channel orders.")] = 3000,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the report.")] = Lang.zh,
) -> None:
    """Make a sample multi-channel world and run the whole job on it.

    Example: ordersync demo /tmp/world --orders 5000
    """
    from ordersync.config import load_config
    from ordersync.samples import generate_world, snapshot_config

    _say(f"writing a sample world of {orders:,} orders to {directory} …")
    world = generate_world(directory, seed=seed, orders=orders)
    state.config_path = world.config_path
    config = load_config(world.config_path, data_dir=state.data_dir)
    # The world is a moment in the past (world.as_of); its pulls are dated just before it, so
    # the history the rules read is what a store would have held then. Earlier snapshots of an
    # export come first, one pull each: frequent_changes judges that history.
    pulled_at = world.as_of - timedelta(hours=2)
    for step, (source, path) in enumerate(world.snapshots):
        _say(f"pulling an earlier snapshot of {source}: {path.name}")
        snapshot = snapshot_config(config, source, path)
        _print_pull(_run_pull(snapshot, [source], False, now=pulled_at + timedelta(minutes=step)))
    _print_pull(_run_pull(config, None, False, now=world.as_of - timedelta(minutes=5)))
    result = _run_reconcile(config, as_of=world.as_of)
    _print_reconcile(result)
    workbook = directory / "report" / f"ordersync-report-{lang.value}.xlsx"
    _write_reports(
        config, workbook, lang.value, directory / "report" / "corrections", mask=True, result=result
    )
    out.print(
        f"\nsample world: {directory}  ·  config: {world.config_path}  ·  ground truth: {world.truth_path}\n"
        f"open the workbook: {workbook}"
    )


def main() -> None:
    """Console entry point."""
    try:
        code = app(standalone_mode=False)
    except typer.Exit as exc:  # raised by commands for their exit code
        code = exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        code = 130
    except Exception as exc:
        code = _usage_or_bug(exc)
    raise SystemExit(code or 0)


def _usage_or_bug(exc: Exception) -> int:
    """Click's own usage errors exit 2 with its message; anything else is a bug."""
    if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
        err.print(f"error: {exc.format_message()}", markup=False)
        return 2
    if type(exc).__name__ == "Abort":
        return 130
    if state.debug or os.environ.get("ORDERSYNC_DEBUG"):
        raise exc
    err.print(
        f"internal error ({type(exc).__name__}): {exc}. Re-run with --debug for the traceback and report it.",
        markup=False,
    )
    return 70
