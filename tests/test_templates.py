"""Tests for toolkit/templates.py: the workbook each department fills in.

A master is built in code, loaded with ``load_registry``, and a template written
with ``write_template``; the template is reopened with openpyxl and checked for
structure (never bytes), then read back through intake + check as a return.
"""

from __future__ import annotations

import re
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


def test_ratio_row_says_what_goes_in_each_cell(written):
    """本期完成 of a 比率 row takes the count with its unit word or the rate: no number-only warning,
    and every cell says what it holds."""
    ws = open_book(written["市发改委"].path)["营商环境"]
    r = row_of(ws, "C2-01")
    value = validations_at(ws, cell_of(ws, r, "本期完成").coordinate)
    assert len(value) == 1 and value[0].type is None  # "any": 338个 and 95.48% are welcome
    assert "分子数" in value[0].prompt and "95.48%" in value[0].prompt and "基数" in value[0].prompt
    base = validations_at(ws, cell_of(ws, r, "基数").coordinate)[0]
    assert "总数" in base.prompt and "不要填百分数" in base.prompt
    last_year = validations_at(ws, cell_of(ws, r, "上年同期").coordinate)[0]
    assert "比率" in last_year.prompt
    guide = " ".join(str(c.value) for row in open_book(written["市发改委"].path)[GUIDE_SHEET].iter_rows()
                     for c in row if c.value)
    assert "比率类" in guide and "分子数" in guide and "总数" in guide and "百分数" in guide


@pytest.mark.parametrize("unit", ["市科技局", "湖滨区", "市发改委"])
def test_untouched_template_is_an_empty_return(written, registry, unit):
    ret, outcome = check(written[unit].path, registry)
    assert ret.meta is not None and ret.meta_intact()
    assert ret.unit_name == unit and ret.round == "2021-04"
    assert [r.code for r in ret.rows] == [i.code for i in registry.rows_for(unit)]
    assert [f.code for f in outcome.findings] == [Code.F116]
    assert outcome.rejected and not outcome.entries


def _with_one_remark(path: Path, folder: Path) -> Path:
    """The template with only one 存在问题 typed: a return, though an incomplete one."""
    wb = open_book(path)
    ws = next(w for w in wb.worksheets if w.title not in (GUIDE_SHEET, META_SHEET))
    cell_of(ws, data_rows(ws)[0], "存在问题").value = "数据尚在统计。"
    folder.mkdir(parents=True, exist_ok=True)
    wb.save(folder / path.name)
    return folder / path.name


@pytest.mark.parametrize("unit", ["市科技局", "湖滨区", "市发改委"])
def test_template_reads_back(written, registry, unit, tmp_path):
    ret, outcome = check(_with_one_remark(written[unit].path, tmp_path), registry)
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
    assert [f.code for f in outcome.findings if f.code.name.startswith("F")] == [Code.F116]  # still untouched
    assert not [f for f in outcome.findings if f.code is Code.W310]


# -- every cell readable at 100% zoom; the guide on one page (issue 10 item 4) ----------------------

LONG_UNIT = "三门峡市住房和城乡建设局（市人民防空办公室）"
LONG_NAME = "国道209王官黄河大桥及连接线新建工程年度完成投资（含征地拆迁和前期工作费用）"


@pytest.fixture(scope="module")
def long_template(tmp_path_factory):
    """A template with a long unit name, a long 指标名称, a long unit and a large target."""
    from factories import indicator_row, make_master

    rows = [
        indicator_row("七、交通", "7-1", "加快交通基础设施建设，推进国省干线公路、铁路和综合交通枢纽项目建设",
                      LONG_UNIT, "7-1-1", LONG_NAME, "累计", "亿元", 1234567.89),
        indicator_row("七、交通", "", "", "", "7-1-2", "PM2.5平均浓度", "上限", "微克/立方米", 45),
        indicator_row("七、交通", "", "", "", "7-1-3", "审批事项办结率", "比率", "%", 90),
    ]
    folder = tmp_path_factory.mktemp("long")
    reg = load_registry(make_master(folder, indicators=rows, units=[("D01", LONG_UNIT)], splits=[]))
    rnd = reg.round("2021-04")
    return write_template(reg, rnd, reg.units[LONG_UNIT], folder / "templates", now=NOW).path


def _span_width(ws, row: int, col: int) -> float:
    """Width of the cell's column, or of its whole merged range."""
    from openpyxl.utils import get_column_letter

    for rng in ws.merged_cells.ranges:
        if rng.min_row <= row <= rng.max_row and rng.min_col <= col <= rng.max_col:
            return sum(ws.column_dimensions[get_column_letter(c)].width for c in range(rng.min_col, rng.max_col + 1))
    return ws.column_dimensions[openpyxl.utils.get_column_letter(col)].width


def _shown(cell) -> str:
    if isinstance(cell.value, datetime):
        return f"{cell.value.year}年{cell.value.month}月{cell.value.day}日"  # the cell's 年月日 format
    if isinstance(cell.value, float) and cell.value.is_integer():
        return str(int(cell.value))
    return str(cell.value)


def test_every_cell_is_readable_at_full_size(long_template):
    from toolkit.templates import line_height, lines_needed, text_width

    wb = open_book(long_template)
    ws = wb["七、交通"]
    checked = 0
    for row in ws.iter_rows():
        for cell in row:
            if cell.value in (None, "") or type(cell).__name__ == "MergedCell":
                continue
            text, size = _shown(cell), cell.font.sz or 10
            width = _span_width(ws, cell.row, cell.column)
            height = ws.row_dimensions[cell.row].height
            if cell.alignment.wrap_text:
                # wraps: the row grows by itself (no fixed height) or is tall enough for every line
                lines = lines_needed(text, width, size, bold=bool(cell.font.b))
                assert height is None or height >= lines * line_height(size) - 0.5, (cell.coordinate, text)
            else:
                assert width >= text_width(text, size, bold=bool(cell.font.b)), (cell.coordinate, text, width)
            checked += 1
    assert checked > 30
    date_cell = next(c for row in ws.iter_rows(max_row=2) for c in row if isinstance(c.value, datetime))
    assert _span_width(ws, date_cell.row, date_cell.column) >= text_width("2021年12月31日")
    for name in ("重点工作", "指标名称"):  # long registry text wraps in rows that grow
        long_cell = cell_of(ws, data_rows(ws)[0], name)
        assert long_cell.alignment.wrap_text and ws.row_dimensions[long_cell.row].height is None


def test_guide_is_set_to_print_on_one_page(long_template):
    ws = open_book(long_template)[GUIDE_SHEET]
    setup = ws.page_setup
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert (setup.fitToWidth or 1, setup.fitToHeight or 1) == (1, 1)  # 1 is OOXML's default, often left out
    assert setup.orientation == "portrait" and int(setup.paperSize) == 9
    assert ws.print_area


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext is not installed")
def test_printed_template_shows_the_date_and_the_guide_on_one_page(long_template, tmp_path):
    from office import convert

    pdf = convert([long_template], "pdf", tmp_path / "pdf", tmp_path / "lo")[0]
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True,
                           timeout=60).stdout.split("\f")
    assert "填报说明" in pages[0] and "自查" in pages[0]  # the guide's first and last lines on page 1
    assert "填报说明" not in "".join(pages[1:]) and "自查" not in "".join(pages[1:])
    rest = "".join(pages[1:])
    assert "2021年4月30日" in rest and "###" not in rest
    assert re.sub(r"\s", "", LONG_UNIT) in re.sub(r"\s", "", rest)
