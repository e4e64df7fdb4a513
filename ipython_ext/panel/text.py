"""Say the panel's numbers in words: sizes, durations, times, names and counts.

Plain functions with no widgets and no state, shared by the panel's HTML
(:mod:`ipython_ext.panel.html`), its session rows and the ``%%checkpoint`` replay note
(:mod:`ipython_ext.cell.runner`). Each picks the precision a person reading a notebook
cares about rather than the exact value: ``1.5 kB``, ``2.31 s``, ``14:02:07``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ipython_ext.panel.model import FunctionStats

__all__ = [
    "count_text",
    "display_name",
    "format_duration",
    "format_size",
    "format_timestamp",
    "plural",
    "saved_text",
]


def format_size(size: int) -> str:
    """Return a byte count the way file browsers do: ``512 B``, ``1.5 kB``, ``12 MB``."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 999.5 or unit == "TB":
            return f"{value:.1f} {unit}" if value < 9.95 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: float) -> str:
    """Return a non-negative duration with the precision a person cares about."""
    if seconds < 0.001:
        return "<1 ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def format_timestamp(timestamp: float, now: float | None = None) -> str:
    """Return a local time: the clock time today, the day and time this year, else the date."""
    if timestamp <= 0:
        return "unknown"
    when = time.localtime(timestamp)
    today = time.localtime(time.time() if now is None else now)
    if when[:3] == today[:3]:
        return time.strftime("%H:%M:%S", when)
    if when.tm_year == today.tm_year:
        return time.strftime("%d %b %H:%M", when)
    return time.strftime("%Y-%m-%d", when)


def display_name(function: str) -> str:
    """Shorten a full function name for display; notebook functions live in ``__main__``."""
    if not function:
        return "(no name recorded)"
    return function.removeprefix("__main__.")


def plural(count: int, word: str, words: str | None = None) -> str:
    """Return ``count`` and ``word``, or ``words`` (default: ``word`` + "s") unless it is 1."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def count_text(stats: FunctionStats) -> str:
    """Return ``"1 hit / 1 miss"``, adding re-runs and uncached calls when there are any."""
    parts = [plural(stats.hits, "hit"), plural(stats.misses, "miss", "misses")]
    if stats.reruns:
        parts.append(plural(stats.reruns, "rerun"))
    if stats.uncached:
        parts.append(f"{stats.uncached} uncached")
    return " / ".join(parts)


def saved_text(stats: FunctionStats) -> str:
    """Return the time hits saved, or lost when loading was slower than computing."""
    known = stats.hits - stats.unknown
    if known == 0:
        return "saved: unknown" if stats.hits else "saved: —"
    if stats.saved < 0:
        return f"lost {format_duration(-stats.saved)}"
    return f"saved {format_duration(stats.saved)}"
