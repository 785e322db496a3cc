"""How numbers and dates are shown, in one place for every writer.

Every figure a person reads (the summary, the ledger, the Word report, the reply
mails, the terminal) is formatted here, so one quantity shows the same way
everywhere: 序时进度 33.33% in the summary, the ledger and the report alike.

Rounding is always *half up* in decimal arithmetic (``values.half_up``); judging a
status is never done on these texts, only on the exact values (see
:mod:`toolkit.indicators`).

* :func:`format_count` — a reported figure as given, without trailing zeros
  (``1.42550`` → ``1.4255``).
* :func:`format_pct` — a percentage with exactly ``decimals`` places (``85.5`` → ``85.50``).
* :func:`format_number` — a Decimal as plain text with the places it carries.
* :func:`cn_date`, :func:`cn_month_day` — ``2021年5月13日``, ``4月30日``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = [
    "TIME_PROGRESS_PLACES",
    "change_text",
    "cn_date",
    "cn_month_day",
    "cn_month_day_time",
    "decimal_or_none",
    "format_count",
    "format_number",
    "format_pct",
    "places_of",
    "round_half_up",
]

#: 序时进度 is one quantity for the whole round: always shown with two places (33.33%).
TIME_PROGRESS_PLACES = 2


def decimal_or_none(value: object) -> Decimal | None:
    """``value`` as a finite Decimal, or None (bools, NaN, infinities and text that is no number)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


def round_half_up(value: Decimal, places: int) -> Decimal:
    """``value`` rounded half up to ``places`` decimals; never ``-0``."""
    places = max(int(places), 0)
    quantum = _QUANTA[places] if places < len(_QUANTA) else Decimal(1).scaleb(-places)
    q = value.quantize(quantum, rounding=ROUND_HALF_UP)
    return q.copy_abs() if q.is_zero() else q


_QUANTA = tuple(Decimal(1).scaleb(-places) for places in range(12))  # 1, 0.1, 0.01, …


def places_of(d: Decimal) -> int:
    """How many decimal places ``d`` carries (``Decimal('85.50')`` → 2, ``Decimal('1E+3')`` → 0)."""
    exponent = d.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def format_count(value: object) -> str:
    """A reported figure: no exponent, no trailing zeros (``1.42550`` → ``1.4255``); '' for none."""
    d = decimal_or_none(value)
    if d is None:
        return ""
    if d == 0:
        return "0"
    return format(d.normalize(), "f")


def format_pct(value: object, decimals: int = 2) -> str:
    """A percentage with exactly ``decimals`` places, rounded half up (``85.5`` → ``85.50``)."""
    d = decimal_or_none(value)
    if d is None:
        return ""
    return format(round_half_up(d, decimals), "f")


def format_number(value: object) -> str:
    """A Decimal as plain text: no exponent, the places it was given, '' for None.

    ``Decimal('85.50')`` → ``'85.50'``, ``Decimal('1E+3')`` → ``'1000'``; a negative
    zero (``-0.00``) is written ``0.00``; NaN and infinities are written as ''.
    """
    d = decimal_or_none(value)
    if d is None:
        return ""
    if d.is_zero():
        d = d.copy_abs()
    return format(d, "f")


def change_text(points: Decimal, word: str) -> str:
    """A change in percentage points since an earlier round: ``较上月提高2.5个百分点``,
    ``较上轮下降1个百分点``, ``与上月持平``."""
    if points.is_zero():
        return f"与{word}持平"
    verb = "提高" if points > 0 else "下降"
    return f"较{word}{verb}{format_number(abs(points))}个百分点"


def cn_date(value: date) -> str:
    """``2021年5月13日``."""
    return f"{value.year}年{value.month}月{value.day}日"


def cn_month_day(value: date) -> str:
    """``4月30日``."""
    return f"{value.month}月{value.day}日"


def cn_month_day_time(value: datetime) -> str:
    """``5月7日 10:05`` (an arrival time in a table)."""
    return f"{value.month}月{value.day}日 {value:%H:%M}"
