"""The short markdown message a chat bot or mail carries after a run.

It answers "do I need to act now?": new critical/high findings by rule with a few example
orders, the money at risk, what could not be checked, and where the full workbook is.
Acknowledged findings are left out; someone already owns them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from ordersync import schema
from ordersync.findings import ReconcileResult
from ordersync.reports import labels
from ordersync.reports.labels import Lang

EXAMPLES_PER_RULE = 5
# WeCom's markdown messages stop at 4,096 bytes; DingTalk and Feishu allow more.
MAX_BYTES = 4000
URGENT = ("critical", "high")


def new_urgent(findings: pl.DataFrame) -> pl.DataFrame:
    """Open critical/high findings first seen in this run (first_seen == last_seen)."""
    frame = schema.conform(findings, schema.FINDINGS_SCHEMA)
    return frame.filter(
        (pl.col(schema.STATE) == "open")
        & pl.col(schema.SEVERITY).cast(pl.String).is_in(URGENT)
        & (pl.col(schema.FIRST_SEEN) == pl.col(schema.LAST_SEEN))
    )


def digest_markdown(
    result: ReconcileResult,
    *,
    lang: Lang = "zh",
    workbook: Path | None = None,
    timezone: str | None = None,
) -> str:
    """A few lines of markdown summarising what needs attention after `result`."""
    lang = labels.check_lang(lang)
    t = labels.text
    findings = schema.conform(result.findings, schema.FINDINGS_SCHEMA)
    message_col = schema.MESSAGE_ZH if lang == "zh" else schema.MESSAGE_EN

    lines = [f"## {t('digest_title', lang, as_of=_when(result.as_of, timezone))}"]
    open_now = findings.filter(pl.col(schema.STATE) == "open")
    by_sev = dict(open_now.group_by(schema.SEVERITY).len().iter_rows())
    counts = ", ".join(
        f"{labels.severity_name(s, lang)} {by_sev.get(s, 0)}" for s in reversed(schema.SEVERITIES)
    )
    lines.append(f"- {t('money_at_risk', lang)}: **¥{result.money_at_risk:,.2f}**")
    lines.append(f"- {t('digest_open', lang)}: {counts}")
    lines.append(
        f"- {t('new', lang)} {result.new} · {t('still_open', lang)} {result.still_open}"
        f" · {t('resolved', lang)} {result.resolved}"
    )

    urgent = new_urgent(findings)
    if urgent.is_empty():
        lines += ["", f"{t('digest_nothing_new', lang)}."]
    else:
        lines += ["", f"### {t('digest_new', lang)} ({urgent.height})"]
        per_rule = urgent.group_by(schema.RULE).agg(
            pl.col(schema.SEVERITY).max().alias("worst"), pl.len().alias("n")
        )
        ranked = sorted(
            per_rule.iter_rows(),
            key=lambda row: (-schema.SEVERITIES.index(row[1]), _rule_rank(row[0])),
        )
        for rule, worst, n in ranked:
            lines.append(
                f"**{labels.rule_name(rule, lang)}** ({labels.severity_name(worst, lang)}) × {n}"
            )
            examples = (
                urgent.filter(pl.col(schema.RULE) == rule)
                .sort(schema.AMOUNT, schema.ORDER_ID, descending=[True, False], nulls_last=True)
                .head(EXAMPLES_PER_RULE)
            )
            for order_id, channel, message in examples.select(
                schema.ORDER_ID, schema.CHANNEL, message_col
            ).iter_rows():
                text = f"- `{order_id}` {channel or ''}"
                lines.append(f"{text}: {_one_line(message)}" if message else text)
            if n > EXAMPLES_PER_RULE:
                lines.append(f"- … {t('digest_more', lang, n=n - EXAMPLES_PER_RULE)}")

    if result.not_checked:
        lines += ["", f"### {t('not_checked', lang)}"]
        for item in result.not_checked:
            reason = item.reason_zh if lang == "zh" else item.reason_en
            orders = f" ({t('n_orders', lang, n=item.orders)})" if item.orders else ""
            lines.append(
                f"- {labels.rule_name(item.rule, lang)} · {item.scope}: {_one_line(reason)}{orders}"
            )
    tail = f"\n\n{t('digest_workbook', lang)}: {workbook}" if workbook is not None else ""
    return _fit("\n".join(lines), tail, lang)


def _rule_rank(rule: str) -> int:
    return schema.RULES.index(rule) if rule in schema.RULES else len(schema.RULES)


def _when(moment: datetime, timezone: str | None) -> str:
    if timezone and moment.tzinfo is not None:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is not None:
            return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M ") + timezone
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fit(text: str, tail: str, lang: Lang) -> str:
    """Cut at a line boundary so a chat bot does not reject the message for its size.

    The tail (where the workbook is) always survives: it is where the rest can be read.
    """
    if len((text + tail).encode()) <= MAX_BYTES:
        return text + tail
    note = labels.text("digest_truncated", lang)
    budget = MAX_BYTES - len(note.encode()) - len(tail.encode()) - 1
    kept: list[str] = []
    used = 0
    for line in text.split("\n"):
        size = len(line.encode()) + 1
        if used + size > budget:
            break
        kept.append(line)
        used += size
    return "\n".join([*kept, note]) + tail
