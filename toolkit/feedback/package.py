"""The fast path: the marks written straight into the original xlsx package's XML.

openpyxl loads a whole workbook into objects and writes it all again (about 150 ms a
return). Here only what the feedback changes is touched, every other part of the zip
is copied as it was (its compressed bytes, after their CRC was checked):

* ``styles.xml``: for each (original cell format, level) a cloned ``<xf>`` with the
  level's fill and a cloned font in the level's colour; the 问题清单's formats;
* each marked worksheet: ``s="N"`` on the marked cells (a cell or row that is not
  there is inserted in order), a ``<legacyDrawing>`` at its place in CT_Worksheet,
  and a new comments part and VML drawing (what Excel, WPS and LibreOffice show);
* a new worksheet part for the 问题清单 (inline strings, never a formula), put first
  in ``workbook.xml``: the tab order, active tab and every ``localSheetId`` shift;
* ``[Content_Types].xml`` and the relationship parts that name the new parts.

A part is edited only after expat found it well-formed without DTD, comments, CDATA
or processing instructions (:func:`toolkit.read.scan.checked_text`), so the regular
expressions below see every tag as it is. Whatever this module is not sure of raises
:class:`_Unsupported` and the caller marks the file up with openpyxl instead: a marked
sheet with comments or a legacy drawing already, macros, a feedback file sent back
(it has a 问题清单), Strict OOXML, prefixed elements, shared formulas on a marked
sheet, a cell or row without its reference, an encrypted or damaged zip.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from xml.parsers import expat

from ..check import Outcome
from ..errors import ReadError
from ..findings import Level
from ..read import scan
from ..read.package import _CHUNK, _attr, _office_document, _resolve, _xml_encoding, _zip_names
from ..read.xlsx import _split_ref
from .marks import (
    AUTHOR,
    BORDER_COLOUR,
    COLOURS,
    COMMENT_WIDTH,
    FEEDBACK_SHEET,
    HEADER_FILL,
    HEADER_ROW,
    HEADING_HEIGHT,
    LIST_HEADERS,
    LIST_WIDTHS,
    CellMark,
    Marks,
    SheetInfo,
    _clean,
    _col_letter,
    _comment_height,
    _quote_title,
    build_marks,
    list_title,
)

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OOXML = "application/vnd.openxmlformats-officedocument."
CT_MAIN = _OOXML + "spreadsheetml.sheet.main+xml"
CT_WORKSHEET = _OOXML + "spreadsheetml.worksheet+xml"
CT_COMMENTS = _OOXML + "spreadsheetml.comments+xml"
CT_VML = _OOXML + "vmlDrawing"
MAX_MEMBERS = 5_000
MAX_TOTAL = 512 * 1024 * 1024  # uncompressed bytes of the whole package
MAX_PART = 64 * 1024 * 1024  # uncompressed bytes of a part this module reads

_S = scan._S
_ATTRS = scan._ATTRS
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
#: Any tag: "/" for an end tag, the name, the attributes, "/" for an empty element.
_TAG = re.compile(rf"<(/?)([^ \t\r\n/>]+)({_ATTRS})(/?)>")
_ATTR_VALUE = rf"""{_S}*={_S}*(?:"[^"<]*"|'[^'<]*')"""
#: Children of <worksheet> that come before <legacyDrawing> (CT_Worksheet's sequence).
_SHEET_BEFORE = frozenset(["sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData", "sheetCalcPr",
                           "sheetProtection", "protectedRanges", "scenarios", "autoFilter", "sortState",
                           "dataConsolidate", "customSheetViews", "mergeCells", "phoneticPr",
                           "conditionalFormatting", "dataValidations", "hyperlinks", "printOptions", "pageMargins",
                           "pageSetup", "headerFooter", "rowBreaks", "colBreaks", "customProperties", "cellWatches",
                           "ignoredErrors", "smartTags", "drawing"])
#: Children of <workbook> before <bookViews> and before <definedNames> (CT_Workbook's sequence).
_BOOK_BEFORE_VIEWS = frozenset(["fileVersion", "fileSharing", "workbookPr", "workbookProtection"])
_BOOK_BEFORE_NAMES = _BOOK_BEFORE_VIEWS | {"bookViews", "sheets", "functionGroups", "externalReferences"}
_STYLE_BLOCKS = ("fonts", "fills", "borders", "cellStyleXfs", "cellXfs")
_TOUCHED = frozenset(["worksheet", "sheetData", "row", "c", "legacyDrawing", "mergeCell", "dimension", "sheetView",
                      "workbook", "sheets", "sheet", "bookViews", "workbookView", "definedNames", "definedName",
                      "styleSheet", "font", "fill", "border", "xf", "color", "cellStyles", "cellStyle", *_STYLE_BLOCKS,
                      "Types", "Default", "Override", "Relationships", "Relationship"])


class _Unsupported(Exception):
    """Something the fast path does not handle: the caller marks the file up with openpyxl."""


def write_marked_package(source: Path, outcome: Outcome, target: Path, round_name: str) -> None:
    """Write ``source`` marked up with ``outcome`` to ``target``, or raise :class:`_Unsupported`
    (having written nothing that matters: the caller overwrites ``target``)."""
    try:
        data = Path(source).read_bytes()
    except OSError as exc:  # the openpyxl path and the rebuild say what can be said
        raise _Unsupported(f"cannot read {source}") from exc
    try:
        package = _Package(data)
        members = _mark_package(package, outcome, round_name)
    except _Unsupported:
        raise
    except (ReadError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, expat.ExpatError, KeyError, ValueError,
            IndexError, LookupError, UnicodeError, struct.error, EOFError, NotImplementedError, RecursionError,
            OverflowError, AssertionError) as exc:
        raise _Unsupported(f"{type(exc).__name__}: {exc}") from exc
    with open(target, "wb") as fh:
        _write_zip(fh, members)


# ---------------------------------------------------------------------------------------
# the zip


class _Package:
    """The original zip: its members, read checked; the parts changed and added."""

    def __init__(self, data: bytes):
        self.data = data
        try:
            self.zf = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError) as exc:
            raise _Unsupported("not a zip") from exc
        self.infos = self.zf.infolist()
        if len(self.infos) > MAX_MEMBERS or sum(i.file_size for i in self.infos) > MAX_TOTAL:
            raise _Unsupported("too large")
        self.names = _zip_names(self.infos)
        if len(self.names) != len(self.infos):
            raise _Unsupported("duplicate member names")
        for info in self.infos:
            if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _Unsupported("encrypted member or unusual compression")
        self.changed: dict[str, bytes] = {}  # lower-case part name -> new content
        self.added: dict[str, bytes] = {}  # part name -> content

    def info(self, part: str) -> zipfile.ZipInfo | None:
        return self.names.get(part.lstrip("/").lower())

    def exists(self, part: str) -> bool:
        key = part.lstrip("/").lower()
        return key in self.names or any(name.lower() == key for name in self.added)

    def read(self, part: str) -> bytes:
        info = self.info(part)
        if info is None:
            raise _Unsupported(f"no part {part}")
        if info.file_size > MAX_PART:
            raise _Unsupported(f"part {part} too large")
        return self.zf.read(info)

    def xml(self, part: str) -> _Xml:
        return _Xml(self.read(part), part)

    def put(self, part: str, text: str) -> None:
        key = part.lstrip("/").lower()
        if key in self.names:
            self.changed[key] = text.encode("utf-8")
        else:
            self.added[part.lstrip("/")] = text.encode("utf-8")

    def assemble(self) -> list[tuple[str, tuple[int, ...], int, int, int, bytes]]:
        """Every member to write, in order: (name, date_time, method, CRC, size, compressed bytes).

        An unchanged member keeps its compressed bytes, after zipfile read it and checked its
        CRC (a damaged member is never passed on); a new or changed one is deflated."""
        members: list[tuple[str, tuple[int, ...], int, int, int, bytes]] = []
        for info in self.infos:
            key = info.filename.replace("\\", "/").lstrip("/").lower()
            new = self.changed.get(key)
            if new is None:
                _check_copied(info.filename, self.zf.read(info))
                members.append((info.filename, info.date_time, info.compress_type, info.CRC, info.file_size,
                                self._raw(info)))
            else:
                members.append((info.filename, info.date_time, *_deflate(new)))
        for name, content in self.added.items():
            members.append((name, (1980, 1, 1, 0, 0, 0), *_deflate(content)))
        return members

    def _raw(self, info: zipfile.ZipInfo) -> bytes:
        """The compressed bytes of an original member, found through its local header."""
        start = info.header_offset
        head = self.data[start:start + 30]
        if len(head) != 30 or head[:4] != b"PK\x03\x04":
            raise _Unsupported("bad local header")
        name_len, extra_len = struct.unpack("<2H", head[26:30])
        begin = start + 30 + name_len + extra_len
        payload = self.data[begin:begin + info.compress_size]
        if len(payload) != info.compress_size:
            raise _Unsupported("truncated member")
        return payload


def _check_copied(name: str, data: bytes) -> None:
    """An XML part passed on unread must not be one our reader refuses: no DTD or entity
    declaration, no UTF-16/UTF-32/UTF-7/EBCDIC trickery (the office never sends such a part out)."""
    if not name.lower().endswith((".xml", ".rels", ".vml")):
        return
    try:
        codec = _xml_encoding(data[:_CHUNK], name)
    except ReadError as exc:
        raise _Unsupported(f"{name}: {exc}") from exc
    if codec is not None or data.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):
        raise _Unsupported(f"{name}: an encoding the fast path does not pass on")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _Unsupported(f"{name}: a DTD")


def _deflate(content: bytes) -> tuple[int, int, int, bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return zipfile.ZIP_DEFLATED, zlib.crc32(content), len(content), compressor.compress(content) + compressor.flush()


class _Xml:
    """A part's text, checked by expat (well-formed, no DTD, comment, CDATA or PI), UTF-8."""

    def __init__(self, data: bytes, part: str):
        try:
            body = scan.checked_text(data, part)
        except ReadError as exc:
            raise _Unsupported(f"{part}: {exc}") from exc
        if body is None:
            raise _Unsupported(f"{part}: XML the fast path does not edit")
        self.part = part
        self.text = body
        counts = scan.tag_counts(body)
        if any(":" in name and name.rpartition(":")[2] in _TOUCHED for name in counts):
            raise _Unsupported(f"{part}: prefixed elements")
        self.counts = counts

    def root(self) -> tuple[re.Match[str], dict[str, str]]:
        match = _TAG.search(self.text)
        if match is None or match.group(1):
            raise _Unsupported(f"{self.part}: no root")
        return match, scan.attributes(match.group(3))

    def prefix_for(self, namespace: str) -> str | None:
        _match, attrs = self.root()
        for key, value in attrs.items():
            if key.startswith("xmlns:") and value == namespace:
                return key[6:]
        return None


def _write_zip(fh, members) -> None:
    """A plain zip (no zip64) of ``members`` (:meth:`_Package.assemble`)."""
    central: list[bytes] = []
    offset = 0
    for name, date_time, method, crc, size, payload in members:
        raw_name = name.encode("utf-8")
        flags = 0 if name.isascii() else 0x800
        year, month, day, hour, minute, second = date_time
        dos_date = (max(year, 1980) - 1980) << 9 | month << 5 | day
        dos_time = hour << 11 | minute << 5 | second // 2
        if offset > 0xFFFF_FFFF or len(payload) > 0xFFFF_FFFF or size > 0xFFFF_FFFF:
            raise _Unsupported("too large for a plain zip")
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, method, dos_time, dos_date, crc,
                             len(payload), size, len(raw_name), 0)
        fh.write(header)
        fh.write(raw_name)
        fh.write(payload)
        central.append(struct.pack("<4s6H3L5HLL", b"PK\x01\x02", 20, 20, flags, method, dos_time, dos_date, crc,
                                   len(payload), size, len(raw_name), 0, 0, 0, 0, 0, offset) + raw_name)
        offset += len(header) + len(raw_name) + len(payload)
    directory = b"".join(central)
    fh.write(directory)
    fh.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), offset, 0))


# ---------------------------------------------------------------------------------------
# XML helpers


def _esc(text: str) -> str:
    """Element text: cleaned, escaped, ``_xHHHH_`` kept literal, CR kept."""
    text = _LITERAL_ESCAPE.sub(r"_x005F\1", _clean(text))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _esc_attr(text: str) -> str:
    return (_clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


_LITERAL_ESCAPE = re.compile(r"(_x[0-9A-Fa-f]{4}_)")


def _set_attrs(tag: str, values: dict[str, str | None]) -> str:
    """A start (or empty) tag with attributes set (None: removed); others kept as written."""
    for name, value in values.items():
        pattern = re.compile(rf"({_S}){re.escape(name)}{_ATTR_VALUE}")
        found = pattern.search(tag)
        if found is not None:
            new = "" if value is None else f'{found.group(1)}{name}="{value}"'
            tag = tag[:found.start()] + new + tag[found.end():]
        elif value is not None:
            end = len(tag) - (2 if tag.endswith("/>") else 1)
            tag = f'{tag[:end]} {name}="{value}"{tag[end:]}'
    return tag


def _children(text: str, start: int, skip: str = "") -> Iterator[tuple[str, int, int]]:
    """(local name, start, end) of each child of the element whose start tag ends at ``start``;
    the content of a ``skip`` element (sheetData) is jumped over, not tokenised."""
    depth = 0
    pos = start
    child_start = 0
    child_name = ""
    while True:
        match = _TAG.search(text, pos)
        if match is None:
            raise _Unsupported("unbalanced XML")
        closing, name, _attrs, empty = match.groups()
        local = name.rpartition(":")[2]
        pos = match.end()
        if closing:
            if depth == 0:
                return
            depth -= 1
            if depth == 0:
                yield child_name, child_start, match.end()
            continue
        if depth == 0:
            child_start, child_name = match.start(), local
            if empty:
                yield local, match.start(), match.end()
                continue
            if skip and local == skip:
                end = re.compile(rf"</{skip}{_S}*>").search(text, pos)
                if end is None:
                    raise _Unsupported("unbalanced XML")
                yield local, match.start(), end.end()
                pos = end.end()
                continue
        if not empty:
            depth += 1


def _insert_point(xml: _Xml, before: frozenset[str], skip: str = "") -> tuple[int, list[str]]:
    """Where a root child goes that follows every ``before`` element; also the children's names."""
    root, _attrs = xml.root()
    point = root.end()
    names = []
    for name, _start, end in _children(xml.text, root.end(), skip):
        names.append(name)
        if name in before:
            point = end
    return point, names


def _splice(text: str, edits: list[tuple[int, int, str]]) -> str:
    """``text`` with the (start, end, replacement) edits made (none overlapping)."""
    out, pos = [], 0
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < pos:
            raise _Unsupported("overlapping edits")
        out += [text[pos:start], new]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _element(name: str) -> re.Pattern[str]:
    """One (not nested) element by name: group 1 its attributes, group 2 its content (None if empty)."""
    return re.compile(rf"<{name}({_ATTRS})(?:/>|>(.*?)</{name}{_S}*>)", re.S)


def _rels(package: _Package, part: str) -> tuple[str, str, list[dict[str, str]]]:
    """(rels part name, its text or "", its relationships' attributes) of ``part``."""
    folder, _, name = part.rpartition("/")
    rels_part = f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels"
    if package.info(rels_part) is None:
        return rels_part, "", []
    xml = package.xml(rels_part)
    found = [scan.attributes(m.group(1)) for m in re.finditer(rf"<Relationship({_ATTRS})/?>", xml.text)]
    if len(found) != scan.tags(xml.text, "Relationship"):
        raise _Unsupported(f"{rels_part}: relationships in another shape")
    return rels_part, xml.text, found


def _with_rels(text: str, new: list[tuple[str, str, str]]) -> str:
    """A relationships part with (Id, Type, Target) entries added."""
    entries = "".join(f'<Relationship Id="{rid}" Type="{kind}" Target="{_esc_attr(target)}"/>'
                      for rid, kind, target in new)
    if not text:
        return f'{_DECL}<Relationships xmlns="{PKG_REL_NS}">{entries}</Relationships>'
    end = text.rfind("</Relationships")
    if end < 0:
        if text.rstrip().endswith("/>"):  # <Relationships .../>
            stripped = text.rstrip()
            return stripped[:-2] + ">" + entries + "</Relationships>"
        raise _Unsupported("relationships part in another shape")
    return text[:end] + entries + text[end:]


def _fresh_id(taken: set[str]) -> str:
    n = len(taken) + 1
    while f"rId{n}" in taken:
        n += 1
    taken.add(f"rId{n}")
    return f"rId{n}"


def _fresh_part(package: _Package, pattern: str) -> str:
    n = 1
    while package.exists(pattern.format(n)):
        n += 1
    return pattern.format(n)


def _relative(part: str, source_part: str) -> str:
    return posixpath.relpath(part, posixpath.dirname(source_part) or ".")


# ---------------------------------------------------------------------------------------
# the package, marked


class _Sheet:
    """One sheet of workbook.xml: its name, state, sheetId, relationship and part."""

    def __init__(self, attrs: dict[str, str], rels: dict[str, tuple[str, str]]):
        self.name = attrs.get("name", "")
        state = (attrs.get("state") or "visible").strip()
        self.state = {"hidden": "hidden", "veryhidden": "veryHidden"}.get(state.lower(), "visible")
        self.sheet_id = attrs.get("sheetId", "")
        rid = _attr(attrs, "id") or ""
        self.part, self.kind = rels.get(rid, ("", ""))
        self._xml: _Xml | None = None

    def xml(self, package: _Package) -> _Xml:
        if self._xml is None:
            if not self.kind.endswith("/worksheet") or not self.part:
                raise _Unsupported(f"sheet {self.name} is not a worksheet")
            xml = package.xml(self.part)
            if not re.match(r"<worksheet[ \t\r\n>]", xml.text.lstrip(" \t\r\n")) or \
                    xml.root()[1].get("xmlns") != MAIN_NS:
                raise _Unsupported(f"{self.part}: not a transitional worksheet")
            self._xml = xml
        return self._xml

    def merged(self, package: _Package) -> list[tuple[int, int, int, int]]:
        xml = self.xml(package)
        areas = []
        for match in scan.MERGE.finditer(xml.text):
            first, _, last = scan.attributes(match.group(1)).get("ref", "").partition(":")
            a = _split_ref(first)
            b = _split_ref(last) if last else a
            if a is None or b is None:
                continue  # openpyxl would fail on it: that path decides
            areas.append((min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])))
        if len(areas) != xml.counts["mergeCell"]:
            raise _Unsupported(f"{self.part}: merged areas in another shape")
        return areas


def _mark_package(package: _Package, outcome: Outcome, round_name: str):
    types = package.xml("[Content_Types].xml")
    _check_content_types(package, types)
    wb_part = _office_document(package.zf, package.names)
    if wb_part is None:
        raise _Unsupported("no workbook part")
    overrides = {scan.attributes(m.group(1)).get("PartName", "").lstrip("/").lower():
                 scan.attributes(m.group(1)).get("ContentType", "")
                 for m in re.finditer(rf"<Override({_ATTRS})/?>", types.text)}
    if overrides.get(wb_part.lower()) != CT_MAIN:
        raise _Unsupported("not a plain xlsx workbook (template, macro-enabled, strict)")
    book = package.xml(wb_part)
    root, root_attrs = book.root()
    if book.text.lstrip(" \t\r\n")[:9] != "<workbook" or root_attrs.get("xmlns") != MAIN_NS:
        raise _Unsupported("not a transitional workbook")
    wb_rels_part, wb_rels_text, wb_rels = _rels(package, wb_part)
    folder = posixpath.dirname(wb_part)
    rels = {r.get("Id", ""): (_resolve(folder, r.get("Target", "")), r.get("Type", "").lower())
            for r in wb_rels if r.get("TargetMode", "").lower() != "external"}
    sheet_tags = list(re.finditer(rf"<sheet({_ATTRS})/?>", book.text))
    if not sheet_tags or len(sheet_tags) != book.counts["sheet"] or book.counts["sheets"] != 1:
        raise _Unsupported("sheets in another shape")
    sheets = [_Sheet(scan.attributes(m.group(1)), rels) for m in sheet_tags]
    by_name = {s.name: s for s in sheets}
    if list_title(by_name) != FEEDBACK_SHEET:
        raise _Unsupported("already has a 问题清单: a feedback file sent back")

    info = SheetInfo([(s.name, s.state) for s in sheets], lambda title: by_name[title].merged(package))
    marks = build_marks(outcome, info, {}, round_name)
    styles_part = next((target for target, kind in rels.values() if kind.endswith("/styles")), None)
    if styles_part is None:
        raise _Unsupported("no styles part")
    styles = _Styles(package.xml(styles_part))

    new_types: list[str] = []
    idmap = _first_free_idmap(package)
    by_sheet: dict[str, list[CellMark]] = {}
    for mark in marks.cells:
        by_sheet.setdefault(mark.sheet, []).append(mark)
    edited: dict[str, str] = {}
    for title, cell_marks in by_sheet.items():
        sheet = by_name[title]
        text, added = _mark_sheet(package, sheet, cell_marks, styles, idmap)
        idmap += 1
        edited[sheet.part.lower()] = text
        new_types += added
    for sheet in sheets:  # the 问题清单 is the selected tab now
        if sheet.part and sheet.part.lower() not in edited and package.info(sheet.part) is not None:
            raw = package.read(sheet.part)
            if b"tabSelected" in raw:
                edited[sheet.part.lower()] = _Xml(raw, sheet.part).text
    for sheet in sheets:
        key = sheet.part.lower()
        if key in edited:
            package.put(sheet.part, _DECL + _unselect(edited[key]))

    list_part = _fresh_part(package, f"{folder}/worksheets/sheet{{}}.xml" if folder else "worksheets/sheet{}.xml")
    package.put(list_part, _list_sheet_xml(marks, styles))
    new_types.append(f'<Override PartName="/{_esc_attr(list_part)}" ContentType="{CT_WORKSHEET}"/>')
    rid = _fresh_id({r.get("Id", "") for r in wb_rels})
    package.put(wb_rels_part, _with_rels(wb_rels_text, [(rid, REL_NS + "/worksheet", _relative(list_part, wb_part))]))
    package.put(wb_part, _DECL + _book_xml(book, marks, sheets, rid))
    package.put(styles_part, _DECL + styles.render())
    package.put("[Content_Types].xml", _DECL + _with_types(types, new_types, bool(by_sheet)))
    return package.assemble()


def _check_content_types(package: _Package, types: _Xml) -> None:
    lowered = types.text.lower()
    if "macroenabled" in lowered or "vbaproject" in lowered or "macrosheet" in lowered or \
            any("vbaproject" in name or name.endswith(".bin") and "vba" in name for name in package.names):
        raise _Unsupported("macros")
    if "purl.oclc.org" in types.text:
        raise _Unsupported("strict OOXML")


def _with_types(types: _Xml, new: list[str], vml: bool) -> str:
    text = types.text
    defaults = {scan.attributes(m.group(1)).get("Extension", "").lower()
                for m in re.finditer(rf"<Default({_ATTRS})/?>", text)}
    if vml and "vml" not in defaults:
        new = [f'<Default Extension="vml" ContentType="{CT_VML}"/>', *new]
    end = text.rfind("</Types")
    if end < 0:
        raise _Unsupported("content types in another shape")
    return text[:end] + "".join(new) + text[end:]


def _first_free_idmap(package: _Package) -> int:
    """A VML shape-id block (``o:idmap data``) no drawing of the package uses yet."""
    used = [0]
    for name in package.names:
        if name.endswith(".vml"):
            for found in re.findall(rb'data="([0-9, ]+)"', package.read(name)):
                used += [int(n) for n in found.replace(b" ", b",").split(b",") if n.strip()]
    return max(used) + 1


_SHEET_VIEW = re.compile(rf"<sheetView({_ATTRS})(/?)>")


def _unselect(text: str) -> str:
    return _SHEET_VIEW.sub(lambda m: _set_attrs(m.group(), {"tabSelected": None}), text)



# ---------------------------------------------------------------------------------------
# styles.xml


class _Styles:
    """styles.xml with fonts, fills, borders and cell formats appended (counts kept right)."""

    _ITEM = {"fonts": "font", "fills": "fill", "borders": "border", "cellStyleXfs": "xf", "cellXfs": "xf"}

    def __init__(self, xml: _Xml):
        root, attrs = xml.root()
        if xml.text.lstrip(" \t\r\n")[:11] != "<styleSheet" or attrs.get("xmlns") != MAIN_NS:
            raise _Unsupported("styles: not a transitional style sheet")
        self.xml = xml
        self.blocks: dict[str, re.Match[str]] = {}
        self.items: dict[str, list[str]] = {}
        self.added: dict[str, list[str]] = {}
        for block, item in self._ITEM.items():
            if xml.counts[block] != 1:
                raise _Unsupported(f"styles: {block} missing or repeated")
            found = _element(block).search(xml.text)
            if found is None:
                raise _Unsupported(f"styles: {block} in another shape")
            content = found.group(2) or ""
            items = [m.group() for m in _element(item).finditer(content)]
            if len(items) != scan.tags(content, item):
                raise _Unsupported(f"styles: {item} in another shape")
            self.blocks[block], self.items[block], self.added[block] = found, items, []
        self.cell_styles = _element("cellStyles").search(xml.text) if xml.counts["cellStyles"] == 1 else None
        if xml.counts["cellStyles"] > 1:
            raise _Unsupported("styles: cellStyles repeated")
        self.new_cell_styles: list[str] = []
        self._memo: dict[object, int] = {}

    def add(self, block: str, xml: str) -> int:
        key = (block, xml)
        if key not in self._memo:
            self.added[block].append(xml)
            self._memo[key] = len(self.items[block]) + len(self.added[block]) - 1
        return self._memo[key]

    def fill(self, rgb: str) -> int:
        return self.add("fills", f'<fill><patternFill patternType="solid"><fgColor rgb="FF{rgb}"/>'
                                 f'<bgColor rgb="FF{rgb}"/></patternFill></fill>')

    def border(self) -> int:
        side = f'style="thin"><color rgb="{BORDER_COLOUR}"/>'
        return self.add("borders", f"<border><left {side}</left><right {side}</right><top {side}</top>"
                                   f"<bottom {side}</bottom><diagonal/></border>")

    def font(self, inner: str) -> int:
        return self.add("fonts", f"<font>{inner}</font>")

    def xf(self, font: int, fill: int = 0, border: int = 0, alignment: str = "", style_xf: int = 0) -> int:
        applied = ' applyFont="1"' + (' applyFill="1"' if fill else "") + (' applyBorder="1"' if border else "")
        body = f"<alignment {alignment}/>" if alignment else ""
        applied += ' applyAlignment="1"' if alignment else ""
        return self.add("cellXfs", f'<xf numFmtId="0" fontId="{font}" fillId="{fill}" borderId="{border}" '
                                   f'xfId="{style_xf}"{applied}>{body}</xf>')

    def mark(self, base: int, level: Level) -> int:
        """The cell format ``base`` with the level's fill and its font in the level's colour."""
        key = ("mark", base, level)
        if key in self._memo:
            return self._memo[key]
        xfs = self.items["cellXfs"]
        if not 0 <= base < len(xfs):
            raise _Unsupported(f"styles: no cell format {base}")
        fill_rgb, colour = COLOURS[level]
        start = _TAG.match(xfs[base])
        assert start is not None
        attrs = scan.attributes(start.group(3))
        font_id = int(attrs.get("fontId", "0") or 0)
        fonts = self.items["fonts"]
        if not 0 <= font_id < len(fonts):
            raise _Unsupported(f"styles: no font {font_id}")
        font = self.add("fonts", _recolour(fonts[font_id], colour))
        new_start = _set_attrs(start.group(), {"fontId": str(font), "fillId": str(self.fill(fill_rgb)),
                                               "applyFont": "1", "applyFill": "1"})
        xf = self.add("cellXfs", new_start + xfs[base][start.end():])
        self._memo[key] = xf
        return xf

    def hyperlink_style(self, font: int) -> int:
        """The cellStyleXfs index of the named style "Hyperlink", added when the file has none; 0
        (Normal: the link cells are only formatted like links) when the named styles are not laid out
        one per format in order, where openpyxl (which indexes them by position) would trip over it."""
        named = []
        if self.cell_styles is not None:
            named = [scan.attributes(m.group(1))
                     for m in re.finditer(rf"<cellStyle({_ATTRS})/?>", self.cell_styles.group(2) or "")]
        formats = len(self.items["cellStyleXfs"])
        for position, attrs in enumerate(named):
            if attrs.get("name") == "Hyperlink" or attrs.get("builtinId") == "8":
                return position if attrs.get("xfId") == str(position) else 0
        if self.cell_styles is None and formats == 1:
            self.new_cell_styles.append('<cellStyle name="Normal" xfId="0" builtinId="0"/>')
        elif len(named) != formats or any(attrs.get("xfId") != str(i) for i, attrs in enumerate(named)):
            return 0
        xf_id = self.add("cellStyleXfs", f'<xf numFmtId="0" fontId="{font}" fillId="0" borderId="0" '
                                         'applyNumberFormat="0" applyFill="0" applyBorder="0" applyAlignment="0" '
                                         'applyProtection="0"/>')
        self.new_cell_styles.append(f'<cellStyle name="Hyperlink" xfId="{xf_id}" builtinId="8"/>')
        return xf_id

    def render(self) -> str:
        text = self.xml.text
        edits = []
        for block, found in self.blocks.items():
            if not self.added[block]:
                continue
            edits.append((found.start(), found.end(), _block(block, found, self.added[block],
                                                               len(self.items[block]) + len(self.added[block]))))
        if self.new_cell_styles:
            if self.cell_styles is None:
                end = self.blocks["cellXfs"].end()
                edits.append((end, end, f'<cellStyles count="{len(self.new_cell_styles)}">'
                                        f'{"".join(self.new_cell_styles)}</cellStyles>'))
            else:
                content = self.cell_styles.group(2) or ""
                count = scan.tags(content, "cellStyle") + len(self.new_cell_styles)
                edits.append((self.cell_styles.start(), self.cell_styles.end(),
                              _block("cellStyles", self.cell_styles, self.new_cell_styles, count)))
        return _splice(text, edits)


def _block(name: str, found: re.Match[str], added: list[str], count: int) -> str:
    start = _TAG.match(found.group())
    assert start is not None
    head = _set_attrs(start.group(), {"count": str(count)})
    if head.endswith("/>"):
        head = head[:-2] + ">"
    return f"{head}{found.group(2) or ''}{''.join(added)}</{name}>"


_COLOUR = re.compile(rf"<color{_ATTRS}(?:/>|>{_S}*</color{_S}*>)")
_SIZE = re.compile(rf"<sz{_ATTRS}(?:/>|>{_S}*</sz{_S}*>)")


def _recolour(font: str, colour: str) -> str:
    """A ``<font>`` element with its colour made ``colour``."""
    new = f'<color rgb="FF{colour}"/>'
    if font.endswith("/>") and not font.endswith("</font>"):
        return font[:-2] + f">{new}</font>"
    if scan.tags(font, "color") != len(_COLOUR.findall(font)):
        raise _Unsupported("styles: a font colour in another shape")
    font = _COLOUR.sub("", font)
    size = _SIZE.search(font)
    if size is not None:
        return font[:size.end()] + new + font[size.end():]
    start = _TAG.match(font)
    assert start is not None
    return font[:start.end()] + new + font[start.end():]


# ---------------------------------------------------------------------------------------
# a marked worksheet

_SHEET_DATA = re.compile(rf"<sheetData({_ATTRS})(/?)>")
_ROW_TAG = re.compile(rf"<row({_ATTRS})(/?)>")
_ROW_END = re.compile(rf"</row{_S}*>")
_CELL_TAG = re.compile(rf"<c({_ATTRS})(/?)>")
_SHARED_FORMULA = re.compile(rf"<f{_S}[^>]*t{_S}*={_S}*[\"']shared[\"']")
_DIMENSION = re.compile(rf"<dimension({_ATTRS})/?>")


def _mark_sheet(package: _Package, sheet: _Sheet, marks: list[CellMark], styles: _Styles,
                idmap: int) -> tuple[str, list[str]]:
    """The sheet's new text (cells restyled, a legacy drawing named) and the content types to add;
    the comments, drawing and relationships parts are put in ``package``."""
    xml = sheet.xml(package)
    text = xml.text
    if xml.counts["legacyDrawing"] or xml.counts["sheetData"] != 1:
        raise _Unsupported(f"{sheet.part}: has a legacy drawing (comments) already")
    if _SHARED_FORMULA.search(text):
        raise _Unsupported(f"{sheet.part}: shared formulas")
    rels_part, rels_text, rels = _rels(package, sheet.part)
    if any(r.get("Type", "").lower().endswith(("/comments", "/vmldrawing")) for r in rels):
        raise _Unsupported(f"{sheet.part}: has comments already")

    targets = {(m.row, m.col): m for m in marks}
    data_tag = _SHEET_DATA.search(text)
    assert data_tag is not None
    styles_of = _cell_styles(text, data_tag, set(targets))
    wanted = {spot: styles.mark(styles_of.get(spot, 0), mark.level) for spot, mark in targets.items()}
    text = _restyle(text, data_tag, wanted)
    text = _widen_dimension(text, targets)

    comments_part = _fresh_part(package, "xl/comments{}.xml")
    vml_part = _fresh_part(package, "xl/drawings/vmlDrawing{}.vml")
    ordered = sorted(marks, key=lambda m: (m.row, m.col))
    package.put(comments_part, _comments_xml(ordered))
    package.put(vml_part, _vml(ordered, idmap))
    taken = {r.get("Id", "") for r in rels}
    vml_rid, comments_rid = _fresh_id(taken), _fresh_id(taken)
    package.put(rels_part, _with_rels(rels_text, [
        (vml_rid, REL_NS + "/vmlDrawing", _relative(vml_part, sheet.part)),
        (comments_rid, REL_NS + "/comments", _relative(comments_part, sheet.part)),
    ]))
    point, _names = _insert_point(_Reparsed(text, xml), _SHEET_BEFORE, skip="sheetData")
    prefix = xml.prefix_for(REL_NS)
    drawing = f'<legacyDrawing {prefix}:id="{vml_rid}"/>' if prefix else \
        f'<legacyDrawing xmlns:r="{REL_NS}" r:id="{vml_rid}"/>'
    text = text[:point] + drawing + text[point:]
    return text, [f'<Override PartName="/{_esc_attr(comments_part)}" ContentType="{CT_COMMENTS}"/>']


class _Reparsed(_Xml):
    """An edited text of an already checked part (not checked again)."""

    def __init__(self, text: str, original: _Xml):  # noqa: D107 - no super().__init__: nothing to check
        self.part, self.text, self.counts = original.part, text, original.counts


def _rows(text: str, start: int, end: int) -> list[tuple[int, int, int, re.Match[str]]]:
    """(row number, start, end, start tag) of every row between ``start`` and ``end``, checked in order."""
    rows = []
    last = 0
    pos = start
    while True:
        tag = _ROW_TAG.search(text, pos, end)
        if tag is None:
            break
        number = scan.attributes(tag.group(1)).get("r", "")
        if not number.isdigit() or not last < int(number) <= 1_048_576:
            raise _Unsupported("a row without its number, or out of order")
        last = int(number)
        if tag.group(2):
            rows.append((last, tag.start(), tag.end(), tag))
            pos = tag.end()
            continue
        close = _ROW_END.search(text, tag.end(), end)
        if close is None:
            raise _Unsupported("unbalanced row")
        rows.append((last, tag.start(), close.end(), tag))
        pos = close.end()
    if len(rows) != scan.tags(text[start:end], "row"):
        raise _Unsupported("rows in another shape")
    return rows


def _data_span(text: str, data_tag: re.Match[str]) -> tuple[int, int]:
    if data_tag.group(2):
        return data_tag.end(), data_tag.end()
    close = re.compile(rf"</sheetData{_S}*>").search(text, data_tag.end())
    if close is None:
        raise _Unsupported("unbalanced sheetData")
    return data_tag.end(), close.start()


def _cells(text: str, start: int, end: int, row: int) -> list[tuple[int, re.Match[str]]]:
    """(column, start tag) of every cell of a row's text span, each with its reference."""
    cells = []
    for tag in _CELL_TAG.finditer(text, start, end):
        position = _split_ref(scan.attributes(tag.group(1)).get("r", ""))
        if position is None or position[0] != row:
            raise _Unsupported("a cell without its reference")
        cells.append((position[1], tag))
    if len(cells) != scan.tags(text[start:end], "c"):
        raise _Unsupported("cells in another shape")
    return cells


def _cell_styles(text: str, data_tag: re.Match[str], spots: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """The ``s`` of the cells at ``spots`` that exist."""
    found = {}
    wanted_rows = {r for r, _c in spots}
    start, end = _data_span(text, data_tag)
    for number, row_start, row_end, _tag in _rows(text, start, end):
        if number in wanted_rows:
            for col, tag in _cells(text, row_start, row_end, number):
                if (number, col) in spots:
                    style = scan.attributes(tag.group(1)).get("s", "0") or "0"
                    if not style.isdigit():
                        raise _Unsupported("a cell style that is not a number")
                    found[(number, col)] = int(style)
    return found


def _restyle(text: str, data_tag: re.Match[str], wanted: dict[tuple[int, int], int]) -> str:
    """``s="N"`` set on each wanted cell; cells and rows that are not there inserted in order."""
    start, end = _data_span(text, data_tag)
    by_row: dict[int, dict[int, int]] = {}
    for (r, c), style in wanted.items():
        by_row.setdefault(r, {})[c] = style
    rows = _rows(text, start, end)
    edits: list[tuple[int, int, str]] = []
    present = {number for number, *_rest in rows}
    for number, row_start, row_end, tag in rows:
        if number in by_row:
            edits.append((row_start, row_end, _restyle_row(text, number, row_start, row_end, tag, by_row[number])))
    missing = sorted(r for r in by_row if r not in present)
    for number in missing:
        after = next((row_start for n, row_start, _e, _t in rows if n > number), end)
        cells = "".join(f'<c r="{_col_letter(c)}{number}" s="{s}"/>' for c, s in sorted(by_row[number].items()))
        edits.append((after, after, f'<row r="{number}">{cells}</row>'))
    if data_tag.group(2) and edits:  # <sheetData/>
        inner = "".join(new for _s, _e, new in sorted(edits))
        return text[:data_tag.start()] + f"<sheetData{data_tag.group(1)}>{inner}</sheetData>" + text[data_tag.end():]
    return _splice(text, edits)


def _restyle_row(text: str, number: int, start: int, end: int, tag: re.Match[str], wanted: dict[int, int]) -> str:
    cells = _cells(text, tag.end(), end, number) if not tag.group(2) else []
    row_end = end if tag.group(2) else _ROW_END.search(text, tag.end(), end).start()  # type: ignore[union-attr]
    edits: list[tuple[int, int, str]] = []
    have = {col: cell for col, cell in cells}
    for col, style in sorted(wanted.items()):
        cell = have.get(col)
        if cell is not None:
            edits.append((cell.start(), cell.end(), _set_attrs(cell.group(), {"s": str(style)})))
            continue
        at = next((c.start() for k, c in cells if k > col), row_end)
        edits.append((at, at, f'<c r="{_col_letter(col)}{number}" s="{style}"/>'))
    head = tag.group()
    spans = scan.attributes(tag.group(1)).get("spans")
    if spans:
        bounds = [int(n) for n in re.findall(r"[0-9]+", spans)] + list(wanted)
        head = _set_attrs(head, {"spans": f"{min(bounds)}:{max(bounds)}"})
    if tag.group(2):
        inner = "".join(new for _s, _e, new in sorted(edits))
        return head[:-2].rstrip() + ">" + inner + "</row>"
    body = _splice(text[tag.end():end], [(s - tag.end(), e - tag.end(), new) for s, e, new in edits])
    return head + body


def _widen_dimension(text: str, spots) -> str:
    found = _DIMENSION.search(text)
    if found is None:
        return text
    first, _, last = scan.attributes(found.group(1)).get("ref", "").partition(":")
    a = _split_ref(first)
    b = _split_ref(last) if last else a
    if a is None or b is None:
        return text
    rows = [a[0], b[0], *(r for r, _c in spots)]
    cols = [a[1], b[1], *(c for _r, c in spots)]
    ref = f"{_col_letter(min(cols))}{min(rows)}:{_col_letter(max(cols))}{max(rows)}"
    return text[:found.start()] + _set_attrs(found.group(), {"ref": ref}) + text[found.end():]


# ---------------------------------------------------------------------------------------
# new parts: comments, their drawing, the 问题清单


def _comments_xml(marks: list[CellMark]) -> str:
    comments = "".join(f'<comment ref="{_col_letter(m.col)}{m.row}" authorId="0"><text>'
                       f'<t xml:space="preserve">{_esc(m.text)}</t></text></comment>' for m in marks)
    return (f'{_DECL}<comments xmlns="{MAIN_NS}"><authors><author>{_esc(AUTHOR)}</author></authors>'
            f"<commentList>{comments}</commentList></comments>")


def _vml(marks: list[CellMark], idmap: int) -> str:
    """Legacy VML note shapes, as Excel, WPS and LibreOffice expect them (openpyxl writes the same)."""
    shapes = []
    for i, m in enumerate(marks, start=1):
        height = _comment_height(_clean(m.text))
        shapes.append(
            f'<v:shape id="_x0000_s{idmap * 1024 + i}" type="#_x0000_t202" style="position:absolute; '
            f'margin-left:59.25pt;margin-top:1.5pt;width:{COMMENT_WIDTH}px;height:{height}px;z-index:{i};'
            f'visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto"><v:fill color2="#ffffe1"/>'
            f'<v:shadow color="black" obscured="t"/><v:path o:connecttype="none"/>'
            f'<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div></v:textbox>'
            f'<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/><x:AutoFill>False</x:AutoFill>'
            f"<x:Row>{m.row - 1}</x:Row><x:Column>{m.col - 1}</x:Column></x:ClientData></v:shape>")
    return ('<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
            'xmlns:x="urn:schemas-microsoft-com:office:excel">'
            f'<o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{idmap}"/></o:shapelayout>'
            '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
            '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
            + "".join(shapes) + "</xml>")


def _text_cell(ref: str, style: int, text: str) -> str:
    if not text:
        return f'<c r="{ref}" s="{style}"/>'
    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t xml:space="preserve">{_esc(text)}</t></is></c>'


def _list_sheet_xml(marks: Marks, styles: _Styles) -> str:
    """The 问题清单 worksheet, as the openpyxl path lays it out."""
    song = '<sz val="11"/><name val="宋体"/>'
    body_font = styles.font(song)
    border = styles.border()
    heading = styles.xf(styles.font('<b/><sz val="14"/><name val="黑体"/>'), alignment='vertical="center"')
    summary = styles.xf(body_font, alignment='vertical="center" wrapText="1"')
    header = styles.xf(styles.font("<b/>" + song), styles.fill(HEADER_FILL), border,
                       'horizontal="center" vertical="center"')
    centred = styles.xf(body_font, 0, border, 'horizontal="center" vertical="top"')
    wrapped = styles.xf(body_font, 0, border, 'vertical="top" wrapText="1"')
    link_font = styles.font('<u/><sz val="11"/><color rgb="FF0563C1"/><name val="宋体"/>')
    link = styles.xf(link_font, 0, border, 'horizontal="center" vertical="top"', styles.hyperlink_style(link_font))
    level_xf = {}
    for level, (fill, colour) in COLOURS.items():
        level_xf[level] = styles.xf(styles.font(f'<sz val="11"/><color rgb="FF{colour}"/><name val="宋体"/>'),
                                    styles.fill(fill), border, 'horizontal="center" vertical="top"')

    last = _col_letter(len(LIST_HEADERS))
    rows = [f'<row r="1" ht="{HEADING_HEIGHT}" customHeight="1">{_text_cell("A1", heading, marks.heading)}</row>',
            f'<row r="2" ht="{marks.summary_height}" customHeight="1">{_text_cell("A2", summary, marks.summary)}</row>',
            f'<row r="{HEADER_ROW}">' + "".join(_text_cell(f"{_col_letter(c)}{HEADER_ROW}", header, name)
                                             for c, name in enumerate(LIST_HEADERS, start=1)) + "</row>"]
    links = []
    for r, row in enumerate(marks.rows, start=HEADER_ROW + 1):
        number, sheet_title, cell, level_name, code, text = row.values
        cells = [f'<c r="A{r}" s="{centred}"><v>{number}</v></c>', _text_cell(f"B{r}", wrapped, sheet_title),
                 _text_cell(f"C{r}", link if row.link is not None else centred, cell),
                 _text_cell(f"D{r}", level_xf[row.level], level_name), _text_cell(f"E{r}", centred, code),
                 _text_cell(f"F{r}", wrapped, text)]
        rows.append(f'<row r="{r}" ht="{row.height}" customHeight="1">{"".join(cells)}</row>')
        if row.link is not None:
            links.append(f'<hyperlink ref="C{r}" location="{_esc_attr(row.link)}" display="{_esc_attr(cell)}"/>')
    cols = "".join(f'<col min="{c}" max="{c}" width="{w}" customWidth="1"/>'
                   for c, w in enumerate(LIST_WIDTHS, start=1))
    end_row = HEADER_ROW + len(marks.rows)
    first = f"A{HEADER_ROW + 1}"
    return (f'{_DECL}<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
            '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
            f'<dimension ref="A1:{last}{end_row}"/>'
            f'<sheetViews><sheetView tabSelected="1" workbookViewId="0"><pane ySplit="{HEADER_ROW}" '
            f'topLeftCell="{first}" activePane="bottomLeft" state="frozen"/>'
            f'<selection pane="bottomLeft" activeCell="{first}" sqref="{first}"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols>'
            f'<sheetData>{"".join(rows)}</sheetData>'
            f'<mergeCells count="2"><mergeCell ref="A1:{last}1"/><mergeCell ref="A2:{last}2"/></mergeCells>'
            + (f'<hyperlinks>{"".join(links)}</hyperlinks>' if links else "")
            + '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
            '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/></worksheet>')


# ---------------------------------------------------------------------------------------
# workbook.xml

_DEFINED_NAME = re.compile(rf"<definedName({_ATTRS})(/?)>")
_WORKBOOK_VIEW = re.compile(rf"<workbookView({_ATTRS})(/?)>")


def _book_xml(book: _Xml, marks: Marks, sheets: list[_Sheet], rid: str) -> str:
    """workbook.xml with the 问题清单 first: tab order, active tab, sheet-local names shifted by one."""
    text = book.text
    edits: list[tuple[int, int, str]] = []
    prefix = book.prefix_for(REL_NS)
    ids = [int(s.sheet_id) for s in sheets if s.sheet_id.isdigit()]
    sheet_id = max(ids, default=0) + 1
    rel_attr = f'{prefix}:id="{rid}"' if prefix else f'xmlns:r="{REL_NS}" r:id="{rid}"'
    new_sheet = f'<sheet name="{_esc_attr(marks.title)}" sheetId="{sheet_id}" {rel_attr}/>'
    sheets_tag = re.compile(rf"<sheets({_ATTRS})>").search(text)
    if sheets_tag is None:
        raise _Unsupported("workbook: sheets in another shape")
    edits.append((sheets_tag.end(), sheets_tag.end(), new_sheet))

    for tag in _DEFINED_NAME.finditer(text):
        local = scan.attributes(tag.group(1)).get("localSheetId")
        if local is not None:
            if not local.strip().isdigit():
                raise _Unsupported("workbook: a sheet-local name with an odd sheet number")
            edits.append((tag.start(), tag.end(), _set_attrs(tag.group(), {"localSheetId": str(int(local) + 1)})))
    if len(edits) - 1 != sum(1 for t in _DEFINED_NAME.finditer(text)
                             if "localSheetId" in scan.attributes(t.group(1))) or \
            len(list(_DEFINED_NAME.finditer(text))) != book.counts["definedName"]:
        raise _Unsupported("workbook: defined names in another shape")
    titles = (f'<definedName name="_xlnm.Print_Titles" localSheetId="0">{_esc(_quote_title(marks.title))}'
              f"!${HEADER_ROW}:${HEADER_ROW}</definedName>")
    names_tag = re.compile(rf"<definedNames({_ATTRS})(/?)>").search(text)
    if names_tag is not None and book.counts["definedNames"] == 1:
        if names_tag.group(2):
            edits.append((names_tag.start(), names_tag.end(), f"<definedNames{names_tag.group(1)}>{titles}</definedNames>"))
        else:
            edits.append((names_tag.end(), names_tag.end(), titles))
    elif book.counts["definedNames"] == 0:
        point, _names = _insert_point(book, _BOOK_BEFORE_NAMES)
        edits.append((point, point, f"<definedNames>{titles}</definedNames>"))
    else:
        raise _Unsupported("workbook: defined names in another shape")

    views = list(_WORKBOOK_VIEW.finditer(text))
    if len(views) != book.counts["workbookView"]:
        raise _Unsupported("workbook: views in another shape")
    for view in views:
        edits.append((view.start(), view.end(), _set_attrs(view.group(), {"activeTab": "0", "firstSheet": "0"})))
    if not views:
        point, _names = _insert_point(book, _BOOK_BEFORE_VIEWS)
        edits.append((point, point, '<bookViews><workbookView activeTab="0"/></bookViews>'))
    return _splice(text, edits)
