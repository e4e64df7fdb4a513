"""The identity of a user module reached as a value: its content, cached per module.

A project module can reach a function as a value without being named in its code by an
attribute chain: bound to a local (``impl = fast if flag else slow``), kept in a
registry (``BACKENDS = {"fast": fast}``), passed as an argument, closed over, read with
``getattr(module, name)``. Such a module is identified by its *content*: the code of the
functions and classes it defines and the values of its globals (everything in its
``__dict__`` but import machinery such as ``__file__`` and ``__spec__``), so editing the
module, or rebinding one of its globals at run time (``settings.SCALE = 4``), changes
the key of every call that reaches it.

Hashing all of that on every call would cost tens of microseconds per module, so the
content is split in two, once per module, and cached:

* the **static part**: globals whose token is fixed for as long as the object is the
  same object: immutable values (numbers, strings, bytes, tuples and frozensets of
  those), library modules, functions and classes (identified by name and version), and
  the module's own functions (their normalized code and immutable defaults; the
  globals they read are the module's globals, already part of the content; a function
  with import statements in its body is in the dynamic part, as what it imports is
  not). It is hashed once into a digest;
* the **dynamic part**: everything else (lists, dicts, instances, classes, functions
  defined elsewhere, other user modules), handed to the key's pickler on every call as
  any global value is.

The cached digest is reused only after checking, on every call, that nothing it was
computed from changed: the module's ``__dict__`` holds the same keys bound to the same
objects (so any rebinding, addition or deletion is seen), and each of its functions
still has the same ``__code__``, ``__defaults__``, ``__kwdefaults__`` and no attributes.
That check compares identities only (about a microsecond for a module of 50 globals);
on any difference the split is made again. A change *inside* a mutable global is seen
because such globals are in the dynamic part. Two more things are read on every call:
attribute chains that the module's functions follow into library modules (a
monkeypatch such as ``math.sqrt = f`` made after the split) and the library states those
functions use (see :mod:`checkpointing._ambient`).

A global that cannot be hashed at all (a lock, an open file, a connection) is
identified by its type only, so reaching its module stays cacheable.
"""

from __future__ import annotations

import operator
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from types import BuiltinFunctionType, FunctionType, ModuleType
from typing import Any

from checkpointing._ambient import (
    AmbientState,
    digest_states,
    registry_version,
    states_used_by,
)
from checkpointing._classify import is_user_module
from checkpointing._imports import IMPORTED
from checkpointing._profile import follow_chain, profile_of, reached_objects

__all__ = ["module_content_token"]

# Set by the import system or by warnings: where the module came from, not what it does.
_MODULE_NOISE = frozenset(
    {
        "__name__",
        "__doc__",
        "__package__",
        "__loader__",
        "__spec__",
        "__file__",
        "__cached__",
        "__builtins__",
        "__path__",
        "__annotations__",
        "__annotate__",
        "__conditional_annotations__",
        "__warningregistry__",
        "__firstlineno__",
    }
)
_ATOMS = (int, float, complex, str, bytes, bool, type(None), range, type(Ellipsis))

Digest = Callable[[object], bytes]


@dataclass(frozen=True, slots=True)
class _Split:
    """One module's content, split once; valid while ``unchanged`` says so."""

    keys: tuple[str, ...]
    values: tuple[object, ...]  # kept alive, so value_ids stay theirs
    value_ids: tuple[int, ...]
    functions: tuple[FunctionType, ...]
    function_states: tuple[tuple[object, ...], ...]  # kept alive, as values
    function_ids: tuple[int, ...]
    static: bytes
    dynamic: tuple[str, ...]
    opaque: tuple[tuple[str, str], ...]
    chains: tuple[tuple[str, tuple[str, ...]], ...]
    states: tuple[AmbientState, ...]
    version: int


# Per module, by identity; the module is kept so its id is not reused.
_splits: dict[int, tuple[ModuleType, _Split]] = {}
_lock = threading.Lock()
_local = threading.local()


def _splitting() -> set[int]:
    """Return the modules this thread is splitting now (guards against cycles)."""
    current: set[int] | None = getattr(_local, "modules", None)
    if current is None:
        current = _local.modules = set()
    return current


def module_content_token(module: ModuleType, digest: Digest) -> tuple[Any, ...]:
    """Return what identifies user module ``module`` in a key (see the module doc).

    ``digest`` hashes one value canonically; it is used for the static part, once
    per change of the module.
    """
    namespace = vars(module)
    entry = _splits.get(id(module))
    split = entry[1] if entry is not None else None
    if split is None or not _unchanged(split, namespace):
        splitting = _splitting()
        if id(module) in splitting:  # a global of the module leads back to it
            return ("module-cycle", module.__name__)
        splitting.add(id(module))
        try:
            split = _split(module, namespace, digest)
        finally:
            splitting.discard(id(module))
        with _lock:
            _splits[id(module)] = (module, split)
    token: tuple[Any, ...] = ("module", module.__name__, split.static, split.opaque)
    # Each optional part is tagged, so parts never stand for one another.
    if split.dynamic:
        token += ("globals", split.dynamic, tuple(map(namespace.__getitem__, split.dynamic)))
    if split.chains:
        values = tuple(follow_chain(namespace.get(b), c) for b, c in split.chains)
        token += ("chains", split.chains, values)
    if split.states:
        token += ("states", digest_states(split.states, digest))
    return token


def _unchanged(split: _Split, namespace: dict[str, Any]) -> bool:
    """Tell whether ``namespace`` and the module's functions are as when ``split`` was made.

    Compares identities (``id`` of objects the split keeps alive, so no id is reused),
    in C loops: about a microsecond for a module of 50 globals.
    """
    return (
        split.version == registry_version()
        and tuple(map(id, namespace.values())) == split.value_ids
        and tuple(namespace) == split.keys
        and _function_ids(split.functions) == split.function_ids
        and not any(map(_FUNCTION_DICT, split.functions))
    )


_FUNCTION_STATE = operator.attrgetter("__code__", "__defaults__", "__kwdefaults__")
_FUNCTION_DICT = operator.attrgetter("__dict__")


def _function_ids(functions: tuple[FunctionType, ...]) -> tuple[int, ...]:
    """Return the ids of each function's code, defaults and keyword defaults."""
    return tuple(map(id, chain.from_iterable(map(_FUNCTION_STATE, functions))))


def _split(module: ModuleType, namespace: dict[str, Any], digest: Digest) -> _Split:
    """Sort the module's globals into the static and dynamic parts (see the module doc)."""
    static: list[tuple[str, object]] = []
    dynamic: list[str] = []
    opaque: list[tuple[str, str]] = []
    functions: list[FunctionType] = []
    chains: dict[tuple[str, tuple[str, ...]], None] = {}
    reached: list[object] = []
    history = module.__name__ == "__main__" and "get_ipython" in namespace
    for name, value in list(namespace.items()):
        if name in _MODULE_NOISE or (history and _is_history(name)):
            continue
        profile = profile_of(value) if _is_own_function(value, namespace) else None
        if profile is not None and not any(cell == IMPORTED for cell, _, _ in profile.plan):
            static.append((name, ("function", profile.digest, value.__defaults__)))
            functions.append(value)
            for base, chain in profile.free_names:
                target = namespace.get(base)
                if chain and isinstance(target, ModuleType) and not is_user_module(target.__name__):
                    chains.setdefault((base, chain))
            reached.extend(reached_objects(value, profile))
        elif _is_fixed(value):
            static.append((name, value))
        elif _hashable(value, digest):
            dynamic.append(name)
        else:
            opaque.append((name, f"{type(value).__module__}.{type(value).__qualname__}"))
    values = tuple(namespace.values())
    return _Split(
        keys=tuple(namespace),
        values=values,
        value_ids=tuple(map(id, values)),
        functions=tuple(functions),
        function_states=tuple(map(_FUNCTION_STATE, functions)),
        function_ids=_function_ids(tuple(functions)),
        static=digest(tuple(static)),
        dynamic=tuple(dynamic),
        opaque=tuple(opaque),
        chains=tuple(chains),
        states=states_used_by(reached),
        version=registry_version(),
    )


# IPython's input and output history in a notebook's namespace: rebound by every cell,
# read by code only through these names (a cell reading them has them as inputs).
_HISTORY = re.compile(
    r"_+|_i+|_i?\d+|In|Out|_ih|_oh|_dh|_exit_code|__session__|exit|quit|get_ipython"
)


def _is_history(name: str) -> bool:
    """Tell whether ``name`` is one of IPython's history variables."""
    return _HISTORY.fullmatch(name) is not None


def _is_own_function(value: object, namespace: dict[str, Any]) -> bool:
    """Tell whether ``value`` is a plain function of this module whose token can be cached."""
    return (
        type(value) is FunctionType
        and value.__globals__ is namespace
        and value.__closure__ is None
        and not value.__dict__
        and _is_fixed(value.__defaults__)
        and value.__kwdefaults__ is None  # a dict: it could change in place
    )


def _is_fixed(value: object) -> bool:
    """Tell whether ``value``'s token cannot change while it is the same object."""
    if isinstance(value, _ATOMS):
        return True
    if type(value) in (tuple, frozenset):
        return all(_is_fixed(item) for item in value)  # type: ignore[attr-defined]
    if isinstance(value, ModuleType):
        return not is_user_module(value.__name__)
    if isinstance(value, FunctionType | type):
        return not is_user_module(value.__module__)
    if isinstance(value, BuiltinFunctionType):
        owner = value.__self__
        return owner is None or isinstance(owner, ModuleType)
    return False


def _hashable(value: object, digest: Digest) -> bool:
    """Tell whether ``value`` can be hashed at all (tried once per split)."""
    try:
        digest(value)
    except Exception:  # noqa: BLE001 - anything unhashable is identified by type
        return False
    return True
