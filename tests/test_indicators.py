"""Tests for toolkit/indicators.py: the maths of DESIGN.md.

序时进度, half-up percentages, each indicator type's status, 同比, 差距 and the 合计
over several units (numerators and denominators summed separately, missing parts
named). Indicators and entries are built directly, no workbook involved.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from toolkit.indicators import compute, percent, shown, time_progress, total_row, unit_row, year_on_year
from toolkit.model import TOTAL, Entry, Indicator
from toolkit.values import half_up

D = Decimal
CUTOFF = date(2021, 4, 30)
TP_EXACT = D(100) / 3  # 序时进度 at 2021-04-30, 按月: four months of twelve
TP = D("33.33")  # …as shown


def make_ind(kind: str = "累计", target: object = 140, *, code: str = "X-01", reporters: tuple[str, ...] = ("甲",),
             decimals: int = 2, due: date | None = None, splits: dict[str, object] | None = None,
             unit: str = "个") -> Indicator:
    return Indicator(
        sheet="类别", row=3, task_no="1", task="任务", lead=reporters[0], co="", code=code, name="指标",
        kind=kind, unit=unit, target=None if target is None else D(str(target)), due=due,
        due_text=due.isoformat() if due else "", reporters=reporters, decimals=decimals,
        targets_by_unit=tuple((u, D(str(v))) for u, v in (splits or {}).items()),
    )


def entry(value: object = None, *, unit: str = "甲", base: object = None, last_year: object = None, state: str = "",
          invalid: bool = False, code: str = "X-01") -> Entry:
    def dec(x):
        return None if x is None else D(str(x))
    return Entry(code=code, unit=unit, value=dec(value), base=dec(base), last_year=dec(last_year), state=state,
                 invalid=invalid, progress="进展")


def row_for(ind: Indicator, ent: Entry | None, *, unit: str = "甲", tp: Decimal = TP_EXACT, tolerance: object = 0,
            cutoff: date = CUTOFF):
    return unit_row(ind, unit, ent, round_name="2021-04", category_title="一、类别", tp=tp,
                    tolerance=D(str(tolerance)), cutoff=cutoff)


def total_for(ind: Indicator, ents: dict[str, Entry | None], *, tolerance: object = 0, cutoff: date = CUTOFF):
    parts = [row_for(ind, ents.get(u), unit=u, tolerance=tolerance, cutoff=cutoff) for u in ind.reporters]
    return parts, total_row(ind, parts, tp=TP_EXACT, tolerance=D(str(tolerance)), cutoff=cutoff)


# -- 序时进度 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("cutoff, basis, expected", [
    (date(2021, 4, 30), "按月", "33.33"),
    (date(2021, 4, 20), "按月", "25.00"),
    (date(2021, 4, 29), "按月", "25.00"),
    (date(2021, 12, 31), "按月", "100.00"),
    (date(2021, 12, 30), "按月", "91.67"),
    (date(2021, 1, 15), "按月", "0.00"),
    (date(2021, 1, 31), "按月", "8.33"),
    (date(2021, 2, 28), "按月", "16.67"),
    (date(2021, 6, 30), "按月", "50.00"),
    (date(2021, 4, 30), "按日", "32.88"),  # 120 / 365
    (date(2021, 1, 1), "按日", "0.27"),  # 1 / 365
    (date(2021, 12, 31), "按日", "100.00"),
    (date(2020, 12, 31), "按日", "0.00"),  # before the year: nothing elapsed
    (date(2022, 1, 31), "按月", "100.00"),  # after the year: all of it
])
def test_time_progress(cutoff, basis, expected):
    assert str(half_up(time_progress(cutoff, 2021, basis), 2)) == expected


def test_time_progress_leap_year_by_day():
    # 2020-02-29 is day 60 of 366
    assert half_up(time_progress(date(2020, 2, 29), 2020, "按日"), 2) == D("16.39")
    assert half_up(time_progress(date(2020, 2, 29), 2020, "按月"), 2) == D("16.67")


def test_time_progress_default_basis_is_by_month():
    assert time_progress(date(2021, 4, 30), 2021) == time_progress(date(2021, 4, 30), 2021, "按月")


# -- half-up percentages ------------------------------------------------------------------------


@pytest.mark.parametrize("numerator, denominator, places, expected", [
    ("1816", "2124", 2, "85.50"),
    ("1089", "400", 1, "272.3"),  # float rounding gives 272.2
    ("59", "140", 2, "42.14"),
    ("19.83", "30.49", 0, "65"),
    ("4.8667", "20", 1, "24.3"),
    ("1", "8", 1, "12.5"),
    ("1", "3", 2, "33.33"),
    ("2", "3", 2, "66.67"),
    ("0", "140", 2, "0.00"),
    ("140", "140", 2, "100.00"),
])
def test_percent_rounds_half_up(numerator, denominator, places, expected):
    assert str(percent(D(numerator), D(denominator), places)) == expected


@pytest.mark.parametrize("numerator, denominator", [(D(1), D(0)), (None, D(5)), (D(1), None), (None, None)])
def test_percent_without_a_denominator_is_none(numerator, denominator):
    assert percent(numerator, denominator, 2) is None


@pytest.mark.parametrize("value, places, expected", [
    ("272.25", 1, "272.3"),
    ("0.125", 2, "0.13"),
    ("2.675", 2, "2.68"),  # float 2.675 is 2.67499...
    ("-0.125", 2, "-0.13"),  # halves away from zero
    ("-0.001", 2, "0.00"),  # never a negative zero
    ("64.5", 0, "65"),
])
def test_half_up(value, places, expected):
    assert str(half_up(D(value), places)) == expected


def test_half_up_of_floats_goes_through_repr():
    assert str(half_up(2.675, 2)) == "2.68"
    assert str(half_up(1089 / 400 * 100, 1)) == "272.3"


# -- 累计 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, tolerance, completion, gap, status", [
    (140, 0, "100.00", "66.67", "已完成"),
    (150, 0, "107.14", "73.81", "已完成"),
    (59, 0, "42.14", "8.81", "序时推进"),
    (40, 0, "28.57", "-4.76", "滞后"),
    (40, 5, "28.57", "-4.76", "序时推进"),  # 28.57 ≥ 33.33 − 5
    (40, 4, "28.57", "-4.76", "滞后"),  # 28.57 < 33.33 − 4
    (0, 0, "0.00", "-33.33", "滞后"),
])
def test_cumulative(value, tolerance, completion, gap, status):
    row = row_for(make_ind("累计", 140), entry(value), tolerance=tolerance)
    assert str(row.completion) == completion
    assert row.time_progress == TP
    assert str(row.gap) == gap  # 差距 = 完成率 − 序时进度, percentage points
    assert row.status == status


@pytest.mark.parametrize("value, status, shown, gap", [
    ("33.34", "序时推进", "33.34", "0.01"),
    ("33.333333", "滞后", "33.33", "-0.0000"),  # a hair behind 4/12: judged behind, and the gap says so
    ("33.33", "滞后", "33.33", "-0.003"),
    ("99.999", "序时推进", "99.999", "66.67"),  # not done: never shown as 100.00
    ("100", "已完成", "100.00", "66.67"),
])
def test_cumulative_judged_on_exact_figures(value, status, shown, gap):
    row = row_for(make_ind("累计", 100), entry(value))
    assert row.status == status
    assert str(row.completion) == shown
    assert str(row.gap) == gap


def test_a_row_not_done_never_shows_100():
    # 27.47 of 27.6 at 小数位数 0 rounds to 100: the row is not done, so it shows 99.5
    row = row_for(make_ind("累计", "27.6", decimals=0), entry("27.47"))
    assert row.status == "序时推进"
    assert str(row.completion) == "99.5"


def test_a_rate_short_of_its_target_never_shows_the_target():
    row = row_for(make_ind("比率", 90, decimals=0, unit="%"), entry(8995, base=10000))
    assert row.status == "未达标"
    assert str(row.ratio) == "89.95"


def test_cumulative_none_counts_as_zero():
    row = row_for(make_ind("累计", 140), entry(None))
    assert row.value == D(0)
    assert row.completion == D("0.00")
    assert row.status == "滞后"


def test_cumulative_decimals_follow_the_indicator():
    row = row_for(make_ind("累计", 400, decimals=1), entry(1089))
    assert str(row.completion) == "272.3"
    row = row_for(make_ind("累计", 30.49, decimals=0), entry("19.83"))
    assert str(row.completion) == "65"


def test_cumulative_uses_the_units_split_target():
    ind = make_ind("累计", 100, reporters=("甲", "乙"), splits={"甲": 60, "乙": 40})
    row = row_for(ind, entry(30), unit="甲")
    assert row.target == D(60)
    assert row.completion == D("50.00")


# -- 比率 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, base, target, ratio, status", [
    (95, 100, 90, "95.00", "达标"),
    (90, 100, 90, "90.00", "达标"),
    (95, 100, 98, "95.00", "未达标"),
    (59, 140, None, "42.14", "推进中"),  # no target: a ratio, no judgement
])
def test_ratio(value, base, target, ratio, status):
    row = row_for(make_ind("比率", target), entry(value, base=base))
    assert str(row.ratio) == ratio
    assert row.completion is None
    assert row.status == status


def test_ratio_with_zero_base_gives_no_ratio():
    row = row_for(make_ind("比率", 90), entry(0, base=0))
    assert row.ratio is None
    assert row.status == "推进中"


def test_ratio_without_base_gives_no_ratio():
    row = row_for(make_ind("比率", 90), entry(5, base=None))
    assert row.ratio is None
    assert row.status == "推进中"


# -- 上限 / 下限 / 增速 ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind, value, target, status", [
    ("上限", "3.42", "4.5", "达标"),
    ("上限", "4.5", "4.5", "达标"),
    ("上限", "4.51", "4.5", "未达标"),
    ("下限", "92", "90", "达标"),
    ("下限", "90", "90", "达标"),
    ("下限", "88.5", "90", "未达标"),
])
def test_limits(kind, value, target, status):
    row = row_for(make_ind(kind, target), entry(value))
    assert row.status == status
    assert row.completion is None and row.ratio is None


@pytest.mark.parametrize("kind", ["上限", "下限", "增速"])
def test_level_without_a_figure_is_in_progress(kind):
    assert row_for(make_ind(kind, 5), entry(None)).status == "推进中"


@pytest.mark.parametrize("value, target, decimals, gap, status", [
    ("6.1", "7", 2, "-0.90", "未达标"),
    ("8.5", "7", 2, "1.50", "达标"),
    ("7", "7", 2, "0.00", "达标"),
    ("-2.3", "7", 1, "-9.3", "未达标"),
    ("-1", "-2", 2, "1.00", "达标"),
    ("-3", "-2", 2, "-1.00", "未达标"),
])
def test_growth_gap_is_value_minus_target(value, target, decimals, gap, status):
    row = row_for(make_ind("增速", target, decimals=decimals), entry(value))
    assert str(row.gap) == gap
    assert row.status == status


# -- 节点 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state, due, status", [
    ("已完成", date(2021, 6, 30), "已完成"),
    ("已完成", date(2021, 3, 31), "已完成"),  # done, even if late
    ("推进中", date(2021, 3, 31), "逾期"),  # 完成时限 before 统计截止日期
    ("未启动", date(2021, 3, 31), "逾期"),
    ("推进中", date(2021, 4, 30), "推进中"),  # due on the cut-off day: not yet passed
    ("推进中", date(2021, 6, 30), "推进中"),
    ("未启动", date(2021, 6, 30), "未启动"),
    ("推进中", None, "推进中"),
])
def test_node(state, due, status):
    row = row_for(make_ind("节点", None, due=due), entry(state=state))
    assert row.status == status
    assert row.state == state
    assert row.yoy is None


# -- 同比 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, last_year, expected", [
    ("118", "76", "55.26"),
    ("419", "115", "264.35"),
    ("76", "118", "-35.59"),
    ("100", "100", "0.00"),
    ("5", "0", None),
    ("5", None, None),
    (None, "5", None),
])
def test_year_on_year(value, last_year, expected):
    got = year_on_year(None if value is None else D(value), None if last_year is None else D(last_year), 2)
    assert (None if got is None else str(got)) == expected


def test_year_on_year_on_a_row():
    row = row_for(make_ind("累计", 140), entry(118, last_year=76))
    assert row.yoy == D("55.26")
    row = row_for(make_ind("上限", 5), entry("3.4", last_year=0))
    assert row.yoy is None
    # rates: 同比 in percentage points, never a relative change
    row = row_for(make_ind("上限", "4.5", unit="%"), entry("3.42", last_year="3.71"))
    assert row.yoy == D("-0.29")
    row = row_for(make_ind("增速", "10", unit="%"), entry("12.6", last_year="8.5"))
    assert row.yoy == D("4.10")
    row = row_for(make_ind("比率", "90", unit="%"), entry(1816, base=2124, last_year="80"))
    assert row.yoy == D("5.50")


# -- missing, invalid ------------------------------------------------------------------------------


def test_no_entry_is_not_reported():
    row = row_for(make_ind("累计", 140), None)
    assert row.status == "未报送"
    assert row.value is None and row.completion is None
    assert row.time_progress == TP


def test_invalid_entry_awaits_correction():
    row = row_for(make_ind("累计", 140), entry(59, invalid=True))
    assert row.status == "待更正"
    assert row.value is None and row.completion is None


# -- 合计 ------------------------------------------------------------------------------------------

UNITS3 = ("甲", "乙", "丙")


def test_total_sums_cumulative_parts():
    ind = make_ind("累计", 100, reporters=UNITS3)
    parts, total = total_for(ind, {"甲": entry(20, unit="甲"), "乙": entry(15, unit="乙"), "丙": entry(5, unit="丙")})
    assert total.unit == TOTAL and total.is_total
    assert total.value == D(40)
    assert total.target == D(100)
    assert total.completion == D("40.00")
    assert total.gap == D("6.67")
    assert total.status == "序时推进"
    assert total.missing_parts == ()


def test_total_of_ratios_sums_numerators_and_denominators():
    ind = make_ind("比率", 60, reporters=("甲", "乙"))
    _, total = total_for(ind, {"甲": entry(1, unit="甲", base=2), "乙": entry(3, unit="乙", base=4)})
    assert (total.value, total.base) == (D(4), D(6))
    assert total.ratio == D("66.67")  # 4/6, not the mean of 50% and 75% (62.50)
    assert total.status == "达标"


def test_total_names_missing_parts():
    ind = make_ind("累计", 100, reporters=UNITS3)
    parts, total = total_for(ind, {"甲": entry(20, unit="甲"), "丙": entry(5, unit="丙")})
    assert [p.status for p in parts][1] == "未报送"
    assert total.missing_parts == ("乙",)
    assert total.value == D(25)
    assert total.completion == D("25.00")


def test_total_excludes_parts_awaiting_correction():
    ind = make_ind("累计", 100, reporters=UNITS3)
    _, total = total_for(ind, {"甲": entry(20, unit="甲"), "乙": entry(999, unit="乙", invalid=True),
                               "丙": entry(5, unit="丙")})
    assert total.missing_parts == ("乙",)
    assert total.value == D(25)


def test_total_all_missing_is_not_reported():
    ind = make_ind("累计", 100, reporters=UNITS3)
    _, total = total_for(ind, {})
    assert total.status == "未报送"
    assert total.missing_parts == UNITS3
    assert total.value is None


def test_total_all_invalid_awaits_correction():
    ind = make_ind("比率", 90, reporters=("甲", "乙"))
    _, total = total_for(ind, {"甲": entry(1, unit="甲", base=2, invalid=True)})
    assert total.status == "待更正"
    assert total.missing_parts == ("甲", "乙")


def test_total_counts_cumulative_none_as_zero():
    ind = make_ind("累计", 100, reporters=("甲", "乙"))
    _, total = total_for(ind, {"甲": entry(None, unit="甲"), "乙": entry(30, unit="乙")})
    assert total.missing_parts == ()
    assert total.value == D(30)


def test_total_of_ratios_with_zero_bases():
    ind = make_ind("比率", 90, reporters=("甲", "乙"))
    _, total = total_for(ind, {"甲": entry(0, unit="甲", base=0), "乙": entry(0, unit="乙", base=0)})
    assert total.base == D(0)
    assert total.ratio is None
    assert total.status == "推进中"


def test_total_year_on_year_only_when_every_part_has_last_year():
    ind = make_ind("累计", 100, reporters=("甲", "乙"))
    _, total = total_for(ind, {"甲": entry(60, unit="甲", last_year=40), "乙": entry(58, unit="乙", last_year=36)})
    assert total.last_year == D(76)
    assert total.yoy == D("55.26")
    _, total = total_for(ind, {"甲": entry(60, unit="甲", last_year=40), "乙": entry(58, unit="乙")})
    assert total.yoy is None


def test_total_of_levels_reports_the_worst_part():
    ind = make_ind("上限", "4.5", reporters=("甲", "乙"))
    _, total = total_for(ind, {"甲": entry("3.1", unit="甲"), "乙": entry("4.9", unit="乙")})
    assert total.status == "未达标"
    ind = make_ind("节点", None, reporters=("甲", "乙"), due=date(2021, 3, 31))
    _, total = total_for(ind, {"甲": entry(state="已完成", unit="甲"), "乙": entry(state="推进中", unit="乙")})
    assert total.status == "逾期"


def test_compute_adds_a_total_only_for_several_units():
    single = make_ind("累计", 140, code="A")
    multi = make_ind("比率", 60, code="B", reporters=("甲", "乙"))
    entries = {("A", "甲"): entry(59, code="A"), ("B", "甲"): entry(1, code="B", base=2),
               ("B", "乙"): entry(3, code="B", unit="乙", base=4)}
    tp, rows = compute([single, multi], entries, round_name="2021-04", titles={"类别": "一、类别"}, cutoff=CUTOFF,
                       year=2021, basis="按月", tolerance=D(0))
    assert tp == TP_EXACT and half_up(tp, 2) == TP
    assert [(r.indicator.code, r.unit) for r in rows] == [("A", "甲"), ("B", "甲"), ("B", "乙"), ("B", TOTAL)]
    assert rows[0].completion == D("42.14")
    assert rows[-1].ratio == D("66.67")
    assert rows[0].category_title == "一、类别"


def test_compute_by_day():
    tp, rows = compute([make_ind("累计", 365)], {("X-01", "甲"): entry(120)}, round_name="2021-04", titles={},
                       cutoff=CUTOFF, year=2021, basis="按日", tolerance=D(0))
    assert half_up(tp, 2) == D("32.88")
    assert rows[0].completion == D("32.88")
    assert rows[0].status == "序时推进"


# -- invariants ------------------------------------------------------------------------------------

decimals = st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False, allow_infinity=False)
part = st.one_of(st.none(), st.tuples(decimals, st.booleans()))  # None: not reported; (value, invalid)


@given(st.lists(part, min_size=2, max_size=8))
def test_total_is_the_sum_of_accepted_parts(parts):
    units = tuple(f"单位{i}" for i in range(len(parts)))
    ind = make_ind("累计", 1000, reporters=units)
    ents = {u: entry(p[0], unit=u, invalid=p[1]) for u, p in zip(units, parts, strict=True) if p is not None}
    _, total = total_for(ind, ents)
    accepted = [p[0] for p in parts if p is not None and not p[1]]
    missing = tuple(u for u, p in zip(units, parts, strict=True) if p is None or p[1])
    assert total.missing_parts == missing
    if accepted:
        assert total.value == sum(accepted, D(0))
        assert total.completion == half_up(sum(accepted, D(0)) * 100 / D(1000), 2)
    else:
        assert total.value is None
        assert total.status in ("未报送", "待更正")


@given(st.lists(st.tuples(decimals, decimals), min_size=2, max_size=6))
@example(pairs=[(D(0), D("41950955.2373")), (D(0), D("41919444.3949")), (D("41936049.7195"), D("1789.3595"))])
@example(pairs=[(D(0), D("4726435.3804")), (D(0), D(0)), (D(0), D("4726321.9625")),  # 49.99999993 of 50
                (D("4726378.8856"), D("0.4410"))])
def test_total_ratio_is_sum_over_sum(pairs):
    units = tuple(f"单位{i}" for i in range(len(pairs)))
    ind = make_ind("比率", 50, reporters=units)
    ents = {u: entry(v, unit=u, base=b) for u, (v, b) in zip(units, pairs, strict=True)}
    _, total = total_for(ind, ents)
    num = sum((v for v, _ in pairs), D(0))
    den = sum((b for _, b in pairs), D(0))
    if den == 0:
        assert total.ratio is None
        return
    exact = num * 100 / den
    assert total.ratio_exact == exact
    rounded = half_up(exact, 2)
    if rounded >= 50 > exact:
        # 49.99999 of a 50 target is not met: never shown as 50.00, but with the places that say so
        assert total.ratio < 50 and half_up(total.ratio, 2) == rounded
    else:
        assert total.ratio == rounded


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**12, max_value=10**12),
       st.integers(min_value=0, max_value=6))
def test_half_up_agrees_with_quantize(value, places):
    expected = value.quantize(D(1).scaleb(-places), rounding=ROUND_HALF_UP)
    got = half_up(value, places)
    assert got == expected
    assert got.as_tuple().exponent == -places
    if got.is_zero():
        assert not got.is_signed()


def test_a_figure_never_shows_the_threshold_it_has_not_reached():
    """Past the places a figure may have (MAX_PLACES), it is cut toward its own side of a threshold
    that is not zero, never rounded onto it; a hair behind zero keeps its sign (-0.0000)."""
    assert shown(D("49.99999993282"), 2, below=D(50)) == D("49.9999")
    assert shown(D("99.99999"), 1, below=D(100)) == D("99.9999")
    assert shown(D("50.00000001"), 2, above=D(50)) == D("50.0001")
    assert shown(D("99.53"), 0, below=D(100)) == D("99.5")  # more places suffice: rounded half up
    assert str(shown(D("-0.00000003"), 2, below=D(0))) == "-0.0000"
