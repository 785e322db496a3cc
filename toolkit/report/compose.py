"""What the report says: the opening, each category's text, the lagging items, who reported.

Text only (no Word here): every function takes the round's
:class:`~toolkit.standing.Standing` (or its rows) and returns Chinese sentences in the
seed's genre; :mod:`toolkit.report` puts them into the document.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from ..formatting import change_text, cn_date, cn_month_day, cn_month_day_time, format_count, format_number
from ..model import LAGGING, Category, Indicator, ResultRow, Status
from ..standing import Standing, UnitState
from ..wording import (
    Passage,
    cn_numeral,
    describe,
    join_clauses,
    placeholders,
    short_unit_name,
    tidy_punctuation,
)
from .document import _NUMERAL_PREFIX

#: A row's :func:`~toolkit.wording.placeholders` (the report's functions take it as a parameter, so
#: that the report works each row's out once: :class:`RowValues`).
Values = Callable[[ResultRow], dict[str, str]]


class RowValues:
    """:func:`~toolkit.wording.placeholders` of each row, worked out once for one report (a lagging
    row is said in the text and again in 附件1). Keyed by the row's identity: the rows must stay
    alive and unchanged while it is used. The dicts it gives are shared: read them only."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[ResultRow, dict[str, str]]] = {}

    def __call__(self, row: ResultRow) -> dict[str, str]:
        found = self._memo.get(id(row))
        if found is None or found[0] is not row:
            found = self._memo[id(row)] = (row, placeholders(row))
        return found[1]


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.today()


def _heading(index: int, title: str) -> str:
    title = title.strip().rstrip("。；;")
    if not _NUMERAL_PREFIX.match(title):
        title = f"{cn_numeral(index)}、{title}"
    return title


def _tasks(cat: Category) -> list[list[Indicator]]:
    """Indicators grouped by task (任务编号), in registry order."""
    groups: dict[str, list[Indicator]] = {}
    for ind in cat.indicators:
        groups.setdefault(ind.task_no or ind.task or ind.code, []).append(ind)
    return list(groups.values())


def _narrative(row: ResultRow) -> str:
    """A unit's own words, when they may be printed as fact: never for a row held for correction."""
    if row.status in (Status.MISSING, Status.PENDING) or not row.progress:
        return ""
    return row.progress.strip()


def _part_clause(row: ResultRow, values_of: Values = placeholders) -> str:
    """A unit's lagging part of a 合计: ``卢氏县新增公办学位70个，完成全年300个目标任务的23.33%，低于序时进度10.00个百分点``."""
    values = values_of(row)
    said = describe(row, default=True, values=values)
    if not said:
        return ""
    gap = values.get("差距表述")
    against = "序时进度" if row.indicator.kind == "累计" else "目标"
    if gap and against not in said:
        said += "，" + gap
    if row.status == "逾期":
        said += "，" + _overdue(values)
    return short_unit_name(row.unit) + said


# What a piece of a task's text is: a headline row's narrative, a generated headline
# figure, one unit's part of a 合计 (narrative or lagging figure), or a plain note.
_NARRATIVE, _FIGURE, _PART, _PART_FIGURE, _NOTE = range(5)


class _Slot:
    def __init__(self, place: int, passage: Passage, kind: int, row: ResultRow | None = None):
        self.place = place  # where it is printed in the task
        self.passage = passage
        self.kind = kind
        self.row = row  # the row a figure describes


def _is_county(name: str) -> bool:
    """A county-level government (``卢氏县人民政府``, ``灵宝市``), not a city bureau (``市林业局``)."""
    short = short_unit_name(name)
    return len(short) >= 2 and not short.startswith("市") and short[-1] in "县区市旗"


def _citywide_codes(registry) -> set[str]:
    """Indicators whose 合计 adds up every county-level unit: it is said as ``全市…``."""
    counties = {u.name for u in registry.units.values() if _is_county(u.name)}
    if len(counties) < 3:  # two counties are not a city
        return set()
    return {ind.code for ind in registry.indicators() if len(ind.reporters) > 1 and counties <= set(ind.reporters)}


def _task_parts(indicators: list[Indicator], by_code: dict[str, list[ResultRow]],
                headline: dict[str, ResultRow], citywide: frozenset[str] = frozenset(),
                values_of: Values = placeholders) -> list[str]:
    """One task's narratives and figures, in indicator order.

    A generated figure that a department's narrative already states (the same
    quantity, perhaps in another scale) is taken into that narrative, which then
    moves up to where the figure would have been: ``累计完成投资435.5亿元`` and
    ``累计完成投资435.5亿元，占年度计划的47.82%`` are printed once, as the latter in
    the department's words. A 合计 is followed by the units that lag; a unit's
    sentence that only repeats its own figure is left out.
    """
    slots: list[_Slot] = []

    def add(text: str, kind: int, row: ResultRow | None = None, passage: Passage | None = None) -> _Slot:
        if passage is None:
            passage = Passage(text, generated=kind in (_FIGURE, _PART_FIGURE))
        slot = _Slot(len(slots), passage, kind, row)
        slots.append(slot)
        return slot

    own: dict[int, list[_Slot]] = {}  # figure slot id -> the narratives of its own row(s)
    for ind in indicators:
        rows = by_code.get(ind.code, [])
        head = headline.get(ind.code)
        parts = [r for r in rows if not r.is_total] if head is not None and head.is_total else []
        # the unit rows' own words when they are no parts of a 合计 (every unit row is one, if any is)
        texts = dict.fromkeys(_narrative(r) for r in rows if not r.is_total) if not parts else {}
        mine = [add(t, _NARRATIVE) for t in texts if t]
        if head is not None and (head.status is not Status.MISSING or head.undecided):
            # A milestone already told in the department's own words needs no generated
            # "…正在推进"; an overdue one is listed among the lagging items.
            clause = "" if ind.kind == "节点" and mine else describe(head)
            if clause and head.is_total and ind.code in citywide and not clause.startswith("全"):
                clause = "全市" + clause  # the seed: 全市完成人工造林19.83万亩，占造林总任务30.49万亩的65%
            if clause:
                own[id(add(clause, _FIGURE, head))] = mine
            elif head.status is Status.PENDING and not head.is_total:
                what = "完成情况" if ind.kind == "节点" else "数据"
                add(f"{ind.name}{what}待{head.unit}核实更正", _NOTE)
        for part in parts:
            lagging = part.status in LAGGING
            text = _narrative(part)
            passage = Passage(text)
            if not lagging and passage.restates(part.value, ind.unit):
                text = ""
            hosts = [add(text, _PART, passage=passage)] if text else []
            clause = _part_clause(part, values_of) if lagging else ""
            if clause:
                own[id(add(clause, _PART_FIGURE, part))] = hosts

    gone: set[int] = set()
    for slot in [s for s in slots if s.kind in (_FIGURE, _PART_FIGURE)]:
        mine = own[id(slot)]
        hosts = list(mine)
        if slot.kind == _FIGURE:  # other narratives of the task, then figures already printed
            hosts += [s for s in slots if s.kind == _NARRATIVE and s not in mine]
            hosts += [s for s in slots if s.kind == _FIGURE and s.place < slot.place and id(s) not in gone]
        row = slot.row
        assert row is not None  # every figure slot describes a row
        said, settled = slot.passage.text, slot.passage.tidied
        for host in hosts:
            if host.passage.absorb(said, row.value, row.indicator.unit, strict=host not in mine, settled=settled):
                gone.add(id(slot))
                host.place = min(host.place, slot.place)
                break
        else:
            if mine and mine[-1].passage.continue_with(said, settled=settled):
                gone.add(id(slot))
    kept = sorted((s for s in slots if id(s) not in gone), key=lambda s: s.place)
    # Consecutive sentences opening with the same subject are said as one, the subject once:
    # 「其中产业项目已开工37个…。产业项目已支付资金…」 → 「其中产业项目已开工37个…，已支付资金…」.
    joined: list[Passage] = []
    for slot in kept:
        passage = slot.passage
        if joined and joined[-1].continue_with(passage.render(), settled=passage.settled):
            continue
        joined.append(passage)
    return [passage.render() for passage in joined]


def _category_parts(cat: Category, rows: list[ResultRow], headline: dict[str, ResultRow],
                    citywide: frozenset[str] = frozenset()) -> list[str]:
    by_code: dict[str, list[ResultRow]] = {}
    for row in rows:
        by_code.setdefault(row.indicator.code, []).append(row)
    parts: list[str] = []
    for indicators in _tasks(cat):
        parts.extend(_task_parts(indicators, by_code, headline, citywide))
    return parts


def _city(issuer: str) -> str:
    """The city an office belongs to: ``三门峡市政府督查室`` → ``三门峡市``; ``""`` if it does not say."""
    match = re.match(r"^(.+?[市州盟县区])(?:人民)?政府", issuer.strip())
    return match.group(1) if match else ""


def _status_sentence(result: Standing) -> str:
    """「已完成5项，正常推进56项（序时推进29项、达标13项、推进中14项），…」: every status of the
    summary, in named groups whose counts add up to the summary's."""
    out = []
    for group, n in result.group_counts():
        members = [(s, result.counts[s]) for s in group.statuses if result.counts[s]]
        detail = "、".join(f"{s}{c}项" for s, c in members)
        out.append(f"{group.name}{n}项" + (f"（{detail}）" if len(group.statuses) > 1 else ""))
    return "，".join(out)


def _units_sentence(result: Standing) -> str:
    expected = result.expected_units()
    text = f"应报送单位{len(expected)}个，按时报送{len(result.units_in(UnitState.ON_TIME))}个"
    for state in (UnitState.LATE, UnitState.EMPTY, UnitState.REJECTED, UnitState.MISSING):
        n = len(result.units_in(state))
        if n or state in (UnitState.LATE, UnitState.MISSING):
            label = {UnitState.EMPTY: "报送空表", UnitState.REJECTED: "报表被退回"}.get(state, str(state))
            text += f"，{label}{n}个"
    return text


def _opening(result: Standing) -> str:
    reg = result.registry
    settings = reg.settings
    year = settings.year or result.round.cutoff.year
    indicators = list(reg.indicators())
    tasks = {(ind.sheet, ind.task_no or ind.task or ind.code) for ind in indicators}
    status = _status_sentence(result) + ("（滞后和逾期事项见附件1）" if result.lagging else "")
    hidden = sum(1 for item in result.lagging if item.hidden and not item.row.undecided)
    if hidden:
        status += f"；另有{hidden}项指标虽总体正常，但部分单位进度滞后"
    undecided = sum(1 for r in result.headline if r.undecided)
    if undecided:
        status += f"；另有{undecided}项指标因部分单位未报送或数据待更正，暂不判断总体进度"
    cutoff = result.round.cutoff
    when = cn_month_day(cutoff) if cutoff.year == _as_date(result.now).year else cn_date(cutoff)
    basis = _basis(settings)
    requirement = f"{basis}文件要求" if basis.startswith("《") else f"{basis}要求"
    city = _city(settings.issuer)
    if city and basis.startswith(city):
        city = ""  # 按照三门峡市政府工作部署要求，2021年…
    return tidy_punctuation(
        f"按照{requirement}，{city}{year}年《政府工作报告》重点工作共分{len(reg.categories)}大类、"
        f"{len(tasks)}项任务、{len(indicators)}项指标。截至{when}，{len(result.headline)}项指标中{status}；"
        f"{_units_sentence(result)}（见附件2）。"
        "现将各项工作任务进展情况报告如下：")


def _basis(settings) -> str:
    for key, value in settings.extra:
        if key in ("依据文件", "文件依据", "依据", "通知文件") and value.strip():
            return value.strip()
    government = re.sub(r"(办公室|办公厅)?督查室$", "", settings.issuer.strip())
    if government and government != settings.issuer.strip():
        return f"{government}工作部署"
    return "工作部署"


#: A milestone's state, said after its deadline has passed.
_STATE_NOW = {"推进中": "目前尚未完成", "未启动": "目前尚未启动"}
#: How a 合计 that is itself on track is summed up before the units that lag.
_OVERALL = {"序时推进": "总体序时推进", "达标": "总体达标", "已完成": "总体已完成", "推进中": "总体正在推进",
            "待更正": "总体数据待核实"}


def _overdue(values: dict[str, str]) -> str:
    due = values.get("完成时限")
    return f"完成时限为{due}，已逾期" if due else "已逾期"


def _lag_text(row: ResultRow) -> str:
    """What the lagging list says of one row (without the indicator's name as a label).

    An overdue milestone gives its deadline, then where it stands in the
    department's words (``完成时限为3月底，已逾期；《…》已完成会签，待印发``) or, without
    them, ``完成时限为3月底，目前尚未完成，已逾期``.
    """
    ind = row.indicator
    values = placeholders(row)
    if ind.kind == "节点" and row.status == "逾期":
        narrative = tidy_punctuation(_narrative(row)).rstrip("。；，、").replace("。", "；")
        if narrative:
            return f"{_overdue(values)}；{narrative}"
        due = values.get("完成时限")
        return "，".join(x for x in (f"完成时限为{due}" if due else "", _STATE_NOW.get(row.state, ""), "已逾期") if x)
    said = describe(row) or (f"{ind.name}{row.state}" if row.state else row.status)
    extra: list[str] = []
    gap = values.get("差距表述")
    against = "序时进度" if ind.kind == "累计" else "目标"
    if gap and against not in said:  # not when the clause already compares with it
        extra.append(gap)
    if row.status == "逾期":
        extra.append(_overdue(values))
    return "，".join([said, *extra])


def _opens_with_name(name: str, text: str) -> bool:
    """Whether ``text`` already opens with the indicator's name (``卢洛高速年计划投资…`` for 卢洛高速年度投资)."""
    return name[:4] in text[:len(name) + 3]


def _lagging_items(result: Standing) -> list[str]:
    """One numbered item per indicator that lags, or whose 合计 hides units that lag, in the
    standing's order (worst first).

    ``1.“三大改造”项目完成投资40.4亿元，占年度计划投资的28.2%，低于序时进度5.1个百分点（牵头单位：市工业和信息化局）。``
    The indicator's name leads as a label only when the clause does not already
    start with it; a 合计 on track is summed up (``总体序时推进``) before its units that lag.
    """
    citywide = _citywide_codes(result.registry)
    items: list[str] = []
    for lag in result.lagging:
        head, ind, late = lag.row, lag.row.indicator, lag.lagging_parts
        if not lag.hidden:
            body = _lag_text(head)
            if head.is_total and ind.code in citywide and not body.startswith(("全", "完成时限")):
                body = "全市" + body
        elif head.undecided:
            body = f"{'、'.join(short_unit_name(u) for u in head.missing_parts)}数据尚未纳入，总体进度暂不判断"
        else:
            body = _OVERALL.get(head.status, f"总体{head.status}")
        if late:
            body += ("，其中" if lag.hidden else "；其中") + "；".join(
                _part_clause(r) or short_unit_name(r.unit) + str(r.status) for r in late)
        label = "" if _opens_with_name(ind.name, body) else f"{ind.name}："
        lead = ind.lead or "、".join(ind.reporters)
        text = tidy_punctuation(f"{label}{body}")
        items.append(f"{len(items) + 1}.{text}" + (f"（牵头单位：{lead}）" if lead else "") + "。")
    return items


def _pending_items(result: Standing) -> list[str]:
    """Rows held for correction: said as awaiting verification, naming the unit, never as fact."""
    by_unit: dict[str, list[str]] = {}
    for row in result.pending:
        by_unit.setdefault(row.unit, []).append(row.indicator.name)
    return [f"{unit}报送的{'、'.join(names)}数据有误，已退回核实更正，本报告暂未采用。"
            for unit, names in by_unit.items()]


def _units_line(label: str, names: list[str]) -> str:
    if not names:
        return f"{label}：无。"
    return f"{label}：{'、'.join(names)}（{len(names)}个）。"




# -- the report's parts, as the document lays them out -------------------------------------


@dataclass
class Block:
    """A piece of a category: a task heading （一） with its text, or the text alone."""

    heading: str  # '' when the category is said in one paragraph
    text: str


@dataclass
class Section:
    """One category: its heading (一、…) and its text, by task where it has several."""

    heading: str
    blocks: list[Block]


def _task_title(indicators: list[Indicator]) -> str:
    first = indicators[0]
    return (first.task or first.task_no or first.name).strip().rstrip("。；;，,")


def sections(result: Standing, values_of: Values = placeholders) -> list[Section]:
    """The categories 一、…十、 in registry order.

    A category whose several tasks have something to say gets a （一）（二）… heading per
    task (楷体 in the document); otherwise it is one paragraph, as in the seed. The
    category's change since the last round (「本类别累计类指标平均完成率…，较上月提高…」)
    closes its text.
    """
    reg = result.registry
    headline = {r.indicator.code: r for r in result.headline}
    citywide = frozenset(_citywide_codes(reg))
    out: list[Section] = []
    by_sheet: dict[str, dict[str, list[ResultRow]]] = {}  # Standing.rows_in for every category at once
    for row in result.rows:
        by_sheet.setdefault(row.category, {}).setdefault(row.indicator.code, []).append(row)
    for index, cat in enumerate(reg.categories, 1):
        by_code = by_sheet.get(cat.sheet, {})
        said = [(indicators, join_clauses(_task_parts(indicators, by_code, headline, citywide, values_of)))
                for indicators in _tasks(cat)]
        said = [(indicators, text) for indicators, text in said if text]
        trend = _category_trend(result, cat.sheet)
        if len(said) > 1:
            blocks = [Block(f"（{cn_numeral(i)}）{_task_title(indicators)}", text)
                      for i, (indicators, text) in enumerate(said, 1)]
        else:
            blocks = [Block("", said[0][1] if said else "本期各责任单位暂未报送进展情况。")]
        if trend:
            blocks[-1].text = join_clauses([blocks[-1].text, trend])
        out.append(Section(_heading(index, cat.title or cat.sheet), blocks))
    return out


def _category_trend(result: Standing, sheet: str) -> str:
    now = result.category_now(sheet)
    if now is None or now.average is None or now.change is None or not now.word:
        return ""
    left_out = f"（另有{now.unsettled}项尚未报齐，未计入）" if now.unsettled else ""
    return (f"本类别累计类指标平均完成率{format_number(now.average)}%{left_out}，"
            f"{change_text(now.change, now.word)}")


def pending_sentences(result: Standing) -> list[str]:
    """Rows held for correction, said as awaiting verification and naming the unit."""
    return [("另，" if i == 0 else "") + text for i, text in enumerate(_pending_items(result))]


#: The office's standing text for 下步工作, when the master's 设置 sheet gives none.
DEFAULT_NEXT_STEPS = ("下一步，{issuer}将对进度滞后和逾期事项持续跟踪督办，督促各责任单位倒排工期、压实责任，"
                      "确保各项重点工作按序时进度推进。")
_NEXT_STEPS_KEYS = ("下步工作", "下一步工作")
_NEXT_SHOWN = 8  # units' own 下步打算 quoted for the worst lagging items


def next_steps(result: Standing) -> list[str]:
    """下步工作: the office's standing text (设置 sheet 下步工作, editable; ``{issuer}`` is the
    office), then what the units behind say they will do next (their 下步打算), worst first."""
    settings = result.registry.settings
    standing = next((v for k, v in settings.extra if k in _NEXT_STEPS_KEYS and v.strip()), DEFAULT_NEXT_STEPS)
    out = [tidy_punctuation(standing.replace("{issuer}", settings.issuer).replace("｛issuer｝", settings.issuer))]
    plans: list[str] = []
    for item in result.lagging:
        rows = item.lagging_parts or [item.row]
        for row in rows:
            plan = tidy_punctuation(row.next_steps.strip()).rstrip("。；;，, ")
            if plan and row.status not in (Status.PENDING, Status.MISSING):
                who = short_unit_name(row.unit if not row.is_total else (row.indicator.lead or row.unit))
                plans.append(f"{who}{plan}" if plan.startswith(who) is False else plan)
    plans = list(dict.fromkeys(plans))[:_NEXT_SHOWN]
    if plans:
        out.append("针对滞后事项，有关单位提出：" + "；".join(plans) + "。")
    return out


@dataclass
class Table:
    """An attachment's table: column titles, widths in millimetres, and rows of text."""

    columns: list[str]
    widths_mm: list[float]
    rows: list[list[str]]


#: 附件1 滞后和逾期事项: the columns the office circulates, in the 156 mm type area.
LAG_COLUMNS = ["序号", "重点工作", "指标", "完成率", "序时进度", "差距", "牵头单位"]
LAG_WIDTHS = [10.0, 30.0, 28.0, 16.0, 16.0, 36.0, 20.0]


def _completion_cell(row: ResultRow) -> str:
    ind = row.indicator
    if ind.kind == "累计" and row.completion is not None:
        return f"{format_number(row.completion)}%"
    if ind.kind == "比率" and row.ratio is not None:
        return f"{format_number(row.ratio)}%"
    if ind.kind == "节点":
        return row.state or "—"
    if row.value is not None:
        unit = "%" if ind.kind == "增速" else ind.unit
        return f"{format_count(row.value)}{unit}"
    return "—"


def _against_cell(row: ResultRow, values_of: Values = placeholders) -> str:
    ind = row.indicator
    if ind.kind == "累计" and row.time_progress is not None:
        return f"{format_number(row.time_progress)}%"
    values = values_of(row)
    if ind.kind == "节点":
        return f"时限{values['完成时限']}" if values.get("完成时限") else "—"
    if row.target is not None:
        unit = "%" if ind.kind in ("增速", "比率") else ind.unit
        return f"目标{format_count(row.target)}{unit}"
    return "—"


def _gap_cell(result: Standing, row: ResultRow, values_of: Values = placeholders) -> str:
    values = values_of(row)
    if row.status is Status.OVERDUE:
        text = "已逾期"
    else:
        text = values.get("差距表述", str(row.status))
    said = "，".join(x for x in (result.change_text(row), result.streak_text(row)) if x)
    return f"{text}（{said}）" if said else text


def lag_table(result: Standing, values_of: Values = placeholders) -> Table:
    """附件1: one row per lagging item, worst first; a total on track is listed by the units behind it."""
    rows: list[list[str]] = []
    for item in result.lagging:
        ind = item.row.indicator
        targets = item.lagging_parts if item.hidden else [item.row]
        task, lead = _task_title([ind]), ind.lead or "、".join(ind.reporters)  # once for the units behind
        for row in targets:
            name = ind.name if not item.hidden else f"{ind.name}（{short_unit_name(row.unit)}）"
            rows.append([str(len(rows) + 1), task, name, _completion_cell(row),
                         _against_cell(row, values_of), _gap_cell(result, row, values_of), lead])
    return Table(LAG_COLUMNS, LAG_WIDTHS, rows)


UNIT_COLUMNS = ["序号", "单位", "报送情况", "收到时间", "说明"]
UNIT_WIDTHS = [10.0, 44.0, 24.0, 32.0, 46.0]


def units_table(result: Standing) -> Table:
    """附件2: every unit that reports this round, in the 单位 order every 通报 uses."""
    rows: list[list[str]] = []
    for u in result.expected_units():
        sub = u.chosen.submission if u.chosen is not None else None
        when = cn_month_day_time(sub.received) if sub and sub.received else ""
        note = ""
        if u.state is UnitState.MISSING:
            note = f"截至{cn_month_day(_as_date(result.now))}未收到"
        elif not u.state.reported:
            note = "报表未填写，已退回" if u.state is UnitState.EMPTY else "报表有误，已退回重报"
        elif u.pending_rows:
            note = f"{u.pending_rows}项数据待核实更正"
        rows.append([str(len(rows) + 1), u.name, str(u.state), when if u.state is not UnitState.MISSING else "",
                     note])
    return Table(UNIT_COLUMNS, UNIT_WIDTHS, rows)


def attachment_note(result: Standing) -> list[str]:
    """附件说明 under the body: 「附件：1.滞后和逾期事项」「2.报送情况」."""
    return ["附件：1.滞后和逾期事项", "2.报送情况"]


def signature(result: Standing) -> tuple[str, str]:
    """落款: the issuing office and the date (成文日期)."""
    return result.registry.settings.issuer, cn_date(_as_date(result.now))
