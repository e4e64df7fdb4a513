"""Find the source text of a function, with a hook for finders that know better.

``inspect`` reads source from files through ``linecache``. It fails for code built
by ``exec`` and, in notebooks, for several cell-defined objects; the IPython
extension registers a finder that recovers those from the session history. Finders
run first, so one that knows better than ``inspect`` (``IPYKERNEL_CELL_NAME`` makes
``inspect`` return the wrong cell) wins.

A function's own module globals tell ``linecache`` how to load its file, so the lines
are read directly: ``inspect.getsource`` would first look for the module by scanning
every module loaded (about 20 ms on a first call with pandas imported). ``inspect``
still cuts out the block, and is the fallback when the direct read finds nothing.
"""

from __future__ import annotations

import inspect
import linecache
import re
import sys
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
        return _source_in_file(func) or inspect.getsource(func.__code__)
    except (OSError, TypeError, IndentationError, SyntaxError):
        return None


# Before 3.13, inspect searched back from co_firstlineno to a line that starts the
# definition; doing the same keeps the text (and so the keys) what inspect gave.
_SEARCH_BACK = sys.version_info < (3, 13)
_DEFINITION_LINE = re.compile(r"^(\s*def\s)|(\s*async\s+def\s)|(.*(?<!\w)lambda(:|\s))|^(\s*@)")


def _source_in_file(func: FunctionType) -> str | None:
    """Return the block defining ``func`` from its file's lines, or ``None`` if unknown."""
    code = func.__code__
    # As inspect does: lines cached before the file was edited are read again (once per
    # code object, when its profile is built; never on a hit).
    linecache.checkcache(code.co_filename)
    lines = linecache.getlines(code.co_filename, func.__globals__)
    start = code.co_firstlineno - 1
    if not 0 <= start < len(lines):
        return None
    if _SEARCH_BACK:
        while start > 0 and not _DEFINITION_LINE.match(lines[start]):
            start -= 1
    return "".join(inspect.getblock(lines[start:]))
