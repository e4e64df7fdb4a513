"""Size and age limits of a cache, enforced by eviction, least recently used first.

A cache with limits (``cache.set_limits(max_size="5GB", max_age="30d")``, or the settings
``cache.max_size`` / ``cache.max_age`` for caches without their own) is checked after it
stores a result, never when it serves a hit:

* entries not used for longer than ``max_age`` are removed;
* then, while the entries total more than ``max_size`` bytes, the least recently used
  entry is removed. With ``keep_expensive`` each second an entry took to compute counts
  as that many seconds of recency (``True``: an hour), so a result that took minutes
  outlives cheap ones used slightly later.

Checking lists every entry, so it is amortised: a process checks a cache on its first
store, then again after as many stores as 1% of the entries it found (at least one; more
while the cache is far below its size limit), or after a minute. Between checks a cache
can exceed its size limit by those few entries.
Several processes may check the same cache at once: each removes what it finds over the
limits, and an entry already removed by another is skipped.

``evict`` is the same rule run on demand (the ``checkpointing prune`` command).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime

    from checkpointing.cache.base import EntryInfo

__all__ = [
    "CacheLimits",
    "EvictionResult",
    "evict",
    "note_store",
    "parse_age",
    "parse_size",
    "plan_eviction",
]

_SIZE_TEXT = r"[0-9]+(?:\.[0-9]+)?\s*([A-Za-z]*)"
_SIZE_UNITS = frozenset(
    {"", "b", "byte", "bytes"}
    | {p + s for p in "kmgtp" for s in ("", "b", "ib")}
    | {"kilobytes", "megabytes", "gigabytes", "terabytes", "petabytes"}
    | {"kibibytes", "mebibytes", "gibibytes", "tebibytes", "pebibytes"}
)

# Seconds of recency credited per second of run time by ``keep_expensive=True``.
EXPENSIVE_CREDIT = 3600.0
_RECHECK_SECONDS = 60.0
_RECHECK_FRACTION = 0.01


def parse_size(value: int | float | str) -> int:
    """Return a byte count from ``5000``, ``"5GB"``, ``"1.5 GiB"`` or ``"200k"``."""
    if isinstance(value, bool):
        raise TypeError(f"a size must be a number of bytes or a string like '5GB', got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a size cannot be negative, got {value!r}")
        return int(value)
    if not isinstance(value, str):
        raise TypeError(f"a size must be a number of bytes or a string like '5GB', got {value!r}")
    import re

    import humanfriendly  # only when a size is given as text

    # humanfriendly reads any word by its first letter ("5 potatoes" = 5 PB): check the unit.
    match = re.fullmatch(_SIZE_TEXT, value.strip())
    try:
        if match is None or match[1].lower() not in _SIZE_UNITS:
            raise humanfriendly.InvalidSize(value)
        size = int(humanfriendly.parse_size(value.strip()))
    except humanfriendly.InvalidSize:
        raise ValueError(
            f"cannot read {value!r} as a size; write e.g. '500MB', '5GB', '1.5GiB' or '2000'"
        ) from None
    if size < 0:
        raise ValueError(f"a size cannot be negative, got {value!r}")
    return size


def parse_age(value: int | float | str | datetime.timedelta) -> float:
    """Return seconds from ``3600``, ``"30d"``, ``"12h"``, ``"2 weeks"`` or a ``timedelta``."""
    if hasattr(value, "total_seconds"):  # a datetime.timedelta
        seconds = float(value.total_seconds())
    elif isinstance(value, bool):
        raise TypeError(f"an age must be seconds or a string like '30d', got {value!r}")
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        import humanfriendly  # only when an age is given as text

        try:
            seconds = float(humanfriendly.parse_timespan(value.strip()))
        except humanfriendly.InvalidTimespan:
            raise ValueError(
                f"cannot read {value!r} as an age; write e.g. '90s', '12h', '30d' or '2w'"
            ) from None
    else:
        raise TypeError(f"an age must be seconds or a string like '30d', got {value!r}")
    if seconds < 0:
        raise ValueError(f"an age cannot be negative, got {value!r}")
    return seconds


@dataclass(frozen=True, slots=True)
class CacheLimits:
    """The limits of one cache: bytes, seconds since last use, and the expensive-entry credit.

    Build it with :meth:`create`, which reads human sizes and ages.
    """

    max_size: int | None = None
    max_age: float | None = None
    expensive_credit: float = 0.0

    @classmethod
    def create(
        cls,
        max_size: int | float | str | None = None,
        max_age: int | float | str | datetime.timedelta | None = None,
        keep_expensive: bool | float = False,
    ) -> CacheLimits:
        """Check and convert limits given as numbers or text (``"5GB"``, ``"30d"``)."""
        if isinstance(keep_expensive, bool):
            credit = EXPENSIVE_CREDIT if keep_expensive else 0.0
        elif keep_expensive >= 0:
            credit = float(keep_expensive)
        else:
            raise ValueError(
                "keep_expensive must be True, False or the seconds of recency credited per "
                f"second of run time, got {keep_expensive!r}"
            )
        return cls(
            None if max_size is None else parse_size(max_size),
            None if max_age is None else parse_age(max_age),
            credit,
        )

    @property
    def active(self) -> bool:
        """Tell whether any limit is set."""
        return self.max_size is not None or self.max_age is not None


def last_use(entry: EntryInfo) -> float:
    """Return when ``entry`` was last used: its last hit, or its creation if never hit."""
    return max(entry.last_used or 0.0, entry.created)


def plan_eviction(
    entries: Iterable[EntryInfo], limits: CacheLimits, now: float | None = None
) -> list[EntryInfo]:
    """Return the entries to remove to satisfy ``limits``, in the order to remove them."""
    now = time.time() if now is None else now
    kept: list[EntryInfo] = []
    doomed: list[EntryInfo] = []
    for entry in entries:
        if limits.max_age is not None and now - last_use(entry) > limits.max_age:
            doomed.append(entry)
        else:
            kept.append(entry)
    if limits.max_size is not None:
        total = sum(e.size for e in kept)
        if total > limits.max_size:
            credit = limits.expensive_credit
            kept.sort(key=lambda e: last_use(e) + credit * max(e.run_time, 0.0))
            for entry in kept:
                if total <= limits.max_size:
                    break
                doomed.append(entry)
                total -= entry.size
    return doomed


@dataclass(frozen=True, slots=True)
class EvictionResult:
    """What an eviction did: entries and bytes removed, and what remains."""

    removed: int
    freed: int
    remaining: int
    remaining_size: int


def evict(
    cache: Any,
    limits: CacheLimits,
    entries: Sequence[EntryInfo] | None = None,
    progress: Callable[[EntryInfo], None] | None = None,
) -> EvictionResult:
    """Remove the entries of ``cache`` over ``limits``; an entry already gone is skipped."""
    listed = list(cache.entries() if entries is None else entries)
    doomed = plan_eviction(listed, limits)
    removed = freed = 0
    for entry in doomed:
        if cache.delete(entry.context_id):
            removed += 1
            freed += entry.size
        if progress is not None:
            progress(entry)
    total = sum(e.size for e in listed)
    return EvictionResult(removed, freed, len(listed) - len(doomed), total - freed)


class _Schedule:
    """When a process next checks one cache's limits."""

    __slots__ = ("last_check", "stores_left")

    def __init__(self) -> None:
        self.stores_left = 0
        self.last_check = 0.0


_schedules: weakref.WeakKeyDictionary[Any, _Schedule] = weakref.WeakKeyDictionary()
_by_id: dict[int, tuple[Any, _Schedule]] = {}  # caches that cannot be weakly referenced
_lock = threading.Lock()


def limits_of(cache: Any) -> CacheLimits | None:
    """Return the limits in force for ``cache``: its own, else those of the settings."""
    own = getattr(cache, "limits", None)
    if isinstance(own, CacheLimits):
        return own if own.active else None
    from checkpointing.config import defaults

    max_size, max_age = defaults["cache.max_size"], defaults["cache.max_age"]
    if max_size is None and max_age is None:
        return None
    return CacheLimits.create(max_size, max_age, defaults["cache.keep_expensive"])


def _schedule(cache: Any) -> _Schedule:
    try:
        schedule = _schedules.get(cache)
        if schedule is None:
            schedule = _schedules[cache] = _Schedule()
        return schedule
    except TypeError:
        entry = _by_id.get(id(cache))
        if entry is None or entry[0] is not cache:
            entry = _by_id[id(cache)] = (cache, _Schedule())
        return entry[1]


def note_store(cache: Any) -> EvictionResult | None:
    """Enforce ``cache``'s limits if a check is due; called after each store, never on a hit."""
    limits = limits_of(cache)
    if limits is None:
        return None
    now = time.monotonic()
    with _lock:
        schedule = _schedule(cache)
        schedule.stores_left -= 1
        if schedule.stores_left > 0 and now - schedule.last_check < _RECHECK_SECONDS:
            return None
        schedule.last_check = now
        schedule.stores_left = 1 << 62  # no other thread checks while this one does
    next_check = 1
    try:
        result = evict(cache, limits)
        next_check = _stores_until_next_check(result, limits)
    finally:
        with _lock:
            schedule.stores_left = next_check
    return result


def _stores_until_next_check(result: EvictionResult, limits: CacheLimits) -> int:
    """Return how many stores may pass before the limits need checking again.

    1% of the entries, or half the stores the remaining headroom holds at the current
    average entry size, whichever is more: a cache far below its size limit is checked
    rarely, one close to it often. An age limit alone is checked once a minute.
    """
    if limits.max_size is None:
        return 1 << 62  # only the minute rule applies
    by_count = int(result.remaining * _RECHECK_FRACTION)
    headroom = 0
    if result.remaining and result.remaining_size:
        average = result.remaining_size / result.remaining
        headroom = int((limits.max_size - result.remaining_size) / average / 2)
    return max(1, by_count, headroom)
