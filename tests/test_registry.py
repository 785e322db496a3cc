"""Tests for toolkit/registry.py: reading and checking the clerk's master workbook.

Every master is built in code with xlsxwriter: one small valid workbook, then one
mutation per case. A broken master raises MasterWorkbookError whose ``problems``
each name the sheet and the cell; the command line turns it into ``错误：`` lines
and exit code 2, never a traceback.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import xlsxwriter

from toolkit.errors import MasterWorkbookError
from toolkit.model import Settings
from toolkit.read import read_workbook
from toolkit.registry import CATEGORY_COLUMNS, load_registry

D = Decimal
REPO = Path(__file__).resolve().parents[1]


# -- building masters in code ----------------------------------------------------------------


@dataclass(frozen=True)
class Fmt:
    """A cell value written with an explicit number format (a custom code or a built-in index)."""

    value: object
    num_format: str | int


def header_row() -> list[object]:
    return list(CATEGORY_COLUMNS)


def cat_row(**cells: object) -> list[object]:
    """One category-sheet row from column names: cat_row(指标编号="C1-01", 指标类型="累计")."""
    unknown = set(cells) - set(CATEGORY_COLUMNS)
    assert not unknown, unknown
    return [cells.get(name) for name in CATEGORY_COLUMNS]


def col(name: str) -> str:
    """The column letter of a category-sheet column."""
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[CATEGORY_COLUMNS.index(name)]


def base_master() -> dict:
    """A small valid master: settings, four units, two rounds, a target split, two categories.

    Row numbers matter to the cases below: 设置 B5 is 序时口径; 轮次 row 2 is 2021-04;
    “创新驱动” rows 3-5 hold C1-01, C1-02, C1-03; “营商环境” rows 3-6 hold C2-01..C2-04.
    """
    sheets = {
        "说明": [["本台账由督查室维护。"]],
        "设置": [
            ["项目", "值"],
            ["发文单位", "测试市政府督查室"],
            ["报告标题", "《测试市政府工作报告》重点工作进展情况报告"],
            ["年度", 2021],
            ["序时口径", "按月"],
            ["滞后容差", 0],
            ["联系人", "张三"],
            ["联系电话", "0398-1234567"],
        ],
        "单位": [
            ["单位编号", "单位名称", "联系人", "联系电话", "邮箱"],
            ["D01", "市发改委", "李四", "0398-1111111", "fgw@example.cn"],
            ["D02", "市科技局", "王五", "0398-2222222", "kjj@example.cn"],
            ["D03", "湖滨区", "赵六", "0398-3333333", "hbq@example.cn"],
            ["D04", "陕州区", "钱七", "0398-4444444", "szq@example.cn"],
        ],
        "轮次": [
            ["轮次", "统计截止日期", "报送截止日期"],
            ["2021-04", datetime(2021, 4, 30), datetime(2021, 5, 8)],
            ["2021-05", datetime(2021, 5, 31), datetime(2021, 6, 8)],
        ],
        "目标分解": [
            ["指标编号", "单位名称", "年度目标"],
            ["C1-03", "湖滨区", 60],
            ["C1-03", "陕州区", 40],
        ],
        "创新驱动": [
            ["一、深入实施创新驱动发展战略，加快建设创新型城市"],
            header_row(),
            cat_row(任务编号=1, 重点工作="壮大科技型企业", 牵头单位="市科技局", 指标编号="C1-01",
                    指标名称="科技型中小企业备案", 指标类型="累计", 计量单位="家", 年度目标=140),
            cat_row(指标编号="C1-02", 指标名称="高新技术产业增加值增速", 指标类型="增速", 计量单位="%",
                    年度目标=10, 小数位数=1),
            cat_row(任务编号=2, 重点工作="推进重大项目建设", 牵头单位="市发改委", 指标编号="C1-03",
                    指标名称="新开工亿元以上项目", 指标类型="累计", 计量单位="个", 年度目标=100,
                    填报单位="湖滨区、陕州区"),
        ],
        "营商环境": [
            ["二、持续优化营商环境"],
            header_row(),
            cat_row(任务编号=3, 重点工作="深化“放管服”改革", 牵头单位="市发改委", 配合单位="市科技局",
                    指标编号="C2-01", 指标名称="审批事项按时办结率", 指标类型="比率", 计量单位="%", 年度目标=95),
            cat_row(指标编号="C2-02", 指标名称="城镇登记失业率", 指标类型="上限", 计量单位="%", 年度目标=4.5),
            cat_row(指标编号="C2-03", 指标名称="政务服务事项网上可办率", 指标类型="下限", 计量单位="%",
                    年度目标=90),
            cat_row(任务编号=4, 重点工作="建成一体化政务服务平台", 牵头单位="市科技局", 指标编号="C2-04",
                    指标名称="一体化政务服务平台上线", 指标类型="节点", 完成时限="6月底",
                    表述模板="{指标名称}{完成状态}"),
        ],
    }
    return {"sheets": sheets, "merges": []}


def write_master(path: Path, spec: dict) -> Path:
    """Write a master described by ``spec`` (sheets: name -> rows; merges: (sheet, A1 range, value))."""
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    formats: dict[object, object] = {}
    sheets = {name: wb.add_worksheet(name) for name in spec["sheets"]}
    for name, rows in spec["sheets"].items():
        ws = sheets[name]
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                fmt = None
                if isinstance(value, Fmt):
                    fmt = formats.setdefault(value.num_format, wb.add_format({"num_format": value.num_format}))
                    value = value.value
                if isinstance(value, (datetime, date)):
                    if not isinstance(value, datetime):
                        value = datetime(value.year, value.month, value.day)
                    ws.write_datetime(r, c, value, fmt or date_fmt)
                elif isinstance(value, (int, float)):
                    ws.write_number(r, c, value, fmt)
                else:
                    ws.write_string(r, c, str(value), fmt)
    for name, cells, value in spec["merges"]:
        sheets[name].merge_range(cells, value)
    wb.close()
    return path


def build(tmp_path: Path, mutate=None, name: str = "master.xlsx") -> Path:
    spec = copy.deepcopy(base_master())
    if mutate is not None:
        mutate(spec)
    return write_master(tmp_path / name, spec)


def set_cell(spec: dict, sheet: str, ref: str, value: object) -> None:
    """Set one cell by A1 reference (rows grown as needed)."""
    letters = "".join(ch for ch in ref if ch.isalpha())
    row = int(ref[len(letters):]) - 1
    column = 0
    for ch in letters:
        column = column * 26 + ord(ch) - 64
    column -= 1
    rows = spec["sheets"][sheet]
    while len(rows) <= row:
        rows.append([])
    while len(rows[row]) <= column:
        rows[row].append(None)
    rows[row][column] = value


def problem_at(problems: list[str], sheet: str, cell: str = "") -> list[str]:
    """The problems naming exactly this sheet and cell (``工作表“X”单元格 A1：…``)."""
    where = f"工作表“{sheet}”" + (f"单元格 {cell}" if cell else "") + "："
    return [p for p in problems if p.startswith(where)]


# -- the valid master ------------------------------------------------------------------------


def test_valid_master_loads(tmp_path):
    reg = load_registry(build(tmp_path))
    assert reg.settings.issuer == "测试市政府督查室"
    assert reg.settings.year == 2021
    assert reg.settings.basis == "按月"
    assert dict(reg.settings.extra) == {"联系人": "张三", "联系电话": "0398-1234567"}
    assert list(reg.units) == ["市发改委", "市科技局", "湖滨区", "陕州区"]
    assert reg.units["市科技局"].code == "D02"
    assert [(r.name, r.cutoff, r.deadline) for r in reg.rounds] == [
        ("2021-04", date(2021, 4, 30), date(2021, 5, 8)),
        ("2021-05", date(2021, 5, 31), date(2021, 6, 8)),
    ]
    assert [c.sheet for c in reg.categories] == ["创新驱动", "营商环境"]
    assert reg.categories[0].title == "一、深入实施创新驱动发展战略，加快建设创新型城市"
    assert [i.code for i in reg.indicators()] == ["C1-01", "C1-02", "C1-03", "C2-01", "C2-02", "C2-03", "C2-04"]
    c101 = reg.indicator("C1-01")
    assert (c101.sheet, c101.row, c101.kind, c101.unit, c101.target) == ("创新驱动", 3, "累计", "家", D(140))
    assert c101.reporters == ("市科技局",)
    assert reg.indicator("C1-02").decimals == 1
    assert reg.indicator("C2-04").due == date(2021, 6, 30)
    assert reg.indicator("C2-04").due_text == "6月底"
    assert reg.indicator("C2-04").phrase == "{指标名称}{完成状态}"
    assert reg.warnings == []


def test_blank_task_cells_inherit_from_above(tmp_path):
    reg = load_registry(build(tmp_path))
    c202 = reg.indicator("C2-02")
    assert (c202.task_no, c202.task, c202.lead, c202.co) == ("3", "深化“放管服”改革", "市发改委", "市科技局")
    assert c202.reporters == ("市发改委",)
    c102 = reg.indicator("C1-02")
    assert (c102.task_no, c102.task, c102.lead) == ("1", "壮大科技型企业", "市科技局")


def test_new_task_does_not_inherit_previous_co_units(tmp_path):
    """Task 4 leaves 配合单位 blank: it has none, it does not take task 3's."""
    reg = load_registry(build(tmp_path))
    assert reg.indicator("C2-04").co == ""
    assert reg.indicator("C2-04").lead == "市科技局"


def test_merged_task_cells_inherit(tmp_path):
    def mutate(spec):
        rows = spec["sheets"]["创新驱动"]
        for r in (2, 3):  # clear what merge_range will write
            for name in ("任务编号", "重点工作", "牵头单位"):
                rows[r][CATEGORY_COLUMNS.index(name)] = None
        spec["merges"] += [
            ("创新驱动", "A3:A4", 1),
            ("创新驱动", "B3:B4", "壮大科技型企业"),
            ("创新驱动", "C3:C4", "市科技局"),
        ]

    path = build(tmp_path, mutate)
    sheet = read_workbook(path).sheet("创新驱动")
    assert (3, 1, 4, 1) in sheet.merged
    assert sheet.value(4, 2) is None  # a merged cell below the first holds nothing
    reg = load_registry(path)
    for code in ("C1-01", "C1-02"):
        ind = reg.indicator(code)
        assert (ind.task_no, ind.task, ind.lead, ind.reporters) == ("1", "壮大科技型企业", "市科技局", ("市科技局",))
    assert reg.indicator("C1-03").task_no == "2"


@pytest.mark.parametrize("written, expected", [
    ("湖滨区、陕州区", ("湖滨区", "陕州区")),
    ("湖滨区，陕州区", ("湖滨区", "陕州区")),
    ("湖滨区，陕州区、市发改委", ("湖滨区", "陕州区", "市发改委")),
    ("湖滨区、 陕州区", ("湖滨区", "陕州区")),
])
def test_several_reporting_units(tmp_path, written, expected):
    reg = load_registry(build(tmp_path, lambda s: set_cell(s, "创新驱动", f"{col('填报单位')}5", written)))
    assert reg.indicator("C1-03").reporters == expected


def test_reporting_unit_defaults_to_lead(tmp_path):
    reg = load_registry(build(tmp_path))
    assert reg.indicator("C2-01").reporters == ("市发改委",)
    assert [u.name for u in reg.reporting_units()] == ["市发改委", "市科技局", "湖滨区", "陕州区"]
    assert [i.code for i in reg.rows_for("湖滨区")] == ["C1-03"]


@pytest.mark.parametrize("written, expected", [
    ("≤4.5%", D("4.5")),
    ("4.5%以内", D("4.5")),
    ("不高于4.5", D("4.5")),
    ("４．５", D("4.5")),
    (4.5, D("4.5")),
])
def test_upper_limit_target_as_text(tmp_path, written, expected):
    reg = load_registry(build(tmp_path, lambda s: set_cell(s, "营商环境", f"{col('年度目标')}4", written)))
    assert reg.indicator("C2-02").target == expected


def test_target_split(tmp_path):
    reg = load_registry(build(tmp_path))
    ind = reg.indicator("C1-03")
    assert ind.reporters == ("湖滨区", "陕州区")
    assert dict(ind.targets_by_unit) == {"湖滨区": D(60), "陕州区": D(40)}
    assert ind.target == D(100)
    assert ind.target_for("湖滨区") == D(60)
    assert ind.target_for("陕州区") == D(40)


def test_target_split_fills_a_blank_annual_target(tmp_path):
    reg = load_registry(build(tmp_path, lambda s: set_cell(s, "创新驱动", f"{col('年度目标')}5", None)))
    assert reg.indicator("C1-03").target == D(100)


def test_target_split_not_adding_up_is_a_warning(tmp_path):
    reg = load_registry(build(tmp_path, lambda s: set_cell(s, "目标分解", "C3", 50)))
    assert reg.indicator("C1-03").target == D(100)
    assert reg.indicator("C1-03").target_for("陕州区") == D(50)
    assert any("C1-03" in w and "不一致" in w for w in reg.warnings)


def test_settings_defaults(tmp_path):
    def mutate(spec):
        spec["sheets"]["设置"] = [["项目", "值"]]

    reg = load_registry(build(tmp_path, mutate))
    default = Settings()
    assert reg.settings.issuer == default.issuer
    assert reg.settings.title == default.title
    assert reg.settings.basis == "按月"
    assert reg.settings.tolerance == D(0)
    assert reg.settings.extra == ()
    assert reg.settings.year == 2021  # from the first round's 统计截止日期


def test_settings_daily_basis_and_tolerance(tmp_path):
    def mutate(spec):
        set_cell(spec, "设置", "B5", "按日")
        set_cell(spec, "设置", "B6", "2.5")

    reg = load_registry(build(tmp_path, mutate))
    assert reg.settings.basis == "按日"
    assert reg.settings.tolerance == D("2.5")


# -- dates in 轮次 ------------------------------------------------------------------------------

SERIAL_2021_04_30 = 44316  # Excel's day number of 2021-04-30


@pytest.mark.parametrize("cutoff", [
    pytest.param("2021/4/30", id="text-slashes"),
    pytest.param("2021-04-30", id="text-iso"),
    pytest.param("2021年4月30日", id="text-chinese"),
    pytest.param(datetime(2021, 4, 30), id="datetime"),
    pytest.param(Fmt(datetime(2021, 4, 30), 'yyyy"年"m"月"d"日"'), id="custom-chinese-format"),
    pytest.param(Fmt(SERIAL_2021_04_30, 31), id="builtin-31"),
    pytest.param(Fmt(SERIAL_2021_04_30, 57), id="builtin-57"),
    pytest.param(Fmt(SERIAL_2021_04_30, 14), id="builtin-14"),
])
def test_round_dates_in_any_form(tmp_path, cutoff):
    path = build(tmp_path, lambda s: set_cell(s, "轮次", "B2", cutoff))
    reg = load_registry(path)
    assert reg.round("2021-04").cutoff == date(2021, 4, 30)
    assert type(reg.round("2021-04").cutoff) is date


@pytest.mark.parametrize("num_format", ['yyyy"年"m"月"d"日"', 31, 57, 'yyyy"年"m"月"', 27, 36, 50, 58])
def test_reader_returns_datetimes_for_chinese_date_formats(tmp_path, num_format):
    path = build(tmp_path, lambda s: set_cell(s, "轮次", "B2", Fmt(SERIAL_2021_04_30, num_format)))
    cell = read_workbook(path).sheet("轮次").cell(2, 2)
    assert cell.value == datetime(2021, 4, 30)
    assert cell.is_date


def test_round_name_typed_as_a_date(tmp_path):
    reg = load_registry(build(tmp_path, lambda s: set_cell(s, "轮次", "A2", Fmt(datetime(2021, 4, 1), "yyyy-mm"))))
    assert reg.round("2021-04") is not None


# -- broken masters: one mutation per check ---------------------------------------------------


def _drop(name: str):
    def mutate(spec):
        del spec["sheets"][name]
    return mutate


def _replace_header(spec):
    spec["sheets"]["营商环境"][1] = ["序号", "内容", "责任单位"]


def _unknown_split_unit(spec):
    spec["sheets"]["目标分解"].append(["C1-03", "灵宝市", 10])


BROKEN = [
    # id, mutation, sheet, cell, words the message must contain
    ("duplicate-code", lambda s: set_cell(s, "创新驱动", "E4", "C1-01"), "创新驱动", "E4", ["C1-01", "重复"]),
    ("duplicate-code-across-sheets", lambda s: set_cell(s, "营商环境", "E3", "C1-02"), "营商环境", "E3",
     ["C1-02", "重复", "创新驱动"]),
    ("unknown-kind", lambda s: set_cell(s, "创新驱动", "G3", "累积"), "创新驱动", "G3", ["累积", "指标类型"]),
    ("unit-not-in-units", lambda s: set_cell(s, "创新驱动", "K5", "湖滨区、市教育局"), "创新驱动", "K5",
     ["市教育局", "单位"]),
    ("lead-not-in-units", lambda s: set_cell(s, "创新驱动", "C3", "市科学技术局"), "创新驱动", "C3",
     ["市科学技术局"]),
    ("cumulative-without-target", lambda s: set_cell(s, "创新驱动", "I3", None), "创新驱动", "I3",
     ["累计", "年度目标"]),
    ("cumulative-target-zero", lambda s: set_cell(s, "创新驱动", "I3", 0), "创新驱动", "I3", ["大于0"]),
    ("upper-without-target", lambda s: set_cell(s, "营商环境", "I4", None), "营商环境", "I4", ["上限", "年度目标"]),
    ("cutoff-not-a-date", lambda s: set_cell(s, "轮次", "B2", "四月底"), "轮次", "B2", ["四月底", "不是日期"]),
    ("deadline-not-a-date", lambda s: set_cell(s, "轮次", "C3", "下月8日前"), "轮次", "C3", ["不是日期"]),
    ("impossible-date", lambda s: set_cell(s, "轮次", "B2", "2021-02-30"), "轮次", "B2", ["不是日期"]),
    ("category-without-header", _replace_header, "营商环境", "A2", ["表头", "指标编号"]),
    ("target-not-a-number", lambda s: set_cell(s, "创新驱动", "I3", "一百四十家"), "创新驱动", "I3",
     ["一百四十家", "不是数字"]),
    ("target-vague", lambda s: set_cell(s, "创新驱动", "I3", "约140"), "创新驱动", "I3", ["不是数字"]),
    ("decimals-too-many", lambda s: set_cell(s, "创新驱动", "L3", 7), "创新驱动", "L3", ["小数位数", "0 到 6"]),
    ("decimals-negative", lambda s: set_cell(s, "创新驱动", "L3", -1), "创新驱动", "L3", ["小数位数"]),
    ("decimals-text", lambda s: set_cell(s, "创新驱动", "L3", "两位"), "创新驱动", "L3", ["两位"]),
    ("decimals-fraction", lambda s: set_cell(s, "创新驱动", "L3", 1.5), "创新驱动", "L3", ["小数位数"]),
    ("due-unparseable", lambda s: set_cell(s, "营商环境", "J6", "尽快完成"), "营商环境", "J6", ["尽快完成", "完成时限"]),
    ("due-impossible", lambda s: set_cell(s, "营商环境", "J6", "13月底"), "营商环境", "J6", ["完成时限"]),
    ("unknown-placeholder", lambda s: set_cell(s, "营商环境", "M6", "{指标名称}{完成量}"), "营商环境", "M6",
     ["{完成量}", "表述模板"]),
    ("split-unknown-unit", _unknown_split_unit, "目标分解", "B4", ["灵宝市"]),
    ("split-unit-not-a-reporter", lambda s: set_cell(s, "目标分解", "B3", "市科技局"), "目标分解", "B3",
     ["市科技局", "填报单位"]),
    ("split-unknown-code", lambda s: s["sheets"]["目标分解"].append(["C9-99", "湖滨区", 5]), "目标分解", "A4",
     ["C9-99", "不存在"]),
    ("split-duplicate", lambda s: s["sheets"]["目标分解"].append(["C1-03", "湖滨区", 10]), "目标分解", "B4",
     ["湖滨区", "重复"]),
    ("split-target-not-a-number", lambda s: set_cell(s, "目标分解", "C2", "六十"), "目标分解", "C2", ["年度目标"]),
    ("missing-settings", _drop("设置"), "设置", "", ["缺少工作表"]),
    ("missing-units", _drop("单位"), "单位", "", ["缺少工作表"]),
    ("missing-rounds", _drop("轮次"), "轮次", "", ["缺少工作表"]),
    ("invalid-basis", lambda s: set_cell(s, "设置", "B5", "按周"), "设置", "B5", ["按周", "序时口径"]),
    ("year-not-a-year", lambda s: set_cell(s, "设置", "B4", "二〇二一年"), "设置", "B4", ["年度"]),
    ("tolerance-not-a-number", lambda s: set_cell(s, "设置", "B6", "两个点"), "设置", "B6", ["滞后容差"]),
    ("duplicate-unit", lambda s: set_cell(s, "单位", "B5", "湖滨区"), "单位", "B5", ["湖滨区", "重复"]),
    ("duplicate-round", lambda s: set_cell(s, "轮次", "A3", "2021-04"), "轮次", "A3", ["2021-04", "重复"]),
]


@pytest.mark.parametrize("mutate, sheet, cell, words", [case[1:] for case in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_master_names_sheet_and_cell(tmp_path, mutate, sheet, cell, words):
    with pytest.raises(MasterWorkbookError) as info:
        load_registry(build(tmp_path, mutate))
    problems = info.value.problems
    hits = problem_at(problems, sheet, cell)
    assert hits, f"no problem at {sheet}!{cell}: {problems}"
    assert any(all(w in p for w in words) for p in hits), hits
    assert "master.xlsx" in str(info.value)
    assert f"{len(problems)} 处问题" in str(info.value)


def test_every_problem_is_reported_at_once(tmp_path):
    def mutate(spec):
        set_cell(spec, "创新驱动", "G3", "累积")
        set_cell(spec, "营商环境", "L5", 9)
        set_cell(spec, "设置", "B5", "按周")

    with pytest.raises(MasterWorkbookError) as info:
        load_registry(build(tmp_path, mutate))
    problems = info.value.problems
    assert problem_at(problems, "创新驱动", "G3")
    assert problem_at(problems, "营商环境", "L5")
    assert problem_at(problems, "设置", "B5")
    assert len(problems) == 3


def test_broken_split_row_is_not_also_reported_as_unknown(tmp_path):
    """C1-03 has a split; when its own row is broken, that is the one problem reported."""
    with pytest.raises(MasterWorkbookError) as info:
        load_registry(build(tmp_path, lambda s: set_cell(s, "创新驱动", "G5", "累积")))
    assert len(info.value.problems) == 1
    assert problem_at(info.value.problems, "创新驱动", "G5")


def test_missing_master_file(tmp_path):
    with pytest.raises(MasterWorkbookError, match="找不到任务台账"):
        load_registry(tmp_path / "master.xlsx")


def test_master_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "master.xlsx"
    path.write_text("这不是表格", encoding="utf-8")
    with pytest.raises(MasterWorkbookError, match="无法读取"):
        load_registry(path)


def test_no_category_sheets(tmp_path):
    def mutate(spec):
        del spec["sheets"]["创新驱动"]
        del spec["sheets"]["营商环境"]
        del spec["sheets"]["目标分解"]

    with pytest.raises(MasterWorkbookError) as info:
        load_registry(build(tmp_path, mutate))
    assert any("没有任何类别工作表" in p for p in info.value.problems)


def test_blank_extra_sheet_is_ignored(tmp_path):
    def mutate(spec):
        spec["sheets"]["Sheet3"] = []

    reg = load_registry(build(tmp_path, mutate))
    assert [c.sheet for c in reg.categories] == ["创新驱动", "营商环境"]


# -- the command line --------------------------------------------------------------------------


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "toolkit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)


def test_cli_broken_master_exits_2_in_chinese(tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    build(workspace, lambda s: set_cell(s, "创新驱动", "G3", "累积"))
    done = run_cli("merge", "-w", str(workspace), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output
    lines = [line for line in done.stderr.splitlines() if line.startswith("错误：")]
    assert lines and "master.xlsx" in lines[0]
    assert "工作表“创新驱动”单元格 G3" in done.stderr
    assert "累积" in done.stderr


def test_cli_missing_master_exits_2(tmp_path):
    done = run_cli("merge", "-w", str(tmp_path), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output
    assert done.stderr.startswith("错误：")
    assert "master.xlsx" in done.stderr


# -- the parsed master kept in the workspace ----------------------------------------------------


def test_an_unchanged_master_is_not_read_again(tmp_path, monkeypatch):
    import openpyxl

    import toolkit.workspace as workspace_mod
    from tests.factories import make_workspace

    ws = make_workspace(tmp_path)
    first = ws.registry()
    assert (ws.root / ".ducha" / "master.pickle").is_file()

    def no_reading(path):
        raise AssertionError("the master was read again")

    with monkeypatch.context() as patch:
        patch.setattr(workspace_mod, "load_registry", no_reading)
        again = ws.registry()
    assert again == first and again is not first  # a fresh copy: callers may change theirs
    # the office edits the master: read again, and the memo follows
    book = openpyxl.load_workbook(ws.master)
    book["设置"]["B2"] = "市政府督查室（改）"
    book.save(ws.master)
    changed = ws.registry()
    assert changed != first
    with monkeypatch.context() as patch:
        patch.setattr(workspace_mod, "load_registry", no_reading)
        assert ws.registry() == changed
    # a damaged memo, or one from another version of the code, is ignored and replaced
    (ws.root / ".ducha" / "master.pickle").write_bytes(b"\x80\x05garbage")
    assert ws.registry() == changed
    monkeypatch.setattr(workspace_mod, "_code_stamp", lambda: "another version")
    calls = []
    monkeypatch.setattr(workspace_mod, "load_registry", lambda path: calls.append(path) or load_registry(path))
    assert ws.registry() == changed and calls == [ws.master]


def test_a_master_with_errors_is_never_remembered(tmp_path):
    from tests.factories import make_workspace

    ws = make_workspace(tmp_path)
    (ws.root / ".ducha" / "master.pickle").unlink(missing_ok=True)
    book_bytes = ws.master.read_bytes()
    ws.master.write_bytes(b"not a workbook")
    with pytest.raises(MasterWorkbookError):
        ws.registry()
    assert not (ws.root / ".ducha" / "master.pickle").exists()
    ws.master.write_bytes(book_bytes)
    assert ws.registry().categories


# -- the cells read the quick way give what the general way gives -------------------------


@pytest.mark.parametrize("value", [" 市科技局\n（牵头） ", "", "C1-03", 140.0, 2.5, 7, None, True,
                                   datetime(2021, 6, 30, 0, 0), float("nan")])
def test_text_and_targets_of_the_usual_cells_as_before(value):
    """text() and to_decimal() take a str and a float first: the same result as the checks after."""
    from toolkit.registry import text, to_decimal

    if isinstance(value, str):
        assert text(value) == " ".join(str(value).split())
    if isinstance(value, float):
        expected = Decimal(int(value)) if value.is_integer() else Decimal(repr(value))
        assert str(to_decimal(value)) == str(expected)
    assert text(value) == ("" if value is None else str(int(value)) if isinstance(value, float) and value.is_integer()
                           else value.date().isoformat() if isinstance(value, datetime) else " ".join(str(value).split()))


def test_a_sheet_is_measured_once_as_max_row_and_max_col_give_it():
    from toolkit.read import Cell, Sheet
    from toolkit.registry import _extent

    assert _extent(Sheet("空")) == (0, 0) == (Sheet("空").max_row, Sheet("空").max_col)
    sheet = Sheet("目标分解", cells={(1, 1): Cell("指标编号"), (3, 2): Cell("湖滨区"), (2, 9): Cell(5.0), (7, 1): Cell()})
    assert _extent(sheet) == (sheet.max_row, sheet.max_col) == (7, 9)
