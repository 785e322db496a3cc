"""The Word document of the report: official-document format, styles, template, paragraphs, tables.

Format follows GB/T 9704-2012: A4, margins 37/35/28/26 mm, 方正小标宋简体 二号 title,
仿宋_GB2312 三号 body at a fixed 28.95 pt line (22 lines of 28 characters), 黑体
level-1 headings, ``— 1 —`` page numbers in 宋体 四号 on the outer side. It is built on
an editable template (``templates/report.docx``, made by
``scripts/make_report_template.py`` with :func:`build_template`): the clerk may change
its styles 标题/正文/一级标题/二级标题, page setup and footer, and the report follows.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt
from docx.text.paragraph import Paragraph
from lxml import etree

from ..errors import DuchaError
from ..store import atomic_path

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
STYLE_TABLE = "表格文字"

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
TABLE_SIZE = Pt(12)  # 小四, the usual size of a 公文 attachment's table
TABLE_LINE = Pt(18)
PAGE_SIZE = Pt(14)  # 四号

REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "report.docx"
PACKAGE_TEMPLATE = Path(__file__).resolve().parents[1] / "assets" / "report.docx"

_NUMERAL_PREFIX = re.compile(r"^\s*[一二三四五六七八九十百零〇]+\s*[、.．]")

# (name, style id, font, size, alignment, first-line indent in chars, line, keep with next, outline)
_STYLE_SPECS = (
    (STYLE_BODY, "DuchaBody", FONT_BODY, BODY_SIZE, WD_ALIGN_PARAGRAPH.JUSTIFY, 2, LINE_PITCH, False, None),
    (STYLE_TITLE, "DuchaTitle", FONT_TITLE, TITLE_SIZE, WD_ALIGN_PARAGRAPH.CENTER, 0, TITLE_LINE, True, None),
    (STYLE_HEADING1, "DuchaHeading1", FONT_HEADING1, BODY_SIZE, WD_ALIGN_PARAGRAPH.JUSTIFY, 2, LINE_PITCH,
     True, 0),
    (STYLE_HEADING2, "DuchaHeading2", FONT_HEADING2, BODY_SIZE, WD_ALIGN_PARAGRAPH.JUSTIFY, 2, LINE_PITCH,
     True, 1),
    (STYLE_TABLE, "DuchaTable", FONT_BODY, TABLE_SIZE, WD_ALIGN_PARAGRAPH.CENTER, 0, TABLE_LINE, False, None),
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
    """A run with ``text`` and explicit fonts (python-docx alone sets only the Latin one).

    Plain text goes into one ``w:t`` directly: python-docx's ``run.text`` converts text
    character by character (for tabs and breaks), which a report of a province's rounds
    pays for in seconds. Text with a tab or a line break still goes that way."""
    if "\t" in text or "\n" in text or "\r" in text:
        run = paragraph.add_run(text)
    else:
        run = paragraph.add_run()
        t = OxmlElement("w:t")
        t.set(qn("xml:space"), "preserve")
        t.text = _XML_ILLEGAL.sub("", text)
        run._r.append(t)
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


#: Parts of python-docx's default template (saved by Word 2010 for Mac) that a report has no
#: use for: the first page's thumbnail, a bibliography store and Word 2010's copy of the
#: styles (which still holds the untouched defaults, language en-US).
_LEFTOVER_RELS = (RT.THUMBNAIL, RT.CUSTOM_XML, "http://schemas.microsoft.com/office/2007/relationships/stylesWithEffects")
#: settings.xml children that describe the template's past life in Word for Mac: its
#: revision-session ids, a "spelling checked" mark, the request to save a preview picture
#: (which makes Word write the thumbnail again) and the document id.
_LEFTOVER_SETTINGS = ("w:rsids", "w:proofState", "w:savePreviewPicture", "w14:docId")


def _drop_leftovers(doc: DocumentObject) -> None:
    """Remove the default template's thumbnail, bibliography store and stylesWithEffects.

    A part no relationship points at is not written when the document is saved.
    """
    for owner in (doc.part.package, doc.part):
        for rid, rel in list(owner.rels.items()):
            if rel.reltype in _LEFTOVER_RELS:
                del owner.rels[rid]


def _fix_settings(doc: DocumentObject) -> None:
    """Theme fonts in Chinese (w:themeFontLang zh-CN, not ja-JP); no Word-for-Mac history."""
    settings = doc.settings.element
    for tag in _LEFTOVER_SETTINGS:
        for el in settings.findall(qn(tag)):
            settings.remove(el)
    lang = settings.find(qn("w:themeFontLang"))
    if lang is None:
        lang = OxmlElement("w:themeFontLang")
        settings.insert_element_before(
            lang, "w:clrSchemeMapping", "w:doNotIncludeSubdocsInStats", "w:doNotAutoCompressPictures",
            "w:forceUpgrade", "w:captions", "w:readModeInkLockDown", "w:smartTagType", "sl:schemaLibrary",
            "w:shapeDefaults", "w:doNotEmbedSmartTags", "w:decimalSymbol", "w:listSeparator")
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")


def _fix_app_properties(doc: DocumentObject) -> None:
    """docProps/app.xml naming the program that wrote the file (not "Microsoft Macintosh Word").

    Only the properties that stay true of any report built on the template are kept: no
    page or word counts, no template name, no application version of another program.
    """
    import docx

    from .. import __version__

    for rel in doc.part.package.rels.values():
        if rel.reltype == RT.EXTENDED_PROPERTIES and not rel.is_external:
            ns = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
            xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                   f'<Properties xmlns="{ns}" '
                   'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
                   f"<Application>ducha/{__version__} python-docx/{docx.__version__}</Application>"
                   "<DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop><LinksUpToDate>false</LinksUpToDate>"
                   "<SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged></Properties>")
            rel.target_part._blob = xml.encode("utf-8")


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
    _drop_leftovers(doc)
    _fix_app_properties(doc)
    _fix_settings(doc)
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
    props.subject = ""
    props.keywords = ""
    props.category = ""
    props.language = "zh-CN"
    props.revision = 1
    # python-docx writes these as UTC (…Z); the default template's say 2013.
    written = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    props.created = written
    props.modified = written
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
        self._styles = {name: doc.styles[name] for name in _STYLE_FONTS}  # python-docx finds names linearly
        self._style_ids: dict[str, str | None] = {}
        # tables' body rows and plain paragraphs' XML, written into document.xml when it is saved
        # (:func:`_save_atomic`): (column widths, style id, fonts, rows) or (XML before the text,
        # text, XML after it)
        self.deferred: list[tuple] = []
        self._plain: dict[tuple[str, bool], tuple[str, str]] = {}  # (style, has text) -> XML around the text
        self._declared = _declarations(doc.element.nsmap)

    def _add_paragraph(self, style: str) -> Paragraph:
        """``doc.add_paragraph(style=…)`` with the style's id looked up once: python-docx looks for
        the default style among all styles for every paragraph it gives a style."""
        if style not in self._style_ids:
            self._style_ids[style] = self.doc.part.get_style_id(self._styles.get(style, style),
                                                                WD_STYLE_TYPE.PARAGRAPH)
        par = self.doc.add_paragraph()
        par._p.style = self._style_ids[style]
        return par

    def paragraph(self, text: str, style: str = STYLE_BODY) -> None:
        """A paragraph in ``style``. Its XML is the one python-docx makes (:meth:`_python_docx_paragraph`),
        written as text when the document is saved: through python-docx and lxml a paragraph costs
        0.4 ms and a category's 90,000 characters as much again, twice over."""
        if "\t" in text or "\n" in text or "\r" in text:  # (add_text makes tabs and breaks of these)
            self._python_docx_paragraph(text, style)
            return
        key = (style, bool(text))
        if key not in self._plain:
            par = self._python_docx_paragraph(_TEXT_SLOT if text else "", style)
            xml = _child_xml(par._p, self._declared)
            par._p.getparent().remove(par._p)
            head, _, tail = xml.partition(_TEXT_SLOT)
            self._plain[key] = (head, tail)
        head, tail = self._plain[key]
        marker = OxmlElement("w:p")
        run = OxmlElement("w:r")
        slot = OxmlElement("w:t")
        slot.text = f"{_PARA_MARK}{len(self.deferred)}"
        run.append(slot)
        marker.append(run)
        self.deferred.append((head, text, tail))
        body = self.doc.element.body
        end = body.find(qn("w:sectPr"))  # where python-docx adds a paragraph
        if end is None:
            body.append(marker)
        else:
            end.addprevious(marker)

    def _python_docx_paragraph(self, text: str, style: str) -> Paragraph:
        par = self._add_paragraph(style)
        _no_auto_space(par)
        if text:
            add_text(par, text, self.fonts.get(style, FONT_BODY))
        return par

    def flush_left(self, text: str, style: str = STYLE_BODY, *, font: str | None = None,
                   page_break: bool = False) -> Paragraph:
        """A paragraph without the first-line indent (附件 labels, 附件说明 lines)."""
        par = self._add_paragraph(style)
        _no_auto_space(par)
        _no_indent(par)
        par.paragraph_format.page_break_before = page_break
        if text:
            add_text(par, text, font or self.fonts.get(style, FONT_BODY))
        return par

    def hanging(self, text: str, chars: int) -> Paragraph:
        """A line indented ``chars`` characters, without first-line indent (the 附件说明's second item)."""
        par = self.flush_left(text)
        par.paragraph_format.left_indent = Pt(BODY_SIZE.pt * chars)
        return par

    def right(self, text: str, right_chars: float) -> Paragraph:
        """A right-aligned line ``right_chars`` characters from the margin (落款)."""
        par = self.flush_left(text)
        par.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        par.paragraph_format.right_indent = Pt(BODY_SIZE.pt * right_chars)
        return par

    def picture(self, path: Path, width_mm: float, caption: str = "") -> None:
        """A centred picture (single line spacing, or the exact 28.95 pt line would clip it)."""
        par = self.flush_left("")
        pf = par.paragraph_format
        pf.alignment = WD_ALIGN_PARAGRAPH.CENTER
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
        par.add_run().add_picture(str(path), width=Mm(width_mm))
        if caption:
            cap = self.flush_left(caption, STYLE_TABLE)
            cap.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER

    def table(self, columns: list[str], widths_mm: list[float], rows: list[list[str]]) -> None:
        """A table that renders the same in Word, WPS and LibreOffice: fixed layout, a grid column
        and an explicit width for every cell, borders of its own, the header row repeated."""
        table = self.doc.add_table(rows=0, cols=len(columns))
        table.autofit = False  # w:tblLayout fixed: Word and WPS keep the widths given
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        tbl_pr = table._tbl.tblPr
        _set_child(tbl_pr, "w:tblW", {"w:type": "dxa", "w:w": str(sum(_twips(w) for w in widths_mm))},
                   _TBLPR_AFTER_TBLW)
        borders = _set_child(tbl_pr, "w:tblBorders", {}, _TBLPR_AFTER_BORDERS)
        for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
            _set_child(borders, f"w:{edge}", {"w:val": "single", "w:sz": "4", "w:space": "0", "w:color": "000000"})
        for col, width in zip(table.columns, widths_mm, strict=True):
            col.width = Mm(width)
        # The rows as XML text, written straight into the saved document (see _save_atomic):
        # through python-docx's cell objects a table of a few thousand rows takes minutes, and even
        # as one parsed tree a province's 附件1 (9,000 rows) holds 350 MB of XML nodes.
        style_id = self.doc.styles[STYLE_TABLE].style_id  # looked up once: by name it is a linear search
        twips = [_twips(w) for w in widths_mm]
        fonts = (FONT_HEADING1, self.fonts.get(STYLE_TABLE, FONT_BODY))
        header = parse_xml(f"<w:tbl {nsdecls('w')}>{''.join(_table_rows(twips, style_id, fonts, [columns], 0))}</w:tbl>")
        for tr in list(header):
            table._tbl.append(tr)
        if rows:
            marker = f"{_ROWS_MARK}{len(self.deferred)}"
            self.deferred.append((twips, style_id, fonts, rows))
            placeholder = parse_xml(f"<w:tbl {nsdecls('w')}>"
                                    f"<w:tr><w:tc><w:p><w:r><w:t>{marker}</w:t></w:r></w:p></w:tc></w:tr></w:tbl>")
            table._tbl.append(placeholder[0])


def _table_rows(twips: list[int], style_id: str, fonts: tuple[str, str], rows: list[list[str]], first: int
                ) -> Iterator[str]:
    """The XML of table rows, one row at a time; row ``first`` + i is the header when 0."""
    def opening(width: int, align: str, font: str) -> str:
        return (f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/><w:vAlign w:val="center"/></w:tcPr>'
                f'<w:p><w:pPr><w:pStyle w:val="{style_id}"/><w:autoSpaceDE w:val="0"/>'
                f'<w:autoSpaceDN w:val="0"/>{align}</w:pPr>'
                f'<w:r><w:rPr><w:rFonts w:ascii="{font}" w:hAnsi="{font}" w:eastAsia="{font}" w:cs="{font}"/>'
                f'</w:rPr><w:t xml:space="preserve">')

    # each cell's XML up to its text, made once per column: (header, short text, long text)
    openings = [(opening(width, "", fonts[0]), opening(width, "", fonts[1]),
                 opening(width, '<w:jc w:val="left"/>', fonts[1])) for width in twips]  # long text from the left
    closing = "</w:t></w:r></w:p></w:tc>"
    for r, values in enumerate(rows, start=first):
        whole = "".join(values)  # a row's cells looked at at once: most hold nothing to escape
        plain = not ("&" in whole or "<" in whole or ">" in whole or _XML_ILLEGAL.search(whole))
        cells = ["<w:tr><w:trPr><w:tblHeader/></w:trPr>" if r == 0 else "<w:tr>"]
        for (head, short, long), value in zip(openings, values, strict=True):
            cells.append(head if r == 0 else long if len(value) > 8 else short)
            cells.append(value if plain else _xml_text(value))
            cells.append(closing)
        cells.append("</w:tr>")
        yield "".join(cells)


def _xml_text(value: str) -> str:
    """``value`` as XML character data (what ``xml_escape`` gives, without the characters XML cannot hold)."""
    if _XML_ILLEGAL.search(value):
        value = _XML_ILLEGAL.sub("", value)
    if "&" in value or "<" in value or ">" in value:
        value = xml_escape(value)
    return value


#: Stands in a table for its body rows until the document is saved (a control-free ASCII tag).
_ROWS_MARK = "DUCHA-DEFERRED-ROWS-"
_ROWS_MARK_RE = re.compile(rf"<w:tr>(?:(?!</w:tr>).)*?{_ROWS_MARK}(\d+)(?:(?!</w:tr>).)*?</w:tr>", re.S)


#: Characters XML 1.0 cannot hold (a control character pasted into the master's text).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _twips(mm: float) -> int:
    return round(mm * 1440 / 25.4)


# Children of w:tblPr that follow w:tblW and w:tblBorders in the schema's order.
_TBLPR_AFTER_TBLW = ("w:jc", "w:tblCellSpacing", "w:tblInd", "w:tblBorders", "w:shd", "w:tblLayout", "w:tblCellMar",
                     "w:tblLook", "w:tblCaption", "w:tblDescription", "w:tblPrChange")
_TBLPR_AFTER_BORDERS = _TBLPR_AFTER_TBLW[4:]


def _set_child(parent, tag: str, attrs: dict[str, str], successors: tuple[str, ...] = ()):
    """The ``tag`` child of ``parent`` with ``attrs``, created before ``successors`` (schema order)."""
    el = parent.find(qn(tag))
    if el is None:
        el = OxmlElement(tag)
        if successors:
            parent.insert_element_before(el, *successors)
        else:
            parent.append(el)
    for key, value in attrs.items():
        el.set(qn(key), value)
    return el


def _no_indent(par: Paragraph) -> None:
    """No first-line indent, also where the style asks for 2 characters (firstLineChars wins in Word)."""
    pf = par.paragraph_format
    pf.first_line_indent = Pt(0)
    par._p.get_or_add_pPr().get_or_add_ind().set(qn("w:firstLineChars"), "0")


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


def _save_atomic(doc: DocumentObject, path: Path, deferred: Sequence[tuple] = ()) -> None:
    """Save ``doc`` to ``path`` atomically, its document.xml written piece by piece.

    python-docx serialises a part whole (a province's report body is 50 MB of XML, held two
    or three times over while it is saved): here the body's paragraphs and tables are taken
    out before python-docx saves the package, then written one by one into document.xml in
    place of a marker, each table's ``deferred`` rows row by row in place of its placeholder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = doc.element.body
    moved = [child for child in body if child.tag != qn("w:sectPr")]
    for child in moved:
        body.remove(child)
    marker = parse_xml(f"<w:p {nsdecls('w')}><w:r><w:t>{_BODY_MARK}</w:t></w:r></w:p>")
    body.insert(0, marker)
    try:
        with atomic_path(path) as tmp:
            saved = io.BytesIO()
            doc.save(saved)
            with zipfile.ZipFile(saved) as source, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
                for info in source.infolist():
                    data = source.read(info)
                    if info.filename != "word/document.xml":
                        target.writestr(info, data)
                        continue
                    part = zipfile.ZipInfo(info.filename, info.date_time)
                    part.compress_type = zipfile.ZIP_DEFLATED
                    with target.open(part, "w") as out:
                        _write_body(out, data.decode("utf-8"), moved, deferred, doc.element.nsmap)
    finally:
        body.remove(marker)
        for at, child in enumerate(moved):
            body.insert(at, child)


def _write_body(out, skeleton: str, children: list, deferred: Sequence[tuple], nsmap: dict) -> None:
    """document.xml: the ``skeleton`` python-docx saved, its body marker replaced by ``children``."""
    found = _BODY_MARK_RE.search(skeleton)
    if found is None:
        raise DuchaError("生成进展情况报告时出错：文档正文的位置标记丢失。请重新运行；如仍出错请联系维护人员。")
    out.write(skeleton[:found.start()].encode("utf-8"))
    # a child serialised alone repeats the namespace declarations the document element makes
    declared = _declarations(nsmap)
    for child in children:
        text = _child_xml(child, declared)
        if text.startswith(_PARA_PLACEHOLDER):  # a plain paragraph (see _Writer.paragraph)
            head, body, tail = deferred[int(text[len(_PARA_PLACEHOLDER):text.index("<", len(_PARA_PLACEHOLDER))])]
            out.write(head.encode("utf-8"))
            out.write(_xml_text(body).encode("utf-8"))
            out.write(tail.encode("utf-8"))
            continue
        at = 0
        for match in _ROWS_MARK_RE.finditer(text):
            out.write(text[at:match.start()].encode("utf-8"))
            twips, style_id, fonts, rows = deferred[int(match.group(1))]
            batch: list[str] = []  # rows written some hundreds at a time (the compressor's calls add up)
            for piece in _table_rows(twips, style_id, fonts, rows, 1):
                batch.append(piece)
                if len(batch) == 200:
                    out.write("".join(batch).encode("utf-8"))
                    batch.clear()
            out.write("".join(batch).encode("utf-8"))
            at = match.end()
        out.write(text[at:].encode("utf-8"))
    out.write(skeleton[found.end():].encode("utf-8"))


def _declarations(nsmap: dict) -> re.Pattern:
    """The namespace declarations of the document element, as a child serialised alone repeats them."""
    return re.compile(" (?:" + "|".join(
        re.escape(f'xmlns:{prefix}="{uri}"') for prefix, uri in nsmap.items() if prefix) + ")")


def _child_xml(child, declared: re.Pattern) -> str:
    """A body child's XML as document.xml holds it (without the declarations its root makes)."""
    text = etree.tostring(child, encoding="unicode")
    end = text.index(">")
    return declared.sub("", text[:end]) + text[end:]


#: Stands for a plain paragraph's text while its XML is worked out once per style (see _Writer.paragraph).
_TEXT_SLOT = "DUCHA-TEXT-SLOT"
#: Stands in the body for a plain paragraph until the document is saved.
_PARA_MARK = "DUCHA-DEFERRED-PARAGRAPH-"
_PARA_PLACEHOLDER = f"<w:p><w:r><w:t>{_PARA_MARK}"

#: Stands in the saved skeleton for the body's content (see :func:`_save_atomic`).
_BODY_MARK = "DUCHA-BODY-CONTENT"
_BODY_MARK_RE = re.compile(rf"<w:p>(?:(?!</w:p>).)*?{_BODY_MARK}(?:(?!</w:p>).)*?</w:p>", re.S)
