"""The workbook plumbing every writer of :mod:`toolkit.outputs` shares.

A :class:`_Book` is an xlsxwriter workbook with cached formats and safe sheet names; a
:class:`_Sheet` writes every value by its type, measures column widths and sets print-outs
up; :func:`_write_xlsx` writes to a temporary file in the target folder and moves it into
place (:func:`toolkit.store.atomic_path`), so a reader never sees half a workbook.

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

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from ..errors import WorkspaceError
from ..findings import Level
from ..formatting import cn_date, places_of
from ..model import Indicator, ResultRow
from ..read import col_letter
from ..standing import Standing
from ..store import atomic_path, display_width

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
#: What the office does next about a unit (需办理), and its colour.
ACTION_COLOURS = {"催报": _GREY, "通知重报": _RED, "通知更正": _AMBER, "核对提示": _BLUE}
SUBMIT_COLOURS = {"按时报送": _GREEN, "逾期报送": _AMBER, "未报送": _GREY, "空表": _RED, "被拒收": _RED}
LEVEL_COLOURS = {Level.REJECT.value: _RED, Level.ERROR.value: _AMBER, Level.NOTICE.value: _BLUE}
#: 差距 (percentage points) below minus this is red, below zero amber, zero or more green.
GAP_RED = 5
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
    colours: dict[str, tuple[str, str]] | None = None  # (fill, font) by cell text, as conditional formats
    header: tuple[str, str] | None = None  # (fill, font) of the header cell
    lights: str = ""  # "gap": red/amber/green on a 差距 in points (conditional formats)


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

    def light(self, fill: str, font: str) -> Format:
        """A conditional format's look: fill and font colour (no font or border of its own)."""
        key = ("light", fill, font)
        if key not in self._formats:
            self._formats[key] = self.wb.add_format({"bg_color": fill, "font_color": font})
        return self._formats[key]

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
        if r > top:
            self._lights(top + 1, r, cols)
        return r

    def _lights(self, first: int, last: int, cols: Sequence[_Col]) -> None:
        """红黄绿 as conditional formats, so that a clerk who edits a cell sees its colour follow."""
        ws, book = self.ws, self.book
        for c, col in enumerate(cols):
            if col.colours:
                for text, (fill, font) in col.colours.items():
                    ws.conditional_format(first, c, last, c, {
                        "type": "cell", "criteria": "==", "value": f'"{text}"',
                        "format": book.light(fill, font)})
            if col.lights == "gap":
                ref = f"{col_letter(c + 1)}{first + 1}"
                for rule, (fill, font) in ((f"AND(ISNUMBER({ref}),{ref}<-{GAP_RED})", _RED),
                                           (f"AND(ISNUMBER({ref}),{ref}<0)", _AMBER),
                                           (f"AND(ISNUMBER({ref}),{ref}>=0)", _GREEN)):
                    ws.conditional_format(first, c, last, c, {
                        "type": "formula", "criteria": "=" + rule, "format": book.light(fill, font),
                        "stop_if_true": True})

    def completion_lights(self, first: int, last: int, col: int, time_progress: Decimal) -> None:
        """Traffic-light icons on a 完成率 column: green at or above 序时进度, amber within
        GAP_RED points below it, red further behind."""
        tp = float(time_progress)
        self.ws.conditional_format(first, col, last, col, {
            "type": "icon_set", "icon_style": "3_traffic_lights",
            "icons": [{"criteria": ">=", "type": "number", "value": tp},
                      {"criteria": ">=", "type": "number", "value": max(tp - GAP_RED, 0)}]})

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
        """Frozen header, autofilter and print set-up for a list sheet: one page wide, as many
        pages tall as it takes (never squeezed onto one page), header rows on every page."""
        self.ws.freeze_panes(header_row + 1, freeze_cols)
        self.ws.autofilter(header_row, 0, max(last_row, header_row), last_col)
        _print_setup(self.ws, self.book, header_row, title, paper=paper)


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


