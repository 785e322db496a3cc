#!/usr/bin/env python3
"""Benchmark: reading returns, and a whole merge, against baselines measured in the same run.

Prints ratios, never bare timings as targets:

* reading N filled templates with toolkit.read vs openpyxl (the usual way, baseline 1.00)
  and python-calamine (values only: no error cells, formulas or number formats);
* reading a 1.5 KB file that declares row 999,999,999 (must be well under a second);
* a whole merge of the demo round vs the cost of reading every return once.

Usage: python scripts/bench_read.py [--files N]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openpyxl  # noqa: E402
import python_calamine  # noqa: E402

from toolkit.demo import run_demo  # noqa: E402
from toolkit.errors import ReadError  # noqa: E402
from toolkit.merge import run_merge  # noqa: E402
from toolkit.read import read_workbook  # noqa: E402
from toolkit.receipts import Role, round_files  # noqa: E402
from toolkit.workspace import Workspace  # noqa: E402


def timed(func, files) -> tuple[float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    for path in files:
        func(path)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak


def read_openpyxl(path: Path) -> None:
    wb = openpyxl.load_workbook(path, data_only=True)
    for ws in wb.worksheets:
        for _row in ws.iter_rows(values_only=True):
            pass


def read_calamine(path: Path) -> None:
    wb = python_calamine.CalamineWorkbook.from_path(str(path))
    for name in wb.sheet_names:
        wb.get_sheet_by_name(name).to_python(skip_empty_area=False)


def huge_dimension_file(folder: Path) -> Path:
    import zipfile

    path = folder / "2x6m.xlsx"
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main"><dimension ref="A1:A999999999"/><sheetData><row r="999999999">'
             '<c r="A999999999"><v>1</v></c></row></sheetData></worksheet>')
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>',
        "xl/workbook.xml": '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/worksheet"/></Relationships>',
        "xl/worksheets/sheet1.xml": sheet,
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description="读取与合并的性能对比（以同次运行的基准为 1.00）")
    parser.add_argument("--files", type=int, default=200, help="参与读取对比的报表份数（默认 200）")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        demo = run_demo(tmp / "demo")
        inbox = demo.folder / "rounds" / "2021-04" / "inbox"
        sources = sorted(p for p in inbox.iterdir() if p.suffix == ".xlsx")
        files = []
        for i in range(args.files):
            target = tmp / "many" / f"{i:04d}.xlsx"
            target.parent.mkdir(exist_ok=True)
            shutil.copy(sources[i % len(sources)], target)
            files.append(target)
        base_s, base_m = timed(read_openpyxl, files)
        ours_s, ours_m = timed(read_workbook, files)
        cal_s, _ = timed(read_calamine, files)
        print(f"读取 {len(files)} 份报表（openpyxl = 1.00）")
        print(f"  {'方式':<28}{'耗时比':>8}{'峰值内存比':>12}")
        print(f"  {'openpyxl（基准）':<26}{1.0:>8.2f}{1.0:>12.2f}")
        print(f"  {'toolkit.read':<28}{ours_s / base_s:>8.2f}{ours_m / base_m:>12.2f}")
        print(f"  {'python-calamine（仅数值）':<24}{cal_s / base_s:>8.2f}{'—':>12}  （内存在 Rust 中分配，tracemalloc 看不到）")

        bomb = huge_dimension_file(tmp)
        started = time.perf_counter()
        try:
            read_workbook(bomb)
            verdict = "读出"
        except ReadError as exc:
            verdict = f"拒收（{exc.detail}）"
        huge = time.perf_counter() - started
        one = ours_s / len(files)
        print(f"声明 999,999,999 行的 {bomb.stat().st_size} 字节文件：{verdict}，耗时为读一份正常报表的 {huge / one:.2f} 倍"
              f"（{'远低于' if huge < 0.1 else '未达到'} 1 秒的要求）")

        shutil.rmtree(demo.folder / "rounds" / "2021-04" / ".ducha" / "cache", ignore_errors=True)
        returns = [f.receipt.stored for f in round_files(Workspace(demo.folder), "2021-04") if f.role is Role.RETURN]
        read_once, _ = timed(read_workbook, returns)
        started = time.perf_counter()
        run_merge(Workspace(demo.folder), "2021-04", now=datetime(2021, 5, 13, 9))
        merge = time.perf_counter() - started
        started = time.perf_counter()
        run_merge(Workspace(demo.folder), "2021-04", now=datetime(2021, 5, 13, 9))
        rerun = time.perf_counter() - started
        print(f"合并 2021-04 轮（{len(returns)} 份报表，以“每份读一遍”= 1.00）：首次 {merge / read_once:.1f}，"
              f"重跑（复用已读结果）{rerun / read_once:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
