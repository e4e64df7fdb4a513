"""The interface every cache implements, and the metadata it keeps per entry.

How to write a cache
--------------------
Subclass :class:`CacheBase` and implement two methods:

* ``save(context_id, result)`` stores ``result`` under ``context_id``;
* ``retrieve(context_id)`` returns it, or raises :class:`CheckpointNotExist`.

``context_id`` is whatever the identifier returns (the built-in identifier returns a
hex string). That is all the decorator needs. Caches that can do more override the
optional methods below: ``save_entry``/``retrieve_entry`` keep metadata (the
decorator always calls these; by default they fall back to ``save``/``retrieve``),
and ``entries``/``delete``/``clear`` let users and the notebook panel inspect and
prune the cache.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

__all__ = ["CacheBase", "EntryInfo"]


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """Inspectable metadata of one cache entry.

    ``function`` is the full name (``module.qualname``) of the function that produced
    the result, ``created`` a POSIX timestamp, ``size`` the stored size in bytes (0
    when unknown), ``run_time`` the seconds the original call took, ``arguments`` a
    short human-readable summary of the call's arguments, ``format_version`` the
    storage format.
    """

    context_id: Hashable
    function: str
    created: float
    size: int
    run_time: float
    arguments: str
    format_version: int


class CacheBase(ABC):
    """Store and fetch results by context id."""

    @abstractmethod
    def save(self, context_id: Any, result: Any) -> None:
        """Store ``result`` under ``context_id``, replacing any previous entry."""

    @abstractmethod
    def retrieve(self, context_id: Any) -> Any:
        """Return the result stored under ``context_id`` or raise ``CheckpointNotExist``."""

    def save_entry(self, context_id: Any, result: Any, info: EntryInfo) -> None:
        """Store ``result`` with its metadata; caches without metadata just ``save``."""
        self.save(context_id, result)

    def retrieve_entry(self, context_id: Any) -> tuple[Any, float | None]:
        """Return ``(result, run_time)``; ``run_time`` is ``None`` when not recorded."""
        return self.retrieve(context_id), None

    def entries(self) -> list[EntryInfo]:
        """List the metadata of every stored entry."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its entries")

    def delete(self, context_id: Any) -> bool:
        """Remove one entry; return whether it existed."""
        raise NotImplementedError(f"{type(self).__name__} cannot delete entries")

    def clear(self, function: str | None = None) -> int:
        """Remove every entry, or those of one function (full name); return how many."""
        raise NotImplementedError(f"{type(self).__name__} cannot clear entries")
