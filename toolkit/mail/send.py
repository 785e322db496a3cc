"""Handing mail to the SMTP server, exactly once, on record.

:func:`deliver` takes :class:`~toolkit.mail.compose.Outgoing` records and, for each one
whose key is not yet ``sent`` in the mail record: records it (``sending``), talks SMTP
(``MAIL FROM``/``RCPT TO``/``DATA``, keeping the server's final reply), and records the
outcome. A recipient refused by the server fails that mail only; a connection, login or
TLS failure stops the batch with one Chinese line naming the setting to fix. ``dry_run``
writes the mails as ``.eml`` files to ``rounds/<轮次>/outbox/`` and records nothing.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..store import atomic_write, safe_name
from .compose import Outgoing, new_message_id, render
from .parse import CHINA
from .record import MailRecord
from .settings import MailError, MailSettings, Security, describe_failure, server_text

__all__ = ["Delivery", "SendReport", "SmtpSession", "deliver"]

Log = Callable[[str], None]


@dataclass(frozen=True)
class Delivery:
    mail: Outgoing
    state: str  # 已发送 | 已发过 | 失败 | 已写入发件箱 | 已取消
    detail: str = ""  # server reply, failure reason, or the .eml path


@dataclass
class SendReport:
    deliveries: list[Delivery] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # Chinese lines for the clerk (no recipient, missing file…)
    fatal: str = ""  # why the batch stopped (one line naming the setting to fix)

    def count(self, state: str) -> int:
        return sum(1 for d in self.deliveries if d.state == state)

    @property
    def ok(self) -> bool:
        return not self.fatal and not self.count("失败")

    def extend(self, other: SendReport) -> None:
        self.deliveries += other.deliveries
        self.problems += other.problems
        self.fatal = self.fatal or other.fatal


class _Refused(Exception):
    """Every recipient of one mail was refused; the connection is still good."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


class SmtpSession:
    """One SMTP connection for a batch, opened on first use; each send returns the server's reply."""

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        s.need_smtp()
        password = s.password()
        host, port = s.smtp_address
        local = socket.getfqdn()
        if not local.isascii() or not local:  # a Chinese computer name breaks EHLO on Windows
            local = "localhost"
        if s.smtp_security is Security.SSL:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, local_hostname=local, timeout=s.timeout,
                                                  context=s.tls_context())
        else:
            smtp = smtplib.SMTP(host, port, local_hostname=local, timeout=s.timeout)
        try:
            smtp.ehlo()
            if s.smtp_security is Security.STARTTLS:
                smtp.starttls(context=s.tls_context())
                smtp.ehlo()
            if smtp.has_extn("auth"):
                smtp.login(s.login, password)
            elif s.smtp_security is not Security.NONE:
                raise MailError(f"发件服务器 {host}:{port} 不接受登录。请检查 ducha.toml [mail] smtp_host 和 smtp_security。")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> tuple[str, dict[str, str]]:
        """(the server's reply to DATA, refused recipients with the server's reason)."""
        if self.smtp is None:
            self.smtp = self._open()
        smtp = self.smtp
        code, resp = smtp.mail(sender)
        if code != 250:
            smtp.rset()
            raise smtplib.SMTPSenderRefused(code, resp, sender)
        refused: dict[str, str] = {}
        for address in recipients:
            code, resp = smtp.rcpt(address)
            if code not in (250, 251):
                refused[address] = f"{code} {server_text(resp)}"
        if len(refused) == len(recipients):
            smtp.rset()
            raise _Refused("；".join(f"{a}：{r}" for a, r in refused.items()))
        code, resp = smtp.data(raw)
        if code != 250:
            smtp.rset()
            raise smtplib.SMTPDataError(code, resp)
        return f"{code} {server_text(resp)}", refused


def _outbox_path(ws_root: Path, mail: Outgoing) -> Path:
    folder = ws_root / "rounds" / mail.round / "outbox"
    folder.mkdir(parents=True, exist_ok=True)
    parts = mail.key.split(":")
    slot = parts[3][:16] if len(parts) > 3 else ""
    name = "_".join(p for p in (mail.kind.value, mail.unit or "领导", slot) if p)
    return folder / safe_name(f"{name}.eml")


def deliver(root: Path, settings: MailSettings, mails: Sequence[Outgoing], *, sender_name: str,
            dry_run: bool = False, when: datetime | None = None, log: Log = lambda _m: None) -> SendReport:
    """Send every mail not yet sent (by key); see the module docstring."""
    report = SendReport()
    when = when or datetime.now(CHINA)
    if when.tzinfo is None:
        when = when.replace(tzinfo=CHINA)
    sender = settings.sender or "ducha@localhost"
    if not dry_run and mails:
        try:  # settings the clerk must fix stop the batch before anything is put on record
            settings.need_smtp()
            settings.password()
        except MailError as exc:
            report.fatal = str(exc)
            return report
    with MailRecord(root) as record, SmtpSession(settings) as session:
        for mail in mails:
            if not mail.to:
                report.problems.append(f"{mail.unit or '领导'}没有邮箱地址，{mail.kind.value}邮件未发送："
                                       + ("请在任务台账“单位”工作表填写邮箱。" if mail.unit else
                                          "请在 ducha.toml [mail.leaders] to 中填写领导的邮箱。"))
                continue
            if dry_run:
                prior = record.sent(mail.key)
                if prior is not None and prior.state == "sent":
                    report.deliveries.append(Delivery(mail, "已发过", prior.finished))
                    continue
                raw = render(mail, sender=sender, sender_name=sender_name,
                             message_id=prior.message_id if prior else new_message_id(sender, mail.kind), when=when)
                path = _outbox_path(root, mail)
                with atomic_write(path) as fh:
                    fh.write(raw)
                report.deliveries.append(Delivery(mail, "已写入发件箱", str(path)))
                continue
            state, prior = record.claim(mail, new_message_id(sender, mail.kind))
            if state == "sent" and prior is not None:
                report.deliveries.append(Delivery(mail, "已发过", prior.finished))
                continue
            if state == "busy":
                report.problems.append(f"“{mail.subject}”正由另一个 ducha 进程发送，本次跳过。")
                continue
            if prior is not None and prior.state == "sending":
                log(f"  上次发送“{mail.subject}”时中断，现以相同 Message-ID 重发。")
            claimed = record.sent(mail.key)
            assert claimed is not None
            raw = render(mail, sender=sender, sender_name=sender_name, message_id=claimed.message_id, when=when)
            try:
                reply, refused = session.send(raw, sender, mail.to)
            except _Refused as exc:
                text = f"收件地址被拒绝（{exc.text}）。请检查任务台账“单位”工作表中{mail.unit or '领导'}的邮箱。" \
                    if mail.unit else f"收件地址被拒绝（{exc.text}）。请检查 ducha.toml [mail.leaders] to。"
                record.failed(mail.key, text)
                report.deliveries.append(Delivery(mail, "失败", text))
                continue
            except (smtplib.SMTPException, OSError, ssl.SSLError, MailError) as exc:
                text = describe_failure(exc, settings)
                record.failed(mail.key, text)
                report.deliveries.append(Delivery(mail, "失败", text))
                report.fatal = text
                session.close()
                break
            note = ""
            if refused:
                note = "部分收件地址被拒绝：" + "；".join(f"{a}：{r}" for a, r in refused.items())
                report.problems.append(f"{mail.unit or '领导'}：{note}")
            record.after_send(mail.key, reply, note)
            report.deliveries.append(Delivery(mail, "已发送", reply))
            log(f"  已发送：{mail.subject} → {'、'.join(mail.to)}")
    return report
