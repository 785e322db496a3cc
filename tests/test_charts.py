"""The chart of completion against 序时进度 (toolkit.charts): a PNG for A4, or None without a CJK font."""

from __future__ import annotations

import logging
import shutil
import struct
from decimal import Decimal
from pathlib import Path

import pytest

from toolkit import charts

D = Decimal
BARS = [
    charts.Bar("一、创新驱动", D("41.45"), D("33.33")),
    ("二、经济发展", D("28.10"), D("33.33")),  # behind: drawn in the "behind" colour
    ("三、产业体系", 272.3, 33.33),  # numbers work too; beyond 100% widens the axis
    ("四、没有累计指标", None, D("33.33")),  # nothing to draw: left out
]


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def _colours(path: Path) -> set[str]:
    from matplotlib import image

    pixels = image.imread(str(path))[:, :, :3]
    return {"#{:02X}{:02X}{:02X}".format(*(round(c * 255) for c in px)) for px in pixels.reshape(-1, 3)}


def _system_font() -> charts.CjkFont:
    font = charts.find_cjk_font()
    if font is None:
        pytest.skip("no font with Chinese glyphs on this machine")
    return font


def test_chart_is_a_png_the_width_of_the_type_area(tmp_path):
    _system_font()
    out = charts.progress_chart(BARS, tmp_path / "chart.png", dpi=200)
    assert out == tmp_path / "chart.png" and out.is_file()
    width, height = _png_size(out)
    assert width == int(156 / 25.4 * 200)  # 156 mm at 200 dpi
    drawn = 3  # the category without a completion figure is left out
    assert abs(height - (22 + charts.BAR_PITCH_MM * drawn) / 25.4 * 200) <= 1
    assert {charts._AHEAD, charts._BEHIND, charts._MARK} <= _colours(out)


def test_chart_height_follows_the_categories_and_dpi(tmp_path):
    _system_font()
    ten = [(f"类别{i}", 10 * i, 33.33) for i in range(1, 11)]
    width, height = _png_size(charts.progress_chart(ten, tmp_path / "ten.png", dpi=100))
    assert width == int(156 / 25.4 * 100)
    assert abs(height - (22 + charts.BAR_PITCH_MM * 10) / 25.4 * 100) <= 1


def test_the_font_has_every_chinese_glyph_the_chart_uses():
    font = _system_font()
    from matplotlib import font_manager

    charmap = font_manager.get_font(str(font.path)).get_charmap()
    assert all(ord(ch) in charmap for ch in charts.SAMPLE + "不低于序时进度")


def test_fonts_in_a_given_folder_are_used(tmp_path):
    """A folder holding a Chinese font is enough: the font is drawn from its file."""
    source = _system_font().path
    folder = tmp_path / "fonts"
    folder.mkdir()
    shutil.copy(source, folder / source.name)
    font = charts.find_cjk_font([folder])
    assert font is not None and font.path.parent == folder and not font.registered
    assert charts.progress_chart(BARS, tmp_path / "chart.png", font_dirs=[folder]) is not None


def test_no_cjk_font_means_no_chart_and_a_logged_reason(tmp_path, caplog):
    empty = tmp_path / "empty"
    empty.mkdir()
    with caplog.at_level(logging.WARNING, logger="toolkit.charts"):
        out = charts.progress_chart(BARS, tmp_path / "chart.png", font_dirs=[empty])
    assert out is None
    assert not (tmp_path / "chart.png").exists()
    assert "未找到含中文字形的字体" in caplog.text and str(empty) in caplog.text


def test_a_latin_only_font_is_not_taken_for_a_chinese_one(tmp_path, caplog):
    import matplotlib

    latin = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    folder = tmp_path / "latin"
    folder.mkdir()
    shutil.copy(latin, folder / latin.name)
    assert charts.find_cjk_font([folder]) is None
    with caplog.at_level(logging.WARNING, logger="toolkit.charts"):
        assert charts.progress_chart(BARS, tmp_path / "chart.png", font_dirs=[folder]) is None
    assert "未找到含中文字形的字体" in caplog.text


def test_nothing_to_draw_is_logged(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="toolkit.charts"):
        assert charts.progress_chart([("一", None, 33)], tmp_path / "chart.png") is None
    assert "没有可画的完成率数据" in caplog.text


def test_importing_charts_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, toolkit.charts; assert 'matplotlib' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0


@pytest.mark.parametrize(("text", "lines"), [("四生态保护", 1), ("一、深入实施创新驱动发展战略", 2),
                                             ("一、深入实施创新驱动发展战略，奋力打造郑洛西高质量发展合作带重要支撑区", 2)])
def test_long_labels_wrap_on_two_lines(text, lines):
    label = charts._label(text)
    assert label.count("\n") + 1 == lines
    assert all(len(part) <= charts.LABEL_CHARS for part in label.split("\n"))
