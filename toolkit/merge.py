"""A round's merge: inbox → check → archive → feedback → maths → all outputs.

Every file in the round's inbox is read and identified by its content. Accepted
originals are archived unchanged (content-addressed), departments whose files
had problems get a marked-up copy in ``feedback/``, the accepted figures are
computed into result rows, and the five outputs of DESIGN.md are written, each
atomically. Rerunning on the same inbox gives the same results.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from . import indicators
from .cache import OutcomeCache, context_key
from .check import CheckContext, Outcome, check_return
from .errors import ReadError
from .findings import Code, Finding, Level, make
from .intake import ReturnFile, expand_zip, read_return, zip_members
from .model import Entry, Registry, Round, RoundResult, Submission
from .reader import Limits, is_skippable
from .store import IntakeLog, WorkspaceLock, archive_file, cleanup_temp, safe_name, sha256_file
from .workspace import Workspace

Log = Callable[[str], None]
MERGE_NOTICES = (Code.W308, Code.W309, Code.W312)
#: Files that are no spreadsheet at all get a reply text but no marked-up copy.
UNREADABLE = (Code.F101, Code.F102, Code.F103, Code.F104, Code.F105, Code.F106, Code.F107, Code.F108, Code.F109)


def output_names(round_name: str) -> dict[str, str]:
    return {
        "summary": f"汇总表_{round_name}.xlsx",
        "ledger": f"台账_{round_name}.xlsx",
        "report": f"进展情况报告_{round_name}.docx",
        "check": f"校验报告_{round_name}.xlsx",
        "csv": "results.csv",
    }


@dataclass
class _Seen:
    submission: Submission
    outcome: Outcome
    ret: ReturnFile | None  # None when unreadable, or taken from the cache


def inbox_files(folder: Path) -> list[Path]:
    """Files a merge looks at: every regular file, lock files and hidden files skipped."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not is_skippable(p))


def unpacked(ws: Workspace, rnd: Round, files: list[Path], limits: Limits) -> list[tuple[Path, str]]:
    """(path, label) of every return: a zip archive of returns counts as its spreadsheets."""
    out: list[tuple[Path, str]] = []
    for path in files:
        members = expand_zip(path, ws.state(rnd.name) / "unzipped" / sha256_file(path)[:16], limits) \
            if zip_members(path) else []
        out.extend(members or [(path, path.name)])
    return out


def received_at(path: Path) -> datetime:
    """When a file arrived: its modification time (fetch-mail sets it to the mail's date)."""
    return datetime.fromtimestamp(path.stat().st_mtime)


def examine(path: Path, ctx: CheckContext, limits: Limits, name: str | None = None
            ) -> tuple[Outcome, ReturnFile | None]:
    """Read and check one file; a file that cannot be read becomes a 拒收 finding."""
    label = name or path.name
    try:
        ret = read_return(path, limits, name=label)
    except ReadError as exc:
        out = Outcome(file=label)
        out.findings.append(make(exc.code, file=label, sheet=exc.sheet, detail=exc.detail))
        return out, None
    return check_return(ret, ctx), ret


def run_merge(ws: Workspace, round_name: str | None = None, *, now: datetime | None = None,
              log: Log = lambda _msg: None) -> RoundResult:
    """Merge a round; returns the result with the paths of everything written."""
    registry = ws.registry()
    now = now or datetime.now()
    rnd = ws.pick_round(registry, round_name, now.date())
    limits = ws.limits()
    with WorkspaceLock(ws.root, purpose=f"合并 {rnd.name}"):
        ws.make_round_dirs(rnd.name)
        # Under the lock nobody else writes here: any temp file is left by a killed merge.
        for part in ("output", "feedback", "archive"):
            cleanup_temp(ws.round_dir(rnd.name, part), older_than=0)
        return _merge_locked(ws, registry, rnd, now, limits, log)


def _context(ws: Workspace, registry: Registry, rnd: Round) -> CheckContext:
    prev = ws.previous_round(registry, rnd)
    previous = ws.load_entries(prev.name) if prev else None
    return CheckContext(registry=registry, round=rnd, previous=previous or {}, has_history=previous is not None,
                        settings=ws.check_settings())


def _cache(ws: Workspace, registry: Registry, rnd: Round, limits: Limits) -> OutcomeCache:
    prev = ws.previous_round(registry, rnd)
    history = ws.state(prev.name) / "entries.json" if prev else None
    key = context_key(registry, rnd.name, history, limits, ws.check_settings())
    return OutcomeCache(ws.state(rnd.name) / "cache", key, registry)


def _merge_locked(ws: Workspace, registry: Registry, rnd: Round, now: datetime, limits: Limits,
                  log: Log) -> RoundResult:
    ctx = _context(ws, registry, rnd)
    cache = _cache(ws, registry, rnd, limits)
    files = unpacked(ws, rnd, inbox_files(ws.inbox(rnd.name)), limits)
    if files:
        log(f"轮次 {rnd.name}：收件箱中有 {len(files)} 个文件")
    else:
        log(f"轮次 {rnd.name}：收件箱 {ws.inbox(rnd.name)} 中没有文件，各单位均按未报送处理。"
            "请把收到的报表放进该文件夹后重新运行。")
    seen: list[_Seen] = []
    by_hash: dict[str, Submission] = {}
    for i, (path, label) in enumerate(files, start=1):
        digest = sha256_file(path)
        sub = Submission(file=label, path=path, sha256=digest, received=received_at(path))
        if digest in by_hash:
            first = by_hash[digest]
            out = Outcome(file=label, unit_name=first.unit)
            out.findings.append(make(Code.W312, file=label, unit=first.unit, detail=first.file))
            # the same content as a file already taken: it shares that file's verdict, never wins
            sub.unit, sub.reason = first.unit, f"与 {first.file} 相同"
            sub.accepted, sub.superseded = first.accepted, True
            seen.append(_Seen(sub, out, None))
            log(f"  [{i}/{len(files)}] {label}：与 {first.file} 内容相同，跳过")
            continue
        by_hash[digest] = sub
        cached, ret = cache.get(digest, label), None
        if cached is not None:
            outcome = cached
        else:
            outcome, ret = examine(path, ctx, limits, name=label)
            cache.put(digest, outcome)
        sub.unit = outcome.unit_name
        sub.accepted = not outcome.rejected
        if outcome.rejected:
            sub.reason = next(f.message for f in outcome.findings if f.level is Level.REJECT)
        seen.append(_Seen(sub, outcome, ret))
        verdict = "接受" if sub.accepted else "拒收"
        log(f"  [{i}/{len(files)}] {label}：{outcome.unit_name or '未识别单位'}，{verdict}"
            f"（错误 {outcome.errors}，提示 {outcome.notices}）")
    winners = _pick_winners(seen, rnd)
    entries: dict[tuple[str, str], Entry] = {}
    for item in winners.values():
        for entry in item.outcome.entries:
            entries[(entry.code, entry.unit)] = entry
    _archive_and_feedback(ws, rnd, seen, log, now, registry.settings.issuer)
    findings: list[Finding] = [f for item in seen for f in item.outcome.findings]
    for item in seen:
        s = item.submission
        s.errors, s.notices = item.outcome.errors, item.outcome.notices
    result = build_result(registry, rnd, now, entries, [item.submission for item in seen], findings, winners)
    ws.save_entries(rnd.name, [e for e in entries.values()])
    _record_intake(ws, rnd, seen)
    write_outputs(ws, result, log)
    return result


def _pick_winners(seen: list[_Seen], rnd: Round) -> dict[str, _Seen]:
    """The latest accepted return of each unit wins; earlier ones are kept but superseded."""
    by_unit: dict[str, list[_Seen]] = {}
    for item in seen:
        if item.submission.accepted and item.outcome.unit_name and not item.submission.reason:
            by_unit.setdefault(item.outcome.unit_name, []).append(item)
    winners: dict[str, _Seen] = {}
    for unit, items in by_unit.items():
        items.sort(key=lambda it: (it.submission.received, it.submission.sha256))
        winner = items[-1]
        winners[unit] = winner
        for older in items[:-1]:
            older.submission.superseded = True
            older.outcome.findings.append(make(Code.W309, file=older.submission.file, unit=unit,
                                               detail=winner.submission.file))
        sub = winner.submission
        if sub.received and sub.received.date() > rnd.deadline:
            sub.late = True
            winner.outcome.findings.append(make(
                Code.W308, file=sub.file, unit=unit, value=sub.received.strftime("%Y-%m-%d %H:%M"),
                detail=f"{rnd.deadline.isoformat()} 24:00"))
    return winners


def correction_deadline(rnd: Round, now: datetime) -> date:
    """By when a department should send its corrected file: the round's deadline while it is
    still ahead, else two working days from now."""
    if now.date() <= rnd.deadline:
        return rnd.deadline
    day, left = now.date(), 2
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def _archive_and_feedback(ws: Workspace, rnd: Round, seen: list[_Seen], log: Log, now: datetime,
                          office: str) -> None:
    from .feedback import feedback_name, reply_text, write_feedback

    archive = ws.archive(rnd.name)
    feedback = ws.feedback(rnd.name)
    for item in seen:
        sub = item.submission
        if sub.accepted and not sub.reason:
            unit_code = item.outcome.unit.code if item.outcome.unit else ""
            sub.archived, _ = archive_file(sub.path, archive, unit_code=unit_code, original_name=sub.file)
        own = [f for f in item.outcome.findings if f.code not in MERGE_NOTICES]
        if not own or sub.reason.startswith("与 "):
            continue
        marked = feedback / feedback_name(sub.path)
        if item.ret is None and marked.exists():  # already checked and marked up in an earlier run
            sub.feedback = marked
            continue
        try:
            if any(f.level is not Level.REJECT or f.code not in UNREADABLE for f in own):
                workbook = item.ret.workbook if item.ret is not None else None
                sub.feedback = write_feedback(sub.path, item.outcome, feedback, workbook=workbook,
                                              round_name=rnd.name)
            due = correction_deadline(rnd, now)
            subject, body = reply_text(item.outcome, office=office, round_name=rnd.name,
                                       deadline=f"{due.month}月{due.day}日")
            stem = Path(safe_name(sub.file)).stem
            (feedback / f"{stem}_回复.txt").write_text(f"主题：{subject}\n\n{body}\n", encoding="utf-8")
        except OSError as exc:
            log(f"  警告：无法为 {sub.file} 生成反馈文件（{exc}），请检查 feedback 文件夹是否被占用。")


def build_result(registry: Registry, rnd: Round, now: datetime, entries: dict[tuple[str, str], Entry],
                 submissions: list[Submission], findings: list[Finding], winners: dict[str, _Seen]) -> RoundResult:
    settings = registry.settings
    titles = {cat.sheet: cat.title for cat in registry.categories}
    tp, rows = indicators.compute(registry.indicators(), entries, round_name=rnd.name, titles=titles,
                                  cutoff=rnd.cutoff, year=settings.year, basis=settings.basis,
                                  tolerance=settings.tolerance)
    late_units = {u for u, item in winners.items() if item.submission.late}
    for row in rows:
        row.late = row.unit in late_units
    expected = [u.name for u in registry.reporting_units()]
    result = RoundResult(registry=registry, round=rnd, now=now, time_progress=tp, rows=rows,
                         submissions=submissions, findings=findings, expected_units=expected)
    result.on_time_units = [u for u in expected if u in winners and u not in late_units]
    result.late_units = [u for u in expected if u in late_units]
    result.missing_units = [u for u in expected if u not in winners]
    return result


def write_outputs(ws: Workspace, result: RoundResult, log: Log = lambda _m: None) -> dict[str, Path]:
    from .outputs import write_check_report, write_ledger, write_results_csv, write_summary
    from .report import write_report

    folder = ws.output(result.round.name)
    folder.mkdir(parents=True, exist_ok=True)
    names = output_names(result.round.name)
    writers = {
        "summary": write_summary, "ledger": write_ledger, "report": write_report,
        "check": write_check_report, "csv": write_results_csv,
    }
    for key, writer in writers.items():
        result.outputs[key] = writer(result, folder / names[key])
        log(f"  已生成 {result.outputs[key]}")
    return result.outputs


def _record_intake(ws: Workspace, rnd: Round, seen: list[_Seen]) -> None:
    ws.intake_db.parent.mkdir(parents=True, exist_ok=True)
    with IntakeLog(ws.intake_db) as db:
        for item in seen:
            sub = item.submission
            if db.seen(rnd.name, sub.sha256):
                continue
            verdict = "拒收" if not sub.accepted else ("重复" if sub.reason else "接受")
            db.record(rnd.name, sub.file, sub.sha256, sub.path.stat().st_size if sub.path.exists() else 0,
                      sub.received, sub.unit, verdict, item.outcome.errors, item.outcome.notices,
                      str(sub.archived.name) if sub.archived else "", sub.reason)


def round_status(ws: Workspace, round_name: str | None = None, today: date | None = None) -> dict:
    """Who has reported, late, missing, rejected — without writing any output."""
    registry = ws.registry()
    today = today or date.today()
    rnd = ws.pick_round(registry, round_name, today)
    ctx = _context(ws, registry, rnd)
    limits = ws.limits()
    cache = _cache(ws, registry, rnd, limits)
    seen: list[_Seen] = []
    for path, label in unpacked(ws, rnd, inbox_files(ws.inbox(rnd.name)), limits):
        sub = Submission(file=label, path=path, sha256=sha256_file(path), received=received_at(path))
        cached, ret = cache.get(sub.sha256, label), None  # what the last merge read, if anything
        if cached is not None:
            outcome = cached
        else:
            outcome, ret = examine(path, ctx, limits, name=label)
        sub.unit, sub.accepted = outcome.unit_name, not outcome.rejected
        sub.errors, sub.notices = outcome.errors, outcome.notices
        if outcome.rejected:
            sub.reason = next(f.message for f in outcome.findings if f.level is Level.REJECT)
        seen.append(_Seen(sub, outcome, ret))
    winners = _pick_winners(seen, rnd)
    rows = []
    for unit in registry.reporting_units():
        mine = [s for s in seen if s.submission.unit == unit.name]
        chosen: Submission | None
        if unit.name in winners:
            chosen = winners[unit.name].submission
            state = "逾期报送" if chosen.late else "按时报送"
            if chosen.errors:
                state += f"（{chosen.errors} 处待更正）"
        elif mine:
            state, chosen = "被拒收", mine[-1].submission
        else:
            overdue = today > rnd.deadline
            state, chosen = ("未报送（已逾期）" if overdue else "未报送"), None
        rows.append({"单位编号": unit.code, "单位名称": unit.name, "状态": state,
                     "文件": chosen.file if chosen else "", "收到时间": chosen.received.strftime("%Y-%m-%d %H:%M")
                     if chosen and chosen.received else "", "原因": chosen.reason if chosen and not chosen.accepted else ""})
    unknown = [s.submission for s in seen if not s.submission.unit]
    return {"round": rnd, "rows": rows, "unidentified": unknown, "today": today}


def set_received(path: Path, when: datetime) -> None:
    """Stamp a file's arrival time (used by the demo and by fetch-mail)."""
    ts = when.timestamp()
    os.utime(path, (ts, ts))
