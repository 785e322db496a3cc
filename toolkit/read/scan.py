"""Reading a small XML part in one go: expat checks it, regular expressions take it apart.

The streaming parser of :mod:`.xlsx` calls back into Python for every element and every
piece of text: about ten calls per cell. A returned template is a few hundred kilobytes of
XML in parts of a few kilobytes each, and almost all of it is written by a handful of
programs (Excel, WPS, LibreOffice, openpyxl, xlsxwriter) in a handful of shapes. So a part
no larger than :data:`WHOLE_PART_BYTES` is read whole, checked by expat without any Python
callback (well-formed, no DTD: the same parser, with the same refusals, as the streaming
path), and then taken apart here by regular expressions that match those shapes.

The scan only ever answers for XML it covers completely. Everything it cannot vouch for —
another encoding than UTF-8, comments, CDATA, processing instructions, namespace prefixes
on the elements that matter, an element in an unusual place or shape, a cell without a
reference, a row number or cell reference out of range — makes it answer ``None``, and the
part is then read by the streaming parser, which decides (and refuses) exactly as before.
tests/test_scan.py checks that both ways read the same cells from real, built and random
files.

Why the regular expressions are exact on what they accept: expat has already found the
part well-formed, and without comments, CDATA and processing instructions every ``<`` in
a well-formed document starts a tag (text and attribute values cannot hold a raw ``<``).
A tag is found by its name followed by XML white space, ``/`` or ``>``; the counts of tags
(``<c``, ``<si``, ``<t`` …) are compared with the counts of elements taken apart, so an
element in a shape the expressions do not match is never skipped silently.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterator
from xml.parsers import expat

from .package import _new_parser, _xml_encoding

#: Parts up to this size (as the zip declares it; zipfile never inflates beyond) are read whole:
#: every part of a return, and a province's 目标分解 sheet (about 6 MB for 2,000 units).
WHOLE_PART_BYTES = 16 * 1024 * 1024
#: Expat checks a whole part in pieces of this size, the clock looked at before each.
_CHECK_PIECE = 1024 * 1024
#: A worksheet's rows are taken apart in slices of about this size (bounded memory).
SLICE = 1024 * 1024

_S = r"[ \t\r\n]"  # XML white space (not Python's \s: U+1680 and friends are name characters)
_ATTRS = rf"""(?:{_S}+[^ \t\r\n=<>/"']+{_S}*={_S}*(?:"[^"<]*"|'[^'<]*'))*{_S}*"""
_ATTR = re.compile(rf"""([^ \t\r\n=<>/"']+){_S}*={_S}*(?:"([^"<]*)"|'([^'<]*)')""")
_DECLARATION = re.compile(r"<\?xml[ \t\r\n][^<>]*\?>")
_ENCODING = re.compile(r"""encoding[ \t\r\n]*=[ \t\r\n]*["']([^"']*)["']""")
_REFERENCE = re.compile(r"&(#[0-9]+|#x[0-9A-Fa-f]+|lt|gt|amp|quot|apos);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_WHITE = str.maketrans({"\t": " ", "\n": " ", "\r": " "})

#: One cell, in the shapes the usual writers use: ``<c r="B4" s="3" t="s"><v>12</v></c>``
#: (attributes in this order; any other order or attribute goes through the second branch),
#: an optional ``<f>`` (or ``<f …/>``), an optional ``<v>``, an optional ``<is>``. Made for
#: ``findall``: an element is there when its group (``<f…``, ``<v…``, ``<is…``) is not empty.
#: Groups: column letters, row digits, s, t (first branch) | attributes (second branch), "/"
#: for an empty cell, <f> element, its text, <v> element, its text, <is> element, its content.
CELL = re.compile(
    rf"""<c(?:{_S}+r="([A-Z]{{1,3}})([0-9]{{1,10}})"(?:{_S}+s="([0-9]{{1,10}})")?(?:{_S}+t="([A-Za-z]{{1,20}})")?{_S}*"""
    rf"""|({_ATTRS}))"""
    rf"""(?:(/)>|>{_S}*"""
    rf"""(<f{_ATTRS}(?:/>|>([^<]*)</f{_S}*>))?{_S}*"""
    rf"""(<v{_ATTRS}(?:/>|>([^<]*)</v{_S}*>))?{_S}*"""
    rf"""(<is{_ATTRS}(?:/>|>(.*?)</is{_S}*>))?{_S}*"""
    rf"""</c{_S}*>)""",
    re.S,
)
#: The two shapes nearly every cell of a template has, exactly as the usual writers write
#: them: a value cell (groups: column letters, row digits, s, t, the value) and an empty one.
VALUE_CELL = re.compile(r'<c r="([A-Z]{1,3})([0-9]{1,10})"(?: s="([0-9]{1,10})")?(?: t="([A-Za-z]{1,20})")?>'
                        r"<v>([^<]*)</v></c>")
EMPTY_CELL = re.compile(r'<c r="[A-Z]{1,3}[0-9]{1,10}"(?: s="[0-9]{1,10}")?(?: t="[A-Za-z]{1,20}")?/>')
ROW = re.compile(rf"<row({_ATTRS})/?>")
#: Rows numbered the usual way (``r`` first); a row in any other shape goes through :data:`ROW`.
ROW_NUMBER = re.compile(rf'<row{_S}+r="([0-9]{{1,10}})"')
MERGE = re.compile(rf"<mergeCell({_ATTRS})/?>")
#: A shared string: plain (``<si><t>…</t></si>``: the opening tags, the text), empty
#: (``<si/>``: "/"), or anything else (its content, taken apart by :func:`_run_texts`).
_SI = re.compile(rf"(<si{_ATTRS}>{_S}*<t{_ATTRS}>)([^<]*)</t{_S}*>{_S}*</si{_S}*>"
                 rf"|<si{_ATTRS}(?:(/)>|>(.*?)</si{_S}*>)", re.S)
_INSIDE_CELL = re.compile(r"<(?:c|v|f|is|row|mergeCell|extLst)[ \t\r\n/>]")
_TAG = re.compile(r"<([^ \t\r\n/>!?]+)")  # the name of every start (or empty) tag
_EXTENSIONS = re.compile(r"<extLst[ \t\r\n/>]")
#: Elements the streaming parser reacts to (by local name), per part.
SHEET_NAMES = frozenset(["worksheet", "sheetData", "row", "c", "v", "f", "is", "t", "r", "rPh", "mergeCell", "extLst"])
SHARED_NAMES = frozenset(["sst", "si", "t", "r", "rPh", "phoneticPr", "extLst"])


#: Column letters A … XFD (the columns of a sheet), no more.
_IN_COLUMNS = "(?:[A-Z]{1,2}|[A-W][A-Z]{2}|X[A-E][A-Z]|XF[A-D])"
#: Attributes as the usual writers write them: one space before each, double quotes.
_PLAIN_ATTRS = r"""(?: [^ \t\r\n=<>/"']+="[^"<]*")*"""


#: The content of a cell the usual value cell does not cover: an optional ``<f …>…</f>`` (or
#: ``<f …/>``), ``<v>…</v>`` (or ``<v/>``) and ``<is><t>…</t></is>``, in that order; groups "<f",
#: "/" of an empty <f>, its text, "<v", "/" of an empty <v>, its text, "<is", its text.
_CELL_CONTENT = (rf"""(?:(<f){_PLAIN_ATTRS}(?:(/)>|>([^<]*)</f>))?(?:(<v)(?:(/)>|>([^<]*)</v>))?"""
                 r'(?:(<is)><t(?: xml:space="preserve")?>([^<]*)</t></is>)?')
CELL_CONTENT = re.compile(rf">{_CELL_CONTENT}</c>")


@functools.lru_cache(maxsize=16)
def sheet_data_cells(row_digits: int) -> re.Pattern[str]:
    """One cell of a ``<sheetData>`` in the shapes the usual writers write, within the sheet: its
    reference has at most ``row_digits`` digits and a column up to XFD; attributes ``r s t`` in this
    order. An empty cell ``<c r s t/>``, a value cell ``<c r s t><v>…</v></c>``, or any other content
    of :data:`CELL_CONTENT` (taken apart by it).

    Groups: the reference, s, t, "/" for an empty cell, the value of a value cell, the
    content of another cell (from its ``>`` to its ``</c>``). Every ``<`` of a match starts a tag
    of the cell: one for an empty cell, four for a value cell."""
    content = re.sub(r"\((?!\?)", "(?:", _CELL_CONTENT)  # the same, without groups
    return re.compile(
        rf'<c r="({_IN_COLUMNS}[0-9]{{1,{row_digits}}})"(?: s="([0-9]{{1,10}})")?(?: t="([A-Za-z]{{1,20}})")?'
        rf"(?:(/)>|><v>([^<]*)</v></c>|(>{content}</c>))")


@functools.lru_cache(maxsize=16)
def sheet_data_rows(row_digits: int) -> re.Pattern[str]:
    """The start of a row numbered the usual way (``r`` first) within ``row_digits`` digits."""
    return re.compile(rf'<row r="[0-9]{{1,{row_digits}}}"')


#: A merged range as the usual writers write it: groups column, row (, column, row) of its corners.
PLAIN_MERGE = re.compile(r'<mergeCell ref="([A-Z]{1,3})([0-9]{1,10})(?::([A-Z]{1,3})([0-9]{1,10}))?"/>')
#: Around ``<sheetData>`` of a sheet read quickly: an element the streaming parser reads (by local
#: name), before it; a phonetic run or prefixed element that matters, after it; in what follows it up
#: to its extensions, an element read but the merged ranges; in or after the extensions, one read there.
_PREFIXED = rf"""<[^ \t\r\n/>!?]*:(?:{"|".join(sorted(SHEET_NAMES))})[ \t\r\n/>]"""
_BEFORE_DATA = re.compile(rf"<(?:row|c|v|f|is|t|r|rPh|mergeCell|extLst)[ \t\r\n/>]|{_PREFIXED}")
_AFTER_DATA = re.compile(rf"<rPh[ \t\r\n/>]|{_PREFIXED}")
_MERGES_ONLY = re.compile(r"<(?:row|c|v|f|is|t|r)[ \t\r\n/>]")
_IN_EXTENSIONS = re.compile(r"<(?:c|row|mergeCell)[ \t\r\n/>]")
_MERGE_TAG = re.compile(r"<mergeCell[ \t\r\n/>]")
_WORKSHEET = re.compile(r"[ \t\r\n]*<worksheet[ \t\r\n/>]")


def split_sheet_data(text: str) -> tuple[str, str, int] | None:
    """A worksheet's ``<sheetData>`` content, what follows it (up to its extensions) and how many
    ``<mergeCell>`` that holds, when nothing else outside ``<sheetData>`` is read; else None (the
    slower scan decides). The same tests as :func:`worksheet_body` and :func:`before_extensions`,
    by regular expressions rather than counts of every tag."""
    if not _WORKSHEET.match(text):
        return None
    begin = text.find("<sheetData>")
    if begin >= 0:
        end = text.find("</sheetData>", begin)
        if end < 0:
            return None
        data, after = text[begin + len("<sheetData>"):end], text[end + len("</sheetData>"):]
    else:
        begin = text.find("<sheetData/>")
        if begin < 0:
            return None
        data, after = "", text[begin + len("<sheetData/>"):]
    if _BEFORE_DATA.search(text, 0, begin) or _AFTER_DATA.search(after):
        return None
    extensions = _EXTENSIONS.search(after)
    tail = after
    if extensions is not None:
        if _IN_EXTENSIONS.search(after, extensions.start()):
            return None
        tail = after[:extensions.start()]
    if _MERGES_ONLY.search(tail):
        return None
    return data, tail, len(_MERGE_TAG.findall(tail))


def far_references(digits: int) -> re.Pattern[str]:
    """Cell references that may lie beyond the sheet: three letters, or ``digits`` digits or more.

    Only an ``r`` attribute counts (after white space): not ``xmlns:r="http…"`` on the root."""
    return re.compile(rf'[ \t\r\n]r="\$?(?:[A-Za-z]{{3}}|[A-Za-z]{{1,2}}\$?[0-9]{{{digits},}})')


def tags(text: str, name: str) -> int:
    """How many start (or empty) tags ``<name …>`` the text holds."""
    return sum(text.count(f"<{name}{end}") for end in (" ", ">", "/", "\t", "\n", "\r"))


def tag_counts(text: str) -> Counter[str]:
    """How many start (or empty) tags of each name the text holds."""
    return Counter(_TAG.findall(text))


def _prefixed(counts: Counter[str], names: frozenset[str]) -> bool:
    """Whether an element that matters carries a namespace prefix (``x:c``)."""
    return any(":" in name and name.rpartition(":")[2] in names for name in counts)


def _runs(skips: str) -> re.Pattern[str]:
    """A text element ``<t>``, or a whole element whose text is not read (phonetic runs)."""
    return re.compile(rf"<({skips}){_ATTRS}(?:/>|>.*?</\1{_S}*>)|<t{_ATTRS}(?:/>|>([^<]*)</t{_S}*>)", re.S)


_SHARED_RUNS = _runs("rPh|phoneticPr")
_INLINE_RUNS = _runs("rPh")


# ---------------------------------------------------------------------------------------
# text and attributes as expat hands them over

def xml_text(text: str) -> str:
    """Character data as expat reports it: line ends made ``\\n``, references replaced."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in text:
        text = _REFERENCE.sub(_reference, text)
    return text


def _reference(match: re.Match[str]) -> str:
    name = match.group(1)
    if name[0] == "#":
        return chr(int(name[2:], 16) if name[1] == "x" else int(name[1:]))
    return _NAMED[name]


def attributes(text: str) -> dict[str, str]:
    """An attribute list as expat reports it: white space in values made spaces (a ``&#10;`` stays)."""
    found: dict[str, str] = {}
    for match in _ATTR.finditer(text):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        if "\r\n" in value:
            value = value.replace("\r\n", "\n")
        found[match.group(1)] = xml_text(value.translate(_WHITE))
    return found


# ---------------------------------------------------------------------------------------
# the part as text

def checked_text(data: bytes, part: str, check_time: Callable[[], None] = lambda: None) -> str | None:
    """The part's XML after its declaration, when it is plain UTF-8 that expat finds well-formed
    and that holds no comment, CDATA section, processing instruction or DTD; else None.

    Raises :class:`~toolkit.errors.ReadError` (F107) for a DTD or a forbidden encoding, as
    the streaming parser would at the very start of the part.

    A worksheet whose bytes around the ``<sheetData>`` content are those of a worksheet found
    well-formed before (:data:`_FRAMES`) has only that content checked (:func:`_frame`)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):
        return None  # UTF-16: expat reads it, the scan does not
    if _xml_encoding(data[:1024], part) is not None:
        return None  # a GBK family declaration: decoded by Python for the streaming parser
    frame = _frame(data)
    if frame is not None and frame[0] in _FRAMES:
        if not _well_formed((b"<sheetData>", frame[1], b"</sheetData>"), check_time):
            return None
    elif not _well_formed((data,), check_time):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = text.removeprefix("\ufeff")
    declaration = _DECLARATION.match(text)
    if declaration is not None:
        encoding = _ENCODING.search(declaration.group())
        if encoding is not None and encoding.group(1).lower() not in ("utf-8", "utf8"):
            return None  # e.g. latin-1: expat decodes it otherwise than UTF-8 would
        text = text[declaration.end():]
    if frame is not None:
        _remember_frame(frame[0])
    return text


def _well_formed(pieces: tuple[bytes, ...], check_time: Callable[[], None]) -> bool:
    """Whether the pieces, one after the other, are a document expat finds well-formed, holding
    no comment, CDATA section or processing instruction (a DTD raises F107)."""
    parser = _new_parser()  # no element handlers: C speed; DTDs raise F107
    # a comment, CDATA section or processing instruction (not the declaration) is never scanned
    parser.CommentHandler = parser.StartCdataSectionHandler = parser.ProcessingInstructionHandler = _unscanned
    try:
        for number, data in enumerate(pieces, 1):
            for start in range(0, len(data), _CHECK_PIECE):
                check_time()
                parser.Parse(data[start:start + _CHECK_PIECE], number == len(pieces) and
                             start + _CHECK_PIECE >= len(data))
        if not pieces[-1]:
            parser.Parse(b"", True)
    except (expat.ExpatError, _Unscanned):
        return False  # the streaming parser says where, or reads what the scan does not
    return True


#: The frames of worksheets found well-formed: the bytes up to and including their ``<sheetData>``
#: and from their ``</sheetData>`` on (:func:`_frame`). The returns of a round come from a few
#: templates and writers: their sheets differ only in their rows, not in the views, columns, data
#: validations and page setup around them (more than half of a return's worksheet bytes).
#:
#: Why checking the content alone is exact: a frame is remembered only from a worksheet expat
#: found well-formed, without comment, CDATA, processing instruction or DTD; so every ``<`` in
#: it starts a tag, the ``<sheetData>`` ending its head is a start tag, and the ``</sheetData>``
#: that begins its tail (the first after it, with no ``<sheetData`` between) is that element's end
#: tag: the content between is balanced, and the frame without it is well-formed too. Expat reads
#: a document from its start, so another worksheet with the same head is in the same state after
#: it (inside the same open elements); if ``<sheetData>`` + its content + ``</sheetData>`` is a
#: well-formed document, the content is balanced element content, after which the same tail
#: reads as it did. Without a DTD nothing else carries over (no entities, no attribute defaults,
#: no namespace processing). So head + content + tail is well-formed exactly when that small
#: document is, and neither holds a comment, CDATA section or processing instruction.
_FRAMES: dict[tuple[bytes, bytes], None] = {}
#: What the frames may hold together (bounded, whatever the files): then they start again.
FRAME_BYTES = 8 * 1024 * 1024
_frame_bytes = 0


def _frame(data: bytes) -> tuple[tuple[bytes, bytes], bytes] | None:
    """The part's head (up to and including its first ``<sheetData>``) and tail (from the first
    ``</sheetData>`` after it), and the content between, when that holds no ``<sheetData``."""
    begin = data.find(b"<sheetData>")
    if begin < 0:
        return None
    begin += len(b"<sheetData>")
    end = data.find(b"</sheetData>", begin)
    if end < 0 or data.find(b"<sheetData", begin, end) >= 0:
        return None
    return (data[:begin], data[end:]), data[begin:end]


def _remember_frame(frame: tuple[bytes, bytes]) -> None:
    global _frame_bytes
    if frame in _FRAMES:
        return
    size = len(frame[0]) + len(frame[1])
    if size > FRAME_BYTES // 16:
        return
    if _frame_bytes + size > FRAME_BYTES:
        _FRAMES.clear()
        _frame_bytes = 0
    _FRAMES[frame] = None
    _frame_bytes += size


class _Unscanned(Exception):
    """A part holds what the scan does not read (a comment, CDATA, a processing instruction)."""


def _unscanned(*_args) -> None:
    raise _Unscanned


def slices(body: str, size: int = SLICE) -> Iterator[str]:
    """The body in pieces of about ``size`` characters, each ending after a ``</row>`` (or at the
    end): no cell is ever cut."""
    start = 0
    while start < len(body):
        end = body.find("</row>", start + size)
        end = len(body) if end < 0 else end + len("</row>")
        yield body[start:end]
        start = end


def before_extensions(text: str, counts: Counter[str], names: tuple[str, ...]) -> str | None:
    """The text before its first ``<extLst>`` (whose content both parsers ignore), or None when
    one of ``names`` (elements both read) appears in or after it."""
    if "extLst" not in counts:
        return text
    first = _EXTENSIONS.search(text)
    assert first is not None
    rest = text[first.start():]
    if any(tags(rest, name) for name in names):
        return None
    return text[:first.start()]


def worksheet_body(text: str) -> tuple[str, Counter[str]] | None:
    """A worksheet part's text up to its extensions and its tag counts, when the scan covers it."""
    start = text.lstrip(" \t\r\n")
    if not (start.startswith("<worksheet") and start[10:11] in (" ", ">", "/", "\t", "\n", "\r")):
        return None  # a chart sheet, a prefixed root, …: the streaming parser decides
    counts = tag_counts(text)
    if _prefixed(counts, SHEET_NAMES) or "rPh" in counts:
        return None
    body = before_extensions(text, counts, ("c", "row", "mergeCell"))
    return None if body is None else (body, counts)


def inline_parts(inner: str) -> list[str] | None:
    """The texts of an inline string's runs (``<is>`` content), phonetic runs left out."""
    if _INSIDE_CELL.search(inner):
        return None
    return _run_texts(inner, _INLINE_RUNS, ("rPh",))


def _run_texts(inner: str, runs: re.Pattern[str], skips: tuple[str, ...]) -> list[str] | None:
    """Texts of the ``<t>`` elements of a string item, those inside ``skips`` elements left out;
    None unless every ``<t>`` is plain text or inside a (not nested) skipped element."""
    texts: list[str] = []
    skipped_t = spans = 0
    for match in runs.finditer(inner):
        if match.group(1) is not None:  # a skipped element: its <t> are not read
            span = match.group()
            if sum(tags(span, name) for name in skips) != 1:
                return None  # nested: the streaming parser counts depth
            spans += 1
            skipped_t += tags(span, "t")
        else:
            texts.append(xml_text(match.group(2) or ""))
    if len(texts) + skipped_t != tags(inner, "t") or spans != sum(tags(inner, name) for name in skips):
        return None
    return texts


_PLAIN_SI = re.compile(r'<si><t(?: xml:space="preserve")?>([^<]*)</t></si>')
_SST = re.compile(r"[ \t\r\n]*<sst[ \t\r\n>]")


def shared_strings(text: str, unescape) -> list[str] | None:
    """The items of a shared-strings part, each run through ``unescape``; None if not covered.

    Quickly when every item is plain text (``<si><t>…</t></si>``): the root's start and end tags
    and four tags an item then hold every ``<`` of the part (the text was checked)."""
    if _SST.match(text):
        plain = _PLAIN_SI.findall(text)
        if text.count("<") == 4 * len(plain) + 2:
            return [unescape(xml_text(item)) if "&" in item or "\r" in item or "_x" in item else item
                    for item in plain]
    counts = tag_counts(text)
    if _prefixed(counts, SHARED_NAMES):
        return None
    body = before_extensions(text, counts, ("si", "t"))
    if body is None:
        return None
    strings: list[str] = []
    seen_t = 0
    for plain, text, void, inner in _SI.findall(body):
        if plain:
            seen_t += 1
            strings.append(unescape(xml_text(text)))
            continue
        if void:
            strings.append("")
            continue
        if tags(inner, "si") or tags(inner, "extLst"):
            return None
        parts = _run_texts(inner, _SHARED_RUNS, ("rPh", "phoneticPr"))
        if parts is None:
            return None
        seen_t += tags(inner, "t")
        strings.append(unescape("".join(parts)))
    if len(strings) != counts["si"] or seen_t != counts["t"]:
        return None  # an item or a text outside the shapes above
    return strings
