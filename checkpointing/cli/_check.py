"""Damaged entries that ``entries()`` cannot list, for ``checkpointing verify``.

A cache lists the entries whose metadata it can read; an entry damaged in its head
(truncated, a bad digest, an old format) is left out of ``entries()``. For caches built
on a :class:`~checkpointing.store.base.Store` the keys the store holds are compared with
the heads that can be read, so such entries are found and can be removed; entries a
cache has set aside (``quarantined()``) are reported and cleared too.
"""

from __future__ import annotations

from typing import Any

__all__ = ["damaged_unlisted", "remove_unlisted"]


def _bad_keys(cache: Any) -> list[tuple[str, str]]:
    """Return ``(key, problem)`` for each stored entry whose head cannot be read."""
    store = getattr(cache, "store", None)
    if store is None or not callable(getattr(store, "list", None)):
        return []
    from checkpointing.cache import codec

    bad = []
    for key in list(store.list()):
        try:
            reader = store.get(key)
            if reader is None:
                continue  # removed meanwhile
            with reader:
                codec.read_head(reader)
        except (codec.EntryError, OSError) as exc:
            bad.append((key, str(exc) or type(exc).__name__))
    return bad


def damaged_unlisted(cache: Any) -> list[str]:
    """Describe each damaged entry that ``cache.entries()`` leaves out."""
    store = getattr(cache, "store", None)
    where = getattr(store, "where", str)
    found = [f"{where(key)}: {problem}" for key, problem in _bad_keys(cache)]
    quarantined = getattr(cache, "quarantined", None)
    if callable(quarantined):
        found += [f"{name}: set aside as damaged" for name in quarantined()]
    return found


def remove_unlisted(cache: Any) -> int:
    """Remove the damaged entries ``damaged_unlisted`` reports; return how many."""
    removed = 0
    store: Any = getattr(cache, "store", None)
    for key, _ in _bad_keys(cache):
        removed += bool(store.delete(key))
    clear_quarantine = getattr(cache, "clear_quarantine", None)
    if callable(clear_quarantine):
        removed += int(clear_quarantine())
    return removed
