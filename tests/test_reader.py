"""The spreadsheet reader: hostile inputs get a specific Chinese reason, real files read right.

Hostile files are built in code by tests/hostile.py; corpus files
(/work/shared/corpus, see its README) are used where they exist and skipped otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit import reader
from toolkit.errors import ReadError
from toolkit.findings import Code, make
from toolkit.reader import Cell, Limits, Workbook, is_skippable, read_workbook, sniff

try:
    from tests import hostile
except ImportError:  # tests/ on sys.path itself (pytest's rootdir insertion)
    import hostile

CORPUS = Path(__file__).parents[1].parent / "shared" / "corpus" / "public"
CJK = re.compile(r"[\u4e00-\u9fff]")
FAST = Limits(seconds=2)


def corpus_file(rel: str) -> Path:
    path = CORPUS / rel
    if not path.is_file():
        pytest.skip(f"corpus file {rel} not available")
    return path


def read_error(path: Path, limits: Limits = Limits()) -> ReadError:
    with pytest.raises(ReadError) as info:
        read_workbook(path, limits)
    err = info.value
    assert err.detail, "a ReadError must say why"
    if err.code is not Code.F109:  # F109's detail is the number of seconds
        assert CJK.search(err.detail), f"detail is not Chinese: {err.detail!r}"
    message = make(err.code, file=path.name, sheet=err.sheet, detail=err.detail).message
    assert CJK.search(message)
    return err


def cells(book: Workbook, sheet: int = 0) -> dict[tuple[int, int], object]:
    return {k: c.value for k, c in book.sheets[sheet].cells.items()}


# ---------------------------------------------------------------------------
# formats by content, never by name: a workbook named otherwise is read as what it is


@pytest.mark.parametrize("rel", ["calamine/tests/issues.xls", "calamine/tests/issue127.ods"])
@pytest.mark.parametrize("name", ["报表.xlsx", "报表", "报表.xls.pdf"])
def test_workbook_under_another_name_is_read(tmp_path, rel, name):
    src = corpus_file(rel)
    target = shutil.copy(src, tmp_path / name)
    assert cells(read_workbook(target)) == cells(read_workbook(src))
    assert reader.classify(target)[0] is reader.Content.WORKBOOK


def test_encrypted_xls_named_xlsx_is_still_f103(tmp_path):
    target = shutil.copy(corpus_file("python-calamine/tests/data/password.xls"), tmp_path / "报表.xlsx")
    assert read_error(target).code is Code.F103


@pytest.mark.parametrize("build, content, words", [
    (hostile.docx, reader.Content.DOCUMENT, "Word"),
    (hostile.pdf, reader.Content.DOCUMENT, "PDF"),
    (hostile.png, reader.Content.DOCUMENT, "图片"),
    (hostile.word_doc, reader.Content.DOCUMENT, "Word"),
    (hostile.real_xlsx, reader.Content.WORKBOOK, ""),
    (hostile.encrypted_ooxml, reader.Content.WORKBOOK, ""),
    (hostile.garbage_xls, reader.Content.WORKBOOK, ""),
], ids=["docx", "pdf", "png", "word-doc-ole", "xlsx", "encrypted", "damaged-xls"])
def test_classify_by_content(tmp_path, build, content, words):
    path = build(tmp_path / "报表.xlsx")  # the name always says spreadsheet: only the bytes count
    kind, what = reader.classify(path)
    assert kind is content and words in what


@pytest.mark.parametrize("text, content", [
    ("关于报送4月份重点工作进展情况的说明\n请审阅。", reader.Content.DOCUMENT),  # a cover note
    ("指标编号,本期完成\n1-1-1,59\n", reader.Content.WORKBOOK),  # CSV: a failed return, refused with advice
    ("<html><body><table><tr><td>1</td></tr></table></body></html>", reader.Content.WORKBOOK),
    ("From: 科技局 <kj@smx.gov.cn>\nTo: dcs@smx.gov.cn\nSubject: 报表\nDate: Fri, 07 May 2021 10:05:00 +0800\n\n见附件",
     reader.Content.MAIL),
    ("Received: from mx.smx.gov.cn\n\tby mail; Fri, 07 May 2021 10:05:00 +0800\nSubject: x\n\nbody",
     reader.Content.MAIL),
    ("MIME-Version: 1.0\nX-Document-Type: Workbook\nContent-Type: multipart/related; boundary=x\n\n--x",
     reader.Content.WORKBOOK),  # an Excel "single file web page" (.mht) is no mail
])
def test_classify_text(tmp_path, text, content):
    path = tmp_path / "收到的文件"
    path.write_text(text, encoding="utf-8")
    assert reader.classify(path)[0] is content


def test_classify_archives_and_unknown_bytes(tmp_path):
    plain = hostile.write_zip(tmp_path / "报表.zip", {"a.xlsx": hostile.real_xlsx(tmp_path / "a.xlsx").read_bytes()})
    assert reader.classify(plain) == (reader.Content.ARCHIVE, "压缩包")
    (tmp_path / "r.rar").write_bytes(b"Rar!\x1a\x07\x00" + b"\x00" * 64)
    assert reader.classify(tmp_path / "r.rar")[0] is reader.Content.DOCUMENT
    noise = bytes(range(256)) * 8
    (tmp_path / "照片.heic").write_bytes(noise)
    (tmp_path / "报表.xlsx").write_bytes(noise)
    assert reader.classify(tmp_path / "照片.heic")[0] is reader.Content.DOCUMENT  # unknown: the name decides
    assert reader.classify(tmp_path / "报表.xlsx")[0] is reader.Content.WORKBOOK  # ... refused by the reader


# ---------------------------------------------------------------------------
# not a spreadsheet: F102 names what it is


@pytest.mark.parametrize("build, words", [
    (hostile.docx, "Word"),
    (hostile.pdf, "PDF"),
    (hostile.png, "图片"),
    (hostile.word_doc, "Word"),
], ids=["docx", "pdf", "png", "word-doc-ole"])
def test_foreign_file_renamed_to_xlsx(tmp_path, build, words):
    err = read_error(build(tmp_path / "报表.xlsx"))
    assert err.code is Code.F102
    assert words in err.detail


@pytest.mark.parametrize("content, words", [
    (b"<html><body><table><tr><td>1</td></tr></table></body></html>", "网页"),
    ("序号,单位,完成数\n1,市发改委,59\n".encode("gbk"), "CSV"),
    (b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>', "2003 XML"),
    (b"Rar!\x1a\x07\x00" + b"\x00" * 20, "压缩包"),
], ids=["html-as-xls", "csv", "spreadsheetml-2003", "rar"])
def test_other_formats_named(tmp_path, content, words):
    path = tmp_path / "报表.xls"
    path.write_bytes(content)
    err = read_error(path)
    assert err.code is Code.F102 and words in err.detail


def test_zip_without_workbook(tmp_path):
    path = tmp_path / "a.xlsx"
    path.write_bytes(hostile.zip_of({"说明.txt": b"hello", "报表.xlsx": b"PK"}))
    err = read_error(path)
    assert err.code is Code.F102 and "解压" in err.detail


# ---------------------------------------------------------------------------
# encrypted: F103 with the fixed message


def test_encrypted_ooxml_built_in_code(tmp_path):
    err = read_error(hostile.encrypted_ooxml(tmp_path / "加密.xlsx"))
    assert err.code is Code.F103
    assert make(err.code, detail=err.detail).message.startswith("文件已加密，请取消密码后重新报送")


@pytest.mark.parametrize("rel", [
    "excelize/test/encryptAES.xlsx",
    "excelize/test/encryptSHA1.xlsx",
    "excelize/test/encryptSHA512.xlsx",
    "calamine/tests/pass_protected.xlsx",
    "calamine/tests/pass_protected.xlsb",
    "calamine/tests/pass_protected.ods",
    "python-calamine/tests/data/password.xls",
    "python-calamine/tests/data/password.xlsx",
])
def test_encrypted_corpus_files(tmp_path, rel):
    path = shutil.copy(corpus_file(rel), tmp_path / f"renamed{Path(rel).suffix}")
    err = read_error(Path(path))
    assert err.code is Code.F103


def test_zip_level_password_flag(tmp_path):
    err = read_error(hostile.zip_flagged_encrypted(tmp_path / "a.xlsx"))
    assert err.code is Code.F103


# ---------------------------------------------------------------------------
# empty, truncated, too big


def test_empty_file(tmp_path):
    path = tmp_path / "empty.xlsx"
    path.write_bytes(b"")
    assert read_error(path).code is Code.F104


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.1])
def test_truncated_xlsx(tmp_path, fraction):
    real = hostile.real_xlsx(tmp_path / "real.xlsx")
    err = read_error(hostile.truncated(real, tmp_path / "cut.xlsx", fraction))
    assert err.code is Code.F104


def test_truncated_xls(tmp_path):
    src = corpus_file("calamine/tests/issues.xls")
    cut = tmp_path / "cut.xls"
    cut.write_bytes(src.read_bytes()[:2000])
    assert read_error(cut).code in (Code.F101, Code.F104)


def test_file_over_size_limit(tmp_path):
    start = time.monotonic()
    err = read_error(hostile.oversized(tmp_path / "big.xlsx", 25 * 1024 * 1024))
    assert err.code is Code.F105 and "MB" in err.detail
    assert time.monotonic() - start < 0.5


def test_size_limit_is_configurable(tmp_path):
    real = hostile.real_xlsx(tmp_path / "real.xlsx")
    assert read_error(real, Limits(max_file_bytes=1000)).code is Code.F105


def test_not_a_regular_file(tmp_path):
    assert read_error(tmp_path).code is Code.F101
    assert read_error(tmp_path / "missing.xlsx").code is Code.F101


# ---------------------------------------------------------------------------
# zip bombs: refused on declared sizes, before anything is inflated


def test_zip_bomb_ratio_refused_before_inflating(tmp_path, monkeypatch):
    path = hostile.zip_bomb_ratio(tmp_path / "bomb.xlsx", megabytes=50)
    assert path.stat().st_size < 1024 * 1024

    def no_inflating(*_args, **_kwargs):
        raise AssertionError("inflated a member of a zip bomb")

    monkeypatch.setattr(zipfile.ZipExtFile, "read", no_inflating)
    monkeypatch.setattr(zipfile.ZipExtFile, "read1", no_inflating)
    err = read_error(path)
    assert err.code is Code.F106 and "压缩比" in err.detail


def test_zip_bomb_declared_size(tmp_path):
    err = read_error(hostile.zip_bomb_declared(tmp_path / "bomb.xlsx"))
    assert err.code is Code.F106


def test_zip_with_too_many_members(tmp_path):
    err = read_error(hostile.many_members(tmp_path / "many.xlsx", 6_000))
    assert err.code is Code.F106 and "部件" in err.detail


def test_zip_unsupported_compression(tmp_path):
    assert read_error(hostile.zip_unsupported_method(tmp_path / "a.xlsx")).code is Code.F101


# ---------------------------------------------------------------------------
# XML tricks: F107, nothing expands, nothing is fetched


@pytest.mark.parametrize("build", [hostile.billion_laughs, hostile.external_entity,
                                   hostile.external_entity_in_rels],
                         ids=["billion-laughs", "xxe-file-etc-passwd", "xxe-in-rels"])
def test_entity_tricks(tmp_path, build):
    start = time.monotonic()
    err = read_error(build(tmp_path / "x.xlsx"))
    assert err.code is Code.F107
    assert "DTD" in err.detail
    assert time.monotonic() - start < 1


@pytest.mark.parametrize("encoding, declared, bom", [
    ("UTF-7", None, False),
    ("EBCDIC", "IBM037", False),
    ("utf-32-be", "UTF-32", False),
    ("utf-8", "UTF-16", False),
    ("utf-16-le", "UTF-8", True),
], ids=["utf-7", "ebcdic", "utf-32", "declares-utf16-is-utf8", "declares-utf8-is-utf16"])
def test_encoding_tricks_built(tmp_path, encoding, declared, bom):
    err = read_error(hostile.encoded_part(tmp_path / "x.xlsx", encoding, declared=declared, bom=bom))
    assert err.code is Code.F107 and "编码" in err.detail


@pytest.mark.parametrize("rel", [
    "php_dontuse/utf7white.xlsx", "php_dontuse/utf7quoteorder.xlsx", "php_dontuse/ebcdic.xlsx",
    "php_dontuse/utf16entity.xlsx", "php_dontuse/utf8and16.xlsx", "php_dontuse/utf8and16.entity.xlsx",
    "php_dontuse/utf8entity.xlsx",
])
def test_encoding_tricks_corpus(rel):
    err = read_error(corpus_file(rel))
    assert err.code is Code.F107


@pytest.mark.parametrize("encoding, declared, bom", [
    ("utf-16-le", "UTF-16", True),
    ("utf-16-be", "UTF-16", True),
    ("gbk", "GBK", False),
    ("gb18030", "GB2312", False),
], ids=["utf16le-bom", "utf16be-bom", "gbk", "gb2312"])
def test_legitimate_encodings_read(tmp_path, encoding, declared, bom):
    book = read_workbook(hostile.encoded_part(tmp_path / "x.xlsx", encoding, declared=declared, bom=bom))
    assert cells(book) == {(1, 1): "中文内容"}


# ---------------------------------------------------------------------------
# absurd sizes and floods: answered fast, bounded by the clock


def test_dimension_bomb_answered_fast(tmp_path):
    path = hostile.dimension_bomb(tmp_path / "2x6m.xlsx")
    assert path.stat().st_size < 2000
    start = time.monotonic()
    err = read_error(path)
    assert time.monotonic() - start < 1
    assert err.code is Code.F108 and err.sheet == "Sheet1"


def test_dimension_bomb_corpus():
    start = time.monotonic()
    err = read_error(corpus_file("php_dontuse/2x6m.xlsx"))
    assert err.code is Code.F108
    assert time.monotonic() - start < 1


def test_dimension_tag_is_not_trusted(tmp_path):
    book = read_workbook(hostile.lying_dimension(tmp_path / "x.xlsx"))
    assert cells(book) == {(1, 1): 1.0, (1, 2): 2.0}


def test_cell_beyond_last_column(tmp_path):
    path = hostile.write_xlsx(tmp_path / "x.xlsx", [("S", hostile.sheet_xml(
        '<row r="1"><c r="XFE1"><v>1</v></c></row>'))])
    assert read_error(path).code is Code.F108


def test_bad_row_number(tmp_path):
    path = hostile.write_xlsx(tmp_path / "x.xlsx", [("S", hostile.sheet_xml('<row r="-5"/>'))])
    assert read_error(path).code is Code.F108


# loose limits so that only the clock can stop these
FLOOD = Limits(seconds=0.5, max_ratio=10**9, max_uncompressed_bytes=10**10)


@pytest.mark.parametrize("build", [
    lambda p: hostile.cell_flood(p, 3_000_000),
    lambda p: hostile.flood(p, '<row r="7"/>', 3_000_000),
    lambda p: hostile.shared_strings_flood(p, 3_000_000),
], ids=["empty-c", "empty-rows", "shared-strings"])
def test_floods_stop_on_the_clock(tmp_path, build):
    path = build(tmp_path / "flood.xlsx")
    start = time.monotonic()
    err = read_error(path, FLOOD)
    elapsed = time.monotonic() - start
    assert err.code is Code.F109
    assert elapsed < FLOOD.seconds + 0.5


def test_floods_refused_as_bombs_by_default(tmp_path):
    assert read_error(hostile.cell_flood(tmp_path / "f.xlsx", 3_000_000)).code is Code.F106


def test_cell_count_limit(tmp_path):
    rows = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>' for r in range(1, 101))
    path = hostile.write_xlsx(tmp_path / "x.xlsx", [("S", hostile.sheet_xml(rows))])
    assert read_error(path, Limits(max_cells=50)).code is Code.F108


def test_deep_nesting_is_harmless(tmp_path):
    book = read_workbook(hostile.deep_nesting(tmp_path / "deep.xlsx"), FAST)
    assert cells(book) == {(1, 1): 1.0}


# ---------------------------------------------------------------------------
# Strict OOXML


def test_strict_reads_like_transitional(tmp_path):
    real = hostile.real_xlsx(tmp_path / "real.xlsx")
    strict = hostile.to_strict(real, tmp_path / "strict.xlsx")
    assert b"purl.oclc.org" in zipfile.ZipFile(strict).read("xl/workbook.xml")
    a, b = read_workbook(real), read_workbook(strict)
    assert b.strict and not a.strict
    assert [(s.name, s.state) for s in b.sheets] == [(s.name, s.state) for s in a.sheets]
    assert len(b.sheets[0].cells) > 100
    for sa, sb in zip(a.sheets, b.sheets, strict=True):
        assert sb.cells == sa.cells
        assert sb.merged == sa.merged


def test_strict_corpus_file():
    book = read_workbook(corpus_file("calamine/tests/strict_iso_paths.xlsx"))
    assert book.strict and book.sheets and book.sheets[0].cells


# ---------------------------------------------------------------------------
# what the xlsx parser gets right


def _book(tmp_path, rows: str, **kwargs) -> Workbook:
    return read_workbook(hostile.write_xlsx(tmp_path / "t.xlsx", [("S", hostile.sheet_xml(rows))], **kwargs))


def test_shared_strings_rich_text_and_phonetic(tmp_path):
    shared = hostile.shared_xml([
        "<t>plain</t>",
        '<r><rPr><b/></rPr><t>市</t></r><r><t xml:space="preserve">发改委 </t></r>',
        "<t>漢字</t><rPh sb=\"0\" eb=\"2\"><t>かんじ</t></rPh><phoneticPr fontId=\"1\"/>",
        "<t>ABC_x000D_\nDEF</t>",
    ])
    rows = hostile.rows_of({f"A{i}": f'<c r="A{i}" t="s"><v>{i - 1}</v></c>' for i in range(1, 5)})
    assert cells(_book(tmp_path, rows, shared=shared)) == {
        (1, 1): "plain", (2, 1): "市发改委 ", (3, 1): "漢字", (4, 1): "ABC\r\nDEF"}


def test_inline_strings(tmp_path):
    rows = ('<row r="1"><c r="A1" t="inlineStr"><is><t>内联</t></is></c>'
            '<c r="B1" t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r></is></c></row>')
    assert cells(_book(tmp_path, rows)) == {(1, 1): "内联", (1, 2): "ab"}


def test_cells_and_rows_without_r(tmp_path):
    rows = "<row><c><v>1</v></c><c><v>2</v></c><c r=\"E1\"><v>5</v></c><c><v>6</v></c></row><row><c><v>3</v></c></row>"
    assert cells(_book(tmp_path, rows)) == {(1, 1): 1.0, (1, 2): 2.0, (1, 5): 5.0, (1, 6): 6.0, (2, 1): 3.0}


def test_iso_date_cells(tmp_path):
    rows = ('<row r="1"><c r="A1" t="d"><v>2021-05-13</v></c><c r="B1" t="d"><v>2021-05-13T08:30:00Z</v></c>'
            '<c r="C1" t="d"><v>10:10:10</v></c><c r="D1" t="d"><v>not a date</v></c></row>')
    sheet = _book(tmp_path, rows).sheets[0]
    assert sheet.value(1, 1) == dt.datetime(2021, 5, 13) and sheet.cell(1, 1).is_date
    assert sheet.value(1, 2) == dt.datetime(2021, 5, 13, 8, 30)
    assert sheet.value(1, 3) == dt.datetime(1899, 12, 30, 10, 10, 10)
    assert sheet.cell(1, 4) is reader.EMPTY


def test_1904_date_system(tmp_path):
    rows = '<row r="1"><c r="A1" s="1"><v>0</v></c><c r="B1" s="1"><v>42500</v></c></row>'
    book = _book(tmp_path, rows, styles=hostile.styles_xml([0, 14]), workbook_pr='<workbookPr date1904="1"/>')
    assert cells(book) == {(1, 1): dt.datetime(1904, 1, 1), (1, 2): dt.datetime(2020, 5, 11)}


def test_1900_leap_year_bug(tmp_path):
    rows = '<row r="1">' + "".join(f'<c r="{c}1" s="1"><v>{v}</v></c>'
                                   for c, v in zip("ABCD", (1, 59, 61, 44329.5), strict=True)) + "</row>"
    assert cells(_book(tmp_path, rows, styles=hostile.styles_xml([0, 14]))) == {
        (1, 1): dt.datetime(1900, 1, 1), (1, 2): dt.datetime(1900, 2, 28), (1, 3): dt.datetime(1900, 3, 1),
        (1, 4): dt.datetime(2021, 5, 13, 12)}


@pytest.mark.parametrize("fmt_id", [*range(27, 37), *range(50, 59), 14, 22])
def test_chinese_builtin_date_formats(tmp_path, fmt_id):
    book = _book(tmp_path, '<row r="1"><c r="A1" s="1"><v>44329</v></c></row>',
                 styles=hostile.styles_xml([0, fmt_id]))
    cell = book.sheets[0].cell(1, 1)
    assert cell.is_date and isinstance(cell.value, dt.datetime)
    assert cell.value.date() == dt.date(2021, 5, 13)


@pytest.mark.parametrize("code, is_date", [
    ('yyyy"年"m"月"d"日"', True), ("yyyy年m月d日", True), ("[$-804]yyyy/m/d", True), ("[DBNum1]m月d日", True),
    ("h:mm:ss", True), ("[h]:mm:ss", False), ('0.00"元"', False), ("#,##0.00_);[Red](#,##0.00)", False),
    ("General", False), ("G/通用格式", False), ("@", False), ('0"个"', False),
])
def test_custom_date_format_detection(tmp_path, code, is_date):
    book = _book(tmp_path, '<row r="1"><c r="A1" s="1"><v>44329</v></c></row>',
                 styles=hostile.styles_xml([0, 164], {164: code}))
    cell = book.sheets[0].cell(1, 1)
    assert cell.is_date is is_date
    assert cell.numfmt == code
    assert isinstance(cell.value, dt.datetime if is_date else float)


@pytest.mark.parametrize("fmt_id, custom, expected", [
    (9, None, True), (10, None, True), (164, "0.0%", True), (164, '0.00"%"', False), (2, None, False)])
def test_percent_formats(tmp_path, fmt_id, custom, expected):
    book = _book(tmp_path, '<row r="1"><c r="A1" s="1"><v>0.125</v></c></row>',
                 styles=hostile.styles_xml([0, fmt_id], {fmt_id: custom} if custom else None))
    cell = book.sheets[0].cell(1, 1)
    assert cell.is_percent is expected and cell.value == 0.125


def test_error_cells(tmp_path):
    rows = ('<row r="1"><c r="A1" t="e"><f>1/0</f><v>#DIV/0!</v></c><c r="B1" t="e"><v>#N/A</v></c></row>')
    sheet = _book(tmp_path, rows).sheets[0]
    assert sheet.cell(1, 1) == Cell(value=None, formula="1/0", error="#DIV/0!")
    assert sheet.cell(1, 2).error == "#N/A" and not sheet.cell(1, 2).missing_cached_value


def test_formulas_with_and_without_cached_value(tmp_path):
    rows = ('<row r="1"><c r="A1"><f>SUM(B1:C1)</f><v>3</v></c><c r="B1"><f>1+1</f></c>'
            '<c r="C1"><f>1+1</f><v></v></c><c r="D1" t="str"><f>"a"&amp;"b"</f><v>ab</v></c>'
            '<c r="E1" t="str"><f>""</f><v></v></c><c r="F1"><f t="shared" si="0"/></c></row>')
    sheet = _book(tmp_path, rows).sheets[0]
    assert sheet.cell(1, 1).value == 3.0 and not sheet.cell(1, 1).missing_cached_value
    assert sheet.cell(1, 2).missing_cached_value and sheet.cell(1, 2).formula == "1+1"
    assert sheet.cell(1, 3).missing_cached_value
    assert sheet.value(1, 4) == "ab"
    assert sheet.value(1, 5) == "" and not sheet.cell(1, 5).missing_cached_value
    assert sheet.cell(1, 6).missing_cached_value


def test_booleans_and_odd_numbers(tmp_path):
    rows = ('<row r="1"><c r="A1" t="b"><v>1</v></c><c r="B1" t="b"><v>0</v></c>'
            '<c r="C1"><v> 1.5E+3 </v></c><c r="D1"><v>N/A</v></c><c r="E1"><v>nan</v></c></row>')
    assert cells(_book(tmp_path, rows)) == {(1, 1): True, (1, 2): False, (1, 3): 1500.0, (1, 4): "N/A",
                                            (1, 5): "nan"}


def test_merged_ranges_and_sheet_states(tmp_path):
    merged = '<mergeCells count="2"><mergeCell ref="A1:D1"/><mergeCell ref="B3:B5"/></mergeCells>'
    sheets = [("可见", hostile.sheet_xml('<row r="1"><c r="A1"><v>1</v></c></row>', after=merged)),
              ("隐藏", hostile.sheet_xml("")), ("深度隐藏", hostile.sheet_xml(""))]
    book = read_workbook(hostile.write_xlsx(tmp_path / "m.xlsx", sheets,
                                            states={"隐藏": "hidden", "深度隐藏": "veryHidden"}))
    assert [(s.name, s.state) for s in book.sheets] == [("可见", "visible"), ("隐藏", "hidden"),
                                                        ("深度隐藏", "veryHidden")]
    assert book.sheets[0].merged == [(1, 1, 1, 4), (3, 2, 5, 2)]


def test_extlst_content_is_ignored(tmp_path):
    ext = ('<extLst><ext uri="{x}"><x14:conditionalFormattings xmlns:x14="urn:x14"><x14:conditionalFormatting>'
           '<xm:f xmlns:xm="urn:xm">A1</xm:f><c r="Z9"><v>9</v></c></x14:conditionalFormatting>'
           "</x14:conditionalFormattings></ext></extLst>")
    book = read_workbook(hostile.write_xlsx(tmp_path / "e.xlsx", [("S", hostile.sheet_xml(
        '<row r="1"><c r="A1"><v>1</v></c></row>', after=ext))]))
    assert cells(book) == {(1, 1): 1.0}


def test_real_workbook_written_by_xlsxwriter(tmp_path):
    book = read_workbook(hostile.real_xlsx(tmp_path / "real.xlsx"))
    main, hidden = book.sheets
    assert main.name == "一、重点工作" and hidden.state == "hidden"
    assert main.value(1, 1) == "2021年重点工作进展情况" and (1, 1, 1, 4) in main.merged
    assert main.value(3, 2) == "任务1：推进城市更新项目"
    assert main.cell(3, 4).is_percent and main.value(3, 4) == 1 / 40
    assert main.cell(2, 6).is_date and main.value(2, 6) == dt.datetime(2021, 5, 13)
    assert main.cell(40, 3) == Cell(value=8787.5, formula="SUM(C3:C39)")


def test_sheets_filter(tmp_path):
    real = hostile.real_xlsx(tmp_path / "real.xlsx")
    assert read_workbook(real, sheets={"参数"}).sheet_names == ["参数"]


@pytest.mark.parametrize("rel", ["sheetjs/wps/fn.xlsx", "sheetjs/artifacts/wps/write.xlsx"])
def test_wps_files(rel):
    book = read_workbook(corpus_file(rel))
    sheet = book.sheets[0]
    if rel.endswith("write.xlsx"):
        assert sheet.row_values(1)[:3] == [1.0, 2.0, 3.0]
        assert sheet.value(2, 1) is True and sheet.value(2, 2) is False
        assert sheet.value(3, 3) == dt.datetime(2014, 2, 19) and sheet.cell(3, 3).is_date
    else:
        assert sheet.cell(2, 3) == Cell(value=2.0, formula='EVALUATE("1+1")')
        assert sheet.cell(3, 3).error == "#VALUE!"


@pytest.mark.parametrize("rel", [
    "calamine/tests/issue_530.xlsx",  # backslashes in member names
    "openpyxl/openpyxl/tests/data/reader/nonstandard_workbook_name.xlsx",  # xl/workbook10.xml
    "calamine/tests/minimal_package.xlsx",  # workbook at the zip root
    "calamine/tests/nonstandard-xml-ns-prefix.xlsx",
])
def test_unusual_packages(rel):
    book = read_workbook(corpus_file(rel))
    assert book.sheets


def test_chart_sheets_are_skipped():
    book = read_workbook(corpus_file("openpyxl/openpyxl/reader/tests/data/contains_chartsheets.xlsx"))
    assert book.sheet_names == ["data", "moredata"]


# ---------------------------------------------------------------------------
# xls / ods / xlsb through calamine in a child process


def test_xls_dates_states_and_merges():
    book = read_workbook(corpus_file("calamine/tests/any_sheets.xls"))
    assert [(s.name, s.state) for s in book.sheets] == [
        ("Visible", "visible"), ("Hidden", "hidden"), ("VeryHidden", "veryHidden")]
    merged = read_workbook(corpus_file("calamine/tests/merged_range.xls")).sheets[0].merged
    assert (1, 3, 2, 4) in merged
    dates = read_workbook(corpus_file("calamine/tests/date.xls")).sheets[0]
    assert dates.value(1, 1) == dt.datetime(2021, 1, 1) and dates.cell(1, 1).is_date


def test_ods_times_are_datetimes():
    sheet = read_workbook(corpus_file("calamine/tests/date.ods")).sheets[0]
    assert sheet.value(3, 1) == dt.datetime(1899, 12, 30, 10, 10, 10) and sheet.cell(3, 1).is_date


def test_xls_and_xlsx_agree():
    a = read_workbook(corpus_file("sheetjs/artifacts/wps/write.xls")).sheets[0]
    b = read_workbook(corpus_file("sheetjs/artifacts/wps/write.xlsx")).sheets[0]
    assert {k: c.value for k, c in a.cells.items()} == {k: c.value for k, c in b.cells.items()}


def test_garbage_xls_is_refused_in_the_child(tmp_path):
    assert read_error(hostile.garbage_xls(tmp_path / "g.xls")).code in (Code.F101, Code.F104)


def _hog(*_args):
    return bytearray(2 * 1024 * 1024 * 1024)  # 2 GiB


def _abort(*_args):
    import os

    os.abort()  # what native code does when an allocation fails


def _segfault(*_args):
    import ctypes

    ctypes.string_at(0)


@pytest.mark.parametrize("func, words", [(_hog, "内存"), (_abort, "内存"), (_segfault, "崩溃")],
                         ids=["memory-error", "abort", "segfault"])
def test_calamine_child_dies_cleanly(monkeypatch, func, words):
    if reader._fork_context() is None:
        pytest.skip("no fork on this platform: calamine runs in-process without a memory cap")
    monkeypatch.setattr(reader, "_calamine_extract", func)
    err = read_error(corpus_file("calamine/tests/date.xls"), Limits(max_memory_bytes=256 * 1024 * 1024))
    assert err.code is Code.F101 and words in err.detail


def _spin(*_args):
    while True:
        pass


def test_calamine_timeout_kills_the_child(monkeypatch):
    if reader._fork_context() is None:
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(reader, "_calamine_extract", _spin)
    start = time.monotonic()
    err = read_error(corpus_file("calamine/tests/date.xls"), Limits(seconds=0.5))
    assert err.code is Code.F109
    assert time.monotonic() - start < 1.5


def test_calamine_dos_ods():
    start = time.monotonic()
    err = read_error(corpus_file("calamine/tests/issue_594_dos.ods"))
    assert err.code in (Code.F101, Code.F108, Code.F109)
    assert time.monotonic() - start < 5


# ---------------------------------------------------------------------------
# sniffing and skipping


@pytest.mark.parametrize("rel, kind", [
    ("calamine/tests/any_sheets.xlsx", "xlsx"), ("calamine/tests/any_sheets.xls", "xls"),
    ("calamine/tests/any_sheets.ods", "ods"), ("calamine/tests/any_sheets.xlsb", "xlsb"),
    ("calamine/tests/capitalized_wbook_stream.xls", "xls"),
])
def test_sniff(rel, kind):
    assert sniff(corpus_file(rel)) == kind


@pytest.mark.parametrize("name, skip", [
    ("~$报表.xlsx", True), (".~lock.报表.xlsx#", True), (".hidden.xlsx", True), ("._报表.xlsx", True),
    ("Thumbs.db", True), ("desktop.ini", True), ("Desktop.INI", True), (".DS_Store", True),
    ("__MACOSX/报表.xlsx", True), ("报表.xlsx", False), ("市发改委~$.xlsx", False), ("a.xls", False),
])
def test_is_skippable(name, skip):
    assert is_skippable(Path("/收件箱") / name) is skip


# ---------------------------------------------------------------------------
# agreement with openpyxl on the corpus's xlsx files

COMPARED = [
    "calamine/tests/any_sheets.xlsx", "calamine/tests/column_row_ranges.xlsx", "calamine/tests/date.xlsx",
    "calamine/tests/date_1904.xlsx", "calamine/tests/date_iso.xlsx", "calamine/tests/date_quoted_format.xlsx",
    "calamine/tests/empty_shared_string.xlsx", "calamine/tests/empty_shared_string_value.xlsx",
    "calamine/tests/encoded_entities.xlsx", "calamine/tests/errors.xlsx", "calamine/tests/formula.issue.xlsx",
    "calamine/tests/has_x000D_.xlsx", "calamine/tests/has_x000D_inline.xlsx", "calamine/tests/header-row.xlsx",
    "calamine/tests/hyperlinks.xlsx", "calamine/tests/inlineStr_cdata.xlsx", "calamine/tests/inlineStr_with_value.xlsx",
    "calamine/tests/inventory-table.xlsx", "calamine/tests/issue127.xlsx", "calamine/tests/issue221.xlsm",
    "calamine/tests/issue3.xlsm", "calamine/tests/issue438.xlsx", "calamine/tests/issue446.xlsx",
    "calamine/tests/issue9.xlsx", "calamine/tests/issue_261.xlsx", "calamine/tests/issue_391.xlsx",
    "calamine/tests/issue_553.xlsx", "calamine/tests/issue_565_multi_axis_shared.xlsx",
    "calamine/tests/merge_cells.xlsx", "calamine/tests/merged_range.xlsx", "calamine/tests/non_monotonic_si.xlsx",
    "calamine/tests/nonstandard-xml-ns-prefix.xlsx", "calamine/tests/richtext-after-plain.xlsx",
    "calamine/tests/richtext-namespaced.xlsx", "calamine/tests/rph.xlsx", "calamine/tests/shared_formula_simple.xlsx",
    "calamine/tests/string-ref.xlsx", "calamine/tests/table-multiple.xlsx", "calamine/tests/temperature.xlsx",
    "calamine/tests/whitespace_trim.xlsx", "excelize/test/Book1.xlsx", "excelize/test/MergeCell.xlsx",
    "excelize/test/OverflowNumericCell.xlsx", "excelize/test/SharedStrings.xlsx",
    "openpyxl/openpyxl/reader/tests/data/contains_chartsheets.xlsx",
    "openpyxl/openpyxl/reader/tests/data/hidden_sheets.xlsx", "openpyxl/openpyxl/reader/tests/data/sample.xlsx",
    "openpyxl/openpyxl/reader/tests/data/empty_with_no_properties.xlsx",
    "openpyxl/openpyxl/formatting/tests/data/conditional-formatting.xlsx",
    "openpyxl/openpyxl/tests/data/genuine/sample.xlsx", "openpyxl/openpyxl/tests/data/genuine/mac_date.xlsx",
    "openpyxl/openpyxl/tests/data/genuine/libreoffice_nrt.xlsx",
    "openpyxl/openpyxl/tests/data/reader/nonstandard_workbook_name.xlsx",
    "openpyxl/openpyxl/worksheet/tests/data/test_datetime.xlsx",
    "openpyxl/openpyxl/tests/data/reader/vba+comments.xlsm", "python-calamine/tests/data/base.xlsx",
    "python-calamine/tests/data/issue139.xlsx", "sheetjs/wps/fn.xlsx", "sheetjs/artifacts/wps/write.xlsx",
    "sheetjs/wps/image.xlsx", "php_dontuse/sec-j47r.xlsx", "php_dontuse/sec-p66w.xlsx",
]


def _normal(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return round(float(value), 9)
    if isinstance(value, str):
        # openpyxl leaves OOXML escapes such as _x000D_ undecoded; Excel decodes them
        return reader._unescape(value) or None
    return value


def _datelike(value) -> bool:
    return isinstance(value, (dt.date, dt.time, dt.timedelta))


@pytest.mark.parametrize("rel", COMPARED)
def test_agrees_with_openpyxl(rel):
    openpyxl = pytest.importorskip("openpyxl")
    path = corpus_file(rel)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl cannot open it: nothing to compare
        pytest.skip(f"openpyxl cannot open it ({type(exc).__name__})")
    ours = read_workbook(path)
    assert ours.sheet_names == [ws.title for ws in theirs.worksheets]
    for ws in theirs.worksheets:
        sheet = ours.sheet(ws.title)
        assert sheet.state == ws.sheet_state
        assert sorted(sheet.merged) == sorted(
            (m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges)
        seen = set()
        for row in ws.iter_rows():
            for cell in row:
                seen.add((cell.row, cell.column))
                mine = sheet.cell(cell.row, cell.column)
                theirs_value, my_value = _normal(cell.value), _normal(mine.error or mine.value)
                if theirs_value == my_value:
                    continue
                # dates vs numbers aside: openpyxl returns time/timedelta for time formats, numbers for
                # the Chinese date formats, and "#VALUE!" for dates beyond 9999
                if _datelike(theirs_value) or isinstance(my_value, dt.datetime) and not isinstance(
                        theirs_value, str):
                    continue
                if isinstance(my_value, float) and theirs_value == "#VALUE!" and mine.numfmt:
                    continue
                pytest.fail(f"{ws.title}!{cell.coordinate}: openpyxl {cell.value!r}, reader {mine!r}")
        extra = {k: c for k, c in sheet.cells.items() if k not in seen and c.value not in (None, "")}
        assert not extra, f"cells openpyxl does not see: {extra}"


# ---------------------------------------------------------------------------
# fuzzing: damaged files of every kind end in a Workbook or a ReadError, nothing else

def _read_or_refuse(path: Path) -> None:
    try:
        read_workbook(path, FAST)
    except ReadError as err:
        assert err.detail


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_damaged_xml(tmp_path, data):
    sheet = hostile.sheet_xml('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" s="1"><v>44329</v></c>'
                              '<c r="C1" t="inlineStr"><is><t>文本</t></is></c></row>',
                              after='<mergeCells><mergeCell ref="A1:B1"/></mergeCells>').encode()
    raw = bytearray(sheet)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    parts = hostile.xlsx_parts([("S", raw)], shared=hostile.shared_xml(["<t>x</t>"]),  # type: ignore[list-item]
                               styles=hostile.styles_xml([0, 31]))
    _read_or_refuse(hostile.write_zip(tmp_path / "fuzz.xlsx", parts))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_damaged_files(tmp_path, data):
    rel = data.draw(st.sampled_from(["calamine/tests/any_sheets.xlsx", "calamine/tests/any_sheets.xls",
                                     "calamine/tests/any_sheets.ods", "calamine/tests/any_sheets.xlsb"]))
    raw = bytearray(corpus_file(rel).read_bytes())
    for _ in range(data.draw(st.integers(1, 16))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(1, len(raw)))]
    path = tmp_path / f"fuzz{Path(rel).suffix}"
    path.write_bytes(bytes(raw))
    _read_or_refuse(path)
