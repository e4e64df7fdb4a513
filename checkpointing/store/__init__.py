"""Where cache entries live: a store of bytes by key, and the built-in directory store.

See :mod:`checkpointing.store.base` for how to write a store; a store becomes a cache
with :class:`checkpointing.cache.StoreCache`.
"""

from __future__ import annotations

from checkpointing.store._usage import UsageBatcher
from checkpointing.store.base import BytesReader, EntryReader, Store, StoreLock
from checkpointing.store.directory import DirectoryStore

__all__ = ["BytesReader", "DirectoryStore", "EntryReader", "Store", "StoreLock", "UsageBatcher"]
