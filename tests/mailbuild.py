"""Mail built in code the way real mailers write it: raw RFC 5322 bytes and Outlook .msg files.

Each builder reproduces the header spellings of one mailer family, as seen in mail
received by Chinese government offices:

* Outlook (and Exchange): ``name="=?gb2312?B?...?="`` on Content-Type and the same encoded
  word, quoted, in ``filename=`` — against RFC 2047, but universal;
* Foxmail: ``=?GBK?B?...?=`` everywhere, ``application/octet-stream`` for every file;
* Thunderbird and modern webmail: RFC 2231 ``filename*=UTF-8''…`` with continuations;
* old gateways and some WPS mail: raw 8-bit GBK in the headers.

:func:`compound_file` writes an OLE compound file (MS-CFB, version 3: 512-byte sectors, a
mini stream for streams under 4096 bytes, balanced directory trees) so :func:`outlook_msg`
can produce a .msg (MS-OXMSG) that olefile reads exactly as it reads Outlook's.
"""

from __future__ import annotations

import base64
import io
import struct
import zipfile
from collections.abc import Sequence
from datetime import datetime, timezone
from email.utils import format_datetime

CRLF = b"\r\n"


def b64_word(text: str, charset: str = "gb2312") -> str:
    codec = "gb18030" if charset.lower() in ("gb2312", "gbk", "gb18030") else charset
    return f"=?{charset}?B?{base64.b64encode(text.encode(codec)).decode()}?="


def _folded_b64(data: bytes) -> bytes:
    text = base64.b64encode(data)
    return CRLF.join(text[i:i + 76] for i in range(0, len(text), 76))


def part(headers: Sequence[tuple[str, str | bytes]], body: bytes) -> bytes:
    lines = [k.encode() + b": " + (v if isinstance(v, bytes) else v.encode("ascii")) for k, v in headers]
    return CRLF.join(lines) + CRLF + CRLF + body


def multipart(headers: Sequence[tuple[str, str | bytes]], parts: Sequence[bytes], boundary: str = "----=_NextPart_000_0001",
              subtype: str = "mixed") -> bytes:
    body = b"This is a multi-part message in MIME format." + CRLF + CRLF
    for p in parts:
        body += b"--" + boundary.encode() + CRLF + p + CRLF
    body += b"--" + boundary.encode() + b"--" + CRLF
    return part([*headers, ("MIME-Version", "1.0"),
                 ("Content-Type", f'multipart/{subtype};\r\n\tboundary="{boundary}"')], body)


def text_part(text: str, charset: str = "gb2312") -> bytes:
    codec = "gb18030" if charset.lower() in ("gb2312", "gbk") else charset
    return part([("Content-Type", f"text/plain;\r\n\tcharset=\"{charset}\""), ("Content-Transfer-Encoding", "base64")],
                _folded_b64(text.encode(codec)))


def attachment_part(headers: Sequence[tuple[str, str | bytes]], data: bytes) -> bytes:
    return part([*headers, ("Content-Transfer-Encoding", "base64")], _folded_b64(data))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def outlook_mail(*, sender: str, sender_name: str, subject: str, attachments: Sequence[tuple[str, bytes]],
                 date: str = "Fri, 7 May 2021 10:32:15 +0800", body: str = "请查收。",
                 message_id: str = "<000001d74301$1a2b3c40$4e5f6a70$@example.gov.cn>") -> bytes:
    """Outlook 2016, Chinese locale: gb2312 labels, encoded words inside quoted parameters."""
    parts = [text_part(body)]
    for name, data in attachments:
        word = b64_word(name)
        parts.append(attachment_part([("Content-Type", f'{XLSX};\r\n\tname="{word}"'),
                                      ("Content-Disposition", f'attachment;\r\n\tfilename="{word}"')], data))
    return multipart([("From", f'"{b64_word(sender_name)}" <{sender}>'), ("To", "<ducha@example.gov.cn>"),
                      ("Subject", b64_word(subject)), ("Date", date), ("Message-ID", message_id),
                      ("X-Mailer", "Microsoft Outlook 16.0"), ("Thread-Index", "AddDARorPE5faKx1")], parts)


def foxmail_mail(*, sender: str, sender_name: str, subject: str, attachments: Sequence[tuple[str, bytes]],
                 date: str = "Fri, 7 May 2021 16:05:44 +0800", body: str = "报表已填好，请查收。",
                 message_id: str = "<202105071605442318720@example.gov.cn>") -> bytes:
    """Foxmail 7.2: GBK labels, every attachment application/octet-stream."""
    parts = [text_part(body, "GBK")]
    for name, data in attachments:
        word = b64_word(name, "GBK")
        parts.append(attachment_part([("Content-Type", f'application/octet-stream;\r\n\tname="{word}"'),
                                      ("Content-Disposition", f'attachment;\r\n\tfilename="{word}"')], data))
    return multipart([("Date", date), ("From", f'"{b64_word(sender_name, "GBK")}" <{sender}>'),
                      ("To", '"ducha" <ducha@example.gov.cn>'), ("Subject", b64_word(subject, "GBK")),
                      ("X-Priority", "3"), ("X-GUID", "6D5A9E3C-1B2F-4C7D-9E8A-2F4B6C8D0E1F"),
                      ("X-Mailer", "Foxmail 7.2.19.158[cn]"), ("Message-ID", message_id)], parts,
                     boundary="----=_001_NextPart572182624333_=----")


def rfc2231_mail(*, sender: str, subject: str, attachments: Sequence[tuple[str, bytes]],
                 date: str = "Fri, 07 May 2021 09:15:00 +0800", message_id: str = "<tb-1@example.gov.cn>",
                 charset: str = "UTF-8", split: bool = True) -> bytes:
    """Thunderbird: RFC 2231 percent-encoded names, split into continuations when long."""
    parts = [text_part("附件为本单位报表。", "UTF-8")]
    codec = "gb18030" if charset.lower() in ("gb2312", "gbk") else charset
    for name, data in attachments:
        quoted = "".join(f"%{b:02X}" for b in name.encode(codec))
        if split:
            cut = [quoted[i:i + 60] for i in range(0, len(quoted), 60)]
            params = ";\r\n ".join(f"filename*{i}*={charset}''{c}" if i == 0 else f"filename*{i}*={c}"
                                   for i, c in enumerate(cut))
        else:
            params = f"filename*={charset}''{quoted}"
        parts.append(attachment_part([("Content-Type", f"{XLSX}; name*={charset}''{quoted}"),
                                      ("Content-Disposition", f"attachment;\r\n {params}")], data))
    return multipart([("Date", date), ("From", f"Someone <{sender}>"), ("Subject", b64_word(subject, "UTF-8")),
                      ("Message-ID", message_id), ("User-Agent", "Mozilla Thunderbird")], parts,
                     boundary="------------A1B2C3D4E5F6")


def raw_gbk_mail(*, sender: str, sender_name: str, subject: str, attachments: Sequence[tuple[str, bytes]],
                 date: str | None = "Fri, 7 May 2021 11:00:00 +0800", message_id: str = "<raw-gbk-1@example.gov.cn>",
                 received: Sequence[str] = ()) -> bytes:
    """Raw 8-bit GBK in Subject, From and the attachment names (no encoded words at all)."""
    parts = [text_part("见附件", "gbk")]
    for name, data in attachments:
        raw_name = name.encode("gbk")
        parts.append(attachment_part([("Content-Type", b'application/vnd.ms-excel; name="' + raw_name + b'"'),
                                      ("Content-Disposition", b'attachment; filename="' + raw_name + b'"')], data))
    headers: list[tuple[str, str | bytes]] = [("Received", r) for r in received]
    if date is not None:
        headers.append(("Date", date))
    headers += [("From", sender_name.encode("gbk") + b" <" + sender.encode() + b">"),
                ("Subject", subject.encode("gbk")), ("Message-ID", message_id)]
    return multipart(headers, parts, boundary="=_gbk_boundary_")


class _GbkZipInfo(zipfile.ZipInfo):
    """A member named in GBK without the UTF-8 flag, as Chinese Windows writes it."""

    def _encodeFilenameFlags(self):  # noqa: N802 - zipfile's name
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def zip_bytes(members: Sequence[tuple[str, bytes]], gbk_names: bool = True) -> bytes:
    """A zip as Windows' "send to compressed folder" makes it: GBK names without the UTF-8 flag."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = (_GbkZipInfo if gbk_names else zipfile.ZipInfo)(name, date_time=(2021, 5, 7, 10, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------
# OLE compound files (MS-CFB version 3)

_FREE, _END, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
_SECTOR, _MINI, _CUTOFF = 512, 64, 4096

Tree = dict  # name -> bytes (a stream) or Tree (a storage)


def _order(name: str) -> tuple[int, str]:
    return len(name), name.upper()


def compound_file(tree: Tree) -> bytes:
    """The bytes of a compound file holding ``tree`` (storages as dicts, streams as bytes)."""
    entries: list[dict] = [{"name": "Root Entry", "type": 5, "children": [], "data": b""}]

    def add(node: Tree, parent: int) -> None:
        for name, value in node.items():
            index = len(entries)
            if isinstance(value, dict):
                entries.append({"name": name, "type": 1, "children": [], "data": b""})
                entries[parent]["children"].append(index)
                add(value, index)
            else:
                entries.append({"name": name, "type": 2, "children": [], "data": bytes(value)})
                entries[parent]["children"].append(index)

    add(tree, 0)
    for e in entries:
        e.update(left=_NOSTREAM, right=_NOSTREAM, child=_NOSTREAM, start=_END, size=0)

    def balance(indices: list[int]) -> int:
        if not indices:
            return _NOSTREAM
        mid = len(indices) // 2
        root = indices[mid]
        entries[root]["left"] = balance(indices[:mid])
        entries[root]["right"] = balance(indices[mid + 1:])
        return root

    for e in entries:
        e["child"] = balance(sorted(e["children"], key=lambda i: _order(entries[i]["name"])))

    sectors: list[bytes] = []
    fat: list[int] = []

    def chain(data: bytes, size: int = _SECTOR) -> int:
        if not data:
            return _END
        first = len(sectors)
        count = (len(data) + size - 1) // size
        for i in range(count):
            sectors.append(data[i * size:(i + 1) * size].ljust(size, b"\0"))
            fat.append(first + i + 1 if i < count - 1 else _END)
        return first

    mini_stream = b""
    mini_fat: list[int] = []
    for e in entries:
        data = e["data"]
        e["size"] = len(data)
        if e["type"] != 2 or not data:
            continue
        if len(data) >= _CUTOFF:
            e["start"] = chain(data)
        else:
            first = len(mini_stream) // _MINI
            count = (len(data) + _MINI - 1) // _MINI
            mini_stream += data.ljust(count * _MINI, b"\0")
            mini_fat += [first + i + 1 if i < count - 1 else _END for i in range(count)]
            e["start"] = first
    entries[0]["start"] = chain(mini_stream)
    entries[0]["size"] = len(mini_stream)
    mini_fat_bytes = struct.pack(f"<{len(mini_fat)}I", *mini_fat) if mini_fat else b""
    mini_fat_bytes = mini_fat_bytes.ljust(-(-len(mini_fat_bytes) // _SECTOR) * _SECTOR, b"\xff")
    first_mini_fat = chain(mini_fat_bytes)
    n_mini_fat = len(mini_fat_bytes) // _SECTOR

    directory = b""
    for e in entries:
        name = e["name"].encode("utf-16-le") + b"\0\0"
        directory += struct.pack("<64sHBBIII16sIQQIQ", name, len(name), e["type"], 1, e["left"], e["right"],
                                 e["child"], b"\0" * 16, 0, 0, 0, 0 if e["type"] == 1 else e["start"], e["size"])
    directory = directory.ljust(-(-len(directory) // _SECTOR) * _SECTOR, b"\0")
    first_dir = chain(directory)

    n_fat = 1
    while (len(sectors) + n_fat) > n_fat * (_SECTOR // 4):
        n_fat += 1
    assert n_fat <= 109, "test compound files stay under 7 MB"
    fat_start = len(sectors)
    fat += [_FATSECT] * n_fat
    fat += [_FREE] * (n_fat * (_SECTOR // 4) - len(fat))
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    for i in range(n_fat):
        sectors.append(fat_bytes[i * _SECTOR:(i + 1) * _SECTOR])

    difat = [fat_start + i for i in range(n_fat)] + [_FREE] * (109 - n_fat)
    header = struct.pack("<8s16sHHHHH6sIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\0" * 16, 0x3E, 3, 0xFFFE,
                         9, 6, b"\0" * 6, 0, n_fat, first_dir, 0, _CUTOFF,
                         first_mini_fat if n_mini_fat else _END, n_mini_fat, _END, 0)
    header += struct.pack("<109I", *difat)
    assert len(header) == _SECTOR
    return header + b"".join(sectors)


# ---------------------------------------------------------------------------------------
# Outlook .msg (MS-OXMSG)

_PT_LONG, _PT_SYSTIME, _PT_STRING8, _PT_UNICODE, _PT_BINARY, _PT_OBJECT = 0x3, 0x40, 0x1E, 0x1F, 0x102, 0xD


def _filetime(moment: datetime) -> int:
    epoch = datetime(1601, 1, 1, tzinfo=timezone.utc)
    return int((moment - epoch).total_seconds() * 10_000_000)


def _props(header: bytes, fixed: Sequence[tuple[int, int, bytes]], variable: dict[str, bytes]) -> dict:
    """A property storage: the __properties_version1.0 stream and one __substg1.0_ stream per value."""
    stream = header
    for prop, kind, value in fixed:
        stream += struct.pack("<II", (prop << 16) | kind, 6) + value.ljust(8, b"\0")
    for name, data in variable.items():
        tag = int(name[-8:], 16)
        if tag & 0xFFFF != _PT_OBJECT:
            stream += struct.pack("<IIII", tag, 6, len(data) + (2 if tag & 0xFFFF == _PT_UNICODE else 0), 0)
    out: dict = {"__properties_version1.0": stream}
    out.update({f"__substg1.0_{k[-8:]}": v for k, v in variable.items()})
    return out


def _text(prop: int, value: str, unicode: bool, codepage: str) -> tuple[str, bytes]:
    if unicode:
        return f"{prop:04X}{_PT_UNICODE:04X}", value.encode("utf-16-le")
    return f"{prop:04X}{_PT_STRING8:04X}", value.encode(codepage) + b"\0"


def _message_storage(*, subject: str, sender: str, sender_name: str, sent: datetime | None,
                     attachments: Sequence[tuple[str, bytes, str]], headers: str | None, message_id: str,
                     unicode: bool, codepage: int, exchange_dn: bool, embedded: Sequence[dict], top: bool) -> dict:
    enc = "gbk" if codepage == 936 else f"cp{codepage}"
    variable = dict([
        _text(0x0037, subject, unicode, enc),
        _text(0x0C1A, sender_name, unicode, enc),
        _text(0x0042, sender_name, unicode, enc),
        _text(0x1000, "请查收附件。", unicode, enc),
    ])
    if exchange_dn:
        variable.update([_text(0x0C1F, "/O=EXCHANGELABS/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=ZHANGSAN",
                               unicode, enc), _text(0x5D01, sender, unicode, enc)])
    else:
        variable.update([_text(0x0C1F, sender, unicode, enc), _text(0x0065, sender, unicode, enc)])
    if message_id:
        variable.update([_text(0x1035, message_id, unicode, enc)])
    if headers is not None:
        variable.update([_text(0x007D, headers, unicode, enc)])
    fixed = [(0x3FFD, _PT_LONG, struct.pack("<I", codepage)), (0x0E07, _PT_LONG, struct.pack("<I", 0x1))]
    if sent is not None:
        fixed += [(0x0039, _PT_SYSTIME, struct.pack("<Q", _filetime(sent))),
                  (0x0E06, _PT_SYSTIME, struct.pack("<Q", _filetime(sent) + 600_000_000))]
    total = len(attachments) + len(embedded)
    header = struct.pack("<8xIIII", 1, total, 1, total) + (b"\0" * 8 if top else b"")
    storage = _props(header, fixed, variable)
    storage["__recip_version1.0_#00000000"] = _props(b"\0" * 8, [(0x0C15, _PT_LONG, struct.pack("<I", 1))], dict([
        _text(0x3001, "督查室", unicode, enc), _text(0x39FE, "ducha@example.gov.cn", unicode, enc)]))
    index = 0
    for name, data, mime in attachments:
        storage[f"__attach_version1.0_#{index:08X}"] = _props(
            b"\0" * 8, [(0x3705, _PT_LONG, struct.pack("<I", 1)), (0x0E21, _PT_LONG, struct.pack("<I", index))],
            dict([_text(0x3707, name, unicode, enc), _text(0x3704, name[:8], unicode, enc),
                  _text(0x3001, name, unicode, enc), _text(0x370E, mime, unicode, enc),
                  (f"{0x3701:04X}{_PT_BINARY:04X}", data)]))
        index += 1
    for inner in embedded:
        folder = _props(b"\0" * 8, [(0x3705, _PT_LONG, struct.pack("<I", 5))],
                        dict([_text(0x3001, inner["subject"], unicode, enc)]))
        folder[f"__substg1.0_{0x3701:04X}{_PT_OBJECT:04X}"] = _message_storage(
            **{"headers": None, "message_id": "", "unicode": unicode, "codepage": codepage, "exchange_dn": False,
               "embedded": (), "sent": None, **inner}, top=False)
        storage[f"__attach_version1.0_#{index:08X}"] = folder
        index += 1
    if top:
        storage["__nameid_version1.0"] = {"__substg1.0_00020102": b"", "__substg1.0_00030102": b"",
                                          "__substg1.0_00040102": b""}
    return storage


def outlook_msg(*, subject: str, sender: str, sender_name: str, attachments: Sequence[tuple[str, bytes, str]],
                sent: datetime | None = None, headers: str | None = None, message_id: str = "",
                unicode: bool = True, codepage: int = 936, exchange_dn: bool = False,
                embedded: Sequence[dict] = ()) -> bytes:
    """An Outlook .msg. ``unicode=False`` writes the pre-2003 ANSI flavour (8-bit strings in
    ``codepage``); ``headers`` are the transport headers Outlook keeps for received mail;
    ``embedded`` are attached messages (dicts of subject/sender/sender_name/attachments)."""
    return compound_file(_message_storage(subject=subject, sender=sender, sender_name=sender_name, sent=sent,
                                          attachments=attachments, headers=headers, message_id=message_id,
                                          unicode=unicode, codepage=codepage, exchange_dn=exchange_dn,
                                          embedded=embedded, top=True))


def rfc822_date(moment: datetime) -> str:
    return format_datetime(moment)


# ---------------------------------------------------------------------------------------
# small office files for attachments

def tiny_xlsx(text: str = "本期完成") -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.add_worksheet("Sheet1").write_string(0, 0, text)
    wb.close()
    return buf.getvalue()


def tiny_xls() -> bytes:
    """A compound file with a Workbook stream: what Excel 97-2003 and WPS (.et) save."""
    return compound_file({"Workbook": b"\x09\x08\x10\x00\x00\x06\x05\x00" + b"\0" * 600,
                          "\x05SummaryInformation": b"\xfe\xff" + b"\0" * 100})


def tiny_docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("word/document.xml", '<?xml version="1.0"?><document/>')
    return buf.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
