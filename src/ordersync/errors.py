"""Everything ordersync raises, and the exit code each one means.

::

    OrdersyncError                 exit 1 (never raised bare)
    ├── UsageError                 exit 2  bad command-line usage
    ├── ConfigError                exit 2  the config file is wrong: file, key path, expectation
    ├── InputError                 exit 2  an export is wrong: file, sheet, row, column, expectation
    ├── StoreError                 exit 2  the store is locked by another process or unreadable
    └── SourceUnavailable          exit 3  a source could not be reached (retryable)

Library code raises these; only the CLI turns them into a message and an exit code.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import polars as pl


class OrdersyncError(Exception):
    """Base of every error ordersync reports to a user."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(OrdersyncError):
    exit_code = 2


class ConfigError(OrdersyncError):
    """The config is invalid. The message names the file and the key path."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.key = key


class InputError(OrdersyncError):
    """An input file cannot be read as configured.

    Every field that is known is named, so a user can open the file and find the cell.
    Rows are numbered as a spreadsheet shows them (1-based, header rows included).
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        parts = []
        if file:
            parts.append(str(file))
        if sheet:
            parts.append(f"sheet {sheet!r}")
        if row is not None:
            parts.append(f"row {row}")
        if column:
            parts.append(f"column {column!r}")
        where = ", ".join(parts)
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.sheet = sheet
        self.row = row
        self.column = column


class StoreError(OrdersyncError):
    exit_code = 2


class SourceUnavailable(OrdersyncError):
    """A source could not be reached; trying again later may work."""

    exit_code = 3


# A disk this close to full is taken to be why a write on it failed.
LOW_SPACE_BYTES = 64 * 1024**2
# What a failed file write raises: Polars reports its parquet writer's failures as a
# ComputeError, not an OSError (see write_failure).
WRITE_ERRORS = (OSError, pl.exceptions.ComputeError)


def size_text(size: float) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def write_failure(exc: BaseException, where: Path) -> str | None:
    """Why writing under `where` failed, in words for the user, when the file system is the
    cause (a full disk, a missing or read-only folder); None when it is not (a bug).

    Polars reports a failed parquet write as a ComputeError, not an OSError: a full disk reads
    "parquet: File out of specification: underlying IO error: No space left on device (os
    error 28)", or, when it is the file's footer that cannot be written, "Invalid thrift:
    transport error" (a 50M-order reconcile whose scratch files filled the disk). So a
    nearly full disk is blamed whatever the message says."""
    if not isinstance(exc, WRITE_ERRORS):
        return None
    text = str(exc)
    full = (
        (isinstance(exc, OSError) and exc.errno == errno.ENOSPC)
        or "No space left on device" in text
        or f"os error {errno.ENOSPC})" in text
    )
    free = _free_bytes(where)
    if full or (free is not None and free < LOW_SPACE_BYTES):
        left = f" ({size_text(free)} free)" if free is not None else ""
        return f"no space left on the disk{left}"
    if isinstance(exc, OSError) or "IO error" in text or "os error" in text:
        return text
    return None


def _free_bytes(where: Path) -> int | None:
    """Free space on the disk holding `where` (or its nearest existing parent)."""
    for folder in (where, *where.parents):
        try:
            return shutil.disk_usage(folder).free
        except OSError:
            continue
    return None
