"""Code profiles that travel with a checkpointed function pickled by value.

dask, ray, loky and ``concurrent.futures`` with cloudpickle ship a function defined in
``__main__`` or a notebook cell *by value*: the receiving process rebuilds its code
object, but has no source for it (cloudpickle even renames its file ``<dynamic-code>``).
Keyed by bytecode there, the same call would get a different key than in the sender,
so work done on one side would never be a hit on the other.

The decorator therefore attaches a :class:`ShippedProfiles` to each wrapper. Pickling it
collects the source-based profiles of the function and of the user code it reaches
(globals, closures, defaults, class members, containers of those), keyed by
:func:`~checkpointing._profile.code_key`; unpickling hands them to the receiving
process's profile table. A profile is used there only for a code object identical to
the one the sender proved its source against, so it can never describe other code.
Ordinary pickling (by reference) carries nothing: the receiver imports the module and
reads its source itself.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType, MethodType, ModuleType
from typing import Any, TypeVar

from checkpointing._classify import is_user_module
from checkpointing._hashing import WRAPPED_ATTRIBUTE
from checkpointing._profile import CodeProfile, code_key, free_values, profile_of, receive_profiles

__all__ = ["SHIPPED_ATTRIBUTE", "ShippedProfiles", "build_after_profiles"]

T = TypeVar("T")

# The attribute of a checkpointed wrapper that carries its profiles when pickled by value.
SHIPPED_ATTRIBUTE = "__checkpointing_profiles__"

# Bounds the walk over reachable values: a few hundred user functions is a large project.
_MAX_VISITS = 20_000


class ShippedProfiles:
    """Pickles as the source-based profiles of ``func`` and the user code it reaches."""

    __slots__ = ("_func", "_profiles")

    def __init__(
        self, func: FunctionType | None, profiles: dict[bytes, CodeProfile] | None = None
    ) -> None:
        self._func = func
        self._profiles = profiles

    def __reduce__(self) -> tuple[Any, ...]:
        profiles = self._profiles if self._func is None else collect_profiles(self._func)
        return (_receive, (profiles,))


def build_after_profiles(
    profiles: ShippedProfiles, factory: Callable[..., T], arguments: tuple[Any, ...]
) -> T:
    """Return ``factory(*arguments)``; unpickling ``profiles`` first installed them.

    An object that analyses its function when built (the decorator's per-function
    state) pickles through this, so the analysis finds the sender's profiles.
    """
    return factory(*arguments)


def _receive(profiles: dict[bytes, CodeProfile]) -> ShippedProfiles:
    """Install shipped profiles on arrival; keep them so the function can travel on."""
    receive_profiles(profiles)
    return ShippedProfiles(None, profiles)


def collect_profiles(func: FunctionType) -> dict[bytes, CodeProfile]:
    """Return the source-based profiles of ``func`` and the user code it reaches."""
    found: dict[bytes, CodeProfile] = {}
    seen: set[int] = set()
    stack: list[object] = [func]
    while stack and len(seen) < _MAX_VISITS:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        stack.extend(_reached_from(value, found))
    return found


def _reached_from(value: object, found: dict[bytes, CodeProfile]) -> list[object]:
    """Record ``value``'s profile if it is a user function; return what it reaches."""
    if isinstance(value, FunctionType):
        value = getattr(value, WRAPPED_ATTRIBUTE, value)
        assert isinstance(value, FunctionType)
        if not is_user_module(value.__module__):
            return []
        profile = profile_of(value)
        if profile.source is not None:
            found[code_key(value.__code__)] = profile
        kwdefaults = value.__kwdefaults__ or {}
        return [*free_values(value, profile), *(value.__defaults__ or ()), *kwdefaults.values()]
    if isinstance(value, type):
        if not is_user_module(value.__module__):
            return []
        return [*vars(value).values(), *value.__bases__]
    if isinstance(value, MethodType):
        return [value.__func__, value.__self__]
    if isinstance(value, staticmethod | classmethod):
        return [value.__func__]
    if isinstance(value, property):
        return [value.fget, value.fset, value.fdel]
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    if isinstance(value, ModuleType) or type(value).__module__ == "builtins":
        return []  # modules are imported by reference; builtin values hold no code
    state = getattr(value, "__dict__", None)
    reached: list[object] = [type(value)]
    if isinstance(state, dict):
        reached.extend(state.values())
    return reached
