"""The rules a return is checked against.

``check_return`` returns every finding at once (never raises for bad data) plus
the entries that can be merged. A file-level finding (拒收) rejects the whole
file; an 错误 keeps that row's value out of the merge (待更正); a 提示 merges the
value and tells the clerk. Rules that need history (the previous round's
accepted figures) are skipped when there is none, e.g. when a department runs
``ducha check`` on its own file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from .findings import Code, Finding, Level, make
from .intake import ReturnFile, ReturnRow
from .model import NODE_STATES, Entry, Indicator, Registry, Round, Unit
from .templates import LOCKED_COLUMNS, canon, locked_values, row_fingerprint
from .values import Parsed, half_up, parse_number

#: Input cells holding figures: a row without 指标编号 but with one of these is a row added.
DATA_COLUMNS = ("本期完成", "基数", "上年同期", "完成状态")
#: A 累计 value above this many times the annual target is out of line.
JUMP_TARGET_FACTOR = 3
#: A rise in 完成率 of more than this many points in one round is out of line.
JUMP_POINTS = 50
#: 已完成 this many days before its 完成时限 wants a word of explanation.
EARLY_DAYS = 60


@dataclass
class CheckContext:
    """What a check knows beyond the file itself (all optional for a department's own check)."""

    registry: Registry | None = None
    round: Round | None = None
    previous: dict[tuple[str, str], Entry] = field(default_factory=dict)  # (code, unit) -> last round
    has_history: bool = False


@dataclass
class Outcome:
    file: str
    unit: Unit | None = None
    unit_name: str = ""
    round: str = ""
    findings: list[Finding] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return any(f.level is Level.REJECT for f in self.findings)

    @property
    def errors(self) -> int:
        return sum(f.level is Level.ERROR for f in self.findings)

    @property
    def notices(self) -> int:
        return sum(f.level is Level.NOTICE for f in self.findings)


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
    for row in ret.rows:
        ind = by_code.get(row.code)
        if ind is not None:
            task_key = (ind.task_no, ind.task)
            first = task_key not in shown_tasks
            shown_tasks.add(task_key)
            want_cells = locked_values(ind, _unit_stub(ret), first)
            for col_name, wanted, typed in zip(LOCKED_COLUMNS, want_cells, row.locked(), strict=True):
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
    ref = row.ref(column)
    if cell.error:
        add(Code.E209, sheet=row.sheet, cell=ref, value=cell.error)
        return None, True
    if cell.missing_cached_value:
        add(Code.E210, sheet=row.sheet, cell=ref)
        return None, True
    kind = _kind_of(row, ind)
    unit = ind.unit if ind is not None else row.text("计量单位")
    # 基数 is a count (never negative); 上年同期 follows the row (a growth rate may be negative).
    parsed = parse_number(cell.value, unit=unit, kind="累计" if column == "基数" else kind,
                          percent_format=cell.is_percent)
    if parsed.error is not None:
        add(parsed.error, sheet=row.sheet, cell=ref, column=column,
            value=parsed.typed_unit if parsed.error is Code.E212 and parsed.typed_unit else parsed.original,
            detail=parsed.detail or unit)
        return None, True
    if parsed.blank:
        if required:
            add(Code.E201, sheet=row.sheet, cell=ref, column=column)
            return None, True
        return parsed, False
    if parsed.notice is not None:
        add(parsed.notice, sheet=row.sheet, cell=ref, column=column, value=parsed.original, detail=parsed.detail)
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
        entry.value = value.value if value else None
        if kind == "比率":
            base, err = _number(row, "基数", ind, add, required=False)
            if not err and (base is None or base.blank):
                add(Code.E206, sheet=row.sheet, cell=row.ref("基数"))
                err = True
            bad |= err
            entry.base = base.value if base else None
            if entry.value is not None and entry.base is not None and entry.value > entry.base:
                add(Code.E207, sheet=row.sheet, cell=row.ref("本期完成"), value=_fmt(entry.value),
                    detail=_fmt(entry.base))
                bad = True
        last, err = _number(row, "上年同期", ind, add, required=False)
        bad |= err
        entry.last_year = last.value if last else None
        if not bad and ind is not None:
            bad |= _history_rules(row, ind, entry, ctx, add)
    if not entry.progress:
        add(Code.W311, sheet=row.sheet, cell=row.ref("进展情况"))
    elif ctx.has_history:
        prev = ctx.previous.get((row.code, out.unit_name))
        if prev is not None and prev.progress and prev.progress.strip() == entry.progress.strip():
            add(Code.W305, sheet=row.sheet, cell=row.ref("进展情况"))
    entry.invalid = bad
    return entry


def _history_rules(row: ReturnRow, ind: Indicator, entry: Entry, ctx: CheckContext, add) -> bool:
    """累计 figures: never lower than last round; no leap out of line with time progress."""
    if ind.kind != "累计" or entry.value is None:
        return False
    target = ind.target_for(entry.unit)
    prev = ctx.previous.get((ind.code, entry.unit)) if ctx.has_history else None
    if prev is not None and prev.value is not None and not prev.invalid and entry.value < prev.value:
        add(Code.E208, sheet=row.sheet, cell=row.ref("本期完成"), value=_fmt(entry.value), detail=_fmt(prev.value))
        return True
    if target:
        share = entry.value * 100 / target
        if entry.value > target * JUMP_TARGET_FACTOR:
            add(Code.W303, sheet=row.sheet, cell=row.ref("本期完成"), value=_fmt(entry.value),
                detail=f"为年度目标的 {half_up(share, 0)}%")
        elif prev is not None and prev.value is not None and not prev.invalid:
            before = prev.value * 100 / target
            if share - before > JUMP_POINTS:
                add(Code.W303, sheet=row.sheet, cell=row.ref("本期完成"), value=_fmt(entry.value),
                    detail=f"完成率一轮内从 {half_up(before, 0)}% 升至 {half_up(share, 0)}%")
    return False


def _short(text: str, width: int = 20) -> str:
    return text if len(text) <= width else text[:width] + "…"


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


