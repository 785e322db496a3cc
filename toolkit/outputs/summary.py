"""汇总表_<轮次>.xlsx: the summary leaders read."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from ..formatting import format_number
from ..model import STATUSES, TOTAL, ResultRow, Status
from ..standing import ATTENTION, Standing, UnitState
from .book import (
    _BLUE,
    _CELL,
    _CHART_COLOURS,
    _DEFAULT_ROW_PT,
    _LABEL,
    _LINE_PT,
    _NOTE,
    _TITLE,
    ACTION_COLOURS,
    FONT,
    MAX_CELL_TEXT,
    STATUS_COLOURS,
    SUBMIT_COLOURS,
    UNKNOWN_UNIT,
    _aligned_places,
    _base_text,
    _Book,
    _category_order,
    _Col,
    _date_text,
    _due,
    _file_name,
    _lines,
    _places,
    _print_setup,
    _remark,
    _Row,
    _Sheet,
    _target,
    _write_xlsx,
)

# -- 汇总表 -----------------------------------------------------------------------------

_GAP = "差距\n（百分点）"  # 完成率 less 序时进度 (增速: growth less target), in percentage points
_LAG_COLS = (
    _Col("类别", "wrap", 8, 14), _Col("任务编号", max_width=8), _Col("指标名称", "wrap", 12, 24),
    _Col("牵头单位", "wrap", 8, 14), _Col("计量单位", max_width=8), _Col("年度目标", "num"),
    _Col("本期完成", "num"), _Col("完成率", "pct", 8), _Col("序时进度", "pct", 8),
    _Col(_GAP, "pts", 8, lights="gap"), _Col("完成时限", "wrap", 6, 12), _Col("状态", "status", 8, colours=STATUS_COLOURS),
    _Col("存在问题", "wrap", 20, 34), _Col("备注", "wrap", 6, 16),
)
_CAT_COLS = (
    _Col("任务编号", max_width=8), _Col("指标名称", "wrap", 12, 22), _Col("牵头单位", "wrap", 8, 12),
    _Col("单位名称", "wrap", 8, 16), _Col("计量单位", max_width=8), _Col("年度目标", "num"),
    _Col("本期完成", "num"), _Col("完成率", "pct", 8), _Col("序时进度", "pct", 8),
    _Col(_GAP, "pts", 8, lights="gap"), _Col("同比", "pct"), _Col("状态", "status", 8, colours=STATUS_COLOURS),
    _Col("进展情况", "wrap", 16, 32), _Col("存在问题", "wrap", 14, 26), _Col("备注", "wrap", 6, 14),
)
_COMPLETION_COL = [c.title for c in _CAT_COLS].index("完成率")
_LAG_COMPLETION_COL = [c.title for c in _LAG_COLS].index("完成率")
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
        _ranking_sheet(book, result)
        _trend_sheet(book, result)
        by_category: dict[str, list[ResultRow]] = defaultdict(list)  # Standing.rows_in, in one pass
        for row in result.rows:
            by_category[row.category].append(row)
        for sheet, cat_title in _category_order(result):
            _summary_category_sheet(book, result, sheet, cat_title, by_category[sheet])

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
    added = [r for r in result.rows if not r.is_total and r.status is Status.TO_ADD]
    if result.registry_changes:
        text = f"任务台账在模板下发后修改了{len(result.registry_changes)}处，本表已按修改后的目标和名称计算"
        if added:
            text += f"；{len(added)}项新增指标待相关单位补报"
        points.append(("台账变更", text + "，明细见校验报告“任务台账”工作表。"))
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
    last = sh.table(top, cols, rows, header_height=30)
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
    chart_px = min(max(220, 100 + 18 * len(cats)), 340)  # a bar per category; the page must hold it all
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
    sh.table(share_top, share_cols, share_rows, fit=False)  # the columns stay as the table above set them
    most = max(counts_by_cat, default=0)
    _overview_charts(book, sh, cats, statuses, present, shares, most, top, share_top, chart_top,
                     table_px, chart_px)

    # Everything a leader reads first on one printed A4 landscape page: the text, the table
    # and the charts, shrunk to fit (the charts are sized so that the scale stays readable).
    _print_setup(ws, book, None, one_page=True)
    ws.print_area(0, 0, chart_top + chart_rows, last_col)
    ws.hide_gridlines(2)
    ws.activate()




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
    if rows:
        sh.completion_lights(2, last, _LAG_COMPLETION_COL, result.time_progress_shown)
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


def _summary_remark(row: ResultRow) -> str:
    """备注 of a category sheet: a 比率 row's count and base beside its rate (``1,816/2,124``),
    missing parts and late returns."""
    base, remark = _base_text(row), _remark(row)
    return f"{base}；{remark}" if base and remark else base or remark


def _summary_category_sheet(book: _Book, result: Standing, sheet: str, cat_title: str,
                            rows_here: list[ResultRow]) -> None:
    """One category: its headline rows, each 合计 with its units beneath (``rows_here``: the
    category's rows, :meth:`Standing.rows_in`)."""
    sh = book.sheet(sheet, stream=True)
    cols = _CAT_COLS
    sh.title(0, 0, len(cols) - 1, cat_title or sheet, {**_TITLE, "font_size": 13, "text_wrap": True},
             height=36)
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
    else:
        sh.completion_lights(2, last, _COMPLETION_COL, result.time_progress_shown)
    sh.ws.outline_settings(True, False, True, False)
    sh.fit_columns()
    sh.finish_list(1, last, len(cols) - 1, 2, sheet)




_RANK_COLS = (
    _Col("名次", "int", 5, 6), _Col("单位名称", min_width=12, max_width=24),
    _Col("报送情况", "status", 9, 12, colours=SUBMIT_COLOURS), _Col("收到时间", "datetime", 16),
    _Col("填报指标数", "int", 6, 8), _Col("滞后未达标\n逾期项数", "int", 8, 10),
    _Col("待更正\n数据项数", "int", 7, 8), _Col("需办理", "status", 8, 10, colours=ACTION_COLOURS),
)
_RANK_NOTE = ("说明：按报送情况（按时报送、逾期报送、空表或被退回、未报送）排序，同类单位按本单位滞后、未达标、"
              "逾期事项数由少到多，再按待更正数据项数由少到多排序；情况相同的单位名次并列，按报送时间先后列出。")


def _ranking_sheet(book: _Book, result: Standing) -> None:
    """单位排名: every unit that reports this round, as an office circulates it (报送及推进情况)."""
    sh = book.sheet("单位排名")
    cols = _RANK_COLS
    sh.title(0, 0, len(cols) - 1, f"各单位报送及推进情况排名（{result.round.name}）")
    rows = []
    for rank, u in result.ranking():
        sub = u.chosen.submission if u.chosen is not None and u.state.reported else None
        rows.append(_Row([rank, u.name, str(u.state), sub.received if sub else None, u.rows,
                          u.lagging, u.pending_rows, str(u.action)]))
    last = sh.table(1, cols, rows)
    sh.ws.merge_range(last + 1, 0, last + 1, len(cols) - 1, "", book.fmt(_NOTE, text_wrap=True))
    sh.text(last + 1, 0, _RANK_NOTE, _NOTE, text_wrap=True)
    sh.set_height(last + 1, 30)
    sh.fit_columns()
    sh.finish_list(1, last, len(cols) - 1, 2, "单位排名")


def _trend_sheet(book: _Book, result: Standing) -> None:
    """趋势: each category's average completion (累计 indicators) round by round against 序时进度,
    with a native line chart; the year at a glance."""
    sh = book.sheet("趋势")
    history = result.history
    rounds = history.rounds() if history is not None else []
    cats = [sheet for sheet, _ in _category_order(result)]
    cols = [_Col("类别", min_width=12, max_width=30)] + [_Col(r, "pct", 9, 11) for r in rounds]
    sh.title(0, 0, max(len(cols) - 1, 1), f"各类别累计类指标平均完成率（%）逐轮变化（截至{result.round.name}）")
    if history is None or not rounds:
        sh.text(2, 0, "暂无往期合并结果，无法显示逐轮变化。", _NOTE)
        _print_setup(sh.ws, book, None, one_page=True)
        return
    value = {(c.round, c.category): c for c in history.categories}
    rows = []
    for cat in cats:
        rows.append(_Row([cat, *(value[(r, cat)].average if (r, cat) in value else None for r in rounds)], places=2))
    progress = [next((c.time_progress for c in history.of(r) if c.time_progress is not None), None) for r in rounds]
    rows.append(_Row(["序时进度", *progress], places=2, bold=True, shade=True))
    last = sh.table(1, cols, rows)
    sh.fit_columns()
    note = last + 1
    sh.ws.merge_range(note, 0, note, max(len(cols) - 1, 1), "", book.fmt(_NOTE, text_wrap=True))
    left_out = "；".join(f"{c.round}{c.category}{c.unsettled}项" for c in history.categories if c.unsettled)
    sh.text(note, 0, "说明：平均完成率为本类别累计类指标完成率的平均数（每项最多计100%），"
                     "尚未报齐（有单位未报送、待更正或待补报）的合计项不计入"
                     + (f"（{left_out}）" if left_out else "") + "；序时进度为各轮统计截止日期的时间进度。",
            _NOTE, text_wrap=True)
    sh.set_height(note, 30 + 15 * (len(left_out) // 50 + 1 if left_out else 0))
    if len(rounds) > 1:
        chart = book.wb.add_chart({"type": "line"})
        name = sh.name
        for i, cat in enumerate(cats + ["序时进度"]):
            r = 2 + i
            series = {"name": [name, r, 0], "categories": [name, 1, 1, 1, len(rounds)],
                      "values": [name, r, 1, r, len(rounds)], "marker": {"type": "circle", "size": 5}}
            if cat == "序时进度":
                series["line"] = {"color": "#404040", "dash_type": "dash", "width": 2}
            chart.add_series(series)
        font = {"name": FONT, "size": 9}
        chart.set_title({"name": "各类别平均完成率逐轮变化", "name_font": {"name": FONT, "size": 12, "bold": True}})
        chart.set_y_axis({"name": "%", "num_font": font, "min": 0, "max": 100, "major_unit": 20,
                          "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
        chart.set_x_axis({"num_font": font})
        chart.set_legend({"position": "right", "font": font})
        chart.set_size({"width": 860, "height": 340})
        sh.ws.insert_chart(note + 2, 0, chart, {"object_position": 3})
    sh.ws.freeze_panes(2, 1)
    _print_setup(sh.ws, book, 1, "趋势", one_page=True)
