"""Reading and checking many returns on every core, results in input order.

:func:`check_files` does for a list of files exactly what :func:`examine` does for
one — read it (a file that cannot be read becomes a 拒收 finding, never an
exception) and check it against the round's context — but spreads the files over a
pool of worker processes. Each worker receives the check context once, when it
starts (inherited through ``fork`` on Linux, pickled once per worker elsewhere),
and sends back per file only the :class:`~toolkit.check.Outcome` and, when
``keep(outcome)`` asks for it, the :class:`~toolkit.intake.ReturnFile` (a file
needing a marked-up feedback copy). The per-file limits are those of the reader:
the xlsx reader's clock and cell limits run inside the worker; xls/ods/xlsb files
are read by python-calamine in a further forked child with its memory and CPU caps,
which is why the workers are ordinary (non-daemonic) processes.

Small batches, a single core, or a platform without process support run in-process,
and a pool that breaks (a worker killed from outside) finishes the remaining files
in-process: the results never depend on how they were computed.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from .check import CheckContext, Outcome, check_return
from .errors import ReadError
from .findings import make
from .intake import ReturnFile, read_return
from .reader import Limits

#: Below this many files a pool costs more than it saves (worker start-up ≈ one file's check).
MIN_PARALLEL = 8
#: Files per task sent to a worker: large enough to amortise the round trip, small enough to balance.
MAX_CHUNK = 8


@dataclass
class Checked:
    """One file's verdict; ``ret`` is the file as read, kept only when asked for."""

    outcome: Outcome
    ret: ReturnFile | None = None


Keep = Callable[[Outcome], bool]


def needs_feedback(outcome: Outcome) -> bool:
    """Whether the merge may mark this file up: any finding at check time means a feedback copy.

    (The merge's own notices — late, superseded, duplicate — are added after the check
    and never need the workbook; an unreadable file has no workbook to keep.)"""
    return bool(outcome.findings)


def keep_all(_outcome: Outcome) -> bool:
    return True


def keep_none(_outcome: Outcome) -> bool:
    return False


def examine(path: Path, ctx: CheckContext, limits: Limits = Limits(), name: str | None = None
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


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_files(files: Sequence[tuple[Path, str]], ctx: CheckContext, limits: Limits = Limits(), *,
                workers: int | None = None, keep: Keep = needs_feedback,
                on_result: Callable[[int, Checked], None] | None = None) -> list[Checked]:
    """Read and check every (path, label); one :class:`Checked` per file, in input order.

    ``workers``: processes to use (default: every core this process may use; 1 runs
    in-process). ``keep(outcome)``: whether to hand back the file as read (default:
    when it has findings, for the feedback copy). ``on_result(i, checked)`` is called
    in the calling process, in input order, as results arrive (progress, log lines).
    """
    items = list(files)
    wanted = default_workers() if workers is None else max(1, workers)
    wanted = min(wanted, len(items) // (MIN_PARALLEL // 2) or 1)
    results: list[Checked] = []
    done = 0
    if wanted > 1 and len(items) >= MIN_PARALLEL and _context() is not None:
        try:
            for checked in _parallel(items, ctx, limits, keep, wanted):
                results.append(checked)
                if on_result is not None:
                    on_result(done, checked)
                done += 1
        except (BrokenProcessPool, OSError):
            pass  # a worker was killed from outside, or no process could start: finish in-process
    for i in range(done, len(items)):
        checked = _check_one(items[i], ctx, limits, keep)
        results.append(checked)
        if on_result is not None:
            on_result(i, checked)
    return results


def _check_one(item: tuple[Path, str], ctx: CheckContext, limits: Limits, keep: Keep) -> Checked:
    path, label = item
    outcome, ret = examine(path, ctx, limits, name=label)
    return Checked(outcome, ret if ret is not None and keep(outcome) else None)


def _context():
    """fork where it exists (the context is inherited, not pickled); spawn elsewhere."""
    try:
        methods = multiprocessing.get_all_start_methods()
    except (ImportError, NotImplementedError):
        return None
    for method in ("fork", "spawn"):
        if method in methods:
            return multiprocessing.get_context(method)
    return None


def _parallel(items: list[tuple[Path, str]], ctx: CheckContext, limits: Limits, keep: Keep,
              workers: int) -> Iterator[Checked]:
    chunk = max(1, min(MAX_CHUNK, len(items) // (workers * 8)))
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_init,
                                   initargs=(ctx, limits, keep))
    try:
        yield from executor.map(_work, items, chunksize=chunk)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


# -- in the worker -------------------------------------------------------------------------

_STATE: tuple[CheckContext, Limits, Keep] | None = None


def _init(ctx: CheckContext, limits: Limits, keep: Keep) -> None:
    global _STATE
    _STATE = (ctx, limits, keep)


def _work(item: tuple[Path, str]) -> Checked:
    assert _STATE is not None, "worker not initialised"
    ctx, limits, keep = _STATE
    return _check_one(item, ctx, limits, keep)
