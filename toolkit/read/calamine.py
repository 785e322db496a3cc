"""xls / ods / xlsb through python-calamine, in a forked, resource-capped child process.

python-calamine is fast and well kept and reads the legacy formats, but it is native
code that a hostile file can make allocate hugely or spin. So it runs in a forked
child with an address-space limit (``Limits.max_memory_bytes``) and a CPU limit, and
is killed after ``Limits.seconds``; whatever happens there comes back as a
:class:`~toolkit.errors.ReadError` with a Chinese reason. Where fork is unavailable
(Windows) it runs in-process, still guarded against every exception.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from ..errors import ReadError
from ..findings import Code
from .model import MAX_EXCEL_COL, MB, Cell, Limits, Sheet, Workbook
from .xlsx import _EPOCH_1900


def _read_with_calamine(path: Path, kind: str, limits: Limits, wanted: set[str] | None,
                        deadline: float) -> Workbook:
    import python_calamine  # noqa: F401  (loaded before the fork: the child's memory cap is for reading)

    with _named_for(path, kind) as named:
        status, payload = _isolated(_calamine_extract, (str(named), limits, wanted), limits, deadline)
    if status == "error":
        assert isinstance(payload, tuple)
        code, detail, sheet, technical = payload
        raise ReadError(Code[code], detail, sheet=sheet) from RuntimeError(technical)
    result = Workbook(path=path, format=kind)
    assert isinstance(payload, list)
    for name, state, values, merged in payload:
        sheet = Sheet(name=name, state=state, merged=list(merged))
        sheet.cells = {(r, c): _calamine_cell(v) for r, c, v in values}
        result.sheets.append(sheet)
    return result


@contextlib.contextmanager
def _named_for(path: Path, kind: str) -> Iterator[Path]:
    """``path``, or a link to it named ``book.<kind>``: calamine picks its parser by the extension,
    and an .xls or .ods that carries an .xlsx name must still be read as what it is."""
    if path.suffix.lower().lstrip(".") == kind:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="ducha-") as folder:
        named = Path(folder) / f"book.{kind}"
        try:
            os.link(path, named)
        except OSError:  # another drive, or no hard links: a copy (at most max_file_bytes)
            shutil.copyfile(path, named)
        yield named


def _calamine_error(exc: BaseException, sheet: str = "") -> tuple[Code, str]:
    """A calamine exception (English, technical) as a code and a Chinese reason."""
    text = f"{type(exc).__name__}: {exc}"
    lowered = text.lower()
    if "password" in lowered or "encrypt" in lowered:
        return Code.F103, "工作簿设置了打开密码"
    if "memory" in lowered or "failed to map" in lowered or "cannot allocate" in lowered:
        return Code.F101, "读取该文件所需内存超过上限"
    if "cell limit" in lowered or "too many" in lowered:
        if sheet:
            return Code.F108, "声明的单元格数量过多"
        return Code.F101, "工作表声明的单元格数量过多（文件疑似被刻意构造）"
    if "codepage" in lowered:
        return Code.F101, "使用了无法识别的字符编码（代码页）"
    if "cfb" in lowered or "sector" in lowered:
        return Code.F101, "旧版 xls 文件的内部结构损坏"
    if "zip" in lowered:
        return Code.F104, "压缩结构损坏"
    if "xml" in lowered:
        return Code.F101, "文件内部 XML 格式错误"
    if "eof" in lowered or "end of" in lowered or "unexpected" in lowered:
        return Code.F104, "文件数据不完整"
    return Code.F101, "文件结构异常，无法解析"


def _calamine_extract(path: str, limits: Limits, wanted: set[str] | None):
    """Runs in the child: everything the parent needs, as plain picklable data."""
    import python_calamine as pc

    try:
        book = pc.CalamineWorkbook.from_path(path)
    except Exception as exc:  # calamine raises several types (and panics); all mean "cannot read"
        code, detail = _calamine_error(exc)
        raise ReadError(code, detail) from exc
    sheets = []
    count = 0
    metadata = book.sheets_metadata
    if not metadata:
        raise ReadError(Code.F101, "工作簿中没有工作表")
    for meta in metadata:
        if wanted is not None and meta.name not in wanted:
            continue
        if meta.typ != pc.SheetTypeEnum.WorkSheet:
            continue
        if meta.visible == pc.SheetVisibleEnum.Visible:
            state = "visible"
        elif meta.visible == pc.SheetVisibleEnum.Hidden:
            state = "hidden"
        else:
            state = "veryHidden"
        try:
            data = book.get_sheet_by_name(meta.name)
        except Exception as exc:
            code, detail = _calamine_error(exc, meta.name)
            if code != Code.F108:
                detail = f"工作表“{meta.name}”：{detail}"
            raise ReadError(code, detail, sheet=meta.name) from exc
        start = data.start or (0, 0)
        if start[0] + data.height > limits.max_rows or start[1] + data.width > MAX_EXCEL_COL:
            raise ReadError(Code.F108, f"{start[0] + data.height} 行 × {start[1] + data.width} 列",
                            sheet=meta.name)
        if data.height * data.width > 4 * limits.max_cells:
            raise ReadError(Code.F108, f"{data.height} 行 × {data.width} 列", sheet=meta.name)
        values = []
        for r, row in enumerate(data.to_python(skip_empty_area=True), start=start[0] + 1):
            for c, value in enumerate(row, start=start[1] + 1):
                if value is None or value == "":
                    continue
                count += 1
                if count > limits.max_cells:
                    raise ReadError(Code.F108, f"超过 {limits.max_cells} 个单元格", sheet=meta.name)
                values.append((r, c, value))
        merged = []
        try:
            ranges = data.merged_cell_ranges or []
        except Exception:
            ranges = []
        for (r1, c1), (r2, c2) in ranges:
            merged.append((r1 + 1, c1 + 1, r2 + 1, c2 + 1))
        sheets.append((meta.name, state, values, merged))
    return sheets


def _fork_context():
    try:
        import multiprocessing

        if "fork" in multiprocessing.get_all_start_methods():
            return multiprocessing.get_context("fork")
    except (ImportError, ValueError):
        pass
    return None


def _run_guarded(func, args) -> tuple[str, object]:
    """Call func; turn every outcome into ('ok', result) or ('error', (code, detail, sheet, text))."""
    try:
        return "ok", func(*args)
    except ReadError as exc:
        cause = exc.__cause__
        return "error", (exc.code.name, exc.detail, exc.sheet, f"{type(cause).__name__}: {cause}"[:500])
    except MemoryError:
        return "error", ("F101", "读取该文件所需内存超过上限", "", "MemoryError")
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # incl. pyo3 PanicException, which is a BaseException
        code, detail = _calamine_error(exc)
        return "error", (code.name, detail, "", f"{type(exc).__name__}: {exc}"[:500])


def _child_main(conn, func, args, limits: Limits) -> None:
    try:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        try:
            with open("/proc/self/statm") as fh:
                current = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            current = 0
        cap = current + limits.max_memory_bytes
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        _cpu_soft, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
        cpu = int(limits.seconds) + 2
        if cpu_hard == resource.RLIM_INFINITY or cpu < cpu_hard:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu_hard))
    except (ImportError, OSError, ValueError):
        pass
    try:  # native code prints "memory allocation failed" to stderr before aborting: keep it quiet
        import faulthandler

        faulthandler.disable()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    except (ImportError, OSError):
        pass
    result = _run_guarded(func, args)
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("error", ("F101", "读取该文件所需内存超过上限", "", "MemoryError")))
    conn.close()


def _isolated(func, args, limits: Limits, deadline: float) -> tuple[str, object]:
    """Run func(*args) in a forked child with memory and time limits.

    Where fork is unavailable (Windows) it runs in-process: still guarded against
    every exception, but without the memory cap."""
    ctx = _fork_context()
    if ctx is None:
        status, payload = _run_guarded(func, args)
        if time.monotonic() > deadline:
            return "error", ("F109", f"{limits.seconds:g}", "", "timeout")
        return status, payload
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(sender, func, args, limits), daemon=True)
    try:
        proc.start()
    except OSError:  # cannot fork now (process or memory limits): the file is not to blame
        receiver.close()
        sender.close()
        return _run_guarded(func, args)
    sender.close()
    message = None
    try:
        if receiver.poll(max(deadline - time.monotonic(), 0.05)):
            try:
                message = receiver.recv()
            except (EOFError, OSError):
                message = None
        else:
            return "error", ("F109", f"{limits.seconds:g}", "", "timeout: child killed")
    finally:
        receiver.close()
        if message is not None:
            proc.join(1)
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        exitcode = proc.exitcode
        if exitcode is not None:
            proc.close()
    if message is None:  # the child died without answering
        technical = f"child exit code {exitcode}"
        if exitcode == -signal.SIGXCPU:
            return "error", ("F109", f"{limits.seconds:g}", "", technical)
        if exitcode in (-signal.SIGSEGV, -signal.SIGBUS, -signal.SIGILL):
            return "error", ("F101", "读取程序解析该文件时崩溃（文件结构异常）", "", technical)
        # native code aborts (SIGABRT) when an allocation fails under the address-space cap
        return "error", ("F101", f"读取该文件所需内存超过上限 {limits.max_memory_bytes // MB} MB"
                                 "（或文件结构异常导致读取中止）", "", technical)
    return message


def _calamine_cell(value: object) -> Cell:
    if isinstance(value, datetime):
        return Cell(value=value.replace(tzinfo=None), is_date=True)
    if isinstance(value, date):
        return Cell(value=datetime(value.year, value.month, value.day), is_date=True)
    if isinstance(value, dtime):
        return Cell(value=datetime.combine(_EPOCH_1900.date(), value.replace(tzinfo=None)), is_date=True)
    if isinstance(value, timedelta):
        return Cell(value=value.total_seconds() / 86400)
    if isinstance(value, bool):
        return Cell(value=value)
    if isinstance(value, (int, float)):
        return Cell(value=float(value))
    return Cell(value=str(value))
