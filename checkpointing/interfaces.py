"""The typed seams between the call engine, identifiers and caches.

Three parties meet in a cached call: the *caller* (the decorator or ``%%checkpoint``),
which knows what ran, with what, and for how long; the *identifier*, which turns a call
into a context id; and the *cache*, which stores results under context ids. What
crosses between them is typed here with :class:`~typing.Protocol` classes, so any
object with the right methods fits, and with :class:`CallRecord`, the caller's record
of one call. The cache adds what only it knows (creation time, stored size, storage
format, hits) and reports entries as :class:`~checkpointing.EntryInfo`; the engine
turns a record into the ``EntryInfo`` that ``CacheBase.save_entry`` takes, in one
place (:func:`entry_info`), with the cache's own fields left for the cache to fill.

Kept free of heavy imports: the decorator module imports it at ``import checkpointing``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    from checkpointing.cache.base import CacheBase, EntryInfo
    from checkpointing.context import FuncCallContext

__all__ = ["CacheSpec", "CallRecord", "Identifier", "SaveRetrieve", "entry_info"]


class CallRecord(NamedTuple):
    """The caller's record of one call, handed to the cache with its result.

    ``function`` is the full name of what ran (``module.qualname``, or ``cell:label``
    for a notebook cell), ``arguments`` a short human-readable summary of its inputs,
    ``run_time`` the seconds the computation took, ``extra`` JSON-serialisable data the
    cache keeps verbatim (the decorator records the digests ``explain`` compares).
    """

    function: str
    arguments: str
    run_time: float
    extra: Mapping[str, Any] = {}  # never mutated: a shared empty default is safe


@runtime_checkable
class Identifier(Protocol):
    """What the decorator asks of an identifier (see ``FuncCallIdentifierBase``)."""

    def identify(self, context: FuncCallContext) -> Hashable:
        """Return the context id of one call."""
        ...


@runtime_checkable
class SaveRetrieve(Protocol):
    """The smallest cache: the seed's two methods. Such objects are adapted to ``CacheBase``."""

    def save(self, context_id: Any, result: Any) -> None:
        """Store ``result`` under ``context_id``."""
        ...

    def retrieve(self, context_id: Any) -> Any:
        """Return what is stored under ``context_id`` or raise ``CheckpointNotExist``."""
        ...


CacheSpec: TypeAlias = "CacheBase | SaveRetrieve | str"
"""What names a cache: a ``CacheBase``, a seed-style object, a backend name or a URL."""


def entry_info(context_id: Hashable, record: CallRecord) -> EntryInfo:
    """Return the ``EntryInfo`` a cache's ``save_entry`` takes for ``record``.

    ``created``, ``size`` and ``format_version`` are zero: the cache knows them and fills
    them in when it stores the entry.
    """
    from checkpointing.cache.base import EntryInfo

    return EntryInfo(
        context_id=context_id,
        function=record.function,
        created=0.0,
        size=0,
        run_time=record.run_time,
        arguments=record.arguments,
        format_version=0,
        extra=record.extra,
    )
