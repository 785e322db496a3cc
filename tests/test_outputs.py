"""Tests for toolkit/outputs.py: reopen every output and check its structure, never bytes."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import zipfile
from collections import Counter
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from toolkit.findings import Code, Finding, catalogue, make
from toolkit.formatting import format_number
from toolkit.model import (
    LAGGING,
    TOTAL,
    Category,
    Indicator,
    Registry,
    ResultRow,
    Round,
    Settings,
    Submission,
    Unit,
)
from toolkit.outputs import (
    CSV_COLUMNS,
    LEDGER_COLUMNS,
    book,
    check_report,
    results_csv,
    sheet_name,
    text_width,
    write_check_report,
    write_ledger,
    write_results_csv,
    write_summary,
)
from toolkit.standing import Standing, build_standing

D = Decimal
GAP = "差距\n（百分点）"  # the 差距 header of the summary's sheets, with its unit
EVIL = ('=HYPERLINK("http://x","点击")', "=1+1", "@SUM(A1)", "+1", "-2-3")
WRITERS = {
    "summary": (write_summary, "汇总表_2021-04.xlsx"),
    "ledger": (write_ledger, "台账_2021-04.xlsx"),
    "check": (write_check_report, "校验报告_2021-04.xlsx"),
    "csv": (write_results_csv, "results.csv"),
}
XLSX = ("summary", "ledger", "check")


# -- a realistic round, built in code ---------------------------------------------------


def build_result(evil: bool = False) -> Standing:
    """Three categories, every indicator kind, a 合计 with a missing part, late/rejected files.

    With ``evil`` every free text, unit, indicator, category and file name is replaced by
    text a spreadsheet would run as a formula.
    """
    names = {
        "市科技局": "市科技局", "湖滨区": "湖滨区", "陕州区": "陕州区", "市人社局": "市人社局",
        "市发展改革委": "市发展改革委",
    }
    texts = iter([])
    if evil:
        names = dict(zip(names, EVIL, strict=True))
        texts = iter(EVIL * 20)

    def u(name: str) -> str:
        return names.get(name, name)

    def t(text: str) -> str:
        return next(texts, text)

    cats = ("=1+1", "@SUM(A1)", "-2-3") if evil else ("一、创新驱动", "二、供需协同", "四、生态保护")
    cat1, cat2, cat3 = cats
    title1 = EVIL[0] if evil else "一、深入实施创新驱动发展战略，奋力打造郑洛西高质量发展合作带重要支撑区"
    title2 = EVIL[3] if evil else "二、推动供需两端协同发力，促进经济平稳向好"
    title3 = EVIL[4] if evil else "四、全面加强环境保护和生态建设，打造黄河流域生态绿色一体化发展示范区"

    def ind(sheet, row, task_no, task, lead, code, name, kind, unit, target, reporters, *,
            co="", due=None, due_text="", decimals=2, by_unit=()):
        return Indicator(sheet=sheet, row=row, task_no=task_no, task=t(task), lead=u(lead), co=co,
                         code=code, name=t(name), kind=kind, unit=unit,
                         target=None if target is None else D(target), due=due, due_text=due_text,
                         reporters=tuple(u(r) for r in reporters), decimals=decimals,
                         targets_by_unit=tuple((u(n), D(v)) for n, v in by_unit))

    i11 = ind(cat1, 3, "1", "建设黄河金三角区域协同创新中心", "市科技局", "1-1", "科技型中小企业备案数",
              "累计", "家", "140", ["市科技局"])
    i12 = ind(cat1, 4, "2", "引进高层次人才", "市人社局", "1-2", "引进高层次人才", "累计", "名", "100",
              ["湖滨区", "陕州区"], co="湖滨区、陕州区", by_unit=[("湖滨区", "60"), ("陕州区", "40")])
    i13 = ind(cat1, 5, "1", "建设黄河金三角区域协同创新中心", "市科技局", "1-3", "出台协同创新中心实施意见",
              "节点", "", None, ["市科技局"], due=date(2021, 3, 31), due_text="3月底")
    i21 = ind(cat2, 3, "3", "深化放管服改革", "市发展改革委", "2-1", "审批事项办结率", "比率", "%", "90",
              ["市发展改革委"])
    i22 = ind(cat2, 4, "4", "稳定就业", "市人社局", "2-2", "城镇登记失业率", "上限", "%", "4.5",
              ["市人社局"])
    i23 = ind(cat2, 5, "5", "扩大有效投资", "市发展改革委", "2-3", "固定资产投资增速", "增速", "%", "10",
              ["市统计局"])
    i24 = ind(cat2, 6, "5", "扩大有效投资", "市发展改革委", "2-4", "新开工项目", "累计", "个", "400",
              ["市发展改革委"], decimals=1)
    i31 = ind(cat3, 3, "6", "推进生态修复", "市生态环境局", "3-1", "森林覆盖率", "下限", "%", "50",
              ["市生态环境局"])
    i32 = ind(cat3, 4, "7", "提升污水处理能力", "市住建局", "3-2", "城市污水处理率", "下限", "%", "95",
              ["市住建局"])
    i33 = ind(cat3, 5, "7", "提升污水处理能力", "市住建局", "3-3", "建成第二污水处理厂", "节点", "",
              None, ["市住建局"], due=date(2021, 12, 31), due_text="年底")
    registry = Registry(
        path=Path("master.xlsx"),
        settings=Settings(issuer="三门峡市政府督查室", title="《市政府工作报告》重点工作进展情况报告",
                          year=2021),
        units={n: Unit(f"{i:02d}", n) for i, n in enumerate(
            [u("市科技局"), u("市发展改革委"), u("市人社局"), u("湖滨区"), u("陕州区"), "市统计局",
             "市生态环境局", "市住建局"], start=1)},
        rounds=[Round("2021-04", date(2021, 4, 30), date(2021, 5, 8))],
        categories=[Category(cat1, title1, (i11, i12, i13)), Category(cat2, title2, (i21, i22, i23, i24)),
                    Category(cat3, title3, (i31, i32, i33))],
    )
    titles = {cat1: title1, cat2: title2, cat3: title3}
    tp = D("33.33")

    def row(indicator, unit, **kw):
        kw.setdefault("target", indicator.target_for(unit) if unit != TOTAL else indicator.target)
        return ResultRow(round="2021-04", category=indicator.sheet, category_title=titles[indicator.sheet],
                         indicator=indicator, unit=unit, **kw)

    rows = [
        row(i11, u("市科技局"), value=D("59"), last_year=D("64"), completion=D("42.14"), time_progress=tp,
            gap=D("8.81"), yoy=D("-7.81"), status="序时推进", progress=t("科技型中小企业已备案59家"),
            next_steps=t("继续做好备案服务")),
        row(i12, u("湖滨区"), value=D("19"), completion=D("31.67"), time_progress=tp, gap=D("-1.66"),
            status="滞后", progress=t("引进高层次人才19名"), problems=t("人才公寓建设滞后")),
        row(i12, u("陕州区"), status="未报送"),
        row(i12, TOTAL, value=D("19"), completion=D("19.00"), time_progress=tp, gap=D("-14.33"),
            status="滞后", missing_parts=(u("陕州区"),), is_total=True),
        row(i13, u("市科技局"), state="推进中", status="逾期", progress=t("已拟订征求意见稿"),
            problems=t("部门意见尚未反馈")),
        row(i21, u("市发展改革委"), value=D("1816"), base=D("2124"), ratio=D("85.50"), status="未达标",
            progress=t("已办结各类审批事项1816项")),
        row(i22, u("市人社局"), value=D("3.42"), status="达标"),
        row(i23, "市统计局", value=D("9.17"), gap=D("-0.83"), status="未达标", late=True,
            problems=t("重大项目投资进度偏慢")),
        row(i24, u("市发展改革委"), value=D("1089"), completion=D("272.3"), time_progress=D("33.3"),
            gap=D("239.0"), status="已完成"),
        row(i31, "市生态环境局", status="未报送"),
        row(i32, "市住建局", status="待更正"),
        row(i33, "市住建局", state="已完成", status="已完成", progress=t("主体工程已完工")),
    ]
    f_keji_old = f"01_{u('市科技局')}_2021-04.xlsx"
    f_keji = f"01_{u('市科技局')}_2021-04(1).xlsx"
    f_huabin = f"04_{u('湖滨区')}.xlsx"
    f_stats = "06_市统计局_2021-04.xlsx"
    f_env = "07_市生态环境局_2021-04.xlsx"
    f_unknown = EVIL[1] + ".xlsx" if evil else "新建 Microsoft Excel 工作表.xlsx"
    f_zjj = "08_市住建局_2021-04.xlsx"

    def sub(file, unit, received, **kw):
        return Submission(file=file, path=Path("inbox") / file, unit=unit, received=received, **kw)

    submissions = [
        sub(f_keji_old, u("市科技局"), datetime(2021, 5, 6, 9, 12), accepted=True, superseded=True),
        sub(f_keji, u("市科技局"), datetime(2021, 5, 7, 16, 40), accepted=True, notices=1),
        sub(f_huabin, u("湖滨区"), datetime(2021, 5, 7, 10, 5), accepted=True),
        sub("02_发改委.xlsx", u("市发展改革委"), datetime(2021, 5, 8, 11, 0), accepted=True),
        sub("03_人社局.xlsx", u("市人社局"), datetime(2021, 5, 6, 15, 30), accepted=True),
        sub(f_stats, "市统计局", datetime(2021, 5, 10, 8, 30), accepted=True, late=True, notices=1),
        sub(f_env, "市生态环境局", datetime(2021, 5, 7, 9, 0), reason="文件已加密，请取消密码后重新报送"),
        sub(f_unknown, "", datetime(2021, 5, 7, 9, 30), reason=t("无法识别为本室下发的报表")),
        sub(f_zjj, "市住建局", datetime(2021, 5, 8, 17, 0), accepted=True, errors=1),
    ]
    findings = [
        make(Code.W309, file=f_keji_old, unit=u("市科技局"), detail=f_keji),
        make(Code.W313, file=f_keji, unit=u("市科技局"), sheet=cat1, cell="H3", value="42.14%",
             detail="42.14"),
        make(Code.W308, file=f_stats, unit="市统计局", value="2021-05-10 08:30", detail="2021-05-08 24:00"),
        make(Code.F103, file=f_env, unit="市生态环境局"),
        make(Code.F110, file=f_unknown, detail="缺少模板标识"),
        make(Code.E202, file=f_zjj, unit="市住建局", sheet=cat3, cell="H4", column="本期完成",
             value="约95"),
    ]
    if evil:
        findings.append(Finding(code=Code.W311, file=EVIL[2], unit=u("湖滨区"), sheet=EVIL[3], cell=EVIL[4],
                                message=EVIL[0]))
    return build_standing(registry, registry.rounds[0], datetime(2021, 5, 13, 9, 0), time_progress=D(100) / 3,
                          time_progress_shown=tp, rows=rows, submissions=submissions, findings=findings)


def light(ws, c) -> str:
    """The fill colour (RRGGBB) a cell shows through the sheet's conditional formats on text, or ''.

    The status colours are conditional formats (not fixed fills), so a clerk who corrects a
    status by hand sees its colour follow; here the "equal to" rules are evaluated."""
    for cf in ws.conditional_formatting:
        if c.coordinate not in cf.sqref:
            continue
        for rule in cf.rules:
            if rule.type == "cellIs" and rule.operator == "equal" and rule.formula == [f'"{c.value}"']:
                fill = rule.dxf.fill
                return (fill.bgColor.rgb or fill.fgColor.rgb or "")[-6:]
    return ""


def restand(result: Standing, **changes) -> Standing:
    """The standing rebuilt from changed inputs (registry, rows, submissions, findings)."""
    return build_standing(changes.get("registry", result.registry), result.round, result.now,
                          time_progress=result.time_progress, time_progress_shown=result.time_progress_shown,
                          rows=list(changes.get("rows", result.rows)),
                          submissions=changes.get("submissions", result.submissions),
                          findings=changes.get("findings", result.findings))


@pytest.fixture(scope="module")
def result() -> Standing:
    return build_result()


@pytest.fixture(scope="module")
def written(result, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("output")
    return {key: writer(result, out) for key, (writer, _) in WRITERS.items()}


@pytest.fixture(scope="module")
def evil_written(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("evil")
    res = build_result(evil=True)
    return {key: writer(res, out) for key, (writer, _) in WRITERS.items()}


def load(path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(path)


def table(ws, header_row: int) -> list[dict[str, object]]:
    """The rows under ``header_row`` as dicts keyed by header (blank-key rows skipped)."""
    header = [c.value for c in ws[header_row]]
    rows = []
    for values in ws.iter_rows(min_row=header_row + 1, values_only=True):
        if any(v is not None for v in values):
            rows.append(dict(zip(header, values, strict=True)))
    return rows


def row_of(ws, text: str, column: int = 1) -> int:
    """The first row whose cell in ``column`` holds ``text``."""
    for r in range(1, ws.max_row + 1):
        if ws.cell(r, column).value == text:
            return r
    raise AssertionError(f"no {text!r} in column {column} of {ws.title}")


def find_row(ws, header_row: int, **match) -> int:
    header = [c.value for c in ws[header_row]]
    for r in range(header_row + 1, ws.max_row + 1):
        if all(ws.cell(r, header.index(k) + 1).value == v for k, v in match.items()):
            return r
    raise AssertionError(f"no row {match} in {ws.title}")


def cell(ws, header_row: int, r: int, column: str):
    header = [c.value for c in ws[header_row]]
    return ws.cell(r, header.index(column) + 1)


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


# -- helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize("value, text", [
    (D("85.50"), "85.50"), (D("272.3"), "272.3"), (D("-8"), "-8"), (D("-0.83"), "-0.83"),
    (D("1E+3"), "1000"), (D("0.0000001"), "0.0000001"), (D("-0.00"), "0.00"), (D("0"), "0"),
    (D("1816"), "1816"), (None, ""), (D("NaN"), ""), (D("Infinity"), ""),
])
def test_format_number(value, text):
    assert format_number(value) == text


@pytest.mark.parametrize("name, expected", [
    ("一、创新驱动", "一、创新驱动"),
    ("a[b]c:d*e?f/g\\h", "a_b_c_d_e_f_g_h"),
    ("一" * 40, "一" * 31),
    ("'引号'", "引号"),
    ("", "工作表"),
    ("History", "History_"),
])
def test_sheet_name_sanitised(name, expected):
    assert sheet_name(name, set()) == expected


def test_sheet_name_unique_case_insensitive():
    taken: set[str] = set()
    assert sheet_name("总览", taken) == "总览"
    assert sheet_name("总览", taken) == "总览(2)"
    assert sheet_name("Sheet", taken) == "Sheet"
    assert sheet_name("SHEET", taken) == "SHEET(2)"
    long = "长" * 31
    assert sheet_name(long, taken) == long
    assert sheet_name(long, taken) == "长" * 28 + "(2)"


@pytest.mark.parametrize("text, width", [
    ("abc", 3), ("市科技局", 8), ("１２", 4), ("a市\nbb市场", 6), ("", 0),
])
def test_text_width_counts_cjk_double(text, width):
    assert text_width(text) == width


# -- all writers ------------------------------------------------------------------------


@pytest.mark.parametrize("key", WRITERS)
def test_writer_names_file_and_leaves_no_temp(key, result, tmp_path):
    writer, name = WRITERS[key]
    path = writer(result, tmp_path)
    assert path == tmp_path / name and path.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    # A full file name is used as given; rewriting replaces the file in place.
    custom = tmp_path / ("自定义" + Path(name).suffix)
    assert writer(result, custom) == custom and custom.is_file()
    assert writer(result, custom) == custom
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("key", WRITERS)
def test_failed_write_keeps_old_file_and_removes_temp(key, result, tmp_path):
    writer, name = WRITERS[key]
    old = tmp_path / name
    old.write_bytes(b"old")
    # Not a ResultRow / Finding: the writer fails half way.
    broken = replace(result, rows=[*result.rows, object()], findings=[*result.findings, object()])
    with pytest.raises(AttributeError):
        writer(broken, tmp_path)
    assert old.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("key", WRITERS)
def test_empty_round_still_writes(key, result, tmp_path):
    empty = restand(result, rows=[], submissions=[], findings=[])
    path = WRITERS[key][0](empty, tmp_path)
    if key == "csv":
        assert path.read_text(encoding="utf-8-sig").splitlines() == [",".join(CSV_COLUMNS)]
    else:
        assert load(path).sheetnames


@pytest.mark.parametrize("key", XLSX)
def test_control_characters_and_ampersands_are_harmless(key, result, tmp_path):
    registry = replace(result.registry, settings=replace(result.registry.settings,
                                                         title="A&B\x07报告", issuer="督查室&\x01"))
    rows = [replace(r, progress="进展\x02情况&<b>") for r in result.rows]
    wb = load(WRITERS[key][0](restand(result, registry=registry, rows=rows), tmp_path))
    assert wb.sheetnames


@pytest.mark.parametrize("key", XLSX)
def test_workbooks_hold_no_formulas(key, written):
    wb = load(written[key])
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{ws.title}!{c.coordinate} holds a formula"


@pytest.mark.parametrize("key", XLSX)
def test_injection_texts_stay_literal_text(key, evil_written):
    wb = load(evil_written[key])
    seen: Counter[str] = Counter()
    for ws in wb.worksheets:
        assert not ws._hyperlinks
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{ws.title}!{c.coordinate} holds a formula: {c.value!r}"
                if isinstance(c.value, str):
                    seen[c.value] += 1
    for text in EVIL:
        assert seen[text], f"{text!r} not written literally to {key}"


def test_injection_texts_neutralised_in_csv(evil_written):
    rows = read_csv(evil_written["csv"])
    for r in rows:
        for column in ("类别", "指标名称", "单位名称"):
            assert not r[column].startswith(("=", "+", "-", "@")), r[column]
    names = {r["单位名称"] for r in rows}
    assert {"'" + text for text in EVIL} <= names
    cats = {r["类别"] for r in rows}
    assert cats == {"'=1+1", "'@SUM(A1)", "'-2-3"}
    # Negative numbers in numeric columns stay plain numbers.
    by_code = {r["指标编号"]: r for r in rows if r["单位名称"] != "合计"}
    assert by_code["2-3"]["差距"] == "-0.83"
    assert by_code["1-1"]["同比"] == "-7.81"


# -- 汇总表 -----------------------------------------------------------------------------


def test_summary_sheets(written):
    wb = load(written["summary"])
    assert wb.sheetnames == ["总览", "滞后事项", "报送情况", "单位排名", "趋势", "一、创新驱动", "二、供需协同",
                             "四、生态保护"]
    assert wb.active.title == "总览"


def test_summary_overview_counts(written, result):
    ws = load(written["summary"])["总览"]
    assert "汇总表" in ws["A1"].value
    labels = {ws.cell(r, 1).value: ws.cell(r, 2) for r in range(4, 8)}
    assert labels["统计截止日期"].value == datetime(2021, 4, 30)
    assert labels["序时进度"].value == 33.33 and labels["序时进度"].number_format.startswith("0.00")
    facts = {ws.cell(r, 6).value: ws.cell(r, 9).value for r in range(4, 8)}
    assert facts == {"应报单位数": 8, "按时报送": 5, "逾期报送": 1, "未报送（含空表、被拒收）": 2}

    rows = {r["类别"]: r for r in table(ws, row_of(ws, "类别"))[:4]}
    assert list(rows) == ["一、创新驱动", "二、供需协同", "四、生态保护", "合计"]
    headline = result.headline
    for cat in ("一、创新驱动", "二、供需协同", "四、生态保护"):
        expected = Counter(r.status for r in headline if r.category == cat)
        got = {k: v for k, v in rows[cat].items() if k not in ("类别", "指标数") and v}
        assert got == dict(expected)
        assert rows[cat]["指标数"] == sum(expected.values())
    total = rows["合计"]
    assert total["指标数"] == len(headline) == 10
    assert total["滞后"] == 1 and total["未达标"] == 2 and total["逾期"] == 1 and total["未报送"] == 1
    for status in ("已完成", "序时推进", "滞后", "达标", "未达标", "逾期", "推进中", "未启动", "未报送"):
        assert total[status] == sum(rows[c][status] for c in rows if c != "合计")


def test_summary_has_native_charts(written):
    ws = load(written["summary"])["总览"]
    kinds = sorted(type(chart).__name__ for chart in ws._charts)
    assert kinds == ["BarChart", "DoughnutChart"]


def test_summary_lagging_sheet(written):
    ws = load(written["summary"])["滞后事项"]
    rows = table(ws, 2)[:4]  # the note under the table follows
    # worst first: 逾期, then 滞后, then 未达标, each by 差距 (rows without one last)
    assert [(r["指标名称"], r["状态"]) for r in rows] == [
        ("出台协同创新中心实施意见", "逾期"), ("引进高层次人才", "滞后"), ("固定资产投资增速", "未达标"),
        ("审批事项办结率", "未达标"),
    ]
    assert all(r["状态"] in LAGGING for r in rows)
    assert list(rows[0])[:4] == ["类别", "任务编号", "指标名称", "牵头单位"]
    r = find_row(ws, 2, 指标名称="审批事项办结率")
    rate = cell(ws, 2, r, "本期完成")  # a rate row shows its rate, not its count
    assert rate.value == 85.5 and rate.number_format.startswith("#,##0.00")
    assert cell(ws, 2, r, "完成率").value is None
    r = find_row(ws, 2, 指标名称="出台协同创新中心实施意见")
    assert cell(ws, 2, r, "本期完成").value == "推进中"
    assert cell(ws, 2, r, "完成时限").value == "3月底"
    r = find_row(ws, 2, 指标名称="引进高层次人才")
    assert cell(ws, 2, r, GAP).value == -14.33
    assert cell(ws, 2, r, "本期完成").number_format in ("#,##0", "0")


def test_summary_submission_sheet(written):
    ws = load(written["summary"])["报送情况"]
    rows = table(ws, 2)
    states = {r["单位名称"]: r["状态"] for r in rows}
    assert states == {
        "市科技局": "按时报送", "市发展改革委": "按时报送", "市人社局": "按时报送", "湖滨区": "按时报送",
        "陕州区": "未报送", "市统计局": "逾期报送", "市生态环境局": "被拒收", "市住建局": "按时报送",
        "（未能识别单位）": "被拒收",
    }
    by_unit = {r["单位名称"]: r for r in rows}
    assert by_unit["市科技局"]["文件"] == "01_市科技局_2021-04(1).xlsx"  # the later, accepted file
    assert by_unit["市科技局"]["提示数"] == 1
    assert by_unit["市科技局"]["收到时间"] == datetime(2021, 5, 7, 16, 40)
    assert by_unit["市住建局"]["错误数"] == 1
    assert by_unit["陕州区"]["文件"] is None and by_unit["陕州区"]["收到时间"] is None
    assert "加密" in by_unit["市生态环境局"]["说明"]


def test_summary_category_sheet_total_then_indented_units(written):
    ws = load(written["summary"])["一、创新驱动"]
    assert ws["A1"].value.startswith("一、深入实施创新驱动发展战略")
    rows = table(ws, 2)
    assert [(r["指标名称"], r["单位名称"]) for r in rows] == [
        ("科技型中小企业备案数", "市科技局"), ("引进高层次人才", "合计"), (None, "湖滨区"), (None, "陕州区"),
        ("出台协同创新中心实施意见", "市科技局"),
    ]
    total = find_row(ws, 2, 单位名称="合计")
    assert cell(ws, 2, total, "备注").value == "缺：陕州区"
    assert cell(ws, 2, total, "单位名称").font.b
    for r in (total + 1, total + 2):
        assert cell(ws, 2, r, "单位名称").alignment.indent == 1
        assert ws.row_dimensions[r].outlineLevel == 1
    part = cell(ws, 2, total + 1, "完成率")
    assert part.value == 31.67 and part.number_format.startswith("0.00")
    assert cell(ws, 2, total + 1, "存在问题").value == "人才公寓建设滞后"


def test_summary_one_decimal_row_keeps_its_places(written):
    ws = load(written["summary"])["二、供需协同"]
    r = find_row(ws, 2, 指标名称="新开工项目")
    rate = cell(ws, 2, r, "完成率")
    assert rate.value == 272.3
    assert rate.number_format.startswith("0.0") and not rate.number_format.startswith("0.00")
    assert cell(ws, 2, r, "本期完成").value == 1089


@pytest.mark.parametrize("status, fill", [
    ("已完成", "C6EFCE"), ("达标", "C6EFCE"), ("序时推进", "E2EFDA"), ("滞后", "FFEB9C"),
    ("未达标", "FFEB9C"), ("逾期", "FFC7CE"), ("未报送", "D9D9D9"), ("待更正", "D9D9D9"),
])
def test_status_cells_coloured(written, status, fill):
    wb = load(written["summary"])
    for ws in wb.worksheets[5:]:
        for r in range(3, ws.max_row + 1):
            c = cell(ws, 2, r, "状态")
            if c.value == status:
                assert light(ws, c) == fill
                assert c.fill.patternType is None  # no fixed fill: the colour follows the value
                return
    raise AssertionError(f"no {status} cell")


@pytest.mark.parametrize("sheet, header_row", [
    ("滞后事项", 2), ("报送情况", 2), ("一、创新驱动", 2), ("二、供需协同", 2), ("四、生态保护", 2),
])
def test_summary_list_sheets_print_well(written, sheet, header_row):
    ws = load(written["summary"])[sheet]
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    # one page wide and as many pages tall as it takes: never squeezed onto one page (5 pt print)
    assert int(ws.page_setup.fitToWidth or 1) == 1 and int(ws.page_setup.fitToHeight) == 0
    assert ws.print_title_rows == f"1:{header_row}" or ws.print_title_rows == f"$1:${header_row}"
    assert ws.oddFooter.center.text == "第 &P 页 共 &N 页"
    assert ws.freeze_panes.endswith(str(header_row + 1))
    assert ws.auto_filter.ref.startswith("A2")
    assert ws.column_dimensions["A"].width > 0


def test_overview_prints_on_one_landscape_a4_page(written):
    ws = load(written["summary"])["总览"]
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9
    # the words, the table and the charts on one page: fit to one page wide and tall
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert int(ws.page_setup.fitToWidth or 1) == 1 and int(ws.page_setup.fitToHeight or 1) == 1
    assert not ws.row_breaks.brk
    assert ws.oddFooter.center.text == "第 &P 页 共 &N 页"
    # the print area reaches down to the charts' bottom
    last_row = int(re.search(r"\$(\d+)$", ws.print_area.split(",")[0]).group(1))
    chart_rows = [c.anchor._from.row for c in ws._charts]
    assert chart_rows and max(chart_rows) < last_row


def test_overview_charts_stay_readable_with_many_categories(result, tmp_path):
    cats = [Category(f"类别{i}", f"类别{i}", ()) for i in range(14)]
    big = restand(result, registry=replace(result.registry, categories=result.registry.categories + cats))
    ws = load(write_summary(big, tmp_path))["总览"]
    assert ws.sheet_properties.pageSetUpPr.fitToPage and not ws.row_breaks.brk
    table_rows = [r for r in range(1, ws.max_row + 1) if str(ws.cell(r, 1).value or "").startswith("类别")]
    assert len(table_rows) == 15  # the header and one row per category, all on the page


def test_wrapped_text_rows_are_tall_enough(result, tmp_path):
    long = "；".join(["项目前期手续办理进度慢，资金到位率低"] * 4)
    rows = [replace(r, progress=long) if r.indicator.code == "1-1" else r for r in result.rows]
    ws = load(write_summary(restand(result, rows=rows), tmp_path))["一、创新驱动"]
    r = find_row(ws, 2, 指标名称="科技型中小企业备案数")
    assert cell(ws, 2, r, "进展情况").value == long
    assert cell(ws, 2, r, "进展情况").alignment.wrap_text
    assert ws.row_dimensions[r].height >= 3 * 13.5


def test_column_widths_fit_chinese(written):
    ws = load(written["summary"])["报送情况"]
    # 市生态环境局 is 6 CJK characters = 12 units; the column must be wider than that.
    assert ws.column_dimensions["A"].width >= 12


def test_overview_first_page_names_what_needs_attention(written):
    ws = load(written["summary"])["总览"]
    header = row_of(ws, "类别")
    points = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(9, header)
              if ws.cell(r, 1).value}
    assert list(points) == ["需关注事项", "最需关注", "报送情况", "数据待更正"]
    assert points["需关注事项"].startswith("共4项：逾期1项、滞后1项、未达标2项")
    # the worst named first, in the order of the 滞后事项 sheet, each with how far it is off
    assert points["最需关注"].splitlines() == [
        "①出台协同创新中心实施意见（市科技局）：逾期，完成时限3月底，目前推进中",
        "②引进高层次人才（市人社局）：完成19.00%，低于序时进度14.33个百分点",
        "③固定资产投资增速（市发展改革委）：未达标，本期9.17%，目标10%",
    ]
    assert points["报送情况"] == ("应报8个单位，按时报送5个；逾期报送1个：市统计局；未报送1个：陕州区；"
                              "被拒收1个：市生态环境局。")
    assert points["数据待更正"] == "1项数据有误未计入，已反馈相关单位更正：市住建局。"
    # written as text, wrapped, and the rows tall enough for their lines
    r = row_of(ws, "最需关注")
    assert ws.cell(r, 2).data_type == "s" and ws.cell(r, 2).alignment.wrap_text
    assert ws.row_dimensions[r].height >= 3 * 13.5
    assert f"B{r}:" in " ".join(str(m) for m in ws.merged_cells.ranges)
    # all of it on the one printed page
    assert not ws.row_breaks.brk


def test_overview_says_when_nothing_lags(result, tmp_path):
    calm = [replace(r, status="序时推进") if r.status in LAGGING else r for r in result.rows]
    names = [u.name for u in result.expected_units()]
    everyone = restand(result, rows=calm, findings=[], submissions=[
        Submission(file=f"{u}.xlsx", path=Path(f"{u}.xlsx"), unit=u, accepted=True,
                   received=datetime(2021, 5, 7, 9)) for u in names])
    ws = load(write_summary(everyone, tmp_path))["总览"]
    points = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(9, row_of(ws, "类别"))
              if ws.cell(r, 1).value}
    assert points["需关注事项"] == "本轮无逾期、滞后或未达标事项。"
    assert "最需关注" not in points
    assert points["报送情况"] == "应报8个单位，按时报送8个。"
    ws = load(write_summary(everyone, tmp_path))["滞后事项"]
    assert ws["A3"].value == "本轮无滞后、未达标或逾期事项"


def _lag(result, code, **kw):
    row = next(r for r in result.rows if r.indicator.code == code and (r.is_total or code != "1-2"))
    return replace(row, **kw)


def test_lagging_rows_worst_first(result):
    i13 = next(r for r in result.rows if r.indicator.code == "1-3")
    early = replace(i13, indicator=replace(i13.indicator, code="1-3a", due=date(2021, 2, 28),
                                           name="早已逾期"))
    rows = [
        _lag(result, "1-1", status="滞后", gap=D("-2.00"), completion=D("31.33")),
        _lag(result, "2-1", status="未达标"),  # a 比率 row: no 差距
        _lag(result, "2-3", status="未达标", gap=D("-3.10")),
        i13,  # 逾期, due 2021-03-31
        _lag(result, "2-4", status="滞后", gap=D("-20.0"), completion=D("13.3")),
        early,  # 逾期, due 2021-02-28: longer overdue
        _lag(result, "2-2", status="未达标", gap=D("-0.50")),
        _lag(result, "1-1", status="序时推进"),  # not lagging at all
    ]
    order = [(item.row.indicator.code, item.row.status) for item in restand(result, rows=rows).lagging]
    assert order == [("1-3a", "逾期"), ("1-3", "逾期"), ("2-4", "滞后"), ("1-1", "滞后"),
                     ("2-3", "未达标"), ("2-2", "未达标"), ("2-1", "未达标")]


def test_lagging_sheet_title_note_and_remarks(written):
    ws = load(written["summary"])["滞后事项"]
    assert ws["A1"].value == "滞后事项（截至2021年4月30日，序时进度33.33%；逾期1项、滞后1项、未达标2项）"
    r = find_row(ws, 2, 指标名称="引进高层次人才")
    # a 合计 names the units pulling it down and the parts still missing
    assert cell(ws, 2, r, "备注").value == "其中滞后：湖滨区；缺：陕州区"
    r = find_row(ws, 2, 指标名称="固定资产投资增速")
    assert cell(ws, 2, r, "备注").value == "逾期报送"
    note = ws.cell(7, 1).value
    assert note.startswith("说明：按逾期、滞后、未达标的顺序排列") and "百分点" in note
    assert ws.auto_filter.ref == "A2:N6"  # the note is not part of the filtered list


@pytest.mark.parametrize("sheet", ["滞后事项", "一、创新驱动"])
def test_gap_header_names_its_unit_and_fits(written, sheet):
    ws = load(written["summary"])[sheet]
    c = [c.value for c in ws[2]].index(GAP) + 1
    letter = openpyxl.utils.get_column_letter(c)
    assert ws.column_dimensions[letter].width >= text_width("（百分点）") + 1


def test_header_broken_by_hand_asks_for_its_longest_line():
    assert book._header_width("差距\n（百分点）") == 10
    assert book._header_width("完成率/比率") == 6


def test_words_in_number_columns_are_centred(written):
    ws = load(written["summary"])["一、创新驱动"]
    r = find_row(ws, 2, 指标名称="出台协同创新中心实施意见")
    assert cell(ws, 2, r, "本期完成").value == "推进中"
    assert cell(ws, 2, r, "本期完成").alignment.horizontal == "center"
    r = find_row(ws, 2, 指标名称="科技型中小企业备案数")
    assert cell(ws, 2, r, "本期完成").alignment.horizontal != "center"


def _uneven(result):
    """引进高层次人才 with figures of uneven decimals, as units type them."""
    values = {"湖滨区": (D("8.5"), D("5.62")), "陕州区": (D("5.25"), D("3.4")), TOTAL: (D("13.75"), D("9.0200"))}
    rows = []
    for r in result.rows:
        if r.indicator.code == "1-2":
            target, value = values[r.unit]
            r = replace(r, target=target, value=value, status="滞后" if r.is_total else r.status)
        rows.append(r)
    return restand(result, rows=rows)


def test_figures_of_one_indicator_line_up(result, tmp_path):
    ws = load(write_summary(_uneven(result), tmp_path))["一、创新驱动"]
    total = find_row(ws, 2, 单位名称="合计")
    for r in (total, total + 1, total + 2):
        assert cell(ws, 2, r, "年度目标").number_format == "#,##0.00"
    # 5.62 and 3.40 line up; 9.0200 keeps the places it was given
    assert cell(ws, 2, total + 2, "本期完成").value == 3.4
    assert cell(ws, 2, total + 2, "本期完成").number_format == "#,##0.00"
    assert cell(ws, 2, total, "本期完成").number_format == "#,##0.0000"
    # other indicators are untouched
    r = find_row(ws, 2, 指标名称="科技型中小企业备案数")
    assert cell(ws, 2, r, "本期完成").number_format == "#,##0"
    ws = load(write_ledger(_uneven(result), tmp_path))["一、创新驱动"]
    r = find_row(ws, 2, 指标编号="1-2", 单位名称="陕州区")
    assert cell(ws, 2, r, "本期完成").number_format == "#,##0.00"
    assert cell(ws, 2, r, "年度目标").number_format == "#,##0.00"


def test_ratio_row_names_its_base(written):
    ws = load(written["summary"])["二、供需协同"]
    r = find_row(ws, 2, 指标名称="审批事项办结率")
    assert cell(ws, 2, r, "本期完成").value == 85.5  # the rate, under 计量单位 %
    assert cell(ws, 2, r, "备注").value == "1,816/2,124"  # with the count and its base beside it


def _chart_xml(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        names = sorted(n for n in z.namelist() if n.startswith("xl/charts/chart"))
        return [z.read(n).decode("utf-8") for n in names]


def test_overview_charts_readable(written):
    bar, doughnut = _chart_xml(written["summary"])
    # categories read sideways, first on top, every one named, the count axis at the bottom
    assert '<c:barDir val="bar"/>' in bar and '<c:grouping val="stacked"/>' in bar
    assert '<c:orientation val="maxMin"/>' in bar and '<c:tickLblSkip val="1"/>' in bar
    assert '<c:crosses val="max"/>' in bar
    assert "指标数（项）" in bar
    # each series coloured as its status (the colours of the cells, stronger)
    names = re.findall(r"<c:tx><c:strRef><c:f>[^<]*</c:f><c:strCache><c:ptCount val=\"1\"/><c:pt idx=\"0\">"
                       r"<c:v>([^<]*)</c:v>", bar)
    fills = re.findall(r'<c:spPr><a:solidFill><a:srgbClr val="([0-9A-F]{6})"/>', bar)
    assert names and len(fills) >= len(names)
    for name, fill in zip(names, fills, strict=False):
        assert "#" + fill == book._CHART_COLOURS[name].upper()
    # the doughnut's legend names every status with its count and share; small slices carry
    # no label on the ring, where labels would overlap
    assert re.search(r"<c:cat><c:strRef><c:f>总览!\$D\$\d+:\$D\$\d+</c:f>", doughnut)
    assert "逾期 1项 10.00%" in doughnut
    assert '<c:delete val="1"/></c:dLbl>' not in doughnut  # every slice here is 10% or more


def test_overview_small_slices_lose_their_ring_label(result, tmp_path):
    many = [replace(r, indicator=replace(r.indicator, code=f"{r.indicator.code}-{i}"))
            for i in range(5) for r in result.rows if r.status == "序时推进"]
    ws_path = write_summary(restand(result, rows=[*result.rows, *many * 4]), tmp_path)
    _, doughnut = _chart_xml(ws_path)
    deleted = re.findall(r'<c:dLbl><c:idx val="(\d+)"/><c:delete val="1"/></c:dLbl>', doughnut)
    ws = load(ws_path)["总览"]
    top = row_of(ws, "图例", 4)
    small = [i for i, r in enumerate(range(top + 1, ws.max_row + 1)) if ws.cell(r, 3).value < 5]
    assert small and [int(i) for i in deleted] == small


def test_not_reported_unit_says_since_when(written):
    rows = {r["单位名称"]: r for r in table(load(written["summary"])["报送情况"], 2)}
    assert rows["陕州区"]["说明"] == "截至2021年5月13日未收到报表"


def test_long_list_prints_on_many_pages(result, tmp_path):
    units = [f"单位{i:03d}" for i in range(120)]
    registry = replace(result.registry, units={n: Unit(f"X{i}", n) for i, n in enumerate(units)},
                       categories=[replace(result.registry.categories[0], indicators=tuple(
                           replace(ind, reporters=tuple(units)) for ind in result.registry.categories[0].indicators))])
    big = restand(result, registry=registry, submissions=[], findings=[])
    ws = load(write_summary(big, tmp_path))["报送情况"]
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert int(ws.page_setup.fitToHeight) == 0  # as many pages as it takes, one page wide
    assert ws.print_title_rows in ("1:2", "$1:$2")


# -- 台账 -------------------------------------------------------------------------------


def test_ledger_sheets_and_columns(written):
    wb = load(written["ledger"])
    assert wb.sheetnames == ["一、创新驱动", "二、供需协同", "四、生态保护"]
    for ws in wb.worksheets:
        assert tuple(c.value for c in ws[2]) == LEDGER_COLUMNS
        assert int(ws.page_setup.paperSize) == 8 and ws.page_setup.orientation == "landscape"
        assert ws.freeze_panes == "A3"
        assert ws.auto_filter.ref.startswith("A2")


def test_ledger_has_every_row(written, result):
    wb = load(written["ledger"])
    for ws in wb.worksheets:
        got = [(r["指标编号"], r["单位名称"]) for r in table(ws, 2)]
        expected = [(r.indicator.code, r.unit) for r in result.rows_in(ws.title)]
        assert sorted(got) == sorted(expected)
        codes = {c for c, _ in got}
        assert codes == {ind.code for ind in result.registry.category(ws.title).indicators}


def test_ledger_values_and_texts(written):
    ws = load(written["ledger"])["一、创新驱动"]
    r = find_row(ws, 2, 指标编号="1-2", 单位名称="合计")
    assert cell(ws, 2, r, "备注").value == "缺：陕州区"
    assert cell(ws, 2, r, "完成率").value == 19
    assert cell(ws, 2, r, "完成率").number_format.startswith("0.00")
    assert cell(ws, 2, r, "配合单位").value == "湖滨区、陕州区"
    r = find_row(ws, 2, 指标编号="1-2", 单位名称="湖滨区")
    assert cell(ws, 2, r, "年度目标").value == 60
    assert cell(ws, 2, r, "存在问题").value == "人才公寓建设滞后"
    r = find_row(ws, 2, 指标编号="1-3")
    assert cell(ws, 2, r, "完成状态").value == "推进中"
    assert cell(ws, 2, r, "完成时限").value == "3月底"
    assert cell(ws, 2, r, "指标类型").value == "节点"
    r = find_row(ws, 2, 指标编号="1-1")
    assert cell(ws, 2, r, "同比").value == -7.81
    assert cell(ws, 2, r, "下步打算").value == "继续做好备案服务"
    ws = load(written["ledger"])["二、供需协同"]
    r = find_row(ws, 2, 指标编号="2-1")
    assert cell(ws, 2, r, "比率").value == 85.5 and cell(ws, 2, r, "完成率").value is None
    assert cell(ws, 2, r, "基数").value == 2124
    r = find_row(ws, 2, 指标编号="2-3")
    assert cell(ws, 2, r, "备注").value == "逾期报送"


# -- 校验报告 ---------------------------------------------------------------------------


def test_check_report_summary(written):
    wb = load(written["check"])
    assert wb.sheetnames == ["汇总", "问题清单", "任务台账", "代码说明"]
    ws = wb["汇总"]
    assert ws["A1"].value == "校验报告（2021-04）：收到文件9个，接受7个，拒收2个；错误1处，提示3处"
    rows = {r["单位"]: r for r in table(ws, 2)}
    assert [c.value for c in ws[2]] == ["单位", "需办理", "收到文件数", "接受", "拒收", "错误数", "提示数",
                                        "收到的文件", "说明"]
    assert (rows["市科技局"]["收到文件数"], rows["市科技局"]["接受"], rows["市科技局"]["提示数"]) == (2, 2, 2)
    assert (rows["市生态环境局"]["拒收"], rows["市生态环境局"]["接受"]) == (1, 0)
    assert rows["市住建局"]["错误数"] == 1
    assert rows["陕州区"]["收到文件数"] == 0 and rows["陕州区"]["说明"] == "未收到报表"
    assert rows["（未能识别单位）"]["拒收"] == 1
    assert rows["合计"]["收到文件数"] == 9 and rows["合计"]["拒收"] == 2


def test_check_report_findings(written, result):
    ws = load(written["check"])["问题清单"]
    assert ws["A1"].value == "问题清单：共6条（拒收2条、错误1条、提示3条）"
    assert [c.value for c in ws[2]] == ["单位", "收到的文件名", "工作表", "单元格", "代码", "级别", "说明"]
    rows = table(ws, 2)
    assert len(rows) == len(result.findings)
    by_code = {f.code.name: f for f in result.findings}
    for got in rows:
        f = by_code[got["代码"]]
        assert got["收到的文件名"] == f.file  # the name as received, so the clerk can find the mail
        assert (got["工作表"] or "", got["单元格"] or "", got["级别"]) == (f.sheet, f.cell, f.level.value)
        assert got["说明"] and got["说明"] in f.message
    assert {r["级别"] for r in rows} == {"拒收", "错误", "提示"}
    assert ws.freeze_panes == "B3" and ws.auto_filter.ref.startswith("A2")
    colours = {}
    for r in range(3, ws.max_row + 1):
        c = cell(ws, 2, r, "级别")
        colours[c.value] = light(ws, c)
    assert colours == {"拒收": "FFC7CE", "错误": "FFEB9C", "提示": "DDEBF7"}


def test_check_report_catalogue(written):
    ws = load(written["check"])["代码说明"]
    rows = table(ws, 2)
    assert rows == catalogue()


def test_check_report_tells_the_clerk_what_to_do(written):
    ws = load(written["check"])["汇总"]
    rows = {r["单位"]: r for r in table(ws, 2)}
    actions = {name: r["需办理"] for name, r in rows.items() if name != "合计"}
    assert actions == {
        "市科技局": "核对提示", "市发展改革委": "无", "市人社局": "无", "湖滨区": "无", "陕州区": "催报",
        "市统计局": "无", "市生态环境局": "通知重报", "市住建局": "通知更正", "（未能识别单位）": "通知重报",
    }
    # every file as received, in the order received, and which one counts
    assert rows["市科技局"]["收到的文件"] == "01_市科技局_2021-04.xlsx（已被替代）\n01_市科技局_2021-04(1).xlsx"
    assert rows["市科技局"]["说明"] == "以“01_市科技局_2021-04(1).xlsx”为准"
    assert rows["市生态环境局"]["收到的文件"] == "07_市生态环境局_2021-04.xlsx（拒收）"
    r = find_row(ws, 2, 单位="市住建局")
    assert light(ws, cell(ws, 2, r, "需办理")) == "FFEB9C"
    assert cell(ws, 2, r, "收到的文件").alignment.wrap_text
    assert ws.freeze_panes == "B3" and ws.auto_filter.ref.startswith("A2")


def test_findings_grouped_by_unit_then_level(result, tmp_path):
    extra = [make(Code.E201, file="04_湖滨区.xlsx", unit="湖滨区", sheet="一、创新驱动", cell="H4",
                  column="本期完成"),
             make(Code.W311, file="04_湖滨区.xlsx", unit="湖滨区", sheet="一、创新驱动", cell="H3")]
    # shuffled: a notice before an error, units out of registry order
    findings = [result.findings[5], extra[1], result.findings[4], *result.findings[:4], extra[0]]
    ws = load(write_check_report(restand(result, findings=findings), tmp_path))["问题清单"]
    got = [(r["单位"], r["级别"], r["代码"]) for r in table(ws, 2)]
    assert got == [
        ("市科技局", "提示", "W309"), ("市科技局", "提示", "W313"),
        ("湖滨区", "错误", "E201"), ("湖滨区", "提示", "W311"),
        ("市统计局", "提示", "W308"), ("市生态环境局", "拒收", "F103"), ("市住建局", "错误", "E202"),
        ("（未能识别单位）", "拒收", "F110"),
    ]


def test_finding_text_drops_the_location_the_columns_show():
    f = make(Code.E202, file="a.xlsx", unit="湖滨区", sheet="一、创新驱动", cell="H4", column="本期完成",
             value="约95")
    assert f.message.startswith("文件“a.xlsx”工作表“一、创新驱动”单元格 H4：")
    assert check_report._finding_text(f) == "“本期完成”不是数字：约95。请只填写数字，例如 59 或 42.5。"
    assert check_report._finding_text(make(Code.F103)) == make(Code.F103).message
    odd = Finding(code=Code.W311, file="=1+1", message="=HYPERLINK(1)")
    assert check_report._finding_text(odd) == "=HYPERLINK(1)"


# -- results.csv ------------------------------------------------------------------------


def test_csv_header_bom_and_rows(written, result):
    raw = written["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(written["csv"], encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == CSV_COLUMNS
    assert ",".join(header) == "轮次,类别,任务编号,指标编号,指标名称,单位名称,计量单位,年度目标,本期完成,基数,上年同期,完成率,序时进度,差距,同比,状态"  # noqa: E501
    rows = read_csv(written["csv"])
    assert [(r["指标编号"], r["单位名称"]) for r in rows] == [(r.indicator.code, r.unit) for r in result.rows]


@pytest.mark.parametrize("code, unit, column, text", [
    ("1-1", "市科技局", "完成率", "42.14"),
    ("1-1", "市科技局", "同比", "-7.81"),
    ("1-2", "合计", "完成率", "19.00"),
    ("1-2", "合计", "差距", "-14.33"),
    ("1-2", "湖滨区", "年度目标", "60"),
    ("1-2", "陕州区", "本期完成", ""),
    ("1-2", "陕州区", "状态", "未报送"),
    ("2-1", "市发展改革委", "完成率", "85.50"),
    ("2-1", "市发展改革委", "基数", "2124"),
    ("2-3", "市统计局", "差距", "-0.83"),
    ("2-4", "市发展改革委", "完成率", "272.3"),
    ("2-4", "市发展改革委", "序时进度", "33.3"),
    ("1-3", "市科技局", "本期完成", ""),
    ("1-3", "市科技局", "状态", "逾期"),
    ("1-1", "市科技局", "类别", "一、创新驱动"),
    ("1-1", "市科技局", "轮次", "2021-04"),
])
def test_csv_values(written, code, unit, column, text):
    rows = {(r["指标编号"], r["单位名称"]): r for r in read_csv(written["csv"])}
    assert rows[(code, unit)][column] == text


def test_csv_negative_numbers_not_quoted(written):
    content = written["csv"].read_text(encoding="utf-8-sig")
    assert ",-0.83," in content and "'-" not in content


@pytest.mark.parametrize("text, safe", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-2-3", "'-2-3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("-8", "-8"), ("-0.83", "-0.83"), ("市科技局", "市科技局"), ("", ""),
])
def test_csv_text_neutralised(text, safe):
    assert results_csv._csv_text(text) == safe


# -- LibreOffice opens every workbook ---------------------------------------------------


@pytest.fixture(scope="module")
def converted(written, evil_written, tmp_path_factory) -> dict[str, tuple[Path, str]]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        pytest.skip("LibreOffice (soffice) is not installed")
    tmp = tmp_path_factory.mktemp("lo")
    sources = {}
    for prefix, files in (("", written), ("evil_", evil_written)):
        for key in XLSX:
            src = tmp / f"{prefix}{key}.xlsx"
            shutil.copy(files[key], src)
            sources[prefix + key] = src
    proc = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp}/lo", "--headless", "--convert-to",
         "csv:Text - txt - csv (StarCalc):44,34,76,1", "--outdir", str(tmp), *map(str, sources.values())],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return {key: (src.with_suffix(".csv"), proc.stderr) for key, src in sources.items()}


@pytest.mark.parametrize("key, expected", [
    ("summary", "汇总表"), ("ledger", "深入实施创新驱动发展战略"), ("check", "市生态环境局"),
    ("evil_summary", "汇总表"), ("evil_ledger", '=HYPERLINK("http://x","点击")'), ("evil_check", "=1+1"),
])
def test_libreoffice_opens_workbook(converted, key, expected):
    csv_path, stderr = converted[key]
    assert csv_path.is_file(), stderr
    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert rows and any(expected in value for row in rows for value in row)
    assert "Error" not in stderr


# -- 单位排名, status lights, one printed page -------------------------------------------------


def test_ranking_sheet_orders_units_as_an_office_circulates_it(written, result):
    ws = load(written["summary"])["单位排名"]
    assert "排名" in ws["A1"].value
    rows = table(ws, 2)
    got = [(r["名次"], r["单位名称"], r["报送情况"], r["滞后未达标\n逾期项数"], r["待更正\n数据项数"])
           for r in rows if r["单位名称"]]
    assert got == [
        # on time: fewest lagging items, then fewest rows held for correction; ties share a 名次,
        # listed in the order their returns arrived
        (1, "市人社局", "按时报送", 0, 0),
        (2, "市住建局", "按时报送", 0, 1),
        (3, "湖滨区", "按时报送", 1, 0),
        (3, "市科技局", "按时报送", 1, 0),
        (3, "市发展改革委", "按时报送", 1, 0),
        (6, "市统计局", "逾期报送", 1, 0),
        (7, "市生态环境局", "被拒收", 0, 0),
        (8, "陕州区", "未报送", 0, 0),
    ]
    assert [(rank, u.name) for rank, u in result.ranking()] == [(g[0], g[1]) for g in got]
    assert ws.cell(2 + len(got) + 1, 1).value.startswith("说明：按报送情况")
    assert light(ws, cell(ws, 2, find_row(ws, 2, 单位名称="陕州区"), "报送情况")) == "D9D9D9"


def test_rates_and_gaps_carry_traffic_lights(written):
    ws = load(written["summary"])["一、创新驱动"]
    rules = [(str(cf.sqref), rule) for cf in ws.conditional_formatting for rule in cf.rules]
    letters = {c.value: c.column_letter for c in ws[2]}
    icons = [rule for ref, rule in rules if rule.type == "iconSet" and ref.startswith(letters["完成率"])]
    assert icons and icons[0].iconSet.iconSet in (None, "3TrafficLights1")  # None: the default, traffic lights
    assert sorted(float(v.val) for v in icons[0].iconSet.cfvo[1:]) == [28.33, 33.33]  # 序时进度, 5 points below
    gap = letters[GAP]
    formulas = [rule.formula[0] for ref, rule in rules if rule.type == "expression" and ref.startswith(gap)]
    assert any("<-5" in f for f in formulas) and any("<0" in f for f in formulas) and any(">=0" in f for f in formulas)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftotext") is None,
                    reason="LibreOffice and poppler are not installed")
def test_overview_renders_on_one_pdf_page(written, tmp_path):
    from tests.office import convert

    pdf = convert([written["summary"]], "pdf", tmp_path / "pdf", tmp_path / "profile")[0]
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    assert "需关注事项" in pages[0] and "最需关注" in pages[0] and "合计" in pages[0]
    assert "滞后事项（截至" in pages[1] and "滞后事项（截至" not in pages[0]  # the next sheet starts page 2
