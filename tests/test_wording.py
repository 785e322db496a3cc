"""Wording of one figure (describe) and joining clauses into a paragraph."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from toolkit.formatting import format_count, format_pct
from toolkit.model import KINDS, Indicator, ResultRow
from toolkit.wording import (
    DEFAULT_PHRASES,
    PLACEHOLDERS,
    Passage,
    cn_numeral,
    describe,
    join_clauses,
    placeholders,
    short_unit_name,
    tidy_punctuation,
    validate_phrase,
)

D = Decimal


def make(kind="累计", name="科技型中小企业备案", unit="家", target="140", phrase="", decimals=2,
         due=None, due_text="", **values) -> ResultRow:
    ind = Indicator(sheet="创新", row=3, task_no="1", task="任务", lead="市科技局", co="", code="K01",
                    name=name, kind=kind, unit=unit, target=None if target is None else D(target), due=due,
                    due_text=due_text, reporters=("市科技局",), decimals=decimals, phrase=phrase)
    nums = {k: (D(v) if isinstance(v, str) and k not in ("status", "state", "unit_name") else v)
            for k, v in values.items()}
    unit_name = nums.pop("unit_name", "市科技局")
    nums.setdefault("status", "序时推进")
    return ResultRow(round="2021-04", category="创新", category_title="一、创新", indicator=ind,
                     unit=unit_name, target=ind.target, **nums)


# -- defaults per kind ----------------------------------------------------------------------

DEFAULTS = [
    (make("累计", value="59", completion="42.14"), "科技型中小企业备案59家，完成全年140家目标任务的42.14%"),
    (make("累计", name="城镇新增就业", unit="万人", target="3.7", decimals=1, value="1.4255",
          completion="38.5"),
     "城镇新增就业1.4255万人，完成全年3.7万人目标任务的38.5%"),
    (make("比率", name="审批事项办结率", unit="项", target="90", value="1816", base="2124", ratio="85.50",
          status="未达标"), "审批事项办结率85.50%，低于90%的目标4.50个百分点"),
    (make("上限", name="全市城镇登记失业率", unit="%", target="4.5", value="3.42", status="达标"),
     "全市城镇登记失业率3.42%，低于4.5%的目标"),
    (make("下限", name="社会保障卡覆盖率", unit="%", target="90", value="94.7", status="达标"),
     "社会保障卡覆盖率94.7%，高于90%的目标"),
    (make("增速", name="地区生产总值增速", unit="%", target="7", decimals=1, value="8.2", gap="1.2",
          status="达标"),
     "地区生产总值增速8.2%，高于目标1.2个百分点"),
    (make("增速", name="地区生产总值增速", unit="%", target="7", decimals=1, value="6.2", gap="-0.8",
          status="未达标"), "地区生产总值增速6.2%，低于目标0.8个百分点"),
    (make("增速", name="地区生产总值增速", unit="%", target="7", decimals=1, value="7", gap="0",
          status="达标"),
     "地区生产总值增速7%，达到目标"),
    (make("节点", name="仰韶村考古遗址公园建成开放", unit="", target=None, state="已完成", status="已完成"),
     "仰韶村考古遗址公园建成开放已完成"),
]


@pytest.mark.parametrize(("row", "expected"), DEFAULTS, ids=[f"{r.indicator.kind}-{i}" for i, (r, _) in
                                                            enumerate(DEFAULTS)])
def test_default_wording_per_kind(row, expected):
    assert describe(row) == expected


def test_defaults_cover_every_kind_and_are_valid():
    assert set(DEFAULT_PHRASES) == set(KINDS)
    for text in DEFAULT_PHRASES.values():
        assert validate_phrase(text) == []


# -- every placeholder ---------------------------------------------------------------------

FULL = dict(value="59", base="140", last_year="38", completion="42.14", ratio="42.14", time_progress="33.33",
            gap="8.81", yoy="55.26", state="推进中", status="序时推进")

PLACEHOLDER_CASES = [
    ("指标名称", {}, "科技型中小企业备案"),
    ("单位名称", {}, "市科技局"),
    ("本期完成", {}, "59"),
    ("计量单位", {}, "家"),
    ("年度目标", {}, "140"),
    ("完成率", {}, "42.14"),
    ("序时进度", {}, "33.33"),
    ("差距", {}, "8.81"),
    ("差距", {"gap": "-8.33"}, "8.33"),
    ("比率", {}, "42.14"),
    ("基数", {}, "140"),
    ("上年同期", {}, "38"),
    ("同比", {}, "55.26"),
    ("同比", {"yoy": "-3.1"}, "-3.10"),
    ("同比表述", {}, "同比上升55.26%"),
    ("同比表述", {"yoy": "-3.1"}, "同比下降3.10%"),
    ("同比表述", {"yoy": "0"}, "与上年同期持平"),
    ("比较", {}, "高于"),
    ("比较", {"gap": "-8.33"}, "低于"),
    ("比较", {"gap": "0"}, "等于"),
    ("差距表述", {}, "高于序时进度8.81个百分点"),
    ("差距表述", {"gap": "-8.33"}, "低于序时进度8.33个百分点"),
    ("差距表述", {"gap": "0.00"}, "与序时进度持平"),
    ("目标表述", {"kind": "下限"}, "低于140家的目标81家"),
    ("目标表述", {"kind": "上限"}, "低于140家的目标"),
    ("完成状态", {}, "推进中"),
    ("完成时限", {}, "6月底"),
    ("状态", {}, "序时推进"),
]


def test_placeholder_cases_cover_every_placeholder():
    assert {name for name, _, _ in PLACEHOLDER_CASES} == set(PLACEHOLDERS)


@pytest.mark.parametrize(("name", "override", "expected"), PLACEHOLDER_CASES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(PLACEHOLDER_CASES)])
def test_each_placeholder(name, override, expected):
    row = make(phrase=f"【{{{name}}}】同比", due_text="6月底", **{**FULL, **override})
    assert placeholders(row)[name] == expected
    assert describe(row) == f"【{expected}】同比"


@pytest.mark.parametrize(("kind", "values", "expected"), [
    ("上限", {"value": "4.8", "status": "未达标"}, "超出控制目标0.30个百分点"),
    ("下限", {"value": "88", "status": "未达标"}, "低于目标2.00个百分点"),
    ("比率", {"value": "1816", "base": "2124", "ratio": "85.50"}, "低于目标4.50个百分点"),
])
def test_comparisons_against_target(kind, values, expected):
    target = "4.5" if kind == "上限" else "90"
    row = make(kind, unit="%", target=target, **values)
    assert placeholders(row)["差距表述"] == expected


def test_difference_in_units_when_not_percent():
    row = make("下限", name="新建燃气管道", unit="公里", target="3", value="2.1", status="未达标")
    assert placeholders(row)["差距表述"] == "低于目标0.9公里"


def test_due_from_date_when_no_text():
    row = make("节点", target=None, due=date(2021, 6, 30), state="推进中", status="推进中")
    assert placeholders(row)["完成时限"] == "2021年6月30日"


# -- templates: fallbacks, unknown names, 同比 ------------------------------------------------


def test_template_is_used_when_complete():
    row = make(phrase="科技型中小企业已备案{本期完成}{计量单位}，完成全年目标任务的{完成率}%",
               value="59", completion="42.14")
    assert describe(row) == "科技型中小企业已备案59家，完成全年目标任务的42.14%"


def test_missing_value_falls_back_to_default():
    row = make(phrase="{指标名称}{本期完成}{计量单位}，同比{同比表述}", value="59", completion="42.14")
    assert describe(row) == "科技型中小企业备案59家，完成全年140家目标任务的42.14%"


def test_default_without_target_uses_plainer_wording():
    row = make(target=None, value="59")
    assert describe(row) == "科技型中小企业备案59家"


@pytest.mark.parametrize("status", ["未报送", "待更正"])
def test_no_figure_gives_empty(status):
    assert describe(make(value=None, status=status)) == ""
    assert describe(make(value="59", completion="42.14", status=status)) == ""


def test_node_without_state_gives_empty():
    assert describe(make("节点", target=None, status="推进中")) == ""


def test_unknown_placeholder_left_as_written():
    row = make(phrase="{指标名称}{完成量}{本期完成}｛计量单位｝", value="59")
    assert describe(row) == "科技型中小企业备案{完成量}59家"


@pytest.mark.parametrize("phrase", ["{", "}", "{}", "{{指标名称}}", "{ 本期完成 }", "｛指标名称"])
def test_odd_templates_never_crash(phrase):
    assert isinstance(describe(make(phrase=phrase, value="59", completion="42.14")), str)


def test_yoy_appended_when_template_silent():
    row = make(phrase="全市共破获各类电信网络诈骗案件{本期完成}{计量单位}。", name="破获案件", unit="起",
               target=None, value="118", last_year="76", yoy="55.26")
    assert describe(row) == "全市共破获各类电信网络诈骗案件118起，同比上升55.26%"


def test_yoy_not_repeated_when_template_mentions_it():
    row = make(phrase="{指标名称}{本期完成}{计量单位}，较上年同比增长{同比}%", value="59", yoy="20.00")
    assert describe(row) == "科技型中小企业备案59家，较上年同比增长20.00%"


def test_total_with_missing_parts_says_so():
    row = make(value="42", completion="30.00", unit_name="合计", is_total=True, missing_parts=("卢氏县",))
    assert describe(row).endswith("（不含卢氏县数据）")


# -- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (D("59"), "59"), (D("1.42550"), "1.4255"), (D("435.50"), "435.5"), (D("1E+3"), "1000"),
    (D("0.000"), "0"), (D("-0"), "0"), (D("12445"), "12445"), (None, ""),
])
def test_format_count(value, expected):
    assert format_count(value) == expected


@pytest.mark.parametrize(("value", "places", "expected"), [
    (D("85.5"), 2, "85.50"), (D("42.14"), 2, "42.14"), (D("38.5"), 1, "38.5"), (D("272.25"), 1, "272.3"),
    (D("95"), 0, "95"), (D("-0.001"), 2, "0.00"), (D("1E+2"), 2, "100.00"),
])
def test_format_pct(value, places, expected):
    assert format_pct(value, places) == expected


def test_percentages_keep_row_decimals():
    row = make("比率", name="办结率", unit="项", target=None, value="1816", base="2124", ratio="85.5")
    assert describe(row) == "办结率85.50%"


def test_cn_numeral():
    assert [cn_numeral(n) for n in (1, 10, 11, 12, 20, 21)] == ["一", "十", "十一", "十二", "二十", "二十一"]


# -- validate_phrase ---------------------------------------------------------------------------


def test_validate_phrase():
    assert validate_phrase("{指标名称}{完成量}，{完成量}｛进度｝{ 完成率 }") == ["{完成量}", "｛进度｝"]
    assert validate_phrase("") == []
    assert validate_phrase("完成全年目标任务的{完成率}%") == []


# -- join_clauses ------------------------------------------------------------------------------


@pytest.mark.parametrize(("parts", "expected"), [
    (["甲", "乙。", "  ", "", "丙！"], "甲。乙。丙！"),
    (["已办结1816项", "已办结1816项。"], "已办结1816项。"),
    (["一是……；", "二是……"], "一是……；二是……。"),
    (["完成投资40.4亿元，", "任务。。"], "完成投资40.4亿元。任务。"),
    (["他说“完成了。”", "好"], "他说“完成了。”好。"),
    (["第一句。第二句。", "第二句。第三句"], "第一句。第二句。第三句。"),
    (["第一行\n第二行"], "第一行。第二行。"),
    (["English end."], "English end。"),
    ([], ""),
])
def test_join_clauses(parts, expected):
    assert join_clauses(parts) == expected


@pytest.mark.parametrize(("parts", "expected"), [
    (["已获批,梳理项目30余个;总投资 65 亿元,"], "已获批，梳理项目30余个；总投资65亿元。"),
    (["保税物流中心(B型)已获批"], "保税物流中心（B型）已获批。"),
    (["已办结1,816项，完成率 85.5 %"], "已办结1,816项，完成率85.5%。"),
    (["完成５９家，占４２．１４％"], "完成59家，占42.14%。"),
    (["会议定于9:30召开:地点待定"], "会议定于9:30召开：地点待定。"),
    (["任务，。", "好、；。"], "任务。好。"),
])
def test_join_clauses_makes_punctuation_chinese(parts, expected):
    assert join_clauses(parts) == expected


# -- punctuation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("完成投资435.5 亿元,占计划的47.82 %", "完成投资435.5亿元，占计划的47.82%"),
    ("《通知》(三政办〔2021〕6号)", "《通知》（三政办〔2021〕6号）"),
    ("已完成.下一步", "已完成。下一步"),
    ("1.引进人才", "1.引进人才"),
    ("新增1,816项", "新增1,816项"),
    ("完成，，任务；。", "完成，任务。"),
    ("English only, (as typed).", "English only, (as typed)."),
    ("Microsoft Office 软件", "Microsoft Office软件"),
    ("", ""),
])
def test_tidy_punctuation(text, expected):
    assert tidy_punctuation(text) == expected


# -- a department's sentence taking in the generated figure ------------------------------------------


@pytest.mark.parametrize(("host", "clause", "value", "unit", "expected"), [
    # the seed's sentences, from the department's words and the generated figure
    ("累计完成投资435.5亿元。", "累计完成投资435.5亿元，占年度计划的47.82%", "435.5", "亿元",
     "累计完成投资435.5亿元，占年度计划的47.82%。"),
    ("一季度已开（复）工338个。", "已开（复）工338个，开（复）工率95.48%", "338", "%",
     "一季度已开（复）工338个，开（复）工率95.48%。"),
    ("公铁桥年度计划投资2.5亿元，已完成1.75亿元。", "公铁桥年度计划投资2.5亿元，已完成1.75亿元，占计划投资的70%",
     "1.75", "亿元", "公铁桥年度计划投资2.5亿元，已完成1.75亿元，占计划投资的70%。"),
    # what the figure adds goes where the clause about it ends, before what follows
    ("全市普惠型小微企业贷款余额102.52亿元，累放贷款33.70亿元。",
     "全市普惠型小微企业贷款余额102.52亿元，高于年度100亿元的目标", "102.52", "亿元",
     "全市普惠型小微企业贷款余额102.52亿元，高于年度100亿元的目标，累放贷款33.70亿元。"),
    # the same quantity in another scale
    ("全市城镇新增就业14255人。", "全市城镇新增就业1.4255万人，完成全年3.7万人目标任务的38.5%", "1.4255", "万人",
     "全市城镇新增就业14255人，完成全年3.7万人目标任务的38.5%。"),
    ("发放科技贷款0.22亿元。", "发放市级科技贷款2200万元，完成全年5000万元目标任务的44.00%", "2200", "万元",
     "发放科技贷款0.22亿元，完成全年5000万元目标任务的44.00%。"),
    # nothing new: the passage stays as it is
    ("养老保险企业单位缴费费率从19%降至16%。", "养老保险企业单位缴费费率16%", "16", "%",
     "养老保险企业单位缴费费率从19%降至16%。"),
    ("已开工76个、开工率85.39%。", "项目已开工76个、开工率85.39%", "76", "%", "已开工76个、开工率85.39%。"),
    # digits inside names are not figures
    ("1—4月全市PM2.5平均浓度52微克/立方米。", "PM2.5平均浓度52微克/立方米，高于45微克/立方米的目标", "52",
     "微克/立方米", "1—4月全市PM2.5平均浓度52微克/立方米，高于45微克/立方米的目标。"),
    ("新建5G基站620个。", "新建5G基站620个，完成全年1500个目标任务的41.33%", "620", "个",
     "新建5G基站620个，完成全年1500个目标任务的41.33%。"),
])
def test_passage_absorbs_figure(host, clause, value, unit, expected):
    passage = Passage(host)
    assert passage.absorb(clause, D(value), unit)
    assert join_clauses([passage]) == expected


@pytest.mark.parametrize(("host", "clause", "value", "unit"), [
    ("已公告关闭5家、注销9家。", "关闭退出石料矿山5家，完成全年20家目标任务的25.00%", "5", "家"),  # enumeration
    ("有限公司（注册资本金5000万元）已组建。", "注册资本5000万元，完成全年1亿元目标任务的50%", "5000", "万元"),  # brackets
    ("已完成1.75亿元。", "公铁桥年度计划投资2.5亿元，已完成1.75亿元，占计划投资的70%", "1.75", "亿元"),  # says more
    ("新建5G基站620个。", "新建5G基站600个，完成全年1500个目标任务的40.00%", "600", "个"),  # another number
    ("审批任务2124项。", "审批事项办结率85.50%，低于90%的目标", "1816", "%"),  # no value in the clause
])
def test_passage_refuses_what_it_does_not_say(host, clause, value, unit):
    passage = Passage(host)
    assert not passage.absorb(clause, D(value), unit)
    assert passage.render() == host


def test_passage_keeps_order_of_figures_taken_in_at_one_place():
    passage = Passage("全市完成人工造林19.83万亩。")
    assert passage.absorb("完成人工造林19.83万亩，占造林总任务30.49万亩的65%", D("19.83"), "万亩")
    assert passage.absorb("完成人工造林19.83万亩，占上级下达人工造林任务18.04万亩的109.9%", D("19.83"), "万亩")
    assert passage.render() == "全市完成人工造林19.83万亩，占造林总任务30.49万亩的65%，占上级下达人工造林任务18.04万亩的109.9%。"


def test_strict_absorb_wants_the_same_words_before_the_number():
    assert not Passage("审核通过项目66个。").absorb("新建5G基站66个，完成全年100个目标任务的66.00%", 66, "个",
                                                strict=True)
    assert Passage("审核通过项目66个。").absorb("新建5G基站66个，完成全年100个目标任务的66.00%", 66, "个")
    assert Passage("全市完成人工造林19.83万亩。").absorb("完成人工造林19.83万亩，占总任务的65%", D("19.83"), "万亩",
                                                   strict=True)


def test_generated_passage_takes_in_at_its_end():
    passage = Passage("完成人工造林19.83万亩，占造林总任务30.49万亩的65%", generated=True)
    assert passage.absorb("完成人工造林19.83万亩，占上级下达任务18.04万亩的109.9%", D("19.83"), "万亩")
    assert passage.render() == "完成人工造林19.83万亩，占造林总任务30.49万亩的65%，占上级下达任务18.04万亩的109.9%"


@pytest.mark.parametrize(("text", "value", "unit", "expected"), [
    ("灵宝市完成人工造林5.62万亩。", "5.62", "万亩", True),
    ("灵宝市新增就业5620人。", "0.562", "万人", True),
    ("灵宝市完成人工造林5.62万亩，苗木成活率较高。", "5.62", "万亩", False),
    ("灵宝市完成人工造林5.62万亩，其中生态林3万亩。", "5.62", "万亩", False),
    ("甘棠学校建设有序推进。", "300", "个", False),
    ("", "1", "个", False),
])
def test_passage_restates(text, value, unit, expected):
    assert Passage(text).restates(D(value), unit) is expected


def test_continue_with_same_subject_only():
    passage = Passage("灵宝市现代农业产业园项目全面开工。")
    assert passage.continue_with("灵宝市现代农业产业园项目已累计完成投资19.87亿元，占计划投资的72%")
    assert join_clauses([passage]) == "灵宝市现代农业产业园项目全面开工，已累计完成投资19.87亿元，占计划投资的72%。"
    other = Passage("新增农民工返乡创业培训班5期。")
    assert not other.continue_with("新增农村转移劳动力4501人")
    assert not Passage("全社会研发经费投入增长较快。").continue_with("全社会研发经费投入增速16.2%，高于目标1.2个百分点")


# -- wording details -----------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "expected"), [
    ("推进中", "全民健身中心建设正在推进"), ("未启动", "全民健身中心建设尚未启动"), ("已完成", "全民健身中心建设已完成"),
])
def test_node_default_wording_is_a_sentence(state, expected):
    row = make("节点", name="全民健身中心建设", unit="", target=None, state=state, status=state)
    assert describe(row) == expected


def test_node_template_gets_the_raw_state():
    row = make("节点", name="全民健身中心建设", unit="", target=None, phrase="{指标名称}：{完成状态}",
               state="推进中", status="推进中")
    assert describe(row) == "全民健身中心建设：推进中"


def test_equal_to_target_reads_reached():
    row = make("上限", name="企业开办时间", unit="个工作日", target="1", value="1", status="达标")
    assert describe(row) == "企业开办时间1个工作日，达到1个工作日的目标"


def test_default_ignores_the_clerks_citywide_template():
    row = make(phrase="全市科技型中小企业已备案{本期完成}家", value="12", completion="30.00", unit_name="灵宝市人民政府")
    assert describe(row) == "全市科技型中小企业已备案12家"
    assert describe(row, default=True) == "科技型中小企业备案12家，完成全年140家目标任务的30.00%"


def test_missing_parts_named_briefly():
    row = make(value="42", completion="30.00", unit_name="合计", is_total=True,
               missing_parts=("卢氏县人民政府", "市林业局"))
    assert describe(row).endswith("（不含卢氏县、市林业局数据）")


@pytest.mark.parametrize(("name", "expected"), [
    ("卢氏县人民政府", "卢氏县"), ("市林业局", "市林业局"), ("人民政府", "人民政府"), ("", ""),
])
def test_short_unit_name(name, expected):
    assert short_unit_name(name) == expected


# -- 同比 of rates in percentage points ---------------------------------------------------------


@pytest.mark.parametrize(("kind", "unit", "yoy", "expected"), [
    ("增速", "%", "4.1", "同比提高4.10个百分点"),
    ("增速", "%", "-0.5", "同比回落0.50个百分点"),
    ("比率", "%", "2", "同比提高2.00个百分点"),
    ("上限", "%", "-0.04", "同比回落0.04个百分点"),
    ("下限", "%", "0", "与上年同期持平"),
    ("上限", "微克/立方米", "-10.34", "同比下降10.34%"),  # a level in its own unit: a relative change
    ("累计", "起", "55.26", "同比上升55.26%"),
])
def test_yoy_wording(kind, unit, yoy, expected):
    row = make(kind, unit=unit, target="5", value="3", ratio="80" if kind == "比率" else None, yoy=yoy)
    assert placeholders(row)["同比表述"] == expected
    assert describe(row).endswith(expected)


def test_yoy_help_texts_speak_of_points():
    assert "百分点" in PLACEHOLDERS["同比"] and "百分点" in PLACEHOLDERS["同比表述"]


# -- wording by meaning -----------------------------------------------------------------------


@pytest.mark.parametrize(("row", "expected"), [
    (make("上限", name="PM2.5平均浓度", unit="微克/立方米", target="45", decimals=1, value="52", status="未达标"),
     "PM2.5平均浓度52微克/立方米，超出45微克/立方米的控制目标7微克/立方米"),
    (make("上限", name="PM2.5平均浓度", unit="微克/立方米", target="45", decimals=1, value="40", status="达标"),
     "PM2.5平均浓度40微克/立方米，低于45微克/立方米的目标"),
    (make("上限", name="城镇登记失业率", unit="%", target="4.5", value="4.8", status="未达标"),
     "城镇登记失业率4.8%，超出4.5%的控制目标0.30个百分点"),
    (make("下限", name="空气质量优良天数比例", unit="%", target="70", decimals=1, value="65", status="未达标"),
     "空气质量优良天数比例65%，低于70%的目标5.0个百分点"),
    (make("下限", name="线上入驻金融机构", unit="家", target="25", value="20", status="未达标"),
     "线上入驻金融机构20家，低于25家的目标5家"),
    (make("增速", name="规模以上工业增加值增速", unit="%", target="7.5", decimals=1, value="6.1", gap="-1.4",
          status="未达标"), "规模以上工业增加值增速6.1%，低于目标1.4个百分点"),
    # judged and said on the exact value: a shortfall too small for the row's places still shows
    (make("比率", name="审批事项办结率", unit="%", target="90", ratio="89.996", status="未达标"),
     "审批事项办结率89.996%，低于90%的目标0.004个百分点"),
    (make("上限", name="城镇登记失业率", unit="%", target="4.5", value="4.501", status="未达标"),
     "城镇登记失业率4.501%，超出4.5%的控制目标0.001个百分点"),
])
def test_wording_follows_meaning(row, expected):
    assert describe(row) == expected


@pytest.mark.parametrize(("name", "phrase", "expected"), [
    ("专项债券资金需求", "", "专项债券资金需求93亿元，为全年150亿元目标的62.00%"),
    ("争取地方政府专项债券资金", "", "争取地方政府专项债券资金93亿元，为全年150亿元目标的62.00%"),
    ("拟签约项目投资", "", "拟签约项目投资93亿元，为全年150亿元目标的62.00%"),
    ("完成年度计划投资", "", "完成年度计划投资93亿元，完成全年150亿元目标任务的62.00%"),  # done, not a plan
    ("专项债券资金需求", "{指标名称}{本期完成}亿元，完成全年目标任务的{完成率}%",  # the clerk's words win
     "专项债券资金需求93亿元，完成全年目标任务的62.00%"),
])
def test_needs_and_plans_are_not_completion(name, phrase, expected):
    row = make("累计", name=name, unit="亿元", target="150", phrase=phrase, value="93", completion="62.00")
    assert describe(row) == expected


# -- no sentence says again what the department just said ---------------------------------------


def test_figure_said_in_chinese_numerals_is_not_said_twice():
    passage = Passage("企业开办已压缩为一个环节，一个工作日内。")
    assert passage.absorb("企业开办时间1个工作日，达到1个工作日的目标", "1", "个工作日")
    assert passage.render() == "企业开办已压缩为一个环节，一个工作日内。"


def test_chinese_numerals_are_figures_only_before_a_measure_word():
    from toolkit.wording import _numbers, cn_number
    assert [n for _, _, n in _numbers("新发展连翘种植三千五百亩，第一批项目进一步推进", words=True)] == [D(3500)]
    assert [n for _, _, n in _numbers("新发展连翘种植三千五百亩")] == []  # only when asked
    assert (cn_number("十二"), cn_number("两"), cn_number("二〇二一"), cn_number("三五百")) == (
        D(12), D(2), D(2021), None)


@pytest.mark.parametrize(("first", "second", "expected"), [
    ("国道209王官黄河大桥及连接线新建工程累计完成投资约5.81亿元，占总投资的19.69%。",
     "国道209王官黄河大桥及连接线新建工程年度累计完成投资约0.776亿元，占年度投资计划的12.93%",
     "国道209王官黄河大桥及连接线新建工程累计完成投资约5.81亿元，占总投资的19.69%，"
     "年度累计完成投资约0.776亿元，占年度投资计划的12.93%"),
    ("其中产业项目已开工37个、开工率80.43%。", "产业项目已支付资金2466.18万元、支付率16.92%。",
     "其中产业项目已开工37个、开工率80.43%，已支付资金2466.18万元、支付率16.92%"),
])
def test_same_subject_is_said_once(first, second, expected):
    passage = Passage(first)
    assert passage.continue_with(second)
    assert passage.render() == expected


@pytest.mark.parametrize(("first", "second"), [
    ("新发展连翘种植3500亩。", "新发展连翘管护2000亩"),  # the shared start is no whole subject
    ("全市城镇新增就业14255人。", "全市城镇登记失业率3.42%"),
    ("产业项目已开工37个。", "产业项目已开工37个"),  # nothing left to say
])
def test_different_subjects_are_not_joined(first, second):
    passage = Passage(first)
    assert not passage.continue_with(second)
    assert passage.render() == first


# -- the fast paths a province's report takes give what the plain definitions give ----------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from toolkit import wording  # noqa: E402
from toolkit.formatting import places_of  # noqa: E402

_PLAIN_NUMBER = re.compile(r"(?<![0-9A-Za-z.])[0-9]+(?:\.[0-9]+)?(?![0-9A-Za-z]|\.[0-9])")
_DIGITS = wording._CN_DIGITS
_PLAIN_CN_NUMBER = re.compile(
    f"(?<![第{_DIGITS}十百千两〇])[{_DIGITS}十两〇][{_DIGITS}十百千两〇]*(?=[{wording._CN_MEASURES}])")


@settings(max_examples=3000)
@given(st.text(alphabet="0123456789.aZ第一二十百千两〇个亩万，。中", max_size=14))
def test_figures_are_found_where_the_look_back_first_patterns_find_them(text):
    assert [m.span() for m in wording._NUMBER.finditer(text)] == [m.span() for m in _PLAIN_NUMBER.finditer(text)]
    assert [m.span() for m in wording._CN_NUMBER.finditer(text)] == [
        m.span() for m in _PLAIN_CN_NUMBER.finditer(text)]


_TIDY_MARKS = "已备案59家０１％．.。，,、；;：:！!？?()（）” 　\t\nab中"


def _rules_find_something(text: str) -> bool:
    """Whether any rule of tidy_punctuation has something to act on, its hints asked one by one."""
    w = wording
    return bool(w._ODD_CHARS_RE.search(text) or "．" in text or " " in text or "\t" in text or "\u3000" in text
                or "," in text or ":" in text or "." in text or w._END_HINT_RE.search(text)
                or "，，" in text or "、、" in text or "；；" in text)


@settings(max_examples=3000)
@given(st.text(alphabet=_TIDY_MARKS, max_size=16))
def test_a_sentence_is_settled_at_once_only_when_no_rule_has_anything_to_do(text):
    quick = not wording._LONE_MARK_RE.search(text) and not wording._marks_meet(text)
    if "！" in text or "？" in text:  # (left to the rules themselves)
        assert not quick
    else:
        assert quick == (not _rules_find_something(text))
    if wording._HAN_RE.search(text):
        assert wording._tidied.__wrapped__(text) == ((text, True) if quick else wording._tidied.__wrapped__(text))
        if quick:
            assert tidy_punctuation(text) == text


@given(st.text(alphabet="好。。！？”）a", max_size=14))
def test_sentences_cut_at_each_stop_found_directly_as_the_pattern_cuts(text):
    plain = re.split(r"(?<=[。！？])(?![”’」』）)》。！？])", text)
    assert wording._sentences(text) == plain
    assert wording._sentences(text.replace("！", "").replace("？", "")) == re.split(
        r"(?<=[。！？])(?![”’」』）)》。！？])", text.replace("！", "").replace("？", ""))


_DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=None, min_value=-10**9, max_value=10**9),
    st.builds(lambda i, e: D(i).scaleb(e), st.integers(-10**8, 10**8), st.integers(-8, 8)),
    st.sampled_from([D("-0"), D("-0.00"), D("0E-7"), D("1E+3"), D("12345678901234567890.5"), D("1E+30")]),
)


@settings(max_examples=3000)
@given(_DECIMALS, st.integers(0, 6))
def test_padded_percentages_are_the_rounded_ones(value, places):
    def outcome(f, *args):
        try:
            return f(*args)
        except ArithmeticError as exc:  # a figure too long for the context: the same error either way
            return type(exc)

    assert outcome(wording._shown_pct, value, places) == outcome(format_pct, value, max(places, places_of(value)))
    assert outcome(wording._count_text, value) == outcome(format_count, value)


@settings(max_examples=1000)
@given(st.sampled_from(["累计", "增速", "比率", "上限", "下限"]), _DECIMALS, st.integers(0, 4))
def test_a_gap_is_said_as_the_shown_figure_says_it(kind, gap, decimals):
    from toolkit.indicators import shown

    row = make(kind=kind, unit="%", target="50", decimals=decimals, value="40", completion="50",
               time_progress="33.33", ratio="40", gap=str(gap))
    diff = wording._difference(row)
    assert diff is not None
    value, _, points = diff
    values = placeholders(row)
    if points:
        nonzero = D(0) if value != 0 else None
        plain = wording.format_number(shown(abs(value), max(decimals, places_of(value)), above=nonzero))
        assert values["差距"] == plain


@pytest.mark.parametrize(("host", "clause", "value", "unit"), [
    ("累计完成投资435.5亿元。", "累计完成投资435.5亿元，占年度计划的47.82%", "435.5", "亿元"),
    ("新增公办学位七十个，进展顺利。", "卢氏县新增公办学位70个，完成全年300个目标任务的23.33%", "70", "个"),
    ("完成人工造林5.62万亩。", "灵宝市完成人工造林5.62万亩，低于序时进度3.00个百分点", "5.62", "万亩"),
    ("完成人工造林56200亩。", "灵宝市完成人工造林5.62万亩", "5.62", "万亩"),
])
def test_a_passage_told_its_clause_is_tidied_takes_it_in_as_one_not_told(host, clause, value, unit):
    told, asked = Passage(host), Passage(host)
    generated = Passage(clause, generated=True)
    assert generated.tidied and generated.settled
    assert told.absorb(generated.text, D(value), unit, settled=True) == asked.absorb(clause, D(value), unit)
    assert told.render() == asked.render()
    first, second = Passage("灵宝市现代农业产业园项目全面开工"), Passage("灵宝市现代农业产业园项目全面开工")
    follow = Passage("灵宝市现代农业产业园项目已累计完成投资19.87亿元")
    assert first.continue_with(follow.render(), settled=follow.settled) == second.continue_with(follow.render())
    assert first.render() == second.render() and not first.settled


def test_a_passage_not_tidied_as_it_came_is_not_said_to_be():
    passage = Passage("完成投资 5 亿元,进展顺利")
    assert not passage.tidied and passage.text == "完成投资5亿元，进展顺利"
