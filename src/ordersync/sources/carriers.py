"""Courier names and codes, as each platform writes them, mapped to one canonical code.

Taobao exports carry the courier's Chinese name (中通快递), Kuaidi100 and Douyin use pinyin
codes (zhongtong), WeChat shop uses upper-case delivery ids (ZTO), English-language shops write
"ZTO Express". All of them become `zto`. Matching ignores case and whitespace (also full-width
spaces). A name that is not in the table is never guessed: it maps to null and is reported.

Pinduoduo's numeric `logistics_id` values are not included: no reliable public table was found.
Add them per config with `carriers: {"115": zto}` once confirmed against your own data.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

# canonical code -> every alias seen in exports and APIs
_ALIASES: dict[str, tuple[str, ...]] = {
    "zto": ("中通快递", "中通", "中通速递", "ZTO Express", "ZTO", "zhongtong"),
    "yto": ("圆通速递", "圆通快递", "圆通", "YTO Express", "YTO", "yuantong"),
    "sto": ("申通快递", "申通", "STO Express", "STO", "shentong"),
    "yunda": ("韵达快递", "韵达速递", "韵达", "Yunda Express", "Yunda", "YD", "YUNDA"),
    "sf": ("顺丰速运", "顺丰快递", "顺丰", "SF Express", "SF", "shunfeng", "SFEXPRESS"),
    "jd": ("京东物流", "京东快递", "京东", "JD Logistics", "JD Express", "JD", "jingdong"),
    "ems": (
        "中国邮政",
        "邮政快递包裹",
        "邮政包裹",
        "邮政EMS",
        "EMS",
        "China Post",
        "youzhengguonei",
        "youzhengbk",
        "YZPY",
    ),
    "jt": ("极兔速递", "极兔快递", "极兔", "J&T Express", "J&T", "JTSD", "jtexpress", "jitu"),
    "best": ("百世快递", "百世汇通", "汇通快递", "百世", "BEST Express", "HTKY", "huitongkuaidi"),
    "deppon": ("德邦快递", "德邦物流", "德邦", "Deppon", "DBL", "debangwuliu", "debangkuaidi"),
    "danniao": ("丹鸟", "丹鸟快递", "danniao"),
    "cainiao": ("菜鸟", "菜鸟速递", "菜鸟裹裹", "cainiao"),
    "zjs": ("宅急送", "ZJS", "zhaijisong"),
    "uc": ("优速快递", "优速", "UC", "youshuwuliu"),
    "tiantian": ("天天快递", "HHTT", "tiantian"),
}


def normalise_key(value: str) -> str:
    """The form aliases are compared in: lower case, no whitespace of any width."""
    return "".join(value.split()).lower()


def alias_table(*extra: Mapping[str, str] | None) -> dict[str, str]:
    """The built-in aliases plus config extensions (later mappings win), keyed by normal form."""
    table = {normalise_key(alias): code for code, names in _ALIASES.items() for alias in names}
    # Canonical codes map to themselves so already-normalised data passes through.
    table.update({code: code for code in _ALIASES})
    for mapping in extra:
        for alias, code in (mapping or {}).items():
            table[normalise_key(str(alias))] = str(code)
            table[normalise_key(str(code))] = str(code)
    return table


CANONICAL_CODES = tuple(_ALIASES)


def carrier_codes(raw: pl.Series, table: Mapping[str, str]) -> tuple[pl.Series, dict[str, int]]:
    """Map raw courier names to canonical codes; return the codes and unknown names with counts."""
    names = raw.cast(pl.String).str.strip_chars()
    names = pl.Series(raw.name, names).replace("", None)
    # Exports repeat a handful of names: normalise the distinct ones, then map the column.
    distinct = names.drop_nulls().unique()
    lookup = {name: table.get(normalise_key(name)) for name in distinct.to_list()}
    codes = names.replace_strict(lookup, default=None, return_dtype=pl.String)
    unknown = names.filter(names.is_not_null() & codes.is_null())
    counts = {}
    if len(unknown):
        for name, count in unknown.value_counts(sort=True).iter_rows():
            counts[name] = count
    return codes, counts
