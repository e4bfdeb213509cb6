"""Reading raw tables: blank cells, the xlsx number-cell check, column letters, text decoding."""

from __future__ import annotations

import pytest
import xlsxwriter

from ordersync.errors import InputError
from ordersync.sources import tables


def test_cells_of_whitespace_only_read_as_empty(tmp_path):
    # Spaces, a tab, a line break, the ideographic space of Chinese input methods, a no-break
    # space: blank to whoever typed them. A zero-width space is not whitespace, and text with
    # spaces around it keeps them (values are trimmed where they are parsed, not here).
    path = tmp_path / "orders.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["  ", "\u3000"])  # a blank row above the header
    sheet.write_row(1, 0, ["订单编号", "备注"])
    cells = ["  ", "\t", "\n ", "\u3000", "\u00a0", " 加急 ", "a\u3000b", "\u200b"]
    for row, text in enumerate(cells, start=2):
        sheet.write_string(row, 0, f"T{row}")
        sheet.write_string(row, 1, text)
    workbook.close()

    raw = tables.read_table(path, "xlsx", ["订单编号"])

    assert raw.header_row == 2
    assert raw.frame.get_column("备注").to_list() == [
        *[None] * 5,
        " 加急 ",
        "a\u3000b",
        "\u200b",
    ]
    assert raw.rows.to_list() == list(range(3, 11))


@pytest.mark.parametrize("chunk", [37, 64, 1 << 20])
def test_large_number_cells_found_across_chunk_boundaries(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(tables, "_CHUNK", chunk)
    path = tmp_path / "ids.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("订单")
    sheet.write_row(0, 0, ["订单编号", "金额", "备注"])
    numeric_rows = {5, 150, 299}
    for r in range(1, 300):
        if r in numeric_rows:
            sheet.write_number(r, 0, 3456789012345678902 + r)
        else:
            sheet.write_string(r, 0, str(3456789012345678902 + r))
        sheet.write_number(r, 1, 12.5)
        sheet.write_string(r, 2, "1234567890123456789")  # long digits as text: not a number
    workbook.close()

    found = tables._large_number_cells(path, "订单")

    assert found == {"A": {r + 1 for r in numeric_rows}}


@pytest.mark.parametrize(
    ("index", "letter"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA")]
)
def test_column_letters(index, letter):
    assert tables._column_letter(index) == letter


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("订单号,金额\n".encode(), "订单号,金额\n"),
        (b"\xef\xbb\xbf" + "订单号\n".encode(), "订单号\n"),
        ("订单号,收货人\n张三,李四\n".encode("gbk"), "订单号,收货人\n张三,李四\n"),
        ("订单号\n".encode("utf-16"), "订单号\n"),
    ],
    ids=["utf8", "utf8-bom", "gbk", "utf16"],
)
def test_decode_text(data, text):
    assert tables.decode_text(data, "f.csv", None) == text


def test_configured_encoding_that_does_not_fit_is_an_error():
    with pytest.raises(InputError, match="configured encoding 'utf-8'"):
        tables.decode_text("订单".encode("gbk"), "f.csv", "utf-8")
