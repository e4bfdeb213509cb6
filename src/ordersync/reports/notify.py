"""Send the digest to every `notify:` target through apprise.

WeCom (wecombot://), DingTalk (dingtalk://), Feishu (feishu://), Slack, mail (mailto://) and
plain webhooks (json:// / jsons://) all take the same markdown. One failing target never stops
the others and never raises: the audit job has already done its work, and a chat outage must
not turn a nightly run red. Failures come back with the error text, secrets removed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import apprise

from ordersync.config import Config, NotifyTarget
from ordersync.findings import ReconcileResult
from ordersync.reports import labels
from ordersync.reports.digest import digest_markdown, new_urgent
from ordersync.reports.labels import Lang


@dataclass
class NotifyOutcome:
    """Which targets got the digest and which did not (with the reason)."""

    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: str | None = None  # why nothing was sent, when nothing needed saying

    @property
    def ok(self) -> bool:
        return not self.failed


def send_notifications(
    config: Config,
    result: ReconcileResult,
    *,
    workbook: Path | None = None,
    lang: Lang = "zh",
    always: bool = False,
) -> NotifyOutcome:
    """Send the digest to each target in config.notify; never raises for a failing target.

    Without `always`, nothing is sent when the run found no new critical/high finding, so a
    job that runs every few minutes does not repeat itself.
    """
    lang = labels.check_lang(lang)
    outcome = NotifyOutcome()
    if not config.notify:
        outcome.skipped = "no notify targets configured"
        return outcome
    if not always and new_urgent(result.findings).is_empty():
        outcome.skipped = "no new critical/high findings"
        return outcome
    body = digest_markdown(result, lang=lang, workbook=workbook, timezone=config.timezone)
    # The digest's first line is its heading; chat bots show the title separately.
    title, _, body = body.partition("\n")
    title = title.lstrip("# ")
    for target in config.notify:
        name, error = _send(target, title, body, config)
        if error is None:
            outcome.sent.append(name)
        else:
            outcome.failed.append((name, error))
    return outcome


def _send(target: NotifyTarget, title: str, body: str, config: Config) -> tuple[str, str | None]:
    name = config.redact(target.name or _scheme(target.url) + "://…")
    try:
        client = apprise.Apprise()
        with apprise.LogCapture(level=logging.WARNING) as log:
            if not client.add(target.url):
                return name, "not a notification URL apprise understands (check the scheme)"
            plugin = client[0]
            if not target.name:
                name = config.redact(plugin.url(privacy=True).split("?", 1)[0])
            ok = client.notify(body=body, title=title, body_format=apprise.NotifyFormat.MARKDOWN)
            captured = log.getvalue().strip()
    except Exception as exc:  # a plugin bug must not stop the other targets
        return name, config.redact(f"{type(exc).__name__}: {exc}")
    if ok:
        return name, None
    reason = _last_lines(captured) or "the service did not accept the notification"
    return name, config.redact(reason)


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else "?"


def _last_lines(text: str, n: int = 3) -> str:
    # LogCapture lines start with a timestamp and level; keep the messages.
    messages = [line.split(" - ", 2)[-1] for line in text.splitlines() if line.strip()]
    return " | ".join(messages[-n:])
