"""Hit counts and last-used times, counted in memory on a hit and written out in batches.

Every store that records uses shares :class:`UsageBatcher`: a hit only bumps a counter in
a dict (no I/O, no lock), and the counts go out through the store's ``write`` in one
batch, at most once a second, when this process asks for usage (``flush``), and at exit.
Counts are hints for listings and eviction: a count lost to a race or a crash only makes
a hint slightly low, and never changes which result a call gets.

Two ways of writing out:

* inline (the directory store): the hit that finds a second has passed since the last
  write does it, because appending to a local file costs microseconds;
* in the background (Redis, object storage): a hit never waits for a round trip, so one
  daemon thread per process writes the batches of every such store, at most once a second
  each. A forked child starts with no pending counts and its own thread.

The directory store's record, :class:`UsageLog`, is a sidecar file ``.usage/<key>`` per
entry that was ever hit: its size is the number of hits and its modification time the
last use. Appending is atomic, so processes sharing a directory add up their hits without
locks. Counts stop growing at about a million (the sidecar stays at most 1 MB).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Iterable

__all__ = ["FLUSH_INTERVAL", "USAGE_DIR", "UsageBatcher", "UsageLog"]

USAGE_DIR = ".usage"
FLUSH_INTERVAL = 1.0
_MAX_HITS = 1 << 20
_APPEND_FLAGS = (
    os.O_WRONLY
    | os.O_APPEND
    | os.O_CREAT
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)

# A batch: key -> (hits, last use as POSIX time); forgotten keys -> when they were.
Hits = dict[str, tuple[int, float]]

_LIVE: weakref.WeakSet[UsageBatcher] = weakref.WeakSet()


class UsageBatcher:
    """Count hits per key in memory; hand them to :meth:`write` in batches.

    A store calls ``touch`` from its ``touch``, ``flush`` at the start of its ``usage`` (so
    a process sees its own hits), and ``discard`` or ``forget_later`` when an entry is
    deleted. Subclasses implement ``write`` and read the records back themselves. With
    ``background = True`` a daemon thread writes, so a hit never waits for I/O.
    """

    background = False

    def __init__(self) -> None:
        self._reset()
        _LIVE.add(self)

    def _reset(self) -> None:
        """Start with nothing pending (a new object, an unpickled one, a forked child)."""
        self._pending: dict[str, list[float]] = {}  # key -> [hits, last use (monotonic)]
        self._forgotten: dict[str, float] = {}  # key -> when its record was dropped
        self._flushed = -FLUSH_INTERVAL - 1.0  # the first inline hit is written at once
        self._scheduled = False  # a background write of this batcher is due
        self._lock = threading.Lock()  # one write at a time, so a flush sees earlier ones

    def touch(self, key: str) -> None:
        """Count one use of ``key`` now; arrange for the counts to be written out."""
        # No lock: a hit lost to a race between threads only makes a hint slightly low.
        now = time.monotonic()
        slot = self._pending.get(key)
        if slot is None:
            self._pending[key] = [1, now]
        else:
            slot[0] += 1
            slot[1] = now
        if self.background:
            if not self._scheduled:
                self._scheduled = True
                _FLUSHER.wake()
        elif now - self._flushed > FLUSH_INTERVAL:
            self.flush()

    def forget_later(self, key: str) -> None:
        """Drop ``key``'s pending hits and have the next write record that it was forgotten."""
        self._pending.pop(key, None)
        self._forgotten[key] = time.time()
        if not self._scheduled:
            self._scheduled = True
            _FLUSHER.wake()

    def discard(self, key: str) -> None:
        """Drop the pending hits of ``key`` (its record is being removed)."""
        self._pending.pop(key, None)

    @property
    def due(self) -> bool:
        """Tell whether anything waits to be written."""
        return bool(self._pending or self._forgotten)

    def flush(self) -> None:
        """Write the pending counts out now; failures are ignored (usage is a hint)."""
        with self._lock:
            # Cleared before the swap: a hit counted after the swap schedules a new write.
            self._scheduled = False
            pending, self._pending = self._pending, {}
            forgotten, self._forgotten = self._forgotten, {}
            self._flushed = time.monotonic()
            if not pending and not forgotten:
                return
            # Pending times are monotonic (cheap to read on a hit); convert them to wall time.
            offset = time.time() - self._flushed
            hits = {key: (int(n), when + offset) for key, (n, when) in list(pending.items())}
            with contextlib.suppress(Exception):
                self.write(hits, forgotten)

    def write(self, hits: Hits, forgotten: dict[str, float]) -> None:
        """Record ``hits`` (added to earlier counts) and drop the records of ``forgotten``."""
        raise NotImplementedError


class _Flusher:
    """The daemon thread that writes the batches of background batchers, once a second."""

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def wake(self) -> None:
        """Ask for a round of writes (starting the thread on first use)."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    thread = threading.Thread(
                        target=self._run, name="checkpointing-usage", daemon=True
                    )
                    thread.start()
                    self._thread = thread
                    _flush_before_executors_stop()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            for batcher in list(_LIVE):
                if batcher.background and (batcher._scheduled or batcher.due):
                    batcher.flush()
            # At most one write a second per store: hits meanwhile wake the next round.
            time.sleep(FLUSH_INTERVAL)


_FLUSHER = _Flusher()


def _after_fork() -> None:
    """In a forked child: no thread yet, and no counts (the parent writes its own)."""
    global _FLUSHER
    _FLUSHER = _Flusher()
    for batcher in list(_LIVE):
        batcher._reset()


os.register_at_fork(after_in_child=_after_fork)


@atexit.register
def _flush_all() -> None:
    """Write out every batcher's pending counts when the interpreter exits."""
    for batcher in list(_LIVE):
        batcher.flush()


def _flush_before_executors_stop() -> None:
    """Also flush before thread pools stop at exit: remote clients resolve names in them.

    ``atexit`` runs too late for an asyncio client (s3fs): by then the thread pools that
    resolve host names refuse work. ``threading`` runs its own exit callbacks earlier, in
    the reverse order of registration, so registering after ``concurrent.futures`` does
    puts this flush first. The ``atexit`` flush remains the fallback.
    """
    import concurrent.futures.thread  # noqa: F401  (registers its exit callback first)

    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        with contextlib.suppress(RuntimeError):  # already shutting down
            register(_flush_all)


class UsageLog(UsageBatcher):
    """Count hits per key in memory and write them to the sidecars of ``directory``."""

    def __init__(self, directory: str) -> None:
        self.directory = os.path.join(directory, USAGE_DIR)
        super().__init__()

    def __getstate__(self) -> dict[str, object]:
        # A cache travels with a function pickled by value (dask, cloudpickle): the
        # receiving process starts with its own lock and no pending counts.
        return {"directory": self.directory}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.directory = str(state["directory"])
        self._reset()
        self._flushed = 0.0
        _LIVE.add(self)

    def write(self, hits: Hits, forgotten: dict[str, float]) -> None:
        """Append each key's hits to its sidecar and set its modification time."""
        for key, (count, last) in hits.items():
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
                        os.write(fd, b"\x01" * min(count, room))
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

    def usages(self, keys: Iterable[str]) -> dict[str, tuple[int, float | None]]:
        """Return the ``(hits, last_used)`` of each of ``keys``."""
        return {key: self.usage(key) for key in keys}

    def forget(self, key: str) -> None:
        """Drop the record of ``key`` (its entry was replaced or deleted)."""
        with self._lock:
            self.discard(key)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(self.directory, key))
