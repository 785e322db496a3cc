"""Mail reports as text for the terminal (the command line prints these; nothing is decided here)."""

from __future__ import annotations

from ..terminal import clip, format_table
from .fetch import FetchReport
from .record import FetchedMail, SentMail
from .send import SendReport

__all__ = ["fetch_text", "mail_log_text", "send_text"]


def send_text(report: SendReport, what: str, dry_run: bool = False) -> str:
    lines: list[str] = []
    for d in report.deliveries:
        who = d.mail.unit or "领导"
        if d.state == "已发送":
            lines.append(f"  已发送：{who} {'、'.join(d.mail.to)} 《{d.mail.subject}》")
        elif d.state == "已写入发件箱":
            lines.append(f"  已写入：{d.detail}")
        elif d.state == "失败":
            lines.append(f"  失败：{who}：{d.detail}")
        elif d.state == "已取消":
            lines.append(f"  不再催报：{who}（{d.detail}）")
    for p in report.problems:
        lines.append(f"  注意：{p}")
    done = report.count("已写入发件箱") if dry_run else report.count("已发送")
    verb = "写入发件箱（未发送）" if dry_run else "发送"
    summary = f"{what}：{verb} {done} 封"
    if report.count("已发过"):
        summary += f"，此前已发过 {report.count('已发过')} 封（不重发）"
    if report.count("失败"):
        summary += f"，失败 {report.count('失败')} 封（下次运行时重试）"
    lines.append(summary + "。")
    if report.fatal:
        lines.append(f"错误：{report.fatal}")
    return "\n".join(lines)


def fetch_text(report: FetchReport) -> str:
    lines = [f"  收取：{t.name}（{t.unit or '单位待识别'}，发件人 {t.sender or '不明'}，"
             f"{t.arrived:%Y-%m-%d %H:%M}）→ 轮次 {t.round}" if t.arrived else
             f"  收取：{t.name}（{t.unit or '单位待识别'}）→ 轮次 {t.round}" for t in report.taken]
    if report.rescanned:
        lines.append("  说明：邮箱文件夹已被服务器重新编号，已重新检查近期邮件（已收过的报表不会重复收取）。")
    lines += [f"  {n}" for n in report.notices]
    if report.fatal:
        lines.append(f"错误：{report.fatal}")
    else:
        lines.append(f"收取完成：新邮件 {report.looked_at} 封，收取报表 {len(report.taken)} 份，"
                     f"{report.without_spreadsheet} 封没有表格附件（未改动）。运行 ducha merge 校验合并。")
    return "\n".join(lines)


_STATES = {"sent": "已发送", "sending": "发送中断（下次重发）", "failed": "失败（下次重试）", "cancelled": "已取消"}


def mail_log_text(sent: list[SentMail], fetched: list[FetchedMail], round_name: str) -> str:
    out = [f"轮次 {round_name} 发出的邮件（{len(sent)} 封）："]
    if not sent:
        out.append("（暂无）")
    for i, m in enumerate(sent, 1):
        out.append(f"{i:>3}. {_short(m.finished or m.attempted)}  {m.kind}  {m.unit or '领导'}  "
                   f"{'、'.join(m.recipients)}  {_STATES.get(m.state, m.state)}  《{clip(m.subject, 60)}》")
        files = "；".join(f"{a['name']}（SHA-256 {a['sha256'][:12]}…）" for a in m.attachments) or "无"
        out.append(f"      附件：{files}")
        detail = m.error if m.state != "sent" else (m.reply + (f"；{m.error}" if m.error else ""))
        out.append(f"      Message-ID：{m.message_id}  尝试 {m.attempts} 次  服务器答复：{clip(detail, 120) or '—'}")
    mine = [f for f in fetched if any(x.get("round") == round_name for x in f.files)]
    out.append(f"\n从邮箱收取的报表（{sum(len(f.files) for f in mine)} 份）：")
    rows = [[x["name"], x.get("unit") or "", f.sender, _short(f.arrived), clip(f.subject, 30),
             clip(f.note.split("\n")[0], 40) if f.note else ""]
            for f in mine for x in f.files if x.get("round") == round_name]
    out.append(format_table(["文件", "单位", "发件人", "邮件时间", "邮件主题", "提示"], rows) if rows else "（暂无）")
    return "\n".join(out)


def _short(iso: str) -> str:
    return iso[:16].replace("T", " ") if iso else ""
