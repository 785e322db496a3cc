"""Giving a department its own file back, marked up, and the reply mail to go with it.

:func:`write_feedback` saves ``<文件名>_问题反馈.xlsx``: the department's workbook
with every problem cell tinted (red for 错误/拒收, yellow for 提示) and carrying a
comment that says what is wrong, plus a first sheet ``问题清单`` listing every
finding with a link to its cell. What it says is computed once (:mod:`.marks`) and
written one of three ways:

* :mod:`.package` — the fast path for an xlsx: the marks written straight into the
  original package's XML (styles, the marked sheets, new comment and list parts),
  every other part kept byte for byte. About ten times faster than openpyxl.
* :mod:`.workbook` — openpyxl, for an xlsx the fast path does not handle (existing
  comments on a marked sheet, macros, a feedback file sent back, Strict OOXML, XML
  it is unsure of): loaded whole, marked up in place and saved; macros never kept.
* :mod:`.workbook` again — files openpyxl cannot open (xls, ods, xlsb, or an xlsx it
  fails on) are rebuilt as a plain xlsx from the grid :mod:`toolkit.read` read.

Nothing from the department ever becomes a formula: every text we write (a rebuilt
cell, a comment, a line of the 问题清单, which may quote the department's text) is
stored as a string even when it starts with ``=``.

:func:`reply_text` (:mod:`.reply`) writes the short plain-text reply mail.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ..check import Outcome
from ..errors import ReadError
from ..read import Workbook, read_workbook, sniff
from ..store import atomic_path
from .marks import AUTHOR, FEEDBACK_SHEET, feedback_name
from .marks import COLOURS as COLOURS  # noqa: F401 - re-exported, as before the split
from .marks import SUFFIX as SUFFIX  # noqa: F401
from .marks import _brief as _brief  # noqa: F401
from .marks import _clean as _clean  # noqa: F401
from .package import _Unsupported, write_marked_package
from .reply import reply_text

__all__ = ["AUTHOR", "FEEDBACK_SHEET", "feedback_name", "reply_text", "write_feedback"]

#: How many files each way wrote in this process: "package", "openpyxl", "rebuild".
PATHS: Counter[str] = Counter()


def write_feedback(source: Path, outcome: Outcome, folder: Path, *, workbook: Workbook | None = None,
                   round_name: str = "", name: str = "") -> Path:
    """Write the department's file marked up with ``outcome``'s findings; return its path.

    ``workbook`` is the grid already read from ``source`` (read again if needed and
    not given). A source that cannot be read at all (a PDF, an encrypted file) gets
    a workbook holding only the 问题清单. ``name`` is the file name to write (default
    :func:`feedback_name` of ``source``).
    """
    source, folder = Path(source), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (name or feedback_name(source))
    kind = workbook.format if workbook is not None else _kind(source)
    with atomic_path(target) as tmp:
        if kind == "xlsx":
            try:
                write_marked_package(source, outcome, tmp, round_name)
                PATHS["package"] += 1
                return target
            except _Unsupported:
                pass
            try:
                book = _load_original(source)
                _mark_up(book, outcome, {}, round_name)
                book.save(tmp)
                PATHS["openpyxl"] += 1
                return target
            except Exception:  # openpyxl fails in many ways on odd files: rebuild instead  # noqa: BLE001
                pass
        grid = workbook if workbook is not None else _read_grid(source)
        book, names = _rebuild(grid)
        _mark_up(book, outcome, names, round_name)
        book.save(tmp)
        PATHS["rebuild"] += 1
    return target


# The openpyxl path (:mod:`.workbook`) is imported only when a file needs it: openpyxl (and numpy,
# which it imports) cost the merge's process ≈ 0.2 s before its pool forks, for files that rarely come.


def _load_original(source: Path) -> Any:
    from .workbook import _load_original as load

    return load(source)


def _mark_up(book: Any, outcome: Outcome, names: dict[str, str], round_name: str) -> None:
    from .workbook import _mark_up as mark_up

    mark_up(book, outcome, names, round_name)


def _rebuild(grid: Workbook | None) -> tuple[Any, dict[str, str]]:
    from .workbook import _rebuild as rebuild

    return rebuild(grid)


def _kind(source: Path) -> str:
    try:
        return sniff(source)
    except ReadError:
        return ""


def _read_grid(source: Path) -> Workbook | None:
    try:
        return read_workbook(source)
    except ReadError:
        return None
