"""The fast paths taken for a province-sized round give what the plain definitions give."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import DEFAULT_INDICATORS, DEFAULT_SPLITS, indicator_row, make_master
from toolkit import wording
from toolkit.model import Registry
from toolkit.registry import load_registry
from toolkit.store import display_width
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
