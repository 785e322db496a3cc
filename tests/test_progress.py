"""The terminal progress bar: drawn only on a terminal, never in captured output or logs."""

from __future__ import annotations

import io
import re

from toolkit import progress as progress_module
from toolkit.progress import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_when_output_is_captured(capfd):
    logged: list[str] = []
    with progress(3, "校验报表", delay=0) as bar:
        say = bar.wrap(logged.append)
        for i in range(3):
            say(f"[{i + 1}/3] 文件{i + 1}：接受")
            bar.advance()
    assert not bar.visible
    assert logged == ["[1/3] 文件1：接受", "[2/3] 文件2：接受", "[3/3] 文件3：接受"]
    raw = capfd.readouterr()  # the file descriptors: nothing written at all
    assert raw.out == "" and raw.err == ""


def test_drawn_on_a_terminal_with_count_rate_and_time_left():
    screen = Terminal()
    with progress(40, "校验报表", enabled=True, stream=screen, delay=0) as bar:
        assert bar.visible
        for _ in range(40):
            bar.advance()
    shown = screen.getvalue()
    assert "校验报表" in shown
    assert re.search(r"\d+/40 份", shown)
    assert "已用" in shown and "剩余" in shown
    assert re.search(r"每秒 [\d.]+ 份|速度计算中", shown)


def test_log_lines_pass_unchanged_and_the_bar_is_lifted_for_them():
    screen = Terminal()
    logged: list[str] = []

    def log(message: str) -> None:
        logged.append(message)
        screen.write(message + "\n")

    with progress(5, "写出汇总表", enabled=True, stream=screen, delay=0) as bar:
        say = bar.wrap(log)
        bar.advance()
        say("已生成 汇总表_2021-04.xlsx")
        bar.advance(4)
    assert logged == ["已生成 汇总表_2021-04.xlsx"]
    # the line stands on its own: the bar was cleared (\r + blanks) right before it
    before = screen.getvalue().split("已生成 汇总表_2021-04.xlsx")[0]
    assert before.rstrip(" ").endswith("\r")


def test_environment_switch_turns_it_off(monkeypatch):
    monkeypatch.setattr(progress_module.sys, "__stdout__", Terminal())
    monkeypatch.setattr(progress_module.sys, "__stderr__", Terminal())
    assert progress_module.on_terminal()
    monkeypatch.setenv("DUCHA_PROGRESS", "0")
    assert not progress_module.on_terminal()


def test_nothing_to_do_draws_nothing():
    screen = Terminal()
    with progress(0, "校验报表", enabled=True, stream=screen, delay=0) as bar:
        bar.advance()
    assert not bar.visible and screen.getvalue() == ""


def test_a_quick_run_shows_nothing_before_the_delay():
    screen = Terminal()
    with progress(3, "校验报表", enabled=True, stream=screen, delay=60) as bar:
        bar.advance(3)
    assert "校验报表" not in screen.getvalue()


def test_no_thread_is_started_for_the_bar():
    """The merge forks its worker pool while the bar is up: no extra thread may exist then."""
    import threading

    before = threading.active_count()
    with progress(10, "校验报表", enabled=True, stream=Terminal(), delay=0) as bar:
        bar.advance()
        assert threading.active_count() == before
