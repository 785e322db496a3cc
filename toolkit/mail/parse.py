"""Reading mail: a raw message (RFC 5322 bytes, a saved .eml) or an Outlook .msg.

Departments mail their returns from Outlook, Foxmail, WPS mail and every webmail in use,
and each writes Chinese names its own way. What this module copes with, all measured
on mail seen in Chinese government offices:

* RFC 2047 encoded words (``=?GB2312?B?...?=``), also split mid-character across words
  and also, against the standard, inside quoted parameters (``name="=?gbk?B?...?="``);
* RFC 2231 parameters (``filename*=gbk''%D6%D0...`` and ``filename*0*=`` continuations);
* charset labels ``gb2312``/``gbk``/``cp936``/``x-gbk`` whose text holds characters only
  GB18030 knows (名字里的“䶮”“镕”), so every GB label is decoded as GB18030;
* raw 8-bit GBK (or UTF-8) bytes in headers, recovered rather than dropped or garbled;
* attachments with no name at all, named from their content type (or their content);
* forwarded mails (``message/rfc822``): their attachments are the outer mail's too;
* Outlook ``.msg`` files (OLE compound files), read with olefile.

Nothing here raises on odd mail; :func:`parse_mail_file` raises :class:`MailFileError`
only when a file is no mail at all (empty, a broken .msg, too large).
"""

from __future__ import annotations

import binascii
import codecs
import io
import os
import re
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email import policy as email_policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote_to_bytes

from ..errors import DuchaError, ReadError
from ..findings import Code
from ..reader import OLE_MAGIC, Limits, sniff

__all__ = [
    "CHINA",
    "MAX_MAIL_BYTES",
    "SPREADSHEET_SUFFIXES",
    "MailAttachment",
    "MailFileError",
    "ParsedMail",
    "decode_bytes",
    "decode_header_text",
    "is_spreadsheet",
    "parse_mail_file",
    "parse_message",
    "spreadsheet_kind",
]

#: China Standard Time: no daylight saving since 1991, so a fixed offset is exact.
CHINA = timezone(timedelta(hours=8), "CST")
#: A saved mail larger than this is refused (mailboxes commonly cap mail at 50 MB).
MAX_MAIL_BYTES = 100 * 1024 * 1024
#: Names that say "spreadsheet" (WPS saves .et; .xlsb read by calamine).
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et", ".ods", ".xlsb")


class MailFileError(DuchaError):
    """A file meant to be a saved mail (.eml/.msg) cannot be read as one."""


@dataclass(frozen=True)
class MailAttachment:
    name: str  # file name as the sender's mailer showed it (never empty, never a path)
    data: bytes
    content_type: str  # lower case, e.g. application/vnd.ms-excel

    def __repr__(self) -> str:  # the bytes would flood a test failure
        return f"MailAttachment(name={self.name!r}, content_type={self.content_type!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class ParsedMail:
    date: datetime | None  # timezone-aware; Date, else the newest Received; China time when no zone given
    sender: str  # address only, lower case ('' when none)
    sender_name: str
    subject: str
    message_id: str  # as written, with its angle brackets ('' when none)
    attachments: tuple[MailAttachment, ...]  # every attachment, those of attached mails included
    #: Mails attached to this one (forwarded as attachment), for their own sender and date;
    #: their attachments are already listed in ``attachments``.
    attached: tuple[ParsedMail, ...] = ()

    def origin_of(self, attachment: MailAttachment) -> ParsedMail:
        """The innermost mail that carried ``attachment`` (this one unless it was forwarded)."""
        for inner in self.attached:
            if any(a is attachment for a in inner.attachments):
                return inner.origin_of(attachment)
        return self


# ---------------------------------------------------------------------------------------
# text: charsets, encoded words, raw bytes

_GB_LABELS = frozenset({
    "gb2312", "gbk", "cp936", "ms936", "windows-936", "x-gbk", "gb-2312", "gb2312-80", "gb-2312-80",
    "csgb2312", "euc-cn", "x-euc-cn", "euccn", "chinese", "iso-ir-58", "gb18030", "x-gb18030", "936",
})


def _codec(label: str | None) -> str | None:
    """The Python codec for a charset label; every GB label becomes gb18030."""
    if not label:
        return None
    name = label.strip().strip('"').lower().replace("_", "-")
    if name in _GB_LABELS:
        return "gb18030"
    if name in ("unknown-8bit", "x-unknown", "us-ascii", "ascii", "8bit", "default"):
        return None  # the label says nothing: guess from the bytes
    try:
        found = codecs.lookup(name).name
    except LookupError:
        return None
    return "gb18030" if found in ("gb2312", "gbk") else found


def decode_bytes(data: bytes, label: str | None = None) -> str:
    """Text from bytes in a labelled (or unlabelled) charset, never an exception.

    The label is tried first (GB labels as GB18030); when it does not fit, UTF-8 and then
    GB18030 are tried, which is what Chinese mailers really send.
    """
    codec = _codec(label)
    tries = [c for c in (codec, "utf-8", "gb18030") if c]
    if not label and data.isascii():
        return data.decode("ascii")
    for name in dict.fromkeys(tries):
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode(codec or "gb18030", errors="replace")


def _raw(text: str) -> bytes:
    """The bytes behind a header string the parser decoded as ASCII with surrogateescape."""
    return text.encode("ascii", "surrogateescape") if not text.isascii() else text.encode("ascii")


def _unraw(text: str) -> str:
    """Recover raw 8-bit header bytes (GBK or UTF-8) the parser kept as surrogates."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # real non-ASCII mixed with escapes: decode the escapes piecewise
        return re.sub(r"[\udc80-\udcff]+", lambda m: decode_bytes(m.group(0).encode("utf-8", "surrogateescape")), text)
    return decode_bytes(data)


_ENCODED_WORD = re.compile(r"=\?([^?\s]+?)\?([bBqQ])\?([^?\s]*?)\?=")
_BETWEEN_WORDS = re.compile(r"[ \t\r\n]*")


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    try:
        if encoding in "bB":
            payload = payload.strip()
            return binascii.a2b_base64(payload + "=" * (-len(payload) % 4))
        return binascii.a2b_qp(payload.replace("_", " ").encode("ascii", "surrogateescape"), header=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def decode_header_text(value: str | None) -> str:
    """A header's text: encoded words decoded (adjacent words of one charset joined first,
    since mailers split GBK and UTF-8 characters across words), raw 8-bit bytes recovered,
    folding removed."""
    if not value:
        return ""
    value = _unraw(str(value))
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []  # adjacent encoded words not yet decoded

    def flush() -> None:
        if not pending:
            return
        label, data = pending[0][0], b""
        for word_label, chunk in pending:
            if _codec(word_label) != _codec(label):
                out.append(decode_bytes(data, label))
                label, data = word_label, b""
            data += chunk
        out.append(decode_bytes(data, label))
        pending.clear()

    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos:match.start()]
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            continue  # a broken word stays as written
        if pending and _BETWEEN_WORDS.fullmatch(gap):
            pass  # whitespace between encoded words is not text
        else:
            flush()
            out.append(gap)
        label = match.group(1).split("*", 1)[0]  # RFC 2231 language suffix: =?gbk*zh?B?...?=
        pending.append((label, data))
        pos = match.end()
    flush()
    out.append(value[pos:])
    text = "".join(out)
    text = re.sub(r"\r?\n[ \t]", " ", text).replace("\r", "").replace("\n", " ")
    return text.strip()


# ---------------------------------------------------------------------------------------
# parameters: name= and filename=, in every spelling

_PARAM = re.compile(r"""\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)\s*(?:;|$)""", re.DOTALL)


def _params(header: str) -> dict[str, str]:
    """Parameters of a Content-Type/Content-Disposition header, names lower case, values raw."""
    out: dict[str, str] = {}
    _, _, rest = header.partition(";")
    for match in _PARAM.finditer(rest):
        key, value = match.group(1).lower(), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.setdefault(key, value)
    return out


def _rfc2231(params: dict[str, str], key: str) -> str | None:
    """``key*=charset'lang'%XX..`` or its continuations ``key*0*=``, ``key*1=``… decoded."""
    if f"{key}*" in params:
        parts = [(0, True, params[f"{key}*"])]
    else:
        parts = []
        for name, value in params.items():
            m = re.fullmatch(re.escape(key) + r"\*(\d+)(\*?)", name)
            if m:
                parts.append((int(m.group(1)), bool(m.group(2)), value))
        if not parts:
            return None
        parts.sort()
    charset = ""
    data = b""
    for index, extended, value in parts:
        if extended and index == 0 and value.count("'") >= 2:
            charset, _lang, value = value.split("'", 2)
        data += unquote_to_bytes(_raw(value)) if extended else _raw(value)
    return decode_bytes(data, charset or None)


def _param_text(params: dict[str, str], key: str) -> str:
    value = _rfc2231(params, key)
    if value is None:
        value = decode_header_text(params.get(key, ""))
    return value.strip()


def _get_all(msg: Message, name: str) -> list[str]:
    """A header's values exactly as written (compat32 would wrap raw 8-bit text in a lossy Header)."""
    name = name.lower()
    return [str(v) for k, v in msg.raw_items() if k.lower() == name]


def _get(msg: Message, name: str) -> str | None:
    values = _get_all(msg, name)
    return values[0] if values else None


def _header_params(part: Message, header: str) -> dict[str, str]:
    raw = _get(part, header)
    if raw is None:
        return {}
    return _params(raw.replace("\r\n", "").replace("\n", ""))


def _basename(name: str) -> str:
    """A file name only: mailers have sent full Windows paths (``C:\\Users\\…\\a.xlsx``)."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().strip('"').strip()
    name = re.split(r"[\\/]", name)[-1].strip()
    return "" if name in (".", "..") else name


# ---------------------------------------------------------------------------------------
# names from content types and content

_SUFFIX_BY_TYPE = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.12": ".xlsm",
    "application/vnd.ms-excel.sheet.binary.macroenabled.12": ".xlsb",
    "application/vnd.ms-excel": ".xls",
    "application/x-xls": ".xls",
    "application/excel": ".xls",
    "application/kset": ".et",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/zip": ".zip",
    "application/x-zip-compressed": ".zip",
    "application/x-rar-compressed": ".rar",
    "application/vnd.rar": ".rar",
    "application/x-7z-compressed": ".7z",
    "application/pdf": ".pdf",
    "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/kswps": ".wps",
    "application/ofd": ".ofd",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/csv": ".csv",
    "message/rfc822": ".eml",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
}
_SUFFIX_BY_KIND = {"xlsx": ".xlsx", "xls": ".xls", "ods": ".ods", "xlsb": ".xlsb", "zip": ".zip"}


def _name_for(content_type: str, data: bytes, index: int) -> str:
    suffix = _SUFFIX_BY_TYPE.get(content_type, "")
    if not suffix or content_type in ("application/zip", "application/x-zip-compressed"):
        kind = spreadsheet_kind(MailAttachment("", data, content_type))
        suffix = _SUFFIX_BY_KIND.get(kind or "", suffix)
    if not suffix and data.startswith(b"%PDF"):
        suffix = ".pdf"
    return f"附件{index}{suffix or '.bin'}"


# ---------------------------------------------------------------------------------------
# spreadsheets among the attachments

def spreadsheet_kind(attachment: MailAttachment, limits: Limits = Limits()) -> str | None:
    """'xlsx', 'xls', 'ods', 'xlsb' when the content is a workbook; 'zip' for a plain zip
    archive holding spreadsheets; otherwise None. Decided by content, never by name."""
    data = attachment.data
    if not data or len(data) > limits.max_file_bytes:
        return None
    if not data.startswith((b"PK", OLE_MAGIC)):
        return None  # neither a zip package nor a compound file: no workbook
    fd, tmp = tempfile.mkstemp(prefix="ducha-mail-", suffix=".bin")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            return sniff(Path(tmp), limits)
        except ReadError as exc:
            if exc.code is Code.F103:
                return "encrypted"
            if data.startswith(b"PK") and _zip_has_spreadsheets(data):
                return "zip"
            return None
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _zip_has_spreadsheets(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [i.filename for i in zf.infolist()[:1000] if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return False
    return any(n.lower().endswith(SPREADSHEET_SUFFIXES) and "__macosx" not in n.lower() for n in names)


def is_spreadsheet(attachment: MailAttachment, limits: Limits = Limits()) -> bool:
    """True for an attachment that is (meant to be) a return.

    A workbook by content (any name), an encrypted workbook, a zip archive holding
    spreadsheets, or a file whose name says spreadsheet (the merge then tells the
    department what is wrong with it, e.g. a web page saved as .xls).
    """
    if spreadsheet_kind(attachment, limits) is not None:
        return True
    return attachment.name.lower().endswith(SPREADSHEET_SUFFIXES) and bool(attachment.data)


# ---------------------------------------------------------------------------------------
# RFC 5322 messages

_PARSER = BytesParser(policy=email_policy.compat32)


def parse_message(raw: bytes) -> ParsedMail:
    """Read one raw message (the bytes of a .eml or of an IMAP ``BODY[]``)."""
    msg = _PARSER.parsebytes(raw)
    return _from_message(msg)


def _from_message(msg: Message) -> ParsedMail:
    sender_name, sender = _address(_get_all(msg, "From") or _get_all(msg, "Sender"))
    attachments: list[MailAttachment] = []
    attached: list[ParsedMail] = []
    for part in _leaves(msg):
        if part.get_content_type() == "message/rfc822" or isinstance(part.get_payload(), list):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                parsed = _from_message(inner)
                attached.append(parsed)
                attachments.extend(parsed.attachments)
            continue
        item = _attachment(part, len(attachments) + 1)
        if item is not None:
            attachments.append(item)
    return ParsedMail(
        date=_date(_get(msg, "Date"), _get_all(msg, "Received")),
        sender=sender,
        sender_name=sender_name,
        subject=decode_header_text(_get(msg, "Subject")),
        message_id=_message_id(_get(msg, "Message-ID")),
        attachments=tuple(attachments),
        attached=tuple(attached),
    )


def _leaves(msg: Message) -> Iterator[Message]:
    """Leaf parts in order; an attached message is yielded itself, not walked into."""
    if msg.is_multipart():
        for sub in msg.get_payload():
            if isinstance(sub, Message):
                if sub.get_content_type() == "message/rfc822":
                    yield sub
                else:
                    yield from _leaves(sub)
        return
    yield msg


def _attachment(part: Message, index: int) -> MailAttachment | None:
    ctype = part.get_content_type()
    disposition = (_get(part, "Content-Disposition") or "").split(";", 1)[0].strip().lower()
    name = _basename(_param_text(_header_params(part, "Content-Disposition"), "filename")
                     or _param_text(_header_params(part, "Content-Type"), "name"))
    if not name and ctype.startswith(("text/plain", "text/html", "multipart/")) and disposition != "attachment":
        return None  # the body of the mail
    if ctype == "application/ms-tnef" and not name:
        name = "winmail.dat"
    data = _payload(part)
    if data is None or (not data and not name):
        return None
    return MailAttachment(name=name or _name_for(ctype, data, index), data=data, content_type=ctype)


def _payload(part: Message) -> bytes | None:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, binascii.Error):
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return None


def _address(values: list[str]) -> tuple[str, str]:
    """(display name, address lower case) of the first address in the header(s)."""
    if not values:
        return "", ""
    raw = _unraw(values[0])
    # decode the display name only after splitting, so a decoded comma cannot split it
    pairs = getaddresses([raw])
    for name, address in pairs:
        if "@" in address or address:
            return decode_header_text(name).strip().strip('"'), address.strip().lower()
    match = re.search(r"[\w.+-]+@[\w.-]+", raw)
    return "", match.group(0).lower() if match else ""


def _message_id(value: str | None) -> str:
    if value is None:
        return ""
    text = _unraw(value).strip()
    match = re.search(r"<[^<>\s]+>", text)
    return match.group(0) if match else text.split()[0] if text.split() else ""


def _parse_date(text: str) -> datetime | None:
    text = re.sub(r"\s+", " ", _unraw(text)).strip()
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:  # "-0000" or no zone at all: the mail was written in China
        moment = moment.replace(tzinfo=CHINA)
    return moment


def _date(date_header: str | None, received: list[str]) -> datetime | None:
    if date_header is not None:
        found = _parse_date(date_header)
        if found is not None:
            return found
    for text in received:  # the newest Received comes first
        if ";" in text:
            found = _parse_date(text.rsplit(";", 1)[1])
            if found is not None:
                return found
    return None


# ---------------------------------------------------------------------------------------
# Outlook .msg (an OLE compound file of MAPI properties)

# MAPI property ids (MS-OXPROPS)
_SUBJECT = 0x0037
_SENT_REPRESENTING_NAME = 0x0042
_SENT_REPRESENTING_EMAIL = 0x0065
_TRANSPORT_HEADERS = 0x007D
_SENDER_NAME = 0x0C1A
_SENDER_EMAIL = 0x0C1F
_INTERNET_MESSAGE_ID = 0x1035
_SENDER_SMTP = 0x5D01
_SENT_REPRESENTING_SMTP = 0x5D02
_CLIENT_SUBMIT_TIME = 0x0039
_DELIVERY_TIME = 0x0E06
_MESSAGE_CODEPAGE = 0x3FFD
_INTERNET_CPID = 0x3FDE
_ATTACH_DATA = 0x3701
_ATTACH_FILENAME = 0x3704
_ATTACH_METHOD = 0x3705
_ATTACH_LONG_FILENAME = 0x3707
_ATTACH_MIME_TAG = 0x370E
_DISPLAY_NAME = 0x3001
_EMBEDDED_MESSAGE = 5

_PT_LONG = 0x0003
_PT_SYSTIME = 0x0040
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)


def parse_mail_file(path: Path) -> ParsedMail:
    """Read a saved mail: an .eml (Foxmail, Thunderbird, webmail) or an Outlook .msg,
    told apart by content. Raises :class:`MailFileError` (Chinese) when it is neither."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_MAIL_BYTES:
            raise MailFileError(f"邮件文件 {path.name} 有 {size // (1024 * 1024)} MB，超过上限，请从邮箱中直接保存其中的附件。")
        data = path.read_bytes()
    except OSError as exc:
        raise MailFileError(f"无法读取邮件文件 {path.name}（{exc.strerror or exc}）。") from exc
    if not data.strip():
        raise MailFileError(f"邮件文件 {path.name} 是空的，请重新从邮箱中保存。")
    if data.startswith(OLE_MAGIC):
        return _parse_msg(data, path.name)
    head = data[:4096]
    if b"\x00" in head or not re.search(rb"^[!-9;-~]+:", head, re.MULTILINE):
        raise MailFileError(f"{path.name} 不是邮件文件（.eml 或 Outlook 的 .msg），请从邮箱中重新保存邮件或直接保存附件。")
    return parse_message(data)


def _parse_msg(data: bytes, label: str) -> ParsedMail:
    import olefile  # a small, pure-Python reader of compound files; only needed for .msg

    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except (OSError, ValueError, struct.error, IndexError, KeyError, RecursionError) as exc:
        raise MailFileError(f"Outlook 邮件 {label} 已损坏，无法打开。请在 Outlook 中重新“另存为”后再放入收件箱。") from exc
    try:
        return _MsgReader(ole, label).message([])
    except (OSError, ValueError, struct.error, IndexError, KeyError, RecursionError) as exc:
        raise MailFileError(f"Outlook 邮件 {label} 已损坏，无法读取其内容。请在 Outlook 中重新“另存为”后再放入收件箱。") from exc
    finally:
        ole.close()


class _MsgReader:
    """MAPI properties of an Outlook message (MS-OXMSG) and of the messages attached to it."""

    def __init__(self, ole, label: str):
        self.ole = ole
        self.label = label
        self.streams = {"/".join(p).lower(): p for p in ole.listdir(streams=True, storages=False)}
        self.storages = {"/".join(p).lower(): p for p in ole.listdir(streams=False, storages=True)}

    def _stream(self, path: list[str], name: str) -> bytes | None:
        key = "/".join([*path, name]).lower()
        real = self.streams.get(key)
        if real is None:
            return None
        with self.ole.openstream(real) as fh:
            return fh.read()

    def _fixed(self, path: list[str], header: int) -> dict[int, tuple[int, bytes]]:
        """Fixed-size properties: {property id: (type, 8 value bytes)}."""
        data = self._stream(path, "__properties_version1.0") or b""
        out: dict[int, tuple[int, bytes]] = {}
        for at in range(header, len(data) - 15, 16):
            tag = struct.unpack_from("<I", data, at)[0]
            out[tag >> 16] = (tag & 0xFFFF, data[at + 8:at + 16])
        return out

    def _string(self, path: list[str], prop: int, codec: str | None) -> str:
        unicode = self._stream(path, f"__substg1.0_{prop:04X}001F")
        if unicode is not None:
            return unicode.decode("utf-16-le", "replace").split("\x00", 1)[0]
        eight = self._stream(path, f"__substg1.0_{prop:04X}001E")
        if eight is not None:
            return decode_bytes(eight.split(b"\x00", 1)[0], codec)
        return ""

    def _codec(self, fixed: dict[int, tuple[int, bytes]]) -> str | None:
        for prop in (_MESSAGE_CODEPAGE, _INTERNET_CPID):
            kind, value = fixed.get(prop, (0, b""))
            if kind == _PT_LONG and value:
                page = struct.unpack_from("<I", value)[0]
                if page in (936, 20936, 54936):
                    return "gb18030"
                if page == 65001:
                    return "utf-8"
                return _codec(f"cp{page}")
        return None

    @staticmethod
    def _time(fixed: dict[int, tuple[int, bytes]], prop: int) -> datetime | None:
        kind, value = fixed.get(prop, (0, b""))
        if kind != _PT_SYSTIME or not value:
            return None
        ticks = struct.unpack_from("<Q", value)[0]
        if not ticks:
            return None
        try:
            return (_FILETIME_EPOCH + timedelta(microseconds=ticks // 10)).astimezone(CHINA)
        except OverflowError:
            return None

    def message(self, path: list[str], depth: int = 0) -> ParsedMail:
        fixed = self._fixed(path, 32 if not path else 24)
        codec = self._codec(fixed)
        headers = _PARSER.parsebytes(self._string(path, _TRANSPORT_HEADERS, codec).encode("utf-8") + b"\r\n\r\n",
                                     headersonly=True)
        name, address = _address(_get_all(headers, "From"))
        if not address:
            name = self._string(path, _SENDER_NAME, codec) or self._string(path, _SENT_REPRESENTING_NAME, codec)
            for prop in (_SENDER_SMTP, _SENT_REPRESENTING_SMTP, _SENDER_EMAIL, _SENT_REPRESENTING_EMAIL):
                value = self._string(path, prop, codec).strip()
                if "@" in value:  # an Exchange DN (/O=…/CN=…) is no address
                    address = value.lower()
                    break
        date = _date(_get(headers, "Date"), _get_all(headers, "Received"))
        if date is None:
            date = self._time(fixed, _CLIENT_SUBMIT_TIME) or self._time(fixed, _DELIVERY_TIME)
        attachments: list[MailAttachment] = []
        attached: list[ParsedMail] = []
        for folder in self._attachment_folders(path):
            inner = self._attachment(folder, codec, len(attachments) + 1, depth)
            if isinstance(inner, ParsedMail):
                attached.append(inner)
                attachments.extend(inner.attachments)
            elif inner is not None:
                attachments.append(inner)
        return ParsedMail(
            date=date,
            sender=address,
            sender_name=name,
            subject=self._string(path, _SUBJECT, codec),
            message_id=self._string(path, _INTERNET_MESSAGE_ID, codec).strip() or _message_id(_get(headers, "Message-ID")),
            attachments=tuple(attachments),
            attached=tuple(attached),
        )

    def _attachment_folders(self, path: list[str]) -> list[list[str]]:
        prefix = "/".join(path).lower()
        found = []
        for key, real in self.storages.items():
            parent, _, leaf = key.rpartition("/")
            if parent == prefix and leaf.startswith("__attach_version1.0_#"):
                found.append(real)
        return sorted(found, key=lambda p: p[-1].lower())

    def _attachment(self, path: list[str], codec: str | None, index: int, depth: int
                    ) -> MailAttachment | ParsedMail | None:
        fixed = self._fixed(path, 8)
        method = fixed.get(_ATTACH_METHOD, (0, b"\0" * 8))[1]
        inner = [*path, f"__substg1.0_{_ATTACH_DATA:04X}000D"]
        if struct.unpack_from("<I", method)[0] == _EMBEDDED_MESSAGE or "/".join(inner).lower() in self.storages:
            if depth >= 8:
                return None
            real = self.storages.get("/".join(inner).lower())
            return self.message(list(real), depth + 1) if real else None
        data = self._stream(path, f"__substg1.0_{_ATTACH_DATA:04X}0102")
        if data is None:
            return None
        ctype = self._string(path, _ATTACH_MIME_TAG, codec).strip().lower() or "application/octet-stream"
        name = _basename(self._string(path, _ATTACH_LONG_FILENAME, codec)
                         or self._string(path, _ATTACH_FILENAME, codec)
                         or self._string(path, _DISPLAY_NAME, codec))
        return MailAttachment(name=name or _name_for(ctype, data, index), data=data, content_type=ctype)
