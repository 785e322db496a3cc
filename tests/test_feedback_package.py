"""The XML fast path of the marked-up feedback file (toolkit.feedback.package) says what openpyxl says.

Every return is marked up both ways (the fast path, and openpyxl as the fallback) and the
two files, loaded with openpyxl, must show the same sheets, the same 问题清单, the same
tinted and commented cells; the original cells and what our reader reads are unchanged.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from factories import TEMPLATE_TIME, cell, fill_workbook, make_workspace, sheet_part

from tests import hostile
from toolkit import feedback as feedback_mod
from toolkit.check import Outcome
from toolkit.errors import ReadError
from toolkit.feedback import FEEDBACK_SHEET, package, write_feedback
from toolkit.findings import Code, Finding, make
from toolkit.read import read_workbook
from toolkit.templates import META_SHEET, write_template

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_soffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) 未安装")
CORPUS = Path(__file__).parents[1].parent / "shared" / "corpus"  # kept outside the repository
UNIT = "市科技局"
ROUND = "2021-04"


# ---------------------------------------------------------------------------------------
# returns written three ways


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """{how: return}: our template as xlsxwriter writes it, filled by openpyxl, re-saved by LibreOffice."""
    root = tmp_path_factory.mktemp("returns")
    ws = make_workspace(root)
    registry = ws.registry()
    rnd = registry.round(ROUND)
    assert rnd is not None
    unit = registry.units[UNIT]
    template = write_template(registry, rnd, unit, root / "templates", now=TEMPLATE_TIME).path
    wb = openpyxl.load_workbook(template)
    fill_workbook(wb)
    filled = root / "filled.xlsx"
    wb.save(filled)
    return {"xlsxwriter": template, "openpyxl": filled}


def first_category_sheet(path: Path) -> str:
    names = [s.name for s in read_workbook(path).sheets]
    return names[1]


def outcome_for(path: Path) -> Outcome:
    """Findings on a typed cell, a blank input cell, a cell inside a merged title, a cell far away,
    two on one cell, one on the file, one on a sheet that is not there."""
    sheet = first_category_sheet(path)
    kw = {"file": path.name, "unit": UNIT}
    findings = [
        make(Code.E202, sheet=sheet, cell=cell(4, "本期完成"), column="本期完成", value="约50", **kw),
        make(Code.W303, sheet=sheet, cell=cell(4, "本期完成"), value="约50", detail="差 80 个百分点", **kw),
        make(Code.W311, sheet=sheet, cell=cell(5, "进展情况"), **kw),
        make(Code.W311, sheet=sheet, cell="C1", **kw),  # inside the merged title row
        make(Code.W311, sheet=sheet, cell="Z300", **kw),  # no such row or cell yet
        Finding(code=Code.E202, file=path.name, unit=UNIT, sheet=sheet, cell=cell(4, "进展情况"),
                value='=HYPERLINK("x")', message='=HYPERLINK("x") & <b>"x"</b>\x01'),
        make(Code.W308, value="2021-05-09", detail="2021-05-08", **kw),
        make(Code.W310, sheet="不存在的表", cell="B3", column="指标名称", value="x", detail="y", **kw),
    ]
    return Outcome(file=path.name, unit_name=UNIT, round=ROUND, findings=findings)


def both_ways(source: Path, outcome: Outcome, folder: Path, monkeypatch) -> tuple[Path, Path]:
    before = dict(feedback_mod.PATHS)
    fast = write_feedback(source, outcome, folder / "fast", round_name=ROUND)
    assert feedback_mod.PATHS["package"] == before.get("package", 0) + 1, "the fast path ran"
    with monkeypatch.context() as m:
        m.setattr(feedback_mod, "write_marked_package", _refuse)
        slow = write_feedback(source, outcome, folder / "slow", round_name=ROUND)
    assert feedback_mod.PATHS["openpyxl"] == before.get("openpyxl", 0) + 1
    return fast, slow


def _refuse(*_args, **_kw):
    raise package._Unsupported("test")


# ---------------------------------------------------------------------------------------
# what both files show


def _rgb(colour) -> str | None:
    return None if colour is None or colour.rgb is None or not isinstance(colour.rgb, str) else colour.rgb[-6:]


def shown(path: Path) -> dict:
    wb = openpyxl.load_workbook(path)
    listing = wb[FEEDBACK_SHEET]
    marks = {}
    for ws in wb.worksheets[1:]:
        for c in ws._cells.values():
            if c.comment is not None or c.fill.fill_type == "solid" and ws.title != META_SHEET:
                marks[(ws.title, c.coordinate)] = (c.fill.fill_type, _rgb(c.fill.fgColor), _rgb(c.font.color),
                                                   c.comment and c.comment.text, c.comment and c.comment.author,
                                                   c.font.b, c.font.sz, c.number_format, c.protection.locked)
    return {
        "sheets": wb.sheetnames,
        "states": [ws.sheet_state for ws in wb.worksheets],
        "active": wb.active.title,
        "selected": [ws.title for ws in wb.worksheets if ws.sheet_view.tabSelected],
        # (the link cells' font is left out: the fast path makes it blue and underlined, openpyxl's is not)
        "list": {c.coordinate: (c.value, c.data_type, c.hyperlink and c.hyperlink.location, _rgb(c.fill.fgColor),
                                c.font.b, c.alignment.horizontal, c.alignment.wrap_text, c.border.left.style,
                                None if c.hyperlink else (c.font.sz, c.font.u, _rgb(c.font.color)))
                 for row in listing.iter_rows() for c in row if c.value is not None or c.hyperlink},
        "list_merged": sorted(str(r) for r in listing.merged_cells.ranges),
        "list_layout": (listing.freeze_panes, listing.print_title_rows, listing.page_setup.orientation,
                        listing.page_setup.fitToHeight, listing.row_dimensions[1].height,
                        listing.column_dimensions["F"].width),
        "marks": marks,
        "titles": {ws.title: (ws.print_title_rows, str(ws.print_area)) for ws in wb.worksheets},
    }


def original_values(path: Path) -> dict:
    wb = openpyxl.load_workbook(path)
    return {(ws.title, c.coordinate): (c.value, c.data_type) for ws in wb.worksheets if ws.title != FEEDBACK_SHEET
            for c in ws._cells.values() if c.value is not None}


def grid(path: Path) -> dict:
    return {s.name: (s.cells, sorted(s.merged), s.state) for s in read_workbook(path).sheets if s.name != FEEDBACK_SHEET}


def assert_same_feedback(source: Path, fast: Path, slow: Path) -> None:
    got, want = shown(fast), shown(slow)
    assert got["sheets"] == want["sheets"] and got["sheets"][0] == FEEDBACK_SHEET
    for key in ("states", "active", "selected", "list", "list_merged", "list_layout", "marks"):
        assert got[key] == want[key], key
    assert got["marks"], "cells were marked"
    # sheet-local names (print titles) still belong to their sheets: localSheetId shifted by one
    original = openpyxl.load_workbook(source)
    assert {k: v for k, v in got["titles"].items() if k != FEEDBACK_SHEET} == \
        {ws.title: (ws.print_title_rows, str(ws.print_area)) for ws in original.worksheets}
    assert got["titles"][FEEDBACK_SHEET] [0] == want["titles"][FEEDBACK_SHEET][0] == "$3:$3"
    assert original_values(fast) == original_values(source)
    assert grid(fast) == grid(source)
    with zipfile.ZipFile(fast) as zf:
        assert zf.testzip() is None
        # every part the feedback does not change is kept byte for byte
        with zipfile.ZipFile(source) as original_zip:
            for info in original_zip.infolist():
                if not info.filename.endswith((".xml", ".rels")) or "sharedStrings" in info.filename \
                        or "theme" in info.filename or "docProps" in info.filename:
                    assert zf.read(info.filename) == original_zip.read(info.filename), info.filename


@pytest.mark.parametrize("how", ["xlsxwriter", "openpyxl"])
def test_fast_path_shows_what_openpyxl_shows(made, how, tmp_path, monkeypatch):
    source = made[how]
    fast, slow = both_ways(source, outcome_for(source), tmp_path, monkeypatch)
    assert_same_feedback(source, fast, slow)


def test_text_is_stored_literally(made, tmp_path):
    """XML specials, an OOXML escape sequence and a control character in a message: stored as text."""
    source = made["openpyxl"]
    message = '=A1 & <b>"_x000D_"</b>\x01'
    outcome = Outcome(file=source.name, unit_name=UNIT, round=ROUND, findings=[
        Finding(code=Code.E202, file=source.name, unit=UNIT, message=message)])
    out = write_feedback(source, outcome, tmp_path, round_name=ROUND)
    listing = next(s for s in read_workbook(out).sheets if s.name == FEEDBACK_SHEET)
    assert listing.cells[(4, 6)].value == message.replace("\x01", "\ufffd")
    assert listing.cells[(4, 6)].formula is None


def test_a_clean_return_gets_only_the_list(made, tmp_path, monkeypatch):
    source = made["openpyxl"]
    outcome = Outcome(file=source.name, unit_name=UNIT, round=ROUND, findings=[])
    fast, slow = both_ways(source, outcome, tmp_path, monkeypatch)
    assert shown(fast)["list"] == shown(slow)["list"]
    assert original_values(fast) == original_values(source)


@pytest.mark.slow
@needs_soffice
def test_libreoffice_resaved_and_opened(made, tmp_path, monkeypatch):
    """A return LibreOffice saved is marked up the fast way; LibreOffice opens the result."""
    profile = tmp_path / "profile"
    resaved = _convert(made["openpyxl"], "xlsx", tmp_path / "re", profile)
    fast, slow = both_ways(resaved, outcome_for(resaved), tmp_path, monkeypatch)
    assert_same_feedback(resaved, fast, slow)
    csv = _convert(fast, "csv:Text - txt - csv (StarCalc):44,34,76", tmp_path / "csv", profile)
    assert csv.read_text(encoding="utf-8").startswith(f"{UNIT}报表问题清单（{ROUND}）")
    pdf = _convert(fast, "pdf", tmp_path / "pdf", profile)
    assert pdf.stat().st_size > 1000
    again = _convert(fast, "xlsx", tmp_path / "again", profile)  # comments survive LibreOffice
    wb = openpyxl.load_workbook(again)
    assert any(c.comment and "E202" in c.comment.text for ws in wb.worksheets for c in ws._cells.values())


def _convert(source: Path, fmt: str, outdir: Path, profile: Path) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation={profile.as_uri()}", "--convert-to", fmt,
                    "--outdir", str(outdir), str(source)], check=True, timeout=120, capture_output=True)
    produced = outdir / f"{source.stem}.{fmt.split(':', 1)[0]}"
    assert produced.exists(), f"soffice produced no {produced.name}"
    return produced


# ---------------------------------------------------------------------------------------
# what falls back to openpyxl


def _fallback(source: Path, outcome: Outcome, folder: Path) -> Path:
    before = dict(feedback_mod.PATHS)
    out = write_feedback(source, outcome, folder, round_name=ROUND)
    assert feedback_mod.PATHS["openpyxl"] == before.get("openpyxl", 0) + 1
    assert feedback_mod.PATHS["package"] == before.get("package", 0)
    return out


def test_existing_comments_on_a_marked_sheet_fall_back(made, tmp_path):
    source = tmp_path / "commented.xlsx"
    wb = openpyxl.load_workbook(made["openpyxl"])
    sheet = wb.sheetnames[1]
    wb[sheet]["A5"].comment = openpyxl.comments.Comment("单位自己的批注", "张明")
    wb.save(source)
    out = _fallback(source, outcome_for(source), tmp_path / "out")
    assert openpyxl.load_workbook(out)[sheet]["A5"].comment.text == "单位自己的批注"


def test_comments_on_another_sheet_are_kept(made, tmp_path, monkeypatch):
    source = tmp_path / "commented.xlsx"
    wb = openpyxl.load_workbook(made["openpyxl"])
    wb[wb.sheetnames[2]]["A5"].comment = openpyxl.comments.Comment("单位自己的批注", "张明")
    wb.save(source)
    fast, slow = both_ways(source, outcome_for(source), tmp_path, monkeypatch)
    assert_same_feedback(source, fast, slow)
    assert openpyxl.load_workbook(fast)[wb.sheetnames[2]]["A5"].comment.text == "单位自己的批注"


def test_macros_fall_back_and_never_travel(made, tmp_path):
    source = tmp_path / "宏.xlsm"
    hostile.with_macros(made["openpyxl"], source)
    out = _fallback(source, outcome_for(source), tmp_path / "out")
    with zipfile.ZipFile(out) as zf:
        assert not any("vba" in n.lower() for n in zf.namelist())


def test_a_feedback_file_sent_back_falls_back(made, tmp_path):
    first = write_feedback(made["openpyxl"], outcome_for(made["openpyxl"]), tmp_path / "one", round_name=ROUND)
    out = _fallback(first, outcome_for(made["openpyxl"]), tmp_path / "two")
    assert openpyxl.load_workbook(out).sheetnames.count(FEEDBACK_SHEET) == 1


def test_shared_formulas_on_a_marked_sheet_fall_back(made, tmp_path):
    source = tmp_path / "shared.xlsx"
    sheet = first_category_sheet(made["openpyxl"])
    part = sheet_part(made["openpyxl"], sheet)
    with zipfile.ZipFile(made["openpyxl"]) as zin, zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == part:
                data = data.replace(b"</sheetData>", b'<row r="900"><c r="A900"><f t="shared" ref="A900:A901" si="0">'
                                    b"1+1</f><v>2</v></c></row></sheetData>")
            zout.writestr(item, data)
    _fallback(source, outcome_for(source), tmp_path / "out")


# ---------------------------------------------------------------------------------------
# every workbook of the corpus


def _corpus() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in (".xlsx", ".xlsm", ".xltx", ".xltm"))


@pytest.mark.skipif(not _corpus(), reason="no corpus beside the repository (../shared/corpus)")
def test_corpus_never_breaks_the_fast_path(tmp_path):
    """Whatever the file, the fast path writes a file openpyxl loads (when it loads the original),
    or says it does not handle it; never another exception, never slowly; hostile parts never travel."""
    written = declined = 0
    for path in _corpus():
        try:
            sheets = read_workbook(path).sheets
        except ReadError:
            sheets = []
        sheet = sheets[0].name if sheets else "Sheet1"
        outcome = Outcome(file=path.name, unit_name=UNIT, round=ROUND, findings=[
            make(Code.W311, file=path.name, sheet=sheet, cell="B2"),
            make(Code.E202, file=path.name, sheet=sheet, cell="C3", column="本期完成", value="x")])
        target = tmp_path / f"{written + declined}.xlsx"
        start = time.monotonic()
        try:
            package.write_marked_package(path, outcome, target, ROUND)
        except package._Unsupported:
            declined += 1
            continue
        finally:
            assert time.monotonic() - start < 10, path
        written += 1
        try:
            openpyxl.load_workbook(path)
        except Exception:  # noqa: BLE001 - openpyxl cannot read the original either: nothing to compare
            continue
        wb = openpyxl.load_workbook(target)
        assert wb.sheetnames[0] == FEEDBACK_SHEET, path
        if sheet in wb.sheetnames and wb[sheet].__class__.__name__ == "Worksheet":
            assert wb[sheet]["B2"].comment is not None or any(
                r.min_row <= 2 <= r.max_row and r.min_col <= 2 <= r.max_col for r in wb[sheet].merged_cells.ranges), path
    assert written > 20


def test_hostile_parts_are_not_passed_on(made, tmp_path):
    """A part the fast path would copy unread but that holds a DTD: openpyxl's (defusedxml) way decides."""
    source = tmp_path / "dtd.xlsx"
    with zipfile.ZipFile(made["openpyxl"]) as zin, zipfile.ZipFile(source, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "docProps/core.xml":
                head, _, rest = data.rpartition(b"?>")
                data = (head + b"?>" if head else b"") + b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + rest
            zout.writestr(item, data)
    with pytest.raises(package._Unsupported):
        package.write_marked_package(source, outcome_for(made["openpyxl"]), tmp_path / "out.xlsx", ROUND)
