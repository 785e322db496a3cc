"""The whole-part scan (toolkit/read/scan.py) reads exactly what the streaming parser reads.

Every file is read twice, once as usual (small parts scanned, the rest streamed) and once
with the scan turned off (every part streamed), and the two results must be equal: the
same sheets, cells and merged ranges, or the same refusal (code, detail, sheet). The files
are the public corpus, XML written here in every odd shape the scan must hand over to the
streaming parser, random sheets from hypothesis, and returns as the usual writers save them
(where the scan must actually be used, or the speed is lost).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import hostile
from tests.factories import make_return, make_workspace
from tests.office import SOFFICE, convert
from toolkit.errors import ReadError
from toolkit.read import Limits, Workbook, package, read_workbook, scan, xlsx

CORPUS = Path(__file__).parents[1].parent / "shared" / "corpus" / "public"
CORPUS_XLSX = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*")
                     if p.suffix.lower() in (".xlsx", ".xlsm")) if CORPUS.is_dir() else []
MAIN, DECL = hostile.MAIN, hostile.DECL


def outcome(path: Path, limits: Limits = Limits()) -> tuple:
    """What reading gives, as plain data: the sheets, or the refusal."""
    try:
        book = read_workbook(path, limits)
    except ReadError as exc:
        return ("refused", exc.code, exc.detail, exc.sheet)
    return ("read", book.format, book.strict, [(s.name, s.state, s.cells, s.merged) for s in book.sheets])


def both(path: Path, monkeypatch, limits: Limits = Limits()) -> tuple[tuple, tuple]:
    scanned = outcome(path, limits)
    # read again: the parts remembered by their bytes, and the frames of the sheets, now known
    assert outcome(path, limits) == scanned
    with monkeypatch.context() as patch:
        patch.setattr(scan, "WHOLE_PART_BYTES", -1)  # every part streamed
        patch.setattr(package.PARTS, "largest", -1)  # and nothing taken from the memo of parts
        streamed = outcome(path, limits)
    return scanned, streamed


def assert_same(path: Path, monkeypatch, limits: Limits = Limits()) -> tuple:
    scanned, streamed = both(path, monkeypatch, limits)
    assert scanned == streamed
    return scanned


class Counting:
    """Counts the parts the streaming parser read (while the scan is on)."""

    def __init__(self, monkeypatch):
        self.sheets = self.shared = 0
        stream_sheet, stream_shared = xlsx._XlsxReader._stream_sheet, xlsx._XlsxReader._stream_shared_strings

        def sheet(reader, *args):
            self.sheets += 1
            return stream_sheet(reader, *args)

        def shared(reader, *args):
            self.shared += 1
            return stream_shared(reader, *args)

        monkeypatch.setattr(xlsx._XlsxReader, "_stream_sheet", sheet)
        monkeypatch.setattr(xlsx._XlsxReader, "_stream_shared_strings", shared)


class Quick:
    """Counts the sheets the quickest scan (``<sheetData>`` in the usual shapes) read, and the others."""

    def __init__(self, monkeypatch):
        self.quick = self.other = 0
        scan_data = xlsx._XlsxReader._scan_sheet_data

        def counted(reader, *args):
            sheet = scan_data(reader, *args)
            if sheet is None:
                self.other += 1
            else:
                self.quick += 1
            return sheet

        monkeypatch.setattr(xlsx._XlsxReader, "_scan_sheet_data", counted)


# ---------------------------------------------------------------------------------------
# real files

@pytest.mark.skipif(not CORPUS_XLSX, reason="corpus not available")
@pytest.mark.parametrize("rel", CORPUS_XLSX)
def test_corpus_reads_the_same(rel, monkeypatch):
    path = CORPUS / rel
    if path.stat().st_size > 5 * 1024 * 1024:
        pytest.skip("large file")
    assert_same(path, monkeypatch, Limits(seconds=30))


def test_returns_are_scanned_not_streamed(tmp_path, monkeypatch):
    """A return as the toolkit's template writer saves it, and the same cells through openpyxl:
    every part is scanned (the streaming parser is the exception, not the rule)."""
    import openpyxl

    ws = make_workspace(tmp_path)
    path = make_return(ws, tmp_path / "in", unit="市科技局", values={"1-1-1": {"本期完成": "约59家"}})
    resaved = tmp_path / "openpyxl.xlsx"
    openpyxl.load_workbook(path).save(resaved)
    for source in (path, hostile.real_xlsx(tmp_path / "real.xlsx"), resaved):
        assert_same(source, monkeypatch)
        counting, quick = Counting(monkeypatch), Quick(monkeypatch)
        assert read_workbook(source).sheets
        assert (counting.sheets, counting.shared) == (0, 0), source.name
        assert quick.quick and not quick.other, source.name


def test_filled_returns_take_the_quickest_scan(tmp_path, monkeypatch):
    """The template as written (xlsxwriter), filled in through openpyxl (numbers, text, a date, a
    percentage, a formula, an error) and a return written cell by cell with xlsxwriter: every sheet
    is read by the quickest scan, and reads as streamed, cell for cell."""
    import datetime

    import openpyxl
    import xlsxwriter

    ws = make_workspace(tmp_path)
    path = make_return(ws, tmp_path / "in", unit="市科技局", values={"1-1-1": {"本期完成": "约59家"}})
    book = openpyxl.load_workbook(path)
    for sheet in book.worksheets:
        for row in sheet.iter_rows(min_row=4, max_row=8, max_col=6):
            for n, cell in enumerate(row):
                if type(cell).__name__ == "MergedCell":
                    continue
                cell.value = [12.5, "进展顺利\n下步打算", datetime.datetime(2021, 4, 30), 0.375, "=1/0", "#N/A"][n]
                if n == 3:
                    cell.number_format = "0.0%"
    filled = tmp_path / "filled.xlsx"
    book.save(filled)

    written = tmp_path / "xlsxwriter.xlsx"
    out = xlsxwriter.Workbook(str(written))
    percent, date = out.add_format({"num_format": "0.00%"}), out.add_format({"num_format": "yyyy年m月d日"})
    sheet = out.add_worksheet("一、创新驱动")
    sheet.merge_range("A1:F1", "标题", out.add_format({"bold": True}))
    for r in range(1, 40):
        sheet.write_string(r, 0, f"任务{r}")
        sheet.write_number(r, 1, r * 1.25)
        sheet.write_number(r, 2, r / 100, percent)
        sheet.write_datetime(r, 3, datetime.datetime(2021, 4, r % 28 + 1), date)
        sheet.write_formula(r, 4, f"=B{r + 1}*2", None, r * 2.5)
        sheet.write_boolean(r, 5, r % 2 == 0)
        sheet.write_blank(r, 6, None, percent)
    out.add_worksheet("空表")
    out.close()

    for source in (path, filled, written):
        got = assert_same(source, monkeypatch)
        assert got[0] == "read"
        quick = Quick(monkeypatch)
        read_workbook(source)
        assert quick.quick and not quick.other, source.name


@pytest.mark.slow
@pytest.mark.skipif(not SOFFICE, reason="LibreOffice not installed")
def test_libreoffice_resaved_returns_are_scanned(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path)
    path = make_return(ws, tmp_path / "in", unit="市科技局")
    (resaved,) = convert([path], "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo", tmp_path / "profile")
    assert_same(resaved, monkeypatch)
    counting, quick = Counting(monkeypatch), Quick(monkeypatch)
    read_workbook(resaved)
    assert (counting.sheets, counting.shared) == (0, 0)
    assert quick.quick and not quick.other


# ---------------------------------------------------------------------------------------
# XML in every shape: scanned when plain, handed over when not, always the same result

ROWS = {
    "plain": '<row r="1"><c r="A1" s="1" t="s"><v>0</v></c><c r="B1" s="2"/><c r="C1"><v>2.5</v></c></row>',
    "attribute-order": '<row r="1"><c t="s" r="A1"><v>0</v></c><c s="1" r="B1"><v>3</v></c></row>',
    "single-quotes": "<row r='1'><c r='A1' t='s'><v>0</v></c></row>",
    "white-space": '<row r="1">\n  <c r="A1"\n     t="s">\n    <v>0</v>\n  </c>\n</row>',
    "extra-attributes": '<row r="1" spans="1:3" x14ac:dyDescent="0.25"><c r="A1" cm="1" t="s"><v>0</v></c></row>',
    "references": '<row r="1"><c r="$A$1"><v>1</v></c><c r="b1"><v>2</v></c><c r="A01"><v>3</v></c></row>',
    "no-r": "<row><c><v>1</v></c><c><v>2</v></c></row><row><c><v>3</v></c></row>",
    "some-r": '<row r="2"><c r="C2"><v>1</v></c><c><v>2</v></c></row>',
    "duplicates": '<row r="1"><c r="A1"><v>1</v></c><c r="A1"><v>2</v></c></row>',
    "formulas": ('<row r="1"><c r="A1"><f>SUM(B1:C1)</f><v>3</v></c><c r="B1"><f>1+1</f></c><c r="C1"><f>1&lt;2</f>'
                 '<v></v></c><c r="D1" t="str"><f>"a"&amp;"b"</f><v>ab</v></c><c r="E1"><f t="shared" si="0"/></c>'
                 '<c r="F1"><v/></c><c r="G1"><f t="shared" ref="G1:G2" si="1">A1*2</f><v>6</v></c></row>'),
    "types": ('<row r="1"><c r="A1" t="e"><v>#DIV/0!</v></c><c r="B1" t="b"><v>1</v></c><c r="C1" t="d">'
              '<v>2021-05-13</v></c><c r="D1" t="str"><v>a_x000D_b</v></c><c r="E1" t="n"><v>nan</v></c>'
              '<c r="F1" t="zz"><v>?</v></c><c r="G1" t="s"><v>99</v></c><c r="H1" t="e"/><c r="I1" t=""><v>4</v></c>'
              '<c r="J1" t="b"><v></v></c><c r="K1" t="s"><v> 0 </v></c></row>'),
    "entities": ('<row r="1"><c r="A1" t="str"><v>&lt;&gt;&amp;&quot;&apos;&#21271;&#x4eac;&#13;&#10;</v></c>'
                 '<c r="B1" t="str"><v>a\r\nb\rc</v></c></row>'),
    "inline": ('<row r="1"><c r="A1" t="inlineStr"><is><t>内联</t></is></c><c r="B1" t="inlineStr"><is><r><t>a</t>'
               '</r><r><rPr><b/></rPr><t xml:space="preserve">b </t></r></is></c><c r="C1" t="inlineStr"><is/></c>'
               '<c r="D1" t="inlineStr"><is><t/></is></c><c r="E1" t="inlineStr"><is><t>漢</t><rPh sb="0" eb="1">'
               '<t>かん</t></rPh></is></c></row>'),
    "comment": '<!-- a comment --><row r="1"><c r="A1"><v>1</v></c></row>',
    "comment-hides-a-cell": '<row r="1"><!--<c r="A1"><v>1</v></c>--><c r="B1"><v>2</v></c></row>',
    "cdata": '<row r="1"><c r="A1" t="str"><v><![CDATA[<b>&x]]></v></c></row>',
    "processing-instruction": '<row r="1"><?pi <c r="A1"><v>1</v></c>?><c r="B1"><v>2</v></c></row>',
    "prefixed": '<x:row r="1" xmlns:x="urn:x"><x:c r="A1"><x:v>1</x:v></x:c></x:row>',
    "two-colons": '<row r="1"><a:b:c r="A1" xmlns:a="urn:a"><v>1</v></a:b:c><c r="B1"><v>2</v></c></row>',
    "name-char-after-c": '<row r="1"><c\u1680r="A1"><v>1</v></c\u1680r><c r="B1"><v>2</v></c></row>',
    "upper-case": '<row r="1"><C r="A1"><v>1</v></C><c r="B1"><v>2</v></c></row>',
    "nested-cell": '<row r="1"><c r="A1"><v>1</v><c r="B1"><v>2</v></c></c></row>',
    "text-in-cell": '<row r="1"><c r="A1">loose<v>1</v></c></row>',
    "element-in-value": '<row r="1"><c r="A1"><v>1<x/>2</v></c></row>',
    "two-values": '<row r="1"><c r="A1"><v>1</v><v>2</v></c></row>',
    "value-before-formula": '<row r="1"><c r="A1"><v>1</v><f>A2</f></c></row>',
    "cell-outside-rows": '<c r="A1"><v>1</v></c><row r="2"><c r="A2"><v>2</v></c></row>',
    "cell-in-value": '<row r="1"><v>9<c r="A1"><v>1</v></c>8</v></row>',
    "stray-phonetic": '<row r="1"><rPh><c r="A1" t="inlineStr"><is><t>x</t></is></c></rPh></row>',
    "merge-in-cell": '<row r="1"><c r="A1"><mergeCell ref="A1:B2"/><v>1</v></c></row>',
    "row-bad-number": '<row r="x1"><c r="A1"><v>1</v></c></row>',
    "row-far": '<row r="999999999"><c r="A999999999"><v>1</v></c></row>',
    "row-spaced-number": '<row r=" 5"><c r="A5"><v>1</v></c></row>',
    "cell-far-column": '<row r="1"><c r="XFE1"><v>1</v></c></row>',
    "empty-cell-far": '<row r="1"><c r="XFE1" s="1"/></row>',
    "cell-far-row": '<row r="1"><c r="A1048577"><v>1</v></c></row>',
    "bad-reference": '<row r="1"><c r="A"><v>1</v></c><c r="1"><v>2</v></c><c r="ABCD1"><v>3</v></c></row>',
    "attribute-white-space": '<row r="1"><c r="A1" t="s\t"><v>0</v></c><c r="B1" t="&#115;"><v>0</v></c></row>',
    "ext-in-value": '<row r="1"><c r="A1"><v>12<extLst>xx</extLst>3</v></c></row>',
    # the shapes of the quickest scan, and their edges
    "quick-shapes": ('<row r="1"><c r="A1" t="e"></c><c r="B1" t="str"><v/></c><c r="C1" s="1" t="inlineStr"><is>'
                     '<t xml:space="preserve"> a&amp;b </t></is></c><c r="D1"><f t="shared" ref="D1:D2" si="0">A1*2'
                     '</f><v>4</v></c><c r="E1" s="2"><v>44316</v></c><c r="F1" t="s"><v>007</v></c><c r="G1" t="s">'
                     '<v>1</v></c><c r="H1" t="s"><v>2</v></c><c r="I1"><v>1_0</v></c><c r="J1"><v>inf</v></c>'
                     '<c r="K1"><v> 1 </v></c><c r="L1" t="n"><v></v></c><c r="M1" s="9"><v>3</v></c>'
                     '<c r="XFD1" s="1"/><c r="N1" t="str"><f>"a"</f></c><c r="O1" t="b"><v>0</v></c></row>'
                     '<row r="2" spans="1:2"><c r="A2"><v>1</v></c></row>'),
    "quick-row-edges": ('<row r="999999"><c r="A999999"><v>1</v></c></row><row r="1000000"><c r="A1000000"><v>2</v>'
                        "</c></row>"),
    "quick-cell-edges": '<row r="1"><c r="ZZZ1"><v>1</v></c></row>',
    "quick-text-between": '<row r="1">x<c r="A1"><v>1</v></c>\n<c r="B1"/></row>',
    "cell-without-row": '<c r="A1"><v>1</v></c>',
    "empty-ext-in-value": '<row r="1"><c r="A1"><v>12<extLst/>3</v></c></row>',
}
AFTER = {
    "merges": '<mergeCells count="2"><mergeCell ref="A1:D1"/><mergeCell ref=" B3:B5 "/><mergeCell ref="Q"/></mergeCells>',
    "merge-attributes": "<mergeCells><mergeCell foo='1' ref='C1:C2'></mergeCell></mergeCells>",
    "extensions": ('<extLst><ext uri="{x}"><x14:cf xmlns:x14="urn:x14"><c r="Z9"><v>9</v></c><mergeCell ref="A1:B1"/>'
                   "</x14:cf></ext></extLst>"),
    "extensions-then-cells": "<extLst/><sheetData><row r=\"7\"><c r=\"A7\"><v>7</v></c></row></sheetData>",
    "nested-extensions": "<extLst><extLst/><x/></extLst>",
    "plain-merges": '<mergeCells count="3"><mergeCell ref="A1:D1"/><mergeCell ref="C3"/><mergeCell ref="D4:B2"/>'
                    '</mergeCells><extLst><ext uri="{x}"><x14:y xmlns:x14="urn:x14"/></ext></extLst>',
    "one-plain-merge": '<mergeCells count="1"><mergeCell ref="A1:D1"/></mergeCells>',
}
SHARED = {
    "plain": ["<t>plain</t>", "<t xml:space=\"preserve\"> 前后 </t>", "<t></t>", "<t/>"],
    "rich": ['<r><rPr><b/></rPr><t>市</t></r><r><t xml:space="preserve">发改委 </t></r>'],
    "phonetic": ['<t>漢字</t><rPh sb="0" eb="2"><t>かんじ</t></rPh><phoneticPr fontId="1"/>',
                 "<t>a</t><phoneticPr><t>skipped</t></phoneticPr>"],
    "escapes": ["<t>ABC_x000D_\nDEF</t>", "<t>_x0001_控制</t>", "<t>&amp;&#21271;\r\n</t>", "<t>a\r</t><t>\nb</t>"],
    "white-space-between": ["\n  <t>a</t>\n", "<r> <t>b</t> </r>"],
    "text-in-text": ["<t>a<rPh><t>b</t></rPh>c</t>"],
    "nested-phonetic": ["<rPh><rPh></rPh><t>x</t></rPh><t>y</t>"],
    "element-in-text": ["<t>a<b/>c</t>"],
}


def _sheet_file(tmp_path: Path, rows: str = "", after: str = "", shared: list[str] | None = None) -> Path:
    styles = hostile.styles_xml([0, 10, 14], {})
    xml = DECL + f'<worksheet xmlns="{MAIN}" xmlns:x14ac="urn:x14ac"><sheetData>{rows}</sheetData>{after}</worksheet>'
    return hostile.write_xlsx(tmp_path / "t.xlsx", [("S", xml), ("T", hostile.sheet_xml(""))],
                              shared=hostile.shared_xml(shared if shared is not None else ["零", "一"]),
                              styles=styles)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_rows(tmp_path, monkeypatch, name):
    assert_same(_sheet_file(tmp_path, ROWS[name]), monkeypatch)


@pytest.mark.parametrize("name", sorted(AFTER))
def test_after_the_rows(tmp_path, monkeypatch, name):
    assert_same(_sheet_file(tmp_path, ROWS["plain"], AFTER[name]), monkeypatch)


@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_strings(tmp_path, monkeypatch, name):
    items = SHARED[name]
    rows = '<row r="1">' + "".join(f'<c r="{chr(65 + i)}1" t="s"><v>{i}</v></c>' for i in range(len(items))) + "</row>"
    assert_same(_sheet_file(tmp_path, rows, shared=items), monkeypatch)


@pytest.mark.parametrize("sst", [
    f'<sst xmlns="{MAIN}"><t>outside</t><si><t>a</t></si></sst>',
    f'<sst xmlns="{MAIN}"><si><t>a</t><si><t>b</t></si></si></sst>',
    f'<sst xmlns="{MAIN}"><si><t>a</t></si><extLst><si><t>b</t></si></extLst></sst>',
    f'<sst xmlns="{MAIN}"><si><t>a</t></si><extLst><ext/></extLst></sst>',
    f'<x:sst xmlns:x="{MAIN}"><x:si><x:t>a</x:t></x:si></x:sst>',
    f'<sst xmlns="{MAIN}"><si/><si><t>a</t></si></sst>',
])
def test_shared_string_parts(tmp_path, monkeypatch, sst):
    parts = hostile.xlsx_parts([("S", hostile.sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c>'
                                                         '<c r="B1" t="s"><v>1</v></c></row>'))],
                               shared=DECL + sst)
    assert_same(hostile.write_zip(tmp_path / "s.xlsx", parts), monkeypatch)


@pytest.mark.parametrize("sheet", [
    "<chartsheet/>",
    f'<x:worksheet xmlns:x="{MAIN}"><x:sheetData><x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row></x:sheetData>'
    "</x:worksheet>",
    f'<?xml version="1.0" encoding="ISO-8859-1"?><worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="str">'
    "<v>\u00c3\u00a9</v></c></row></sheetData></worksheet>",
    f'<?pi <c r="A1"><v>1</v></c>?><worksheet xmlns="{MAIN}"><sheetData/></worksheet>',
    f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData>',  # not closed
    f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="str"><v>\x01</v></c></row></sheetData></worksheet>',
    f'<!DOCTYPE x [<!ENTITY a "b">]><worksheet xmlns="{MAIN}"><sheetData/></worksheet>',
    f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="str"><v>&undefined;</v></c></row></sheetData>'
    "</worksheet>",
])
def test_whole_parts(tmp_path, monkeypatch, sheet):
    data = sheet.encode("latin-1") if "ISO-8859-1" in sheet else sheet.encode("utf-8")
    parts = hostile.xlsx_parts([("S", "")])
    parts["xl/worksheets/sheet1.xml"] = data
    assert_same(hostile.write_zip(tmp_path / "w.xlsx", parts), monkeypatch)


def test_encodings(tmp_path, monkeypatch):
    rows = '<row r="1"><c r="A1" t="str"><v>北京</v></c></row>'
    for encoding, bom in (("utf-16", b""), ("gbk", b""), ("utf-8", b"\xef\xbb\xbf")):
        xml = f'<?xml version="1.0" encoding="{encoding}"?><worksheet xmlns="{MAIN}"><sheetData>{rows}</sheetData>' \
              "</worksheet>"
        parts = hostile.xlsx_parts([("S", "")])
        parts["xl/worksheets/sheet1.xml"] = bom + xml.encode(encoding)
        got = assert_same(hostile.write_zip(tmp_path / f"{encoding}.xlsx", parts), monkeypatch)
        assert got[0] == "read" and got[3][0][2][(1, 1)].value == "北京"


def test_limits_are_the_same(tmp_path, monkeypatch):
    rows = "".join(f'<row r="{r}">' + "".join(f'<c r="{c}{r}"><v>{r}</v></c>' for c in "ABCDE") + "</row>"
                   for r in range(1, 40))
    path = _sheet_file(tmp_path, rows, AFTER["merges"])
    for limits in (Limits(max_cells=50), Limits(max_cells=195), Limits(max_cells=196), Limits(max_cells=197),
                   Limits(max_rows=20), Limits(max_rows=39), Limits(max_rows=1000)):
        assert_same(path, monkeypatch, limits)


def test_large_parts_are_streamed(tmp_path, monkeypatch):
    path = _sheet_file(tmp_path, ROWS["plain"])
    monkeypatch.setattr(scan, "WHOLE_PART_BYTES", 100)
    counting = Counting(monkeypatch)
    read_workbook(path)
    assert counting.sheets == 2 and counting.shared == 1


# ---------------------------------------------------------------------------------------
# random sheets

_refs = st.builds(lambda c, r: f"{c}{r}", st.sampled_from(["A", "B", "Z", "AA", "$C", "c", "XFD", "XFE", ""]),
                  st.sampled_from(["1", "2", "9", "01", "1048576", "1048577", "", "$3"]))
_texts = st.text(alphabet="a北<&\r\n \t_x0D'\"", max_size=6).map(
    lambda s: s.replace("&", "&amp;").replace("<", "&lt;"))
_attrs = st.lists(st.tuples(st.sampled_from(["r", "s", "t", "cm", "x:r"]),
                            st.one_of(_refs, st.sampled_from(["0", "1", "2", "s", "n", "e", "str", "b", "d",
                                                              "inlineStr", " s", ""]))),
                  max_size=4, unique_by=lambda a: a[0]).map(
    lambda attrs: "".join(f' {k}="{v}"' for k, v in attrs))
_inner = st.lists(st.one_of(
    st.builds(lambda t: f"<v>{t}</v>", _texts), st.just("<v/>"), st.builds(lambda t: f"<f>{t}</f>", _texts),
    st.just('<f t="shared" si="0"/>'), st.builds(lambda t: f"<is><t>{t}</t></is>", _texts),
    st.builds(lambda t: f'<is><r><t>{t}</t></r><rPh><t>x</t></rPh></is>', _texts), st.just(" "), st.just("<x/>"),
    st.just("<extLst/>"), st.builds(lambda t: t, _texts)), max_size=3).map("".join)
_cell = st.builds(lambda a, inner, empty: f"<c{a}/>" if empty else f"<c{a}>{inner}</c>", _attrs, _inner,
                  st.booleans())
_row = st.builds(lambda r, cells: f"<row{r}>{''.join(cells)}</row>",
                 st.sampled_from(['', ' r="1"', ' r="2"', " r='3'", ' r="x"', ' r="5" spans="1:2"']),
                 st.lists(_cell, max_size=4))


# Cells of the shapes the scan takes apart (so that it, not the streaming parser, answers):
# references in range, attributes in any order and quoting, the children in schema order.
_good_refs = st.builds(lambda c, r: f"{c}{r}", st.sampled_from(["A", "B", "C", "Z", "AA", "AB"]),
                       st.integers(1, 30))
_quote = st.sampled_from(['"', "'"])
_space = st.sampled_from([" ", " ", " ", "\n  ", "\t"])


def _good_cell(ref, style, kind, order, quote, space, formula, value, inline, empty):
    attrs = [("r", ref)] + ([("s", style)] if style else []) + ([("t", kind)] if kind else [])
    if order:
        attrs.reverse()
    head = "<c" + "".join(f"{space}{k}={quote}{v}{quote}" for k, v in attrs)
    if empty:
        return head + "/>"
    return f"{head}>{formula}{value}{inline}</c>"


_good_cell_xml = st.builds(
    _good_cell, _good_refs, st.sampled_from(["", "0", "1", "2", "7"]),
    st.sampled_from(["", "s", "n", "e", "str", "b", "d", "inlineStr", "zz"]), st.booleans(), _quote, _space,
    st.one_of(st.just(""), st.builds(lambda t: f"<f>{t}</f>", _texts), st.just('<f t="shared" si="0"/>')),
    st.one_of(st.just(""), st.builds(lambda t: f"<v>{t}</v>", _texts), st.just("<v/>"),
              st.sampled_from(["<v>0</v>", "<v>1</v>", "<v>44329</v>", "<v>0.125</v>", "<v>#N/A</v>",
                               "<v>2021-05-13</v>", "<v> 1 </v>"])),
    st.one_of(st.just(""), st.builds(lambda t: f"<is><t>{t}</t></is>", _texts), st.just("<is/>"),
              st.builds(lambda t: f"<is><r><t>{t}</t></r><r><t>b</t></r></is>", _texts)),
    st.booleans())
_good_row = st.builds(lambda r, cells: f'<row r="{r}">{"".join(cells)}</row>', st.integers(1, 30),
                      st.lists(_good_cell_xml, max_size=5))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_good_row, max_size=5), merges=st.lists(_good_refs, max_size=2))
def test_random_plain_sheets_read_the_same(tmp_path, monkeypatch, rows, merges):
    after = ("<mergeCells>" + "".join(f'<mergeCell ref="{m}:AB31"/>' for m in merges) + "</mergeCells>") \
        if merges else ""
    assert_same(_sheet_file(tmp_path, "".join(rows), after), monkeypatch)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_row, max_size=4), merges=st.lists(_refs, max_size=2))
def test_random_sheets_read_the_same(tmp_path, monkeypatch, rows, merges):
    after = ("<mergeCells>" + "".join(f'<mergeCell ref="{m}:B2"/>' for m in merges) + "</mergeCells>") if merges else ""
    assert_same(_sheet_file(tmp_path, "".join(rows), after), monkeypatch)


# ---------------------------------------------------------------------------------------
# the pieces

def test_xml_text_is_what_expat_reports():
    from xml.parsers import expat

    for text in ["plain", "a\r\nb\rc\n", "&lt;&#13;&#10;&#x4EAC;&amp;amp;", "\r\r\n"]:
        got: list[str] = []
        parser = expat.ParserCreate()
        parser.CharacterDataHandler = got.append
        parser.Parse(f"<t>{text}</t>", True)
        assert scan.xml_text(text) == "".join(got)


def test_attributes_are_what_expat_reports():
    from xml.parsers import expat

    for attrs in [' a="1" b=\'2\'', ' r="A\t1\r\n2" s="&#10;&lt;"', ' x:y = "z" ']:
        seen: list[dict[str, str]] = []
        parser = expat.ParserCreate()
        parser.StartElementHandler = lambda _n, a, seen=seen: seen.append(a)
        parser.Parse(f"<e{attrs}/>", True)
        assert scan.attributes(attrs) == seen[0]


def test_checked_text_refuses_a_dtd_as_the_streaming_parser_does():
    with pytest.raises(ReadError) as info:
        scan.checked_text(b'<!DOCTYPE x [<!ENTITY a "b">]><x/>', "p")
    assert info.value.code.name == "F107"
    assert scan.checked_text(b"<x>unclosed", "p") is None
    assert scan.checked_text(b'<?xml version="1.0"?><x><!-- c --></x>', "p") is None
    assert scan.checked_text(b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>\n<x/>', "p") == "\n<x/>"


def test_workbook_equality_helper_sees_differences(tmp_path, monkeypatch):
    """The comparison above is not vacuous: a scan that drops a cell is caught."""
    path = _sheet_file(tmp_path, ROWS["plain"])
    scanned, streamed = both(path, monkeypatch)
    assert scanned == streamed and scanned[0] == "read"
    book: Workbook = read_workbook(path)
    book.sheets[0].cells.pop(next(iter(book.sheets[0].cells)))
    assert [(s.name, s.state, s.cells, s.merged) for s in book.sheets] != scanned[3]


def test_zip_members_read_whole_are_bounded(tmp_path):
    """A part is read whole only up to WHOLE_PART_BYTES as declared; zipfile never inflates beyond."""
    path = _sheet_file(tmp_path, ROWS["plain"])
    with zipfile.ZipFile(path) as zf:
        assert all(info.file_size < scan.WHOLE_PART_BYTES for info in zf.infolist())


def test_slices_never_cut_a_row():
    body = "".join(f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(1, 500))
    pieces = list(scan.slices(body, size=100))
    assert "".join(pieces) == body and len(pieces) > 10
    assert all(p.endswith("</row>") for p in pieces)


@pytest.mark.parametrize("plain", [True, False], ids=["plain cells", "formula cells"])
def test_a_sheet_of_many_slices_reads_as_streamed(tmp_path, monkeypatch, plain):
    """A sheet taken apart slice by slice (here 2 KB slices) gives the cells the streaming parser
    gives, in both the quick scan and the cell-by-cell scan."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for r in range(1, 400):
        ws.cell(r, 1, f"任务{r}")
        ws.cell(r, 2, r * 1.5)
        if not plain:
            ws.cell(r, 3, f"=B{r}*2")
    path = tmp_path / "many.xlsx"
    wb.save(path)
    monkeypatch.setattr(scan, "SLICE", 2048)
    monkeypatch.setattr(scan.slices, "__defaults__", (2048,))
    counting = Counting(monkeypatch)
    assert assert_same(path, monkeypatch)[0] == "read"
    assert counting.sheets == 1  # the one forced stream in assert_same; the scan read the rest


def test_plain_sheets_take_the_quick_scan(tmp_path, monkeypatch):
    """Sheets of plain values as xlsxwriter (and Excel) write them — shared strings, numbers, empty
    styled cells — need no cell-by-cell scan: the root's ``xmlns:r="http…"`` is not a cell
    reference beyond the sheet."""
    import xlsxwriter

    path = tmp_path / "plain.xlsx"
    book = xlsxwriter.Workbook(str(path))
    bold = book.add_format({"bold": True})
    for n in range(3):
        sheet = book.add_worksheet(f"类别{n}")
        for r in range(30):
            sheet.write_string(r, 0, f"任务{r}", bold)
            sheet.write_number(r, 1, r * 1.5)
            sheet.write_blank(r, 2, None, bold)
    book.close()
    assert 'xmlns:r="http' in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    slow = []
    cells = xlsx._XlsxReader._scan_cells
    monkeypatch.setattr(xlsx._XlsxReader, "_scan_cells", lambda self, *a: slow.append(a[0]) or cells(self, *a))
    assert assert_same(path, monkeypatch)[0] == "read"
    assert slow == []
    assert scan.far_references(7).search('<worksheet xmlns:r="http://x"><c r="A1"/>') is None
    assert scan.far_references(7).search('<c s="1" r="XFE1"/>') is not None


# ---------------------------------------------------------------------------------------
# what is remembered between files: the frames of worksheets, and small parts by their bytes

def _checked(data: bytes) -> tuple:
    try:
        return ("text", scan.checked_text(data, "p"))
    except ReadError as exc:
        return ("refused", exc.code, exc.detail)


class Framed:
    """Counts the worksheets checked within a remembered frame (their rows alone)."""

    def __init__(self, monkeypatch):
        self.count = 0
        well_formed = scan._well_formed

        def counted(pieces, check_time):
            self.count += len(pieces) == 3
            return well_formed(pieces, check_time)

        monkeypatch.setattr(scan, "_well_formed", counted)


def _whole(data: bytes, monkeypatch) -> tuple:
    """checked_text with no frame known: the whole part checked."""
    with monkeypatch.context() as patch:
        patch.setattr(scan, "_FRAMES", {})
        patch.setattr(scan, "_frame_bytes", 0)
        return _checked(data)


def _in_frame(head: bytes, content: bytes, tail: bytes, monkeypatch) -> tuple:
    """checked_text of head + content + tail with the frame known (from an empty sheet in it)."""
    with monkeypatch.context() as patch:
        patch.setattr(scan, "_FRAMES", {})
        patch.setattr(scan, "_frame_bytes", 0)
        assert _checked(head + tail)[0] == "text" and (head, tail) in scan._FRAMES
        cut = scan._frame(head + content + tail)
        known = cut is not None and cut[0] in scan._FRAMES
        framed = Framed(patch)
        got = _checked(head + content + tail)
        assert framed.count == known
        return got


_FRAME_HEAD = (b"\xef\xbb\xbf" + DECL.encode() + f'<worksheet xmlns="{MAIN}" xmlns:r="urn:r"><sheetPr/>'
               '<dimension ref="A1:C3"/><sheetData>'.encode())
_FRAME_TAIL = ('</sheetData><mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells><dataValidations>'
               '<dataValidation sqref="A1" prompt="“填写”&amp;&#10;"><formula1>0</formula1></dataValidation>'
               "</dataValidations><extLst><ext/></extLst></worksheet>\n").encode()
FRAMES = {
    "usual": (_FRAME_HEAD, _FRAME_TAIL),
    "bare": (f'<worksheet xmlns="{MAIN}"><sheetData>'.encode(), b"</sheetData></worksheet>"),
    "nested": (f'<worksheet xmlns="{MAIN}"><x><sheetData>'.encode(), b"</sheetData></x></worksheet>"),
}
CONTENTS = {
    **{name: rows.encode() for name, rows in ROWS.items()},
    "empty": b"",
    "spaces": b" \r\n\t",
    "closes-early": b'<row r="1"/></sheetData ><sheetData>',
    "closes-early-spaced": b'<row r="1"/></sheetData >',
    "closes-the-root": b"</sheetData></worksheet><worksheet><sheetData>",
    "unbalanced": b'<row r="1">',
    "stray-end": b"</row>",
    "declaration": b'<?xml version="1.0"?>',
    "doctype": b"<!DOCTYPE x>",
    "undefined-entity": b"<row>&nbsp;</row>",
    "char-zero": b"<row>&#0;</row>",
    "control-char": b"<row>\x01</row>",
    "bad-utf8": b"<row>\xff\xfe</row>",
    "overlong-utf8": b"<row>\xc0\xaf</row>",
    "surrogate-utf8": b"<row>\xed\xa0\x80</row>",
    "nonchar": "<row>\ufffe</row>".encode(),
    "lone-lt": b"<row>a < b</row>",
    "lone-amp": b"<row>a & b</row>",
    "cdata-end": b"<row>]]></row>",
    "duplicate-attribute": b'<row r="1" r="2"/>',
    "unquoted": b"<row r=1/>",
    "lt-in-attribute": b'<row r="<"/>',
    "bad-name": b"<1row/>",
    "prefixed-sheet-data": b"<x:sheetData/>",
    "root-text": b"text only",
    "big-but-plain": b'<row r="1"><c r="A1"><v>1</v></c></row>' * 3000,
}


@pytest.mark.parametrize("frame", sorted(FRAMES))
@pytest.mark.parametrize("content", sorted(CONTENTS))
def test_rows_checked_in_a_known_frame_as_the_whole_part(frame, content, monkeypatch):
    head, tail = FRAMES[frame]
    data = head + CONTENTS[content] + tail
    assert _in_frame(head, CONTENTS[content], tail, monkeypatch) == _whole(data, monkeypatch)


_fragments = st.sampled_from([
    '<row r="1">', "</row>", '<c r="A1" t="s">', "</c>", "<v>1</v>", "<v>", "</v>", "<is><t>x</t></is>", "<x/>",
    "<!-- c -->", "<![CDATA[x]]>", "<?pi x?>", "</sheetData>", "</sheetData >", "<sheetData>", "<sheetData/>",
    "</worksheet>", "<worksheet>", "&amp;", "&lt;", "&bad;", "&#0;", "&#x4eac;", "\x01", "\r\n", "北京", " ", "<", ">",
    "&", "]]>", '"', "'", "=", "<!DOCTYPE x>", "<?xml version='1.0'?>", "\ufeff", "\ufffe", "\x00"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=st.sampled_from(sorted(FRAMES)), pieces=st.lists(_fragments, max_size=8),
       raw=st.binary(max_size=3))
def test_random_rows_checked_in_a_known_frame_as_the_whole_part(monkeypatch, frame, pieces, raw):
    head, tail = FRAMES[frame]
    content = "".join(pieces).encode() + raw
    assert _in_frame(head, content, tail, monkeypatch) == _whole(head + content + tail, monkeypatch)


def _corpus_parts() -> list[bytes]:
    parts = []
    for rel in CORPUS_XLSX:
        path = CORPUS / rel
        if path.stat().st_size > 5 * 1024 * 1024:
            continue
        try:
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if info.file_size < 4 * 1024 * 1024 and info.filename.lower().endswith(".xml"):
                        data = zf.read(info)
                        if b"<sheetData" in data:
                            parts.append(data)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
            continue
    return parts


@pytest.mark.skipif(not CORPUS_XLSX, reason="corpus not available")
def test_corpus_sheets_checked_in_known_frames_as_whole_parts(monkeypatch):
    """Every worksheet of the corpus (hostile ones too): checked again once its frame is known, and
    its rows checked in other sheets' frames, as the whole part is."""
    parts = _corpus_parts()
    assert len(parts) > 100
    framed = 0
    for data in parts:
        whole = _whole(data, monkeypatch)
        with monkeypatch.context() as patch:
            patch.setattr(scan, "_FRAMES", {})
            patch.setattr(scan, "_frame_bytes", 0)
            assert _checked(data) == whole
            counting = Framed(patch)
            assert _checked(data) == whole  # its own frame known when it was found well-formed
            framed += counting.count
        cut = scan._frame(data)
        if cut is not None:
            for head, tail in FRAMES.values():
                assert _in_frame(head, cut[1], tail, monkeypatch) == _whole(head + cut[1] + tail, monkeypatch)
    assert framed > 100


def test_frames_are_bounded(monkeypatch):
    monkeypatch.setattr(scan, "_FRAMES", {})
    monkeypatch.setattr(scan, "_frame_bytes", 0)
    monkeypatch.setattr(scan, "FRAME_BYTES", 64 * 1024)
    for n in range(200):
        head = f'<worksheet xmlns="{MAIN}" n="{n}{"x" * 1000}"><sheetData>'.encode()
        assert _checked(head + b"</sheetData></worksheet>")[0] == "text"
        assert scan._frame_bytes <= scan.FRAME_BYTES and len(scan._FRAMES) <= 64
    huge = f'<worksheet xmlns="{MAIN}" n="{"x" * 10_000}"><sheetData>'.encode()
    assert _checked(huge + b"</sheetData></worksheet>")[0] == "text" and (huge, b"</sheetData></worksheet>") \
        not in scan._FRAMES  # a frame of more than a sixteenth of the budget is not kept


def test_returns_of_a_template_are_checked_in_known_frames(tmp_path, monkeypatch):
    """Returns of the same template, filled in differently: from the second on, their sheets are
    checked within known frames, and their parts taken from the memo; they read as streamed."""
    ws = make_workspace(tmp_path)
    paths = [make_return(ws, tmp_path / "in", name=f"{n}.xlsx", values={"1-1-1": {"本期完成": value}})
             for n, value in enumerate(("约59家", 12.5, None))]
    monkeypatch.setattr(scan, "_FRAMES", {})
    monkeypatch.setattr(scan, "_frame_bytes", 0)
    monkeypatch.setattr(package, "PARTS", package.PartMemo())
    monkeypatch.setattr(xlsx, "PARTS", package.PARTS)
    first = outcome(paths[0])
    framed = Framed(monkeypatch)
    remembered = len(package.PARTS._items)
    assert remembered >= 4  # the package's and the workbook's relationships, the workbook, the styles
    for path in paths[1:]:
        assert_same(path, monkeypatch)
    assert framed.count >= 2 * len(first[3])
    assert len(package.PARTS._items) == remembered


def test_remembered_parts_are_not_changed_by_their_readers(tmp_path):
    path = _sheet_file(tmp_path, ROWS["plain"])
    with zipfile.ZipFile(path) as zf:
        rels = zf.read("xl/_rels/workbook.xml.rels")
    first = package._parse_rels(rels, "xl")
    first.clear()
    assert package._parse_rels(rels, "xl") and package._parse_rels(rels, "xl") is not package._parse_rels(rels, "xl")
    assert package._parse_rels(rels, "") != package._parse_rels(rels, "xl")  # the folder counts


def test_refused_parts_are_not_remembered(tmp_path, monkeypatch):
    """A part that raised raises again, with the same reason; a memo full of parts starts again."""
    parts = hostile.xlsx_parts([("S", hostile.sheet_xml('<row r="1"><c r="A1"><v>1</v></c></row>'))])
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"][:-20]
    path = hostile.write_zip(tmp_path / "broken.xlsx", parts)
    assert outcome(path)[0] == "refused" and outcome(path) == outcome(path)
    memo = package.PartMemo(budget=10)
    memo.put(b"12345678", ("k",), 1)
    memo.put(b"abcdefgh", ("k",), 2)
    assert memo.get(b"12345678", ("k",)) is None and memo.get(b"abcdefgh", ("k",)) == 2
    memo.largest = 4
    assert memo.get(b"abcdefgh", ("k",)) is None


def test_a_sheet_of_new_references_reads_as_streamed_without_remembering_them(tmp_path, monkeypatch):
    """A sheet like the master's 目标分解 (tens of thousands of rows, each reference new) takes the
    quickest scan without the cache of positions, and reads as streamed."""
    import xlsxwriter

    path = tmp_path / "big.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("目标分解")
    for r in range(6000):
        sheet.write_string(r, 0, f"单位{r % 97}")
        sheet.write_string(r, 1, f"{r % 7}-{r % 5}-{r % 3}")
        sheet.write_number(r, 2, r * 0.5)
    book.close()
    with zipfile.ZipFile(path) as zf:
        assert len(zf.read("xl/worksheets/sheet1.xml")) > xlsx._REMEMBERED_SHEET
    monkeypatch.setattr(xlsx, "_POSITIONS", {})
    quick = Quick(monkeypatch)
    got = assert_same(path, monkeypatch)
    assert got[0] == "read" and len(got[3][0][2]) == 18_000 and got[3][0][2][(6000, 3)].value == 2999.5
    assert quick.quick == 2 and not quick.other  # read twice by assert_same, then streamed
    assert xlsx._POSITIONS == {}
    # and a small sheet read that way too (every sheet bigger than nothing) reads the same
    monkeypatch.setattr(xlsx, "_REMEMBERED_SHEET", 0)
    assert_same(_sheet_file(tmp_path, ROWS["quick-shapes"], AFTER["plain-merges"]), monkeypatch)
