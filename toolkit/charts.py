"""Chart images for the Word report, drawn with matplotlib in a Chinese font.

:func:`progress_chart` draws each category's completion against 序时进度 as horizontal
bars (a bar per category, the 序时进度 as a dark mark across it, the figure at the bar's
end), sized for the type area of an A4 page (156 mm) so that it prints readably, and
saves it as a PNG. Its input is plain data (:class:`Bar`, or ``(label, completion,
time progress)`` tuples, percentages as Decimals or numbers), not the writers' objects.

The labels need a font with Chinese characters. :func:`find_cjk_font` looks through the
fonts matplotlib's font manager knows (or the fonts in given folders): the usual Chinese
fonts first (Noto Sans/Serif CJK SC, Source Han, SimSun, SimHei, Microsoft YaHei,
WenQuanYi …), then any font that has the glyphs. Without one, :func:`progress_chart`
logs why and returns None, and the report is written without the chart — never with
boxes where the characters should be.

matplotlib is imported on first use, so importing this module costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from .formatting import decimal_or_none, format_pct
from .store import atomic_path

log = logging.getLogger(__name__)

__all__ = ["Bar", "CjkFont", "find_cjk_font", "progress_chart"]

#: Families tried first, best first: simplified-Chinese faces, then pan-CJK ones.
PREFERRED_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "Noto Serif CJK SC",
    "Noto Serif SC", "Source Han Serif SC", "Microsoft YaHei", "微软雅黑", "SimHei", "黑体", "DengXian", "等线",
    "SimSun", "宋体", "NSimSun", "FangSong", "仿宋", "KaiTi", "楷体", "PingFang SC", "Hiragino Sans GB", "STHeiti",
    "Heiti SC", "STSong", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "AR PL UMing CN", "AR PL UKai CN",
    "Noto Sans CJK JP", "Noto Sans CJK TC", "Noto Serif CJK JP", "Noto Serif CJK TC",
)
#: A font must have every one of these characters to be used.
SAMPLE = "完成率序时进度类别一二三四五六七八九十、，（）％"

#: The type area of an A4 page under GB/T 9704 (210 mm − 28 mm − 26 mm).
TYPE_AREA_MM = 156
MM_PER_INCH = 25.4
FONT_SIZE = 10  # points, at the printed size
BAR_PITCH_MM = 9.5  # vertical space per category
LABEL_CHARS = 11  # characters per line of a category label (two lines at most)

_BEHIND = "#C0504D"  # the bar of a category behind 序时进度
_AHEAD = "#4F81BD"
_MARK = "#222222"


@dataclass(frozen=True)
class Bar:
    """One category: its label, completion % and 序时进度 % (None when it has none)."""

    label: str
    completion: Decimal | float | int | None
    time_progress: Decimal | float | int | None = None


@dataclass(frozen=True)
class CjkFont:
    """A font with Chinese glyphs: its family name and file."""

    family: str
    path: Path
    registered: bool  # known to matplotlib's global font manager (drawn by family name)


def _has_glyphs(path: str, text: str = SAMPLE) -> bool:
    from matplotlib import font_manager

    try:
        charmap = font_manager.get_font(path).get_charmap()
    except Exception:  # an unreadable or unsupported font file is no candidate
        return False
    return all(ord(ch) in charmap for ch in text)


def _entries(font_dirs: Sequence[Path] | None) -> tuple[list[Any], bool]:
    """Font entries to choose from: matplotlib's (None), or the fonts in ``font_dirs``."""
    from matplotlib import font_manager

    if font_dirs is None:
        return list(font_manager.fontManager.ttflist), True
    entries = []
    for path in font_manager.findSystemFonts(fontpaths=[str(d) for d in font_dirs]):
        try:
            entries.append(font_manager.ttfFontProperty(font_manager.get_font(path)))
        except Exception:  # not a font matplotlib can read
            continue
    return entries, False


def find_cjk_font(font_dirs: Sequence[Path] | None = None) -> CjkFont | None:
    """The best font with Chinese glyphs, or None.

    ``font_dirs`` None searches every font matplotlib knows (the system's); folders given
    are searched instead, and only they.
    """
    entries, registered = _entries(font_dirs)
    regular = sorted(entries, key=lambda e: (e.style != "normal", abs(_weight(e.weight) - 400)))
    by_name: dict[str, Any] = {}
    for entry in regular:
        by_name.setdefault(entry.name, entry)
    for family in PREFERRED_FAMILIES:
        entry = by_name.get(family)
        if entry is not None and _has_glyphs(entry.fname):
            return CjkFont(entry.name, Path(entry.fname), registered)
    for entry in regular:
        if _has_glyphs(entry.fname):
            return CjkFont(entry.name, Path(entry.fname), registered)
    return None


def _weight(weight: object) -> int:
    if isinstance(weight, int):
        return weight
    names = {"light": 300, "normal": 400, "regular": 400, "book": 400, "medium": 500, "semibold": 600,
             "demibold": 600, "bold": 700, "heavy": 800, "black": 900}
    return names.get(str(weight).lower(), 400)


def _bars(items: Iterable[Bar | tuple]) -> list[Bar]:
    bars = []
    for item in items:
        bar = item if isinstance(item, Bar) else Bar(*item)
        if decimal_or_none(bar.completion) is not None:
            bars.append(bar)
    return bars


def _label(text: str) -> str:
    """A category label on at most two lines of :data:`LABEL_CHARS` characters."""
    text = text.strip()
    if len(text) <= LABEL_CHARS:
        return text
    if len(text) > 2 * LABEL_CHARS:
        text = text[:2 * LABEL_CHARS - 1] + "…"
    return text[:LABEL_CHARS] + "\n" + text[LABEL_CHARS:]


def progress_chart(items: Iterable[Bar | tuple], path: Path | str, *, title: str = "",
                   width_mm: float = TYPE_AREA_MM, dpi: int = 200,
                   font_dirs: Sequence[Path] | None = None) -> Path | None:
    """Draw completion against 序时进度 by category as a PNG at ``path``; returns the path.

    Categories without a completion figure are left out. Returns None, and logs why, when
    there is nothing to draw or no font with Chinese glyphs (``font_dirs`` as in
    :func:`find_cjk_font`). The image is ``width_mm`` wide at ``dpi`` (by default the
    type area of A4 at 200 dpi: 1228 pixels), one row per category.
    """
    bars = _bars(items)
    if not bars:
        log.info("没有可画的完成率数据，报告中不插入完成率图。")
        return None
    font = find_cjk_font(font_dirs)
    if font is None:
        where = "、".join(str(d) for d in font_dirs) if font_dirs is not None else "本机已安装的字体"
        log.warning("未找到含中文字形的字体（查找范围：%s），报告中不插入完成率图。"
                    "安装 Noto Sans CJK SC、思源黑体、黑体或宋体等中文字体后重新生成即可。", where)
        return None

    from matplotlib import rcParams
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    prop = FontProperties(family=font.family, size=FONT_SIZE) if font.registered \
        else FontProperties(fname=str(font.path), size=FONT_SIZE)
    small = prop.copy()
    small.set_size(FONT_SIZE - 1)

    exact = [decimal_or_none(b.completion) or Decimal(0) for b in bars]
    values = [float(d) for d in exact]
    marks = [decimal_or_none(b.time_progress) for b in bars]
    top = max([100.0, *values, *(float(m) for m in marks if m is not None)])
    height_mm = 22 + BAR_PITCH_MM * len(bars) + (8 if title else 0)
    fig = Figure(figsize=(width_mm / MM_PER_INCH, height_mm / MM_PER_INCH), dpi=dpi)
    ax = fig.add_subplot()
    rows = list(range(len(bars)))[::-1]  # the first category on top
    colours = [_BEHIND if m is not None and d < m else _AHEAD for d, m in zip(exact, marks, strict=True)]
    ax.barh(rows, values, height=0.6, color=colours, zorder=2)
    for y, bar, value, mark in zip(rows, bars, values, marks, strict=True):
        end = max(value, float(mark)) if mark is not None else value  # the figure clear of the mark
        ax.text(end + top * 0.012, y, f"{format_pct(bar.completion)}%", va="center", ha="left",
                fontproperties=small, zorder=3)
        if mark is not None:
            ax.plot([float(mark)] * 2, [y - 0.42, y + 0.42], color=_MARK, linewidth=2, zorder=4)
    ax.set_yticks(rows, [_label(b.label) for b in bars], fontproperties=prop)
    ax.set_xlim(0, top * 1.12)
    ax.set_ylim(-0.6, len(bars) - 0.4)
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{x:g}%")
    for label in ax.get_xticklabels():
        label.set_fontproperties(small)
    ax.grid(axis="x", color="#D9D9D9", linewidth=0.6, zorder=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    legend: list[Artist] = [Patch(color=_AHEAD, label="完成率（不低于序时进度）"), Patch(color=_BEHIND, label="完成率（低于序时进度）")]
    if any(m is not None for m in marks):
        tp = {format_pct(m) for m in marks if m is not None}
        legend.append(Line2D([], [], color=_MARK, linewidth=2,
                             label=f"序时进度{next(iter(tp))}%" if len(tp) == 1 else "序时进度"))
    fig.legend(handles=legend, loc="lower center", ncol=len(legend), frameon=False, prop=small)
    if title:
        fig.suptitle(title, fontproperties=prop)
    fig.tight_layout(rect=(0, 9 / height_mm, 1, 1))
    # tight_layout leaves a placeholder layout engine behind, for which savefig draws the whole
    # figure once more before it draws it into the PNG (the same pixels: the layout is done).
    # None means no engine unless the rc settings ask for an automatic layout.
    if not rcParams["figure.autolayout"] and not rcParams["figure.constrained_layout.use"]:
        fig.set_layout_engine(None)

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return target
