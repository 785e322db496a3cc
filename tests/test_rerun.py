"""A rerun with nothing new reads nothing again: no original is hashed twice, no return re-read.

The shortcut (toolkit.store.HashMemo) only leads to a hash already recorded: a file changed
in any way is hashed again, and no arrival time ever comes from a file's stat.
"""

from __future__ import annotations

import os
from datetime import datetime

import pytest

from tests.factories import make_return, make_workspace
from toolkit import receipts, store
from toolkit.merge import run_merge
from toolkit.receipts import receipt_list, scan_inbox
from toolkit.store import HashMemo

ROUND = "2021-04"
NOW = datetime(2021, 5, 6, 9, 0)


@pytest.fixture
def ws(tmp_path):
    ws = make_workspace(tmp_path)
    inbox = ws.inbox(ROUND)
    make_return(ws, inbox, unit="市科技局", name="科技局.xlsx")
    make_return(ws, inbox / "子目录", unit="市发展改革委", name="发改委.xlsx")
    return ws


class Hashing:
    """Counts the files hashed while receiving and while archiving."""

    def __init__(self, monkeypatch):
        self.received: list[str] = []
        self.archived: list[str] = []
        receive, archive = receipts._sha256, store.sha256_file

        def counted_receive(path):
            self.received.append(path.name)
            return receive(path)

        def counted_archive(path):
            self.archived.append(os.path.basename(path))
            return archive(path)

        monkeypatch.setattr(receipts, "_sha256", counted_receive)
        monkeypatch.setattr(store, "sha256_file", counted_archive)


def test_a_rerun_hashes_nothing_and_reads_nothing(ws, monkeypatch):
    first = run_merge(ws, ROUND, now=NOW)
    hashing = Hashing(monkeypatch)

    def no_reading(path, *_args, **_kw):
        raise AssertionError(f"{path.name} read again")

    monkeypatch.setattr("toolkit.merge.examine", no_reading)
    again = run_merge(ws, ROUND, now=datetime(2021, 5, 10, 9, 0))
    assert hashing.received == [] and hashing.archived == []
    assert again.outputs["csv"].read_bytes() == first.outputs["csv"].read_bytes()
    assert [f.submission.archived for f in again.files] == [f.submission.archived for f in first.files]
    # arrivals are the first sightings, whenever the rerun ran
    assert {r.arrival for r in receipt_list(ws, ROUND)} == {NOW}


def test_a_file_changed_in_place_is_hashed_again(ws, monkeypatch):
    scan_inbox(ws, ROUND, now=NOW)
    path = ws.inbox(ROUND) / "科技局.xlsx"
    before = path.stat()
    make_return(ws, ws.inbox(ROUND), unit="市科技局", name="科技局.xlsx", values={"1-1-1": {"本期完成": 61}})
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # a copy tool keeps the old time
    hashing = Hashing(monkeypatch)
    later = datetime(2021, 5, 9, 9, 0)
    scan_inbox(ws, ROUND, now=later)
    assert hashing.received == ["科技局.xlsx"]  # not the unchanged 发改委.xlsx
    arrivals = sorted(r.arrival for r in receipt_list(ws, ROUND))
    assert arrivals == [NOW, NOW, later]  # the new content arrived when it was first seen


def test_a_file_moved_in_the_inbox_is_hashed_and_named(ws, monkeypatch):
    scan_inbox(ws, ROUND, now=NOW)
    inbox = ws.inbox(ROUND)
    (inbox / "科技局.xlsx").rename(inbox / "改名.xlsx")
    hashing = Hashing(monkeypatch)
    scan_inbox(ws, ROUND, now=datetime(2021, 5, 9, 9, 0))
    assert hashing.received == ["改名.xlsx"]
    assert len(receipt_list(ws, ROUND)) == 2  # the same content: no second receipt
    hashing.received.clear()
    scan_inbox(ws, ROUND, now=datetime(2021, 5, 9, 10, 0))
    assert hashing.received == []  # its new name is on record now


def test_the_memo_never_stands_in_for_a_missing_receipt(ws, monkeypatch, tmp_path):
    """A memo entry whose hash has no receipt (the log was replaced) leads to a full receive."""
    scan_inbox(ws, ROUND, now=NOW)
    ws.intake_db.rename(tmp_path / "old.db")
    hashing = Hashing(monkeypatch)
    scan_inbox(ws, ROUND, now=datetime(2021, 5, 9, 9, 0))
    assert sorted(hashing.received) == ["发改委.xlsx", "科技局.xlsx"]
    assert len(receipt_list(ws, ROUND)) == 2


def test_a_damaged_archive_copy_is_noticed(ws, monkeypatch):
    first = run_merge(ws, ROUND, now=NOW)
    archived = [f.submission.archived for f in first.files if f.submission.archived]
    damaged = archived[0]
    stat = damaged.stat()
    damaged.write_bytes(b"x" * stat.st_size)
    os.utime(damaged, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = run_merge(ws, ROUND, now=NOW)
    now_archived = {f.submission.archived for f in again.files if f.submission.archived}
    assert damaged not in now_archived  # the copy went to ..._2, the damaged one untouched
    assert any(p.name.endswith("_2.xlsx") for p in now_archived)


def test_hash_memo_file(tmp_path):
    memo = HashMemo(tmp_path / "memo.json")
    path = tmp_path / "a.txt"
    path.write_text("a")
    memo.put(path, "h", path.stat())
    memo.save()
    again = HashMemo(tmp_path / "memo.json")
    assert again.get(path) == "h"
    path.write_text("b")
    assert again.get(path) is None
    (tmp_path / "memo.json").write_text("{not json")
    assert HashMemo(tmp_path / "memo.json").get(path) is None
