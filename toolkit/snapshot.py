"""A round's registry, frozen when its templates are issued.

The office may edit ``master.xlsx`` after the templates went out: correct a
target, rename an indicator, add one, change 万元 to 亿元. Departments fill in the
template they were sent, so their returns are checked against the registry that
template was built from, never blamed for the office's edit; the merge then uses
the registry as it is now, and the edit is reported to the office.

* :func:`issue_templates` writes a round's templates (all, or with
  ``changed_only`` only those of units whose rows changed since their last issue)
  and stores the master workbook's bytes beside them, content-addressed, in
  ``rounds/<轮次>/.ducha/snapshots/<id>.xlsx``, with an index of which unit got
  which snapshot when (``index.json``). Each template names its snapshot in the
  hidden sheet (``台账快照``).
* :class:`RoundContext` picks, for each return, the registry it is checked
  against (:class:`Pick`): the snapshot its template names; for a template issued
  before snapshots existed, the stored snapshot its rows match; for a file rebuilt
  by hand, the latest snapshot issued to its unit; else the master as it is now.
  :meth:`RoundContext.settle` turns the winning returns into entries in the
  current registry's terms (units converted, rows the office removed dropped),
  the (指标编号, 单位名称) pairs that are 待补报, and the :class:`RegistryChange`
  records the office is told about (:func:`render_changes`).
* Figures are converted between units of one base (万元/亿元, 人/万人) by
  :func:`toolkit.workspace.rescale`, with the unit table of :mod:`toolkit.values`.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from .check import CheckContext, Outcome
from .errors import DuchaError, WorkspaceError
from .formatting import cn_month_day, format_count
from .intake import ReturnFile
from .model import TOTAL, Entry, Indicator, Registry, Round, Unit
from .registry import load_registry
from .store import WorkspaceLock, atomic_write
from .templates import (
    LOCKED_COLUMNS,
    SNAPSHOT_KEY,
    TemplateResult,
    canon,
    locked_values,
    template_prints,
    write_templates,
)
from .workspace import Workspace, measure_factor, rescale

INDEX = "index.json"
SUFFIX = ".xlsx"


def snapshot_id(data: bytes) -> str:
    """The id of a registry snapshot: the first 16 hex digits of the master's sha256."""
    return hashlib.sha256(data).hexdigest()[:16]


# ---------------------------------------------------------------------------------------
# the store: snapshots and who got which when


@dataclass(frozen=True)
class Issue:
    """One template issued: to which unit, from which snapshot, when."""

    snapshot: str
    unit_code: str
    unit_name: str
    at: datetime
    template: str  # file name written in rounds/<轮次>/templates/


class SnapshotStore:
    """``rounds/<轮次>/.ducha/snapshots/``: master workbooks by id, and the index of issues."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, sid: str) -> Path:
        return self.folder / f"{sid}{SUFFIX}"

    def has(self, sid: str) -> bool:
        return bool(sid) and all(c in "0123456789abcdef" for c in sid) and self.path(sid).is_file()

    def ids(self) -> list[str]:
        """Every stored snapshot: those on the index first, in order of issue, then any other."""
        seen = list(dict.fromkeys(i.snapshot for i in self.issues() if self.has(i.snapshot)))
        others = sorted(p.stem for p in self.folder.glob(f"*{SUFFIX}") if p.stem not in seen and self.has(p.stem)) \
            if self.folder.is_dir() else []
        return seen + others

    def save(self, data: bytes) -> str:
        """Store a master workbook's bytes (once per content); returns its id."""
        sid = snapshot_id(data)
        path = self.path(sid)
        if not path.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_write(path) as fh:
                fh.write(data)
        return sid

    def issues(self) -> list[Issue]:
        path = self.folder / INDEX
        if not path.is_file():
            return []
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return [Issue(snapshot=i["snapshot"], unit_code=i["unit_code"], unit_name=i["unit_name"],
                          at=datetime.fromisoformat(i["at"]), template=i.get("template", ""))
                    for i in data.get("issues", [])]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return []  # a damaged index: templates still name their snapshot

    def record(self, new: list[Issue]) -> None:
        """Add issues to the index (written whole, atomically)."""
        items = [*self.issues(), *new]
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.folder / INDEX, "w") as fh:
            json.dump({"issues": [{"snapshot": i.snapshot, "unit_code": i.unit_code, "unit_name": i.unit_name,
                                   "at": i.at.isoformat(timespec="seconds"), "template": i.template}
                                  for i in items]}, fh, ensure_ascii=False, indent=1)

    def digest(self) -> str:
        path = self.folder / INDEX
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        except OSError:
            return ""


class IssueLog:
    """The index of a round's issues, looked up by unit in constant time."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        self._by_code: dict[str, Issue] = {}
        self._by_name: dict[str, Issue] = {}
        self._first: dict[tuple[str, str], datetime] = {}
        for issue in issues:  # in order of issue: the last one wins
            if issue.unit_code:
                self._by_code[issue.unit_code] = issue
            self._by_name[issue.unit_name] = issue
            for key in ((issue.snapshot, issue.unit_name), (issue.snapshot, "")):
                if key not in self._first or issue.at < self._first[key]:
                    self._first[key] = issue.at

    def __bool__(self) -> bool:
        return bool(self.issues)

    def latest(self, unit: Unit | str) -> Issue | None:
        """The last issue to a unit (matched by code, else by name)."""
        if isinstance(unit, Unit):
            return self._by_code.get(unit.code) or self._by_name.get(unit.name)
        return self._by_name.get(unit)

    def first_at(self, sid: str, unit_name: str) -> datetime | None:
        """When a snapshot first went to a unit (else when it first went to anyone)."""
        return self._first.get((sid, unit_name)) or self._first.get((sid, ""))

    def to(self, unit_name: str) -> list[str]:
        """Snapshots issued to a unit, latest first."""
        return list(dict.fromkeys(i.snapshot for i in reversed(self.issues) if i.unit_name == unit_name))


def _unit_in(registry: Registry, unit: Unit) -> Unit | None:
    return registry.unit_by_code(unit.code) or registry.units.get(unit.name)


# ---------------------------------------------------------------------------------------
# what changed between a snapshot and the master as it is now


class ChangeKind(str, enum.Enum):
    """What the office changed in the registry after a template was issued."""

    ADDED = "新增指标"
    REMOVED = "删除指标"
    REPORTER_ADDED = "新增填报单位"
    REPORTER_REMOVED = "取消填报单位"
    TARGET = "年度目标"
    NAME = "指标名称"
    MEASURE = "计量单位"
    KIND = "指标类型"
    TASK = "重点工作"


@dataclass(frozen=True)
class RegistryChange:
    """One change of one indicator, for the units whose issued templates still show the old row."""

    kind: ChangeKind
    code: str  # 指标编号
    name: str  # 指标名称 now (as issued, for a removed indicator)
    sheet: str
    before: Decimal | str | None
    after: Decimal | str | None
    units: tuple[str, ...]  # 单位名称; 合计 for the target of an indicator several units report
    since: datetime | None  # when the snapshot the change is measured from was issued

    def __str__(self) -> str:
        return render_change(self)

    @property
    def pending(self) -> bool:
        """Units' figures for this row cannot be used as returned: they are asked to report it (待补报)."""
        if self.kind is ChangeKind.MEASURE:
            return measure_factor(str(self.before or ""), str(self.after or "")) is None
        return self.kind in (ChangeKind.ADDED, ChangeKind.REPORTER_ADDED, ChangeKind.KIND)


def _row_changes(old: Indicator, new: Indicator, unit: str) -> list[tuple[ChangeKind, object, object, str]]:
    out: list[tuple[ChangeKind, object, object, str]] = []
    if (old.task_no, old.task) != (new.task_no, new.task):
        out.append((ChangeKind.TASK, old.task, new.task, unit))
    if old.name != new.name:
        out.append((ChangeKind.NAME, old.name, new.name, unit))
    if old.kind != new.kind:
        out.append((ChangeKind.KIND, old.kind, new.kind, unit))
    if old.unit != new.unit:
        out.append((ChangeKind.MEASURE, old.unit, new.unit, unit))
    if old.target_for(unit) != new.target_for(unit):
        out.append((ChangeKind.TARGET, old.target_for(unit), new.target_for(unit), unit))
    if len(new.reporters) > 1 and old.target != new.target:
        out.append((ChangeKind.TARGET, old.target, new.target, TOTAL))
    return out


def diff_unit(base: Registry, current: Registry, unit: str) -> list[tuple[ChangeKind, Indicator, object, object, str]]:
    """How one unit's rows differ between a snapshot and the current registry:
    (kind, indicator, before, after, unit) in registry order."""
    old = {ind.code: ind for ind in base.rows_for(unit)}
    new = {ind.code: ind for ind in current.rows_for(unit)}
    out: list[tuple[ChangeKind, Indicator, object, object, str]] = []
    for code, ind in new.items():
        if code not in old:
            kind = ChangeKind.ADDED if base.indicator(code) is None else ChangeKind.REPORTER_ADDED
            out.append((kind, ind, None, None, unit))
        else:
            out.extend((k, ind, b, a, u) for k, b, a, u in _row_changes(old[code], ind, unit))
    for code, ind in old.items():
        if code not in new:
            kind = ChangeKind.REMOVED if current.indicator(code) is None else ChangeKind.REPORTER_REMOVED
            out.append((kind, ind, None, None, unit))
    return out


def collect_changes(baselines: Mapping[str, tuple[Registry, datetime | None]], current: Registry
                    ) -> list[RegistryChange]:
    """Change records for units measured against their baselines, one per (change, indicator, values),
    naming every unit it concerns; in registry order, removed indicators last."""
    grouped: dict[tuple, dict] = {}
    for unit, (base, since) in baselines.items():
        for kind, ind, before, after, who in diff_unit(base, current, unit):
            key = (kind, ind.code, before, after)
            slot = grouped.setdefault(key, {"ind": ind, "units": [], "since": since})
            if who not in slot["units"]:
                slot["units"].append(who)
            if since is not None and (slot["since"] is None or since < slot["since"]):
                slot["since"] = since
    order = {ind.code: i for i, ind in enumerate(current.indicators())}
    kinds = list(ChangeKind)
    changes = [RegistryChange(kind=k, code=code, name=slot["ind"].name, sheet=slot["ind"].sheet,
                              before=before, after=after, units=tuple(slot["units"]), since=slot["since"])
               for (k, code, before, after), slot in grouped.items()]
    changes.sort(key=lambda c: (order.get(c.code, len(order)), c.code, kinds.index(c.kind)))
    return changes


# ---------------------------------------------------------------------------------------
# rendering for the office


def _value(value: object) -> str:
    if value is None or value == "":
        return "空"
    if isinstance(value, Decimal):
        return format_count(value)
    return str(value)


def _when(since: datetime | None) -> str:
    if since is None:
        return "模板下发后"
    return f"{cn_month_day(since)} {since:%H:%M} 下发模板后"


def render_change(change: RegistryChange) -> str:
    """One change as a sentence for the office (the check report, the terminal, the summary)."""
    c = change
    what = f"指标 {c.code}“{c.name}”"
    units = "、".join(c.units)
    when = f"（{_when(c.since)}修改，涉及 {units}）"
    again = "可运行 ducha templates --changed 只向相关单位重发模板。"
    if c.kind is ChangeKind.ADDED:
        return f"新增{what}（{_when(c.since)}新增，填报单位 {units}）：已报送的报表中没有该项，列为“待补报”。{again}"
    if c.kind is ChangeKind.REMOVED:
        return f"{what}已从任务台账删除（{_when(c.since)}删除，涉及 {units}）：已报送的该项数据不再汇总。"
    if c.kind is ChangeKind.REPORTER_ADDED:
        return f"{what}新增填报单位 {units}（{_when(c.since)}修改）：其已报送的报表中没有该项，列为“待补报”。{again}"
    if c.kind is ChangeKind.REPORTER_REMOVED:
        return f"{what}不再由 {units} 填报（{_when(c.since)}修改）：其已报送的该项数据不再汇总。"
    if c.kind in (ChangeKind.NAME, ChangeKind.TASK):
        label = "名称" if c.kind is ChangeKind.NAME else "所属重点工作"
        return (f"指标 {c.code} 的{label}由“{_value(c.before)}”改为“{_value(c.after)}”{when}："
                "汇总表和报告使用新名称，相关单位无需重报。")
    if c.kind is ChangeKind.TARGET and c.units == (TOTAL,):
        return (f"{what}的总目标（{TOTAL}）由 {_value(c.before)} 改为 {_value(c.after)}（{_when(c.since)}修改）："
                "本轮按新目标计算。")
    head = f"{what}的{c.kind.value}由 {_value(c.before)} 改为 {_value(c.after)}{when}"
    if c.kind is ChangeKind.TARGET:
        return f"{head}：本轮按新目标计算，相关单位无需重报。"
    if c.kind is ChangeKind.MEASURE:
        if c.pending:
            return f"{head}：两种单位无法换算，按原单位填报的数值未计入，列为“待补报”。{again}"
        return f"{head}：按原单位填报的数值已换算为{_value(c.after)}，相关单位无需重报。"
    return f"{head}：按原类型填报的数据不再适用，列为“待补报”。{again}"  # KIND


def render_changes(changes: list[RegistryChange]) -> list[str]:
    """Every change as a line, after one line saying what they are; [] when nothing changed."""
    if not changes:
        return []
    head = f"任务台账在模板下发后有 {len(changes)} 处修改（均不计为填报单位的问题）："
    return [head, *(f"{i}. {render_change(c)}" for i, c in enumerate(changes, start=1))]


# ---------------------------------------------------------------------------------------
# which registry a return is checked against


class Basis(str, enum.Enum):
    """How the registry a return was checked against was chosen."""

    TEMPLATE = "模板所记台账快照"  # the 台账快照 key of its hidden sheet
    FINGERPRINT = "按模板指纹匹配"  # a template without the key, whose rows match a stored snapshot
    ISSUED = "最近下发的台账快照"  # a file without template identity: its unit's latest issue
    MASTER = "当前任务台账"  # no snapshot on record (or none matches): the master as it is now
    NONE = "未读取"  # the file could not be read; no registry was used


#: Picks that depend on the round's index or the current master, not on the file alone.
_MOVABLE = (Basis.ISSUED, Basis.MASTER)


@dataclass(frozen=True)
class Pick:
    """The registry one return is checked against."""

    snapshot: str  # snapshot id ('' when no registry was used)
    basis: Basis
    stamp: str = ""  # for ISSUED/MASTER: the state of index and master the choice was made in


@dataclass
class Settled:
    """The winning returns of a round in the current registry's terms."""

    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    pending: frozenset[tuple[str, str]] = frozenset()  # (指标编号, 单位名称) to be reported: 待补报
    changes: list[RegistryChange] = field(default_factory=list)


class RoundContext:
    """What checking a round's returns depends on beyond each file: the registry snapshots of
    the round, the current registry, and the previous round's accepted figures."""

    def __init__(self, ws: Workspace, registry: Registry, rnd: Round):
        self.ws = ws
        self.current = registry
        self.round = rnd
        self.store = SnapshotStore(ws.snapshots(rnd.name))
        self.issues = IssueLog(self.store.issues())
        self.ids = self.store.ids()
        self.current_id = snapshot_id(registry.path.read_bytes())
        self.stamp = hashlib.sha256(f"{self.store.digest()}|{self.current_id}".encode()).hexdigest()[:16]
        self.previous_round = ws.previous_round(registry, rnd)
        self.settings = ws.check_settings()  # ducha.toml [checks]
        self.history: Path | None = ws.state(self.previous_round.name) / "entries.json" \
            if self.previous_round else None
        self._registries: dict[str, Registry | None] = {self.current_id: registry}
        self._previous: dict[str, dict[tuple[str, str], Entry] | None] = {}

    # -- registries -------------------------------------------------------------------------
    def registry(self, sid: str) -> Registry | None:
        """A stored snapshot's registry (the current one for the current master's id)."""
        if sid not in self._registries:
            reg = None
            if self.store.has(sid):
                try:
                    reg = load_registry(self.store.path(sid))
                except DuchaError:
                    reg = None  # unreadable by this version: its returns are checked as before
            self._registries[sid] = reg
        return self._registries[sid]

    def registry_for(self, pick: Pick) -> Registry:
        if pick.basis in (Basis.MASTER, Basis.NONE):
            return self.current
        return self.registry(pick.snapshot) or self.current

    def pick(self, ret: ReturnFile | None) -> Pick:
        """The registry ``ret`` is checked against (see :class:`Basis`)."""
        if ret is None:
            return Pick("", Basis.NONE)
        master = Pick(self.current_id, Basis.MASTER, self.stamp)
        if not self.ids:
            return master
        if ret.meta is not None:
            key = ret.meta.get(SNAPSHOT_KEY, "")
            for sid in dict.fromkeys([key, *self.ids] if key else self.ids):
                reg = self.registry(sid)
                unit = self._unit(reg, ret) if reg is not None else None
                if reg is not None and unit is not None and template_prints(reg, unit) == ret.layout:
                    return Pick(sid, Basis.TEMPLATE if sid == key else Basis.FINGERPRINT)
            return master
        # A file rebuilt by hand: the snapshot issued to its unit that its rows agree with best.
        best, score = "", -1
        for sid in self.issues.to(ret.unit_name) if ret.unit_name else []:
            reg = self.registry(sid)
            if reg is not None and (agree := _agreement(reg, ret)) > score:
                best, score = sid, agree
        return Pick(best, Basis.ISSUED, self.stamp) if best else master

    @staticmethod
    def _unit(reg: Registry, ret: ReturnFile) -> Unit | None:
        unit = reg.unit_by_code(ret.unit_code) if ret.unit_code else None
        return unit or reg.units.get(ret.unit_name)

    def valid(self, pick: Pick) -> bool:
        """Whether an outcome checked under ``pick`` still stands: a file whose template names
        its snapshot is judged against it for good; other choices last while the round's
        index and the master stay as they were."""
        if pick.basis is Basis.NONE:
            return True
        if pick.basis in _MOVABLE:
            return pick.stamp == self.stamp
        return self.store.has(pick.snapshot)

    # -- checking ---------------------------------------------------------------------------
    def previous(self, registry: Registry) -> dict[tuple[str, str], Entry] | None:
        """The previous round's accepted entries in ``registry``'s units (None: no history)."""
        key = str(registry.path)
        if key not in self._previous:
            self._previous[key] = self.ws.load_entries(self.previous_round.name, registry) \
                if self.previous_round else None
        return self._previous[key]

    @property
    def has_history(self) -> bool:
        return self.previous(self.current) is not None

    def check_context(self, pick: Pick) -> CheckContext:
        registry = self.registry_for(pick)
        previous = self.previous(registry)
        return CheckContext(registry=registry, round=self.round, previous=previous or {},
                            has_history=previous is not None, settings=self.settings)

    def for_return(self, ret: ReturnFile) -> CheckContext:
        return self.check_context(self.pick(ret))

    # -- the merge ----------------------------------------------------------------------------
    def settle(self, winners: Mapping[str, tuple[Outcome, Pick]]) -> Settled:
        """Entries of the winning returns in the current registry's terms, what is 待补报, and
        the changes since each unit's template was issued."""
        current = self.current
        entries: dict[tuple[str, str], Entry] = {}
        pending: set[tuple[str, str]] = set()
        now = _by_code(current)
        tables: dict[str, dict[str, Indicator]] = {}
        for unit, (outcome, pick) in winners.items():
            source = self.registry_for(pick)
            if source is current:  # the usual case: entries as they are, nothing 待补报
                for entry in outcome.entries:
                    entries[(entry.code, entry.unit)] = entry
                continue
            if str(source.path) not in tables:
                tables[str(source.path)] = _by_code(source)
            then = tables[str(source.path)]
            kept = set()
            for entry in outcome.entries:
                adapted = _adapt(entry, then.get(entry.code), now.get(entry.code))
                if adapted is not None:
                    entries[(adapted.code, adapted.unit)] = adapted
                    kept.add(adapted.code)
            pending.update((ind.code, unit) for ind in current.rows_for(unit) if ind.code not in kept)
        return Settled(entries=entries, pending=frozenset(pending), changes=self.changes(winners))

    def changes(self, winners: Mapping[str, tuple[Outcome, Pick]] | None = None) -> list[RegistryChange]:
        """Changes of the registry since each unit's template: measured from the snapshot its
        winning return was checked against, else from the latest one issued to it (a unit never
        issued one is measured from the round's first snapshot); [] when nothing was issued."""
        if not self.issues:
            return []
        winners = winners or {}
        baselines: dict[str, tuple[Registry, datetime | None]] = {}
        first = self.issues.issues[0]
        names = [u.name for u in self.current.reporting_units()]
        names += [i.unit_name for i in self.issues.issues]
        for name in dict.fromkeys(names):
            if name in winners:
                pick = winners[name][1]
                if pick.basis in (Basis.NONE, Basis.MASTER):
                    continue
                sid = pick.snapshot
            else:
                issue = self.issues.latest(self.current.units.get(name) or name)
                sid = issue.snapshot if issue is not None else first.snapshot
            base = self.registry(sid)
            if base is not None and base is not self.current:
                baselines[name] = (base, self.issues.first_at(sid, name))
        return collect_changes(baselines, self.current)


def _agreement(registry: Registry, ret: ReturnFile) -> int:
    """How well a return without template identity fits a registry: 2 its rows and their locked
    cells, 1 its rows only, 0 not even its rows."""
    rows = {ind.code: ind for ind in registry.rows_for(ret.unit_name)}
    present = [r for r in ret.rows if r.code]
    if sorted(r.code for r in present) != sorted(rows):
        return 0
    stub = Unit(code="", name=ret.unit_name)
    for row in present:
        wanted = locked_values(rows[row.code], stub, False)
        for col, want, typed in zip(LOCKED_COLUMNS, wanted, row.locked(), strict=True):
            if col not in ("任务编号", "重点工作") and col in row.columns and canon(want) != canon(typed):
                return 1
    return 2


def _by_code(registry: Registry) -> dict[str, Indicator]:
    return {ind.code: ind for ind in registry.indicators()}


def _adapt(entry: Entry, old: Indicator | None, new: Indicator | None) -> Entry | None:
    """An entry checked against the row ``old`` in the terms of the row ``new`` as it is now; None
    when it no longer counts (the row was removed, or its type or unit changed beyond conversion)."""
    if new is None or entry.unit not in new.reporters:
        return None
    if old is None:
        return entry
    if old.kind != new.kind:
        return None
    return rescale(entry, old.unit, new.unit)


# ---------------------------------------------------------------------------------------
# issuing a round's templates


@dataclass
class IssueResult:
    """What ``ducha templates`` did."""

    round: Round
    at: datetime
    snapshot: str  # '' when nothing was written
    templates: list[TemplateResult] = field(default_factory=list)
    unchanged: list[Unit] = field(default_factory=list)  # changed_only: units whose rows are as issued
    changes: list[RegistryChange] = field(default_factory=list)  # changed_only: what changed since issue
    first_issue: bool = True  # no earlier issue of this round is on record


def issue_templates(ws: Workspace, round_name: str | None = None, *, now: datetime | None = None,
                    changed_only: bool = False) -> IssueResult:
    """Issue a round's templates: write them, store the master they were built from, record who
    got which snapshot when. ``changed_only``: only to the units whose rows differ from the
    template last issued to them (every unit when nothing was issued before)."""
    now = now or datetime.now()
    registry, data = _stable_master(ws)
    rnd = ws.pick_round(registry, round_name, now.date())
    with WorkspaceLock(ws.root, purpose=f"生成模板 {rnd.name}"):
        ws.make_round_dirs(rnd.name)
        store = SnapshotStore(ws.snapshots(rnd.name))
        issues = IssueLog(store.issues())
        units = registry.reporting_units()
        result = IssueResult(round=rnd, at=now, snapshot="", first_issue=not issues)
        if changed_only and issues:
            context = RoundContext(ws, registry, rnd)
            baselines: dict[str, tuple[Registry, datetime | None]] = {}
            chosen = []
            for unit in units:
                issue = issues.latest(unit)
                base = context.registry(issue.snapshot) if issue is not None else None
                base_unit = _unit_in(base, unit) if base is not None else None
                if base is None or base_unit is None or template_prints(base, base_unit) != template_prints(
                        registry, unit):
                    chosen.append(unit)
                    if base is not None and issue is not None:
                        baselines[unit.name] = (base, issues.first_at(issue.snapshot, unit.name))
                else:
                    result.unchanged.append(unit)
            result.changes = collect_changes(baselines, registry)
            units = chosen
        if units:
            result.snapshot = store.save(data)
            result.templates = write_templates(registry, rnd, ws.templates(rnd.name), units=units, now=now,
                                               snapshot=result.snapshot)
            store.record([Issue(result.snapshot, t.unit.code, t.unit.name, now, t.path.name)
                          for t in result.templates])
    return result


def _stable_master(ws: Workspace) -> tuple[Registry, bytes]:
    """The registry and the very bytes it was read from (the clerk may be saving the file)."""
    for _attempt in range(3):
        before = ws.master.read_bytes() if ws.master.is_file() else b""
        registry = ws.registry()  # a missing or broken master stops here, in the clerk's words
        if registry.path.read_bytes() == before:
            return registry, before
    raise WorkspaceError(f"任务台账 {ws.master.name} 正在被修改。请在 Excel 中保存并关闭后重新运行。")
