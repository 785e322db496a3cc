"""Turning a returned file into a structured return: who sent it, for which round, which rows.

A return is identified by its content, never its file name: the hidden ``_ducha``
sheet written with the template names the round and department; a file a
department rebuilt by hand (no such sheet) is matched by its table headers and
its 填报单位 cell. Reading problems are :class:`~toolkit.errors.ReadError`.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from pathlib import Path

from .errors import ReadError
from .findings import Code
from .read import EMPTY, Cell, Limits, Sheet, Workbook, cell_ref, col_letter, is_skippable, read_workbook
from .templates import COLUMNS, GUIDE_SHEET, LOCKED_COLUMNS, META_SHEET, canon, file_fingerprint
from .values import normalize_text

HEADER_KEYS = ("指标编号", "本期完成")
INFO_LABELS = ("填报单位", "统计截止日期", "填报人", "联系电话", "轮次")
_LABEL_VALUE = re.compile(r"^(填报单位|填报人|联系电话|轮次)\s*[:：]\s*(.+)$")


@dataclass
class ReturnRow:
    sheet: str
    row: int
    code: str
    cells: dict[str, Cell]
    columns: dict[str, int]

    def cell(self, column: str) -> Cell:
        return self.cells.get(column, EMPTY)

    def ref(self, column: str) -> str:
        col = self.columns.get(column, 1)
        return f"{_LETTERS[col]}{self.row}" if col < len(_LETTERS) else cell_ref(self.row, col)

    def text(self, column: str) -> str:
        value = self.cells.get(column, EMPTY).value
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    def locked(self) -> list[object]:
        get = self.cells.get
        return [get(c, EMPTY).value for c in LOCKED_COLUMNS]


#: Column letters by number (A … ZZ), as cell_ref writes them.
_LETTERS = ("", *(col_letter(c) for c in range(1, 703)))


@dataclass
class ReturnFile:
    path: Path
    name: str  # the file name as received
    workbook: Workbook
    meta: dict[str, str] | None = None
    layout: list[tuple[str, int, str, str]] = field(default_factory=list)  # from the meta sheet
    info: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # label -> (text, sheet, cell)
    rows: list[ReturnRow] = field(default_factory=list)
    sheets_without_header: list[str] = field(default_factory=list)
    missing_columns: dict[str, list[str]] = field(default_factory=dict)  # sheet -> renamed/deleted headers

    @property
    def round(self) -> str:
        if self.meta:
            return self.meta.get("轮次", "")
        return self.info.get("轮次", ("", "", ""))[0]

    @property
    def unit_code(self) -> str:
        return (self.meta or {}).get("单位编号", "")

    @property
    def unit_name(self) -> str:
        if self.meta and self.meta.get("单位名称"):
            return self.meta["单位名称"]
        return self.info.get("填报单位", ("", "", ""))[0]

    def meta_intact(self) -> bool:
        """The metadata's own fingerprint matches its layout (not edited by hand)."""
        if not self.meta:
            return False
        return file_fingerprint(self.meta.get("轮次", ""), self.meta.get("单位编号", ""), self.layout) \
            == self.meta.get("指纹")


def read_return(path: Path, limits: Limits = Limits(), name: str | None = None) -> ReturnFile:
    """Read a returned file; raises ReadError when it is not a readable return at all."""
    book = read_workbook(path, limits)
    ret = ReturnFile(path=path, name=name or path.name, workbook=book)
    meta_sheet = book.sheet(META_SHEET)
    if meta_sheet is not None:
        ret.meta, ret.layout = _read_meta(meta_sheet)
    for sheet in book.sheets:
        if sheet.name in (META_SHEET, GUIDE_SHEET):
            continue
        grid = sheet.cells
        if not grid:
            continue
        max_row, max_col = max(grid)[0], max(map(_COL, grid))  # Sheet.max_row, Sheet.max_col
        top = _Top(grid, max_row, max_col)
        header_row = _header_row(top, max_row)
        if header_row is None:
            ret.sheets_without_header.append(sheet.name)
            continue
        columns = _columns(top.get(header_row))
        missing = [name for name in COLUMNS if name not in columns]
        if missing:
            ret.missing_columns[sheet.name] = missing
        _read_info(sheet, top, header_row, ret)
        names, cols = tuple(columns), tuple(columns.values())
        get = grid.get
        for row in range(header_row + 1, max_row + 1):
            # {name: grid.get((row, col), EMPTY)}, built without a Python step per cell
            cells = dict(zip(names, map(get, zip(repeat(row), cols), repeat(EMPTY)), strict=True))
            code = canon(cells["指标编号"].value)
            if not code:
                if any(c.value not in (None, "") for c in cells.values()):
                    ret.rows.append(ReturnRow(sheet.name, row, "", cells, columns))
                continue
            ret.rows.append(ReturnRow(sheet.name, row, code, cells, columns))
    if not ret.rows and ret.meta is None:
        raise ReadError(Code.F110, "没有找到含“指标编号”“本期完成”的表头")
    return ret


_LABELS: dict[str, str] = {}


def _label(value: object) -> str:
    """A header or label cell's text without any white space ('' for anything but text)."""
    if not isinstance(value, str):
        return ""
    label = _LABELS.get(value)
    if label is None:
        label = re.sub(r"\s+", "", normalize_text(value))
        if len(_LABELS) < 100_000:
            _LABELS[value] = label
    return label


#: The header is looked for in this many rows from the top, and in this many columns.
HEADER_ROWS, HEADER_COLS = 15, 40


_ROW, _COL = itemgetter(0), itemgetter(1)


class _Top:
    """The (column, value) of every stored cell in the top HEADER_ROWS rows, by row, left to right.

    A row is looked up cell by cell when first asked for (the header is usually the third row,
    so a template's sheet takes 3 x 14 look-ups), unless the sheet is so wide and sparse that
    walking all its cells once is cheaper."""

    def __init__(self, grid: dict[tuple[int, int], Cell], max_row: int, max_col: int):
        self.grid, self.max_col = grid, max_col
        self.rows: dict[int, _TopRow] = {}
        self.complete = min(max_row, HEADER_ROWS) * max_col > 2 * len(grid)
        if self.complete:
            rows: dict[int, list[tuple[int, object]]] = {}
            for (row, col), cell in grid.items():
                if row <= HEADER_ROWS:
                    rows.setdefault(row, []).append((col, cell.value))
            self.rows = {row: tuple(sorted(cells, key=_ROW)) for row, cells in rows.items()}

    def get(self, row: int) -> _TopRow:
        cells = self.rows.get(row)
        if cells is None:
            if self.complete or not 1 <= row <= HEADER_ROWS:
                return ()
            cols = range(1, self.max_col + 1)
            found = map(self.grid.get, zip(repeat(row), cols))
            cells = self.rows[row] = tuple([(col, cell.value) for col, cell in zip(cols, found, strict=True) if cell is not None])
        return cells


#: One of a sheet's top rows: (column, value) of its stored cells, left to right.
_TopRow = tuple[tuple[int, object], ...]


def _header_row(top: _Top, max_row: int) -> int | None:
    for row in range(1, min(max_row, HEADER_ROWS) + 1):
        if _is_header(top.get(row)):
            return row
    return None


def _is_header(cells: _TopRow) -> bool:
    """Whether a top row holds the header's key labels (指标编号, 本期完成) within HEADER_COLS."""
    try:
        known = _HEADERS.get(cells)
    except TypeError:  # a value that cannot be a key (no reader gives one): work it out
        known = None
    if known is None:
        labels = {_label(value) for col, value in cells if col <= HEADER_COLS}
        known = all(k in labels for k in HEADER_KEYS)
        if len(cells) <= _MEMO_CELLS and len(_HEADERS) < _MEMO_ROWS:
            with suppress(TypeError):
                _HEADERS[cells] = known
    return known


def _columns(cells: _TopRow) -> dict[str, int]:
    """The header's columns: each of COLUMNS found in the header row, by name (first one wins)."""
    try:
        known = _COLUMNS.get(cells)
    except TypeError:
        known = None
    if known is None:
        known = {}
        for col, value in cells:
            label = _label(value)
            if label in COLUMNS and label not in known:
                known[label] = col
        if len(cells) <= _MEMO_CELLS and len(_COLUMNS) < _MEMO_ROWS:
            with suppress(TypeError):
                _COLUMNS[cells] = known
    return dict(known)  # the sheet's rows share it; the remembered one stays as it was


#: What _is_header and _columns found for top rows seen before: every return of a round repeats
#: its template's title and header rows. Equal rows give equal answers: only text has a label, and
#: equal keys hold equal texts. Bounded, so a hostile file cannot grow them.
_HEADERS: dict[_TopRow, bool] = {}
_COLUMNS: dict[_TopRow, dict[str, int]] = {}
_MEMO_CELLS, _MEMO_ROWS = 64, 4_096


def _info_label(raw: str) -> tuple[str, str, bool] | None:
    """What a text cell above the header says: (label, its text, whether the text is in the cell
    itself: ``填报人：张三``), or None when it is no 填报单位/填报人/… label."""
    if raw in _INFO_LABELS:
        return _INFO_LABELS[raw]
    label = _label(raw)
    match = _LABEL_VALUE.match(normalize_text(raw)) if label else None
    found: tuple[str, str, bool] | None = None
    if match:
        found = (match.group(1), match.group(2).strip(), True)
    elif label and label.rstrip(":：") in INFO_LABELS:
        found = (label.rstrip(":："), "", False)
    if len(raw) <= 200 and len(_INFO_LABELS) < 20_000:
        _INFO_LABELS[raw] = found
    return found


#: _info_label() of texts seen before: every sheet of every return repeats the same labels
#: (bounded, so a hostile file cannot grow it).
_INFO_LABELS: dict[str, tuple[str, str, bool] | None] = {}


def _read_info(sheet: Sheet, top: _Top, header_row: int, ret: ReturnFile) -> None:
    info = ret.info
    for row in range(1, header_row):
        for col, raw in top.get(row):
            if not isinstance(raw, str):
                continue
            found = _info_label(raw)
            if found is None:
                continue
            known = info.get(found[0])
            if known is not None and known[0]:
                continue  # a filled-in label is kept: an earlier sheet said it
            if found[2]:
                key, text, _ = found
                ref = cell_ref(row, col)
            else:
                key = found[0]
                value = sheet.value(row, col + 1)
                text = canon(value) if value is not None else ""
                ref = cell_ref(row, col + 1)
            if text or known is None:
                info[key] = (text, sheet.name, ref)


def _read_meta(sheet: Sheet) -> tuple[dict[str, str], list[tuple[str, int, str, str]]]:
    meta: dict[str, str] = {}
    layout: list[tuple[str, int, str, str]] = []
    in_layout = False
    grid = sheet.cells
    get = grid.get
    for row in range(1, max(map(_ROW, grid), default=0) + 1):
        first, second, third, fourth = map(get, zip(repeat(row), _META_COLUMNS), repeat(EMPTY))
        key = canon(first.value)
        if not in_layout:
            if key == "工作表":
                in_layout = True
                continue
            if key:
                meta[key] = canon(second.value)
            continue
        if not key:
            continue
        number = second.value
        if type(number) is float and number.is_integer() and abs(number) < 2.0 ** 53:
            row_no = int(number)  # what int(canon(number)) gives, without the detour through text
        else:
            try:
                row_no = int(canon(number))
            except ValueError:
                row_no = 0
        layout.append((key, row_no, canon(third.value), canon(fourth.value)))
    return meta, layout


_META_COLUMNS = (1, 2, 3, 4)


# ---------------------------------------------------------------------------
# returns sent inside a plain .zip archive

MAX_ZIP_MEMBERS = 100


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as the sender saw it: Windows zips store Chinese names in GBK."""
    name = info.filename
    if not info.flag_bits & 0x800:  # no UTF-8 flag: Python decoded the bytes as cp437
        try:
            name = name.encode("cp437").decode("gbk")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def zip_entries(path: Path, limits: Limits = Limits()) -> Iterator[tuple[str, bytes]]:
    """The files inside a plain zip archive, one at a time: (name as the sender saw it, bytes).

    Every member is taken, whatever its name: what each one is is decided by its
    content when it is received. Folders, lock and hidden files and macOS
    ``__MACOSX`` entries are left out; so are members that are encrypted or
    damaged, larger than ``limits.max_file_bytes`` (counted *while* inflating, a
    declared size may lie), beyond the first MAX_ZIP_MEMBERS, or beyond
    ``limits.max_uncompressed_bytes`` in total. Names are only names: nothing is
    written to disk here, so no member name can reach outside the workspace.
    """
    count = total = 0
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            return
        for info in infos:
            name = _member_name(info)
            if info.is_dir() or not name or is_skippable(Path(name)) or "__MACOSX" in info.filename:
                continue
            if count >= MAX_ZIP_MEMBERS:
                return
            if info.file_size > limits.max_file_bytes or info.flag_bits & 0x1:
                continue
            data = _read_member(zf, info, limits.max_file_bytes)
            if data is None:
                continue
            total += len(data)
            if total > limits.max_uncompressed_bytes:
                return
            count += 1
            yield name, data


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes | None:
    chunks: list[bytes] = []
    left = cap + 1
    try:
        with zf.open(info) as src:
            while chunk := src.read(min(1 << 20, left)):
                chunks.append(chunk)
                left -= len(chunk)
                if left <= 0:
                    return None  # larger than declared, and than the limit
    except (OSError, zipfile.BadZipFile, ValueError, RuntimeError, NotImplementedError, EOFError):
        return None  # encrypted or damaged member
    return b"".join(chunks)
