"""``ducha demo``: a whole reporting round on the bundled 2021 sample, as it happens in an office.

The demo copies the sample workspace, merges round 2021-03 (so history checks
have something to compare with), writes the templates of round 2021-04 and fills
them *as departments would*: it opens each template file with openpyxl and types
into its cells, sometimes the way people really type (``1,816``, ``５９``,
``0.22亿元``). Two departments report late, one not at all, three returns carry
typical mistakes and one department sends a corrected second file. The clerk
registers when each return arrived (as ``ducha receive --at`` does); three
returns are saved as whole mails (.eml), which carry their own time and sender.
No file's modification time is used. Then it runs the very same merge a clerk
runs and says where everything is.
"""

from __future__ import annotations

import csv
import shutil
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from pathlib import Path

import openpyxl

from .errors import WorkspaceError
from .intake import HEADER_KEYS
from .merge import run_merge
from .model import ArrivalBasis, Registry, Round, Source, Unit
from .receipts import CHINA, receive_file
from .snapshot import issue_templates
from .standing import Standing
from .templates import GUIDE_SHEET, META_SHEET
from .workspace import CONFIG, MASTER, Workspace

MARKER = ".ducha-demo"
DEMO_ROUND = "2021-04"
HISTORY_ROUND = "2021-03"
REPORT_TIME = datetime(2021, 5, 13, 9, 0)

# Who does what in round 2021-04 (all names are units of the sample workspace).
LATE = {"市交通运输局": datetime(2021, 5, 10, 16, 20), "市商务局": datetime(2021, 5, 11, 10, 5)}
MISSING = "市城市管理局"
# Typed the way people type; the value is still right.
TYPED = {
    ("市行政审批服务局", "2-2-2", "本期完成"): "1,816",
    ("市科技局", "1-2-1", "本期完成"): "５９",
    ("市科技局", "1-2-2", "本期完成"): "0.22亿元",
    ("市人力资源社会保障局", "10-2-2", "本期完成"): "3.42%",
}
# Three returns with typical mistakes: (unit, indicator) -> (column, typed text).
MISTAKES = {
    "市住房城乡建设局": [("本期完成", "约2.1", "first_numeric")],
    "市文化广电和旅游局": [("完成状态", None, "first_node"), ("联系电话", None, "contact")],
    "市农业农村局": [("本期完成", "lower_than_last", "first_cumulative"), ("年度目标", "edit", "first_cumulative")],
}
# One department sends a first version with a gap and a corrected one a day later.
RESENT = "市科技局"
# Returns the clerk saved as whole mails (.eml): dated by the mail, attributed to its sender.
MAILED = ("市交通运输局", "市教育局", "陕州区人民政府")


def sample_dir() -> Path:
    """The bundled sample workspace: the repository's workbooks/, or the packaged copy."""
    here = Path(__file__).resolve().parent
    for folder in (here.parent / "workbooks", here / "sample"):  # a checkout, or an installed package
        if (folder / MASTER).exists():
            return folder
    raise WorkspaceError("找不到自带的样例工作区（workbooks/master.xlsx），安装可能不完整，请重新安装 ducha。")


def init_workspace(folder: Path) -> Path:
    """A new workspace holding the example master workbook and settings."""
    folder = Path(folder)
    if (folder / MASTER).exists():
        raise WorkspaceError(f"{folder} 中已有 {MASTER}，不会覆盖。请换一个文件夹。")
    folder.mkdir(parents=True, exist_ok=True)
    src = sample_dir()
    shutil.copy2(src / MASTER, folder / MASTER)
    if (src / CONFIG).exists():
        shutil.copy2(src / CONFIG, folder / CONFIG)
    (folder / "rounds").mkdir(exist_ok=True)
    return folder


def load_demo_returns(src: Path | None = None) -> dict[tuple[str, str, str], dict[str, str]]:
    """(round, unit, code) -> the values that unit reports, from source/demo_returns.csv."""
    path = (src or sample_dir()) / "source" / "demo_returns.csv"
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return {(r["轮次"], r["单位名称"], r["指标编号"]): r for r in csv.DictReader(fh)}


@dataclass
class DemoSummary:
    folder: Path
    result: Standing
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def text(self) -> str:
        from .render import merge_summary

        r = self.result
        out = r.outputs
        lines = [
            merge_summary(r, outputs=False),
            "",
            f"演示完成（用时 {self.seconds:.1f} 秒）。工作区：{self.folder}",
            f"  模板：{self.folder / 'rounds' / DEMO_ROUND / 'templates'}",
            f"  收到的报表：{self.folder / 'rounds' / DEMO_ROUND / 'inbox'}",
            f"  反馈文件：{self.folder / 'rounds' / DEMO_ROUND / 'feedback'}",
            f"  汇总表：{out.get('summary')}",
            f"  进展情况报告：{out.get('report')}",
            f"  台账：{out.get('ledger')}",
            f"  校验报告：{out.get('check')}",
            f"  results.csv：{out.get('csv')}",
            "可以用 Excel/WPS 打开上述文件查看；再运行一次 ducha merge -w 上述工作区 -r 2021-04 会得到相同结果。",
        ]
        return "\n".join(lines)


def _round(registry: Registry, name: str) -> Round:
    rnd = registry.round(name)
    if rnd is None:
        raise WorkspaceError(f"样例任务台账中缺少轮次 {name}，安装可能不完整，请重新安装 ducha。")
    return rnd


def _prepare(folder: Path) -> Path:
    folder = Path(folder).resolve()
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise WorkspaceError(f"文件夹 {folder} 不是空的，演示不会覆盖其中的文件。请用 --out 指定一个新文件夹。")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("ducha demo workspace; safe to delete\n", encoding="utf-8")
    src = sample_dir()
    shutil.copy2(src / MASTER, folder / MASTER)
    if (src / CONFIG).exists():
        shutil.copy2(src / CONFIG, folder / CONFIG)
    return folder


def run_demo(out: Path | None = None, log: Callable[[str], None] = lambda _m: None) -> DemoSummary:
    import time

    started = time.monotonic()
    folder = _prepare(out or Path.cwd() / "ducha-demo")
    ws = Workspace(folder)
    registry = ws.registry()
    data = load_demo_returns()
    log(f"样例工作区已复制到 {folder}")

    # Round 2021-03: everyone on time, so 2021-04 has history to be checked against.
    hist = _round(registry, HISTORY_ROUND)
    ws.make_round_dirs(hist.name)
    # Templates are issued the way a clerk issues them: the master is frozen beside them.
    for res in issue_templates(ws, hist.name, now=datetime(2021, 3, 25, 9)).templates:
        target = ws.inbox(hist.name) / f"{res.unit.name}{hist.name}报表.xlsx"
        fill_template(res.path, target, res.unit.name, hist.name, data)
        deliver(ws, hist.name, target, datetime(2021, 4, 7, 15, 0))
    log(f"已模拟 {HISTORY_ROUND} 轮各单位报送并合并（作为上一轮数据）")
    run_merge(ws, hist.name, now=datetime(2021, 4, 12, 9))

    rnd = _round(registry, DEMO_ROUND)
    ws.make_round_dirs(rnd.name)
    templates = issue_templates(ws, rnd.name, now=datetime(2021, 4, 26, 9)).templates
    log(f"已生成 {DEMO_ROUND} 轮模板 {len(templates)} 份")
    names = []
    for i, res in enumerate(templates):
        unit = res.unit.name
        if unit == MISSING:
            continue
        target = ws.inbox(rnd.name) / _mail_name(unit, i)
        mistakes = MISTAKES.get(unit, [])
        if unit == RESENT:
            first = ws.inbox(rnd.name) / f"{unit}-重点工作进展（初稿）.xlsx"
            fill_template(res.path, first, unit, rnd.name, data, blank_codes={"1-2-1"})
            deliver(ws, rnd.name, first, datetime(2021, 5, 6, 11, 30))
            names.append(first.name)
        fill_template(res.path, target, unit, rnd.name, data, mistakes=mistakes,
                      previous=(HISTORY_ROUND, data))
        when = LATE.get(unit, datetime(2021, 5, 7, 10 + i % 7, 5 * (i % 12)))
        if unit in MAILED:  # the clerk saved the whole mail: its own time and sender count
            saved = save_as_mail(target, res.unit, rnd.name, when, registry)
            names.append(saved.name)
            continue
        deliver(ws, rnd.name, target, when)
        names.append(target.name)
    log(f"已模拟 {len(names)} 份报表放入收件箱（{len(MAILED)} 份为保存的邮件 .eml；{len(LATE)} 个单位逾期，"
        f"{MISSING} 未报送，3 份含常见错误）")
    log("开始合并：")
    result = run_merge(ws, rnd.name, now=REPORT_TIME, log=log)
    return DemoSummary(folder=folder, result=result, files=names, seconds=time.monotonic() - started)


def save_as_mail(attachment: Path, unit: Unit, round_name: str, when: datetime, registry: Registry) -> Path:
    """The department's mail with its return attached, saved by the clerk as ``.eml`` beside it.

    The attachment file is replaced by the mail: the return is taken from the mail,
    dated by its Date header and attributed to its sender."""
    office = dict(registry.settings.extra).get("邮箱", "dcs@example.gov.cn")
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((unit.name, unit.email or f"{unit.code.lower()}@example.gov.cn"))
    msg["To"] = formataddr((registry.settings.issuer, office))
    msg["Subject"] = f"报送{round_name}重点工作进展情况（{unit.name}）"
    msg["Date"] = format_datetime(when.replace(tzinfo=CHINA))
    msg["Message-ID"] = f"<{round_name}.{unit.code}@demo.ducha>"
    msg.set_content(f"{registry.settings.issuer}：\n\n    现将我单位{round_name}重点工作进展情况报送如下，请审阅。\n\n{unit.name}\n")
    msg.add_attachment(attachment.read_bytes(), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename=attachment.name)
    mail = attachment.with_name(f"{unit.name}报送邮件.eml")
    mail.write_bytes(bytes(msg))
    attachment.unlink()
    return mail


def deliver(ws: Workspace, round_name: str, path: Path, when: datetime) -> None:
    """The clerk saves a return into the inbox and registers when it arrived (``ducha receive --at``)."""
    receive_file(ws, round_name, path, source=Source.CLERK, arrived=when, basis=ArrivalBasis.CLERK,
                 origin=path.relative_to(ws.inbox(round_name)).as_posix())


def _mail_name(unit: str, i: int) -> str:
    """File names as they arrive by mail: renamed, never the template's name."""
    forms = ["附件1：{u}重点工作进展情况表.xlsx", "{u}（4月）.xlsx", "关于报送2021年4月重点工作进展的报告-{u}.xlsx",
             "{u}政府工作报告任务进展.xlsx"]
    return forms[i % len(forms)].format(u=unit)


def fill_template(template: Path, target: Path, unit: str, round_name: str,
                  data: dict[tuple[str, str, str], dict[str, str]], *, mistakes=(), blank_codes=frozenset(),
                  previous: tuple[str, dict] | None = None) -> Path:
    """Open a template and type a department's figures into its cells, as a person would."""
    wb = openpyxl.load_workbook(template)
    done: set[str] = set()
    for ws, header_row, cols in template_sheets(wb):
        contact_row = header_row - 1
        for row in range(header_row + 1, ws.max_row + 1):
            code = ws.cell(row, cols["指标编号"]).value
            if not code:
                continue
            values = data.get((round_name, unit, str(code)))
            if values is None:
                continue
            kind = ws.cell(row, cols["指标类型"]).value
            for column in ("本期完成", "基数", "上年同期", "完成状态", "进展情况", "存在问题", "下步打算"):
                typed = values.get(column, "")
                if round_name == DEMO_ROUND and (unit, str(code), column) in TYPED:  # 2021-04's figures
                    typed = TYPED[(unit, str(code), column)]
                if code in blank_codes and column == "本期完成":
                    typed = ""
                if typed == "":
                    continue
                cell = ws.cell(row, cols[column])
                cell.value = _as_typed(typed, column)
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # typed as text ('=… in Excel), not a formula
            for column, text, which in mistakes:
                if which in done or not _fits(which, kind):
                    continue
                done.add(which)
                cell = ws.cell(row, cols[column]) if column in cols else None
                if text is None and cell is not None:
                    cell.value = None
                elif text == "lower_than_last" and previous and cell is not None:
                    last = previous[1].get((previous[0], unit, str(code)), {}).get("本期完成", "")
                    cell.value = float(last) * 0.5 if last else 0.5
                elif text == "edit" and cell is not None:
                    cell.value = (cell.value or 0) * 2 if isinstance(cell.value, (int, float)) else 1
                elif cell is not None:
                    cell.value = text
        _sign(ws, contact_row, unit, drop_phone=any(w == "contact" for _c, _t, w in mistakes))
    target.parent.mkdir(parents=True, exist_ok=True)
    wb.save(target)
    return target


def _fits(which: str, kind: str) -> bool:
    return {"first_numeric": kind in ("累计", "比率", "上限", "下限", "增速"), "first_node": kind == "节点",
            "first_cumulative": kind == "累计", "contact": False}.get(which, False)


def _as_typed(text: str, column: str) -> object:
    """Numbers typed into Excel become numbers; anything else stays the text typed."""
    if column in ("本期完成", "基数", "上年同期"):
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() else number
    return text


def template_sheets(wb):
    """(sheet, header row, column by name) for each category sheet of an openpyxl template."""
    for ws in wb.worksheets:
        if ws.title in (GUIDE_SHEET, META_SHEET):
            continue
        header_row, cols = find_header(ws)
        if header_row is not None:
            yield ws, header_row, cols


def find_header(ws) -> tuple[int | None, dict[str, int]]:
    """(header row, column by name) of an openpyxl template sheet, or (None, {})."""
    for row in range(1, 15):
        labels = {ws.cell(row, c).value: c for c in range(1, ws.max_column + 1) if ws.cell(row, c).value}
        if all(k in labels for k in HEADER_KEYS):
            return row, {str(k): v for k, v in labels.items()}
    return None, {}


def _sign(ws, row: int, unit: str, drop_phone: bool) -> None:
    """Type 填报人 and 联系电话 into the header block."""
    for col in range(1, ws.max_column + 1):
        label = ws.cell(row, col).value
        if label == "填报人":
            ws.cell(row, col + 1).value = "张" + unit[1:2] + "明"
        elif label == "联系电话" and not drop_phone:
            ws.cell(row, col + 1).value = "0398-28" + str(zlib.crc32(unit.encode()) % 100000).zfill(5)
