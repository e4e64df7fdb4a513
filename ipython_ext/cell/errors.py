"""The two ways a ``%%checkpoint`` cell ends in an error of its own."""

from __future__ import annotations

from checkpointing.exceptions import CheckpointingError

__all__ = ["CellFailed", "CellUsageError"]


class CellUsageError(CheckpointingError, ValueError):
    """A cell that ``%%checkpoint`` cannot run at all (the magic shows a UsageError)."""


class CellFailed(CheckpointingError, RuntimeError):
    """A ``%%checkpoint`` cell raised: its traceback is already shown, nothing was stored.

    The cell's own exception is the ``__cause__``. Inside IPython the cell counts as
    failed (execution stops in "Run All") without a second traceback.
    """
