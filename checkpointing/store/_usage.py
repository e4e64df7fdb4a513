"""Hit counts and last-used times of directory entries, recorded without slowing a hit.

Each entry that was ever hit has a sidecar file ``.usage/<key>``: its size is the number
of hits and its modification time the last use. A hit only bumps a counter in memory;
the counters are written out (one append and one ``utime`` per key) when more than a
second has passed since the last write, when this process asks for usage, and at exit.
Appending is atomic, so processes sharing a directory add up their hits without locks.
Counts stop growing at about a million (the sidecar stays at most 1 MB).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
import weakref

__all__ = ["UsageLog"]

USAGE_DIR = ".usage"
_FLUSH_INTERVAL = 1.0
_MAX_HITS = 1 << 20
_APPEND_FLAGS = (
    os.O_WRONLY
    | os.O_APPEND
    | os.O_CREAT
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)

_LIVE: weakref.WeakSet[UsageLog] = weakref.WeakSet()


class UsageLog:
    """Count hits per key in memory and write them to the sidecars of ``directory``."""

    def __init__(self, directory: str) -> None:
        self.directory = os.path.join(directory, USAGE_DIR)
        self._pending: dict[str, list[float]] = {}  # key -> [hits, last use (monotonic)]
        self._flushed = -_FLUSH_INTERVAL - 1.0  # the first hit is written at once
        self._lock = threading.Lock()
        _LIVE.add(self)

    def __getstate__(self) -> dict[str, object]:
        # A cache travels with a function pickled by value (dask, cloudpickle): the
        # receiving process starts with its own lock and no pending counts.
        return {"directory": self.directory}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.directory = str(state["directory"])
        self._pending = {}
        self._flushed = 0.0
        self._lock = threading.Lock()
        _LIVE.add(self)

    def touch(self, key: str) -> None:
        """Count one use of ``key`` now; write the counts out if a second has passed."""
        # No lock: a hit lost to a race between threads only makes a hint slightly low.
        now = time.monotonic()
        slot = self._pending.get(key)
        if slot is None:
            self._pending[key] = [1, now]
        else:
            slot[0] += 1
            slot[1] = now
        if now - self._flushed > _FLUSH_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Write the pending counts to the sidecars; failures are ignored (usage is a hint)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flushed = time.monotonic()
        # Pending times are monotonic (cheap to read on a hit); convert them to wall time.
        offset = time.time() - self._flushed
        for key, (hits, when) in pending.items():
            last = when + offset
            path = os.path.join(self.directory, key)
            with contextlib.suppress(OSError):
                try:
                    fd = os.open(path, _APPEND_FLAGS, 0o666)
                except FileNotFoundError:
                    os.makedirs(self.directory, exist_ok=True)
                    fd = os.open(path, _APPEND_FLAGS, 0o666)
                try:
                    room = _MAX_HITS - os.fstat(fd).st_size
                    if room > 0:
                        os.write(fd, b"\x01" * min(int(hits), room))
                finally:
                    os.close(fd)
                os.utime(path, (last, last), follow_symlinks=False)

    def usage(self, key: str) -> tuple[int, float | None]:
        """Return ``(hits, last_used)`` of ``key``, including this process's pending hits."""
        if self._pending:
            self.flush()
        try:
            info = os.lstat(os.path.join(self.directory, key))
        except OSError:
            return 0, None
        return info.st_size, info.st_mtime

    def forget(self, key: str) -> None:
        """Drop the record of ``key`` (its entry was replaced or deleted)."""
        with self._lock:
            self._pending.pop(key, None)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(self.directory, key))


@atexit.register
def _flush_all() -> None:
    """Write out every log's pending counts when the interpreter exits."""
    for log in list(_LIVE):
        log.flush()
