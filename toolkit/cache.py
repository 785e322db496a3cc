"""Checked returns remembered by content, so a file already seen is not processed twice.

A merge reads and checks each inbox file once; the outcome (findings and entries)
is stored under ``rounds/<轮次>/.ducha/cache/`` keyed by the file's sha256 *and*
by everything the check depended on: the round (name and dates), the previous
round's accepted figures, the limits, the check settings (ducha.toml ``[checks]``),
the toolkit version — and the registry the
return was checked against (a :class:`~toolkit.snapshot.Pick`, stored with the
outcome): an outcome is reused only while the round would still check that file
against the same snapshot (:meth:`~toolkit.snapshot.RoundContext.valid`). A return
whose template names its snapshot stays cached when the office edits the master;
one checked against the master itself is checked afresh. Change nothing and a
rerun reuses what it read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import fields
from decimal import Decimal
from operator import attrgetter
from pathlib import Path

from . import __version__
from .check import CheckSettings, Outcome
from .findings import Code, Finding
from .model import Registry, Round
from .read import Limits
from .snapshot import Basis, Pick
from .store import atomic_write
from .workspace import ENTRY_FIELDS, _entry_values, entry_from_record


def context_key(rnd: Round, history: Path | None, limits: Limits, settings: CheckSettings | None = None) -> str:
    """What every check of a round depends on, the registry apart (that is each outcome's :class:`Pick`)."""
    digest = hashlib.sha256()
    for part in (__version__, rnd.name, rnd.cutoff.isoformat(), rnd.deadline.isoformat(), repr(limits),
                 (settings or CheckSettings()).cache_key()):
        digest.update(part.encode("utf-8") + b"\x1f")
    if history is not None and history.exists():
        digest.update(history.read_bytes())
    return digest.hexdigest()[:16]


class OutcomeCache:
    """Outcomes by file content; ``valid(pick)`` says whether one checked under ``pick`` still stands."""

    def __init__(self, folder: Path, key: str, registry: Registry,
                 valid: Callable[[Pick], bool] = lambda _pick: True):
        self.folder = folder
        self.key = key
        self.registry = registry
        self.valid = valid

    def _path(self, sha256: str) -> Path:
        return self.folder / f"{sha256[:32]}-{self.key}.json"

    def get(self, sha256: str, file_name: str) -> tuple[Outcome, Pick] | None:
        """The stored outcome (re-labelled with ``file_name``) and the registry it was checked
        against; None when there is none, or it was checked against another registry than the
        round would use now."""
        path = self._path(sha256)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            against = data["against"]
            pick = Pick(snapshot=against["snapshot"], basis=Basis(against["basis"]), stamp=against["stamp"])
            if not self.valid(pick):
                return None
            return _load(data, file_name, self.registry), pick
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged or older cache entry is simply ignored

    def put(self, sha256: str, outcome: Outcome, pick: Pick) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # json.dumps, not json.dump: only the one-shot encoder is json's C encoder
        text = json.dumps({**_dump(outcome), "against": {"snapshot": pick.snapshot, "basis": pick.basis.value,
                                                         "stamp": pick.stamp}}, ensure_ascii=False)
        with atomic_write(self._path(sha256), "w", durable=False) as fh:  # a lost entry is re-read, not wrong
            fh.write(text)


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))
_finding_values = attrgetter(*_FINDING_FIELDS)


def _dump(outcome: Outcome) -> dict:
    """The outcome as JSON data, built field by field (``dataclasses.asdict`` deep-copies every value).

    Its entries are rows of their values, in the order ``fields`` names (the field names once, not
    once an entry: a third less to encode); an entry saved as an object by the earlier code loads too."""
    findings = []
    for f in outcome.findings:
        item = dict(zip(_FINDING_FIELDS, _finding_values(f), strict=True))
        item["code"] = f.code.name
        findings.append(item)
    return {
        "file": outcome.file,
        "unit_code": outcome.unit.code if outcome.unit else "",
        "unit_name": outcome.unit_name,
        "round": outcome.round,
        "findings": findings,
        "fields": ENTRY_FIELDS,
        "entries": [[str(v) if isinstance(v, Decimal) else v for v in _entry_values(e)] for e in outcome.entries],
    }


def _load(data: dict, file_name: str, registry: Registry) -> Outcome:
    """The stored outcome, re-labelled with the name the file has now."""
    old = data["file"]
    out = Outcome(file=file_name, unit=registry.unit_by_code(data["unit_code"]) if data["unit_code"] else None,
                  unit_name=data["unit_name"], round=data["round"])
    for item in data["findings"]:
        item = dict(item)
        item["code"] = Code[item["code"]]
        item["file"] = file_name
        item["message"] = item["message"].replace(f"文件“{old}”", f"文件“{file_name}”", 1)
        out.findings.append(Finding(**item))
    fields = data.get("fields")
    for item in data["entries"]:
        if fields is not None:
            item = dict(zip(fields, item, strict=True))
        item["file"] = file_name
        out.entries.append(entry_from_record(item, strict=True))  # a field no longer known: re-read
    return out
