"""台账_<轮次>.xlsx: every registry row with every unit's values and text."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from ..model import Indicator, ResultRow
from ..standing import Standing
from .book import (
    _TITLE,
    A3,
    LEDGER_COLUMNS,
    STATUS_COLOURS,
    _aligned_places,
    _Book,
    _category_order,
    _Col,
    _file_name,
    _remark,
    _Row,
    _target,
    _write_xlsx,
)

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
        cols.append(_Col(title, kind, lo, hi, STATUS_COLOURS if kind == "status" else None,
                         lights="gap" if title == "差距" else ""))
    return cols


#: num columns of the ledger (by LEDGER_COLUMNS index) and the ResultRow field each shows
_LEDGER_FIGURES = {8: "target", 11: "value", 12: "base", 13: "last_year"}


def _ledger_rows(ind: Indicator, rows: list[ResultRow], aligned: dict[tuple[str, str], int]) -> list[_Row]:
    """The ledger rows of one indicator: one per result row, or one with the registry's figures
    when it has none. What comes from the indicator is looked up once for all its rows."""
    head = [ind.task_no, ind.task, ind.lead, ind.co, ind.code, ind.name, ind.kind, ind.unit]
    due: object = ind.due_text or ind.due
    if not rows:
        return [_Row(head + [ind.target, due] + [None] * 15, places=ind.decimals)]
    # the same decimals for every row of the indicator (only ever read)
    places = {c: aligned.get((ind.code, name), 0) for c, name in _LEDGER_FIGURES.items()}
    decimals = ind.decimals
    return [_Row([
        *head, row.target, due, row.unit, row.value, row.base, row.last_year, row.state, row.completion,
        row.ratio, row.time_progress, row.gap, row.yoy, row.status, row.progress, row.problems,
        row.next_steps, _remark(row),
    ], places=decimals, bold=row.is_total, shade=row.is_total, num_places=places) for row in rows]


def write_ledger(result: Standing, path: Path) -> Path:
    """台账_<轮次>.xlsx: every registry row with every unit's returned values and text."""
    target = _target(path, _file_name("台账_{round}.xlsx", result.round.name))
    settings = result.registry.settings

    def build(book: _Book) -> None:
        cols = _ledger_cols()
        # one pass over the rows: each category's rows by indicator, and the indicators in the
        # order their rows come (the registry's, then any it does not list under the category)
        mine: dict[tuple[str, str], list[ResultRow]] = defaultdict(list)
        listed: dict[str, dict[str, Indicator]] = defaultdict(dict)
        for row in result.rows:
            ind = row.indicator
            mine[(row.category, ind.code)].append(row)
            listed[row.category].setdefault(ind.code, ind)
        aligned = _aligned_places(result.rows, *_LEDGER_FIGURES.values())
        for sheet, cat_title in _category_order(result):
            cat = result.registry.category(sheet)
            indicators = list(cat.indicators) if cat else []
            codes = {ind.code for ind in indicators}
            # Rows whose indicator is not in this registry category still get listed.
            indicators += [ind for code, ind in listed[sheet].items() if code not in codes]
            rows: list[_Row] = []
            for ind in indicators:
                rows += _ledger_rows(ind, mine.get((sheet, ind.code), []), aligned)
            sh = book.sheet(sheet, stream=True)
            sh.title(0, 0, len(cols) - 1, cat_title or sheet, {**_TITLE, "font_size": 13, "align": "left"})
            last = sh.table(1, cols, rows)
            sh.fit_columns()
            # 25 columns: the ledger prints on A3 (still landscape, one page wide).
            sh.finish_list(1, last, len(cols) - 1, 0, f"台账 {sheet}", paper=A3)

    return _write_xlsx(target, f"{settings.title}台账（{result.round.name}）", settings.issuer, build)


