"""The workspace: one folder per year, laid out as DESIGN.md fixes it.

::

    DIR/master.xlsx  ducha.toml  rounds/<轮次>/{templates,inbox,archive,feedback,output}/

A round's own records live in ``rounds/<轮次>/.ducha/``: the registry snapshots its
templates were built from (``snapshots/``), the accepted entries the next round is
checked against (``entries.json``), the cache of checked returns.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import pickle
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import Any

from .check import SETTING_HELP, CheckSettings
from .errors import WorkspaceError
from .model import Entry, Registry, Round
from .read import Limits
from .registry import load_registry
from .store import atomic_write
from .values import _clean_unit, _conversion, _shift

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MASTER = "master.xlsx"
#: Each merged round's results, one row per result row, in its output folder (read back by toolkit.year).
RESULTS_CSV = "results.csv"
CONFIG = "ducha.toml"
STATE = ".ducha"
#: Keys of a saved entry naming its indicator's 计量单位 and 指标类型 when it was accepted.
MEASURE, KIND = "计量单位", "指标类型"
#: Entry fields holding Decimals (kept as text in JSON).
DECIMAL_FIELDS = ("value", "rate", "base", "last_year")
#: Every Entry field, in order: an entry is saved as a JSON object with these keys.
ENTRY_FIELDS = tuple(f.name for f in dataclasses.fields(Entry))
_entry_values = attrgetter(*ENTRY_FIELDS)


def entry_record(entry: Entry) -> dict[str, object]:
    """An entry as JSON data: its fields by name, Decimals as their text (what
    ``dataclasses.asdict`` gives, without its deep copy of every value)."""
    return {name: (str(v) if isinstance(v, Decimal) else v)
            for name, v in zip(ENTRY_FIELDS, _entry_values(entry), strict=True)}


def entry_from_record(item: dict, *, strict: bool = False) -> Entry:
    """The entry an :func:`entry_record` (or an older record with fewer fields) holds; keys
    that are no Entry fields are ignored, or with ``strict`` a TypeError."""
    for key in DECIMAL_FIELDS:
        if item.get(key) is not None:
            item[key] = Decimal(item[key])
    return Entry(**item) if strict else Entry(**{k: v for k, v in item.items() if k in _ENTRY_FIELD_SET})


_ENTRY_FIELD_SET = frozenset(ENTRY_FIELDS)


class _NotPlain(Exception):
    """A field :func:`entry_json` does not write itself (json.dumps does)."""


def _plain_json(value: object) -> str:
    """``json.dumps(value, ensure_ascii=False)`` for a field of one of the types an Entry holds
    (a Decimal as its text, as :func:`entry_record` gives it); _NotPlain for anything else."""
    if type(value) is str:
        return _json_text(value)
    kind = type(value)
    if value is None:
        return "null"
    if kind is Decimal:
        return '"' + str(value) + '"'  # digits, '.', 'E', signs, NaN/Infinity: nothing to escape
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    raise _NotPlain


#: json's own encoding of a string (what its C encoder gives with ensure_ascii=False).
_json_text: Callable[[str], str] = json.encoder.encode_basestring
#: Each Entry field's key as json writes it, and how its value is written (a str field: json's
#: string encoding itself, which refuses anything but a str; any other: _plain_json).
_ENTRY_KEYS = tuple(json.dumps(name, ensure_ascii=False) + ": " for name in ENTRY_FIELDS)
_ENTRY_WRITERS: tuple[Callable[[Any], str], ...] = tuple(
    _json_text if f.type in ("str", str) else _plain_json for f in dataclasses.fields(Entry))


def entry_json(entry: Entry, extra: dict[str, object] | None = None, extra_json: str = "") -> str:
    """``json.dumps(entry_record(entry) | extra, ensure_ascii=False)``, built without the dict
    and the encoder json makes for every call (80,000 entries in a province). ``extra_json``:
    the same ``extra`` as the pairs json writes for it (``', "k": "v"'``), worked out once by
    :func:`_extra_json`. An entry with a field of another type than its own goes through json."""
    try:
        pairs = [key + write(value)
                 for key, write, value in zip(_ENTRY_KEYS, _ENTRY_WRITERS, _entry_values(entry), strict=True)]
    except (_NotPlain, TypeError):
        record = entry_record(entry)
        record.update(extra or {})
        return json.dumps(record, ensure_ascii=False)
    return "{" + ", ".join(pairs) + extra_json + "}"


def _extra_json(extra: dict[str, object]) -> str:
    """The pairs json writes for ``extra`` after an entry's own (``', "k": "v"'``; '' for none)."""
    return ", " + json.dumps(extra, ensure_ascii=False)[1:-1] if extra else ""


def json_lines(head: dict[str, object], key: str, items: Iterable[str]) -> Iterator[str]:
    """``head`` with ``key`` holding ``items`` (each an item's JSON text) as one JSON document, in
    pieces of an item per line, to be written as they come: no document held whole."""
    yield json.dumps(head, ensure_ascii=False)[:-1] + (", " if head else "") + json.dumps(key) + ": ["
    separator = "\n"
    for item in items:
        yield separator + item
        separator = ",\n"
    yield ("\n" if separator != "\n" else "") + "]}\n"


def _master_key(master: Path) -> str:
    """What a parsed master depends on: its bytes and the code that parses it (every module of
    the toolkit, by size and time: a changed or reinstalled toolkit reads the master again)."""
    digest = hashlib.sha256(master.read_bytes())
    digest.update(_code_stamp().encode())
    digest.update(str(date.today().year).encode())  # a master without 年度 or 轮次 takes this year
    return digest.hexdigest()


@functools.cache
def _code_stamp() -> str:
    package = Path(__file__).parent
    stamps = []
    for source in sorted(package.rglob("*.py")):
        st = source.stat()
        stamps.append(f"{source.relative_to(package)}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(stamps)


@dataclass
class Workspace:
    root: Path

    @property
    def master(self) -> Path:
        return self.root / MASTER

    def round_dir(self, name: str, part: str = "") -> Path:
        base = self.root / "rounds" / name
        return base / part if part else base

    def templates(self, name: str) -> Path:
        return self.round_dir(name, "templates")

    def inbox(self, name: str) -> Path:
        return self.round_dir(name, "inbox")

    def archive(self, name: str) -> Path:
        return self.round_dir(name, "archive")

    def feedback(self, name: str) -> Path:
        return self.round_dir(name, "feedback")

    def output(self, name: str) -> Path:
        return self.round_dir(name, "output")

    def state(self, name: str) -> Path:
        return self.round_dir(name, STATE)

    def snapshots(self, name: str) -> Path:
        """Where the registry snapshots of a round's issued templates are kept (see toolkit.snapshot)."""
        return self.state(name) / "snapshots"

    @property
    def intake_db(self) -> Path:
        return self.root / STATE / "intake.sqlite"

    def make_round_dirs(self, name: str) -> None:
        for part in ("templates", "inbox", "archive", "feedback", "output"):
            self.round_dir(name, part).mkdir(parents=True, exist_ok=True)

    # -- configuration --------------------------------------------------------------
    def config(self) -> dict:
        path = self.root / CONFIG
        if not path.exists():
            return {}
        try:
            with open(path, "rb") as fh:
                return tomllib.load(fh)
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
            raise WorkspaceError(f"配置文件 {path} 格式有误：{exc}。请按 ducha.toml 示例修改。") from exc

    def limits(self) -> Limits:
        section = self.config().get("limits", {})
        fields = {f.name: f for f in dataclasses.fields(Limits)}
        kwargs = {}
        for key, value in section.items():
            if key not in fields:
                raise WorkspaceError(f"ducha.toml 的 [limits] 中没有“{key}”这一项，可用的有：{'、'.join(fields)}。")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise WorkspaceError(f"ducha.toml 的 [limits] {key} 应为正数。")
            kwargs[key] = type(getattr(Limits(), key))(value)
        return Limits(**kwargs)

    def check_settings(self) -> CheckSettings:
        """The thresholds of the checks, from ducha.toml ``[checks]`` (defaults where not set)."""
        section = self.config().get("checks", {})
        if not isinstance(section, dict):
            raise WorkspaceError("ducha.toml 中的 checks 应写成一节：[checks]，下面每行一项，如 magnitude_vs_target = 20。")
        names = [f.name for f in dataclasses.fields(CheckSettings)]
        kwargs = {}
        for key, value in section.items():
            if key not in names:
                known = "；".join(f"{n}（{SETTING_HELP[n]}）" for n in names)
                raise WorkspaceError(f"ducha.toml 的 [checks] 中没有“{key}”这一项，可用的有：{known}。")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 1 \
                    or value != value or value == float("inf"):
                raise WorkspaceError(f"ducha.toml 的 [checks] {key}（{SETTING_HELP[key]}）应为大于 1 的数字，"
                                     f"现为“{value}”。请修改后重新运行。")
            kwargs[key] = Decimal(str(value))
        return CheckSettings(**kwargs)

    # -- registry and rounds ---------------------------------------------------------
    def registry(self) -> Registry:
        """The master workbook, read and checked; kept parsed in ``.ducha/master.pickle`` under the
        hash of its bytes and of the toolkit's code, so an unchanged master loads in a blink
        (a province's master takes a second or more to read)."""
        if not self.root.is_dir():
            raise WorkspaceError(f"工作区文件夹 {self.root} 不存在。请用 -w 指定工作区，或先运行 ducha init。")
        memo = self.root / STATE / "master.pickle"
        try:
            key = _master_key(self.master)
        except OSError:
            return load_registry(self.master)  # missing or unreadable: load_registry says so
        try:
            with open(memo, "rb") as fh:
                saved_key, registry = pickle.load(fh)
            if saved_key == key and isinstance(registry, Registry):
                return registry
        except (OSError, EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError,
                pickle.UnpicklingError):
            pass  # no memo, or one from other code: read the master
        registry = load_registry(self.master)
        try:
            memo.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(memo, durable=False) as fh:
                pickle.dump((key, registry), fh, protocol=pickle.HIGHEST_PROTOCOL)
        except (OSError, WorkspaceError):
            pass  # a read-only workspace still works, only slower
        return registry

    def pick_round(self, registry: Registry, name: str | None, today: date | None = None) -> Round:
        """The named round, or the latest whose 统计截止日期 has passed."""
        if not registry.rounds:
            raise WorkspaceError("任务台账“轮次”工作表中没有任何轮次，请先添加。")
        if name:
            rnd = registry.round(name)
            if rnd is None:
                known = "、".join(r.name for r in registry.rounds)
                raise WorkspaceError(f"没有轮次“{name}”。台账中的轮次有：{known}。")
            return rnd
        today = today or date.today()
        passed = [r for r in registry.rounds if r.cutoff <= today]
        return passed[-1] if passed else registry.rounds[0]

    def previous_round(self, registry: Registry, rnd: Round) -> Round | None:
        earlier = [r for r in registry.rounds if r.cutoff < rnd.cutoff]
        return earlier[-1] if earlier else None

    # -- accepted entries of a round (history for the next round's checks) ---------
    def save_entries(self, name: str, entries: list[Entry], registry: Registry | None = None) -> None:
        """Keep a round's accepted entries; with ``registry``, each with its indicator's 计量单位
        and type, so the next round can convert them when the office changes a unit."""
        folder = self.state(name)
        folder.mkdir(parents=True, exist_ok=True)
        by_code = {ind.code: ind for ind in registry.indicators()} if registry is not None else {}
        # each indicator's 计量单位 and type, and how json writes them, once (not once an entry)
        extras = {code: (extra, _extra_json(extra))
                  for code, extra in ((code, {MEASURE: ind.unit, KIND: ind.kind}) for code, ind in by_code.items())}
        none: tuple[dict[str, object] | None, str] = (None, "")
        lines = (entry_json(e, *extras.get(e.code, none)) for e in entries)
        head: dict[str, object] = {"round": name, "saved": datetime.now().isoformat(timespec="seconds")}
        with atomic_write(folder / "entries.json", "w", encoding="utf-8") as fh:  # durable: not written on a rerun
            pieces: list[str] = []
            for piece in json_lines(head, "entries", lines):
                pieces.append(piece)
                if len(pieces) == 1000:  # written a thousand lines at a time: fewer, larger writes
                    fh.write("".join(pieces))
                    pieces.clear()
            fh.write("".join(pieces))

    def load_entries(self, name: str, registry: Registry | None = None) -> dict[tuple[str, str], Entry] | None:
        """A round's accepted entries by (指标编号, 单位名称); None when the round has none on record.

        With ``registry`` the figures are given in its units (万元 saved, 亿元 now: divided
        by 10 000); an entry whose unit does not convert, or whose indicator changed type,
        is left out, so no comparison is made on it.
        """
        path = self.state(name) / "entries.json"
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        out: dict[tuple[str, str], Entry] = {}
        by_code = {ind.code: ind for ind in registry.indicators()} if registry is not None else {}
        powers: dict[tuple[str, str], int | None] = {}  # (unit saved, unit now) -> measure_factor
        for item in data.get("entries", []):
            entry = entry_from_record(item)
            ind = by_code.get(entry.code)
            if ind is not None and MEASURE in item:  # entries saved before units were recorded: as they are
                if item.get(KIND, ind.kind) != ind.kind:
                    continue
                key = (item[MEASURE], ind.unit)
                if key not in powers:
                    powers[key] = measure_factor(*key)
                converted = _shifted(entry, powers[key])
                if converted is None:
                    continue
                entry = converted
            out[(entry.code, entry.unit)] = entry
        return out


# -- units of measure: a figure kept in one unit, read in another -------------------------


def measure_factor(old: str, new: str) -> int | None:
    """Power of ten turning a figure in unit ``old`` into unit ``new`` (万元 → 亿元: -4);
    0 when they are the same or one is blank; None when they do not convert (家 → 个, % → 万元)."""
    a, b = _clean_unit(old), _clean_unit(new)
    if a == b or not a or not b:
        return 0
    return _conversion(a, b)


def rescale(entry: Entry, old: str, new: str) -> Entry | None:
    """``entry`` with its figures in unit ``new`` (本期完成 and 上年同期; 基数 and a typed rate
    are counts and percentages, unchanged); None when the units do not convert."""
    return _shifted(entry, measure_factor(old, new))


def _shifted(entry: Entry, power: int | None) -> Entry | None:
    """``entry`` with 本期完成 and 上年同期 times ten to ``power``; None for no conversion."""
    if power is None:
        return None
    if power == 0:
        return entry
    return dataclasses.replace(
        entry, value=None if entry.value is None else _shift(entry.value, power),
        last_year=None if entry.last_year is None else _shift(entry.last_year, power))


def find_workspace(start: Path | None = None) -> Path:
    """The folder given, or the nearest folder upwards holding master.xlsx."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / MASTER).exists():
            return folder
    return start
