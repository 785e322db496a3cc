"""Reading and checking many returns on every core, results in input order.

:func:`check_files` does for a list of files exactly what :func:`examine` does for
one — read it (a file that cannot be read becomes a 拒收 finding, never an
exception) and check it against the round's context — but spreads the files over a
pool of worker processes. Each worker receives the check context once, when it
starts (inherited through ``fork`` on Linux, pickled once per worker elsewhere),
and sends back per file only the :class:`~toolkit.check.Outcome` and, when
``keep(outcome, ret)`` asks for it, the :class:`~toolkit.intake.ReturnFile`.

By default only a file that will get a feedback copy *and* is not xlsx comes back
whole: ``feedback.write_feedback`` marks an xlsx up from the original file with
openpyxl and uses the grid only for xls/ods/xlsb (which it rebuilds). Shipping a
return back costs about half a re-read (pickling in the worker, unpickling in the
merge), so it pays only where the grid is used.

The per-file limits are those of the reader: the xlsx reader's clock and cell limits
run inside the worker; xls/ods/xlsb files are read by python-calamine in a further
forked child with its memory and CPU caps, which is why the workers are ordinary
(non-daemonic) processes. Small batches, a single core, or a platform without
process support run in-process, and a pool that breaks (a worker killed from
outside) finishes the remaining items in-process: results never depend on how
they were computed.

:func:`map_ordered` is the same machinery for any per-item job (e.g. writing the
feedback copies), given a module-level function and the data all items share.
:class:`Ahead` starts jobs before the whole list is known (the merge reads each file as
soon as it is received) and gives the final list's results in its order.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .check import CheckContext, Outcome, check_return
from .errors import ReadError
from .findings import make
from .intake import ReturnFile, read_return
from .read import Limits

T = TypeVar("T")
R = TypeVar("R")

#: Below this many items a pool costs more than it saves (starting a worker ≈ checking a file or two).
MIN_PARALLEL = 8
#: Items per task sent to a worker: large enough to amortise the round trip, small enough to balance.
MAX_CHUNK = 8


@dataclass
class Checked:
    """One file's verdict; ``ret`` is the file as read, kept only when asked for."""

    outcome: Outcome
    ret: ReturnFile | None = None


Keep = Callable[[Outcome, ReturnFile], bool]


def needs_grid(outcome: Outcome, ret: ReturnFile) -> bool:
    """Keep the grid of a file that will be marked up and cannot be marked up from the original.

    Any finding at check time means a feedback copy (the merge's own notices — late,
    superseded, duplicate — come later and never need the grid); an xlsx is marked up
    from the original file itself, so only other formats need the grid."""
    return bool(outcome.findings) and ret.workbook.format != "xlsx"


def keep_all(_outcome: Outcome, _ret: ReturnFile) -> bool:
    return True


def keep_none(_outcome: Outcome, _ret: ReturnFile) -> bool:
    return False


class PicksContext(Protocol):
    """A context that picks the check context for each return (:class:`toolkit.snapshot.RoundContext`:
    the registry the return's template was issued with)."""

    def for_return(self, ret: ReturnFile) -> CheckContext: ...


def examine(path: Path, ctx: CheckContext | PicksContext, limits: Limits = Limits(), name: str | None = None
            ) -> tuple[Outcome, ReturnFile | None]:
    """Read and check one file; a file that cannot be read becomes a 拒收 finding.

    With a :class:`PicksContext` the file is checked against the context it picks for it."""
    label = name or path.name
    try:
        ret = read_return(path, limits, name=label)
    except ReadError as exc:
        out = Outcome(file=label)
        out.findings.append(make(exc.code, file=label, sheet=exc.sheet, detail=exc.detail))
        return out, None
    return check_return(ret, ctx if isinstance(ctx, CheckContext) else ctx.for_return(ret)), ret


#: Set to a number to cap the worker processes (``DUCHA_WORKERS=1``: everything in-process,
#: e.g. on a machine shared with others, or for a test that watches calls).
WORKERS_ENV = "DUCHA_WORKERS"


def default_workers() -> int:
    """The cores this process may run on, or ``DUCHA_WORKERS`` when set to a positive number."""
    wish = os.environ.get(WORKERS_ENV, "").strip()
    if wish.isdigit() and int(wish) > 0:
        return int(wish)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_files(files: Sequence[tuple[Path, str]], ctx: CheckContext, limits: Limits = Limits(), *,
                workers: int | None = None, keep: Keep = needs_grid,
                on_result: Callable[[int, Checked], None] | None = None) -> list[Checked]:
    """Read and check every (path, label); one :class:`Checked` per file, in input order.

    ``workers``: processes to use (default: every core this process may use; 1 runs
    in-process). ``keep(outcome, ret)``: whether to hand back the file as read
    (default :func:`needs_grid`). ``on_result(i, checked)`` is called in the calling
    process, in input order, as results arrive (progress bar, log lines).
    """
    return map_ordered(_check_item, files, (ctx, limits, keep), workers=workers, on_result=on_result)


def _check_item(item: tuple[Path, str], shared: tuple[CheckContext, Limits, Keep]) -> Checked:
    path, label = item
    ctx, limits, keep = shared
    outcome, ret = examine(path, ctx, limits, name=label)
    return Checked(outcome, ret if ret is not None and keep(outcome, ret) else None)


def map_ordered(func: Callable[[T, Any], R], items: Sequence[T], shared: Any = None, *,
                workers: int | None = None, on_result: Callable[[int, R], None] | None = None,
                min_parallel: int | None = None) -> list[R]:
    """``[func(item, shared) for item in items]`` on every core, in input order.

    ``func`` must be a module-level function (spawn pickles it by name); ``shared``
    reaches each worker once. Exceptions raised by ``func`` propagate as in a loop;
    a worker that dies (killed from outside) leaves the remaining items to be done
    in-process.
    """
    results: list[R] = []
    for result in imap_ordered(func, items, shared, workers=workers, min_parallel=min_parallel):
        if on_result is not None:
            on_result(len(results), result)
        results.append(result)
    return results


def imap_ordered(func: Callable[[T, Any], R], items: Sequence[T], shared: Any = None, *,
                 workers: int | None = None, min_parallel: int | None = None) -> Generator[R, None, None]:
    """:func:`map_ordered` as a generator: each result as soon as it and all before it are done.

    The workers run ahead of the consumer; close the generator (or run it out) to stop them.
    ``min_parallel``: fewer items run in-process (default :data:`MIN_PARALLEL`)."""
    with Ahead(func, shared, workers=workers, min_parallel=min_parallel) as ahead:
        yield from ahead.results(items)


def _context():
    """fork where it exists (the shared data is inherited, not pickled); spawn elsewhere."""
    try:
        methods = multiprocessing.get_all_start_methods()
    except (ImportError, NotImplementedError):
        return None
    for method in ("fork", "spawn"):
        if method in methods:
            return multiprocessing.get_context(method)
    return None


#: Where a started item's result will be: its task's future and its place in the task.
_Slot = tuple[Future[list[tuple[bool, Any]]], int]


class Ahead:
    """Jobs started before the full list is known, results later in the list's order.

    The merge offers each file as it is received (:meth:`offer`), so both cores read and
    check while the rest of the inbox is still being received; :meth:`results` then yields
    the results of the final list in its order, using what was started ahead where the
    item is the same and doing the rest now. What was offered but is not asked for is
    dropped. Results never depend on whether an item ran ahead, in a worker or in-process.

    The workers are forked when the first ``min_parallel`` items (default :data:`MIN_PARALLEL`)
    have been offered (before this process starts any thread of its own), or by :meth:`results`
    for a list that long; with one core, ``DUCHA_WORKERS=1`` or no process support everything
    runs in-process. :func:`imap_ordered` is this with nothing offered ahead.
    """

    CHUNK = 4  # items per task while items are offered: how many will come is not known

    def __init__(self, func: Callable[[T, Any], R], shared: Any = None, *, workers: int | None = None,
                 min_parallel: int | None = None):
        self.func, self.shared = func, shared
        self.workers = default_workers() if workers is None else max(1, workers)
        self.min_parallel = MIN_PARALLEL if min_parallel is None else min_parallel
        self._executor: ProcessPoolExecutor | None = None
        self._pending: list[Any] = []
        self._waiting: list[Any] = []  # offered before the pool started
        self._futures: dict[Any, _Slot] = {}
        self._broken = self.workers < 2 or _context() is None
        self.offered = self.ahead = self.in_workers = 0  # items offered, asked for after, done by a worker

    def offer(self, item: Any) -> None:
        """Start ``item`` now if a pool runs (or once enough items were offered to start one)."""
        if self._broken or item in self._futures:
            return
        self.offered += 1
        if self._executor is None:
            self._waiting.append(item)
            if len(self._waiting) < self.min_parallel or not self._start(self.workers):
                return
            waiting, self._waiting = self._waiting, []
            for early in waiting:
                self._queue(early)
            return
        self._queue(item)

    def _start(self, workers: int) -> bool:
        try:
            self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=_context(),
                                                 initializer=_init, initargs=(self.func, self.shared))
        except (OSError, ValueError):
            self._broken = True
            return False
        return True

    def _queue(self, item: Any) -> None:
        self._pending.append(item)
        if len(self._pending) >= self.CHUNK:
            self._send_pending()

    def _send_pending(self) -> None:
        batch, self._pending = self._pending, []
        self._futures.update((item, slot) for item, slot in zip(batch, self._submit(batch), strict=True) if slot)

    def _submit(self, batch: list[Any]) -> list[_Slot | None]:
        """Send ``batch`` to a worker as one task: each item's (future, place in the task), or None
        for each when no pool takes it."""
        if not batch or self._executor is None:
            return [None] * len(batch)
        try:
            future = self._executor.submit(_work_batch, batch)
        except (BrokenProcessPool, RuntimeError, OSError):
            self._broken = True
            return [None] * len(batch)
        return [(future, i) for i in range(len(batch))]

    def __contains__(self, item: Any) -> bool:
        """Whether ``item`` was started ahead (or waits to be)."""
        return item in self._futures or item in self._pending

    def results(self, items: Sequence[T]) -> Generator[R, None, None]:
        """``func(item, shared)`` for each item, in order (see the class). Items asked for here
        need not be hashable unless some were offered."""
        items = list(items)
        self._send_pending()  # the last offered items
        ran: list[_Slot | None] = [self._futures.pop(item, None) for item in items] if self._futures \
            else [None] * len(items)
        self.ahead = sum(r is not None for r in ran)
        rest = [k for k, r in enumerate(ran) if r is None]
        if rest and not self._broken:
            # a short list gets fewer workers (starting one costs about a file or two), a long one
            # larger tasks (fewer round trips), still small enough to balance
            workers = min(self.workers, len(rest) // max(self.min_parallel // 2, 1) or 1)
            if self._executor is None and len(rest) >= self.min_parallel and workers > 1:
                self._start(workers)
            chunk = max(1, min(MAX_CHUNK, len(rest) // (self.workers * 8)))
            for at in range(0, len(rest) if self._executor is not None else 0, chunk):
                places = rest[at:at + chunk]
                for k, slot in zip(places, self._submit([items[k] for k in places]), strict=True):
                    ran[k] = slot
        for item, slot in zip(items, ran, strict=True):
            yield self._one(item, slot)

    def _one(self, item: Any, slot: _Slot | None) -> Any:
        if slot is not None and not self._broken:
            future, i = slot
            try:
                ok, value = future.result()[i]
            except (BrokenProcessPool, OSError):
                self._broken = True  # a worker was killed: the rest is done here
            else:
                self.in_workers += 1
                if ok:
                    return value
                raise value
        return self.func(item, self.shared)

    def close(self) -> None:
        """Stop the workers; what was started and not asked for is dropped."""
        self._futures.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# -- in the worker -------------------------------------------------------------------------

_JOB: tuple[Callable[[Any, Any], Any], Any] | None = None


def _init(func: Callable[[Any, Any], Any], shared: Any) -> None:
    global _JOB
    _JOB = (func, shared)
    gc.freeze()  # the inherited context lives as long as the worker: its collections skip it


def _work_batch(items: list[Any]) -> list[tuple[bool, Any]]:
    """Each item's (True, result), or (False, the exception it raised): one item's failure is its own."""
    assert _JOB is not None, "worker not initialised"
    func, shared = _JOB
    done: list[tuple[bool, Any]] = []
    for item in items:
        try:
            done.append((True, func(item, shared)))
        except Exception as exc:  # noqa: BLE001 - raised again in the merge, for this item only
            done.append((False, exc))
    return done
