"""A round's merge: receipts → check → archive → feedback → maths → all outputs.

A merge works from the round's record (:mod:`toolkit.receipts`), not from what the
inbox holds at the moment: new files in the inbox are received on the way, and
every received file that is not withdrawn is read and identified by its content.
Accepted originals are archived unchanged (content-addressed), departments whose
files had problems get a marked-up copy in ``feedback/``, the accepted figures are
computed into result rows, and the five outputs of DESIGN.md are written, each
atomically. Rerunning gives the same results, also after the inbox was tidied.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import indicators
from .cache import OutcomeCache, context_key
from .check import Outcome
from .findings import Code, Finding, Level, make
from .formatting import TIME_PROGRESS_PLACES, cn_month_day
from .intake import ReturnFile
from .model import Entry, Registry, ResultRow, Round, Submission
from .pool import Ahead, default_workers, examine, map_ordered, needs_grid  # examine: the merge's, patched in tests
from .progress import Bar, progress
from .read import Limits, Workbook
from .receipts import Role, RoundFile, round_files
from .snapshot import Basis, Pick, RegistryChange, RoundContext
from .standing import CategoryRound, Fate, FileStanding, History, LagItem, Standing, build_standing, refused_as
from .store import (
    HashMemo,
    IntakeLog,
    WorkspaceLock,
    archive_files,
    atomic_write,
    cleanup_temp,
    safe_name,
    sha256_file,
)
from .values import half_up
from .workspace import RESULTS_CSV, Workspace

if TYPE_CHECKING:
    from .outputs.forked import Forked

Log = Callable[[str], None]
log = logging.getLogger(__name__)
#: Files that are no spreadsheet at all get a reply text but no marked-up copy.
UNREADABLE = (Code.F101, Code.F102, Code.F103, Code.F104, Code.F105, Code.F106, Code.F107, Code.F108, Code.F109)


def output_names(round_name: str) -> dict[str, str]:
    return {
        "summary": f"汇总表_{round_name}.xlsx",
        "ledger": f"台账_{round_name}.xlsx",
        "report": f"进展情况报告_{round_name}.docx",
        "check": f"校验报告_{round_name}.xlsx",
        "csv": RESULTS_CSV,
    }


@dataclass
class _Seen:
    submission: Submission
    outcome: Outcome
    ret: ReturnFile | None  # the file as read, kept only where its feedback copy needs the grid
    pick: Pick | None = None  # the registry it was checked against
    read_now: bool = False  # read (successfully) and checked by this run, not taken from the cache


@dataclass
class _Checked:
    """What a worker sends back for one file (:func:`_check_job`)."""

    outcome: Outcome
    pick: Pick
    ret: ReturnFile | None  # only where the feedback copy needs the grid (:func:`toolkit.pool.needs_grid`)
    read: bool  # the file could be read


def _check_job(item: tuple[Path, str, str], shared: tuple[RoundContext, OutcomeCache | None, Limits]) -> _Checked:
    """Read and check one file in a worker of :class:`toolkit.pool.Ahead`, and remember the
    outcome in the cache (``None``: do not)."""
    path, label, digest = item
    ctx, cache, limits = shared
    outcome, ret = examine(path, ctx, limits, name=label)
    pick = ctx.pick(ret)
    if cache is not None:
        cache.put(digest, outcome, pick)
    return _Checked(outcome, pick, ret if ret is not None and needs_grid(outcome, ret) else None, ret is not None)


def _same_unit_objects(outcome: Outcome, pick: Pick, ctx: RoundContext) -> None:
    """An outcome made in a worker names its unit by a copy: name the registry's own object, as
    an outcome made here does."""
    if outcome.unit is None:
        return
    registry = ctx.registry_for(pick)
    unit = registry.unit_by_code(outcome.unit.code) if outcome.unit.code else None
    unit = unit or registry.units.get(outcome.unit.name)
    if unit is not None and unit == outcome.unit:
        outcome.unit = unit


def run_merge(ws: Workspace, round_name: str | None = None, *, now: datetime | None = None,
              log: Log = lambda _msg: None) -> Standing:
    """Merge a round; returns the result with the paths of everything written.

    When nothing the outputs say has changed since they were written (same standing, same
    day, same other rounds' results), they are kept as they are: ``standing.outputs`` points at
    them and the year's history is not worked out again (``standing.history`` is None)."""
    registry = ws.registry()
    seen_at = now  # files this merge sees first arrive at its time (real now unless given)
    now = now or datetime.now()
    rnd = ws.pick_round(registry, round_name, now.date())
    limits = ws.limits()
    with WorkspaceLock(ws.root, purpose=f"合并 {rnd.name}"):
        ws.make_round_dirs(rnd.name)
        # Under the lock nobody else writes here: any temp file is left by a killed merge.
        for part in ("output", "feedback", "archive"):
            cleanup_temp(ws.round_dir(rnd.name, part), older_than=0)
        return _merge_locked(ws, registry, rnd, now, limits, log, seen_at)


def _context(ws: Workspace, registry: Registry, rnd: Round) -> RoundContext:
    """Which registry each return is checked against (its snapshot), and the previous round's figures."""
    return RoundContext(ws, registry, rnd)


def _cache(ws: Workspace, ctx: RoundContext, limits: Limits) -> OutcomeCache:
    key = context_key(ctx.round, ctx.history, limits, ctx.settings)
    return OutcomeCache(ws.state(ctx.round.name) / "cache", key, ctx.current, valid=ctx.valid)


def _read_all(ws: Workspace, rnd: Round, ctx: RoundContext, cache: OutcomeCache, limits: Limits, log: Log,
              *, remember: bool = True, seen_at: datetime | None = None) -> list[_Seen]:
    """Every file of the round's record, read and checked once (or taken from the cache).

    The inbox's new files are received first (arriving ``seen_at``, or now): see
    :func:`toolkit.receipts.round_files`.
    """
    with Ahead(_check_job, (ctx, cache if remember else None, limits)) as ahead:
        # each new file is read and checked as soon as it is stored, while the rest are received
        files = round_files(ws, rnd.name, limits=limits, now=seen_at, log=log,
                            on_stored=lambda receipt, label: ahead.offer((receipt.stored, label, receipt.sha256)))
        return _submissions(files, ctx, cache, limits, log, rnd, ws.inbox(rnd.name), ahead, remember=remember)


# ---------------------------------------------------------------------------------------
# intake: the round's received files become submissions
# ---------------------------------------------------------------------------------------

def _submissions(files: list[RoundFile], ctx: RoundContext, cache: OutcomeCache, limits: Limits, log: Log,
                 rnd: Round, inbox: Path, ahead: Ahead, *, remember: bool = True) -> list[_Seen]:
    """Read and check each received return once; attachments, repeats and withdrawn files are
    recorded, never read.

    ``files`` come from :func:`toolkit.receipts.round_files`: the receipts, not the
    inbox. Mails and archives that were opened are not submissions themselves;
    their files are. ``remember`` stores each new check in the cache. ``ahead`` holds the
    checks started while the files were received (:meth:`toolkit.pool.Ahead.offer`); the rest
    are started here.
    """
    items = [f for f in files if f.role is not Role.OPENED]
    if items:
        log(f"轮次 {rnd.name}：收到文件 {len(items)} 个")
    else:
        log(f"轮次 {rnd.name}：还没有收到任何文件，各单位均按未报送处理。"
            f"请把收到的报表放进收件箱 {inbox}（可含子文件夹、邮件 .eml/.msg、zip 压缩包），"
            "或用 ducha receive 登记后重新运行。")
    seen: list[_Seen] = []
    by_hash: dict[str, Submission] = {}
    known: dict[int, tuple[Outcome, Pick]] = {}  # receipt id -> outcome checked in an earlier run
    todo: list[tuple[Path, str, str]] = []  # (stored original, label, sha256) to read and check now
    for f in items:
        if f.role is Role.RETURN and f.receipt.stored is not None:
            job = (f.receipt.stored, f.label, f.receipt.sha256)
            # a file started while it was received is taken from its worker (it may be in the cache already)
            hit = cache.get(f.receipt.sha256, f.label) if job not in ahead else None
            if hit is not None:
                known[f.receipt.id] = hit
            else:
                todo.append(job)
    # read and checked on every core, in receipt order; the log follows as results arrive
    fresh: Generator[_Checked, None, None] = ahead.results(todo)
    with progress(len(todo), "读取校验") as bar:
        say = bar.wrap(log)
        try:
            _take_files(items, seen, by_hash, known, fresh, ctx, cache, say, bar)
        finally:
            fresh.close()
    _attribute_attachments(seen, files)
    return seen


def _take_files(items: list[RoundFile], seen: list[_Seen], by_hash: dict[str, Submission],
                known: dict[int, tuple[Outcome, Pick]], fresh: Iterator[_Checked], ctx: RoundContext,
                cache: OutcomeCache, log: Log, bar: Bar) -> None:
    """Each received file's submission, in receipt order (see :func:`_submissions`)."""
    for i, f in enumerate(items, start=1):
        receipt, label = f.receipt, f.label
        sub = Submission(file=label, path=receipt.stored or Path(receipt.original_name), sha256=receipt.sha256,
                         received=receipt.arrival, source=receipt.source, sender=receipt.sender,
                         arrival_basis=receipt.basis, order=receipt.id)
        if f.role is Role.WITHDRAWN:
            hit = cache.get(receipt.sha256, label)  # only to say whose file it was
            sub.withdrawn, sub.unit = True, hit[0].unit_name if hit is not None else ""
            seen.append(_Seen(sub, Outcome(file=label, unit_name=sub.unit), None))
            continue
        if f.role is Role.DUPLICATE:
            first = by_hash.get(receipt.sha256)
            if first is None:
                continue  # a repeated mail or archive: its files are listed once
            out = Outcome(file=label, unit_name=first.unit)
            out.findings.append(make(Code.W312, file=label, unit=first.unit, detail=first.file))
            # the same content as a file already taken: it shares that file's verdict, never wins
            sub.unit, sub.duplicate_of, sub.accepted = first.unit, first.file, first.accepted
            sub.attachment = first.attachment
            seen.append(_Seen(sub, out, None))
            log(f"  [{i}/{len(items)}] {label}：与 {first.file} 内容相同，跳过")
            continue
        by_hash[receipt.sha256] = sub
        if f.role is Role.ATTACHMENT:
            out = Outcome(file=label)
            out.findings.append(make(Code.W315, file=label, detail=f.detail))
            sub.attachment = True
            seen.append(_Seen(sub, out, None))
            log(f"  [{i}/{len(items)}] {label}：附件（{f.detail}），已登记，不作为报表读取")
            continue
        assert receipt.stored is not None
        ret: ReturnFile | None = None
        read_now = False
        if receipt.id in known:
            outcome, pick = known[receipt.id]
        else:
            job = next(fresh)
            outcome, pick, ret, read_now = job.outcome, job.pick, job.ret, job.read
            _same_unit_objects(outcome, pick, ctx)
            bar.advance()
        sub.unit = outcome.unit_name
        sub.accepted = not outcome.rejected
        sub.errors, sub.notices = outcome.errors, outcome.notices
        if outcome.rejected:
            sub.reason = next(f.message for f in outcome.findings if f.level is Level.REJECT)
        seen.append(_Seen(sub, outcome, ret, pick, read_now))
        verdict = "接受" if sub.accepted else refused_as(outcome.findings).value
        log(f"  [{i}/{len(items)}] {label}：{outcome.unit_name or '未识别单位'}，{verdict}"
            f"（错误 {outcome.errors}，提示 {outcome.notices}）")


def _attribute_attachments(seen: list[_Seen], files: list[RoundFile]) -> None:
    """An attachment that came with a return (same mail or archive) belongs to that return's unit."""
    by_receipt = {f.receipt.id: f for f in files if f.role not in (Role.DUPLICATE, Role.WITHDRAWN)}
    units: dict[int, str] = {}
    for item in seen:
        sub = item.submission
        f = by_receipt.get(sub.order)
        if f is not None and f.receipt.parent is not None and sub.unit and not sub.attachment \
                and not sub.duplicate_of:
            units.setdefault(f.receipt.parent, sub.unit)
    for item in seen:
        sub = item.submission
        f = by_receipt.get(sub.order)
        if not sub.attachment or sub.unit or sub.duplicate_of or f is None or f.receipt.parent is None:
            continue
        unit = units.get(f.receipt.parent)
        if unit:
            sub.unit = item.outcome.unit_name = unit
            item.outcome.findings[:] = [make(Code.W315, file=sub.file, unit=unit, detail=f.detail)]


def _judge_round(registry: Registry, rnd: Round, now: datetime, seen: list[_Seen], ctx: RoundContext
                 ) -> tuple[Standing, dict[tuple[str, str], Entry]]:
    """The round's standing from the files read, and the accepted entries it is built on
    (in the current registry's terms: units converted, rows the office removed left out)."""
    winners = _pick_winners(seen, rnd)
    settled = ctx.settle({u: (item.outcome, item.pick or Pick("", Basis.NONE)) for u, item in winners.items()})
    findings: list[Finding] = [f for item in seen for f in item.outcome.findings]
    standing = build_result(registry, rnd, now, settled.entries, [item.submission for item in seen], findings,
                            pending=settled.pending, registry_changes=settled.changes)
    return standing, settled.entries


def _merge_locked(ws: Workspace, registry: Registry, rnd: Round, now: datetime, limits: Limits,
                  log: Log, seen_at: datetime | None = None) -> Standing:
    with _long_lived():  # the master and the round's context
        ctx = _context(ws, registry, rnd)
        cache = _cache(ws, ctx, limits)
        seen = _read_all(ws, rnd, ctx, cache, limits, log, seen_at=seen_at)
        gc.freeze()  # the files read
        standing, entries = _judge_round(registry, rnd, now, seen, ctx)
        gc.freeze()  # the standing
        return _finish(ws, registry, rnd, standing, entries, seen, log, now)


@contextlib.contextmanager
def _long_lived() -> Iterator[None]:
    """What is in memory now lives until the merge ends, as do the files read and the standing
    (frozen again as each is made): frozen, the collections that the next steps set off do not
    walk it again and again (at 1,000 returns, ≈0.3–0.6 s each once the round is judged; at 2,000,
    ≈0.4 s of full collections while reading and judging), and neither do the children forked from
    here. Unfrozen when the merge ends."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _finish(ws: Workspace, registry: Registry, rnd: Round, standing: Standing, entries: dict[tuple[str, str], Entry],
            seen: list[_Seen], log: Log, now: datetime) -> Standing:
    """Archive, mark up, and write the outputs (unless nothing they say has changed)."""
    history = _HistoryAside.start(ws, standing)
    judged = _JudgedAside.start(standing)
    early: Forked | None = None
    try:
        _archive(ws, rnd, seen)
        _feedback(ws, rnd, seen, standing, log, now)
        _record_intake(ws, rnd, seen)
        # the history is a function of the standing and the other rounds' results.csv: those are
        # fingerprinted, so a rerun with nothing new never needs the history itself
        digest = _outputs_digest(standing, _history_sources(ws, standing), judged.result())
        if _outputs_current(ws, standing, digest):
            history.cancel()
            log(f"  本轮没有新的报表或修改，沿用已生成的输出文件（{ws.output(rnd.name)}）")
            return standing
        # the outputs that show no history are started now, beside the history's child
        early = start_early_outputs(ws, standing)
        ws.save_entries(rnd.name, list(entries.values()), registry)
        standing.history = history.result()
    except BaseException:
        history.cancel()
        judged.cancel()
        if early is not None:
            early.cancel()
        raise
    write_outputs(ws, standing, log, early=early)
    _remember_outputs(ws, standing, digest)
    return standing


_OUTPUTS_STATE = "outputs.json"


def _outputs_digest(standing: Standing, sources: bytes = b"", judged: str | None = None) -> str:
    """A fingerprint of everything the outputs say: the standing (its time of day left out: a
    rerun minutes later with nothing new says the same), where each file was archived and
    marked up, ``sources`` (what else they are worked out from: :func:`_history_sources`), the
    toolkit and the report template. ``judged``: the standing's own fingerprint
    (:func:`_standing_fingerprint`) taken when it was judged, before the archive and the
    marked-up copies (a merge takes it beside them, see :class:`_JudgedAside`)."""
    from . import __version__
    from .report import template_path

    digest = hashlib.sha256()
    digest.update((judged or _standing_fingerprint(standing)).encode())
    for item in standing.files:  # set after judging: the archive's and the marked-up copies' places
        sub = item.submission
        digest.update(f"{sub.archived}|{sub.feedback}\n".encode())
    digest.update(sources)
    digest.update(__version__.encode())
    template = template_path()
    if template is not None:
        digest.update(template.read_bytes())
    return digest.hexdigest()


def _standing_fingerprint(standing: Standing) -> str:
    """The standing's content (its time of day left out) as a sha256 hex digest (:func:`_fingerprint`)."""
    same_day = replace(standing, now=datetime.combine(standing.now.date(), datetime.min.time()), outputs={})
    digest = hashlib.sha256()
    _fingerprint(same_day, digest.update)
    return digest.hexdigest()


@dataclass
class _JudgedAside:
    """The standing's fingerprint as judged (:func:`_standing_fingerprint`), taken before the merge
    archives and marks up: in a forked child beside them for a large round (its 1–2 s are then
    off the merge's path), else here and now."""

    value: str | None = None
    child: Any = None  # toolkit.outputs.forked.Forked

    @classmethod
    def start(cls, standing: Standing) -> _JudgedAside:
        from .outputs.forked import Forked, worth_a_child

        if worth_a_child(standing):
            return cls(child=Forked("核对用指纹", _standing_fingerprint, standing))
        return cls(value=_standing_fingerprint(standing))

    def result(self) -> str | None:
        """The fingerprint, or None when the child failed (the digest is then taken from the
        standing as it is now: a rerun may write the outputs once more, never keep stale ones)."""
        if self.child is not None:
            child, self.child = self.child, None
            try:
                self.value = child.result()
            except Exception as exc:  # noqa: BLE001 - a lost fingerprint only costs a rewrite
                log.warning("核对用指纹未能在子进程中算出（%s），改在本进程计算", exc)
        return self.value

    def cancel(self) -> None:
        if self.child is not None:
            self.child.cancel()
            self.child = None


def _fingerprint(standing: Standing, feed: Callable[[bytes], object]) -> None:
    """Feed the standing's content to ``feed`` piece by piece, as its repr would give it, without
    building the repr (100 MB and more for a province): a row is given field by field, its
    indicator as a number, and a row or indicator of the same content as one given before (in
    ``headline``, ``lagging``, ``pending``) as that one's number. Only content counts, never which
    objects happen to be shared: a merge and its rerun from the cache give the same fingerprint."""
    by_id: dict[int, str] = {}  # id(row or indicator) -> its number
    by_text: dict[bytes, str] = {}  # a digest of its content -> its number (not the content: 100 MB)
    row_fields = [f.name for f in fields(ResultRow)]
    row_values, at_indicator = attrgetter(*row_fields), row_fields.index("indicator")

    def numbered(obj: object, kind: str, content: Callable[[], str]) -> str:
        number = by_id.get(id(obj))
        if number is None:
            text = content().encode()
            key = hashlib.blake2b(text, digest_size=20).digest()
            number = by_text.get(key)
            if number is None:
                number = by_text[key] = f"{kind}{len(by_text)}"
                feed(number.encode() + b"=" + text + b"\n")
            by_id[id(obj)] = number
        return number

    def row_content(r: ResultRow) -> str:
        values = list(row_values(r))
        values[at_indicator] = numbered(r.indicator, "I", lambda: repr(r.indicator))
        return "ResultRow" + repr(values)

    def row(r: ResultRow) -> str:
        return numbered(r, "R", lambda: row_content(r))

    def lag(item: LagItem) -> str:
        return f"L({row(item.row)},[{','.join(row(p) for p in item.lagging_parts)}])"

    for f in fields(standing):
        value = getattr(standing, f.name)
        if f.name in ("rows", "headline", "pending"):
            text = f"[{','.join(row(r) for r in value)}]"
        elif f.name == "lagging":
            text = f"[{','.join(lag(item) for item in value)}]"
        else:
            text = repr(value)
        feed(f"{f.name}={text}\n".encode())
    by_id.clear()  # ids are only meaningful while the objects live


def _outputs_current(ws: Workspace, standing: Standing, digest: str) -> bool:
    """Whether the round's outputs were written from this very standing and are all still there
    (then a rerun reuses them: ``standing.outputs`` is set to their paths)."""
    try:
        state = json.loads((ws.state(standing.round.name) / _OUTPUTS_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if state.get("digest") != digest:
        return False
    folder = ws.output(standing.round.name)
    paths = {key: folder / name for key, name in output_names(standing.round.name).items()}
    if not all(p.is_file() and p.stat().st_size == state.get("sizes", {}).get(key) for key, p in paths.items()):
        return False
    standing.outputs.update(paths)
    return True


def _remember_outputs(ws: Workspace, standing: Standing, digest: str) -> None:
    sizes = {key: path.stat().st_size for key, path in standing.outputs.items()}
    with atomic_write(ws.state(standing.round.name) / _OUTPUTS_STATE, "w") as fh:
        json.dump({"digest": digest, "sizes": sizes}, fh)


def _pick_winners(seen: list[_Seen], rnd: Round) -> dict[str, _Seen]:
    """The latest accepted return of each unit wins; earlier ones are kept but superseded.

    "Latest" is the latest *arrival* (:mod:`toolkit.receipts`: mail time, clerk's time or
    first sighting, never a file's modification time); ties go to the later receipt.
    A unit is late when its first accepted return arrived after the deadline (a correction
    sent later does not make a unit that reported on time late): W308 goes on the winner
    and says how that arrival time is known.
    """
    by_unit: dict[str, list[_Seen]] = {}
    for item in seen:
        sub = item.submission
        if sub.accepted and item.outcome.unit_name and not sub.duplicate_of and not sub.attachment \
                and not sub.withdrawn:
            by_unit.setdefault(item.outcome.unit_name, []).append(item)
    winners: dict[str, _Seen] = {}
    for unit, items in by_unit.items():
        items.sort(key=lambda it: (it.submission.received or datetime.min, it.submission.order))
        winner = items[-1]
        winners[unit] = winner
        for older in items[:-1]:
            older.submission.superseded = True
            older.outcome.findings.append(make(Code.W309, file=older.submission.file, unit=unit,
                                               detail=winner.submission.file))
        first = items[0].submission
        if first.received and first.received.date() > rnd.deadline:
            sub = winner.submission
            sub.late = True
            winner.outcome.findings.append(make(
                Code.W308, file=sub.file, unit=unit,
                value=f"{first.received:%Y-%m-%d %H:%M}（{first.arrival_basis.value}）",
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


#: Hashes of the archived copies, by their stat (:class:`toolkit.store.HashMemo`), in the round's state.
ARCHIVE_HASHES = "archive-hashes.json"


def _archive(ws: Workspace, rnd: Round, seen: list[_Seen]) -> None:
    """Accepted originals into the content-addressed archive, unchanged, all durable when this returns.

    They are copied together (:func:`toolkit.store.archive_files`): written and verified, made
    durable at once where the file system allows (else each is fsynced, in a few threads
    that wait for the disk together), then named; so the intake log recorded after this
    never names a copy that a power cut could take back."""
    archive = ws.archive(rnd.name)
    memo = HashMemo(ws.state(rnd.name) / ARCHIVE_HASHES)  # copies verified before are not read again
    todo = [item for item in seen if item.submission.accepted and not item.submission.duplicate_of]
    items = [(item.submission.path, item.outcome.unit.code if item.outcome.unit else "", item.submission.file,
              item.submission.sha256) for item in todo]
    # The threads are joined in there, before the merge forks again (the feedback pool, the report's child).
    threads = min(ARCHIVE_THREADS, len(todo) // ARCHIVE_PER_THREAD) if default_workers() > 1 else 0
    for item, path in zip(todo, archive_files(items, archive, memo=memo, threads=threads), strict=True):
        item.submission.archived = path
    memo.save()


#: Threads copying accepted originals into the archive where each copy is fsynced on its own
#: (no syncfs: Windows, macOS, network shares), one per this many files at least.
ARCHIVE_THREADS, ARCHIVE_PER_THREAD = 4, 8


FEEDBACK_INDEX = "index.json"


def _feedback(ws: Workspace, rnd: Round, seen: list[_Seen], standing: Standing, log: Log, now: datetime) -> None:
    """A marked-up copy of every file with problems, and a reply for each the department must act on.

    ``feedback/index.json`` lists every file with problems: its unit, the reply and the
    marked-up file, and whether the reply is still ``pending`` (a file superseded by a
    later return, or a refused one followed by an accepted one, leaves nothing pending:
    its old reply text is removed so nobody sends it).
    """
    from .feedback import feedback_name, reply_text

    folder = ws.feedback(rnd.name)
    office = standing.registry.settings.issuer
    fates = {id(f.submission): f for f in standing.files}
    plans: list[tuple[_Seen, FileStanding, Path]] = []
    jobs: dict[int, tuple[Path, Outcome, Workbook | None, str]] = {}  # plan -> marked copy to write now
    for item in seen:
        sub = item.submission
        fs = fates[id(sub)]
        if not fs.findings or fs.fate is Fate.DUPLICATE:
            continue
        # named after the file as received, its folder kept in the name: two 报表.xlsx from two
        # subfolders (or zips) get two replies
        flat = sub.file.replace("\\", "/").replace("/", "_")
        marked = folder / feedback_name(flat)
        reply = folder / f"{Path(safe_name(flat)).stem}_回复.txt"
        if not item.read_now and marked.exists():  # already checked and marked up in an earlier run
            sub.feedback = marked
        elif any(f.level is not Level.REJECT or f.code not in UNREADABLE for f in fs.findings):
            jobs[len(plans)] = (sub.path, item.outcome, item.ret.workbook if item.ret is not None else None,
                                marked.name)
        plans.append((item, fs, reply))
    written = _write_marked(jobs, folder, rnd.name)
    index: list[dict[str, object]] = []
    for n, (item, fs, reply) in enumerate(plans):
        sub = item.submission
        subject = ""
        try:
            if n in written:
                result = written[n]
                if isinstance(result, OSError):
                    raise result
                sub.feedback = result
            if fs.pending:
                due = correction_deadline(rnd, now)
                subject, body = reply_text(item.outcome, office=office, round_name=rnd.name,
                                           deadline=cn_month_day(due),
                                           attachment=sub.feedback.name if sub.feedback else "")
                with atomic_write(reply, "w") as fh:
                    fh.write(f"主题：{subject}\n\n{body}\n")
            elif reply.exists():
                reply.unlink()
        except OSError as exc:
            log(f"  警告：无法为 {sub.file} 生成反馈文件（{exc}），请检查 feedback 文件夹是否被占用。")
            continue
        unit = standing.registry.units.get(sub.unit)
        index.append({"unit": sub.unit, "unit_code": unit.code if unit else "", "file": sub.file,
                      "sha256": sub.sha256, "reply": reply.name if fs.pending else "",
                      "marked": sub.feedback.name if sub.feedback else "", "subject": subject,
                      "pending": fs.pending, "fate": fs.fate.value})
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_write(folder / FEEDBACK_INDEX, "w") as fh:
        json.dump(index, fh, ensure_ascii=False, indent=1)


def _write_marked(jobs: dict[int, tuple[Path, Outcome, Workbook | None, str]], folder: Path, round_name: str
                  ) -> dict[int, Path | OSError]:
    """Write the marked-up copies on every core; each job's path, or the OSError that stopped it.

    Two jobs for one file name (``a/b.xlsx`` and ``a_b.xlsx``) are one copy, the later one's,
    as when they were written one after the other."""
    last = {job[3]: n for n, job in jobs.items()}
    todo = [n for n in jobs if last[jobs[n][3]] == n]
    with progress(len(todo), "反馈文件") as bar:
        def done(_i: int, _result: Path | OSError) -> None:
            bar.advance()

        results = dict(zip(todo, map_ordered(_feedback_job, [jobs[n] for n in todo], (folder, round_name),
                                             on_result=done), strict=True))
    return {n: results[last[job[3]]] for n, job in jobs.items()}


def _feedback_job(job: tuple[Path, Outcome, Workbook | None, str], shared: tuple[Path, str]) -> Path | OSError:
    """One marked-up copy (:func:`toolkit.feedback.write_feedback`), in a worker of the pool."""
    from .feedback import write_feedback

    source, outcome, workbook, name = job
    folder, round_name = shared
    try:
        return write_feedback(source, outcome, folder, workbook=workbook, name=name, round_name=round_name)
    except OSError as exc:
        return exc


def build_result(registry: Registry, rnd: Round, now: datetime, entries: dict[tuple[str, str], Entry],
                 submissions: list[Submission], findings: list[Finding], *,
                 pending: frozenset[tuple[str, str]] = frozenset(),
                 registry_changes: Sequence[RegistryChange] = ()) -> Standing:
    """The maths on the accepted entries, then the round's standing (:mod:`toolkit.standing`).

    ``pending``: (指标编号, 单位名称) that are 待补报; ``registry_changes``: edits of the master
    since the templates went out (:mod:`toolkit.snapshot`).
    """
    settings = registry.settings
    titles = {cat.sheet: cat.title for cat in registry.categories}
    tp, rows = indicators.compute(registry.indicators(), entries, round_name=rnd.name, titles=titles,
                                  cutoff=rnd.cutoff, year=settings.year, basis=settings.basis,
                                  tolerance=settings.tolerance, pending=pending)
    return build_standing(registry, rnd, now, time_progress=tp,
                          time_progress_shown=half_up(tp, TIME_PROGRESS_PLACES) or Decimal(0), rows=rows,
                          submissions=submissions, findings=findings, registry_changes=registry_changes)


#: The outputs that do not show the year's history (trends, changes since the last round, runs of
#: lagging rounds): a large merge that must write starts them before the history is known.
WITHOUT_HISTORY = ("ledger", "check", "csv")


def _writers() -> dict[str, Callable[[Standing, Path], Path]]:
    """The five outputs' writers, in the order they are logged."""
    from .outputs import write_check_report, write_ledger, write_results_csv, write_summary
    from .report import write_report

    return {"summary": write_summary, "ledger": write_ledger, "report": write_report,
            "check": write_check_report, "csv": write_results_csv}


def start_early_outputs(ws: Workspace, result: Standing) -> Forked | None:
    """Start writing the outputs that show no history (:data:`WITHOUT_HISTORY`) in a forked child,
    for a large round on a machine with a second core; None otherwise (they are written with the
    others). :func:`write_outputs` takes their paths from the child."""
    from .outputs.forked import Forked, worth_a_child

    if not worth_a_child(result):
        return None
    folder = ws.output(result.round.name)
    folder.mkdir(parents=True, exist_ok=True)
    names, writers = output_names(result.round.name), _writers()
    return Forked("台账、校验报告和 results.csv", _write_aside, [(writers[k], folder / names[k]) for k in WITHOUT_HISTORY],
                  result)


def write_outputs(ws: Workspace, result: Standing, log: Log = lambda _m: None, *,
                  parallel: bool | None = None, early: Forked | None = None) -> dict[str, Path]:
    """All five outputs of the round, each written atomically; logged in their fixed order.

    With ``parallel`` (by default: on a platform that forks, with a second core, for a round
    of at least :data:`toolkit.outputs.forked.MIN_ROWS` rows) the Word report and results.csv
    are written by a forked child while this process writes the three workbooks (the two
    halves take about as long). ``early``: the child already writing the outputs that show no
    history (:func:`start_early_outputs`); then only the report is written by another child,
    beside the summary here.
    """
    from .outputs.forked import Forked, worth_a_child

    folder = ws.output(result.round.name)
    folder.mkdir(parents=True, exist_ok=True)
    names = output_names(result.round.name)
    writers = _writers()
    if parallel is None:
        parallel = worth_a_child(result)
    started = WITHOUT_HISTORY if early is not None else ()
    aside = ("report",) if early is not None else ("report", "csv") if parallel else ()
    child = Forked("进展情况报告", _write_aside, [(writers[k], folder / names[k]) for k in aside], result) \
        if aside else None
    order = list(writers)
    done: set[str] = set()
    logged = 0

    def log_done(key: str) -> None:  # the lines in the writers' order, each once its file is there
        nonlocal logged
        done.add(key)
        while logged < len(order) and order[logged] in done:
            log(f"  已生成 {result.outputs[order[logged]]}")
            logged += 1

    def collect(keys: tuple[str, ...], paths: list[Path]) -> None:
        for key, path in zip(keys, paths, strict=True):
            result.outputs[key] = path
            log_done(key)

    try:
        for key, writer in writers.items():
            if key in aside or key in started:
                continue
            result.outputs[key] = writer(result, folder / names[key])
            log_done(key)
        if early is not None:
            paths = early.result()
            early = None
            collect(WITHOUT_HISTORY, paths)
        if child is not None:
            paths = child.result()
            child = None
            collect(aside, paths)
    finally:  # a writer failed: the children are not waited for
        if child is not None:
            child.cancel()
        if early is not None:
            early.cancel()
    for key in order:  # in the writers' order, however they finished
        result.outputs[key] = result.outputs.pop(key)
    return result.outputs


def _write_aside(jobs: list[tuple[Callable[[Standing, Path], Path], Path]], result: Standing) -> list[Path]:
    """The outputs a forked child writes (:func:`write_outputs`), in order; their paths."""
    return [writer(result, path) for writer, path in jobs]


def _record_intake(ws: Workspace, rnd: Round, seen: list[_Seen]) -> None:
    """The merge's verdict on each received file, in the intake log when it changed since the last merge."""
    with IntakeLog(ws.intake_db) as db, db.transaction():
        for item in seen:
            sub = item.submission
            if sub.duplicate_of or sub.withdrawn:  # the log lists repeats and withdrawals from the receipts
                continue
            verdict = "附件" if sub.attachment else \
                ("接受" if sub.accepted else refused_as(item.outcome.findings).value)
            last = db.seen(rnd.name, sub.sha256)
            now = (verdict, sub.unit, item.outcome.errors, item.outcome.notices)
            if last and (last["verdict"], last["unit"], last["errors"], last["notices"]) == now:
                continue
            db.record(rnd.name, sub.file, sub.sha256, sub.path.stat().st_size if sub.path.exists() else 0,
                      sub.received, sub.unit, verdict, item.outcome.errors, item.outcome.notices,
                      str(sub.archived.name) if sub.archived else "", sub.reason, receipt=sub.order)


def _history_sources(ws: Workspace, standing: Standing) -> bytes:
    """What :func:`year_history` reads besides the standing: every other round's results.csv
    (by name and content hash; the master's rounds are in the standing)."""
    out = []
    for rnd in standing.registry.rounds:
        path = ws.output(rnd.name) / RESULTS_CSV
        if rnd.name != standing.round.name and path.is_file():
            out.append(f"{rnd.name}:{sha256_file(path)}")
    return "|".join(out).encode()


@dataclass
class _HistoryAside:
    """The year's history, worked out beside the merge (:meth:`start`) or when first asked for.

    For a large round (POSIX, a second core) a forked child works it out while the merge archives
    and marks up: pandas and the earlier rounds' frames never enter the merge's own memory (at
    2,000 returns they would stay there, 150 MB, through the writing of every output). The history
    comes back whole through a pipe; a child that fails gives the same error. A small round works
    it out in-process, and only when the outputs are written (a rerun with nothing new never
    imports pandas)."""

    ws: Workspace
    standing: Standing
    child: Any = None  # toolkit.outputs.forked.Forked

    @classmethod
    def start(cls, ws: Workspace, standing: Standing) -> _HistoryAside:
        from .outputs.forked import Forked, worth_a_child

        aside = cls(ws, standing)
        if worth_a_child(standing):
            aside.child = Forked("跨轮次比较", year_history, ws, standing)
        return aside

    def result(self) -> History | None:
        if self.child is None:
            return year_history(self.ws, self.standing)
        child, self.child = self.child, None
        return child.result()

    def cancel(self) -> None:
        if self.child is not None:
            self.child.cancel()
            self.child = None


def year_history(ws: Workspace, standing: Standing) -> History | None:
    """This round among the workspace's merged rounds: category progress by round, each item's
    change since the last round and its run of lagging rounds (toolkit.year); None when pandas
    cannot read the earlier rounds (the outputs are then written without the comparisons)."""
    from . import year
    from .errors import DuchaError
    from .outputs import frame_rows

    registry, name = standing.registry, standing.round.name
    try:
        current = year.results_frame(frame_rows(standing), registry.rounds)
        frame = year.year_results(ws, current=current, registry=registry)
        found = year.trends(frame, name)
        progress = year.category_progress(frame)
    except DuchaError as exc:
        log.warning("无法读取往期结果，本轮输出不含跨轮次比较：%s", exc)
        return None
    categories = [CategoryRound(round=str(r["轮次"]), category=str(r["类别"]), indicators=int(r["指标数"]),
                                average=r["平均完成率"], time_progress=r["序时进度"], lagging=int(r["滞后数"]),
                                change=r["变化"], word=str(r["较"] or ""), unsettled=int(r["未计入数"]))
                  for r in progress.to_dict("records")]
    return History(word=found.word, categories=categories, changes=dict(found.indicators),
                   streaks=dict(found.streaks))


def round_status(ws: Workspace, round_name: str | None = None, now: datetime | None = None) -> Standing:
    """The round's standing as of ``now`` — who has reported, late, missing, rejected — writing no output.

    New files in the inbox are received (a first sighting is on record, whoever looks).
    Files the last merge read are taken from the cache; new ones are read and checked
    (and not remembered in the cache).
    """
    registry = ws.registry()
    seen_at = now
    now = now or datetime.now()
    rnd = ws.pick_round(registry, round_name, now.date())
    limits = ws.limits()
    ctx = _context(ws, registry, rnd)
    seen = _read_all(ws, rnd, ctx, _cache(ws, ctx, limits), limits, lambda _msg: None, remember=False,
                     seen_at=seen_at)
    return _judge_round(registry, rnd, now, seen, ctx)[0]


def accepted_units(ws: Workspace, round_name: str, now: datetime | None = None) -> set[str]:
    """Names of the units with an accepted return in the round (on time or late)."""
    return {u.name for u in round_status(ws, round_name, now).units if u.state.reported}
