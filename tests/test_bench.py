"""scripts/bench_merge.py: the generated workspace is what it claims, and a small run prints the table."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from toolkit.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "bench_merge.py"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import bench_merge
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return bench_merge


@pytest.mark.parametrize("n", [13, 20, 100, 1000, 2000])
def test_every_unit_reports_40_rows_in_every_category(bench, n):
    reporters = bench.assignment(n)
    per_unit = Counter(u for units in reporters for u in units)
    assert set(per_unit.values()) == {bench.ROWS_PER_UNIT}
    assert all(reporters), "every indicator has a reporting unit"
    assert all(len(set(units)) == len(units) for units in reporters), "no unit twice on one indicator"
    sizes = {len(units) for units in reporters}
    assert max(sizes) - min(sizes) <= 1  # the load is spread evenly (80 units each at N = 1,000)
    if n == 1000:
        assert sizes == {80}
    per_category = bench.INDICATORS // bench.CATEGORIES
    for u in (0, n // 2, n - 1):
        mine = [i for i, units in enumerate(reporters) if u in units]
        assert len({i // per_category for i in mine}) == bench.CATEGORIES


def test_unit_names_are_distinct(bench):
    names = bench.unit_names(2000)
    assert len(set(names)) == 2000 and all(re.search(r"[\u4e00-\u9fff]", n) for n in names)


@pytest.mark.slow
def test_smoke_run_prints_the_table_and_keeps_the_workspace(tmp_path):
    """The --n 20 smoke run: generate, measure floor, naive, merge and rerun; then reuse the cache."""
    cache, keep = tmp_path / "cache", tmp_path / "keep"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--n", "20", "--cache", str(cache), "--keep", str(keep),
                           "--profile", str(tmp_path / "prof")],
                          capture_output=True, text=True, encoding="utf-8", timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for step in ("下限", "朴素", "合并", "重跑"):
        assert re.search(rf"^\s+20 {step}\s+[\d.]+\s+[\d.]+\s+\d+\s+\d+$", out, re.M), out
    assert re.search(r"^\s+20\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out, re.M), out  # the three ratios
    assert "合并/下限" in out and "朴素/合并" in out and "重跑/合并" in out
    # the profile of one more merge, by stage
    assert (tmp_path / "prof" / "merge-20.prof").exists()
    assert re.search(r"^\s+读取报表\s+[\d.]+\s+[\d.]+%$", out, re.M) and "台账" in out, out
    # the merged workspace is kept, with every output and the 20 returns accepted
    ws = Workspace(keep / "n20" / "ws")
    outputs = {p.name for p in ws.output("2021-04").iterdir()}
    assert {"results.csv", "汇总表_2021-04.xlsx", "台账_2021-04.xlsx", "进展情况报告_2021-04.docx",
            "校验报告_2021-04.xlsx"} <= outputs
    registry = ws.registry()
    assert len(list(registry.indicators())) == 500 and len(registry.categories) == 10
    assert len(list(ws.archive("2021-04").iterdir())) == 20
    assert any(ws.feedback("2021-04").iterdir()), "some returns carry mistakes and get feedback"
    # generation is cached by its parameters
    again = subprocess.run([sys.executable, str(SCRIPT), "--n", "20", "--cache", str(cache), "--generate-only"],
                           capture_output=True, text=True, encoding="utf-8", timeout=300, cwd=ROOT)
    assert again.returncode == 0 and "使用缓存的工作区" in again.stderr, again.stderr


def test_two_sizes_give_the_growth_ratio(bench):
    def m(label, seconds):
        return bench.Measured(label, seconds, 100.0, 120.0, 0, cpu=seconds * 1.5)

    small = bench.SizeResult(1000, m("下限", 10), m("朴素", 100), m("合并", 14), m("重跑", 3))
    big = bench.SizeResult(2000, m("下限", 20), m("朴素", 200), m("合并", 29), m("重跑", 6))
    text = bench.table([small, big])
    assert "time(2000)/time(1000)：合并 2.07" in text and "按 CPU：合并 2.07" in text
    assert re.search(r"^\s+1000\s+1\.40\s+7\.14\s+0\.21$", text, re.M), text


def test_merge_phases_prints_every_step(demo, tmp_path):
    """scripts/merge_phases.py on a copy of the demo: every step timed, the demo left as it was."""
    before = sorted(p.name for p in (demo.folder / "rounds" / "2021-04" / "output").iterdir())
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "merge_phases.py"), str(demo.folder),
                           "--keep", str(tmp_path / "ws")], capture_output=True, timeout=300)
    out = proc.stdout.decode("utf-8")
    assert proc.returncode == 0, proc.stderr.decode("utf-8", errors="replace")
    for step in ("read_all", "judge_round", "archive", "feedback", "outputs_digest", "registry", "合计"):
        assert re.search(rf"^{step}\s+\d+\.\d\d 秒", out, re.M), step
    assert (tmp_path / "ws" / "rounds" / "2021-04" / "output").is_dir()
    assert sorted(p.name for p in (demo.folder / "rounds" / "2021-04" / "output").iterdir()) == before
