"""A process-local cache in a dict: fast, bounded on request, gone when the process ends."""

from __future__ import annotations

import dataclasses
import os
import struct
import threading
import time
from collections import OrderedDict
from typing import Any

from checkpointing.cache.base import CacheBase, EntryInfo
from checkpointing.exceptions import CheckpointNotExist

__all__ = ["MemoryCache"]


def _typed(value: Any) -> Any:
    """Return a dict key that tells ``1``, ``1.0`` and ``True`` (and ``0.0``/``-0.0``) apart.

    Python's equality makes those one key; for context ids they are different calls.
    """
    kind = type(value)
    if kind is tuple:
        return (tuple, tuple(_typed(item) for item in value))
    if kind is frozenset:
        return (frozenset, frozenset(_typed(item) for item in value))
    if kind is float:
        return (float, struct.pack("<d", value))
    if kind is complex:
        return (complex, struct.pack("<dd", value.real, value.imag))
    return (kind, value)


class _Slot:
    """One stored result, its metadata and its use count."""

    __slots__ = ("has_info", "hits", "info", "last_used", "result")

    def __init__(self, result: Any, info: EntryInfo, has_info: bool) -> None:
        self.result, self.info, self.has_info = result, info, has_info
        self.hits = 0
        self.last_used = 0.0


class MemoryCache(CacheBase):
    """Keep results in memory, keyed by context id, optionally evicting the least recently used.

    Results are stored by reference, not copied: mutating a returned object changes what
    later hits return, exactly as with ``functools.lru_cache``. ``maxsize`` bounds the
    number of entries (``None``: unbounded); both saving and retrieving count as a use.
    Entries report ``size`` 0 and ``format_version`` 0, since nothing is serialised, and
    count their hits. Ids that Python finds equal but of different types (``1``, ``1.0``,
    ``True``) are different entries.
    The cache is safe to share between threads.
    """

    def __init__(self, maxsize: int | None = None) -> None:
        if maxsize is not None:
            if isinstance(maxsize, bool) or not isinstance(maxsize, int):
                raise TypeError(
                    f"maxsize must be a positive int or None, got {type(maxsize).__name__}"
                )
            if maxsize < 1:
                raise ValueError(f"maxsize must be a positive int or None, got {maxsize!r}")
        self.maxsize = maxsize
        self._entries: OrderedDict[Any, _Slot] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(maxsize={self.maxsize!r})"

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def location(self) -> str:
        """Return where the entries are: this process's memory."""
        return f"memory of process {os.getpid()}"

    @property
    def identity(self) -> str:
        """Return an id unique to this cache object (its entries are its own)."""
        return f"memory:{os.getpid()}:{id(self):x}"

    @property
    def label(self) -> str:
        """Return ``"memory"``."""
        return "memory"

    @staticmethod
    def _check_hashable(context_id: Any) -> None:
        """Refuse unhashable ids with a message that names the problem."""
        try:
            hash(context_id)
        except TypeError as exc:
            raise TypeError(
                f"MemoryCache needs hashable context ids, got {type(context_id).__qualname__}: "
                f"{exc}"
            ) from exc

    def _store(self, context_id: Any, result: Any, info: EntryInfo, has_info: bool) -> None:
        """Insert or replace one entry as the most recently used, evicting beyond maxsize."""
        self._check_hashable(context_id)
        key = _typed(context_id)
        with self._lock:
            self._entries[key] = _Slot(result, info, has_info)
            self._entries.move_to_end(key)
            if self.maxsize is not None:
                while len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)

    def save(self, context_id: Any, result: Any) -> None:
        """Store ``result`` (by reference) under ``context_id`` without call metadata."""
        info = EntryInfo(context_id, "", time.time(), 0, 0.0, "", 0)
        self._store(context_id, result, info, has_info=False)

    def save_entry(self, context_id: Any, result: Any, info: EntryInfo) -> None:
        """Store ``result`` (by reference) with the metadata of ``info``."""
        info = dataclasses.replace(
            info,
            context_id=context_id,
            created=info.created or time.time(),
            size=0,
            format_version=0,
        )
        self._store(context_id, result, info, has_info=True)

    def retrieve(self, context_id: Any) -> Any:
        """Return the result stored under ``context_id``, the very object that was saved."""
        return self.retrieve_entry(context_id)[0]

    def retrieve_entry(self, context_id: Any) -> tuple[Any, float | None]:
        """Return ``(result, run_time)``; ``run_time`` is ``None`` if stored by ``save``."""
        self._check_hashable(context_id)
        key = _typed(context_id)
        with self._lock:
            try:
                slot = self._entries[key]
            except KeyError:
                raise CheckpointNotExist(f"no cache entry for {context_id!r}") from None
            if self.maxsize is not None:
                self._entries.move_to_end(key)
            slot.hits += 1
            slot.last_used = time.time()
        return slot.result, (slot.info.run_time if slot.has_info else None)

    def entries(self) -> list[EntryInfo]:
        """List the metadata of every entry, least recently used first."""
        with self._lock:
            return [
                dataclasses.replace(slot.info, hits=slot.hits, last_used=slot.last_used)
                for slot in self._entries.values()
            ]

    def delete(self, context_id: Any) -> bool:
        """Remove the entry of ``context_id``; return whether there was one."""
        self._check_hashable(context_id)
        with self._lock:
            return self._entries.pop(_typed(context_id), None) is not None

    def clear(self, function: str | None = None) -> int:
        """Remove every entry, or only those of ``function``; return how many were removed."""
        with self._lock:
            if function is None:
                removed = len(self._entries)
                self._entries.clear()
                return removed
            doomed = [key for key, slot in self._entries.items() if slot.info.function == function]
            for key in doomed:
                del self._entries[key]
            return len(doomed)
