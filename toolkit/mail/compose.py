"""Outgoing mail: what each mail says (Chinese) and its bytes on the wire.

:class:`Outgoing` is one mail as a record: its once-only ``key``, kind, round, unit,
recipients, subject, body and attachments. :func:`render` turns it into RFC 5322
bytes that Outlook, Foxmail, WPS mail and webmail all show correctly:

* Subject, display names and attachment names as UTF-8 encoded words, split only at
  character boundaries, each word at most 75 characters;
* every attachment named twice, ``name="=?UTF-8?B?…?="`` on Content-Type *and*
  ``filename="=?UTF-8?B?…?="`` on Content-Disposition: the RFC 2231-only form the
  stdlib's ``add_attachment`` writes is shown by Outlook as an untitled attachment;
* bodies and attachments in base64, lines folded at 76 characters, CRLF throughout.

The wording builders (:func:`template_mail`, :func:`reminder_mail`, :func:`summary_mail`,
:func:`feedback_mail`) take records and return :class:`Outgoing`; sending and the
record of what was sent are :mod:`toolkit.mail.send` and :mod:`toolkit.mail.record`.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import format_datetime, make_msgid

from ..formatting import cn_date
from ..model import Round, Unit
from .settings import Contact

__all__ = [
    "Attachment",
    "MailKind",
    "Outgoing",
    "ReminderPhase",
    "feedback_mail",
    "new_message_id",
    "reminder_mail",
    "reminder_phase",
    "render",
    "round_label",
    "summary_mail",
    "template_mail",
]


class MailKind(str, enum.Enum):
    TEMPLATE = "模板"
    REMIND = "催报"
    FEEDBACK = "反馈"
    SUMMARY = "汇总"


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes
    content_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def __repr__(self) -> str:
        return f"Attachment(name={self.name!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class Outgoing:
    key: str  # sent at most once per key (see toolkit.mail.record)
    kind: MailKind
    round: str
    unit: str  # 单位名称; '' for the leaders
    to: tuple[str, ...]
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()
    to_name: str = ""  # display name on To (the unit's name)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_TYPES = {".xlsx": XLSX, ".docx": DOCX, ".xls": "application/vnd.ms-excel", ".pdf": "application/pdf",
          ".zip": "application/zip", ".txt": "text/plain"}


def content_type_for(name: str) -> str:
    suffix = name[name.rfind("."):].lower() if "." in name else ""
    return _TYPES.get(suffix, "application/octet-stream")


# ---------------------------------------------------------------------------------------
# bytes on the wire

_WORD_BYTES = 45  # 60 base64 characters + "=?UTF-8?B?" + "?=" = 72 ≤ 75


def _words(text: str) -> list[str]:
    """``text`` as UTF-8 B encoded words, never splitting a character."""
    words, chunk = [], b""
    for ch in text:
        data = ch.encode("utf-8")
        if len(chunk) + len(data) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += data
    if chunk or not words:
        words.append(chunk)
    return [f"=?UTF-8?B?{base64.b64encode(w).decode('ascii')}?=" for w in words]


def _header_text(text: str) -> str:
    """An unstructured header value: plain when printable ASCII, else folded encoded words."""
    text = re.sub(r"[\r\n\t]+", " ", text).strip()
    if text.isascii() and all(32 <= ord(c) < 127 for c in text) and len(text) < 900:
        return text
    return "\r\n ".join(_words(text))


def _param(key: str, value: str) -> str:
    value = re.sub(r"[\x00-\x1f\x7f]", "", value)
    if value.isascii():
        return f'{key}="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f'{key}="' + "\r\n ".join(_words(value)) + '"'


def _address(name: str, address: str) -> str:
    if not name:
        return address
    if name.isascii() and re.fullmatch(r"[\w .-]*", name):
        return f'"{name}" <{address}>'
    return f"{' '.join(_words(name))} <{address}>"


def _base64_lines(data: bytes) -> str:
    text = base64.b64encode(data).decode("ascii")
    return "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def new_message_id(sender: str, kind: MailKind) -> str:
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "ducha.local"
    tags = {MailKind.TEMPLATE: "template", MailKind.REMIND: "remind", MailKind.FEEDBACK: "feedback",
            MailKind.SUMMARY: "summary"}
    return make_msgid(idstring=f"ducha.{tags[kind]}", domain=domain)


def render(mail: Outgoing, *, sender: str, sender_name: str, message_id: str, when: datetime) -> bytes:
    """The RFC 5322 bytes of ``mail`` (CRLF line ends, ASCII only)."""
    to = ", ".join(_address(mail.to_name if len(mail.to) == 1 else "", a) for a in mail.to)
    headers = [
        f"From: {_address(sender_name, sender)}",
        f"To: {to}",
        f"Subject: {_header_text(mail.subject)}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        "X-Mailer: ducha",
    ]
    text_headers = ["Content-Type: text/plain; charset=\"UTF-8\"", "Content-Transfer-Encoding: base64"]
    body = _base64_lines(mail.body.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"))
    if not mail.attachments:
        lines = [*headers, *text_headers, "", body, ""]
        return "\r\n".join(lines).encode("ascii")
    boundary = "=_ducha_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]
    lines = [*headers, f'Content-Type: multipart/mixed;\r\n boundary="{boundary}"', "",
             "This is a multi-part message in MIME format.", "", f"--{boundary}", *text_headers, "", body]
    for att in mail.attachments:
        lines += [f"--{boundary}",
                  f"Content-Type: {att.content_type};\r\n {_param('name', att.name)}",
                  f"Content-Disposition: attachment;\r\n {_param('filename', att.name)}",
                  "Content-Transfer-Encoding: base64", "", _base64_lines(att.data)]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode("ascii")


# ---------------------------------------------------------------------------------------
# wording

def round_label(name: str) -> str:
    """``2021-04`` → ``2021年4月``; other round names as they are."""
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", name.strip())
    return f"{m.group(1)}年{int(m.group(2))}月" if m else name


def _signature(contact: Contact, today: date) -> list[str]:
    lines = [""]
    if contact.line():
        lines += [contact.line(), ""]
    return [*lines, contact.office, cn_date(today)]


class ReminderPhase(str, enum.Enum):
    BEFORE = "截止前"
    ON_THE_DAY = "截止当天"
    AFTER = "已逾期"


def reminder_phase(rnd: Round, today: date) -> ReminderPhase:
    if today < rnd.deadline:
        return ReminderPhase.BEFORE
    if today == rnd.deadline:
        return ReminderPhase.ON_THE_DAY
    return ReminderPhase.AFTER


def template_mail(*, rnd: Round, unit: Unit, rows: int, template: Attachment, contact: Contact,
                  reply_to: str, today: date) -> Outgoing:
    label = round_label(rnd.name)
    body = [
        f"{unit.name}：",
        "",
        f"现将{label}重点工作进展情况填报模板发给你单位（见附件“{template.name}”，共 {rows} 项），"
        f"请填写截至{cn_date(rnd.cutoff)}的进展情况，于{cn_date(rnd.deadline)}前将填好的表格回复本邮件"
        f"（或发送至 {reply_to}）。",
        "",
        "填写说明：",
        "1. 请直接在附件表格中填写浅色底纹的单元格，不要改动灰色单元格，不要增删行或工作表；",
        "2. 表格可用 Excel、WPS 或 LibreOffice 填写，文件名可以自行修改；",
        "3. 表格首页有详细填写说明，如有疑问请与我们联系。",
        *_signature(contact, today),
    ]
    return Outgoing(key=f"template:{rnd.name}:{unit.code}", kind=MailKind.TEMPLATE, round=rnd.name, unit=unit.name,
                    to=unit_addresses(unit.email), to_name=unit.name,
                    subject=f"关于报送{label}重点工作进展情况的通知（{unit.name}）", body="\n".join(body) + "\n",
                    attachments=(template,))


def reminder_mail(*, rnd: Round, unit: Unit, template: Attachment | None, contact: Contact,
                  reply_to: str, today: date) -> Outgoing:
    label = round_label(rnd.name)
    phase = reminder_phase(rnd, today)
    deadline = cn_date(rnd.deadline)
    attached = f"填报模板再次附上（“{template.name}”）。" if template else ""
    if phase is ReminderPhase.BEFORE:
        days = (rnd.deadline - today).days
        when = "明天" if days == 1 else f"{days} 天后"
        subject = f"【提醒】{label}重点工作进展情况请于{deadline}前报送（{unit.name}）"
        ask = (f"{label}重点工作进展情况的报送截止日期为{deadline}（{when}），截至目前尚未收到你单位符合要求的报表，"
               f"请按时填写并回复本邮件（或发送至 {reply_to}）。{attached}")
    elif phase is ReminderPhase.ON_THE_DAY:
        subject = f"【今日截止】{label}重点工作进展情况请于今天报送（{unit.name}）"
        ask = (f"今天（{deadline}）是{label}重点工作进展情况的报送截止日期，截至目前尚未收到你单位符合要求的报表，"
               f"请于今天下班前报送（回复本邮件或发送至 {reply_to}）。{attached}")
    else:
        days = (today - rnd.deadline).days
        subject = f"【逾期催报】{label}重点工作进展情况已逾期{days}天（{unit.name}）"
        ask = (f"{label}重点工作进展情况的报送截止日期（{deadline}）已过 {days} 天，仍未收到你单位符合要求的报表，"
               f"请尽快报送（回复本邮件或发送至 {reply_to}）。逾期报送的情况将在进展情况报告中说明。{attached}")
    body = [f"{unit.name}：", "", ask, "",
            "如已报送，可能是表格未通过校验而被退回，请查看退回邮件并按意见修改后重新报送。",
            *_signature(contact, today)]
    return Outgoing(key=f"remind:{rnd.name}:{unit.code}:{today.isoformat()}", kind=MailKind.REMIND, round=rnd.name,
                    unit=unit.name, to=unit_addresses(unit.email), to_name=unit.name, subject=subject,
                    body="\n".join(body) + "\n", attachments=(template,) if template else ())


def summary_mail(*, rnd: Round, leaders: tuple[str, ...], files: tuple[Attachment, ...],
                 contact: Contact, today: date) -> Outgoing:
    label = round_label(rnd.name)
    digest = hashlib.sha256(b"".join(bytes.fromhex(f.sha256) for f in files)).hexdigest()[:16]
    names = "、".join(f"“{f.name}”" for f in files)
    body = ["各位领导：", "",
            f"{label}重点工作进展情况（统计截至{cn_date(rnd.cutoff)}）已汇总完毕，汇总表和进展情况报告见附件（{names}）。"
            "汇总表首页列出了需要关注的事项、滞后指标和各单位报送情况，可直接打印。",
            *_signature(contact, today)]
    return Outgoing(key=f"summary:{rnd.name}:{digest}", kind=MailKind.SUMMARY, round=rnd.name, unit="", to=leaders,
                    subject=f"{label}重点工作进展情况汇总表和报告", body="\n".join(body) + "\n", attachments=files)


def feedback_mail(*, rnd: Round, unit: Unit, subject: str, body: str, marked: Attachment | None,
                  source_sha256: str) -> Outgoing:
    return Outgoing(key=f"feedback:{rnd.name}:{unit.code}:{source_sha256}", kind=MailKind.FEEDBACK, round=rnd.name,
                    unit=unit.name, to=unit_addresses(unit.email), to_name=unit.name, subject=subject, body=body,
                    attachments=(marked,) if marked else ())


def unit_addresses(cell: str) -> tuple[str, ...]:
    """The 邮箱 cell of 单位: one or several addresses separated by ; , 、 or spaces."""
    return tuple(a for a in re.split(r"[;；,，、\s]+", cell.strip()) if a)
