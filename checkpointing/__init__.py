"""checkpointing: a persistent result cache for Python functions that knows when a result is stale.

``@checkpoint()`` stores a function's return value on disk and returns it on a later
call, in this process or another, while the call context (normalized code, argument
values, values of the globals it reads, and the code of the helpers it reaches) is
unchanged.
"""

from __future__ import annotations

from checkpointing._tokens import register_token
from checkpointing._version import __version__
from checkpointing.cache import CacheBase, EntryInfo, MemoryCache, PickleFileCache, StoreCache
from checkpointing.config import defaults
from checkpointing.context import FuncCallContext
from checkpointing.decorator import CheckpointedFunction, DecoratorCheckpoint, checkpoint
from checkpointing.exceptions import (
    CheckpointFailure,
    CheckpointingError,
    CheckpointingWarning,
    CheckpointNotExist,
    CorruptEntryWarning,
    IdentificationError,
    ResultNotPicklableError,
    StorageError,
)
from checkpointing.identifier import AutoFuncCallIdentifier, FuncCallIdentifierBase
from checkpointing.store import DirectoryStore, Store


def load_ipython_extension(ipython: object) -> None:
    """Load the notebook extension: ``%load_ext checkpointing``.

    The extension lives in ``ipython_ext`` and is imported only here, so importing
    checkpointing never imports IPython.
    """
    from ipython_ext import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    """Unload the notebook extension: ``%unload_ext checkpointing``."""
    from ipython_ext import unload_ipython_extension as unload

    unload(ipython)


__all__ = [
    "AutoFuncCallIdentifier",
    "CacheBase",
    "CheckpointFailure",
    "CheckpointNotExist",
    "CheckpointedFunction",
    "CheckpointingError",
    "CheckpointingWarning",
    "CorruptEntryWarning",
    "DecoratorCheckpoint",
    "DirectoryStore",
    "EntryInfo",
    "FuncCallContext",
    "FuncCallIdentifierBase",
    "IdentificationError",
    "MemoryCache",
    "PickleFileCache",
    "ResultNotPicklableError",
    "StorageError",
    "Store",
    "StoreCache",
    "__version__",
    "checkpoint",
    "defaults",
    "load_ipython_extension",
    "register_token",
    "unload_ipython_extension",
]
