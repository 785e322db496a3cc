"""Reading and checking on several cores gives exactly what the serial path gives."""

from __future__ import annotations

import gc
import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from tests import hostile
from tests.factories import copy_as, delete_meta, make_return, make_workspace, set_meta
from tests.office import SOFFICE, convert
from toolkit import pool
from toolkit.check import CheckContext
from toolkit.findings import Code, Level
from toolkit.merge import run_merge
from toolkit.pool import Checked, check_files, examine, keep_all, keep_none, map_ordered, needs_grid
from toolkit.read import Limits
from toolkit.standing import Fate
from toolkit.workspace import Workspace

PARENT = os.getpid()


def _round_context(ws) -> CheckContext:
    registry = ws.registry()
    return CheckContext(registry=registry, round=registry.round("2021-04"))


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    """A round's worth of files: good returns, faulty ones, hostile and foreign files."""
    tmp = tmp_path_factory.mktemp("pool")
    ws = make_workspace(tmp)
    out = tmp / "inbox"
    files = [
        make_return(ws, out, unit="市科技局", name="科技局.xlsx"),
        make_return(ws, out, unit="市发展改革委", name="发改委.xlsx"),
        make_return(ws, out, unit="灵宝市人民政府", name="灵宝.xlsx"),
        make_return(ws, out, unit="卢氏县人民政府", name="卢氏.xlsx", contact=False),
        make_return(ws, out, unit="市科技局", name="科技局_有错.xlsx",
                    values={"1-1-1": {"本期完成": "约59家"}, "1-1-2": {"本期完成": None}}),
        make_return(ws, out, unit="市发展改革委", name="发改委_无标识.xlsx", edit=delete_meta),
        make_return(ws, out, unit="市科技局", name="科技局_上轮.xlsx", round="2021-03"),
        make_return(ws, out, unit="市科技局", name="科技局_改单位.xlsx", edit=lambda wb: set_meta(wb, "单位编号", "D99")),
        hostile.docx(out / "其实是Word.xlsx"),
        hostile.pdf(out / "扫描件.xlsx"),
        hostile.png(out / "截图.xls"),
        hostile.garbage_xls(out / "损坏.xls"),  # read by calamine in a child of the worker
        hostile.encrypted_ooxml(out / "加密.xlsx"),
        hostile.billion_laughs(out / "实体.xlsx"),
        hostile.external_entity(out / "外部实体.xlsx"),
        hostile.zip_bomb_declared(out / "炸弹.xlsx"),
        hostile.truncated(hostile.real_xlsx(out / "real.xlsx"), out / "截断.xlsx"),
        hostile.real_xlsx(out / "别的表.xlsx"),
        hostile.dimension_bomb(out / "维度.xlsx"),
    ]
    return ws, [(path, path.name) for path in files]


def serial(items, ctx, keep=needs_grid) -> list[Checked]:
    out = []
    for path, label in items:
        outcome, ret = examine(path, ctx, Limits(), name=label)
        out.append(Checked(outcome, ret if ret is not None and keep(outcome, ret) else None))
    return out


def test_pool_gives_what_the_serial_path_gives(inbox):
    ws, items = inbox
    ctx = _round_context(ws)
    want = serial(items, ctx, keep_all)
    got = check_files(items, ctx, workers=2, keep=keep_all)
    assert [c.outcome for c in got] == [c.outcome for c in want]
    assert [c.ret for c in got] == [c.ret for c in want]
    # the mix really is mixed: accepted, with errors, rejected for several reasons
    codes = {f.code for c in got for f in c.outcome.findings}
    assert {Code.E201, Code.W306, Code.W307, Code.F102, Code.F103, Code.F107, Code.F111, Code.F113} <= codes
    assert sum(not c.outcome.rejected for c in got) >= 5
    assert all(c.outcome.file == label for c, (_p, label) in zip(got, items, strict=True))


def test_in_input_order_whatever_finishes_first(inbox):
    ws, items = inbox
    ctx = _round_context(ws)
    reordered = list(reversed(items)) * 2
    seen: list[int] = []
    got = check_files(reordered, ctx, workers=2, keep=keep_none, on_result=lambda i, _c: seen.append(i))
    assert seen == list(range(len(reordered)))
    assert [c.outcome.file for c in got] == [label for _p, label in reordered]
    assert all(c.ret is None for c in got)


def _with_findings(outcome, _ret) -> bool:
    return bool(outcome.findings)


def test_only_the_files_asked_for_come_back_with_their_workbook(inbox):
    ws, items = inbox
    got = check_files(items, _round_context(ws), workers=2, keep=_with_findings)
    for checked in got:
        if checked.outcome.findings and not checked.outcome.rejected:
            assert checked.ret is not None and checked.ret.workbook.sheets
        if not checked.outcome.findings:
            assert checked.ret is None
    assert any(c.ret is not None for c in got) and any(c.ret is None for c in got)
    # by default an xlsx never comes back: its feedback copy is made from the original file
    assert all(c.ret is None for c in check_files(items, _round_context(ws), workers=2))


def test_no_context_and_history_checks_behave_the_same(inbox):
    """A department's own check (no registry) through the pool."""
    _ws, items = inbox
    ctx = CheckContext()
    assert [c.outcome for c in check_files(items, ctx, workers=2)] == [c.outcome for c in serial(items, ctx)]


def test_small_batches_and_one_worker_run_in_process(inbox, monkeypatch):
    ws, items = inbox
    ctx = _round_context(ws)

    def no_pool(*_a, **_k):
        raise AssertionError("a pool was started")

    monkeypatch.setattr(pool.Ahead, "_start", no_pool)
    few = items[: pool.MIN_PARALLEL - 1]
    assert [c.outcome for c in check_files(few, ctx, workers=2)] == [c.outcome for c in serial(few, ctx)]
    assert [c.outcome for c in check_files(items, ctx, workers=1)] == [c.outcome for c in serial(items, ctx)]
    assert check_files([], ctx) == []


def _die_in_worker(outcome, ret) -> bool:
    """A keep() that kills the worker process running it (the OOM killer, a clerk's kill)."""
    if os.getpid() != PARENT and outcome.file == "卢氏.xlsx":
        os._exit(9)
    return needs_grid(outcome, ret)


def test_a_killed_worker_does_not_lose_files(inbox):
    ws, items = inbox
    ctx = _round_context(ws)
    got = check_files(items, ctx, workers=2, keep=_die_in_worker)
    assert [c.outcome for c in got] == [c.outcome for c in serial(items, ctx)]


def test_unreadable_files_are_findings_not_exceptions(inbox):
    ws, items = inbox
    got = check_files(items, _round_context(ws), workers=2)
    for checked, (path, _label) in zip(got, items, strict=True):
        if checked.outcome.rejected:
            reject = [f for f in checked.outcome.findings if f.level is Level.REJECT]
            assert reject and all(f.message for f in reject), path.name


@pytest.mark.slow
@pytest.mark.skipif(not SOFFICE, reason="LibreOffice not installed")
def test_legacy_formats_read_by_calamine_inside_a_worker(inbox, tmp_path):
    """xls and ods go to python-calamine in a child of the worker, with its caps; same verdicts."""
    ws, items = inbox
    good = [path for path, _label in items[:4]]
    converted = convert(good, "ods", tmp_path / "ods", tmp_path / "profile") + \
        convert(good, "xls", tmp_path / "xls", tmp_path / "profile")
    mixed = [(p, p.name) for p in converted] * 2
    ctx = _round_context(ws)
    got = check_files(mixed, ctx, workers=2, keep=keep_all)
    want = serial(mixed, ctx, keep_all)
    assert [c.outcome for c in got] == [c.outcome for c in want]
    assert [c.ret for c in got] == [c.ret for c in want]
    assert all(not c.outcome.rejected for c in got)
    # a legacy file with findings comes back with its grid: feedback rebuilds it from that
    for checked in check_files(mixed, ctx, workers=2):
        assert (checked.ret is not None) == bool(checked.outcome.findings)


def test_paths_survive_the_round_trip(inbox):
    ws, items = inbox
    got = check_files(items, _round_context(ws), workers=2, keep=keep_all)
    for checked, (path, _label) in zip(got, items, strict=True):
        if checked.ret is not None:
            assert isinstance(checked.ret.path, Path) and checked.ret.path == path


def _square_plus(item: int, shared: int) -> int:
    if item < 0:
        raise ValueError(item)
    return item * item + shared


def test_map_ordered_is_a_loop_on_several_cores():
    items = list(range(50))
    assert map_ordered(_square_plus, items, 3, workers=2) == [i * i + 3 for i in items]
    with pytest.raises(ValueError):  # a job's own exception surfaces as in a loop
        map_ordered(_square_plus, [1, 2, -1, 4] * 5, 0, workers=2)


def _square_or_die(item: int, shared: int) -> int:
    """Kills the worker running item 13 (the OOM killer, a clerk's kill); in the merge it is fine."""
    if item == 13 and os.getpid() != PARENT:
        os._exit(9)
    return _square_plus(item, shared)


def test_jobs_started_ahead_give_the_loop_s_results_in_the_final_order():
    with pool.Ahead(_square_plus, 3, workers=2) as ahead:
        for i in range(30):  # offered as they come: some never asked for, the rest asked in another order
            ahead.offer(i)
        wanted = [29, 5, 40, 41, 0, 7, 100] + list(range(8, 20))
        assert list(ahead.results(wanted)) == [i * i + 3 for i in wanted]
        assert ahead.offered == 30 and ahead.ahead == 16 and ahead.in_workers == len(wanted)
    with pool.Ahead(_square_plus, 0, workers=2) as ahead:  # a job's own exception, at its own item
        for i in [1, 2, -1, 4] * 3:
            ahead.offer(i)
        got = ahead.results([1, 2, -1, 4])
        assert next(got) == 1 and next(got) == 4
        with pytest.raises(ValueError):
            next(got)


def test_jobs_started_ahead_survive_a_killed_worker():
    with pool.Ahead(_square_or_die, 1, workers=2) as ahead:
        for i in range(40):
            ahead.offer(i)
        assert list(ahead.results(range(40))) == [i * i + 1 for i in range(40)]


def test_nothing_runs_ahead_on_one_core_or_for_a_few_items(monkeypatch):
    monkeypatch.setenv("DUCHA_WORKERS", "1")
    with pool.Ahead(_square_plus, 1) as ahead:
        for i in range(20):
            ahead.offer(i)
        assert list(ahead.results(range(20))) == [i * i + 1 for i in range(20)]
        assert ahead.in_workers == 0
    monkeypatch.delenv("DUCHA_WORKERS")
    with pool.Ahead(_square_plus, 1, workers=2) as ahead:
        for i in range(pool.MIN_PARALLEL - 1):
            ahead.offer(i)
        assert list(ahead.results(range(3))) == [1, 2, 5]
        assert ahead.in_workers == 0 and ahead._executor is None


def test_workers_can_be_capped_from_the_environment(inbox, monkeypatch):
    ws, items = inbox

    def no_pool(*_a, **_k):
        raise AssertionError("a pool was started")

    monkeypatch.setenv("DUCHA_WORKERS", "1")
    assert pool.default_workers() == 1
    monkeypatch.setattr(pool.Ahead, "_start", no_pool)
    ctx = _round_context(ws)
    assert [c.outcome for c in check_files(items, ctx)] == [c.outcome for c in serial(items, ctx)]
    monkeypatch.setenv("DUCHA_WORKERS", "zwei")
    assert pool.default_workers() >= 1


# ---------------------------------------------------------------------------------------
# a whole merge: with the pool and without, the same round


@pytest.fixture(scope="module")
def round_inbox(tmp_path_factory):
    """A round's inbox with enough files for the pool: versions, faults, a copy and foreign files."""
    tmp = tmp_path_factory.mktemp("merge")
    ws = make_workspace(tmp)
    inbox = ws.inbox("2021-04")
    for i, unit in enumerate(["市科技局", "市发展改革委", "灵宝市人民政府", "卢氏县人民政府"]):
        make_return(ws, inbox, unit=unit, name=f"{i}_{unit}.xlsx", contact=i != 1)
    make_return(ws, inbox / "第二批", unit="市科技局", name="科技局_有错.xlsx",
                values={"1-1-1": {"本期完成": "约59家"}, "1-1-2": {"本期完成": None}})
    make_return(ws, inbox / "第二批", unit="市发展改革委", name="发改委_改后.xlsx", values={"2-1-1": {"本期完成": 91}})
    make_return(ws, inbox, unit="市科技局", name="科技局_上轮.xlsx", round="2021-03")
    make_return(ws, inbox, unit="灵宝市人民政府", name="灵宝_改单位.xlsx", edit=lambda wb: set_meta(wb, "单位编号", "D99"))
    make_return(ws, inbox, unit="卢氏县人民政府", name="卢氏_无标识.xlsx", edit=delete_meta)
    copy_as(inbox / "0_市科技局.xlsx", inbox / "第三批" / "科技局_再发一次.xlsx")
    hostile.docx(inbox / "说明.docx")
    hostile.garbage_xls(inbox / "损坏.xls")
    hostile.encrypted_ooxml(inbox / "加密.xlsx")
    hostile.billion_laughs(inbox / "实体.xlsx")
    hostile.truncated(hostile.real_xlsx(tmp / "real.xlsx"), inbox / "截断.xlsx")
    return ws


def _merged(source: Workspace, target: Path, workers: str, monkeypatch) -> tuple[Workspace, object, list[str]]:
    shutil.copytree(source.root, target)
    ws = Workspace(target)
    monkeypatch.setenv(pool.WORKERS_ENV, workers)
    lines: list[str] = []
    standing = run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9, 0), log=lines.append)
    return ws, standing, lines


def _report(path: Path) -> list[tuple]:
    book = openpyxl.load_workbook(path, read_only=True)
    return [row for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]


def test_a_merge_with_the_pool_is_the_merge_without(round_inbox, tmp_path, monkeypatch):
    started: dict[str, int] = {}  # items each job did in a worker; "ahead": files read as they came
    closed = pool.Ahead.close

    def counted_ahead(self):
        started[self.func.__name__] = started.get(self.func.__name__, 0) + self.in_workers
        if self.func.__name__ == "_check_job":
            started["ahead"] = self.ahead
        closed(self)

    monkeypatch.setattr(pool.Ahead, "close", counted_ahead)
    serial_ws, serial, serial_log = _merged(round_inbox, tmp_path / "serial", "1", monkeypatch)
    assert started == {"_check_job": 0, "ahead": 0, "_feedback_job": 0}
    monkeypatch.setattr(pool, "MIN_PARALLEL", 2)  # the few marked-up copies through the pool too
    monkeypatch.setattr("toolkit.merge.ARCHIVE_PER_THREAD", 1)  # and the archive copied by threads
    pooled_ws, pooled, pooled_log = _merged(round_inbox, tmp_path / "pooled", "2", monkeypatch)
    assert gc.get_freeze_count() == 0  # what the merge froze while it ran is collectable again
    # the files really went through the pool: read and checked as they were received, and the
    # marked-up copies
    assert started["_check_job"] >= 8 and started["ahead"] >= 8 and started["_feedback_job"] >= 3

    assert [line.replace(str(pooled_ws.root), "") for line in pooled_log] == \
        [line.replace(str(serial_ws.root), "") for line in serial_log]
    assert pooled.findings == serial.findings
    assert [(f.submission.file, f.submission.unit, f.fate, f.pending, f.findings) for f in pooled.files] == \
        [(f.submission.file, f.submission.unit, f.fate, f.pending, f.findings) for f in serial.files]
    assert (pooled.outputs["csv"]).read_bytes() == serial.outputs["csv"].read_bytes()
    assert _report(pooled.outputs["check"]) == _report(serial.outputs["check"])
    feedback = "rounds/2021-04/feedback"
    assert json.loads((pooled_ws.root / feedback / "index.json").read_text(encoding="utf-8")) == \
        json.loads((serial_ws.root / feedback / "index.json").read_text(encoding="utf-8"))
    assert sorted(p.name for p in (pooled_ws.root / feedback).iterdir()) == \
        sorted(p.name for p in (serial_ws.root / feedback).iterdir())
    archive = "rounds/2021-04/archive"
    assert [(p.name, p.read_bytes()) for p in sorted((pooled_ws.root / archive).iterdir())] == \
        [(p.name, p.read_bytes()) for p in sorted((serial_ws.root / archive).iterdir())]
    assert [f.submission.archived.name for f in pooled.files if f.submission.archived] == \
        [f.submission.archived.name for f in serial.files if f.submission.archived]
    for marked in (serial_ws.root / feedback).glob("*.xlsx"):
        assert _report(pooled_ws.root / feedback / marked.name) == _report(marked)
    # the mix is mixed: accepted, superseded, rejected, an attachment, a repeat; errors held
    assert {Fate.ACCEPTED, Fate.SUPERSEDED, Fate.REJECTED, Fate.ATTACHMENT, Fate.DUPLICATE} <= \
        {f.fate for f in serial.files}
    assert any(f.errors for f in serial.files) and len(serial.pending) > 0


def test_rerun_after_a_pooled_merge_reads_nothing(round_inbox, tmp_path, monkeypatch):
    ws, first, _log = _merged(round_inbox, tmp_path / "ws", "2", monkeypatch)

    def no_reading(path, *_args, **_kw):
        raise AssertionError(f"{path.name} read again")

    monkeypatch.setattr("toolkit.merge.examine", no_reading)
    again = run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9, 30))
    assert again.outputs["csv"].read_bytes() == first.outputs["csv"].read_bytes()
