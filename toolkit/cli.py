"""The ``ducha`` command line: parse arguments, call one library function, render, exit.

Exit codes: 0 done; 1 done but some inputs were rejected or had errors; 2 the
command could not run. No traceback ever reaches the clerk: unexpected errors
are written to a log file and reported in one Chinese line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import traceback
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from . import __version__
from .errors import DuchaError, MasterWorkbookError

_ARGPARSE_CN = {
    "usage: ": "用法：",
    "positional arguments": "参数",
    "options": "选项",
    "optional arguments": "选项",
    "show this help message and exit": "显示本帮助并退出",
    "the following arguments are required: %s": "缺少必需的参数：%s",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "invalid choice: %(value)r (choose from %(choices)s)": "无效的选择：%(value)r（可选：%(choices)s）",
    "expected one argument": "需要一个参数值",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
    "invalid %(type)s value: %(value)r": "无效的值：%(value)r",
    "ambiguous option: %(option)s could match %(matches)s": "选项 %(option)s 不明确，可能是 %(matches)s",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
}


def _translate(text: str) -> str:
    return _ARGPARSE_CN.get(text, text)


argparse._ = _translate  # type: ignore[attr-defined]  # argparse looks its messages up through _


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("add_help", False)
        super().__init__(*args, **kwargs)
        self.add_argument("-h", "--help", action="help", help="显示本帮助并退出")

    def error(self, message: str):  # noqa: D401 - argparse API
        self.print_usage(sys.stderr)
        self.exit(2, f"错误：{message}\n用 {self.prog} -h 查看帮助。\n")


def _workspace_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-w", "--workspace", metavar="文件夹", type=Path, default=None,
                   help="工作区文件夹（含 master.xlsx），默认为当前文件夹")


def _round_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-r", "--round", metavar="轮次", default=None,
                   help="轮次，如 2021-04；默认为统计截止日期已过的最近一轮")


def _now_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--now", metavar="时间", default=None,
                   help="按指定时间运行（如 \"2021-05-13 09:00\"），用于补做或演示")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ducha", description="督查室重点工作进展报表工具：下发模板、校验合并报表、生成汇总表和进展情况报告。",
                     epilog="示例：ducha demo（用自带样例跑一遍完整流程）；ducha merge -w 2021年督查 -r 2021-04")
    parser.add_argument("--version", action="version", version=f"ducha {__version__}", help="显示版本号")
    sub = parser.add_subparsers(dest="command", metavar="命令", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("demo", help="用自带的 2021 年样例跑一遍完整流程", description="复制样例工作区，生成 2021-04 轮模板，"
                       "模拟各单位填报（含逾期、未报和常见错误），合并并生成全部输出。")
    p.add_argument("--out", metavar="文件夹", type=Path, default=None, help="演示输出到该文件夹（默认 ./ducha-demo）")

    p = sub.add_parser("init", help="新建一个工作区", description="新建工作区文件夹，内含示例任务台账 master.xlsx 和配置文件。")
    p.add_argument("folder", metavar="文件夹", type=Path, help="新工作区的文件夹")

    p = sub.add_parser("templates", help="生成本轮各单位的填报模板", description="按任务台账为每个填报单位生成一个模板，"
                       "放在 rounds/<轮次>/templates/ 下，并保存本轮所依据的任务台账（台账快照）。"
                       "下发后修改了台账时，各单位报表仍按其模板所依据的台账校验，不会因台账修改被拒收或提示。")
    _workspace_arg(p)
    _round_arg(p)
    _now_arg(p)
    p.add_argument("--changed", action="store_true",
                   help="只为台账中本单位的行（目标、名称、计量单位、新增或删除的指标）在上次下发后有改动的单位重新生成模板")

    p = sub.add_parser("check", help="检查报表（不合并），各单位也可自查", description="检查一个或多个报表文件并列出问题。"
                       "有工作区时按台账核对；没有时只做文件自身的检查。")
    p.add_argument("files", metavar="文件", nargs="+", type=Path, help="要检查的报表文件")
    _workspace_arg(p)
    _round_arg(p)
    p.add_argument("--json", action="store_true", help="以 JSON 格式输出问题清单")

    p = sub.add_parser("merge", help="校验并合并本轮报表，生成全部输出", description="读取 rounds/<轮次>/inbox/ 中的全部文件，"
                       "校验、归档、生成反馈文件，合并计算后写出汇总表、台账、进展情况报告、校验报告和 results.csv。")
    _workspace_arg(p)
    _round_arg(p)
    _now_arg(p)

    p = sub.add_parser("status", help="查看本轮报送情况", description="列出各单位按时报送、逾期、未报送、被拒收的情况。")
    _workspace_arg(p)
    _round_arg(p)
    _now_arg(p)

    p = sub.add_parser("receive", help="登记收到的文件及其到达时间", description="把文件登记为本轮收到的报表（或附件），"
                       "原件保存在工作区中，之后即使从收件箱删除也不影响合并。到达时间以邮件本身的时间为准；"
                       "没有邮件时间时用 --at 给出的时间；都没有时为首次发现的时间。文件的修改时间不作为依据。"
                       "更换报表无需撤回：同一单位到达时间较晚的报表自动替代较早的。",
                       epilog="示例：ducha receive 科技局报表.xlsx --at \"2021-05-07 10:30\" --from kj@smx.gov.cn -w 工作区 -r 2021-04")
    p.add_argument("files", metavar="文件", nargs="+", type=Path, help="要登记的文件（表格、邮件 .eml/.msg、zip 压缩包等）")
    p.add_argument("--at", metavar="时间", default=None, help="到达时间（北京时间），如 \"2021-05-07 10:30\"")
    p.add_argument("--from", dest="sender", metavar="地址", default="", help="发件人邮箱地址")
    _workspace_arg(p)
    _round_arg(p)

    p = sub.add_parser("withdraw", help="撤回一份已收到的文件", description="把已收到的文件从本轮撤回（记入收件记录，"
                       "合并时不再计入；邮件或压缩包连同其中的文件一起撤回）。从收件箱删除文件不算撤回。"
                       "更换报表不需要撤回：收到同一单位更新的文件即自动替代。",
                       epilog="示例：ducha withdraw -w 工作区 -r 2021-04 12 --reason \"单位要求作废\"")
    p.add_argument("ref", metavar="文件名或编号", help="ducha log 中的编号，或收到时的文件名")
    p.add_argument("--reason", metavar="原因", default="", help="撤回原因，记入收件记录")
    p.add_argument("--undo", action="store_true", help="恢复之前撤回的文件")
    _workspace_arg(p)
    _round_arg(p)

    p = sub.add_parser("log", help="查看收件记录", description="列出本轮收到过的每个文件：来源、发件人、到达时间及其依据、"
                       "单位和处理结论。")
    _workspace_arg(p)
    _round_arg(p)
    p.add_argument("--mail", action="store_true", help="改为列出本轮发出和从邮箱收取的邮件")

    p = sub.add_parser("mail", help="发送模板、催报、反馈和汇总邮件，收取报表邮件",
                       description="按 ducha.toml [mail] 的设置收发邮件；每封邮件只发一次，全部记录在案（ducha log --mail）。")
    mail_sub = p.add_subparsers(dest="mail_command", metavar="操作", parser_class=_Parser)
    mail_sub.required = True
    for name, text in (("templates", "把本轮模板发给各单位（含报送截止日期和联系人）"),
                       ("remind", "催报：提醒还没有报送合格报表的单位（先收取邮箱）"),
                       ("feedback", "把校验反馈（标注文件和回复）发回各单位"),
                       ("summary", "把汇总表和进展情况报告发给领导（[mail.leaders]）"),
                       ("fetch", "从邮箱收取各单位报送的表格附件")):
        q = mail_sub.add_parser(name, help=text, description=text + "。")
        _workspace_arg(q)
        _round_arg(q)
        _now_arg(q)
        if name != "fetch":
            q.add_argument("--dry-run", action="store_true",
                           help="不发送，只把邮件写成 .eml 文件放到 rounds/<轮次>/outbox/ 供检查")

    p = sub.add_parser("schedule", help="按时间表自动下发、收取、催报、合并和报送",
                       description="每分钟检查一次时间表（北京时间），做完已到时间、尚未做过的事；"
                       "电脑休眠或重启后会补做。按 Ctrl+C 停止。")
    _workspace_arg(p)
    p.add_argument("--once", action="store_true", help="只检查一次：做完此刻该做的事后退出（供任务计划程序或 cron 使用）")
    _now_arg(p)
    return parser


def _now(args) -> datetime:
    text = getattr(args, "now", None)
    if not text:
        return datetime.now()
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise DuchaError(f"无法识别的时间“{text}”，请写成如 \"2021-05-13 09:00\"。")


def _workspace(args):
    from .workspace import Workspace, find_workspace

    root = args.workspace if args.workspace is not None else find_workspace()
    return Workspace(Path(root))


# -- commands ------------------------------------------------------------------------


def cmd_demo(args) -> int:
    from .demo import run_demo

    summary = run_demo(args.out, log=print)
    print(summary.text())
    return 0


def cmd_init(args) -> int:
    from .demo import init_workspace

    path = init_workspace(args.folder)
    print(f"已新建工作区 {path}：请在 Excel 中打开 master.xlsx 填写任务台账，然后运行 ducha templates -w {path}")
    return 0


def cmd_templates(args) -> int:
    from .snapshot import issue_templates, render_changes

    ws = _workspace(args)
    issued = issue_templates(ws, args.round, now=_now(args), changed_only=args.changed)
    name, folder = issued.round.name, ws.templates(issued.round.name)
    if args.changed and issued.first_issue:
        print(f"轮次 {name} 此前没有下发记录，已为全部单位生成模板。")
    for line in render_changes(issued.changes):
        print(line)
    for res in issued.templates:
        print(f"  {res.unit.name}：{res.rows} 项 → {res.path.name}")
    if args.changed and not issued.first_issue:
        if not issued.templates:
            print(f"任务台账中各单位的行与上次下发的模板一致，{name} 轮无需重发模板。")
            return 0
        print(f"已为 {len(issued.templates)} 个台账有改动的单位重新生成 {name} 轮模板，位于 {folder}；"
              f"其余 {len(issued.unchanged)} 个单位的模板无需重发。请只向上列单位重发模板。")
    else:
        print(f"已为 {len(issued.templates)} 个单位生成 {name} 轮模板，位于 {folder}")
    return 0


def cmd_check(args) -> int:
    from .check import CheckContext
    from .merge import examine
    from .read import Limits
    from .render import findings_table
    from .snapshot import RoundContext

    ctx: CheckContext | RoundContext = CheckContext()
    limits = Limits()
    if args.workspace is not None:
        ws = _workspace(args)
        registry = ws.registry()
        rnd = ws.pick_round(registry, args.round) if args.round else None
        # with a round: each file is checked against the registry its template was issued with
        ctx = RoundContext(ws, registry, rnd) if rnd is not None else \
            CheckContext(registry=registry, settings=ws.check_settings())
        limits = ws.limits()
    from .standing import refused_as

    outcomes = []
    documents: dict[str, str] = {}  # a Word file, PDF, picture …: what it is (the merge files it as 附件)
    for path in args.files:
        if not path.exists():
            raise DuchaError(f"找不到文件 {path}，请检查文件名和路径。")
    with tempfile.TemporaryDirectory(prefix="ducha-check-") as scratch:
        for path, label in _returns_in(args.files, Path(scratch), limits, documents):
            outcome, _ret = examine(path, ctx, limits, name=label)
            outcomes.append(outcome)
    bad = any(o.rejected or o.errors for o in outcomes)
    if args.json:
        doc = {"files": [{"file": o.file, "unit": o.unit_name, "round": o.round, "accepted": not o.rejected,
                          "errors": o.errors, "notices": o.notices,
                          "findings": [f.to_json() for f in o.findings]} for o in outcomes],
               "attachments": [{"file": name, "kind": what} for name, what in documents.items()],
               "history_checked": ctx.has_history}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 1 if bad else 0
    if not ctx.has_history and outcomes:
        print("说明：未提供上一轮数据，“累计数不得小于上轮”“进展情况与上轮相同”等需要历史数据的检查已跳过。")
    for name, what in documents.items():
        print(f"\n{name}：附件（{what}），不是报表，不作检查；合并时登记为附件，不会退回。")
    for o in outcomes:
        verdict = refused_as(o.findings).value if o.rejected else ("有错误" if o.errors else "通过")
        print(f"\n{o.file}（{o.unit_name or '单位未识别'}）：{verdict}，错误 {o.errors} 处，提示 {o.notices} 处")
        if o.findings:
            print(findings_table(o.findings))
    return 1 if bad else 0


def _returns_in(paths: list[Path], scratch: Path, limits, documents: dict[str, str]) -> Iterator[tuple[Path, str]]:
    """The files to check, as the merge would take them: a zip archive or a saved mail is opened
    (its files saved under ``scratch``, labelled ``包.zip/报表.xlsx``), a document is put in
    ``documents`` with what it is, anything else is a return (the reader judges it)."""
    from .intake import zip_entries
    from .mail.parse import parse_mail_file
    from .read import Content, classify
    from .receipts import EMPTY_ARCHIVE, MAIL_WITHOUT_ATTACHMENTS, UNREADABLE_MAIL
    from .store import safe_name

    queue = [(path, path.name, 0) for path in paths]
    saved = 0  # files taken out of containers, each in a folder of its own under scratch
    while queue:
        path, label, depth = queue.pop(0)
        kind, what = classify(path, limits)
        if kind is Content.DOCUMENT:
            documents[label] = what
            continue
        if kind is Content.WORKBOOK or depth >= 2:
            yield path, label
            continue
        if kind is Content.ARCHIVE:
            members = list(zip_entries(path, limits))
            empty = EMPTY_ARCHIVE
        else:
            try:
                mail = parse_mail_file(path)
            except Exception:  # noqa: BLE001 - a broken mail is described, never a crash
                documents[label] = UNREADABLE_MAIL
                continue
            members = [(a.name or "附件", a.data) for a in mail.attachments]
            empty = MAIL_WITHOUT_ATTACHMENTS
        if not members:
            documents[label] = empty
        for n, (name, data) in enumerate(members):
            saved += 1
            target = scratch / str(saved) / safe_name(Path(name).name or "附件")
            target.parent.mkdir()
            target.write_bytes(data)
            queue.insert(n, (target, f"{label}/{name}", depth + 1))


def cmd_merge(args) -> int:
    from .merge import run_merge
    from .render import merge_summary

    ws = _workspace(args)
    result = run_merge(ws, args.round, now=_now(args), log=print)
    print(merge_summary(result))
    return 1 if result.needs_attention else 0


def cmd_status(args) -> int:
    from .merge import round_status
    from .render import status_table

    ws = _workspace(args)
    status = round_status(ws, args.round, _now(args))
    print(status_table(status))
    return 0


def cmd_receive(args) -> int:
    from .receipts import parse_clerk_time, register

    ws = _workspace(args)
    registry = ws.registry()
    rnd = ws.pick_round(registry, args.round)
    at = parse_clerk_time(args.at) if args.at else None
    files = register(ws, rnd.name, args.files, at=at, sender=args.sender, limits=ws.limits())
    for f in files:
        r = f.receipt
        state = "" if r.new else "（已登记过）"
        print(f"  编号 {r.id}：{f.label}，{f.role.value}{'（' + f.detail + '）' if f.detail else ''}，"
              f"到达 {r.arrival:%Y-%m-%d %H:%M}（{r.basis.value}）{state}")
    print(f"轮次 {rnd.name}：已登记 {len(args.files)} 个文件。运行 ducha merge 合并，ducha log 查看收件记录。")
    return 0


def cmd_withdraw(args) -> int:
    from .receipts import withdraw

    ws = _workspace(args)
    registry = ws.registry()
    rnd = ws.pick_round(registry, args.round)
    done = withdraw(ws, rnd.name, args.ref, reason=args.reason, undo=args.undo)
    verb = "已恢复" if done.undo else "已撤回"
    for r in done.receipts:
        print(f"  {verb} 编号 {r.id}：{r.original_name}")
    print(f"轮次 {rnd.name}：{verb} {len(done.receipts)} 个文件。重新运行 ducha merge 后生效。")
    return 0


def cmd_log(args) -> int:
    from .receipts import format_log, log_lines

    ws = _workspace(args)
    registry = ws.registry()
    rnd = ws.pick_round(registry, args.round)
    if args.mail:
        from .mail.record import MailRecord
        from .mail.render import mail_log_text

        with MailRecord(ws.root) as record:
            print(mail_log_text(record.sent_mails(rnd.name), record.fetched_mails(), rnd.name))
        return 0
    lines = log_lines(ws, rnd.name)
    if not lines:
        print(f"轮次 {rnd.name} 还没有收件记录（尚未运行过 ducha merge 或 ducha receive）。")
        return 0
    print(f"轮次 {rnd.name} 收件记录（{len(lines)} 条）：")
    print(format_log(lines))
    return 0


_MAIL_WHAT = {"templates": "下发模板", "remind": "催报", "feedback": "反馈", "summary": "汇总表和报告"}


def cmd_mail(args) -> int:
    from .mail import jobs
    from .mail.render import fetch_text, send_text

    ws = _workspace(args)
    now = _now(args) if args.now else None
    if args.mail_command == "fetch":
        from .mail.fetch import fetch_returns

        fetched = fetch_returns(ws, args.round, now=now)
        print(fetch_text(fetched))
        return 2 if fetched.fatal else 0
    send = {"templates": jobs.send_templates, "remind": jobs.send_reminders, "feedback": jobs.send_feedback,
            "summary": jobs.send_summary}[args.mail_command]
    report = send(ws, args.round, now=now, dry_run=args.dry_run, log=print)
    print(send_text(report, _MAIL_WHAT[args.mail_command], args.dry_run))
    return 2 if report.fatal else (0 if report.ok and not report.problems else 1)


def cmd_schedule(args) -> int:
    import logging

    from .timetable import run_due, run_forever

    class Brief(logging.Formatter):  # the terminal gets one line; tracebacks go to the log file only
        def format(self, record: logging.LogRecord) -> str:
            return super().format(logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None}))

    ws = _workspace(args)
    ws.registry()  # a broken master stops here with its own message
    logging.getLogger("ducha").setLevel(logging.INFO)
    (ws.root / ".ducha").mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(ws.root / ".ducha" / "schedule.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("ducha").addHandler(handler)
    if args.once or args.now:
        from .mail.jobs import china_now

        now = _now(args) if args.now else china_now()
        result = run_due(ws, now)
        for line in result.lines:
            print(line)
        for key, reason in result.failed:
            print(f"未完成：{key}：{reason}（下次检查时重试）", file=sys.stderr)
        for key, reason, after in result.waiting:
            print(f"等待重试：{key}（上次失败：{reason}），{after[:16].replace('T', ' ')} 后重试", file=sys.stderr)
        print(f"{now:%Y-%m-%d %H:%M} 检查完毕：完成 {len(result.ran)} 项，未完成 {len(result.failed) + len(result.waiting)} 项。")
        return 1 if result.failed or result.waiting else 0
    console = logging.StreamHandler()
    console.setFormatter(Brief("%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S"))
    logging.getLogger("ducha").addHandler(console)
    print(f"ducha 时间表已启动（工作区 {ws.root}，北京时间），每分钟检查一次；日志写入 .ducha/schedule.log。按 Ctrl+C 停止。")
    try:
        run_forever(ws)
    except KeyboardInterrupt:
        print("时间表已停止。")
    return 0


COMMANDS = {
    "demo": cmd_demo, "init": cmd_init, "templates": cmd_templates, "check": cmd_check,
    "merge": cmd_merge, "status": cmd_status, "receive": cmd_receive, "withdraw": cmd_withdraw, "log": cmd_log,
    "mail": cmd_mail, "schedule": cmd_schedule,
}


def safe_streams() -> None:
    """Never die on a character the console cannot show (e.g. a GBK console)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]  # a TextIOWrapper, or skipped
        except (AttributeError, ValueError):
            pass


def crash_log(exc: BaseException) -> Path:
    folder = Path(tempfile.gettempdir())
    path = folder / f"ducha-error-{datetime.now():%Y%m%d-%H%M%S}.log"
    path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    safe_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except MasterWorkbookError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except DuchaError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("已取消。", file=sys.stderr)
        return 2
    except PermissionError as exc:
        print(f"错误：无法写入 {exc.filename}，文件可能正在 Excel/WPS 中打开。请关闭该文件后重新运行。", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"错误：文件操作失败：{exc.filename or ''} {exc.strerror or exc}。请检查磁盘空间和文件夹权限。",
              file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the clerk
        path = crash_log(exc)
        print(f"错误：程序内部错误（{type(exc).__name__}）。详细信息已写入 {path}，请将该文件发给维护人员。",
              file=sys.stderr)
        return 2


def entry() -> None:
    sys.exit(main())
