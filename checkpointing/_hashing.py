"""Deterministic hashing of Python values, including the code they reach.

Values are serialised with a :class:`pickle.Pickler` whose ``persistent_id`` hook
replaces, object by object, whatever plain pickling would get wrong for a cache key. The
tokens themselves live in :mod:`checkpointing._code_tokens` (code, classes, modules,
sets), :mod:`checkpointing._object_tokens` (user-defined objects, library objects),
:mod:`checkpointing._array_tokens` (numpy) and :mod:`checkpointing._frame_tokens`
(pandas); :mod:`checkpointing._tokens` is the registry that maps types to them, and the
public way for users to add their own.

Digests depend on values, never on which objects happen to be shared: the pickler runs
in pickle's *fast* mode, without its memo, so ``['ab', 'ab']`` and ``'ab ab'.split()``,
or a model restored from the cache and the same model fitted live, serialise alike. A
value that contains a cycle cannot be pickled that way; it is hashed again with the memo
(cycles through user functions, classes and objects are cut by the tokens themselves).

Anything pickle cannot serialise (generators, open files) makes the value unhashable:
:class:`IdentificationError` is raised by the caller rather than guessing from ``repr``.
The pickle stream and the buffer digests are fed into one hash.
"""

from __future__ import annotations

import builtins
import functools
import pickle
from collections.abc import Callable
from typing import Any, Protocol

import xxhash

from checkpointing import _array_tokens, _frame_tokens, _tokens
from checkpointing._code_tokens import WRAPPED_ATTRIBUTE, classify
from checkpointing._observed import ObservedNames, observing, stop_observing

# Imported for their lazy registrations (numpy and pandas are imported only when met).
_LIBRARY_TOKENS = (_array_tokens, _frame_tokens)

__all__ = ["WRAPPED_ATTRIBUTE", "Hasher", "hash_values", "hasher_factory"]

_PLAIN = frozenset({int, float, str, bytes, bool, type(None), tuple, list, dict, complex})
# Builtin functions and classes, by identity, with their token: functions read builtins
# on every call (len, range, sum), so their tokens are made once. The objects are kept
# with the tokens, so an id can never be matched by a different object.
_BUILTINS: dict[int, tuple[object, str]] = {
    id(value): (value, f"builtins:{name}")
    for name, value in vars(builtins).items()
    if callable(value) and not name.startswith("_")
}


class Hasher(Protocol):
    """The part of a hash object the key builder uses."""

    def update(self, data: Any, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


HasherFactory = Callable[[], Hasher]


def hasher_factory(algorithm: str) -> HasherFactory:
    """Return a constructor of hash objects for ``algorithm`` (``xxh3_128`` or hashlib's)."""
    if algorithm in ("xxh3_128", "xxh128"):
        return xxhash.xxh3_128
    if algorithm in ("xxh3_64", "xxh64", "xxh32"):
        return getattr(xxhash, algorithm)  # type: ignore[no-any-return]
    import hashlib  # only for other algorithms: importing it costs ~3 ms

    if algorithm in hashlib.algorithms_available:
        try:
            hashlib.new(algorithm)
        except (TypeError, ValueError):
            pass  # shake_* need a digest length; refuse them below
        else:
            return functools.partial(hashlib.new, algorithm)
    known = ", ".join(["xxh3_128", "xxh3_64", *sorted(hashlib.algorithms_guaranteed)])
    raise ValueError(f"unknown hash algorithm {algorithm!r}; choose one of {known}")


def hash_values(
    value: object,
    new_hasher: HasherFactory,
    protocol: int,
    prefix: bytes = b"",
    observed: ObservedNames | None = None,
) -> Hasher:
    """Hash ``prefix`` then ``value`` canonically; return the hash, ready for ``hexdigest()``.

    ``prefix`` is for constant parts of a key, which need no serialising. ``observed``
    says which function and class names or docstrings count (see
    :class:`~checkpointing._scope.ObservedNames`); it may grow while hashing.
    """
    observed = observed if observed is not None else ObservedNames()
    token = observing(observed)
    try:
        while True:
            try:
                result = _hash(value, new_hasher, protocol, frozenset(), prefix, fast=True)
            except _Cyclic:
                result = _hash(value, new_hasher, protocol, frozenset(), prefix, fast=False)
            if not observed.stale:
                return result
            observed.restart()  # a name read was found late: hash again with it
    finally:
        stop_observing(token)


class _Cyclic(Exception):
    """The value contains a cycle, which pickle's fast mode cannot serialise."""


# Idle top-level picklers, per (hash constructor, protocol): building a pickler costs
# about 2 µs, most of a small call's key. Taken with dict.pop (atomic), so two threads
# or a nested hash never share one; a pickler holds no references while idle.
_idle: dict[tuple[HasherFactory, int], _KeyPickler] = {}


def _hash(
    value: object,
    new_hasher: HasherFactory,
    protocol: int,
    outer: frozenset[int],
    prefix: bytes = b"",
    fast: bool = True,
) -> Hasher:
    hasher = new_hasher()
    hasher.update(prefix)
    pool_key = (new_hasher, protocol)
    pickler = _idle.pop(pool_key, None) if fast and not outer else None
    if pickler is None:
        pickler = _KeyPickler(_HashStream(), protocol, new_hasher, outer, fast)
    pickler.stream.hasher = hasher
    try:
        pickler.dump(value)
        for digest in pickler.buffer_digests:
            hasher.update(digest)
    except ValueError as exc:
        if fast and str(exc).startswith("fast mode"):
            raise _Cyclic from exc
        raise
    finally:
        pickler.release()
    if fast and not outer:
        _idle[pool_key] = pickler
    return hasher


class _HashStream:
    """The file a pickler writes to: ``write`` feeds the current hash, nothing is stored."""

    __slots__ = ("hasher",)

    def __init__(self) -> None:
        self.hasher: Hasher | None = None

    def write(self, data: Any) -> None:
        assert self.hasher is not None
        self.hasher.update(data)


class _KeyPickler(pickle.Pickler):
    """A pickler that serialises values canonically for hashing (see module doc)."""

    def __init__(
        self,
        stream: _HashStream,
        protocol: int,
        new_hasher: HasherFactory,
        outer: frozenset[int],
        fast: bool,
    ) -> None:
        super().__init__(stream, protocol=protocol, buffer_callback=self._take_buffer)
        self.fast = fast  # no memo: sharing between objects must not change the digest
        self.stream = stream
        self.buffer_digests: list[bytes] = []
        self.new_hasher = new_hasher
        self._protocol = protocol
        self._outer = outer  # objects being hashed by enclosing picklers (cycle guard)
        self._seen: dict[int, int] = {}
        self._alive: list[object] = []  # keeps ids in _seen from being reused
        self.tokens: dict[int, tuple[object, Any]] = {}  # per dump: tokens of arrays met again

    def release(self) -> None:
        """Forget everything of the last dump, so the pickler can be reused and holds nothing."""
        self.clear_memo()
        self.buffer_digests = []
        self._seen.clear()
        self._alive.clear()
        self.tokens.clear()
        self.stream.hasher = None

    # -- what handlers may use (checkpointing._tokens.TokenContext) --------------------
    def _take_buffer(self, buffer: pickle.PickleBuffer) -> bool:
        self.buffer_digests.append(self.digest_buffer(buffer.raw()))
        return False  # out of band: the bytes go into the hash, not the stream

    def digest_buffer(self, data: Any) -> bytes:
        """Return the digest of a buffer's bytes."""
        hasher = self.new_hasher()
        hasher.update(data)
        return hasher.digest()

    def first_visit(self, obj: object) -> int | None:
        """Register ``obj``; return its earlier index if it was already serialised."""
        key = id(obj)
        if key in self._outer:
            return -1
        index = self._seen.get(key)
        if index is not None:
            return index
        self._seen[key] = len(self._seen)
        self._alive.append(obj)
        return None

    def sub_digest(self, value: object, exclude: object = None) -> bytes:
        """Hash ``value`` on its own, so the result does not depend on traversal order."""
        outer = self._outer | frozenset(self._seen)
        if exclude is not None:
            outer |= {id(exclude)}
            self._alive.append(exclude)
        return _hash(value, self.new_hasher, self._protocol, outer, fast=self.fast).digest()

    def excluded(self, obj: object) -> bool:
        """Tell whether ``obj`` is being tokenised by an enclosing pickler."""
        return id(obj) in self._outer

    # -- the hook -----------------------------------------------------------------
    def persistent_id(self, obj: Any) -> Any:
        cls = type(obj)
        if cls in _PLAIN:
            return None
        known = _BUILTINS.get(id(obj))
        if known is not None and known[0] is obj:
            return known[1]
        if _handlers_generation != _tokens.generation[0]:
            _forget_handlers()
        handler = _handlers.get(cls)
        if handler is None:
            handler = classify(cls)
            _handlers[cls] = handler
        return handler(self, obj)


# How instances of each class met so far are tokenised, valid for one registry generation.
_handlers: dict[type, _tokens.Handler] = {}
_handlers_generation = _tokens.generation[0]


def _forget_handlers() -> None:
    """Drop the per-class memo after a registration changed the registry."""
    global _handlers_generation
    _handlers.clear()
    _handlers_generation = _tokens.generation[0]
