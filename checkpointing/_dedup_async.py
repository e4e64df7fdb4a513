"""One computation per key for ``async def`` functions, waiting without blocking the loop.

The counterpart of :func:`checkpointing._dedup.claim` for ``CallEngine.call_async``. A
task that misses on a key takes three turns, all given back by :meth:`AsyncClaim.release`
once the result is stored, or the computation failed or was cancelled:

1. the tasks of one event loop that miss on the same cache and key queue first come,
   first served (:class:`_Queue`, a line of futures): a waiting task awaits its own
   future, which the task before it resolves when it lets go, so it wakes at once and
   costs nothing while it waits;
2. the task at the head, if it waited, looks for the result of the task before it; if
   none, it takes this process's turn on the key (the ``threading.Lock`` the sync
   ``claim`` uses) without blocking; held by a task of another event loop (another
   thread), it is tried again after growing pauses, awaited with ``asyncio.sleep``;
3. then :func:`checkpointing._dedup.decide` runs exactly as for threads: look for the
   result, try the store's lock (one quick request, made from the loop), try again after
   the same growing pauses, now awaited, and hold it refreshed by the shared heartbeat.

One deadline (``defaults["checkpoint.dedup_timeout"]``) covers all three turns, with one
warning when it passes. A computation that fails or is cancelled lets go like one that
stored its result: the next waiter looks for the result, finds none and computes itself;
it never receives the other call's exception. A waiter cancelled while it waits passes
its turn on, even one handed to it a moment before. A coroutine run by another async
library than asyncio (no asyncio event loop runs) computes without waiting.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Generator, Hashable
from typing import Any, TypeVar

from checkpointing._dedup import Claim, Flight, Load, Request, decide, found, join, poll

__all__ = ["AsyncClaim", "claim_async"]

T = TypeVar("T")

_QueueName = tuple[asyncio.AbstractEventLoop, tuple[int, Hashable]]


class _Queue:
    """The tasks of one event loop waiting for one (cache, key), first come first served."""

    __slots__ = ("busy", "users", "waiters")

    def __init__(self) -> None:
        self.busy = False  # a task has the turn
        self.users = 0
        self.waiters: deque[asyncio.Future[None]] = deque()


_queues: dict[_QueueName, _Queue] = {}
_queues_guard = threading.Lock()  # loops of several threads share the registry


def _join_queue(name: _QueueName) -> _Queue:
    """Count one more task of ``name``'s loop for its key; return the key's queue."""
    with _queues_guard:
        queue = _queues.get(name)
        if queue is None:
            queue = _queues[name] = _Queue()
        queue.users += 1
        return queue


def _leave_queue(name: _QueueName, queue: _Queue) -> None:
    """Count one task fewer; the last one to leave forgets the queue (and its loop)."""
    with _queues_guard:
        queue.users -= 1
        if queue.users == 0:
            _queues.pop(name, None)


def _hand_on(queue: _Queue) -> None:
    """Give the turn to the first task still waiting, or mark the queue free."""
    while queue.waiters:
        waiter = queue.waiters.popleft()
        if not waiter.done():
            waiter.set_result(None)
            return
    queue.busy = False


class AsyncClaim(Claim):
    """A :class:`Claim` that also holds the turn of its event loop's queue for the key."""

    __slots__ = ("_queue", "_queue_name", "_queued")

    def __init__(
        self, name: tuple[int, Hashable], flight: Flight, loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__(name, flight)
        self._queue_name: _QueueName = (loop, name)
        self._queue: _Queue | None = _join_queue(self._queue_name)
        self._queued = False  # whether this task has the queue's turn

    async def take_queue(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for this loop's turn on the key; return whether it came."""
        queue = self._queue
        assert queue is not None
        if not queue.busy:
            queue.busy = self._queued = True
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.waiters.append(waiter)
        try:
            # wait() never cancels the waiter, so a turn handed over is never lost.
            await asyncio.wait((waiter,), timeout=timeout)
        except BaseException:
            if waiter.done():
                _hand_on(queue)  # the turn came just as this task was cancelled: pass it on
            else:
                queue.waiters.remove(waiter)
            raise
        if not waiter.done():
            queue.waiters.remove(waiter)
            return False
        self._queued = True
        return True

    def waits(self) -> bool:
        """Tell whether another task of this loop has the turn now."""
        return self._queue is not None and self._queue.busy

    def release(self) -> None:
        """Give up the locks, then this loop's turn (call from the loop, once stored)."""
        super().release()
        if self._queue is not None:
            queue, self._queue = self._queue, None
            if self._queued:
                self._queued = False
                _hand_on(queue)
            _leave_queue(self._queue_name, queue)


async def claim_async(
    cache: Any,
    key: Hashable,
    load: Load,
    *,
    timeout: float,
    ttl: float,
    warn: Callable[[str], None],
) -> Claim:
    """Await until ``key`` is stored by another caller or this task may compute it.

    As :func:`checkpointing._dedup.claim`, but every wait is awaited: the event loop
    keeps running the other tasks meanwhile.
    """
    name, flight = join(cache, key)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        # Run by another async library (trio...), whose tasks cannot await asyncio's
        # futures and sleeps: this call computes without waiting, as with dedup off.
        outcome = Claim(name, flight)
        outcome.release()
        return outcome
    request = Request(cache, key, load, timeout, ttl, warn)
    outcome = AsyncClaim(name, flight, loop)
    try:
        queued = outcome.waits()
        if not await outcome.take_queue(request.remaining()):
            outcome.release()  # this task holds nothing: it computes on its own
            return request.give_up(outcome)
        # Another task of this loop computed the key: look for its result at once.
        if queued and found(outcome, load):
            return outcome
        waited = not outcome.take_turn()
        # A task of another event loop (thread) of this process computes the key.
        if waited and not await _wait_through(poll(outcome.take_turn, request.deadline)):
            # Keep this loop's turn: its other tasks then load what this one stores.
            return request.give_up(outcome)
        await _wait_through(decide(outcome, request, waited))
        return outcome
    except BaseException:
        outcome.release()
        raise


async def _wait_through(steps: Generator[float, None, T]) -> T:
    """Run ``steps``, awaiting each pause it yields; return what it returns."""
    while True:
        try:
            pause = next(steps)
        except StopIteration as stop:
            result: T = stop.value
            return result
        await asyncio.sleep(pause)
