"""The writers' fast paths say exactly what the plain ones say.

* a streamed sheet's rows, written as XML by :class:`toolkit.outputs.book._Body`, are the rows
  xlsxwriter's own constant-memory writer writes (compared element by element);
* a number's width is counted, not formatted: it equals the width of the text shown;
* the places a figure carries are read from its text;
* text that str methods find plain is text the XML-work pattern leaves alone;
* the decimals a ledger and summary align each indicator's figures to, and the rows the ledger
  lists under each category, are what looking at every row finds;
* a streamed sheet's rows are copied into its XML as the bytes xlsxwriter's own copy writes.
"""

from __future__ import annotations

import math
import zipfile
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.output_digest import big_standing, xlsx_digest
from toolkit.formatting import places_of
from toolkit.outputs import book, write_check_report, write_ledger, write_summary
from toolkit.outputs.book import _Book, _Col, _number_width, _places, _Row

TRICKY = [
    "普通文字", " 前有空格", "后有空格 ", "\t制表", "换行\n", "a & b < c > d \"q\"", "_x0041_ 像转义", "控制\x01字符\x1f",
    "非字符\ufffe\uffff", "=1+1", "@SUM(A1)", "😀表情" * 3, "x" * 40000, "中" * 20000 + "😀" * 10, "",
]


def _sheet_xml(path: Path, index: int = 1) -> list[tuple]:
    """The sheet's elements in document order: (tag, attributes, text)."""
    with zipfile.ZipFile(path) as z:
        root = ElementTree.fromstring(z.read(f"xl/worksheets/sheet{index}.xml"))
    return [(el.tag, sorted(el.attrib.items()), el.text) for el in root.iter()]


def _write(path: Path, rows: list[_Row], cols: list[_Col]) -> Path:
    b = _Book(path, "测试", "督查室")
    sh = b.sheet("表", stream=True)
    sh.title(0, 0, len(cols) - 1, "标题")
    last = sh.table(1, cols, rows)
    sh.text(last + 1, 0, "说明", {"bold": True})
    b.close()
    return path


@pytest.mark.parametrize("levels", [False, True])
def test_streamed_rows_are_xlsxwriters_rows(tmp_path, monkeypatch, levels):
    cols = [_Col("文字", "wrap", 6, 20), _Col("数", "num"), _Col("率", "pct", 8), _Col("状态", "status"),
            _Col("备注")]
    rows = [_Row([t, Decimal(i) / 7 if i % 3 else None, Decimal("85.505"), t[:2], i], places=i % 3, bold=i % 4 == 0,
                 shade=i % 5 == 0, indent=(4,) if i % 2 else (), level=int(levels and i % 2),
                 num_places={1: i % 4})
            for i, t in enumerate(TRICKY)]
    rows.append(_Row([Decimal("-0.00"), Decimal("1E+3"), Decimal("-12345678.125"), "", Decimal("0.0000001")],
                     places=2))
    streamed = _write(tmp_path / "a.xlsx", rows, cols)
    monkeypatch.setattr(book, "_STREAM_ROWS", False)
    plain = _write(tmp_path / "b.xlsx", rows, cols)
    assert _sheet_xml(streamed) == _sheet_xml(plain)
    assert xlsx_digest(streamed) == xlsx_digest(plain)


@pytest.mark.parametrize("writer", [write_ledger, write_summary, write_check_report])
def test_streamed_workbooks_equal_plain_ones(writer, tmp_path, monkeypatch):
    standing = big_standing()
    streamed = xlsx_digest(writer(standing, tmp_path / "a.xlsx"))
    monkeypatch.setattr(book, "_STREAM_ROWS", False)
    assert xlsx_digest(writer(standing, tmp_path / "b.xlsx")) == streamed


def test_streamed_cells_of_every_type(tmp_path, monkeypatch):
    from datetime import date, datetime

    from toolkit.model import Status

    cols = [_Col("日期", "date"), _Col("时间", "datetime", 16), _Col("值", "num"), _Col("状态", "status"),
            _Col("其他")]
    rows = [_Row([date(2021, 5, 8), datetime(2021, 5, 8, 9, 30), 42, Status.LAGGING, True]),
            _Row([None, "", Decimal("NaN"), Status.DONE, 1.5]),
            _Row(["2021-05-08", None, Decimal("Infinity"), "", False], bold=True, shade=True)]
    streamed = _write(tmp_path / "a.xlsx", rows, cols)
    monkeypatch.setattr(book, "_STREAM_ROWS", False)
    plain = _write(tmp_path / "b.xlsx", rows, cols)
    assert _sheet_xml(streamed) == _sheet_xml(plain)
    cells = {(r, c): v for r, c, v, _ in xlsx_digest(streamed)["sheets"][0]["cells"]}
    assert cells[(3, 1)] == "2021-05-08T00:00:00" and cells[(3, 2)] == "2021-05-08T09:30:00"
    assert (cells[(3, 3)], cells[(3, 4)], cells[(3, 5)], cells[(4, 5)]) == (42, "滞后", "是", "1.5")


_DECIMALS = st.decimals(allow_nan=False, allow_infinity=False, places=None, min_value=Decimal("-1e15"),
                        max_value=Decimal("1e15"))


@settings(max_examples=400, deadline=None)
@given(d=_DECIMALS, digits=st.integers(0, 15), kind=st.sampled_from(["num", "pct", "pts"]))
def test_number_width_is_the_width_shown(d, digits, kind):
    try:
        rounded = d.quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    except InvalidOperation:  # more digits than the context holds: the writers never ask for those
        return
    shown = format(rounded, ",f" if kind == "num" else "f") + ("%" if kind == "pct" else "")
    assert _number_width(d, kind, digits) == len(shown)


@settings(max_examples=400, deadline=None)
@given(d=st.decimals(allow_nan=True, allow_infinity=True))
def test_places_read_from_text(d):
    assert _places(d) == places_of(d)


_TEXT = st.text(alphabet=st.one_of(
    st.characters(max_codepoint=0x7F), st.characters(min_codepoint=0x3000, max_codepoint=0x303F),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80), st.characters(min_codepoint=0xFF00, max_codepoint=0xFFEF),
    st.sampled_from("—“”…①é\u0300\u200b😀가\u3099")), max_size=40)


@settings(max_examples=500, deadline=None)
@given(text=_TEXT)
def test_width_counted_as_display_width(text):
    from toolkit.outputs.book import _lines, _width, text_width
    from toolkit.terminal import display_width

    lines = text.splitlines() or [""]
    assert text_width(text) == max(display_width(line) for line in lines)
    if "\n" not in text and text.isprintable():
        assert _width(text) == display_width(text)
    for width in (6, 14.5, 32):
        room = max(width - 1.5, 1)
        assert _lines(text, width) == sum(max(1, math.ceil(display_width(line) / room)) for line in lines)


# -- text written as it is, numbers' decimals, the ledger's rows, rows copied as bytes ----------


def test_plain_text_needs_no_xml_work_any_character():
    """Every character _plain_xml lets through is one the XML-work pattern would not touch."""
    from toolkit.outputs.book import _XML_WORK, _plain_xml

    let_through = [chr(cp) for cp in range(0x110000) if _plain_xml(chr(cp))]
    assert "中" in let_through and "a" in let_through and " " not in let_through
    for ch in let_through:
        assert not _XML_WORK.search(f"a{ch}b") and not _XML_WORK.search(ch), hex(ord(ch))


_XML_TEXT = st.text(alphabet=st.one_of(st.sampled_from("_x0041Fg &<>\n\t\r\u3000\ufffe\x01\x7f\x85"),
                                       st.characters(min_codepoint=0x4E00, max_codepoint=0x4E10),
                                       st.characters(max_codepoint=0x7F)), max_size=20)


@settings(max_examples=1000, deadline=None)
@given(text=_XML_TEXT)
def test_plain_text_is_written_as_inline_text_writes_it(text):
    from toolkit.outputs.book import _XML_WORK, _inline_text, _plain_xml

    if _plain_xml(text):
        assert not _XML_WORK.search(text)
        assert _inline_text(text) == f"<t>{text}</t>"


def _aligned_places_as_before(rows, *fields):
    """_aligned_places as it was written first: every figure looked at."""
    out: dict[tuple[str, str], int] = {}
    for name in fields:
        for r in rows:
            v = getattr(r, name)
            if v is None or not isinstance(v, Decimal) or not v.is_finite():
                continue
            key = (r.indicator.code, name)
            out[key] = max(out.get(key, 0), min(places_of(v), max(2, r.indicator.decimals)))
    return out


def test_aligned_places_as_every_figure_says():
    from dataclasses import replace

    rows = list(big_standing().rows)
    odd = [Decimal("NaN"), Decimal("1E+3"), Decimal("-0.000"), Decimal("12.34567"), Decimal("7"), 7, None]
    rows += [replace(r, value=odd[i % len(odd)], target=odd[(i + 3) % len(odd)],
                     indicator=replace(r.indicator, decimals=i % 5)) for i, r in enumerate(rows[:60])]
    fields = ("target", "value", "base", "last_year", "completion")
    assert book._aligned_places(rows, *fields) == _aligned_places_as_before(rows, *fields)
    assert book._aligned_places(iter(rows), "value") == _aligned_places_as_before(rows, "value")


def _ledger_listing_as_before(standing) -> dict[str, list[tuple[str, str]]]:
    """(指标编号, 单位名称) of each ledger sheet, found as write_ledger first found them."""
    out = {}
    for sheet, _ in book._category_order(standing):
        cat = standing.registry.category(sheet)
        indicators = list(cat.indicators) if cat else []
        codes = {ind.code for ind in indicators}
        for row in standing.rows_in(sheet):
            if row.indicator.code not in codes:
                codes.add(row.indicator.code)
                indicators.append(row.indicator)
        listing = []
        for ind in indicators:
            mine = [r for r in standing.rows if r.indicator.code == ind.code and r.category == sheet]
            listing += [(ind.code, r.unit) for r in mine] or [(ind.code, None)]
        out[sheet] = listing
    return out


def test_ledger_lists_rows_outside_their_registry_category(tmp_path):
    """Rows filed under another category, or one the registry lacks, and indicators without rows."""
    from dataclasses import replace

    import openpyxl

    from tests.test_outputs import restand

    standing = big_standing()
    sheets = [c.sheet for c in standing.registry.categories]
    rows = []
    for r in standing.rows:
        if r.indicator.code.endswith("-3"):
            r = replace(r, category=sheets[(sheets.index(r.category) + 1) % len(sheets)])
        elif r.indicator.code.endswith("-5"):
            r = replace(r, category="九、台账外类别", category_title="九、台账外类别")
        elif r.indicator.code.endswith("-6"):
            continue  # listed with the registry's figures only
        rows.append(r)
    moved = restand(standing, rows=rows)
    expected = _ledger_listing_as_before(moved)
    assert "九、台账外类别" in expected
    wb = openpyxl.load_workbook(write_ledger(moved, tmp_path), read_only=True)
    for sheet, listing in expected.items():
        got = [(row[4], row[10]) for row in wb[sheet].iter_rows(min_row=3, values_only=True)]  # 指标编号, 单位名称
        assert got == listing, sheet


def _sheet_bytes(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")}


@pytest.mark.parametrize("carriage_return", [False, True])
def test_rows_copied_as_bytes_are_xlsxwriters(tmp_path, monkeypatch, carriage_return):
    """A streamed sheet's rows go into its XML byte for byte as xlsxwriter would copy them; a
    carriage return among them (never written: cells write it _x000D_) leaves it to xlsxwriter."""
    from xlsxwriter.worksheet import Worksheet

    def write(path: Path) -> Path:
        b = _Book(path, "测试", "督查室")
        sh = b.sheet("表", stream=True)
        sh.title(0, 0, 2, "标题")
        sh.table(1, [_Col("文字", "wrap", 6, 20), _Col("数", "num"), _Col("状态", "status")],
                 [_Row([t, Decimal(i) / 7, "滞后"]) for i, t in enumerate(TRICKY[:12])])
        if carriage_return:
            sh.ws.fh.write("<!-- a\r\nb\rc -->")
        b.sheet("另一张", stream=True).text(0, 0, "空", {"bold": True})
        b.close()
        return path

    copied = _sheet_bytes(write(tmp_path / "a.xlsx"))
    monkeypatch.setattr(book._RowsCopied, "_write_optimized_sheet_data", Worksheet._write_optimized_sheet_data)
    assert copied == _sheet_bytes(write(tmp_path / "b.xlsx"))
    assert (b"\r" in copied["xl/worksheets/sheet1.xml"]) is False
    assert not list(tmp_path.glob("tmp*"))  # the rows' temporary files are gone


_LINES = st.text(alphabet=st.one_of(st.sampled_from("\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029 a—😀"),
                                    st.characters(min_codepoint=0x3000, max_codepoint=0x303F),
                                    st.characters(min_codepoint=0x4E00, max_codepoint=0x4E10),
                                    st.characters(min_codepoint=0xFF00, max_codepoint=0xFFEF)), max_size=60)


@settings(max_examples=1000, deadline=None)
@given(text=_LINES)
def test_lines_counted_as_each_line_says(text):
    """A text of one line is counted whole; wherever str.splitlines breaks it, line by line."""
    from toolkit.outputs.book import _lines_in
    from toolkit.terminal import display_width

    lines = text.splitlines() or [""]
    for room in (4.5, 12.5, 30.5):
        assert _lines_in(text, room) == sum(max(1, math.ceil(display_width(line) / room)) for line in lines)
