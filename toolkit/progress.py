"""A progress bar on the terminal for long runs: files done, rate, time left.

::

    with progress(len(files), "校验报表") as bar:
        say = bar.wrap(log)          # log lines printed above the bar, never through it
        for path in files:
            ...
            say(f"{path.name}：接受")
            bar.advance()

The bar is drawn with tqdm on the process's own terminal (``sys.__stderr__``), and
only when both real output streams are terminals: redirected, piped or captured
output (a log file, ``ducha merge > log.txt``, pytest, the clerk scripts' log) never
receives a byte of it, and the log lines themselves pass through unchanged. It
appears only after ``delay`` seconds, so a quick run shows nothing at all.
``DUCHA_PROGRESS=0`` turns it off, ``DUCHA_PROGRESS=1`` on (where a terminal exists).

tqdm rather than rich: one small pure-Python package with no dependencies, which
already handles CJK widths, rate and time left; rich would bring pygments and
markdown-it for a single bar.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

Log = Callable[[str], None]
#: Chinese layout: 校验报表  45%|████▌     | 900/2000 份，每秒 48.2 份，已用 00:18，剩余 00:22
#: Width used where the terminal does not say how wide it is.
FALLBACK_COLUMNS = 80
BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit}，{speed}，已用 {elapsed}，剩余 {remaining}"


def _columns(stream) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0


def on_terminal() -> bool:
    """True when a bar may be drawn: both real output streams are terminals (or forced on)."""
    wish = os.environ.get("DUCHA_PROGRESS", "")
    if wish == "0":
        return False
    out, err = sys.__stdout__, sys.__stderr__
    try:
        return bool(out and err and out.isatty() and err.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Bar:
    """What the caller holds inside ``with progress(...)``; does nothing when not drawn."""

    def __init__(self, bar=None):
        self._bar = bar

    @property
    def visible(self) -> bool:
        return self._bar is not None

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def wrap(self, log: Log) -> Log:
        """``log`` with the bar lifted off the terminal while a line is printed."""
        if self._bar is None:
            return log
        bar = self._bar

        def say(message: str) -> None:
            bar.clear()
            log(message)
            bar.refresh()

        return say


def _tqdm_class():
    from tqdm import tqdm

    class _Tqdm(tqdm):
        monitor_interval = 0  # no monitor thread: the merge forks its worker pool while a bar is up

        @property
        def format_dict(self):
            d = super().format_dict
            rate = d.get("rate")
            if rate is None and d.get("elapsed"):
                rate = d["n"] / d["elapsed"] if d["elapsed"] else None
            d["speed"] = f"每秒 {rate:.1f} {d['unit']}" if rate else "速度计算中"
            return d

    return _Tqdm


@contextmanager
def progress(total: int, label: str, *, unit: str = "份", enabled: bool | None = None,
             stream: IO[str] | None = None, delay: float = 0.5) -> Iterator[Bar]:
    """A bar for ``total`` steps labelled ``label`` (Chinese); see the module docstring.

    ``enabled`` overrides the terminal test; ``stream`` is where to draw (default the
    process's own stderr); ``delay``: seconds before the bar first appears."""
    show = on_terminal() if enabled is None else enabled
    if not show or total <= 0:
        yield Bar()
        return
    target = stream if stream is not None else sys.__stderr__
    sized = _columns(target) > 0  # a terminal that reports no size (0 columns) would get an empty bar
    try:
        bar = _tqdm_class()(total=total, desc=label, unit=unit, file=target, delay=delay, mininterval=0.2,
                            bar_format=BAR_FORMAT, leave=False, dynamic_ncols=sized,
                            ncols=None if sized else FALLBACK_COLUMNS, nrows=None if sized else 24, ascii=False)
    except ImportError:  # tqdm missing from a broken install: run without a bar
        yield Bar()
        return
    try:
        yield Bar(bar)
    finally:
        bar.close()
