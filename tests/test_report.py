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
    Settings,
    Submission,
    Unit,
)
from toolkit.report import write_report
from toolkit.standing import Standing, build_standing

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


def build_result() -> Standing:
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
    return standing(reg, rnd, rows, on_time=["市科技局", "市人社局", "市发展改革委", "灵宝市", "市文广旅局"],
                    late=["卢氏县", "市公安局"])


def standing(reg, rnd, rows, *, on_time=(), late=()) -> Standing:
    """The round's standing: ``on_time`` units sent their return on 5-7, ``late`` ones on 5-10."""
    subs = [Submission(file=f"{n}.xlsx", path=Path(f"{n}.xlsx"), unit=n, accepted=True,
                       received=datetime(2021, 5, day, 10)) for names, day in ((on_time, 7), (late, 10))
            for n in names]
    return build_standing(reg, rnd, datetime(2021, 5, 13, 9, 30), time_progress=D(100) / 3,
                          time_progress_shown=D("33.33"), rows=list(rows), submissions=subs, findings=[])


@pytest.fixture(scope="module")
def result() -> Standing:
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


def _category(doc, heading_start: str) -> list:
    """The paragraphs under a category's heading, up to the next 一级标题."""
    pars = list(doc.paragraphs)
    i = next(i for i, p in enumerate(pars) if p.style.name == "一级标题" and p.text.startswith(heading_start))
    out = []
    for p in pars[i + 1:]:
        if p.style.name == "一级标题":
            break
        out.append(p)
    return out


def body_after(doc, heading_start: str) -> str:
    """A category's text: its body paragraphs (task headings left out)."""
    return "".join(p.text for p in _category(doc, heading_start) if p.style.name == "正文")


def task_headings(doc, heading_start: str) -> list[str]:
    return [p.text for p in _category(doc, heading_start) if p.style.name == "二级标题"]


def attachment(doc, number: int) -> list[list[str]]:
    """The rows (header first) of 附件1 (滞后和逾期事项) or 附件2 (报送情况)."""
    return [[c.text for c in row.cells] for row in doc.tables[number - 1].rows]


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
    # the counts are of indicators, and say so (“9项任务、12项指标。截至…已完成0项” was ambiguous)
    # every status of the summary, grouped by name, the groups' counts adding up to 12
    assert ("截至4月30日，12项指标中正常推进7项（序时推进4项、达标3项），进度滞后2项（滞后1项、未达标1项），"
            "逾期1项，数据待更正1项，未报送1项（滞后和逾期事项见附件1）；") in opening
    # 卢氏县 lags inside the on-track 合计 of 重点项目开工: the lagging list has one item more
    assert "另有1项指标虽总体正常，但部分单位进度滞后；" in opening
    assert "应报送单位8个，按时报送5个，逾期报送2个，未报送1个（见附件2）。" in opening
    assert opening.endswith("现将各项工作任务进展情况报告如下：")
    assert "三门峡市政府工作部署" in opening


def test_headings_in_order(doc):
    # the categories 一、…三、 only (the report numbers no section of its own), then 下步工作
    headings = [p.text for p in doc.paragraphs if p.style.name == "一级标题"]
    assert headings == [CAT1, "二、" + CAT2, CAT3, "下步工作"]
    # a category with several tasks says each under a （一） heading in 楷体
    assert task_headings(doc, "一、") == ["（一）培育科技型企业", "（二）引进人才"]
    assert doc.styles["二级标题"].element.rPr.rFonts.get(qn("w:eastAsia")) == "楷体_GB2312"


def test_category_bodies(doc):
    one = body_after(doc, "一、")
    assert one.startswith("拟订《关于加快建设黄河金三角区域协同创新中心的实施意见》。")
    assert "科技型中小企业已备案59家，完成全年目标任务的42.14%。" in one
    assert "引进高层次人才19名，完成全年100名目标任务的19.00%。" in one
    assert "。。" not in one
    two = body_after(doc, "二、")
    assert "审批事项办结率85.50%，低于90%的目标" in two
    assert "固定资产投资增速8.2%，高于目标1.2个百分点" in two
    # the 合计 first, then the county that lags, its sentence taking in its own figure;
    # 灵宝市's sentence only repeats its figure (on track) and is left to the total
    assert ("重点项目开工42个，完成全年100个目标任务的42.00%，同比上升20.00%。"
            "卢氏县重点项目开工12个，完成全年40个目标任务的30.00%，低于序时进度3.33个百分点。") in two
    assert "灵宝市" not in two
    assert "新开工项目投资数据待市发展改革委核实更正。" in two  # held for correction: no figure
    three = body_after(doc, "三、")
    assert "全市城镇新增就业1.4255万人，完成全年3.7万人目标任务的38.5%。" in three
    assert "全市城镇登记失业率3.42%，低于4.5%的目标。" in three
    assert "社会保障卡常住人口覆盖率94.7%，高于90%的目标。" in three
    assert "全市共破获各类电信网络诈骗案件118起，同比上升55.26%。" in three
    assert "全民健身中心" not in three  # 未报送: skipped in the body


def test_lagging_items_are_attachment_1(doc):
    assert attachment(doc, 1) == [
        ["序号", "重点工作", "指标", "完成率", "序时进度", "差距", "牵头单位"],
        # worst first: an overdue milestone, then the largest shortfall, then rates short of target
        ["1", "文化建设", "仰韶村考古遗址公园建成开放", "推进中", "时限4月底", "已逾期", "市文广旅局"],
        ["2", "引进人才", "引进高层次人才", "19.00%", "33.33%", "低于序时进度14.33个百分点", "市人社局"],
        ["3", "优化审批", "审批事项办结率", "85.50%", "目标90%", "低于目标4.50个百分点", "市发展改革委"],
        # a 合计 on track is listed by the county that lags
        ["4", "重点项目", "重点项目开工（卢氏县）", "30.00%", "33.33%", "低于序时进度3.33个百分点", "市发展改革委"],
    ]
    pars = texts(doc)
    i = pars.index("附件1")
    assert pars[i + 1:i + 3] == ["", "滞后和逾期事项"]
    label = next(p for p in doc.paragraphs if p.text == "附件1")
    assert label.paragraph_format.page_break_before  # each 附件 starts a page
    # a row held for correction is named with its unit in the body, never printed as fact
    assert "另，市发展改革委报送的新开工项目投资数据有误，已退回核实更正，本报告暂未采用。" in pars


def test_units_are_attachment_2(doc):
    rows = attachment(doc, 2)
    assert rows[0] == ["序号", "单位", "报送情况", "收到时间", "说明"]
    states = {r[1]: (r[2], r[4]) for r in rows[1:]}
    assert states["市科技局"] == ("按时报送", "")
    assert states["卢氏县"] == ("逾期报送", "")
    assert states["市体育局"] == ("未报送", "截至5月13日未收到")
    assert [r[0] for r in rows[1:]] == [str(i) for i in range(1, len(rows))]


def test_attachment_tables_have_set_widths(doc):
    for table in doc.tables:
        tbl = table._tbl
        assert tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"
        grid = [int(c.get(qn("w:w"))) for c in tbl.tblGrid.findall(qn("w:gridCol"))]
        assert len(grid) == len(table.columns) and all(w > 0 for w in grid)
        assert int(tbl.tblPr.find(qn("w:tblW")).get(qn("w:w"))) == sum(grid)
        assert sum(grid) <= round(156 * 1440 / 25.4) + 1  # inside the 156 mm type area
        for row in table.rows:  # every cell carries its width, as WPS and LibreOffice need
            widths = [int(c._tc.tcPr.find(qn("w:tcW")).get(qn("w:w"))) for c in row.cells]
            assert widths == grid
        assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None


def test_closing_attachment_note_and_signature(doc):
    pars = texts(doc)
    i = pars.index("下步工作")
    assert pars[i + 1].startswith("下一步，三门峡市政府督查室将对进度滞后和逾期事项持续跟踪督办")
    j = pars.index("附件：1.滞后和逾期事项")
    assert pars[j + 1] == "2.报送情况"
    signature = [p for p in doc.paragraphs[j:] if p.text][2:4]
    assert [p.text for p in signature] == ["三门峡市政府督查室", "2021年5月13日"]
    for p in signature:  # 落款: right-aligned, the date four characters in from the margin
        assert p.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert signature[1].paragraph_format.right_indent == Pt(64)
    assert pars.index("三门峡市政府督查室") > pars.index("附件：1.滞后和逾期事项") < pars.index("附件1")


def test_no_lagging_and_no_units(tmp_path):
    full = build_result()
    res = standing(full.registry, full.round, [r for r in full.rows if r.status not in ("滞后", "未达标", "逾期")],
                   on_time=["市科技局", "市人社局", "市发展改革委", "灵宝市", "市文广旅局"])
    doc = Document(str(write_report(res, tmp_path / "r.docx")))
    pars = texts(doc)
    i = pars.index("滞后和逾期事项")
    assert pars[i + 2] == "本期无滞后和逾期事项。"
    assert len(doc.tables) == 1  # only 附件2


# -- reading like the seed: figures the departments already gave, 合计, punctuation ---------

COUNTIES = ("灵宝市人民政府", "陕州区人民政府", "渑池县人民政府", "卢氏县人民政府", "义马市人民政府", "湖滨区人民政府")


def one_category(rows, *, issuer="三门峡市政府督查室", units=None, extra=()) -> Standing:
    """A round with one category holding the indicators of ``rows``."""
    indicators = tuple(dict.fromkeys(r.indicator for r in rows))
    cat = Category("民生", CAT3, indicators)
    names = units or sorted({n for i in indicators for n in i.reporters})
    rnd = Round("2021-04", date(2021, 4, 30), date(2021, 5, 8))
    settings = Settings(issuer=issuer, year=2021, extra=tuple(extra))
    reg = Registry(Path("master.xlsx"), settings, {n: Unit(f"U{i:02d}", n) for i, n in enumerate(names, 1)},
                   [rnd], [cat])
    return standing(reg, rnd, rows, on_time=names)


def report_doc(res: Standing, tmp_path):
    return Document(str(write_report(res, tmp_path / "r.docx")))


def report_pars(res: Standing, tmp_path) -> list[str]:
    return texts(report_doc(res, tmp_path))


def section(res: Standing, tmp_path) -> str:
    return body_after(report_doc(res, tmp_path), "三、")


def test_figure_taken_into_the_narrative_that_states_it(tmp_path):
    k = ind("民生", 3, "1", "重点项目", "市发展改革委", "T1", "重点项目累计完成投资", "累计", "亿元", 910.7,
            phrase="累计完成投资{本期完成}亿元，占年度计划的{完成率}%")
    r = row(k, CAT3, value="435.5", completion="47.82", gap="14.49", status="序时推进",
            progress="累计完成投资435.5亿元，涉及项目338个。")
    three = section(one_category([r]), tmp_path)
    # the seed's words, once: the share goes right after the figure it belongs to
    assert three == "累计完成投资435.5亿元，占年度计划的47.82%，涉及项目338个。"


def test_figure_in_another_scale_is_the_same_figure(tmp_path):
    k = ind("民生", 3, "1", "稳就业", "市人社局", "T1", "城镇新增就业", "累计", "万人", 3.7, decimals=1,
            phrase="全市城镇新增就业{本期完成}万人，完成全年{年度目标}万人年度目标任务的{完成率}%")
    r = row(k, CAT3, value="1.4255", completion="38.5", gap="5.2", status="序时推进",
            progress="全市城镇新增就业14255人。")
    three = section(one_category([r]), tmp_path)
    assert three == "全市城镇新增就业14255人，完成全年3.7万人年度目标任务的38.5%。"  # the seed, word for word


def test_figure_the_narrative_already_says_is_dropped(tmp_path):
    k = ind("民生", 3, "1", "减负", "市人社局", "T1", "养老保险企业单位缴费费率", "上限", "%", 16,
            phrase="养老保险企业单位缴费费率{本期完成}%")
    r = row(k, CAT3, value="16", status="达标", progress="养老保险企业单位缴费费率从19%降至16%。")
    assert section(one_category([r]), tmp_path) == "养老保险企业单位缴费费率从19%降至16%。"


def test_figure_with_other_numbers_stays_separate(tmp_path):
    k = ind("民生", 3, "1", "矿山", "市自然资源和规划局", "T1", "关闭退出石料矿山", "累计", "家", 20)
    r = row(k, CAT3, value="5", completion="25.00", gap="-8.33", status="滞后",
            progress="截至4月20日已公告关闭5家、注销9家。")
    three = section(one_category([r]), tmp_path)
    # 5家 sits in an enumeration: the share cannot be hung on it
    assert three == "截至4月20日已公告关闭5家、注销9家。关闭退出石料矿山5家，完成全年20家目标任务的25.00%。"


def test_two_figures_of_a_task_join_one_sentence_in_order(tmp_path):
    total = ind("民生", 3, "4-4", "造林", "市林业局", "T1", "人工造林", "累计", "万亩", 30.49, decimals=0,
                reporters=COUNTIES, phrase="完成人工造林{本期完成}万亩，占造林总任务{年度目标}万亩的{完成率}%")
    upper = ind("民生", 4, "4-4", "造林", "市林业局", "T2", "人工造林（上级下达任务）", "累计", "万亩", 18.04,
                decimals=1, phrase="完成人工造林{本期完成}万亩，占上级下达人工造林任务{年度目标}万亩的{完成率}%")
    values = ("5.62", "3.4", "2.9", "6.01", "0.6", "1.3")
    rows = [row(total, CAT3, unit=u, target=D(5), value=v, completion="66", gap="33", status="序时推进",
                progress=f"{u[:3]}完成人工造林{v}万亩。") for u, v in zip(COUNTIES, values, strict=True)]
    rows.append(row(total, CAT3, unit="合计", value="19.83", completion="65", gap="32", status="序时推进",
                    is_total=True))
    rows.append(row(upper, CAT3, value="19.83", completion="109.9", gap="76.6", status="已完成",
                    progress="全市完成人工造林19.83万亩。"))
    three = section(one_category(rows), tmp_path)
    assert three == "全市完成人工造林19.83万亩，占造林总任务30.49万亩的65%，占上级下达人工造林任务18.04万亩的109.9%。"


def test_total_over_every_county_is_said_citywide_then_the_counties_that_lag(tmp_path):
    k = ind("民生", 3, "1", "教育", "市教育局", "T1", "新增公办学位", "累计", "个", 2900, reporters=COUNTIES)
    parts = [("灵宝市人民政府", 700, 240, "34.29", "0.96", "序时推进", "灵宝市新增公办学位240个。"),
             ("陕州区人民政府", 450, 160, "35.56", "2.23", "序时推进", "陕州区新增公办学位160个。"),
             ("渑池县人民政府", 400, 150, "37.50", "4.17", "序时推进", "渑池县新增公办学位150个。"),
             ("卢氏县人民政府", 300, 70, "23.33", "-10.00", "滞后", "卢氏县新增公办学位70个。"),
             ("义马市人民政府", 250, 80, "32.00", "-1.33", "滞后", ""),
             ("湖滨区人民政府", 800, 300, "37.50", "4.17", "序时推进", "甘棠学校、向青路小学建设有序推进。")]
    rows = [row(k, CAT3, unit=u, target=D(t), value=v, completion=c, gap=g, status=st, progress=pr)
            for u, t, v, c, g, st, pr in parts]
    rows.append(row(k, CAT3, unit="合计", value=1000, completion="34.48", gap="1.15", status="序时推进",
                    is_total=True))
    res = one_category(rows, units=list(COUNTIES) + ["市教育局"])
    doc = report_doc(res, tmp_path)
    assert body_after(doc, "三、") == (
        "全市新增公办学位1000个，完成全年2900个目标任务的34.48%。"
        "卢氏县新增公办学位70个，完成全年300个目标任务的23.33%，低于序时进度10.00个百分点。"
        "义马市新增公办学位80个，完成全年250个目标任务的32.00%，低于序时进度1.33个百分点。"
        "甘棠学校、向青路小学建设有序推进。")
    # 附件1 lists the counties behind the total, each by name
    assert [r[2] for r in attachment(doc, 1)[1:]] == ["新增公办学位（卢氏县）", "新增公办学位（义马市）"]


def test_lagging_citywide_total_is_listed_once_with_its_counties(tmp_path):
    k = ind("民生", 3, "1", "教育", "市教育局", "T1", "新增公办学位", "累计", "个", 2900, reporters=COUNTIES)
    rows = [row(k, CAT3, unit=u, target=D(500), value=100, completion="20.00", gap="-13.33", status="滞后",
                progress="") for u in COUNTIES[:2]]
    rows += [row(k, CAT3, unit=u, target=D(475), value=150, completion="31.58", gap="-1.75", status="序时推进",
                 progress="") for u in COUNTIES[2:]]
    rows.append(row(k, CAT3, unit="合计", value=800, completion="27.59", gap="-5.74", status="滞后", is_total=True))
    doc = report_doc(one_category(rows, units=list(COUNTIES) + ["市教育局"]), tmp_path)
    # the lagging total is listed once, in 附件1; its counties behind are said in the body
    assert [r[2:6] for r in attachment(doc, 1)[1:]] == [["新增公办学位", "27.59%", "33.33%", "低于序时进度5.74个百分点"]]
    three = body_after(doc, "三、")
    assert three.startswith("全市新增公办学位800个，完成全年2900个目标任务的27.59%。")
    assert "灵宝市新增公办学位100个，完成全年500个目标任务的20.00%，低于序时进度13.33个百分点" in three


def test_total_over_some_units_is_not_called_citywide(result, tmp_path):
    two = body_after(Document(str(write_report(result, tmp_path / "r.docx"))), "二、")
    assert "全市重点项目" not in two and "重点项目开工42个" in two


def test_narrative_and_figure_of_one_subject_run_on(tmp_path):
    k = ind("民生", 3, "1", "产业园", "灵宝市人民政府", "T1", "灵宝市现代农业产业园完成投资", "累计", "亿元", 27.6,
            decimals=0, phrase="灵宝市现代农业产业园项目已累计完成投资{本期完成}亿元，占计划投资的{完成率}%")
    r = row(k, CAT3, value="19.87", completion="72", gap="39", status="序时推进",
            progress="灵宝市现代农业产业园项目全面开工。")
    assert section(one_category([r]), tmp_path) == \
        "灵宝市现代农业产业园项目全面开工，已累计完成投资19.87亿元，占计划投资的72%。"  # the seed


def test_milestone_without_narrative_reads_as_a_sentence(tmp_path):
    k = ind("民生", 3, "1", "铁路", "市发展改革委", "T1", "三门峡至十堰铁路工程前期工作", "节点", "", None)
    r = row(k, CAT3, state="推进中", status="推进中")
    assert section(one_category([r]), tmp_path) == "三门峡至十堰铁路工程前期工作正在推进。"


def test_overdue_milestone_without_narrative(tmp_path):
    k = ind("民生", 3, "1", "矿山", "市自然资源和规划局", "T1", "印发“春霖”行动通知", "节点", "", None,
            due=date(2021, 3, 31), due_text="3月底")
    r = row(k, CAT3, state="推进中", status="逾期")
    doc = report_doc(one_category([r]), tmp_path)
    assert attachment(doc, 1)[1] == ["1", "矿山", "印发“春霖”行动通知", "推进中", "时限3月底", "已逾期", "市自然资源和规划局"]


def test_half_width_punctuation_and_spaces_are_made_chinese(tmp_path):
    k = ind("民生", 3, "1", "保税", "市商务局", "T1", "实际到位省外资金", "累计", "亿元", 420)
    r = row(k, CAT3, value="151.2", completion="36.00", gap="2.67", status="序时推进",
            progress="三门峡市保税物流中心(B型)已获批,梳理招商项目30余个;总投资 65 亿元,")
    three = section(one_category([r]), tmp_path)
    assert three.startswith("三门峡市保税物流中心（B型）已获批，梳理招商项目30余个；总投资65亿元。")
    assert not re.search(r"[,;()]|\s|。。|，。", three)


def test_opening_names_the_city_once(tmp_path):
    k = ind("民生", 3, "1", "稳就业", "市人社局", "T1", "城镇新增就业", "累计", "人", 37000)
    r = row(k, CAT3, value=14255, completion="38.53", gap="5.2", status="序时推进")
    basis = "《三门峡市人民政府办公室关于明确政府工作报告提出的2021年重点工作责任单位的通知》(三政办〔2021〕6号)"
    opening = next(t for t in report_pars(one_category([r], extra=[("依据文件", basis)]), tmp_path)
                   if t.startswith("按照"))
    assert opening.startswith("按照《三门峡市人民政府办公室关于明确政府工作报告提出的2021年重点工作责任单位的通知》"
                              "（三政办〔2021〕6号）文件要求，三门峡市2021年《政府工作报告》重点工作共分1大类")
    pars = report_pars(one_category([r]), tmp_path)  # basis from the issuer: the city is not said twice
    assert next(t for t in pars if t.startswith("按照")).startswith("按照三门峡市政府工作部署要求，2021年")


def test_no_auto_space_between_chinese_and_digits(doc):
    for par in doc.paragraphs:
        if par.text:
            ppr = par._p.pPr
            assert ppr.find(qn("w:autoSpaceDE")).get(qn("w:val")) == "0"
            assert ppr.find(qn("w:autoSpaceDN")).get(qn("w:val")) == "0"


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
    assert fonts <= {"仿宋_GB2312", "方正小标宋简体", "黑体", "楷体_GB2312"}
    assert {"黑体", "方正小标宋简体", "楷体_GB2312"} <= fonts
    for table in doc.tables:
        assert _runs_missing_east_asia(table._tbl) == []


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
    # the body follows the template's 正文; the 附件 labels keep their 黑体
    fonts = {r.font.element.rPr.rFonts.get(qn("w:eastAsia")) for r in body_runs if not r.text.startswith("附件")}
    assert fonts == {"楷体_GB2312"}


def test_builds_styles_without_template(result, tmp_path, monkeypatch):
    monkeypatch.setattr(report_mod, "REPO_TEMPLATE", tmp_path / "none1.docx")
    monkeypatch.setattr(report_mod, "PACKAGE_TEMPLATE", tmp_path / "none2.docx")
    doc = Document(str(write_report(result, tmp_path / "r.docx")))
    assert doc.styles["正文"].font.size == Pt(16)
    assert [p.text for p in doc.paragraphs if p.style.name == "标题"] == [
        result.registry.settings.title, "滞后和逾期事项", "报送情况"]


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


# -- fast paths of the document: the same XML as python-docx and lxml make ------------------


def test_plain_paragraphs_are_written_as_python_docx_writes_them(tmp_path):
    from toolkit.report.document import (
        STYLE_BODY,
        STYLE_HEADING1,
        STYLE_HEADING2,
        STYLE_TITLE,
        _open,
        _save_atomic,
        _Writer,
    )

    doc = _open(None)
    w = _Writer(doc)
    texts = ["", "一、正文", "A&B <c> “引号” 'x' ]]> 5>3", "控制\x01字符\x0b\ufffe删去", "长" * 5000, "a\tb", "两\n行"]
    for style in (STYLE_BODY, STYLE_TITLE, STYLE_HEADING1, STYLE_HEADING2):
        for text in texts:
            w.paragraph(text, style)
            w._python_docx_paragraph(text, style)
    _save_atomic(doc, tmp_path / "r.docx", w.deferred)
    xml = zipfile.ZipFile(tmp_path / "r.docx").read("word/document.xml").decode("utf-8")
    body = xml[xml.index("<w:body>") + len("<w:body>"):xml.index("<w:sectPr")]
    paragraphs = re.findall(r"<w:p>.*?</w:p>|<w:p/>", body, re.S)
    assert len(paragraphs) == 2 * 4 * len(texts)
    for fast, plain in zip(paragraphs[::2], paragraphs[1::2], strict=True):
        assert fast == plain
    assert "DUCHA-" not in xml


def test_table_rows_with_nothing_to_escape_are_written_as_cells_escaped_one_by_one():
    from toolkit.report.document import _table_rows, _xml_text

    rows = [["1", "重点工作", "指标名称很长很长很长", "23.33%"], ["2", "A&B", "<x>", "控制\x01"], ["3", "", "甲", "乙"]]
    fast = list(_table_rows([100, 200, 300, 400], "S", ("F1", "F2"), rows, 1))
    for row, xml in zip(rows, fast, strict=True):
        for value in row:
            assert f'preserve">{_xml_text(value)}</w:t>' in xml
    assert "A&amp;B" in fast[1] and "&lt;x&gt;" in fast[1] and "\x01" not in fast[1]


def test_the_chart_is_the_one_drawn_with_the_layout_engine_tight_layout_leaves(tmp_path, monkeypatch):
    from toolkit import charts

    if charts.find_cjk_font() is None:
        pytest.skip("no font with Chinese glyphs")
    from matplotlib.figure import Figure

    bars = [charts.Bar("一、创新驱动", D("42.5"), D("33.33")), charts.Bar("二、稳中求进", D("20"), D("33.33"))]
    quick = charts.progress_chart(bars, tmp_path / "quick.png")
    kept = Figure.set_layout_engine
    monkeypatch.setattr(Figure, "set_layout_engine",
                        lambda self, layout=None, **kw: None if layout is None else kept(self, layout, **kw))
    plain = charts.progress_chart(bars, tmp_path / "plain.png")
    assert quick is not None and plain is not None
    assert quick.read_bytes() == plain.read_bytes()
