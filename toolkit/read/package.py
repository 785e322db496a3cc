"""The zip package of an OOXML file: its part names and relationships, and XML read safely.

Every XML part is fed through expat with DTDs, entity declarations and external
entities refused outright (billion laughs and XXE never expand), after its byte
signature and declared encoding were checked (:func:`_xml_encoding`). Shared by
the sniffer and the xlsx parser.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import PurePosixPath
from typing import Any
from xml.parsers import expat

from ..errors import ReadError
from ..findings import Code
from .model import MB

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
    head = head[:1024]  # the declaration is looked for in the first 400 characters
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
    """Id -> (resolved target, relationship type in lower case) of a .rels part (a new dict)."""
    known = PARTS.get(data, ("rels", folder))
    if known is not None:
        return dict(known)
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
    PARTS.put(data, ("rels", folder), dict(rels))
    return rels


class PartMemo:
    """What small parts read to, by their bytes (and what else the reading depends on), bounded.

    A round's returns come from a few templates and writers, and parts such as the workbook,
    its relationships and the styles are the same bytes in every return of a template: they
    are taken apart once per process. Only what a part read to is remembered, never a refusal
    (a part that raised is read, and raises, again); values are never changed by their users.
    Parts larger than :attr:`largest` are not remembered (set it to -1 to remember none); when
    the memo holds :attr:`budget` bytes of parts it starts again."""

    def __init__(self, largest: int = _CHUNK, budget: int = 4 * MB):
        self.largest = largest
        self.budget = budget
        self._items: dict[tuple, object] = {}
        self._size = 0

    def get(self, data: bytes, key: tuple) -> Any:
        """What ``data`` read to, read as ``key`` says (a kind of part, and what else counts); None
        when not remembered."""
        return self._items.get((data, key)) if len(data) <= self.largest else None

    def put(self, data: bytes, key: tuple, value: object) -> None:
        size = len(data)
        if size > self.largest:
            return
        if self._size + size > self.budget:
            self._items.clear()
            self._size = 0
        self._items[(data, key)] = value
        self._size += size

    def clear(self) -> None:
        self._items.clear()
        self._size = 0


#: The memo of small parts' readings shared by the sniffer and the xlsx parser.
PARTS = PartMemo()


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


def _zip_names(infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """Member names normalised (lower case, '/' separators, no leading '/')."""
    names: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        names[info.filename.replace("\\", "/").lstrip("/").lower()] = info
    return names


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
