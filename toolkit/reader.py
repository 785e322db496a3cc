"""Reading any returned spreadsheet into a plain grid of cells.

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
  in time, and nothing but stored cells is kept in memory.
* xls / ods / xlsb: python-calamine (fast, well kept, reads the legacy formats).
  It is native code that a hostile file can make allocate hugely or spin, so it
  runs in a forked child process with an address-space limit
  (``Limits.max_memory_bytes``) and is killed after ``Limits.seconds``.

What is not a readable workbook raises :class:`~toolkit.errors.ReadError` carrying
a findings code (F1xx) with a specific Chinese reason; no other exception leaves
:func:`read_workbook`. docs/hostile-inputs.md lists every hostile input tried.
"""

from __future__ import annotations

import codecs
import contextlib
import enum
import math
import os
import re
import shutil
import signal
import stat
import struct
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path, PurePosixPath
from urllib.parse import unquote
from xml.parsers import expat

from .errors import ReadError
from .findings import Code

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_EXCEL_ROW = 1_048_576
MAX_EXCEL_COL = 16_384
MB = 1024 * 1024

# Built-in number formats that are dates (incl. the Chinese ones 27-36 and 50-58,
# which openpyxl reads back as plain numbers). 46 ("[h]:mm:ss") is a duration and
# stays a number (days), like any elapsed-time format ("[h]", "[mm]", "[ss]").
DATE_FORMAT_IDS = frozenset([*range(14, 23), *range(27, 37), 45, 47, *range(50, 59)])
PERCENT_FORMAT_IDS = frozenset([9, 10])
# Codes of the built-in formats (those a merge may want to show); zh-CN for 27-58.
BUILTIN_FORMATS = {
    1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%", 11: "0.00E+00",
    12: "# ?/?", 13: "# ??/??", 14: "yyyy/m/d", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy",
    18: "h:mm AM/PM", 19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss", 22: "yyyy/m/d h:mm",
    27: 'yyyy"年"m"月"', 28: 'm"月"d"日"', 29: 'm"月"d"日"', 30: "m-d-yy", 31: 'yyyy"年"m"月"d"日"',
    32: 'h"时"mm"分"', 33: 'h"时"mm"分"ss"秒"', 34: '上午/下午h"时"mm"分"',
    35: '上午/下午h"时"mm"分"ss"秒"', 36: 'yyyy"年"m"月"', 37: "#,##0 ;(#,##0)",
    38: "#,##0 ;[Red](#,##0)", 39: "#,##0.00;(#,##0.00)", 40: "#,##0.00;[Red](#,##0.00)",
    45: "mm:ss", 46: "[h]:mm:ss", 47: "mm:ss.0", 48: "##0.0E+0", 49: "@",
    50: 'yyyy"年"m"月"', 51: 'm"月"d"日"', 52: 'yyyy"年"m"月"', 53: 'm"月"d"日"', 54: 'm"月"d"日"',
    55: '上午/下午h"时"mm"分"', 56: '上午/下午h"时"mm"分"ss"秒"', 57: 'yyyy"年"m"月"', 58: 'm"月"d"日"',
}


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


@dataclass(frozen=True, slots=True)
class Cell:
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


# ---------------------------------------------------------------------------
# sniffing


def sniff(path: Path, limits: Limits = Limits()) -> str:
    """Say what a file is: 'xlsx', 'ods', 'xlsb', 'xls' — or raise ReadError."""
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise ReadError(Code.F101, _os_reason(exc, "无法访问文件")) from exc
    if not stat.S_ISREG(info.st_mode):
        raise ReadError(Code.F101, "不是普通文件（可能是文件夹或设备）")
    size = info.st_size
    if size == 0:
        raise ReadError(Code.F104, "文件大小为 0")
    if size > limits.max_file_bytes:
        raise ReadError(Code.F105, f"{size / MB:.1f} MB（上限 {limits.max_file_bytes / MB:.0f} MB）")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
            if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
                _check_zip_directory(fh, size, limits)
    except OSError as exc:
        raise ReadError(Code.F101, _os_reason(exc, "无法读取文件")) from exc
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _sniff_zip(path, limits)
    if head.startswith(OLE_MAGIC):
        return _sniff_ole(path, size)
    if head.startswith(b"PK"):
        raise ReadError(Code.F104, "压缩结构损坏")
    raise ReadError(Code.F102, _describe_foreign(head))


def _os_reason(exc: OSError, what: str) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{what}（文件不存在）"
    if isinstance(exc, PermissionError):
        return f"{what}（没有读取权限，可能正被其他程序占用）"
    return f"{what}（系统错误 {exc.errno or ''}）".replace(" ）", "）")


def _describe_foreign(head: bytes) -> str:
    if head.startswith(b"%PDF"):
        return "这是 PDF 文件"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*", b"RIFF")):
        return "这是图片文件"
    if head.startswith(b"{\\rtf"):
        return "这是 RTF/Word 文档"
    if head.startswith((b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b", b"BZh", b"\xfd7zXZ")):
        return "这是压缩包，请解压后报送其中的表格"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head[2:].decode("utf-16-le" if head[0] == 0xFF else "utf-16-be", "replace")
    else:
        text = head.decode("utf-8", "replace")
    sample = text.lstrip("\ufeff \t\r\n").lower()
    if "urn:schemas-microsoft-com:office:spreadsheet" in sample:
        return "这是 Excel 2003 XML 表格，请用 Excel 打开后另存为 xlsx"
    if sample.startswith(("<html", "<!doctype html", "<table", "<meta", "<head")) or "<html" in sample[:512] \
            or sample.startswith("mime-version:"):
        return "这是网页文件，常由业务系统导出为“xls”，请用 Excel 打开后另存为 xlsx"
    if sample.startswith("<?xml"):
        return "这是 XML 文件，不是 Excel 工作簿"
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
    if text and "\x00" not in text and printable / len(text) > 0.95:
        if "," in sample or "\t" in sample:
            return "这是 CSV/文本文件，请用 Excel 打开后另存为 xlsx"
        return "这是文本文件，不是电子表格"
    return "文件内容不是电子表格"


def _check_zip_directory(fh, size: int, limits: Limits) -> None:
    """Read the zip's end record before zipfile parses the central directory,
    so a directory of a million entries is refused without building it."""
    tail_len = min(size, 22 + 65535)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or len(tail) - pos < 22:
        raise ReadError(Code.F104, "找不到压缩包目录，文件只有一部分（可能未下载完整）")
    entries, cd_size = struct.unpack_from("<HI", tail, pos + 10)
    if (entries == 0xFFFF or cd_size == 0xFFFFFFFF) and pos >= 20 and tail[pos - 20:pos - 16] == b"PK\x06\x07":
        (zip64_at,) = struct.unpack_from("<Q", tail, pos - 12)
        if zip64_at + 56 <= size:
            fh.seek(zip64_at)
            record = fh.read(56)
            if record[:4] == b"PK\x06\x06":
                entries, cd_size = struct.unpack_from("<QQ", record, 32)
    if entries > limits.max_members:
        raise ReadError(Code.F106, f"包含 {entries} 个部件")
    if cd_size > limits.max_members * 512:
        raise ReadError(Code.F106, f"压缩包目录 {cd_size / MB:.1f} MB")


def _zip_names(infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """Member names normalised (lower case, '/' separators, no leading '/')."""
    names: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        names[info.filename.replace("\\", "/").lstrip("/").lower()] = info
    return names


def _sniff_zip(path: Path, limits: Limits) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            _check_bomb(infos, limits)
            names = _zip_names(infos)
            if "mimetype" in names:
                return _sniff_odf(zf, names)
            has_workbook = _office_document(zf, names) is not None or _find_workbook_part(names) is not None
    except ReadError:
        raise
    except zipfile.BadZipFile as exc:
        raise ReadError(Code.F104, "压缩结构损坏（可能未下载完整）") from exc
    except (OSError, EOFError, ValueError, struct.error) as exc:
        raise ReadError(Code.F104, "文件不完整，压缩结构无法读取") from exc
    except NotImplementedError as exc:
        raise ReadError(Code.F101, "使用了不支持的压缩方式") from exc
    if not names:
        raise ReadError(Code.F104, "压缩包是空的")
    if any(n.startswith("word/") for n in names):
        raise ReadError(Code.F102, "这是 Word 文档")
    if any(n.startswith("ppt/") for n in names):
        raise ReadError(Code.F102, "这是 PowerPoint 演示文稿")
    if "xl/workbook.bin" in names:
        return "xlsb"
    if not has_workbook:
        if any(n.endswith((".xlsx", ".xls", ".et", ".ods", ".xlsm")) for n in names):
            raise ReadError(Code.F102, "这是压缩包，请解压后报送其中的表格")
        raise ReadError(Code.F102, "这是压缩包，其中没有工作簿")
    return "xlsx"


def _sniff_odf(zf: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo]) -> str:
    with zf.open(names["mimetype"]) as fh:
        mime = fh.read(100)
    if b"spreadsheet" in mime:
        manifest = names.get("meta-inf/manifest.xml")
        if manifest is not None:
            with zf.open(manifest) as fh:
                if b"encryption-data" in fh.read(2 * MB):
                    raise ReadError(Code.F103, "ODS 表格设置了打开密码")
        return "ods"
    if b"text" in mime:
        raise ReadError(Code.F102, "这是 ODT 文字文档")
    if b"presentation" in mime:
        raise ReadError(Code.F102, "这是 ODP 演示文稿")
    raise ReadError(Code.F102, "这是其他 OpenDocument 文件")


def _check_bomb(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Refuse on the sizes the zip declares, before anything is inflated; zipfile
    itself stops at the declared size, so a member cannot inflate beyond it."""
    if len(infos) > limits.max_members:
        raise ReadError(Code.F106, f"包含 {len(infos)} 个部件")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise ReadError(Code.F103, "压缩包设置了密码")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            # Excel, WPS and LibreOffice only deflate; bzip2/lzma inflate without a bound per read
            raise ReadError(Code.F101, f"使用了不支持的压缩方式（编号 {info.compress_type}）")
        total += info.file_size
        if info.file_size > MB and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise ReadError(Code.F106, f"部件 {info.filename} 解压后 {info.file_size / MB:.0f} MB，压缩比 {ratio}:1")
    if total > limits.max_uncompressed_bytes:
        raise ReadError(Code.F106, f"解压后 {total / MB:.0f} MB，上限 {limits.max_uncompressed_bytes / MB:.0f} MB")


def _office_document(zf: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo]) -> str | None:
    """The workbook part named by the package relationships (``_rels/.rels``)."""
    info = names.get("_rels/.rels")
    if info is None or info.file_size > MB:
        return None
    try:
        rels = _parse_rels(zf.read(info), "")
    except (ReadError, zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return None
    for _rid, (target, kind) in rels.items():
        if kind.endswith("/officedocument") and target.lower() in names:
            return target
    return None


def _find_workbook_part(names) -> str | None:
    for name in names:
        if name.lower() == "xl/workbook.xml":
            return name
    for name in names:
        if name.lower().endswith("workbook.xml") and "/" in name:
            return name
    return None


# -- OLE2 compound files (xls, encrypted OOXML, Word .doc, Outlook .msg) -----

_FREE = 0xFFFFFFFA  # sector numbers from here up are markers, not sectors


def _ole_stream_names(data: bytes) -> list[str] | None:
    """Names in a compound file's directory, or None when the header is unusable.

    Bounded: every chain is followed at most once per sector."""
    if len(data) < 512:
        return None
    shift = struct.unpack_from("<H", data, 0x1E)[0]
    if shift not in (9, 12):
        return None
    size = 1 << shift
    n_fat, first_dir = struct.unpack_from("<II", data, 0x2C)
    first_difat = struct.unpack_from("<I", data, 0x44)[0]

    def sector(number: int) -> bytes | None:
        start = (number + 1) * size
        return data[start:start + size] if start + 128 <= len(data) else None

    difat = list(struct.unpack_from("<109I", data, 0x4C))
    seen: set[int] = set()
    number = first_difat
    while number < _FREE and number not in seen and len(difat) < n_fat + 109:
        seen.add(number)
        block = sector(number)
        if block is None or len(block) < size:
            break
        values = struct.unpack(f"<{size // 4}I", block)
        difat.extend(values[:-1])
        number = values[-1]
    fat: list[int] = []
    for number in [n for n in difat if n < _FREE][:max(n_fat, 0)]:
        block = sector(number)
        if block is not None:
            fat.extend(struct.unpack(f"<{len(block) // 4}I", block[:len(block) // 4 * 4]))
    names: list[str] = []
    seen = set()
    number = first_dir
    while number < _FREE and number not in seen:
        seen.add(number)
        block = sector(number)
        if block is None:
            break
        for at in range(0, len(block) - 127, 128):
            length = struct.unpack_from("<H", block, at + 64)[0]
            if block[at + 66] in (1, 2, 5) and 2 <= length <= 64:
                names.append(block[at:at + length - 2].decode("utf-16-le", "replace"))
        number = fat[number] if number < len(fat) else _FREE
    return names or None


def _sniff_ole(path: Path, size: int) -> str:
    with open(path, "rb") as fh:
        data = fh.read(size)  # at most max_file_bytes, checked by sniff
    if len(data) < 512:
        raise ReadError(Code.F104, "复合文档不完整")
    names = _ole_stream_names(data)
    if names is None:  # broken directory: look for the names anywhere, calamine decides the rest
        lowered = set()
        for name in ("EncryptedPackage", "EncryptionInfo", "WordDocument", "PowerPoint Document"):
            if name.encode("utf-16-le") in data:
                lowered.add(name.lower())
    else:
        lowered = {n.lower() for n in names}
    if {"encryptedpackage", "encryptioninfo"} & lowered:
        raise ReadError(Code.F103, "工作簿设置了打开密码（加密的 Office 文件）")
    if names is not None and {"workbook", "book"} & lowered:
        return "xls"
    if "worddocument" in lowered:
        raise ReadError(Code.F102, "这是 Word 文档")
    if "powerpoint document" in lowered:
        raise ReadError(Code.F102, "这是 PowerPoint 演示文稿")
    if any(n.startswith("__substg1.0_") for n in lowered):
        raise ReadError(Code.F102, "这是 Outlook 邮件，请报送邮件附件中的表格")
    if names is not None:
        raise ReadError(Code.F102, "这是 Office 复合文档，但其中没有工作簿")
    return "xls"


# -- what a file that is no workbook is: a mail, an archive, a document -----

class Content(str, enum.Enum):
    """What a received file is, by its bytes (never its name)."""

    WORKBOOK = "表格"  # a workbook, or what only the reader can judge (damaged, encrypted, CSV, web page)
    ARCHIVE = "压缩包"  # a plain zip holding other files
    MAIL = "邮件"  # a saved mail: .eml (RFC 822 text) or Outlook .msg
    DOCUMENT = "文档"  # PDF, Word, PowerPoint, images, plain text, RAR/7z: never a return


_MAIL_HEADERS = frozenset(["received", "message-id", "return-path", "delivered-to", "x-mailer", "in-reply-to"])
_HEADER = re.compile(rb"^([A-Za-z][A-Za-z0-9-]{0,40}):[ \t]?(.*)$")
_SPREADSHEET_NAMES = (".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".xlsb", ".ods", ".et", ".ett", ".csv")


def looks_like_mail(head: bytes) -> bool:
    """A saved mail's header block (RFC 822): a mail header, or a From with an address.

    A web page saved by a browser or Excel (MHT) is MIME too, but names no mail
    server and no sender address."""
    lines = head.lstrip(b"\xef\xbb\xbf\r\n").split(b"\n")
    if lines and lines[0].startswith(b"From "):  # mbox separator line
        lines = lines[1:]
    names: dict[str, bytes] = {}
    for line in lines[:200]:
        line = line.rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            continue  # folded continuation
        match = _HEADER.match(line)
        if match is None:
            return False
        names.setdefault(match.group(1).decode("ascii").lower(), match.group(2))
    if not names:
        return False
    if _MAIL_HEADERS & names.keys():
        return True
    return b"@" in names.get("from", b"") and bool({"date", "subject", "to"} & names.keys())


def _document(head: bytes) -> str | None:
    """Say what a document or image is from its first bytes; None if it is none of those."""
    if head.startswith(b"%PDF"):
        return "PDF 文件"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")):
        return "图片"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "图片"
    if head.startswith(b"{\\rtf"):
        return "RTF 文档"
    if head.startswith((b"Rar!", b"7z\xbc\xaf")):
        return "RAR/7z 压缩包，无法读取其中的文件"
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ")):
        return "压缩文件，无法读取其中的内容"
    return None


def classify(path: Path | str, limits: Limits = Limits()) -> tuple[Content, str]:
    """What a received file is, by its content, and for a document a Chinese description.

    Only the first bytes, a zip's member names or a compound file's stream names
    are looked at. A file that is neither a workbook nor plainly something else
    (damaged, encrypted, CSV, a web page) is :attr:`Content.WORKBOOK`: the reader
    then reads it or refuses it with its reason. The file name is consulted only
    for content nobody can recognise: a spreadsheet name makes it a (damaged)
    workbook, any other name a document.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return Content.WORKBOOK, ""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _classify_zip(path, size, limits)
    if head.startswith(OLE_MAGIC):
        return _classify_ole(path, size, limits)
    if looks_like_mail(head):
        return Content.MAIL, "邮件"
    what = _document(head)
    if what is not None:
        return Content.DOCUMENT, what
    try:
        _describe = _describe_foreign(head) if head else ""
    except Exception:  # noqa: BLE001 - a description is a courtesy
        _describe = ""
    if _describe == "这是文本文件，不是电子表格":
        return Content.DOCUMENT, "文本文件"
    if _describe == "文件内容不是电子表格" or not head:
        if not path.name.lower().endswith(_SPREADSHEET_NAMES):
            return Content.DOCUMENT, "无法识别的文件" if head else "空文件"
    return Content.WORKBOOK, ""


def _classify_zip(path: Path, size: int, limits: Limits) -> tuple[Content, str]:
    try:
        with open(path, "rb") as fh:
            _check_zip_directory(fh, size, limits)
        with zipfile.ZipFile(path) as zf:
            names = _zip_names(zf.infolist())
            mime = b""
            if "mimetype" in names and names["mimetype"].file_size < 200:
                mime = zf.read(names["mimetype"])
    except (ReadError, OSError, zipfile.BadZipFile, EOFError, ValueError, struct.error, NotImplementedError):
        return Content.WORKBOOK, ""  # damaged: the reader says how
    if mime:
        for kind, what in ((b"spreadsheet", ""), (b"text", "ODT 文字文档"), (b"presentation", "ODP 演示文稿"),
                           (b"graphics", "ODG 图形文件")):
            if kind in mime:
                return (Content.WORKBOOK, "") if not what else (Content.DOCUMENT, what)
        return Content.WORKBOOK, ""
    if any(n.startswith("xl/") for n in names) or _find_workbook_part(names) is not None:
        return Content.WORKBOOK, ""
    if any(n.startswith("word/") for n in names):
        return Content.DOCUMENT, "Word 文档"
    if any(n.startswith("ppt/") for n in names):
        return Content.DOCUMENT, "PowerPoint 演示文稿"
    if "[content_types].xml" in names:
        return Content.DOCUMENT, "Office 文档（不是表格）"
    return Content.ARCHIVE, "压缩包"


def _classify_ole(path: Path, size: int, limits: Limits) -> tuple[Content, str]:
    if size > limits.max_file_bytes:
        return Content.WORKBOOK, ""  # too large to look inside: the reader refuses it by size
    try:
        with open(path, "rb") as fh:
            data = fh.read(size)
    except OSError:
        return Content.WORKBOOK, ""
    names = {n.lower() for n in _ole_stream_names(data) or []}
    if any(n.startswith("__substg1.0_") for n in names):
        return Content.MAIL, "Outlook 邮件"
    if "worddocument" in names:
        return Content.DOCUMENT, "Word 文档"
    if "powerpoint document" in names:
        return Content.DOCUMENT, "PowerPoint 演示文稿"
    return Content.WORKBOOK, ""


# ---------------------------------------------------------------------------
# public entry point


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


# ---------------------------------------------------------------------------
# xlsx

_CHUNK = 64 * 1024
_UTF8_NAMES = frozenset(["utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1",
                         "windows-1252", "cp1252"])
_UTF16_NAMES = frozenset(["utf-16", "utf16", "utf-16le", "utf-16be", "ucs-2"])
_GB_NAMES = frozenset(["gbk", "gb2312", "gb18030", "cp936"])
_DECL = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)""")


def _local(name: str) -> str:
    """'x:c' -> 'c' (expat runs without namespace processing)."""
    return name.rpartition(":")[2]


def _attr(attrs: dict[str, str], name: str) -> str | None:
    """An attribute by local name, whatever its prefix ('r:id', 'id')."""
    value = attrs.get(name)
    if value is not None:
        return value
    for key, val in attrs.items():
        if key.rpartition(":")[2] == name:
            return val
    return None


def _xml_encoding(head: bytes, part: str) -> str | None:
    """Check the byte signature and declared encoding of an XML part.

    OOXML parts are UTF-8 or UTF-16 (ECMA-376 Part 2). UTF-7, UTF-32, EBCDIC, or a
    declaration that contradicts the bytes are tricks to slip a DOCTYPE past
    filters: refused as unsafe XML (F107). Returns a Python codec name when the
    part must be decoded here (GBK family, which expat cannot), else None."""
    if head.startswith((b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\x00<", b"<\x00\x00\x00")):
        raise ReadError(Code.F107, f"部件 {part} 使用了 UTF-32 编码")
    if head.startswith(b"\x4c\x6f\xa7\x94"):
        raise ReadError(Code.F107, f"部件 {part} 使用了 EBCDIC 编码")
    if head.startswith((b"\xff\xfe", b"<\x00")):
        family, text = "utf-16", head[2 if head[0] == 0xFF else 0:].decode("utf-16-le", "replace")
    elif head.startswith((b"\xfe\xff", b"\x00<")):
        family, text = "utf-16", head[2 if head[0] == 0xFE else 0:].decode("utf-16-be", "replace")
    else:
        family, text = "utf-8", head.decode("latin-1").removeprefix("\xef\xbb\xbf")
    match = _DECL.match(text[:400])
    if not match:
        return None
    declared = match.group(1).lower().replace("_", "-")
    if family == "utf-8" and declared in _UTF8_NAMES or family == "utf-16" and declared in _UTF16_NAMES:
        return None
    if family == "utf-8" and declared in _GB_NAMES:
        return "gb18030"
    if declared in _UTF8_NAMES | _UTF16_NAMES:
        raise ReadError(Code.F107, f"部件 {part} 声明的编码 {match.group(1)} 与实际编码不符")
    raise ReadError(Code.F107, f"部件 {part} 使用了不允许的字符编码 {match.group(1)}")


def _forbid_dtd(*_args):
    raise ReadError(Code.F107, "含有 DTD 声明，可被用于实体膨胀或读取外部文件")


def _forbid_entity(*_args):
    raise ReadError(Code.F107, "含有实体声明")


def _forbid_external(*_args):
    raise ReadError(Code.F107, "引用了外部实体")


def _parse_rels(data: bytes, folder: str) -> dict[str, tuple[str, str]]:
    """Id -> (resolved target, relationship type in lower case) of a .rels part."""
    rels: dict[str, tuple[str, str]] = {}

    def start(name, attrs):
        if _local(name) != "Relationship" or attrs.get("TargetMode", "").lower() == "external":
            return
        rels[attrs.get("Id", "")] = (_resolve(folder, attrs.get("Target", "")), attrs.get("Type", "").lower())

    parser = _new_parser()
    parser.StartElementHandler = start
    try:
        codec = _xml_encoding(data[:_CHUNK], "_rels")
        parser.Parse(data.decode(codec, "replace") if codec else data, True)
    except expat.ExpatError as exc:
        raise ReadError(Code.F101, f"关系部件 XML 格式错误（第 {exc.lineno} 行）") from exc
    return rels


def _resolve(folder: str, target: str) -> str:
    target = target.replace("\\", "/")
    if target.startswith("/"):
        resolved = target.lstrip("/")
    else:
        resolved = str(PurePosixPath(folder, target)) if folder else target
    parts: list[str] = []
    for piece in resolved.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece not in ("", "."):
            parts.append(piece)
    return "/".join(parts)


def _new_parser():
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _forbid_dtd
    parser.EntityDeclHandler = _forbid_entity
    parser.UnparsedEntityDeclHandler = _forbid_entity
    parser.ExternalEntityRefHandler = _forbid_external
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


class _NotWorksheet(Exception):
    """A sheet part whose root is a chartsheet, dialogsheet or macrosheet."""


class _XlsxReader:
    def __init__(self, path: Path, limits: Limits, wanted: set[str] | None, deadline: float):
        self.path = path
        self.limits = limits
        self.wanted = wanted
        self.deadline = deadline
        self.cells_read = 0

    def read(self) -> Workbook:
        try:
            with zipfile.ZipFile(self.path) as zf:
                self.zf = zf
                self.names = _zip_names(zf.infolist())
                return self._read()
        except ReadError:
            raise
        except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
            raise ReadError(Code.F104, "压缩数据损坏（校验失败或不完整）") from exc
        except NotImplementedError as exc:
            raise ReadError(Code.F101, "使用了不支持的压缩方式") from exc
        except OSError as exc:
            raise ReadError(Code.F104, "压缩数据损坏，无法解压") from exc
        except (KeyError, ValueError, IndexError, LookupError, UnicodeError, OverflowError) as exc:
            raise ReadError(Code.F101, "工作簿内部结构不完整") from exc

    # -- parts -------------------------------------------------------------
    def _info(self, part: str | None) -> zipfile.ZipInfo | None:
        if not part:
            return None
        key = part.replace("\\", "/").lstrip("/").lower()
        info = self.names.get(key)
        if info is None and "%" in key:
            info = self.names.get(unquote(key))
        return info

    def _check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise ReadError(Code.F109, f"{self.limits.seconds:g}")

    def _feed(self, part: str, start=None, end=None, text=None) -> bool:
        """Stream one XML part through expat; False when the part is missing.

        The clock is checked before every 64 KB chunk, so the time any part can
        take is bounded whatever it contains."""
        info = self._info(part)
        if info is None:
            return False
        parser = _new_parser()
        if start is not None:
            parser.StartElementHandler = start
        if end is not None:
            parser.EndElementHandler = end
        if text is not None:
            parser.CharacterDataHandler = text
        with self.zf.open(info) as fh:
            chunk = fh.read(_CHUNK)
            codec = _xml_encoding(chunk, part)
            decoder = codecs.getincrementaldecoder(codec)("replace") if codec else None
            try:
                while chunk:
                    self._check_time()
                    parser.Parse(decoder.decode(chunk) if decoder else chunk, False)
                    chunk = fh.read(_CHUNK)
                parser.Parse(decoder.decode(b"", True) if decoder else b"", True)
            except expat.ExpatError as exc:
                raise ReadError(Code.F101, f"部件 {part} 的 XML 格式错误（第 {exc.lineno} 行第 {exc.offset + 1} 列）"
                                ) from exc
        return True

    def _rels(self, part: str) -> dict[str, tuple[str, str]]:
        folder, _, name = part.rpartition("/")
        info = self._info(f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels")
        if info is None:
            return {}
        if info.file_size > 16 * MB:
            raise ReadError(Code.F106, "关系部件过大")
        self._check_time()
        return _parse_rels(self.zf.read(info), folder)

    def _read(self) -> Workbook:
        wb_part = _office_document(self.zf, self.names) or _find_workbook_part(self.names)
        state = {"strict": False, "date1904": False, "root": True}
        entries: list[tuple[str, str, str]] = []

        def start(name, attrs):
            tag = _local(name)
            if state["root"]:
                state["root"] = False
                state["strict"] = any(v.startswith("http://purl.oclc.org/ooxml/spreadsheetml")
                                      for k, v in attrs.items() if k.startswith("xmlns"))
            if tag == "workbookPr":
                state["date1904"] = (attrs.get("date1904") or "").strip().lower() in ("1", "true", "on")
            elif tag == "sheet":
                sheet_state = (attrs.get("state") or "visible").strip()
                sheet_state = {"hidden": "hidden", "veryhidden": "veryHidden"}.get(sheet_state.lower(), "visible")
                entries.append((attrs.get("name") or "", sheet_state, _attr(attrs, "id") or ""))

        if not wb_part or not self._feed(wb_part, start):
            raise ReadError(Code.F102, "压缩包中没有工作簿")
        rels = self._rels(wb_part)
        self.date1904 = state["date1904"]
        self.shared = self._shared_strings(rels)
        self.styles = self._styles(rels)
        self.style_of = {str(i): fmt for i, fmt in enumerate(self.styles)}
        book = Workbook(path=self.path, format="xlsx", strict=state["strict"])
        if not entries:
            raise ReadError(Code.F101, "工作簿中没有工作表")
        for name, sheet_state, rid in entries:
            if self.wanted is not None and name not in self.wanted:
                continue
            target, kind = rels.get(rid, ("", ""))
            if not target or kind.endswith(("/chartsheet", "/dialogsheet", "/xlmacrosheet")):
                continue  # chart sheets, macro sheets and dangling entries hold no cells
            try:
                sheet = self._sheet(name, sheet_state, target)
            except _NotWorksheet:
                continue
            if sheet is not None:
                book.sheets.append(sheet)
        return book

    def _part_of(self, rels: dict[str, tuple[str, str]], suffix: str) -> str | None:
        for target, kind in rels.values():
            if kind.endswith("/" + suffix.lower()):
                return target
        for target, _kind in rels.values():
            if target.lower().endswith(suffix.lower() + ".xml"):
                return target
        return None

    def _shared_strings(self, rels: dict[str, tuple[str, str]]) -> list[str]:
        strings: list[str] = []
        parts: list[str] = []
        state = {"t": False, "skip": 0}

        def start(name, _attrs):
            tag = _local(name)
            if tag == "t" and not state["skip"]:
                state["t"] = True
            elif tag in ("rPh", "phoneticPr", "extLst"):
                state["skip"] += 1

        def end(name):
            tag = _local(name)
            if tag == "t":
                state["t"] = False
            elif tag in ("rPh", "phoneticPr", "extLst"):
                state["skip"] -= 1
            elif tag == "si":
                strings.append(_unescape("".join(parts)))
                parts.clear()

        def text(data):
            if state["t"]:
                parts.append(data)

        self._feed(self._part_of(rels, "sharedStrings") or "", start, end, text)
        return strings

    def _styles(self, rels: dict[str, tuple[str, str]]) -> list[tuple[str, bool, bool]]:
        custom: dict[int, str] = {}
        fmt_ids: list[int] = []
        state = {"xfs": False, "fmts": False}

        def start(name, attrs):
            tag = _local(name)
            if tag == "numFmt" and state["fmts"]:  # not the ones of conditional formats (<dxf>)
                try:
                    custom[int(attrs.get("numFmtId", ""))] = attrs.get("formatCode", "")
                except ValueError:
                    pass
            elif tag == "numFmts":
                state["fmts"] = True
            elif tag == "cellXfs":
                state["xfs"] = True
            elif tag == "xf" and state["xfs"]:
                try:
                    fmt_ids.append(int(attrs.get("numFmtId", "0")))
                except ValueError:
                    fmt_ids.append(0)

        def end(name):
            tag = _local(name)
            if tag in ("cellXfs", "numFmts"):
                state["xfs"] = state["fmts"] = False

        self._feed(self._part_of(rels, "styles") or "", start, end)
        xfs: list[tuple[str, bool, bool]] = []
        for fmt_id in fmt_ids:
            code = custom.get(fmt_id) or BUILTIN_FORMATS.get(fmt_id, "")
            xfs.append((code, _is_date_format(fmt_id, custom.get(fmt_id, "")),
                        _is_percent_format(fmt_id, code)))
        return xfs

    def _sheet(self, name: str, state: str, part: str) -> Sheet:
        """Stream one worksheet part; keeps only the cells that hold something."""
        sheet = Sheet(name=name, state=state)
        cells = sheet.cells
        limits = self.limits
        max_rows, max_cells = limits.max_rows, limits.max_cells
        make_cell = self._make_cell
        tags: dict[str, str] = {}  # 'x:c' -> 'c', cached
        buf: list[str] = []
        row = col = 0
        kind, style = "n", None
        raw = formula = None
        inline: list[str] | None = None
        mode = None  # 'v' | 'f' | 't' while collecting text
        skip = rph = 0
        root = True

        def start(tag_name, attrs):
            nonlocal row, col, kind, style, raw, formula, inline, mode, skip, rph, root
            tag = tags.get(tag_name)
            if tag is None:
                tag = tags[tag_name] = _local(tag_name)
            if root:
                root = False
                if tag != "worksheet":
                    raise _NotWorksheet(tag)
            if skip:
                if tag == "extLst":
                    skip += 1
                return
            if tag == "c":
                ref = attrs.get("r")
                position = _split_ref(ref) if ref else None
                if position is None:
                    col += 1
                    row = row or 1
                else:
                    row, col = position
                if row > max_rows or col > MAX_EXCEL_COL:
                    raise ReadError(Code.F108, f"单元格 {cell_ref(row, col)} 超出 Excel 的范围", sheet=name)
                kind = attrs.get("t", "n")
                style = attrs.get("s")
                raw = formula = inline = None
            elif tag == "v":
                mode = "v"
                buf.clear()
            elif tag == "row":
                r = attrs.get("r")
                if r is None:
                    row += 1
                elif r.isdigit() and len(r) <= 10:
                    row = int(r)
                else:
                    raise ReadError(Code.F108, f"行号“{r[:20]}”无效", sheet=name)
                col = 0
                if row > max_rows:
                    raise ReadError(Code.F108, f"第 {row} 行超出 Excel 的最大行数", sheet=name)
            elif tag == "f":
                mode = "f"
                buf.clear()
            elif tag == "is":
                inline = []
            elif tag == "t":
                if inline is not None and not rph:
                    mode = "t"
                    buf.clear()
            elif tag == "rPh":
                rph += 1
            elif tag == "mergeCell":
                self._merge(sheet, attrs.get("ref", ""))
            elif tag == "extLst":
                skip = 1

        def end(tag_name):
            nonlocal raw, formula, inline, mode, skip, rph
            tag = tags[tag_name]
            if skip:
                if tag == "extLst":
                    skip -= 1
                return
            if tag == "c":
                if raw is not None or formula is not None or inline is not None:
                    cell = make_cell(kind, style, raw, formula, inline)
                    if cell is not EMPTY:
                        cells[(row, col)] = cell
                        self.cells_read += 1
                        if self.cells_read > max_cells:
                            raise ReadError(Code.F108, f"超过 {max_cells} 个单元格", sheet=name)
                inline = None
            elif mode is None:
                if tag == "rPh":
                    rph -= 1
            elif tag == "v" and mode == "v":
                raw = "".join(buf)
                mode = None
            elif tag == "f" and mode == "f":
                formula = "".join(buf)
                mode = None
            elif tag == "t" and mode == "t" and inline is not None:
                inline.append("".join(buf))
                mode = None

        def text(data):
            if mode is not None:
                buf.append(data)

        self._feed(part, start, end, text)
        return sheet

    def _merge(self, sheet: Sheet, ref: str) -> None:
        first, _, last = ref.partition(":")
        a = _split_ref(first)
        b = _split_ref(last) if last else a
        if a is None or b is None:
            return
        sheet.merged.append((min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])))
        self.cells_read += 1
        if self.cells_read > self.limits.max_cells:
            raise ReadError(Code.F108, f"超过 {self.limits.max_cells} 个合并区域", sheet=sheet.name)

    def _make_cell(self, kind: str, style: str | None, raw: str | None, formula: str | None,
                   inline: list[str] | None) -> Cell:
        numfmt, is_date, is_percent = "", False, False
        if style:
            fmt = self.style_of.get(style)
            if fmt is not None:
                numfmt, is_date, is_percent = fmt
        value: object = None
        error = None
        if kind == "n" or kind == "":
            if raw is not None and raw.strip() != "":
                try:
                    number = float(raw)
                except ValueError:
                    number = math.nan
                if not math.isfinite(number):
                    value = raw  # not a number: keep the text, the checks will say so
                    is_date = False
                elif is_date:
                    value = _excel_date(number, self.date1904)
                else:
                    value = number
        elif kind == "s":
            if raw is not None and raw.strip().isdigit():
                idx = int(raw)
                value = self.shared[idx] if idx < len(self.shared) else None
        elif kind == "inlineStr":
            value = _unescape("".join(inline)) if inline is not None else raw
        elif kind == "str":
            value = _unescape(raw) if raw is not None else None
        elif kind == "b":
            value = None if raw is None or raw.strip() == "" else raw.strip().lower() in ("1", "true")
        elif kind == "e":
            error = (raw or "").strip() or "#VALUE!"
        elif kind == "d":
            value = _iso_datetime(raw)
            is_date = value is not None
        else:  # unknown type: keep whatever text there is
            value = raw
        if value is None and formula is None and error is None:
            return EMPTY
        return Cell(value=value, formula=formula, error=error, numfmt=numfmt,
                    is_date=is_date and isinstance(value, datetime), is_percent=is_percent)


_COLUMNS: dict[str, int] = {}


def _split_ref(ref: str) -> tuple[int, int] | None:
    """'B12' -> (12, 2) quickly (letters cached); None when it is not a cell reference."""
    digits = ref.lstrip("$ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    letters = ref[:len(ref) - len(digits)]
    col = _COLUMNS.get(letters)
    if col is None:
        bare = letters.replace("$", "").upper()
        if not bare or len(bare) > 3:
            return None
        col = 0
        for ch in bare:
            col = col * 26 + ord(ch) - 64
        if len(_COLUMNS) < 50_000:
            _COLUMNS[letters] = col
    digits = digits.lstrip("$")
    if not digits.isdigit() or len(digits) > 10:
        return None
    return int(digits), col


_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _unescape(text: str) -> str:
    """Decode OOXML ``_xHHHH_`` escapes (``_x000D_`` is a carriage return).

    Control characters other than tab/CR/LF are dropped (they break every writer
    downstream); surrogate pairs are joined, lone surrogates become U+FFFD."""
    if "_x" not in text:
        return text
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    text = _CONTROL.sub("", text)
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_ELAPSED = re.compile(r"\[(?:h+|m+|s+)\]", re.IGNORECASE)


def _is_date_format(fmt_id: int, code: str) -> bool:
    """A custom format code decides when the file defines one; else the built-in id."""
    if not code:
        return fmt_id in DATE_FORMAT_IDS
    if _ELAPSED.search(code):
        return False
    bare = _QUOTED.sub("", code).split(";")[0].lower()
    if "general" in bare or "通用" in bare:
        return False
    return bool(re.search(r"[ymdhs]|年|月|日|时|秒", bare)) and "@" not in bare


def _is_percent_format(fmt_id: int, code: str) -> bool:
    if fmt_id in PERCENT_FORMAT_IDS:
        return True
    return "%" in _QUOTED.sub("", code).split(";")[0]


_EPOCH_1900 = datetime(1899, 12, 30)
_EPOCH_1904 = datetime(1904, 1, 1)


def _excel_date(serial: float, date1904: bool) -> datetime | float:
    """Excel serial -> datetime, as Excel shows it (incl. the 1900 leap-year bug:
    serials 1-59 are one day later than plain arithmetic gives)."""
    if not (0 <= serial < 2_958_466):  # up to 9999-12-31; otherwise leave the number
        return serial
    day, fraction = divmod(serial, 1)
    base = _EPOCH_1904 if date1904 else _EPOCH_1900
    if not date1904 and 1 <= serial < 60:
        day += 1
    try:
        return base + timedelta(days=int(day), milliseconds=round(fraction * 86_400_000))
    except OverflowError:
        return serial


def _iso_datetime(raw: str | None) -> datetime | None:
    """``t="d"`` cells: ISO 8601 date, date-time or time (-> on 1899-12-30), made naive."""
    if not raw or not raw.strip():
        return None
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text.removesuffix("Z").removesuffix("z"))
    except ValueError:
        try:
            value = datetime.combine(_EPOCH_1900.date(), dtime.fromisoformat(text.removeprefix("T")))
        except ValueError:
            return None
    return value.replace(tzinfo=None)


# ---------------------------------------------------------------------------
# xls / ods / xlsb through python-calamine, in a child process


def _read_with_calamine(path: Path, kind: str, limits: Limits, wanted: set[str] | None,
                        deadline: float) -> Workbook:
    import python_calamine  # noqa: F401  (loaded before the fork: the child's memory cap is for reading)

    with _named_for(path, kind) as named:
        status, payload = _isolated(_calamine_extract, (str(named), limits, wanted), limits, deadline)
    if status == "error":
        assert isinstance(payload, tuple)
        code, detail, sheet, technical = payload
        raise ReadError(Code[code], detail, sheet=sheet) from RuntimeError(technical)
    result = Workbook(path=path, format=kind)
    assert isinstance(payload, list)
    for name, state, values, merged in payload:
        sheet = Sheet(name=name, state=state, merged=list(merged))
        sheet.cells = {(r, c): _calamine_cell(v) for r, c, v in values}
        result.sheets.append(sheet)
    return result


@contextlib.contextmanager
def _named_for(path: Path, kind: str) -> Iterator[Path]:
    """``path``, or a link to it named ``book.<kind>``: calamine picks its parser by the extension,
    and an .xls or .ods that carries an .xlsx name must still be read as what it is."""
    if path.suffix.lower().lstrip(".") == kind:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="ducha-") as folder:
        named = Path(folder) / f"book.{kind}"
        try:
            os.link(path, named)
        except OSError:  # another drive, or no hard links: a copy (at most max_file_bytes)
            shutil.copyfile(path, named)
        yield named


def _calamine_error(exc: BaseException, sheet: str = "") -> tuple[Code, str]:
    """A calamine exception (English, technical) as a code and a Chinese reason."""
    text = f"{type(exc).__name__}: {exc}"
    lowered = text.lower()
    if "password" in lowered or "encrypt" in lowered:
        return Code.F103, "工作簿设置了打开密码"
    if "memory" in lowered or "failed to map" in lowered or "cannot allocate" in lowered:
        return Code.F101, "读取该文件所需内存超过上限"
    if "cell limit" in lowered or "too many" in lowered:
        if sheet:
            return Code.F108, "声明的单元格数量过多"
        return Code.F101, "工作表声明的单元格数量过多（文件疑似被刻意构造）"
    if "codepage" in lowered:
        return Code.F101, "使用了无法识别的字符编码（代码页）"
    if "cfb" in lowered or "sector" in lowered:
        return Code.F101, "旧版 xls 文件的内部结构损坏"
    if "zip" in lowered:
        return Code.F104, "压缩结构损坏"
    if "xml" in lowered:
        return Code.F101, "文件内部 XML 格式错误"
    if "eof" in lowered or "end of" in lowered or "unexpected" in lowered:
        return Code.F104, "文件数据不完整"
    return Code.F101, "文件结构异常，无法解析"


def _calamine_extract(path: str, limits: Limits, wanted: set[str] | None):
    """Runs in the child: everything the parent needs, as plain picklable data."""
    import python_calamine as pc

    try:
        book = pc.CalamineWorkbook.from_path(path)
    except Exception as exc:  # calamine raises several types (and panics); all mean "cannot read"
        code, detail = _calamine_error(exc)
        raise ReadError(code, detail) from exc
    sheets = []
    count = 0
    metadata = book.sheets_metadata
    if not metadata:
        raise ReadError(Code.F101, "工作簿中没有工作表")
    for meta in metadata:
        if wanted is not None and meta.name not in wanted:
            continue
        if meta.typ != pc.SheetTypeEnum.WorkSheet:
            continue
        if meta.visible == pc.SheetVisibleEnum.Visible:
            state = "visible"
        elif meta.visible == pc.SheetVisibleEnum.Hidden:
            state = "hidden"
        else:
            state = "veryHidden"
        try:
            data = book.get_sheet_by_name(meta.name)
        except Exception as exc:
            code, detail = _calamine_error(exc, meta.name)
            if code != Code.F108:
                detail = f"工作表“{meta.name}”：{detail}"
            raise ReadError(code, detail, sheet=meta.name) from exc
        start = data.start or (0, 0)
        if start[0] + data.height > limits.max_rows or start[1] + data.width > MAX_EXCEL_COL:
            raise ReadError(Code.F108, f"{start[0] + data.height} 行 × {start[1] + data.width} 列",
                            sheet=meta.name)
        if data.height * data.width > 4 * limits.max_cells:
            raise ReadError(Code.F108, f"{data.height} 行 × {data.width} 列", sheet=meta.name)
        values = []
        for r, row in enumerate(data.to_python(skip_empty_area=True), start=start[0] + 1):
            for c, value in enumerate(row, start=start[1] + 1):
                if value is None or value == "":
                    continue
                count += 1
                if count > limits.max_cells:
                    raise ReadError(Code.F108, f"超过 {limits.max_cells} 个单元格", sheet=meta.name)
                values.append((r, c, value))
        merged = []
        try:
            ranges = data.merged_cell_ranges or []
        except Exception:
            ranges = []
        for (r1, c1), (r2, c2) in ranges:
            merged.append((r1 + 1, c1 + 1, r2 + 1, c2 + 1))
        sheets.append((meta.name, state, values, merged))
    return sheets


def _fork_context():
    try:
        import multiprocessing

        if "fork" in multiprocessing.get_all_start_methods():
            return multiprocessing.get_context("fork")
    except (ImportError, ValueError):
        pass
    return None


def _run_guarded(func, args) -> tuple[str, object]:
    """Call func; turn every outcome into ('ok', result) or ('error', (code, detail, sheet, text))."""
    try:
        return "ok", func(*args)
    except ReadError as exc:
        cause = exc.__cause__
        return "error", (exc.code.name, exc.detail, exc.sheet, f"{type(cause).__name__}: {cause}"[:500])
    except MemoryError:
        return "error", ("F101", "读取该文件所需内存超过上限", "", "MemoryError")
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # incl. pyo3 PanicException, which is a BaseException
        code, detail = _calamine_error(exc)
        return "error", (code.name, detail, "", f"{type(exc).__name__}: {exc}"[:500])


def _child_main(conn, func, args, limits: Limits) -> None:
    try:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        try:
            with open("/proc/self/statm") as fh:
                current = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            current = 0
        cap = current + limits.max_memory_bytes
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        _cpu_soft, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
        cpu = int(limits.seconds) + 2
        if cpu_hard == resource.RLIM_INFINITY or cpu < cpu_hard:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu_hard))
    except (ImportError, OSError, ValueError):
        pass
    try:  # native code prints "memory allocation failed" to stderr before aborting: keep it quiet
        import faulthandler

        faulthandler.disable()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    except (ImportError, OSError):
        pass
    result = _run_guarded(func, args)
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("error", ("F101", "读取该文件所需内存超过上限", "", "MemoryError")))
    conn.close()


def _isolated(func, args, limits: Limits, deadline: float) -> tuple[str, object]:
    """Run func(*args) in a forked child with memory and time limits.

    Where fork is unavailable (Windows) it runs in-process: still guarded against
    every exception, but without the memory cap."""
    ctx = _fork_context()
    if ctx is None:
        status, payload = _run_guarded(func, args)
        if time.monotonic() > deadline:
            return "error", ("F109", f"{limits.seconds:g}", "", "timeout")
        return status, payload
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(sender, func, args, limits), daemon=True)
    try:
        proc.start()
    except OSError:  # cannot fork now (process or memory limits): the file is not to blame
        receiver.close()
        sender.close()
        return _run_guarded(func, args)
    sender.close()
    message = None
    try:
        if receiver.poll(max(deadline - time.monotonic(), 0.05)):
            try:
                message = receiver.recv()
            except (EOFError, OSError):
                message = None
        else:
            return "error", ("F109", f"{limits.seconds:g}", "", "timeout: child killed")
    finally:
        receiver.close()
        if message is not None:
            proc.join(1)
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        exitcode = proc.exitcode
        if exitcode is not None:
            proc.close()
    if message is None:  # the child died without answering
        technical = f"child exit code {exitcode}"
        if exitcode == -signal.SIGXCPU:
            return "error", ("F109", f"{limits.seconds:g}", "", technical)
        if exitcode in (-signal.SIGSEGV, -signal.SIGBUS, -signal.SIGILL):
            return "error", ("F101", "读取程序解析该文件时崩溃（文件结构异常）", "", technical)
        # native code aborts (SIGABRT) when an allocation fails under the address-space cap
        return "error", ("F101", f"读取该文件所需内存超过上限 {limits.max_memory_bytes // MB} MB"
                                 "（或文件结构异常导致读取中止）", "", technical)
    return message


def _calamine_cell(value: object) -> Cell:
    if isinstance(value, datetime):
        return Cell(value=value.replace(tzinfo=None), is_date=True)
    if isinstance(value, date):
        return Cell(value=datetime(value.year, value.month, value.day), is_date=True)
    if isinstance(value, dtime):
        return Cell(value=datetime.combine(_EPOCH_1900.date(), value.replace(tzinfo=None)), is_date=True)
    if isinstance(value, timedelta):
        return Cell(value=value.total_seconds() / 86400)
    if isinstance(value, bool):
        return Cell(value=value)
    if isinstance(value, (int, float)):
        return Cell(value=float(value))
    return Cell(value=str(value))
