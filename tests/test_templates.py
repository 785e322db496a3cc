"""Tests for toolkit/templates.py: the workbook each department fills in.

A master is built in code, loaded with ``load_registry``, and a template written
with ``write_template``; the template is reopened with openpyxl and checked for
structure (never bytes), then read back through intake + check as a return.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from toolkit.check import CheckContext, check_return
from toolkit.findings import Code, Level
from toolkit.intake import read_return
from toolkit.registry import CATEGORY_COLUMNS, load_registry
from toolkit.templates import COLUMNS, GUIDE_SHEET, INPUT_TINT, META_SHEET, TEMPLATE_VERSION, write_template

DESIGN_COLUMNS = [
    "任务编号", "重点工作", "指标编号", "指标名称", "指标类型", "计量单位", "年度目标",
    "本期完成", "基数", "上年同期", "完成状态", "进展情况", "存在问题", "下步打算",
]
HEADER_ROW = 3  # the table header; data rows follow
NOW = datetime(2021, 4, 25, 9, 0)


# -- a small master, built in code ---------------------------------------------------------------


def cat_row(**cells: object) -> list[object]:
    return [cells.get(name) for name in CATEGORY_COLUMNS]


MASTER = {
    "设置": [["项目", "值"], ["发文单位", "测试市政府督查室"], ["年度", 2021], ["联系人", "张三"],
           ["联系电话", "0398-1234567"]],
    "单位": [["单位编号", "单位名称", "联系人", "联系电话", "邮箱"],
           ["D01", "市发改委"], ["D02", "市科技局"], ["D03", "湖滨区"], ["D04", "陕州区"]],
    "轮次": [["轮次", "统计截止日期", "报送截止日期"], ["2021-04", date(2021, 4, 30), date(2021, 5, 8)]],
    "目标分解": [["指标编号", "单位名称", "年度目标"], ["C1-03", "湖滨区", 60], ["C1-03", "陕州区", 40]],
    "创新驱动": [
        ["一、深入实施创新驱动发展战略"],
        list(CATEGORY_COLUMNS),
        cat_row(任务编号=1, 重点工作="壮大科技型企业", 牵头单位="市科技局", 指标编号="C1-01",
                指标名称="科技型中小企业备案", 指标类型="累计", 计量单位="家", 年度目标=140),
        cat_row(指标编号="C1-02", 指标名称="高新技术产业增加值增速", 指标类型="增速", 计量单位="%", 年度目标=10),
        cat_row(任务编号=2, 重点工作="推进重大项目建设", 牵头单位="市发改委", 指标编号="C1-03",
                指标名称="新开工亿元以上项目", 指标类型="累计", 计量单位="个", 年度目标=100, 填报单位="湖滨区、陕州区"),
    ],
    "营商环境": [
        ["二、持续优化营商环境"],
        list(CATEGORY_COLUMNS),
        cat_row(任务编号=3, 重点工作="深化“放管服”改革", 牵头单位="市发改委", 指标编号="C2-01",
                指标名称="审批事项按时办结率", 指标类型="比率", 计量单位="%", 年度目标=95),
        cat_row(指标编号="C2-02", 指标名称="城镇登记失业率", 指标类型="上限", 计量单位="%", 年度目标="≤4.5%"),
        cat_row(任务编号=4, 重点工作="建成一体化政务服务平台", 牵头单位="市科技局", 指标编号="C2-04",
                指标名称="一体化政务服务平台上线", 指标类型="节点", 完成时限="6月底"),
        cat_row(任务编号=5, 重点工作="提高网上可办率", 牵头单位="市科技局", 指标编号="C2-05",
                指标名称="政务服务事项网上可办率", 指标类型="下限", 计量单位="%", 年度目标=90),
    ],
}


def write_master(path: Path) -> Path:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in MASTER.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, date):
                    ws.write_datetime(r, c, datetime(value.year, value.month, value.day), date_fmt)
                elif isinstance(value, (int, float)):
                    ws.write_number(r, c, value)
                else:
                    ws.write_string(r, c, value)
    wb.close()
    return path


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return load_registry(write_master(tmp_path_factory.mktemp("master") / "master.xlsx"))


@pytest.fixture(scope="module")
def written(registry, tmp_path_factory):
    """Templates for 市科技局 (two categories, every input kind) and 湖滨区 (one split row)."""
    folder = tmp_path_factory.mktemp("templates")
    rnd = registry.round("2021-04")
    return {name: write_template(registry, rnd, registry.units[name], folder, now=NOW)
            for name in ("市科技局", "湖滨区", "市发改委")}


def open_book(path: Path):
    return openpyxl.load_workbook(path)


def data_rows(ws) -> list[int]:
    return [r for r in range(HEADER_ROW + 1, ws.max_row + 1) if ws.cell(r, COLUMNS.index("指标编号") + 1).value]


def col_of(name: str) -> int:
    return COLUMNS.index(name) + 1


def cell_of(ws, row: int, name: str):
    return ws.cell(row, col_of(name))


def validations_at(ws, ref: str) -> list:
    return [dv for dv in ws.data_validations.dataValidation if ref in dv.sqref]


def row_of(ws, code: str) -> int:
    return next(r for r in data_rows(ws) if cell_of(ws, r, "指标编号").value == code)


# -- file and sheets -------------------------------------------------------------------------------


def test_file_name(written):
    assert written["市科技局"].path.name == "D02_市科技局_2021-04.xlsx"
    assert written["湖滨区"].path.name == "D03_湖滨区_2021-04.xlsx"
    assert written["市科技局"].rows == 4
    assert written["湖滨区"].rows == 1


def test_sheets_in_order(written):
    wb = open_book(written["市科技局"].path)
    assert wb.sheetnames == [GUIDE_SHEET, "创新驱动", "营商环境", META_SHEET]
    assert wb.active.title == GUIDE_SHEET
    wb = open_book(written["湖滨区"].path)
    assert wb.sheetnames == [GUIDE_SHEET, "创新驱动", META_SHEET]  # only categories it has rows in


def test_guide_sheet_names_deadline_and_contact(written):
    ws = open_book(written["市科技局"].path)[GUIDE_SHEET]
    text = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
    assert "市科技局" in text
    assert "2021年5月8日" in text  # 报送截止日期
    assert "2021年4月30日" in text  # 统计截止日期
    assert "测试市政府督查室" in text
    assert "张三" in text and "0398-1234567" in text
    assert ws.protection.sheet


def test_meta_sheet(written, registry):
    wb = open_book(written["湖滨区"].path)
    meta = wb[META_SHEET]
    assert meta.sheet_state == "veryHidden"
    assert meta.protection.sheet
    pairs = {}
    layout_at = None
    for r in range(1, meta.max_row + 1):
        key = meta.cell(r, 1).value
        if key == "工作表":
            layout_at = r
            break
        pairs[key] = meta.cell(r, 2).value
    assert pairs["模板版本"] == TEMPLATE_VERSION
    assert pairs["轮次"] == "2021-04"
    assert pairs["单位编号"] == "D03"
    assert pairs["单位名称"] == "湖滨区"
    assert len(pairs["指纹"]) == 64
    assert layout_at is not None
    assert [meta.cell(layout_at, c).value for c in range(1, 5)] == ["工作表", "行号", "指标编号", "行指纹"]
    layout = [[meta.cell(r, c).value for c in range(1, 4)] for r in range(layout_at + 1, meta.max_row + 1)]
    assert layout == [["创新驱动", HEADER_ROW + 1, "C1-03"]]


def test_meta_layout_matches_the_rows(written):
    wb = open_book(written["市科技局"].path)
    meta = wb[META_SHEET]
    start = next(r for r in range(1, meta.max_row + 1) if meta.cell(r, 1).value == "工作表")
    layout = [(meta.cell(r, 1).value, meta.cell(r, 2).value, meta.cell(r, 3).value)
              for r in range(start + 1, meta.max_row + 1)]
    shown = [(name, r, cell_of(wb[name], r, "指标编号").value)
             for name in ("创新驱动", "营商环境") for r in data_rows(wb[name])]
    assert layout == shown


# -- the table -------------------------------------------------------------------------------------


def test_header_row_has_exactly_the_design_columns(written):
    assert list(COLUMNS) == DESIGN_COLUMNS
    wb = open_book(written["市科技局"].path)
    for name in ("创新驱动", "营商环境"):
        ws = wb[name]
        header = [ws.cell(HEADER_ROW, c).value for c in range(1, ws.max_column + 1)]
        assert header == DESIGN_COLUMNS


def test_only_the_units_rows(written):
    wb = open_book(written["市科技局"].path)
    codes = {name: [cell_of(wb[name], r, "指标编号").value for r in data_rows(wb[name])]
             for name in ("创新驱动", "营商环境")}
    assert codes == {"创新驱动": ["C1-01", "C1-02"], "营商环境": ["C2-04", "C2-05"]}
    wb = open_book(written["市发改委"].path)
    assert [cell_of(wb["营商环境"], r, "指标编号").value for r in data_rows(wb["营商环境"])] == ["C2-01", "C2-02"]
    assert "创新驱动" not in wb.sheetnames  # C1-03 is reported by the districts, not its lead


def test_registry_values_shown(written):
    ws = open_book(written["市科技局"].path)["创新驱动"]
    r = row_of(ws, "C1-01")
    assert [cell_of(ws, r, c).value for c in COLUMNS[:7]] == [
        "1", "壮大科技型企业", "C1-01", "科技型中小企业备案", "累计", "家", 140]
    r2 = row_of(ws, "C1-02")
    assert cell_of(ws, r2, "任务编号").value in (None, "")  # same task: shown once
    assert cell_of(ws, r2, "年度目标").value == 10
    ws = open_book(written["市发改委"].path)["营商环境"]
    assert cell_of(ws, row_of(ws, "C2-02"), "年度目标").value == 4.5


def test_split_target_shows_the_units_share(written):
    ws = open_book(written["湖滨区"].path)["创新驱动"]
    r = row_of(ws, "C1-03")
    assert cell_of(ws, r, "年度目标").value == 60


def test_header_block(written):
    ws = open_book(written["市科技局"].path)["创新驱动"]
    block = {ws.cell(r, c).value: (r, c) for r in range(1, HEADER_ROW) for c in range(1, ws.max_column + 1)
             if isinstance(ws.cell(r, c).value, str)}
    assert "一、深入实施创新驱动发展战略" in block
    r, c = block["填报单位"]
    assert ws.cell(r, c + 1).value == "市科技局"
    r, c = block["统计截止日期"]
    assert ws.cell(r, c + 1).value == datetime(2021, 4, 30)
    for label in ("填报人", "联系电话"):
        r, c = block[label]
        target = ws.cell(r, c + 1)
        assert target.value is None
        assert target.protection.locked is False, label
        assert target.fill.fgColor.rgb.endswith(INPUT_TINT.lstrip("#")), label


# -- protection, tint, validation ------------------------------------------------------------------


def test_locked_and_input_cells(written):
    wb = open_book(written["市科技局"].path)
    for name in ("创新驱动", "营商环境"):
        ws = wb[name]
        assert ws.protection.sheet, name
        for r in data_rows(ws):
            kind = cell_of(ws, r, "指标类型").value
            for c in COLUMNS[:7]:
                assert cell_of(ws, r, c).protection.locked is True, (name, r, c)
            inputs = ["进展情况", "存在问题", "下步打算"]
            inputs += ["完成状态"] if kind == "节点" else ["本期完成", "上年同期"]
            inputs += ["基数"] if kind == "比率" else []
            for c in inputs:
                cell = cell_of(ws, r, c)
                assert cell.protection.locked is False, (name, r, c)
                assert cell.fill.fgColor.rgb.endswith(INPUT_TINT.lstrip("#")), (name, r, c)
            for c in set(COLUMNS[7:]) - set(inputs):  # not applicable to this kind: locked, greyed
                assert cell_of(ws, r, c).protection.locked is True, (name, r, c)


def test_ratio_row_has_an_unlocked_base(written):
    ws = open_book(written["市发改委"].path)["营商环境"]
    r = row_of(ws, "C2-01")
    assert cell_of(ws, r, "基数").protection.locked is False
    dvs = validations_at(ws, cell_of(ws, r, "基数").coordinate)
    assert dvs and dvs[0].type == "decimal"


def test_node_state_is_a_list(written):
    ws = open_book(written["市科技局"].path)["营商环境"]
    r = row_of(ws, "C2-04")
    dvs = validations_at(ws, cell_of(ws, r, "完成状态").coordinate)
    assert len(dvs) == 1
    assert dvs[0].type == "list"
    assert dvs[0].formula1.strip('"').split(",") == ["已完成", "推进中", "未启动"]
    assert not validations_at(ws, cell_of(ws, r, "本期完成").coordinate)


@pytest.mark.parametrize("unit, sheet, code, negative_ok", [
    ("市科技局", "创新驱动", "C1-01", False),  # 累计
    ("市科技局", "创新驱动", "C1-02", True),  # 增速: a fall is negative
    ("市科技局", "营商环境", "C2-05", False),  # 下限
    ("市发改委", "营商环境", "C2-01", False),  # 比率
    ("市发改委", "营商环境", "C2-02", False),  # 上限
    ("湖滨区", "创新驱动", "C1-03", False),
])
def test_value_validation(written, unit, sheet, code, negative_ok):
    ws = open_book(written[unit].path)[sheet]
    r = row_of(ws, code)
    dvs = validations_at(ws, cell_of(ws, r, "本期完成").coordinate)
    assert len(dvs) == 1
    dv = dvs[0]
    assert dv.type == "decimal"
    if negative_ok:
        assert dv.operator in (None, "between")  # between is OOXML's default, often left out
        assert float(dv.formula1) < 0 < float(dv.formula2)
    else:
        assert dv.operator == "greaterThanOrEqual"
        assert float(dv.formula1) == 0


# -- read back as a return -------------------------------------------------------------------------


def check(path: Path, registry):
    ret = read_return(path)
    outcome = check_return(ret, CheckContext(registry=registry, round=registry.round("2021-04")))
    return ret, outcome


@pytest.mark.parametrize("unit", ["市科技局", "湖滨区", "市发改委"])
def test_empty_template_reads_back(written, registry, unit):
    ret, outcome = check(written[unit].path, registry)
    assert ret.meta is not None and ret.meta_intact()
    assert ret.unit_name == unit and ret.round == "2021-04"
    assert [r.code for r in ret.rows] == [i.code for i in registry.rows_for(unit)]
    assert not outcome.rejected
    assert not [f for f in outcome.findings if f.code.name.startswith("F")]
    assert not [f for f in outcome.findings if f.code is Code.W310]  # the locked cells match the master
    errors = sorted((f.code.name, f.cell) for f in outcome.findings if f.level is Level.ERROR)
    expected = []
    for ind in registry.rows_for(unit):
        ws_row = next(r for r in ret.rows if r.code == ind.code)
        if ind.kind == "节点":
            expected.append(("E204", ws_row.ref("完成状态")))
        else:
            expected.append(("E201", ws_row.ref("本期完成")))
        if ind.kind == "比率":
            expected.append(("E206", ws_row.ref("基数")))
    assert errors == sorted(expected)
    contact = [f.message for f in outcome.findings if f.code is Code.W306]
    assert len(contact) == 2
    assert any("填报人" in m for m in contact) and any("联系电话" in m for m in contact)


def test_template_info_block_is_read(written, registry):
    ret = read_return(written["市科技局"].path)
    assert ret.info["填报单位"][0] == "市科技局"
    assert ret.info["轮次"][0] == "2021-04"


# -- LibreOffice re-save ---------------------------------------------------------------------------

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_resave_keeps_identity(written, registry, tmp_path):
    source = written["市科技局"].path
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--norestore",
                    "--convert-to", "xlsx", "--outdir", str(out), str(source)],
                   check=True, capture_output=True, timeout=180)
    resaved = out / source.name
    assert resaved.exists()
    original = read_return(source)
    ret = read_return(resaved)
    assert ret.meta is not None
    assert ret.meta == original.meta
    assert ret.layout == original.layout
    assert ret.meta_intact()
    assert [(r.sheet, r.row, r.code) for r in ret.rows] == [(r.sheet, r.row, r.code) for r in original.rows]
    outcome = check_return(ret, CheckContext(registry=registry, round=registry.round("2021-04")))
    assert not [f for f in outcome.findings if f.code.name.startswith("F")]
    assert not [f for f in outcome.findings if f.code is Code.W310]
