"""The type registry: how values of a given type are turned into a token for the key.

Handlers are keyed by real types and found along a value's method resolution order, so
a subclass uses its nearest registered base. Handlers for a library are registered
lazily, the first time a value whose class comes from that library is hashed
(:func:`register_lazy`): importing checkpointing imports neither numpy nor pandas, and
matching by type, never by ``__module__`` strings, keeps working when a library moves its
classes (pandas 3 reports ``DataFrame.__module__ == "pandas"``).

Users extend the registry in two ways (see ``docs/extending.md``):

* :func:`register_token` ``(SomeType, function)``: ``function(value)`` returns a value
  that checkpointing can hash, which stands for ``value`` in the key;
* a method ``__checkpointing_token__(self)`` on a class, returning such a value.

Either way the key also contains the value's class (for a user-defined class, its code),
so two types whose tokens happen to be equal never share a key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

__all__ = [
    "TOKEN_METHOD",
    "Handler",
    "TokenContext",
    "find_handler",
    "module_extra",
    "register_handler",
    "register_lazy",
    "register_module_extra",
    "register_token",
]

# The method a class can define to give its instances' token.
TOKEN_METHOD = "__checkpointing_token__"


class TokenContext(Protocol):
    """What a handler may ask of the pickler that is hashing a value."""

    # Tokens of objects met earlier in the same value, by id, with the object kept alive.
    tokens: dict[int, tuple[object, Any]]

    def new_hasher(self) -> Any:
        """Return a fresh hash object of the key's algorithm."""
        ...

    def digest_buffer(self, data: Any) -> bytes:
        """Return the digest of a buffer's bytes."""
        ...

    def sub_digest(self, value: object, exclude: object = None) -> bytes:
        """Hash ``value`` on its own (``exclude``: an object it must not contain)."""
        ...

    def first_visit(self, obj: object) -> int | None:
        """Register ``obj``; return its earlier index if it was already serialised."""
        ...

    def excluded(self, obj: object) -> bool:
        """Tell whether ``obj`` is being tokenised by an enclosing pickler."""
        ...


# A handler returns the token of a value (a persistent id in the pickle stream), or
# None to let pickle serialise the value as usual.
Handler = Callable[[TokenContext, Any], Any]

_registered: dict[type, Handler] = {}
_module_extras: dict[str, Callable[[], object]] = {}
_lazy: dict[str, list[Callable[[], None]]] = {}
_lock = threading.Lock()
# Incremented on every registration, so the hasher's per-class memo can be dropped.
generation = [0]


def register_handler(cls: type, handler: Handler) -> None:
    """Use ``handler`` for instances of ``cls`` and of its subclasses (internal form)."""
    with _lock:
        _registered[cls] = handler
        generation[0] += 1


def register_lazy(top_module: str, installer: Callable[[], None]) -> None:
    """Run ``installer`` (which registers handlers) when ``top_module``'s types are first met."""
    with _lock:
        _lazy.setdefault(top_module, []).append(installer)
        generation[0] += 1


def register_token(cls: type, function: Callable[[Any], object]) -> None:
    """Identify instances of ``cls`` (and its subclasses) by ``function(instance)``.

    ``function`` returns any value checkpointing can hash (numbers, strings, tuples,
    arrays, ...) that changes whenever the instance would compute differently; it must
    not contain the instance itself. The most specific registration wins; a class's own
    ``__checkpointing_token__`` method counts as a registration on that class.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_token needs a class, got {cls!r}")
    if not callable(function):
        raise TypeError(f"register_token needs a callable token function, got {function!r}")
    register_handler(cls, _user_handler(function, f"the token function of {cls.__qualname__}"))


def _user_handler(function: Callable[[Any], object], label: str) -> Handler:
    """Wrap a user's token function: the key gets the class and the token's digest."""

    def handler(context: TokenContext, obj: Any) -> tuple[Any, ...]:
        token = function(obj)
        if token is obj or context.excluded(obj):
            raise TypeError(f"{label} returned a value containing the object itself")
        return ("token", type(obj), context.sub_digest(token, exclude=obj))

    return handler


def _method_handler(context: TokenContext, obj: Any) -> tuple[Any, ...]:
    token = getattr(obj, TOKEN_METHOD)()
    if token is obj or context.excluded(obj):
        name = f"{type(obj).__qualname__}.{TOKEN_METHOD}()"
        raise TypeError(f"{name} returned a value containing the object itself")
    return ("token", type(obj), context.sub_digest(token, exclude=obj))


def register_module_extra(module: str, extra: Callable[[], object]) -> None:
    """Add ``extra()`` to the token of library module ``module`` (user code it runs)."""
    with _lock:
        _module_extras[module] = extra


def module_extra(module: str) -> Callable[[], object] | None:
    """Return the extra part of ``module``'s token, installing its library's handlers."""
    if _lazy:
        top = module.partition(".")[0]
        if top in _lazy:
            _run_installers(top)
    return _module_extras.get(module)


def _run_installers(top: str) -> None:
    with _lock:
        installers = _lazy.pop(top, [])
    for installer in installers:
        installer()


def _install_lazy(cls: type) -> None:
    """Run the pending installers of the libraries ``cls`` and its bases come from."""
    for klass in cls.__mro__:
        module: object = klass.__module__  # a Cython metatype's is a descriptor
        top = module.partition(".")[0] if isinstance(module, str) else ""
        if top in _lazy:
            _run_installers(top)


def find_handler(cls: type) -> Handler | None:
    """Return the handler registered for ``cls`` or its nearest base, if any."""
    if _lazy:
        _install_lazy(cls)
    for klass in cls.__mro__:
        handler = _registered.get(klass)
        if handler is not None:
            return handler
        if TOKEN_METHOD in vars(klass):
            return _method_handler
    return None
