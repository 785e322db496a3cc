"""Durability of the workspace: toolkit/store.py."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from toolkit.errors import LockHeldError, WorkspaceError
from toolkit.store import (
    LOCK_NAME,
    SCHEMA_VERSION,
    IntakeLog,
    StoreBatch,
    WorkspaceLock,
    archive_file,
    archive_files,
    atomic_path,
    atomic_write,
    cleanup_temp,
    find_content,
    inside,
    process_start,
    put_content,
    safe_name,
    sha256_file,
)
from toolkit.terminal import clip, display_width, pad

ROOT = Path(__file__).resolve().parents[1]


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name]


# ---------------------------------------------------------------------------------------
# atomic_write / atomic_path
# ---------------------------------------------------------------------------------------

class Boom(Exception):
    pass


@pytest.mark.parametrize("mode, old, new", [("wb", b"old bytes", b"new bytes"), ("w", "旧内容", "新内容")])
def test_atomic_write_exception_keeps_old_and_leaves_no_temp(tmp_path: Path, mode: str, old, new) -> None:
    target = tmp_path / "汇总表.csv"
    (target.write_bytes if isinstance(old, bytes) else lambda t: target.write_text(t, encoding="utf-8"))(old)
    with pytest.raises(Boom), atomic_write(target, mode) as fh:
        fh.write(new)
        fh.flush()
        raise Boom
    assert (target.read_bytes() if isinstance(old, bytes) else target.read_text(encoding="utf-8")) == old
    assert _temps(tmp_path) == []


@pytest.mark.parametrize("mode, new", [("wb", b"new \x00 bytes"), ("w", "新内容\n第二行")])
def test_atomic_write_success_replaces(tmp_path: Path, mode: str, new) -> None:
    target = tmp_path / "汇总表.csv"
    target.write_bytes(b"old")
    with atomic_write(target, mode) as fh:
        fh.write(new)
        # Until the block ends, the old content is what readers see.
        assert target.read_bytes() == b"old"
    got = target.read_bytes() if isinstance(new, bytes) else target.read_text(encoding="utf-8")
    assert got == new
    assert _temps(tmp_path) == []


def test_atomic_write_creates_missing_target(tmp_path: Path) -> None:
    with atomic_write(tmp_path / "new.txt", "w") as fh:
        fh.write("第一次")
    assert (tmp_path / "new.txt").read_text(encoding="utf-8") == "第一次"


def test_atomic_write_missing_folder_is_chinese_workspace_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="文件夹"), atomic_write(tmp_path / "nope" / "x.txt") as fh:
        fh.write(b"x")


@pytest.mark.parametrize("fail", [False, True])
def test_atomic_path_keeps_suffix_and_replaces_only_on_success(tmp_path: Path, fail: bool) -> None:
    target = tmp_path / "汇总表_2021-04.xlsx"
    target.write_bytes(b"old")
    seen: list[Path] = []
    with pytest.raises(Boom) if fail else contextlib.nullcontext(), atomic_path(target) as tmp:
        seen.append(tmp)
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".汇总表_2021-04.xlsx.")
        assert tmp.name.endswith(".tmp.xlsx") and tmp.suffix == ".xlsx"
        tmp.write_bytes(b"new")
        if fail:
            raise Boom
    assert target.read_bytes() == (b"old" if fail else b"new")
    assert not seen[0].exists()
    assert _temps(tmp_path) == []


def test_cleanup_temp_removes_only_old_temp_files(tmp_path: Path) -> None:
    old_tmp = tmp_path / ".汇总表.xlsx.123-abcd.tmp.xlsx"
    old_tmp2 = tmp_path / ".results.csv.123-abcd.tmp"
    young_tmp = tmp_path / ".report.docx.456-ef01.tmp.docx"
    keep = [tmp_path / n for n in ("汇总表.xlsx", LOCK_NAME, "notes.tmp", ".template.tmpl")]
    for p in [old_tmp, old_tmp2, young_tmp, *keep]:
        p.write_bytes(b"x")
    past = time.time() - 3600
    for p in [old_tmp, old_tmp2, *keep]:
        os.utime(p, (past, past))
    removed = cleanup_temp(tmp_path)
    assert sorted(removed) == sorted([old_tmp, old_tmp2])
    assert young_tmp.exists() and all(p.exists() for p in keep)


_WRITER = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path
    from toolkit.store import atomic_write

    target = Path(sys.argv[1])
    n = 0
    while True:
        n += 1
        data = b"%08d" % n
        with atomic_write(target) as fh:
            for _ in range(256):                 # 256 x 8 KiB = 2 MiB, written slowly in pieces
                fh.write(data * 1024)
                fh.flush()
                time.sleep(0.0002)
        if n == 1:
            print("ready", flush=True)
    """
)


def _complete(data: bytes) -> bool:
    """A complete version: 2 MiB of one 8-digit counter repeated."""
    return len(data) == 2 * 1024 * 1024 and data == data[:8] * (len(data) // 8) and data[:8].isdigit()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("attempt", range(10))
def test_sigkill_during_writes_leaves_old_or_new_content(tmp_path: Path, attempt: int) -> None:
    target = tmp_path / "汇总表.bin"
    target.write_bytes(b"%08d" % 0 * (256 * 1024))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, env=env, cwd=str(ROOT)
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(random.Random(attempt).uniform(0.0, 0.3))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert _complete(target.read_bytes())
    # The killed writer may leave its temp file; it is hidden and cleaned up later.
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [target.name]
    cleanup_temp(tmp_path, older_than=0)
    assert list(tmp_path.iterdir()) == [target]


# ---------------------------------------------------------------------------------------
# archive
# ---------------------------------------------------------------------------------------

def _touch(path: Path, data: bytes, mtime: float = 1_600_000_000.0) -> Path:
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def test_archive_same_content_twice_is_one_file(tmp_path: Path) -> None:
    src = _touch(tmp_path / "市发改委.xlsx", b"PK\x03\x04 same content")
    arch = tmp_path / "archive"
    p1, h1 = archive_file(src, arch)
    p2, h2 = archive_file(src, arch)
    assert (p1, h1) == (p2, h2)
    assert list(arch.iterdir()) == [p1]
    assert p1.name == f"{h1[:16]}_市发改委.xlsx"
    assert h1 == sha256_file(src)


def test_archive_different_content_same_name_is_two_files(tmp_path: Path) -> None:
    arch = tmp_path / "archive"
    src = tmp_path / "市发改委.xlsx"
    p1, h1 = archive_file(_touch(src, b"first"), arch)
    p2, h2 = archive_file(_touch(src, b"second"), arch)
    assert h1 != h2 and p1 != p2
    assert sorted(arch.iterdir()) == sorted([p1, p2])
    assert p1.read_bytes() == b"first" and p2.read_bytes() == b"second"


@pytest.mark.parametrize("size", [0, 1, 3 * 1024 * 1024 + 7])
def test_archive_preserves_bytes_and_mtime(tmp_path: Path, size: int) -> None:
    data = random.Random(size).randbytes(size)
    src = _touch(tmp_path / "in.xlsx", data, mtime=1_620_000_000.5)
    path, digest = archive_file(
        src, tmp_path / "archive", unit_code="A01", original_name="../../报表:一季度?.xlsx"
    )
    assert path.read_bytes() == data
    assert os.stat(path).st_mtime == os.stat(src).st_mtime
    assert path.parent == tmp_path / "archive"
    assert path.name == f"{digest[:16]}_A01_报表_一季度_.xlsx"
    assert _temps(tmp_path / "archive") == []


def test_archive_never_overwrites_a_different_file(tmp_path: Path) -> None:
    arch = tmp_path / "archive"
    src = _touch(tmp_path / "x.xlsx", b"good")
    path, digest = archive_file(src, arch)
    path.write_bytes(b"corrupted")  # somebody damaged the archived copy
    again, digest2 = archive_file(src, arch)
    assert digest2 == digest and again != path
    assert path.read_bytes() == b"corrupted" and again.read_bytes() == b"good"


def _plant_before_first_temp(monkeypatch) -> list[Path]:
    """Another process takes the first name we are about to publish (its bytes b"theirs") just as
    our temp file for it is made; the list gets that path."""
    from toolkit import store

    real = store._create_temp
    planted: list[Path] = []

    def racing_create_temp(path: Path, keep_suffix: bool = False):
        if not planted:
            path.write_bytes(b"theirs")
            planted.append(path)
        return real(path, keep_suffix)

    monkeypatch.setattr(store, "_create_temp", racing_create_temp)
    return planted


def test_archive_does_not_overwrite_a_file_that_appears_meanwhile(tmp_path: Path, monkeypatch) -> None:
    """Another process publishes the same name between our check and our publish."""

    arch = tmp_path / "archive"
    arch.mkdir()
    src = _touch(tmp_path / "x.xlsx", b"ours")
    planted = _plant_before_first_temp(monkeypatch)
    path, digest = archive_file(src, arch)
    assert planted == [arch / f"{digest[:16]}_x.xlsx"]
    assert planted[0].read_bytes() == b"theirs"
    assert path != planted[0] and path.read_bytes() == b"ours"


# ---------------------------------------------------------------------------------------
# batches made durable at once (StoreBatch, archive_files)
# ---------------------------------------------------------------------------------------

@pytest.fixture(params=["syncfs", "fsync"])
def sync_mode(request, monkeypatch) -> str:
    """Both ways a batch is made durable: one syncfs where trusted, an fsync per file elsewhere."""
    from toolkit import store

    if request.param == "syncfs":
        if not store._can_syncfs(tempfile.gettempdir()):
            pytest.skip("no trusted syncfs here (not Linux ≥ 5.8 on ext4/XFS/Btrfs/F2FS)")
    else:
        monkeypatch.setattr(store, "_can_syncfs", lambda _folder: False)
    return request.param


def _contents(n: int) -> list[bytes]:
    return [f"第{i}份报表".encode() * (100 + i) for i in range(n)]


def test_syncfs_is_trusted_only_where_it_reaches_the_disk(tmp_path: Path, monkeypatch) -> None:
    from toolkit import store

    if sys.platform.startswith("linux") and store._syncfs_libc() is not None:
        monkeypatch.setattr(store, "_SYNCFS_TYPES", frozenset())  # e.g. an SMB share, ntfs-3g
        assert not store._can_syncfs(str(tmp_path))
    monkeypatch.setattr(store, "_syncfs_libc", lambda: None)  # Windows, macOS, an old Linux
    assert not store._can_syncfs(str(tmp_path)) and not store._syncfs(str(tmp_path))


def test_store_batch_equals_put_content_one_by_one(tmp_path: Path, sync_mode: str) -> None:
    import hashlib

    datas = _contents(7)
    one_by_one = [put_content(tmp_path / "one", d, f"报表{i}.xlsx") for i, d in enumerate(datas)]
    with StoreBatch(tmp_path / "batch") as batch:
        for i, d in enumerate(datas):
            batch.add(d, f"报表{i}.xlsx", hashlib.sha256(d).hexdigest(), len(d))
        batch.add(datas[0], "又一份.xlsx", hashlib.sha256(datas[0]).hexdigest(), len(datas[0]))  # once only
        stored = batch.publish()
    assert not batch.failed
    for (path, digest), data in zip(one_by_one, datas, strict=True):
        assert stored[digest].relative_to(tmp_path / "batch") == path.relative_to(tmp_path / "one")
        assert stored[digest].read_bytes() == data
        assert find_content(tmp_path / "batch", digest, len(data)) == stored[digest]
    assert _temps(tmp_path / "batch") == []


def test_store_batch_orders_bytes_names_and_their_syncs(tmp_path: Path, monkeypatch, sync_mode: str) -> None:
    """No name before its bytes are durable; publish returns only once the names are durable."""
    import hashlib

    from toolkit import store

    events: list[str] = []
    real_sync_files, real_link, real_sync_names = store._sync_files, store._link_new, store._sync_names
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(store, "_sync_files", lambda *a: events.append("sync bytes") or real_sync_files(*a))
    monkeypatch.setattr(store, "_link_new", lambda *a: events.append("link") or real_link(*a))
    monkeypatch.setattr(store, "_sync_names", lambda *a: events.append("sync names") or real_sync_names(*a))
    datas = _contents(6)
    with StoreBatch(tmp_path) as batch:
        for i, d in enumerate(datas):
            batch.add(d, f"{i}.xlsx", hashlib.sha256(d).hexdigest(), len(d))
        assert "link" not in events
        stored = batch.publish()
    assert len(stored) == 6 and events.count("link") == 6
    first_link = events.index("link")
    if sync_mode == "syncfs":  # nothing fsynced one by one: one syncfs before the links, one after
        assert events[first_link - 1] == "sync bytes" and "fsync" not in events
    else:  # each file fsynced as it was written, every folder after the links
        assert events[:first_link].count("fsync") == 6
    names_synced = events.index("sync names")
    assert names_synced > len(events) - 1 - events[::-1].index("link")  # after the last link
    assert events[names_synced + 1:].count("link") == 0


def test_store_batch_falls_back_to_fsync_when_syncfs_fails(tmp_path: Path, monkeypatch) -> None:
    import hashlib

    from toolkit import store

    monkeypatch.setattr(store, "_can_syncfs", lambda _folder: True)
    monkeypatch.setattr(store, "_syncfs", lambda _folder: False)  # say, a write-back error reported
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    datas = _contents(5)
    with StoreBatch(tmp_path) as batch:
        for i, d in enumerate(datas):
            batch.add(d, f"{i}.xlsx", hashlib.sha256(d).hexdigest(), len(d))
        assert synced == []
        stored = batch.publish()
    assert len(stored) == 5 and len(synced) >= 5 + 5  # each file, then each new folder
    assert [stored[hashlib.sha256(d).hexdigest()].read_bytes() for d in datas] == datas


def test_store_batch_refuses_a_file_changed_while_copied(tmp_path: Path) -> None:
    src = tmp_path / "报表.xlsx"
    src.write_bytes(b"new bytes")
    with StoreBatch(tmp_path / "store") as batch, pytest.raises(WorkspaceError, match="被修改"):
        batch.add(src, "报表.xlsx", "0" * 64, 9)  # hashed before it was saved again
    assert list((tmp_path / "store").iterdir()) == []


def test_store_batch_takes_a_copy_a_killed_run_left(tmp_path: Path, sync_mode: str) -> None:
    import hashlib

    data = b"received before the kill"
    digest = hashlib.sha256(data).hexdigest()
    left = put_content(tmp_path, data, "第一次.xlsx", digest)[0]  # stored, but its receipt never committed
    with StoreBatch(tmp_path) as batch:
        batch.add(data, "第二次.xlsx", digest, len(data))
        for d in _contents(4):
            batch.add(d, "x.xlsx", hashlib.sha256(d).hexdigest(), len(d))
        stored = batch.publish()
    assert stored[digest] == left and list(left.parent.iterdir()) == [left]
    assert _temps(tmp_path) == []


def test_archive_files_equals_archive_file_one_by_one(tmp_path: Path, sync_mode: str) -> None:
    datas = _contents(9)
    sources = []
    for i, data in enumerate(datas):
        sources.append(_touch(tmp_path / f"src{i}.xlsx", data, mtime=1_620_000_000.0 + i))
    items = [(src, f"U{i % 4}", f"报表:{i}?.xlsx", None) for i, src in enumerate(sources)]
    items.append((sources[2], "U2", "报表:2?.xlsx", None))  # the same content and name twice: one copy
    items.append((sources[2], "U9", "另一个名字.xlsx", None))  # the same content by another name: two
    one = [archive_file(src, tmp_path / "one", unit_code=u, original_name=o)[0] for src, u, o, _ in items]
    (tmp_path / "batch").mkdir()
    corrupt = tmp_path / "batch" / one[5].name
    corrupt.write_bytes(b"damaged")  # a damaged copy is never overwritten: the next name
    batch = archive_files(items, tmp_path / "batch", threads=3)
    assert [p.name for p in batch] == [p.name if i != 5 else p.name.replace(".xlsx", "_2.xlsx")
                                       for i, p in enumerate(one)]
    for path, (src, *_rest) in zip(batch, items, strict=True):
        assert path.read_bytes() == src.read_bytes()
        assert os.stat(path).st_mtime_ns == os.stat(src).st_mtime_ns
    assert corrupt.read_bytes() == b"damaged" and _temps(tmp_path / "batch") == []
    assert archive_files(items, tmp_path / "batch") == batch  # archived already: reused


def test_archive_files_never_overwrites_a_name_taken_meanwhile(tmp_path: Path, monkeypatch, sync_mode: str) -> None:

    sources = [_touch(tmp_path / f"{i}.xlsx", d) for i, d in enumerate(_contents(5))]
    arch = tmp_path / "archive"
    planted = _plant_before_first_temp(monkeypatch)
    paths = archive_files([(src, "", "", None) for src in sources], arch)
    assert planted[0].read_bytes() == b"theirs" and paths[0] != planted[0]
    assert [p.read_bytes() for p in paths] == [s.read_bytes() for s in sources]


# ---------------------------------------------------------------------------------------
# safe_name / inside
# ---------------------------------------------------------------------------------------

_ALLOWED = re.compile(r'^[^<>:"/\\|?*\x00-\x1f\x7f]+$')
_RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(\..*)?$", re.IGNORECASE)
LONG = "第一季度重点工作任务推进情况" * 22  # 308 Chinese characters


@pytest.mark.parametrize(
    "name, expected",
    [
        ("../../x.xlsx", "x.xlsx"),
        ("..\\..\\x.xlsx", "x.xlsx"),
        ("a/b\\c.xlsx", "c.xlsx"),
        ("/etc/passwd", "passwd"),
        ("C:\\Windows\\system.ini", "system.ini"),
        ("CON.xlsx", "_CON.xlsx"),
        ("con", "_con"),
        ("Lpt9.tar.gz", "_Lpt9.tar.gz"),
        ("aux .xlsx", "_aux .xlsx"),
        ("COM10.xlsx", "COM10.xlsx"),
        ("报表:第一季度?.xlsx", "报表_第一季度_.xlsx"),
        ('a<b>c"d|e*f.xlsx', "a_b_c_d_e_f.xlsx"),
        ("tab\there\n.xlsx", "tab_here_.xlsx"),
        ("name. ", "name"),
        ("  市发改委.xlsx  ", "市发改委.xlsx"),
        (".hidden.xlsx", "hidden.xlsx"),
        ("..", "未命名"),
        ("", "未命名"),
        ("   ", "未命名"),
        (LONG + ".xlsx", None),
        ("x" * 300 + ".xlsx", None),
        (LONG, None),
    ],
)
def test_safe_name(name: str, expected: str | None) -> None:
    result = safe_name(name)
    if expected is not None:
        assert result == expected
    assert _ALLOWED.match(result)
    assert not _RESERVED.match(result)
    assert not result.endswith((".", " ")) and not result.startswith(".")
    assert result not in (".", "..")
    assert len(result) <= 120 and len(result.encode("utf-8")) <= 240
    if name.endswith(".xlsx"):
        assert result.endswith(".xlsx")
    if name.startswith(LONG[:10]):
        assert result.startswith(LONG[:10])  # Chinese is kept


@pytest.mark.parametrize("max_len", [16, 40, 120, 200])
def test_safe_name_respects_max_len_and_byte_budget(max_len: int) -> None:
    result = safe_name(LONG + ".xlsx", max_len=max_len)
    assert len(result) <= max_len and len(result.encode("utf-8")) <= 240
    assert result.endswith(".xlsx")


@pytest.mark.parametrize("candidate", ["../x.xlsx", "a/../../x.xlsx", "/etc/passwd", ".", ""])
def test_inside_rejects_escapes(tmp_path: Path, candidate: str) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with pytest.raises(WorkspaceError, match="不在文件夹"):
        inside(inbox, candidate)


@pytest.mark.parametrize("candidate", ["x.xlsx", "sub/x.xlsx", "sub/../x.xlsx"])
def test_inside_accepts_paths_within(tmp_path: Path, candidate: str) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    assert inside(inbox, candidate) == (inbox / candidate).resolve()
    assert inside(inbox, inbox / candidate) == (inbox / candidate).resolve()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_inside_rejects_symlink_out(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "link.xlsx").symlink_to(tmp_path / "secret.xlsx")
    with pytest.raises(WorkspaceError):
        inside(inbox, "link.xlsx")


# ---------------------------------------------------------------------------------------
# workspace lock
# ---------------------------------------------------------------------------------------

def _dead_process() -> tuple[int, str | None]:
    """The pid of a process that has ended, and its start as recorded while it ran.

    Even if the pid is handed to a new process meanwhile (a busy machine), the lock
    names the dead one: the new process has another start."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    start = process_start(proc.pid)
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait()
    return proc.pid, start


def _write_lock(ws: Path, info: dict | bytes, age: float = 0.0) -> Path:
    path = ws / LOCK_NAME
    path.write_bytes(info if isinstance(info, bytes) else json.dumps(info, ensure_ascii=False).encode())
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def _info(pid: int | tuple[int, str | None], host: str | None = None, hours_ago: float = 0.0) -> dict:
    started = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - hours_ago * 3600))
    host = host or socket.gethostname()
    info = {"pid": pid, "host": host, "user": "clerk", "started": started, "purpose": "合并"}
    if isinstance(pid, tuple):
        info["pid"], info["pid_start"] = pid
    return info


def test_lock_second_holder_in_same_process_is_refused(tmp_path: Path) -> None:
    with WorkspaceLock(tmp_path) as lock:
        assert lock.path.exists()
        held = json.loads(lock.path.read_text(encoding="utf-8"))
        assert held["pid"] == os.getpid() and held["purpose"] == "合并"
        assert {"pid", "host", "user", "started", "purpose"} <= held.keys()
        with pytest.raises(LockHeldError) as err, WorkspaceLock(tmp_path, purpose="导出"):
            pass
        message = str(err.value)
        assert f"进程 {os.getpid()}" in message
        assert "工作区正被另一个任务（合并）使用" in message and str(lock.path) in message
        assert lock.path.exists()  # the refused attempt did not remove the holder's lock
    assert not (tmp_path / LOCK_NAME).exists()


def test_lock_released_on_exception(tmp_path: Path) -> None:
    with pytest.raises(Boom), WorkspaceLock(tmp_path):
        raise Boom
    assert not (tmp_path / LOCK_NAME).exists()
    with WorkspaceLock(tmp_path):
        pass


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: _info(_dead_process()), id="dead-pid"),
        pytest.param(lambda: _info(_dead_process(), hours_ago=0.01), id="dead-pid-recent"),
        pytest.param(lambda: _info(os.getppid(), host="other-pc", hours_ago=13), id="other-host-13h"),
        pytest.param(lambda: _info((os.getppid(), "linux:another-boot:12345")), id="pid-reused"),
    ],
)
def test_lock_stale_is_recovered(tmp_path: Path, make) -> None:
    info = make()
    age = 13 * 3600 if info["host"] == "other-pc" else 0
    path = _write_lock(tmp_path, info, age=age)
    with WorkspaceLock(tmp_path) as lock:
        assert json.loads(path.read_text(encoding="utf-8"))["pid"] == os.getpid()
        assert lock.held
    assert not path.exists()
    assert not (tmp_path / (LOCK_NAME + ".break")).exists()


@pytest.mark.parametrize("garbage", [b"", b"\x00\xff not json", b"[1, 2]", b'{"pid": "x", "host": "pc"}'])
def test_lock_garbage_older_than_a_minute_is_recovered(tmp_path: Path, garbage: bytes) -> None:
    path = _write_lock(tmp_path, garbage, age=120)
    with WorkspaceLock(tmp_path):
        assert json.loads(path.read_text(encoding="utf-8"))["pid"] == os.getpid()
    assert not path.exists()


@pytest.mark.parametrize(
    "content, age, needle",
    [
        pytest.param(b"\x00garbage", 5, "无法识别", id="young-garbage"),
        pytest.param(None, 0, "进程 {ppid}", id="live-pid"),
        pytest.param("other-host", 3600, "主机 other-pc", id="other-host-1h"),
    ],
)
def test_lock_held_is_not_stolen(tmp_path: Path, content, age: float, needle: str) -> None:
    if content is None:
        content = _info(os.getppid())  # the pytest runner's parent: alive
    elif content == "other-host":
        content = _info(99999999, host="other-pc", hours_ago=1)
    path = _write_lock(tmp_path, content, age=age)
    before = path.read_bytes()
    with pytest.raises(LockHeldError) as err, WorkspaceLock(tmp_path):
        pass
    assert needle.format(ppid=os.getppid()) in str(err.value)
    assert "请" in str(err.value)
    assert path.read_bytes() == before


def test_lock_message_format(tmp_path: Path) -> None:
    info = _info(os.getppid())
    info["started"] = "2021-05-08T09:00:00"
    _write_lock(tmp_path, info)
    with pytest.raises(LockHeldError) as err, WorkspaceLock(tmp_path):
        pass
    assert str(err.value) == (
        f"工作区正被另一个任务（合并）使用（进程 {os.getppid()}，用户 clerk，主机 {socket.gethostname()}，"
        "开始于 2021-05-08 09:00:00）。请等待其结束后再运行；"
        f"如确认该任务已不存在，可删除文件 {tmp_path / LOCK_NAME}。"
    )


def test_lock_stale_snapshot_does_not_steal_a_recovered_lock(tmp_path: Path, monkeypatch) -> None:
    """B judged the lock stale, but A recovered it before B got to replace it: B must back off."""
    _write_lock(tmp_path, _info(_dead_process()))
    late = WorkspaceLock(tmp_path)
    snapshot = late._read()  # B reads the stale lock ...
    with WorkspaceLock(tmp_path) as first:  # ... A recovers it ...
        ours = first.path.read_bytes()
        real_read = WorkspaceLock._read
        calls = iter([snapshot])
        monkeypatch.setattr(WorkspaceLock, "_read", lambda self: next(calls, None) or real_read(self))
        # ... then B acts on its snapshot
        with pytest.raises(LockHeldError, match=f"进程 {os.getpid()}"), late:
            pass
        assert first.path.read_bytes() == ours


def test_lock_missing_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="不存在"), WorkspaceLock(tmp_path / "nope"):
        pass


def test_lock_pid_reuse_is_not_a_live_holder(tmp_path: Path) -> None:
    """The recorded pid runs, but it is another process than the one that wrote the lock."""
    me = process_start(os.getpid())
    if me is None:
        pytest.skip("process start times cannot be told on this system")
    _write_lock(tmp_path, _info((os.getppid(), me + "0")))  # the runner's pid, another process's start
    with WorkspaceLock(tmp_path):
        pass
    _write_lock(tmp_path, _info((os.getppid(), process_start(os.getppid()))))  # the runner itself
    with pytest.raises(LockHeldError, match=f"进程 {os.getppid()}"), WorkspaceLock(tmp_path):
        pass


def test_process_start_tells_processes_apart() -> None:
    me = process_start(os.getpid())
    if me is None:
        pytest.skip("process start times cannot be told on this system")
    assert process_start(os.getpid()) == me
    pid, start = _dead_process()  # started after this process: another start, and gone now
    assert start not in (None, me) and process_start(pid) != start


def _race_for_lock(ws: str, start, results, done) -> None:
    start.wait()
    try:
        with WorkspaceLock(Path(ws)):
            results.put("got")
            done.wait(60)  # hold the lock until every contender has answered
    except LockHeldError:
        results.put("refused")


def test_lock_stale_recovery_race_has_one_winner(tmp_path: Path) -> None:
    """Deterministic however slow the machine: the winner holds until all have answered,
    and the stale lock names its dead process by pid *and* start, so pid reuse cannot
    make it look alive."""
    _write_lock(tmp_path, _info(_dead_process()))
    ctx = multiprocessing.get_context("spawn")
    start, done, results = ctx.Event(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_race_for_lock, args=(str(tmp_path), start, results, done)) for _ in range(4)]
    for p in procs:
        p.start()
    start.set()
    try:
        outcome = sorted(results.get(timeout=120) for _ in procs)
    finally:
        done.set()
        for p in procs:
            p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert outcome == ["got", "refused", "refused", "refused"]


# ---------------------------------------------------------------------------------------
# intake log
# ---------------------------------------------------------------------------------------

def _rec(log: IntakeLog, round_: str, name: str, sha: str, verdict: str = "已合并", **kw) -> int:
    args = {
        "size": 1234, "received": "2021-05-08T09:15:00", "unit": "市发改委", "verdict": verdict,
        "errors": 1, "notices": 2, "archived": f"archive/{sha[:16]}_{name}",
    }
    args.update(kw)
    return log.record(round_, name, sha, **args)


def test_intake_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "intake.db"
    with IntakeLog(db) as log:
        a = _rec(log, "2021-04", "发改委.xlsx", "a" * 64, verdict="拒收", reason="F102")
        b = _rec(log, "2021-04", "发改委.xlsx", "a" * 64, verdict="重复")
        c = _rec(log, "2021-05", "财政局.xlsx", "b" * 64)
        assert a < b < c
        assert log.seen("2021-04", "a" * 64)["id"] == b  # the latest
        assert log.seen("2021-05", "a" * 64) is None
        assert log.seen("2021-04", "b" * 64) is None
    with IntakeLog(db) as log:  # reopened: nothing lost, schema untouched
        all_ = log.entries()
        assert [e["id"] for e in all_] == [a, b, c]
        assert [e["id"] for e in log.entries("2021-04")] == [a, b]
        first = all_[0]
        assert first["original_name"] == "发改委.xlsx" and first["verdict"] == "拒收"
        assert first["reason"] == "F102"
        assert first["size"] == 1234 and first["errors"] == 1 and first["notices"] == 2
        assert first["received"] == "2021-05-08T09:15:00" and first["seen"][:4].isdigit()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        indexes = conn.execute("PRAGMA index_list(intake)").fetchall()
        cols = [[r[2] for r in conn.execute(f"PRAGMA index_info({ix[1]})")] for ix in indexes]
        assert ["round", "sha256"] in cols
    finally:
        conn.close()


def test_intake_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "intake.db"
    IntakeLog(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(WorkspaceError, match="升级"):
        IntakeLog(db)


def test_intake_corrupt_file_is_chinese_error(tmp_path: Path) -> None:
    db = tmp_path / "intake.db"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(WorkspaceError, match="改名备份"):
        IntakeLog(db)


def _intake_writer(db: str, tag: str, n: int, start) -> None:
    start.wait()
    with IntakeLog(Path(db)) as log:
        for i in range(n):
            log.record("2021-04", f"{tag}-{i}.xlsx", f"{tag}{i:063d}", i, "2021-05-08T09:00:00",
                       tag, "已合并", 0, 0, "")


def test_intake_two_processes_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "intake.db"
    IntakeLog(db).close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_intake_writer, args=(str(db), tag, 50, start)) for tag in ("A", "B")]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start.set()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    with IntakeLog(db) as log:
        entries = log.entries("2021-04")
    assert len(entries) == 100
    assert len({e["id"] for e in entries}) == 100
    for tag in ("A", "B"):
        mine = [e["original_name"] for e in entries if e["unit"] == tag]
        assert mine == [f"{tag}-{i}.xlsx" for i in range(50)]  # in order, none lost


def test_intake_waits_for_a_busy_writer(tmp_path: Path) -> None:
    """Another process holds the write lock for a while: record() waits instead of failing."""
    db = tmp_path / "intake.db"
    IntakeLog(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    outcome: list[object] = []

    def write() -> None:
        try:
            with IntakeLog(db) as log:
                outcome.append(_rec(log, "2021-04", "x.xlsx", "c" * 64))
        except Exception as exc:  # noqa: BLE001 - reported through the assertion below
            outcome.append(exc)

    worker = threading.Thread(target=write)
    worker.start()
    time.sleep(1.0)
    other.execute("COMMIT")
    other.close()
    worker.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], int), outcome


# ---------------------------------------------------------------------------------------
# terminal tables
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, width",
    [("abc", 3), ("汇总表", 6), ("a汇", 3), ("１２", 4), ("e\u0301", 1), ("", 0), ("（）", 4)],
)
def test_display_width(text: str, width: int) -> None:
    assert display_width(text) == width


@pytest.mark.parametrize("text", ["ab", "汇总", "a汇b"])
@pytest.mark.parametrize("align", ["left", "right", "center"])
def test_pad_reaches_width(text: str, align: str) -> None:
    out = pad(text, 10, align)
    assert display_width(out) == 10 and out.strip() == text


def test_clip() -> None:
    assert clip("汇总表", 6) == "汇总表"
    out = clip("第一季度重点工作任务", 9)
    assert display_width(out) <= 9 and out.endswith("...")


def test_log_table_aligns_by_display_width() -> None:
    """``ducha log``'s table (receipts.format_log): columns line up in a terminal whatever mix of
    Chinese and ASCII the cells hold, and a file name cannot send escape sequences to it."""
    from datetime import datetime

    from toolkit.model import ArrivalBasis, Source
    from toolkit.receipts import LogLine, format_log

    when = datetime(2021, 5, 8, 9, 15)
    lines_in = [
        LogLine(1, "一季度报表（终稿）.xlsx", Source.INBOX, "", when, ArrivalBasis.FIRST_SEEN, "市发改委", "接受"),
        LogLine(2, "x.xlsx", Source.INBOX, "a@b.cn", when, ArrivalBasis.FIRST_SEEN, "A01", "拒收"),
        LogLine(3, "evil\x1b[2Jname.xlsx", Source.INBOX, "", when, ArrivalBasis.FIRST_SEEN, "财政局", ""),
    ]
    out = format_log(lines_in)
    lines = out.splitlines()
    assert len(lines) == 4
    header = lines[0]
    assert "\x1b" not in out  # no terminal escape sequences from file names
    col_unit = display_width(header[: header.index("单位")])
    for line, unit in zip(lines[1:], ["市发改委", "A01", "财政局"], strict=True):
        assert display_width(line[: line.index(unit)]) == col_unit
    col_verdict = display_width(header[: header.index("结论")])
    for line, verdict in zip(lines[1:], ["接受", "拒收", "（尚未合并）"], strict=True):
        assert line.endswith(verdict) and display_width(line[: line.rindex(verdict)]) == col_verdict
    assert "2021-05-08 09:15" in lines[1]
    assert format_log([]) == "（暂无收件记录）"
