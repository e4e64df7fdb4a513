"""The decorators: ``@checkpoint`` and ``DecoratorCheckpoint`` put functions before the engine.

Decorating a function prepares everything a call needs, once: the binder of its
arguments (against the code that is actually called, see :mod:`checkpointing._binding`),
the static profile of its code, the cache (objects with only the seed's
``save``/``retrieve`` are adapted here, see :func:`checkpointing.backend.resolve_cache`)
and a :class:`~checkpointing.engine.CallEngine`. A call then only computes its key and
hands over: looking up, running, storing, events and the ``on_error`` policy are the
engine's, shared with ``%%checkpoint``.

One builder (``_build_wrapper``) makes every wrapper, sync or async, and sets its
attributes in one place. The wrapper's body only calls methods of importable classes,
so a wrapper that cloudpickle ships by value (a function defined in ``__main__`` or a
notebook) behaves the same in the receiving process: no module-level sentinel is
compared by identity across the pickling boundary.

Heavy modules (``inspect``, the code analysis, the hasher, the file cache) are imported
at the first decoration, so ``import checkpointing`` stays cheap.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Hashable
from types import FunctionType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, overload

from checkpointing.config import defaults, validate, validate_on_error
from checkpointing.context import FuncCallContext

if TYPE_CHECKING:
    from collections.abc import Mapping

    from checkpointing._binding import Binder
    from checkpointing._profile import CodeProfile
    from checkpointing.cache.base import CacheBase
    from checkpointing.engine import CallEngine, Stage
    from checkpointing.explain import Explanation
    from checkpointing.interfaces import CacheSpec, Identifier

__all__ = ["CheckpointedFunction", "DecoratorCheckpoint", "checkpoint"]

P = ParamSpec("P")
R = TypeVar("R", covariant=True)

# One call of a decorated function, as the engine carries it.
_Call = tuple[tuple[Any, ...], dict[str, Any]]


class CheckpointedFunction(Protocol[P, R]):
    """What decorating a function returns: the function, plus ``rerun``, ``explain``, ``cache``."""

    cache: Any

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Return the stored result for this call context, or run and store it."""
        ...

    def rerun(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function even if a result is stored, and store the new result."""
        ...

    def explain(self, *args: P.args, **kwargs: P.kwargs) -> Explanation:
        """Tell whether this call would hit and, if not, what changed (runs nothing)."""
        ...


class DecoratorCheckpoint:
    """Cache the results of the functions it decorates, with the given identifier and cache.

    ``identifier`` must provide ``identify(context)`` (see
    :class:`FuncCallIdentifierBase`); ``cache`` is a :class:`CacheBase`, or any object
    with ``save`` and ``retrieve`` (adapted once, here). ``on_error`` is ``"raise"``,
    ``"warn"`` or ``"ignore"``; ``None`` takes ``defaults["checkpoint.on_error"]``. One
    instance may decorate any number of functions: each keeps its own scope.
    """

    def __init__(
        self,
        identifier: Identifier,
        cache: CacheSpec,
        on_error: str | None = None,
        dedup: bool | None = None,
        min_run_time: float | None = None,
    ) -> None:
        from checkpointing.backend import SaveRetrieveCache, resolve_cache

        if isinstance(identifier, type):
            raise TypeError(
                f"identifier must be an instance, got the class {identifier.__name__}; "
                f"did you mean {identifier.__name__}()?"
            )
        if not callable(getattr(identifier, "identify", None)):
            raise TypeError(
                "identifier must provide identify(context), e.g. an instance of a "
                f"FuncCallIdentifierBase subclass; got {identifier!r}"
            )
        self.identifier = identifier
        self.store: CacheBase = resolve_cache(cache, label="cache")
        # What ``wrapper.cache`` shows: the cache itself, or the user's own object when
        # it had to be adapted (never the adapter, nor a backend name).
        self.cache: Any = cache if isinstance(self.store, SaveRetrieveCache) else self.store
        self.on_error = validate_on_error(
            on_error if on_error is not None else defaults["checkpoint.on_error"]
        )
        # Concurrent misses on one key compute once (see checkpointing._dedup).
        self.dedup: bool = defaults["checkpoint.dedup"] if dedup is None else bool(dedup)
        # Faster calls are not stored; None follows defaults["checkpoint.min_run_time"].
        self.min_run_time = (
            None
            if min_run_time is None
            else validate("checkpoint.min_run_time", min_run_time, "min_run_time")
        )

    def __call__(self, func: Callable[P, R]) -> CheckpointedFunction[P, R]:
        """Return a caching wrapper of ``func`` with a ``rerun`` method."""
        checkpointed = _Checkpointed(
            func, self.identifier, self.store, self.on_error, self.dedup, self.min_run_time
        )
        wrapper: CheckpointedFunction[P, R] = _build_wrapper(checkpointed, self.cache)
        return wrapper


@overload
def checkpoint(directory: Callable[P, R]) -> CheckpointedFunction[P, R]: ...


@overload
def checkpoint(
    directory: str | os.PathLike[str] | None = None,
    on_error: str | None = None,
    cache_pickle_protocol: int | None = None,
    cache: CacheSpec | None = None,
    dedup: bool | None = None,
    min_run_time: float | None = None,
) -> DecoratorCheckpoint: ...


def checkpoint(
    directory: Any = None,
    on_error: str | None = None,
    cache_pickle_protocol: int | None = None,
    cache: CacheSpec | None = None,
    dedup: bool | None = None,
    min_run_time: float | None = None,
) -> Any:
    """Cache a function's results; use as ``@checkpoint()`` or bare ``@checkpoint``.

    Results go to ``cache`` if given (a cache, a backend name, a path or a URL such as
    ``s3://bucket/prefix`` or ``redis://host:6379/0``: see :func:`checkpointing.open_cache`),
    else to ``directory`` as pickle files when a directory or protocol is given, else to
    the backend of ``defaults["cache.backend"]`` (``"file"``: the cache named by the
    ``CHECKPOINTING_CACHE`` environment variable if set, else pickle files in
    ``defaults["cache.filesystem.directory"]``, resolved against the working directory
    now). ``on_error`` is as for :class:`DecoratorCheckpoint`. ``dedup`` (default
    ``defaults["checkpoint.dedup"]``, on) makes concurrent misses on one key, in threads,
    async tasks, processes or machines sharing the cache, compute it once while the
    others wait (async tasks without blocking their event loop).
    ``min_run_time`` (seconds; default ``defaults["checkpoint.min_run_time"]``, 0) leaves
    calls that ran faster than that uncached: loading them would not save time.
    """
    from checkpointing.backend import resolve_cache
    from checkpointing.identifier import AutoFuncCallIdentifier

    if callable(directory) and not isinstance(directory, str | os.PathLike):
        return checkpoint()(directory)  # bare @checkpoint
    if on_error is not None:
        validate_on_error(on_error)  # before any cache directory is made
    if cache is not None:
        if directory is not None or cache_pickle_protocol is not None:
            raise ValueError("pass either cache= or directory=/cache_pickle_protocol=, not both")
    elif directory is not None or cache_pickle_protocol is not None:
        from checkpointing.cache.pickle_file import PickleFileCache

        if cache_pickle_protocol is not None:
            validate("cache.pickle_protocol", cache_pickle_protocol, "cache_pickle_protocol")
        cache = PickleFileCache(directory, cache_pickle_protocol)
    else:
        cache = resolve_cache(None)
    return DecoratorCheckpoint(AutoFuncCallIdentifier(), cache, on_error, dedup, min_run_time)


class _Checkpointed:
    """One decorated function: what the engine calls its subject.

    Holds what every call needs, prepared at decoration: the binder, the code profile
    and the engine. Pickles as the arguments it was made from, so a copy in another
    process rebuilds its profile there.
    """

    __slots__ = ("__weakref__", "binder", "engine", "func", "identifier", "name", "profile")

    def __init__(
        self,
        func: Any,
        identifier: Identifier,
        cache: CacheBase,
        on_error: str,
        dedup: bool | None = None,
        min_run_time: float | None = None,
    ) -> None:
        import inspect

        from checkpointing._binding import Binder
        from checkpointing._hashing import WRAPPED_ATTRIBUTE
        from checkpointing._profile import profile_of
        from checkpointing.engine import CallEngine
        from checkpointing.identifier import AutoFuncCallIdentifier

        if not isinstance(func, FunctionType):
            raise TypeError(
                f"checkpoint can decorate Python functions only, got {func!r} "
                f"({type(func).__name__})"
            )
        # Decorating a checkpointed function again caches the function it wraps.
        self.func: FunctionType = getattr(func, WRAPPED_ATTRIBUTE, func)
        self.name = f"{func.__module__}.{func.__qualname__}"
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                f"checkpoint cannot cache generator function {self.name}: its values "
                "are produced lazily. Return a list (or other container) instead."
            )
        self.identifier = identifier
        self.binder: Binder = Binder(self.func)
        # Analyse the code now: the source is at hand at decoration time (in a notebook
        # the cell is still in linecache), and the first call is not slowed down.
        auto = isinstance(identifier, AutoFuncCallIdentifier)
        self.profile: CodeProfile | None = profile_of(self.func) if auto else None
        self.engine: CallEngine[_Call] = CallEngine(self, cache, on_error, dedup, min_run_time)
        from checkpointing._live import register

        register(self.name, self)  # so listings can tell entries of older code

    def __reduce__(self) -> tuple[Any, ...]:
        from checkpointing._shipping import ShippedProfiles, build_after_profiles

        engine = self.engine
        arguments = (
            self.func,
            self.identifier,
            engine.cache,
            engine.on_error,
            engine.dedup,
            engine.min_run_time,
        )
        # The profiles unpickle first, so the copy's profile_of finds the sender's.
        return (build_after_profiles, (ShippedProfiles(self.func), _Checkpointed, arguments))

    def key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable | None:
        """Return the context id of a call; ``None`` if it is wrong or cannot be identified."""
        arguments = self.binder.bind(args, kwargs)
        if arguments is None:
            return None  # a wrong call: the function raises its own TypeError
        try:
            return self.identifier.identify(FuncCallContext(self.func, arguments, self.profile))
        except Exception as exc:  # noqa: BLE001 - any identifier failure goes to on_error
            self.engine.fail("identify", exc)
            return None

    # -- the Subject protocol of the engine -----------------------------------------------
    def run(self, call: _Call) -> Any:
        """Call the function."""
        return self.func(*call[0], **call[1])

    def to_store(self, call: _Call, result: Any) -> Any:
        """Store the return value itself."""
        return result

    def from_store(self, call: _Call, stored: Any) -> Any:
        """Return the stored value itself."""
        return stored

    def components(self, call: _Call) -> Mapping[str, Any] | None:
        """Digest each component of the call for ``explain``: on a miss, before the run.

        Before the run, because the function may mutate its arguments or the globals it
        reads: the digests must describe the state the key was made from.
        """
        from checkpointing._components import call_components

        try:
            return call_components(self.func, self.binder.bind(*call) or {}, self.profile)
        except Exception:  # noqa: BLE001 - metadata must never fail a save
            return {}

    def explain(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Explanation:
        """Tell whether this call would hit and, if not, what changed since the closest entry."""
        from checkpointing.explain import explain_call

        arguments = self.binder.signature.bind(*args, **kwargs)  # a wrong call: TypeError
        arguments.apply_defaults()
        return explain_call(
            self.func,
            arguments.arguments,
            self.describe((args, kwargs)),
            self.key(args, kwargs),
            self.name,
            self.engine.cache.entries(),
            self.profile,
        )

    def describe(self, call: _Call) -> str:
        """Summarise the bound arguments for cache listings."""
        from checkpointing._summary import summarise_arguments

        try:
            return summarise_arguments(self.binder.bind(*call) or {})
        except Exception:  # noqa: BLE001 - metadata must never fail a save
            return ""

    def failure_message(self, stage: Stage, exc: BaseException) -> str:
        """Word a machinery failure: which function, what failed, what happens now."""
        consequence = _CONSEQUENCES[stage]
        return f"checkpoint of {self.name}: {_STAGES[stage]}: {exc}; {consequence}"

    def warn(self, message: str) -> None:
        """Warn at the user's line, however deep the failure happened."""
        from checkpointing._warnings import warn_at_user
        from checkpointing.exceptions import CheckpointingWarning

        warn_at_user(message, CheckpointingWarning)


_STAGES = {
    "identify": "could not identify the call",
    "read": "could not read the cache",
    "restore": "could not restore the stored result",
    "store": "could not store the result",
}
_CONSEQUENCES = {
    "identify": "it runs uncached",
    "read": "it runs uncached",
    "restore": "it runs again",
    "store": "the result was returned but not cached",
}


def _build_wrapper(checkpointed: _Checkpointed, cache: Any) -> Any:
    """Make the wrapper of one decorated function (sync or async) and set its attributes."""
    from checkpointing._hashing import WRAPPED_ATTRIBUTE
    from checkpointing._shipping import SHIPPED_ATTRIBUTE, ShippedProfiles

    func = checkpointed.func
    engine = checkpointed.engine
    key = checkpointed.key
    clock = time.perf_counter
    if _is_coroutine_function(func):

        async def call_async(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            return await engine.call_async(key(args, kwargs), (args, kwargs), False, started)

        async def rerun_async(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            return await engine.call_async(key(args, kwargs), (args, kwargs), True, started)

        wrapper: Any = functools.wraps(func)(call_async)
        wrapper.rerun = rerun_async
    else:

        def call(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            return engine.call(key(args, kwargs), (args, kwargs), False, started)

        def rerun(*args: Any, **kwargs: Any) -> Any:
            """Run the function even if a result is stored, and store the new result."""
            started = clock()
            return engine.call(key(args, kwargs), (args, kwargs), True, started)

        wrapper = functools.wraps(func)(call)
        wrapper.rerun = rerun

    def explain(*args: Any, **kwargs: Any) -> Explanation:
        """Tell whether this call would hit and, if not, why it misses (runs nothing)."""
        return checkpointed.explain(args, kwargs)

    wrapper.explain = explain
    wrapper.cache = cache
    setattr(wrapper, WRAPPED_ATTRIBUTE, func)
    # Pickled by value (cloudpickle), the wrapper carries the profiles of its code.
    setattr(wrapper, SHIPPED_ATTRIBUTE, ShippedProfiles(func))
    return wrapper


def _is_coroutine_function(func: FunctionType) -> bool:
    """Tell whether calling ``func`` returns a coroutine to await."""
    import inspect

    return inspect.iscoroutinefunction(func)
