"""Build the bundled sample workspace's master workbook from readable CSV files.

The sample (三门峡, 2021, the report in ``shared/seed``) is kept as UTF-8 CSV files in
``workbooks/source/`` so that a change to it is a reviewable diff; this script turns
them into ``workbooks/master.xlsx`` following DESIGN.md, "The master workbook
(contract)":

* ``设置.csv``, ``单位.csv``, ``轮次.csv``, ``目标分解.csv`` become the sheets of the
  same names (dates as real Excel dates, targets as numbers);
* ``类别.csv`` lists the category sheets in order with their full titles, and
  ``指标.csv`` their rows. A task's fields (任务编号, 重点工作, 牵头单位, 配合单位) are
  repeated on every CSV row but written, as a clerk would, only on the task's first
  row: merged down over the task's rows in every other category sheet (一、三、五…),
  left blank below in the others, so both layouts the toolkit must read are present;
* ``demo_returns.csv`` (what each unit reports in the demo) is not part of the
  master; it is checked here against the registry so the demo cannot drift.

Usage::

    python scripts/build_sample.py            # rebuild workbooks/master.xlsx
    python scripts/build_sample.py --check    # exit 1 if master.xlsx differs from the CSVs

Exit codes: 0 done (or up to date); 1 ``--check`` found differences; 2 the CSV files
are inconsistent (every problem is listed) or a file is missing.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import xlsxwriter

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "workbooks" / "source"
MASTER = ROOT / "workbooks" / "master.xlsx"

KINDS = ("累计", "比率", "上限", "下限", "增速", "节点")
NODE_STATES = ("已完成", "推进中", "未启动")
NEEDS_TARGET = ("累计", "上限", "下限", "增速")
SPECIAL_SHEETS = ("说明", "设置", "单位", "轮次", "目标分解")
SETTING_KEYS = ("发文单位", "报告标题", "年度", "序时口径", "滞后容差")
NUMERIC_SETTINGS = ("年度", "滞后容差")
CATEGORY_COLUMNS = (
    "任务编号", "重点工作", "牵头单位", "配合单位", "指标编号", "指标名称", "指标类型", "计量单位",
    "年度目标", "完成时限", "填报单位", "小数位数", "表述模板",
)
TASK_FIELDS = ("任务编号", "重点工作", "牵头单位", "配合单位")
MERGED_TASK_FIELDS = ("任务编号", "重点工作", "牵头单位")
RETURN_COLUMNS = ("轮次", "单位名称", "指标编号", "本期完成", "基数", "上年同期", "完成状态",
                  "进展情况", "存在问题", "下步打算")
PLACEHOLDERS = (
    "指标名称", "单位名称", "本期完成", "计量单位", "年度目标", "完成率", "序时进度", "差距", "比率", "基数",
    "上年同期", "同比", "同比表述", "比较", "差距表述", "完成状态", "完成时限", "状态",
)
UNIT_SPLIT = re.compile(r"[、，,]")
PLACEHOLDER = re.compile(r"[{｛]([^{}｛｝]*)[}｝]")
BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
DUE_TEXT = re.compile(r"^(?:(?:20\d\d)年)?(?:(?:1[0-2]|[1-9])月(?:底|末|\d{1,2}日)|年底|年内)$")

COLUMN_WIDTHS = {
    "任务编号": 7, "重点工作": 26, "牵头单位": 14, "配合单位": 18, "指标编号": 8, "指标名称": 30,
    "指标类型": 7, "计量单位": 9, "年度目标": 9, "完成时限": 11, "填报单位": 20, "小数位数": 7,
    "表述模板": 44,
}
CREATED = datetime(2021, 3, 1)

README_LINES = (
    "三门峡市2021年《政府工作报告》重点工作任务台账（示例）",
    "本工作簿是督查室的任务台账，督查工具只读取、不修改它。每轮填报模板、汇总表和进展情况报告都依据本台账生成。",
    "“设置”：发文单位、报告标题、年度、序时口径（按月或按日）、滞后容差（百分点，0 表示不放宽）。",
    "“单位”：各单位的编号、名称、联系人、联系电话和邮箱。各类别表中的牵头单位、填报单位须与这里的单位名称完全一致。",
    "“轮次”：每轮的统计截止日期和报送截止日期，如 2021-04、2021-04-30、2021-05-08。",
    "“目标分解”：一个指标由几个单位分别填报时（如各县区的人工造林任务），各单位承担的年度目标。",
    "其余每个工作表是一个类别：第1行为类别标题，第2行为表头，第3行起每行一个指标。"
    "同一项重点工作有多个指标时，任务编号、重点工作、牵头单位、配合单位只填第一行（可合并单元格），下面各行自动沿用。",
    "指标类型只能是：累计、比率、上限、下限、增速、节点。填报单位不填时默认为牵头单位，多个单位用“、”分隔。",
    "小数位数是百分比保留的位数（不填为2位）；"
    "表述模板可用 {本期完成}、{完成率}、{比率} 等占位符，不填则用默认表述。",
    "指标编号在全部类别中不能重复，一经下发模板请勿更改。",
    "说明：本示例由 scripts/build_sample.py 根据 workbooks/source/ 下的 CSV 文件生成；"
    "修改示例请改 CSV 后重新生成。",
)


class SourceError(Exception):
    """The CSV sources cannot be read (a file or a column is missing)."""


@dataclass
class Sources:
    settings: list[dict[str, str]]
    units: list[dict[str, str]]
    rounds: list[dict[str, str]]
    categories: list[dict[str, str]]
    indicators: list[dict[str, str]]
    splits: list[dict[str, str]]
    returns: list[dict[str, str]]

    def reporters(self, row: dict[str, str]) -> list[str]:
        """The units that report one indicator row (填报单位, else 牵头单位)."""
        return [u.strip() for u in UNIT_SPLIT.split(row["填报单位"] or row["牵头单位"]) if u.strip()]


# -- reading ---------------------------------------------------------------------------------


def read_csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a UTF-8 CSV file (BOM or not) as dicts of stripped strings."""
    if not path.exists():
        raise SourceError(f"缺少文件 {path}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise SourceError(f"{path.name} 缺少列：{'、'.join(missing)}")
        rows = []
        for row in reader:
            if None in row:
                raise SourceError(f"{path.name} 第{reader.line_num}行的列数多于表头")
            clean = {k: (v or "").strip() for k, v in row.items()}
            if any(clean.values()):
                rows.append(clean)
        return rows


def load_sources(source_dir: Path = SOURCE_DIR) -> Sources:
    return Sources(
        settings=read_csv(source_dir / "设置.csv", ("项目", "值")),
        units=read_csv(source_dir / "单位.csv", ("单位编号", "单位名称", "联系人", "联系电话", "邮箱")),
        rounds=read_csv(source_dir / "轮次.csv", ("轮次", "统计截止日期", "报送截止日期")),
        categories=read_csv(source_dir / "类别.csv", ("工作表", "标题")),
        indicators=read_csv(source_dir / "指标.csv", ("工作表", *CATEGORY_COLUMNS)),
        splits=read_csv(source_dir / "目标分解.csv", ("指标编号", "单位名称", "年度目标")),
        returns=read_csv(source_dir / "demo_returns.csv", RETURN_COLUMNS),
    )


def number(text: str) -> int | float:
    """A CSV number as written: ``140`` → 140, ``910.7`` → 910.7."""
    value = Decimal(text)
    if value == value.to_integral_value() and "." not in text:
        return int(value)
    return float(text)


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _date(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return None


# -- checking the sources --------------------------------------------------------------------


def problems(src: Sources) -> list[str]:
    """Every inconsistency in the CSV sources, as Chinese messages (empty when all is well)."""
    out: list[str] = []
    settings = {r["项目"]: r["值"] for r in src.settings}
    out += [f"设置.csv 缺少项目“{k}”" for k in SETTING_KEYS if not settings.get(k)]
    out += [f"设置.csv 项目“{k}”应为数字" for k in NUMERIC_SETTINGS
            if settings.get(k) and _decimal(settings[k]) is None]

    _unique(out, "单位.csv", "单位编号", [r["单位编号"] for r in src.units])
    names = _unique(out, "单位.csv", "单位名称", [r["单位名称"] for r in src.units])

    rounds = _unique(out, "轮次.csv", "轮次", [r["轮次"] for r in src.rounds])
    for r in src.rounds:
        cutoff, deadline = _date(r["统计截止日期"]), _date(r["报送截止日期"])
        if cutoff is None or deadline is None:
            out.append(f"轮次.csv 轮次 {r['轮次']} 的日期应写成 2021-04-30 的形式")
        elif deadline < cutoff:
            out.append(f"轮次.csv 轮次 {r['轮次']} 的报送截止日期早于统计截止日期")

    sheets = _unique(out, "类别.csv", "工作表", [r["工作表"] for r in src.categories])
    for r in src.categories:
        sheet = r["工作表"]
        bad_name = BAD_SHEET_CHARS.search(sheet) or sheet in SPECIAL_SHEETS or sheet.startswith("_")
        if len(sheet) > 31 or bad_name:
            out.append(f"类别.csv 工作表名“{sheet}”不可用"
                       "（最多31个字符，不能含 []:*?/\\，不能与特殊工作表同名）")
        if not r["标题"]:
            out.append(f"类别.csv 工作表“{sheet}”缺少标题")

    by_code: dict[str, dict[str, str]] = {}
    _unique(out, "指标.csv", "指标编号", [r["指标编号"] for r in src.indicators])
    for r in src.indicators:
        by_code.setdefault(r["指标编号"], r)
        out += _indicator_problems(r, src, sheets, names)
    out += _task_problems(src)

    out += _split_problems(src, by_code, names)
    out += _return_problems(src, by_code, names, rounds)
    return out


def _unique(out: list[str], file: str, column: str, values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if not value:
            out.append(f"{file} 有一行的{column}为空")
        elif value in seen:
            out.append(f"{file} {column}“{value}”重复")
        seen.add(value)
    return values


def _indicator_problems(r: dict[str, str], src: Sources, sheets: list[str], names: list[str]) -> list[str]:
    code = r["指标编号"]
    where = f"指标.csv 指标 {code}"
    out: list[str] = []
    if r["工作表"] not in sheets:
        out.append(f"{where} 的工作表“{r['工作表']}”不在类别.csv 中")
    else:
        number_of_sheet = sheets.index(r["工作表"]) + 1
        if not r["任务编号"].startswith(f"{number_of_sheet}-") or not code.startswith(f"{r['任务编号']}-"):
            out.append(f"{where} 应编为“类别-任务-指标”"
                       f"（任务编号 {r['任务编号']}，第{number_of_sheet}个类别）")
    if not re.fullmatch(r"\d+-\d+-\d+", code):
        out.append(f"{where} 编号应形如 1-1-1")
    for col in ("任务编号", "重点工作", "牵头单位", "指标名称"):
        if not r[col]:
            out.append(f"{where} 缺少{col}")
    kind = r["指标类型"]
    if kind not in KINDS:
        out.append(f"{where} 指标类型“{kind}”无效，应为 {'、'.join(KINDS)} 之一")
    target = r["年度目标"]
    if target and _decimal(target) is None:
        out.append(f"{where} 年度目标“{target}”不是数字")
    split = any(s["指标编号"] == code for s in src.splits)
    if kind in NEEDS_TARGET and not target and not split:
        out.append(f"{where} 是{kind}类指标，缺少年度目标")
    if kind == "节点":
        if not r["完成时限"]:
            out.append(f"{where} 是节点类指标，缺少完成时限")
        if target or r["计量单位"]:
            out.append(f"{where} 是节点类指标，不应有年度目标或计量单位")
    if r["完成时限"] and not DUE_TEXT.match(r["完成时限"]):
        out.append(f"{where} 完成时限“{r['完成时限']}”应写成“6月底”“2021年8月底”“年底”之类")
    if kind == "比率" and r["计量单位"] != "%":
        out.append(f"{where} 是比率类指标，计量单位应为 %")
    if r["小数位数"] and not (r["小数位数"].isdigit() and 0 <= int(r["小数位数"]) <= 6):
        out.append(f"{where} 小数位数“{r['小数位数']}”应为 0 到 6 的整数")
    for unit in [r["牵头单位"], *src.reporters(r)]:
        if unit and unit not in names:
            out.append(f"{where} 的单位“{unit}”不在单位.csv 中")
    for name in PLACEHOLDER.findall(r["表述模板"]):
        if name.strip() not in PLACEHOLDERS:
            out.append(f"{where} 表述模板中的占位符 {{{name}}} 无法识别")
    return out


def _task_problems(src: Sources) -> list[str]:
    """A task's rows are consecutive within one sheet and agree on the task fields."""
    out: list[str] = []
    finished: set[tuple[str, str]] = set()
    previous: dict[str, str] | None = None
    for r in src.indicators:
        key = (r["工作表"], r["任务编号"])
        same = previous is not None and (previous["工作表"], previous["任务编号"]) == key
        if same:
            for field in TASK_FIELDS[1:]:
                if r[field] != previous[field]:
                    out.append(f"指标.csv 指标 {r['指标编号']} 的{field}与同一任务 {key[1]} 的第一行不同")
        else:
            if key in finished:
                out.append(f"指标.csv 任务 {key[1]} 的各行应连续排列（指标 {r['指标编号']}）")
            if previous is not None:
                finished.add((previous["工作表"], previous["任务编号"]))
        previous = r
    return out


def _split_problems(src: Sources, by_code: dict[str, dict[str, str]], names: list[str]) -> list[str]:
    out: list[str] = []
    sums: dict[str, Decimal] = {}
    seen: set[tuple[str, str]] = set()
    for s in src.splits:
        code, unit = s["指标编号"], s["单位名称"]
        where = f"目标分解.csv 指标 {code} 单位 {unit}"
        row = by_code.get(code)
        if row is None:
            out.append(f"{where}：指标编号不在指标.csv 中")
            continue
        if unit not in names:
            out.append(f"{where}：单位不在单位.csv 中")
        elif unit not in src.reporters(row):
            out.append(f"{where}：该单位不是这个指标的填报单位")
        if (code, unit) in seen:
            out.append(f"{where}：重复")
        seen.add((code, unit))
        value = _decimal(s["年度目标"])
        if value is None:
            out.append(f"{where}：年度目标不是数字")
        else:
            sums[code] = sums.get(code, Decimal(0)) + value
    for code, total in sums.items():
        target = _decimal(by_code[code]["年度目标"]) if code in by_code else None
        if target is not None and total != target:
            out.append(f"目标分解.csv 指标 {code} 各单位目标之和 {total} 与年度目标 {target} 不一致")
    return out


def _return_problems(src: Sources, by_code: dict[str, dict[str, str]], names: list[str],
                     rounds: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for r in src.returns:
        key = (r["轮次"], r["单位名称"], r["指标编号"])
        where = "demo_returns.csv " + " ".join(key)
        row = by_code.get(r["指标编号"])
        if r["轮次"] not in rounds:
            out.append(f"{where}：轮次不在轮次.csv 中")
        if r["单位名称"] not in names:
            out.append(f"{where}：单位不在单位.csv 中")
        if row is None:
            out.append(f"{where}：指标编号不在指标.csv 中")
            continue
        if r["单位名称"] not in src.reporters(row):
            out.append(f"{where}：该单位不是这个指标的填报单位")
        if key in seen:
            out.append(f"{where}：重复")
        seen.add(key)
        for col in ("本期完成", "基数", "上年同期"):
            if r[col] and _decimal(r[col]) is None:
                out.append(f"{where}：{col}“{r[col]}”不是数字")
        if row["指标类型"] == "节点":
            if r["完成状态"] not in NODE_STATES:
                out.append(f"{where}：节点类指标的完成状态应为 {'、'.join(NODE_STATES)} 之一")
            if r["本期完成"]:
                out.append(f"{where}：节点类指标不填本期完成")
        else:
            if not r["本期完成"]:
                out.append(f"{where}：缺少本期完成")
            if r["完成状态"]:
                out.append(f"{where}：只有节点类指标填完成状态")
            if row["指标类型"] == "比率" and not r["基数"]:
                out.append(f"{where}：比率类指标缺少基数")
    # each round in the demo is complete: every indicator from every unit that reports it
    for rnd in sorted({r["轮次"] for r in src.returns}):
        for row in src.indicators:
            for unit in src.reporters(row):
                if (rnd, unit, row["指标编号"]) not in seen:
                    out.append(f"demo_returns.csv 轮次 {rnd} 缺少 {unit} 的指标 {row['指标编号']}")
    return out


# -- writing the workbook --------------------------------------------------------------------


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook):
        base = {"font_name": "宋体", "font_size": 11, "valign": "vcenter"}
        boxed = {**base, "border": 1, "text_wrap": True}
        self.title = book.add_format({**base, "bold": True, "font_size": 14, "text_wrap": True})
        self.note = book.add_format({**base, "text_wrap": True})
        self.header = book.add_format({**boxed, "bold": True, "align": "center", "bg_color": "#DDEBF7"})
        self.text = book.add_format(boxed)
        self.center = book.add_format({**boxed, "align": "center"})
        self.number = book.add_format({**boxed, "num_format": "General"})
        self.integer = book.add_format({**boxed, "align": "center", "num_format": "0"})
        self.date = book.add_format({**boxed, "align": "center", "num_format": "yyyy-mm-dd"})


def build(src: Sources, out_path: Path) -> None:
    """Write the master workbook for ``src`` to ``out_path`` (same content every time)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(out_path), {
        "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False,
    })
    settings = {r["项目"]: r["值"] for r in src.settings}
    book.set_properties({
        "title": f"{settings.get('年度', '')}年{settings.get('报告标题', '')}任务台账",
        "author": settings.get("发文单位", ""),
        "company": settings.get("发文单位", ""),
        "created": CREATED,
    })
    fmt = _Formats(book)
    _write_readme(book, fmt)
    _write_table(book, fmt, "设置", ("项目", "值"), src.settings, (14, 48), numeric=(),
                 numeric_rows={"值": NUMERIC_SETTINGS})
    _write_table(book, fmt, "单位", ("单位编号", "单位名称", "联系人", "联系电话", "邮箱"), src.units,
                 (10, 24, 10, 15, 26))
    _write_table(book, fmt, "轮次", ("轮次", "统计截止日期", "报送截止日期"), src.rounds, (10, 15, 15),
                 dates=("统计截止日期", "报送截止日期"))
    _write_table(book, fmt, "目标分解", ("指标编号", "单位名称", "年度目标"), src.splits, (10, 24, 12),
                 numeric=("年度目标",))
    for index, cat in enumerate(src.categories):
        rows = [r for r in src.indicators if r["工作表"] == cat["工作表"]]
        _write_category(book, fmt, cat["工作表"], cat["标题"], rows, merge_tasks=index % 2 == 0)
    book.close()


def _write_readme(book: xlsxwriter.Workbook, fmt: _Formats) -> None:
    ws = book.add_worksheet("说明")
    ws.set_column(0, 0, 66)
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.write_string(0, 0, README_LINES[0], fmt.title)
    ws.set_row(0, 24)
    for i, line in enumerate(README_LINES[1:], start=2):
        ws.write_string(i, 0, line, fmt.note)
        ws.set_row(i, row_height(_lines(line, 66)))
    ws.activate()


def _write_table(book: xlsxwriter.Workbook, fmt: _Formats, name: str, columns: tuple[str, ...],
                 rows: list[dict[str, str]], widths: tuple[int, ...], *, numeric: tuple[str, ...] = (),
                 dates: tuple[str, ...] = (), numeric_rows: dict[str, tuple[str, ...]] | None = None) -> None:
    """A plain table: header in row 1, one record per row. ``numeric_rows`` maps a column to
    the first-column keys whose value there is a number (设置: 年度, 滞后容差)."""
    ws = book.add_worksheet(name)
    for col, (title, width) in enumerate(zip(columns, widths, strict=True)):
        ws.set_column(col, col, width)
        ws.write_string(0, col, title, fmt.header)
    for r, row in enumerate(rows, start=1):
        for col, title in enumerate(columns):
            value = row[title]
            as_number = title in numeric or row[columns[0]] in (numeric_rows or {}).get(title, ())
            if not value:
                ws.write_blank(r, col, None, fmt.text)
            elif title in dates:
                ws.write_datetime(r, col, datetime.strptime(value, "%Y-%m-%d"), fmt.date)
            elif as_number:
                ws.write_number(r, col, number(value), fmt.number)
            else:
                ws.write_string(r, col, value, fmt.text)
    ws.freeze_panes(1, 0)
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)


def _write_category(book: xlsxwriter.Workbook, fmt: _Formats, name: str, title: str,
                    rows: list[dict[str, str]], *, merge_tasks: bool) -> None:
    ws = book.add_worksheet(name)
    last_col = len(CATEGORY_COLUMNS) - 1
    for col, column in enumerate(CATEGORY_COLUMNS):
        ws.set_column(col, col, COLUMN_WIDTHS[column])
    ws.merge_range(0, 0, 0, last_col, "", fmt.title)
    ws.write_string(0, 0, title, fmt.title)
    ws.set_row(0, 30)
    for col, column in enumerate(CATEGORY_COLUMNS):
        ws.write_string(1, col, column, fmt.header)
    ws.set_row(1, 30)

    first_row = 2
    for task_rows in _tasks(rows):
        top, bottom = first_row, first_row + len(task_rows) - 1
        merged = merge_tasks and bottom > top
        lines = []  # text lines each row needs, its merged task cells aside
        for offset, row in enumerate(task_rows):
            r = top + offset
            needed = 1
            for col, column in enumerate(CATEGORY_COLUMNS):
                if column in TASK_FIELDS and offset > 0:
                    if not (merge_tasks and column in MERGED_TASK_FIELDS):
                        ws.write_blank(r, col, None, fmt.text)
                    continue
                _write_cell(ws, fmt, r, col, column, row[column])
                if not (merged and column in MERGED_TASK_FIELDS):
                    needed = max(needed, _lines(row[column], COLUMN_WIDTHS[column]))
            lines.append(needed)
        if merged:
            for column in MERGED_TASK_FIELDS:
                col = CATEGORY_COLUMNS.index(column)
                fmt_cell = fmt.center if column == "任务编号" else fmt.text
                ws.merge_range(top, col, bottom, col, "", fmt_cell)
                ws.write_string(top, col, task_rows[0][column], fmt_cell)
            # a merged cell's text spreads over the task's rows: share out what they lack
            span = max(_lines(task_rows[0][c], COLUMN_WIDTHS[c]) for c in MERGED_TASK_FIELDS)
            while sum(lines) < span:
                lines[lines.index(min(lines))] += 1
        for offset, needed in enumerate(lines):
            ws.set_row(top + offset, row_height(needed))
        first_row = bottom + 1

    last_row = max(first_row - 1, 2)
    kind_col = CATEGORY_COLUMNS.index("指标类型")
    ws.data_validation(2, kind_col, 999, kind_col, {
        "validate": "list", "source": list(KINDS),
        "error_title": "指标类型", "error_message": "指标类型只能是：" + "、".join(KINDS),
    })
    decimals_col = CATEGORY_COLUMNS.index("小数位数")
    ws.data_validation(2, decimals_col, 999, decimals_col, {
        "validate": "integer", "criteria": "between", "minimum": 0, "maximum": 6,
        "ignore_blank": True, "error_title": "小数位数", "error_message": "小数位数应为 0 到 6 的整数",
    })
    ws.freeze_panes(2, 0)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(1)
    ws.print_area(0, 0, last_row, last_col)


def _write_cell(ws, fmt: _Formats, r: int, col: int, column: str, value: str) -> None:
    if not value:
        ws.write_blank(r, col, None, fmt.text)
    elif column == "年度目标":
        ws.write_number(r, col, number(value), fmt.number)
    elif column == "小数位数":
        ws.write_number(r, col, int(value), fmt.integer)
    elif column in ("任务编号", "指标编号", "指标类型", "计量单位", "完成时限"):
        ws.write_string(r, col, value, fmt.center)
    else:
        ws.write_string(r, col, value, fmt.text)


def _lines(text: str, width: int) -> int:
    """Lines a wrapped cell needs in a column ``width`` characters wide (CJK counts double).

    xlsxwriter cannot autofit row heights and LibreOffice does not recompute them for
    wrapped text, so heights are estimated here and written explicitly."""
    if not text:
        return 1
    units = sum(22 if ord(ch) >= 0x2E80 else 11 for ch in text)  # tenths; a little generous
    return max(1, -(-units // (10 * max(width - 1, 1))))


def row_height(lines: int) -> float:
    """Row height in points for ``lines`` lines of 11-point text."""
    return max(20.0, 14.5 * lines + 4)


def _tasks(rows: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    """Consecutive rows sharing a 任务编号."""
    groups: list[list[dict[str, str]]] = []
    for row in rows:
        if groups and groups[-1][0]["任务编号"] == row["任务编号"]:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


# -- comparing workbooks by content ----------------------------------------------------------


def workbook_content(path: Path) -> dict[str, tuple[dict[tuple[int, int], object], set[str]]]:
    """Sheet name → (non-empty cell values by (row, col), merged ranges), in sheet order."""
    from openpyxl import load_workbook

    book = load_workbook(path)
    try:
        content = {}
        for ws in book.worksheets:
            cells = {(c.row, c.column): c.value for row in ws.iter_rows() for c in row
                     if c.value is not None and c.value != ""}
            content[ws.title] = (cells, {str(m) for m in ws.merged_cells.ranges})
        return content
    finally:
        book.close()


def compare(expected: Path, actual: Path, limit: int = 20) -> list[str]:
    """Differences in sheets, cell values and merged ranges (empty when equal)."""
    want, got = workbook_content(expected), workbook_content(actual)
    out: list[str] = []
    if list(want) != list(got):
        out.append(f"工作表不同：应为 {'、'.join(want)}，实际为 {'、'.join(got)}")
    for sheet in want:
        if sheet not in got:
            continue
        (want_cells, want_merged), (got_cells, got_merged) = want[sheet], got[sheet]
        for key in sorted(set(want_cells) | set(got_cells)):
            a, b = want_cells.get(key), got_cells.get(key)
            if a != b:
                out.append(f"工作表“{sheet}”第{key[0]}行第{key[1]}列：应为 {a!r}，实际为 {b!r}")
        if want_merged != got_merged:
            out.append(f"工作表“{sheet}”合并单元格不同："
                       f"应为 {sorted(want_merged)}，实际为 {sorted(got_merged)}")
    if len(out) > limit:
        out = [*out[:limit], f"……另有 {len(out) - limit} 处不同"]
    return out


# -- command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="根据 workbooks/source/ 下的 CSV 文件生成示例任务台账 master.xlsx")
    parser.add_argument("--check", action="store_true",
                        help="只检查 master.xlsx 是否与 CSV 一致，不一致时退出码为 1")
    parser.add_argument("--source", type=Path, default=SOURCE_DIR, help="CSV 文件所在文件夹")
    parser.add_argument("--out", type=Path, default=MASTER, help="生成（或检查）的工作簿")
    args = parser.parse_args(argv)

    try:
        src = load_sources(args.source)
    except SourceError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    found = problems(src)
    if found:
        print(f"错误：示例数据有 {len(found)} 处问题：", file=sys.stderr)
        for line in found:
            print(f"  - {line}", file=sys.stderr)
        return 2

    if not args.check:
        build(src, args.out)
        print(f"已生成 {args.out}（{len(src.categories)} 个类别，{len(src.indicators)} 个指标）")
        return 0

    if not args.out.exists():
        print(f"{args.out} 不存在，请运行 python scripts/build_sample.py 生成", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "master.xlsx"
        build(src, fresh)
        diffs = compare(fresh, args.out)
    if diffs:
        print(f"{args.out} 与 CSV 不一致，请运行 python scripts/build_sample.py 重新生成：", file=sys.stderr)
        for line in diffs:
            print(f"  - {line}", file=sys.stderr)
        return 1
    print(f"{args.out} 与 CSV 一致")
    return 0


if __name__ == "__main__":
    sys.exit(main())
