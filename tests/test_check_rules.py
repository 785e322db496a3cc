"""Every finding code the check stage produces: one failing and one passing case each.

Returns are real xlsx files: the department's template written by
``templates.write_template`` and filled with openpyxl (tests/factories.py), then
tampered with where a case needs it. Each file goes through ``merge.examine``
(read + check), exactly as ``ducha check`` and ``ducha merge`` see it. Codes that
only a whole round can produce (W308 late, W309 superseded, W312 duplicate) are
tested through ``run_merge`` on a workspace.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from factories import (
    SHEET1,
    SHEET2,
    cell,
    copy_as,
    delete_meta,
    header_cell,
    indicator_row,
    make_master,
    make_return,
    make_workspace,
    rewrite_member,
    set_cached_error,
    set_cached_value,
    set_info,
    set_meta,
    sheet_part,
)

from toolkit.cache import context_key
from toolkit.check import CheckContext, CheckSettings, Outcome
from toolkit.demo import deliver
from toolkit.errors import WorkspaceError
from toolkit.findings import Code, Level
from toolkit.merge import examine, run_merge
from toolkit.model import Entry
from toolkit.read import Limits
from toolkit.registry import load_registry
from toolkit.standing import Fate, UnitState
from toolkit.store import IntakeLog
from toolkit.templates import GUIDE_SHEET, INPUT_COLUMNS, META_SHEET, file_fingerprint

D = Decimal
ROUND = "2021-04"
KJ, FG, LB, LS = "市科技局", "市发展改革委", "灵宝市人民政府", "卢氏县人民政府"
#: Codes no part of the toolkit produces (yet): listed so the catalogue stays accounted for.
NOT_PRODUCED: set[Code] = set()
MERGE_CODES = {Code.W308, Code.W309, Code.W312, Code.W315}
#: 错误 codes for which the cell gave no number at all.
VALUE_UNREADABLE = {Code.E201, Code.E202, Code.E203, Code.E209, Code.E210, Code.E211, Code.E212}


# ---------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return load_registry(make_master(tmp_path_factory.mktemp("master")))


@pytest.fixture(scope="module")
def other_registry(tmp_path_factory):
    """Another office's master: one more unit (D09 市教育局) with its own row."""
    from factories import DEFAULT_INDICATORS, DEFAULT_UNITS, indicator_row

    rows = [*DEFAULT_INDICATORS,
            indicator_row(SHEET1, "1-3", "发展教育事业", "市教育局", "1-3-1", "新建学校", "累计", "所", 10)]
    path = make_master(tmp_path_factory.mktemp("other"), indicators=rows,
                       units=[*DEFAULT_UNITS, ("D09", "市教育局")],
                       splits=[("2-3-1", LB, 8.5), ("2-3-1", LS, 9.2)])
    return load_registry(path)


# ---------------------------------------------------------------------------------------
# cases


@dataclass
class Case:
    code: Code
    unit: str = KJ
    round: str = ROUND  # the round the template is written for
    values: dict = field(default_factory=dict)
    edit: Callable | None = None  # edit(openpyxl workbook) before saving
    after: Callable | None = None  # after(path) on the saved file
    contact: bool = True
    other_master: bool = False  # template written from another office's master
    previous: dict | None = None  # last round's entries; None = no history
    sheet: str = ""  # where the finding must point ('' = file level)
    cell: str = ""
    row_code: str = ""  # the indicator row the finding is about
    value: Decimal | None = None  # the merged value expected for row_code
    text: tuple[str, ...] = ()  # more words the message must contain


def prev(code: str, unit: str = KJ, value=None, progress: str = "") -> dict[tuple[str, str], Entry]:
    return {(code, unit): Entry(code=code, unit=unit, value=None if value is None else D(str(value)),
                                progress=progress)}


def forge_unit_code(wb, code: str = "D99") -> None:
    """Point the metadata at an unknown unit AND recompute its fingerprint (someone who read the source)."""
    ws = wb[META_SHEET]
    meta, layout, in_layout = {}, [], False
    for row in ws.iter_rows(values_only=True):
        key = row[0]
        if key == "工作表":
            in_layout = True
        elif in_layout and key:
            layout.append((str(row[0]), int(row[1]), str(row[2]), str(row[3])))
        elif key:
            meta[key] = row[1]
    set_meta(wb, "单位编号", code)
    set_meta(wb, "单位名称", "市不存在局")  # a known name alone would be matched (units renumbered)
    set_meta(wb, "指纹", file_fingerprint(meta["轮次"], code, layout))


def rename_key_headers(wb) -> None:
    """A hand-made table: the header names the toolkit looks for are gone everywhere."""
    delete_meta(wb)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value in ("指标编号", "本期完成"):
                    c.value = f"{c.value}（改）"


def delete_row(sheet: str, row: int):
    return lambda wb: wb[sheet].delete_rows(row)


def swap_rows(sheet: str, a: int, b: int):
    def edit(wb):
        ws = wb[sheet]
        for col in range(1, ws.max_column + 1):
            ca, cb = ws.cell(a, col), ws.cell(b, col)
            ca.value, cb.value = cb.value, ca.value
    return edit


def add_row(sheet: str, row: int, code: str | None):
    def edit(wb):
        ws = wb[sheet]
        for col in range(1, 15):
            ws.cell(row, col).value = ws.cell(4, col).value
        ws.cell(row, 3).value = code
    return edit


def set_cell(sheet: str, ref: str, value, number_format: str | None = None):
    def edit(wb):
        ws = wb[sheet]
        ws[ref].value = value
        if number_format:
            ws[ref].number_format = number_format
    return edit


def both(*edits):
    def edit(wb):
        for e in edits:
            e(wb)
    return edit


H = "本期完成"
#: Every input cell of 市科技局's rows left blank (填报人 and 联系电话 still filled).
UNTOUCHED = {code: dict.fromkeys(INPUT_COLUMNS) for code in ("1-1-1", "1-1-2", "1-2-1", "1-2-2")}
FAIL = [
    # -- 拒收 ------------------------------------------------------------------------------
    pytest.param(Case(Code.F110, edit=both(delete_meta, lambda wb: set_info(wb, "填报单位", "市教育局")),
                      text=("市教育局", "不在单位名单中")), id="F110-rebuilt-unknown-unit"),
    pytest.param(Case(Code.F110, edit=rename_key_headers, text=("指标编号",)), id="F110-no-header"),
    pytest.param(Case(Code.F111, round="2021-03", text=("2021-03", "2021-04")), id="F111"),
    pytest.param(Case(Code.F112, edit=forge_unit_code, text=("D99",)), id="F112-forged-meta"),
    pytest.param(Case(Code.F112, unit="市教育局", other_master=True, text=("市教育局",)), id="F112-other-master"),
    pytest.param(Case(Code.F113, edit=lambda wb: set_meta(wb, "单位编号", "D99"), text=("模板标识被改动",)),
                 id="F113-meta-edited"),
    pytest.param(Case(Code.F113, edit=delete_row(SHEET1, 5), text=("1-1-2", "删除")), id="F113-row-deleted"),
    pytest.param(Case(Code.F113, edit=add_row(SHEET1, 8, "1-1-9"), text=("1-1-9", "新增")), id="F113-row-added"),
    pytest.param(Case(Code.F113, edit=add_row(SHEET1, 8, None), sheet=SHEET1, cell="C8", text=("新增",)),
                 id="F113-row-without-code"),
    pytest.param(Case(Code.F113, edit=swap_rows(SHEET1, 4, 5), text=("移动",)), id="F113-rows-moved"),
    pytest.param(Case(Code.F114, edit=lambda wb: setattr(header_cell(wb, SHEET1, H), "value", "本月完成"),
                      sheet=SHEET1, text=("本期完成",)), id="F114"),
    pytest.param(Case(Code.F116, values=UNTOUCHED, text=("空表",)), id="F116-untouched"),
    pytest.param(Case(Code.F116, values={c: {k: " " for k in v} for c, v in UNTOUCHED.items()}, text=("空表",)),
                 id="F116-only-spaces"),
    pytest.param(Case(Code.F117, edit=lambda wb: set_info(wb, "填报单位", FG), sheet=SHEET1, cell="B2",
                      text=(FG, KJ)), id="F117"),
    # -- 错误 ------------------------------------------------------------------------------
    pytest.param(Case(Code.E201, values={"1-1-1": {H: None}}, sheet=SHEET1, cell=cell(4, H), row_code="1-1-1",
                      text=("本期完成", "未填写")), id="E201"),
    pytest.param(Case(Code.E202, values={"1-1-1": {H: "已完成"}}, sheet=SHEET1, cell=cell(4, H), row_code="1-1-1",
                      text=("已完成",)), id="E202"),
    pytest.param(Case(Code.E203, values={"1-1-2": {H: "约2200"}}, sheet=SHEET1, cell=cell(5, H), row_code="1-1-2",
                      text=("约2200",)), id="E203"),
    pytest.param(Case(Code.E204, values={"1-2-1": {"完成状态": None}}, sheet=SHEET1, cell=cell(6, "完成状态"),
                      row_code="1-2-1"), id="E204"),
    pytest.param(Case(Code.E205, values={"1-2-1": {"完成状态": "进行中"}}, sheet=SHEET1, cell=cell(6, "完成状态"),
                      row_code="1-2-1", text=("进行中",)), id="E205"),
    pytest.param(Case(Code.E206, unit=FG, values={"2-1-1": {"基数": None}}, sheet=SHEET2, cell=cell(4, "基数"),
                      row_code="2-1-1"), id="E206"),
    pytest.param(Case(Code.E207, unit=FG, values={"2-1-1": {H: 120, "基数": 100}}, sheet=SHEET2, cell=cell(4, H),
                      row_code="2-1-1", text=("120", "100")), id="E207"),
    pytest.param(Case(Code.E208, values={"1-1-1": {H: 59}}, previous=prev("1-1-1", value=80), sheet=SHEET1,
                      cell=cell(4, H), row_code="1-1-1", text=("59", "80")), id="E208"),
    pytest.param(Case(Code.E209, values={"1-1-1": {H: "=1/0"}},
                      after=lambda p: set_cached_error(p, SHEET1, cell(4, H), "#DIV/0!"),
                      sheet=SHEET1, cell=cell(4, H), row_code="1-1-1", text=("#DIV/0!",)), id="E209"),
    pytest.param(Case(Code.E210, values={"1-1-1": {H: "=SUM(50,9)"}}, sheet=SHEET1, cell=cell(4, H),
                      row_code="1-1-1"), id="E210"),
    pytest.param(Case(Code.E211, values={"1-1-1": {H: -5}}, sheet=SHEET1, cell=cell(4, H), row_code="1-1-1",
                      text=("-5",)), id="E211"),
    pytest.param(Case(Code.E212, values={"1-1-1": {H: "59个"}}, sheet=SHEET1, cell=cell(4, H), row_code="1-1-1",
                      text=("个", "家")), id="E212"),
    # 200000000 in a 万元 row (target 50000) was typed in 元: 20000万元 is 40% of the target.
    pytest.param(Case(Code.E213, values={"1-1-2": {H: 200000000}}, sheet=SHEET1, cell=cell(5, H),
                      row_code="1-1-2", text=("4000倍", "可能把“万元”当成“元”填写了", "200000000元即20000万元")),
                 id="E213-wan-yuan"),
    pytest.param(Case(Code.E213, values={"1-1-1": {H: 2800}}, sheet=SHEET1, cell=cell(4, H), row_code="1-1-1",
                      text=("20倍",)), id="E213-twenty-times"),
    pytest.param(Case(Code.E214, values={"1-1-1": {H: 150}}, previous=prev("1-1-1", value=2), sheet=SHEET1,
                      cell=cell(4, H), row_code="1-1-1", text=("上一轮2家", "75倍")), id="E214"),
    pytest.param(Case(Code.E215, unit=FG, values={"2-1-1": {H: "120%", "基数": None}}, sheet=SHEET2,
                      cell=cell(4, H), row_code="2-1-1", text=("120%",)), id="E215"),
    pytest.param(Case(Code.E216, values={"1-1-1": {H: 59, "进展情况": "全市科技型中小企业备案62家。"}}, sheet=SHEET1,
                      cell=cell(4, "进展情况"), row_code="1-1-1", value=D(59),
                      text=("全市科技型中小企业备案62家", "59家")), id="E216"),
    pytest.param(Case(Code.E217, unit=FG, values={"2-1-1": {H: 90, "基数": "100%"}}, sheet=SHEET2,
                      cell=cell(4, "基数"), row_code="2-1-1", text=("100%",)), id="E217"),
    # -- 提示 ------------------------------------------------------------------------------
    pytest.param(Case(Code.W301, values={"1-1-2": {H: "0.22亿元"}}, sheet=SHEET1, cell=cell(5, H),
                      row_code="1-1-2", value=D(2200), text=("0.22亿元", "2200万元")), id="W301"),
    pytest.param(Case(Code.W302, values={"1-1-1": {H: "无"}}, sheet=SHEET1, cell=cell(4, H), row_code="1-1-1",
                      text=("无",)), id="W302"),
    pytest.param(Case(Code.W303, values={"1-1-1": {H: 560}}, sheet=SHEET1, cell=cell(4, H), row_code="1-1-1",
                      value=D(560), text=("560", "400%")), id="W303-four-times-target"),
    pytest.param(Case(Code.W303, values={"1-1-1": {H: 100}}, previous=prev("1-1-1", value=10), sheet=SHEET1,
                      cell=cell(4, H), row_code="1-1-1", value=D(100), text=("一轮内",)), id="W303-jump"),
    pytest.param(Case(Code.W304, values={"1-2-1": {"完成状态": "已完成", "进展情况": None}}, sheet=SHEET1,
                      cell=cell(6, "进展情况"), row_code="1-2-1", text=("6月底",)), id="W304"),
    pytest.param(Case(Code.W305, values={"1-1-1": {"进展情况": "已备案56家。"}},
                      previous=prev("1-1-1", value=40, progress="已备案56家。"), sheet=SHEET1,
                      cell=cell(4, "进展情况"), row_code="1-1-1"), id="W305"),
    pytest.param(Case(Code.W306, contact=False, sheet=SHEET1, cell="H2", text=("填报人",)), id="W306"),
    pytest.param(Case(Code.W307, edit=delete_meta, text=(KJ,)), id="W307"),
    pytest.param(Case(Code.W310, edit=set_cell(SHEET1, cell(4, "年度目标"), 100), sheet=SHEET1,
                      cell=cell(4, "年度目标"), row_code="1-1-1", text=("年度目标", "100", "140")), id="W310"),
    pytest.param(Case(Code.W311, values={"1-1-1": {"进展情况": None}}, sheet=SHEET1, cell=cell(4, "进展情况"),
                      row_code="1-1-1"), id="W311"),
    pytest.param(Case(Code.W313, unit=FG, values={"2-1-3": {H: 0.4214}},
                      edit=set_cell(SHEET2, cell(6, H), 0.4214, "0.00%"), sheet=SHEET2, cell=cell(6, H),
                      row_code="2-1-3", value=D("42.14"), text=("42.14%",)), id="W313"),
    pytest.param(Case(Code.W314, edit=set_cell(SHEET1, "A9", "备注：数据来源于市统计局月报"), sheet=SHEET1,
                      cell="A9", text=("备注：数据来源于市统计局月",)), id="W314"),
    pytest.param(Case(Code.W316, unit=FG, values={"2-1-1": {H: "95.48%", "基数": 354}}, sheet=SHEET2,
                      cell=cell(4, H), row_code="2-1-1", text=("95.48%", "按比率 95.48% 读取")), id="W316"),
]

PASS = [
    pytest.param(Case(Code.F110, edit=delete_meta), id="F110"),  # rebuilt, known 填报单位: W307 only
    pytest.param(Case(Code.F111), id="F111"),
    pytest.param(Case(Code.F112, unit=FG), id="F112"),
    pytest.param(Case(Code.F113, edit=set_cell(SHEET1, cell(4, "进展情况"), "只改了可填写的单元格")), id="F113"),
    pytest.param(Case(Code.F114, edit=lambda wb: setattr(header_cell(wb, SHEET1, H), "value", " 本期完成 ")),
                 id="F114"),
    # Only one cell typed is a return (its other rows are then incomplete, but not an empty table).
    pytest.param(Case(Code.F116), id="F116"),
    pytest.param(Case(Code.F117, edit=lambda wb: set_info(wb, "填报单位", "三门峡市科技局")), id="F117"),
    pytest.param(Case(Code.E201, values={"1-1-1": {H: 59}}), id="E201"),
    pytest.param(Case(Code.E202, values={"1-1-2": {H: "1,816"}}, row_code="1-1-2", value=D(1816)), id="E202"),
    pytest.param(Case(Code.E203, values={"1-1-2": {H: 2200}}, row_code="1-1-2", value=D(2200)), id="E203"),
    pytest.param(Case(Code.E204, values={"1-2-1": {"完成状态": "推进中"}}), id="E204"),
    pytest.param(Case(Code.E205, values={"1-2-2": {"完成状态": "已完成"}}), id="E205"),
    pytest.param(Case(Code.E206, unit=FG, values={"2-1-1": {H: 90, "基数": 100}}), id="E206"),
    pytest.param(Case(Code.E207, unit=FG, values={"2-1-1": {H: 100, "基数": 100}}, row_code="2-1-1", value=D(100)),
                 id="E207"),
    pytest.param(Case(Code.E208, values={"1-1-1": {H: 59}}, previous=prev("1-1-1", value=50), row_code="1-1-1",
                      value=D(59)), id="E208"),
    pytest.param(Case(Code.E209, values={"1-1-1": {H: 59}}, row_code="1-1-1", value=D(59)), id="E209"),
    pytest.param(Case(Code.E210, values={"1-1-1": {H: "=SUM(50,9)"}},
                      after=lambda p: set_cached_value(p, SHEET1, cell(4, H), 59), row_code="1-1-1", value=D(59)),
                 id="E210"),
    pytest.param(Case(Code.E211, unit=FG, values={"2-2-1": {H: -8}}, row_code="2-2-1", value=D(-8)), id="E211"),
    pytest.param(Case(Code.E211, unit=FG, values={"2-2-1": {H: 5, "上年同期": -3}}, row_code="2-2-1", value=D(5)),
                 id="E211-growth-last-year"),
    pytest.param(Case(Code.E212, values={"1-1-1": {H: "59家"}}, row_code="1-1-1", value=D(59)), id="E212"),
    # 961.7% of the target is a published figure: a real over-achievement, only W303.
    pytest.param(Case(Code.E213, values={"1-1-1": {H: "1346.4"}}, row_code="1-1-1", value=D("1346.4")),
                 id="E213-961.7-percent"),
    pytest.param(Case(Code.E214, values={"1-1-1": {H: 60}}, previous=prev("1-1-1", value=1), row_code="1-1-1",
                      value=D(60)), id="E214-big-rise-below-target"),
    pytest.param(Case(Code.E215, unit=FG, values={"2-1-1": {H: "95.48%", "基数": None}}, row_code="2-1-1",
                      value=None), id="E215"),
    pytest.param(Case(Code.E216, values={"1-1-1": {H: 59, "进展情况": "老企业备案62家，科技型中小企业备案59家。"}},
                      row_code="1-1-1", value=D(59)), id="E216"),
    pytest.param(Case(Code.E217, unit=FG, values={"2-1-1": {H: "338个", "基数": "354个"}}, row_code="2-1-1",
                      value=D(338)), id="E217"),
    pytest.param(Case(Code.W316, unit=FG, values={"2-1-1": {H: "1,816项", "基数": "2124项"}}, row_code="2-1-1",
                      value=D(1816)), id="W316"),
    pytest.param(Case(Code.W301, values={"1-1-2": {H: 2200}}), id="W301"),
    pytest.param(Case(Code.W302, values={"1-1-1": {H: 59}}), id="W302"),
    pytest.param(Case(Code.W303, values={"1-1-1": {H: 59}}, previous=prev("1-1-1", value=50)), id="W303"),
    pytest.param(Case(Code.W304, values={"1-2-1": {"完成状态": "已完成", "进展情况": "实施意见已印发。"},
                                         "1-2-2": {"完成状态": "已完成", "进展情况": None}}), id="W304"),
    pytest.param(Case(Code.W305, values={"1-1-1": {"进展情况": "本月新增备案3家。"}},
                      previous=prev("1-1-1", value=40, progress="已备案56家。")), id="W305"),
    pytest.param(Case(Code.W306, contact=True), id="W306"),
    pytest.param(Case(Code.W307), id="W307"),
    pytest.param(Case(Code.W310, edit=set_cell(SHEET1, cell(4, "年度目标"), 140.0)), id="W310"),
    pytest.param(Case(Code.W311, values={"1-1-1": {"进展情况": "已备案56家。"}}), id="W311"),
    pytest.param(Case(Code.W313, unit=FG, values={"2-1-3": {H: 42.14}}, row_code="2-1-3", value=D("42.14")),
                 id="W313"),
    pytest.param(Case(Code.W314, values={"1-1-1": {"存在问题": "备注：数据来源于市统计局月报"}}), id="W314"),
]


def build(case: Case, registry, other_registry, folder: Path) -> tuple[Path, CheckContext]:
    source = other_registry if case.other_master else registry
    path = make_return(source, folder, unit=case.unit, round=case.round, values=case.values,
                       contact=case.contact, edit=case.edit, name="报表（测试）.xlsx")
    if case.after is not None:
        case.after(path)
    ctx = CheckContext(registry=registry, round=registry.round(ROUND), previous=case.previous or {},
                       has_history=case.previous is not None)
    return path, ctx


def entry(outcome: Outcome, code: str) -> Entry:
    return next(e for e in outcome.entries if e.code == code)


@pytest.mark.parametrize("case", FAIL)
def test_failing_case(case: Case, registry, other_registry, tmp_path):
    path, ctx = build(case, registry, other_registry, tmp_path)
    outcome, _ret = examine(path, ctx, Limits())
    hits = [f for f in outcome.findings if f.code is case.code]
    assert hits, f"{case.code.name} not found; got {[(f.code.name, f.cell) for f in outcome.findings]}"
    if case.sheet:
        hits = [f for f in hits if f.sheet == case.sheet and f.cell == case.cell]
        assert hits, f"{case.code.name} not at {case.sheet}!{case.cell}"
    finding = hits[0]
    # The Chinese message names the file, the sheet and the cell, and says what to do.
    assert f"文件“{path.name}”" in finding.message
    if case.sheet:
        assert f"工作表“{case.sheet}”" in finding.message
    if case.cell:
        assert f"单元格 {case.cell}" in finding.message
    assert finding.message.endswith(case.code.advice)
    for word in case.text:
        assert word in finding.message, finding.message
    # What the level means for the file and the row.
    level = case.code.level
    assert outcome.rejected is (level is Level.REJECT)
    if level is Level.REJECT:
        assert not outcome.entries
    if case.row_code:
        row = entry(outcome, case.row_code)
        assert row.invalid is (level is Level.ERROR)
        if level is Level.ERROR and case.code in VALUE_UNREADABLE:
            assert row.value is None  # nothing readable to merge
    if case.value is not None:
        assert entry(outcome, case.row_code).value == case.value


@pytest.mark.parametrize("case", PASS)
def test_passing_case(case: Case, registry, other_registry, tmp_path):
    path, ctx = build(case, registry, other_registry, tmp_path)
    outcome, _ret = examine(path, ctx, Limits())
    codes = [f.code for f in outcome.findings]
    assert case.code not in codes, [f.message for f in outcome.findings]
    assert not outcome.rejected
    assert outcome.errors == 0, [f.message for f in outcome.findings]
    assert outcome.entries and not any(e.invalid for e in outcome.entries)
    if case.row_code:
        assert entry(outcome, case.row_code).value == case.value


def test_wrong_department_variants(registry, other_registry, tmp_path):
    """Editing the meta is tampering (F113); a forged or foreign meta names the unit (F112);
    a rebuilt file with an unknown 填报单位 cannot be identified (F110)."""
    ctx = CheckContext(registry=registry, round=registry.round(ROUND))
    outcomes = {}
    for key, kwargs in {
        "edited": {"edit": lambda wb: set_meta(wb, "单位编号", "D99")},
        "forged": {"edit": forge_unit_code},
        "foreign": {"source": other_registry, "unit": "市教育局"},
        "rebuilt": {"edit": both(delete_meta, lambda wb: set_info(wb, "填报单位", "市教育局"))},
    }.items():
        source = kwargs.pop("source", registry)
        path = make_return(source, tmp_path / key, **kwargs)
        outcomes[key] = examine(path, ctx, Limits())[0]
    assert [f.code for f in outcomes["edited"].findings] == [Code.F113]
    assert [f.code for f in outcomes["forged"].findings] == [Code.F112]
    assert [f.code for f in outcomes["foreign"].findings] == [Code.F112]
    assert [f.code for f in outcomes["rebuilt"].findings] == [Code.F110]
    assert all(o.rejected and not o.entries for o in outcomes.values())


def test_units_renumbered_after_templates_went_out(registry, tmp_path):
    """A template whose 单位编号 the clerk has since changed is still matched by its unit name."""

    def renumber(wb):
        forge_unit_code(wb, "D42")
        set_meta(wb, "单位名称", KJ)
        fix_meta_fingerprint(wb)

    path = make_return(registry, tmp_path, edit=renumber)
    outcome, _ = examine(path, CheckContext(registry=registry, round=registry.round(ROUND)), Limits())
    assert not outcome.rejected, [f.message for f in outcome.findings]
    assert outcome.unit_name == KJ


def fix_meta_fingerprint(wb) -> None:
    ws = wb[META_SHEET]
    meta, layout, in_layout = {}, [], False
    for row in ws.iter_rows(values_only=True):
        if row[0] == "工作表":
            in_layout = True
        elif in_layout and row[0]:
            layout.append((str(row[0]), int(row[1]), str(row[2]), str(row[3])))
        elif row[0]:
            meta[row[0]] = row[1]
    set_meta(wb, "指纹", file_fingerprint(meta["轮次"], meta["单位编号"], layout))


def test_rebuilt_file_is_matched_by_headers(registry, tmp_path):
    """Without the hidden sheet the return is identified by 填报单位 and merged (W307)."""
    path = make_return(registry, tmp_path, unit=FG, edit=delete_meta, values={"2-1-1": {H: 45, "基数": 50}})
    outcome, ret = examine(path, CheckContext(registry=registry, round=registry.round(ROUND)), Limits())
    assert ret.meta is None
    assert [f.code for f in outcome.findings] == [Code.W307]
    assert outcome.unit is not None and outcome.unit.code == "D02"
    assert entry(outcome, "2-1-1").base == D(50)
    assert sorted(e.code for e in outcome.entries) == ["2-1-1", "2-1-2", "2-1-3", "2-2-1"]


def test_department_check_without_registry(registry, tmp_path):
    """``ducha check`` by a department: no master, no history — file-level rules still apply."""
    path = make_return(registry, tmp_path, values={"1-1-1": {H: "约60"}, "1-1-2": {H: "0.22亿元"}})
    outcome, _ret = examine(path, CheckContext(), Limits())
    assert {f.code for f in outcome.findings} == {Code.E203, Code.W301}
    assert entry(outcome, "1-1-2").value == D(2200)


# ---------------------------------------------------------------------------------------
# files that cannot be read at all: rejected by examine with a F1xx code


def _strings_in_guide(n: int):
    def edit(wb):
        ws = wb[GUIDE_SHEET]
        for i in range(n):
            ws.cell(100 + i, 1).value = f"说明{i}"
    return edit


def _prepend_doctype(member: str):
    def after(path: Path) -> None:
        rewrite_member(path, member, lambda xml: xml.replace(
            "?>", '?><!DOCTYPE x [<!ENTITY a "ducha">]>', 1) if xml.startswith("<?xml") else
            '<!DOCTYPE x [<!ENTITY a "ducha">]>' + xml)
    return after


def _write(data: bytes):
    return lambda path: path.write_bytes(data)


UNREADABLE = [
    pytest.param(Code.F101, {"after": lambda p: rewrite_member(p, sheet_part(p, SHEET1), lambda x: x[:-40])},
                 Limits(), id="F101"),
    pytest.param(Code.F102, {"after": _write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")}, Limits(), id="F102"),
    pytest.param(Code.F103, {"after": _write(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504
                                             + "EncryptedPackage".encode("utf-16-le") + b"\0" * 512)},
                 Limits(), id="F103"),
    pytest.param(Code.F104, {"after": _write(b"")}, Limits(), id="F104"),
    pytest.param(Code.F105, {}, Limits(max_file_bytes=1000), id="F105"),
    pytest.param(Code.F106, {}, Limits(max_members=3), id="F106"),
    pytest.param(Code.F107, {"after": _prepend_doctype("xl/workbook.xml")}, Limits(), id="F107"),
    pytest.param(Code.F108, {}, Limits(max_rows=3), id="F108"),
    pytest.param(Code.F109, {"edit": _strings_in_guide(2100)}, Limits(seconds=0), id="F109"),
]


@pytest.mark.parametrize(("code", "how", "limits"), UNREADABLE)
def test_unreadable_file_is_rejected(code, how, limits, registry, tmp_path):
    path = make_return(registry, tmp_path, edit=how.get("edit"), name="坏文件.xlsx")
    if "after" in how:
        how["after"](path)
    outcome, ret = examine(path, CheckContext(registry=registry, round=registry.round(ROUND)), limits)
    assert ret is None and outcome.rejected
    assert [f.code for f in outcome.findings] == [code]
    assert "文件“坏文件.xlsx”" in outcome.findings[0].message


def test_every_code_is_accounted_for():
    """Each code has a failing case here, a merge-level case below, or is listed as not produced."""
    tested = {p.values[0].code for p in FAIL} | {p.values[0] for p in UNREADABLE} | MERGE_CODES
    passing = {p.values[0].code for p in PASS}
    assert {c for c in Code if c.name.startswith(("F11", "E2", "W3"))} - NOT_PRODUCED - MERGE_CODES <= passing
    assert set(Code) == tested | NOT_PRODUCED
    assert not tested & NOT_PRODUCED


def test_codes_listed_as_not_produced_really_are_not():
    """If a module starts producing one of these, it needs a failing and a passing case above."""
    root = Path(__file__).resolve().parent.parent / "toolkit"
    sources = {p.name: p.read_text(encoding="utf-8") for p in root.glob("*.py") if p.name != "findings.py"}
    for code in NOT_PRODUCED:
        users = [name for name, text in sources.items() if f"Code.{code.name}" in text]
        assert not users, f"{code.name} is now produced by {users}: add cases to tests/test_check_rules.py"


# ---------------------------------------------------------------------------------------
# merge-level codes and what levels mean for the merged results

NOW = datetime(2021, 5, 13, 9, 0)


@pytest.fixture(scope="module")
def merged(tmp_path_factory):
    """A round: 市科技局 sends twice (plus an identical copy), 市发展改革委 late, 卢氏 missing."""
    ws = make_workspace(tmp_path_factory.mktemp("round"))
    inbox = ws.inbox(ROUND)
    first = make_return(ws, inbox, unit=KJ, name="a_科技局初稿.xlsx",
                        values={"1-1-1": {H: 50}, "1-1-2": {H: 1000}})
    second = make_return(ws, inbox, unit=KJ, name="b_科技局（更正）.xlsx",
                         values={"1-1-1": {H: "已完成"}, "1-1-2": {H: "0.22亿元"}})
    copy = copy_as(second, inbox / "c_科技局 副本.xlsx")
    late = make_return(ws, inbox, unit=FG, name="发改委报表.xlsx")
    lingbao = make_return(ws, inbox, unit=LB, name="灵宝.xlsx", values={"2-3-1": {H: 3.4}})
    deliver(ws, ROUND, first, datetime(2021, 5, 6, 11, 30))
    deliver(ws, ROUND, second, datetime(2021, 5, 7, 9, 0))
    deliver(ws, ROUND, copy, datetime(2021, 5, 7, 9, 5))
    deliver(ws, ROUND, late, datetime(2021, 5, 10, 16, 20))
    deliver(ws, ROUND, lingbao, datetime(2021, 5, 8, 23, 59))
    cover = inbox / "科技局报送函.pdf"  # a cover letter beside the returns: recorded, never bounced
    cover.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    result = run_merge(ws, ROUND, now=NOW)
    files = {"first": first.name, "second": second.name, "copy": copy.name, "late": late.name,
             "lingbao": lingbao.name, "cover": cover.name}
    return ws, result, files


MERGE = [
    # code, file with the finding, file without it, words in the message
    pytest.param(Code.W308, "late", "lingbao", ("2021-05-10 16:20", "2021-05-08"), id="W308"),
    pytest.param(Code.W309, "first", "second", ("b_科技局（更正）.xlsx",), id="W309"),
    pytest.param(Code.W312, "copy", "second", ("b_科技局（更正）.xlsx",), id="W312"),
    pytest.param(Code.W315, "cover", "second", ("PDF", "附件"), id="W315"),
]


@pytest.mark.parametrize(("code", "failing", "passing", "words"), MERGE)
def test_merge_level_codes(code, failing, passing, words, merged):
    _ws, result, files = merged
    hits = [f for f in result.findings if f.code is code]
    assert [f.file for f in hits] == [files[failing]]
    assert not [f for f in hits if f.file == files[passing]]
    message = hits[0].message
    assert message.startswith(f"文件“{files[failing]}”")
    for word in words:
        assert word in message
    assert code.level is Level.NOTICE


def test_superseded_and_duplicate_files_are_kept(merged):
    ws, result, files = merged
    subs = {s.file: s for s in result.submissions}
    first, second, copy = subs[files["first"]], subs[files["second"]], subs[files["copy"]]
    assert first.superseded and first.accepted and first.archived is not None
    assert not second.superseded and second.archived is not None
    assert copy.archived is None and copy.unit == KJ  # identical content: not processed twice
    assert copy.accepted and copy.duplicate_of == files["second"]  # shares its twin's verdict, never wins
    fates = {f.submission.file: f.fate for f in result.files}
    assert (fates[files["first"]], fates[files["second"]], fates[files["copy"]]) == (
        Fate.SUPERSEDED, Fate.ACCEPTED, Fate.DUPLICATE)
    archived = sorted(p.name for p in ws.archive(ROUND).iterdir() if p.is_file())
    assert len([n for n in archived if "_D01_" in n]) == 2, archived  # both 市科技局 files, not the copy
    assert len(archived) == 4, archived
    assert first.archived.read_bytes() != second.archived.read_bytes()
    assert subs[files["late"]].late and result.names_in(UnitState.LATE) == [FG]
    assert result.names_in(UnitState.MISSING) == [LS]
    assert KJ in result.names_in(UnitState.ON_TIME) and LB in result.names_in(UnitState.ON_TIME)


def _row(result, code: str, unit: str):
    return next(r for r in result.rows if r.indicator.code == code and r.unit == unit)


def test_error_keeps_value_out_and_notice_does_not(merged):
    ws, result, files = merged
    # The later file wins: its 1-1-1 is an 错误 (E202) and its 1-1-2 a 提示 (W301).
    wrong = _row(result, "1-1-1", KJ)
    assert wrong.status == "待更正" and wrong.value is None and wrong.completion is None
    converted = _row(result, "1-1-2", KJ)
    assert converted.value == D(2200) and converted.status not in ("待更正", "未报送")
    assert converted.completion == D("4.40")
    codes = {f.code for f in result.findings if f.file == files["second"]}
    assert {Code.E202, Code.W301} <= codes
    # The 合计 of a two-unit indicator names the missing part and sums the accepted one.
    total = next(r for r in result.rows if r.indicator.code == "2-3-1" and r.is_total)
    assert total.value == D("3.4") and total.missing_parts == (LS,)
    # results.csv says the same.
    with open(ws.output(ROUND) / "results.csv", encoding="utf-8-sig", newline="") as fh:
        rows = {(r["指标编号"], r["单位名称"]): r for r in csv.DictReader(fh)}
    assert rows[("1-1-1", KJ)]["状态"] == "待更正" and rows[("1-1-1", KJ)]["本期完成"] == ""
    assert D(rows[("1-1-2", KJ)]["本期完成"]) == D(2200)
    assert rows[("2-3-1", LS)]["状态"] == "未报送"


def test_history_from_previous_round_feeds_e208(tmp_path):
    """Round 2021-03 merged first; a lower 累计 in 2021-04 is then an 错误 (E208) in run_merge."""
    ws = make_workspace(tmp_path)
    march = make_return(ws, ws.inbox("2021-03"), round="2021-03", values={"1-1-1": {H: 80}})
    deliver(ws, "2021-03", march, datetime(2021, 4, 7, 10))
    run_merge(ws, "2021-03", now=datetime(2021, 4, 12, 9))
    april = make_return(ws, ws.inbox(ROUND), values={"1-1-1": {H: 59}})
    deliver(ws, ROUND, april, datetime(2021, 5, 7, 10))
    result = run_merge(ws, ROUND, now=NOW)
    hits = [f for f in result.findings if f.code is Code.E208]
    assert [(f.sheet, f.cell) for f in hits] == [(SHEET1, cell(4, H))]
    assert _row(result, "1-1-1", KJ).status == "待更正"


def test_factory_master_is_complete(tmp_path):
    """The factory's master follows the contract: every special sheet, real dates, two categories."""
    path = make_master(tmp_path)
    with zipfile.ZipFile(path) as zf:
        assert "xl/workbook.xml" in zf.namelist()
    reg = load_registry(path)
    assert [c.sheet for c in reg.categories] == [SHEET1, SHEET2]
    assert {i.kind for i in reg.indicators()} == {"累计", "比率", "上限", "下限", "增速", "节点"}
    assert [u.code for u in reg.units.values()] == ["D01", "D02", "D03", "D04"]
    assert reg.round(ROUND).deadline.isoformat() == "2021-05-08"
    forest = reg.indicator("2-3-1")
    assert forest.target == D("17.7") and forest.target_for(LB) == D("8.5") and forest.target_for(LS) == D("9.2")
    assert not reg.warnings


# ---------------------------------------------------------------------------------------
# implausible magnitudes (E213/E214): the likely unit slip is named

MAG = "三、量级"
MAG_UNIT = "市统计局"
MAG_INDICATORS = [
    indicator_row(MAG, "3-1", "稳定和扩大就业", MAG_UNIT, "3-1-1", "城镇新增就业", "累计", "万人", 3.7),
    indicator_row(MAG, "", "", "", "3-1-2", "专项债券资金", "累计", "亿元", 150),
    indicator_row(MAG, "", "", "", "3-1-3", "新建燃气管道", "累计", "公里", 6),
    indicator_row(MAG, "", "", "", "3-1-4", "城镇登记失业率", "上限", "%", 4.5),
    indicator_row(MAG, "", "", "", "3-1-5", "社会保障卡覆盖率", "下限", "%", 94),
    indicator_row(MAG, "", "", "", "3-1-6", "PM2.5平均浓度", "上限", "微克/立方米", 45),
    indicator_row(MAG, "", "", "", "3-1-7", "参保人数", "下限", "人", 40000),
    # 目标分解 gives 市教育局 its part and leaves 市统计局 without a target
    indicator_row(MAG, "", "", "", "3-1-8", "企业数", "下限", "家", None, reporters=f"{MAG_UNIT}、市教育局"),
    indicator_row(MAG, "", "", "", "3-1-9", "新发展连翘种植", "累计", "亩", 10000),
    indicator_row(MAG, "", "", "", "3-1-10", "开（复）工率", "比率", "%", 90),
    indicator_row(MAG, "", "", "", "3-1-11", "城镇职工参保人数", "累计", "万人", None, reporters=f"{MAG_UNIT}、市教育局"),
]


@pytest.fixture(scope="module")
def mag_registry(tmp_path_factory):
    path = make_master(tmp_path_factory.mktemp("mag"), indicators=MAG_INDICATORS,
                       units=[("D01", MAG_UNIT), ("D02", "市教育局")], splits=[("3-1-8", "市教育局", 100), ("3-1-11", "市教育局", 5)])
    return load_registry(path)


def mag_check(registry, folder: Path, values: dict, previous: dict | None = None,
              settings: CheckSettings | None = None) -> Outcome:
    path = make_return(registry, folder, unit=MAG_UNIT, values=values)
    ctx = CheckContext(registry=registry, round=registry.round(ROUND), previous=previous or {},
                       has_history=previous is not None, settings=settings or CheckSettings())
    return examine(path, ctx, Limits())[0]


def found(outcome: Outcome, code: str) -> list:
    return [f for f in outcome.findings if f.code.name == code]


@pytest.mark.parametrize(("code", "typed", "words"), [
    ("3-1-1", 14255, ("3853倍", "可能把“万人”当成“人”填写了", "14255人即1.4255万人")),
    ("3-1-2", 930000, ("可能把“亿元”当成“万元”填写了", "930000万元即93亿元")),
    ("3-1-2", 9300000000, ("可能把“亿元”当成“元”填写了", "9300000000元即93亿元")),
    ("3-1-3", 2100, ("可能把“公里”当成“米”填写了", "2100米即2.1公里")),
    ("3-1-4", "0.0342", ("可能把百分数填成了小数", "0.0342应填为3.42")),
    ("3-1-5", "0.947", ("可能把百分数填成了小数", "0.947应填为94.7")),
    ("3-1-6", 52000, ("1156倍",)),
    ("3-1-7", "1.4255", ("可能把“人”当成“万人”填写了", "1.4255万人即14255人")),
])
def test_magnitude_slip_is_held_and_named(mag_registry, tmp_path, code, typed, words):
    outcome = mag_check(mag_registry, tmp_path, {code: {H: typed}})
    hits = found(outcome, "E213")
    assert len(hits) == 1, [f.message for f in outcome.findings]
    for word in words:
        assert word in hits[0].message, hits[0].message
    assert entry(outcome, code).invalid  # held as 待更正, never merged


@pytest.mark.parametrize(("code", "typed"), [
    ("3-1-1", "35.6"),  # 961.7% of 3.7万人: a published over-achievement
    ("3-1-4", "0.2"),  # a very low 失业率 is good news, no unit slip explains it
    ("3-1-4", "8"),  # over the limit, but a real figure (未达标, not an input error)
    ("3-1-6", 52),
    ("3-1-7", 38000),
])
def test_plausible_figures_pass(mag_registry, tmp_path, code, typed):
    outcome = mag_check(mag_registry, tmp_path, {code: {H: typed}})
    assert not found(outcome, "E213") and not found(outcome, "E214"), [f.message for f in outcome.findings]
    assert not entry(outcome, code).invalid


def test_cumulative_without_target_is_compared_with_last_round(mag_registry, tmp_path):
    last = {("3-1-11", MAG_UNIT): Entry(code="3-1-11", unit=MAG_UNIT, value=D("23.86"))}
    slip = mag_check(mag_registry, tmp_path / "slip", {"3-1-11": {H: 238600}}, previous=last)
    assert "可能把“万人”当成“人”填写了（238600人即23.86万人）" in found(slip, "E214")[0].message
    fine = mag_check(mag_registry, tmp_path / "fine", {"3-1-11": {H: "24.5"}}, previous=last)
    assert not found(fine, "E214")


def test_level_without_target_is_compared_with_last_round(mag_registry, tmp_path):
    last = {("3-1-8", MAG_UNIT): Entry(code="3-1-8", unit=MAG_UNIT, value=D(120))}
    up = mag_check(mag_registry, tmp_path / "up", {"3-1-8": {H: 1200000}}, previous=last)
    assert "可能把“家”当成" not in found(up, "E214")[0].message  # 家 has no smaller unit: no slip named
    assert "10000倍" in found(up, "E214")[0].message
    down = mag_check(mag_registry, tmp_path / "down", {"3-1-8": {H: "0.012"}}, previous=last)
    assert "可能把“家”当成“万家”填写了" in found(down, "E214")[0].message
    fine = mag_check(mag_registry, tmp_path / "fine", {"3-1-8": {H: 131}}, previous=last)
    assert not found(fine, "E214")


def test_magnitude_thresholds_are_settings(mag_registry, tmp_path):
    """A 10-times figure passes by default (W303 only) and is held when the setting says 5."""
    default = mag_check(mag_registry, tmp_path / "a", {"3-1-9": {H: 100000}})
    assert not found(default, "E213") and found(default, "W303")
    strict = mag_check(mag_registry, tmp_path / "b", {"3-1-9": {H: 100000}},
                       settings=CheckSettings(magnitude_vs_target=D(5)))
    assert found(strict, "E213")
    last = {("3-1-9", MAG_UNIT): Entry(code="3-1-9", unit=MAG_UNIT, value=D(100))}
    jump = mag_check(mag_registry, tmp_path / "c", {"3-1-9": {H: 12000}}, previous=last)
    assert found(jump, "E214")  # 120 times the last figure and beyond the annual target
    loose = mag_check(mag_registry, tmp_path / "d", {"3-1-9": {H: 12000}}, previous=last,
                      settings=CheckSettings(magnitude_vs_last=D(200)))
    assert not found(loose, "E214")


def test_workspace_reads_and_validates_check_settings(tmp_path):
    ws = make_workspace(tmp_path)
    assert ws.check_settings() == CheckSettings()
    (ws.root / "ducha.toml").write_text("[checks]\nmagnitude_vs_target = 30\nmagnitude_vs_last = 80.5\n",
                                        encoding="utf-8")
    assert ws.check_settings() == CheckSettings(magnitude_vs_target=D(30), magnitude_vs_last=D("80.5"))
    for text, words in [("magnitude_vs_target = 1", ("magnitude_vs_target", "大于 1")),
                        ("magnitude_vs_last = \"五十\"", ("magnitude_vs_last", "大于 1")),
                        ("magnitude = 20", ("magnitude", "magnitude_vs_target", "可用的有"))]:
        (ws.root / "ducha.toml").write_text(f"[checks]\n{text}\n", encoding="utf-8")
        with pytest.raises(WorkspaceError) as info:
            ws.check_settings()
        for word in words:
            assert word in str(info.value)


def test_merge_uses_the_settings_and_the_cache_key_follows_them(tmp_path):
    ws = make_workspace(tmp_path)
    path = make_return(ws, ws.inbox(ROUND), values={"1-1-1": {H: 1400}})  # 10 times the target
    deliver(ws, ROUND, path, datetime(2021, 5, 7, 10))
    first = run_merge(ws, ROUND, now=NOW)
    assert not [f for f in first.findings if f.code is Code.E213]
    (ws.root / "ducha.toml").write_text("[checks]\nmagnitude_vs_target = 8\n", encoding="utf-8")
    second = run_merge(ws, ROUND, now=NOW)  # the cached outcome must not be reused
    assert [f.cell for f in second.findings if f.code is Code.E213] == [cell(4, H)]
    rnd = ws.registry().round(ROUND)
    keys = {context_key(rnd, None, Limits(), s)
            for s in (CheckSettings(), CheckSettings(magnitude_vs_target=D(8)), CheckSettings(magnitude_vs_last=D(8)))}
    assert len(keys) == 3


def test_docs_give_the_default_thresholds():
    rules = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text(encoding="utf-8")
    for setting in fields(CheckSettings):
        default = getattr(CheckSettings(), setting.name)
        assert re.search(rf"^\| `{setting.name}` \| {default} \|", rules, re.M), setting.name


# ---------------------------------------------------------------------------------------
# 比率 rows entered as people enter them


@pytest.mark.parametrize(("typed", "base", "value", "rate"), [
    ("338个", 354, D(338), None),
    ("1,816项", "2124项", D(1816), None),
    ("76个项目", 89, D(76), None),
    ("0.22亿元", "5000万元", D(2200), None),  # the count in the unit its base was typed in
    ("95.48%", 354, None, D("95.48")),
    ("95.48%", None, None, D("95.48")),  # the rate alone needs no base
])
def test_ratio_row_reads_counts_and_typed_rates(mag_registry, tmp_path, typed, base, value, rate):
    outcome = mag_check(mag_registry, tmp_path, {"3-1-10": {H: typed, "基数": base}})
    row = entry(outcome, "3-1-10")
    assert not row.invalid, [f.message for f in outcome.findings]
    assert (row.value, row.rate) == (value, rate)
    assert not found(outcome, "E212") and not found(outcome, "E206")
    assert bool(found(outcome, "W316")) is (rate is not None)


def test_percent_formatted_cell_is_the_rate_never_a_count(mag_registry, tmp_path):
    def percent_cell(wb):
        ws = wb[MAG]
        target = ws[cell(13, H)]
        target.value, target.number_format = 0.9548, "0.00%"
    path = make_return(mag_registry, tmp_path, unit=MAG_UNIT, values={"3-1-10": {"基数": 354}}, edit=percent_cell)
    outcome = examine(path, CheckContext(registry=mag_registry, round=mag_registry.round(ROUND)), Limits())[0]
    row = entry(outcome, "3-1-10")
    assert row.value is None and row.rate == D("95.48") and not row.invalid
    assert [f.cell for f in found(outcome, "W316")] == [cell(13, H)]


@pytest.mark.parametrize(("typed", "base", "code"), [
    ("约338个", 354, "E203"),
    ("338余个", 354, "E203"),
    ("300-400个", 354, "E203"),
    ("120%", 354, "E215"),
    (338, "95%", "E217"),
    (338, None, "E206"),
    (400, 354, "E207"),
])
def test_ratio_row_refuses_what_cannot_be_a_count(mag_registry, tmp_path, typed, base, code):
    outcome = mag_check(mag_registry, tmp_path, {"3-1-10": {H: typed, "基数": base}})
    assert found(outcome, code), [f.message for f in outcome.findings]
    assert entry(outcome, "3-1-10").invalid


# ---------------------------------------------------------------------------------------
# a department's own words contradicting its figure (E216)


@pytest.mark.parametrize(("code", "value", "text", "fires"), [
    # the quantity named just before the number; the other quantity in the same unit is left alone
    ("3-1-9", 1300, "累计完成老连翘基地管护7.5万亩，新发展连翘种植3500亩。", True),
    ("3-1-9", 3500, "累计完成老连翘基地管护7.5万亩，新发展连翘种植3500亩。", False),
    ("3-1-9", 1300, "新发展连翘种植三千五百亩。", True),  # Chinese numerals
    ("3-1-9", 3500, "新发展连翘种植0.35万亩。", False),  # another scale of the same figure
    ("3-1-9", 1300, "新发展连翘种植约3500亩。", False),  # approximate: no contradiction
    ("3-1-9", 1300, "4月新发展连翘种植2200亩。", False),  # one month only, not the cumulative figure
    ("3-1-9", 1300, "截至4月底新发展连翘种植3500亩。", True),
    ("3-1-9", 1300, "计划新发展连翘种植（全年10000亩）。", False),  # in brackets
    ("3-1-9", 1300, "全年计划新发展连翘种植10000亩，已完成1300亩。", False),  # the plan, not what is done
    ("3-1-1", "1.4255", "全市城镇新增就业14255人。", False),
    ("3-1-1", "1.4255", "全市城镇新增就业1.43万人。", False),  # rounded in the text
    ("3-1-1", "1.4255", "全市城镇新增就业15255人。", True),
    ("3-1-2", "0.22", "专项债券资金2200万元。", False),
    ("3-1-2", "0.22", "专项债券资金2300万元。", True),
    ("3-1-4", "3.42", "全市城镇登记失业率3.24%。", True),
    ("3-1-10", "338", "开（复）工率95.48%。", False),  # 338 / 354
    ("3-1-10", "338", "开（复）工率96.48%。", True),
])
def test_progress_contradicting_the_figure(mag_registry, tmp_path, code, value, text, fires):
    values = {code: {H: value, "进展情况": text}}
    if code == "3-1-10":
        values[code]["基数"] = 354
    outcome = mag_check(mag_registry, tmp_path, values)
    hits = found(outcome, "E216")
    assert bool(hits) is fires, [f.message for f in outcome.findings]
    assert entry(outcome, code).invalid is fires  # an 错误: held as 待更正, never shown unmarked


# ---------------------------------------------------------------------------------------
# submission states: 空表 (F116) and another unit's 填报单位 (F117)


def test_contact_alone_does_not_make_a_return(registry, tmp_path):
    path = make_return(registry, tmp_path, values=UNTOUCHED, contact=True)
    outcome = examine(path, CheckContext(registry=registry, round=registry.round(ROUND)), Limits())[0]
    assert [f.code for f in outcome.findings] == [Code.F116]
    assert outcome.rejected and not outcome.entries


def test_one_typed_cell_makes_a_return(registry, tmp_path):
    values = {code: dict(cells) for code, cells in UNTOUCHED.items()}
    values["1-2-2"]["存在问题"] = "大会推迟到下半年召开。"
    path = make_return(registry, tmp_path, values=values)
    outcome = examine(path, CheckContext(registry=registry, round=registry.round(ROUND)), Limits())[0]
    assert not outcome.rejected and Code.F116 not in {f.code for f in outcome.findings}


def test_another_units_name_is_refused_naming_both(registry, tmp_path):
    path = make_return(registry, tmp_path, unit=LB, edit=lambda wb: set_info(wb, "填报单位", "卢氏县"))
    outcome = examine(path, CheckContext(registry=registry, round=registry.round(ROUND)), Limits())[0]
    assert [f.code for f in outcome.findings] == [Code.F117]
    assert "卢氏县" in outcome.findings[0].message and LB in outcome.findings[0].message
    assert outcome.unit_name == LB and not outcome.entries


def test_empty_and_foreign_returns_in_a_merge(tmp_path):
    ws = make_workspace(tmp_path)
    empty = make_return(ws, ws.inbox(ROUND), values=UNTOUCHED, name="科技局.xlsx")
    foreign = make_return(ws, ws.inbox(ROUND), unit=LB, name="灵宝.xlsx",
                          edit=lambda wb: set_info(wb, "填报单位", LS))
    for path in (empty, foreign):
        deliver(ws, ROUND, path, datetime(2021, 5, 7, 10))
    lines: list[str] = []
    result = run_merge(ws, ROUND, now=NOW, log=lines.append)
    codes = {f.file: f.code for f in result.findings if f.level is Level.REJECT}
    assert codes == {"科技局.xlsx": Code.F116, "灵宝.xlsx": Code.F117}
    # the merge's log line and the intake log say 空表 for the empty table, 拒收 for the other
    assert any("科技局.xlsx" in line and "空表" in line for line in lines)
    assert any("灵宝.xlsx" in line and "拒收" in line for line in lines)
    with IntakeLog(ws.intake_db) as db:
        verdicts = {e["original_name"]: e["verdict"] for e in db.entries(ROUND)}
    assert verdicts == {"科技局.xlsx": "空表", "灵宝.xlsx": "拒收"}
    subs = {s.file: s for s in result.submissions}
    assert not subs["科技局.xlsx"].accepted and not subs["灵宝.xlsx"].accepted
    assert _row(result, "1-1-1", KJ).status == "未报送"
    # the round's standing: the unit that sent an empty table is 空表, the other 被拒收
    assert result.names_in(UnitState.EMPTY) == [KJ]
    assert result.names_in(UnitState.REJECTED) == [LB]
