"""Writers for a round's outputs: summary, merged ledger, check report and results.csv.

Each writer renders a :class:`~toolkit.model.RoundResult` exactly as the merge computed
it (no maths here beyond counting) and is called as ``writer(result, path) -> Path``:
``path`` is the output folder (the file gets its standard name, e.g. ``汇总表_2021-04.xlsx``)
or a full file name ending in the right suffix. The file is written to a temporary file
in the same folder (``.汇总表_2021-04.tmp.xlsx``) and moved into place with
:func:`os.replace`, so a reader never sees half a workbook.

Safety rules every writer keeps:

* text that came from departments or the clerk is written with ``write_string``, never
  ``write()`` (which turns ``=…`` into a formula); the workbooks are also opened with
  ``strings_to_formulas``/``strings_to_urls``/``strings_to_numbers`` off, and no writer
  puts a formula in any cell: totals and shares are computed here and written as values;
* numbers are written as numbers (``write_number``) with a number format that shows the
  decimals the merge rounded to, so ``Decimal('85.50')`` displays as ``85.50``;
* ``results.csv`` neutralises text that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import math
import os
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from .errors import WorkspaceError
from .findings import Finding, Level, catalogue
from .model import LAGGING, STATUSES, TOTAL, Indicator, ResultRow, RoundResult, Submission

__all__ = [
    "CSV_COLUMNS",
    "LEDGER_COLUMNS",
    "format_number",
    "sheet_name",
    "text_width",
    "write_check_report",
    "write_ledger",
    "write_results_csv",
    "write_summary",
]

#: Columns of results.csv, in order (DESIGN.md, "Outputs of a round").
CSV_COLUMNS = (
    "轮次", "类别", "任务编号", "指标编号", "指标名称", "单位名称", "计量单位", "年度目标", "本期完成",
    "基数", "上年同期", "完成率", "序时进度", "差距", "同比", "状态",
)
#: Columns of each category sheet of the merged ledger (台账).
LEDGER_COLUMNS = (
    "任务编号", "重点工作", "牵头单位", "配合单位", "指标编号", "指标名称", "指标类型", "计量单位",
    "年度目标", "完成时限", "单位名称", "本期完成", "基数", "上年同期", "完成状态", "完成率", "比率",
    "序时进度", "差距", "同比", "状态", "进展情况", "存在问题", "下步打算", "备注",
)
#: How a unit stands in a round (sheet 报送情况).
SUBMIT_STATES = ("按时报送", "逾期报送", "未报送", "被拒收")
UNKNOWN_UNIT = "（未能识别单位）"

FONT = "宋体"
A4, A3 = 9, 8  # Excel paper codes
MAX_CELL_TEXT = 32767  # Excel's limit on the characters in one cell
_FORBIDDEN_SHEET_CHARS = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_FILE_NAME_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

# (fill, font colour) per value; 推进中/未启动 stay uncoloured.
_GREEN = ("#C6EFCE", "#006100")
_LIGHT_GREEN = ("#E2EFDA", "#375623")
_AMBER = ("#FFEB9C", "#9C5700")
_RED = ("#FFC7CE", "#9C0006")
_GREY = ("#D9D9D9", "#3F3F3F")
_BLUE = ("#DDEBF7", "#1F4E78")
STATUS_COLOURS: dict[str, tuple[str, str]] = {
    "已完成": _GREEN, "达标": _GREEN, "序时推进": _LIGHT_GREEN, "滞后": _AMBER, "未达标": _AMBER,
    "逾期": _RED, "未报送": _GREY, "待更正": _GREY,
}
SUBMIT_COLOURS = {"按时报送": _GREEN, "逾期报送": _AMBER, "未报送": _GREY, "被拒收": _RED}
LEVEL_COLOURS = {Level.REJECT.value: _RED, Level.ERROR.value: _AMBER, Level.NOTICE.value: _BLUE}
# Stronger colours for chart series, same meaning as the cell colours.
_CHART_COLOURS = {
    "已完成": "#00B050", "序时推进": "#92D050", "滞后": "#FFC000", "达标": "#2E8B57",
    "未达标": "#ED7D31", "逾期": "#C00000", "推进中": "#5B9BD5", "未启动": "#A5A5A5",
    "未报送": "#7F7F7F", "待更正": "#BFBFBF",
}


# -- small shared helpers --------------------------------------------------------------


def format_number(d: Decimal | None) -> str:
    """A Decimal as plain text: no exponent, the places it was given, '' for None.

    ``Decimal('85.50')`` → ``'85.50'``, ``Decimal('1E+3')`` → ``'1000'``; a negative
    zero (``-0.00``) is written ``0.00``; NaN and infinities, which the merge never
    produces, are written as ''.
    """
    if d is None:
        return ""
    if not isinstance(d, Decimal):
        d = Decimal(str(d))
    if not d.is_finite():
        return ""
    if d.is_zero():
        d = d.copy_abs()
    return format(d, "f")


def _places(d: Decimal) -> int:
    exponent = d.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def text_width(text: str) -> int:
    """Display width of the longest line: CJK and full-width characters count double."""
    lines = str(text).splitlines() or [""]
    return max(
        sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line) for line in lines
    )


def sheet_name(name: str, taken: set[str]) -> str:
    """A legal, unique worksheet name for ``name``; records it (casefolded) in ``taken``.

    Excel allows 31 characters, none of ``[]:*?/\\``, no apostrophe at either end, and
    compares names case-insensitively; ``History`` is reserved.
    """
    base = _FORBIDDEN_SHEET_CHARS.sub("_", str(name)).strip().strip("'").strip() or "工作表"
    base = base[:31].rstrip("'") or "工作表"
    if base.casefold() == "history":
        base = f"{base}_"
    candidate, n = base, 2
    while candidate.casefold() in taken:
        suffix = f"({n})"
        candidate = base[: 31 - len(suffix)].rstrip("'") + suffix
        n += 1
    taken.add(candidate.casefold())
    return candidate


def _file_name(pattern: str, round_name: str) -> str:
    return pattern.format(round=_FILE_NAME_CHARS.sub("_", round_name).strip() or "本轮")


def _target(path: Path, default_name: str) -> Path:
    """``path`` is the output folder, or the file itself when it has the right suffix."""
    path = Path(path)
    if path.is_dir() or path.suffix.lower() != Path(default_name).suffix.lower():
        return path / default_name
    return path


@contextmanager
def _atomic(target: Path) -> Iterator[Path]:
    """Yield a temp path beside ``target``; move it into place when the block succeeds."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"无法创建输出文件夹“{target.parent}”：{exc}。请检查路径和权限。") from exc
    tmp = target.with_name(f".{target.stem}.tmp{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    except PermissionError as exc:
        tmp.unlink(missing_ok=True)
        raise WorkspaceError(
            f"无法写入“{target}”：文件可能正在 Excel 或 WPS 中打开。请关闭该文件后重新运行。"
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _date_text(d: date | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


def _due(ind: Indicator) -> str:
    return ind.due_text or _date_text(ind.due)


def _rate(row: ResultRow) -> Decimal | None:
    """完成率, or for a 比率 row without one the ratio itself."""
    if row.completion is None and row.indicator.kind == "比率":
        return row.ratio
    return row.completion


def _remark(row: ResultRow) -> str:
    parts = []
    if row.is_total and row.missing_parts:
        parts.append("缺：" + "、".join(row.missing_parts))
    if row.late:
        parts.append("逾期报送")
    return "；".join(parts)


def _category_order(result: RoundResult) -> list[tuple[str, str]]:
    """(sheet, title) of every category: the registry's order, then any only in rows."""
    cats = [(c.sheet, c.title) for c in result.registry.categories]
    seen = {sheet for sheet, _ in cats}
    for row in result.rows:
        if row.category not in seen:
            seen.add(row.category)
            cats.append((row.category, row.category_title or row.category))
    return cats


def _latest(subs: Sequence[Submission]) -> Submission | None:
    if not subs:
        return None
    return max(enumerate(subs), key=lambda p: (p[1].received or datetime.min, p[0]))[1]


@dataclass
class _UnitState:
    unit: str
    state: str  # one of SUBMIT_STATES
    submission: Submission | None
    files: int = 0


def _unit_states(result: RoundResult) -> list[_UnitState]:
    """How every expected unit stands, then any other unit a file came from."""
    by_unit: dict[str, list[Submission]] = defaultdict(list)
    for sub in result.submissions:
        by_unit[sub.unit].append(sub)
    expected = _expected_units(result)
    on_time, late = set(result.on_time_units), set(result.late_units)
    names = expected + [u for u in by_unit if u not in expected]
    states = []
    for name in dict.fromkeys(names):
        subs = by_unit.get(name, [])
        accepted = [s for s in subs if s.accepted and not s.superseded] or [s for s in subs if s.accepted]
        chosen = _latest(accepted) or _latest(subs)
        if name in late:
            state = "逾期报送"
        elif name in on_time:
            state = "按时报送"
        elif accepted:
            state = "逾期报送" if chosen is not None and chosen.late else "按时报送"
        elif subs:
            state = "被拒收"
        else:
            state = "未报送"
        states.append(_UnitState(name or UNKNOWN_UNIT, state, chosen, len(subs)))
    return states


# -- workbook plumbing -----------------------------------------------------------------

_CELL = {"font_name": FONT, "font_size": 10, "border": 1, "border_color": "#A6A6A6", "valign": "vcenter"}
_HEADER = {**_CELL, "bold": True, "bg_color": "#D9E1F2", "align": "center", "text_wrap": True}
_TITLE = {"font_name": FONT, "font_size": 16, "bold": True, "align": "center", "valign": "vcenter"}
_NOTE = {"font_name": FONT, "font_size": 10, "valign": "vcenter"}
_LABEL = {**_CELL, "bold": True, "bg_color": "#F2F2F2"}


def _num_format(places: int, kind: str) -> str:
    if kind == "count":  # a zero count shows as '-'
        return '0;-0;"-"'
    body = "0" if places <= 0 else "0." + "0" * min(places, 15)
    if kind == "pct":
        return body + '"%"'
    if kind == "num":
        return "#,##" + body
    return body


@dataclass(frozen=True)
class _Col:
    """One table column: title, how its cells look, and its width limits."""

    title: str
    kind: str = "text"  # text | wrap | num | pct | pts | int | count | status | datetime | date
    min_width: int = 6
    max_width: int = 30
    colours: dict[str, tuple[str, str]] | None = None  # (fill, font) by cell text
    header: tuple[str, str] | None = None  # (fill, font) of the header cell


@dataclass
class _Row:
    """One table row. ``places`` applies to the pct/pts columns (the row's 小数位数)."""

    values: Sequence[object]
    places: int | None = None
    bold: bool = False
    indent: tuple[int, ...] = ()
    level: int = 0  # outline level (unit rows beneath a 合计)
    shade: bool = False


class _Book:
    """An xlsxwriter workbook with cached formats and safe, unique sheet names."""

    def __init__(self, path: Path, title: str, issuer: str):
        self.wb = xlsxwriter.Workbook(
            str(path),
            {
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "remove_timezone": True,
            },
        )
        self.wb.set_properties({"title": _CONTROL_CHARS.sub("", title),
                                "author": _CONTROL_CHARS.sub("", issuer),
                                "comments": "由 ducha 生成"})
        self.title = title
        self.issuer = issuer
        self._formats: dict[tuple, Format] = {}
        self._taken: set[str] = set()

    def fmt(self, *styles: dict | None, **extra: object) -> Format:
        props: dict[str, object] = {}
        for style in styles:
            if style:
                props.update(style)
        props.update(extra)
        key = tuple(sorted(props.items()))
        if key not in self._formats:
            self._formats[key] = self.wb.add_format(props)
        return self._formats[key]

    def sheet(self, name: str) -> _Sheet:
        return _Sheet(self, self.wb.add_worksheet(sheet_name(name, self._taken)))

    def close(self) -> None:
        self.wb.close()


class _Sheet:
    """A worksheet that writes every value by its type and remembers column widths."""

    def __init__(self, book: _Book, ws: Worksheet):
        self.book = book
        self.ws = ws
        self.widths: dict[int, int] = {}
        self.cols: list[_Col] = []
        # row -> (outline level, {col: wrapped text}) for heights once widths are known
        self._rows: dict[int, tuple[int, dict[int, str]]] = {}

    @property
    def name(self) -> str:
        return self.ws.get_name()

    def _measure(self, col: int, width: int) -> None:
        if width > self.widths.get(col, 0):
            self.widths[col] = width

    def value(self, row: int, col: int, value: object, fmt: Format,
              kind: str = "text", places: int | None = None, styles: Sequence[dict] = (),
              measure: bool = True, extra_width: int = 0) -> None:
        """Write one value with the writer that matches its type (text always as text)."""
        ws = self.ws
        shown = ""
        if value is None or value == "":
            ws.write_blank(row, col, None, fmt)
        elif isinstance(value, str):
            shown = value[:MAX_CELL_TEXT]
            ws.write_string(row, col, shown, fmt)
        elif isinstance(value, bool):
            shown = "是" if value else "否"
            ws.write_string(row, col, shown, fmt)
        elif isinstance(value, (int, Decimal)):
            d = value if isinstance(value, Decimal) else Decimal(value)
            if not d.is_finite():
                ws.write_blank(row, col, None, fmt)
            else:
                kind = kind if kind in ("num", "pct", "pts", "int", "count") else "num"
                digits = places if places is not None and kind in ("pct", "pts") else _places(d)
                if kind in ("int", "count"):
                    digits = 0
                num_fmt = self.book.fmt(*styles, num_format=_num_format(digits, kind))
                ws.write_number(row, col, float(d), num_fmt)
                rounded = d.quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
                shown = format(rounded, ",f" if kind == "num" else "f") + ("%" if kind == "pct" else "")
        elif isinstance(value, datetime):
            ws.write_datetime(row, col, value, self.book.fmt(*styles, num_format="yyyy-mm-dd hh:mm"))
            shown = f"{value:%Y-%m-%d %H:%M}  "
        elif isinstance(value, date):
            ws.write_datetime(row, col, value, self.book.fmt(*styles, num_format='yyyy"年"m"月"d"日"'))
            shown = _date_text(value)
        else:  # anything else is shown as its text, still never as a formula
            shown = str(value)[:MAX_CELL_TEXT]
            ws.write_string(row, col, shown, fmt)
        if measure:
            self._measure(col, text_width(shown) + extra_width)

    def text(self, row: int, col: int, text: str, *styles: dict, **extra: object) -> None:
        self.value(row, col, text, self.book.fmt(*styles, **extra), measure=False)

    def title(self, row: int, first_col: int, last_col: int, text: str, style: dict = _TITLE,
              height: float = 30) -> None:
        """A merged title line; the text goes in with write_string, not through merge_range."""
        fmt = self.book.fmt(style)
        if last_col > first_col:
            self.ws.merge_range(row, first_col, row, last_col, "", fmt)
        if text:
            self.ws.write_string(row, first_col, text[:MAX_CELL_TEXT], fmt)
        self.ws.set_row(row, height)

    def table(self, top: int, cols: Sequence[_Col], rows: Iterable[_Row]) -> int:
        """Header at ``top`` and the rows beneath; returns the last row index written."""
        self.cols = list(cols)
        for c, col in enumerate(cols):
            colour = {"bg_color": col.header[0], "font_color": col.header[1]} if col.header else None
            self.ws.write_string(top, c, col.title, self.book.fmt(_HEADER, colour))
            self._measure(c, _header_width(col.title))
        self.ws.set_row(top, 28)
        r = top
        for r, trow in enumerate(rows, start=top + 1):
            for c, col in enumerate(cols):
                value = trow.values[c] if c < len(trow.values) else None
                styles = self._styles(col, trow, c, value)
                indent = 2 * (c in trow.indent)
                self.value(r, c, value, self.book.fmt(*styles), col.kind, trow.places, styles,
                           extra_width=indent)
            wrapped = {c: v for c, (col, v) in enumerate(zip(cols, trow.values, strict=False))
                       if col.kind == "wrap" and isinstance(v, str) and v}
            self._rows[r] = (trow.level, wrapped)
            if trow.level:
                self.ws.set_row(r, None, None, {"level": trow.level})
        return r

    @staticmethod
    def _styles(col: _Col, trow: _Row, c: int, value: object) -> list[dict]:
        styles: list[dict] = [_CELL]
        if col.kind == "wrap":
            styles.append({"text_wrap": True})
        elif col.kind in ("status", "int", "count"):
            styles.append({"align": "center"})
        if trow.shade:
            styles.append({"bg_color": "#F2F2F2"})
        if trow.bold:
            styles.append({"bold": True})
        if c in trow.indent:
            styles.append({"indent": 1})
        if col.colours and isinstance(value, str) and value in col.colours:
            fill, font = col.colours[value]
            styles.append({"bg_color": fill, "font_color": font})
        return styles

    def fit_columns(self) -> list[int]:
        """Column widths from the content measured (CJK counts double), within limits."""
        widths = []
        for c, col in enumerate(self.cols):
            width = min(max(self.widths.get(c, 0) + 2, col.min_width), col.max_width)
            self.ws.set_column(c, c, width)
            widths.append(width)
        # Neither Excel nor LibreOffice reliably grows rows for wrapped text in a new file,
        # so each row gets the height its longest wrapped cell needs.
        for r, (level, wrapped) in self._rows.items():
            lines = max((_lines(text, widths[c]) for c, text in wrapped.items() if c < len(widths)),
                        default=1)
            if lines > 1:
                self.ws.set_row(r, _LINE_PT * lines + 3, None, {"level": level} if level else None)
        self._rows.clear()
        return widths

    def finish_list(self, header_row: int, last_row: int, last_col: int, freeze_cols: int = 0,
                    title: str = "", paper: int = A4) -> None:
        """Frozen header, autofilter and print set-up for a list sheet."""
        self.ws.freeze_panes(header_row + 1, freeze_cols)
        self.ws.autofilter(header_row, 0, max(last_row, header_row), last_col)
        _print_setup(self.ws, self.book, header_row, title, paper=paper)


_LINE_PT = 13.5  # height of one line of 10 pt text


def _lines(text: str, width: float) -> int:
    """Lines a wrapped text takes in a column ``width`` units wide (CJK counts double)."""
    room = max(width - 1.5, 1)
    return sum(max(1, math.ceil(text_width(line) / room)) for line in text.splitlines() or [""])


def _header_width(title: str) -> int:
    """Width a header asks for: headers wrap, so a long one needs about half its length."""
    width = text_width(title)
    return width if width <= 4 else max(4, -(-width // 2))


def _header_text(text: str) -> str:
    # '&' starts a control code in Excel headers; Excel allows 255 characters in all.
    return _CONTROL_CHARS.sub("", text).replace("&", "＆")[:80]


def _print_setup(ws: Worksheet, book: _Book, header_row: int | None, title: str = "",
                 fit: bool = True, paper: int = A4) -> None:
    """Landscape A4, one page wide, header rows repeated, page numbers in the footer."""
    ws.set_paper(paper)
    ws.set_landscape()
    if fit:
        ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.75, bottom=0.75)
    ws.center_horizontally()
    ws.set_header(f"&L{_header_text(book.issuer)}&R{_header_text(title or book.title)}")
    ws.set_footer("&C第 &P 页 共 &N 页")
    if header_row is not None:
        ws.repeat_rows(0, header_row)


def _write_xlsx(target: Path, title: str, issuer: str, build: Callable[[_Book], None]) -> Path:
    with _atomic(target) as tmp:
        book = _Book(tmp, title, issuer)
        try:
            build(book)
        finally:
            book.close()
    return target


# -- 汇总表 -----------------------------------------------------------------------------

_LAG_COLS = (
    _Col("类别", "wrap", 8, 16), _Col("任务编号", max_width=8), _Col("指标名称", "wrap", 12, 24),
    _Col("牵头单位", "wrap", 8, 14), _Col("计量单位", max_width=8), _Col("年度目标", "num"),
    _Col("本期完成", "num"), _Col("完成率/比率", "pct", 8), _Col("序时进度", "pct", 8),
    _Col("差距", "pts"), _Col("完成时限", "wrap", 6, 12), _Col("状态", "status", 8, colours=STATUS_COLOURS),
    _Col("存在问题", "wrap", 20, 36),
)
_CAT_COLS = (
    _Col("任务编号", max_width=8), _Col("指标名称", "wrap", 12, 22), _Col("牵头单位", "wrap", 8, 12),
    _Col("单位名称", "wrap", 8, 14), _Col("计量单位", max_width=8), _Col("年度目标", "num"),
    _Col("本期完成", "num"), _Col("完成率/比率", "pct", 8), _Col("序时进度", "pct", 8),
    _Col("差距", "pts"), _Col("同比", "pct"), _Col("状态", "status", 8, colours=STATUS_COLOURS),
    _Col("进展情况", "wrap", 16, 32), _Col("存在问题", "wrap", 14, 26), _Col("备注", "wrap", 6, 14),
)
_SUBMIT_COLS = (
    _Col("单位名称", min_width=12, max_width=24), _Col("状态", "status", 10, colours=SUBMIT_COLOURS),
    _Col("收到时间", "datetime", 16), _Col("文件", "wrap", 16, 40), _Col("错误数", "int", 7),
    _Col("提示数", "int", 7), _Col("说明", "wrap", 16, 40),
)


def _summary_title(result: RoundResult) -> str:
    title = result.registry.settings.title or "重点工作进展情况"
    title = title.removesuffix("报告")
    return f"{title}汇总表"


def _value_or_state(row: ResultRow) -> object:
    return row.value if row.indicator.numeric else (row.state or None)


def write_summary(result: RoundResult, path: Path) -> Path:
    """汇总表_<轮次>.xlsx for leaders: overview with charts, lagging items, returns, categories."""
    target = _target(path, _file_name("汇总表_{round}.xlsx", result.round.name))
    settings = result.registry.settings
    title = _summary_title(result)

    def build(book: _Book) -> None:
        _overview_sheet(book, result, title)
        _lagging_sheet(book, result)
        _submission_sheet(book, result)
        for sheet, cat_title in _category_order(result):
            _summary_category_sheet(book, result, sheet, cat_title)

    return _write_xlsx(target, f"{title}（{result.round.name}）", settings.issuer, build)


def _expected_units(result: RoundResult) -> list[str]:
    return list(result.expected_units) or [u.name for u in result.registry.reporting_units()]


def _overview_sheet(book: _Book, result: RoundResult, title: str) -> None:
    sh = book.sheet("总览")
    ws = sh.ws
    statuses = list(STATUSES)
    statuses += sorted({r.status for r in result.headline() if r.status and r.status not in statuses})
    last_col = 1 + len(statuses)
    sh.title(0, 0, last_col, title)
    sh.title(1, 0, last_col, f"{result.registry.settings.issuer}    轮次：{result.round.name}",
             {**_NOTE, "align": "center"}, height=18)

    # Key facts in two label | value blocks side by side (rows 4-7).
    expected = set(_expected_units(result))
    states = Counter(s.state for s in _unit_states(result) if s.unit in expected)
    left: list[tuple[str, object, str]] = [
        ("统计截止日期", result.round.cutoff, "date"),
        ("报送截止日期", result.round.deadline, "date"),
        ("序时进度", result.time_progress, "pct"),
        ("生成时间", result.now, "datetime"),
    ]
    right: list[tuple[str, object, str]] = [
        ("应报单位数", len(expected), "int"),
        ("按时报送", states["按时报送"], "int"),
        ("逾期报送", states["逾期报送"], "int"),
        ("未报送（含被拒收）", states["未报送"] + states["被拒收"], "int"),
    ]
    value_style = [_CELL, {"align": "left"}]
    value_fmt = book.fmt(*value_style)
    pairs = zip(left, right, strict=True)
    for i, ((l_label, l_value, l_kind), (r_label, r_value, r_kind)) in enumerate(pairs):
        r = 3 + i
        sh.text(r, 0, l_label, _LABEL)
        ws.merge_range(r, 1, r, 3, "", value_fmt)
        places = _places(l_value) if isinstance(l_value, Decimal) else None
        sh.value(r, 1, l_value, value_fmt, l_kind, places, value_style, measure=False)
        ws.merge_range(r, 5, r, 7, "", book.fmt(_LABEL))
        sh.text(r, 5, r_label, _LABEL)
        ws.merge_range(r, 8, r, 9, "", value_fmt)
        sh.value(r, 8, r_value, value_fmt, r_kind, None, value_style, measure=False)

    # Category x status counts: computed here and written as values, never formulas.
    top = 8
    cats = _category_order(result)
    headline = result.headline()
    totals = Counter(r.status for r in headline)
    cols = [_Col("类别", min_width=12, max_width=30), _Col("指标数", "count", 7)]
    cols += [_Col(s, "count", 7, 9, header=STATUS_COLOURS.get(s)) for s in statuses]
    rows = []
    for sheet, _ in cats:
        c = Counter(r.status for r in headline if r.category == sheet)
        rows.append(_Row([sheet, sum(c.values())] + [c[s] for s in statuses]))
    rows.append(_Row([TOTAL, sum(totals.values())] + [totals[s] for s in statuses], bold=True,
                     shade=True))
    last = sh.table(top, cols, rows)
    ws.set_row(top, 30)
    widths = sh.fit_columns()
    if not totals:
        sh.text(last + 2, 0, "本轮暂无指标数据", _NOTE)
        _print_setup(ws, book, None)
        ws.activate()
        return

    # Two native charts side by side under the table, as wide as the table together.
    chart_top = last + 2
    table_px = int(sum(w * 7 + 5 for w in widths) * 0.97)  # a little inside the print area
    chart_px = _CHART_ROWS * 20
    present = [s for s in statuses if totals[s]]
    share_top = chart_top + _CHART_ROWS + 1
    _overview_charts(book, sh, cats, statuses, present, top, share_top, chart_top, table_px, chart_px)

    # Overall shares: the doughnut's data, shown on screen below the charts.
    grand = sum(totals.values())
    share_rows = [
        _Row([s, totals[s], (Decimal(totals[s]) * 100 / grand).quantize(Decimal("0.01"), ROUND_HALF_UP)],
             places=2)
        for s in present
    ]
    share_cols = [_Col("状态", "status", colours=STATUS_COLOURS), _Col("指标数", "int"),
                  _Col("占比", "pct")]
    sh.table(share_top, share_cols, share_rows)

    # The table never needs more than a page's width (12 columns, widths capped), so the
    # sheet prints at 100% with a manual break keeping the charts whole: Excel ignores
    # manual breaks on a "fit to page" sheet, and a chart cut by a page break is lost.
    _print_setup(ws, book, None, fit=False)
    scale = min(100, int(100 * _PRINTABLE_WIDTH_PX / max(table_px, 1)))
    ws.set_print_scale(max(scale, 10))
    used_pt = 30 + 18 + 15 * 6 + 30 + 15 * (last - top) + 15
    if (used_pt + chart_px * 0.75) * scale / 100 > _PRINTABLE_HEIGHT_PT:
        ws.set_h_pagebreaks([chart_top])
    ws.print_area(0, 0, chart_top + _CHART_ROWS, last_col)
    ws.hide_gridlines(2)
    ws.activate()


_CHART_ROWS = 15  # chart height in default rows of 20 px
_PRINTABLE_WIDTH_PX = int((11.69 - 0.8) * 96)  # A4 landscape less 0.4" side margins
_PRINTABLE_HEIGHT_PT = (8.27 - 1.5) * 72  # less 0.75" top and bottom margins


def _overview_charts(book: _Book, sh: _Sheet, cats: list[tuple[str, str]], statuses: list[str],
                     present: list[str], top: int, share_top: int, chart_top: int,
                     width_px: int, height_px: int) -> None:
    """A stacked column chart by category and a doughnut of all statuses (native charts)."""
    name = sh.name
    colours = _CHART_COLOURS
    first, last = top + 1, top + len(cats)
    font = {"name": FONT, "size": 9}
    title_font = {"name": FONT, "size": 12, "bold": True}
    column_px = int(width_px * 0.58)
    column = book.wb.add_chart({"type": "column", "subtype": "stacked"})
    for status in present:
        c = 2 + statuses.index(status)
        column.add_series({
            "name": [name, top, c],
            "categories": [name, first, 0, last, 0],
            "values": [name, first, c, last, c],
            "fill": {"color": colours.get(status, "#5B9BD5")},
            "gap": 80,
            "data_labels": {"value": True, "num_format": "0;-0;;", "font": font},
        })
    column.set_title({"name": "各类别指标进展情况", "name_font": title_font})
    column.set_x_axis({"num_font": font})
    column.set_y_axis({"name": "指标数", "name_font": font, "num_font": font, "num_format": "0",
                       "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    column.set_legend({"position": "bottom", "font": font})
    column.set_size({"width": column_px, "height": height_px})
    sh.ws.insert_chart(chart_top, 0, column, {"object_position": 3})

    doughnut = book.wb.add_chart({"type": "doughnut"})
    n = len(present)
    doughnut.add_series({
        "name": "总体进展",
        "categories": [name, share_top + 1, 0, share_top + n, 0],
        "values": [name, share_top + 1, 1, share_top + n, 1],
        "points": [{"fill": {"color": colours.get(s, "#5B9BD5")}} for s in present],
        "data_labels": {"value": True, "percentage": True, "separator": "\n", "font": font},
    })
    doughnut.set_title({"name": "总体进展（指标数及占比）", "name_font": title_font})
    doughnut.set_legend({"position": "right", "font": font})
    doughnut.set_hole_size(45)
    doughnut.set_size({"width": width_px - column_px - 8, "height": height_px})
    sh.ws.insert_chart(chart_top, 0, doughnut, {"x_offset": column_px + 8, "object_position": 3})


def _lagging_sheet(book: _Book, result: RoundResult) -> None:
    sh = book.sheet("滞后事项")
    cols = _LAG_COLS
    sh.title(0, 0, len(cols) - 1,
             f"滞后事项（截至{_date_text(result.round.cutoff)}，序时进度"
             f"{format_number(result.time_progress)}%）")
    order = {sheet: i for i, (sheet, _) in enumerate(_category_order(result))}
    lagging = [r for r in result.headline() if r.status in LAGGING]
    lagging.sort(key=lambda r: order.get(r.category, len(order)))
    rows = [
        _Row([r.category, r.indicator.task_no, r.indicator.name, r.indicator.lead, r.indicator.unit,
              r.target, _value_or_state(r), _rate(r), r.time_progress, r.gap,
              _due(r.indicator), r.status, r.problems], places=r.indicator.decimals)
        for r in lagging
    ]
    last = sh.table(1, cols, rows)
    if not rows:
        last = 2
        sh.ws.merge_range(2, 0, 2, len(cols) - 1, "", book.fmt(_CELL, align="center"))
        sh.text(2, 0, "本轮无滞后、未达标或逾期事项", _CELL, align="center")
    sh.fit_columns()
    sh.finish_list(1, last, len(cols) - 1, 0, "滞后事项")


def _submission_sheet(book: _Book, result: RoundResult) -> None:
    sh = book.sheet("报送情况")
    cols = _SUBMIT_COLS
    sh.title(0, 0, len(cols) - 1, f"报送情况（报送截止日期：{_date_text(result.round.deadline)}）")
    rows = []
    for st in _unit_states(result):
        sub = st.submission
        note = ""
        if st.state == "被拒收" and sub is not None:
            note = sub.reason
        elif st.state == "逾期报送":
            note = "晚于报送截止时间"
        if st.files > 1:
            note = "；".join(x for x in (note, f"共收到{st.files}个文件") if x)
        rows.append(_Row([
            st.unit, st.state, sub.received if sub else None, sub.file if sub else "",
            sub.errors if sub else None, sub.notices if sub else None, note,
        ]))
    last = sh.table(1, cols, rows)
    sh.fit_columns()
    sh.finish_list(1, last, len(cols) - 1, 1, "报送情况")


def _summary_category_sheet(book: _Book, result: RoundResult, sheet: str, cat_title: str) -> None:
    sh = book.sheet(sheet)
    cols = _CAT_COLS
    sh.title(0, 0, len(cols) - 1, cat_title or sheet, {**_TITLE, "font_size": 13, "text_wrap": True},
             height=36)
    rows_here = result.rows_in(sheet)
    parts: dict[str, list[ResultRow]] = defaultdict(list)
    totals = {r.indicator.code for r in rows_here if r.is_total}
    for r in rows_here:
        if not r.is_total and r.indicator.code in totals:
            parts[r.indicator.code].append(r)
    headline = [r for r in result.headline() if r.category == sheet]
    table: list[_Row] = []
    for row in headline:
        ind = row.indicator
        table.append(_Row([
            ind.task_no, ind.name, ind.lead, row.unit, ind.unit, row.target, _value_or_state(row),
            _rate(row), row.time_progress, row.gap, row.yoy, row.status, row.progress, row.problems,
            _remark(row),
        ], places=ind.decimals, bold=row.is_total))
        for part in parts.get(ind.code, []) if row.is_total else []:
            table.append(_Row([
                "", "", "", part.unit, "", part.target, _value_or_state(part), _rate(part),
                part.time_progress, part.gap, part.yoy, part.status, part.progress, part.problems,
                _remark(part),
            ], places=ind.decimals, indent=(3,), level=1))  # 3: 单位名称, indented
    last = sh.table(1, cols, table)
    if not table:
        last = 2
        sh.text(2, 0, "本类别暂无结果", _NOTE)
    sh.ws.outline_settings(True, False, True, False)
    sh.fit_columns()
    sh.finish_list(1, last, len(cols) - 1, 2, sheet)


# -- 台账 -------------------------------------------------------------------------------

_LEDGER_WIDTHS = {
    "任务编号": (8, 10), "重点工作": (16, 30), "牵头单位": (8, 16), "配合单位": (8, 20),
    "指标编号": (8, 12), "指标名称": (12, 26), "进展情况": (20, 40), "存在问题": (16, 32),
    "下步打算": (16, 32), "备注": (8, 20), "单位名称": (8, 18),
}
_LEDGER_KINDS = {
    "年度目标": "num", "本期完成": "num", "基数": "num", "上年同期": "num", "完成率": "pct",
    "比率": "pct", "序时进度": "pct", "差距": "pts", "同比": "pct", "状态": "status",
    "重点工作": "wrap", "配合单位": "wrap", "指标名称": "wrap", "进展情况": "wrap",
    "存在问题": "wrap", "下步打算": "wrap", "备注": "wrap", "牵头单位": "wrap",
}


def _ledger_cols() -> list[_Col]:
    cols = []
    for title in LEDGER_COLUMNS:
        lo, hi = _LEDGER_WIDTHS.get(title, (6, 20))
        kind = _LEDGER_KINDS.get(title, "text")
        cols.append(_Col(title, kind, lo, hi, STATUS_COLOURS if kind == "status" else None))
    return cols


def _ledger_row(ind: Indicator, row: ResultRow | None) -> _Row:
    head = [ind.task_no, ind.task, ind.lead, ind.co, ind.code, ind.name, ind.kind, ind.unit]
    if row is None:
        return _Row(head + [ind.target, ind.due_text or ind.due] + [None] * 15,
                    places=ind.decimals)
    due: object = ind.due_text or ind.due
    return _Row(head + [
        row.target, due, row.unit, row.value, row.base, row.last_year, row.state, row.completion,
        row.ratio, row.time_progress, row.gap, row.yoy, row.status, row.progress, row.problems,
        row.next_steps, _remark(row),
    ], places=ind.decimals, bold=row.is_total, shade=row.is_total)


def write_ledger(result: RoundResult, path: Path) -> Path:
    """台账_<轮次>.xlsx: every registry row with every unit's returned values and text."""
    target = _target(path, _file_name("台账_{round}.xlsx", result.round.name))
    settings = result.registry.settings

    def build(book: _Book) -> None:
        cols = _ledger_cols()
        by_code: dict[str, list[ResultRow]] = defaultdict(list)
        for row in result.rows:
            by_code[row.indicator.code].append(row)
        for sheet, cat_title in _category_order(result):
            cat = result.registry.category(sheet)
            indicators = list(cat.indicators) if cat else []
            codes = {ind.code for ind in indicators}
            # Rows whose indicator is not in this registry category still get listed.
            for row in result.rows_in(sheet):
                if row.indicator.code not in codes:
                    codes.add(row.indicator.code)
                    indicators.append(row.indicator)
            rows: list[_Row] = []
            for ind in indicators:
                mine = [r for r in by_code.get(ind.code, []) if r.category == sheet]
                if mine:
                    rows.extend(_ledger_row(ind, r) for r in mine)
                else:
                    rows.append(_ledger_row(ind, None))
            sh = book.sheet(sheet)
            sh.title(0, 0, len(cols) - 1, cat_title or sheet, {**_TITLE, "font_size": 13, "align": "left"})
            last = sh.table(1, cols, rows)
            sh.fit_columns()
            # 25 columns: the ledger prints on A3 (still landscape, one page wide).
            sh.finish_list(1, last, len(cols) - 1, 0, f"台账 {sheet}", paper=A3)

    return _write_xlsx(target, f"{settings.title}台账（{result.round.name}）", settings.issuer, build)


# -- 校验报告 ---------------------------------------------------------------------------

_FINDING_COLS = (
    _Col("文件", "wrap", 12, 36), _Col("单位", min_width=8, max_width=18), _Col("工作表", "wrap", 8, 24),
    _Col("单元格", min_width=6, max_width=10), _Col("代码", min_width=6, max_width=8),
    _Col("级别", "status", 6, 8, LEVEL_COLOURS), _Col("说明", "wrap", 30, 80),
)
_CHECK_SUMMARY_COLS = (
    _Col("单位", min_width=12, max_width=24), _Col("收到文件数", "int", 8), _Col("接受", "int", 6),
    _Col("拒收", "int", 6), _Col("错误数", "int", 6), _Col("提示数", "int", 6),
    _Col("说明", "wrap", 16, 50),
)
_CATALOGUE_COLS = (
    _Col("代码", min_width=6, max_width=8), _Col("级别", "status", 6, 8, LEVEL_COLOURS),
    _Col("说明", "wrap", 20, 50), _Col("处理办法", "wrap", 20, 50),
)


def _finding_unit(f: Finding, file_units: dict[str, str]) -> str:
    return f.unit or file_units.get(f.file, "")


def write_check_report(result: RoundResult, path: Path) -> Path:
    """校验报告_<轮次>.xlsx: per-unit tally, one row per finding, and the code legend."""
    target = _target(path, _file_name("校验报告_{round}.xlsx", result.round.name))
    settings = result.registry.settings

    def build(book: _Book) -> None:
        file_units = {s.file: s.unit for s in result.submissions if s.unit}
        subs: dict[str, list[Submission]] = defaultdict(list)
        for sub in result.submissions:
            subs[sub.unit].append(sub)
        levels: dict[str, Counter] = defaultdict(Counter)
        for f in result.findings:
            levels[_finding_unit(f, file_units)][f.level] += 1
        expected = _expected_units(result)
        names = list(dict.fromkeys(expected + list(subs) + list(levels)))
        rows, tally = [], Counter()
        for name in names:
            mine = subs.get(name, [])
            accepted = sum(1 for s in mine if s.accepted)
            rejected = len(mine) - accepted
            errors, notices = levels[name][Level.ERROR], levels[name][Level.NOTICE]
            reasons = "；".join(dict.fromkeys(s.reason for s in mine if not s.accepted and s.reason))
            if not mine:
                reasons = reasons or "未收到报表"
            tally.update(files=len(mine), accepted=accepted, rejected=rejected, errors=errors,
                         notices=notices)
            rows.append(_Row([name or UNKNOWN_UNIT, len(mine), accepted, rejected, errors, notices,
                              reasons]))
        rows.append(_Row([TOTAL, tally["files"], tally["accepted"], tally["rejected"], tally["errors"],
                          tally["notices"], ""], bold=True, shade=True))
        title = f"校验报告（{result.round.name}）"
        sh = book.sheet("汇总")
        last = sh.table(0, _CHECK_SUMMARY_COLS, rows)
        sh.fit_columns()
        sh.finish_list(0, last, len(_CHECK_SUMMARY_COLS) - 1, 1, title)

        sh = book.sheet("问题清单")
        order = [c.title for c in _FINDING_COLS]
        frows = []
        for f in result.findings:
            flat = f.as_row()
            if not flat["单位"]:
                flat["单位"] = _finding_unit(f, file_units)
            frows.append(_Row([flat[k] for k in order]))
        last = sh.table(0, _FINDING_COLS, frows)
        sh.fit_columns()
        sh.finish_list(0, last, len(_FINDING_COLS) - 1, 0, title)

        sh = book.sheet("代码说明")
        crows = [_Row([c[k] for k in ("代码", "级别", "说明", "处理办法")]) for c in catalogue()]
        last = sh.table(0, _CATALOGUE_COLS, crows)
        sh.fit_columns()
        sh.finish_list(0, last, len(_CATALOGUE_COLS) - 1, 1, "代码说明")

    return _write_xlsx(target, f"校验报告（{result.round.name}）", settings.issuer, build)


# -- results.csv ------------------------------------------------------------------------


def _csv_text(text: object) -> str:
    """Text for a CSV cell, with anything a spreadsheet would run as a formula neutralised."""
    s = "" if text is None else str(text)
    if s.startswith(_CSV_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(s):
        return "'" + s
    return s


def _csv_row(row: ResultRow) -> list[str]:
    ind = row.indicator
    texts = [row.round, row.category, ind.task_no, ind.code, ind.name, row.unit, ind.unit]
    numbers = [row.target, row.value, row.base, row.last_year, _rate(row), row.time_progress,
               row.gap, row.yoy]
    # format_number only ever yields plain numbers (-?digits[.digits]), which stay as they are.
    return [_csv_text(t) for t in texts] + [format_number(d) for d in numbers] + [_csv_text(row.status)]


def write_results_csv(result: RoundResult, path: Path) -> Path:
    """results.csv (UTF-8 with BOM): one row per ResultRow, in result.rows order."""
    target = _target(path, "results.csv")
    with _atomic(target) as tmp, open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(_csv_row(row) for row in result.rows)
    return target

