"""One computation per key: concurrent misses on one key compute once, the others load it.

Races are real: several interpreter processes are started, wait for a go signal, then call
the same checkpointed function at once; each computation appends a line to a counter
file. Dead holders are real processes killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from checkpointing import MemoryCache, checkpoint, defaults
from tests.scriptcase import REPO_ROOT

RACER = """
import os, sys, time
from checkpointing import checkpoint, defaults

url, counter, go, dedup = sys.argv[1:5]
defaults["checkpoint.lock_ttl"] = float(os.environ.get("LOCK_TTL", "60"))
defaults["checkpoint.dedup_timeout"] = float(os.environ.get("DEDUP_TIMEOUT", "600"))

@checkpoint(cache=url, dedup=dedup == "on")
def slow(x):
    with open(counter, "a") as f:
        f.write(f"{os.getpid()}\\n")
    print("computing", flush=True)
    time.sleep(float(os.environ["SLEEP"]))  # read at run time: not part of the key
    return x * 10

print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.005)
print(slow(7), flush=True)
"""

# The same race in async code: three gathered calls per process, and a task ticking every
# 10 ms meanwhile, to show that waiting never blocks the event loop.
ASYNC_RACER = """
import asyncio, os, sys, time
from checkpointing import checkpoint, defaults

url, counter, go, dedup = sys.argv[1:5]
defaults["checkpoint.lock_ttl"] = float(os.environ.get("LOCK_TTL", "60"))
defaults["checkpoint.dedup_timeout"] = float(os.environ.get("DEDUP_TIMEOUT", "600"))

@checkpoint(cache=url, dedup=dedup == "on")
async def slow(x):
    with open(counter, "a") as f:
        f.write(f"{os.getpid()}\\n")
    print("computing", flush=True)
    await asyncio.sleep(float(os.environ["SLEEP"]))  # read at run time: not part of the key
    return x * 10

async def main():
    ticks = 0
    async def tick():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1
    ticker = asyncio.create_task(tick())
    calls = asyncio.gather(*(slow(7) for _ in range(3)))
    if "CANCEL_ON" in os.environ:  # cancel the calls once this file appears, then stay alive
        while not os.path.exists(os.environ["CANCEL_ON"]):
            await asyncio.sleep(0.01)
        calls.cancel()
        await asyncio.gather(calls, return_exceptions=True)
        print("cancelled", flush=True)
        await asyncio.sleep(600)
    results = await calls
    ticker.cancel()
    print("ticks", ticks, flush=True)
    print(*results, flush=True)

print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.005)
asyncio.run(main())
"""


@pytest.fixture(params=["directory", "redis", "s3"])
def cache_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a fresh cache of each kind that can lock across processes."""
    if request.param == "directory":
        return str(tmp_path / "cache")
    if request.param == "redis":
        return str(request.getfixturevalue("redis_cache_url"))
    return str(request.getfixturevalue("s3_url"))


def start(
    url: str,
    tmp_path: Path,
    dedup: str = "on",
    seconds: float = 1.0,
    script: str = RACER,
    **env: str,
) -> subprocess.Popen[str]:
    """Start one racer process; return it once it is ready and waiting for the go signal."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "SLEEP": str(seconds), **env}
    arguments = [url, str(tmp_path / "count"), str(tmp_path / "go"), dedup]
    process = subprocess.Popen(
        [sys.executable, "-c", script, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    return process


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Wait for a racer; return what it printed after "ready" and its stderr."""
    out, err = process.communicate(timeout=120)
    return out, err


def computations(tmp_path: Path) -> int:
    """Return how many times the racers' function ran."""
    counter = tmp_path / "count"
    return len(counter.read_text().splitlines()) if counter.exists() else 0


@pytest.mark.slow
def test_racing_processes_compute_once(cache_url: str, tmp_path: Path) -> None:
    """Four processes missing on one key at once: one computes, all return its result."""
    racers = [start(cache_url, tmp_path) for _ in range(4)]
    (tmp_path / "go").touch()
    results = [finish(p) for p in racers]
    assert computations(tmp_path) == 1
    for out, err in results:
        assert out.splitlines()[-1] == "70"
        assert err == ""


@pytest.mark.slow
def test_racing_async_processes_compute_once(cache_url: str, tmp_path: Path) -> None:
    """Three processes of three gathered async calls each: one computes, all get its result."""
    racers = [start(cache_url, tmp_path, script=ASYNC_RACER) for _ in range(3)]
    (tmp_path / "go").touch()
    results = [finish(p) for p in racers]
    assert computations(tmp_path) == 1
    waited = 0
    for out, err in results:
        *_, ticks, values = out.splitlines()
        assert values == "70 70 70"
        assert err == ""
        if "computing" not in out:
            waited += 1
            # The second of waiting is about 100 ticks; a blocked loop ticks at most once.
            assert int(ticks.split()[1]) >= 10
    assert waited == 2


@pytest.mark.slow
def test_cancelled_async_holder_lets_a_waiting_process_compute(
    cache_url: str, tmp_path: Path
) -> None:
    """A live process whose computing task is cancelled frees the key for a waiting process."""
    cancel = tmp_path / "cancel"
    holder = start(cache_url, tmp_path, seconds=600, script=ASYNC_RACER, CANCEL_ON=str(cancel))
    (tmp_path / "go").touch()
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "computing\n"
        waiter = start(cache_url, tmp_path, seconds=0, script=ASYNC_RACER)
        time.sleep(1.0)
        assert computations(tmp_path) == 1  # the waiter waits for the holder
        began = time.monotonic()
        cancel.touch()
        assert holder.stdout.readline() == "cancelled\n"
        out, err = finish(waiter)
        lines = out.splitlines()
        assert (lines[0], lines[-1]) == ("computing", "70 70 70")
        assert err == ""
        assert time.monotonic() - began < 20  # released, not expired (the lock lives 60 s)
        assert computations(tmp_path) == 2
    finally:
        holder.kill()
        holder.communicate(timeout=30)


@pytest.mark.slow
def test_without_dedup_every_process_computes(tmp_path: Path) -> None:
    """dedup=False: racing processes each compute (the old behaviour, on request)."""
    racers = [start(str(tmp_path / "cache"), tmp_path, dedup="off") for _ in range(2)]
    (tmp_path / "go").touch()
    for process in racers:
        finish(process)
    assert computations(tmp_path) == 2


@pytest.mark.slow
def test_lock_of_a_killed_holder_is_recovered(cache_url: str, tmp_path: Path) -> None:
    """A holder killed mid-computation does not block others beyond its lock's expiry."""
    holder = start(cache_url, tmp_path, seconds=600, LOCK_TTL="2")
    (tmp_path / "go").touch()
    assert holder.stdout is not None
    assert holder.stdout.readline() == "computing\n"
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=30)
    began = time.monotonic()
    waiter = start(cache_url, tmp_path, seconds=0)
    out, err = finish(waiter)
    assert out.splitlines() == ["computing", "70"]
    assert err == ""
    assert time.monotonic() - began < 20  # expiry (2 s) plus start-up, not the holder's 600 s
    assert computations(tmp_path) == 2


@pytest.mark.slow
def test_waiter_computes_itself_after_the_timeout(tmp_path: Path) -> None:
    """A waiter whose holder takes too long computes the result itself, with one warning."""
    url = str(tmp_path / "cache")
    holder = start(url, tmp_path, seconds=60)
    (tmp_path / "go").touch()
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "computing\n"
        began = time.monotonic()
        waiter = start(url, tmp_path, seconds=0, DEDUP_TIMEOUT="1")
        out, err = finish(waiter)
        assert out.splitlines() == ["computing", "70"]
        assert "waited 1 s for another caller" in err
        assert err.count("CheckpointingWarning") == 1
        assert time.monotonic() - began < 20
    finally:
        holder.kill()
        holder.communicate(timeout=30)


def race_threads(function: Callable[[int], int], count: int) -> list[int]:
    """Call ``function(1)`` from ``count`` threads released at the same moment."""
    barrier = threading.Barrier(count)
    results: list[int] = []

    def call() -> None:
        barrier.wait()
        results.append(function(1))

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_threads_compute_once_with_any_cache(tmp_path: Path) -> None:
    """Threads missing on one key of an in-memory cache compute it once."""
    log = str(tmp_path / "count")

    @checkpoint(cache=MemoryCache())
    def slow(x: int) -> int:
        with open(log, "a") as file:
            file.write("ran\n")
        time.sleep(0.3)
        return x + 1

    assert race_threads(slow, 4) == [2, 2, 2, 2]
    assert computations(tmp_path) == 1


def test_dedup_setting_off_lets_threads_compute(tmp_path: Path) -> None:
    """defaults["checkpoint.dedup"] = False turns the waiting off for new decorators."""
    log = str(tmp_path / "count")
    defaults["checkpoint.dedup"] = False
    try:

        @checkpoint(cache=MemoryCache())
        def slow(x: int) -> int:
            with open(log, "a") as file:
                file.write("ran\n")
            time.sleep(0.3)
            return x + 1

    finally:
        defaults.reset()
    assert race_threads(slow, 3) == [2, 2, 2]
    assert computations(tmp_path) == 3


def test_a_hit_never_takes_the_lock(tmp_path: Path) -> None:
    """With the key's lock held elsewhere, a stored result is still returned at once."""

    @checkpoint(str(tmp_path / "cache"))
    def value() -> str:
        return "stored"

    assert value() == "stored"
    (entry,) = value.cache.entries()
    lock = value.cache.lock(entry.context_id, 60)
    assert lock.acquire()
    try:
        began = time.monotonic()
        assert value() == "stored"  # any warning would fail the test (filterwarnings=error)
        assert time.monotonic() - began < 0.5
    finally:
        lock.release()


def test_a_held_lock_outlives_its_ttl_and_is_gone_once_released(tmp_path: Path) -> None:
    """The holder's lock is refreshed while it computes, and never after it lets go."""
    from checkpointing import PickleFileCache
    from checkpointing._dedup import claim

    cache = PickleFileCache(tmp_path / "cache")
    threads_before = threading.active_count()
    holders = [
        claim(cache, f"key{i}", lambda: None, timeout=5, ttl=0.6, warn=pytest.fail)
        for i in range(20)
    ]
    assert all(holder.hit is None for holder in holders)
    assert threading.active_count() - threads_before <= 1  # one heartbeat for all locks
    time.sleep(2.0)  # over three lock lifetimes: only refreshes keep the locks
    locks = [cache.lock(f"key{i}", 0.6) for i in range(20)]
    others = [lock for lock in locks if lock is not None]
    assert len(others) == 20  # a directory cache locks every key
    assert [other.acquire() for other in others] == [False] * 20
    for holder in holders:
        holder.release()
    assert [other.acquire() for other in others] == [True] * 20
    time.sleep(0.5)  # a refresh after release would take the lock files back
    for other in others:
        assert other.refresh()
        other.release()
    assert list((tmp_path / "cache" / ".locks").glob("key*.lock")) == []
