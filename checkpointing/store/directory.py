"""A store that keeps each entry in its own file of a local (or mounted) directory.

Layout of a cache directory::

    CACHEDIR.TAG        marks the directory as a cache (backup tools skip it); see below
    <key>.pickle        one entry per file, written by the entry codec
    .tmp/.tmp-<owner>-...  a write in progress (or the leftover of a killed writer)
    .quarantine/        damaged entries set aside, for inspection or removal
    .usage/<key>        hit count (file size) and last use (mtime) of an entry

Only files this store wrote are ever listed or deleted: an entry is a regular file
(never a link, FIFO or device) whose name is ``<key>.pickle`` and whose first bytes are
the ``magic`` the store was given. Saving replaces a regular file at an entry's name
(a damaged entry), never anything else. Before it first writes to a directory
that has no ``CACHEDIR.TAG``, the store checks that nothing else is in it and refuses to
use it otherwise, so pointing a cache at a project folder cannot put results among (or
``clear()`` anywhere near) the user's files. Creating ``CACHEDIR.TAG`` by hand tells it
to use such a directory anyway.

Writes go to a temporary file in ``.tmp/`` that is renamed onto the entry, so a reader
sees the old entry or the new one, never part of one. Temp files live in their own folder
so that reclaiming the leftovers of killed writers, done before every write, scans only
the writes in flight, not every entry (a directory of 10,000 entries stays fast to write).
With ``fsync=True`` the data is also flushed to disk before the rename (see
docs/reliability.md for what that buys). Besides ``put``, the store offers ``put_file``:
the cache then streams a result into the temp file as it is pickled, instead of building
the entry in memory first (the file is created once the first bytes are ready), and its
readers offer ``private()`` so a large entry can be checked and unpickled in two passes
over the file (see :mod:`checkpointing.cache.codec`).
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from checkpointing.exceptions import StorageError
from checkpointing.store._files import (
    TEMP_PREFIX,
    FileReader,
    NotRegularFile,
    create_temp,
    has_magic,
    open_regular,
    reclaim_temps,
    refuse_non_regular,
    write_all,
)
from checkpointing.store._usage import USAGE_DIR, UsageLog
from checkpointing.store.base import KEY_PATTERN, Store, check_key
from checkpointing.store.locks import DirectoryLeases, LeaseFile

__all__ = ["MARKER", "DirectoryStore"]

MARKER = "CACHEDIR.TAG"
QUARANTINE_DIR = ".quarantine"
SUFFIX = ".pickle"
_MARKER_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by checkpointing.\n"
    "# For information about cache directory tags, see https://bford.info/cachedir/\n"
)
LOCK_DIR = ".locks"
TEMP_DIR = ".tmp"
_OWN_NAMES = frozenset({MARKER, QUARANTINE_DIR, USAGE_DIR, LOCK_DIR, TEMP_DIR})


class DirectoryStore(Store):
    """Keep entries as files ``<key>.pickle`` in ``directory`` (created on first write).

    ``magic`` is the prefix every entry starts with (the codec's); files without it are
    not entries and are never touched. ``fsync`` flushes each entry to disk before it is
    published.
    """

    label = "directory"

    def __init__(
        self, directory: str | os.PathLike[str], *, magic: bytes = b"", fsync: bool = False
    ) -> None:
        self.directory = os.path.abspath(os.path.expanduser(os.fspath(directory)))
        self.magic = magic
        self.fsync = fsync
        self._prefix = os.path.join(self.directory, "")
        self._checked = False  # the directory was found to hold only our files
        self._marked = False  # ... and it has its CACHEDIR.TAG
        self._usage = UsageLog(self.directory)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.directory!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its settings (dask ships caches to workers); the usage log and
        # its lock are per process.
        return (_rebuild, (self.directory, self.magic, self.fsync))

    @property
    def location(self) -> str:
        """Return the absolute directory."""
        return self.directory

    @property
    def identity(self) -> str:
        """Return ``file://`` and the absolute directory, links resolved."""
        return "file://" + os.path.realpath(self.directory)

    def path(self, key: str) -> str:
        """Return the file of the entry ``key``."""
        return self._prefix + key + SUFFIX

    def where(self, key: str) -> str:
        """Return the file of the entry ``key``."""
        return self.path(key)

    # -- is this directory ours? ------------------------------------------------------

    def _foreign_file(self) -> str | None:
        """Return the name of a file in the directory that is not the cache's, if any."""
        with os.scandir(self.directory) as scan:
            for entry in scan:
                name = entry.name
                if name in _OWN_NAMES or name.startswith(TEMP_PREFIX):
                    continue
                # Any name: entries of earlier versions may have capitals in their names.
                if name.endswith(SUFFIX) and has_magic(entry.path, self.magic):
                    continue
                if not os.path.lexists(entry.path):
                    continue  # replaced or removed since the scan listed it
                return name
        return None

    def _check_directory(self, create: bool) -> bool:
        """Make sure the directory is a cache directory; return False if it does not exist.

        Raise ``StorageError`` naming the directory and the cause when it cannot be used:
        it is a file, cannot be created or read, or holds files that are not entries.
        """
        if self._marked or (self._checked and not create):
            return True
        where = self.directory
        try:
            if os.path.isfile(os.path.join(where, MARKER)):
                self._checked = self._marked = True
                return True
            if not os.path.isdir(where):
                if not create:
                    if os.path.lexists(where):
                        raise StorageError(f"cache directory {where!r} is not a directory")
                    return False
                try:
                    # Another process or thread may be creating it too: that is fine.
                    os.makedirs(where, exist_ok=True)
                except FileExistsError as exc:
                    raise StorageError(
                        f"cache directory {where!r} exists and is not a directory"
                    ) from exc
                except OSError as exc:
                    raise StorageError(f"cannot create cache directory {where!r}: {exc}") from exc
            foreign = self._foreign_file()
        except StorageError:
            raise
        except OSError as exc:
            raise StorageError(f"cannot use cache directory {where!r}: {exc}") from exc
        if foreign is not None:
            raise StorageError(
                f"cache directory {where!r} holds files that are not cache entries (e.g. "
                f"{foreign!r}); refusing to use it. Choose an empty or new directory, or "
                f"create the file {os.path.join(where, MARKER)!r} to use this one anyway."
            )
        if create:
            self._write_marker()
            self._marked = True
        self._checked = True
        return True

    def _write_marker(self) -> None:
        """Write ``CACHEDIR.TAG`` atomically (another process may be doing the same)."""
        try:
            temp, fd = create_temp(self.directory)
            try:
                write_all(fd, _MARKER_TEXT.encode())
            finally:
                os.close(fd)
            os.replace(temp, os.path.join(self.directory, MARKER))
        except OSError as exc:
            where = self.directory
            raise StorageError(f"cannot write to cache directory {where!r}: {exc}") from exc

    def _usable_for_reading(self) -> bool:
        """Tell whether entries can be read at all; a refusal is reported by ``put``."""
        try:
            return self._check_directory(create=False)
        except StorageError:
            return False

    # -- the Store interface ---------------------------------------------------------

    def _open(self, key: str) -> tuple[int, int] | None:
        """Open the entry file of ``key``: ``(fd, size)``, or ``None`` if there is none."""
        if not self._checked and not self._usable_for_reading():
            return None
        path = self._prefix + key + SUFFIX
        try:
            return open_regular(path)
        except FileNotFoundError:
            return None
        except NotRegularFile as exc:
            raise StorageError(f"cache entry {path!r} is not a regular file; ignoring it") from exc
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StorageError(f"cache entry {path!r} is a symbolic link; ignoring it") from exc
            if not os.access(self.directory, os.R_OK | os.X_OK):
                return None  # the whole directory is unreadable: put() will say why
            raise StorageError(f"cannot read cache entry {path!r}: {exc}") from exc

    def get(self, key: str) -> FileReader | None:
        """Open the entry file of ``key``; ``None`` if absent or the directory is unusable."""
        opened = self._open(key)
        return None if opened is None else FileReader(*opened)

    def fetch(self, key: str, limit: int) -> bytes | FileReader | None:
        """Return a small entry file's bytes in one read, or a reader of a larger one."""
        opened = self._open(key)
        if opened is None:
            return None
        fd, size = opened
        if size > limit:
            return FileReader(fd, size)
        try:
            return os.read(fd, limit)
        except OSError as exc:
            raise StorageError(f"cannot read cache entry {self.path(key)!r}: {exc}") from exc
        finally:
            os.close(fd)

    def put(self, key: str, parts: Sequence[bytes | memoryview]) -> None:
        """Write ``parts`` to a temp file and rename it onto the entry file of ``key``."""

        def write_parts(open_file: Callable[[], int]) -> None:
            fd = open_file()
            for part in parts:
                if len(part):
                    write_all(fd, part)

        self.put_file(key, write_parts)

    def put_file(self, key: str, fill: Callable[[Callable[[], int]], None]) -> None:
        """Let ``fill`` write the entry into a new temp file, then publish it under ``key``.

        ``fill`` gets ``open_file``: called (once) when there are bytes to write, it
        creates the temp file and returns its descriptor, which ``fill`` may write and seek
        as it likes (the codec streams a result into it). Nothing touches the directory
        before that call, so a result that fails to pickle early leaves no trace. If
        ``fill`` raises, nothing is published and the temp file is removed; an ``OSError``
        becomes a ``StorageError``.
        """
        check_key(key)
        final = self.path(key)
        opened: list[tuple[str, int]] = []

        def open_file() -> int:
            if not opened:
                opened.append(self._create_temp(final))
            return opened[0][1]

        try:
            try:
                fill(open_file)
                open_file()  # an empty entry is still a file
                if self.fsync:
                    os.fsync(opened[0][1])
            finally:
                if opened:
                    os.close(opened[0][1])
            os.replace(opened[0][0], final)
        except BaseException as exc:
            if opened:
                with contextlib.suppress(OSError):
                    os.unlink(opened[0][0])
            if isinstance(exc, OSError) and not isinstance(exc, StorageError):
                raise StorageError(f"cannot write cache entry {final!r}: {exc}") from exc
            raise
        self._usage.forget(key)

    def _create_temp(self, final: str) -> tuple[str, int]:
        """Make sure the directory is usable, then create a temp file for ``final``."""
        self._check_directory(create=True)
        temps = os.path.join(self.directory, TEMP_DIR)
        reclaim_temps(temps)
        refuse_non_regular(final)
        try:
            try:
                return create_temp(temps)
            except FileNotFoundError:  # first write, or the directory was removed since
                self._checked = self._marked = False
                self._check_directory(create=True)
                os.makedirs(temps, exist_ok=True)
                return create_temp(temps)
        except OSError as exc:
            raise StorageError(
                f"cannot create a file in cache directory {self.directory!r}: {exc}"
            ) from exc

    def delete(self, key: str) -> bool:
        """Remove the entry file of ``key`` if it is one of ours; return whether it was."""
        check_key(key)
        path = self.path(key)
        if not has_magic(path, self.magic):
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"cannot delete cache entry {path!r}: {exc}") from exc
        self._usage.forget(key)
        return True

    def list(self) -> Iterator[str]:
        """Yield the keys of the entry files: regular files named ``<key>.pickle`` with magic.

        A directory that is not a cache directory (see ``put``) holds no entries.
        """
        if not self._usable_for_reading():
            return
        try:
            with os.scandir(self.directory) as scan:
                names = [
                    e.name
                    for e in scan
                    if e.name.endswith(SUFFIX) and e.is_file(follow_symlinks=False)
                ]
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"cannot list cache directory {self.directory!r}: {exc}") from exc
        for name in names:
            key = name[: -len(SUFFIX)]
            if KEY_PATTERN.fullmatch(key) and has_magic(self._prefix + name, self.magic):
                yield key

    # -- optional methods ------------------------------------------------------------

    def quarantine(self, key: str) -> None:
        """Move the entry file of ``key`` into ``.quarantine/``, stamped with the time."""
        path = self.path(key)
        if not has_magic(path, self.magic):
            return
        folder = os.path.join(self.directory, QUARANTINE_DIR)
        target = os.path.join(folder, f"{key}.{time.strftime('%Y%m%dT%H%M%S')}{SUFFIX}")
        try:
            os.makedirs(folder, exist_ok=True)
            os.replace(path, target)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"cannot move damaged entry {path!r} aside: {exc}") from exc
        self._usage.forget(key)

    def quarantined(self) -> builtins.list[str]:
        """List the files in ``.quarantine/``, oldest name first."""
        folder = os.path.join(self.directory, QUARANTINE_DIR)
        try:
            with os.scandir(folder) as scan:
                return sorted(e.name for e in scan if e.is_file(follow_symlinks=False))
        except OSError:
            return []

    def clear_quarantine(self) -> int:
        """Delete the files in ``.quarantine/``; return how many."""
        folder = os.path.join(self.directory, QUARANTINE_DIR)
        removed = 0
        for name in self.quarantined():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(folder, name))
                removed += 1
        return removed

    def touch(self, key: str) -> None:
        """Count a hit of ``key`` (written out at most once a second)."""
        self._usage.touch(key)

    def usage(self, key: str) -> tuple[int, float | None]:
        """Return the hit count and last-use time recorded for ``key``."""
        return self._usage.usage(key)

    def usages(self, keys: Iterable[str]) -> dict[str, tuple[int, float | None]]:
        """Return the hit count and last-use time recorded for each of ``keys``."""
        return self._usage.usages(keys)

    def reclaim(self) -> int:
        """Delete temp files left by writers that died; return how many."""
        if not self._usable_for_reading():
            return 0  # not a cache directory: nothing in it is ours
        temps = os.path.join(self.directory, TEMP_DIR)
        # Earlier versions wrote their temp files beside the entries.
        removed = reclaim_temps(temps) + reclaim_temps(self.directory)
        with contextlib.suppress(OSError):  # not empty: writes in flight; put re-creates it
            os.rmdir(temps)
        return removed

    def lock(self, key: str, ttl: float) -> LeaseFile:
        """Return the lock file ``.locks/<key>.lock`` (owner and expiry inside)."""
        leases = DirectoryLeases(os.path.join(self.directory, LOCK_DIR))
        return LeaseFile(leases, check_key(key) + ".lock", ttl)


def _rebuild(directory: str, magic: bytes, fsync: bool) -> DirectoryStore:
    """Recreate a directory store in another process (see ``DirectoryStore.__reduce__``)."""
    return DirectoryStore(directory, magic=magic, fsync=fsync)
