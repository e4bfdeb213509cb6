"""Helpers that write exports the way the real tools do (xlsxwriter like Excel, GBK bytes, …)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter

from ordersync.config import Config, SourceConfig, config_from_dict
from ordersync.sources import SourceRead, read_source


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[Any]],
    *,
    sheet: str = "Sheet1",
    title: str | None = None,
    text_ids: bool = True,
) -> Path:
    """Write rows like Excel: datetimes as date-formatted number cells, numbers as numbers,
    strings as (shared) strings. `title` adds a merged title row above the header."""
    workbook = xlsxwriter.Workbook(str(path))
    sheet_obj = workbook.add_worksheet(sheet)
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    offset = 0
    if title:
        sheet_obj.merge_range(0, 0, 0, max(len(rows[0]) - 1, 1), title)
        offset = 1
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, dt.datetime):
                sheet_obj.write_datetime(r + offset, c, value, date_format)
            elif isinstance(value, str):
                sheet_obj.write_string(r + offset, c, value)
            else:
                sheet_obj.write_number(r + offset, c, value)
    workbook.close()
    return path


def write_csv(path: Path, rows: Sequence[Sequence[Any]], *, encoding: str = "utf-8") -> Path:
    lines = []
    for row in rows:
        cells = []
        for value in row:
            text = "" if value is None else str(value)
            if any(ch in text for ch in ',"\n'):
                text = '"' + text.replace('"', '""') + '"'
            cells.append(text)
        lines.append(",".join(cells))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def make_config(tmp_path: Path, **source: Any) -> tuple[Config, SourceConfig]:
    raw = {"name": "src", **source}
    config = config_from_dict({"sources": [raw]}, base_dir=tmp_path)
    return config, config.sources[0]


def read(tmp_path: Path, **source: Any) -> SourceRead:
    config, src = make_config(tmp_path, **source)
    return read_source(config, src)


@pytest.fixture
def utc():
    return lambda *args: dt.datetime(*args, tzinfo=dt.UTC)
