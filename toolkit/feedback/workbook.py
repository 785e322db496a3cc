"""The openpyxl way: the department's workbook loaded whole, marked up and saved; or rebuilt.

An xlsx/xlsm openpyxl can open is marked up in place, so everything the department
typed (values, other sheets, data validation, protection, the very hidden ``_ducha``
sheet) stays as it was; macros are never kept. Files openpyxl cannot open (xls, ods,
xlsb, or an xlsx it fails on) are rebuilt as a plain xlsx from the grid
:mod:`toolkit.read` read, value by value. What is marked and listed comes from
:func:`.marks.build_marks`.
"""

from __future__ import annotations

import io
import math
import warnings
from copy import copy
from datetime import datetime

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.colors import Color
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink

from ..check import Outcome
from ..read import Workbook
from ..templates import META_SHEET
from ..terminal import display_width
from .marks import (
    AUTHOR,
    BORDER_COLOUR,
    COLOURS,
    COMMENT_WIDTH,
    FEEDBACK_SHEET,
    HEADER_FILL,
    HEADER_ROW,
    HEADING_HEIGHT,
    LIST_HEADERS,
    LIST_WIDTHS,
    Marks,
    SheetInfo,
    _clean,
    _comment_height,
    build_marks,
)

MAX_SHEET_TITLE = 31
_BAD_TITLE_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})
_EXCEL_ERRORS = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                           "#GETTING_DATA"))
_THIN = Side(style="thin", color=BORDER_COLOUR)
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def _load_original(source) -> openpyxl.Workbook:
    # A file object, so openpyxl does not judge the file by its extension.
    data = source.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(io.BytesIO(data), keep_vba=False, keep_links=True)
    if any(cell.data_type == "f" for ws in book.worksheets for cell in ws._cells.values()):
        # openpyxl keeps formulas but not their cached results: have them computed on opening.
        book.calculation.fullCalcOnLoad = True
    return book


def _rebuild(grid: Workbook | None) -> tuple[openpyxl.Workbook, dict[str, str]]:
    """A plain xlsx holding the grid's values literally; returns it and {original: written} sheet names."""
    book = openpyxl.Workbook()
    if book.active is not None:
        book.remove(book.active)
    names: dict[str, str] = {}
    if grid is None:
        return book, names
    used: set[str] = {FEEDBACK_SHEET.casefold()}
    for sheet in grid.sheets:
        title = _sheet_title(sheet.name, used)
        names[sheet.name] = title
        ws = book.create_sheet(title)
        if sheet.name == META_SHEET:
            ws.sheet_state = "veryHidden"
            ws.protection.sheet = True
        elif sheet.state in ("hidden", "veryHidden"):
            ws.sheet_state = sheet.state
        widths: dict[int, int] = {}
        for (r, c), cell in sorted(sheet.cells.items()):
            target = ws.cell(row=r, column=c)
            _put_literal(target, cell)
            if target.value is not None:
                widths[c] = max(widths.get(c, 0), _width_of(target.value))
        for r1, c1, r2, c2 in sheet.merged:
            if (r1, c1) == (r2, c2):
                continue
            inner = [(r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1) if (r, c) != (r1, c1)]
            if any(sheet.value(r, c) not in (None, "") for r, c in inner):
                continue  # merging would drop a value the department typed
            ws.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
        for c, width in widths.items():
            ws.column_dimensions[get_column_letter(c)].width = min(max(width + 2, 8), 60)
    return book, names


def _sheet_title(name: str, used: set[str]) -> str:
    """A valid, unique xlsx sheet title for ``name`` (ods allows more than xlsx does)."""
    base = (str(name).translate(_BAD_TITLE_CHARS).strip("'") or "Sheet")[:MAX_SHEET_TITLE]
    title, n = base, 1
    while title.casefold() in used:
        n += 1
        tail = f"({n})"
        title = base[:MAX_SHEET_TITLE - len(tail)] + tail
    used.add(title.casefold())
    return title


def _put_literal(target, cell) -> None:
    """Write one reader cell's value as a value, never as a formula."""
    value = cell.value
    if value is None:
        if cell.error and cell.error in _EXCEL_ERRORS:
            target.value = cell.error
            target.data_type = "e"
        elif cell.error:
            _put_text(target, cell.error)
        return
    if isinstance(value, bool):
        target.value = value
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 2 ** 53:
            value = int(value)
        if isinstance(value, float) and not math.isfinite(value):
            _put_text(target, str(value))
            return
        target.value = value
        if cell.numfmt and cell.numfmt.lower() != "general":
            target.number_format = cell.numfmt
        elif cell.is_percent:
            target.number_format = "0.00%"
    elif isinstance(value, datetime):
        target.value = value
        if cell.numfmt and cell.is_date:
            target.number_format = cell.numfmt
        elif value.hour or value.minute or value.second:
            target.number_format = "yyyy-mm-dd hh:mm:ss"
        else:
            target.number_format = "yyyy-mm-dd"
    else:
        _put_text(target, str(value))


def _put_text(cell, text: str) -> None:
    """Store ``text`` as a string even if it starts with '=' (openpyxl would make it a formula)."""
    cell.value = _clean(text)
    cell.data_type = "s"


def _width_of(value: object) -> int:
    if isinstance(value, datetime):
        return 12
    text = str(value)
    return max((display_width(line) for line in text.splitlines()), default=0)


# -- marking ----------------------------------------------------------------------------

def _info(book: openpyxl.Workbook) -> SheetInfo:
    def merged(title: str):
        return [(r.min_row, r.min_col, r.max_row, r.max_col) for r in book[title].merged_cells.ranges]

    return SheetInfo([(ws.title, ws.sheet_state) for ws in book._sheets], merged)  # type: ignore[attr-defined]


def _mark_up(book: openpyxl.Workbook, outcome: Outcome, names: dict[str, str], round_name: str) -> None:
    """Tint and comment every problem cell, then put the 问题清单 first."""
    _drop_old_feedback(book)
    marks = build_marks(outcome, _info(book), names, round_name)
    for mark in marks.cells:
        cell = book[mark.sheet].cell(row=mark.row, column=mark.col)
        fill, colour = COLOURS[mark.level]
        cell.fill = PatternFill(fill_type="solid", start_color=fill, end_color=fill)
        font: Font = copy(cell.font)  # type: ignore[assignment]  # a StyleProxy copies as the Font it wraps
        font.color = Color(rgb="FF" + colour)
        cell.font = font
        old = cell.comment
        text = mark.text
        if old is not None and old.author != AUTHOR and old.text:
            text += "\n——原有批注——\n" + old.text
        cell.comment = None
        cell.comment = Comment(_clean(text), AUTHOR, height=_comment_height(text), width=COMMENT_WIDTH)
    _list_sheet(book, marks)


def _drop_old_feedback(book: openpyxl.Workbook) -> None:
    """A file that already is a feedback file: remove our old list and comments."""
    for ws in list(book.worksheets):
        if ws.title == FEEDBACK_SHEET and "问题清单" in str(ws["A1"].value or ""):
            book.remove(ws)
    for ws in book.worksheets:
        for cell in ws._cells.values():
            if cell.comment is not None and cell.comment.author == AUTHOR:
                cell.comment = None


# -- the 问题清单 sheet ------------------------------------------------------------------------

def _list_sheet(book: openpyxl.Workbook, marks: Marks) -> None:
    ws = book.create_sheet(marks.title, 0)
    last = get_column_letter(len(LIST_HEADERS))

    _put_text(ws["A1"], marks.heading)
    ws["A1"].font = Font(name="黑体", size=14, bold=True)
    ws["A1"].alignment = Alignment(vertical="center")
    ws.merge_cells(f"A1:{last}1")
    ws.row_dimensions[1].height = HEADING_HEIGHT
    _put_text(ws["A2"], marks.summary)
    ws["A2"].font = Font(name="宋体", size=11)
    ws["A2"].alignment = Alignment(wrap_text=True, vertical="center")
    ws.merge_cells(f"A2:{last}2")
    ws.row_dimensions[2].height = marks.summary_height

    header_fill = PatternFill(fill_type="solid", start_color=HEADER_FILL, end_color=HEADER_FILL)
    for col, (name, width) in enumerate(zip(LIST_HEADERS, LIST_WIDTHS, strict=True), start=1):
        cell = ws.cell(row=HEADER_ROW, column=col)
        _put_text(cell, name)
        cell.font = Font(name="宋体", size=11, bold=True)
        cell.fill = header_fill
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center")
        ws.column_dimensions[get_column_letter(col)].width = width

    body = Font(name="宋体", size=11)
    for i, row in enumerate(marks.rows, start=1):
        r = HEADER_ROW + i
        for col, value in enumerate(row.values, start=1):
            cell = ws.cell(row=r, column=col)
            if isinstance(value, int):
                cell.value = value
            elif value:
                _put_text(cell, str(value))
            cell.font = body
            cell.border = _BORDER
            cell.alignment = Alignment(vertical="top", wrap_text=col in (2, 6),
                                       horizontal="center" if col in (1, 3, 4, 5) else None)
        if row.link is not None:
            cell = ws.cell(row=r, column=3)
            cell.hyperlink = Hyperlink(ref=cell.coordinate, location=row.link, display=str(cell.value))
            cell.style = "Hyperlink"
            cell.border = _BORDER
            cell.alignment = Alignment(vertical="top", horizontal="center")
        fill, colour = COLOURS[row.level]
        level_cell = ws.cell(row=r, column=4)
        level_cell.fill = PatternFill(fill_type="solid", start_color=fill, end_color=fill)
        level_cell.font = Font(name="宋体", size=11, color="FF" + colour)
        ws.row_dimensions[r].height = row.height

    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=1)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True

    book.active = 0
    for other in book.worksheets:
        other.sheet_view.tabSelected = other is ws
    for view in book.views:
        view.firstSheet = 0
        view.activeTab = 0
