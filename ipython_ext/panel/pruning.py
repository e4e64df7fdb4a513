"""Delete entries from the caches a panel lists: one entry, one function's, outdated ones, all.

Plain Python over :class:`~ipython_ext.panel.model.CacheListing` values, no widgets: the
panel's buttons call these and then report the count or the error. Each returns how many
entries went. The deletions go through the cache's own pruning methods (``delete``,
``clear``), which a cache may lack: :func:`call_pruning` then says which cache cannot do
what, rather than failing with an ``AttributeError``. Outdated entries are the ones the
listing already marked, so nothing is deleted that the user was not shown as outdated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from ipython_ext.panel.model import CacheListing, cache_key

__all__ = ["call_pruning", "delete_all", "delete_outdated", "without_entry"]


def call_pruning(cache: object, method: str, *args: Any) -> int:
    """Call a pruning method that a cache may lack, with a message that says so."""
    func = getattr(cache, method, None)
    if func is None:
        raise NotImplementedError(f"{type(cache).__name__} cannot {method} entries")
    return int(func(*args))


def without_entry(listing: CacheListing, context_id: Any) -> CacheListing:
    """Return ``listing`` without the row of ``context_id``."""
    rows = [row for row in listing.rows if row.info.context_id != context_id]
    return dataclasses.replace(listing, rows=rows)


def delete_outdated(
    listings: Sequence[CacheListing], cache: object | None = None, function: str | None = None
) -> int:
    """Delete the listed outdated entries (of ``function`` in ``cache``, or all); count them."""
    removed = 0
    for listing in listings:
        if cache is not None and cache_key(listing.cache) != cache_key(cache):
            continue
        for row in listing.rows:
            if row.outdated and function in (None, row.info.function):
                removed += call_pruning(listing.cache, "delete", row.info.context_id)
    return removed


def delete_all(listings: Sequence[CacheListing]) -> int:
    """Clear every cache that could be listed; count the entries deleted."""
    removed = 0
    for listing in listings:
        if listing.error is None:
            removed += call_pruning(listing.cache, "clear")
    return removed
