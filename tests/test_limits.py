"""Size and age limits of a cache: least recently used first, after stores, never on a hit."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checkpointing import EntryInfo, MemoryCache, PickleFileCache, checkpoint, defaults
from checkpointing.limits import CacheLimits, evict, parse_age, parse_size, plan_eviction

REPO_ROOT = Path(__file__).resolve().parents[1]
HOUR = 3600.0


@pytest.fixture(autouse=True)
def _pristine_defaults() -> Iterator[None]:
    """Each test starts and ends with the initial settings."""
    defaults.reset()
    yield
    defaults.reset()


def _entry(
    name: str, size: int, created: float, last_used: float = 0.0, run_time: float = 0.1
) -> EntryInfo:
    return EntryInfo(name, "m.f", created, size, run_time, "", 1, last_used, 1 if last_used else 0)


def test_size_limit_evicts_least_recently_used_first() -> None:
    """Over the size limit, entries go in order of last use (creation if never hit)."""
    now = 1_000_000.0
    entries = [
        _entry("old-but-used", 100, now - 10 * HOUR, last_used=now - 60),
        _entry("new-unused", 100, now - 2 * HOUR),
        _entry("oldest", 100, now - 5 * HOUR),
        _entry("newest", 100, now - 60),
    ]
    doomed = plan_eviction(entries, CacheLimits.create(max_size=200), now)
    assert [e.context_id for e in doomed] == ["oldest", "new-unused"]


def test_age_limit_counts_from_last_use() -> None:
    """``max_age`` removes entries unused for longer, however old they are."""
    now = 1_000_000.0
    entries = [
        _entry("created-long-ago-used-now", 1, now - 100 * HOUR, last_used=now - 1),
        _entry("idle", 1, now - 30 * HOUR),
    ]
    doomed = plan_eviction(entries, CacheLimits.create(max_age="1d"), now)
    assert [e.context_id for e in doomed] == ["idle"]


def test_keep_expensive_credits_run_time() -> None:
    """With ``keep_expensive`` a slow entry outlives a cheap one used a little later."""
    now = 1_000_000.0
    slow = _entry("slow", 100, now - 5 * HOUR, run_time=60.0)
    cheap = _entry("cheap", 100, now - 1 * HOUR, run_time=0.01)
    plain = plan_eviction([slow, cheap], CacheLimits.create(max_size=100), now)
    assert [e.context_id for e in plain] == ["slow"]
    kept = plan_eviction([slow, cheap], CacheLimits.create(max_size=100, keep_expensive=True), now)
    assert [e.context_id for e in kept] == ["cheap"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5GB", 5_000_000_000), ("1.5 GiB", 1_610_612_736), ("200k", 200_000), ("2000", 2000)],
)
def test_sizes_read_as_people_write_them(text: str, expected: int) -> None:
    """Sizes are read in decimal or binary units, with or without a space."""
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["5 potatoes", "", "lots", "-1GB", "5 GB extra"])
def test_unreadable_sizes_are_refused(text: str) -> None:
    """A size that is not a number with a known unit is a ValueError that names it."""
    with pytest.raises(ValueError, match=r"cannot read .* as a size"):
        parse_size(text)


def test_ages_read_as_people_write_them() -> None:
    """Ages are read from text, numbers of seconds or timedeltas; nonsense is refused."""
    assert parse_age("30d") == 30 * 86400
    assert parse_age("2 weeks") == 14 * 86400
    assert parse_age(90) == 90
    assert parse_age(datetime.timedelta(hours=2)) == 2 * HOUR
    with pytest.raises(ValueError, match="cannot read 'soon' as an age"):
        parse_age("soon")


def test_bad_limit_settings_are_refused_when_set() -> None:
    """A setting that cannot be read fails when it is set, not at some later store."""
    with pytest.raises(ValueError, match="as a size"):
        defaults["cache.max_size"] = "5 parsecs"
    with pytest.raises(ValueError, match="keep_expensive"):
        defaults["cache.keep_expensive"] = -1
    assert defaults["cache.max_size"] is None


def _filler(tmp_path: Path, cache: Any) -> Any:
    @checkpoint(cache=cache)
    def fill(i: int) -> bytes:
        return bytes(1000)

    return fill


def test_limit_is_enforced_after_stores(tmp_path: Path) -> None:
    """A cache with ``max_size`` stays within it (plus the amortisation slack) as it fills."""
    cache = PickleFileCache(tmp_path / "c").set_limits(max_size="60KB")
    fill = _filler(tmp_path, cache)
    for i in range(200):
        fill(i)
    entries = cache.entries()
    size = sum(e.size for e in entries)
    one = max(e.size for e in entries)
    assert size <= 60_000 + 2 * one
    assert len(entries) >= 60_000 // one - 2  # evicted down to the limit, not below it
    newest = max(int(e.arguments.removeprefix("i=")) for e in entries)
    assert newest == 199  # the most recent results are the ones kept


def test_a_hit_never_evicts(tmp_path: Path) -> None:
    """Limits are checked after stores only: hits on an over-full cache remove nothing."""
    cache = PickleFileCache(tmp_path / "c")
    fill = _filler(tmp_path, cache)
    for i in range(20):
        fill(i)
    cache.set_limits(max_size="5KB")
    for i in range(20):
        fill(i)
    assert len(cache.entries()) == 20
    fill(20)
    assert sum(e.size for e in cache.entries()) <= 5000


def test_limits_from_settings_apply_to_caches_without_their_own(tmp_path: Path) -> None:
    """``defaults["cache.max_size"]`` limits every cache that has no limits of its own."""
    defaults["cache.max_size"] = "10KB"
    cache = PickleFileCache(tmp_path / "c")
    fill = _filler(tmp_path, cache)
    for i in range(30):
        fill(i)
    assert sum(e.size for e in cache.entries()) <= 10_000 + 2000
    own = PickleFileCache(tmp_path / "d").set_limits()  # explicitly unlimited
    fill_own = _filler(tmp_path, own)
    for i in range(30):
        fill_own(i)
    assert len(own.entries()) == 30


def test_age_limit_on_a_memory_cache() -> None:
    """``max_age`` works on any cache that lists entries, here one in memory."""
    cache = MemoryCache().set_limits(max_age=0.5)
    fill = _filler(Path(), cache)
    fill(1)
    time.sleep(0.7)
    result = evict(cache, cache.limits)  # type: ignore[arg-type]
    assert result.removed == 1
    assert cache.entries() == []


WRITER = """
import sys
from checkpointing import PickleFileCache, checkpoint

cache = PickleFileCache(sys.argv[1]).set_limits(max_size=sys.argv[2])

@checkpoint(cache=cache)
def fill(worker, i):
    return bytes(500)

for i in range(int(sys.argv[3])):
    fill(sys.argv[4], i)
"""


@pytest.mark.slow
def test_ten_thousand_entries_with_concurrent_writers(tmp_path: Path) -> None:
    """Four processes storing 12,000 entries into one limited cache keep it within the limit."""
    directory = tmp_path / "shared"
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    # One entry is about 1 KB on disk: a 10,000-entry limit.
    probe = PickleFileCache(tmp_path / "probe")
    _filler(tmp_path, probe)(0)
    limit = 10_000 * probe.entries()[0].size
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), str(directory), str(limit), "3000", f"w{n}"], env=env
        )
        for n in range(4)
    ]
    for writer in writers:
        assert writer.wait(timeout=1200) == 0
    entries = PickleFileCache(directory).entries()
    total = sum(e.size for e in entries)
    assert total <= limit * 1.05  # each writer may overshoot by ~1% before its next check
    assert len(entries) >= 9_000  # eviction removed the excess, not everything
    workers = {e.arguments.split(",")[0] for e in entries}
    assert len(workers) == 4
