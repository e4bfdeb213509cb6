"""What people act on: the Excel audit workbook, correction files and notifications."""

from ordersync.reports.corrections import write_corrections
from ordersync.reports.digest import digest_markdown
from ordersync.reports.notify import NotifyOutcome, send_notifications
from ordersync.reports.xlsx import write_workbook

__all__ = [
    "NotifyOutcome",
    "digest_markdown",
    "send_notifications",
    "write_corrections",
    "write_workbook",
]
