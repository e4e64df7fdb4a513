"""The call engine: one cached call, whatever is cached (a function or a notebook cell).

Both ``@checkpoint`` and ``%%checkpoint`` come here once they have a key. The engine
looks the key up in the cache, runs the computation on a miss, stores what it
produced, publishes a :class:`~checkpointing.events.CheckpointEvent`, and applies the
``on_error`` policy to every failure of the caching machinery. What differs between a
function and a cell is supplied by a :class:`Subject`: how to run one call, what to
store for its result, how to turn a stored entry back into a result, how to describe
its inputs, and how to word a failure. The engine itself knows nothing of either.

The rules it enforces, in one place:

* an exception raised by the computation itself propagates unchanged, nothing stored;
* a failure of the machinery (identify, read, restore, store) never changes what the
  computation does: ``on_error`` decides whether it raises ``CheckpointFailure``, warns
  or passes silently, and the call then runs (or its result is returned) uncached;
* a stored entry that cannot be read or restored is a miss, never a wrong result;
* a miss that ran faster than the minimum run time (the engine's ``min_run_time``, else
  ``defaults["checkpoint.min_run_time"]``) is not stored: loading would save nothing.
  A forced re-run always stores, so it never leaves an older entry in place.

No module-level sentinel crosses the engine's boundary: a hit is returned as a
one-element tuple, so a wrapper shipped to another process by value (cloudpickle)
compares nothing by identity.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from checkpointing.config import validate_on_error
from checkpointing.events import CheckpointEvent, EventKind, has_listeners, publish
from checkpointing.exceptions import CheckpointFailure, CheckpointNotExist
from checkpointing.interfaces import CallRecord, entry_info

if TYPE_CHECKING:
    from checkpointing._dedup import Claim
    from checkpointing.cache.base import CacheBase

__all__ = ["CallEngine", "Stage", "Subject", "apply_on_error"]

C = TypeVar("C")  # what one call is made of: (args, kwargs) for a function
C_contra = TypeVar("C_contra", contravariant=True)

Stage = Literal["identify", "read", "restore", "store"]
"""Where the machinery failed: computing the key, reading, restoring or storing an entry."""


class Subject(Protocol[C_contra]):
    """What the engine caches: a function or a cell. ``C`` is one call's data."""

    @property
    def name(self) -> str:
        """The full name events and cache metadata use (``module.qualname``, ``cell:x``)."""
        ...

    def run(self, call: C_contra) -> Any:
        """Run the computation (for an async function: return the awaitable)."""
        ...

    def to_store(self, call: C_contra, result: Any) -> Any:
        """Return what to store for ``result``; raise if it cannot be stored faithfully."""
        ...

    def from_store(self, call: C_contra, stored: Any) -> Any:
        """Return the result a stored entry stands for; raise if it cannot be restored.

        Raising ``CheckpointNotExist`` makes the entry a quiet miss.
        """
        ...

    def describe(self, call: C_contra) -> str:
        """Summarise the call's inputs for cache listings (never raises)."""
        ...

    def components(self, call: C_contra) -> Mapping[str, Any] | None:
        """Return metadata to store with the entry, read *before* the run (never raises).

        The decorator returns the digests of the call's parts, which ``explain`` compares
        later; taken before the run because the run may mutate its inputs.
        """
        ...

    def failure_message(self, stage: Stage, exc: BaseException) -> str:
        """Word a machinery failure at ``stage`` for the user, with what happens next."""
        ...

    def warn(self, message: str) -> None:
        """Show ``message`` as a ``CheckpointingWarning`` where the user will see it."""
        ...


def apply_on_error(
    on_error: str, message: str, cause: BaseException, warn: Callable[[str], None]
) -> None:
    """Apply an ``on_error`` policy: raise ``CheckpointFailure``, ``warn(message)`` or nothing."""
    if on_error == "raise":
        raise CheckpointFailure(message) from cause
    if on_error == "warn":
        warn(message)


class CallEngine(Generic[C]):
    """Run calls of one subject through one cache under one ``on_error`` policy."""

    __slots__ = ("cache", "dedup", "min_run_time", "on_error", "subject")

    def __init__(
        self,
        subject: Subject[C],
        cache: CacheBase,
        on_error: str,
        dedup: bool | None = None,
        min_run_time: float | None = None,
    ) -> None:
        from checkpointing.config import validate

        self.subject = subject
        self.cache = cache
        self.on_error = validate_on_error(on_error)
        # None: the setting, read at each store (so changing it applies to every function).
        self.min_run_time: float | None = (
            None
            if min_run_time is None
            else float(validate("checkpoint.min_run_time", min_run_time, "min_run_time"))
        )
        if dedup is None:
            from checkpointing.config import defaults

            dedup = bool(defaults["checkpoint.dedup"])
        # One computation per key on concurrent misses (see checkpointing._dedup).
        self.dedup = dedup

    # -- whole calls ---------------------------------------------------------------------
    def call(self, key: Hashable | None, call: C, force: bool = False, started: float = 0.0) -> Any:
        """Return the stored result for ``key`` or run ``call`` and store its result.

        ``key`` is ``None`` when the call could not be identified (the caller already
        applied ``on_error``): it then runs uncached. ``force`` runs even on a hit and
        overwrites the entry. ``started`` is when the caller began (for the hit's time).
        """
        started = started or time.perf_counter()
        claim = None
        if key is not None and not force:
            hit = self.lookup(key, call, started)
            if hit is not None:
                return hit[0]
            if self.dedup:
                claim = self.claim(key, call, started)
                if claim.hit is not None:
                    return claim.hit[0]
        try:
            extra = None if key is None else self.subject.components(call)
            start = time.perf_counter()
            result = self.subject.run(call)
            self.finish(key, call, result, time.perf_counter() - start, force, extra)
        finally:
            if claim is not None:
                claim.release()
        return result

    def claim(self, key: Hashable, call: C, started: float) -> Claim:
        """After a miss, wait while another caller computes ``key`` (see ``_dedup``).

        Return the claim: its ``hit`` is the result stored meanwhile, or ``None`` when this
        caller computes (and must ``release()`` the claim after storing).
        """
        from checkpointing._dedup import claim

        return claim(self.cache, key, self._loader(key, call, started), **self._waiting())

    async def claim_async(self, key: Hashable, call: C, started: float) -> Claim:
        """Like :meth:`claim`, awaiting instead of blocking (see ``_dedup_async``)."""
        from checkpointing._dedup_async import claim_async

        load = self._loader(key, call, started)
        return await claim_async(self.cache, key, load, **self._waiting())

    def _loader(self, key: Hashable, call: C, started: float) -> Callable[[], tuple[Any] | None]:
        """Return how a waiter loads ``key``: ``(result,)`` once stored, else ``None``."""

        def load() -> tuple[Any] | None:
            # Quiet: the lookup that missed already reported any failure of the cache.
            try:
                stored, run_time = self.cache.retrieve_entry(key)
                result = self.subject.from_store(call, stored)
            except Exception:  # noqa: BLE001 - absent or unusable: keep waiting or compute
                return None
            self.publish("hit", key, time.perf_counter() - started, run_time)
            return (result,)

        return load

    def _waiting(self) -> dict[str, Any]:
        """Return the settings of waiting: timeout, lock lifetime and how to warn."""
        from checkpointing.config import defaults

        return {
            "timeout": float(defaults["checkpoint.dedup_timeout"]),
            "ttl": float(defaults["checkpoint.lock_ttl"]),
            "warn": self.subject.warn,
        }

    async def call_async(
        self, key: Hashable | None, call: C, force: bool = False, started: float = 0.0
    ) -> Any:
        """Like :meth:`call` for a subject whose ``run`` returns an awaitable."""
        started = started or time.perf_counter()
        claim = None
        if key is not None and not force:
            hit = self.lookup(key, call, started)
            if hit is not None:
                return hit[0]
            if self.dedup:
                claim = await self.claim_async(key, call, started)
                if claim.hit is not None:
                    return claim.hit[0]
        try:
            extra = None if key is None else self.subject.components(call)
            start = time.perf_counter()
            awaitable: Awaitable[Any] = self.subject.run(call)
            result = await awaitable
            self.finish(key, call, result, time.perf_counter() - start, force, extra)
        finally:
            # Also on failure or cancellation: a waiter then computes itself.
            if claim is not None:
                claim.release()
        return result

    # -- the two halves --------------------------------------------------------------------
    def lookup(self, key: Hashable, call: C, started: float) -> tuple[Any] | None:
        """Return ``(result,)`` on a hit (and publish it), ``None`` on a miss."""
        try:
            stored, run_time = self.cache.retrieve_entry(key)
        except CheckpointNotExist:
            return None
        except Exception as exc:  # noqa: BLE001 - any cache failure goes to on_error
            self.fail("read", exc)
            return None
        try:
            result = self.subject.from_store(call, stored)
        except CheckpointNotExist:
            return None  # the subject does not recognise the entry: a plain miss
        except Exception as exc:  # noqa: BLE001 - an entry that cannot be restored is a miss
            self.fail("restore", exc)
            return None
        self.publish("hit", key, time.perf_counter() - started, run_time)
        return (result,)

    def finish(
        self,
        key: Hashable | None,
        call: C,
        result: Any,
        run_time: float,
        force: bool,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Store ``result`` of a run under ``key`` (if any) and publish what happened."""
        kind: EventKind = "rerun" if force else "miss"
        if key is None or (not force and run_time < self.threshold()):
            kind = "uncached"
        else:
            try:
                payload = self.subject.to_store(call, result)
                summary = self.subject.describe(call)
                record = CallRecord(self.subject.name, summary, run_time, extra or {})
                self.cache.save_entry(key, payload, entry_info(key, record))
                # Size and age limits are enforced after stores, never on a hit.
                from checkpointing.limits import note_store

                note_store(self.cache)
            except Exception as exc:  # noqa: BLE001 - the run succeeded; only storing failed
                self.fail("store", exc)
                kind = "uncached"
        self.publish(kind, key, run_time, run_time)

    def threshold(self) -> float:
        """Return the minimum run time of a result worth storing, in seconds."""
        if self.min_run_time is not None:
            return self.min_run_time
        from checkpointing.config import defaults

        return float(defaults["checkpoint.min_run_time"])

    # -- policy and notices ----------------------------------------------------------------
    def fail(self, stage: Stage, exc: BaseException) -> None:
        """Apply ``on_error`` to a machinery failure at ``stage``."""
        message = self.subject.failure_message(stage, exc)
        apply_on_error(self.on_error, message, exc, self.subject.warn)

    def publish(
        self, kind: EventKind, key: Hashable | None, elapsed: float, run_time: float | None
    ) -> None:
        """Tell listeners (the notebook panel) what one call did; free when none listen."""
        if has_listeners():
            publish(CheckpointEvent(kind, self.subject.name, key, elapsed, run_time, self.cache))
