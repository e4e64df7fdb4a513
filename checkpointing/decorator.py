"""The decorators: ``DecoratorCheckpoint`` coordinates an identifier and a cache.

For each call the wrapper asks the identifier for the context id, asks the cache for
a stored result and, on a miss, runs the function and stores what it returned.
Failures of this machinery never change what the user's function does: ``on_error``
decides whether they are raised, warned about or ignored, and the function then runs
uncached. Exceptions raised by the function itself propagate unchanged and nothing is
stored for them.
"""

from __future__ import annotations

import enum
import functools
import inspect
import os
import time
import warnings
from collections.abc import Callable
from types import FunctionType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, overload

from checkpointing._components import call_components
from checkpointing._hashing import WRAPPED_ATTRIBUTE
from checkpointing._profile import profile_of
from checkpointing._shipping import SHIPPED_ATTRIBUTE, ShippedProfiles
from checkpointing._summary import summarise_arguments
from checkpointing.cache.base import CacheBase, EntryInfo
from checkpointing.cache.pickle_file import PickleFileCache
from checkpointing.config import defaults, validate_on_error
from checkpointing.context import FuncCallContext
from checkpointing.events import CheckpointEvent, EventKind, has_listeners, publish
from checkpointing.exceptions import (
    CheckpointFailure,
    CheckpointingWarning,
    CheckpointNotExist,
)
from checkpointing.identifier import AutoFuncCallIdentifier

if TYPE_CHECKING:
    from checkpointing.explain import Explanation

__all__ = ["CheckpointedFunction", "DecoratorCheckpoint", "checkpoint"]

P = ParamSpec("P")
R = TypeVar("R", covariant=True)


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


class _Sentinel(enum.Enum):
    """Markers compared by identity; enum members unpickle as the same object.

    A wrapper shipped by value (cloudpickle, as dask and loky do) carries its globals
    with it: a plain ``object()`` would arrive as a new object and never match.
    """

    NO_ID = "no-id"


_NO_ID = _Sentinel.NO_ID  # the call could not be identified: run it uncached


class DecoratorCheckpoint:
    """Cache the results of the functions it decorates, with the given identifier and cache.

    ``identifier`` must provide ``identify(context)`` (see
    :class:`FuncCallIdentifierBase`), ``cache`` must provide ``save`` and ``retrieve``
    (see :class:`CacheBase`). ``on_error`` is ``"raise"``, ``"warn"`` or ``"ignore"``;
    ``None`` takes ``defaults["checkpoint.on_error"]``. One instance may decorate any
    number of functions: each keeps its own scope.
    """

    def __init__(self, identifier: Any, cache: Any, on_error: str | None = None) -> None:
        for label, value in (("identifier", identifier), ("cache", cache)):
            if isinstance(value, type):
                raise TypeError(
                    f"{label} must be an instance, got the class {value.__name__}; "
                    f"did you mean {value.__name__}()?"
                )
        if not callable(getattr(identifier, "identify", None)):
            raise TypeError(
                "identifier must provide identify(context), e.g. an instance of a "
                f"FuncCallIdentifierBase subclass; got {identifier!r}"
            )
        missing = [m for m in ("save", "retrieve") if not callable(getattr(cache, m, None))]
        if missing:
            raise TypeError(
                f"cache must provide save() and retrieve(), e.g. an instance of a CacheBase "
                f"subclass; {cache!r} lacks {' and '.join(missing)}()"
            )
        self.identifier = identifier
        self.cache = cache
        self.on_error = validate_on_error(
            on_error if on_error is not None else defaults["checkpoint.on_error"]
        )

    def __call__(self, func: Callable[P, R]) -> CheckpointedFunction[P, R]:
        """Return a caching wrapper of ``func`` with a ``rerun`` method."""
        wrapper: CheckpointedFunction[P, R] = _Checkpointed(
            func, self.identifier, self.cache, self.on_error
        ).wrapper()
        return wrapper


@overload
def checkpoint(directory: Callable[P, R]) -> CheckpointedFunction[P, R]: ...


@overload
def checkpoint(
    directory: str | os.PathLike[str] | None = None,
    on_error: str | None = None,
    cache_pickle_protocol: int | None = None,
    cache: CacheBase | None = None,
) -> DecoratorCheckpoint: ...


def checkpoint(
    directory: Any = None,
    on_error: str | None = None,
    cache_pickle_protocol: int | None = None,
    cache: CacheBase | None = None,
) -> Any:
    """Cache a function's results on disk; use as ``@checkpoint()`` or bare ``@checkpoint``.

    Results go to ``directory`` (default ``defaults["cache.filesystem.directory"]``,
    resolved against the working directory now) as pickle files, or to ``cache`` if
    given. ``on_error`` is as for :class:`DecoratorCheckpoint`.
    """
    if callable(directory) and not isinstance(directory, str | os.PathLike):
        return checkpoint()(directory)  # bare @checkpoint
    if cache is not None:
        if directory is not None or cache_pickle_protocol is not None:
            raise ValueError("pass either cache= or directory=/cache_pickle_protocol=, not both")
    else:
        cache = PickleFileCache(directory, cache_pickle_protocol)
    return DecoratorCheckpoint(AutoFuncCallIdentifier(), cache, on_error)


class _Checkpointed:
    """The per-function state and call logic behind one wrapper."""

    def __init__(self, func: Any, identifier: Any, cache: Any, on_error: str) -> None:
        if not isinstance(func, FunctionType):
            raise TypeError(
                f"checkpoint can decorate Python functions only, got {func!r} "
                f"({type(func).__name__})"
            )
        self.func: FunctionType = getattr(func, WRAPPED_ATTRIBUTE, func)
        self.full_name = f"{func.__module__}.{func.__qualname__}"
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                f"checkpoint cannot cache generator function {self.full_name}: its values "
                "are produced lazily. Return a list (or other container) instead."
            )
        self.identifier = identifier
        self.cache = cache
        self.on_error = on_error
        self.signature = inspect.signature(func)
        # For the fast path of _bind: functions whose parameters are all plain
        # positional-or-keyword ones (no *args, **kwargs, keyword-only or positional-only).
        params = list(self.signature.parameters.values())
        plain = all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)
        self._positional = tuple(p.name for p in params) if plain else None
        self._defaults = tuple((p.name, p.default) for p in params)
        # Analyse the code now: the source is at hand at decoration time (in a notebook
        # the cell is still in linecache), and the first call is not slowed down.
        auto = isinstance(identifier, AutoFuncCallIdentifier)
        self.profile = profile_of(self.func) if auto else None
        self._save_entry = getattr(cache, "save_entry", None)
        self._retrieve_entry = getattr(cache, "retrieve_entry", None)

    # -- the two halves of a call --------------------------------------------------
    def lookup(self, args: tuple[Any, ...], kwargs: dict[str, Any], force: bool) -> tuple[Any, Any]:
        """Return ``(context_id, result)``; ``result`` is ``_NO_ID`` unless it is a hit."""
        start = time.perf_counter()
        context_id = self._identify(args, kwargs)
        if context_id is _NO_ID or force:
            return context_id, _NO_ID
        try:
            if self._retrieve_entry is not None:
                result, run_time = self._retrieve_entry(context_id)
            else:
                result, run_time = self.cache.retrieve(context_id), None
        except CheckpointNotExist:
            return context_id, _NO_ID
        except Exception as exc:  # noqa: BLE001 - any cache failure goes to on_error
            self._fail("could not read the cache", exc, stacklevel=5)
            return context_id, _NO_ID
        self._publish("hit", context_id, time.perf_counter() - start, run_time)
        return context_id, result

    def store(
        self,
        context_id: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        result: Any,
        run_time: float,
        force: bool,
        components: dict[str, Any] | None = None,
    ) -> None:
        """Save ``result`` under ``context_id`` (when the call could be identified)."""
        if context_id is _NO_ID:
            self._publish("uncached", context_id, run_time, run_time)
            return
        try:
            if self._save_entry is not None:
                info = EntryInfo(
                    context_id=context_id,
                    function=self.full_name,
                    created=time.time(),
                    size=0,
                    run_time=run_time,
                    arguments=self._summary(args, kwargs),
                    format_version=0,  # the cache records its own storage format
                    extra=components or {},
                )
                self._save_entry(context_id, result, info)
            else:
                self.cache.save(context_id, result)
            # Size and age limits: checked after stores (amortised), never on a hit.
            from checkpointing.limits import note_store

            note_store(self.cache)
        except Exception as exc:  # noqa: BLE001 - any cache failure goes to on_error
            self._fail("could not store the result", exc, stacklevel=5, ran=True)
        self._publish("rerun" if force else "miss", context_id, run_time, run_time)

    # -- helpers ---------------------------------------------------------------------
    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """Bind a call's arguments with defaults applied; ``None`` if the call is wrong."""
        if not kwargs and self._positional is not None and len(args) <= len(self._positional):
            # The common case, without inspect's general binder (about 3 µs).
            arguments = dict(zip(self._positional, args, strict=False))
            for name, default in self._defaults[len(args) :]:
                if default is inspect.Parameter.empty:
                    return None  # a required argument is missing: let Python say so
                arguments[name] = default
            return arguments
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            return None
        bound.apply_defaults()
        return bound.arguments

    def _identify(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        arguments = self._bind(args, kwargs)
        if arguments is None:
            return _NO_ID  # a wrong call: let the function raise its own TypeError
        context = FuncCallContext(self.func, arguments, self.profile)
        try:
            return self.identifier.identify(context)
        except Exception as exc:  # noqa: BLE001 - any identifier failure goes to on_error
            self._fail("could not identify the call", exc, stacklevel=6)
            return _NO_ID

    def components(self, context_id: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Digest each component of the call for ``explain``: on a miss, before the run.

        Before the run, because the function may mutate its arguments or the globals it
        reads: the digests must describe the state the key was made from.
        """
        if context_id is _NO_ID or self._save_entry is None:
            return None
        try:
            return call_components(self.func, self._bind(args, kwargs) or {}, self.profile)
        except Exception:  # noqa: BLE001 - metadata must never fail a save
            return {}

    def explain(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Explanation:
        """Tell whether this call would hit and, if not, what changed since the closest entry."""
        from checkpointing.explain import explain_call

        arguments = self.signature.bind(*args, **kwargs)  # a wrong call raises TypeError
        arguments.apply_defaults()
        return explain_call(
            self.func,
            arguments.arguments,
            self._summary(args, kwargs),
            self._identify(args, kwargs),
            self.full_name,
            self.cache.entries(),
            self.profile,
        )

    def _summary(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        try:
            return summarise_arguments(self._bind(args, kwargs) or {})
        except Exception:  # noqa: BLE001 - metadata must never fail a save
            return ""

    def _fail(self, stage: str, exc: Exception, stacklevel: int, ran: bool = False) -> None:
        """Apply the ``on_error`` policy to a failure of the caching machinery."""
        consequence = "the result was returned but not cached" if ran else "it runs uncached"
        message = f"checkpoint of {self.full_name}: {stage}: {exc}; {consequence}"
        if self.on_error == "raise":
            raise CheckpointFailure(message) from exc
        if self.on_error == "warn":
            # stacklevel points at the user's call of the decorated function
            warnings.warn(message, CheckpointingWarning, stacklevel=stacklevel)

    def _publish(
        self, kind: EventKind, context_id: Any, elapsed: float, run_time: float | None
    ) -> None:
        if has_listeners():
            event = CheckpointEvent(kind, self.full_name, context_id, elapsed, run_time, self.cache)
            publish(event)

    # -- the wrapper -------------------------------------------------------------------
    def wrapper(self) -> Any:
        func = self.func

        if inspect.iscoroutinefunction(func):

            async def call_async(*args: Any, **kwargs: Any) -> Any:
                return await run_async(args, kwargs, False)

            async def run_async(args: tuple[Any, ...], kwargs: dict[str, Any], force: bool) -> Any:
                context_id, result = self.lookup(args, kwargs, force)
                if result is not _NO_ID:
                    return result
                components = self.components(context_id, args, kwargs)
                start = time.perf_counter()
                result = await func(*args, **kwargs)
                elapsed = time.perf_counter() - start
                self.store(context_id, args, kwargs, result, elapsed, force, components)
                return result

            async def rerun_async(*args: Any, **kwargs: Any) -> Any:
                return await run_async(args, kwargs, True)

            wrapper: Any = functools.wraps(func)(call_async)
            wrapper.rerun = rerun_async
        else:

            def run(args: tuple[Any, ...], kwargs: dict[str, Any], force: bool) -> Any:
                context_id, result = self.lookup(args, kwargs, force)
                if result is not _NO_ID:
                    return result
                components = self.components(context_id, args, kwargs)
                start = time.perf_counter()
                result = func(*args, **kwargs)
                elapsed = time.perf_counter() - start
                self.store(context_id, args, kwargs, result, elapsed, force, components)
                return result

            def call(*args: Any, **kwargs: Any) -> Any:
                return run(args, kwargs, False)

            def rerun(*args: Any, **kwargs: Any) -> Any:
                """Run the function even if a result is stored, and store the new result."""
                return run(args, kwargs, True)

            wrapper = functools.wraps(func)(call)
            wrapper.rerun = rerun

        def explain(*args: Any, **kwargs: Any) -> Explanation:
            """Tell whether this call would hit and, if not, why it misses (runs nothing)."""
            return self.explain(args, kwargs)

        wrapper.explain = explain
        wrapper.cache = self.cache
        setattr(wrapper, WRAPPED_ATTRIBUTE, func)
        # Pickled by value (cloudpickle), the wrapper carries the profiles of its code.
        setattr(wrapper, SHIPPED_ATTRIBUTE, ShippedProfiles(func))
        return wrapper
