"""Which function and class names and docstrings a result depends on.

Names and docstrings are cosmetic (renaming a helper keeps its cached results) unless
code reads them: ``{f.__name__: f(x) for f in metrics}``, ``getattr(cls, "__qualname__")``,
``print(f.__doc__)``. :func:`observed_attributes` finds such reads in a syntax tree (the
profile of a function, a ``%%checkpoint`` cell); while a key is hashed, an
:class:`ObservedNames` says which of them count, and the tokens of functions and classes
add them (:func:`observed_extras`).
"""

from __future__ import annotations

import ast
from contextvars import ContextVar

__all__ = [
    "ObservedNames",
    "observed_attributes",
    "observed_extras",
    "observing",
    "stop_observing",
]

_OBSERVABLE = frozenset({"__name__", "__qualname__", "__doc__"})
_DOC_READERS = frozenset({"getdoc", "help"})


def observed_attributes(node: ast.AST) -> frozenset[str]:
    """Return which of ``__name__``, ``__qualname__`` and ``__doc__`` code in ``node`` reads.

    Counted: attribute reads (``f.__name__``), ``getattr`` with that string constant, and
    ``inspect.getdoc``/``help`` for docstrings. Where such a read exists, the names or
    docstrings of the functions and classes the code reaches can change its result.
    """
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            if sub.attr in _OBSERVABLE:
                found.add(sub.attr)
            elif sub.attr in _DOC_READERS:
                found.add("__doc__")
        elif isinstance(sub, ast.Name) and sub.id in _DOC_READERS:
            found.add("__doc__")
        elif isinstance(sub, ast.Constant) and sub.value in _OBSERVABLE:
            found.add(sub.value)  # getattr(f, "__name__") and the like
    return frozenset(found)


class ObservedNames:
    """Which of ``__name__``, ``__qualname__``, ``__doc__`` the code being hashed reads.

    Function and class names and docstrings are cosmetic unless some reached code reads
    them (a dict of metrics keyed by ``f.__name__``). The set grows as the hasher meets
    functions whose code reads them; if it grows after a function or class was already
    hashed without them, the key is ``stale`` and the hasher starts again with the full
    set, so the result never depends on the order values are met in.
    """

    __slots__ = ("_used", "attributes", "stale")

    def __init__(self, attributes: frozenset[str] = frozenset()) -> None:
        self.attributes = attributes
        self.stale = False
        self._used = False

    def extras(self, obj: object, reads: frozenset[str] = frozenset()) -> tuple[object, ...] | None:
        """Note what ``obj``'s code ``reads``; return ``obj``'s observed names and docs."""
        if not reads <= self.attributes:
            self.attributes |= reads
            self.stale = self._used
        self._used = True
        if not self.attributes:
            return None
        return tuple(getattr(obj, name, None) for name in sorted(self.attributes))

    def restart(self) -> None:
        """Begin hashing again, with every attribute found so far."""
        self.stale = self._used = False


_observed: ContextVar[ObservedNames | None] = ContextVar("checkpointing_observed", default=None)


def observing(observed: ObservedNames) -> object:
    """Make ``observed`` the set token functions consult; pass the result to ``reset``."""
    return _observed.set(observed)


def stop_observing(token: object) -> None:
    """Undo :func:`observing`."""
    _observed.reset(token)  # type: ignore[arg-type]


def observed_extras(obj: object, reads: frozenset[str] = frozenset()) -> tuple[object, ...] | None:
    """Return the observed names/docstring of ``obj`` for its token (``None``: none count)."""
    observed = _observed.get()
    return None if observed is None else observed.extras(obj, reads)
