"""The Word progress report: content in the seed's genre, official format, a PDF that renders."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from toolkit import report as report_mod
from toolkit.errors import DuchaError
from toolkit.model import (
    Category,
    Indicator,
    Registry,
    ResultRow,
    Round,
    RoundResult,
    Settings,
    Unit,
)
from toolkit.report import write_report

D = Decimal
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")

CAT1 = "一、深入实施创新驱动发展战略，奋力打造郑洛西高质量发展合作带重要支撑区"
CAT2 = "推动供需两端协同发力，促进经济平稳向好"  # no numeral: the report adds 二、
CAT3 = "三、切实保障改善民生，持续加强社会建设"


def ind(sheet, row, task_no, task, lead, code, name, kind, unit, target, *, reporters=None, decimals=2,
        phrase="", due=None, due_text="", targets=()):
    return Indicator(
        sheet=sheet, row=row, task_no=task_no, task=task, lead=lead, co="", code=code, name=name, kind=kind,
        unit=unit, target=None if target is None else D(str(target)), due=due, due_text=due_text,
        reporters=tuple(reporters or (lead,)), decimals=decimals, phrase=phrase, targets_by_unit=targets,
    )


def row(indicator, cat_title, unit=None, **kw):
    values = {k: (D(str(v)) if isinstance(v, (int, float, str)) and k in NUMERIC else v)
              for k, v in kw.items()}
    values.setdefault("target", indicator.target)
    values.setdefault("time_progress", D("33.33"))
    return ResultRow(round="2021-04", category=indicator.sheet, category_title=cat_title, indicator=indicator,
                     unit=unit or indicator.reporters[0], **values)


NUMERIC = {"target", "value", "base", "last_year", "completion", "ratio", "time_progress", "gap", "yoy"}


def build_result() -> RoundResult:
    s1, s2, s3 = "创新驱动", "供需协同", "民生"
    k01 = ind(s1, 3, "1", "培育科技型企业", "市科技局", "K01", "科技型中小企业备案", "累计", "家", 140,
              phrase="科技型中小企业已备案{本期完成}{计量单位}，完成全年目标任务的{完成率}%")
    k02 = ind(s1, 4, "2", "引进人才", "市人社局", "K02", "引进高层次人才", "累计", "名", 100)
    k03 = ind(s2, 3, "3", "优化审批", "市发展改革委", "K03", "审批事项办结率", "比率", "项", 90)
    k04 = ind(s2, 4, "3", "优化审批", "市发展改革委", "K04", "固定资产投资增速", "增速", "%", 7, decimals=1)
    k05 = ind(s2, 5, "4", "重点项目", "市发展改革委", "K05", "重点项目开工", "累计", "个", 100,
              reporters=("灵宝市", "卢氏县"), targets=(("灵宝市", D(60)), ("卢氏县", D(40))))
    k12 = ind(s2, 6, "4", "重点项目", "市发展改革委", "K12", "新开工项目投资", "累计", "亿元", 300)
    k06 = ind(s3, 3, "5", "稳就业", "市人社局", "K06", "城镇新增就业", "累计", "万人", 3.7, decimals=1,
              phrase="全市城镇新增就业{本期完成}{计量单位}，完成全年{年度目标}{计量单位}目标任务的{完成率}%")
    k07 = ind(s3, 4, "5", "稳就业", "市人社局", "K07", "全市城镇登记失业率", "上限", "%", 4.5)
    k08 = ind(s3, 5, "6", "社会保障", "市人社局", "K08", "社会保障卡常住人口覆盖率", "下限", "%", 90)
    k09 = ind(s3, 6, "7", "文化建设", "市文广旅局", "K09", "仰韶村考古遗址公园建成开放", "节点", "", None,
              due=date(2021, 4, 30), due_text="4月底")
    k10 = ind(s3, 7, "8", "平安建设", "市公安局", "K10", "破获电信网络诈骗案件", "累计", "起", None,
              phrase="全市共破获各类电信网络诈骗案件{本期完成}{计量单位}")
    k11 = ind(s3, 8, "9", "全民健身", "市体育局", "K11", "全民健身中心建设", "节点", "", None,
              due=date(2021, 12, 31), due_text="12月底")
    cats = [Category(s1, CAT1, (k01, k02)), Category(s2, CAT2, (k03, k04, k05, k12)),
            Category(s3, CAT3, (k06, k07, k08, k09, k10, k11))]
    names = ["市科技局", "市人社局", "市发展改革委", "灵宝市", "卢氏县", "市文广旅局", "市公安局", "市体育局"]
    units = {n: Unit(f"U{i:02d}", n) for i, n in enumerate(names, 1)}
    rnd = Round("2021-04", date(2021, 4, 30), date(2021, 5, 8))
    settings = Settings(issuer="三门峡市政府督查室", title="《市政府工作报告》重点工作进展情况报告",
                        year=2021)
    reg = Registry(Path("master.xlsx"), settings, units, [rnd], cats)
    rows = [
        row(k01, CAT1, value=59, completion="42.14", gap="8.81", status="序时推进",
            progress="拟订《关于加快建设黄河金三角区域协同创新中心的实施意见》"),
        row(k02, CAT1, value=19, completion="19.00", gap="-14.33", status="滞后",
            progress="已发布人才引进公告。"),
        row(k03, CAT2, value=1816, base=2124, ratio="85.50", status="未达标",
            progress="涉及各类审批任务2124项，已办结1816项"),
        row(k04, CAT2, value="8.2", gap="1.2", status="达标"),
        row(k05, CAT2, unit="灵宝市", target=D(60), value=30, completion="50.00", gap="16.67",
            status="序时推进", progress="灵宝市重点项目开工30个。"),
        row(k05, CAT2, unit="卢氏县", target=D(40), value=12, completion="30.00", gap="-3.33",
            status="滞后", progress="卢氏县重点项目开工12个。", late=True),
        row(k05, CAT2, unit="合计", value=42, last_year=35, completion="42.00", gap="8.67", yoy="20.00",
            status="序时推进", is_total=True),
        row(k12, CAT2, status="待更正"),
        row(k06, CAT3, value="1.4255", completion="38.5", gap="5.2", status="序时推进",
            time_progress=D("33.3")),
        row(k07, CAT3, value="3.42", status="达标"),
        row(k08, CAT3, value="94.7", status="达标"),
        row(k09, CAT3, state="推进中", status="逾期",
            progress="仰韶村考古遗址公园已完成95%建设任务，正在进行收尾工程"),
        row(k10, CAT3, value=118, last_year=76, yoy="55.26", status="序时推进"),
        row(k11, CAT3, status="未报送"),
    ]
    return RoundResult(
        registry=reg, round=rnd, now=datetime(2021, 5, 13, 9, 30), time_progress=D("33.33"), rows=rows,
        expected_units=names, on_time_units=["市科技局", "市人社局", "市发展改革委", "灵宝市", "市文广旅局"],
        late_units=["卢氏县", "市公安局"], missing_units=["市体育局"],
    )


@pytest.fixture(scope="module")
def result() -> RoundResult:
    return build_result()


@pytest.fixture(scope="module")
def docx_path(result, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "进展情况报告_2021-04.docx"
    assert write_report(result, out) == out
    return out


@pytest.fixture(scope="module")
def doc(docx_path):
    return Document(str(docx_path))


def texts(doc) -> list[str]:
    return [p.text for p in doc.paragraphs]


def body_after(doc, heading_start: str) -> str:
    pars = texts(doc)
    i = next(i for i, t in enumerate(pars) if t.startswith(heading_start))
    return pars[i + 1]


# -- content -------------------------------------------------------------------------------


def test_top_line_and_title(doc):
    pars = [p for p in doc.paragraphs if p.text.strip()]
    assert pars[0].text.startswith("三门峡市政府督查室")
    assert pars[0].text.endswith("2021年5月13日")
    assert pars[0]._p.pPr.find(qn("w:ind")).get(qn("w:firstLineChars")) == "0"
    title = pars[1]
    assert title.text == "《市政府工作报告》重点工作进展情况报告"
    assert title.style.name == "标题"
    assert title.style.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER


def test_opening_counts(doc):
    opening = next(t for t in texts(doc) if t.startswith("按照"))
    assert "2021年《政府工作报告》重点工作共分3大类、9项任务、12项指标。" in opening
    assert ("截至4月30日，已完成0项，序时推进7项，进度滞后2项，逾期1项，"
            "数据待核实1项，未报送数据1项；") in opening
    assert "应报送单位8个，按时报送5个，逾期报送2个，未报送1个。" in opening
    assert opening.endswith("现将各项工作任务进展情况报告如下：")
    assert "三门峡市政府工作部署" in opening


def test_headings_in_order(doc):
    headings = [p.text for p in doc.paragraphs if p.style.name == "一级标题"]
    assert headings == [CAT1, "二、" + CAT2, CAT3, "四、进度滞后和逾期事项", "五、报送情况"]


def test_category_bodies(doc):
    one = body_after(doc, "一、")
    assert one.startswith("拟订《关于加快建设黄河金三角区域协同创新中心的实施意见》。")
    assert "科技型中小企业已备案59家，完成全年目标任务的42.14%。" in one
    assert "引进高层次人才19名，完成全年100名目标任务的19.00%。" in one
    assert "。。" not in one
    two = body_after(doc, "二、")
    assert "审批事项办结率85.50%，低于90%的目标" in two
    assert "固定资产投资增速8.2%，高于目标1.2个百分点" in two
    assert "灵宝市重点项目开工30个。卢氏县重点项目开工12个。" in two
    assert "重点项目开工42个，完成全年100个目标任务的42.00%，同比上升20.00%。" in two
    assert "新开工项目投资（数据待核实）。" in two
    three = body_after(doc, "三、")
    assert "全市城镇新增就业1.4255万人，完成全年3.7万人目标任务的38.5%。" in three
    assert "全市城镇登记失业率3.42%，低于4.5%的目标。" in three
    assert "社会保障卡常住人口覆盖率94.7%，高于90%的目标。" in three
    assert "全市共破获各类电信网络诈骗案件118起，同比上升55.26%。" in three
    assert "全民健身中心" not in three  # 未报送: skipped in the body


def test_lagging_list(doc):
    pars = texts(doc)
    i = pars.index("四、进度滞后和逾期事项")
    j = pars.index("五、报送情况")
    items = pars[i + 1:j]
    assert items == [
        "1.引进高层次人才：引进高层次人才19名，完成全年100名目标任务的19.00%，低于序时进度14.33个百分点"
        "（牵头单位：市人社局）。",
        "2.审批事项办结率：审批事项办结率85.50%，低于90%的目标（牵头单位：市发展改革委）。",
        "3.仰韶村考古遗址公园建成开放：仰韶村考古遗址公园建成开放推进中，完成时限为4月底，已逾期"
        "（牵头单位：市文广旅局）。",
    ]


def test_units_lists(doc):
    pars = texts(doc)
    i = pars.index("五、报送情况")
    assert pars[i + 1:i + 4] == [
        "按时报送单位：市科技局、市人社局、市发展改革委、灵宝市、市文广旅局（5个）。",
        "逾期报送单位：卢氏县、市公安局（2个）。",
        "未报送单位：市体育局（1个）。",
    ]


def test_no_lagging_and_no_units(tmp_path):
    res = build_result()
    res.rows = [r for r in res.rows if r.status not in ("滞后", "未达标", "逾期")]
    res.late_units = []
    out = write_report(res, tmp_path / "r.docx")
    pars = texts(Document(str(out)))
    i = pars.index("四、进度滞后和逾期事项")
    assert pars[i + 1] == "无。"
    assert "逾期报送单位：无。" in pars


# -- format --------------------------------------------------------------------------------


def _runs_missing_east_asia(part_element) -> list[str]:
    bad = []
    for r in part_element.iter(qn("w:r")):
        text = "".join(t.text or "" for t in r.iter(qn("w:t")))
        if not CJK.search(text):
            continue
        fonts = r.find(f"{qn('w:rPr')}/{qn('w:rFonts')}")
        if fonts is None or not fonts.get(qn("w:eastAsia")) or not fonts.get(qn("w:ascii")):
            bad.append(text)
    return bad


def test_every_chinese_run_names_east_asian_font(doc):
    assert _runs_missing_east_asia(doc.element.body) == []
    for section in doc.sections:
        for footer in (section.footer, section.even_page_footer):
            assert _runs_missing_east_asia(footer._element) == []
    fonts = {r.font.element.rPr.rFonts.get(qn("w:eastAsia")) for p in doc.paragraphs for r in p.runs}
    assert fonts <= {"仿宋_GB2312", "方正小标宋简体", "黑体"}
    assert "黑体" in fonts and "方正小标宋简体" in fonts


def test_no_japanese_fonts_left(docx_path):
    with zipfile.ZipFile(docx_path) as z:
        for name in z.namelist():
            if name.endswith(".xml"):
                data = z.read(name).decode("utf-8")
                assert "明朝" not in data and "ゴシック" not in data, name


def test_page_setup(doc):
    s = doc.sections[0]
    assert abs(s.page_width - Mm(210)) < Mm(0.5) and abs(s.page_height - Mm(297)) < Mm(0.5)
    for got, want in ((s.top_margin, 37), (s.bottom_margin, 35), (s.left_margin, 28), (s.right_margin, 26)):
        assert abs(got - Mm(want)) < Mm(0.1)
    grid = s._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:linePitch")) == "579"


def test_styles(doc):
    body = doc.styles["正文"]
    assert body.font.size == Pt(16)
    assert body.element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert body.paragraph_format.line_spacing == Pt(28.95)
    ind = body.element.pPr.find(qn("w:ind"))
    assert ind.get(qn("w:firstLineChars")) == "200"
    assert doc.styles["标题"].font.size == Pt(22)
    assert doc.styles["标题"].element.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体"
    assert doc.styles["一级标题"].element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"
    assert doc.styles["Normal"].element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312"


def test_page_number_field(doc):
    assert doc.settings.odd_and_even_pages_header_footer
    for footer in (doc.sections[0].footer, doc.sections[0].even_page_footer):
        el = footer._element
        kinds = [f.get(qn("w:fldCharType")) for f in el.iter(qn("w:fldChar"))]
        assert kinds == ["begin", "separate", "end"]
        assert [t.text.strip() for t in el.iter(qn("w:instrText"))] == ["PAGE"]
        text = "".join(t.text for t in el.iter(qn("w:t")))
        assert text == "— 1 —"
        fonts = [r.find(f"{qn('w:rPr')}/{qn('w:rFonts')}").get(qn("w:eastAsia")) for r in el.iter(qn("w:r"))]
        assert set(fonts) == {"宋体"}


def test_atomic_write_leaves_no_temp_files(result, tmp_path):
    out = tmp_path / "out" / "进展情况报告_2021-04.docx"
    out.parent.mkdir()
    out.write_bytes(b"old")
    write_report(result, out)
    assert [p.name for p in out.parent.iterdir()] == [out.name]
    assert zipfile.is_zipfile(out)


def test_template_edits_are_followed(result, tmp_path):
    tpl = Document(str(report_mod.REPO_TEMPLATE))
    report_mod.set_fonts(tpl.styles["正文"].element, "楷体_GB2312")
    tpl.save(tmp_path / "tpl.docx")
    doc = Document(str(write_report(result, tmp_path / "r.docx", template=tmp_path / "tpl.docx")))
    body_runs = [r for p in doc.paragraphs if p.style.name == "正文" for r in p.runs]
    assert {r.font.element.rPr.rFonts.get(qn("w:eastAsia")) for r in body_runs} == {"楷体_GB2312"}


def test_builds_styles_without_template(result, tmp_path, monkeypatch):
    monkeypatch.setattr(report_mod, "REPO_TEMPLATE", tmp_path / "none1.docx")
    monkeypatch.setattr(report_mod, "PACKAGE_TEMPLATE", tmp_path / "none2.docx")
    doc = Document(str(write_report(result, tmp_path / "r.docx")))
    assert doc.styles["正文"].font.size == Pt(16)
    assert [p.text for p in doc.paragraphs if p.style.name == "标题"] == [result.registry.settings.title]


def test_missing_template_is_a_chinese_error(result, tmp_path):
    with pytest.raises(DuchaError, match="报告模板不存在"):
        write_report(result, tmp_path / "r.docx", template=tmp_path / "nope.docx")


def test_template_files_are_shipped():
    for path in (report_mod.REPO_TEMPLATE, report_mod.PACKAGE_TEMPLATE):
        assert path.is_file(), f"run scripts/make_report_template.py ({path})"
        doc = Document(str(path))
        assert {"标题", "正文", "一级标题"} <= {s.name for s in doc.styles}
        assert not [p for p in doc.paragraphs if p.text]


# -- renders ---------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_converts_to_pdf(docx_path, tmp_path):
    cmd = ["soffice", f"-env:UserInstallation=file://{tmp_path}/lo", "--headless", "--convert-to", "pdf",
           "--outdir", str(tmp_path), str(docx_path)]
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)
    pdf = tmp_path / (docx_path.stem + ".pdf")
    assert pdf.is_file() and pdf.stat().st_size > 1000
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              timeout=60, check=True).stdout
        assert "重点工作进展情况报告" in text
        assert re.search(r"—\s*1\s*—", text)
