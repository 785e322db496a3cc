"""One output written in a forked child while the merge writes the others.

The five outputs are independent renderings of one :class:`~toolkit.standing.Standing`.
On POSIX a child forked after the standing is built inherits it as it is (nothing is
pickled on the way in); only the writer's return value, or its exception, comes back
through a pipe. Where there is no ``fork`` (Windows) or no second core, or the round is
small, the writers simply run one after another: the outputs never depend on how they
were written.

An exception in the child comes back as the same exception (a :class:`DuchaError` keeps
its Chinese message, so the clerk reads the same one line); a child that dies without a
word becomes a :class:`WorkspaceError` saying so.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from ..errors import DuchaError, WorkspaceError

#: Below this many result rows a round's outputs take well under a second: no child.
MIN_ROWS = 2000


def can_fork() -> bool:
    """Whether this platform forks and there is a second core to run a child on (``DUCHA_WORKERS=1``,
    which keeps the merge to one process, says there is not)."""
    from ..pool import default_workers

    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1 \
        and default_workers() > 1


def worth_a_child(standing: Any) -> bool:
    """Whether work on this round's standing goes to a forked child: a round of at least
    :data:`MIN_ROWS` result rows, on a platform that forks, with a second core (:func:`can_fork`)."""
    return len(standing.rows) >= MIN_ROWS and can_fork()


class Forked:
    """``fn(*args)`` running in a forked child; :meth:`result` waits for its value."""

    def __init__(self, label: str, fn: Callable[..., Any], *args: Any):
        self.label = label
        ctx = multiprocessing.get_context("fork")
        self._receive, send = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_child, args=(send, fn, args), daemon=True,
                                    name=f"ducha-{label}")
        self._process.start()
        send.close()  # the child holds the sending end: EOF here when it is gone

    def result(self) -> Any:
        """The child's return value; its exception raised here."""
        try:
            kind, payload = self._receive.recv()
        except (EOFError, OSError):
            self._process.join()
            raise WorkspaceError(
                f"生成{self.label}的子进程意外退出（退出码 {self._process.exitcode}），未能生成该文件。"
                "请检查磁盘空间和内存后重新运行合并。") from None
        finally:
            self._receive.close()
        self._process.join()
        if kind == "error":
            raise payload
        return payload

    def cancel(self) -> None:
        """Stop the child if it still runs (the merge stopped for another reason)."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()


def _child(send: Connection, fn: Callable[..., Any], args: tuple) -> None:
    # What the child inherits is the merge's heap, alive until the child ends: frozen, the child's
    # collections never walk it (at 1,000 returns each walk cost 0.3–0.6 s and touched every page).
    gc.freeze()
    try:
        value = fn(*args)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        send.send(("error", _portable(exc)))
    else:
        send.send(("ok", value))
    finally:
        send.close()


def _portable(exc: BaseException) -> BaseException:
    """``exc`` as it can cross the pipe: itself when it pickles and comes back whole (no traceback
    travels), else a DuchaError with its message, or a RuntimeError naming it."""
    try:
        back = pickle.loads(pickle.dumps(exc))
        if type(back) is type(exc) and str(back) == str(exc):
            return exc.with_traceback(None)
    except Exception:  # noqa: BLE001 - an exception that does not pickle is described instead
        pass
    if isinstance(exc, DuchaError):
        return DuchaError(str(exc))
    return RuntimeError(f"{type(exc).__name__}: {exc}")
