"""Property: a round's results depend on what departments reported, never on how files arrived.

Any set of valid returns (at most one per department, random valid values typed
the ways people type them) merges to the same results.csv whatever the files are
called and in whatever order they lie in the inbox; and every 合计 is the sum of
its accepted parts (numerators and denominators separately for 比率).
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from factories import DEFAULT_INDICATORS, SHEET2, indicator_row, make_master, make_return
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from toolkit.demo import deliver
from toolkit.merge import run_merge
from toolkit.model import NODE_STATES, TOTAL
from toolkit.registry import load_registry
from toolkit.store import safe_name
from toolkit.workspace import Workspace

D = Decimal
ROUND = "2021-04"
NOW = datetime(2021, 5, 13, 9, 0)
UNITS = ("市科技局", "市发展改革委", "灵宝市人民政府", "卢氏县人民政府")
#: The default indicators plus a 比率 and a 累计 (without 目标分解) reported by several units.
INDICATORS = [
    *DEFAULT_INDICATORS,
    indicator_row(SHEET2, "2-5", "扩大有效投资", "灵宝市人民政府", "2-5-1", "重点项目开工率", "比率", "%", 90,
         reporters="灵宝市人民政府、卢氏县人民政府"),
    indicator_row(SHEET2, "2-6", "稳定和扩大就业", "市发展改革委", "2-6-1", "城镇新增就业", "累计", "人", 4000,
         reporters="市科技局、市发展改革委、灵宝市人民政府、卢氏县人民政府"),
]
NOTHING = ("无", "暂无", "—", "/")
NAME_CHARS = "报表进展情况重点工作市县局委灵宝卢氏科技发改四月（）_- abcXYZ0123456789"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return load_registry(make_master(tmp_path_factory.mktemp("prop"), indicators=INDICATORS))


# ---------------------------------------------------------------------------------------
# strategies


def amounts(high: Decimal, places: int = 2):
    """Non-negative numbers up to ``high`` with at most ``places`` decimals."""
    scale = 10 ** places
    return st.integers(0, int(high * scale)).map(lambda n: D(n).scaleb(-places).normalize())


def typed(value: Decimal, unit: str):
    """The ways a person types one number: as a number, as text, full-width, with the row's unit."""
    text = format(value, "f")
    forms = [st.just(int(value) if value == value.to_integral_value() else float(text)), st.just(text),
             st.just(text.translate(str.maketrans("0123456789.-", "０１２３４５６７８９．－")))]
    if unit:
        forms.append(st.just(f"{text}{unit}"))
    return st.one_of(forms)


@st.composite
def row_input(draw, ind, unit_name: str):
    """(cells to type, expected value, expected base) for one indicator row of one unit."""
    progress = draw(st.sampled_from(["按计划推进。", "已完成阶段任务。", "正在推进，进展顺利。"]))
    cells: dict[str, object] = {"进展情况": progress}
    value = base = None
    if ind.kind == "节点":
        cells["完成状态"] = draw(st.sampled_from(NODE_STATES))
        return cells, None, None
    if ind.kind == "累计":
        target = ind.target_for(unit_name) or ind.target
        if draw(st.integers(0, 5)) == 0:
            cells["本期完成"] = draw(st.sampled_from(NOTHING))
            return cells, D(0), None  # "无" on a cumulative row counts as 0
        value = draw(amounts(target * 2, 1))
    elif ind.kind == "比率":
        base = D(draw(st.integers(1, 500)))
        value = D(draw(st.integers(0, int(base))))
        cells["基数"] = draw(typed(base, ""))
    elif ind.kind == "增速":
        value = draw(st.integers(-200, 300).map(lambda n: D(n).scaleb(-1).normalize()))
    else:  # 上限, 下限: plausible for the target (20 times off is a unit slip, E213)
        target = ind.target_for(unit_name) or ind.target
        low, high = int(target * 10) + 1, int(min(D(100), target * 10) * 100)
        value = draw(st.integers(low, high).map(lambda n: D(n).scaleb(-2).normalize()))
    cells["本期完成"] = draw(typed(value, "" if ind.kind == "比率" else ind.unit))
    return cells, value, base


def file_names(n: int):
    stem = st.text(NAME_CHARS, min_size=1, max_size=16)
    names = stem.map(lambda s: safe_name(f"{s}.xlsx")).filter(lambda s: not s.startswith((".", "~$")))
    return st.lists(names, min_size=n, max_size=n, unique_by=lambda s: s.lower())


@st.composite
def rounds(draw, registry):
    senders = draw(st.lists(st.sampled_from(UNITS), unique=True, max_size=len(UNITS)))
    returns = {}
    for unit in senders:
        rows = {}
        for ind in registry.rows_for(unit):
            rows[ind.code] = draw(row_input(ind, unit))
        returns[unit] = rows
    names = draw(file_names(len(senders)))
    minutes = draw(st.lists(st.integers(0, 7 * 24 * 60), min_size=len(senders), max_size=len(senders)))
    return returns, names, minutes


# ---------------------------------------------------------------------------------------
# running a round


def merge_round(master: Path, folder: Path, files: list[tuple[Path, str, datetime]]) -> str:
    """A fresh workspace holding ``master``; the files copied in under the given names; its results.csv."""
    ws = Workspace(folder)
    folder.mkdir(parents=True)
    shutil.copyfile(master, ws.master)
    ws.make_round_dirs(ROUND)
    for source, name, received in files:
        target = ws.inbox(ROUND) / name
        shutil.copyfile(source, target)
        deliver(ws, ROUND, target, received)
    run_merge(ws, ROUND, now=NOW)
    return (ws.output(ROUND) / "results.csv").read_text(encoding="utf-8-sig")


def _dec(text: str) -> Decimal | None:
    return D(text) if text else None


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_results_do_not_depend_on_file_names_or_order(registry, data):
    returns, names, minutes = data.draw(rounds(registry))
    event(f"{len(returns)} 个单位报送")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        made = {unit: make_return(registry, tmp / "made", unit=unit, values={c: v[0] for c, v in rows.items()},
                                  name=f"{i}.xlsx")
                for i, (unit, rows) in enumerate(returns.items())}
        plain = [(made[u], f"{u}_{ROUND}.xlsx", datetime(2021, 5, 7, 10)) for u in UNITS if u in made]
        shuffled = [(made[u], name, datetime(2021, 5, 1) + (datetime(2021, 5, 8, 23, 59) - datetime(2021, 5, 1))
                     * (m / (7 * 24 * 60))) for u, name, m in zip(made, names, minutes, strict=True)]
        first = merge_round(registry.path, tmp / "a", plain)
        second = merge_round(registry.path, tmp / "b", list(reversed(shuffled)))
    assert first == second

    rows = list(csv.DictReader(first.splitlines()))
    by_key = {(r["指标编号"], r["单位名称"]): r for r in rows}
    # Every unit's row says what it reported; nobody else's.
    for ind in registry.indicators():
        for unit in ind.reporters:
            row = by_key[(ind.code, unit)]
            if unit not in returns:
                assert row["状态"] == "未报送"
                continue
            _cells, value, base = returns[unit][ind.code]
            assert row["状态"] not in ("未报送", "待更正"), row
            assert _dec(row["本期完成"]) == value, (ind.code, unit, row)
            assert _dec(row["基数"]) == base
    # A 合计 is the sum of its accepted parts, numerators and denominators separately.
    for ind in registry.indicators():
        if len(ind.reporters) < 2:
            continue
        total = by_key[(ind.code, TOTAL)]
        parts = [by_key[(ind.code, u)] for u in ind.reporters]
        accepted = [p for p in parts if p["状态"] not in ("未报送", "待更正")]
        if not accepted:
            assert total["本期完成"] == "" and total["状态"] == "未报送"
            continue
        assert _dec(total["本期完成"]) == sum((_dec(p["本期完成"]) for p in accepted), D(0))
        if ind.kind == "比率":
            assert _dec(total["基数"]) == sum((_dec(p["基数"]) for p in accepted), D(0))
