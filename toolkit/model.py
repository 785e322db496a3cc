"""Plain records shared by every stage of a round.

The registry (master workbook) is read into :class:`Registry`; a round's merged
figures are :class:`ResultRow` objects, judged with one :class:`Status` each, and
collected with everything else a writer needs in :class:`toolkit.standing.Standing`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path

#: Units that mean "this figure is a percentage".
PERCENT_UNITS = frozenset({"%", "％", "百分比", "百分率"})
#: The six indicator types of DESIGN.md.
KINDS = ("累计", "比率", "上限", "下限", "增速", "节点")
#: Values a department may pick for a 节点 row.
NODE_STATES = ("已完成", "推进中", "未启动")


class Status(str, enum.Enum):
    """The one status vocabulary of every output (DESIGN.md, results.csv 状态)."""

    DONE = "已完成"
    ON_TRACK = "序时推进"
    LAGGING = "滞后"
    MET = "达标"
    NOT_MET = "未达标"
    OVERDUE = "逾期"
    IN_PROGRESS = "推进中"
    NOT_STARTED = "未启动"
    MISSING = "未报送"
    PENDING = "待更正"
    TO_ADD = "待补报"  # an indicator added to the master after the unit's template went out

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


#: Every status a result row can carry, in the order outputs list them.
STATUSES: tuple[Status, ...] = tuple(Status)
#: Statuses that a leader must look at.
LAGGING: tuple[Status, ...] = (Status.LAGGING, Status.NOT_MET, Status.OVERDUE)
#: Not judged this round: nothing accepted yet (for a 合计: some part missing, so only a partial sum).
ABSENT: tuple[Status, ...] = (Status.MISSING, Status.PENDING, Status.TO_ADD)
TOTAL = "合计"


@dataclass(frozen=True)
class Settings:
    issuer: str = "市政府督查室"
    title: str = "《市政府工作报告》重点工作进展情况报告"
    year: int = 0
    basis: str = "按月"  # 序时口径: 按月 or 按日
    tolerance: Decimal = Decimal(0)  # 滞后容差, percentage points
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    contact: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class Round:
    name: str  # e.g. 2021-04
    cutoff: date  # 统计截止日期
    deadline: date  # 报送截止日期


@dataclass(frozen=True)
class Indicator:
    sheet: str  # category sheet name in the master workbook
    row: int  # 1-based row in the master sheet
    task_no: str
    task: str
    lead: str
    co: str
    code: str  # 指标编号, unique
    name: str
    kind: str  # one of KINDS
    unit: str  # 计量单位
    target: Decimal | None
    due: date | None  # 完成时限 as a date
    due_text: str  # 完成时限 as written (e.g. 6月底)
    reporters: tuple[str, ...]  # 填报单位 names
    decimals: int = 2
    phrase: str = ""  # 表述模板
    targets_by_unit: tuple[tuple[str, Decimal], ...] = ()  # from 目标分解

    def target_for(self, unit_name: str) -> Decimal | None:
        """The annual target one reporting unit answers for."""
        if unit_name in self._targets:
            return self._targets[unit_name]
        if len(self.reporters) == 1:
            return self.target
        return None if self.targets_by_unit else self.target

    @cached_property
    def _targets(self) -> dict[str, Decimal]:
        """targets_by_unit as a lookup (the first entry of a name wins, as in a scan)."""
        out: dict[str, Decimal] = {}
        for name, value in self.targets_by_unit:
            out.setdefault(name, value)
        return out

    @property
    def numeric(self) -> bool:
        return self.kind != "节点"

    @property
    def rate_like(self) -> bool:
        """Its figures are percentages (增速, 比率, and 上限/下限 kept in %): 同比 and gaps are
        differences in percentage points, never relative changes."""
        return self.kind in ("增速", "比率") or (self.kind in ("上限", "下限") and self.unit.strip() in PERCENT_UNITS)


@dataclass(frozen=True)
class Category:
    sheet: str
    title: str
    indicators: tuple[Indicator, ...]


@dataclass
class Registry:
    path: Path
    settings: Settings
    units: dict[str, Unit]  # by name, in sheet order
    rounds: list[Round]
    categories: list[Category]
    warnings: list[str] = field(default_factory=list)  # not fatal, shown to the clerk

    def indicators(self):
        for cat in self.categories:
            yield from cat.indicators

    def __getstate__(self) -> dict:
        """Pickled without the lookup cache: it is rebuilt on demand, and a pickle (for a worker
        process, or the fingerprint of a round's outputs) depends only on what the registry says."""
        state = dict(self.__dict__)
        state.pop("_cached_index", None)
        return state

    def _index(self) -> _RegistryIndex:
        """Lookups by code and by unit, built once (rebuilt if categories or units are replaced).

        A province has 2,000 units and each indicator up to 160 reporters: scanning for every
        return would make a merge quadratic in the number of units."""
        key = (id(self.categories), len(self.categories), id(self.units), len(self.units))
        index = self.__dict__.get("_cached_index")
        if index is None or index.key != key:
            index = self.__dict__["_cached_index"] = _RegistryIndex.build(self, key)
        return index

    def indicator(self, code: str) -> Indicator | None:
        return self._index().by_code.get(code)

    def round(self, name: str) -> Round | None:
        for rnd in self.rounds:
            if rnd.name == name:
                return rnd
        return None

    def unit_by_code(self, code: str) -> Unit | None:
        return self._index().unit_by_code.get(code)

    def rows_for(self, unit_name: str) -> list[Indicator]:
        """Indicators a unit reports, in registry order."""
        return list(self._index().rows_by_unit.get(unit_name, ()))

    def reporting_units(self) -> list[Unit]:
        """Units with at least one row to report, in 单位 order."""
        names = self._index().rows_by_unit
        return [u for u in self.units.values() if u.name in names]

    def category(self, sheet: str) -> Category | None:
        for cat in self.categories:
            if cat.sheet == sheet:
                return cat
        return None


@dataclass(frozen=True)
class _RegistryIndex:
    key: tuple[int, int, int, int]
    by_code: dict[str, Indicator]  # the first indicator of a code, as a scan finds it
    unit_by_code: dict[str, Unit]  # the first unit of a code, as a scan finds it
    rows_by_unit: dict[str, tuple[Indicator, ...]]  # registry order

    @classmethod
    def build(cls, registry: Registry, key: tuple[int, int, int, int]) -> _RegistryIndex:
        by_code: dict[str, Indicator] = {}
        rows: dict[str, list[Indicator]] = {}
        for ind in registry.indicators():
            by_code.setdefault(ind.code, ind)
            for name in dict.fromkeys(ind.reporters):
                rows.setdefault(name, []).append(ind)
        units: dict[str, Unit] = {}
        for unit in registry.units.values():
            units.setdefault(unit.code, unit)
        return cls(key, by_code, units, {name: tuple(inds) for name, inds in rows.items()})


@dataclass
class Entry:
    """What one unit returned for one indicator (after checking)."""

    code: str  # 指标编号
    unit: str  # 单位名称
    value: Decimal | None = None  # 本期完成
    rate: Decimal | None = None  # 比率 rows: the rate itself (%), when a percentage was typed
    base: Decimal | None = None  # 基数
    last_year: Decimal | None = None  # 上年同期
    state: str = ""  # 完成状态 (节点)
    progress: str = ""  # 进展情况
    problems: str = ""  # 存在问题
    next_steps: str = ""  # 下步打算
    invalid: bool = False  # an 错误 finding keeps the value out: shown as 待更正
    file: str = ""  # archived file name it came from
    sheet: str = ""
    row: int = 0


@dataclass
class ResultRow:
    """One indicator for one unit, or the 合计 over several units."""

    round: str
    category: str  # sheet name
    category_title: str
    indicator: Indicator
    unit: str  # 单位名称 or 合计
    target: Decimal | None
    value: Decimal | None = None
    base: Decimal | None = None
    last_year: Decimal | None = None
    # Figures as shown (rounded half up to the row's 小数位数, or further when the rounded
    # figure would contradict the status, e.g. 99.5 rather than 100 for a row not done).
    completion: Decimal | None = None  # 完成率 %
    ratio: Decimal | None = None  # 比率 % (比率 rows)
    time_progress: Decimal | None = None  # 序时进度 %, two places for every row
    gap: Decimal | None = None  # 差距, percentage points
    yoy: Decimal | None = None  # 同比: % change, or percentage points when indicator.rate_like
    # The exact figures statuses are judged on (never shown as they are).
    completion_exact: Decimal | None = None
    ratio_exact: Decimal | None = None
    gap_exact: Decimal | None = None
    status: Status = Status.MISSING
    state: str = ""  # 完成状态 as reported
    rate: Decimal | None = None  # 比率 rows: the rate as typed, when the unit gave it directly
    progress: str = ""
    problems: str = ""
    next_steps: str = ""
    missing_parts: tuple[str, ...] = ()  # for 合计: units whose part is missing or held for correction
    undecided: bool = False  # for 合计: parts missing, so the partial sum is not judged as lagging
    is_total: bool = False
    late: bool = False

    def __post_init__(self) -> None:
        if self.status.__class__ is not Status:  # a Status already is one (no enum lookup, 80,000 rows a round)
            self.status = Status(self.status)  # accepts the Chinese label too


class Source(str, enum.Enum):
    """Where a file that entered a round came from."""

    INBOX = "收件箱"  # dropped into rounds/<轮次>/inbox by the clerk
    MAIL_FILE = "邮件文件"  # an attachment of a saved mail (.eml/.msg) in the inbox
    MAILBOX = "邮箱"  # fetched over IMAP by ``ducha mail fetch``
    CLERK = "登记"  # registered by ``ducha receive``


class ArrivalBasis(str, enum.Enum):
    """How a file's arrival time is known, most trustworthy first."""

    MAIL = "邮件时间"  # IMAP INTERNALDATE, or the Date/Received of a saved mail
    CLERK = "人工登记"  # given by the clerk (``ducha receive --at``)
    FIRST_SEEN = "首次发现"  # the first time the toolkit saw the file


@dataclass
class Submission:
    """One file found in a round's inbox and what became of it."""

    file: str  # name as received
    path: Path
    sha256: str = ""
    unit: str = ""  # 单位名称, '' when unknown
    received: datetime | None = None  # arrival time (see arrival_basis)
    source: Source = Source.INBOX
    sender: str = ""  # mail address of the sender, where known
    arrival_basis: ArrivalBasis = ArrivalBasis.FIRST_SEEN
    accepted: bool = False
    superseded: bool = False  # a later return from the same unit replaced it
    late: bool = False
    errors: int = 0
    notices: int = 0
    archived: Path | None = None
    feedback: Path | None = None
    reason: str = ""  # why rejected (Chinese)
    duplicate_of: str = ""  # the file (as received) with the same content, taken first
    attachment: bool = False  # not a spreadsheet (a cover letter): recorded, never read
    withdrawn: bool = False  # withdrawn by the clerk (``ducha withdraw``)
    order: int = 0  # receipt order (its receipt number, ``ducha log``): breaks ties between equal arrival times
