"""Writers for a round's outputs: summary, merged ledger, check report and results.csv.

Each writer renders a :class:`~toolkit.standing.Standing` exactly as the merge computed
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
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from .errors import WorkspaceError
from .findings import Finding, Level, catalogue, where
from .formatting import cn_date, format_number, places_of
from .model import STATUSES, TOTAL, Indicator, ResultRow, Status
from .standing import ATTENTION, Fate, Standing, UnitStanding, UnitState
from .store import atomic_path, display_width

__all__ = [
    "CSV_COLUMNS",
    "LEDGER_COLUMNS",
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
SUBMIT_COLOURS = {"按时报送": _GREEN, "逾期报送": _AMBER, "未报送": _GREY, "空表": _RED, "被拒收": _RED}
LEVEL_COLOURS = {Level.REJECT.value: _RED, Level.ERROR.value: _AMBER, Level.NOTICE.value: _BLUE}
# Stronger colours for chart series, same meaning as the cell colours.
_CHART_COLOURS = {
    "已完成": "#00B050", "序时推进": "#92D050", "滞后": "#FFC000", "达标": "#2E8B57",
    "未达标": "#ED7D31", "逾期": "#C00000", "推进中": "#5B9BD5", "未启动": "#A5A5A5",
    "未报送": "#7F7F7F", "待更正": "#BFBFBF",
}


# -- small shared helpers --------------------------------------------------------------


_places = places_of


def text_width(text: str) -> int:
    """Display width of the longest line: CJK and full-width characters count double."""
    return max(display_width(line) for line in str(text).splitlines() or [""])


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
    with atomic_path(target) as tmp:  # fsync, replace, and the "open in Excel/WPS" message
        yield tmp


def _date_text(d: date | None) -> str:
    return cn_date(d) if d else ""


def _due(ind: Indicator) -> str:
    return ind.due_text or _date_text(ind.due)


def _rate(row: ResultRow) -> Decimal | None:
    """完成率, or for a 比率 row without one the ratio itself."""
    if row.completion is None and row.indicator.kind == "比率":
        return row.ratio
    return row.completion


def _base_text(row: ResultRow) -> str:
    """A 比率 row's count and base (``1,816/2,124``), shown beside the rate."""
    if row.indicator.kind != "比率" or row.value is None or row.base is None:
        return ""
    return f"{format(row.value, ',f')}/{format(row.base, ',f')}"


def _remark(row: ResultRow) -> str:
    parts = []
    if row.is_total and row.missing_parts:
        parts.append("缺：" + "、".join(row.missing_parts) + ("，暂不判断" if row.undecided else ""))
    if row.late:
        parts.append("逾期报送")
    return "；".join(parts)


def _category_order(result: Standing) -> list[tuple[str, str]]:
    """(sheet, title) of every category: the registry's order, then any only in rows."""
    cats = [(c.sheet, c.title) for c in result.registry.categories]
    seen = {sheet for sheet, _ in cats}
    for row in result.rows:
        if row.category not in seen:
            seen.add(row.category)
            cats.append((row.category, row.category_title or row.category))
    return cats


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
    #: column -> at least this many decimals for a num column, so that the figures of one
    #: indicator (a 合计 and its units) line up: 8.50 above 5.62, never 8.5 above 5.62
    num_places: dict[int, int] = field(default_factory=dict)


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
        self.fitted: list[int] = []  # widths set by fit_columns
        self.heights: dict[int, float] = {}  # row -> height in points, where set
        # row -> (outline level, {col: wrapped text}) for heights once widths are known
        self._rows: dict[int, tuple[int, dict[int, str]]] = {}

    @property
    def name(self) -> str:
        return self.ws.get_name()

    def _measure(self, col: int, width: int) -> None:
        if width > self.widths.get(col, 0):
            self.widths[col] = width

    def set_height(self, row: int, height: float, level: int = 0) -> None:
        self.heights[row] = height
        self.ws.set_row(row, height, None, {"level": level} if level else None)

    def value(self, row: int, col: int, value: object, fmt: Format,
              kind: str = "text", places: int | None = None, styles: Sequence[dict] = (),
              measure: bool = True, extra_width: int = 0, min_places: int = 0) -> None:
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
                if kind == "num":
                    digits = max(digits, min_places)
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
        self.set_height(row, height)

    def table(self, top: int, cols: Sequence[_Col], rows: Iterable[_Row]) -> int:
        """Header at ``top`` and the rows beneath; returns the last row index written."""
        self.cols = list(cols)
        for c, col in enumerate(cols):
            colour = {"bg_color": col.header[0], "font_color": col.header[1]} if col.header else None
            self.ws.write_string(top, c, col.title, self.book.fmt(_HEADER, colour))
            self._measure(c, _header_width(col.title))
        self.set_height(top, 28)
        r = top
        for r, trow in enumerate(rows, start=top + 1):
            for c, col in enumerate(cols):
                value = trow.values[c] if c < len(trow.values) else None
                styles = self._styles(col, trow, c, value)
                indent = 2 * (c in trow.indent)
                self.value(r, c, value, self.book.fmt(*styles), col.kind, trow.places, styles,
                           extra_width=indent, min_places=trow.num_places.get(c, 0))
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
        elif col.kind in ("status", "int", "count") or (col.kind in _NUMBER_KINDS and isinstance(value, str)):
            # a word in a number column (推进中 under 本期完成) sits in the middle, not to the left
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
        widths: list[int] = []
        self.fitted = widths
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
                self.set_height(r, _LINE_PT * lines + 3, level)
        self._rows.clear()
        return widths

    def finish_list(self, header_row: int, last_row: int, last_col: int, freeze_cols: int = 0,
                    title: str = "", paper: int = A4) -> None:
        """Frozen header, autofilter and print set-up for a list sheet."""
        self.ws.freeze_panes(header_row + 1, freeze_cols)
        self.ws.autofilter(header_row, 0, max(last_row, header_row), last_col)
        _print_setup(self.ws, self.book, header_row, title, paper=paper,
                     one_page=self.nearly_one_page(last_row, paper))

    def nearly_one_page(self, last_row: int, paper: int = A4) -> bool:
        """Whether the sheet, one page wide, runs at most a fifth over one page tall.

        Such a sheet is printed "fit to one page": a few rows alone on a second sheet
        of paper help nobody, and Excel, WPS and LibreOffice measure rows differently
        (a file name that fits one line in 宋体 wraps in another font), so a list the
        estimate puts just inside one page may still spill in print.
        """
        width_px = sum(w * 7 + 5 for w in self.fitted) or 1
        page_w, page_h = _PAGE_INCHES[paper]
        scale = min(1.0, (page_w - 0.8) * 96 / width_px)
        last = max([last_row, *self.heights])
        height = sum(self.heights.get(r, _DEFAULT_ROW_PT) for r in range(last + 1))
        return height * scale <= (page_h - 1.5) * 72 * 1.2


_LINE_PT = 13.5  # height of one line of 10 pt text
_DEFAULT_ROW_PT = 15
_PAGE_INCHES = {A4: (11.69, 8.27), A3: (16.54, 11.69)}  # landscape (width, height)
_NUMBER_KINDS = ("num", "pct", "pts", "int", "count")


def _lines(text: str, width: float) -> int:
    """Lines a wrapped text takes in a column ``width`` units wide (CJK counts double)."""
    room = max(width - 1.5, 1)
    return sum(max(1, math.ceil(text_width(line) / room)) for line in text.splitlines() or [""])


def _header_width(title: str) -> int:
    """Width a header asks for: headers wrap, so a long one needs about half its length;
    one broken into lines by hand needs its longest line."""
    width = text_width(title)
    return width if width <= 4 or "\n" in title else max(4, -(-width // 2))


def _header_text(text: str) -> str:
    # '&' starts a control code in Excel headers; Excel allows 255 characters in all.
    return _CONTROL_CHARS.sub("", text).replace("&", "＆")[:80]


def _print_setup(ws: Worksheet, book: _Book, header_row: int | None, title: str = "",
                 fit: bool = True, paper: int = A4, one_page: bool = False) -> None:
    """Landscape A4, one page wide (and one tall if ``one_page``), header rows repeated,
    page numbers in the footer."""
    ws.set_paper(paper)
    ws.set_landscape()
    if fit:
        ws.fit_to_pages(1, 1 if one_page else 0)
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

_GAP = "差距\n（百分点）"  # 完成率 less 序时进度 (增速: growth less target), in percentage points
_LAG_COLS = (
    _Col("类别", "wrap", 8, 14), _Col("任务编号", max_width=8), _Col("指标名称", "wrap", 12, 24),
    _Col("牵头单位", "wrap", 8, 14), _Col("计量单位", max_width=8), _Col("年度目标", "num"),
    _Col("本期完成", "num"), _Col("完成率", "pct", 8), _Col("序时进度", "pct", 8),
    _Col(_GAP, "pts", 8), _Col("完成时限", "wrap", 6, 12), _Col("状态", "status", 8, colours=STATUS_COLOURS),
    _Col("存在问题", "wrap", 20, 34), _Col("备注", "wrap", 6, 16),
)
_CAT_COLS = (
    _Col("任务编号", max_width=8), _Col("指标名称", "wrap", 12, 22), _Col("牵头单位", "wrap", 8, 12),
    _Col("单位名称", "wrap", 8, 16), _Col("计量单位", max_width=8), _Col("年度目标", "num"),
    _Col("本期完成", "num"), _Col("完成率", "pct", 8), _Col("序时进度", "pct", 8),
    _Col(_GAP, "pts", 8), _Col("同比", "pct"), _Col("状态", "status", 8, colours=STATUS_COLOURS),
    _Col("进展情况", "wrap", 16, 32), _Col("存在问题", "wrap", 14, 26), _Col("备注", "wrap", 6, 14),
)
_SUBMIT_COLS = (
    _Col("单位名称", min_width=12, max_width=24), _Col("状态", "status", 10, colours=SUBMIT_COLOURS),
    _Col("收到时间", "datetime", 16), _Col("时间依据", min_width=8, max_width=10), _Col("文件", "wrap", 16, 44),
    _Col("错误数", "int", 7),
    _Col("提示数", "int", 7), _Col("说明", "wrap", 16, 40),
)
#: Header colours of the overview's status columns: the cell colours, and for the statuses
#: that cells leave plain the chart's hue, so that each header matches its chart series.
_OVERVIEW_HEADERS = {**STATUS_COLOURS, "推进中": _BLUE, "未启动": ("#EDEDED", "#3F3F3F")}
_WORST_SHOWN = 3  # items the overview names under 最需关注
_NAMES_SHOWN = 15  # units the overview names in one list before "等N个"
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"


def _summary_title(result: Standing) -> str:
    title = result.registry.settings.title or "重点工作进展情况"
    title = title.removesuffix("报告")
    return f"{title}汇总表"


def _value_or_state(row: ResultRow) -> object:
    """本期完成 as a leader reads it: the figure, the rate itself for a 比率 row, a 节点's state."""
    if row.indicator.kind == "比率":
        return row.ratio
    return row.value if row.indicator.numeric else (row.state or None)


def write_summary(result: Standing, path: Path) -> Path:
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


def _expected_units(result: Standing) -> list[str]:
    return [u.name for u in result.expected_units()]


def _behind_parts(parts: Sequence[ResultRow]) -> str:
    """其中滞后：湖滨区 — the units that pull a 合计 down (the standing's lagging parts), by status."""
    by_status: dict[str, list[str]] = defaultdict(list)
    for p in parts:
        by_status[p.status].append(p.unit)
    return "；".join(f"其中{s}：{'、'.join(units)}" for s, units in by_status.items())


def _pct_text(d: Decimal) -> str:
    return f"{format_number(d)}%"


def _lag_phrase(row: ResultRow, parts: Sequence[ResultRow] = ()) -> str:
    """One short clause saying how far a lagging row is off, for the overview."""
    ind = row.indicator
    if row.status is Status.OVERDUE:
        due = _due(ind)
        state = row.state or "未完成"
        return f"逾期，完成时限{due}，目前{state}" if due else f"逾期，目前{state}"
    if row.status is Status.LAGGING and row.completion is not None and row.gap is not None:
        return (f"完成{_pct_text(row.completion)}，"
                f"低于序时进度{format_number(abs(row.gap))}个百分点")
    text = str(row.status)
    if ind.kind == "比率" and row.ratio is not None and row.target is not None:
        text = f"{row.status}，比率{_pct_text(row.ratio)}，目标{_pct_text(row.target)}"
    elif row.value is not None and row.target is not None:
        text = (f"{row.status}，本期{format_number(row.value)}{ind.unit}，"
                f"目标{format_number(row.target)}{ind.unit}")
    behind = _behind_parts(parts)
    return f"{text}（{behind}）" if behind else text


def _names(names: Sequence[str]) -> str:
    shown = "、".join(names[:_NAMES_SHOWN])
    return shown + (f"等{len(names)}个" if len(names) > _NAMES_SHOWN else "")


def _key_points(result: Standing) -> list[tuple[str, str]]:
    """(label, text) lines for the overview's first page: what needs attention, by name."""
    lagging = result.attention()
    counts = Counter(item.row.status for item in lagging)
    points: list[tuple[str, str]] = []
    if lagging:
        detail = "、".join(f"{s}{counts[s]}项" for s in ATTENTION if counts[s])
        points.append(("需关注事项", f"共{len(lagging)}项：{detail}，明细按轻重排列见“滞后事项”工作表。"))
        worst = []
        for i, item in enumerate(lagging[:_WORST_SHOWN]):
            r = item.row
            who = r.indicator.lead or r.unit
            worst.append(f"{_CIRCLED[i]}{r.indicator.name}（{who}）：{_lag_phrase(r, item.lagging_parts)}")
        points.append(("最需关注", "\n".join(worst)))
    else:
        points.append(("需关注事项", "本轮无逾期、滞后或未达标事项。"))

    expected = result.expected_units()
    text = f"应报{len(expected)}个单位，按时报送{len(result.units_in(UnitState.ON_TIME))}个"
    for state in (UnitState.LATE, UnitState.MISSING, UnitState.EMPTY, UnitState.REJECTED):
        names = [u.name for u in result.units_in(state)]
        if names:
            text += f"；{state}{len(names)}个：{_names(names)}"
    points.append(("报送情况", text + "。"))

    if result.pending:
        units = list(dict.fromkeys(r.unit for r in result.pending))
        points.append(("数据待更正", f"{len(result.pending)}项数据有误未计入，已反馈相关单位更正：{_names(units)}。"))
    return points


def _overview_sheet(book: _Book, result: Standing, title: str) -> None:
    """总览: key dates, what needs attention by name, counts by category, two charts.

    The first printed page carries everything a leader reads first: 统计截止日期 and
    序时进度, how many items lag and which are the worst, and who has not reported.
    """
    sh = book.sheet("总览")
    ws = sh.ws
    statuses = [s for s in STATUSES if s is not Status.TO_ADD or result.counts[s]]
    last_col = 1 + len(statuses)
    sh.title(0, 0, last_col, title)
    sh.title(1, 0, last_col, f"{result.registry.settings.issuer}    轮次：{result.round.name}",
             {**_NOTE, "align": "center"}, height=18)

    # Key facts in two label | value blocks side by side (rows 4-7).
    expected = result.expected_units()
    left: list[tuple[str, object, str]] = [
        ("统计截止日期", result.round.cutoff, "date"),
        ("报送截止日期", result.round.deadline, "date"),
        ("序时进度", result.time_progress_shown, "pct"),
        ("生成时间", result.now, "datetime"),
    ]
    right: list[tuple[str, object, str]] = [
        ("应报单位数", len(expected), "int"),
        ("按时报送", len(result.units_in(UnitState.ON_TIME)), "int"),
        ("逾期报送", len(result.units_in(UnitState.LATE)), "int"),
        ("未报送（含空表、被拒收）", len(result.units_in(UnitState.MISSING, UnitState.EMPTY, UnitState.REJECTED)),
         "int"),
    ]
    value_style: list[dict] = [_CELL, {"align": "left"}]
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

    # What needs attention, in words (rows 9-), then the category x status counts.
    points = _key_points(result)
    points_top = 8
    top = points_top + len(points) + 1
    cats = _category_order(result)
    totals = result.counts
    cols = [_Col("类别", min_width=12, max_width=30), _Col("指标数", "count", 7)]
    cols += [_Col(s, "count", 7, 9, header=_OVERVIEW_HEADERS.get(s)) for s in statuses]
    rows: list[_Row] = []
    counts_by_cat: list[int] = []
    for sheet, _ in cats:
        c = result.counts_in(sheet)
        counts_by_cat.append(sum(c.values()))
        rows.append(_Row([sheet, sum(c.values())] + [c[s] for s in statuses]))
    rows.append(_Row([TOTAL, sum(totals.values())] + [totals[s] for s in statuses], bold=True,
                     shade=True))
    last = sh.table(top, cols, rows)
    sh.set_height(top, 30)
    widths = sh.fit_columns()
    text_width_units = sum(w * 7 + 5 for w in widths[1:last_col + 1]) / 7  # merged: padding too
    text_fmt = book.fmt(_CELL, text_wrap=True, valign="top")
    for i, (label, text) in enumerate(points):
        r = points_top + i
        sh.text(r, 0, label, _LABEL, valign="top")
        ws.merge_range(r, 1, r, last_col, "", text_fmt)
        ws.write_string(r, 1, text[:MAX_CELL_TEXT], text_fmt)
        sh.set_height(r, max(_DEFAULT_ROW_PT, _LINE_PT * _lines(text, text_width_units) + 3))
    if not totals:
        sh.text(last + 2, 0, "本轮暂无指标数据", _NOTE)
        _print_setup(ws, book, None, one_page=True)
        ws.activate()
        return

    # Two native charts side by side under the table, as wide as the table together.
    chart_top = last + 2
    table_px = int(sum(w * 7 + 5 for w in widths) * 0.97)  # a little inside the print area
    chart_px = max(300, 120 + 28 * len(cats))  # a bar per category, labels never squeezed
    chart_rows = -(-chart_px // 20)
    present = [s for s in statuses if totals[s]]
    share_top = chart_top + chart_rows + 1

    # Overall shares: the doughnut's data, shown on screen below the charts. The last column
    # is the doughnut's legend, so every status is named with its count and share there.
    grand = sum(totals.values())
    shares = {s: (Decimal(totals[s]) * 100 / grand).quantize(Decimal("0.01"), ROUND_HALF_UP)
              for s in present}
    share_rows = [_Row([s, totals[s], shares[s], f"{s} {totals[s]}项 {_pct_text(shares[s])}"],
                       places=2) for s in present]
    share_cols = [_Col("状态", "status", colours=STATUS_COLOURS), _Col("指标数", "int"),
                  _Col("占比", "pct"), _Col("图例")]
    sh.table(share_top, share_cols, share_rows)
    most = max(counts_by_cat, default=0)
    _overview_charts(book, sh, cats, statuses, present, shares, most, top, share_top, chart_top,
                     table_px, chart_px)

    # The sheet prints one page wide at a fixed scale (not "fit to page", which makes Excel
    # ignore manual breaks): the whole sheet on one page when that needs little shrinking,
    # else the text and table on page 1 and the charts whole on page 2.
    # Heights are estimates (each program measures rows its own way), so aim a little short.
    _print_setup(ws, book, None, fit=False)
    room = _PRINTABLE_HEIGHT_PT * 0.92
    width_scale = min(100, int(100 * _PRINTABLE_WIDTH_PX / max(table_px, 1)))
    content_pt = sum(sh.heights.get(r, _DEFAULT_ROW_PT) for r in range(last + 1))
    whole_pt = content_pt + _DEFAULT_ROW_PT + chart_px * 0.75
    if whole_pt * width_scale / 100 <= room:
        scale = width_scale
    elif 100 * room / whole_pt >= _MIN_ONE_PAGE_SCALE:
        scale = int(100 * room / whole_pt)
    else:
        scale = min(width_scale, max(_MIN_SCALE, int(100 * room / content_pt)))
        # the break goes right under the table: the spacer row starts page 2, so a page 1
        # that runs a little long never leaves a sliver of the charts behind
        ws.set_h_pagebreaks([last + 1])
    ws.set_print_scale(max(scale, 10))
    ws.print_area(0, 0, chart_top + chart_rows, last_col)
    ws.hide_gridlines(2)
    ws.activate()


_PRINTABLE_WIDTH_PX = int((11.69 - 0.8) * 96)  # A4 landscape less 0.4" side margins
_PRINTABLE_HEIGHT_PT = (8.27 - 1.5) * 72  # less 0.75" top and bottom margins
_MIN_ONE_PAGE_SCALE = 85  # shrink the overview this far to keep it on one page
_MIN_SCALE = 60  # never print the overview's first page smaller than this


def _label_colour(fill: str) -> str:
    """Black or white, whichever reads better on ``fill`` (#RRGGBB)."""
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#FFFFFF"


def _overview_charts(book: _Book, sh: _Sheet, cats: list[tuple[str, str]], statuses: list[Status],
                     present: list[Status], shares: dict[Status, Decimal], most: int, top: int,
                     share_top: int, chart_top: int, width_px: int, height_px: int) -> None:
    """A stacked bar chart by category and a doughnut of all statuses (native charts).

    Bars run sideways so that category names read horizontally, first category on top;
    each series and slice has its status's colour (the cell colours, stronger). Slices
    under 5% carry no label on the ring, where labels would overlap; the legend names
    every status with its count and share.
    """
    name = sh.name
    colours = _CHART_COLOURS
    first, last = top + 1, top + len(cats)
    font = {"name": FONT, "size": 9}
    title_font = {"name": FONT, "size": 12, "bold": True}
    bar_px = int(width_px * 0.55)
    bar = book.wb.add_chart({"type": "bar", "subtype": "stacked"})
    for status in present:
        c = 2 + statuses.index(status)
        colour = colours.get(status, "#5B9BD5")
        bar.add_series({
            "name": [name, top, c],
            "categories": [name, first, 0, last, 0],
            "values": [name, first, c, last, c],
            "fill": {"color": colour},
            "border": {"color": "#FFFFFF", "width": 0.5},
            "gap": 50,
            "data_labels": {"value": True, "num_format": "0;-0;;",
                            "font": {**font, "color": _label_colour(colour)}},
        })
    bar.set_title({"name": "各类别指标进展情况", "name_font": title_font})
    # In a bar chart y is the (vertical) category axis: reversed, the first category is on
    # top, and crossing at the last category keeps the count axis at the bottom.
    bar.set_y_axis({"num_font": font, "reverse": True, "crossing": "max", "major_tick_mark": "none",
                    "interval_unit": 1})  # every category named, never every other one
    count_axis = {"name": "指标数（项）", "name_font": font, "num_font": font, "num_format": "0", "min": 0,
                  "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}}
    # whole steps: left to itself a chart of small counts ticks 0, 0.5, 1 … shown as 0, 1, 1
    step = next((s for limit, s in ((10, 1), (20, 2), (50, 5), (100, 10)) if most <= limit), None)
    if step:
        count_axis["major_unit"] = step
    bar.set_x_axis(count_axis)
    bar.set_legend({"position": "bottom", "font": font})
    bar.set_size({"width": bar_px, "height": height_px})
    sh.ws.insert_chart(chart_top, 0, bar, {"object_position": 3})

    doughnut = book.wb.add_chart({"type": "doughnut"})
    n = len(present)
    doughnut.add_series({
        "name": "总体进展",
        "categories": [name, share_top + 1, 3, share_top + n, 3],
        "values": [name, share_top + 1, 1, share_top + n, 1],
        "points": [{"fill": {"color": colours.get(s, "#5B9BD5")}, "border": {"color": "#FFFFFF"}}
                   for s in present],
        "data_labels": {"percentage": True, "num_format": "0%", "font": {**font, "bold": True},
                        "custom": [{"delete": True} if shares[s] < 5 else None for s in present]},
    })
    doughnut.set_title({"name": "总体进展（指标数及占比）", "name_font": title_font})
    doughnut.set_legend({"position": "right", "font": font})
    doughnut.set_hole_size(45)
    doughnut.set_size({"width": width_px - bar_px - 8, "height": height_px})
    sh.ws.insert_chart(chart_top, 0, doughnut, {"x_offset": bar_px + 8, "object_position": 3})


def _lag_remark(row: ResultRow, parts: Sequence[ResultRow]) -> str:
    return "；".join(x for x in (_behind_parts(parts), _remark(row)) if x)


def _lagging_sheet(book: _Book, result: Standing) -> None:
    """滞后事项: every 逾期, 滞后 and 未达标 item, worst first, then totals on track whose units
    lag (the standing's lagging items, in its order)."""
    sh = book.sheet("滞后事项")
    cols = _LAG_COLS
    counts = Counter(item.row.status for item in result.attention())
    tally = "、".join(f"{s}{counts[s]}项" for s in ATTENTION if counts[s])
    sh.title(0, 0, len(cols) - 1,
             f"滞后事项（截至{_date_text(result.round.cutoff)}，序时进度"
             f"{format_number(result.time_progress_shown)}%" + (f"；{tally}" if tally else "") + "）")
    rows = []
    for item in result.lagging:
        r = item.row
        rows.append(_Row([
            r.category, r.indicator.task_no, r.indicator.name, r.indicator.lead, r.indicator.unit,
            r.target, _value_or_state(r), r.completion, r.time_progress, r.gap, _due(r.indicator),
            ("总体暂不判断" if r.undecided else f"总体{r.status}") if item.hidden else r.status, r.problems,
            _lag_remark(r, item.lagging_parts),
        ], places=r.indicator.decimals))
    last = sh.table(1, cols, rows)
    if not rows:
        last = 2
        sh.ws.merge_range(2, 0, 2, len(cols) - 1, "", book.fmt(_CELL, align="center"))
        sh.text(2, 0, "本轮无滞后、未达标或逾期事项", _CELL, align="center")
    else:
        note = ("说明：按逾期、滞后、未达标的顺序排列，同类事项按差距由大到小排列；最后是总体正常但部分单位滞后的事项。"
                "差距为完成率减序时进度（增速类为本期增速减目标），单位为百分点。")
        sh.ws.merge_range(last + 1, 0, last + 1, len(cols) - 1, "", book.fmt(_NOTE))
        sh.text(last + 1, 0, note, _NOTE)
    sh.fit_columns()
    sh.finish_list(1, last, len(cols) - 1, 0, "滞后事项")


def _submission_sheet(book: _Book, result: Standing) -> None:
    """报送情况: every expected unit in the registry's 单位 order (the order every 通报 uses),
    then any other sender; the overview names the units that are late or missing."""
    sh = book.sheet("报送情况")
    cols = _SUBMIT_COLS
    sh.title(0, 0, len(cols) - 1, f"报送情况（报送截止日期：{_date_text(result.round.deadline)}）")
    rows = []
    for u in result.units:
        chosen = u.chosen
        sub = chosen.submission if chosen is not None else None
        note = ""
        if u.state in (UnitState.REJECTED, UnitState.EMPTY) and sub is not None:
            note = sub.reason
        elif u.state is UnitState.LATE:
            note = "晚于报送截止时间"
        elif u.state is UnitState.MISSING:
            note = f"截至{_date_text(result.now.date())}未收到报表"
        if u.pending_rows:
            note = "；".join(x for x in (note, f"{u.pending_rows}项数据待更正") if x)
        if len(u.files) > 1:
            note = "；".join(x for x in (note, f"共收到{len(u.files)}个文件") if x)
        rows.append(_Row([
            u.name or UNKNOWN_UNIT, str(u.state) if u.expected or not u.name else f"{u.state}（非本轮填报单位）",
            sub.received if sub else None, str(sub.arrival_basis) if sub and sub.received else "",
            sub.file if sub else "", chosen.errors if chosen else None, chosen.notices if chosen else None, note,
        ]))
    last = sh.table(1, cols, rows)
    sh.fit_columns()
    sh.finish_list(1, last, len(cols) - 1, 1, "报送情况")


def _aligned_places(rows: Iterable[ResultRow], *fields: str) -> dict[tuple[str, str], int]:
    """Decimals each figure of an indicator is shown with, so that a 合计 and its units line up.

    Per (指标编号, field): the most decimals any of the indicator's rows carries, padding
    to at most max(2, 小数位数). Padding only ever adds zeros: a figure still shows every
    place it was given (4.8667 stays 4.8667).
    """
    out: dict[tuple[str, str], int] = {}
    for r in rows:
        for name in fields:
            v = getattr(r, name)
            if isinstance(v, Decimal) and v.is_finite():
                key = (r.indicator.code, name)
                out[key] = max(out.get(key, 0), min(_places(v), max(2, r.indicator.decimals)))
    return out


def _summary_remark(row: ResultRow) -> str:
    """备注 of a category sheet: a 比率 row's count and base beside its rate (``1,816/2,124``),
    missing parts and late returns."""
    return "；".join(x for x in (_base_text(row), _remark(row)) if x)


def _summary_category_sheet(book: _Book, result: Standing, sheet: str, cat_title: str) -> None:
    sh = book.sheet(sheet)
    cols = _CAT_COLS
    sh.title(0, 0, len(cols) - 1, cat_title or sheet, {**_TITLE, "font_size": 13, "text_wrap": True},
             height=36)
    rows_here = result.rows_in(sheet)
    aligned = _aligned_places(rows_here, "target", "value")
    headline = result.headline_in(sheet)
    table: list[_Row] = []
    for row in headline:
        ind = row.indicator
        places = {5: aligned.get((ind.code, "target"), 0), 6: aligned.get((ind.code, "value"), 0)}
        table.append(_Row([
            ind.task_no, ind.name, ind.lead, row.unit, ind.unit, row.target, _value_or_state(row),
            row.completion, row.time_progress, row.gap, row.yoy, row.status, row.progress, row.problems,
            _summary_remark(row),
        ], places=ind.decimals, bold=row.is_total, num_places=places))
        for part in result.parts_of(ind.code) if row.is_total else []:
            table.append(_Row([
                "", "", "", part.unit, "", part.target, _value_or_state(part), part.completion,
                part.time_progress, part.gap, part.yoy, part.status, part.progress, part.problems,
                _summary_remark(part),
            ], places=ind.decimals, indent=(3,), level=1, num_places=places))  # 3: 单位名称, indented
    last = sh.table(1, cols, table)
    if not table:
        last = 2
        sh.text(2, 0, "本类别暂无结果", _NOTE)
    sh.ws.outline_settings(True, False, True, False)
    sh.fit_columns()
    sh.finish_list(1, last, len(cols) - 1, 2, sheet)


# -- 台账 -------------------------------------------------------------------------------

# 25 columns must print one A3 page wide, so the long texts wrap in narrower columns.
_LEDGER_WIDTHS = {
    "任务编号": (8, 10), "重点工作": (14, 22), "牵头单位": (8, 12), "配合单位": (8, 14),
    "指标编号": (8, 10), "指标名称": (12, 20), "进展情况": (20, 32), "存在问题": (14, 24),
    "下步打算": (14, 24), "备注": (8, 16), "单位名称": (8, 14),
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


#: num columns of the ledger (by LEDGER_COLUMNS index) and the ResultRow field each shows
_LEDGER_FIGURES = {8: "target", 11: "value", 12: "base", 13: "last_year"}


def _ledger_row(ind: Indicator, row: ResultRow | None,
                aligned: dict[tuple[str, str], int] | None = None) -> _Row:
    head = [ind.task_no, ind.task, ind.lead, ind.co, ind.code, ind.name, ind.kind, ind.unit]
    if row is None:
        return _Row(head + [ind.target, ind.due_text or ind.due] + [None] * 15,
                    places=ind.decimals)
    due: object = ind.due_text or ind.due
    places = {c: (aligned or {}).get((ind.code, name), 0) for c, name in _LEDGER_FIGURES.items()}
    return _Row(head + [
        row.target, due, row.unit, row.value, row.base, row.last_year, row.state, row.completion,
        row.ratio, row.time_progress, row.gap, row.yoy, row.status, row.progress, row.problems,
        row.next_steps, _remark(row),
    ], places=ind.decimals, bold=row.is_total, shade=row.is_total, num_places=places)


def write_ledger(result: Standing, path: Path) -> Path:
    """台账_<轮次>.xlsx: every registry row with every unit's returned values and text."""
    target = _target(path, _file_name("台账_{round}.xlsx", result.round.name))
    settings = result.registry.settings

    def build(book: _Book) -> None:
        cols = _ledger_cols()
        by_code: dict[str, list[ResultRow]] = defaultdict(list)
        for row in result.rows:
            by_code[row.indicator.code].append(row)
        aligned = _aligned_places(result.rows, *_LEDGER_FIGURES.values())
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
                    rows.extend(_ledger_row(ind, r, aligned) for r in mine)
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

_LEVEL_RANK = {Level.REJECT: 0, Level.ERROR: 1, Level.NOTICE: 2}
#: What the clerk does next about a unit (汇总 sheet, 需办理), and its colour.
_ACTIONS = {"催报": _GREY, "通知重报": _RED, "通知更正": _AMBER, "核对提示": _BLUE}
_FILE_AS_RECEIVED = "收到的文件名"
_FINDING_COLS = (
    _Col("单位", min_width=8, max_width=18), _Col(_FILE_AS_RECEIVED, "wrap", 12, 34),
    _Col("工作表", "wrap", 8, 16), _Col("单元格", min_width=6, max_width=8),
    _Col("代码", min_width=6, max_width=8), _Col("级别", "status", 6, 8, LEVEL_COLOURS),
    _Col("说明", "wrap", 30, 70),
)
_CHECK_SUMMARY_COLS = (
    _Col("单位", min_width=12, max_width=22), _Col("需办理", "status", 8, 10, _ACTIONS),
    _Col("收到文件数", "int", 8), _Col("接受", "int", 6), _Col("拒收", "int", 6),
    _Col("错误数", "int", 6), _Col("提示数", "int", 6), _Col("收到的文件", "wrap", 16, 44),
    _Col("说明", "wrap", 16, 40),
)
_CATALOGUE_COLS = (
    _Col("代码", min_width=6, max_width=8), _Col("级别", "status", 6, 8, LEVEL_COLOURS),
    _Col("说明", "wrap", 20, 50), _Col("处理办法", "wrap", 20, 50),
)


def _finding_unit(f: Finding, file_units: dict[str, str]) -> str:
    return f.unit or file_units.get(f.file, "") or UNKNOWN_UNIT


def _finding_text(f: Finding) -> str:
    """The message without its 文件“…”工作表“…”单元格 prefix, which the row's own columns show."""
    prefix = where(f.file, f.sheet, f.cell) + "："
    if f.file and f.message.startswith(prefix) and len(f.message) > len(prefix):
        return f.message[len(prefix):]
    return f.message


def _file_list(unit: UnitStanding) -> str:
    """Every file a unit sent, as received, in the order received, with what became of it."""
    return "\n".join(f.submission.file + ("" if f.fate is Fate.ACCEPTED else f"（{f.fate}）") for f in unit.files)


def _check_summary_sheet(book: _Book, result: Standing, title: str) -> None:
    """汇总: one row per unit — what to do next, counts, and the files as received."""
    rows: list[_Row] = []
    tally: Counter[str] = Counter()
    for u in result.units:
        levels = Counter(f.level for f in u.findings)
        accepted = sum(f.fate in (Fate.ACCEPTED, Fate.SUPERSEDED) for f in u.files)
        rejected = sum(f.fate in (Fate.REJECTED, Fate.EMPTY) for f in u.files)
        notes = list(dict.fromkeys(f.submission.reason for f in u.files if f.pending and f.submission.reason))
        if not u.files:
            notes.append("未收到报表")
        elif len(u.files) > 1 and u.chosen is not None and u.state.reported:
            notes.append(f"以“{u.chosen.submission.file}”为准")
        tally.update(files=len(u.files), accepted=accepted, rejected=rejected, errors=levels[Level.ERROR],
                     notices=levels[Level.NOTICE])
        rows.append(_Row([u.name or UNKNOWN_UNIT, str(u.action), len(u.files), accepted, rejected,
                          levels[Level.ERROR], levels[Level.NOTICE], _file_list(u), "；".join(notes)]))
    rows.append(_Row([TOTAL, "", tally["files"], tally["accepted"], tally["rejected"], tally["errors"],
                      tally["notices"], "", ""], bold=True, shade=True))
    sh = book.sheet("汇总")
    cols = _CHECK_SUMMARY_COLS
    sh.title(0, 0, len(cols) - 1,
             f"{title}：收到文件{tally['files']}个，接受{tally['accepted']}个，拒收{tally['rejected']}个；"
             f"错误{tally['errors']}处，提示{tally['notices']}处",
             {**_TITLE, "font_size": 13, "align": "left"})
    last = sh.table(1, cols, rows)
    sh.fit_columns()
    sh.finish_list(1, last, len(cols) - 1, 1, title)


_REGISTRY_COLS = (_Col("类型", min_width=8, max_width=10), _Col("说明", "wrap", 40, 100))


def _registry_sheet(book: _Book, result: Standing) -> None:
    """任务台账: what the master workbook says the office should look at (targets that do not
    add up, units left out of a split) and what changed since the templates went out."""
    rows = [_Row(["台账提示", w]) for w in result.registry_warnings]
    rows += [_Row(["台账变更", line]) for line in result.registry_change_lines()]
    sh = book.sheet("任务台账")
    sh.title(0, 0, 1, f"任务台账提示（{len(rows)}条）", {**_TITLE, "font_size": 13, "align": "left"})
    last = sh.table(1, _REGISTRY_COLS, rows)
    if not rows:
        last = 2
        sh.text(2, 0, "任务台账无需关注的问题", _NOTE)
    sh.fit_columns()
    sh.finish_list(1, last, 1, 0, "任务台账提示")


def _findings_sheet(book: _Book, result: Standing, title: str) -> None:
    """问题清单: one row per finding, grouped by unit (registry order), then by file, then
    拒收 before 错误 before 提示; within that, the order the checks found them (cell order)."""
    file_units = {s.file: s.unit for s in result.submissions if s.unit}
    expected = {name: i for i, name in enumerate(_expected_units(result))}
    first_seen: dict[str, int] = {}
    for f in result.findings:
        first_seen.setdefault(f.file, len(first_seen))

    def key(item: tuple[int, Finding]) -> tuple:
        i, f = item
        unit = _finding_unit(f, file_units)
        unit_pos = expected.get(unit, len(expected) + (unit == UNKNOWN_UNIT))
        return (unit_pos, first_seen[f.file], _LEVEL_RANK.get(f.level, 3), i)

    findings = [f for _, f in sorted(enumerate(result.findings), key=key)]
    counts = Counter(f.level for f in findings)
    rows = [_Row([_finding_unit(f, file_units), f.file, f.sheet, f.cell, f.code.name, f.level.value,
                  _finding_text(f)]) for f in findings]
    sh = book.sheet("问题清单")
    cols = _FINDING_COLS
    tally = "、".join(f"{lv.value}{counts[lv]}条" for lv in _LEVEL_RANK if counts[lv])
    sh.title(0, 0, len(cols) - 1, f"问题清单：共{len(findings)}条" + (f"（{tally}）" if tally else ""),
             {**_TITLE, "font_size": 13, "align": "left"})
    last = sh.table(1, cols, rows)
    if not rows:
        last = 2
        sh.text(2, 0, "本轮未发现问题", _NOTE)
    sh.fit_columns()
    sh.finish_list(1, last, len(cols) - 1, 1, title)


def write_check_report(result: Standing, path: Path) -> Path:
    """校验报告_<轮次>.xlsx for the clerk: per-unit tally and next step, one row per
    finding (filter by 单位 or 级别), and the code legend."""
    target = _target(path, _file_name("校验报告_{round}.xlsx", result.round.name))
    settings = result.registry.settings
    title = f"校验报告（{result.round.name}）"

    def build(book: _Book) -> None:
        _check_summary_sheet(book, result, title)
        _findings_sheet(book, result, title)
        _registry_sheet(book, result)
        sh = book.sheet("代码说明")
        sh.title(0, 0, len(_CATALOGUE_COLS) - 1, "问题代码说明", {**_TITLE, "font_size": 13, "align": "left"})
        crows = [_Row([c[k] for k in ("代码", "级别", "说明", "处理办法")]) for c in catalogue()]
        last = sh.table(1, _CATALOGUE_COLS, crows)
        sh.fit_columns()
        sh.finish_list(1, last, len(_CATALOGUE_COLS) - 1, 1, "代码说明")

    return _write_xlsx(target, title, settings.issuer, build)


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


def write_results_csv(result: Standing, path: Path) -> Path:
    """results.csv (UTF-8 with BOM): one row per ResultRow, in result.rows order."""
    target = _target(path, "results.csv")
    with _atomic(target) as tmp, open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(_csv_row(row) for row in result.rows)
    return target

