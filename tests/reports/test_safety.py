from __future__ import annotations

import os
from pathlib import Path

import pytest

from ordersync.reports.safety import (
    atomic_path,
    atomic_text,
    csv_safe,
    excel_text,
    is_formula_like,
    mask_address,
    mask_name,
    mask_phone,
    sheet_name,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+86 138", "'+86 138"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("北京市", "北京市"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_csv_safe_prefixes_formula_starts(value: str, expected: str) -> None:
    assert csv_safe(value) == expected
    assert is_formula_like(value) == (value != expected)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("李", "李*"),
        ("Alexander", "A***"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_name(name: str | None, masked: str | None) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("8613812345678", "138****5678"),
        ("138****5678", "138****5678"),
        ("021-62345678", "021******78"),
        ("-1", "*"),
        (None, None),
    ],
)
def test_mask_phone(phone: str | None, masked: str | None) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("浙江省杭州市西湖区文三路100号", "浙江省杭州市西湖区****"),
        ("北京市朝阳区建国路88号", "北京市朝阳区****"),
        ("广西壮族自治区南宁市青秀区民族大道1号", "广西壮族自治区南宁市青秀区****"),
        ("\t上海市 浦东新区 世纪大道100号", "上海市浦东新区****"),
        (
            "新疆维吾尔自治区伊犁哈萨克自治州伊宁县某路",
            "新疆维吾尔自治区伊犁哈萨克自治州伊宁县****",
        ),
        ("1 Main St, Springfield, IL 62701", "****, Springfield, IL 62701"),
        ('=HYPERLINK("http://x","y")', '****,"y")'),
    ],
)
def test_mask_address_keeps_province_city_district(address: str, masked: str) -> None:
    assert mask_address(address) == masked


def test_mask_address_prefers_parsed_parts() -> None:
    masked = mask_address("中关村大街1号", province="北京市", city="北京市", district="海淀区")
    assert masked == "北京市海淀区****"


def test_sheet_name_is_valid_and_unique() -> None:
    taken: set[str] = set()
    first = sheet_name("a/b:c*d?e[f]g\\h", taken)
    assert first == "a_b_c_d_e_f_g_h"
    long = "x" * 40
    assert sheet_name(long, taken) == "x" * 31
    assert sheet_name(long, taken) == "x" * 27 + " (2)"
    assert sheet_name("History", taken) == "History_"
    assert len(sheet_name("X" * 31, taken)) <= 31


def test_excel_text_fits_a_cell() -> None:
    assert len(excel_text("a" * 40000)) == 32767


def test_atomic_path_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_text(target) as handle:
        handle.write("half a fi")
        raise RuntimeError("crash")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_atomic_path_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("new", encoding="utf-8")
        assert not target.exists()
    assert target.read_text(encoding="utf-8") == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
