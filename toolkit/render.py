"""Terminal renderings of library results (findings, a merge, a round's status).

Everything here renders a :class:`~toolkit.standing.Standing` (or findings) as text and
derives nothing: the counts are the ones the summary and the report print.
"""

from __future__ import annotations

from .findings import Finding
from .formatting import format_number
from .standing import Fate, Standing, UnitState
from .terminal import clip, format_table


def findings_table(findings: list[Finding]) -> str:
    # The message is the last column and is never cut: it says what to do.
    rows = [(i, f.level.value, f.code.name, f.sheet and clip(f.sheet, 16), f.cell, f.message)
            for i, f in enumerate(findings, 1)]
    return format_table(("序号", "级别", "代码", "工作表", "单元格", "说明"), rows,
                        ("right", "left", "left", "left", "left", "left"))


def _count_line(label: str, counts: list[tuple[str, int]]) -> str:
    return label + "，".join(f"{name} {n}" for name, n in counts if n)


def merge_summary(standing: Standing, *, outputs: bool = True) -> str:
    """What a merge tells the clerk at its end; ``outputs``: list the files written."""
    rnd = standing.round
    fates = [f.fate for f in standing.files]
    expected = standing.expected_units()
    lines = [
        "",
        f"轮次 {rnd.name}（统计截止 {rnd.cutoff:%Y-%m-%d}，序时进度 {format_number(standing.time_progress_shown)}%）",
        _count_line(f"收到文件 {len(fates)} 个：", [(str(fate), fates.count(fate)) for fate in Fate]) + "。",
        _count_line(f"应报送单位 {len(expected)} 个：",
                    [(str(state), sum(u.state is state for u in expected)) for state in UnitState]) + "。",
        _count_line("指标状态：", [(str(s), n) for s, n in standing.counts.most_common()]),
    ]
    for state in (UnitState.LATE, UnitState.MISSING, UnitState.EMPTY, UnitState.REJECTED):
        names = [u.name for u in standing.units_in(state)]
        if names:
            lines.append(f"{state}：" + "、".join(names))
    for f in standing.pending_files:
        sub = f.submission
        if f.fate in (Fate.REJECTED, Fate.EMPTY):
            lines.append(f"{f.fate}：{sub.file}：{sub.reason}")
        else:
            lines.append(f"待更正：{sub.unit} 的 {sub.file} 有 {f.errors} 处错误，相关数据未计入，已生成反馈文件。")
    attachments = [f.submission.file for f in standing.files if f.fate is Fate.ATTACHMENT]
    if attachments:
        lines.append("附件（已登记，不作为报表读取）：" + "、".join(attachments))
    attention = standing.attention()
    if attention:
        lines.append(f"需关注事项 {len(attention)} 项（见汇总表“滞后事项”）。")
    for warning in standing.registry_warnings:
        lines.append(f"任务台账提示：{warning}")
    changes = standing.registry_change_lines()
    if changes:
        lines.append(f"任务台账在模板下发后修改了 {len(changes)} 处（不计为填报单位的问题，详见校验报告“任务台账”）：")
        lines.extend(f"  {line}" for line in changes)
    if outputs and standing.outputs:
        lines.append("输出文件：")
        lines.extend(f"  {path}" for path in standing.outputs.values())
    return "\n".join(lines)


def status_table(standing: Standing) -> str:
    rnd = standing.round
    rows = []
    for u in standing.expected_units():
        sub = u.chosen.submission if u.chosen is not None else None
        state = str(u.state)
        if u.state is UnitState.MISSING and standing.now.date() > rnd.deadline:
            state += "（已逾期）"
        if u.pending_rows:
            state += f"（{u.pending_rows} 处待更正）"
        reason = sub.reason if sub is not None and not u.state.reported else ""
        code = u.unit.code if u.unit else ""
        rows.append((code, u.name, state, sub.received.strftime("%Y-%m-%d %H:%M") if sub and sub.received else "",
                     clip(sub.file, 40) if sub else "", clip(reason, 50)))
    counts = [(str(state), len(standing.units_in(state))) for state in UnitState]
    head = (f"轮次 {rnd.name}：报送截止 {rnd.deadline:%Y-%m-%d}，今天 {standing.now:%Y-%m-%d}。"
            + "，".join(f"{name} {n} 个" for name, n in counts if n))
    text = head + "\n" + format_table(("编号", "单位", "状态", "收到时间", "文件", "原因"), rows)
    unknown = [f.submission.file for u in standing.units if not u.expected for f in u.files]
    if unknown:
        text += "\n无法识别单位或不在本轮名单中的文件：" + "、".join(unknown)
    return text
