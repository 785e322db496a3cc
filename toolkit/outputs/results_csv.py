"""results.csv: one row per result row, for other programs."""

from __future__ import annotations

import csv
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from ..formatting import format_number
from ..model import ResultRow
from ..standing import Standing
from .book import _CSV_TRIGGERS, _PLAIN_NUMBER, CSV_COLUMNS, _atomic, _rate, _target

T = TypeVar("T")

# -- results.csv ------------------------------------------------------------------------


def _csv_text(text: object) -> str:
    """Text for a CSV cell, with anything a spreadsheet would run as a formula neutralised."""
    s = "" if text is None else str(text)
    if s.startswith(_CSV_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(s):
        return "'" + s
    return s


def _row_cells(row: ResultRow, figure: Callable[[Decimal | None], T]) -> list[str | T]:
    """One row of results.csv: its text cells as written, its figures as ``figure`` gives them."""
    ind = row.indicator
    texts = [row.round, row.category, ind.task_no, ind.code, ind.name, row.unit, ind.unit]
    numbers = [row.target, row.value, row.base, row.last_year, _rate(row), row.time_progress,
               row.gap, row.yoy]
    return [*(_csv_text(t) for t in texts), *(figure(d) for d in numbers), _csv_text(row.status)]


def csv_rows(result: Standing) -> list[list[str]]:
    """The rows of results.csv (without the header), in result.rows order."""
    # format_number only ever yields plain numbers (-?digits[.digits]), which stay as they are.
    return [_row_cells(row, format_number) for row in result.rows]


def _as_read(value: Decimal | None) -> Decimal | None:
    """A figure as results.csv gives it back (:func:`format_number`'s text parsed again): the
    value itself when its text would parse to the very same Decimal, which is almost always."""
    if value is None:
        return None
    if type(value) is Decimal and value.is_finite():
        sign, _, exponent = value.as_tuple()
        if isinstance(exponent, int) and exponent <= 0 and not (sign and value.is_zero()):
            return value  # plain digits: format(value, "f") parses back to the same sign, digits, exponent
    text = format_number(value)  # 1E+3 comes back as 1000, -0.00 as 0.00, NaN as a blank
    return Decimal(text) if text else None


def frame_rows(result: Standing) -> list[list[str | Decimal | None]]:
    """results.csv's rows as :func:`toolkit.year.results_frame` takes them, without the text in
    between: the text cells as written, each figure as the Decimal its written text reads back as
    (so the round's history from memory is the history from its results.csv, to the digit)."""
    return [_row_cells(row, _as_read) for row in result.rows]


def write_results_csv(result: Standing, path: Path) -> Path:
    """results.csv (UTF-8 with BOM): one row per ResultRow, in result.rows order."""
    target = _target(path, "results.csv")
    with _atomic(target) as tmp, open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_rows(result))
    return target

