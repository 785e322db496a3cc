"""The round's record: every file that enters a round gets a receipt.

A receipt says what arrived (content hash, original name, size), where it came
from (:class:`~toolkit.model.Source`: the inbox, a saved mail, the mailbox, the
clerk), who sent it where known, and when it arrived together with how that
time is known (:class:`~toolkit.model.ArrivalBasis`), most trustworthy first:

1. the mail's own time (IMAP INTERNALDATE, or the Date/Received of a saved mail);
2. a time the clerk gives (``ducha receive FILE --at "2021-05-07 10:30"``);
3. the first time the toolkit saw the file.

A file's modification time is never used: copying a folder or saving the
morning's attachments after the deadline changes it.

Receiving is durable and idempotent. :func:`receive_bytes` and :func:`receive_file`
keep the original's bytes in the round's content-addressed store
(``rounds/<轮次>/.ducha/originals/``) and commit the receipt to the workspace's
intake log (:class:`~toolkit.store.IntakeLog`) before they return; the same bytes
received again in the same round return the existing receipt (``new=False``), so a
return is never counted twice. A better-founded arrival time given later (a mail
time after a first sighting, a clerk's time after a first sighting) amends the
receipt, and the amendment is recorded.

The merge works from the receipts and the stored originals, never from what the
inbox folder holds at the moment: a file removed from the inbox is not a return
withdrawn. Withdrawing is an explicit, recorded act (:func:`withdraw`).

Times are kept timezone-aware. Deadlines are days in China time (UTC+8); a time
given without a zone (the clerk's, the merge's ``--now``) is China time.
"""

from __future__ import annotations

import enum
import getpass
import hashlib
import json
import os
import stat
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from .errors import WorkspaceError
from .intake import zip_entries
from .mail.parse import MailFileError, parse_mail_file
from .model import ArrivalBasis, Source
from .read import Content, Limits, classify, is_skippable
from .store import HashMemo, IntakeLog, StoreBatch, cleanup_temp, find_content, put_content
from .terminal import clip, display_width, format_table
from .workspace import Workspace

__all__ = [
    "CHINA",
    "LogLine",
    "Receipt",
    "Role",
    "RoundFile",
    "Withdrawal",
    "china_time",
    "format_log",
    "log_lines",
    "originals",
    "parse_clerk_time",
    "receipt_list",
    "receive_bytes",
    "receive_file",
    "register",
    "round_files",
    "scan_inbox",
    "withdraw",
]

#: China Standard Time: deadlines (报送截止日期) end at midnight here.
CHINA = timezone(timedelta(hours=8), "北京时间")

#: How much an arrival basis is trusted; a better one amends a receipt, a worse one never does.
_RANK = {ArrivalBasis.FIRST_SEEN: 0, ArrivalBasis.CLERK: 1, ArrivalBasis.MAIL: 2}


def china_time(moment: datetime) -> datetime:
    """``moment`` as an aware China time; a naive one is taken to be China time already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=CHINA)
    return moment.astimezone(CHINA)


def _now() -> datetime:
    return datetime.now(CHINA).replace(microsecond=0)


@dataclass(frozen=True)
class Receipt:
    """One content received in one round.

    ``arrived`` and ``first_seen`` are aware datetimes in China time. ``stored`` is
    the kept original (None only for a receipt carried over from an old workspace
    whose bytes are nowhere to be found). ``parent`` is the receipt of the mail or
    zip archive this file was taken from. ``new`` is False when the call that
    returned the receipt found it already recorded.
    """

    id: int
    round: str
    sha256: str
    original_name: str
    size: int
    source: Source
    sender: str
    arrived: datetime
    basis: ArrivalBasis
    origin: str
    first_seen: datetime
    stored: Path | None
    parent: int | None = None
    new: bool = True

    @property
    def arrival(self) -> datetime:
        """The arrival as a naive China wall-clock time (what the outputs show)."""
        return self.arrived.astimezone(CHINA).replace(tzinfo=None)


def originals(ws: Workspace, round_name: str) -> Path:
    """The round's content-addressed store of received originals."""
    return ws.state(round_name) / "originals"


# ---------------------------------------------------------------------------------------
# receiving
# ---------------------------------------------------------------------------------------

def receive_bytes(
    ws: Workspace,
    round_name: str,
    data: bytes,
    name: str,
    *,
    source: Source,
    sender: str = "",
    arrived: datetime | None = None,
    basis: ArrivalBasis = ArrivalBasis.FIRST_SEEN,
    origin: str = "",
    parent: int | None = None,
) -> Receipt:
    """Receive ``data`` (a file called ``name``) into round ``round_name``; durable on return.

    ``arrived`` defaults to now (and then the basis is :attr:`ArrivalBasis.FIRST_SEEN`);
    a naive ``arrived`` is China time. ``origin`` says where the bytes were found (a
    path in the inbox, a mail, a folder); ``parent`` is the receipt of the mail or
    archive they were taken from. The same bytes received again in this round
    return the existing receipt with ``new=False``.
    """
    digest = hashlib.sha256(data).hexdigest()
    return _receive(ws, round_name, digest, len(data), data, name, db=None, source=source, sender=sender,
                    arrived=arrived, basis=basis, origin=origin, parent=parent)


def receive_file(
    ws: Workspace,
    round_name: str,
    path: Path | str,
    *,
    source: Source,
    sender: str = "",
    arrived: datetime | None = None,
    basis: ArrivalBasis = ArrivalBasis.FIRST_SEEN,
    origin: str = "",
    parent: int | None = None,
    name: str | None = None,
) -> Receipt:
    """Receive the file at ``path`` (see :func:`receive_bytes`); ``name`` defaults to its name.

    The file is read, never moved or changed; its modification time is ignored.
    """
    path = Path(path)
    with IntakeLog(ws.intake_db) as db:
        return _receive_path(ws, db, round_name, path, name=name, source=source, sender=sender, arrived=arrived,
                             basis=basis, origin=origin or path.name, parent=parent)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _receive(ws: Workspace, round_name: str, digest: str, size: int, data: bytes | Path, name: str, *,
             db: IntakeLog | None, source: Source, sender: str = "", arrived: datetime | None = None,
             basis: ArrivalBasis = ArrivalBasis.FIRST_SEEN, origin: str = "", parent: int | None = None,
             stored: Path | None = None, seen: datetime | None = None) -> Receipt:
    """Receive one content. ``stored``: its durable copy in the round's store, when the caller has
    put it there already (a :class:`~toolkit.store.StoreBatch`, see :func:`scan_inbox`); ``seen``:
    when it was read, if not now."""
    if db is None:
        with IntakeLog(ws.intake_db) as own:
            return _receive(ws, round_name, digest, size, data, name, db=own, source=source, sender=sender,
                            arrived=arrived, basis=basis, origin=origin, parent=parent)
    seen = seen or _now()
    if arrived is None:
        arrived, basis = seen, ArrivalBasis.FIRST_SEEN
    arrived = china_time(arrived).replace(microsecond=0)
    row = None if stored is not None else db.receipt(round_name, digest)  # add_receipt looks again
    if row is None:
        if stored is None:
            stored, _ = put_content(originals(ws, round_name), data, name, digest)  # the bytes first, then the receipt
        row, created = db.add_receipt({
            "round": round_name, "sha256": digest, "original_name": name, "size": size,
            "source": source.name, "sender": sender, "arrived": arrived.isoformat(),
            "basis": basis.name, "origin": origin, "parent": parent,
            "first_seen": seen.isoformat(), "stored": _relative(ws, stored),
        })
        if created:
            return _receipt(ws, row, stored)
    return _again(ws, db, row, data, name, source=source, sender=sender, arrived=arrived, basis=basis,
                  origin=origin, parent=parent)


def _again(ws: Workspace, db: IntakeLog, row: dict[str, Any], data: bytes | Path, name: str, *,
           source: Source, sender: str, arrived: datetime, basis: ArrivalBasis, origin: str,
           parent: int | None) -> Receipt:
    """The content is already recorded: repair its stored copy, amend its arrival, note the new name."""
    current = _receipt(ws, row)
    changes: dict[str, Any] = {}
    if current.stored is None:
        stored, _ = put_content(originals(ws, current.round), data, name, current.sha256)
        changes["stored"] = _relative(ws, stored)
    same_file = (name, origin, parent) == (current.original_name, current.origin, current.parent)
    better = _RANK[basis] > _RANK[current.basis]
    if basis is current.basis is ArrivalBasis.CLERK and same_file and arrived != current.arrived:
        better = True  # the clerk corrects the time the clerk gave for this very file
    elif basis is current.basis and basis is not ArrivalBasis.FIRST_SEEN and arrived < current.arrived:
        better = True  # the same content arrived earlier (another mail, another copy)
    if better:
        changes.update(arrived=arrived.isoformat(), basis=basis.name)
        if basis is ArrivalBasis.MAIL:
            changes["source"] = source.name
        if sender and (basis is ArrivalBasis.MAIL or not current.sender):
            changes["sender"] = sender
    elif sender and not current.sender:
        changes["sender"] = sender
    with db.transaction():
        if changes:
            db.update_receipt(current.id, **changes)
            if {"arrived", "sender"} & changes.keys():
                before = {"arrived": current.arrived.isoformat(), "basis": current.basis.name,
                          "source": current.source.name, "sender": current.sender}
                db.add_event(current.id, "amend", json.dumps({"before": before, "after": changes}, ensure_ascii=False))
        if not same_file:
            db.add_name(current.id, name, origin, parent)
    fresh = db.receipt_by_id(current.id)
    assert fresh is not None
    return _receipt(ws, fresh, new=False)


def _relative(ws: Workspace, path: Path) -> str:
    """``path`` relative to the workspace (as it is recorded), or whole when it lies outside."""
    text, root = str(path), str(ws.root)
    if text.startswith(root) and text[len(root):len(root) + 1] == os.sep and root != os.sep:  # no pathlib
        return text[len(root) + 1:].replace(os.sep, "/")
    if path.is_relative_to(ws.root):  # the round's own store: no need to ask the disk
        return path.relative_to(ws.root).as_posix()
    try:
        return path.resolve().relative_to(ws.root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _receipt(ws: Workspace, row: dict[str, Any], stored: Path | None = None, new: bool = True) -> Receipt:
    """The receipt of a row of the log; ``stored``: its stored copy, when the caller has just put it there."""
    if stored is None and row["stored"]:
        candidate = os.path.join(ws.root, row["stored"])
        try:
            st = os.stat(candidate)
        except (OSError, ValueError):
            pass
        else:
            if stat.S_ISREG(st.st_mode) and st.st_size == row["size"]:
                stored = Path(candidate)
    if stored is None:  # moved store, or carried over from v1: look for the content itself
        stored = find_content(originals(ws, row["round"]), row["sha256"], row["size"])
    return Receipt(
        id=int(row["id"]), round=row["round"], sha256=row["sha256"], original_name=row["original_name"],
        size=int(row["size"]), source=Source[row["source"]], sender=row["sender"] or "",
        arrived=china_time(datetime.fromisoformat(row["arrived"])), basis=ArrivalBasis[row["basis"]],
        origin=row["origin"] or "", first_seen=china_time(datetime.fromisoformat(row["first_seen"])),
        stored=stored, parent=row["parent"], new=new,
    )


def receipt_list(ws: Workspace, round_name: str) -> list[Receipt]:
    """Every receipt of the round, withdrawn ones included, in receipt order."""
    if not ws.intake_db.exists():
        return []
    with IntakeLog(ws.intake_db) as db:
        return [_receipt(ws, row, new=False) for row in db.receipts(round_name)]


# ---------------------------------------------------------------------------------------
# the round's files: the inbox is a drop box, the receipts are the round
# ---------------------------------------------------------------------------------------

Log = Callable[[str], None]


class Role(str, enum.Enum):
    """What a merge does with a received file."""

    RETURN = "报表"  # read and checked as a department's return
    ATTACHMENT = "附件"  # recorded, never read as a return, never bounced (a cover letter, a photo)
    OPENED = "已拆开"  # a mail or zip archive: the files inside are listed on their own
    DUPLICATE = "重复"  # the same content arrived again under another name or place
    WITHDRAWN = "已撤回"  # withdrawn by the clerk (``ducha withdraw``): listed, never counted


@dataclass(frozen=True)
class RoundFile:
    """One file of the round as the merge sees it.

    ``label`` names it to people (``子文件夹/报表.xlsx``, ``邮件.eml/附件.xlsx``);
    ``detail`` says what an attachment is, or which file a duplicate repeats.
    """

    receipt: Receipt
    label: str
    role: Role
    detail: str = ""


def scan_inbox(ws: Workspace, round_name: str, *, now: datetime | None = None, log: Log = lambda _m: None,
               on_stored: Stored | None = None) -> list[Receipt]:
    """Receive every file in the round's inbox, subfolders included; return their receipts.

    Lock files, hidden files and folders, ``Thumbs.db`` and the like are skipped.
    A file seen for the first time arrives ``now`` (the first sighting); files
    already received keep their receipt. A file that cannot be read right now (still
    being saved, locked) is reported through ``log`` and left for the next run.

    A file whose receipt already records its hash, under this very name and place, is
    not read again while it is unchanged (:class:`~toolkit.store.HashMemo`): receiving it
    again would change nothing.

    ``on_stored(receipt, label)`` is told of each content received for the first time, as
    soon as its bytes are stored (before its receipt is committed with the batch's), with the
    label :func:`round_files` will give it: the merge starts reading it right away.
    """
    inbox = ws.inbox(round_name)
    if not inbox.is_dir():
        return []
    arrived = china_time(now) if now is not None else None
    out: list[Receipt] = []
    files = _walk(inbox)
    memo = HashMemo(ws.state(round_name) / INBOX_HASHES)
    store = originals(ws, round_name)
    i, size = 0, _FIRST_BATCH
    with IntakeLog(ws.intake_db) as db:
        known = db.digests(round_name)  # contents this round has receipts for (looked up again on commit)
        names: set[tuple[int, str, str]] | None = None  # (receipt, name, origin) recorded, once needed
        while i < len(files):
            # A batch of files (see StoreBatch): read and hashed, new contents copied into the
            # store's temp files; then all made durable at once, named, their names made durable;
            # only then are their receipts committed, together. A kill loses at most the batch in
            # hand (its files are received again next time), never leaves a receipt without its
            # bytes. A batch is short (files or seconds), the first one shorter still (the merge
            # starts reading the files as they are stored), and the log is only locked to commit.
            started, last, size = time.monotonic(), min(i + size, len(files)), _BATCH_FILES
            todo: list[Receipt | _Read] = []
            with StoreBatch(store) as batch:
                while i < last and time.monotonic() - started <= _BATCH_SECONDS:
                    path, rel, name = files[i]
                    i += 1
                    digest = memo.get(path)
                    if digest is not None:
                        if names is None:
                            names = {(n["receipt"], n["name"], n["origin"]) for n in db.names(round_name)
                                     if n["parent"] is None}
                        unchanged = _unchanged(ws, db, round_name, digest, name, rel, names)
                        if unchanged is not None:
                            todo.append(unchanged)
                            continue
                    file = Path(path)
                    try:
                        digest, st = _hash_file(file, memo)
                        if digest not in known and digest not in batch:
                            batch.add(file, name, digest, st.st_size)
                    except WorkspaceError as exc:
                        log(f"  暂不登记 {rel}：{exc}")
                        continue
                    todo.append(_Read(file, rel, name, digest, st.st_size, _now()))
                stored = batch.publish()
            with db.transaction():
                for item in todo:
                    if isinstance(item, Receipt):
                        out.append(item)
                        continue
                    try:
                        if item.digest in batch.failed:
                            raise batch.failed[item.digest]
                        receipt = _receive(ws, round_name, item.digest, item.size, item.path, item.name, db=db,
                                           source=Source.INBOX, arrived=arrived, basis=ArrivalBasis.FIRST_SEEN,
                                           origin=item.rel, stored=stored.get(item.digest), seen=item.seen)
                    except WorkspaceError as exc:
                        log(f"  暂不登记 {item.rel}：{exc}")
                        continue
                    known.add(item.digest)
                    out.append(receipt)
                    if on_stored is not None and receipt.new and receipt.stored is not None:
                        on_stored(receipt, _label(receipt, None))
    memo.keep_only(path for path, _rel, _name in files)
    memo.save()
    return out


@dataclass(frozen=True)
class _Read:
    """An inbox file read and hashed by :func:`scan_inbox`, to be received with its batch."""

    path: Path
    rel: str  # its place in the inbox, with "/"
    name: str
    digest: str
    size: int
    seen: datetime


#: Hashes of the inbox's files by their stat (:class:`~toolkit.store.HashMemo`), in the round's state.
INBOX_HASHES = "inbox-hashes.json"


def _unchanged(ws: Workspace, db: IntakeLog, round_name: str, digest: str, name: str, origin: str,
               names: set[tuple[int, str, str]]) -> Receipt | None:
    """The receipt of a file seen before (``digest`` from the memo), when receiving it again would
    change nothing: recorded under this name and place, its stored copy in place. Else None."""
    row = db.receipt(round_name, digest)
    if row is None:
        return None
    if (name, origin, None) != (row["original_name"], row["origin"], row["parent"]) and \
            (row["id"], name, origin) not in names:
        return None
    receipt = _receipt(ws, row, new=False)
    return receipt if receipt.stored is not None else None


#: A scan commits its receipts after this many files or seconds, whichever comes first; its first
#: batch is smaller, so that the merge's readers start early.
_BATCH_FILES = 100
_FIRST_BATCH = 10
_BATCH_SECONDS = 2.0


def _walk(folder: Path) -> list[tuple[str, str, str]]:
    """The regular files under ``folder`` that are not skipped: (path, place in the folder with "/", name),
    in name order, a folder's files before its subfolders'. Plain strings: no pathlib per file."""
    found: list[tuple[str, str, str]] = []
    root = os.fspath(folder)
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not is_skippable(Path(d)))
        prefix = Path(top).relative_to(folder).as_posix()  # once per folder
        prefix = "" if prefix == "." else prefix + "/"
        hidden = "__MACOSX" in Path(top).parts  # as is_skippable(top/name) would tell
        for name in sorted(files):
            if hidden or is_skippable(name):
                continue
            path = os.path.join(top, name)
            try:
                if not stat.S_ISREG(os.stat(path).st_mode):
                    continue
            except OSError:
                continue
            found.append((path, prefix + name, name))
    return found


def _hash_file(path: Path, memo: HashMemo | None = None) -> tuple[str, os.stat_result]:
    """The sha256 of the file at ``path`` and its stat; remembered in ``memo`` when the file did not
    change while it was read."""
    try:
        before = os.stat(path)
        digest = _sha256(path)
        if memo is not None:
            after = os.stat(path)
            if (before.st_size, before.st_mtime_ns, before.st_ctime_ns) == \
                    (after.st_size, after.st_mtime_ns, after.st_ctime_ns):
                memo.put(path, digest, before)  # unchanged while it was read: the hash is its content's
    except OSError as exc:
        raise WorkspaceError(f"无法读取文件 {path}（{exc.strerror or exc}）。请确认文件存在且未被占用。") from exc
    return digest, before


def _receive_path(ws: Workspace, db: IntakeLog, round_name: str, path: Path, **kw: Any) -> Receipt:
    digest, st = _hash_file(path)
    return _receive(ws, round_name, digest, st.st_size, path, kw.pop("name", None) or path.name, db=db, **kw)


#: Told of each content as soon as it is stored: (its receipt, the label the round gives it).
Stored = Callable[[Receipt, str], None]


def round_files(ws: Workspace, round_name: str, *, limits: Limits = Limits(), now: datetime | None = None,
                log: Log = lambda _m: None, on_stored: Stored | None = None) -> list[RoundFile]:
    """The round as a merge sees it: every receipt, in receipt order (withdrawn ones marked so).

    The inbox is scanned first (:func:`scan_inbox`), then every mail and zip archive
    is opened and the files inside are received in their turn (dated and attributed
    by the mail, or by the archive's own receipt). Files that only repeat a content
    already received come last, as :attr:`Role.DUPLICATE`. Nothing here depends on
    what the inbox holds beyond new arrivals: a file removed from it stays received.
    """
    scan_inbox(ws, round_name, now=now, log=log, on_stored=on_stored)
    cleanup_temp(originals(ws, round_name))
    return _collect(ws, round_name, limits, log)


def _collect(ws: Workspace, round_name: str, limits: Limits, log: Log) -> list[RoundFile]:
    if not ws.intake_db.exists():
        return []
    with IntakeLog(ws.intake_db) as db:
        withdrawn = _withdrawn(db, round_name)
        work = [_receipt(ws, row, new=False) for row in db.receipts(round_name)]
        store = originals(ws, round_name)
        inside_store = str(store) + os.sep
        files: list[RoundFile] = []
        labels: dict[int, str] = {}
        kept: dict[int, Receipt] = {}
        fresh: dict[int, Receipt] = {}  # receipts as an expansion just left them (a stored copy restored)
        i = 0
        while i < len(work):
            receipt = fresh.get(work[i].id, work[i])
            i += 1
            if receipt.id in kept or receipt.id in labels:
                continue
            if receipt.parent in withdrawn:
                withdrawn.add(receipt.id)  # a withdrawn mail takes its attachments along
            label = _label(receipt, labels.get(receipt.parent) if receipt.parent is not None else None)
            labels[receipt.id] = label
            if receipt.id in withdrawn:
                files.append(RoundFile(receipt, label, Role.WITHDRAWN))
                continue
            kept[receipt.id] = receipt
            if receipt.stored is None:
                log(f"  {label}：收到的原件已找不到，本次未处理。请把该文件重新放入收件箱或用 ducha receive 重新登记。")
                continue
            if not str(receipt.stored).startswith(inside_store) and not receipt.stored.is_relative_to(store):
                receipt = _adopt(ws, db, receipt)  # carried over from v1: its bytes were only in archive/
            stored = receipt.stored
            assert stored is not None
            kind, what = classify(stored, limits)
            if kind is Content.WORKBOOK:
                files.append(RoundFile(receipt, label, Role.RETURN))
            elif kind is Content.DOCUMENT:
                files.append(RoundFile(receipt, label, Role.ATTACHMENT, what))
            else:
                inside, empty = _open_container(ws, db, receipt, kind, label, limits, log)
                fresh.update((r.id, r) for r in inside)
                if inside:
                    files.append(RoundFile(receipt, label, Role.OPENED, what))
                    work.extend(r for r in inside if r.new)
                else:
                    files.append(RoundFile(receipt, label, Role.ATTACHMENT, empty))
        for alias in db.names(round_name):
            twin = kept.get(alias["receipt"])
            if twin is None or alias["parent"] in withdrawn:
                continue
            parent_label = labels.get(alias["parent"]) if alias["parent"] is not None else None
            label = _alias_label(alias, twin, parent_label)
            if label != labels[twin.id]:
                files.append(RoundFile(twin, label, Role.DUPLICATE, labels[twin.id]))
    return files


def _adopt(ws: Workspace, db: IntakeLog, receipt: Receipt) -> Receipt:
    """Keep a copy of bytes found elsewhere (a v1 round's archive) in the round's own store."""
    assert receipt.stored is not None
    try:
        stored, _ = put_content(originals(ws, receipt.round), receipt.stored, receipt.original_name, receipt.sha256)
    except WorkspaceError:
        return receipt
    with db.transaction():
        db.update_receipt(receipt.id, stored=_relative(ws, stored))
    return replace(receipt, stored=stored)


def _label(receipt: Receipt, parent_label: str | None) -> str:
    if parent_label:
        return f"{parent_label}/{receipt.original_name}"
    if receipt.source in (Source.INBOX, Source.CLERK) and _relative_origin(receipt.origin):
        return receipt.origin
    return receipt.original_name


def _alias_label(alias: dict[str, Any], receipt: Receipt, parent_label: str | None) -> str:
    if parent_label:
        return f"{parent_label}/{alias['name']}"
    if _relative_origin(alias["origin"]) and receipt.source is not Source.MAILBOX:
        return str(alias["origin"])
    return str(alias["name"])


def _relative_origin(origin: str) -> bool:
    return bool(origin) and not PurePosixPath(origin).is_absolute() and not PureWindowsPath(origin).is_absolute() \
        and not origin.startswith("<")


#: What an opened container that gave no file is recorded as (an attachment), and why.
EMPTY_ARCHIVE = "压缩包中没有可读取的文件"
UNREADABLE_MAIL = "邮件文件，无法打开"
MAIL_WITHOUT_ATTACHMENTS = "邮件中没有附件"


def _open_container(ws: Workspace, db: IntakeLog, container: Receipt, kind: Content, label: str,
                    limits: Limits, log: Log) -> tuple[list[Receipt], str]:
    """Receive the files inside a zip archive or a saved mail; (their receipts, why there are none)."""
    assert container.stored is not None
    inside: list[Receipt] = []
    if kind is Content.ARCHIVE:
        for name, data in zip_entries(container.stored, limits):
            inside.append(_receive(
                ws, container.round, hashlib.sha256(data).hexdigest(), len(data), data, name, db=db,
                source=container.source, sender=container.sender, arrived=container.arrived,
                basis=container.basis, origin=label, parent=container.id))
        return inside, EMPTY_ARCHIVE
    try:
        mail = parse_mail_file(container.stored)
    except MailFileError as exc:
        log(f"  {label}：{exc}")
        return [], UNREADABLE_MAIL
    except Exception:  # noqa: BLE001 - a broken mail is recorded as an attachment, never a crash
        return [], UNREADABLE_MAIL
    date = mail.date
    if date is not None:  # the mail's own time dates the mail file itself too
        _receive_path(ws, db, container.round, container.stored, name=container.original_name,
                      source=container.source, sender=mail.sender or container.sender, arrived=date,
                      basis=ArrivalBasis.MAIL, origin=container.origin, parent=container.parent)
    source = container.source if container.source is Source.MAILBOX else Source.MAIL_FILE
    for attachment in mail.attachments:
        data = attachment.data
        sender = mail.origin_of(attachment).sender or mail.sender or container.sender  # a forward's author
        inside.append(_receive(
            ws, container.round, hashlib.sha256(data).hexdigest(), len(data), data, attachment.name or "附件",
            db=db, source=source, sender=sender, arrived=date or container.arrived,
            basis=ArrivalBasis.MAIL if date is not None else container.basis, origin=label, parent=container.id))
    if not inside:
        log(f"  {label}：邮件中没有附件。")
    return inside, MAIL_WITHOUT_ATTACHMENTS


# ---------------------------------------------------------------------------------------
# registering by hand, withdrawing
# ---------------------------------------------------------------------------------------

_CLERK_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S",
                  "%Y/%m/%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日%H:%M",
                  "%Y年%m月%d日 %H时%M分", "%Y年%m月%d日")


def parse_clerk_time(text: str) -> datetime:
    """A time typed by the clerk (``2021-05-07 10:30``, ``2021/5/7 10:30``, ``2021年5月7日 10:30``),
    China time. A date alone means the start of that day."""
    cleaned = " ".join(str(text).replace("：", ":").split())
    for fmt in _CLERK_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).replace(tzinfo=CHINA)
        except ValueError:
            continue
    raise WorkspaceError(f"无法识别的时间“{text}”，请写成如 \"2021-05-07 10:30\"（北京时间）。")


def register(ws: Workspace, round_name: str, paths: list[Path], *, at: datetime | None = None, sender: str = "",
             limits: Limits = Limits()) -> list[RoundFile]:
    """``ducha receive``: receive files the clerk names, with the time the clerk gives.

    The files may lie anywhere; they are kept in the round's store, so they need
    not stay in the inbox. Without ``at`` the time is now (a first sighting). A mail
    among them is opened at once and its files are dated by the mail. Returns
    the round files that came from these paths (mails and archives with their contents).
    """
    inbox = ws.inbox(round_name).resolve()
    basis = ArrivalBasis.CLERK if at is not None else ArrivalBasis.FIRST_SEEN
    ids: dict[int, bool] = {}  # receipt -> received just now
    with IntakeLog(ws.intake_db) as db:
        for path in paths:
            if not Path(path).is_file():
                raise WorkspaceError(f"找不到文件 {path}，请检查文件名和路径。")
            resolved = Path(path).resolve()
            origin = resolved.relative_to(inbox).as_posix() if resolved.is_relative_to(inbox) else str(resolved)
            receipt = _receive_path(ws, db, round_name, resolved, source=Source.CLERK, sender=sender, arrived=at,
                                    basis=basis, origin=origin)
            ids[receipt.id] = receipt.new
    files = [replace(f, receipt=replace(f.receipt, new=ids[f.receipt.id])) if f.receipt.id in ids else f
             for f in _collect(ws, round_name, limits, lambda _m: None)]
    parents = {f.receipt.id: f.receipt.parent for f in files}

    def ours(receipt_id: int | None) -> bool:
        while receipt_id is not None:
            if receipt_id in ids:
                return True
            receipt_id = parents.get(receipt_id)
        return False

    return [f for f in files if ours(f.receipt.id) and f.role is not Role.DUPLICATE]


def _withdrawn(db: IntakeLog, round_name: str) -> set[int]:
    out: set[int] = set()
    for event in db.events(round_name):
        if event["action"] == "withdraw":
            out.add(event["receipt"])
        elif event["action"] == "restore":
            out.discard(event["receipt"])
    return out


@dataclass(frozen=True)
class Withdrawal:
    """What ``ducha withdraw`` did: the receipts affected (a mail takes its attachments along)."""

    receipts: tuple[Receipt, ...]
    undo: bool
    reason: str


def withdraw(ws: Workspace, round_name: str, ref: str, *, reason: str = "", undo: bool = False) -> Withdrawal:
    """Withdraw a received file from the round (or, with ``undo``, take it back in); recorded.

    ``ref`` is a receipt number as ``ducha log`` shows it (``12`` or ``#12``) or a file
    name (the name it arrived under, or its path in the inbox). A mail or zip archive
    takes the files inside it along. Withdrawn content stays withdrawn even if the
    same file is found in the inbox again; replacing a return needs no withdrawal:
    a newer file from the same unit wins by its arrival time.
    """
    if not ws.intake_db.exists():
        raise WorkspaceError(f"轮次 {round_name} 还没有收到任何文件。")
    with IntakeLog(ws.intake_db) as db:
        rows = db.receipts(round_name)
        target = _find(rows, db.names(round_name), ref, round_name)
        withdrawn = _withdrawn(db, round_name)
        if undo and target["id"] not in withdrawn:
            raise WorkspaceError(f"{target['original_name']}（编号 {target['id']}）没有被撤回过，无需恢复。")
        if not undo and target["id"] in withdrawn:
            raise WorkspaceError(f"{target['original_name']}（编号 {target['id']}）已经撤回。")
        family = [target]
        for row in rows:  # children come after their parents in receipt order
            if row["parent"] in {r["id"] for r in family}:
                family.append(row)
        who = _current_user()
        with db.transaction():
            for row in family:
                db.add_event(row["id"], "restore" if undo else "withdraw", reason, who)
        return Withdrawal(tuple(_receipt(ws, r, new=False) for r in family), undo, reason)


def _find(rows: list[dict[str, Any]], names: list[dict[str, Any]], ref: str, round_name: str) -> dict[str, Any]:
    text = str(ref).strip()
    number = text.lstrip("#＃")
    if number.isdigit():
        for row in rows:
            if row["id"] == int(number):
                return row
        raise WorkspaceError(f"轮次 {round_name} 没有编号为 {number} 的收件。请用 ducha log 查看编号。")
    wanted = text.replace("\\", "/")
    hits = {row["id"]: row for row in rows if wanted in (row["original_name"], row["origin"])}
    by_id = {row["id"]: row for row in rows}
    for alias in names:
        if wanted in (alias["name"], alias["origin"]) and alias["receipt"] in by_id:
            hits[alias["receipt"]] = by_id[alias["receipt"]]
    if not hits:
        raise WorkspaceError(f"轮次 {round_name} 没有收到过名为“{text}”的文件。请用 ducha log 查看文件名和编号。")
    if len(hits) > 1:
        listed = "；".join(f"编号 {r['id']}：{r['original_name']}" for r in hits.values())
        raise WorkspaceError(f"名为“{text}”的收件不止一个（{listed}）。请改用编号。")
    return next(iter(hits.values()))


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):
        return ""


# ---------------------------------------------------------------------------------------
# the log: per file, where it came from, from whom, when, and how that time is known
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LogLine:
    """One line of ``ducha log``."""

    number: int | None  # the receipt number; None for a repeat of another receipt
    label: str
    source: Source
    sender: str
    arrival: datetime  # naive China time
    basis: ArrivalBasis
    unit: str
    verdict: str  # the last merge's verdict ('' before any merge)
    withdrawn: bool = False
    note: str = ""  # withdrawal reason, twin of a repeat


def log_lines(ws: Workspace, round_name: str) -> list[LogLine]:
    """Every receipt of the round (withdrawn ones too) and every repeat, in receipt order."""
    if not ws.intake_db.exists():
        return []
    with IntakeLog(ws.intake_db) as db:
        rows = db.receipts(round_name)
        withdrawn = _withdrawn(db, round_name)
        reasons = {e["receipt"]: e["detail"] for e in db.events(round_name) if e["action"] == "withdraw"}
        verdicts = {e["sha256"]: e for e in db.entries(round_name)}  # the latest per content
        names = db.names(round_name)
    labels: dict[int, str] = {}
    lines: list[LogLine] = []
    by_id: dict[int, Receipt] = {}
    inside = Counter(row["parent"] for row in rows if row["parent"] is not None)
    for row in rows:
        receipt = _receipt(ws, row)
        by_id[receipt.id] = receipt
        if receipt.parent in withdrawn:
            withdrawn.add(receipt.id)
        label = _label(receipt, labels.get(receipt.parent) if receipt.parent is not None else None)
        labels[receipt.id] = label
        verdict = verdicts.get(receipt.sha256, {})
        text = str(verdict.get("verdict") or "")
        if not text and inside[receipt.id]:
            text = f"已拆开（内含 {inside[receipt.id]} 个文件）"
        gone = receipt.id in withdrawn
        lines.append(LogLine(receipt.id, label, receipt.source, receipt.sender, receipt.arrival, receipt.basis,
                             str(verdict.get("unit") or ""), text, gone, reasons.get(receipt.id, "") if gone else ""))
    for alias in names:
        twin = by_id.get(alias["receipt"])
        if twin is None:
            continue
        parent_label = labels.get(alias["parent"]) if alias["parent"] is not None else None
        lines.append(LogLine(None, _alias_label(alias, twin, parent_label), twin.source, twin.sender, twin.arrival,
                             twin.basis, "", "重复", twin.id in withdrawn, f"与编号 {twin.id} 内容相同"))
    return lines


_LOG_HEADERS = ("编号", "文件", "来源", "发件人", "到达时间", "时间依据", "单位", "结论")


def _clip_label(label: str, width: int) -> str:
    """Cut a long label in its middle, keeping the file's own name (``很长的邮件….eml/…/报表.xlsx``)."""
    if display_width(label) <= width or "/" not in label:
        return clip(label, width)
    head, tail = label.rsplit("/", 1)
    room = width - display_width(tail) - 1
    if room < 6:
        return clip(tail, width)
    return f"{clip(head, room)}/{tail}"


def format_log(lines: list[LogLine], name_width: int = 40) -> str:
    """``ducha log`` as a terminal table (columns aligned by display width)."""
    if not lines:
        return "（暂无收件记录）"
    rows = []
    for line in lines:
        verdict = "已撤回" if line.withdrawn else (line.verdict or "（尚未合并）")
        if line.note:
            verdict += f"（{line.note}）"
        rows.append(("" if line.number is None else line.number, _clip_label(line.label, name_width), line.source.value,
                     line.sender or "—", f"{line.arrival:%Y-%m-%d %H:%M}", line.basis.value, line.unit or "—",
                     verdict))
    return format_table(_LOG_HEADERS, rows, ("right", "left", "left", "left", "left", "left", "left", "left"))
