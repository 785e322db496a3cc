"""Collecting returns from the office's mailbox over IMAP (``ducha mail fetch``).

One pass, safe to interrupt and to repeat:

1. log in, send ID (163/Coremail refuse SELECT without it), SELECT the folder and read
   its UIDVALIDITY; when it differs from the one on record the server has renumbered
   the folder, so the whole window is scanned again — taking a return is idempotent by
   content, so nothing is doubled;
2. SEARCH only by date (``SINCE``, ASCII: many servers refuse Chinese SEARCH) and keep,
   on the client, the UIDs above the progress mark; BODYSTRUCTURE tells which messages
   carry no attachment at all, and those are never downloaded;
3. for each message in UID order: download it with ``BODY.PEEK[]`` (nothing is marked
   read by looking), parse it, and hand every spreadsheet attachment (also those inside
   a .zip) to the round's record (:func:`toolkit.receipts.receive_bytes`, durable on
   return), dated by INTERNALDATE and attributed to its sender;
4. only then record the message and move the progress mark, in one SQLite transaction,
   and flag the message \\Seen. Messages without spreadsheets are recorded but left
   alone on the server (still unread).

A return's round and unit are read from its content (the template's hidden sheet), so a
late return for last month lands in last month's round; ``-r`` is the round for files
whose content does not say. A sender who is not the unit's address in 单位 is a 提示.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .. import __version__
from ..model import ArrivalBasis, Registry, Source
from ..reader import Limits, is_skippable
from ..workspace import Workspace
from .compose import unit_addresses
from .parse import (
    CHINA,
    SPREADSHEET_SUFFIXES,
    MailAttachment,
    ParsedMail,
    is_spreadsheet,
    parse_message,
    spreadsheet_kind,
)
from .record import MailRecord
from .settings import MailError, MailSettings, Security, describe_failure, load_mail_settings, server_text

__all__ = ["FetchReport", "TakenFile", "fetch_returns"]

Log = Callable[[str], None]
#: Messages larger than this are not downloaded (a 提示 names them).
MAX_MESSAGE_BYTES = 60 * 1024 * 1024
#: A zip attachment yields at most this many spreadsheets.
MAX_ZIP_MEMBERS = 100
#: How far before the round's 统计截止日期 the mailbox is searched.
WINDOW_DAYS = 7
_CHUNK = 100


@dataclass(frozen=True)
class TakenFile:
    name: str
    sha256: str
    round: str
    unit: str  # 单位名称 read from the content, '' when unknown
    sender: str
    subject: str
    arrived: datetime | None


@dataclass
class FetchReport:
    mailbox: str = ""
    looked_at: int = 0  # new messages examined
    taken: list[TakenFile] = field(default_factory=list)
    without_spreadsheet: int = 0
    notices: list[str] = field(default_factory=list)  # 提示 for the clerk
    rescanned: bool = False  # UIDVALIDITY changed: the window was scanned again
    fatal: str = ""


def fetch_returns(ws: Workspace, round_name: str | None = None, *, now: datetime | None = None,
                  log: Log = lambda _m: None) -> FetchReport:
    """Take every new spreadsheet attachment from the mailbox into the round's record."""
    registry = ws.registry()
    now = now or datetime.now(CHINA).replace(tzinfo=None)
    rnd = ws.pick_round(registry, round_name, now.date())
    settings = load_mail_settings(ws.config())
    settings.need_imap()
    password = settings.password()
    host, port = settings.imap_address
    report = FetchReport(mailbox=f"{settings.login}@{host}/{settings.imap_folder}")
    try:
        client = _connect(settings, password)
    except Exception as exc:  # noqa: BLE001 - every way a connection fails becomes one line
        report.fatal = describe_failure(exc, settings, imap=True)
        return report
    try:
        with MailRecord(ws.root) as record:
            _fetch(client, ws, registry, rnd.name, rnd.cutoff - timedelta(days=WINDOW_DAYS), settings, record,
                   report, log)
    except MailError as exc:
        report.fatal = str(exc)
    except Exception as exc:  # noqa: BLE001 - a dropped connection mid-way: progress so far is kept
        if _is_server_failure(exc):
            report.fatal = describe_failure(exc, settings, imap=True)
        else:
            raise
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - already gone
            pass
    return report


def _is_server_failure(exc: BaseException) -> bool:
    import imaplib
    import ssl

    return isinstance(exc, (imaplib.IMAP4.error, OSError, ssl.SSLError, EOFError))


def _connect(settings: MailSettings, password: str) -> Any:
    from imapclient import IMAPClient

    host, port = settings.imap_address
    context = settings.tls_context()
    client = IMAPClient(host, port=port, ssl=settings.imap_security is Security.SSL, ssl_context=context,
                        timeout=settings.timeout)
    try:
        if settings.imap_security is Security.STARTTLS:
            client.starttls(context)
        client.login(settings.login, password)
        # 163/126/Coremail answer SELECT with "Unsafe Login" until the client says who it is (RFC 2971)
        try:
            client.id_({"name": "ducha", "version": __version__, "vendor": "ducha", "support-email": settings.sender})
        except Exception:  # noqa: BLE001 - servers without ID need nothing
            pass
        client.normalise_times = False  # INTERNALDATE with its zone
    except BaseException:
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass
        raise
    return client


def _select(client: Any, settings: MailSettings) -> int:
    try:
        info = client.select_folder(settings.imap_folder)
    except Exception as exc:  # noqa: BLE001 - imapclient raises its own error types
        if not _is_server_failure(exc) or isinstance(exc, OSError):
            raise
        raise MailError(f"收件服务器无法打开邮箱文件夹“{settings.imap_folder}”（{server_text(exc)}）。"
                        "请检查 ducha.toml [mail] imap_folder（一般为 INBOX）。") from exc
    return int(info.get(b"UIDVALIDITY", 0))


def _fetch(client: Any, ws: Workspace, registry: Registry, default_round: str, since, settings: MailSettings,
           record: MailRecord, report: FetchReport, log: Log) -> None:
    uidvalidity = _select(client, settings)
    key = report.mailbox
    state = record.mailbox(key)
    if state is None or state[0] != uidvalidity:
        if state is not None:
            report.rescanned = True
            log(f"  邮箱文件夹已被服务器重新编号（UIDVALIDITY {state[0]} → {uidvalidity}），重新检查近期邮件，已收过的不会重复收取。")
        record.reset_mailbox(key, uidvalidity)
        last_uid = 0
    else:
        last_uid = state[1]
    uids = sorted(u for u in client.search(["SINCE", since]) if u > last_uid)
    for start in range(0, len(uids), _CHUNK):
        chunk = uids[start:start + _CHUNK]
        meta = client.fetch(chunk, ["INTERNALDATE", "RFC822.SIZE", "BODYSTRUCTURE"])
        for uid in chunk:
            if uid not in meta or record.handled(key, uidvalidity, uid):
                continue
            report.looked_at += 1
            _one(client, ws, registry, default_round, settings, record, report, log, key, uidvalidity, uid, meta[uid])


def _china(moment: datetime | None) -> datetime | None:
    """INTERNALDATE as an aware China time (a server that gives no zone is taken to be in China)."""
    if moment is None:
        return None
    return moment.astimezone(CHINA) if moment.tzinfo is not None else moment.replace(tzinfo=CHINA)


def _one(client: Any, ws: Workspace, registry: Registry, default_round: str, settings: MailSettings,
         record: MailRecord, report: FetchReport, log: Log, key: str, uidvalidity: int, uid: int,
         meta: dict) -> None:
    arrived = _china(meta.get(b"INTERNALDATE"))
    size = int(meta.get(b"RFC822.SIZE") or 0)

    def done(mail: ParsedMail | None, files: list[dict[str, Any]], outcome: str, note: str = "") -> None:
        record.done(key, uidvalidity, uid, message_id=mail.message_id if mail else "",
                    sender=mail.sender if mail else "", subject=mail.subject if mail else "",
                    arrived=arrived, files=files, outcome=outcome, note=note)

    if not _may_carry_files(meta.get(b"BODYSTRUCTURE")):
        report.without_spreadsheet += 1
        done(None, [], "无表格")
        return
    if size > MAX_MESSAGE_BYTES:
        note = f"邮件（UID {uid}，{size // (1024 * 1024)} MB）过大，未收取：请在邮箱中直接保存其中的附件放入收件箱。"
        report.notices.append(note)
        done(None, [], "过大", note)
        return
    raw = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    mail = parse_message(raw)
    if mail.sender and mail.sender in {settings.sender.lower(), settings.login.lower()}:
        done(mail, [], "本人发出")
        return
    sheets = [a for a in mail.attachments if is_spreadsheet(a)]
    if not sheets:
        report.without_spreadsheet += 1
        done(mail, [], "无表格")
        return
    from ..receipts import receive_bytes

    files: list[dict[str, Any]] = []
    notes: list[str] = []
    origin_id = mail.message_id or f"imap:{uidvalidity}:{uid}"
    for att in sheets:
        origin = mail.origin_of(att)
        for name, data in _spreadsheets(att):
            round_name, unit_code, unit_name = _identify(data, name, registry)
            target_round = round_name or default_round
            receipt = receive_bytes(ws, target_round, data, name, source=Source.MAILBOX, sender=origin.sender,
                                    arrived=arrived, basis=ArrivalBasis.MAIL, origin=origin_id)
            sha = getattr(receipt, "sha256", "") or _sha256(data)
            files.append({"name": name, "sha256": sha, "round": target_round, "unit": unit_name})
            report.taken.append(TakenFile(name=name, sha256=sha, round=target_round, unit=unit_name,
                                          sender=origin.sender, subject=mail.subject, arrived=arrived))
            unit = registry.unit_by_code(unit_code) if unit_code else registry.units.get(unit_name)
            if unit is not None and origin.sender and unit.email:
                if origin.sender not in {a.lower() for a in unit_addresses(unit.email)}:
                    note = (f"提示：“{name}”是{unit.name}的报表，但发件人 {origin.sender} 不是该单位在任务台账“单位”"
                            f"工作表中登记的邮箱（{unit.email}）。请确认确为该单位报送；如该单位换了邮箱，请更新台账。")
                    notes.append(note)
                    report.notices.append(note)
            log(f"  收取：{name}（{origin.sender or '发件人不明'}，{arrived:%Y-%m-%d %H:%M}）" if arrived else
                f"  收取：{name}（{origin.sender or '发件人不明'}）")
    done(mail, files, "已收取", "\n".join(notes))
    try:
        client.add_flags([uid], [b"\\Seen"], silent=True)
    except Exception:  # noqa: BLE001 - a read-only folder: the record already has it
        pass


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _may_carry_files(structure: Any) -> bool:
    """False only when BODYSTRUCTURE shows nothing but text parts (no attachment can be inside)."""
    if structure is None:
        return True
    try:
        if getattr(structure, "is_multipart", False):
            parts = structure[0] if isinstance(structure[0], list) else [structure[0]]
            return any(_may_carry_files(p) for p in parts)
        kind = structure[0].lower() if isinstance(structure[0], bytes) else b""
        return kind != b"text"
    except (IndexError, TypeError, AttributeError):
        return True


def _spreadsheets(att: MailAttachment, limits: Limits = Limits()) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the spreadsheets an attachment holds: itself, or a zip's members."""
    if spreadsheet_kind(att, limits) != "zip":
        yield att.name, att.data
        return
    try:
        with zipfile.ZipFile(io.BytesIO(att.data)) as zf:
            count = 0
            for info in zf.infolist():
                name = _member_name(info)
                if info.is_dir() or "__MACOSX" in info.filename or is_skippable(Path(name)):
                    continue
                if not name.lower().endswith(SPREADSHEET_SUFFIXES) or info.file_size > limits.max_file_bytes:
                    continue
                if info.flag_bits & 0x1:
                    continue  # encrypted member
                try:
                    with zf.open(info) as fh:
                        data = fh.read(limits.max_file_bytes + 1)
                except (OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError, ValueError, EOFError):
                    continue
                if len(data) > limits.max_file_bytes:
                    continue
                yield f"{att.name}/{name}", data
                count += 1
                if count >= MAX_ZIP_MEMBERS:
                    return
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as the sender saw it: Windows zips store Chinese names in GBK."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("gb18030")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _identify(data: bytes, name: str, registry: Registry) -> tuple[str, str, str]:
    """(round, 单位编号, 单位名称) from the template's hidden sheet; '' where the content does not say."""
    from ..intake import read_return

    suffix = Path(name).suffix.lower() if Path(name).suffix.lower() in SPREADSHEET_SUFFIXES else ".xlsx"
    fd, tmp = tempfile.mkstemp(prefix="ducha-fetch-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            ret = read_return(Path(tmp), name=name)
        except Exception:  # noqa: BLE001 - unreadable: the merge reports it; here it only lacks a round
            return "", "", ""
        round_name = ret.round if ret.round and registry.round(ret.round) is not None else ""
        unit = registry.unit_by_code(ret.unit_code) if ret.unit_code else None
        return round_name, unit.code if unit else "", unit.name if unit else ""
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
