"""The marked-up feedback workbook and the reply mail, on files built here."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.datavalidation import DataValidation

from toolkit import feedback as feedback_mod
from toolkit.check import Outcome
from toolkit.feedback import FEEDBACK_SHEET, feedback_name, reply_text, write_feedback
from toolkit.findings import Code, Finding, Level, make
from toolkit.read import parse_ref, read_workbook
from toolkit.templates import COLUMNS, GUIDE_SHEET, META_SHEET

SHEET = "一、经济发展"
FILE = "市发展改革委_2021-04.xlsx"
UNIT = "市发展改革委"
ROUND = "2021-04"
FORMULA_TEXT = '=HYPERLINK("http://x","点击")'
ORIGINAL_FORMULA = "=1+1"
RED, YELLOW = "FFC7CE", "FFEB9C"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_soffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) 未安装")


# ---------------------------------------------------------------------------------------
# building a template-like return


def col(name: str) -> int:
    return COLUMNS.index(name) + 1


def ref(row: int, name: str) -> str:
    return f"{openpyxl.utils.get_column_letter(col(name))}{row}"


def text_cell(ws, coordinate: str, text: str) -> None:
    ws[coordinate] = text
    ws[coordinate].data_type = "s"  # typed text, even when it starts with '='


def build_return(path: Path) -> Path:
    wb = openpyxl.Workbook()
    guide = wb.active
    guide.title = GUIDE_SHEET
    guide["A1"] = "填报说明"
    guide["A3"], guide["B3"] = "填报单位", UNIT
    guide["A4"], guide["B4"] = "填报轮次", ROUND
    guide.protection.sheet = True

    ws = wb.create_sheet(SHEET)
    ws["A1"] = "一、经济发展 重点工作推进情况"
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    ws["A2"], ws["B2"] = "填报单位", UNIT
    ws["G2"], ws["J2"] = "填报人", "联系电话"
    ws.merge_cells("K2:L2")
    for c, name in enumerate(COLUMNS, start=1):
        ws.cell(row=3, column=c, value=name)
    rows = [
        ("1", "稳增长", "1-1", "地区生产总值增速", "增速", "%", 7.0, 7.5, None, 6.1, None, "平稳增长"),
        ("", "", "1-2", "固定资产投资", "累计", "亿元", 500.0, "约50", None, 120.0, None, FORMULA_TEXT),
        ("2", "抓项目", "2-1", "重点项目开工", "节点", "", None, None, None, None, None, ""),
    ]
    for r, values in enumerate(rows, start=4):
        for c, value in enumerate(values, start=1):
            if value in (None, ""):
                continue
            if isinstance(value, str):
                text_cell(ws, ws.cell(row=r, column=c).coordinate, value)
            else:
                ws.cell(row=r, column=c, value=value)
        for name in COLUMNS[7:]:
            ws.cell(row=r, column=col(name)).protection = openpyxl.styles.Protection(locked=False)
    ws[ref(6, "存在问题")] = ORIGINAL_FORMULA  # a real formula the department wrote: it may stay
    dv = DataValidation(type="list", formula1='"已完成,推进中,未启动"', allow_blank=True)
    dv.add(f"{ref(4, '完成状态')}:{ref(6, '完成状态')}")
    ws.add_data_validation(dv)
    ws.protection.sheet = True

    meta = wb.create_sheet(META_SHEET)
    pairs = [("模板版本", "1"), ("轮次", ROUND), ("单位编号", "A01"), ("单位名称", UNIT), ("指纹", "abc")]
    for r, (k, v) in enumerate(pairs, start=1):
        meta.cell(row=r, column=1, value=k)
        meta.cell(row=r, column=2, value=v)
    meta.protection.sheet = True
    meta.sheet_state = "veryHidden"
    wb.active = 0
    wb.save(path)
    return path


def build_outcome(unit: str = UNIT) -> Outcome:
    kw = {"file": FILE, "unit": unit}
    findings = [
        make(Code.E202, sheet=SHEET, cell=ref(5, "本期完成"), column="本期完成", value="约50", **kw),
        make(Code.W303, sheet=SHEET, cell=ref(5, "本期完成"), value="约50", detail="差 80 个百分点", **kw),
        make(Code.W311, sheet=SHEET, cell=ref(4, "进展情况"), **kw),
        make(Code.E204, sheet=SHEET, cell=ref(6, "完成状态"), **kw),
        make(Code.W305, sheet=SHEET, cell=ref(5, "进展情况"), value=FORMULA_TEXT, **kw),
        # a message that itself starts with '=' (quoting the department's text verbatim)
        Finding(code=Code.E202, file=FILE, unit=unit, sheet=SHEET, cell=ref(6, "进展情况"),
                value=FORMULA_TEXT, message=FORMULA_TEXT),
        make(Code.W306, sheet=SHEET, cell="L2", column="联系电话", **kw),  # inside the merged K2:L2
        make(Code.W308, value="2021-05-09", detail="2021-05-08", **kw),  # file level, listed first
        make(Code.W310, sheet="不存在的表", cell="B3", column="指标名称", value="x", detail="y", **kw),
    ]
    return Outcome(file=FILE, unit_name=unit, round=ROUND, findings=findings)


def brief(f: Finding) -> str:
    return feedback_mod._brief(f)


def no_fast_path(monkeypatch) -> None:
    """Have write_feedback skip the XML fast path (toolkit.feedback.package), as for a file it does not handle."""
    def unsupported(*_args, **_kw):
        raise feedback_mod._Unsupported("test")

    monkeypatch.setattr(feedback_mod, "write_marked_package", unsupported)


@pytest.fixture(params=["package", "openpyxl"])
def way(request, monkeypatch) -> Iterator[str]:
    """Each xlsx test runs on both ways of marking an xlsx up; asserts the way that ran."""
    if request.param == "openpyxl":
        no_fast_path(monkeypatch)
    before = dict(feedback_mod.PATHS)
    yield request.param
    assert feedback_mod.PATHS[request.param] > before.get(request.param, 0)


# ---------------------------------------------------------------------------------------
# helpers over the written file


def formula_cells(path: Path) -> set[tuple[str, str]]:
    wb = openpyxl.load_workbook(path)
    return {(ws.title, c.coordinate) for ws in wb.worksheets for c in ws._cells.values() if c.data_type == "f"}


def values(path: Path, sheets: list[str]) -> dict[tuple[str, str], object]:
    wb = openpyxl.load_workbook(path)
    return {(ws.title, c.coordinate): c.value for ws in wb.worksheets if ws.title in sheets
            for c in ws._cells.values() if c.value is not None}


def expected_spot(ws, finding: Finding) -> str:
    row, column = parse_ref(finding.cell)
    for rng in ws.merged_cells.ranges:
        if rng.min_row <= row <= rng.max_row and rng.min_col <= column <= rng.max_col:
            return f"{openpyxl.utils.get_column_letter(rng.min_col)}{rng.min_row}"
    return finding.cell


def assert_feedback(path: Path, outcome: Outcome) -> openpyxl.Workbook:
    """What every feedback file must show, however it was made."""
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == FEEDBACK_SHEET
    assert wb.active.title == FEEDBACK_SHEET
    assert [ws.title for ws in wb.worksheets if ws.sheet_view.tabSelected] == [FEEDBACK_SHEET]
    sheet = wb[FEEDBACK_SHEET]
    assert sheet["A1"].value == f"{outcome.unit_name}报表问题清单（{ROUND}）"
    assert sheet["A1"].data_type == "s"
    assert "请按下列问题修改后重新报送；标红的单元格为错误，标黄的为提示。" in sheet["A2"].value
    assert f"错误 {outcome.errors} 项、提示 {outcome.notices} 项" in sheet["A2"].value
    assert [c.value for c in sheet[3]] == ["序号", "工作表", "单元格", "级别", "代码", "说明"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=4) if row[0].value is not None]
    assert len(rows) == len(outcome.findings)
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0][1] in ("", None) and rows[0][4] == "W308"  # the file-level finding comes first
    listed = sorted((r[1] or "", r[2] or "", r[4], r[5]) for r in rows)
    assert listed == sorted((f.sheet, f.cell, f.code.name, brief(f)) for f in outcome.findings)

    # links: every finding on an existing visible sheet links to its own cell
    linked = 0
    for row in sheet.iter_rows(min_row=4, max_col=3):
        number, sheet_name, cell = row
        if number.value is None:
            continue
        if sheet_name.value in wb.sheetnames:
            link = cell.hyperlink
            assert link is not None and link.location, cell.coordinate
            target_sheet, target_ref = link.location.rsplit("!", 1)
            assert target_sheet.strip("'").replace("''", "'") == sheet_name.value
            assert target_ref == cell.value
            wb[sheet_name.value][target_ref]  # the cell exists  # noqa: B018
            assert cell.style == "Hyperlink"
            linked += 1
        else:
            assert cell.hyperlink is None
    assert linked == sum(f.sheet == SHEET for f in outcome.findings)

    # marks: fill by the worst level on the cell; one comment holding every message and code
    ws = wb[SHEET]
    by_cell: dict[str, list[Finding]] = {}
    for f in outcome.findings:
        if f.sheet == SHEET:
            by_cell.setdefault(expected_spot(ws, f), []).append(f)
    assert len(by_cell) < sum(len(v) for v in by_cell.values())  # two findings share a cell
    for spot, found in by_cell.items():
        cell = ws[spot]
        worst = RED if any(f.level is not Level.NOTICE for f in found) else YELLOW
        assert cell.fill.fill_type == "solid"
        assert cell.fill.fgColor.rgb.endswith(worst), spot
        assert cell.font.color.rgb.endswith("9C0006" if worst == RED else "9C5700")
        assert cell.comment is not None and cell.comment.author == "督查室"
        for f in found:
            assert brief(f) in cell.comment.text
            assert f.code.name in cell.comment.text
    # comment boxes are big enough to read (openpyxl does not read the size back: look at the VML)
    with zipfile.ZipFile(path) as zf:
        vml = "".join(zf.read(n).decode("utf-8") for n in zf.namelist() if n.endswith(".vml"))
    sizes = [(int(w), int(h)) for w, h in re.findall(r"width:(\d+)px;\s*height:(\d+)px", vml)]
    assert len(sizes) == len(by_cell) and all(w >= 300 and h >= 80 for w, h in sizes)
    untouched = ws[ref(4, "本期完成")]
    assert untouched.comment is None and untouched.fill.fill_type is None

    # the metadata sheet survives, still very hidden
    assert META_SHEET in wb.sheetnames
    assert wb[META_SHEET].sheet_state == "veryHidden"
    assert wb[META_SHEET]["B2"].value == ROUND
    # the department's text that looks like a formula is still text
    assert ws[ref(5, "进展情况")].value == FORMULA_TEXT
    assert ws[ref(5, "进展情况")].data_type == "s"
    return wb


# ---------------------------------------------------------------------------------------
# the xlsx path: marked up in place


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm"])
@pytest.mark.parametrize("unit", [UNIT, "=cmd|' /C calc'!A0"])
def test_xlsx_marked_up_in_place(tmp_path, suffix, unit, way):
    source = build_return(tmp_path / f"报表{suffix}")
    outcome = build_outcome(unit)
    out = write_feedback(source, outcome, tmp_path / "反馈" / "子目录", round_name=ROUND)
    assert out == tmp_path / "反馈" / "子目录" / "报表_问题反馈.xlsx"
    wb = assert_feedback(out, outcome)

    # every original value is intact, in every original sheet (the hidden one included)
    original_sheets = [GUIDE_SHEET, SHEET, META_SHEET]
    assert values(out, original_sheets) == values(source, original_sheets)
    # no formula appeared that the department did not write
    assert formula_cells(out) == formula_cells(source) == {(SHEET, ref(6, "存在问题"))}
    toolkit_view = read_workbook(out)
    assert {(s.name, k) for s in toolkit_view.sheets for k, c in s.cells.items() if c.formula} == \
        {(SHEET, parse_ref(ref(6, "存在问题")))}

    # protection and validation are as they were: locked cells locked, input cells open
    ws = wb[SHEET]
    assert ws.protection.sheet and wb[GUIDE_SHEET].protection.sheet and wb[META_SHEET].protection.sheet
    assert ws[ref(5, "本期完成")].protection.locked is False
    assert ws[ref(5, "指标编号")].protection.locked is True
    assert len(ws.data_validations.dataValidation) == 1
    assert "K2:L2" in {str(r) for r in ws.merged_cells.ranges}
    assert wb.vba_archive is None


def test_feedback_of_feedback_replaces_old_marks(tmp_path):
    """A department sends the feedback file back: the old list and comments are replaced, not doubled."""
    source = build_return(tmp_path / "报表.xlsx")
    first = write_feedback(source, build_outcome(), tmp_path / "一")
    outcome = build_outcome()
    outcome.findings = outcome.findings[:3] + outcome.findings[7:8]
    fallbacks = feedback_mod.PATHS["openpyxl"]
    second = write_feedback(first, outcome, tmp_path / "二", round_name=ROUND)
    assert feedback_mod.PATHS["openpyxl"] == fallbacks + 1  # a feedback file is marked up again by openpyxl
    wb = openpyxl.load_workbook(second)
    assert wb.sheetnames.count(FEEDBACK_SHEET) == 1 and wb.sheetnames[0] == FEEDBACK_SHEET
    rows = [r for r in wb[FEEDBACK_SHEET].iter_rows(min_row=4, values_only=True) if r[0] is not None]
    assert len(rows) == 4
    assert wb[SHEET][ref(6, "完成状态")].comment is None  # no longer a finding there
    assert wb[SHEET][ref(5, "本期完成")].comment.text.count("E202") == 1


# ---------------------------------------------------------------------------------------
# the rebuild path


def soffice_convert(source: Path, fmt: str, outdir: Path, profile: Path) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [SOFFICE, "--headless", f"-env:UserInstallation={profile.as_uri()}", "--convert-to", fmt,
         "--outdir", str(outdir), str(source)],
        check=True, timeout=120, capture_output=True,
    )
    produced = outdir / f"{source.stem}.{fmt.split(':', 1)[0]}"
    assert produced.exists(), f"soffice produced no {produced.name}"
    return produced


@pytest.fixture(scope="module")
def lo_profile(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lo")


def assert_rebuilt(out: Path, source_grid, outcome: Outcome) -> None:
    assert_feedback(out, outcome)
    assert formula_cells(out) == set()  # a rebuilt file never holds a formula
    wb = openpyxl.load_workbook(out)
    for sheet in source_grid.sheets:
        ws = wb[sheet.name]
        for (r, c), cell in sheet.cells.items():
            got = ws.cell(row=r, column=c).value
            if isinstance(cell.value, float):
                assert got == pytest.approx(cell.value), (sheet.name, r, c)
            else:
                assert got == cell.value, (sheet.name, r, c)


@needs_soffice
@pytest.mark.parametrize("pass_grid", [True, False])
def test_ods_rebuilt(tmp_path, lo_profile, pass_grid):
    xlsx = build_return(tmp_path / "报表.xlsx")
    ods = soffice_convert(xlsx, "ods", tmp_path / "ods", lo_profile)
    grid = read_workbook(ods)
    assert grid.format == "ods"
    outcome = build_outcome()
    out = write_feedback(ods, outcome, tmp_path / "反馈", workbook=grid if pass_grid else None, round_name=ROUND)
    assert out.name == "报表_问题反馈.xlsx"
    assert_rebuilt(out, grid, outcome)
    wb = openpyxl.load_workbook(out)
    assert wb[SHEET][ref(6, "存在问题")].value == 2  # the department's formula, as its value


def test_xlsx_openpyxl_cannot_open_is_rebuilt(tmp_path, monkeypatch):
    source = build_return(tmp_path / "报表.xlsx")

    def refuse(_path):
        raise KeyError("openpyxl failed")

    monkeypatch.setattr(feedback_mod, "_load_original", refuse)
    no_fast_path(monkeypatch)
    grid = read_workbook(source)
    outcome = build_outcome()
    out = write_feedback(source, outcome, tmp_path / "反馈", round_name=ROUND)
    assert_rebuilt(out, grid, outcome)


def test_unreadable_source_gets_only_the_list(tmp_path):
    source = tmp_path / "报表.xlsx"
    source.write_bytes(b"%PDF-1.4 not a workbook")
    outcome = Outcome(file="报表.xlsx", unit_name=UNIT, round=ROUND,
                      findings=[make(Code.F102, file="报表.xlsx", detail="这是 PDF 文件")])
    out = write_feedback(source, outcome, tmp_path / "反馈")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [FEEDBACK_SHEET]
    assert "本文件未被接收" in wb[FEEDBACK_SHEET]["A2"].value
    assert wb[FEEDBACK_SHEET]["F4"].value == brief(outcome.findings[0])


@needs_soffice
def test_feedback_opens_in_libreoffice(tmp_path, lo_profile, way):
    source = build_return(tmp_path / "报表.xlsx")
    out = write_feedback(source, build_outcome(), tmp_path / "反馈", round_name=ROUND)
    csv_path = soffice_convert(out, "csv:Text - txt - csv (StarCalc):44,34,76", tmp_path / "csv", lo_profile)
    with open(csv_path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0] == f"{UNIT}报表问题清单（{ROUND}）"  # the active sheet is the list
    assert rows[2][:6] == ["序号", "工作表", "单元格", "级别", "代码", "说明"]
    assert len([r for r in rows[3:] if r and r[0]]) == len(build_outcome().findings)


# ---------------------------------------------------------------------------------------
# the reply mail


def outcome_of(kind: str) -> Outcome:
    full = build_outcome()
    kw = {"file": FILE, "unit": UNIT}
    findings = {
        "clean": [],
        "notices": [f for f in full.findings if f.level is Level.NOTICE],
        "errors": full.findings,
        "rejected": [make(Code.F113, detail="隐藏的模板标识被改动", **kw)],
    }[kind]
    return Outcome(file=FILE, unit_name=UNIT, round=ROUND, findings=findings)


@pytest.mark.parametrize(("kind", "subject_has", "body_has", "body_lacks"), [
    ("clean", ["已接收"], ["文件已接收，未发现问题"], ["待更正", "未被接收", "附件"]),
    ("notices", ["已接收", "6项提示"], ["文件已接收，数据已纳入汇总", "有 6 项提示", "“一、经济发展”表 L4"],
     ["待更正", "未被接收"]),
    ("errors", ["已接收", "3项待更正"], ["文件已接收，但有 3 项错误待更正", "“一、经济发展”表 H5",
                                        "“本期完成”不是数字：约50", "另有 6 项提示", "请更正后重新报送"],
     ["未被接收"]),
    ("rejected", ["退回", "未被接收"], ["该文件未被接收", "报表结构被改动：隐藏的模板标识被改动", "请修改后重新报送"],
     ["待更正", "已纳入汇总"]),
])
@pytest.mark.parametrize("deadline", ["", "2021年5月20日"])
def test_reply_text(kind, subject_has, body_has, body_lacks, deadline):
    outcome = outcome_of(kind)
    subject, body = reply_text(outcome, round_name=ROUND, deadline=deadline)
    assert "\n" not in subject and UNIT in subject and ROUND in subject
    for text in subject_has:
        assert text in subject
    assert body.startswith(f"{UNIT}：\n")
    assert f"你单位报送的“{FILE}”已收到" in body
    for text in body_has:
        assert text in body, text
    for text in body_lacks:
        assert text not in body, text
    assert body.rstrip().splitlines()[-1] == "市政府督查室"
    assert "<" not in body.replace(FORMULA_TEXT, "")  # plain text, no HTML
    if kind != "clean":
        assert f"附件“{feedback_name(FILE)}”" in body
        assert "标红的单元格为错误，标黄的为提示" in body
    if deadline and kind != "clean":
        assert f"请于{deadline}前" in body
    else:
        assert "前重新报送" not in body and "前报送" not in body


def test_reply_text_options():
    outcome = outcome_of("errors")
    many = Outcome(file=FILE, unit_name=UNIT, round=ROUND,
                   findings=[make(Code.E201, file=FILE, sheet=SHEET, cell=f"H{r}", column="本期完成")
                             for r in range(4, 20)])
    subject, body = reply_text(many, office="某某区督查室", attachment="反馈.xlsx")
    assert "16项待更正" in subject
    assert "……另有 6 项，详见附件。" in body and "附件“反馈.xlsx”" in body
    assert body.rstrip().endswith("某某区督查室")
    _, anonymous = reply_text(Outcome(file="", findings=outcome.findings))
    assert anonymous.startswith("您好：")


def test_openpyxl_parses_department_files_through_defusedxml():
    """The marked-up copy is made with openpyxl, which must use defusedxml's guarded parsers."""
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML


@pytest.mark.parametrize("deadline", ["", "2021年5月20日"])
def test_reply_to_an_empty_return(deadline):
    outcome = Outcome(file=FILE, unit_name=UNIT, round=ROUND, findings=[make(Code.F116, file=FILE, unit=UNIT)])
    subject, body = reply_text(outcome, round_name=ROUND, deadline=deadline)
    assert "空表" in subject and UNIT in subject and "\n" not in subject
    assert f"你单位报送的“{FILE}”为空表，未填写任何内容，请填写后重新报送。" in body
    assert ("请于" + deadline + "前报送") in body if deadline else "前报送" not in body
    assert "附件" not in body  # nothing to mark up in an empty table
    assert body.rstrip().splitlines()[-1] == "市政府督查室"


def test_reply_to_a_return_naming_another_unit():
    finding = make(Code.F117, file=FILE, unit=UNIT, sheet=SHEET, cell="B2", value="市教育局", detail=UNIT)
    subject, body = reply_text(Outcome(file=FILE, unit_name=UNIT, round=ROUND, findings=[finding]),
                               round_name=ROUND)
    assert "退回" in subject
    assert "“填报单位”填写为“市教育局”，但本模板是下发给“市发展改革委”的" in body
