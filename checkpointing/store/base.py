"""The storage seam: a store of bytes by key, and the reader a lookup returns.

A :class:`Store` knows nothing of results, pickles or checksums: it keeps opaque byte
strings under short keys. The entry format (header, JSON metadata, pickle stream, raw
buffers, digests, signature) is written once, on top, by the entry codec
(:mod:`checkpointing.cache.codec`), and :class:`~checkpointing.cache.StoreCache` composes
the two into a cache. A new backend (object storage, a key-value server...) therefore
implements four methods (``get``, ``put``, ``delete``, ``list``) and gets the format,
integrity checks, signing, listing and clearing for free.

How to write a store
--------------------
Subclass :class:`Store` and implement the four abstract methods; each one's docstring says
exactly what it must do. Then set the three descriptive attributes (``location``,
``identity``, ``label``), never including a password or token in them. Override the
optional methods when the backend can do better than their defaults: ``quarantine`` (keep
a damaged entry aside instead of deleting it), ``touch``/``usage``/``usages`` (record uses,
for listings and eviction; ``checkpointing.store.UsageBatcher`` batches the
writes), ``reclaim`` (remove leftovers of crashed writers) and ``lock`` (one computation
per key). A store that keeps entries in local files may also offer ``put_file(key,
fill)``, as :class:`~checkpointing.store.DirectoryStore` does: the cache then streams each
entry into a file the store creates on demand (``fill(open_file)``) instead of handing
over parts, so a large result is
never held pickled in memory. Keys are plain strings of ``[0-9a-z_.-]``, at most 200
characters, so they are valid file names and object names everywhere.

Errors: return ``None`` from ``get`` and ``False`` from ``delete`` when the key is absent;
raise :class:`~checkpointing.exceptions.StorageError` (an ``OSError``) naming the place and
the cause when the storage cannot be reached or written. Run the contract suite in
``tests/test_store_contract.py`` against the new store: add a factory to its table.
"""

from __future__ import annotations

import builtins
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from checkpointing.store.locks import StoreLock

__all__ = [
    "KEY_PATTERN",
    "BytesReader",
    "EntryReader",
    "Store",
    "StoreLock",
    "check_key",
    "join_parts",
]

# What a key may look like: the codec only ever produces keys of this shape.
KEY_PATTERN = re.compile(r"[0-9a-z_][0-9a-z_.\-]{0,199}")


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid store key, else raise ``ValueError`` naming it."""
    if type(key) is not str or not KEY_PATTERN.fullmatch(key):
        raise ValueError(f"invalid store key {key!r}: keys are 1-200 characters of [0-9a-z_.-]")
    return key


@runtime_checkable
class EntryReader(Protocol):
    """Random access to one stored entry, as returned by :meth:`Store.get`.

    The reader sees one consistent version of the entry for its whole life (a file kept
    open, an object fetched by version or whole), even if the entry is replaced meanwhile.
    Readers are context managers: leaving the ``with`` block closes them.
    """

    def size(self) -> int:
        """Return the total number of bytes of the entry."""
        ...

    def read_into(self, view: memoryview, offset: int) -> None:
        """Fill all of ``view`` with the entry's bytes from ``offset``.

        Raise ``EOFError`` when the entry ends before ``view`` is full. Large reads go
        straight into ``view`` (the caller allocates it, e.g. as numpy-owned memory), which
        is what keeps loading a large array to a single copy.
        """
        ...

    def close(self) -> None:
        """Release what the reader holds (a file descriptor, a connection)."""
        ...

    def __enter__(self) -> EntryReader:
        """Return the reader itself."""
        ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the reader."""
        ...


class Store(ABC):
    """Keep byte strings under string keys: the part of a cache that knows where data lives.

    Subclasses set ``location`` (a human-readable place: ``/abs/dir``,
    ``s3://bucket/prefix``), ``identity`` (a stable id for the same storage seen from any
    object or process, e.g. ``file:///abs/dir``) and ``label`` (a short kind for user
    interfaces: ``directory``, ``S3``). None of them may contain a secret.
    """

    label: str = "store"

    @property
    def location(self) -> str:
        """Return where the entries are kept, for people to read."""
        return repr(self)

    @property
    def identity(self) -> str:
        """Return a stable id of the storage: two stores with equal ids hold the same entries."""
        return f"{type(self).__module__}.{type(self).__qualname__}:{self.location}"

    def where(self, key: str) -> str:
        """Return where the entry ``key`` is, for messages (a path, a URL)."""
        return f"{self.location} (key {key!r})"

    # -- the four methods every store implements -------------------------------------

    @abstractmethod
    def get(self, key: str) -> EntryReader | None:
        """Return a reader of the entry stored under ``key``, or ``None`` if there is none.

        The reader must keep seeing the entry as it was when ``get`` returned. Reading
        nothing but what ``read_into`` asks for keeps listings cheap (they read the first
        64 KB of each entry only). Raise ``StorageError`` when the storage cannot be read;
        a store may instead return ``None`` when its whole location is unusable, if its
        ``put`` then raises the ``StorageError`` that tells the user why (one message per
        call, not two).
        """

    @abstractmethod
    def put(self, key: str, parts: Sequence[bytes | memoryview]) -> None:
        """Store the concatenation of ``parts`` under ``key``, replacing any entry there.

        Publishing must be atomic: a concurrent ``get`` sees the old entry or the whole
        new one, never a mixture or a prefix; a writer that dies midway leaves the old
        entry in place. Write the parts in order without joining them (a part may be a
        large array's memory). Raise ``StorageError`` when the entry cannot be written.
        """

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove the entry under ``key``; return whether there was one."""

    @abstractmethod
    def list(self) -> Iterator[str]:
        """Yield the key of every entry, once each, in any order.

        Yield only keys this store wrote (never a user's file that happens to sit in the
        same place), and never block on anything that is not a plain stored object.
        """

    # -- optional, with safe defaults -------------------------------------------------

    def fetch(self, key: str, limit: int) -> bytes | EntryReader | None:
        """Return the whole entry as bytes if it has at most ``limit`` bytes, else a reader.

        The cache calls this on every lookup, so that a small entry (most results) costs
        one read. The default uses ``get``; override it when one request can do better.
        """
        reader = self.get(key)
        if reader is None or reader.size() > limit:
            return reader
        with reader:
            data = bytearray(reader.size())
            reader.read_into(memoryview(data), 0)
        return bytes(data)

    def quarantine(self, key: str) -> None:
        """Set a damaged entry aside so it is no longer served; by default, delete it."""
        self.delete(key)

    def quarantined(self) -> builtins.list[str]:
        """List the names of entries set aside by ``quarantine`` (default: none kept)."""
        return []

    def clear_quarantine(self) -> int:
        """Remove every quarantined entry; return how many were removed."""
        return 0

    def touch(self, key: str) -> None:
        """Record one use of the entry (a hit); by default nothing is recorded.

        Called on every hit, so it must cost next to nothing: batch or defer the write.
        """
        return None

    def usage(self, key: str) -> tuple[int, float | None]:
        """Return ``(hits, last_used)`` recorded by ``touch``; ``(0, None)`` if unknown."""
        return 0, None

    def usages(self, keys: Iterable[str]) -> dict[str, tuple[int, float | None]]:
        """Return ``usage`` of each of ``keys``; override to read them all in a few requests."""
        return {key: self.usage(key) for key in keys}

    def reclaim(self) -> int:
        """Remove leftovers of writers that died (temporary files); return how many."""
        return 0

    def lock(self, key: str, ttl: float) -> StoreLock | None:
        """Return a lock on ``key`` (not yet taken) expiring ``ttl`` s after its last refresh.

        ``None`` (the default) means the store cannot lock: concurrent misses then each
        compute. See :mod:`checkpointing.store.locks` for the lock protocol and a lock-file
        implementation over any storage that can create a file exclusively.
        """
        return None


class _ReaderBase:
    """Context-manager plumbing shared by the readers of the built-in stores."""

    def close(self) -> None:
        """Release the reader's resources (nothing by default)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class BytesReader(_ReaderBase):
    """An :class:`EntryReader` over bytes already in memory (for stores that fetch whole)."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._data = memoryview(data).cast("B")

    def size(self) -> int:
        """Return the number of bytes held."""
        return len(self._data)

    def read_into(self, view: memoryview, offset: int) -> None:
        """Copy ``len(view)`` bytes from ``offset`` into ``view``."""
        end = offset + len(view)
        if offset < 0 or end > len(self._data):
            raise EOFError(f"entry has {len(self._data)} bytes, asked for {offset}..{end}")
        view[:] = self._data[offset:end]


def join_parts(parts: Sequence[bytes | memoryview]) -> bytes:
    """Concatenate ``parts`` into one bytes object (for stores whose client needs one)."""
    return b"".join(memoryview(part).cast("B") for part in parts)
