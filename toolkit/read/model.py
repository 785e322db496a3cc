"""The grid a workbook is read into (:class:`Workbook`, :class:`Sheet`, :class:`Cell`),
the safety :class:`Limits` of reading one file, cell references, and the files an
intake skips without a word."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

MAX_EXCEL_ROW = 1_048_576
MAX_EXCEL_COL = 16_384
MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Safety limits for reading one file; documented in docs/limits.md."""

    max_file_bytes: int = 20 * MB
    max_uncompressed_bytes: int = 200 * MB
    max_ratio: int = 200  # uncompressed / compressed size of one zip member (over 1 MB)
    max_members: int = 5_000
    max_cells: int = 1_000_000
    max_rows: int = MAX_EXCEL_ROW
    seconds: float = 5.0
    max_memory_bytes: int = 1024 * MB  # address space a calamine child may add


class Cell(NamedTuple):
    """One cell as read. A named tuple, not a dataclass: a return holds about a thousand of them,
    and a tuple is made (``tuple.__new__``) and pickled (to and from the pool) several times faster."""

    value: object = None  # str | float | bool | datetime | None
    formula: str | None = None  # formula text when the cell holds one
    error: str | None = None  # '#DIV/0!' etc.
    numfmt: str = ""
    is_date: bool = False
    is_percent: bool = False

    @property
    def missing_cached_value(self) -> bool:
        return self.formula is not None and self.value is None and self.error is None


@dataclass
class Sheet:
    name: str
    state: str = "visible"  # visible | hidden | veryHidden
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2

    @property
    def max_row(self) -> int:
        return max((r for r, _ in self.cells), default=0)

    @property
    def max_col(self) -> int:
        return max((c for _, c in self.cells), default=0)

    def cell(self, row: int, col: int) -> Cell:
        return self.cells.get((row, col), EMPTY)

    def value(self, row: int, col: int) -> object:
        return self.cells.get((row, col), EMPTY).value

    def row_values(self, row: int, width: int | None = None) -> list[object]:
        width = width or self.max_col
        return [self.value(row, c) for c in range(1, width + 1)]

    def used_rows(self) -> list[int]:
        return sorted({r for (r, _), cell in self.cells.items() if cell.value not in (None, "")
                       or cell.formula or cell.error})


EMPTY = Cell()


@dataclass
class Workbook:
    path: Path
    format: str  # xlsx | xls | ods | xlsb
    sheets: list[Sheet] = field(default_factory=list)
    strict: bool = False  # Strict OOXML

    def sheet(self, name: str) -> Sheet | None:
        for sheet in self.sheets:
            if sheet.name == name:
                return sheet
        return None

    @property
    def sheet_names(self) -> list[str]:
        return [s.name for s in self.sheets]


# ---------------------------------------------------------------------------
# cell references


def col_letter(col: int) -> str:
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_ref(row: int, col: int) -> str:
    return f"{col_letter(col)}{row}"


_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,10})$")


def parse_ref(ref: str) -> tuple[int, int]:
    match = _REF.match(ref.strip())
    if not match:
        raise ValueError(ref)
    col = 0
    for ch in match.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return int(match.group(2)), col


# ---------------------------------------------------------------------------
# files the intake skips without a word

_SKIP_NAMES = frozenset(["thumbs.db", "desktop.ini", "ehthumbs.db", ".ds_store"])


def is_skippable(path: Path | str) -> bool:
    """True for files nobody sent on purpose: Excel/WPS lock files (``~$a.xlsx``),
    LibreOffice locks (``.~lock.a.xlsx#``), hidden files (leading ``.``, incl. macOS
    ``._a.xlsx``), ``Thumbs.db``, ``desktop.ini`` and anything under ``__MACOSX``."""
    path = Path(path)
    name = path.name
    if not name or name.startswith(("~$", ".")) or name.lower() in _SKIP_NAMES:
        return True
    return "__MACOSX" in path.parts
