"""checkpointing: a persistent result cache for Python functions that knows when a result is stale.

``@checkpoint()`` stores a function's return value on disk and returns it on a later
call, in this process or another, while the call context (normalized code, argument
values, values of the globals it reads, and the code of the helpers it reaches) is
unchanged.

Importing the package is cheap: the caches and the identifier (with the code analysis
and the hasher behind them) are imported when first used, by the first decoration or
by naming them (``checkpointing.PickleFileCache``); see ``__getattr__`` below.
"""

from __future__ import annotations

import typing as _typing

from checkpointing._version import __version__
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
from checkpointing.interfaces import CallRecord

if _typing.TYPE_CHECKING:
    from checkpointing._ambient import register_ambient_state
    from checkpointing._tokens import register_token
    from checkpointing.cache import CacheBase, EntryInfo, MemoryCache, PickleFileCache, StoreCache
    from checkpointing.identifier import AutoFuncCallIdentifier, FuncCallIdentifierBase
    from checkpointing.store import DirectoryStore, Store
    from checkpointing.store.urls import open_cache

# Public names defined in modules that are imported on first use: name -> module.
_LAZY = {
    "AutoFuncCallIdentifier": "checkpointing.identifier",
    "CacheBase": "checkpointing.cache.base",
    "DirectoryStore": "checkpointing.store",
    "EntryInfo": "checkpointing.cache.base",
    "FuncCallIdentifierBase": "checkpointing.identifier",
    "MemoryCache": "checkpointing.cache.memory",
    "PickleFileCache": "checkpointing.cache.pickle_file",
    "Store": "checkpointing.store",
    "StoreCache": "checkpointing.cache.store_cache",
    "open_cache": "checkpointing.store.urls",
    "register_ambient_state": "checkpointing._ambient",
    "register_token": "checkpointing._tokens",
}


def __getattr__(name: str) -> _typing.Any:
    """Import a lazily exported name on first access (PEP 562) and keep it."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'checkpointing' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def load_ipython_extension(ipython: _typing.Any) -> None:
    """Load the notebook extension: ``%load_ext checkpointing``.

    The extension lives in ``ipython_ext`` and is imported only here, so importing
    checkpointing never imports IPython.
    """
    from ipython_ext import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: _typing.Any) -> None:
    """Unload the notebook extension: ``%unload_ext checkpointing``."""
    from ipython_ext import unload_ipython_extension as unload

    unload(ipython)


__all__ = [
    "AutoFuncCallIdentifier",
    "CacheBase",
    "CallRecord",
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
    "open_cache",
    "register_ambient_state",
    "register_token",
    "unload_ipython_extension",
]
