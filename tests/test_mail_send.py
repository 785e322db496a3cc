"""Sending through a real SMTP server on loopback (aiosmtpd): templates, feedback, summary; exactly once."""

from __future__ import annotations

import email
import email.policy
import json
import smtplib
from datetime import datetime
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from factories import make_workspace
from mailbuild import tiny_xlsx
from mailservers import PASSWORD, mail_config, make_cert, smtp_server

from toolkit.cli import main
from toolkit.mail.jobs import send_feedback, send_summary, send_templates
from toolkit.mail.parse import parse_message
from toolkit.mail.record import MailRecord
from toolkit.mail.settings import MailError, MailSettings, describe_failure, load_mail_settings
from toolkit.templates import template_name, write_templates

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
NOW = datetime(2021, 4, 30, 8, 30)
ENV = "DUCHA_TEST_MAIL_PASSWORD"


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_cert(tmp_path_factory.mktemp("cert"))


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, PASSWORD)
    ws = make_workspace(tmp_path, settings={"联系人": "王芳", "联系电话": "0398-2818001", "邮箱": "dcs@example.gov.cn"})
    registry = ws.registry()
    write_templates(registry, registry.round("2021-04"), ws.templates("2021-04"), now=NOW)
    return ws


def configure(ws, **kw) -> None:
    (ws.root / "ducha.toml").write_text(mail_config(**kw), encoding="utf-8")


def attachments(msg) -> list:
    return [p for p in msg.walk() if p.get_content_disposition() == "attachment"]


def compat32_name(part) -> str:
    """How code written for the old API reads a name: decode_header over get_filename()."""
    return str(make_header(decode_header(part.get_filename())))


def test_templates_over_plain_smtp_with_login(ws):
    registry = ws.registry()
    with smtp_server() as server:
        configure(ws, smtp_port=server.port)
        report = send_templates(ws, "2021-04", now=NOW)
        assert report.ok and report.count("已发送") == 4
        units = registry.reporting_units()
        assert sorted(r.rcpt_tos[0] for r in server.received) == sorted(u.email for u in units)
        assert all(r.mail_from == "ducha@example.gov.cn" for r in server.received)
        for got in server.received:
            unit = next(u for u in units if u.email == got.rcpt_tos[0])
            expected_name = template_name(unit, "2021-04")
            template = (ws.templates("2021-04") / expected_name).read_bytes()
            new = email.message_from_bytes(got.data, policy=email.policy.default)
            assert new["Subject"] == f"关于报送2021年4月重点工作进展情况的通知（{unit.name}）"
            assert unit.name in str(new["To"]) and "三门峡市政府督查室" in str(new["From"])
            body = new.get_body(("plain",)).get_content()
            assert "2021年5月8日前" in body and "截至2021年4月30日" in body
            assert "联系人：王芳，0398-2818001，dcs@example.gov.cn" in body
            [att] = attachments(new)
            assert att.get_filename() == expected_name
            assert att.get_content() == template  # byte-identical
            old = email.message_from_bytes(got.data, policy=email.policy.compat32)
            [att_old] = attachments(old)
            assert compat32_name(att_old) == expected_name
            assert att_old.get_param("name") and "=?UTF-8?B?" in att_old.get_param("name")  # Outlook reads name=
            assert att_old.get_payload(decode=True) == template
            ours = parse_message(got.data)
            assert [a.name for a in ours.attachments] == [expected_name] and ours.attachments[0].data == template
        again = send_templates(ws, "2021-04", now=NOW)
        assert again.count("已发过") == 4 and again.count("已发送") == 0
        assert len(server.received) == 4


def test_summary_over_starttls_with_self_signed_certificate(ws, cert):
    out = ws.output("2021-04")
    xlsx, docx = tiny_xlsx("汇总"), b"PK\x03\x04 a docx stand-in"
    (out / "汇总表_2021-04.xlsx").write_bytes(xlsx)
    (out / "进展情况报告_2021-04.docx").write_bytes(docx)
    with smtp_server(starttls_cert=cert) as server:
        configure(ws, smtp_port=server.port, security="starttls", ca_file=cert[0])
        report = send_summary(ws, "2021-04", now=datetime(2021, 5, 10, 9, 0))
        assert report.ok, report
        [got] = server.received
        assert sorted(got.rcpt_tos) == ["leader1@example.gov.cn", "leader2@example.gov.cn"]
        msg = email.message_from_bytes(got.data, policy=email.policy.default)
        assert msg["Subject"] == "2021年4月重点工作进展情况汇总表和报告"
        assert {a.get_filename(): a.get_content() for a in attachments(msg)} == {
            "汇总表_2021-04.xlsx": xlsx, "进展情况报告_2021-04.docx": docx}
        assert send_summary(ws, "2021-04", now=datetime(2021, 5, 10, 9, 5)).count("已发过") == 1
        assert len(server.received) == 1


def test_implicit_tls(ws, cert):
    (ws.output("2021-04") / "汇总表_2021-04.xlsx").write_bytes(b"x")
    (ws.output("2021-04") / "进展情况报告_2021-04.docx").write_bytes(b"y")
    with smtp_server(implicit_tls_cert=cert) as server:
        configure(ws, smtp_port=server.port, security="ssl", ca_file=cert[0])
        assert send_summary(ws, "2021-04", now=NOW).ok
        assert len(server.received) == 1


def test_wrong_password_is_one_line_and_retried_next_time(ws, monkeypatch, capsys):
    with smtp_server() as server:
        configure(ws, smtp_port=server.port)
        monkeypatch.setenv(ENV, "wrong")
        code = main(["mail", "templates", "-w", str(ws.root), "-r", "2021-04", "--now", "2021-04-30 08:30"])
        err = capsys.readouterr().out
        assert code == 2
        assert f"请检查环境变量 {ENV} 中的密码" in err and "授权码" in err and "Traceback" not in err
        assert server.received == []
        with MailRecord(ws.root) as record:
            states = {m.state for m in record.sent_mails("2021-04")}
        assert states == {"failed"}
        monkeypatch.setenv(ENV, PASSWORD)
        assert main(["mail", "templates", "-w", str(ws.root), "-r", "2021-04", "--now", "2021-04-30 08:40"]) == 0
        assert len(server.received) == 4
        with MailRecord(ws.root) as record:
            first = [m for m in record.sent_mails("2021-04") if m.unit == "市科技局"][0]
        assert first.state == "sent" and first.attempts == 2 and first.reply.startswith("250 OK queued as")


def test_refused_address_fails_that_mail_only(ws):
    with smtp_server() as server:
        server.refuse.add("d02@example.gov.cn")
        configure(ws, smtp_port=server.port)
        report = send_templates(ws, "2021-04", now=NOW)
        assert report.count("已发送") == 3 and report.count("失败") == 1 and not report.fatal
        [failed] = [d for d in report.deliveries if d.state == "失败"]
        assert failed.mail.unit == "市发展改革委" and "任务台账“单位”工作表" in failed.detail
        server.refuse.clear()
        again = send_templates(ws, "2021-04", now=NOW)
        assert again.count("已发送") == 1 and again.count("已发过") == 3
        assert len(server.received) == 4


def test_unreachable_server_and_tls_mismatch_name_the_setting(ws, cert):
    from mailservers import free_port

    configure(ws, smtp_port=free_port())
    report = send_templates(ws, "2021-04", now=NOW)
    assert "smtp_host" in report.fatal and "smtp_port" in report.fatal
    with smtp_server() as server:  # a plain server spoken to with TLS
        configure(ws, smtp_port=server.port, security="ssl")
        report = send_templates(ws, "2021-04", now=NOW)
        assert "smtp_security" in report.fatal
    with smtp_server(starttls_cert=cert) as server:  # a certificate the client does not trust
        configure(ws, smtp_port=server.port, security="starttls")
        report = send_templates(ws, "2021-04", now=NOW)
        assert "ca_file" in report.fatal and server.received == []


def test_interrupted_send_is_resent_with_the_same_message_id(ws):
    with smtp_server() as server:
        configure(ws, smtp_port=server.port)
        send_templates(ws, "2021-04", now=NOW, dry_run=True)  # nothing recorded by a dry run
        with MailRecord(ws.root) as record:
            assert record.sent_mails() == []
        # a process killed during the SMTP exchange leaves the row in 'sending'
        from toolkit.mail.compose import MailKind, Outgoing

        mail = Outgoing(key="template:2021-04:D01", kind=MailKind.TEMPLATE, round="2021-04", unit="市科技局",
                        to=("d01@example.gov.cn",), subject="s", body="b")
        with MailRecord(ws.root) as record:
            assert record.claim(mail, "<interrupted@example.gov.cn>")[0] == "claimed"
        busy = send_templates(ws, "2021-04", now=NOW)  # another process may still be talking to the server
        assert any("另一个 ducha 进程" in p for p in busy.problems) and busy.count("已发送") == 3
        with MailRecord(ws.root) as record:  # ... until the attempt is clearly stale
            record.db.execute("UPDATE sent SET attempted = '2021-04-30T08:00:00+08:00' WHERE key = ?", (mail.key,))
        lines: list[str] = []
        send_templates(ws, "2021-04", now=NOW, log=lines.append)
        assert any("中断" in line for line in lines)
        resent = [r for r in server.received if r.rcpt_tos == ["d01@example.gov.cn"]]
        assert len(resent) == 1 and b"Message-ID: <interrupted@example.gov.cn>" in resent[0].data


def test_dry_run_writes_eml_files_to_the_outbox(ws):
    configure(ws)
    report = send_templates(ws, "2021-04", now=NOW, dry_run=True)
    files = sorted((ws.round_dir("2021-04") / "outbox").glob("*.eml"))
    assert report.count("已写入发件箱") == 4 and len(files) == 4
    mail = parse_message(files[0].read_bytes())
    assert mail.subject.startswith("关于报送2021年4月") and mail.attachments[0].name.endswith("_2021-04.xlsx")


def test_feedback_from_the_index(ws):
    folder = ws.feedback("2021-04")
    marked = tiny_xlsx("问题反馈")
    (folder / "市科技局报表_问题反馈.xlsx").write_bytes(marked)
    (folder / "市科技局报表_回复.txt").write_text("主题：【待更正】市科技局报表（2021-04）已接收，1项待更正\n\n"
                                                  "市科技局：\n\n请更正后重新报送。\n", encoding="utf-8")
    (folder / "index.json").write_text(json.dumps([
        {"unit": "市科技局", "unit_code": "D01", "file": "市科技局报表.xlsx", "sha256": "a" * 64,
         "reply": "市科技局报表_回复.txt", "marked": "市科技局报表_问题反馈.xlsx", "subject": "", "pending": True},
        {"unit": "市发展改革委", "unit_code": "D02", "file": "old.xlsx", "sha256": "b" * 64, "reply": "",
         "marked": "old_问题反馈.xlsx", "subject": "", "pending": False},
    ], ensure_ascii=False), encoding="utf-8")
    with smtp_server() as server:
        configure(ws, smtp_port=server.port)
        report = send_feedback(ws, "2021-04", now=datetime(2021, 5, 10, 9, 0))
        assert report.count("已发送") == 1
        [got] = server.received
        msg = email.message_from_bytes(got.data, policy=email.policy.default)
        assert got.rcpt_tos == ["d01@example.gov.cn"]
        assert msg["Subject"] == "【待更正】市科技局报表（2021-04）已接收，1项待更正"
        assert msg.get_body(("plain",)).get_content().startswith("市科技局：")
        [att] = attachments(msg)
        assert att.get_filename() == "市科技局报表_问题反馈.xlsx" and att.get_content() == marked
        assert send_feedback(ws, "2021-04", now=datetime(2021, 5, 11, 9, 0)).count("已发过") == 1


def test_log_lists_the_mail(ws, capsys):
    with smtp_server() as server:
        configure(ws, smtp_port=server.port)
        send_templates(ws, "2021-04", now=NOW)
    assert main(["log", "--mail", "-w", str(ws.root), "-r", "2021-04"]) == 0
    out = capsys.readouterr().out
    assert "发出的邮件（4 封）" in out and "模板" in out and "d01@example.gov.cn" in out and "已发送" in out
    assert "250 OK queued as" in out and "SHA-256" in out


# ---------------------------------------------------------------------------------------
# settings and failure lines

def test_settings_are_checked():
    with pytest.raises(MailError, match="host"):
        load_mail_settings({"mail": {"host": "smtp.example.gov.cn"}})
    with pytest.raises(MailError, match="smtp_security"):
        load_mail_settings({"mail": {"smtp_security": "tls"}})
    with pytest.raises(MailError, match="smtp_port"):
        load_mail_settings({"mail": {"smtp_port": "465"}})
    with pytest.raises(MailError, match="leaders"):
        load_mail_settings({"mail": {"leaders": {"to": ["not an address"]}}})
    s = load_mail_settings({"mail": {"smtp_host": "smtp.163.com", "smtp_security": "STARTTLS", "sender": "a@163.com"}})
    assert s.smtp_address == ("smtp.163.com", 587) and s.login == "a@163.com" and s.imap_address[1] == 993
    with pytest.raises(MailError, match="DUCHA_NOT_SET"):
        MailSettings(password_env="DUCHA_NOT_SET").password()


def test_non_ascii_password_is_explained(monkeypatch):
    monkeypatch.setenv("DUCHA_P", "密码123")
    with pytest.raises(MailError, match="中文或全角字符"):
        MailSettings(password_env="DUCHA_P").password()


def test_sample_workspace_settings_load():
    from toolkit.workspace import Workspace

    s = load_mail_settings(Workspace(Path(__file__).resolve().parent.parent / "workbooks").config())
    assert s.smtp_host and s.sender and s.leaders


def test_gbk_server_replies_are_decoded():
    settings = MailSettings(smtp_host="smtp.163.com", sender="a@163.com", password_env="P")
    line = describe_failure(smtplib.SMTPAuthenticationError(535, "Error: 授权码错误（镕）".encode("gbk")), settings)
    assert "授权码错误（镕）" in line and "P" in line
    refused = smtplib.SMTPRecipientsRefused({"x@y.cn": (550, "用户不存在".encode("gbk"))})
    assert "用户不存在" in describe_failure(refused, settings)
    assert "用户不存在" in describe_failure(Exception("NO [b'\\xd3\\xc3\\xbb\\xa7\\xb2\\xbb\\xb4\\xe6\\xd4\\xda']"),
                                              settings, imap=True)


def test_reminders_skip_units_that_reported_and_cancel_queued_ones(ws, tmp_path):
    import os

    from factories import make_return
    from mailservers import free_port

    from toolkit.mail.jobs import send_reminders

    when = datetime(2021, 5, 7, 9, 0)
    configure(ws, smtp_port=free_port())  # the server is down: every reminder is queued as failed
    down = send_reminders(ws, "2021-04", now=when)
    assert down.fatal and down.count("失败") == 1  # the batch stops at the first connection failure
    with smtp_server() as server:
        configure(ws, smtp_port=server.port)
        failed_unit = down.deliveries[0].mail.unit
        path = ws.inbox("2021-04") / "return.xlsx"
        path.write_bytes(make_return(ws, tmp_path / "r", unit=failed_unit).read_bytes())
        os.utime(path, (datetime(2021, 5, 7, 8, 0).timestamp(),) * 2)
        report = send_reminders(ws, "2021-04", now=datetime(2021, 5, 7, 9, 30))
        assert [d.mail.unit for d in report.deliveries if d.state == "已取消"] == [failed_unit]
        assert report.count("已发送") == 3 and failed_unit not in {d.mail.unit for d in report.deliveries
                                                                if d.state == "已发送"}
        assert all(email.message_from_bytes(r.data, policy=email.policy.default)["Subject"].startswith("【提醒】")
                   for r in server.received)
        assert send_reminders(ws, "2021-04", now=datetime(2021, 5, 7, 16, 0)).count("已发过") == 3
        assert len(server.received) == 3
