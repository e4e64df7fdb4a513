"""Sizes, ages and durations as people write and read them ("5GB", "30d", "3 hours ago").

Parsing reuses :func:`checkpointing.limits.parse_size` and ``parse_age`` (the same rules
as ``cache.set_limits``); formatting uses humanfriendly. Both are wrapped as click
parameter types, so a bad value is a usage error (exit code 2) that says what to write.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

import click
import humanfriendly

from checkpointing.limits import parse_age, parse_size

__all__ = ["AGE", "SIZE", "ago", "duration", "iso", "size"]


class _Size(click.ParamType[int]):
    """A size in bytes: ``5GB``, ``500MiB``, ``2000``."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            return parse_size(value)
        except (TypeError, ValueError) as exc:
            self.fail(str(exc), param, ctx)


class _Age(click.ParamType[float]):
    """An age in seconds: ``90s``, ``12h``, ``30d``, ``2w``."""

    name = "age"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            return parse_age(value)
        except (TypeError, ValueError) as exc:
            self.fail(str(exc), param, ctx)


SIZE = _Size()
AGE = _Age()


def size(n: int) -> str:
    """Return ``n`` bytes as ``1.23 MB`` (decimal units, like the sizes users type)."""
    return str(humanfriendly.format_size(n))


def duration(seconds: float) -> str:
    """Return a duration as ``2 minutes and 5 seconds`` (two units at most)."""
    if seconds <= 0:
        return "0 seconds"
    return str(humanfriendly.format_timespan(seconds, max_units=2))


def ago(timestamp: float | None, now: float | None = None) -> str:
    """Return how long ago ``timestamp`` was, or ``never``."""
    if not timestamp:
        return "never"
    elapsed = (time.time() if now is None else now) - timestamp
    if elapsed < 1:
        return "just now"
    return f"{humanfriendly.format_timespan(elapsed, max_units=1)} ago"


def iso(timestamp: float | None) -> str | None:
    """Return a POSIX time as ISO 8601 in UTC, for ``--json`` output."""
    if not timestamp:
        return None
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
