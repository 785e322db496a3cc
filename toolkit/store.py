"""Durability of the workspace: atomic writes, the archive, the lock, the intake log.

Everything a round writes goes through :func:`atomic_write` or :func:`atomic_path`,
so a crash, a power cut or a killed process leaves either the old file or the new
one, never half of each. Incoming returns are copied into a content-addressed
archive (:func:`archive_file`) and every file seen is recorded in a small SQLite
log (:class:`IntakeLog`). :class:`WorkspaceLock` keeps two merges from running on
the same workspace at once. (Text widths and terminal tables are :mod:`toolkit.terminal`.)
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import re
import secrets
import socket
import sqlite3
import stat
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import LockHeldError, WorkspaceError

if TYPE_CHECKING:
    from typing_extensions import Self  # only for type checkers: runtime stays 3.10-compatible

__all__ = [
    "LOCK_NAME",
    "SCHEMA_VERSION",
    "SYNCFS_MIN_FILES",
    "ArchiveItem",
    "IntakeLog",
    "HashMemo",
    "StoreBatch",
    "WorkspaceLock",
    "archive_file",
    "archive_files",
    "atomic_path",
    "atomic_write",
    "cleanup_temp",
    "content_path",
    "find_content",
    "inside",
    "process_start",
    "put_content",
    "safe_name",
    "sha256_file",
    "sync_dirs",
]

_CHUNK = 1 << 20
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_NAME_MAX_BYTES = 255  # per path component, ext4/NTFS/APFS


# ---------------------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------------------

def _clip_bytes(text: str, budget: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits in ``budget`` bytes."""
    if budget <= 0:
        return ""
    data = text.encode("utf-8")
    if len(data) <= budget:
        return text
    return data[:budget].decode("utf-8", errors="ignore")


def _temp_name(name: str, suffix: str = "") -> str:
    """A fresh hidden temp name for a file called ``name``: ``.<name>.<pid>-<rand>.tmp[<suffix>]``."""
    tail = f".{os.getpid()}-{secrets.token_hex(4)}.tmp{suffix}"
    return f".{_clip_bytes(name, _NAME_MAX_BYTES - 1 - len(tail.encode('utf-8')))}{tail}"


def _temp_path(path: Path, keep_suffix: bool) -> Path:
    """A fresh hidden temp name next to ``path``: ``.<name>.<pid>-<rand>.tmp[<suffix>]``."""
    suffix = path.suffix if keep_suffix and len(path.suffix) <= 16 else ""
    return path.with_name(_temp_name(path.name, suffix))


def _create_temp(path: Path, keep_suffix: bool = False) -> tuple[Path, int]:
    """Create (O_EXCL) an empty temp file next to ``path``; return its path and fd."""
    for _ in range(20):
        tmp = _temp_path(path, keep_suffix)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise _temp_error(path.parent, exc) from exc
        return tmp, fd
    raise _temp_error(path.parent, None)


def _create_temp_in(folder: str, name: str) -> tuple[str, int]:
    """:func:`_create_temp` for a file ``name`` in ``folder``, with plain strings (no pathlib)."""
    for _ in range(20):
        tmp = os.path.join(folder, _temp_name(name))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise _temp_error(folder, exc) from exc
        return tmp, fd
    raise _temp_error(folder, None)


def _temp_error(folder: Path | str, exc: OSError | None) -> WorkspaceError:
    if exc is not None:
        return WorkspaceError(
            f"无法在文件夹 {folder} 中写入文件（{exc.strerror or exc}）。"
            "请确认该文件夹存在且有写入权限后重新运行。"
        )
    return WorkspaceError(
        f"无法在文件夹 {folder} 中创建临时文件。请清理该文件夹中以“.”开头的临时文件后重新运行。"
    )


def _unlink_quietly(path: Path | str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _fsync(path: Path | str, flags: int) -> None:
    """fsync ``path`` opened with ``flags``, quietly: durability is best effort."""
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_dir(folder: Path | str) -> None:
    """Make a rename durable (POSIX); Windows cannot open a directory for fsync."""
    if os.name != "nt":
        _fsync(folder, os.O_RDONLY)


def _keep_mode(target: Path, tmp: Path) -> None:
    """Give the new file the permission bits of the file it replaces."""
    with contextlib.suppress(OSError):
        os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))


def _replace(tmp: Path, target: Path, durable: bool = True) -> None:
    """``os.replace`` with a short retry (Windows: antivirus, indexer) and a Chinese error."""
    for attempt in range(6):
        try:
            os.replace(tmp, target)
        except PermissionError as exc:
            if attempt < 5:
                time.sleep(0.1 * (attempt + 1))
                continue
            raise WorkspaceError(
                f"无法写入文件 {target}：该文件可能正在被 Excel、WPS 或其他程序打开。"
                "请关闭该文件后重新运行。"
            ) from exc
        except OSError as exc:
            raise WorkspaceError(
                f"无法写入文件 {target}（{exc.strerror or exc}）。请确认磁盘空间充足、文件夹可写后重新运行。"
            ) from exc
        if durable:
            _fsync_dir(target.parent)
        return


@contextlib.contextmanager
def atomic_write(
    path: Path | str, mode: str = "wb", *, encoding: str | None = None, newline: str | None = None,
    durable: bool = True,
) -> Iterator[IO[Any]]:
    """Write ``path`` all-or-nothing.

    Yields a file object for a hidden temp file in the same folder
    (``.<name>.<pid>-<rand>.tmp``). When the block ends normally the data is flushed,
    fsynced and moved over ``path`` with ``os.replace``; if the block raises, the temp
    file is removed and the old ``path`` is left untouched. Text modes default to UTF-8.

    ``durable=False`` skips the two fsyncs (file and folder, ~5 ms each on an SSD, far
    more on an office disk) for files that may be lost in a power cut but never be
    half-written, such as cache entries: still all-or-nothing, only not forced to disk.
    """
    if not mode.startswith("w") or any(c in mode for c in "ra"):
        raise ValueError(f"atomic_write only supports write modes, not {mode!r}")
    path = Path(path)
    tmp, fd = _create_temp(path)
    try:
        if "b" in mode:
            fh = os.fdopen(fd, mode)
        else:
            fh = os.fdopen(fd, mode, encoding=encoding or "utf-8", newline=newline)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    try:
        with fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        _keep_mode(path, tmp)
        _replace(tmp, path, durable)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _fsync_file(path: Path) -> None:
    _fsync(path, os.O_RDWR | _O_BINARY)


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Like :func:`atomic_write` but yields a temp *path*, for writers that want a filename.

    The temp name keeps the real suffix (``.汇总表.xlsx.1234-ab12cd34.tmp.xlsx``) because
    xlsxwriter, python-docx and friends look at the extension. The file is created
    empty to reserve the name; the writer overwrites it.
    """
    path = Path(path)
    tmp, fd = _create_temp(path, keep_suffix=True)
    os.close(fd)
    try:
        yield tmp
        if not tmp.exists():
            raise WorkspaceError(f"写入 {path} 时临时文件 {tmp.name} 丢失，请重新运行。")
        _fsync_file(tmp)
        _keep_mode(path, tmp)
        _replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


# Hidden file whose name ends in ".tmp" or ".tmp.<ext>": what _temp_path produces.
_TEMP_RE = re.compile(r"^\..+\.tmp(\.[^./\\]{1,16})?$", re.DOTALL)


def cleanup_temp(folder: Path | str, older_than: float = 60.0) -> list[Path]:
    """Remove leftover temp files (``.*.tmp*``) older than ``older_than`` seconds.

    Younger ones may belong to a write in progress and are left alone. Files that
    cannot be removed (in use on Windows) are skipped. Returns what was removed.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not _TEMP_RE.match(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if now - entry.stat(follow_symlinks=False).st_mtime < older_than:
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


# ---------------------------------------------------------------------------------------
# file names
# ---------------------------------------------------------------------------------------

_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{p}{n}" for p in ("COM", "LPT") for n in "123456789¹²³"]
)
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_EXT_RE = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_MAX_NAME_BYTES = 240
UNNAMED = "未命名"


def _is_reserved(name: str) -> bool:
    # Windows treats "CON", "con.xlsx", "CON .tar.gz" alike: the part before the first dot.
    return name.split(".", 1)[0].rstrip(" ").upper() in _RESERVED


def safe_name(name: str, max_len: int = 120) -> str:
    """A file name that is valid on Windows and POSIX and cannot leave its folder.

    Directories are dropped (``../../x.xlsx`` → ``x.xlsx``); ``<>:"/\\|?*`` and control
    characters become ``_``; leading dots and trailing dots/spaces are stripped;
    Windows device names get a ``_`` prefix; Chinese is kept. Long names are cut to
    ``max_len`` characters and 240 UTF-8 bytes, keeping the extension. An empty
    result is ``未命名``.
    """
    if max_len < 16:
        raise ValueError("max_len must be at least 16")
    text = unicodedata.normalize("NFC", str(name))
    parts = [p for p in re.split(r"[/\\]", text) if p.strip(" .")]
    text = parts[-1] if parts else ""
    text = _BAD_CHARS.sub("_", text).strip(" ")
    text = text.lstrip(".").rstrip(". ")
    if not text:
        return UNNAMED

    dot = text.rfind(".")
    ext = text[dot:] if dot > 0 and _EXT_RE.match(text[dot:]) else ""
    stem = text[: len(text) - len(ext)] if ext else text
    char_budget = max_len - len(ext) - 1  # -1: room for a "_" prefix
    byte_budget = _MAX_NAME_BYTES - len(ext.encode("utf-8")) - 1
    if len(stem) > char_budget or len(stem.encode("utf-8")) > byte_budget:
        stem = _clip_bytes(stem[:char_budget], byte_budget).rstrip(". ")
    if not stem:
        stem = UNNAMED
    text = stem + ext
    if _is_reserved(text):
        text = "_" + text
    return text


def inside(folder: Path | str, candidate: Path | str) -> Path:
    """Resolve ``candidate`` (relative to ``folder`` if relative) and make sure it lies inside.

    Returns the resolved path; raises :class:`WorkspaceError` if it would escape
    ``folder`` (``..``, an absolute path elsewhere, a symlink pointing out).
    """
    base = Path(folder).resolve()
    target = (base / candidate).resolve()
    b, t = os.path.normcase(str(base)), os.path.normcase(str(target))
    try:
        ok = t != b and os.path.commonpath([b, t]) == b
    except ValueError:  # different drives on Windows
        ok = False
    if not ok:
        raise WorkspaceError(
            f"路径 {candidate} 不在文件夹 {base} 之内，已拒绝访问。"
            "请检查文件名，不要使用“..”或其他文件夹的路径。"
        )
    return target


# ---------------------------------------------------------------------------------------
# content-addressed archive
# ---------------------------------------------------------------------------------------

def sha256_file(path: Path | str) -> str:
    """The sha256 of a file, hex, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class HashMemo:
    """sha256 hashes computed before, by file and its stat, so an unchanged file is not read again.

    A hash is remembered with the file's size, modification time, inode and change time
    (``st_ctime_ns``, which no tool can set back: any write changes it); :meth:`get` gives it
    back only while all four are the same. It is a shortcut to a hash already computed,
    never a source of anything else (an arrival time least of all). Kept as a small JSON
    file; a lost or damaged one only means the files are hashed again.
    """

    VERSION = 1

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._known: dict[str, list] = {}
        self._changed = False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") == self.VERSION and isinstance(data.get("files"), dict):
                self._known = data["files"]
        except (OSError, ValueError, AttributeError):
            pass

    @staticmethod
    def _key(st: os.stat_result) -> list:
        return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]

    def get(self, file: Path | str, st: os.stat_result | None = None) -> str | None:
        """The hash remembered for ``file`` if it is unchanged since (``st``: its stat, if taken)."""
        entry = self._known.get(str(file))
        if entry is None:
            return None
        try:
            st = st or os.stat(file)
        except OSError:
            return None
        return entry[4] if entry[:4] == self._key(st) else None

    def put(self, file: Path | str, digest: str, st: os.stat_result) -> None:
        """Remember ``digest`` for ``file`` as it was when ``st`` was taken (before hashing it)."""
        entry = [*self._key(st), digest]
        if self._known.get(str(file)) != entry:
            self._known[str(file)] = entry
            self._changed = True

    def keep_only(self, files: Iterable[Path | str]) -> None:
        """Forget every file but these (files gone from the inbox)."""
        wanted = {str(f) for f in files}
        gone = [name for name in self._known if name not in wanted]
        for name in gone:
            del self._known[name]
        self._changed = self._changed or bool(gone)

    def save(self) -> None:
        if not self._changed:
            return
        try:
            with atomic_write(self.path, "w", durable=False) as fh:  # a lost memo is re-hashing, not harm
                json.dump({"version": self.VERSION, "files": self._known}, fh)
            self._changed = False
        except (OSError, WorkspaceError):
            pass


def _archive_name(digest: str, unit_code: str, original: str, n: int) -> str:
    # Each part is made safe first, so a "/" in a part cannot cut off the hash prefix.
    parts = [digest[:16]] + ([safe_name(unit_code)] if unit_code else []) + [safe_name(original)]
    name = safe_name("_".join(parts), max_len=160)
    if n > 1:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem}_{n}.{ext}" if dot and stem else f"{name}_{n}"
    return name


def archive_file(
    src: Path | str, archive_dir: Path | str, *, unit_code: str = "", original_name: str = "",
    digest: str | None = None, memo: HashMemo | None = None,
) -> tuple[Path, str]:
    """Copy ``src`` into ``archive_dir`` as ``<sha256[:16]>_<safe name>``; return (path, sha256).

    ``original_name`` defaults to ``src``'s name; a ``unit_code`` is put in front of it
    (``<sha16>_<unit>_<name>``). Bytes and mtime are preserved and the copy is
    verified against the hash. An archived file is never overwritten: if the target
    already holds the same content it is reused; if it holds different content (a
    corrupted archive), the copy goes to ``..._2.xlsx`` and so on.

    ``digest`` is ``src``'s hash when the caller knows it (a stored original, verified when it
    was received: the copy is still verified against it); ``memo`` spares re-hashing an
    archived copy that has not changed since it was last verified. It is :func:`archive_files`
    with one file (fsynced on its own, then its folder).
    """
    digest = _stat_and_hash(src, digest)[1]
    return archive_files([(src, unit_code, original_name, digest)], archive_dir, memo=memo)[0], digest


def _stat_and_hash(src: Path | str, digest: str | None) -> tuple[os.stat_result, str]:
    try:
        st = os.stat(src)
        return st, digest if digest is not None else sha256_file(src)
    except OSError as exc:
        raise WorkspaceError(
            f"无法读取要归档的文件 {src}（{exc.strerror or exc}）。请确认文件存在且未被占用。"
        ) from exc


def _archive_dir_error(archive_dir: Path | str, exc: OSError) -> WorkspaceError:
    return WorkspaceError(f"无法创建归档文件夹 {archive_dir}（{exc.strerror or exc}）。请确认工作区可写。")


def _too_many(archive_dir: Path | str, src: Path | str) -> WorkspaceError:
    return WorkspaceError(
        f"归档文件夹 {archive_dir} 中同名文件过多，无法归档 {os.path.basename(src)}。请检查该文件夹。"
    )


#: One file for :func:`archive_files`: (source, unit code, original name, its sha256 if known).
ArchiveItem = tuple[Path | str, str, str, str | None]


def archive_files(items: Sequence[ArchiveItem], archive_dir: Path | str, *, memo: HashMemo | None = None,
                  threads: int = 0) -> list[Path]:
    """:func:`archive_file` for many files, made durable together; their archived paths, in order.

    Names, the reuse of copies archived before and the verification are as :func:`archive_file`
    describes; the folder is listed once instead of probed per file. Durability, as for :class:`StoreBatch`:

    1. each new copy is written to a hidden temp file in the folder, verified against its
       hash and given its source's mtime; where one ``syncfs`` can make the whole batch
       durable (:func:`_can_syncfs`) it is not fsynced, elsewhere it is, as before (in up
       to ``threads`` threads, which wait for the disk together);
    2. the copies' bytes are made durable (:func:`_sync_files`: one ``syncfs``, or an fsync
       of each if it fails);
    3. only then is each linked under its name, never over an existing file (a name taken
       meanwhile by other bytes sends that file through :func:`archive_file`, to the next
       free name);
    4. the folder is made durable (a second ``syncfs``, or one fsync of the folder) before
       this returns, and so before any record names a copy.

    A kill at any point leaves at worst hidden temp files (removed by :func:`cleanup_temp`),
    never a name on half-written bytes.
    """
    archive = os.fspath(archive_dir)
    changed: set[str] = set()
    try:
        _makedirs(archive, changed)
        present = set(os.listdir(archive))
        if sys.platform == "darwin":  # HFS+ lists names decomposed (NFD); ours are composed
            present = {unicodedata.normalize("NFC", name) for name in present}
    except OSError as exc:
        raise _archive_dir_error(archive, exc) from exc
    out: list[Path | None] = [None] * len(items)
    via: list[int] = [-1] * len(items)  # the new copy (index into copies) an item is archived as
    planned: dict[str, int] = {}  # name -> the new copy that will bear it
    copies: list[tuple[int, str, str, os.stat_result]] = []  # (item, target, sha256, source's stat)
    for i, (src, unit_code, original_name, known) in enumerate(items):
        st, digest = _stat_and_hash(src, known)
        original = original_name or os.path.basename(src)
        for n in range(1, 100):
            name = _archive_name(digest, unit_code, original, n)
            if name in planned:  # the same content under the same name as an earlier item
                via[i] = planned[name]
                break
            if name in present:
                existing = Path(archive, name)
                if _archived(existing, digest, memo):
                    out[i] = existing
                    break
                continue
            via[i] = planned[name] = len(copies)
            copies.append((i, os.path.join(archive, name), digest, st))
            break
        else:
            raise _too_many(archive, src)
    batched = len(copies) >= SYNCFS_MIN_FILES and _can_syncfs(archive)
    temps: list[str] = [""] * len(copies)
    copied: list[Path | None] = [None] * len(copies)

    def stage(k: int) -> None:
        i, target, digest, st = copies[k]
        tmp, fd = _create_temp(Path(target))
        temps[k] = str(tmp)
        if _write_hashed(fd, items[i][0], durable=not batched) != digest:
            raise WorkspaceError(f"文件 {items[i][0]} 在归档过程中被修改。请等待文件保存完毕后重新运行。")
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))

    try:
        try:
            if threads > 1 and not batched and len(copies) > 1:
                with ThreadPoolExecutor(max_workers=threads) as pool:
                    list(pool.map(stage, range(len(copies))))
            else:
                for k in range(len(copies)):
                    stage(k)
            if batched:
                _sync_files(archive, temps)
            for k, (_i, target, digest, _st) in enumerate(copies):
                if _link_new(temps[k], target) or _same_hash(Path(target), digest):  # or archived meanwhile
                    copied[k] = Path(target)
                    changed.add(archive)
        except OSError as exc:
            raise WorkspaceError(
                f"无法归档文件到 {archive}（{exc.strerror or exc}）。请确认磁盘空间充足、工作区可写。"
            ) from exc
    finally:
        for tmp in temps:
            if tmp:
                _unlink_quietly(tmp)
    _sync_names(archive, changed, batched)
    for k, (i, _target, digest, _st) in enumerate(copies):
        path = copied[k]
        if path is None:  # the name was taken meanwhile by other bytes: the next free one, on its own
            src, unit_code, original_name, _known = items[i]
            copied[k] = archive_file(src, archive, unit_code=unit_code, original_name=original_name, digest=digest,
                                     memo=memo)[0]
        else:
            _remember(path, digest, memo)
    done = [path if path is not None else copied[via[i]] for i, path in enumerate(out)]
    assert all(path is not None for path in done)
    return done  # type: ignore[return-value]


def _archived(target: Path, digest: str, memo: HashMemo | None) -> bool:
    """Whether ``target`` holds ``digest``: by the memo while it is unchanged, else by hashing it."""
    try:
        st = os.stat(target)
    except OSError:
        return False
    if memo is not None and memo.get(target, st) == digest:
        return True
    if not _same_hash(target, digest):
        return False
    if memo is not None:
        memo.put(target, digest, st)
    return True


def _remember(target: Path, digest: str, memo: HashMemo | None) -> None:
    if memo is not None:
        with contextlib.suppress(OSError):
            memo.put(target, digest, os.stat(target))


def _write_hashed(fd: int, data: bytes | Path | str, durable: bool = True) -> str:
    """Write ``data`` (bytes, or a file's content) to the open ``fd`` and close it; its sha256.

    ``durable``: fsync it before closing (an error raises). Without, the caller makes it
    durable (:func:`_sync_files`) before it gives the file a name."""
    check = hashlib.sha256()
    with os.fdopen(fd, "wb") as out:
        if isinstance(data, bytes):
            check.update(data)
            out.write(data)
        else:
            with open(data, "rb") as inp:
                while chunk := inp.read(_CHUNK):
                    check.update(chunk)
                    out.write(chunk)
        out.flush()
        if durable:
            os.fsync(out.fileno())
    return check.hexdigest()


def _same_hash(path: Path | str, digest: str) -> bool:
    try:
        return sha256_file(path) == digest
    except OSError:
        return False


def _link_new(tmp: str, target: str) -> bool:
    """Give the (durable) file ``tmp`` the name ``target`` unless that name exists: never overwrites.

    False if ``target`` exists (``tmp`` keeps its temp name, for the caller to remove)."""
    try:
        os.link(tmp, target)  # fails if target exists: never overwrites
    except FileExistsError:
        return False
    except OSError:
        # File systems without hard links (FAT, some shares): replace, after a re-check.
        if os.path.lexists(target):
            return False
        _replace(Path(tmp), Path(target), durable=False)  # the caller syncs the folder
    return True


# ---------------------------------------------------------------------------------------
# many files made durable at once
# ---------------------------------------------------------------------------------------

#: File systems (``statfs`` f_type) whose ``syncfs(2)`` writes back every file's data and
#: commits the journal, so that one call makes everything written before it durable:
#: ext2/3/4, XFS, Btrfs, F2FS. Network and FUSE file systems (an SMB or NFS share, NTFS
#: through ntfs-3g) are left out, as their syncfs may not reach the disk; there, and on
#: Windows and macOS (no syncfs), each file is fsynced, as it always was.
_SYNCFS_TYPES = frozenset([0xEF53, 0x58465342, 0x9123683E, 0xF2F52010])
#: Fewer new files than this are fsynced one by one: a syncfs writes back the whole file system.
SYNCFS_MIN_FILES = 4
_NO_LIBC = object()
_libc: Any = None


def _syncfs_libc() -> Any:
    """The C library when it has a ``syncfs`` that reports write-back errors (Linux ≥ 5.8), else None."""
    global _libc
    if _libc is None:
        _libc = _NO_LIBC
        release = re.match(r"(\d+)\.(\d+)", os.uname().release) if sys.platform.startswith("linux") else None
        if release is not None and (int(release[1]), int(release[2])) >= (5, 8):
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                libc.syncfs.argtypes = [ctypes.c_int]
                libc.statfs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
                _libc = libc
            except (OSError, AttributeError):
                pass
    return None if _libc is _NO_LIBC else _libc


def _can_syncfs(folder: str) -> bool:
    """Whether one ``syncfs`` makes what is written into ``folder`` durable (see :data:`_SYNCFS_TYPES`)."""
    libc = _syncfs_libc()
    if libc is None:
        return False
    import ctypes

    buf = ctypes.create_string_buffer(512)  # struct statfs (120 bytes on x86-64); f_type comes first
    try:
        if libc.statfs(os.fsencode(folder), buf) != 0:
            return False
    except (OSError, ValueError, ctypes.ArgumentError):
        return False
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF in _SYNCFS_TYPES


def _syncfs(folder: str) -> bool:
    """``syncfs(2)`` the file system holding ``folder``; True when everything written to it is durable.

    Since Linux 5.8 a write-back error of any file of that file system since it was last
    reported makes it fail, so that a True is never said over a lost write."""
    libc = _syncfs_libc()
    if libc is None:
        return False
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        return bool(libc.syncfs(fd) == 0)
    finally:
        os.close(fd)


def _sync_files(folder: str, files: Sequence[str]) -> None:
    """Make the bytes of ``files`` (written into ``folder``, not fsynced) durable; an error raises.

    One ``syncfs`` of the file system for :data:`SYNCFS_MIN_FILES` or more; for fewer, or if
    the syncfs fails, an fsync of each file (reopened: an fsync reaches the file's data
    whichever descriptor wrote it, and reports a write-back error not reported before)."""
    if len(files) >= SYNCFS_MIN_FILES and _syncfs(folder):
        return
    for name in files:
        fd = os.open(name, os.O_RDONLY | _O_BINARY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sync_names(folder: str, changed: Iterable[str], batched: bool) -> None:
    """Make new names durable: in ``batched`` mode one ``syncfs`` of the file system holding
    ``folder``; else (or if it fails) an fsync of each folder in ``changed``, deepest first."""
    changed = set(changed)
    if changed and not (batched and _syncfs(folder)):
        for name in sorted(changed, key=len, reverse=True):  # a parent's path is shorter than its child's
            _fsync_dir(name)


def _makedirs(folder: str, changed: set[str]) -> None:
    """Create ``folder`` and its missing parents; each new folder's parent goes into ``changed``
    (its entries changed: the caller syncs it)."""
    if os.path.isdir(folder):
        return
    parent = os.path.dirname(folder)
    if parent and parent != folder:
        _makedirs(parent, changed)
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder)
        changed.add(parent or os.curdir)


def sync_dirs(folders: Iterable[Path]) -> None:
    """fsync folders whose entries changed (deepest first)."""
    for folder in sorted(set(folders), key=lambda f: len(f.parts), reverse=True):
        _fsync_dir(folder)


# ---------------------------------------------------------------------------------------
# content-addressed store
# ---------------------------------------------------------------------------------------

def content_path(store: Path | str, digest: str, name: str) -> Path:
    """Where :func:`put_content` keeps content ``digest``: ``<store>/<ab>/<cdef…>/<safe name>``."""
    return Path(store) / digest[:2] / digest[2:] / safe_name(name, max_len=60)


def find_content(store: Path | str, digest: str, size: int | None = None) -> Path | None:
    """The stored copy of ``digest`` (whatever name it was stored under), or None.

    Only the size is compared here; the copy was verified when it was stored."""
    folder = os.path.join(store, digest[:2], digest[2:])
    try:
        names = sorted(os.listdir(folder), key=os.path.normcase)  # as Paths sort (case-blind on Windows)
    except OSError:
        return None
    for name in names:
        if _TEMP_RE.match(name):
            continue
        path = os.path.join(folder, name)
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and (size is None or st.st_size == size):
            return Path(path)
    return None


class StoreBatch:
    """Contents put into a content-addressed store together, each as :func:`put_content` puts one.

    The invariant: a content's name in the store (and so a receipt that points at it)
    never exists before its bytes are durable, and no name is ever given to half-written
    or unverified bytes. The steps:

    1. :meth:`add` writes each content to a hidden temp file in the store's folder
       (``.<name>.<pid>-<rand>.tmp``: :func:`cleanup_temp` removes one left behind) and
       verifies it against its hash. Where one ``syncfs`` can make the whole batch durable
       (Linux ≥ 5.8, a local file system: :func:`_can_syncfs`) it is not fsynced yet;
       elsewhere (Windows, macOS, network shares) it is fsynced now, as it always was.
    2. :meth:`publish` makes all their bytes durable first (:func:`_sync_files`: one
       ``syncfs(2)``, which writes back every dirty page of the file system, commits its
       journal and reports a write-back error; for a small batch, or if it fails, an
       fsync of each file);
    3. then links each under its name, ``<store>/<ab>/<cdef…>/<safe name>``, in a folder it
       creates (never over an existing file; where a content's folder exists already, the
       content was stored by a run that was killed or by another process, and the copy found
       there is taken);
    4. then makes the new names durable (a second ``syncfs``, or an fsync of each folder
       whose entries changed, deepest first) and only then returns their paths: the caller
       commits receipts naming them after that.

    A kill at any point leaves at worst temp files, or stored contents without a receipt
    (found and reused by the next run): nothing acknowledged is lost, nothing half-written
    is visible. A power cut before step 4 ends may lose the new names, but no receipt
    names them yet. Use as a context manager (the temp files are removed on the way out).
    """

    def __init__(self, store: Path | str):
        self.store = os.fspath(store)
        self.failed: dict[str, WorkspaceError] = {}  # sha256 -> why it could not be published
        self._staged: dict[str, tuple[str, str, int]] = {}  # sha256 -> (temp file, name, size)
        self._changed: set[str] = set()  # folders whose entries changed
        self._deferred: bool | None = None  # whether the fsyncs wait for publish (syncfs)
        self._level1: set[str] = set()  # <store>/<ab> folders known to exist

    def __contains__(self, digest: str) -> bool:
        return digest in self._staged

    def __len__(self) -> int:
        return len(self._staged)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def add(self, data: bytes | Path | str, name: str, digest: str, size: int) -> None:
        """Write ``data`` (bytes, or a file's content) to a temp file and verify it is ``digest``.

        A file that changed meanwhile, or that cannot be read or written, raises
        :class:`WorkspaceError` (nothing is left behind). A content added before is not written again."""
        if digest in self._staged:
            return
        if self._deferred is None:
            try:
                _makedirs(self.store, self._changed)
            except OSError as exc:
                raise WorkspaceError(
                    f"无法创建文件夹 {self.store}（{exc.strerror or exc}）。请确认工作区可写。"
                ) from exc
            self._deferred = _can_syncfs(self.store)
        tmp, fd = _create_temp_in(self.store, safe_name(name, max_len=60))
        try:
            if _write_hashed(fd, data, durable=not self._deferred) != digest:
                raise WorkspaceError(f"文件 {name} 在登记过程中被修改。请等待文件保存完毕后重新运行。")
        except OSError as exc:
            _unlink_quietly(tmp)
            raise _store_error(name, exc) from exc
        except BaseException:
            _unlink_quietly(tmp)
            raise
        self._staged[digest] = (tmp, name, size)

    def publish(self) -> dict[str, Path]:
        """Make the contents added durable and give them their names (steps 2–4); sha256 -> stored path.

        A content that could not be published is in :attr:`failed` instead (a folder that
        cannot be created, a full disk); the others are published all the same."""
        staged, self._staged = self._staged, {}
        if not staged:
            return {}
        out: dict[str, Path] = {}
        try:
            if self._deferred:
                try:
                    _sync_files(self.store, [tmp for tmp, _name, _size in staged.values()])
                except OSError as exc:
                    for digest, (_tmp, name, _size) in staged.items():
                        self.failed[digest] = _store_error(name, exc)
                    return out
            for digest, (tmp, name, size) in staged.items():
                try:
                    out[digest] = self._place(tmp, digest, name, size)
                except OSError as exc:
                    self.failed[digest] = _store_error(name, exc)
            _sync_names(self.store, self._changed, bool(self._deferred))
            self._changed.clear()
        finally:
            for tmp, _name, _size in staged.values():
                _unlink_quietly(tmp)
        return out

    def _place(self, tmp: str, digest: str, name: str, size: int) -> Path:
        """Link the durable temp file ``tmp`` under the content's name (step 3); its path."""
        level1 = os.path.join(self.store, digest[:2])
        if level1 not in self._level1:
            try:
                os.mkdir(level1)
                self._changed.add(self.store)
            except FileExistsError:
                pass
            self._level1.add(level1)
        folder = os.path.join(level1, digest[2:])
        try:
            os.mkdir(folder)
            self._changed.add(level1)
        except FileExistsError:  # stored before (a killed run, another process): take that copy
            found = find_content(self.store, digest, size)
            if found is not None:
                self._changed.update((self.store, level1, folder))  # its names may not be durable yet
                return found
        target = os.path.join(folder, safe_name(name, max_len=60))
        if not _link_new(tmp, target):  # stored meanwhile by another process
            found = find_content(self.store, digest, size)
            if found is None:
                raise OSError(f"{target} exists with other content")
            target = str(found)
        self._changed.add(folder)
        return Path(target)

    def discard(self) -> None:
        """Remove the temp files of contents added and not published."""
        staged, self._staged = self._staged, {}
        for tmp, _name, _size in staged.values():
            _unlink_quietly(tmp)


def _store_error(name: str, exc: OSError) -> WorkspaceError:
    return WorkspaceError(f"无法保存收到的文件 {name}（{exc.strerror or exc}）。请确认磁盘空间充足、工作区可写。")


def put_content(store: Path | str, data: bytes | Path, name: str, digest: str | None = None) -> tuple[Path, str]:
    """Keep ``data`` (bytes, or a file's content) in the content-addressed ``store``; (path, sha256).

    The copy lands at :func:`content_path` and is durable on return: written to a temp
    file, verified against the hash, fsynced, linked into place (never over an existing
    file) and its folders fsynced (a :class:`StoreBatch` of one; many contents at once are
    cheaper in one batch). Content already stored is reused under the name it was first
    stored with. A file that changes while it is copied raises :class:`WorkspaceError`.
    """
    if digest is None:
        digest = hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else _hash_source(data)
    size = len(data) if isinstance(data, bytes) else _source_size(data)
    found = find_content(store, digest, size)
    if found is not None:
        return found, digest
    with StoreBatch(store) as batch:
        batch.add(data, name, digest, size)
        stored = batch.publish()
    if digest not in stored:
        raise batch.failed.get(digest) or WorkspaceError(f"保存收到的文件 {name} 后找不到其副本，请重新运行。")
    return stored[digest], digest


def _hash_source(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as exc:
        raise WorkspaceError(f"无法读取文件 {path}（{exc.strerror or exc}）。请确认文件存在且未被占用。") from exc


def _source_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError as exc:
        raise WorkspaceError(f"无法读取文件 {path}（{exc.strerror or exc}）。请确认文件存在且未被占用。") from exc


# ---------------------------------------------------------------------------------------
# workspace lock
# ---------------------------------------------------------------------------------------

LOCK_NAME = ".ducha.lock"
_FOREIGN_STALE = 12 * 3600.0  # a lock from another host is stale after 12 h
_GARBAGE_STALE = 60.0  # an unreadable lock is stale after 60 s
_BREAKER_STALE = 30.0


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host; when unsure, say yes."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process on Windows
        try:
            import ctypes

            kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
            handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
            if not handle:
                return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED: exists
            try:
                code = ctypes.c_ulong()
                if kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                    return code.value == 259  # STILL_ACTIVE
                return True
            finally:
                kernel32.CloseHandle(handle)
        except (OSError, AttributeError, ValueError):
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


_BOOT_ID = "/proc/sys/kernel/random/boot_id"


def _linux_start(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # Field 2 (the command name) may hold spaces and parentheses: count from the last ')'.
    fields = data[data.rfind(b")") + 2:].split()
    if len(fields) < 20 or not fields[19].isdigit():
        return None
    try:
        with open(_BOOT_ID, encoding="ascii") as fh:
            boot = fh.read().strip()
    except OSError:
        boot = ""
    return f"linux:{boot}:{int(fields[19])}"  # field 22: start time in clock ticks since boot


def _windows_start(pid: int) -> str | None:
    if sys.platform != "win32":
        return None
    try:
        import ctypes
        from ctypes import wintypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return None
        try:
            times = [wintypes.FILETIME() for _ in range(4)]
            if not kernel32.GetProcessTimes(handle, *(ctypes.byref(t) for t in times)):
                return None
            created = times[0]
            return f"win:{(created.dwHighDateTime << 32) | created.dwLowDateTime}"
        finally:
            kernel32.CloseHandle(handle)
    except (OSError, AttributeError, ValueError, ImportError):
        return None


def _ps_start(pid: int) -> str | None:
    import subprocess

    try:
        done = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, timeout=5,
                              check=False, env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return None
    text = done.stdout.decode("ascii", "replace").strip()
    return f"ps:{text}" if done.returncode == 0 and text else None


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, as an opaque text; None when it is gone or cannot be told.

    With the pid it names one process for good: a pid reused by a later process
    comes with another start. Linux: ``/proc/<pid>/stat`` field 22 and the boot id;
    Windows: the process creation time; other systems: ``ps -o lstart``.
    """
    if pid <= 0:
        return None
    if sys.platform.startswith("linux"):
        return _linux_start(pid)
    if sys.platform == "win32":
        return _windows_start(pid)
    return _ps_start(pid)


def _same_process(pid: int, start: object) -> bool:
    """Whether ``pid`` is still the process that recorded ``start``; when unsure, say yes."""
    if not _pid_alive(pid):
        return False
    if not isinstance(start, str) or not start:
        return True  # written by an older version, or the start could not be told then
    now = process_start(pid)
    return now is None or now == start


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):
        return ""


def _local_time(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso or "未知时间")
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class WorkspaceLock:
    """Exclusive use of a workspace: ``<workspace>/.ducha.lock``, created with O_EXCL.

    The file holds JSON ``{pid, pid_start, host, user, started, purpose, token}``.
    ``pid_start`` (:func:`process_start`) makes the holder's identity survive pid
    reuse: a lock of the same host is stale when its pid is gone *or* now belongs
    to a process that started at another time. A lock from another host is stale
    after 12 hours, an unreadable one after 60 seconds. A stale lock is replaced
    atomically; any other existing lock raises :class:`LockHeldError` naming its
    holder. The lock is released on exit, also after an exception.

    Why not an OS file lock (``fcntl.flock``/``msvcrt.locking``): workspaces often sit
    on a shared network folder, where such locks are advisory, emulated or silently
    local depending on client and server (SMB, NFS); and a lock file that must stay
    behind while unlocked brings its own unlink races. An O_EXCL create behaves the
    same on every file system, and the file says who holds the workspace, since
    when and for what, which the clerk is told. Its one weakness, a pid reused by
    another process, is closed by recording the process start time with the pid.
    """

    def __init__(self, workspace: Path | str, purpose: str = "合并"):
        self.workspace = Path(workspace)
        self.path = self.workspace / LOCK_NAME
        self.purpose = purpose
        self._content: bytes | None = None

    # -- public ------------------------------------------------------------------------
    @property
    def held(self) -> bool:
        return self._content is not None

    def acquire(self) -> Self:
        if self._content is not None:
            raise LockHeldError(self._held_message(json.loads(self._content)))
        if not self.workspace.is_dir():
            raise WorkspaceError(f"工作区文件夹 {self.workspace} 不存在。请检查路径后重新运行。")
        content = self._payload()
        deadline = time.monotonic() + 5.0
        while True:
            if self._create(content):
                self._content = content
                return self
            found = self._read()
            if found is None:  # released between our attempts: try again
                if time.monotonic() > deadline:
                    raise LockHeldError(self._held_message(None))
                continue
            raw, info, mtime = found
            if not self._is_stale(info, mtime):
                raise LockHeldError(self._held_message(info))
            if self._recover(raw, content):
                self._content = content
                return self
            if time.monotonic() > deadline:
                raise LockHeldError(self._held_message(info))
            time.sleep(0.05)

    def release(self) -> None:
        content, self._content = self._content, None
        if content is None:
            return
        try:
            current = self.path.read_bytes()
        except OSError:
            return
        if current == content:  # never remove someone else's lock
            _unlink_quietly(self.path)

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- internals ---------------------------------------------------------------------
    def _payload(self) -> bytes:
        info = {
            "pid": os.getpid(),
            "pid_start": process_start(os.getpid()),
            "host": socket.gethostname(),
            "user": _current_user(),
            "started": datetime.now().astimezone().isoformat(timespec="seconds"),
            "purpose": self.purpose,
            "token": secrets.token_hex(8),
        }
        return json.dumps(info, ensure_ascii=False).encode("utf-8")

    def _create(self, content: bytes) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            raise WorkspaceError(
                f"无法在工作区 {self.workspace} 中创建锁文件（{exc.strerror or exc}）。请确认该文件夹可写。"
            ) from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            _unlink_quietly(self.path)
            raise WorkspaceError(
                f"无法写入锁文件 {self.path}（{exc.strerror or exc}）。请确认磁盘空间充足。"
            ) from exc
        return True

    def _read(self) -> tuple[bytes, dict[str, Any] | None, float] | None:
        """(raw bytes, parsed info or None if garbage, mtime), or None if the lock is gone."""
        try:
            mtime = os.stat(self.path).st_mtime
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            return b"", None, 0.0
        try:
            info = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return raw, None, mtime
        pid = info.get("pid") if isinstance(info, dict) else None
        valid_pid = isinstance(pid, int) and not isinstance(pid, bool) and pid > 0
        if not valid_pid or not isinstance(info.get("host"), str):
            return raw, None, mtime
        return raw, info, mtime

    @staticmethod
    def _is_stale(info: dict[str, Any] | None, mtime: float) -> bool:
        now = time.time()
        if info is None:
            return now - mtime > _GARBAGE_STALE
        if info["host"] == socket.gethostname():
            return not _same_process(info["pid"], info.get("pid_start"))
        started = mtime
        with contextlib.suppress(TypeError, ValueError, OverflowError, OSError):
            started = max(started, datetime.fromisoformat(str(info.get("started"))).timestamp())
        return now - started > _FOREIGN_STALE

    def _recover(self, stale: bytes, content: bytes) -> bool:
        """Replace the stale lock ``stale`` with ours, unless someone else got there first.

        A second O_EXCL file serialises recoverers; the lock file itself is swapped
        with ``os.replace`` so it never disappears while being recovered.
        """
        breaker = self.path.with_name(LOCK_NAME + ".break")
        try:
            fd = os.open(breaker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            # A recoverer killed half-way leaves its breaker behind: stale once its
            # process is gone, or after _BREAKER_STALE seconds whatever it says.
            with contextlib.suppress(OSError, ValueError):
                text = breaker.read_text(encoding="utf-8").strip()  # empty while being written
                pid, _, start = text.partition(" ")
                dead = bool(text) and not _same_process(int(pid), start)
                if dead or time.time() - os.stat(breaker).st_mtime > _BREAKER_STALE:
                    os.unlink(breaker)
            return False
        except OSError as exc:
            raise WorkspaceError(
                f"无法在工作区 {self.workspace} 中处理过期的锁文件（{exc.strerror or exc}）。"
                "请确认该文件夹可写。"
            ) from exc
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {process_start(os.getpid()) or ''}".strip())
        try:
            try:
                if self.path.read_bytes() != stale:
                    return False
            except OSError:
                return False
            with atomic_write(self.path) as fh:
                fh.write(content)
            return True
        finally:
            _unlink_quietly(breaker)

    def _held_message(self, info: dict[str, Any] | None) -> str:
        if info is None:
            return (
                f"工作区正被另一个任务锁定（锁文件 {self.path} 正在写入或内容无法识别）。"
                "请稍后重新运行；如确认没有其他任务在运行，可删除该文件。"
            )
        purpose = str(info.get("purpose") or "合并")
        return (
            f"工作区正被另一个任务（{purpose}）使用（进程 {info['pid']}，用户 {info.get('user') or '未知'}，"
            f"主机 {info.get('host') or '未知'}，开始于 {_local_time(info.get('started', ''))}）。"
            f"请等待其结束后再运行；如确认该任务已不存在，可删除文件 {self.path}。"
        )


# ---------------------------------------------------------------------------------------
# intake log
# ---------------------------------------------------------------------------------------

SCHEMA_VERSION = 2
_COLUMNS = (
    "id", "round", "original_name", "sha256", "size", "received", "seen",
    "unit", "verdict", "errors", "notices", "archived", "reason", "receipt",
)
RECEIPT_COLUMNS = (
    "id", "round", "sha256", "original_name", "size", "source", "sender", "arrived", "basis",
    "origin", "parent", "first_seen", "stored",
)

_INSERT_RECEIPT = f"INSERT INTO receipt ({', '.join(RECEIPT_COLUMNS[1:])}) VALUES ({', '.join('?' * (len(RECEIPT_COLUMNS) - 1))})"


def _backfill_receipts(conn: sqlite3.Connection) -> None:
    """v1 → v2: every file a v1 merge saw becomes a receipt, arrival as v1 judged it.

    v1 judged a file by its modification time (``received``); that judgement is kept
    (never later than when v1 first saw the file), so upgrading changes no unit
    from 按时 to 逾期. The bytes of accepted files are in the round's archive; the
    others are taken into the store when the inbox still holds them.
    """
    rows = conn.execute(
        "SELECT round, original_name, sha256, size, received, seen, archived FROM intake ORDER BY id"
    ).fetchall()
    for round_name, name, sha, size, received, seen, archived in rows:
        seen_at = _parse_iso(seen) or datetime.now().astimezone()
        arrived = _parse_iso(received)
        if arrived is None or arrived > seen_at:
            arrived = seen_at
        stored = f"rounds/{round_name}/archive/{Path(str(archived)).name}" if archived else ""
        conn.execute(
            "INSERT OR IGNORE INTO receipt (round, sha256, original_name, size, source, sender, arrived, basis,"
            " origin, parent, first_seen, stored) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (round_name, sha, name, int(size or 0), "INBOX", "", arrived.isoformat(timespec="seconds"),
             "FIRST_SEEN", name, None, seen_at.isoformat(timespec="seconds"), stored),
        )


_Step = str | Callable[[sqlite3.Connection], None]
_MIGRATIONS: dict[int, tuple[_Step, ...]] = {
    1: (
        """CREATE TABLE IF NOT EXISTS intake (
            id INTEGER PRIMARY KEY,
            round TEXT NOT NULL,
            original_name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER,
            received TEXT,
            seen TEXT,
            unit TEXT,
            verdict TEXT,
            errors INTEGER,
            notices INTEGER,
            archived TEXT,
            reason TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS intake_round_sha ON intake(round, sha256)",
    ),
    2: (
        # One receipt per content per round: what arrived, from where and whom, and when.
        """CREATE TABLE IF NOT EXISTS receipt (
            id INTEGER PRIMARY KEY,
            round TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            original_name TEXT NOT NULL,
            size INTEGER NOT NULL,
            source TEXT NOT NULL,
            sender TEXT NOT NULL DEFAULT '',
            arrived TEXT NOT NULL,
            basis TEXT NOT NULL,
            origin TEXT NOT NULL DEFAULT '',
            parent INTEGER,
            first_seen TEXT NOT NULL,
            stored TEXT NOT NULL DEFAULT '',
            UNIQUE (round, sha256)
        )""",
        # Further names and places the same content was found under (never a second receipt).
        """CREATE TABLE IF NOT EXISTS receipt_name (
            id INTEGER PRIMARY KEY,
            receipt INTEGER NOT NULL,
            name TEXT NOT NULL,
            origin TEXT NOT NULL,
            parent INTEGER,
            seen TEXT NOT NULL,
            UNIQUE (receipt, name, origin)
        )""",
        # What was done to a receipt afterwards: withdrawn, restored, arrival amended.
        """CREATE TABLE IF NOT EXISTS receipt_event (
            id INTEGER PRIMARY KEY,
            receipt INTEGER NOT NULL,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            by TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX IF NOT EXISTS receipt_event_receipt ON receipt_event(receipt)",
        "CREATE INDEX IF NOT EXISTS receipt_parent ON receipt(parent)",
        "ALTER TABLE intake ADD COLUMN receipt INTEGER",
        _backfill_receipts,
    ),
}


def _parse_iso(value: object) -> datetime | None:
    """An ISO time from the log, made aware (a naive one is local time, as v1 wrote it)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.astimezone()


def _iso(value: datetime | float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value).astimezone().isoformat(timespec="seconds")
    return str(value)


class IntakeLog:
    """The round's record in SQLite (WAL, busy timeout 10 s, every commit synced to disk).

    Tables: ``receipt`` (one per content and round, see :mod:`toolkit.receipts`),
    ``receipt_name`` (other names the same content arrived under), ``receipt_event``
    (withdrawals and amendments) and ``intake`` (each merge's verdict on a file).
    Several processes may write at once. ``PRAGMA user_version`` holds the schema
    version; a missing or older schema is created/migrated on open, in one transaction.
    """

    def __init__(self, db_path: Path | str):
        self.path = Path(db_path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise WorkspaceError(f"无法打开收件记录 {self.path}（{exc}）。请确认工作区可写。") from exc
        self._conn.row_factory = sqlite3.Row
        self._depth = 0
        try:
            self._conn.execute("PRAGMA busy_timeout = 10000")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")  # a receipt is on disk when receive returns
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise WorkspaceError(
                f"收件记录 {self.path} 无法使用（{exc}）。可将该文件改名备份后重新运行，程序会新建记录。"
            ) from exc
        except WorkspaceError:
            self._conn.close()
            raise

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise WorkspaceError(
                f"收件记录 {self.path} 由更新版本的程序创建（格式版本 {version}）。请升级本程序后再运行。"
            )
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for sql in _MIGRATIONS[step]:
                    if callable(sql):
                        sql(self._conn)
                    else:
                        self._conn.execute(sql)
            self._conn.execute(f"PRAGMA user_version = {max(version, SCHEMA_VERSION)}")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one transaction (``BEGIN IMMEDIATE``); nested uses join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self._conn.execute("COMMIT")

    # -- merge verdicts ----------------------------------------------------------------
    def record(
        self,
        round: str,
        original_name: str,
        sha256: str,
        size: int,
        received: datetime | float | str | None,
        unit: str,
        verdict: str,
        errors: int,
        notices: int,
        archived: Path | str | None,
        reason: str = "",
        receipt: int | None = None,
    ) -> int:
        """Append one verdict; return its id."""
        now = datetime.now().astimezone().isoformat(timespec="seconds")
        cur = self._conn.execute(
            "INSERT INTO intake (round, original_name, sha256, size, received, seen, unit, verdict,"
            " errors, notices, archived, reason, receipt) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                str(round), str(original_name), str(sha256), int(size), _iso(received), now,
                str(unit or ""), str(verdict or ""), int(errors), int(notices),
                "" if archived is None else str(archived), str(reason or ""), receipt,
            ),
        )
        return int(cur.lastrowid or 0)

    def seen(self, round: str, sha256: str) -> dict[str, Any] | None:
        """The latest verdict on this content in this round, or None."""
        row = self._conn.execute(
            "SELECT * FROM intake WHERE round = ? AND sha256 = ? ORDER BY id DESC LIMIT 1",
            (str(round), str(sha256)),
        ).fetchone()
        return dict(row) if row is not None else None

    def entries(self, round: str | None = None) -> list[dict[str, Any]]:
        """All verdicts (of one round if given), oldest first."""
        if round is None:
            rows = self._conn.execute("SELECT * FROM intake ORDER BY id").fetchall()
        else:
            rows = self._conn.execute(
                "SELECT * FROM intake WHERE round = ? ORDER BY id", (str(round),)
            ).fetchall()
        return [dict(r) for r in rows]

    # -- receipts ----------------------------------------------------------------------
    def add_receipt(self, fields: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """Insert a receipt unless this round already has one for this content.

        Returns (the receipt row, whether it was inserted now). Committed on return.
        """
        cols = RECEIPT_COLUMNS[1:]
        values = [fields.get(c) for c in cols]
        with self.transaction():
            row = self.receipt(fields["round"], fields["sha256"])
            if row is not None:
                return row, False
            cur = self._conn.execute(_INSERT_RECEIPT, values)
        return {"id": int(cur.lastrowid or 0), **dict(zip(cols, values, strict=True))}, True

    def digests(self, round: str) -> set[str]:
        """The contents this round has receipts for (their sha256)."""
        return {r[0] for r in self._conn.execute("SELECT sha256 FROM receipt WHERE round = ?", (str(round),))}

    def receipt(self, round: str, sha256: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT * FROM receipt WHERE round = ? AND sha256 = ?", (str(round), str(sha256))
        ).fetchone()
        return dict(row) if row is not None else None

    def receipt_by_id(self, receipt_id: int) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT * FROM receipt WHERE id = ?", (int(receipt_id),)).fetchone()
        return dict(row) if row is not None else None

    def receipts(self, round: str | None = None) -> list[dict[str, Any]]:
        """All receipts (of one round if given), in receipt order."""
        if round is None:
            rows = self._conn.execute("SELECT * FROM receipt ORDER BY id").fetchall()
        else:
            rows = self._conn.execute("SELECT * FROM receipt WHERE round = ? ORDER BY id", (str(round),)).fetchall()
        return [dict(r) for r in rows]

    def update_receipt(self, receipt_id: int, **fields: Any) -> None:
        unknown = set(fields) - set(RECEIPT_COLUMNS[4:])
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            self._conn.execute(f"UPDATE receipt SET {sets} WHERE id = ?", [*fields.values(), int(receipt_id)])

    def add_name(self, receipt_id: int, name: str, origin: str, parent: int | None) -> None:
        """Remember another name/place the receipt's content arrived under (once)."""
        self._conn.execute(
            "INSERT OR IGNORE INTO receipt_name (receipt, name, origin, parent, seen) VALUES (?,?,?,?,?)",
            (int(receipt_id), str(name), str(origin), parent, datetime.now().astimezone().isoformat(timespec="seconds")),
        )

    def names(self, round: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT n.* FROM receipt_name n JOIN receipt r ON r.id = n.receipt WHERE r.round = ? ORDER BY n.id",
            (str(round),),
        ).fetchall()
        return [dict(r) for r in rows]

    def add_event(self, receipt_id: int, action: str, detail: str = "", by: str = "") -> None:
        self._conn.execute(
            "INSERT INTO receipt_event (receipt, at, action, detail, by) VALUES (?,?,?,?,?)",
            (int(receipt_id), datetime.now().astimezone().isoformat(timespec="seconds"), action, detail, by),
        )

    def events(self, round: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT e.* FROM receipt_event e JOIN receipt r ON r.id = e.receipt WHERE r.round = ? ORDER BY e.id",
            (str(round),),
        ).fetchall()
        return [dict(r) for r in rows]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
