"""The year at a glance: every merged round of a workspace as pandas DataFrames.

A merged round leaves ``rounds/<轮次>/output/results.csv`` (one row per indicator and
unit, plus a 合计 row where several units report; DESIGN.md fixes its columns). This
module reads those files, in the order of the master's 轮次 sheet, into one tidy table and
computes from it what leaders read across rounds:

* :func:`indicator_changes` — each row's percentage against the previous round, in
  percentage points (「较上月提高X个百分点」);
* :func:`category_progress` — each category's average completion against 序时进度 and its
  change since the previous round;
* :func:`lag_streaks` — for each lagging item, how many rounds in a row it has lagged
  (「连续N月滞后」);
* :func:`trends` — the same for one round as plain records (:class:`Change`,
  :class:`Streak`), for the writers of the report and the summary.

Numbers stay exact: the numeric columns hold :class:`decimal.Decimal` values (or None for a
blank cell) in ``object`` columns, exactly as results.csv prints them, so a figure computed
here (a change, an average) is worked out in decimal arithmetic and rounded half up, never
through binary floats. :func:`as_float` gives a float copy for plotting only.

Also :func:`year_units` (who reported when, from each summary's 报送情况 sheet) and
:func:`year_findings` (every finding, from each check report's 问题清单 sheet).

"Previous round" is the round before in the 轮次 sheet; when that round has not been merged
there is nothing to compare with (no change, a streak ends). The comparison is called 上月
when the two 统计截止日期 fall in consecutive calendar months, else 上轮.

Importing this module imports pandas; ``import toolkit`` does not (see ``toolkit.__getattr__``).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path

import pandas as pd

from .errors import WorkspaceError
from .formatting import round_half_up
from .history import Change, Streak
from .model import ABSENT, LAGGING, PERCENT_UNITS, TOTAL, Registry, Round
from .workspace import RESULTS_CSV, Workspace

log = logging.getLogger(__name__)

__all__ = [
    "NUMERIC_COLUMNS",
    "RESULT_COLUMNS",
    "Change",
    "Streak",
    "Trends",
    "as_float",
    "category_progress",
    "change_word",
    "headline",
    "indicator_changes",
    "lag_streaks",
    "merged_rounds",
    "results_frame",
    "round_results",
    "trends",
    "year_findings",
    "year_results",
    "year_units",
]

#: Columns of results.csv, in order (DESIGN.md, "Outputs of a round").
RESULT_COLUMNS = (
    "轮次", "类别", "任务编号", "指标编号", "指标名称", "单位名称", "计量单位", "年度目标", "本期完成",
    "基数", "上年同期", "完成率", "序时进度", "差距", "同比", "状态",
)
#: Columns holding numbers (Decimal or None).
NUMERIC_COLUMNS = ("年度目标", "本期完成", "基数", "上年同期", "完成率", "序时进度", "差距", "同比")
#: The column this module adds after 轮次: the round's 统计截止日期 (from the 轮次 sheet).
CUTOFF = "统计截止日期"
#: Average completion counts each indicator at most at 100%, so that one indicator far
#: ahead does not hide another that lags.
CAP = Decimal(100)
#: Places of a category's average completion (as 序时进度).
AVERAGE_PLACES = 2

SUMMARY = "汇总表_{round}.xlsx"
CHECK_REPORT = "校验报告_{round}.xlsx"
UNITS_SHEET = "报送情况"
FINDINGS_SHEET = "问题清单"

WorkspaceLike = Workspace | str | Path


def _workspace(ws: WorkspaceLike) -> Workspace:
    return ws if isinstance(ws, Workspace) else Workspace(Path(ws).expanduser())


# -- reading the rounds -------------------------------------------------------------------


def merged_rounds(ws: WorkspaceLike) -> list[Round]:
    """The rounds of the 轮次 sheet (in its order) that have a results.csv."""
    w = _workspace(ws)
    return [rnd for rnd in w.registry().rounds if (w.output(rnd.name) / RESULTS_CSV).is_file()]


def _not_a_number(where: str, text: str) -> WorkspaceError:
    return WorkspaceError(f"{where}的“{text}”不是数字。results.csv 由 ducha 生成，请勿手工修改；"
                          "可重新运行 ducha merge 生成。")


def _numbers(values: list, column: str, source: str) -> list[Decimal | None]:
    """A column of texts (or Decimals) as Decimals, None for a blank."""
    out: list[Decimal | None] = []
    for n, value in enumerate(values, start=2):
        if value is None or isinstance(value, Decimal):
            out.append(value)
            continue
        text = str(value).strip()
        if not text:
            out.append(None)
            continue
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            raise _not_a_number(f"{source}第{n}行“{column}”列", text)
        out.append(number)
    return out


def _texts(values: list) -> list[str]:
    """A column of texts; results.csv guards text a spreadsheet would run as a formula with an apostrophe."""
    out = []
    for value in values:
        text = "" if value is None else str(value)
        out.append(text[1:] if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@") else text)
    return out


def results_frame(rows: Iterable[Sequence[object]], rounds: Sequence[Round], *, source: str = "") -> pd.DataFrame:
    """A tidy frame from rows in :data:`RESULT_COLUMNS` order (texts as in results.csv, or Decimals).

    ``rounds`` are the master's rounds in order: they give 轮次 its categories (so that
    sorting by 轮次 follows the 轮次 sheet) and each row its 统计截止日期. A writer that
    has the current round's rows in memory, before results.csv is written, builds its
    frame here and passes it to :func:`year_results` as ``current``.
    """
    rows = list(rows)
    for n, row in enumerate(rows, start=2):
        if len(row) != len(RESULT_COLUMNS):
            raise WorkspaceError(f"{source}第{n}行有{len(row)}列，应为{len(RESULT_COLUMNS)}列。"
                                 "请重新运行 ducha merge 生成 results.csv。")
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in RESULT_COLUMNS]
    data = {name: pd.Series(_numbers(values, name, source) if name in NUMERIC_COLUMNS else _texts(values),
                            dtype=object)
            for name, values in zip(RESULT_COLUMNS, columns, strict=True)}
    frame = pd.DataFrame(data)
    cutoffs = {r.name: r.cutoff for r in rounds}
    unknown = sorted(set(frame["轮次"]) - set(cutoffs))
    if unknown:
        raise WorkspaceError(f"{source or '数据'}中的轮次“{'、'.join(unknown)}”不在任务台账“轮次”工作表中。")
    frame.insert(1, CUTOFF, pd.to_datetime(frame["轮次"].map(cutoffs).astype("datetime64[s]")))
    frame["轮次"] = pd.Categorical(frame["轮次"], categories=[r.name for r in rounds], ordered=True)
    return frame


def _read_csv(path: Path, rnd: Round, rounds: Sequence[Round]) -> pd.DataFrame:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"无法读取 {path}（{exc}）。请确认文件未被占用，或重新运行 ducha merge -r {rnd.name}。") from exc
    if not rows:
        raise WorkspaceError(f"{path} 是空文件。请重新运行 ducha merge -r {rnd.name}。")
    header, body = rows[0], [r for r in rows[1:] if any(c.strip() for c in r)]
    missing = [c for c in RESULT_COLUMNS if c not in header]
    if missing:
        raise WorkspaceError(f"{path} 缺少列：{'、'.join(missing)}。请重新运行 ducha merge -r {rnd.name}。")
    index = [header.index(c) for c in RESULT_COLUMNS]
    # The folder names the round: a copied file that still says another round is read as this one.
    ordered = [[rnd.name, *(r[i] if i < len(r) else "" for i in index[1:])] for r in body]
    return results_frame(ordered, rounds, source=str(path))


def round_results(ws: WorkspaceLike, round_name: str) -> pd.DataFrame:
    """One merged round's results.csv as a tidy frame (see :func:`year_results`)."""
    w = _workspace(ws)
    registry = w.registry()
    rnd = w.pick_round(registry, round_name)
    path = w.output(rnd.name) / RESULTS_CSV
    if not path.is_file():
        raise WorkspaceError(f"轮次 {rnd.name} 还没有合并结果（{path} 不存在）。请先运行 ducha merge -r {rnd.name}。")
    return _read_csv(path, rnd, registry.rounds)


def year_results(ws: WorkspaceLike, current: pd.DataFrame | None = None,
                 registry: Registry | None = None) -> pd.DataFrame:
    """Every merged round's results in one tidy frame, in the order of the 轮次 sheet.

    One row per round, indicator and unit (and a 合计 row where several units report);
    columns 轮次 (ordered categorical), 统计截止日期, then results.csv's columns; numbers are
    Decimals or None. ``current`` (from :func:`results_frame`) replaces whatever is on disk
    for its round(s), so a round can be compared before its results.csv exists. ``registry``:
    the master as already loaded (else it is read).
    """
    w = _workspace(ws)
    registry = registry or w.registry()
    replaced = set(current["轮次"].astype(str)) if current is not None else set()
    frames = []
    for rnd in registry.rounds:
        path = w.output(rnd.name) / RESULTS_CSV
        if rnd.name not in replaced and path.is_file():
            frames.append(_read_csv(path, rnd, registry.rounds))
    if current is not None:
        frames.append(current)
    if not frames:
        return results_frame([], registry.rounds)
    frame = pd.concat(frames, ignore_index=True)
    frame["轮次"] = pd.Categorical(frame["轮次"].astype(str), categories=[r.name for r in registry.rounds],
                                   ordered=True)
    return frame.sort_values("轮次", kind="stable").reset_index(drop=True)


def as_float(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with the numeric columns as float64 (NaN for blanks), for plotting only."""
    out = frame.copy()
    for column in out.columns:
        if column in NUMERIC_COLUMNS or column in ("本轮值", "上轮值", "变化", "平均完成率", "上轮平均完成率"):
            out[column] = pd.to_numeric(out[column].map(lambda v: None if v is None else float(v)))
    return out


# -- units and findings from the round's workbooks ----------------------------------------


def _sheet_rows(path: Path, sheet: str, must: Sequence[str]) -> tuple[list[str], list[tuple]]:
    """The header (the first row, within the first ten, holding every name in ``must``) and the rows below."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # any unreadable workbook: say which and what to do
        raise WorkspaceError(f"无法打开 {path}（{exc}）。请关闭正在打开它的 Excel/WPS，或重新运行 ducha merge。") from exc
    try:
        if sheet not in wb.sheetnames:
            raise WorkspaceError(f"{path} 中没有“{sheet}”工作表。请重新运行 ducha merge 生成该文件。")
        rows = list(wb[sheet].iter_rows(values_only=True))
    finally:
        wb.close()
    for i, row in enumerate(rows[:10]):
        names = ["" if v is None else str(v).strip() for v in row]
        if all(m in names for m in must):
            return names, rows[i + 1:]
    raise WorkspaceError(f"{path} 的“{sheet}”工作表中找不到表头（{'、'.join(must)}）。请重新运行 ducha merge。")


#: Columns of those sheets read as whole numbers (pandas Int64, <NA> when blank) and as times.
_COUNT_COLUMNS = ("错误数", "提示数")
_TIME_COLUMNS = ("收到时间",)


def _sheet_frame(ws: WorkspaceLike, pattern: str, sheet: str, must: Sequence[str], key: str,
                 round_name: str | None) -> pd.DataFrame:
    w = _workspace(ws)
    registry = w.registry()
    names = [r.name for r in registry.rounds]
    if round_name is not None:
        names = [w.pick_round(registry, round_name).name]
    records: list[dict[str, object]] = []
    columns: list[str] = ["轮次", *must]
    for name in names:
        path = w.output(name) / pattern.format(round=name)
        if not path.is_file():
            continue
        header, rows = _sheet_rows(path, sheet, must)
        for column in header:
            if column and column not in columns:
                columns.append(column)
        for row in rows:
            values = dict(zip(header, row, strict=False))  # read-only rows may stop early
            if values.get(key) in (None, ""):
                continue  # notes under the table, or 本轮未发现问题
            records.append({"轮次": name, **{c: v for c, v in values.items() if c}})
    frame = pd.DataFrame.from_records(records, columns=columns).astype(object)
    frame = frame.where(frame.notna(), None)  # a blank cell is None, as in the results frame
    for column in frame.columns:
        if column in _COUNT_COLUMNS:
            frame[column] = frame[column].astype("Int64")
        elif column in _TIME_COLUMNS:
            frame[column] = pd.to_datetime(frame[column])
    frame["轮次"] = pd.Categorical(frame["轮次"], categories=[r.name for r in registry.rounds], ordered=True)
    return frame


def year_units(ws: WorkspaceLike, round_name: str | None = None) -> pd.DataFrame:
    """Who reported when: each merged round's 报送情况 (from 汇总表_<轮次>.xlsx).

    One row per round and unit: 轮次, 单位名称, 状态 (按时报送/逾期报送/未报送/被拒收), then
    the sheet's other columns as it has them (收到时间, 文件, 错误数, 提示数, 说明).
    """
    return _sheet_frame(ws, SUMMARY, UNITS_SHEET, ("单位名称", "状态"), "状态", round_name)


def year_findings(ws: WorkspaceLike, round_name: str | None = None) -> pd.DataFrame:
    """Every finding of each merged round (from 校验报告_<轮次>.xlsx, sheet 问题清单).

    One row per finding: 轮次, 单位, 代码, 级别, then the sheet's other columns (收到的文件名,
    工作表, 单元格, 说明).
    """
    return _sheet_frame(ws, CHECK_REPORT, FINDINGS_SHEET, ("单位", "代码", "级别"), "代码", round_name)


# -- computations -------------------------------------------------------------------------


def _month_index(d: date) -> int:
    return d.year * 12 + d.month


def change_word(previous_cutoff: date, cutoff: date) -> str:
    """上月 when the two 统计截止日期 fall in consecutive calendar months, else 上轮."""
    return "上月" if _month_index(cutoff) - _month_index(previous_cutoff) == 1 else "上轮"


def _rounds_of(frame: pd.DataFrame) -> list[tuple[str, date | None]]:
    """Every round the frame's 轮次 knows of (the 轮次 sheet), with its cutoff when merged."""
    firsts = frame[["轮次", CUTOFF]].drop_duplicates("轮次")
    cutoffs = {str(r): c.date() for r, c in zip(firsts["轮次"], firsts[CUTOFF], strict=True)}
    return [(str(name), cutoffs.get(str(name))) for name in frame["轮次"].cat.categories]


def _previous(frame: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Round -> (previous round, 上月/上轮), for every merged round whose predecessor is merged too."""
    rounds = _rounds_of(frame)
    out = {}
    for (prev, prev_cut), (name, cut) in pairwise(rounds):
        if prev_cut is not None and cut is not None:
            out[name] = (prev, change_word(prev_cut, cut))
    return out


def headline(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that stand for their indicator: its 合计 row where it has one, else its own row(s)."""
    rows = _records(frame, ("轮次", "指标编号", "单位名称"))
    totals = {(r["轮次"], r["指标编号"]) for r in rows if r["单位名称"] == TOTAL}
    keep = [r["单位名称"] == TOTAL or (r["轮次"], r["指标编号"]) not in totals for r in rows]
    return frame.loc[keep].reset_index(drop=True)


def _measure(row: dict) -> tuple[str, Decimal | None]:
    """The percentage a row is followed by: its 完成率 (累计, 比率), else 本期完成 when it is a
    percentage itself (增速, and 上限/下限 in %)."""
    if row["完成率"] is not None:
        return "完成率", row["完成率"]
    if str(row["计量单位"]).strip() in PERCENT_UNITS and row["本期完成"] is not None:
        return "本期完成", row["本期完成"]
    return "", None


def _records(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> list[dict]:
    """The frame's rows as dicts of plain values, 轮次 as text (``to_dict`` is ten times slower)."""
    names = [c for c in (columns or frame.columns) if c != CUTOFF]
    values = [frame[c].astype(str).tolist() if c == "轮次" else frame[c].tolist() for c in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


_MEASURE_COLUMNS = ("轮次", "类别", "指标编号", "指标名称", "单位名称", "计量单位", "本期完成", "完成率", "状态")


def _only(frame: pd.DataFrame, round_name: str | None, previous: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """The rows of ``round_name`` and the round before it (all rows when ``round_name`` is None)."""
    if round_name is None:
        return frame
    wanted = {round_name, previous.get(round_name, ("", ""))[0]}
    return frame[frame["轮次"].astype(str).isin(wanted)]


def _frame(records: list[list], columns: list[str], like: pd.DataFrame) -> pd.DataFrame:
    """A result frame: 轮次 ordered as in ``like``, every other column kept as Python objects."""
    out = pd.DataFrame.from_records(records, columns=columns)
    for column in columns:
        out[column] = out[column].astype(object)
    out["轮次"] = pd.Categorical(out["轮次"], categories=like["轮次"].cat.categories, ordered=True)
    return out


_CHANGE_COLUMNS = ["轮次", "类别", "指标编号", "指标名称", "单位名称", "比较项", "本轮值", "上轮", "较", "上轮值",
                   "变化", "状态", "上轮状态"]


def indicator_changes(frame: pd.DataFrame, round_name: str | None = None) -> pd.DataFrame:
    """Each row's percentage against the previous round, in percentage points.

    One row per round, indicator and unit (the 合计 included) that has a percentage to
    follow: 比较项 (完成率 for 累计 and 比率, 本期完成 for a row whose unit is %), 本轮值,
    上轮 (the previous round's name, '' when it is not merged), 较 (上月/上轮), 上轮值,
    变化 = 本轮值 − 上轮值 as printed (None when either is missing: the indicator is new, or
    the unit did not report), 状态 and 上轮状态. ``round_name`` keeps one round only.
    """
    previous = _previous(frame)
    frame = _only(frame, round_name, previous)
    rows = _records(frame, _MEASURE_COLUMNS)
    measured = {(r["轮次"], r["指标编号"], r["单位名称"]): (*_measure(r), r["状态"]) for r in rows}
    records = []
    for row in rows:
        rnd = row["轮次"]
        if round_name is not None and rnd != round_name:
            continue
        kind, value = _measure(row)
        if not kind:
            continue
        prev, word = previous.get(rnd, ("", ""))
        before_kind, before, before_status = measured.get((prev, row["指标编号"], row["单位名称"]), ("", None, ""))
        if before_kind != kind:
            before = None
        change = value - before if value is not None and before is not None else None
        records.append([rnd, row["类别"], row["指标编号"], row["指标名称"], row["单位名称"], kind, value, prev, word,
                        before, change, row["状态"], before_status])
    return _frame(records, _CHANGE_COLUMNS, frame)


@dataclass
class _Tally:
    """One category in one round, while :func:`category_progress` counts."""

    indicators: int = 0
    rates: list[Decimal] = field(default_factory=list)
    time_progress: Decimal | None = None
    lagging: int = 0
    unsettled: int = 0  # rows with a 序时进度 left out: not judged (a 合计 with parts missing)

    def average(self) -> Decimal | None:
        if not self.rates:
            return None
        capped = [min(v, CAP) for v in self.rates]
        return round_half_up(sum(capped, Decimal(0)) / len(capped), AVERAGE_PLACES)


_CATEGORY_COLUMNS = ["轮次", "类别", "指标数", "累计指标数", "平均完成率", "序时进度", "差距", "滞后数", "上轮", "较",
                     "上轮平均完成率", "变化",
                     "未计入数"]


def category_progress(frame: pd.DataFrame, round_name: str | None = None) -> pd.DataFrame:
    """Each category's completion against 序时进度, per round, and its change since the previous round.

    Over the category's headline rows (:func:`headline`): 指标数; 累计指标数, the rows that
    have a 序时进度 (累计 indicators); 平均完成率, their average 完成率 with each counted at
    most at 100%, rounded half up to two places; 差距 = 平均完成率 − 序时进度; 滞后数, rows
    whose 状态 is 滞后, 未达标 or 逾期; 上轮平均完成率 and 变化 in percentage points; 未计入数, rows
    with a 序时进度 left out of the average because they are not judged this round (未报送, 待更正,
    待补报: a 合计 whose parts are not all in has only a partial sum, which would pull it down).
    Categories appear in the order results.csv lists them.
    """
    previous = _previous(frame)
    frame = _only(frame, round_name, previous)
    tallies: dict[tuple[str, str], _Tally] = {}
    for row in _records(headline(frame), ("轮次", "类别", "序时进度", "完成率", "状态")):
        tally = tallies.setdefault((row["轮次"], row["类别"]), _Tally())
        tally.indicators += 1
        if row["序时进度"] is not None and row["完成率"] is not None:
            tally.time_progress = row["序时进度"]
            if row["状态"] in ABSENT:  # a partial sum would pull the average down: not counted, but said
                tally.unsettled += 1
            else:
                tally.rates.append(row["完成率"])
        if row["状态"] in LAGGING:
            tally.lagging += 1
    averages = {key: tally.average() for key, tally in tallies.items()}
    records = []
    for (rnd, category), tally in tallies.items():
        if round_name is not None and rnd != round_name:
            continue
        average, tp = averages[(rnd, category)], tally.time_progress
        prev, word = previous.get(rnd, ("", ""))
        before = averages.get((prev, category))
        records.append([
            rnd, category, tally.indicators, len(tally.rates), average, tp,
            average - tp if average is not None and tp is not None else None, tally.lagging, prev, word,
            before, average - before if average is not None and before is not None else None,
            tally.unsettled,
        ])
    return _frame(records, _CATEGORY_COLUMNS, frame)


_STREAK_COLUMNS = ["轮次", "类别", "指标编号", "指标名称", "单位名称", "状态", "连续轮数", "单位", "起始轮次"]


def lag_streaks(frame: pd.DataFrame, round_name: str | None = None) -> pd.DataFrame:
    """For every row that lags (滞后, 未达标, 逾期), how many rounds in a row it has lagged.

    连续轮数 counts this round and the rounds just before it in which the same indicator
    and unit lagged; a round that is not merged, a unit that did not report and an
    indicator not yet in the master each end the run. 单位 is 月 when the run's rounds are
    consecutive months, else 轮; 起始轮次 is the first round of the run. ``round_name``
    keeps one round only (by default every round's lagging rows).
    """
    known = _rounds_of(frame)
    rounds = [name for name, _ in known]
    position = {name: i for i, name in enumerate(rounds)}
    cutoffs = {name: cut for name, cut in known if cut is not None}
    rows = _records(frame, ("轮次", "类别", "指标编号", "指标名称", "单位名称", "状态"))
    lagging = {(r["轮次"], r["指标编号"], r["单位名称"]) for r in rows if r["状态"] in LAGGING}
    records = []
    for row in rows:
        rnd = row["轮次"]
        if row["状态"] not in LAGGING or (round_name is not None and rnd != round_name):
            continue
        start = position[rnd]
        while start > 0 and (rounds[start - 1], row["指标编号"], row["单位名称"]) in lagging:
            start -= 1
        run = rounds[start:position[rnd] + 1]
        monthly = all(change_word(cutoffs[a], cutoffs[b]) == "上月" for a, b in pairwise(run))
        records.append([rnd, row["类别"], row["指标编号"], row["指标名称"], row["单位名称"], row["状态"], len(run),
                        "月" if monthly else "轮", run[0]])
    return _frame(records, _STREAK_COLUMNS, frame)


# -- plain records for the writers ----------------------------------------------------------


@dataclass(frozen=True)
class Trends:
    """What one round's report and summary say across rounds; keys as in results.csv."""

    round: str
    previous: str  # '' when the round before is not merged
    word: str  # 上月, 上轮, or '' without a previous round
    indicators: dict[tuple[str, str], Change]  # (指标编号, 单位名称) -> change of its 完成率 or rate
    categories: dict[str, Change]  # 类别 -> change of the average completion
    streaks: dict[tuple[str, str], Streak]  # (指标编号, 单位名称) -> run of lagging rounds


def trends(frame: pd.DataFrame, round_name: str) -> Trends:
    """The changes and lagging runs of ``round_name`` as records (see the DataFrame functions)."""
    prev, word = _previous(frame).get(round_name, ("", ""))
    indicators = {
        (r["指标编号"], r["单位名称"]): Change(round_name, prev, word, r["本轮值"], r["上轮值"])
        for r in _records(indicator_changes(frame, round_name)) if r["变化"] is not None
    }
    categories = {
        r["类别"]: Change(round_name, prev, word, r["平均完成率"], r["上轮平均完成率"])
        for r in _records(category_progress(frame, round_name)) if r["变化"] is not None
    }
    streaks = {
        (r["指标编号"], r["单位名称"]): Streak(r["指标编号"], r["单位名称"], int(r["连续轮数"]), r["单位"], r["起始轮次"])
        for r in _records(lag_streaks(frame, round_name))
    }
    if round_name not in set(frame["轮次"].astype(str)):
        log.info("轮次 %s 没有合并结果，无法计算跨轮次变化", round_name)
    return Trends(round_name, prev, word, indicators, categories, streaks)
