"""Turning a returned file into a structured return: who sent it, for which round, which rows.

A return is identified by its content, never its file name: the hidden ``_ducha``
sheet written with the template names the round and department; a file a
department rebuilt by hand (no such sheet) is matched by its table headers and
its 填报单位 cell. Reading problems are :class:`~toolkit.errors.ReadError`.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ReadError
from .findings import Code
from .reader import Cell, Limits, Sheet, Workbook, cell_ref, is_skippable, read_workbook
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
        return self.cells.get(column, Cell())

    def ref(self, column: str) -> str:
        return cell_ref(self.row, self.columns.get(column, 1))

    def text(self, column: str) -> str:
        value = self.cell(column).value
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    def locked(self) -> list[object]:
        return [self.cell(c).value for c in LOCKED_COLUMNS]


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
        header_row = _header_row(sheet)
        if header_row is None:
            if sheet.cells:
                ret.sheets_without_header.append(sheet.name)
            continue
        columns = {}
        for col in range(1, sheet.max_col + 1):
            label = _label(sheet.value(header_row, col))
            if label in COLUMNS and label not in columns:
                columns[label] = col
        missing = [name for name in COLUMNS if name not in columns]
        if missing:
            ret.missing_columns[sheet.name] = missing
        _read_info(sheet, header_row, ret)
        for row in range(header_row + 1, sheet.max_row + 1):
            code_cell = sheet.cell(row, columns["指标编号"])
            code = canon(code_cell.value)
            cells = {name: sheet.cell(row, col) for name, col in columns.items()}
            if not code:
                if any(c.value not in (None, "") for c in cells.values()):
                    ret.rows.append(ReturnRow(sheet.name, row, "", cells, columns))
                continue
            ret.rows.append(ReturnRow(sheet.name, row, code, cells, columns))
    if not ret.rows and ret.meta is None:
        raise ReadError(Code.F110, "没有找到含“指标编号”“本期完成”的表头")
    return ret


def _label(value: object) -> str:
    return re.sub(r"\s+", "", normalize_text(value)) if isinstance(value, str) else ""


def _header_row(sheet: Sheet, limit: int = 15) -> int | None:
    for row in range(1, min(sheet.max_row, limit) + 1):
        labels = {_label(sheet.value(row, c)) for c in range(1, min(sheet.max_col, 40) + 1)}
        if all(k in labels for k in HEADER_KEYS):
            return row
    return None


def _read_info(sheet: Sheet, header_row: int, ret: ReturnFile) -> None:
    for row in range(1, header_row):
        for col in range(1, sheet.max_col + 1):
            raw = sheet.value(row, col)
            label = _label(raw)
            if not label:
                continue
            match = _LABEL_VALUE.match(normalize_text(raw))
            if match:
                key, text = match.group(1), match.group(2).strip()
                ref = cell_ref(row, col)
            elif label.rstrip(":：") in INFO_LABELS:
                key = label.rstrip(":：")
                value = sheet.value(row, col + 1)
                text = canon(value) if value is not None else ""
                ref = cell_ref(row, col + 1)
            else:
                continue
            if text or key not in ret.info:
                if key not in ret.info or not ret.info[key][0]:
                    ret.info[key] = (text, sheet.name, ref)


def _read_meta(sheet: Sheet) -> tuple[dict[str, str], list[tuple[str, int, str, str]]]:
    meta: dict[str, str] = {}
    layout: list[tuple[str, int, str, str]] = []
    in_layout = False
    for row in range(1, sheet.max_row + 1):
        key = canon(sheet.value(row, 1))
        if not in_layout:
            if key == "工作表":
                in_layout = True
                continue
            if key:
                meta[key] = canon(sheet.value(row, 2))
            continue
        if not key:
            continue
        try:
            row_no = int(canon(sheet.value(row, 2)))
        except ValueError:
            row_no = 0
        layout.append((key, row_no, canon(sheet.value(row, 3)), canon(sheet.value(row, 4))))
    return meta, layout


# ---------------------------------------------------------------------------
# returns sent inside a plain .zip archive

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".et", ".xlsb")
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


def zip_members(path: Path) -> list[zipfile.ZipInfo] | None:
    """The spreadsheets inside ``path`` when it is a plain zip archive (not itself a workbook)."""
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    lowered = {i.filename.lower() for i in infos}
    if "[content_types].xml" in lowered or "mimetype" in lowered or "xl/workbook.xml" in lowered:
        return None  # an xlsx/ods itself
    members = []
    for info in infos:
        name = _member_name(info)
        if info.is_dir() or is_skippable(Path(name)) or "__MACOSX" in info.filename:
            continue
        if Path(name).suffix.lower() in SPREADSHEET_SUFFIXES:
            members.append(info)
    return members or None


def expand_zip(path: Path, dest: Path, limits: Limits = Limits()) -> list[tuple[Path, str]]:
    """Extract the spreadsheets of a zip archive into ``dest``; (path, label) pairs.

    Only members that look like spreadsheets are taken, each bounded by the file
    size limit *while* it is read (a member's declared size may lie), never more
    than MAX_ZIP_MEMBERS, and names are made safe so nothing lands outside ``dest``.
    The label, ``<archive>/<member>``, is how the file is named to the clerk.
    """
    from .store import atomic_write, safe_name

    members = zip_members(path) or []
    dest.mkdir(parents=True, exist_ok=True)
    stamp = path.stat().st_mtime
    out: list[tuple[Path, str]] = []
    with zipfile.ZipFile(path) as zf:
        for i, info in enumerate(members[:MAX_ZIP_MEMBERS]):
            name = _member_name(info)
            target = dest / safe_name(f"{i + 1:02d}_{name}")
            label = f"{path.name}/{name}"
            if info.file_size > limits.max_file_bytes:
                continue  # left out; the archive itself is reported below if nothing usable remains
            try:
                with zf.open(info) as src, atomic_write(target) as fh:
                    left = limits.max_file_bytes + 1
                    while chunk := src.read(min(1 << 20, left)):
                        fh.write(chunk)
                        left -= len(chunk)
                        if left <= 0:
                            raise ValueError("member larger than declared")
            except (OSError, zipfile.BadZipFile, ValueError, RuntimeError, NotImplementedError):
                continue  # encrypted or damaged member: not extracted
            os.utime(target, (stamp, stamp))
            out.append((target, label))
    return out
