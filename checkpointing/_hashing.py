"""Deterministic hashing of Python values, including the code they reach.

Values are serialised with a :class:`pickle.Pickler` whose ``persistent_id`` hook
replaces, object by object, whatever plain pickling would get wrong for a cache key:

* sets and frozensets: their element digests, sorted (iteration order depends on
  ``PYTHONHASHSEED``);
* user-defined functions and classes: their normalized code and the values of the
  globals they read, recursively (pickle would record only their name, missing edits);
* library functions, classes and modules: module, qualified name and package version;
* numpy arrays and pandas objects: dtype, shape and an xxh3 digest of their buffers,
  read in place (equal content gives equal keys whatever the memory layout);
* descriptors pickle refuses (property, staticmethod, ...): the functions they wrap.

Anything pickle cannot serialise (generators, locks, open files) makes the value
unhashable: :class:`IdentificationError` is raised rather than guessing from ``repr``.
The pickle stream and the buffer digests are fed into one hash.
"""

from __future__ import annotations

import builtins
import functools
import pickle
import sys
import weakref
from collections.abc import Callable
from types import (
    BuiltinFunctionType,
    CodeType,
    FunctionType,
    MappingProxyType,
    MemberDescriptorType,
    ModuleType,
)
from typing import Any, Protocol

import xxhash

from checkpointing._classify import is_user_module, package_version
from checkpointing._profile import code_identity, free_values, profile_of

__all__ = ["Hasher", "hash_values", "hasher_factory"]

# The attribute our decorator sets on its wrapper: hashing a wrapper means hashing the
# function it wraps.
WRAPPED_ATTRIBUTE = "__checkpointing_wrapped__"

# Class attributes that describe where a class came from, not what it does.
# (``__annotations__`` is not among them: class-body annotations declare fields.)
_CLASS_NOISE = frozenset(
    {
        "__module__",
        "__qualname__",
        "__doc__",
        "__dict__",
        "__weakref__",
        "__firstlineno__",
        "__static_attributes__",
        "__annotate__",
        "__annotate_func__",
        "__annotations_cache__",
        "_abc_impl",
    }
)
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
    value: object, new_hasher: HasherFactory, protocol: int, prefix: bytes = b""
) -> Hasher:
    """Hash ``prefix`` then ``value`` canonically; return the hash, ready for ``hexdigest()``.

    ``prefix`` is for constant parts of a key, which need no serialising.
    """
    return _hash(value, new_hasher, protocol, frozenset(), prefix)


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
) -> Hasher:
    hasher = new_hasher()
    hasher.update(prefix)
    pool_key = (new_hasher, protocol)
    pickler = None if outer else _idle.pop(pool_key, None)
    if pickler is None:
        pickler = _KeyPickler(_HashStream(), protocol, new_hasher, outer)
    pickler.stream.hasher = hasher
    try:
        pickler.dump(value)
        for digest in pickler.buffer_digests:
            hasher.update(digest)
    finally:
        pickler.release()
    if not outer:
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
    ) -> None:
        super().__init__(stream, protocol=protocol, buffer_callback=self._take_buffer)
        self.stream = stream
        self.buffer_digests: list[bytes] = []
        self._new_hasher = new_hasher
        self._protocol = protocol
        self._outer = outer  # objects being hashed by enclosing picklers (cycle guard)
        self._seen: dict[int, int] = {}
        self._alive: list[object] = []  # keeps ids in _seen from being reused

    def release(self) -> None:
        """Forget everything of the last dump, so the pickler can be reused and holds nothing."""
        self.clear_memo()
        self.buffer_digests = []
        self._seen.clear()
        self._alive.clear()
        self.stream.hasher = None

    # -- helpers ------------------------------------------------------------------
    def _take_buffer(self, buffer: pickle.PickleBuffer) -> bool:
        self.buffer_digests.append(self._digest_buffer(buffer.raw()))
        return False  # out of band: the bytes go into the hash, not the stream

    def _digest_buffer(self, data: Any) -> bytes:
        hasher = self._new_hasher()
        hasher.update(data)
        return hasher.digest()

    def _first_visit(self, obj: object) -> int | None:
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

    def _sub_digest(self, value: object) -> bytes:
        """Hash ``value`` on its own, so the result does not depend on traversal order."""
        outer = self._outer | frozenset(self._seen)
        return _hash(value, self._new_hasher, self._protocol, outer).digest()

    # -- the hook -----------------------------------------------------------------
    def persistent_id(self, obj: Any) -> Any:
        cls = type(obj)
        if cls in _PLAIN:
            return None
        known = _BUILTINS.get(id(obj))
        if known is not None and known[0] is obj:
            return known[1]
        handler = _HANDLERS.get(cls)
        if handler is None:
            handler = _classify(cls)
            _HANDLERS[cls] = handler
        return handler(self, obj)


Handler = Callable[[_KeyPickler, Any], Any]


def _default(pickler: _KeyPickler, obj: Any) -> None:
    return None


def _set_token(pickler: _KeyPickler, obj: Any) -> tuple[Any, ...]:
    digests = sorted(pickler._sub_digest(item) for item in obj)
    kind = type(obj)
    name = kind.__name__ if kind in (set, frozenset) else kind
    return ("set", name, tuple(digests), getattr(obj, "__dict__", None))


def _function_token(pickler: _KeyPickler, func: FunctionType) -> Any:
    inner = getattr(func, WRAPPED_ATTRIBUTE, None)
    if isinstance(inner, FunctionType):
        func = inner
    if not is_user_module(func.__module__):
        module = func.__module__
        return f"lib-function:{module}:{func.__qualname__}:{package_version(module)}"
    profile = profile_of(func)
    earlier = pickler._first_visit(func)
    if earlier is not None:
        return ("seen-function", profile.digest, earlier)
    return (
        "function",
        profile.digest,
        func.__defaults__,
        func.__kwdefaults__,
        free_values(func, profile),
        func.__dict__ or None,
    )


def _class_token(pickler: _KeyPickler, cls: type) -> Any:
    module = cls.__module__
    if module == "builtins":
        # Cheaper than pickle's by-reference save, which re-imports to verify the name;
        # the Python version is part of every key.
        return f"builtins:{cls.__qualname__}"
    if not is_user_module(module):
        return f"lib-class:{module}:{cls.__qualname__}:{package_version(module)}"
    earlier = pickler._first_visit(cls)
    if earlier is not None:
        return ("seen-class", cls.__name__, earlier)
    members = tuple(
        (name, value) for name, value in sorted(vars(cls).items()) if name not in _CLASS_NOISE
    )
    metaclass = type(cls) if type(cls) is not type else None
    return ("class", cls.__name__, cls.__bases__, metaclass, members)


def _module_token(pickler: _KeyPickler, module: ModuleType) -> str:
    name = module.__name__
    return f"module:{name}:{package_version(name)}"


def _builtin_token(pickler: _KeyPickler, func: BuiltinFunctionType) -> Any:
    owner = func.__self__
    if owner is None or isinstance(owner, ModuleType):
        module = func.__module__ or getattr(owner, "__name__", "builtins")
        return f"builtin:{module}:{func.__qualname__}:{package_version(module)}"
    return None  # a method bound to an object: pickled as (object, name)


def _code_token(pickler: _KeyPickler, code: CodeType) -> tuple[Any, ...]:
    return ("code", repr(code_identity(code)))


def _descriptor_token(pickler: _KeyPickler, obj: Any) -> tuple[Any, ...]:
    kind = type(obj).__name__
    if isinstance(obj, property):
        return (kind, obj.fget, obj.fset, obj.fdel)
    if isinstance(obj, staticmethod | classmethod):
        return (kind, obj.__func__)
    if isinstance(obj, functools.cached_property):
        return (kind, obj.func, obj.attrname)
    if isinstance(obj, MemberDescriptorType):
        return (kind, obj.__name__)
    return (kind, dict(obj))  # MappingProxyType


def _lru_cache_token(pickler: _KeyPickler, wrapper: Any) -> tuple[Any, ...]:
    # lru_cache wrappers pickle by name, which would hide edits to the wrapped code.
    return ("lru_cache", wrapper.__wrapped__, wrapper.cache_parameters())


# Digests of frozen arrays (see _is_frozen), by identity and hash algorithm: hashing
# the same unchanged read-only array again costs a dict lookup, not a pass over memory.
_frozen_digests: dict[tuple[int, object], tuple[weakref.ref[Any], tuple[Any, ...]]] = {}


def _is_frozen(array: Any, numpy: Any) -> bool:
    """Tell whether ``array``'s memory cannot change without first making it writeable.

    Every array along the ``.base`` chain must be read-only, ending in memory the chain
    owns or in an immutable ``bytes``; a read-only view of a writable array, or of a
    memory map (the file can change), is not frozen.
    """
    current = array
    while True:
        if current.flags.writeable:
            return False
        base = current.base
        if base is None or type(base) is bytes:
            return True
        if not isinstance(base, numpy.ndarray):
            return False
        current = base


_CHUNK_BYTES = 4 << 20


def _digest_strided(array: Any, hasher: Hasher, numpy: Any) -> bytes:
    """Hash a non-contiguous array's C-order bytes in chunks, without a full copy.

    The bytes fed are exactly those of ``numpy.ascontiguousarray(array)``, so the digest
    equals that of a contiguous copy while memory use stays at one small chunk.
    """
    if array.ndim == 0 or array.size == 0:
        hasher.update(numpy.ascontiguousarray(array).reshape(-1).view(numpy.uint8))
        return hasher.digest()
    row_bytes = max(1, array.nbytes // array.shape[0])
    step = max(1, _CHUNK_BYTES // row_bytes)
    for start in range(0, array.shape[0], step):
        chunk = numpy.ascontiguousarray(array[start : start + step])
        hasher.update(chunk.reshape(-1).view(numpy.uint8))
    return hasher.digest()


def _ndarray_token(pickler: _KeyPickler, array: Any) -> tuple[Any, ...]:
    numpy = sys.modules["numpy"]
    dtype = array.dtype
    layout = (dtype.str, dtype.descr if dtype.fields else None, array.shape)
    if dtype.hasobject:
        return ("ndarray-objects", layout, array.tolist())
    frozen = _is_frozen(array, numpy)
    memo_key = (id(array), pickler._new_hasher)
    if frozen:
        known = _frozen_digests.get(memo_key)
        if known is not None and known[0]() is array:
            return known[1]
    if array.flags.c_contiguous:
        digest = pickler._digest_buffer(array.reshape(-1).view(numpy.uint8))
    else:
        digest = _digest_strided(array, pickler._new_hasher(), numpy)
    token = ("ndarray", layout, digest)
    if frozen:
        _frozen_digests[memo_key] = (
            weakref.ref(array, lambda _: _frozen_digests.pop(memo_key, None)),
            token,
        )
    return token


def _series_values(series: Any) -> Any:
    numpy = sys.modules["numpy"]
    if isinstance(series.dtype, numpy.dtype):
        return series.to_numpy()  # a view for numpy-backed columns: hashed in place
    return series.array  # extension arrays pickle through their own buffers


def _series_token(pickler: _KeyPickler, series: Any) -> tuple[Any, ...]:
    return ("Series", str(series.dtype), series.name, series.index, _series_values(series))


def _dataframe_token(pickler: _KeyPickler, frame: Any) -> tuple[Any, ...]:
    # Column by column, so equal frames give equal keys whatever their block layout.
    columns = tuple(
        (str(frame.dtypes.iloc[i]), _series_values(frame.iloc[:, i])) for i in range(frame.shape[1])
    )
    return ("DataFrame", frame.columns, frame.index, columns, frame.attrs or None)


_HANDLERS: dict[type, Handler] = {
    set: _set_token,
    frozenset: _set_token,
    FunctionType: _function_token,
    ModuleType: _module_token,
    BuiltinFunctionType: _builtin_token,
    CodeType: _code_token,
    property: _descriptor_token,
    staticmethod: _descriptor_token,
    classmethod: _descriptor_token,
    functools.cached_property: _descriptor_token,
    MemberDescriptorType: _descriptor_token,
    MappingProxyType: _descriptor_token,
    type(functools.cache(len)): _lru_cache_token,
}

_SPECIAL_CLASSES: dict[tuple[str, str], Handler] = {
    ("numpy", "ndarray"): _ndarray_token,
    ("pandas.core.frame", "DataFrame"): _dataframe_token,
    ("pandas.core.series", "Series"): _series_token,
}


def _classify(cls: type) -> Handler:
    """Choose how to serialise instances of ``cls`` (memoised per class)."""
    special = _SPECIAL_CLASSES.get((cls.__module__, cls.__qualname__))
    if special is not None:
        return special
    if issubclass(cls, type):
        return _class_token
    if issubclass(cls, set | frozenset):
        return _set_token
    if issubclass(cls, FunctionType):
        return _function_token
    if issubclass(cls, ModuleType):
        return _module_token
    return _default
