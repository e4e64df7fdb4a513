"""Tokens for numpy arrays: dtype, shape and an xxh3 digest of the buffer, read in place.

Equal content gives equal keys whatever the memory layout (strides, views, order).
Subclasses add their class and their extra attributes (``__dict__``): an ndarray
subclass's own pickling keeps only the buffer, which would let two arrays that differ
in those attributes share a key. Masked arrays are hashed by data, mask and fill value.

Digests of *immutable* arrays are remembered by identity: an array whose whole
``.base`` chain is read-only and ends in a ``bytes`` object. Nothing can write to that
memory (numpy refuses to make such an array writeable), so a remembered digest cannot
go stale. A read-only array that owns its memory is hashed on every call: a writeable
view taken before it was frozen could still change it.

Registered lazily (see :mod:`checkpointing._tokens`) when a numpy type is first hashed.
"""

from __future__ import annotations

import weakref
from typing import Any

from checkpointing._tokens import TokenContext, register_handler, register_lazy

__all__ = ["install"]

_CHUNK_BYTES = 4 << 20

# Digests of immutable arrays, by identity and hash algorithm.
_immutable_digests: dict[tuple[int, object], tuple[weakref.ref[Any], tuple[Any, ...]]] = {}


def _is_immutable(array: Any, numpy: Any) -> bool:
    """Tell whether nothing can ever write to ``array``'s memory (see module doc)."""
    current = array
    while True:
        if current.flags.writeable:
            return False
        base = current.base
        if type(base) is bytes:
            return True
        if not isinstance(base, numpy.ndarray):
            return False  # owned memory, a memory map, a bytearray, another buffer
        current = base


def _digest_strided(array: Any, hasher: Any, numpy: Any) -> bytes:
    """Hash a non-contiguous array's C-order bytes in chunks, without a full copy.

    The bytes fed are exactly those of ``numpy.ascontiguousarray(array)``, so the digest
    equals that of a contiguous copy while memory use stays at one small chunk.
    """
    if array.ndim == 0 or array.size == 0:
        hasher.update(numpy.ascontiguousarray(array).reshape(-1).view(numpy.uint8))
        return hasher.digest()  # type: ignore[no-any-return]
    row_bytes = max(1, array.nbytes // array.shape[0])
    step = max(1, _CHUNK_BYTES // row_bytes)
    for start in range(0, array.shape[0], step):
        chunk = numpy.ascontiguousarray(array[start : start + step])
        hasher.update(chunk.reshape(-1).view(numpy.uint8))
    return hasher.digest()  # type: ignore[no-any-return]


def _content_token(context: TokenContext, array: Any, numpy: Any) -> tuple[Any, ...]:
    """Token of a base-class ndarray's dtype, shape and content."""
    dtype = array.dtype
    layout = (dtype.str, dtype.descr if dtype.fields else None, array.shape)
    if dtype.hasobject:
        return ("ndarray-objects", layout, array.tolist())
    met = context.tokens.get(id(array))
    if met is not None and met[0] is array:
        known_token: tuple[Any, ...] = met[1]
        return known_token  # the same array again in this value
    immutable = _is_immutable(array, numpy)
    memo_key = (id(array), context.new_hasher)
    if immutable:
        known = _immutable_digests.get(memo_key)
        if known is not None and known[0]() is array:
            return known[1]
    if array.flags.c_contiguous:
        digest = context.digest_buffer(array.reshape(-1).view(numpy.uint8))
    else:
        digest = _digest_strided(array, context.new_hasher(), numpy)
    token = ("ndarray", layout, digest)
    context.tokens[id(array)] = (array, token)  # kept alive: ids stay unique per dump
    if immutable:
        _immutable_digests[memo_key] = (
            weakref.ref(array, lambda _: _immutable_digests.pop(memo_key, None)),
            token,
        )
    return token


def install() -> None:
    """Register the numpy handlers (called once, when a numpy type is first hashed)."""
    import numpy

    def ndarray_token(context: TokenContext, array: Any) -> tuple[Any, ...]:
        cls = type(array)
        if cls is numpy.ndarray:
            return _content_token(context, array, numpy)
        base = _content_token(context, array.view(numpy.ndarray), numpy)
        return ("ndarray-subclass", cls, base, getattr(array, "__dict__", None) or None)

    def masked_token(context: TokenContext, array: Any) -> tuple[Any, ...]:
        data = _content_token(context, numpy.ma.getdata(array).view(numpy.ndarray), numpy)
        mask = _content_token(context, numpy.ma.getmaskarray(array), numpy)
        extra = {
            k: v for k, v in vars(array).items() if k not in _MASKED_INTERNALS
        }  # a subclass's own attributes
        return ("masked", type(array), data, mask, array.fill_value, array.hardmask, extra)

    register_handler(numpy.ndarray, ndarray_token)
    register_handler(numpy.ma.MaskedArray, masked_token)


# MaskedArray bookkeeping that depends on how the array was built, not on its value.
_MASKED_INTERNALS = frozenset(
    {
        "_baseclass",
        "_basedict",
        "_fill_value",
        "_hardmask",
        "_isfield",
        "_mask",
        "_optinfo",
        "_sharedmask",
    }
)

register_lazy("numpy", install)
