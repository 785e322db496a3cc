"""The maths of a round: time progress, ratios, gaps, year on year, statuses, totals.

All arithmetic is Decimal; every percentage is rounded *half up* to the row's
小数位数 (``values.half_up``), and statuses are judged on the rounded figures so
that what a leader reads and the status beside it never disagree.

What blanks mean (see docs/rules.md):

* no accepted return from a unit → 未报送; an 错误 on the row → 待更正;
* a row the unit's accepted return did not carry because the office added it (or
  changed it beyond conversion) after the template was issued → 待补报;
* 累计 with "无/暂无" → nothing done yet, counted as 0;
* other numeric types with "无/暂无" → no figure this round, status 推进中;
* 比率 with a 基数 of 0 → no ratio (never a division by zero), status 推进中;
* 同比 only when 上年同期 is given and not 0.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection
from datetime import date
from decimal import Decimal

from .model import TOTAL, Entry, Indicator, ResultRow
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


def percent(numerator: Decimal | None, denominator: Decimal | None, places: int) -> Decimal | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return half_up(numerator * HUNDRED / denominator, places)


def year_on_year(value: Decimal | None, last_year: Decimal | None, places: int) -> Decimal | None:
    if value is None or last_year is None or last_year == 0:
        return None
    return half_up((value / last_year - 1) * HUNDRED, places)


def _judge(row: ResultRow, ind: Indicator, tp: Decimal, tolerance: Decimal, cutoff: date) -> str:
    """The status of a reported row (value fields already filled)."""
    kind = ind.kind
    if kind == "节点":
        if row.state == "已完成":
            return "已完成"
        if ind.due is not None and cutoff > ind.due:
            return "逾期"
        return row.state or "未启动"
    if kind == "累计":
        if row.completion is None:
            return "推进中"
        if row.completion >= HUNDRED:
            return "已完成"
        return "序时推进" if row.completion >= tp - tolerance else "滞后"
    if kind == "比率":
        if row.ratio is None or row.target is None:
            return "推进中"
        return "达标" if row.ratio >= row.target else "未达标"
    if row.value is None or row.target is None:
        return "推进中"
    if kind == "上限":
        return "达标" if row.value <= row.target else "未达标"
    if kind == "下限":
        return "达标" if row.value >= row.target else "未达标"
    # 增速
    return "达标" if row.value >= row.target else "未达标"


def fill(row: ResultRow, tp_rounded: Decimal, tolerance: Decimal, cutoff: date) -> ResultRow:
    """Compute a row's ratios and status from its value fields, in place."""
    ind = row.indicator
    places = ind.decimals
    if ind.kind == "累计":
        row.completion = percent(row.value, row.target, places)
        row.time_progress = tp_rounded
        if row.completion is not None:
            row.gap = half_up(row.completion - tp_rounded, places)
    elif ind.kind == "比率":
        row.ratio = percent(row.value, row.base, places)
    elif ind.kind == "增速" and row.value is not None and row.target is not None:
        row.gap = half_up(row.value - row.target, places)
    if ind.numeric:
        row.yoy = year_on_year(row.value, row.last_year, places)
    row.status = _judge(row, ind, tp_rounded, tolerance, cutoff)
    return row


def unit_row(ind: Indicator, unit: str, entry: Entry | None, *, round_name: str, category_title: str,
             tp_rounded: Decimal, tolerance: Decimal, cutoff: date, pending: bool = False) -> ResultRow:
    """One unit's row for one indicator; ``pending``: the row is 待补报 when no entry is given."""
    row = ResultRow(round=round_name, category=ind.sheet, category_title=category_title, indicator=ind,
                    unit=unit, target=ind.target_for(unit))
    if entry is None:
        row.status = "待补报" if pending else "未报送"
        if ind.kind == "累计":
            row.time_progress = tp_rounded
        return row
    row.state = entry.state
    row.progress, row.problems, row.next_steps = entry.progress, entry.problems, entry.next_steps
    if entry.invalid:
        row.status = "待更正"
        return row
    row.value, row.base, row.last_year = entry.value, entry.base, entry.last_year
    if ind.kind == "累计" and row.value is None:
        row.value = Decimal(0)  # "无/暂无" on a cumulative row: nothing done yet
    return fill(row, tp_rounded, tolerance, cutoff)


def _sum(values: list[Decimal | None]) -> Decimal | None:
    present = [v for v in values if v is not None]
    return sum(present, Decimal(0)) if present else None


#: Statuses of a part that has no figure to add to a total.
MISSING = ("未报送", "待更正", "待补报")
NODE_ORDER = ("逾期", "未启动", "推进中", "已完成")
RATE_ORDER = ("未达标", "推进中", "达标")


def total_row(ind: Indicator, parts: list[ResultRow], *, tp_rounded: Decimal, tolerance: Decimal,
              cutoff: date) -> ResultRow:
    """The 合计 over several units: numerators and denominators summed separately.

    Parts that are 未报送, 待更正 or 待补报 are left out and named in ``missing_parts``.
    """
    first = parts[0]
    row = ResultRow(round=first.round, category=ind.sheet, category_title=first.category_title, indicator=ind,
                    unit=TOTAL, target=ind.target, is_total=True)
    good = [p for p in parts if p.status not in MISSING]
    row.missing_parts = tuple(p.unit for p in parts if p not in good)
    if not good:
        absent = {p.status for p in parts}
        row.status = next((s for s in ("待更正", "待补报") if s in absent), "未报送")
        if ind.kind == "累计":
            row.time_progress = tp_rounded
        return row
    if ind.kind in ("累计", "比率"):
        row.value = _sum([p.value for p in good])
        row.base = _sum([p.base for p in good]) if ind.kind == "比率" else None
        row.last_year = _sum([p.last_year for p in good]) if all(p.last_year is not None for p in good) else None
        return fill(row, tp_rounded, tolerance, cutoff)
    # Levels and growth rates do not add up: the total reports the worst part.
    order = NODE_ORDER if ind.kind == "节点" else RATE_ORDER
    statuses = [p.status for p in good]
    row.status = next((s for s in order if s in statuses), statuses[0])
    if ind.kind == "节点" and all(s == "已完成" for s in statuses):
        row.state = "已完成"
    return row


def compute(indicators, entries: dict[tuple[str, str], Entry], *, round_name: str, titles: dict[str, str],
            cutoff: date, year: int, basis: str, tolerance: Decimal,
            pending: Collection[tuple[str, str]] = frozenset()) -> tuple[Decimal, list[ResultRow]]:
    """All result rows of a round, in registry order: each unit's row, then the 合计 where several report.

    ``pending``: (指标编号, 单位名称) pairs without an entry that are 待补报 rather than 未报送
    (rows added to a unit after its template was issued).
    """
    tp_rounded = half_up(time_progress(cutoff, year, basis), 2)
    assert tp_rounded is not None
    rows: list[ResultRow] = []
    for ind in indicators:
        parts = [unit_row(ind, unit, entries.get((ind.code, unit)), round_name=round_name,
                          category_title=titles.get(ind.sheet, ind.sheet), tp_rounded=tp_rounded,
                          tolerance=tolerance, cutoff=cutoff, pending=(ind.code, unit) in pending)
                 for unit in ind.reporters]
        rows.extend(parts)
        if len(parts) > 1:
            rows.append(total_row(ind, parts, tp_rounded=tp_rounded, tolerance=tolerance, cutoff=cutoff))
    return tp_rounded, rows
