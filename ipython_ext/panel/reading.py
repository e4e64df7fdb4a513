"""Read a cache's entry list again without re-reading the entries that did not change.

The panel re-reads its caches on Refresh, after cells and after deletions. Reading the
head of every entry file costs about a millisecond per entry, so ten thousand entries
took more than a second each time. :class:`EntryMemo` remembers, for a directory cache,
each entry's :class:`~checkpointing.cache.base.EntryInfo` together with the file's
size and modification time; a later read lists the directory (one ``scandir``) and
reads only the files that are new or changed. Hit counts and last use live outside the
entry files, so they are read again each time (cheap). Other caches are listed in full
through ``entries()``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Hashable
from typing import Any

from checkpointing.cache import codec
from checkpointing.cache.base import EntryInfo
from checkpointing.cache.store_cache import StoreCache
from checkpointing.store.base import KEY_PATTERN
from checkpointing.store.directory import SUFFIX, DirectoryStore

__all__ = ["EntryMemo"]

# What identifies one version of an entry file: replaced files get a new inode or mtime.
_Stamp = tuple[int, int, int]


class EntryMemo:
    """Remember the entries of directory caches between two listings of the panel."""

    def __init__(self) -> None:
        self._known: dict[Hashable, dict[str, tuple[_Stamp, EntryInfo]]] = {}

    def entries(self, cache: Any, key: Hashable) -> list[EntryInfo]:
        """Return the entries of ``cache`` (known to the memo as ``key``), reading only changes."""
        store = getattr(cache, "store", None)
        if not isinstance(cache, StoreCache) or type(store) is not DirectoryStore:
            infos: list[EntryInfo] = cache.entries()
            return infos
        if not store._usable_for_reading():  # a refused directory lists nothing
            self._known.pop(key, None)
            return []
        before = self._known.get(key, {})
        usage = _usage_table(store)
        now: dict[str, tuple[_Stamp, EntryInfo]] = {}
        try:
            with os.scandir(store.directory) as scan:
                found = [(e.name, e.stat(follow_symlinks=False)) for e in scan if _entry_file(e)]
        except FileNotFoundError:
            found = []
        for name, stat in found:
            entry_key = name[: -len(SUFFIX)]
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            known = before.get(entry_key)
            if known is not None and known[0] == stamp:
                info = _with_usage(known[1], usage.get(entry_key, (0, None)))
            else:
                fresh = _read(cache, store, entry_key, usage.get(entry_key, (0, None)))
                if fresh is None:
                    continue
                info = fresh
            now[entry_key] = (stamp, info)
        self._known[key] = now
        return [info for _, info in now.values()]

    def forget(self, key: Hashable) -> None:
        """Drop what is remembered of the cache ``key`` (it will be read in full)."""
        self._known.pop(key, None)


def _entry_file(entry: os.DirEntry[str]) -> bool:
    """Tell whether a directory entry can be an entry file (``<key>.pickle``)."""
    name = entry.name
    return (
        name.endswith(SUFFIX)
        and KEY_PATTERN.fullmatch(name[: -len(SUFFIX)]) is not None
        and entry.is_file(follow_symlinks=False)
    )


def _read(
    cache: StoreCache, store: DirectoryStore, key: str, usage: tuple[int, float | None]
) -> EntryInfo | None:
    """Read one entry's head into its ``EntryInfo``; ``None`` if it is not a readable entry."""
    try:
        reader = store.get(key)
        if reader is None:
            return None
        with reader:
            head = codec.read_head(reader)
    except (codec.EntryError, OSError):
        return None
    return cache._info(key, head, usage)


def _usage_table(store: DirectoryStore) -> dict[str, tuple[int, float | None]]:
    """Read every recorded hit count and last use of ``store`` in one directory scan."""
    log = store._usage
    log.flush()  # this process's pending hits first
    table: dict[str, tuple[int, float | None]] = {}
    try:
        with os.scandir(log.directory) as scan:
            for entry in scan:
                with contextlib.suppress(OSError):
                    stat = entry.stat(follow_symlinks=False)
                    table[entry.name] = (stat.st_size, stat.st_mtime)
    except OSError:
        pass  # no hit recorded yet
    return table


def _with_usage(info: EntryInfo, usage: tuple[int, float | None]) -> EntryInfo:
    """Return ``info`` with the hit count and last use just read, copied only if they moved."""
    hits, last_used = usage
    last = last_used or 0.0
    if info.hits == hits and info.last_used == last:
        return info
    return dataclasses.replace(info, hits=hits, last_used=last)
