"""Outgoing mail: wording by phase, and bytes every mailer reads (structure checked, never bytes compared)."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date, datetime

import pytest
from mailbuild import tiny_xlsx

from toolkit.mail.compose import (
    Attachment,
    MailKind,
    Outgoing,
    ReminderPhase,
    reminder_mail,
    reminder_phase,
    render,
    round_label,
    unit_addresses,
)
from toolkit.mail.parse import CHINA, parse_message
from toolkit.mail.settings import Contact
from toolkit.model import Round, Unit

RND = Round("2021-04", date(2021, 4, 30), date(2021, 5, 8))
UNIT = Unit("D01", "市科技局", email="kjj@example.gov.cn")
CONTACT = Contact("三门峡市政府督查室", "王芳", "0398-2818001", "dcs@example.gov.cn")


@pytest.mark.parametrize("today, phase, subject, phrase", [
    (date(2021, 5, 7), ReminderPhase.BEFORE, "【提醒】", "（明天）"),
    (date(2021, 5, 5), ReminderPhase.BEFORE, "【提醒】", "（3 天后）"),
    (date(2021, 5, 8), ReminderPhase.ON_THE_DAY, "【今日截止】", "今天（2021年5月8日）"),
    (date(2021, 5, 10), ReminderPhase.AFTER, "【逾期催报】", "已过 2 天"),
])
def test_reminder_wording_changes_with_the_deadline(today, phase, subject, phrase):
    assert reminder_phase(RND, today) is phase
    mail = reminder_mail(rnd=RND, unit=UNIT, template=None, contact=CONTACT, reply_to="ducha@example.gov.cn",
                         today=today)
    assert mail.subject.startswith(subject) and "市科技局" in mail.subject
    assert phrase in mail.body and "联系人：王芳" in mail.body and mail.key == f"remind:2021-04:D01:{today}"
    assert mail.attachments == ()


LONG = "01_三门峡市发展和改革委员会（镕喆）_2021年4月_重点工作进展情况统计表_第二次修改稿_请审核后报送领导.xlsx"


@pytest.mark.parametrize("name", [LONG, "report \"final\".xlsx", "报表.xlsx", "a" * 150 + ".xlsx"])
def test_names_survive_every_reader(name):
    data = tiny_xlsx()
    mail = Outgoing(key="k", kind=MailKind.FEEDBACK, round="2021-04", unit="市科技局", to=("kjj@example.gov.cn",),
                    subject="【待更正】" + LONG, body="第一行\n第二行（镕）\n", attachments=(Attachment(name, data, "application/vnd.ms-excel"),),
                    to_name="市科技局")
    raw = render(mail, sender="ducha@example.gov.cn", sender_name="三门峡市政府督查室",
                 message_id="<m@example.gov.cn>", when=datetime(2021, 5, 10, 9, 0, tzinfo=CHINA))
    assert raw.isascii()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert all(len(w) <= 75 for w in re.findall(rb"=\?UTF-8\?B\?[^?]*\?=", raw))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    new = email.message_from_bytes(raw, policy=email.policy.default)
    assert new["Subject"] == "【待更正】" + LONG
    assert new["Date"].datetime == datetime(2021, 5, 10, 9, 0, tzinfo=CHINA)
    [part] = [p for p in new.walk() if p.get_content_disposition() == "attachment"]
    assert part.get_filename() == name and part.get_content() == data
    assert new.get_body(("plain",)).get_content().replace("\r\n", "\n") == "第一行\n第二行（镕）\n"  # CRLF on the wire
    old = email.message_from_bytes(raw, policy=email.policy.compat32)
    [part] = [p for p in old.walk() if p.get("Content-Disposition", "").startswith("attachment")]
    from email.header import decode_header, make_header

    assert str(make_header(decode_header(part.get_filename()))) == name
    assert str(make_header(decode_header(part.get_param("name")))) == name
    ours = parse_message(raw)
    assert ours.attachments[0].name == name and ours.subject == "【待更正】" + LONG
    assert ours.sender == "ducha@example.gov.cn" and ours.sender_name == "三门峡市政府督查室"


def test_helpers():
    assert round_label("2021-04") == "2021年4月" and round_label("第一季度") == "第一季度"
    assert unit_addresses("a@b.cn；c@d.cn, e@f.cn 、 g@h.cn") == ("a@b.cn", "c@d.cn", "e@f.cn", "g@h.cn")
    assert unit_addresses("  ") == ()
