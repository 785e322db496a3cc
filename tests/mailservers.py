"""Real mail servers on loopback for the tests: aiosmtpd (SMTP) and pymap (IMAP).

Each server is started on a free 127.0.0.1 port by the test that needs it and always
stopped when the test ends (context managers). Certificates are generated per test
session with the ``openssl`` command (self-signed, valid for 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PASSWORD = "Abcd-1234-授权码".encode().hex()[:16]  # 授权码 are ASCII
LOGIN = "ducha@example.gov.cn"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert.pem, key.pem)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class SmtpServer:
    port: int
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered 550


class _Handler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd API
        if address.lower() in self.server.refuse:
            return "550 5.1.1 Mailbox not found"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        self.server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return f"250 OK queued as Q{len(self.server.received):04d}"


@contextlib.contextmanager
def smtp_server(*, starttls_cert: tuple[Path, Path] | None = None, implicit_tls_cert: tuple[Path, Path] | None = None,
                password: str = PASSWORD) -> Iterator[SmtpServer]:
    pytest.importorskip("aiosmtpd")
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    server = SmtpServer(port=free_port())

    def authenticator(_server, _session, _envelope, _mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == LOGIN \
            and auth_data.password.decode("utf-8") == password
        return AuthResult(success=ok, handled=False) if ok else AuthResult(success=False, handled=False)

    kwargs: dict = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": starttls_cert is not None}
    if starttls_cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, starttls_cert))
        kwargs.update(tls_context=context, require_starttls=True)
    controller_kwargs: dict = {}
    if implicit_tls_cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, implicit_tls_cert))
        controller_kwargs["ssl_context"] = context
        kwargs["auth_require_tls"] = False
    controller = Controller(_Handler(server), hostname="127.0.0.1", port=server.port, **controller_kwargs, **kwargs)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@contextlib.contextmanager
def imap_server(user: str = LOGIN, password: str = PASSWORD) -> Iterator[int]:
    """pymap's in-memory server on a free port; yields the port. Its demo mailbox holds a few plain mails."""
    pytest.importorskip("pymap")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from pymap.main import main; sys.exit(main())", "--host", "127.0.0.1", "--port", str(port), "--no-tls",
                             "dict", "--demo-data", "--demo-user", user, "--demo-password", password],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("pymap did not start: " + (proc.stderr.read().decode() if proc.stderr else "")) from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def imap_append(port: int, messages: list[tuple[bytes, object]], user: str = LOGIN, password: str = PASSWORD) -> None:
    """Deliver messages into INBOX as a mail server would (IMAP APPEND with an INTERNALDATE)."""
    from imapclient import IMAPClient

    with IMAPClient("127.0.0.1", port=port, ssl=False, timeout=10) as client:
        client.login(user, password)
        for raw, when in messages:
            client.append("INBOX", raw, flags=(), msg_time=when)
        client.logout()


def mail_config(*, smtp_port: int = 0, imap_port: int = 0, security: str = "none", ca_file: Path | None = None,
                leaders: tuple[str, ...] = ("leader1@example.gov.cn", "leader2@example.gov.cn"),
                extra: str = "") -> str:
    lines = ["[mail]", 'smtp_host = "127.0.0.1"', f"smtp_port = {smtp_port or 1}", f'smtp_security = "{security}"',
             'sender = "ducha@example.gov.cn"', 'password_env = "DUCHA_TEST_MAIL_PASSWORD"', "timeout = 10"]
    if imap_port:
        lines += ['imap_host = "127.0.0.1"', f"imap_port = {imap_port}", 'imap_security = "none"']
    if ca_file is not None:
        lines.append(f'ca_file = "{ca_file.as_posix()}"')
    lines += [extra, "", "[mail.leaders]", "to = [" + ", ".join(f'"{a}"' for a in leaders) + "]"]
    return "\n".join(lines) + "\n"
