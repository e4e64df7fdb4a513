"""Pluggable result caches: the abstract base, a cache over any store, and the built-ins."""

from __future__ import annotations

from checkpointing.cache.base import CacheBase, EntryInfo
from checkpointing.cache.memory import MemoryCache
from checkpointing.cache.pickle_file import PickleFileCache
from checkpointing.cache.store_cache import StoreCache

__all__ = ["CacheBase", "EntryInfo", "MemoryCache", "PickleFileCache", "StoreCache"]
