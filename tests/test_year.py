"""The year across rounds (toolkit.year): tidy frames from merged rounds, and what leaders read.

A three-round workspace (2021-02, 2021-03, 2021-04) is merged with the toolkit's own
merge: 卢氏县 does not report in 2021-03, and the master gains indicator 1-3-1 before
2021-04. Expected figures are worked out by hand from the values typed below.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest
from factories import (
    DEFAULT_INDICATORS,
    DEFAULT_SPLITS,
    SHEET1,
    SHEET2,
    indicator_row,
    make_master,
    make_return,
    make_workspace,
)

import toolkit
from toolkit import year
from toolkit.demo import deliver
from toolkit.errors import WorkspaceError
from toolkit.merge import run_merge
from toolkit.model import Round
from toolkit.workspace import Workspace

D = Decimal
H = "本期完成"
KJ, FG, LB, LS = "市科技局", "市发展改革委", "灵宝市人民政府", "卢氏县人民政府"
ROUNDS = [
    ("2021-02", date(2021, 2, 28), date(2021, 3, 8)),
    ("2021-03", date(2021, 3, 31), date(2021, 4, 8)),
    ("2021-04", date(2021, 4, 30), date(2021, 5, 8)),
]
ADDED = indicator_row(SHEET1, "1-3", "培育高新技术企业", KJ, "1-3-1", "高新技术企业认定", "累计", "家", 100)

#: What each unit types, by round (序时进度 16.67, 25.00, 33.33).
VALUES = {
    "2021-02": {
        KJ: {"1-1-1": {H: 14}, "1-1-2": {H: 10000}},  # 10.00% 滞后; 20.00% 序时推进
        FG: {"2-2-1": {H: 6.0}},  # 增速 6.0 < 7.5: 未达标
        LB: {"2-3-1": {H: 2.0}},
        LS: {"2-3-1": {H: 0.9}},  # 0.9 / 9.2 = 9.8% (one place) 滞后
    },
    "2021-03": {
        KJ: {"1-1-1": {H: 28}, "1-1-2": {H: 10000}},  # 20.00% 滞后; 20.00% 滞后
        FG: {"2-2-1": {H: 7.0}},
        LB: {"2-3-1": {H: 2.5}},
        # 卢氏县 does not report
    },
    "2021-04": {
        KJ: {"1-1-1": {H: 42}, "1-1-2": {H: 30000}, "1-3-1": {H: 10}},  # 30.00% 滞后; 60.00%; 10.00% 滞后
        FG: {"2-2-1": {H: 8.1}},  # 达标
        LB: {"2-3-1": {H: 3.0}},
        LS: {"2-3-1": {H: 2.0}},  # 21.7% 滞后
    },
}


def _merge_round(ws: Workspace, name: str, deadline: date) -> None:
    inbox = ws.inbox(name)
    for unit, values in VALUES[name].items():
        path = make_return(ws, inbox, unit=unit, round=name, values=values)
        deliver(ws, name, path, datetime(deadline.year, deadline.month, deadline.day - 1, 9))
    run_merge(ws, name, now=datetime(deadline.year, deadline.month, deadline.day, 12))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("year")
    ws = make_workspace(root, rounds=ROUNDS)
    for name, _cutoff, deadline in ROUNDS[:2]:
        _merge_round(ws, name, deadline)
    make_master(ws.root, rounds=ROUNDS, indicators=[*DEFAULT_INDICATORS, ADDED], splits=DEFAULT_SPLITS)  # the master gains 1-3-1
    _merge_round(ws, ROUNDS[2][0], ROUNDS[2][2])
    return ws


@pytest.fixture(scope="module")
def frame(workspace) -> pd.DataFrame:
    return year.year_results(workspace)


def _row(frame: pd.DataFrame, rnd: str, code: str, unit: str) -> dict:
    rows = frame[(frame["轮次"] == rnd) & (frame["指标编号"] == code) & (frame["单位名称"] == unit)]
    assert len(rows) == 1, (rnd, code, unit, len(rows))
    return rows.iloc[0].to_dict()


# -- the tidy frame -----------------------------------------------------------------------


def test_year_results_is_every_round_in_master_order(workspace, frame):
    assert list(frame.columns) == ["轮次", "统计截止日期", *year.RESULT_COLUMNS[1:]]
    assert list(frame["轮次"].cat.categories) == [r[0] for r in ROUNDS]
    assert frame["轮次"].cat.ordered
    assert list(dict.fromkeys(frame["轮次"].astype(str))) == ["2021-02", "2021-03", "2021-04"]
    assert set(frame["统计截止日期"].dt.date) == {r[1] for r in ROUNDS}
    # one frame for the year is the rounds' frames one after another
    parts = [year.round_results(workspace, r[0]) for r in ROUNDS]
    pd.testing.assert_frame_equal(frame, pd.concat(parts, ignore_index=True).astype({"轮次": frame["轮次"].dtype}))


def test_numbers_are_the_decimals_results_csv_prints(workspace, frame):
    for rnd, *_ in ROUNDS:
        path = workspace.output(rnd) / "results.csv"
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        header = lines[0].split(",")
        printed = {(cells[3], cells[5]): cells for cells in (line.split(",") for line in lines[1:])}
        for row in frame[frame["轮次"] == rnd].to_dict("records"):
            cells = printed[(row["指标编号"], row["单位名称"])]
            for column in year.NUMERIC_COLUMNS:
                text = cells[header.index(column)]
                value = row[column]
                assert (value is None) if text == "" else (isinstance(value, Decimal) and str(value) == text), \
                    (rnd, row["指标编号"], column, text, value)
    assert frame[list(year.NUMERIC_COLUMNS)].dtypes.eq(object).all()
    assert _row(frame, "2021-02", "1-1-1", KJ)["完成率"] == D("10.00")


def test_missing_unit_and_added_indicator(frame):
    assert _row(frame, "2021-03", "2-3-1", LS)["状态"] == "未报送"
    assert _row(frame, "2021-03", "2-3-1", LS)["本期完成"] is None
    assert set(frame.loc[frame["指标编号"] == "1-3-1", "轮次"].astype(str)) == {"2021-04"}


def test_units_say_who_reported_when(workspace):
    units = year.year_units(workspace)
    assert {"轮次", "单位名称", "状态", "收到时间"} <= set(units.columns)
    states = {(str(r), u): s for r, u, s in zip(units["轮次"], units["单位名称"], units["状态"], strict=True)}
    assert states[("2021-03", LS)] == "未报送"
    assert states[("2021-02", LS)] == states[("2021-04", LS)] == "按时报送"
    assert len(units) == 3 * 4
    missing = units[(units["轮次"] == "2021-03") & (units["单位名称"] == LS)].iloc[0]
    assert pd.isna(missing["收到时间"])
    received = units[(units["轮次"] == "2021-04") & (units["单位名称"] == KJ)].iloc[0]["收到时间"]
    assert received == pd.Timestamp(2021, 5, 7, 9)
    assert list(year.year_units(workspace, "2021-03")["轮次"].astype(str).unique()) == ["2021-03"]


def test_findings_are_read_from_the_check_reports(workspace):
    found = year.year_findings(workspace)
    assert {"轮次", "单位", "代码", "级别", "说明"} <= set(found.columns)
    assert found["代码"].notna().all()  # the note 本轮未发现问题 is no finding
    # every row comes from a 问题清单 sheet: the codes are the catalogue's
    from toolkit.findings import Code

    assert set(found["代码"]) <= {c.name for c in Code}


def test_current_round_replaces_the_one_on_disk(workspace, frame):
    """A writer compares the round it is writing before its results.csv exists."""
    registry = workspace.registry()
    rows = [[*(str(v) if v is not None else "" for v in r.values())] for r in
            frame[frame["轮次"] == "2021-04"][list(year.RESULT_COLUMNS)].to_dict("records")]
    for row in rows:
        if row[3] == "1-1-1":
            row[11] = "35.00"  # 完成率
    current = year.results_frame(rows, registry.rounds)
    mixed = year.year_results(workspace, current=current)
    assert len(mixed) == len(frame)
    assert _row(mixed, "2021-04", "1-1-1", KJ)["完成率"] == D("35.00")
    assert year.trends(mixed, "2021-04").indicators[("1-1-1", KJ)].points == D("15.00")


def test_a_broken_results_csv_is_a_chinese_error(tmp_path, workspace):
    ws = Workspace(tmp_path / "ws")
    import shutil

    shutil.copytree(workspace.root, ws.root)
    path = ws.output("2021-03") / "results.csv"
    text = path.read_text(encoding="utf-8-sig")
    path.write_text(text.replace("20.00", "二十", 1), encoding="utf-8-sig")
    with pytest.raises(WorkspaceError, match="不是数字"):
        year.year_results(ws)


# -- computations -------------------------------------------------------------------------


def test_indicator_changes_in_percentage_points(frame):
    changes = year.indicator_changes(frame)
    got = {(str(r["轮次"]), r["指标编号"], r["单位名称"]): r for r in changes.to_dict("records")}
    one = got[("2021-03", "1-1-1", KJ)]
    assert (one["比较项"], one["本轮值"], one["上轮值"], one["变化"]) == ("完成率", D("20.00"), D("10.00"), D("10.00"))
    assert (one["上轮"], one["较"]) == ("2021-02", "上月")
    growth = got[("2021-04", "2-2-1", FG)]  # a growth rate: its own value, in points
    assert (growth["比较项"], growth["变化"]) == ("本期完成", D("1.1"))
    assert got[("2021-02", "1-1-1", KJ)]["变化"] is None  # nothing before the first round
    assert got[("2021-04", "1-3-1", KJ)]["上轮值"] is None  # added in 2021-04
    assert got[("2021-04", "2-3-1", LS)]["变化"] is None  # 卢氏 did not report in 2021-03
    assert ("2021-03", "2-3-1", LS) not in got  # no percentage when nothing was reported
    total = got[("2021-04", "2-3-1", "合计")]
    assert total["变化"] == total["本轮值"] - total["上轮值"]
    assert all(isinstance(v, Decimal) for v in changes["变化"].dropna())


def test_category_progress_caps_and_averages(frame):
    progress = year.category_progress(frame)
    got = {(str(r["轮次"]), r["类别"]): r for r in progress.to_dict("records")}
    first = got[("2021-04", SHEET1)]
    # 累计 headline rows of the first category in 2021-04: 30.00, 60.00, 10.00 -> 33.33
    assert (first["累计指标数"], first["平均完成率"], first["序时进度"]) == (3, D("33.33"), D("33.33"))
    assert first["差距"] == D("0.00")
    assert first["上轮平均完成率"] == D("20.00")  # (20.00 + 20.00) / 2
    assert (first["变化"], first["较"]) == (D("13.33"), "上月")
    assert first["指标数"] == 5  # two 累计, two 节点 and the added one
    assert first["滞后数"] == sum(1 for r in frame[frame["轮次"] == "2021-04"].to_dict("records")
                                if r["类别"] == SHEET1 and r["状态"] in ("滞后", "未达标", "逾期"))
    assert year.category_progress(frame, "2021-02")["变化"].isna().all()


def test_average_counts_an_indicator_at_most_at_100():
    rounds = [Round("2021-04", date(2021, 4, 30), date(2021, 5, 8))]
    rows = [["2021-04", "一", "1", code, code, "单位", "个", "10", value, "", "", rate, "33.33", "", "", "序时推进"]
            for code, value, rate in (("a", "25", "250.00"), ("b", "1", "10.00"))]
    progress = year.category_progress(year.results_frame(rows, rounds))
    assert progress.iloc[0]["平均完成率"] == D("55.00")  # (100 + 10) / 2, not (250 + 10) / 2


def test_lag_streaks(frame):
    streaks = year.lag_streaks(frame, "2021-04")
    got = {(r["指标编号"], r["单位名称"]): r for r in streaks.to_dict("records")}
    assert (got[("1-1-1", KJ)]["连续轮数"], got[("1-1-1", KJ)]["单位"]) == (3, "月")
    assert got[("1-1-1", KJ)]["起始轮次"] == "2021-02"
    assert got[("2-3-1", LS)]["连续轮数"] == 1  # 未报送 in 2021-03 ends the run
    assert got[("1-3-1", KJ)]["连续轮数"] == 1  # new this round
    assert ("1-1-2", KJ) not in got and ("2-2-1", FG) not in got  # on track / 达标 now
    earlier = {(r["指标编号"], r["单位名称"]): r["连续轮数"]
               for r in year.lag_streaks(frame, "2021-03").to_dict("records")}
    assert earlier[("1-1-2", KJ)] == 1 and earlier[("1-1-1", KJ)] == 2 and earlier[("2-2-1", FG)] == 2


def test_trends_records_and_their_words(frame):
    t = year.trends(frame, "2021-04")
    assert (t.previous, t.word) == ("2021-03", "上月")
    assert t.indicators[("1-1-1", KJ)].text() == "较上月提高10.00个百分点"
    assert t.indicators[("2-2-1", FG)].text() == "较上月提高1.1个百分点"
    assert t.categories[SHEET1].text() == "较上月提高13.33个百分点"
    assert t.streaks[("1-1-1", KJ)].text() == "连续3月滞后"
    assert t.streaks[("1-3-1", KJ)].text() == ""
    assert ("1-3-1", KJ) not in t.indicators
    first = year.trends(frame, "2021-02")
    assert (first.previous, first.word, first.indicators, first.categories) == ("", "", {}, {})


@pytest.mark.parametrize(("points", "text"), [("2.50", "较上月提高2.50个百分点"), ("-0.4", "较上月下降0.4个百分点"),
                                              ("0.00", "与上月持平")])
def test_change_text(points, text):
    change = year.Change("2021-04", "2021-03", "上月", D("50") + D(points), D("50"))
    assert change.text() == text


def test_rounds_not_a_month_apart_say_上轮(tmp_path):
    rounds = [Round("Q1", date(2021, 3, 31), date(2021, 4, 8)),
              Round("Q2", date(2021, 6, 30), date(2021, 7, 8))]
    rows = [[r.name, "一", "1", "a", "指标", "单位", "个", "100", v, "", "", rate, tp, "", "", "滞后"]
            for r, v, rate, tp in ((rounds[0], "10", "10.00", "25.00"), (rounds[1], "20", "20.00", "50.00"))]
    frame = year.results_frame(rows, rounds)
    t = year.trends(frame, "Q2")
    assert t.indicators[("a", "单位")].text() == "较上轮提高10.00个百分点"
    assert t.streaks[("a", "单位")].text() == "连续2轮滞后"
    assert year.change_word(date(2020, 12, 31), date(2021, 1, 31)) == "上月"


def test_an_unmerged_round_between_ends_comparisons(workspace, tmp_path):
    """2021-03 not merged: 2021-04 has nothing to compare with, and every run starts again."""
    frame = year.year_results(workspace)
    gap = frame[frame["轮次"] != "2021-03"].reset_index(drop=True)
    t = year.trends(gap, "2021-04")
    assert t.previous == "" and not t.indicators
    assert t.streaks[("1-1-1", KJ)].rounds == 1


def test_trends_of_a_round_not_merged_is_logged(frame, caplog):
    with caplog.at_level(logging.INFO, logger="toolkit.year"):
        t = year.trends(frame[frame["轮次"] != "2021-04"].reset_index(drop=True), "2021-04")
    assert not t.indicators and not t.streaks
    assert "2021-04" in caplog.text


def test_as_float_is_for_plotting(frame):
    floats = year.as_float(year.category_progress(frame))
    assert floats["平均完成率"].dtype == "float64"


# -- the package ----------------------------------------------------------------------------


def test_toolkit_exposes_the_year_lazily(workspace):
    code = ("import sys, toolkit; assert 'pandas' not in sys.modules; import toolkit.cli; "
            "assert 'pandas' not in sys.modules and 'matplotlib' not in sys.modules; "
            f"f = toolkit.year_results({str(workspace.root)!r}); assert 'pandas' in sys.modules; print(len(f))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == len(year.year_results(workspace))
    assert toolkit.year_results is year.year_results
    assert "year_units" in dir(toolkit)
    with pytest.raises(AttributeError):
        toolkit.no_such_thing  # noqa: B018


def test_readme_example_runs_on_the_demo(demo):
    """The notebook example in the README's "From Python" runs, and says what it shows."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### From Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert 'ws = "ducha-demo"' in code
    code = code.replace('ws = "ducha-demo"', f"ws = {str(demo.folder)!r}")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own documentation
    for line in code.splitlines():
        shown = re.match(r"^(\S.*?)\s+#\s+'(.*)'$", line)
        if shown:
            assert eval(shown.group(1), scope) == shown.group(2), line  # noqa: S307
    from matplotlib import pyplot

    pyplot.close("all")


def test_a_workspace_without_merged_rounds_gives_empty_frames(tmp_path):
    ws = make_workspace(tmp_path)
    frame = year.year_results(ws)
    assert frame.empty and list(frame.columns) == ["轮次", "统计截止日期", *year.RESULT_COLUMNS[1:]]
    assert year.merged_rounds(ws) == []
    assert year.indicator_changes(frame).empty and year.category_progress(frame).empty
    assert year.lag_streaks(frame).empty and year.year_units(ws).empty and year.year_findings(ws).empty
    t = year.trends(frame, "2021-04")
    assert (t.indicators, t.categories, t.streaks) == ({}, {}, {})
    with pytest.raises(WorkspaceError, match="ducha merge"):
        year.round_results(ws, "2021-04")


def test_a_total_not_yet_complete_is_left_out_of_the_average_and_counted(frame):
    """2021-03: 卢氏县 did not report its part of 2-3-1, so the 合计 holds only 灵宝's 2.5 of 9.2
    (14.1%, a partial sum, not judged). It is the category's only 累计 row: no average rather
    than a false 14.1%, and the row is counted as 未计入数."""
    total = _row(frame, "2021-03", "2-3-1", "合计")
    assert (total["状态"], total["完成率"]) == ("未报送", D("14.1"))
    got = {(str(r["轮次"]), r["类别"]): r for r in year.category_progress(frame).to_dict("records")}
    march, april = got[("2021-03", SHEET2)], got[("2021-04", SHEET2)]
    assert (march["累计指标数"], march["平均完成率"], march["未计入数"]) == (0, None, 1)
    assert (april["累计指标数"], april["未计入数"]) == (1, 0) and april["平均完成率"] is not None
    assert april["变化"] is None  # nothing to compare with


def test_the_report_says_what_the_average_leaves_out():
    from types import SimpleNamespace

    from toolkit.report.compose import _category_trend
    from toolkit.standing import CategoryRound

    now = CategoryRound(round="2021-04", category="一", indicators=5, average=D("40.00"), time_progress=D("33.33"),
                        lagging=1, change=D("5.00"), word="上月", unsettled=2)
    result = SimpleNamespace(category_now=lambda sheet: now)
    assert _category_trend(result, "一") == "本类别累计类指标平均完成率40.00%（另有2项尚未报齐，未计入），较上月提高5.00个百分点"
    from dataclasses import replace
    result = SimpleNamespace(category_now=lambda sheet: replace(now, unsettled=0))
    assert "未计入" not in _category_trend(result, "一")


def test_the_trend_sheet_names_what_its_averages_leave_out(workspace):
    import openpyxl

    book = openpyxl.load_workbook(workspace.output("2021-04") / "汇总表_2021-04.xlsx", read_only=True)
    texts = [str(v) for row in book["趋势"].iter_rows(values_only=True) for v in row if v]
    note = next(t for t in texts if t.startswith("说明："))
    assert "尚未报齐" in note and f"（2021-03{SHEET2}1项）" in note


# -- the current round from memory is the current round from its results.csv --------------


def _cells(frame: pd.DataFrame) -> list[list[str]]:
    """Every cell by its repr: Decimal('1E+3') and Decimal('1000') are equal but not the same figure."""
    return [[repr(v) for v in row] for row in frame.astype({"轮次": str}).itertuples(index=False)]


@pytest.mark.parametrize("odd", [False, True])
def test_frame_rows_read_back_as_results_csv(tmp_path, odd):
    """year_history builds the round's frame from the standing (outputs.frame_rows), not from the
    text of its results.csv: to the digit the same, figures written as 1E+3, -0.00, 1.50 included."""
    from tests.output_digest import big_standing
    from toolkit.outputs import frame_rows, write_results_csv

    standing = big_standing()
    if odd:
        figures = (D("1E+3"), D("-0.00"), D("1.50"), D("-0"), D("2.5E+2"), D("0E-7"), D("-12.340"), D("1E-9"))
        for n, row in enumerate(standing.rows):
            row.value, row.gap, row.yoy = figures[n % 8], figures[(n + 3) % 8], figures[(n + 5) % 8]
            row.unit = ("=SUM(A1)", "'=1", "-3", "@x", "\t1", "+86 1")[n % 6] if n % 7 == 0 else row.unit
    rounds = [standing.round]
    written = year._read_csv(write_results_csv(standing, tmp_path), standing.round, rounds)
    from_memory = year.results_frame(frame_rows(standing), rounds)
    assert _cells(from_memory) == _cells(written)
    assert len(written) == len(standing.rows)
