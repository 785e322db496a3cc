"""The streaming xlsx parser (xlsx / xlsm / xltx / Strict OOXML), written here.

The merge needs what python-calamine drops: error cells (``#DIV/0!``), formulas
without a cached value, and number formats (percent, Chinese dates). The parser
never trusts the ``<dimension>`` tag (WPS writes wrong ones), matches XML by local
name (so Strict OOXML and odd namespace prefixes read like transitional), and feeds
the XML through expat with DTDs refused outright (:mod:`.package`). It runs
in-process and is bounded by the limits: the clock is checked for every 64 KB of
XML, whatever the XML holds, so millions of empty ``<c/>`` or ``<row>`` elements
still stop in time, and nothing but stored cells is kept in memory.

Parts up to :data:`.scan.WHOLE_PART_BYTES` (every part of an ordinary return) are
read whole instead: expat checks them without a Python callback, and regular
expressions take them apart (:mod:`.scan`), several times faster; whatever the scan
does not cover completely is streamed as above, so both ways read the same cells
and refuse the same files.
"""

from __future__ import annotations

import codecs
import io
import math
import re
import time
import zipfile
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from urllib.parse import unquote
from xml.parsers import expat

from ..errors import ReadError
from ..findings import Code
from . import scan
from .model import EMPTY, MAX_EXCEL_COL, MB, Cell, Limits, Sheet, Workbook, cell_ref
from .package import (
    _CHUNK,
    PARTS,
    _attr,
    _find_workbook_part,
    _local,
    _new_parser,
    _office_document,
    _parse_rels,
    _xml_encoding,
    _zip_names,
)

# Built-in number formats that are dates (incl. the Chinese ones 27-36 and 50-58,
# which openpyxl reads back as plain numbers). 46 ("[h]:mm:ss") is a duration and
# stays a number (days), like any elapsed-time format ("[h]", "[mm]", "[ss]").
DATE_FORMAT_IDS = frozenset([*range(14, 23), *range(27, 37), 45, 47, *range(50, 59)])
PERCENT_FORMAT_IDS = frozenset([9, 10])
# Codes of the built-in formats (those a merge may want to show); zh-CN for 27-58.
BUILTIN_FORMATS = {
    1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%", 11: "0.00E+00",
    12: "# ?/?", 13: "# ??/??", 14: "yyyy/m/d", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy",
    18: "h:mm AM/PM", 19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss", 22: "yyyy/m/d h:mm",
    27: 'yyyy"年"m"月"', 28: 'm"月"d"日"', 29: 'm"月"d"日"', 30: "m-d-yy", 31: 'yyyy"年"m"月"d"日"',
    32: 'h"时"mm"分"', 33: 'h"时"mm"分"ss"秒"', 34: '上午/下午h"时"mm"分"',
    35: '上午/下午h"时"mm"分"ss"秒"', 36: 'yyyy"年"m"月"', 37: "#,##0 ;(#,##0)",
    38: "#,##0 ;[Red](#,##0)", 39: "#,##0.00;(#,##0.00)", 40: "#,##0.00;[Red](#,##0.00)",
    45: "mm:ss", 46: "[h]:mm:ss", 47: "mm:ss.0", 48: "##0.0E+0", 49: "@",
    50: 'yyyy"年"m"月"', 51: 'm"月"d"日"', 52: 'yyyy"年"m"月"', 53: 'm"月"d"日"', 54: 'm"月"d"日"',
    55: '上午/下午h"时"mm"分"', 56: '上午/下午h"时"mm"分"ss"秒"', 57: 'yyyy"年"m"月"', 58: 'm"月"d"日"',
}


_new_cell = tuple.__new__  # Cell(...) without the keyword handling: a third of the time


class _NotWorksheet(Exception):
    """A sheet part whose root is a chartsheet, dialogsheet or macrosheet."""


class _XlsxReader:
    def __init__(self, path: Path, limits: Limits, wanted: set[str] | None, deadline: float):
        self.path = path
        self.limits = limits
        self.wanted = wanted
        self.deadline = deadline
        self.cells_read = 0
        self._memo: dict[tuple[str, str, str], Cell] = {}  # equal cells are one object
        # references that could lie beyond the sheet (or beyond max_rows) are checked cell by cell
        self._far = scan.far_references(len(str(limits.max_rows)))
        # the quick scan takes rows of fewer digits than max_rows has: always within the limit
        digits = len(str(limits.max_rows)) - 1
        self._data_cells = scan.sheet_data_cells(digits) if digits > 0 else None
        self._data_rows = scan.sheet_data_rows(digits) if digits > 0 else None

    def read(self) -> Workbook:
        try:
            with zipfile.ZipFile(self.path) as zf:
                self.zf = zf
                self.names = _zip_names(zf.infolist())
                return self._read()
        except ReadError:
            raise
        except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
            raise ReadError(Code.F104, "压缩数据损坏（校验失败或不完整）") from exc
        except NotImplementedError as exc:
            raise ReadError(Code.F101, "使用了不支持的压缩方式") from exc
        except OSError as exc:
            raise ReadError(Code.F104, "压缩数据损坏，无法解压") from exc
        except (KeyError, ValueError, IndexError, LookupError, UnicodeError, OverflowError) as exc:
            raise ReadError(Code.F101, "工作簿内部结构不完整") from exc

    # -- parts -------------------------------------------------------------
    def _info(self, part: str | None) -> zipfile.ZipInfo | None:
        if not part:
            return None
        key = part.replace("\\", "/").lstrip("/").lower()
        info = self.names.get(key)
        if info is None and "%" in key:
            info = self.names.get(unquote(key))
        return info

    def _check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise ReadError(Code.F109, f"{self.limits.seconds:g}")

    def _feed(self, part: str, start=None, end=None, text=None, data: bytes | None = None) -> bool:
        """Stream one XML part through expat; False when the part is missing. ``data``: the part's
        bytes when :meth:`_small` has read them already (then read from them, in the same steps).

        The clock is checked before every 64 KB chunk, so the time any part can
        take is bounded whatever it contains."""
        info = self._info(part)
        if info is None:
            return False
        parser = _new_parser()
        if start is not None:
            parser.StartElementHandler = start
        if end is not None:
            parser.EndElementHandler = end
        if text is not None:
            parser.CharacterDataHandler = text
        with self.zf.open(info) if data is None else io.BytesIO(data) as fh:
            chunk = fh.read(_CHUNK)
            codec = _xml_encoding(chunk, part)
            decoder = codecs.getincrementaldecoder(codec)("replace") if codec else None
            try:
                while chunk:
                    self._check_time()
                    parser.Parse(decoder.decode(chunk) if decoder else chunk, False)
                    chunk = fh.read(_CHUNK)
                parser.Parse(decoder.decode(b"", True) if decoder else b"", True)
            except expat.ExpatError as exc:
                raise ReadError(Code.F101, f"部件 {part} 的 XML 格式错误（第 {exc.lineno} 行第 {exc.offset + 1} 列）"
                                ) from exc
        return True

    def _rels(self, part: str) -> dict[str, tuple[str, str]]:
        folder, _, name = part.rpartition("/")
        info = self._info(f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels")
        if info is None:
            return {}
        if info.file_size > 16 * MB:
            raise ReadError(Code.F106, "关系部件过大")
        self._check_time()
        return _parse_rels(self.zf.read(info), folder)

    def _small(self, part: str | None) -> bytes | None:
        """A part's bytes, when it is small enough to be remembered by them (:data:`.package.PARTS`)
        and to be streamed in one chunk by :meth:`_feed` (which then reads these bytes, and so
        reads, or refuses, as it would have); else None (also when scanning is off)."""
        info = self._info(part)
        if info is None or info.file_size > min(PARTS.largest, _CHUNK, scan.WHOLE_PART_BYTES):
            return None
        self._check_time()
        return self.zf.read(info)  # damaged data raises here as the first read of _feed would

    def _read(self) -> Workbook:
        wb_part = _office_document(self.zf, self.names) or _find_workbook_part(self.names)
        if not wb_part:
            raise ReadError(Code.F102, "压缩包中没有工作簿")
        data = self._small(wb_part)
        known: tuple[bool, bool, tuple[tuple[str, str, str], ...]] | None
        known = PARTS.get(data, ("workbook",)) if data is not None else None
        if known is None:
            known = self._workbook(wb_part, data)
            if data is not None:
                PARTS.put(data, ("workbook",), known)
        strict, date1904, entries = known
        self.date1904 = date1904
        rels = self._rels(wb_part)
        self.shared = self._shared_strings(rels)
        self.styles, self.style_of, self.numfmt_of = self._styles(rels)
        book = Workbook(path=self.path, format="xlsx", strict=strict)
        if not entries:
            raise ReadError(Code.F101, "工作簿中没有工作表")
        for name, sheet_state, rid in entries:
            if self.wanted is not None and name not in self.wanted:
                continue
            target, kind = rels.get(rid, ("", ""))
            if not target or kind.endswith(("/chartsheet", "/dialogsheet", "/xlmacrosheet")):
                continue  # chart sheets, macro sheets and dangling entries hold no cells
            try:
                sheet = self._sheet(name, sheet_state, target)
            except _NotWorksheet:
                continue
            if sheet is not None:
                book.sheets.append(sheet)
        return book

    def _workbook(self, wb_part: str, data: bytes | None
                  ) -> tuple[bool, bool, tuple[tuple[str, str, str], ...]]:
        """The workbook part: whether it is Strict OOXML, whether it counts dates from 1904, and
        its sheets (name, state, relationship id), in order."""
        state = {"strict": False, "date1904": False, "root": True}
        entries: list[tuple[str, str, str]] = []

        def start(name, attrs):
            tag = _local(name)
            if state["root"]:
                state["root"] = False
                state["strict"] = any(v.startswith("http://purl.oclc.org/ooxml/spreadsheetml")
                                      for k, v in attrs.items() if k.startswith("xmlns"))
            if tag == "workbookPr":
                state["date1904"] = (attrs.get("date1904") or "").strip().lower() in ("1", "true", "on")
            elif tag == "sheet":
                sheet_state = (attrs.get("state") or "visible").strip()
                sheet_state = {"hidden": "hidden", "veryhidden": "veryHidden"}.get(sheet_state.lower(), "visible")
                entries.append((attrs.get("name") or "", sheet_state, _attr(attrs, "id") or ""))

        if not self._feed(wb_part, start, data=data):
            raise ReadError(Code.F102, "压缩包中没有工作簿")
        return state["strict"], state["date1904"], tuple(entries)

    def _part_of(self, rels: dict[str, tuple[str, str]], suffix: str) -> str | None:
        for target, kind in rels.values():
            if kind.endswith("/" + suffix.lower()):
                return target
        for target, _kind in rels.values():
            if target.lower().endswith(suffix.lower() + ".xml"):
                return target
        return None

    def _whole(self, part: str) -> str | None:
        """A small part's text, checked by expat, when the scan covers it (:mod:`.scan`); else None."""
        info = self._info(part)
        if info is None or info.file_size > scan.WHOLE_PART_BYTES:
            return None
        self._check_time()
        try:
            data = self.zf.read(info)  # zipfile stops at the declared size and checks the CRC
        except Exception:  # noqa: BLE001 - damaged data: the streaming parser says how, where
            return None
        self._check_time()
        return scan.checked_text(data, part, self._check_time)

    def _shared_strings(self, rels: dict[str, tuple[str, str]]) -> list[str]:
        part = self._part_of(rels, "sharedStrings") or ""
        if self._info(part) is None:
            return []
        text = self._whole(part)
        if text is not None:
            found = scan.shared_strings(text, _unescape)
            if found is not None:
                return found
        return self._stream_shared_strings(part)

    def _stream_shared_strings(self, part: str) -> list[str]:
        strings: list[str] = []
        parts: list[str] = []
        state = {"t": False, "skip": 0}

        def start(name, _attrs):
            tag = _local(name)
            if tag == "t" and not state["skip"]:
                state["t"] = True
            elif tag in ("rPh", "phoneticPr", "extLst"):
                state["skip"] += 1

        def end(name):
            tag = _local(name)
            if tag == "t":
                state["t"] = False
            elif tag in ("rPh", "phoneticPr", "extLst"):
                state["skip"] -= 1
            elif tag == "si":
                strings.append(_unescape("".join(parts)))
                parts.clear()

        def text(data):
            if state["t"]:
                parts.append(data)

        self._feed(part, start, end, text)
        return strings

    def _styles(self, rels: dict[str, tuple[str, str]]
                ) -> tuple[tuple[tuple[str, bool, bool], ...], dict[str, tuple[str, bool, bool]],
                           dict[str, tuple[str, bool, bool]]]:
        """The number format of every cell style (code, a date, a percentage), and the same by the
        style's ``s`` attribute (with ``""`` for none); shared by the readers of the same bytes,
        never changed."""
        part = self._part_of(rels, "styles") or ""
        data = self._small(part)
        known = PARTS.get(data, ("styles",)) if data is not None else None
        if known is None:
            styles = self._read_styles(part, data)
            style_of = {str(i): fmt for i, fmt in enumerate(styles)}
            known = styles, style_of, {"": _NO_FORMAT, **style_of}
            if data is not None:
                PARTS.put(data, ("styles",), known)
        return known

    def _read_styles(self, part: str, data: bytes | None) -> tuple[tuple[str, bool, bool], ...]:
        custom: dict[int, str] = {}
        fmt_ids: list[int] = []
        state = {"xfs": False, "fmts": False}

        def start(name, attrs):
            tag = _local(name)
            if tag == "numFmt" and state["fmts"]:  # not the ones of conditional formats (<dxf>)
                try:
                    custom[int(attrs.get("numFmtId", ""))] = attrs.get("formatCode", "")
                except ValueError:
                    pass
            elif tag == "numFmts":
                state["fmts"] = True
            elif tag == "cellXfs":
                state["xfs"] = True
            elif tag == "xf" and state["xfs"]:
                try:
                    fmt_ids.append(int(attrs.get("numFmtId", "0")))
                except ValueError:
                    fmt_ids.append(0)

        def end(name):
            tag = _local(name)
            if tag in ("cellXfs", "numFmts"):
                state["xfs"] = state["fmts"] = False

        self._feed(part, start, end, data=data)
        xfs: list[tuple[str, bool, bool]] = []
        for fmt_id in fmt_ids:
            code = custom.get(fmt_id) or BUILTIN_FORMATS.get(fmt_id, "")
            xfs.append((code, _is_date_format(fmt_id, custom.get(fmt_id, "")),
                        _is_percent_format(fmt_id, code)))
        return tuple(xfs)

    def _sheet(self, name: str, state: str, part: str) -> Sheet:
        """Read one worksheet part: scanned whole when small and plain (:mod:`.scan`), else streamed."""
        text = self._whole(part)
        if text is not None:
            before = self.cells_read
            sheet = self._scan_sheet(name, state, text)
            if sheet is not None:
                return sheet
            self.cells_read = before
        return self._stream_sheet(name, state, part)

    def _scan_sheet(self, name: str, state: str, text: str) -> Sheet | None:
        """The cells of a worksheet the scan covers, as the streaming parser reads them; None when
        anything is unusual (the streaming parser then reads the part and says what is wrong)."""
        if self._data_cells is not None:
            split = scan.split_sheet_data(text)
            if split is not None:
                sheet = self._scan_sheet_data(name, state, *split)
                if sheet is not None:
                    return sheet
        scanned = scan.worksheet_body(text)
        if scanned is None:
            return None
        body, counts = scanned
        max_rows = self.limits.max_rows
        numbers = scan.ROW_NUMBER.findall(body)
        if len(numbers) != counts["row"]:
            numbers = [scan.attributes(attrs).get("r") for attrs in scan.ROW.findall(body)]
            if len(numbers) != counts["row"]:
                return None
        for r in numbers:
            if r is None or not (r.isdigit() and len(r) <= 10) or int(r) > max_rows:
                return None  # a row numbered by its position, or a bad number: streamed, refused there
        if not self._far.search(body):
            sheet = self._scan_plain(name, state, body, counts["c"])
            if sheet is not None:
                return self._scan_merges(sheet, body, counts)
        sheet = self._scan_cells(name, state, body, counts["c"])
        return None if sheet is None else self._scan_merges(sheet, body, counts)

    def _scan_sheet_data(self, name: str, state: str, data: str, tail: str, merges: int) -> Sheet | None:
        """The quickest way, for a sheet as the usual writers write it: every tag of ``<sheetData>`` a
        row numbered the usual way, its end, or a cell of :func:`scan.sheet_data_cells` (which shows
        the reference within the sheet), and after it only merged ranges. A ``<`` starts a tag (the
        text was checked: no comment, CDATA or processing instruction), so when the tags taken apart
        hold every ``<`` of the data, no element was skipped. Else None: the slower scans decide.

        The usual cells (a shared string, a number not in a date format) are made here; any other
        one by :meth:`_make_cell`, as the streaming parser makes it."""
        assert self._data_cells is not None and self._data_rows is not None
        sheet = Sheet(name=name, state=state)
        cells = sheet.cells
        make_cell, xml_text, columns, positions, new_cell = self._make_cell, scan.xml_text, _COLUMNS, _POSITIONS, _new_cell
        numfmt_of, shared = self.numfmt_of, self.shared
        strings = len(shared)
        find_cells, find_rows = self._data_cells.findall, self._data_rows.findall
        cell_content = scan.CELL_CONTENT.fullmatch
        read = self.cells_read
        if len(data) > _REMEMBERED_SHEET:  # a sheet of new references: none remembered, none looked up
            positions, place = {}, _place
        else:
            positions, place = _POSITIONS, _position
        for piece in scan.slices(data):
            self._check_time()
            found = find_cells(piece)
            tags = len(find_rows(piece)) + piece.count("</row>") + 4 * len(found)  # as if all value cells
            for ref, style, kind, void, raw, other in found:
                if kind == "s" and raw.isdecimal():  # a value cell (the others have no raw): a shared string
                    index = int(raw)  # as _make_cell: raw.strip().isdigit(), then int
                    if index < strings:
                        numfmt, _is_date, is_percent = numfmt_of.get(style, _NO_FORMAT)
                        cells[positions.get(ref) or place(ref)] = new_cell(
                            Cell, (shared[index], None, None, numfmt, False, is_percent))
                        read += 1
                    continue
                if void:
                    tags -= 3
                    continue
                if other:
                    tags += other.count("<") - 3
                    content = cell_content(other)
                    assert content is not None
                    f, _f_void, f_text, v, _v_void, raw, inline, i_text = content.groups()
                    if not (f or v or inline):
                        continue  # <c …></c>: no cell, whatever its type
                    cell = make_cell(kind or "n", style or None, xml_text(raw or "") if v else None,
                                     xml_text(f_text or "") if f else None, [xml_text(i_text)] if inline else None)
                    if cell is EMPTY:
                        continue
                else:
                    numfmt, is_date, is_percent = numfmt_of.get(style, _NO_FORMAT)
                    if (not kind or kind == "n") and not is_date:
                        try:
                            number = float(raw)  # as _make_cell: the same float, or the text when not finite
                        except ValueError:
                            number = math.nan
                        if number - number == 0.0:
                            cell = new_cell(Cell, (number, None, None, numfmt, False, is_percent))
                        else:
                            cell = make_cell(kind or "n", style or None, xml_text(raw), None, None)
                            if cell is EMPTY:
                                continue
                    else:
                        cell = make_cell(kind or "n", style or None, xml_text(raw), None, None)
                        if cell is EMPTY:
                            continue
                cells[positions.get(ref) or place(ref)] = cell
                read += 1
            if tags != piece.count("<"):
                return None  # a tag the quick scan does not take apart
        if read + merges > self.limits.max_cells:
            return None  # the streaming parser raises, at the right cell or merge
        if merges:
            found = scan.PLAIN_MERGE.findall(tail)
            if len(found) != merges:
                return None
            merged = sheet.merged
            for l1, d1, l2, d2 in found:
                r1, c1 = int(d1), columns.get(l1) or _column(l1)
                r2, c2 = (int(d2), columns.get(l2) or _column(l2)) if l2 else (r1, c1)
                merged.append((min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)))
        self.cells_read = read + merges
        return sheet

    def _scan_plain(self, name: str, state: str, body: str, expected: int) -> Sheet | None:
        """The common case, quickly: every cell a plain value (``<c r s t><v>…</v></c>``) or empty,
        and within the sheet (:data:`scan.VALUE_CELL`, :data:`scan.EMPTY_CELL`); else None."""
        sheet = Sheet(name=name, state=state)
        cells = sheet.cells
        make_cell, memo, xml_text, columns = self._make_cell, self._memo, scan.xml_text, _COLUMNS
        read, found = self.cells_read, 0
        for piece in scan.slices(body):
            self._check_time()
            values = scan.VALUE_CELL.findall(piece)
            found += len(values) + len(scan.EMPTY_CELL.findall(piece))
            for letters, digits, style, kind, raw in values:
                key = (kind, style, raw)
                cell = memo.get(key)
                if cell is None:
                    cell = memo[key] = make_cell(kind or "n", style or None, xml_text(raw), None, None)
                if cell is not EMPTY:
                    cells[(int(digits), columns.get(letters) or _column(letters))] = cell
                    read += 1
        if found != expected or read > self.limits.max_cells:
            return None  # a cell in another shape (or too many): taken apart cell by cell, or streamed
        self.cells_read = read
        return sheet

    def _scan_cells(self, name: str, state: str, body: str, expected: int) -> Sheet | None:
        """Every cell taken apart by :data:`scan.CELL`, as the streaming parser reads it; None when a
        cell has another shape or would be refused (the streaming parser then says why)."""
        sheet = Sheet(name=name, state=state)
        cells = sheet.cells
        make_cell, memo, xml_text, columns = self._make_cell, self._memo, scan.xml_text, _COLUMNS
        max_rows, max_cells = self.limits.max_rows, self.limits.max_cells
        read, found = self.cells_read, 0
        for piece in scan.slices(body):
            self._check_time()
            matches = scan.CELL.findall(piece)
            found += len(matches)
            for letters, digits, style, kind, attrs, void, f_elem, f_text, v_elem, v_text, is_elem, inner in matches:
                if letters:
                    col = columns.get(letters) or _column(letters)
                    row = int(digits)
                else:
                    named = scan.attributes(attrs)
                    position = _split_ref(named["r"]) if "r" in named else None
                    if position is None:
                        return None  # a cell placed by its neighbours: the streaming parser counts
                    row, col = position
                    kind, style = named.get("t", "n"), named.get("s", "")
                if row > max_rows or col > MAX_EXCEL_COL:
                    return None
                if void or not (v_elem or f_elem or is_elem):
                    continue
                cell: Cell | None
                if f_elem or is_elem:
                    parts: list[str] | None = None
                    if is_elem:
                        parts = scan.inline_parts(inner)
                        if parts is None:
                            return None
                    cell = make_cell(kind or "n", style or None, xml_text(v_text) if v_elem else None,
                                     xml_text(f_text) if f_elem else None, parts)
                else:
                    key = (kind, style, v_text)
                    cell = memo.get(key)
                    if cell is None:
                        cell = memo[key] = make_cell(kind or "n", style or None, xml_text(v_text), None, None)
                if cell is not EMPTY:
                    cells[(row, col)] = cell
                    read += 1
                    if read > max_cells:
                        return None  # the streaming parser raises, at the same cell
        if found != expected:
            return None  # a cell in a shape the scan does not take apart
        self.cells_read = read
        return sheet

    def _scan_merges(self, sheet: Sheet, body: str, counts) -> Sheet | None:
        self._check_time()
        merges = scan.MERGE.findall(body) if counts["mergeCell"] else []
        if len(merges) != counts["mergeCell"]:
            return None
        for attrs in merges:
            if self.cells_read >= self.limits.max_cells:
                return None  # the streaming parser raises, at the same merge
            self._merge(sheet, scan.attributes(attrs).get("ref", ""))
        return sheet

    def _stream_sheet(self, name: str, state: str, part: str) -> Sheet:
        """Stream one worksheet part; keeps only the cells that hold something."""
        sheet = Sheet(name=name, state=state)
        cells = sheet.cells
        limits = self.limits
        max_rows, max_cells = limits.max_rows, limits.max_cells
        make_cell = self._make_cell
        tags: dict[str, str] = {}  # 'x:c' -> 'c', cached
        buf: list[str] = []
        row = col = 0
        kind, style = "n", None
        raw = formula = None
        inline: list[str] | None = None
        mode = None  # 'v' | 'f' | 't' while collecting text
        skip = rph = 0
        root = True

        def start(tag_name, attrs):
            nonlocal row, col, kind, style, raw, formula, inline, mode, skip, rph, root
            tag = tags.get(tag_name)
            if tag is None:
                tag = tags[tag_name] = _local(tag_name)
            if root:
                root = False
                if tag != "worksheet":
                    raise _NotWorksheet(tag)
            if skip:
                if tag == "extLst":
                    skip += 1
                return
            if tag == "c":
                ref = attrs.get("r")
                position = _split_ref(ref) if ref else None
                if position is None:
                    col += 1
                    row = row or 1
                else:
                    row, col = position
                if row > max_rows or col > MAX_EXCEL_COL:
                    raise ReadError(Code.F108, f"单元格 {cell_ref(row, col)} 超出 Excel 的范围", sheet=name)
                kind = attrs.get("t", "n")
                style = attrs.get("s")
                raw = formula = inline = None
            elif tag == "v":
                mode = "v"
                buf.clear()
            elif tag == "row":
                r = attrs.get("r")
                if r is None:
                    row += 1
                elif r.isdigit() and len(r) <= 10:
                    row = int(r)
                else:
                    raise ReadError(Code.F108, f"行号“{r[:20]}”无效", sheet=name)
                col = 0
                if row > max_rows:
                    raise ReadError(Code.F108, f"第 {row} 行超出 Excel 的最大行数", sheet=name)
            elif tag == "f":
                mode = "f"
                buf.clear()
            elif tag == "is":
                inline = []
            elif tag == "t":
                if inline is not None and not rph:
                    mode = "t"
                    buf.clear()
            elif tag == "rPh":
                rph += 1
            elif tag == "mergeCell":
                self._merge(sheet, attrs.get("ref", ""))
            elif tag == "extLst":
                skip = 1

        def end(tag_name):
            nonlocal raw, formula, inline, mode, skip, rph
            tag = tags[tag_name]
            if skip:
                if tag == "extLst":
                    skip -= 1
                return
            if tag == "c":
                if raw is not None or formula is not None or inline is not None:
                    cell = make_cell(kind, style, raw, formula, inline)
                    if cell is not EMPTY:
                        cells[(row, col)] = cell
                        self.cells_read += 1
                        if self.cells_read > max_cells:
                            raise ReadError(Code.F108, f"超过 {max_cells} 个单元格", sheet=name)
                inline = None
            elif mode is None:
                if tag == "rPh":
                    rph -= 1
            elif tag == "v" and mode == "v":
                raw = "".join(buf)
                mode = None
            elif tag == "f" and mode == "f":
                formula = "".join(buf)
                mode = None
            elif tag == "t" and mode == "t" and inline is not None:
                inline.append("".join(buf))
                mode = None

        def text(data):
            if mode is not None:
                buf.append(data)

        self._feed(part, start, end, text)
        return sheet

    def _merge(self, sheet: Sheet, ref: str) -> None:
        first, _, last = ref.partition(":")
        a = _split_ref(first)
        b = _split_ref(last) if last else a
        if a is None or b is None:
            return
        sheet.merged.append((min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])))
        self.cells_read += 1
        if self.cells_read > self.limits.max_cells:
            raise ReadError(Code.F108, f"超过 {self.limits.max_cells} 个合并区域", sheet=sheet.name)

    def _make_cell(self, kind: str, style: str | None, raw: str | None, formula: str | None,
                   inline: list[str] | None) -> Cell:
        numfmt, is_date, is_percent = "", False, False
        if style:
            fmt = self.style_of.get(style)
            if fmt is not None:
                numfmt, is_date, is_percent = fmt
        value: object = None
        error = None
        if kind == "n" or kind == "":
            if raw is not None and raw.strip() != "":
                try:
                    number = float(raw)
                except ValueError:
                    number = math.nan
                if not math.isfinite(number):
                    value = raw  # not a number: keep the text, the checks will say so
                    is_date = False
                elif is_date:
                    value = _excel_date(number, self.date1904)
                else:
                    value = number
        elif kind == "s":
            if raw is not None and raw.strip().isdigit():
                idx = int(raw)
                value = self.shared[idx] if idx < len(self.shared) else None
        elif kind == "inlineStr":
            value = _unescape("".join(inline)) if inline is not None else raw
        elif kind == "str":
            value = _unescape(raw) if raw is not None else None
        elif kind == "b":
            value = None if raw is None or raw.strip() == "" else raw.strip().lower() in ("1", "true")
        elif kind == "e":
            error = (raw or "").strip() or "#VALUE!"
        elif kind == "d":
            value = _iso_datetime(raw)
            is_date = value is not None
        else:  # unknown type: keep whatever text there is
            value = raw
        if value is None and formula is None and error is None:
            return EMPTY
        return _new_cell(Cell, (value, formula, error, numfmt, is_date and isinstance(value, datetime), is_percent))


_COLUMNS: dict[str, int] = {}
_NO_FORMAT = ("", False, False)


def _column(letters: str) -> int:
    """'AB' -> 28 (upper-case letters only), cached."""
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    if len(_COLUMNS) < 50_000:
        _COLUMNS[letters] = col
    return col


_POSITIONS: dict[str, tuple[int, int]] = {}


_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Sheets whose rows are longer than this are read without remembering their cell positions: a
#: province's master has a sheet of 150,000 cells, each a new reference.
_REMEMBERED_SHEET = 256 * 1024


def _place(ref: str) -> tuple[int, int]:
    """'B12' -> (12, 2) for a reference the quick scan matched (one to three upper-case letters, then
    digits): :func:`_split_ref`, which any reference may reach, without its tests."""
    digits = ref.lstrip(_UPPER)
    letters = ref[:len(ref) - len(digits)]
    return int(digits), _COLUMNS.get(letters) or _column(letters)


def _position(ref: str) -> tuple[int, int]:
    """:func:`_place`, cached: the same templates come back thousands of times, and their cells
    share the keys."""
    position = _place(ref)
    if len(_POSITIONS) >= 20_000:
        _POSITIONS.clear()  # full of another workbook's cells (the master's, read first): start again
    _POSITIONS[ref] = position
    return position


def _split_ref(ref: str) -> tuple[int, int] | None:
    """'B12' -> (12, 2) quickly (letters cached); None when it is not a cell reference."""
    digits = ref.lstrip("$ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    letters = ref[:len(ref) - len(digits)]
    col = _COLUMNS.get(letters)
    if col is None:
        bare = letters.replace("$", "").upper()
        if not bare or len(bare) > 3:
            return None
        col = 0
        for ch in bare:
            col = col * 26 + ord(ch) - 64
        if len(_COLUMNS) < 50_000:
            _COLUMNS[letters] = col
    digits = digits.lstrip("$")
    if not digits.isdigit() or len(digits) > 10:
        return None
    return int(digits), col


_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _unescape(text: str) -> str:
    """Decode OOXML ``_xHHHH_`` escapes (``_x000D_`` is a carriage return).

    Control characters other than tab/CR/LF are dropped (they break every writer
    downstream); surrogate pairs are joined, lone surrogates become U+FFFD."""
    if "_x" not in text:
        return text
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    text = _CONTROL.sub("", text)
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')
_ELAPSED = re.compile(r"\[(?:h+|m+|s+)\]", re.IGNORECASE)


def _is_date_format(fmt_id: int, code: str) -> bool:
    """A custom format code decides when the file defines one; else the built-in id."""
    if not code:
        return fmt_id in DATE_FORMAT_IDS
    if _ELAPSED.search(code):
        return False
    bare = _QUOTED.sub("", code).split(";")[0].lower()
    if "general" in bare or "通用" in bare:
        return False
    return bool(re.search(r"[ymdhs]|年|月|日|时|秒", bare)) and "@" not in bare


def _is_percent_format(fmt_id: int, code: str) -> bool:
    if fmt_id in PERCENT_FORMAT_IDS:
        return True
    return "%" in _QUOTED.sub("", code).split(";")[0]


_EPOCH_1900 = datetime(1899, 12, 30)
_EPOCH_1904 = datetime(1904, 1, 1)


def _excel_date(serial: float, date1904: bool) -> datetime | float:
    """Excel serial -> datetime, as Excel shows it (incl. the 1900 leap-year bug:
    serials 1-59 are one day later than plain arithmetic gives)."""
    if not (0 <= serial < 2_958_466):  # up to 9999-12-31; otherwise leave the number
        return serial
    day, fraction = divmod(serial, 1)
    base = _EPOCH_1904 if date1904 else _EPOCH_1900
    if not date1904 and 1 <= serial < 60:
        day += 1
    try:
        return base + timedelta(days=int(day), milliseconds=round(fraction * 86_400_000))
    except OverflowError:
        return serial


def _iso_datetime(raw: str | None) -> datetime | None:
    """``t="d"`` cells: ISO 8601 date, date-time or time (-> on 1899-12-30), made naive."""
    if not raw or not raw.strip():
        return None
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text.removesuffix("Z").removesuffix("z"))
    except ValueError:
        try:
            value = datetime.combine(_EPOCH_1900.date(), dtime.fromisoformat(text.removeprefix("T")))
        except ValueError:
            return None
    return value.replace(tzinfo=None)
