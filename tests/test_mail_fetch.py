"""Collecting returns from a real IMAP server on loopback (pymap): names in every spelling, zips,
cover letters, mails without attachments, a renumbered mailbox, and a fetch killed mid-way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pytest
from factories import make_return, make_workspace
from mailbuild import PDF, foxmail_mail, outlook_mail, raw_gbk_mail, rfc2231_mail, text_part, zip_bytes
from mailservers import PASSWORD, imap_append, imap_server, mail_config

from toolkit.mail.fetch import fetch_returns
from toolkit.mail.parse import CHINA
from toolkit.mail.record import MailRecord
from toolkit.model import ArrivalBasis, Source
from toolkit.receipts import receipt_list

pytest.importorskip("pymap")
pytest.importorskip("imapclient")

ENV = "DUCHA_TEST_MAIL_PASSWORD"
NOW = datetime(2021, 5, 8, 18, 0)
ROOT = Path(__file__).resolve().parent.parent


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2021, 5, day, hour, minute, tzinfo=CHINA)


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, PASSWORD)
    return make_workspace(tmp_path)


def returns(ws, tmp_path) -> dict[str, bytes]:
    out = {}
    for unit in ("市科技局", "市发展改革委", "灵宝市人民政府", "卢氏县人民政府"):
        out[unit] = make_return(ws, tmp_path / "made", unit=unit).read_bytes()
    out["发改委3月"] = make_return(ws, tmp_path / "made", unit="市发展改革委", round="2021-03",
                                name="fgw-2021-03.xlsx").read_bytes()
    return out


def mailbox(data: dict[str, bytes]) -> list[tuple[bytes, datetime]]:
    """What the office's inbox holds in the first week of May."""
    no_attachment = b"From: d01@example.gov.cn\r\nSubject: =?UTF-8?B?" + __import__("base64").b64encode(
        "收到".encode()) + b"?=\r\nDate: Thu, 6 May 2021 09:00:00 +0800\r\n" + text_part("模板已收到，谢谢。", "UTF-8")
    only_pdf = foxmail_mail(sender="d02@example.gov.cn", sender_name="发改委", subject="情况说明", attachments=[
        ("情况说明.pdf", PDF)], message_id="<pdf-only@example.gov.cn>")
    return [
        (no_attachment, t(6, 9)),
        (outlook_mail(sender="D01@example.gov.cn", sender_name="市科技局 王建国", subject="市科技局2021年4月报表",
                      attachments=[("01_市科技局（镕）_2021-04.xlsx", data["市科技局"])],
                      message_id="<m1@example.gov.cn>"), t(7, 10, 33)),
        (foxmail_mail(sender="d02@example.gov.cn", sender_name="市发改委", subject="报表（喆）",
                      attachments=[("发改委报表.xlsx", data["市发展改革委"]), ("报送说明.pdf", PDF)],
                      message_id="<m2@example.gov.cn>"), t(7, 16, 5)),
        (only_pdf, t(7, 17)),
        (rfc2231_mail(sender="12345678@qq.com", subject="灵宝市报表", attachments=[
            ("03_灵宝市人民政府_2021-04_重点工作进展情况统计表（最终稿）.xlsx", data["灵宝市人民政府"])],
            message_id="<m3@qq.com>"), t(8, 11)),
        (raw_gbk_mail(sender="d04@example.gov.cn", sender_name="卢氏县政府办", subject="卢氏县报表",
                      attachments=[("卢氏县报表.xlsx", data["卢氏县人民政府"])], message_id="<m4@example.gov.cn>"),
         t(8, 23, 59)),
        (foxmail_mail(sender="d02@example.gov.cn", sender_name="市发改委", subject="补报3月报表",
                      attachments=[("补报.zip", zip_bytes([("3月报表.xlsx", data["发改委3月"]), ("说明.txt", b"x")]))],
                      message_id="<m5@example.gov.cn>"), t(8, 12)),
    ]


def configure(ws, port: int) -> None:
    (ws.root / "ducha.toml").write_text(mail_config(imap_port=port), encoding="utf-8")


def flags(port: int) -> dict[bytes, bool]:
    """Whether each message (by Message-ID) is \\Seen."""
    from imapclient import IMAPClient

    from toolkit.mail.parse import parse_message

    with IMAPClient("127.0.0.1", port=port, ssl=False) as client:
        client.login("ducha@example.gov.cn", PASSWORD)
        client.select_folder("INBOX", readonly=True)
        got = client.fetch(client.search(["SINCE", datetime(2021, 5, 1).date()]), ["FLAGS", "BODY.PEEK[HEADER]"])
        client.logout()
    return {parse_message(v[b"BODY[HEADER]"]).subject.encode(): b"\\Seen" in v[b"FLAGS"] for v in got.values()}


def test_fetch_takes_every_return_once(ws, tmp_path, monkeypatch):
    data = returns(ws, tmp_path)
    calls: list[tuple[str, object]] = []
    import imapclient

    for name in ("id_", "select_folder", "search"):
        original = getattr(imapclient.IMAPClient, name)

        def spy(self, *args, _name=name, _original=original, **kwargs):
            calls.append((_name, args))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(imapclient.IMAPClient, name, spy)
    with imap_server() as port:
        imap_append(port, mailbox(data))
        configure(ws, port)
        report = fetch_returns(ws, "2021-04", now=NOW)
        assert not report.fatal, report.fatal
        names = [c[0] for c in calls]
        assert names.index("id_") < names.index("select_folder")  # 163/Coremail need ID before SELECT
        assert all(str(arg).isascii() for name, args in calls if name == "search" for arg in args)
        april = {r.original_name: r for r in receipt_list(ws, "2021-04")}
        assert set(april) == {"01_市科技局（镕）_2021-04.xlsx", "发改委报表.xlsx",
                              "03_灵宝市人民政府_2021-04_重点工作进展情况统计表（最终稿）.xlsx", "卢氏县报表.xlsx"}
        by_name = {n: r for n, r in april.items()}
        first = by_name["01_市科技局（镕）_2021-04.xlsx"]
        assert first.source is Source.MAILBOX and first.basis is ArrivalBasis.MAIL
        assert first.sender == "d01@example.gov.cn" and first.arrived == t(7, 10, 33)
        assert by_name["卢氏县报表.xlsx"].arrived == t(8, 23, 59)
        assert first.stored is not None and first.stored.read_bytes() == data["市科技局"]
        march = receipt_list(ws, "2021-03")  # a late March return inside a zip lands in March, by content
        assert [r.original_name for r in march] == ["补报.zip/3月报表.xlsx"]
        assert march[0].stored.read_bytes() == data["发改委3月"]
        assert len(report.notices) == 1 and "12345678@qq.com" in report.notices[0] and "灵宝市人民政府" in report.notices[0]
        assert report.without_spreadsheet == 2
        seen = flags(port)
        assert seen["市科技局2021年4月报表".encode()] and seen["卢氏县报表".encode()]
        assert not seen["收到".encode()] and not seen["情况说明".encode()]  # left alone
        again = fetch_returns(ws, "2021-04", now=NOW)
        assert again.looked_at == 0 and again.taken == []
        assert len(receipt_list(ws, "2021-04")) == 4 and len(receipt_list(ws, "2021-03")) == 1


def test_renumbered_mailbox_rescans_without_doubling(ws, tmp_path):
    data = returns(ws, tmp_path)
    messages = mailbox(data)
    with imap_server() as port:
        imap_append(port, messages)
        configure(ws, port)
        assert len(fetch_returns(ws, "2021-04", now=NOW).taken) == 5
    late = outlook_mail(sender="d01@example.gov.cn", sender_name="市科技局", subject="更正",
                        attachments=[("更正.xlsx", make_return(ws, tmp_path / "fix", unit="市科技局",
                                                             values={"1-1-2": {"本期完成": 4}}).read_bytes())],
                        message_id="<fix@example.gov.cn>")
    with imap_server() as port:  # a new server: the same mails under a new UIDVALIDITY, plus one new
        imap_append(port, [*messages, (late, t(9, 8))])
        configure(ws, port)
        report = fetch_returns(ws, "2021-04", now=NOW)
        assert report.rescanned and not report.fatal
        assert len(receipt_list(ws, "2021-04")) == 5 and len(receipt_list(ws, "2021-03")) == 1
        assert fetch_returns(ws, "2021-04", now=NOW).looked_at == 0


def test_wrong_password_and_missing_folder_are_one_line(ws, tmp_path, monkeypatch):
    with imap_server() as port:
        configure(ws, port)
        monkeypatch.setenv(ENV, "wrong")
        report = fetch_returns(ws, "2021-04", now=NOW)
        assert ENV in report.fatal and "拒绝登录" in report.fatal
        monkeypatch.setenv(ENV, PASSWORD)
        (ws.root / "ducha.toml").write_text(mail_config(imap_port=port, extra='imap_folder = "报表"'),
                                            encoding="utf-8")
        report = fetch_returns(ws, "2021-04", now=NOW)
        assert "imap_folder" in report.fatal


KILLER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import toolkit.receipts as receipts
    from toolkit.mail.fetch import fetch_returns
    from toolkit.workspace import Workspace

    marker = Path(sys.argv[2])
    original = receipts.receive_bytes
    count = 0

    def receive_then_hang(*args, **kwargs):
        global count
        receipt = original(*args, **kwargs)   # durable on return
        count += 1
        if count == 2:                        # stored, but the message is not yet on record
            marker.write_text("stored")
            time.sleep(120)
        return receipt

    receipts.receive_bytes = receive_then_hang
    fetch_returns(Workspace(Path(sys.argv[1])), "2021-04")
""")


@pytest.mark.slow
def test_fetch_killed_mid_way_loses_and_doubles_nothing(ws, tmp_path):
    data = returns(ws, tmp_path)
    with imap_server() as port:
        imap_append(port, mailbox(data))
        configure(ws, port)
        marker = tmp_path / "marker"
        env = {**os.environ, ENV: PASSWORD, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-c", KILLER, str(ws.root), str(marker)], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while not marker.exists():
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()
        assert len(receipt_list(ws, "2021-04")) == 2  # two returns stored before the kill
        with MailRecord(ws.root) as record:
            assert [f.outcome for f in record.fetched_mails()].count("已收取") == 1  # the second mail not yet on record
        report = fetch_returns(ws, "2021-04", now=NOW)
        assert not report.fatal
        april = receipt_list(ws, "2021-04")
        assert len(april) == 4 and len({r.sha256 for r in april}) == 4
        assert len(receipt_list(ws, "2021-03")) == 1
        with MailRecord(ws.root) as record:
            rows = record.fetched_mails()
        assert len({(r.uidvalidity, r.uid) for r in rows}) == len(rows)  # every message once
        assert [r.outcome for r in rows].count("已收取") == 5
        assert fetch_returns(ws, "2021-04", now=NOW).looked_at == 0
