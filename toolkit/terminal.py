"""Text as the terminal lays it out: display widths (a Chinese character takes two columns, a
combining mark none), padding and clipping to a width, and plain-text tables aligned by them.

The writers reuse :func:`display_width` for column widths; :mod:`toolkit.render`,
:mod:`toolkit.receipts` and :mod:`toolkit.mail.render` draw their tables with :func:`format_table`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

__all__ = ["clip", "display_width", "format_table", "pad"]


def _measure_char(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


class _CharWidths(dict):
    """Width of each character seen so far; a character is measured once per process."""

    def __missing__(self, ch: str) -> int:
        width = self[ch] = _measure_char(ch)
        return width


_WIDTHS = _CharWidths()
_char_width = _WIDTHS.__getitem__


def display_width(s: str) -> int:
    """Columns ``s`` takes in a terminal: CJK (wide/fullwidth) 2, combining marks 0, else 1.

    The writers call this for every cell of every output row, so it is cheap: an ASCII
    text is its length (every ASCII character is one column), any other text is summed
    from a per-character table filled as characters are first seen."""
    if not isinstance(s, str):
        s = str(s)
    if s.isascii():
        return len(s)
    return sum(map(_char_width, s))


def pad(s: str, width: int, align: str = "left") -> str:
    """Pad ``s`` with spaces to ``width`` display columns (``align``: left/right/center)."""
    s = str(s)
    gap = width - display_width(s)
    if gap <= 0:
        return s
    if align == "right":
        return " " * gap + s
    if align == "center":
        return " " * (gap // 2) + s + " " * (gap - gap // 2)
    return s + " " * gap


def clip(s: str, width: int, ellipsis: str = "...") -> str:
    """Cut ``s`` to at most ``width`` display columns, marking the cut with ``ellipsis``."""
    s = str(s)
    if display_width(s) <= width:
        return s
    room = width - display_width(ellipsis)
    out, used = [], 0
    for ch in s:
        w = _char_width(ch)
        if used + w > room:
            break
        out.append(ch)
        used += w
    return "".join(out) + ellipsis


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(value: object) -> str:
    """Text safe to print: control characters (e.g. escape sequences in a file name) become '?'."""
    return _CONTROL.sub("?", "" if value is None else str(value))


def format_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], align: Sequence[str] | None = None, gap: int = 2
) -> str:
    """Render rows as columns aligned by display width; ``align`` holds 'left'/'right' per column."""
    head = [_printable(h) for h in headers]
    body = [[_printable(c) for c in row] for row in rows]
    aligns = list(align or ["left"] * len(head))
    widths = [display_width(h) for h in head]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], display_width(cell))
    sep = " " * gap

    def line(cells: Sequence[str], is_head: bool = False) -> str:
        out = [pad(c, widths[i], "left" if is_head else aligns[i]) for i, c in enumerate(cells)]
        return sep.join(out).rstrip()

    return "\n".join([line(head, True)] + [line(r) for r in body])
