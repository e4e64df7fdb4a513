"""One computation per key: on a concurrent miss one caller computes, the others wait.

The call engine calls :func:`claim` after a miss (a hit never gets here, so it never
takes a lock); ``claim_async`` in :mod:`checkpointing._dedup_async` is its counterpart
for ``async def`` functions, which waits without blocking the event loop. Both return
either the result another caller stored while this one waited, or the right to compute,
to be given back with :meth:`Claim.release` once the result is stored. Two levels:

* threads of this process that miss on the same cache and key queue on one
  ``threading.Lock``, so the in-process case needs no polling and works with any cache,
  even one that cannot lock (a ``MemoryCache``, a user's own cache);
* across processes and machines, the cache's ``lock(key, ttl)`` (a lock file in a
  directory or on object storage, ``SET NX`` on Redis) is tried without blocking and
  retried, with growing pauses, until it is free or the entry appears.

What both versions decide once no other caller of this process holds the key (look for
the result, try the store's lock, wait, give up) is written once, in :func:`decide`, a
generator that yields the pauses to wait: ``claim`` sleeps them, ``claim_async`` awaits
them.

The holder's lock is refreshed every ``ttl / 3`` seconds while it computes, so a long
computation keeps it and a dead holder's lock expires within ``ttl`` seconds. One daemon
thread per process refreshes every held lock (:class:`_Heartbeats`): starting a thread
per miss would cost more than storing a small entry. A waiter
gives up after ``timeout`` seconds and computes itself (with one warning): waiting is an
optimisation, never a condition for getting a result. Failures of the lock itself
(an unreachable server) also mean "compute": the read failure that came with them has
already been reported by the engine.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Generator, Hashable
from typing import Any

from checkpointing.store.locks import StoreLock

__all__ = ["Claim", "Flight", "Request", "claim", "decide", "found", "join", "leave", "poll"]

_FIRST_PAUSE = 0.01
_MAX_PAUSE = 0.5

Load = Callable[[], "tuple[Any] | None"]


class Flight:
    """The in-process queue of callers for one (cache, key)."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


_flights: dict[tuple[int, Hashable], Flight] = {}
_flights_guard = threading.Lock()


def join(cache: object, key: Hashable) -> tuple[tuple[int, Hashable], Flight]:
    """Count one more caller of (``cache``, ``key``); return the flight's name and flight."""
    with _flights_guard:
        name = (id(cache), key)
        flight = _flights.get(name)
        if flight is None:
            flight = _flights[name] = Flight()
        flight.users += 1
        return name, flight


def leave(name: tuple[int, Hashable], flight: Flight) -> None:
    """Count one caller fewer; the last one to leave forgets the flight."""
    with _flights_guard:
        flight.users -= 1
        if flight.users == 0:
            _flights.pop(name, None)


class Claim:
    """The outcome of :func:`claim`: a result found while waiting, or the right to compute."""

    __slots__ = ("_beat", "_flight", "_locked", "_name", "_store_lock", "hit")

    def __init__(self, name: tuple[int, Hashable], flight: Flight) -> None:
        self.hit: tuple[Any] | None = None
        self._name = name
        self._flight: Flight | None = flight  # joined: left once, by release()
        self._locked = False  # whether this caller holds ``flight.lock``
        self._store_lock: StoreLock | None = None
        self._beat: _Beat | None = None

    def take_turn(self, timeout: float = 0.0) -> bool:
        """Take this process's lock on the key, waiting up to ``timeout`` s; say if taken."""
        assert self._flight is not None
        lock = self._flight.lock
        self._locked = lock.acquire(timeout=timeout) if timeout > 0 else lock.acquire(False)
        return self._locked

    def _hold(self, lock: StoreLock, ttl: float) -> None:
        """Keep ``lock`` refreshed every ``ttl / 3`` seconds until released."""
        self._store_lock = lock
        self._beat = _heartbeats.add(lock, ttl / 3)

    def release(self) -> None:
        """Give up the locks (call once the result is stored, or the computation failed)."""
        if self._beat is not None:
            beat, self._beat = self._beat, None
            _heartbeats.remove(beat)  # no refresh runs after this returns
        if self._store_lock is not None:
            lock, self._store_lock = self._store_lock, None
            _release_quietly(lock)
        if self._flight is not None:
            flight, self._flight = self._flight, None
            if self._locked:
                self._locked = False
                flight.lock.release()
            leave(self._name, flight)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class _Beat:
    """One held lock in the heartbeat's care: when to refresh it next, and whether to."""

    __slots__ = ("active", "due", "interval", "lock", "mutex")

    def __init__(self, lock: StoreLock, interval: float) -> None:
        self.lock = lock
        self.interval = interval
        self.due = time.monotonic() + interval
        self.active = True
        # Held while refreshing: a release waits for a refresh in progress, so a refresh
        # can never rewrite a lock file after its holder removed it.
        self.mutex = threading.Lock()


_IDLE_NAP = 5.0


class _Heartbeats:
    """The one daemon thread that refreshes every lock this process holds, when due."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # After a fork the child has no heartbeat thread and holds none of the parent's
        # locks; a condition the thread held at the fork would never be released.
        self._wake = threading.Condition(threading.Lock())
        self._beats: set[_Beat] = set()
        self._thread: threading.Thread | None = None
        # When the thread will wake by itself: a lock due later needs no wake-up call, so
        # a miss does not pay for a thread switch (the common case: every lock has the
        # same interval, and the thread naps at most _IDLE_NAP seconds when idle).
        self._wakes_at = 0.0

    def add(self, lock: StoreLock, interval: float) -> _Beat:
        """Start refreshing ``lock`` every ``interval`` seconds."""
        beat = _Beat(lock, interval)
        with self._wake:
            self._beats.add(beat)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="checkpointing-lock-heartbeat", daemon=True
                )
                self._thread.start()
            elif beat.due < self._wakes_at:
                self._wake.notify()
        return beat

    def remove(self, beat: _Beat) -> None:
        """Stop refreshing ``beat``'s lock; no refresh of it runs once this returns."""
        with beat.mutex:
            beat.active = False
        with self._wake:
            self._beats.discard(beat)

    def _run(self) -> None:
        wake = self._wake
        while True:
            with wake:
                now = time.monotonic()
                due = [beat for beat in self._beats if beat.due <= now]
                if not due:
                    nearest = min((beat.due for beat in self._beats), default=now + _IDLE_NAP)
                    self._wakes_at = min(nearest, now + _IDLE_NAP)
                    wake.wait(self._wakes_at - now)
                    continue
                for beat in due:
                    beat.due = now + beat.interval
            for beat in due:
                _refresh(beat)
                if not beat.active:
                    with wake:
                        self._beats.discard(beat)


def _refresh(beat: _Beat) -> None:
    """Refresh one lock unless released meanwhile; a lost lock is no longer refreshed."""
    with beat.mutex:
        if not beat.active:
            return
        try:
            if not beat.lock.refresh():
                beat.active = False
        except Exception:  # noqa: BLE001 - a failed refresh is retried; the lock may expire
            pass


_heartbeats = _Heartbeats()


class Request:
    """What one caller waits for: the key of a cache, how to load it, and for how long."""

    __slots__ = ("cache", "deadline", "key", "load", "timeout", "ttl", "warn")

    def __init__(
        self,
        cache: Any,
        key: Hashable,
        load: Load,
        timeout: float,
        ttl: float,
        warn: Callable[[str], None],
    ) -> None:
        self.cache = cache
        self.key = key
        self.load = load
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.ttl = ttl
        self.warn = warn

    def remaining(self) -> float:
        """Return the seconds left to wait (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def give_up(self, outcome: Claim) -> Claim:
        """Stop waiting: warn once and let ``outcome`` compute without the locks it lacks."""
        self.warn(_waited(self.timeout))
        return outcome


def claim(
    cache: Any,
    key: Hashable,
    load: Load,
    *,
    timeout: float,
    ttl: float,
    warn: Callable[[str], None],
) -> Claim:
    """Wait until ``key`` is stored by another caller or this caller may compute it.

    ``load`` returns ``(result,)`` when the entry is stored, else ``None``. The returned
    claim has ``hit`` set when waiting produced a result; otherwise this caller holds
    the locks and must call ``release()`` after storing (``hit`` is ``None``).
    """
    request = Request(cache, key, load, timeout, ttl, warn)
    name, flight = join(cache, key)
    outcome = Claim(name, flight)
    try:
        waited = not outcome.take_turn()
        # Another thread here computes this key: wait for it, then look again.
        if waited and not outcome.take_turn(request.remaining()):
            outcome.release()  # leaves the flight: this caller holds nothing
            return request.give_up(outcome)
        for pause in decide(outcome, request, waited):
            time.sleep(pause)
        return outcome
    except BaseException:
        outcome.release()
        raise


def decide(outcome: Claim, request: Request, waited: bool) -> Generator[float, None, None]:
    """With this process's turn taken, find the result or take the store's lock on the key.

    The steps every caller takes once no other caller of this process holds the key,
    whether it waits by blocking (threads) or by awaiting (tasks): if it waited, the
    previous holder may have stored the result; else it tries the store's lock, and
    yields each pause to wait before trying again. On return ``outcome`` has its ``hit``,
    or holds the store's lock (refreshed), or computes without it (no lock, out of time).
    """
    if waited and found(outcome, request.load):
        return
    store_lock = _store_lock(request.cache, request.key, request.ttl)
    if store_lock is None:
        return
    if not (yield from poll(lambda: _try(store_lock), request.deadline)):
        request.give_up(outcome)
        return
    # The holder may have stored the entry just before letting go.
    if found(outcome, request.load):
        _release_quietly(store_lock)
    else:
        outcome._hold(store_lock, request.ttl)


def found(outcome: Claim, load: Load) -> bool:
    """Load the entry into ``outcome.hit``; if it is there, release ``outcome`` and say so."""
    outcome.hit = load()
    if outcome.hit is None:
        return False
    outcome.release()
    return True


def poll(attempt: Callable[[], bool], deadline: float) -> Generator[float, None, bool]:
    """Try ``attempt`` until it succeeds (return ``True``) or time runs out (``False``).

    Yields the pause to wait before each new try: growing, so a short wait is noticed
    soon and a long one costs few tries. The caller sleeps or awaits it.
    """
    pause = _FIRST_PAUSE
    while not attempt():
        if time.monotonic() + pause > deadline:
            return False
        yield pause
        pause = min(pause * 2, _MAX_PAUSE)
    return True


def _store_lock(cache: Any, key: Hashable, ttl: float) -> StoreLock | None:
    """Return the cache's lock on ``key``, or ``None`` if it has none or cannot make one."""
    make = getattr(cache, "lock", None)
    if make is None:
        return None
    try:
        lock: StoreLock | None = make(key, ttl)
    except Exception:  # noqa: BLE001 - no lock means "compute", never a failed call
        return None
    return lock


def _try(lock: StoreLock) -> bool:
    """Try the lock once; a lock that fails (network) counts as taken by this caller."""
    try:
        return lock.acquire()
    except Exception:  # noqa: BLE001 - unreachable lock service: compute rather than wait
        return True


def _release_quietly(lock: StoreLock) -> None:
    """Release ``lock``, ignoring failures: an unreleased lock expires by itself."""
    with contextlib.suppress(Exception):
        lock.release()


def _waited(timeout: float) -> str:
    return (
        f"waited {timeout:g} s for another caller computing the same result; computing it "
        "here too (raise defaults['checkpoint.dedup_timeout'] to wait longer)"
    )
