"""Objects that existed before a cell ran, found by a path from a name, for faithful restores.

A run of a cell leaves shared references behind: ``b = a`` upstream and ``a.append(2)`` in
the cell change what ``b`` shows; ``first = rows[0]`` is the very object in ``rows``. A
hit must leave the same identities, so before a miss runs, the namespace is walked
(breadth first, within a budget) and every container and plain object found is noted
with one path to it (``rows[0]``, ``cfg.inner``, ``Config.items``). When the results are
pickled, such an object is stored as its path, and, if the cell may have changed it,
with its new contents; on a hit the path is followed in the namespace (which then holds
what it held before the original run, since the inputs hash the same) and the contents
are written into the existing object, so every other reference sees them.

Objects whose contents cannot be written in place (an object with slots, one with its
own ``__reduce__``) are stored by value; names in the namespace that pointed to the old
object are then pointed to the new one.
"""

from __future__ import annotations

import gc
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import FunctionType, ModuleType
from typing import Any

__all__ = [
    "Existing",
    "Path",
    "array_view",
    "resettable",
    "resolve",
    "state_of",
    "write_state",
]

# One step from an object to one of its parts: ("i", index), ("k", key) or ("a", attribute).
Step = tuple[str, Any]
Path = tuple[str, tuple[Step, ...]]

_ATOMS = (int, float, complex, str, bytes, bool, type(None), range, slice)
_SKIP = frozenset(_ATOMS)
_KEY_TYPES = (int, float, str, bytes, bool, type(None))
_BUDGET = 10_000  # objects noted per walk: keeps a miss on large inputs cheap
_WIDTH = 1_000  # elements looked at per container
_REACH_LIMIT = 200_000  # objects looked at by ``reaches`` before it assumes the worst


@dataclass
class Existing:
    """The objects reachable from the namespace before a run, each with one path to it.

    ``objects`` keeps the objects themselves alive, so no object made during the run can
    reuse the ``id`` of one found here. ``roots`` maps each object to the top-level name
    its path starts from.
    """

    objects: dict[int, tuple[Any, Path]] = field(default_factory=dict)

    @classmethod
    def walk(cls, ns: dict[str, Any], names: Iterable[str]) -> Existing:
        """Note the objects reachable from ``names`` (those listed first are walked first)."""
        found = cls()
        queue: deque[tuple[Any, Path]] = deque()
        for name in names:
            if name in ns:
                queue.append((ns[name], (name, ())))
        budget = _BUDGET
        while queue and budget > 0:
            value, path = queue.popleft()
            if isinstance(value, (*_ATOMS, ModuleType)):
                continue
            key = id(value)
            if key in found.objects:
                continue
            found.objects[key] = (value, path)
            budget -= 1
            for step, part in _parts(value):
                queue.append((part, (path[0], (*path[1], step))))
        return found

    def reaches(self, root: object) -> bool:
        """Tell whether ``root`` refers, directly or not, to an object noted here.

        Pickling with references costs a Python call per object, so it is only done when
        needed; this look is cheap (the references are listed by C code).
        """
        if not self.objects:
            return False
        objects = self.objects
        seen: set[int] = set()
        stack: list[Any] = [root]
        while stack:
            value = stack.pop()
            key = id(value)
            known = objects.get(key)
            if known is not None and known[0] is value:
                return True
            if key in seen or isinstance(value, type | ModuleType) or callable(value):
                continue
            seen.add(key)
            if len(seen) > _REACH_LIMIT:
                return True
            stack.extend(part for part in gc.get_referents(value) if type(part) not in _SKIP)
        return False

    def path(self, value: object) -> Path | None:
        """Return the path of ``value`` if it existed before the run."""
        known = self.objects.get(id(value))
        return None if known is None or known[0] is not value else known[1]


def _parts(value: Any) -> Iterator[tuple[Step, Any]]:
    """Yield the parts of ``value`` that a path can name."""
    kind = type(value)
    if kind is list or kind is tuple:
        for index, item in enumerate(value[:_WIDTH]):
            yield ("i", index), item
    elif kind is dict:
        for position, (key, item) in enumerate(value.items()):
            if position >= _WIDTH:
                break
            if isinstance(key, _KEY_TYPES):
                yield ("k", key), item
    elif isinstance(value, type):
        if value.__module__ == "__main__":  # a user's class: its mutable class attributes
            for name, item in list(vars(value).items()):
                if not name.startswith("__") and not isinstance(item, FunctionType):
                    yield ("a", name), item
    elif _plain(value):
        for name, item in list(vars(value).items())[:_WIDTH]:
            yield ("a", name), item


def _plain(value: object) -> bool:
    """Tell whether ``value`` keeps its state in its ``__dict__`` and pickles it from there."""
    kind = type(value)
    return (
        hasattr(value, "__dict__")
        and not isinstance(value, type)
        and kind.__reduce_ex__ is object.__reduce_ex__
        and kind.__reduce__ is object.__reduce__
        and getattr(kind, "__getstate__", object.__getstate__) is object.__getstate__
        and getattr(kind, "__setstate__", None) is None
        and not any("__slots__" in vars(base) for base in kind.__mro__[:-1])
        and kind.__module__ not in ("builtins",)
        and not callable(value)
    )


def _slot_names(kind: type) -> tuple[str, ...]:
    slots = vars(kind).get("__slots__", ())
    names = (slots,) if isinstance(slots, str) else tuple(slots)
    return tuple(name for name in names if name not in ("__dict__", "__weakref__"))


def resolve(ns: dict[str, Any], path: Path) -> Any:
    """Follow ``path`` in ``ns``; raise ``LookupError`` if it leads nowhere."""
    name, steps = path
    if name not in ns:
        raise LookupError(f"{name!r} is gone")
    value = ns[name]
    for kind, key in steps:
        try:
            value = getattr(value, key) if kind == "a" else value[key]
        except (LookupError, AttributeError, TypeError) as exc:
            raise LookupError(f"{_show(path)} is gone") from exc
    return value


def _show(path: Path) -> str:
    name, steps = path
    text = name
    for kind, key in steps:
        text += f".{key}" if kind == "a" else f"[{key!r}]"
    return text


def _container(value: object) -> str | None:
    """Return which built-in container ``value`` is, subclasses included (``Counter``...)."""
    for kind in (list, dict, set, bytearray, deque):
        if isinstance(value, kind):
            return kind.__name__
    return None


def resettable(value: object) -> bool:
    """Tell whether the contents of ``value`` can be written into it in place."""
    kind = type(value)
    if _container(value) is not None:
        return True
    numpy = sys.modules.get("numpy")
    if numpy is not None and kind is numpy.ndarray:
        return bool(value.flags.writeable)  # type: ignore[attr-defined]
    return _plain(value) or _slotted(value) or _stateful(value)


def _slotted(value: object) -> bool:
    """Tell whether ``value`` pickles by default from ``__slots__`` (and maybe a dict)."""
    kind = type(value)
    return (
        not isinstance(value, type)
        and kind.__module__ != "builtins"
        and kind.__reduce_ex__ is object.__reduce_ex__
        and kind.__reduce__ is object.__reduce__
        and getattr(kind, "__getstate__", object.__getstate__) is object.__getstate__
        and getattr(kind, "__setstate__", None) is None
        and any("__slots__" in vars(base) for base in kind.__mro__[:-1])
    )


def _stateful(value: object) -> bool:
    """Tell whether pickle rebuilds ``value`` through its own ``__getstate__``/``__setstate__``.

    Such an object (a DataFrame, an estimator) takes new contents in place the way
    unpickling gives them to it.
    """
    kind = type(value)
    return (
        not isinstance(value, type)
        and kind.__reduce_ex__ is object.__reduce_ex__
        and kind.__reduce__ is object.__reduce__
        and getattr(kind, "__getstate__", object.__getstate__) is not object.__getstate__
        and callable(getattr(kind, "__setstate__", None))
    )


def state_of(value: Any) -> Any:
    """Return a new object holding the contents of ``value`` (see :func:`resettable`)."""
    kind = type(value)
    container = _container(value)
    if container == "dict":
        return dict(value)
    if container == "bytearray":
        return bytes(value)
    if container is not None:
        return list(value)
    if kind.__module__ == "numpy":
        return value.copy()
    if _plain(value):
        return dict(vars(value))
    if _slotted(value):
        attributes = dict(getattr(value, "__dict__", {}))
        slots = {
            name: getattr(value, name)
            for base in type(value).__mro__[:-1]
            for name in _slot_names(base)
            if hasattr(value, name)
        }
        return ("slots", attributes, slots)
    return value.__getstate__()


def write_state(value: Any, state: Any) -> None:
    """Write ``state`` (from :func:`state_of`) into ``value``: every reference sees it."""
    kind = type(value)
    container = _container(value)
    if container in ("list", "bytearray"):
        value[:] = state
    elif container in ("dict", "set"):
        value.clear()
        value.update(state)  # a Counter adds to nothing: the same counts
    elif container == "deque":
        value.clear()
        value.extend(state)
    elif kind.__module__ == "numpy":
        if value.shape != state.shape or value.dtype != state.dtype:
            raise ValueError("an array changed shape or type; it cannot be restored in place")
        value[...] = state
    elif _plain(value):
        attributes = vars(value)
        attributes.clear()
        attributes.update(state)
    elif _slotted(value):
        _, attributes, slots = state
        if hasattr(value, "__dict__"):
            vars(value).clear()
            vars(value).update(attributes)
        for name, item in slots.items():
            setattr(value, name, item)
    else:
        value.__setstate__(state)


def array_view(value: Any) -> tuple[Any, tuple[Any, ...]] | None:
    """Return ``(base, (offset, shape, strides, dtype, writeable))`` if ``value`` is a view.

    The base is the array that owns the memory; pickling the view as its base plus this
    geometry keeps it a view after a restore, as it is after a run.
    """
    numpy = sys.modules.get("numpy")
    if numpy is None or type(value) is not numpy.ndarray or value.base is None:
        return None
    base = value
    while isinstance(base.base, numpy.ndarray):
        base = base.base
    if base is value or base.base is not None or type(base) is not numpy.ndarray:
        return None  # memory owned by something else (a memory map, bytes): copy it
    if not base.flags.c_contiguous:
        return None
    start = base.__array_interface__["data"][0]
    offset = value.__array_interface__["data"][0] - start
    geometry = (offset, value.shape, value.strides, value.dtype, bool(value.flags.writeable))
    return base, geometry


def make_view(base: Any, offset: int, shape: Any, strides: Any, dtype: Any, writeable: bool) -> Any:
    """Rebuild a view of ``base`` recorded by :func:`array_view`."""
    import numpy

    view = numpy.ndarray(shape, dtype, buffer=base, offset=offset, strides=strides)
    if not writeable:
        view.flags.writeable = False
    return view
