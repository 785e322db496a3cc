"""scripts/render_pages.py: the report and the summary rendered by LibreOffice to PDF and page images."""

from __future__ import annotations

import importlib.util
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "render_pages.py"
#: A font name in a PDF that stands for Chinese glyphs (non-ASCII names are #-escaped).
CJK_FONT = re.compile(r"CJK|Han|Song|Sun|Hei|Kai|Fang|Ming|GB|YaHei|#[89A-F][0-9A-F]")
CJK = re.compile(r"[\u4e00-\u9fff]")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, encoding="utf-8",
                          timeout=600, cwd=ROOT)


def _module():
    spec = importlib.util.spec_from_file_location("render_pages", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def _fonts(pdf: Path) -> list[tuple[str, bool]]:
    """(name, embedded) of every font pdffonts lists."""
    lines = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()
    out = []
    for line in lines[2:]:
        fields = line.split()
        # name type… encoding emb sub uni object-id generation: emb is the fifth field from the end
        out.append((fields[0], fields[-5] == "yes"))
    return out


@pytest.mark.parametrize(("text", "count", "pages"), [
    (None, 3, [1, 2, 3]), ("1", 3, [1]), ("2-3", 5, [2, 3]), ("1,4-5", 5, [1, 4, 5]), ("1-9", 2, [1, 2]),
    ("3，1", 3, [3, 1]),
])
def test_pages_option(text, count, pages):
    assert _module().parse_pages(text, count) == pages


def test_a_bad_pages_option_is_a_chinese_error():
    module = _module()
    with pytest.raises(module.RenderError, match="看不懂"):
        module.parse_pages("第一页", 3)


def test_a_file_that_is_no_document_is_refused(tmp_path):
    text = tmp_path / "说明.txt"
    text.write_text("x", encoding="utf-8")
    proc = run(str(text), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("错误：") and "说明.txt" in proc.stderr and "Traceback" not in proc.stderr


def test_an_unmerged_round_says_to_merge_first(tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    from factories import make_workspace

    ws = make_workspace(tmp_path)
    proc = run("-w", str(ws.root), "-r", "2021-04", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "ducha merge" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftoppm")), reason="LibreOffice or poppler missing")
def test_the_demo_report_and_summary_render_with_cjk_fonts_embedded(demo, tmp_path):
    out = tmp_path / "pages"
    proc = run("-w", str(demo.folder), "-r", demo.result.round.name, "--out", str(out), "--pages", "1", "--small")
    assert proc.returncode == 0, proc.stderr
    names = {"report": f"进展情况报告_{demo.result.round.name}", "summary": f"汇总表_{demo.result.round.name}"}
    for stem in names.values():
        assert str(out / f"{stem}.pdf") in proc.stdout and f"{stem}_p1.png" in proc.stdout
        assert sorted(p.name for p in out.glob(f"{stem}_p*.png")) == [f"{stem}_p1.png"]  # --pages 1
    # page images of an A4 page at 100 dpi: the report upright, the summary's first sheet across
    width, height = _png_size(out / f"{names['report']}_p1.png")
    assert (abs(width - 827) <= 2, abs(height - 1169) <= 2) == (True, True)
    width, height = _png_size(out / f"{names['summary']}_p1.png")
    assert (abs(width - 1169) <= 2, abs(height - 827) <= 2) == (True, True)
    for stem in names.values():
        pdf = out / f"{stem}.pdf"
        fonts = _fonts(pdf)
        assert fonts and all(embedded for _, embedded in fonts), fonts
        assert any(CJK_FONT.search(name) for name, _ in fonts), fonts
        text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert len(CJK.findall(text)) > 50  # real Chinese text, not boxes
    report_text = subprocess.run(["pdftotext", "-l", "1", str(out / f"{names['report']}.pdf"), "-"],
                                 capture_output=True, text=True, check=True).stdout
    assert demo.result.registry.settings.issuer in report_text


def test_readme_shows_one_page_of_each():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for image in ("docs/report-page1.png", "docs/summary-page1.png"):
        assert f"]({image})" in readme
        assert _png_size(ROOT / image)[0] >= 800
        assert (ROOT / image).stat().st_size < 200_000  # small: rendered at 100 dpi, 256 colours
