"""Tokens for objects: instances of user-defined classes, and library objects.

* An instance of a user-defined class counts by its class and its *full* state
  (``__dict__``, slots, the content of a builtin or library base), never by what its own
  ``__getstate__``/``__reduce__`` chooses to keep, which may drop what a function reads;
  what ``__getstate__`` drops is hashed on its own (by type if it cannot be hashed).
* A library object that a library module holds under a name (``scipy.stats.t``, numpy's
  global ``RandomState``) counts by reference, with the library's version: its pickled
  state can hold a random state that differs in every process. Library objects the
  user made are hashed by value.

:mod:`checkpointing._code_tokens` chooses these handlers for such objects.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any

from checkpointing._classify import is_user_module, module_of, package_version
from checkpointing._tokens import TokenContext

__all__ = ["library_object_token", "module_attribute", "user_object_token"]

# -- instances of user-defined classes ------------------------------------------------
_UNSET = "\x00checkpointing:unset-slot"
_BUILTIN_BASES: dict[type, Any] = {
    dict: lambda obj: tuple(dict.items(obj)),
    list: lambda obj: list.copy(obj),
    tuple: lambda obj: tuple.__getitem__(obj, slice(None)),
    set: lambda obj: frozenset(set.__iter__(obj)),
    frozenset: lambda obj: frozenset(frozenset.__iter__(obj)),
    str: str.__str__,
    bytes: lambda obj: bytes.__getitem__(obj, slice(None)),
    bytearray: bytes,
    int: int.__int__,
    float: float.__float__,
    complex: lambda obj: complex(obj.real, obj.imag),
}


Layout = tuple[tuple[str, ...], Any, bool, bool]
_layouts: dict[type, Layout] = {}


def _layout(cls: type) -> Layout:
    """Return ``cls``'s slots, builtin base reader, and if it has a library base, a __getstate__."""
    known = _layouts.get(cls)
    if known is None:
        known = _layouts[cls] = _find_layout(cls)
    return known


def _find_layout(cls: type) -> Layout:
    slots: list[str] = []
    for klass in cls.__mro__:
        names = vars(klass).get("__slots__", ())
        for name in (names,) if isinstance(names, str) else names:
            if name not in ("__dict__", "__weakref__") and name not in slots:
                slots.append(name)
    reader = None
    library_base = False
    for klass in cls.__mro__[1:]:
        if klass in _BUILTIN_BASES:
            reader = _BUILTIN_BASES[klass]
            break
        if klass is not object and not is_user_module(klass.__module__):
            library_base = True
            break
    own_getstate = getattr(cls, "__getstate__", None) is not getattr(object, "__getstate__", None)
    return tuple(slots), reader, library_base, own_getstate


def user_object_token(context: TokenContext, obj: Any) -> tuple[Any, ...]:
    earlier = context.first_visit(obj)
    if earlier is not None:
        return ("seen-object", earlier)
    cls = type(obj)
    slot_names, reader, library_base, own_getstate = _layout(cls)
    state = getattr(obj, "__dict__", None)
    attributes = tuple(sorted(state.items(), key=_by_name)) if state else None
    if attributes and own_getstate:
        attributes = _guard_dropped(context, obj, attributes)
    slots = tuple(getattr(obj, name, _UNSET) for name in slot_names) if slot_names else None
    base: Any = None
    if reader is not None:
        base = reader(obj)
    elif library_base:
        base = _reduced(obj)  # what the library base keeps outside __dict__
    return ("object", cls, attributes, slots, base)


def _guard_dropped(
    context: TokenContext, obj: Any, attributes: tuple[tuple[str, Any], ...]
) -> tuple[tuple[str, Any], ...]:
    """Hash the attributes ``obj.__getstate__`` drops on their own, tolerating failures.

    A class usually drops what cannot be pickled: a lock, an open file, a connection.
    Those hold outside state, which no key tracks (like a file the function reads): they
    count by their type. Every dropped attribute that can be hashed counts by value.
    """
    try:
        kept = obj.__getstate__()
    except Exception:  # noqa: BLE001 - a failing __getstate__: every attribute counts as is
        return attributes
    if isinstance(kept, tuple) and len(kept) == 2:
        kept = kept[0]  # (dict, slots) from a class with slots
    if not isinstance(kept, dict):
        return attributes
    guarded: list[tuple[str, Any]] = []
    for name, value in attributes:
        if name not in kept:
            try:
                value = ("dropped", context.sub_digest(value))
            except Exception:  # noqa: BLE001 - any failure: an unhashable outside handle
                value = ("unhashable", type(value))
        guarded.append((name, value))
    return tuple(guarded)


def _by_name(item: tuple[Any, Any]) -> str:
    return str(item[0])


def _reduced(obj: Any) -> tuple[Any, ...]:
    """Return the parts of ``obj.__reduce_ex__``, iterators materialised."""
    reduced = obj.__reduce_ex__(4)
    if isinstance(reduced, str):
        return (reduced,)
    parts = list(reduced)
    for index in (3, 4):
        if len(parts) > index and parts[index] is not None:
            parts[index] = list(parts[index])
    return tuple(parts)


# -- library objects held by a library module ------------------------------------------
_indexes: dict[str, dict[int, tuple[str, object]]] = {}
_NOT_SINGLETONS = (
    type,
    ModuleType,
    FunctionType,
    BuiltinFunctionType,
    MethodType,
    Mapping,
    Sequence,
    AbstractSet,
)


def module_attribute(obj: object) -> str | None:
    """Return ``"module:name"`` if a library module holds ``obj`` as ``name``.

    The modules asked are the one defining ``obj``'s class and its top-level package
    (where libraries re-export their public objects); each is indexed once.
    """
    module_name = module_of(type(obj))
    top = module_name.partition(".")[0]
    for candidate in (module_name, top) if top != module_name else (module_name,):
        index = _indexes.get(candidate)
        if index is None:
            module = sys.modules.get(candidate)
            if module is None:
                continue
            index = _indexes[candidate] = _index_module(module)
        entry = index.get(id(obj))
        if entry is None or entry[1] is not obj:
            continue
        if getattr(sys.modules.get(candidate), entry[0], None) is obj:
            return f"{candidate}:{entry[0]}"  # else rebound since: no longer that name
    return None


def _index_module(module: ModuleType) -> dict[int, tuple[str, object]]:
    """Index a library module's singletons: instances of classes, not collections."""
    index: dict[int, tuple[str, object]] = {}
    for name, value in list(vars(module).items()):
        kind = type(value)
        if (
            kind.__module__ == "builtins"
            # collections (rcParams, os.environ) are state users change: hash by value
            or isinstance(value, _NOT_SINGLETONS)
            or is_user_module(kind.__module__)
        ):
            continue
        index.setdefault(id(value), (name, value))
    return index


def library_object_token(context: TokenContext, obj: Any) -> str | None:
    reference = module_attribute(obj)
    if reference is None:
        return None  # made by the user: hashed by value
    return f"lib-object:{reference}:{package_version(type(obj).__module__)}"
