"""Advice that keeps a cell cacheable: find what in a value makes it unpicklable.

A scikit-learn pipeline (or any object) that holds a ``lambda`` cannot be pickled, so
the cell that built it cannot be stored. Leaving the whole object out with ``-x`` would
defeat the cache; the fix a user wants is to replace the lambda with a function defined
with ``def``, which pickle stores by name. :func:`lambda_inside` finds such a lambda
and says where it sits, so the warning can name it.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import FunctionType

__all__ = ["lambda_inside"]

_MAX_OBJECTS = 500  # objects looked at per value: advice must stay cheap
_MAX_DEPTH = 4


def lambda_inside(value: object, name: str) -> str | None:
    """Return where in ``value`` (spelled from ``name``) a lambda sits, or ``None``."""
    seen: set[int] = set()
    pending: list[tuple[object, str, int]] = [(value, name, 0)]
    while pending and len(seen) < _MAX_OBJECTS:
        item, path, depth = pending.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, FunctionType) and item.__name__ == "<lambda>":
            return path
        if depth < _MAX_DEPTH:
            pending.extend((child, where, depth + 1) for child, where in _children(item, path))
    return None


def _children(item: object, path: str) -> Iterator[tuple[object, str]]:
    """Yield the parts of ``item`` a pickle would include, with their spelling."""
    if isinstance(item, dict):
        for key, child in list(item.items())[:_MAX_OBJECTS]:
            yield child, f"{path}[{key!r}]"
    elif isinstance(item, list | tuple | set | frozenset):
        for index, child in enumerate(list(item)[:_MAX_OBJECTS]):
            yield child, f"{path}[{index}]"
    elif not isinstance(item, type | FunctionType):
        attributes = getattr(item, "__dict__", None)
        if isinstance(attributes, dict):
            for key, child in list(attributes.items())[:_MAX_OBJECTS]:
                yield child, f"{path}.{key}"
