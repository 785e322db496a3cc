"""The round's standing: every fact a writer renders, computed once.

A merge reads and checks the returns, then :func:`build_standing` works out, in one
place, everything a person is told about the round:

* each file's fate (:class:`Fate`: accepted, superseded, duplicate, rejected, empty,
  attachment) and whether it still needs the department to act (``pending``);
* each unit's state (:class:`UnitState`: 按时报送, 逾期报送, 空表, 被拒收, 未报送), the return
  that counts, what the office does next (:class:`Action`);
* each indicator's result rows (judged on exact values in :mod:`toolkit.indicators`),
  the headline row per indicator, counts by :class:`Status` and by group, the lagging
  items worst first with the units that pull a total down, the rows held for correction;
* what needs attention, and whether the run must end with exit code 1.

Every writer (summary, ledger, check report, results.csv, Word report, replies,
terminal, ``ducha status``) renders a :class:`Standing` and derives nothing again, so
the report and the summary cannot disagree.
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from .findings import Code, Finding, FindingCounts, Level
from .model import Registry, ResultRow, Round, Status, Submission, Unit

__all__ = [
    "ATTENTION",
    "GROUPS",
    "Action",
    "Fate",
    "FileStanding",
    "LagItem",
    "Standing",
    "StatusGroup",
    "UnitStanding",
    "UnitState",
    "build_standing",
]


class _Label(str, enum.Enum):
    """An enum whose members print as their Chinese label."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class UnitState(_Label):
    """How a unit stands in a round."""

    ON_TIME = "按时报送"
    LATE = "逾期报送"
    EMPTY = "空表"  # sent only untouched or empty templates: not a return
    REJECTED = "被拒收"
    MISSING = "未报送"

    @property
    def reported(self) -> bool:
        return self in (UnitState.ON_TIME, UnitState.LATE)


class Fate(_Label):
    """What became of one file that entered the round."""

    ACCEPTED = "接受"  # the return that counts for its unit
    SUPERSEDED = "已被替代"  # accepted, but a later return of the same unit replaced it
    DUPLICATE = "重复"  # the same content as a file already taken
    REJECTED = "拒收"
    EMPTY = "空表"
    ATTACHMENT = "附件"  # not a spreadsheet (a cover letter …): recorded, not read
    WITHDRAWN = "已撤回"


class Action(_Label):
    """What the office does next about a unit."""

    CHASE = "催报"
    RESEND = "通知重报"
    CORRECT = "通知更正"
    REVIEW = "核对提示"
    NONE = "无"


@dataclass(frozen=True)
class StatusGroup:
    """Statuses a sentence names together (the report's opening), with the group's name."""

    name: str
    statuses: tuple[Status, ...]


#: The report's opening says the counts by these groups; together they cover every status once.
GROUPS: tuple[StatusGroup, ...] = (
    StatusGroup("已完成", (Status.DONE,)),
    StatusGroup("正常推进", (Status.ON_TRACK, Status.MET, Status.IN_PROGRESS)),
    StatusGroup("进度滞后", (Status.LAGGING, Status.NOT_MET)),
    StatusGroup("逾期", (Status.OVERDUE,)),
    StatusGroup("尚未启动", (Status.NOT_STARTED,)),
    StatusGroup("数据待更正", (Status.PENDING,)),
    StatusGroup("待补报", (Status.TO_ADD,)),
    StatusGroup("未报送", (Status.MISSING,)),
)
#: Statuses a leader must look at, worst first.
ATTENTION: tuple[Status, ...] = (Status.OVERDUE, Status.LAGGING, Status.NOT_MET)
#: Codes of findings a merge adds about a file's place in the round (not the department's doing).
MERGE_NOTICES = (Code.W308, Code.W309, Code.W312, Code.W315)
#: Codes that make a file an untouched/empty template rather than a rejected one.
EMPTY_CODES = frozenset({"F116"})


@dataclass
class FileStanding(FindingCounts):
    """One file and what became of it."""

    submission: Submission
    fate: Fate
    findings: list[Finding] = field(default_factory=list)  # the department's own (not merge notes)
    pending: bool = False  # the department still has to act on this file

    @property
    def rejects(self) -> list[Finding]:
        return [f for f in self.findings if f.level is Level.REJECT]


@dataclass
class UnitStanding:
    """One unit: its state, the return that counts, every file it sent, what to do next."""

    name: str  # 单位名称, '' for files no unit could be found for
    unit: Unit | None
    state: UnitState
    expected: bool  # the unit has rows to report this round
    chosen: FileStanding | None  # the return that counts (or the latest refused file)
    files: list[FileStanding] = field(default_factory=list)  # in arrival order
    action: Action = Action.NONE
    pending_rows: int = 0  # rows of the chosen return held for correction
    findings: list[Finding] = field(default_factory=list)  # every finding about its files, merge notes too
    rows: int = 0  # indicators the unit reports this round
    lagging: int = 0  # of them, how many are 逾期, 滞后 or 未达标 (the unit's own rows)

    @property
    def late(self) -> bool:
        return self.state is UnitState.LATE


@dataclass
class LagItem:
    """A headline row a leader must look at, or a total on track hiding parts that lag."""

    row: ResultRow
    lagging_parts: list[ResultRow] = field(default_factory=list)

    @property
    def hidden(self) -> bool:
        """The total itself is not lagging; some of its units are."""
        return self.row.status not in ATTENTION


@dataclass(frozen=True)
class CategoryRound:
    """One category in one merged round: its average completion against 序时进度 (see toolkit.year)."""

    round: str
    category: str  # sheet name (results.csv 类别)
    indicators: int
    average: Decimal | None  # average 完成率 of its 累计 indicators, each at most 100
    time_progress: Decimal | None
    lagging: int
    change: Decimal | None  # percentage points since the previous round
    word: str = ""  # 上月 or 上轮
    unsettled: int = 0  # 累计 rows not in the average: not judged yet (a 合计 with parts missing)


@dataclass(frozen=True)
class History:
    """The round among the year's merged rounds: what leaders read across rounds.

    ``changes`` and ``streaks`` are keyed by (指标编号, 单位名称) as in results.csv; their
    ``text()`` says 「较上月提高X个百分点」 and 「连续N月滞后」.
    """

    word: str  # 上月, 上轮, or '' when no earlier round is merged
    categories: list[CategoryRound]  # every merged round, this one included, in 轮次 order
    changes: dict[tuple[str, str], object] = field(default_factory=dict)  # toolkit.year.Change
    streaks: dict[tuple[str, str], object] = field(default_factory=dict)  # toolkit.year.Streak

    def rounds(self) -> list[str]:
        return list(dict.fromkeys(c.round for c in self.categories))

    def of(self, round_name: str) -> list[CategoryRound]:
        return [c for c in self.categories if c.round == round_name]


@dataclass
class Standing:
    """Everything a round's outputs say, computed once by :func:`build_standing`."""

    registry: Registry
    round: Round
    now: datetime
    time_progress: Decimal  # 序时进度 %, exact
    time_progress_shown: Decimal  # 序时进度 %, rounded for display (two places)
    rows: list[ResultRow]
    files: list[FileStanding]
    units: list[UnitStanding]  # expected units in 单位 order, then other senders
    findings: list[Finding]
    headline: list[ResultRow]  # one row per indicator: the 合计 where several units report
    counts: Counter  # Counter[Status] over the headline rows
    lagging: list[LagItem]  # worst first (see _lag_order)
    pending: list[ResultRow]  # unit rows held for correction (待更正), registry order
    registry_warnings: list[str] = field(default_factory=list)
    registry_changes: list = field(default_factory=list)  # records from the registry snapshot, rendered as text
    history: History | None = None  # across the year's merged rounds (set by the merge)
    outputs: dict[str, Path] = field(default_factory=dict)

    # -- views ------------------------------------------------------------------------
    def category_now(self, sheet: str) -> CategoryRound | None:
        """This round's figures for one category, when the history is known."""
        if self.history is None:
            return None
        return next((c for c in self.history.of(self.round.name) if c.category == sheet), None)

    def streak_text(self, row: ResultRow) -> str:
        """「连续3月滞后」 for a row that has lagged several rounds running, else ''."""
        streak = self.history.streaks.get((row.indicator.code, row.unit)) if self.history else None
        return streak.text() if streak is not None else ""  # type: ignore[attr-defined]

    def change_text(self, row: ResultRow) -> str:
        """「较上月提高X个百分点」 for a row whose completion or rate can be compared, else ''."""
        change = self.history.changes.get((row.indicator.code, row.unit)) if self.history else None
        return change.text() if change is not None else ""  # type: ignore[attr-defined]

    def registry_change_lines(self) -> list[str]:
        """The master workbook's changes since the templates went out, as Chinese lines."""
        return [str(change) for change in self.registry_changes]

    @property
    def submissions(self) -> list[Submission]:
        return [f.submission for f in self.files]

    def rows_in(self, sheet: str) -> list[ResultRow]:
        return [r for r in self.rows if r.category == sheet]

    def headline_in(self, sheet: str) -> list[ResultRow]:
        return [r for r in self.headline if r.category == sheet]

    def parts_of(self, code: str) -> list[ResultRow]:
        """The unit rows beneath an indicator's 合计 (empty when one unit reports)."""
        return self._parts.get(code, [])

    @property
    def _parts(self) -> dict[str, list[ResultRow]]:
        cached = self.__dict__.get("_parts_cache")
        if cached is None:
            totals = {r.indicator.code for r in self.rows if r.is_total}
            cached = defaultdict(list)
            for r in self.rows:
                if not r.is_total and r.indicator.code in totals:
                    cached[r.indicator.code].append(r)
            self.__dict__["_parts_cache"] = cached
        return cached

    def expected_units(self) -> list[UnitStanding]:
        return [u for u in self.units if u.expected]

    def units_in(self, *states: UnitState) -> list[UnitStanding]:
        """Expected units in any of ``states``, in 单位 order."""
        return [u for u in self.units if u.expected and u.state in states]

    def ranking(self) -> list[tuple[int, UnitStanding]]:
        """(名次, unit) for the expected units, as an office circulates it: reported on time
        first, then late, then refused or empty, then not at all; within that the fewest
        lagging items, then the fewest rows held for correction. Equal standing, equal 名次."""
        order = {UnitState.ON_TIME: 0, UnitState.LATE: 1, UnitState.EMPTY: 2, UnitState.REJECTED: 2,
                 UnitState.MISSING: 3}

        def key(u: UnitStanding) -> tuple[int, int, int]:
            return (order[u.state], u.lagging, u.pending_rows)

        def arrival(u: UnitStanding) -> datetime:
            sub = u.chosen.submission if u.chosen is not None else None
            return sub.received if sub is not None and sub.received else datetime.max

        units = sorted(self.expected_units(), key=lambda u: (key(u), arrival(u)))
        ranked: list[tuple[int, UnitStanding]] = []
        for i, u in enumerate(units):
            rank = ranked[-1][0] if ranked and key(ranked[-1][1]) == key(u) else i + 1
            ranked.append((rank, u))
        return ranked

    def names_in(self, *states: UnitState) -> list[str]:
        """Names of the expected units in any of ``states``, in 单位 order."""
        return [u.name for u in self.units_in(*states)]

    def unit(self, name: str) -> UnitStanding | None:
        return next((u for u in self.units if u.name == name), None)

    def counts_in(self, sheet: str) -> Counter:
        """Counter[Status] over one category's headline rows."""
        return Counter(r.status for r in self.headline if r.category == sheet)

    def count(self, *statuses: Status) -> int:
        return sum(self.counts[s] for s in statuses)

    def group_counts(self) -> list[tuple[StatusGroup, int]]:
        """(group, count) for every group with indicators, in :data:`GROUPS` order."""
        return [(g, self.count(*g.statuses)) for g in GROUPS if self.count(*g.statuses)]

    def attention(self) -> list[LagItem]:
        """The lagging items proper (not the hidden ones)."""
        return [item for item in self.lagging if not item.hidden]

    @property
    def pending_files(self) -> list[FileStanding]:
        """Files the department still has to act on: exit code 1 while there are any."""
        return [f for f in self.files if f.pending]

    @property
    def needs_attention(self) -> bool:
        return bool(self.pending_files)


# -- building -------------------------------------------------------------------------


def refused_as(findings: Sequence[Finding]) -> Fate:
    """A refused file's fate: 空表 when every refusal is that it holds nothing filled in, else 拒收."""
    rejects = [f for f in findings if f.level is Level.REJECT]
    return Fate.EMPTY if rejects and all(f.code.name in EMPTY_CODES for f in rejects) else Fate.REJECTED


def _fate(sub: Submission, findings: Sequence[Finding]) -> Fate:
    if sub.duplicate_of:
        return Fate.DUPLICATE
    if sub.withdrawn:
        return Fate.WITHDRAWN
    if sub.attachment:
        return Fate.ATTACHMENT
    if not sub.accepted:
        return refused_as(findings)
    return Fate.SUPERSEDED if sub.superseded else Fate.ACCEPTED


def _arrival(f: FileStanding) -> tuple[datetime, int]:
    return (f.submission.received or datetime.min, f.submission.order)


def _action(state: UnitState, chosen: FileStanding | None, files: Sequence[FileStanding]) -> Action:
    if state is UnitState.MISSING:
        return Action.CHASE
    if any(f.pending and f.fate in (Fate.REJECTED, Fate.EMPTY) for f in files) or not state.reported:
        return Action.RESEND
    if chosen is not None and chosen.errors:
        return Action.CORRECT
    if chosen is not None and chosen.notices:
        return Action.REVIEW
    return Action.NONE


def _unit_standings(registry: Registry, rnd: Round, files: list[FileStanding]) -> list[UnitStanding]:
    by_unit: dict[str, list[FileStanding]] = defaultdict(list)
    for f in sorted(files, key=_arrival):
        by_unit[f.submission.unit].append(f)
    expected = [u.name for u in registry.reporting_units()]
    is_expected = set(expected)  # 2,000 names: a list scanned per name would be quadratic
    names = expected + [n for n in by_unit if n not in is_expected and n]
    if "" in by_unit:
        names.append("")
    out: list[UnitStanding] = []
    for name in names:
        mine = by_unit.get(name, [])
        accepted = [f for f in mine if f.fate is Fate.ACCEPTED]
        refused = [f for f in mine if f.fate in (Fate.REJECTED, Fate.EMPTY)]
        chosen: FileStanding | None
        if accepted:
            chosen = accepted[-1]
            first = min((f for f in mine if f.fate in (Fate.ACCEPTED, Fate.SUPERSEDED)), key=_arrival)
            arrived = first.submission.received
            state = UnitState.LATE if arrived is not None and arrived.date() > rnd.deadline else UnitState.ON_TIME
            # a refused file that came after the return that counts still wants an answer
            for f in refused:
                f.pending = name != "" and _arrival(f) > _arrival(chosen)
            chosen.pending = chosen.errors > 0
        elif refused:
            chosen = refused[-1]
            state = UnitState.EMPTY if chosen.fate is Fate.EMPTY else UnitState.REJECTED
            for f in refused:
                f.pending = f is chosen or name == ""
        else:
            chosen = None
            state = UnitState.MISSING
        unit = registry.units.get(name)
        standing = UnitStanding(name=name, unit=unit, state=state, expected=name in is_expected, chosen=chosen,
                                files=mine)
        standing.action = _action(state, chosen, mine)
        standing.pending_rows = chosen.errors if chosen is not None and chosen.fate is Fate.ACCEPTED else 0
        out.append(standing)
    return out


def _lag_order(headline: list[ResultRow], parts: dict[str, list[ResultRow]]) -> list[LagItem]:
    """Lagging items, worst first.

    1. 逾期 first: a 节点 task whose deadline has passed is the plainest failure; the
       longest overdue (earliest 完成时限) first;
    2. then 滞后 (a 累计 row behind 序时进度), the largest shortfall (most negative 差距) first;
    3. then 未达标 (a rate or level short of its target), again the largest shortfall first;
    4. then totals on track whose units lag (the units named), in registry order.

    差距 is compared only within a status (it measures different things). Rows without a
    差距 follow those with one; ties keep the registry order (``headline`` is in it).
    """
    rank = {s: i for i, s in enumerate(ATTENTION)}

    def key(numbered: tuple[int, LagItem]) -> tuple:
        position, item = numbered
        r = item.row
        due = (r.indicator.due or date.max) if r.status is Status.OVERDUE else date.max
        gap = r.gap_exact if r.gap_exact is not None else r.gap
        return (item.hidden, rank.get(r.status, len(rank)), due, gap is None, gap if gap is not None else 0,
                position)

    items = []
    for r in headline:
        behind = [p for p in parts.get(r.indicator.code, []) if p.status in ATTENTION] if r.is_total else []
        if r.status in ATTENTION or behind:
            items.append(LagItem(r, behind))
    return [item for _, item in sorted(enumerate(items), key=key)]


def build_standing(registry: Registry, rnd: Round, now: datetime, *, time_progress: Decimal,
                   time_progress_shown: Decimal, rows: list[ResultRow], submissions: Iterable[Submission],
                   findings: Iterable[Finding], registry_changes: Sequence[object] = ()) -> Standing:
    """The round's standing from what the merge read (submissions, findings) and computed (rows).

    ``rows`` come from :func:`toolkit.indicators.compute`; each unit row's ``late`` flag
    is set here from its unit's state.
    """
    findings = list(findings)
    own: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.code not in MERGE_NOTICES:
            own[f.file].append(f)
    files = []
    for order, sub in enumerate(submissions):
        if not sub.order:
            sub.order = order
        files.append(FileStanding(sub, _fate(sub, own.get(sub.file, [])), own.get(sub.file, [])))
    units = _unit_standings(registry, rnd, files)
    file_unit = {f.submission.file: f.submission.unit for f in files}
    by_name = {u.name: u for u in units}
    for finding in findings:
        owner = by_name.get(finding.unit or file_unit.get(finding.file, ""))
        if owner is not None:
            owner.findings.append(finding)
    late = {u.name for u in units if u.state is UnitState.LATE}
    # one pass over the rows (80,000 in a province): each unit's counts, the headline (the 合计
    # where several units report, else the one row), the parts beneath each 合计, the rows held
    # for correction
    multi = {r.indicator.code for r in rows if r.is_total}
    headline: list[ResultRow] = []
    parts: dict[str, list[ResultRow]] = defaultdict(list)
    pending: list[ResultRow] = []
    for row in rows:
        if row.is_total:
            row.late = False
            headline.append(row)
            continue
        unit, status, code = row.unit, row.status, row.indicator.code
        row.late = unit in late
        owner = by_name.get(unit)
        if owner is not None:
            owner.rows += 1
            owner.lagging += status in ATTENTION
        if code in multi:
            parts[code].append(row)
        else:
            headline.append(row)
        if status is Status.PENDING:
            pending.append(row)
    return Standing(
        registry=registry, round=rnd, now=now, time_progress=time_progress,
        time_progress_shown=time_progress_shown, rows=rows, files=files, units=units, findings=findings,
        headline=headline, counts=Counter(r.status for r in headline),
        lagging=_lag_order(headline, parts),
        pending=pending,
        registry_warnings=list(registry.warnings), registry_changes=list(registry_changes),
    )
