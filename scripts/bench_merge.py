#!/usr/bin/env python3
"""Benchmark: a province-sized merge against the cost of reading and writing the data once.

Generates (and caches) a realistic large workspace, then measures on the same files,
each measurement in its own child process (wall seconds and peak memory):

* 下限 (floor): every return read with python-calamine into Python values and the same
  cells written once into one workbook with xlsxwriter in constant-memory mode;
* 朴素做法 (naive): the same with openpyxl's normal load and save;
* 完整合并 (merge): ``python -m toolkit merge -w … -r …`` — check, archive, feedback,
  merge and all outputs, Word report included — on a fresh copy of the workspace;
* 重跑 (rerun): the same command again with nothing new in the inbox.

The workspace: a registry of 500 indicators in 10 categories; each indicator is reported
by about 40·N/500 of the N units (80 at N = 1,000), 累计 targets split per unit in
目标分解, so that every unit reports 40 rows spread over the categories; 100–300 characters
of Chinese progress text per row; about one return in ten carries a typical mistake or
a missing contact (so it gets a feedback file), a few arrive late, and some returns are
re-saved by LibreOffice when ``soffice`` is installed (bounded by ``--resaved``).
Returns are written by the toolkit's own ``write_template`` with the input cells typed
in as it writes (no openpyxl pass), so 2,000 returns take well under a minute.

Usage::

    python scripts/bench_merge.py --n 1000            # one size
    python scripts/bench_merge.py --n 1000 2000       # two sizes: also time(2N)/time(N)
    python scripts/bench_merge.py --n 1000 --scale    # N and 2N
    python scripts/bench_merge.py --n 20 --keep /tmp/b  # keep the workspaces that were merged

Generated workspaces are cached by their parameters (``--cache``, default
``$TMPDIR/ducha-bench``), so repeated runs do not regenerate them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Bump when the generated workspace changes, so cached ones are not reused.
GENERATOR_VERSION = "2"
ROUND = "2021-04"
PREVIOUS = "2021-03"
CUTOFF, DEADLINE = date(2021, 4, 30), date(2021, 5, 8)
NOW = "2021-05-13 09:00"
INDICATORS = 500
CATEGORIES = 10
ROWS_PER_UNIT = 40
STEP = 13  # consecutive slots map to indicators STEP apart: every unit reports in every category

CATEGORY_TITLES = [
    ("一、创新驱动", "一、深入实施创新驱动发展战略，奋力打造郑洛西高质量发展合作带重要支撑区"),
    ("二、经济发展", "二、坚持稳中求进，推动经济高质量发展"),
    ("三、乡村振兴", "三、全面推进乡村振兴，加快农业农村现代化"),
    ("四、城市建设", "四、提升城市品质，推进以人为核心的新型城镇化"),
    ("五、改革开放", "五、深化改革开放，持续优化营商环境"),
    ("六、生态环境", "六、坚持生态优先，推动黄河流域生态保护和高质量发展"),
    ("七、社会民生", "七、增进民生福祉，办好人民满意的民生实事"),
    ("八、文化旅游", "八、繁荣文化事业和文化产业，建设文旅强市"),
    ("九、安全发展", "九、统筹发展和安全，守牢安全生产底线"),
    ("十、政府建设", "十、加强政府自身建设，提升治理能力和水平"),
]
PLACES = [
    "湖滨", "陕州", "义马", "灵宝", "渑池", "卢氏", "城乡一体化示范", "经济开发", "高新技术", "产业集聚",
    "函谷", "崤山", "故县", "朱阳", "五亩", "官道口", "杜关", "双龙湾", "张村", "观音堂",
    "英豪", "南村", "仰韶", "天池", "果园", "陈村", "洪阳", "段村", "千秋", "天坛",
    "焦村", "阳平", "豫灵", "苏村", "寺河", "大王", "川口", "尹庄", "城关", "阳店",
]
AGENCIES = [
    "人民政府", "发展和改革委员会", "科学技术局", "工业和信息化局", "财政局", "人力资源和社会保障局",
    "自然资源局", "生态环境局", "住房和城乡建设局", "交通运输局", "水利局", "农业农村局", "商务局",
    "文化广电和旅游局", "卫生健康委员会", "应急管理局", "市场监督管理局", "统计局", "林业局",
    "行政审批服务局", "城市管理局", "教育局", "民政局", "审计局", "医疗保障局", "退役军人事务局",
    "乡村振兴局", "粮食和物资储备局", "大数据管理局", "地方金融监督管理局", "招商局", "能源局",
    "文物局", "体育局", "信访局", "司法局", "公安局", "税务局", "供电公司", "投资集团",
    "城投公司", "交投公司", "水务公司", "融媒体中心", "职业技术学院", "中心医院", "妇幼保健院",
    "气象局", "邮政管理局", "住房公积金中心",
]
TASK_VERBS = ["加快推进", "全面实施", "持续深化", "着力提升", "统筹推进", "大力发展", "扎实开展", "积极培育"]
TASK_OBJECTS = [
    "科技创新平台建设", "先进制造业集群培育", "重点项目建设", "高标准农田建设", "老旧小区改造",
    "营商环境综合改革", "黄河生态廊道建设", "城乡居民增收行动", "全域旅游示范区创建", "安全生产专项整治",
    "数字政府建设", "县域经济高质量发展", "农村人居环境整治", "招商引资和项目落地", "义务教育优质均衡",
]
MEASURES = [
    ("家", 40, 400), ("万元", 2000, 50000), ("个", 5, 80), ("亿元", 2, 60), ("公里", 10, 300),
    ("万亩", 1, 30), ("人", 200, 5000), ("套", 100, 3000), ("项", 3, 60), ("万平方米", 5, 120),
]
SENTENCES = [
    "今年以来，我单位坚持把该项工作作为全年重点任务，主要领导亲自调度、分管领导靠前指挥",
    "成立了工作专班，制定了年度推进方案，明确了时间表、路线图和责任人",
    "截至目前，已完成年度目标任务的阶段性进度，各项工作有序推进",
    "建立周调度、月通报工作机制，定期召开推进会，及时协调解决项目建设中遇到的困难和问题",
    "累计完成投资稳步增长，重点项目开工率和投资完成率均高于去年同期水平",
    "积极对接省直有关部门，争取上级资金和政策支持，项目前期手续已基本办结",
    "深入基层开展调研督导，逐项梳理问题清单、任务清单和责任清单，实行销号管理",
    "强化要素保障，用地、用能、资金等要素向重点项目倾斜，确保项目早开工、早建成、早见效",
    "组织开展专项培训两期，参训人员三百余人次，干部队伍业务能力进一步提升",
    "加强宣传引导，通过政务网站、微信公众号等平台发布信息二十余条，营造了良好氛围",
    "与相关县（市、区）建立协同推进机制，形成了上下联动、部门协作的工作格局",
    "受原材料价格上涨和疫情防控影响，个别项目施工进度略有滞后，已督促施工单位倒排工期",
    "下一步将继续加大督导力度，确保按时保质完成全年目标任务",
    "一季度实现良好开局，二季度各项指标保持稳中有进的态势",
    "对照年度目标逐月分解任务，压实工作责任，对进度滞后的单位进行约谈提醒",
    "完善考核激励办法，把工作推进情况纳入年度目标考核，充分调动各方积极性",
]
PROBLEMS = ["项目资金到位不及时，部分配套资金缺口较大", "专业技术人才短缺，项目推进力量不足",
            "个别项目前期手续办理周期较长", "受季节性因素影响，施工进度有所放缓", "基层统计口径不统一，数据报送不够及时"]
PLANS = ["加强与上级部门沟通对接，积极争取资金支持", "倒排工期、挂图作战，确保按期完成", "强化督导检查，及时解决突出问题",
         "优化审批流程，压缩办理时限", "加强统计业务培训，提高数据质量"]


def unit_names(n: int) -> list[str]:
    """n distinct, plausible unit names (place + agency)."""
    out = []
    for i in range(n):
        agency = AGENCIES[i % len(AGENCIES)]
        place = PLACES[(i // len(AGENCIES)) % len(PLACES)]
        lap = i // (len(PLACES) * len(AGENCIES))
        out.append(f"{place}{agency}" if not lap else f"{place}第{lap + 1}片区{agency}")
    return out


def assignment(n: int) -> list[list[int]]:
    """Unit index lists per indicator: slot s = 40·u + j of unit u goes to indicator (s mod 500)·STEP mod 500."""
    reporters: list[list[int]] = [[] for _ in range(INDICATORS)]
    for u in range(n):
        for j in range(ROWS_PER_UNIT):
            reporters[((u * ROWS_PER_UNIT + j) % INDICATORS) * STEP % INDICATORS].append(u)
    return reporters


def master_rows(n: int, seed: int) -> tuple[list[dict], list[tuple[str, str, float]], list[str]]:
    """(indicator rows as tests/factories.py takes them, 目标分解 rows, unit names)."""
    from tests.factories import indicator_row

    rng = random.Random(seed)
    names = unit_names(n)
    reporters = assignment(n)
    rows: list[dict] = []
    splits: list[tuple[str, str, float]] = []
    kinds = ["累计"] * 6 + ["比率", "增速", "节点"] + [rng.choice(["上限", "下限"])]
    for i in range(INDICATORS):
        cat, pos = divmod(i, INDICATORS // CATEGORIES)
        sheet = CATEGORY_TITLES[cat][0]
        task, sub = divmod(pos, 5)
        kind = kinds[(i * 7) % len(kinds)]
        who = [names[u] for u in reporters[i]] or [names[i % n]]
        code = f"{cat + 1}-{task + 1}-{sub + 1}"
        first = sub == 0
        task_no = f"{cat + 1}-{task + 1}" if first else ""
        task_text = (f"{TASK_VERBS[(cat + task) % len(TASK_VERBS)]}{TASK_OBJECTS[(cat * 3 + task) % len(TASK_OBJECTS)]}，"
                     f"推动{CATEGORY_TITLES[cat][0][2:]}工作提质增效" if first else "")
        unit_word, lo, hi = MEASURES[i % len(MEASURES)]
        target: object = None
        due = ""
        phrase = ""
        if kind == "累计":
            parts = [rng.randint(lo, hi) for _ in who]
            target = sum(parts)
            if len(who) > 1:
                splits.extend((code, name, float(part)) for name, part in zip(who, parts, strict=True))
            phrase = "已完成{本期完成}" + unit_word + "，完成年度目标的{完成率}%" if i % 3 == 0 else ""
        elif kind == "比率":
            unit_word, target = "%", rng.choice([90, 95, 98])
        elif kind == "增速":
            unit_word, target = "%", rng.choice([6.5, 7, 7.5, 8])
        elif kind == "上限":
            unit_word, target = "%", rng.choice([3.5, 4.5, 5])
        elif kind == "下限":
            unit_word, target = "%", rng.choice([90, 94, 96])
        else:
            unit_word, due = "", rng.choice(["6月底", "9月底", "12月底", "3月底"])
        rows.append(indicator_row(
            sheet, task_no, task_text, who[0] if first else "", code,
            f"{TASK_OBJECTS[(i * 5) % len(TASK_OBJECTS)][:6]}{['完成', '推进', '新增', '实现'][i % 4]}指标{i + 1}",
            kind, unit_word, target, due=due, reporters="、".join(who), decimals=1 if kind == "增速" else 2,
            phrase=phrase))
    return rows, splits, names


# ---------------------------------------------------------------------------------------
# returns: the toolkit's own template writer, with the input cells typed in as it writes

@dataclass
class Plan:
    """What one department types: {指标编号: {column: value}}, its contact, where it goes."""

    unit_index: int
    values: dict[str, dict[str, object]] = field(default_factory=dict)
    contact: tuple[str, str] = ("", "")
    received: datetime = datetime(2021, 5, 7, 10, 0)
    file_name: str = ""


_PLAN: Plan | None = None


def _filling_classes():
    import xlsxwriter
    from xlsxwriter.worksheet import Worksheet

    from toolkit.templates import COLUMNS, HEADER_ROW, INFO_ROW

    code_col = COLUMNS.index("指标编号")

    class FillingWorksheet(Worksheet):
        """Writes the plan's values where the template writes blank input cells."""

        def __init__(self):
            super().__init__()
            self._codes: dict[int, str] = {}

        def write_string(self, row, col, string, cell_format=None):  # noqa: D102
            if col == code_col and row >= HEADER_ROW:
                self._codes[row] = string
            return super().write_string(row, col, string, cell_format)

        def write_blank(self, row, col, blank, cell_format=None):  # noqa: D102
            plan = _PLAN
            if plan is not None:
                value: object = None
                if row == INFO_ROW - 1 and COLUMNS[col] == "本期完成":  # 填报人 input cell (H2)
                    value = plan.contact[0]
                elif row in self._codes:
                    value = plan.values.get(self._codes[row], {}).get(COLUMNS[col])
                if value not in (None, ""):
                    if isinstance(value, (int, float)):
                        return super().write_number(row, col, value, cell_format)
                    return super().write_string(row, col, str(value), cell_format)
            return super().write_blank(row, col, blank, cell_format)

        def merge_range(self, first_row, first_col, last_row, last_col, data, cell_format=None):  # noqa: D102
            plan = _PLAN
            if plan is not None and first_row == INFO_ROW - 1 and first_col == 10 and plan.contact[1]:
                data = plan.contact[1]  # 联系电话 (K2:L2)
            return super().merge_range(first_row, first_col, last_row, last_col, data, cell_format)

    class FillingWorkbook(xlsxwriter.Workbook):
        worksheet_class = FillingWorksheet

        def __init__(self, filename=None, options=None):
            super().__init__(filename, {**(options or {}), "in_memory": True})  # no temp files: 40 % faster

    return FillingWorkbook


def progress_text(rng: random.Random) -> str:
    """100–300 characters of progress text."""
    want = rng.randint(100, 300)
    parts: list[str] = []
    while sum(len(p) + 1 for p in parts) < want:
        parts.append(rng.choice(SENTENCES))
    return ("，".join(parts) + "。")[:want - 1] + "。"


def plan_for(u: int, indicators, rng: random.Random, mistake: str, unit_name: str) -> Plan:
    """Plausible input for every row of unit u; ``mistake`` adds one typical problem."""
    plan = Plan(unit_index=u, contact=(f"{'张王李赵刘陈杨黄'[u % 8]}{'明华军芳敏静丽强'[(u // 8) % 8]}", f"0398-28{u:05d}"))
    for ind in indicators:
        row: dict[str, object] = {"进展情况": progress_text(rng)}
        if rng.random() < 0.5:
            row["存在问题"] = rng.choice(PROBLEMS) + "。"
            row["下步打算"] = rng.choice(PLANS) + "。"
        target = ind.target_for(unit_name)
        t = float(target) if target is not None else 0.0
        if ind.kind == "累计":
            row["本期完成"] = int(t * rng.uniform(0.2, 0.6))
            if rng.random() < 0.4:
                row["上年同期"] = int(t * rng.uniform(0.15, 0.5))
        elif ind.kind == "比率":
            base = rng.randint(100, 1000)
            row["本期完成"], row["基数"] = int(base * rng.uniform(0.85, 1.0)), base
        elif ind.kind == "增速":
            row["本期完成"] = round(t + rng.uniform(-1.5, 1.0), 1)
        elif ind.kind == "上限":
            row["本期完成"] = round(t - rng.uniform(-0.3, 1.0), 2)
        elif ind.kind == "下限":
            row["本期完成"] = round(t + rng.uniform(-1.0, 3.0), 2)
        else:
            row["完成状态"] = rng.choice(["已完成", "推进中", "推进中", "未启动"])
        plan.values[ind.code] = row
    numeric = [ind for ind in indicators if ind.kind != "节点"]
    if mistake == "typo" and numeric:  # 约59家: not a number (错误, row kept out)
        plan.values[numeric[0].code]["本期完成"] = f"约{plan.values[numeric[0].code]['本期完成']}"
    elif mistake == "blank" and numeric:  # 本期完成 left blank (错误)
        plan.values[numeric[-1].code].pop("本期完成", None)
    elif mistake == "contact":  # no 联系电话 (提示)
        plan.contact = (plan.contact[0], "")
    elif mistake == "thousands" and numeric:  # 1,816 typed as text: read right, a 提示 at most
        value = plan.values[numeric[0].code]["本期完成"]
        plan.values[numeric[0].code]["本期完成"] = f"{value:,}" if isinstance(value, int) else value
    return plan


def _write_return(args) -> str:
    """Child of the generation pool: one filled return into the inbox."""
    global _PLAN
    plan, inbox = args
    from toolkit.templates import write_template

    registry, rnd, units = _GEN
    unit = units[plan.unit_index]
    _PLAN = plan
    try:
        import toolkit.templates as templates

        real = templates.xlsxwriter
        templates.xlsxwriter = _FakeModule(_filling_classes())  # type: ignore[assignment]
        try:
            path = write_template(registry, rnd, unit, inbox, now=datetime(2021, 4, 26, 9, 0)).path
        finally:
            templates.xlsxwriter = real
    finally:
        _PLAN = None
    target = inbox / plan.file_name
    path.rename(target)
    stamp = plan.received.timestamp()
    os.utime(target, (stamp, stamp))
    return target.name


class _FakeModule:
    def __init__(self, workbook_class):
        self.Workbook = workbook_class


_GEN: tuple = ()


def generate(n: int, folder: Path, *, seed: int, resaved: int, jobs: int, log) -> Path:
    """A workspace with n returns in the inbox of round 2021-04; returns its root."""
    global _GEN
    from tests.factories import make_master
    from toolkit.registry import load_registry

    rows, splits, names = master_rows(n, seed)
    units = [(f"U{i + 1:04d}", name) for i, name in enumerate(names)]
    root = folder / "ws"
    if root.exists():
        shutil.rmtree(root)
    started = time.perf_counter()
    import tests.factories as factories

    factories.TITLES.update(dict(CATEGORY_TITLES))
    make_master(root, indicators=rows, units=units, splits=splits,
                rounds=[(PREVIOUS, date(2021, 3, 31), date(2021, 4, 8)), (ROUND, CUTOFF, DEADLINE)])
    registry = load_registry(root / "master.xlsx")
    if registry.warnings:
        log(f"  台账提示：{registry.warnings[:3]}")
    rnd = registry.round(ROUND)
    assert rnd is not None
    for r in registry.rounds:
        for part in ("templates", "inbox", "archive", "feedback", "output"):
            (root / "rounds" / r.name / part).mkdir(parents=True, exist_ok=True)
    inbox = root / "rounds" / ROUND / "inbox"
    reporting = registry.reporting_units()
    by_name = {u.name: u for u in reporting}
    order = [by_name[name] for name in names if name in by_name]
    rng = random.Random(seed + 1)
    rows_of = {u.name: [] for u in order}
    for ind in registry.indicators():
        for name in ind.reporters:
            rows_of[name].append(ind)
    plans = []
    mistakes = ["typo", "blank", "contact", "thousands"]
    for i, unit in enumerate(order):
        mistake = mistakes[i // 10 % 4] if i % 10 == 3 else ""
        plan = plan_for(i, rows_of[unit.name], random.Random(rng.random()), mistake, unit.name)
        late = i % 37 == 5
        day = datetime(2021, 5, 9 + i % 3, 9 + i % 8, i % 60) if late else \
            datetime(2021, 5, 1 + i % 7, 8 + i % 10, (i * 7) % 60)
        plan.received = day
        plan.file_name = (f"{unit.code}_{unit.name}_{ROUND}.xlsx" if i % 3 == 0 else
                          f"{unit.name}{['4月报表', '_重点工作进展', '（4月）', '-报送'][i % 4]}.xlsx")
        plans.append(plan)
    save_history(root, plans, order, rows_of, rng)
    _GEN = (registry, rnd, order)
    work = [(plan, inbox) for plan in plans]
    if jobs > 1 and len(work) > 20:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            written = pool.map(_write_return, work, chunksize=8)
    else:
        written = [_write_return(w) for w in work]
    log(f"  生成 {len(written)} 份报表：{time.perf_counter() - started:.1f} 秒")
    if resaved and shutil.which("soffice"):
        started = time.perf_counter()
        done = resave(inbox, sorted(inbox.iterdir())[3::max(1, len(written) // max(resaved, 1))][:resaved], folder)
        log(f"  其中 {done} 份经 LibreOffice 另存：{time.perf_counter() - started:.1f} 秒")
    return root


def save_history(root: Path, plans: list[Plan], units, rows_of, rng: random.Random) -> None:
    """The previous round's accepted figures (as its merge saves them), so history rules run."""
    from toolkit.model import Entry
    from toolkit.workspace import Workspace

    entries = []
    for plan in plans:
        unit = units[plan.unit_index]
        for ind in rows_of[unit.name]:
            typed = plan.values[ind.code]
            value = typed.get("本期完成")
            previous = Decimal(int(value * 0.75)) if ind.kind == "累计" and isinstance(value, int) else None
            entries.append(Entry(code=ind.code, unit=unit.name, value=previous, progress=progress_text(rng)[:60],
                                 file=f"{unit.code}_{PREVIOUS}.xlsx"))
    Workspace(root).save_entries(PREVIOUS, entries)


def resave(inbox: Path, files: list[Path], scratch: Path) -> int:
    """Re-save files with LibreOffice (as a department using it would), keeping name and time."""
    from tests.office import convert

    out = scratch / "lo-out"
    profile = scratch / "lo-profile"
    stamps = {f.name: f.stat().st_mtime for f in files}
    try:
        converted = convert(files, "xlsx:Calc MS Excel 2007 XML", out, profile)
    except (subprocess.SubprocessError, AssertionError, OSError):
        return 0
    for path in converted:
        target = inbox / path.name
        shutil.move(str(path), target)
        os.utime(target, (stamps[target.name], stamps[target.name]))
    shutil.rmtree(profile, ignore_errors=True)
    return len(converted)


def source_key(n: int, seed: int, resaved: int) -> str:
    """Cache key: parameters plus the code that shapes the files."""
    digest = hashlib.sha256(f"{GENERATOR_VERSION}|{n}|{seed}|{resaved}|{bool(shutil.which('soffice'))}".encode())
    for rel in ("toolkit/templates.py", "tests/factories.py"):  # the script itself: GENERATOR_VERSION
        digest.update((ROOT / rel).read_bytes())
    return digest.hexdigest()[:12]


def cached_workspace(n: int, cache: Path, *, seed: int, resaved: int, jobs: int, log) -> Path:
    folder = cache / f"n{n}-{source_key(n, seed, resaved)}"
    done = folder / "DONE"
    if done.exists():
        log(f"使用缓存的工作区 {folder / 'ws'}")
        return folder / "ws"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    log(f"生成 {n} 份报表的工作区 {folder / 'ws'} …")
    root = generate(n, folder, seed=seed, resaved=resaved, jobs=jobs, log=log)
    done.write_text(json.dumps({"n": n, "seed": seed, "resaved": resaved}), encoding="utf-8")
    return root


# ---------------------------------------------------------------------------------------
# the baselines (run in a child process: ``bench_merge.py --measure floor|naive INBOX OUT``)

def inbox_returns(inbox: Path) -> list[Path]:
    return sorted(p for p in inbox.iterdir() if p.suffix == ".xlsx" and not p.name.startswith(("~$", ".")))


def floor(inbox: Path, out: Path) -> int:
    """Every return read once with python-calamine; the same cells written once with xlsxwriter."""
    import python_calamine as pc
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(out), {"constant_memory": True, "strings_to_numbers": False,
                                        "strings_to_formulas": False, "strings_to_urls": False})
    ws = wb.add_worksheet("合并")
    dates = wb.add_format({"num_format": "yyyy-mm-dd"})
    r = cells = 0
    for path in inbox_returns(inbox):
        book = pc.CalamineWorkbook.from_path(str(path))
        for name in book.sheet_names:
            for row in book.get_sheet_by_name(name).to_python(skip_empty_area=True):
                for c, value in enumerate(row):
                    if value is None or value == "":
                        continue
                    if isinstance(value, str):
                        ws.write_string(r, c, value)
                    elif isinstance(value, bool):
                        ws.write_boolean(r, c, value)
                    elif isinstance(value, (int, float)):
                        ws.write_number(r, c, value)
                    elif isinstance(value, (datetime, date)):
                        ws.write_datetime(r, c, value, dates)
                    else:
                        ws.write_string(r, c, str(value))
                    cells += 1
                r += 1
    wb.close()
    return cells


def naive(inbox: Path, out: Path) -> int:
    """The same with openpyxl: normal load of every return, one normal workbook saved."""
    import openpyxl

    target = openpyxl.Workbook()
    ws = target.active
    r = cells = 0
    for path in inbox_returns(inbox):
        book = openpyxl.load_workbook(path)
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                r += 1
                for c, value in enumerate(row, start=1):
                    if value is None or value == "":
                        continue
                    ws.cell(r, c, value)
                    cells += 1
        book.close()
    target.save(out)
    return cells


# ---------------------------------------------------------------------------------------
# a profile of the merge, on a CPU-time clock (a loaded machine does not distort it)

#: Stages of a merge and the functions that stand for them in a profile (first match wins).
STAGES = [
    ("读取报表", ("read_return",)), ("校验", ("check_return",)), ("缓存", ("OutcomeCache.put", "OutcomeCache.get")),
    ("反馈文件", ("write_feedback",)), ("汇总表", ("write_summary",)), ("台账", ("write_ledger",)),
    ("进展情况报告", ("write_report",)), ("校验报告", ("write_check_report",)), ("results.csv", ("write_results_csv",)),
    ("任务台账", ("load_registry",)), ("计算", ("build_result",)), ("保存本轮数据", ("save_entries",)),
    ("接收", ("scan_inbox",)), ("归档", ("archive_files",)),
]


def profile_merge(ws: Path, out: Path) -> int:
    import cProfile

    from toolkit.cli import main as ducha

    profiler = cProfile.Profile(time.process_time)
    code = profiler.runcall(ducha, ["merge", "-w", str(ws), "-r", ROUND, "--now", NOW])
    profiler.dump_stats(str(out))
    return 0 if code in (0, 1) else code


def profile_summary(path: Path, top: int = 25) -> str:
    """CPU seconds by stage of the merge, then the functions that take most time themselves."""
    import io
    import pstats

    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]
    by_name: dict[str, float] = {}
    for (file, _line, func), (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "/toolkit/" in file:
            qual = func
            by_name[qual] = by_name.get(qual, 0.0) + cumulative
    lines = [f"剖析 {path}（CPU 时钟，含剖析开销；共 {total:.1f} 秒）", "  按阶段（累计 CPU 秒，阶段间可能重叠）："]
    for label, names in STAGES:
        seconds = sum(by_name.get(n.rsplit(".", 1)[-1], 0.0) for n in names)
        lines.append(f"    {label:<10}{seconds:>8.1f}  {100 * seconds / total:>5.1f}%")
    buffer = io.StringIO()
    pstats.Stats(str(path), stream=buffer).sort_stats("tottime").print_stats(top)
    lines.append("  自身耗时最多的函数：")
    text = buffer.getvalue()
    text = text[text.find("   ncalls"):] if "   ncalls" in text else text
    lines.extend("    " + line for line in text.splitlines() if line.strip())
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# measuring a child process: wall time, its own peak RSS (wait4), the tree's sampled peak

@dataclass
class Measured:
    label: str
    seconds: float
    peak_mib: float  # largest single process of the tree (kernel's ru_maxrss)
    tree_mib: float  # sampled sum of RSS over the whole process tree
    returncode: int
    output: str = ""
    cpu: float = 0.0  # user + system seconds of the process and its children (steady under load)


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(x) for x in fh.read().split())
    except (OSError, ValueError):
        pass
    return out


def _tree_rss(pid: int) -> int:
    total, todo, page = 0, [pid], os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
        todo.extend(_children(p))
    return total


def run_measured(label: str, argv: list[str], cwd: Path) -> Measured:
    env = {**os.environ, "PYTHONPATH": str(cwd), "PYTHONUNBUFFERED": "1"}
    log = tempfile.TemporaryFile()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
    peak_tree = 0
    stop = threading.Event()

    def sample():
        nonlocal peak_tree
        while not stop.is_set():
            peak_tree = max(peak_tree, _tree_rss(proc.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    log.seek(0)
    output = log.read().decode("utf-8", "replace")
    log.close()
    peak = usage.ru_maxrss / 1024
    return Measured(label, seconds, peak, max(peak, peak_tree / (1024 * 1024)), proc.returncode, output,
                    usage.ru_utime + usage.ru_stime)


@dataclass
class SizeResult:
    n: int
    floor: Measured
    naive: Measured | None
    merge: Measured
    rerun: Measured


def fresh_copy(source: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, symlinks=True)  # copy2: modification times (arrival) kept
    return target


def measure_size(n: int, source: Path, work: Path, *, with_naive: bool, log, code: Path = ROOT) -> SizeResult:
    inbox = source / "rounds" / ROUND / "inbox"
    me = [sys.executable, str(Path(__file__).resolve())]
    log(f"[{n}] 下限（calamine 读 + xlsxwriter 写）…")
    fl = run_measured("下限", [*me, "--measure", "floor", str(inbox), str(work / "floor.xlsx")], ROOT)
    nv = None
    if with_naive:
        log(f"[{n}] 朴素做法（openpyxl 读写）…")
        nv = run_measured("朴素", [*me, "--measure", "naive", str(inbox), str(work / "naive.xlsx")], ROOT)
    ws = fresh_copy(source, work / "ws")
    merge = [sys.executable, "-m", "toolkit", "merge", "-w", str(ws), "-r", ROUND, "--now", NOW]
    log(f"[{n}] 完整合并 …")
    full = run_measured("合并", merge, code)
    log(f"[{n}] 重跑（收件箱无新文件）…")
    again = run_measured("重跑", merge, code)
    for m in (fl, nv, full, again):
        if m is not None and m.returncode not in (0, 1):
            tail = "\n".join(m.output.splitlines()[-15:])
            raise SystemExit(f"{m.label} 失败（退出码 {m.returncode}）：\n{tail}")
    return SizeResult(n, fl, nv, full, again)


def table(results: list[SizeResult]) -> str:
    head = f"{'N':>6} {'步骤':<6}{'秒':>9}{'CPU 秒':>9}{'最大进程 MiB':>14}{'进程树 MiB':>12}"
    lines = [head]
    for res in results:
        for m in (res.floor, res.naive, res.merge, res.rerun):
            if m is None:
                continue
            lines.append(f"{res.n:>6} {m.label:<6}{m.seconds:>9.1f}{m.cpu:>9.1f}{m.peak_mib:>14.0f}{m.tree_mib:>12.0f}")
    lines.append("")
    lines.append(f"{'N':>6} {'合并/下限':>10}{'朴素/合并':>10}{'重跑/合并':>10}   目标：≤1.5  ≥5  ≤0.3，内存 ≤500 MiB"
                 "（按墙钟时间）")
    for res in results:
        lines.append(_ratios(res, "seconds"))
    lines.append(f"{'':>6} 按 CPU 时间（机器繁忙时更稳定；并行时 CPU 高于墙钟）：")
    for res in results:
        lines.append(_ratios(res, "cpu"))
    by_n = {r.n: r for r in results}
    for res in results:
        if 2 * res.n in by_n:
            big = by_n[2 * res.n]
            lines.append(f"time({2 * res.n})/time({res.n})：合并 {big.merge.seconds / res.merge.seconds:.2f}"
                         f"（目标 ≤2.2），下限 {big.floor.seconds / res.floor.seconds:.2f}；"
                         f"按 CPU：合并 {_div(big.merge.cpu, res.merge.cpu):.2f}，下限 {_div(big.floor.cpu, res.floor.cpu):.2f}")
    return "\n".join(lines)


def _div(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _ratios(res: SizeResult, what: str) -> str:
    merge, floor_, rerun = (getattr(m, what) for m in (res.merge, res.floor, res.rerun))
    naive = f"{_div(getattr(res.naive, what), merge):>10.2f}" if res.naive else f"{'—':>10}"
    return f"{res.n:>6} {_div(merge, floor_):>10.2f}{naive}{_div(rerun, merge):>10.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="大规模合并的性能对比（与同次运行的下限、朴素做法相比）")
    parser.add_argument("--n", type=int, nargs="+", default=[1000], help="报表份数（可给多个，如 --n 1000 2000）")
    parser.add_argument("--scale", action="store_true", help="同时测 2N 份，给出 time(2N)/time(N)")
    parser.add_argument("--keep", type=Path, default=None, help="保留合并用的工作区到该文件夹")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "ducha-bench",
                        help="生成的工作区缓存在此（按参数区分），默认 $TMPDIR/ducha-bench")
    parser.add_argument("--resaved", type=int, default=None,
                        help="经 LibreOffice 另存的报表份数（默认 N/20，最多 50；无 soffice 时为 0）")
    parser.add_argument("--no-naive", action="store_true", help="不测朴素做法（它最慢）")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="测量另一份代码（含 toolkit/ 的文件夹）的合并，用于改动前后对比；默认本仓库")
    parser.add_argument("--generate-only", action="store_true", help="只生成（并缓存）工作区，不测量")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="生成报表的进程数")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="另外在 CPU 时钟下剖析一次完整合并（不计入计时），统计存入 DIR/merge-N.prof 并列出耗时最多的函数")
    parser.add_argument("--measure", nargs=3, metavar=("WHAT", "INBOX", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        what, inbox, out = args.measure
        if what == "profile":  # INBOX is the workspace here
            return profile_merge(Path(inbox), Path(out))
        cells = {"floor": floor, "naive": naive}[what](Path(inbox), Path(out))
        print(f"{cells} cells")
        return 0

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    sizes = sorted(set(args.n + ([2 * n for n in args.n] if args.scale else [])))
    load = os.getloadavg()
    results = []
    keep = args.keep
    scratch = Path(tempfile.mkdtemp(prefix="ducha-bench-run-"))
    try:
        for n in sizes:
            resaved = args.resaved if args.resaved is not None else min(n // 20, 50)
            source = cached_workspace(n, args.cache, seed=args.seed, resaved=resaved, jobs=args.jobs, log=log)
            if args.generate_only:
                continue
            work = (keep / f"n{n}") if keep else (scratch / f"n{n}")
            work.mkdir(parents=True, exist_ok=True)
            results.append(measure_size(n, source, work, with_naive=not args.no_naive, log=log,
                                        code=args.code.resolve()))
            if args.profile:
                log(f"[{n}] 剖析完整合并（CPU 时钟）…")
                args.profile.mkdir(parents=True, exist_ok=True)
                stats = args.profile.resolve() / f"merge-{n}.prof"
                ws = fresh_copy(source, work / "ws-profile")
                run_measured("剖析", [sys.executable, str(Path(__file__).resolve()), "--measure", "profile", str(ws),
                                      str(stats)], args.code.resolve())
                print(profile_summary(stats))
            if not keep:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    after = os.getloadavg()
    if not results:
        return 0
    print(table(results))
    print(f"机器负载（1 分钟平均）：开始 {load[0]:.2f}，结束 {after[0]:.2f}；CPU {os.cpu_count()} 核。"
          "比值以同次运行的基准为准。")
    if keep:
        print(f"合并用的工作区保留在 {keep}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
