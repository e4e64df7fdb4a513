"""Bind a call's arguments to the parameters of the function that is actually called.

The key holds the bound arguments with defaults applied, so the signature used must be
the one of the code that runs. ``inspect.signature`` follows ``__wrapped__`` and honours
``__signature__``: under ``@checkpoint()`` a function decorated by another decorator
would be bound against the *inner* function, and the wrapper's own parameters and
defaults (``def wrapper(x, scale=2)``) would be missing from the key. So the signature is
read from the wrapper's code object, defaults and keyword defaults alone, never from
what the function claims to be.
"""

from __future__ import annotations

import inspect
from types import FunctionType
from typing import Any

__all__ = ["Binder"]


def _called_signature(func: FunctionType) -> inspect.Signature:
    """Return the signature of ``func``'s own code, ignoring ``__wrapped__``/``__signature__``."""
    bare = FunctionType(
        func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__
    )
    bare.__kwdefaults__ = func.__kwdefaults__
    return inspect.signature(bare, follow_wrapped=False)


class Binder:
    """Bind calls of one function: a fast path for plain positional calls, ``inspect`` else."""

    __slots__ = ("_defaults", "_positional", "signature")

    def __init__(self, func: FunctionType) -> None:
        self.signature = _called_signature(func)
        params = list(self.signature.parameters.values())
        # The fast path serves functions whose parameters are all plain
        # positional-or-keyword ones (no *args, **kwargs, keyword-only or positional-only).
        plain = all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)
        self._positional = tuple(p.name for p in params) if plain else None
        self._defaults = tuple((p.name, p.default) for p in params)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """Bind a call's arguments with defaults applied; ``None`` if the call is wrong."""
        positional = self._positional
        if not kwargs and positional is not None and len(args) <= len(positional):
            # The common case, without inspect's general binder (about 3 µs).
            arguments = dict(zip(positional, args, strict=False))
            empty = inspect.Parameter.empty
            for name, default in self._defaults[len(args) :]:
                if default is empty:
                    return None  # a required argument is missing: let Python say so
                arguments[name] = default
            return arguments
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            return None
        bound.apply_defaults()
        return bound.arguments
