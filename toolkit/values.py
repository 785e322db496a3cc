"""Reading what a department typed into a cell: numbers, dates, rounding.

Every function here is pure: it takes a cell's raw value (as openpyxl or
calamine hands it over) and returns a result; it never raises on bad input.
Problems are reported as finding codes (see :mod:`toolkit.findings`) on the
returned :class:`Parsed`, and the caller turns them into findings.

Numbers (:func:`parse_number`)
------------------------------
* Empty cells (``None``, ``''``, only whitespace) are ``blank``.
* Nothing-to-report markers (``—``, ``-``, ``/``, ``无``, ``暂无``, ``N/A`` …, see
  :data:`NOTHING_MARKERS`) give ``nothing=True`` and notice W302.
* ``int`` is exact; ``float`` goes through ``repr`` so 0.1 stays 0.1, and a
  whole float is integral (59.0 → 59); ``Decimal`` is kept as is. ``bool``,
  dates, times, infinities and Decimal NaN are E202; a float NaN (pandas' empty
  cell) is blank.
* Text is normalised first: full-width characters become half-width (``１８１６``,
  ``．``, ``，``, ``％``, ``－``), the Unicode minus signs become ``-``, and spaces
  (including ``\\u3000`` and no-break spaces) are dropped. A comma or a space
  between digits is a thousands separator only in groups of three (``1,816``,
  ``1 816``); ``1,81`` could be a decimal comma and is E203.
* A trailing unit equal to the row's unit is dropped (``59家`` in a 家 row).
  A unit that converts to the row's unit (:data:`UNITS`, plus a bare or prefixed
  multiplier 万/亿/…, see :data:`MULTIPLIERS`) is converted exactly, with notice
  W301 when the number changes (``2200万`` in a 亿元 row → 0.22). Any other unit
  is E212 (``59个`` in a 家 row).
* ``%`` is accepted only in a percent row (unit ``%``); elsewhere it is E212. A
  number read from a cell with a percent number format is multiplied by 100 in
  a percent row (0.4214 → 42.14, notice W313) and is E212 in any other row.
* Negative numbers (``-8``, ``－8``, ``−8``) are allowed for 增速 rows or when
  ``allow_negative`` says so, otherwise E211. ``(8)`` is not a number (E202).
* Approximations, ranges and references (``约2200``, ``50余``, ``2200-2500``,
  ``见附件``, ``待统计`` …, see :data:`AMBIGUOUS_WORDS`) are E203; anything else
  that is not a number is E202.

The parts of a 比率 row (:func:`parse_count`)
--------------------------------------------
In a 比率 row the 计量单位 (``%``) is the unit of the *rate*; 本期完成 and 基数 are
counts in whatever unit the department counts in. So a count may carry any short
unit word (``338个``, ``1,816项``, ``76个项目``), kept as typed in ``typed_unit``; a
percentage (``95.48%``, or a cell with a percent number format) in 本期完成 is the
rate itself (``rate=True``, value 95.48, notice W316) and never a count; in 基数 a
percentage is E217. Approximations stay E203, negatives E211.

Dates (:func:`parse_date`)
--------------------------
``date``/``datetime`` objects, Excel serial numbers (> 59), ``20210513``, and
text such as ``2021-05-13``, ``2021/5/13``, ``2021.5.13``, ``2021年5月13日``,
``2021年5月``, ``5月底``, ``6月初``, ``6月中旬``, ``年底``, ``一季度末``, ``上半年``,
``前三季度``, ``六月底``, ``十二月``. A text naming a period (a year, half, quarter,
month or ten-day span) gives the period's last day, or its first day when
``end_of_period`` is false; a text naming a point (a day, ``底``/``末``) gives
that day. ``None`` means unreadable (the caller decides what to say).

Rounding (:func:`half_up`)
--------------------------
Round half away from zero in decimal arithmetic (the way people round by hand
and the way the printed report must show figures), never through binary floats.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, getcontext, localcontext

from toolkit.findings import Code
from toolkit.model import PERCENT_UNITS

__all__ = [
    "AMBIGUOUS_WORDS",
    "MULTIPLIERS",
    "NOTHING_MARKERS",
    "PERCENT_UNITS",
    "UNITS",
    "Parsed",
    "half_up",
    "normalize_text",
    "parse_count",
    "parse_date",
    "parse_number",
    "slip_unit",
]

# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

#: Unit → (base unit, power of ten). Two units convert when they share a base unit:
#: a value in unit ``a`` is ``value * 10 ** (power_a - power_b)`` in unit ``b``.
UNITS: dict[str, tuple[str, int]] = {
    "元": ("元", 0), "万元": ("元", 4), "亿元": ("元", 8),
    "亩": ("亩", 0), "万亩": ("亩", 4),
    "人": ("人", 0), "万人": ("人", 4),
    "个": ("个", 0), "万个": ("个", 4),
    "户": ("户", 0), "万户": ("户", 4),
    "吨": ("吨", 0), "万吨": ("吨", 4),
    "瓦": ("瓦", 0), "千瓦": ("瓦", 3), "万千瓦": ("瓦", 7),
    "米": ("米", 0), "千米": ("米", 3), "公里": ("米", 3),
}

#: Chinese multipliers, as powers of ten. Alone (``2200万``) they scale the number in the
#: row's own base unit; in front of a unit (``5万家``, ``1.2亿元``) they scale that unit.
MULTIPLIERS: dict[str, int] = {
    "千": 3, "万": 4, "十万": 5, "百万": 6, "千万": 7,
    "亿": 8, "十亿": 9, "百亿": 10, "千亿": 11, "万亿": 12,
}
_PREFIXES = sorted(MULTIPLIERS, key=len, reverse=True)  # longest first: 千万 before 千


#: Whole-cell texts meaning "nothing to report" (compared in lower case, after normalisation).
#: A cell made only of dashes and slashes (``—``, ``——``, ``--``, ``/``) also counts.
NOTHING_MARKERS = frozenset({
    "无", "暂无", "没有", "空", "不适用", "不涉及", "未涉及", "无数据", "暂无数据",
    "n/a", "na", "none", "null",
})
_NOTHING_CHARS = frozenset("-—–―─/\\")

#: Words that make a number uncertain (approximations, bounds, references, "not yet").
#: Checked only on text that did not read as a number (and on a number's trailing text).
AMBIGUOUS_WORDS = (
    "约", "大概", "大致", "近", "超过", "超", "逾", "余", "多", "几", "若干",
    "左右", "上下", "以上", "以下", "以内", "不足", "不到", "不少于", "不低于", "至少", "最多",
    "附件", "附表", "待", "统计中", "核实中", "估", "预计", "初步", "±",
)

# ---------------------------------------------------------------------------------------------
# Text normalisation
# ---------------------------------------------------------------------------------------------

#: Full-width ASCII (U+FF01..U+FF5E) → ASCII, ideographic space → space, zero-width → nothing.
_HALF_WIDTH: dict[int, int | None] = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_HALF_WIDTH[0x3000] = 0x20
_HALF_WIDTH.update(dict.fromkeys((0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)))

#: Extra mapping inside numbers: the many minus signs, the small percent sign.
_NUMBER_CHARS = str.maketrans({
    "\u2212": "-", "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\ufe63": "-",
    "\ufe6a": "%",
})


def normalize_text(raw: object) -> str:
    """Full-width ASCII to half-width, trim, collapse whitespace runs to one space.

    ``None`` gives ``''``; anything else goes through ``str`` first.
    """
    if raw is None:
        return ""
    text = raw if isinstance(raw, str) else str(raw)
    return " ".join(text.translate(_HALF_WIDTH).split())


def _number_text(raw: str) -> str:
    """Normalise a cell's text for number reading: spaces survive only between digits."""
    text = normalize_text(raw).translate(_NUMBER_CHARS)
    return re.sub(r"(?<![0-9]) | (?![0-9])", "", text)


def _clean_unit(unit: str) -> str:
    """The row's unit without spaces or surrounding brackets (``（万元）`` → ``万元``)."""
    clean = _CLEAN_UNITS.get(unit)
    if clean is None:
        text = re.sub(r"\s", "", normalize_text(unit)).translate(_NUMBER_CHARS)
        clean = re.sub(r"^[(\[【]+|[)\]】]+$", "", text)
        if len(unit) <= 40 and len(_CLEAN_UNITS) < 2_000:
            _CLEAN_UNITS[unit] = clean
    return clean


#: _clean_unit() of units seen before: every cell of a row is read in its unit, and a registry has
#: a few dozen units (bounded, so a file's hand-typed units cannot grow it).
_CLEAN_UNITS: dict[str, str] = {}


# ---------------------------------------------------------------------------------------------
# Decimal helpers
# ---------------------------------------------------------------------------------------------


def _plain(d: Decimal) -> Decimal:
    """``d`` without trailing fractional zeros or a positive exponent (1.2E+4 → 12000, 0.2200 → 0.22).

    Works on the digit tuple, so it is exact whatever the context precision.
    """
    sign, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    if not any(digits):
        return Decimal(0)
    if exp > 0:
        return Decimal((sign, digits + (0,) * exp, 0))
    while exp < 0 and digits[-1] == 0:
        digits, exp = digits[:-1], exp + 1
    return Decimal((sign, digits, exp))


def _shift(d: Decimal, places: int) -> Decimal:
    """``d * 10 ** places`` exactly, tidied with :func:`_plain`."""
    sign, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    return _plain(Decimal((sign, digits, exp + places)))


def _text(d: Decimal) -> str:
    """Fixed-point text of ``d`` (never scientific notation)."""
    return format(d, "f")


def _from_float(x: float) -> Decimal | None:
    if not math.isfinite(x):
        return None
    if x.is_integer() and -_EXACT < x < _EXACT:  # 59.0 → 59: every such float is its own shortest text
        return Decimal(int(x))
    value = Decimal(repr(x))  # the shortest text that round-trips: 0.1 stays 0.1
    return _plain(value) if x.is_integer() else value  # 1e+20 → 100000000000000000000


#: Below this every whole float is exactly the integer its shortest text names.
_EXACT = 2.0 ** 53


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """What one cell says, as a number in the row's unit (or why it says none)."""

    value: Decimal | None  # the number, in the ROW's unit; None when blank/nothing/error
    blank: bool = False  # the cell was empty (None, '', only whitespace)
    nothing: bool = False  # the department wrote that there is nothing to report (W302)
    error: Code | None = None  # E202, E203, E211 or E212
    notice: Code | None = None  # W301, W302 or W313
    original: str = ""  # the text as typed (as shown in Excel), for messages' {value}
    detail: str = ""  # text for the message's {detail}, e.g. '0.22亿元' or '42.14'
    typed_unit: str = ""  # the unit the department wrote ('个', '%'); E212's {value} reads best with it
    rate: bool = False  # parse_count: the number is a percentage (the rate itself), not a count

    @property
    def ok(self) -> bool:
        """True when the cell gave a number."""
        return self.value is not None


#: What every empty cell reads as (Parsed is frozen: one will do).
_BLANK = Parsed(None, blank=True)

#: sign, number (thousands groups of three, separated by ',' or ' '), trailing text.
_NUMBER = re.compile(
    r"(?P<sign>[+-]?)"
    r"(?P<num>(?:[0-9]{1,3}(?:[, ][0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>.*)",
    re.DOTALL,
)
#: Two numbers joined by a range sign, each optionally with a unit: 2200-2500, 2200万~2500万.
_RANGE = re.compile(
    r"[+-]?[0-9][0-9.,]*[^0-9~至到—-]{0,4}(?:-+|~|至|到|—+)[+-]?[0-9][0-9.,]*[^0-9]{0,4}"
)
#: A unit as people write one: a few Chinese characters or letters.
_UNIT_LIKE = re.compile(r"[A-Za-z\u4e00-\u9fff%/²³·]{1,8}")


def parse_number(raw: object, *, unit: str = "", kind: str = "累计", percent_format: bool = False,
                 allow_negative: bool | None = None) -> Parsed:
    """Read a cell's value as a number in the row's unit ``unit`` (计量单位).

    ``kind`` is the indicator type; negative numbers are allowed for 增速 unless
    ``allow_negative`` decides explicitly. ``percent_format`` says the xlsx cell had a
    percent number format (so a stored 0.4214 was shown as 42.14%).
    """
    row_unit = _clean_unit(unit)
    negative_ok = kind == "增速" if allow_negative is None else allow_negative

    if raw is None or (isinstance(raw, float) and math.isnan(raw)):  # pandas reads empty cells as NaN
        return _BLANK
    if isinstance(raw, bool):
        return _error(Code.E202, "TRUE" if raw else "FALSE")
    if isinstance(raw, datetime):
        shown = raw.date().isoformat() if raw.time() == time() else raw.isoformat(" ", "minutes")
        return _error(Code.E202, shown)
    if isinstance(raw, (date, time)):
        return _error(Code.E202, raw.isoformat())
    if isinstance(raw, (int, float, Decimal)):
        return _from_number(raw, row_unit, negative_ok, percent_format)
    return _from_text(raw if isinstance(raw, str) else str(raw), row_unit, negative_ok)


def _error(code: Code, original: str, detail: str = "", typed_unit: str = "") -> Parsed:
    return Parsed(None, error=code, original=original, detail=detail, typed_unit=typed_unit)


def _accept(value: Decimal, original: str, negative_ok: bool, *, notice: Code | None = None,
            detail: str = "", typed_unit: str = "") -> Parsed:
    """The last step for every number: -0 becomes 0, a negative may be refused (E211)."""
    if value.is_zero():
        value = value.copy_abs()
    if value < 0 and not negative_ok:
        return _error(Code.E211, original, _text(value), typed_unit)
    return Parsed(value, notice=notice, original=original, detail=detail, typed_unit=typed_unit)


def _from_number(raw: float | Decimal, row_unit: str, negative_ok: bool,
                 percent_format: bool) -> Parsed:
    if isinstance(raw, int):
        value: Decimal | None = Decimal(raw)
    elif isinstance(raw, float):
        value = _from_float(raw)
    else:
        value = raw if raw.is_finite() else None
    if value is None:
        return _error(Code.E202, str(raw))
    if not percent_format:
        return _accept(value, _text(value), negative_ok)
    percent = _shift(value, 2)
    shown = f"{_text(percent)}%"
    if row_unit not in PERCENT_UNITS:
        return _error(Code.E212, shown, row_unit or "无单位", "%")
    return _accept(percent, shown, negative_ok, notice=Code.W313, detail=_text(percent), typed_unit="%")


@dataclass(frozen=True)
class _Lexed:
    """A typed text read as a number and whatever follows it (``338个`` → 338, ``个``)."""

    value: Decimal
    suffix: str
    original: str  # as typed, trimmed
    text: str  # normalised


def _lex(raw: str) -> _Lexed | Parsed:
    """The number at the start of a typed text, or the Parsed that says why there is none
    (blank, nothing to report, ambiguous, not a number)."""
    original = raw.strip()
    text = _number_text(raw)
    if not text:
        return _BLANK
    if _is_nothing(text):
        return Parsed(None, nothing=True, notice=Code.W302, original=original)
    m = _NUMBER.fullmatch(text)
    if m is None or re.search(r"[0-9]", m["suffix"]):
        return _error(Code.E203 if _is_ambiguous(text) else Code.E202, original, text)
    value = Decimal(re.sub(r"[, ]", "", m["num"]))
    return _Lexed(-value if m["sign"] == "-" else value, m["suffix"], original, text)


def _from_text(raw: str, row_unit: str, negative_ok: bool) -> Parsed:
    lexed = _lex(raw)
    if isinstance(lexed, Parsed):
        return lexed
    value, suffix, original, text = lexed.value, lexed.suffix, lexed.original, lexed.text

    if suffix in ("", row_unit):
        return _accept(value, original, negative_ok, typed_unit=suffix)
    if any(word in suffix for word in AMBIGUOUS_WORDS):
        return _error(Code.E203, original, text)
    if not _UNIT_LIKE.fullmatch(suffix):
        return _error(Code.E202, original, text)
    if suffix == "%":
        if row_unit in PERCENT_UNITS:
            return _accept(value, original, negative_ok, typed_unit=suffix)
        return _error(Code.E212, original, row_unit or "无单位", suffix)
    places = _conversion(suffix, row_unit)
    if places is None:
        return _error(Code.E212, original, row_unit or "无单位", suffix)
    if places == 0:  # the same unit spelled differently (千米/公里, 万/万元): nothing to tell
        return _accept(value, original, negative_ok, typed_unit=suffix)
    converted = _shift(value, places)
    return _accept(converted, original, negative_ok, notice=Code.W301,
                   detail=f"{_text(converted)}{row_unit}", typed_unit=suffix)


#: Words that make a number in a 比率 row a percentage (the rate), not a count (also a leading %).
_RATE_SUFFIXES = ("百分点", "百分比", "百分率")


def parse_count(raw: object, *, percent_format: bool = False, rate_ok: bool = True) -> Parsed:
    """Read one part of a 比率 row: a count with any unit word, or (``rate_ok``) the rate itself.

    ``338个`` → 338 (typed_unit ``个``); ``95.48%`` or a percent-formatted 0.9548 → 95.48 with
    ``rate=True`` and notice W316 when ``rate_ok`` (本期完成), else E217 (基数). A count is never
    negative (E211); ``约338个`` and ranges are E203; text that is no number is E202.
    """
    if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        if not percent_format:
            return parse_number(raw, unit="", kind="累计")
        plain = parse_number(raw, unit="", kind="累计", allow_negative=True)
        if plain.value is None:
            return plain
        percent = _shift(plain.value, 2)
        return _rate(percent, f"{_text(percent)}%", rate_ok)
    if not isinstance(raw, str):
        return parse_number(raw, unit="", kind="累计")
    lexed = _lex(raw)
    if isinstance(lexed, Parsed):
        return lexed
    value, suffix, original, text = lexed.value, lexed.suffix, lexed.original, lexed.text
    if any(word in suffix for word in AMBIGUOUS_WORDS):
        return _error(Code.E203, original, text)
    if suffix and not _UNIT_LIKE.fullmatch(suffix):
        return _error(Code.E202, original, text)
    if suffix.startswith("%") or any(word in suffix for word in _RATE_SUFFIXES):
        return _rate(value, original, rate_ok)
    return _accept(value, original, False, typed_unit=suffix)


def _rate(percent: Decimal, shown: str, rate_ok: bool) -> Parsed:
    if not rate_ok:
        return _error(Code.E217, shown, typed_unit="%")
    accepted = _accept(percent, shown, False, notice=Code.W316, detail=_text(percent), typed_unit="%")
    if accepted.error is not None:
        return accepted
    return Parsed(accepted.value, notice=Code.W316, original=shown, detail=_text(percent), typed_unit="%",
                  rate=True)


def count_conversion(typed: str, other: str) -> int | None:
    """Power of ten turning a count typed in ``typed`` into ``other`` (``0.22亿元`` vs ``万元`` → 4).

    None when either is blank or they do not convert (``个`` vs ``项``); used to bring
    a 比率 row's 本期完成 into the unit its 基数 was typed in.
    """
    typed, other = _clean_unit(typed), _clean_unit(other)
    if not typed or not other or typed == other:
        return None
    typed_base, typed_power = _decompose(typed)
    other_base, other_power = _decompose(other)
    if typed_base != other_base or typed_power == other_power:
        return None
    return typed_power - other_power


def shift(value: Decimal, places: int) -> Decimal:
    """``value * 10 ** places`` exactly (``shift(Decimal('0.22'), 4)`` → 2200)."""
    return _shift(value, places)


def slip_unit(row_unit: str, places: int) -> str | None:
    """The unit a number typed into a ``row_unit`` row was likely meant in, when it is ``10**places`` off.

    A number ``10**places`` times too large was typed in a unit that much smaller:
    ``slip_unit('万人', 4)`` → ``人``, ``slip_unit('亿元', 4)`` → ``万元``, ``slip_unit('亿元', 8)`` → ``元``,
    ``slip_unit('公里', 3)`` → ``米``; a negative ``places`` means too small (``slip_unit('人', -4)`` → ``万人``).
    None when there is no such unit (``家`` has nothing smaller; percentages have no scale).
    """
    row = _clean_unit(row_unit)
    if not row or row in PERCENT_UNITS or places == 0:
        return None
    base, power = _decompose(row)
    wanted = power - places
    if not base or wanted < 0:
        return None
    named = [name for name, (b, p) in UNITS.items() if b == base and p == wanted]
    if named:
        return "公里" if "公里" in named else named[0]
    if wanted == 0:
        return base
    prefix = next((name for name, p in MULTIPLIERS.items() if p == wanted), None)
    return prefix + base if prefix else None


def _is_nothing(text: str) -> bool:
    lowered = text.lower().rstrip("。.")
    return lowered in NOTHING_MARKERS or (bool(text) and set(text) <= _NOTHING_CHARS)


def _is_ambiguous(text: str) -> bool:
    """Does text that is not a number look like an approximate or unsettled number?"""
    return (any(word in text for word in AMBIGUOUS_WORDS)
            or _RANGE.fullmatch(text) is not None
            or re.search(r"[0-9],[0-9]", text) is not None)  # 1,81: decimal comma or bad grouping


def _decompose(unit: str) -> tuple[str, int]:
    """A unit as (base unit, power of ten): 万元 → (元, 4), 万 → ('', 4), 万家 → (家, 4)."""
    if unit in UNITS:
        return UNITS[unit]
    for prefix in _PREFIXES:
        if unit.startswith(prefix):
            base, power = _decompose(unit[len(prefix):]) if unit != prefix else ("", 0)
            return base, power + MULTIPLIERS[prefix]
    return unit, 0


def _conversion(typed: str, row_unit: str) -> int | None:
    """Power of ten turning a number in ``typed`` into the row's unit; None if they do not convert."""
    if row_unit in PERCENT_UNITS:
        return None
    typed_base, typed_power = _decompose(typed)
    row_base, row_power = _decompose(row_unit)
    if typed_base == "":  # a bare multiplier counts in the row's own base unit
        typed_base = row_base
    if typed_base != row_base:
        return None
    return typed_power - row_power


# ---------------------------------------------------------------------------------------------
# Rounding
# ---------------------------------------------------------------------------------------------


def half_up(x: Decimal | float | None, places: int = 2) -> Decimal | None:
    """Round to ``places`` decimals, halves away from zero: 272.25 → 272.3 (places=1).

    ``None`` stays ``None``; floats go through ``repr``; ``places=0`` gives an integral
    Decimal. A zero result is never negative (-0.001 → 0.00).
    """
    if type(x) is Decimal and 0 <= places < _FAST_PLACES and x.is_finite() and x.adjusted() + places <= 25 \
            and getcontext().prec == 28:
        # the usual case, as below when max(28, adjusted + places + 3) is the context's 28: a
        # finite Decimal of a sensible size, none of the checks below needed (0.5 µs a call less)
        result = x.quantize(_QUANTA[places], ROUND_HALF_UP)
        return result.copy_abs() if result.is_zero() else result
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, (Decimal, int, float)):
        raise TypeError(f"half_up needs a Decimal, int or float, not {type(x).__name__}")
    if places < 0:
        raise ValueError("places must be >= 0")
    d = Decimal(repr(x)) if isinstance(x, float) else Decimal(x)
    if not d.is_finite():
        raise ValueError(f"cannot round {x!r}")
    prec = max(28, d.adjusted() + places + 3)
    quantum = _QUANTA[places] if places < len(_QUANTA) else Decimal((0, (1,), -places))
    if getcontext().prec == prec:  # the usual case: the same result without a context of its own (4 µs less)
        result = d.quantize(quantum, rounding=ROUND_HALF_UP)
    else:
        with localcontext() as ctx:
            ctx.prec = prec
            result = d.quantize(quantum, rounding=ROUND_HALF_UP)
    return result.copy_abs() if result.is_zero() else result


_QUANTA = tuple(Decimal((0, (1,), -places)) for places in range(12))
_FAST_PLACES = len(_QUANTA)


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

_EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_MAX = (date(9999, 12, 31) - _EXCEL_EPOCH).days
_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}

_N = r"[0-9]{1,2}|[一二三四五六七八九十两]{1,3}"  # a month or day number
_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_YEAR_MONTH = re.compile(r"(\d{4})[-/.](\d{1,2})")
_TIME = re.compile(r"(?:T|\s+)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_LEAD = re.compile(r"^(?:截至|截止到|截止至|截止|到|至)")
_BEFORE = re.compile(r"(?:之|以)?前$")
_YEAR_PREFIX = re.compile(
    r"(?:(?P<y>[0-9]{4}|[0-9]{2}|[〇零一二三四五六七八九]{4})年度?|(?P<this>今年|本年|当年))?(?P<rest>.*)"
)
_MONTH = re.compile(rf"(?P<m>{_N})月份?(?:(?P<d>{_N})[日号]|(?P<q>底|末|初|上旬|中旬|下旬|中))?")
_QUARTER = re.compile(r"(?P<first>前)?第?(?P<n>[一二三四1-4])季度?(?P<end>末|底)?")
_HALF = re.compile(r"(?P<h>上半年|下半年|半年|年中)(?P<end>末|底)?")
_YEAR_END = re.compile(r"年?(?:底|末|内|终)|全年")

#: (first day, last day) of a month's ten-day spans, by qualifier; 0 means the month's end.
_SPANS = {"初": (1, 10), "上旬": (1, 10), "中旬": (11, 20), "中": (11, 20), "下旬": (21, 0)}


def _cn_int(text: str) -> int | None:
    """1–99 in Arabic or Chinese numerals (十二, 二十一, 三十); a 4-digit 二〇二一 digit by digit."""
    if text.isascii() and text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1:
            return None
        t = _CN_DIGITS.get(tens, -1) if tens else 1
        o = _CN_DIGITS.get(ones, -1) if ones else 0
        return None if t < 0 or o < 0 else 10 * t + o
    if text and all(c in _CN_DIGITS for c in text):
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    return None


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def parse_date(raw: object, *, year: int | None = None, end_of_period: bool = True) -> date | None:
    """Read a date from a cell; ``year`` fills in texts without one (5月底).

    A period (2021年5月, 一季度, 6月中旬) gives its last day, or its first day when
    ``end_of_period`` is false. Returns ``None`` when the value cannot be read.
    """
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, (int, float, Decimal)):
        return _from_serial(raw)
    if not isinstance(raw, str):
        return None
    try:
        return _date_from_text(raw, year, end_of_period)
    except ValueError:  # a day or month out of range (2月30日, 13月)
        return None


def _from_serial(n: float | Decimal) -> date | None:
    """An Excel serial day number (1 = 1900-01-01; up to 59 is before the 1900 leap bug) or 20210513."""
    if (isinstance(n, float) and not math.isfinite(n)) or (isinstance(n, Decimal) and not n.is_finite()):
        return None
    if n == int(n) and 10000101 <= n <= 99991231:
        m = _COMPACT.fullmatch(str(int(n)))
        try:
            return date(int(m[1]), int(m[2]), int(m[3])) if m else None
        except ValueError:
            return None
    if 59 < n <= _EXCEL_MAX:
        return _EXCEL_EPOCH + timedelta(days=math.floor(n))
    return None


def _date_from_text(raw: str, year: int | None, end_of_period: bool) -> date | None:
    text = _TIME.sub("", normalize_text(raw))
    text = re.sub(r"\s", "", text)
    for pattern in (_ISO, _COMPACT):
        m = pattern.fullmatch(text)
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
    m = _YEAR_MONTH.fullmatch(text)
    if m:
        year_no, month = int(m[1]), int(m[2])
        return _month_end(year_no, month) if end_of_period else date(year_no, month, 1)

    text = _LEAD.sub("", text)
    before = _BEFORE.search(text)
    if before:  # 6月底前, 6月30日前: only after a point or a span, never a bare month or year
        text = text[:before.start()]
        if not re.search(r"[日号底末旬初]$", text):
            return None

    m = _YEAR_PREFIX.fullmatch(text)
    assert m is not None  # every part is optional
    y: int | None
    if m["y"]:
        y = _cn_int(m["y"])
        if y is not None and y < 100:
            y += 2000
    else:
        y = year
    rest = m["rest"]
    if y is None or not 1 <= y <= 9999 or not (rest or m["y"] or m["this"]):
        return None

    span = _span(y, rest)
    if span is None:
        return None
    first, last, point = span
    return last if point or end_of_period else first


def _span(y: int, rest: str) -> tuple[date, date, bool] | None:
    """The period ``rest`` names in year ``y``: (first day, last day, names-a-point)."""
    if rest == "":
        return date(y, 1, 1), date(y, 12, 31), False
    if _YEAR_END.fullmatch(rest):
        return date(y, 1, 1), date(y, 12, 31), rest != "全年"
    m = _HALF.fullmatch(rest)
    if m:
        if m["h"] == "下半年":
            return date(y, 7, 1), date(y, 12, 31), bool(m["end"])
        return date(y, 1, 1), date(y, 6, 30), bool(m["end"]) or m["h"] == "年中"
    m = _QUARTER.fullmatch(rest)
    if m:
        q = _cn_int(m["n"])
        assert q is not None
        first = date(y, 1, 1) if m["first"] else date(y, 3 * q - 2, 1)
        return first, _month_end(y, 3 * q), bool(m["end"])
    m = _MONTH.fullmatch(rest)
    if m:
        month = _cn_int(m["m"])
        if month is None or not 1 <= month <= 12:
            return None
        if m["d"]:
            day = _cn_int(m["d"])
            if day is None:
                return None
            point = date(y, month, day)
            return point, point, True
        end = _month_end(y, month)
        if m["q"] in ("底", "末"):
            return end, end, True
        if m["q"]:
            lo, hi = _SPANS[m["q"]]
            return date(y, month, lo), date(y, month, hi) if hi else end, False
        return date(y, month, 1), end, False
    return None
