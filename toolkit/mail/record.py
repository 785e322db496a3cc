"""The mail record: every mail sent and every mail fetched, in ``.ducha/mail.sqlite``.

Sending is exactly-once by key (``template:<轮次>:<单位编号>``, ``remind:<轮次>:<单位编号>:<日期>``,
``feedback:…``, ``summary:…``): a row is written *before* the SMTP exchange
(``sending``, with the Message-ID the mail will carry) and updated *after* it (``sent``
with the server's reply, or ``failed`` with the reason). A rerun skips every ``sent``
key and retries the ``failed`` ones with the same Message-ID. A row left in ``sending``
means the process died during the exchange; it is retried with the same Message-ID (so
a mailbox that already holds it can tell the copy) and marked as such in the log.

Fetching keeps, per mailbox, its UIDVALIDITY and the highest UID fully handled, and a
row per message handled. Progress moves only in the same transaction that records the
message, and only after every file of it is durably in the round's record.

SQLite in WAL mode with ``synchronous=FULL``: a commit survives a power cut.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .compose import Outgoing
from .parse import CHINA

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["FetchedMail", "MailRecord", "SentMail", "record_path"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    round TEXT NOT NULL,
    unit TEXT NOT NULL,
    recipients TEXT NOT NULL,      -- JSON list
    subject TEXT NOT NULL,
    message_id TEXT NOT NULL,
    attachments TEXT NOT NULL,     -- JSON list of {name, sha256, bytes}
    state TEXT NOT NULL,           -- sending | sent | failed | cancelled
    attempts INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    attempted TEXT,
    finished TEXT,
    reply TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS mailbox (
    mailbox TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid INTEGER NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fetched (
    mailbox TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    subject TEXT NOT NULL,
    arrived TEXT,
    files TEXT NOT NULL,           -- JSON list of {name, sha256, round, unit}
    outcome TEXT NOT NULL,         -- 已收取 | 无表格 | 已收过
    note TEXT NOT NULL DEFAULT '',
    recorded TEXT NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
);
"""


def record_path(root: Path) -> Path:
    return Path(root) / ".ducha" / "mail.sqlite"


def _now() -> str:
    return datetime.now(CHINA).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SentMail:
    key: str
    kind: str
    round: str
    unit: str
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    attachments: tuple[dict, ...]
    state: str
    attempts: int
    created: str
    attempted: str
    finished: str
    reply: str
    error: str


@dataclass(frozen=True)
class FetchedMail:
    mailbox: str
    uidvalidity: int
    uid: int
    message_id: str
    sender: str
    subject: str
    arrived: str
    files: tuple[dict, ...]
    outcome: str
    note: str
    recorded: str


class MailRecord:
    """The workspace's mail record (one SQLite file, separate from the intake log)."""

    def __init__(self, root: Path):
        path = record_path(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sent ------------------------------------------------------------------------
    def sent(self, key: str) -> SentMail | None:
        row = self.db.execute("SELECT * FROM sent WHERE key = ?", (key,)).fetchone()
        return _sent(row) if row else None

    def claim(self, mail: Outgoing, message_id: str, busy_minutes: float = 10.0) -> tuple[str, SentMail | None]:
        """Take ``mail`` for sending, in one transaction (two processes never both send one key).

        Returns ``('sent', row)`` when it already went out, ``('busy', row)`` when another
        process started sending it less than ``busy_minutes`` ago, else ``('claimed', row)``
        with the row now in ``sending`` (its Message-ID kept from an earlier attempt).
        """
        atts = json.dumps([{"name": a.name, "sha256": a.sha256, "bytes": len(a.data)} for a in mail.attachments],
                          ensure_ascii=False)
        now = _now()
        with self._transaction():
            row = self.db.execute("SELECT * FROM sent WHERE key = ?", (mail.key,)).fetchone()
            prior = _sent(row) if row else None
            if prior is not None and prior.state == "sent":
                return "sent", prior
            if prior is not None and prior.state == "sending" and prior.attempted:
                started = datetime.fromisoformat(prior.attempted)
                if datetime.now(CHINA) - started < timedelta(minutes=busy_minutes):
                    return "busy", prior
            self.db.execute(
                "INSERT INTO sent (key, kind, round, unit, recipients, subject, message_id, attachments, state,"
                " attempts, created, attempted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'sending', 1, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET state = 'sending', attempts = attempts + 1,"
                " attempted = excluded.attempted, recipients = excluded.recipients, subject = excluded.subject,"
                " attachments = excluded.attachments, error = ''",
                (mail.key, mail.kind.value, mail.round, mail.unit, json.dumps(list(mail.to), ensure_ascii=False),
                 mail.subject, prior.message_id if prior else message_id, atts, now, now))
        return "claimed", prior

    def after_send(self, key: str, reply: str, note: str = "") -> None:
        self.db.execute("UPDATE sent SET state = 'sent', finished = ?, reply = ?, error = ? WHERE key = ?",
                        (_now(), reply, note, key))

    def failed(self, key: str, error: str) -> None:
        self.db.execute("UPDATE sent SET state = 'failed', finished = ?, error = ? WHERE key = ?", (_now(), error, key))

    def cancel(self, key: str, reason: str) -> None:
        self.db.execute("UPDATE sent SET state = 'cancelled', finished = ?, error = ? WHERE key = ? AND state != 'sent'",
                        (_now(), reason, key))

    def sent_mails(self, round: str | None = None) -> list[SentMail]:
        if round is None:
            rows = self.db.execute("SELECT * FROM sent ORDER BY created, key").fetchall()
        else:
            rows = self.db.execute("SELECT * FROM sent WHERE round = ? ORDER BY created, key", (round,)).fetchall()
        return [_sent(r) for r in rows]

    def unfinished(self, prefix: str) -> list[SentMail]:
        """Mails whose key starts with ``prefix`` that were queued but never reached ``sent``."""
        rows = self.db.execute("SELECT * FROM sent WHERE key LIKE ? AND state IN ('sending', 'failed')",
                               (prefix.replace("%", r"\%") + "%",)).fetchall()
        return [_sent(r) for r in rows]

    # -- fetched -----------------------------------------------------------------------
    def mailbox(self, name: str) -> tuple[int, int] | None:
        row = self.db.execute("SELECT uidvalidity, last_uid FROM mailbox WHERE mailbox = ?", (name,)).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def reset_mailbox(self, name: str, uidvalidity: int) -> None:
        self.db.execute("INSERT INTO mailbox (mailbox, uidvalidity, last_uid, updated) VALUES (?, ?, 0, ?)"
                        " ON CONFLICT(mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = 0,"
                        " updated = excluded.updated", (name, uidvalidity, _now()))

    def handled(self, name: str, uidvalidity: int, uid: int) -> bool:
        row = self.db.execute("SELECT 1 FROM fetched WHERE mailbox = ? AND uidvalidity = ? AND uid = ?",
                              (name, uidvalidity, uid)).fetchone()
        return row is not None

    def known_message(self, message_id: str, sha256s: set[str]) -> bool:
        """A message already taken under another UID (the server renumbered its mailbox)."""
        if not message_id and not sha256s:
            return False
        for row in self.db.execute("SELECT message_id, files FROM fetched WHERE outcome = '已收取'"):
            if message_id and row[0] == message_id:
                return True
            if sha256s and sha256s <= {f["sha256"] for f in json.loads(row[1])}:
                return True
        return False

    def done(self, name: str, uidvalidity: int, uid: int, *, message_id: str, sender: str, subject: str,
             arrived: datetime | None, files: list[dict[str, Any]], outcome: str, note: str = "") -> None:
        """Record one message handled and move the mailbox's progress, in one transaction."""
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO fetched (mailbox, uidvalidity, uid, message_id, sender, subject, arrived, files,"
                " outcome, note, recorded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, uidvalidity, uid, message_id, sender, subject,
                 arrived.isoformat(timespec="seconds") if arrived else None,
                 json.dumps(files, ensure_ascii=False), outcome, note, _now()))
            self.db.execute("INSERT INTO mailbox (mailbox, uidvalidity, last_uid, updated) VALUES (?, ?, ?, ?)"
                            " ON CONFLICT(mailbox) DO UPDATE SET last_uid = MAX(last_uid, excluded.last_uid),"
                            " uidvalidity = excluded.uidvalidity, updated = excluded.updated",
                            (name, uidvalidity, uid, _now()))

    def fetched_mails(self) -> list[FetchedMail]:
        rows = self.db.execute("SELECT * FROM fetched ORDER BY recorded, uid").fetchall()
        return [FetchedMail(mailbox=r["mailbox"], uidvalidity=r["uidvalidity"], uid=r["uid"],
                            message_id=r["message_id"], sender=r["sender"], subject=r["subject"],
                            arrived=r["arrived"] or "", files=tuple(json.loads(r["files"])), outcome=r["outcome"],
                            note=r["note"], recorded=r["recorded"]) for r in rows]

    def _transaction(self):
        import contextlib

        @contextlib.contextmanager
        def tx() -> Iterator[None]:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

        return tx()


def _sent(row: sqlite3.Row) -> SentMail:
    return SentMail(key=row["key"], kind=row["kind"], round=row["round"], unit=row["unit"],
                    recipients=tuple(json.loads(row["recipients"])), subject=row["subject"],
                    message_id=row["message_id"], attachments=tuple(json.loads(row["attachments"])),
                    state=row["state"], attempts=row["attempts"], created=row["created"],
                    attempted=row["attempted"] or "", finished=row["finished"] or "", reply=row["reply"],
                    error=row["error"])
