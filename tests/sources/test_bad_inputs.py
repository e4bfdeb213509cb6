"""Broken exports from bad_inputs/: each must stop the pull with an InputError (exit code 2)
whose message lets a user find the problem: file, sheet, row, column, what was expected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import make_config

from ordersync.errors import InputError
from ordersync.sources import read_source

BAD = Path(__file__).parent / "bad_inputs"
COLUMNS = {
    "order_id": "订单编号",
    "status": "订单状态",
    "amount": "实付金额",
    "paid_at": "付款时间",
}

CASES = [
    ("empty.csv", {}, ["empty.csv", "empty"]),
    (
        "missing_column.xlsx",
        {},
        ["sheet '订单'", "实付金额", "headers found", "'订单状态'", "'付款时间'"],
    ),
    ("duplicate_headers.csv", {}, ["row 1", "column '实付金额'", "more than once"]),
    ("merged_header.xlsx", {}, ["实付金额", "empty cells in column(s) D", "merged header cells"]),
    ("wrong_sheet.xlsx", {"sheet": "Orders"}, ["no sheet named 'Orders'", "'订单'", "'明细'"]),
    ("mixed_encoding.csv", {}, ["mixes text encodings", "line 3", "GBK"]),
    ("float_ids.xlsx", {}, ["sheet '订单'", "row 4", "column '订单编号'", "lost digits"]),
    ("float_ids_numbers.xlsx", {}, ["row 3", "column '订单编号'", "lost digits"]),
    ("float_ids.csv", {}, ["row 3", "column '订单编号'", "scientific notation", "1.23457E+18"]),
    ("bad_date.csv", {}, ["row 3", "column '付款时间'", "11/03/2026 10am", "2026-11-03 14:22:05"]),
    ("bad_amount.xlsx", {}, ["row 3", "column '实付金额'", "约12元", "is not an amount"]),
    ("truncated.xlsx", {}, ["truncated"]),
    ("password.xlsx", {}, ["password-protected"]),
]


@pytest.mark.parametrize(("name", "extra", "expected"), CASES, ids=[c[0] for c in CASES])
def test_broken_export_is_a_clear_input_error(tmp_path, name, extra, expected):
    shutil.copy(BAD / name, tmp_path / name)
    fmt = name.rsplit(".", 1)[1]
    config, source = make_config(
        tmp_path, kind="oms", format=fmt, path=name, columns=COLUMNS, **extra
    )

    with pytest.raises(InputError) as caught:
        read_source(config, source)

    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert name in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_every_corpus_file_has_a_case():
    covered = {c[0] for c in CASES} | {"header_only.csv", "header_only.xlsx"}
    on_disk = {p.name for p in BAD.iterdir() if p.suffix in (".csv", ".xlsx", ".xls")}
    assert on_disk == covered


@pytest.mark.parametrize("name", ["header_only.csv", "header_only.xlsx"])
def test_header_only_export_is_zero_rows_not_an_error(tmp_path, name):
    shutil.copy(BAD / name, tmp_path / name)
    config, source = make_config(
        tmp_path, kind="oms", format=name.rsplit(".", 1)[1], path=name, columns=COLUMNS
    )

    result = read_source(config, source)

    assert result.orders.height == 0
    assert result.rows_read == 0
    assert len(result.files) == 1
