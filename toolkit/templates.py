"""Writing each department's template for a round (``rounds/<轮次>/templates/``).

One workbook per department holding only its rows, one sheet per category with
the master's sheet names. Registry cells are locked; input cells are tinted and
carry data validation; a 填报说明 sheet says what to do and by when; a very
hidden sheet ``_ducha`` records the template version, round, department and a
fingerprint of the locked content, so a return is identified by its content and
tampering (rows moved, targets edited) is detected. Since template version 2 it
also names the registry snapshot the template was built from (``台账快照``, see
:mod:`toolkit.snapshot`), so a return is checked against the registry it was issued
with even when the office edits ``master.xlsx`` afterwards.

Every cell reads at 100% zoom: a column is at least as wide as the text in its
cells that do not wrap (labels, the date, numbers, units; :func:`text_width`),
merged title and header rows are as tall as their wrapped lines, and data rows
keep an automatic height so that they grow with what is typed. The 填报说明 sheet
prints on one A4 page.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import xlsxwriter

from .formatting import cn_date
from .model import Indicator, Registry, Round, Unit
from .store import atomic_path, safe_name
from .terminal import display_width

#: 1: identity and fingerprints; 2: adds the 台账快照 key (blank when written outside a workspace).
TEMPLATE_VERSION = "2"
META_SHEET = "_ducha"
#: Key of the hidden sheet naming the registry snapshot a template was built from.
SNAPSHOT_KEY = "台账快照"
GUIDE_SHEET = "填报说明"
COLUMNS = (
    "任务编号", "重点工作", "指标编号", "指标名称", "指标类型", "计量单位", "年度目标",
    "本期完成", "基数", "上年同期", "完成状态", "进展情况", "存在问题", "下步打算",
)
LOCKED_COLUMNS = COLUMNS[:7]
INPUT_COLUMNS = COLUMNS[7:]
TITLE_ROW, INFO_ROW, HEADER_ROW = 1, 2, 3  # 1-based; data from HEADER_ROW + 1
WIDTHS = (8, 30, 9, 26, 7, 8, 9, 10, 9, 9, 10, 42, 24, 24)  # minimums; widened to fit (see _widths)
#: Columns a clerk's registry text may overflow in a row: wrapped, never widened.
WRAPPED = ("重点工作", "指标名称")
#: Font sizes (points) of the template's formats.
BODY_SIZE, TITLE_SIZE, GUIDE_SIZE = 10, 14, 11
#: The widest a column grows to fit a unit or a number; longer text wraps.
MAX_FIT = 16
INPUT_TINT = "#FFF2CC"
LOCKED_TINT = "#F2F2F2"
NA_TINT = "#D9D9D9"


def canon(value: object) -> str:
    """Canonical text of a locked cell, identical whichever program saved the file."""
    if value is None:
        return ""
    if type(value) is str:  # the same task and indicator texts come back in every return
        text = _CANON.get(value)
        if text is None:
            text = " ".join(value.replace("\r", "").split())
            if len(value) <= _CANON_LONGEST:
                if len(_CANON) >= _CANON_MOST:
                    _CANON.clear()  # full of texts that do not come back: start again
                _CANON[value] = text
        return text
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        text = format(number.normalize(), "f")
        return text
    if isinstance(value, datetime):
        return value.date().isoformat()
    return " ".join(str(value).replace("\r", "").split())


#: canon() of texts seen before (a few thousand in a round; bounded, so a hostile file cannot grow it).
_CANON: dict[str, str] = {}
_CANON_LONGEST, _CANON_MOST = 200, 20_000


def row_fingerprint(sheet: str, cells: list[object]) -> str:
    raw = "\x1f".join([sheet, *(canon(v) for v in cells)])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def file_fingerprint(round_name: str, unit_code: str, row_prints: list[tuple[str, int, str, str]]) -> str:
    raw = "\x1e".join([round_name, unit_code, *("\x1f".join(map(str, r)) for r in row_prints)])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def locked_values(ind: Indicator, unit: Unit, task_shown: bool) -> list[object]:
    """The seven locked cells of one template row, as written."""
    target = ind.target_for(unit.name)
    return [
        ind.task_no if task_shown else "",
        ind.task if task_shown else "",
        ind.code, ind.name, ind.kind, ind.unit,
        float(target) if target is not None else "",
    ]


def template_name(unit: Unit, round_name: str) -> str:
    return safe_name(f"{unit.code}_{unit.name}_{round_name}.xlsx")


@dataclass
class TemplateResult:
    unit: Unit
    path: Path
    rows: int


def layout(registry: Registry, unit: Unit) -> list[tuple[str, str, list[Indicator]]]:
    """(sheet name, category title, indicators) for the categories a unit reports in."""
    out = []
    for cat in registry.categories:
        rows = [ind for ind in cat.indicators if unit.name in ind.reporters]
        if rows:
            out.append((cat.sheet, cat.title, rows))
    return out


def sheet_rows(sheet_name: str, rows: list[Indicator], unit: Unit) -> list[tuple[int, Indicator, list[object], str]]:
    """(1-based row, indicator, locked cells, row fingerprint) of one category sheet's data rows.

    A task's number and text are shown on its first row only.
    """
    out = []
    previous_task = None
    for i, ind in enumerate(rows):
        task_shown = (ind.task_no, ind.task) != previous_task
        previous_task = (ind.task_no, ind.task)
        locked = locked_values(ind, unit, task_shown)
        out.append((HEADER_ROW + 1 + i, ind, locked, row_fingerprint(sheet_name, locked)))
    return out


def template_prints(registry: Registry, unit: Unit) -> list[tuple[str, int, str, str]]:
    """The (sheet, row, 指标编号, row fingerprint) layout a unit's template has under ``registry``:
    what its hidden sheet records, computed without writing the file."""
    return [(sheet_name, row, ind.code, fp) for sheet_name, _title, rows in layout(registry, unit)
            for row, ind, _locked, fp in sheet_rows(sheet_name, rows, unit)]


def write_template(registry: Registry, rnd: Round, unit: Unit, folder: Path,
                   now: datetime | None = None, snapshot: str = "") -> TemplateResult:
    """Write one department's template into ``folder``; returns where it went.

    ``snapshot`` names the stored registry snapshot ``registry`` was read from
    (recorded in the hidden sheet; blank when there is none).
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / template_name(unit, rnd.name)
    now = now or datetime.now()
    settings = registry.settings
    extra = dict(settings.extra)
    sections = layout(registry, unit)
    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False})
        wb.set_properties({"title": f"{settings.title}填报模板（{rnd.name}）", "author": settings.issuer,
                           "created": now, "comments": "ducha template"})
        fmt = _formats(wb)
        _guide_sheet(wb, fmt, registry, rnd, unit, sections, extra)
        prints: list[tuple[str, int, str, str]] = []
        for sheet_name, title, rows in sections:
            prints.extend(_category_sheet(wb, fmt, sheet_name, title, rows, unit, rnd))
        meta = wb.add_worksheet(META_SHEET)
        pairs = [
            ("模板版本", TEMPLATE_VERSION), ("轮次", rnd.name), ("单位编号", unit.code), ("单位名称", unit.name),
            ("生成时间", now.isoformat(timespec="seconds")), (SNAPSHOT_KEY, snapshot),
            ("指纹", file_fingerprint(rnd.name, unit.code, prints)),
        ]
        for r, (k, v) in enumerate(pairs):
            meta.write_string(r, 0, k)
            meta.write_string(r, 1, v)
        meta.write_string(len(pairs), 0, "工作表")
        meta.write_string(len(pairs), 1, "行号")
        meta.write_string(len(pairs), 2, "指标编号")
        meta.write_string(len(pairs), 3, "行指纹")
        for i, (sheet_name, row_no, code, fp) in enumerate(prints, start=len(pairs) + 1):
            meta.write_string(i, 0, sheet_name)
            meta.write_number(i, 1, row_no)
            meta.write_string(i, 2, code)
            meta.write_string(i, 3, fp)
        meta.protect()
        meta.very_hidden()
        wb.close()
    return TemplateResult(unit=unit, path=path, rows=len(prints))


def text_width(text: str, size: float = BODY_SIZE, bold: bool = False) -> float:
    """Column width (Excel units, one ``0`` of 11-point Calibri) that shows ``text`` on one line.

    A CJK character of 10-point 宋体 is about two such units; bold text is a tenth wider;
    a cell's padding takes about one and a half.
    """
    return display_width(text) * size / 10 * (1.1 if bold else 1.0) + 1.5


def lines_needed(text: str, width: float, size: float = BODY_SIZE, bold: bool = False) -> int:
    """How many lines ``text`` wraps to in a column ``width`` units wide."""
    usable = max(width - 1.5, 1.0)
    per_line = text_width(text, size, bold) - 1.5
    return max(1, -int(-per_line // usable))


def line_height(size: float) -> float:
    """Row height in points for one line of text at ``size`` points."""
    return size * 1.35 + 2


def _widths(rows: list[Indicator], unit: Unit, rnd: Round) -> list[float]:
    """Column widths of a category sheet: the minimums, widened to fit every cell that does not wrap."""
    widths = [float(w) for w in WIDTHS]
    col = {name: i for i, name in enumerate(COLUMNS)}

    def fit(c: int, text: str, *, bold: bool = False, span: int = 1) -> None:
        need = text_width(text, BODY_SIZE, bold) - sum(widths[c + 1:c + span])
        widths[c] = max(widths[c], min(need, MAX_FIT) if span == 1 and c in fitted else need)

    fitted = {col[n] for n in ("指标编号", "指标类型", "计量单位", "年度目标")}
    for name in COLUMNS:  # the header wraps onto two lines at most
        if name not in WRAPPED:
            fit(col[name], name[:2] if len(name) == 4 else name, bold=True)
    for ind in rows:
        target = ind.target_for(unit.name)
        for name, text in (("指标编号", ind.code), ("指标类型", ind.kind), ("计量单位", ind.unit),
                           ("年度目标", canon(float(target)) if target is not None else "")):
            fit(col[name], text)
    for c, text, span, bold in info_cells(unit, rnd):
        fit(c, text, bold=bold, span=span)
    return widths


def info_cells(unit: Unit, rnd: Round) -> list[tuple[int, str, int, bool]]:
    """(first column, text as shown, columns spanned, bold) of the header block's cells that do not wrap."""
    return [
        (0, "填报单位", 1, True), (1, unit.name, 2, False), (3, "统计截止日期", 1, True),
        (4, cn_date(rnd.cutoff), 2, False), (6, "填报人", 1, True), (9, "联系电话", 1, True),
        (12, "轮次", 1, True), (13, rnd.name, 1, False),
    ]


def _formats(wb) -> dict:
    base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "text_wrap": True, "border": 1}
    return {
        "title": wb.add_format({"font_name": "黑体", "font_size": 14, "bold": True, "align": "left",
                                "valign": "vcenter", "text_wrap": True}),
        "label": wb.add_format({"font_name": "宋体", "font_size": 10, "bold": True, "align": "right",
                                "valign": "vcenter"}),
        "info": wb.add_format({"font_name": "宋体", "font_size": 10, "valign": "vcenter"}),
        "guide_info": wb.add_format({"font_name": "宋体", "font_size": 10, "valign": "vcenter", "text_wrap": True}),
        "info_input": wb.add_format({"font_name": "宋体", "font_size": 10, "valign": "vcenter", "locked": False,
                                     "bg_color": INPUT_TINT, "border": 1}),
        "header": wb.add_format({**base, "bold": True, "align": "center", "bg_color": "#DDEBF7"}),
        "locked": wb.add_format({**base, "bg_color": LOCKED_TINT}),
        "locked_num": wb.add_format({**base, "bg_color": LOCKED_TINT, "num_format": "General"}),
        "input": wb.add_format({**base, "locked": False, "bg_color": INPUT_TINT}),
        "input_num": wb.add_format({**base, "locked": False, "bg_color": INPUT_TINT, "num_format": "General"}),
        "na": wb.add_format({**base, "bg_color": NA_TINT}),
        "text": wb.add_format({"font_name": "宋体", "font_size": 11, "valign": "top", "text_wrap": True}),
        "h1": wb.add_format({"font_name": "黑体", "font_size": 16, "bold": True}),
        "date": wb.add_format({"font_name": "宋体", "font_size": 10, "valign": "vcenter",
                               "num_format": "yyyy\"年\"m\"月\"d\"日\""}),
    }


#: What goes in each input cell, by indicator type (the 填报说明 and the cells' input messages).
GUIDE_STEPS = (
    "1. 只在黄色单元格中填写；灰色单元格为台账内容，已锁定，请勿修改、增删或移动行。",
    "2. “本期完成”填写截至统计截止日期的数字，数字后可以不写单位：累计类填年初至今的累计数；"
    "增速类填增长百分比（下降填负数）；上限、下限类填本期数值。",
    "3. 比率类（如办结率、开工率）：“本期完成”填分子数（如已办结事项1816项），“基数”填总数"
    "（如审批事项2124项），比率由督查室计算；只掌握比率时，在“本期完成”填百分数（如95.48%），"
    "“基数”可不填；“上年同期”填上年同期的比率。",
    "4. 节点类任务在“完成状态”下拉列表中选择：已完成、推进中、未启动。",
    "5. “进展情况”写本期主要进展，语言简练，不要整段粘贴上报材料；写到本行指标的数字时，应与“本期完成”一致。"
    "“存在问题”“下步打算”可选填。",
    "6. 有“上年同期”的指标请填写上年同期数，用于计算同比。确无数据请填“无”。",
    "7. 请在每个工作表第2行填写填报人和联系电话。",
    "8. 填好后保存为 xlsx（WPS、LibreOffice 保存亦可），文件名可不改，通过邮件报送；未填写任何内容的空表不予接收。",
    "9. 可先运行“ducha check 文件名”自查。",
)
GUIDE_WIDTHS = (16, 74)


def _guide_sheet(wb, fmt, registry: Registry, rnd: Round, unit: Unit, sections, extra: dict[str, str]) -> None:
    ws = wb.add_worksheet(GUIDE_SHEET)
    ws.set_column(0, 0, GUIDE_WIDTHS[0])
    ws.set_column(1, 1, GUIDE_WIDTHS[1])
    title = f"{registry.settings.title}填报说明"
    ws.merge_range(0, 0, 0, 1, "", fmt["h1"])
    ws.write_string(0, 0, title, fmt["h1"])
    ws.set_row(0, line_height(16) * lines_needed(title, sum(GUIDE_WIDTHS), 16, bold=True))
    contact = "、".join(x for x in (extra.get("联系人", ""), extra.get("联系电话", ""), extra.get("邮箱", "")) if x)
    facts = [
        ("填报单位", unit.name),
        ("填报轮次", rnd.name),
        ("统计截止日期", cn_date(rnd.cutoff)),
        ("报送截止日期", f"{cn_date(rnd.deadline)}（逾期将列入通报）"),
        ("需填报", "、".join(f"“{name}”{len(rows)}项" for name, _t, rows in sections)),
        ("联系方式", f"{registry.settings.issuer}{('，' + contact) if contact else ''}"),
    ]
    for r, (k, v) in enumerate(facts, start=2):
        ws.write_string(r, 0, k, fmt["label"])
        ws.write_string(r, 1, v, fmt["guide_info"])
        ws.set_row(r, line_height(BODY_SIZE) * lines_needed(v, GUIDE_WIDTHS[1]))
    row = len(facts) + 3
    ws.write_string(row, 0, "填报要求", fmt["label"])
    for i, step in enumerate(GUIDE_STEPS):
        ws.write_string(row + i, 1, step, fmt["text"])
        ws.set_row(row + i, line_height(GUIDE_SIZE) * lines_needed(step, GUIDE_WIDTHS[1], GUIDE_SIZE))
    ws.set_paper(9)
    ws.set_portrait()
    ws.set_margins(left=0.6, right=0.6, top=0.75, bottom=0.75)
    ws.fit_to_pages(1, 1)
    ws.print_area(0, 0, row + len(GUIDE_STEPS) - 1, 1)
    ws.protect("", {"select_locked_cells": True, "select_unlocked_cells": True})
    ws.activate()


def _category_sheet(wb, fmt, sheet_name: str, title: str, rows: list[Indicator], unit: Unit,
                    rnd: Round) -> list[tuple[str, int, str, str]]:
    ws = wb.add_worksheet(sheet_name)
    last_col = len(COLUMNS) - 1
    widths = _widths(rows, unit, rnd)
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    ws.set_row(TITLE_ROW - 1, max(30.0, line_height(TITLE_SIZE) * lines_needed(title, sum(widths), TITLE_SIZE,
                                                                               bold=True) + 8))
    ws.merge_range(TITLE_ROW - 1, 0, TITLE_ROW - 1, last_col, "", fmt["title"])
    ws.write_string(TITLE_ROW - 1, 0, title, fmt["title"])
    r = INFO_ROW - 1
    ws.set_row(r, line_height(BODY_SIZE) + 4)
    ws.write_string(r, 0, "填报单位", fmt["label"])
    ws.merge_range(r, 1, r, 2, "", fmt["info"])
    ws.write_string(r, 1, unit.name, fmt["info"])
    ws.write_string(r, 3, "统计截止日期", fmt["label"])
    ws.merge_range(r, 4, r, 5, "", fmt["date"])
    ws.write_datetime(r, 4, datetime(rnd.cutoff.year, rnd.cutoff.month, rnd.cutoff.day), fmt["date"])
    ws.write_string(r, 6, "填报人", fmt["label"])
    ws.write_blank(r, 7, None, fmt["info_input"])
    ws.write_string(r, 9, "联系电话", fmt["label"])
    ws.merge_range(r, 10, r, 11, "", fmt["info_input"])
    ws.write_string(r, 12, "轮次", fmt["label"])
    ws.write_string(r, 13, rnd.name, fmt["info"])
    h = HEADER_ROW - 1
    header_lines = max(lines_needed(name, widths[c], bold=True) for c, name in enumerate(COLUMNS))
    ws.set_row(h, line_height(BODY_SIZE) * header_lines + 4)
    for col, name in enumerate(COLUMNS):
        ws.write_string(h, col, name, fmt["header"])
    prints: list[tuple[str, int, str, str]] = []
    for row_no, ind, locked, fp in sheet_rows(sheet_name, rows, unit):
        r = row_no - 1  # 0-based
        for col, value in enumerate(locked):
            if isinstance(value, float):
                ws.write_number(r, col, value, fmt["locked_num"])
            else:
                ws.write_string(r, col, value, fmt["locked"])
        _input_cells(ws, fmt, r, ind)
        prints.append((sheet_name, row_no, ind.code, fp))
    first, last = HEADER_ROW, HEADER_ROW + len(rows) - 1
    ws.freeze_panes(HEADER_ROW, 3)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(HEADER_ROW - 1)
    ws.set_footer("&C第 &P 页 共 &N 页")
    ws.protect("", {"format_columns": True, "format_rows": True, "select_locked_cells": True,
                    "select_unlocked_cells": True})
    if last >= first:
        ws.data_validation(INFO_ROW - 1, 10, INFO_ROW - 1, 11, {
            "validate": "length", "criteria": "between", "minimum": 0, "maximum": 40,
            "input_title": "联系电话", "input_message": "请填写填报人的联系电话"})
    return prints


def _input_cells(ws, fmt, r: int, ind: Indicator) -> None:
    col = {name: i for i, name in enumerate(COLUMNS)}
    numeric = ind.numeric
    for name in ("本期完成", "上年同期"):
        c = col[name]
        if numeric and ind.kind == "比率" and name == "本期完成":
            # A count with its unit word (338个) or the rate (95.48%): no number-only warning.
            ws.write_blank(r, c, None, fmt["input_num"])
            ws.data_validation(r, c, r, c, {"validate": "any", "input_title": "本期完成：分子数或比率",
                                            "input_message": _hint(ind, name)})
        elif numeric:
            ws.write_blank(r, c, None, fmt["input_num"])
            negative_ok = ind.kind == "增速"
            rule: dict[str, object] = {"validate": "decimal", "criteria": "between" if negative_ok else ">=",
                    "error_type": "warning", "error_title": "请核对数字",
                    "error_message": "这里应填写数字（可省略单位）。确认无误可点“是”继续。",
                    "input_title": name, "input_message": _hint(ind, name)}
            if negative_ok:
                rule.update({"minimum": -1e9, "maximum": 1e12})
            else:
                rule["value"] = 0
            ws.data_validation(r, c, r, c, rule)
        else:
            ws.write_blank(r, c, None, fmt["na"])
    c = col["基数"]
    if ind.kind == "比率":
        ws.write_blank(r, c, None, fmt["input_num"])
        ws.data_validation(r, c, r, c, {"validate": "decimal", "criteria": ">", "value": 0,
                                        "error_type": "warning", "error_title": "请核对基数",
                                        "error_message": "基数应为大于0的总数，如审批事项总数（可带单位，如2124项）。"
                                                         "确认无误可点“是”继续。",
                                        "input_title": "基数：总数（分母）",
                                        "input_message": "填写总数，即比率的分母，如审批事项总数2124（可写作2124项）。"
                                                         "不要填百分数。“本期完成”已填比率时可不填。"})
    else:
        ws.write_blank(r, c, None, fmt["na"])
    c = col["完成状态"]
    if ind.kind == "节点":
        ws.write_blank(r, c, None, fmt["input"])
        ws.data_validation(r, c, r, c, {"validate": "list", "source": ["已完成", "推进中", "未启动"],
                                        "error_title": "完成状态", "error_message": "请在下拉列表中选择。",
                                        "input_title": "完成状态",
                                        "input_message": f"完成时限：{ind.due_text or '见台账'}"})
    else:
        ws.write_blank(r, c, None, fmt["na"])
    for name in ("进展情况", "存在问题", "下步打算"):
        ws.write_blank(r, col[name], None, fmt["input"])


def _hint(ind: Indicator, column: str) -> str:
    """The input message of a numeric cell: what exactly goes in it (at most 255 characters)."""
    if column == "上年同期":
        if ind.kind == "比率":
            return "上年同期的比率（百分数，如90.5），用于计算同比；没有可不填。"
        return "上年同期数，用于计算同比；没有可不填。"
    unit = f"单位：{ind.unit}。" if ind.unit else ""
    if ind.kind == "累计":
        return f"填写年初至今的累计数。{unit}"
    if ind.kind == "增速":
        return f"填写增长百分比，下降填负数。{unit}"
    if ind.kind == "比率":
        return ("填写分子数，如已办结事项数、已开工项目数，可带单位（如338个），并在“基数”填总数；"
                "比率由督查室计算。只掌握比率时，填百分数（如95.48%），基数可不填。")
    return f"填写本期数值。{unit}"


def write_templates(registry: Registry, rnd: Round, folder: Path, units: list[Unit] | None = None,
                    now: datetime | None = None, snapshot: str = "") -> list[TemplateResult]:
    """Write the round's templates, one per reporting department (or those in ``units``).

    This only writes files; :func:`toolkit.snapshot.issue_templates` is how a round's
    templates are issued (the registry frozen beside them, and who got what when).
    """
    units = units if units is not None else registry.reporting_units()
    return [write_template(registry, rnd, unit, folder, now, snapshot) for unit in units]
