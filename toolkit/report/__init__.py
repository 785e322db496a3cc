"""The Word progress report of a round (``进展情况报告_<轮次>.docx``).

The report reads like the seed report: the issuing office and date, the title, an
opening paragraph with the counts, one section per category joining the
departments' 进展情况 and the generated figures (:func:`toolkit.wording.describe`) —
a figure a department already states is said once, in its words
(:class:`toolkit.wording.Passage`), and a 合计 over the counties is said city-wide
with the counties that lag after it — then the lagging and overdue items and who
reported when.

:mod:`.compose` says it (text), :mod:`.document` lays it out (Word).
"""

from __future__ import annotations

import gc
import logging
import tempfile
from datetime import datetime
from pathlib import Path

from docx.document import Document as DocumentObject
from docx.enum.text import WD_TAB_ALIGNMENT
from docx.shared import Mm

from ..formatting import cn_date
from ..standing import Standing
from ..terminal import display_width
from . import compose
from .compose import _as_date, _opening
from .document import (
    FONT_BODY,
    FONT_HEADING1,
    FONT_HEADING2,
    FONT_PAGE,
    FONT_TITLE,
    PACKAGE_TEMPLATE,
    REPO_TEMPLATE,
    STYLE_BODY,
    STYLE_HEADING1,
    STYLE_HEADING2,
    STYLE_TABLE,
    STYLE_TITLE,
    _open,
    _save_atomic,
    _Writer,
    add_text,
    build_template,
    ensure_styles,
    set_fonts,
    template_path,
)

log = logging.getLogger(__name__)


def render(result: Standing, doc: DocumentObject) -> list:
    """Write the report's content into ``doc`` (whose body is empty).

    眉首 (office and date), title, opening, the chart, the categories 一、…十、 (with
    （一） task headings where a category has several tasks), rows awaiting verification,
    下步工作, the 附件说明, the 落款, then 附件1 滞后和逾期事项 and 附件2 报送情况 as tables.
    Returns the tables' body rows, which :func:`write_report` writes as it saves the document.
    """
    settings = result.registry.settings
    w = _Writer(doc)

    # 眉首: issuing office on the left, date on the right.
    top = w.flush_left("")
    section = doc.sections[-1]
    width = (section.page_width or Mm(210)) - (section.left_margin or 0) - (section.right_margin or 0)
    top.paragraph_format.tab_stops.add_tab_stop(width, WD_TAB_ALIGNMENT.RIGHT)
    add_text(top, f"{settings.issuer}\t{cn_date(_as_date(result.now))}", w.fonts[STYLE_BODY])
    w.paragraph("")
    w.paragraph(settings.title, STYLE_TITLE)
    w.paragraph("")
    w.paragraph(_opening(result))
    _chart(w, result)

    values_of = compose.RowValues()  # each row's placeholders, for the text and 附件1 alike
    for part in compose.sections(result, values_of):
        w.paragraph(part.heading, STYLE_HEADING1)
        for block in part.blocks:
            if block.heading:
                w.paragraph(block.heading, STYLE_HEADING2)
            w.paragraph(block.text)
    for sentence in compose.pending_sentences(result):
        w.paragraph(sentence)

    w.paragraph("下步工作", STYLE_HEADING1)
    for text in compose.next_steps(result):
        w.paragraph(text)

    # 附件说明 and 落款 (GB/T 9704: 成文日期 four characters from the right, the office
    # centred over it)
    w.paragraph("")
    first, *rest = compose.attachment_note(result)
    w.paragraph(first)
    for line in rest:
        w.hanging(line, 5)
    issuer, dated = compose.signature(result)
    w.paragraph("")
    w.paragraph("")
    date_chars = display_width(dated) / 2
    w.right(issuer, max(4 + (date_chars - display_width(issuer) / 2) / 2, 0))
    w.right(dated, 4)

    for number, title, table in ((1, "滞后和逾期事项", compose.lag_table(result, values_of)),
                                 (2, "报送情况", compose.units_table(result))):
        w.flush_left(f"附件{number}", font=FONT_HEADING1, page_break=True)
        w.paragraph("")
        w.paragraph(title, STYLE_TITLE)
        w.paragraph("")
        if table.rows:
            w.table(table.columns, table.widths_mm, table.rows)
        else:
            w.paragraph("本期无滞后和逾期事项。" if number == 1 else "本期无应报送单位。")

    props = doc.core_properties
    props.title = settings.title
    props.author = settings.issuer
    props.last_modified_by = settings.issuer
    props.subject = f"{result.round.name}轮次"
    props.comments = ""
    props.keywords = ""
    props.category = "进展情况报告"
    props.language = "zh-CN"
    now = result.now if isinstance(result.now, datetime) else datetime.combine(_as_date(result.now),
                                                                                datetime.min.time())
    props.created = now
    props.modified = now
    props.revision = 1
    return w.deferred


def _chart(w: _Writer, result: Standing) -> None:
    """Completion against 序时进度 by category (toolkit.charts), when the history and a CJK font allow."""
    from ..charts import Bar, progress_chart

    if result.history is None:
        return
    bars = [Bar(c.category, c.average, c.time_progress) for c in result.history.of(result.round.name)
            if c.average is not None]
    if not bars:
        return
    with tempfile.TemporaryDirectory(prefix="ducha-chart-") as folder:
        png = progress_chart(bars, Path(folder) / "chart.png")
        if png is None:
            log.info("报告未插入图表（见上一条日志）")
            return
        w.picture(png, 150, "图1  各类别累计类指标平均完成率与序时进度")


def write_report(result: Standing, path: Path, template: Path | None = None) -> Path:
    """Write ``进展情况报告_<轮次>.docx`` for ``result`` to ``path`` (atomically); returns ``path``."""
    path = Path(path)
    # The report makes hundreds of thousands of short-lived objects and next to no reference
    # cycles: the collections they would set off (walking the standing and everything else in
    # memory) cost 5–10 % of the time and find nothing. Collected once, when the report is written.
    enabled = gc.isenabled()
    gc.disable()
    try:
        doc = _open(template)
        deferred = render(result, doc)
        _save_atomic(doc, path, deferred)
    finally:
        if enabled:
            gc.enable()
    return path


__all__ = [
    "PACKAGE_TEMPLATE", "REPO_TEMPLATE", "FONT_BODY", "FONT_HEADING1", "FONT_HEADING2", "FONT_PAGE", "FONT_TITLE",
    "STYLE_BODY", "STYLE_HEADING1", "STYLE_HEADING2", "STYLE_TABLE", "STYLE_TITLE",
    "add_text", "build_template", "ensure_styles", "render", "set_fonts", "template_path", "write_report",
]
