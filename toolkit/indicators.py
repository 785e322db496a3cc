"""The maths of a round: time progress, ratios, gaps, year on year, statuses, totals.

All arithmetic is Decimal. Statuses, gaps and comparisons are judged on the *exact*
values; rounding (half up, :mod:`toolkit.formatting`) is only for what is shown. When
the rounded figure would say something the status does not (100% for a row not done,
a 差距 of 0.00 for a row behind), the figure is shown with more places (99.5%) so that
what a leader reads and the status beside it never disagree.

What blanks mean (see docs/rules.md):

* no accepted return from a unit → 未报送; an 错误 on the row → 待更正;
* a row the unit's accepted return did not carry because the office added it (or
  changed it beyond conversion) after the template was issued → 待补报;
* 累计 with "无/暂无" → nothing done yet, counted as 0;
* other numeric types with "无/暂无" → no figure this round, status 推进中;
* 比率 with a 基数 of 0 → no ratio (never a division by zero), status 推进中; a rate
  typed as a percentage (``Entry.rate``) is the ratio itself;
* 同比 only when 上年同期 is given (and, for a relative change, not 0): a relative
  change in % for counts, a difference in percentage points for rates
  (:attr:`~toolkit.model.Indicator.rate_like`);
* a 合计 with parts missing or held for correction is never judged lagging on the
  partial sum: it says which parts are missing instead.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from .formatting import TIME_PROGRESS_PLACES
from .model import ABSENT, LAGGING, NODE_STATES, TOTAL, Entry, Indicator, ResultRow, Status
from .values import half_up

HUNDRED = Decimal(100)


def time_progress(cutoff: date, year: int, basis: str = "按月") -> Decimal:
    """序时进度 in percent (unrounded).

    按月: whole months elapsed / 12; a month counts once the cut-off reaches its
    last day (2021-04-30 → 4/12, 2021-04-20 → 3/12). 按日: days elapsed / days in year.
    """
    if cutoff.year < year:
        return Decimal(0)
    if cutoff.year > year:
        return HUNDRED
    if basis == "按日":
        days = 366 if calendar.isleap(year) else 365
        elapsed = (cutoff - date(year, 1, 1)).days + 1
        return Decimal(elapsed) * HUNDRED / Decimal(days)
    last_day = calendar.monthrange(cutoff.year, cutoff.month)[1]
    months = cutoff.month if cutoff.day == last_day else cutoff.month - 1
    return Decimal(months) * HUNDRED / Decimal(12)


def exact_percent(numerator: Decimal | None, denominator: Decimal | None) -> Decimal | None:
    """numerator / denominator in percent, unrounded; None for a missing figure or a zero denominator."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator * HUNDRED / denominator


def percent(numerator: Decimal | None, denominator: Decimal | None, places: int) -> Decimal | None:
    """numerator / denominator in percent, rounded half up to ``places``."""
    return half_up(exact_percent(numerator, denominator), places)


def year_on_year(value: Decimal | None, last_year: Decimal | None, places: int,
                 points: bool = False) -> Decimal | None:
    """同比: the relative change in %, or for rates (``points``) the difference in percentage points."""
    if value is None or last_year is None:
        return None
    if points:
        return half_up(value - last_year, places)
    if last_year == 0:
        return None
    return half_up((value / last_year - 1) * HUNDRED, places)


#: Never show more than this many decimals to keep a figure apart from its threshold.
MAX_PLACES = 4


def shown(exact: Decimal | None, places: int, *, below: Decimal | None = None,
          above: Decimal | None = None) -> Decimal | None:
    """``exact`` rounded half up for display, with extra places when needed to stay ``< below``
    (or ``> above``) as the exact value is: 99.53 of a 100 not reached shows 99.5, not 100."""
    if exact is None:
        return None
    value = half_up(exact, places)
    assert value is not None
    if (below is None or value < below) and (above is None or value > above):
        return value  # the usual case: the places the row asks for already say it
    for p in range(places + 1, max(places, MAX_PLACES) + 1):
        value = half_up(exact, p)
        assert value is not None
        if (below is None or value < below) and (above is None or value > above):
            return value
    most = max(places, MAX_PLACES)
    value = half_up(exact, most)
    assert value is not None
    # Still equal to a threshold that is not zero (49.99999993 of a 50 target shows 50.0000): cut
    # toward the exact value's side instead, so the figure never says the threshold was reached.
    quantum = Decimal(1).scaleb(-most)
    if below is not None and below != 0 and exact < below <= value:
        cut = exact.quantize(quantum, rounding=ROUND_FLOOR)
        if above is None or cut > above:
            return cut
    if above is not None and above != 0 and value <= above < exact:
        cut = exact.quantize(quantum, rounding=ROUND_CEILING)
        if below is None or cut < below:
            return cut
    # Still equal to the threshold: keep the sign of a shortfall too small to show (-0.0000).
    return value.copy_negate() if exact < 0 and value.is_zero() else value


# The statuses as plain names: in Python 3.11 each ``Status.X`` goes through the enum's metaclass
# (0.2 µs), and a province's 80,000 rows would look them up some 300,000 times.
_DONE, _ON_TRACK, _LAGGING, _MET, _NOT_MET = Status.DONE, Status.ON_TRACK, Status.LAGGING, Status.MET, Status.NOT_MET
_OVERDUE, _IN_PROGRESS, _NOT_STARTED = Status.OVERDUE, Status.IN_PROGRESS, Status.NOT_STARTED
_MISSING, _PENDING, _TO_ADD = Status.MISSING, Status.PENDING, Status.TO_ADD
#: The status of each 完成状态 a department may pick (as Status(state), without the enum's lookup).
_NODE_STATUS: dict[str, Status] = {state: Status(state) for state in NODE_STATES}
ZERO = Decimal(0)


class _Judging:
    """What every row of a round is judged against, worked out once for the round: the exact
    序时进度, as shown (two places), the tolerance, the completion on track from (序时进度 less
    the tolerance) and the cut-off."""

    __slots__ = ("cutoff", "on_track_from", "tolerance", "tp", "tp_shown")

    def __init__(self, tp: Decimal, tolerance: Decimal, cutoff: date) -> None:
        self.tp, self.tolerance, self.cutoff = tp, tolerance, cutoff
        self.tp_shown = half_up(tp, TIME_PROGRESS_PLACES)
        self.on_track_from = tp - tolerance


def _judge(row: ResultRow, ind: Indicator, judging: _Judging) -> Status:
    """The status of a reported row (exact figures already filled)."""
    kind = ind.kind
    if kind == "累计":
        if row.completion_exact is None:
            return _IN_PROGRESS
        if row.completion_exact >= HUNDRED:
            return _DONE
        return _ON_TRACK if row.completion_exact >= judging.on_track_from else _LAGGING
    if kind == "节点":
        if row.state == "已完成":
            return _DONE
        if ind.due is not None and judging.cutoff > ind.due:
            return _OVERDUE
        return _NODE_STATUS.get(row.state, _NOT_STARTED)
    if kind == "比率":
        if row.ratio_exact is None or row.target is None:
            return _IN_PROGRESS
        return _MET if row.ratio_exact >= row.target else _NOT_MET
    if row.value is None or row.target is None:
        return _IN_PROGRESS
    if kind == "上限":
        return _MET if row.value <= row.target else _NOT_MET
    # 下限, 增速: at least the target
    return _MET if row.value >= row.target else _NOT_MET


def fill(row: ResultRow, tp: Decimal, tolerance: Decimal, cutoff: date) -> ResultRow:
    """Compute a row's figures (exact, then as shown) and its status, in place."""
    return _fill(row, _Judging(tp, tolerance, cutoff))


def _fill(row: ResultRow, judging: _Judging) -> ResultRow:
    ind = row.indicator
    places = ind.decimals
    kind = ind.kind
    tp = judging.tp
    if kind == "累计":
        row.completion_exact = exact_percent(row.value, row.target)
        row.time_progress = judging.tp_shown
        if row.completion_exact is not None:
            row.gap_exact = row.completion_exact - tp
    elif kind == "比率":
        row.ratio_exact = row.rate if row.rate is not None else exact_percent(row.value, row.base)
    elif kind == "增速" and row.value is not None and row.target is not None:
        row.gap_exact = row.value - row.target
    if kind != "节点" and row.last_year is not None:  # else no 同比 (year_on_year gives None)
        current = row.ratio_exact if kind == "比率" else row.value
        row.yoy = year_on_year(current, row.last_year, places, points=ind.rate_like)
    status = row.status = _judge(row, ind, judging)
    # What is shown never contradicts the status: 99.5 (not 100) for a row not done, a gap
    # that is not 0.00 for a row behind.
    if row.completion_exact is not None:
        row.completion = shown(row.completion_exact, places, below=None if status is _DONE else HUNDRED)
    if row.ratio_exact is not None:
        met = status is _MET or row.target is None
        row.ratio = shown(row.ratio_exact, places, below=None if met else row.target)
    if row.gap_exact is not None:
        row.gap = shown(row.gap_exact, places, below=ZERO if row.gap_exact < 0 else None)
    return row


def unit_row(ind: Indicator, unit: str, entry: Entry | None, *, round_name: str, category_title: str,
             tp: Decimal, tolerance: Decimal, cutoff: date, pending: bool = False) -> ResultRow:
    """One unit's row for one indicator; ``pending``: the row is 待补报 when no entry is given."""
    return _unit_row(ind, unit, entry, round_name, category_title, _Judging(tp, tolerance, cutoff), pending)


def _unit_row(ind: Indicator, unit: str, entry: Entry | None, round_name: str, category_title: str,
              judging: _Judging, pending: bool) -> ResultRow:
    cumulative = ind.kind == "累计"
    if entry is None:
        return ResultRow(round_name, ind.sheet, category_title, ind, unit, ind.target_for(unit),
                         time_progress=judging.tp_shown if cumulative else None,
                         status=_TO_ADD if pending else _MISSING)
    if entry.invalid:
        return ResultRow(round_name, ind.sheet, category_title, ind, unit, ind.target_for(unit),
                         time_progress=judging.tp_shown if cumulative else None, status=_PENDING,
                         state=entry.state, progress=entry.progress, problems=entry.problems,
                         next_steps=entry.next_steps)
    value = entry.value
    if cumulative and value is None:
        value = Decimal(0)  # "无/暂无" on a cumulative row: nothing done yet
    row = ResultRow(round_name, ind.sheet, category_title, ind, unit, ind.target_for(unit), value=value,
                    base=entry.base, last_year=entry.last_year, state=entry.state, rate=entry.rate,
                    progress=entry.progress, problems=entry.problems, next_steps=entry.next_steps)
    return _fill(row, judging)


def _sum(values: list[Decimal | None]) -> Decimal | None:
    present = [v for v in values if v is not None]
    return sum(present, Decimal(0)) if present else None


NODE_ORDER = (Status.OVERDUE, Status.NOT_STARTED, Status.IN_PROGRESS, Status.DONE)
RATE_ORDER = (Status.NOT_MET, Status.IN_PROGRESS, Status.MET)


def total_row(ind: Indicator, parts: list[ResultRow], *, tp: Decimal, tolerance: Decimal,
              cutoff: date) -> ResultRow:
    """The 合计 over several units: numerators and denominators summed separately.

    Parts that are 未报送, 待更正 or 待补报 are left out and named in ``missing_parts``. A
    total with parts missing is not judged lagging on the partial sum (the missing
    parts may well make it up): it takes the status of what is missing (待更正 when a
    part is held for correction, else 待补报 when a part is to be reported, else 未报送)
    and ``undecided`` says so. Reaching 100% or 序时进度 is already certain on a partial
    sum and is said as such.
    """
    return _total_row(ind, parts, _Judging(tp, tolerance, cutoff))


def _total_row(ind: Indicator, parts: list[ResultRow], judging: _Judging) -> ResultRow:
    first = parts[0]
    row = ResultRow(round=first.round, category=ind.sheet, category_title=first.category_title, indicator=ind,
                    unit=TOTAL, target=ind.target, is_total=True)
    good = [p for p in parts if p.status not in ABSENT]
    row.missing_parts = tuple(p.unit for p in parts if p.status in ABSENT)
    absent = next((s for s in (Status.PENDING, Status.TO_ADD) if any(p.status is s for p in parts)), Status.MISSING)
    if not good:
        row.status = absent
        if ind.kind == "累计":
            row.time_progress = judging.tp_shown
        return row
    if ind.kind in ("累计", "比率"):
        row.value = _sum([p.value for p in good])
        if ind.kind == "比率":
            counted = [p for p in good if p.rate is None]
            row.value = _sum([p.value for p in counted])
            row.base = _sum([p.base for p in counted])
            if len(counted) < len(good):  # a part gave only its rate: no summed ratio
                row.value = row.base = None
        row.last_year = _sum([p.last_year for p in good]) if all(p.last_year is not None for p in good) \
            and not ind.rate_like else None
        _fill(row, judging)
        if row.missing_parts and row.status in LAGGING:
            row.status, row.undecided = absent, True
        return row
    # Levels and growth rates do not add up: the total reports the worst part.
    order = NODE_ORDER if ind.kind == "节点" else RATE_ORDER
    statuses = [p.status for p in good]
    status = next((s for s in order if s in statuses), statuses[0])
    if row.missing_parts and status not in LAGGING:
        # the worst part seen is fine, but a missing part may not be
        status, row.undecided = absent, True
    row.status = status
    if ind.kind == "节点" and all(s is _DONE for s in statuses) and not row.missing_parts:
        row.state = "已完成"
    return row


def compute(indicators, entries: dict[tuple[str, str], Entry], *, round_name: str, titles: dict[str, str],
            cutoff: date, year: int, basis: str, tolerance: Decimal,
            pending: Collection[tuple[str, str]] = frozenset()) -> tuple[Decimal, list[ResultRow]]:
    """(exact 序时进度, all result rows of a round in registry order: each unit's row, then the
    合计 where several units report).

    ``pending``: (指标编号, 单位名称) pairs without an entry that are 待补报 rather than 未报送
    (rows added to a unit after its template was issued).
    """
    tp = time_progress(cutoff, year, basis)
    judging = _Judging(tp, tolerance, cutoff)
    rows: list[ResultRow] = []
    for ind in indicators:
        code, title = ind.code, titles.get(ind.sheet, ind.sheet)
        parts = []
        for unit in ind.reporters:
            key = (code, unit)
            parts.append(_unit_row(ind, unit, entries.get(key), round_name, title, judging,
                                   bool(pending) and key in pending))
        rows.extend(parts)
        if len(parts) > 1:
            rows.append(_total_row(ind, parts, judging))
    return tp, rows
