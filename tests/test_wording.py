"""Wording of one figure (describe) and joining clauses into a paragraph."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from toolkit.model import KINDS, Indicator, ResultRow
from toolkit.wording import (
    DEFAULT_PHRASES,
    PLACEHOLDERS,
    cn_numeral,
    describe,
    format_count,
    format_pct,
    join_clauses,
    placeholders,
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
          status="未达标"), "审批事项办结率85.50%，低于90%的目标"),
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
    ("上限", {"value": "4.8", "status": "未达标"}, "高于目标0.30个百分点"),
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
