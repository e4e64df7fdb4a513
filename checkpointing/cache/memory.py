"""A process-local cache in a dict: fast, bounded on request, gone when the process ends."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from typing import Any

from checkpointing.cache.base import CacheBase, EntryInfo
from checkpointing.exceptions import CheckpointNotExist

__all__ = ["MemoryCache"]


class MemoryCache(CacheBase):
    """Keep results in memory, keyed by context id, optionally evicting the least recently used.

    Results are stored by reference, not copied: mutating a returned object changes what
    later hits return, exactly as with ``functools.lru_cache``. ``maxsize`` bounds the
    number of entries (``None``: unbounded); both saving and retrieving count as a use.
    Entries report ``size`` 0 and ``format_version`` 0, since nothing is serialised.
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
        self._entries: OrderedDict[Any, tuple[Any, EntryInfo, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(maxsize={self.maxsize!r})"

    def __len__(self) -> int:
        return len(self._entries)

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
        with self._lock:
            self._entries[context_id] = (result, info, has_info)
            self._entries.move_to_end(context_id)
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
        with self._lock:
            try:
                result, info, has_info = self._entries[context_id]
            except KeyError:
                raise CheckpointNotExist(f"no cache entry for {context_id!r}") from None
            if self.maxsize is not None:
                self._entries.move_to_end(context_id)
        return result, (info.run_time if has_info else None)

    def entries(self) -> list[EntryInfo]:
        """List the metadata of every entry, least recently used first."""
        with self._lock:
            return [info for _, info, _ in self._entries.values()]

    def delete(self, context_id: Any) -> bool:
        """Remove the entry of ``context_id``; return whether there was one."""
        self._check_hashable(context_id)
        with self._lock:
            return self._entries.pop(context_id, None) is not None

    def clear(self, function: str | None = None) -> int:
        """Remove every entry, or only those of ``function``; return how many were removed."""
        with self._lock:
            if function is None:
                removed = len(self._entries)
                self._entries.clear()
                return removed
            doomed = [
                key for key, (_, info, _) in self._entries.items() if info.function == function
            ]
            for key in doomed:
                del self._entries[key]
            return len(doomed)
