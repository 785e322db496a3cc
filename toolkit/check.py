"""The rules a return is checked against.

``check_return`` returns every finding at once (never raises for bad data) plus
the entries that can be merged. A file-level finding (拒收) rejects the whole
file; an 错误 keeps that row's value out of the merge (待更正); a 提示 merges the
value and tells the clerk. Rules that need history (the previous round's
accepted figures) are skipped when there is none, e.g. when a department runs
``ducha check`` on its own file.

Thresholds a workspace may set (ducha.toml ``[checks]``) are a :class:`CheckSettings`
carried in :class:`CheckContext`; docs/rules.md explains each rule and default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import timedelta
from decimal import Decimal

from .findings import Code, Finding, FindingCounts, make
from .formatting import format_count, places_of, round_half_up
from .intake import ReturnFile, ReturnRow
from .model import NODE_STATES, PERCENT_UNITS, Entry, Indicator, Registry, Round, Unit
from .templates import INPUT_COLUMNS, LOCKED_COLUMNS, canon, locked_values, row_fingerprint
from .values import Parsed, count_conversion, half_up, parse_count, parse_number, shift, slip_unit
from .wording import _depth, _numbers, _unit_forms

#: Input cells holding figures: a row without 指标编号 but with one of these is a row added.
DATA_COLUMNS = ("本期完成", "基数", "上年同期", "完成状态")
#: A 累计 value above this many times the annual target is out of line.
JUMP_TARGET_FACTOR = 3
#: A rise in 完成率 of more than this many points in one round is out of line.
JUMP_POINTS = 50
#: 已完成 this many days before its 完成时限 wants a word of explanation.
EARLY_DAYS = 60
#: A corrected figure (the value with a unit slip undone) is plausible within this factor of its reference.
PLAUSIBLE_FACTOR = 3
#: Powers of ten a unit slip can be (千, 万, 十万 … 亿, 万亿); a percentage row slips by 10**2.
SLIP_POWERS = (3, 4, 5, 6, 7, 8, 12)


@dataclass(frozen=True)
class CheckSettings:
    """Thresholds of the magnitude rules (ducha.toml ``[checks]``); see docs/rules.md."""

    #: 本期完成 at least this many times the unit's annual target is held for correction (E213).
    magnitude_vs_target: Decimal = Decimal(20)
    #: 本期完成 at least this many times the unit's last accepted figure is held (E214).
    magnitude_vs_last: Decimal = Decimal(50)

    def cache_key(self) -> str:
        """A stable text of every setting, for the outcome cache's key."""
        return ";".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


#: Each setting's meaning, for messages and docs (Chinese).
SETTING_HELP: dict[str, str] = {
    "magnitude_vs_target": "本期完成达到年度目标的多少倍时按数量级异常处理",
    "magnitude_vs_last": "本期完成达到上一轮已报送数的多少倍时按数量级异常处理",
}


@dataclass
class CheckContext:
    """What a check knows beyond the file itself (all optional for a department's own check)."""

    registry: Registry | None = None
    round: Round | None = None
    previous: dict[tuple[str, str], Entry] = field(default_factory=dict)  # (code, unit) -> last round
    has_history: bool = False
    settings: CheckSettings = field(default_factory=CheckSettings)


@dataclass
class Outcome(FindingCounts):
    file: str
    unit: Unit | None = None
    unit_name: str = ""
    round: str = ""
    findings: list[Finding] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)



def check_return(ret: ReturnFile, ctx: CheckContext) -> Outcome:
    """Check one return; every finding at once."""
    out = Outcome(file=ret.name, round=ret.round, unit_name=ret.unit_name)
    add = _adder(out, ret)
    registry = ctx.registry
    # -- identity ----------------------------------------------------------------------
    if ret.meta is None:
        if registry is not None and ret.unit_name not in registry.units:
            add(Code.F110, value=ret.unit_name, detail="文件缺少模板标识，且“填报单位”"
                + (f"“{ret.unit_name}”不在单位名单中" if ret.unit_name else "未填写"))
            return out
        add(Code.W307, value=ret.unit_name or "（未填写）")
    elif not ret.meta_intact():
        add(Code.F113, detail="隐藏的模板标识被改动")
        return out
    if registry is not None:
        unit = registry.unit_by_code(ret.unit_code) if ret.unit_code else None
        if unit is None:  # no code, or the clerk renumbered units after the templates went out
            unit = registry.units.get(ret.unit_name)
        if unit is None:
            named = f"{ret.unit_name}（编号 {ret.unit_code}）" if ret.unit_name and ret.unit_code else ""
            add(Code.F112, value=named or ret.unit_name or ret.unit_code, detail="不在单位名单中")
            return out
        out.unit, out.unit_name = unit, unit.name
    if ctx.round is not None and ret.round and ret.round != ctx.round.name:
        add(Code.F111, value=ret.round, detail=ctx.round.name)
        return out
    if ret.meta is not None:
        typed, sheet, cell = ret.info.get("填报单位", ("", "", ""))
        own = out.unit_name or ret.unit_name
        if typed and own and not same_unit(typed, own):
            add(Code.F117, sheet=sheet, cell=cell, value=typed, detail=own)
            return out
    for sheet in ret.sheets_without_header:
        if ret.meta is not None and any(s == sheet for s, *_ in ret.layout):
            add(Code.F114, sheet=sheet, detail="指标编号、本期完成")
            return out
    for sheet, missing in ret.missing_columns.items():
        add(Code.F114, sheet=sheet, detail="、".join(missing))
        return out
    # -- structure ---------------------------------------------------------------------
    expected = registry.rows_for(out.unit_name) if registry is not None and out.unit else None
    if not _structure_ok(ret, expected, add):
        return out
    if ret.rows and not any(_filled(row.cell(c).value) for row in ret.rows for c in INPUT_COLUMNS):
        add(Code.F116)
        return out
    # -- contact -------------------------------------------------------------------------
    for label in ("填报人", "联系电话"):
        text, sheet, cell = ret.info.get(label, ("", "", ""))
        if not text:
            add(Code.W306, sheet=sheet, cell=cell, column=label)
    # -- rows ----------------------------------------------------------------------------
    by_code = {ind.code: ind for ind in expected} if expected is not None else {}
    for row in ret.rows:
        if not row.code:
            continue
        ind = by_code.get(row.code)
        entry = _check_row(row, ind, out, ctx, add)
        out.entries.append(entry)
    return out


def _filled(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _unit_key(name: str) -> str:
    return re.sub(r"\s|人民政府$", "", canon(name))


def same_unit(typed: str, own: str) -> bool:
    """Whether a 填报单位 text names the unit ``own`` (``三门峡市科技局``, ``科技局`` for ``市科技局``)."""
    a, b = _unit_key(typed), _unit_key(own)
    return min(len(a), len(b)) >= 2 and (a in b or b in a)


def _adder(out: Outcome, ret: ReturnFile):
    def add(code: Code, *, sheet: str = "", cell: str = "", value: object = "", column: str = "",
            detail: object = "") -> Finding:
        finding = make(code, file=ret.name, unit=out.unit_name, sheet=sheet, cell=cell, value=value,
                       column=column, detail=detail)
        out.findings.append(finding)
        return finding
    return add


def _structure_ok(ret: ReturnFile, expected: list[Indicator] | None, add) -> bool:
    """Rows added, deleted or moved reject the file; an edited locked cell is a 提示."""
    present = [(r.sheet, r.row, r.code) for r in ret.rows if r.code]
    stray = [r for r in ret.rows if not r.code]
    if ret.meta is not None:
        layout = [(s, n, c) for s, n, c, _ in ret.layout]
        if present != layout:
            add(Code.F113, detail=_layout_difference(layout, present))
            return False
    if expected is not None:
        want = [ind.code for ind in expected]
        got = [code for _, _, code in present]
        if sorted(want) != sorted(got) or len(set(got)) != len(got):
            add(Code.F113, detail=_code_difference(want, got))
            return False
    for row in stray:
        if any(row.cell(c).value not in (None, "") for c in DATA_COLUMNS):
            add(Code.F113, sheet=row.sheet, cell=row.ref("指标编号"), detail=f"第 {row.row} 行是新增的行（没有指标编号）")
            return False
        # A remark typed under the table is not data: say it was not read, keep the file.
        col = next(c for c, cell in row.cells.items() if cell.value not in (None, ""))
        add(Code.W314, sheet=row.sheet, cell=row.ref(col), value=_short(row.text(col)))
    # Locked cells: compare with the master when known, else with the row fingerprints.
    by_code = {ind.code: ind for ind in expected} if expected is not None else {}
    prints = {(s, n): fp for s, n, _, fp in ret.layout}
    shown_tasks: set[tuple[str, str]] = set()
    stub = _unit_stub(ret)
    for row in ret.rows:
        ind = by_code.get(row.code)
        if ind is not None:
            task_key = (ind.task_no, ind.task)
            first = task_key not in shown_tasks
            shown_tasks.add(task_key)
            want_cells = locked_values(ind, stub, first)
            for col_name, wanted, typed in zip(LOCKED_COLUMNS, want_cells, row.locked(), strict=True):
                if _same_text(wanted, typed):
                    continue  # the usual case, and no finding whatever the column
                if col_name in ("任务编号", "重点工作") and not canon(typed):
                    continue  # a rebuilt file may repeat or omit task cells
                if col_name in ("任务编号", "重点工作") and ret.meta is None:
                    continue
                if canon(wanted) != canon(typed) and col_name in row.columns:
                    add(Code.W310, sheet=row.sheet, cell=row.ref(col_name), column=col_name,
                        value=canon(typed) or "空", detail=canon(wanted) or "空")
        elif (row.sheet, row.row) in prints and row_fingerprint(row.sheet, row.locked()) != prints[
                (row.sheet, row.row)]:
            add(Code.W310, sheet=row.sheet, cell=row.ref("指标编号"), column="锁定区域",
                value="已改动", detail="下发模板")
    return True


def _same_text(a: object, b: object) -> bool:
    """A quick "canon(a) == canon(b)" for the usual cases: two equal texts (or two blanks), and
    two equal floats (the 年度目标; not zeros: canon tells -0.0 from 0.0)."""
    if a is b:
        return True
    cls = a.__class__
    return cls is b.__class__ and a == b and (cls is str or (cls is float and a != 0))


def _unit_stub(ret: ReturnFile) -> Unit:
    return Unit(code=ret.unit_code, name=ret.unit_name)


def _layout_difference(layout, present) -> str:
    want = {c: (s, n) for s, n, c in layout}
    got = {c: (s, n) for s, n, c in present}
    missing = [c for c in want if c not in got]
    extra = [c for c in got if c not in want]
    if missing:
        return f"缺少指标 {'、'.join(missing[:5])} 所在的行（行被删除）"
    if extra:
        return f"多出指标 {'、'.join(extra[:5])}（行被新增）"
    moved = [c for c in want if want[c] != got.get(c)]
    return f"指标 {'、'.join(moved[:5])} 所在的行被移动"


def _code_difference(want: list[str], got: list[str]) -> str:
    missing = [c for c in want if c not in got]
    extra = [c for c in got if c not in want]
    dup = sorted({c for c in got if got.count(c) > 1})
    parts = []
    if missing:
        parts.append(f"缺少指标 {'、'.join(missing[:5])}")
    if extra:
        parts.append(f"多出本单位不填报的指标 {'、'.join(extra[:5])}")
    if dup:
        parts.append(f"指标 {'、'.join(dup[:5])} 重复出现")
    return "；".join(parts) or "行与台账不一致"


def _kind_of(row: ReturnRow, ind: Indicator | None) -> str:
    return ind.kind if ind is not None else row.text("指标类型")


def _number(row: ReturnRow, column: str, ind: Indicator | None, add, *, required: bool) -> tuple[Parsed | None, bool]:
    """Parse one numeric input cell; returns (parsed, had_error)."""
    if column not in row.columns:
        return None, required
    cell = row.cell(column)
    if cell.error:
        add(Code.E209, sheet=row.sheet, cell=row.ref(column), value=cell.error)
        return None, True
    if cell.missing_cached_value:
        add(Code.E210, sheet=row.sheet, cell=row.ref(column))
        return None, True
    kind = _kind_of(row, ind)
    unit = ind.unit if ind is not None else row.text("计量单位")
    if kind == "比率" and column in ("本期完成", "基数"):
        # The row's unit (%) is the rate's; these cells hold counts in any unit, or the rate itself.
        parsed = parse_count(cell.value, percent_format=cell.is_percent, rate_ok=column == "本期完成")
    else:
        # 基数 is a count (never negative); 上年同期 follows the row (a growth rate may be negative).
        parsed = parse_number(cell.value, unit=unit, kind="累计" if column == "基数" else kind,
                              percent_format=cell.is_percent)
    if parsed.error is not None:
        add(parsed.error, sheet=row.sheet, cell=row.ref(column), column=column,
            value=parsed.typed_unit if parsed.error is Code.E212 and parsed.typed_unit else parsed.original,
            detail=parsed.detail or unit)
        return None, True
    if parsed.blank:
        if required:
            add(Code.E201, sheet=row.sheet, cell=row.ref(column), column=column)
            return None, True
        return parsed, False
    if parsed.notice is not None:
        add(parsed.notice, sheet=row.sheet, cell=row.ref(column), column=column, value=parsed.original,
            detail=parsed.detail)
    return parsed, False


def _check_row(row: ReturnRow, ind: Indicator | None, out: Outcome, ctx: CheckContext, add) -> Entry:
    entry = Entry(code=row.code, unit=out.unit_name, file=out.file, sheet=row.sheet, row=row.row,
                  progress=row.text("进展情况"), problems=row.text("存在问题"), next_steps=row.text("下步打算"))
    kind = _kind_of(row, ind)
    bad = False
    if kind == "节点":
        state = row.text("完成状态").replace(" ", "")
        if not state:
            add(Code.E204, sheet=row.sheet, cell=row.ref("完成状态"))
            bad = True
        elif state not in NODE_STATES:
            add(Code.E205, sheet=row.sheet, cell=row.ref("完成状态"), value=state)
            bad = True
        entry.state = state
        if state == "已完成" and not entry.progress and ind is not None and ind.due is not None \
                and ctx.round is not None and ind.due - ctx.round.cutoff > timedelta(days=EARLY_DAYS):
            add(Code.W304, sheet=row.sheet, cell=row.ref("进展情况"), detail=ind.due_text)
    else:
        value, err = _number(row, "本期完成", ind, add, required=True)
        bad |= err
        if kind == "比率":
            bad |= _ratio_parts(row, ind, value, entry, add)
        else:
            entry.value = value.value if value else None
        last, err = _number(row, "上年同期", ind, add, required=False)
        bad |= err
        entry.last_year = last.value if last else None
        if not bad and ind is not None:
            bad |= _history_rules(row, ind, entry, ctx, add)
        if ind is not None:
            bad |= _contradiction(row, ind, entry, add)
    if not entry.progress:
        add(Code.W311, sheet=row.sheet, cell=row.ref("进展情况"))
    elif ctx.has_history:
        prev = ctx.previous.get((row.code, out.unit_name))
        if prev is not None and prev.progress and prev.progress.strip() == entry.progress.strip():
            add(Code.W305, sheet=row.sheet, cell=row.ref("进展情况"))
    entry.invalid = bad
    return entry


def _ratio_parts(row: ReturnRow, ind: Indicator | None, value: Parsed | None, entry: Entry, add) -> bool:
    """A 比率 row: 本期完成 is the count (or the rate typed as a percentage), 基数 the total."""
    bad = False
    base, err = _number(row, "基数", ind, add, required=False)
    rate = value is not None and value.rate
    if rate:
        assert value is not None
        entry.rate = value.value
        if value.value is not None and value.value > 100:
            add(Code.E215, sheet=row.sheet, cell=row.ref("本期完成"), value=value.original)
            bad = True
    elif value is not None:
        entry.value = value.value
    if not err and not rate and (base is None or base.blank):
        add(Code.E206, sheet=row.sheet, cell=row.ref("基数"))
        err = True
    bad |= err
    entry.base = base.value if base else None
    if entry.value is not None and entry.base is not None and value is not None and base is not None:
        places = count_conversion(value.typed_unit, base.typed_unit)
        if places is not None:  # 0.22亿元 of 5000万元: the count in the base's unit
            entry.value = shift(entry.value, places)
            add(Code.W301, sheet=row.sheet, cell=row.ref("本期完成"), value=value.original,
                detail=f"{format_count(entry.value)}{base.typed_unit}")
        if entry.value > entry.base:
            add(Code.E207, sheet=row.sheet, cell=row.ref("本期完成"), value=_fmt(entry.value),
                detail=_fmt(entry.base))
            bad = True
    return bad


def _history_rules(row: ReturnRow, ind: Indicator, entry: Entry, ctx: CheckContext, add) -> bool:
    """Figures out of line: lower than last round (累计), or a magnitude no real progress explains.

    A 累计 value at least ``magnitude_vs_target`` times the unit's annual target (E213), or
    ``magnitude_vs_last`` times its last accepted figure while above the target (E214), is held
    for correction, naming the likely unit slip; a few times the target is only W303. Levels
    (上限/下限) are held when that far from their target either way, but below it only when a
    unit slip explains the gap (a low 失业率 is good news, 0.947 for 94.7% is a slip).
    """
    if ind.kind not in ("累计", "上限", "下限") or entry.value is None:
        return False
    value = entry.value
    target = ind.target_for(entry.unit)
    prev = ctx.previous.get((ind.code, entry.unit)) if ctx.has_history else None
    last = prev.value if prev is not None and prev.value is not None and not prev.invalid else None
    if ind.kind == "累计" and last is not None and value < last:
        add(Code.E208, sheet=row.sheet, cell=row.ref("本期完成"), value=_fmt(value), detail=_fmt(last))
        return True
    limits = ctx.settings
    unit = ind.unit.strip()
    percent = unit in PERCENT_UNITS
    if value > 0 and target is not None and target > 0:
        ratio = value / target
        if ratio >= limits.magnitude_vs_target:
            add(Code.E213, sheet=row.sheet, cell=row.ref("本期完成"), column="本期完成", value=_fmt(value),
                detail=f"为年度目标{_fmt(target)}{unit}的{_times(ratio)}倍{_slip_text(value, target, unit, percent)}")
            return True
        if ind.kind != "累计" and 1 / ratio >= limits.magnitude_vs_target:
            slip = _slip_text(value, target, unit, percent)
            if slip:
                add(Code.E213, sheet=row.sheet, cell=row.ref("本期完成"), column="本期完成", value=_fmt(value),
                    detail=f"仅为年度目标{_fmt(target)}{unit}的{half_up(ratio * 100, 2)}%{slip}")
                return True
    has_target = target is not None and target > 0
    if value > 0 and last is not None and last > 0 and (ind.kind == "累计" or not has_target):
        # A level with a target was judged against it above; a 累计 only when beyond the target.
        ratio = value / last
        if ratio >= limits.magnitude_vs_last and (target is None or target <= 0 or value > target):
            add(Code.E214, sheet=row.sheet, cell=row.ref("本期完成"), column="本期完成", value=_fmt(value),
                detail=f"为上一轮{_fmt(last)}{unit}的{_times(ratio)}倍{_slip_text(value, last, unit, percent)}")
            return True
        slip = _slip_text(value, last, unit, percent) if ind.kind != "累计" else ""
        if slip and 1 / ratio >= limits.magnitude_vs_last:
            add(Code.E214, sheet=row.sheet, cell=row.ref("本期完成"), column="本期完成", value=_fmt(value),
                detail=f"仅为上一轮{_fmt(last)}{unit}的{half_up(ratio * 100, 2)}%{slip}")
            return True
    if ind.kind == "累计" and target:
        share = value * 100 / target
        if value > target * JUMP_TARGET_FACTOR:
            add(Code.W303, sheet=row.sheet, cell=row.ref("本期完成"), value=_fmt(value),
                detail=f"为年度目标的 {half_up(share, 0)}%")
        elif last is not None:
            before = last * 100 / target
            if share - before > JUMP_POINTS:
                add(Code.W303, sheet=row.sheet, cell=row.ref("本期完成"), value=_fmt(value),
                    detail=f"完成率一轮内从 {half_up(before, 0)}% 升至 {half_up(share, 0)}%")
    return False


def _times(ratio: Decimal) -> str:
    """How many times, as people say it: 3853, 45, 20.5."""
    return _fmt(round_half_up(ratio, 0 if ratio >= 100 else 1))


def _slip_text(value: Decimal, reference: Decimal, unit: str, percent: bool) -> str:
    """'，可能把“万人”当成“人”填写了（14255人即1.4255万人）', or '' when no unit slip explains the gap.

    The slip is the smallest power of ten that brings ``value`` within PLAUSIBLE_FACTOR of
    ``reference`` (its annual target or last figure): 930000 in a 亿元 row with a target of
    150 was typed in 万元 (93亿元), not in 元.
    """
    up = value > reference
    for power in (2,) if percent else SLIP_POWERS:
        places = power if up else -power
        corrected = shift(value, -places)
        if not reference / PLAUSIBLE_FACTOR <= corrected <= reference * PLAUSIBLE_FACTOR:
            continue
        shown = format_count(corrected)
        if percent and up:
            return f"，可能漏了小数点或多填了位数（如应为{shown}）"
        if percent:
            return f"，可能把百分数填成了小数（{_fmt(value)}应填为{shown}）"
        typed = slip_unit(unit, places)
        if typed is not None:
            return f"，可能把“{unit}”当成“{typed}”填写了（{_fmt(value)}{typed}即{shown}{unit}）"
    return ""


# -- a department's words against its own figure ---------------------------------------------

#: Words between a quantity's name and its number that keep it the same quantity (新发展连翘种植达3500亩).
_LINKS = ("累计完成", "累计达到", "累计", "完成", "达到", "共计", "共", "达", "为", "已")
#: Words before a number that make it approximate: it cannot contradict anything.
_ROUGHLY = ("约", "近", "超", "逾", "超过", "大约", "将近", "不到", "不足", "接近")
#: Trailing words of an indicator's name that its text often leaves out (新建5G基站数 → 新建5G基站).
_NAME_ENDINGS = ("总数", "数量", "人数", "面积", "规模", "金额", "总额", "数")
#: A clause about one period only (a month, last year), not the cumulative figure.
_PERIOD = re.compile(r"本月|当月|上月|单月|本周|上年|去年|同期|上一年"
                     r"|(?<![—\-~～至到0-9])(?:[0-9]{1,2}|[一二三四五六七八九十]{1,3})月份?(?![底末0-9一二三四五六七八九十])")
_CUMULATIVE = re.compile(r"截[至止]|以来|累计|年初")
#: Words before the name that make the number a target or a plan (全年计划…, 目标…, 拟…).
_PLANNED = re.compile(r"计划|目标|任务|全年|拟|预计|力争|争取|需求|申报")
_CLAUSE = re.compile(r"[，,。；;！？!?\n]")


def _name_tails(name: str) -> list[str]:
    name = re.sub(r"\s", "", name)
    names = [name] + [name[: -len(e)] for e in _NAME_ENDINGS if name.endswith(e) and len(name) - len(e) >= 2]
    return [n for n in names if len(n) >= 2]


def _speaks_of(before: str, name: str) -> bool:
    """Whether the text just before a number names the indicator: its whole name (perhaps without a
    trailing 数/面积), so ``线下服务大厅入驻金融机构18家`` is not about 线上入驻金融机构."""
    text = before
    for _ in range(2):
        for link in _LINKS:
            if text.endswith(link):
                text = text[: -len(link)]
                break
    tail = next((t for t in _name_tails(name) if text.endswith(t)), None)
    # 「全年计划新发展连翘种植10000亩」 speaks of the target, not of what is done
    return tail is not None and not _PLANNED.search(text[: -len(tail)])


def _contradiction(row: ReturnRow, ind: Indicator, entry: Entry, add) -> bool:
    """A number in 进展情况 that states this row's quantity differently from 本期完成 (E216).

    Only a number right after the indicator's name (``新发展连翘种植3500亩`` for 新发展连翘种植),
    in a unit the figure converts to (1.4255万人 = 14255人), outside brackets, not approximate
    and not about one month or last year counts; it agrees when it equals the figure rounded to
    the places the text gives (``1.43万人`` for 14255人).
    """
    text = entry.progress
    if not text:
        return False
    if ind.kind == "比率":
        unit = "%"
        figure = entry.rate
        if figure is None and entry.value is not None and entry.base:
            figure = entry.value * 100 / entry.base
    else:
        unit, figure = ind.unit.strip(), entry.value
    if figure is None or not unit:
        return False
    if not any(said in text for said in _form_units(unit)):
        return False  # no number in the text is followed by this quantity's unit in any scale
    forms = sorted(_unit_forms(figure, unit), key=lambda f: -len(f[1]))
    for start, end, number in _numbers(text, words=True):
        form = next(((v, u) for v, u in forms if u and text.startswith(u, end)), None)
        if form is None or _depth(text, start):
            continue
        clause_start = max((m.end() for m in _CLAUSE.finditer(text, 0, start)), default=0)
        before = text[clause_start:start]
        if before.endswith(_ROUGHLY) or not _speaks_of(before, ind.name):
            continue
        if _PERIOD.search(before) and not _CUMULATIVE.search(before):
            continue
        expected, said_unit = form
        if half_up(expected, places_of(number)) == number:
            continue
        quoted = text[clause_start:end + len(said_unit)].strip()
        add(Code.E216, sheet=row.sheet, cell=row.ref("进展情况"), value=quoted,
            detail=f"{format_count(figure) if ind.kind != '比率' else format_count(half_up(figure, 2))}{unit}")
        return True
    return False


def _form_units(unit: str) -> tuple[str, ...]:
    """The units (but '') of ``_unit_forms(figure, unit)``, which are the same whatever the figure."""
    units = _FORM_UNITS.get(unit)
    if units is None:
        units = tuple(dict.fromkeys(said for _, said in _unit_forms(Decimal(1), unit) if said))
        if len(unit) <= 40 and len(_FORM_UNITS) < 2_000:
            _FORM_UNITS[unit] = units
    return units


#: _form_units() of the units seen before (a registry has a few dozen; bounded all the same).
_FORM_UNITS: dict[str, tuple[str, ...]] = {}


def _short(text: str, width: int = 20) -> str:
    return text if len(text) <= width else text[:width] + "…"


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


