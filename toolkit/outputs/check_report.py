"""校验报告_<轮次>.xlsx: what the clerk does next, every finding, the code legend."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..findings import Finding, Level, catalogue, where
from ..model import TOTAL
from ..standing import Fate, Standing, UnitStanding
from .book import (
    _NOTE,
    _TITLE,
    ACTION_COLOURS,
    LEVEL_COLOURS,
    UNKNOWN_UNIT,
    _Book,
    _Col,
    _file_name,
    _Row,
    _target,
    _write_xlsx,
)

# -- 校验报告 ---------------------------------------------------------------------------

_LEVEL_RANK = {Level.REJECT: 0, Level.ERROR: 1, Level.NOTICE: 2}
#: What the clerk does next about a unit (汇总 sheet, 需办理), and its colour.
_ACTIONS = ACTION_COLOURS
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
    expected = {name: i for i, name in enumerate(u.name for u in result.expected_units())}
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
    sh = book.sheet("问题清单", stream=True)
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


