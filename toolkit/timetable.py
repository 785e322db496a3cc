"""The round's timetable (``ducha schedule``): templates out, returns in, reminders, the close.

Defaults come from the master's 轮次 sheet (统计截止日期, 报送截止日期) and may be changed in
``ducha.toml`` ``[schedule]``. Times are China time, whatever the computer's clock zone.

For each round that is still open (from its 统计截止日期 until the next round's, or 30 days
after its 报送截止日期 for the last one):

* ``templates_at`` on 统计截止日期: write the templates if they are missing, mail them;
* every ``fetch_every`` minutes: collect returns from the mailbox (when ``imap_host`` is set);
* ``remind_at``, ``remind_before`` days before 报送截止日期 and on each of the first
  ``remind_after`` working days after it: remind the units with no accepted return;
* ``close_at`` on the first working day after 报送截止日期: merge, mail the summary and the
  report to the leaders, mail the replies to the units; on the later reminder days the
  round is merged again and new replies go out before the reminders.

A tick (:func:`run_due`) does every job that is due and not yet done, so a restart or a
laptop that slept catches up instead of skipping; a reminder missed is sent once, late,
not once per missed day. Jobs done are kept in ``.ducha/schedule.sqlite``; a job that fails
is logged and tried again ``retry_minutes`` later, and never stops the other jobs or the next
tick. Every mail is also on the mail record, so nothing is ever sent twice.

:func:`run_forever` ticks every minute with the ``schedule`` library (whose jobs are neither
persistent nor rescheduled after an exception: hence one guarded job that runs each minute).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from .errors import DuchaError, WorkspaceError
from .model import Registry, Round
from .workspace import Workspace

__all__ = ["Job", "ScheduleSettings", "TickReport", "load_schedule_settings", "plan", "run_due", "run_forever"]

log = logging.getLogger("ducha.schedule")


@dataclass(frozen=True)
class ScheduleSettings:
    templates_at: clock = clock(8, 30)
    fetch_every: int = 30  # minutes; 0 never fetches
    remind_at: clock = clock(9, 0)
    remind_before: int = 1  # days before 报送截止日期
    remind_after: int = 5  # working days after it
    close_at: clock = clock(9, 0)
    retry_minutes: int = 10
    catch_up_days: int = 3  # a job missed by more than this is not done late (e.g. a round closed by hand)
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # weekend days worked (调休上班)

    def working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


_INTS = {"fetch_every": (0, 24 * 60), "remind_before": (0, 30), "remind_after": (0, 60), "retry_minutes": (1, 24 * 60),
         "catch_up_days": (0, 60)}
_TIMES = ("templates_at", "remind_at", "close_at")


def load_schedule_settings(config: dict) -> ScheduleSettings:
    section = config.get("schedule", {})
    if not isinstance(section, dict):
        raise WorkspaceError("ducha.toml 中的 [schedule] 应是一个设置段，请按示例填写。")
    kwargs: dict[str, object] = {}
    known = (*_INTS, *_TIMES, "holidays", "workdays")
    for key, value in section.items():
        if key not in known:
            raise WorkspaceError(f"ducha.toml 的 [schedule] 中没有“{key}”这一项，可用的有：{'、'.join(known)}。")
        if key in _INTS:
            low, high = _INTS[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise WorkspaceError(f"ducha.toml [schedule] {key} 应为 {low} 到 {high} 之间的整数，现为“{value}”。")
            kwargs[key] = value
        elif key in _TIMES:
            kwargs[key] = _clock(key, value)
        else:
            kwargs[key] = frozenset(_day(key, v) for v in (value if isinstance(value, list) else [value]))
    return ScheduleSettings(**kwargs)  # type: ignore[arg-type]  # checked key by key above


def _clock(key: str, value: object) -> clock:
    if isinstance(value, clock):
        return value
    m = re.fullmatch(r"\s*(\d{1,2})[:：](\d{2})\s*", str(value))
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise WorkspaceError(f"ducha.toml [schedule] {key} 应为时刻，如 \"08:30\"，现为“{value}”。")
    return clock(int(m.group(1)), int(m.group(2)))


def _day(key: str, value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise WorkspaceError(f"ducha.toml [schedule] {key} 中的“{value}”不是日期，请写成 2021-06-14。") from None


# ---------------------------------------------------------------------------------------
# the plan: which jobs exist and when they are due

@dataclass(frozen=True)
class Job:
    key: str  # e.g. templates:2021-04, remind:2021-04:2021-05-07, close:2021-04
    kind: str  # templates | remind | close | daily | fetch
    round: str
    due: datetime
    requires: tuple[str, ...] = ()  # keys that must be done first (same tick or earlier)
    latest_of: str = ""  # jobs of one series: only the latest due one runs (catch-up sends once)


def _open_until(registry: Registry, rnd: Round) -> date:
    later = [r.cutoff for r in registry.rounds if r.cutoff > rnd.cutoff]
    return min(later) if later else rnd.deadline + timedelta(days=30)


def _working_days_after(s: ScheduleSettings, day: date, count: int) -> list[date]:
    out: list[date] = []
    current = day
    while len(out) < count:
        current += timedelta(days=1)
        if s.working_day(current):
            out.append(current)
        if (current - day).days > 120:
            break
    return out


def plan(registry: Registry, s: ScheduleSettings, now: datetime) -> list[Job]:
    """Every job of every round open at ``now``, in the order a tick runs them."""
    jobs: list[Job] = []
    for rnd in registry.rounds:
        if not rnd.cutoff <= now.date() < _open_until(registry, rnd):
            continue
        name = rnd.name
        jobs.append(Job(f"templates:{name}", "templates", name, datetime.combine(rnd.cutoff, s.templates_at)))
        after = _working_days_after(s, rnd.deadline, max(s.remind_after, 1))
        close_day = after[0]
        close = Job(f"close:{name}", "close", name, datetime.combine(close_day, s.close_at))
        reminders = [rnd.deadline - timedelta(days=s.remind_before)] if s.remind_before else []
        reminders += after[:s.remind_after]
        for day in sorted(set(reminders)):
            due = datetime.combine(day, s.remind_at)
            if day > rnd.deadline:
                # after the deadline: merge again and send new replies before reminding
                if day != close_day:
                    jobs.append(Job(f"daily:{name}:{day.isoformat()}", "daily", name, due,
                                    requires=(close.key,), latest_of=f"daily:{name}"))
                jobs.append(Job(f"remind:{name}:{day.isoformat()}", "remind", name, due,
                                requires=(close.key,), latest_of=f"remind:{name}"))
            else:
                jobs.append(Job(f"remind:{name}:{day.isoformat()}", "remind", name, due,
                                requires=(f"templates:{name}",), latest_of=f"remind:{name}"))
        jobs.append(close)
    order = {"templates": 0, "close": 1, "daily": 2, "remind": 3}
    return sorted(jobs, key=lambda j: (j.due.date(), order[j.kind], j.due, j.round))


# ---------------------------------------------------------------------------------------
# state

class _State:
    """Jobs done and failed, in ``.ducha/schedule.sqlite``."""

    def __init__(self, root: Path):
        path = root / ".ducha" / "schedule.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS jobs (key TEXT PRIMARY KEY, state TEXT NOT NULL, due TEXT,"
                        " finished TEXT, attempts INTEGER NOT NULL DEFAULT 0, retry_after TEXT, error TEXT)")

    def close(self) -> None:
        self.db.close()

    def state(self, key: str) -> tuple[str, str]:
        row = self.db.execute("SELECT state, retry_after FROM jobs WHERE key = ?", (key,)).fetchone()
        return (row[0], row[1] or "") if row else ("", "")

    def error(self, key: str) -> str:
        row = self.db.execute("SELECT error FROM jobs WHERE key = ?", (key,)).fetchone()
        return (row[0] or "") if row else ""

    def done(self, key: str, due: datetime, now: datetime, state: str = "done") -> None:
        self.db.execute("INSERT INTO jobs (key, state, due, finished, attempts) VALUES (?, ?, ?, ?, 1)"
                        " ON CONFLICT(key) DO UPDATE SET state = excluded.state, finished = excluded.finished,"
                        " attempts = attempts + 1, error = NULL",
                        (key, state, due.isoformat(), now.isoformat(timespec="seconds")))

    def failed(self, key: str, due: datetime, now: datetime, retry: datetime, error: str) -> None:
        self.db.execute("INSERT INTO jobs (key, state, due, attempts, retry_after, error) VALUES (?, 'failed', ?, 1, ?, ?)"
                        " ON CONFLICT(key) DO UPDATE SET state = 'failed', attempts = attempts + 1,"
                        " retry_after = excluded.retry_after, error = excluded.error",
                        (key, due.isoformat(), retry.isoformat(timespec="seconds"), error))

    def last_fetch(self) -> datetime | None:
        row = self.db.execute("SELECT finished FROM jobs WHERE key = 'fetch'").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None


# ---------------------------------------------------------------------------------------
# a tick

@dataclass
class TickReport:
    now: datetime
    ran: list[str] = field(default_factory=list)  # job keys done in this tick
    skipped: list[str] = field(default_factory=list)  # superseded catch-ups, not run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, Chinese reason)
    waiting: list[tuple[str, str, str]] = field(default_factory=list)  # failed earlier: (key, reason, retry after)
    lines: list[str] = field(default_factory=list)  # what was done, for the clerk


def run_due(ws: Workspace, now: datetime, *, fetch: bool = True) -> TickReport:
    """Do every job due at ``now`` (naive China time) that is not yet done. Never raises for a job."""
    report = TickReport(now=now)
    try:
        registry = ws.registry()
        settings = load_schedule_settings(ws.config())
    except DuchaError as exc:
        log.error("无法读取工作区：%s", exc)
        report.failed.append(("workspace", str(exc)))
        return report
    state = _State(ws.root)
    try:
        if fetch:
            _maybe_fetch(ws, registry, settings, state, now, report)
        jobs = plan(registry, settings, now)
        due = [j for j in jobs if j.due <= now]
        latest: dict[str, str] = {}
        for job in due:
            if job.latest_of:
                latest[job.latest_of] = job.key
        for job in due:
            status, retry_after = state.state(job.key)
            if status in ("done", "superseded", "expired"):
                continue
            if job.latest_of and latest[job.latest_of] != job.key:
                state.done(job.key, job.due, now, "superseded")
                report.skipped.append(job.key)
                continue
            if now - job.due > timedelta(days=settings.catch_up_days):
                state.done(job.key, job.due, now, "expired")
                report.skipped.append(job.key)
                log.warning("%s 应在 %s 完成，已错过 %d 天以上，不再补做；如仍需要，请手动运行相应的 ducha 命令。",
                            job.key, f"{job.due:%Y-%m-%d %H:%M}", settings.catch_up_days)
                continue
            if status == "failed" and retry_after and now < datetime.fromisoformat(retry_after):
                report.waiting.append((job.key, state.error(job.key), retry_after))
                continue
            if any(state.state(k)[0] not in ("done", "expired") for k in job.requires):
                continue
            _run(ws, job, settings, state, now, report)
    finally:
        state.close()
    return report


def _run(ws: Workspace, job: Job, s: ScheduleSettings, state: _State, now: datetime, report: TickReport) -> None:
    log.info("开始：%s", job.key)
    try:
        lines = _ACTIONS[job.kind](ws, job, now)
    except Exception as exc:  # noqa: BLE001 - one failing job never stops the timetable
        reason = str(exc) if isinstance(exc, DuchaError) else f"{type(exc).__name__}: {exc}"
        log.error("任务 %s 失败：%s", job.key, reason, exc_info=not isinstance(exc, DuchaError))
        state.failed(job.key, job.due, now, now + timedelta(minutes=s.retry_minutes), reason)
        report.failed.append((job.key, reason))
        return
    state.done(job.key, job.due, now)
    report.ran.append(job.key)
    report.lines += lines
    for line in lines:
        log.info("%s", line)


def _maybe_fetch(ws: Workspace, registry: Registry, s: ScheduleSettings, state: _State, now: datetime,
                 report: TickReport) -> None:
    from .mail.settings import load_mail_settings

    if not s.fetch_every:
        return
    try:
        if not load_mail_settings(ws.config()).imap_host:
            return
    except DuchaError as exc:
        report.failed.append(("fetch", str(exc)))
        return
    open_rounds = [r for r in registry.rounds if r.cutoff <= now.date() < _open_until(registry, r)]
    if not open_rounds:
        return
    last = state.last_fetch()
    if last is not None and now - last < timedelta(minutes=s.fetch_every) and now >= last:
        return
    job = Job("fetch", "fetch", open_rounds[-1].name, now)
    _run(ws, job, s, state, now, report)


# ---------------------------------------------------------------------------------------
# what each job does (library calls only: the same functions as the command line)

def _sent_lines(what: str, result) -> list[str]:
    if result.fatal:
        raise DuchaError(result.fatal)
    sent = result.count("已发送")
    failed = [d for d in result.deliveries if d.state == "失败"]
    lines = [f"{what}：发送 {sent} 封" + (f"，已发过 {result.count('已发过')} 封" if result.count("已发过") else "")]
    lines += result.problems
    if failed:
        raise DuchaError(f"{what}有 {len(failed)} 封发送失败：{failed[0].detail}")
    return lines


def _do_fetch(ws: Workspace, job: Job, now: datetime) -> list[str]:
    from .mail.fetch import fetch_returns

    result = fetch_returns(ws, job.round, now=now)
    if result.fatal:
        raise DuchaError(result.fatal)
    return [f"收取邮件：新邮件 {result.looked_at} 封，收取报表 {len(result.taken)} 份", *result.notices] \
        if result.looked_at else []


def _do_templates(ws: Workspace, job: Job, now: datetime) -> list[str]:
    from .mail.jobs import send_templates
    from .templates import template_name, write_templates

    registry = ws.registry()
    rnd = registry.round(job.round)
    if rnd is None:
        return []
    folder = ws.templates(rnd.name)
    missing = [u for u in registry.reporting_units() if not (folder / template_name(u, rnd.name)).exists()]
    if missing:
        ws.make_round_dirs(rnd.name)
        write_templates(registry, rnd, folder, units=missing, now=now)
    return _sent_lines(f"下发 {rnd.name} 模板", send_templates(ws, rnd.name, now=now))


def _do_remind(ws: Workspace, job: Job, now: datetime) -> list[str]:
    from .mail.jobs import send_reminders

    return _sent_lines(f"{job.round} 催报", send_reminders(ws, job.round, now=now))


def _merge(ws: Workspace, job: Job, now: datetime) -> list[str]:
    from .merge import run_merge

    run_merge(ws, job.round, now=now)
    return [f"已合并 {job.round} 轮报表"]


def _do_close(ws: Workspace, job: Job, now: datetime) -> list[str]:
    from .mail.jobs import send_feedback, send_summary

    lines = _merge(ws, job, now)
    lines += _sent_lines(f"{job.round} 汇总表和报告", send_summary(ws, job.round, now=now))
    lines += _sent_lines(f"{job.round} 反馈", send_feedback(ws, job.round, now=now))
    return lines


def _do_daily(ws: Workspace, job: Job, now: datetime) -> list[str]:
    from .mail.jobs import send_feedback

    lines = _merge(ws, job, now)
    return lines + _sent_lines(f"{job.round} 反馈", send_feedback(ws, job.round, now=now))


_ACTIONS: dict[str, Callable[[Workspace, Job, datetime], list[str]]] = {
    "fetch": _do_fetch, "templates": _do_templates, "remind": _do_remind, "close": _do_close, "daily": _do_daily,
}


def china_now() -> datetime:
    from .mail.jobs import china_now as now

    return now()


def run_forever(ws: Workspace, *, clock_now: Callable[[], datetime] = china_now,
                sleep: Callable[[float], None] = time.sleep, scheduler=None, ticks: int | None = None) -> None:
    """Tick now and then every minute until stopped; ``ticks`` bounds the number of ticks (for tests)."""
    import schedule

    scheduler = scheduler or schedule.Scheduler()
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        try:
            result = run_due(ws, clock_now())
        except Exception:  # noqa: BLE001 - the next tick must still run
            log.exception("本次检查失败，一分钟后重试")
            return
        for key, reason in result.failed:
            log.warning("任务 %s 未完成：%s", key, reason)

    scheduler.every(1).minutes.do(tick)
    tick()
    while ticks is None or count < ticks:
        scheduler.run_pending()
        if ticks is not None and count >= ticks:
            break
        sleep(max(1.0, min(scheduler.idle_seconds or 60.0, 30.0)))
