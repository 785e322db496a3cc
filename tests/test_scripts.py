"""Every developer script in scripts/ runs (the clerk scripts are run in test_cli.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import docx
import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args], capture_output=True, text=True,
                          encoding="utf-8", timeout=600, cwd=ROOT)


def test_every_script_is_run_by_a_test():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in TESTS.glob("test_*.py"))
    for script in sorted((ROOT / "scripts").glob("*.py")):
        assert f'"{script.name}"' in sources, f"no test runs scripts/{script.name}"


def test_make_report_template(tmp_path):
    proc = run("make_report_template.py", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    doc = docx.Document(str(tmp_path / "report.docx"))
    assert {"正文", "标题"} <= {s.name for s in doc.styles}


@pytest.mark.parametrize("script", ["gen_codes_doc.py", "build_sample.py"])
def test_generated_files_are_up_to_date(script):
    proc = run(script, "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_benchmark_prints_ratios():
    proc = run("bench_read.py", "--files", "4")
    assert proc.returncode == 0, proc.stderr
    assert "openpyxl（基准）" in proc.stdout and "耗时比" in proc.stdout and "重跑" in proc.stdout


def test_feedback_benchmark(demo):
    proc = run("bench_feedback.py", str(demo.folder), "2021-04", "--files", "3")
    assert proc.returncode == 0, proc.stderr
    assert "package" in proc.stdout and "openpyxl" in proc.stdout and "ms CPU per file" in proc.stdout
