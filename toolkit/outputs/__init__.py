"""Writers for a round's workbooks and CSV: summary, merged ledger, check report, results.csv.

Each writer renders a :class:`~toolkit.standing.Standing` exactly as the merge computed
it (no maths here beyond counting) and is called as ``writer(standing, path) -> Path``:
``path`` is the output folder (the file gets its standard name, e.g. ``汇总表_2021-04.xlsx``)
or a full file name ending in the right suffix. Files are written atomically.

* :mod:`.book` — the workbook plumbing every writer shares (formats, widths, print set-up);
* :mod:`.summary` — 汇总表 for leaders; :mod:`.ledger` — 台账; :mod:`.check_report` — 校验报告;
  :mod:`.results_csv` — results.csv.
"""

from __future__ import annotations

from .book import CSV_COLUMNS, LEDGER_COLUMNS, sheet_name, text_width
from .check_report import write_check_report
from .ledger import write_ledger
from .results_csv import csv_rows, frame_rows, write_results_csv
from .summary import write_summary

__all__ = [
    "CSV_COLUMNS",
    "LEDGER_COLUMNS",
    "csv_rows",
    "frame_rows",
    "sheet_name",
    "text_width",
    "write_check_report",
    "write_ledger",
    "write_results_csv",
    "write_summary",
]
