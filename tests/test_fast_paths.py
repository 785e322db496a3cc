"""The fast paths taken for a province-sized round give what the plain definitions give."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import DEFAULT_INDICATORS, DEFAULT_SPLITS, indicator_row, make_master
from toolkit import wording
from toolkit.model import Registry
from toolkit.registry import load_registry
from toolkit.terminal import display_width
from toolkit.values import half_up
from toolkit.wording import _drop_subsumed, _sentence_key, _sentences, _tidied, join_clauses, tidy_punctuation


def plain_width(text: object) -> int:
    def char(ch: str) -> int:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            return 0
        return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1

    return sum(char(ch) for ch in str(text))


def test_display_width_of_every_character():
    """Every character of the BMP (where the CJK ranges are) and a sample of the others."""
    for cp in [*range(0xD800), *range(0xE000, 0x10000), *range(0x10000, 0x110000, 97)]:
        ch = chr(cp)
        assert display_width(ch) == plain_width(ch), hex(cp)


@given(st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.none()))
def test_display_width_of_any_text(text):
    assert display_width(text) == plain_width(text)


def plain_drop_subsumed(sentences: list[str]) -> list[str]:
    keys = [_sentence_key(s) for s in sentences]
    return [s for i, s in enumerate(sentences)
            if not (keys[i] and any(j != i and len(o) > len(keys[i]) and o.startswith(keys[i])
                                    for j, o in enumerate(keys)))]


@settings(max_examples=500)
@given(st.lists(st.text(alphabet="已备案59家，,。完成(（）)", max_size=8), max_size=12))
def test_subsumed_sentences_are_those_another_extends(sentences):
    assert _drop_subsumed(sentences) == plain_drop_subsumed(sentences)


def test_thousands_of_sentences_join_quickly():
    parts = [f"第{i}个项目已完成投资{i}万元" for i in range(20_000)] + ["第1个项目已完成投资1万元，完成全年目标"]
    text = join_clauses(parts)  # was a comparison of every pair: 400 million of them
    assert "第1个项目已完成投资1万元，完成全年目标。" in text
    assert "第1个项目已完成投资1万元。" not in text and "第19999个项目已完成投资19999万元。" in text


def plain_tidy(text: str) -> str:
    """tidy_punctuation's rules, every one applied to every text."""
    w = wording
    if not text or not w._HAN_RE.search(text):
        return text
    text = w._FULL_POINT_RE.sub(".", text.translate(w._FULL_WIDTH))
    text = w._SPACE_PERCENT_RE.sub("", w._SPACES_RE.sub("", text))
    text = w._COLON_RE.sub("：", w._COMMA_RE.sub("，", text)).translate(w._HALF_MARKS)
    text = w._STOP_RE.sub("。", text)
    text = w._STOPS_RE.sub("。", w._AFTER_END_RE.sub("", w._BEFORE_END_RE.sub("", text)))
    return w._DOUBLED_RE.sub(r"\1", text)


_MARKS = "已备案59家０１％．.。，,、；;：:！!？?()（）” 　\t\nab"


@settings(max_examples=2000)
@given(st.text(alphabet=_MARKS, max_size=16))
def test_tidy_punctuation_skips_only_rules_with_nothing_to_do(text):
    assert _tidied.__wrapped__(text)[0] == plain_tidy(text)


def plain_join(parts: list[str]) -> str:
    """join_clauses with the paragraph tidied again as a whole."""
    seen: set[str] = set()
    out: list[str] = []
    for part in parts:
        for line in str(part).splitlines():
            wording._add_sentences(wording._close(tidy_punctuation(line)), seen, out)
    return tidy_punctuation("".join(_drop_subsumed(out)))


@settings(max_examples=3000)
@given(st.lists(st.text(alphabet=_MARKS + "中文", max_size=10), max_size=6))
def test_a_paragraph_of_settled_sentences_is_not_tidied_again(parts):
    assert join_clauses(parts) == plain_join(parts)


@given(st.text(alphabet="好。！？”）a", max_size=12))
def test_sentences_are_cut_where_the_split_cuts(text):
    assert _sentences(text) == re.split(r"(?<=[。！？])(?![”’」』）)》。！？])", text)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6), st.integers(0, 14))
def test_half_up_without_a_context_of_its_own(value, places):
    with localcontext() as ctx:
        ctx.prec = max(28, value.adjusted() + places + 3)
        plain = value.quantize(Decimal((0, (1,), -places)), rounding=ROUND_HALF_UP)
    assert str(half_up(value, places)) == str(plain.copy_abs() if plain.is_zero() else plain)


def plain_rows_for(registry: Registry, unit: str):
    return [ind for ind in registry.indicators() if unit in ind.reporters]


def test_registry_lookups_match_a_scan(tmp_path):
    registry = load_registry(make_master(tmp_path, indicators=DEFAULT_INDICATORS, splits=DEFAULT_SPLITS))
    for unit in registry.units.values():
        assert registry.rows_for(unit.name) == plain_rows_for(registry, unit.name)
        assert registry.unit_by_code(unit.code) == unit
        for ind in registry.rows_for(unit.name):
            scanned = next((v for n, v in ind.targets_by_unit if n == unit.name), None)
            if scanned is not None:
                assert ind.target_for(unit.name) == scanned
    assert registry.rows_for("不存在的单位") == [] and registry.unit_by_code("D99") is None
    for ind in registry.indicators():
        assert registry.indicator(ind.code) is ind
    assert registry.indicator("9-9-9") is None
    names = {n for ind in registry.indicators() for n in ind.reporters}
    assert [u.name for u in registry.reporting_units()] == [u.name for u in registry.units.values() if u.name in names]


def test_registry_lookups_follow_a_replaced_category_list(tmp_path):
    rows = [*DEFAULT_INDICATORS, indicator_row("一、创新驱动", "1-3", "新任务", "市科技局", "1-3-1", "新指标", "累计", "家", 10)]
    registry = load_registry(make_master(tmp_path, indicators=rows, splits=DEFAULT_SPLITS))
    before = registry.rows_for("市科技局")
    registry.categories = [replace(cat, indicators=cat.indicators[:-1]) if i == 0 else cat
                           for i, cat in enumerate(registry.categories)]
    after = registry.rows_for("市科技局")
    assert [i.code for i in before][-1] == "1-3-1" and "1-3-1" not in [i.code for i in after]
    assert after == plain_rows_for(registry, "市科技局")


def test_target_for_takes_the_first_of_a_repeated_name(tmp_path):
    registry = load_registry(make_master(tmp_path, indicators=DEFAULT_INDICATORS, splits=DEFAULT_SPLITS))
    forest = registry.indicator("2-3-1")
    assert forest is not None
    twice = replace(forest, targets_by_unit=(("灵宝市人民政府", Decimal(1)), ("灵宝市人民政府", Decimal(2))))
    assert twice.target_for("灵宝市人民政府") == Decimal(1)
    assert twice.target_for("卢氏县人民政府") is None  # several reporters, split given, not this one


def test_cache_entries_are_atomic_but_not_forced_to_disk(tmp_path, monkeypatch):
    """Two fsyncs per checked file (~5 ms each here, more on office disks) are not spent on the cache."""
    import os

    from toolkit import store
    from toolkit.store import atomic_write

    synced: list[int] = []
    monkeypatch.setattr(store.os, "fsync", lambda fd: synced.append(fd))
    with atomic_write(tmp_path / "durable.txt", "w") as fh:
        fh.write("归档")
    assert synced, "the default stays durable"
    synced.clear()
    with atomic_write(tmp_path / "cache.json", "w", durable=False) as fh:
        fh.write("{}")
    assert synced == [] and (tmp_path / "cache.json").read_text(encoding="utf-8") == "{}"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    # all-or-nothing still: a failing block leaves the old file
    try:
        with atomic_write(tmp_path / "cache.json", "w", durable=False) as fh:
            fh.write("half")
            raise RuntimeError
    except RuntimeError:
        pass
    assert (tmp_path / "cache.json").read_text(encoding="utf-8") == "{}"


# -- intake and check (phase 3): each shortcut against the plain definition it replaces ----------------

_LABEL_TEXTS = ["指标编号", "本期完成", " 指标 编号", "本期完成：", "计量单位", "进展情况", "填报单位", "填报人：张三",
                "联系电话", "轮次:2021-04", "填报人", "１-１-１", "1-1-2", "", "  ", "备注"]
_VALUES = st.one_of(st.sampled_from(_LABEL_TEXTS), st.none(), st.floats(allow_nan=False, width=32),
                    st.integers(-3, 3), st.booleans())


def plain_read_sheets(book):
    """read_return's walk over the sheets as it was before phase 3 (Sheet.max_row, a scan for the top rows)."""
    from toolkit.intake import _LABEL_VALUE, HEADER_COLS, HEADER_KEYS, HEADER_ROWS, INFO_LABELS, ReturnFile, ReturnRow
    from toolkit.read import EMPTY, cell_ref
    from toolkit.templates import COLUMNS, canon
    from toolkit.values import normalize_text

    def label(value):
        return re.sub(r"\s+", "", normalize_text(value)) if isinstance(value, str) else ""

    ret = ReturnFile(path=book.path, name="x.xlsx", workbook=book)
    for sheet in book.sheets:
        if not sheet.cells:
            continue
        top: dict[int, list] = {}
        for (row, col), cell in sheet.cells.items():
            if row <= HEADER_ROWS:
                top.setdefault(row, []).append((col, cell.value))
        for cells in top.values():
            cells.sort(key=lambda item: item[0])
        header_row = next((row for row in range(1, min(sheet.max_row, HEADER_ROWS) + 1)
                           if all(k in {label(v) for c, v in top.get(row, ()) if c <= HEADER_COLS}
                                  for k in HEADER_KEYS)), None)
        if header_row is None:
            ret.sheets_without_header.append(sheet.name)
            continue
        columns: dict[str, int] = {}
        for col in range(1, sheet.max_col + 1):
            name = label(sheet.value(header_row, col))
            if name in COLUMNS and name not in columns:
                columns[name] = col
        missing = [name for name in COLUMNS if name not in columns]
        if missing:
            ret.missing_columns[sheet.name] = missing
        for row in range(1, header_row):
            for col, raw in top.get(row, ()):
                if not label(raw):
                    continue
                match = _LABEL_VALUE.match(normalize_text(raw))
                if match:
                    key, text, ref = match.group(1), match.group(2).strip(), cell_ref(row, col)
                elif label(raw).rstrip(":：") in INFO_LABELS:
                    key = label(raw).rstrip(":：")
                    value = sheet.value(row, col + 1)
                    text, ref = (canon(value) if value is not None else ""), cell_ref(row, col + 1)
                else:
                    continue
                if (text or key not in ret.info) and (key not in ret.info or not ret.info[key][0]):
                    ret.info[key] = (text, sheet.name, ref)
        for row in range(header_row + 1, sheet.max_row + 1):
            code = canon(sheet.value(row, columns["指标编号"]))
            cells = {name: sheet.cells.get((row, col), EMPTY) for name, col in columns.items()}
            if code or any(c.value not in (None, "") for c in cells.values()):
                ret.rows.append(ReturnRow(sheet.name, row, code, cells, columns))
    return ret


def _sheets(draw, count):
    from toolkit.read import Cell, Sheet
    from toolkit.templates import COLUMNS

    sheets = []
    for i in range(count):
        cells = {}
        width = draw(st.sampled_from([3, 15, 15, 60]))
        header = draw(st.integers(1, 4))
        names = draw(st.permutations([*COLUMNS, "备注"]))[:width] if draw(st.booleans()) else []
        for col, name in enumerate(names, start=1):
            cells[(header, col)] = Cell(name)
        if header > 1:  # the info row: a label, and a value beside it or not (filled in on a later sheet)
            cells[(header - 1, 1)] = Cell(draw(st.sampled_from(["填报人", "填报人：", "填报人：李四", "联系电话"])))
            if draw(st.booleans()):
                cells[(header - 1, 2)] = Cell(draw(st.sampled_from(["张三", "", None, 13800000000.0])))
        for (row, col) in draw(st.lists(st.tuples(st.integers(1, 20), st.integers(1, width)), max_size=60)):
            cells[(row, col)] = Cell(draw(_VALUES))
        if draw(st.booleans()):  # a stray cell far to the right: the top is walked, not looked up
            cells[(draw(st.integers(1, 30)), draw(st.integers(200, 16384)))] = Cell("x")
        sheets.append(Sheet(name=f"表{i}", cells=dict(draw(st.permutations(list(cells.items()))))))
    return sheets


@st.composite
def _books(draw):
    from toolkit.read import Workbook

    return Workbook(path=Path("x.xlsx"), format="xlsx", sheets=_sheets(draw, draw(st.integers(1, 3))))


@settings(max_examples=300, deadline=None)
@given(st.lists(_books(), min_size=1, max_size=3))
def test_intake_reads_sheets_as_the_plain_walk(books):
    """Sheets in any cell order, header anywhere in the top rows, labels in any spelling, sparse wide sheets;
    several books in one process, so what intake remembers of one book must not leak into the next."""
    from toolkit import intake
    from toolkit.errors import ReadError
    from toolkit.read import cell_ref

    for book in books:
        want = plain_read_sheets(book)
        original = intake.read_workbook
        intake.read_workbook = lambda path, limits=None, book=book: book
        try:
            got = intake.read_return(Path("x.xlsx"))
        except ReadError:
            assert not want.rows
            continue
        finally:
            intake.read_workbook = original
        assert (got.rows, got.info, got.sheets_without_header, got.missing_columns) == (
            want.rows, want.info, want.sheets_without_header, want.missing_columns)
        for row in got.rows:
            assert row.ref("本期完成") == cell_ref(row.row, row.columns.get("本期完成", 1))


def test_remembered_header_columns_are_not_shared():
    """A return's column map is its own: changing it leaves the next return with the same header alone."""
    from toolkit.intake import _columns

    header = ((1, "指标编号"), (2, "本期完成"), (3, "计量单位"))
    first = _columns(header)
    first["本期完成"] = 99
    assert _columns(header) == {"指标编号": 1, "本期完成": 2, "计量单位": 3}


@given(st.floats(allow_nan=False))
def test_whole_floats_read_as_through_their_shortest_text(x):
    from toolkit.values import _from_float, _plain

    value = _from_float(x)
    if x in (float("inf"), float("-inf")):
        assert value is None
        return
    plain = Decimal(repr(x))
    plain = _plain(plain) if x.is_integer() else plain
    assert value is not None and value.as_tuple() == plain.as_tuple()


@given(st.text(alphabet=" （）()[]【】万亿元人%％\u3000个", max_size=8))
def test_remembered_units_are_the_cleaned_units(unit):
    from toolkit.values import _NUMBER_CHARS, _clean_unit, normalize_text

    text = re.sub(r"\s", "", normalize_text(unit)).translate(_NUMBER_CHARS)
    plain = re.sub(r"^[(\[【]+|[)\]】]+$", "", text)
    assert _clean_unit(unit) == plain and _clean_unit(unit) == plain


@given(st.sampled_from(["万人", "人", "亿元", "万元", "元", "%", "家", "个", "千瓦", "万千瓦", "公里", "万", "亿", "万户", "km"]),
       st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10**9, max_value=10**9))
def test_the_units_e216_looks_for_are_those_of_every_figure(unit, figure):
    """check remembers the units of _unit_forms by unit alone: they must not depend on the figure."""
    from toolkit.check import _form_units
    from toolkit.wording import _unit_forms

    assert set(_form_units(unit)) == {said for _, said in _unit_forms(figure, unit) if said}


@given(st.one_of(st.none(), st.text(max_size=3), st.floats(), st.integers(-2, 2), st.booleans()),
       st.one_of(st.none(), st.text(max_size=3), st.floats(), st.integers(-2, 2), st.booleans()))
def test_quick_equal_locked_cells_are_equal_in_canon(a, b):
    from toolkit.check import _same_text
    from toolkit.templates import canon

    for x, y in ((a, b), (a, a), (b, b)):
        if _same_text(x, y):
            assert canon(x) == canon(y)
