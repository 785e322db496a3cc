"""The four sending jobs of a round: templates, reminders, replies, the leaders' summary.

Each job builds its :class:`~toolkit.mail.compose.Outgoing` mails from the workspace
(the master's units and 设置, the round's files) and hands them to
:func:`~toolkit.mail.send.deliver`, which sends each at most once. The command line
(``ducha mail …``) and the timetable (``ducha schedule``) call these same functions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from ..errors import WorkspaceError
from ..model import Registry, Round, Unit
from ..templates import template_name
from ..workspace import Workspace
from .compose import (
    Attachment,
    Outgoing,
    content_type_for,
    feedback_mail,
    reminder_mail,
    summary_mail,
    template_mail,
)
from .parse import CHINA
from .record import MailRecord
from .send import Delivery, SendReport, deliver
from .settings import MailError, MailSettings, load_mail_settings, office_contact

__all__ = ["china_now", "send_feedback", "send_reminders", "send_summary", "send_templates"]

Log = Callable[[str], None]


def china_now() -> datetime:
    """The time in China as a naive datetime (how the rest of the toolkit keeps times)."""
    return datetime.now(CHINA).replace(tzinfo=None)


def _setup(ws: Workspace, round_name: str | None, now: datetime | None) -> tuple[Registry, Round, MailSettings, datetime]:
    registry = ws.registry()
    now = now or china_now()
    rnd = ws.pick_round(registry, round_name, now.date())
    return registry, rnd, load_mail_settings(ws.config()), now


def _send(ws: Workspace, registry: Registry, settings: MailSettings, mails: list[Outgoing], now: datetime,
          dry_run: bool, log: Log) -> SendReport:
    return deliver(ws.root, settings, mails, sender_name=settings.sender_name or registry.settings.issuer,
                   dry_run=dry_run, when=now.replace(tzinfo=CHINA) if now.tzinfo is None else now, log=log)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _template(ws: Workspace, rnd: Round, unit: Unit) -> Attachment | None:
    name = template_name(unit, rnd.name)
    data = _read(ws.templates(rnd.name) / name)
    return Attachment(name, data, content_type_for(name)) if data is not None else None


def send_templates(ws: Workspace, round_name: str | None = None, *, now: datetime | None = None,
                   dry_run: bool = False, log: Log = lambda _m: None) -> SendReport:
    """Every reporting unit its template for the round, with the deadline and the office's contact."""
    registry, rnd, settings, now = _setup(ws, round_name, now)
    contact = office_contact(registry)
    problems: list[str] = []
    mails = []
    for unit in registry.reporting_units():
        template = _template(ws, rnd, unit)
        if template is None:
            problems.append(f"没有找到{unit.name}的模板 {template_name(unit, rnd.name)}：请先运行 ducha templates -w "
                            f"{ws.root} -r {rnd.name}。")
            continue
        mails.append(template_mail(rnd=rnd, unit=unit, rows=len(registry.rows_for(unit.name)),
                                   template=template, contact=contact, reply_to=settings.sender or contact.email,
                                   today=now.date()))
    if not mails and problems:
        raise WorkspaceError(f"轮次 {rnd.name} 还没有模板：请先运行 ducha templates -w {ws.root} -r {rnd.name}。")
    report = _send(ws, registry, settings, mails, now, dry_run, log)
    report.problems[:0] = problems
    return report


def send_reminders(ws: Workspace, round_name: str | None = None, *, now: datetime | None = None,
                   dry_run: bool = False, fetch: bool = True, log: Log = lambda _m: None) -> SendReport:
    """A reminder to every reporting unit with no accepted return, worded for before, on and after
    the deadline. The mailbox is fetched first (when ``imap_host`` is set), so a unit whose return
    just arrived is not reminded; queued reminders of units that have since reported are cancelled."""
    from ..merge import accepted_units

    registry, rnd, settings, now = _setup(ws, round_name, now)
    report = SendReport()
    if fetch and settings.imap_host and not dry_run:
        from .fetch import fetch_returns

        fetched = fetch_returns(ws, rnd.name, now=now, log=log)
        if fetched.fatal:
            raise MailError(f"{fetched.fatal}（收件失败，为免误催已报单位，本次未发催报。）")
    done = accepted_units(ws, rnd.name, now)
    contact = office_contact(registry)
    mails = []
    with MailRecord(ws.root) as record:
        for old in record.unfinished(f"remind:{rnd.name}:"):
            unit = registry.unit_by_code(old.key.split(":")[2])
            if unit is not None and unit.name in done:
                record.cancel(old.key, "该单位已报送，不再催报")
                report.deliveries.append(Delivery(_placeholder(old.key, unit, rnd), "已取消", "该单位已报送"))
    for unit in registry.reporting_units():
        if unit.name in done:
            continue
        mails.append(reminder_mail(rnd=rnd, unit=unit, template=_template(ws, rnd, unit),
                                   contact=contact, reply_to=settings.sender or contact.email, today=now.date()))
    report.extend(_send(ws, registry, settings, mails, now, dry_run, log))
    return report


def _placeholder(key: str, unit: Unit, rnd: Round) -> Outgoing:
    from .compose import MailKind

    return Outgoing(key=key, kind=MailKind.REMIND, round=rnd.name, unit=unit.name, to=(), subject="催报", body="")


def send_feedback(ws: Workspace, round_name: str | None = None, *, now: datetime | None = None,
                  dry_run: bool = False, log: Log = lambda _m: None) -> SendReport:
    """Each pending reply of the last merge (``feedback/index.json``) to its unit, with the marked-up file."""
    registry, rnd, settings, now = _setup(ws, round_name, now)
    folder = ws.feedback(rnd.name)
    index_path = folder / "index.json"
    if not index_path.exists():
        raise WorkspaceError(f"轮次 {rnd.name} 还没有反馈文件：请先运行 ducha merge -w {ws.root} -r {rnd.name}。")
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WorkspaceError(f"无法读取 {index_path}（{exc}）：请重新运行 ducha merge。") from exc
    problems: list[str] = []
    mails = []
    for entry in index if isinstance(index, list) else []:
        if not isinstance(entry, dict) or not entry.get("pending"):
            continue
        unit = registry.unit_by_code(str(entry.get("unit_code") or "")) or registry.units.get(str(entry.get("unit") or ""))
        if unit is None:
            problems.append(f"文件“{entry.get('file', '')}”认不出报送单位，回复未发送：请直接联系发件单位。")
            continue
        text = _read(folder / str(entry.get("reply") or ""))
        if not entry.get("reply") or text is None:
            problems.append(f"没有找到给{unit.name}的回复正文 {entry.get('reply', '')}：请重新运行 ducha merge。")
            continue
        subject, body = _split_reply(text.decode("utf-8", "replace"), str(entry.get("subject") or ""))
        marked = None
        if entry.get("marked"):
            data = _read(folder / str(entry["marked"]))
            if data is None:
                problems.append(f"没有找到给{unit.name}的标注文件 {entry['marked']}：请重新运行 ducha merge。")
                continue
            marked = Attachment(str(entry["marked"]), data, content_type_for(str(entry["marked"])))
        mails.append(feedback_mail(rnd=rnd, unit=unit, subject=subject, body=body, marked=marked,
                                   source_sha256=str(entry.get("sha256") or entry.get("file"))))
    report = _send(ws, registry, settings, mails, now, dry_run, log)
    report.problems[:0] = problems
    return report


def _split_reply(text: str, fallback_subject: str) -> tuple[str, str]:
    """``主题：…`` on the first line, a blank line, then the body."""
    text = text.lstrip("\ufeff")
    first, _, rest = text.partition("\n")
    match = re.match(r"主题[：:]\s*(.*)", first)
    if match:
        return match.group(1).strip(), rest.lstrip("\r\n")
    return fallback_subject or "报表反馈", text


def send_summary(ws: Workspace, round_name: str | None = None, *, now: datetime | None = None,
                 dry_run: bool = False, log: Log = lambda _m: None) -> SendReport:
    """The summary workbook and the Word report of the round to the leaders (``[mail.leaders] to``)."""
    from ..merge import output_names

    registry, rnd, settings, now = _setup(ws, round_name, now)
    if not settings.leaders:
        raise MailError("还没有设置领导的邮箱：请在 ducha.toml [mail.leaders] to 中填写，如 to = [\"leader@example.gov.cn\"]。")
    names = output_names(rnd.name)
    files = []
    for key in ("summary", "report"):
        path = ws.output(rnd.name) / names[key]
        data = _read(path)
        if data is None:
            raise WorkspaceError(f"没有找到 {path}：请先运行 ducha merge -w {ws.root} -r {rnd.name}。")
        files.append(Attachment(path.name, data, content_type_for(path.name)))
    mail = summary_mail(rnd=rnd, leaders=settings.leaders, files=tuple(files),
                        contact=office_contact(registry), today=now.date())
    return _send(ws, registry, settings, [mail], now, dry_run, log)
