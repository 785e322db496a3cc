"""What a feedback file says, computed once for both ways of writing it.

:func:`build_marks` turns an :class:`~toolkit.check.Outcome` into :class:`Marks`: the
cells to tint and comment (merged areas marked on their first cell), the rows of the
``问题清单`` with their links, its heading and summary sentence. The openpyxl mark-up
(:mod:`.workbook`) and the XML fast path (:mod:`.package`) only render these, so the
two cannot say different things.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..check import Outcome
from ..findings import Finding, Level, where
from ..read import col_letter, parse_ref
from ..store import safe_name
from ..terminal import display_width

FEEDBACK_SHEET = "问题清单"
AUTHOR = "督查室"
SUFFIX = "_问题反馈.xlsx"
#: (fill, font colour) per level: Excel's own "Bad" and "Neutral" cell styles.
COLOURS = {
    Level.REJECT: ("FFC7CE", "9C0006"),
    Level.ERROR: ("FFC7CE", "9C0006"),
    Level.NOTICE: ("FFEB9C", "9C5700"),
}
HEADER_FILL = "DDEBF7"
BORDER_COLOUR = "FFBFBFBF"
_RANK = {Level.NOTICE: 0, Level.ERROR: 1, Level.REJECT: 2}
LIST_HEADERS = ("序号", "工作表", "单元格", "级别", "代码", "说明")
LIST_WIDTHS = (6, 24, 10, 7, 7, 80)
HEADER_ROW = 3  # the 问题清单 table's header row; findings from the next row
HEADING_HEIGHT = 28
COMMENT_WIDTH = 340
MAX_TEXT = 32_767  # Excel's limit for one cell
#: Characters no XML 1.0 document may hold (openpyxl's set, plus U+FFFE/U+FFFF and lone surrogates).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

#: A merged area as (min_row, min_col, max_row, max_col).
Area = tuple[int, int, int, int]


def feedback_name(source: Path | str) -> str:
    """``<safe stem>_问题反馈.xlsx`` for a returned file."""
    return safe_name(f"{Path(source).stem}{SUFFIX}")


def _clean(text: str) -> str:
    """Text safe in any cell or comment: illegal XML characters made U+FFFD, cut to Excel's limit."""
    return _ILLEGAL.sub("\ufffd", str(text))[:MAX_TEXT]


def _brief(finding: Finding) -> str:
    """The finding's message without its location prefix (the cell already says where)."""
    message = finding.message or finding.code.template
    prefix = where(finding.file, finding.sheet, finding.cell)
    if prefix and message.startswith(prefix + "："):
        return message[len(prefix) + 1:]
    return message


def _unit_name(outcome: Outcome) -> str:
    if outcome.unit_name:
        return outcome.unit_name
    if outcome.unit is not None and outcome.unit.name:
        return outcome.unit.name
    return ""


def _comment_text(found: Iterable[Finding]) -> str:
    lines = [f"{AUTHOR}："]
    for f in found:
        lines.append(f"【{f.level.value} {f.code.name}】{_brief(f)}")
    return "\n".join(lines)


def _comment_height(text: str) -> int:
    per_line = 44  # display columns that fit in a 340-pixel comment
    lines = sum(max(1, math.ceil(display_width(line) / per_line)) for line in text.splitlines())
    return min(max(80, lines * 18 + 20), 600)


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


_col_letter = col_letter  # the reader's: 'A' for 1, 'AA' for 27


def _first_ref(finding: Finding) -> tuple[int, int] | None:
    """(row, column) of the finding's cell (the first of a range); None when it has none or a bad one."""
    if not finding.cell:
        return None
    try:
        return parse_ref(finding.cell.split(":", 1)[0])
    except ValueError:
        return None


@dataclass(frozen=True)
class CellMark:
    """One problem cell: tinted by the worst ``level`` of its findings, commented with ``text``."""

    sheet: str
    row: int
    col: int
    level: Level
    text: str  # the comment, not yet cleaned (the openpyxl path may add an older comment)


@dataclass(frozen=True)
class ListRow:
    """One line of the 问题清单: the values of columns A-F, its level, link and height."""

    values: tuple[int, str, str, str, str, str]
    level: Level
    link: str | None  # 'Sheet'!H5, or None
    height: int


@dataclass(frozen=True)
class Marks:
    title: str
    heading: str
    summary: str
    summary_height: int
    cells: list[CellMark]
    rows: list[ListRow]


class SheetInfo:
    """What :func:`build_marks` needs to know about a workbook: its sheets in order and their
    states (``visible``/``hidden``/``veryHidden``), and each sheet's merged areas, asked for
    only when a finding points into that sheet."""

    def __init__(self, sheets: Sequence[tuple[str, str]], merged: Callable[[str], Sequence[Area]]):
        self.titles = [title for title, _state in sheets]
        self.states = dict(sheets)
        self.merged = merged


def list_title(titles: Iterable[str]) -> str:
    """The 问题清单's title: ``问题清单``, or ``问题清单2``… when a sheet already has that name."""
    taken = {t.casefold() for t in titles}
    title, n = FEEDBACK_SHEET, 1
    while title.casefold() in taken:
        n += 1
        title = f"{FEEDBACK_SHEET}{n}"
    return title


def _locate(info: SheetInfo, finding: Finding, names: dict[str, str]) -> tuple[str, int, int] | None:
    """(sheet title, row, column) of the cell to mark, or None (file-level, unknown sheet, bad ref)."""
    if not finding.sheet or not finding.cell:
        return None
    title = names.get(finding.sheet, finding.sheet)
    if title not in info.states:
        return None
    spot = _first_ref(finding)
    if spot is None:
        return None
    row, col = spot
    if not (1 <= row <= 1_048_576 and 1 <= col <= 16_384):
        return None
    for r1, c1, r2, c2 in info.merged(title):
        if r1 <= row <= r2 and c1 <= col <= c2:
            return title, r1, c1  # a merged area's comment sits on its first cell
    return title, row, col


def _ordered(info: SheetInfo, outcome: Outcome, names: dict[str, str]) -> list[Finding]:
    """File-level findings first, then by sheet (workbook order), row and column."""
    order = {title: i for i, title in enumerate(info.titles)}

    def key(item: tuple[int, Finding]):
        i, f = item
        if not f.sheet:
            return (0, 0, 0, 0, i)
        row, col = _first_ref(f) or (0, 0)
        return (1, order.get(names.get(f.sheet, f.sheet), len(order)), row, col, i)

    return [f for _, f in sorted(enumerate(outcome.findings), key=key)]


def _link(info: SheetInfo, finding: Finding, title: str) -> str | None:
    """The in-workbook link target ('Sheet'!H5) for a finding, or None when it cannot work."""
    if not title or info.states.get(title) != "visible":
        return None
    ref = "A1"
    if finding.cell:
        spot = _first_ref(finding)
        if spot is None:
            return None
        ref = f"{_col_letter(spot[1])}{spot[0]}"
    return f"{_quote_title(title)}!{ref}"


def build_marks(outcome: Outcome, info: SheetInfo, names: dict[str, str], round_name: str) -> Marks:
    """Everything the feedback file shows, for a workbook with the sheets ``info`` describes
    (``names`` maps a finding's sheet to the title it has there, when a rebuild renamed it)."""
    groups: dict[tuple[str, int, int], list[Finding]] = {}
    for finding in outcome.findings:
        spot = _locate(info, finding, names)
        if spot is not None:
            groups.setdefault(spot, []).append(finding)
    cells = [CellMark(title, row, col, max((f.level for f in found), key=_RANK.__getitem__), _comment_text(found))
             for (title, row, col), found in groups.items()]

    unit = _unit_name(outcome) or "（单位未识别）"
    rnd = round_name or outcome.round
    heading = f"{unit}报表问题清单（{rnd}）" if rnd else f"{unit}报表问题清单"
    summary = _summary(outcome)
    summary_height = 18 * max(1, math.ceil(display_width(summary) / (sum(LIST_WIDTHS) - 4))) + 6
    rows = []
    for i, f in enumerate(_ordered(info, outcome, names), start=1):
        sheet_title = names.get(f.sheet, f.sheet) if f.sheet else ""
        text = _brief(f)
        link = _link(info, f, sheet_title)
        cell = f.cell or ("（整张表）" if link is not None else "")
        lines = max(math.ceil(display_width(text) / (LIST_WIDTHS[5] - 2)),
                    math.ceil(display_width(sheet_title) / (LIST_WIDTHS[1] - 2)), 1)
        rows.append(ListRow((i, sheet_title, cell, f.level.value, f.code.name, text), f.level, link, 16 * lines + 4))
    return Marks(list_title(info.titles), heading, summary, summary_height, cells, rows)
