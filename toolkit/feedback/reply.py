"""The short plain-text reply mail to a department about its return."""

from __future__ import annotations

from ..check import Outcome
from ..findings import Code, Finding, Level
from .marks import FEEDBACK_SHEET, _brief, _unit_name, feedback_name

MAX_LISTED = 10


def _where_short(finding: Finding) -> str:
    parts = []
    if finding.sheet:
        parts.append(f"“{finding.sheet}”表")
    if finding.cell:
        parts.append(finding.cell)
    return " ".join(parts)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _listing(found: list[Finding], limit: int = MAX_LISTED) -> list[str]:
    lines = []
    for i, f in enumerate(found[:limit], start=1):
        spot = _where_short(f)
        lines.append(f"  {i}. {spot + '：' if spot else ''}{_one_line(_brief(f))}")
    if len(found) > limit:
        lines.append(f"  ……另有 {len(found) - limit} 项，详见附件。")
    return lines


def reply_text(outcome: Outcome, *, office: str = "市政府督查室", round_name: str = "", deadline: str = "",
               attachment: str = "") -> tuple[str, str]:
    """(subject, body) of the plain-text reply to the department about ``outcome``.

    ``attachment`` is the marked-up file's name (default: what :func:`write_feedback`
    would call it).
    """
    unit = _unit_name(outcome)
    rnd = round_name or outcome.round
    what = f"{unit}报表" if unit else "报表"
    if rnd:
        what += f"（{rnd}）"
    attachment = attachment or (feedback_name(outcome.file) if outcome.file else "问题反馈.xlsx")
    rejects = [f for f in outcome.findings if f.level is Level.REJECT]
    errors = [f for f in outcome.findings if f.level is Level.ERROR]
    notices = [f for f in outcome.findings if f.level is Level.NOTICE]

    lines = [f"{unit}：" if unit else "您好：", ""]
    received = f"你单位报送的“{outcome.file}”已收到。" if outcome.file else "你单位报送的报表已收到。"
    if any(f.code is Code.F116 for f in rejects):
        subject = f"【空表】{what}为空表，请填写后重新报送"
        named = f"“{outcome.file}”" if outcome.file else "报表"
        lines.append(f"你单位报送的{named}为空表，未填写任何内容，请填写后重新报送。"
                     + (f"请于{deadline}前报送。" if deadline else ""))
        lines.append("请在下发模板的黄色单元格中填写本期完成、进展情况等内容；确无进展的请填“无”并在进展情况中说明。")
        lines += ["", office]
        return subject, "\n".join(lines) + "\n"
    if rejects:
        subject = f"【退回】{what}未被接收，请修改后重新报送"
        lines.append(received + "经检查，该文件未被接收，原因如下：")
        lines += _listing(rejects)
        lines.append("请修改后重新报送。" + (f"请于{deadline}前报送。" if deadline else ""))
    elif errors:
        subject = f"【待更正】{what}已接收，{len(errors)}项待更正"
        lines.append(received + f"经检查，文件已接收，但有 {len(errors)} 项错误待更正"
                     "（相关数据暂不纳入汇总）：")
        lines += _listing(errors)
        if notices:
            lines.append(f"另有 {len(notices)} 项提示，请一并核对。")
        lines.append("请更正后重新报送整份文件。" + (f"请于{deadline}前报送。" if deadline else ""))
    elif notices:
        subject = f"【已接收】{what}已接收，{len(notices)}项提示"
        lines.append(received + f"经检查，文件已接收，数据已纳入汇总。有 {len(notices)} 项提示，请留意：")
        lines += _listing(notices)
        lines.append(f"如需修改，请于{deadline}前重新报送。" if deadline else "如需修改，请修改后重新报送。")
    else:
        subject = f"【已接收】{what}已接收"
        lines.append(received + "经检查，文件已接收，未发现问题，数据已纳入汇总。感谢配合！")
    if outcome.findings:
        lines += ["", f"附件“{attachment}”是你单位报送的表格，问题处已标出："
                  f"首页“{FEEDBACK_SHEET}”列出全部问题，点击单元格位置可跳转；标红的单元格为错误，标黄的为提示，鼠标移到单元格上可查看说明。"
                  "可直接在附件上修改后报送。"]
    lines += ["", office]
    return subject, "\n".join(lines) + "\n"
