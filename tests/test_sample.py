"""The bundled sample workspace: its CSV sources are consistent, reproduce the seed
report's figures, and ``workbooks/master.xlsx`` is up to date with them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "build_sample.py"
KINDS = ("累计", "比率", "上限", "下限", "增速", "节点")


def _load_script():
    spec = importlib.util.spec_from_file_location("build_sample", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


build_sample = _load_script()


@pytest.fixture(scope="module")
def src():
    return build_sample.load_sources()


@pytest.fixture(scope="module")
def indicators(src):
    return {r["指标编号"]: r for r in src.indicators}


# -- consistency of the CSV files ------------------------------------------------------------


def test_sources_have_no_problems(src):
    assert build_sample.problems(src) == []


def test_codes_are_unique(src):
    for values in ([r["指标编号"] for r in src.indicators], [r["单位编号"] for r in src.units],
                   [r["单位名称"] for r in src.units], [r["工作表"] for r in src.categories],
                   [r["轮次"] for r in src.rounds]):
        duplicated = [v for v, n in Counter(values).items() if n > 1]
        assert duplicated == []


def test_unit_codes_are_zero_padded(src):
    assert [r["单位编号"] for r in src.units] == [f"D{i:02d}" for i in range(1, len(src.units) + 1)]


def test_every_unit_is_known(src):
    names = {r["单位名称"] for r in src.units}
    for row in src.indicators:
        assert row["牵头单位"] in names, row["指标编号"]
        assert set(src.reporters(row)) <= names, row["指标编号"]
    assert {r["单位名称"] for r in src.splits} <= names
    assert {r["单位名称"] for r in src.returns} <= names


def test_every_type_is_valid_and_present(src):
    kinds = Counter(r["指标类型"] for r in src.indicators)
    assert set(kinds) == set(KINDS)
    assert all(kinds[k] >= 3 for k in KINDS), kinds


def test_sizes(src):
    assert len(src.indicators) >= 45
    assert len(src.units) >= 24
    per_sheet = Counter(r["工作表"] for r in src.indicators)
    assert [c["工作表"] for c in src.categories if per_sheet[c["工作表"]] < 3] == []
    assert len(src.categories) == 10


def test_sheet_names_fit_excel(src):
    assert all(len(c["工作表"]) <= 31 for c in src.categories)


def test_titles_are_the_seed_headings(src):
    seed = ROOT.parent / "shared" / "seed" / "000_bbdf5b9c9694a30c.txt"
    if not seed.exists():
        pytest.skip("seed report not available")
    text = seed.read_text(encoding="utf-8")
    for cat in src.categories:
        assert f"\n{cat['标题']}" in text, cat["标题"]


def test_demo_rows_match_reporters(src, indicators):
    keys = Counter((r["轮次"], r["单位名称"], r["指标编号"]) for r in src.returns)
    assert [k for k, n in keys.items() if n > 1] == []
    for rnd, unit, code in keys:
        assert rnd in {r["轮次"] for r in src.rounds}
        assert code in indicators, code
        assert unit in src.reporters(indicators[code]), (rnd, unit, code)


def test_april_round_is_complete(src):
    reported = {(r["单位名称"], r["指标编号"]): r for r in src.returns if r["轮次"] == "2021-04"}
    for row in src.indicators:
        for unit in src.reporters(row):
            entry = reported[(unit, row["指标编号"])]
            if row["指标类型"] == "节点":
                assert entry["完成状态"] in ("已完成", "推进中", "未启动")
            else:
                assert entry["本期完成"], (unit, row["指标编号"])


def test_splits_add_up(src, indicators):
    totals: dict[str, Decimal] = {}
    for s in src.splits:
        totals[s["指标编号"]] = totals.get(s["指标编号"], Decimal(0)) + Decimal(s["年度目标"])
    assert totals
    for code, total in totals.items():
        assert total == Decimal(indicators[code]["年度目标"]), code


# -- the seed report's figures ---------------------------------------------------------------


def _pct(numerator: Decimal, denominator: Decimal, places: int) -> str:
    value = numerator / denominator * 100
    return str(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _april(src, code: str, column: str = "本期完成") -> Decimal:
    """The April figure for one indicator, summed over its reporting units."""
    values = [Decimal(r[column]) for r in src.returns if r["轮次"] == "2021-04" and r["指标编号"] == code]
    assert values, code
    return sum(values, Decimal(0))


def _places(row) -> int:
    return int(row["小数位数"] or 2)


SEED_COMPLETION = [  # 完成率 = 本期完成 / 年度目标
    ("1-2-1", "42.14"), ("2-1-2", "47.82"), ("3-1-2", "28.2"), ("4-4-1", "65"), ("4-4-2", "109.9"),
    ("7-1-1", "70"), ("7-1-2", "24.3"), ("7-1-3", "12.93"), ("7-2-1", "72"), ("10-2-1", "38.5"),
    ("10-2-3", "50.01"), ("10-2-4", "29.03"),
]
SEED_RATIO = [  # 比率 = 本期完成 / 基数
    ("2-1-1", "95.48"), ("2-3-1", "85.50"), ("6-3-1", "85.39"), ("6-3-2", "23.86"), ("6-3-3", "80.43"),
    ("6-3-4", "16.92"),
]
SEED_YOY = [("10-5-1", "55.26"), ("10-5-2", "264.35")]  # 同比 = 本期完成 / 上年同期 − 1


@pytest.mark.parametrize(("code", "printed"), SEED_COMPLETION)
def test_seed_completion(src, indicators, code, printed):
    row = indicators[code]
    assert row["指标类型"] == "累计"
    assert _pct(_april(src, code), Decimal(row["年度目标"]), _places(row)) == printed


@pytest.mark.parametrize(("code", "printed"), SEED_RATIO)
def test_seed_ratio(src, indicators, code, printed):
    row = indicators[code]
    assert row["指标类型"] == "比率"
    assert _pct(_april(src, code), _april(src, code, "基数"), _places(row)) == printed


@pytest.mark.parametrize(("code", "printed"), SEED_YOY)
def test_seed_year_on_year(src, indicators, code, printed):
    value, last_year = _april(src, code), _april(src, code, "上年同期")
    assert _pct(value - last_year, last_year, _places(indicators[code])) == printed


def test_seed_bounds(src, indicators):
    unemployment, card = indicators["10-2-2"], indicators["10-3-1"]
    assert (unemployment["指标类型"], card["指标类型"]) == ("上限", "下限")
    assert _april(src, "10-2-2") == Decimal("3.42") <= Decimal(unemployment["年度目标"])
    assert _april(src, "10-3-1") == Decimal("94.7") >= Decimal(card["年度目标"])


def test_april_has_lagging_rows(src, indicators):
    time_progress = Decimal("33.33")
    lagging = [code for code, row in indicators.items() if row["指标类型"] == "累计"
               and Decimal(_pct(_april(src, code), Decimal(row["年度目标"]), 2)) < time_progress]
    assert len(lagging) >= 3, lagging
    below = [code for code, row in indicators.items() if row["指标类型"] == "增速"
             and _april(src, code) < Decimal(row["年度目标"])]
    assert below


def test_overdue_node(src, indicators):
    overdue = [code for code, row in indicators.items()
               if row["指标类型"] == "节点" and row["完成时限"] == "3月底"
               and any(r["完成状态"] != "已完成" for r in src.returns
                       if r["轮次"] == "2021-04" and r["指标编号"] == code)]
    assert overdue


# -- the workbook ----------------------------------------------------------------------------


def test_committed_master_is_up_to_date():
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True,
                          encoding="utf-8")
    assert done.returncode == 0, done.stderr


def test_check_detects_an_edit(tmp_path, src):
    path = tmp_path / "master.xlsx"
    build_sample.build(src, path)
    book = load_workbook(path)
    book["一创新驱动"]["I5"] = 150  # 科技型中小企业备案 target, 140 in the CSV
    book.save(path)
    done = subprocess.run([sys.executable, str(SCRIPT), "--check", "--out", str(path)],
                          capture_output=True, text=True, encoding="utf-8")
    assert done.returncode == 1
    assert "一创新驱动" in done.stderr


def test_build_is_reproducible(tmp_path, src):
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    build_sample.build(src, a)
    build_sample.build(src, b)
    assert build_sample.compare(a, b) == []
    assert a.read_bytes() == b.read_bytes()  # committed binary changes only when the CSVs do


def test_workbook_follows_the_contract(tmp_path, src):
    path = tmp_path / "master.xlsx"
    build_sample.build(src, path)
    book = load_workbook(path)
    sheets = [c["工作表"] for c in src.categories]
    assert book.sheetnames == ["说明", "设置", "单位", "轮次", "目标分解", *sheets]
    assert book["轮次"]["B3"].value.date().isoformat() == "2021-04-30"
    assert book["轮次"]["B3"].number_format == "yyyy-mm-dd"
    assert book["设置"]["B4"].value == 2021
    for cat in src.categories:
        ws = book[cat["工作表"]]
        assert ws["A1"].value == cat["标题"]
        assert [c.value for c in ws[2]] == list(build_sample.CATEGORY_COLUMNS)
        assert ws.freeze_panes == "A3"
    first = book[sheets[0]]
    assert {"A3:A4", "B3:B4", "C3:C4"} <= {str(m) for m in first.merged_cells.ranges}
    assert first["I5"].value == 140 and first["L5"].value == 2  # numbers, not text
    second = book[sheets[1]]
    assert second["A4"].value is None and second["E4"].value == "2-1-2"  # blank below a task's first row


def test_registry_reads_the_sample(tmp_path, src):
    registry = pytest.importorskip("toolkit.registry")
    path = tmp_path / "master.xlsx"
    build_sample.build(src, path)
    reg = registry.load_registry(path)
    assert [ind.code for ind in reg.indicators()] == [r["指标编号"] for r in src.indicators]
    forest = reg.indicator("4-4-1")
    assert forest.task == "大规模开展国土绿化行动" and len(forest.reporters) == 6
    assert reg.indicator("2-1-2").lead == "市发展改革委"  # inherited from the task's first row


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("demo_returns.csv", "2021-04,市公安局,10-5-1,", "2021-04,市教育局,10-5-1,", "不是这个指标的填报单位"),
    ("指标.csv", ",2-3-1,审批事项办结率,比率,", ",2-3-1,审批事项办结率,比例,", "指标类型“比例”无效"),
    ("指标.csv", ",1-1-2,新建省级以上研发平台,", ",1-1-1,新建省级以上研发平台,", "指标编号“1-1-1”重复"),
    ("目标分解.csv", "4-4-1,湖滨区人民政府,2\n", "4-4-1,湖滨区人民政府,3\n", "与年度目标 30.49 不一致"),
    ("单位.csv", "D26,湖滨区人民政府,董雪,0398-2812326,hubin@example.gov.cn\n", "", "不在单位.csv 中"),
    ("指标.csv", "“春霖”行动通知,节点,,,3月底,", "“春霖”行动通知,节点,,,三月份,", "完成时限“三月份”"),
])
def test_inconsistent_sources_are_refused(tmp_path, capsys, file, old, new, expected):
    source = tmp_path / "source"
    source.mkdir()
    for path in build_sample.SOURCE_DIR.glob("*.csv"):
        text = path.read_text(encoding="utf-8-sig")
        if path.name == file:
            assert old in text
            text = text.replace(old, new)
        (source / path.name).write_text(text, encoding="utf-8")
    out = tmp_path / "master.xlsx"
    assert build_sample.main(["--source", str(source), "--out", str(out)]) == 2
    assert expected in capsys.readouterr().err
    assert not out.exists()
