"""Checked returns remembered by content, so a file already seen is not processed twice.

A merge reads and checks each inbox file once; the outcome (findings and entries)
is stored under ``rounds/<轮次>/.ducha/cache/`` keyed by the file's sha256 *and*
by everything the check depended on: the master workbook, the previous round's
accepted figures, the limits and the toolkit version. Change any of these and the
file is checked afresh; change nothing and a rerun reuses what it read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path

from . import __version__
from .check import Outcome
from .findings import Code, Finding
from .model import Entry, Registry
from .reader import Limits
from .store import atomic_write


def context_key(registry: Registry, round_name: str, history: Path | None, limits: Limits) -> str:
    digest = hashlib.sha256()
    for part in (__version__, round_name, repr(limits)):
        digest.update(part.encode("utf-8") + b"\x1f")
    digest.update(registry.path.read_bytes())
    if history is not None and history.exists():
        digest.update(history.read_bytes())
    return digest.hexdigest()[:16]


class OutcomeCache:
    def __init__(self, folder: Path, key: str, registry: Registry):
        self.folder = folder
        self.key = key
        self.registry = registry

    def _path(self, sha256: str) -> Path:
        return self.folder / f"{sha256[:32]}-{self.key}.json"

    def get(self, sha256: str, file_name: str) -> Outcome | None:
        path = self._path(sha256)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return _load(data, file_name, self.registry)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged cache entry is simply ignored

    def put(self, sha256: str, outcome: Outcome) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(self._path(sha256), "w", durable=False) as fh:  # a lost entry is re-read, not wrong
            json.dump(_dump(outcome), fh, ensure_ascii=False)


def _dump(outcome: Outcome) -> dict:
    return {
        "file": outcome.file,
        "unit_code": outcome.unit.code if outcome.unit else "",
        "unit_name": outcome.unit_name,
        "round": outcome.round,
        "findings": [{**asdict(f), "code": f.code.name} for f in outcome.findings],
        "entries": [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(e).items()}
                    for e in outcome.entries],
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
    for item in data["entries"]:
        for key in ("value", "base", "last_year"):
            if item.get(key) is not None:
                item[key] = Decimal(item[key])
        item["file"] = file_name
        out.entries.append(Entry(**item))
    return out
