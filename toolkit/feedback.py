"""Giving a department its own file back, marked up, and the reply mail to go with it.

:func:`write_feedback` saves ``<文件名>_问题反馈.xlsx``: the department's workbook
with every problem cell tinted (red for 错误/拒收, yellow for 提示) and carrying a
comment that says what is wrong, plus a first sheet ``问题清单`` listing every
finding with a link to its cell. An xlsx/xlsm is marked up in place through
openpyxl, so everything the department typed (values, other sheets, data
validation, protection, the very hidden ``_ducha`` sheet) stays as it was and the
file can be corrected and sent again; macros are never kept. Files openpyxl
cannot open (xls, ods, xlsb, or an xlsx it fails on) are rebuilt as a plain xlsx
from the grid :mod:`toolkit.read` read, value by value.

Nothing from the department ever becomes a formula: every text we write (a
rebuilt cell, a comment, a line of the 问题清单, which may quote the department's
text) is stored as a string even when it starts with ``=``.

:func:`reply_text` writes the short plain-text reply mail.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterable
from copy import copy
from datetime import datetime
from pathlib import Path

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.colors import Color
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink

from .check import Outcome
from .errors import ReadError
from .findings import Code, Finding, Level, where
from .read import Workbook, parse_ref, read_workbook, sniff
from .store import atomic_path, display_width, safe_name
from .templates import META_SHEET

__all__ = ["AUTHOR", "FEEDBACK_SHEET", "feedback_name", "reply_text", "write_feedback"]

FEEDBACK_SHEET = "问题清单"
AUTHOR = "督查室"
SUFFIX = "_问题反馈.xlsx"
#: (fill, font colour) per level: Excel's own "Bad" and "Neutral" cell styles.
COLOURS = {
    Level.REJECT: ("FFC7CE", "9C0006"),
    Level.ERROR: ("FFC7CE", "9C0006"),
    Level.NOTICE: ("FFEB9C", "9C5700"),
}
_RANK = {Level.NOTICE: 0, Level.ERROR: 1, Level.REJECT: 2}
LIST_HEADERS = ("序号", "工作表", "单元格", "级别", "代码", "说明")
LIST_WIDTHS = (6, 24, 10, 7, 7, 80)
HEADER_ROW = 3  # the 问题清单 table's header row; findings from the next row
MAX_TEXT = 32_767  # Excel's limit for one cell
MAX_SHEET_TITLE = 31
_BAD_TITLE_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})
_EXCEL_ERRORS = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                           "#GETTING_DATA"))
_THIN = Side(style="thin", color="FFBFBFBF")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


# ---------------------------------------------------------------------------------------
# the marked-up workbook
# ---------------------------------------------------------------------------------------

def feedback_name(source: Path | str) -> str:
    """``<safe stem>_问题反馈.xlsx`` for a returned file."""
    return safe_name(f"{Path(source).stem}{SUFFIX}")


def write_feedback(source: Path, outcome: Outcome, folder: Path, *, workbook: Workbook | None = None,
                   round_name: str = "", name: str = "") -> Path:
    """Write the department's file marked up with ``outcome``'s findings; return its path.

    ``workbook`` is the grid already read from ``source`` (read again if needed and
    not given). A source that cannot be read at all (a PDF, an encrypted file) gets
    a workbook holding only the 问题清单. ``name`` is the file name to write (default
    :func:`feedback_name` of ``source``).
    """
    source, folder = Path(source), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (name or feedback_name(source))
    kind = workbook.format if workbook is not None else _kind(source)
    with atomic_path(target) as tmp:
        done = False
        if kind == "xlsx":
            try:
                book = _load_original(source)
                _mark_up(book, outcome, {}, round_name)
                book.save(tmp)
                done = True
            except Exception:  # openpyxl fails in many ways on odd files: rebuild instead
                done = False
        if not done:
            grid = workbook if workbook is not None else _read_grid(source)
            book, names = _rebuild(grid)
            _mark_up(book, outcome, names, round_name)
            book.save(tmp)
    return target


def _kind(source: Path) -> str:
    try:
        return sniff(source)
    except ReadError:
        return ""


def _read_grid(source: Path) -> Workbook | None:
    try:
        return read_workbook(source)
    except ReadError:
        return None


def _load_original(source: Path) -> openpyxl.Workbook:
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


def _clean(text: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(text))[:MAX_TEXT]


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

def _mark_up(book: openpyxl.Workbook, outcome: Outcome, names: dict[str, str], round_name: str) -> None:
    """Tint and comment every problem cell, then put the 问题清单 first."""
    _drop_old_feedback(book)
    groups: dict[tuple[str, int, int], list[Finding]] = {}
    for finding in outcome.findings:
        spot = _locate(book, finding, names)
        if spot is not None:
            groups.setdefault(spot, []).append(finding)
    for (title, row, col), found in groups.items():
        ws = book[title]
        cell = ws.cell(row=row, column=col)
        level = max((f.level for f in found), key=_RANK.__getitem__)
        fill, colour = COLOURS[level]
        cell.fill = PatternFill(fill_type="solid", start_color=fill, end_color=fill)
        font: Font = copy(cell.font)  # type: ignore[assignment]  # a StyleProxy copies as the Font it wraps
        font.color = Color(rgb="FF" + colour)
        cell.font = font
        old = cell.comment
        text = _comment_text(found)
        if old is not None and old.author != AUTHOR and old.text:
            text += "\n——原有批注——\n" + old.text
        cell.comment = None
        cell.comment = Comment(_clean(text), AUTHOR, height=_comment_height(text), width=340)
    _list_sheet(book, outcome, names, round_name)


def _drop_old_feedback(book: openpyxl.Workbook) -> None:
    """A file that already is a feedback file: remove our old list and comments."""
    for ws in list(book.worksheets):
        if ws.title == FEEDBACK_SHEET and "问题清单" in str(ws["A1"].value or ""):
            book.remove(ws)
    for ws in book.worksheets:
        for cell in ws._cells.values():
            if cell.comment is not None and cell.comment.author == AUTHOR:
                cell.comment = None


def _locate(book: openpyxl.Workbook, finding: Finding, names: dict[str, str]) -> tuple[str, int, int] | None:
    """(sheet title, row, column) of the cell to mark, or None (file-level, unknown sheet, bad ref)."""
    if not finding.sheet or not finding.cell:
        return None
    title = names.get(finding.sheet, finding.sheet)
    if title not in book.sheetnames:
        return None
    try:
        row, col = parse_ref(finding.cell.split(":", 1)[0])
    except ValueError:
        return None
    if not (1 <= row <= 1_048_576 and 1 <= col <= 16_384):
        return None
    ws = book[title]
    for rng in ws.merged_cells.ranges:
        if rng.min_row <= row <= rng.max_row and rng.min_col <= col <= rng.max_col:
            return title, rng.min_row, rng.min_col  # a merged area's comment sits on its first cell
    return title, row, col


def _brief(finding: Finding) -> str:
    """The finding's message without its location prefix (the cell already says where)."""
    message = finding.message or finding.code.template
    prefix = where(finding.file, finding.sheet, finding.cell)
    if prefix and message.startswith(prefix + "："):
        return message[len(prefix) + 1:]
    return message


def _comment_text(found: Iterable[Finding]) -> str:
    lines = [f"{AUTHOR}："]
    for f in found:
        lines.append(f"【{f.level.value} {f.code.name}】{_brief(f)}")
    return "\n".join(lines)


def _comment_height(text: str) -> int:
    per_line = 44  # display columns that fit in a 340-pixel comment
    lines = sum(max(1, math.ceil(display_width(line) / per_line)) for line in text.splitlines())
    return min(max(80, lines * 18 + 20), 600)


# -- the 问题清单 sheet ------------------------------------------------------------------------

def _unit_name(outcome: Outcome) -> str:
    if outcome.unit_name:
        return outcome.unit_name
    if outcome.unit is not None and outcome.unit.name:
        return outcome.unit.name
    return ""


def _ordered(book: openpyxl.Workbook, outcome: Outcome, names: dict[str, str]) -> list[Finding]:
    """File-level findings first, then by sheet (workbook order), row and column."""
    order = {title: i for i, title in enumerate(book.sheetnames)}

    def key(item: tuple[int, Finding]):
        i, f = item
        if not f.sheet:
            return (0, 0, 0, 0, i)
        try:
            row, col = parse_ref(f.cell.split(":", 1)[0]) if f.cell else (0, 0)
        except ValueError:
            row, col = 0, 0
        return (1, order.get(names.get(f.sheet, f.sheet), len(order)), row, col, i)

    return [f for _, f in sorted(enumerate(outcome.findings), key=key)]


def _summary(outcome: Outcome) -> str:
    rejects = sum(f.level is Level.REJECT for f in outcome.findings)
    errors, notices = outcome.errors, outcome.notices
    if not outcome.findings:
        return "经检查未发现问题，无需修改。"
    hint = "点击“单元格”列可跳转到对应位置，鼠标移到标色的单元格上可查看批注。"
    if rejects:
        head = f"本文件未被接收（拒收原因 {rejects} 项），另有错误 {errors} 项、提示 {notices} 项。"
    else:
        head = f"共有错误 {errors} 项、提示 {notices} 项。"
    if rejects or errors:
        return head + "请按下列问题修改后重新报送；标红的单元格为错误，标黄的为提示。" + hint
    return head + "数据已接收，请核对下列提示，如需修改请修改后重新报送；标黄的单元格为提示。" + hint


def _quote_title(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _list_sheet(book: openpyxl.Workbook, outcome: Outcome, names: dict[str, str], round_name: str) -> None:
    title = FEEDBACK_SHEET
    taken = {t.casefold() for t in book.sheetnames}
    n = 1
    while title.casefold() in taken:
        n += 1
        title = f"{FEEDBACK_SHEET}{n}"
    ws = book.create_sheet(title, 0)
    unit = _unit_name(outcome) or "（单位未识别）"
    rnd = round_name or outcome.round
    heading = f"{unit}报表问题清单（{rnd}）" if rnd else f"{unit}报表问题清单"
    last = get_column_letter(len(LIST_HEADERS))

    _put_text(ws["A1"], heading)
    ws["A1"].font = Font(name="黑体", size=14, bold=True)
    ws["A1"].alignment = Alignment(vertical="center")
    ws.merge_cells(f"A1:{last}1")
    ws.row_dimensions[1].height = 28
    summary = _summary(outcome)
    _put_text(ws["A2"], summary)
    ws["A2"].font = Font(name="宋体", size=11)
    ws["A2"].alignment = Alignment(wrap_text=True, vertical="center")
    ws.merge_cells(f"A2:{last}2")
    ws.row_dimensions[2].height = 18 * max(1, math.ceil(display_width(summary) / (sum(LIST_WIDTHS) - 4))) + 6

    header_fill = PatternFill(fill_type="solid", start_color="DDEBF7", end_color="DDEBF7")
    for col, (name, width) in enumerate(zip(LIST_HEADERS, LIST_WIDTHS, strict=True), start=1):
        cell = ws.cell(row=HEADER_ROW, column=col)
        _put_text(cell, name)
        cell.font = Font(name="宋体", size=11, bold=True)
        cell.fill = header_fill
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center")
        ws.column_dimensions[get_column_letter(col)].width = width

    body = Font(name="宋体", size=11)
    for i, f in enumerate(_ordered(book, outcome, names), start=1):
        r = HEADER_ROW + i
        sheet_title = names.get(f.sheet, f.sheet) if f.sheet else ""
        text = _brief(f)
        values = (i, sheet_title, f.cell, f.level.value, f.code.name, text)
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=r, column=col)
            if isinstance(value, int):
                cell.value = value
            elif value:
                _put_text(cell, str(value))
            cell.font = body
            cell.border = _BORDER
            cell.alignment = Alignment(vertical="top", wrap_text=col in (2, 6),
                                       horizontal="center" if col in (1, 3, 4, 5) else None)
        link = _link(book, f, sheet_title)
        if link is not None:
            cell = ws.cell(row=r, column=3)
            if not f.cell:
                _put_text(cell, "（整张表）")
            cell.hyperlink = Hyperlink(ref=cell.coordinate, location=link, display=str(cell.value))
            cell.style = "Hyperlink"
            cell.border = _BORDER
            cell.alignment = Alignment(vertical="top", horizontal="center")
        fill, colour = COLOURS[f.level]
        level_cell = ws.cell(row=r, column=4)
        level_cell.fill = PatternFill(fill_type="solid", start_color=fill, end_color=fill)
        level_cell.font = Font(name="宋体", size=11, color="FF" + colour)
        lines = max(math.ceil(display_width(text) / (LIST_WIDTHS[5] - 2)),
                    math.ceil(display_width(sheet_title) / (LIST_WIDTHS[1] - 2)), 1)
        ws.row_dimensions[r].height = 16 * lines + 4

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


def _link(book: openpyxl.Workbook, finding: Finding, title: str) -> str | None:
    """The in-workbook link target ('Sheet'!H5) for a finding, or None when it cannot work."""
    if not title or title not in book.sheetnames or book[title].sheet_state != "visible":
        return None
    ref = "A1"
    if finding.cell:
        try:
            row, col = parse_ref(finding.cell.split(":", 1)[0])
        except ValueError:
            return None
        ref = f"{get_column_letter(col)}{row}"
    return f"{_quote_title(title)}!{ref}"


# ---------------------------------------------------------------------------------------
# the reply mail
# ---------------------------------------------------------------------------------------

MAX_LISTED = 10


def _where_short(finding: Finding) -> str:
    parts = []
    if finding.sheet:
        parts.append(f"“{finding.sheet}”表")
    if finding.cell:
        parts.append(finding.cell)
    return " ".join(parts)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _listing(found: list[Finding], limit: int = MAX_LISTED) -> list[str]:
    lines = []
    for i, f in enumerate(found[:limit], start=1):
        spot = _where_short(f)
        lines.append(f"  {i}. {spot + '：' if spot else ''}{_one_line(_brief(f))}")
    if len(found) > limit:
        lines.append(f"  ……另有 {len(found) - limit} 项，详见附件。")
    return lines


def reply_text(outcome: Outcome, *, office: str = "市政府督查室", round_name: str = "", deadline: str = "",
               attachment: str = "") -> tuple[str, str]:
    """(subject, body) of the plain-text reply to the department about ``outcome``.

    ``attachment`` is the marked-up file's name (default: what :func:`write_feedback`
    would call it).
    """
    unit = _unit_name(outcome)
    rnd = round_name or outcome.round
    what = f"{unit}报表" if unit else "报表"
    if rnd:
        what += f"（{rnd}）"
    attachment = attachment or (feedback_name(outcome.file) if outcome.file else "问题反馈.xlsx")
    rejects = [f for f in outcome.findings if f.level is Level.REJECT]
    errors = [f for f in outcome.findings if f.level is Level.ERROR]
    notices = [f for f in outcome.findings if f.level is Level.NOTICE]

    lines = [f"{unit}：" if unit else "您好：", ""]
    received = f"你单位报送的“{outcome.file}”已收到。" if outcome.file else "你单位报送的报表已收到。"
    if any(f.code is Code.F116 for f in rejects):
        subject = f"【空表】{what}为空表，请填写后重新报送"
        named = f"“{outcome.file}”" if outcome.file else "报表"
        lines.append(f"你单位报送的{named}为空表，未填写任何内容，请填写后重新报送。"
                     + (f"请于{deadline}前报送。" if deadline else ""))
        lines.append("请在下发模板的黄色单元格中填写本期完成、进展情况等内容；确无进展的请填“无”并在进展情况中说明。")
        lines += ["", office]
        return subject, "\n".join(lines) + "\n"
    if rejects:
        subject = f"【退回】{what}未被接收，请修改后重新报送"
        lines.append(received + "经检查，该文件未被接收，原因如下：")
        lines += _listing(rejects)
        lines.append("请修改后重新报送。" + (f"请于{deadline}前报送。" if deadline else ""))
    elif errors:
        subject = f"【待更正】{what}已接收，{len(errors)}项待更正"
        lines.append(received + f"经检查，文件已接收，但有 {len(errors)} 项错误待更正"
                     "（相关数据暂不纳入汇总）：")
        lines += _listing(errors)
        if notices:
            lines.append(f"另有 {len(notices)} 项提示，请一并核对。")
        lines.append("请更正后重新报送整份文件。" + (f"请于{deadline}前报送。" if deadline else ""))
    elif notices:
        subject = f"【已接收】{what}已接收，{len(notices)}项提示"
        lines.append(received + f"经检查，文件已接收，数据已纳入汇总。有 {len(notices)} 项提示，请留意：")
        lines += _listing(notices)
        lines.append(f"如需修改，请于{deadline}前重新报送。" if deadline else "如需修改，请修改后重新报送。")
    else:
        subject = f"【已接收】{what}已接收"
        lines.append(received + "经检查，文件已接收，未发现问题，数据已纳入汇总。感谢配合！")
    if outcome.findings:
        lines += ["", f"附件“{attachment}”是你单位报送的表格，问题处已标出："
                  f"首页“{FEEDBACK_SHEET}”列出全部问题，点击单元格位置可跳转；标红的单元格为错误，标黄的为提示，鼠标移到单元格上可查看说明。"
                  "可直接在附件上修改后报送。"]
    lines += ["", office]
    return subject, "\n".join(lines) + "\n"
