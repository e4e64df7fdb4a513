"""Context ids as stores see them: a key, a digest to compare, and a JSON form to list.

A string id that is already a valid store key (``"foo"``, the built-in identifier's hex
digests) is its own key, which keeps file names readable. Any other id is hashed: the
key is ``id-`` and the xxh3-128 of its *token* (the string, or the pickle of a non-string
id), and every entry records the digest of the token of the id it was saved under, so an
entry found under the wrong key (copied, synced or renamed over another) is recognised.

Listing an entry must never unpickle anything, so the id is also kept in a tagged JSON
form built from plain values only; an id that is not made of those is listed by its repr.
"""

from __future__ import annotations

import base64
import pickle
import re
import struct
from typing import Any

import xxhash

__all__ = ["IdCodec", "ListedId", "codec_of", "decode_id", "encode_id"]

# The look-ahead keeps strings shaped like hashed keys from being used as keys themselves.
_SAFE_NAME = re.compile(r"(?!id-[0-9a-f]{32}\Z)[0-9a-z_][0-9a-z_.\-]{0,199}")


class IdCodec:
    """The key and the id digest of one context id."""

    __slots__ = ("digest", "key")

    def __init__(self, context_id: Any) -> None:
        if type(context_id) is str:
            token = b"s" + context_id.encode("utf-8", "surrogatepass")
            hasher = xxhash.xxh3_128(token)
            self.key = context_id if _SAFE_NAME.fullmatch(context_id) else None
        else:
            try:
                token = b"p" + pickle.dumps(context_id, protocol=5)
            except Exception as exc:
                raise TypeError(
                    f"context id {context_id!r} of type {type(context_id).__qualname__} is not "
                    f"a string and cannot be pickled to derive a storage key: {exc}"
                ) from exc
            hasher = xxhash.xxh3_128(token)
            self.key = None
        self.digest: bytes = hasher.digest()
        if self.key is None:
            self.key = "id-" + hasher.hexdigest()


class ListedId:
    """A listed entry's id that JSON could not hold: shown by its repr, found by its key.

    ``entries()`` returns one where rebuilding the real id would mean unpickling it;
    passing it back to ``delete`` removes that entry (so limits and ``prune`` work).
    """

    __slots__ = ("key", "text")

    def __init__(self, key: str, text: str) -> None:
        self.key = key
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ListedId) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


# Hits look the same string ids up again and again: remember their keys and digests.
_STRING_IDS: dict[str, IdCodec] = {}
_STRING_IDS_MAX = 4096


def codec_of(context_id: Any) -> IdCodec:
    """Return the ``IdCodec`` of ``context_id``, remembered for string ids."""
    if type(context_id) is str:
        found = _STRING_IDS.get(context_id)
        if found is None:
            if len(_STRING_IDS) >= _STRING_IDS_MAX:
                _STRING_IDS.clear()
            found = _STRING_IDS[context_id] = IdCodec(context_id)
        return found
    return IdCodec(context_id)


def encode_id(value: Any) -> Any:
    """Return a tagged JSON form of ``value``, or ``None`` if it is not made of plain values."""
    kind = type(value)
    if kind is str:
        return {"s": value}
    if value is None:
        return {"n": 0}
    if kind is bool:
        return {"b": value}
    if kind is int:
        return {"i": str(value)}
    if kind is float:
        return {"f": struct.pack("<d", value).hex()}
    if kind is bytes:
        return {"y": base64.b64encode(value).decode()}
    if kind in (tuple, list, frozenset):
        items = [encode_id(item) for item in value]
        if any(item is None for item in items):
            return None
        if kind is frozenset:
            items.sort(key=repr)
        tag = "t" if kind is tuple else "l" if kind is list else "z"
        return {tag: items}
    return None


def decode_id(form: Any) -> Any:
    """Rebuild a value from ``encode_id``'s form; raise ``ValueError`` if it is not one."""
    if not isinstance(form, dict) or len(form) != 1:
        raise ValueError(f"not an encoded id: {form!r}")
    ((tag, body),) = form.items()
    if tag == "s" and isinstance(body, str):
        return body
    if tag == "n":
        return None
    if tag == "b" and isinstance(body, bool):
        return body
    if tag == "i" and isinstance(body, str):
        return int(body)
    if tag == "f" and isinstance(body, str):
        return struct.unpack("<d", bytes.fromhex(body))[0]
    if tag == "y" and isinstance(body, str):
        return base64.b64decode(body)
    if tag in ("t", "l", "z") and isinstance(body, list):
        items = [decode_id(item) for item in body]
        return tuple(items) if tag == "t" else items if tag == "l" else frozenset(items)
    raise ValueError(f"not an encoded id: {form!r}")
