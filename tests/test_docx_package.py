"""The Word files carry nothing of python-docx's default template (made in Word 2010 for Mac).

Every part of the zip is opened: the relationships, the content types, the document
properties, the settings and the theme. Checked for a freshly built template, the two
committed copies and the demo's report.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from toolkit.report import PACKAGE_TEMPLATE, REPO_TEMPLATE, build_template

NS = {
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "ct": "http://schemas.openxmlformats.org/package/2006/content-types",
    "ep": "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
    "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "w14": "http://schemas.microsoft.com/office/word/2010/wordml",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
}
#: Text that betrays the default template, in any part.
FOREIGN = ("Macintosh", "ja-JP", "Jpan", "Mincho", "MS Gothic", "ＭＳ", "Normal.dotm")
#: Parts a report may hold; anything else (thumbnail, customXml, stylesWithEffects) is a leftover.
ALLOWED = re.compile(r"^(\[Content_Types\]\.xml|_rels/\.rels|docProps/(app|core)\.xml|word/_rels/document\.xml\.rels"
                     r"|word/(document|styles|settings|webSettings|fontTable|numbering|footnotes|endnotes)\.xml"
                     r"|word/theme/theme1\.xml|word/(header|footer)\d+\.xml|word/media/image\d+\.(png|jpeg)"
                     r"|word/_rels/(header|footer)\d+\.xml\.rels)$")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _xml(parts: dict[str, bytes], name: str) -> ET.Element:
    return ET.fromstring(parts[name])


def _rels_targets(parts: dict[str, bytes]) -> list[tuple[str, str, str]]:
    """(rels part, relationship type, resolved target) of every internal relationship."""
    out = []
    for name in parts:
        if not name.endswith(".rels"):
            continue
        base = posixpath.dirname(posixpath.dirname(name))  # word/_rels/document.xml.rels -> word
        for rel in _xml(parts, name).findall("rel:Relationship", NS):
            if rel.get("TargetMode") == "External":
                continue
            target = rel.get("Target", "")
            resolved = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(base, target))
            out.append((name, rel.get("Type", ""), resolved))
    return out


def check_package(path: Path, *, title: str, author: str) -> None:
    parts = _parts(path)

    # Only the parts a report uses; each one reachable, declared and free of foreign traces.
    assert all(ALLOWED.match(name) for name in parts), sorted(n for n in parts if not ALLOWED.match(n))
    targets = _rels_targets(parts)
    for rels, reltype, target in targets:
        assert target in parts, f"{rels} points at missing {target}"
        assert not reltype.endswith(("/thumbnail", "/customXml", "/stylesWithEffects")), (rels, reltype)
    reachable = {t for _, _, t in targets}
    for name in parts:
        if not name.endswith(".rels") and name != "[Content_Types].xml":
            assert name in reachable, f"{name} is in the zip but no relationship points at it"
    types = _xml(parts, "[Content_Types].xml")
    overrides = {o.get("PartName", "").lstrip("/") for o in types.findall("ct:Override", NS)}
    defaults = {d.get("Extension", "").lower() for d in types.findall("ct:Default", NS)}
    for name in parts:
        if name != "[Content_Types].xml":
            assert name in overrides or name.rsplit(".", 1)[-1].lower() in defaults, name
    assert "jpeg" not in defaults or any(n.endswith(".jpeg") for n in parts)  # no type left by the thumbnail
    for name, data in parts.items():
        text = data.decode("utf-8") if not name.startswith("word/media/") else ""
        for trace in FOREIGN:
            assert trace not in text, f"{name} contains {trace!r}"

    # docProps/app.xml names ducha and nothing of another program's counts or template.
    app = _xml(parts, "docProps/app.xml")
    assert app.findtext("ep:Application", namespaces=NS).startswith("ducha/")
    for gone in ("Template", "AppVersion", "Pages", "Words", "HeadingPairs", "TitlesOfParts"):
        assert app.find(f"ep:{gone}", NS) is None, gone

    # docProps/core.xml: the report's own title and author, in Chinese, dated now.
    core = _xml(parts, "docProps/core.xml")
    assert core.findtext("dc:title", namespaces=NS) == title
    assert core.findtext("dc:creator", namespaces=NS) == author
    assert core.findtext("cp:lastModifiedBy", namespaces=NS) == author
    assert "python-docx" not in parts["docProps/core.xml"].decode("utf-8")
    assert not core.findtext("dcterms:created", namespaces=NS).startswith("2013")

    # settings: theme fonts in Chinese, no Word-for-Mac history, no preview picture.
    settings = _xml(parts, "word/settings.xml")
    lang = settings.find("w:themeFontLang", NS)
    assert lang is not None and lang.get(f"{{{NS['w']}}}eastAsia") == "zh-CN"
    for gone in ("w:rsids", "w:proofState", "w:savePreviewPicture", "w14:docId"):
        assert settings.find(gone, NS) is None, gone

    # theme: East Asian fonts are the report's Chinese ones, no Japanese script entry.
    theme = _xml(parts, "word/theme/theme1.xml")
    for scheme in ("major", "minor"):
        font = theme.find(f".//a:{scheme}Font", NS)
        assert CJK.search(font.find("a:ea", NS).get("typeface", ""))
        scripts = {f.get("script"): f.get("typeface") for f in font.findall("a:font", NS)}
        assert "Jpan" not in scripts and CJK.search(scripts["Hans"])

    # styles: the document's default language for East Asian text is Chinese.
    styles = _xml(parts, "word/styles.xml")
    default = styles.find("w:docDefaults/w:rPrDefault/w:rPr/w:lang", NS)
    assert default is not None and default.get(f"{{{NS['w']}}}eastAsia") == "zh-CN"


TEMPLATE_TITLE = "《市政府工作报告》重点工作进展情况报告（模板）"


def test_built_template_is_clean(tmp_path):
    path = tmp_path / "report.docx"
    build_template(path)
    check_package(path, title=TEMPLATE_TITLE, author="市政府督查室")


@pytest.mark.parametrize("path", [REPO_TEMPLATE, PACKAGE_TEMPLATE], ids=["templates", "assets"])
def test_committed_templates_are_clean(path):
    """The copies in git were regenerated with scripts/make_report_template.py."""
    check_package(path, title=TEMPLATE_TITLE, author="市政府督查室")


def test_demo_report_is_clean(demo):
    settings = demo.result.registry.settings
    check_package(demo.result.outputs["report"], title=settings.title, author=settings.issuer)
