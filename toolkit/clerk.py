"""Support for the double-click scripts in ``scripts/`` (merge.py, make_templates.py, status.py).

A clerk who runs a script rather than typing commands gets: the workspace given
on the command line, or the one the script sits in (or beside), or is asked for
one; progress and results in Chinese; a log file in the workspace; and, when the
script was started by double-click, a window that stays open until Enter.
"""

from __future__ import annotations

import io
import os
import sys
from datetime import datetime
from pathlib import Path

from .workspace import MASTER


class _Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            try:
                stream.write(text)
                stream.flush()
            except (OSError, ValueError, UnicodeError):
                pass
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            try:
                stream.flush()
            except (OSError, ValueError):
                pass


def started_by_double_click() -> bool:
    """True when the script owns its console window (Windows Explorer double-click)."""
    if os.environ.get("DUCHA_PAUSE") == "1":
        return True
    if sys.platform != "win32":
        return False
    try:
        import ctypes

        processes = (ctypes.c_uint * 4)()
        return ctypes.windll.kernel32.GetConsoleProcessList(processes, 4) <= 2
    except (AttributeError, OSError):
        return False


def locate_workspace(argv: list[str], script: Path, ask=input) -> Path | None:
    """The workspace: an argument, the script's folder or its parent, or asked for."""
    if argv:
        return Path(argv[0]).expanduser()
    here = script.resolve().parent
    for folder in (here, here.parent, Path.cwd()):
        if (folder / MASTER).exists():
            return folder
    try:
        answer = ask("没有找到工作区（含 master.xlsx 的文件夹）。请输入工作区文件夹路径，或直接回车退出：").strip()
    except EOFError:
        return None
    return Path(answer.strip('"')).expanduser() if answer else None


def run_script(command: str, argv: list[str], script: str, extra: list[str] | None = None) -> int:
    """Run one ducha command for a clerk; returns the exit code."""
    from .cli import main, safe_streams

    safe_streams()
    pause = started_by_double_click()
    given = argv[:1] if argv and not argv[0].startswith("-") else []
    rest = argv[len(given):]
    workspace = locate_workspace(given, Path(script))
    code = 2
    try:
        if workspace is None:
            print("未指定工作区，已退出。")
            return 2
        if not (workspace / MASTER).exists():
            print(f"错误：{workspace} 中没有 master.xlsx，请确认工作区文件夹。")
            return 2
        log_path = workspace / f"ducha-{command}-{datetime.now():%Y%m%d-%H%M%S}.log"
        with open(log_path, "w", encoding="utf-8") as log:
            out, err = sys.stdout, sys.stderr
            sys.stdout, sys.stderr = _Tee(out, log), _Tee(err, log)
            try:
                print(f"工作区：{workspace}")
                try:
                    code = main([command, "-w", str(workspace), *(extra or []), *rest])
                except SystemExit as exc:  # argparse on bad arguments
                    code = exc.code if isinstance(exc.code, int) else 2
            finally:
                sys.stdout, sys.stderr = out, err
        verdict = {0: "完成", 1: "完成，但有报表被拒收或有错误，请查看上面的说明"}.get(code, "未能完成，请查看上面的错误说明")
        print(f"\n{verdict}。日志已保存到 {log_path}")
        return code
    finally:
        if pause:
            try:
                input("\n按回车键退出")
            except EOFError:
                pass
