"""Loading and checking the clerk's master workbook (任务台账, ``master.xlsx``).

The master is the one thing the clerk edits by hand, so it is checked as a whole
before anything else runs: every problem is collected (sheet and cell named) and
raised together in one :class:`~toolkit.errors.MasterWorkbookError` (exit code 2).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path

from .errors import MasterWorkbookError, ReadError
from .model import KINDS, Category, Indicator, Registry, Round, Settings, Unit
from .read import EMPTY, Limits, Sheet, cell_ref, read_workbook
from .values import normalize_text, parse_date

SPECIAL_SHEETS = ("说明", "设置", "单位", "轮次", "目标分解")
CATEGORY_COLUMNS = (
    "任务编号", "重点工作", "牵头单位", "配合单位", "指标编号", "指标名称", "指标类型", "计量单位",
    "年度目标", "完成时限", "填报单位", "小数位数", "表述模板",
)
REQUIRED_CATEGORY_COLUMNS = ("任务编号", "重点工作", "牵头单位", "指标编号", "指标名称", "指标类型", "年度目标")
INHERITED = ("任务编号", "重点工作", "牵头单位", "配合单位")
UNIT_SPLIT = re.compile(r"[、，,；;\s]+")
NEEDS_TARGET = ("累计", "上限", "下限", "增速")


def text(value: object) -> str:
    """A cell value as clean text (numbers without a spurious .0)."""
    if type(value) is str:  # the usual cell: as the last line below gives it
        return " ".join(value.split())
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    # Whitespace only: full-width punctuation (，（）) is part of Chinese text.
    return " ".join(str(value).split())


def to_decimal(value: object) -> Decimal | None:
    """A clerk-typed target: 140, '910.7', '≤4.5%', '3.7万' (kept as written number)."""
    if type(value) is float:  # the usual cell: as the lines below give it
        return Decimal(int(value)) if value.is_integer() else Decimal(repr(value))
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float) and value.is_integer():
        return Decimal(int(value))  # Excel stores a typed 140 as 140.0; keep it as 140
    if isinstance(value, (int, float)):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    cleaned = normalize_text(value).replace(",", "")
    cleaned = re.sub(r"^(?:≤|≥|<=|>=|<|>|不高于|不低于|不超过|低于|高于|控制在|达到)\s*", "", cleaned)
    cleaned = re.sub(r"(?:%|以内|以下|以上)+$", "", cleaned).strip()
    try:
        return Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError(value) from exc


class _Problems:
    def __init__(self, file: str):
        self.file = file
        self.items: list[str] = []
        self.warnings: list[str] = []

    def add(self, sheet: str, cell: str, message: str, *, warning: bool = False) -> None:
        where = f"工作表“{sheet}”" + (f"单元格 {cell}" if cell else "")
        (self.warnings if warning else self.items).append(f"{where}：{message}")


def _extent(sheet: Sheet) -> tuple[int, int]:
    """(sheet.max_row, sheet.max_col) in one go: each is a scan of every cell (目标分解 holds
    indicators × units rows: 144,000 cells at 2,000 units), so a sheet is measured once."""
    cells = sheet.cells
    if not cells:
        return 0, 0
    return max(cells)[0], max(map(itemgetter(1), cells))


def _header(sheet: Sheet, row: int, width: int | None = None) -> dict[str, int]:
    """Column by header name in ``row``; ``width``: the sheet's max_col, when known."""
    cols: dict[str, int] = {}
    for col in range(1, (sheet.max_col if width is None else width) + 1):
        name = text(sheet.value(row, col)).replace(" ", "")
        if name and name not in cols:
            cols[name] = col
    return cols


def _find_header_row(sheet: Sheet, must: str, limit: int = 10, extent: tuple[int, int] | None = None) -> int | None:
    max_row, max_col = _extent(sheet) if extent is None else extent
    for row in range(1, min(max_row, limit) + 1):
        if must in _header(sheet, row, max_col):
            return row
    return None


def _table(sheet: Sheet | None, name: str, must: str, layout: str,
           problems: _Problems) -> tuple[int, dict[str, int]] | None:
    """(header row, column by name) of a special sheet, or None with a problem naming the expected layout.

    A missing sheet gives None quietly: load_registry reports it once."""
    if sheet is None:
        return None
    extent = _extent(sheet)
    head_row = _find_header_row(sheet, must, extent=extent)
    if head_row is None:
        problems.add(name, "A1", f"缺少表头“{must}”（应为 {layout}）")
        return None
    return head_row, _header(sheet, head_row, extent[1])


#: The master workbook is the office's own file, read once per command, and it grows with the
#: province (目标分解 alone holds indicators × units rows: 48,000 at 2,000 units), so it gets
#: more time than a department's return (Limits.seconds, 5 s), which a loaded machine exceeds.
MASTER_LIMITS = Limits(seconds=120.0)


def load_registry(path: Path | str) -> Registry:
    """Read and check ``master.xlsx``; raise MasterWorkbookError listing every problem."""
    path = Path(path)
    if not path.exists():
        raise MasterWorkbookError(f"找不到任务台账 {path}。请确认工作区文件夹正确，或用 ducha init 新建工作区。")
    try:
        book = read_workbook(path, MASTER_LIMITS)
    except ReadError as exc:
        raise MasterWorkbookError(f"任务台账 {path.name} 无法读取：{exc.detail}。请用 Excel 打开检查后另存为 xlsx。") \
            from exc
    problems = _Problems(path.name)
    for name in ("设置", "单位", "轮次"):
        if book.sheet(name) is None:
            problems.add(name, "", f"缺少工作表“{name}”，请按模板补上")
    settings = _settings(book.sheet("设置"), problems)
    units = _units(book.sheet("单位"), problems)
    rounds = _rounds(book.sheet("轮次"), problems)
    year = settings.year or (rounds[0].cutoff.year if rounds else date.today().year)
    if not settings.year:
        settings = Settings(**{**settings.__dict__, "year": year})
    split_cells = _SplitRows()
    splits = _splits(book.sheet("目标分解"), units, problems, split_cells)
    categories: list[Category] = []
    seen_codes: dict[str, str] = {}
    for sheet in book.sheets:
        if sheet.name in SPECIAL_SHEETS or sheet.name.startswith("_"):
            continue
        cat = _category(sheet, units, year, splits, seen_codes, problems, split_cells)
        if cat is not None:
            categories.append(cat)
    if not categories and not problems.items:
        problems.add(path.name, "", "没有任何类别工作表（第1行为类别标题，第2行为表头）")
    for code, parts in splits.items():
        if code not in seen_codes:
            cell = split_cells.cell(code, next(iter(parts)), "指标编号")
            problems.add("目标分解", cell, f"指标编号“{code}”在各类别工作表中不存在")
    if problems.items:
        raise MasterWorkbookError(
            f"任务台账 {path.name} 有 {len(problems.items)} 处问题，请修改后重新运行：", problems.items)
    return Registry(path=path, settings=settings, units=units, rounds=rounds, categories=categories,
                    warnings=problems.warnings)


def _settings(sheet: Sheet | None, problems: _Problems) -> Settings:
    if sheet is None:
        return Settings()
    values: dict[str, str] = {}
    raw: dict[str, object] = {}
    cells: dict[str, str] = {}
    for row in range(1, sheet.max_row + 1):
        key = text(sheet.value(row, 1)).replace(" ", "")
        if not key or key == "项目":
            continue
        raw[key] = sheet.value(row, 2)
        values[key] = text(sheet.value(row, 2))
        cells[key] = cell_ref(row, 2)
    kwargs: dict[str, object] = {}
    if values.get("发文单位"):
        kwargs["issuer"] = values["发文单位"]
    if values.get("报告标题"):
        kwargs["title"] = values["报告标题"]
    if values.get("年度"):
        try:
            kwargs["year"] = int(Decimal(values["年度"]))
        except (InvalidOperation, ValueError):
            problems.add("设置", cells["年度"], f"年度“{values['年度']}”不是年份，请填写如 2021")
    basis = values.get("序时口径", "") or "按月"
    if basis not in ("按月", "按日"):
        problems.add("设置", cells["序时口径"], f"序时口径“{basis}”无效，请填写 按月 或 按日")
        basis = "按月"
    kwargs["basis"] = basis
    if values.get("滞后容差"):
        try:
            kwargs["tolerance"] = to_decimal(raw["滞后容差"]) or Decimal(0)
        except ValueError:
            problems.add("设置", cells["滞后容差"], f"滞后容差“{values['滞后容差']}”不是数字（单位：百分点）")
    known = {"发文单位", "报告标题", "年度", "序时口径", "滞后容差"}
    kwargs["extra"] = tuple((k, v) for k, v in values.items() if k not in known)
    return Settings(**kwargs)  # type: ignore[arg-type]  # each value checked above


def _units(sheet: Sheet | None, problems: _Problems) -> dict[str, Unit]:
    units: dict[str, Unit] = {}
    table = _table(sheet, "单位", "单位名称", "单位编号 | 单位名称 | 联系人 | 联系电话 | 邮箱", problems)
    if table is None or sheet is None:
        return units
    head_row, cols = table
    codes: dict[str, str] = {}
    for row in range(head_row + 1, sheet.max_row + 1):
        get = {k: text(sheet.value(row, c)) for k, c in cols.items()}
        name = get.get("单位名称", "")
        code = get.get("单位编号", "")
        if not name and not code:
            continue
        if not name:
            problems.add("单位", cell_ref(row, cols["单位名称"]), "单位名称为空")
            continue
        if name in units:
            problems.add("单位", cell_ref(row, cols["单位名称"]), f"单位名称“{name}”重复")
            continue
        code = code or f"U{len(units) + 1:02d}"
        if code in codes:
            problems.add("单位", cell_ref(row, cols.get("单位编号", 1)),
                         f"单位编号“{code}”与“{codes[code]}”重复")
            continue
        codes[code] = name
        units[name] = Unit(code=code, name=name, contact=get.get("联系人", ""), phone=get.get("联系电话", ""),
                           email=get.get("邮箱", ""))
    return units


def _as_date(value: object, year: int | None = None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return parse_date(value, year=year)


def _rounds(sheet: Sheet | None, problems: _Problems) -> list[Round]:
    rounds: list[Round] = []
    table = _table(sheet, "轮次", "轮次", "轮次 | 统计截止日期 | 报送截止日期", problems)
    if table is None or sheet is None:
        return rounds
    head_row, cols = table
    for col_name in ("统计截止日期", "报送截止日期"):
        if col_name not in cols:
            problems.add("轮次", cell_ref(head_row, 1), f"缺少表头“{col_name}”")
            return rounds
    names: set[str] = set()
    for row in range(head_row + 1, sheet.max_row + 1):
        name_value = sheet.value(row, cols["轮次"])
        if isinstance(name_value, datetime):
            name = f"{name_value.year}-{name_value.month:02d}"
        else:
            name = text(name_value)
        if not name:
            continue
        dates: list[date | None] = []
        for col_name in ("统计截止日期", "报送截止日期"):
            col = cols[col_name]
            value = sheet.value(row, col)
            parsed = _as_date(value)
            if parsed is None:
                problems.add("轮次", cell_ref(row, col),
                             f"{col_name}“{text(value)}”不是日期，请填写如 2021-04-30")
            dates.append(parsed)
        if name in names:
            problems.add("轮次", cell_ref(row, cols["轮次"]), f"轮次“{name}”重复")
            continue
        if not re.fullmatch(r"[\w\-]+", name):
            problems.add("轮次", cell_ref(row, cols["轮次"]), f"轮次“{name}”只能包含文字、数字和“-”，如 2021-04")
            continue
        names.add(name)
        cutoff, deadline = dates
        if cutoff is not None and deadline is not None:
            rounds.append(Round(name=name, cutoff=cutoff, deadline=deadline))
    rounds.sort(key=lambda r: r.cutoff)
    return rounds


class _SplitRows:
    """Where 目标分解 gives each (指标编号, 单位名称): its row. The cells are named only for a
    problem (48,000 rows at 2,000 units, hardly ever one of them wrong)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], int] = {}
        self.cols: dict[str, int] = {}

    def cell(self, code: str, unit: str, column: str) -> str:
        """The 目标分解 cell of ``column`` ("指标编号" or "单位名称") in the row of (code, unit); '' if none."""
        row = self.rows.get((code, unit))
        return cell_ref(row, self.cols[column]) if row is not None else ""


def _splits(sheet: Sheet | None, units: dict[str, Unit], problems: _Problems,
            cells: _SplitRows) -> dict[str, dict[str, Decimal]]:
    splits: dict[str, dict[str, Decimal]] = {}
    if sheet is None:
        return splits
    max_row, max_col = extent = _extent(sheet)
    head_row = _find_header_row(sheet, "指标编号", extent=extent)
    if head_row is None:
        if max_row:
            problems.add("目标分解", "A1", "缺少表头（应为 指标编号 | 单位名称 | 年度目标）")
        return splits
    cols = _header(sheet, head_row, max_col)
    for need in ("单位名称", "年度目标"):
        if need not in cols:
            problems.add("目标分解", cell_ref(head_row, 1), f"缺少表头“{need}”")
            return splits
    cells.cols = cols
    code_col, unit_col, target_col = cols["指标编号"], cols["单位名称"], cols["年度目标"]
    grid = sheet.cells  # read directly: 48,000 rows, three cells each (as sheet.value gives them)
    for row in range(head_row + 1, max_row + 1):
        code = text(grid.get((row, code_col), EMPTY).value)
        unit = text(grid.get((row, unit_col), EMPTY).value)
        if not code and not unit:
            continue
        if unit not in units:
            problems.add("目标分解", cell_ref(row, unit_col), f"单位“{unit}”不在“单位”工作表中")
            continue
        try:
            target = to_decimal(grid.get((row, target_col), EMPTY).value)
        except ValueError:
            target = None
        if target is None:
            problems.add("目标分解", cell_ref(row, target_col), "年度目标不是数字")
            continue
        parts = splits.get(code)
        if parts is None:
            parts = splits[code] = {}
        elif unit in parts:
            problems.add("目标分解", cell_ref(row, unit_col), f"指标 {code} 的单位“{unit}”重复")
            continue
        parts[unit] = target
        cells.rows[(code, unit)] = row
    return splits


def _category(sheet: Sheet, units: dict[str, Unit], year: int, splits: dict[str, dict[str, Decimal]],
              seen_codes: dict[str, str], problems: _Problems,
              split_cells: _SplitRows | None = None) -> Category | None:
    from .wording import validate_phrase

    name = sheet.name
    title = ""
    max_row, max_col = _extent(sheet)
    for col in range(1, max_col + 1):
        title = text(sheet.value(1, col))
        if title:
            break
    cols = _header(sheet, 2, max_col)
    missing = [c for c in REQUIRED_CATEGORY_COLUMNS if c not in cols]
    if missing:
        if not sheet.cells:
            return None  # an empty extra sheet is harmless
        problems.add(name, "A2", f"第2行缺少表头：{'、'.join(missing)}（类别工作表第1行为标题，第2行为表头）")
        return None
    if not title:
        problems.add(name, "A1", "第1行缺少类别标题（如“一、深入实施创新驱动发展战略…”）")
    indicators: list[Indicator] = []
    carried: dict[str, str] = {}
    for row in range(3, max_row + 1):
        get = {k: text(sheet.value(row, c)) for k, c in cols.items()}
        if not any(get.values()):
            continue
        if get.get("任务编号"):  # a new task: nothing carries over from the one above
            carried = {key: get.get(key, "") for key in INHERITED}
        else:  # blank (or merged) task cells inherit from the task's first row
            for key in INHERITED:
                get[key] = get.get(key) or carried.get(key, "")
        code = get.get("指标编号", "")
        ref = lambda col_name, row=row: cell_ref(row, cols.get(col_name, 1))  # noqa: E731
        if not code:
            if get.get("指标名称"):
                problems.add(name, ref("指标编号"), "指标编号为空")
            continue
        if code in seen_codes:
            problems.add(name, ref("指标编号"), f"指标编号“{code}”重复（已在 {seen_codes[code]} 出现）")
            continue
        seen_codes[code] = f"工作表“{name}”单元格 {ref('指标编号')}"
        kind = get.get("指标类型", "")
        if kind not in KINDS:
            problems.add(name, ref("指标类型"), f"指标类型“{kind}”无效，应为 {'、'.join(KINDS)} 之一")
            continue
        target_raw = sheet.value(row, cols["年度目标"])
        try:
            target = to_decimal(target_raw)
        except ValueError:
            problems.add(name, ref("年度目标"), f"年度目标“{text(target_raw)}”不是数字")
            continue
        if kind in NEEDS_TARGET and target is None and code not in splits:
            problems.add(name, ref("年度目标"), f"{kind}类指标“{get.get('指标名称', code)}”缺少年度目标")
            continue
        if kind == "累计" and target is not None and target <= 0:
            problems.add(name, ref("年度目标"), "累计类指标的年度目标必须大于0")
            continue
        lead = get.get("牵头单位", "")
        reporters = tuple(u for u in UNIT_SPLIT.split(get.get("填报单位", "") or lead) if u)
        unknown = [u for u in reporters if u not in units]
        if not reporters:
            problems.add(name, ref("牵头单位"), "牵头单位和填报单位都为空")
            continue
        if unknown:
            problems.add(name, ref("填报单位" if get.get("填报单位") else "牵头单位"),
                         f"单位“{'、'.join(unknown)}”不在“单位”工作表中，请先在“单位”中添加")
            continue
        decimals = 2
        if get.get("小数位数"):
            try:
                places = Decimal(get["小数位数"])
                if places != places.to_integral_value() or not 0 <= places <= 6:
                    raise ValueError
                decimals = int(places)
            except (InvalidOperation, ValueError):
                problems.add(name, ref("小数位数"), f"小数位数“{get['小数位数']}”应为 0 到 6 的整数")
                continue
        due_text = get.get("完成时限", "")
        due = _as_date(sheet.value(row, cols["完成时限"]), year) if due_text and "完成时限" in cols else None
        if due_text and due is None:
            problems.add(name, ref("完成时限"), f"完成时限“{due_text}”无法识别，请写成如“6月底”或“2021-06-30”")
            continue
        phrase = get.get("表述模板", "")
        unknown_names = validate_phrase(phrase) if phrase else []
        if unknown_names:
            problems.add(name, ref("表述模板"), f"表述模板中的 {'、'.join(unknown_names)} 无法识别")
            continue
        split = splits.get(code, {})
        if split:
            reporting = set(reporters)  # 160 reporters and as many parts: not a scan of the tuple for each
            for unit in split:
                if unit not in reporting:
                    problems.add("目标分解", split_cells.cell(code, unit, "单位名称") if split_cells else "",
                                 f"指标 {code} 的分解单位“{unit}”不是该指标的填报单位")
        if split and target is not None and sum(split.values()) != target:
            problems.add("目标分解", "", f"指标 {code} 各单位目标之和 {sum(split.values())} 与年度目标 {target} 不一致",
                         warning=True)
        indicators.append(Indicator(
            sheet=name, row=row, task_no=get.get("任务编号", ""), task=get.get("重点工作", ""), lead=lead,
            co=get.get("配合单位", ""), code=code, name=get.get("指标名称", ""), kind=kind,
            unit=get.get("计量单位", ""), target=target if target is not None else (
                sum(split.values(), Decimal(0)) if split else None),
            due=due, due_text=due_text, reporters=reporters, decimals=decimals, phrase=phrase,
            targets_by_unit=tuple(split.items()),
        ))
    return Category(sheet=name, title=title or name, indicators=tuple(indicators))
