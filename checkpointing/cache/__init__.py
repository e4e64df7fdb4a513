"""Pluggable result stores: the abstract base and one module per backend."""

from __future__ import annotations

from checkpointing.cache.base import CacheBase, EntryInfo
from checkpointing.cache.memory import MemoryCache
from checkpointing.cache.pickle_file import PickleFileCache

__all__ = ["CacheBase", "EntryInfo", "MemoryCache", "PickleFileCache"]
