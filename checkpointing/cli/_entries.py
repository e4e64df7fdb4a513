"""Choosing, ordering and summarising entries for the commands, independent of display.

A function is named by its full name (``pkg.mod.fit``), by its qualified name alone
(``fit``, ``Model.fit``) or by a shell-style pattern (``pkg.*``).
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from checkpointing.cache.base import EntryInfo
from checkpointing.limits import last_use

__all__ = ["SORT_KEYS", "FunctionStats", "matches", "saved", "select", "sort_entries", "stats"]


def matches(function: str, patterns: Sequence[str]) -> bool:
    """Tell whether full name ``function`` is named by any of ``patterns`` (none: all)."""
    if not patterns:
        return True
    for pattern in patterns:
        if function == pattern or function.endswith("." + pattern):
            return True
        if fnmatch.fnmatchcase(function, pattern):
            return True
    return False


def saved(entry: EntryInfo) -> float:
    """Return the run time the entry's hits saved (each hit saved one original run)."""
    return max(entry.run_time, 0.0) * entry.hits


def select(
    entries: Iterable[EntryInfo],
    functions: Sequence[str] = (),
    older_than: float | None = None,
    now: float | None = None,
) -> list[EntryInfo]:
    """Return the entries of ``functions`` created more than ``older_than`` seconds ago."""
    now = time.time() if now is None else now
    return [
        e
        for e in entries
        if matches(e.function, functions) and (older_than is None or now - e.created > older_than)
    ]


SORT_KEYS = {
    "function": lambda e: (e.function, -e.created),
    "size": lambda e: e.size,
    "created": lambda e: e.created,
    "last-used": last_use,
    "hits": lambda e: e.hits,
    "saved": saved,
    "run-time": lambda e: e.run_time,
}
# Orders where the largest or newest first is what people look for.
_DESCENDING = frozenset({"size", "created", "last-used", "hits", "saved", "run-time"})


def sort_entries(entries: Iterable[EntryInfo], key: str, reverse: bool = False) -> list[EntryInfo]:
    """Sort by ``key`` (one of ``SORT_KEYS``): largest or newest first, names A to Z."""
    descending = (key in _DESCENDING) != reverse
    return sorted(entries, key=SORT_KEYS[key], reverse=descending)


@dataclass
class FunctionStats:
    """Totals of one function's entries."""

    function: str
    entries: int = 0
    size: int = 0
    hits: int = 0
    saved: float = 0.0
    run_time: float = 0.0
    last_used: float = 0.0


def stats(entries: Iterable[EntryInfo]) -> list[FunctionStats]:
    """Return totals per function, the largest first."""
    table: dict[str, FunctionStats] = {}
    for entry in entries:
        row = table.setdefault(entry.function, FunctionStats(entry.function))
        row.entries += 1
        row.size += entry.size
        row.hits += entry.hits
        row.saved += saved(entry)
        row.run_time += max(entry.run_time, 0.0)
        row.last_used = max(row.last_used, last_use(entry))
    return sorted(table.values(), key=lambda r: (-r.size, r.function))
