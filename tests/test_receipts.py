"""The round's record: receipts (toolkit/receipts.py) and the intake log schema behind them."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from toolkit.model import ArrivalBasis, Source
from toolkit.receipts import CHINA, Receipt, china_time, originals, receipt_list, receive_bytes, receive_file
from toolkit.store import SCHEMA_VERSION, IntakeLog
from toolkit.workspace import Workspace

ROUND = "2021-04"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    return Workspace(root)


def _rows(ws: Workspace, table: str) -> list[dict]:
    conn = sqlite3.connect(ws.intake_db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY id")]
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------
# receiving
# ---------------------------------------------------------------------------------------

def test_receive_bytes_keeps_the_original_and_records_it(ws):
    data = b"PK\x03\x04 not really a workbook" * 10
    r = receive_bytes(ws, ROUND, data, "科技局报表.xlsx", source=Source.MAILBOX, sender="kj@smx.gov.cn",
                      arrived=datetime(2021, 5, 7, 10, 30), basis=ArrivalBasis.MAIL, origin="<id@smx>")
    assert isinstance(r, Receipt) and r.new
    assert (r.round, r.original_name, r.size, r.source, r.sender, r.basis, r.origin) == (
        ROUND, "科技局报表.xlsx", len(data), Source.MAILBOX, "kj@smx.gov.cn", ArrivalBasis.MAIL, "<id@smx>")
    assert r.sha256 == hashlib.sha256(data).hexdigest()
    assert r.arrived == datetime(2021, 5, 7, 10, 30, tzinfo=CHINA) and r.arrival == datetime(2021, 5, 7, 10, 30)
    assert r.stored is not None and r.stored.read_bytes() == data
    assert r.stored.is_relative_to(originals(ws, ROUND)) and r.stored.name == "科技局报表.xlsx"
    assert abs(r.first_seen - datetime.now(CHINA)) < timedelta(minutes=5)
    [row] = _rows(ws, "receipt")
    assert row["id"] == r.id and row["source"] == "MAILBOX" and row["basis"] == "MAIL"
    assert not Path(row["stored"]).is_absolute() and (ws.root / row["stored"]).read_bytes() == data


def test_same_bytes_twice_is_one_receipt(ws, tmp_path):
    data = b"same content"
    first = receive_bytes(ws, ROUND, data, "a.xlsx", source=Source.INBOX, origin="a.xlsx")
    path = tmp_path / "copy of a.xlsx"
    path.write_bytes(data)
    again = receive_file(ws, ROUND, path, source=Source.CLERK)
    assert not again.new and again.id == first.id and again.original_name == "a.xlsx"
    assert len(receipt_list(ws, ROUND)) == 1
    assert len(list(originals(ws, ROUND).rglob("*.xlsx"))) == 1  # never a second copy of the bytes
    # the other name it came under is remembered, once
    receive_file(ws, ROUND, path, source=Source.CLERK)
    assert [(n["name"], n["origin"]) for n in _rows(ws, "receipt_name")] == [("copy of a.xlsx", "copy of a.xlsx")]
    # another round is another receipt
    other = receive_bytes(ws, "2021-05", data, "a.xlsx", source=Source.INBOX)
    assert other.new and other.id != first.id


def test_receive_file_never_uses_the_modification_time(ws, tmp_path):
    path = tmp_path / "报表.xlsx"
    path.write_bytes(b"x" * 100)
    old = datetime(2020, 1, 1).timestamp()
    import os

    os.utime(path, (old, old))
    r = receive_file(ws, ROUND, path, source=Source.INBOX)
    assert r.basis is ArrivalBasis.FIRST_SEEN and r.arrived.year >= 2024
    clerk = receive_file(ws, "2021-05", path, source=Source.CLERK, arrived=datetime(2021, 6, 7, 9),
                         basis=ArrivalBasis.CLERK)
    assert clerk.arrived == datetime(2021, 6, 7, 9, tzinfo=CHINA)


def test_times_are_china_time(ws):
    utc = datetime(2021, 5, 8, 16, 30, tzinfo=timezone.utc)  # 2021-05-09 00:30 in China: after the deadline
    r = receive_bytes(ws, ROUND, b"1", "a.xlsx", source=Source.MAILBOX, arrived=utc, basis=ArrivalBasis.MAIL)
    assert r.arrival == datetime(2021, 5, 9, 0, 30)
    assert china_time(datetime(2021, 5, 8, 23, 59)).utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(("first", "then", "kept"), [
    pytest.param(ArrivalBasis.FIRST_SEEN, ArrivalBasis.CLERK, "then", id="clerk-beats-first-seen"),
    pytest.param(ArrivalBasis.FIRST_SEEN, ArrivalBasis.MAIL, "then", id="mail-beats-first-seen"),
    pytest.param(ArrivalBasis.CLERK, ArrivalBasis.MAIL, "then", id="mail-beats-clerk"),
    pytest.param(ArrivalBasis.MAIL, ArrivalBasis.CLERK, "first", id="clerk-never-beats-mail"),
    pytest.param(ArrivalBasis.CLERK, ArrivalBasis.FIRST_SEEN, "first", id="first-seen-never-beats-clerk"),
    pytest.param(ArrivalBasis.CLERK, ArrivalBasis.CLERK, "then", id="clerk-corrects-clerk"),
])
def test_a_better_founded_arrival_amends_the_receipt(ws, first, then, kept):
    t1, t2 = datetime(2021, 5, 9, 8), datetime(2021, 5, 7, 10)
    a = receive_bytes(ws, ROUND, b"return", "a.xlsx", source=Source.INBOX, arrived=t1, basis=first)
    b = receive_bytes(ws, ROUND, b"return", "a.xlsx", source=Source.MAILBOX, sender="x@y.cn", arrived=t2, basis=then)
    assert b.id == a.id and not b.new
    want = (t2, then) if kept == "then" else (t1, first)
    assert (b.arrival, b.basis) == want
    events = _rows(ws, "receipt_event")
    assert [e["action"] for e in events] == (["amend"] if kept == "then" or not a.sender else [])
    if then is ArrivalBasis.MAIL and kept == "then":
        assert b.source is Source.MAILBOX and b.sender == "x@y.cn"


def test_the_same_attachment_in_an_earlier_mail_dates_it(ws):
    late = receive_bytes(ws, ROUND, b"r", "a.xlsx", source=Source.MAILBOX, arrived=datetime(2021, 5, 9),
                         basis=ArrivalBasis.MAIL)
    early = receive_bytes(ws, ROUND, b"r", "a.xlsx", source=Source.MAILBOX, arrived=datetime(2021, 5, 7),
                          basis=ArrivalBasis.MAIL)
    assert early.id == late.id and early.arrival == datetime(2021, 5, 7)
    again = receive_bytes(ws, ROUND, b"r", "a.xlsx", source=Source.MAILBOX, arrived=datetime(2021, 5, 10),
                          basis=ArrivalBasis.MAIL)
    assert again.arrival == datetime(2021, 5, 7)


def test_a_lost_stored_copy_is_restored_by_receiving_again(ws):
    r = receive_bytes(ws, ROUND, b"precious", "a.xlsx", source=Source.INBOX)
    assert r.stored is not None
    r.stored.unlink()
    assert receipt_list(ws, ROUND)[0].stored is None
    again = receive_bytes(ws, ROUND, b"precious", "a.xlsx", source=Source.INBOX)
    assert again.stored is not None and again.stored.read_bytes() == b"precious"


def test_receipts_survive_a_copied_workspace(ws, tmp_path):
    import shutil

    r = receive_bytes(ws, ROUND, b"content", "a.xlsx", source=Source.INBOX)
    copy = Workspace(tmp_path / "elsewhere")
    shutil.copytree(ws.root, copy.root)
    [moved] = receipt_list(copy, ROUND)
    assert moved.id == r.id and moved.stored is not None and moved.stored.is_relative_to(copy.root)


# ---------------------------------------------------------------------------------------
# schema v2: an existing (v1) workspace migrates cleanly
# ---------------------------------------------------------------------------------------

V1_SCHEMA = """CREATE TABLE intake (
    id INTEGER PRIMARY KEY, round TEXT NOT NULL, original_name TEXT NOT NULL, sha256 TEXT NOT NULL,
    size INTEGER, received TEXT, seen TEXT, unit TEXT, verdict TEXT, errors INTEGER, notices INTEGER,
    archived TEXT, reason TEXT);
CREATE INDEX intake_round_sha ON intake(round, sha256);
PRAGMA user_version = 1;"""


def _v1_workspace(ws: Workspace) -> bytes:
    """A workspace as version 1 left it: one accepted (archived) and one rejected file."""
    data = b"accepted return"
    sha = hashlib.sha256(data).hexdigest()
    archived = f"{sha[:16]}_D01_科技局.xlsx"
    (ws.archive(ROUND)).mkdir(parents=True)
    (ws.archive(ROUND) / archived).write_bytes(data)
    ws.intake_db.parent.mkdir(parents=True)
    conn = sqlite3.connect(ws.intake_db)
    conn.executescript(V1_SCHEMA)
    # v1 wrote a file's modification time as a naive local time of the machine
    received = datetime(2021, 5, 7, 10, 5, tzinfo=CHINA).astimezone().replace(tzinfo=None).isoformat()
    rows = [
        (ROUND, "科技局.xlsx", sha, len(data), received, "2021-05-13T09:00:00+08:00", "市科技局",
         "接受", 0, 1, archived, ""),
        (ROUND, "图片.xlsx", "b" * 64, 10, "2021-05-20T10:00:00", "2021-05-13T09:00:00+08:00", "", "拒收", 0, 0,
         "", "不是有效的 Excel 文件"),
    ]
    conn.executemany("INSERT INTO intake (round, original_name, sha256, size, received, seen, unit, verdict,"
                     " errors, notices, archived, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.commit()
    conn.close()
    return data


def test_v1_intake_log_migrates_to_receipts(ws):
    data = _v1_workspace(ws)
    with IntakeLog(ws.intake_db) as db:
        assert len(db.entries(ROUND)) == 2  # the v1 verdicts are kept
    conn = sqlite3.connect(ws.intake_db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    conn.close()
    accepted, rejected = receipt_list(ws, ROUND)
    # v1's judgement stands: arrival as v1 recorded it, never later than v1 first saw the file
    assert accepted.arrival == datetime(2021, 5, 7, 10, 5) and accepted.basis is ArrivalBasis.FIRST_SEEN
    assert rejected.arrival == datetime(2021, 5, 13, 9, 0)
    assert accepted.stored is not None and accepted.stored.read_bytes() == data  # the archived original
    assert rejected.stored is None  # its bytes are nowhere ... until the inbox shows it again
    assert accepted.source is Source.INBOX and accepted.original_name == "科技局.xlsx"
    # reopening does nothing more
    IntakeLog(ws.intake_db).close()
    assert len(receipt_list(ws, ROUND)) == 2
    # the first look at the round takes the archived original into the round's own store
    from toolkit.receipts import round_files

    round_files(ws, ROUND)
    kept = receipt_list(ws, ROUND)[0]
    assert kept.stored is not None and kept.stored.is_relative_to(originals(ws, ROUND))
    assert kept.stored.name == "科技局.xlsx" and kept.stored.read_bytes() == data


def test_v1_migration_is_all_or_nothing(ws, monkeypatch):
    import toolkit.store as store

    _v1_workspace(ws)

    def boom(conn):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setitem(store._MIGRATIONS, 2, (*store._MIGRATIONS[2][:-1], boom))
    with pytest.raises(Exception, match="收件记录"):
        IntakeLog(ws.intake_db)
    conn = sqlite3.connect(ws.intake_db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert not conn.execute("SELECT name FROM sqlite_master WHERE name = 'receipt'").fetchall()
    finally:
        conn.close()
    monkeypatch.undo()
    assert len(receipt_list(ws, ROUND)) == 2


# ---------------------------------------------------------------------------------------
# a round is its receipts: arrival times, winners, the inbox as a drop box
# ---------------------------------------------------------------------------------------

KJ, FG, LB, LS = "市科技局", "市发展改革委", "灵宝市人民政府", "卢氏县人民政府"
DEADLINE_PASSED = datetime(2021, 5, 13, 9, 0)  # the deadline of 2021-04 is 2021-05-08


def _merge(ws: Workspace, now: datetime = DEADLINE_PASSED):
    from toolkit.merge import run_merge

    return run_merge(ws, ROUND, now=now)


def on_time(standing) -> list[str]:
    from toolkit.standing import UnitState

    return standing.names_in(UnitState.ON_TIME)


def late(standing) -> list[str]:
    from toolkit.standing import UnitState

    return standing.names_in(UnitState.LATE)


def missing(standing) -> list[str]:
    from toolkit.standing import UnitState

    return standing.names_in(UnitState.MISSING)


def _csv(result) -> str:
    return result.outputs["csv"].read_text(encoding="utf-8-sig")


def _cli(*args: str) -> tuple[int, str]:
    import contextlib
    import io

    from toolkit.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(args))
    return code, out.getvalue()


@pytest.fixture
def round_ws(tmp_path: Path) -> Workspace:
    from factories import make_workspace

    return make_workspace(tmp_path)


def test_returns_saved_after_the_deadline_are_judged_by_their_arrival(round_ws, tmp_path):
    """The clerk saves the week's returns into the inbox on 5-13, after the 5-08 deadline.

    Times the clerk gives decide 按时/逾期 and which of two versions wins; the order the
    files were saved in (their modification times) does not. A file nobody dated
    arrived when the toolkit first saw it, and the record says so."""
    from factories import make_return

    ws, inbox = round_ws, round_ws.inbox(ROUND)
    correction = make_return(ws, inbox, unit=KJ, name="科技局（更正）.xlsx", values={"1-1-1": {"本期完成": 59}})
    draft = make_return(ws, inbox, unit=KJ, name="科技局初稿.xlsx", values={"1-1-1": {"本期完成": 50}})
    overdue = make_return(ws, inbox, unit=FG, name="发改委.xlsx")
    undated = make_return(ws, inbox, unit=LB, name="灵宝.xlsx")
    code, _out = _cli("receive", str(draft), "--at", "2021-05-06 11:30", "-w", str(ws.root), "-r", ROUND)
    assert code == 0
    _cli("receive", str(correction), "--at", "2021/5/7 09:00", "--from", "kj@smx.gov.cn", "-w", str(ws.root),
         "-r", ROUND)
    _cli("receive", str(overdue), "--at", "2021年5月10日 16:20", "-w", str(ws.root), "-r", ROUND)
    import os

    saved = datetime(2021, 5, 13, 8, 50).timestamp()
    for i, path in enumerate((correction, draft, overdue, undated)):  # saved in this order after the deadline
        os.utime(path, (saved + i, saved + i))
    result = _merge(ws)
    subs = {s.file: s for s in result.submissions}
    assert subs[draft.name].superseded and not subs[correction.name].superseded  # the later arrival wins
    assert subs[correction.name].sender == "kj@smx.gov.cn"
    assert subs[correction.name].arrival_basis is ArrivalBasis.CLERK
    row = next(r for r in result.rows if r.indicator.code == "1-1-1" and r.unit == KJ)
    assert row.value == 59
    assert KJ in on_time(result) and FG in late(result)
    # nobody dated 灵宝's file: it arrived when the merge first saw it, after the deadline, and is said so
    assert subs[undated.name].arrival_basis is ArrivalBasis.FIRST_SEEN and LB in late(result)
    w308 = next(f for f in result.findings if f.code.name == "W308" and f.file == undated.name)
    assert "首次发现" in w308.message
    assert missing(result) == [LS]
    # registered later with the clerk's time, 灵宝 is on time after all
    _cli("receive", str(undated), "--at", "2021-05-08 23:59", "-w", str(ws.root), "-r", ROUND)
    again = _merge(ws)
    assert LB in on_time(again) and late(again) == [FG]


def test_an_emptied_inbox_changes_nothing(round_ws):
    from factories import make_return

    from toolkit.demo import deliver

    ws, inbox = round_ws, round_ws.inbox(ROUND)
    for unit in (KJ, FG, LB):
        deliver(ws, ROUND, make_return(ws, inbox, unit=unit), datetime(2021, 5, 7, 10))
    first = _merge(ws)
    history = json.loads((ws.state(ROUND) / "entries.json").read_text(encoding="utf-8"))["entries"]
    for path in list(inbox.iterdir()):  # the clerk tidies the inbox
        path.unlink()
    again = _merge(ws)
    assert _csv(again) == _csv(first)
    assert (on_time(again), late(again), missing(again)) == (on_time(first), late(first), missing(first)) \
        == ([KJ, FG, LB], [], [LS])
    assert json.loads((ws.state(ROUND) / "entries.json").read_text(encoding="utf-8"))["entries"] == history
    assert sorted(s.file for s in again.submissions) == sorted(s.file for s in first.submissions)


def test_subfolders_of_the_inbox_are_read(round_ws):
    from factories import make_return

    ws, inbox = round_ws, round_ws.inbox(ROUND)
    make_return(ws, inbox / "5月7日收" / "科技局", unit=KJ, name="报表.xlsx")
    make_return(ws, inbox / "5月7日收" / "发改委", unit=FG, name="报表.xlsx")
    (inbox / ".hidden").mkdir()
    (inbox / ".hidden" / "x.xlsx").write_bytes(b"\0")
    result = _merge(ws, now=datetime(2021, 5, 7, 12))
    subs = {s.file: s for s in result.submissions}
    assert set(subs) == {"5月7日收/科技局/报表.xlsx", "5月7日收/发改委/报表.xlsx"}
    assert all(s.accepted for s in subs.values())
    assert on_time(result) == [KJ, FG]


def test_cover_letters_are_attachments_never_bounced(round_ws):
    import docx
    from factories import make_return

    from toolkit.demo import deliver

    ws, inbox = round_ws, round_ws.inbox(ROUND)
    deliver(ws, ROUND, make_return(ws, inbox, unit=KJ), datetime(2021, 5, 7, 10))
    (inbox / "关于报送4月份进展情况的函.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    letter = docx.Document()
    letter.add_paragraph("市政府督查室：现将我局4月份重点工作进展情况报送如下。")
    letter.save(inbox / "报送说明.docx")
    (inbox / "现场照片.xlsx").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)  # a photo with a spreadsheet's name
    code, out = _cli("merge", "-w", str(ws.root), "-r", ROUND, "--now", "2021-05-07 12:00")
    assert code == 0, out
    assert "附件（已登记，不作为报表读取）" in out and "拒收" not in out
    feedback = ws.feedback(ROUND)
    assert not list(feedback.glob("*回复*")) and not list(feedback.glob("*.xlsx"))  # no 【退回】, no marked-up copy
    from toolkit.receipts import log_lines

    verdicts = {line.label: line.verdict for line in log_lines(ws, ROUND)}
    assert verdicts["关于报送4月份进展情况的函.pdf"] == verdicts["报送说明.docx"] == verdicts["现场照片.xlsx"] == "附件"


@pytest.mark.skipif(not __import__("shutil").which("soffice"), reason="LibreOffice is not installed")
@pytest.mark.parametrize("fmt", ["xls:MS Excel 97", "ods"])
def test_xls_or_ods_named_xlsx_is_read(round_ws, tmp_path, fmt):
    from factories import make_return
    from office import convert

    from toolkit.demo import deliver

    ws, inbox = round_ws, round_ws.inbox(ROUND)
    made = make_return(ws, tmp_path / "made", unit=KJ, name="科技局.xlsx")
    [converted] = convert([made], fmt, tmp_path / "converted", tmp_path / "profile")
    target = inbox / "科技局报表.xlsx"  # an .xls/.ods carrying an .xlsx name
    __import__("shutil").copyfile(converted, target)
    deliver(ws, ROUND, target, datetime(2021, 5, 7, 10))
    result = _merge(ws)
    [sub] = result.submissions
    assert sub.accepted and sub.unit == KJ, sub.reason
    assert not [f for f in result.findings if f.code.name == "F104"]


def test_withdrawing_is_an_explicit_recorded_act(round_ws):
    from factories import make_return

    from toolkit.demo import deliver

    ws, inbox = round_ws, round_ws.inbox(ROUND)
    kj = make_return(ws, inbox, unit=KJ)
    deliver(ws, ROUND, kj, datetime(2021, 5, 7, 10))
    assert KJ in on_time(_merge(ws))
    code, out = _cli("withdraw", "-w", str(ws.root), "-r", ROUND, kj.name, "--reason", "单位来电要求作废")
    assert code == 0 and "已撤回" in out
    assert KJ in missing(_merge(ws))  # the file still lies in the inbox: withdrawn is withdrawn
    code, out = _cli("log", "-w", str(ws.root), "-r", ROUND)
    assert "已撤回（单位来电要求作废）" in out
    code, out = _cli("withdraw", "-w", str(ws.root), "-r", ROUND, "#1", "--undo")
    assert code == 0 and "已恢复" in out
    assert KJ in on_time(_merge(ws))
    code, out = _cli("withdraw", "-w", str(ws.root), "-r", ROUND, "没有这个文件.xlsx")
    assert code == 2 and "ducha log" in out and "Traceback" not in out


def test_log_shows_source_sender_arrival_and_basis(round_ws):
    from factories import make_return

    ws, inbox = round_ws, round_ws.inbox(ROUND)
    clerk = make_return(ws, ws.root / "下载", unit=KJ, name="科技局.xlsx")  # outside the inbox
    make_return(ws, inbox, unit=FG, name="发改委.xlsx")
    _cli("receive", str(clerk), "--at", "2021-05-07 10:30", "--from", "kj@smx.gov.cn", "-w", str(ws.root), "-r", ROUND)
    _merge(ws)
    code, out = _cli("log", "-w", str(ws.root), "-r", ROUND)
    assert code == 0
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("编号"))
    for column in ("文件", "来源", "发件人", "到达时间", "时间依据", "单位", "结论"):
        assert column in header
    kj = next(line for line in lines if "科技局.xlsx" in line)
    for text in ("登记", "kj@smx.gov.cn", "2021-05-07 10:30", "人工登记", KJ, "接受"):
        assert text in kj, (text, kj)
    fg = next(line for line in lines if "发改委.xlsx" in line)
    for text in ("收件箱", "2021-05-13 09:00", "首次发现", FG):
        assert text in fg, (text, fg)


def test_saved_mails_date_and_attribute_their_returns(round_ws, tmp_path):
    """Mails saved into the inbox after the deadline (.eml from Foxmail/Outlook, an Outlook .msg):
    each return is dated by its mail and attributed to its sender; the later mail of a unit wins
    however the files were saved; cover letters in a mail are attachments."""
    from factories import make_return
    from mailbuild import foxmail_mail, outlook_mail, outlook_msg, rfc822_date, tiny_docx

    ws, inbox = round_ws, round_ws.inbox(ROUND)
    made = tmp_path / "made"
    draft = make_return(ws, made, unit=KJ, name="d.xlsx", values={"1-1-1": {"本期完成": 50}}).read_bytes()
    fixed = make_return(ws, made, unit=KJ, name="f.xlsx", values={"1-1-1": {"本期完成": 59}}).read_bytes()
    fg = make_return(ws, made, unit=FG, name="g.xlsx").read_bytes()
    lb = make_return(ws, made, unit=LB, name="l.xlsx").read_bytes()
    china = timezone(timedelta(hours=8))
    # saved in this order on 5-13: the correction first, the draft last
    (inbox / "科技局更正.eml").write_bytes(outlook_mail(
        sender="kj@smx.gov.cn", sender_name="市科技局", subject="更正：4月进展", attachments=[("科技局（更正）.xlsx", fixed)],
        date=rfc822_date(datetime(2021, 5, 8, 17, 40, tzinfo=china)), message_id="<fix@smx>"))
    (inbox / "发改委.msg").write_bytes(outlook_msg(
        subject="4月报表", sender="fgw@smx.gov.cn", sender_name="市发展改革委",
        attachments=[("发改委报表.xlsx", fg, "application/vnd.ms-excel")],
        sent=datetime(2021, 5, 9, 0, 30, tzinfo=china)))  # half an hour late
    (inbox / "灵宝.eml").write_bytes(foxmail_mail(
        sender="lb@smx.gov.cn", sender_name="灵宝市人民政府", subject="报表",
        attachments=[("灵宝报表.xlsx", lb), ("报送说明.docx", tiny_docx())],
        date="Sat, 08 May 2021 15:55:00 +0000"))  # 23:55 in China: on time
    (inbox / "科技局初稿.eml").write_bytes(foxmail_mail(
        sender="kj@smx.gov.cn", sender_name="市科技局", subject="4月进展", attachments=[("科技局.xlsx", draft)],
        date=rfc822_date(datetime(2021, 5, 6, 11, 30, tzinfo=china)), message_id="<draft@smx>"))
    result = _merge(ws)
    subs = {s.file: s for s in result.submissions}
    fixed_sub, draft_sub = subs["科技局更正.eml/科技局（更正）.xlsx"], subs["科技局初稿.eml/科技局.xlsx"]
    assert not fixed_sub.superseded and draft_sub.superseded
    assert (fixed_sub.source, fixed_sub.sender, fixed_sub.arrival_basis) == (Source.MAIL_FILE, "kj@smx.gov.cn",
                                                                           ArrivalBasis.MAIL)
    assert fixed_sub.received == datetime(2021, 5, 8, 17, 40)
    assert next(r for r in result.rows if r.indicator.code == "1-1-1" and r.unit == KJ).value == 59
    assert on_time(result) == [KJ, LB] and late(result) == [FG]
    assert subs["发改委.msg/发改委报表.xlsx"].received == datetime(2021, 5, 9, 0, 30)
    note = subs["灵宝.eml/报送说明.docx"]
    assert note.attachment and note.unit == LB and note.sender == "lb@smx.gov.cn"
    assert not [f for f in result.findings if f.level.value == "拒收"]
    code, out = _cli("log", "-w", str(ws.root), "-r", ROUND)
    line = next(x for x in out.splitlines() if "科技局（更正）.xlsx" in x)
    for text in ("邮件文件", "kj@smx.gov.cn", "2021-05-08 17:40", "邮件时间", "接受"):
        assert text in line, (text, line)
    mail_line = next(x for x in out.splitlines() if x.rstrip().endswith("个文件）") and "发改委.msg" in x)
    assert "邮件时间" in mail_line and "fgw@smx.gov.cn" in mail_line  # the mail file itself is dated by its mail


def test_a_mail_received_by_the_clerk_outside_the_inbox(round_ws, tmp_path):
    from factories import make_return
    from mailbuild import outlook_mail

    ws = round_ws
    data = make_return(ws, tmp_path / "made", unit=KJ, name="k.xlsx").read_bytes()
    mail = tmp_path / "下载" / "科技局.eml"
    mail.parent.mkdir()
    mail.write_bytes(outlook_mail(sender="kj@smx.gov.cn", sender_name="市科技局", subject="报表",
                                  attachments=[("科技局.xlsx", data)], date="Fri, 7 May 2021 10:32:15 +0800"))
    code, out = _cli("receive", str(mail), "--at", "2021-05-10 09:00", "-w", str(ws.root), "-r", ROUND)
    assert code == 0 and "科技局.eml/科技局.xlsx" in out and "邮件时间" in out  # the mail's time beats the clerk's
    mail.unlink()  # the store keeps it
    result = _merge(ws)
    assert on_time(result) == [KJ]


def test_a_lost_store_is_restored_from_the_inbox_mails_included(round_ws, tmp_path):
    import shutil

    from factories import make_return
    from mailbuild import outlook_mail

    ws, inbox = round_ws, round_ws.inbox(ROUND)
    data = make_return(ws, tmp_path / "made", unit=KJ, name="k.xlsx").read_bytes()
    (inbox / "科技局.eml").write_bytes(outlook_mail(sender="kj@smx.gov.cn", sender_name="市科技局", subject="报表",
                                                   attachments=[("科技局.xlsx", data)]))
    make_return(ws, inbox, unit=FG)
    first = _merge(ws)
    shutil.rmtree(originals(ws, ROUND))  # someone deleted the store; the inbox still holds the files
    again = _merge(ws)
    assert _csv(again) == _csv(first)
    assert (on_time(again), late(again)) == (on_time(first), late(first)) == ([KJ], [FG])  # FG: first seen 5-13
    assert all(r.stored is not None for r in receipt_list(ws, ROUND))
