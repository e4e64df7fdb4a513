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
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    import datetime

    from checkpointing.limits import CacheLimits

__all__ = ["CacheBase", "EntryInfo"]


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """Inspectable metadata of one cache entry.

    ``function`` is the full name (``module.qualname``) of the function that produced
    the result, ``created`` a POSIX timestamp, ``size`` the stored size in bytes (0
    when unknown), ``run_time`` the seconds the original call took, ``arguments`` a
    short human-readable summary of the call's arguments, ``format_version`` the
    storage format. ``last_used`` is the POSIX time of the latest hit (0.0 when
    unknown: then ``created`` stands in), ``hits`` how many hits the entry served, and
    ``extra`` JSON-serialisable metadata the cache stores verbatim with the entry (the
    decorator records the digests of the call's components there for ``explain``).
    """

    context_id: Hashable
    function: str
    created: float
    size: int
    run_time: float
    arguments: str
    format_version: int
    last_used: float = 0.0
    hits: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)


class CacheBase(ABC):
    """Store and fetch results by context id.

    Every cache describes itself for listings and user interfaces: ``location`` (where
    its entries are), ``identity`` (equal for two objects over the same entries) and
    ``label`` (a short kind). The defaults suit a cache that lives in one object.
    """

    @property
    def location(self) -> str:
        """Return where the entries are kept, for people to read (never a secret)."""
        return repr(self)

    @property
    def identity(self) -> str:
        """Return a stable id: two caches with equal ids hold the same entries."""
        return f"{type(self).__module__}.{type(self).__qualname__}@{id(self):x}"

    @property
    def label(self) -> str:
        """Return a short kind of cache for user interfaces (the class name by default)."""
        return type(self).__name__

    # Size and age limits (see checkpointing.limits); None: the settings' limits apply.
    limits: CacheLimits | None = None

    def set_limits(
        self,
        max_size: int | float | str | None = None,
        max_age: float | str | datetime.timedelta | None = None,
        keep_expensive: bool | float = False,
    ) -> Self:
        """Limit the cache to ``max_size`` bytes and ``max_age`` since last use; return it.

        Sizes and ages may be text (``"5GB"``, ``"30d"``). Limits are enforced after
        stores, evicting least recently used entries first; ``keep_expensive`` favours
        entries that took long to compute. With no limit given, the settings
        ``cache.max_size`` and ``cache.max_age`` stop applying too (no limits at all).
        """
        from checkpointing.limits import CacheLimits

        self.limits = CacheLimits.create(max_size, max_age, keep_expensive)
        return self

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

    def quarantined(self) -> list[str]:
        """List the entries set aside as damaged (none, for caches that keep none)."""
        return []

    def clear_quarantine(self) -> int:
        """Remove the entries set aside as damaged; return how many."""
        return 0

    def check_entry(self, context_id: Any) -> str | None:
        """Read one entry completely; return what is wrong with it, or ``None`` if it is sound.

        Used by ``checkpointing verify``. This default retrieves the result and reports a
        :class:`CorruptEntryWarning` or a missing entry; caches that record uses should
        override it so that a check does not count as a hit.
        """
        import warnings

        from checkpointing.exceptions import CheckpointNotExist, CorruptEntryWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.retrieve(context_id)
            except CheckpointNotExist as exc:
                problem: str | None = str(exc)
            except Exception as exc:  # noqa: BLE001 - any failure to load is the finding
                problem = f"{type(exc).__name__}: {exc}"
            else:
                problem = None
        corrupt = [w for w in caught if issubclass(w.category, CorruptEntryWarning)]
        return str(corrupt[0].message) if corrupt else problem
