"""One computation per key for async functions: tasks missing on one key compute it once.

Everything is real: tasks of a real event loop (``asyncio.run``), event loops in other
threads, real directory caches with their lock files. Each computation appends a line to a
counter file; a "ticker" task proves the event loop keeps running while a task waits.
Racing processes running async code are in ``test_dedup.py`` with the sync racers.
"""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from checkpointing import CheckpointingWarning, MemoryCache, checkpoint, defaults


def computations(tmp_path: Path) -> int:
    """Return how many times the counted function ran."""
    counter = tmp_path / "count"
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def counted(tmp_path: Path, kind: str, seconds: float, **options: Any) -> Any:
    """Return a checkpointed async function ``x -> x + 1`` that counts its runs.

    ``kind`` picks the cache: "memory" (no lock of its own) or "directory" (lock files).
    """
    log = str(tmp_path / "count")
    cache: Any = MemoryCache() if kind == "memory" else str(tmp_path / "cache")

    @checkpoint(cache=cache, **options)
    async def slow(x: int) -> int:
        with open(log, "a") as file:
            file.write("ran\n")
        await asyncio.sleep(seconds)
        return x + 1

    return slow


def first_run_slow(tmp_path: Path, kind: str, seconds: float) -> Any:
    """Return a counted async ``x -> x + 1`` whose first run takes ``seconds``, others 0.1 s."""
    log = str(tmp_path / "count")
    cache: Any = MemoryCache() if kind == "memory" else str(tmp_path / "cache")

    @checkpoint(cache=cache)
    async def slow(x: int) -> int:
        with open(log, "a") as file:
            file.write("ran\n")
        with open(log) as file:
            first = len(file.readlines()) == 1
        await asyncio.sleep(seconds if first else 0.1)
        return x + 1

    return slow


async def until_computing(tmp_path: Path, count: int = 1) -> None:
    """Wait until the counted function has started ``count`` times."""
    while computations(tmp_path) < count:
        await asyncio.sleep(0.005)


async def ticking_while(awaitable: Awaitable[Any]) -> tuple[Any, int]:
    """Await ``awaitable`` while another task ticks every 10 ms; return its value and ticks."""
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        return await awaitable, ticks
    finally:
        ticker.cancel()


def in_other_thread(function: Callable[[], Awaitable[Any]]) -> tuple[threading.Thread, list[Any]]:
    """Run ``function()`` in a new thread with its own event loop; return it and its results."""
    results: list[Any] = []

    async def main() -> Any:
        return await function()

    thread = threading.Thread(target=lambda: results.append(asyncio.run(main())))
    thread.start()
    return thread, results


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_gathered_identical_calls_compute_once(tmp_path: Path, kind: str) -> None:
    """asyncio.gather of five identical calls computes once and every call gets the result."""
    slow = counted(tmp_path, kind, 0.3)

    async def main() -> list[int]:
        return list(await asyncio.gather(*(slow(1) for _ in range(5))))

    assert asyncio.run(main()) == [2, 2, 2, 2, 2]
    assert computations(tmp_path) == 1


@pytest.mark.parametrize("how", ["argument", "setting"])
def test_without_dedup_every_task_computes(tmp_path: Path, how: str) -> None:
    """dedup=False, or the setting off, lets each of the gathered calls compute."""
    if how == "argument":
        slow = counted(tmp_path, "directory", 0.3, dedup=False)
    else:
        defaults["checkpoint.dedup"] = False
        try:
            slow = counted(tmp_path, "directory", 0.3)
        finally:
            defaults.reset()

    async def main() -> list[int]:
        return list(await asyncio.gather(*(slow(1) for _ in range(3))))

    assert asyncio.run(main()) == [2, 2, 2]
    assert computations(tmp_path) == 3


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_cancelling_the_computing_task_lets_a_waiter_compute(tmp_path: Path, kind: str) -> None:
    """A computing task cancelled mid-run lets go: a waiting task computes and returns."""
    slow = counted(tmp_path, kind, 0.5)

    async def main() -> int:
        first = asyncio.create_task(slow(1))
        await until_computing(tmp_path)
        second = asyncio.create_task(slow(1))
        await asyncio.sleep(0.1)
        assert computations(tmp_path) == 1  # the second task waits for the first
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        value: int = await asyncio.wait_for(second, 10)
        return value

    assert asyncio.run(main()) == 2
    assert computations(tmp_path) == 2
    assert asyncio.run(slow(1)) == 2  # the waiter stored its result
    assert computations(tmp_path) == 2


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_a_failing_computation_is_not_delivered_to_waiters(tmp_path: Path, kind: str) -> None:
    """When the computing call raises, only it gets the exception: one waiter computes."""
    log = str(tmp_path / "count")
    cache: Any = MemoryCache() if kind == "memory" else str(tmp_path / "cache")

    @checkpoint(cache=cache)
    async def flaky(x: int) -> int:
        with open(log, "a") as file:
            file.write("ran\n")
        await asyncio.sleep(0.2)
        with open(log) as file:
            if len(file.readlines()) == 1:
                raise ValueError("the first run fails")
        return x + 1

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(flaky(1) for _ in range(5)), return_exceptions=True))

    first, *others = asyncio.run(main())
    assert isinstance(first, ValueError)
    assert others == [2, 2, 2, 2]
    assert computations(tmp_path) == 2


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_waiting_on_another_event_loop_keeps_this_loop_running(tmp_path: Path, kind: str) -> None:
    """A task waiting for a task of another thread's loop loads its result; its loop runs on."""
    slow = counted(tmp_path, kind, 1.0)
    holder, held = in_other_thread(lambda: slow(1))
    try:

        async def main() -> tuple[Any, int]:
            await until_computing(tmp_path)
            return await ticking_while(slow(1))

        value, ticks = asyncio.run(main())
    finally:
        holder.join()
    assert (value, held) == (2, [2])
    assert computations(tmp_path) == 1
    assert ticks >= 10  # about 100 in the second of waiting; a blocked loop ticks at most once


def test_waiting_in_one_loop_keeps_it_running(tmp_path: Path) -> None:
    """Tasks of one loop waiting for the first one leave the loop free for other tasks."""
    log = str(tmp_path / "count")

    @checkpoint(cache=str(tmp_path / "cache"))
    async def blocking(x: int) -> int:
        with open(log, "a") as file:
            file.write("ran\n")
        await asyncio.sleep(0.5)
        return x + 1

    async def main() -> tuple[Any, int]:
        first = asyncio.create_task(blocking(1))
        await until_computing(tmp_path)
        waiters = asyncio.gather(*(blocking(1) for _ in range(3)))
        (values, ticks) = await ticking_while(waiters)
        return [await first, *values], ticks

    values, ticks = asyncio.run(main())
    assert values == [2, 2, 2, 2]
    assert computations(tmp_path) == 1
    assert ticks >= 10


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_an_async_waiter_computes_itself_after_the_timeout(tmp_path: Path, kind: str) -> None:
    """A task that waited dedup_timeout for another loop's computation computes, warning once."""
    slow = first_run_slow(tmp_path, kind, 4.0)
    holder, _ = in_other_thread(lambda: slow(1))
    defaults["checkpoint.dedup_timeout"] = 0.3
    try:

        async def main() -> int:
            await until_computing(tmp_path)
            began = time.monotonic()
            with pytest.warns(CheckpointingWarning, match=r"waited 0\.3 s") as caught:
                value: int = await slow(1)
            assert len(caught) == 1
            assert time.monotonic() - began < 3.0  # 0.3 s of waiting and its own run
            return value

        assert asyncio.run(main()) == 2
    finally:
        defaults.reset()
        holder.join()
    assert computations(tmp_path) == 2


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_cancelling_a_waiting_task_leaves_the_others_waiting(tmp_path: Path, kind: str) -> None:
    """A waiter cancelled while it waits neither computes nor stops the others loading."""
    slow = counted(tmp_path, kind, 0.5)

    async def main() -> list[Any]:
        first = asyncio.create_task(slow(1))
        await until_computing(tmp_path)
        waiters = [asyncio.create_task(slow(1)) for _ in range(3)]
        await asyncio.sleep(0.1)
        waiters[1].cancel()
        return list(await asyncio.gather(first, *waiters, return_exceptions=True))

    first, waiter, cancelled, last = asyncio.run(main())
    assert (first, waiter, last) == (2, 2, 2)
    assert isinstance(cancelled, asyncio.CancelledError)
    assert computations(tmp_path) == 1


@pytest.mark.parametrize("kind", ["memory", "directory"])
def test_cancelling_a_task_of_another_loop_lets_this_one_compute(tmp_path: Path, kind: str) -> None:
    """A computing task of another thread's loop, cancelled, lets a waiter here compute."""
    slow = first_run_slow(tmp_path, kind, 30.0)
    cancel = threading.Event()

    async def cancelled_holder() -> bool:
        task = asyncio.create_task(slow(1))
        while not cancel.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return task.cancelled()

    holder, held = in_other_thread(cancelled_holder)
    try:

        async def main() -> int:
            await until_computing(tmp_path)
            waiter = asyncio.create_task(slow(1))
            await asyncio.sleep(0.1)
            assert computations(tmp_path) == 1  # it waits for the other loop
            cancel.set()
            value: int = await asyncio.wait_for(waiter, 60)
            return value

        began = time.monotonic()
        assert asyncio.run(main()) == 2
    finally:
        cancel.set()
        holder.join()
    assert held == [True]
    assert computations(tmp_path) == 2
    assert time.monotonic() - began < 20  # not the cancelled holder's 30 s


def test_a_coroutine_run_without_asyncio_computes_without_waiting(tmp_path: Path) -> None:
    """A coroutine driven by another runner than asyncio (as trio does) runs and stores."""
    log = str(tmp_path / "count")

    @checkpoint(cache=str(tmp_path / "cache"))
    async def plain(x: int) -> int:
        with open(log, "a") as file:
            file.write("ran\n")
        return x + 1

    def drive(coroutine: Any) -> Any:
        """Run a coroutine that never suspends, with no event loop at all."""
        with pytest.raises(StopIteration) as done:
            coroutine.send(None)
        return done.value.value

    assert drive(plain(1)) == 2
    assert drive(plain(1)) == 2
    assert computations(tmp_path) == 1


def test_an_unreachable_cache_means_computing_not_waiting() -> None:
    """With the Redis server down, gathered async calls each compute, warning once a call."""
    from tests.servers import free_port

    port = free_port()
    calls: list[int] = []

    @checkpoint(cache=f"redis://127.0.0.1:{port}/0")
    async def double(x: int) -> int:
        calls.append(x)
        await asyncio.sleep(0.1)
        return 2 * x

    async def main() -> list[int]:
        return list(await asyncio.gather(*(double(21) for _ in range(3))))

    began = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(main()) == [42, 42, 42]
    assert calls == [21, 21, 21]
    assert len(caught) == 3, [str(w.message) for w in caught]
    assert all(issubclass(w.category, CheckpointingWarning) for w in caught)
    assert time.monotonic() - began < 10
