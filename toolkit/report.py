"""The Word progress report of a round (``进展情况报告_<轮次>.docx``).

The report reads like the seed report: the issuing office and date, the title, an
opening paragraph with the counts, one section per category joining the
departments' 进展情况 and the generated figures (:func:`toolkit.wording.describe`) —
a figure a department already states is said once, in its words
(:class:`toolkit.wording.Passage`), and a 合计 over the counties is said city-wide
with the counties that lag after it — then the lagging and overdue items and who
reported when.

Format follows GB/T 9704-2012: A4, margins 37/35/28/26 mm, 方正小标宋简体 二号 title,
仿宋_GB2312 三号 body at a fixed 28.95 pt line (22 lines of 28 characters), 黑体
level-1 headings, ``— 1 —`` page numbers in 宋体 四号 on the outer side. It is built on
an editable template (``templates/report.docx``, made by
``scripts/make_report_template.py`` with :func:`build_template`): the clerk may change
its styles 标题/正文/一级标题/二级标题, page setup and footer, and the report follows.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.text.paragraph import Paragraph

from .errors import DuchaError
from .formatting import cn_date, cn_month_day
from .model import LAGGING, Category, Indicator, ResultRow, RoundResult
from .store import atomic_path
from .wording import (
    Passage,
    cn_numeral,
    describe,
    join_clauses,
    placeholders,
    short_unit_name,
    tidy_punctuation,
)

# -- format constants ---------------------------------------------------------------------

FONT_TITLE = "方正小标宋简体"
FONT_BODY = "仿宋_GB2312"
FONT_HEADING1 = "黑体"
FONT_HEADING2 = "楷体_GB2312"
FONT_PAGE = "宋体"

STYLE_TITLE = "标题"
STYLE_BODY = "正文"
STYLE_HEADING1 = "一级标题"
STYLE_HEADING2 = "二级标题"

#: Where Word/WPS should look when a font is not installed (fontTable w:altName).
FONT_ALT = {
    FONT_TITLE: "华文中宋",
    FONT_BODY: "仿宋",
    FONT_HEADING1: "SimHei",
    FONT_HEADING2: "楷体",
    FONT_PAGE: "SimSun",
}

LINE_PITCH = Pt(28.95)  # 22 lines in the 225 mm type area
#: Character spacing of the 三号 styles, in twentieths of a point: condensed by 0.25 pt so
#: that 28 characters fill the 156 mm line in Word, WPS and LibreOffice alike (a
#: character docGrid would do it in Word only; LibreOffice spreads the text).
CHAR_SPACING = -5
TITLE_LINE = Pt(35)
BODY_SIZE = Pt(16)  # 三号
TITLE_SIZE = Pt(22)  # 二号
PAGE_SIZE = Pt(14)  # 四号

REPO_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "report.docx"
PACKAGE_TEMPLATE = Path(__file__).resolve().parent / "assets" / "report.docx"

_NUMERAL_PREFIX = re.compile(r"^\s*[一二三四五六七八九十百零〇]+\s*[、.．]")

# (name, style id, font, size, alignment, first-line indent in chars, line, keep with next, outline)
_STYLE_SPECS = (
    (STYLE_BODY, "DuchaBody", FONT_BODY, BODY_SIZE, WD_ALIGN_PARAGRAPH.JUSTIFY, 2, LINE_PITCH, False, None),
    (STYLE_TITLE, "DuchaTitle", FONT_TITLE, TITLE_SIZE, WD_ALIGN_PARAGRAPH.CENTER, 0, TITLE_LINE, True, None),
    (STYLE_HEADING1, "DuchaHeading1", FONT_HEADING1, BODY_SIZE, WD_ALIGN_PARAGRAPH.JUSTIFY, 2, LINE_PITCH,
     True, 0),
    (STYLE_HEADING2, "DuchaHeading2", FONT_HEADING2, BODY_SIZE, WD_ALIGN_PARAGRAPH.JUSTIFY, 2, LINE_PITCH,
     True, 1),
)
_STYLE_FONTS = {spec[0]: spec[2] for spec in _STYLE_SPECS}


# -- low-level formatting helpers ---------------------------------------------------------


def set_fonts(rpr_parent, font: str) -> None:
    """Give an element's rPr an explicit rFonts naming ``font`` for every script.

    ``rpr_parent`` is a run (``CT_R``), a style element or an ``rPr`` itself. Theme
    font attributes are removed so Word does not fall back to the theme's fonts.
    """
    rpr = rpr_parent if rpr_parent.tag == qn("w:rPr") else rpr_parent.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    for attr in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
        fonts.attrib.pop(qn(f"w:{attr}"), None)
    for attr in ("ascii", "hAnsi", "eastAsia", "cs"):
        fonts.set(qn(f"w:{attr}"), font)


# Children of w:rPr that follow w:spacing / w:sz / w:szCs in the schema's order.
_RPR_ORDER = ("w:spacing", "w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight", "w:u", "w:effect",
              "w:bdr", "w:shd", "w:fitText", "w:vertAlign", "w:rtl", "w:cs", "w:em", "w:lang",
              "w:eastAsianLayout", "w:specVanish", "w:oMath")


def _rpr_value(rpr, tag: str, value: str) -> None:
    """Set ``<tag w:val=value>`` in an rPr, inserted where the schema wants it."""
    el = rpr.find(qn(tag))
    if el is None:
        el = OxmlElement(tag)
        rpr.insert_element_before(el, *_RPR_ORDER[_RPR_ORDER.index(tag) + 1:])
    el.set(qn("w:val"), value)


def _set_size(rpr, size: Pt) -> None:
    half_points = str(int(round(size.pt * 2)))
    _rpr_value(rpr, "w:sz", half_points)
    _rpr_value(rpr, "w:szCs", half_points)


def _set_first_line_chars(pf, ppr, chars: int, size: Pt) -> None:
    """First-line indent in characters (w:firstLineChars) with a matching absolute value."""
    pf.first_line_indent = Pt(size.pt * chars)
    ind = ppr.find(qn("w:ind"))
    for attr in ("hanging", "hangingChars"):
        ind.attrib.pop(qn(f"w:{attr}"), None)
    ind.set(qn("w:firstLineChars"), str(chars * 100))


def _style_font(doc: DocumentObject, style_name: str) -> str:
    """The East Asian font a paragraph style resolves to (walking base styles)."""
    default = _STYLE_FONTS.get(style_name, FONT_BODY)
    try:
        style = doc.styles[style_name]
    except KeyError:
        return default
    seen = 0
    while style is not None and seen < 10:
        rpr = style.element.rPr
        fonts = rpr.find(qn("w:rFonts")) if rpr is not None else None
        if fonts is not None and fonts.get(qn("w:eastAsia")):
            return fonts.get(qn("w:eastAsia"))
        style = style.base_style
        seen += 1
    return default


def add_text(paragraph: Paragraph, text: str, font: str):
    """A run with ``text`` and explicit fonts (python-docx alone sets only the Latin one)."""
    run = paragraph.add_run(text)
    set_fonts(run._r, font)
    return run


def _add_page_field(paragraph: Paragraph, font: str, size: Pt) -> None:
    """``— {PAGE} —`` built from fldChar runs, so Word and WPS number every page."""

    def run(text: str | None = None, fld: str | None = None, instr: str | None = None):
        r = paragraph.add_run()
        set_fonts(r._r, font)
        _set_size(r._r.get_or_add_rPr(), size)
        if fld:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), fld)
            r._r.append(el)
        elif instr:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = instr
            r._r.append(el)
        elif text is not None:
            r.text = text

    run("— ")
    run(fld="begin")
    run(instr=" PAGE ")
    run(fld="separate")
    run("1")
    run(fld="end")
    run(" —")


# -- the template -------------------------------------------------------------------------


def _part(doc: DocumentObject, reltype: str):
    for rel in doc.part.rels.values():
        if rel.reltype == reltype and not rel.is_external:
            return rel.target_part
    return None


def _fix_theme(doc: DocumentObject) -> None:
    """Replace the default theme's Japanese (MS Mincho/Gothic) fonts with Chinese ones."""
    part = _part(doc, RT.THEME)
    if part is None:
        return
    xml = part.blob.decode("utf-8")

    def scheme(match: re.Match, ea: str) -> str:
        block = match.group(0)
        block = re.sub(r'<a:latin typeface="[^"]*"', '<a:latin typeface="Times New Roman"', block)
        block = re.sub(r'<a:ea typeface="[^"]*"', f'<a:ea typeface="{ea}"', block)
        block = re.sub(r'<a:font script="Jpan" typeface="[^"]*"/>\s*', "", block)
        block = re.sub(r'<a:font script="Hans" typeface="[^"]*"',
                       f'<a:font script="Hans" typeface="{ea}"', block)
        return block

    xml = re.sub(r"<a:majorFont>.*?</a:majorFont>", lambda m: scheme(m, FONT_HEADING1), xml, flags=re.S)
    xml = re.sub(r"<a:minorFont>.*?</a:minorFont>", lambda m: scheme(m, FONT_BODY), xml, flags=re.S)
    part._blob = xml.encode("utf-8")


def _fix_font_table(doc: DocumentObject) -> None:
    """A font table naming the report's fonts (with fallbacks) instead of MS Mincho."""
    part = _part(doc, RT.FONT_TABLE)
    if part is None:
        return
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    entries = ['<w:font w:name="Times New Roman"><w:charset w:val="00"/><w:family w:val="roman"/>'
               '<w:pitch w:val="variable"/></w:font>']
    for name, alt in FONT_ALT.items():
        family = "modern" if name in (FONT_BODY, FONT_HEADING1, FONT_HEADING2) else "roman"
        entries.append(
            f'<w:font w:name="{name}"><w:altName w:val="{alt}"/><w:charset w:val="86"/>'
            f'<w:family w:val="{family}"/><w:pitch w:val="variable"/></w:font>'
        )
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           f'<w:fonts xmlns:w="{w}">' + "".join(entries) + "</w:fonts>")
    part._blob = xml.encode("utf-8")


def _set_doc_defaults(doc: DocumentObject) -> None:
    styles = doc.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    if defaults is None:
        return
    rpr = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}")
    if rpr is not None:
        set_fonts(rpr, FONT_BODY)
        _set_size(rpr, BODY_SIZE)
        lang = rpr.find(qn("w:lang"))
        if lang is None:
            lang = OxmlElement("w:lang")
            rpr.append(lang)
        lang.set(qn("w:val"), "en-US")
        lang.set(qn("w:eastAsia"), "zh-CN")
        lang.set(qn("w:bidi"), "ar-SA")
    spacing = defaults.find(f"{qn('w:pPrDefault')}/{qn('w:pPr')}/{qn('w:spacing')}")
    if spacing is not None:
        spacing.set(qn("w:after"), "0")
        spacing.set(qn("w:line"), "240")
        spacing.set(qn("w:lineRule"), "auto")


def _remove_styles(doc: DocumentObject, style_ids: tuple[str, ...]) -> None:
    """Drop built-in styles whose Chinese display names clash with ours (Title shows as 标题)."""
    root = doc.styles.element
    for el in list(root.findall(qn("w:style"))):
        if el.get(qn("w:styleId")) in style_ids:
            root.remove(el)


def _format_style(style, font: str, size: Pt, align, indent_chars: int, line: Pt, keep: bool,
                  outline: int | None) -> None:
    style.hidden = False
    style.quick_style = True
    style.font.size = size
    style.font.bold = False
    style.font.italic = False
    set_fonts(style.element, font)
    if size == BODY_SIZE:
        _rpr_value(style.element.get_or_add_rPr(), "w:spacing", str(CHAR_SPACING))
    pf = style.paragraph_format
    pf.alignment = align
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    pf.line_spacing = line
    pf.keep_with_next = keep
    pf.widow_control = True
    ppr = style.element.get_or_add_pPr()
    if indent_chars:
        _set_first_line_chars(pf, ppr, indent_chars, size)
    else:
        pf.first_line_indent = Pt(0)
        ind = ppr.find(qn("w:ind"))
        if ind is not None:
            ind.set(qn("w:firstLineChars"), "0")
    old = ppr.find(qn("w:outlineLvl"))
    if old is not None:
        ppr.remove(old)
    if outline is not None:
        el = OxmlElement("w:outlineLvl")
        el.set(qn("w:val"), str(outline))
        ppr.insert_element_before(el, "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")


def ensure_styles(doc: DocumentObject, force: bool = False) -> None:
    """Define the styles 标题/正文/一级标题/二级标题; existing ones are kept unless ``force``."""
    styles = doc.styles
    normal = styles["Normal"]
    if force:
        normal.font.size = BODY_SIZE
        set_fonts(normal.element, FONT_BODY)
        if "Footer" in [s.name for s in styles]:
            footer = styles["Footer"]
            footer.font.size = PAGE_SIZE
            set_fonts(footer.element, FONT_PAGE)
    names = {s.name for s in styles}
    for name, style_id, font, size, align, indent, line, keep, outline in _STYLE_SPECS:
        if name in names and not force:
            continue
        if name in names:
            style = styles[name]
        else:
            style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
            style.style_id = style_id
        style.base_style = normal
        style.next_paragraph_style = styles[STYLE_BODY] if name != STYLE_BODY else style
        _format_style(style, font, size, align, indent, line, keep, outline)


def _page_setup(doc: DocumentObject) -> None:
    for section in doc.sections:
        section.start_type = WD_SECTION.NEW_PAGE
        section.page_width = Mm(210)
        section.page_height = Mm(297)
        section.top_margin = Mm(37)
        section.bottom_margin = Mm(35)
        section.left_margin = Mm(28)
        section.right_margin = Mm(26)
        section.header_distance = Mm(15)
        section.footer_distance = Mm(25)
        sect = section._sectPr
        grid = sect.find(qn("w:docGrid"))
        if grid is None:
            grid = OxmlElement("w:docGrid")
            sect.insert_element_before(grid, "w:printerSettings", "w:sectPrChange")
        # 22 lines of 28.95 pt; 28 characters a line come from CHAR_SPACING.
        grid.attrib.pop(qn("w:charSpace"), None)
        grid.set(qn("w:type"), "lines")
        grid.set(qn("w:linePitch"), "579")


def _page_numbers(doc: DocumentObject) -> None:
    """``— 1 —`` in 宋体 四号: odd pages right, even pages left, one character in."""
    doc.settings.odd_and_even_pages_header_footer = True
    for section in doc.sections:
        for footer, align in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
                              (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)):
            footer.is_linked_to_previous = False
            par = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
            for extra in footer.paragraphs[1:]:
                extra._p.getparent().remove(extra._p)
            for run in list(par.runs):
                run._r.getparent().remove(run._r)
            par.style = doc.styles["Footer"] if "Footer" in [s.name for s in doc.styles] else None
            pf = par.paragraph_format
            pf.alignment = align
            pf.space_before = Pt(0)
            pf.space_after = Pt(0)
            if align == WD_ALIGN_PARAGRAPH.RIGHT:
                pf.right_indent = PAGE_SIZE
            else:
                pf.left_indent = PAGE_SIZE
            _add_page_field(par, FONT_PAGE, PAGE_SIZE)


def _clear_body(doc: DocumentObject) -> None:
    body = doc.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)


def build_template(path: Path | None = None) -> DocumentObject:
    """A new report template: Chinese fonts throughout, the styles, page setup, page numbers.

    Saved to ``path`` when given; the document is returned either way.
    """
    doc = Document()
    _fix_theme(doc)
    _fix_font_table(doc)
    _set_doc_defaults(doc)
    _remove_styles(doc, ("Title", "TitleChar", "Subtitle", "SubtitleChar"))
    ensure_styles(doc, force=True)
    _page_setup(doc)
    _page_numbers(doc)
    _clear_body(doc)
    props = doc.core_properties
    props.author = "市政府督查室"
    props.last_modified_by = "市政府督查室"
    props.title = "《市政府工作报告》重点工作进展情况报告（模板）"
    props.comments = "ducha 进展情况报告模板：可修改样式“标题”“正文”“一级标题”“二级标题”、页面设置和页脚。"
    if path is not None:
        _save_atomic(doc, Path(path))
    return doc


def template_path(template: Path | None = None) -> Path | None:
    """The template to build on: the given one, the repository's, the packaged copy, or None."""
    if template is not None:
        template = Path(template)
        if not template.is_file():
            raise DuchaError(f"报告模板不存在：{template}。请检查路径，或删除该参数使用默认模板。")
        return template
    for candidate in (REPO_TEMPLATE, PACKAGE_TEMPLATE):
        if candidate.is_file():
            return candidate
    return None


def _open(template: Path | None) -> DocumentObject:
    path = template_path(template)
    if path is None:
        return build_template()
    try:
        doc = Document(str(path))
    except Exception as exc:  # a broken or non-docx template file
        raise DuchaError(f"报告模板“{path.name}”无法打开（{exc}）。请用 Word 另存为 .docx 后重试。") from exc
    ensure_styles(doc)
    _clear_body(doc)
    return doc


# -- content ------------------------------------------------------------------------------


class _Writer:
    def __init__(self, doc: DocumentObject):
        self.doc = doc
        self.fonts = {name: _style_font(doc, name) for name in _STYLE_FONTS}

    def paragraph(self, text: str, style: str = STYLE_BODY) -> Paragraph:
        par = self.doc.add_paragraph(style=style)
        _no_auto_space(par)
        if text:
            add_text(par, text, self.fonts.get(style, FONT_BODY))
        return par


# Children of w:pPr that follow w:autoSpaceDE / w:autoSpaceDN in the schema's order.
_PPR_AFTER_AUTOSPACE = ("w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing",
                        "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment",
                        "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr",
                        "w:pPrChange")


def _no_auto_space(par: Paragraph) -> None:
    """No extra gap between Chinese and Latin letters or digits: ``435.5亿元`` prints as typed.

    Word, WPS and LibreOffice otherwise add about a quarter character around every
    number (``435.5 亿元``), which the seed and printed 公文 do not have.
    """
    ppr = par._p.get_or_add_pPr()
    for tag in ("w:autoSpaceDE", "w:autoSpaceDN"):
        el = ppr.find(qn(tag))
        if el is None:
            el = OxmlElement(tag)
            after = ("w:autoSpaceDN", *_PPR_AFTER_AUTOSPACE) if tag == "w:autoSpaceDE" else _PPR_AFTER_AUTOSPACE
            ppr.insert_element_before(el, *after)
        el.set(qn("w:val"), "0")


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.today()


def _heading(index: int, title: str) -> str:
    title = title.strip().rstrip("。；;")
    if not _NUMERAL_PREFIX.match(title):
        title = f"{cn_numeral(index)}、{title}"
    return title


def _tasks(cat: Category) -> list[list[Indicator]]:
    """Indicators grouped by task (任务编号), in registry order."""
    groups: dict[str, list[Indicator]] = {}
    for ind in cat.indicators:
        groups.setdefault(ind.task_no or ind.task or ind.code, []).append(ind)
    return list(groups.values())


def _narrative(row: ResultRow) -> str:
    if row.status == "未报送" or not row.progress:
        return ""
    return row.progress.strip()


def _part_clause(row: ResultRow) -> str:
    """A unit's lagging part of a 合计: ``卢氏县新增公办学位70个，完成全年300个目标任务的23.33%，低于序时进度10.00个百分点``."""
    said = describe(row, default=True)
    if not said:
        return ""
    gap = placeholders(row).get("差距表述")
    against = "序时进度" if row.indicator.kind == "累计" else "目标"
    if gap and against not in said:
        said += "，" + gap
    if row.status == "逾期":
        said += "，" + _overdue(placeholders(row))
    return short_unit_name(row.unit) + said


# What a piece of a task's text is: a headline row's narrative, a generated headline
# figure, one unit's part of a 合计 (narrative or lagging figure), or a plain note.
_NARRATIVE, _FIGURE, _PART, _PART_FIGURE, _NOTE = range(5)


class _Slot:
    def __init__(self, place: int, passage: Passage, kind: int, row: ResultRow | None = None):
        self.place = place  # where it is printed in the task
        self.passage = passage
        self.kind = kind
        self.row = row  # the row a figure describes


def _is_county(name: str) -> bool:
    """A county-level government (``卢氏县人民政府``, ``灵宝市``), not a city bureau (``市林业局``)."""
    short = short_unit_name(name)
    return len(short) >= 2 and not short.startswith("市") and short[-1] in "县区市旗"


def _citywide_codes(registry) -> set[str]:
    """Indicators whose 合计 adds up every county-level unit: it is said as ``全市…``."""
    counties = {u.name for u in registry.units.values() if _is_county(u.name)}
    if len(counties) < 3:  # two counties are not a city
        return set()
    return {ind.code for ind in registry.indicators() if len(ind.reporters) > 1 and counties <= set(ind.reporters)}


def _task_parts(indicators: list[Indicator], by_code: dict[str, list[ResultRow]],
                headline: dict[str, ResultRow], citywide: frozenset[str] = frozenset()) -> list[str]:
    """One task's narratives and figures, in indicator order.

    A generated figure that a department's narrative already states (the same
    quantity, perhaps in another scale) is taken into that narrative, which then
    moves up to where the figure would have been: ``累计完成投资435.5亿元`` and
    ``累计完成投资435.5亿元，占年度计划的47.82%`` are printed once, as the latter in
    the department's words. A 合计 is followed by the units that lag; a unit's
    sentence that only repeats its own figure is left out.
    """
    slots: list[_Slot] = []

    def add(text: str, kind: int, row: ResultRow | None = None) -> _Slot:
        slot = _Slot(len(slots), Passage(text, generated=kind in (_FIGURE, _PART_FIGURE)), kind, row)
        slots.append(slot)
        return slot

    own: dict[int, list[_Slot]] = {}  # figure slot id -> the narratives of its own row(s)
    for ind in indicators:
        rows = by_code.get(ind.code, [])
        head = headline.get(ind.code)
        parts = [r for r in rows if not r.is_total] if head is not None and head.is_total else []
        texts = dict.fromkeys(_narrative(r) for r in rows if not r.is_total and r not in parts)
        mine = [add(t, _NARRATIVE) for t in texts if t]
        if head is not None and head.status != "未报送":
            # A milestone already told in the department's own words needs no generated
            # "…正在推进"; an overdue one is listed among the lagging items.
            clause = "" if ind.kind == "节点" and mine else describe(head)
            if clause and head.is_total and ind.code in citywide and not clause.startswith("全"):
                clause = "全市" + clause  # the seed: 全市完成人工造林19.83万亩，占造林总任务30.49万亩的65%
            if clause:
                own[id(add(clause, _FIGURE, head))] = mine
            elif head.status == "待更正" and not mine:
                add(f"{ind.name}（数据待核实）", _NOTE)
        for part in parts:
            lagging = part.status in LAGGING
            text = _narrative(part)
            if not lagging and Passage(text).restates(part.value, ind.unit):
                text = ""
            hosts = [add(text, _PART)] if text else []
            clause = _part_clause(part) if lagging else ""
            if clause:
                own[id(add(clause, _PART_FIGURE, part))] = hosts

    gone: set[int] = set()
    for slot in [s for s in slots if s.kind in (_FIGURE, _PART_FIGURE)]:
        mine = own[id(slot)]
        hosts = list(mine)
        if slot.kind == _FIGURE:  # other narratives of the task, then figures already printed
            hosts += [s for s in slots if s.kind == _NARRATIVE and s not in mine]
            hosts += [s for s in slots if s.kind == _FIGURE and s.place < slot.place and id(s) not in gone]
        row = slot.row
        assert row is not None  # every figure slot describes a row
        for host in hosts:
            if host.passage.absorb(slot.passage.text, row.value, row.indicator.unit, strict=host not in mine):
                gone.add(id(slot))
                host.place = min(host.place, slot.place)
                break
        else:
            if mine and mine[-1].passage.continue_with(slot.passage.text):
                gone.add(id(slot))
    kept = sorted((s for s in slots if id(s) not in gone), key=lambda s: s.place)
    # Consecutive sentences opening with the same subject are said as one, the subject once:
    # 「其中产业项目已开工37个…。产业项目已支付资金…」 → 「其中产业项目已开工37个…，已支付资金…」.
    joined: list[Passage] = []
    for slot in kept:
        if joined and joined[-1].continue_with(slot.passage.render()):
            continue
        joined.append(slot.passage)
    return [passage.render() for passage in joined]


def _category_parts(cat: Category, rows: list[ResultRow], headline: dict[str, ResultRow],
                    citywide: frozenset[str] = frozenset()) -> list[str]:
    by_code: dict[str, list[ResultRow]] = {}
    for row in rows:
        by_code.setdefault(row.indicator.code, []).append(row)
    parts: list[str] = []
    for indicators in _tasks(cat):
        parts.extend(_task_parts(indicators, by_code, headline, citywide))
    return parts


def _city(issuer: str) -> str:
    """The city an office belongs to: ``三门峡市政府督查室`` → ``三门峡市``; ``""`` if it does not say."""
    match = re.match(r"^(.+?[市州盟县区])(?:人民)?政府", issuer.strip())
    return match.group(1) if match else ""


def _opening(result: RoundResult) -> str:
    reg = result.registry
    settings = reg.settings
    year = settings.year or result.round.cutoff.year
    indicators = list(reg.indicators())
    tasks = {(ind.sheet, ind.task_no or ind.task or ind.code) for ind in indicators}
    counts: dict[str, int] = {}
    for row in result.headline():
        counts[row.status] = counts.get(row.status, 0) + 1
    done = counts.get("已完成", 0)
    on_track = counts.get("序时推进", 0) + counts.get("达标", 0) + counts.get("推进中", 0)
    lagging = counts.get("滞后", 0) + counts.get("未达标", 0)
    overdue = counts.get("逾期", 0)
    status = f"已完成{done}项，序时推进{on_track}项，进度滞后{lagging}项，逾期{overdue}项"
    for label, key in (("尚未启动", "未启动"), ("数据待核实", "待更正"), ("未报送数据", "未报送")):
        if counts.get(key):
            status += f"，{label}{counts[key]}项"
    headline = {r.indicator.code: r for r in result.headline()}
    hidden = sum(1 for code in _lag_parts(result) if code in headline and headline[code].status not in LAGGING)
    if hidden:
        status += f"；另有{hidden}项指标虽总体正常，但部分单位进度滞后"
    expected = len(result.expected_units) or (
        len(result.on_time_units) + len(result.late_units) + len(result.missing_units))
    units = (f"应报送单位{expected}个，按时报送{len(result.on_time_units)}个，"
             f"逾期报送{len(result.late_units)}个，未报送{len(result.missing_units)}个")
    cutoff = result.round.cutoff
    when = cn_month_day(cutoff) if cutoff.year == _as_date(result.now).year else cn_date(cutoff)
    basis = _basis(settings)
    requirement = f"{basis}文件要求" if basis.startswith("《") else f"{basis}要求"
    city = _city(settings.issuer)
    if city and basis.startswith(city):
        city = ""  # 按照三门峡市政府工作部署要求，2021年…
    return tidy_punctuation(
        f"按照{requirement}，{city}{year}年《政府工作报告》重点工作共分{len(reg.categories)}大类、"
        f"{len(tasks)}项任务、{len(indicators)}项指标。截至{when}，{len(indicators)}项指标中{status}；{units}。"
        "现将各项工作任务进展情况报告如下：")


def _basis(settings) -> str:
    for key, value in settings.extra:
        if key in ("依据文件", "文件依据", "依据", "通知文件") and value.strip():
            return value.strip()
    government = re.sub(r"(办公室|办公厅)?督查室$", "", settings.issuer.strip())
    if government and government != settings.issuer.strip():
        return f"{government}工作部署"
    return "工作部署"


#: A milestone's state, said after its deadline has passed.
_STATE_NOW = {"推进中": "目前尚未完成", "未启动": "目前尚未启动"}
#: How a 合计 that is itself on track is summed up before the units that lag.
_OVERALL = {"序时推进": "总体序时推进", "达标": "总体达标", "已完成": "总体已完成", "推进中": "总体正在推进",
            "待更正": "总体数据待核实"}


def _overdue(values: dict[str, str]) -> str:
    due = values.get("完成时限")
    return f"完成时限为{due}，已逾期" if due else "已逾期"


def _lag_text(row: ResultRow) -> str:
    """What the lagging list says of one row (without the indicator's name as a label).

    An overdue milestone gives its deadline, then where it stands in the
    department's words (``完成时限为3月底，已逾期；《…》已完成会签，待印发``) or, without
    them, ``完成时限为3月底，目前尚未完成，已逾期``.
    """
    ind = row.indicator
    values = placeholders(row)
    if ind.kind == "节点" and row.status == "逾期":
        narrative = tidy_punctuation(_narrative(row)).rstrip("。；，、").replace("。", "；")
        if narrative:
            return f"{_overdue(values)}；{narrative}"
        due = values.get("完成时限")
        return "，".join(x for x in (f"完成时限为{due}" if due else "", _STATE_NOW.get(row.state, ""), "已逾期") if x)
    said = describe(row) or (f"{ind.name}{row.state}" if row.state else row.status)
    extra: list[str] = []
    gap = values.get("差距表述")
    against = "序时进度" if ind.kind == "累计" else "目标"
    if gap and against not in said:  # not when the clause already compares with it
        extra.append(gap)
    if row.status == "逾期":
        extra.append(_overdue(values))
    return "，".join([said, *extra])


def _opens_with_name(name: str, text: str) -> bool:
    """Whether ``text`` already opens with the indicator's name (``卢洛高速年计划投资…`` for 卢洛高速年度投资)."""
    return name[:4] in text[:len(name) + 3]


def _lag_parts(result: RoundResult) -> dict[str, list[ResultRow]]:
    """Indicator code -> the units that lag within a 合计."""
    totals = {r.indicator.code for r in result.rows if r.is_total}
    out: dict[str, list[ResultRow]] = {}
    for row in result.rows:
        if row.indicator.code in totals and not row.is_total and row.status in LAGGING:
            out.setdefault(row.indicator.code, []).append(row)
    return out


def _lagging_items(result: RoundResult) -> list[str]:
    """One numbered item per indicator that lags, or whose 合计 hides units that lag.

    ``1.“三大改造”项目完成投资40.4亿元，占年度计划投资的28.2%，低于序时进度5.1个百分点（牵头单位：市工业和信息化局）。``
    The indicator's name leads as a label only when the clause does not already
    start with it; a 合计 on track is summed up (``总体序时推进``) before its units that lag.
    """
    headline = {r.indicator.code: r for r in result.headline()}
    parts = _lag_parts(result)
    citywide = _citywide_codes(result.registry)
    items: list[str] = []
    for ind in result.registry.indicators():
        head = headline.get(ind.code)
        late = parts.get(ind.code, [])
        if head is None or (head.status not in LAGGING and not late):
            continue
        if head.status in LAGGING:
            body = _lag_text(head)
            if head.is_total and ind.code in citywide and not body.startswith(("全", "完成时限")):
                body = "全市" + body
        else:
            body = _OVERALL.get(head.status, f"总体{head.status}")
        if late:
            body += ("；其中" if head.status in LAGGING else "，其中") + "；".join(
                _part_clause(r) or short_unit_name(r.unit) + r.status for r in late)
        label = "" if _opens_with_name(ind.name, body) else f"{ind.name}："
        lead = ind.lead or "、".join(ind.reporters)
        text = tidy_punctuation(f"{label}{body}")
        items.append(f"{len(items) + 1}.{text}" + (f"（牵头单位：{lead}）" if lead else "") + "。")
    return items


def _units_line(label: str, names: list[str]) -> str:
    if not names:
        return f"{label}：无。"
    return f"{label}：{'、'.join(names)}（{len(names)}个）。"


def render(result: RoundResult, doc: DocumentObject) -> None:
    """Write the report's content into ``doc`` (whose body is empty)."""
    reg = result.registry
    settings = reg.settings
    w = _Writer(doc)

    # 眉首: issuing office on the left, date on the right.
    top = w.paragraph("")
    pf = top.paragraph_format
    pf.first_line_indent = Pt(0)
    top._p.get_or_add_pPr().get_or_add_ind().set(qn("w:firstLineChars"), "0")  # else the style's 2 chars win
    section = doc.sections[-1]
    width = (section.page_width or Mm(210)) - (section.left_margin or 0) - (section.right_margin or 0)
    pf.tab_stops.add_tab_stop(width, WD_TAB_ALIGNMENT.RIGHT)
    add_text(top, f"{settings.issuer}\t{cn_date(_as_date(result.now))}", w.fonts[STYLE_BODY])
    w.paragraph("")
    w.paragraph(settings.title, STYLE_TITLE)
    w.paragraph("")
    w.paragraph(_opening(result))

    headline = {r.indicator.code: r for r in result.headline()}
    citywide = frozenset(_citywide_codes(reg))
    for index, cat in enumerate(reg.categories, 1):
        w.paragraph(_heading(index, cat.title or cat.sheet), STYLE_HEADING1)
        text = join_clauses(_category_parts(cat, result.rows_in(cat.sheet), headline, citywide))
        w.paragraph(text or "本期各责任单位暂未报送进展情况。")

    n = len(reg.categories)
    w.paragraph(f"{cn_numeral(n + 1)}、进度滞后和逾期事项", STYLE_HEADING1)
    for item in _lagging_items(result) or ["无。"]:
        w.paragraph(item)
    w.paragraph(f"{cn_numeral(n + 2)}、报送情况", STYLE_HEADING1)
    w.paragraph(_units_line("按时报送单位", result.on_time_units))
    w.paragraph(_units_line("逾期报送单位", result.late_units))
    w.paragraph(_units_line("未报送单位", result.missing_units))

    props = doc.core_properties
    props.title = settings.title
    props.author = settings.issuer
    props.last_modified_by = settings.issuer
    props.subject = f"{result.round.name}轮次"
    props.comments = ""
    now = result.now if isinstance(result.now, datetime) else datetime.combine(_as_date(result.now),
                                                                                datetime.min.time())
    props.created = now
    props.modified = now
    props.revision = 1


def _save_atomic(doc: DocumentObject, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        doc.save(str(tmp))


def write_report(result: RoundResult, path: Path, template: Path | None = None) -> Path:
    """Write ``进展情况报告_<轮次>.docx`` for ``result`` to ``path`` (atomically); returns ``path``."""
    path = Path(path)
    doc = _open(template)
    render(result, doc)
    _save_atomic(doc, path)
    return path


__all__ = [
    "FONT_BODY", "FONT_HEADING1", "FONT_HEADING2", "FONT_PAGE", "FONT_TITLE",
    "STYLE_BODY", "STYLE_HEADING1", "STYLE_HEADING2", "STYLE_TITLE",
    "add_text", "build_template", "ensure_styles", "render", "set_fonts", "template_path", "write_report",
]
