"""Find the source text of a function, with a hook for finders that know better.

``inspect`` reads source from files through ``linecache``. It fails for code built
by ``exec`` and, in notebooks, for several cell-defined objects; the IPython
extension registers a finder that recovers those from the session history. Finders
run first, so one that knows better than ``inspect`` (``IPYKERNEL_CELL_NAME`` makes
``inspect`` return the wrong cell) wins.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import FunctionType

__all__ = ["SourceFinder", "find_source", "register_source_finder"]

SourceFinder = Callable[[FunctionType], str | None]
_finders: list[SourceFinder] = []


def register_source_finder(finder: SourceFinder) -> Callable[[], None]:
    """Try ``finder`` before ``inspect``; return a function that removes it again."""
    _finders.insert(0, finder)

    def unregister() -> None:
        if finder in _finders:
            _finders.remove(finder)

    return unregister


def find_source(func: FunctionType) -> str | None:
    """Return the source text that defines ``func``, or ``None`` when none is known."""
    for finder in list(_finders):
        try:
            source = finder(func)
        except Exception:  # noqa: BLE001 - a broken finder must not break identification
            source = None
        if source:
            return source
    try:
        return inspect.getsource(func.__code__)
    except (OSError, TypeError, IndentationError, SyntaxError):
        return None
