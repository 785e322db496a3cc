"""Reading any returned spreadsheet into a plain grid of cells (``toolkit.read``).

Two engines, chosen by what the file *is* (its bytes), never by its name:

* xlsx / xlsm / xltx / Strict OOXML: a streaming parser over the zip's XML written
  here, because the merge needs what python-calamine drops: error cells (``#DIV/0!``),
  formulas without a cached value, and number formats (percent, Chinese dates).
  It never trusts the ``<dimension>`` tag (WPS writes wrong ones), matches XML by
  local name (so Strict OOXML and odd namespace prefixes read like transitional),
  and feeds the XML through expat with DTDs refused outright, so entity tricks
  (billion laughs, external entities) never expand. It runs in-process and is
  bounded by the limits: the clock is checked for every 64 KB of XML, whatever
  the XML holds, so millions of empty ``<c/>`` or ``<row>`` elements still stop
  in time, and nothing but stored cells is kept in memory. Small parts in the
  usual shapes are checked by expat and taken apart by regular expressions
  (:mod:`.scan`): the same cells, several times faster.
* xls / ods / xlsb: python-calamine (fast, well kept, reads the legacy formats).
  It is native code that a hostile file can make allocate hugely or spin, so it
  runs in a forked child process with an address-space limit
  (``Limits.max_memory_bytes``) and is killed after ``Limits.seconds``.

What is not a readable workbook raises :class:`~toolkit.errors.ReadError` carrying
a findings code (F1xx) with a specific Chinese reason; no other exception leaves
:func:`read_workbook`. docs/hostile-inputs.md lists every hostile input tried.

Modules: :mod:`.model` (the grid and the limits), :mod:`.sniff` (what a file is, by
its bytes), :mod:`.package` (zip parts, relationships, safe XML), :mod:`.xlsx` (the
streaming parser), :mod:`.scan` (small parts read whole) and :mod:`.calamine` (the child process for the other formats).
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import ReadError
from ..findings import Code
from .calamine import _read_with_calamine
from .model import (
    EMPTY,
    MAX_EXCEL_COL,
    MAX_EXCEL_ROW,
    MB,
    Cell,
    Limits,
    Sheet,
    Workbook,
    cell_ref,
    col_letter,
    is_skippable,
    parse_ref,
)
from .sniff import OLE_MAGIC, Content, classify, looks_like_mail, sniff
from .xlsx import BUILTIN_FORMATS, DATE_FORMAT_IDS, PERCENT_FORMAT_IDS, _XlsxReader

__all__ = [
    "BUILTIN_FORMATS",
    "DATE_FORMAT_IDS",
    "EMPTY",
    "MAX_EXCEL_COL",
    "MAX_EXCEL_ROW",
    "MB",
    "OLE_MAGIC",
    "PERCENT_FORMAT_IDS",
    "Cell",
    "Content",
    "Limits",
    "Sheet",
    "Workbook",
    "cell_ref",
    "classify",
    "col_letter",
    "is_skippable",
    "looks_like_mail",
    "parse_ref",
    "read_workbook",
    "sniff",
]


def read_workbook(path: Path | str, limits: Limits = Limits(), *, sheets: set[str] | None = None) -> Workbook:
    """Read a workbook's cells; ``sheets`` limits which sheets are read (by name).

    Returns a :class:`Workbook` or raises :class:`ReadError`; nothing else."""
    path = Path(path)
    deadline = time.monotonic() + limits.seconds
    try:
        kind = sniff(path, limits)
        if kind == "xlsx":
            return _XlsxReader(path, limits, sheets, deadline).read()
        return _read_with_calamine(path, kind, limits, sheets, deadline)
    except ReadError:
        raise
    except MemoryError as exc:
        raise ReadError(Code.F101, "读取该文件所需内存超过上限") from exc
    except RecursionError as exc:
        raise ReadError(Code.F101, "文件结构嵌套过深") from exc
    except Exception as exc:  # the last net: a hostile file must never surface a traceback
        raise ReadError(Code.F101, "文件结构异常，无法解析") from exc
