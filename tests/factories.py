"""Test workbooks built in code (never committed binaries).

* :func:`make_master` writes a small but complete ``master.xlsx`` following the
  contract of DESIGN.md (说明, 设置, 单位, 轮次 with real dates, 目标分解, two category
  sheets: title in row 1, header in row 2, one indicator per row from row 3).
* :func:`make_workspace` puts it in a workspace with every round's folders.
* :func:`make_return` writes a department's template with the toolkit's own
  ``write_template`` and fills it with openpyxl the way a person would, then lets a
  test tamper with it.
* :func:`set_cached_error` gives a formula cell a cached error value by editing the
  saved sheet XML (openpyxl cannot write cached values).

The default master (indicator codes, sheets, template rows) is documented in
:data:`SHEET1`, :data:`SHEET2` and :data:`DEFAULT_INDICATORS`; tests refer to cells
through :func:`cell` so that nothing depends on a column letter typed by hand.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import xlsxwriter
from openpyxl.utils import get_column_letter

from toolkit.demo import template_sheets
from toolkit.model import Registry
from toolkit.registry import CATEGORY_COLUMNS, load_registry
from toolkit.templates import COLUMNS, GUIDE_SHEET, HEADER_ROW, INFO_ROW, META_SHEET, write_template
from toolkit.values import half_up
from toolkit.workspace import MASTER, Workspace

SHEET1 = "一、创新驱动"
SHEET2 = "二、经济发展"
TITLES = {
    SHEET1: "一、深入实施创新驱动发展战略，奋力打造郑洛西高质量发展合作带重要支撑区",
    SHEET2: "二、坚持稳中求进，推动经济高质量发展",
}
#: A row dict may name its category sheet with this key (default: the first sheet).
SHEET_KEY = "工作表"
#: When templates are written (meta 生成时间); fixed so files are reproducible.
TEMPLATE_TIME = datetime(2021, 4, 26, 9, 0)

DEFAULT_UNITS = [
    ("D01", "市科技局"),
    ("D02", "市发展改革委"),
    ("D03", "灵宝市人民政府"),
    ("D04", "卢氏县人民政府"),
]
DEFAULT_ROUNDS = [
    ("2021-03", date(2021, 3, 31), date(2021, 4, 8)),
    ("2021-04", date(2021, 4, 30), date(2021, 5, 8)),
]
DEFAULT_SPLITS = [
    ("2-3-1", "灵宝市人民政府", 8.5),
    ("2-3-1", "卢氏县人民政府", 9.2),
]
DEFAULT_SETTINGS = {
    "发文单位": "三门峡市政府督查室",
    "报告标题": "《市政府工作报告》重点工作进展情况报告",
    "年度": 2021,
    "序时口径": "按月",
    "滞后容差": 0,
}


def indicator_row(sheet: str, task_no: str, task: str, lead: str, code: str, name: str, kind: str, unit: str,
         target: object, *, due: str = "", reporters: str = "", co: str = "", decimals: object = 2,
         phrase: str = "") -> dict[str, object]:
    return {
        SHEET_KEY: sheet, "任务编号": task_no, "重点工作": task, "牵头单位": lead, "配合单位": co,
        "指标编号": code, "指标名称": name, "指标类型": kind, "计量单位": unit, "年度目标": target,
        "完成时限": due, "填报单位": reporters, "小数位数": decimals, "表述模板": phrase,
    }


#: Every indicator type. Template rows (data from row 4, registry order):
#: 市科技局 in SHEET1: 4 = 1-1-1 累计 家, 5 = 1-1-2 累计 万元, 6 = 1-2-1 节点 6月底, 7 = 1-2-2 节点 3月底;
#: 市发展改革委 in SHEET2: 4 = 2-1-1 比率, 5 = 2-1-2 上限 %, 6 = 2-1-3 下限 %, 7 = 2-2-1 增速 %;
#: 灵宝市人民政府 / 卢氏县人民政府 in SHEET2: 4 = 2-3-1 累计 万亩 (目标分解 8.5 + 9.2 = 17.7).
DEFAULT_INDICATORS: list[dict[str, object]] = [
    indicator_row(SHEET1, "1-1", "实施创新型企业培育工程，壮大创新主体", "市科技局", "1-1-1", "科技型中小企业备案",
         "累计", "家", 140, co="市发展改革委", phrase="科技型中小企业已备案{本期完成}家，完成全年目标任务的{完成率}%"),
    indicator_row(SHEET1, "", "", "", "1-1-2", "全社会研发经费投入", "累计", "万元", 50000),
    indicator_row(SHEET1, "1-2", "加快建设区域协同创新中心", "市科技局", "1-2-1", "印发协同创新中心实施意见", "节点", "", None,
         due="6月底"),
    indicator_row(SHEET1, "", "", "", "1-2-2", "召开创新大会", "节点", "", None, due="3月底"),
    indicator_row(SHEET2, "2-1", "深化“放管服”改革，优化营商环境", "市发展改革委", "2-1-1", "审批事项办结率", "比率", "%", 95),
    indicator_row(SHEET2, "2-2", "稳定和扩大就业", "市发展改革委", "2-1-2", "失业率", "上限", "%", 4.5),
    indicator_row(SHEET2, "", "", "", "2-1-3", "覆盖率", "下限", "%", 94),
    indicator_row(SHEET2, "2-3", "推动工业稳定增长", "市发展改革委", "2-2-1", "工业增加值增速", "增速", "%", 7.5,
         decimals=1),
    indicator_row(SHEET2, "2-4", "推进国土绿化", "灵宝市人民政府", "2-3-1", "人工造林", "累计", "万亩", 17.7,
         reporters="灵宝市人民政府、卢氏县人民政府", co="卢氏县人民政府", decimals=1),
]


def _as_date(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(str(value))


def _unit_rows(units: Iterable[object]) -> list[list[object]]:
    rows = []
    for i, unit in enumerate(units, start=1):
        if isinstance(unit, str):
            unit = (f"D{i:02d}", unit)
        if isinstance(unit, Mapping):
            rows.append([unit.get("单位编号", f"D{i:02d}"), unit["单位名称"], unit.get("联系人", ""),
                         unit.get("联系电话", ""), unit.get("邮箱", "")])
        else:
            code, name, *rest = unit
            rest = list(rest) + ["", "", ""]
            contact = rest[0] or f"联系人{i}"
            phone = rest[1] or f"0398-28123{i:02d}"
            email = rest[2] or f"d{i:02d}@example.gov.cn"
            rows.append([code, name, contact, phone, email])
    return rows


def master_spec(*, indicators=None, units=None, rounds=None, splits=None, settings=None) -> dict[str, list[list]]:
    """The master workbook as {sheet name: rows}, every row a list of cell values, in sheet order."""
    if indicators is None:
        indicators = DEFAULT_INDICATORS
        if splits is None:
            splits = DEFAULT_SPLITS
    units = DEFAULT_UNITS if units is None else units
    rounds = DEFAULT_ROUNDS if rounds is None else rounds
    splits = [] if splits is None else splits
    merged_settings = {**DEFAULT_SETTINGS, **(settings or {})}

    spec: dict[str, list[list]] = {
        "说明": [["任务台账（测试用）"], [], ["本工作簿由 tests/factories.py 生成。"]],
        "设置": [["项目", "值"], *([k, v] for k, v in merged_settings.items() if v is not None)],
        "单位": [["单位编号", "单位名称", "联系人", "联系电话", "邮箱"], *_unit_rows(units)],
        "轮次": [["轮次", "统计截止日期", "报送截止日期"],
                 *([name, _as_date(cut), _as_date(dead)] for name, cut, dead in rounds)],
    }
    if splits:
        spec["目标分解"] = [["指标编号", "单位名称", "年度目标"], *(list(s) for s in splits)]
    sheets: dict[str, list[dict]] = {}
    first = next(iter(TITLES))
    for row in indicators:
        sheets.setdefault(str(row.get(SHEET_KEY) or first), []).append(dict(row))
    for sheet, rows in sheets.items():
        title = TITLES.get(sheet, sheet)
        spec[sheet] = [[title], list(CATEGORY_COLUMNS),
                       *([row.get(col) for col in CATEGORY_COLUMNS] for row in rows)]
    return spec


def make_master(tmp_path: Path, *, indicators: list[dict] | None = None, units=None, rounds=None, splits=None,
                settings: dict | None = None, mutate: Callable[[dict[str, list[list]]], None] | None = None,
                name: str = MASTER) -> Path:
    """Write ``tmp_path/master.xlsx`` with xlsxwriter and return its path.

    ``units``: (code, name[, contact, phone, email]) tuples, dicts or bare names;
    ``rounds``: (name, cutoff, deadline) with dates or ISO texts;
    ``splits``: (指标编号, 单位名称, 年度目标) rows for 目标分解;
    ``settings``: overrides for 设置 (a value of None drops the key);
    ``indicators``: rows as dicts keyed by the 13 column names (plus optional 工作表);
    ``mutate(spec)``: edits the {sheet: rows} spec in place before it is written,
    to break the master in a particular way.
    """
    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    spec = master_spec(indicators=indicators, units=units, rounds=rounds, splits=splits, settings=settings)
    if mutate is not None:
        mutate(spec)
    path = tmp_path / name
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    title_fmt = wb.add_format({"bold": True, "font_size": 14})
    for sheet_name, rows in spec.items():
        ws = wb.add_worksheet(sheet_name)
        category = sheet_name not in ("说明", "设置", "单位", "轮次", "目标分解")
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, (datetime, date)):
                    ws.write_datetime(r, c, _as_date(value), date_fmt)
                elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
                    ws.write_number(r, c, float(value))
                elif category and r == 0:
                    ws.write_string(r, c, str(value), title_fmt)
                else:
                    ws.write_string(r, c, str(value))
        ws.set_column(0, 14, 14)
    wb.close()
    return path


def make_workspace(tmp_path: Path, **kw) -> Workspace:
    """A workspace in ``tmp_path/ws``: master.xlsx plus every round's folders."""
    root = Path(tmp_path) / "ws"
    make_master(root, **kw)
    ws = Workspace(root)
    for rnd in ws.registry().rounds:
        ws.make_round_dirs(rnd.name)
    return ws


# ---------------------------------------------------------------------------------------
# returns


def column_letter(column: str) -> str:
    """The template's column letter of a named column (本期完成 → H)."""
    return get_column_letter(COLUMNS.index(column) + 1)


def cell(row: int, column: str) -> str:
    """A template cell reference: cell(4, '本期完成') → 'H4'."""
    return f"{column_letter(column)}{row}"


def default_values(kind: str, target: Decimal | None, name: str) -> dict[str, object]:
    """Sensible valid input for one template row of the given type."""
    values: dict[str, object] = {"进展情况": f"{name}工作按计划推进。"}
    t = target if target is not None else Decimal(0)
    if kind == "累计":
        values["本期完成"] = _number(half_up(t * Decimal("0.4"), 1))
    elif kind == "比率":
        values["本期完成"], values["基数"] = 90, 100
    elif kind == "上限":
        values["本期完成"] = _number(t - 1)
    elif kind == "下限":
        values["本期完成"] = _number(t + 1)
    elif kind == "增速":
        values["本期完成"] = _number(t + Decimal("0.3"))
    elif kind == "节点":
        values["完成状态"] = "推进中"
    return values


def _number(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


def _registry(ws_or_registry: Workspace | Registry) -> Registry:
    return ws_or_registry.registry() if isinstance(ws_or_registry, Workspace) else ws_or_registry


def fill_workbook(wb, values: Mapping[str, Mapping[str, object]] | None = None, *, contact: bool = True) -> None:
    """Type values into an openpyxl template: given ones as given (None blanks a cell), defaults elsewhere."""
    values = values or {}
    for ws, header_row, cols in template_sheets(wb):
        for row in range(header_row + 1, ws.max_row + 1):
            code = ws.cell(row, cols["指标编号"]).value
            if not code:
                continue
            code = str(code)
            target = ws.cell(row, cols["年度目标"]).value
            target_d = Decimal(repr(target)) if isinstance(target, (int, float)) else None
            typed = default_values(str(ws.cell(row, cols["指标类型"]).value), target_d,
                                   str(ws.cell(row, cols["指标名称"]).value))
            typed.update(values.get(code, {}))
            for column, value in typed.items():
                if column in cols:
                    ws.cell(row, cols[column]).value = value
        info_row = header_row - 1
        for col in range(1, ws.max_column + 1):
            label = ws.cell(info_row, col).value
            if label == "填报人":
                ws.cell(info_row, col + 1).value = "张明" if contact else None
            elif label == "联系电话":
                ws.cell(info_row, col + 1).value = "0398-2812345" if contact else None


def make_return(ws_or_registry: Workspace | Registry, tmp_path: Path, *, unit: str = "市科技局",
                round: str = "2021-04", values: Mapping[str, Mapping[str, object]] | None = None,
                contact: bool = True, name: str | None = None, edit: Callable[[object], None] | None = None) -> Path:
    """A department's filled return, saved as ``tmp_path/name``.

    The template comes from ``write_template`` (into the workspace's
    ``rounds/<轮次>/templates/``); ``values`` maps 指标编号 to {column: value} and wins
    over the defaults (None leaves a cell blank); ``edit(wb)`` tampers with the
    openpyxl workbook before it is saved. ``unit`` is a 单位名称 or 单位编号.
    """
    registry = _registry(ws_or_registry)
    rnd = registry.round(round)
    if rnd is None:
        raise KeyError(f"no round {round!r} in the master")
    unit_obj = registry.units.get(unit) or registry.unit_by_code(unit)
    if unit_obj is None:
        raise KeyError(f"no unit {unit!r} in the master")
    folder = registry.path.parent / "rounds" / rnd.name / "templates"
    template = write_template(registry, rnd, unit_obj, folder, now=TEMPLATE_TIME).path
    wb = openpyxl.load_workbook(template)
    fill_workbook(wb, values, contact=contact)
    if edit is not None:
        edit(wb)
    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    target = tmp_path / (name or f"{unit_obj.name}_{rnd.name}_报表.xlsx")
    wb.save(target)
    return target


def copy_as(path: Path, target: Path) -> Path:
    """An identical copy under another name (contents and bytes unchanged)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return target


# ---------------------------------------------------------------------------------------
# tampering helpers (openpyxl workbooks and saved files)


def sheet_part(path: Path, sheet_name: str) -> str:
    """The zip member holding a sheet's XML, found through workbook.xml and its rels."""
    with zipfile.ZipFile(path) as zf:
        workbook = zf.read("xl/workbook.xml").decode("utf-8")
        rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8")
    rid = None
    for match in re.finditer(r"<(?:\w+:)?sheet\b([^>]*)/?>", workbook):
        attrs = dict(re.findall(r'([\w:]+)="([^"]*)"', match.group(1)))
        if _unescape(attrs.get("name", "")) == sheet_name:
            rid = next(v for k, v in attrs.items() if k.endswith(":id"))
    if rid is None:
        raise KeyError(sheet_name)
    for match in re.finditer(r"<Relationship\b([^>]*)/?>", rels):
        attrs = dict(re.findall(r'([\w:]+)="([^"]*)"', match.group(1)))
        if attrs.get("Id") == rid:
            target = attrs["Target"]
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    raise KeyError(rid)


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")


def rewrite_member(path: Path, member: str, change: Callable[[str], str]) -> None:
    """Rewrite one XML member of a saved xlsx in place."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == member:
                data = change(data.decode("utf-8")).encode("utf-8")
            dst.writestr(info, data)
    tmp.replace(path)


def set_cached_value(path: Path, sheet_name: str, ref: str, value: object) -> None:
    """Give the formula cell ``ref`` a cached value, as Excel saves it (openpyxl writes none).

    A text starting with ``#`` is an error value (``#DIV/0!``); a number is a number.
    """
    member = sheet_part(path, sheet_name)
    kind = ' t="e"' if isinstance(value, str) and value.startswith("#") else ""
    if not kind and not isinstance(value, (int, float)):
        raise TypeError(value)

    def change(xml: str) -> str:
        pattern = re.compile(rf'<c r="{ref}"([^>]*?)(?:/>|>(.*?)</c>)', re.DOTALL)
        match = pattern.search(xml)
        if match is None:
            raise KeyError(ref)
        attrs = re.sub(r'\s+t="[^"]*"', "", match.group(1))
        formula = re.search(r"<f>(.*?)</f>", match.group(2) or "")
        body = (formula.group(0) if formula else "") + f"<v>{value}</v>"
        return xml[:match.start()] + f'<c r="{ref}"{attrs}{kind}>{body}</c>' + xml[match.end():]

    rewrite_member(path, member, change)


def set_cached_error(path: Path, sheet_name: str, ref: str, error: str = "#DIV/0!") -> None:
    """Give the formula cell ``ref`` a cached error value, as Excel saves ``=1/0``."""
    set_cached_value(path, sheet_name, ref, error)


def delete_meta(wb) -> None:
    """Remove the hidden ``_ducha`` sheet (a department rebuilt or copied the file)."""
    del wb[META_SHEET]


def set_meta(wb, key: str, value: str) -> None:
    """Change one key of the hidden metadata sheet."""
    ws = wb[META_SHEET]
    for row in range(1, ws.max_row + 1):
        if ws.cell(row, 1).value == key:
            ws.cell(row, 2).value = value
            return
    raise KeyError(key)


def set_info(wb, label: str, value: object) -> None:
    """Change the header-block value next to ``label`` (填报单位, 轮次 …) on every category sheet."""
    for ws in wb.worksheets:
        if ws.title in (GUIDE_SHEET, META_SHEET):
            continue
        for col in range(1, ws.max_column + 1):
            if ws.cell(INFO_ROW, col).value == label:
                ws.cell(INFO_ROW, col + 1).value = value


def header_cell(wb, sheet: str, column: str):
    """The openpyxl header cell of a named template column."""
    return wb[sheet].cell(HEADER_ROW, COLUMNS.index(column) + 1)


def load_default_registry(tmp_path: Path) -> Registry:
    return load_registry(make_master(tmp_path))
