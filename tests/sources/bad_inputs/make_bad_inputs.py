"""Regenerate the broken exports in this folder: `python tests/sources/bad_inputs/make_bad_inputs.py`.

Each file is broken in one way a real export gets broken; test_bad_inputs.py says, per file,
which error a user must see. The files are committed so the tests do not depend on this script.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import openpyxl
import xlsxwriter

HERE = Path(__file__).parent
HEADER = ["订单编号", "订单状态", "实付金额", "付款时间"]


def xlsx(name: str, rows: list[list], sheets: tuple[str, ...] = ("订单",)) -> None:
    workbook = xlsxwriter.Workbook(str(HERE / name))
    for sheet in sheets:
        ws = workbook.add_worksheet(sheet)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    ws.write(r, c, value)
    workbook.close()


def csv_bytes(rows: list[list], encoding: str = "utf-8") -> bytes:
    return ("\r\n".join(",".join(str(v) for v in row) for row in rows) + "\r\n").encode(encoding)


def empty() -> None:
    (HERE / "empty.csv").write_bytes(b"")


def missing_column() -> None:
    xlsx(
        "missing_column.xlsx",
        [
            ["订单编号", "订单状态", "付款时间"],
            ["3456789012345678902", "已付款", "2026-11-03 10:00:00"],
        ],
    )


def duplicate_headers() -> None:
    rows = [
        ["订单编号", "订单状态", "实付金额", "实付金额"],
        ["3456789012345678902", "已付款", "10", "12"],
    ]
    (HERE / "duplicate_headers.csv").write_bytes(csv_bytes(rows))


def merged_header() -> None:
    # "金额" merged across two columns: the second header cell is empty, the sub-headers
    # (实付金额, 优惠) sit in the row below, which the mapping does not expect.
    workbook = xlsxwriter.Workbook(str(HERE / "merged_header.xlsx"))
    ws = workbook.add_worksheet("订单")
    ws.write_row(0, 0, ["订单编号", "订单状态"])
    ws.merge_range(0, 2, 0, 3, "金额")
    ws.write_row(1, 2, ["实付", "优惠"])
    ws.write_row(2, 0, ["3456789012345678902", "已付款", "10", "0"])
    workbook.close()


def wrong_sheet() -> None:
    xlsx(
        "wrong_sheet.xlsx",
        [HEADER, ["3456789012345678902", "已付款", "10", "2026-11-03 10:00:00"]],
        ("订单", "明细"),
    )


def mixed_encoding() -> None:
    head = csv_bytes(
        [HEADER, ["3456789012345678902", "已付款", "10", "2026-11-03 10:00:00"]], "utf-8"
    )
    tail = csv_bytes([["3456789012345678903", "已发货", "12", "2026-11-03 11:00:00"]], "gbk")
    (HERE / "mixed_encoding.csv").write_bytes(head + tail)


def float_ids_xlsx() -> None:
    # Saved by Excel after someone typed/pasted the ids as numbers: text ids, then one number
    # cell (openpyxl writes an int as a number cell, like Excel).
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.title = "订单"
    ws.append(HEADER)
    ws.append(["3456789012345678902", "已付款", 10, "2026-11-03 10:00:00"])
    ws.append(["3456789012345678903", "已付款", 11, "2026-11-03 10:00:00"])
    ws.append([3456789012345678904, "已付款", 12, "2026-11-03 10:00:00"])
    workbook.save(HERE / "float_ids.xlsx")


def float_ids_all_numbers_xlsx() -> None:
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.title = "订单"
    ws.append(HEADER)
    ws.append([1234567, "已付款", 10, "2026-11-03 10:00:00"])
    ws.append([3456789012345678904, "已付款", 12, "2026-11-03 10:00:00"])
    workbook.save(HERE / "float_ids_numbers.xlsx")


def float_ids_csv() -> None:
    rows = [
        HEADER,
        ["3456789012345678902", "已付款", "10", "2026-11-03 10:00:00"],
        ["1.23457E+18", "已付款", "10", "2026-11-03 10:00:00"],
    ]
    (HERE / "float_ids.csv").write_bytes(csv_bytes(rows))


def bad_date() -> None:
    rows = [
        HEADER,
        ["3456789012345678902", "已付款", "10", "2026-11-03 10:00:00"],
        ["3456789012345678903", "已付款", "10", "11/03/2026 10am"],
    ]
    (HERE / "bad_date.csv").write_bytes(csv_bytes(rows))


def bad_amount() -> None:
    xlsx(
        "bad_amount.xlsx",
        [
            HEADER,
            ["3456789012345678902", "已付款", 10, "2026-11-03 10:00:00"],
            ["3456789012345678903", "已付款", "约12元", "2026-11-03 10:00:00"],
        ],
    )


def truncated() -> None:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    ws = workbook.add_worksheet("订单")
    for r in range(200):
        ws.write_row(
            r,
            0,
            HEADER
            if r == 0
            else [str(3456789012345678000 + r), "已付款", r, "2026-11-03 10:00:00"],
        )
    workbook.close()
    data = buffer.getvalue()
    (HERE / "truncated.xlsx").write_bytes(data[: len(data) // 2])


def password_protected() -> None:
    """An OLE compound file holding EncryptionInfo and EncryptedPackage streams: what Excel
    writes for a workbook saved with a password to open."""
    sector = 512
    end, free, fat_sector = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    info = b"\x04\x00\x04\x00\x40\x00\x00\x00" + bytes(4096 - 8)  # Agile encryption header
    package = struct.pack("<Q", 9000) + bytes(range(256)) * 16  # size + ciphertext
    package += bytes(-len(package) % sector)
    info_sectors = len(info) // sector
    package_sectors = len(package) // sector
    fat = [fat_sector, end]  # sector 0: FAT, sector 1: directory
    first_info = 2
    fat += [first_info + i + 1 for i in range(info_sectors - 1)] + [end]
    first_package = first_info + info_sectors
    fat += [first_package + i + 1 for i in range(package_sectors - 1)] + [end]
    fat += [free] * (sector // 4 - len(fat))

    def entry(
        name: str, kind: int, start: int, size: int, child: int = free, right: int = free
    ) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", free, right, child)
            + bytes(16 + 4 + 16)
            + struct.pack("<IQ", start, size)
        )

    directory = (
        entry("Root Entry", 5, end, 0, child=1)
        + entry("EncryptionInfo", 2, first_info, len(info), right=2)
        + entry("EncryptedPackage", 2, first_package, 9008)
        + bytes(128)
    )
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
        + struct.pack("<I", 0)
        + struct.pack("<I", free) * 108
    )
    body = header + struct.pack(f"<{len(fat)}I", *fat) + directory + info + package
    (HERE / "password.xlsx").write_bytes(body)


def header_only() -> None:
    (HERE / "header_only.csv").write_bytes(csv_bytes([HEADER]))
    xlsx("header_only.xlsx", [HEADER])


if __name__ == "__main__":
    for make in (empty, missing_column, duplicate_headers, merged_header, wrong_sheet, mixed_encoding,
                 float_ids_xlsx, float_ids_all_numbers_xlsx, float_ids_csv, bad_date, bad_amount,
                 truncated, password_protected, header_only):  # fmt: skip
        make()
