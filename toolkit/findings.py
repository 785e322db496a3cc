"""The catalogue of problems a return can have, and the record of one finding.

Every finding is a small frozen record with a stable code (an :class:`Code`
member). The Chinese message comes from one template per code, so this module is
the single readable table of everything the checks can say. ``docs/codes.md`` is
generated from it (``python scripts/gen_codes_doc.py``) and a test keeps the two
in agreement.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass


class Level(str, enum.Enum):
    """How serious a finding is."""

    REJECT = "拒收"  # the whole file is refused
    ERROR = "错误"  # the row's value is kept out of the merge (待更正)
    NOTICE = "提示"  # the value is merged; the clerk is told


class Code(enum.Enum):
    """Stable finding codes: (level, message template, what to do)."""

    # -- file level: the file is rejected -------------------------------------------------
    F101 = (Level.REJECT, "文件无法读取：{detail}", "请用 Excel 或 WPS 打开确认文件完好后重新报送。")
    F102 = (Level.REJECT, "不是有效的 Excel 文件（{detail}）", "请报送下发的 xlsx 模板，不要改扩展名。")
    F103 = (Level.REJECT, "文件已加密，请取消密码后重新报送", "在 Excel 中“文件—信息—保护工作簿”取消密码后另存。")
    F104 = (Level.REJECT, "文件为空或不完整（可能未下载完整）", "请重新下载或重新保存后报送。")
    F105 = (Level.REJECT, "文件大小 {detail} 超过上限", "请删除无关的图片和工作表后重新报送。")
    F106 = (Level.REJECT, "文件解压后体积异常（{detail}），疑似压缩炸弹", "请用下发的模板重新填写。")
    F107 = (Level.REJECT, "文件含有不安全的 XML 内容（{detail}）", "请用下发的模板重新填写。")
    F108 = (Level.REJECT, "工作表“{sheet}”声明的范围过大（{detail}）", "请用下发的模板重新填写。")
    F109 = (Level.REJECT, "读取超时（超过 {detail} 秒）", "请用下发的模板重新填写。")
    F110 = (Level.REJECT, "无法识别为本室下发的报表：{detail}", "请使用下发的模板填写，不要新建文件。")
    F111 = (Level.REJECT, "报表轮次为 {value}，不是本轮 {detail}", "请使用本轮下发的模板重新填写。")
    F112 = (Level.REJECT, "报表单位“{value}”{detail}", "请使用本单位的模板重新填写。")
    F113 = (Level.REJECT, "报表结构被改动：{detail}", "请勿增删、移动行或工作表，用下发的模板重新填写。")
    F114 = (Level.REJECT, "工作表“{sheet}”缺少表头“{detail}”", "请勿修改表头，用下发的模板重新填写。")
    F116 = (Level.REJECT, "报表为空表：本期完成、完成状态、进展情况等需填写的单元格全部为空，未填写任何内容",
            "请在黄色单元格中填写本期完成、进展情况等内容后重新报送；确无进展的请填“无”并在进展情况中说明。")
    F117 = (Level.REJECT, "“填报单位”填写为“{value}”，但本模板是下发给“{detail}”的",
            "请使用本单位的模板填写；代其他单位报送的，请使用该单位的模板，不要修改“填报单位”。")
    # -- row level: 错误 keeps the value out of the merge ---------------------------------
    E201 = (Level.ERROR, "“{column}”未填写", "请填写本期完成数；确无数据请填“无”。")
    E202 = (Level.ERROR, "“{column}”不是数字：{value}", "请只填写数字，例如 59 或 42.5。")
    E203 = (Level.ERROR, "“{column}”无法确定数值：{value}", "请填写一个确定的数字，不要填约数、区间或“见附件”。")
    E204 = (Level.ERROR, "节点任务未选择“完成状态”", "请在下拉列表中选择 已完成、推进中 或 未启动。")
    E205 = (Level.ERROR, "“完成状态”填写为 {value}，不在可选范围内", "请在下拉列表中选择 已完成、推进中 或 未启动。")
    E206 = (Level.ERROR, "比率类指标未填写“基数”", "请填写基数（如审批事项总数）。")
    E207 = (Level.ERROR, "本期完成 {value} 大于基数 {detail}", "请核对本期完成数和基数。")
    E208 = (Level.ERROR, "累计数 {value} 小于上一轮已报送的 {detail}", "累计类指标应填写年初至今的累计数，请核对。")
    E209 = (Level.ERROR, "单元格为错误值 {value}", "请修正公式或直接填写数字。")
    E210 = (Level.ERROR, "单元格是公式但没有计算结果", "请在 Excel 中重新计算并保存，或直接填写数字。")
    E211 = (Level.ERROR, "“{column}”不能为负数：{value}", "请核对数字；只有增速类指标可以为负。")
    E212 = (Level.ERROR, "计量单位“{value}”与本行的“{detail}”不一致且无法换算",
            "请换算成本行的计量单位后填写数字（单位可以不写）。")
    E213 = (Level.ERROR, "“{column}”{value}与年度目标相差悬殊：{detail}",
            "请核对数字和计量单位（万、亿等）后重新填写；如数字确实无误，请在“进展情况”中说明并告知督查室。")
    E214 = (Level.ERROR, "“{column}”{value}与上一轮已报送的数相差悬殊：{detail}",
            "请核对数字和计量单位（万、亿等）后重新填写；如数字确实无误，请在“进展情况”中说明并告知督查室。")
    E215 = (Level.ERROR, "比率类指标“本期完成”填写的比率 {value} 超过100%",
            "比率不能超过100%，请核对。“本期完成”应填分子数（如已办结事项数），“基数”填总数；只掌握比率时填不超过100%的百分数。")
    E216 = (Level.ERROR, "“进展情况”中的“{value}”与本行“本期完成”{detail}不一致",
            "请核对后使两处一致：“本期完成”填截至统计截止日期的数，进展情况中写到同一数字时应与之相同。")
    E217 = (Level.ERROR, "“基数”不能填写百分数：{value}", "“基数”应填总数（如审批事项总数），比率由督查室计算。")
    # -- notices: merged, the clerk is told ------------------------------------------------
    W301 = (Level.NOTICE, "已将 {value} 换算为 {detail}", "请确认换算无误。")
    W302 = (Level.NOTICE, "填写“{value}”，按本期无数据处理", "如有数据请补报。")
    W303 = (Level.NOTICE, "本期完成 {value} 与序时进度差距过大（{detail}）", "请核对是否多填或少填了位数、单位（万/亿）。")
    W304 = (Level.NOTICE, "完成时限为 {detail}，已填“已完成”但未写进展情况", "请补充完成情况说明。")
    W305 = (Level.NOTICE, "进展情况与上一轮完全相同", "请更新本期进展情况。")
    W306 = (Level.NOTICE, "未填写{column}", "请在表头填写填报人和联系电话，便于核实。")
    W307 = (Level.NOTICE, "报表缺少模板标识，已按表头和填报单位“{value}”识别", "今后请直接在下发的模板上填写。")
    W308 = (Level.NOTICE, "报送时间 {value} 晚于截止时间 {detail}", "请按时报送。")
    W309 = (Level.NOTICE, "同一单位有更晚的报表 {detail}，本文件已被替代（原件仍保留）", "无需处理。")
    W310 = (Level.NOTICE, "锁定单元格“{column}”被改为 {value}，以台账 {detail} 为准", "请勿修改灰色单元格。")
    W311 = (Level.NOTICE, "进展情况未填写", "请简要填写本期进展情况。")
    W312 = (Level.NOTICE, "与已收到的文件 {detail} 内容相同，未重复处理", "无需处理。")
    W313 = (Level.NOTICE, "百分数 {value} 已按 {detail} 读取", "请确认数值无误。")
    W314 = (Level.NOTICE, "表格外多出的内容“{value}”未读取", "如需说明，请写在对应行的“进展情况”或“存在问题”中。")
    W315 = (Level.NOTICE, "已作为附件登记（{detail}），不作为报表读取",
            "无需处理；如该单位的报表只在此文件中，请联系其按下发的模板报送表格。")
    W316 = (Level.NOTICE, "比率类指标“本期完成”填写了百分数 {value}，已按比率 {detail}% 读取（不作为数量）",
            "比率类指标“本期完成”一般填分子数（如已办结事项数），“基数”填总数；只掌握比率时可以直接填百分数。")

    @property
    def level(self) -> Level:
        return self.value[0]

    @property
    def template(self) -> str:
        return self.value[1]

    @property
    def advice(self) -> str:
        return self.value[2]


@dataclass(frozen=True)
class Finding:
    """One problem found in one file (and possibly one cell)."""

    code: Code
    file: str = ""
    unit: str = ""
    sheet: str = ""
    cell: str = ""
    value: str = ""
    message: str = ""

    @property
    def level(self) -> Level:
        return self.code.level

    def as_row(self) -> dict[str, str]:
        """The flat form used by the check report, --json and the terminal table."""
        return {
            "文件": self.file,
            "单位": self.unit,
            "工作表": self.sheet,
            "单元格": self.cell,
            "代码": self.code.name,
            "级别": self.level.value,
            "说明": self.message,
        }

    def to_json(self) -> dict[str, str]:
        data = asdict(self)
        data["code"] = self.code.name
        data["level"] = self.level.value
        return data


class FindingCounts:
    """Counts by level over ``self.findings``, for records that hold a file's findings."""

    findings: list[Finding]

    @property
    def rejected(self) -> bool:
        return any(f.level is Level.REJECT for f in self.findings)

    @property
    def errors(self) -> int:
        return sum(f.level is Level.ERROR for f in self.findings)

    @property
    def notices(self) -> int:
        return sum(f.level is Level.NOTICE for f in self.findings)


def where(file: str, sheet: str = "", cell: str = "") -> str:
    """Chinese location prefix: 文件“a.xlsx”工作表“一、…”单元格 H5."""
    parts = [f"文件“{file}”"] if file else []
    if sheet:
        parts.append(f"工作表“{sheet}”")
    if cell:
        parts.append(f"单元格 {cell}")
    return "".join(parts)


def make(code: Code, *, file: str = "", unit: str = "", sheet: str = "", cell: str = "",
         value: object = "", column: str = "", detail: object = "") -> Finding:
    """Build a finding, rendering its Chinese message from the code's template."""
    text = code.template.format(value=value, column=column, detail=detail, sheet=sheet)
    loc = where(file, sheet, cell)
    message = f"{loc}：{text}。{code.advice}" if loc else f"{text}。{code.advice}"
    return Finding(code=code, file=file, unit=unit, sheet=sheet, cell=cell,
                   value=str(value), message=message)


def catalogue() -> list[dict[str, str]]:
    """All codes as rows (for docs/codes.md and the check report's legend)."""
    return [
        {"代码": c.name, "级别": c.level.value, "说明": c.template, "处理办法": c.advice}
        for c in Code
    ]
