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

import io
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet
from xlsxwriter.xmlwriter import XMLwriter

from ..errors import WorkspaceError
from ..findings import Level
from ..formatting import cn_date, places_of
from ..model import Indicator, ResultRow
from ..read import col_letter
from ..standing import Standing
from ..store import atomic_path
from ..terminal import display_width

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


def _places(d: Decimal) -> int:
    """How many decimal places ``d`` carries (:func:`toolkit.formatting.places_of`, from its text:
    the writers ask for every figure they write)."""
    text = str(d)
    if "E" in text:
        return places_of(d)
    dot = text.find(".")
    return 0 if dot < 0 else len(text) - dot - 1


def text_width(text: str) -> int:
    """Display width of the longest line: CJK and full-width characters count double."""
    lines = str(text).splitlines()
    if len(lines) <= 1:
        return _width(lines[0]) if lines else 0
    return max(map(_width, lines))


_COMMON_WIDE: tuple[re.Pattern[str], re.Pattern[str]] | None = None


def _common_wide() -> re.Pattern[str]:
    """A pattern matching text of ASCII and of the wide characters Chinese text is mostly made of
    (ideographs, CJK and full-width punctuation): each of these counts 1 or 2, nothing between."""
    return _common_patterns()[0]


def _one_line_common() -> re.Pattern[str]:
    """:func:`_common_wide` without the characters that break a line (``str.splitlines``)."""
    return _common_patterns()[1]


def _common_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    global _COMMON_WIDE
    if _COMMON_WIDE is None:
        runs: list[str] = []
        for low, high in ((0x3000, 0x303F), (0x4E00, 0x9FFF), (0xFF01, 0xFF60)):
            start = None
            for cp in range(low, high + 2):
                wide = cp <= high and display_width(chr(cp)) == 2
                if wide and start is None:
                    start = cp
                elif not wide and start is not None:
                    runs.append(f"{re.escape(chr(start))}-{re.escape(chr(cp - 1))}")
                    start = None
        wide_runs = "".join(runs)
        # \n \v \f \r and \x1c-\x1e end a line, as do \x85 \u2028 \u2029 (none of them wide)
        _COMMON_WIDE = (re.compile(f"[\\x00-\\x7f{wide_runs}]*"),
                        re.compile(f"[\\x00-\\x09\\x0e-\\x1b\\x1f-\\x7f{wide_runs}]*"))
    return _COMMON_WIDE


def _width(line: str) -> int:
    """:func:`toolkit.terminal.display_width` of one line, counted without looking at each character
    when the line holds only ASCII and common wide characters (each ASCII one counts 1, the
    others 2)."""
    if line.isascii():
        return len(line)
    if _common_wide().fullmatch(line):
        return 2 * len(line) - len(line.encode("ascii", "ignore"))
    return display_width(line)


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
    if not row.late and not (row.is_total and row.missing_parts):
        return ""
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
    rows = rows if isinstance(rows, list) else list(rows)
    for name in fields:
        get = attrgetter(name)
        most: dict[str, int] = {}  # 指标编号 -> decimals so far
        for r in rows:
            v = get(r)
            if v is None or not isinstance(v, Decimal):
                continue
            ind = r.indicator
            cap = ind.decimals if ind.decimals > 2 else 2
            had = most.get(ind.code, -1)
            if had >= cap or not v.is_finite():  # no figure can pad this indicator further
                continue
            places = _places(v)
            if places > cap:
                places = cap
            if places > had:
                most[ind.code] = places
        out.update(((code, name), places) for code, places in most.items())
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
                # row data of streamed sheets goes to a temporary file beside the output
                "tmpdir": str(Path(path).parent),
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

    def sheet(self, name: str, *, stream: bool = False) -> _Sheet:
        """A new worksheet; ``stream``: written row by row in xlsxwriter's constant-memory mode
        (every row must then be written in order, its height and outline level set before the
        next row is written: :meth:`_Sheet.table` does so), for the sheets that grow with the round."""
        wb = self.wb
        wb.constant_memory = stream  # read by add_worksheet only: the mode is per sheet
        try:
            ws = wb.add_worksheet(sheet_name(name, self._taken), _RowsCopied if stream else None)
        finally:
            wb.constant_memory = False
        return _Sheet(self, ws)

    def close(self) -> None:
        self.wb.close()


class _RowsCopied(Worksheet):
    """A constant-memory worksheet whose rows go into the sheet's XML file as the bytes they were
    written as. xlsxwriter reads them back as text and writes them out again, decoding and
    encoding every row (a tenth of the time a big ledger takes): the same bytes, since both files
    are UTF-8 text with no newline translation where the rows hold no carriage return (a cell's
    is written ``_x000D_``); otherwise, or where anything is not as expected, xlsxwriter's way."""

    def _write_optimized_sheet_data(self) -> None:
        rows, target, name = self.row_data_fh, self.fh, getattr(self, "row_data_filename", None)
        if self.dim_rowmin is None or not (_utf8_text(rows) and _utf8_text(target) and name and os.linesep == "\n"):
            super()._write_optimized_sheet_data()
            return
        rows.flush()
        with open(name, "rb") as data:
            # a carriage return would be read back as a line break: xlsxwriter's way then
            while chunk := data.read(_COPY_CHUNK):
                if b"\r" in chunk:
                    super()._write_optimized_sheet_data()
                    return
            self._xml_start_tag("sheetData")
            target.flush()
            data.seek(0)
            shutil.copyfileobj(data, target.buffer, _COPY_CHUNK)
        rows.close()
        os.unlink(name)
        self._xml_end_tag("sheetData")


_COPY_CHUNK = 1 << 20


def _utf8_text(fh: object) -> bool:
    """Whether ``fh`` is a UTF-8 text file over a byte buffer (as xlsxwriter opens its files)."""
    return (isinstance(fh, io.TextIOWrapper) and fh.encoding.replace("_", "-").lower() in ("utf-8", "utf8")
            and not fh.closed)


class _Sheet:
    """A worksheet that writes every value by its type and fits its columns to the values.

    :meth:`table` measures the values first (a column is measured only until it reached its
    widest), sets the column widths, then writes the rows in order, each with the height
    its longest wrapped text needs in its column: a streamed sheet is written exactly once.
    """

    def __init__(self, book: _Book, ws: Worksheet):
        self.book = book
        self.ws = ws
        self.widths: dict[int, int] = {}
        self.cols: list[_Col] = []
        self.fitted: list[int] = []  # widths set by the last fitted table
        self.heights: dict[int, float] = {}  # row -> height in points, where set

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
        if value is None or value == "":
            ws.write_blank(row, col, None, fmt)
        elif isinstance(value, str):
            ws.write_string(row, col, value[:MAX_CELL_TEXT], fmt)
        elif isinstance(value, bool):
            ws.write_string(row, col, "是" if value else "否", fmt)
        elif isinstance(value, (int, Decimal)):
            d = value if isinstance(value, Decimal) else Decimal(value)
            if not d.is_finite():
                ws.write_blank(row, col, None, fmt)
            else:
                kind, digits = _number_digits(d, kind, places, min_places)
                ws.write_number(row, col, float(d), self.book.fmt(*styles, num_format=_num_format(digits, kind)))
        elif isinstance(value, datetime):
            ws.write_datetime(row, col, value, self.book.fmt(*styles, num_format=_DATETIME_FORMAT))
        elif isinstance(value, date):
            ws.write_datetime(row, col, value, self.book.fmt(*styles, num_format=_DATE_FORMAT))
        else:  # anything else is shown as its text, still never as a formula
            ws.write_string(row, col, str(value)[:MAX_CELL_TEXT], fmt)
        if measure:
            self._measure(col, _shown_width(value, kind, places, min_places) + extra_width)

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

    def table(self, top: int, cols: Sequence[_Col], rows: Iterable[_Row], *, fit: bool = True,
              header_height: float = 28) -> int:
        """Header at ``top`` and the rows beneath, in order; returns the last row index written.

        With ``fit`` the columns get widths from the header and the values (CJK counts double,
        within each column's limits) and every row the height its wrapped texts need; without,
        the sheet's widths are left as they are.
        """
        ws, book = self.ws, self.book
        cols = self.cols = list(cols)
        rows = rows if isinstance(rows, list) else list(rows)
        for c, col in enumerate(cols):
            colour = {"bg_color": col.header[0], "font_color": col.header[1]} if col.header else None
            ws.write_string(top, c, col.title, book.fmt(_HEADER, colour))
            self._measure(c, _header_width(col.title))
        self.set_height(top, header_height)
        widths: list[int] = self._fit(cols, rows) if fit else []
        # wrapped columns and the room for text in each (see _lines)
        wrap = [(c, max(widths[c] - 1.5, 1)) for c, col in enumerate(cols) if col.kind == "wrap"] if fit else []
        body = _Body(self, cols, wrap)
        if rows and self.ws.constant_memory and _streamable(self.ws):
            r = body.stream(top + 1, rows)
        else:
            r = body.write(top + 1, rows)
        if r > top:
            self._lights(top + 1, r, cols)
        return r

    def _fit(self, cols: list[_Col], rows: list[_Row]) -> list[int]:
        """Measure the rows column by column (each until it is as wide as it may be) and set the widths."""
        measured = self.widths
        for c, col in enumerate(cols):
            best, limit = measured.get(c, 0), col.max_width - 2  # wider than limit changes nothing
            if best >= limit:
                continue
            kind = col.kind if col.kind in _NUMBER_KINDS else "num"
            # decimals a number shows: none (int, count), the row's (pct, pts, when it has them),
            # else the places it carries, at least the row's num_places for the column (num)
            counted, by_row, num = kind in ("int", "count"), kind in ("pct", "pts"), kind == "num"
            seen: set[str] = set()  # texts measured (names, statuses repeat)
            for trow in rows:
                values = trow.values
                v = values[c] if c < len(values) else None
                extra = 2 if trow.indent and c in trow.indent else 0
                if type(v) is Decimal and v.is_finite():  # _number_digits, inline: most cells are figures
                    if counted:
                        digits = 0
                    elif by_row and trow.places is not None:
                        digits = trow.places
                    else:
                        digits = _places(v)
                        if num:
                            least = trow.num_places.get(c, 0)
                            if least > digits:
                                digits = least
                    # at most one digit more than it has before the point (9.996 → 10.00), a sign,
                    # a point with its decimals, thousands separators, a %
                    ints = v.adjusted()
                    ints = ints + 2 if ints > 0 else 2
                    if ints + (ints - 1) // 3 + digits + 3 + extra <= best:
                        continue
                    width = _number_width(v, kind, digits) + extra
                elif isinstance(v, str):
                    # no character is wider than two: a text that short cannot widen the column
                    if 2 * len(v) + extra <= best or (not extra and v in seen):
                        continue
                    width = (text_width(v[:MAX_CELL_TEXT]) if v else 0) + extra
                    if not extra:
                        seen.add(v)
                elif isinstance(v, Decimal) and v.is_finite():
                    num_kind, digits = _number_digits(v, kind, trow.places, trow.num_places.get(c, 0))
                    # at most one digit more than it has before the point (9.996 → 10.00), a sign,
                    # a point with its decimals, thousands separators, a %
                    ints = max(v.adjusted(), 0) + 2
                    if ints + (ints - 1) // 3 + digits + 3 + extra <= best:
                        continue
                    width = _number_width(v, num_kind, digits) + extra
                else:
                    width = _shown_width(v, col.kind, trow.places, trow.num_places.get(c, 0)) + extra
                if width > best:
                    best = width
                    if best >= limit:
                        break
            if best > measured.get(c, 0):
                measured[c] = best
        widths: list[int] = []
        for c, col in enumerate(cols):
            width = min(max(measured.get(c, 0) + 2, col.min_width), col.max_width)
            self.ws.set_column(c, c, width)
            widths.append(width)
        self.fitted = widths
        return widths

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

    def fit_columns(self) -> list[int]:
        """The column widths the last table was fitted to (:meth:`table` sets them)."""
        return self.fitted

    def finish_list(self, header_row: int, last_row: int, last_col: int, freeze_cols: int = 0,
                    title: str = "", paper: int = A4) -> None:
        """Frozen header, autofilter and print set-up for a list sheet: one page wide, as many
        pages tall as it takes (never squeezed onto one page), header rows on every page."""
        self.ws.freeze_panes(header_row + 1, freeze_cols)
        self.ws.autofilter(header_row, 0, max(last_row, header_row), last_col)
        _print_setup(self.ws, self.book, header_row, title, paper=paper)


class _Body:
    """The rows of one table: each row's height and every cell's format, then the cells, written
    through xlsxwriter's API (:meth:`write`) or, on a streamed sheet, as the sheet's XML straight
    into the file xlsxwriter keeps the sheet's rows in (:meth:`stream`): the same XML its
    constant-memory writer produces, a few times faster. Formats are looked up once per row look
    (shade, bold, indented columns), not per cell."""

    def __init__(self, sheet: _Sheet, cols: list[_Col], wrap: list[tuple[int, float]]):
        self.sheet = sheet
        self.book = sheet.book
        self.kinds = [col.kind for col in cols]
        self.numeric = [k in _NUMBER_KINDS for k in self.kinds]
        self.ncols = len(cols)
        # the widest wrapped column first: its text usually decides the row's height; with the
        # lines each text kept takes there (names and task titles repeat down a sheet)
        self.wrap: list[tuple[int, float, dict[str, int]]] = [
            (c, room, {}) for c, room in sorted(wrap, key=lambda item: -cols[item[0]].max_width)]
        # row look -> (plain, centred) format per column, other formats by (column, number format)
        self.looks: dict[tuple, tuple[list[Format], list[Format], dict[tuple[int, str], Format]]] = {}

    def look(self, trow: _Row) -> tuple[list[Format], list[Format], dict[tuple[int, str], Format]]:
        key = (trow.shade, trow.bold, trow.indent)
        found = self.looks.get(key)
        if found is None:
            fmt, kinds, n = self.book.fmt, self.kinds, self.ncols
            plain = [fmt(*_cell_styles(kinds[c], trow, c, False)) for c in range(n)]
            centred = [fmt(*_cell_styles(kinds[c], trow, c, True)) if self.numeric[c] else plain[c]
                       for c in range(n)]
            found = self.looks[key] = (plain, centred, {})
        return found

    def format_of(self, trow: _Row, c: int, numbers: dict[tuple[int, str], Format], number_format: str) -> Format:
        fmt = numbers.get((c, number_format))
        if fmt is None:
            fmt = numbers[(c, number_format)] = self.book.fmt(*_cell_styles(self.kinds[c], trow, c, False),
                                                              num_format=number_format)
        return fmt

    def number_format(self, trow: _Row, c: int, numbers: dict[tuple[int, str], Format], d: Decimal) -> Format:
        kind, digits = _number_digits(d, self.kinds[c], trow.places, trow.num_places.get(c, 0))
        return self.format_of(trow, c, numbers, _num_format(digits, kind))

    def height(self, values: Sequence[object]) -> float | None:
        """Points a row needs for its longest wrapped text, when more than one line."""
        lines, n = 1, len(values)
        for c, room, known in self.wrap:
            if c < n:
                v = values[c]
                # no character is wider than two: a text of at most room·lines/2 characters
                # without a line break takes no more lines than the row has already
                if v and isinstance(v, str) and (2 * len(v) > room * lines or not v.isprintable()):
                    taken = known.get(v)
                    if taken is None:
                        taken = _lines_in(v, room)
                        if len(v) <= _KEPT_TEXT:
                            known[v] = taken
                    if taken > lines:
                        lines = taken
        return _LINE_PT * lines + 3 if lines > 1 else None

    def write(self, first: int, rows: list[_Row]) -> int:
        """The rows through xlsxwriter's API; returns the last row index (first - 1 if none)."""
        sheet, ws, kinds, ncols = self.sheet, self.sheet.ws, self.kinds, self.ncols
        # the undecorated writers (same arguments; row and column are always numbers here)
        write_blank = getattr(ws, "_write_blank", ws.write_blank)
        write_string = getattr(ws, "_write_string", ws.write_string)
        write_number = getattr(ws, "_write_number", ws.write_number)
        r = first - 1
        for r, trow in enumerate(rows, start=first):
            values = trow.values
            n = len(values)
            height = self.height(values) if self.wrap else None
            if height is not None:
                sheet.heights[r] = height
            if height is not None or trow.level:
                ws.set_row(r, height, None, {"level": trow.level} if trow.level else None)
            plain, centred, numbers = self.look(trow)
            for c in range(ncols):
                v = values[c] if c < n else None
                if v is None or v == "":
                    write_blank(r, c, None, plain[c])
                elif isinstance(v, str):
                    write_string(r, c, v[:MAX_CELL_TEXT], centred[c])
                elif isinstance(v, (int, Decimal)) and not isinstance(v, bool):
                    d = v if isinstance(v, Decimal) else Decimal(v)
                    if d.is_finite():
                        write_number(r, c, float(d), self.number_format(trow, c, numbers, d))
                    else:
                        write_blank(r, c, None, plain[c])
                else:  # dates, times, anything else
                    styles = _cell_styles(kinds[c], trow, c, False)
                    sheet.value(r, c, v, self.book.fmt(*styles), kinds[c], trow.places, styles, measure=False)
        return r

    def stream(self, first: int, rows: list[_Row]) -> int:
        """The rows as sheet XML, written where xlsxwriter's constant-memory mode writes its rows
        (the cells :meth:`write` would write, in the XML xlsxwriter would write); returns the last
        row index.

        A cell is its reference (``<c r="B7``) and what follows it (``" s="3"/>``); what follows
        depends on the row's look, the column and the value only, so it is made once per
        (look, column, value) and kept: names, statuses and figures repeat down a sheet. Each row
        is then one join of the pieces with its row number between them."""
        sheet, ws, ncols = self.sheet, self.sheet.ws, self.ncols
        ws._write_single_row(first)  # flush the rows above (title, header) as xlsxwriter holds them
        refs = [f'<c r="{col_letter(c + 1)}' for c in range(ncols)]
        nexts = [*refs[1:], ""]  # a piece ends with the next cell's reference, but for the row's last
        default_px, original_px = ws.default_row_height, ws.original_row_height
        xf: dict[int, str] = {}  # id(format) -> ' s="N"'

        def style(fmt: Format) -> str:
            found = xf.get(id(fmt))
            if found is None:
                found = xf[id(fmt)] = f' s="{fmt._get_xf_index()}"'
            return found

        # per row look, filled in as first used (xlsxwriter numbers formats in the order cells use
        # them): each column's blank piece, its text pieces by text, and its number styles by decimals
        looks: dict[int, _Pieces] = {}
        # each column's number kind, whether its decimals are the row's (pct, pts), whether none (int,
        # count), and what follows a number's style: '><v>…</v></c>' and the next reference, by the
        # number's text, with the places the text carries (None: not finite)
        num_kinds = [k if k in _NUMBER_KINDS else "num" for k in self.kinds]
        by_row = [k in ("pct", "pts") for k in num_kinds]
        counted = [k in ("int", "count") for k in num_kinds]
        num = [k == "num" for k in num_kinds]
        figures: list[dict[str, tuple[int, str] | None]] = [{} for _ in range(ncols)]
        columns = range(ncols)
        heights: dict[int, str] = {}  # pixels -> the row's height attributes
        out: list[str] = []
        level_max = 0
        r = first - 1
        for r, trow in enumerate(rows, start=first):
            values: Sequence[Any] = trow.values
            if len(values) < ncols:
                values = [*values, *([None] * (ncols - len(values)))]
            number = str(r + 1)
            head = f'<row r="{number}"'
            height = self.height(values) if self.wrap else None
            if height is not None:
                sheet.heights[r] = height
                px = int(height * 4.0 / 3.0 + 0.5)
                if px != original_px or px != default_px:
                    tall = heights.get(px)
                    if tall is None:
                        tall = heights[px] = f' ht="{px * 0.75:.16g}" customHeight="1"'
                    head += tall
            if trow.level:
                level = min(max(trow.level, 0), 7)
                level_max = max(level_max, level)
                if level:
                    head += f' outlineLevel="{level}"'
            out.append(head + ">")
            look = self.look(trow)
            pieces = looks.get(id(look))
            if pieces is None:
                pieces = looks[id(look)] = _Pieces(ncols)
            blanks, texts, styles = pieces.blanks, pieces.texts, pieces.numbers
            places, num_places = trow.places, trow.num_places
            cells = [refs[0]]
            for c in columns:
                v = values[c]
                t = type(v)
                if t is not str:
                    if v is None:
                        piece = blanks[c]
                        if piece is None:
                            piece = blanks[c] = f'"{style(look[0][c])}/>{nexts[c]}'
                        cells.append(piece)
                        continue
                    if t is Decimal:
                        text = str(v)
                        figure = figures[c].get(text)
                        if figure is None and text not in figures[c]:
                            figure = figures[c][text] = _figure(v, text, nexts[c])
                        if figure is not None:
                            if counted[c]:
                                digits = 0
                            elif places is not None and by_row[c]:
                                digits = places
                            else:
                                digits = figure[0]
                                if num[c]:
                                    digits = max(digits, num_places.get(c, 0))
                            attr = styles[c].get(digits)
                            if attr is None:
                                fmt = self.format_of(trow, c, look[2], _num_format(digits, num_kinds[c]))
                                attr = styles[c][digits] = f'"{style(fmt)}'
                            cells.append(attr + figure[1])
                            continue
                    if not isinstance(v, str):
                        cells.append(self._other('"', trow, c, v, look, style) + nexts[c])
                        continue
                    v = str.__str__(v)  # a str enum: its text, as _other would write it
                if v:
                    piece = texts[c].get(v)
                    if piece is None:
                        attr = pieces.centred[c]
                        if attr is None:
                            attr = pieces.centred[c] = style(look[1][c])
                        if len(v) <= _XLSX_STRMAX // 2 and _plain_xml(v):
                            piece = f'"{attr} t="inlineStr"><is><t>{v}</t></is></c>{nexts[c]}'
                        else:
                            piece = f'"{attr} t="inlineStr"><is>{_inline_text(v)}</is></c>{nexts[c]}'
                        if len(v) <= _KEPT_TEXT:
                            texts[c][v] = piece
                    cells.append(piece)
                else:
                    piece = blanks[c]
                    if piece is None:
                        piece = blanks[c] = f'"{style(look[0][c])}/>{nexts[c]}'
                    cells.append(piece)
            out.append(number.join(cells))
            out.append("</row>")
            if len(out) > 4096:
                ws.fh.write("".join(out))
                out.clear()
        ws.fh.write("".join(out))
        # what xlsxwriter would have noted had it written these rows: the used range, the deepest
        # outline level, and that the sheet is written down to the last row
        ws._check_dimensions(first, 0)
        ws._check_dimensions(r, ncols - 1)
        ws.outline_row_level = max(ws.outline_row_level, level_max)
        ws.previous_row = r
        return r

    def _other(self, cell: str, trow: _Row, c: int, v: object, look: tuple, style: Callable[[Format], str]) -> str:
        """A cell holding anything but text, a Decimal or nothing, as :meth:`_Sheet.value` writes it."""
        plain, centred, numbers = look
        if isinstance(v, str):  # a str enum
            return f'{cell}{style(centred[c])} t="inlineStr"><is>{_inline_text(v)}</is></c>' if v \
                else f"{cell}{style(plain[c])}/>"
        if isinstance(v, bool):
            return f'{cell}{style(plain[c])} t="inlineStr"><is>{_inline_text("是" if v else "否")}</is></c>'
        if isinstance(v, (int, Decimal)):
            d = v if isinstance(v, Decimal) else Decimal(v)
            if not d.is_finite():
                return f"{cell}{style(plain[c])}/>"
            return f"{cell}{style(self.number_format(trow, c, numbers, d))}><v>{float(d):.16G}</v></c>"
        if isinstance(v, date):  # a datetime too: xlsxwriter's serial number
            fmt = self.format_of(trow, c, numbers, _DATETIME_FORMAT if isinstance(v, datetime) else _DATE_FORMAT)
            return f"{cell}{style(fmt)}><v>{self.sheet.ws._convert_date_time(v):.16G}</v></c>"
        return f'{cell}{style(plain[c])} t="inlineStr"><is>{_inline_text(str(v))}</is></c>'


class _Pieces:
    """What follows a cell's reference in one row look of a streamed table, per column (see
    :meth:`_Body.stream`): the blank cell, the style of text cells and the cell of each text
    kept, the style attribute of a number by its decimals."""

    __slots__ = ("blanks", "centred", "texts", "numbers")

    def __init__(self, ncols: int):
        self.blanks: list[str | None] = [None] * ncols
        self.centred: list[str | None] = [None] * ncols
        self.texts: list[dict[str, str]] = [{} for _ in range(ncols)]
        self.numbers: list[dict[int, str]] = [{} for _ in range(ncols)]


#: Texts up to this long are kept with their cells (names, units, statuses repeat); longer
#: ones (进展情况) are mostly written once.
_KEPT_TEXT = 100


def _figure(d: Decimal, text: str, after: str) -> tuple[int, str] | None:
    """(places, ``><v>…</v></c>`` and ``after``) of a number cell whose value is ``d`` and
    ``str(d)`` is ``text``; None when ``d`` is not finite (:func:`_places` from the same text)."""
    if not d.is_finite():
        return None
    if "E" in text:
        places = places_of(d)
    else:
        dot = text.find(".")
        places = 0 if dot < 0 else len(text) - dot - 1
    return places, f"><v>{float(d):.16G}</v></c>{after}"


def _plain_xml(text: str) -> bool:
    """Whether ``text`` goes into the XML as it is (nothing :data:`_XML_WORK` finds), answered
    by str methods: a printable text holds no control character, no non-character and no
    whitespace but the ASCII space. False means "look closer" (:func:`_inline_text`)."""
    return (text.isprintable() and "&" not in text and "<" not in text and ">" not in text
            and "_x" not in text and text[:1] != " " and text[-1:] != " ")


#: Text that needs more than copying into the XML: markup characters, control characters
#: (written as _xHHHH_), text that looks like such an escape, Unicode non-characters, and
#: space at either end (kept with xml:space="preserve").
_XML_WORK = re.compile("[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\\s|\\s$")
_XLSX_STRMAX = 32767  # characters (UTF-16 units) Excel keeps in a cell


def _inline_text(text: str) -> str:
    """``<t>…</t>`` of an inline string cell, as xlsxwriter's constant-memory mode writes it."""
    text = text[:MAX_CELL_TEXT]
    if len(text) > _XLSX_STRMAX // 2 and len(text.encode("utf-16-le", "surrogatepass")) // 2 > _XLSX_STRMAX:
        units = 0
        for i, ch in enumerate(text):
            units += 2 if ord(ch) > 0xFFFF else 1
            if units > _XLSX_STRMAX:
                text = text[:i]
                break
    if _XML_WORK.search(text):
        text = XMLwriter._escape_control_characters(text)
        preserve = text[:1].isspace() or text[-1:].isspace()
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    else:
        preserve = text[:1].isspace() or text[-1:].isspace()
    return f'<t xml:space="preserve">{text}</t>' if preserve else f"<t>{text}</t>"


def _streamable(ws: Worksheet) -> bool:
    """Whether this xlsxwriter keeps a constant-memory sheet's rows the way :meth:`_Body.stream`
    writes into (else the rows go through the API: slower, the same workbook)."""
    return (_STREAM_ROWS and getattr(ws, "row_data_fh", None) is not None and getattr(ws, "fh", None) is ws.row_data_fh
            and getattr(ws, "excel_version", 2007) == 2007
            and all(hasattr(ws, name) for name in ("_write_single_row", "_check_dimensions", "previous_row",
                                                    "outline_row_level", "default_row_height",
                                                    "original_row_height", "_convert_date_time"))
            and hasattr(XMLwriter, "_escape_control_characters"))


#: Tests turn this off to compare the streamed rows with xlsxwriter's own.
_STREAM_ROWS = True


_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
_DATE_FORMAT = 'yyyy"年"m"月"d"日"'


def _cell_styles(kind: str, trow: _Row, c: int, centre: bool) -> list[dict]:
    """The looks of one table cell: ``centre`` for a word in a number column (推进中 under 本期完成)."""
    styles: list[dict] = [_CELL]
    if kind == "wrap":
        styles.append({"text_wrap": True})
    elif kind in ("status", "int", "count") or centre:
        styles.append({"align": "center"})
    if trow.shade:
        styles.append({"bg_color": "#F2F2F2"})
    if trow.bold:
        styles.append({"bold": True})
    if c in trow.indent:
        styles.append({"indent": 1})
    return styles


def _number_digits(d: Decimal, kind: str, places: int | None, min_places: int) -> tuple[str, int]:
    """(kind, decimals) a finite number is shown with: a pct/pts column the row's 小数位数, a num
    column the places it carries (at least ``min_places``), int/count none."""
    if kind not in _NUMBER_KINDS:
        kind = "num"
    if kind in ("int", "count"):
        return kind, 0
    if places is not None and kind in ("pct", "pts"):
        return kind, places
    digits = _places(d)
    if kind == "num" and min_places > digits:
        digits = min_places
    return kind, digits


def _shown_width(value: object, kind: str, places: int | None, min_places: int) -> int:
    """Width of ``value`` as its cell shows it (what the column is fitted to)."""
    if value is None or value == "":
        return 0
    if isinstance(value, str):
        return text_width(value[:MAX_CELL_TEXT])
    if isinstance(value, bool):
        return 2  # 是 / 否
    if isinstance(value, (int, Decimal)):
        d = value if isinstance(value, Decimal) else Decimal(value)
        if not d.is_finite():
            return 0
        kind, digits = _number_digits(d, kind, places, min_places)
        return _number_width(d, kind, digits)
    if isinstance(value, datetime):
        return 18  # 2021-05-13 09:00 and two spaces
    if isinstance(value, date):
        return display_width(_date_text(value))
    return text_width(str(value)[:MAX_CELL_TEXT])


_QUANTUM = tuple(Decimal(1).scaleb(-k) for k in range(16))


def _number_width(d: Decimal, kind: str, digits: int) -> int:
    """Width of a finite number as its cell shows it: rounded half up to ``digits`` places, with
    thousands separators (num) or a % (pct); ``len(format(rounded, ",f"))``, counted."""
    rounded = d.quantize(_QUANTUM[digits] if digits < len(_QUANTUM) else Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    adjusted = rounded.adjusted()
    ints = adjusted + 1 if adjusted >= 0 else 1
    width = ints + (digits + 1 if digits > 0 else 0) + rounded.is_signed()
    if kind == "num":
        width += (ints - 1) // 3
    elif kind == "pct":
        width += 1
    return width


_LINE_PT = 13.5  # height of one line of 10 pt text
_DEFAULT_ROW_PT = 15
_PAGE_INCHES = {A4: (11.69, 8.27), A3: (16.54, 11.69)}  # landscape (width, height)
_NUMBER_KINDS = ("num", "pct", "pts", "int", "count")


def _lines(text: str, width: float) -> int:
    """Lines a wrapped text takes in a column ``width`` units wide (CJK counts double)."""
    return _lines_in(text, max(width - 1.5, 1))


def _lines_in(text: str, room: float) -> int:
    """Lines a wrapped text takes with ``room`` units for text on each line."""
    if not text.isascii() and _one_line_common().fullmatch(text):  # one line, Chinese mostly: counted
        return max(1, math.ceil((2 * len(text) - len(text.encode("ascii", "ignore"))) / room))
    lines = text.splitlines()
    if len(lines) == 1:
        return max(1, math.ceil(_width(lines[0]) / room))
    return sum(max(1, math.ceil(_width(line) / room)) for line in lines or [""])


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


