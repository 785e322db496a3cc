"""Builders for spreadsheet files, ordinary and hostile, made in code for the reader tests.

Each builder writes one file and returns its path. Nothing here needs network or
the corpus; the hostile ones reproduce, in a few bytes, the attacks collected in
/work/shared/corpus (see docs/hostile-inputs.md).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
STRICT_MAIN = "http://purl.oclc.org/ooxml/spreadsheetml/main"
STRICT_REL = "http://purl.oclc.org/ooxml/officeDocument/relationships"
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
MB_BYTES = 1024 * 1024

CONTENT_TYPES = (
    DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    DECL + f'<Relationships xmlns="{PKG_REL}"><Relationship Id="rId1" '
    f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)


# ---------------------------------------------------------------------------
# xlsx written by hand, part by part


def sheet_xml(rows: str, after: str = "", before: str = "") -> str:
    """A worksheet part: ``rows`` go inside <sheetData>, ``after`` follows it (mergeCells)."""
    return (DECL + f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}">{before}<sheetData>{rows}</sheetData>'
            f"{after}</worksheet>")


def styles_xml(num_fmt_ids: list[int], custom: dict[int, str] | None = None) -> str:
    """cellXfs index i gets number format num_fmt_ids[i] (index 0 should be 0, General)."""
    custom = custom or {}
    fmts = "".join(f'<numFmt numFmtId="{k}" formatCode="{_attr_escape(v)}"/>' for k, v in custom.items())
    xfs = "".join(f'<xf numFmtId="{i}" fontId="0" fillId="0" borderId="0" xfId="0"/>' for i in num_fmt_ids)
    return (DECL + f'<styleSheet xmlns="{MAIN}"><numFmts count="{len(custom)}">{fmts}</numFmts>'
            '<cellStyleXfs count="1"><xf numFmtId="49"/></cellStyleXfs>'
            f'<cellXfs count="{len(num_fmt_ids)}">{xfs}</cellXfs></styleSheet>')


def shared_xml(items: list[str]) -> str:
    """sharedStrings part; each item is the inner XML of one <si> (e.g. '<t>x</t>')."""
    return DECL + f'<sst xmlns="{MAIN}" count="{len(items)}" uniqueCount="{len(items)}">' + "".join(
        f"<si>{item}</si>" for item in items) + "</sst>"


def _attr_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def xlsx_parts(sheets: list[tuple[str, str]] | None = None, *, shared: str | None = None,
               styles: str | None = None, states: dict[str, str] | None = None,
               workbook_pr: str = "", extra: dict[str, str | bytes] | None = None) -> dict[str, str | bytes]:
    """All parts of a minimal transitional xlsx (name -> text or bytes)."""
    sheets = sheets if sheets is not None else [("Sheet1", sheet_xml('<row r="1"><c r="A1"><v>1</v></c></row>'))]
    states = states or {}
    entries, rels = [], []
    parts: dict[str, str | bytes] = {"[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": ROOT_RELS}
    for i, (name, xml) in enumerate(sheets, start=1):
        state = f' state="{states[name]}"' if name in states else ""
        entries.append(f'<sheet name="{_attr_escape(name)}" sheetId="{i}"{state} r:id="rId{i}"/>')
        rels.append(f'<Relationship Id="rId{i}" Type="{REL}/worksheet" Target="worksheets/sheet{i}.xml"/>')
        parts[f"xl/worksheets/sheet{i}.xml"] = xml
    if shared is not None:
        rels.append(f'<Relationship Id="rIdS" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>')
        parts["xl/sharedStrings.xml"] = shared
    if styles is not None:
        rels.append(f'<Relationship Id="rIdT" Type="{REL}/styles" Target="styles.xml"/>')
        parts["xl/styles.xml"] = styles
    parts["xl/workbook.xml"] = (DECL + f'<workbook xmlns="{MAIN}" xmlns:r="{REL}">{workbook_pr}<sheets>'
                                + "".join(entries) + "</sheets></workbook>")
    parts["xl/_rels/workbook.xml.rels"] = DECL + f'<Relationships xmlns="{PKG_REL}">' + "".join(rels) + \
        "</Relationships>"
    parts.update(extra or {})
    return parts


def write_zip(path: Path, parts: dict[str, str | bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in parts.items():
            zf.writestr(name, data.encode("utf-8") if isinstance(data, str) else data)
    return path


def write_xlsx(path: Path, sheets: list[tuple[str, str]] | None = None, **kwargs) -> Path:
    return write_zip(path, xlsx_parts(sheets, **kwargs))


def rows_of(cells: dict[str, str]) -> str:
    """{'A1': '<c r="A1"><v>1</v></c>', ...} grouped into <row> elements in order."""
    by_row: dict[int, list[str]] = {}
    for ref, xml in cells.items():
        by_row.setdefault(int(re.sub(r"^[A-Z]+", "", ref)), []).append(xml)
    return "".join(f'<row r="{r}">{"".join(xs)}</row>' for r, xs in sorted(by_row.items()))


# ---------------------------------------------------------------------------
# an ordinary workbook as Excel would write it (xlsxwriter), and variants of it


def real_xlsx(path: Path) -> Path:
    """A realistic return: Chinese shared strings, numbers, a date, a percent,
    a formula with a cached value, a merged title and a hidden sheet."""
    import datetime

    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("一、重点工作")
    title = book.add_format({"bold": True})
    date = book.add_format({"num_format": 'yyyy"年"m"月"d"日"'})
    pct = book.add_format({"num_format": "0.0%"})
    sheet.merge_range("A1:D1", "2021年重点工作进展情况", title)
    sheet.write_row("A2", ["序号", "任务", "本期完成", "完成率"])
    for i in range(3, 40):
        sheet.write_number(f"A{i}", i - 2)
        sheet.write_string(f"B{i}", f"任务{i - 2}：推进城市更新项目")
        sheet.write_number(f"C{i}", (i - 2) * 12.5)
        sheet.write_number(f"D{i}", (i - 2) / 40, pct)
    sheet.write_datetime("F2", datetime.datetime(2021, 5, 13), date)
    sheet.write_formula("C40", "=SUM(C3:C39)", None, 8787.5)
    hidden = book.add_worksheet("参数")
    hidden.write("A1", "隐藏")
    hidden.hide()
    book.close()
    return path


def to_strict(src: Path, dst: Path) -> Path:
    """Convert a transitional xlsx to Strict OOXML by rewriting the namespaces
    (the relationship types change with them, as Excel's "Strict Open XML" save does)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith((".xml", ".rels")):
                text = data.decode("utf-8")
                text = text.replace(MAIN, STRICT_MAIN).replace(REL, STRICT_REL)
                data = text.encode("utf-8")
            zout.writestr(info.filename, data)
    return dst


def truncated(src: Path, dst: Path, fraction: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


# ---------------------------------------------------------------------------
# not spreadsheets at all


def docx(path: Path) -> Path:
    return write_zip(path, {
        "[Content_Types].xml": CONTENT_TYPES.replace("spreadsheetml.sheet.main", "wordprocessingml.document.main"),
        "_rels/.rels": ROOT_RELS.replace("xl/workbook.xml", "word/document.xml"),
        "word/document.xml": DECL + '<w:document xmlns:w="http://schemas.openxmlformats.org/'
                                    'wordprocessingml/2006/main"><w:body><w:p/></w:body></w:document>',
    })


def pdf(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    return path


def png(path: Path) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x00\xff\x00\x00"  # one red pixel
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


# ---------------------------------------------------------------------------
# OLE2 compound files (CFB), written by hand: enough for a sniffer and for calamine


def cfb(streams: dict[str, bytes]) -> bytes:
    """A version-3 compound file (512-byte sectors) holding up to three streams.

    Layout: sector 0 = FAT, sector 1 = directory, then each stream padded to at
    least 4096 bytes so it lives in normal sectors (no mini stream)."""
    if len(streams) > 3:
        raise ValueError("at most three streams")
    end, free, fat_sect, nostream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    fat = [fat_sect, end]
    data_sectors = b""
    entries = []
    next_sector = 2
    for name, payload in streams.items():
        size = len(payload)
        padded = payload.ljust(max(4096, -(-size // 512) * 512), b"\x00")
        count = len(padded) // 512
        entries.append((name, next_sector, size))
        fat.extend(list(range(next_sector + 1, next_sector + count)) + [end])
        next_sector += count
        data_sectors += padded
    fat.extend([free] * (128 - len(fat)))
    if len(fat) > 128:
        raise ValueError("streams too large for one FAT sector")

    def entry(name: str, kind: int, right: int, child: int, start: int, size: int) -> bytes:
        encoded = (name + "\x00").encode("utf-16-le")
        return (encoded.ljust(64, b"\x00") + struct.pack("<HBB", len(encoded), kind, 1)
                + struct.pack("<III", nostream, right, child) + b"\x00" * 16 + b"\x00" * 4 + b"\x00" * 16
                + struct.pack("<IQ", start, size))

    directory = entry("Root Entry", 5, nostream, 1 if entries else nostream, end, 0)
    for i, (name, start, size) in enumerate(entries, start=1):
        directory += entry(name, 2, i + 1 if i < len(entries) else nostream, nostream, start, size)
    directory = directory.ljust(512, b"\x00")
    # unused directory slots: type 0 with NOSTREAM siblings
    for slot in range(len(entries) + 1, 4):
        at = slot * 128
        directory = directory[:at + 68] + struct.pack("<III", nostream, nostream, nostream) + directory[at + 80:]
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 0x28, 0, 1, 1, 0, 4096, end, 0, end, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([free] * 108))
    return bytes(header) + struct.pack("<128I", *fat) + directory + data_sectors


def encrypted_ooxml(path: Path) -> Path:
    """What Excel writes for a workbook with an open password: a CFB with
    EncryptionInfo and EncryptedPackage streams instead of a zip."""
    info = struct.pack("<HHI", 4, 4, 0x40) + b"<encryption/>"  # agile encryption header (content not needed)
    package = struct.pack("<Q", 10_000) + bytes(range(256)) * 16
    path.write_bytes(cfb({"EncryptionInfo": info, "EncryptedPackage": package}))
    return path


def word_doc(path: Path) -> Path:
    path.write_bytes(cfb({"WordDocument": b"\xec\xa5" + b"\x00" * 510}))
    return path


def garbage_xls(path: Path) -> Path:
    """An OLE file with a Workbook stream of noise: goes to calamine (in the child)."""
    noise = bytes((i * 7919 + 13) % 251 for i in range(8192))
    path.write_bytes(cfb({"Workbook": noise}))
    return path


# ---------------------------------------------------------------------------
# hostile zips


def zip_bomb_ratio(path: Path, megabytes: int = 50) -> Path:
    """A sheet of ``megabytes`` MB of zeros: deflates about 1000:1."""
    parts = xlsx_parts()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            if name != "xl/worksheets/sheet1.xml":
                zf.writestr(name, data)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            block = b"\x00" * MB_BYTES
            for _ in range(megabytes):
                fh.write(block)
    return path



def _patch_central(data: bytes, fn) -> bytes:
    """Apply fn(buffer, offset) to each central-directory record."""
    buf = bytearray(data)
    at = buf.find(b"PK\x01\x02")
    while at >= 0:
        fn(buf, at)
        at = buf.find(b"PK\x01\x02", at + 4)
    return bytes(buf)


def zip_bomb_declared(path: Path) -> Path:
    """A small xlsx whose sheet member *declares* 4 GB uncompressed (lying header)."""
    write_xlsx(path)
    data = path.read_bytes()

    def patch(buf: bytearray, at: int) -> None:
        name_len = struct.unpack_from("<H", buf, at + 28)[0]
        if bytes(buf[at + 46:at + 46 + name_len]).endswith(b"sheet1.xml"):
            struct.pack_into("<I", buf, at + 24, 0xFFFF_FF00)

    path.write_bytes(_patch_central(data, patch))
    return path


def zip_flagged_encrypted(path: Path) -> Path:
    """Zip-level (legacy ZipCrypto) password flag set on every member."""
    write_xlsx(path)

    def patch(buf: bytearray, at: int) -> None:
        flags = struct.unpack_from("<H", buf, at + 8)[0]
        struct.pack_into("<H", buf, at + 8, flags | 1)

    path.write_bytes(_patch_central(path.read_bytes(), patch))
    return path


def zip_unsupported_method(path: Path) -> Path:
    """Members marked as Deflate64 (method 9), which Python cannot inflate."""
    write_xlsx(path)

    def patch(buf: bytearray, at: int) -> None:
        struct.pack_into("<H", buf, at + 10, 9)

    path.write_bytes(_patch_central(path.read_bytes(), patch))
    return path


def many_members(path: Path, count: int = 6_000) -> Path:
    parts = xlsx_parts()
    for i in range(count):
        parts[f"xl/media/x{i}.bin"] = b""
    return write_zip(path, parts, zipfile.ZIP_STORED)


# ---------------------------------------------------------------------------
# hostile XML


def with_macros(src: Path, dst: Path) -> Path:
    """``src`` as a macro workbook: a vbaProject part and its content type added, nothing else changed."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Default Extension="bin" ContentType="application/'
                                    b'vnd.ms-office.vbaProject"/></Types>')
            zout.writestr(item, data)
        zout.writestr("xl/vbaProject.bin", b"Attribute VB_Name = \"AutoOpen\"" * 20)
    return dst


def billion_laughs(path: Path) -> Path:
    lol = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    shared = (DECL + '<!DOCTYPE lolz [<!ENTITY lol0 "lol">' + lol + "]>"
              + f'<sst xmlns="{MAIN}" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>')
    return write_xlsx(path, [("Sheet1", sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'))],
                      shared=shared)


def external_entity(path: Path) -> Path:
    sheet = (DECL + '<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
             f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t>'
             "</is></c></row></sheetData></worksheet>")
    return write_xlsx(path, [("Sheet1", sheet)])


def external_entity_in_rels(path: Path) -> Path:
    parts = xlsx_parts()
    parts["xl/_rels/workbook.xml.rels"] = (
        DECL + '<!DOCTYPE r [<!ENTITY xxe SYSTEM "http://127.0.0.1:12345/x.dtd">]>'
        + str(parts["xl/_rels/workbook.xml.rels"]).removeprefix(DECL))
    return write_zip(path, parts)


def encoded_part(path: Path, encoding: str, *, declared: str | None = None, bom: bool = False) -> Path:
    """A workbook whose sheet part is encoded in ``encoding`` and declares ``declared``."""
    declared = declared or encoding
    xml = sheet_xml('<row r="1"><c r="A1" t="inlineStr"><is><t>中文内容</t></is></c></row>').replace(
        'encoding="UTF-8"', f'encoding="{declared}"')
    codec = {"UTF-7": "utf-7", "EBCDIC": "cp500"}.get(encoding, encoding)
    if encoding == "EBCDIC":
        xml = xml.replace("中文内容", "text")
    data = xml.encode(codec)
    if bom and codec.startswith("utf-16"):
        data = b"\xfe\xff" + data if codec.endswith("be") else b"\xff\xfe" + data
    return write_xlsx(path, [("Sheet1", data)])  # type: ignore[list-item]


def dimension_bomb(path: Path) -> Path:
    """~1.5 KB: declares A1:A999999999 and writes row 999,999,999."""
    sheet = (DECL + f'<worksheet xmlns="{MAIN}"><dimension ref="A1:A999999999"/><sheetData>'
             '<row r="1"><c r="A1"><v>1</v></c></row><row r="999999999" ht="15"/></sheetData></worksheet>')
    return write_xlsx(path, [("Sheet1", sheet)])


def lying_dimension(path: Path) -> Path:
    """Declares a huge range but holds two cells: must read the two cells."""
    sheet = (DECL + f'<worksheet xmlns="{MAIN}"><dimension ref="A1:XFD1048576"/><sheetData>'
             '<row r="1"><c r="A1"><v>1</v></c><c r="B1"><v>2</v></c></row></sheetData></worksheet>')
    return write_xlsx(path, [("Sheet1", sheet)])


def flood(path: Path, element: str, count: int) -> Path:
    """``count`` copies of ``element`` inside sheetData (e.g. '<row r="2"/>' or a row of '<c r="A1"/>')."""
    body = element * count
    return write_xlsx(path, [("Sheet1", sheet_xml(body))])


def cell_flood(path: Path, count: int) -> Path:
    return write_xlsx(path, [("Sheet1", sheet_xml('<row r="1">' + '<c r="A1"/>' * count + "</row>"))])


def shared_strings_flood(path: Path, count: int) -> Path:
    shared = DECL + f'<sst xmlns="{MAIN}">' + "<si><t>x</t></si>" * count + "</sst>"
    return write_xlsx(path, [("Sheet1", sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c></row>'))],
                      shared=shared)


def deep_nesting(path: Path, depth: int = 100_000) -> Path:
    body = "<x>" * depth + "</x>" * depth
    return write_xlsx(path, [("Sheet1", sheet_xml('<row r="1"><c r="A1"><v>1</v></c></row>', after=body))])


def oversized(path: Path, size: int) -> Path:
    """A sparse file of ``size`` bytes starting like a zip."""
    with open(path, "wb") as fh:
        fh.write(b"PK\x03\x04")
        fh.truncate(size)
    return path


def zip_of(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()
