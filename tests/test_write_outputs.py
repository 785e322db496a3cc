"""write_outputs: the report written by a forked child gives the same five files, the same log
lines in the same order, and the child's errors as the clerk would see them without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import toolkit.outputs
import toolkit.report
from tests.output_digest import big_standing, docx_digest, xlsx_digest
from toolkit.errors import DuchaError, WorkspaceError
from toolkit.merge import output_names, write_outputs
from toolkit.outputs.forked import can_fork
from toolkit.workspace import Workspace

pytestmark = pytest.mark.skipif(not can_fork(), reason="no fork or a single core: the writers run one by one")


def _digest(paths: dict[str, Path]) -> dict:
    out: dict[str, object] = {}
    for key, path in paths.items():
        if path.suffix == ".xlsx":
            out[key] = xlsx_digest(path)
        elif path.suffix == ".docx":
            out[key] = docx_digest(path)
        else:
            out[key] = path.read_text(encoding="utf-8-sig")
    return out


def _write(root: Path, parallel: bool, standing=None) -> tuple[dict[str, Path], list[str]]:
    lines: list[str] = []
    standing = standing or big_standing()
    paths = write_outputs(Workspace(root), standing, lines.append, parallel=parallel)
    return dict(paths), lines


def test_forked_report_gives_the_same_outputs_and_log(tmp_path):
    serial, serial_log = _write(tmp_path / "a", parallel=False)
    forked, forked_log = _write(tmp_path / "b", parallel=True)
    assert list(forked) == list(serial) == list(output_names("2021-04"))
    assert [line.replace(str(tmp_path / "b"), "") for line in forked_log] == \
        [line.replace(str(tmp_path / "a"), "") for line in serial_log]
    assert _digest(forked) == _digest(serial)
    assert not [p for p in (tmp_path / "b").rglob("*") if p.is_file() and p.name not in output_names("2021-04").values()]


def test_outputs_started_early_give_the_same_outputs_and_log(tmp_path, monkeypatch):
    """A large merge starts the outputs that show no history in a child before the history is
    known, and the report in another beside the summary: the same five files, the same log."""
    import toolkit.outputs.forked as forked
    from toolkit.merge import start_early_outputs

    serial, serial_log = _write(tmp_path / "a", parallel=False)
    monkeypatch.setattr(forked, "MIN_ROWS", 0)
    standing, lines = big_standing(), []
    early = start_early_outputs(Workspace(tmp_path / "b"), standing)
    assert early is not None and early.label == "台账、校验报告和 results.csv"  # WITHOUT_HISTORY
    forked_paths = write_outputs(Workspace(tmp_path / "b"), standing, lines.append, early=early)
    assert list(forked_paths) == list(serial)
    assert [line.replace(str(tmp_path / "b"), "") for line in lines] == \
        [line.replace(str(tmp_path / "a"), "") for line in serial_log]
    assert _digest(dict(forked_paths)) == _digest(serial)


def test_outputs_started_before_the_history_do_not_show_it(demo, tmp_path):
    """What lets them start early: the ledger, the check report and results.csv are the same
    whether the year's history is known or not (the summary and the report show it)."""
    import shutil
    from dataclasses import replace
    from datetime import datetime

    from toolkit.merge import WITHOUT_HISTORY, _writers, run_merge

    shutil.copytree(demo.folder, tmp_path / "ws")
    known = run_merge(Workspace(tmp_path / "ws"), "2021-04", now=datetime(2021, 5, 13, 9, 0))
    assert known.history is not None and known.history.changes
    unknown = replace(known, history=None, outputs={})
    writers, names = _writers(), output_names("2021-04")
    for folder in ("with", "without"):
        (tmp_path / folder).mkdir()
    for key in WITHOUT_HISTORY + ("summary",):
        with_it = writers[key](known, tmp_path / "with" / names[key])
        without = writers[key](unknown, tmp_path / "without" / names[key])
        same = _digest({key: with_it}) == _digest({key: without})
        assert same is (key in WITHOUT_HISTORY), key  # the summary's 趋势 sheet shows it: the test can fail


def test_childs_error_reaches_the_clerk_unchanged(tmp_path, monkeypatch):
    def broken(result, path):
        raise WorkspaceError(f"无法写入“{path.name}”：磁盘已满。请清理磁盘后重试。")

    monkeypatch.setattr(toolkit.report, "write_report", broken)
    lines: list[str] = []
    with pytest.raises(WorkspaceError, match="无法写入“进展情况报告_2021-04.docx”：磁盘已满"):
        write_outputs(Workspace(tmp_path), big_standing(), lines.append, parallel=True)
    # the workbooks before the report in the order were written and said so; none after it is logged
    assert [Path(line.split("已生成 ")[1]).name for line in lines] == ["汇总表_2021-04.xlsx", "台账_2021-04.xlsx"]


def test_an_error_that_does_not_pickle_keeps_its_message(tmp_path, monkeypatch):
    class Odd(DuchaError):
        def __init__(self, where: str, why: str):
            super().__init__(f"{where}：{why}")

    def broken(result, path):
        raise Odd("报告", "模板损坏，请重新生成模板")

    monkeypatch.setattr(toolkit.report, "write_report", broken)
    with pytest.raises(DuchaError, match="报告：模板损坏，请重新生成模板"):
        write_outputs(Workspace(tmp_path), big_standing(), parallel=True)


def test_a_child_that_dies_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(toolkit.report, "write_report", lambda result, path: os._exit(3))
    with pytest.raises(WorkspaceError, match="进展情况报告.*退出码 3"):
        write_outputs(Workspace(tmp_path), big_standing(), parallel=True)


def test_a_failing_workbook_stops_the_child(tmp_path, monkeypatch):
    def slow(result, path):
        import time

        time.sleep(30)
        return path

    def broken(result, path):
        raise WorkspaceError("台账写入失败")

    monkeypatch.setattr(toolkit.report, "write_report", slow)
    monkeypatch.setattr(toolkit.outputs, "write_ledger", broken)
    import time

    started = time.monotonic()
    with pytest.raises(WorkspaceError, match="台账写入失败"):
        write_outputs(Workspace(tmp_path), big_standing(), parallel=True)
    assert time.monotonic() - started < 20


@pytest.mark.skipif(not can_fork(), reason="no fork or a single core")
def test_history_worked_out_in_a_child_is_the_history(demo, tmp_path, monkeypatch):
    """A large round works out the year's history in a forked child (pandas stays out of the
    merge's memory): the history that comes back is the one worked out in the merge itself."""
    import shutil
    from datetime import datetime

    import toolkit.merge as merge_mod
    import toolkit.outputs.forked as forked
    from toolkit.merge import run_merge

    shutil.copytree(demo.folder, tmp_path / "ws")
    ws = Workspace(tmp_path / "ws")
    here = run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9, 0))
    assert here.history is not None and here.history.categories
    started = []
    real = forked.Forked

    def counted(label, fn, *args):
        started.append(label)
        return real(label, fn, *args)

    monkeypatch.setattr(forked, "MIN_ROWS", 0)
    monkeypatch.setattr(forked, "Forked", counted)
    (ws.state("2021-04") / "outputs.json").unlink()  # written again, so the report forks too
    there = run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9, 0))
    assert "跨轮次比较" in started
    assert repr(there.history) == repr(here.history)
    assert merge_mod._outputs_digest(there) == merge_mod._outputs_digest(here)
    # nothing new: the child that started is stopped, the outputs are kept, nothing waits for it
    started.clear()
    again = run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9, 0))
    # (the standing's fingerprint, taken in a child beside the archive, says nothing changed)
    assert started == ["跨轮次比较", "核对用指纹"] and again.history is None and again.outputs == there.outputs
    # taken here instead (one process), the fingerprint is the same: still nothing to write
    monkeypatch.setenv("DUCHA_WORKERS", "1")
    started.clear()
    alone = run_merge(ws, "2021-04", now=datetime(2021, 5, 13, 9, 0))
    assert started == [] and alone.history is None and alone.outputs == there.outputs


def test_one_worker_means_no_child(monkeypatch):
    """DUCHA_WORKERS=1 keeps a merge to one process: no forked writer or history child either."""
    monkeypatch.setenv("DUCHA_WORKERS", "1")
    assert not can_fork()
    monkeypatch.setenv("DUCHA_WORKERS", "2")
    assert can_fork() == ("fork" in __import__("multiprocessing").get_all_start_methods()
                          and (os.cpu_count() or 1) > 1)


def test_the_merge_process_never_imports_pandas_or_openpyxl(demo, tmp_path):
    """pandas (the year's history) and openpyxl (marked-up copies the fast path cannot write) are
    imported where they are used — the history's child, a pool worker — not by the merge's own
    process, where each import (≈ 0.3 s, numpy with them) would hold up everything after it."""
    import shutil
    import subprocess
    import sys

    shutil.copytree(demo.folder, tmp_path / "ws")
    script = f"""
import sys
from datetime import datetime
from pathlib import Path
import toolkit.outputs.forked as forked
from toolkit.merge import run_merge
from toolkit.workspace import Workspace
forked.MIN_ROWS = 0  # the demo is small: its history and outputs go to children as a province's would
standing = run_merge(Workspace(Path({str(tmp_path / "ws")!r})), "2021-04", now=datetime(2021, 5, 13, 9, 0))
assert standing.history is not None and standing.history.changes and len(standing.outputs) == 5
print(sorted(m for m in ("pandas", "numpy", "openpyxl", "matplotlib") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
