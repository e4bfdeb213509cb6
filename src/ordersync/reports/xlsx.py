"""The Excel audit workbook: a Summary sheet, one sheet per rule, and the resolved findings.

The workbook is streamed (xlsxwriter constant_memory): each sheet is written top to bottom,
row by row, so a million findings need no more memory than a few. Everything is planned first
(sheet names, row counts) because a streamed sheet cannot be revisited.

Excel has no time zones: every time is converted to `timezone` and the header says which.
Buyer text is always written as a text cell, never a formula, whatever it starts with.

Each detail sheet is rendered in chunks with Polars (labels, masking, evidence cells, the
plain/quoted choice for text) so the write loop only steps over precomputed values and calls
write_string / write_number / write_datetime with a precomputed format; never write() or
write_row(), whose type detection must not see buyer text. Evidence the vectorised path does not
cover (see evidence.fast_cells) is rendered row by row with evidence.CellMaker.

Rendering runs one step ahead on a worker thread (the next chunk's cells, the next sheet's
evidence columns) while this thread writes: xlsxwriter's per-cell calls hold the GIL, Polars
releases it, so on a machine with two cores the rendering costs almost no wall time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import xlsxwriter  # type: ignore[import-untyped]
from xlsxwriter.exceptions import XlsxWriterException  # type: ignore[import-untyped]
from xlsxwriter.format import Format  # type: ignore[import-untyped]
from xlsxwriter.worksheet import Worksheet  # type: ignore[import-untyped]

from ordersync import schema
from ordersync.errors import UsageError
from ordersync.findings import ReconcileResult
from ordersync.reports import evidence as ev
from ordersync.reports import labels
from ordersync.reports.labels import Lang
from ordersync.reports.safety import (
    EXCEL_MAX_TEXT,
    FORMULA_STARTS,
    atomic_path,
    excel_text,
    sheet_name,
)

EXCEL_MAX_DATA_ROWS = 1_048_575
TREND_RUNS = 30
AGE_DAYS = "age_days"
MESSAGE = "message"

SEVERITY_COLOURS = {
    "critical": ("#C00000", "#FFFFFF"),
    "high": ("#F4B183", "#000000"),
    "medium": ("#FFE699", "#000000"),
    "low": ("#9DC3E6", "#000000"),
}
SEVERITY_ORDER = tuple(reversed(schema.SEVERITIES))  # critical first
DATE_FORMAT = "yyyy-mm-dd hh:mm"
MONEY_FORMAT = "#,##0.00"

_T = TypeVar("_T")

RUNS_COLUMNS = (
    "run_id",
    "started_at",
    "as_of",
    "new",
    "still_open",
    "resolved",
    "open_critical",
    "open_high",
    "open_medium",
    "open_low",
    "money_at_risk",
)


@dataclass(frozen=True)
class _SheetPlan:
    name: str
    rule: str | None  # None: the resolved sheet
    offset: int
    length: int


@dataclass(frozen=True)
class _Job:
    result: ReconcileResult
    findings: pl.DataFrame
    runs: pl.DataFrame | None
    lang: Lang
    mask: bool
    zone: ZoneInfo
    timezone: str


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self.text = wb.add_format({"valign": "top"})
        # quote_prefix keeps the cell text even when someone edits it in Excel later.
        self.quoted = wb.add_format({"valign": "top", "quote_prefix": True})
        self.header = wb.add_format(
            {
                "bold": True,
                "bg_color": "#1F4E78",
                "font_color": "#FFFFFF",
                "text_wrap": True,
                "valign": "top",
                "border": 1,
            }
        )
        self.date = wb.add_format({"num_format": DATE_FORMAT, "valign": "top"})
        self.money = wb.add_format({"num_format": MONEY_FORMAT, "valign": "top"})
        self.age = wb.add_format({"num_format": "0.0", "valign": "top"})
        self.int = wb.add_format({"num_format": "#,##0", "valign": "top"})
        self.title = wb.add_format({"bold": True, "font_size": 16})
        self.section = wb.add_format({"bold": True, "font_size": 12, "font_color": "#1F4E78"})
        self.label = wb.add_format({"bold": True})
        self.note = wb.add_format({"italic": True, "font_color": "#595959"})
        self.big_money = wb.add_format({"num_format": "¥#,##0.00", "bold": True, "font_size": 14})
        self.link = wb.add_format({"font_color": "#0563C1", "underline": 1})
        self.total = wb.add_format({"bold": True, "top": 1, "num_format": "#,##0"})
        self.severity = {
            sev: wb.add_format(
                {"bg_color": bg, "font_color": fg, "bold": sev == "critical", "valign": "top"}
            )
            for sev, (bg, fg) in SEVERITY_COLOURS.items()
        }


def write_workbook(
    result: ReconcileResult,
    path: Path,
    *,
    lang: Lang = "zh",
    mask: bool = True,
    runs: pl.DataFrame | None = None,
    max_rows_per_sheet: int = EXCEL_MAX_DATA_ROWS,
    timezone: str = "UTC",
) -> Path:
    """Write the audit workbook for `result` to `path` atomically and return the path."""
    lang = labels.check_lang(lang)
    if not 1 <= max_rows_per_sheet <= EXCEL_MAX_DATA_ROWS:
        raise UsageError(
            f"max_rows_per_sheet must be between 1 and {EXCEL_MAX_DATA_ROWS}, "
            f"got {max_rows_per_sheet}"
        )
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown timezone {timezone!r}; expected e.g. Asia/Shanghai") from None

    path = Path(path)
    findings = _prepare(result, lang, timezone)
    taken: set[str] = set()
    summary_name = sheet_name(labels.text("summary_sheet", lang), taken)
    plans = _plan_sheets(findings, lang, max_rows_per_sheet, taken)

    try:
        with atomic_path(path) as tmp:
            wb = xlsxwriter.Workbook(
                str(tmp),
                {
                    "constant_memory": True,
                    "strings_to_formulas": False,
                    "strings_to_urls": False,
                    "strings_to_numbers": False,
                },
            )
            job = _Job(result, findings, runs, lang, mask, zone, timezone)
            try:
                _write_sheets(wb, summary_name, plans, job)
            except BaseException:
                _discard_temp_files(wb)
                raise
            try:
                wb.close()
            finally:
                _discard_temp_files(wb)
    except (OSError, XlsxWriterException) as exc:
        raise UsageError(
            f"cannot write the workbook {path}: {exc}; check that the folder exists and is writable"
        ) from None
    return path


def _write_sheets(
    wb: xlsxwriter.Workbook, summary_name: str, plans: list[_SheetPlan], job: _Job
) -> None:
    wb.set_properties({"title": labels.text("title", job.lang), "comments": job.result.run_id})
    fmt = _Formats(wb)
    _write_summary(
        wb,
        fmt,
        summary_name,
        job.result,
        job.findings,
        plans,
        job.runs,
        job.lang,
        job.mask,
        job.zone,
    )
    for plan, part, ev_columns in _ahead(_sheet_parts(plans, job.findings)):
        if plan.rule is None:
            _write_resolved(wb, fmt, plan, part, job.lang, job.timezone)
        else:
            _write_rule_sheet(
                wb, fmt, plan, part, ev_columns, job.lang, job.mask, job.zone, job.timezone
            )


@dataclass(frozen=True)
class _Part:
    """A sheet's rows: positions in the findings frame, in sheet order. Rows are gathered a
    chunk at a time, so no sorted copy of a rule's findings (mostly evidence) is held."""

    findings: pl.DataFrame
    positions: pl.Series

    @property
    def height(self) -> int:
        return self.positions.len()

    def rows(self, offset: int, length: int) -> pl.DataFrame:
        return self.findings.select(pl.all().gather(self.positions.slice(offset, length)))

    def evidence(self) -> pl.Series:
        return self.findings.get_column(schema.EVIDENCE).gather(self.positions)


def _sheet_parts(
    plans: list[_SheetPlan], findings: pl.DataFrame
) -> Iterator[Callable[[], tuple[_SheetPlan, _Part, list[ev.EvidenceColumn]]]]:
    """Per plan, a job that returns its rows and the evidence columns its sheet shows.
    Parts of one rule are consecutive plans; each rule's rows are sorted once."""
    current: tuple[str | None, pl.Series] | None = None

    def job(plan: _SheetPlan) -> tuple[_SheetPlan, _Part, list[ev.EvidenceColumn]]:
        nonlocal current
        if current is None or current[0] != plan.rule:
            current = (plan.rule, _sheet_order(findings, plan.rule))
        part = _Part(findings, current[1].slice(plan.offset, plan.length))
        if plan.rule is None:
            return plan, part, []
        return plan, part, ev.used_columns(plan.rule, part.evidence())

    for plan in plans:
        yield partial(job, plan)


def _ahead(jobs: Iterable[Callable[[], _T]]) -> Iterator[_T]:
    """The jobs' results in order, each job started on a worker thread while the caller
    still works on the previous result. Jobs run one at a time, in order."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ordersync-render") as worker:
        pending = None
        for job in jobs:
            started = worker.submit(job)
            if pending is not None:
                yield pending.result()
            pending = started
        if pending is not None:
            yield pending.result()


def _sheet_order(findings: pl.DataFrame, rule: str | None) -> pl.Series:
    """Positions of one rule's open and acknowledged findings in sheet order, or (None) of the
    resolved ones."""
    if rule is None:
        wanted = pl.col(schema.STATE) == "resolved"
        keys = [schema.RESOLVED_AT, schema.FINDING_ID]
        descending = [True, False]
    else:
        wanted = (pl.col(schema.RULE) == rule) & (pl.col(schema.STATE) != "resolved")
        keys = [
            pl.col(schema.STATE).to_physical(),
            pl.col(schema.SEVERITY).to_physical(),
            schema.FIRST_SEEN,
            schema.ORDER_ID,
            schema.FINDING_ID,
        ]
        descending = [False, True, False, False, False]
    return (
        findings.lazy()
        .with_row_index("_position")
        .filter(wanted)
        .sort(keys, descending=descending, nulls_last=True)
        .select("_position")
        .collect()
        .get_column("_position")
    )


def _discard_temp_files(wb: xlsxwriter.Workbook) -> None:
    """Close and delete the row files constant_memory keeps per sheet, even after a failure."""
    for ws in wb.worksheets():
        handle = getattr(ws, "row_data_fh", None)
        if handle is not None and not handle.closed:
            handle.close()
        name = getattr(ws, "row_data_filename", None)
        if name:
            Path(name).unlink(missing_ok=True)


# --- preparation ---------------------------------------------------------------------------


def _prepare(result: ReconcileResult, lang: Lang, timezone: str) -> pl.DataFrame:
    """Findings with times in `timezone` (naive), the message in `lang` and each one's age."""
    frame = schema.conform(result.findings, schema.FINDINGS_SCHEMA)
    as_of = result.as_of
    as_of_lit = pl.lit(as_of).cast(schema.Timestamp) if as_of.tzinfo else pl.lit(as_of)
    until = (
        pl.when(pl.col(schema.STATE) == "resolved")
        .then(pl.col(schema.RESOLVED_AT).fill_null(as_of_lit))
        .otherwise(as_of_lit)
    )
    primary, other = (
        (schema.MESSAGE_ZH, schema.MESSAGE_EN)
        if lang == "zh"
        else (schema.MESSAGE_EN, schema.MESSAGE_ZH)
    )
    local = [
        pl.col(c).dt.convert_time_zone(timezone).dt.replace_time_zone(None).alias(c)
        for c in (schema.FIRST_SEEN, schema.LAST_SEEN, schema.RESOLVED_AT, schema.ACKED_AT)
    ]
    return frame.with_columns(
        ((until - pl.col(schema.FIRST_SEEN)).dt.total_seconds() / 86400).round(1).alias(AGE_DAYS),
        pl.coalesce(primary, other).alias(MESSAGE),
    ).with_columns(local)


def _plan_sheets(
    findings: pl.DataFrame, lang: Lang, max_rows: int, taken: set[str]
) -> list[_SheetPlan]:
    is_resolved = pl.col(schema.STATE) == "resolved"
    counts = dict(findings.filter(~is_resolved).group_by(schema.RULE).len().iter_rows())
    n_resolved = findings.filter(is_resolved).height
    known = [r for r in schema.RULES if r in counts]
    unknown = sorted(r for r in counts if r not in schema.RULES)
    plans: list[_SheetPlan] = []
    for rule in known + unknown:
        plans.extend(_parts(labels.rule_name(rule, lang), rule, counts[rule], max_rows, taken))
    if n_resolved:
        base = labels.text("resolved_sheet", lang)
        plans.extend(_parts(base, None, n_resolved, max_rows, taken))
    return plans


def _parts(base: str, rule: str | None, n: int, max_rows: int, taken: set[str]) -> list[_SheetPlan]:
    plans = []
    for index in range(math.ceil(n / max_rows)):
        name = base if index == 0 else f"{base[:25]} ({index + 1})"
        offset = index * max_rows
        plans.append(_SheetPlan(sheet_name(name, taken), rule, offset, min(max_rows, n - offset)))
    return plans


# --- cells -----------------------------------------------------------------------------------


def _put(ws: Worksheet, row: int, col: int, value: Any, fmt: _Formats) -> None:
    """Write one cell by its Python type; text always as text, never a formula or URL."""
    kind = type(value)
    if kind is str:
        if value:
            if len(value) > EXCEL_MAX_TEXT:
                value = excel_text(value)
            ws.write_string(
                row, col, value, fmt.quoted if value.startswith(FORMULA_STARTS) else fmt.text
            )
    elif value is None:
        return
    elif kind is datetime:
        ws.write_datetime(row, col, value, fmt.date)
    elif kind is float:
        ws.write_number(row, col, value, fmt.money)
    elif kind is bool:
        ws.write_boolean(row, col, value)
    elif kind is int:
        ws.write_number(row, col, value, fmt.int)
    elif isinstance(value, Decimal):
        ws.write_number(row, col, float(value), fmt.money)
    elif isinstance(value, datetime):
        ws.write_datetime(row, col, value, fmt.date)
    else:
        _put(ws, row, col, str(value), fmt)


def _header(ws: Worksheet, titles: list[str], widths: Sequence[float], fmt: _Formats) -> None:
    for col, (title, width) in enumerate(zip(titles, widths, strict=True)):
        ws.set_column(col, col, width)
        ws.write_string(0, col, title, fmt.header)
    ws.set_row(0, 32)
    ws.freeze_panes(1, 0)


# --- rule sheets -----------------------------------------------------------------------------

_BASE_COLUMNS = (
    (schema.FINDING_ID, 18),
    (schema.SEVERITY, 9),
    (schema.STATE, 10),
    (schema.ORDER_ID, 22),
    (schema.CHANNEL, 10),
    (schema.DETAIL, 20),
    (MESSAGE, 40),
    (schema.AMOUNT, 11),
)
_TAIL_COLUMNS = (
    ("facts", 28),
    (schema.ACTION, 40),
    (schema.FIRST_SEEN, 17),
    (schema.LAST_SEEN, 17),
    (AGE_DAYS, 9),
    (schema.ACK_NOTE, 20),
)
_FIELD_WIDTHS = {
    schema.ADDRESS: 32,
    schema.ITEMS: 24,
    schema.TRACKING_NO: 20,
    schema.STATUS: 18,
    schema.TRACKING_STATUS: 12,
    schema.RECEIVER_NAME: 10,
    schema.RECEIVER_PHONE: 15,
    schema.CARRIER: 12,
    schema.AMOUNT: 11,
}


def _titles(keys: list[str], lang: Lang, tz: str) -> list[str]:
    titles = []
    for key in keys:
        title = labels.header(key, lang)
        if key in (schema.FIRST_SEEN, schema.LAST_SEEN, schema.RESOLVED_AT):
            title = f"{title} ({tz})"
        titles.append(title)
    return titles


def _write_rule_sheet(
    wb: xlsxwriter.Workbook,
    fmt: _Formats,
    plan: _SheetPlan,
    part: _Part,
    ev_columns: list[ev.EvidenceColumn],
    lang: Lang,
    mask: bool,
    zone: ZoneInfo,
    timezone: str,
) -> None:
    ws = wb.add_worksheet(plan.name)
    rule = plan.rule or ""
    tz_label = timezone

    base_keys = [k for k, _ in _BASE_COLUMNS]
    tail_keys = [k for k, _ in _TAIL_COLUMNS]
    titles = (
        _titles(base_keys, lang, tz_label)
        + [c.title(lang, tz_label) for c in ev_columns]
        + _titles(tail_keys, lang, tz_label)
    )
    widths = (
        [w for _, w in _BASE_COLUMNS]
        + [17 if c.is_time else _FIELD_WIDTHS.get(c.field, 14) for c in ev_columns]
        + [w for _, w in _TAIL_COLUMNS]
    )
    _header(ws, titles, widths, fmt)
    ws.autofilter(0, 0, max(part.height, 1), len(titles) - 1)

    cells: list[tuple[int, str, Format | None, pl.Expr]] = [
        *_text(0, pl.col(schema.FINDING_ID), fmt),
        *_severity(1, lang, fmt),
        *_text(2, _label(pl.col(schema.STATE).cast(pl.String), labels.STATE_NAMES, lang), fmt),
        *_text(3, pl.col(schema.ORDER_ID), fmt),
        *_text(4, pl.col(schema.CHANNEL), fmt),
        *_text(5, pl.col(schema.DETAIL), fmt),
        *_text(6, pl.col(MESSAGE), fmt),
        (7, "number", fmt.money, pl.col(schema.AMOUNT).cast(pl.Float64)),
    ]
    tail_at = len(base_keys) + len(ev_columns)
    for c, column in enumerate(ev_columns, start=len(base_keys)):
        cells.extend(_typed(c, pl.col(f"c{c - len(base_keys)}"), column, fmt))
    cells += [
        *_text(tail_at, pl.col("facts"), fmt),
        *_text(tail_at + 1, pl.col("_action"), fmt),
        (tail_at + 2, "datetime", fmt.date, pl.col(schema.FIRST_SEEN)),
        (tail_at + 3, "datetime", fmt.date, pl.col(schema.LAST_SEEN)),
        (tail_at + 4, "number", fmt.age, pl.col(AGE_DAYS)),
        *_text(tail_at + 5, pl.col(schema.ACK_NOTE), fmt),
    ]

    # Rows whose evidence the vectorised path does not cover are rendered one by one here.
    maker = ev.CellMaker(lang, zone, mask)
    indexed_columns = list(enumerate(ev_columns, start=len(base_keys)))

    def slow_row(r: int, evidence: str) -> None:
        doc = ev.parse(evidence)
        groups = maker.group(doc)
        for c, column in indexed_columns:
            value = maker.cell(groups, column)
            if value is not None:
                _put(ws, r, c, value, fmt)
        _put(ws, r, tail_at, ev.facts_text(doc), fmt)

    def prepare(chunk: pl.DataFrame) -> pl.DataFrame:
        evidence = chunk.get_column(schema.EVIDENCE)
        extra, slow = ev.fast_cells(evidence, ev_columns, lang, timezone, mask)
        return _with_action_texts(
            chunk.hstack(extra).with_columns(
                pl.when(slow).then(pl.col(schema.EVIDENCE)).alias(_SLOW)
            ),
            rule,
            lang,
        )

    _write_part(ws, part, cells, prepare, slow_row)


WRITE_CHUNK = 10_000  # rows rendered at a time: bounds the memory of the decoded evidence
_SLOW = "_slow"  # a chunk's column: the evidence of the rows fast_cells does not cover


def _write_part(
    ws: Worksheet,
    part: _Part,
    cells: list[tuple[int, str, Format | None, pl.Expr]],
    prepare: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    slow_row: Callable[[int, str], None] | None = None,
) -> None:
    """Write a sheet's rows WRITE_CHUNK at a time; each chunk is rendered (`prepare`, then the
    cells) on the worker thread while the chunk before it is written."""

    def render(offset: int) -> _Rendered:
        chunk = part.rows(offset, WRITE_CHUNK)
        return _rendered(offset + 1, prepare(chunk) if prepare else chunk, cells)

    offsets = range(0, part.height, WRITE_CHUNK)
    for rendered in _ahead(partial(render, offset) for offset in offsets):
        _write_rows(ws, rendered, slow_row)


_FORMULA_START = "^[" + "".join(re.escape(c) for c in FORMULA_STARTS) + "]"


def _text(col: int, value: pl.Expr, fmt: _Formats) -> list[tuple[int, str, Format, pl.Expr]]:
    """A text cell as two candidates: plain, or quoted when it looks like a formula."""
    value = pl.when(value != "").then(value)
    too_long = (value.str.len_bytes() > EXCEL_MAX_TEXT) & (value.str.len_chars() > EXCEL_MAX_TEXT)
    value = pl.when(too_long).then(value.str.slice(0, EXCEL_MAX_TEXT - 1) + "…").otherwise(value)
    risky = value.str.contains(_FORMULA_START)
    return [
        (col, "string", fmt.text, pl.when(~risky).then(value)),
        (col, "string", fmt.quoted, pl.when(risky).then(value)),
    ]


def _typed(
    col: int, value: pl.Expr, column: ev.EvidenceColumn, fmt: _Formats
) -> list[tuple[int, str, Format, pl.Expr]]:
    """An evidence cell as fast_cells types it: a time, an amount or text."""
    if column.is_time:
        return [(col, "datetime", fmt.date, value)]
    if column.is_money:
        return [(col, "number", fmt.money, value)]
    return _text(col, value, fmt)


def _severity(col: int, lang: Lang, fmt: _Formats) -> list[tuple[int, str, Format, pl.Expr]]:
    severity = pl.col(schema.SEVERITY).cast(pl.String)
    return [
        (col, "string", fmt.severity[s], pl.when(severity == s).then(pl.lit(name)))
        for s in schema.SEVERITIES
        for name in (labels.severity_name(s, lang),)
    ]


def _label(column: pl.Expr, pairs: dict[str, tuple[str, str]], lang: Lang) -> pl.Expr:
    index = 0 if lang == "zh" else 1
    mapping = {key: pair[index] for key, pair in pairs.items()}
    return column.replace_strict(mapping, default=column, return_dtype=pl.String)


def _with_action_texts(chunk: pl.DataFrame, rule: str, lang: Lang) -> pl.DataFrame:
    """Add each row's suggested action (`_action`), worked out once per (action, detail)."""
    keys = chunk.select(schema.ACTION, schema.DETAIL).unique()
    lookup = keys.with_columns(
        pl.Series(
            "_action",
            [labels.action_text(rule, detail, action, lang) for action, detail in keys.iter_rows()],
            dtype=pl.String,
        )
    )
    return chunk.join(
        lookup,
        on=[schema.ACTION, schema.DETAIL],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )


@dataclass(frozen=True)
class _Rendered:
    """A chunk's cells, ready to write: per column kept, (column, writer kind, format), and
    the values row by row (last, when the chunk has a `_SLOW` column: the evidence of rows
    rendered one by one)."""

    first_row: int
    specs: list[tuple[int, str, Format | None]]
    values: pl.DataFrame


def _rendered(
    first_row: int, chunk: pl.DataFrame, cells: list[tuple[int, str, Format | None, pl.Expr]]
) -> _Rendered:
    values = chunk.select(expr.alias(f"_v{i}") for i, (_, _, _, expr) in enumerate(cells))
    # Leave out the candidates that are empty throughout the chunk (the quoted variant of
    # ordinary text, severities not present, ...): fewer values to step over per row.
    kept = [i for i, column in enumerate(values.get_columns()) if column.null_count() < len(column)]
    specs = [cells[i][:3] for i in kept]
    values = values.select(values.columns[i] for i in kept)
    if _SLOW in chunk.columns:
        values = values.with_columns(chunk.get_column(_SLOW))
    return _Rendered(first_row, specs, values)


def _write_rows(
    ws: Worksheet, rendered: _Rendered, slow_row: Callable[[int, str], None] | None = None
) -> None:
    """Write precomputed cells: each row's non-null values, each with its column's format.

    Every text value goes through write_string (never write()/write_row's type detection).
    """
    writers = {
        "string": ws.write_string,
        "number": ws.write_number,
        "datetime": ws.write_datetime,
    }
    specs = [(c, writers[kind], cell_format) for c, kind, cell_format in rendered.specs]
    has_slow = _SLOW in rendered.values.columns
    for r, row in enumerate(rendered.values.iter_rows(), start=rendered.first_row):
        for (c, write, cell_format), value in zip(specs, row, strict=False):
            if value is not None:
                write(r, c, value, cell_format)
        if has_slow and slow_row is not None and row[-1] is not None:
            slow_row(r, row[-1])


def _write_resolved(
    wb: xlsxwriter.Workbook,
    fmt: _Formats,
    plan: _SheetPlan,
    part: _Part,
    lang: Lang,
    timezone: str,
) -> None:
    ws = wb.add_worksheet(plan.name)
    keys = [
        schema.FINDING_ID,
        schema.RULE,
        schema.SEVERITY,
        schema.ORDER_ID,
        schema.CHANNEL,
        schema.DETAIL,
        MESSAGE,
        schema.AMOUNT,
        schema.FIRST_SEEN,
        schema.LAST_SEEN,
        schema.RESOLVED_AT,
        AGE_DAYS,
    ]
    widths = [18, 16, 9, 22, 10, 20, 40, 11, 17, 17, 17, 9]
    _header(ws, _titles(keys, lang, timezone), widths, fmt)
    ws.autofilter(0, 0, max(part.height, 1), len(keys) - 1)
    cells: list[tuple[int, str, Format | None, pl.Expr]] = [
        *_text(0, pl.col(schema.FINDING_ID), fmt),
        *_text(1, _label(pl.col(schema.RULE).fill_null(""), labels.RULE_NAMES, lang), fmt),
        *_severity(2, lang, fmt),
        *_text(3, pl.col(schema.ORDER_ID), fmt),
        *_text(4, pl.col(schema.CHANNEL), fmt),
        *_text(5, pl.col(schema.DETAIL), fmt),
        *_text(6, pl.col(MESSAGE), fmt),
        (7, "number", fmt.money, pl.col(schema.AMOUNT).cast(pl.Float64)),
        (8, "datetime", fmt.date, pl.col(schema.FIRST_SEEN)),
        (9, "datetime", fmt.date, pl.col(schema.LAST_SEEN)),
        (10, "datetime", fmt.date, pl.col(schema.RESOLVED_AT)),
        (11, "number", fmt.age, pl.col(AGE_DAYS)),
    ]
    _write_part(ws, part, cells)


# --- summary ---------------------------------------------------------------------------------


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(zone).replace(tzinfo=None)


def _sheet_ref(name: str) -> str:
    return "internal:'" + name.replace("'", "''") + "'!A1"


def _trend(
    result: ReconcileResult, findings: pl.DataFrame, runs: pl.DataFrame | None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if runs is not None and runs.height:
        present = [c for c in RUNS_COLUMNS if c in runs.columns]
        rows = (
            runs.select(present)
            .sort("started_at" if "started_at" in present else present[0])
            .to_dicts()
        )
    if not any(r.get("run_id") == result.run_id for r in rows):
        open_now = findings.filter(pl.col(schema.STATE) == "open")
        by_sev = dict(open_now.group_by(schema.SEVERITY).len().iter_rows())
        rows.append(
            {
                "run_id": result.run_id,
                "started_at": result.started_at,
                "as_of": result.as_of,
                "new": result.new,
                "still_open": result.still_open,
                "resolved": result.resolved,
                **{f"open_{s}": by_sev.get(s, 0) for s in schema.SEVERITIES},
                "money_at_risk": result.money_at_risk,
            }
        )
    return rows[-TREND_RUNS:]


def _write_summary(
    wb: xlsxwriter.Workbook,
    fmt: _Formats,
    name: str,
    result: ReconcileResult,
    findings: pl.DataFrame,
    plans: list[_SheetPlan],
    runs: pl.DataFrame | None,
    lang: Lang,
    mask: bool,
    zone: ZoneInfo,
) -> None:
    ws = wb.add_worksheet(name)
    ws.set_column(0, 0, 30)
    ws.set_column(1, 9, 16)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    t = labels.text

    def put(row: int, col: int, value: Any, cell_format: Format | None = None) -> None:
        if cell_format is not None and isinstance(value, str):
            ws.write_string(row, col, excel_text(value), cell_format)
        elif cell_format is not None and isinstance(value, int | float | Decimal):
            ws.write_number(row, col, float(value), cell_format)
        elif isinstance(value, int) and not isinstance(value, bool):
            ws.write_number(row, col, value, fmt.int)
        else:
            _put(ws, row, col, value, fmt)

    r = 0
    ws.set_row(0, 24)
    put(r, 0, t("title", lang), fmt.title)
    r += 1
    for key, value in (
        ("run_id", result.run_id),
        ("as_of", _local(result.as_of, zone)),
        ("started_at", _local(result.started_at, zone)),
        ("timezone", zone.key),
    ):
        put(r, 0, t(key, lang), fmt.label)
        put(r, 1, value)
        r += 1
    put(r, 0, t("time_note", lang, tz=zone.key), fmt.note)
    r += 1
    if mask:
        put(r, 0, t("masked_note", lang), fmt.note)
        r += 1
    r += 1

    put(r, 0, t("money_at_risk", lang), fmt.label)
    put(r, 1, result.money_at_risk, fmt.big_money)
    r += 1
    put(r, 0, t("since_previous", lang), fmt.section)
    r += 1
    for key, count in (
        ("new", result.new),
        ("still_open", result.still_open),
        ("resolved", result.resolved),
    ):
        put(r, 0, t(key, lang), fmt.label)
        put(r, 1, count)
        r += 1
    r += 1

    # Findings by rule × severity, with a link to each rule's first sheet.
    active = findings.filter(pl.col(schema.STATE) != "resolved")
    counts = {
        (rule, sev): n
        for rule, sev, n in active.group_by(schema.RULE, schema.SEVERITY).len().iter_rows()
    }
    acked = dict(
        active.filter(pl.col(schema.STATE) == "acknowledged")
        .group_by(schema.RULE)
        .len()
        .iter_rows()
    )
    first_sheet: dict[str | None, str] = {}
    for plan in plans:
        first_sheet.setdefault(plan.rule, plan.name)
    listed = set(result.rules_run) | {rule for rule, _ in counts}
    rules = [x for x in schema.RULES if x in listed] + sorted(listed - set(schema.RULES))

    put(r, 0, t("by_rule", lang), fmt.section)
    r += 1
    table_head = r
    heads = [labels.header(schema.RULE, lang)]
    heads += [labels.severity_name(s, lang) for s in SEVERITY_ORDER]
    heads += [t("total", lang), t("of_which_acked", lang)]
    ws.set_row(r, 30)  # room for the wrapped headers
    for col, title in enumerate(heads):
        put(r, col, title, fmt.header)
    r += 1
    totals = [0] * (len(SEVERITY_ORDER) + 2)
    for rule in rules:
        label = labels.rule_name(rule, lang)
        if rule in first_sheet:
            ws.write_url(r, 0, _sheet_ref(first_sheet[rule]), fmt.link, string=label)
        else:
            put(r, 0, label)
        row_counts = [counts.get((rule, s), 0) for s in SEVERITY_ORDER]
        row_counts += [sum(row_counts), acked.get(rule, 0)]
        for col, n in enumerate(row_counts, start=1):
            ws.write_number(r, col, n, fmt.int)
            totals[col - 1] += n
        r += 1
    rule_rows = (table_head + 1, r - 1)
    put(r, 0, t("total", lang), fmt.total)
    for col, n in enumerate(totals, start=1):
        ws.write_number(r, col, n, fmt.total)
    r += 2

    if rules:
        chart = wb.add_chart({"type": "bar", "subtype": "stacked"})
        for index, sev in enumerate(SEVERITY_ORDER, start=1):
            chart.add_series(
                {
                    "name": [name, table_head, index],
                    "categories": [name, rule_rows[0], 0, rule_rows[1], 0],
                    "values": [name, rule_rows[0], index, rule_rows[1], index],
                    "fill": {"color": SEVERITY_COLOURS[sev][0]},
                    "border": {"none": True},
                }
            )
        chart.set_title({"name": t("chart_rules", lang)})
        chart.set_y_axis({"reverse": True})
        chart.set_legend({"position": "bottom"})
        chart.set_size({"width": 620, "height": 60 + 26 * max(len(rules), 6)})
        ws.insert_chart(1, 11, chart)

    # Orders checked per source and channel.
    put(r, 0, t("orders_checked", lang), fmt.section)
    r += 1
    checked = result.orders_checked
    cols = [c for c in ("source", "source_kind", "channel", "orders") if c in checked.columns]
    for col, key in enumerate(cols):
        put(
            r,
            col,
            t(key, lang) if key != "channel" else labels.header(schema.CHANNEL, lang),
            fmt.header,
        )
    r += 1
    total_orders = 0
    sort_keys = [c for c in ("source_kind", "source", "channel") if c in cols]
    for row in checked.select(cols).sort(sort_keys, nulls_last=True).iter_rows(named=True):
        for col, key in enumerate(cols):
            value = row[key]
            if key == "source_kind" and value is not None:
                value = labels.kind_name(str(value), lang)
            put(r, col, value)
        total_orders += int(row.get("orders") or 0)
        r += 1
    if "orders" in cols:
        put(r, 0, t("total", lang), fmt.total)
        ws.write_number(r, cols.index("orders"), total_orders, fmt.total)
        r += 1
    r += 1

    # What could not be judged, so a clean report is not mistaken for a clean business.
    put(r, 0, t("not_checked", lang), fmt.section)
    r += 1
    if result.not_checked:
        # The reason goes last so long text can run on into the empty cells to its right.
        ws.set_row(r, 30)
        for col, key in enumerate(("rule", "scope", "orders", "reason")):
            put(
                r,
                col,
                t(key, lang) if key != "rule" else labels.header(schema.RULE, lang),
                fmt.header,
            )
        r += 1
        for item in result.not_checked:
            put(r, 0, labels.rule_name(item.rule, lang))
            put(r, 1, item.scope)
            put(r, 2, item.orders)
            put(r, 3, item.reason_zh if lang == "zh" else item.reason_en)
            r += 1
    else:
        put(r, 0, t("none", lang), fmt.note)
        r += 1
    r += 1

    # Trend over the recent runs, then a line chart of it.
    trend = _trend(result, findings, runs)
    put(r, 0, t("trend", lang), fmt.section)
    r += 1
    trend_keys = (
        "run_id",
        "as_of",
        "new",
        "still_open",
        "resolved",
        "open_critical",
        "open_high",
        "open_medium",
        "open_low",
        "money_at_risk",
    )
    trend_head = r
    ws.set_row(r, 30)
    for col, key in enumerate(trend_keys):
        title = f"{t(key, lang)} ({zone.key})" if key == "as_of" else t(key, lang)
        put(r, col, title, fmt.header)
    r += 1
    for row in trend:
        for col, key in enumerate(trend_keys):
            value = row.get(key)
            if isinstance(value, datetime):
                value = _local(value, zone)
            if key == "money_at_risk" and isinstance(value, Decimal | int | float):
                ws.write_number(r, col, float(value), fmt.money)
            else:
                put(r, col, value)
        r += 1
    trend_rows = (trend_head + 1, r - 1)
    line = wb.add_chart({"type": "line"})
    for col, key in enumerate(trend_keys):
        if key.startswith("open_"):
            colour = SEVERITY_COLOURS[key.removeprefix("open_")][0]
            line.add_series(
                {
                    "name": [name, trend_head, col],
                    "categories": [name, trend_rows[0], 1, trend_rows[1], 1],
                    "values": [name, trend_rows[0], col, trend_rows[1], col],
                    "line": {"color": colour, "width": 2.25},
                    "marker": {
                        "type": "circle",
                        "size": 5,
                        "fill": {"color": colour},
                        "border": {"color": colour},
                    },
                }
            )
    line.set_title({"name": t("chart_trend", lang)})
    line.set_x_axis({"text_axis": True, "num_format": "mm-dd hh:mm", "num_font": {"rotation": -30}})
    line.set_legend({"position": "bottom"})
    line.set_size({"width": 620, "height": 300})
    ws.insert_chart(max(24, 3 + len(rules)) + 8, 11, line)
    r += 1

    # Links to every detail sheet.
    put(r, 0, t("sheets", lang), fmt.section)
    r += 1
    put(r, 0, t("sheets", lang), fmt.header)
    put(r, 1, t("rows", lang), fmt.header)
    r += 1
    for plan in plans:
        ws.write_url(r, 0, _sheet_ref(plan.name), fmt.link, string=plan.name)
        ws.write_number(r, 1, plan.length, fmt.int)
        r += 1
