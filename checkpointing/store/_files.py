"""File-level helpers of the directory store: safe opening, reading, writing, temp files.

Every open of a name in a cache directory goes through :func:`open_regular`, which never
follows a symbolic link and never blocks (a FIFO at an entry name would otherwise hang a
read forever), and refuses anything that is not a regular file.

Temporary files are named ``.tmp-<owner>-<pid>-<random>``, where ``owner`` is a short hash
of the host name and the process-id namespace. A temp file whose owner is this machine
(and namespace) and whose process is gone is a leftover of a killed writer and can go at
once; one from another machine (a shared directory) can only be judged by age.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time

import xxhash

from checkpointing.exceptions import StorageError
from checkpointing.store.base import _ReaderBase

__all__ = [
    "TEMP_PREFIX",
    "FileReader",
    "NotRegularFile",
    "create_temp",
    "has_magic",
    "open_regular",
    "reclaim_temps",
    "refuse_non_regular",
    "write_all",
]

TEMP_PREFIX = ".tmp-"
# Linux caps one read/write at about 2 GiB; larger transfers are split.
_MAX_IO = 1 << 30
# A temp file of another machine is a leftover only once nobody touched it for this long.
FOREIGN_TEMP_AGE = 24 * 3600.0
# A temp file of a live process that has not grown for this long is also abandoned
# (the process id was reused, or the writer is stuck).
STALE_TEMP_AGE = 6 * 3600.0

_O_BINARY: int = getattr(os, "O_BINARY", 0)
_O_NOFOLLOW: int = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK: int = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | _O_BINARY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY | _O_NOFOLLOW | _O_CLOEXEC


class NotRegularFile(OSError):
    """A name in the cache directory is a link, a FIFO, a directory or a device."""


def _owner() -> str:
    """Return a short id of this host and process-id namespace (pids compare within it)."""
    namespace = ""
    with contextlib.suppress(OSError):
        namespace = os.readlink("/proc/self/ns/pid")
    host = os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "")
    return xxhash.xxh3_64_hexdigest(f"{host}|{namespace}".encode())[:8]


_OWNER = _owner()


def open_regular(path: str) -> tuple[int, int]:
    """Open ``path`` for reading without following links or blocking; return fd and size.

    Only regular files are accepted (``NotRegularFile`` otherwise). ``O_NONBLOCK`` has no
    effect on reads of regular files, so the descriptor is left as it is.
    """
    fd = os.open(path, _READ_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(f"{path!r} is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def refuse_non_regular(path: str) -> None:
    """Raise ``StorageError`` if a link, directory, FIFO or device sits at ``path``.

    A regular file at an entry name in a cache directory is a damaged entry (its first
    bytes can be what was damaged): a new entry may replace it.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"cannot inspect cache entry {path!r}: {exc}") from exc
    if not stat.S_ISREG(mode):
        raise StorageError(
            f"{path!r} is not a regular file (a link, directory or special file); "
            "refusing to replace it"
        )


def has_magic(path: str, magic: bytes) -> bool:
    """Tell whether ``path`` is a regular file starting with ``magic`` (never blocks)."""
    try:
        fd, _ = open_regular(path)
    except OSError:
        return False
    try:
        return not magic or os.read(fd, len(magic)) == magic
    except OSError:
        return False
    finally:
        os.close(fd)


class FileReader(_ReaderBase):
    """Read an open entry file by offset; the open descriptor pins this version of it."""

    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self._size = size

    def size(self) -> int:
        """Return the file's size when it was opened."""
        return self._size

    def read_into(self, view: memoryview, offset: int) -> None:
        """Fill ``view`` from ``offset``; raise ``EOFError`` if the file ends first."""
        target = view if view.format == "B" and view.ndim == 1 else view.cast("B")
        filled, total = 0, len(target)
        while filled < total:
            n = _pread_into(self._fd, target[filled : filled + _MAX_IO], offset + filled)
            if not n:
                raise EOFError(f"entry file ended at byte {offset + filled} of {offset + total}")
            filled += n

    def private(self) -> bool:
        """Tell whether no other user can change the file's bytes while it is open.

        True when the file belongs to this user (or root) and neither its group nor others
        may write it. The codec then checks a large entry in one pass and unpickles it in a
        second (nobody can swap the bytes in between), instead of holding it in memory.
        """
        getuid = getattr(os, "getuid", None)
        if getuid is None:  # no owners to compare (Windows): assume the worst
            return False
        info = os.fstat(self._fd)
        return info.st_uid in (0, getuid()) and not info.st_mode & 0o022

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    """Read into ``view`` from ``offset`` without moving the file position; return the count."""
    if _HAS_PREADV:
        return os.preadv(fd, [view], offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.readv(fd, [view]) if hasattr(os, "readv") else _read_fallback(fd, view)


def _read_fallback(fd: int, view: memoryview) -> int:
    """Read into ``view`` where ``readv`` is missing (Windows)."""
    data = os.read(fd, len(view))
    view[: len(data)] = data
    return len(data)


_HAS_PREADV = hasattr(os, "preadv")


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write all of ``data``; ``os.write`` may write less than asked."""
    view = memoryview(data).cast("B")
    while view:
        written = os.write(fd, view[:_MAX_IO])
        view = view[written:]


def create_temp(directory: str) -> tuple[str, int]:
    """Create a new, uniquely named temporary file in ``directory``; return path and fd."""
    # O_EXCL makes a clash of random names an error rather than two writers sharing a file.
    name = f"{TEMP_PREFIX}{_OWNER}-{os.getpid()}-{os.urandom(6).hex()}"
    path = os.path.join(directory, name)
    return path, os.open(path, _CREATE_FLAGS, 0o666)


def _process_alive(pid: int) -> bool:
    """Tell whether a process of this id exists (in this pid namespace)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def is_abandoned(name: str, age: float) -> bool:
    """Tell whether temp file ``name``, last written ``age`` seconds ago, is a leftover."""
    fields = name[len(TEMP_PREFIX) :].split("-")
    if len(fields) == 2 and fields[0].isdigit():
        owner, pid_text = _OWNER, fields[0]  # ".tmp-<pid>-<random>", as format 1 named them
    elif len(fields) == 3 and fields[1].isdigit():
        owner, pid_text = fields[0], fields[1]
    else:
        return age > FOREIGN_TEMP_AGE
    if owner != _OWNER:
        return age > FOREIGN_TEMP_AGE
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # ours: a write of this process in another thread
    return not _process_alive(pid) or age > STALE_TEMP_AGE


def reclaim_temps(directory: str) -> int:
    """Delete leftover temp files of dead writers in ``directory``; return how many."""
    removed = 0
    now = time.time()
    try:
        scan = os.scandir(directory)
    except OSError:
        return 0
    with scan:
        for entry in scan:
            if not entry.name.startswith(TEMP_PREFIX):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            if is_abandoned(entry.name, now - info.st_mtime):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed += 1
    return removed
