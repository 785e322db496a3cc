"""Terminal renderings of library results (findings, a merge, a round's status)."""

from __future__ import annotations

from collections import Counter

from .findings import Finding
from .model import LAGGING, RoundResult
from .store import clip, format_table


def findings_table(findings: list[Finding]) -> str:
    # The message is the last column and is never cut: it says what to do.
    rows = [(i, f.level.value, f.code.name, f.sheet and clip(f.sheet, 16), f.cell, f.message)
            for i, f in enumerate(findings, 1)]
    return format_table(("序号", "级别", "代码", "工作表", "单元格", "说明"), rows,
                        ("right", "left", "left", "left", "left", "left"))


def merge_summary(result: RoundResult) -> str:
    subs = result.submissions
    accepted = [s for s in subs if s.accepted and not s.reason]
    rejected = [s for s in subs if not s.accepted and not s.reason.startswith("与 ") and not s.attachment]
    repeated = [s for s in subs if s.reason.startswith("与 ")]
    attachments = [s for s in subs if s.attachment and not s.reason]
    statuses = Counter(r.status for r in result.headline())
    lines = [
        "",
        f"轮次 {result.round.name}（统计截止 {result.round.cutoff:%Y-%m-%d}，序时进度 {result.time_progress}%）",
        f"收到文件 {len(subs)} 个：接受 {len(accepted)} 个，拒收 {len(rejected)} 个"
        + (f"，与其他文件内容相同 {len(repeated)} 个" if repeated else "")
        + (f"，附件（非报表，仅登记）{len(attachments)} 个" if attachments else "") + "。",
        f"应报送单位 {len(result.expected_units)} 个：按时 {len(result.on_time_units)} 个，"
        f"逾期 {len(result.late_units)} 个，未报送 {len(result.missing_units)} 个。",
        "指标状态：" + "，".join(f"{k} {v}" for k, v in statuses.most_common()),
    ]
    if result.late_units:
        lines.append("逾期报送：" + "、".join(result.late_units))
    if result.missing_units:
        lines.append("未报送：" + "、".join(result.missing_units))
    for s in rejected:
        lines.append(f"拒收：{s.file}：{s.reason}")
    errors = [s for s in accepted if s.errors]
    for s in errors:
        lines.append(f"待更正：{s.unit} 的 {s.file} 有 {s.errors} 处错误，相关数据未计入，已生成反馈文件。")
    lagging = [r for r in result.headline() if r.status in LAGGING]
    if lagging:
        lines.append(f"需关注事项 {len(lagging)} 项（见汇总表“滞后事项”）。")
    lines.append("输出文件：")
    for path in result.outputs.values():
        lines.append(f"  {path}")
    return "\n".join(lines)


def status_table(status: dict) -> str:
    rnd = status["round"]
    rows = [(r["单位编号"], r["单位名称"], r["状态"], r["收到时间"], clip(r["文件"], 40), clip(r["原因"], 50))
            for r in status["rows"]]
    counts = Counter(r["状态"].split("（")[0] for r in status["rows"])
    head = (f"轮次 {rnd.name}：报送截止 {rnd.deadline:%Y-%m-%d}，今天 {status['today']:%Y-%m-%d}。"
            + "，".join(f"{k} {v} 个" for k, v in counts.items()))
    text = head + "\n" + format_table(("编号", "单位", "状态", "收到时间", "文件", "原因"), rows)
    if status["unidentified"]:
        text += "\n无法识别单位的文件：" + "、".join(s.file for s in status["unidentified"])
    return text
