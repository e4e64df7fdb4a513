"""Plugins found through ``__subclasses__()``: the classes code discovers without naming.

Code that finds plugins with ``Base.__subclasses__()`` depends on every subclass defined
so far, none of which it names, so the code tokens (:mod:`checkpointing._code_tokens`)
and the function identifier add them when the code (a function, or a method of a
class) reads ``__subclasses__``. Only user-defined classes count: a library's classes
are covered by its version.
"""

from __future__ import annotations

from types import CodeType, FunctionType
from typing import Any

from checkpointing._classify import is_user_class, module_of

__all__ = ["discovered_subclasses", "members_read_subclasses", "subclass_dependencies"]

# Keyed by code identity; each entry keeps its code object alive so the id stays its own,
# and the memo starts over past _MEMO_LIMIT entries so re-run notebook cells cannot grow
# it without bound (a dropped entry is only worked out again).
_reads_subclasses_memo: dict[int, tuple[CodeType, bool]] = {}
_MEMO_LIMIT = 4096


def _reads_subclasses(code: CodeType) -> bool:
    """Tell whether ``code`` (or code nested in it) reads ``__subclasses__``; memoised."""
    known = _reads_subclasses_memo.get(id(code))
    if known is not None and known[0] is code:
        return known[1]
    stack, found = [code], False
    while stack and not found:
        current = stack.pop()
        found = "__subclasses__" in current.co_names
        stack.extend(c for c in current.co_consts if isinstance(c, CodeType))
    if len(_reads_subclasses_memo) >= _MEMO_LIMIT:
        _reads_subclasses_memo.clear()
    _reads_subclasses_memo[id(code)] = (code, found)
    return found


def _member_codes(members: tuple[tuple[str, Any], ...]) -> list[CodeType]:
    codes = []
    for _, value in members:
        func = getattr(value, "__func__", value)  # staticmethod, classmethod
        if isinstance(func, FunctionType):
            codes.append(func.__code__)
    return codes


def discovered_subclasses(values: tuple[object, ...]) -> tuple[type, ...]:
    """Return every user-defined subclass of the user classes among ``values``.

    Code that discovers plugins through ``Base.__subclasses__()`` depends on classes it
    never names; they join its token in a stable order (by module and qualified name),
    hashed like any class (a class met before is a back-reference, so cycles end).
    """
    found: dict[int, type] = {}
    stack: list[type] = [v for v in values if isinstance(v, type) and is_user_class(v)]
    while stack:
        subclasses: list[type] = type.__subclasses__(stack.pop())
        for sub in subclasses:
            if id(sub) not in found and is_user_class(sub):
                found[id(sub)] = sub
                stack.append(sub)
    return tuple(sorted(found.values(), key=lambda c: (module_of(c), c.__qualname__)))


def subclass_dependencies(func: FunctionType, values: tuple[object, ...]) -> tuple[type, ...]:
    """Return the subclasses ``func`` may discover among the classes it reads (see above)."""
    return discovered_subclasses(values) if _reads_subclasses(func.__code__) else ()


def members_read_subclasses(members: tuple[tuple[str, Any], ...]) -> bool:
    """Tell whether a method among a class's ``(name, value)`` members reads ``__subclasses__``."""
    return any(_reads_subclasses(code) for code in _member_codes(members))
