"""What the outputs of a round say and how they look, as plain data, to compare two code paths.

:func:`xlsx_digest` reopens a workbook with openpyxl and lists, per sheet, every cell's
value and look (number format, font, fill, alignment, border), the merged ranges, column
widths, row heights and outline levels, conditional formats, panes, filters and print
set-up; :func:`docx_digest` lists a report's paragraphs (style and text) and tables.
Long texts are kept as a hash and their length, so that the stored expectation stays small.

``tests/expected/outputs.json`` holds the digests of the outputs written for the standings
of :func:`standings` by the writers as they were before they were made fast (main at
e85a799); ``tests/test_output_identity.py`` checks that the writers still write exactly
that. After an intended change of the outputs, regenerate it::

    python -m tests.output_digest --update
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl

EXPECTED = Path(__file__).parent / "expected" / "outputs.json"
_LONG = 48  # texts longer than this are kept as hash/length


def _short(value: object) -> object:
    if isinstance(value, str) and len(value) > _LONG:
        return f"#{hashlib.sha1(value.encode('utf-8')).hexdigest()[:12]}/{len(value)}"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _colour(c) -> object:
    if c is None:
        return None
    return c.rgb if c.type == "rgb" else f"{c.type}:{c.value}"


def _style(cell) -> tuple:
    f, fill, a, b = cell.font, cell.fill, cell.alignment, cell.border
    return (
        cell.number_format,
        (f.name, f.sz, bool(f.b), _colour(f.color)),
        (fill.fill_type, _colour(fill.fgColor) if fill.fill_type else None),
        (a.horizontal, a.vertical, bool(a.wrap_text), a.indent),
        tuple((side.style, _colour(side.color)) for side in (b.left, b.right, b.top, b.bottom)),
    )


def _rule(rule) -> dict:
    out: dict[str, object] = {"type": rule.type, "operator": rule.operator, "formula": list(rule.formula or []),
                              "stop": bool(rule.stopIfTrue)}
    if rule.dxf is not None:
        fill, font = rule.dxf.fill, rule.dxf.font
        out["fill"] = _colour(fill.bgColor) if fill is not None else None
        out["font"] = _colour(font.color) if font is not None else None
    if rule.iconSet is not None:
        out["icons"] = [rule.iconSet.iconSet, [(v.type, v.val) for v in rule.iconSet.cfvo]]
    return out


def xlsx_digest(path: Path) -> dict:
    """Every sheet's cells, looks and layout, as JSON-ready data (styles numbered per workbook)."""
    wb = openpyxl.load_workbook(path)
    styles: dict[tuple, int] = {}
    sheets = []
    for ws in wb.worksheets:
        cells = []
        for (r, c), cell in sorted(ws._cells.items()):
            key = _style(cell)
            sid = styles.setdefault(key, len(styles))
            cells.append([r, c, _short(cell.value), sid])
        ps = ws.page_setup
        sheets.append({
            "name": ws.title,
            "cells": cells,
            "merged": sorted(str(m) for m in ws.merged_cells.ranges),
            "cols": sorted([k, d.min, d.max, d.width, d.hidden] for k, d in ws.column_dimensions.items()
                           if d.customWidth),
            "rows": sorted([r, d.ht, d.outlineLevel, bool(d.hidden)] for r, d in ws.row_dimensions.items()
                           if d.ht is not None or d.outlineLevel),
            "cf": [[str(cf.sqref), [_rule(rule) for rule in cf.rules]] for cf in ws.conditional_formatting],
            "freeze": ws.freeze_panes,
            "filter": ws.auto_filter.ref,
            "print": [ps.orientation, ps.paperSize, ps.fitToWidth, ps.fitToHeight,
                      bool(ws.sheet_properties.pageSetUpPr and ws.sheet_properties.pageSetUpPr.fitToPage),
                      ws.print_title_rows, str(ws.print_area) if ws.print_area else None,
                      ws.print_options.horizontalCentered,
                      [ws.page_margins.left, ws.page_margins.right, ws.page_margins.top, ws.page_margins.bottom],
                      ws.oddHeader.left.text, ws.oddHeader.right.text, ws.oddFooter.center.text],
            "grid": ws.sheet_view.showGridLines,
            "outline": [ws.sheet_properties.outlinePr.summaryBelow, ws.sheet_properties.outlinePr.summaryRight]
            if ws.sheet_properties.outlinePr else None,
            "charts": len(ws._charts),
        })
    props = wb.properties
    return {"styles": [list(k) for k in styles], "sheets": sheets, "active": wb.active.title,
            "props": [props.title, props.creator, props.description]}


def docx_digest(path: Path) -> dict:
    """The report's paragraphs (style, text) and tables (cell texts), in order."""
    import docx

    doc = docx.Document(str(path))
    paragraphs = [[p.style.name if p.style is not None else "", _short(p.text)] for p in doc.paragraphs]
    tables = [[[_short(c.text) for c in row.cells] for row in t.rows] for t in doc.tables]
    props = doc.core_properties
    return {"paragraphs": paragraphs, "tables": tables, "pictures": len(doc.inline_shapes),
            "props": [props.title, props.author, props.subject, props.category]}


# -- the standings the expectation is written for ------------------------------------------

_SENTENCES = (
    "今年以来坚持把该项工作作为全年重点任务，主要领导亲自调度", "成立了工作专班，制定了年度推进方案",
    "截至目前已完成投资12.5亿元", "建立周调度、月通报工作机制", "组织开展专项培训两期，参训人员300余人次",
    "受原材料价格上涨影响，个别项目施工进度略有滞后", "Phase 2 of the ERP roll-out is on schedule",
)


def big_standing(units: int = 14, seed: int = 3):
    """A standing built in code with many units per 合计, long and multi-line texts, ASCII and
    Chinese, every status and figures of varied decimals: what the fast paths must get right."""
    from toolkit.model import TOTAL, Category, Indicator, Registry, ResultRow, Round, Settings, Submission, Unit
    from toolkit.standing import build_standing

    rng = random.Random(seed)
    d = Decimal
    names = [f"{place}{kind}" for place, kind in zip(
        ("湖滨", "陕州", "义马", "灵宝", "渑池", "卢氏", "高新", "经开", "城乡", "市", "市", "市", "市", "市", "市", "市"),
        ("区", "区", "市", "市", "县", "县", "区", "区", "示范区", "科技局", "统计局", "住建局", "财政局",
         "Data Bureau", "商务局", "林业局"), strict=True)][:units]
    kinds = ("累计", "累计", "比率", "上限", "下限", "增速", "节点", "累计")
    statuses = ("已完成", "序时推进", "滞后", "达标", "未达标", "逾期", "推进中", "未启动", "未报送", "待更正")
    cats = []
    rows = []
    tp = d("33.33")
    for ci, (sheet, title) in enumerate((("一、创新驱动", "一、深入实施创新驱动发展战略，奋力打造郑洛西高质量发展合作带重要支撑区"),
                                         ("二、经济发展", "二、坚持稳中求进，推动经济高质量发展"),
                                         ("三、Green & Clean", "三、全面加强环境保护和生态建设"))):
        inds = []
        for k in range(8):
            kind = kinds[k]
            split = k in (0, 1, 7) or (k == 2 and ci == 1)
            reporters = tuple(names) if split else (names[(ci * 8 + k) % len(names)],)
            target = None if kind == "节点" else d(rng.choice(("140", "4.5", "90", "12000", "0.85", "300")))
            code = f"{ci + 1}-{k + 1}"
            inds.append(Indicator(
                sheet=sheet, row=3 + k, task_no=str(k // 2 + 1), task=f"重点工作任务{ci}{k // 2}" + "推进" * (k % 3),
                lead=reporters[0], co="、".join(reporters[1:4]), code=code,
                name=("科技型中小企业备案数量" if k % 2 else f"Indicator {code} long English name for width"),
                kind=kind, unit={"累计": "家", "比率": "%", "上限": "%", "下限": "%", "增速": "%"}.get(kind, ""),
                target=target, due=date(2021, 3 + k, 28) if kind == "节点" else None,
                due_text="年底" if kind == "节点" and k % 2 else "", reporters=reporters, decimals=k % 3,
                targets_by_unit=tuple((n, d(10 + i)) for i, n in enumerate(reporters)) if split else ()))
        cats.append(Category(sheet, title, tuple(inds)))
        for ind in inds:
            parts = []
            for ui, unit in enumerate(ind.reporters):
                status = statuses[rng.randrange(len(statuses))]
                value = None if status in ("未报送", "待更正") else d(rng.randrange(1, 20000)) / d(10) ** rng.randrange(0, 4)
                text = "；".join(rng.sample(_SENTENCES, rng.randrange(0, 4)))
                if ui % 5 == 2:
                    text = text + "\n" + "第二行：" + "进展" * rng.randrange(1, 30)
                row = ResultRow(
                    round="2021-04", category=sheet, category_title=title, indicator=ind, unit=unit,
                    target=ind.target_for(unit) if len(ind.reporters) > 1 else ind.target, value=value,
                    base=d(rng.randrange(100, 3000)) if ind.kind == "比率" and value is not None else None,
                    last_year=d(rng.randrange(1, 900)) / 10 if ui % 3 == 0 else None,
                    completion=d(rng.randrange(0, 15000)) / 100 if value is not None else None,
                    ratio=d(rng.randrange(0, 10000)) / 100 if ind.kind == "比率" and value is not None else None,
                    time_progress=tp if ind.kind == "累计" else None,
                    gap=d(rng.randrange(-4000, 4000)) / 100 if value is not None else None,
                    yoy=d(rng.randrange(-500, 500)) / 100 if ui % 3 == 0 and value is not None else None,
                    status=status, state=("推进中" if ind.kind == "节点" else ""), progress=text,
                    problems=rng.choice(("", "资金到位不及时", "Staff shortage; 人员不足")),
                    next_steps=rng.choice(("", "倒排工期、挂图作战，确保按期完成")))
                parts.append(row)
            rows.extend(parts)
            if len(parts) > 1:
                missing = tuple(p.unit for p in parts if p.status == "未报送")
                rows.append(ResultRow(
                    round="2021-04", category=sheet, category_title=title, indicator=ind, unit=TOTAL,
                    target=ind.target, value=d("1234.5"), completion=d("45.67"), time_progress=tp,
                    gap=d("12.34"), status="序时推进", missing_parts=missing, is_total=True))
    registry = Registry(
        path=Path("master.xlsx"),
        settings=Settings(issuer="三门峡市政府督查室", title="《市政府工作报告》重点工作进展情况报告", year=2021),
        units={n: Unit(f"{i:02d}", n) for i, n in enumerate(names, start=1)},
        rounds=[Round("2021-04", date(2021, 4, 30), date(2021, 5, 8))], categories=cats)
    subs = [Submission(file=f"{i:02d}_{n}_2021-04.xlsx", path=Path("inbox") / f"{i:02d}.xlsx", unit=n,
                       received=datetime(2021, 5, 7 + i % 3, 9 + i % 8, 5 * i % 60), accepted=i % 7 != 3,
                       reason="" if i % 7 != 3 else "文件已加密，请取消密码后重新报送", late=i % 3 == 2)
            for i, n in enumerate(names, start=1) if i % 6 != 0]
    return build_standing(registry, registry.rounds[0], datetime(2021, 5, 13, 9, 0), time_progress=d(100) / 3,
                          time_progress_shown=tp, rows=rows, submissions=subs, findings=[])


def standings() -> dict:
    from tests.test_outputs import build_result

    return {"small": build_result(), "big": big_standing()}


def outputs_digest(standing, folder: Path) -> dict:
    """Write all five outputs of ``standing`` into ``folder`` and digest each."""
    from toolkit.outputs import write_check_report, write_ledger, write_results_csv, write_summary
    from toolkit.report import write_report

    out: dict[str, object] = {}
    for key, writer in (("summary", write_summary), ("ledger", write_ledger), ("check", write_check_report)):
        out[key] = xlsx_digest(writer(standing, folder))
    out["report"] = docx_digest(write_report(standing, folder / "report.docx"))
    out["csv"] = write_results_csv(standing, folder).read_text(encoding="utf-8-sig").splitlines()
    return json.loads(json.dumps(out, ensure_ascii=False, default=str))  # tuples as lists, as stored


def current() -> dict:
    with tempfile.TemporaryDirectory(prefix="ducha-digest-") as tmp:
        return {name: outputs_digest(st, Path(tmp) / name) for name, st in standings().items()
                if (Path(tmp) / name).mkdir() is None}


if __name__ == "__main__":
    if "--update" not in sys.argv:
        sys.exit("usage: python -m tests.output_digest --update")
    EXPECTED.parent.mkdir(parents=True, exist_ok=True)
    EXPECTED.write_text(json.dumps(current(), ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{EXPECTED}: {EXPECTED.stat().st_size} bytes")
