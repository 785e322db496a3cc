"""Nothing accepted is lost: killed merges, concurrent merges, reruns, hostile names and texts."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from datetime import datetime
from pathlib import Path

import docx
import openpyxl
import pytest

from tests import hostile
from toolkit.demo import deliver, fill_template, load_demo_returns
from toolkit.merge import run_merge
from toolkit.receipts import withdraw
from toolkit.store import WorkspaceLock, process_start, safe_name
from toolkit.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
NOW = "2021-05-13 09:00"


def merge_cmd(ws: Path) -> list[str]:
    return [sys.executable, "-m", "toolkit", "merge", "-w", str(ws), "-r", "2021-04", "--now", NOW]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def assert_outputs_whole(folder: Path) -> None:
    """Every output present opens completely (an atomic write never leaves half a file)."""
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue
        if path.suffix == ".xlsx":
            openpyxl.load_workbook(path, read_only=True).close()
        elif path.suffix == ".docx":
            assert docx.Document(str(path)).paragraphs
        elif path.suffix == ".csv":
            assert csv_rows(path)


def assert_archive_intact(folder: Path) -> None:
    for path in folder.iterdir():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert path.name.startswith(digest[:16]), f"archived file {path.name} does not match its content"


@pytest.fixture
def workspace(demo, tmp_path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(demo.folder, copy)
    return copy


def test_merge_killed_at_random_moments_loses_nothing(workspace, demo):
    expected = csv_rows(demo.result.outputs["csv"])
    out = workspace / "rounds" / "2021-04" / "output"
    archive = workspace / "rounds" / "2021-04" / "archive"
    # a full run to learn how long one takes, then 20 runs killed somewhere inside that span
    started = time.monotonic()
    subprocess.run(merge_cmd(workspace), capture_output=True, check=False, timeout=300)
    span = time.monotonic() - started
    rng = random.Random(20210513)
    for _ in range(20):
        proc = subprocess.Popen(merge_cmd(workspace), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, span))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert_outputs_whole(out)
        assert_archive_intact(archive)
    final = subprocess.run(merge_cmd(workspace), capture_output=True, timeout=300)
    assert final.returncode == 1, final.stderr.decode("utf-8", "replace")  # the demo has faulty returns
    assert csv_rows(out / "results.csv") == expected
    assert not list(out.glob(".*tmp*")), "temporary files left behind"


def test_a_second_merge_is_kept_off_with_a_clear_message(workspace):
    with WorkspaceLock(workspace, purpose="合并 2021-04"):
        proc = subprocess.run(merge_cmd(workspace), capture_output=True, timeout=300)
    err = proc.stderr.decode("utf-8")
    assert proc.returncode == 2
    assert "工作区正被另一个任务（合并 2021-04）使用" in err and str(os.getpid()) in err
    assert "Traceback" not in err


def test_stale_lock_of_a_dead_merge_is_recovered(workspace):
    dead = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    start = process_start(dead.pid)  # recorded while it runs: a reused pid cannot pass for it
    dead.communicate()
    (workspace / ".ducha.lock").write_text(json.dumps(
        {"pid": dead.pid, "pid_start": start, "host": socket.gethostname(), "user": "x",
         "started": "2021-05-13T09:00:00", "purpose": "合并"}, ensure_ascii=False), encoding="utf-8")
    proc = subprocess.run(merge_cmd(workspace), capture_output=True, timeout=300)
    assert proc.returncode == 1, proc.stderr.decode("utf-8", "replace")
    assert not (workspace / ".ducha.lock").exists()


def test_intake_log_records_each_file_once(workspace):
    ws = Workspace(workspace)
    run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9))
    proc = subprocess.run([sys.executable, "-m", "toolkit", "log", "-w", str(workspace), "-r", "2021-04"],
                          capture_output=True, timeout=120)
    out = proc.stdout.decode("utf-8")
    inbox = sorted(p.name for p in (workspace / "rounds" / "2021-04" / "inbox").iterdir())
    mails = [name for name in inbox if name.endswith(".eml")]  # each with one return attached
    assert mails and f"（{len(inbox) + len(mails)} 条）" in out
    for name in inbox:
        assert name[:10] in out
    numbers = [line.split()[0] for line in out.splitlines()[2:]]
    assert len(numbers) == len(set(numbers)), "a file was recorded twice"


INJECTIONS = ['=HYPERLINK("http://x","点击")', "=1+1", "@SUM(A1)", "+1", "-2-3"]


def test_department_text_never_becomes_a_formula(workspace):
    ws = Workspace(workspace)
    registry = ws.registry()
    rnd = registry.round("2021-04")
    data = load_demo_returns()
    mine = [key for key in data if key[0] == "2021-04" and key[1] == "市公安局"]
    for i, key in enumerate(mine):
        row = dict(data[key])
        row["进展情况"] = INJECTIONS[i % len(INJECTIONS)]
        row["存在问题"] = INJECTIONS[(i + 1) % len(INJECTIONS)]
        row["下步打算"] = INJECTIONS[(i + 2) % len(INJECTIONS)]
        data[key] = row
    template = next((workspace / "rounds" / "2021-04" / "templates").glob("*市公安局*"))
    inbox = workspace / "rounds" / "2021-04" / "inbox"
    for old in inbox.glob("*市公安局*"):
        withdraw(ws, "2021-04", old.name)
        old.unlink()
    target = inbox / "=cmd|' x'!A1 市公安局.xlsx"
    fill_template(template, target, "市公安局", "2021-04", data)
    # a bad cell too, so the department's text is quoted in findings and feedback
    wb = openpyxl.load_workbook(target)
    sheet = next(s for s in wb.worksheets if s.title.startswith("十"))
    for row in sheet.iter_rows(min_row=4):
        if row[7].value is not None and row[4].value == "累计":
            row[7].value = "=HYPERLINK(\"http://x\",\"点击\")"
            row[7].data_type = "s"  # text typed with a leading =, not a formula
            break
    wb.save(target)
    deliver(ws, "2021-04", target, datetime(2021, 5, 7, 9))
    result = run_merge(ws, rnd.name, now=datetime(2021, 5, 13, 9))
    written = [*result.outputs.values(), *(workspace / "rounds" / "2021-04" / "feedback").glob("*.xlsx")]
    seen_text = False
    for path in written:
        if path.suffix != ".xlsx":
            continue
        wb = openpyxl.load_workbook(path)
        for sheet in wb.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", f"{path.name}!{sheet.title}!{cell.coordinate} is a formula"
                    if isinstance(cell.value, str) and "HYPERLINK" in cell.value:
                        seen_text = True
    assert seen_text, "the department's text should appear literally"
    for row in csv_rows(result.outputs["csv"]):
        for value in row.values():
            assert not value or value[0] not in "=+@" or value.startswith("'")
    # the formula-looking file name is harmless too
    assert any(s.file.startswith("=cmd") for s in result.submissions)
    with zipfile.ZipFile(result.outputs["check"]) as zf:
        assert not any("<f>" in zf.read(n).decode("utf-8", "replace") for n in zf.namelist() if n.endswith(".xml"))


@pytest.mark.parametrize("name", [
    "报表:第一季度?.xlsx",
    "CON.xlsx",
    "   空格  开头 .xlsx",
    "很长的文件名" * 12 + ".xlsx",
    "a<b>c|d*e.xlsx",
])
def test_awkward_file_names_stay_valid_on_windows(workspace, name):
    ws = Workspace(workspace)
    inbox = workspace / "rounds" / "2021-04" / "inbox"
    src = next(inbox.glob("*市住房城乡建设局*"))
    book = openpyxl.load_workbook(src)
    book.properties.title = "再次报送"  # new content: a new return, not a renamed copy of the old one
    try:
        target = inbox / name
        book.save(target)
    except OSError:
        pytest.skip("this file system refuses the name")
    withdraw(ws, "2021-04", src.name)
    deliver(ws, "2021-04", target, datetime(2021, 5, 7, 9))
    result = run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9))
    forbidden = set('<>:"/\\|?*')
    written = [p for part in ("archive", "feedback", "output")
               for p in (workspace / "rounds" / "2021-04" / part).iterdir()]
    for path in written:
        assert not forbidden & set(path.name), path.name
        assert len(path.name.encode("utf-8")) <= 255
        assert path.resolve().is_relative_to(workspace.resolve())
        assert path.stem.split(".")[0].upper() not in ("CON", "PRN", "AUX", "NUL")
    sub = next(s for s in result.submissions if s.file == target.name)
    assert sub.accepted and sub.feedback is not None


def test_a_rerun_reuses_what_it_read_and_a_changed_master_rechecks(workspace, demo, monkeypatch):
    import toolkit.merge as merge

    ws = Workspace(workspace)
    run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9))  # fills the cache for this workspace copy
    calls = []
    real = merge.examine
    monkeypatch.setattr(merge, "examine", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    again = run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9))
    assert calls == [], "files already seen were read again"
    assert csv_rows(again.outputs["csv"]) == csv_rows(demo.result.outputs["csv"])
    # a renamed file is the same content: the same return, not read again; the new name is recorded
    inbox = workspace / "rounds" / "2021-04" / "inbox"
    src = next(inbox.glob("*市住房城乡建设局*"))
    src.rename(inbox / "住建局重新命名.xlsx")
    again = run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9))
    assert calls == []
    assert csv_rows(again.outputs["csv"]) == csv_rows(demo.result.outputs["csv"])
    assert any(f.file == "住建局重新命名.xlsx" and f.code.name == "W312" and src.name in f.message
               for f in again.findings)
    # the clerk edits the master: the returns were checked against the registry their templates
    # were issued with (the round's snapshot), so nothing is read again; the outputs follow the edit
    master = workspace / "master.xlsx"
    master.write_bytes(master.read_bytes())  # same bytes: still cached
    run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9))
    assert calls == []
    wb = openpyxl.load_workbook(master)
    wb["设置"]["B2"].value = "三门峡市人民政府督查室"
    wb.save(master)
    edited = run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9))
    assert calls == []
    assert edited.registry.settings.issuer == "三门峡市人民政府督查室"


def test_returns_sent_in_a_zip_archive(workspace, demo):
    """A department zips its return (Windows zips name Chinese files in GBK): it is read from inside."""
    ws = Workspace(workspace)
    inbox = workspace / "rounds" / "2021-04" / "inbox"
    src = next(inbox.glob("*市公安局*"))
    book = openpyxl.load_workbook(src)
    book.properties.title = "压缩后报送"  # new content, so the zipped file is a return of its own
    resaved = workspace / "公安局.xlsx"
    book.save(resaved)
    archive = inbox / "公安局报表.zip"
    gbk = "市公安局4月报表.xlsx".encode("gbk")
    placeholder = b"P" * (len(gbk) - 5) + b".xlsx"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(placeholder.decode("ascii"), resaved.read_bytes())  # ASCII: no UTF-8 flag is set
        zf.writestr("说明.txt", "见附件")
    archive.write_bytes(archive.read_bytes().replace(placeholder, gbk))  # as WinRAR/Windows write it
    withdraw(ws, "2021-04", src.name, reason="单位改为压缩包报送")
    deliver(ws, "2021-04", archive, datetime(2021, 5, 7, 9))
    result = run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9))
    sub = next(s for s in result.submissions if s.unit == "市公安局" and not s.attachment and not s.withdrawn)
    assert sub.file == "公安局报表.zip/市公安局4月报表.xlsx" and sub.accepted and not sub.late
    assert sub.received == datetime(2021, 5, 7, 9)  # the archive's arrival dates what is inside
    note = next(s for s in result.submissions if s.file == "公安局报表.zip/说明.txt")
    assert note.attachment and note.unit == "市公安局"  # recorded with the return it came with
    assert csv_rows(result.outputs["csv"]) == csv_rows(demo.result.outputs["csv"])


def test_limits_are_settings(workspace):
    (workspace / "ducha.toml").write_text("[limits]\nmax_file_bytes = 1000\n", encoding="utf-8")
    result = run_merge(Workspace(workspace), "2021-04", now=datetime(2021, 5, 13, 9))
    assert all(not s.accepted for s in result.submissions)
    assert all("F105" == f.code.name for f in result.findings if f.level.value == "拒收")
    (workspace / "ducha.toml").write_text("[limits]\nmax_file_byte = 1000\n", encoding="utf-8")
    proc = subprocess.run(merge_cmd(workspace), capture_output=True, timeout=300)
    assert proc.returncode == 2 and "max_file_bytes" in proc.stderr.decode("utf-8")


@pytest.mark.parametrize("name", ["~$市公安局报表.xlsx", ".~lock.市公安局报表.xlsx#", ".hidden.xlsx", "Thumbs.db",
                                  "desktop.ini"])
def test_lock_and_hidden_files_are_skipped_silently(workspace, demo, name):
    inbox = workspace / "rounds" / "2021-04" / "inbox"
    (inbox / name).write_bytes(b"\x00garbage")
    result = run_merge(Workspace(workspace), "2021-04", now=datetime(2021, 5, 13, 9))
    assert name not in {s.file for s in result.submissions}
    assert not any(f.file == name for f in result.findings)
    assert csv_rows(result.outputs["csv"]) == csv_rows(demo.result.outputs["csv"])


def test_macro_workbooks_are_read_but_macros_never_travel(workspace):
    """An .xlsm return merges; its macro project never reaches an output or the feedback copy."""
    inbox = workspace / "rounds" / "2021-04" / "inbox"
    src = next(inbox.glob("*市住房城乡建设局*"))
    target = inbox / "市住房城乡建设局（宏）.xlsm"
    hostile.with_macros(src, target)
    ws = Workspace(workspace)
    withdraw(ws, "2021-04", src.name)
    deliver(ws, "2021-04", target, datetime(2021, 5, 7, 9))
    result = run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9))
    sub = next(s for s in result.submissions if s.file == target.name)
    assert sub.accepted and sub.feedback is not None and not sub.late
    for path in [*result.outputs.values(), sub.feedback]:
        if path.suffix in (".xlsx", ".docx"):
            with zipfile.ZipFile(path) as zf:
                assert not any("vba" in n.lower() for n in zf.namelist()), path.name


def test_zip_member_names_cannot_escape(workspace):
    inbox = workspace / "rounds" / "2021-04" / "inbox"
    src = next(inbox.glob("*市公安局*"))
    archive = inbox / "报表.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../../../逃逸.xlsx", src.read_bytes())
        zf.writestr("/abs/CON.xlsx", src.read_bytes())
    src.unlink()
    result = run_merge(Workspace(workspace), "2021-04", now=datetime(2021, 5, 13, 9))
    subs = [s for s in result.submissions if s.file.startswith("报表.zip/")]
    assert len(subs) == 2 and all(s.accepted for s in subs)
    for sub in subs:
        assert sub.path.resolve().is_relative_to((workspace / "rounds" / "2021-04").resolve())
        assert sub.path.name == safe_name(sub.path.name)  # valid on Windows, no device names
    assert not list(workspace.parent.glob("逃逸*")) and not list(workspace.glob("逃逸*"))


# ---------------------------------------------------------------------------------------
# receiving is kill-safe: a receipt is never without its bytes, an acknowledged one is never lost
# ---------------------------------------------------------------------------------------

RECEIVER = """
import sys
from pathlib import Path
from toolkit.model import Source
from toolkit.receipts import receive_bytes
from toolkit.workspace import Workspace

ws = Workspace(Path(sys.argv[1]))
for i in range(int(sys.argv[2])):
    data = (b"%06d" % i) * 40000
    r = receive_bytes(ws, "2021-04", data, f"{i}.xlsx", source=Source.INBOX)
    print(i, r.id, flush=True)
"""


def _payload(i: int) -> bytes:
    return (b"%06d" % i) * 40000


def test_receive_killed_at_random_moments_loses_nothing(tmp_path):
    from toolkit.model import Source
    from toolkit.receipts import receipt_list, receive_bytes

    root = tmp_path / "ws"
    root.mkdir()
    ws = Workspace(root)
    n = 40
    rng = random.Random(20210507)
    acked: set[int] = set()
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(root), str(n)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        acked |= {int(line.split()[0]) for line in out.decode().splitlines() if line.strip()}
        receipts = receipt_list(ws, "2021-04")
        by_name = {r.original_name: r for r in receipts}
        assert len(by_name) == len(receipts), "one content, one receipt"
        for r in receipts:  # the bytes were kept before the receipt was written
            assert r.stored is not None and r.stored.read_bytes() == _payload(int(r.original_name[:-5]))
        assert {f"{i}.xlsx" for i in acked} <= set(by_name), "an acknowledged receipt was lost"
    for i in range(n):  # receiving everything again completes the round, doubling nothing
        receive_bytes(ws, "2021-04", _payload(i), f"{i}.xlsx", source=Source.INBOX)
    receipts = receipt_list(ws, "2021-04")
    assert sorted(r.original_name for r in receipts) == sorted(f"{i}.xlsx" for i in range(n))
    stored = [p for p in (root / "rounds" / "2021-04" / ".ducha" / "originals").rglob("*") if p.is_file()]
    assert all(p.name.startswith(".") for p in stored if p.name.endswith(".tmp")), "a temp file took a real name"
    assert len([p for p in stored if not p.name.startswith(".")]) == n


SCANNER = """
import sys
from pathlib import Path
from toolkit.receipts import scan_inbox
from toolkit.workspace import Workspace

scan_inbox(Workspace(Path(sys.argv[1])), "2021-04")
print("done", flush=True)
"""


def _inbox_of(tmp_path: Path, n: int) -> tuple[Path, Workspace]:
    """A workspace whose round 2021-04 inbox holds ``n`` distinct returns, two thirds in a subfolder."""
    root = tmp_path / "ws"
    inbox = root / "rounds" / "2021-04" / "inbox"
    (inbox / "子文件夹").mkdir(parents=True)
    for i in range(n):
        (inbox / ("子文件夹" if i % 3 else "") / f"{i}.xlsx").write_bytes(_payload(i))
    return root, Workspace(root)


def test_inbox_scan_killed_at_random_moments_loses_nothing(tmp_path):
    """Scanning receives files in batches (one commit per batch): a kill loses at most the
    batch in hand, never leaves a receipt without its bytes, and the next scan completes it."""
    from toolkit.receipts import receipt_list, scan_inbox

    n = 240
    root, ws = _inbox_of(tmp_path, n)
    rng = random.Random(20210508)
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", SCANNER, str(root)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        receipts = receipt_list(ws, "2021-04")
        assert len({r.sha256 for r in receipts}) == len(receipts)
        for r in receipts:
            assert r.stored is not None and r.stored.read_bytes() == _payload(int(r.original_name[:-5]))
    scan_inbox(ws, "2021-04")
    receipts = receipt_list(ws, "2021-04")
    assert sorted(int(r.original_name[:-5]) for r in receipts) == list(range(n))


BATCH_KILLER = """
import os, signal, sys
from pathlib import Path
from toolkit import store
from toolkit.receipts import scan_inbox
from toolkit.workspace import Workspace

point, calls = sys.argv[2], {"n": 0}

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def after(real, nth=1):
    def wrapped(*args, **kw):
        out = real(*args, **kw)
        calls["n"] += 1
        if calls["n"] == nth:
            die()
        return out
    return wrapped

if point == "written":  # every temp file of the first batch written, nothing synced
    store._sync_files = lambda *a: die()
    store._can_syncfs = lambda _folder: True
elif point == "bytes synced":
    store._sync_files = after(store._sync_files)
    store._can_syncfs = lambda _folder: True
elif point == "half linked":
    store._link_new = after(store._link_new, nth=15)
elif point == "names synced":  # the second batch's names durable, its receipts not committed
    store._sync_names = after(store._sync_names, nth=2)
elif point == "committed":
    real_commit = store.IntakeLog.transaction
    import contextlib

    @contextlib.contextmanager
    def transaction(self):
        with real_commit(self):
            yield
        calls["n"] += 1
        if calls["n"] == 2:
            die()
    store.IntakeLog.transaction = transaction
scan_inbox(Workspace(Path(sys.argv[1])), "2021-04")
print("done", flush=True)
"""


@pytest.mark.parametrize("point", ["written", "bytes synced", "half linked", "names synced", "committed"])
def test_inbox_batch_killed_at_each_step_loses_nothing(tmp_path, point):
    """A batch is written, made durable at once, named, its names made durable, then its receipts
    committed: killed after any of these steps, no receipt is without its bytes, no stored name is on
    other bytes than its content's, and the next scan receives every file once."""
    from toolkit.receipts import originals, receipt_list, scan_inbox

    n = 60
    root, ws = _inbox_of(tmp_path, n)
    proc = subprocess.run([sys.executable, "-c", BATCH_KILLER, str(root), point], cwd=ROOT, capture_output=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode("utf-8", "replace")
    receipts = receipt_list(ws, "2021-04")
    for r in receipts:
        assert r.stored is not None and r.stored.read_bytes() == _payload(int(r.original_name[:-5]))
    store = originals(ws, "2021-04")
    named = [p for p in store.rglob("*") if p.is_file() and not p.name.startswith(".")]
    for path in named:  # <store>/<ab>/<cdef…>/<name>: a name only ever on its content's bytes
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.parent.parent.name + path.parent.name
    if point in ("written", "bytes synced"):
        assert not named and not receipts
    scan_inbox(ws, "2021-04")
    receipts = receipt_list(ws, "2021-04")
    assert sorted(int(r.original_name[:-5]) for r in receipts) == list(range(n))
    named = [p for p in store.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert len(named) == n, "a content stored twice"
