"""The round's record: receipts (toolkit/receipts.py) and the intake log schema behind them."""

from __future__ import annotations

import hashlib
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
