"""What a file is, by its bytes, never its name.

:func:`sniff` says which workbook format a file is ('xlsx', 'ods', 'xlsb', 'xls') or
raises :class:`~toolkit.errors.ReadError` with a specific Chinese reason (a PDF, a
Word document, a zip bomb, an encrypted workbook …), checking the zip directory and
declared sizes before anything is inflated. :func:`classify` tells what a received
file is for the intake: a workbook, a zip archive, a saved mail or a document.
"""

from __future__ import annotations

import enum
import re
import stat
import struct
import zipfile
from pathlib import Path

from ..errors import ReadError
from ..findings import Code
from .model import MB, Limits
from .package import _find_workbook_part, _office_document, _zip_names

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


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
