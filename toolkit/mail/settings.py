"""Mail settings (``ducha.toml`` ``[mail]``, ``[mail.leaders]``) and one-line Chinese errors.

No password is ever read from a file: ``password_env`` names the environment variable
that holds the password or 授权码 (QQ, 163 and 126 mail need an authorisation code, not
the web login password). Every failure a clerk can fix — a wrong password, a refused
address, an unreachable server, a TLS mismatch — becomes :class:`MailError` with one
line naming the setting to fix; replies from Chinese servers (often GBK) are decoded
as GB18030.
"""

from __future__ import annotations

import ast
import enum
import os
import re
import socket
import ssl
from dataclasses import dataclass, field, fields

from ..errors import DuchaError
from ..model import Registry
from .parse import decode_bytes

__all__ = [
    "Contact",
    "MailError",
    "MailSettings",
    "Security",
    "describe_failure",
    "load_mail_settings",
    "office_contact",
    "server_text",
]


class MailError(DuchaError):
    """Mail could not be sent or fetched; the message names the setting to fix."""


class Security(str, enum.Enum):
    SSL = "ssl"  # TLS from the first byte (SMTP 465, IMAP 993)
    STARTTLS = "starttls"  # plain connection upgraded (SMTP 587, IMAP 143)
    NONE = "none"  # no encryption (an intranet relay)


_SMTP_PORTS = {Security.SSL: 465, Security.STARTTLS: 587, Security.NONE: 25}
_IMAP_PORTS = {Security.SSL: 993, Security.STARTTLS: 143, Security.NONE: 143}
_ADDRESS = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")


@dataclass(frozen=True)
class MailSettings:
    smtp_host: str = ""
    smtp_port: int = 0  # 0: the usual port for smtp_security
    smtp_security: Security = Security.SSL
    imap_host: str = ""
    imap_port: int = 0
    imap_security: Security = Security.SSL
    imap_folder: str = "INBOX"
    username: str = ""  # login name; the sender's address when empty
    password_env: str = "DUCHA_MAIL_PASSWORD"
    sender: str = ""
    sender_name: str = ""  # display name; the 发文单位 of the master's 设置 when empty
    ca_file: str = ""  # a certificate (PEM) to trust besides the system's, e.g. an intranet CA
    timeout: float = 60.0
    leaders: tuple[str, ...] = field(default=())

    @property
    def login(self) -> str:
        return self.username or self.sender

    @property
    def smtp_address(self) -> tuple[str, int]:
        return self.smtp_host, self.smtp_port or _SMTP_PORTS[self.smtp_security]

    @property
    def imap_address(self) -> tuple[str, int]:
        return self.imap_host, self.imap_port or _IMAP_PORTS[self.imap_security]

    def password(self) -> str:
        value = os.environ.get(self.password_env, "") if self.password_env else ""
        if not value:
            raise MailError(f"没有邮箱密码：请先设置环境变量 {self.password_env or 'DUCHA_MAIL_PASSWORD'}（邮箱密码或授权码），"
                            "或在 ducha.toml [mail] password_env 中写明保存密码的环境变量名。")
        if not value.isascii():
            raise MailError(f"环境变量 {self.password_env} 中的密码含有中文或全角字符：邮箱登录只接受英文字母、数字和符号。"
                            "请检查是否多复制了文字，或改用邮箱的“授权码”。")
        return value

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_file:
            try:
                context.load_verify_locations(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise MailError(f"无法读取证书文件 {self.ca_file}（{exc}）。请检查 ducha.toml [mail] ca_file。") from exc
        return context

    def need_smtp(self) -> None:
        if not self.smtp_host:
            raise MailError("还没有设置发件服务器：请在 ducha.toml [mail] 中填写 smtp_host（如 smtp.163.com）。")
        if not self.sender:
            raise MailError("还没有设置发件人：请在 ducha.toml [mail] 中填写 sender（督查室的邮箱地址）。")

    def need_imap(self) -> None:
        if not self.imap_host:
            raise MailError("还没有设置收件服务器：请在 ducha.toml [mail] 中填写 imap_host（如 imap.163.com）。")
        if not self.login:
            raise MailError("还没有设置收件邮箱：请在 ducha.toml [mail] 中填写 sender 或 username。")


_KEYS = {f.name: f for f in fields(MailSettings) if f.name != "leaders"}


def load_mail_settings(config: dict) -> MailSettings:
    """``[mail]`` and ``[mail.leaders]`` of a workspace's parsed ducha.toml, checked."""
    section = config.get("mail", {})
    if not isinstance(section, dict):
        raise MailError("ducha.toml 中的 [mail] 应是一个设置段，请按示例填写。")
    kwargs: dict[str, object] = {}
    for key, value in section.items():
        if key == "leaders":
            continue
        if key not in _KEYS:
            raise MailError(f"ducha.toml 的 [mail] 中没有“{key}”这一项，可用的有：{'、'.join(_KEYS)}。")
        if key.endswith("_security"):
            try:
                kwargs[key] = Security(str(value).strip().lower())
            except ValueError:
                raise MailError(f"ducha.toml [mail] {key} 应为 ssl、starttls 或 none，现为“{value}”。") from None
        elif key.endswith("_port"):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
                raise MailError(f"ducha.toml [mail] {key} 应为端口号（如 465），现为“{value}”。")
            kwargs[key] = value
        elif key == "timeout":
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise MailError(f"ducha.toml [mail] timeout 应为正数（秒），现为“{value}”。")
            kwargs[key] = float(value)
        else:
            if not isinstance(value, str):
                raise MailError(f"ducha.toml [mail] {key} 应为文字（用英文双引号括起来），现为“{value}”。")
            kwargs[key] = value.strip()
    sender = str(kwargs.get("sender", ""))
    if sender and not _ADDRESS.match(sender):
        raise MailError(f"ducha.toml [mail] sender“{sender}”不是邮箱地址，请改为如 ducha@example.gov.cn。")
    leaders = section.get("leaders", {})
    to = leaders.get("to", []) if isinstance(leaders, dict) else []
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not all(isinstance(a, str) for a in to):
        raise MailError("ducha.toml [mail.leaders] to 应为邮箱地址列表，如 to = [\"leader@example.gov.cn\"]。")
    bad = [a for a in to if not _ADDRESS.match(a.strip())]
    if bad:
        raise MailError(f"ducha.toml [mail.leaders] to 中“{bad[0]}”不是邮箱地址，请修改。")
    kwargs["leaders"] = tuple(a.strip() for a in to)
    return MailSettings(**kwargs)  # type: ignore[arg-type]  # checked key by key above


def valid_address(address: str) -> bool:
    return bool(_ADDRESS.match(address.strip()))


@dataclass(frozen=True)
class Contact:
    """The issuing office as the master's 设置 names it."""

    office: str
    person: str = ""
    phone: str = ""
    email: str = ""

    def line(self) -> str:
        parts = [p for p in (self.person, self.phone, self.email) if p]
        return "联系人：" + "，".join(parts) if parts else ""


def office_contact(registry: Registry) -> Contact:
    extra = dict(registry.settings.extra)
    return Contact(office=registry.settings.issuer, person=extra.get("联系人", "").strip(),
                   phone=extra.get("联系电话", "").strip(), email=extra.get("邮箱", "").strip())


# ---------------------------------------------------------------------------------------
# failures in one Chinese line

def server_text(reply: object) -> str:
    """A server's reply as text: bytes decoded (UTF-8, else GB18030), ``b'...'`` reprs undone."""
    if isinstance(reply, bytes):
        text = decode_bytes(reply)
    else:
        text = str(reply)

        def undo(match: re.Match[str]) -> str:
            try:
                value = ast.literal_eval(match.group(0))
            except (ValueError, SyntaxError):
                return match.group(0)
            return decode_bytes(value) if isinstance(value, bytes) else match.group(0)

        text = re.sub(r"b'(?:[^'\\]|\\.)*'|b\"(?:[^\"\\]|\\.)*\"", undo, text)
    return re.sub(r"\s+", " ", text).strip()[:300]


def describe_failure(exc: BaseException, settings: MailSettings, *, imap: bool = False) -> str:
    """One Chinese line for a failure talking to the mail server, naming the setting to fix."""
    import smtplib

    kind = "imap" if imap else "smtp"
    host, port = settings.imap_address if imap else settings.smtp_address
    where = f"{'收件' if imap else '发件'}服务器 {host}:{port}"
    if isinstance(exc, MailError):
        return str(exc)
    if isinstance(exc, smtplib.SMTPAuthenticationError) or _is_login_failure(exc):
        reply = server_text(getattr(exc, "smtp_error", exc))
        return (f"{where} 拒绝登录（{reply}）。请检查环境变量 {settings.password_env} 中的密码"
                f"（QQ、163、126 等邮箱须用“授权码”），以及 ducha.toml [mail] username（未填时用 sender：{settings.login}）。")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return (f"{where} 拒绝发件人 {settings.sender}（{server_text(exc.smtp_error)}）。"
                "请检查 ducha.toml [mail] sender：一般须与登录的邮箱一致。")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "；".join(f"{addr}：{server_text(reply[1])}" for addr, reply in exc.recipients.items())
        return f"收件地址被拒绝（{refused}）。请检查任务台账“单位”工作表的邮箱，或 ducha.toml [mail.leaders] to。"
    if isinstance(exc, smtplib.SMTPNotSupportedError) or "STARTTLS" in str(exc).upper() and not isinstance(exc, ssl.SSLError):
        return (f"{where} 不支持 STARTTLS（{server_text(exc)}）。"
                f"请检查 ducha.toml [mail] {kind}_security（465/993 端口一般为 ssl，587/143 为 starttls）。")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"{where} 的证书无法验证（{exc.verify_message or exc}）。请核对 ducha.toml [mail] {kind}_host 是否为服务器的正式名称；"
                "如单位使用自签证书，请在 ca_file 中写明证书文件。")
    if isinstance(exc, ssl.SSLError):
        return (f"与{where} 的加密连接失败（{exc.reason or exc}）。请检查 ducha.toml [mail] {kind}_security 与 {kind}_port 是否匹配"
                "（465/993 端口一般为 ssl，587/143 为 starttls）。")
    if isinstance(exc, socket.gaierror):
        return f"找不到{where}（域名无法解析）。请检查 ducha.toml [mail] {kind}_host 和本机网络。"
    if isinstance(exc, (ConnectionRefusedError, TimeoutError, socket.timeout)):
        what = "拒绝连接" if isinstance(exc, ConnectionRefusedError) else "连接超时"
        return f"{where} {what}。请检查 ducha.toml [mail] {kind}_host、{kind}_port 和本机网络（防火墙可能拦截了该端口）。"
    if isinstance(exc, smtplib.SMTPResponseException):
        return (f"{where} 答复错误（{exc.smtp_code} {server_text(exc.smtp_error)}）。"
                f"请检查 ducha.toml [mail] 的设置，稍后重试。")
    if isinstance(exc, (smtplib.SMTPException, OSError)):
        return (f"与{where} 通信失败（{server_text(exc) or type(exc).__name__}）。"
                f"请检查 ducha.toml [mail] {kind}_host、{kind}_port、{kind}_security 和本机网络，稍后重试。")
    return f"与{where} 通信失败（{server_text(exc) or type(exc).__name__}）。请检查 ducha.toml [mail] 的设置后重试。"


def _is_login_failure(exc: BaseException) -> bool:
    name = type(exc).__name__
    return name == "LoginError" or (name in ("error", "IMAP4.error") and "LOGIN" in str(exc).upper())
