"""How one figure is said in Chinese: the clause for a result row, and paragraphs.

:func:`describe` turns a :class:`~toolkit.model.ResultRow` into a clause worded like
the seed report (``科技型中小企业已备案59家，完成全年目标任务的42.14%``). The
clerk may set a 表述模板 per indicator in the master workbook; its ``{名}``
placeholders are filled from :func:`placeholders`. Without a template, or when the
template needs a value the row does not have, the default wording for the
indicator type (:data:`DEFAULT_PHRASES`) is used.

Placeholder values are bare text: numbers carry no ``%`` sign (write
``完成全年目标任务的{完成率}%``). Counts (本期完成, 年度目标, 基数, 上年同期) are
printed as reported, without trailing zeros; percentages (完成率, 比率, 序时进度,
同比, and 差距 in percentage points) with exactly the indicator's 小数位数.
``{差距}`` is a magnitude; its direction is ``{比较}`` (高于/低于/等于), so
``{比较}序时进度{差距}个百分点`` reads right either way. ``{同比}`` keeps its sign; for
a rate (``Indicator.rate_like``: 增速, 比率, 上限/下限 in %) it is a difference in
percentage points and ``{同比表述}`` says 「同比提高/回落X个百分点」.

Wording follows meaning: an upper limit exceeded reads 「超出…的控制目标X」, a lower
limit missed 「低于…的目标X」, and a 累计 whose 指标名称 names a need, plan or
application (:data:`NEED_WORDS`) is not worded as completion of a task
(「专项债券资金需求93亿元，为全年150亿元目标的62.00%」).
"""

from __future__ import annotations

import os.path
import re
from decimal import Decimal
from functools import lru_cache

from .formatting import (
    TIME_PROGRESS_PLACES,
    cn_date,
    decimal_or_none,
    format_count,
    format_number,
    format_pct,
    places_of,
)
from .indicators import shown
from .model import ResultRow

#: Every placeholder a 表述模板 may use, with what it stands for (for help texts).
PLACEHOLDERS: dict[str, str] = {
    "指标名称": "指标名称",
    "单位名称": "填报单位名称（多单位汇总行为“合计”）",
    "本期完成": "本期完成数（累计数或报送值）",
    "计量单位": "计量单位",
    "年度目标": "年度目标",
    "完成率": "完成率（百分数，不含%）",
    "序时进度": "序时进度（百分数，不含%）",
    "差距": "与序时进度或目标的差距（绝对值，百分点）",
    "比率": "比率类指标的比率（百分数，不含%）",
    "基数": "比率类指标的基数",
    "上年同期": "上年同期数",
    "同比": "同比增减，带正负号，不含%：比率、增速及以%计的上限、下限指标为百分点之差，其他为增减百分比",
    "同比表述": "如“同比上升55.26%”“同比下降3.10%”；比率、增速等百分数指标为“同比提高1.20个百分点”"
              "“同比回落0.50个百分点”；相同时为“与上年同期持平”",
    "比较": "与目标（累计类为序时进度）相比：高于、低于或等于",
    "差距表述": "如“高于目标1.2个百分点”“低于序时进度8.33个百分点”“超出控制目标7微克/立方米”“达到目标”",
    "目标表述": "与年度目标比较的完整说法，如“高于90%的目标”“低于70%的目标5.00个百分点”"
              "“超出45微克/立方米的控制目标7微克/立方米”“达到1个工作日的目标”",
    "完成状态": "节点类指标的完成状态（已完成、推进中、未启动）",
    "完成时限": "完成时限",
    "状态": "本期状态（已完成、序时推进、滞后、达标、未达标、逾期等）",
}

#: Default wording per indicator type (指标类型), in the seed report's style.
DEFAULT_PHRASES: dict[str, str] = {
    "累计": "{指标名称}{本期完成}{计量单位}，完成全年{年度目标}{计量单位}目标任务的{完成率}%",
    "比率": "{指标名称}{比率}%，{目标表述}",
    "上限": "{指标名称}{本期完成}{计量单位}，{目标表述}",
    "下限": "{指标名称}{本期完成}{计量单位}，{目标表述}",
    "增速": "{指标名称}{本期完成}%，{差距表述}",
    "节点": "{指标名称}{完成状态}",
}
#: A 累计 whose 指标名称 names a need, plan or application: its figure is no completion of a task.
NEED_WORDS = ("需求", "计划", "拟", "申报", "申请", "意向", "争取", "储备", "谋划", "预计")
#: …unless the name says it is done (``完成年度计划投资``).
DONE_WORDS = ("完成", "建成", "竣工", "到位", "落实", "实现", "发放", "开工", "投产")
#: The default wording of such a row: a share of the target, not a completion.
NEED_PHRASE = "{指标名称}{本期完成}{计量单位}，为全年{年度目标}{计量单位}目标的{完成率}%"

#: Plainer wordings tried, in order, when the default lacks a value (no target, say).
_FALLBACKS: dict[str, tuple[str, ...]] = {
    "累计": ("{指标名称}{本期完成}{计量单位}",),
    "比率": ("{指标名称}{比率}%", "{指标名称}{本期完成}{计量单位}"),
    "上限": ("{指标名称}{本期完成}{计量单位}",),
    "下限": ("{指标名称}{本期完成}{计量单位}",),
    "增速": ("{指标名称}{本期完成}%",),
    "节点": (),
}

#: Statuses for which a row has no figure to print.
_NO_FIGURE = ("未报送", "待更正")
_PCT_UNITS = ("%", "％", "百分比")

# ``{名}``; full-width braces typed with a Chinese input method count too.
_PLACEHOLDER = re.compile(r"[{｛]([^{}｛｝]*)[}｝]")
_CN_DIGITS = "零一二三四五六七八九"
_ENDS = "。！？；"
_CLOSERS = "”’」』）)》"


class _Missing(Exception):
    """A template needs a value the row does not have."""


# -- numbers and dates -------------------------------------------------------------------


_dec = decimal_or_none


def cn_numeral(n: int) -> str:
    """Chinese numeral for 1–99 (``11`` → ``十一``), as used in section headings."""
    if n <= 0 or n >= 100:
        return str(n)
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _CN_DIGITS[ones]
    head = "十" if tens == 1 else _CN_DIGITS[tens] + "十"
    return head + (_CN_DIGITS[ones] if ones else "")


# -- placeholders ------------------------------------------------------------------------


def _pct_unit(unit: str) -> bool:
    return unit.strip() in _PCT_UNITS


def _difference(row: ResultRow) -> tuple[Decimal, str, bool] | None:
    """(signed difference, what it is measured against, in percentage points?) or None."""
    ind = row.indicator
    kind = ind.kind
    if kind == "累计":
        diff = row.gap
        if diff is None and row.completion is not None and row.time_progress is not None:
            diff = row.completion - row.time_progress
        return None if diff is None else (diff, "序时进度", True)
    target = row.target
    if kind == "增速":
        diff = row.gap
        if diff is None and row.value is not None and target is not None:
            diff = row.value - target
        return None if diff is None else (diff, "目标", True)
    if kind == "比率":
        ratio = row.ratio_exact if row.ratio_exact is not None else row.ratio
        if ratio is None or target is None:
            return None
        return (ratio - target, "目标", True)
    if kind in ("上限", "下限"):
        if row.value is None or target is None:
            return None
        return (row.value - target, "目标", _pct_unit(ind.unit))
    return None


def _shown_pct(value: Decimal, decimals: int) -> str:
    """A percentage as shown: the row's places, or the more places the figure carries (99.5 for a
    row not done whose 小数位数 is 0: see toolkit.indicators.shown)."""
    if type(value) is Decimal and value.is_finite():
        text = _padded(value, decimals)
        if text is not None:
            return text
    return format_pct(value, max(decimals, places_of(value)))


def _padded(value: Decimal, places: int) -> str | None:
    """A finite ``value`` as :func:`format_pct` shows it with ``max(places, its own places)``
    (which never rounds): its digits, zeros added up to ``places``, never ``-0``. None for a
    figure of more than 20 characters (the caller takes the general way, which may need a wider
    context). A report says tens of thousands of percentages: the general way costs 4 times more."""
    if not value:
        value = value.copy_abs()
    text = format(value, "f")
    if len(text) > 20:
        return None
    point = text.find(".")
    have = len(text) - point - 1 if point >= 0 else 0
    if have < places:
        text = (text if point >= 0 else text + ".") + "0" * (places - have)
    return text


def _count_text(value: object) -> str:
    """:func:`format_count`, a finite Decimal (the usual figure) formatted without the detours."""
    if type(value) is Decimal and value.is_finite():
        return "0" if not value else format(value.normalize(), "f")
    return format_count(value)


def _yoy_phrase(yoy: Decimal, decimals: int, points: bool = False) -> str:
    """「同比上升55.26%」; for a rate (``points``) 「同比提高1.20个百分点」; 「与上年同期持平」 at zero."""
    text = _shown_pct(abs(yoy), decimals)
    if Decimal(text) == 0:
        return "与上年同期持平"
    if points:
        return f"同比{'提高' if yoy > 0 else '回落'}{text}个百分点"
    return f"同比{'上升' if yoy > 0 else '下降'}{text}%"


def is_need(ind) -> bool:
    """Whether a 累计 indicator's name names a need, plan or application (专项债券资金需求)."""
    return ind.kind == "累计" and _names_need(ind.name or "")


@lru_cache(maxsize=4096)  # the report asks it of every unit's row of an indicator
def _names_need(name: str) -> bool:
    return any(w in name for w in NEED_WORDS) and not any(w in name for w in DONE_WORDS)


def _against_target(kind: str, diff: Decimal, magnitude: str, measure: str, target: str, unit: str) -> tuple[str, str]:
    """(差距表述, 目标表述) for a level or a rate measured against its target.

    The direction is the exact ``diff``'s; ``magnitude`` is its size as shown (never 0 unless
    equal): an upper limit exceeded 「超出45微克/立方米的控制目标7微克/立方米」, one kept
    「低于4.5%的目标」; a lower limit missed 「低于70%的目标5.0个百分点」, one met 「高于90%的目标」.
    """
    if diff == 0:
        return "达到目标", f"达到{target}{unit}的目标"
    if kind == "上限" and diff > 0:
        return f"超出控制目标{magnitude}{measure}", f"超出{target}{unit}的控制目标{magnitude}{measure}"
    if kind == "上限":
        return f"低于目标{magnitude}{measure}", f"低于{target}{unit}的目标"
    if diff > 0:
        return f"高于目标{magnitude}{measure}", f"高于{target}{unit}的目标"
    return f"低于目标{magnitude}{measure}", f"低于{target}{unit}的目标{magnitude}{measure}"


def placeholders(row: ResultRow) -> dict[str, str]:
    """Text for every placeholder the row has a value for; absent keys mean “no value”."""
    ind = row.indicator
    dec = ind.decimals if ind.decimals is not None else 2
    out: dict[str, str] = {
        "指标名称": ind.name,
        "单位名称": row.unit,
        "计量单位": ind.unit or "",
    }
    for key, value in (("本期完成", row.value), ("年度目标", row.target), ("基数", row.base),
                       ("上年同期", row.last_year)):
        if value is not None:
            text = _count_text(value)  # '' exactly when it is no number
            if text:
                out[key] = text
    for key, value in (("完成率", row.completion), ("比率", row.ratio), ("同比", row.yoy)):
        if value is not None and _dec(value) is not None:
            out[key] = _shown_pct(value, dec)
    if row.time_progress is not None:  # one quantity for the round: always two places
        out["序时进度"] = _shown_pct(row.time_progress, TIME_PROGRESS_PLACES)
    yoy = _dec(row.yoy)
    if yoy is not None:
        out["同比表述"] = _yoy_phrase(yoy, dec, ind.rate_like)
    diff = _difference(row)
    if diff is not None:
        value, against, points = diff
        if points:
            # at its own places or more it is never rounded (to 0 say), so shown() is _padded's
            quick = _padded(abs(value), dec) if type(value) is Decimal and value.is_finite() else None
            if quick is not None:
                magnitude = quick
            else:
                nonzero = Decimal(0) if value != 0 else None  # never "低于目标0.00个百分点" when it is not equal
                magnitude = format_number(shown(abs(value), max(dec, places_of(value)), above=nonzero))
        else:
            magnitude = _count_text(abs(value))
        measure = "个百分点" if points else (ind.unit or "")
        if Decimal(magnitude) == 0:
            out["比较"] = "等于"
            out["差距表述"] = "达到目标" if against == "目标" else "与序时进度持平"
        else:
            word = "高于" if value > 0 else "低于"
            out["比较"] = word
            out["差距表述"] = f"{word}{against}{magnitude}{measure}"
        out["差距"] = magnitude
        if ind.kind in ("上限", "下限", "比率") and "年度目标" in out:
            unit = "%" if ind.kind == "比率" else (ind.unit or "")
            out["差距表述"], out["目标表述"] = _against_target(ind.kind, value, magnitude, measure,
                                                          out["年度目标"], unit)
    if row.state:
        out["完成状态"] = row.state
    due = ind.due_text.strip() if ind.due_text else ""
    if not due and ind.due is not None:
        due = cn_date(ind.due)
    if due:
        out["完成时限"] = due
    if row.status:
        out["状态"] = row.status
    return out


def validate_phrase(text: str) -> list[str]:
    """Unknown placeholders in a 表述模板, as written (e.g. ``["{完成量}"]``), each once."""
    unknown: list[str] = []
    for match in _PLACEHOLDER.finditer(text or ""):
        if match.group(1).strip() not in PLACEHOLDERS and match.group(0) not in unknown:
            unknown.append(match.group(0))
    return unknown


def _render(template: str, values: dict[str, str]) -> str:
    try:
        return "".join([values[name] if name else text for text, name in _pieces(template)])
    except KeyError as missing:
        raise _Missing(missing.args[0]) from None


@lru_cache(maxsize=1024)
def _pieces(template: str) -> tuple[tuple[str, str], ...]:
    """A template as (text, placeholder) pieces, parsed once: ``(text, "")`` is printed as it is
    (an unknown ``{名}`` too), ``("", name)`` is a known placeholder's value."""
    pieces: list[tuple[str, str]] = []
    at = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1).strip()
        pieces.append((template[at:match.start()], ""))
        pieces.append(("", name) if name in PLACEHOLDERS else (match.group(0), ""))
        at = match.end()
    pieces.append((template[at:], ""))
    return tuple(pieces)


def _tidy(text: str) -> str:
    return text.strip().rstrip("。；，、,;: ：").strip()


@lru_cache(maxsize=4096)  # a province's units, named in every lagging part
def short_unit_name(name: str) -> str:
    """How the report names a unit in running text: ``卢氏县人民政府`` → ``卢氏县``."""
    name = (name or "").strip()
    short = re.sub(r"人民政府$", "", name)
    return short if len(short) >= 2 else name


def describe(row: ResultRow, *, default: bool = False, values: dict[str, str] | None = None) -> str:
    """The clause for one row, e.g. ``开（复）工率95.48%``; ``""`` when there is no figure.

    The indicator's 表述模板 is used when it has every value it names (unless
    ``default``: one unit's part of a 合计 must not borrow a city-wide “全市…”
    wording); otherwise the default wording for the indicator type, then plainer
    ones. A 同比 the wording does not mention is appended; a 合计 that misses some
    units' parts says so. ``values``: the row's :func:`placeholders`, when the caller has them.
    """
    if row.status in _NO_FIGURE and not row.undecided:
        return ""
    ind = row.indicator
    if values is None:
        values = placeholders(row)
    phrase = ind.phrase.strip() if ind.phrase else ""
    candidates: list[str] = []
    if phrase and not default:
        candidates.append(phrase)
    kind = ind.kind if ind.kind in DEFAULT_PHRASES else "累计"
    candidates.append(NEED_PHRASE if is_need(ind) else DEFAULT_PHRASES[kind])
    candidates.extend(_FALLBACKS.get(kind, ()))
    text = used = ""
    for template in candidates:
        is_default = template != phrase
        try:
            text = _tidy(_render(template, _default_values(kind, values) if is_default else values))
        except _Missing:
            continue
        used = template
        break
    if not text:
        return ""
    if "同比表述" in values and "同比" not in used:
        text += "，" + values["同比表述"]
    if row.is_total and row.missing_parts:
        text += f"（不含{'、'.join(short_unit_name(u) for u in row.missing_parts)}数据）"
    return tidy_punctuation(text)


#: How the default wording says a 节点's state after its name (“…推进中” reads as a fragment).
_NODE_WORDING = {"推进中": "正在推进", "未启动": "尚未启动"}


def _default_values(kind: str, values: dict[str, str]) -> dict[str, str]:
    """Placeholder values as the default wordings want them (a clerk's template gets them raw):
    ``values`` itself when they need no change (read it only)."""
    if values.get("比较") != "等于" and (kind != "节点" or values.get("完成状态") not in _NODE_WORDING):
        return values
    out = dict(values)
    if kind == "节点" and out.get("完成状态") in _NODE_WORDING:
        out["完成状态"] = _NODE_WORDING[out["完成状态"]]
    if out.get("比较") == "等于":
        out["比较"] = "达到"  # “等于1个工作日的目标” → “达到1个工作日的目标”
    return out


# -- punctuation --------------------------------------------------------------------------

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_FULL_MARKS = "，。、；：？！“”‘’（）《》〈〉【】〔〕「」『』…—"
_HAN_OR_MARK = f"[{_HAN}{_FULL_MARKS}]"
_FULL_WIDTH = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "％": "%"})
_HALF_MARKS = str.maketrans({"(": "（", ")": "）", ";": "；", "?": "？", "!": "！"})


def tidy_punctuation(text: str) -> str:
    """Chinese text with Chinese punctuation, as the seed prints it.

    Half-width ``, ( ) ; : ? !`` become full-width (``1,816`` and ``9:30`` stay),
    a ``.`` after a Chinese character becomes ``。``, full-width digits, decimal
    points and ``％`` become ASCII, spaces next to Chinese characters go (``435.5 亿元`` →
    ``435.5亿元``), and doubled or clashing marks are merged (``，。`` → ``。``).
    Text without Chinese characters is returned unchanged.
    """
    return _tidied(text)[0]


@lru_cache(maxsize=8192)  # the report tidies the same sentences several times over
def _tidied(text: str) -> tuple[str, bool]:
    """:func:`tidy_punctuation`'s text, and whether it is *settled*: Chinese with nothing any rule
    acts on, neither a character (``,`` ``．`` a space…) nor two side by side (``，。`` ``中.``).

    Every rule acts on one character or on two side by side, so text joined from settled
    pieces is settled wherever the pieces meet well (:func:`_seam_settled`): :func:`join_clauses`
    then need not tidy a province's paragraph again."""
    # Each rule runs only when the text holds the character it acts on: the report tidies
    # every sentence of every department several times over.
    # A rule whose pattern opens with a lookbehind or a common mark (，) tries a match at every
    # character; its hint opens with a rare one, on the reversed text where the rule looks back.
    if not text or not _HAN_RE.search(text):
        return text, False
    if not _LONE_MARK_RE.search(text) and not _marks_meet(text):
        return text, True  # most sentences (one scan and a look at each 。 instead of a dozen hints)
    found = False
    odd = _ODD_CHARS_RE.search(text)  # no rule before the half marks' makes one of these
    if odd and _FULL_WIDTH_RE.search(text):
        text, found = text.translate(_FULL_WIDTH), True
    if "．" in text:
        text, found = _FULL_POINT_RE.sub(".", text), True
    if " " in text or "\t" in text or "\u3000" in text:
        text, found = _SPACES_RE.sub("", text), True
        if " " in text:
            text = _SPACE_PERCENT_RE.sub("", text)
    if "," in text:
        text, found = _COMMA_RE.sub("，", text), True
    if ":" in text:
        text, found = _COLON_RE.sub("：", text), True
    if odd and _HALF_MARKS_RE.search(text):
        text, found = text.translate(_HALF_MARKS), True
    if "." in text and _STOP_HINT_RE.search(text[::-1]):
        text, found = _STOP_RE.sub("。", text), True
    if ("。" in text or "！" in text or "？" in text) and _END_HINT_RE.search(text):
        if _BEFORE_END_HINT_RE.search(text[::-1]):
            text, found = _BEFORE_END_RE.sub("", text), True
        if _AFTER_END_HINT_RE.search(text):
            text, found = _AFTER_END_RE.sub("", text), True
        if "。。" in text:
            text, found = _STOPS_RE.sub("。", text), True
    if "，，" in text or "、、" in text or "；；" in text:
        text, found = _DOUBLED_RE.sub(r"\1", text), True
    return text, not found


#: Every character some rule of :func:`_tidied` acts on alone (its hints look for no other).
_LONE_MARK_RE = re.compile("[０-９％．,:();?!. \t\u3000]")


def _marks_meet(text: str) -> bool:
    """Whether two marks that a rule of :func:`_tidied` merges or drops meet in ``text`` (``，。``
    ``。，`` ``。。`` ``，，``…); True for any ！ or ？ (rare: the rules look for themselves)."""
    if "！" in text or "？" in text:
        return True
    last = len(text) - 1
    at = text.find("。")
    while at >= 0:
        if (at and text[at - 1] in "，、；：,") or (at < last and text[at + 1] in "，、；。"):
            return True
        at = text.find("。", at + 1)
    return "，，" in text or "、、" in text or "；；" in text


_MARKS_MEETING = "，、；：。！？"  # two of these side by side may be merged or dropped


def _seam_settled(pair: str) -> bool:
    """Whether two characters side by side (the end of one settled piece of text and the start of
    the next) give no rule of :func:`tidy_punctuation` anything to act on."""
    return len(pair) < 2 or (pair[1] != "." and not (pair[0] in _MARKS_MEETING and pair[1] in _MARKS_MEETING))


_HAN_RE = re.compile(f"[{_HAN}]")
_FULL_WIDTH_RE = re.compile("[０-９％]")
_FULL_POINT_RE = re.compile(r"(?<=[0-9])．(?=[0-9])")
_SPACES_RE = re.compile(rf"[ \t\u3000]+(?={_HAN_OR_MARK})|(?<={_HAN_OR_MARK})[ \t\u3000]+")
_SPACE_PERCENT_RE = re.compile(r"(?<=[0-9]) +(?=[%％])")
_COMMA_RE = re.compile(r",(?![0-9])|(?<![0-9]),")
_COLON_RE = re.compile(r":(?![0-9])|(?<![0-9]):")
_HALF_MARKS_RE = re.compile(r"[();?!]")
_STOP_RE = re.compile(rf"(?<=[{_HAN}）》”])\.(?![0-9])")
_BEFORE_END_RE = re.compile(r"[，、；：,]+(?=[。！？])")
_AFTER_END_RE = re.compile(r"(?<=[。！？])[，、；]+")
_STOPS_RE = re.compile(r"。{2,}")
_DOUBLED_RE = re.compile(r"([，、；])\1+")
_ODD_CHARS_RE = re.compile("[０-９％();?!]")  # what _FULL_WIDTH_RE or _HALF_MARKS_RE finds, in one scan
_END_HINT_RE = re.compile("[。！？](?:(?<=[，、；：,][。！？])|[，、；]|。)")  # a mark next to 。！？, or 。。
_STOP_HINT_RE = re.compile(rf"\.[{_HAN}）》”]")  # reversed: a . after a Chinese character
_BEFORE_END_HINT_RE = re.compile("[。！？][，、；：,]")  # reversed: a mark before 。！？
_AFTER_END_HINT_RE = re.compile("[。！？][，、；]")


# -- one department's sentence taking in the generated figure ------------------------------

# A figure: digits not run on from a name (PM2.5, 5G): (?<![0-9A-Za-z.])[0-9]+(?:\.[0-9]+)?(?![0-9A-Za-z]|\.[0-9]).
# Written with its first digit ahead of the look back (over that digit and the one character before
# it), the same matches: a pattern that opens with a character class skips to where one can start,
# one that opens with a look back tries every character (a narrative scanned 3 times faster).
_NUMBER = re.compile(r"[0-9](?<![0-9A-Za-z.][0-9])[0-9]*(?:\.[0-9]+)?(?![0-9A-Za-z]|\.[0-9])")
_SCALES = (("亿", Decimal(10) ** 8), ("万", Decimal(10) ** 4))
_OPEN = "（(《“‘「『〔【"
_SHUT = "）)》”’」』〕】"
_CLAUSE_ENDS = "，,。；;！？!?\n"
_NO_UNIT = "，,。；;！？!?、：:（(）)\n\t "
_CONTINUES = ("已", "累计", "共", "年度", "本年度", "今年", "全年", "目前", "截至")
#: Ends of a subject a second sentence may share with the first (国道209…新建工程 | 年度累计完成投资…).
_SUBJECT_ENDS = ("工程", "项目", "基地", "园区", "产业园", "公司", "中心", "平台", "大桥", "高速", "铁路", "街区",
                 "集群", "医院", "学校", "公园", "博物馆")
_UNIT_AFTER = re.compile(f"[^{re.escape(_NO_UNIT)}0-9]{{0,6}}")  # always matches (possibly empty)


#: A number in Chinese numerals counts as a figure only before one of these measure words
#: (``一个工作日``, ``三千五百亩``), never as an ordinal (``第一批``) or in a word (``进一步``, ``统一``).
_CN_MEASURES = "个项家人名所座条台次户亩万亿元吨"
_CN_NUMBER = re.compile(  # (?<![第…〇])[…〇][…〇]*(?=[个…吨]), its first numeral ahead of the look back (see _NUMBER)
    f"[{_CN_DIGITS}十两〇](?<![第{_CN_DIGITS}十百千两〇].)[{_CN_DIGITS}十百千两〇]*(?=[{_CN_MEASURES}])"
)
_CN_VALUES = {**{c: i for i, c in enumerate(_CN_DIGITS)}, "两": 2, "〇": 0}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


def cn_number(text: str) -> Decimal | None:
    """A whole number below ten thousand in Chinese numerals: 一 → 1, 十二 → 12, 三千五百 → 3500, 二〇二一 → 2021."""
    if not text:
        return None
    if all(c in _CN_VALUES for c in text):
        if len(text) == 1:
            return Decimal(_CN_VALUES[text])
        return Decimal("".join(str(_CN_VALUES[c]) for c in text))
    total, digit = 0, None
    for ch in text:
        if ch in _CN_VALUES:
            if digit is not None and digit != 0:
                return None  # two digits without a unit between them (三五百)
            digit = _CN_VALUES[ch]
        elif ch in _CN_UNITS:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            return None
    return Decimal(total + (digit or 0))


def _numbers(text: str, *, words: bool = False) -> list[tuple[int, int, Decimal]]:
    """(start, end, value) of each figure in ``text``; digits inside names (PM2.5, 5G) are not figures.

    ``words`` also finds figures written in Chinese numerals before a measure word
    (``一个工作日`` → 1, ``三千五百亩`` → 3500), in text order.
    """
    found = [(m.start(), m.end(), Decimal(m.group())) for m in _NUMBER.finditer(text)]
    if words:
        for m in _CN_NUMBER.finditer(text):
            value = cn_number(m.group())
            if value is not None:
                found.append((m.start(), m.end(), value))
        found.sort()
    return found


def _depth(text: str, pos: int) -> int:
    depth = 0
    for ch in text[:pos]:
        if ch in _OPEN:
            depth += 1
        elif ch in _SHUT and depth:
            depth -= 1
    return depth


def _unit_forms(value: Decimal, unit: str) -> list[tuple[Decimal, str]]:
    """The same quantity written in other scales: 1.4255万人 is 14255人, 0.22亿元 is 2200万元."""
    forms = [(value, unit)]
    if unit == "%":
        return forms
    scale = next(((p, f) for p, f in _SCALES if unit.startswith(p) and len(unit) > 1), None)
    base, factor = (unit[1:], scale[1]) if scale else (unit, Decimal(1))
    plain = value * factor
    for prefix, size in (("", Decimal(1)), *_SCALES):
        form = (plain / size, prefix + base)
        if form not in forms and (prefix or base):
            forms.append(form)
    return forms


_CLAUSE_MARK_RE = re.compile(r"[，,；;。！？\n]")  # a passage of more than one clause


class Passage:
    """A department's 进展情况 that may take in the generated figure saying the same thing.

    ``Passage("累计完成投资435.5亿元。").absorb("累计完成投资435.5亿元，占年度计划的47.82%", 435.5)``
    finds 435.5亿元 in the department's words and adds what the figure adds, where
    the clause about it ends: ``累计完成投资435.5亿元，占年度计划的47.82%。``. The same
    quantity in another scale counts (``14255人`` for ``1.4255万人``); a figure whose
    every number the passage already gives is simply dropped. Several figures taken in
    at one place keep their order. With ``generated=True`` the passage is itself a
    generated clause: what it takes in goes at its end.
    """

    def __init__(self, text: str, *, generated: bool = False):
        self.text, settled = _tidied((text or "").strip())
        #: ``text`` is a text :func:`tidy_punctuation` leaves as it is (it need not be tidied again)
        self.tidied = settled
        self.generated = generated
        self._inserts: dict[int, list[str]] = {}
        self._suffix: list[str] = []

    @property
    def settled(self) -> bool:
        """Whether :meth:`render` gives a text :func:`tidy_punctuation` leaves as it is."""
        return self.tidied and not self._inserts and not self._suffix

    def render(self) -> str:
        if not self._inserts and not self._suffix:
            return self.text  # most passages take nothing in
        out: list[str] = []
        prev = 0
        for pos in sorted(self._inserts):
            out.append(self.text[prev:pos])
            out.extend(self._inserts[pos])
            prev = pos
        out.append(self.text[prev:])
        text = "".join(out)
        if self._suffix:
            text = text.rstrip("。；，、 ") + "".join(self._suffix)
        return text

    def __str__(self) -> str:
        return self.render()

    def _anchor(self, forms: list[tuple[Decimal, str]]) -> tuple[int, int] | None:
        """(start, end) of the quantity in this passage, outside brackets and quotes."""
        if not any(unit and unit in self.text for _, unit in forms):
            return None  # not written in any of its units (most passages: no need to find their figures)
        for start, end, number in _numbers(self.text, words=True):  # 一个工作日 is 1个工作日
            for value, unit in forms:
                if unit and number == value and self.text.startswith(unit, end) and not _depth(self.text, start):
                    return start, end + len(unit)
        return None

    def _clause_end(self, pos: int) -> int | None:
        """Where the clause holding ``pos`` ends; None inside an enumeration (``5家、注销9家``)."""
        text = self.text
        if self.generated:
            return len(text)
        depth = 0
        for i in range(pos, len(text)):
            ch = text[i]
            if ch in _OPEN:
                depth += 1
            elif ch in _SHUT:
                depth = max(depth - 1, 0)
            elif depth == 0 and ch in _CLAUSE_ENDS:
                return i
            elif depth == 0 and ch == "、":
                return None
        return len(text)

    def absorb(self, clause: str, value, unit: str = "", *, strict: bool = False, settled: bool = False) -> bool:
        """Take in ``clause`` (the generated wording of ``value``); False when it says something else.

        ``strict`` (for a passage written about another indicator) also wants the two
        characters before the number to agree (``人工造林19.83万亩`` in both), so that
        an equal number about something else is not taken for it. ``settled``: the caller
        knows ``clause`` to be a text :func:`tidy_punctuation` leaves as it is (:attr:`settled`).
        """
        number = _dec(value)
        clause = (clause if settled else tidy_punctuation((clause or "").strip())).rstrip("。；")
        if number is None or not clause or not self.text:
            return False
        figures = _numbers(clause)
        anchor = None
        for start, end, found in figures:
            if found != number:
                continue
            after = _UNIT_AFTER.match(clause, end)
            said = unit if unit and clause.startswith(unit, end) else (after.group() if after else "")
            if said:
                anchor = (start, end + len(said), said)
                break
        if anchor is None:
            return False
        start, head_end, said = anchor
        place = self._anchor(_unit_forms(number, said))
        if place is None:
            return False
        if strict and (start < 2 or clause[start - 2:start] != self.text[max(place[0] - 2, 0):place[0]]):
            return False
        known = {n for _, _, n in _numbers(self.render())}
        if any(n not in known for s, _, n in figures if s < start):
            return False  # the figure's own lead-in says more than the passage
        tail = clause[head_end:].strip()
        if not tail.strip("，,、；;：: "):
            return True
        later = {n for _, _, n in _numbers(self.text[place[1]:])}
        later.add(number)  # 「达到1个工作日的目标」 after 「一个工作日内」 says nothing new
        later.update(n for tails in self._inserts.values() for t in tails for _, _, n in _numbers(t))
        tail_numbers = [n for _, _, n in _numbers(tail)]
        if tail_numbers and all(n in later for n in tail_numbers):
            return True
        if tail.lstrip("，、；") in self.render():
            return True
        pos = self._clause_end(place[1])
        if pos is None:
            return False
        if tail[0] not in "，、；（":
            tail = "，" + tail
        self._inserts.setdefault(pos, []).append(tail)
        return True

    def restates(self, value, unit: str = "") -> bool:
        """Whether the passage is one clause whose only figure is ``value`` (``灵宝市完成人工造林5.62万亩。``)."""
        number = _dec(value)
        body = self.text.rstrip("。！？；")
        if number is None or not body or _CLAUSE_MARK_RE.search(body):
            return False
        figures = _numbers(body)
        forms = _unit_forms(number, unit.strip()) if unit.strip() else [(number, "")]
        return len(figures) == 1 and any(figures[0][2] == v for v, _ in forms)

    def continue_with(self, clause: str, *, settled: bool = False) -> bool:
        """Run ``clause`` on from the last sentence when both name the same subject.

        ``灵宝市现代农业产业园项目全面开工`` + ``灵宝市现代农业产业园项目已累计完成投资19.87亿元``
        → ``灵宝市现代农业产业园项目全面开工，已累计完成投资19.87亿元``; and a long subject
        ending like a name (…工程, …项目) is said once: ``国道209…新建工程累计完成投资约5.81亿元…``
        + ``国道209…新建工程年度累计完成投资约0.776亿元…`` → ``…，年度累计完成投资约0.776亿元…``.
        ``settled`` as for :meth:`absorb`.
        """
        clause = (clause if settled else tidy_punctuation((clause or "").strip())).rstrip("。；")
        text = self.render()
        if clause[:4] not in text:
            return False  # the last sentence cannot open with it either (most clauses)
        body = text.rstrip("。；，、 ")
        last = body[max(body.rfind("。"), body.rfind("！"), body.rfind("？"), body.rfind("\n")) + 1:]  # the last sentence
        last = last[2:] if last.startswith("其中") and not clause.startswith("其中") else last
        if last[:4] != clause[:4]:
            return False  # no subject of four characters or more in common (most sentences)
        shared = len(os.path.commonprefix([last, clause]))
        for size in range(min(shared, len(last) - 1), 3, -1):  # back off to where a word starts
            rest = clause[size:]
            if not rest:
                continue
            if rest.startswith(_CONTINUES) and (size >= 6 or rest.startswith("已")):
                break
            if size >= 8 and last[:size].endswith(_SUBJECT_ENDS):
                break
        else:
            return False
        if rest in last:
            return False  # it says nothing the sentence has not said
        self._suffix.append("，" + rest)
        return True


# -- paragraphs --------------------------------------------------------------------------

#: Where a sentence ends: after 。！？ unless a closing quote or bracket, or another end, follows.
_SENTENCE_END = re.compile(r"[。！？](?![”’」』）)》。！？])")


def _sentences(text: str) -> list[str]:
    """``text`` cut after each sentence's end (found from the end marks: a split on the
    zero-width place would try a match at every character)."""
    out: list[str] = []
    at = 0
    if "！" in text or "？" in text:
        for match in _SENTENCE_END.finditer(text):
            out.append(text[at:match.end()])
            at = match.end()
    else:  # the usual text: its 。 looked up directly (_SENTENCE_END tests every character)
        end = text.find("。") + 1
        while end:
            if text[end:end + 1] not in _NO_CUT:
                out.append(text[at:end])
                at = end
            end = text.find("。", end) + 1
    out.append(text[at:])
    return out


_NO_CUT = frozenset("”’」』）)》。！？")  # after 。, these keep the sentence going (see _SENTENCE_END)


def _close(text: str) -> str:
    """One sentence or clause ending in proper Chinese punctuation."""
    text = text.strip().rstrip("，,、:： \t")
    if not text:
        return ""
    if text[-1] in ".;!?":
        text = text[:-1] + {".": "。", ";": "；", "!": "！", "?": "？"}[text[-1]]
    if text[-1] in _ENDS:
        return text
    stripped = text.rstrip(_CLOSERS)
    if stripped != text and stripped and stripped[-1] in _ENDS:
        return text  # 。” already ends the sentence
    return text + "。"


def _add_sentences(text: str, seen: set[str], out: list[str], keys: list[str] | None = None,
                   plain: bool = False) -> None:
    """The sentences of ``text`` not ``seen`` yet, added to ``out`` (and their
    :func:`_sentence_key` to ``keys``; ``plain``: ``text`` holds none of ``,();:``)."""
    for sentence in _sentences(text):
        sentence = sentence.strip()
        key = sentence.rstrip(_KEY_ENDS)
        if not key or key in seen:
            continue
        seen.add(key)
        out.append(sentence)
        if keys is not None:
            keys.append(key if plain else _comma_key(key))


_KEY_ENDS = _ENDS + _CLOSERS


def _sentence_key(sentence: str) -> str:
    return _comma_key(sentence.rstrip(_KEY_ENDS))


def _comma_key(key: str) -> str:
    if "," in key or "(" in key or ")" in key or ";" in key or ":" in key:  # rare: not worth a regex's scan
        return key.translate(_COMMA_FORMS)
    return key


_COMMA_FORMS = str.maketrans({",": "，", "(": "（", ")": "）", ";": "；", ":": "："})


def _drop_subsumed(sentences: list[str], keys: list[str] | None = None) -> list[str]:
    """Drop a sentence that another one repeats and extends.

    A department's "科技型中小企业已备案59家" is said again, with more, by the
    generated "科技型中小企业已备案59家，完成全年目标任务的42.14%": keep the latter.
    ``keys``: the sentences' :func:`_sentence_key`, when the caller has them.
    """
    if keys is None:
        keys = [_sentence_key(s) for s in sentences]
    # Every key extending ``key`` sorts in one block right after it, so looking at the next
    # distinct key in sorted order is enough: n log n instead of comparing every pair (a
    # province's category paragraph gathers thousands of sentences).
    distinct = sorted(set(keys))
    extended = {key for key, after in zip(distinct, distinct[1:], strict=False) if after.startswith(key)}
    return [sentence for sentence, key in zip(sentences, keys, strict=True) if not key or key not in extended]


def join_clauses(parts: list[str]) -> str:
    """Join sentences and clauses into one Chinese paragraph.

    Parts are stripped, empty ones dropped, each ends with 。 unless it already ends
    with 。！？；, a sentence already said is not said again, and no 。。 remains.
    Parts may be :class:`Passage` objects. Punctuation is made Chinese
    (:func:`tidy_punctuation`).
    """
    seen: set[str] = set()
    out: list[str] = []
    keys: list[str] = []
    settled = True  # every sentence in ``out`` is
    for part in parts:
        if part is None:
            continue
        for line in str(part).splitlines():
            text, done = _tidied(line)
            if not done and settled and text is not line:  # tidied just now: settled by that?
                done = _tidied(text)[1]
            closed = _close(text)
            if closed:  # (a blank line says nothing)
                settled = settled and done and _seam_settled(closed[-2:])  # _close may end it anew
                # settled text holds no mark a key translates (_LONE_MARK_RE), nor does _close add one
                _add_sentences(closed, seen, out, keys, done)
    kept = _drop_subsumed(out, keys)
    joined = "".join(kept)
    if settled:  # and every two sentences meet well (_seam_settled; a kept sentence is never empty)
        for a, b in zip(kept, kept[1:], strict=False):
            if b[0] == "." or (a[-1] in _MARKS_MEETING and b[0] in _MARKS_MEETING):
                settled = False
                break
    if settled:
        return joined  # what tidy_punctuation would return: nothing in it for any rule to act on
    return tidy_punctuation(joined)
