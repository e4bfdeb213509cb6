"""What every report writer does to text before a person or a spreadsheet sees it.

Buyer-entered text (names, notes, addresses) reaches our files unchanged from the channels, so
a value like ``=HYPERLINK("http://x","y")`` must never become a live formula when the file is
opened (CSV injection). Personal data is masked unless the user asks for it in full.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import polars as pl

# Characters that make Excel, LibreOffice or WPS treat a cell as a formula (OWASP list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXCEL_MAX_TEXT = 32767
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_MASK = "*"


def is_formula_like(value: str) -> bool:
    return value.startswith(FORMULA_STARTS)


def csv_safe(value: str) -> str:
    """Prefix a quote so a spreadsheet opening the CSV shows the text instead of evaluating it."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def neutralise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """`csv_safe` for every text column of a frame, vectorised (csv exports of findings)."""

    def safe(name: str) -> pl.Expr:
        column = pl.col(name)
        risky = pl.any_horizontal([column.str.starts_with(start) for start in FORMULA_STARTS])
        return pl.when(risky).then(pl.lit("'") + column).otherwise(column).alias(name)

    return frame.with_columns(
        [safe(name) for name, dtype in frame.schema.items() if dtype == pl.String]
    )


def excel_text(value: str) -> str:
    """Fit text into one Excel cell (32,767 characters at most)."""
    if len(value) > EXCEL_MAX_TEXT:
        return value[: EXCEL_MAX_TEXT - 1] + "…"
    return value


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name: no []:*?/\\, at most 31 characters, not 'History'."""
    base = _SHEET_FORBIDDEN.sub("_", name).strip().strip("'") or "Sheet"
    if base.lower() == "history":
        base = "History_"
    candidate = base[:31]
    n = 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate = base[: 31 - len(suffix)] + suffix
        n += 1
    taken.add(candidate.lower())
    return candidate


# --- masking -------------------------------------------------------------------------------


def mask_name(name: str | None) -> str | None:
    """张三 → 张*, 欧阳娜娜 → 欧***; the length shown is capped so it reveals little."""
    if not name:
        return name
    text = name.strip()
    if not text or _MASK in text:
        return text
    return text[0] + _MASK * max(1, min(len(text) - 1, 3))


_DIGITS = re.compile(r"\d")


def mask_phone(phone: str | None) -> str | None:
    """13812345678 / +86 138-1234-5678 → 138****5678; a landline keeps its area code."""
    if not phone:
        return phone
    text = phone.strip()
    if _MASK in text:
        return text
    digits = "".join(_DIGITS.findall(text))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) == 11 and digits.startswith("1"):
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 7:
        # Landline or foreign number: keep the first 3 and last 2 digits, enough to tell apart.
        return digits[:3] + _MASK * (len(digits) - 5) + digits[-2:]
    return _MASK * len(digits) if digits else _MASK * 3


_PROVINCE = re.compile(r"^.{1,8}?(?:特别行政区|自治区|省)|^(?:北京|上海|天津|重庆)市?")
_CITY = re.compile(r"^.{1,10}?(?:自治州|地区|盟|市)")
_DISTRICT = re.compile(r"^.{1,10}?(?:区|县|旗|市)")
_HAN = re.compile(r"[\u4e00-\u9fff]")
# The leading parts mask_address keeps, in order (shared with the vectorised evidence cells).
ADDRESS_LEVELS = (_PROVINCE, _CITY, _DISTRICT)


def mask_address(
    address: str | None,
    *,
    province: str | None = None,
    city: str | None = None,
    district: str | None = None,
) -> str | None:
    """Keep province, city and district; hide the street detail.

    When the parsed parts are known they are used as they are; otherwise the leading
    province/city/district of a Chinese address is recognised by its suffixes.
    """
    parts = [p for p in (province, city, district) if p]
    if parts:
        kept = "".join(dict.fromkeys(parts))
        return kept + _MASK * 4
    if not address:
        return address
    text = address.strip()
    if not _HAN.search(text):
        # A Western address: drop the street line, keep the city/state/postcode after it.
        _street, sep, tail = text.partition(",")
        return (_MASK * 4 + sep + tail) if sep else _MASK * 4
    rest = re.sub(r"\s+", "", text)
    kept = ""
    for pattern in (_PROVINCE, _CITY, _DISTRICT):
        match = pattern.match(rest)
        if match:
            kept += match.group(0)
            rest = rest[match.end() :]
    return kept + _MASK * 4


# --- atomic files ----------------------------------------------------------------------------


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds.

    A crash or an exception leaves the previous file (or none) rather than half a file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_text(path: Path, *, encoding: str = "utf-8-sig") -> Iterator[IO[str]]:
    """Open a text file for writing that appears at `path` only when complete."""
    with atomic_path(path) as tmp, tmp.open("w", encoding=encoding, newline="") as handle:
        yield handle
