"""Count this session's calls and list what the caches hold: the cache panel's model.

Plain Python that knows nothing of widgets, so the counting and the choice of entries
are tested directly. :class:`SessionRecord` counts events per function
(:class:`SessionStats`) and remembers the caches they came from; :func:`list_caches`
reads those caches into :class:`CacheListing` rows, each cache named by
:func:`cache_label`. Turning counts, sizes and times into words is
:mod:`ipython_ext.panel.text`'s job; the widgets that show it all are in
:mod:`ipython_ext.panel`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from checkpointing import events
from checkpointing.cache.base import EntryInfo
from checkpointing.cache.store_cache import StoreCache
from checkpointing.events import CheckpointEvent
from checkpointing.explain import is_outdated, why_computed
from ipython_ext.panel.reading import EntryMemo

__all__ = [
    "CacheListing",
    "EntryRow",
    "FunctionStats",
    "SessionRecord",
    "SessionStats",
    "cache_key",
    "cache_label",
    "list_caches",
]

# --------------------------------------------------------------------------- counting


@dataclass
class FunctionStats:
    """What the calls of one function (or one ``cell:<label>``) did in this session.

    ``saved`` sums ``run_time - elapsed`` over the hits whose original run time is
    known; ``unknown`` counts the hits whose run time was not recorded.
    """

    function: str
    hits: int = 0
    misses: int = 0
    reruns: int = 0
    uncached: int = 0
    saved: float = 0.0
    unknown: int = 0

    @property
    def computed(self) -> int:
        """Count the calls that ran the function body: misses, forced re-runs, uncached."""
        return self.misses + self.reruns + self.uncached

    def add(self, event: CheckpointEvent) -> None:
        """Count one event."""
        if event.kind == "hit":
            self.hits += 1
            if event.run_time is None:
                self.unknown += 1
            else:
                self.saved += event.run_time - event.elapsed
        elif event.kind == "miss":
            self.misses += 1
        elif event.kind == "rerun":
            self.reruns += 1
        else:
            self.uncached += 1


class SessionStats:
    """Per-function counters, in the order functions were first called."""

    def __init__(self) -> None:
        self._by_function: dict[str, FunctionStats] = {}

    def record(self, event: CheckpointEvent) -> FunctionStats:
        """Count ``event`` and return the updated counters of its function."""
        stats = self._by_function.get(event.function)
        if stats is None:
            stats = self._by_function[event.function] = FunctionStats(event.function)
        stats.add(event)
        return stats

    def functions(self) -> list[FunctionStats]:
        """Return the counters of every function seen, first-called first."""
        return list(self._by_function.values())

    def total(self) -> FunctionStats:
        """Return the sum over all functions, under the empty name."""
        total = FunctionStats("")
        for stats in self._by_function.values():
            total.hits += stats.hits
            total.misses += stats.misses
            total.reruns += stats.reruns
            total.uncached += stats.uncached
            total.saved += stats.saved
            total.unknown += stats.unknown
        return total


def cache_key(cache: object) -> Hashable:
    """Identify a cache so that two objects over one directory count as one cache.

    Every ``@checkpoint()`` builds its own ``PickleFileCache``; listing the same
    directory once per decorated function would show each entry several times.
    """
    identity = getattr(cache, "identity", None)
    return ("cache", identity) if isinstance(identity, str) else ("object", id(cache))


def _reference(cache: object) -> Callable[[], object | None]:
    """Return a weak reference to ``cache``, or a strong one for a store-backed cache.

    A store-backed cache is a cheap handle on entries that live outside the process, so
    the panel keeps listing it; any other cache may hold its results itself, and must not
    be kept alive by the panel.
    """
    if not isinstance(cache, StoreCache):
        with contextlib.suppress(TypeError):  # not weakly referenceable: keep it
            return weakref.ref(cache)
    return lambda: cache


class SessionRecord:
    """Everything a panel shows that only this process knows, kept as events arrive.

    It holds the counters, the caches seen in events and the time each entry was last
    returned by a hit: the entry files do not record reads, and access times on disk
    are unreliable. Caches other than directories are held weakly: re-running a cell
    that builds a ``MemoryCache`` must not keep every old one (and its results) alive.

    A record listens to :mod:`checkpointing.events` through one subscription, while it
    is started or watched, and passes each event on to its watchers (the panels) after
    counting it, so a panel never draws a count that misses the event being handled.
    """

    def __init__(self) -> None:
        self.stats = SessionStats()
        self._caches: dict[Hashable, Callable[[], object | None]] = {}
        self._last_used: dict[tuple[Hashable, Hashable], float] = {}
        self._watchers: list[Callable[[CheckpointEvent], None]] = []
        self._started = False
        self._unsubscribe: Callable[[], None] | None = None
        self._lock = threading.Lock()

    @property
    def listening(self) -> bool:
        """Tell whether the record is subscribed to events now."""
        return self._unsubscribe is not None

    def start(self) -> None:
        """Listen until :meth:`stop`, watched or not; starting twice changes nothing."""
        self._started = True
        self._listen()

    def stop(self) -> None:
        """Stop listening once no watcher is left."""
        self._started = False
        self._settle()

    def watch(self, watcher: Callable[[CheckpointEvent], None]) -> Callable[[], None]:
        """Call ``watcher`` after each event is counted; return a function that stops it."""
        self._watchers.append(watcher)
        self._listen()

        def unwatch() -> None:
            if watcher in self._watchers:
                self._watchers.remove(watcher)
            self._settle()

        return unwatch

    def _listen(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = events.subscribe(self.observe)

    def _settle(self) -> None:
        if self._unsubscribe is not None and not self._started and not self._watchers:
            self._unsubscribe()
            self._unsubscribe = None

    def observe(self, event: CheckpointEvent) -> None:
        """Count ``event``, remember its cache and its use, then tell the watchers."""
        with self._lock:
            self.stats.record(event)
            if event.cache is not None:
                key = cache_key(event.cache)
                if key not in self._caches:
                    self._caches[key] = _reference(event.cache)
                if event.kind == "hit":
                    with contextlib.suppress(TypeError):  # an unhashable id is not tracked
                        self._last_used[key, event.context_id] = time.time()
        for watcher in list(self._watchers):
            # One broken panel must not keep the others from updating.
            with contextlib.suppress(Exception):
                watcher(event)

    def caches(self) -> list[object]:
        """Return the caches seen in events, in the order they were first seen."""
        with self._lock:
            found = [ref() for ref in self._caches.values()]
        return [cache for cache in found if cache is not None]

    def last_used(self, cache: object, context_id: Hashable) -> float | None:
        """Return when a hit last returned this entry in this session, if it did."""
        return self.used_in(cache).get(context_id)

    def used_in(self, cache: object) -> dict[Hashable, float]:
        """Return when hits of this session last returned each entry of ``cache``."""
        key = cache_key(cache)
        with self._lock:
            return {cid: when for (k, cid), when in self._last_used.items() if k == key}


# --------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class EntryRow:
    """One cache entry as the panel shows it: metadata, last use, and why it was computed.

    ``reason`` says what differed from the closest earlier entry of the same function
    (empty for the first one).
    """

    info: EntryInfo
    last_used: float
    reason: str = ""
    outdated: bool = False  # the function's current code can no longer hit it


@dataclass(frozen=True)
class CacheListing:
    """The entries of one cache, or why they could not be listed."""

    cache: object
    label: str
    rows: list[EntryRow] = field(default_factory=list)
    error: str | None = None

    @property
    def outdated(self) -> int:
        """Return how many entries the current code can no longer hit."""
        return sum(row.outdated for row in self.rows)

    @property
    def total_size(self) -> int:
        """Return the summed size of the entries, in bytes."""
        return sum(row.info.size for row in self.rows)

    def groups(self) -> list[tuple[str, list[EntryRow]]]:
        """Group rows by function, most recently used function and entry first."""
        grouped: dict[str, list[EntryRow]] = {}
        for row in sorted(self.rows, key=lambda r: r.last_used, reverse=True):
            grouped.setdefault(row.info.function, []).append(row)
        return list(grouped.items())


def cache_label(cache: object, cwd: str | None = None) -> str:
    """Name a cache for people from its own description (``location`` and ``label``).

    A directory is shown relative to the working directory when inside it (else with
    ``~`` for the home directory); other caches by their location, with their kind in
    front when the location does not say it.
    """
    location = str(getattr(cache, "location", "") or repr(cache))
    label = str(getattr(cache, "label", "") or type(cache).__name__)
    if os.path.isabs(location):
        return _short_path(location, cwd)
    return location if label.lower() in location.lower() else f"{label}: {location}"


def _short_path(path: str, cwd: str | None) -> str:
    """Return ``path`` relative to ``cwd`` when inside it, else with ``~`` for home."""
    base = cwd if cwd is not None else os.getcwd()
    with contextlib.suppress(ValueError):  # another drive on Windows
        relative = os.path.relpath(path, base)
        if relative == os.curdir:
            return relative
        if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
            return os.path.join(os.curdir, relative)
    home = str(Path.home())
    if path.startswith(home + os.sep):
        return "~" + path[len(home) :]
    return path


def list_caches(
    caches: Iterable[object], record: SessionRecord, memo: EntryMemo | None = None
) -> list[CacheListing]:
    """List the entries of each distinct cache in ``caches``, with their last use.

    A cache that cannot list its entries, or whose directory cannot be read, gets a
    listing with ``error`` set instead of failing the whole panel. With a ``memo``,
    a directory cache's unchanged entries are not read again.
    """
    listings: list[CacheListing] = []
    seen: set[Hashable] = set()
    for cache in caches:
        key = cache_key(cache)
        if key in seen:
            continue
        seen.add(key)
        label = cache_label(cache)
        if getattr(cache, "entries", None) is None:
            listings.append(CacheListing(cache, label, error="this cache cannot list entries"))
            continue
        try:
            infos: list[EntryInfo] = (
                memo.entries(cache, key) if memo is not None else cache.entries()  # type: ignore[attr-defined]
            )
        except NotImplementedError:
            listings.append(CacheListing(cache, label, error="this cache cannot list entries"))
            continue
        except Exception as exc:  # noqa: BLE001 - show any cache failure, keep the panel
            listings.append(CacheListing(cache, label, error=f"cannot list entries: {exc}"))
            continue
        rows = []
        reasons = why_computed(infos)
        session_use = record.used_in(cache)
        for info in infos:
            try:
                used = session_use.get(info.context_id)
            except TypeError:  # an unhashable id is not tracked
                used = None
            reason = reasons.get(info.context_id, "")
            last = max(info.created, info.last_used, used or 0.0)
            rows.append(EntryRow(info, last, reason, is_outdated(info)))
        listings.append(CacheListing(cache, label, rows))
    return listings
