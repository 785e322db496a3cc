"""The timetable: the plan from the 轮次 sheet, idempotent ticks, and a simulated fortnight."""

from __future__ import annotations

import email
import email.policy
import logging
import os
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from factories import make_return, make_workspace
from mailbuild import foxmail_mail, outlook_mail
from mailservers import PASSWORD, imap_append, imap_server, mail_config, smtp_server

from toolkit.cli import main
from toolkit.errors import WorkspaceError
from toolkit.mail.parse import CHINA
from toolkit.mail.record import MailRecord
from toolkit.timetable import ScheduleSettings, load_schedule_settings, plan, run_due, run_forever
from toolkit.workspace import Workspace

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
ENV = "DUCHA_TEST_MAIL_PASSWORD"
ROOT = Path(__file__).resolve().parent.parent


def test_plan_from_the_round_sheet(tmp_path):
    registry = make_workspace(tmp_path).registry()
    s = ScheduleSettings(holidays=frozenset({date(2021, 5, 11)}))
    jobs = {j.key: j.due for j in plan(registry, s, datetime(2021, 5, 20, 12, 0)) if j.round == "2021-04"}
    assert jobs == {
        "templates:2021-04": datetime(2021, 4, 30, 8, 30),
        "remind:2021-04:2021-05-07": datetime(2021, 5, 7, 9, 0),  # the day before 报送截止日期 (Sat 5-08)
        "close:2021-04": datetime(2021, 5, 10, 9, 0),  # the first working day after it
        "remind:2021-04:2021-05-10": datetime(2021, 5, 10, 9, 0),
        "remind:2021-04:2021-05-12": datetime(2021, 5, 12, 9, 0),  # 5-11 is a holiday here
        "daily:2021-04:2021-05-12": datetime(2021, 5, 12, 9, 0),
        "remind:2021-04:2021-05-13": datetime(2021, 5, 13, 9, 0),
        "daily:2021-04:2021-05-13": datetime(2021, 5, 13, 9, 0),
        "remind:2021-04:2021-05-14": datetime(2021, 5, 14, 9, 0),
        "daily:2021-04:2021-05-14": datetime(2021, 5, 14, 9, 0),
        "remind:2021-04:2021-05-17": datetime(2021, 5, 17, 9, 0),
        "daily:2021-04:2021-05-17": datetime(2021, 5, 17, 9, 0),
    }
    worked = ScheduleSettings(workdays=frozenset({date(2021, 5, 8)}), remind_after=1, remind_at=datetime(1, 1, 1, 16).time())
    keys = [j.key for j in plan(registry, worked, datetime(2021, 5, 20)) if j.round == "2021-04"]
    assert "close:2021-04" in keys and "remind:2021-04:2021-05-10" in keys  # 5-08 worked, 5-09 Sunday
    assert plan(registry, s, datetime(2021, 4, 29, 12, 0))[0].round == "2021-03"  # only open rounds
    assert not [j for j in plan(registry, s, datetime(2021, 4, 29)) if j.round == "2021-04"]


def test_settings_and_the_sample_block(tmp_path):
    sample = (ROOT / "workbooks" / "ducha.toml").read_text(encoding="utf-8")
    block = sample[sample.index("# [schedule]"):sample.index("[limits]") if "\n[limits]" in sample else None]
    uncommented = "\n".join(re.sub(r"^# ?", "", line) for line in block.splitlines() if line.startswith("# "))
    uncommented = uncommented[:uncommented.index("读取报表") if "读取报表" in uncommented else None]
    (tmp_path / "ducha.toml").write_text(uncommented.split("\n\n")[0], encoding="utf-8")
    s = load_schedule_settings(Workspace(tmp_path).config())
    assert s.templates_at.hour == 8 and s.fetch_every == 30 and date(2021, 5, 8) in s.workdays
    for bad in ({"remind_at": "9点"}, {"fetch_every": -1}, {"holidays": ["端午"]}, {"remind_time": "09:00"}):
        with pytest.raises(WorkspaceError):
            load_schedule_settings({"schedule": bad})


def test_a_failing_tick_does_not_stop_the_loop(tmp_path, monkeypatch, caplog):
    import schedule

    import toolkit.timetable as timetable

    ws = make_workspace(tmp_path)
    calls: list[datetime] = []

    def flaky(_ws, now, **_kw):
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("disk unplugged")
        return timetable.TickReport(now=now)

    monkeypatch.setattr(timetable, "run_due", flaky)
    scheduler = schedule.Scheduler()

    def sleep(_seconds: float) -> None:  # a minute passes: every job is due again
        for job in scheduler.jobs:
            job.next_run = datetime.now() - timedelta(seconds=1)

    with caplog.at_level(logging.ERROR, logger="ducha.schedule"):
        run_forever(ws, clock_now=lambda: datetime(2021, 5, 7, 9, 0), sleep=sleep, scheduler=scheduler, ticks=3)
    assert len(calls) == 3 and "本次检查失败" in caplog.text


def test_a_failing_job_is_logged_and_the_others_still_run(tmp_path, monkeypatch, caplog):
    import toolkit.timetable as timetable

    ws = make_workspace(tmp_path)
    done: list[str] = []

    def broken(_ws, job, _now):
        raise ValueError("boom")

    def fine(_ws, job, _now):
        done.append(job.key)
        return []

    monkeypatch.setitem(timetable._ACTIONS, "templates", broken)
    monkeypatch.setitem(timetable._ACTIONS, "remind", fine)
    first = run_due(ws, datetime(2021, 4, 29, 12, 0))  # started late in round 2021-03
    assert first.ran == [] and first.failed == []
    # its jobs were missed by weeks: not done late (the office closed that round by hand)
    assert "close:2021-03" in first.skipped and "templates:2021-03" in first.skipped
    assert {k for k in first.skipped if k.startswith("remind:2021-03")} == {
        f"remind:2021-03:2021-04-{d:02d}" for d in (7, 9, 12, 13, 14, 15)}
    with caplog.at_level(logging.ERROR, logger="ducha.schedule"):
        report = run_due(ws, datetime(2021, 4, 30, 9, 0))
    assert [k for k, _ in report.failed] == ["templates:2021-04"] and "boom" in caplog.text
    # retried only after retry_minutes; the reminder of 2021-04 needs the templates first
    assert run_due(ws, datetime(2021, 4, 30, 9, 5)).failed == []
    monkeypatch.setitem(timetable._ACTIONS, "templates", fine)
    assert run_due(ws, datetime(2021, 4, 30, 9, 11)).ran == ["templates:2021-04"]
    assert run_due(ws, datetime(2021, 5, 7, 9, 0)).ran == ["remind:2021-04:2021-05-07"]
    assert run_due(ws, datetime(2021, 5, 7, 9, 30)).ran == []


# ---------------------------------------------------------------------------------------
# a fortnight, step by step, with real servers

STEPS = [datetime(2021, 4, 29) + timedelta(days=d, hours=h) for d in range(17) for h in (8, 9, 15)]


def _received(server) -> list[tuple[str, tuple[str, ...]]]:
    out = []
    for got in server.received:
        msg = email.message_from_bytes(got.data, policy=email.policy.default)
        out.append((str(msg["Subject"]), tuple(sorted(got.rcpt_tos))))
    return out


@pytest.mark.slow
def test_a_simulated_fortnight(tmp_path, monkeypatch):
    """Sixteen days in three steps a day: each mail once, at its step; the leaders' mail after the deadline.

    Each return reaches the round twice, as in an office where the clerk also saves attachments by
    hand: fetched from the mailbox (a receipt dated by the mail) and dropped into the inbox folder.
    It must count once; the reminders show it.
    """
    monkeypatch.setenv(ENV, PASSWORD)
    ws = make_workspace(tmp_path, settings={"联系人": "王芳", "联系电话": "0398-2818001", "邮箱": "dcs@example.gov.cn"})
    returns = {
        "D01": make_return(ws, tmp_path / "r", unit="市科技局").read_bytes(),
        "D02": make_return(ws, tmp_path / "r", unit="市发展改革委", values={"2-1-2": {"本期完成": "约三百亿"}}).read_bytes(),
        "D03": make_return(ws, tmp_path / "r", unit="灵宝市人民政府").read_bytes(),
    }
    arrivals = {  # step at which a unit's mail is in the mailbox
        datetime(2021, 5, 6, 15): ("D01", "d01@example.gov.cn", datetime(2021, 5, 6, 14, 30)),
        datetime(2021, 5, 9, 8): ("D02", "d02@example.gov.cn", datetime(2021, 5, 8, 10, 0)),
        datetime(2021, 5, 11, 8): ("D03", "d03@example.gov.cn", datetime(2021, 5, 10, 20, 0)),
    }
    asleep = {datetime(2021, 5, 12, 8), datetime(2021, 5, 12, 9)}  # the laptop slept through the reminder
    outage = {datetime(2021, 5, 13, 9)}  # the SMTP server was unreachable
    timeline: dict[datetime, list[tuple[str, tuple[str, ...]]]] = {}
    with smtp_server() as smtp, imap_server() as imap:
        good = mail_config(smtp_port=smtp.port, imap_port=imap, extra="")
        from mailservers import free_port

        down = mail_config(smtp_port=free_port(), imap_port=imap)
        for step in STEPS:
            if step in arrivals:  # the unit's mail arrives, and the clerk also saves its attachment by hand
                code, sender, when = arrivals[step]
                build = outlook_mail if code != "D02" else foxmail_mail
                raw = build(sender=sender, sender_name=code, subject=f"{code}报表",
                            attachments=[(f"{code}报表.xlsx", returns[code])], message_id=f"<{code}@example.gov.cn>")
                imap_append(imap, [(raw, when.replace(tzinfo=CHINA))])
                path = ws.inbox("2021-04") / f"{code}报表.xlsx"
                path.write_bytes(returns[code])
                os.utime(path, (when.timestamp(), when.timestamp()))
            if step in asleep:
                continue
            (ws.root / "ducha.toml").write_text(down if step in outage else good, encoding="utf-8")
            before = len(smtp.received)
            report = run_due(ws, step)
            if step in outage:
                assert report.failed, step
            else:
                assert not report.failed, (step, report.failed)
            new = _received(smtp)[before:]
            if new:
                timeline[step] = new

    def kinds(step: datetime) -> list[str]:
        return sorted(re.sub(r"（.*", "", s)[:6] + "→" + ",".join(r) for s, r in timeline.get(step, []))

    assert set(timeline) == {datetime(2021, 4, 30, 9), datetime(2021, 5, 7, 9), datetime(2021, 5, 10, 9),
                             datetime(2021, 5, 11, 9), datetime(2021, 5, 12, 15), datetime(2021, 5, 13, 15),
                             datetime(2021, 5, 14, 9)}, sorted(timeline)
    t0430 = timeline[datetime(2021, 4, 30, 9)]
    assert len(t0430) == 4 and all(s.startswith("关于报送2021年4月重点工作进展情况的通知") for s, _ in t0430)
    t0507 = timeline[datetime(2021, 5, 7, 9)]
    assert sorted(r for _, r in t0507) == [("d02@example.gov.cn",), ("d03@example.gov.cn",), ("d04@example.gov.cn",)]
    assert all(s.startswith("【提醒】") for s, _ in t0507)  # D01 had reported: not reminded
    t0510 = timeline[datetime(2021, 5, 10, 9)]
    leaders = [s for s, r in t0510 if r == ("leader1@example.gov.cn", "leader2@example.gov.cn")]
    assert leaders == ["2021年4月重点工作进展情况汇总表和报告"]
    assert any(r == ("d02@example.gov.cn",) and "待更正" in s for s, r in t0510)  # the reply with the marked file
    assert sorted(r for s, r in t0510 if s.startswith("【逾期催报】")) == [("d03@example.gov.cn",), ("d04@example.gov.cn",)]
    for step in (datetime(2021, 5, 11, 9), datetime(2021, 5, 12, 15), datetime(2021, 5, 13, 15),
                 datetime(2021, 5, 14, 9)):
        assert [r for _, r in timeline[step]] == [("d04@example.gov.cn",)], step
    with MailRecord(ws.root) as record:
        sent = record.sent_mails("2021-04")
    assert all(m.state == "sent" for m in sent)
    assert len(sent) == sum(len(v) for v in timeline.values())  # each mail once
    assert len({m.key for m in sent}) == len(sent)


def test_once_with_now_on_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ENV, PASSWORD)
    ws = make_workspace(tmp_path)
    with smtp_server() as smtp:
        (ws.root / "ducha.toml").write_text(mail_config(smtp_port=smtp.port), encoding="utf-8")
        assert main(["schedule", "-w", str(ws.root), "--once", "--now", "2021-04-30 08:29"]) == 0
        assert smtp.received == []
        assert main(["schedule", "-w", str(ws.root), "--once", "--now", "2021-04-30 08:30"]) == 0
        assert len(smtp.received) == 4
        assert main(["schedule", "-w", str(ws.root), "--once", "--now", "2021-04-30 08:31"]) == 0
        assert len(smtp.received) == 4
    out = capsys.readouterr().out
    assert "下发 2021-04 模板：发送 4 封" in out and "检查完毕" in out
    assert (ws.root / ".ducha" / "schedule.log").exists()
