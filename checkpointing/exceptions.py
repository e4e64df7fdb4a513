"""Exceptions and warnings of checkpointing.

Each error subclasses both :class:`CheckpointingError` and the builtin it
specialises, so callers can catch either::

    Exception
    └── CheckpointingError            base of every error raised by this library
        ├── CheckpointNotExist        (LookupError) a cache holds no entry for an id
        ├── IdentificationError       (ValueError) a call cannot be given a stable id
        ├── StorageError              (OSError) the cache cannot read or write its storage
        ├── ResultNotPicklableError   (TypeError) a result cannot be serialised
        └── CheckpointFailure         (RuntimeError) raised by ``on_error="raise"``,
                                      naming the function; the cause is chained

    UserWarning
    └── CheckpointingWarning          the caching machinery failed; the call still ran
        └── CorruptEntryWarning       a stored entry was unreadable and is treated as a miss
"""

from __future__ import annotations

__all__ = [
    "CheckpointFailure",
    "CheckpointNotExist",
    "CheckpointingError",
    "CheckpointingWarning",
    "CorruptEntryWarning",
    "IdentificationError",
    "ResultNotPicklableError",
    "StorageError",
]


class CheckpointingError(Exception):
    """Base class of every error raised by checkpointing."""


class CheckpointNotExist(CheckpointingError, LookupError):
    """Signal that a cache holds no result for the requested context id."""


class IdentificationError(CheckpointingError, ValueError):
    """A function call cannot be given a deterministic id, so it must not be cached."""


class StorageError(CheckpointingError, OSError):
    """A cache cannot read or write its storage (missing permission, path is a file...)."""


class ResultNotPicklableError(CheckpointingError, TypeError):
    """A function's result cannot be serialised by the cache."""


class CheckpointFailure(CheckpointingError, RuntimeError):
    """The caching machinery failed for a call and the policy is ``on_error="raise"``."""


class CheckpointingWarning(UserWarning):
    """The caching machinery failed for a call; the function ran uncached."""


class CorruptEntryWarning(CheckpointingWarning):
    """A stored entry could not be read; it counts as a miss and is replaced on save."""
