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

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .errors import WorkspaceError
from .model import ArrivalBasis, Source
from .store import IntakeLog, find_content, put_content
from .workspace import Workspace

__all__ = [
    "CHINA",
    "Receipt",
    "china_time",
    "originals",
    "receipt_list",
    "receive_bytes",
    "receive_file",
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
    return _receive(ws, round_name, digest, len(data), data, name, source=source, sender=sender,
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
    try:
        size = path.stat().st_size
        digest = _sha256(path)
    except OSError as exc:
        raise WorkspaceError(f"无法读取文件 {path}（{exc.strerror or exc}）。请确认文件存在且未被占用。") from exc
    return _receive(ws, round_name, digest, size, path, name or path.name, source=source, sender=sender,
                    arrived=arrived, basis=basis, origin=origin or path.name, parent=parent)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _receive(ws: Workspace, round_name: str, digest: str, size: int, data: bytes | Path, name: str, *,
             source: Source, sender: str, arrived: datetime | None, basis: ArrivalBasis, origin: str,
             parent: int | None) -> Receipt:
    seen = _now()
    if arrived is None:
        arrived, basis = seen, ArrivalBasis.FIRST_SEEN
    arrived = china_time(arrived).replace(microsecond=0)
    store = originals(ws, round_name)
    with IntakeLog(ws.intake_db) as db:
        row = db.receipt(round_name, digest)
        if row is None:
            stored, _ = put_content(store, data, name, digest)  # the bytes first: a receipt always has them
            row, created = db.add_receipt({
                "round": round_name, "sha256": digest, "original_name": name, "size": size,
                "source": source.name, "sender": sender, "arrived": arrived.isoformat(),
                "basis": basis.name, "origin": origin, "parent": parent,
                "first_seen": seen.isoformat(), "stored": _relative(ws, stored),
            })
            if created:
                return _receipt(ws, row)
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
    better = _RANK[basis] > _RANK[current.basis]
    if basis is current.basis is ArrivalBasis.CLERK and arrived != current.arrived:
        better = True  # the clerk's latest word on a time the clerk gave
    elif basis is current.basis is ArrivalBasis.MAIL and arrived < current.arrived:
        better = True  # the same attachment in an earlier mail
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
        if (name, origin, parent) != (current.original_name, current.origin, current.parent):
            db.add_name(current.id, name, origin, parent)
    fresh = db.receipt_by_id(current.id)
    assert fresh is not None
    return replace(_receipt(ws, fresh), new=False)


def _relative(ws: Workspace, path: Path) -> str:
    try:
        return path.resolve().relative_to(ws.root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _receipt(ws: Workspace, row: dict[str, Any]) -> Receipt:
    stored = None
    if row["stored"]:
        candidate = ws.root / row["stored"]
        if candidate.is_file() and candidate.stat().st_size == row["size"]:
            stored = candidate
    if stored is None:  # moved store, or carried over from v1: look for the content itself
        stored = find_content(originals(ws, row["round"]), row["sha256"], row["size"])
    return Receipt(
        id=int(row["id"]), round=row["round"], sha256=row["sha256"], original_name=row["original_name"],
        size=int(row["size"]), source=Source[row["source"]], sender=row["sender"] or "",
        arrived=china_time(datetime.fromisoformat(row["arrived"])), basis=ArrivalBasis[row["basis"]],
        origin=row["origin"] or "", first_seen=china_time(datetime.fromisoformat(row["first_seen"])),
        stored=stored, parent=row["parent"],
    )


def receipt_list(ws: Workspace, round_name: str) -> list[Receipt]:
    """Every receipt of the round, withdrawn ones included, in receipt order."""
    if not ws.intake_db.exists():
        return []
    with IntakeLog(ws.intake_db) as db:
        return [replace(_receipt(ws, row), new=False) for row in db.receipts(round_name)]
