"""Tests for toolkit.values: reading numbers and dates from cells, rounding half up."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit.findings import Code, make
from toolkit.values import (
    MULTIPLIERS,
    NOTHING_MARKERS,
    UNITS,
    Parsed,
    count_conversion,
    half_up,
    normalize_text,
    parse_count,
    parse_date,
    parse_number,
    slip_unit,
)

D = Decimal
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def exact(value: Decimal | None, expected: str) -> bool:
    """Equal and written the same way (Decimal('59') is not Decimal('59.0'))."""
    return value is not None and str(value) == expected


# ---------------------------------------------------------------------------------------------
# parse_number: accepted forms
# ---------------------------------------------------------------------------------------------

ACCEPTED = [
    # raw, unit, expected value
    (59, "家", "59"),
    (0, "家", "0"),
    (10**30, "元", str(10**30)),
    (59.0, "家", "59"),
    (0.1, "万元", "0.1"),
    (19.83, "万亩", "19.83"),
    (1e20, "元", "100000000000000000000"),
    (D("42.50"), "万元", "42.50"),
    ("59", "家", "59"),
    ("59.5", "万元", "59.5"),
    ("0.5", "万元", "0.5"),
    (".5", "万元", "0.5"),
    ("5.", "万元", "5"),
    ("+8", "家", "8"),
    ("１８１６", "个", "1816"),
    ("５９", "家", "59"),
    ("４２．１４", "万元", "42.14"),
    ("1,816", "个", "1816"),
    ("1，816", "个", "1816"),
    ("1,816,000.5", "元", "1816000.5"),
    ("1 816", "个", "1816"),
    ("12 345 678", "元", "12345678"),
    ("  59  ", "家", "59"),
    ("\u300059\u3000", "家", "59"),
    ("\xa059\xa0", "家", "59"),
    ("59\u200b", "家", "59"),
    ("59家", "家", "59"),
    ("59 家", "家", "59"),
    ("５９家", "家", "59"),
    ("19.83万亩", "万亩", "19.83"),
    ("2200万元", "万元", "2200"),
    ("2200万", "万元", "2200"),  # a bare 万 in a 万元 row is the row's unit
    ("5千米", "公里", "5"),  # same unit, spelled differently
    ("5公里", "千米", "5"),
    ("42.14%", "%", "42.14"),
    ("42.14％", "%", "42.14"),
    ("42.14 %", "%", "42.14"),
    ("42.14%", "百分比", "42.14"),
    ("42.14", "%", "42.14"),
    ("0", "%", "0"),
    ("-0", "家", "0"),
    ("59", "（家）", "59"),
    ("59", "", "59"),
]


@pytest.mark.parametrize(("raw", "unit", "expected"), ACCEPTED)
def test_accepted(raw: object, unit: str, expected: str) -> None:
    parsed = parse_number(raw, unit=unit)
    assert exact(parsed.value, expected), parsed
    assert parsed.error is None
    assert parsed.notice is None
    assert parsed.ok
    assert not parsed.blank
    assert not parsed.nothing


def test_original_keeps_what_was_typed() -> None:
    assert parse_number(" １,８１６家 ", unit="家").original == "１,８１６家"
    assert parse_number(59.0).original == "59"
    assert parse_number(1e20).original == "100000000000000000000"
    assert parse_number(D("1E+3")).original == "1000"


# ---------------------------------------------------------------------------------------------
# parse_number: unit conversion (W301)
# ---------------------------------------------------------------------------------------------

CONVERTED = [
    # raw, row unit, expected value, detail
    ("2200万", "亿元", "0.22", "0.22亿元"),
    ("2200万元", "亿元", "0.22", "0.22亿元"),
    ("1.2亿", "万元", "12000", "12000万元"),
    ("1.2亿元", "万元", "12000", "12000万元"),
    ("3亿元", "元", "300000000", "300000000元"),
    ("2200元", "万元", "0.22", "0.22万元"),
    ("0.5亿元", "亿元", None, None),  # same unit: not a conversion
    ("14255人", "万人", "1.4255", "1.4255万人"),
    ("1.5万人", "人", "15000", "15000人"),
    ("1500亩", "万亩", "0.15", "0.15万亩"),
    ("2万亩", "亩", "20000", "20000亩"),
    ("3200个", "万个", "0.32", "0.32万个"),
    ("1.1万户", "户", "11000", "11000户"),
    ("500吨", "万吨", "0.05", "0.05万吨"),
    ("2万千瓦", "千瓦", "20000", "20000千瓦"),
    ("3500千瓦", "万千瓦", "0.35", "0.35万千瓦"),
    ("1500米", "公里", "1.5", "1.5公里"),
    ("2公里", "米", "2000", "2000米"),
    ("2千米", "米", "2000", "2000米"),
    ("5万家", "家", "50000", "50000家"),  # a multiplier in front of any unit
    ("5万", "家", "50000", "50000家"),  # a bare multiplier counts in the row's unit
    ("3千万", "元", "30000000", "30000000元"),
    ("１．２亿", "万元", "12000", "12000万元"),
    ("2,200万", "亿元", "0.22", "0.22亿元"),
    ("2200万", "", "22000000", "22000000"),
]


@pytest.mark.parametrize(("raw", "unit", "expected", "detail"), CONVERTED)
def test_converted(raw: str, unit: str, expected: str | None, detail: str | None) -> None:
    parsed = parse_number(raw, unit=unit)
    assert parsed.error is None
    if expected is None:
        assert parsed.notice is None
        return
    assert exact(parsed.value, expected), parsed
    assert parsed.notice is Code.W301
    assert parsed.detail == detail
    assert parsed.original == raw


def test_conversion_message_reads_well() -> None:
    parsed = parse_number("2200万", unit="亿元")
    finding = make(parsed.notice, value=parsed.original, detail=parsed.detail)  # type: ignore[arg-type]
    assert "已将 2200万 换算为 0.22亿元" in finding.message


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_every_table_unit_matches_itself(unit: str) -> None:
    parsed = parse_number(f"7{unit}", unit=unit)
    assert exact(parsed.value, "7")
    assert parsed.notice is None


@pytest.mark.parametrize(("a", "b"), [(a, b) for a in UNITS for b in UNITS if UNITS[a][0] == UNITS[b][0]])
def test_table_conversions_are_exact_and_invertible(a: str, b: str) -> None:
    there = parse_number(f"123.45{a}", unit=b)
    assert there.value is not None
    back = parse_number(f"{there.value}{b}", unit=a)
    assert back.value == D("123.45")
    shift = UNITS[a][1] - UNITS[b][1]
    assert there.value == D("123.45").scaleb(shift)
    assert (there.notice is Code.W301) == (shift != 0)


# ---------------------------------------------------------------------------------------------
# parse_number: percent
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected", "detail", "original"),
    [
        (0.4214, "42.14", "42.14", "42.14%"),
        (D("0.4214"), "42.14", "42.14", "42.14%"),
        (1, "100", "100", "100%"),
        (0.5, "50", "50", "50%"),
        (0, "0", "0", "0%"),
        (0.123456, "12.3456", "12.3456", "12.3456%"),
    ],
)
def test_percent_format_in_percent_row(raw: object, expected: str, detail: str, original: str) -> None:
    parsed = parse_number(raw, unit="%", percent_format=True)
    assert exact(parsed.value, expected)
    assert parsed.notice is Code.W313
    assert parsed.detail == detail
    assert parsed.original == original


def test_percent_format_negative_growth() -> None:
    parsed = parse_number(-0.031, unit="%", kind="增速", percent_format=True)
    assert exact(parsed.value, "-3.1")
    assert parsed.notice is Code.W313


def test_percent_format_ignored_for_text() -> None:
    parsed = parse_number("42.14%", unit="%", percent_format=True)
    assert exact(parsed.value, "42.14")
    assert parsed.notice is None


def test_no_percent_format_means_no_scaling() -> None:
    assert exact(parse_number(0.4214, unit="%").value, "0.4214")


# ---------------------------------------------------------------------------------------------
# parse_number: blank and nothing to report
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, "", " ", "\u3000", "\xa0 \t\n", "\u200b", float("nan")])
def test_blank(raw: object) -> None:
    parsed = parse_number(raw, unit="家")
    assert parsed == Parsed(None, blank=True)
    assert not parsed.ok


NOTHING = ["—", "——", "-", "--", "---", "/", "／", "//", "－", "—-", "\\", "无", "暂无", "没有", "不适用",
           "N/A", "n/a", "Ｎ／Ａ", "NA", "空", "不涉及", "无。", " 无 ", "暂无数据"]


@pytest.mark.parametrize("raw", NOTHING)
def test_nothing_to_report(raw: str) -> None:
    parsed = parse_number(raw, unit="家")
    assert parsed.nothing
    assert parsed.value is None
    assert parsed.notice is Code.W302
    assert parsed.error is None
    assert parsed.original == raw.strip()


@pytest.mark.parametrize("marker", sorted(NOTHING_MARKERS))
def test_every_nothing_marker(marker: str) -> None:
    assert parse_number(marker).nothing
    assert parse_number(marker.upper()).nothing


# ---------------------------------------------------------------------------------------------
# parse_number: errors
# ---------------------------------------------------------------------------------------------

NOT_A_NUMBER = [
    "abc", "五十九", "(8)", "（8）", "59.5.3", "8-", "1e5", "#DIV/0!", "=SUM(A1:A3)", "59（已完成）",
    "—8", "2021-05-13", "2200 2500", "59家，60个", "+-8", ".", ",", "¥59",
]


@pytest.mark.parametrize("raw", NOT_A_NUMBER)
def test_not_a_number(raw: str) -> None:
    parsed = parse_number(raw, unit="家")
    assert parsed.error is Code.E202, parsed
    assert parsed.value is None
    assert parsed.original == raw


@pytest.mark.parametrize(
    ("raw", "original"),
    [
        (True, "TRUE"),
        (False, "FALSE"),
        (date(2021, 5, 13), "2021-05-13"),
        (datetime(2021, 5, 13), "2021-05-13"),
        (datetime(2021, 5, 13, 9, 30), "2021-05-13 09:30"),
        (time(9, 30), "09:30:00"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        (D("NaN"), "NaN"),
        (D("Infinity"), "Infinity"),
    ],
)
def test_not_a_number_objects(raw: object, original: str) -> None:
    parsed = parse_number(raw, unit="家", allow_negative=True)
    assert parsed.error is Code.E202
    assert parsed.original == original


def test_other_objects_go_through_str() -> None:
    class Cell:
        def __str__(self) -> str:
            return "59"

    assert exact(parse_number(Cell(), unit="家").value, "59")
    assert parse_number(["59"]).error is Code.E202


AMBIGUOUS = [
    "约2200", "约59家", "大约59", "大概60", "近60", "将近60", "超过50", "超50", "逾50", "50余", "50余家",
    "50多", "50多万", "59家左右", "59左右", "60上下", "以上", "50以上", "50以下", "不足50", "不到50",
    "至少50", "2200-2500", "2200~2500", "2200～2500", "2200至2500", "2200到2500", "2200—2500",
    "2200万-2500万", "2200万元至2500万元", "见附件", "详见附件", "见附表", "待统计", "统计中", "待核实",
    "预计60", "估计60", "初步统计59", "若干", "几十", "1,81", "1,8160", "59±1",
]


@pytest.mark.parametrize("raw", AMBIGUOUS)
def test_ambiguous(raw: str) -> None:
    parsed = parse_number(raw, unit="家")
    assert parsed.error is Code.E203, parsed
    assert parsed.value is None
    assert parsed.original == raw


NEGATIVE = ["-8", "－8", "−8", "–8", "﹣8", "-8.5", "-1,816", "- 8", "-8家"]


@pytest.mark.parametrize("raw", NEGATIVE)
@pytest.mark.parametrize("kind", ["累计", "比率", "上限", "下限", "节点"])
def test_negative_refused(raw: str, kind: str) -> None:
    parsed = parse_number(raw, unit="家", kind=kind)
    assert parsed.error is Code.E211, parsed
    assert parsed.value is None
    assert parsed.original == raw
    assert parsed.detail.startswith("-")


@pytest.mark.parametrize("raw", NEGATIVE)
def test_negative_allowed_for_growth(raw: str) -> None:
    parsed = parse_number(raw, unit="家", kind="增速")
    assert parsed.value is not None
    assert parsed.value < 0
    assert parsed.error is None


@pytest.mark.parametrize(
    ("kind", "allow_negative", "allowed"),
    [
        ("增速", None, True),
        ("累计", None, False),
        ("增速", False, False),
        ("累计", True, True),
        ("上限", True, True),
    ],
)
def test_allow_negative_overrides_kind(kind: str, allow_negative: bool | None, allowed: bool) -> None:
    for raw in ("-8", -8, -8.0, D("-8")):
        parsed = parse_number(raw, unit="%", kind=kind, allow_negative=allow_negative)
        assert (parsed.value == -8) == allowed
        assert (parsed.error is Code.E211) != allowed


def test_negative_after_conversion_is_still_refused() -> None:
    parsed = parse_number("-2200万", unit="亿元")
    assert parsed.error is Code.E211
    assert parsed.detail == "-0.22"


UNIT_MISMATCH = [
    # raw, row unit, typed unit
    ("59个", "家", "个"),
    ("3吨", "亩", "吨"),
    ("59人", "户", "人"),
    ("5公里", "亩", "公里"),
    ("42.14%", "万元", "%"),
    ("42.14%", "家", "%"),
    ("42.14%", "", "%"),
    ("42万", "%", "万"),
    ("42个百分点", "%", "个百分点"),
    ("59家", "", "家"),
    ("59km", "公里", "km"),
    ("2200万元", "万人", "万元"),
]


@pytest.mark.parametrize(("raw", "unit", "typed"), UNIT_MISMATCH)
def test_unit_mismatch(raw: str, unit: str, typed: str) -> None:
    parsed = parse_number(raw, unit=unit)
    assert parsed.error is Code.E212, parsed
    assert parsed.value is None
    assert parsed.detail == (unit or "无单位")
    assert parsed.typed_unit == typed


@pytest.mark.parametrize("raw", [0.4214, 1, D("0.5")])
def test_percent_format_in_other_row_is_mismatch(raw: object) -> None:
    parsed = parse_number(raw, unit="万元", percent_format=True)
    assert parsed.error is Code.E212
    assert parsed.typed_unit == "%"
    assert parsed.detail == "万元"


def test_error_messages_render() -> None:
    """Every code parse_number returns fills its template from original/detail/typed_unit."""
    cases = {
        Code.E202: parse_number("abc"),
        Code.E203: parse_number("约2200"),
        Code.E211: parse_number("-8"),
        Code.E212: parse_number("59个", unit="家"),
        Code.W301: parse_number("2200万", unit="亿元"),
        Code.W302: parse_number("无"),
        Code.W313: parse_number(0.4214, unit="%", percent_format=True),
    }
    expected = {
        Code.E202: "“本期完成”不是数字：abc",
        Code.E203: "“本期完成”无法确定数值：约2200",
        Code.E211: "“本期完成”不能为负数：-8",
        Code.E212: "计量单位“个”与本行的“家”不一致且无法换算",
        Code.W301: "已将 2200万 换算为 0.22亿元",
        Code.W302: "填写“无”，按本期无数据处理",
        Code.W313: "百分数 42.14% 已按 42.14 读取",
    }
    for code, parsed in cases.items():
        assert (parsed.error or parsed.notice) is code
        value = parsed.typed_unit if code is Code.E212 else parsed.original
        finding = make(code, value=value, column="本期完成", detail=parsed.detail)
        assert finding.message.startswith(expected[code]), finding.message


# ---------------------------------------------------------------------------------------------
# parse_number: properties
# ---------------------------------------------------------------------------------------------

plain_decimals = st.decimals(min_value=0, max_value=D(10) ** 15, allow_nan=False, allow_infinity=False,
                             places=4)


@st.composite
def typed_forms(draw: st.DrawFn, value: Decimal) -> str:
    """``value`` as a department might type it: separators, full-width digits, spaces."""
    text = format(value, ",f") if draw(st.booleans()) else format(value, "f")
    if draw(st.booleans()):
        text = text.replace(",", "，")
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH_DIGITS)
    if draw(st.booleans()):
        text = text.replace(".", "．")
    pad = draw(st.sampled_from(["", " ", "\u3000", "\xa0"]))
    return f"{pad}{text}{pad}"


@given(st.data(), plain_decimals)
def test_typed_number_reads_back(data: st.DataObject, value: Decimal) -> None:
    text = data.draw(typed_forms(value))
    parsed = parse_number(text, unit="元")
    assert parsed.value == value
    assert parsed.error is None
    assert parsed.notice is None


@given(st.data(), plain_decimals.filter(lambda d: d != 0))
def test_negative_typed_number_reads_back(data: st.DataObject, value: Decimal) -> None:
    text = data.draw(st.sampled_from(["-", "－", "−"])) + data.draw(typed_forms(value)).strip()
    assert parse_number(text, kind="增速").value == -value
    assert parse_number(text, kind="累计").error is Code.E211


@given(st.data(), plain_decimals, st.sampled_from(sorted(MULTIPLIERS)))
def test_multiplier_scales_exactly(data: st.DataObject, value: Decimal, multiplier: str) -> None:
    text = data.draw(typed_forms(value)).strip() + multiplier
    parsed = parse_number(text, unit="元")
    assert parsed.value == value.scaleb(MULTIPLIERS[multiplier])
    assert parsed.error is None


@given(st.integers())
def test_ints_are_exact(n: int) -> None:
    parsed = parse_number(n, kind="增速")
    assert parsed.value == n
    assert parsed.value is not None
    assert parsed.value.as_tuple().exponent == 0


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_go_through_repr(x: float) -> None:
    parsed = parse_number(x, kind="增速")
    assert parsed.value is not None
    assert parsed.value == D(repr(x))
    if x.is_integer():
        assert parsed.value.as_tuple().exponent == 0


CELL_CHARS = "0123456789０１２３４５６７８９.,，-－%％万亿元家 /—约余"


@given(st.one_of(st.text(), st.text(alphabet=CELL_CHARS), st.none(),
                 st.floats(), st.integers(), st.decimals(), st.booleans(), st.dates()),
       st.sampled_from(["", "家", "万元", "亿元", "%", "公里"]),
       st.sampled_from(["累计", "增速"]), st.booleans())
def test_parse_number_never_raises(raw: object, unit: str, kind: str, percent_format: bool) -> None:
    parsed = parse_number(raw, unit=unit, kind=kind, percent_format=percent_format)
    outcomes = [parsed.value is not None, parsed.blank, parsed.nothing, parsed.error is not None]
    assert sum(outcomes) == 1, parsed
    assert parsed.error is None or parsed.notice is None
    assert parsed.error in (None, Code.E202, Code.E203, Code.E211, Code.E212)
    assert parsed.notice in (None, Code.W301, Code.W302, Code.W313)
    assert parsed.nothing == (parsed.notice is Code.W302)
    if parsed.value is not None:
        assert parsed.value.is_finite()


# ---------------------------------------------------------------------------------------------
# normalize_text
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        ("  abc  ", "abc"),
        ("１８１６", "1816"),
        ("ＡＢＣ（１）：％", "ABC(1):%"),
        ("推进中\u3000\u3000已完成", "推进中 已完成"),
        ("a \t\n b", "a b"),
        ("a\xa0b", "a b"),
        ("a\u200bb", "ab"),
        ("—无—", "—无—"),  # only the ASCII range is folded
        (59, "59"),
    ],
)
def test_normalize_text(raw: object, expected: str) -> None:
    assert normalize_text(raw) == expected


@given(st.text())
def test_normalize_text_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert once == once.strip()
    assert "  " not in once


# ---------------------------------------------------------------------------------------------
# parse_date
# ---------------------------------------------------------------------------------------------

DATES = [
    # text, end_of_period=True, end_of_period=False   (year=2021 supplied)
    ("2021-05-13", "2021-05-13", "2021-05-13"),
    ("2021-5-13", "2021-05-13", "2021-05-13"),
    ("2021/5/13", "2021-05-13", "2021-05-13"),
    ("2021.5.13", "2021-05-13", "2021-05-13"),
    ("２０２１－０５－１３", "2021-05-13", "2021-05-13"),
    ("2021-05-13 10:30:00", "2021-05-13", "2021-05-13"),
    ("2021-05-13T10:30", "2021-05-13", "2021-05-13"),
    ("20210513", "2021-05-13", "2021-05-13"),
    ("2021年5月13日", "2021-05-13", "2021-05-13"),
    ("2021年05月13日", "2021-05-13", "2021-05-13"),
    ("2021 年 5 月 13 日", "2021-05-13", "2021-05-13"),
    ("2021年5月13号", "2021-05-13", "2021-05-13"),
    ("二〇二一年五月十三日", "2021-05-13", "2021-05-13"),
    ("2022年1月", "2022-01-31", "2022-01-01"),
    ("2021年5月", "2021-05-31", "2021-05-01"),
    ("2024年2月", "2024-02-29", "2024-02-01"),
    ("2021-05", "2021-05-31", "2021-05-01"),
    ("2021.5", "2021-05-31", "2021-05-01"),
    ("21年6月", "2021-06-30", "2021-06-01"),
    ("5月13日", "2021-05-13", "2021-05-13"),
    ("5月", "2021-05-31", "2021-05-01"),
    ("5月份", "2021-05-31", "2021-05-01"),
    ("5月底", "2021-05-31", "2021-05-31"),
    ("5月末", "2021-05-31", "2021-05-31"),
    ("2月底", "2021-02-28", "2021-02-28"),
    ("6月初", "2021-06-10", "2021-06-01"),
    ("6月上旬", "2021-06-10", "2021-06-01"),
    ("6月中旬", "2021-06-20", "2021-06-11"),
    ("6月中", "2021-06-20", "2021-06-11"),
    ("6月下旬", "2021-06-30", "2021-06-21"),
    ("六月底", "2021-06-30", "2021-06-30"),
    ("十二月", "2021-12-31", "2021-12-01"),
    ("十一月中旬", "2021-11-20", "2021-11-11"),
    ("12月底", "2021-12-31", "2021-12-31"),
    ("年底", "2021-12-31", "2021-12-31"),
    ("年末", "2021-12-31", "2021-12-31"),
    ("年内", "2021-12-31", "2021-12-31"),
    ("今年底", "2021-12-31", "2021-12-31"),
    ("2022年底", "2022-12-31", "2022-12-31"),
    ("2022年", "2022-12-31", "2022-01-01"),
    ("全年", "2021-12-31", "2021-01-01"),
    ("一季度末", "2021-03-31", "2021-03-31"),
    ("一季度", "2021-03-31", "2021-01-01"),
    ("第一季度", "2021-03-31", "2021-01-01"),
    ("第1季度", "2021-03-31", "2021-01-01"),
    ("二季度末", "2021-06-30", "2021-06-30"),
    ("三季度末", "2021-09-30", "2021-09-30"),
    ("第四季度", "2021-12-31", "2021-10-01"),
    ("前三季度", "2021-09-30", "2021-01-01"),
    ("2021年第一季度", "2021-03-31", "2021-01-01"),
    ("上半年", "2021-06-30", "2021-01-01"),
    ("上半年末", "2021-06-30", "2021-06-30"),
    ("下半年", "2021-12-31", "2021-07-01"),
    ("年中", "2021-06-30", "2021-06-30"),
    ("6月底前", "2021-06-30", "2021-06-30"),
    ("6月30日前", "2021-06-30", "2021-06-30"),
    ("年底之前", "2021-12-31", "2021-12-31"),
    ("截至5月底", "2021-05-31", "2021-05-31"),
]


@pytest.mark.parametrize(("text", "end", "start"), DATES)
def test_parse_date(text: str, end: str, start: str) -> None:
    assert parse_date(text, year=2021) == date.fromisoformat(end)
    assert parse_date(text, year=2021, end_of_period=False) == date.fromisoformat(start)


@pytest.mark.parametrize("text", ["5月13日", "5月底", "6月初", "年底", "一季度末", "上半年", "十二月"])
def test_parse_date_needs_a_year(text: str) -> None:
    assert parse_date(text) is None
    assert parse_date(text, year=2022) is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (date(2021, 5, 13), "2021-05-13"),
        (datetime(2021, 5, 13, 17, 45), "2021-05-13"),
        (44329, "2021-05-13"),
        (44329.75, "2021-05-13"),
        (D("44329"), "2021-05-13"),
        (60, "1900-02-28"),
        (61, "1900-03-01"),
        (20210513, "2021-05-13"),
        (2958465, "9999-12-31"),
    ],
)
def test_parse_date_objects_and_serials(raw: object, expected: str) -> None:
    assert parse_date(raw) == date.fromisoformat(expected)


UNREADABLE_DATES = [
    None, "", "abc", "待定", "尽快", "6月前", "2021", "59", "5.13", "2月30日", "13月", "2021-13-01",
    "2021-02-30", "第五季度", "三十二日", True, 0, 59, -1, 1e30, float("nan"), float("inf"), D("NaN"),
    20211332, time(9, 30), ["2021-05-13"],
]


@pytest.mark.parametrize("raw", UNREADABLE_DATES)
def test_parse_date_unreadable(raw: object) -> None:
    assert parse_date(raw, year=2021) is None


@st.composite
def written_dates(draw: st.DrawFn) -> tuple[date, str]:
    d = draw(st.dates(min_value=date(1950, 1, 1), max_value=date(2099, 12, 31)))
    form = draw(st.sampled_from([
        "{y}-{m:02}-{d:02}", "{y}/{m}/{d}", "{y}.{m}.{d}", "{y}年{m}月{d}日", "{y}{m:02}{d:02}",
        "{y} 年 {m} 月 {d} 日",
    ]))
    return d, form.format(y=d.year, m=d.month, d=d.day)


@given(written_dates())
def test_written_dates_read_back(case: tuple[date, str]) -> None:
    d, text = case
    assert parse_date(text) == d
    assert parse_date(text.translate(FULL_WIDTH_DIGITS)) == d


@given(st.dates(min_value=date(1900, 3, 1)))
def test_excel_serials_read_back(d: date) -> None:
    serial = (d - date(1899, 12, 30)).days
    assert parse_date(serial) == d
    assert parse_date(serial + 0.5) == d


@given(st.integers(min_value=1900, max_value=2100), st.integers(min_value=1, max_value=12))
def test_month_texts_span_the_month(year: int, month: int) -> None:
    end = parse_date(f"{year}年{month}月")
    start = parse_date(f"{year}年{month}月", end_of_period=False)
    assert start == date(year, month, 1)
    assert end is not None
    assert end.month == month
    assert (end + timedelta(days=1)).day == 1


@given(st.one_of(st.text(), st.text(alphabet="0123456789年月日号底末初上中下旬季度第前半一二三十-/."),
                 st.integers(), st.floats(), st.decimals(), st.none()),
       st.one_of(st.none(), st.integers(min_value=1, max_value=9999)), st.booleans())
def test_parse_date_never_raises(raw: object, year: int | None, end_of_period: bool) -> None:
    result = parse_date(raw, year=year, end_of_period=end_of_period)
    assert result is None or isinstance(result, date)


# ---------------------------------------------------------------------------------------------
# half_up
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "places", "expected"),
    [
        (D("272.25"), 1, "272.3"),
        (D("85.495"), 2, "85.50"),
        (D("85.494"), 2, "85.49"),
        (D("-0.125"), 2, "-0.13"),
        (D("-0.124"), 2, "-0.12"),
        (D("2.5"), 0, "3"),
        (D("3.5"), 0, "4"),
        (D("-2.5"), 0, "-3"),
        (D("59"), 2, "59.00"),
        (D("59"), 0, "59"),
        (D("-0.001"), 2, "0.00"),
        (D("1E+3"), 2, "1000.00"),
        (59, 2, "59.00"),
        (2.675, 2, "2.68"),  # round() gives 2.67: the float is a hair below 2.675
        (0.125, 2, "0.13"),
        (1.005, 2, "1.01"),
        (D(1089) / D(400), 1, "2.7"),
        (D(1089) / D(400) * 100, 1, "272.3"),
        (D(1816) / D(2124) * 100, 2, "85.50"),
        (D(f"{10**40}.5"), 0, str(10**40 + 1)),  # beyond the default 28-digit context
    ],
)
def test_half_up(x: Decimal | float, places: int, expected: str) -> None:
    assert str(half_up(x, places)) == expected


def test_half_up_default_places_and_none() -> None:
    assert str(half_up(D("1.005"))) == "1.01"
    assert half_up(None) is None
    assert half_up(None, 0) is None


@pytest.mark.parametrize("x", [D("NaN"), D("Infinity"), float("nan"), float("-inf")])
def test_half_up_refuses_non_finite(x: Decimal | float) -> None:
    with pytest.raises(ValueError, match="cannot round"):
        half_up(x)


@pytest.mark.parametrize("x", [True, "1.5"])
def test_half_up_refuses_other_types(x: object) -> None:
    with pytest.raises(TypeError):
        half_up(x)  # type: ignore[arg-type]


def test_half_up_refuses_negative_places() -> None:
    with pytest.raises(ValueError, match="places"):
        half_up(D("1.5"), -1)


finite_decimals = st.decimals(allow_nan=False, allow_infinity=False, min_value=-(D(10) ** 12),
                              max_value=D(10) ** 12)


@given(finite_decimals, st.integers(min_value=0, max_value=6))
def test_half_up_agrees_with_quantize(x: Decimal, places: int) -> None:
    expected = x.quantize(D(1).scaleb(-places), rounding=ROUND_HALF_UP)
    result = half_up(x, places)
    assert result == expected
    assert result is not None
    assert result.as_tuple().exponent == -places


@given(finite_decimals, st.integers(min_value=0, max_value=6))
def test_half_up_rounds_halves_away_from_zero(x: Decimal, places: int) -> None:
    """An independent oracle in exact fractions: floor(|x| * 10^p + 1/2), with x's sign."""
    scaled = abs(Fraction(x)) * 10**places
    magnitude = int(scaled + Fraction(1, 2))
    expected = Fraction(magnitude if x >= 0 else -magnitude, 10**places)
    assert Fraction(half_up(x, places)) == expected  # type: ignore[arg-type]


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
       st.integers(min_value=0, max_value=4))
def test_half_up_floats_use_repr(x: float, places: int) -> None:
    assert half_up(x, places) == half_up(D(repr(x)), places)


@given(st.integers(min_value=-(10**40), max_value=10**40), st.integers(min_value=0, max_value=40),
       st.integers(min_value=0, max_value=14))
def test_half_up_fast_path_agrees_with_a_wide_context(digits: int, scale: int, places: int) -> None:
    """The Decimal fast path (a sensible size in the default context) and the general path give
    the same figure as a quantize in a context wide enough for anything, on both sides of the
    sizes where the fast path stops (adjusted + places = 25)."""
    from decimal import localcontext

    x = Decimal(digits).scaleb(-scale)
    with localcontext() as wide:
        wide.prec = 200
        expected = x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    result = half_up(x, places)
    assert result is not None
    assert str(result) == str(expected.copy_abs() if expected.is_zero() else expected)


@pytest.mark.parametrize(("x", "places", "expected"), [
    (D("9" * 23 + ".995"), 2, "1" + "0" * 23 + ".00"),  # adjusted + places = 24: the fast path
    (D("9" * 24 + ".995"), 2, "1" + "0" * 24 + ".00"),  # = 25: still the fast path
    (D("9" * 25 + ".995"), 2, "1" + "0" * 25 + ".00"),  # = 26: a context of its own
    (D("1.5"), 12, "1.500000000000"),  # beyond the places kept ready
    (D("-0.0000001"), 3, "0.000"),
])
def test_half_up_at_the_edges_of_the_fast_path(x: Decimal, places: int, expected: str) -> None:
    assert str(half_up(x, places)) == expected


def test_half_up_in_a_narrow_context_and_for_a_subclass() -> None:
    """A caller's narrower context, or a Decimal subclass, goes the general way: the same figure."""
    from decimal import localcontext

    class Figure(Decimal):
        pass

    with localcontext() as narrow:
        narrow.prec = 6
        assert str(half_up(D("123456789.125"), 2)) == "123456789.13"
        assert narrow.prec == 6
    assert str(half_up(Figure("2.675"), 2)) == "2.68"
    assert type(half_up(Figure("2.675"), 2)) is Decimal


# ---------------------------------------------------------------------------------------------
# the parts of a 比率 row


@pytest.mark.parametrize(("raw", "value", "unit"), [
    (338, "338", ""),
    ("338", "338", ""),
    ("338个", "338", "个"),
    ("1,816项", "1816", "项"),
    ("７６个项目", "76", "个项目"),
    ("4040.84万元", "4040.84", "万元"),  # kept as typed: the base decides the unit (check.py)
])
def test_count_with_any_unit_word(raw: object, value: str, unit: str) -> None:
    parsed = parse_count(raw)
    assert (parsed.value, parsed.typed_unit, parsed.rate, parsed.error) == (Decimal(value), unit, False, None)


@pytest.mark.parametrize(("raw", "percent_format", "value"), [
    ("95.48%", False, "95.48"),
    ("95.48％", False, "95.48"),
    (0.9548, True, "95.48"),
    ("95.48个百分点", False, "95.48"),
])
def test_typed_percentage_is_the_rate_never_a_count(raw: object, percent_format: bool, value: str) -> None:
    parsed = parse_count(raw, percent_format=percent_format)
    assert parsed.rate and parsed.value == Decimal(value) and parsed.notice is Code.W316
    base = parse_count(raw, percent_format=percent_format, rate_ok=False)
    assert base.value is None and base.error is Code.E217


@pytest.mark.parametrize(("raw", "code"), [
    ("约338个", Code.E203), ("338余个", Code.E203), ("300-400个", Code.E203), ("338个左右", Code.E203),
    ("-5个", Code.E211), ("见附件", Code.E203), ("三百个", Code.E202), ("338个(含续建)", Code.E202),
])
def test_count_refused(raw: str, code: Code) -> None:
    assert parse_count(raw).error is code


def test_count_blank_and_nothing() -> None:
    assert parse_count(None).blank and parse_count("  ").blank
    assert parse_count("无").nothing and parse_count("无").notice is Code.W302


@pytest.mark.parametrize(("typed", "other", "places"), [
    ("亿元", "万元", 4), ("万元", "亿元", -4), ("个", "个", None), ("个", "项", None), ("", "万元", None),
    ("万户", "户", 4),
])
def test_count_conversion(typed: str, other: str, places: int | None) -> None:
    assert count_conversion(typed, other) == places


@pytest.mark.parametrize(("unit", "places", "slip"), [
    ("万人", 4, "人"), ("亿元", 4, "万元"), ("亿元", 8, "元"), ("万元", 4, "元"), ("公里", 3, "米"),
    ("万千瓦", 4, "千瓦"), ("人", -4, "万人"), ("家", -4, "万家"), ("家", 4, None), ("%", 2, None),
    ("万元", -4, "亿元"), ("", 4, None),
])
def test_slip_unit(unit: str, places: int, slip: str | None) -> None:
    assert slip_unit(unit, places) == slip
